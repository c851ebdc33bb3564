import EdgeIR
import Foundation

/// Resize (opset 10+): nearest / linear / cubic, every coordinate_transformation_mode, antialias,
/// axes, keep_aspect_ratio_policy, exclude_outside and tf_crop_and_resize extrapolation.
/// Interpolation is separable: each resized axis (in increasing order) is a 1-D pass whose taps
/// and weights are computed once per output coordinate, exactly as ONNX's reference defines them
/// (neighbours from the edge-padded line, weights in double, result saturated to the type).
enum ResizeOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("Resize", versions: 10...OperatorRegistry.latestOpset) { b in try ResizeKernel(b) },
    ]
}

final class ResizeKernel: TensorKernel {
    let mode: String
    let transform: String
    let nearestMode: String
    let cubicA: Double
    let excludeOutside: Bool
    let extrapolation: Double
    let antialias: Bool
    let axesAttr: [Int]?
    let aspectPolicy: String
    let legacy: Bool

    init(_ b: KernelBuildContext) throws {
        mode = b.string("mode", "nearest")
        guard ["nearest", "linear", "cubic"].contains(mode) else { throw b.error("unknown mode '\(mode)'") }
        legacy = b.opset < 11
        transform = b.string("coordinate_transformation_mode", legacy ? "asymmetric" : "half_pixel")
        nearestMode = b.string("nearest_mode", legacy ? "floor" : "round_prefer_floor")
        cubicA = Double(b.float("cubic_coeff_a", -0.75))
        excludeOutside = b.int("exclude_outside", 0) != 0
        extrapolation = Double(b.float("extrapolation_value", 0))
        antialias = b.int("antialias", 0) != 0
        axesAttr = b.ints("axes")
        aspectPolicy = b.string("keep_aspect_ratio_policy", "stretch")
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let x = try i.required(0, c)
        let rank = x.rank
        let roiTensor = legacy ? nil : i.optional(1)
        let scalesTensor = legacy ? i.optional(1) : i.optional(2)
        let sizesTensor = legacy ? nil : i.optional(3)
        let axes = try (axesAttr ?? Array(0..<rank)).map { try Shapes.axis($0, rank: rank, c.nodeDescription) }
        var scales = [Double](repeating: 1, count: rank)
        var output = x.shape
        var roi: [Double]? = nil
        if let r = roiTensor, r.elementCount > 0 {
            let v = try CastOperators.readFloatsOrInts(r, c)
            guard v.count == 2 * axes.count else { throw EdgeError.badInput("\(c.nodeDescription): roi needs \(2 * axes.count) values") }
            var full = [Double](repeating: 0, count: rank) + [Double](repeating: 1, count: rank)
            for (k, a) in axes.enumerated() { full[a] = v[k]; full[rank + a] = v[axes.count + k] }
            roi = full
        }
        if let s = sizesTensor, s.elementCount > 0 {
            let sizes = try ShapeOperators.intValues(s, c, "sizes")
            guard sizes.count == axes.count else { throw EdgeError.badInput("\(c.nodeDescription): sizes needs \(axes.count) values") }
            for (k, a) in axes.enumerated() { output[a] = sizes[k]; scales[a] = Double(sizes[k]) / Double(x.shape[a]) }
            if aspectPolicy != "stretch" {
                let chosen = axes.map { scales[$0] }
                let scale = aspectPolicy == "not_larger" ? chosen.min()! : chosen.max()!
                for a in axes { scales[a] = scale; output[a] = Int(scale * Double(x.shape[a]) + 0.5) }
            }
        } else if let s = scalesTensor, s.elementCount > 0 {
            let v = try CastOperators.readFloatsOrInts(s, c)
            guard v.count == axes.count, v.allSatisfy({ $0 > 0 }) else { throw EdgeError.badInput("\(c.nodeDescription): scales must be \(axes.count) positive values") }
            for (k, a) in axes.enumerated() { scales[a] = v[k]; output[a] = Int((v[k] * Double(x.shape[a])).rounded(.down)) }
        } else {
            throw EdgeError.badInput("\(c.nodeDescription): give scales or sizes")
        }
        guard output.allSatisfy({ $0 >= 0 }), Shapes.product(output) <= ExecutionContext.maxElements else {
            throw EdgeError.badInput("\(c.nodeDescription): output shape \(output) is invalid")
        }
        var data = try CastOperators.readFloatsOrInts(x, c)
        var shape = x.shape
        for a in axes.sorted() {
            let identity = Swift.abs(scales[a] - 1) < 1e-9 && output[a] == shape[a]
                && (roi == nil || (Swift.abs(roi![a]) < 1e-9 && Swift.abs(roi![a + rank] - 1) < 1e-9))
            if identity { continue }
            (data, shape) = pass(data, shape, axis: a, scale: scales[a], outWidth: output[a],
                                 roi: roi.map { [$0[a], $0[a + rank]] })
        }
        if x.dtype.isInteger {
            // Saturating cast: round half to even, clip to the type's range.
            let out = try c.allocate(x.dtype, shape)
            try CastOperators.storeDoubles(data.map { $0.rounded(.toNearestOrEven) }, into: out, c)
            return [out]
        }
        let out = try c.allocate(x.dtype, shape)
        try CastOperators.storeDoubles(data, into: out, c)
        return [out]
    }

