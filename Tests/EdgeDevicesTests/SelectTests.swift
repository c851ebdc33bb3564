@testable import EdgeDevices
import XCTest

/// The selection engine on hand-made fit results whose ranking, rejections, Pareto front and
/// binding constraints are known.
final class SelectTests: XCTestCase {
    func fit(_ device: String, ms: Double, watts: Double, price: Double, mode: String = "max", fits: Bool = true,
             memory: Double = 1e8, limit: Double? = 1e9) -> FitResult {
        FitResult(device: device, displayName: device, precision: "int8", powerMode: mode, fits: fits,
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
}
