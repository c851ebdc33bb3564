/// Weights live in two places in real ONNX files: graph initializers and `Constant` nodes (many
/// exporters emit every weight as a Constant). This file gives one view over both, including the
/// weights inside If/Loop/Scan bodies, so that counting and editing treat them alike.

/// One step from a graph into a subgraph: node `nodeIndex`, attribute `attribute`, and for
/// list-valued (`graphs`) attributes the position in the list.
public struct SubgraphStep: Hashable, Sendable {
    public var nodeIndex: Int
    public var attribute: String
    public var listIndex: Int?
    public init(nodeIndex: Int, attribute: String, listIndex: Int? = nil) {
        self.nodeIndex = nodeIndex
        self.attribute = attribute
        self.listIndex = listIndex
    }
}

/// Where a weight is stored.
public struct WeightLocation: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case initializer
        /// A `Constant` node at this index whose tensor-valued attribute holds the weight.
        case constantNode(index: Int)
    }
    /// Path from the main graph to the graph that holds the weight; empty for the main graph.
    public var graphPath: [SubgraphStep]
    public var kind: Kind
    /// Initializer name, or the Constant node's output name.
    public var name: String
}

public struct Weight: Sendable {
    public var location: WeightLocation
    public var tensor: Tensor
}

extension Node {
    /// The value a `Constant` node produces, whichever attribute carries it. Nil for other ops or a
    /// malformed Constant.
    public var constantValue: Tensor? {
        // A Constant inside a function body whose value references the caller's attribute holds a
        // placeholder, not its value.
        guard opType == "Constant", isStandardDomain, let attribute = attributes.first, attribute.refAttrName == nil else { return nil }
        switch attribute.value {
        case .tensor(let t): return t
        case .float(let v): return Tensor.scalar(v)
        case .floats(let v): return Tensor(shape: [v.count], scalars: v)
        case .int(let v): return Tensor.scalar(v)
        case .ints(let v): return Tensor(shape: [v.count], scalars: v)
        case .string(let s): return Tensor(strings: [s], shape: [])
        case .strings(let s): return Tensor(strings: s, shape: [s.count])
        case .sparseTensor(let s): return s.densified()
        default: return nil
        }
    }
}

extension SparseTensor {
    /// The dense equivalent; nil when indices are malformed.
    public func densified() -> Tensor? {
        guard values.dtype != .string, values.dtype.bitWidth >= 8 else { return nil }
        var dense = Tensor(zeros: values.dtype, shape: dims)
        let elementBytes = values.dtype.bitWidth / 8
        guard let idx = indices.int64Values() else { return nil }
        let nnz = values.elementCount
        let rank = dims.count
        let linear: [Int]
        if indices.shape.count == 1 {
            linear = idx.map { Int($0) }
        } else if indices.shape.count == 2, indices.shape[1] == rank {
            var strides = [Int](repeating: 1, count: rank)
            for d in stride(from: rank - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * dims[d + 1] }
            linear = (0..<nnz).map { i in (0..<rank).reduce(0) { $0 + Int(idx[i * rank + $1]) * strides[$1] } }
        } else {
            return nil
        }
        guard linear.count == nnz, linear.allSatisfy({ $0 >= 0 && $0 < dense.elementCount }) else { return nil }
        values.withUnsafeBytes { src in
            dense.withUnsafeMutableBytes { dst in
                for (i, position) in linear.enumerated() {
                    dst.baseAddress!.advanced(by: position * elementBytes)
                        .copyMemory(from: src.baseAddress!.advanced(by: i * elementBytes), byteCount: elementBytes)
                }
            }
        }
        return dense
    }
}

extension Graph {
    /// Every weight: initializers and Constant-node tensors, in this graph and, when `recursive`,
    /// in all nested subgraphs. A Constant is a weight whatever its size; callers that want only
    /// "parameters" filter by dtype or size themselves.
    public func weights(recursive: Bool = true) -> [Weight] {
        var result: [Weight] = []
        collectWeights(path: [], recursive: recursive, into: &result)
        return result
    }

    private func collectWeights(path: [SubgraphStep], recursive: Bool, into result: inout [Weight]) {
        for (name, tensor) in initializers {
            result.append(Weight(location: WeightLocation(graphPath: path, kind: .initializer, name: name), tensor: tensor))
        }
        for (index, node) in nodes.enumerated() {
            if let value = node.constantValue {
                let location = WeightLocation(graphPath: path, kind: .constantNode(index: index), name: node.outputs.first ?? "")
                result.append(Weight(location: location, tensor: value))
            }
            guard recursive else { continue }
            for attribute in node.attributes {
                switch attribute.value {
                case .graph(let g):
                    g.collectWeights(path: path + [SubgraphStep(nodeIndex: index, attribute: attribute.name)],
                                     recursive: true, into: &result)
                case .graphs(let gs):
                    for (k, g) in gs.enumerated() {
                        g.collectWeights(path: path + [SubgraphStep(nodeIndex: index, attribute: attribute.name, listIndex: k)],
                                         recursive: true, into: &result)
                    }
                default: break
                }
            }
        }
    }

    /// Replaces a weight in place, keeping where it is stored (initializer or Constant node).
    public mutating func setWeight(at location: WeightLocation, to tensor: Tensor) {
        modifySubgraph(path: location.graphPath[...]) { graph in
            switch location.kind {
            case .initializer:
                graph.initializers[location.name] = tensor
            case .constantNode(let index):
                graph.nodes[index].attributes = [Attribute("value", .tensor(tensor))]
            }
        }
    }

    /// Applies `body` to the subgraph reached by `path`.
    public mutating func modifySubgraph(path: ArraySlice<SubgraphStep>, _ body: (inout Graph) -> Void) {
        guard let step = path.first else {
            body(&self)
            return
        }
        guard let a = nodes[step.nodeIndex].attributes.firstIndex(where: { $0.name == step.attribute }) else { return }
        switch nodes[step.nodeIndex].attributes[a].value {
        case .graph(var g):
            g.modifySubgraph(path: path.dropFirst(), body)
            nodes[step.nodeIndex].attributes[a].value = .graph(g)
        case .graphs(var gs):
            guard let k = step.listIndex, gs.indices.contains(k) else { return }
            gs[k].modifySubgraph(path: path.dropFirst(), body)
            nodes[step.nodeIndex].attributes[a].value = .graphs(gs)
        default:
            return
        }
    }
}
