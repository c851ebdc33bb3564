import EdgeIR
import Foundation

/// Runs ONNX backend-test cases (the node conformance suite, the light_* models) through the
/// engine: each case is a directory with `model.onnx` and `test_data_set_N/{input,output}_K.pb`.
/// A case whose operators are not all claimed is skipped; every other case must match its
/// reference outputs (floats within rtol/atol as onnx's backend test, NaN equal to NaN; integers,
/// bools, strings and 8-bit floats exactly). Errors are caught per case.
public enum ConformanceSuite {
    public struct Case: Sendable {
        public var name: String
        public var directory: String
        /// The operator the case tests (from the suite's index, else the model's last node).
        public var opType: String
        public var rtol: Double
        public var atol: Double
    }

    public enum Status: Sendable, Equatable {
        case passed
        case failed(String)
        case skipped(String)
    }

    public struct Result: Sendable {
        public var testCase: Case
        public var status: Status
    }

    /// Cases under `directory`: from `index.json` (make-fixtures layout) when present, else every
    /// subdirectory holding a `model.onnx`.
    public static func cases(in directory: String) throws -> [Case] {
        let fm = FileManager.default
        var byName: [String: (op: String, rtol: Double, atol: Double)] = [:]
        let indexPath = (directory as NSString).appendingPathComponent("index.json")
        if let data = fm.contents(atPath: indexPath),
           let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            let entries = (json["cases"] as? [[String: Any]]) ?? (json["models"] as? [[String: Any]]) ?? []
            for e in entries {
                guard let name = e["name"] as? String else { continue }
                let domain = (e["domain"] as? String) ?? ""
                let op = (e["op_type"] as? String).map { domain.isEmpty ? $0 : "\(domain)::\($0)" } ?? ""
                byName[name] = (op, (e["rtol"] as? Double) ?? 1e-3, (e["atol"] as? Double) ?? 1e-7)
            }
        }
        guard let names = try? fm.contentsOfDirectory(atPath: directory) else {
            throw EdgeError.badInput("cannot list conformance directory '\(directory)'")
        }
        return names.sorted().compactMap { name in
            let dir = (directory as NSString).appendingPathComponent(name)
            guard fm.fileExists(atPath: (dir as NSString).appendingPathComponent("model.onnx")) else { return nil }
            let info = byName[name]
            return Case(name: name, directory: dir, opType: info?.op ?? "", rtol: info?.rtol ?? 1e-3, atol: info?.atol ?? 1e-7)
        }
    }

    /// Cases the engine deliberately does not reproduce, with why. They are reported as skipped
    /// with the reason, never counted as passes.
    ///
    /// The expanded (primitive-op) Attention graphs in half precision: the suite's NumPy reference
    /// rounds to fp16 after every multiply-add of MatMul (NumPy's float16 matmul loop) and computes
    /// bf16 Softmax with each intermediate rounded to bf16 (ml_dtypes arithmetic). The engine's
    /// policy is float32 computation with one rounding per operator output (as ONNX Runtime and
    /// fp16 accelerators with fp32 accumulators do), which differs from those by 1–2 half ulps.
    public static let knownDeviations: [String: String] = {
        let reason = "NumPy reference rounds half-precision intermediates inside MatMul/Softmax; engine accumulates in float32"
        return Dictionary(uniqueKeysWithValues: [
            "test_attention_3d_causal_bf16_expanded", "test_attention_4d_attn_mask_causal_bf16_expanded",
            "test_attention_4d_causal_bf16_expanded", "test_attention_4d_causal_fp16_expanded",
            "test_attention_4d_causal_padded_kv_bf16_expanded", "test_attention_4d_padded_kv_bf16_expanded",
        ].map { ($0, reason) })
    }()

    /// Op types a graph uses, including nested subgraphs, as registry keys.
    public static func operators(of graph: Graph) -> Set<String> {
        var ops = Set<String>()
        for node in graph.nodes {
            ops.insert(OperatorRegistry.key(node.opType, node.domain))
            for sub in node.subgraphs { ops.formUnion(operators(of: sub)) }
        }
        return ops
    }

    /// Runs one case. `claimed` nil runs it whatever operators it uses.
    public static func run(_ testCase: Case, claimed: Set<String>?, threads: Int = 1) -> Result {
        var testCase = testCase
        if let reason = knownDeviations[testCase.name] {
            return Result(testCase: testCase, status: .skipped("known deviation: \(reason)"))
        }
        do {
            let model = try ONNXReader.read(path: (testCase.directory as NSString).appendingPathComponent("model.onnx"))
            let ops = operators(of: model.graph)
            if testCase.opType.isEmpty, let last = model.graph.nodes.last {
                testCase.opType = OperatorRegistry.key(last.opType, last.domain)
            }
            if let claimed {
                let missing = ops.subtracting(claimed)
                if !missing.isEmpty {
                    return Result(testCase: testCase, status: .skipped("unclaimed: \(missing.sorted().joined(separator: ", "))"))
                }
            }
            let session = try Session(model: model, options: SessionOptions(threads: threads))
            let dataSets = try FileManager.default.contentsOfDirectory(atPath: testCase.directory)
                .filter { $0.hasPrefix("test_data_set_") }.sorted()
            guard !dataSets.isEmpty else { return Result(testCase: testCase, status: .skipped("no test data")) }
            let inputInfos = model.graph.runtimeInputs
            for set in dataSets {
                let dir = (testCase.directory as NSString).appendingPathComponent(set)
                var feeds: [String: Value] = [:]
                for (k, info) in inputInfos.enumerated() {
                    let path = (dir as NSString).appendingPathComponent("input_\(k).pb")
                    guard FileManager.default.fileExists(atPath: path) else { continue }
                    feeds[info.name] = try ProtoValueFile.read(path: path, type: info.type)
                }
                let outputs = try session.runValues(feeds)
                for (k, info) in model.graph.outputs.enumerated() {
                    let path = (dir as NSString).appendingPathComponent("output_\(k).pb")
                    let expected = try ProtoValueFile.read(path: path, type: info.type)
                    if let mismatch = compare(expected: expected, actual: outputs[k], rtol: testCase.rtol, atol: testCase.atol) {
                        return Result(testCase: testCase, status: .failed("\(set) output '\(info.name)': \(mismatch)"))
                    }
                }
            }
            return Result(testCase: testCase, status: .passed)
        } catch {
            return Result(testCase: testCase, status: .failed("\(error)"))
        }
    }

    /// nil when `actual` matches `expected`, else what differs.
    public static func compare(expected: Value, actual: Value, rtol: Double, atol: Double) -> String? {
        switch (expected, actual) {
        case (.tensor(let e), .tensor(let a)):
            return compare(expected: e, actual: a, rtol: rtol, atol: atol)
        case (.sequence(let e, _), .sequence(let a, _)):
            guard e.count == a.count else { return "sequence length \(a.count), expected \(e.count)" }
            for (k, (x, y)) in zip(e, a).enumerated() {
                if let m = compare(expected: x, actual: y, rtol: rtol, atol: atol) { return "element \(k): \(m)" }
            }
            return nil
        case (.optional(let e), _):
            if e == nil {
                if case .optional(nil) = actual { return nil }
                return "expected an empty optional, got \(actual.kindDescription)"
            }
            let inner: Value
            if case .optional(let a) = actual {
                guard let a else { return "expected a value, got an empty optional" }
                inner = a
            } else {
                inner = actual
            }
            return compare(expected: e!, actual: inner, rtol: rtol, atol: atol)
        case (_, .optional(let a?)):
            return compare(expected: expected, actual: a, rtol: rtol, atol: atol)
        default:
            return "got \(actual.kindDescription), expected \(expected.kindDescription)"
        }
    }

    public static func compare(expected e: Tensor, actual a: Tensor, rtol: Double, atol: Double) -> String? {
        guard e.dtype == a.dtype else { return "dtype \(a.dtype), expected \(e.dtype)" }
        guard e.shape == a.shape else { return "shape \(a.shape), expected \(e.shape)" }
        switch e.dtype {
        case .string:
            if let k = (0..<e.elementCount).first(where: { e.strings[$0] != a.strings[$0] }) {
                return "element \(k) is '\(String(decoding: a.strings[k], as: UTF8.self))', expected '\(String(decoding: e.strings[k], as: UTF8.self))'"
            }
            return nil
        case .float, .double, .float16, .bfloat16:
            let ev = e.doubleValues(), av = a.doubleValues()
            var worst: (index: Int, excess: Double)? = nil
            var bad = 0
            for k in 0..<ev.count {
                let x = ev[k], y = av[k]
                if x.isNaN || y.isNaN {
                    if x.isNaN != y.isNaN { bad += 1; if worst == nil { worst = (k, .infinity) } }
                    continue
                }
                if x == y { continue }
                let excess = Swift.abs(x - y) - (atol + rtol * Swift.abs(x))
                if excess > 0 || !excess.isFinite {
                    bad += 1
                    if worst == nil || excess > worst!.excess { worst = (k, excess) }
                }
            }
            if let worst {
                return "\(bad) of \(ev.count) elements differ; e.g. [\(worst.index)] = \(av[worst.index]), expected \(ev[worst.index])"
            }
            return nil
        default:
            let ok = e.withUnsafeBytes { x in a.withUnsafeBytes { y in x.elementsEqual(y) } }
            if !ok {
                let ev = e.doubleValues(), av = a.doubleValues()
                if let k = (0..<min(ev.count, av.count)).first(where: { ev[$0] != av[$0] }) {
                    return "element \(k) is \(av[k]), expected \(ev[k])"
                }
                return "bytes differ"
            }
            return nil
        }
    }
}
