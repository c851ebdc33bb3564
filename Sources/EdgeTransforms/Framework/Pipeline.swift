import EdgeIR
import Foundation

/// Runs a list of passes over a model until nothing changes (or `maxIterations` sweeps).
///
/// After every pass that fired, the pipeline
/// 1. removes what the rewrite left dead (nodes, initializers) so the pass's effect is measured,
/// 2. rolls the pass back if it made the model larger (weights plus a per-node estimate, see
///    `estimatedSize`; unless the pass is allowed to, like an opset conversion),
/// 3. with a check, runs the engine on the result and rolls the pass back when any output moved
///    beyond the tolerance from the *original* model's outputs (so errors cannot creep up pass by
///    pass). A rolled-back pass is disabled for the rest of the run and named in the report.
public struct Pipeline {
    public var passes: [any GraphPass]
    public var maxIterations: Int
    public var check: EquivalenceCheck?
    /// Called with a line of progress (pass name, result) for verbose output; nil for none.
    public var log: ((String) -> Void)?

    public init(passes: [any GraphPass], maxIterations: Int = 4, check: EquivalenceCheck? = nil) {
        self.passes = passes
        self.maxIterations = max(1, maxIterations)
        self.check = check
    }

    /// Optimizes `model` in place and reports what each pass did.
    public func run(_ model: inout Model) throws -> PipelineReport {
        var report = PipelineReport(nodesBefore: model.totalNodeCount, weightBytesBefore: model.weightBytes)
        var entries: [String: PassReport] = [:]
        var order: [String] = []
        var disabled = Set<String>()
        let start = Date()
        for iteration in 1...maxIterations {
            report.iterations = iteration
            var changedThisSweep = false
            for pass in passes {
                let name = type(of: pass).name
                if entries[name] == nil {
                    entries[name] = PassReport(name: name)
                    order.append(name)
                }
                guard !disabled.contains(name) else { continue }
                let nodesBefore = model.totalNodeCount
                let t0 = Date()
                var candidate = model
                let context = PassContext(model: model)
                let result: PassResult
                do {
                    result = try Pipeline.apply(pass, to: &candidate.graph, context: context)
                        + Pipeline.applyToFunctions(pass, in: &candidate)
                } catch {
                    entries[name]!.seconds += Date().timeIntervalSince(t0)
                    entries[name]!.rollBack("the pass failed: \(error)")
                    disabled.insert(name)
                    log?("\(name): failed, skipped (\(error))")
                    continue
                }
                guard result.changed else {
                    entries[name]!.seconds += Date().timeIntervalSince(t0)
                    continue
                }
                Pipeline.removeDeadCode(&candidate.graph)
                candidate.opsetImports = context.opsetImports
                Pipeline.setDefaultOpset(&candidate, Int64(context.opset))
                entries[name]!.seconds += Date().timeIntervalSince(t0)

                if !type(of: pass).mayGrowModel, Pipeline.estimatedSize(candidate) > Pipeline.estimatedSize(model) {
                    entries[name]!.rollBack("it made the model larger (weights \(model.weightBytes) → \(candidate.weightBytes) bytes, nodes \(model.totalNodeCount) → \(candidate.totalNodeCount))")
                    disabled.insert(name)
                    log?("\(name): rolled back (model grew)")
                    continue
                }
                if let check {
                    let t1 = Date()
                    let outcome = check.compare(candidate)
                    report.checkSeconds += Date().timeIntervalSince(t1)
                    report.checks += 1
                    entries[name]!.maxError = max(entries[name]!.maxError ?? 0, outcome.maxError)
                    if !outcome.passed {
                        entries[name]!.rollBack(outcome.summary)
                        disabled.insert(name)
                        log?("\(name): rolled back (\(outcome.summary))")
                        continue
                    }
                }
                entries[name]!.rewrites += result.rewrites
                entries[name]!.nodesRemoved += nodesBefore - candidate.totalNodeCount
                entries[name]!.status = .applied
                log?("\(name): \(result.rewrites) rewrite(s), nodes \(nodesBefore) → \(candidate.totalNodeCount)")
                model = candidate
                changedThisSweep = true
            }
            if !changedThisSweep { break }
        }
        report.passes = order.map { entries[$0]! }
        report.nodesAfter = model.totalNodeCount
        report.weightBytesAfter = model.weightBytes
        report.seconds = Date().timeIntervalSince(start)
        return report
    }

