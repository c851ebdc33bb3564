#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The bytes behind a tensor. Weights may live in an owned heap buffer or in a memory-mapped
/// region of the model (or external-data) file; everything above this protocol treats them alike.
/// A storage object is immutable once handed to a `Tensor`: writers go through
/// `Tensor.withUnsafeMutableBytes`, which copies into fresh `OwnedStorage` when needed.
public protocol TensorStorage: AnyObject, Sendable {
    var byteCount: Int { get }
    /// Valid for the lifetime of the storage object. Never nil, even for zero bytes.
    var baseAddress: UnsafeRawPointer { get }
}

extension TensorStorage {
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: baseAddress, count: byteCount) }
}

/// A heap buffer owned by the tensor, 64-byte aligned so kernels can use aligned vector loads.
public final class OwnedStorage: TensorStorage, @unchecked Sendable {
    public let byteCount: Int
    public let mutableBaseAddress: UnsafeMutableRawPointer
    public var baseAddress: UnsafeRawPointer { UnsafeRawPointer(mutableBaseAddress) }

    /// Zero-filled storage.
    public init(byteCount: Int) {
        precondition(byteCount >= 0)
        self.byteCount = byteCount
        mutableBaseAddress = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        mutableBaseAddress.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1))
    }

    public init(copying source: UnsafeRawBufferPointer) {
        byteCount = source.count
        mutableBaseAddress = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        if let base = source.baseAddress, byteCount > 0 {
            mutableBaseAddress.copyMemory(from: base, byteCount: byteCount)
        }
    }

    public convenience init(copying data: Data) {
        self.init(byteCount: 0, data: data)
    }

    private init(byteCount _: Int, data: Data) {
        byteCount = data.count
        mutableBaseAddress = UnsafeMutableRawPointer.allocate(byteCount: max(data.count, 1), alignment: 64)
        data.withUnsafeBytes { raw in
            if let base = raw.baseAddress, raw.count > 0 { mutableBaseAddress.copyMemory(from: base, byteCount: raw.count) }
        }
    }

    deinit { mutableBaseAddress.deallocate() }
}

/// A read-only memory map of a whole file. Regions of it back `MappedStorage` tensors, which keep
/// the map alive; the map is released when the last tensor referring to it goes away.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let byteCount: Int
    public let baseAddress: UnsafeRawPointer

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw EdgeError.badInput("cannot open '\(path)': \(String(cString: strerror(errno)))", file: path)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw EdgeError.badInput("cannot stat '\(path)'", file: path)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw EdgeError.badInput("'\(path)' is not a regular file", file: path)
        }
        byteCount = Int(info.st_size)
        if byteCount == 0 {
            baseAddress = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64))
            return
        }
        #if canImport(Glibc)
        let mapped = mmap(nil, byteCount, PROT_READ, MAP_PRIVATE, fd, 0)
        #else
        let mapped = mmap(nil, byteCount, PROT_READ, MAP_PRIVATE, fd, 0)
        #endif
        guard let mapped, mapped != MAP_FAILED else {
            throw EdgeError.badInput("cannot map '\(path)': \(String(cString: strerror(errno)))", file: path)
        }
        baseAddress = UnsafeRawPointer(mapped)
    }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: baseAddress, count: byteCount) }

    deinit {
        if byteCount == 0 {
            UnsafeMutableRawPointer(mutating: baseAddress).deallocate()
        } else {
            munmap(UnsafeMutableRawPointer(mutating: baseAddress), byteCount)
        }
    }
}

/// A byte range of a memory-mapped file (zero-copy weights from external data or the model file).
public final class MappedStorage: TensorStorage, @unchecked Sendable {
    public let file: MappedFile
    public let offset: Int
    public let byteCount: Int
    public var baseAddress: UnsafeRawPointer { file.baseAddress + offset }

    public init(file: MappedFile, offset: Int, byteCount: Int) throws {
        guard offset >= 0, byteCount >= 0, offset <= file.byteCount, byteCount <= file.byteCount - offset else {
            throw EdgeError.badInput(
                "range [\(offset), \(offset + byteCount)) lies beyond the end of '\(file.path)' (\(file.byteCount) bytes)",
                file: file.path)
        }
        self.file = file
        self.offset = offset
        self.byteCount = byteCount
    }
}
