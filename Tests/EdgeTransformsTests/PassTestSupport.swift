import EdgeIR
import EdgeRuntime
@testable import EdgeTransforms
import XCTest

/// Tiny graph builders and checks shared by the pass tests.
enum T {
    /// Seeded normal values (fixed across runs) of `shape`, scaled.
    static func random(_ shape: [Int], seed: UInt64, scale: Float = 1, offset: Float = 0) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float(rng.normal()) * scale + offset })
    }

    static func positive(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float(0.5 + rng.uniform()) })
    }

    static func ints(_ values: [Int64]) -> Tensor { Tensor(shape: [values.count], scalars: values) }

    static func input(_ name: String, _ shape: [Int], _ dtype: DType = .float) -> ValueInfo {
        ValueInfo(name: name, tensor: TensorType(dtype, fixed: shape))
    }

    static func model(_ nodes: [Node], inputs: [ValueInfo], outputs: [String], initializers: [String: Tensor] = [:],
                      opset: Int64 = 17) -> Model {
        var graph = Graph(name: "test", inputs: inputs, outputs: outputs.map { ValueInfo(name: $0, type: nil) }, nodes: nodes)
        for key in initializers.keys.sorted() { graph.initializers[key] = initializers[key] }
        return Model(opsetImports: [OpsetImport(domain: "", version: opset)], graph: graph)
    }

    static func node(_ op: String, _ inputs: [String], _ outputs: [String], domain: String = "", _ attributes: [Attribute] = []) -> Node {
        Node(name: "\(op)_\(outputs.first ?? "")", opType: op, domain: domain, inputs: inputs, outputs: outputs, attributes: attributes)
    }

    /// Runs one pass the way the pipeline does (subgraphs included, dead code removed after),
    /// without the check.
    static func run(_ pass: any GraphPass, on model: Model) throws -> (Model, PassResult) {
        var result = model
        let context = PassContext(model: model)
        let r = try Pipeline.apply(pass, to: &result.graph, context: context)
        Pipeline.removeDeadCode(&result.graph)
        result.opsetImports = context.opsetImports
        Pipeline.setDefaultOpset(&result, Int64(context.opset))
        return (result, r)
    }

    static func count(_ model: Model, _ op: String) -> Int { model.graph.opCounts()[op] ?? 0 }

    /// The engine computes the same outputs for both models (seeded random inputs, plus `feeds`).
    static func assertEquivalent(_ before: Model, _ after: Model, tolerance: Double = 1e-5, sets: Int = 2,
                                 dims: [String: Int] = [:], file: StaticString = #filePath, line: UInt = #line) throws {
        let check = try EquivalenceCheck(reference: before, tolerance: tolerance, seed: 7, randomSets: sets, dims: dims,
                                         options: SessionOptions(threads: 1))
        let outcome = check.compare(after)
        XCTAssertTrue(outcome.passed, outcome.summary, file: file, line: line)
    }
}
