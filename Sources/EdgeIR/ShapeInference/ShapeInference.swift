import OrderedCollections

/// What shape inference learned about a model's values.
public struct ShapeInferenceResult: Sendable {
    /// Element type and shape of every value whose type is known: graph inputs, weights, node
    /// outputs, including values inside If/Loop/Scan bodies (ONNX forbids a subgraph from reusing
    /// an outer name, so one flat namespace holds them all).
    public var types: [String: TensorType] = [:]
    /// Small values known exactly (shape vectors, axes, scales).
    public var constants: [String: ConstantValue] = [:]
    /// Integer vectors known element by element, possibly symbolically (`[batch, 512]`).
    public var shapeValues: [String: [Dim]] = [:]
    /// Values computable from weights alone: initializers, Constant outputs, and outputs of
    /// deterministic nodes whose inputs are all static (e.g. `ConstantOfShape` over a constant
    /// shape, `Identity` of a weight, a folded `Shape→Gather` chain). A runtime folds them, so they
    /// are not activations.
    public var staticValues: Set<String> = []
    /// Nodes that had no shape rule: "op" or "domain:op" → count. Their outputs keep only the
    /// types the model declares.
    public var unknownOps: [String: Int] = [:]
    /// Symbolic dimension bindings in effect (from `--dim` and from pinned input shapes).
    public var dimBindings: [String: Int] = [:]

    public func type(of name: String) -> TensorType? { types[name] }
}

public enum ShapeInference {
    /// Infers the type of every value of `model`'s main graph and its subgraphs.
    ///
    /// - Parameters:
    ///   - inputShapes: pinned shapes for graph inputs (`--input-shape name=1,3,224,224`).
    ///   - dims: values for symbolic dimensions (`--dim batch=1`).
    /// - Throws: `EdgeError.badInput` when a pin names no input, contradicts a fixed declared
    ///   dimension or rank, or when the model's own shapes contradict each other (naming the node).
    public static func infer(model: Model, inputShapes: [String: [Int]] = [:], dims: [String: Int] = [:]) throws -> ShapeInferenceResult {
        let state = InferenceState(opsets: model.opsetImports)
        try state.bind(pins: inputShapes, dims: dims, graph: model.graph)
        _ = try state.inferGraph(model.graph, bindings: nil)
        return state.result
    }

    /// Infers a graph on its own (e.g. a subgraph), with the types of outer-scope values it reads.
    public static func infer(graph: Graph, opsetImports: [OpsetImport], outerTypes: [String: TensorType] = [:],
                             inputTypes: [TensorType?]? = nil) throws -> ShapeInferenceResult {
        let state = InferenceState(opsets: opsetImports)
        state.result.types = outerTypes
        _ = try state.inferGraph(graph, bindings: inputTypes)
        return state.result
    }

    /// The rule for a node, if there is one.
    public static func rule(for node: Node) -> ShapeRule? {
        if node.isStandardDomain { return ShapeRules.table[node.opType] }
        return ShapeRules.table["\(node.domain):\(node.opType)"]
    }
}

/// Mutable state of one inference run. A class so that the subgraph callback can reach it.
final class InferenceState {
    var result = ShapeInferenceResult()
    /// Weights by name, converted to `ConstantValue` on first use by a consumer.
    var weights: [String: Tensor] = [:]
    let opsets: [String: Int64]
    var pins: [String: [Int]] = [:]

    init(opsets: [OpsetImport]) {
        var map: [String: Int64] = [:]
        for o in opsets { map[o.domain == "ai.onnx" ? "" : o.domain] = o.version }
        self.opsets = map
    }

    // MARK: pins

    func bind(pins: [String: [Int]], dims: [String: Int], graph: Graph) throws {
        result.dimBindings = dims
        let inputs = graph.runtimeInputs
        for (name, shape) in pins.sorted(by: { $0.key < $1.key }) {
            guard let input = inputs.first(where: { $0.name == name }) else {
                throw EdgeError.badInput("--input-shape names '\(name)', but the model's inputs are: \(inputs.map(\.name).joined(separator: ", "))")
            }
            if shape.contains(where: { $0 < 0 }) {
                throw EdgeError.badInput("--input-shape for '\(name)' has a negative dimension")
            }
            if let declared = input.tensorType?.shape {
                guard declared.count == shape.count else {
                    throw EdgeError.badInput("input '\(name)' has rank \(declared.count) (\(input.tensorType!)) but --input-shape gives \(shape.count) dimensions")
                }
                for (axis, (d, p)) in zip(declared, shape).enumerated() {
                    switch d {
                    case .fixed(let v) where v != p:
                        throw EdgeError.badInput("input '\(name)' has dimension \(axis) fixed at \(v) in the model, but --input-shape gives \(p)")
                    case .symbolic(let s):
                        if let bound = result.dimBindings[s], bound != p {
                            throw EdgeError.badInput("input '\(name)': dimension '\(s)' is pinned to \(p) but also to \(bound)")
                        }
                        result.dimBindings[s] = p
                    default: break
                    }
                }
            }
        }
        self.pins = pins
    }

    func substitute(_ type: TensorType?) -> TensorType? {
        guard var t = type, let shape = t.shape, !result.dimBindings.isEmpty else { return type }
        t.shape = shape.map { d in
            if case .symbolic(let s) = d, let v = result.dimBindings[s] { return .fixed(v) }
            return d
        }
        return t
    }

