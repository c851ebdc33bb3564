import EdgeIR
import XCTest

/// Shape rules per operator family against hand-computed shapes.
final class ShapeInferenceTests: XCTestCase {
    // MARK: helpers

    private func input(_ name: String, _ dims: [Dim], _ dtype: DType = .float) -> ValueInfo {
        ValueInfo(name: name, tensor: TensorType(dtype, dims))
    }

    private func ints(_ v: [Int64]) -> Tensor { Tensor(shape: [v.count], scalars: v) }

    /// Infers a one-or-more-node graph and returns the type of `output`.
    private func infer(_ nodes: [Node], inputs: [ValueInfo], initializers: [String: Tensor] = [:], opset: Int64 = 17,
                       pins: [String: [Int]] = [:], dims: [String: Int] = [:], output: String = "y") throws -> TensorType? {
        var graph = Graph(name: "g", inputs: inputs, outputs: [ValueInfo(name: output, type: nil)], nodes: nodes)
        for (k, v) in initializers.sorted(by: { $0.key < $1.key }) { graph.initializers[k] = v }
        let model = Model(opsetImports: [OpsetImport(domain: "", version: opset)], graph: graph)
        return try ShapeInference.infer(model: model, inputShapes: pins, dims: dims).types[output]
    }

    private func f(_ dims: Int...) -> [Dim] { dims.map { .fixed($0) } }

    // MARK: convolution and pooling

    func testConvWithPadsStridesDilationsAndGroups() throws {
        // out = ⌊(in + pb + pe − d·(k−1) − 1)/s⌋ + 1 = ⌊(224 + 3 + 3 − 6 − 1)/2⌋ + 1 = 112
        let conv = Node(opType: "Conv", inputs: ["x", "w"], outputs: ["y"],
                        attributes: [Attribute("strides", .ints([2, 2])), Attribute("pads", .ints([3, 3, 3, 3]))])
        let t = try infer([conv], inputs: [input("x", [.symbolic("N")] + f(3, 224, 224))],
                          initializers: ["w": Tensor(zeros: .float, shape: [64, 3, 7, 7])])
        XCTAssertEqual(t, TensorType(.float, [.symbolic("N")] + f(64, 112, 112)))

        // Depthwise 3×3, dilation 2, pads 2: 56 + 4 − 4 − 1 + 1 = 56.
        let dw = Node(opType: "Conv", inputs: ["x", "w"], outputs: ["y"],
                      attributes: [Attribute("group", .int(32)), Attribute("dilations", .ints([2, 2])), Attribute("pads", .ints([2, 2, 2, 2]))])
        XCTAssertEqual(try infer([dw], inputs: [input("x", f(1, 32, 56, 56))], initializers: ["w": Tensor(zeros: .float, shape: [32, 1, 3, 3])]),
                       TensorType(.float, fixed: [1, 32, 56, 56]))
    }

    func testConvAutoPadSameAndValid() throws {
        let same = Node(opType: "Conv", inputs: ["x", "w"], outputs: ["y"],
                        attributes: [Attribute("auto_pad", .string(Array("SAME_UPPER".utf8))), Attribute("strides", .ints([2, 2]))])
        XCTAssertEqual(try infer([same], inputs: [input("x", f(1, 3, 15, 15))], initializers: ["w": Tensor(zeros: .float, shape: [8, 3, 3, 3])]),
                       TensorType(.float, fixed: [1, 8, 8, 8])) // ⌈15/2⌉
        let valid = Node(opType: "Conv", inputs: ["x", "w"], outputs: ["y"],
                         attributes: [Attribute("auto_pad", .string(Array("VALID".utf8))), Attribute("strides", .ints([2, 2]))])
        XCTAssertEqual(try infer([valid], inputs: [input("x", f(1, 3, 15, 15))], initializers: ["w": Tensor(zeros: .float, shape: [8, 3, 3, 3])]),
                       TensorType(.float, fixed: [1, 8, 7, 7])) // ⌈(15 − 2)/2⌉
    }

    func testConvRejectsChannelMismatch() {
        let conv = Node(name: "bad_conv", opType: "Conv", inputs: ["x", "w"], outputs: ["y"])
        XCTAssertThrowsError(try infer([conv], inputs: [input("x", f(1, 4, 8, 8))], initializers: ["w": Tensor(zeros: .float, shape: [8, 3, 3, 3])])) {
            XCTAssertTrue(($0 as? EdgeError)?.message.contains("bad_conv") ?? false, "\($0)")
        }
    }

