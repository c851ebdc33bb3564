// Vector maths shared by the three kernel targets. The one source file lives here and is symlinked
// into Sources/EdgeKernelsAVX2 and Sources/EdgeKernelsAVX512, so each target compiles it with its
// own ISA flags (portable SSE2/NEON, AVX2+FMA+F16C, AVX-512). Everything here is `internal`, so
// the three copies never clash; each target defines `vfma` (fused where the ISA has FMA) and
// exposes what it needs through its own public `…Kernels` enum.

import Foundation

typealias VecF = SIMD16<Float>
typealias VecU = SIMD16<UInt32>

/// Activation codes, the contract between `EdgeKernels.Activation.code` and the ISA targets.
enum ActivationCode {
    static let none = 0, relu = 1, clip = 2, leakyRelu = 3, sigmoid = 4, hardSigmoid = 5
    static let hardSwish = 6, silu = 7, tanh = 8, gelu = 9
}

@inline(__always) func bits(_ v: VecF) -> VecU { unsafeBitCast(v, to: VecU.self) }
@inline(__always) func floats(_ v: VecU) -> VecF { unsafeBitCast(v, to: VecF.self) }

/// e^x to ~2 ulp. x = n·ln2 + r with |r| ≤ ln2/2 (Cody–Waite split of ln2), e^r by its degree-7
/// Taylor polynomial (truncation ≤ 0.347⁸/8! ≈ 5e-9 relative), 2^n assembled in the exponent bits.
/// n is found with the 1.5·2²³ magic constant, so no float→int conversion can trap on NaN.
/// Overflow gives +inf, results below the smallest denormal 0, NaN propagates.
@inline(__always) func vexp(_ x: VecF) -> VecF {
    let hi = VecF(repeating: 88.72283), lo = VecF(repeating: -103.972_08)
    var xc = x.replacing(with: 0, where: .!(x .== x))
    xc = xc.replacing(with: hi, where: xc .> hi).replacing(with: lo, where: xc .< lo)
    let magic = VecF(repeating: 12_582_912.0)  // 1.5·2²³: adding it rounds to an integer in the low mantissa bits
    let t = vfma(xc, VecF(repeating: 1.442_695_04), magic)
    let n = t - magic
    var r = vfma(n, VecF(repeating: -0.693_145_751_953_125), xc)  // ln2 high part (exact product)
    r = vfma(n, VecF(repeating: -1.428_606_765_330_187_045e-06), r)  // ln2 low part
    var p = VecF(repeating: 1.0 / 5040.0)
    p = vfma(p, r, VecF(repeating: 1.0 / 720.0))
    p = vfma(p, r, VecF(repeating: 1.0 / 120.0))
    p = vfma(p, r, VecF(repeating: 1.0 / 24.0))
    p = vfma(p, r, VecF(repeating: 1.0 / 6.0))
    p = vfma(p, r, VecF(repeating: 0.5))
    p = vfma(p, r, VecF(repeating: 1.0))
    p = vfma(p, r, VecF(repeating: 1.0))
    // n = bits(t) − bits(magic) as a two's-complement integer, n ∈ [−150, 128]. 2^n is applied as
    // 2^n1 · 2^n2 with n1 = ⌊n/2⌋, n2 = n − n1, both normal exponents, so results near overflow stay
    // finite and results below 2^−126 come out as correctly scaled denormals.
    let ni = unsafeBitCast(bits(t) &- bits(magic), to: SIMD16<Int32>.self)
    let n1 = ni &>> 1, n2 = ni &- n1
    let s1 = floats(unsafeBitCast((n1 &+ 127) &<< 23, to: VecU.self))
    let s2 = floats(unsafeBitCast((n2 &+ 127) &<< 23, to: VecU.self))
    var result = p * s1 * s2
    result = result.replacing(with: .infinity, where: x .> hi)
    result = result.replacing(with: 0, where: x .< lo)
    return result.replacing(with: x, where: .!(x .== x))
}

/// With e = e^−|x|: 1/(1+e) for x ≥ 0, e/(1+e) for x < 0 — no overflow, relative error that of vexp.
@inline(__always) func vsigmoid(_ x: VecF) -> VecF {
    let ax = x.replacing(with: -x, where: x .< 0)
    let e = vexp(-ax)
    let r = 1 / (1 + e)
    return r.replacing(with: e * r, where: x .< 0)
}

