@testable import EdgeDevices
import EdgeAnalysis
import EdgeIR
import XCTest

/// The device analysis on small hand-built graphs whose answers are known: the Edge TPU partition
/// rule, layer fusion, memory and precision verdicts, static shapes, and one latency worked by hand.
final class FitAnalysisTests: XCTestCase {
    static let catalog: ProfileCatalog? = try? ProfileCatalog.load(environment: [:])

    func profile(_ name: String) throws -> DeviceProfile {
        guard let catalog = Self.catalog else { throw XCTSkip("built-in profiles not found") }
        return try catalog.profile(named: name)
    }

    /// x[1,8,16,16] → Conv(8→8, 3×3, pad 1) → Relu → `middle` → Conv → Relu → y.
    func chain(middle: String, batch: Dim = .fixed(1)) -> Model {
        let w = Tensor(zeros: .float, shape: [8, 8, 3, 3])
        let pads = Attribute("pads", .ints([1, 1, 1, 1]))
        let nodes = [
            Node(name: "conv1", opType: "Conv", inputs: ["x", "w1"], outputs: ["c1"], attributes: [pads]),
            Node(name: "relu1", opType: "Relu", inputs: ["c1"], outputs: ["r1"]),
            Node(name: "mid", opType: middle, inputs: ["r1"], outputs: ["m"]),
            Node(name: "conv2", opType: "Conv", inputs: ["m", "w2"], outputs: ["c2"], attributes: [pads]),
            Node(name: "relu2", opType: "Relu", inputs: ["c2"], outputs: ["y"]),
        ]
        let graph = Graph(name: "chain", inputs: [ValueInfo(name: "x", tensor: TensorType(.float, [batch, .fixed(8), .fixed(16), .fixed(16)]))],
                          outputs: [ValueInfo(name: "y", tensor: TensorType(.float, nil))],
                          initializers: ["w1": w, "w2": w], nodes: nodes)
        return Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: graph)
    }

    func facts(_ model: Model, inputShapes: [String: [Int]] = [:]) throws -> ModelFacts {
        try ModelFacts(model: model, analysis: try ModelAnalysis(model: model, inputShapes: inputShapes))
    }

    static let convMACs = 8 * 16 * 16 * 8 * 3 * 3

    func testEdgeTPUMapsOnlyTheFirstContiguousSupportedSubgraph() throws {
        let facts = try facts(chain(middle: "Sin"))
        let coral = try profile("coral-usb")
        XCTAssertFalse(coral.operators.accepts(opType: "Sin"))
        let plan = PartitionPlan.make(facts, operators: coral.operators, rule: coral.partition)
        XCTAssertEqual(plan.onAccelerator, [true, true, false, false, false], "conv2/relu2 are supported but come after the cut")
        XCTAssertEqual(plan.unsupported.map(\.node), [2])
        XCTAssertEqual(plan.displacedBySupport, 2)
        XCTAssertEqual(plan.acceleratorSegments, 1)
        XCTAssertEqual(plan.crossings.map(\.name), ["r1"], "only the tensor leaving the mapped subgraph crosses")

        let fit = try DeviceFit.analyze(facts, profile: coral, precision: .fixed(.int8))
        XCTAssertTrue(fit.fits, "a partitioned model still runs: \(fit.reasons)")
        XCTAssertEqual(fit.opsOnAccelerator, 2)
        XCTAssertEqual(fit.macsOnAccelerator, Self.convMACs)
        XCTAssertEqual(fit.macsTotal, 2 * Self.convMACs)
        XCTAssertEqual(fit.percentMACsOnAccelerator, 50, accuracy: 1e-9)
        XCTAssertTrue(fit.notes.contains { $0.contains("partitioned at mid (Sin)") }, "\(fit.notes)")
        XCTAssertGreaterThan(fit.breakdown?.fallbackSeconds ?? 0, 0)

        // The same graph under a rule that allows several subgraphs: conv2/relu2 return to the TPU.
        var multi = coral.partition
        multi.rule = .multipleSubgraphs
        let plan2 = PartitionPlan.make(facts, operators: coral.operators, rule: multi)
        XCTAssertEqual(plan2.onAccelerator, [true, true, false, true, true])
        XCTAssertEqual(plan2.acceleratorSegments, 2)
        XCTAssertEqual(Set(plan2.crossings.map(\.name)), ["r1", "m"])
    }

    func testSupportedMiddleOpKeepsEverythingOnTheEdgeTPU() throws {
        let fit = try DeviceFit.analyze(try facts(chain(middle: "Relu")), profile: try profile("coral-usb"), precision: .auto)
        XCTAssertEqual(fit.precision, "int8")
        XCTAssertEqual(fit.opsOnAccelerator, fit.opsTotal)
        XCTAssertTrue(fit.unsupportedOps.isEmpty)
    }

    func testConvBatchNormReluIsOneLayerAndFusedConvIsOneOp() throws {
        let w = Tensor(zeros: .float, shape: [4, 4, 1, 1])
        let c = Tensor(zeros: .float, shape: [4])
        let nodes = [
            Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["a"]),
            Node(name: "bn", opType: "BatchNormalization", inputs: ["a", "s", "b", "m", "v"], outputs: ["n"]),
            Node(name: "relu", opType: "Relu", inputs: ["n"], outputs: ["r"]),
            Node(name: "flat", opType: "Flatten", inputs: ["r"], outputs: ["f"]),
            Node(name: "fused", opType: "FusedConv", domain: "ai.edgeopt", inputs: ["x", "w"], outputs: ["g"],
                 attributes: [Attribute("activation", .string(Array("Relu".utf8)))]),
        ]
        let graph = Graph(inputs: [ValueInfo(name: "x", tensor: TensorType(.float, fixed: [1, 4, 8, 8]))],
                          outputs: [ValueInfo(name: "f", tensor: TensorType(.float, nil)), ValueInfo(name: "g", tensor: TensorType(.float, nil))],
                          initializers: ["w": w, "s": c, "b": c, "m": c, "v": c], nodes: nodes)
        let model = Model(opsetImports: [OpsetImport(domain: "", version: 13), OpsetImport(domain: "ai.edgeopt", version: 1)], graph: graph)
        let facts = try facts(model)
        XCTAssertEqual(facts.nodes.map(\.name), ["conv", "bn", "relu", "flat", "fused"])
        XCTAssertEqual(facts.nodes[4].baseOpType, "Conv")
        let layers = LayerFusion.layers(facts, onAccelerator: Array(repeating: true, count: 5))
        let real = layers.filter { !$0.isView }
        XCTAssertEqual(real.map(\.members), [[0, 1, 2], [4]])
        // The fused layer reads x and writes r: the intermediates a and n never reach memory.
        XCTAssertEqual(real[0].inputElements, 4 * 64)
        XCTAssertEqual(real[0].outputElements, 4 * 64)
        XCTAssertEqual(real[0].opClass, .conv)
    }

    func testSingleConvLatencyMatchesTheRooflineByHand() throws {
        let w = Tensor(zeros: .float, shape: [64, 64, 3, 3])
        let graph = Graph(inputs: [ValueInfo(name: "x", tensor: TensorType(.float, fixed: [1, 64, 56, 56]))],
                          outputs: [ValueInfo(name: "y", tensor: TensorType(.float, nil))], initializers: ["w": w],
                          nodes: [Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["y"],
                                       attributes: [Attribute("pads", .ints([1, 1, 1, 1]))])])
        let model = Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: graph)
        let orin = try profile("jetson-agx-orin-64gb")
        let fit = try DeviceFit.analyze(try facts(model), profile: orin, precision: .fixed(.fp16))
        let flops = 2.0 * Double(64 * 56 * 56 * 64 * 9)
        let bytes = 2.0 * Double(64 * 64 * 9 + 2 * 64 * 56 * 56)
        let mode = orin.defaultPowerMode!
        let f = orin.efficiency.factor(for: .conv)
        let expected = max(flops / (orin.peakCompute(.fp16)! * mode.throughputScale * f.compute),
                           bytes / (orin.memory!.bandwidth * f.memory))
            + orin.efficiency.perLayerOverhead + orin.efficiency.perInferenceOverhead
        XCTAssertEqual(fit.latencySeconds!, expected, accuracy: expected * 1e-9)
        XCTAssertEqual(fit.energyJoules!, expected * mode.watts, accuracy: 1e-12)
        XCTAssertEqual(fit.fps!, 1 / expected, accuracy: 1e-6)
        // A slower power mode scales the compute-bound layer.
        if let slow = orin.power.modes.min(by: { $0.throughputScale < $1.throughputScale }), slow.throughputScale < 1 {
            let slower = try DeviceFit.analyze(try facts(model), profile: orin, precision: .fixed(.fp16), powerMode: slow.name)
            XCTAssertGreaterThan(slower.latencySeconds!, fit.latencySeconds!)
        }
    }

    func testVerdictReasons() throws {
        let facts = try facts(chain(middle: "Relu"))
        // Precision the device does not have.
        let coral = try DeviceFit.analyze(facts, profile: try profile("coral-usb"), precision: .fixed(.fp16))
        XCTAssertFalse(coral.fits)
        XCTAssertTrue(coral.reasons.contains { $0.contains("precision fp16 not supported") }, "\(coral.reasons)")
        XCTAssertNil(coral.latencySeconds)

        // Memory: shrink the device below the model's need.
        var nano = try profile("jetson-nano")
        nano.memory!.capacity = nano.memory!.reserved + 10_000
        let small = try DeviceFit.analyze(facts, profile: nano, precision: .fixed(.fp32))
        XCTAssertFalse(small.fits)
        XCTAssertTrue(small.reasons.contains { $0.hasPrefix("needs ") }, "\(small.reasons)")
        // weights 2 × 576 fp32 + arena
        XCTAssertGreaterThanOrEqual(small.memoryBytes, 2 * 576 * 4)

        // Unknown power mode is bad input.
        XCTAssertThrowsError(try DeviceFit.analyze(facts, profile: try profile("jetson-nano"), precision: .auto, powerMode: "turbo"))
    }

    func testSymbolicShapesBlockStaticShapeDevicesUntilPinned() throws {
        let model = chain(middle: "Relu", batch: .symbolic("batch"))
        let dynamic = try facts(model)
        XCTAssertEqual(dynamic.dynamicInputs, ["x"])
        let coral = try profile("coral-usb")
        let blocked = try DeviceFit.analyze(dynamic, profile: coral, precision: .auto)
        XCTAssertFalse(blocked.fits)
        XCTAssertTrue(blocked.reasons.contains { $0.contains("static shapes") && $0.contains("x [batch,8,16,16]") }, "\(blocked.reasons)")
        let pinned = try DeviceFit.analyze(try facts(model, inputShapes: ["x": [1, 8, 16, 16]]), profile: coral, precision: .auto)
        XCTAssertTrue(pinned.fits, "\(pinned.reasons)")
    }
}
