import Dispatch
import Foundation
import Synchronization

typealias ThreadPoolBody = (_ index: Int, _ worker: Int) -> Void

/// The body of one `parallelFor` as workers reach it: on the caller's stack, behind a pointer.
/// (A struct field holds the closure at its natural abstraction; `UnsafePointer<closure type>`
/// would hold it maximally abstracted, which costs a reabstraction thunk allocated per call.)
struct ThreadPoolJob {
    let body: ThreadPoolBody
}

/// What the pool's workers and its caller share.
///
/// One call runs through a *gate*, a single atomic word:
///
///     bit 0…15   number of workers inside the call (they may read `job`, `count`, `chunk`)
///     bit 16     open: workers may still join
///     bit 17…    epoch: the call's sequence number (workers wake when it changes)
///
/// - The caller writes `job`/`count`/`chunk`, zeroes the claim counter, then publishes
///   `epoch | open` with one store (no worker is inside at that point).
/// - A worker joins with a compare-exchange that adds 1 only while the gate is open, then claims
///   chunks by fetch-add on `next` until the indices run out, and leaves by subtracting 1.
/// - The caller claims chunks the same way; when they run out it clears `open` and waits until
///   the count of workers inside is 0. A worker that had not joined by then never reads the
///   call's fields, so the caller owes it nothing: it finds the gate closed (or a later epoch)
///   when it wakes. The pointer to the job therefore never outlives the caller's frame.
///
/// Sleep: a worker that has spun without a new epoch sets its `sleeping` flag and re-reads the
/// gate (both sequentially consistent); the caller stores the gate, then reads every flag (also
/// sequentially consistent). Either the worker sees the new epoch or the caller sees the flag;
/// whichever side takes the flag back with `exchange` owns the wake-up, so no signal is lost or
/// left over.
final class ThreadPoolState: @unchecked Sendable {
    // @unchecked Sendable: `job`, `count`, `chunk` and `epoch` are written only by the thread
    // that holds `busy`, and only while no worker is inside the gate; workers read them only
    // after joining through the gate (acquire), which orders the writes before the reads.
    let threadCount: Int
    var job: UnsafePointer<ThreadPoolJob>?
    var count = 0
    var chunk = 1
    var epoch = 0

    static let activeMask = (1 << 16) - 1
    static let openBit = 1 << 16
    static let epochShift = 17

    /// The gate and the claim counter sit on separate 128-byte lines (adjacent-line prefetch
    /// pairs 64-byte lines): the counter is hit once per chunk by every thread, the gate is polled
    /// by idle workers. `sleeping` flags follow on a third line.
    private let words: UnsafeMutablePointer<Atomic<Int>>
    private static let lineWords = 16
    private var gate: UnsafeMutablePointer<Atomic<Int>> { words }
    private var next: UnsafeMutablePointer<Atomic<Int>> { words + Self.lineWords }
    private func sleeping(_ w: Int) -> UnsafeMutablePointer<Atomic<Int>> { words + 2 * Self.lineWords + w }

    private let busy = Atomic<Bool>(false)
    private let shuttingDown = Atomic<Bool>(false)
    private let wake: [DispatchSemaphore]
    private let exited = DispatchSemaphore(value: 0)

    init(threadCount: Int) {
        self.threadCount = threadCount
        let wordCount = 2 * Self.lineWords + threadCount
        let raw = UnsafeMutableRawPointer.allocate(byteCount: wordCount * MemoryLayout<Int>.stride, alignment: 128)
        words = raw.bindMemory(to: Atomic<Int>.self, capacity: wordCount)
        for i in 0..<wordCount { (words + i).initialize(to: Atomic(0)) }
        wake = (0..<threadCount).map { _ in DispatchSemaphore(value: 0) }
        Self.liveWorkers.wrappingAdd(threadCount - 1, ordering: .relaxed)
    }

    deinit {
        // Atomic<Int> has no deinitialization work; the memory is plain words.
        UnsafeMutableRawPointer(words).deallocate()
    }

    // MARK: Caller side

    /// Takes the pool for one call; false when it is already running one (nested or concurrent
    /// caller), which then runs serially.
    func tryAcquire() -> Bool {
        busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
    }

    func release() { busy.store(false, ordering: .releasing) }

    /// Runs one call; `job` holds the same closure as `callerBody` (the caller calls its own
    /// copy directly).
    @inline(__always)
    func run(count: Int, chunk: Int, job: UnsafePointer<ThreadPoolJob>, callerBody: ThreadPoolBody) {
        self.job = job
        self.count = count
        self.chunk = chunk
        next.pointee.store(0, ordering: .relaxed)
        epoch &+= 1
        let gateValue = ((epoch << Self.epochShift) & ~(Self.openBit | Self.activeMask)) | Self.openBit
        gate.pointee.store(gateValue, ordering: .sequentiallyConsistent)
        wakeSleepers()
        claim(worker: 0, count: count, chunk: chunk, callerBody)
        let inside = gate.pointee.bitwiseAnd(~Self.openBit, ordering: .acquiringAndReleasing).newValue & Self.activeMask
        if inside != 0 {
            while !ThreadPool.spin(until: { gate.pointee.load(ordering: .acquiring) & Self.activeMask == 0 }) {}
        }
        self.job = nil
    }

