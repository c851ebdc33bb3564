import EdgeIR
@testable import EdgeTransforms
import XCTest

final class EquivalenceCheckTests: XCTestCase {
    func testRelativeErrorIsMaxDifferenceOverLargestReferenceMagnitude() {
        let b = Tensor(shape: [3], scalars: [Float(10), -20, 0.001])
        let a = Tensor(shape: [3], scalars: [Float(10), -20.0002, 0.0012])
        XCTAssertEqual(EquivalenceCheck.relativeError(a, b), 0.0002 / 20, accuracy: 1e-7)
        XCTAssertEqual(EquivalenceCheck.relativeError(b, b), 0)
    }

    func testMismatchesAreInfinite() {
        let f = Tensor(shape: [2], scalars: [Float(1), 2])
        XCTAssertEqual(EquivalenceCheck.relativeError(f, Tensor(shape: [1, 2], scalars: [Float(1), 2])), .infinity)
        XCTAssertEqual(EquivalenceCheck.relativeError(Tensor(shape: [2], scalars: [Int64(1), 2]), Tensor(shape: [2], scalars: [Int64(1), 3])), .infinity)
        XCTAssertEqual(EquivalenceCheck.relativeError(Tensor(shape: [2], scalars: [Float.nan, 1]), Tensor(shape: [2], scalars: [Float(0), 1])), .infinity)
        XCTAssertEqual(EquivalenceCheck.relativeError(Tensor(shape: [2], scalars: [Float.nan, 1]), Tensor(shape: [2], scalars: [Float.nan, 1])), 0)
        XCTAssertEqual(EquivalenceCheck.relativeError(Tensor(shape: [1], scalars: [Float(1e-9)]), Tensor(shape: [1], scalars: [Float(0)])), .infinity)
    }

    func testCheckUsesGivenDataAndSeededRandomInputs() throws {
        let m = T.model([T.node("Relu", ["x"], ["y"])], inputs: [ValueInfo(name: "x", tensor: TensorType(.float, [.symbolic("batch"), .fixed(3)]))],
                        outputs: ["y"])
        let data = Tensor(shape: [2, 3], scalars: [Float(-1), 2, -3, 4, -5, 6])
        let check = try EquivalenceCheck(reference: m, seed: 3, randomSets: 2, data: [["x": data]])
        XCTAssertEqual(check.feeds.count, 3)
        XCTAssertEqual(check.feeds[0]["x"]?.shape, [2, 3], "the data's batch size sizes the random inputs too")
        XCTAssertEqual(try EquivalenceCheck(reference: m, seed: 3).feeds[0]["x"]?.shape, [1, 3], "symbolic dims default to 1")
        XCTAssertEqual(check.feeds[2]["x"], data)
        XCTAssertEqual(check.reference[2]["y"]?.scalars(as: Float.self), [0, 2, 0, 4, 0, 6])
        let again = try EquivalenceCheck(reference: m, seed: 3, randomSets: 2, data: [["x": data]])
        XCTAssertEqual(again.feeds[1]["x"], check.feeds[1]["x"], "same seed, same inputs")
        let wrong = T.model([T.node("Abs", ["x"], ["y"])], inputs: m.graph.inputs, outputs: ["y"])
        XCTAssertFalse(check.compare(wrong).passed)
        XCTAssertTrue(check.compare(m).passed)
    }
}
