import Foundation
import XCTest

/// End to end through the built `edgeopt` binary: exit statuses and stdout of
/// `edgeopt profiles list|show|validate`. Skipped when the binary is not beside the test bundle
/// (it is whenever `swift build`/`swift test` built the whole package).
final class ProfilesCommandTests: XCTestCase {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Corpus/bad-profiles")

    /// Runs the built binary (shared with the other command tests).
    func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try FitCommandTests.run(arguments)
    }

    func testValidateExitsWith65AndListsFileAndKey() throws {
        let file = Self.corpus.appendingPathComponent("bad-units.yaml").path
        let result = try run(["profiles", "validate", file])
        XCTAssertEqual(result.status, 65)
        XCTAssertTrue(result.stdout.contains("\(file): memory.bandwidth: cannot parse \"fast GB/s\""), result.stdout)
        XCTAssertTrue(result.stdout.contains("\(file): price.amount: cannot parse \"100 EUR\""), result.stdout)
        XCTAssertTrue(result.stderr.contains("4 problems in 1 of 1 file"), result.stderr)
    }

    func testEveryCorpusFileFailsValidationWith65() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).filter { $0.hasSuffix(".yaml") }
        for name in files.sorted() {
            let result = try run(["profiles", "validate", Self.corpus.appendingPathComponent(name).path])
            XCTAssertEqual(result.status, 65, name)
        }
    }

    func testListShowAndValidateSucceedOnBuiltins() throws {
        let list = try run(["profiles", "list"])
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertEqual(list.stdout.split(separator: "\n").count, 1 + 18)
        XCTAssertEqual(try run(["profiles", "list"]).stdout, list.stdout, "deterministic")

        let json = try run(["profiles", "list", "--json"])
        XCTAssertEqual(json.status, 0)
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [Any])?.count, 18)

        let show = try run(["profiles", "show", "ascend-310"])
        XCTAssertEqual(show.status, 0)
        XCTAssertTrue(show.stdout.hasPrefix("Huawei Atlas 200 DK (Ascend 310) (atlas-200-dk)"), show.stdout)

        let all = try run(["profiles", "validate"])
        XCTAssertEqual(all.status, 0, all.stdout)
        XCTAssertTrue(all.stdout.contains("ok  profiles/coral-usb.yaml\n"), all.stdout)
        XCTAssertTrue(all.stdout.contains("ok  profiles/families/edgetpu.yaml\n"), all.stdout)
        XCTAssertEqual(all.stdout.split(separator: "\n").count, 18 + 6)

        let missing = try run(["profiles", "show", "no-such-device"])
        XCTAssertEqual(missing.status, 65)
        XCTAssertTrue(missing.stderr.contains("no device profile named \"no-such-device\""), missing.stderr)
    }

    func testBadUserDirectoryMakesListFailWith65() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("edgeopt-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: Self.corpus.appendingPathComponent("zero-bandwidth.yaml"),
                                         to: dir.appendingPathComponent("zero-bandwidth.yaml"))
        let result = try run(["profiles", "list", "--profiles", dir.path])
        XCTAssertEqual(result.status, 65)
        XCTAssertTrue(result.stderr.contains("zero-bandwidth.yaml: memory.bandwidth: must be positive, got \"0 GB/s\""), result.stderr)
        XCTAssertTrue(result.stdout.isEmpty)
    }
}
