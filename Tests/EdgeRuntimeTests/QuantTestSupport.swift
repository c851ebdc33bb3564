import EdgeIR
@testable import EdgeRuntime
import XCTest

/// Builds and runs one-node (or few-node) models for the quantization and recurrent tests.
enum QuantTestGraph {
    /// A tensor of `dtype` holding `bytes` (for int4/uint4 and other types without a Swift element).
    static func raw(_ dtype: DType, shape: [Int], bytes: [UInt8]) -> Tensor {
        var t = Tensor(shape: [bytes.count], scalars: bytes)
        t.dtype = dtype
        t.shape = shape
        return t
    }

    /// Runs `op` with the given inputs: indices in `constants` become initializers, the others
    /// graph inputs fed at run time; nil inputs are omitted.
    static func run(_ op: String, domain: String = "", opset: Int = 21, inputs: [Tensor?], constants: Set<Int> = [],
                    attributes: [Attribute] = [], outputs: Int = 1, options: SessionOptions = SessionOptions(threads: 1)) throws -> [Tensor] {
        var graph = Graph(name: "test")
        var names: [String] = []
        var feeds: [String: Tensor] = [:]
        for (k, t) in inputs.enumerated() {
            guard let t else { names.append(""); continue }
            let name = "in\(k)"
            names.append(name)
            if constants.contains(k) {
                graph.initializers[name] = t
            } else {
                graph.inputs.append(ValueInfo(name: name, tensor: TensorType(t.dtype, fixed: t.shape)))
                feeds[name] = t
            }
        }
        while names.last == "" { names.removeLast() }
        let outs = (0..<outputs).map { "out\($0)" }
        graph.nodes = [Node(name: "n", opType: op, domain: domain, inputs: names, outputs: outs, attributes: attributes)]
        graph.outputs = outs.map { ValueInfo(name: $0, type: nil) }
        var imports = [OpsetImport(domain: "", version: Int64(opset))]
        if !domain.isEmpty { imports.append(OpsetImport(domain: domain, version: 1)) }
        let session = try Session(model: Model(opsetImports: imports, graph: graph), options: options)
        let result = try session.run(feeds)
        return outs.map { result[$0]! }
    }

    static func run(_ model: Model, _ feeds: [String: Tensor], integerQDQ: Bool) throws -> [String: Tensor] {
        var options = SessionOptions(threads: 1)
        options.integerQDQ = integerQDQ
        return try Session(model: model, options: options).run(feeds)
    }
}