    func testConvTransposeOutputPaddingAndOutputShape() throws {
        // out = s·(in−1) + output_padding + d·(k−1) + 1 − pb − pe = 2·7 + 1 + 2 + 1 − 1 − 1 = 16
        let ct = Node(opType: "ConvTranspose", inputs: ["x", "w"], outputs: ["y"],
                      attributes: [Attribute("strides", .ints([2, 2])), Attribute("pads", .ints([1, 1, 1, 1])),
                                   Attribute("output_padding", .ints([1, 1])), Attribute("group", .int(2))])
        XCTAssertEqual(try infer([ct], inputs: [input("x", f(1, 4, 8, 8))], initializers: ["w": Tensor(zeros: .float, shape: [4, 3, 3, 3])]),
                       TensorType(.float, fixed: [1, 6, 16, 16]))
        let shaped = Node(opType: "ConvTranspose", inputs: ["x", "w"], outputs: ["y"],
                          attributes: [Attribute("strides", .ints([3, 2])), Attribute("output_shape", .ints([10, 8]))])
        XCTAssertEqual(try infer([shaped], inputs: [input("x", f(1, 1, 3, 3))], initializers: ["w": Tensor(zeros: .float, shape: [1, 2, 3, 3])]),
                       TensorType(.float, fixed: [1, 2, 10, 8]))
    }

    func testMaxPoolCeilModeDropsWindowStartingInRightPadding() throws {
        // in 5, k 2, s 2, pad 1, ceil: ⌈(5+2−2)/2⌉+1 = 4, but the 4th window would start at 6 ≥ 5+1 → 3
        // (what PyTorch's MaxPool2d(2, 2, padding=1, ceil_mode=True) gives).
        let pool = Node(opType: "MaxPool", inputs: ["x"], outputs: ["y"],
                        attributes: [Attribute("kernel_shape", .ints([2, 2])), Attribute("strides", .ints([2, 2])),
                                     Attribute("pads", .ints([1, 1, 1, 1])), Attribute("ceil_mode", .int(1))])
        XCTAssertEqual(try infer([pool], inputs: [input("x", f(1, 1, 5, 6))]), TensorType(.float, fixed: [1, 1, 3, 4]))
        // GoogLeNet's 112 → MaxPool(3, 2, ceil) → 56.
        let g = Node(opType: "MaxPool", inputs: ["x"], outputs: ["y"],
                     attributes: [Attribute("kernel_shape", .ints([3, 3])), Attribute("strides", .ints([2, 2])), Attribute("ceil_mode", .int(1))])
        XCTAssertEqual(try infer([g], inputs: [input("x", f(1, 64, 112, 112))]), TensorType(.float, fixed: [1, 64, 56, 56]))
    }

    func testGlobalPoolKeepsBatchAndChannels() throws {
        let gap = Node(opType: "GlobalAveragePool", inputs: ["x"], outputs: ["y"])
        XCTAssertEqual(try infer([gap], inputs: [input("x", [.symbolic("N")] + f(2048, 7, 7))]),
                       TensorType(.float, [.symbolic("N")] + f(2048, 1, 1)))
    }

    // MARK: matrix products

    func testGemmTransposesAndMatMulBroadcastsBatches() throws {
        let gemm = Node(opType: "Gemm", inputs: ["a", "b"], outputs: ["y"], attributes: [Attribute("transB", .int(1))])
        XCTAssertEqual(try infer([gemm], inputs: [input("a", [.symbolic("N"), .fixed(2048)])], initializers: ["b": Tensor(zeros: .float, shape: [1000, 2048])]),
                       TensorType(.float, [.symbolic("N"), .fixed(1000)]))
        let mm = Node(opType: "MatMul", inputs: ["a", "b"], outputs: ["y"])
        XCTAssertEqual(try infer([mm], inputs: [input("a", f(2, 1, 3, 4)), input("b", f(5, 4, 6))]), TensorType(.float, fixed: [2, 5, 3, 6]))
        XCTAssertEqual(try infer([mm], inputs: [input("a", f(4)), input("b", f(7, 4, 6))]), TensorType(.float, fixed: [7, 6]))
        XCTAssertEqual(try infer([mm], inputs: [input("a", f(7, 3, 4)), input("b", f(4))]), TensorType(.float, fixed: [7, 3]))
        XCTAssertThrowsError(try infer([mm], inputs: [input("a", f(3, 4)), input("b", f(5, 6))]))
    }

