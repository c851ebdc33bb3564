#if canImport(Glibc)
import Glibc
#endif
import EdgeIR

/// Zero-filled tensor storage on its own anonymous pages, returned to the system when freed.
///
/// For buffers that are short-lived but made while long-lived data is being allocated: the
/// recording run's tensors (made while the packed weights are the heap's only residents) and
/// compile's folded constants (light models build every weight with ConstantOfShape, and each
/// float weight is freed once packed). On the malloc heap, blocks below glibc's 128 KB mmap
/// threshold left holes amid the packed weights whose partly used pages stay resident after
/// malloc_trim; here freeing unmaps them whole.
final class PageStorage: TensorStorage, @unchecked Sendable {
    // @unchecked: the pages are written only by the kernel that allocated the tensor.
    let byteCount: Int
    private let base: UnsafeMutableRawPointer
    private let mappedBytes: Int
    var baseAddress: UnsafeRawPointer { UnsafeRawPointer(base) }

    /// Smallest buffer worth its own mapping: below this, the page rounding (up to 4 KB) and a
    /// system call per buffer cost more than the holes they avoid.
    static let minimumBytes = 16 << 10

    /// nil when the system refuses the mapping (the caller falls back to the heap).
    init?(byteCount: Int) {
        #if canImport(Glibc)
        let mapped = (max(byteCount, 1) + 4095) / 4096 * 4096
        guard let p = mmap(nil, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else { return nil }
        self.byteCount = byteCount
        base = p
        mappedBytes = mapped
        #else
        return nil
        #endif
    }

    deinit {
        #if canImport(Glibc)
        munmap(base, mappedBytes)
        #endif
    }
}
