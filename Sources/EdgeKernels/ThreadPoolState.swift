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
///     bit 0…15   number of workers inside the call (they may read `job` and the shares)
///     bit 16     open: workers may still join
///     bit 17…    epoch: the call's sequence number (workers wake when it changes)
///
/// - The caller writes `job` and every thread's share (a fixed split), then publishes
///   `epoch | open` with one store (no worker is inside at that point).
/// - A worker joins with a compare-exchange that adds 1 only while the gate is open, runs its
///   share and steals from the others' (see `work`), and leaves by subtracting 1.
/// - The caller works the same way; when every share is empty it clears `open` and waits until
///   the count of workers inside is 0. A worker that had not joined by then never reads the
///   call's fields, so the caller owes it nothing (its share was stolen): it finds the gate closed (or a later epoch)
///   when it wakes. The pointer to the job therefore never outlives the caller's frame.
///
/// Sleep: a worker that has spun without a new epoch sets its `sleeping` flag and re-reads the
/// gate (both sequentially consistent); the caller stores the gate, then reads every flag (also
/// sequentially consistent). Either the worker sees the new epoch or the caller sees the flag;
/// whichever side takes the flag back with `exchange` owns the wake-up, so no signal is lost or
/// left over.
final class ThreadPoolState: @unchecked Sendable {
    // @unchecked Sendable: `job` and `epoch` are written only by the thread
    // that holds `busy`, and only while no worker is inside the gate; workers read them only
    // after joining through the gate (acquire), which orders the writes before the reads.
    let threadCount: Int
    var job: UnsafePointer<ThreadPoolJob>?
    var epoch = 0

    static let activeMask = (1 << 16) - 1
    static let openBit = 1 << 16
    static let epochShift = 17

    /// The gate, each thread's share and the `sleeping` flags sit on separate 128-byte lines
    /// (adjacent-line prefetch pairs 64-byte lines): a thread claims from its own share once per
    /// index, which stays in its own cache unless another thread steals; idle workers poll the gate.
    private let words: UnsafeMutablePointer<Atomic<Int>>
    private static let lineWords = 16
    private var gate: UnsafeMutablePointer<Atomic<Int>> { words }
    /// Share of thread t: `lo << 32 | hi`, the indices `lo..<hi` not yet claimed.
    private func share(_ t: Int) -> UnsafeMutablePointer<Atomic<Int>> { words + (1 + t) * Self.lineWords }
    private func sleeping(_ w: Int) -> UnsafeMutablePointer<Atomic<Int>> { words + (1 + threadCount) * Self.lineWords + w }

    /// Largest count that fits the 32-bit halves of a share.
    static let maxCount = Int(UInt32.max >> 1)

    private let busy = Atomic<Bool>(false)
    private let shuttingDown = Atomic<Bool>(false)
    private let wake: [DispatchSemaphore]
    private let exited = DispatchSemaphore(value: 0)

    init(threadCount: Int) {
        self.threadCount = threadCount
        let wordCount = (2 + threadCount) * Self.lineWords
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

    /// Runs one call over `0..<count` (≤ `maxCount`); `job` holds the same closure as
    /// `callerBody` (the caller calls its own copy directly).
    @inline(__always)
    func run(count: Int, job: UnsafePointer<ThreadPoolJob>, callerBody: ThreadPoolBody) {
        self.job = job
        // Contiguous shares as in a fixed split, so an unloaded machine runs the fixed split
        // (every thread claims only from its own line); stealing evens out the rest.
        for t in 0..<threadCount {
            let lo = count * t / threadCount, hi = count * (t + 1) / threadCount
            share(t).pointee.store(lo << 32 | hi, ordering: .relaxed)
        }
        epoch &+= 1
        let gateValue = ((epoch << Self.epochShift) & ~(Self.openBit | Self.activeMask)) | Self.openBit
        gate.pointee.store(gateValue, ordering: .sequentiallyConsistent)
        wakeSleepers()
        work(thread: 0, callerBody)
        let inside = gate.pointee.bitwiseAnd(~Self.openBit, ordering: .acquiringAndReleasing).newValue & Self.activeMask
        if inside != 0 {
            while !ThreadPool.spin(until: { gate.pointee.load(ordering: .acquiring) & Self.activeMask == 0 }) {}
        }
        self.job = nil
    }

    /// Runs indices from this thread's share, then steals from the others' until every share is
    /// empty.
    @inline(__always)
    func work(thread me: Int, _ body: ThreadPoolBody) {
        while true {
            while let i = claimOwn(me) { body(i, me) }
            if !steal(into: me) { return }
        }
    }

    /// Takes the lowest unclaimed index of thread `t`'s share.
    @inline(__always)
    private func claimOwn(_ t: Int) -> Int? {
        let word = share(t)
        var v = word.pointee.load(ordering: .relaxed)
        while true {
            let lo = v >> 32, hi = v & 0xFFFF_FFFF
            if lo >= hi { return nil }
            let r = word.pointee.compareExchange(expected: v, desired: v &+ (1 << 32), ordering: .relaxed)
            if r.exchanged { return lo }
            v = r.original
        }
    }

    /// Moves the upper half of another thread's unclaimed indices into this thread's (empty)
    /// share; false when no share has any left. Only the owner raises `lo` and only thieves lower
    /// `hi`, both by compare-exchange of the whole word, so an index is claimed once. A share
    /// whose thread never joined is halved again and again until the thieves have taken it all.
    private func steal(into me: Int) -> Bool {
        var victim = me
        for _ in 1..<threadCount {
            victim = victim + 1 == threadCount ? 0 : victim + 1
            let word = share(victim)
            var v = word.pointee.load(ordering: .relaxed)
            while true {
                let lo = v >> 32, hi = v & 0xFFFF_FFFF
                if lo >= hi { break }
                let mid = hi - (hi - lo + 1) / 2
                let r = word.pointee.compareExchange(expected: v, desired: lo << 32 | mid, ordering: .relaxed)
                if r.exchanged {
                    // This share is empty, so no other thread writes it (thieves skip empty
                    // shares): a plain store hands the stolen range to this thread's own claims,
                    // where later thieves can split it again.
                    share(me).pointee.store(mid << 32 | hi, ordering: .relaxed)
                    return true
                }
                v = r.original
            }
        }
        return false
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
                // Joined: `job` and the shares stay valid until this worker leaves.
                // Passing the closure as an argument costs one retain/release of its context per call;
                // calling through the pointer instead would retain per index.
                work(thread: w, job.unsafelyUnwrapped.pointee.body)
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
