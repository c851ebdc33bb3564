@testable import EdgeDevices
import EdgeIR
import Foundation
import XCTest

/// The latency estimator against the published measurements of
/// `Tests/Fixtures/device-latency-calibration.csv` (models: `arch-light/*.onnx`; copies of the
/// workplace's `../shared/fixtures`). Prints the
/// table (device, model, precision, published, estimated, error) and the median absolute error.
final class EstimatorCalibrationTests: XCTestCase {
    static func fixturesDirectory() throws -> String {
        if let dir = ProcessInfo.processInfo.environment["EDGEOPT_SHARED_FIXTURES"] { return dir }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return repo.appendingPathComponent("Tests/Fixtures").path
    }

    func testMedianErrorAndDeviceOrderOnCalibrationRows() throws {
        let dir = try Self.fixturesDirectory()
        let report = try Calibration.run(csv: dir + "/device-latency-calibration.csv", models: dir + "/arch-light",
                                         catalog: try ProfileCatalog.load(environment: [:]))
        print(Calibration.table(report))
        XCTAssertEqual(report.rows.count, 13)
        XCTAssertLessThanOrEqual(report.medianAbsErrorPercent, 25)
        XCTAssertEqual(report.misordered, [])
        // No single row may be off by more than a factor of two either way.
        for row in report.rows {
            XCTAssertLessThan(abs(log2(row.estimatedMs / row.publishedMs)), 1, "\(row.device) \(row.model): \(row.estimatedMs) ms vs \(row.publishedMs) ms")
        }
    }
}
