import EdgeKernelsVNNI

/// 8-bit convolution weights prepared once for `Kernels.convInt8` (ConvInteger, QLinearConv and
/// the QDQ-lowered Conv). Where the VNNI kernels run (see Int8GEMM.swift) each group's
/// W_g (C_out/g × K) is held as int8 VNNI row panels with its row sums — 1 byte per weight — and
/// the input goes through a byte im2col; otherwise (and for 2-D depthwise convs, which keep the
/// direct kernel) it wraps the float-exact `ConvWeights(int8Weights:…)`. (An integer depthwise
/// kernel on vpdpwssd, exact, measured 25% slower than that float path on quantized MobileNetV2's
/// depthwise layers: vpdpwssd issues once per cycle against two FMAs, and pairing the rows cost
/// more than the conversion it saved; it was removed, see the history.)
public final class Int8ConvWeights: @unchecked Sendable {
    // @unchecked Sendable: `geometry` and `form` are immutable and the forms are read-only (the
    // float form's lazily built state is guarded by its own lock).
    enum Form {
        case vnni([VNNIRowPanels])
        case float(ConvWeights)
    }
    public let geometry: ConvGeometry
    let form: Form

    /// `weights`: [C_out, C_in/groups, k…] bytes (int8 if `signed`, else uint8); `zeroPoints`: one
    /// entry or C_out (per output channel).
    public init(weights: UnsafeRawPointer, signed: Bool, zeroPoints: [Int32], geometry g: ConvGeometry, isa: KernelISA? = nil) {
        precondition(g.problem == nil, g.problem ?? "")
        precondition(zeroPoints.count == 1 || zeroPoints.count == g.outChannels, "zero points: 1 or C_out entries")
        if VNNI.enabled(isa) && !g.isDepthwise2D {
            geometry = g
            let cog = g.outChannels / g.groups, kdim = g.reductionSize
            let side = VNNISide(signed: signed, unsignedRole: false)
            form = .vnni(zeroPoints.withUnsafeBufferPointer { zp in
                (0..<g.groups).map { grp in
                    let z: ZeroPoint = zp.count == 1 ? .scalar(zp[0]) : .perIndex(zp.baseAddress! + grp * cog)
                    return VNNIRowPanels(weights + grp * cog * kdim, ld: kdim, m: cog, k: kdim, side: side, zeroPoint: z)
                }
            })
        } else {
            let w = ConvWeights(int8Weights: weights, signed: signed, zeroPoints: zeroPoints, geometry: g, isa: isa)
            geometry = w.geometry
            form = .float(w)
        }
    }

    private init(form: Form, geometry: ConvGeometry) {
        self.form = form
        self.geometry = geometry
    }

    /// The same weights for another input size (same channels, groups and kernel), without copying.
    public func with(geometry requested: ConvGeometry) -> Int8ConvWeights {
        switch form {
        case let .float(w):
            let v = w.with(geometry: requested)
            return v === w ? self : Int8ConvWeights(form: .float(v), geometry: v.geometry)
        case .vnni:
            if requested == geometry { return self }
            precondition(requested.problem == nil, requested.problem ?? "")
            precondition(requested.inChannels == geometry.inChannels && requested.outChannels == geometry.outChannels
                         && requested.groups == geometry.groups && requested.kernelSize == geometry.kernelSize,
                         "Int8ConvWeights re-targeted to a geometry with other channels, groups or kernel")
            return Int8ConvWeights(form: form, geometry: requested)
        }
    }

    /// Bytes held by the prepared weights.
    public var byteCount: Int {
        switch form {
        case let .vnni(p): return p.reduce(0) { $0 + $1.byteCount }
        case let .float(w): return w.byteCount
        }
    }

    /// Whether the VNNI int8 form was built.
    public var isVNNI: Bool { if case .vnni = form { return true }; return false }
}

