import EdgeIR
import EdgeKernels

/// QuantizeLinear, DequantizeLinear (opset 10 onward: per tensor; per axis from 13; blocked,
/// `output_dtype` from 21; `precision` from 23) and DynamicQuantizeLinear.
///
/// QuantizeLinear, integer targets (int8/uint8/int16/uint16/int4/uint4/int2/uint2):
///   y = saturate(roundHalfEven(x / y_scale) + y_zero_point)
/// with the division done in the type NumPy's reference divides in (float32 for float32 inputs,
/// float16 for float16 x and scale, the `precision` type when given). NaN quantizes to 0 clamped
/// into range (ONNX leaves it undefined). float8 targets: x / y_scale encoded round-to-nearest-even,
/// overflow saturating to ±max when `saturate` = 1, else to Inf/NaN as ONNX Cast does; the zero
/// point of a float8 type must be 0 and is not added. float4e2m1: x / y_scale + zero point, encoded
/// saturating (the type has no Inf/NaN).
///
/// DequantizeLinear: y = (x − x_zero_point) · x_scale, computed exactly in double (every product
/// of a ≤ 32-bit integer difference and a float32 scale is exact there) and rounded once to
/// float32, then to the output type (`output_dtype`, else the scale's type) — bit-identical to
/// the float32 arithmetic of the reference and ONNX Runtime.
enum QuantizationOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("QuantizeLinear", versions: 10...OperatorRegistry.latestOpset) { b in try QuantizeLinearKernel(b) },
        OperatorSpec("DequantizeLinear", versions: 10...OperatorRegistry.latestOpset) { b in try DequantizeLinearKernel(b) },
        OperatorSpec("DynamicQuantizeLinear", versions: 11...OperatorRegistry.latestOpset) { _ in
            ClosureKernel { i, c in try DynamicQuantizeLinear.run(i.required(0, c), c) }
        },
    ]
}

final class QuantizeLinearKernel: TensorKernel {
    let axis: Int
    let blockSize: Int
    let saturate: Bool
    let outputDType: DType?
    let precision: DType?

