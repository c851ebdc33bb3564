import EdgeIR
import Foundation

/// Normalizations: BatchNormalization (inference, and training mode with batch statistics),
/// InstanceNormalization, LayerNormalization, GroupNormalization, MeanVarianceNormalization,
/// LpNormalization, LRN. Statistics accumulate in double; outputs round once to the input type.
enum NormalizationOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("BatchNormalization") { b in try BatchNormKernel(b) },
        OperatorSpec("InstanceNormalization") { b in
            let epsilon = Double(b.float("epsilon", 1e-5))
            return ClosureKernel { i, c in
                let input = try i.required(0, c)
                let x = try input.asFloat32(c), scale = try i.required(1, c).floatArray(), bias = try i.required(2, c).floatArray()
                guard x.rank >= 2, scale.count == x.shape[1], bias.count == x.shape[1] else {
                    throw EdgeError.badInput("\(c.nodeDescription): scale/bias must have C = \(x.rank >= 2 ? x.shape[1] : 0) elements")
                }
                let channels = x.shape[1], size = Shapes.product(x.shape[2...])
                let out = try c.allocate(.float, x.shape)
                let src = x.pointer(Float.self), dst = out.mutablePointer(Float.self)
                c.parallelFor(x.shape[0] * channels, grain: 1) { range in
                    for plane in range {
                        let ch = plane % channels
                        normalize(src + plane * size, dst + plane * size, count: size, epsilon: epsilon) { j, v in
                            v * scale[ch] + bias[ch]
                        }
                    }
                }
                return [try restore(out, input.dtype, c)]
            }
        },
        OperatorSpec("LayerNormalization") { b in
            let axisAttr = b.int("axis", -1)
            let epsilon = Double(b.float("epsilon", 1e-5))
            return ClosureKernel { i, c in
                let input = try i.required(0, c)
                let x = try input.asFloat32(c)
                let axis = try Shapes.axis(axisAttr, rank: x.rank, c.nodeDescription)
                let outer = Shapes.product(x.shape[..<axis]), size = Shapes.product(x.shape[axis...])
                let normShape = Array(x.shape[axis...])
                let scale = try ShapeOperators.broadcast(try i.required(1, c).asFloat32(c), to: normShape, c)
                let bias = try i.optional(2).map { try ShapeOperators.broadcast(try $0.asFloat32(c), to: normShape, c) }
                let out = try c.allocate(.float, x.shape)
                var statShape = x.shape
                for d in axis..<x.rank { statShape[d] = 1 }
                let mean = try c.allocate(.float, statShape), invStd = try c.allocate(.float, statShape)
                let src = x.pointer(Float.self), dst = out.mutablePointer(Float.self)
                let ps = scale.pointer(Float.self), pb = bias?.pointer(Float.self)
                let pm = mean.mutablePointer(Float.self), pi = invStd.mutablePointer(Float.self)
                c.parallelFor(outer, grain: 1) { range in
                    for row in range {
                        let (m, inv) = normalize(src + row * size, dst + row * size, count: size, epsilon: epsilon) { j, v in
                            v * ps[j] + (pb?[j] ?? 0)
                        }
                        pm[row] = Float(m)
                        pi[row] = Float(inv)
                    }
                }
                return [try restore(out, input.dtype, c), mean, invStd]
            }
        },
        OperatorSpec("GroupNormalization") { b in
            let epsilon = Double(b.float("epsilon", 1e-5)), groups = b.int("num_groups", 1)
            let perGroupScale = b.opset < 21
            return ClosureKernel { i, c in
                let input = try i.required(0, c)
                let x = try input.asFloat32(c), scale = try i.required(1, c).floatArray(), bias = try i.required(2, c).floatArray()
                guard x.rank >= 2, groups > 0, x.shape[1] % groups == 0 else { throw EdgeError.badInput("\(c.nodeDescription): C must divide into num_groups") }
                let channels = x.shape[1], perGroup = channels / groups, size = Shapes.product(x.shape[2...])
                guard scale.count == (perGroupScale ? groups : channels), bias.count == scale.count else {
                    throw EdgeError.badInput("\(c.nodeDescription): scale/bias length does not match")
                }
                let out = try c.allocate(.float, x.shape)
                let src = x.pointer(Float.self), dst = out.mutablePointer(Float.self)
                for n in 0..<x.shape[0] {
                    for g in 0..<groups {
                        let base = (n * channels + g * perGroup) * size
                        normalize(src + base, dst + base, count: perGroup * size, epsilon: epsilon) { j, v in
                            let ch = perGroupScale ? g : g * perGroup + j / size
                            return v * scale[ch] + bias[ch]
                        }
                    }
                }
                return [try restore(out, input.dtype, c)]
            }
        },
        OperatorSpec("MeanVarianceNormalization") { b in
            let axes = b.ints("axes") ?? [0, 2, 3]
            return ClosureKernel { i, c in
                let x = try i.required(0, c)
                let set = try Set(axes.map { try Shapes.axis($0, rank: x.rank, c.nodeDescription) })
                let mean = try ReduceOperators.reduce(x, axes: set, keepDims: true, .mean, c)
                let centered = try ElementwiseOperators.arithmetic(.sub, x, mean, c)
                let variance = try ReduceOperators.reduce(try ElementwiseOperators.arithmetic(.mul, centered, centered, c), axes: set, keepDims: true, .mean, c)
                let eps = try CastOperators.cast(Tensor.scalar(Float(1e-9)), to: x.dtype, c)
                let std = try ElementwiseOperators.map(try ElementwiseOperators.arithmetic(.add, variance, eps, c), c, { $0.squareRoot() }, { $0.squareRoot() })
                return [try ElementwiseOperators.arithmetic(.div, centered, std, c)]
            }
        },
        OperatorSpec("LpNormalization") { b in
            let axisAttr = b.int("axis", -1), p = b.int("p", 2)
            return ClosureKernel { i, c in
                let x = try i.required(0, c)
                let axis = try Shapes.axis(axisAttr, rank: x.rank, c.nodeDescription)
                // x / ‖x‖ₚ along the axis; an all-zero slice stays zero (not 0/0).
                let norm = try ReduceOperators.reduce(x, axes: [axis], keepDims: true, p == 1 ? .l1 : .l2, c)
                let zero = try CastOperators.cast(Tensor.scalar(Float(0)), to: x.dtype, c)
                let one = try CastOperators.cast(Tensor.scalar(Float(1)), to: x.dtype, c)
                let isZero = try LogicalOperators.compareTensors(norm, zero, .eq, c)
                let safe = try LogicalOperators.select(isZero, one, norm, c)
                return [try ElementwiseOperators.arithmetic(.div, x, safe, c)]
            }
        },
        OperatorSpec("LRN") { b in
            let alpha = Double(b.float("alpha", 1e-4)), beta = Double(b.float("beta", 0.75)), bias = Double(b.float("bias", 1))
            let size = b.int("size", 0)
            guard size > 0 else { throw b.error("size must be positive") }
            return ClosureKernel { i, c in
                let input = try i.required(0, c)
                let x = try input.asFloat32(c)
                guard x.rank >= 3 else { throw EdgeError.badInput("\(c.nodeDescription): input must be N×C×spatial") }
                let channels = x.shape[1], plane = Shapes.product(x.shape[2...])
                let out = try c.allocate(.float, x.shape)
                let src = x.pointer(Float.self), dst = out.mutablePointer(Float.self)
                // y = x / (bias + alpha/size · Σ_{c' in window} x_{c'}²)^beta, window
                // [c − floor((size−1)/2), c + ceil((size−1)/2)].
                let below = (size - 1) / 2, above = size - 1 - below
                c.parallelFor(x.shape[0] * channels, grain: 1) { range in
                    for nc in range {
                        let n = nc / channels, ch = nc % channels
                        let lo = Swift.max(0, ch - below), hi = Swift.min(channels - 1, ch + above)
                        for j in 0..<plane {
                            var sum = 0.0
                            for k in lo...hi { let v = Double(src[(n * channels + k) * plane + j]); sum += v * v }
                            let v = src[nc * plane + j]
                            dst[nc * plane + j] = Float(Double(v) / Foundation.pow(bias + alpha / Double(size) * sum, beta))
                        }
                    }
                }
                return [try restore(out, input.dtype, c)]
            }
        },
    ]

    /// Normalizes `count` values to zero mean and unit variance, then applies `affine(j, v)`;
    /// returns (mean, 1/sqrt(var + eps)).
    @discardableResult
    static func normalize(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count: Int, epsilon: Double,
                          _ affine: (Int, Float) -> Float) -> (Double, Double) {
        var sum = 0.0
        for j in 0..<count { sum += Double(src[j]) }
        let mean = sum / Double(Swift.max(count, 1))
        var squares = 0.0
        for j in 0..<count { let d = Double(src[j]) - mean; squares += d * d }
        let inv = 1 / (squares / Double(Swift.max(count, 1)) + epsilon).squareRoot()
        for j in 0..<count { dst[j] = affine(j, Float((Double(src[j]) - mean) * inv)) }
        return (mean, inv)
    }

    static func restore(_ out: Tensor, _ dtype: DType, _ c: ExecutionContext) throws -> Tensor {
        dtype == .float ? out : try CastOperators.cast(out, to: dtype, c)
    }
}

