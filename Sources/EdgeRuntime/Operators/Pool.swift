import EdgeIR
import EdgeKernels
import Foundation

/// Pooling over NCHW tensors (1-, 2- and 3-D): MaxPool (with optional Indices), AveragePool,
/// LpPool, GlobalAveragePool, GlobalMaxPool, GlobalLpPool. Planes (n, c) run in parallel.
/// AveragePool divides by the window's positions inside the input, or inside the padded input
/// with count_include_pad; positions a ceil_mode window adds past the end padding never count.
enum PoolOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("MaxPool") { b in PoolKernel(b, kind: .max) },
        OperatorSpec("AveragePool") { b in PoolKernel(b, kind: .average) },
        OperatorSpec("LpPool") { b in PoolKernel(b, kind: .lp(Double(b.int("p", 2)))) },
        OperatorSpec("GlobalAveragePool") { _ in GlobalPoolKernel(kind: .average) },
        OperatorSpec("GlobalMaxPool") { _ in GlobalPoolKernel(kind: .max) },
        OperatorSpec("GlobalLpPool") { b in GlobalPoolKernel(kind: .lp(Double(b.int("p", 2)))) },
    ]

    enum Kind: Sendable { case max, average, lp(Double) }
}

final class PoolKernel: TensorKernel {
    let window: WindowAttributes
    let kind: PoolOperators.Kind
    let countIncludePad: Bool
    let columnMajorIndices: Bool
    /// MaxPool's optional second output is requested.
    let returnsIndices: Bool

    init(_ b: KernelBuildContext, kind: PoolOperators.Kind) {
        returnsIndices = b.node.outputs.count > 1 && !b.node.outputs[1].isEmpty
        window = WindowAttributes(b)
        self.kind = kind
        countIncludePad = b.int("count_include_pad", 0) != 0
        columnMajorIndices = b.int("storage_order", 0) != 0
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let input = try i.required(0, c)
        let integer = input.dtype == .int8 || input.dtype == .uint8
        let x = integer ? try CastOperators.cast(input, to: .float, c) : try input.asFloat32(c)
        guard x.rank >= 3, x.rank <= 5 else { throw EdgeError.badInput("\(c.nodeDescription): input must be N×C×(1 to 3 spatial dims)") }
        let spatial = Array(x.shape[2...])
        let r = try window.resolve(input: spatial, kernel: nil, c)
        let rank = spatial.count
        // Work in 3-D: leading dims of size 1.
        let lead = 3 - rank
        func ext(_ v: [Int], _ fill: Int) -> [Int] { Array(repeating: fill, count: lead) + v }
        let inS = ext(spatial, 1), outS = ext(r.output, 1), k = ext(r.kernel, 1), st = ext(r.strides, 1), dl = ext(r.dilations, 1)
        let pb = ext(r.padsBegin, 0), pe = ext(r.padsEnd, 0)
        let planes = x.shape[0] * x.shape[1]
        let inPlane = inS.reduce(1, *), outPlane = outS.reduce(1, *)
        let out = try c.allocate(.float, [x.shape[0], x.shape[1]] + r.output)
        let wantIndices = returnsIndices && kindIsMax
        let indices = wantIndices ? try c.allocate(.int64, out.shape) : nil
        let src = x.pointer(Float.self), dst = out.mutablePointer(Float.self)
        let idx = indices?.mutablePointer(Int64.self)
        let kind = self.kind, includePad = countIncludePad, columnMajor = columnMajorIndices
        if rank == 2, idx == nil, !kindIsLp {
            // 2-D max/average: clipped window bounds per output row/column, no per-tap branches.
            let (ih, iw, oh, ow) = (inS[1], inS[2], outS[1], outS[2])
            let (kh, kw, sh, sw, dh, dw) = (k[1], k[2], st[1], st[2], dl[1], dl[2])
            let (ph, pw, eh, ew) = (pb[1], pb[2], pe[1], pe[2])
            if kindIsMax && Kernels.maxPool2DSupports(strideW: sw, dilations: [dh, dw]) {
                // Separable vectorized kernel in the ISA targets (EdgeKernels/Shared/MaxPoolImpl.swift).
                withExtendedLifetime((x, out)) {
                    Kernels.maxPool2D(src, planes: planes, ih: ih, iw: iw, oh: oh, ow: ow, kh: kh, kw: kw, sh: sh, sw: sw,
                                      padTop: ph, padLeft: pw, output: dst, pool: c.kernelPool)
                }
                return [input.dtype == .float ? out : try CastOperators.cast(out, to: input.dtype, c)]
            }
            func taps(_ o: Int, _ s: Int, _ p: Int, _ d: Int, _ kk: Int, _ n: Int, _ end: Int) -> (first: Int, count: Int, padded: Int) {
                let start = o * s - p
                var first = 0, count = 0, padded = 0
                for t in 0..<kk {
                    let v = start + t * d
                    if v >= n + end { continue }
                    padded += 1
                    if v >= 0 && v < n { if count == 0 { first = t }; count += 1 }
                }
                return (first, count, padded)
            }
            let rowTaps = (0..<oh).map { taps($0, sh, ph, dh, kh, ih, eh) }
            let colTaps = (0..<ow).map { taps($0, sw, pw, dw, kw, iw, ew) }
            let isMax = kindIsMax
            // Per output row: acc[xo] accumulates tap (a, b) over the output columns xo whose
            // input column xo·sw − pw + b·dw lies inside the row, in SIMD for strides 1 and 2
            // (the window's max is sticky for NaN: a NaN tap wins and stays).
            let colRanges: [(lo: Int, hi: Int)] = (0..<kw).map { b in
                let off = b * dw - pw
                let lo = off >= 0 ? 0 : (-off + sw - 1) / sw
                let hi = iw - 1 - off < 0 ? 0 : Swift.min(ow, (iw - 1 - off) / sw + 1)
                return (lo, Swift.max(lo, hi))
            }
            let divisors: [Float] = isMax ? [] : (0..<(oh * ow)).map { q in
                let rt = rowTaps[q / ow], ct = colTaps[q % ow]
                return Float(includePad ? rt.padded * ct.padded : rt.count * ct.count)
            }
            if !isMax {
                averagePool2D(src, dst, planes: planes, ih: ih, iw: iw, oh: oh, ow: ow, kw: kw, sh: sh, sw: sw, dh: dh, dw: dw,
                              ph: ph, pw: pw, rowTaps: rowTaps, divisors: divisors, c)
                return [input.dtype == .float ? out : try CastOperators.cast(out, to: input.dtype, c)]
            }
            c.parallelFor(planes, grain: 1) { range in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: ow + 16) { buffer in
                    let acc = buffer.baseAddress!
                    for plane in range {
                        let p = src + plane * inPlane, o = dst + plane * outPlane
                        for y in 0..<oh {
                            let rt = rowTaps[y]
                            let row0 = y * sh - ph + rt.first * dh
                            acc.update(repeating: isMax ? -Float.infinity : 0, count: ow)
                            for a in 0..<rt.count {
                                let line = p + (row0 + a * dh) * iw
                                for b in 0..<kw {
                                    let (lo, hi) = colRanges[b]
                                    if lo < hi { PoolRows.accumulate(acc, line + (b * dw - pw), lo, hi, sw, isMax) }
                                }
                            }
                            let orow = o + y * ow
                            if isMax {
                                orow.update(from: acc, count: ow)
                            } else {
                                let d = y * ow
                                for xo in 0..<ow { let n = divisors[d + xo]; orow[xo] = n > 0 ? acc[xo] / n : 0 }
                            }
                        }
                    }
                }
            }
            return [input.dtype == .float ? out : try CastOperators.cast(out, to: input.dtype, c)]
        }
        c.parallelFor(planes, grain: 1) { range in
            for plane in range {
                let p = src + plane * inPlane, o = dst + plane * outPlane
                var oi = 0
                for od in 0..<outS[0] {
                    for oh in 0..<outS[1] {
                        for ow in 0..<outS[2] {
                            let start = [od * st[0] - pb[0], oh * st[1] - pb[1], ow * st[2] - pb[2]]
                            var best = -Float.infinity, bestAt = -1
                            var sum = 0.0, count = 0, padded = 0
                            var sawNaN = false
                            for kd in 0..<k[0] {
                                let z = start[0] + kd * dl[0]
                                if z >= inS[0] + pe[0] { continue }
                                for kh in 0..<k[1] {
                                    let y = start[1] + kh * dl[1]
                                    if y >= inS[1] + pe[1] { continue }
                                    for kw in 0..<k[2] {
                                        let xw = start[2] + kw * dl[2]
                                        if xw >= inS[2] + pe[2] { continue }
                                        padded += 1
                                        guard z >= 0, z < inS[0], y >= 0, y < inS[1], xw >= 0, xw < inS[2] else { continue }
                                        let at = (z * inS[1] + y) * inS[2] + xw
                                        let v = p[at]
                                        count += 1
                                        switch kind {
                                        case .max:
                                            if v.isNaN { sawNaN = true }
                                            if v > best || bestAt < 0 { best = v; bestAt = at }
                                        case .average: sum += Double(v)
                                        case .lp(let power): sum += Foundation.pow(Double(Swift.abs(v)), power)
                                        }
                                    }
                                }
                            }
                            switch kind {
                            case .max:
                                o[oi] = sawNaN && best.isNaN ? .nan : best
                                if let idx {
                                    var flat = bestAt
                                    if columnMajor && bestAt >= 0 {
                                        // Column-major spatial index: w·H + h (2-D), as ONNX's storage_order=1.
                                        let h = (bestAt / inS[2]) % inS[1], w = bestAt % inS[2], dz = bestAt / (inS[1] * inS[2])
                                        flat = (dz * inS[2] + w) * inS[1] + h
                                    }
                                    idx[plane * outPlane + oi] = Int64(plane * inPlane + Swift.max(flat, 0))
                                }
                            case .average:
                                let divisor = includePad ? padded : count
                                o[oi] = divisor > 0 ? Float(sum / Double(divisor)) : 0
                            case .lp(let power):
                                o[oi] = Float(Foundation.pow(sum, 1 / power))
                            }
                            oi += 1
                        }
                    }
                }
            }
        }
        var result = out
        if input.dtype != .float { result = try CastOperators.cast(out, to: input.dtype, c) }
        return indices.map { [result, $0] } ?? [result]
    }

    /// 2-D average pooling, separable: per output row, the sum of the window's input rows (one
    /// vector pass over the row), then the sum of kw taps of that row sum, divided by the
    /// window's divisor. The row buffer keeps pw zeros on the left and zeros past the row on the
    /// right (pads and ceil_mode columns add nothing; `divisors` counts what they should), so
    /// the horizontal taps never branch. Sums taps column by column rather than row by row, a
    /// different float rounding order than the direct loop (both are exact sums of the same taps).
    private func averagePool2D(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, planes: Int,
                               ih: Int, iw: Int, oh: Int, ow: Int, kw: Int, sh: Int, sw: Int, dh: Int, dw: Int,
                               ph: Int, pw: Int, rowTaps: [(first: Int, count: Int, padded: Int)], divisors: [Float],
                               _ c: ExecutionContext) {
        // Padded columns the windows read: up to (ow − 1)·sw + (kw − 1)·dw; a stride-2 vector
        // reads 16 columns for 8 outputs, one past the last column it needs.
        let span = (ow - 1) * sw + (kw - 1) * dw + 1
        let bufLen = Swift.max(span, pw + iw) + 16
        let inPlane = ih * iw, outPlane = oh * ow
        divisors.withUnsafeBufferPointer { divisorBuffer in
            let divisorBase = divisorBuffer.baseAddress!
            c.parallelFor(planes, grain: 1) { range in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: bufLen) { buffer in
                    let row = buffer.baseAddress!
                    row.update(repeating: 0, count: bufLen)
                    let body = row + pw
                    for plane in range {
                        let p = src + plane * inPlane, o = dst + plane * outPlane
                        for y in 0..<oh {
                            let rt = rowTaps[y]
                            if rt.count == 0 {
                                body.update(repeating: 0, count: iw)
                            } else {
                                let row0 = y * sh - ph + rt.first * dh
                                body.update(from: p + row0 * iw, count: iw)
                                for a in 1..<rt.count { PoolRows.accumulate(body, p + (row0 + a * dh) * iw, 0, iw, 1, false) }
                            }
                            let orow = o + y * ow, d = divisorBase + y * ow
                            var xo = 0
                            if sw <= 2 {
                                while xo + 8 <= ow {
                                    var acc = SIMD8<Float>(repeating: 0)
                                    for b in 0..<kw {
                                        let at = UnsafePointer(row) + (xo * sw + b * dw)
                                        acc += sw == 1 ? PoolRows.load(at) : UnsafeRawPointer(at).loadUnaligned(as: SIMD16<Float>.self).evenHalf
                                    }
                                    let n = PoolRows.load(d + xo)
                                    UnsafeMutableRawPointer(orow + xo).storeBytes(of: (acc / n).replacing(with: 0, where: n .<= 0), as: SIMD8<Float>.self)
                                    xo += 8
                                }
                            }
                            while xo < ow {
                                var acc: Float = 0
                                for b in 0..<kw { acc += row[xo * sw + b * dw] }
                                let n = d[xo]
                                orow[xo] = n > 0 ? acc / n : 0
                                xo += 1
                            }
                        }
                    }
                }
            }
        }
    }

    var kindIsMax: Bool { if case .max = kind { return true } else { return false } }
    var kindIsLp: Bool { if case .lp = kind { return true } else { return false } }
}

final class GlobalPoolKernel: TensorKernel {
    let kind: PoolOperators.Kind
    init(kind: PoolOperators.Kind) { self.kind = kind }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let input = try i.required(0, c)
        let x = try input.asFloat32(c)
        guard x.rank >= 2 else { throw EdgeError.badInput("\(c.nodeDescription): input must be N×C×spatial") }
        let planes = x.shape[0] * x.shape[1]
        let size = Shapes.product(x.shape[2...])
        let out = try c.allocate(.float, [x.shape[0], x.shape[1]] + Array(repeating: 1, count: x.rank - 2))
        let src = x.pointer(Float.self), dst = out.mutablePointer(Float.self)
        let kind = self.kind
        c.parallelFor(planes, grain: 16) { range in
            for plane in range {
                let p = src + plane * size
                switch kind {
                case .average:
                    dst[plane] = GlobalPoolKernel.sum(p, size) / Float(size)
                case .max:
                    var m = -Float.infinity
                    var nan = false
                    for j in 0..<size { if p[j].isNaN { nan = true }; m = Swift.max(m, p[j]) }
                    dst[plane] = nan ? .nan : m
                case .lp(let power):
                    var s = 0.0
                    for j in 0..<size { s += Foundation.pow(Double(Swift.abs(p[j])), power) }
                    dst[plane] = Float(Foundation.pow(s, 1 / power))
                }
            }
        }
        return [input.dtype == .float ? out : try CastOperators.cast(out, to: input.dtype, c)]
    }

    /// Sum of `count` floats in two 16-lane accumulators, then the lanes and a scalar tail. A
    /// serial `s += p[j]` is one dependent add per element (SqueezeNet's 1000 × 13² pool took
    /// 0.06 ms against ORT's 0.02 ms); the order differs from the serial sum by rounding only.
    @inline(__always) static func sum(_ p: UnsafePointer<Float>, _ count: Int) -> Float {
        @inline(__always) func load(_ q: UnsafePointer<Float>) -> SIMD16<Float> {
            UnsafeRawPointer(q).loadUnaligned(as: SIMD16<Float>.self)
        }
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>()
        var j = 0
        while j &+ 32 <= count { a0 += load(p + j); a1 += load(p + (j &+ 16)); j &+= 32 }
        if j &+ 16 <= count { a0 += load(p + j); j &+= 16 }
        var s = (a0 + a1).sum()
        while j < count { s += p[j]; j &+= 1 }
        return s
    }
}

/// Row kernels of 2-D pooling: acc[xo] ⊕= line[xo·stride] for xo in [lo, hi), ⊕ = max (NaN
/// sticky) or +, vectorized for strides 1 and 2.
enum PoolRows {
    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    @inline(__always) static func combine(_ a: SIMD8<Float>, _ v: SIMD8<Float>, _ isMax: Bool) -> SIMD8<Float> {
        isMax ? a.replacing(with: v, where: (v .> a) .| (v .!= v)) : a + v
    }

    static func accumulate(_ acc: UnsafeMutablePointer<Float>, _ line: UnsafePointer<Float>, _ lo: Int, _ hi: Int,
                           _ stride: Int, _ isMax: Bool) {
        var xo = lo
        if stride == 1 {
            while xo &+ 8 <= hi {
                let r = combine(load(acc + xo), load(line + xo), isMax)
                UnsafeMutableRawPointer(acc + xo).storeBytes(of: r, as: SIMD8<Float>.self)
                xo &+= 8
            }
        } else if stride == 2 {
            // Inputs 2·xo … 2·xo + 15 hold the 8 wanted samples at even offsets; the last vector
            // reads up to 2·(hi − 1) + 1 < the row end only when hi leaves room, so stop one
            // vector early and finish in scalar.
            while xo &+ 8 < hi {
                let v = UnsafeRawPointer(line + 2 &* xo).loadUnaligned(as: SIMD16<Float>.self).evenHalf
                let r = combine(load(acc + xo), v, isMax)
                UnsafeMutableRawPointer(acc + xo).storeBytes(of: r, as: SIMD8<Float>.self)
                xo &+= 8
            }
        }
        while xo < hi {
            let v = line[xo &* stride], a = acc[xo]
            acc[xo] = isMax ? ((v > a || v != v) ? v : a) : a + v
            xo &+= 1
        }
    }
}
