import EdgeKernels
import Foundation
import Synchronization

/// The session's threads: the kernels' persistent `ThreadPool` (nil when running on one thread),
/// plus range-splitting for the runtime's own loops.
final class WorkerPool: Sendable {
    let threads: Int
    /// Handed to EdgeKernels entry points; nil means "calling thread only".
    let kernelPool: ThreadPool?

    init(threads: Int) {
        self.threads = max(1, threads)
        kernelPool = self.threads > 1 ? WorkerPool.sharedPool(threads: self.threads) : nil
    }

    /// One kernel thread pool per thread count for the whole process: sessions come and go (a
    /// calibration loop, a test suite) without creating and joining threads each time. (Pools
    /// themselves may be released at any time: workers hold only the pool's shared state.)
    private static let pools = Mutex<[Int: ThreadPool]>([:])

    static func sharedPool(threads: Int) -> ThreadPool {
        pools.withLock { pools in
            if let pool = pools[threads] { return pool }
            let pool = ThreadPool(threads: threads)
            pools[threads] = pool
            return pool
        }
    }

    /// Runs `body` over `0..<count` cut into at most `threads` contiguous ranges, each at least
    /// `grain` long.
    func parallelFor(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threads, max(1, count / max(1, grain)))
        guard chunks > 1, let kernelPool else {
            body(0..<count)
            return
        }
        kernelPool.parallelFor(chunks) { chunk in
            let start = count * chunk / chunks
            let end = count * (chunk + 1) / chunks
            if start < end { body(start..<end) }
        }
    }
}
