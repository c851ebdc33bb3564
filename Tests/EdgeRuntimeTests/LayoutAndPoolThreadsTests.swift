import EdgeIR
@testable import EdgeRuntime
import XCTest

/// Transpose (coalesced, row-split across threads), Concat (byte ranges across threads) and 2-D
/// AveragePool (separable) against index loops written out here, at 1 and 2 threads, on shapes
/// large enough to take the threaded paths and odd enough to leave ragged ends.
final class LayoutAndPoolThreadsTests: XCTestCase {
    func run(_ node: Node, _ feeds: [String: Tensor], threads: Int) throws -> Tensor {
        let graph = Graph(name: "g", inputs: feeds.keys.sorted().map { ValueInfo(name: $0, tensor: TensorType(feeds[$0]!.dtype, fixed: feeds[$0]!.shape)) },
                          outputs: [ValueInfo(name: "y", type: nil)], nodes: [node])
        let model = Model(opsetImports: [OpsetImport(domain: "", version: 19)], graph: graph)
        return try Session(model: model, options: SessionOptions(threads: threads)).run(feeds)["y"]!
    }

    func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
        var g = SplitMix64(seed: seed)
        return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in g.nextFloat() * 2 - 1 })
    }

    /// out[i] = x[Σ_d index_d · stride_x(perm[d])], element by element.
    func referenceTranspose(_ x: [Float], _ shape: [Int], _ perm: [Int]) -> [Float] {
        let outShape = perm.map { shape[$0] }
        var strides = [Int](repeating: 1, count: shape.count)
        for d in stride(from: shape.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * shape[d + 1] }
        return (0..<x.count).map { flat in
            var rest = flat, at = 0
            for d in stride(from: outShape.count - 1, through: 0, by: -1) {
                at += (rest % outShape[d]) * strides[perm[d]]
                rest /= outShape[d]
            }
            return x[at]
        }
    }

    func testTransposeMatchesIndexLoop() throws {
        // A channel shuffle (coalesces to whole-plane copies), a permutation with a strided inner
        // axis, and a small one under the threading threshold; int64 exercises 8-byte moves.
        let cases: [([Int], [Int])] = [([1, 4, 34, 11, 13], [0, 2, 1, 3, 4]), ([3, 37, 5, 41], [0, 3, 1, 2]),
                                       ([2, 3, 5], [2, 0, 1]), ([1, 1, 96, 1, 201], [4, 1, 3, 2, 0])]
        for (k, (shape, perm)) in cases.enumerated() {
            let x = randomTensor(shape, seed: UInt64(k))
            let want = referenceTranspose(x.scalars(as: Float.self), shape, perm)
            for threads in [1, 2] {
                let y = try run(Node(opType: "Transpose", inputs: ["x"], outputs: ["y"], attributes: [Attribute("perm", .ints(perm.map(Int64.init)))]),
                                ["x": x], threads: threads)
                XCTAssertEqual(y.shape, perm.map { shape[$0] })
                XCTAssertEqual(y.scalars(as: Float.self), want, "shape \(shape) perm \(perm) threads \(threads)")
            }
        }
        let count = 5 * 7 * 3 * 173
        let values: [Int64] = (0..<count).map { (i: Int) -> Int64 in Int64(i) * 7 - 3 }
        let ints = Tensor(shape: [5, 7, 3, 173], scalars: values)
        let moved: [Float] = referenceTranspose(values.map { (v: Int64) -> Float in Float(v) }, [5, 7, 3, 173], [1, 0, 3, 2])
        let want: [Int64] = moved.map { (v: Float) -> Int64 in Int64(v) }
        let y = try run(Node(opType: "Transpose", inputs: ["x"], outputs: ["y"], attributes: [Attribute("perm", .ints([1, 0, 3, 2]))]),
                        ["x": ints], threads: 2)
        XCTAssertEqual(y.scalars(as: Int64.self), want)
    }

    func testConcatMatchesIndexLoop() throws {
        // Channel concat of unequal pieces (ShuffleNet: 112 + 24 planes), and a concat on an inner
        // axis (20 rows, each split between inputs; 137 kB, so both take the threaded path).
        for (shapes, axis) in [([[1, 112, 13, 17], [1, 24, 13, 17]], 1), ([[4, 5, 9, 41], [4, 5, 2, 41], [4, 5, 31, 41]], 2)] {
            let xs = shapes.enumerated().map { randomTensor($1, seed: 40 + UInt64($0)) }
            var want: [Float] = []
            let outer = shapes[0][..<axis].reduce(1, *)
            for o in 0..<outer {
                for (t, s) in zip(xs, shapes) {
                    let n = s[axis...].reduce(1, *)
                    want += t.scalars(as: Float.self)[(o * n)..<((o + 1) * n)]
                }
            }
            var feeds: [String: Tensor] = [:]
            for (k, t) in xs.enumerated() { feeds["x\(k)"] = t }
            for threads in [1, 2] {
                let y = try run(Node(opType: "Concat", inputs: xs.indices.map { "x\($0)" }, outputs: ["y"], attributes: [Attribute("axis", .int(Int64(axis)))]),
                                feeds, threads: threads)
                XCTAssertEqual(y.scalars(as: Float.self), want, "\(shapes) axis \(axis) threads \(threads)")
            }
        }
    }

    /// AveragePool by definition: the mean of the taps inside the input, over the taps inside
    /// the padded input when count_include_pad (ceil_mode taps past the end pad never count).
    func referenceAveragePool(_ x: [Float], planes: Int, ih: Int, iw: Int, oh: Int, ow: Int, k: [Int], s: [Int], d: [Int],
                              pads: [Int], includePad: Bool) -> [Float] {
        var out: [Float] = []
        for p in 0..<planes {
            for y in 0..<oh {
                for xo in 0..<ow {
                    var sum = 0.0, count = 0, padded = 0
                    for a in 0..<k[0] {
                        let r = y * s[0] - pads[0] + a * d[0]
                        if r >= ih + pads[2] { continue }
                        for b in 0..<k[1] {
                            let c = xo * s[1] - pads[1] + b * d[1]
                            if c >= iw + pads[3] { continue }
                            padded += 1
                            if r >= 0 && r < ih && c >= 0 && c < iw { sum += Double(x[(p * ih + r) * iw + c]); count += 1 }
                        }
                    }
                    let n = includePad ? padded : count
                    out.append(n > 0 ? Float(sum / Double(n)) : 0)
                }
            }
        }
        return out
    }

    func testAveragePoolMatchesDefinition() throws {
        struct Case { let shape: [Int]; let k: [Int]; let s: [Int]; let d: [Int]; let pads: [Int]; let ceil: Bool; let includePad: Bool }
        let cases = [
            Case(shape: [1, 24, 57, 57], k: [3, 3], s: [2, 2], d: [1, 1], pads: [1, 1, 1, 1], ceil: false, includePad: false),
            Case(shape: [2, 5, 29, 37], k: [3, 3], s: [2, 2], d: [1, 1], pads: [1, 1, 1, 1], ceil: true, includePad: true),
            Case(shape: [1, 9, 7, 7], k: [7, 7], s: [1, 1], d: [1, 1], pads: [0, 0, 0, 0], ceil: false, includePad: false),
            Case(shape: [1, 3, 19, 43], k: [2, 5], s: [1, 1], d: [2, 1], pads: [0, 2, 1, 2], ceil: false, includePad: true),
            Case(shape: [1, 4, 23, 50], k: [4, 3], s: [3, 3], d: [1, 2], pads: [2, 0, 2, 1], ceil: true, includePad: false),
        ]
        for (n, cs) in cases.enumerated() {
            let x = randomTensor(cs.shape, seed: 70 + UInt64(n))
            let (ih, iw) = (cs.shape[2], cs.shape[3])
            func outSize(_ i: Int, _ axis: Int) -> Int {
                let span = i + cs.pads[axis] + cs.pads[axis + 2] - (cs.d[axis] * (cs.k[axis] - 1) + 1)
                var o = (cs.ceil ? (span + cs.s[axis] - 1) / cs.s[axis] : span / cs.s[axis]) + 1
                // ceil_mode: the last window must start inside the input or its left pad.
                if cs.ceil && (o - 1) * cs.s[axis] >= i + cs.pads[axis] { o -= 1 }
                return o
            }
            let (oh, ow) = (outSize(ih, 0), outSize(iw, 1))
            let want = referenceAveragePool(x.scalars(as: Float.self), planes: cs.shape[0] * cs.shape[1], ih: ih, iw: iw, oh: oh, ow: ow,
                                            k: cs.k, s: cs.s, d: cs.d, pads: cs.pads, includePad: cs.includePad)
            for threads in [1, 2] {
                let node = Node(opType: "AveragePool", inputs: ["x"], outputs: ["y"], attributes: [
                    Attribute("kernel_shape", .ints(cs.k.map(Int64.init))), Attribute("strides", .ints(cs.s.map(Int64.init))),
                    Attribute("dilations", .ints(cs.d.map(Int64.init))), Attribute("pads", .ints(cs.pads.map(Int64.init))),
                    Attribute("ceil_mode", .int(cs.ceil ? 1 : 0)), Attribute("count_include_pad", .int(cs.includePad ? 1 : 0)),
                ])
                let y = try run(node, ["x": x], threads: threads)
                XCTAssertEqual(y.shape, [cs.shape[0], cs.shape[1], oh, ow], "case \(n)")
                let got = y.scalars(as: Float.self)
                XCTAssertEqual(got.count, want.count)
                for (i, (a, b)) in zip(got, want).enumerated() where abs(a - b) > 1e-6 {
                    XCTFail("case \(n) threads \(threads): output \(i) is \(a), want \(b)"); break
                }
            }
        }
    }

    /// GlobalAveragePool sums each plane in 16-lane accumulators: planes of 1, 15, 16, 31, 33,
    /// 49 (7×7) and 169 (13×13) elements (tail only, one vector, two, vectors plus tail) against
    /// a double-precision mean, at 1 and 2 threads.
    func testGlobalAveragePoolMatchesMean() throws {
        for (k, spatial) in [[1, 1], [3, 5], [4, 4], [31], [3, 11], [7, 7], [13, 13]].enumerated() {
            let shape = [2, 19] + spatial
            let x = randomTensor(shape, seed: UInt64(40 + k))
            let size = spatial.reduce(1, *), values = x.scalars(as: Float.self)
            let want = (0..<(2 * 19)).map { p in values[(p * size)..<((p + 1) * size)].reduce(0.0) { $0 + Double($1) } / Double(size) }
            for threads in [1, 2] {
                let y = try run(Node(opType: "GlobalAveragePool", inputs: ["x"], outputs: ["y"]), ["x": x], threads: threads)
                XCTAssertEqual(y.shape, [2, 19] + spatial.map { _ in 1 })
                for (i, v) in y.scalars(as: Float.self).enumerated() {
                    XCTAssertEqual(Double(v), want[i], accuracy: 1e-6, "spatial \(spatial) plane \(i) threads \(threads)")
                }
            }
        }
    }
}
