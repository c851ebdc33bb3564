import Synchronization

/// Reused scratch memory for the kernels' packing buffers and depthwise planes. Fresh large
/// allocations are mmap'ed and page-faulted on first touch, which costs as much as the packing
/// itself on small GEMMs; a call instead borrows a cached buffer and gives it back. Thread-safe;
/// at most `cacheLimitFloats` stay cached, larger surpluses are freed.
enum Workspace {
    private struct Entry { var address: UInt; var floats: Int }
    private struct Cache: ~Copyable {
        var free: [Entry] = []
        var cachedFloats = 0
    }
    private static let cache = Mutex(Cache())
    private static let cacheLimitFloats = (64 << 20) / 4

    /// Runs `body` with a 64-byte-aligned buffer of at least `floats` floats (contents undefined).
    static func with<R>(floats: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let need = max(16, floats)
        let reused: Entry? = cache.withLock { c in
            var best = -1
            for (i, e) in c.free.enumerated() where e.floats >= need && (best < 0 || e.floats < c.free[best].floats) { best = i }
            if best < 0 { return nil }
            let e = c.free.remove(at: best)
            c.cachedFloats -= e.floats
            return e
        }
        let entry = reused ?? Entry(address: UInt(bitPattern: UnsafeMutableRawPointer.allocate(byteCount: need * 4, alignment: 64)),
                                    floats: need)
        let raw = UnsafeMutableRawPointer(bitPattern: entry.address)!
        defer {
            let keep = cache.withLock { c in
                if c.cachedFloats + entry.floats > cacheLimitFloats { return false }
                c.free.append(entry)
                c.cachedFloats += entry.floats
                return true
            }
            if !keep { raw.deallocate() }
        }
        return try body(raw.bindMemory(to: Float.self, capacity: entry.floats))
    }
}
