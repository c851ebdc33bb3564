import EdgeIR
import EdgeKernels
import Foundation

/// RNN, GRU and LSTM (opset 7 onward; `layout` from 14): forward, reverse and bidirectional,
/// `sequence_lens`, initial_h / initial_c, LSTM peepholes and `input_forget`, GRU
/// `linear_before_reset`, `clip`, and the activations list with activation_alpha/beta.
///
/// Per direction, with gates stacked in ONNX order (GRU z r h, LSTM i o f c):
///   XW = X·Wᵀ + bias       one SGEMM over all time steps (bias fused as a per-column epilogue)
///   per step t: HR = H_{t−1}·Rᵀ (SGEMM), then the cell equations of the ONNX spec:
///   RNN   H = f(XW + HR)
///   GRU   z = f(XW_z + HR_z), r = f(XW_r + HR_r),
///         h = g(XW_h + (r⊙H_{t−1})·R_hᵀ + Rb_h)      (linear_before_reset = 0)
///         h = g(XW_h + r⊙(H_{t−1}·R_hᵀ + Rb_h))      (linear_before_reset = 1)
///         H = (1 − z)⊙h + z⊙H_{t−1}
///   LSTM  i = f(XW_i + HR_i + P_i⊙C_{t−1}), f = f(XW_f + HR_f + P_f⊙C_{t−1}) (1 − i with input_forget),
///         c = g(XW_c + HR_c), C = f⊙C_{t−1} + i⊙c, o = f(XW_o + HR_o + P_o⊙C), H = o⊙h(C)
/// `clip` bounds every gate pre-activation to [−clip, clip]. A batch entry with sequence length
/// L < seq_length produces zeros in Y after step L and its Y_h/Y_c is the state after step L
/// (the reverse direction starts at step L − 1), as ONNX Runtime does.
/// Computation is float32; float16/double inputs are converted and the outputs rounded back.
enum RecurrentOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("RNN", versions: 7...OperatorRegistry.latestOpset) { b in try RecurrentKernel(b, cell: .rnn) },
        OperatorSpec("GRU", versions: 7...OperatorRegistry.latestOpset) { b in try RecurrentKernel(b, cell: .gru) },
        OperatorSpec("LSTM", versions: 7...OperatorRegistry.latestOpset) { b in try RecurrentKernel(b, cell: .lstm) },
    ]
}

enum RecurrentCell: Sendable {
    case rnn, gru, lstm
    var gates: Int {
        switch self {
        case .rnn: return 1
        case .gru: return 3
        case .lstm: return 4
        }
    }
    var defaultActivations: [String] {
        switch self {
        case .rnn: return ["Tanh"]
        case .gru: return ["Sigmoid", "Tanh"]
        case .lstm: return ["Sigmoid", "Tanh", "Tanh"]
        }
    }
}

/// One activation of the `activations` attribute with its alpha/beta.
struct RecurrentActivation: Sendable {
    enum Kind: Sendable { case relu, tanh, sigmoid, affine, leakyRelu, thresholdedRelu, scaledTanh, hardSigmoid, elu, softsign, softplus }
    let kind: Kind
    let alpha: Float, beta: Float

    /// Builds the list, consuming activation_alpha / activation_beta in order by the functions
    /// that take them (defaults of the matching ONNX operators when the lists run out), as ONNX
    /// Runtime does.
    static func parse(_ names: [String], alphas: [Float], betas: [Float], _ b: KernelBuildContext) throws -> [RecurrentActivation] {
        var ai = 0, bi = 0
        func next(_ list: [Float], _ index: inout Int, _ fallback: Float) -> Float {
            defer { index += 1 }
            return index < list.count ? list[index] : fallback
        }
        return try names.map { name in
            switch name.lowercased() {
            case "relu": return RecurrentActivation(kind: .relu, alpha: 0, beta: 0)
            case "tanh": return RecurrentActivation(kind: .tanh, alpha: 0, beta: 0)
            case "sigmoid": return RecurrentActivation(kind: .sigmoid, alpha: 0, beta: 0)
            case "softsign": return RecurrentActivation(kind: .softsign, alpha: 0, beta: 0)
            case "softplus": return RecurrentActivation(kind: .softplus, alpha: 0, beta: 0)
            case "leakyrelu": return RecurrentActivation(kind: .leakyRelu, alpha: next(alphas, &ai, 0.01), beta: 0)
            case "thresholdedrelu": return RecurrentActivation(kind: .thresholdedRelu, alpha: next(alphas, &ai, 1), beta: 0)
            case "elu": return RecurrentActivation(kind: .elu, alpha: next(alphas, &ai, 1), beta: 0)
            case "affine": return RecurrentActivation(kind: .affine, alpha: next(alphas, &ai, 1), beta: next(betas, &bi, 0))
            case "scaledtanh": return RecurrentActivation(kind: .scaledTanh, alpha: next(alphas, &ai, 1), beta: next(betas, &bi, 1))
            case "hardsigmoid": return RecurrentActivation(kind: .hardSigmoid, alpha: next(alphas, &ai, 0.2), beta: next(betas, &bi, 0.5))
            default: throw b.error("unsupported activation '\(name)'")
            }
        }
    }

