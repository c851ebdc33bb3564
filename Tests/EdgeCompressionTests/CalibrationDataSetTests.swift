import EdgeIR
import EdgeTestSupport
import OrderedCollections
import XCTest
@testable import EdgeCompression

final class CalibrationDataSetTests: XCTestCase {
    func model(batch: Dim = .symbolic("batch")) -> Model {
        let input = ValueInfo(name: "x", tensor: TensorType(.float, [batch, .fixed(3)]))
        let graph = Graph(inputs: [input], outputs: [ValueInfo(name: "y", tensor: TensorType(.float, [batch, .fixed(3)]))],
                          nodes: [Node(opType: "Relu", inputs: ["x"], outputs: ["y"])])
        return Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: graph)
    }

    func rows(_ n: Int) -> Tensor { Tensor(shape: [n, 3], scalars: (0..<(3 * n)).map { Float($0) }) }

    func testNPZBatchesAndExtras() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("d.npz")
        try NPZFile.write(["x": rows(5), "label": Tensor(shape: [5], scalars: [Int64](0..<5))], to: path)
        let data = try CalibrationDataSet.load(path: path, model: model(), batchSize: 2)
        XCTAssertEqual(data.sampleCount, 5)
        XCTAssertEqual(data.batchCount, 3)
        let batches = Array(data.batches())
        XCTAssertEqual(batches.map { $0["x"]!.shape }, [[2, 3], [2, 3], [1, 3]])
        XCTAssertEqual(batches[2]["x"]!.scalars(as: Float.self), [12, 13, 14])
        let labels = try data.extra(named: "label")
        XCTAssertEqual(data.slice(extra: labels, batch: 1).scalars(as: Int64.self), [2, 3])
        XCTAssertThrowsError(try data.extra(named: "nope"))
    }

    func testFixedBatchDimensionDecidesSliceSize() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("d.npz")
        try NPZFile.write(["x": rows(4)], to: path)
        let data = try CalibrationDataSet.load(path: path, model: model(batch: .fixed(2)), batchSize: 3)
        XCTAssertEqual(data.batchCount, 2)
        try NPZFile.write(["x": rows(5)], to: path)
        XCTAssertThrowsError(try CalibrationDataSet.load(path: path, model: model(batch: .fixed(2)))) { error in
            XCTAssertTrue("\(error)".contains("multiple"), "\(error)")
        }
    }

    func testBadDataNamesTheKey() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("d.npz")
        func expectError(_ arrays: OrderedDictionary<String, Tensor>, _ fragment: String, line: UInt = #line) throws {
            try NPZFile.write(arrays, to: path)
            XCTAssertThrowsError(try CalibrationDataSet.load(path: path, model: model()), line: line) { error in
                XCTAssertEqual((error as? EdgeError)?.kind, .badInput, line: line)
                XCTAssertTrue("\(error)".contains(fragment), "\(error)", line: line)
            }
        }
        try expectError(["input": rows(2)], "no array named 'x'")
        try expectError(["x": Tensor(shape: [2, 3], scalars: [Int64](0..<6))], "'x' is int64")
        try expectError(["x": Tensor(shape: [2, 4], scalars: [Float](repeating: 0, count: 8))], "dimension 1 = 3")
        try expectError(["x": Tensor(shape: [6], scalars: [Float](repeating: 0, count: 6))], "rank 2")
        try expectError(["x": Tensor(shape: [0, 3], scalars: [Float]())], "empty")
        XCTAssertThrowsError(try CalibrationDataSet.load(path: dir.path("missing.npz"), model: model()))
    }

    func testNumberedNPYDirectory() throws {
        let dir = try TemporaryDirectory()
        try NumPyFile.write(rows(1), to: dir.path("10.npy"))
        try NumPyFile.write(rows(2), to: dir.path("2.npy"))
        let data = try CalibrationDataSet.load(path: dir.url.path, model: model())
        let batches = Array(data.batches())
        XCTAssertEqual(batches.map { $0["x"]!.shape[0] }, [2, 1])  // numeric order: 2 before 10
        XCTAssertEqual(data.sampleCount, 3)
    }

    func testNamedNPYDirectoryAndEmptyDirectory() throws {
        let dir = try TemporaryDirectory()
        XCTAssertThrowsError(try CalibrationDataSet.load(path: dir.url.path, model: model()))
        try NumPyFile.write(rows(3), to: dir.path("x.npy"))
        try NumPyFile.write(Tensor(shape: [3], scalars: [Int64](0..<3)), to: dir.path("label.npy"))
        let data = try CalibrationDataSet.load(path: dir.url.path, model: model(), batchSize: 8)
        XCTAssertEqual(data.batchCount, 1)
        XCTAssertEqual(try data.extra(named: "label").elementCount, 3)
    }

    func testONNXTestDataLayout() throws {
        let dir = try TemporaryDirectory()
        for k in 0..<2 {
            let set = dir.path("test_data_set_\(k)")
            try FileManager.default.createDirectory(atPath: set, withIntermediateDirectories: true)
            try TensorProtoFile.write(rows(k + 1), name: "", to: set + "/input_0.pb")
        }
        let data = try CalibrationDataSet.load(path: dir.url.path, model: model())
        XCTAssertEqual(Array(data.batches()).map { $0["x"]!.shape[0] }, [1, 2])
        let bad = dir.path("test_data_set_2")
        try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: true)
        try TensorProtoFile.write(Tensor(shape: [1, 4], scalars: [Float](repeating: 0, count: 4)), name: "", to: bad + "/input_0.pb")
        XCTAssertThrowsError(try CalibrationDataSet.load(path: dir.url.path, model: model())) { error in
            XCTAssertTrue("\(error)".contains("'x'"), "\(error)")
        }
    }
}
