/// What an operator's shape rule sees of one node: its attributes, the types of its inputs, any
/// input values known at inference time, and a way to infer its subgraphs.
public struct ShapeContext {
    public let node: Node
    /// Opset version of the node's domain (the default domain's for standard ops).
    public let opset: Int64
    public let inputTypes: [TensorType?]
    /// Fully known small input values.
    public let inputConstants: [ConstantValue?]
    /// Elements of 0-D/1-D integer inputs, as dimensions: partially known shape vectors such as
    /// `Concat(Unsqueeze(Shape(x)[0]), [-1])` = `[batch, -1]`.
    public let inputShapeValues: [[Dim]?]
    /// Infers a subgraph given the types bound to its formal inputs; returns its output types.
    let inferSubgraph: (Graph, [TensorType?]) throws -> [TensorType?]

    public var inputCount: Int { node.inputs.count }
    public var outputCount: Int { node.outputs.count }

    public func hasInput(_ i: Int) -> Bool { node.input(i) != nil }
    public func type(_ i: Int) -> TensorType? { i < inputTypes.count && hasInput(i) ? inputTypes[i] : nil }
    public func dtype(_ i: Int) -> DType? { type(i)?.elementType }
    public func shape(_ i: Int) -> [Dim]? { type(i)?.shape }
    public func rank(_ i: Int) -> Int? { shape(i)?.count }
    public func constant(_ i: Int) -> ConstantValue? { i < inputConstants.count && hasInput(i) ? inputConstants[i] : nil }
    public func ints(_ i: Int) -> [Int64]? { constant(i)?.int64s }
    public func doubles(_ i: Int) -> [Double]? { constant(i)?.doubles }
    public func shapeValue(_ i: Int) -> [Dim]? {
        guard i < inputShapeValues.count, hasInput(i) else { return nil }
        return inputShapeValues[i]
    }

    public func int(_ name: String, default value: Int64) -> Int64 { node.int(name) ?? value }
    public func ints(_ name: String) -> [Int64]? { node.ints(name) }
    public func string(_ name: String, default value: String) -> String { node.string(name) ?? value }

    /// A bad-input error naming the node and op.
    public func error(_ message: String) -> EdgeError {
        EdgeError.badInput("node '\(node.displayName)' (\(node.opType)): \(message)")
    }

    /// Broadcasts the shapes of the given inputs; nil when any input's rank is unknown.
    public func broadcastInputs(_ indices: [Int]) throws -> [Dim]? {
        var shapes: [[Dim]] = []
        for i in indices where hasInput(i) {
            guard let s = shape(i) else { return nil }
            shapes.append(s)
        }
        switch DimMath.broadcast(shapes) {
        case .success(let out): return out
        case .failure(let e):
            throw error("cannot broadcast input shapes \(shapes.map { "[" + $0.map(\.description).joined(separator: ",") + "]" }.joined(separator: " and ")) (\(e.a) vs \(e.b))")
        }
    }

    /// Axes from the attribute (older opsets) or from input `index` (newer ones). `.absent`
    /// when neither is given, `.unknown` when given by a non-constant input.
    public func axes(attribute: String = "axes", input index: Int) -> AxesSource {
        if let a = node.ints(attribute) { return .known(a) }
        if hasInput(index) {
            if let v = ints(index) { return .known(v) }
            return .unknown
        }
        return .absent
    }

    public enum AxesSource {
        case known([Int64])
        case absent
        case unknown
    }

    public func normalizedAxes(_ axes: [Int64], rank: Int) throws -> [Int] {
        try axes.map { a in
            guard let n = DimMath.normalize(axis: a, rank: rank) else { throw error("axis \(a) is out of range for rank \(rank)") }
            return n
        }
    }

    public func normalizedAxis(_ axis: Int64, rank: Int) throws -> Int {
        guard let n = DimMath.normalize(axis: axis, rank: rank) else { throw error("axis \(axis) is out of range for rank \(rank)") }
        return n
    }

    public func subgraphOutputs(_ graph: Graph, inputs: [TensorType?]) throws -> [TensorType?] {
        try inferSubgraph(graph, inputs)
    }
}

/// A shape rule returns one type per node output (nil when unknown).
public typealias ShapeRule = @Sendable (ShapeContext) throws -> [TensorType?]

extension TensorType {
    /// Same element type, new shape.
    public func with(shape newShape: [Dim]?) -> TensorType { TensorType(elementType, newShape) }
}