    @inline(__always)
    func callAsFunction(_ x: Float) -> Float {
        switch kind {
        case .relu: return Swift.max(x, 0)
        case .tanh: return Foundation.tanh(x)
        case .sigmoid: return 1 / (1 + Foundation.exp(-x))
        case .affine: return alpha * x + beta
        case .leakyRelu: return x >= 0 ? x : alpha * x
        case .thresholdedRelu: return x > alpha ? x : 0
        case .scaledTanh: return alpha * Foundation.tanh(beta * x)
        case .hardSigmoid: return Swift.max(0, Swift.min(1, alpha * x + beta))
        case .elu: return x >= 0 ? x : alpha * (Foundation.exp(x) - 1)
        case .softsign: return x / (1 + Swift.abs(x))
        case .softplus: return x > 20 ? x : Foundation.log1p(Foundation.exp(x))
        }
    }
}

final class RecurrentKernel: TensorKernel {
    let cell: RecurrentCell
    let direction: String
    let layout: Int
    let clip: Float?
    let linearBeforeReset: Bool
    let inputForget: Bool
    let hiddenSize: Int?
    /// Activations per direction (forward first).
    let activations: [[RecurrentActivation]]
    let outputCount: Int

    init(_ b: KernelBuildContext, cell: RecurrentCell) throws {
        self.cell = cell
        direction = b.string("direction", "forward")
        guard ["forward", "reverse", "bidirectional"].contains(direction) else {
            throw b.error("direction must be forward, reverse or bidirectional, got '\(direction)'")
        }
        layout = b.int("layout", 0)
        guard layout == 0 || layout == 1 else { throw b.error("layout must be 0 or 1") }
        clip = b.node.float("clip")
        linearBeforeReset = b.int("linear_before_reset", 0) != 0
        inputForget = b.int("input_forget", 0) != 0
        hiddenSize = b.int("hidden_size")
        let directions = direction == "bidirectional" ? 2 : 1
        let perDirection = cell.defaultActivations.count
        var names: [String] = []
        if case .strings(let raw)? = b.node.attribute("activations") { names = raw.map { String(decoding: $0, as: UTF8.self) } }
        if names.isEmpty { names = Array(repeating: cell.defaultActivations, count: directions).flatMap { $0 } }
        if names.count == perDirection && directions == 2 { names += names }
        guard names.count == perDirection * directions else {
            throw b.error("activations lists \(names.count) functions, expected \(perDirection * directions)")
        }
        let parsed = try RecurrentActivation.parse(names, alphas: b.floats("activation_alpha") ?? [], betas: b.floats("activation_beta") ?? [], b)
        activations = (0..<directions).map { Array(parsed[($0 * perDirection)..<(($0 + 1) * perDirection)]) }
        outputCount = b.node.outputs.count
    }

    func compute(_ inputs: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let w = try inputs.required(1, c).asFloat32(c), r = try inputs.required(2, c).asFloat32(c)
        guard w.rank == 3, r.rank == 3 else {
            throw EdgeError.badInput("\(c.nodeDescription): W and R must be 3-D, got \(w.shape), \(r.shape)")
        }
        return try evaluate(inputs, c, defaultHidden: r.shape[2]) { inputSize, hidden, directions in
            let gh = cell.gates * hidden
            guard w.shape == [directions, gh, inputSize], r.shape == [directions, gh, hidden] else {
                throw EdgeError.badInput("\(c.nodeDescription): W \(w.shape) / R \(r.shape) do not match \(directions) direction(s), \(cell.gates) gate(s), hidden \(hidden), input \(inputSize)")
            }
            return FloatRecurrentProjections(w: w, r: r, inputSize: inputSize, hidden: hidden, gates: gh)
        }
    }