    init(_ b: KernelBuildContext) throws {
        axis = b.int("axis", 1)
        blockSize = b.int("block_size", 0)
        saturate = b.int("saturate", 1) != 0
        if let raw = b.int("output_dtype"), raw != 0 {
            guard let t = DType(rawValue: raw) else { throw b.error("output_dtype \(raw) is not an element type") }
            outputDType = t
        } else {
            outputDType = nil
        }
        if let raw = b.int("precision"), raw != 0 {
            guard let t = DType(rawValue: raw), t.isFloatingPoint else { throw b.error("precision \(raw) is not a float type") }
            precision = t
        } else {
            precision = nil
        }
        guard blockSize >= 0 else { throw b.error("block_size must not be negative") }
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let x = try i.required(0, c), scale = try i.required(1, c)
        let zeroPoint = i.optional(2)
        var target = outputDType ?? .uint8
        if let zeroPoint {
            if let outputDType, outputDType != zeroPoint.dtype {
                throw EdgeError.badInput("\(c.nodeDescription): output_dtype \(outputDType) differs from the zero point's type \(zeroPoint.dtype)")
            }
            target = zeroPoint.dtype
        }
        let layout = try QuantParamLayout(x: x.shape, param: scale.shape, axis: axis, blockSize: blockSize, c.nodeDescription)
        if let zeroPoint, zeroPoint.shape != scale.shape, !(zeroPoint.elementCount == 1 && scale.elementCount == 1) {
            throw EdgeError.badInput("\(c.nodeDescription): zero point shape \(zeroPoint.shape) differs from scale shape \(scale.shape)")
        }
        guard x.dtype.isFloatingPoint || x.dtype == .int32 else {
            throw EdgeError.badInput("\(c.nodeDescription): input type \(x.dtype) cannot be quantized")
        }
        guard scale.dtype.isFloatingPoint || scale.dtype == .int32 else {
            throw EdgeError.badInput("\(c.nodeDescription): scale type \(scale.dtype) is not a float type")
        }

        // The quotient, rounded to the type the reference divides in.
        let sv = scale.floatArray()
        let fast = (target == .uint8 || target == .int8) && x.dtype == .float && scale.dtype == .float && precision == nil
            && QuantTypes.integerRange(target) != nil
        // The fast path below reads x in place; the others take a copy as floats.
        let xv = fast && layout.kind != .blocked ? [] : x.dtype == .float ? x.scalars(as: Float.self) : x.floatArray()
        let divide = QuantizeLinearKernel.divider(x: x.dtype, scale: scale.dtype, precision: precision)
        let n = x.elementCount

        if let range = QuantTypes.integerRange(target) {
            let zp = try zeroPoint.map { try QuantTypes.int32Values($0, c.nodeDescription) } ?? [0]
            let lo = Double(range.lo), hi = Double(range.hi)
            let zpAt: (Int) -> Double = zp.count == 1 ? { _ in Double(zp[0]) } : { Double(zp[$0]) }
            if fast && layout.kind != .blocked {
                // Hot path for QDQ graphs: float32 → 8-bit per tensor or per axis, x viewed as
                // (outer·dim) rows of `inner` elements (EdgeKernels/QuantizeKernels.swift).
                let out = try c.allocate(target, x.shape)
                if n == 0 { return [out] }
                let zp32 = zp.count == 1 ? [Int32](repeating: zp[0], count: sv.count) : zp
                sv.withUnsafeBufferPointer { sp in
                    zp32.withUnsafeBufferPointer { zpp in
                        Kernels.quantizeLinear(x.pointer(Float.self), rows: layout.outer * layout.dim, cols: layout.inner,
                                               scales: sp.baseAddress!, zeroPoints: zpp.baseAddress!, params: layout.dim,
                                               signed: target == .int8, dst: out.mutableRawPointer, pool: c.kernelPool)
                    }
                }
                return [out]
            }
            if target == .uint8 || target == .int8, x.dtype == .float, scale.dtype == .float, precision == nil {
                // Blocked float32 → 8-bit.
                let out = try c.allocate(target, x.shape)
                let raw = out.mutableRawPointer
                let signed = target == .int8
                layout.forEach { e, p in
                    let q = Double((xv[e] / sv[p]).rounded(.toNearestOrEven))
                    let v = q.isNaN ? Swift.min(Swift.max(0, lo), hi) : Swift.min(Swift.max(q + zpAt(p), lo), hi)
                    if signed { raw.storeBytes(of: Int8(v), toByteOffset: e, as: Int8.self) }
                    else { raw.storeBytes(of: UInt8(v), toByteOffset: e, as: UInt8.self) }
                }
                return [out]
            }
            var values = [Int32](repeating: 0, count: n)
            layout.forEach { e, p in
                let q = Double(divide(xv[e], sv[p]).rounded(.toNearestOrEven))
                let v = q.isNaN ? Swift.min(Swift.max(0, lo), hi) : Swift.min(Swift.max(q + zpAt(p), lo), hi)
                values[e] = Int32(v)
            }
            return [try QuantTypes.store(values, as: target, shape: x.shape, c)]
        }
        if QuantTypes.isFloat8(target) {
            if let zeroPoint, let z = QuantTypes.miniFloatValues(zeroPoint), z.contains(where: { $0 != 0 }) {
                throw EdgeError.badInput("\(c.nodeDescription): the zero point of a \(target) quantization must be 0")
            }
            let format = CastOperators.miniFormat(target)!
            let out = try c.allocate(target, x.shape)
            let o = out.mutablePointer(UInt8.self)
            layout.forEach { e, p in o[e] = format.encode(divide(xv[e], sv[p]), saturate: saturate) }
            return [out]
        }
        if target == .float4e2m1 {
            let zp = zeroPoint.flatMap(QuantTypes.miniFloatValues) ?? [0]
            var bytes = [UInt8](repeating: 0, count: n)
            layout.forEach { e, p in
                let v = divide(xv[e], sv[p]) + zp[zp.count == 1 ? 0 : p]
                bytes[e] = v.isNaN ? 0x8 : MiniFloatFormat.e2m1.encode(v, saturate: true)
            }
            return [Tensor(shape: x.shape, scalars: bytes).packedSubByte(.float4e2m1)]
        }
        throw EdgeError.badInput("\(c.nodeDescription): \(target) is not a quantized type")
    }

