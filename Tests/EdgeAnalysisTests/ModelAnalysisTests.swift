import EdgeAnalysis
import EdgeIR
import XCTest

final class ModelAnalysisTests: XCTestCase {
    private func model(_ graph: Graph, opset: Int64 = 17) -> Model {
        Model(opsetImports: [OpsetImport(domain: "", version: opset)], graph: graph)
    }

    private func input(_ name: String, _ dims: [Int], _ dtype: DType = .float) -> ValueInfo {
        ValueInfo(name: name, tensor: TensorType(dtype, fixed: dims))
    }

    private func output(_ name: String) -> ValueInfo { ValueInfo(name: name, type: nil) }

    // MARK: compute

    func testConvMACsAreOutputElementsTimesInputChannelsPerGroupTimesKernel() throws {
        // y [1, 8, 16, 16]; MACs = 2048 × (4/2) × 3 × 3 = 36,864; FLOPs = 2·MACs + 2048 bias adds.
        let conv = Node(opType: "Conv", inputs: ["x", "w", "b"], outputs: ["y"],
                        attributes: [Attribute("group", .int(2)), Attribute("pads", .ints([1, 1, 1, 1]))])
        let g = Graph(inputs: [input("x", [1, 4, 16, 16])], outputs: [output("y")],
                      initializers: ["w": Tensor(zeros: .float, shape: [8, 2, 3, 3]), "b": Tensor(zeros: .float, shape: [8])], nodes: [conv])
        let a = try ModelAnalysis(model: model(g))
        XCTAssertEqual(a.totalMACs, 36_864)
        XCTAssertEqual(a.totalFLOPs, 2 * 36_864 + 2048)
        XCTAssertEqual(a.nodes[0].parameters, 8 * 2 * 9 + 8)
        XCTAssertEqual(a.nodes[0].weightBytes, (8 * 2 * 9 + 8) * 4)
    }

    func testGemmAndBatchedMatMulMACs() throws {
        // Gemm [3,5]·[5,7]ᵀ... transB: B [7,5] → M N K = 3·7·5 = 105, plus C adds 21.
        let gemm = Node(opType: "Gemm", inputs: ["a", "b", "c"], outputs: ["g"], attributes: [Attribute("transB", .int(1))])
        // MatMul [2,3,7]·[7,4] → batch·M·N·K = 2·3·4·7 = 168
        let mm = Node(opType: "MatMul", inputs: ["g3", "w"], outputs: ["y"])
        let reshape = Node(opType: "Reshape", inputs: ["g", "shape"], outputs: ["g3"])
        let g = Graph(inputs: [input("a", [6, 5])], outputs: [output("y")],
                      initializers: ["b": Tensor(zeros: .float, shape: [7, 5]), "c": Tensor(zeros: .float, shape: [7]),
                                     "shape": Tensor(shape: [3], scalars: [Int64(2), 3, 7]), "w": Tensor(zeros: .float, shape: [7, 4])],
                      nodes: [gemm, reshape, mm])
        let a = try ModelAnalysis(model: model(g))
        XCTAssertEqual(a.nodes.map(\.cost.macs), [6 * 7 * 5, 0, 2 * 3 * 4 * 7])
        XCTAssertEqual(a.totalFLOPs, 2 * (6 * 7 * 5) + 6 * 7 + 2 * (2 * 3 * 4 * 7))
    }

    func testElementwiseFLOPsUseStatedFactors() throws {
        let nodes = [Node(opType: "Relu", inputs: ["x"], outputs: ["r"]), Node(opType: "Sigmoid", inputs: ["r"], outputs: ["s"]),
                     Node(opType: "Softmax", inputs: ["s"], outputs: ["y"])]
        let a = try ModelAnalysis(model: model(Graph(inputs: [input("x", [10, 10])], outputs: [output("y")], nodes: nodes)))
        XCTAssertEqual(a.nodes.map(\.cost.flops), [100, 400, 500])
        XCTAssertEqual(a.totalMACs, 0)
    }