    func testEinsumExplicitAndImplicitOutputs() throws {
        let e1 = Node(opType: "Einsum", inputs: ["a", "b"], outputs: ["y"], attributes: [Attribute("equation", .string(Array("bij,bjk->bik".utf8)))])
        XCTAssertEqual(try infer([e1], inputs: [input("a", f(2, 3, 4)), input("b", f(2, 4, 5))]), TensorType(.float, fixed: [2, 3, 5]))
        // Implicit: letters used once, alphabetical: "ik".
        let e2 = Node(opType: "Einsum", inputs: ["a", "b"], outputs: ["y"], attributes: [Attribute("equation", .string(Array("ij,jk".utf8)))])
        XCTAssertEqual(try infer([e2], inputs: [input("a", f(3, 4)), input("b", f(4, 5))]), TensorType(.float, fixed: [3, 5]))
        let e3 = Node(opType: "Einsum", inputs: ["a"], outputs: ["y"], attributes: [Attribute("equation", .string(Array("...ij->...ji".utf8)))])
        XCTAssertEqual(try infer([e3], inputs: [input("a", f(2, 7, 3, 4))]), TensorType(.float, fixed: [2, 7, 4, 3]))
    }

    // MARK: elementwise

    func testBroadcastingKeepsSymbolicDimsAndRejectsConflicts() throws {
        let add = Node(name: "add0", opType: "Add", inputs: ["a", "b"], outputs: ["y"])
        XCTAssertEqual(try infer([add], inputs: [input("a", [.symbolic("batch"), .fixed(3), .fixed(1)]), input("b", f(4))]),
                       TensorType(.float, [.symbolic("batch"), .fixed(3), .fixed(4)]))
        // A name against a fixed N > 1 must be N.
        XCTAssertEqual(try infer([add], inputs: [input("a", [.symbolic("s")]), input("b", f(8))]), TensorType(.float, fixed: [8]))
        XCTAssertThrowsError(try infer([add], inputs: [input("a", f(2, 3)), input("b", f(4))])) {
            XCTAssertTrue("\($0)".contains("add0"))
        }
        let eq = Node(opType: "Equal", inputs: ["a", "b"], outputs: ["y"])
        XCTAssertEqual(try infer([eq], inputs: [input("a", f(2, 3)), input("b", f(3))])?.elementType, .bool)
        let where_ = Node(opType: "Where", inputs: ["c", "a", "b"], outputs: ["y"])
        XCTAssertEqual(try infer([where_], inputs: [input("c", f(2, 1), .bool), input("a", f(1, 5), .int32), input("b", f(5), .int32)]),
                       TensorType(.int32, fixed: [2, 5]))
    }

    func testCastAndQuantizeChangeElementType() throws {
        let cast = Node(opType: "Cast", inputs: ["x"], outputs: ["y"], attributes: [Attribute("to", .int(Int64(DType.float16.rawValue)))])
        XCTAssertEqual(try infer([cast], inputs: [input("x", f(2, 3))]), TensorType(.float16, fixed: [2, 3]))
        let q = Node(opType: "QuantizeLinear", inputs: ["x", "s", "z"], outputs: ["y"])
        XCTAssertEqual(try infer([q], inputs: [input("x", f(2, 3))], initializers: ["s": .scalar(Float(0.1)), "z": .scalar(Int8(0))]),
                       TensorType(.int8, fixed: [2, 3]))
        let dq = Node(opType: "DequantizeLinear", inputs: ["x", "s"], outputs: ["y"])
        XCTAssertEqual(try infer([dq], inputs: [input("x", f(4), .uint8)], initializers: ["s": .scalar(Float(0.1))]), TensorType(.float, fixed: [4]))
    }

    // MARK: layout

