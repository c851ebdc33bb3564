import EdgeIR
import EdgeKernels
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A model compiled for execution on the CPU.
///
/// ```swift
/// let session = try Session(model: model, options: SessionOptions(threads: 2))
/// let outputs = try session.run(["input": image])   // [name: Tensor]; order in `outputNames`
/// ```
/// Compiling validates that every operator (including those in If/Loop bodies) is implemented at
/// the model's opset, orders the nodes, builds each node's kernel once (attributes parsed, constant
/// weights packed) and folds constant subexpressions. The first run for a set of input shapes
/// plans an activation arena that later runs with those shapes reuse.
///
/// A session runs one request at a time (concurrent `run` calls are serialized).
///
/// Intermediate values can be watched without making them graph outputs: name them in
/// `SessionOptions.observedTensors` and run with `run(_:observing:)`.
public final class Session: @unchecked Sendable {
    // @unchecked: the mutable plan cache is guarded by `lock`; everything else is immutable.
    public let options: SessionOptions
    public let inputs: [ValueInfo]
    public let outputNames: [String]
    let graph: CompiledGraph
    let pool: WorkerPool
    private let lock = NSLock()
    private(set) var plans: [String: (plan: BufferPlan, arena: Arena)] = [:]
    private var planOrder: [String] = []

    /// Pass the model with `consume` (`Session(model: consume model)`) when nothing else keeps it:
    /// the session then holds the only references to the initializers and releases each float
    /// weight as soon as it is packed, so peak memory stays near one copy of the weights.
    public init(model: consuming Model, options: SessionOptions = SessionOptions()) throws {
        _ = Session.fixedMmapThreshold
        // QDQ lowering (engine-quant): DQ → Conv/MatMul/Gemm → Q runs as integer kernels on a private copy.
        var model = model
        // Calls to model-local functions run as their bodies (attribute references bound per call).
        if !model.functions.isEmpty { model = try model.inliningLocalFunctions() }
        if options.integerQDQ {
            // Observed values survive the lowering as graph outputs do: it fuses only values that
            // nothing but the fused Q reads and that are not graph outputs.
            let outputs = model.graph.outputs
            let declared = Set(outputs.map(\.name))
            model.graph.outputs += options.observedTensors.sorted().filter { !declared.contains($0) }.map { ValueInfo(name: $0, type: nil) }
            model = QDQLowering.lower(model).model
            model.graph.outputs = outputs
        }
        var opsets: [String: Int] = [:]
        for entry in model.opsetImports {
            opsets[entry.domain == "ai.onnx" ? "" : entry.domain] = Int(entry.version)
        }
        if opsets[""] == nil { opsets[""] = 1 }
        try CompiledGraph.validateSupport(model.graph, opsets: opsets)
        self.options = options
        self.inputs = model.graph.runtimeInputs
        // Move the initializers out of the model so that the compiled graph holds them alone.
        let initializers = model.graph.initializers.map { ($0.key, $0.value) }
        model.graph.initializers = [:]
        self.graph = try CompiledGraph(graph: model.graph, initializers: initializers, opsets: opsets, options: options, outerScope: nil)
        self.outputNames = model.graph.outputs.map(\.name)
        self.pool = WorkerPool(threads: options.threads)
    }

