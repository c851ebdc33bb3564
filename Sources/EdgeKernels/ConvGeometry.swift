/// Shape of an N-d convolution over NCHW-style data (1, 2 or 3 spatial dims), ONNX semantics:
/// output[d] = ⌊(input[d] + padsBegin[d] + padsEnd[d] − (dilations[d]·(kernel[d]−1) + 1)) / strides[d]⌋ + 1.
public struct ConvGeometry: Sendable, Equatable {
    public var inChannels: Int
    public var outChannels: Int
    public var groups: Int
    public var inputSize: [Int]
    public var kernelSize: [Int]
    public var strides: [Int]
    public var dilations: [Int]
    public var padsBegin: [Int]
    public var padsEnd: [Int]

    /// Missing strides/dilations default to 1, pads to 0.
    public init(inChannels: Int, outChannels: Int, groups: Int = 1, inputSize: [Int], kernelSize: [Int],
                strides: [Int]? = nil, dilations: [Int]? = nil, padsBegin: [Int]? = nil, padsEnd: [Int]? = nil) {
        let r = inputSize.count
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.groups = groups
        self.inputSize = inputSize
        self.kernelSize = kernelSize
        self.strides = strides ?? Array(repeating: 1, count: r)
        self.dilations = dilations ?? Array(repeating: 1, count: r)
        self.padsBegin = padsBegin ?? Array(repeating: 0, count: r)
        self.padsEnd = padsEnd ?? Array(repeating: 0, count: r)
    }

    public var rank: Int { inputSize.count }
    public var outputSize: [Int] {
        (0..<rank).map { d in
            (inputSize[d] + padsBegin[d] + padsEnd[d] - (dilations[d] * (kernelSize[d] - 1) + 1)) / strides[d] + 1
        }
    }
    public var inputPlane: Int { inputSize.reduce(1, *) }
    public var outputPlane: Int { outputSize.reduce(1, *) }
    public var kernelPlane: Int { kernelSize.reduce(1, *) }
    /// GEMM K per group: (C_in / groups) · kernel volume.
    public var reductionSize: Int { inChannels / groups * kernelPlane }

    /// nil when the geometry is usable, else why not (the engine turns this into an EdgeError).
    public var problem: String? {
        if rank < 1 || rank > 3 { return "only 1-, 2- and 3-D convolutions are supported (got \(rank)-D)" }
        for (name, v) in [("kernel_shape", kernelSize), ("strides", strides), ("dilations", dilations),
                          ("pads begin", padsBegin), ("pads end", padsEnd)] where v.count != rank {
            return "\(name) has \(v.count) entries for a \(rank)-D input"
        }
        if groups < 1 || inChannels % groups != 0 || outChannels % groups != 0 {
            return "group \(groups) does not divide C_in \(inChannels) and C_out \(outChannels)"
        }
        if kernelSize.contains(where: { $0 < 1 }) || strides.contains(where: { $0 < 1 }) || dilations.contains(where: { $0 < 1 }) {
            return "kernel, strides and dilations must be ≥ 1"
        }
        if padsBegin.contains(where: { $0 < 0 }) || padsEnd.contains(where: { $0 < 0 }) { return "pads must be ≥ 0" }
        if outputSize.contains(where: { $0 < 1 }) { return "output would be empty (\(outputSize))" }
        return nil
    }

    /// groups == C_in == C_out, 2-D: the direct depthwise kernel.
    public var isDepthwise2D: Bool { rank == 2 && groups == inChannels && groups == outChannels }
    /// 1×…×1 kernel, stride 1, no pads: a plain GEMM on the input, no im2col.
    public var isPointwise: Bool {
        kernelSize.allSatisfy { $0 == 1 } && strides.allSatisfy { $0 == 1 }
            && padsBegin.allSatisfy { $0 == 0 } && padsEnd.allSatisfy { $0 == 0 }
    }

    /// The geometry as 3-D (depth, height, width), padding missing leading dims with 1 / 0.
    var as3D: (i: [Int], o: [Int], k: [Int], s: [Int], d: [Int], p: [Int]) {
        let lead = 3 - rank
        func ext(_ v: [Int], _ fill: Int) -> [Int] { Array(repeating: fill, count: lead) + v }
        return (ext(inputSize, 1), ext(outputSize, 1), ext(kernelSize, 1), ext(strides, 1), ext(dilations, 1), ext(padsBegin, 0))
    }
}