/// tanh: odd Taylor series to x¹⁵ for |x| < 0.5 (truncation < 1e-8 relative, avoids the
/// cancellation in 1 − 2/(e^2x+1) near 0), else sign(x)·(1 − 2/(e^2|x|+1)).
@inline(__always) func vtanh(_ x: VecF) -> VecF {
    let ax = x.replacing(with: -x, where: x .< 0)
    let big = 1 - 2 / (vexp(2 * ax) + 1)
    let bigSigned = big.replacing(with: -big, where: x .< 0)
    let x2 = x * x
    var p = VecF(repeating: -929_569.0 / 638_512_875.0)
    p = vfma(p, x2, VecF(repeating: 21_844.0 / 6_081_075.0))
    p = vfma(p, x2, VecF(repeating: -1_382.0 / 155_925.0))
    p = vfma(p, x2, VecF(repeating: 62.0 / 2_835.0))
    p = vfma(p, x2, VecF(repeating: -17.0 / 315.0))
    p = vfma(p, x2, VecF(repeating: 2.0 / 15.0))
    p = vfma(p, x2, VecF(repeating: -1.0 / 3.0))
    let small = vfma(p * x2, x, x)
    let r = bigSigned.replacing(with: small, where: ax .< 0.5)
    return r.replacing(with: x, where: .!(x .== x))
}

/// Applies an activation to one vector. NaN propagates through every branch (comparisons with NaN
/// are false, so `replacing` keeps the NaN lane).
@inline(__always) func vactivate(_ x: VecF, _ code: Int, _ p0: Float, _ p1: Float) -> VecF {
    switch code {
    case ActivationCode.relu:
        return x.replacing(with: 0, where: x .< 0)
    case ActivationCode.clip:
        return x.replacing(with: p0, where: x .< p0).replacing(with: p1, where: x .> p1)
    case ActivationCode.leakyRelu:
        return x.replacing(with: x * p0, where: x .< 0)
    case ActivationCode.sigmoid:
        return vsigmoid(x)
    case ActivationCode.hardSigmoid:
        let y = vfma(x, VecF(repeating: p0), VecF(repeating: p1))
        return y.replacing(with: 0, where: y .< 0).replacing(with: 1, where: y .> 1)
    case ActivationCode.hardSwish:
        let y = vfma(x, VecF(repeating: 1.0 / 6.0), VecF(repeating: 0.5))
        return x * y.replacing(with: 0, where: y .< 0).replacing(with: 1, where: y .> 1)
    case ActivationCode.silu:
        return x * vsigmoid(x)
    case ActivationCode.tanh:
        return vtanh(x)
    case ActivationCode.gelu:
        // Exact (erf) GELU, as ONNX Gelu with approximate="none": 0.5·x·(1 + erf(x/√2)).
        var y = x
        for i in 0..<VecF.scalarCount { y[i] = 0.5 * x[i] * (1 + erf(x[i] * 0.707_106_781_186_547_5)) }
        return y
    default:
        return x
    }
}

/// c[j] = act(c[j] + rowBias + colBias[j]) for j in 0..<n.
@inline(__always) func epilogueRowImpl(_ c: UnsafeMutablePointer<Float>, _ n: Int, _ rowBias: Float,
                                       _ colBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
    withUnsafePointer(to: rowBias) { rb in
        epilogueBlockImpl(c, 0, 1, n, code == ActivationCode.none && rowBias == 0 ? nil : rb, true, colBias, code, p0, p1)
    }
}

/// For an rows × cols block of C (row stride ldc): c[i][j] = act(c[i][j] + rowBias[i] + colBias[j] + z[i][j]).
/// `rowBias` nil = none; `rowBiasScalar` means rowBias points at one value for every row; `residual`
/// (row stride `ldz`) nil = none. Bias first, then the residual, then the activation: the order of
/// Conv(+bias) → Add(skip) → act, so the fused result equals the separate nodes'. The activation
/// switch is resolved once per block, and each case is a specialised, inlined loop.
@inline(__always) func epilogueBlockImpl(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ rows: Int, _ cols: Int,
                                         _ rowBias: UnsafePointer<Float>?, _ rowBiasScalar: Bool,
                                         _ colBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float,
                                         _ residual: UnsafePointer<Float>? = nil, _ ldz: Int = 0) {
    if code == ActivationCode.none && rowBias == nil && colBias == nil && residual == nil { return }
    switch code {
    case ActivationCode.none: blockApply(c, ldc, rows, cols, rowBias, rowBiasScalar, colBias, residual, ldz) { $0 }
    case ActivationCode.relu: blockApply(c, ldc, rows, cols, rowBias, rowBiasScalar, colBias, residual, ldz) { $0.replacing(with: 0, where: $0 .< 0) }
    case ActivationCode.clip:
        blockApply(c, ldc, rows, cols, rowBias, rowBiasScalar, colBias, residual, ldz) { $0.replacing(with: p0, where: $0 .< p0).replacing(with: p1, where: $0 .> p1) }
    case ActivationCode.leakyRelu:
        blockApply(c, ldc, rows, cols, rowBias, rowBiasScalar, colBias, residual, ldz) { $0.replacing(with: $0 * p0, where: $0 .< 0) }
    default:
        blockApply(c, ldc, rows, cols, rowBias, rowBiasScalar, colBias, residual, ldz) { vactivate($0, code, p0, p1) }
    }
}

