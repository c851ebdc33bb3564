import EdgeIR

/// One graph rewrite. A pass edits a graph in place and says how many rewrites fired; it must
/// leave the graph valid (every read value defined, nodes topologically ordered) and must not
/// change what the graph computes beyond floating-point reassociation (the pipeline's check
/// proves that by running the engine, and rolls a pass back when it does not hold).
///
/// Passes are small value types, one per file under `Passes/`, each opening with a Before/After
/// picture and the maths it relies on.
public protocol GraphPass: Sendable {
    /// Stable name used on the command line (`--passes fold-batchnorm-into-conv,...`) and in reports.
    static var name: String { get }
    /// One line for `--help` and the report.
    static var summary: String { get }
    /// Whether the pass may also run inside If/Loop/Scan bodies. A pass that only needs local
    /// facts (producers, consumers, constants of the graph it edits) is safe there.
    static var appliesToSubgraphs: Bool { get }
    /// Whether the pass may also run inside model-local function bodies (see `FunctionBody`):
    /// by default, exactly when it may run inside subgraphs (both are graphs with an interface the
    /// pass must keep).
    static var appliesToFunctions: Bool { get }
    /// Whether the pass may legitimately make the model's weights larger (only an explicitly
    /// requested conversion does); the pipeline rolls back any other pass that grows the model.
    static var mayGrowModel: Bool { get }
    func run(_ graph: inout Graph, context: PassContext) throws -> PassResult
}

extension GraphPass {
    public static var appliesToSubgraphs: Bool { true }
    public static var appliesToFunctions: Bool { appliesToSubgraphs }
    public static var mayGrowModel: Bool { false }
    public var name: String { Self.name }
}

/// What one run of a pass did.
public struct PassResult: Sendable, Equatable {
    /// Rewrites that fired (one per matched pattern instance, node removed or tensor folded).
    public var rewrites: Int
    public init(rewrites: Int = 0) { self.rewrites = rewrites }
    public static var unchanged: PassResult { PassResult() }
    public var changed: Bool { rewrites > 0 }
    public static func + (a: PassResult, b: PassResult) -> PassResult { PassResult(rewrites: a.rewrites + b.rewrites) }
}

/// Facts and services a pass may use: the opset of the model, domains a rewrite introduces, fresh
/// names, and limits. A class so that nested (subgraph) runs share the name counter and domain set.
public final class PassContext: @unchecked Sendable {
    // @unchecked: a context belongs to one pipeline run on one thread.
    /// The model's default-domain opset (after any conversion already applied).
    public var opset: Int
    /// Every opset import of the model; passes that emit a new domain add it here.
    public var opsetImports: [OpsetImport]
    /// Bytes a folded constant may exceed the stored weights it was computed from by (see
    /// `FoldConstants`): enough for shape vectors, far too little for a generated weight, so
    /// folding never makes the model grow (onnxsim's 10× bug).
    public var foldGrowthLimitBytes: Int
    /// Depth of subgraph nesting being processed (0 = main graph).
    public internal(set) var depth: Int = 0
    /// Names already used anywhere in the model, so fresh names never collide.
    private var names: NameAllocator

    public init(model: Model, foldGrowthLimitBytes: Int = 64) {
        self.opset = Int(model.onnxOpsetVersion ?? 1)
        self.opsetImports = model.opsetImports
        self.foldGrowthLimitBytes = foldGrowthLimitBytes
        self.names = NameAllocator(used: model.graph.allValueNames())
    }

    /// A value or node name not used anywhere in the model, derived from `base`.
    public func freshName(_ base: String) -> String { names.fresh(base) }

    /// Records a name a pass introduced so later fresh names avoid it.
    public func reserve(_ name: String) { names.reserve(name) }

    /// The version a domain is imported at, if it is.
    public func opsetVersion(domain: String) -> Int? {
        if domain.isEmpty || domain == "ai.onnx" { return opset }
        return opsetImports.first { $0.domain == domain }.map { Int($0.version) }
    }

    /// Makes sure `domain` is imported (at least at `version`).
    public func requireDomain(_ domain: String, version: Int64) {
        if let i = opsetImports.firstIndex(where: { $0.domain == domain }) {
            opsetImports[i].version = max(opsetImports[i].version, version)
        } else {
            opsetImports.append(OpsetImport(domain: domain, version: version))
        }
    }
}
