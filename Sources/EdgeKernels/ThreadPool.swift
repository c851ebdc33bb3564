import Dispatch
import Foundation
import Synchronization

/// A fixed pool of worker threads for data-parallel loops.
///
/// `parallelFor(count)` splits `0..<count` statically into `threadCount` contiguous ranges; the
/// calling thread runs range 0 and the workers the rest, so no thread is created per call. Workers
/// spin briefly on a generation counter before sleeping on a semaphore, which keeps the hand-off
/// latency of back-to-back calls (one GEMM issues several) in the microsecond range.
///
/// A call made while the pool is already busy (a nested `parallelFor` from inside a body, or a
/// second caller thread) runs serially on the calling thread instead of deadlocking.
public final class ThreadPool: @unchecked Sendable {
    // @unchecked Sendable: all mutable state lives in `Shared` (see there).

    /// Number of threads that run a `parallelFor`, the caller included.
    public let threadCount: Int

    /// Active processor count (cores the process may run on).
    public static var defaultThreadCount: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// State the workers share with the pool. Workers hold it strongly and never touch the pool
    /// object itself, so the pool can be released at any time (even before a worker thread has
    /// started): its deinit asks the workers to exit and waits for them.
    private final class Shared: @unchecked Sendable {
        // @unchecked Sendable: `body`/`count` are written by the caller only while every worker is
        // parked (between the end of one call and the release of the next), and published by the
        // atomic `generation` store / semaphore signal, which order them before the workers' reads.
        let threadCount: Int
        var body: ((Int, Int) -> Void)?
        var count = 0
        let generation = Atomic<Int>(0)
        let remaining = Atomic<Int>(0)
        let busy = Atomic<Bool>(false)
        let shuttingDown = Atomic<Bool>(false)
        let wake: [DispatchSemaphore]
        let done = DispatchSemaphore(value: 0)

        init(threadCount: Int) {
            self.threadCount = threadCount
            wake = (0..<max(0, threadCount - 1)).map { _ in DispatchSemaphore(value: 0) }
        }

        func runRange(worker: Int, body: (Int, Int) -> Void) {
            let lo = count * worker / threadCount, hi = count * (worker + 1) / threadCount
            var i = lo
            while i < hi { body(i, worker); i += 1 }
        }

        func workerLoop(_ w: Int) {
            var seen = 0
            while true {
                _ = ThreadPool.spin { generation.load(ordering: .acquiring) != seen }
                wake[w - 1].wait()
                seen = generation.load(ordering: .acquiring)
                if shuttingDown.load(ordering: .acquiring) { done.signal(); return }
                if let body { runRange(worker: w, body: body) }
                remaining.subtract(1, ordering: .releasing)
                done.signal()
            }
        }
    }

    private let shared: Shared

    /// How long a worker (or the caller, waiting for workers) spins before it sleeps. Waking a
    /// sleeping thread took ~0.1 ms on the 2-vCPU benchmark VM — as long as a whole depthwise layer —
    /// so workers stay hot across the back-to-back calls of one inference (ONNX Runtime's pool
    /// spins for the same reason) and sleep once the pool has been idle this long.
    private static let spinNanoseconds: UInt64 = 500_000

    @inline(__always) private static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Spins until `done()` or the spin budget is spent; true if `done()` became true. After the
    /// first 20 µs it yields the CPU between checks: on a loaded machine the thread it waits for
    /// may be queued on this very CPU, and a pure spin would then only delay it.
    @inline(__always) fileprivate static func spin(until done: () -> Bool) -> Bool {
        let start = monotonicNanoseconds()
        var i = 0
        while !done() {
            i &+= 1
            if i & 255 == 0 {
                let elapsed = monotonicNanoseconds() &- start
                if elapsed > spinNanoseconds { return false }
                if elapsed > 20_000 { sched_yield() }
            }
        }
        return true
    }

    public init(threads: Int = ThreadPool.defaultThreadCount) {
        threadCount = max(1, threads)
        let shared = Shared(threadCount: threadCount)
        self.shared = shared
        for w in 1..<max(1, threadCount) {
            let t = Thread { shared.workerLoop(w) }
            t.name = "edgeopt-worker-\(w)"
            t.stackSize = 1 << 20
            t.start()
        }
    }

    deinit {
        shared.shuttingDown.store(true, ordering: .sequentiallyConsistent)
        shared.generation.add(1, ordering: .sequentiallyConsistent)
        for s in shared.wake { s.signal() }
        for _ in shared.wake { shared.done.wait() }
    }

    /// Runs `body(index)` for every index in `0..<count`, split across the pool; returns when all ran.
    public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        parallelFor(count) { index, _ in body(index) }
    }

    /// As `parallelFor(_:_:)`, also passing the worker number (0 = calling thread, < threadCount),
    /// so a body can use per-worker scratch memory.
    public func parallelFor(_ count: Int, _ body: (_ index: Int, _ worker: Int) -> Void) {
        if count <= 0 { return }
        let s = shared
        if threadCount == 1 || count == 1
            || !s.busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            for i in 0..<count { body(i, 0) }
            return
        }
        withoutActuallyEscaping(body) { escaping in
            s.body = escaping
            s.count = count
            s.remaining.store(threadCount - 1, ordering: .relaxed)
            s.generation.add(1, ordering: .releasing)
            for w in s.wake { w.signal() }
            s.runRange(worker: 0, body: escaping)
            _ = Self.spin { s.remaining.load(ordering: .acquiring) == 0 }
            for _ in s.wake { s.done.wait() }
            s.body = nil
        }
        s.busy.store(false, ordering: .releasing)
    }
}
