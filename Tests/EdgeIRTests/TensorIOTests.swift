import EdgeTestSupport
import Foundation
import OrderedCollections
import XCTest
@testable import EdgeIR

/// `.npy`, `.npz` and TensorProto `.pb` files, read from files written by numpy and onnx
/// (Tests/Corpus/tensors, made by make-tensor-files.py) and written back.
final class TensorIOTests: XCTestCase {
    private let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Corpus/tensors").standardized

    private func path(_ name: String) -> String { corpus.appendingPathComponent(name).path }

    func testReadsNumPyFilesOfEveryHeaderVersion() throws {
        let a = try NumPyFile.read(path: path("f32_2x3.npy"))
        XCTAssertEqual(a.dtype, .float)
        XCTAssertEqual(a.shape, [2, 3])
        XCTAssertEqual(a.scalars(as: Float.self), [-1, -0.5, 0, 0.5, 1, 1.5])
        let v2 = try NumPyFile.read(path: path("i64_v2.npy"))
        XCTAssertEqual(v2.scalars(as: Int64.self), [1, -2, 3_000_000_000])
        let v3 = try NumPyFile.read(path: path("u8_v3.npy"))
        XCTAssertEqual(v3.shape, [1, 2])
        XCTAssertEqual(v3.scalars(as: UInt8.self), [7, 255])
        let scalar = try NumPyFile.read(path: path("f16_scalar.npy"))
        XCTAssertEqual(scalar.shape, [])
        XCTAssertEqual(scalar.doubleValues(), [-2.5])
    }

    func testRejectsFortranOrderAndBigEndianClearly() {
        let fortran = badInputError { _ = try NumPyFile.read(path: path("fortran.npy")) }
        XCTAssertTrue(fortran?.message.contains("Fortran-order") ?? false, fortran?.message ?? "no error")
        let big = badInputError { _ = try NumPyFile.read(path: path("bigendian.npy")) }
        XCTAssertTrue(big?.message.contains("big-endian") ?? false, big?.message ?? "no error")
    }

    func testNumPyWriteMatchesNumPysOwnBytes() throws {
        // numpy's np.save output for the same array is the reference (64-byte aligned v1 header).
        let dir = try TemporaryDirectory()
        let a = try NumPyFile.read(path: path("f32_2x3.npy"))
        try NumPyFile.write(a, to: dir.path("a.npy"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir.path("a.npy"))),
                       try Data(contentsOf: URL(fileURLWithPath: path("f32_2x3.npy"))))
        let u8 = try NumPyFile.read(path: path("u8_v3.npy"))
        try NumPyFile.write(u8, to: dir.path("u8.npy"))
        XCTAssertEqual(try NumPyFile.read(path: dir.path("u8.npy")), u8)
    }

    func testTruncatedAndCorruptNumPyFiles() throws {
        let dir = try TemporaryDirectory()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path("f32_2x3.npy")))
        for (name, data) in [("short.npy", bytes.prefix(bytes.count - 4)), ("header.npy", bytes.prefix(20)),
                             ("junk.npy", Data("not numpy".utf8))] {
            try data.write(to: URL(fileURLWithPath: dir.path(name)))
            let error = badInputError { _ = try NumPyFile.read(path: dir.path(name)) }
            XCTAssertTrue(error?.description.contains(name) ?? false, error?.description ?? "no error for \(name)")
        }
    }

    func testReadsStoredAndCompressedNPZ() throws {
        for file in ["stored.npz", "compressed.npz"] {
            let arrays = try NPZFile.read(path: path(file))
            XCTAssertEqual(Array(arrays.keys), ["a", "b", "c", "d"], file)
            XCTAssertEqual(arrays["a"]?.scalars(as: Float.self), [-1, -0.5, 0, 0.5, 1, 1.5])
            XCTAssertEqual(arrays["b"]?.scalars(as: Int64.self), [1, 2, 3])
            XCTAssertEqual(arrays["c"]?.dtype, .bool)
            XCTAssertEqual(arrays["c"]?.rawBytes, [1, 0])
            XCTAssertEqual(arrays["d"]?.shape, [0, 4])
        }
    }

    func testNPZRoundTripBothWays() throws {
        let dir = try TemporaryDirectory()
        let arrays = try NPZFile.read(path: path("stored.npz"))
        for compressed in [false, true] {
            let out = dir.path("out-\(compressed).npz")
            try NPZFile.write(arrays, to: out, compressed: compressed)
            let back = try NPZFile.read(path: out)
            XCTAssertEqual(Array(back.keys), Array(arrays.keys))
            for (k, v) in arrays { XCTAssertEqual(back[k], v, k) }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).count, 2, "temporary files left")
    }

    func testCorruptNPZIsBadInput() throws {
        let dir = try TemporaryDirectory()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path("compressed.npz")))
        bytes[bytes.count / 3] ^= 0xFF  // inside the deflate stream: CRC or inflate fails
        try bytes.write(to: URL(fileURLWithPath: dir.path("bad.npz")))
        XCTAssertNotNil(badInputError { _ = try NPZFile.read(path: dir.path("bad.npz")) })
        try Data("PK but not really".utf8).write(to: URL(fileURLWithPath: dir.path("fake.npz")))
        XCTAssertNotNil(badInputError { _ = try NPZFile.read(path: dir.path("fake.npz")) })
    }

    func testReadsTensorProtoFilesWrittenByOnnx() throws {
        let half = try TensorProtoFile.read(path: path("raw_f16.pb"))
        XCTAssertEqual(half.name, "x")
        XCTAssertEqual(half.tensor.doubleValues(), [1, -2, 0.5])
        let typed = try TensorProtoFile.read(path: path("typed_i32.pb"))
        XCTAssertEqual(typed.name, "y")
        XCTAssertEqual(typed.tensor.shape, [2, 2])
        XCTAssertEqual(typed.tensor.scalars(as: Int32.self), [1, -2, 3, Int32.max])
        let strings = try TensorProtoFile.read(path: path("strings.pb"))
        XCTAssertEqual(strings.tensor.strings, [Array("edge".utf8), Array("opt".utf8)])
    }

    func testTensorProtoWriteReadRoundTrip() throws {
        let dir = try TemporaryDirectory()
        let t = Tensor(shape: [3], scalars: [Int64(-1), 0, 1 << 50])
        try TensorProtoFile.write(t, name: "z", to: dir.path("z.pb"))
        let back = try TensorProtoFile.read(path: dir.path("z.pb"))
        XCTAssertEqual(back.name, "z")
        XCTAssertEqual(back.tensor, t)
        try Data([0xFF, 0xFF, 0xFF]).write(to: URL(fileURLWithPath: dir.path("junk.pb")))
        XCTAssertNotNil(badInputError { _ = try TensorProtoFile.read(path: dir.path("junk.pb")) })
    }
}
