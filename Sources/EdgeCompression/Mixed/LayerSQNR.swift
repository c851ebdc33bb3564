import EdgeIR
import EdgeRuntime
import Foundation

/// SQNR of chosen tensors of a quantized model against the same tensors of its float model:
/// 10·log10(Σr² / Σ(r−q)²) over the data set, in dB (+∞ when identical).
///
/// Both models run observing the tensors (the Q/DQ insertion keeps every quantized tensor's name,
/// so the names match): the float run copies its float tensors out, and the quantized run compares
/// each of its tensors with that copy inside the observer and drops the copy. Memory: one batch's
/// float copies of the tensors plus the engines' arenas (graph-output capture held both models'
/// tensors and sized each arena to keep them all alive). The value is the error accumulated up to
/// that tensor, the same attribution as `edgeopt validate`'s per-layer table.
enum LayerSQNR {
    static func measure(float: Model, quantized: Model, tensors: [String], data: CalibrationDataSet, options: SessionOptions) throws -> [String: Double] {
        var observing = options
        observing.observedTensors = Set(tensors)
        let floatSession = try Session(model: float, options: observing)
        let quantSession = try Session(model: quantized, options: observing)
        var signal = [String: Double](), noise = [String: Double]()
        for feed in data.batches() {
            var reference: [String: (shape: [Int], values: [Float])] = [:]
            _ = try floatSession.run(feed) { name, a in
                if a.dtype == .float { reference[name] = (a.shape, a.scalars()) }
            }
            _ = try quantSession.run(feed) { name, b in
                guard let a = reference.removeValue(forKey: name), b.dtype == .float, a.shape == b.shape else { return }
                let x = a.values
                var s = 0.0, n = 0.0
                b.withUnsafeBytes { raw in
                    let y = raw.bindMemory(to: Float.self)
                    for i in x.indices {
                        let e = Double(x[i]) - Double(y[i])
                        s += Double(x[i]) * Double(x[i]); n += e * e
                    }
                }
                signal[name, default: 0] += s
                noise[name, default: 0] += n
            }
        }
        var result: [String: Double] = [:]
        for name in tensors {
            guard let s = signal[name], let n = noise[name] else { continue }
            result[name] = n == 0 ? .infinity : 10 * log10(max(s, .leastNonzeroMagnitude) / n)
        }
        return result
    }
}
