import EdgeIR
import Foundation

/// Integer graph inputs and outputs for the full-integer scheme (Edge TPU style): the model takes
/// and returns int8 tensors, and the caller quantizes inputs as q = clamp(round(x/s) + z) and
/// dequantizes outputs as x = (q − z)·s with the scale s and zero point z recorded per tensor.
///
///     Before:  x(float) → QuantizeLinear → x_q → …  …→ y_q → DequantizeLinear → y(float)
///     After:   x(int8) → …                          …→ y(int8)
///
/// The numbers are unchanged: the removed QuantizeLinear/DequantizeLinear are exactly what the
/// caller now does outside. Each boundary is written in the model's metadata as
/// `edgeopt.integer_io.<tensor>` = `input|output scale=S zero_point=Z type=int8`, which is also
/// how `floatView` restores float I/O so that float data sets can evaluate such a model.
public enum IntegerIO {
    public struct Boundary: Sendable, Equatable, Codable {
        public var tensor: String
        public var isInput: Bool
        public var scale: Float
        public var zeroPoint: Int32
        public var type: DType

        var metadata: MetadataEntry {
            // %.9g round-trips every float32 exactly.
            MetadataEntry(key: IntegerIO.prefix + tensor,
                          value: String(format: "%@ scale=%.9g zero_point=%d type=%@", isInput ? "input" : "output", Double(scale), zeroPoint, type.description))
        }
    }

    static let prefix = "edgeopt.integer_io."

    /// Removes the QuantizeLinear that reads each float graph input and the DequantizeLinear that
    /// produces each graph output, where they are per-tensor and nothing else reads the float value.
    public static func apply(_ model: Model) -> (model: Model, boundaries: [Boundary]) {
        var m = model
        var boundaries: [Boundary] = []
        let initializerNames = Set(m.graph.initializers.keys)
        func scalar(_ name: String) -> Tensor? {
            guard let t = m.graph.initializers[name], t.shape.reduce(1, *) == 1 else { return nil }
            return t
        }
        func rename(_ from: String, to: String) {
            for i in m.graph.nodes.indices {
                m.graph.nodes[i].inputs = m.graph.nodes[i].inputs.map { $0 == from ? to : $0 }
                m.graph.nodes[i].outputs = m.graph.nodes[i].outputs.map { $0 == from ? to : $0 }
            }
        }
        for k in m.graph.inputs.indices where !initializerNames.contains(m.graph.inputs[k].name) {
            let x = m.graph.inputs[k].name
            guard let shape = m.graph.inputs[k].tensorType, shape.elementType == .float else { continue }
            let readers = m.graph.nodes.indices.filter { m.graph.nodes[$0].inputs.contains(x) }
            guard readers.count == 1, !m.graph.outputs.contains(where: { $0.name == x }) else { continue }
            let q = m.graph.nodes[readers[0]]
            guard q.opType == "QuantizeLinear", q.isStandardDomain, q.inputs.first == x, q.inputs.count == 3,
                  let s = scalar(q.inputs[1]), let z = scalar(q.inputs[2]), [.int8, .uint8].contains(z.dtype) else { continue }
            let xq = q.outputs[0]
            m.graph.nodes.remove(at: readers[0])
            rename(xq, to: x)
            m.graph.inputs[k].type = .tensor(TensorType(z.dtype, shape.shape))
            boundaries.append(Boundary(tensor: x, isInput: true, scale: Float(s.doubleValues()[0]), zeroPoint: Int32(z.doubleValues()[0]), type: z.dtype))
        }
        for k in m.graph.outputs.indices {
            let y = m.graph.outputs[k].name
            guard let p = m.graph.nodes.firstIndex(where: { $0.outputs.contains(y) }) else { continue }
            let dq = m.graph.nodes[p]
            guard dq.opType == "DequantizeLinear", dq.isStandardDomain, dq.inputs.count == 3,
                  !m.graph.nodes.contains(where: { $0.inputs.contains(y) }),
                  !m.graph.outputs.contains(where: { $0.name == dq.inputs[0] }),
                  !m.graph.inputs.contains(where: { $0.name == dq.inputs[0] }),
                  let s = scalar(dq.inputs[1]), let z = scalar(dq.inputs[2]), [.int8, .uint8].contains(z.dtype) else { continue }
            let yq = dq.inputs[0]
            m.graph.nodes.remove(at: p)
            rename(yq, to: y)
            m.graph.outputs[k].type = .tensor(TensorType(z.dtype, m.graph.outputs[k].tensorType?.shape))
            boundaries.append(Boundary(tensor: y, isInput: false, scale: Float(s.doubleValues()[0]), zeroPoint: Int32(z.doubleValues()[0]), type: z.dtype))
        }
        m.graph.valueInfo.removeAll { v in boundaries.contains { $0.tensor == v.name } }
        m.metadataProps.removeAll { $0.key.hasPrefix(prefix) }
        m.metadataProps += boundaries.map(\.metadata)
        return (m, boundaries)
    }

