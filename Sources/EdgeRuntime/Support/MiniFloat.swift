/// 8-bit and 4-bit float formats (ONNX float8e4m3fn, float8e4m3fnuz, float8e5m2, float8e5m2fnuz,
/// float4e2m1, float8e8m0): encode with round-to-nearest-even and the saturation rules of ONNX
/// Cast, decode exactly.
struct MiniFloatFormat: Sendable {
    let exponentBits: Int
    let mantissaBits: Int
    let bias: Int
    /// IEEE-style infinities (only e5m2).
    let hasInfinity: Bool
    /// "fnuz": no negative zero, the single NaN is 0x80.
    let fnuz: Bool
    /// Has a NaN encoding at all (float4e2m1 has none).
    let hasNaN: Bool

    static let e4m3fn = MiniFloatFormat(exponentBits: 4, mantissaBits: 3, bias: 7, hasInfinity: false, fnuz: false, hasNaN: true)
    static let e4m3fnuz = MiniFloatFormat(exponentBits: 4, mantissaBits: 3, bias: 8, hasInfinity: false, fnuz: true, hasNaN: true)
    static let e5m2 = MiniFloatFormat(exponentBits: 5, mantissaBits: 2, bias: 15, hasInfinity: true, fnuz: false, hasNaN: true)
    static let e5m2fnuz = MiniFloatFormat(exponentBits: 5, mantissaBits: 2, bias: 16, hasInfinity: false, fnuz: true, hasNaN: true)
    static let e2m1 = MiniFloatFormat(exponentBits: 2, mantissaBits: 1, bias: 1, hasInfinity: false, fnuz: false, hasNaN: false)

    var signBit: UInt8 { UInt8(1 << (exponentBits + mantissaBits)) }
    var maxExponentField: Int { (1 << exponentBits) - 1 }

    /// Bits of the largest finite magnitude.
    var maxFiniteBits: UInt8 {
        if hasInfinity { return UInt8(((maxExponentField - 1) << mantissaBits) | ((1 << mantissaBits) - 1)) }
        if fnuz || !hasNaN { return UInt8((maxExponentField << mantissaBits) | ((1 << mantissaBits) - 1)) }
        // e4m3fn: S.1111.111 is NaN, so the largest is S.1111.110.
        return UInt8((maxExponentField << mantissaBits) | ((1 << mantissaBits) - 2))
    }

    var nanBits: UInt8 {
        if fnuz { return 0x80 }
        if hasInfinity { return UInt8((maxExponentField << mantissaBits) | (1 << (mantissaBits - 1))) }
        return UInt8((maxExponentField << mantissaBits) | ((1 << mantissaBits) - 1))
    }

    func decode(_ bits: UInt8) -> Float {
        let sign: Float = bits & signBit != 0 ? -1 : 1
        let magnitude = bits & (signBit - 1)
        if hasNaN {
            if fnuz && bits == 0x80 { return .nan }
            if !fnuz && magnitude == nanBits & (signBit - 1) && !hasInfinity { return .nan }
        }
        let e = Int(magnitude) >> mantissaBits
        let m = Int(magnitude) & ((1 << mantissaBits) - 1)
        if hasInfinity && e == maxExponentField {
            return m == 0 ? sign * .infinity : .nan
        }
        if e == 0 {
            return sign * Float(m) * Float(sign: .plus, exponent: 1 - bias - mantissaBits, significand: 1)
        }
        return sign * (1 + Float(m) / Float(1 << mantissaBits)) * Float(sign: .plus, exponent: e - bias, significand: 1)
    }

    func encode(_ x: Float, saturate: Bool) -> UInt8 {
        if x.isNaN { return hasNaN ? nanBits : maxFiniteBits }
        let negative = x.sign == .minus
        let signBits: UInt8 = negative ? signBit : 0
        let maxFinite = decode(maxFiniteBits)
        if x.isInfinite {
            if saturate || !hasNaN {
                if fnuz && hasNaN && !saturate { return nanBits }
                return signBits | maxFiniteBits
            }
            if hasInfinity { return signBits | UInt8(maxExponentField << mantissaBits) }
            return fnuz ? nanBits : signBits | nanBits
        }
        let a = Double(abs(x))
        // Round to nearest even on the grid of representable magnitudes.
        let minNormalExponent = 1 - bias
        var e: Int
        var m: Int
        if a < Double(sign: .plus, exponent: minNormalExponent, significand: 1) {
            let scaled = a / Double(sign: .plus, exponent: minNormalExponent - mantissaBits, significand: 1)
            m = Int(scaled.rounded(.toNearestOrEven))
            e = 0
            if m >= (1 << mantissaBits) { e = 1; m -= 1 << mantissaBits }
        } else {
            e = Int(a.exponent)
            let frac = a / Double(sign: .plus, exponent: e, significand: 1) - 1
            m = Int((frac * Double(1 << mantissaBits)).rounded(.toNearestOrEven))
            if m == (1 << mantissaBits) { m = 0; e += 1 }
            e += bias
        }
        let value = e == 0 ? Double(m) * Double(sign: .plus, exponent: minNormalExponent - mantissaBits, significand: 1)
            : (1 + Double(m) / Double(1 << mantissaBits)) * Double(sign: .plus, exponent: e - bias, significand: 1)
        if value > Double(maxFinite) || e > maxExponentField {
            if saturate || !hasNaN { return signBits | maxFiniteBits }
            if hasInfinity { return signBits | UInt8(maxExponentField << mantissaBits) }
            return fnuz ? nanBits : signBits | nanBits
        }
        let bits = UInt8((e << mantissaBits) | m)
        if fnuz && bits == 0 { return 0 }  // no negative zero
        return signBits | bits
    }
}

/// float8e8m0: an 8-bit power of two 2^(e-127); 0xFF is NaN; no zero, no sign.
enum E8M0 {
    static func decode(_ bits: UInt8) -> Float {
        bits == 0xFF ? .nan : Float(sign: .plus, exponent: Int(bits) - 127, significand: 1)
    }

    /// `roundMode` "up" (default), "down" or "nearest", on the float32 bit pattern exactly as
    /// ONNX's reference (`numpy_helper.to_float8e8m0`) does.
    static func encode(_ x: Float, saturate: Bool, roundMode: String) -> UInt8 {
        let b = x.bitPattern
        var exponent = Int((b >> 23) & 0xFF)
        if exponent == 0xFF { return 0xFF }
        var roundUp = false
        switch roundMode {
        case "nearest":
            let g = b & 0x400000 != 0, r = b & 0x200000 != 0, s = b & 0x1FFFFF != 0
            roundUp = g && (r || s || exponent > 0)
        case "up":
            roundUp = b & 0x7FFFFF != 0
        default:
            break
        }
        if roundUp && !(saturate && exponent == 0xFE) { exponent += 1 }
        return UInt8(truncatingIfNeeded: exponent)
    }
}
