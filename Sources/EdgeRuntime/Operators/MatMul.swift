import EdgeIR
import EdgeKernels
import Foundation

/// Gemm, MatMul and Einsum. Float32 runs on the EdgeKernels SGEMM (constant right operands packed
/// once at compile time, Gemm's bias fused as a per-column epilogue when it is a row vector);
/// float16/bfloat16/double compute in float32 and round; integer MatMul accumulates exactly in
/// 64 bits and wraps to the element type.
enum MatMulOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("Gemm") { b in try GemmKernel(b) },
        OperatorSpec("MatMul") { b in try MatMulKernel(b) },
        OperatorSpec("Einsum") { b in
            guard let equation = b.string("equation") else { throw b.error("attribute 'equation' is missing") }
            return ClosureKernel { i, c in [try Einsum.evaluate(equation, i.compactMap { $0 }, c)] }
        },
    ]
}

final class GemmKernel: TensorKernel, BakesConstants, @unchecked Sendable {
    // @unchecked: `activation` and `constantB` change only while the session compiles (fusion,
    // `bake()`), before the kernel is shared.
    let alpha: Float, beta: Float
    let transA: Bool, transB: Bool
    /// Constant B packed for the kernels (k × n after transB).
    let packedB: PackedMatrix?
    /// The float constant B, released by `bake()` (the packed copy is all `compute` needs).
    private(set) var constantB: Tensor?
    /// Shape of the constant B as stored (before transB).
    let constantBShape: [Int]?
    let constantC: Tensor?
    /// Fused activation applied in the SGEMM epilogue (see KernelFusion).
    private(set) var activation: Activation = .none
    /// Input 3 is a residual z added after C and before the activation (a fused Add, from the
    /// session's fusion or `ai.edgeopt::FusedGemm`'s fourth input): y = act(α·A·B + β·C + z).
    private(set) var addsResidual = false

    func with(activation: Activation) -> GemmKernel {
        let copy = GemmKernel(copying: self)
        copy.activation = activation
        return copy
    }

    func withResidual() -> GemmKernel {
        let copy = GemmKernel(copying: self)
        copy.addsResidual = true
        return copy
    }

    private init(copying o: GemmKernel) {
        alpha = o.alpha; beta = o.beta; transA = o.transA; transB = o.transB
        packedB = o.packedB; constantB = o.constantB; constantBShape = o.constantBShape; constantC = o.constantC
        activation = o.activation; addsResidual = o.addsResidual
    }

    var bakedInputs: [Int] { packedB != nil ? [1] : [] }
    func bake(_ options: SessionOptions) { if packedB != nil { constantB = nil } }
    var bakedBytes: Int { (packedB?.byteCount ?? 0) + (constantC?.byteCount ?? 0) }

    init(_ b: KernelBuildContext) throws {
        alpha = b.float("alpha", 1)
        beta = b.float("beta", 1)
        transA = b.int("transA", 0) != 0
        transB = b.int("transB", 0) != 0
        constantC = b.constantInput(2).map { HalfRounding.float32($0) }
        if let w = b.constantInput(1), w.rank == 2, w.dtype.isFloatingPoint {
            let wf = HalfRounding.float32(w)
            constantB = wf
            let (k, n) = transB ? (w.shape[1], w.shape[0]) : (w.shape[0], w.shape[1])
            packedB = PackedMatrix(packingB: wf.pointer(Float.self), k: k, n: n, ldb: w.shape[1], transposed: transB)
            constantBShape = w.shape
        } else {
            constantB = nil
            packedB = nil
            constantBShape = nil
        }
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let inputA = try i.required(0, c)
        let a = try inputA.asFloat32(c)
        let b: Tensor? = packedB != nil ? nil : try constantB ?? i.required(1, c).asFloat32(c)
        let bShape = constantBShape ?? b!.shape
        guard a.rank == 2, bShape.count == 2 else { throw EdgeError.badInput("\(c.nodeDescription): A and B must be 2-D, got \(a.shape) and \(bShape)") }
        let (m, k) = transA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (kb, n) = transB ? (bShape[1], bShape[0]) : (bShape[0], bShape[1])
        guard k == kb else { throw EdgeError.badInput("\(c.nodeDescription): inner dimensions differ: A \(a.shape), B \(bShape)") }
        let bias = try constantC ?? i.optional(2)?.asFloat32(c)
        // The residual is added after the GEMM's own epilogue, so the activation waits for it.
        let z = addsResidual ? try i.required(3, c) : nil
        let gemmActivation = z == nil ? activation : .none
        let out = try c.allocate(.float, [m, n])
        let po = out.mutablePointer(Float.self)
        var gemmBeta: Float = 0
        var epilogue = Epilogue(activation: gemmActivation)
        if let bias, beta != 0 {
            let plan = try BroadcastPlan([bias.shape, [m, n]], what: c.nodeDescription)
            guard plan.outputShape == [m, n] else { throw EdgeError.badInput("\(c.nodeDescription): C \(bias.shape) does not broadcast to [\(m), \(n)]") }
            if beta == 1 && bias.elementCount == n && (bias.rank == 1 || bias.shape[0] == 1) && n > 1 {
                epilogue = Epilogue(bias: .perColumn(bias.pointer(Float.self)), activation: gemmActivation)
            } else {
                // C broadcast into the output; the GEMM then accumulates onto beta·C.
                Elementwise.binary(bias.pointer(Float.self), po, po, plan: plan) { x, _ in x }
                gemmBeta = beta
            }
        }
        withExtendedLifetime((a, b, bias)) {
            if let packedB {
                Kernels.sgemm(transA: transA, m: m, alpha: alpha, a: a.pointer(Float.self), lda: a.shape[1], packedB: packedB,
                              beta: gemmBeta, c: po, ldc: n, epilogue: epilogue, pool: c.kernelPool)
            } else if let b {
                Kernels.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a.pointer(Float.self), lda: a.shape[1],
                              b: b.pointer(Float.self), ldb: b.shape[1], beta: gemmBeta, c: po, ldc: n, epilogue: epilogue, pool: c.kernelPool)
            }
        }
        if let z {
            guard z.dtype == .float, inputA.dtype == .float, z.shape == [m, n] else {
                return [try ResidualTail.separate(out, dtype: inputA.dtype, z: z, activation: activation, c)]
            }
            withExtendedLifetime(z) {
                Kernels.addResidual(po, z.pointer(Float.self), count: m * n, activation: activation, pool: c.kernelPool)
            }
            return [out]
        }
        return [inputA.dtype == .float ? out : try CastOperators.cast(out, to: inputA.dtype, c)]
    }
}

