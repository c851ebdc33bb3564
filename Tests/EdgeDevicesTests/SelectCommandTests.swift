import Foundation
import XCTest

/// `edgeopt select` end to end on the arch-light ResNet-50: ranking under constraints, JSON with
/// the Pareto front, and the nothing-qualifies answer (exit 1).
final class SelectCommandTests: XCTestCase {
    typealias cli = FitCommandTests

    func testRankedUnderConstraintsWithParetoFront() throws {
        let model = try cli.archLight("resnet50_224")
        let r = try cli.run(["select", model, "--max-latency", "10ms", "--max-power", "15W", "--max-price", "600",
                             "--min-memory-headroom", "20%", "--objective", "latency", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let result = try XCTUnwrap(doc["result"] as? [String: Any])
        let ranked = try XCTUnwrap(result["ranked"] as? [[String: Any]])
        XCTAssertFalse(ranked.isEmpty)
        var previous = 0.0
        for c in ranked {
            let fit = c["fit"] as! [String: Any]
            let latency = fit["latencySeconds"] as! Double
            XCTAssertLessThanOrEqual(latency, 0.010)
            XCTAssertLessThanOrEqual(fit["watts"] as! Double, 15)
            XCTAssertLessThanOrEqual(fit["priceUSD"] as! Double, 600)
            XCTAssertGreaterThanOrEqual(latency, previous, "ranked by latency")
            previous = latency
        }
        let rejected = try XCTUnwrap(result["rejected"] as? [[String: Any]])
        let names = Set(rejected.map { ($0["fit"] as! [String: Any])["device"] as! String })
        XCTAssertTrue(names.contains("jetson-agx-orin-64gb"), "$1599 breaks --max-price")
        XCTAssertFalse((result["pareto"] as? [Any] ?? []).isEmpty)
    }

    func testNothingQualifiesExitsOneWithTheBindingConstraint() throws {
        let model = try cli.archLight("resnet50_224")
        let r = try cli.run(["select", model, "--max-latency", "0.1ms"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stdout.contains("No device qualifies"), r.stdout)
        XCTAssertTrue(r.stdout.contains("binding: max-latency"), r.stdout)
        XCTAssertEqual(try cli.run(["select", model, "--objective", "speed"]).status, 64)
    }
}