    /// The recurrence over X (input 0) and the optional inputs 3–7, with the two matrix products
    /// supplied by `makeProjections(inputSize, hidden, directions)`; `defaultHidden` is used when
    /// the node has no `hidden_size`.
    func evaluate(_ inputs: [Tensor?], _ c: ExecutionContext, defaultHidden: Int,
                  makeProjections: (Int, Int, Int) throws -> any RecurrentProjections) throws -> [Tensor] {
        let xIn = try inputs.required(0, c)
        let dtype = xIn.dtype
        var x = try xIn.asFloat32(c)
        guard x.rank == 3 else {
            throw EdgeError.badInput("\(c.nodeDescription): X must be 3-D, got \(x.shape)")
        }
        if layout == 1 { x = transpose01(x) }  // → [seq, batch, input]
        let seq = x.shape[0], batch = x.shape[1], inputSize = x.shape[2]
        let directions = direction == "bidirectional" ? 2 : 1
        let gates = cell.gates
        let hidden = hiddenSize ?? defaultHidden
        let gh = gates * hidden
        let projections = try makeProjections(inputSize, hidden, directions)
        let bias = try inputs.optional(3).map { try $0.asFloat32(c) }
        if let bias, bias.shape != [directions, 2 * gh] {
            throw EdgeError.badInput("\(c.nodeDescription): B has shape \(bias.shape), expected \([directions, 2 * gh])")
        }
        var lengths = [Int](repeating: seq, count: batch)
        if let s = inputs.optional(4) {
            guard let v = s.intArray(), v.count == batch, v.allSatisfy({ $0 >= 0 && $0 <= seq }) else {
                throw EdgeError.badInput("\(c.nodeDescription): sequence_lens must hold \(batch) lengths in 0...\(seq)")
            }
            lengths = v
        }
        let stateShape = [directions, batch, hidden]
        func state(_ index: Int, _ name: String) throws -> Tensor? {
            guard let t = inputs.optional(index) else { return nil }
            var f = try t.asFloat32(c)
            if layout == 1 { f = transpose01(f) }
            guard f.shape == stateShape else {
                throw EdgeError.badInput("\(c.nodeDescription): \(name) has shape \(t.shape), expected \(layout == 1 ? [batch, directions, hidden] : stateShape)")
            }
            return f
        }
        let initialH = try state(5, "initial_h")
        let initialC = cell == .lstm ? try state(6, "initial_c") : nil
        let peephole = cell == .lstm ? try inputs.optional(7).map { try $0.asFloat32(c) } : nil
        if let peephole, peephole.shape != [directions, 3 * hidden] {
            throw EdgeError.badInput("\(c.nodeDescription): P has shape \(peephole.shape), expected \([directions, 3 * hidden])")
        }

        var y = [Float](repeating: 0, count: seq * directions * batch * hidden)
        var yh = [Float](repeating: 0, count: directions * batch * hidden)
        var yc = [Float](repeating: 0, count: directions * batch * hidden)
        var xw = [Float](repeating: 0, count: max(1, seq * batch * gh))
        var hr = [Float](repeating: 0, count: max(1, batch * gh))
        var rh = [Float](repeating: 0, count: max(1, batch * hidden))
        var h = [Float](repeating: 0, count: batch * hidden), cState = h, hNext = h, cNext = h
        let xp = x.pointer(Float.self)
        let maxLength = lengths.max() ?? 0
        let clipValue = clip

        for d in 0..<directions {
            let reverse = direction == "reverse" || d == 1
            let act = activations[d]
            let f = act[0], g = act.count > 1 ? act[1] : act[0], hAct = act.count > 2 ? act[2] : act[0]
            // Input projection with the input-side bias (plus the recurrent bias where it simply adds).
            var inputBias = [Float](repeating: 0, count: gh)
            var recurrentHBias = [Float](repeating: 0, count: hidden)
            if let bias {
                let bp = bias.pointer(Float.self) + d * 2 * gh
                for j in 0..<gh { inputBias[j] = bp[j] + ((cell == .gru && j >= 2 * hidden) ? 0 : bp[gh + j]) }
                if cell == .gru { for j in 0..<hidden { recurrentHBias[j] = bp[gh + 2 * hidden + j] } }
            }
            // Only the first max(lengths) steps are ever read.
            if maxLength * batch > 0 {
                try xw.withUnsafeMutableBufferPointer { out in
                    try projections.input(direction: d, x: xp, rows: maxLength * batch, bias: inputBias, into: out.baseAddress!, c)
                }
            }
            for k in 0..<(batch * hidden) {
                h[k] = initialH.map { $0.pointer(Float.self)[d * batch * hidden + k] } ?? 0
                cState[k] = initialC.map { $0.pointer(Float.self)[d * batch * hidden + k] } ?? 0
            }
            let pp = peephole.map { $0.pointer(Float.self) + d * 3 * hidden }
            @inline(__always) func clipped(_ v: Float) -> Float {
                guard let clipValue else { return v }
                return Swift.min(Swift.max(v, -clipValue), clipValue)
            }
            for step in 0..<seq {
                // HR = H·Rᵀ (for GRU without linear_before_reset only the z and r gates here).
                let recurrentGates = (cell == .gru && !linearBeforeReset) ? 2 * hidden : gh
                if batch > 0 && hidden > 0 {
                    // A row enters as ONNX Runtime's previous output row: its state until one step
                    // after its sequence ended, zeros from then on (the products of finished rows
                    // are discarded; only the int8 projection's dynamic range sees them).
                    let finished = lengths.indices.filter { step > lengths[$0] }
                    var a = h
                    for bIndex in finished { for j in 0..<hidden { a[bIndex * hidden + j] = 0 } }
                    try a.withUnsafeBufferPointer { ap in
                        try hr.withUnsafeMutableBufferPointer { out in
                            try projections.recurrent(direction: d, a: ap.baseAddress!, rows: batch, firstColumn: 0, columns: recurrentGates,
                                                      bias: nil, into: out.baseAddress!, ldc: gh, c)
                        }
                    }
                }
                if cell == .gru && !linearBeforeReset {
                    // (r ⊙ H)·R_hᵀ needs r first.
                    for bIndex in 0..<batch {
                        let t = reverse ? lengths[bIndex] - 1 - step : step
                        guard step < lengths[bIndex] else { continue }
                        let xRow = (t * batch + bIndex) * gh
                        for j in 0..<hidden {
                            let rGate = f(clipped(xw[xRow + hidden + j] + hr[bIndex * gh + hidden + j]))
                            rh[bIndex * hidden + j] = rGate * h[bIndex * hidden + j]
                        }
                    }
                    if batch > 0 && hidden > 0 {
                        try recurrentHBias.withUnsafeBufferPointer { rb in
                            try rh.withUnsafeBufferPointer { ap in
                                try hr.withUnsafeMutableBufferPointer { hrp in
                                    try projections.recurrent(direction: d, a: ap.baseAddress!, rows: batch, firstColumn: 2 * hidden, columns: hidden,
                                                              bias: rb.baseAddress!, into: hrp.baseAddress! + 2 * hidden, ldc: gh, c)
                                }
                            }
                        }
                    }
                }
                for bIndex in 0..<batch {
                    guard step < lengths[bIndex] else {
                        for j in 0..<hidden { hNext[bIndex * hidden + j] = h[bIndex * hidden + j]; cNext[bIndex * hidden + j] = cState[bIndex * hidden + j] }
                        continue
                    }
                    let t = reverse ? lengths[bIndex] - 1 - step : step
                    let xRow = (t * batch + bIndex) * gh, hRow = bIndex * gh, s = bIndex * hidden
                    for j in 0..<hidden {
                        let hPrev = h[s + j]
                        switch cell {
                        case .rnn:
                            hNext[s + j] = f(clipped(xw[xRow + j] + hr[hRow + j]))
                        case .gru:
                            let z = f(clipped(xw[xRow + j] + hr[hRow + j]))
                            let rGate = f(clipped(xw[xRow + hidden + j] + hr[hRow + hidden + j]))
                            let candidate: Float
                            if linearBeforeReset {
                                candidate = g(clipped(xw[xRow + 2 * hidden + j] + rGate * (hr[hRow + 2 * hidden + j] + recurrentHBias[j])))
                            } else {
                                candidate = g(clipped(xw[xRow + 2 * hidden + j] + hr[hRow + 2 * hidden + j]))
                            }
                            hNext[s + j] = (1 - z) * candidate + z * hPrev
                        case .lstm:
                            let cPrev = cState[s + j]
                            let pi = pp?[j] ?? 0, po = pp?[hidden + j] ?? 0, pf = pp?[2 * hidden + j] ?? 0
                            let iGate = f(clipped(xw[xRow + j] + hr[hRow + j] + pi * cPrev))
                            let fGate = inputForget ? 1 - iGate : f(clipped(xw[xRow + 2 * hidden + j] + hr[hRow + 2 * hidden + j] + pf * cPrev))
                            let cand = g(clipped(xw[xRow + 3 * hidden + j] + hr[hRow + 3 * hidden + j]))
                            let cNew = fGate * cPrev + iGate * cand
                            let oGate = f(clipped(xw[xRow + hidden + j] + hr[hRow + hidden + j] + po * cNew))
                            cNext[s + j] = cNew
                            hNext[s + j] = oGate * hAct(cNew)
                        }
                        y[((t * directions + d) * batch + bIndex) * hidden + j] = hNext[s + j]
                    }
                }
                swap(&h, &hNext)
                if cell == .lstm { swap(&cState, &cNext) }
            }
            for k in 0..<(batch * hidden) {
                yh[d * batch * hidden + k] = h[k]
                yc[d * batch * hidden + k] = cState[k]
            }
        }

        var outputs: [Tensor] = []
        let yShape = layout == 1 ? [batch, seq, directions, hidden] : [seq, directions, batch, hidden]
        let sShape = layout == 1 ? [batch, directions, hidden] : stateShape
        if layout == 1 {
            y = permute(y, [seq, directions, batch, hidden], [2, 0, 1, 3])
            yh = permute(yh, stateShape, [1, 0, 2])
            yc = permute(yc, stateShape, [1, 0, 2])
        }
        let results = [(y, yShape), (yh, sShape), (yc, sShape)]
        for k in 0..<min(outputCount, cell == .lstm ? 3 : 2) {
            outputs.append(try store(results[k].0, shape: results[k].1, as: dtype, c))
        }
        return outputs
    }

