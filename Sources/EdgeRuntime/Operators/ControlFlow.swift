import EdgeIR

/// If and Loop. Branches and bodies are compiled once with the node (their operators validated
/// with the model's); at run time they execute in the enclosing scope, reading outer values by name.
enum ControlFlowOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("If") { b in
            let thenBranch = try b.compileSubgraph(attribute: "then_branch")
            let elseBranch = try b.compileSubgraph(attribute: "else_branch")
            return ValueClosureKernel { i, c in
                guard let cond = i.first??.tensor, cond.elementCount == 1, let flag = cond.doubleValues().first else {
                    throw EdgeError.badInput("\(c.nodeDescription): cond must be a one-element tensor")
                }
                return try c.runSubgraph(flag != 0 ? thenBranch : elseBranch, inputs: []).map { $0 }
            }
        },
        OperatorSpec("Loop") { b in
            let body = try b.compileSubgraph(attribute: "body")
            let carried = b.node.inputs.count - 2
            guard carried >= 0 else { throw b.error("Loop needs M and cond inputs (possibly empty)") }
            return ValueClosureKernel { i, c in
                let maxTrips: Int64? = i.count > 0 ? i[0]?.tensor?.int64Values()?.first : nil
                var cond = true
                if i.count > 1, let t = i[1]?.tensor { cond = (t.doubleValues().first ?? 0) != 0 }
                var state: [Value?] = Array(i.dropFirst(2))
                guard body.inputs.count == 2 + carried else {
                    throw EdgeError.badInput("\(c.nodeDescription): body takes \(body.inputs.count) inputs, expected \(2 + carried)")
                }
                let scanCount = body.outputs.count - 1 - carried
                guard scanCount >= 0 else { throw EdgeError.badInput("\(c.nodeDescription): body returns too few outputs") }
                var scans = [[Tensor]](repeating: [], count: scanCount)
                var trip: Int64 = 0
                while cond && (maxTrips == nil || trip < maxTrips!) {
                    let outputs = try c.runSubgraph(body, inputs: [.tensor(Tensor.scalar(trip)), .tensor(Tensor.scalar(cond))] + state)
                    if let t = outputs[0].tensor { cond = (t.doubleValues().first ?? 0) != 0 }
                    state = Array(outputs[1..<(1 + carried)])
                    for k in 0..<scanCount {
                        guard let t = outputs[1 + carried + k].tensor else {
                            throw EdgeError.badInput("\(c.nodeDescription): scan output \(k) is not a tensor")
                        }
                        scans[k].append(t)
                    }
                    trip += 1
                    if trip > Int64(ExecutionContext.maxElements) { throw EdgeError.badInput("\(c.nodeDescription): loop does not terminate") }
                }
                var results = state
                for k in 0..<scanCount {
                    results.append(.tensor(try stack(scans[k], elementType: body.outputDType(1 + carried + k), c)))
                }
                return results
            }
        },
    ]

    /// Stacks equally shaped tensors along a new leading axis.
    static func stack(_ tensors: [Tensor], elementType: DType?, _ c: ExecutionContext) throws -> Tensor {
        guard let first = tensors.first else { return Tensor(zeros: elementType ?? .float, shape: [0]) }
        for t in tensors where t.shape != first.shape || t.dtype != first.dtype {
            throw EdgeError.badInput("\(c.nodeDescription): scan outputs differ in shape (\(first.shape) vs \(t.shape))")
        }
        let parts = tensors.map { $0.reshaped([1] + $0.shape) }
        return try ShapeOperators.concat(parts, axis: 0, c)
    }
}

extension CompiledGraph {
    /// Declared element type of output `k`, when the graph declares it.
    func outputDType(_ k: Int) -> DType? { outputTypes[k] }
}
