import EdgeIR

/// Conv/pool window attributes (kernel_shape, strides, dilations, pads, auto_pad) resolved
/// against a concrete input size.
struct WindowAttributes: Sendable {
    let kernelShape: [Int]?
    let strides: [Int]?
    let dilations: [Int]?
    let pads: [Int]?
    let autoPad: String
    let ceilMode: Bool

    init(_ b: KernelBuildContext) {
        kernelShape = b.ints("kernel_shape")
        strides = b.ints("strides")
        dilations = b.ints("dilations")
        pads = b.ints("pads")
        autoPad = b.string("auto_pad", "NOTSET")
        ceilMode = b.int("ceil_mode", 0) != 0
    }

    struct Resolved {
        var kernel: [Int], strides: [Int], dilations: [Int], padsBegin: [Int], padsEnd: [Int], output: [Int]
    }

    /// Output size: floor((in + pads − ((k−1)·d + 1)) / s) + 1 (ceil with ceil_mode, dropping a
    /// last window that would start in the end padding); SAME_* pads so that out = ceil(in / s).
    func resolve(input: [Int], kernel fallback: [Int]?, _ c: ExecutionContext) throws -> Resolved {
        let r = input.count
        guard let kernel = kernelShape ?? fallback, kernel.count == r else {
            throw EdgeError.badInput("\(c.nodeDescription): kernel_shape does not match the \(r)-D input")
        }
        let s = strides ?? Array(repeating: 1, count: r)
        let d = dilations ?? Array(repeating: 1, count: r)
        guard s.count == r, d.count == r, s.allSatisfy({ $0 > 0 }), d.allSatisfy({ $0 > 0 }), kernel.allSatisfy({ $0 > 0 }) else {
            throw EdgeError.badInput("\(c.nodeDescription): strides/dilations/kernel_shape must be positive with \(r) entries")
        }
        var begin = [Int](repeating: 0, count: r), end = [Int](repeating: 0, count: r)
        var output = [Int](repeating: 0, count: r)
        for k in 0..<r {
            let extent = (kernel[k] - 1) * d[k] + 1
            switch autoPad {
            case "SAME_UPPER", "SAME_LOWER":
                output[k] = (input[k] + s[k] - 1) / s[k]
                let total = Swift.max((output[k] - 1) * s[k] + extent - input[k], 0)
                begin[k] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2
                end[k] = total - begin[k]
            case "VALID":
                output[k] = (input[k] - extent) / s[k] + 1
                if input[k] < extent { output[k] = 0 }
            default:
                if let pads {
                    guard pads.count == 2 * r, pads.allSatisfy({ $0 >= 0 }) else {
                        throw EdgeError.badInput("\(c.nodeDescription): pads \(pads) do not match the \(r)-D input")
                    }
                    begin[k] = pads[k]
                    end[k] = pads[r + k]
                }
                let span = input[k] + begin[k] + end[k] - extent
                if span < 0 { output[k] = 0; break }
                if ceilMode {
                    output[k] = (span + s[k] - 1) / s[k] + 1
                    if (output[k] - 1) * s[k] >= input[k] + begin[k] { output[k] -= 1 }
                } else {
                    output[k] = span / s[k] + 1
                }
            }
        }
        guard output.allSatisfy({ $0 > 0 }) else {
            throw EdgeError.badInput("\(c.nodeDescription): input \(input) is smaller than the window \(kernel)")
        }
        return Resolved(kernel: kernel, strides: s, dilations: d, padsBegin: begin, padsEnd: end, output: output)
    }
}

extension Tensor {
    /// Float32 copy of a float16/bfloat16/double tensor (for kernels that compute in float32),
    /// or the tensor itself when already float32.
    func asFloat32(_ c: ExecutionContext) throws -> Tensor {
        if dtype == .float { return self }
        guard dtype.isFloatingPoint else { throw EdgeError.badInput("\(c.nodeDescription): element type \(dtype) is not a float type") }
        return try CastOperators.cast(self, to: .float, c)
    }
}
