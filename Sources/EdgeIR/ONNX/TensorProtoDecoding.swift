import Foundation
import ONNXProto

/// `TensorProto` → `Tensor`. Data may sit in `raw_data`, in the typed field the ONNX spec assigns
/// to the element type, or in an external file; every form ends as the IR's raw layout
/// (little-endian, row-major, sub-byte types packed low bits first).
///
/// Every declared size is checked against the bytes actually present before anything is
/// allocated, so a hostile file cannot make us allocate what it merely claims.
extension ProtoImporter {
    /// Upper bound on the element count of one tensor (2^48): far beyond any real model, small
    /// enough that byte counts cannot overflow `Int`.
    static let maxElementCount = 1 << 48

    /// `fileRange`: where this tensor's raw_data lies in the mapped model file, when
    /// `RawDataLocator` removed it from the decoded message.
    func tensor(_ proto: Onnx_TensorProto, what: @autoclosure () -> String, fileRange: Range<Int>? = nil) throws -> Tensor {
        let label = proto.name.isEmpty ? what() : "tensor '\(proto.name)' (\(what()))"
        guard let dtype = DType(rawValue: Int(proto.dataType)), dtype != .undefined else {
            if proto.dataType == 27 || proto.dataType == 28 {
                throw fail("\(label): element type \(proto.dataType) (float6) is not supported")
            }
            throw fail("\(label): unknown or undefined element type \(proto.dataType)")
        }
        if proto.hasSegment {
            throw fail("\(label): segmented tensors are not supported")
        }
        let shape = try checkedShape(proto.dims, label: label)
        let count = shape.reduce(1, *)
        let description = "\(dtype)\(shape)"

        if proto.hasDataLocation, proto.dataLocation == .external {
            guard dtype != .string else { throw fail("\(label): string tensors cannot use external data") }
            let storage = try externalStorage(proto, byteCount: dtype.byteCount(elements: count), label: label)
            return Tensor(dtype: dtype, shape: shape, storage: storage)
        }

        if dtype == .string {
            guard proto.stringData.count == count else {
                throw fail("\(label): string_data holds \(proto.stringData.count) strings but \(description) needs \(count)")
            }
            return Tensor(strings: proto.stringData.map { [UInt8]($0) }, shape: shape)
        }

        let needed = dtype.byteCount(elements: count)
        if let fileRange, let modelFile {
            guard fileRange.count == needed else {
                throw fail("\(label): raw_data holds \(fileRange.count) bytes but \(description) needs \(needed)")
            }
            return Tensor(dtype: dtype, shape: shape, storage: try modelFileStorage(modelFile, fileRange, dtype: dtype))
        }
        if proto.hasRawData {
            guard proto.rawData.count == needed else {
                throw fail("\(label): raw_data holds \(proto.rawData.count) bytes but \(description) needs \(needed)")
            }
            return Tensor(dtype: dtype, shape: shape, storage: DataStorage.make(proto.rawData))
        }
        let storage = try typedFieldStorage(proto, dtype: dtype, count: count, byteCount: needed,
                                            label: label, description: description)
        return Tensor(dtype: dtype, shape: shape, storage: storage)
    }

    /// Zero-copy storage for raw data inside the mapped model file when it is aligned for its
    /// element type. Otherwise an aligned copy, made in chunks after each of which the source
    /// pages are dropped from memory (they are read once, and the file still backs them), so a
    /// large misaligned tensor costs one copy, not two, at the peak.
    private func modelFileStorage(_ file: MappedFile, _ range: Range<Int>, dtype: DType) throws -> any TensorStorage {
        let alignment = min(max(dtype.bitWidth / 8, 1), 8)
        if range.lowerBound % alignment == 0 {
            return try MappedStorage(file: file, offset: range.lowerBound, byteCount: range.count)
        }
        let copy = OwnedStorage(byteCount: range.count)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let chunk = 1 << 22
        var done = 0
        while done < range.count {
            let n = min(chunk, range.count - done)
            (copy.mutableBaseAddress + done).copyMemory(from: file.baseAddress + range.lowerBound + done, byteCount: n)
            done += n
            // Release whole pages of the source that lie inside the part copied so far.
            let first = (range.lowerBound + done - n + page - 1) / page * page
            let last = (range.lowerBound + done) / page * page
            if last > first {
                _ = madvise(UnsafeMutableRawPointer(mutating: file.baseAddress + first), last - first, MADV_DONTNEED)
            }
        }
        return copy
    }