    /// The boundaries recorded in a model's metadata (empty for float-I/O models).
    public static func boundaries(of model: Model) throws -> [Boundary] {
        try model.metadataProps.filter { $0.key.hasPrefix(prefix) }.map { entry in
            let tensor = String(entry.key.dropFirst(prefix.count))
            var fields: [String: String] = [:]
            let words = entry.value.split(separator: " ")
            for word in words.dropFirst() {
                let kv = word.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
            }
            guard let role = words.first, role == "input" || role == "output",
                  let scale = fields["scale"].flatMap(Float.init), scale > 0, scale.isFinite,
                  let zp = fields["zero_point"].flatMap(Int32.init),
                  let type = [DType.int8, .uint8].first(where: { $0.description == fields["type"] }) else {
                throw EdgeError.badInput("metadata '\(entry.key)': cannot read '\(entry.value)' (expected 'input|output scale=S zero_point=Z type=int8|uint8')")
            }
            return Boundary(tensor: tensor, isInput: role == "input", scale: scale, zeroPoint: zp, type: type)
        }
    }

    /// The same computation with float inputs and outputs: QuantizeLinear/DequantizeLinear put
    /// back at every recorded boundary. Float evaluation data can then drive an integer-I/O model.
    public static func floatView(_ model: Model) throws -> Model {
        let boundaries = try boundaries(of: model)
        guard !boundaries.isEmpty else { return model }
        var m = model
        var taken = Set(m.graph.initializers.keys).union(m.graph.nodes.flatMap { $0.inputs + $0.outputs }).union(m.graph.inputs.map(\.name))
        func fresh(_ base: String) -> String {
            var name = base, k = 1
            while taken.contains(name) { name = "\(base)_\(k)"; k += 1 }
            taken.insert(name)
            return name
        }
        func rename(_ from: String, to: String, inputs: Bool, outputs: Bool) {
            for i in m.graph.nodes.indices {
                if inputs { m.graph.nodes[i].inputs = m.graph.nodes[i].inputs.map { $0 == from ? to : $0 } }
                if outputs { m.graph.nodes[i].outputs = m.graph.nodes[i].outputs.map { $0 == from ? to : $0 } }
            }
        }
        var prologue: [Node] = []
        for b in boundaries {
            let scale = fresh("\(b.tensor)_io_scale"), zero = fresh("\(b.tensor)_io_zero_point"), integer = fresh("\(b.tensor)_integer")
            m.graph.initializers[scale] = .scalar(b.scale)
            m.graph.initializers[zero] = b.type == .int8 ? .scalar(Int8(b.zeroPoint)) : .scalar(UInt8(b.zeroPoint))
            if b.isInput, let k = m.graph.inputs.firstIndex(where: { $0.name == b.tensor }) {
                rename(b.tensor, to: integer, inputs: true, outputs: false)
                if let oi = m.graph.outputs.firstIndex(where: { $0.name == b.tensor }) { m.graph.outputs[oi].name = integer }
                prologue.append(Node(name: fresh("\(b.tensor)_io_quantize"), opType: "QuantizeLinear", inputs: [b.tensor, scale, zero], outputs: [integer]))
                m.graph.inputs[k].type = .tensor(TensorType(.float, m.graph.inputs[k].tensorType?.shape))
            } else if !b.isInput, let k = m.graph.outputs.firstIndex(where: { $0.name == b.tensor }) {
                rename(b.tensor, to: integer, inputs: true, outputs: true)
                m.graph.nodes.append(Node(name: fresh("\(b.tensor)_io_dequantize"), opType: "DequantizeLinear", inputs: [integer, scale, zero], outputs: [b.tensor]))
                m.graph.outputs[k].type = .tensor(TensorType(.float, m.graph.outputs[k].tensorType?.shape))
            } else {
                throw EdgeError.badInput("metadata '\(prefix + b.tensor)': the model has no graph \(b.isInput ? "input" : "output") '\(b.tensor)'")
            }
        }
        m.graph.nodes = prologue + m.graph.nodes
        m.metadataProps.removeAll { $0.key.hasPrefix(prefix) }
        return m
    }
}
