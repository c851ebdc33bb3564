import Dispatch
import EdgeIR
import Foundation
import Synchronization

/// A graph compiled into an execution plan: values numbered into slots, nodes in a topological
/// schedule with their kernels built, compile-time constants (initializers, Constant nodes and
/// nodes whose inputs are all constant) evaluated once, and each slot's last reader known so a
/// value is released as soon as nothing needs it.
public final class CompiledGraph: Sendable {
    struct Step: Sendable {
        let node: Node
        let description: String
        let kernel: any OpKernel
        let inputs: [Int?]
        let outputs: [Int?]
        /// Slots whose last reader is this step (released after it).
        let releases: [Int]
    }

    let steps: [Step]
    let slotCount: Int
    let slotNames: [String]
    let constants: [(slot: Int, value: Value)]
    let inputs: [(name: String, slot: Int)]
    let outputs: [(name: String, slot: Int)]
    /// Values this graph reads from enclosing scopes.
    let outerReferences: [(name: String, slot: Int)]
    /// Last step reading each slot (`steps.count` for graph outputs, -1 if never read).
    let lastUse: [Int]
    let slotOfName: [String: Int]
    /// Declared element types of the outputs (nil where undeclared).
    let outputTypes: [DType?]
    /// Observed values (`SessionOptions.observedTensors`, main graph only) that exist before the
    /// first step: inputs and compile-time constants.
    let observedAtStart: [(name: String, slot: Int)]
    /// Observed values each step produces, reported right after it runs.
    let observedOutputs: [[(name: String, slot: Int)]]

