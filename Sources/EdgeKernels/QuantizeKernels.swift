import EdgeKernelsVNNI

/// Element-wise 8-bit kernels of the quantized operators (QuantizeLinear, DequantizeLinear,
/// QLinearAdd, QLinearMul): 16 lanes at a time where the VNNI kernels run (the CPU has AVX-512
/// VNNI, EdgeKernelsVNNI/VNNIQuantize.swift), the same scalar formula elsewhere, bit-identical
/// either way; split across a pool's threads from `parallelThreshold` elements.
extension Kernels {
    /// Below this many elements a fork/join costs more than the work (about 1 ns per element).
    static let quantParallelThreshold = 65_536
    /// Elements per task when a row is split.
    static let quantChunk = 16_384

    /// Runs body(row, start, count) over `rows` rows of `cols` elements, in chunks across the pool
    /// when the block is large.
    static func forEachChunk(rows: Int, cols: Int, pool: ThreadPool?, _ body: (Int, Int, Int) -> Void) {
        if rows == 0 || cols == 0 { return }
        guard let pool, pool.threadCount > 1, rows * cols >= quantParallelThreshold else {
            for r in 0..<rows { body(r, 0, cols) }
            return
        }
        let perRow = (cols + quantChunk - 1) / quantChunk
        pool.parallelFor(rows * perRow) { k in
            let r = k / perRow, start = (k % perRow) * quantChunk
            body(r, start, Swift.min(quantChunk, cols - start))
        }
    }

    /// QuantizeLinear float32 → int8/uint8 over rows × cols (row r uses scale/zero point
    /// [r % params], so per-axis x viewed as outer × dim × inner passes rows = outer·dim, cols = inner):
    ///   y = clamp(roundHalfEven(x / scale) + zeroPoint, type range), NaN → clamp(0, type range).
    public static func quantizeLinear(_ x: UnsafePointer<Float>, rows: Int, cols: Int, scales: UnsafePointer<Float>,
                                      zeroPoints: UnsafePointer<Int32>, params: Int, signed: Bool,
                                      dst: UnsafeMutableRawPointer, pool: ThreadPool? = nil) {
        let lo: Float = signed ? -128 : 0, hi: Float = signed ? 127 : 255
        let vnni = VNNI.active
        forEachChunk(rows: rows, cols: cols, pool: pool) { r, start, count in
            let p = r % params, offset = r * cols + start
            let s = scales[p], z = zeroPoints[p]
            if vnni { VNNIKernels.quantizeRow(x + offset, count, s, z, lo, hi, dst + offset); return }
            for i in offset..<(offset + count) {
                let q = Double((x[i] / s).rounded(.toNearestOrEven))
                let v = q.isNaN ? Swift.min(Swift.max(0, Double(lo)), Double(hi)) : Swift.min(Swift.max(q + Double(z), Double(lo)), Double(hi))
                dst.storeBytes(of: UInt8(truncatingIfNeeded: Int32(v)), toByteOffset: i, as: UInt8.self)
            }
        }
    }

    /// DequantizeLinear int8/uint8 → float32 over rows × cols (params as in `quantizeLinear`):
    ///   y = Float(x − zeroPoint) · scale  (= the exact product rounded once to float32).
    public static func dequantizeLinear(_ x: UnsafeRawPointer, signed: Bool, rows: Int, cols: Int, scales: UnsafePointer<Float>,
                                        zeroPoints: UnsafePointer<Int32>, params: Int,
                                        dst: UnsafeMutablePointer<Float>, pool: ThreadPool? = nil) {
        let vnni = VNNI.active
        forEachChunk(rows: rows, cols: cols, pool: pool) { r, start, count in
            let p = r % params, offset = r * cols + start
            let s = scales[p], z = zeroPoints[p]
            if vnni { VNNIKernels.dequantizeRow(x + offset, signed, count, s, z, dst + offset); return }
            for i in offset..<(offset + count) {
                let b = x.load(fromByteOffset: i, as: UInt8.self)
                dst[i] = Float((signed ? Int32(Int8(bitPattern: b)) : Int32(b)) - z) * s
            }
        }
    }

    /// QLinearAdd on same-shape A and B, or a scalar B (`bIsScalar`), with ONNX Runtime's MLAS
    /// arithmetic (see EdgeRuntime's QLinearBinary.swift):
    ///   y = clamp(roundHalfEven(fma(a, ra, fma(b, rb, fixed))), type range), NaN → zc.
    public static func qlinearAdd(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, bIsScalar: Bool, signed: Bool, count: Int,
                                  ra: Float, rb: Float, fixed: Float, zc: Int32, dst: UnsafeMutableRawPointer, pool: ThreadPool? = nil) {
        let lo: Float = signed ? -128 : 0, hi: Float = signed ? 127 : 255
        let vnni = VNNI.active, bStride = bIsScalar ? 0 : 1
        forEachChunk(rows: 1, cols: count, pool: pool) { _, start, n in
            let bp = bIsScalar ? b : b + start
            if vnni { VNNIKernels.qlinearAddRow(a + start, bp, bStride, signed, n, ra, rb, fixed, lo, hi, zc, dst + start); return }
            for i in 0..<n {
                let av = byte(a, start + i, signed), bv = byte(bp, i * bStride, signed)
                let r = fixed.addingProduct(Float(bv), rb).addingProduct(Float(av), ra).rounded(.toNearestOrEven)
                let v = r.isNaN ? zc : Int32(Swift.min(Swift.max(r, lo), hi))
                dst.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: start + i, as: UInt8.self)
            }
        }
    }

    /// QLinearMul on same-shape A and B, or a scalar B, with MLAS's arithmetic:
    ///   y = clamp(roundHalfEven(Float((a − za)(b − zb)) · ratio + Float(zc)), type range), NaN → zc.
    public static func qlinearMul(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, bIsScalar: Bool, signed: Bool, count: Int,
                                  za: Int32, zb: Int32, ratio: Float, zc: Int32, dst: UnsafeMutableRawPointer, pool: ThreadPool? = nil) {
        let lo: Float = signed ? -128 : 0, hi: Float = signed ? 127 : 255
        let vnni = VNNI.active, bStride = bIsScalar ? 0 : 1
        forEachChunk(rows: 1, cols: count, pool: pool) { _, start, n in
            let bp = bIsScalar ? b : b + start
            if vnni {
                VNNIKernels.qlinearMulRow(a + start, bp, bStride, signed, n, za, zb, ratio, Float(zc), lo, hi, zc, dst + start)
                return
            }
            for i in 0..<n {
                let p = (byte(a, start + i, signed) - za) * (byte(bp, i * bStride, signed) - zb)
                let r = (Float(p) * ratio + Float(zc)).rounded(.toNearestOrEven)
                let v = r.isNaN ? zc : Int32(Swift.min(Swift.max(r, lo), hi))
                dst.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: start + i, as: UInt8.self)
            }
        }
    }

    @inline(__always) private static func byte(_ p: UnsafeRawPointer, _ i: Int, _ signed: Bool) -> Int32 {
        let b = p.load(fromByteOffset: i, as: UInt8.self)
        return signed ? Int32(Int8(bitPattern: b)) : Int32(b)
    }
}
