/// RNN, GRU, LSTM. With layout 0, X is [seq, batch, input] and
/// Y = [seq, directions, batch, hidden], Y_h = Y_c = [directions, batch, hidden];
/// layout 1 puts batch first: X [batch, seq, input], Y [batch, seq, directions, hidden],
/// Y_h [batch, directions, hidden].
enum RecurrentShapes {
    static let rules: [String: ShapeRule] = [
        "RNN": { c in recurrent(c) },
        "GRU": { c in recurrent(c) },
        "LSTM": { c in recurrent(c) },
        // ONNX Runtime's int8 LSTM: R is stored transposed, [directions, hidden, 4·hidden].
        "com.microsoft:DynamicQuantizeLSTM": { c in recurrent(c, hiddenAxisOfR: 1) },
    ]

    static func recurrent(_ c: ShapeContext, hiddenAxisOfR: Int = 2) -> [TensorType?] {
        let directions: Dim = .fixed(c.string("direction", default: "forward") == "bidirectional" ? 2 : 1)
        let r = c.shape(2)
        let hidden: Dim = c.node.int("hidden_size").map { .fixed(Int($0)) } ?? (r.flatMap { $0.count == 3 ? $0[hiddenAxisOfR] : nil } ?? .unknown)
        let batchFirst = c.int("layout", default: 0) == 1
        guard let xs = c.shape(0), xs.count == 3 else {
            return Array(repeating: c.tensor(nil, nil), count: c.outputCount)
        }
        let seq = batchFirst ? xs[1] : xs[0]
        let batch = batchFirst ? xs[0] : xs[1]
        let y: [Dim] = batchFirst ? [batch, seq, directions, hidden] : [seq, directions, batch, hidden]
        let state: [Dim] = batchFirst ? [batch, directions, hidden] : [directions, batch, hidden]
        return [c.tensor(nil, y), c.tensor(nil, state), c.tensor(nil, state)]
    }
}
