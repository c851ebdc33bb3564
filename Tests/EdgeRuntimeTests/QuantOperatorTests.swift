import EdgeIR
@testable import EdgeRuntime
import XCTest

/// Hand-computed integer results of the quantization operators: rounding half to even,
/// saturation, per-axis / blocked parameters, packed int4, zero points, exact accumulation and
/// requantization.
final class QuantOperatorTests: XCTestCase {
    func testQuantizeLinearRoundsHalfToEvenAndSaturates() throws {
        let x = Tensor(shape: [9], scalars: [Float(0.5), 1.5, 2.5, -0.5, -1.5, -2.5, 300, -300, 1.4999999])
        let y = try QuantTestGraph.run("QuantizeLinear", inputs: [x, .scalar(Float(1)), .scalar(Int8(0))])[0]
        XCTAssertEqual(y.dtype, .int8)
        XCTAssertEqual(y.scalars(as: Int8.self), [0, 2, 2, 0, -2, -2, 127, -128, 1])

        // uint8 with zero point 128, scale 2: x/2 = 0.5 1.5 2.5 −0.5 500 −500.
        let x2 = Tensor(shape: [6], scalars: [Float(1), 3, 5, -1, 1000, -1000])
        let y2 = try QuantTestGraph.run("QuantizeLinear", inputs: [x2, .scalar(Float(2)), .scalar(UInt8(128))])[0]
        XCTAssertEqual(y2.scalars(as: UInt8.self), [128, 130, 130, 128, 255, 0])

        // No zero point: uint8 output (opset 10 form).
        let y3 = try QuantTestGraph.run("QuantizeLinear", opset: 10, inputs: [x2, .scalar(Float(2))])[0]
        XCTAssertEqual(y3.dtype, .uint8)
        XCTAssertEqual(y3.scalars(as: UInt8.self), [0, 2, 2, 0, 255, 0])
    }

    func testQuantizeLinearPerAxisAndBlocked() throws {
        let x = Tensor(shape: [2, 3], scalars: [Float(1), 2, 3, 10, 20, 35])
        let y = try QuantTestGraph.run("QuantizeLinear", inputs: [x, Tensor(shape: [2], scalars: [Float(1), 10]),
                                                                  Tensor(shape: [2], scalars: [UInt8(0), 100])],
                                       attributes: [Attribute("axis", .int(0))])[0]
        XCTAssertEqual(y.scalars(as: UInt8.self), [1, 2, 3, 101, 102, 104])  // 35/10 = 3.5 → 4

        // Blocks of 2 along axis 1: scales 1 and 2; 3/2 = 1.5 → 2, 5/2 = 2.5 → 2.
        let xb = Tensor(shape: [1, 4], scalars: [Float(1), 2, 3, 5])
        let yb = try QuantTestGraph.run("QuantizeLinear", inputs: [xb, Tensor(shape: [1, 2], scalars: [Float(1), 2]),
                                                                   Tensor(shape: [1, 2], scalars: [Int8(0), 0])],
                                        attributes: [Attribute("axis", .int(1)), Attribute("block_size", .int(2))])[0]
        XCTAssertEqual(yb.scalars(as: Int8.self), [1, 2, 2, 2])
    }

    func testQuantizeLinearPacksInt4LowNibbleFirst() throws {
        let x = Tensor(shape: [4], scalars: [Float(1), -2, 7, 9])
        let zp = QuantTestGraph.raw(.int4, shape: [], bytes: [0])
        let y = try QuantTestGraph.run("QuantizeLinear", inputs: [x, .scalar(Float(1)), zp])[0]
        XCTAssertEqual(y.dtype, .int4)
        // 1, −2 (0xE), 7, 9 → saturated to 7.
        y.withUnsafeBytes { XCTAssertEqual(Array($0.prefix(2)), [0xE1, 0x77]) }
        // And back: DequantizeLinear of the packed nibbles.
        let back = try QuantTestGraph.run("DequantizeLinear", inputs: [y, .scalar(Float(1)), zp])[0]
        XCTAssertEqual(back.scalars(as: Float.self), [1, -2, 7, 7])
    }

    func testQuantizeLinearFloat8SaturatesOrNot() throws {
        // e4m3fn: max 448; 1000 saturates to 448 (0x7E) or becomes NaN (0x7F) with saturate = 0.
        let x = Tensor(shape: [3], scalars: [Float(1000), 0.3, -1000])
        let zp = QuantTestGraph.raw(.float8e4m3fn, shape: [], bytes: [0])
        let sat = try QuantTestGraph.run("QuantizeLinear", inputs: [x, .scalar(Float(1)), zp])[0]
        sat.withUnsafeBytes { XCTAssertEqual(Array($0), [0x7E, 0x2A, 0xFE]) }  // 0.3 → 0.3125 = 1.25·2⁻²
        let nonSat = try QuantTestGraph.run("QuantizeLinear", inputs: [x, .scalar(Float(1)), zp],
                                            attributes: [Attribute("saturate", .int(0))])[0]
        nonSat.withUnsafeBytes { XCTAssertEqual(Array($0), [0x7F, 0x2A, 0xFF]) }
    }

