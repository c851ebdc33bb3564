import EdgeIR
import Foundation

/// Cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization Through Weight
/// Equalization and Bias Correction", §4.1), on the fused float graph before calibration.
///
///     Before:  x ─ Conv(W1, b1) ─ [Relu | none] ─ Conv(W2, b2) ─ y
///     After:   x ─ Conv(W1', b1') ─ [Relu | none] ─ Conv(W2', b2) ─ y      (same y)
///
/// Maths. Let z = W1·x + b1 and let channel i of z be scaled by 1/s_i (s_i > 0):
///   W1'[i] = W1[i] / s_i,  b1'[i] = b1[i] / s_i.
/// Relu is positively homogeneous, relu(z_i / s_i) = relu(z_i) / s_i, and so is the identity; so the
/// second conv sees a_i / s_i and undoes it by scaling every weight that reads input channel i:
///   W2'[:, i] = W2[:, i] · s_i        (for a grouped W2 [C_out, C_in/g, …]: the output channels
///                                      of channel i's group, at in-group index i mod C_in/g).
/// y is unchanged in exact arithmetic (the engine check in `StaticQuantizer` measures the float
/// rounding). Per-channel quantization of W1 is insensitive to s, but per-tensor ranges of W1 and
/// W2, the per-tensor activation range of a, and — decisive for depthwise-separable networks — a
/// depthwise W1 whose channels' ranges differ by orders of magnitude are not. With r1_i = max|W1[i]|
/// and r2_i = max|W2[:, i]|, the choice that makes both ranges equal,
///   r1_i / s_i = r2_i · s_i   ⇒   s_i = √(r1_i / r2_i) = √(r1_i·r2_i) / r2_i,
/// maximises Σ_i (r1'_i / R1')·(r2'_i / R2'), the product of the two layers' per-channel precisions
/// relative to their tensor ranges (the paper's Eq. 10–11). A conv in two pairs (second of one, first
/// of the next) is rebalanced by each, so sweeps repeat until every s_i is within `tolerance` of 1.
///
/// ReLU6 (Clip(0, 6)) is not homogeneous: clip(z/s, 0, 6)·s = clip(z, 0, 6s) ≠ clip(z, 0, 6) once z
/// exceeds min(6, 6s), so a pair across it is skipped (`Relu6Policy.skip`, exact). With
/// `.replaceWithRelu` the Clip becomes a Relu first and the pair is equalized, as the paper (§5) and
/// AIMET do for MobileNetV2; that changes the float function wherever z > 6, and the caller
/// measures by how much.
///
/// `.bounded` keeps the ReLU6 and equalizes within what the calibration data allows. With M_i the
/// largest z_i observed and S_i the total scale applied to channel i, the pair computes
/// clip(z_i, 0, 6·S_i) instead of clip(z_i, 0, 6); both agree for every z_i ≤ M_i exactly when
///   M_i ≤ 6:  S_i ≥ M_i / 6   (the clip at 6·S_i is never reached; below, nothing changed)
///   M_i > 6:  S_i = 1         (the clip is active at 6 and at no other bound)
/// so each step takes s_i = max(√(r1_i/r2_i), (M_i/6)/S_i), or 1 for a channel that saturates.
/// Exact on the calibration data; beyond it, only inputs driving z_i past M_i can differ.
public enum CrossLayerEqualization {
    public enum Relu6Policy: String, Sendable, Codable { case skip, replaceWithRelu = "relu", bounded }

    public struct Outcome: Sendable {
        public var graph: Graph
        /// Conv pairs equalized.
        public var pairs: Int
        /// Sweeps until convergence.
        public var sweeps: Int
        /// ReLU6 nodes turned into Relu (only with `.replaceWithRelu`).
        public var relu6Replaced: Int
        /// Pairs left alone because a ReLU6 sits between them (with `.skip`).
        public var relu6Skipped: Int
    }

    struct Pair {
        var first: Int
        var second: Int
        /// A Clip(0, 6) between them to turn into Relu.
        var relu6: Int?
        /// `.bounded`: the Clip's upper bound and the observed per-channel maxima of its input.
        var clipMax: Float? = nil
        var observedMax: [Float]? = nil
    }

