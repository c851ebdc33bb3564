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

    /// quantize → validate → select: the validate JSON feeds `--accuracy`, and a budget tighter
    /// than the measured int8 loss keeps int8 out of the ranking.
    func testMeasuredAccuracyFromValidateJSON() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("select-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let models = cli.repo.appendingPathComponent("models")
        let model = models.appendingPathComponent("digits_cnn.onnx").path
        let int8 = dir.appendingPathComponent("int8.onnx").path
        let quantize = try cli.run(["quantize", model, "--calib", models.appendingPathComponent("digits_calib.npz").path, "-o", int8])
        XCTAssertEqual(quantize.status, 0, quantize.stderr)
        let validate = try cli.run(["validate", "--reference", model, "--candidate", int8,
                                    "--data", models.appendingPathComponent("digits_eval.npz").path, "--labels", "label", "--format", "json"])
        XCTAssertEqual(validate.status, 0, validate.stderr)
        let report = dir.appendingPathComponent("int8.json").path
        FileManager.default.createFile(atPath: report, contents: Data(validate.stdout.utf8))
        let outputs = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(validate.stdout.utf8)) as? [String: Any])?["outputs"] as? [[String: Any]])
        let drop = (outputs[0]["referenceTop1"] as! Double) - (outputs[0]["candidateTop1"] as! Double)

        let r = try cli.run(["select", model, "--dim", "batch=1", "--accuracy", "int8=\(report)", "--precision", "int8", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let result = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["result"] as? [String: Any])
        let ranked = try XCTUnwrap(result["ranked"] as? [[String: Any]])
        XCTAssertFalse(ranked.isEmpty)
        for c in ranked {
            let accuracy = try XCTUnwrap(c["accuracy"] as? [String: Any])
            XCTAssertEqual(accuracy["drop"] as! Double, max(0, drop), accuracy: 1e-12)
            XCTAssertEqual(accuracy["metric"] as? String, "top-1")
        }
        // A budget below the measured loss (or 0 when there is none, with a fake 2-point loss) rejects every int8 configuration.
        var budgetReport = report
        if drop <= 0 {
            budgetReport = dir.appendingPathComponent("fake.json").path
            FileManager.default.createFile(atPath: budgetReport, contents: Data(#"{"outputs": [{"name": "logits", "referenceTop1": 0.98, "candidateTop1": 0.96, "top1Agreement": 0.97}]}"#.utf8))
        }
        let tight = try cli.run(["select", model, "--dim", "batch=1", "--accuracy", "int8=\(budgetReport)", "--precision", "int8",
                                 "--max-accuracy-drop", "\(max(0, drop) * 50)%"])
        XCTAssertEqual(tight.status, 1, tight.stdout)
        XCTAssertTrue(tight.stdout.contains("binding: max-accuracy-drop"), tight.stdout)
        // Bad input: the syntax is a usage error (64); an unreadable file names the file (65).
        XCTAssertEqual(try cli.run(["select", model, "--accuracy", report]).status, 64)
        let missing = try cli.run(["select", model, "--accuracy", "int8=\(dir.path)/none.json"])
        XCTAssertEqual(missing.status, 65)
        XCTAssertTrue(missing.stderr.contains("none.json"), missing.stderr)
    }
}
