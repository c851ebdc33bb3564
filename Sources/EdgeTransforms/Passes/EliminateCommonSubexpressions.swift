import EdgeIR

/// Computes each distinct expression once.
///
///     Before:  x ─► Shape ─► s1 ─► …        After:  x ─► Shape ─► s1 ─► …
///              x ─► Shape ─► s2 ─► …                          └──► …   (readers of s2 read s1)
///
/// Two nodes are the same expression when they have the same op, domain, attributes and inputs
/// (after earlier merges), and the op is deterministic. Readers of the second node's outputs read
/// the first's instead, which is exact: the values are equal by construction. Nodes holding
/// subgraphs and nodes whose outputs are graph outputs are left alone (a graph output's name is
/// part of the interface).
public struct EliminateCommonSubexpressions: GraphPass {
    public static let name = "eliminate-common-subexpressions"
    public static let summary = "merge nodes computing the same op on the same inputs"

    public init() {}

    public func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        let outputs = Set(graph.outputs.map(\.name))
        var seen: [String: Int] = [:]
        var removed = Set<Int>()
        var rename: [String: String] = [:]
        for i in graph.nodes.indices {
            // Apply earlier merges to this node's inputs first, so chains collapse in one sweep.
            for k in graph.nodes[i].inputs.indices {
                if let r = rename[graph.nodes[i].inputs[k]] { graph.nodes[i].inputs[k] = r }
            }
            let node = graph.nodes[i]
            guard node.subgraphs.isEmpty, !node.outputs.isEmpty,
                  !(node.isStandardDomain && NodeEvaluator.nondeterministic.contains(node.opType)),
                  !FunctionBody.isOpaque(node),
                  !node.outputs.contains(where: { outputs.contains($0) }) else { continue }
            let key = signature(node)
            if let first = seen[key] {
                let original = graph.nodes[first]
                guard original.outputs.count == node.outputs.count else { continue }
                for (a, b) in zip(node.outputs, original.outputs) where !a.isEmpty {
                    guard !b.isEmpty else { continue }
                    rename[a] = b
                }
                // An output used downstream but omitted on the first node cannot be merged.
                if zip(node.outputs, original.outputs).contains(where: { !$0.0.isEmpty && $0.1.isEmpty }) {
                    for a in node.outputs { rename[a] = nil }
                    continue
                }
                removed.insert(i)
            } else {
                seen[key] = i
            }
        }
        guard !removed.isEmpty else { return .unchanged }
        graph.removeNodes(removed)
        // Captured uses inside subgraphs.
        for (old, new) in rename { graph.replaceUses(of: old, with: new) }
        return PassResult(rewrites: removed.count)
    }

    private func signature(_ node: Node) -> String {
        var s = "\(node.domain)|\(node.opType)|\(node.overload)|\(node.inputs.joined(separator: ","))|\(node.outputs.count)"
        for a in node.attributes.sorted(by: { $0.name < $1.name }) {
            s += "|\(a.name)=\(describe(a.value))"
        }
        return s
    }

    private func describe(_ v: AttributeValue) -> String {
        switch v {
        case .float(let f): return "f\(f.bitPattern)"
        case .int(let i): return "i\(i)"
        case .string(let b): return "s\(b)"
        case .floats(let fs): return "F\(fs.map(\.bitPattern))"
        case .ints(let i): return "I\(i)"
        case .strings(let s): return "S\(s)"
        case .tensor(let t):
            let bytes = t.withUnsafeBytes { Array($0.prefix(256)) }
            return "t\(t.dtype)\(t.shape)\(t.byteCount)\(bytes)\(t.byteCount > 256 ? "#\(ObjectIdentifier(t.storage).hashValue)" : "")"
        default: return "\(v)"
        }
    }
}
