import EdgeIR

/// Seeded random feeds for a model's runtime inputs, so that a check is reproducible: the same
/// model, seed and dimension values give the same tensors on every machine.
public enum RandomInputs {
    /// One feed per runtime input. Symbolic or unknown dimensions take `dims[name]` or
    /// `defaultDim`. Floats are standard normal; integers uniform in 0..<`integerRange`
    /// (small, so that index-like inputs stay in range); bools fair coins.
    public static func make(for graph: Graph, seed: UInt64, dims: [String: Int] = [:], defaultDim: Int = 1,
                            integerRange: Int = 4) throws -> [String: Tensor] {
        var rng = SplitMix64(seed: seed)
        var feeds: [String: Tensor] = [:]
        for input in graph.runtimeInputs {
            guard let type = input.tensorType else {
                throw EdgeError.badInput("input '\(input.name)' is not a tensor; the check cannot make a random value for it")
            }
            guard let declared = type.shape else {
                throw EdgeError.badInput("input '\(input.name)' has unknown rank; the check cannot make a random value for it")
            }
            let shape = declared.map { dim -> Int in
                switch dim {
                case .fixed(let v): return v
                case .symbolic(let s): return dims[s] ?? defaultDim
                case .unknown: return defaultDim
                }
            }
            let count = shape.reduce(1, *)
            guard count <= 1 << 28 else {
                throw EdgeError.badInput("input '\(input.name)' shape \(shape) is too large for a random check")
            }
            switch type.elementType {
            case .float: feeds[input.name] = Tensor(shape: shape, scalars: (0..<count).map { _ in Float(rng.normal()) })
            case .double: feeds[input.name] = Tensor(shape: shape, scalars: (0..<count).map { _ in rng.normal() })
            case .float16: feeds[input.name] = Tensor(shape: shape, scalars: (0..<count).map { _ in Float16(Float(rng.normal())) })
            case .int64: feeds[input.name] = Tensor(shape: shape, scalars: (0..<count).map { _ in Int64(rng.below(integerRange)) })
            case .int32: feeds[input.name] = Tensor(shape: shape, scalars: (0..<count).map { _ in Int32(rng.below(integerRange)) })
            case .int8: feeds[input.name] = Tensor(shape: shape, scalars: (0..<count).map { _ in Int8(rng.below(integerRange)) })
            case .uint8: feeds[input.name] = Tensor(shape: shape, scalars: (0..<count).map { _ in UInt8(rng.below(integerRange)) })
            case .bool: feeds[input.name] = Tensor(shape: shape, scalars: (0..<count).map { _ in rng.below(2) == 1 })
            default:
                throw EdgeError.badInput("input '\(input.name)' has element type \(type.elementType); the check cannot make a random value for it")
            }
        }
        return feeds
    }
}
