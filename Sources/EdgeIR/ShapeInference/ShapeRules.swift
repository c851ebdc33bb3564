/// The registry of operator shape rules: one dictionary per operator family, each in its own
/// file (`ElementwiseShapes.swift`, `ConvolutionShapes.swift`, …). Standard-domain ops are keyed
/// by op type, others by "domain:OpType".
enum ShapeRules {
    static let table: [String: ShapeRule] = {
        var table: [String: ShapeRule] = [:]
        let families: [[String: ShapeRule]] = [
            ElementwiseShapes.rules, ConvolutionShapes.rules, PoolingShapes.rules, MatrixShapes.rules,
            LayoutShapes.rules, IndexingShapes.rules, ReductionShapes.rules, NormalizationShapes.rules,
            ResizeShapes.rules, GeneratorShapes.rules, QuantizationShapes.rules, ControlFlowShapes.rules,
            RecurrentShapes.rules, AttentionShapes.rules, MiscShapes.rules,
        ]
        for family in families {
            table.merge(family) { first, _ in first }
        }
        return table
    }()

    /// Ops whose output differs from run to run: never folded or treated as static.
    static let nondeterministicOps: Set<String> = [
        "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
    ]
}

/// Helpers shared by the rule files.
extension ShapeContext {
    /// Output 0 has input `i`'s type.
    func sameAsInput(_ i: Int = 0) -> [TensorType?] { [type(i)] }

    /// A tensor type of `dtype` and `shape`, with the element type of input `like` when `dtype` is nil.
    func tensor(_ dtype: DType?, _ shape: [Dim]?, like i: Int = 0) -> TensorType? {
        guard let dt = dtype ?? self.dtype(i) else { return shape.map { TensorType(.undefined, $0) } }
        return TensorType(dt, shape)
    }
}
