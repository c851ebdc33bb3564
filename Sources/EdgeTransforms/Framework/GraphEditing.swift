import EdgeIR

/// In-place edits passes share. They keep the graph valid: names stay defined, graph outputs keep
/// their names (callers see the same interface), and nested subgraphs that capture a renamed
/// value are renamed too.
extension Graph {
    /// Replaces every read of `old` with `new`: node inputs here and in subgraphs (which capture
    /// outer values by name), and subgraph outputs that pass an outer value straight through.
    /// Graph outputs of *this* graph are not renamed (see `forward`).
    public mutating func replaceUses(of old: String, with new: String) {
        guard old != new else { return }
        for i in nodes.indices {
            for k in nodes[i].inputs.indices where nodes[i].inputs[k] == old { nodes[i].inputs[k] = new }
            if !nodes[i].subgraphs.isEmpty {
                for a in nodes[i].attributes.indices {
                    switch nodes[i].attributes[a].value {
                    case .graph(var g):
                        g.replaceCapturedUses(of: old, with: new)
                        nodes[i].attributes[a].value = .graph(g)
                    case .graphs(var gs):
                        for k in gs.indices { gs[k].replaceCapturedUses(of: old, with: new) }
                        nodes[i].attributes[a].value = .graphs(gs)
                    default: break
                    }
                }
            }
        }
    }

    /// As `replaceUses`, inside a subgraph: the name is an outer value unless the subgraph defines it.
    mutating func replaceCapturedUses(of old: String, with new: String) {
        if inputs.contains(where: { $0.name == old }) || initializers[old] != nil { return }
        if nodes.contains(where: { $0.outputs.contains(old) }) { return }
        replaceUses(of: old, with: new)
        for k in outputs.indices where outputs[k].name == old { outputs[k].name = new }
    }

    /// Makes the consumers of `output` read `input` instead, so that the node producing `output`
    /// can be removed (Identity-like elimination). When `output` is a graph output the interface
    /// must keep its name, so instead the producer of `input` is renamed to `output`; that is only
    /// possible when `input` is produced by a node here, is not itself a graph input/output, and
    /// (returned false otherwise) the caller must then keep the node.
    @discardableResult
    public mutating func forward(_ output: String, to input: String) -> Bool {
        guard outputs.contains(where: { $0.name == output }) else {
            replaceUses(of: output, with: input)
            return true
        }
        guard !outputs.contains(where: { $0.name == input }), !inputs.contains(where: { $0.name == input }),
              initializers[input] == nil,
              let p = nodes.firstIndex(where: { $0.outputs.contains(input) }), nodes[p].constantValue == nil
        else { return false }
        for k in nodes[p].outputs.indices where nodes[p].outputs[k] == input { nodes[p].outputs[k] = output }
        // Other readers of `input` now read `output` (same value).
        replaceUses(of: input, with: output)
        // Keep the node being bypassed from reading its own output; the caller removes it anyway.
        valueInfo.removeAll { $0.name == input }
        return true
    }

    /// Removes the nodes at `indices` (order of the rest kept).
    public mutating func removeNodes(_ indices: Set<Int>) {
        guard !indices.isEmpty else { return }
        nodes = nodes.enumerated().filter { !indices.contains($0.offset) }.map(\.element)
    }

    /// Adds a weight as an initializer under a fresh name.
    @discardableResult
    public mutating func addInitializer(_ tensor: Tensor, base: String, context: PassContext) -> String {
        let name = context.freshName(base)
        initializers[name] = tensor
        return name
    }

    /// Declared element type of a value when the graph states one.
    public func declaredElementType(of name: String) -> DType? {
        declaredType(of: name)?.tensorType?.elementType
    }

    /// Total bytes of every weight (initializers and Constant tensors, recursively).
    public var weightBytes: Int {
        weights().reduce(0) { $0 + $1.tensor.byteCount }
    }

    /// Number of nodes including those in subgraphs.
    public var totalNodeCount: Int {
        nodes.reduce(0) { $0 + 1 + $1.subgraphs.reduce(0) { $0 + $1.totalNodeCount } }
    }

    /// Node counts per op type (domain-qualified outside the default domain), recursively.
    public func opCounts() -> [String: Int] {
        var counts: [String: Int] = [:]
        func walk(_ g: Graph) {
            for n in g.nodes {
                counts[n.isStandardDomain ? n.opType : "\(n.domain)::\(n.opType)", default: 0] += 1
                for s in n.subgraphs { walk(s) }
            }
        }
        walk(self)
        return counts
    }
}
