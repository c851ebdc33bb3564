/// Attention (opset 23) and the other transformer-era ops with shape-preserving outputs.
///
/// Attention, 4-D form: Q [B, Hq, Sq, D], K [B, Hkv, Skv, D], V [B, Hkv, Skv, Dv], optional
/// past_key/past_value [B, Hkv, Spast, ·]:
///   Y [B, Hq, Sq, Dv]; present_key [B, Hkv, Spast+Skv, D]; present_value [B, Hkv, Spast+Skv, Dv];
///   qk_matmul_output [B, Hq, Sq, Spast+Skv].
/// 3-D form: Q [B, Sq, Hq·D], K [B, Skv, Hkv·D], V [B, Skv, Hkv·Dv] with `q_num_heads` and
/// `kv_num_heads`: Y [B, Sq, Hq·Dv], present and qk outputs as in the 4-D form.
enum AttentionShapes {
    static let rules: [String: ShapeRule] = [
        "Attention": { c in try attention(c) },
        "RotaryEmbedding": { c in [c.type(0)] },
        "com.microsoft:RotaryEmbedding": { c in [c.type(0)] },
    ]

    static func attention(_ c: ShapeContext) throws -> [TensorType?] {
        guard let q = c.shape(0), let k = c.shape(1), let v = c.shape(2), q.count == k.count, k.count == v.count,
              q.count == 3 || q.count == 4 else {
            return Array(repeating: c.tensor(nil, nil), count: c.outputCount)
        }
        let past = c.shape(4)
        func total(_ s: Dim) -> Dim {
            guard let past else { return s }
            return past.count == 4 ? past[2].combined(with: s) { $0 + $1 } : .unknown
        }
        if q.count == 4 {
            let skv = total(k[2])
            return [c.tensor(nil, [q[0], q[1], q[2], v[3]]),
                    c.tensor(nil, [k[0], k[1], skv, k[3]], like: 1),
                    c.tensor(nil, [v[0], v[1], skv, v[3]], like: 2),
                    c.tensor(nil, [q[0], q[1], q[2], skv])]
        }
        guard let hq = c.node.int("q_num_heads"), let hkv = c.node.int("kv_num_heads"), hq > 0, hkv > 0 else {
            throw c.error("3-D Attention needs q_num_heads and kv_num_heads")
        }
        let head: (Dim, Int64) -> Dim = { d, h in d.combined(with: .fixed(Int(h))) { $0 % $1 == 0 ? $0 / $1 : nil } }
        let dv = head(v[2], hkv)
        let skv = total(k[1])
        let yHidden = dv.combined(with: .fixed(Int(hq))) { $0 * $1 }
        return [c.tensor(nil, [q[0], q[1], yHidden]),
                c.tensor(nil, [k[0], .fixed(Int(hkv)), skv, head(k[2], hkv)], like: 1),
                c.tensor(nil, [v[0], .fixed(Int(hkv)), skv, dv], like: 2),
                c.tensor(nil, [q[0], .fixed(Int(hq)), q[1], skv])]
    }
}
