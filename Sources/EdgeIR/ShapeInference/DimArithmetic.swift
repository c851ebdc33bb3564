/// Arithmetic on possibly-symbolic dimensions, shared by the operator rules.
///
/// Symbolic dimensions propagate by name where the maths allows it: a dimension copied through
/// (batch of a Conv, the 0 of a Reshape) keeps its name; a product or quotient of dimensions is
/// tracked as a monomial `coefficient × name₁ × name₂ …` so that `Reshape(x[batch,512,1,1], [0,-1])`
/// still yields `[batch, 512]`; anything else becomes `.unknown`.

/// A product of dimensions: an integer coefficient times a multiset of symbolic names.
public struct DimProduct: Equatable, Sendable {
    public var coefficient: Int
    /// Sorted symbolic factors.
    public var symbols: [String]

    public init(coefficient: Int = 1, symbols: [String] = []) {
        self.coefficient = coefficient
        self.symbols = symbols.sorted()
    }

    /// The product of `dims`, or nil when any of them is unknown.
    public init?(_ dims: some Sequence<Dim>) {
        var c = 1
        var s: [String] = []
        for d in dims {
            switch d {
            case .fixed(let v):
                let (p, overflow) = c.multipliedReportingOverflow(by: v)
                if overflow { return nil }
                c = p
            case .symbolic(let name): s.append(name)
            case .unknown: return nil
            }
        }
        self.init(coefficient: c, symbols: s)
    }

    /// `self / other` when it divides exactly (coefficient divisible, symbols a sub-multiset).
    public func divided(by other: DimProduct) -> DimProduct? {
        guard other.coefficient != 0, coefficient % other.coefficient == 0 else { return nil }
        var remaining = symbols
        for s in other.symbols {
            guard let i = remaining.firstIndex(of: s) else { return nil }
            remaining.remove(at: i)
        }
        return DimProduct(coefficient: coefficient / other.coefficient, symbols: remaining)
    }

    /// As a single dimension: fixed when there are no symbols, the name when it is exactly one
    /// symbol times 1, unknown otherwise.
    public var dim: Dim {
        if symbols.isEmpty { return .fixed(coefficient) }
        if symbols.count == 1, coefficient == 1 { return .symbolic(symbols[0]) }
        if coefficient == 0 { return .fixed(0) }
        return .unknown
    }
}

extension Dim {
    public var isKnown: Bool {
        if case .unknown = self { return false }
        return true
    }

    /// Combines two descriptions of the same dimension (e.g. inferred and declared): a fixed value
    /// wins over a name, a name over unknown. Nil when two fixed values disagree.
    public func merged(with other: Dim) -> Dim? {
        switch (self, other) {
        case (.fixed(let a), .fixed(let b)): return a == b ? self : nil
        case (.fixed, _): return self
        case (_, .fixed): return other
        case (.symbolic, _): return self
        case (.unknown, _): return other
        }
    }

    /// `self ⊙ other` for fixed dims via `op`; symbolic or unknown operands give unknown.
    func combined(with other: Dim, _ op: (Int, Int) -> Int?) -> Dim {
        guard let a = value, let b = other.value, let r = op(a, b) else { return .unknown }
        return .fixed(r)
    }
}

public enum DimMath {
    /// Multidirectional (NumPy) broadcasting of several shapes. Throws when two fixed dimensions
    /// other than 1 disagree. A symbolic dimension against a fixed N > 1 becomes N (it must be N
    /// or 1 for the model to be valid); two different names become unknown.
    public static func broadcast(_ shapes: [[Dim]]) -> Result<[Dim], BroadcastError> {
        let rank = shapes.map(\.count).max() ?? 0
        var out: [Dim] = []
        out.reserveCapacity(rank)
        for axis in 0..<rank {
            var fixed: Int? = nil
            var symbol: String? = nil
            var conflictingSymbols = false
            var unknown = false
            for shape in shapes {
                let i = axis - (rank - shape.count)
                guard i >= 0 else { continue }
                switch shape[i] {
                case .fixed(1): break
                case .fixed(let v):
                    if let f = fixed, f != v { return .failure(BroadcastError(axis: axis, a: f, b: v)) }
                    fixed = v
                case .symbolic(let s):
                    if let existing = symbol, existing != s { conflictingSymbols = true }
                    symbol = s
                case .unknown: unknown = true
                }
            }
            if let fixed { out.append(.fixed(fixed)); continue }
            if unknown || conflictingSymbols { out.append(.unknown); continue }
            if let symbol { out.append(.symbolic(symbol)); continue }
            out.append(.fixed(1)) // only 1s (or no operand reaches this axis)
        }
        return .success(out)
    }

    public struct BroadcastError: Error {
        public var axis: Int
        public var a: Int
        public var b: Int
    }

    /// Normalizes a possibly negative axis against `rank`; nil when out of range.
    public static func normalize(axis: Int64, rank: Int) -> Int? {
        let a = axis < 0 ? Int(axis) + rank : Int(axis)
        return (0..<rank).contains(a) ? a : nil
    }

    /// Largest rank a shape rule will build from a value in the file (a declared length of a
    /// shape vector, a number of outputs). Real models stay far below; hostile files cannot make
    /// inference allocate absurdly.
    public static let maxRank = 4096

    /// a × b, nil on overflow.
    public static func mul(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.multipliedReportingOverflow(by: b)
        return o ? nil : r
    }

    /// a + b, nil on overflow.
    public static func add(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? nil : r
    }

    /// Product of non-negative extents; nil on overflow or a negative extent. Shapes come from
    /// files and may be hostile: never multiply them unchecked.
    public static func product(_ dims: some Sequence<Int>) -> Int? {
        var p = 1
        for d in dims {
            guard d >= 0, let q = mul(p, d) else { return nil }
            p = q
        }
        return p
    }

    /// A finite double as an Int, nil when out of range or not finite.
    public static func int(_ v: Double) -> Int? {
        guard v.isFinite, v > -9.0e18, v < 9.0e18 else { return nil }
        return Int(v)
    }

    /// Ceiling division for positive divisors.
    public static func ceilDiv(_ a: Int, _ b: Int) -> Int {
        precondition(b > 0)
        return a >= 0 ? (a + b - 1) / b : -((-a) / b)
    }

    public static func floorDiv(_ a: Int, _ b: Int) -> Int {
        precondition(b > 0)
        return a >= 0 ? a / b : -((-a + b - 1) / b)
    }
}
