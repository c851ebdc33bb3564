/// Expansion of calls to model-local functions (ONNX `FunctionProto`) into their bodies.
///
///     Before:  main: x ─► Block(W) ─► y              Block(a, w) { t = Conv(a, w); r = Relu(t) } → r
///     After:   main: x ─► Conv(W) ─► y/Block_0/t ─► Relu ─► y
///
/// A call binds the function's formal inputs to the caller's actual inputs (an omitted or missing
/// actual is the empty name: an omitted optional input) and its formal outputs to the caller's
/// outputs. Every other name of the body, including names defined inside If/Loop/Scan bodies it
/// holds, gets a fresh name so that two calls of one function never collide with each other or
/// with the caller. An attribute written `ref_attr_name: r` takes the caller's attribute `r`, or
/// the function's default for `r`, and is omitted when neither exists (ONNX semantics). Calls
/// inside bodies are expanded too; recursion deeper than `maxDepth` is refused as malformed.
extension Model {
    /// The model with every call to a local function expanded and `functions` emptied. The
    /// opset imports the bodies use are added to the model's (ONNX requires them to agree).
    public func inliningLocalFunctions(maxDepth: Int = 32) throws -> Model {
        guard !functions.isEmpty else { return self }
        var inliner = FunctionInliner(functions: functions, used: graph.allValueNames(), maxDepth: maxDepth)
        var result = self
        try inliner.inline(&result.graph, depth: 0)
        for function in functions where inliner.expanded.contains(FunctionInliner.key(function)) {
            for entry in function.opsetImports where !result.opsetImports.contains(where: { sameDomain($0.domain, entry.domain) }) {
                result.opsetImports.append(entry)
            }
        }
        result.functions = []
        return result
    }

    private func sameDomain(_ a: String, _ b: String) -> Bool {
        a == b || ((a.isEmpty || a == "ai.onnx") && (b.isEmpty || b == "ai.onnx"))
    }
}

extension Graph {
    /// Every name used or defined in this graph and its subgraphs (values and node names).
    public func allValueNames() -> Set<String> {
        var names = Set(inputs.map(\.name))
        names.formUnion(outputs.map(\.name))
        names.formUnion(initializers.keys)
        names.formUnion(valueInfo.map(\.name))
        for node in nodes {
            names.formUnion(node.inputs)
            names.formUnion(node.outputs)
            names.insert(node.name)
            for sub in node.subgraphs { names.formUnion(sub.allValueNames()) }
        }
        names.remove("")
        return names
    }
}

struct FunctionInliner {
    struct Key: Hashable { let domain: String, name: String, overload: String }
    static func key(_ f: Function) -> Key { Key(domain: f.domain, name: f.name, overload: f.overload) }

    let table: [Key: Function]
    var names: NameAllocator
    let maxDepth: Int
    var expanded = Set<Key>()

    init(functions: [Function], used: Set<String>, maxDepth: Int) {
        var table: [Key: Function] = [:]
        for f in functions { table[FunctionInliner.key(f)] = f }
        self.table = table
        names = NameAllocator(used: used)
        for f in functions { names.reserve(contentsOf: f.inputs + f.outputs + f.nodes.flatMap(\.outputs)) }
        self.maxDepth = maxDepth
    }

    mutating func fresh(_ base: String) -> String { names.fresh(base) }

    func function(called node: Node) -> Function? {
        table[Key(domain: node.domain, name: node.opType, overload: node.overload)]
    }

    /// Expands calls in `graph` and, recursively, in its subgraphs.
    mutating func inline(_ graph: inout Graph, depth: Int) throws {
        var nodes: [Node] = []
        nodes.reserveCapacity(graph.nodes.count)
        for var node in graph.nodes {
            try inlineSubgraphs(of: &node, depth: depth)
            if let f = function(called: node) {
                nodes.append(contentsOf: try expand(node, f, depth: depth))
            } else {
                nodes.append(node)
            }
        }
        graph.nodes = nodes
    }

    mutating func inlineSubgraphs(of node: inout Node, depth: Int) throws {
        for a in node.attributes.indices {
            switch node.attributes[a].value {
            case .graph(var g):
                try inline(&g, depth: depth)
                node.attributes[a].value = .graph(g)
            case .graphs(var gs):
                for k in gs.indices { try inline(&gs[k], depth: depth) }
                node.attributes[a].value = .graphs(gs)
            default: break
            }
        }
    }

