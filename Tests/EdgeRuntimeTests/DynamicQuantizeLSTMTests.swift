import EdgeIR
@testable import EdgeRuntime
import Foundation
import XCTest

/// com.microsoft::DynamicQuantizeLSTM against its definition written out with scalar loops:
/// X (per direction, all steps) and H (per step) quantized to uint8 from their own range, integer
/// dot products with the transposed 8-bit W [D, I, 4H] / R [D, H, 4H], one float multiply by
/// s_a·s_w, then the LSTM gates (i o f c). The reference adds terms in the kernel's order, so the
/// two agree to float rounding of exp/tanh alone.
final class DynamicQuantizeLSTMTests: XCTestCase {
    func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

    /// uint8 dynamic quantization as ONNX Runtime's LSTM does it.
    func quantize(_ a: [Float]) -> (q: [Int32], scale: Float, zero: Int32) {
        let lo = min(0, a.min() ?? 0), hi = max(0, a.max() ?? 0)
        let scale: Float = hi == lo ? 1 : (hi - lo) / 255
        let zero = min(max(0 - lo / scale, 0), 255).rounded(.toNearestOrEven)
        return (a.map { Int32(min(max(($0 / scale).rounded(.toNearestOrEven) + zero, 0), 255)) }, scale, Int32(zero))
    }

    func testBidirectionalMatchesScalarInt8Reference() throws {
        let (seq, batch, input, hidden, dirs) = (4, 3, 5, 6, 2)
        let g = 4 * hidden
        var rng = SplitMix64(seed: 7)
        func uniform(_ n: Int, _ r: ClosedRange<Float>) -> [Float] { (0..<n).map { _ in Float.random(in: r, using: &rng) } }
        let x = uniform(seq * batch * input, -2...2)
        // W int8 per column ([D, 4H] scales, zero points 0); R uint8 per direction with zero points.
        let wq: [Int8] = (0..<(dirs * input * g)).map { _ in Int8.random(in: -127...127, using: &rng) }
        let rq: [UInt8] = (0..<(dirs * hidden * g)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let ws = uniform(dirs * g, 0.002...0.02), rs: [Float] = [0.004, 0.006], rz: [UInt8] = [128, 121]
        let bias = uniform(dirs * 2 * g, -0.5...0.5), h0 = uniform(dirs * batch * hidden, -1...1), c0 = uniform(dirs * batch * hidden, -1...1)

        var y = [Float](repeating: 0, count: seq * dirs * batch * hidden)
        var yh = [Float](repeating: 0, count: dirs * batch * hidden), yc = yh
        for d in 0..<dirs {
            let (qx, sx, zx) = quantize(x)
            var h = Array(h0[(d * batch * hidden)..<((d + 1) * batch * hidden)])
            var c = Array(c0[(d * batch * hidden)..<((d + 1) * batch * hidden)])
            for step in 0..<seq {
                let t = d == 1 ? seq - 1 - step : step
                let (qh, sh, zh) = quantize(h)
                var hNext = h
                for b in 0..<batch {
                    var pre = [Float](repeating: 0, count: g)
                    for j in 0..<g {
                        var ax: Int32 = 0, ah: Int32 = 0
                        for k in 0..<input { ax += (qx[(t * batch + b) * input + k] - zx) * Int32(wq[(d * input + k) * g + j]) }
                        for k in 0..<hidden { ah += (qh[b * hidden + k] - zh) * (Int32(rq[(d * hidden + k) * g + j]) - Int32(rz[d])) }
                        let xPart = Float(ax) * (sx * ws[d * g + j]) + (bias[d * 2 * g + j] + bias[d * 2 * g + g + j])
                        pre[j] = xPart + Float(ah) * (sh * rs[d])
                    }
                    for j in 0..<hidden {
                        let i = sigmoid(pre[j]), o = sigmoid(pre[hidden + j]), f = sigmoid(pre[2 * hidden + j]), cand = tanh(pre[3 * hidden + j])
                        c[b * hidden + j] = f * c[b * hidden + j] + i * cand
                        hNext[b * hidden + j] = o * tanh(c[b * hidden + j])
                        y[((t * dirs + d) * batch + b) * hidden + j] = hNext[b * hidden + j]
                    }
                }
                h = hNext
            }
            for k in 0..<(batch * hidden) { yh[d * batch * hidden + k] = h[k]; yc[d * batch * hidden + k] = c[k] }
        }

        let out = try QuantTestGraph.run("DynamicQuantizeLSTM", domain: "com.microsoft", opset: 17, inputs: [
            Tensor(shape: [seq, batch, input], scalars: x),
            Tensor(shape: [dirs, input, g], scalars: wq), Tensor(shape: [dirs, hidden, g], scalars: rq),
            Tensor(shape: [dirs, 2 * g], scalars: bias), nil,
            Tensor(shape: [dirs, batch, hidden], scalars: h0), Tensor(shape: [dirs, batch, hidden], scalars: c0), nil,
            Tensor(shape: [dirs, g], scalars: ws), Tensor(shape: [dirs, g], scalars: [Int8](repeating: 0, count: dirs * g)),
            Tensor(shape: [dirs], scalars: rs), Tensor(shape: [dirs], scalars: rz),
        ], constants: [1, 2, 8, 9, 10, 11],
           attributes: [Attribute("hidden_size", .int(Int64(hidden))), Attribute("direction", .string(Array("bidirectional".utf8)))],
           outputs: 3)
        XCTAssertEqual(out[0].shape, [seq, dirs, batch, hidden])
        for (got, want) in [(out[0], y), (out[1], yh), (out[2], yc)] {
            let v = got.scalars(as: Float.self)
            XCTAssertEqual(v.count, want.count)
            for (k, (a, b)) in zip(v, want).enumerated() where abs(a - b) > 1e-5 { XCTFail("[\(k)] = \(a), expected \(b)") }
        }
    }

    /// Scales whose shape is neither [D] nor [D, 4H], and a zero point of another type than W,
    /// are refused with the node named.
    func testRejectsMismatchedScaleAndZeroPoint() {
        let w = Tensor(shape: [1, 2, 8], scalars: [Int8](repeating: 1, count: 16))
        let r = Tensor(shape: [1, 2, 8], scalars: [Int8](repeating: 1, count: 16))
        func run(_ scale: Tensor, _ zero: Tensor) -> String {
            do {
                _ = try QuantTestGraph.run("DynamicQuantizeLSTM", domain: "com.microsoft", opset: 17, inputs: [
                    Tensor(shape: [1, 1, 2], scalars: [Float(1), 2]), w, r, nil, nil, nil, nil, nil,
                    scale, zero, Tensor(shape: [1], scalars: [Float(1)]), Tensor(shape: [1], scalars: [Int8(0)]),
                ], constants: [1, 2, 8, 9, 10, 11], attributes: [Attribute("hidden_size", .int(2))], outputs: 1)
                return ""
            } catch {
                return "\(error)"
            }
        }
        XCTAssertTrue(run(Tensor(shape: [3], scalars: [Float(1), 1, 1]), Tensor(shape: [3], scalars: [Int8(0), 0, 0])).contains("W_scale"))
        XCTAssertTrue(run(Tensor(shape: [1], scalars: [Float(1)]), Tensor(shape: [1], scalars: [UInt8(0)])).contains("W_zero_point"))
    }
}