    /// Compiles `graph`. `outerScope` resolves names of enclosing graphs (nil for the main
    /// graph); it returns the compile-time constant for a name when there is one.
    /// `initializers`, when given, replaces `graph.initializers` (the session moves them out of
    /// its model so that each float weight is freed as soon as its kernel has packed it).
    init(graph: Graph, initializers given: consuming [(String, Tensor)]? = nil, opsets: [String: Int], options: SessionOptions,
         outerScope: ((String) -> (visible: Bool, constant: Tensor?))?) throws {
        var slotOfName: [String: Int] = [:]
        var slotNames: [String] = []
        func slot(_ name: String) -> Int {
            if let s = slotOfName[name] { return s }
            slotOfName[name] = slotNames.count
            slotNames.append(name)
            return slotNames.count - 1
        }

        var constantValues: [String: Tensor] = [:]
        var defined = Set<String>()
        do {
            let initializers = (consume given) ?? graph.initializers.map { ($0.key, $0.value) }
            for (name, tensor) in initializers {
                constantValues[name] = options.fp16 ? HalfRounding.rounded(tensor) : tensor
                defined.insert(name)
            }
        }
        for sparse in graph.sparseInitializers {
            guard let dense = sparse.densified() else {
                throw EdgeError.badInput("sparse initializer '\(sparse.name)' has malformed indices")
            }
            constantValues[sparse.name] = dense
            defined.insert(sparse.name)
        }
        var inputs: [(String, Int)] = []
        for input in graph.inputs where constantValues[input.name] == nil {
            inputs.append((input.name, slot(input.name)))
            defined.insert(input.name)
        }

        // Topological order (Kahn), stable with respect to file order.
        let producer = graph.producerIndex()
        var dependencies = [[Int]](repeating: [], count: graph.nodes.count)
        var outerNames: [String] = []
        var outerSeen = Set<String>()
        for (i, node) in graph.nodes.enumerated() {
            var reads = node.inputs.filter { !$0.isEmpty }
            for sub in node.subgraphs { reads.append(contentsOf: sub.outerScopeReferences().sorted()) }
            for name in reads {
                if let p = producer[name] {
                    if p != i { dependencies[i].append(p) }
                } else if !defined.contains(name) {
                    guard let outerScope, outerScope(name).visible else {
                        throw EdgeError.badInput("node '\(node.displayName)' (\(node.opType)) reads '\(name)', which no node, input or initializer defines")
                    }
                    if !outerSeen.contains(name) {
                        outerSeen.insert(name)
                        outerNames.append(name)
                    }
                }
            }
        }
        var order: [Int] = []
        var indegree = dependencies.map { Set($0).count }
        var dependents = [[Int]](repeating: [], count: graph.nodes.count)
        for (i, deps) in dependencies.enumerated() { for d in Set(deps) { dependents[d].append(i) } }
        var ready = (0..<graph.nodes.count).filter { indegree[$0] == 0 }
        var cursor = 0
        while cursor < ready.count {
            let n = ready[cursor]
            cursor += 1
            order.append(n)
            for d in dependents[n].sorted() {
                indegree[d] -= 1
                if indegree[d] == 0 { ready.append(d) }
            }
        }
        guard order.count == graph.nodes.count else {
            let stuck = (0..<graph.nodes.count).first { indegree[$0] > 0 }!
            throw EdgeError.badInput("the graph has a cycle through node '\(graph.nodes[stuck].displayName)' (\(graph.nodes[stuck].opType))")
        }

        // Outer values that are constants in their own scope stay constants here (weights used
        // inside Loop bodies can then be packed once).
        var outerReferences: [(String, Int)] = []
        for name in outerNames {
            if let c = outerScope?(name).constant {
                constantValues[name] = c
            } else {
                outerReferences.append((name, slot(name)))
            }
        }

        // Readers of each constant still to be compiled. A constant is dropped from
        // `constantValues` once every reader has folded it, absorbed it (fusion) or baked it into
        // its kernel, so a model's float weights are not all alive at once next to their packed
        // copies. Values that subgraphs or graph outputs read are never dropped.
        var pendingReaders: [String: Int] = [:]
        for node in graph.nodes { for name in node.inputs where !name.isEmpty { pendingReaders[name, default: 0] += 1 } }
        for node in graph.nodes { for sub in node.subgraphs { for name in sub.outerScopeReferences() { pendingReaders[name] = Int.max / 2 } } }
        for output in graph.outputs { pendingReaders[output.name] = Int.max / 2 }
        // Observed values are pinned like graph outputs (subgraphs observe nothing).
        let observed = outerScope == nil ? options.observedTensors : []
        for name in observed { pendingReaders[name] = Int.max / 2 }
        func consumed(_ name: String) {
            guard !name.isEmpty, let n = pendingReaders[name] else { return }
            if n <= 1 {
                pendingReaders[name] = nil
                constantValues[name] = nil
            } else {
                pendingReaders[name] = n - 1
            }
        }

        // Steps whose kernels hold float weights not packed yet. A step is baked as soon as no
        // later node can fuse into it any more, so float weights are released while compiling
        // rather than all at the end.
        var unbaked: [Int] = []

        let pool = WorkerPool(threads: 1)  // compile-time folding runs on this thread
        var steps: [(node: Node, kernel: any OpKernel)] = []
        // Producer fusion (see KernelFusion): single-consumer Conv/Gemm outputs absorb a following
        // BatchNormalization and/or activation.
        let consumers = graph.consumerIndices()
        // Values fusion may not fuse away: graph outputs and observed values.
        let graphOutputNames = Set(graph.outputs.map(\.name)).union(observed)
        var fusable: [String: Int] = [:]
        // Conv/Gemm outputs read by exactly two nodes: candidates for x·sigmoid(x) (SiLU), which
        // reads x twice (Sigmoid and Mul). The Mul a fused SiLU absorbs is skipped when reached.
        var siluCandidates: [String: Int] = [:]
        var absorbedBySiLU = Set<Int>()
        // The step computing each value so far (for a residual Add: is the skip ready before the conv?).
        var stepOfValue: [String: Int] = [:]
        func availableBefore(_ name: String, _ step: Int) -> Bool {
            if let s = stepOfValue[name] { return s < step }
            // Graph inputs, constants and outer values exist before any step; a value some node
            // produces but no step has yet is computed later.
            return producer[name] == nil || constantValues[name] != nil
        }
        func registerProducer(_ output: String, step: Int) {
            guard !graphOutputNames.contains(output) else { return }
            switch consumers[output]?.count ?? 0 {
            case 1: fusable[output] = step
            case 2: siluCandidates[output] = step
            default: break
            }
        }
        func bakeClosedSteps() {
            guard !unbaked.isEmpty else { return }
            let open = Set(fusable.values).union(siluCandidates.values)
            unbaked.removeAll { index in
                if open.contains(index) { return false }
                (steps[index].kernel as? any BakesConstants)?.bake(options)
                return true
            }
        }
        for index in order {
            if absorbedBySiLU.contains(index) { continue }
            let node = graph.nodes[index]
            let opset = opsets[node.isStandardDomain ? "" : node.domain] ?? 0
            guard let spec = OperatorRegistry.lookup(opType: node.opType, domain: node.domain, opset: opset) else {
                throw CompiledGraph.unsupported(node, opset: opset)
            }
            let visibleHere: (String) -> (visible: Bool, constant: Tensor?) = { name in
                if let c = constantValues[name] { return (true, c) }
                if slotOfName[name] != nil || defined.contains(name) || producer[name] != nil { return (true, nil) }
                return outerScope?(name) ?? (false, nil)
            }
            let build = KernelBuildContext(
                node: node, opset: opset, options: options,
                constantLookup: { constantValues[$0] },
                subgraphCompiler: { sub, _ in
                    try CompiledGraph(graph: sub, opsets: opsets, options: options, outerScope: visibleHere)
                })
            let kernel: any OpKernel
            do {
                kernel = try spec.make(build)
            } catch let error as EdgeError {
                throw CompiledGraph.contextualize(error, build.nodeDescription)
            }

            // Fold nodes whose inputs are all known now (Constant, ConstantOfShape of a constant
            // shape, shape arithmetic on weights, ...), so that kernels downstream see constants.
            let inputNames = node.inputs.filter { !$0.isEmpty }
            let foldable = CompiledGraph.foldable(node) && inputNames.allSatisfy { constantValues[$0] != nil }
                && node.subgraphs.isEmpty
            if foldable {
                let context = ExecutionContext(options: options, pool: pool, allocator: nil, folding: true)
                context.nodeDescription = build.nodeDescription
                let values = try node.inputs.map { name -> Value? in name.isEmpty ? nil : .tensor(constantValues[name]!) }
                let results: [Value?]
                do {
                    results = try kernel.run(values, context)
                } catch let error as EdgeError {
                    throw CompiledGraph.contextualize(error, build.nodeDescription)
                }
                var allTensors = true
                for (k, name) in node.outputs.enumerated() where !name.isEmpty {
                    guard k < results.count, let t = results[k]?.tensor else { allTensors = false; continue }
                    constantValues[name] = options.fp16 ? HalfRounding.rounded(t) : t
                }
                if allTensors {
                    node.inputs.forEach(consumed)
                    continue
                }
            }
            if options.fuseKernels, let input = node.input(0), let at = fusable[input],
               let fused = KernelFusion.absorb(node, into: steps[at].kernel, opset: opset, constants: { constantValues[$0] }) {
                // The producer now computes this node's output.
                var producerNode = steps[at].node
                producerNode.outputs[0] = node.outputs[0]
                steps[at] = (producerNode, fused.kernel)
                stepOfValue[node.outputs[0]] = at
                fusable[input] = nil
                node.inputs.dropFirst().forEach(consumed)
                if fused.canAbsorbMore { registerProducer(node.outputs[0], step: at) }
                continue
            }
            if options.fuseKernels, let input = node.input(0), let at = siluCandidates[input],
               let mul = KernelFusion.siluMul(sigmoid: node, index: index, graph: graph, consumers: consumers, graphOutputs: graphOutputNames),
               let fused = KernelFusion.absorbSiLU(into: steps[at].kernel) {
                // Sigmoid(x) and Mul(x, Sigmoid(x)) become the producer's SiLU epilogue.
                var producerNode = steps[at].node
                producerNode.outputs[0] = graph.nodes[mul].outputs[0]
                steps[at] = (producerNode, fused)
                stepOfValue[graph.nodes[mul].outputs[0]] = at
                siluCandidates[input] = nil
                absorbedBySiLU.insert(mul)
                continue
            }
            if options.fuseKernels,
               let residual = KernelFusion.residualAdd(node, graph: graph, fusable: fusable, steps: steps, availableBefore: availableBefore),
               let at = fusable[node.inputs[residual.input]], let fused = KernelFusion.absorbResidual(into: steps[at].kernel) {
                // Add(conv, skip): the conv adds the skip (its input 3) in its epilogue and now
                // computes the Add's output; the skip stays alive until the conv has run.
                var producerNode = steps[at].node
                while producerNode.inputs.count < 3 { producerNode.inputs.append("") }
                producerNode.inputs = Array(producerNode.inputs.prefix(3)) + [residual.skip]
                producerNode.outputs[0] = node.outputs[0]
                steps[at] = (producerNode, fused)
                stepOfValue[node.outputs[0]] = at
                fusable[node.inputs[residual.input]] = nil
                fusable[residual.skip] = nil
                siluCandidates[residual.skip] = nil
                registerProducer(node.outputs[0], step: at)
                continue
            }
            // Any other reader ends the candidacy (its weights may then be packed).
            for name in node.inputs where siluCandidates[name] != nil { siluCandidates[name] = nil }
            steps.append((node, kernel))
            for name in node.outputs where !name.isEmpty { stepOfValue[name] = steps.count - 1 }
            if let baking = kernel as? any BakesConstants {
                for index in baking.bakedInputs { if let name = node.input(index) { consumed(name) } }
                unbaked.append(steps.count - 1)
            }
            if options.fuseKernels, KernelFusion.isProducer(kernel), node.outputs.count == 1 {
                registerProducer(node.outputs[0], step: steps.count - 1)
            }
            bakeClosedSteps()
        }

        // Slots for everything a step touches, graph outputs, and constants that are read.
        var graphOutputs: [(String, Int)] = []
        var constants: [(Int, Value)] = []
        var constantSlot: [String: Int] = [:]
        func readSlot(_ name: String) -> Int {
            if let c = constantValues[name], slotOfName[name] == nil || constantSlot[name] != nil {
                if let s = constantSlot[name] { return s }
                let s = slot(name)
                constantSlot[name] = s
                constants.append((s, .tensor(c)))
                return s
            }
            return slot(name)
        }
        // Weights are packed now, after fusion; the float originals go as each is packed.
        for (_, kernel) in steps { (kernel as? any BakesConstants)?.bake(options) }
        var stepInputs: [[Int?]] = []
        var stepOutputs: [[Int?]] = []
        for (node, kernel) in steps {
            let baked = Set((kernel as? any BakesConstants)?.bakedInputs ?? [])
            stepInputs.append(node.inputs.enumerated().map { k, name in name.isEmpty || baked.contains(k) ? nil : readSlot(name) })
            stepOutputs.append(node.outputs.map { $0.isEmpty ? nil : slot($0) })
        }
        for output in graph.outputs {
            graphOutputs.append((output.name, readSlot(output.name)))
        }
        // Observed values: step outputs are reported after their step; inputs and constants
        // (including folded node outputs) at the start of each run.
        var observedOutputs = [[(name: String, slot: Int)]](repeating: [], count: steps.count)
        var found = Set<String>()
        for (i, (node, _)) in steps.enumerated() {
            for (k, name) in node.outputs.enumerated() where observed.contains(name) && !found.contains(name) {
                if let s = stepOutputs[i][k] { observedOutputs[i].append((name, s)); found.insert(name) }
            }
        }
        var observedAtStart: [(name: String, slot: Int)] = []
        for name in observed.sorted() where !found.contains(name) {
            if let input = inputs.first(where: { $0.0 == name }) {
                observedAtStart.append((name, input.1))
            } else if constantValues[name] != nil {
                observedAtStart.append((name, readSlot(name)))
            } else {
                throw EdgeError.badInput("observed tensor '\(name)' is not an input, initializer or node output of the main graph")
            }
        }

        var lastUse = [Int](repeating: -1, count: slotNames.count)
        for (i, (node, _)) in steps.enumerated() {
            for s in stepInputs[i] { if let s { lastUse[s] = i } }
            // Values captured by subgraphs stay alive until the node holding the subgraph ran.
            for sub in node.subgraphs {
                for name in sub.outerScopeReferences() { if let s = slotOfName[name] { lastUse[s] = i } }
            }
        }
        for output in graphOutputs { lastUse[output.1] = steps.count }
        for constant in constants { lastUse[constant.0] = steps.count }  // constants are never released
        var releases = [[Int]](repeating: [], count: steps.count)
        for (s, last) in lastUse.enumerated() where last >= 0 && last < steps.count { releases[last].append(s) }
        // An output nobody reads is released right after its producer.
        for (i, outs) in stepOutputs.enumerated() {
            for s in outs { if let s, lastUse[s] == -1 { releases[i].append(s); lastUse[s] = i } }
        }

        self.steps = steps.enumerated().map { i, entry in
            Step(node: entry.node, description: "node '\(entry.node.displayName)' (\(entry.node.opType))",
                 kernel: entry.kernel, inputs: stepInputs[i], outputs: stepOutputs[i], releases: releases[i])
        }
        self.slotCount = slotNames.count
        self.slotNames = slotNames
        self.constants = constants
        self.inputs = inputs
        self.outputs = graphOutputs
        self.outerReferences = outerReferences
        self.lastUse = lastUse
        self.slotOfName = slotOfName
        self.outputTypes = graph.outputs.map { $0.tensorType?.elementType }
        self.observedAtStart = observedAtStart
        self.observedOutputs = observedOutputs
    }