    func testDequantizeLinearPerAxis() throws {
        let x = Tensor(shape: [2, 2], scalars: [Int8(-128), 0, 5, 127])
        let y = try QuantTestGraph.run("DequantizeLinear", inputs: [x, Tensor(shape: [2], scalars: [Float(0.5), 2]),
                                                                    Tensor(shape: [2], scalars: [Int8(0), 5])],
                                       attributes: [Attribute("axis", .int(0))])[0]
        XCTAssertEqual(y.scalars(as: Float.self), [-64, 0, 0, 244])
    }

    func testDynamicQuantizeLinear() throws {
        // min −1, max 254 → scale (254 − (−1))/255 = 1, zero point 1.
        let x = Tensor(shape: [3], scalars: [Float(-1), 0, 254])
        let out = try QuantTestGraph.run("DynamicQuantizeLinear", inputs: [x], outputs: 3)
        XCTAssertEqual(out[0].scalars(as: UInt8.self), [0, 1, 255])
        XCTAssertEqual(out[1].scalars(as: Float.self), [1])
        XCTAssertEqual(out[2].scalars(as: UInt8.self), [1])
    }

    func testMatMulIntegerPerColumnZeroPoint() throws {
        // (A − 1) = [[0,1],[2,3]], (B − [5,6]) = [[0,0],[2,2]] → [[2,2],[6,6]].
        let a = Tensor(shape: [2, 2], scalars: [UInt8(1), 2, 3, 4])
        let b = Tensor(shape: [2, 2], scalars: [UInt8(5), 6, 7, 8])
        for constants in [Set<Int>(), [1, 3]] {
            let y = try QuantTestGraph.run("MatMulInteger", inputs: [a, b, .scalar(UInt8(1)), Tensor(shape: [2], scalars: [UInt8(5), 6])],
                                           constants: constants)[0]
            XCTAssertEqual(y.dtype, .int32)
            XCTAssertEqual(y.scalars(as: Int32.self), [2, 2, 6, 6], "constant inputs \(constants)")
        }
    }

    func testMatMulIntegerExtremesAccumulateExactly() throws {
        // 300 products of (255 − 0)·(−128 − 0): −9,792,000, beyond float's 2²⁴ exact range per sum.
        let k = 300
        let a = Tensor(shape: [1, k], scalars: [UInt8](repeating: 255, count: k))
        let b = Tensor(shape: [k, 1], scalars: [Int8](repeating: -128, count: k))
        let y = try QuantTestGraph.run("MatMulInteger", inputs: [a, b])[0]
        XCTAssertEqual(y.scalars(as: Int32.self), [Int32(-255 * 128 * k)])
    }

    func testConvIntegerPadsWithTheZeroPoint() throws {
        // x − 1 = [[0,1],[2,3]] padded by 1 with zeros, 2×2 kernel of ones.
        let x = Tensor(shape: [1, 1, 2, 2], scalars: [UInt8(1), 2, 3, 4])
        let w = Tensor(shape: [1, 1, 2, 2], scalars: [UInt8](repeating: 1, count: 4))
        let y = try QuantTestGraph.run("ConvInteger", inputs: [x, w, .scalar(UInt8(1)), .scalar(UInt8(0))], constants: [1],
                                       attributes: [Attribute("pads", .ints([1, 1, 1, 1]))])[0]
        XCTAssertEqual(y.shape, [1, 1, 3, 3])
        XCTAssertEqual(y.scalars(as: Int32.self), [0, 1, 1, 2, 6, 4, 2, 5, 3])
    }

    func testQLinearMatMulRequantizesHalfToEven() throws {
        // (A − 10) = [[0,10],[20,30]], B = [[1,2],[3,4]] → acc [[30,40],[110,160]];
        // multiplier 0.5·0.25/0.5 = 0.25 → 7.5, 10, 27.5, 40 → 8, 10, 28, 40; + 5.
        let a = Tensor(shape: [2, 2], scalars: [UInt8(10), 20, 30, 40])
        let b = Tensor(shape: [2, 2], scalars: [Int8(1), 2, 3, 4])
        for constants in [Set<Int>(), [3, 4, 5]] {
            let y = try QuantTestGraph.run("QLinearMatMul", inputs: [a, .scalar(Float(0.5)), .scalar(UInt8(10)), b, .scalar(Float(0.25)),
                                                                     .scalar(Int8(0)), .scalar(Float(0.5)), .scalar(UInt8(5))],
                                           constants: constants)[0]
            XCTAssertEqual(y.scalars(as: UInt8.self), [13, 15, 33, 45])
        }
    }