    /// x / scale rounded like NumPy: float16 ÷ float16 is a float16 result (computed in float32 and
    /// rounded), bfloat16 likewise, int32 ÷ float in double, everything else in float32; with
    /// `precision` both operands and the quotient are rounded to that type.
    static func divider(x: DType, scale: DType, precision: DType?) -> (Float, Float) -> Float {
        let round: (Float) -> Float
        switch precision ?? (x == scale ? x : .float) {
        case .float16: round = { Float(Float16($0)) }
        case .bfloat16: round = { BFloat16($0).float }
        default: round = { $0 }
        }
        if precision != nil { return { a, b in round(round(a) / round(b)) } }
        if x == .int32 { return { a, b in Float(Double(a) / Double(b)) } }
        return { a, b in round(a / b) }
    }
}

final class DequantizeLinearKernel: TensorKernel {
    let axis: Int
    let blockSize: Int
    let outputDType: DType?

    init(_ b: KernelBuildContext) throws {
        axis = b.int("axis", 1)
        blockSize = b.int("block_size", 0)
        guard blockSize >= 0 else { throw b.error("block_size must not be negative") }
        if let raw = b.int("output_dtype"), raw != 0 {
            guard let t = DType(rawValue: raw), t.isFloatingPoint else { throw b.error("output_dtype \(raw) is not a float type") }
            outputDType = t
        } else {
            outputDType = nil
        }
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let x = try i.required(0, c), scale = try i.required(1, c)
        let zeroPoint = i.optional(2)
        let target = outputDType ?? scale.dtype
        guard target == .float || target == .float16 || target == .bfloat16 || target == .double else {
            throw EdgeError.badInput("\(c.nodeDescription): output type \(target) is not a float type")
        }
        let layout = try QuantParamLayout(x: x.shape, param: scale.shape, axis: axis, blockSize: blockSize, c.nodeDescription)
        if let zeroPoint, zeroPoint.shape != scale.shape, !(zeroPoint.elementCount == 1 && scale.elementCount == 1) {
            throw EdgeError.badInput("\(c.nodeDescription): zero point shape \(zeroPoint.shape) differs from scale shape \(scale.shape)")
        }
        let sv = scale.floatArray().map(Double.init)
        let n = x.elementCount
        var y = [Float](repeating: 0, count: n)
        if let mini = QuantTypes.miniFloatValues(x) {
            // float8 / float4: the zero point must be 0 and is not applied.
            layout.forEach { e, p in y[e] = Float(Double(mini[e]) * sv[p]) }
        } else {
            if let zeroPoint, zeroPoint.dtype != x.dtype {
                throw EdgeError.badInput("\(c.nodeDescription): zero point type \(zeroPoint.dtype) differs from input type \(x.dtype)")
            }
            let zp = try zeroPoint.map { try QuantTypes.int32Values($0, c.nodeDescription) } ?? [0]
            let single = zp.count == 1
            if (x.dtype == .uint8 || x.dtype == .int8) && target == .float && layout.kind != .blocked && scale.dtype == .float {
                // Hot path: 8-bit → float32 per tensor or per axis, into the output directly
                // (EdgeKernels/QuantizeKernels.swift; the float32 product equals the Double one
                // rounded once).
                let out = try c.allocate(.float, x.shape)
                if n == 0 { return [out] }
                let scales = scale.scalars(as: Float.self)
                let zp32 = single ? [Int32](repeating: zp[0], count: scales.count) : zp
                scales.withUnsafeBufferPointer { sp in
                    zp32.withUnsafeBufferPointer { zpp in
                        Kernels.dequantizeLinear(x.rawPointer, signed: x.dtype == .int8, rows: layout.outer * layout.dim, cols: layout.inner,
                                                 scales: sp.baseAddress!, zeroPoints: zpp.baseAddress!, params: layout.dim,
                                                 dst: out.mutablePointer(Float.self), pool: c.kernelPool)
                    }
                }
                return [out]
            }
            if x.dtype == .uint8 || x.dtype == .int8 {
                // 8-bit input, read in place.
                let raw = x.rawPointer
                let signed = x.dtype == .int8
                layout.forEach { e, p in
                    let q = signed ? Int32(raw.load(fromByteOffset: e, as: Int8.self)) : Int32(raw.load(fromByteOffset: e, as: UInt8.self))
                    y[e] = Float(Double(q - zp[single ? 0 : p]) * sv[p])
                }
            } else {
                let xv = try QuantTypes.int32Values(x, c.nodeDescription)
                layout.forEach { e, p in y[e] = Float((Double(xv[e]) - Double(zp[single ? 0 : p])) * sv[p]) }
            }
        }
        let out = try c.allocate(target, x.shape)
        switch target {
        case .float:
            if n > 0 { y.withUnsafeBufferPointer { out.mutablePointer(Float.self).update(from: $0.baseAddress!, count: n) } }
        case .float16:
            let o = out.mutablePointer(Float16.self)
            for k in 0..<n { o[k] = Float16(y[k]) }
        case .bfloat16:
            let o = out.mutablePointer(BFloat16.self)
            for k in 0..<n { o[k] = BFloat16(y[k]) }
        default:
            let o = out.mutablePointer(Double.self)
            for k in 0..<n { o[k] = Double(y[k]) }
        }
        return [out]
    }
}

