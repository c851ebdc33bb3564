#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

private func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}

/// Writes a file so that readers see either the old file or the complete new one, never a
/// partial write: the bytes go to a temporary file in the same directory, which is flushed and
/// then renamed over the destination. On any failure the temporary file is removed.
public final class AtomicFile {
    public let path: String
    let temporaryPath: String
    private var fd: Int32
    public private(set) var bytesWritten = 0

    /// Opens a temporary file next to `path`. Call `commit()` to move it into place.
    public init(path: String) throws {
        self.path = path
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var template = Array("\(directory)/.\(url.lastPathComponent).tmp-XXXXXX".utf8CString)
        fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw EdgeError.badInput("cannot create a file in '\(directory)': \(String(cString: strerror(errno)))", file: path)
        }
        temporaryPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        // mkstemp creates 0600; give the result the permissions a plain create would (0666 & ~umask).
        let mask = umask(0)
        umask(mask)
        fchmod(fd, 0o666 & ~mask)
    }

    deinit {
        if fd >= 0 {
            close(fd)
            unlink(temporaryPath)
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var p = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let n = systemWrite(fd, p, min(remaining, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw EdgeError.badInput("cannot write '\(path)': \(String(cString: strerror(errno)))", file: path)
            }
            p += n
            remaining -= n
            bytesWritten += n
        }
    }

    public func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    /// Writes `count` zero bytes (alignment padding).
    public func writeZeros(_ count: Int) throws {
        guard count > 0 else { return }
        try [UInt8](repeating: 0, count: count).withUnsafeBytes { try write($0) }
    }

    /// Flushes the temporary file to disk and renames it over `path`.
    public func commit() throws {
        guard fd >= 0 else { return }
        if fsync(fd) != 0 {
            throw EdgeError.badInput("cannot flush '\(path)': \(String(cString: strerror(errno)))", file: path)
        }
        close(fd)
        fd = -1
        if rename(temporaryPath, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporaryPath)
            throw EdgeError.badInput("cannot rename the finished file to '\(path)': \(reason)", file: path)
        }
    }

    /// Writes `data` to `path` atomically.
    public static func write(_ data: Data, to path: String) throws {
        let file = try AtomicFile(path: path)
        try file.write(data)
        try file.commit()
    }
}
