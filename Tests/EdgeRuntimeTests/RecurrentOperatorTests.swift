import EdgeIR
@testable import EdgeRuntime
import Foundation
import XCTest

/// RNN/GRU/LSTM features the ONNX node suite does not cover (sequence_lens with reverse,
/// layout = 1, clip, linear_before_reset, activations with alpha), checked against the spec's
/// equations written out directly with scalar loops.
final class RecurrentOperatorTests: XCTestCase {
    func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

    /// RNN with hidden 1, input 1: H_t = tanh(W·x_t + R·H_{t−1} + Wb + Rb).
    func testRNNReverseWithSequenceLengths() throws {
        // seq 3, batch 2, lengths [3, 1]; reverse runs t = L−1 … 0 per batch entry.
        let xs: [[Float]] = [[1, 0.5], [-1, 9], [0.25, 9]]  // [t][b]; 9s are beyond batch 1's length
        let x = Tensor(shape: [3, 2, 1], scalars: xs.flatMap { $0 })
        let w = Tensor(shape: [1, 1, 1], scalars: [Float(2)])
        let r = Tensor(shape: [1, 1, 1], scalars: [Float(0.5)])
        let b = Tensor(shape: [1, 2], scalars: [Float(0.1), 0.2])
        let lens = Tensor(shape: [2], scalars: [Int32(3), 1])
        let out = try QuantTestGraph.run("RNN", opset: 14, inputs: [x, w, r, b, lens], constants: [1, 2, 3],
                                         attributes: [Attribute("hidden_size", .int(1)), Attribute("direction", .string(Array("reverse".utf8)))],
                                         outputs: 2)
        var expectedY = [Float](repeating: 0, count: 6)  // [t][dir][b][h]
        var h: Float = 0
        for t in stride(from: 2, through: 0, by: -1) {
            h = tanh(2 * xs[t][0] + 0.5 * h + 0.3)
            expectedY[t * 2 + 0] = h
        }
        let hb = tanh(2 * xs[0][1] + 0.3)
        expectedY[1] = hb
        XCTAssertEqual(out[0].shape, [3, 1, 2, 1])
        assertClose(out[0].scalars(as: Float.self), expectedY)
        assertClose(out[1].scalars(as: Float.self), [h, hb])
    }

    /// GRU with linear_before_reset = 1 and clip, hidden 1:
    /// z = σ(clip(Wz x + Rz h + bz)), r = σ(clip(Wr x + Rr h + br)),
    /// n = tanh(clip(Wn x + Wbn + r·(Rn h + Rbn))), h' = (1 − z)·n + z·h.
    func testGRULinearBeforeResetWithClip() throws {
        let xs: [Float] = [3, -2]
        let wv: [Float] = [0.5, -1, 2], rv: [Float] = [0.3, 0.7, -0.4]
        let bv: [Float] = [0.1, 0.2, 0.3, 0.05, -0.1, 0.6]
        let clip: Float = 1.5
        func c(_ v: Float) -> Float { min(max(v, -clip), clip) }
        var h: Float = 0.2
        var ys: [Float] = []
        for x in xs {
            let z = sigmoid(c(wv[0] * x + rv[0] * h + bv[0] + bv[3]))
            let rg = sigmoid(c(wv[1] * x + rv[1] * h + bv[1] + bv[4]))
            let n = tanh(c(wv[2] * x + bv[2] + rg * (rv[2] * h + bv[5])))
            h = (1 - z) * n + z * h
            ys.append(h)
        }
        let out = try QuantTestGraph.run("GRU", opset: 14, inputs: [
            Tensor(shape: [2, 1, 1], scalars: xs), Tensor(shape: [1, 3, 1], scalars: wv), Tensor(shape: [1, 3, 1], scalars: rv),
            Tensor(shape: [1, 6], scalars: bv), nil, Tensor(shape: [1, 1, 1], scalars: [Float(0.2)]),
        ], attributes: [Attribute("hidden_size", .int(1)), Attribute("linear_before_reset", .int(1)), Attribute("clip", .float(clip))],
           outputs: 2)
        assertClose(out[0].scalars(as: Float.self), ys)
        assertClose(out[1].scalars(as: Float.self), [h])
    }