    /// Bytes of constant data this graph holds: packed kernel weights plus constant values that
    /// steps read at run time (nested subgraphs not included).
    /// Bytes of weights the graph holds: what the kernels baked (including forms they build on
    /// first use, e.g. Winograd-transformed conv weights) plus the constants. Constant inputs
    /// that stay slots but are also held by a baking kernel (Gemm's C) are counted twice at most;
    /// the estimate is for memory reports.
    var heldWeightBytes: Int {
        steps.reduce(0) { $0 + (($1.kernel as? any BakesConstants)?.bakedBytes ?? 0) }
            + constants.reduce(0) { $0 + ($1.1.tensor.map { $0.dtype == .string ? 0 : $0.byteCount } ?? 0) }
    }

    /// Random generators are not folded: each run must draw anew.
    static func foldable(_ node: Node) -> Bool {
        !node.opType.hasPrefix("Random") && node.opType != "Multinomial" && node.opType != "Bernoulli"
    }

    static func unsupported(_ node: Node, opset: Int) -> EdgeError {
        let domain = node.isStandardDomain ? "" : " in domain '\(node.domain)'"
        return EdgeError.unsupported("node '\(node.displayName)' (\(node.opType)\(domain)): operator not supported at opset \(opset)")
    }

    static func contextualize(_ error: EdgeError, _ description: String) -> EdgeError {
        guard !error.message.contains(description) else { return error }
        var copy = error
        copy.message = "\(description): \(error.message)"
        return copy
    }