@inline(__always) func blockApply(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ rows: Int, _ cols: Int,
                                  _ rowBias: UnsafePointer<Float>?, _ rowBiasScalar: Bool,
                                  _ colBias: UnsafePointer<Float>?, _ residual: UnsafePointer<Float>?, _ ldz: Int,
                                  _ f: (VecF) -> VecF) {
    let w = VecF.scalarCount
    for i in 0..<rows {
        let row = c + i * ldc
        let z = residual.map { $0 + i * ldz }
        let rbv: Float = rowBias.map { rowBiasScalar ? $0[0] : $0[i] } ?? 0
        let rb = VecF(repeating: rbv)
        var j = 0
        while j + w <= cols {
            let raw = UnsafeMutableRawPointer(row + j)
            var v = raw.loadUnaligned(as: VecF.self) + rb
            if let cb = colBias { v += UnsafeRawPointer(cb + j).loadUnaligned(as: VecF.self) }
            if let z { v += UnsafeRawPointer(z + j).loadUnaligned(as: VecF.self) }
            raw.storeBytes(of: f(v), as: VecF.self)
            j += w
        }
        if j < cols {
            var v = VecF(repeating: 0)
            for t in 0..<(cols - j) { v[t] = row[j + t] + rbv + (colBias?[j + t] ?? 0) + (z?[j + t] ?? 0) }
            v = f(v)
            for t in 0..<(cols - j) { row[j + t] = v[t] }
        }
    }
}

/// dst[0..<n] = src[0..<n] with inline 8-float vector moves (the short, frequent copies of packing
/// and of the conv kernels would otherwise each pay a memmove call). A tail of 1–7 floats after at
/// least one full vector is one more vector ending at n, overlapping what was already copied (same
/// values), instead of element by element: im2col rows of a padded conv end in such tails on every
/// output row. (Compiled into EdgeKernels and into each ISA target.)
@inline(__always) func copyFloats(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
    @inline(__always) func copy8(_ i: Int) {
        UnsafeMutableRawPointer(dst + i).storeBytes(of: UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
    }
    if n < 8 {
        var i = 0
        while i < n { dst[i] = src[i]; i &+= 1 }
        return
    }
    var i = 0
    while i &+ 8 <= n { copy8(i); i &+= 8 }
    if i < n { copy8(n &- 8) }
}

// MARK: - FP16 / BF16 conversion

/// Float → IEEE binary16, round-to-nearest-even (F16C vcvtps2ph where the target has it).
@inline(__always) func floatToHalfImpl(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, _ n: Int) {
    var i = 0
    while i + 16 <= n {
        let v = UnsafeRawPointer(src + i).loadUnaligned(as: VecF.self)
        let h = SIMD16<Float16>(v)
        UnsafeMutableRawPointer(dst + i).storeBytes(of: h, as: SIMD16<Float16>.self)
        i += 16
    }
    while i < n { dst[i] = Float16(src[i]).bitPattern; i += 1 }
}

@inline(__always) func halfToFloatImpl(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    while i + 16 <= n {
        let h = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<Float16>.self)
        UnsafeMutableRawPointer(dst + i).storeBytes(of: VecF(h), as: VecF.self)
        i += 16
    }
    while i < n { dst[i] = Float(Float16(bitPattern: src[i])); i += 1 }
}

/// Float → bfloat16, round-to-nearest-even on the upper 16 bits; NaN stays a (quiet) NaN.
@inline(__always) func floatToBFloat16Impl(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, _ n: Int) {
    var i = 0
    while i + 16 <= n {
        let u = UnsafeRawPointer(src + i).loadUnaligned(as: VecU.self)
        let rounded = (u &+ 0x7FFF &+ ((u &>> 16) & 1)) &>> 16
        let isNaN = (u & 0x7FFF_FFFF) .> 0x7F80_0000
        let r = rounded.replacing(with: (u &>> 16) | 0x40, where: isNaN)
        UnsafeMutableRawPointer(dst + i).storeBytes(of: SIMD16<UInt16>(truncatingIfNeeded: r), as: SIMD16<UInt16>.self)
        i += 16
    }
    while i < n {
        let u = src[i].bitPattern
        if (u & 0x7FFF_FFFF) > 0x7F80_0000 { dst[i] = UInt16(u >> 16) | 0x40 }
        else { dst[i] = UInt16(truncatingIfNeeded: (u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16) }
        i += 1
    }
}

@inline(__always) func bfloat16ToFloatImpl(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    while i + 16 <= n {
        let h = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<UInt16>.self)
        UnsafeMutableRawPointer(dst + i).storeBytes(of: VecU(truncatingIfNeeded: h) &<< 16, as: VecU.self)
        i += 16
    }
    while i < n { dst[i] = Float(bitPattern: UInt32(src[i]) << 16); i += 1 }
}
