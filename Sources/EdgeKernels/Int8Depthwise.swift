import EdgeKernelsVNNI

/// Depthwise 2-D int8 convolution weights for the integer depthwise kernel
/// (EdgeKernelsVNNI/VNNIDepthwise.swift): per channel, the shifted weights w − zw paired along the
/// kernel rows as int16 words, `pairRows·kw` words (4·⌈kh/2⌉·kw bytes) per channel.
final class Int8DepthwiseWeights: Sendable {
    let words: [UInt32]
    let wordsPerChannel: Int

    /// `weights`: [C, 1, kh, kw] bytes; `zeroPoints`: 1 or C entries, each a value of the weight
    /// type (so w − zw lies in [−255, 255] and fits int16).
    init(weights: UnsafeRawPointer, signed: Bool, zeroPoints: [Int32], channels: Int, kh: Int, kw: Int) {
        let taps = kh * kw, per = (kh + 1) / 2 * kw
        var words = [UInt32](repeating: 0, count: channels * per)
        var shifted = [Int32](repeating: 0, count: taps)
        words.withUnsafeMutableBufferPointer { dst in
            shifted.withUnsafeMutableBufferPointer { sh in
                for ch in 0..<channels {
                    let z = zeroPoints[zeroPoints.count == 1 ? 0 : ch]
                    for t in 0..<taps {
                        let b = weights.load(fromByteOffset: ch * taps + t, as: UInt8.self)
                        sh[t] = (signed ? Int32(Int8(bitPattern: b)) : Int32(b)) - z
                    }
                    VNNIKernels.depthwiseWeightWords(sh.baseAddress!, kh: kh, kw: kw, into: dst.baseAddress! + ch * per)
                }
            }
        }
        self.words = words
        wordsPerChannel = per
    }

    var byteCount: Int { words.count * MemoryLayout<UInt32>.stride }

    /// Whether weights with these zero points can take this form: every zero point is a value of
    /// the weight type (the runtime validates that; anything else keeps the float-exact form).
    static func accepts(signed: Bool, zeroPoints: [Int32]) -> Bool {
        zeroPoints.allSatisfy { signed ? (-128...127).contains($0) : (0...255).contains($0) }
    }
}

/// Requantization of int32 accumulators fused into a kernel (the formula of `Kernels.requantize`):
///   y = clamp(roundHalfEven(Float(acc + bias[c]) · multiplier[c]) + zeroPoint, lo, hi)
/// per output channel c, stored as int8 if `outputSigned`, else uint8. `lo`/`hi` are the output
/// type's range, or narrower (a fused Relu/Clip).
public struct Int8Requantization {
    public let multiplier: QuantMultiplier
    public let bias: UnsafePointer<Int32>?
    public let zeroPoint: Int32
    public let outputSigned: Bool
    public let lo: Int32, hi: Int32

    public init(multiplier: QuantMultiplier, bias: UnsafePointer<Int32>?, zeroPoint: Int32, outputSigned: Bool, lo: Int32, hi: Int32) {
        self.multiplier = multiplier; self.bias = bias; self.zeroPoint = zeroPoint
        self.outputSigned = outputSigned; self.lo = lo; self.hi = hi
    }

    func scale(_ channel: Int) -> Float {
        switch multiplier {
        case let .scalar(s): return s
        case let .perRow(p): return p[channel]
        }
    }
}

extension Kernels {
    /// The integer depthwise convolution: batch × C planes, each computed into an int32 plane
    /// (`output`, or a per-worker scratch plane that `requantization` turns into bytes at `bytes`
    /// while it is still in cache). Threads over planes.
    static func depthwiseInt8(_ w: Int8DepthwiseWeights, _ g: ConvGeometry, batch: Int, input: UnsafeRawPointer,
                              inputSigned: Bool, inputZeroPoint: Int32, output: UnsafeMutablePointer<Int32>?,
                              requantization: Int8Requantization?, bytes: UnsafeMutableRawPointer?, pool: ThreadPool?) {
        let o = g.outputSize
        let shape = VNNIDepthwiseShape(ih: g.inputSize[0], iw: g.inputSize[1], oh: o[0], ow: o[1],
                                       kh: g.kernelSize[0], kw: g.kernelSize[1], sh: g.strides[0], sw: g.strides[1],
                                       padTop: g.padsBegin[0], padLeft: g.padsBegin[1], dh: g.dilations[0], dw: g.dilations[1])
        let channels = g.outChannels, inPlane = g.inputPlane, outPlane = o[0] * o[1]
        let planes = batch * channels, per = w.wordsPerChannel
        // Per worker: the pair scratch, then (when requantizing) an int32 output plane.
        let scratchWords = (shape.scratchWords + 15) / 16 * 16
        let workerWords = scratchWords + (requantization != nil ? (outPlane + 15) / 16 * 16 : 0)
        let workers = pool?.threadCount ?? 1
        Workspace.with(floats: workerWords * workers) { buffer in
            buffer.withMemoryRebound(to: UInt32.self, capacity: workerWords * workers) { scratch in
                w.words.withUnsafeBufferPointer { wp in
                    let body: (Int, Int) -> Void = { plane, worker in
                        let ch = plane % channels
                        let mine = scratch + worker * workerWords
                        let x = input + plane * inPlane
                        if let rq = requantization, let bytes {
                            let acc = UnsafeMutableRawPointer(mine + scratchWords).assumingMemoryBound(to: Int32.self)
                            VNNIKernels.depthwisePlane(shape, x, inputSigned, inputZeroPoint, wp.baseAddress! + ch * per, acc, mine)
                            Kernels.requantizeRow(acc, outPlane, rq.bias?[ch] ?? 0, rq.scale(ch), rq.zeroPoint,
                                                  Float(rq.lo), Float(rq.hi), rq.outputSigned,
                                                  bytes + plane * outPlane)
                        } else if let output {
                            VNNIKernels.depthwisePlane(shape, x, inputSigned, inputZeroPoint, wp.baseAddress! + ch * per,
                                                       output + plane * outPlane, mine)
                        }
                    }
                    if let pool, pool.threadCount > 1, planes > 1 { pool.parallelFor(planes, body) }
                    else { for p in 0..<planes { body(p, 0) } }
                }
            }
        }
    }
}
