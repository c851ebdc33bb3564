/// A seeded random generator shared by the check's random inputs, `bench` and the tests.
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
    /// Uniform in [0, 1) with 24 bits (every value an exact float).
    public mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 24) }
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