    func testReshapeZeroAndMinusOneWithSymbolicBatch() throws {
        let r = Node(opType: "Reshape", inputs: ["x", "s"], outputs: ["y"])
        XCTAssertEqual(try infer([r], inputs: [input("x", [.symbolic("batch")] + f(512, 1, 1))], initializers: ["s": ints([0, -1])]),
                       TensorType(.float, [.symbolic("batch"), .fixed(512)]))
        // allowzero = 1: a 0 is a real zero-size dimension.
        let z = Node(opType: "Reshape", inputs: ["x", "s"], outputs: ["y"], attributes: [Attribute("allowzero", .int(1))])
        XCTAssertEqual(try infer([z], inputs: [input("x", f(0, 4))], initializers: ["s": ints([4, 0])], opset: 14), TensorType(.float, fixed: [4, 0]))
        XCTAssertThrowsError(try infer([r], inputs: [input("x", f(2, 3))], initializers: ["s": ints([4, -1])]))
    }

    func testShapeGatherConcatReshapeChainKeepsSymbolicBatch() throws {
        // x[batch,196,768] → Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [196, 12, 64]))
        let nodes = [
            Node(opType: "Shape", inputs: ["x"], outputs: ["shape"]),
            Node(opType: "Gather", inputs: ["shape", "zero"], outputs: ["b"], attributes: [Attribute("axis", .int(0))]),
            Node(opType: "Unsqueeze", inputs: ["b", "axes"], outputs: ["b1"]),
            Node(opType: "Concat", inputs: ["b1", "rest"], outputs: ["target"], attributes: [Attribute("axis", .int(0))]),
            Node(opType: "Reshape", inputs: ["x", "target"], outputs: ["y"]),
        ]
        let inits: [String: Tensor] = ["zero": .scalar(Int64(0)), "axes": ints([0]), "rest": ints([196, 12, 64])]
        XCTAssertEqual(try infer(nodes, inputs: [input("x", [.symbolic("batch")] + f(196, 768))], initializers: inits),
                       TensorType(.float, [.symbolic("batch")] + f(196, 12, 64)))
        // And fully folded when the batch is pinned.
        XCTAssertEqual(try infer(nodes, inputs: [input("x", [.symbolic("batch")] + f(196, 768))], initializers: inits, dims: ["batch": 3]),
                       TensorType(.float, fixed: [3, 196, 12, 64]))
    }

    func testArithmeticOnShapeValuesFolds() throws {
        // Reshape(x, Shape(x)[0:2] * [1, 2] ++ Shape(x)[2] / 2): [4, 6, 10] → [4, 12, 5]
        let nodes = [
            Node(opType: "Shape", inputs: ["x"], outputs: ["s"]),
            Node(opType: "Slice", inputs: ["s", "st", "en"], outputs: ["s01"]),
            Node(opType: "Mul", inputs: ["s01", "m"], outputs: ["s01m"]),
            Node(opType: "Slice", inputs: ["s", "en", "en3"], outputs: ["s2"]),
            Node(opType: "Div", inputs: ["s2", "two"], outputs: ["s2h"]),
            Node(opType: "Concat", inputs: ["s01m", "s2h"], outputs: ["t"], attributes: [Attribute("axis", .int(0))]),
            Node(opType: "Reshape", inputs: ["x", "t"], outputs: ["y"]),
        ]
        let inits: [String: Tensor] = ["st": ints([0]), "en": ints([2]), "en3": ints([3]), "m": ints([1, 2]), "two": ints([2])]
        XCTAssertEqual(try infer(nodes, inputs: [input("x", f(4, 6, 10))], initializers: inits), TensorType(.float, fixed: [4, 12, 5]))
    }

    func testFlattenTransposeAndDepthToSpace() throws {
        let fl = Node(opType: "Flatten", inputs: ["x"], outputs: ["y"])
        XCTAssertEqual(try infer([fl], inputs: [input("x", [.symbolic("N")] + f(2048, 1, 1))]), TensorType(.float, [.symbolic("N"), .fixed(2048)]))
        let fl0 = Node(opType: "Flatten", inputs: ["x"], outputs: ["y"], attributes: [Attribute("axis", .int(-1))])
        XCTAssertEqual(try infer([fl0], inputs: [input("x", f(2, 3, 4))]), TensorType(.float, fixed: [6, 4]))
        let tr = Node(opType: "Transpose", inputs: ["x"], outputs: ["y"], attributes: [Attribute("perm", .ints([0, 2, 3, 1]))])
        XCTAssertEqual(try infer([tr], inputs: [input("x", f(1, 3, 5, 7))]), TensorType(.float, fixed: [1, 5, 7, 3]))
        let d2s = Node(opType: "DepthToSpace", inputs: ["x"], outputs: ["y"], attributes: [Attribute("blocksize", .int(2))])
        XCTAssertEqual(try infer([d2s], inputs: [input("x", f(1, 8, 3, 3))]), TensorType(.float, fixed: [1, 2, 6, 6]))
    }