/// BatchNormalization. Inference: y = (x − mean)/sqrt(var + ε)·scale + B, folded at compile time
/// into y = x·a + b per channel when the statistics are constant. Training mode (opset ≥ 14
/// `training_mode=1`) normalizes with the batch statistics and also returns the updated running
/// mean and variance: running = momentum·running + (1 − momentum)·batch.
final class BatchNormKernel: TensorKernel {
    let epsilon: Double
    let momentum: Double
    let training: Bool
    let folded: (a: [Float], b: [Float])?

    init(_ b: KernelBuildContext) throws {
        epsilon = Double(b.float("epsilon", 1e-5))
        momentum = Double(b.float("momentum", 0.9))
        training = b.int("training_mode", 0) != 0
        if !training, let s = b.constantInput(1), let bias = b.constantInput(2), let m = b.constantInput(3), let v = b.constantInput(4) {
            let sv = s.floatArray(), bv = bias.floatArray(), mv = m.floatArray(), vv = v.floatArray()
            guard sv.count == bv.count, sv.count == mv.count, sv.count == vv.count else { throw b.error("scale, B, mean and var differ in length") }
            var a = [Float](repeating: 0, count: sv.count), c = a
            for k in 0..<sv.count {
                let inv = 1 / (Double(vv[k]) + Double(b.float("epsilon", 1e-5))).squareRoot()
                a[k] = Float(Double(sv[k]) * inv)
                c[k] = Float(Double(bv[k]) - Double(mv[k]) * Double(sv[k]) * inv)
            }
            folded = (a, c)
        } else {
            folded = nil
        }
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let input = try i.required(0, c)
        let x = try input.asFloat32(c)
        guard x.rank >= 2 else { throw EdgeError.badInput("\(c.nodeDescription): input must be N×C×…") }
        let channels = x.shape[1], size = Shapes.product(x.shape[2...]), batch = x.shape[0]
        let scale = try i.required(1, c).floatArray(), bias = try i.required(2, c).floatArray()
        var mean = try i.required(3, c).floatArray().map(Double.init), variance = try i.required(4, c).floatArray().map(Double.init)
        guard scale.count == channels, bias.count == channels, mean.count == channels, variance.count == channels else {
            throw EdgeError.badInput("\(c.nodeDescription): scale, B, mean and var must have C = \(channels) elements")
        }
        var a: [Float], b: [Float]
        var extra: [Tensor] = []
        if training {
            let src = x.pointer(Float.self)
            var batchMean = [Double](repeating: 0, count: channels), batchVar = batchMean
            for ch in 0..<channels {
                var s = 0.0
                for n in 0..<batch { for j in 0..<size { s += Double(src[(n * channels + ch) * size + j]) } }
                let m = s / Double(batch * size)
                var q = 0.0
                for n in 0..<batch { for j in 0..<size { let d = Double(src[(n * channels + ch) * size + j]) - m; q += d * d } }
                batchMean[ch] = m
                batchVar[ch] = q / Double(batch * size)
            }
            let runMean = (0..<channels).map { Float(momentum * mean[$0] + (1 - momentum) * batchMean[$0]) }
            let runVar = (0..<channels).map { Float(momentum * variance[$0] + (1 - momentum) * batchVar[$0]) }
            mean = batchMean
            variance = batchVar
            extra = [try CastOperators.cast(Tensor(shape: [channels], scalars: runMean), to: input.dtype, c),
                     try CastOperators.cast(Tensor(shape: [channels], scalars: runVar), to: input.dtype, c)]
        }
        if let folded, !training {
            (a, b) = folded
        } else {
            a = (0..<channels).map { Float(Double(scale[$0]) / (variance[$0] + epsilon).squareRoot()) }
            b = (0..<channels).map { Float(Double(bias[$0]) - mean[$0] * Double(scale[$0]) / (variance[$0] + epsilon).squareRoot()) }
        }
        let out = try c.allocate(.float, x.shape)
        let src = x.pointer(Float.self), dst = out.mutablePointer(Float.self)
        c.parallelFor(batch * channels, grain: 4) { range in
            for plane in range {
                let ch = plane % channels, sa = a[ch], sb = b[ch]
                let p = src + plane * size, o = dst + plane * size
                for j in 0..<size { o[j] = p[j] * sa + sb }
            }
        }
        return [try NormalizationOperators.restore(out, input.dtype, c)] + extra
    }
}
