import EdgeIR
import EdgeTransforms
import Foundation

/// Dynamic quantization of the recurrent operators.
///
/// **LSTM → com.microsoft::DynamicQuantizeLSTM** (what ONNX Runtime's quantize_dynamic writes):
///
///     Before:  LSTM(X, W, R, B, sequence_lens, initial_h, initial_c, P)
///     After:   DynamicQuantizeLSTM(X, W_q, R_q, B, sequence_lens, initial_h, initial_c, P,
///                                  W_scale, W_zero_point, R_scale, R_zero_point)
///
/// W [D, 4H, I] and R [D, 4H, H] are quantized symmetrically to int8 (q = clamp(roundHalfEven(w/s),
/// −127, 127), s = max|w|/127, zero point 0) with one scale per gate row and direction ([D, 4H],
/// per channel) or one per direction ([D]), then stored transposed as the kernel reads them,
/// W_q [D, I, 4H] and R_q [D, H, 4H], so each gate row becomes a column of the K×N product
/// X·W_qᵀ. Attributes are kept except `layout`, which the contrib op does not have (an LSTM with
/// layout = 1 is left to the weight-only form). X and H are quantized at run time, per direction
/// and per step, by the kernel.
///
/// **GRU and RNN (and LSTM with `--lstm-format dq`) → int8 weights behind DequantizeLinear.**
/// Neither ONNX nor ONNX Runtime has an integer GRU or RNN, so the honest best is weight-only:
///
///     W_q (int8) ─ DequantizeLinear(s, axis 1) ─ W ─┐
///     R_q (int8) ─ DequantizeLinear(s, axis 1) ─ R ─┴─ GRU (float, unchanged)
///
/// The file stores W and R in a quarter of the bytes; compute stays float (a runtime may fold the
/// DequantizeLinear back into float weights when it loads the model). Per channel means one
/// scale per gate row: for one direction DequantizeLinear's axis 1 does it directly; for two the
/// weight is stored as [2·G, K] with axis 0 and reshaped back to [2, G, K].
extension DynamicQuantizer {
    /// Opset for per-axis DequantizeLinear.
    static let perAxisOpset = 13

    /// The DynamicQuantizeLSTM node replacing `node` (W, R: the LSTM's float weights).
    static func dynamicQuantizeLSTM(_ node: Node, w: Tensor, r: Tensor, perChannel: Bool,
                                    graph g: inout Graph, context: PassContext) throws -> Node {
        let base = node.name.isEmpty ? node.outputs[0] : node.name
        let wNames = try transposedInt8(w, name: node.inputs[1], perChannel: perChannel, graph: &g, context: context)
        let rNames = try transposedInt8(r, name: node.inputs[2], perChannel: perChannel, graph: &g, context: context)
        var inputs = [node.inputs[0], wNames.q, rNames.q]
        for i in 3...7 { inputs.append(node.input(i) ?? "") }
        inputs += [wNames.scale, wNames.zero, rNames.scale, rNames.zero]
        return Node(name: context.freshName(base + "_DynamicQuantizeLSTM"), opType: "DynamicQuantizeLSTM", domain: microsoftDomain,
                    inputs: inputs, outputs: node.outputs, attributes: node.attributes.filter { $0.name != "layout" })
    }

    static let microsoftDomain = "com.microsoft"

    /// w [D, G, K] float → int8 [D, K, G] (transposed), scale and zero point [D, G] or [D].
    private static func transposedInt8(_ w: Tensor, name: String, perChannel: Bool, graph g: inout Graph,
                                       context: PassContext) throws -> (q: String, scale: String, zero: String) {
        let (d, rows, k) = (w.shape[0], w.shape[1], w.shape[2])
        // Rows of the flattened [D·G, K] view (per channel) or directions of [D, G·K] (per direction).
        let flat = Tensor(shape: perChannel ? [d * rows, k] : [d, rows * k], scalars: w.scalars(as: Float.self))
        let quantized = try QuantizedWeight(flat, axis: 0)
        let v = quantized.values.scalars(as: Int8.self)
        var t = [Int8](repeating: 0, count: v.count)
        for dd in 0..<d { for row in 0..<rows { for kk in 0..<k {
            t[(dd * k + kk) * rows + row] = v[(dd * rows + row) * k + kk]
        } } }
        let scaleShape = perChannel ? [d, rows] : [d]
        let q = g.addInitializer(Tensor(shape: [d, k, rows], scalars: t), base: name + "_quantized", context: context)
        let s = g.addInitializer(Tensor(shape: scaleShape, scalars: quantized.scales), base: name + "_scale", context: context)
        let z = g.addInitializer(Tensor(shape: scaleShape, scalars: [Int8](repeating: 0, count: quantized.scales.count)),
                                 base: name + "_zero_point", context: context)
        return (q, s, z)
    }