    /// One separable 1-D resize along `axis`.
    func pass(_ data: [Double], _ shape: [Int], axis: Int, scale: Double, outWidth: Int, roi: [Double]?) -> ([Double], [Int]) {
        let inWidth = shape[axis]
        let outer = Shapes.product(shape[..<axis]), inner = Shapes.product(shape[(axis + 1)...])
        var newShape = shape
        newShape[axis] = outWidth
        var result = [Double](repeating: 0, count: outer * outWidth * inner)
        guard outWidth > 0, inWidth > 0 else { return (result, newShape) }
        let outputWidth = scale * Double(inWidth)
        var taps: [[(index: Int, weight: Double)]] = []
        var extrapolated = [Bool](repeating: false, count: outWidth)
        for y in 0..<outWidth {
            let yd = Double(y)
            var xo: Double
            switch transform {
            case "align_corners": xo = outputWidth == 1 ? 0 : yd * Double(inWidth - 1) / (outputWidth - 1)
            case "asymmetric": xo = yd / scale
            case "tf_crop_and_resize":
                let r = roi ?? [0, 1]
                xo = outputWidth == 1 ? (r[1] - r[0]) * Double(inWidth - 1) / 2 : yd * (r[1] - r[0]) * Double(inWidth - 1) / (outputWidth - 1)
                xo += r[0] * Double(inWidth - 1)
                extrapolated[y] = xo < 0 || xo > Double(inWidth - 1)
            case "pytorch_half_pixel": xo = outputWidth == 1 ? -0.5 : (yd + 0.5) / scale - 0.5
            case "half_pixel_symmetric":
                let adjustment = Double(outWidth) / outputWidth
                let center = Double(inWidth) / 2
                xo = center * (1 - adjustment) + (yd + 0.5) / scale - 0.5
            default: xo = (yd + 0.5) / scale - 0.5  // half_pixel
            }
            let floorX = xo.rounded(.down)
            let ratio = xo == floorX ? 1.0 : xo - floorX
            var coeffs = coefficients(ratio, scale)
            let n = coeffs.count
            let pad = (n + 1) / 2
            let xp = xo + Double(pad)
            let p = Int(xp.rounded(.down))
            let frac = xp - Double(p)
            let offset: Int
            if n % 2 == 0 { offset = frac == 0 ? -(n / 2) : -(n / 2) + 1 } else {
                let base = -((n - 1) / 2)
                offset = frac <= 0.5 ? base : base + 1
            }
            let start = p + offset - pad
            if excludeOutside {
                for k in 0..<n where start + k < 0 || start + k >= inWidth { coeffs[k] = 0 }
                var sum = coeffs.reduce(0, +)
                if sum == 0 { sum = 1 }
                coeffs = coeffs.map { $0 / sum }
            }
            taps.append((0..<n).map { k in (Swift.min(Swift.max(start + k, 0), inWidth - 1), coeffs[k]) })
        }
        for o in 0..<outer {
            for y in 0..<outWidth {
                let dst = (o * outWidth + y) * inner
                if extrapolated[y] {
                    for r in 0..<inner { result[dst + r] = extrapolation }
                    continue
                }
                for (index, weight) in taps[y] {
                    let src = (o * inWidth + index) * inner
                    for r in 0..<inner { result[dst + r] += weight * data[src + r] }
                }
            }
        }
        return (result, newShape)
    }

    func coefficients(_ ratio: Double, _ scale: Double) -> [Double] {
        switch mode {
        case "nearest":
            if ratio == ratio.rounded(.down) { return [0, 1] }
            switch nearestMode {
            case "round_prefer_ceil": return [ratio < 0.5 ? 1 : 0, ratio >= 0.5 ? 1 : 0]
            case "floor": return [1, 0]
            case "ceil": return [0, 1]
            default: return [ratio <= 0.5 ? 1 : 0, ratio > 0.5 ? 1 : 0]
            }
        case "linear":
            guard antialias else { return [1 - ratio, ratio] }
            let s = Swift.min(scale, 1)
            let start = Int((-1 / s).rounded(.down)) + 1
            let footprint = 2 - 2 * start
            let c = (0..<footprint).map { k in Swift.min(Swift.max(1 - Swift.abs((Double(start + k) - ratio) * s), 0), 1) }
            let sum = c.reduce(0, +)
            return c.map { $0 / sum }
        default:
            let a = cubicA
            guard antialias else {
                let r1 = ratio + 1, q = 1 - ratio, q1 = q + 1
                return [((a * r1 - 5 * a) * r1 + 8 * a) * r1 - 4 * a,
                        ((a + 2) * ratio - (a + 3)) * ratio * ratio + 1,
                        ((a + 2) * q - (a + 3)) * q * q + 1,
                        ((a * q1 - 5 * a) * q1 + 8 * a) * q1 - 4 * a]
            }
            let s = Swift.min(scale, 1)
            func weight(_ x0: Double) -> Double {
                let x = Swift.abs(x0), x2 = x * x, x3 = x2 * x
                if x <= 1 { return (a + 2) * x3 - (a + 3) * x2 + 1 }
                if x < 2 { return a * x3 - 5 * a * x2 + 8 * a * x - 4 * a }
                return 0
            }
            let start = Int((-2 / s).rounded(.down)) + 1
            let end = 2 - start
            let c = (start..<end).map { weight(s * (Double($0) - ratio)) }
            let sum = c.reduce(0, +)
            return c.map { $0 / sum }
        }
    }
}