    // MARK: graphs

    /// Infers `graph`; `bindings` are the types of its formal inputs when it is a subgraph.
    /// Returns the types of its outputs.
    func inferGraph(_ graph: Graph, bindings: [TensorType?]?) throws -> [TensorType?] {
        for (name, tensor) in graph.initializers {
            result.types[name] = TensorType(tensor.dtype, fixed: tensor.shape)
            result.staticValues.insert(name)
            weights[name] = tensor
        }
        for sparse in graph.sparseInitializers {
            result.types[sparse.name] = TensorType(sparse.values.dtype, fixed: sparse.dims)
            result.staticValues.insert(sparse.name)
        }
        for (i, input) in graph.inputs.enumerated() where graph.initializers[input.name] == nil {
            var type = substitute(input.tensorType)
            if let pinned = pins[input.name], bindings == nil {
                type = TensorType(type?.elementType ?? .float, fixed: pinned)
            }
            if let bindings, i < bindings.count {
                type = merge(inferred: bindings[i], declared: type)
            }
            result.types[input.name] = type
        }
        var declared: [String: TensorType] = [:]
        for v in graph.valueInfo + graph.outputs {
            if let t = substitute(v.tensorType) { declared[v.name] = t }
        }

        for index in try graph.topologicalOrder() {
            try inferNode(graph.nodes[index], declared: declared)
        }
        return graph.outputs.map { output in
            merge(inferred: result.types[output.name], declared: declared[output.name])
        }
    }

    private func constant(named name: String) -> ConstantValue? {
        if let c = result.constants[name] { return c }
        guard let tensor = weights[name],
              let c = ConstantValue(tensor: tensor, maxFloatElements: ConstantValue.maxFloatInitializerElements) else { return nil }
        result.constants[name] = c
        return c
    }

    private func shapeValue(named name: String) -> [Dim]? {
        if let s = result.shapeValues[name] { return s }
        if let c = constant(named: name), !c.isFloating, c.shape.count <= 1 { return c.ints.map { .fixed(Int($0)) } }
        return nil
    }

    private func inferNode(_ node: Node, declared: [String: TensorType]) throws {
        let domain = node.isStandardDomain ? "" : node.domain
        let opset = opsets[domain] ?? (domain.isEmpty ? 21 : 1)
        let inputTypes = node.inputs.map { $0.isEmpty ? nil : result.types[$0] }
        let constants = node.inputs.map { $0.isEmpty ? nil : constant(named: $0) }
        let shapeValues = node.inputs.map { $0.isEmpty ? nil : shapeValue(named: $0) }
        let context = ShapeContext(node: node, opset: opset, inputTypes: inputTypes, inputConstants: constants,
                                   inputShapeValues: shapeValues,
                                   inferSubgraph: { [unowned self] graph, bindings in try self.inferGraph(graph, bindings: bindings) })

        var outputs: [TensorType?] = Array(repeating: nil, count: node.outputs.count)
        if let rule = ShapeInference.rule(for: node) {
            let inferred = try rule(context)
            for i in outputs.indices where i < inferred.count { outputs[i] = inferred[i] }
        } else {
            let key = node.isStandardDomain ? node.opType : "\(node.domain):\(node.opType)"
            result.unknownOps[key, default: 0] += 1
        }
        for (i, name) in node.outputs.enumerated() where !name.isEmpty {
            if let t = merge(inferred: outputs[i].map { substitute($0)! }, declared: declared[name]) {
                result.types[name] = t
                outputs[i] = t
            }
        }

        // Values: fold what can be folded, so later Reshape/Expand/Slice rules see them.
        let folded = ConstantEvaluator.evaluate(context, outputTypes: outputs)
        var allFolded = !node.outputs.isEmpty
        for (i, name) in node.outputs.enumerated() where !name.isEmpty {
            let value = i < folded.count ? folded[i] : .none
            switch value {
            case .constant(let c):
                result.constants[name] = c
                if !c.isFloating, c.shape.count <= 1 { result.shapeValues[name] = c.ints.map { .fixed(Int($0)) } }
                if result.types[name] == nil { result.types[name] = c.tensorType }
            case .shape(let dims):
                result.shapeValues[name] = dims
                allFolded = false
            case .none:
                allFolded = false
            }
        }
        let inputsStatic = node.inputs.contains { !$0.isEmpty }
            && node.inputs.allSatisfy { $0.isEmpty || result.staticValues.contains($0) }
        let deterministic = !ShapeRules.nondeterministicOps.contains(node.opType) && node.subgraphs.isEmpty
        if node.opType == "Constant" || allFolded || (inputsStatic && deterministic && node.isStandardDomain) {
            for name in node.outputs where !name.isEmpty { result.staticValues.insert(name) }
        }
    }

    /// Combines an inferred type with the type the model declares for the same value.
    func merge(inferred: TensorType?, declared: TensorType?) -> TensorType? {
        guard let inferred else { return declared }
        guard let declared else { return inferred }
        var out = inferred
        if out.elementType == .undefined { out.elementType = declared.elementType }
        guard let s = inferred.shape else { out.shape = declared.shape; return out }
        guard let d = declared.shape, d.count == s.count else { return out }
        out.shape = zip(s, d).map { a, b in a.merged(with: b) ?? a }
        return out
    }
}
