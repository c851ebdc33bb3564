import EdgeIR

/// Activation memory of the main graph under a real schedule.
///
/// - Schedule: `Graph.topologicalOrder()` (file order for valid files).
/// - Activations are the runtime graph inputs and every node output that is not static (see
///   `ShapeInferenceResult.staticValues`: weights and what folds from them are not activations).
/// - A buffer is allocated when its producer runs (graph inputs before the first node) and freed
///   after its last consumer; graph outputs live to the end. Nodes that only reinterpret their
///   input (Reshape, Flatten, Squeeze, Unsqueeze, Identity, inference Dropout) share its buffer,
///   which then lives until the last consumer of either.
/// - `peakLiveBytes`: the largest sum of live buffers at any step, counting a node's outputs while
///   its inputs are still live — the ideal any allocator could reach.
/// - `arenaBytes`: the size of one arena when buffers are placed by greedy best-fit (smallest
///   free block that fits, adjacent free blocks merged, the arena grown at its end when nothing
///   fits), offsets aligned to 64 bytes — what a simple runtime planner actually needs.
/// - `naiveBytes`: every activation in its own buffer, nothing freed.
/// Values whose shape stays unknown are counted in `unsizedValues` and take 0 bytes.
public struct ActivationMemory: Sendable, Equatable {
    public var peakLiveBytes: Int
    public var arenaBytes: Int
    public var naiveBytes: Int
    public var activationCount: Int
    public var unsizedValues: Int
    /// The step (schedule position) and node at which the live set peaks.
    public var peakNode: String?

    static let alignment = 64
    static let aliasOps: Set<String> = ["Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"]

    public static func plan(graph: Graph, shapes: ShapeInferenceResult) throws -> ActivationMemory {
        let order = try graph.topologicalOrder()
        let steps = order.count
        func size(_ name: String) -> Int? {
            guard let t = shapes.types[name], let s = t.fixedShape, t.elementType.bitWidth > 0,
                  let n = DimMath.product(s), n < 1 << 56 else { return nil }
            return t.elementType.byteCount(elements: n)
        }
        // Buffers: index by value name; aliases map to their root's buffer.
        var bufferOf: [String: Int] = [:]
        var bufferSize: [Int] = []
        var birth: [Int] = []
        var death: [Int] = []
        var naive = 0
        var count = 0
        var unsized = 0
        func newBuffer(_ name: String, at step: Int) {
            let s = size(name)
            if s == nil { unsized += 1 }
            bufferOf[name] = bufferSize.count
            bufferSize.append(s ?? 0)
            birth.append(step)
            death.append(step)
            naive += s ?? 0
            count += 1
        }
        for input in graph.runtimeInputs where !shapes.staticValues.contains(input.name) {
            newBuffer(input.name, at: -1)
        }
        for (step, index) in order.enumerated() {
            let node = graph.nodes[index]
            // Uses (including values captured by subgraphs) extend lifetimes.
            var used = node.inputs.filter { !$0.isEmpty }
            for sub in node.subgraphs { used += sub.outerScopeReferences() }
            for name in used {
                if let b = bufferOf[name] { death[b] = max(death[b], step) }
            }
            for (k, out) in node.outputs.enumerated() where !out.isEmpty && !shapes.staticValues.contains(out) {
                if k == 0, aliasOps.contains(node.opType), node.isStandardDomain, let input = node.input(0),
                   let b = bufferOf[input], size(out) == bufferSize[b] {
                    bufferOf[out] = b
                    naive += size(out) ?? 0
                    count += 1
                    continue
                }
                newBuffer(out, at: step)
            }
        }
        for output in graph.outputs {
            if let b = bufferOf[output.name] { death[b] = steps }
        }

        // Events per step: allocate the step's new buffers, then free those whose last use is it.
        var allocAt = [[Int]](repeating: [], count: steps + 1)
        var freeAt = [[Int]](repeating: [], count: steps + 2)
        for b in bufferSize.indices {
            allocAt[birth[b] + 1].append(b)
            freeAt[death[b] + 1].append(b)
        }
        var arena = BestFitArena(alignment: alignment)
        var offsets = [Int](repeating: 0, count: bufferSize.count)
        var live = 0
        var peak = 0
        var peakStep = -1
        for t in 0...steps {
            for b in allocAt[t] {
                offsets[b] = arena.allocate(bufferSize[b])
                live += bufferSize[b]
            }
            if live > peak {
                peak = live
                peakStep = t - 1
            }
            for b in freeAt[t] {
                arena.free(offset: offsets[b], size: bufferSize[b])
                live -= bufferSize[b]
            }
        }
        for b in freeAt[steps + 1] { arena.free(offset: offsets[b], size: bufferSize[b]) }
        let peakNode = peakStep >= 0 && peakStep < steps ? graph.nodes[order[peakStep]].displayName : (peakStep < 0 ? "(inputs)" : nil)
        return ActivationMemory(peakLiveBytes: peak, arenaBytes: arena.highWater, naiveBytes: naive,
                                activationCount: count, unsizedValues: unsized, peakNode: peakNode)
    }
}

/// A best-fit allocator over one growable arena: free blocks sorted by offset, merged when
/// adjacent; allocation takes the smallest block that fits, else grows the arena (reusing a
/// free block that ends at the current top).
struct BestFitArena {
    let alignment: Int
    private(set) var highWater = 0
    private var free: [(offset: Int, size: Int)] = []

    init(alignment: Int) { self.alignment = alignment }

    private func aligned(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    mutating func allocate(_ requested: Int) -> Int {
        let size = aligned(requested)
        guard size > 0 else { return 0 }
        var best: Int? = nil
        for (i, block) in free.enumerated() where block.size >= size {
            if best == nil || block.size < free[best!].size { best = i }
        }
        if let i = best {
            let offset = free[i].offset
            if free[i].size == size { free.remove(at: i) } else { free[i] = (offset + size, free[i].size - size) }
            return offset
        }
        // Nothing fits: grow, absorbing a free block at the top of the arena.
        if let last = free.last, last.offset + last.size == highWater {
            free.removeLast()
            highWater = last.offset + size
            return last.offset
        }
        let offset = highWater
        highWater += size
        return offset
    }

    mutating func free(offset: Int, size requested: Int) {
        let size = aligned(requested)
        guard size > 0 else { return }
        var i = 0
        while i < free.count, free[i].offset < offset { i += 1 }
        free.insert((offset, size), at: i)
        // Merge with the next, then the previous neighbour.
        if i + 1 < free.count, free[i].offset + free[i].size == free[i + 1].offset {
            free[i].size += free[i + 1].size
            free.remove(at: i + 1)
        }
        if i > 0, free[i - 1].offset + free[i - 1].size == free[i].offset {
            free[i - 1].size += free[i].size
            free.remove(at: i)
        }
    }
}