    func testSqueezeUnsqueezeAttributeFormBeforeOpset13AndInputFormAfter() throws {
        let sqAttr = Node(opType: "Squeeze", inputs: ["x"], outputs: ["y"], attributes: [Attribute("axes", .ints([1, -1]))])
        XCTAssertEqual(try infer([sqAttr], inputs: [input("x", f(3, 1, 4, 1))], opset: 11), TensorType(.float, fixed: [3, 4]))
        let sqInput = Node(opType: "Squeeze", inputs: ["x", "a"], outputs: ["y"])
        XCTAssertEqual(try infer([sqInput], inputs: [input("x", f(3, 1, 4, 1))], initializers: ["a": ints([1])], opset: 13),
                       TensorType(.float, fixed: [3, 4, 1]))
        let sqAll = Node(opType: "Squeeze", inputs: ["x"], outputs: ["y"])
        XCTAssertEqual(try infer([sqAll], inputs: [input("x", f(1, 3, 1))], opset: 13), TensorType(.float, fixed: [3]))
        let unAttr = Node(opType: "Unsqueeze", inputs: ["x"], outputs: ["y"], attributes: [Attribute("axes", .ints([0, 3]))])
        XCTAssertEqual(try infer([unAttr], inputs: [input("x", f(3, 4))], opset: 11), TensorType(.float, fixed: [1, 3, 4, 1]))
        let unInput = Node(opType: "Unsqueeze", inputs: ["x", "a"], outputs: ["y"])
        XCTAssertEqual(try infer([unInput], inputs: [input("x", f(3, 4))], initializers: ["a": ints([-1])], opset: 13),
                       TensorType(.float, fixed: [3, 4, 1]))
    }

