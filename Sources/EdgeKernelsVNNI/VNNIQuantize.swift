// QuantizeLinear, DequantizeLinear, QLinearAdd and QLinearMul rows, 16 lanes at a time, each the
// exact float32 formula of the runtime's scalar code (EdgeRuntime/Operators/Quantization.swift,
// QLinearBinary.swift), so results are bit-identical:
// - IEEE division, multiplication and fma are correctly rounded per lane, as the scalar ops are
//   (no contraction: Swift emits separate fmul/fadd unless fma is asked for).
// - Round half to even by the 1.5·2²³ trick (see requantizeRow), after clamping to ±2²²: anything
//   that large saturates either way.
// - Lanes holding a NaN go through the scalar formula (a whole vector at a time), which gives
//   NaN its documented value.
import Swift

@inline(__always) func anyNaN(_ v: SIMD16<Float>) -> Bool {
    let f = unsafeBitCast(v, to: Builtin.Vec16xFPIEEE32.self)
    return UInt16(Builtin.bitcast_Vec16xInt1_Int16(Builtin.fcmp_uno_Vec16xFPIEEE32(f, f))) != 0
}

@inline(__always) func fma16(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>) -> SIMD16<Float> {
    let f = Builtin.Vec16xFPIEEE32.self
    return unsafeBitCast(Builtin.int_fma_Vec16xFPIEEE32(unsafeBitCast(a, to: f), unsafeBitCast(b, to: f), unsafeBitCast(c, to: f)),
                         to: SIMD16<Float>.self)
}

/// roundHalfEven(v), clamped to [lo, hi], as bytes (v not NaN).
@inline(__always) func roundToBytes(_ v: SIMD16<Float>, _ plus: SIMD16<Float>, _ lo: SIMD16<Float>, _ hi: SIMD16<Float>) -> SIMD16<UInt8> {
    let limit = SIMD16<Float>(repeating: 4_194_304), magic = SIMD16<Float>(repeating: 12_582_912)
    let c = clamp(v, -limit, limit)
    return toBytes(toInt(clamp(((c + magic) - magic) + plus, lo, hi)))
}

@inline(__always) func widenBytes(_ p: UnsafeRawPointer, _ signed: Bool) -> SIMD16<Int32> {
    let v = p.loadUnaligned(as: SIMD16<UInt8>.self)
    return signed ? sext(v) : zext(v)
}

@inline(__always) func byteValue(_ p: UnsafeRawPointer, _ i: Int, _ signed: Bool) -> Int32 {
    let b = p.load(fromByteOffset: i, as: UInt8.self)
    return signed ? Int32(Int8(bitPattern: b)) : Int32(b)
}

@inline(__always) func storeClamped(_ v: Float, _ lo: Float, _ hi: Float, _ dst: UnsafeMutableRawPointer, _ i: Int) {
    dst.storeBytes(of: UInt8(truncatingIfNeeded: Int32(Swift.min(Swift.max(v, lo), hi))), toByteOffset: i, as: UInt8.self)
}

/// The row loop of the byte-producing kernels: for each whole vector, `value(i)` gives lanes
/// i..<i+16 before rounding; a vector holding a NaN runs `scalar` on each of its lanes (NaN has
/// its own documented result), any other stores roundHalfEven(value) + plus clamped to [lo, hi].
/// The tail runs `scalar`.
@inline(__always) func byteRow(_ count: Int, _ dst: UnsafeMutableRawPointer, plus: SIMD16<Float>, lo: SIMD16<Float>, hi: SIMD16<Float>,
                               value: (Int) -> SIMD16<Float>, scalar: (Int) -> Void) {
    var i = 0
    while i &+ 16 <= count {
        let v = value(i)
        if anyNaN(v) {
            for j in i..<(i &+ 16) { scalar(j) }
        } else {
            (dst + i).storeBytes(of: roundToBytes(v, plus, lo, hi), as: SIMD16<UInt8>.self)
        }
        i &+= 16
    }
    while i < count { scalar(i); i &+= 1 }
}

