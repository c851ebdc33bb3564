import ArgumentParser
import EdgeIR
import EdgeRuntime
import Foundation

/// `edgeopt conformance DIR`: runs ONNX backend-test cases (node suite or light models) through
/// the engine. Hidden: a development and CI tool, driven by Tests/interop/test_conformance.py.
struct ConformanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance",
        abstract: "Run ONNX backend-test cases (model.onnx + test_data_set_N) through the engine.",
        shouldDisplay: false)

    @Argument(help: "A directory of case directories (e.g. $EDGEOPT_FIXTURES/node).")
    var directory: String

    @Option(help: "Only cases whose name contains this text.")
    var filter: String?

    @Option(help: "Only cases testing these operators (comma-separated op types).")
    var ops: String?

    @Option(help: "Skip cases testing these operators (comma-separated op types).")
    var skipOps: String?

    @Flag(help: "Run every case, also those using operators the engine does not claim.")
    var all = false

    @Flag(help: "Print every case's result, not only failures.")
    var verbose = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        try runReportingErrors {
            let claimed = Set(OperatorRegistry.claimedOperators)
            var cases = try ConformanceSuite.cases(in: directory)
            if let filter { cases = cases.filter { $0.name.contains(filter) } }
            if let ops {
                let wanted = Set(ops.split(separator: ",").map(String.init))
                cases = cases.filter { wanted.contains($0.opType) }
            }
            if let skipOps {
                let unwanted = Set(skipOps.split(separator: ",").map(String.init))
                cases = cases.filter { !unwanted.contains($0.opType) }
            }
            var results: [ConformanceSuite.Result] = []
            for c in cases {
                let r = ConformanceSuite.run(c, claimed: all ? nil : claimed)
                results.append(r)
                if verbose || { if case .failed = r.status { return true } else { return false } }() {
                    printError("\(c.name): \(r.status)")
                }
            }
            var perOp: [String: (passed: Int, failed: Int, skipped: Int)] = [:]
            for r in results {
                var entry = perOp[r.testCase.opType, default: (0, 0, 0)]
                switch r.status {
                case .passed: entry.passed += 1
                case .failed: entry.failed += 1
                case .skipped: entry.skipped += 1
                }
                perOp[r.testCase.opType] = entry
            }
            let passed = results.filter { $0.status == .passed }.count
            let failedResults = results.filter { if case .failed = $0.status { return true } else { return false } }
            let skipped = results.count - passed - failedResults.count
            if json {
                let object: [String: Any] = [
                    "claimed_operators": OperatorRegistry.claimedOperators,
                    "passed": passed, "failed": failedResults.count, "skipped": skipped,
                    "per_operator": perOp.mapValues { ["passed": $0.passed, "failed": $0.failed, "skipped": $0.skipped] },
                    "failures": failedResults.map { r -> [String: String] in
                        if case .failed(let why) = r.status { return ["case": r.testCase.name, "reason": why] }
                        return [:]
                    },
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("claimed operators (\(claimed.count)): \(OperatorRegistry.claimedOperators.joined(separator: " "))")
                print("operator                       passed failed skipped")
                for (op, e) in perOp.sorted(by: { $0.key < $1.key }) where e.passed + e.failed > 0 {
                    print(op.padding(toLength: 30, withPad: " ", startingAt: 0)
                          + String(format: " %6d %6d %7d", e.passed, e.failed, e.skipped))
                }
                let deviations = results.filter { if case .skipped(let why) = $0.status { return why.hasPrefix("known deviation") } else { return false } }
                if !deviations.isEmpty {
                    print("known deviations (\(deviations.count), not counted as passes): \(deviations.map(\.testCase.name).joined(separator: " "))")
                }
                print("total: \(passed) passed, \(failedResults.count) failed, \(skipped) skipped (unclaimed operators)")
            }
            return failedResults.isEmpty ? .success : .gateFailed
        }
    }
}