    // MARK: parameters

    func testSharedInitializerCountsOnceAndInt64IsConstantData() throws {
        let nodes = [Node(opType: "MatMul", inputs: ["x", "w"], outputs: ["h"]), Node(opType: "MatMul", inputs: ["h", "w"], outputs: ["f"]),
                     Node(opType: "Reshape", inputs: ["f", "shape"], outputs: ["y"])]
        let g = Graph(inputs: [input("x", [2, 16])], outputs: [output("y")],
                      initializers: ["w": Tensor(zeros: .float, shape: [16, 16]), "shape": Tensor(shape: [1], scalars: [Int64(-1)])], nodes: nodes)
        let a = try ModelAnalysis(model: model(g))
        XCTAssertEqual(a.weights.parameterCount, 256)
        XCTAssertEqual(a.weights.constantElementCount, 1)
        // Each reader reports the weight; the total counts it once.
        XCTAssertEqual(a.nodes.map(\.parameters), [256, 256, 0])
    }

    func testByteIdenticalTensorsCountByStorageAndAreReportedAsDuplicates() throws {
        let ones = Tensor(shape: [2, 2], scalars: [Float(1), 1, 1, 1])
        var other = ones
        other.withUnsafeMutableBytes { $0.storeBytes(of: Float(2), as: Float.self) } // differs in one element
        let nodes = [Node(opType: "Add", inputs: ["x", "a"], outputs: ["p"]), Node(opType: "Add", inputs: ["p", "b"], outputs: ["q"]),
                     Node(opType: "Add", inputs: ["q", "c"], outputs: ["y"])]
        let g = Graph(inputs: [input("x", [2, 2])], outputs: [output("y")],
                      initializers: ["a": ones, "b": Tensor(shape: [2, 2], scalars: [Float(1), 1, 1, 1]), "c": other], nodes: nodes)
        let m = model(g)
        XCTAssertEqual(try ModelAnalysis(model: m).weights.parameterCount, 12)
        let d = WeightInventory.duplicates(in: m)
        XCTAssertEqual(d.tensors, 1)
        XCTAssertEqual(d.elements, 4)
        XCTAssertEqual(d.bytes, 16)
    }

    func testConstantNodeWeightsMatchTheirInitializerTwin() throws {
        let w = Tensor(shape: [4, 3], scalars: (0..<12).map(Float.init))
        let b = Tensor(shape: [3], scalars: [Float(1), 2, 3])
        let gemm = Node(opType: "Gemm", inputs: ["x", "w", "b"], outputs: ["y"])
        let asInitializers = Graph(inputs: [input("x", [1, 4])], outputs: [output("y")], initializers: ["w": w, "b": b], nodes: [gemm])
        let asConstants = Graph(inputs: [input("x", [1, 4])], outputs: [output("y")],
                                nodes: [Node(opType: "Constant", inputs: [], outputs: ["w"], attributes: [Attribute("value", .tensor(w))]),
                                        Node(opType: "Constant", inputs: [], outputs: ["b"], attributes: [Attribute("value", .tensor(b))]), gemm])
        let a = try ModelAnalysis(model: model(asInitializers)), c = try ModelAnalysis(model: model(asConstants))
        XCTAssertEqual(a.weights.parameterCount, 15)
        XCTAssertEqual(c.weights.parameterCount, 15)
        XCTAssertEqual(a.totalMACs, c.totalMACs)
        XCTAssertEqual(c.nodes.last?.parameters, 15)
        // Constant nodes are folded, not activations.
        XCTAssertEqual(a.memory.activationCount, c.memory.activationCount)
    }

