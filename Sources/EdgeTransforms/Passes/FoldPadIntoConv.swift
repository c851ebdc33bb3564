import EdgeIR

/// Folds an explicit zero Pad into the padding of the Conv or pooling node it feeds.
///
///     Before:  x ─► Pad(pads=[0,0,1,1, 0,0,1,1], constant 0) ─► p ─► Conv(pads=[0,0,0,0]) ─► y
///     After:   x ─► Conv(pads=[1,1,1,1]) ─► y
///
/// Conv pads its input with zeros, so an explicit constant-zero pad on the spatial axes is the same
/// as adding those amounts to the Conv's own pads. Conditions: Pad mode "constant" with value 0,
/// non-negative amounts, nothing padded on the batch and channel axes, the consumer's auto_pad
/// NOTSET. Pooling:
/// - AveragePool: its own padding is excluded from the average unless count_include_pad=1, while
///   explicit zeros are counted; the fold is exact only with count_include_pad=1 already set, or
///   when the pool has no padding of its own (then the fold sets count_include_pad=1).
/// - MaxPool pads with −∞, so only a Pad whose value is −∞ folds into it.
public struct FoldPadIntoConv: GraphPass {
    public static let name = "fold-pad-into-conv"
    public static let summary = "fold explicit zero Pad into Conv/AveragePool (and −∞ Pad into MaxPool) padding"

    public init() {}

    public func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        var rewrites = 0
        var index = GraphIndex(graph)
        var i = 0
        while i < graph.nodes.count {
            defer { i += 1 }
            let consumer = graph.nodes[i]
            guard consumer.isOp("Conv", "AveragePool", "MaxPool"), (consumer.string("auto_pad") ?? "NOTSET") == "NOTSET",
                  let t = consumer.input(0), let p = index.producerIndex(of: t), index.hasSingleUse(t) else { continue }
            let pad = graph.nodes[p]
            guard pad.isOp("Pad"), (pad.string("mode") ?? "constant") == "constant", let x = pad.input(0),
                  let (amounts, value) = padding(of: pad, index: index, opset: context.opset),
                  amounts.count % 2 == 0, amounts.count >= 6 else { continue }
            let rank = amounts.count / 2
            let spatial = rank - 2
            guard amounts[0] == 0, amounts[1] == 0, amounts[rank] == 0, amounts[rank + 1] == 0,
                  amounts.allSatisfy({ $0 >= 0 }) else { continue }
            var own = consumer.ints("pads") ?? Array(repeating: 0, count: 2 * spatial)
            guard own.count == 2 * spatial else { continue }
            var updated = consumer
            switch consumer.opType {
            case "Conv":
                guard value == 0 else { continue }
            case "AveragePool":
                guard value == 0 else { continue }
                if consumer.int("count_include_pad") != 1 {
                    guard own.allSatisfy({ $0 == 0 }) else { continue }
                    updated.setAttribute("count_include_pad", .int(1))
                }
            default:  // MaxPool
                guard value == -.infinity else { continue }
            }
            for k in 0..<spatial {
                own[k] += amounts[2 + k]
                own[spatial + k] += amounts[rank + 2 + k]
            }
            updated.setAttribute("pads", .ints(own))
            updated.inputs[0] = x
            graph.nodes[i] = updated
            graph.nodes.remove(at: p)
            i -= 1
            rewrites += 1
            index = GraphIndex(graph)
        }
        return PassResult(rewrites: rewrites)
    }

    /// (pads in ONNX [begins…, ends…] layout, pad value) when both are constants.
    func padding(of pad: Node, index: GraphIndex, opset: Int) -> ([Int64], Double)? {
        if opset < 11 {
            guard let pads = pad.ints("pads") ?? pad.ints("paddings") else { return nil }
            return (pads, Double(pad.float("value") ?? 0))
        }
        guard pad.input(3) == nil, let pads = pad.input(1).flatMap({ index.constant($0) })?.int64Values() else { return nil }
        var value = 0.0
        if let v = pad.input(2) {
            guard let c = index.scalarConstant(v) else { return nil }
            value = c
        }
        return (pads, value)
    }
}
