import EdgeIR
import EdgeRuntime
import Foundation

/// SQNR of chosen tensors of a quantized model against the same tensors of its float model:
/// 10·log10(Σr² / Σ(r−q)²) over the data set, in dB (+∞ when identical).
///
/// Both models run observing the tensors (the Q/DQ insertion keeps every quantized tensor's name,
/// so the names match), in lockstep (`LockstepComparison`): whichever run produces a tensor first
/// copies it out, the other compares its own tensor with that copy inside its observer and drops
/// the copy. Memory: at most about `budgetBytes` of copies plus the engines' arenas, whatever the
/// batch size (the float run used to copy one batch of every tensor before the quantized run).
/// The value is the error accumulated up to that tensor, the same attribution as
/// `edgeopt validate`'s per-layer table.
enum LayerSQNR {
    static func measure(float: Model, quantized: Model, tensors: [String], data: CalibrationDataSet, options: SessionOptions,
                        budgetBytes: Int = LockstepComparison.defaultBudgetBytes) throws -> [String: Double] {
        var observing = options
        observing.observedTensors = Set(tensors)
        let floatSession = try Session(model: float, options: observing)
        let quantSession = try Session(model: quantized, options: observing)
        let sums = Sums()
        let lockstep = LockstepComparison(budgetBytes: budgetBytes)
        for feed in data.batches() {
            _ = try lockstep.run(reference: floatSession, candidate: quantSession, feed: feed) { name, a, b in
                guard a.dtype == .float, b.dtype == .float, a.shape == b.shape else { return }
                // Σ r² and Σ (r − q)² of this batch, in element order, then added to the totals
                // (per batch, in batch order: a tensor is compared once per batch).
                var s = 0.0, n = 0.0
                a.withUnsafeBytes { ra in
                    b.withUnsafeBytes { rb in
                        let x = ra.bindMemory(to: Float.self), y = rb.bindMemory(to: Float.self)
                        for i in x.indices {
                            let e = Double(x[i]) - Double(y[i])
                            s += Double(x[i]) * Double(x[i]); n += e * e
                        }
                    }
                }
                sums.add(name, s, n)
            }
        }
        let (signal, noise) = (sums.signal, sums.noise)
        var result: [String: Double] = [:]
        for name in tensors {
            guard let s = signal[name], let n = noise[name] else { continue }
            result[name] = n == 0 ? .infinity : 10 * log10(max(s, .leastNonzeroMagnitude) / n)
        }
        return result
    }

    /// Totals shared by the two lockstep runs' threads.
    final class Sums: @unchecked Sendable {
        // @unchecked: the dictionaries are read and written only with `lock` held (or after the runs ended).
        private let lock = NSLock()
        var signal = [String: Double](), noise = [String: Double]()
        func add(_ name: String, _ s: Double, _ n: Double) {
            lock.withLock {
                signal[name, default: 0] += s
                noise[name, default: 0] += n
            }
        }
    }
}
