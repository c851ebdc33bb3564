import EdgeIR
import EdgeKernels

/// A compiled operator instance. A session creates one per node when it compiles the graph:
/// attributes are parsed and constant weights are packed then, so `run` does only the arithmetic.
/// Kernels are immutable after creation and may be run from any thread (hence `Sendable`).
///
/// `inputs` is aligned with `node.inputs` (nil for an omitted optional input); the result must be
/// aligned with `node.outputs` (nil for an output the kernel does not produce). Kernels must never
/// write into an input: inputs may be weights, caller feeds, or buffers other nodes still read.
public protocol OpKernel: AnyObject, Sendable {
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value?]
}

/// A kernel that takes some constant inputs (weights) into its own prepared form, so the session
/// need not keep the original tensors. The session calls `bake()` once after compile-time fusion
/// (which may still rewrite the weights) and before any run; from then on the inputs listed in
/// `bakedInputs` are not passed to `run` (they arrive as nil), and a constant no other step reads
/// is released.
protocol BakesConstants: OpKernel {
    /// Input indices whose constant values the kernel holds itself.
    var bakedInputs: [Int] { get }
    /// Packs what the kernel holds (in the forms `options` allow) and drops the float originals.
    func bake(_ options: SessionOptions)
    /// Bytes of constant data the kernel holds (packed weights, biases).
    var bakedBytes: Int { get }
}

/// Most operators consume and produce tensors only; they implement `compute` and get `run` free.
public protocol TensorKernel: OpKernel {
    func compute(_ inputs: [Tensor?], _ context: ExecutionContext) throws -> [Tensor]
}

extension TensorKernel {
    public func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value?] {
        let tensors = try inputs.enumerated().map { (index, value) -> Tensor? in
            guard let value else { return nil }
            guard let t = value.tensor else {
                throw EdgeError.badInput("\(context.nodeDescription): input \(index) is a \(value.kindDescription), expected a tensor")
            }
            return t
        }
        return try compute(tensors, context).map { .tensor($0) }
    }
}

/// A tensor kernel written as a closure over its parsed attributes; the common case:
/// `return ClosureKernel { inputs, ctx in ... }`.
public final class ClosureKernel: TensorKernel {
    public typealias Body = @Sendable ([Tensor?], ExecutionContext) throws -> [Tensor]
    let body: Body
    public init(_ body: @escaping Body) { self.body = body }
    public func compute(_ inputs: [Tensor?], _ context: ExecutionContext) throws -> [Tensor] {
        try body(inputs, context)
    }
}

/// A kernel over general values (sequences, optionals), written as a closure.
public final class ValueClosureKernel: OpKernel {
    public typealias Body = @Sendable ([Value?], ExecutionContext) throws -> [Value?]
    let body: Body
    public init(_ body: @escaping Body) { self.body = body }
    public func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value?] {
        try body(inputs, context)
    }
}

/// What an operator factory sees when a session compiles one node.
public struct KernelBuildContext {
    public let node: Node
    /// The model's opset version for the node's domain.
    public let opset: Int
    public let options: SessionOptions
    /// Values known at compile time (initializers, Constant outputs, folded constants), by name.
    let constantLookup: (String) -> Tensor?
    /// Compiles a subgraph (If branch, Loop body) in the scope of the graph being compiled.
    let subgraphCompiler: (Graph, String) throws -> CompiledGraph

    /// The input at `index` when its value is known at compile time (a weight), else nil.
    public func constantInput(_ index: Int) -> Tensor? {
        guard let name = node.input(index) else { return nil }
        return constantLookup(name)
    }

    public var inputCount: Int { node.inputs.count }
    public func hasInput(_ index: Int) -> Bool { node.input(index) != nil }

    public func compileSubgraph(attribute: String) throws -> CompiledGraph {
        guard let graph = node.graph(attribute) else {
            throw EdgeError.badInput("node '\(node.displayName)' (\(node.opType)): missing graph attribute '\(attribute)'")
        }
        return try subgraphCompiler(graph, attribute)
    }

    /// A message prefix naming the node: "node 'conv1' (Conv)".
    public var nodeDescription: String { "node '\(node.displayName)' (\(node.opType))" }

    public func error(_ message: String) -> EdgeError {
        EdgeError.badInput("\(nodeDescription): \(message)")
    }

    // MARK: attributes with defaults

    public func int(_ name: String, _ fallback: Int) -> Int { node.int(name).map { Int($0) } ?? fallback }
    public func int(_ name: String) -> Int? { node.int(name).map { Int($0) } }
    public func float(_ name: String, _ fallback: Float) -> Float { node.float(name) ?? fallback }
    public func ints(_ name: String) -> [Int]? { node.ints(name)?.map { Int($0) } }
    public func floats(_ name: String) -> [Float]? { node.floats(name) }
    public func string(_ name: String, _ fallback: String) -> String { node.string(name) ?? fallback }
    public func string(_ name: String) -> String? { node.string(name) }
}

