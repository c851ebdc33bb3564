import EdgeIR
@testable import EdgeRuntime
import Foundation
import XCTest

/// Every ONNX node conformance case of the quantization and integer operators, run through the
/// engine against the suite's reference outputs (integers compared exactly). Needs
/// `EDGEOPT_FIXTURES` (scripts/make-fixtures.py output); skipped when it is unset.
final class QuantConformanceTests: XCTestCase {
    static let prefixes = [
        "test_quantizelinear", "test_dequantizelinear", "test_dynamicquantizelinear",
        "test_matmulinteger", "test_convinteger", "test_qlinearmatmul", "test_qlinearconv",
    ]

    func testQuantizationOperatorCasesPass() throws {
        try ConformanceCases.assertAllPass(prefixes: Self.prefixes, minimumCount: 40)
    }
}

/// Runs the node-suite cases whose names start with one of `prefixes`.
enum ConformanceCases {
    static func assertAllPass(prefixes: [String], minimumCount: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        guard let fixtures = ProcessInfo.processInfo.environment["EDGEOPT_FIXTURES"] else {
            throw XCTSkip("EDGEOPT_FIXTURES is not set")
        }
        let cases = try ConformanceSuite.cases(in: (fixtures as NSString).appendingPathComponent("node"))
            .filter { c in prefixes.contains { c.name.hasPrefix($0) } }
        XCTAssertGreaterThanOrEqual(cases.count, minimumCount, "fewer conformance cases than expected", file: file, line: line)
        var failures: [String] = []
        for c in cases {
            let result = ConformanceSuite.run(c, claimed: nil)
            switch result.status {
            case .passed: break
            case .failed(let why): failures.append("\(c.name): \(why)")
            case .skipped(let why): failures.append("\(c.name): skipped (\(why))")
            }
        }
        print("conformance: \(cases.count - failures.count)/\(cases.count) passed for \(prefixes.joined(separator: ", "))")
        XCTAssert(failures.isEmpty, "\(failures.count) of \(cases.count) cases fail:\n" + failures.joined(separator: "\n"), file: file, line: line)
    }
}
