import EdgeIR

/// A read-only index of one graph for pattern matching: who produces and who consumes each value,
/// which values leave the graph, and which are constants. Build it, match, edit, rebuild: edits
/// invalidate it.
///
/// Constants are initializers and `Constant` node outputs of this graph. An initializer that is
/// also listed as a graph input (IR < 4 style) is treated as a constant too, as ONNX Runtime and
/// this project's engine do: such models list every weight as an input.
public struct GraphIndex {
    public let producer: [String: Int]
    /// Consumer node indices per value, one entry per use (a node reading a value twice appears
    /// twice); uses inside subgraphs count for the node holding the subgraph.
    public let consumers: [String: [Int]]
    public let graphOutputs: Set<String>
    public let graphInputs: Set<String>
    private let initializers: [String: Tensor]
    private let constantNodes: [String: Tensor]

    public init(_ graph: Graph) {
        var producer: [String: Int] = [:]
        var consumers: [String: [Int]] = [:]
        var constantNodes: [String: Tensor] = [:]
        for (i, node) in graph.nodes.enumerated() {
            for output in node.outputs where !output.isEmpty { producer[output] = i }
            for input in node.inputs where !input.isEmpty { consumers[input, default: []].append(i) }
            for sub in node.subgraphs {
                for name in sub.outerScopeReferences() { consumers[name, default: []].append(i) }
            }
            if let value = node.constantValue, let output = node.outputs.first { constantNodes[output] = value }
        }
        self.producer = producer
        self.consumers = consumers
        self.graphOutputs = Set(graph.outputs.map(\.name))
        self.graphInputs = Set(graph.inputs.map(\.name))
        var inits: [String: Tensor] = [:]
        for (name, t) in graph.initializers { inits[name] = t }
        self.initializers = inits
        self.constantNodes = constantNodes
    }

    /// The value of `name` when it is a weight (initializer or Constant output), else nil.
    public func constant(_ name: String) -> Tensor? {
        guard !name.isEmpty else { return nil }
        return initializers[name] ?? constantNodes[name]
    }

    public func isConstant(_ name: String) -> Bool { constant(name) != nil }

    /// Uses of `name` by nodes (not counting graph outputs).
    public func useCount(_ name: String) -> Int { consumers[name]?.count ?? 0 }

    /// True when `name` is read by exactly one node, exactly once, and is not a graph output:
    /// the producer's result can then be rewritten freely.
    public func hasSingleUse(_ name: String) -> Bool {
        useCount(name) == 1 && !graphOutputs.contains(name)
    }

    /// The one node consuming `name` (see `hasSingleUse`), or nil.
    public func soleConsumer(of name: String) -> Int? {
        hasSingleUse(name) ? consumers[name]![0] : nil
    }

    public func producerIndex(of name: String) -> Int? { producer[name] }

    /// A scalar constant (any shape with one element), widened to Double.
    public func scalarConstant(_ name: String) -> Double? {
        guard let t = constant(name), t.elementCount == 1, t.dtype != .string else { return nil }
        return t.doubleValues().first
    }
}

/// Small predicates used by many passes.
extension Node {
    /// Standard-domain node of one of the given op types.
    public func isOp(_ types: String...) -> Bool { isStandardDomain && types.contains(opType) }

    /// Number of non-empty outputs.
    public var liveOutputCount: Int { outputs.filter { !$0.isEmpty }.count }
}

extension Tensor {
    /// Elements as Float (any numeric type widened/narrowed); used for weight arithmetic.
    public func floatValues() -> [Float] {
        if dtype == .float { return scalars(as: Float.self) }
        return doubleValues().map { Float($0) }
    }

    /// A tensor of `dtype` holding `values` (Double → dtype, rounding as Swift conversions do).
    /// Supports the float and integer types passes produce.
    public static func make(_ dtype: DType, shape: [Int], values: [Double]) -> Tensor? {
        switch dtype {
        case .float: return Tensor(shape: shape, scalars: values.map { Float($0) })
        case .double: return Tensor(shape: shape, scalars: values)
        case .float16: return Tensor(shape: shape, scalars: values.map { Float16(Float($0)) })
        case .int64: return Tensor(shape: shape, scalars: values.map { Int64($0) })
        case .int32: return Tensor(shape: shape, scalars: values.map { Int32($0) })
        default: return nil
        }
    }

    /// An integer tensor (int64, int32 or bool) holding `values`.
    public static func makeIntegers(_ dtype: DType, shape: [Int], values: [Int64]) -> Tensor? {
        switch dtype {
        case .int64: return Tensor(shape: shape, scalars: values)
        case .int32:
            guard values.allSatisfy({ $0 >= Int64(Int32.min) && $0 <= Int64(Int32.max) }) else { return nil }
            return Tensor(shape: shape, scalars: values.map { Int32($0) })
        case .bool: return Tensor(shape: shape, scalars: values.map { $0 != 0 })
        default: return nil
        }
    }
}