    /// The body of `f` bound to the call `call`, with nested calls expanded.
    mutating func expand(_ call: Node, _ f: Function, depth: Int) throws -> [Node] {
        let label = "function '\(f.domain.isEmpty ? "" : f.domain + ".")\(f.name)' called by node '\(call.displayName)'"
        guard depth < maxDepth else {
            throw EdgeError.badInput("\(label): local functions nested deeper than \(maxDepth) calls (recursive?)")
        }
        guard call.inputs.count <= f.inputs.count, call.outputs.count <= f.outputs.count else {
            throw EdgeError.badInput("\(label): the call has \(call.inputs.count) inputs and \(call.outputs.count) outputs; the function declares \(f.inputs.count) and \(f.outputs.count)")
        }
        expanded.insert(FunctionInliner.key(f))
        let prefix = call.name.isEmpty ? "\(f.name)_call" : call.name
        var map: [String: String] = [:]
        for (i, formal) in f.inputs.enumerated() where !formal.isEmpty {
            map[formal] = i < call.inputs.count ? call.inputs[i] : ""
        }
        for (j, formal) in f.outputs.enumerated() where !formal.isEmpty {
            if j < call.outputs.count, !call.outputs[j].isEmpty {
                map[formal] = call.outputs[j]
            } else if map[formal] == nil {
                map[formal] = fresh("\(prefix)/\(formal)")
            }
        }
        for node in f.nodes {
            for output in node.outputs where !output.isEmpty && map[output] == nil {
                map[output] = fresh("\(prefix)/\(output)")
            }
        }
        var attributes: [String: AttributeValue] = [:]
        for a in f.attributeDefaults { attributes[a.name] = a.value }
        for a in call.attributes { attributes[a.name] = a.value }

        var body: [Node] = []
        for var node in f.nodes {
            for k in node.inputs.indices where !node.inputs[k].isEmpty {
                guard let actual = map[node.inputs[k]] else {
                    throw EdgeError.badInput("\(label): node '\(node.displayName)' reads '\(node.inputs[k])', which the function body does not define")
                }
                node.inputs[k] = actual
            }
            node.outputs = node.outputs.map { $0.isEmpty ? "" : map[$0]! }
            node.name = fresh("\(prefix)/\(node.name.isEmpty ? node.opType : node.name)")
            node.attributes = try bind(node.attributes, attributes, map: map, label: label)
            try inlineSubgraphs(of: &node, depth: depth + 1)
            if let inner = function(called: node) {
                body.append(contentsOf: try expand(node, inner, depth: depth + 1))
            } else {
                body.append(node)
            }
        }
        return body
    }

    /// Attributes with references resolved, and subgraphs renamed into the caller's scope.
    mutating func bind(_ list: [Attribute], _ given: [String: AttributeValue], map: [String: String], label: String) throws -> [Attribute] {
        var result: [Attribute] = []
        for var a in list {
            if let ref = a.refAttrName {
                guard let value = given[ref] else { continue }
                a.value = value
                a.refAttrName = nil
            }
            switch a.value {
            case .graph(var g):
                try rename(&g, map: map, given: given, label: label)
                a.value = .graph(g)
            case .graphs(var gs):
                for k in gs.indices { try rename(&gs[k], map: map, given: given, label: label) }
                a.value = .graphs(gs)
            default: break
            }
            result.append(a)
        }
        return result
    }

    /// Renames a subgraph of a function body: names it defines get fresh names, names it captures
    /// from the body follow `map`, and attribute references are bound.
    mutating func rename(_ graph: inout Graph, map outer: [String: String], given: [String: AttributeValue], label: String) throws {
        var map = outer
        var defined = graph.inputs.map(\.name) + Array(graph.initializers.keys) + graph.sparseInitializers.map(\.name)
        for node in graph.nodes { defined.append(contentsOf: node.outputs.filter { !$0.isEmpty }) }
        for name in defined { map[name] = fresh(name) }
        func r(_ name: String) -> String { name.isEmpty ? "" : (map[name] ?? name) }
        for k in graph.inputs.indices { graph.inputs[k].name = r(graph.inputs[k].name) }
        for k in graph.outputs.indices { graph.outputs[k].name = r(graph.outputs[k].name) }
        for k in graph.valueInfo.indices { graph.valueInfo[k].name = r(graph.valueInfo[k].name) }
        var initializers = graph.initializers
        initializers.removeAll()
        for (name, t) in graph.initializers { initializers[r(name)] = t }
        graph.initializers = initializers
        for k in graph.sparseInitializers.indices { graph.sparseInitializers[k].name = r(graph.sparseInitializers[k].name) }
        for k in graph.nodes.indices {
            graph.nodes[k].inputs = graph.nodes[k].inputs.map(r)
            graph.nodes[k].outputs = graph.nodes[k].outputs.map(r)
            if !graph.nodes[k].name.isEmpty { graph.nodes[k].name = fresh(graph.nodes[k].name) }
            graph.nodes[k].attributes = try bind(graph.nodes[k].attributes, given, map: map, label: label)
        }
    }
}
