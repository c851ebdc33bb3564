@testable import EdgeKernels
import Foundation
import Synchronization
import XCTest

/// `ThreadPool`: every index runs exactly once, worker numbers are unique among the bodies running
/// at one time, nested calls run serially, a stalled worker does not hold the others' indices, and
/// a pool can be released at any time.
final class ThreadPoolClaimingTests: XCTestCase {
    /// Per-index (or per-worker) atomic counters.
    final class Counters: @unchecked Sendable {
        // @unchecked Sendable: the storage is only touched through atomics.
        let values: UnsafeMutablePointer<Atomic<Int>>
        let count: Int
        init(_ count: Int) {
            self.count = count
            values = .allocate(capacity: max(1, count))
            for i in 0..<max(1, count) { (values + i).initialize(to: Atomic(0)) }
        }
        deinit { values.deallocate() }
        func add(_ i: Int, _ n: Int = 1) { values[i].add(n, ordering: .relaxed) }
        func exchange(_ i: Int, _ n: Int) -> Int { values[i].exchange(n, ordering: .acquiringAndReleasing) }
        subscript(i: Int) -> Int { values[i].load(ordering: .relaxed) }
        var all: [Int] { (0..<count).map { self[$0] } }
    }

    func testEveryIndexRunsExactlyOnce() {
        for threads in [1, 2, 3, 4, 7] {
            let pool = ThreadPool(threads: threads)
            for count in [0, 1, 2, 3, 5, 7, 8, 9, 16, 31, 64, 100, 1000, 4097] {
                for round in 0..<8 {
                    let hits = Counters(count)
                    let workers = Counters(threads)
                    pool.parallelFor(count) { i, w in
                        hits.add(i)
                        workers.add(w)
                    }
                    XCTAssertEqual(hits.all, [Int](repeating: 1, count: count), "threads \(threads) count \(count) round \(round)")
                    XCTAssertEqual(workers.all.reduce(0, +), count, "worker numbers outside 0..<\(threads)")
                }
            }
        }
    }

    /// Calls spaced out past the spin budget, so workers go to sleep and are woken between calls.
    func testEveryIndexRunsOnceAcrossSleepAndWake() {
        let pool = ThreadPool(threads: 3)
        for round in 0..<30 {
            usleep(UInt32(200 + (round % 3) * 600))
            let count = 50 + round
            let hits = Counters(count)
            pool.parallelFor(count) { i, _ in hits.add(i) }
            XCTAssertEqual(hits.all, [Int](repeating: 1, count: count), "round \(round)")
        }
    }

    /// Each body marks its worker number busy while it runs; finding it already busy means two
    /// concurrent bodies got the same number (their per-worker scratch would collide).
    func testWorkerNumbersAreUniqueAmongConcurrentBodies() {
        for threads in [2, 3] {
            let pool = ThreadPool(threads: threads)
            let inUse = Counters(threads)
            let collisions = Counters(1)
            let ran = Counters(threads)
            for _ in 0..<10 {
                pool.parallelFor(48) { _, w in
                    if inUse.exchange(w, 1) != 0 { collisions.add(0) }
                    ran.add(w)
                    usleep(100)
                    _ = inUse.exchange(w, 0)
                }
            }
            XCTAssertEqual(collisions[0], 0, "threads \(threads)")
            XCTAssertEqual(ran.all.reduce(0, +), 480)
            // The uniqueness check means something only if bodies did run on several threads.
            XCTAssertGreaterThan(ran.all.filter { $0 > 0 }.count, 1, "only one thread ran bodies: \(ran.all)")
        }
    }

    /// A `parallelFor` from inside a body runs serially on that thread (no deadlock) and still
    /// runs every inner index once.
    func testNestedCallsRunSerially() {
        let pool = ThreadPool(threads: 2)
        let outer = 12, inner = 20
        let hits = Counters(outer * inner)
        let innerThreads = Counters(outer)
        pool.parallelFor(outer) { o, _ in
            let me = pthread_self()
            pool.parallelFor(inner) { i, w in
                hits.add(o * inner + i)
                XCTAssertEqual(w, 0)
                if pthread_equal(pthread_self(), me) == 0 { innerThreads.add(o) }
            }
        }
        XCTAssertEqual(hits.all, [Int](repeating: 1, count: outer * inner))
        XCTAssertEqual(innerThreads.all, [Int](repeating: 0, count: outer), "an inner body ran on another thread")
    }

    /// The first body worker 1 runs sleeps 200 ms. With a fixed split worker 1 would own a third
    /// of the indices (32); with stealing the others take its share while it sleeps (it keeps at
    /// most what it claimed before the stall). The call still waits for the body it holds.
    func testStalledWorkerLeavesTheRestToOthers() {
        let threads = 3, count = 96
        let bound = 8  // a fixed split gives worker 1 count / threads = 32
        let pool = ThreadPool(threads: threads)
        var stalledRan = 0
        for _ in 0..<5 {
            let ran = Counters(threads)
            let stalled = Counters(1)
            let start = ThreadPool.monotonicNanoseconds()
            pool.parallelFor(count) { _, w in
                if w == 1, stalled.exchange(0, 1) == 0 { usleep(200_000) } else { usleep(500) }
                ran.add(w)
            }
            let elapsed = Double(ThreadPool.monotonicNanoseconds() - start) / 1e6
            XCTAssertEqual(ran.all.reduce(0, +), count)
            stalledRan = ran[1]
            if stalledRan == 0 { continue }  // worker 1 never joined (loaded machine): try again
            XCTAssertLessThanOrEqual(stalledRan, bound, "the stalled worker ran \(stalledRan) of \(count)")
            XCTAssertGreaterThanOrEqual(elapsed, 200, "the call returned before the stalled body")
            break
        }
        XCTAssertGreaterThan(stalledRan, 0, "worker 1 never took part")
    }

    /// Pools released idle, right after a call, and before their threads have started: deinit
    /// returns and the worker threads exit.
    func testPoolReleasedWhileIdleStopsItsThreads() {
        func threadCount() -> Int { ThreadPoolState.liveWorkers.load(ordering: .relaxed) }
        let before = threadCount()
        weak var weakPool: ThreadPool?
        do {
            let fresh = ThreadPool(threads: 4)
            weakPool = fresh
        }
        XCTAssertNil(weakPool)
        do {
            let used = ThreadPool(threads: 3)
            let hits = Counters(10)
            used.parallelFor(10) { i, _ in hits.add(i) }
            XCTAssertEqual(hits.all, [Int](repeating: 1, count: 10))
            XCTAssertEqual(threadCount(), before + 2, "the pool's workers are not running")
        }
        do {
            let idle = ThreadPool(threads: 2)
            idle.parallelFor(4) { _, _ in }
            usleep(5_000)  // past the spin budget: the worker sleeps on its semaphore
            weakPool = idle
        }
        XCTAssertNil(weakPool)
        // Deinit returns once every worker has left its loop.
        XCTAssertEqual(threadCount(), before, "worker threads still running")
    }

    func testWorkersCarryTheirNameInTheKernel() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: "/proc/thread-self/comm"), "Linux only")
        let pool = ThreadPool(threads: 2)
        let names = Mutex<Set<String>>([])
        // Enough slow indices that worker 1 joins at least once.
        for _ in 0..<50 where !names.withLock({ $0.contains("edgeopt-w1") }) {
            pool.parallelFor(8) { _, worker in
                usleep(200)
                let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                if worker > 0 { names.withLock { _ = $0.insert(name) } }
            }
        }
        XCTAssertEqual(names.withLock { $0 }, ["edgeopt-w1"])
    }
}
