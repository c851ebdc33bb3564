import EdgeIR

/// A runtime value flowing along a graph edge. Most values are tensors; `Loop`, `If` and the
/// sequence/optional operators also move sequences of tensors and optionals (ONNX `seq(...)` and
/// `optional(...)` types).
public indirect enum Value: Sendable {
    case tensor(Tensor)
    case sequence([Tensor], elementType: DType)
    /// An ONNX optional: `nil` is an empty optional, otherwise the contained value.
    case optional(Value?)

    /// The tensor, or nil for sequences and optionals.
    public var tensor: Tensor? {
        if case .tensor(let t) = self { return t }
        return nil
    }

    public var kindDescription: String {
        switch self {
        case .tensor(let t): return "tensor \(t.dtype)\(t.shape)"
        case .sequence(let s, let e): return "seq(\(e)) of \(s.count)"
        case .optional(let v): return v == nil ? "optional(none)" : "optional(\(v!.kindDescription))"
        }
    }
}