final class MatMulKernel: TensorKernel {
    let packedB: PackedMatrix?
    let constantB: Tensor?

    init(_ b: KernelBuildContext) throws {
        if let w = b.constantInput(1), w.rank == 2, w.dtype == .float {
            constantB = w
            packedB = PackedMatrix(packingB: w.pointer(Float.self), k: w.shape[0], n: w.shape[1], ldb: w.shape[1])
        } else {
            constantB = nil
            packedB = nil
        }
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let a0 = try i.required(0, c), b0 = try constantB ?? i.required(1, c)
        guard a0.dtype == b0.dtype else { throw EdgeError.badInput("\(c.nodeDescription): A is \(a0.dtype), B is \(b0.dtype)") }
        guard a0.rank >= 1, b0.rank >= 1 else { throw EdgeError.badInput("\(c.nodeDescription): inputs must have rank ≥ 1") }
        // NumPy matmul: 1-D operands get a dimension prepended (A) / appended (B), removed after.
        let a = a0.rank == 1 ? a0.reshaped([1, a0.shape[0]]) : a0
        let b = b0.rank == 1 ? b0.reshaped([b0.shape[0], 1]) : b0
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1], kb = b.shape[b.rank - 2], n = b.shape[b.rank - 1]
        guard k == kb else { throw EdgeError.badInput("\(c.nodeDescription): inner dimensions differ: \(a0.shape) × \(b0.shape)") }
        let batchPlan = try BroadcastPlan([Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2))], what: c.nodeDescription)
        var shape = batchPlan.outputShape + [m, n]
        let batches = batchPlan.outputCount
        // Batch offsets of A and B for each output batch.
        var aBatch = [Int](), bBatch = [Int]()
        aBatch.reserveCapacity(batches); bBatch.reserveCapacity(batches)
        batchPlan.forEachRun { _, offsets, count, inner in
            for j in 0..<count { aBatch.append(offsets[0] + j * inner[0]); bBatch.append(offsets[1] + j * inner[1]) }
        }
        if a0.rank == 1 { shape.remove(at: shape.count - 2) }
        if b0.rank == 1 { shape.removeLast() }
        if a.dtype.isInteger {
            let out = try c.allocate(a.dtype, shape)
            let av = a.int64Values() ?? [], bv = b.dtype == .uint64 ? b.scalars(as: UInt64.self).map { Int64(bitPattern: $0) } : (b.int64Values() ?? [])
            var result = [Int64](repeating: 0, count: batches * m * n)
            for bt in 0..<batches {
                for r in 0..<m { for col in 0..<n {
                    var s: Int64 = 0
                    for p in 0..<k { s &+= av[aBatch[bt] * m * k + r * k + p] &* bv[bBatch[bt] * k * n + p * n + col] }
                    result[(bt * m + r) * n + col] = s
                } }
            }
            return [try CastOperators.storeIntegers(result, as: a.dtype, shape: shape, c).reshaped(out.shape)]
        }
        let af = try a.asFloat32(c), bf = try b.asFloat32(c)
        let out = try c.allocate(.float, shape)
        let pa = af.pointer(Float.self), pb = bf.pointer(Float.self), po = out.mutablePointer(Float.self)
        withExtendedLifetime((af, bf)) {
            // Consecutive A batches against one shared B (B broadcast): one tall GEMM.
            if bBatch.allSatisfy({ $0 == bBatch.first }), aBatch.enumerated().allSatisfy({ $0.element == $0.offset }), batches > 0 {
                let rows = batches * m
                if let packedB {
                    Kernels.sgemm(m: rows, a: pa, lda: k, packedB: packedB, c: po, ldc: n, pool: c.kernelPool)
                } else {
                    Kernels.sgemm(m: rows, n: n, k: k, a: pa, lda: k, b: pb + bBatch[0] * k * n, ldb: n, c: po, ldc: n, pool: c.kernelPool)
                }
            } else {
                for bt in 0..<batches {
                    Kernels.sgemm(m: m, n: n, k: k, a: pa + aBatch[bt] * m * k, lda: k, b: pb + bBatch[bt] * k * n, ldb: n,
                                  c: po + bt * m * n, ldc: n, pool: c.kernelPool)
                }
            }
        }
        return [a0.dtype == .float ? out : try CastOperators.cast(out, to: a0.dtype, c)]
    }
}