    func testConcatSplitAndUnevenSplitOfOpset18() throws {
        let cat = Node(opType: "Concat", inputs: ["a", "b"], outputs: ["y"], attributes: [Attribute("axis", .int(1))])
        XCTAssertEqual(try infer([cat], inputs: [input("a", [.symbolic("N")] + f(64, 28)), input("b", [.symbolic("N")] + f(32, 28))]),
                       TensorType(.float, [.symbolic("N")] + f(96, 28)))
        let split = Node(opType: "Split", inputs: ["x"], outputs: ["a", "b", "c"],
                         attributes: [Attribute("axis", .int(1)), Attribute("num_outputs", .int(3))])
        var graph = Graph(inputs: [input("x", f(2, 10))], outputs: [], nodes: [split])
        graph.outputs = ["a", "b", "c"].map { ValueInfo(name: $0, type: nil) }
        let r = try ShapeInference.infer(model: Model(opsetImports: [OpsetImport(domain: "", version: 18)], graph: graph))
        XCTAssertEqual(["a", "b", "c"].map { r.types[$0]?.fixedShape }, [[2, 4], [2, 4], [2, 2]]) // ⌈10/3⌉ = 4, last gets 2
        let splitSizes = Node(opType: "Split", inputs: ["x", "s"], outputs: ["a", "b"])
        graph = Graph(inputs: [input("x", f(6, 2))], outputs: ["a", "b"].map { ValueInfo(name: $0, type: nil) },
                      initializers: ["s": ints([2, 4])], nodes: [splitSizes])
        let r2 = try ShapeInference.infer(model: Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: graph))
        XCTAssertEqual(r2.types["b"]?.fixedShape, [4, 2])
    }

    func testSliceNegativeClampedAndReversedSteps() throws {
        let sl = Node(opType: "Slice", inputs: ["x", "st", "en", "ax", "sp"], outputs: ["y"])
        // axis 0: [-3, INT64_MAX) → 3; axis 1: 8 down to 1 by −2 → 8,6,4,2 → 4; axis 2: [20, 30) clamped → 0.
        let inits: [String: Tensor] = ["st": ints([-3, 8, 20]), "en": ints([Int64.max, 1, 30]), "ax": ints([0, 1, 2]), "sp": ints([1, -2, 1])]
        XCTAssertEqual(try infer([sl], inputs: [input("x", f(10, 10, 10))], initializers: inits), TensorType(.float, fixed: [3, 4, 0]))
        // Opset 9 attribute form.
        let old = Node(opType: "Slice", inputs: ["x"], outputs: ["y"],
                       attributes: [Attribute("starts", .ints([1])), Attribute("ends", .ints([-1])), Attribute("axes", .ints([1]))])
        XCTAssertEqual(try infer([old], inputs: [input("x", f(2, 5))], opset: 9), TensorType(.float, fixed: [2, 3]))
    }

    func testGatherPadTileExpand() throws {
        let g = Node(opType: "Gather", inputs: ["x", "i"], outputs: ["y"], attributes: [Attribute("axis", .int(1))])
        XCTAssertEqual(try infer([g], inputs: [input("x", f(3, 4, 5)), input("i", f(2, 6), .int64)]), TensorType(.float, fixed: [3, 2, 6, 5]))
        let ge = Node(opType: "GatherElements", inputs: ["x", "i"], outputs: ["y"])
        XCTAssertEqual(try infer([ge], inputs: [input("x", f(3, 4)), input("i", f(3, 2), .int64)]), TensorType(.float, fixed: [3, 2]))
        let pad = Node(opType: "Pad", inputs: ["x", "p"], outputs: ["y"])
        XCTAssertEqual(try infer([pad], inputs: [input("x", f(1, 3, 4, 4))], initializers: ["p": ints([0, 0, 1, 2, 0, 0, 3, 4])]),
                       TensorType(.float, fixed: [1, 3, 8, 10]))
        let padOld = Node(opType: "Pad", inputs: ["x"], outputs: ["y"], attributes: [Attribute("pads", .ints([1, 1, 1, 1]))])
        XCTAssertEqual(try infer([padOld], inputs: [input("x", f(2, 2))], opset: 10), TensorType(.float, fixed: [4, 4]))
        let tile = Node(opType: "Tile", inputs: ["x", "r"], outputs: ["y"])
        XCTAssertEqual(try infer([tile], inputs: [input("x", f(2, 3))], initializers: ["r": ints([3, 1])]), TensorType(.float, fixed: [6, 3]))
        let ex = Node(opType: "Expand", inputs: ["x", "s"], outputs: ["y"])
        XCTAssertEqual(try infer([ex], inputs: [input("x", f(3, 1))], initializers: ["s": ints([2, 1, 6])]), TensorType(.float, fixed: [2, 3, 6]))
    }

    func testResizeByScalesAndBySizes() throws {
        let byScales = Node(opType: "Resize", inputs: ["x", "", "sc"], outputs: ["y"])
        XCTAssertEqual(try infer([byScales], inputs: [input("x", f(1, 3, 7, 10))], initializers: ["sc": Tensor(shape: [4], scalars: [Float(1), 1, 2, 1.5])]),
                       TensorType(.float, fixed: [1, 3, 14, 15]))
        let bySizes = Node(opType: "Resize", inputs: ["x", "", "", "sz"], outputs: ["y"])
        XCTAssertEqual(try infer([bySizes], inputs: [input("x", f(1, 3, 7, 10))], initializers: ["sz": ints([1, 3, 32, 32])]),
                       TensorType(.float, fixed: [1, 3, 32, 32]))
        let up = Node(opType: "Upsample", inputs: ["x", "sc"], outputs: ["y"])
        XCTAssertEqual(try infer([up], inputs: [input("x", f(1, 1, 2, 2))], initializers: ["sc": Tensor(shape: [4], scalars: [Float(1), 1, 3, 3])], opset: 9),
                       TensorType(.float, fixed: [1, 1, 6, 6]))
    }

    // MARK: reductions, normalization, selection

    func testReductionsKeepdimsAndAxesForms() throws {
        let mean = Node(opType: "ReduceMean", inputs: ["x"], outputs: ["y"], attributes: [Attribute("axes", .ints([2, 3]))])
        XCTAssertEqual(try infer([mean], inputs: [input("x", f(1, 64, 7, 7))], opset: 13), TensorType(.float, fixed: [1, 64, 1, 1]))
        let sum = Node(opType: "ReduceSum", inputs: ["x", "a"], outputs: ["y"], attributes: [Attribute("keepdims", .int(0))])
        XCTAssertEqual(try infer([sum], inputs: [input("x", f(2, 3, 4))], initializers: ["a": ints([1])], opset: 13), TensorType(.float, fixed: [2, 4]))
        let all = Node(opType: "ReduceMax", inputs: ["x"], outputs: ["y"], attributes: [Attribute("keepdims", .int(0))])
        XCTAssertEqual(try infer([all], inputs: [input("x", f(2, 3))], opset: 18), TensorType(.float, fixed: []))
        let noop = Node(opType: "ReduceSum", inputs: ["x"], outputs: ["y"], attributes: [Attribute("noop_with_empty_axes", .int(1))])
        XCTAssertEqual(try infer([noop], inputs: [input("x", f(2, 3))], opset: 13), TensorType(.float, fixed: [2, 3]))
        let arg = Node(opType: "ArgMax", inputs: ["x"], outputs: ["y"], attributes: [Attribute("axis", .int(-1)), Attribute("keepdims", .int(0))])
        XCTAssertEqual(try infer([arg], inputs: [input("x", f(5, 10))]), TensorType(.int64, fixed: [5]))
    }

    func testNormalizationsSoftmaxAndTopK() throws {
        let ln = Node(opType: "LayerNormalization", inputs: ["x", "g"], outputs: ["y", "mean"], attributes: [Attribute("axis", .int(-1))])
        XCTAssertEqual(try infer([ln], inputs: [input("x", f(2, 5, 8))], initializers: ["g": Tensor(zeros: .float, shape: [8])], output: "mean"),
                       TensorType(.float, fixed: [2, 5, 1]))
        let bn = Node(opType: "BatchNormalization", inputs: ["x", "s", "b", "m", "v"], outputs: ["y"])
        XCTAssertEqual(try infer([bn], inputs: [input("x", f(1, 16, 4, 4))]), TensorType(.float, fixed: [1, 16, 4, 4]))
        let topk = Node(opType: "TopK", inputs: ["x", "k"], outputs: ["v", "y"], attributes: [Attribute("axis", .int(1))])
        XCTAssertEqual(try infer([topk], inputs: [input("x", f(3, 100))], initializers: ["k": ints([5])]), TensorType(.int64, fixed: [3, 5]))
    }

    // MARK: generators and control flow

    func testConstantOfShapeAndRange() throws {
        let cos = Node(opType: "ConstantOfShape", inputs: ["s"], outputs: ["y"],
                       attributes: [Attribute("value", .tensor(Tensor(shape: [1], scalars: [Int32(7)])))])
        XCTAssertEqual(try infer([cos], inputs: [], initializers: ["s": ints([2, 3])]), TensorType(.int32, fixed: [2, 3]))
        let range = Node(opType: "Range", inputs: ["a", "b", "c"], outputs: ["y"])
        XCTAssertEqual(try infer([range], inputs: [], initializers: ["a": .scalar(Int64(1)), "b": .scalar(Int64(10)), "c": .scalar(Int64(3))]),
                       TensorType(.int64, fixed: [3])) // ⌈(10−1)/3⌉
    }

    func testIfJoinsBranchesAndLoopStacksScanOutputs() throws {
        let thenG = Graph(name: "then", outputs: [ValueInfo(name: "t", type: nil)],
                          nodes: [Node(opType: "Relu", inputs: ["x"], outputs: ["t"])])
        let elseG = Graph(name: "else", outputs: [ValueInfo(name: "e", type: nil)],
                          nodes: [Node(opType: "Transpose", inputs: ["x"], outputs: ["e"], attributes: [Attribute("perm", .ints([1, 0]))])])
        let ifNode = Node(opType: "If", inputs: ["c"], outputs: ["y"],
                          attributes: [Attribute("then_branch", .graph(thenG)), Attribute("else_branch", .graph(elseG))])
        // [4,4] both ways: known; [3,4] vs [4,3]: unknown dims, rank kept.
        XCTAssertEqual(try infer([ifNode], inputs: [input("c", [], .bool), input("x", f(4, 4))]), TensorType(.float, fixed: [4, 4]))
        XCTAssertEqual(try infer([ifNode], inputs: [input("c", [], .bool), input("x", f(3, 4))]), TensorType(.float, [.unknown, .unknown]))

        // Loop M=5 without condition: carried value keeps [2], scan output is [5, 2, 3].
        let body = Graph(name: "body", inputs: [input("i", [], .int64), input("cond", [], .bool), input("v", f(2))],
                         outputs: [ValueInfo(name: "cond_out", type: nil), ValueInfo(name: "v_out", type: nil), ValueInfo(name: "scan", type: nil)],
                         initializers: ["w": Tensor(zeros: .float, shape: [2, 3])],
                         nodes: [Node(opType: "Identity", inputs: ["cond"], outputs: ["cond_out"]),
                                 Node(opType: "Add", inputs: ["v", "v"], outputs: ["v_out"]),
                                 Node(opType: "MatMul", inputs: ["v_out", "w"], outputs: ["m"]),
                                 Node(opType: "Unsqueeze", inputs: ["m", "zero"], outputs: ["scan"])])
        var bodyWithAxes = body
        bodyWithAxes.initializers["zero"] = ints([0])
        let loop = Node(opType: "Loop", inputs: ["M", "", "v0"], outputs: ["vf", "y"], attributes: [Attribute("body", .graph(bodyWithAxes))])
        XCTAssertEqual(try infer([loop], inputs: [input("v0", f(2))], initializers: ["M": .scalar(Int64(5))]), TensorType(.float, fixed: [5, 1, 3]))
    }

    // MARK: pins and unknown ops

    func testPinnedShapesBindSymbolicDimsAndRejectContradictions() throws {
        let relu = Node(opType: "Relu", inputs: ["x"], outputs: ["y"])
        let x = input("x", [.symbolic("batch"), .fixed(3), .symbolic("h"), .symbolic("h")])
        XCTAssertEqual(try infer([relu], inputs: [x], pins: ["x": [2, 3, 32, 32]]), TensorType(.float, fixed: [2, 3, 32, 32]))
        XCTAssertEqual(try infer([relu], inputs: [x], dims: ["batch": 8]), TensorType(.float, [.fixed(8), .fixed(3), .symbolic("h"), .symbolic("h")]))
        XCTAssertThrowsError(try infer([relu], inputs: [x], pins: ["x": [2, 4, 32, 32]])) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("'x'") && message.contains("fixed at 3"), message)
            XCTAssertEqual((error as? EdgeError)?.exitStatus, .badInput)
        }
        XCTAssertThrowsError(try infer([relu], inputs: [x], pins: ["x": [2, 3, 32]]))
        XCTAssertThrowsError(try infer([relu], inputs: [x], pins: ["nope": [1]])) { XCTAssertTrue("\($0)".contains("nope")) }
    }

    func testUnknownCustomOpLeavesOutputsUnknownButInferenceContinues() throws {
        let custom = Node(opType: "MyFancyOp", domain: "com.example", inputs: ["x"], outputs: ["c"])
        let relu = Node(opType: "Relu", inputs: ["c"], outputs: ["y"])
        var graph = Graph(inputs: [input("x", f(2, 2))], outputs: [ValueInfo(name: "y", type: nil)], nodes: [custom, relu])
        var r = try ShapeInference.infer(model: Model(opsetImports: [OpsetImport(domain: "", version: 17)], graph: graph))
        XCTAssertNil(r.types["y"])
        XCTAssertEqual(r.unknownOps, ["com.example:MyFancyOp": 1])
        // A declared value_info fills the gap and inference continues through it.
        graph.valueInfo = [input("c", f(5, 7))]
        r = try ShapeInference.infer(model: Model(opsetImports: [OpsetImport(domain: "", version: 17)], graph: graph))
        XCTAssertEqual(r.types["y"], TensorType(.float, fixed: [5, 7]))
    }

    func testCycleIsABadInputNamingANode() {
        let a = Node(name: "a", opType: "Relu", inputs: ["q"], outputs: ["p"])
        let b = Node(name: "b", opType: "Relu", inputs: ["p"], outputs: ["q"])
        let graph = Graph(outputs: [ValueInfo(name: "q", type: nil)], nodes: [a, b])
        XCTAssertThrowsError(try ShapeInference.infer(model: Model(opsetImports: [OpsetImport(domain: "", version: 17)], graph: graph))) {
            XCTAssertTrue("\($0)".contains("cycle"), "\($0)")
        }
    }
}
