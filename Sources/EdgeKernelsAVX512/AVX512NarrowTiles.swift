// Tiles for the last, partial NR panel of a GEMM and for B read in place (AVX-512, MR = 14, NR = 32).
//
// A partial last panel of c < 32 columns (N = 49 at 7×7: 32 + 17; N = 196 at 14×14: 6·32 + 4)
// used to run the full 14×32 tile into a scratch tile, copy c columns out and run the epilogue
// as a second pass: 28 FMAs per k for 14·c useful products. Here it is cut into
//   - a 16-column half tile (14 FMAs per k) when c ≥ 16, stored in place with the epilogue fused;
//   - the remaining t = c mod 16 columns by `tileColumns`, which turns the roles round: output
//     channels run along the vector lanes (one 16-lane load of the k-major A panel covers its 14
//     rows) and each column's B value is broadcast, so t columns cost t FMAs per k, not 14.
// Every output is still a single FMA chain over k in order, starting from 0, followed by + C,
// + bias and the activation in the same order as `tileImpl`: results are bit-identical to the
// full tile's.

extension AVX512Kernels {
    /// The fused tile in its general form: the first `rows` (1…14) rows × `width` (16 or 32)
    /// columns of an MR panel, B's rows `ldb` apart (32 in a packed panel; N when B is a row-major
    /// K × N matrix read in place). Epilogue as in `tileFused` (rowBias nil and code 0 for none).
    public static func tileGeneral(_ rows: Int, _ width: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ ldb: Int,
                                   _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool,
                                   _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        // One function per (width, computed rows), each with a single call of tileImpl: with six
        // calls in one body the optimizer outlined tileImpl unspecialised (runtime `wide` and
        // `computed` tests in the k loop), slower than the full tile it was to beat.
        let f = width > 16 ? (rows > 8 ? general32x14 : rows > 4 ? general32x8 : general32x4)
                           : (rows > 8 ? general16x14 : rows > 4 ? general16x8 : general16x4)
        f(rows, kc, a, b, ldb, c, ldc, accumulate, rowBias, code, p0, p1)
    }
    static func general32x14(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>,
                             _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        tileImpl(kc, a, b, c, ldc, acc, rowBias, code, p0, p1, rows: rows, ldb: ldb)
    }
    static func general32x8(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>,
                            _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        tileImpl(kc, a, b, c, ldc, acc, rowBias, code, p0, p1, rows: rows, computed: 8, ldb: ldb)
    }
    static func general32x4(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>,
                            _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        tileImpl(kc, a, b, c, ldc, acc, rowBias, code, p0, p1, rows: rows, computed: 4, ldb: ldb)
    }
    static func general16x14(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>,
                             _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        tileImpl(kc, a, b, c, ldc, acc, rowBias, code, p0, p1, rows: rows, ldb: ldb, wide: false)
    }
    static func general16x8(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>,
                            _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        tileImpl(kc, a, b, c, ldc, acc, rowBias, code, p0, p1, rows: rows, computed: 8, ldb: ldb, wide: false)
    }
    static func general16x4(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>,
                            _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        tileImpl(kc, a, b, c, ldc, acc, rowBias, code, p0, p1, rows: rows, computed: 4, ldb: ldb, wide: false)
    }

    /// The most MR panels `tileColumns` takes at once for `cols` columns: the accumulators are
    /// panels × cols vectors, and with few columns several panels give the FMA chains the
    /// independence one panel lacks (4-cycle FMA latency, 2 FMAs per cycle).
    public static func columnPanels(_ cols: Int) -> Int { cols <= 3 ? 4 : cols <= 7 ? 2 : 1 }

    /// `cols` (1…15) columns of C for `panels` (1…columnPanels(cols), all of them taken) consecutive MR panels of A
    /// (the first at `a`, the next `aStride` floats further), output channels along the lanes:
    /// acc[p][t] (lane r = row p·14 + r) = Σ_k A_p[k·14 + r] · b[k·ldb + t]. Stores the first
    /// `rows` rows (≤ panels·14) with C(+), rowBias and a none/relu/clip activation, element by
    /// element (the lanes are a column of C).
    public static func tileColumns(_ panels: Int, _ rows: Int, _ cols: Int, _ kc: Int,
                                   _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                                   _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool,
                                   _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        // One function per (panels, columns), each with a single call of columnsImpl (see tileGeneral).
        let taken = cols <= 3 ? min(panels, 4) : cols <= 7 ? min(panels, 2) : 1
        let f: ColumnsFunction
        switch (taken, min(cols, 15)) {
        case (1, 1): f = columns1x1
        case (1, 2): f = columns1x2
        case (1, 3): f = columns1x3
        case (1, 4): f = columns1x4
        case (1, 5): f = columns1x5
        case (1, 6): f = columns1x6
        case (1, 7): f = columns1x7
        case (1, 8): f = columns1x8
        case (1, 9): f = columns1x9
        case (1, 10): f = columns1x10
        case (1, 11): f = columns1x11
        case (1, 12): f = columns1x12
        case (1, 13): f = columns1x13
        case (1, 14): f = columns1x14
        case (1, 15): f = columns1x15
        case (2, 1): f = columns2x1
        case (2, 2): f = columns2x2
        case (2, 3): f = columns2x3
        case (2, 4): f = columns2x4
        case (2, 5): f = columns2x5
        case (2, 6): f = columns2x6
        case (2, 7): f = columns2x7
        case (3, 1): f = columns3x1
        case (3, 2): f = columns3x2
        case (3, 3): f = columns3x3
        case (4, 1): f = columns4x1
        case (4, 2): f = columns4x2
        case (4, 3): f = columns4x3
        default: preconditionFailure("tileColumns: \(panels) panels × \(cols) columns")
        }
        f(rows, kc, a, aStride, b, ldb, c, ldc, accumulate, rowBias, code, p0, p1)
    }