    /// LSTM with layout = 1 (batch first) gives the layout-0 results transposed; the activations
    /// list (f = HardSigmoid with alpha/beta, g = h = Tanh) is honoured.
    func testLSTMLayoutOneAndActivations() throws {
        let seq = 3, batch = 2, input = 2, hidden = 2
        var rng = SystemRandomNumberGenerator()
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -1...1, using: &rng) } }
        let x = random(seq * batch * input), w = random(4 * hidden * input), r = random(4 * hidden * hidden), b = random(8 * hidden)
        let activations: [[UInt8]] = ["HardSigmoid", "Tanh", "Tanh"].map { Array($0.utf8) }
        let attrs = [Attribute("hidden_size", .int(Int64(hidden))), Attribute("activations", .strings(activations)),
                     Attribute("activation_alpha", .floats([0.3])), Attribute("activation_beta", .floats([0.4]))]
        let wT = Tensor(shape: [1, 4 * hidden, input], scalars: w), rT = Tensor(shape: [1, 4 * hidden, hidden], scalars: r)
        let bT = Tensor(shape: [1, 8 * hidden], scalars: b)
        let out0 = try QuantTestGraph.run("LSTM", opset: 14, inputs: [Tensor(shape: [seq, batch, input], scalars: x), wT, rT, bT],
                                          attributes: attrs, outputs: 3)
        // Reference: the spec's equations, gates i o f c, f(x) = max(0, min(1, 0.3x + 0.4)).
        func f(_ v: Float) -> Float { max(0, min(1, 0.3 * v + 0.4)) }
        var y = [Float](repeating: 0, count: seq * batch * hidden)
        var hs = [Float](repeating: 0, count: batch * hidden), cs = hs
        for t in 0..<seq {
            var hn = hs, cn = cs
            for bi in 0..<batch {
                for j in 0..<hidden {
                    var g = [Float](repeating: 0, count: 4)
                    for gate in 0..<4 {
                        let row = gate * hidden + j
                        var s = b[row] + b[4 * hidden + row]
                        for k in 0..<input { s += w[row * input + k] * x[(t * batch + bi) * input + k] }
                        for k in 0..<hidden { s += r[row * hidden + k] * hs[bi * hidden + k] }
                        g[gate] = s
                    }
                    let i = f(g[0]), o = f(g[1]), fg = f(g[2]), cand = tanh(g[3])
                    cn[bi * hidden + j] = fg * cs[bi * hidden + j] + i * cand
                    hn[bi * hidden + j] = o * tanh(cn[bi * hidden + j])
                    y[(t * batch + bi) * hidden + j] = hn[bi * hidden + j]
                }
            }
            hs = hn; cs = cn
        }
        assertClose(out0[0].scalars(as: Float.self), y)
        assertClose(out0[1].scalars(as: Float.self), hs)
        assertClose(out0[2].scalars(as: Float.self), cs)

        // Batch first: X [batch, seq, input] → Y [batch, seq, 1, hidden], Y_h [batch, 1, hidden].
        var xb = [Float](repeating: 0, count: x.count)
        for t in 0..<seq { for bi in 0..<batch { for k in 0..<input { xb[(bi * seq + t) * input + k] = x[(t * batch + bi) * input + k] } } }
        let out1 = try QuantTestGraph.run("LSTM", opset: 14, inputs: [Tensor(shape: [batch, seq, input], scalars: xb), wT, rT, bT],
                                          attributes: attrs + [Attribute("layout", .int(1))], outputs: 3)
        XCTAssertEqual(out1[0].shape, [batch, seq, 1, hidden])
        XCTAssertEqual(out1[1].shape, [batch, 1, hidden])
        var yb = [Float](repeating: 0, count: y.count)
        for t in 0..<seq { for bi in 0..<batch { for j in 0..<hidden { yb[(bi * seq + t) * hidden + j] = y[(t * batch + bi) * hidden + j] } } }
        assertClose(out1[0].scalars(as: Float.self), yb)
        assertClose(out1[1].scalars(as: Float.self), hs)
    }

    func assertClose(_ got: [Float], _ want: [Float], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, file: file, line: line)
        for (k, (g, w)) in zip(got, want).enumerated() where abs(g - w) > 1e-5 * max(1, abs(w)) {
            XCTFail("[\(k)] = \(g), expected \(w)", file: file, line: line)
            return
        }
    }
}