    /// - Parameter observedMax: for `.bounded`, per-channel maxima of each ReLU6 input over the
    ///   calibration data (`relu6Inputs` lists which tensors); a pair without them is skipped.
    public static func apply(_ graph: Graph, relu6: Relu6Policy = .skip, observedMax: [String: [Float]] = [:],
                             tolerance: Float = 1e-4, maxSweeps: Int = 100) -> Outcome {
        let store = GraphConstants(graph)
        var (pairs, skipped) = findPairs(graph, store: store, relu6: relu6)
        if relu6 == .bounded {
            pairs = pairs.filter { p in
                guard let k = p.relu6 else { return true }
                guard let m = observedMax[graph.nodes[k].inputs[0]], m.count == store.tensor(graph.nodes[p.first].inputs[1])!.shape[0] else {
                    skipped += 1
                    return false
                }
                return true
            }.map { p in
                var p = p
                if let k = p.relu6 { p.observedMax = observedMax[graph.nodes[k].inputs[0]] }
                return p
            }
        }
        var g = graph
        var replaced = 0
        for p in pairs where relu6 == .replaceWithRelu {
            guard let k = p.relu6 else { continue }
            let clip = g.nodes[k]
            g.nodes[k] = Node(name: clip.name, opType: "Relu", inputs: [clip.inputs[0]], outputs: clip.outputs)
            replaced += 1
        }
        var weights = GraphConstants(g)
        var sweeps = 0
        // Total scale applied so far to each pair's channels (for the `.bounded` constraint).
        var total = pairs.map { [Float](repeating: 1, count: store.tensor(graph.nodes[$0.first].inputs[1])!.shape[0]) }
        if !pairs.isEmpty {
            while sweeps < maxSweeps {
                sweeps += 1
                var largest: Float = 0
                for (k, p) in pairs.enumerated() {
                    largest = max(largest, equalize(p, &weights, total: &total[k]))
                }
                if largest < tolerance { break }
            }
        }
        return Outcome(graph: weights.graph, pairs: pairs.count, sweeps: sweeps, relu6Replaced: replaced, relu6Skipped: skipped)
    }

    /// Conv → [Relu | Clip(0, 6) | none] → Conv chains whose intermediate tensors and weights have
    /// exactly one reader each.
    static func findPairs(_ graph: Graph, store: GraphConstants, relu6: Relu6Policy) -> ([Pair], Int) {
        let consumers = graph.consumerIndices()
        let outputs = Set(graph.outputs.map(\.name))
        func sole(_ value: String) -> Int? {
            guard !outputs.contains(value), let c = consumers[value], c.count == 1 else { return nil }
            return c[0]
        }
        func isConv(_ i: Int) -> Bool {
            let n = graph.nodes[i]
            guard n.isStandardDomain, n.opType == "Conv", n.inputs.count >= 2, n.outputs.count == 1,
                  let w = store.privateFloats(n.inputs[1]), w.shape.count >= 3 else { return false }
            if n.inputs.count > 2, !n.inputs[2].isEmpty, store.privateFloats(n.inputs[2]) == nil { return false }
            return true
        }
        func isRelu6(_ n: Node) -> Bool {
            guard n.isStandardDomain, n.opType == "Clip" else { return false }
            let (lo, hi) = clipBounds(n, store)
            return lo == 0 && hi != nil && hi! > 0
        }
        var pairs: [Pair] = []
        var skipped = 0
        for i in graph.nodes.indices where isConv(i) {
            guard var next = sole(graph.nodes[i].outputs[0]) else { continue }
            var clip: Int? = nil
            let middle = graph.nodes[next]
            if middle.isStandardDomain && middle.opType == "Relu" {
                guard let n = sole(middle.outputs[0]) else { continue }
                next = n
            } else if isRelu6(middle) {
                guard let n = sole(middle.outputs[0]) else { continue }
                clip = next
                next = n
            }
            // The second conv must read the chain's end as its data input (not as its weight).
            guard next != i, isConv(next) else { continue }
            let chainEnd = next == consumers[graph.nodes[i].outputs[0]]?.first ? graph.nodes[i].outputs[0] : middle.outputs[0]
            guard graph.nodes[next].inputs[0] == chainEnd else { continue }
            // Channel counts must line up: C_out of the first = C_in of the second.
            let w1 = store.tensor(graph.nodes[i].inputs[1])!, w2 = store.tensor(graph.nodes[next].inputs[1])!
            let group = Int(graph.nodes[next].int("group") ?? 1)
            guard group >= 1, w2.shape[1] * group == w1.shape[0], w2.shape[0] % group == 0 else { continue }
            if clip != nil && relu6 == .skip { skipped += 1; continue }
            pairs.append(Pair(first: i, second: next, relu6: clip, clipMax: clip.flatMap { clipBounds(graph.nodes[$0], store).1 }))
        }
        return (pairs, skipped)
    }

    /// A Clip's constant (min, max).
    static func clipBounds(_ n: Node, _ store: GraphConstants) -> (Float?, Float?) {
        var lo = n.float("min"), hi = n.float("max")
        func scalar(_ name: String) -> Float? {
            store.tensor(name).flatMap { $0.dtype == .float && $0.elementCount == 1 ? $0.scalars(as: Float.self)[0] : nil }
        }
        if n.inputs.count > 1, !n.inputs[1].isEmpty { lo = scalar(n.inputs[1]) }
        if n.inputs.count > 2, !n.inputs[2].isEmpty { hi = scalar(n.inputs[2]) }
        return (lo, hi)
    }

