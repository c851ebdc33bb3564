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

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and identical on every platform.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1) with 53 bits.
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    /// Standard normal (Box–Muller).
    public mutating func normal() -> Double {
        let u1 = max(uniform(), 0x1p-53), u2 = uniform()
        return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
    }
}

import Foundation
@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }
