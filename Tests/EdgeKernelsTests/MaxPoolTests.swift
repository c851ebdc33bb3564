import EdgeKernels
import XCTest

/// `Kernels.maxPool2D` against the window loop, on every ISA: strides 1/2 (vertical any), pads,
/// windows running past the input (ceil_mode), widths below and above one vector, NaN windows.
final class MaxPoolTests: XCTestCase {
    let pool2 = ThreadPool(threads: 2)

    func reference(_ x: [Float], planes: Int, ih: Int, iw: Int, oh: Int, ow: Int, kh: Int, kw: Int, sh: Int, sw: Int,
                   pt: Int, pl: Int) -> [Float] {
        var out = [Float](repeating: 0, count: planes * oh * ow)
        for p in 0..<planes { for y in 0..<oh { for xo in 0..<ow {
            var best = -Float.infinity, nan = false
            for a in 0..<kh { for b in 0..<kw {
                let iy = y * sh - pt + a, ix = xo * sw - pl + b
                if iy < 0 || iy >= ih || ix < 0 || ix >= iw { continue }
                let v = x[(p * ih + iy) * iw + ix]
                if v.isNaN { nan = true } else if v > best { best = v }
            } }
            out[(p * oh + y) * ow + xo] = nan ? .nan : best
        } } }
        return out
    }

    func testMatchesWindowLoop() {
        // (ih, iw, kh, kw, sh, sw, pads top/left, oh, ow); oh/ow as ONNX derives them, some with
        // ceil_mode (the last window runs past the input and its pads).
        let cases: [(Int, Int, Int, Int, Int, Int, Int, Int, Int, Int)] = [
            (109, 109, 3, 3, 2, 2, 0, 0, 54, 54),   // SqueezeNet, ceil_mode
            (112, 112, 3, 3, 2, 2, 1, 1, 56, 56),   // ResNet-50
            (13, 13, 3, 3, 2, 2, 0, 0, 7, 7),       // ceil_mode, last window half outside
            (7, 9, 2, 2, 2, 2, 0, 0, 3, 4),
            (10, 21, 3, 3, 1, 1, 1, 1, 10, 21),
            (5, 3, 3, 5, 1, 2, 2, 2, 7, 2),
            (1, 1, 3, 3, 1, 1, 1, 1, 1, 1),
            (6, 40, 1, 4, 3, 2, 0, 1, 2, 20),
            (4, 4, 2, 2, 1, 1, 0, 0, 3, 3),
        ]
        for isa in KernelISA.supported {
            var rng = TestRandom(seed: 17)
            for (ih, iw, kh, kw, sh, sw, pt, pl, oh, ow) in cases {
                // Planes 0–2 hold a NaN, +∞ and −∞ (the NaN-sticky pass), planes 3–4 only finite
                // values (the plain-max pass).
                let planes = 5
                var x = rng.floats(planes * ih * iw)
                if ih * iw > 20 { x[5] = .nan; x[ih * iw + 17] = .infinity; x[2 * ih * iw + 3] = -.infinity }
                let want = reference(x, planes: planes, ih: ih, iw: iw, oh: oh, ow: ow, kh: kh, kw: kw, sh: sh, sw: sw, pt: pt, pl: pl)
                for pool in [nil, pool2] {
                    var y = [Float](repeating: 42, count: planes * oh * ow + 20)
                    Kernels.maxPool2D(x, planes: planes, ih: ih, iw: iw, oh: oh, ow: ow, kh: kh, kw: kw, sh: sh, sw: sw,
                                      padTop: pt, padLeft: pl, output: &y, pool: pool, isa: isa)
                    let what = "\(isa) in \(ih)×\(iw) k \(kh)×\(kw) s \(sh),\(sw) p \(pt),\(pl)"
                    XCTAssertEqual(Array(y[(planes * oh * ow)...]), [Float](repeating: 42, count: 20), "\(what): wrote past the output")
                    for i in 0..<want.count where !(want[i].isNaN && y[i].isNaN) && want[i] != y[i] {
                        XCTFail("\(what): [\(i)] got \(y[i]) want \(want[i])"); break
                    }
                }
            }
        }
    }

    /// ONNX's output width: floor or ceil of (i + pads − k) / s, plus 1, minus a ceil_mode window
    /// that would start in the end padding.
    func outputSize(_ i: Int, _ k: Int, _ s: Int, _ pb: Int, _ pe: Int, ceil: Bool) -> Int {
        let span = i + pb + pe - k
        var o = (ceil ? (span + s - 1) / s : span / s) + 1
        if ceil && (o - 1) * s >= i + pb { o -= 1 }
        return o
    }

