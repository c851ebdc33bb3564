import EdgeIR
import EdgeRuntime
import Foundation

/// Runs a reference and a candidate session on the same feed at the same time, observing the
/// same tensor names in both, and hands each name's pair of tensors to a comparison as soon as the
/// second of the two runs produces it.
///
/// Why: comparing layer by layer used to run the reference over a batch first and keep a copy of
/// every observed layer until the candidate produced the same layer, so one batch of all layers
/// was held at once (3.4 GiB for EfficientNet-B0 at batch 32). Run in lockstep, a copy lives only
/// from the moment one run produces a layer until the other run produces it: the side that is
/// ahead copies its tensor out of its arena, the other compares its arena tensor with that copy
/// and drops it. The side that is ahead waits before copying more once `budgetBytes` of copies are
/// held, until the other side has caught up. Both runs are the unchanged sessions (same batches,
/// same kernels, same task split), so every tensor and every figure computed from them is
/// bit-identical to running the two models one after the other.
///
/// No deadlock: a side waits only while the other side is running and not itself waiting; when
/// both would wait (the two graphs produce the names in different orders), the second goes on
/// over the budget. A side that has finished its run will not produce anything more, so the other
/// side then neither waits nor copies. Memory: at most `budgetBytes` of copies plus the one tensor
/// being copied, unless the two runs produce the names in different orders.
///
/// `compare(name, reference, candidate)` runs on either run's thread (the reference runs on a
/// thread of its own, the candidate on the caller's), possibly at the same time for two different
/// names, but never twice at once for one name, and per name in batch order when `run` is called
/// once per batch. Its tensors are valid only during the call.
public final class LockstepComparison: @unchecked Sendable {
    // @unchecked: every mutable property is read and written only with `condition` locked.
    /// Copies held at once before the side that is ahead waits (one tensor is always allowed).
    public let budgetBytes: Int
    /// 64 MiB: a few large CNN activations at batch 32, small next to the arenas themselves.
    public static let defaultBudgetBytes = 64 << 20

    private let condition = NSCondition()
    private var held: [String: (side: Int, tensor: Tensor)] = [:]
    private var heldBytes = 0
    private var waiting = [false, false]
    private var finished = [false, false]
    private var failed = false
    private var peak = 0

    private static let reference = 0, candidate = 1

    /// Thrown inside the run that is told to stop because the other one failed.
    private struct Cancelled: Error {}

    public init(budgetBytes: Int = LockstepComparison.defaultBudgetBytes) {
        self.budgetBytes = max(0, budgetBytes)
    }

    /// The most bytes of copies held at once, over every `run` so far.
    public var peakHeldBytes: Int {
        condition.lock()
        defer { condition.unlock() }
        return peak
    }

    /// Runs both sessions on `feed` (each observing the names in its `SessionOptions.observedTensors`)
    /// and returns both sets of outputs. The first error of either run (or of `compare`) stops both
    /// and is rethrown.
    public func run(reference: Session, candidate: Session, feed: [String: Tensor],
                    compare: @escaping @Sendable (_ name: String, _ reference: Tensor, _ candidate: Tensor) throws -> Void)
        throws -> (reference: [String: Tensor], candidate: [String: Tensor]) {
        condition.lock()
        held = [:]
        heldBytes = 0
        waiting = [false, false]
        finished = [false, false]
        failed = false
        condition.unlock()

        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            box.result = Result { try self.side(Self.reference, session: reference, feed: feed, compare: compare) }
            done.signal()
        }
        // Threads other than the main one get 512 KiB by default; a session runs on the
        // caller's stack (kernels, nested If/Loop bodies) and gets the usual main-thread size.
        thread.stackSize = 8 << 20
        thread.start()
        let candidateResult = Result { try side(Self.candidate, session: candidate, feed: feed, compare: compare) }
        done.wait()
        let referenceResult = box.result ?? .failure(EdgeError.internalError("the reference run did not finish"))

        condition.lock()
        held = [:]
        heldBytes = 0
        condition.unlock()
        // The error that stopped the runs, not the cancellation it caused in the other run.
        for result in [referenceResult, candidateResult] {
            if case .failure(let error) = result, !(error is Cancelled) { throw error }
        }
        return (try referenceResult.get(), try candidateResult.get())
    }

    private func side(_ s: Int, session: Session, feed: [String: Tensor],
                      compare: (String, Tensor, Tensor) throws -> Void) throws -> [String: Tensor] {
        defer {
            condition.lock()
            finished[s] = true
            condition.broadcast()
            condition.unlock()
        }
        do {
            return try session.run(feed) { name, t in try observe(s, name, t, compare) }
        } catch {
            condition.lock()
            failed = true
            condition.broadcast()
            condition.unlock()
            throw error
        }
    }

    private func observe(_ s: Int, _ name: String, _ t: Tensor, _ compare: (String, Tensor, Tensor) throws -> Void) throws {
        let other = 1 - s
        condition.lock()
        while true {
            if failed {
                condition.unlock()
                throw Cancelled()
            }
            if let h = held[name], h.side == other {
                // The other run produced it first: compare with its copy, then drop the copy.
                held[name] = nil
                heldBytes -= h.tensor.byteCount
                condition.broadcast()
                condition.unlock()
                if s == Self.candidate { try compare(name, h.tensor, t) } else { try compare(name, t, h.tensor) }
                return
            }
            // Finished: the other run will never produce it. Already held: observed twice (not expected).
            if finished[other] || held[name] != nil {
                condition.unlock()
                return
            }
            let size = t.byteCount
            if heldBytes == 0 || heldBytes + size <= budgetBytes || waiting[other] {
                let copy = t.detachedFromArena()
                held[name] = (s, copy)
                heldBytes += size
                peak = max(peak, heldBytes)
                // The other side may be waiting to store this very name: it can now compare instead.
                condition.broadcast()
                condition.unlock()
                return
            }
            waiting[s] = true
            condition.wait()
            waiting[s] = false
        }
    }

    private final class ResultBox: @unchecked Sendable {
        // @unchecked: written by the reference thread before it signals the semaphore the caller
        // waits on, read by the caller after that wait (the semaphore orders the two).
        var result: Result<[String: Tensor], Error>?
    }
}
