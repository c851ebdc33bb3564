import EdgeIR

/// One operator implementation: the op type and domain it handles and the opset versions whose
/// semantics its factory implements (the factory reads `KernelBuildContext.opset` where the
/// semantics changed between versions, e.g. attributes that became inputs).
public struct OperatorSpec: Sendable {
    public typealias Factory = @Sendable (KernelBuildContext) throws -> any OpKernel

    public let opType: String
    /// "" for the default ONNX domain.
    public let domain: String
    public let versions: ClosedRange<Int>
    public let make: Factory

    public init(_ opType: String, domain: String = "", versions: ClosedRange<Int> = 1...OperatorRegistry.latestOpset,
                _ make: @escaping Factory) {
        self.opType = opType
        self.domain = domain
        self.versions = versions
        self.make = make
    }
}

/// All operators the engine implements. Each operator family lives in one file under
/// `Operators/` and exposes `static let operators: [OperatorSpec]`; adding a family means adding
/// it to `families` below.
public enum OperatorRegistry {
    /// The newest default-domain opset whose operator semantics this engine follows.
    public static let latestOpset = 28

    static let families: [[OperatorSpec]] = [
        ElementwiseOperators.operators,
        ActivationOperators.operators,
        LogicalOperators.operators,
        ConvOperators.operators,
        PoolOperators.operators,
        NormalizationOperators.operators,
        MatMulOperators.operators,
        SoftmaxOperators.operators,
        ShapeOperators.operators,
        IndexingOperators.operators,
        GeneratorOperators.operators,
        ResizeOperators.operators,
        ReduceOperators.operators,
        CastOperators.operators,
        QuantizationOperators.operators,
        IntegerOperators.operators,
        QLinearOperators.operators,
        QLinearBinaryOperators.operators,
        QLinearPoolOperators.operators,
        QLinearAveragePoolOperators.operators,
        QLinearConcatOperators.operators,
        QLinearLookupOperators.operators,
        QLinearSoftmaxOperators.operators,
        RecurrentOperators.operators,
        ControlFlowOperators.operators,
        SequenceOperators.operators,
        FusedOperators.operators,
        MatMulNBitsOperators.operators,
        DynamicQuantizeLSTMOperators.operators,
    ]

    static let table: [String: [OperatorSpec]] = {
        var table: [String: [OperatorSpec]] = [:]
        for family in families {
            for spec in family { table[key(spec.opType, spec.domain), default: []].append(spec) }
        }
        return table
    }()

    static func key(_ opType: String, _ domain: String) -> String {
        let d = domain == "ai.onnx" ? "" : domain
        return d.isEmpty ? opType : "\(d)::\(opType)"
    }

    /// The implementation of `opType` for `opset`, or nil when unsupported.
    public static func lookup(opType: String, domain: String, opset: Int) -> OperatorSpec? {
        table[key(opType, domain)]?.first { $0.versions.contains(opset) }
    }

    /// Every registered op type ("domain::Op" outside the default domain), sorted.
    public static var registeredOperators: [String] {
        table.keys.sorted()
    }

    /// Operators the engine claims as conformant: registered and passing every case of the ONNX
    /// node conformance suite that uses them. An operator that is registered but still has failing
    /// cases is listed in `unclaimedOperators` instead, with the reason.
    public static var claimedOperators: [String] {
        registeredOperators.filter { unclaimedOperators[$0] == nil }
    }

    /// Registered operators with known conformance gaps (op → reason). Kept empty where possible.
    public static let unclaimedOperators: [String: String] = [:]
}
