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

    // MARK: - Streaming reads

    /// Stored and deflated archives give the same batches, including the last partial one, and
    /// every pass over `batches()` starts afresh (a deflate stream restarts).
    func testStreamedBatchBoundariesStoredAndDeflated() throws {
        let dir = try TemporaryDirectory()
        let x = rows(1001)  // 1001 = 7·143: the last batch of 143-sample batches is full, of 64 is partial (41)
        for compressed in [false, true] {
            let path = dir.path(compressed ? "d.npz" : "s.npz")
            try NPZFile.write(["x": x, "label": Tensor(shape: [1001], scalars: [Int64](0..<1001))], to: path, compressed: compressed)
            for batch in [64, 143, 2000] {
                let data = try CalibrationDataSet.load(path: path, model: model(), batchSize: batch)
                XCTAssertEqual(data.batchCount, (1001 + batch - 1) / batch)
                for _ in 0..<2 {
                    let batches = Array(data.batches())
                    XCTAssertEqual(batches.map { $0["x"]!.shape[0] }.reduce(0, +), 1001)
                    XCTAssertEqual(batches.last!["x"]!.shape[0], 1001 - (data.batchCount - 1) * min(batch, 1001))
                    XCTAssertEqual(batches.flatMap { $0["x"]!.scalars(as: Float.self) }, x.scalars(as: Float.self), "compressed \(compressed), batch \(batch)")
                }
                XCTAssertEqual(try data.extra(named: "label").scalars(as: Int64.self), [Int64](0..<1001))
            }
        }
        // Numbered .npy files: one batch each, read in turn.
        let numbered = dir.path("numbered")
        try FileManager.default.createDirectory(atPath: numbered, withIntermediateDirectories: true)
        try NumPyFile.write(rows(3), to: numbered + "/0.npy")
        try NumPyFile.write(rows(2), to: numbered + "/1.npy")
        let data = try CalibrationDataSet.load(path: numbered, model: model())
        XCTAssertEqual(Array(data.batches()).map { $0["x"]!.scalars(as: Float.self) }, [rows(3).scalars(as: Float.self), rows(2).scalars(as: Float.self)])
    }

    /// Truncated or corrupt archives and members are refused when the set is loaded, with an
    /// EdgeError naming the file (and member), never a crash.
    func testCorruptAndTruncatedArchivesAreRefusedUpFront() throws {
        let dir = try TemporaryDirectory()
        let good = dir.path("good.npz"), goodDeflated = dir.path("good_deflated.npz")
        try NPZFile.write(["x": rows(400)], to: good)
        try NPZFile.write(["x": rows(400)], to: goodDeflated, compressed: true)
        let stored = try Data(contentsOf: URL(fileURLWithPath: good)), deflated = try Data(contentsOf: URL(fileURLWithPath: goodDeflated))
        func expectError(_ bytes: Data, _ fragments: [String], line: UInt = #line) throws {
            let path = dir.path("bad.npz")
            try bytes.write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try CalibrationDataSet.load(path: path, model: model()), line: line) { error in
                XCTAssertEqual((error as? EdgeError)?.kind, .badInput, "\(error)", line: line)
                XCTAssertTrue("\(error)".contains("bad.npz"), "\(error)", line: line)
                XCTAssertTrue(fragments.contains { "\(error)".contains($0) }, "\(error)", line: line)
            }
        }
        // Cut short: the central directory at the end is gone.
        try expectError(stored.prefix(stored.count / 2), ["end-of-central-directory"])
        try expectError(deflated.prefix(deflated.count / 2), ["end-of-central-directory"])
        try expectError(Data(), ["too short"])
        // A flipped byte in the array data: the CRC-32 (or the deflate stream) gives it away.
        var flipped = stored
        flipped[stored.count / 2] ^= 0xFF
        try expectError(flipped, ["CRC-32"])
        flipped = deflated
        flipped[deflated.count / 2] ^= 0x55
        try expectError(flipped, ["CRC-32", "corrupt deflate data", "deflate stream"])
        // Data removed from the middle of the member: the central directory points past the end
        // or at the wrong bytes.
        var cut = deflated
        cut.removeSubrange(200..<(deflated.count / 2))
        try expectError(cut, ["member 'x.npy'", "no local header", "truncated", "central directory", "end record"])
        // A member whose .npy header declares more rows than it holds (same header length, so the
        // archive stays consistent and only the header lies).
        let zip = dir.path("short.npz")
        try NPZFile.write(["x": rows(10)], to: zip)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: zip))
        let range = try XCTUnwrap(bytes.range(of: Data("(10, 3)".utf8)))
        bytes.replaceSubrange(range, with: Data("(20, 3)".utf8))
        try expectError(bytes, [".npy data holds 120 bytes but <f4 [20, 3] needs 240"])
    }
}
