import Foundation

/// Where each member of a ZIP archive lies, read from the central directory (PKWARE APPNOTE
/// 4.3.12–4.3.16, with the ZIP64 end record and extra field), so that a member's bytes can be read
/// in place — `pread` ranges of a stored member, or a deflate stream fed to zlib — without
/// extracting it. ZIPFoundation keeps these offsets internal; this reads only what streaming needs.
struct ZIPDirectory {
    struct Member {
        var path: String
        /// 0 stored, 8 deflate.
        var method: UInt16
        var crc32: UInt32
        var compressedSize: UInt64
        var uncompressedSize: UInt64
        /// File offset of the member's (possibly compressed) data.
        var dataOffset: UInt64
    }

    let members: [Member]

    init(file: ReadOnlyFile) throws {
        let label = file.path
        func fail(_ message: String) -> EdgeError { EdgeError.badInput("\(label): not a readable .npz (ZIP) archive: \(message)", file: label) }
        let size = file.size
        guard size >= 22 else { throw fail("too short for a ZIP end record") }
        // The end-of-central-directory record (22 bytes + a comment of up to 65,535) ends the file.
        let tailLength = Int(min(size, 22 + 65_535))
        let tail = try file.read(at: size - UInt64(tailLength), count: tailLength)
        guard let eocd = stride(from: tailLength - 22, through: 0, by: -1).first(where: { tail.u32($0) == 0x0605_4B50 }) else {
            throw fail("no end-of-central-directory record")
        }
        var count = UInt64(tail.u16(eocd + 10)), directorySize = UInt64(tail.u32(eocd + 12)), directoryOffset = UInt64(tail.u32(eocd + 16))
        if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // ZIP64: a locator just before the end record points at the ZIP64 end record.
            let eocdOffset = size - UInt64(tailLength) + UInt64(eocd)
            guard eocdOffset >= 20 else { throw fail("ZIP64 locator missing") }
            let locator = try file.read(at: eocdOffset - 20, count: 20)
            guard locator.u32(0) == 0x0706_4B50 else { throw fail("ZIP64 locator missing") }
            guard size >= 56, locator.u64(8) <= size - 56 else { throw fail("ZIP64 end record lies outside the file") }
            let record = try file.read(at: locator.u64(8), count: 56)
            guard record.u32(0) == 0x0606_4B50 else { throw fail("ZIP64 end record missing") }
            count = record.u64(32); directorySize = record.u64(40); directoryOffset = record.u64(48)
        }
        guard directoryOffset <= size, directorySize <= size - directoryOffset, directorySize < 1 << 32, count <= directorySize / 46 else {
            throw fail("central directory (\(directorySize) bytes at \(directoryOffset), \(count) entries) lies outside the file")
        }
        let directory = try file.read(at: directoryOffset, count: Int(directorySize))
        var members: [Member] = []
        var p = 0
        for _ in 0..<count {
            guard p + 46 <= directory.count, directory.u32(p) == 0x0201_4B50 else { throw fail("central directory entry \(members.count) is malformed") }
            let flags = directory.u16(p + 8), method = directory.u16(p + 10), crc = directory.u32(p + 16)
            var compressed = UInt64(directory.u32(p + 20)), uncompressed = UInt64(directory.u32(p + 24))
            let nameLength = Int(directory.u16(p + 28)), extraLength = Int(directory.u16(p + 30)), commentLength = Int(directory.u16(p + 32))
            var localOffset = UInt64(directory.u32(p + 42))
            guard p + 46 + nameLength + extraLength + commentLength <= directory.count else { throw fail("central directory entry \(members.count) is truncated") }
            let path = String(decoding: directory[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self)
            // ZIP64 extended information (header 0x0001): the 8-byte forms of the fields saturated above, in this order.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = directory.u16(e), length = Int(directory.u16(e + 2))
                if id == 0x0001 {
                    var q = e + 4
                    func next() -> UInt64? {
                        guard q + 8 <= e + 4 + length, q + 8 <= extraEnd else { return nil }
                        defer { q += 8 }
                        return directory.u64(q)
                    }
                    if uncompressed == 0xFFFF_FFFF { uncompressed = next() ?? uncompressed }
                    if compressed == 0xFFFF_FFFF { compressed = next() ?? compressed }
                    if localOffset == 0xFFFF_FFFF { localOffset = next() ?? localOffset }
                }
                e += 4 + length
            }
            p = extraEnd + commentLength
            guard flags & 1 == 0 else { throw fail("member '\(path)' is encrypted") }
            guard size >= 30, localOffset <= size - 30 else { throw fail("member '\(path)' starts beyond the end of the file") }
            let local = try file.read(at: localOffset, count: 30)
            guard local.u32(0) == 0x0403_4B50 else { throw fail("member '\(path)' has no local header") }
            let dataOffset = localOffset + 30 + UInt64(local.u16(26)) + UInt64(local.u16(28))
            guard dataOffset <= size, compressed <= size - dataOffset else {
                throw EdgeError.badInput("\(label) member '\(path)': truncated (\(compressed) bytes declared at offset \(dataOffset), the file has \(size))", file: label)
            }
            members.append(Member(path: path, method: method, crc32: crc,
                                  compressedSize: compressed, uncompressedSize: uncompressed, dataOffset: dataOffset))
        }
        self.members = members
    }
}

/// A file read with `pread` (no mapping, so pages read once do not stay in the process's RSS).
final class ReadOnlyFile {
    let path: String
    let size: UInt64
    private let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw EdgeError.badInput("cannot open '\(path)': \(String(cString: strerror(errno)))", file: path) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw EdgeError.badInput("'\(path)' is not a regular file", file: path)
        }
        size = UInt64(info.st_size)
    }

    deinit { close(fd) }

    /// Exactly `count` bytes at `offset` into `buffer`; fewer is a truncated file.
    func read(at offset: UInt64, into buffer: UnsafeMutableRawPointer, count: Int) throws {
        var done = 0
        while done < count {
            let n = pread(fd, buffer + done, count - done, off_t(offset) + off_t(done))
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                throw EdgeError.badInput("\(path): truncated (wanted \(count) bytes at offset \(offset), the file has \(size))", file: path)
            }
            done += n
        }
    }

    func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        guard count > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try read(at: offset, into: $0.baseAddress!, count: count) }
        return bytes
    }
}

private extension Array where Element == UInt8 {
    func u16(_ i: Int) -> UInt16 { UInt16(self[i]) | UInt16(self[i + 1]) << 8 }
    func u32(_ i: Int) -> UInt32 { UInt32(u16(i)) | UInt32(u16(i + 2)) << 16 }
    func u64(_ i: Int) -> UInt64 { UInt64(u32(i)) | UInt64(u32(i + 4)) << 32 }
}
