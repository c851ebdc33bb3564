import EdgeIR
import XCTest
@testable import EdgeCompression

final class QuantizationParameterTests: XCTestCase {
    func testAsymmetricUInt8() {
        let a = ActivationQuantization(range: 0...2.55, type: .uint8, symmetric: false)
        XCTAssertEqual(a.scale, 0.01, accuracy: 1e-7)
        XCTAssertEqual(a.zeroPoint, 0)
        // [−1, 3]: scale 4/255, zero point round(1 / (4/255)) = round(63.75) = 64.
        let b = ActivationQuantization(range: -1...3, type: .uint8, symmetric: false)
        XCTAssertEqual(b.scale, 4.0 / 255, accuracy: 1e-7)
        XCTAssertEqual(b.zeroPoint, 64)
        // [−1, 1]: 1 / Float(2/255) is 127.49999 in float32, so the zero point is 127 (as float32
        // arithmetic in ONNX Runtime's quantizer gives), not the 128 of exact arithmetic.
        XCTAssertEqual(ActivationQuantization(range: -1...1, type: .uint8, symmetric: false).zeroPoint, 127)
        // A range not containing 0 is widened to contain it: [1, 2] → [0, 2].
        let c = ActivationQuantization(range: 1...2, type: .uint8, symmetric: false)
        XCTAssertEqual(c.scale, 2.0 / 255, accuracy: 1e-7)
        XCTAssertEqual(c.zeroPoint, 0)
    }

    func testSymmetricInt8AndDegenerateRange() {
        let a = ActivationQuantization(range: -2...1, type: .int8, symmetric: true)
        XCTAssertEqual(a.scale, 2.0 / 127, accuracy: 1e-7)
        XCTAssertEqual(a.zeroPoint, 0)
        let z = ActivationQuantization(range: 0...0, type: .int8, symmetric: false)
        XCTAssertEqual(z.scale, 1)
        XCTAssertEqual(z.zeroPoint, -128)
        // Asymmetric int8 over [−1, 3]: scale 4/255, zero point −128 + round(1 / (4/255)) = −128 + 64 = −64.
        let i = ActivationQuantization(range: -1...3, type: .int8, symmetric: false)
        XCTAssertEqual(i.scale, 4.0 / 255, accuracy: 1e-7)
        XCTAssertEqual(i.zeroPoint, -64)
    }

    func testPerChannelWeightAxis0() throws {
        let w = Tensor(shape: [2, 3], scalars: [Float(0.5), -1, 0.25, 2, 0, -2])
        let q = try QuantizedWeight(w, axis: 0)
        XCTAssertEqual(q.scales[0], 1.0 / 127, accuracy: 1e-9)
        XCTAssertEqual(q.scales[1], 2.0 / 127, accuracy: 1e-9)
        // 0.5·127 = 63.5 → 64 (ties to even), 0.25·127 = 31.75 → 32.
        XCTAssertEqual(q.values.scalars(as: Int8.self), [64, -127, 32, 127, 0, -127])
        XCTAssertEqual(q.scaleTensor.shape, [2])
        XCTAssertEqual(q.zeroPointTensor.scalars(as: Int8.self), [0, 0])
    }

    func testPerChannelWeightAxis1AndReconstructionError() throws {
        // Gemm B without transB is [K, N]: channels are columns (axis 1).
        let values: [Float] = (0..<12).map { Float(sin(Double($0) * 1.3)) * Float($0 % 3 + 1) }
        let w = Tensor(shape: [4, 3], scalars: values)
        let q = try QuantizedWeight(w, axis: 1)
        XCTAssertEqual(q.scales.count, 3)
        for c in 0..<3 {
            let column = stride(from: c, to: 12, by: 3).map { abs(values[$0]) }
            XCTAssertEqual(q.scales[c], column.max()! / 127, accuracy: 1e-9)
        }
        let ints = q.values.scalars(as: Int8.self)
        for i in 0..<12 {
            let s = q.scales[i % 3]
            XCTAssertLessThanOrEqual(abs(Float(ints[i]) * s - values[i]), s / 2 + 1e-7)
        }
    }

    func testPerTensorWeightAndZeroChannel() throws {
        let w = Tensor(shape: [2, 2], scalars: [Float(0), 0, 1, -0.5])
        let perTensor = try QuantizedWeight(w, axis: nil)
        XCTAssertEqual(perTensor.scales, [1.0 / 127])
        XCTAssertEqual(perTensor.values.scalars(as: Int8.self), [0, 0, 127, -64])  // −63.5 → −64 (even)
        let perChannel = try QuantizedWeight(w, axis: 0)
        XCTAssertEqual(perChannel.scales[0], 1)  // all-zero channel
        XCTAssertThrowsError(try QuantizedWeight(Tensor(shape: [2], scalars: [Int64(1), 2]), axis: nil))
    }
}