    func testWeightsInsideIfBodiesCountAndConstantOfShapeWeightsCount() throws {
        let thenW = Tensor(zeros: .float, shape: [10])
        let thenG = Graph(name: "then", outputs: [output("t")], initializers: ["tw": thenW],
                          nodes: [Node(opType: "Add", inputs: ["x", "tw"], outputs: ["t"])])
        let elseG = Graph(name: "else", outputs: [output("e")],
                          nodes: [Node(opType: "Constant", inputs: [], outputs: ["ew"], attributes: [Attribute("value", .tensor(Tensor(zeros: .float16, shape: [10])))]),
                                  Node(opType: "Cast", inputs: ["ew"], outputs: ["ewf"], attributes: [Attribute("to", .int(1))]),
                                  Node(opType: "Mul", inputs: ["x", "ewf"], outputs: ["e"])])
        let ifNode = Node(opType: "If", inputs: ["c"], outputs: ["y"],
                          attributes: [Attribute("then_branch", .graph(thenG)), Attribute("else_branch", .graph(elseG))])
        // A "light" weight: ConstantOfShape over a constant shape [10, 10].
        let cos = Node(opType: "ConstantOfShape", inputs: ["ws"], outputs: ["big"],
                       attributes: [Attribute("value", .tensor(Tensor(shape: [1], scalars: [Float(0.5)])))])
        let mm = Node(opType: "MatMul", inputs: ["y", "big"], outputs: ["z"])
        let g = Graph(inputs: [input("c", [], .bool), input("x", [1, 10])], outputs: [output("z")],
                      initializers: ["ws": Tensor(shape: [2], scalars: [Int64(10), 10])], nodes: [ifNode, cos, mm])
        let a = try ModelAnalysis(model: model(g))
        XCTAssertEqual(a.weights.parameterCount, 10 + 10 + 100)
        XCTAssertEqual(a.weights.parameterBytes, 40 + 20 + 400)
        XCTAssertEqual(a.weights.byDType[.float16]?.bytes, 20)
        XCTAssertEqual(a.weights.entries.filter(\.inSubgraph).map(\.elements).reduce(0, +), 20)
        XCTAssertEqual(a.nodes.first { $0.opType == "MatMul" }?.parameters, 100)
        XCTAssertEqual(a.opCounts["Add"], 1) // ops in bodies are counted
        XCTAssertEqual(a.totalMACs, 10 * 10)
    }

    // MARK: activation memory

    func testChainFreesAfterLastUseAndArenaReusesBuffers() throws {
        // x → a → b → c, 1000 floats each (4000 B, 4032 B aligned). At most two are live:
        // peak 8000 B; best-fit puts b where x was and c where a was: arena 2 × 4032.
        let nodes = [Node(opType: "Relu", inputs: ["x"], outputs: ["a"]), Node(opType: "Relu", inputs: ["a"], outputs: ["b"]),
                     Node(opType: "Relu", inputs: ["b"], outputs: ["c"])]
        let m = try ModelAnalysis(model: model(Graph(inputs: [input("x", [1000])], outputs: [output("c")], nodes: nodes))).memory
        XCTAssertEqual(m.peakLiveBytes, 8000)
        XCTAssertEqual(m.arenaBytes, 8064)
        XCTAssertEqual(m.naiveBytes, 16000)
        XCTAssertEqual(m.activationCount, 4)
    }

    func testSkipConnectionKeepsItsBufferAliveAndReshapeAliases() throws {
        // x(400 B) → r1 = Relu(x) → r2 = Relu(r1) → v = Reshape(r2) → y = Add(v, x):
        // x lives to the end; at Relu(r1) x+r1+r2 = 1200 B; Reshape shares r2's buffer; at Add x+r2+y = 1200 B.
        let nodes = [Node(opType: "Relu", inputs: ["x"], outputs: ["r1"]), Node(opType: "Relu", inputs: ["r1"], outputs: ["r2"]),
                     Node(opType: "Reshape", inputs: ["r2", "s"], outputs: ["v"]), Node(opType: "Add", inputs: ["v", "x"], outputs: ["y"])]
        let g = Graph(inputs: [input("x", [100])], outputs: [output("y")],
                      initializers: ["s": Tensor(shape: [1], scalars: [Int64(100)])], nodes: nodes)
        let m = try ModelAnalysis(model: model(g)).memory
        XCTAssertEqual(m.peakLiveBytes, 1200)
        XCTAssertEqual(m.naiveBytes, 2000) // x, r1, r2, v, y
        XCTAssertEqual(m.arenaBytes, 3 * 448)
    }

