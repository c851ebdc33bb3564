import Dispatch

/// Splits a loop over the session's threads. Work is cut into at most `threads` contiguous
/// ranges (each at least `grain` long) so each worker touches one cache-friendly block.
final class WorkerPool: Sendable {
    let threads: Int

    init(threads: Int) {
        self.threads = max(1, threads)
    }

    func parallelFor(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threads, max(1, count / max(1, grain)))
        if chunks <= 1 {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            // The body only runs while `parallelFor` waits, and each call gets a disjoint range.
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let start = count * chunk / chunks
                let end = count * (chunk + 1) / chunks
                if start < end { shared.value(start..<end) }
            }
        }
    }
}

/// Carries a value into a `@Sendable` closure when the caller guarantees the access is safe
/// (see each use).
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