    /// Checks, before anything is compiled or run, that every node of `graph` and of its
    /// subgraphs has an implementation at the model's opset.
    static func validateSupport(_ graph: Graph, opsets: [String: Int]) throws {
        for node in graph.nodes {
            let opset = opsets[node.isStandardDomain ? "" : node.domain] ?? 0
            guard OperatorRegistry.lookup(opType: node.opType, domain: node.domain, opset: opset) != nil else {
                throw unsupported(node, opset: opset)
            }
            for sub in node.subgraphs { try validateSupport(sub, opsets: opsets) }
        }
    }

    /// Runs the plan. `inputs` is aligned with `self.inputs`. `observer` receives each observed
    /// tensor (see `Session.run(_:observing:)`) on this thread, while its buffer is still intact.
    func execute(inputs feeds: [Value?], parent: Environment?, context: ExecutionContext,
                 observer: ((String, Tensor) throws -> Void)? = nil) throws -> [Value] {
        let env = Environment(graph: self, parent: parent)
        for (slot, value) in constants { env.slots[slot] = value }
        for (k, input) in inputs.enumerated() where k < feeds.count { env.slots[input.slot] = feeds[k] }
        for (name, slot) in outerReferences {
            guard let value = parent?.lookup(name) else {
                throw EdgeError.badInput("subgraph reads '\(name)' from the enclosing scope, which holds no value for it")
            }
            env.slots[slot] = value
        }
        let previous = context.environment
        context.environment = env
        defer { context.environment = previous }
        let allocator = context.allocator
        if let observer {
            for (name, slot) in observedAtStart { if case .tensor(let t)? = env.slots[slot] { try observer(name, t) } }
        }

        for (i, step) in steps.enumerated() {
            context.currentStep = i
            context.allocationSequence = 0
            context.nodeDescription = step.description
            context.freshStorages.removeAll(keepingCapacity: true)
            let args = step.inputs.map { $0.flatMap { env.slots[$0] } }
            let results: [Value?]
            let started = Profiler.enabled ? DispatchTime.now().uptimeNanoseconds : 0
            do {
                if let region = allocator?.scratchRegion(step: i) {
                    results = try region.bind { try step.kernel.run(args, context) }
                    allocator!.recordScratch(step: i, region)
                } else {
                    results = try step.kernel.run(args, context)
                }
            } catch let error as EdgeError {
                throw CompiledGraph.contextualize(error, step.description)
            }
            if Profiler.enabled {
                Profiler.record(Profiler.perNode ? step.description : step.node.opType, DispatchTime.now().uptimeNanoseconds - started)
            }
            for (k, slot) in step.outputs.enumerated() {
                guard let slot else { continue }
                var value = k < results.count ? results[k] : nil
                if context.options.fp16, case .tensor(let t)? = value, t.dtype == .float,
                   context.freshStorages.contains(ObjectIdentifier(t.storage)) {
                    HalfRounding.roundInPlace(t)
                    value = .tensor(t)
                }
                env.slots[slot] = value
                if let allocator, allocator.isRecording, let value {
                    Environment.forEachTensor(in: value) { allocator.noteUse(of: $0.storage, until: lastUse[slot]) }
                }
            }
            // Before the releases: a released slot's buffer may be reused by the next step.
            if let observer {
                for (name, slot) in observedOutputs[i] { if case .tensor(let t)? = env.slots[slot] { try observer(name, t) } }
            }
            for slot in step.releases { env.slots[slot] = nil }
        }

        return try outputs.map { name, slot in
            guard let value = env.slots[slot] else {
                throw EdgeError.badInput("graph output '\(name)' was not produced")
            }
            return value
        }
    }
}