extension VNNIKernels {
    /// QuantizeLinear float32 → 8-bit: dst[i] = clamp(roundHalfEven(x[i] / scale) + zeroPoint, lo, hi),
    /// a NaN quotient → clamp(0, lo, hi).
    public static func quantizeRow(_ x: UnsafePointer<Float>, _ count: Int, _ scale: Float, _ zeroPoint: Int32,
                                   _ lo: Float, _ hi: Float, _ dst: UnsafeMutableRawPointer) {
        let s = SIMD16<Float>(repeating: scale), z = SIMD16<Float>(repeating: Float(zeroPoint))
        let vlo = SIMD16<Float>(repeating: lo), vhi = SIMD16<Float>(repeating: hi)
        @inline(__always) func scalar(_ i: Int) {
            let q = (x[i] / scale).rounded(.toNearestOrEven)
            // q + zp is exact in Double (the scalar operator's arithmetic).
            let v = q.isNaN ? Swift.min(Swift.max(0, lo), hi) : Float(Swift.min(Swift.max(Double(q) + Double(zeroPoint), Double(lo)), Double(hi)))
            storeClamped(v, lo, hi, dst, i)
        }
        byteRow(count, dst, plus: z, lo: vlo, hi: vhi,
                value: { i in UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) / s }, scalar: scalar)
    }

    /// DequantizeLinear 8-bit → float32: dst[i] = Float(x[i] − zeroPoint) · scale (one rounding:
    /// the integer is exact in float32 and the product is rounded once, as the exact Double
    /// product rounded to float32 is).
    public static func dequantizeRow(_ x: UnsafeRawPointer, _ signed: Bool, _ count: Int, _ scale: Float, _ zeroPoint: Int32,
                                     _ dst: UnsafeMutablePointer<Float>) {
        let s = SIMD16<Float>(repeating: scale), z = SIMD16<Int32>(repeating: zeroPoint)
        var i = 0
        while i &+ 16 <= count {
            let v = toFloat(widenBytes(x + i, signed) &- z) * s
            UnsafeMutableRawPointer(dst + i).storeBytes(of: v, as: SIMD16<Float>.self)
            i &+= 16
        }
        while i < count { dst[i] = Float(byteValue(x, i, signed) &- zeroPoint) * scale; i &+= 1 }
    }

    /// QLinearAdd (ONNX Runtime's MLAS arithmetic, see QLinearBinary.swift):
    /// dst[i] = clamp(roundHalfEven(fma(a[i], ra, fma(b[i], rb, fixed))), lo, hi), NaN → nanValue.
    /// `bStride` is 1, or 0 for a scalar B.
    public static func qlinearAddRow(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ bStride: Int, _ signed: Bool, _ count: Int,
                                     _ ra: Float, _ rb: Float, _ fixed: Float, _ lo: Float, _ hi: Float, _ nanValue: Int32,
                                     _ dst: UnsafeMutableRawPointer) {
        let vra = SIMD16<Float>(repeating: ra), vrb = SIMD16<Float>(repeating: rb), vf = SIMD16<Float>(repeating: fixed)
        let vlo = SIMD16<Float>(repeating: lo), vhi = SIMD16<Float>(repeating: hi), zero = SIMD16<Float>(repeating: 0)
        @inline(__always) func scalar(_ i: Int) {
            let t = fixed.addingProduct(Float(byteValue(b, i &* bStride, signed)), rb)
            let r = t.addingProduct(Float(byteValue(a, i, signed)), ra).rounded(.toNearestOrEven)
            if r.isNaN { dst.storeBytes(of: UInt8(truncatingIfNeeded: nanValue), toByteOffset: i, as: UInt8.self) }
            else { storeClamped(r, lo, hi, dst, i) }
        }
        let bScalar = SIMD16<Float>(repeating: Float(byteValue(b, 0, signed)))
        byteRow(count, dst, plus: zero, lo: vlo, hi: vhi, value: { i in
            let fb = bStride == 0 ? bScalar : toFloat(widenBytes(b + i, signed))
            return fma16(toFloat(widenBytes(a + i, signed)), vra, fma16(fb, vrb, vf))
        }, scalar: scalar)
    }

    /// QLinearMul (MLAS): dst[i] = clamp(roundHalfEven(Float((a − za)(b − zb)) · ratio + zc), lo, hi),
    /// NaN → nanValue. `bStride` is 1, or 0 for a scalar B.
    public static func qlinearMulRow(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ bStride: Int, _ signed: Bool, _ count: Int,
                                     _ za: Int32, _ zb: Int32, _ ratio: Float, _ zc: Float, _ lo: Float, _ hi: Float, _ nanValue: Int32,
                                     _ dst: UnsafeMutableRawPointer) {
        let vr = SIMD16<Float>(repeating: ratio), vz = SIMD16<Float>(repeating: zc)
        let vza = SIMD16<Int32>(repeating: za), vzb = SIMD16<Int32>(repeating: zb)
        let vlo = SIMD16<Float>(repeating: lo), vhi = SIMD16<Float>(repeating: hi), zero = SIMD16<Float>(repeating: 0)
        @inline(__always) func scalar(_ i: Int) {
            let p = (byteValue(a, i, signed) &- za) &* (byteValue(b, i &* bStride, signed) &- zb)
            let r = (Float(p) * ratio + zc).rounded(.toNearestOrEven)
            if r.isNaN { dst.storeBytes(of: UInt8(truncatingIfNeeded: nanValue), toByteOffset: i, as: UInt8.self) }
            else { storeClamped(r, lo, hi, dst, i) }
        }
        let bScalar = SIMD16<Int32>(repeating: byteValue(b, 0, signed))
        byteRow(count, dst, plus: zero, lo: vlo, hi: vhi, value: { i in
            let wb = bStride == 0 ? bScalar : widenBytes(b + i, signed)
            return toFloat((widenBytes(a + i, signed) &- vza) &* (wb &- vzb)) * vr + vz
        }, scalar: scalar)
    }
}
