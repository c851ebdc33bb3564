@testable import EdgeDevices
import XCTest

/// The selection engine on hand-made fit results whose ranking, rejections, Pareto front and
/// binding constraints are known.
final class SelectTests: XCTestCase {
    func fit(_ device: String, ms: Double, watts: Double, price: Double, mode: String = "max", fits: Bool = true,
             memory: Double = 1e8, limit: Double? = 1e9, precision: String = "int8") -> FitResult {
        FitResult(device: device, displayName: device, precision: precision, powerMode: mode, fits: fits,
                  reasons: fits ? [] : ["precision int8 not supported"], notes: [], opsTotal: 1, opsOnAccelerator: 1, macsTotal: 1,
                  macsOnAccelerator: 1, acceleratorSegments: 1, unsupportedOps: [], memoryBytes: memory, memoryLimitBytes: limit,
                  onChipWeightBytes: nil, onChipCapacityBytes: nil, streamedWeightBytes: nil,
                  latencySeconds: fits ? ms / 1000 : nil, fps: fits ? 1000 / ms : nil, energyJoules: fits ? ms / 1000 * watts : nil,
                  watts: watts, priceUSD: price, recipe: "", breakdown: nil)
    }

    lazy var configurations = [
        fit("fast", ms: 1, watts: 30, price: 900),
        fit("fast", ms: 2, watts: 10, price: 900, mode: "eco"),
        fit("cheap", ms: 8, watts: 2, price: 60),
        fit("middle", ms: 4, watts: 10, price: 300),
        fit("dominated", ms: 9, watts: 10, price: 400),
        fit("broken", ms: 1, watts: 1, price: 1, fits: false),
        fit("full", ms: 3, watts: 5, price: 100, memory: 9e8, limit: 1e9),
    ]

    func testRankingRejectionsAndPareto() {
        let r = DeviceSelection.select(configurations, constraints: SelectionConstraints(maxLatencySeconds: 0.010, maxWatts: 15, minMemoryHeadroom: 0.2),
                                       objective: .latency)
        // "fast" qualifies only in its 10 W mode (2 ms); "full" has 10% headroom < 20%.
        XCTAssertEqual(r.ranked.map(\.fit.device), ["fast", "middle", "cheap", "dominated"])
        XCTAssertEqual(r.ranked[0].fit.powerMode, "eco")
        XCTAssertEqual(Set(r.rejected.map(\.fit.device)), ["broken", "full"])
        XCTAssertEqual(r.rejected.first { $0.fit.device == "full" }?.violations.map(\.constraint), ["min-memory-headroom"])
        XCTAssertEqual(r.rejected.first { $0.fit.device == "broken" }?.violations.map(\.constraint), ["fits"])
        // dominated (9 ms, 90 mJ, $400) is beaten by middle (4 ms, 40 mJ, $300) on all three.
        XCTAssertEqual(Set(r.pareto.map(\.fit.device)), ["fast", "middle", "cheap"])
        XCTAssertTrue(r.binding.isEmpty)

        XCTAssertEqual(DeviceSelection.select(configurations, constraints: SelectionConstraints(), objective: .price, top: 2)
            .ranked.map(\.fit.device), ["cheap", "full"]) // "broken" ($1) does not fit
        XCTAssertEqual(DeviceSelection.select(configurations, constraints: SelectionConstraints(), objective: .energy)
            .ranked.map(\.fit.device).prefix(2), ["full", "cheap"]) // 3 ms × 5 W = 15 mJ < 8 ms × 2 W = 16 mJ
    }

    func testNothingQualifiesNamesTheBindingConstraintAndByHowMuch() {
        // 0.5 ms and ≤ $100: "full" (3 ms, $100) needs the latency limit 6× looser; "cheap" 16×.
        let r = DeviceSelection.select(configurations, constraints: SelectionConstraints(maxLatencySeconds: 0.0005, maxPriceUSD: 100),
                                       objective: .balanced)
        XCTAssertTrue(r.ranked.isEmpty)
        let latency = try? XCTUnwrap(r.binding.first)
        XCTAssertEqual(latency?.constraint, "max-latency")
        XCTAssertEqual(latency?.relaxation ?? 0, 5, accuracy: 1e-9)
        XCTAssertEqual(latency?.device, "full int8 max")
        // Contradictory constraints (10 ms latency but 200 FPS) are answered, not crashed on.
        let c = DeviceSelection.select(configurations, constraints: SelectionConstraints(maxLatencySeconds: 0.010, minFPS: 2000), objective: .latency)
        XCTAssertTrue(c.ranked.isEmpty)
        XCTAssertEqual(c.binding.first?.constraint, "min-fps")
        XCTAssertEqual(c.binding.first?.relaxation ?? 0, 0.5, accuracy: 1e-9) // best is 1000 FPS: the minimum must halve
    }

    func measured(_ p: Precision, drop: Double) -> MeasuredAccuracy {
        MeasuredAccuracy(precision: p, metric: .top1, accuracy: 0.95 - drop, referenceAccuracy: 0.95, drop: drop, source: "\(p).json")
    }

