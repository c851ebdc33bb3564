import EdgeIR
@testable import EdgeRuntime
import Foundation
import XCTest

/// The ONNX node conformance suite and the light_* models, run through the engine. Every case
/// whose operators are all claimed must match the suite's reference outputs; the test prints the
/// claimed operators and pass/fail counts per operator. Needs `EDGEOPT_FIXTURES`.
final class NodeConformanceTests: XCTestCase {
    func testEveryCaseOfClaimedOperatorsPasses() throws {
        guard let fixtures = ProcessInfo.processInfo.environment["EDGEOPT_FIXTURES"] else { throw XCTSkip("EDGEOPT_FIXTURES is not set") }
        let claimed = Set(OperatorRegistry.claimedOperators)
        let cases = try ConformanceSuite.cases(in: (fixtures as NSString).appendingPathComponent("node"))
        XCTAssertGreaterThan(cases.count, 1500, "the node suite looks incomplete")
        var perOp: [String: (passed: Int, failed: Int)] = [:]
        var failures: [String] = []
        var ran = 0
        for c in cases {
            let r = ConformanceSuite.run(c, claimed: claimed)
            switch r.status {
            case .passed: perOp[r.testCase.opType, default: (0, 0)].passed += 1; ran += 1
            case .failed(let why):
                perOp[r.testCase.opType, default: (0, 0)].failed += 1; ran += 1
                failures.append("\(c.name): \(why)")
            case .skipped(let why): if why.hasPrefix("known deviation") { print("  deviation \(c.name): \(why)") }
            }
        }
        print("claimed operators (\(claimed.count)): \(OperatorRegistry.claimedOperators.joined(separator: " "))")
        for (op, e) in perOp.sorted(by: { $0.key < $1.key }) { print("  \(op): \(e.passed) passed, \(e.failed) failed") }
        print("node suite: \(ran - failures.count) passed, \(failures.count) failed, \(cases.count - ran) skipped (unclaimed operators)")
        XCTAssertGreaterThan(ran, 1300)
        XCTAssert(failures.isEmpty, "\(failures.count) failures:\n" + failures.joined(separator: "\n"))
    }

    func testLightModelsMatchShippedOutputs() throws {
        guard let fixtures = ProcessInfo.processInfo.environment["EDGEOPT_FIXTURES"] else { throw XCTSkip("EDGEOPT_FIXTURES is not set") }
        // The three with 100M+ parameter FC layers (alexnet, zfnet512, vgg19) take minutes in a
        // debug build; Tests/interop/test_conformance.py runs all nine through the CLI.
        let heavy: Set<String> = ["bvlc_alexnet", "zfnet512", "vgg19"]
        let cases = try ConformanceSuite.cases(in: (fixtures as NSString).appendingPathComponent("light")).filter { !heavy.contains($0.name) }
        XCTAssertGreaterThanOrEqual(cases.count, 6)
        for c in cases {
            let r = ConformanceSuite.run(c, claimed: nil, threads: 2)
            print("light \(c.name): \(r.status)")
            XCTAssertEqual(r.status, .passed, c.name)
        }
    }
}
