import CZlib  // zlib, which ZIPFoundation links; its raw inflate is read incrementally here
import Foundation

/// One array of a `.npy` file or `.npz` member known by its header, whose rows (slices along
/// axis 0) are read when asked for — so a data set of any size costs the memory of one batch.
///
/// - A `.npy` file or a stored `.npz` member: the rows are `pread` from their byte range.
/// - A deflated `.npz` member: zlib inflates the member's stream forward into the rows asked for,
///   keeping one 64 KiB input buffer and its 32 KiB window; reading rows that lie before the
///   current position restarts the stream.
///
/// `verify()` reads everything once (CRC-32 and sizes for members; a deflate stream must end
/// exactly at its declared size), so a corrupt or truncated file is reported before work starts.
public struct NumPyArraySource: Sendable {
    /// The file, or "file member 'name.npy'", for messages.
    public let label: String
    public let dtype: DType
    public let shape: [Int]
    let path: String
    /// File offset of the `.npy` bytes (stored) or of the member's deflate stream.
    let offset: UInt64
    let compressed: Bool
    let compressedSize: UInt64
    /// Size of the whole `.npy` (header + data) and its CRC-32 (nil for a plain `.npy` file).
    let npySize: UInt64
    let crc32: UInt32?
    /// Bytes of `.npy` header before the array data.
    let headerSize: Int

    /// Samples along axis 0 (1 for a scalar).
    public var rowCount: Int { shape.first ?? 1 }
    var rowBytes: Int { dtype.byteCount(elements: shape.dropFirst().reduce(1, *)) }

    /// A `.npy` file: its header only.
    public static func npy(path: String) throws -> NumPyArraySource {
        let file = try ReadOnlyFile(path: path)
        let header = try readHeader(label: path, total: file.size) { n in try file.read(at: 0, count: Int(min(UInt64(n), file.size))) }
        return NumPyArraySource(label: path, dtype: header.dtype, shape: header.shape, path: path, offset: 0, compressed: false,
                                compressedSize: file.size, npySize: file.size, crc32: nil, headerSize: header.dataOffset)
    }

    /// Every `.npy` member of an `.npz`, in archive order, by key (member name without `.npy`).
    static func members(ofArchive path: String) throws -> [(key: String, source: NumPyArraySource)] {
        let file = try ReadOnlyFile(path: path)
        let directory = try ZIPDirectory(file: file)
        var result: [(key: String, source: NumPyArraySource)] = []
        for member in directory.members where !member.path.hasSuffix("/") {
            let label = "\(path) member '\(member.path)'"
            guard member.method == 0 || member.method == 8 else {
                throw EdgeError.badInput("\(label): compression method \(member.method) is not supported (stored or deflate)", file: path)
            }
            let compressed = member.method == 8
            guard compressed || member.compressedSize == member.uncompressedSize else {
                throw EdgeError.badInput("\(label): stored member declares \(member.compressedSize) bytes stored but \(member.uncompressedSize) uncompressed", file: path)
            }
            // Deflate cannot expand more than ~1032:1; a larger declared size is a lie.
            guard !compressed || member.uncompressedSize <= max(member.compressedSize, 1) * 1032 + 1024 else {
                throw EdgeError.badInput("\(label): declares an implausible size of \(member.uncompressedSize) bytes", file: path)
            }
            var source = NumPyArraySource(label: label, dtype: .float, shape: [], path: path, offset: member.dataOffset, compressed: compressed,
                                          compressedSize: member.compressedSize, npySize: member.uncompressedSize, crc32: member.crc32, headerSize: 0)
            let header = try readHeader(label: label, total: member.uncompressedSize) { n in
                let reader = try NumPyRowReader(source)
                return try reader.bytes(Int(min(UInt64(n), member.uncompressedSize)))
            }
            source = NumPyArraySource(label: label, dtype: header.dtype, shape: header.shape, path: path, offset: member.dataOffset,
                                      compressed: compressed, compressedSize: member.compressedSize, npySize: member.uncompressedSize,
                                      crc32: member.crc32, headerSize: header.dataOffset)
            let key = member.path.hasSuffix(".npy") ? String(member.path.dropLast(4)) : member.path
            guard !result.contains(where: { $0.key == key }) else {
                throw EdgeError.badInput("\(path): member '\(key)' appears twice", file: path)
            }
            result.append((key, source))
        }
        return result
    }

