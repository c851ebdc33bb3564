import EdgeIR
import Foundation

/// Softmax, LogSoftmax, Hardmax. Before opset 13 the input is coerced to 2-D at `axis` (default 1)
/// and normalized over the flattened trailing block; from 13 on, over `axis` (default −1).
/// exp(x − max) keeps it finite; a row containing NaN gives NaN.
enum SoftmaxOperators {
    static let operators: [OperatorSpec] = [
        spec("Softmax", .softmax), spec("LogSoftmax", .logSoftmax), spec("Hardmax", .hardmax),
    ]

    enum Kind: Sendable { case softmax, logSoftmax, hardmax }

    static func spec(_ name: String, _ kind: Kind) -> OperatorSpec {
        OperatorSpec(name) { b in
            let legacy = b.opset < 13
            let axisAttr = b.int("axis", legacy ? 1 : -1)
            return ClosureKernel { i, c in
                let input = try i.required(0, c)
                let x = try input.asFloat32(c)
                let axis = try Shapes.axis(axisAttr, rank: x.rank, c.nodeDescription)
                let outer: Int, n: Int, inner: Int
                if legacy {
                    (outer, n, inner) = (Shapes.product(x.shape[..<axis]), Shapes.product(x.shape[axis...]), 1)
                } else {
                    (outer, n, inner) = (Shapes.product(x.shape[..<axis]), x.shape[axis], Shapes.product(x.shape[(axis + 1)...]))
                }
                let out = try c.allocate(.float, x.shape)
                let src = x.pointer(Float.self), dst = out.mutablePointer(Float.self)
                c.parallelFor(outer * inner, grain: 8) { range in
                    for row in range {
                        let o = row / inner, r = row % inner
                        let base = o * n * inner + r
                        var m = -Float.infinity
                        var at = 0
                        for j in 0..<n { let v = src[base + j * inner]; if v > m || v.isNaN { if !m.isNaN { m = v; at = j } } }
                        switch kind {
                        case .hardmax:
                            for j in 0..<n { dst[base + j * inner] = j == at ? 1 : 0 }
                        case .softmax, .logSoftmax:
                            var sum: Float = 0
                            for j in 0..<n { let e = Foundation.exp(src[base + j * inner] - m); dst[base + j * inner] = e; sum += e }
                            if kind == .softmax {
                                let inv = 1 / sum
                                for j in 0..<n { dst[base + j * inner] *= inv }
                            } else {
                                let logSum = Foundation.log(sum)
                                for j in 0..<n { dst[base + j * inner] = src[base + j * inner] - m - logSum }
                            }
                        }
                    }
                }
                return [input.dtype == .float ? out : try CastOperators.cast(out, to: input.dtype, c)]
            }
        }
    }
}
