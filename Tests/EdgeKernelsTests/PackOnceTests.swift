import EdgeKernels
import XCTest

/// Weights are packed once (session compile) and re-targeted to each input geometry with
/// `with(geometry:)`; the results must match a naive reference for every size, stride and pad.
extension ConvTests {
    func testConvWeightsPackedOnceServeEveryInputGeometry() {
        // (groups, C_in, C_out, kernel): dense 3×3 (im2col), depthwise (direct kernel), grouped 1×1.
        let layers: [(Int, Int, Int, [Int])] = [(1, 6, 20, [3, 3]), (6, 6, 6, [3, 3]), (2, 8, 4, [1, 1]), (1, 3, 5, [2, 3])]
        // (input size, stride, pad)
        let inputs: [([Int], Int, Int)] = [([7, 9], 1, 1), ([12, 5], 2, 0), ([3, 3], 1, 0), ([17, 16], 2, 1)]
        for isa in KernelISA.supported {
            var rng = TestRandom(seed: 21)
            for (groups, cin, cout, kernel) in layers {
                let w = rng.floats(cout * cin / groups * kernel.reduce(1, *))
                let bias = rng.floats(cout)
                let packing = ConvWeights.packingGeometry(inChannels: cin, outChannels: cout, groups: groups, kernelSize: kernel)
                let packed = ConvWeights(weights: w, geometry: packing, isa: isa)
                for (size, stride, pad) in inputs {
                    let g = ConvGeometry(inChannels: cin, outChannels: cout, groups: groups, inputSize: size, kernelSize: kernel,
                                         strides: [stride, stride], padsBegin: [pad, pad], padsEnd: [pad, pad])
                    XCTAssertNil(g.problem)
                    let x = rng.floats(cin * g.inputPlane)
                    let want = Reference.conv(g, input: x, weights: w, bias: bias).map { Reference.activate($0, .relu) }
                    let view = packed.with(geometry: g)
                    XCTAssertEqual(view.byteCount, packed.byteCount, "a re-targeted view shares the packed weights")
                    for pool in [nil, pool2] {
                        var y = [Float](repeating: .nan, count: cout * g.outputPlane)
                        bias.withUnsafeBufferPointer { b in
                            Kernels.conv(view, input: x, bias: b.baseAddress, activation: .relu, output: &y, pool: pool)
                        }
                        assertClose(y, want, rtol: 1e-4, atol: 1e-4, "\(isa) g=\(groups) k=\(kernel) in=\(size) s=\(stride) p=\(pad)")
                    }
                }
            }
        }
    }

    func testConvTransposeWeightsPackedOnceServeEveryInputGeometry() {
        for isa in KernelISA.supported {
            var rng = TestRandom(seed: 22)
            let (cin, cout, groups, kernel) = (4, 6, 2, [3, 2])
            let w = rng.floats(cin * cout / groups * kernel.reduce(1, *))
            let packed = ConvTransposeWeights(
                weights: w, geometry: ConvTransposeGeometry(inChannels: cin, outChannels: cout, groups: groups, inputSize: [1, 1],
                                                            kernelSize: kernel, outputSize: kernel), isa: isa)
            for (size, stride) in [([3, 4], 1), ([5, 2], 2), ([6, 7], 3)] {
                let output = zip(size, kernel).map { (i, k) in stride * (i - 1) + k }
                let g = ConvTransposeGeometry(inChannels: cin, outChannels: cout, groups: groups, inputSize: size, kernelSize: kernel,
                                              outputSize: output, strides: [stride, stride])
                XCTAssertNil(g.problem)
                let x = rng.floats(cin * size.reduce(1, *))
                let want = referenceConvTranspose(g, x: x, w: w, bias: nil)
                var y = [Float](repeating: .nan, count: cout * output.reduce(1, *))
                Kernels.convTranspose(packed.with(geometry: g), input: x, bias: nil, output: &y, pool: pool2)
                assertClose(y, want, rtol: 1e-4, atol: 1e-4, "convTranspose \(isa) in=\(size) s=\(stride)")
            }
        }
    }
}
