import Foundation
import XCTest

/// End to end through the built `edgeopt` binary: exit statuses and stdout of
/// `edgeopt profiles list|show|validate`. Skipped when the binary is not beside the test bundle
/// (it is whenever `swift build`/`swift test` built the whole package).
final class ProfilesCommandTests: XCTestCase {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Corpus/bad-profiles")

    func edgeopt() throws -> URL {
        let candidates = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()]
            .map { $0.appendingPathComponent("edgeopt") }
            + [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("edgeopt")]
        guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw XCTSkip("edgeopt binary not built next to the tests")
        }
        return binary
    }

    func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = try edgeopt()
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "EDGEOPT_PROFILES")
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
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
