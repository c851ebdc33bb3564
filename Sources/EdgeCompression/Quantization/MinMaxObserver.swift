/// Running minimum and maximum of a stream of values: O(1) memory whatever the data set size.
/// NaNs are ignored (they carry no range information); infinities are kept, so a tensor that
/// overflows shows up as an infinite range instead of silently clipping.
public struct MinMaxObserver: Sendable, Equatable {
    public private(set) var min: Float = .infinity
    public private(set) var max: Float = -.infinity
    public private(set) var count: Int = 0

    public init() {}

    public mutating func observe(_ values: UnsafeBufferPointer<Float>) {
        var lo = min, hi = max
        for v in values where !v.isNaN {
            if v < lo { lo = v }
            if v > hi { hi = v }
        }
        min = lo
        max = hi
        count += values.count
    }

    public mutating func observe(_ values: [Float]) {
        values.withUnsafeBufferPointer { observe($0) }
    }

    /// Largest magnitude seen (0 before any value).
    public var maxAbs: Float { count == 0 ? 0 : Swift.max(abs(min), abs(max)) }

    /// (min, max), or (0, 0) when nothing was observed.
    public var range: ClosedRange<Float> { count == 0 || min > max ? 0...0 : min...max }
}
