import EdgeTestSupport
import Foundation
import XCTest

/// `edgeopt fit` end to end through the built binary: exit statuses, table and JSON, on the
/// repository's models, the arch-light CNNs and the generated transformer fixture.
final class FitCommandTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        guard let binary = EdgeOptProcess.binary else { throw XCTSkip("edgeopt binary not built next to the tests") }
        let r = try EdgeOptProcess.run(binary, arguments)
        return (r.status, r.stdout, r.stderr)
    }

    static func devices(_ json: String) throws -> [[String: Any]] {
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        return try XCTUnwrap(object?["devices"] as? [[String: Any]])
    }

    static func archLight(_ name: String) throws -> String {
        let path = Self.repo.appendingPathComponent("Tests/Fixtures/arch-light/\(name).onnx").path
        return path
    }

    func testAllDevicesOnResNet50JSON() throws {
        let r = try Self.run(["fit", try Self.archLight("resnet50_224"), "--all", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try Self.devices(r.stdout)
        XCTAssertEqual(rows.count, 18)
        let byName = Dictionary(uniqueKeysWithValues: rows.map { ($0["device"] as! String, $0) })
        // 25.6 M parameters at int8 overflow the Edge TPU's 8 MiB cache.
        let usb = try XCTUnwrap(byName["coral-usb"])
        XCTAssertGreaterThan(usb["streamedWeightBytes"] as! Double, 15e6)
        // Faster devices are estimated faster.
        func ms(_ d: String) -> Double { (byName[d]?["latencySeconds"] as? Double ?? .nan) * 1000 }
        XCTAssertLessThan(ms("jetson-agx-orin-64gb"), ms("jetson-xavier-nx"))
        XCTAssertLessThan(ms("jetson-xavier-nx"), ms("jetson-nano"))
        XCTAssertLessThan(ms("jetson-orin-nano-8gb"), ms("jetson-nano"))
        for row in rows where row["fits"] as? Bool == true {
            XCTAssertNotNil(row["latencySeconds"] as? Double, "\(row["device"]!)")
            XCTAssertNotNil(row["energyJoules"] as? Double, "\(row["device"]!)")
        }
    }

    func testNamedDeviceThatDoesNotFitExitsOne() throws {
        let model = Self.repo.appendingPathComponent("models/digits_cnn.onnx").path
        let ok = try Self.run(["fit", model, "--device", "jetson-orin-nano-8gb", "--input-shape", "input=1,1,8,8"])
        XCTAssertEqual(ok.status, 0, ok.stderr + ok.stdout)
        XCTAssertTrue(ok.stdout.contains("jetson-orin-nano-8gb"))
        let bad = try Self.run(["fit", model, "--device", "coral-usb", "--precision", "fp16", "--input-shape", "input=1,1,8,8"])
        XCTAssertEqual(bad.status, 1, bad.stderr)
        XCTAssertTrue(bad.stdout.contains("precision fp16 not supported"), bad.stdout)
    }

    func testBadInputExits65() throws {
        let model = Self.repo.appendingPathComponent("models/digits_cnn.onnx").path
        XCTAssertEqual(try Self.run(["fit", "/nonexistent.onnx", "--all"]).status, 65)
        let unknown = try Self.run(["fit", model, "--device", "no-such-device"])
        XCTAssertEqual(unknown.status, 65)
        XCTAssertTrue(unknown.stderr.contains("no-such-device"), unknown.stderr)
        XCTAssertEqual(try Self.run(["fit", model, "--power-mode", "warp9"]).status, 65)
        XCTAssertEqual(try Self.run(["fit", model, "--precision", "fp12"]).status, 64)
    }

    func testTransformerEncoderFixture() throws {
        guard let dir = ProcessInfo.processInfo.environment["EDGEOPT_FIXTURES"] else { throw XCTSkip("EDGEOPT_FIXTURES not set") }
        let model = dir + "/torch/transformer_encoder/model.onnx"
        // Symbolic batch/seq: static-shape devices refuse with the reason; pinned to the exported
        // shape (the export bakes the traced length 32 into its Reshapes), they are analysed.
        let dynamic = try Self.run(["fit", model, "--device", "atlas-200-dk", "--json"])
        XCTAssertEqual(dynamic.status, 1)
        let reasons = try Self.devices(dynamic.stdout)[0]["reasons"] as! [String]
        XCTAssertTrue(reasons.contains { $0.contains("static shapes") }, "\(reasons)")
        let pinned = try Self.run(["fit", model, "--device", "jetson-orin-nano-8gb", "--device", "coral-usb",
                              "--input-shape", "src=1,32,256", "--json"])
        let rows = try Self.devices(pinned.stdout)
        XCTAssertEqual(rows[0]["fits"] as? Bool, true, pinned.stdout)
        XCTAssertEqual(rows[0]["opsOnAccelerator"] as? Int, rows[0]["opsTotal"] as? Int)
        // The Edge TPU cuts the encoder at its first unsupported operator.
        XCTAssertLessThan(rows[1]["opsOnAccelerator"] as! Int, rows[1]["opsTotal"] as! Int)
        XCTAssertFalse((rows[1]["unsupportedOps"] as! [String]).isEmpty)
    }
}
