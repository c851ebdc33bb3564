@testable import EdgeDevices
import EdgeIR
import EdgeTestSupport
import XCTest

/// `Tests/Corpus/bad-profiles/*.yaml`: each file is a broken profile whose header lists the
/// problems it must produce (`# expect: KEY.PATH: message`). Every expectation must appear,
/// prefixed by the file, both from `profiles validate` and when the file is loaded as a user
/// profile, where it must be a bad-input error (exit status 65).
final class BadProfileCorpusTests: XCTestCase {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Corpus/bad-profiles")

    func corpusFiles() throws -> [(path: String, expectations: [String])] {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).filter { $0.hasSuffix(".yaml") }.sorted()
        return try names.map { name in
            let path = Self.corpus.appendingPathComponent(name).path
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let expectations = text.split(separator: "\n").compactMap { line -> String? in
                line.hasPrefix("# expect: ") ? String(line.dropFirst("# expect: ".count)) : nil
            }
            return (path, expectations)
        }
    }

    func testCorpusCoversTheRequiredCases() throws {
        let names = Set(try corpusFiles().map { URL(fileURLWithPath: $0.path).deletingPathExtension().lastPathComponent })
        for required in ["unknown-key", "missing-field", "zero-bandwidth", "negative-bandwidth", "bad-units", "wrong-types", "invalid-yaml"] {
            XCTAssertTrue(names.contains(required), required)
        }
    }

    func testValidateReportsEveryExpectedProblemWithFileAndKeyPath() throws {
        let builtin = try ProfileCatalog.locateBuiltinDirectory(environment: [:])
        for (path, expectations) in try corpusFiles() {
            XCTAssertFalse(expectations.isEmpty, "\(path) has no '# expect:' lines")
            let problems = ProfileCatalog.validate(files: [path], builtinDirectory: builtin)[0].problems
            XCTAssertFalse(problems.isEmpty, "\(path) should not validate")
            let lines = problems.map(\.description)
            for expectation in expectations {
                XCTAssertTrue(lines.contains { $0.hasPrefix("\(path): \(expectation)") },
                              "\(path): expected a problem starting \"\(expectation)\", got:\n\(lines.joined(separator: "\n"))")
            }
            for line in lines { XCTAssertTrue(line.hasPrefix(path + ": "), "every problem names the file: \(line)") }
        }
    }

    /// Dropped into a user profiles directory, each bad file makes loading fail with exit 65 and
    /// a message that carries the same file + key problems (shown by the user's path).
    func testLoadingABadUserProfileIsABadInputErrorNamingFileAndKey() throws {
        for (path, expectations) in try corpusFiles() {
            let dir = try TemporaryDirectory(prefix: "bad-profile")
            let name = URL(fileURLWithPath: path).lastPathComponent
            try FileManager.default.copyItem(atPath: path, toPath: dir.path(name))
            XCTAssertThrowsError(try ProfileCatalog.load(userDirectories: [dir.url.path], environment: [:]), name) { error in
                guard let error = error as? EdgeError else { return XCTFail("\(name): not an EdgeError: \(error)") }
                XCTAssertEqual(error.exitStatus, .badInput, name)
                XCTAssertEqual(error.exitStatus.rawValue, 65)
                for expectation in expectations {
                    XCTAssertTrue(error.description.contains("\(dir.path(name)): \(expectation)"),
                                  "\(name): \(expectation) not in:\n\(error.description)")
                }
            }
        }
    }
}
