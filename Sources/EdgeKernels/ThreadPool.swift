import Foundation

/// A fixed pool of worker threads for data-parallel loops.
///
/// `parallelFor(count)` hands `0..<count` out in chunks that threads claim with an atomic
/// fetch-add (chunk = ⌈count / (threadCount · chunksPerThread)⌉), so no thread is created per
/// call and no thread waits for a share that was fixed in advance. The calling thread claims
/// chunks too, and it never waits for a worker that has not started: when the indices run out it
/// closes the call and waits only for workers that had already joined it. A worker the OS has not
/// scheduled (a loaded machine) simply finds nothing left when it wakes — the caller and the other
/// workers ran its part ("work-first"). With a fixed split, every region waited for it instead.
///
/// Nothing is allocated or reference-counted per call or per index: the body stays on the
/// caller's stack and workers reach it through a raw pointer (see `ThreadPoolState`).
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

    /// Chunks per thread: more chunks even out stalls and uneven bodies at the price of one
    /// fetch-add on a shared cache line per chunk.
    static let chunksPerThread = 4

    private let state: ThreadPoolState

    public init(threads: Int = ThreadPool.defaultThreadCount) {
        threadCount = max(1, threads)
        let state = ThreadPoolState(threadCount: threadCount)
        self.state = state
        for w in 1..<max(1, threadCount) {
            // Workers hold the state strongly and never touch the pool object, so the pool can be
            // released at any time (even before a worker thread has started).
            let t = Thread { state.workerLoop(w) }
            t.name = "edgeopt-worker-\(w)"
            t.stackSize = 1 << 20
            t.start()
        }
    }

    deinit { state.shutDown() }

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
        if threadCount == 1 || count == 1 || !s.tryAcquire() {
            for i in 0..<count { body(i, 0) }
            return
        }
        let parts = threadCount * Self.chunksPerThread
        let chunk = (count + parts - 1) / parts
        // The escaping copy is only for taking its address: it never outlives this frame, which
        // `withoutActuallyEscaping` checks, and `run` returns only after every worker that saw
        // the pointer has left.
        withoutActuallyEscaping(body) { escaping in
            withUnsafePointer(to: ThreadPoolJob(body: escaping)) { job in
                s.run(count: count, chunk: chunk, job: job, callerBody: body)
            }
        }
        s.release()
    }
}