    typealias ColumnsFunction = (Int, Int, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Int, Bool,
                                 UnsafePointer<Float>?, Int, Float, Float) -> Void
    static func columns1x1(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(1, 1, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns1x2(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(1, 2, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns1x3(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(1, 3, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns1x4(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(1, 4, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns1x5(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(1, 5, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns1x6(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(1, 6, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns1x7(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(1, 7, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns1x8(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(1, 8, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns1x9(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(1, 9, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns1x10(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(1, 10, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns1x11(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(1, 11, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns1x12(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(1, 12, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns1x13(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(1, 13, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns1x14(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(1, 14, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns1x15(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(1, 15, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns2x1(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(2, 1, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns2x2(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(2, 2, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns2x3(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(2, 3, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns2x4(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(2, 4, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns2x5(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(2, 5, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns2x6(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(2, 6, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns2x7(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(2, 7, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns3x1(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(3, 1, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns3x2(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(3, 2, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns3x3(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(3, 3, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns4x1(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(4, 1, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns4x2(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(4, 2, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }
    static func columns4x3(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool, _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        columnsImpl(4, 3, rows, kc, a, aStride, b, ldb, c, ldc, acc, rowBias, code, p0, p1)
    }

    /// `P` panels (≤ 4; ≤ 2 when T > 3, 1 when T > 7) × `T` columns; both constants at each call.
    @inline(__always) static func columnsImpl(_ P: Int, _ T: Int, _ rows: Int, _ kc: Int,
                                              _ a: UnsafePointer<Float>, _ aStride: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                                              _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool,
                                              _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        typealias V = SIMD16<Float>
        let z = V(repeating: 0)
        // Panel 0: u0…u14; panel 1: v0…v6; panels 2, 3: w0…w2, x0…x2.
        var u0 = z, u1 = z, u2 = z, u3 = z, u4 = z, u5 = z, u6 = z, u7 = z
        var u8 = z, u9 = z, u10 = z, u11 = z, u12 = z, u13 = z, u14 = z
        var v0 = z, v1 = z, v2 = z, v3 = z, v4 = z, v5 = z, v6 = z
        var w0 = z, w1 = z, w2 = z, x0 = z, x1 = z, x2 = z
        @inline(__always) func column(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        // The last k step's 16-lane load would read 2 floats past the panel (past the buffer
        // for the last one): it is assembled from 8 + 4 + 2 lanes instead.
        @inline(__always) func lastColumn(_ p: UnsafePointer<Float>) -> V {
            let r = UnsafeRawPointer(p)
            let hi = SIMD8<Float>(lowHalf: r.loadUnaligned(fromByteOffset: 32, as: SIMD4<Float>.self),
                                  highHalf: SIMD4<Float>(lowHalf: r.loadUnaligned(fromByteOffset: 48, as: SIMD2<Float>.self),
                                                         highHalf: SIMD2<Float>(repeating: 0)))
            return V(lowHalf: r.loadUnaligned(as: SIMD8<Float>.self), highHalf: hi)
        }
        let a1p = a + (P > 1 ? aStride : 0), a2p = a + (P > 2 ? 2 &* aStride : 0), a3p = a + (P > 3 ? 3 &* aStride : 0)
        // (The k step is written out here, not in a nested function: a nested function that
        // mutates the accumulators gets dynamic exclusivity checks per access.)
        for k in 0..<kc {
            let o = k &* 14, pb = b + k &* ldb
            let a0: V, a1: V, a2: V, a3: V
            if k &+ 1 < kc {
                a0 = column(a + o); a1 = P > 1 ? column(a1p + o) : z; a2 = P > 2 ? column(a2p + o) : z; a3 = P > 3 ? column(a3p + o) : z
            } else {
                a0 = lastColumn(a + o); a1 = P > 1 ? lastColumn(a1p + o) : z
                a2 = P > 2 ? lastColumn(a2p + o) : z; a3 = P > 3 ? lastColumn(a3p + o) : z
            }
            @inline(__always) func bc(_ t: Int) -> V { V(repeating: pb[t]) }
            if T > 0 { let s = bc(0); u0 = u0.addingProduct(a0, s); if P > 1 { v0 = v0.addingProduct(a1, s) }
                       if P > 2 { w0 = w0.addingProduct(a2, s) }; if P > 3 { x0 = x0.addingProduct(a3, s) } }
            if T > 1 { let s = bc(1); u1 = u1.addingProduct(a0, s); if P > 1 { v1 = v1.addingProduct(a1, s) }
                       if P > 2 { w1 = w1.addingProduct(a2, s) }; if P > 3 { x1 = x1.addingProduct(a3, s) } }
            if T > 2 { let s = bc(2); u2 = u2.addingProduct(a0, s); if P > 1 { v2 = v2.addingProduct(a1, s) }
                       if P > 2 { w2 = w2.addingProduct(a2, s) }; if P > 3 { x2 = x2.addingProduct(a3, s) } }
            if T > 3 { let s = bc(3); u3 = u3.addingProduct(a0, s); if P > 1 { v3 = v3.addingProduct(a1, s) } }
            if T > 4 { let s = bc(4); u4 = u4.addingProduct(a0, s); if P > 1 { v4 = v4.addingProduct(a1, s) } }
            if T > 5 { let s = bc(5); u5 = u5.addingProduct(a0, s); if P > 1 { v5 = v5.addingProduct(a1, s) } }
            if T > 6 { let s = bc(6); u6 = u6.addingProduct(a0, s); if P > 1 { v6 = v6.addingProduct(a1, s) } }
            if T > 7 { u7 = u7.addingProduct(a0, bc(7)) }
            if T > 8 { u8 = u8.addingProduct(a0, bc(8)) }
            if T > 9 { u9 = u9.addingProduct(a0, bc(9)) }
            if T > 10 { u10 = u10.addingProduct(a0, bc(10)) }
            if T > 11 { u11 = u11.addingProduct(a0, bc(11)) }
            if T > 12 { u12 = u12.addingProduct(a0, bc(12)) }
            if T > 13 { u13 = u13.addingProduct(a0, bc(13)) }
            if T > 14 { u14 = u14.addingProduct(a0, bc(14)) }
        }
        // Column t of panel p: lane r is C[p·14 + r, t].
        @inline(__always) func out(_ acc: V, _ p: Int, _ t: Int) {
            let r0 = p &* 14, n = min(14, rows &- r0)
            if n <= 0 { return }
            for r in 0..<n {
                let dst = c + ((r0 &+ r) &* ldc &+ t)
                var x = acc[r]
                if accumulate { x += dst.pointee }
                if let rowBias { x += rowBias[r0 &+ r] }
                if code == ActivationCode.relu { if x < 0 { x = 0 } }
                else if code == ActivationCode.clip { if x < p0 { x = p0 }; if x > p1 { x = p1 } }
                dst.pointee = x
            }
        }
        if T > 0 { out(u0, 0, 0) }; if T > 1 { out(u1, 0, 1) }; if T > 2 { out(u2, 0, 2) }; if T > 3 { out(u3, 0, 3) }
        if T > 4 { out(u4, 0, 4) }; if T > 5 { out(u5, 0, 5) }; if T > 6 { out(u6, 0, 6) }; if T > 7 { out(u7, 0, 7) }
        if T > 8 { out(u8, 0, 8) }; if T > 9 { out(u9, 0, 9) }; if T > 10 { out(u10, 0, 10) }; if T > 11 { out(u11, 0, 11) }
        if T > 12 { out(u12, 0, 12) }; if T > 13 { out(u13, 0, 13) }; if T > 14 { out(u14, 0, 14) }
        if P > 1 {
            if T > 0 { out(v0, 1, 0) }; if T > 1 { out(v1, 1, 1) }; if T > 2 { out(v2, 1, 2) }; if T > 3 { out(v3, 1, 3) }
            if T > 4 { out(v4, 1, 4) }; if T > 5 { out(v5, 1, 5) }; if T > 6 { out(v6, 1, 6) }
        }
        if P > 2 { if T > 0 { out(w0, 2, 0) }; if T > 1 { out(w1, 2, 1) }; if T > 2 { out(w2, 2, 2) } }
        if P > 3 { if T > 0 { out(x0, 3, 0) }; if T > 1 { out(x1, 3, 1) }; if T > 2 { out(x2, 3, 2) } }
    }
}