    /// glibc raises its mmap threshold each time a large block is freed (up to 32 MB), after which
    /// weight-sized blocks come from the heap, and freeing a float weight once it is packed leaves
    /// a hole the next, differently sized packing may not fit: ResNet-50 peaked at 195 MB instead
    /// of 143 MB. A fixed 128 KB threshold (the default starting value) keeps large blocks mmapped,
    /// so a freed block returns to the system at once. Set once per process.
    static let fixedMmapThreshold: Void = {
        #if canImport(Glibc)
        // mallopt is declared in <malloc.h>, which the Glibc module does not export.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        let mmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
            _ = unsafeBitCast(symbol, to: Mallopt.self)(mmapThreshold, 128 * 1024)
        }
        #endif
    }()

    /// Compiling, then the first run of each input signature (which records the buffer plan and
    /// allocates each tensor on its own), free many small blocks (float weights below the mmap
    /// threshold once packed, protobuf fields, small activations) amid the small packed weights
    /// kept on the heap, and glibc returns heap pages only from the top, so their pages stayed
    /// resident for the session's life: 2.4 MB of ShuffleNet's 39.6 MB (26.6 MB process
    /// baseline, 8.2 MB of held weights and arena), 4 MB of ResNet-50's, measured by calling
    /// malloc_trim in a running bench. malloc_trim(0) gives every whole free page back
    /// (MADV_DONTNEED); it runs once a new plan is made, before its arena is first touched.
    /// Peak RSS (`bench --threads 1`, median of 5 processes): ShuffleNet 38.6 → 37.2 MiB,
    /// SqueezeNet 39.3 → 39.0, MobileNetV2 48.8 → 48.7, but ResNet-50 144.5 → 145.2 and
    /// digits_cnn 26.2 → 27.0: later runs re-fault some trimmed pages, and the consolidation
    /// malloc_trim does first seems to spread later small allocations over more pages.
    static func returnFreeHeapPages() {
        #if canImport(Glibc)
        // malloc_trim is declared in <malloc.h>, which the Glibc module does not export.
        typealias MallocTrim = @convention(c) (Int) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") {
            _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
        }
        #endif
    }

    /// Bytes of constant data (packed weights, folded constants) the compiled plan holds.
    public var heldWeightBytes: Int { graph.heldWeightBytes }

    /// Bytes of the activation arena planned for the most recent input shapes (0 before a run).
    public var plannedArenaBytes: Int {
        lock.lock()
        defer { lock.unlock() }
        return planOrder.last.flatMap { plans[$0]?.plan.arenaBytes } ?? 0
    }

    /// Runs the model on tensor feeds and returns every graph output by name (their order is
    /// `outputNames`). Outputs that are sequences or optionals are rejected here; use `runValues`.
    public func run(_ feeds: [String: Tensor]) throws -> [String: Tensor] {
        try tensors(runValues(feeds.mapValues { Value.tensor($0) }))
    }

    /// Runs the model as `run(_:)` does and, as the run goes, calls `observer` with each value
    /// named in `options.observedTensors`: inputs and constants first, then each node output right
    /// after its node ran, before any later node runs (each name once per run; a value that is not
    /// a tensor, or an optional output the node did not produce, is not reported).
    ///
    /// The tensor is a borrowed view of the activation arena, valid only during the call: the
    /// next node may reuse its buffer. Copy what must outlive the call (`tensor.scalars()`), and
    /// never keep the tensor itself. The observer runs on the calling thread while the session
    /// is locked, so it must not run this session again; an error it throws ends the run and
    /// propagates. Observing changes no output: observed values are computed exactly as when
    /// they are graph outputs.
    public func run(_ feeds: [String: Tensor], observing observer: (_ name: String, _ tensor: Tensor) throws -> Void) throws -> [String: Tensor] {
        try tensors(runValues(feeds.mapValues { Value.tensor($0) }, observing: observer))
    }

    /// `runValues(_:)` with an observer (see `run(_:observing:)`).
    public func runValues(_ feeds: [String: Value], observing observer: (_ name: String, _ tensor: Tensor) throws -> Void) throws -> [Value] {
        // The observer is called only during `execute`, on this thread, so it need not escape.
        try withoutActuallyEscaping(observer) { try execute(feeds, observer: $0) }
    }

    private func tensors(_ values: [Value]) throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for (name, value) in zip(outputNames, values) {
            guard let t = value.tensor else {
                throw EdgeError.badInput("output '\(name)' is a \(value.kindDescription); use runValues")
            }
            result[name] = t
        }
        return result
    }

    /// Runs the model on general values; outputs in `outputNames` order.
    public func runValues(_ feeds: [String: Value]) throws -> [Value] {
        try execute(feeds, observer: nil)
    }

    private func execute(_ feeds: [String: Value], observer: ((String, Tensor) throws -> Void)?) throws -> [Value] {
        let ordered = try checkFeeds(feeds)
        lock.lock()
        defer { lock.unlock() }
        let signature = ordered.map { value -> String in
            switch value {
            case .tensor(let t)?: return "\(t.dtype.rawValue):\(t.shape)"
            default: return "v"
            }
        }.joined(separator: ";")
        let allocator: BufferAllocator?
        if !options.planBuffers {
            allocator = nil
        } else if let planned = plans[signature] {
            allocator = BufferAllocator(plan: planned.plan, arena: planned.arena)
        } else {
            allocator = BufferAllocator(plan: nil, arena: nil)
        }
        let context = ExecutionContext(options: options, pool: pool, allocator: allocator)
        let outputs = try graph.execute(inputs: ordered, parent: nil, context: context, observer: observer)
        if Profiler.enabled { Profiler.report() }
        if let allocator, allocator.isRecording {
            let plan = allocator.makePlan()
            plans[signature] = (plan, Arena(plan: plan))
            planOrder.append(signature)
            if planOrder.count > 4 { plans[planOrder.removeFirst()] = nil }
            // Kernel scratch now lives in the arena; the recording run's small tensors are freed
            // by now, as are compile's leftovers.
            Workspace.releaseCached()
            Session.returnFreeHeapPages()
        }
        return outputs.map(Session.detachedFromArena)
    }

    /// Graph outputs must outlive the next run, which reuses the arena.
    static func detachedFromArena(_ value: Value) -> Value {
        switch value {
        case .tensor(let t):
            return .tensor(t.detachedFromArena())
        case .sequence(let ts, let e):
            return .sequence(ts.map { $0.detachedFromArena() }, elementType: e)
        case .optional(let v):
            return .optional(v.map(detachedFromArena))
        }
    }

    /// Feeds in graph-input order, each checked against its declared type.
    func checkFeeds(_ feeds: [String: Value]) throws -> [Value?] {
        let declared = Dictionary(inputs.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for name in feeds.keys where declared[name] == nil {
            let known = inputs.map(\.name).joined(separator: ", ")
            throw EdgeError.badInput("'\(name)' is not an input of the model (inputs: \(known))")
        }
        return try graph.inputs.map { name, _ -> Value? in
            guard let value = feeds[name] else {
                throw EdgeError.badInput("input '\(name)' was not given")
            }
            if case .tensor(let t) = value, let type = declared[name]?.tensorType {
                try Session.check(t, against: type, input: name)
            }
            return value
        }
    }

    static func check(_ tensor: Tensor, against type: TensorType, input name: String) throws {
        if type.elementType != .undefined, tensor.dtype != type.elementType {
            throw EdgeError.badInput("input '\(name)' must be \(type.elementType), got \(tensor.dtype)")
        }
        guard let dims = type.shape else { return }
        guard dims.count == tensor.rank else {
            throw EdgeError.badInput("input '\(name)' must have rank \(dims.count) \(type), got shape \(tensor.shape)")
        }
        for (axis, dim) in dims.enumerated() {
            if let fixed = dim.value, fixed != tensor.shape[axis] {
                throw EdgeError.badInput("input '\(name)' dimension \(axis) must be \(fixed) \(type), got shape \(tensor.shape)")
            }
        }
        if tensor.dtype != .string {
            let expected = tensor.dtype.byteCount(elements: tensor.elementCount)
            guard tensor.byteCount >= expected else {
                throw EdgeError.badInput("input '\(name)' holds \(tensor.byteCount) bytes, shape \(tensor.shape) needs \(expected)")
            }
        }
    }
}

extension Tensor {
    /// This tensor, copied out of the session's arena when it lives there, so it outlives the
    /// run (or the observer call) that produced it. Tensors with their own storage are returned
    /// as they are.
    public func detachedFromArena() -> Tensor {
        guard storage is ArenaStorage else { return self }
        return Tensor(dtype: dtype, shape: shape, storage: OwnedStorage(copying: storage.bytes))
    }
}
