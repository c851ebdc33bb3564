extension Graph {
    /// Node indices in an order where every node comes after the producers of its inputs (and of
    /// the outer values its subgraphs read). File order when it already is one — ONNX requires it,
    /// and keeping it makes reports follow the file — otherwise the stable Kahn order that
    /// prefers lower indices. Values not produced in this graph (inputs, initializers, outer
    /// scope) are available from the start. Throws a bad-input error naming a node on a cycle.
    public func topologicalOrder() throws -> [Int] {
        let producers = producerIndex()
        func dependencies(_ i: Int) -> [Int] {
            var deps: [Int] = []
            for input in nodes[i].inputs where !input.isEmpty {
                if let p = producers[input], p != i { deps.append(p) } else if producers[input] == i { deps.append(i) }
            }
            for sub in nodes[i].subgraphs {
                for name in sub.outerScopeReferences() {
                    if let p = producers[name] { deps.append(p) }
                }
            }
            return deps
        }
        var deps: [[Int]] = []
        deps.reserveCapacity(nodes.count)
        var inFileOrder = true
        for i in nodes.indices {
            let d = dependencies(i)
            if d.contains(where: { $0 >= i }) { inFileOrder = false }
            deps.append(d)
        }
        if inFileOrder { return Array(nodes.indices) }

        var indegree = [Int](repeating: 0, count: nodes.count)
        var dependents = [[Int]](repeating: [], count: nodes.count)
        for (i, d) in deps.enumerated() {
            for p in Set(d) {
                indegree[i] += 1
                dependents[p].append(i)
            }
        }
        // A binary min-heap of ready indices keeps the order as close to the file's as possible.
        var heap: [Int] = []
        func push(_ v: Int) {
            heap.append(v)
            var c = heap.count - 1
            while c > 0 {
                let p = (c - 1) / 2
                if heap[p] <= heap[c] { break }
                heap.swapAt(p, c)
                c = p
            }
        }
        func pop() -> Int {
            let top = heap[0]
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var p = 0
                while true {
                    let l = 2 * p + 1, r = l + 1
                    var m = p
                    if l < heap.count, heap[l] < heap[m] { m = l }
                    if r < heap.count, heap[r] < heap[m] { m = r }
                    if m == p { break }
                    heap.swapAt(p, m)
                    p = m
                }
            }
            return top
        }
        for i in nodes.indices where indegree[i] == 0 { push(i) }
        var order: [Int] = []
        order.reserveCapacity(nodes.count)
        while !heap.isEmpty {
            let i = pop()
            order.append(i)
            for j in dependents[i] {
                indegree[j] -= 1
                if indegree[j] == 0 { push(j) }
            }
        }
        if order.count < nodes.count {
            let stuck = nodes.indices.first { indegree[$0] > 0 }!
            throw EdgeError.badInput("graph '\(name)' has a cycle through node '\(nodes[stuck].displayName)' (\(nodes[stuck].opType))")
        }
        return order
    }
}