    /// Swaps the first two axes of a 3-D float tensor.
    func transpose01(_ t: Tensor) -> Tensor {
        let s = t.shape
        let v = permute(t.scalars(as: Float.self), s, [1, 0, 2])
        return Tensor(shape: [s[1], s[0], s[2]], scalars: v)
    }

    func permute(_ v: [Float], _ shape: [Int], _ perm: [Int]) -> [Float] {
        let outShape = perm.map { shape[$0] }
        let inStrides = Shapes.strides(shape)
        let outStrides = Shapes.strides(outShape)
        var out = [Float](repeating: 0, count: v.count)
        for i in 0..<v.count {
            var src = 0
            for (k, p) in perm.enumerated() { src += ((i / outStrides[k]) % outShape[k]) * inStrides[p] }
            out[i] = v[src]
        }
        return out
    }

    func store(_ v: [Float], shape: [Int], as dtype: DType, _ c: ExecutionContext) throws -> Tensor {
        let t = try c.allocate(.float, shape)
        if !v.isEmpty { v.withUnsafeBufferPointer { t.mutablePointer(Float.self).update(from: $0.baseAddress!, count: v.count) } }
        return dtype == .float ? t : try CastOperators.cast(t, to: dtype, c)
    }
}

/// The two matrix products of a recurrent layer, per direction d (gates stacked as in ONNX):
///   input:     out[r, j] = Σ_k X[r, k] · W_d[j, k] + bias[j]          (rows × G, row stride G)
///   recurrent: out[r, j] = Σ_k A[r, k] · R_d[first + j, k] (+ bias[j]) for j < columns (row stride ldc)
/// The float form is the ONNX operators'; DynamicQuantizeLSTM supplies an int8 one.
protocol RecurrentProjections {
    func input(direction d: Int, x: UnsafePointer<Float>, rows: Int, bias: [Float],
               into out: UnsafeMutablePointer<Float>, _ c: ExecutionContext) throws
    func recurrent(direction d: Int, a: UnsafePointer<Float>, rows: Int, firstColumn: Int, columns: Int,
                   bias: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>, ldc: Int, _ c: ExecutionContext) throws
}