    /// The ReLU6 inputs (pre-activations) whose per-channel maxima `.bounded` needs.
    public static func relu6Inputs(_ graph: Graph) -> [String] {
        let store = GraphConstants(graph)
        return findPairs(graph, store: store, relu6: .bounded).0.compactMap { p in p.relu6.map { graph.nodes[$0].inputs[0] } }
    }

    /// One equalization of a pair; returns max |s_i − 1| (how far from balanced it was).
    static func equalize(_ p: Pair, _ store: inout GraphConstants, total: inout [Float]) -> Float {
        let n1 = store.graph.nodes[p.first], n2 = store.graph.nodes[p.second]
        guard let w1 = store.privateFloats(n1.inputs[1]), let w2 = store.privateFloats(n2.inputs[1]) else { return 0 }
        let channels = w1.shape[0]
        let inner1 = w1.values.count / channels
        let group = Int(n2.int("group") ?? 1)
        let inPerGroup = w2.shape[1], outPerGroup = w2.shape[0] / group
        let kernel = w2.values.count / (w2.shape[0] * inPerGroup)

        var r1 = [Float](repeating: 0, count: channels), r2 = [Float](repeating: 0, count: channels)
        for c in 0..<channels {
            for k in 0..<inner1 { r1[c] = max(r1[c], abs(w1.values[c * inner1 + k])) }
        }
        // Input channel c of W2: group g = c / inPerGroup, in-group index j = c % inPerGroup,
        // elements W2[o, j, …] for o in g·outPerGroup ..< (g+1)·outPerGroup.
        func forEachW2(_ c: Int, _ body: (Int) -> Void) {
            let g = c / inPerGroup, j = c % inPerGroup
            for o in (g * outPerGroup)..<((g + 1) * outPerGroup) {
                let base = (o * inPerGroup + j) * kernel
                for k in 0..<kernel { body(base + k) }
            }
        }
        for c in 0..<channels { forEachW2(c) { r2[c] = max(r2[c], abs(w2.values[$0])) } }
        var s = [Float](repeating: 1, count: channels)
        var largest: Float = 0
        for c in 0..<channels where r1[c] > 0 && r2[c] > 0 && r1[c].isFinite && r2[c].isFinite {
            s[c] = (r1[c] / r2[c]).squareRoot()
            if let m = p.observedMax, let h = p.clipMax {
                // `.bounded`: keep S_i ≥ M_i / h, or S_i = 1 for a channel that reached the clip.
                s[c] = m[c] > h ? 1 : max(s[c], (m[c] / h) / total[c])
            }
            total[c] *= s[c]
            largest = max(largest, abs(s[c] - 1))
        }
        guard largest > 0 else { return 0 }
        var v1 = w1.values, v2 = w2.values
        for c in 0..<channels {
            for k in 0..<inner1 { v1[c * inner1 + k] /= s[c] }
            forEachW2(c) { v2[$0] *= s[c] }
        }
        store.replace(n1.inputs[1], shape: w1.shape, values: v1)
        store.replace(n2.inputs[1], shape: w2.shape, values: v2)
        if n1.inputs.count > 2, !n1.inputs[2].isEmpty, let b1 = store.privateFloats(n1.inputs[2]), b1.values.count == channels {
            store.replace(n1.inputs[2], shape: b1.shape, values: zip(b1.values, s).map { $0 / $1 })
        }
        return largest
    }

    /// Spread of per-output-channel weight ranges of every Conv: max over channels of max|W[c]|
    /// divided by the median over channels (what per-tensor quantization of W suffers from).
    public static func rangeSpread(_ graph: Graph) -> [String: Float] {
        let store = GraphConstants(graph)
        var result: [String: Float] = [:]
        for node in graph.nodes where node.isStandardDomain && node.opType == "Conv" && node.inputs.count > 1 {
            guard let w = store.tensor(node.inputs[1]), w.dtype == .float, w.rank >= 3 else { continue }
            let values = w.scalars(as: Float.self)
            let channels = w.shape[0], inner = values.count / max(channels, 1)
            var ranges = (0..<channels).map { c in values[(c * inner)..<((c + 1) * inner)].reduce(Float(0)) { max($0, abs($1)) } }
            ranges.sort()
            let median = ranges[ranges.count / 2]
            guard median > 0 else { continue }
            result[node.name.isEmpty ? node.outputs[0] : node.name] = ranges.last! / median
        }
        return result
    }
}
