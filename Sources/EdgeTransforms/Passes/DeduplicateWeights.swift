import EdgeIR

/// Makes identical weights one weight.
///
///     Before:  W1 = [0.5, 1.5] ─► Mul ◄─ x      W2 = [0.5, 1.5] ─► Add ◄─ y
///     After:   W1 ─► Mul ◄─ x                    W1 ─► Add ◄─ y
///
/// Two initializers (or Constant tensors) are identical when element type, shape and bytes are
/// equal; readers of the duplicate then read the first one, which is exact. Exporters emit such
/// copies (one zero bias per layer width, repeated shape vectors). Constant nodes are merged into
/// the first definition only when it comes earlier in the node order, so every reader still follows
/// its definition. Graph inputs and outputs keep their names.
public struct DeduplicateWeights: GraphPass {
    public static let name = "deduplicate-weights"
    public static let summary = "merge initializers and Constant tensors with identical contents"

    public init() {}

    public func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        let index = GraphIndex(graph)
        // Bucket by a cheap fingerprint, then compare bytes.
        struct Key: Hashable { let dtype: DType; let shape: [Int]; let hash: Int }
        var firstOf: [Key: [(name: String, tensor: Tensor, nodeIndex: Int?)]] = [:]
        var replacements: [(old: String, new: String)] = []
        var removedNodes = Set<Int>()
        var candidates: [(String, Tensor, Int?)] = graph.initializers.map { ($0.key, $0.value, nil) }
        for (i, node) in graph.nodes.enumerated() {
            if let v = node.constantValue, let o = node.outputs.first { candidates.append((o, v, i)) }
        }
        for (name, tensor, nodeIndex) in candidates {
            guard tensor.dtype != .string, !index.graphOutputs.contains(name), !index.graphInputs.contains(name) else { continue }
            let key = Key(dtype: tensor.dtype, shape: tensor.shape, hash: fingerprint(tensor))
            if let match = firstOf[key]?.first(where: { $0.tensor == tensor }) {
                // A Constant node may only be replaced by a definition visible where it is read:
                // an initializer (visible everywhere) or an earlier Constant node.
                if let ni = nodeIndex, let mi = match.nodeIndex, mi > ni { continue }
                if nodeIndex == nil, match.nodeIndex != nil { continue }
                replacements.append((name, match.name))
                if let ni = nodeIndex { removedNodes.insert(ni) } else { graph.initializers.removeValue(forKey: name) }
            } else {
                firstOf[key, default: []].append((name, tensor, nodeIndex))
            }
        }
        for (old, new) in replacements { graph.replaceUses(of: old, with: new) }
        graph.removeNodes(removedNodes)
        return PassResult(rewrites: replacements.count)
    }

    /// A hash over a sample of the bytes (all of them for small tensors): cheap on 100 MB weights.
    private func fingerprint(_ t: Tensor) -> Int {
        t.withUnsafeBytes { raw -> Int in
            var hasher = Hasher()
            hasher.combine(raw.count)
            let stride = max(1, raw.count / 4096)
            var k = 0
            while k < raw.count {
                hasher.combine(raw[k])
                k += stride
            }
            return hasher.finalize()
        }
    }
}