    func testQLinearConvPerChannelWithBias() throws {
        // x − 10 = [0, 10]; channel 0: w 3, bias 4 → [4, 34]·(0.5·0.5/0.25 = 1) → 104, 134;
        // channel 1: w −2, bias −3 → [−3, −23]·0.5 = −1.5, −11.5 → −2, −12 → 98, 88.
        let x = Tensor(shape: [1, 1, 1, 2], scalars: [UInt8(10), 20])
        let w = Tensor(shape: [2, 1, 1, 1], scalars: [Int8(3), -2])
        let y = try QuantTestGraph.run("QLinearConv", inputs: [
            x, .scalar(Float(0.5)), .scalar(UInt8(10)),
            w, Tensor(shape: [2], scalars: [Float(0.5), 0.25]), Tensor(shape: [2], scalars: [Int8(0), 0]),
            .scalar(Float(0.25)), .scalar(UInt8(100)), Tensor(shape: [2], scalars: [Int32(4), -3]),
        ], constants: [3, 4, 5, 8])[0]
        XCTAssertEqual(y.shape, [1, 2, 1, 2])
        XCTAssertEqual(y.scalars(as: UInt8.self), [104, 134, 98, 88])
    }

    /// QLinearConv keeps its constant scales, zero points and bias (and the last input size's
    /// prepared weights) across runs: a session fed another input size, then the first again,
    /// still computes each one. Channel 0: (x − 10)·3 + 4 at multiplier 1; channel 1:
    /// ((x − 10)·(−2) − 3)·0.5 rounded half to even; both + 100.
    func testQLinearConvReusesConstantParametersAcrossInputSizes() throws {
        var graph = Graph(name: "test")
        let constants: [(String, Tensor)] = [
            ("xs", .scalar(Float(0.5))), ("xz", .scalar(UInt8(10))), ("w", Tensor(shape: [2, 1, 1, 1], scalars: [Int8(3), -2])),
            ("ws", Tensor(shape: [2], scalars: [Float(0.5), 0.25])), ("wz", Tensor(shape: [2], scalars: [Int8(0), 0])),
            ("ys", .scalar(Float(0.25))), ("yz", .scalar(UInt8(100))), ("b", Tensor(shape: [2], scalars: [Int32(4), -3])),
        ]
        for (name, t) in constants { graph.initializers[name] = t }
        graph.inputs = [ValueInfo(name: "x", tensor: TensorType(.uint8, [.fixed(1), .fixed(1), .symbolic("h"), .symbolic("w")]))]
        graph.nodes = [Node(name: "conv", opType: "QLinearConv", inputs: ["x"] + constants.map(\.0), outputs: ["y"])]
        graph.outputs = [ValueInfo(name: "y", type: nil)]
        let session = try Session(model: Model(opsetImports: [OpsetImport(domain: "", version: 21)], graph: graph),
                                  options: SessionOptions(threads: 1))
        let first = Tensor(shape: [1, 1, 1, 2], scalars: [UInt8(10), 20])
        let second = Tensor(shape: [1, 1, 3, 1], scalars: [UInt8(12), 10, 30])
        for (x, want) in [(first, [UInt8(104), 134, 98, 88]), (second, [110, 104, 164, 96, 98, 78]), (first, [104, 134, 98, 88])] {
            let y = try XCTUnwrap(session.run(["x": x])["y"])
            XCTAssertEqual(y.shape, [1, 2] + Array(x.shape[2...]))
            XCTAssertEqual(y.scalars(as: UInt8.self), want, "input \(x.shape)")
        }
    }

    func testIncompatibleScalesAreReportedNotCrashing() {
        let a = Tensor(shape: [2, 3], scalars: [UInt8](repeating: 1, count: 6))
        let b = Tensor(shape: [3, 4], scalars: [UInt8](repeating: 2, count: 12))
        let perRow = Tensor(shape: [2], scalars: [Float(1), 2]), perColumn = Tensor(shape: [4], scalars: [Float(1), 2, 3, 4])
        XCTAssertThrowsError(try QuantTestGraph.run("QLinearMatMul", inputs: [a, perRow, .scalar(UInt8(0)), b, perColumn, .scalar(UInt8(0)),
                                                                          .scalar(Float(1)), .scalar(UInt8(0))]))
        XCTAssertThrowsError(try QuantTestGraph.run("QLinearMatMul", inputs: [a, Tensor(shape: [0], scalars: [Float]()), .scalar(UInt8(0)), b,
                                                                          .scalar(Float(1)), .scalar(UInt8(0)), .scalar(Float(1)), .scalar(UInt8(0))]))
        // LSTM weights of the wrong shape.
        XCTAssertThrowsError(try QuantTestGraph.run("LSTM", opset: 14, inputs: [
            Tensor(shape: [1, 1, 2], scalars: [Float(1), 2]), Tensor(shape: [1, 4, 3], scalars: [Float](repeating: 0, count: 12)),
            Tensor(shape: [1, 4, 1], scalars: [Float](repeating: 0, count: 4)),
        ], attributes: [Attribute("hidden_size", .int(1))])) { error in
            XCTAssertTrue("\(error)".contains("do not match"), "\(error)")
        }
    }

    func testBadZeroPointTypeIsReported() {
        let x = Tensor(shape: [2], scalars: [UInt8(1), 2])
        XCTAssertThrowsError(try QuantTestGraph.run("DequantizeLinear", inputs: [x, .scalar(Float(1)), .scalar(Int8(0))])) { error in
            XCTAssertTrue("\(error)".contains("zero point"), "\(error)")
        }
    }
}