    /// Runs one pass on a graph and, when the pass allows it, on every nested subgraph.
    ///
    /// Weights of enclosing graphs that a subgraph captures (`outerConstants`: initializers and
    /// Constant outputs of the enclosing scopes) are lent to it as initializers for the pass's run
    /// and taken back afterwards (a subgraph may not redefine an outer name), so a Conv+BN inside a
    /// Loop or If body whose weights live in the main graph folds like one in the main graph.
    public static func apply(_ pass: any GraphPass, to graph: inout Graph, context: PassContext,
                             outerConstants: [String: Tensor] = [:]) throws -> PassResult {
        var lent: [String] = []
        if !outerConstants.isEmpty {
            for name in graph.outerScopeReferences().sorted() where graph.initializers[name] == nil {
                guard let t = outerConstants[name] else { continue }
                graph.initializers[name] = t
                lent.append(name)
            }
        }
        defer { for name in lent { graph.initializers.removeValue(forKey: name) } }
        var result = try pass.run(&graph, context: context)
        guard type(of: pass).appliesToSubgraphs, graph.nodes.contains(where: { !$0.subgraphs.isEmpty }) else { return result }
        var visible = outerConstants
        for (name, t) in graph.initializers { visible[name] = t }
        for node in graph.nodes { if let t = node.constantValue, let o = node.outputs.first { visible[o] = t } }
        for i in graph.nodes.indices where !graph.nodes[i].subgraphs.isEmpty {
            for a in graph.nodes[i].attributes.indices {
                context.depth += 1
                defer { context.depth -= 1 }
                switch graph.nodes[i].attributes[a].value {
                case .graph(var g):
                    result = result + (try apply(pass, to: &g, context: context, outerConstants: visible))
                    graph.nodes[i].attributes[a].value = .graph(g)
                case .graphs(var gs):
                    for k in gs.indices { result = result + (try apply(pass, to: &gs[k], context: context, outerConstants: visible)) }
                    graph.nodes[i].attributes[a].value = .graphs(gs)
                default: break
                }
            }
        }
        return result
    }

    /// Runs one pass inside every model-local function body (see `FunctionBody`) that allows it.
    /// Each body gets its own context (its own opset imports); a domain a rewrite introduced
    /// there is imported by the function and by the model.
    public static func applyToFunctions(_ pass: any GraphPass, in model: inout Model) throws -> PassResult {
        guard type(of: pass).appliesToFunctions else { return .unchanged }
        var total = PassResult.unchanged
        for k in model.functions.indices {
            var graph = FunctionBody.graph(of: model.functions[k])
            var imports = model.functions[k].opsetImports
            if !imports.contains(where: { $0.domain.isEmpty || $0.domain == "ai.onnx" }) {
                imports.append(OpsetImport(domain: "", version: model.onnxOpsetVersion ?? 1))
            }
            let context = PassContext(model: Model(opsetImports: imports, graph: graph))
            let result = try apply(pass, to: &graph, context: context)
            guard result.changed else { continue }
            removeDeadCode(&graph)
            imports = context.opsetImports
            if let i = imports.firstIndex(where: { $0.domain.isEmpty || $0.domain == "ai.onnx" }) {
                imports[i].version = Int64(context.opset)
            }
            FunctionBody.update(&model.functions[k], from: graph, opsetImports: imports)
            for entry in imports where !model.opsetImports.contains(where: { $0.domain == entry.domain
                || ($0.domain.isEmpty && entry.domain == "ai.onnx") || ($0.domain == "ai.onnx" && entry.domain.isEmpty) }) {
                model.opsetImports.append(entry)
            }
            total = total + result
        }
        return total
    }

    /// Dead nodes and unused weights left behind by a rewrite (in subgraphs too).
    static func removeDeadCode(_ graph: inout Graph) {
        let context = PassContext(model: Model(opsetImports: [], graph: Graph()))
        _ = try? apply(EliminateDeadNodes(), to: &graph, context: context)
    }

    /// Serialized size estimate: weight bytes plus `nodeBytes` per node (a NodeProto with op type,
    /// names and a few attributes takes at least that much). A pass that folds a Shape chain into a
    /// 16-byte vector while removing five nodes makes the file smaller, and this says so.
    public static let nodeBytes = 64
    public static func estimatedSize(_ graph: Graph) -> Int {
        graph.weightBytes + nodeBytes * graph.totalNodeCount
    }

    /// `estimatedSize` of the main graph plus every function body.
    public static func estimatedSize(_ model: Model) -> Int {
        model.weightBytes + nodeBytes * model.totalNodeCount
    }

    static func setDefaultOpset(_ model: inout Model, _ version: Int64) {
        if let i = model.opsetImports.firstIndex(where: { $0.domain.isEmpty || $0.domain == "ai.onnx" }) {
            model.opsetImports[i].version = version
        }
    }
}

/// What one pass did over a whole pipeline run.
public struct PassReport: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case unchanged, applied, rolledBack = "rolled back" }
    public var name: String
    public var status: Status = .unchanged
    /// Rewrites that fired and were kept.
    public var rewrites: Int = 0
    /// Nodes the kept rewrites removed (negative when a pass adds nodes).
    public var nodesRemoved: Int = 0
    /// Largest check error measured after this pass (nil without a check).
    public var maxError: Double?
    /// Why the pass was rolled back.
    public var reason: String?
    public var seconds: Double = 0

    public init(name: String) { self.name = name }

    mutating func rollBack(_ why: String) {
        status = .rolledBack
        reason = why
    }
}

/// What a pipeline run did.
public struct PipelineReport: Codable, Sendable, Equatable {
    public var passes: [PassReport] = []
    public var iterations: Int = 0
    public var nodesBefore: Int
    public var nodesAfter: Int = 0
    public var weightBytesBefore: Int
    public var weightBytesAfter: Int = 0
    /// Engine comparisons run and their total time.
    public var checks: Int = 0
    public var checkSeconds: Double = 0
    /// Wall time of the whole run, checks included.
    public var seconds: Double = 0

    public init(nodesBefore: Int, weightBytesBefore: Int) {
        self.nodesBefore = nodesBefore
        self.weightBytesBefore = weightBytesBefore
    }

    public var rolledBack: [PassReport] { passes.filter { $0.status == .rolledBack } }
}