    /// The row-pass paths of the 3×3 / stride-2 window (blocks of 16 outputs split one step
    /// ahead, the tap-2 lane from the next block) and the vertical pass's 32-column steps with
    /// their ragged ends, on widths around 16, 32 and 64 outputs and inputs, pads 0–2 and ceil
    /// mode, with NaN and ±∞ placed where each path reads them: the first and last rows of a
    /// window, the first and last columns of a row, the column a block takes from the next
    /// one, and the columns only a ragged (overlapping) vector covers.
    func testStrideTwoWindowsOnOddWidthsWithNaNAndInfinities() {
        var cases: [(ih: Int, iw: Int, k: Int, pad: Int, ceil: Bool)] = []
        for iw in [31, 32, 33, 34, 47, 63, 64, 65, 66, 67, 97, 111, 113] {
            cases.append((ih: 9, iw: iw, k: 3, pad: iw % 3, ceil: iw % 2 == 1))
        }
        cases += [(ih: 11, iw: 111, k: 3, pad: 0, ceil: true), (ih: 12, iw: 112, k: 3, pad: 1, ceil: false),
                  (ih: 7, iw: 65, k: 2, pad: 0, ceil: true), (ih: 8, iw: 70, k: 4, pad: 1, ceil: false),
                  (ih: 5, iw: 40, k: 5, pad: 2, ceil: true), (ih: 6, iw: 33, k: 1, pad: 0, ceil: false)]
        for isa in KernelISA.supported {
            var rng = TestRandom(seed: 29)
            for c in cases {
                let oh = outputSize(c.ih, c.k, 2, c.pad, c.pad, ceil: c.ceil), ow = outputSize(c.iw, c.k, 2, c.pad, c.pad, ceil: c.ceil)
                let plane = c.ih * c.iw
                // Plane 0: finite. Planes 1…: one special value each, at a position picked to
                // hit one read path; the last plane holds all of them.
                let spots = [0, c.iw - 1, 32, 31, 33, c.iw - 2, c.iw - 17, (c.ih - 1) * c.iw + c.iw - 1, c.iw + 64, 2 * c.iw + 30]
                let specials: [Float] = [.nan, .infinity, -.infinity]
                var planes = 1 + spots.count * specials.count + 1
                planes = min(planes, 40)
                var x = rng.floats(planes * plane)
                var p = 1
                for (i, spot) in spots.enumerated() where spot >= 0 && spot < plane {
                    for (j, v) in specials.enumerated() where p < planes - 1 {
                        x[p * plane + spot] = v
                        x[(planes - 1) * plane + (spot + 7 * i + j) % plane] = v
                        p += 1
                    }
                }
                let want = reference(x, planes: planes, ih: c.ih, iw: c.iw, oh: oh, ow: ow, kh: c.k, kw: c.k, sh: 2, sw: 2,
                                     pt: c.pad, pl: c.pad)
                for pool in [nil, pool2] {
                    var y = [Float](repeating: 42, count: planes * oh * ow + 20)
                    Kernels.maxPool2D(x, planes: planes, ih: c.ih, iw: c.iw, oh: oh, ow: ow, kh: c.k, kw: c.k, sh: 2, sw: 2,
                                      padTop: c.pad, padLeft: c.pad, output: &y, pool: pool, isa: isa)
                    let what = "\(isa) in \(c.ih)×\(c.iw) k \(c.k) p \(c.pad) ceil \(c.ceil) → \(oh)×\(ow)"
                    XCTAssertEqual(Array(y[(planes * oh * ow)...]), [Float](repeating: 42, count: 20), "\(what): wrote past the output")
                    for i in 0..<want.count where !(want[i].isNaN && y[i].isNaN) && want[i] != y[i] {
                        XCTFail("\(what): plane \(i / (oh * ow)) [\(i % (oh * ow))] got \(y[i]) want \(want[i])"); break
                    }
                }
            }
        }
    }

    /// The plain pass decides from the sums of each window column whether a plane holds NaN or
    /// ±∞. Finite values whose column sum overflows to ∞ only send the plane through the sticky
    /// pass again, which gives the same maxima.
    func testLargeFiniteValuesGiveExactMaxima() {
        let ih = 9, iw = 40, oh = 4, ow = 19
        var x = [Float](repeating: 0, count: 2 * ih * iw)
        for i in 0..<x.count { x[i] = (i % 3 == 0 ? 1 : -1) * Float.greatestFiniteMagnitude * Float(1 + i % 5) / 5 }
        let want = reference(x, planes: 2, ih: ih, iw: iw, oh: oh, ow: ow, kh: 3, kw: 3, sh: 2, sw: 2, pt: 0, pl: 0)
        for isa in KernelISA.supported {
            var y = [Float](repeating: 0, count: 2 * oh * ow)
            Kernels.maxPool2D(x, planes: 2, ih: ih, iw: iw, oh: oh, ow: ow, kh: 3, kw: 3, sh: 2, sw: 2, padTop: 0, padLeft: 0,
                              output: &y, isa: isa)
            XCTAssertEqual(y, want, "\(isa)")
        }
    }
}