    /// Claims chunks until the indices run out.
    @inline(__always)
    func claim(worker: Int, count: Int, chunk: Int, _ body: ThreadPoolBody) {
        while true {
            let start = next.pointee.wrappingAdd(chunk, ordering: .relaxed).oldValue
            if start >= count { return }
            let end = min(start &+ chunk, count)
            var i = start
            while i < end { body(i, worker); i &+= 1 }
        }
    }

    private func wakeSleepers() {
        for w in 1..<threadCount {
            let flag = sleeping(w)
            if flag.pointee.load(ordering: .sequentiallyConsistent) != 0,
               flag.pointee.exchange(0, ordering: .sequentiallyConsistent) != 0 {
                wake[w].signal()
            }
        }
    }

    /// Asks the workers to exit and waits until they have (the pool's deinit).
    func shutDown() {
        shuttingDown.store(true, ordering: .sequentiallyConsistent)
        epoch &+= 1
        gate.pointee.store((epoch << Self.epochShift) & ~(Self.openBit | Self.activeMask), ordering: .sequentiallyConsistent)
        wakeSleepers()
        for _ in 1..<threadCount { exited.wait() }
    }

    // MARK: Worker side

    /// Worker threads of all pools, counted from creation until they leave their loop (tests
    /// check that released pools stop their threads).
    static let liveWorkers = Atomic<Int>(0)

    func workerLoop(_ w: Int) {
        var seen = 0
        while true {
            let g = waitForNewEpoch(seen: seen, worker: w)
            if shuttingDown.load(ordering: .acquiring) {
                Self.liveWorkers.wrappingSubtract(1, ordering: .relaxed)
                exited.signal()
                return
            }
            seen = g >> Self.epochShift
            if join(epoch: seen) {
                // Joined: `job`, `count`, `chunk` stay valid until this worker leaves.
                // Passing the closure as an argument costs one retain/release of its context per call;
                // calling through the pointer instead would retain per index.
                claim(worker: w, count: count, chunk: chunk, job.unsafelyUnwrapped.pointee.body)
                gate.pointee.wrappingSubtract(1, ordering: .releasing)
            }
        }
    }

    /// Enters the call of `epoch` if it is still open.
    private func join(epoch: Int) -> Bool {
        var g = gate.pointee.load(ordering: .relaxed)
        while g >> Self.epochShift == epoch && g & Self.openBit != 0 {
            let r = gate.pointee.compareExchange(expected: g, desired: g &+ 1,
                                                 successOrdering: .acquiring, failureOrdering: .relaxed)
            if r.exchanged { return true }
            g = r.original
        }
        return false
    }

    /// Spins, then sleeps, until the gate's epoch differs from `seen`; returns the gate.
    private func waitForNewEpoch(seen: Int, worker w: Int) -> Int {
        while true {
            var g = 0
            if ThreadPool.spin(until: {
                g = gate.pointee.load(ordering: .acquiring)
                return g >> Self.epochShift != seen
            }) { return g }
            let flag = sleeping(w)
            flag.pointee.store(1, ordering: .sequentiallyConsistent)
            g = gate.pointee.load(ordering: .sequentiallyConsistent)
            if g >> Self.epochShift != seen, flag.pointee.exchange(0, ordering: .sequentiallyConsistent) != 0 {
                return g
            }
            // Either nothing new (sleep until a caller signals) or a caller already took the flag
            // back and is signalling: consume that signal, then look again.
            wake[w].wait()
        }
    }
}

extension ThreadPool {
    /// How long a worker (or the caller, waiting for workers) spins before it sleeps. Waking a
    /// sleeping thread took ~0.1 ms on the 2-vCPU benchmark VM — as long as a whole depthwise layer —
    /// so workers stay hot across the back-to-back calls of one inference (ONNX Runtime's pool
    /// spins for the same reason) and sleep once the pool has been idle this long.
    static let spinNanoseconds: UInt64 = 500_000

    @inline(__always) static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Spins until `done()` or the spin budget is spent; true if `done()` became true. After the
    /// first 20 µs it yields the CPU between checks: on a loaded machine the thread it waits for
    /// may be queued on this very CPU, and a pure spin would then only delay it.
    @inline(__always) static func spin(until done: () -> Bool) -> Bool {
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
}
