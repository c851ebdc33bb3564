@testable import EdgeKernels
import XCTest

/// The implicit im2col packer (Shared/Im2ColImpl.swift) against panels built from the definition,
/// compared exactly: packing only copies samples, so every float must be bit-identical.
final class Im2ColTests: XCTestCase {
    /// Panels of rows [p0, p0 + kcb), columns [j0, j0 + cols) by the definition: row p = (c, kz, ky, kx),
    /// column j = (oz, oy, ox), value x[c, oz·s0 − pad0 + kz·d0, …] or `pad` outside the input;
    /// the columns of a last partial panel are 0.
    func referencePanels(_ g: ConvGeometry, _ x: [Float], pad: Float, nr: Int, p0: Int, kcb: Int, j0: Int, cols: Int) -> [Float] {
        let (i, o, k, s, d, pb) = g.as3D
        let panels = (cols + nr - 1) / nr
        var out = [Float](repeating: 0, count: panels * nr * kcb)
        for p in 0..<kcb {
            let r = p0 + p
            let kx = r % k[2], ky = (r / k[2]) % k[1], kz = (r / (k[2] * k[1])) % k[0], c = r / (k[0] * k[1] * k[2])
            for q in 0..<cols {
                let j = j0 + q
                let ox = j % o[2], oy = (j / o[2]) % o[1], oz = j / (o[2] * o[1])
                let iz = oz * s[0] - pb[0] + kz * d[0], iy = oy * s[1] - pb[1] + ky * d[1], ix = ox * s[2] - pb[2] + kx * d[2]
                let inside = iz >= 0 && iz < i[0] && iy >= 0 && iy < i[1] && ix >= 0 && ix < i[2]
                out[(q / nr) * nr * kcb + p * nr + q % nr] = inside ? x[((c * i[0] + iz) * i[1] + iy) * i[2] + ix] : pad
            }
        }
        return out
    }

    func check(_ g: ConvGeometry, p0: Int = 0, kcb: Int? = nil, j0: Int = 0, cols: Int? = nil,
               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNil(g.problem, file: file, line: line)
        let kcb = kcb ?? g.reductionSize - p0, cols = cols ?? g.outputPlane - j0
        var rng = TestRandom(seed: 11)
        let x = rng.floats(g.inChannels * g.inputPlane)
        for isa in KernelISA.supported {
            let ks = KernelSet.forISA(isa), nr = ks.nr
            let want = referencePanels(g, x, pad: -7, nr: nr, p0: p0, kcb: kcb, j0: j0, cols: cols)
            var got = [Float](repeating: .nan, count: want.count)
            x.withUnsafeBufferPointer { xp in
                got.withUnsafeMutableBufferPointer { gp in
                    im2colPanelPacker(g, input: xp.baseAddress!, padValue: -7, kernels: ks)(p0, kcb, j0, cols, gp.baseAddress!)
                }
            }
            let bad = zip(got, want).enumerated().first { $0.element.0.bitPattern != $0.element.1.bitPattern }
            XCTAssertNil(bad, "\(isa) \(g) p0=\(p0) j0=\(j0) cols=\(cols): first mismatch at \(bad?.offset ?? -1)", file: file, line: line)
        }
    }

    /// SqueezeNet's first layer (3→64, 3×3, stride 2, 224², no pads) in the driver's NC = 4096 slices.
    func testSqueezeNetFirstLayer() {
        let g = ConvGeometry(inChannels: 3, outChannels: 64, inputSize: [224, 224], kernelSize: [3, 3], strides: [2, 2])
        for j0 in stride(from: 0, to: g.outputPlane, by: 4096) {
            check(g, j0: j0, cols: min(4096, g.outputPlane - j0))
        }
    }

    /// Stride 2 with pads on both sides, odd widths, dilation, column slices starting mid-row and
    /// rows starting mid-kernel; output rows shorter than 9 samples take the scalar tail.
    func testStrideTwoEdges() {
        let cases: [ConvGeometry] = [
            ConvGeometry(inChannels: 3, outChannels: 8, inputSize: [37, 75], kernelSize: [3, 3], strides: [2, 2],
                         padsBegin: [1, 1], padsEnd: [1, 1]),
            ConvGeometry(inChannels: 1, outChannels: 8, inputSize: [15, 101], kernelSize: [5, 4], strides: [2, 2],
                         dilations: [1, 2], padsBegin: [2, 3], padsEnd: [0, 2]),
            ConvGeometry(inChannels: 2, outChannels: 8, inputSize: [9, 17], kernelSize: [3, 3], strides: [2, 2],
                         padsBegin: [0, 4], padsEnd: [1, 5]),
            ConvGeometry(inChannels: 3, outChannels: 8, inputSize: [11, 19], kernelSize: [7, 7], strides: [2, 2],
                         padsBegin: [3, 3], padsEnd: [3, 3]),
        ]
        for g in cases {
            check(g)
            check(g, p0: 5, kcb: 7, j0: 13, cols: 45)
            check(g, j0: g.outputPlane - 3)
        }
        // Input widths 1…80: output rows of 1 to 40 samples (every vector / overlapping-tail / scalar split).
        for w in 1...80 {
            check(ConvGeometry(inChannels: 1, outChannels: 4, inputSize: [3, w], kernelSize: [1, 1], strides: [2, 2]))
        }
    }

    /// Other strides along the row (scalar gather) and stride 1 (copies), 1-D and 3-D.
    func testOtherStrides() {
        check(ConvGeometry(inChannels: 4, outChannels: 8, inputSize: [13, 10], kernelSize: [3, 2], strides: [2, 3],
                           dilations: [2, 1], padsBegin: [2, 0], padsEnd: [1, 2]))
        check(ConvGeometry(inChannels: 3, outChannels: 8, inputSize: [20, 50], kernelSize: [3, 3], strides: [1, 4],
                           padsBegin: [1, 1], padsEnd: [1, 1]), j0: 7, cols: 40)
        check(ConvGeometry(inChannels: 5, outChannels: 8, inputSize: [12, 70], kernelSize: [3, 3],
                           padsBegin: [1, 1], padsEnd: [1, 1]), p0: 4, kcb: 30, j0: 70, cols: 300)
        check(ConvGeometry(inChannels: 3, outChannels: 4, inputSize: [40], kernelSize: [3], strides: [2], dilations: [2],
                           padsBegin: [1], padsEnd: [2]))
        check(ConvGeometry(inChannels: 2, outChannels: 3, inputSize: [5, 6, 40], kernelSize: [3, 2, 3], strides: [1, 2, 2],
                           padsBegin: [1, 0, 1], padsEnd: [0, 1, 1]))
    }
}