    /// Int8 copies of W and R (inputs 1 and 2) behind DequantizeLinear; returns the nodes to put
    /// before `node` and the node reading the dequantized weights.
    static func weightOnlyRecurrent(_ node: Node, w: Tensor, r: Tensor, perChannel: Bool,
                                    graph g: inout Graph, context: PassContext) throws -> [Node] {
        var nodes: [Node] = []
        var rewritten = node
        for (index, weight) in [(1, w), (2, r)] {
            let name = node.inputs[index]
            let (d, rows, k) = (weight.shape[0], weight.shape[1], weight.shape[2])
            let dequantized = context.freshName(name + "_dequantized")
            if !perChannel {
                let quantized = try QuantizedWeight(weight, axis: nil)
                let q = g.addInitializer(quantized.values, base: name + "_quantized", context: context)
                let s = g.addInitializer(Tensor(shape: [], scalars: [quantized.scales[0]]), base: name + "_scale", context: context)
                nodes.append(Node(name: context.freshName(name + "_DequantizeLinear"), opType: "DequantizeLinear",
                                  inputs: [q, s], outputs: [dequantized]))
            } else if d == 1 {
                let quantized = try QuantizedWeight(weight, axis: 1)
                let q = g.addInitializer(quantized.values, base: name + "_quantized", context: context)
                let s = g.addInitializer(Tensor(shape: [rows], scalars: quantized.scales), base: name + "_scale", context: context)
                nodes.append(Node(name: context.freshName(name + "_DequantizeLinear"), opType: "DequantizeLinear",
                                  inputs: [q, s], outputs: [dequantized], attributes: [Attribute("axis", .int(1))]))
            } else {
                let flat = Tensor(shape: [d * rows, k], scalars: weight.scalars(as: Float.self))
                let quantized = try QuantizedWeight(flat, axis: 0)
                let q = g.addInitializer(quantized.values, base: name + "_quantized", context: context)
                let s = g.addInitializer(Tensor(shape: [d * rows], scalars: quantized.scales), base: name + "_scale", context: context)
                let shape = g.addInitializer(Tensor(shape: [3], scalars: [Int64(d), Int64(rows), Int64(k)]), base: name + "_shape", context: context)
                let flatName = context.freshName(name + "_dequantized_rows")
                nodes.append(Node(name: context.freshName(name + "_DequantizeLinear"), opType: "DequantizeLinear",
                                  inputs: [q, s], outputs: [flatName], attributes: [Attribute("axis", .int(0))]))
                nodes.append(Node(name: context.freshName(name + "_Reshape"), opType: "Reshape", inputs: [flatName, shape], outputs: [dequantized]))
            }
            rewritten.inputs[index] = dequantized
        }
        return nodes + [rewritten]
    }

    /// Why a recurrent node cannot be quantized, or nil (W and R constant float 3-D, shapes
    /// consistent with the gate count).
    static func recurrentIneligibility(_ node: Node, w: Tensor?, r: Tensor?) -> String? {
        guard let w, let r else { return "W or R is not a constant" }
        guard w.dtype == .float, r.dtype == .float, w.rank == 3, r.rank == 3 else {
            return "W \(w.dtype) \(w.shape) / R \(r.dtype) \(r.shape): 3-D float32 expected"
        }
        let gates = node.opType == "LSTM" ? 4 : node.opType == "GRU" ? 3 : 1
        guard w.shape[0] == r.shape[0], w.shape[1] == r.shape[1], w.shape[1] == gates * r.shape[2] else {
            return "W \(w.shape) / R \(r.shape) do not describe \(gates) gate(s)"
        }
        return nil
    }
}
