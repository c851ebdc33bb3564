import EdgeIR
import EdgeRuntime
import Foundation

/// SQNR of chosen tensors of a quantized model against the same tensors of its float model:
/// 10·log10(Σr² / Σ(r−q)²) over the data set, in dB (+∞ when identical).
///
/// Both models run with the tensors added as graph outputs (the Q/DQ insertion keeps every
/// quantized tensor's name, so the names match). The value is the error accumulated up to that
/// tensor, the same attribution as `edgeopt validate`'s per-layer table.
enum LayerSQNR {
    static func measure(float: Model, quantized: Model, tensors: [String], data: CalibrationDataSet, options: SessionOptions) throws -> [String: Double] {
        func augmented(_ m: Model) -> Model {
            var copy = m
            let existing = Set(copy.graph.outputs.map(\.name))
            for name in tensors where !existing.contains(name) { copy.graph.outputs.append(ValueInfo(name: name, type: nil)) }
            return copy
        }
        let floatSession = try Session(model: augmented(float), options: options)
        let quantSession = try Session(model: augmented(quantized), options: options)
        var signal = [String: Double](), noise = [String: Double]()
        for feed in data.batches() {
            let r = try floatSession.run(feed), q = try quantSession.run(feed)
            for name in tensors {
                guard let a = r[name], let b = q[name], a.dtype == .float, b.dtype == .float, a.shape == b.shape else { continue }
                let x: [Float] = a.scalars(), y: [Float] = b.scalars()
                var s = 0.0, n = 0.0
                for i in x.indices {
                    let e = Double(x[i]) - Double(y[i])
                    s += Double(x[i]) * Double(x[i]); n += e * e
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
