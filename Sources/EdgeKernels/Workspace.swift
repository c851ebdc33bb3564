import Synchronization

/// Reused scratch memory for the kernels' packing buffers and depthwise planes.
///
/// A call borrows from, in order:
/// 1. the calling thread's `ScratchRegion`, when a session has bound one for the node it runs
///    (a slice of the planned activation arena, so scratch shares the arena's free gaps instead
///    of staying resident beside it);
/// 2. a process-wide cache of buffers. Fresh large allocations are mmap'ed and page-faulted on
///    first touch, which costs as much as the packing itself on small GEMMs; a call instead
///    borrows a cached buffer and gives it back. Thread-safe; at most `cacheLimitFloats` stay
///    cached, larger surpluses are freed.
public enum Workspace {
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
        if let region = ScratchRegion.current {
            if region.isRecording {
                // Fresh and freed at once: the recording run's peak is then its live tensors plus
                // this node's scratch, as the planned runs' will be.
                region.push(need)
                defer { region.pop(need) }
                let raw = UnsafeMutableRawPointer.allocate(byteCount: need * 4, alignment: 64)
                defer { raw.deallocate() }
                return try body(raw.bindMemory(to: Float.self, capacity: need))
            }
            if let pointer = region.push(need) {
                defer { region.pop(need) }
                return try body(pointer)
            }
        }
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

    /// Frees every cached buffer (after a session moved its scratch into an arena).
    public static func releaseCached() {
        let entries = cache.withLock { c -> [Entry] in
            defer { c.free.removeAll(); c.cachedFloats = 0 }
            return c.free
        }
        for e in entries { UnsafeMutableRawPointer(bitPattern: e.address)!.deallocate() }
    }
}

/// Scratch for the kernels of one node, bound to the thread that runs the node
/// (`ScratchRegion.bind`). Borrows are scoped (`Workspace.with`), so on one thread they nest and
/// a stack suffices: each borrow takes the next 64-byte-aligned floats and gives them back on
/// return. Borrows made on pool workers do not see the region and use the shared cache.
///
/// Recording (no memory): the first run of a session measures each node's deepest stack
/// (`peakFloats`), which the buffer plan then reserves as a one-step tensor in the arena.
/// Planned: the region is that arena slice; a borrow that no longer fits (another run's
/// interleaving put more borrows on this thread) falls back to the cache.
public final class ScratchRegion: @unchecked Sendable {
    // @unchecked: a region is bound to, and used by, only the thread running its node.
    private let base: UnsafeMutablePointer<Float>?
    private let capacity: Int
    private var top = 0
    public private(set) var peakFloats = 0

    /// A recording region: measures, holds nothing.
    public init() {
        base = nil
        capacity = .max
    }

    /// A region over `bytes` at `base` (64-byte aligned).
    public init(base: UnsafeMutableRawPointer, bytes: Int) {
        self.base = base.bindMemory(to: Float.self, capacity: bytes / 4)
        capacity = bytes / 4
    }

    var isRecording: Bool { base == nil }

    /// Bytes a recorded peak needs in an arena.
    public var peakBytes: Int { peakFloats * 4 }

    @TaskLocal static var current: ScratchRegion?

    /// Runs `body` with this region bound to the calling thread.
    public func bind<R>(_ body: () throws -> R) rethrows -> R {
        try ScratchRegion.$current.withValue(self, operation: body)
    }

    private static func rounded(_ floats: Int) -> Int { (floats + 15) / 16 * 16 }

    /// Takes `floats` off the stack: the pointer, or nil when they do not fit (or when recording).
    @discardableResult
    fileprivate func push(_ floats: Int) -> UnsafeMutablePointer<Float>? {
        let size = Self.rounded(floats)
        guard size <= capacity - top else { return nil }
        defer {
            top += size
            peakFloats = max(peakFloats, top)
        }
        return base.map { $0 + top }
    }

    /// Gives back the most recent `push(floats)` that succeeded.
    fileprivate func pop(_ floats: Int) {
        top -= Self.rounded(floats)
    }
}
