extension Graph {
    /// The nodes of one dependency cycle, in data-flow order (each feeds the next, the last feeds
    /// the first), or nil when the graph is acyclic. Dependencies include values that subgraphs
    /// capture from this graph. (`topologicalOrder()` gives the order itself.)
    ///
    /// Depth-first search from each node in file order, iterative so that long chains cannot
    /// exhaust the stack. Values not produced by any node (inputs, initializers, outer scope,
    /// dangling names) impose no constraint here; `GraphValidator` reports dangling names.
    public func nodesOnCycle() -> [Int]? {
        let producer = producerIndex()
        let dependencies: [[Int]] = nodes.enumerated().map { index, node in
            var names = node.inputs.filter { !$0.isEmpty }
            for sub in node.subgraphs { names.append(contentsOf: sub.outerScopeReferences().sorted()) }
            var seen = Set<Int>()
            return names.compactMap { name in
                guard let p = producer[name], seen.insert(p).inserted else { return nil }
                return p
            }
        }
        // 0 = unvisited, 1 = on the current path, 2 = emitted.
        var state = [UInt8](repeating: 0, count: nodes.count)
        var stack: [(node: Int, next: Int)] = []
        for root in nodes.indices where state[root] == 0 {
            stack.append((root, 0))
            state[root] = 1
            while let top = stack.last {
                let deps = dependencies[top.node]
                if top.next < deps.count {
                    stack[stack.count - 1].next += 1
                    let d = deps[top.next]
                    switch state[d] {
                    case 0:
                        state[d] = 1
                        stack.append((d, 0))
                    case 1:
                        // `stack` runs from a root down to the node that depends on `d`; the cycle
                        // is its part from `d` on, reversed into producer-before-consumer order.
                        // Rotated to start at its first node in file order, so messages are stable.
                        let cycle = Array(stack.map(\.node).drop(while: { $0 != d }).reversed())
                        let first = cycle.indices.min { cycle[$0] < cycle[$1] }!
                        return Array(cycle[first...] + cycle[..<first])
                    default:
                        break
                    }
                } else {
                    state[top.node] = 2
                    stack.removeLast()
                }
            }
        }
        return nil
    }
}