extension Kernels {
    /// Exact integer convolution: output (int32) = Σ (x − inputZeroPoint)·(w − w_zero_point), the
    /// input padded with its zero point. input: batch × C_in × inputSize bytes (int8 if
    /// `inputSigned`, else uint8); `inputZeroPoint` must be a value of that type.
    public static func convInt8(_ weights: Int8ConvWeights, batch: Int = 1, input: UnsafeRawPointer, inputSigned: Bool,
                                inputZeroPoint: Int32, output: UnsafeMutablePointer<Int32>, pool: ThreadPool? = nil) {
        let g = weights.geometry
        switch weights.form {
        case let .float(w):
            if VNNI.enabled(nil), case let .depthwise(dw) = w.store.form(for: w.geometry) {
                // The direct float depthwise kernel on (x − zx) and (w − zw), exact (≤ 256 taps of
                // products ≤ 65025 stay below 2²⁴; see convInt8(ConvWeights…)), with the byte →
                // float and float → int32 passes 16 lanes at a time.
                let count = batch * g.inChannels * g.inputPlane, outCount = batch * g.outChannels * g.outputPlane
                Workspace.with(floats: count + outCount) { buf in
                    VNNIKernels.bytesToFloat(input, inputSigned, Float(inputZeroPoint), buf, count)
                    depthwise(dw, g, w.kernels, batch: batch, input: buf, bias: nil, activation: .none, output: buf + count, pool: pool)
                    VNNIKernels.floatToInt32(buf + count, output, outCount)
                }
                return
            }
            convInt8(w, batch: batch, input: input, inputSigned: inputSigned, inputZeroPoint: inputZeroPoint, output: output, pool: pool)
        case let .vnni(panels):
            let cog = g.outChannels / g.groups, n = g.outputPlane
            convVNNI(panels, g, batch: batch, input: input, inputSigned: inputSigned, inputZeroPoint: inputZeroPoint, pool: pool) { img, grp in
                .int32(output + (img * g.outChannels + grp * cog) * n, ldc: n)
            }
        }
    }

    /// `convInt8` followed by `requantize` with one row per output channel, into bytes
    /// (batch × C_out × outputPlane): dst = clamp(roundHalfEven(Float(acc + bias[co])·m(co)) + zy,
    /// lo, hi). The bytes are those of the two passes; the int32 tensor between them is not made:
    /// - VNNI GEMM (1×1 and im2col convs): each 8×32 tile is requantized in registers. On
    ///   MobileNetV2's 1×1 convs (K = 16…960) writing and re-reading the int32 result cost more
    ///   than the products.
    /// - depthwise: one channel plane at a time — bytes → float, the direct kernel, int32,
    ///   requantize — while the plane is in cache, instead of three passes over whole tensors.
    /// - otherwise (the float-exact GEMM, a non-finite multiplier): int32 scratch, then requantize.
    public static func convInt8Requantized(_ weights: Int8ConvWeights, batch: Int = 1, input: UnsafeRawPointer, inputSigned: Bool,
                                           inputZeroPoint: Int32, requantization rq: RowRequantization,
                                           output: UnsafeMutableRawPointer, pool: ThreadPool? = nil) {
        let g = weights.geometry
        let cog = g.outChannels / g.groups, n = g.outputPlane
        switch weights.form {
        case let .vnni(panels) where rq.finite(rows: g.outChannels):
            convVNNI(panels, g, batch: batch, input: input, inputSigned: inputSigned, inputZeroPoint: inputZeroPoint, pool: pool) { img, grp in
                .requantized(output + (img * g.outChannels + grp * cog) * n, ldd: n, rq.rows(from: grp * cog))
            }
            return
        case let .float(w):
            if case let .depthwise(dw) = w.store.form(for: w.geometry) {
                depthwiseInt8Requantized(dw, g, w.kernels, batch: batch, input: input, inputSigned: inputSigned,
                                         inputZeroPoint: inputZeroPoint, rq: rq, output: output, pool: pool)
                return
            }
        default:
            break
        }
        let outCount = batch * g.outChannels * n
        Workspace.with(floats: outCount) { buf in
            let acc = UnsafeMutableRawPointer(buf).bindMemory(to: Int32.self, capacity: outCount)
            convInt8(weights, batch: batch, input: input, inputSigned: inputSigned, inputZeroPoint: inputZeroPoint, output: acc, pool: pool)
            for img in 0..<batch {
                let off = img * g.outChannels * n
                rq.apply(acc + off, rows: g.outChannels, cols: n, dst: output + off, pool: pool)
            }
        }
    }