/// Einsum by explicit index iteration: parse "ab,bc->ac" (with "..." broadcasting), enumerate every
/// combination of output and summed indices. Meant for the small contractions exporters emit.
enum Einsum {
    static func evaluate(_ equation: String, _ inputs: [Tensor], _ c: ExecutionContext) throws -> Tensor {
        let eq = equation.replacingOccurrences(of: " ", with: "")
        let sides = eq.components(separatedBy: "->")
        let lhs = sides[0].components(separatedBy: ",")
        guard lhs.count == inputs.count else { throw EdgeError.badInput("\(c.nodeDescription): equation has \(lhs.count) operands, got \(inputs.count) inputs") }
        // Expand "..." into private letters (uppercase reserved range after the used ones).
        let ellipsisRank = try zip(lhs, inputs).map { term, t -> Int in
            let letters = term.replacingOccurrences(of: "...", with: "").count
            return term.contains("...") ? t.rank - letters : (t.rank == letters ? 0 : -1)
        }
        guard !ellipsisRank.contains(where: { $0 < 0 }) else { throw EdgeError.badInput("\(c.nodeDescription): operand ranks do not match '\(equation)'") }
        let maxEllipsis = ellipsisRank.max() ?? 0
        let ellipsisLetters = (0..<maxEllipsis).map { Character(UnicodeScalar(0x391 + $0)!) }  // Greek capitals
        func expand(_ term: String, _ r: Int) -> [Character] {
            guard let range = term.range(of: "...") else { return Array(term) }
            return Array(term[..<range.lowerBound]) + Array(ellipsisLetters.suffix(r)) + Array(term[range.upperBound...])
        }
        let terms = zip(lhs, ellipsisRank).map { expand($0, $1) }
        var output: [Character]
        if sides.count > 1 {
            output = expand(sides[1], maxEllipsis)
        } else {
            var counts: [Character: Int] = [:]
            for t in terms { for ch in t { counts[ch, default: 0] += 1 } }
            output = ellipsisLetters + counts.filter { $0.value == 1 && !ellipsisLetters.contains($0.key) }.keys.sorted()
        }
        var size: [Character: Int] = [:]
        for (t, x) in zip(terms, inputs) {
            for (k, ch) in t.enumerated() {
                let d = x.shape[k]
                if let s = size[ch], s != d, s != 1, d != 1 { throw EdgeError.badInput("\(c.nodeDescription): dimension '\(ch)' is \(s) and \(d)") }
                size[ch] = Swift.max(size[ch] ?? 1, d)
            }
        }
        let summed = Array(Set(terms.flatMap { $0 }).subtracting(output)).sorted()
        let all = output + summed
        let dims = all.map { size[$0] ?? 1 }
        let values = try inputs.map { try CastOperators.readFloatsOrInts($0, c) }
        let strides = zip(terms, inputs).map { t, x -> [Int] in
            let s = Shapes.strides(x.shape)
            return all.map { ch in
                var total = 0
                for (k, tc) in t.enumerated() where tc == ch && x.shape[k] != 1 { total += s[k] }
                return total
            }
        }
        let outCount = Shapes.product(output.map { size[$0] ?? 1 }), sumCount = Shapes.product(summed.map { size[$0] ?? 1 })
        var result = [Double](repeating: 0, count: outCount)
        var counter = [Int](repeating: 0, count: all.count)
        for linear in 0..<(outCount * sumCount) {
            var product = 1.0
            for (k, v) in values.enumerated() {
                var off = 0
                for d in 0..<all.count { off += counter[d] * strides[k][d] }
                product *= v[off]
            }
            result[linear / Swift.max(sumCount, 1)] += product
            var d = all.count - 1
            while d >= 0 {
                counter[d] += 1
                if counter[d] < dims[d] { break }
                counter[d] = 0
                d -= 1
            }
        }
        let out = try c.allocate(inputs[0].dtype, output.map { size[$0] ?? 1 })
        try CastOperators.storeDoubles(result, into: out, c)
        return out
    }
}
