import EdgeIR
@testable import EdgeRuntime
import XCTest

/// Kernel scratch planned into the activation arena (`BufferPlan`, `ScratchRegion`): the steps
/// that borrow scratch get a one-step slice, and sharing the arena with live tensors changes no
/// output.
final class ScratchPlanTests: XCTestCase {
    /// Convolutions of every form (Winograd-eligible 3×3, 1×1, depthwise, strided im2col) and a
    /// pool, with a residual that keeps an early tensor alive across the scratch of later steps.
    func model() -> Model {
        var g = SplitMix(seed: 23)
        func weights(_ shape: [Int]) -> Tensor { Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in g.float() * 0.3 }) }
        let pad1 = Attribute("pads", .ints([1, 1, 1, 1]))
        let nodes = [
            Node(opType: "Conv", inputs: ["x", "w1", "b1"], outputs: ["c1"], attributes: [pad1]),
            Node(opType: "Relu", inputs: ["c1"], outputs: ["r1"]),
            Node(opType: "Conv", inputs: ["r1", "w2"], outputs: ["a"]),
            Node(opType: "Conv", inputs: ["a", "wd"], outputs: ["d"], attributes: [pad1, Attribute("group", .int(32))]),
            Node(opType: "Add", inputs: ["d", "r1"], outputs: ["e"]),
            Node(opType: "Conv", inputs: ["e", "w3"], outputs: ["y1"], attributes: [pad1, Attribute("strides", .ints([2, 2]))]),
            Node(opType: "MaxPool", inputs: ["e"], outputs: ["y2"],
                 attributes: [Attribute("kernel_shape", .ints([2, 2])), Attribute("strides", .ints([2, 2]))]),
            Node(opType: "Add", inputs: ["y1", "y2"], outputs: ["y"]),
        ]
        var graph = Graph(name: "g", inputs: [ValueInfo(name: "x", tensor: TensorType(.float, [1, 16, 40, 40].map(Dim.fixed)))],
                          outputs: [ValueInfo(name: "y", type: nil)], nodes: nodes)
        graph.initializers = ["w1": weights([32, 16, 3, 3]), "b1": weights([32]), "w2": weights([32, 32, 1, 1]),
                              "wd": weights([32, 1, 3, 3]), "w3": weights([32, 32, 3, 3])]
        return Model(opsetImports: [OpsetImport(domain: "", version: 17)], graph: graph)
    }

    func testPlannedScratchChangesNoOutputAndIsInThePlan() throws {
        var g = SplitMix(seed: 5)
        let inputs = (0..<3).map { _ in Tensor(shape: [1, 16, 40, 40], scalars: (0..<25_600).map { _ in g.float() }) }
        for threads in [1, 2] {
            let unplanned = try Session(model: model(), options: SessionOptions(threads: threads, planBuffers: false))
            let planned = try Session(model: model(), options: SessionOptions(threads: threads))
            for (run, x) in inputs.enumerated() {   // run 0 records the plan, runs 1 and 2 use it
                let want = try unplanned.run(["x": x])["y"]!.scalars(as: Float.self)
                let got = try planned.run(["x": x])["y"]!.scalars(as: Float.self)
                XCTAssertTrue(got == want, "threads \(threads), run \(run): \(zip(got, want).filter { $0 != $1 }.count) of \(want.count) differ")
            }
            let plan = try XCTUnwrap(planned.plans.values.first?.plan)
            let scratch = plan.slices.filter { $0.key.sequence == AllocationKey.scratch(step: 0).sequence }
            // Both 3×3 convolutions pack B (im2col) or Winograd tiles; the 1×1 packs its input.
            XCTAssertGreaterThanOrEqual(scratch.count, 3, "threads \(threads)")
            XCTAssertTrue(scratch.allSatisfy { $0.value.offset + $0.value.bytes <= plan.arenaBytes })
        }
    }
}

/// `PageStorage`: the recording run and compile's folding give buffers of 16 KB or more their own
/// pages; planned runs use the arena, and small buffers the heap. Contents start at zero either way.
final class PageStorageTests: XCTestCase {
    func testRecordingAndFoldingBuffersGetTheirOwnZeroedPages() throws {
        let pool = WorkerPool(threads: 1)
        let recording = ExecutionContext(options: SessionOptions(threads: 1), pool: pool, allocator: BufferAllocator(plan: nil, arena: nil))
        let folding = ExecutionContext(options: SessionOptions(threads: 1), pool: pool, allocator: nil, folding: true)
        let plain = ExecutionContext(options: SessionOptions(threads: 1), pool: pool, allocator: nil)
        for context in [recording, folding] {
            let big = try context.allocate(.float, [64, 64])        // 16 KB
            XCTAssertTrue(big.storage is PageStorage)
            XCTAssertTrue(big.scalars(as: Float.self).allSatisfy { $0 == 0 })
            big.mutablePointer(Float.self)[4095] = 3
            XCTAssertEqual(big.scalars(as: Float.self)[4095], 3)
            XCTAssertTrue(try context.allocate(.float, [64, 63]).storage is OwnedStorage)
        }
        XCTAssertTrue(try plain.allocate(.float, [256, 256]).storage is OwnedStorage, "subgraph and unplanned runs keep the heap")
    }
}
