import Foundation
import ONNXProto
import XCTest
@testable import EdgeIR

/// Typed-field decoding (onnx.proto's packing rules) for every element type, checked against
/// hand-computed raw little-endian bytes and against the same tensor stored as `raw_data`.
final class ONNXTensorDecodingTests: XCTestCase {
    typealias DT = Onnx_TensorProto.DataType

    /// Decodes `proto` inside a model, the way files reach the importer.
    private func decode(_ proto: Onnx_TensorProto) throws -> Tensor {
        let model = try ONNXReader.read(data: ProtoBuild.bytes(ProtoBuild.modelHolding(proto)), baseDirectory: nil)
        return try XCTUnwrap(model.graph.initializers[proto.name])
    }

    /// Each case: element type, dims, how the typed field is filled, the raw bytes that must result.
    private struct Case {
        var type: DT
        var dims: [Int64]
        var fill: (inout Onnx_TensorProto) -> Void
        var raw: [UInt8]
    }

    private var cases: [Case] {
        func le<T: FixedWidthInteger>(_ v: [T]) -> [UInt8] { v.flatMap { x in (0..<MemoryLayout<T>.size).map { UInt8(truncatingIfNeeded: x >> ($0 * 8)) } } }
        func floats(_ v: [Float]) -> [UInt8] { le(v.map(\.bitPattern)) }
        func doubles(_ v: [Double]) -> [UInt8] { le(v.map(\.bitPattern)) }
        return [
            Case(type: .float, dims: [3], fill: { $0.floatData = [1.5, -2, 0.25] }, raw: floats([1.5, -2, 0.25])),
            Case(type: .complex64, dims: [2], fill: { $0.floatData = [1, 2, -3, 4] }, raw: floats([1, 2, -3, 4])),
            Case(type: .double, dims: [2], fill: { $0.doubleData = [0.1, -1e300] }, raw: doubles([0.1, -1e300])),
            Case(type: .complex128, dims: [1], fill: { $0.doubleData = [1, -1] }, raw: doubles([1, -1])),
            Case(type: .int64, dims: [2], fill: { $0.int64Data = [-1, 1 << 40] }, raw: le([Int64(-1), 1 << 40])),
            Case(type: .uint64, dims: [1], fill: { $0.uint64Data = [UInt64.max] }, raw: le([UInt64.max])),
            Case(type: .uint32, dims: [2], fill: { $0.uint64Data = [1, 4_294_967_295] }, raw: le([UInt32(1), UInt32.max])),
            Case(type: .int32, dims: [2], fill: { $0.int32Data = [-7, Int32.max] }, raw: le([Int32(-7), Int32.max])),
            Case(type: .int16, dims: [2], fill: { $0.int32Data = [-2, 300] }, raw: [0xFE, 0xFF, 0x2C, 0x01]),
            Case(type: .uint16, dims: [2], fill: { $0.int32Data = [65535, 1] }, raw: [0xFF, 0xFF, 0x01, 0x00]),
            // fp16 1.0 = 0x3C00, -2.0 = 0xC000; bf16 1.0 = 0x3F80, 2.0 = 0x4000 (bit patterns in int32_data).
            Case(type: .float16, dims: [2], fill: { $0.int32Data = [0x3C00, 0xC000] }, raw: [0x00, 0x3C, 0x00, 0xC0]),
            Case(type: .bfloat16, dims: [2], fill: { $0.int32Data = [0x3F80, 0x4000] }, raw: [0x80, 0x3F, 0x00, 0x40]),
            Case(type: .int8, dims: [2], fill: { $0.int32Data = [-1, 127] }, raw: [0xFF, 0x7F]),
            Case(type: .uint8, dims: [2], fill: { $0.int32Data = [255, 0] }, raw: [0xFF, 0x00]),
            Case(type: .bool, dims: [3], fill: { $0.int32Data = [1, 0, 1] }, raw: [1, 0, 1]),
            Case(type: .float8E4M3Fn, dims: [2], fill: { $0.int32Data = [0x38, 0x7E] }, raw: [0x38, 0x7E]),
            Case(type: .float8E4M3Fnuz, dims: [1], fill: { $0.int32Data = [0x40] }, raw: [0x40]),
            Case(type: .float8E5M2, dims: [1], fill: { $0.int32Data = [0x3C] }, raw: [0x3C]),
            Case(type: .float8E5M2Fnuz, dims: [1], fill: { $0.int32Data = [0x40] }, raw: [0x40]),
            Case(type: .float8E8M0, dims: [1], fill: { $0.int32Data = [0x7F] }, raw: [0x7F]),
            // 4-bit: one packed byte per entry, first element in the low nibble: [1, -1, 7] → 0xF1, 0x07.
            Case(type: .int4, dims: [3], fill: { $0.int32Data = [0xF1, 0x07] }, raw: [0xF1, 0x07]),
            Case(type: .uint4, dims: [2], fill: { $0.int32Data = [0xF3] }, raw: [0xF3]),
            Case(type: .float4E2M1, dims: [2], fill: { $0.int32Data = [0x21] }, raw: [0x21]),
            // 2-bit: [1, -1, 0, -2, 1] → 0b10_00_11_01 = 0x8D, then 0x01.
            Case(type: .int2, dims: [5], fill: { $0.int32Data = [0x8D, 0x01] }, raw: [0x8D, 0x01]),
            Case(type: .uint2, dims: [4], fill: { $0.int32Data = [0xE4] }, raw: [0xE4]),
        ]
    }