    /// The VNNI conv: per image and group, W_g (rows, packed) × the input's byte im2col (columns),
    /// written where `output(img, grp)` says.
    private static func convVNNI(_ panels: [VNNIRowPanels], _ g: ConvGeometry, batch: Int, input: UnsafeRawPointer, inputSigned: Bool,
                                 inputZeroPoint: Int32, pool: ThreadPool?, _ output: (Int, Int) -> VNNIOutput) {
        precondition(inputSigned ? (-128...127).contains(inputZeroPoint) : (0...255).contains(inputZeroPoint),
                     "input zero point \(inputZeroPoint) is not a value of the input type")
        let cig = g.inChannels / g.groups, cog = g.outChannels / g.groups
        let n = g.outputPlane, kdim = g.reductionSize
        let inImage = g.inChannels * g.inputPlane
        let side = VNNISide(signed: inputSigned, unsignedRole: true)
        let padByte = UInt8(truncatingIfNeeded: inputZeroPoint)
        for img in 0..<batch {
            for grp in 0..<g.groups {
                let x = input + img * inImage + grp * cig * g.inputPlane
                let columns: VNNIColumns
                if g.isPointwise {
                    // The input plane already is the K × N operand.
                    columns = .rows({ p, j0, _, _ in x + p * n + j0 }, side: side, zeroPoint: .scalar(inputZeroPoint))
                } else {
                    let im2col = Int8Im2Col(g, input: x, pad: padByte)
                    columns = .rows({ p, j0, cols, scratch in
                        im2col.row(p, j0, cols, scratch)
                        return UnsafeRawPointer(scratch)
                    }, side: side, zeroPoint: .scalar(inputZeroPoint))
                }
                VNNIDriver(m: cog, n: n, k: kdim, rows: .packed(panels[grp]), columns: columns, rowsUnsigned: false,
                           output: output(img, grp), pool: pool).run()
            }
        }
    }

    /// The int8 depthwise conv requantized plane by plane (see `convInt8Requantized`): each
    /// worker converts one input plane to the exact floats x − zx, runs the direct kernel on it
    /// (exact, see `convInt8(ConvWeights…)`), and requantizes the plane's sums, all in its scratch.
    private static func depthwiseInt8Requantized(_ weights: [Float], _ g: ConvGeometry, _ ks: KernelSet, batch: Int,
                                                 input: UnsafeRawPointer, inputSigned: Bool, inputZeroPoint: Int32,
                                                 rq: RowRequantization, output: UnsafeMutableRawPointer, pool: ThreadPool?) {
        let o = g.outputSize
        // The depthwise kernel's geometry vector (as `Kernels.depthwise` passes it).
        let geo = [g.inputSize[0], g.inputSize[1], o[0], o[1], g.kernelSize[0], g.kernelSize[1], g.strides[0], g.strides[1],
                   g.padsBegin[0], g.padsBegin[1], g.dilations[0], g.dilations[1]]
        let channels = g.outChannels, inPlane = g.inputPlane, outPlane = o[0] * o[1], kPlane = g.kernelPlane
        let (code, p0, p1) = Activation.none.encoded
        // Per worker: the float input plane, the float output plane and an int32 one (used only
        // off the vector path), the kernel's scratch.
        let kernelScratch = ks.depthwiseScratchCount(geo)
        let perWorker = (inPlane + 2 * outPlane + kernelScratch + 15) / 16 * 16
        let workers = pool?.threadCount ?? 1
        let vector = VNNI.active
        Workspace.with(floats: perWorker * workers) { scratch in
            weights.withUnsafeBufferPointer { w in
                let wp = w.baseAddress!
                let body: (Int, Int) -> Void = { plane, worker in
                    let ch = plane % channels
                    let xf = scratch + worker * perWorker, yf = xf + inPlane, kernelBuf = yf + 2 * outPlane
                    let acc = UnsafeMutableRawPointer(yf + outPlane).bindMemory(to: Int32.self, capacity: outPlane)
                    let x = input + plane * inPlane
                    if vector { VNNIKernels.bytesToFloat(x, inputSigned, Float(inputZeroPoint), xf, inPlane) }
                    else { bytesToFloat(x, signed: inputSigned, zeroPoint: inputZeroPoint, into: xf, count: inPlane) }
                    ks.depthwisePlane(geo, xf, wp + ch * kPlane, 0, yf, kernelBuf, code, p0, p1)
                    rq.floatRow(ch, yf, outPlane, output + plane * outPlane, scratch: acc)
                }
                if let pool, pool.threadCount > 1 { pool.parallelFor(batch * channels, body) }
                else { for p in 0..<batch * channels { body(p, 0) } }
            }
        }
    }
}