    /// Parses the header from the first bytes (`prefix(n)` returns up to n bytes).
    private static func readHeader(label: String, total: UInt64, prefix: (Int) throws -> [UInt8]) throws -> NumPyFile.Header {
        let start = try prefix(12)
        guard start.count >= 10, start.prefix(6).elementsEqual(NumPyFile.magic) else {
            throw EdgeError.badInput("\(label): not a .npy file (no \\x93NUMPY magic)", file: label)
        }
        let long = start[6] >= 2
        guard !long || start.count >= 12 else { throw EdgeError.badInput("\(label): truncated .npy header", file: label) }
        let length = Int(start[8]) | Int(start[9]) << 8 | (long ? Int(start[10]) << 16 | Int(start[11]) << 24 : 0)
        let bytes = try prefix((long ? 12 : 10) + min(length, NumPyFile.maxHeaderLength + 1))
        return try bytes.withUnsafeBytes { try NumPyFile.parseHeader($0, label: label, totalByteCount: total) }
    }

    /// Reads the whole file once: sizes, CRC-32 (members) and, for deflate, a stream that ends
    /// exactly at the declared size.
    public func verify() throws {
        guard compressed || crc32 != nil else { return }  // a .npy file: its size was checked against the header
        let reader = try NumPyRowReader(self)
        try reader.skip(to: npySize)
        try reader.finish()
    }

    /// The whole array (checked by `verify()` first).
    public func readAll() throws -> Tensor {
        try verify()
        return try NumPyRowReader(self).rows(0, rowCount)
    }
}

/// Reads rows of one `NumPyArraySource`, forward (any order for uncompressed data).
public final class NumPyRowReader {
    let source: NumPyArraySource
    private let file: ReadOnlyFile
    /// Position in the `.npy` bytes.
    private var position: UInt64 = 0
    private var crc: UInt = 0
    private var inflater: Inflater?

    public init(_ source: NumPyArraySource) throws {
        self.source = source
        file = try ReadOnlyFile(path: source.path)
        if source.compressed { inflater = try Inflater(file: file, offset: source.offset, size: source.compressedSize, label: source.label) }
    }

    /// Rows [lo, hi) along axis 0.
    public func rows(_ lo: Int, _ hi: Int) throws -> Tensor {
        var shape = source.shape
        if !shape.isEmpty { shape[0] = hi - lo }
        let count = (hi - lo) * source.rowBytes
        let storage = OwnedStorage(byteCount: count)
        let start = UInt64(source.headerSize) + UInt64(lo * source.rowBytes)
        if source.compressed {
            if start < position { inflater = try Inflater(file: file, offset: source.offset, size: source.compressedSize, label: source.label); position = 0; crc = 0 }
            try skip(to: start)
            try fill(storage.mutableBaseAddress, count)
        } else if count > 0 {
            try file.read(at: source.offset + start, into: storage.mutableBaseAddress, count: count)
        }
        return Tensor(dtype: source.dtype, shape: shape, storage: storage)
    }

    /// The next `n` bytes of the `.npy` stream.
    func bytes(_ n: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        if n > 0 { try out.withUnsafeMutableBytes { try fill($0.baseAddress!, n) } }
        return out
    }

    /// Advances to `target`, reading (and checksumming) what lies between.
    func skip(to target: UInt64) throws {
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { scratch.deallocate() }
        while position < target { try fill(scratch, Int(min(target - position, 1 << 16))) }
    }

