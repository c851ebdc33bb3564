import Foundation

/// A fixed pool of worker threads for data-parallel loops.
///
/// `parallelFor(count)` gives each thread (the caller is thread 0) a contiguous share of
/// `0..<count`, as a fixed split would, but threads claim their indices one at a time and a thread
/// whose share is done steals the upper half of another's. On an unloaded machine that is the
/// fixed split (each thread claims from a word only it touches); on a loaded one no region waits
/// for a worker the OS has not scheduled: the caller never waits for a worker that has not
/// started — it steals that worker's share, and when every share is empty it closes the call and
/// waits only for workers that had already joined. A late worker finds nothing left ("work-first").
///
/// Nothing is allocated per index and nothing is reference-counted per index: the body stays on
/// the caller's stack and workers reach it through a pointer (see `ThreadPoolState`). Per call
/// there is one small allocation (the escaping wrapper `withoutActuallyEscaping` makes, which
/// cannot stay on the stack once its address is shared) and one retain/release of it per worker.
///
/// Workers spin briefly on the call counter before sleeping on a semaphore, which keeps the
/// hand-off latency of back-to-back calls (one GEMM issues several) in the microsecond range.
///
/// A call made while the pool is already busy (a nested `parallelFor` from inside a body, or a
/// second caller thread) runs serially on the calling thread instead of deadlocking.
public final class ThreadPool: @unchecked Sendable {
    // @unchecked Sendable: all mutable state lives in `ThreadPoolState` (see there).

    /// Number of threads that run a `parallelFor`, the caller included.
    public let threadCount: Int

    /// Active processor count (cores the process may run on).
    public static var defaultThreadCount: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    private let state: ThreadPoolState

    public init(threads: Int = ThreadPool.defaultThreadCount) {
        threadCount = max(1, threads)
        let state = ThreadPoolState(threadCount: threadCount)
        self.state = state
        for w in 1..<max(1, threadCount) {
            // Workers hold the state strongly and never touch the pool object, so the pool can be
            // released at any time (even before a worker thread has started).
            let t = Thread {
                ThreadPool.nameCurrentThread("edgeopt-w\(w)")
                state.workerLoop(w)
            }
            t.name = "edgeopt-worker-\(w)"
            t.stackSize = 1 << 20
            t.start()
        }
    }

    deinit { state.shutDown() }

    /// Foundation's `Thread.name` does not reach the kernel on Linux; the kernel's name is what
    /// top and perf show. pthread_setname_np is a GNU extension the Glibc module does not export.
    private static func nameCurrentThread(_ name: String) {
        #if canImport(Glibc)
        typealias SetName = @convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pthread_setname_np") {
            _ = unsafeBitCast(symbol, to: SetName.self)(pthread_self(), name)
        }
        #endif
    }

    /// Runs `body(index)` for every index in `0..<count` across the pool; returns when all ran.
    public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        parallelFor(count) { index, _ in body(index) }
    }

    /// As `parallelFor(_:_:)`, also passing the worker number (0 = calling thread, < threadCount),
    /// unique among the bodies running at one time, so a body can use per-worker scratch memory.
    /// Which indices a worker runs is not fixed: it depends on which thread claims them first.
    public func parallelFor(_ count: Int, _ body: (_ index: Int, _ worker: Int) -> Void) {
        if count <= 0 { return }
        let s = state
        if threadCount == 1 || count == 1 || count > ThreadPoolState.maxCount || !s.tryAcquire() {
            for i in 0..<count { body(i, 0) }
            return
        }
        // The escaping copy is only for taking its address: it never outlives this frame, which
        // `withoutActuallyEscaping` checks, and `run` returns only after every worker that saw
        // the pointer has left.
        withoutActuallyEscaping(body) { escaping in
            withUnsafePointer(to: ThreadPoolJob(body: escaping)) { job in
                s.run(count: count, job: job, callerBody: body)
            }
        }
        s.release()
    }
}