/// W [directions, G, input] and R [directions, G, hidden] in float: one SGEMM each, bias fused.
struct FloatRecurrentProjections: RecurrentProjections {
    let w: Tensor, r: Tensor
    let inputSize: Int, hidden: Int, gates: Int

    func input(direction d: Int, x: UnsafePointer<Float>, rows: Int, bias: [Float],
               into out: UnsafeMutablePointer<Float>, _ c: ExecutionContext) throws {
        bias.withUnsafeBufferPointer { bb in
            Kernels.sgemm(transB: true, m: rows, n: gates, k: inputSize, a: x, lda: inputSize,
                          b: w.pointer(Float.self) + d * gates * inputSize, ldb: inputSize, c: out, ldc: gates,
                          epilogue: Epilogue(bias: .perColumn(bb.baseAddress!)), pool: c.kernelPool)
        }
    }

    func recurrent(direction d: Int, a: UnsafePointer<Float>, rows: Int, firstColumn: Int, columns: Int,
                   bias: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>, ldc: Int, _ c: ExecutionContext) throws {
        let rd = r.pointer(Float.self) + (d * gates + firstColumn) * hidden
        Kernels.sgemm(transB: true, m: rows, n: columns, k: hidden, a: a, lda: hidden, b: rd, ldb: hidden, c: out, ldc: ldc,
                      epilogue: bias.map { Epilogue(bias: .perColumn($0)) } ?? .none, pool: c.kernelPool)
    }
}