    /// After reading everything: the CRC-32 and, for deflate, the end of the stream.
    func finish() throws {
        if let expected = source.crc32, UInt32(truncatingIfNeeded: crc) != expected {
            throw EdgeError.badInput("\(source.label): CRC-32 mismatch (the member is corrupt)", file: source.path)
        }
        if let inflater, !(try inflater.endsHere()) {
            throw EdgeError.badInput("\(source.label): the deflate stream holds more than the declared \(source.npySize) bytes", file: source.path)
        }
    }

    private func fill(_ buffer: UnsafeMutableRawPointer, _ count: Int) throws {
        guard count > 0 else { return }
        guard position + UInt64(count) <= source.npySize else {
            throw EdgeError.badInput("\(source.label): truncated (wanted bytes up to \(position + UInt64(count)), the member holds \(source.npySize))", file: source.path)
        }
        if let inflater {
            try inflater.inflate(into: buffer, count: count)
        } else {
            try file.read(at: source.offset + position, into: buffer, count: count)
        }
        if source.crc32 != nil { crc = CZlib.crc32(crc, buffer.assumingMemoryBound(to: UInt8.self), UInt32(count)) }
        position += UInt64(count)
    }
}

/// zlib's raw inflate over a byte range of a file, pulled `count` bytes at a time.
private final class Inflater {
    private var stream = z_stream()
    private let file: ReadOnlyFile
    private var nextInput: UInt64, remaining: UInt64
    private let input = UnsafeMutablePointer<UInt8>.allocate(capacity: 1 << 16)
    private let label: String
    private(set) var ended = false

    init(file: ReadOnlyFile, offset: UInt64, size: UInt64, label: String) throws {
        self.file = file
        nextInput = offset; remaining = size
        self.label = label
        guard inflateInit2_(&stream, -MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            input.deallocate()
            throw EdgeError.badInput("\(label): zlib could not start inflating", file: file.path)
        }
    }

    deinit {
        inflateEnd(&stream)
        input.deallocate()
    }

    /// True when the stream ends with no byte beyond what was read (zlib may see the end code
    /// only on a further call).
    func endsHere() throws -> Bool {
        if ended { return true }
        var byte: UInt8 = 0
        do {
            try withUnsafeMutableBytes(of: &byte) { try inflate(into: $0.baseAddress!, count: 1) }
        } catch let error as EdgeError where ended {
            _ = error  // the end code came with no further byte: exactly the declared size
            return true
        }
        return false
    }

    func inflate(into buffer: UnsafeMutableRawPointer, count: Int) throws {
        stream.next_out = buffer.assumingMemoryBound(to: UInt8.self)
        stream.avail_out = UInt32(count)
        while stream.avail_out > 0 {
            if ended { throw EdgeError.badInput("\(label): the deflate stream ends early (truncated member)", file: file.path) }
            if stream.avail_in == 0 && remaining > 0 {
                let n = Int(min(remaining, 1 << 16))
                try file.read(at: nextInput, into: input, count: n)
                nextInput += UInt64(n); remaining -= UInt64(n)
                stream.next_in = input
                stream.avail_in = UInt32(n)
            }
            let before = stream.avail_out
            let status = CZlib.inflate(&stream, Z_NO_FLUSH)
            switch status {
            case Z_STREAM_END:
                ended = true
            case Z_OK:
                break
            case Z_BUF_ERROR where stream.avail_in == 0 && remaining == 0:
                throw EdgeError.badInput("\(label): the deflate stream is truncated", file: file.path)
            default:
                let message = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                throw EdgeError.badInput("\(label): corrupt deflate data (\(message))", file: file.path)
            }
            if stream.avail_out == before && stream.avail_in == 0 && remaining == 0 && !ended {
                throw EdgeError.badInput("\(label): the deflate stream is truncated", file: file.path)
            }
        }
    }
}