/// DynamicQuantizeLinear (uint8), the spec's formula step by step in float32:
///   x_min = min(0, min(x)), x_max = max(0, max(x))
///   y_scale = (x_max − x_min) / 255   (1/255 when x_max = x_min, as the reference does)
///   y_zero_point = roundHalfEven(clamp(0 − x_min / y_scale, 0, 255))
///   y = saturate(roundHalfEven(x / y_scale) + y_zero_point)
enum DynamicQuantizeLinear {
    static func run(_ x: Tensor, _ c: ExecutionContext) throws -> [Tensor] {
        guard x.dtype == .float || x.dtype == .float16 || x.dtype == .bfloat16 else {
            throw EdgeError.badInput("\(c.nodeDescription): input type \(x.dtype) is not a float type")
        }
        let xv = x.dtype == .float ? x.scalars(as: Float.self) : x.floatArray()
        var lo: Float = 0, hi: Float = 0
        for v in xv {
            if v < lo { lo = v }
            if v > hi { hi = v }
        }
        let scale: Float = (hi == lo ? 1 : hi - lo) / 255
        let initialZeroPoint: Float = 0 - lo / scale
        let zp = Swift.min(Swift.max(initialZeroPoint, 0), 255).rounded(.toNearestOrEven)
        let y = try c.allocate(.uint8, x.shape)
        let o = y.mutablePointer(UInt8.self)
        for k in 0..<xv.count {
            let q = (xv[k] / scale).rounded(.toNearestOrEven) + zp
            o[k] = q.isNaN ? UInt8(zp) : UInt8(Swift.min(Swift.max(q, 0), 255))
        }
        let scaleTensor: Tensor
        switch x.dtype {
        case .float16: scaleTensor = Tensor.scalar(Float16(scale))
        case .bfloat16: scaleTensor = Tensor(shape: [], scalars: [BFloat16(scale)])
        default: scaleTensor = Tensor.scalar(scale)
        }
        return [y, scaleTensor, Tensor.scalar(UInt8(zp))]
    }
}