/// The values of one graph execution, linked to the enclosing graph's for outer-scope reads.
final class Environment {
    let graph: CompiledGraph
    let parent: Environment?
    var slots: [Value?]

    init(graph: CompiledGraph, parent: Environment?) {
        self.graph = graph
        self.parent = parent
        slots = Array(repeating: nil, count: graph.slotCount)
    }

    func lookup(_ name: String) -> Value? {
        if let s = graph.slotOfName[name], let v = slots[s] { return v }
        return parent?.lookup(name)
    }

    static func forEachTensor(in value: Value, _ body: (Tensor) -> Void) {
        switch value {
        case .tensor(let t): body(t)
        case .sequence(let ts, _): ts.forEach(body)
        case .optional(let v): if let v { forEachTensor(in: v, body) }
        }
    }
}

/// Per-operator wall time, when the environment sets EDGEOPT_PROFILE: `Session.run` prints the
/// totals of each run to stderr (a diagnostic for engine developers, off by default).
/// EDGEOPT_PROFILE=node gives one line per node instead of per operator type.
enum Profiler {
    static let enabled = ProcessInfo.processInfo.environment["EDGEOPT_PROFILE"] != nil
    static let perNode = ProcessInfo.processInfo.environment["EDGEOPT_PROFILE"] == "node"
    private static let totals = Mutex<[String: (count: Int, nanoseconds: UInt64)]>([:])

    static func record(_ op: String, _ nanoseconds: UInt64) {
        totals.withLock { $0[op, default: (0, 0)].count += 1; $0[op]!.nanoseconds += nanoseconds }
    }

    static func report() {
        let snapshot = totals.withLock { t -> [String: (count: Int, nanoseconds: UInt64)] in
            defer { t.removeAll() }
            return t
        }
        let lines = snapshot.sorted { $0.value.nanoseconds > $1.value.nanoseconds }.map {
            String(format: "  %-24@ %4d × %9.3f ms", $0.key as NSString, $0.value.count, Double($0.value.nanoseconds) / 1e6)
        }
        FileHandle.standardError.write(Data(("profile:\n" + lines.joined(separator: "\n") + "\n").utf8))
    }
}