    func testBestFitArenaIsNoSmallerThanThePeakOnABranchyGraph() throws {
        // Sizes vary so that fragmentation is possible; the arena can never beat the live peak.
        var nodes: [Node] = []
        var g = Graph(inputs: [input("x", [1, 64])], outputs: [output("y")])
        var previous = "x"
        for i in 0..<6 {
            let width = [256, 32, 512, 64, 128, 16][i]
            g.initializers["w\(i)"] = Tensor(zeros: .float, shape: [64, width])
            nodes.append(Node(opType: "MatMul", inputs: ["x", "w\(i)"], outputs: ["m\(i)"]))
            g.initializers["v\(i)"] = Tensor(zeros: .float, shape: [width, 64])
            nodes.append(Node(opType: "MatMul", inputs: ["m\(i)", "v\(i)"], outputs: ["n\(i)"]))
            nodes.append(Node(opType: "Add", inputs: [previous, "n\(i)"], outputs: ["s\(i)"]))
            previous = "s\(i)"
        }
        nodes.append(Node(opType: "Relu", inputs: [previous], outputs: ["y"]))
        g.nodes = nodes
        let m = try ModelAnalysis(model: model(g)).memory
        XCTAssertGreaterThanOrEqual(m.arenaBytes, m.peakLiveBytes)
        XCTAssertLessThan(m.arenaBytes, m.naiveBytes)
        // Peak: at the second MatMul of branch 2, x(256) + s1(256) + m2(2048) + n2(256) = 2816 B.
        XCTAssertEqual(m.peakLiveBytes, 2816)
    }

    // MARK: hostile shapes

    func testAbsurdShapesAndAttributesNeverTrapOrAllocate() throws {
        let huge = 1 << 40
        let x = ValueInfo(name: "x", tensor: TensorType(.float, fixed: [huge, huge, huge]))
        let cases: [[Node]] = [
            [Node(opType: "MatMul", inputs: ["x", "x"], outputs: ["y"])],
            [Node(opType: "Relu", inputs: ["x"], outputs: ["y"])],
            [Node(opType: "Tile", inputs: ["x", "r"], outputs: ["y"])],
            [Node(opType: "Split", inputs: ["x"], outputs: ["y"], attributes: [Attribute("num_outputs", .int(Int64.max))])],
            [Node(opType: "Conv", inputs: ["x", "w"], outputs: ["y"], attributes: [Attribute("dilations", .ints([Int64.max])),
                                                                                 Attribute("kernel_shape", .ints([3]))])],
            [Node(opType: "Resize", inputs: ["x", "", "s"], outputs: ["y"])],
            [Node(opType: "Range", inputs: ["a", "b", "c"], outputs: ["y"])],
        ]
        for nodes in cases {
            var g = Graph(inputs: [x], outputs: [output("y")], nodes: nodes)
            g.initializers["r"] = Tensor(shape: [3], scalars: [Int64(huge), Int64(huge), 2])
            g.initializers["w"] = Tensor(zeros: .float, shape: [1, 1, 3])
            g.initializers["s"] = Tensor(shape: [3], scalars: [Float.infinity, 1, 1])
            g.initializers["a"] = .scalar(Double(0))
            g.initializers["b"] = .scalar(Double(-1e300))
            g.initializers["c"] = .scalar(Double(1))
            do {
                let a = try ModelAnalysis(model: model(g))
                XCTAssertGreaterThanOrEqual(a.totalFLOPs, 0, nodes[0].opType)
            } catch let error as EdgeError {
                XCTAssertEqual(error.exitStatus, .badInput, "\(nodes[0].opType): \(error)")
            }
        }
    }
}