    func testEveryNumericDTypeHasATypedFieldCase() {
        let covered = Set(cases.map { Int($0.type.rawValue) })
        let numeric = DType.allCases.filter { $0 != .undefined && $0 != .string }.map(\.rawValue)
        XCTAssertEqual(Set(numeric).subtracting(covered), [], "dtypes without a typed-field test")
    }

    func testTypedFieldsDecodeToRawLittleEndianLayout() throws {
        for c in cases {
            let typed = try decode(ProtoBuild.tensor("t", c.type, dims: c.dims, c.fill))
            XCTAssertEqual(typed.dtype.rawValue, c.type.rawValue)
            XCTAssertEqual(typed.shape, c.dims.map(Int.init))
            XCTAssertEqual(typed.rawBytes, c.raw, "\(c.type)")
            let raw = try decode(ProtoBuild.tensor("t", c.type, dims: c.dims) { $0.rawData = Data(c.raw) })
            XCTAssertEqual(raw, typed, "raw_data and typed field disagree for \(c.type)")
        }
    }

    func testDecodedValuesHaveTheirNumericMeaning() throws {
        let half = try decode(ProtoBuild.tensor("h", .float16, dims: [2]) { $0.int32Data = [0x3C00, 0xC000] })
        XCTAssertEqual(half.doubleValues(), [1, -2])
        let int4 = try decode(ProtoBuild.tensor("q", .int4, dims: [3]) { $0.int32Data = [0xF1, 0x07] })
        XCTAssertEqual(int4.doubleValues(), [1, -1, 7])
        let int2 = try decode(ProtoBuild.tensor("q", .int2, dims: [5]) { $0.int32Data = [0x8D, 0x01] })
        XCTAssertEqual(int2.doubleValues(), [1, -1, 0, -2, 1])
    }

    func testStringTensorsKeepTheirBytes() throws {
        let t = try decode(ProtoBuild.tensor("s", .string, dims: [2]) { $0.stringData = [Data("héllo".utf8), Data([0xFF, 0x00])] })
        XCTAssertEqual(t.dtype, .string)
        XCTAssertEqual(t.strings, [Array("héllo".utf8), [0xFF, 0x00]])
    }

    func testLargeRawDataIsWrappedWithoutCopy() throws {
        let values = (0..<1000).map { Float($0) }
        let t = try decode(ProtoBuild.tensor("w", .float, dims: [1000]) { $0.rawData = Data(values: values) })
        XCTAssertTrue(t.storage is DataStorage, "large raw_data should be moved, not copied")
        XCTAssertEqual(t.scalars(as: Float.self), values)
    }

    func testEmptyTensorNeedsNoData() throws {
        let t = try decode(ProtoBuild.tensor("e", .float, dims: [0, 3]) { _ in })
        XCTAssertEqual(t.shape, [0, 3])
        XCTAssertEqual(t.byteCount, 0)
    }

    func testTypedFieldCountMismatchNamesTheTensor() {
        let error = badInputError {
            _ = try decode(ProtoBuild.tensor("conv.weight", .float, dims: [4]) { $0.floatData = [1, 2, 3] })
        }
        XCTAssertNotNil(error)
        XCTAssertTrue(error?.message.contains("conv.weight") ?? false, error?.message ?? "")
        XCTAssertTrue(error?.message.contains("float_data holds 3 values") ?? false, error?.message ?? "")
    }

    func testRawDataSizeMismatchIsBadInput() {
        let error = badInputError {
            _ = try decode(ProtoBuild.tensor("w", .float, dims: [2, 3]) { $0.rawData = Data(count: 20) })
        }
        XCTAssertTrue(error?.message.contains("raw_data holds 20 bytes but float32[2, 3] needs 24") ?? false, error?.message ?? "no error")
    }

    func testAbsurdAndNegativeDimsAreRejectedBeforeAllocating() {
        // 2^40 · 2^40 elements overflow; 10^9 floats claimed with 4 bytes present; a negative dim.
        for dims: [Int64] in [[1 << 40, 1 << 40], [1_000_000_000], [3, -1]] {
            let error = badInputError {
                _ = try decode(ProtoBuild.tensor("huge", .float, dims: dims) { $0.rawData = Data(count: 4) })
            }
            XCTAssertNotNil(error, "\(dims)")
            XCTAssertTrue(error?.message.contains("huge") ?? false, error?.message ?? "")
        }
    }

    func testUnknownElementTypeIsBadInput() {
        let error = badInputError {
            var t = ProtoBuild.tensor("t", .float, dims: [1]) { $0.rawData = Data(count: 4) }
            t.dataType = 99
            _ = try decode(t)
        }
        XCTAssertTrue(error?.message.contains("element type 99") ?? false, error?.message ?? "no error")
    }
}