    func checkedShape(_ dims: [Int64], label: String) throws -> [Int] {
        var count = 1
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        for d in dims {
            guard d >= 0 else { throw fail("\(label): negative dimension \(d) in dims \(dims)") }
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(d))
            guard !overflow, product <= Self.maxElementCount else {
                throw fail("\(label): dims \(dims) declare an absurd number of elements")
            }
            count = product
            shape.append(Int(d))
        }
        return shape
    }

    /// The typed-field rules of onnx.proto: float_data (float, complex64), double_data (double,
    /// complex128), int64_data (int64), uint64_data (uint32, uint64), and int32_data for every
    /// type of 16 bits or fewer, holding one element per entry (bit patterns for fp16/bf16/fp8) or
    /// one packed byte per entry for 4-bit (two elements) and 2-bit (four elements) types.
    private func typedFieldStorage(_ proto: Onnx_TensorProto, dtype: DType, count: Int, byteCount: Int,
                                   label: String, description: String) throws -> any TensorStorage {
        func present(_ field: String, _ have: Int, _ need: Int) throws {
            guard have == need else {
                if have == 0 && otherFieldCount(proto) == 0 {
                    throw fail("\(label): no data for \(description) (raw_data and typed fields are empty)")
                }
                throw fail("\(label): \(field) holds \(have) values but \(description) needs \(need)")
            }
        }
        func copy<T>(_ values: [T]) -> OwnedStorage {
            values.withUnsafeBytes { OwnedStorage(copying: $0) }
        }
        /// Truncating narrowing of each int32 entry to `T` (bit patterns, as numpy's astype does).
        func narrow<T: FixedWidthInteger>(_ values: [Int32], to _: T.Type) -> OwnedStorage {
            let storage = OwnedStorage(byteCount: values.count * MemoryLayout<T>.size)
            let out = storage.mutableBaseAddress.bindMemory(to: T.self, capacity: values.count)
            for (i, v) in values.enumerated() { out[i] = T(truncatingIfNeeded: v) }
            return storage
        }
        switch dtype {
        case .float:
            try present("float_data", proto.floatData.count, count)
            return copy(proto.floatData)
        case .complex64:
            try present("float_data", proto.floatData.count, 2 * count)
            return copy(proto.floatData)
        case .double:
            try present("double_data", proto.doubleData.count, count)
            return copy(proto.doubleData)
        case .complex128:
            try present("double_data", proto.doubleData.count, 2 * count)
            return copy(proto.doubleData)
        case .int64:
            try present("int64_data", proto.int64Data.count, count)
            return copy(proto.int64Data)
        case .uint64:
            try present("uint64_data", proto.uint64Data.count, count)
            return copy(proto.uint64Data)
        case .uint32:
            try present("uint64_data", proto.uint64Data.count, count)
            let storage = OwnedStorage(byteCount: count * 4)
            let out = storage.mutableBaseAddress.bindMemory(to: UInt32.self, capacity: count)
            for (i, v) in proto.uint64Data.enumerated() { out[i] = UInt32(truncatingIfNeeded: v) }
            return storage
        case .int32:
            try present("int32_data", proto.int32Data.count, count)
            return copy(proto.int32Data)
        case .int16, .uint16, .float16, .bfloat16:
            try present("int32_data", proto.int32Data.count, count)
            return narrow(proto.int32Data, to: UInt16.self)
        case .int8, .uint8, .bool, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float8e8m0:
            try present("int32_data", proto.int32Data.count, count)
            return narrow(proto.int32Data, to: UInt8.self)
        case .int4, .uint4, .float4e2m1, .int2, .uint2:
            // Already packed: one byte per entry, ceil(count·bits/8) entries.
            try present("int32_data", proto.int32Data.count, byteCount)
            let storage = narrow(proto.int32Data, to: UInt8.self)
            clearPaddingBits(storage, dtype: dtype, count: count)
            return storage
        case .string, .undefined:
            throw fail("\(label): no typed field for \(dtype)")
        }
    }

    private func otherFieldCount(_ proto: Onnx_TensorProto) -> Int {
        proto.floatData.count + proto.int32Data.count + proto.int64Data.count + proto.doubleData.count
            + proto.uint64Data.count + proto.stringData.count
    }

    /// Zeroes the unused high bits of the last byte of a packed sub-byte tensor so that equal
    /// tensors have equal bytes.
    private func clearPaddingBits(_ storage: OwnedStorage, dtype: DType, count: Int) {
        let usedBits = (count * dtype.bitWidth) % 8
        guard usedBits != 0, storage.byteCount > 0 else { return }
        let last = storage.mutableBaseAddress.advanced(by: storage.byteCount - 1).assumingMemoryBound(to: UInt8.self)
        last.pointee &= UInt8((1 << usedBits) - 1)
    }
}