/// Per-run services for kernels: output allocation (from the planned arena when one exists),
/// parallel loops, and the enclosing scope for subgraphs.
public final class ExecutionContext: @unchecked Sendable {
    // @unchecked: a context is confined to the thread running one session `run`; kernels may
    // only call `parallelFor` from that thread, and its workers touch only their own ranges.
    public let options: SessionOptions
    let pool: WorkerPool
    let allocator: BufferAllocator?
    /// The environment of the graph being executed (for subgraph outer-scope lookups).
    var environment: Environment?
    /// The step being executed, for messages and allocation planning.
    var currentStep: Int = 0
    var allocationSequence: Int = 0
    public internal(set) var nodeDescription: String = ""
    /// Storage objects allocated during the current step (for fp16 rounding of fresh outputs).
    var freshStorages: Set<ObjectIdentifier> = []

    /// Whether unplanned buffers of `PageStorage.minimumBytes` or more get their own pages: in
    /// the recording run and in compile's constant folding (see PageStorage).
    let pageBacked: Bool

    init(options: SessionOptions, pool: WorkerPool, allocator: BufferAllocator?, folding: Bool = false) {
        self.options = options
        self.pool = pool
        self.allocator = allocator
        pageBacked = folding || allocator?.isRecording == true
    }

    public var threads: Int { options.threads }

    /// The kernels' thread pool for EdgeKernels calls (nil: run on the calling thread).
    public var kernelPool: ThreadPool? { pool.kernelPool }

    /// Largest tensor a kernel may allocate (elements), so corrupted shapes fail cleanly instead
    /// of exhausting memory.
    public static let maxElements = 1 << 34

    /// A tensor for a kernel to fill. Contents are unspecified unless `zeroed`.
    public func allocate(_ dtype: DType, _ shape: [Int], zeroed: Bool = false) throws -> Tensor {
        var count = 1
        for d in shape {
            guard d >= 0 else { throw EdgeError.badInput("\(nodeDescription): negative dimension in output shape \(shape)") }
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, p <= ExecutionContext.maxElements else {
                throw EdgeError.badInput("\(nodeDescription): output shape \(shape) is too large")
            }
            count = p
        }
        if dtype == .string {
            return Tensor(strings: Array(repeating: [], count: count), shape: shape)
        }
        let bytes = dtype.byteCount(elements: count)
        let sequence = allocationSequence
        allocationSequence += 1
        let storage: any TensorStorage
        if let allocator, let planned = allocator.storage(step: currentStep, sequence: sequence, bytes: bytes, zeroed: zeroed) {
            storage = planned
        } else {
            // Zero-filled either way.
            let paged = pageBacked && bytes >= PageStorage.minimumBytes ? PageStorage(byteCount: bytes) : nil
            let owned: any TensorStorage = paged ?? OwnedStorage(byteCount: bytes)
            allocator?.record(step: currentStep, sequence: sequence, bytes: bytes, storage: owned)
            storage = owned
        }
        freshStorages.insert(ObjectIdentifier(storage))
        return Tensor(dtype: dtype, shape: shape, storage: storage)
    }

    /// Runs `body` over `0..<count` split into contiguous ranges across the session's threads.
    /// `grain` is the smallest range worth handing to a thread.
    public func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        pool.parallelFor(count, grain: grain, body)
    }

    /// Runs a compiled subgraph with the given inputs in the current scope; returns its outputs.
    public func runSubgraph(_ graph: CompiledGraph, inputs: [Value?]) throws -> [Value] {
        let child = ExecutionContext(options: options, pool: pool, allocator: nil)
        return try graph.execute(inputs: inputs, parent: environment, context: child)
    }
}

extension Tensor {
    /// Typed read pointer to the elements. Valid while the tensor (its storage) is alive.
    @inline(__always)
    public func pointer<T>(_: T.Type) -> UnsafePointer<T> {
        storage.baseAddress.assumingMemoryBound(to: T.self)
    }

    /// Typed write pointer. Only for tensors a kernel has just allocated with
    /// `ExecutionContext.allocate` (they are not shared yet).
    @inline(__always)
    public func mutablePointer<T>(_: T.Type) -> UnsafeMutablePointer<T> {
        UnsafeMutablePointer(mutating: storage.baseAddress.assumingMemoryBound(to: T.self))
    }

    public var rawPointer: UnsafeRawPointer { storage.baseAddress }
    public var mutableRawPointer: UnsafeMutableRawPointer { UnsafeMutableRawPointer(mutating: storage.baseAddress) }
}

extension Array where Element == Tensor? {
    /// The input at `index`, or a bad-input error naming the node when it is absent.
    public func required(_ index: Int, _ context: ExecutionContext) throws -> Tensor {
        guard index < count, let t = self[index] else {
            throw EdgeError.badInput("\(context.nodeDescription): required input \(index) is missing")
        }
        return t
    }

    public func optional(_ index: Int) -> Tensor? {
        index < count ? self[index] : nil
    }
}
