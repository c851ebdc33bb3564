import EdgeIR

/// Sequences and optionals, as Loop bodies and exporters use them: SequenceEmpty
/// SequenceConstruct SequenceInsert SequenceAt SequenceErase SequenceLength ConcatFromSequence
/// SplitToSequence, Optional OptionalHasElement OptionalGetElement.
enum SequenceOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("SequenceEmpty") { b in
            let dtype = b.int("dtype").flatMap { DType(rawValue: $0) } ?? .float
            return ValueClosureKernel { _, _ in [.sequence([], elementType: dtype)] }
        },
        OperatorSpec("SequenceConstruct") { _ in
            ValueClosureKernel { i, c in
                let tensors = try i.map { v -> Tensor in
                    guard let t = v?.tensor else { throw EdgeError.badInput("\(c.nodeDescription): inputs must be tensors") }
                    return t
                }
                return [.sequence(tensors, elementType: tensors.first?.dtype ?? .float)]
            }
        },
        OperatorSpec("SequenceInsert") { _ in
            ValueClosureKernel { i, c in
                var (seq, dtype) = try sequence(i, 0, c)
                guard let t = i.count > 1 ? i[1]?.tensor : nil else { throw EdgeError.badInput("\(c.nodeDescription): tensor input missing") }
                var at = seq.count
                if i.count > 2, let p = i[2]?.tensor?.int64Values()?.first { at = try position(Int(p), count: seq.count, inclusive: true, c) }
                seq.insert(t, at: at)
                if seq.count == 1 { dtype = t.dtype }
                return [.sequence(seq, elementType: dtype)]
            }
        },
        OperatorSpec("SequenceAt") { _ in
            ValueClosureKernel { i, c in
                let (seq, _) = try sequence(i, 0, c)
                guard let p = i.count > 1 ? i[1]?.tensor?.int64Values()?.first : nil else { throw EdgeError.badInput("\(c.nodeDescription): position missing") }
                return [.tensor(seq[try position(Int(p), count: seq.count, inclusive: false, c)])]
            }
        },
        OperatorSpec("SequenceErase") { _ in
            ValueClosureKernel { i, c in
                var (seq, dtype) = try sequence(i, 0, c)
                var at = seq.count - 1
                if i.count > 1, let p = i[1]?.tensor?.int64Values()?.first { at = try position(Int(p), count: seq.count, inclusive: false, c) }
                guard at >= 0 else { throw EdgeError.badInput("\(c.nodeDescription): sequence is empty") }
                seq.remove(at: at)
                return [.sequence(seq, elementType: dtype)]
            }
        },
        OperatorSpec("SequenceLength") { _ in
            ValueClosureKernel { i, c in [.tensor(Tensor.scalar(Int64(try sequence(i, 0, c).0.count)))] }
        },
        OperatorSpec("ConcatFromSequence") { b in
            guard let axisAttr = b.int("axis") else { throw b.error("attribute 'axis' is missing") }
            let newAxis = b.int("new_axis", 0) != 0
            return ValueClosureKernel { i, c in
                let (seq, _) = try sequence(i, 0, c)
                guard let first = seq.first else { throw EdgeError.badInput("\(c.nodeDescription): sequence is empty") }
                if newAxis {
                    let axis = try Shapes.axis(axisAttr, rank: first.rank + 1, c.nodeDescription)
                    let parts = seq.map { t -> Tensor in var s = t.shape; s.insert(1, at: axis); return t.reshaped(s) }
                    return [.tensor(try ShapeOperators.concat(parts, axis: axis, c))]
                }
                return [.tensor(try ShapeOperators.concat(seq, axis: axisAttr, c))]
            }
        },
        OperatorSpec("SplitToSequence") { b in
            let axisAttr = b.int("axis", 0), keepDims = b.int("keepdims", 1) != 0
            return ValueClosureKernel { i, c in
                guard let x = i.first??.tensor else { throw EdgeError.badInput("\(c.nodeDescription): input missing") }
                let axis = try Shapes.axis(axisAttr, rank: x.rank, c.nodeDescription)
                var sizes: [Int]
                var squeeze = false
                if i.count > 1, let split = i[1]?.tensor {
                    let v = try ShapeOperators.intValues(split, c, "split")
                    if split.rank == 0 {
                        let chunk = Swift.max(v[0], 1), d = x.shape[axis]
                        sizes = stride(from: 0, to: d, by: chunk).map { Swift.min(chunk, d - $0) }
                    } else { sizes = v }
                } else {
                    sizes = Array(repeating: 1, count: x.shape[axis])
                    squeeze = !keepDims
                }
                guard sizes.reduce(0, +) == x.shape[axis] else { throw EdgeError.badInput("\(c.nodeDescription): split does not sum to the axis length") }
                var parts: [Tensor] = []
                var start = 0
                for s in sizes {
                    var t = try ShapeOperators.slice(x, starts: [start], ends: [start + s], axes: [axis], steps: [1], c)
                    if squeeze { var shape = t.shape; shape.remove(at: axis); t = t.reshaped(shape) }
                    parts.append(t)
                    start += s
                }
                return [.sequence(parts, elementType: x.dtype)]
            }
        },
        OperatorSpec("Optional") { _ in
            ValueClosureKernel { i, _ in [.optional(i.first ?? nil)] }
        },
        OperatorSpec("OptionalHasElement") { _ in
            ValueClosureKernel { i, _ in
                var has = false
                if let v = i.first ?? nil {
                    if case .optional(let inner) = v { has = inner != nil } else { has = true }
                }
                return [.tensor(Tensor.scalar(has))]
            }
        },
        OperatorSpec("OptionalGetElement") { _ in
            ValueClosureKernel { i, c in
                guard let v = i.first ?? nil else { throw EdgeError.badInput("\(c.nodeDescription): input missing") }
                if case .optional(let inner) = v {
                    guard let inner else { throw EdgeError.badInput("\(c.nodeDescription): the optional is empty") }
                    return [inner]
                }
                return [v]
            }
        },
    ]

    static func sequence(_ i: [Value?], _ k: Int, _ c: ExecutionContext) throws -> ([Tensor], DType) {
        guard k < i.count, let v = i[k] else { throw EdgeError.badInput("\(c.nodeDescription): sequence input missing") }
        switch v {
        case .sequence(let s, let e): return (s, e)
        case .optional(.some(.sequence(let s, let e))): return (s, e)
        default: throw EdgeError.badInput("\(c.nodeDescription): input \(k) is a \(v.kindDescription), expected a sequence")
        }
    }

    static func position(_ p: Int, count: Int, inclusive: Bool, _ c: ExecutionContext) throws -> Int {
        let at = p < 0 ? p + count : p
        guard at >= 0 && (inclusive ? at <= count : at < count) else {
            throw EdgeError.badInput("\(c.nodeDescription): position \(p) is out of range for a sequence of \(count)")
        }
        return at
    }
}
