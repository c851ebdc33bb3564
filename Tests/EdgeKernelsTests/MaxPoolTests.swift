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
}