    func testMeasuredAccuracyFiltersAndRanks() {
        // Each device offers int8 (fast) and fp16 (slower); int8 loses 1.5 points, fp16 0.1.
        let configs = [
            fit("a", ms: 1, watts: 5, price: 100), fit("a", ms: 2, watts: 5, price: 100, precision: "fp16"),
            fit("b", ms: 3, watts: 5, price: 50, precision: "fp16"),
            fit("c", ms: 0.5, watts: 5, price: 80), fit("c", ms: 4, watts: 5, price: 80, precision: "fp32"),
        ]
        let accuracy: [Precision: MeasuredAccuracy] = [.int8: measured(.int8, drop: 0.015), .fp16: measured(.fp16, drop: 0.001)]
        // A one-point budget rules int8 out: a runs fp16, c falls back to fp32 (the reference, drop 0).
        let r = DeviceSelection.select(configs, constraints: SelectionConstraints(maxAccuracyDrop: 0.01), objective: .latency, accuracy: accuracy)
        XCTAssertEqual(r.ranked.map(\.fit.device), ["a", "b", "c"])
        XCTAssertEqual(r.ranked.map(\.fit.precision), ["fp16", "fp16", "fp32"])
        XCTAssertEqual(r.ranked[2].accuracy?.drop, 0)
        XCTAssertEqual(r.ranked[2].accuracy?.accuracy ?? 0, 0.95, accuracy: 1e-12)
        // Without the budget int8 wins on latency, and the measurement rides along.
        let free = DeviceSelection.select(configs, constraints: SelectionConstraints(), objective: .latency, accuracy: accuracy)
        XCTAssertEqual(free.ranked.map(\.fit.precision), ["int8", "int8", "fp16"])
        XCTAssertEqual(free.ranked[0].accuracy?.drop ?? 0, 0.015, accuracy: 1e-12)
        // Objective accuracy: smallest drop first, latency breaks ties (c fp32 0 < a fp16 0.1 = b fp16 0.1; a faster).
        let best = DeviceSelection.select(configs, constraints: SelectionConstraints(), objective: .accuracy, accuracy: accuracy)
        XCTAssertEqual(best.ranked.map(\.fit.device), ["c", "a", "b"])
        // Under a budget, a precision that was not measured cannot qualify, and the binding list says what to measure.
        let only8: [Precision: MeasuredAccuracy] = [.int8: measured(.int8, drop: 0.015)]
        let none = DeviceSelection.select(configs.filter { $0.precision != "fp32" }, constraints: SelectionConstraints(maxAccuracyDrop: 0.005),
                                          objective: .latency, accuracy: only8)
        XCTAssertTrue(none.ranked.isEmpty)
        XCTAssertEqual(Set(none.binding.map(\.constraint)), ["accuracy-measured", "max-accuracy-drop"])
        let drop = none.binding.first { $0.constraint == "max-accuracy-drop" }
        XCTAssertEqual(drop?.relaxation ?? 0, 2, accuracy: 1e-9) // 1.5 points against 0.5: the budget must triple
    }

    func testMeasuredAccuracyReadsValidateJSON() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("select-accuracy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ name: String, _ text: String) -> String {
            let path = dir.appendingPathComponent(name).path
            FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
            return path
        }
        // Two outputs: the worse one (0.9 → 0.85) counts.
        let labelled = write("l.json", """
            {"outputs": [{"name": "a", "referenceTop1": 0.9, "candidateTop1": 0.89, "top1Agreement": 0.97},
                         {"name": "b", "referenceTop1": 0.9, "candidateTop1": 0.85, "top1Agreement": 0.93}], "samples": 10}
            """)
        let l = try MeasuredAccuracy.load(path: labelled, precision: .int8)
        XCTAssertEqual(l.metric, .top1)
        XCTAssertEqual(l.drop, 0.05, accuracy: 1e-12)
        XCTAssertEqual(l.accuracy, 0.85, accuracy: 1e-12)
        let unlabelled = try MeasuredAccuracy.load(path: write("u.json", #"{"outputs": [{"name": "a", "top1Agreement": 0.992}]}"#), precision: .fp16)
        XCTAssertEqual(unlabelled.metric, .agreement)
        XCTAssertEqual(unlabelled.drop, 0.008, accuracy: 1e-12)
        // Bad files name the file and the key.
        XCTAssertThrowsError(try MeasuredAccuracy.load(path: write("k.json", #"{"outputs": [{"name": "a"}]}"#), precision: .int8)) { error in
            XCTAssertTrue("\(error)".contains("k.json") && "\(error)".contains("top1Agreement"), "\(error)")
        }
        XCTAssertThrowsError(try MeasuredAccuracy.load(path: write("n.json", "not json"), precision: .int8)) { error in
            XCTAssertTrue("\(error)".contains("n.json"), "\(error)")
        }
        XCTAssertThrowsError(try MeasuredAccuracy.load(path: dir.appendingPathComponent("missing.json").path, precision: .int8)) { error in
            XCTAssertTrue("\(error)".contains("missing.json"), "\(error)")
        }
    }
}
