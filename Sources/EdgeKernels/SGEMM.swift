extension Kernels {
    /// C = alpha·op(A)·op(B) + beta·C, then `epilogue` (bias, activation). Row-major:
    /// op(A) is m × k (`a[i·lda + p]`, or `a[p·lda + i]` if `transA`), op(B) is k × n
    /// (`b[p·ldb + j]`, or `b[j·ldb + p]` if `transB`), C is m × n (`c[i·ldc + j]`).
    /// beta == 0 means C is not read (NaN in C does not leak through). `pool` nil = calling thread only.
    public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                             alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int,
                             epilogue: Epilogue = .none, pool: ThreadPool? = nil, isa: KernelISA? = nil) {
        GEMMDriver(ks: KernelSet.forISA(isa), m: m, n: n, k: k, alpha: alpha,
                   a: .raw(a, ld: lda, trans: transA), b: .raw(b, ld: ldb, trans: transB),
                   output: .float(c, ldc: ldc, beta: beta, epilogue), pool: pool).run()
    }

    /// As `sgemm`, with the right operand pre-packed (`PackedMatrix(packingB:…)`, role `.b`,
    /// shape k × n). Runs on the ISA `b` was packed for.
    public static func sgemm(transA: Bool = false, m: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                             packedB b: PackedMatrix, beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int,
                             epilogue: Epilogue = .none, pool: ThreadPool? = nil) {
        precondition(b.role == .b, "PackedMatrix must be packed as a right operand")
        GEMMDriver(ks: b.kernels, m: m, n: b.cols, k: b.rows, alpha: alpha,
                   a: .raw(a, ld: lda, trans: transA), b: .packed(b),
                   output: .float(c, ldc: ldc, beta: beta, epilogue), pool: pool).run()
    }

    /// As `sgemm`, with the left operand pre-packed (`PackedMatrix(packingA:…)`, role `.a`,
    /// shape m × k). Runs on the ISA `a` was packed for.
    public static func sgemm(packedA a: PackedMatrix, transB: Bool = false, n: Int, alpha: Float = 1,
                             b: UnsafePointer<Float>, ldb: Int, beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int,
                             epilogue: Epilogue = .none, pool: ThreadPool? = nil) {
        precondition(a.role == .a, "PackedMatrix must be packed as a left operand")
        GEMMDriver(ks: a.kernels, m: a.rows, n: n, k: a.cols, alpha: alpha,
                   a: .packed(a), b: .raw(b, ld: ldb, trans: transB),
                   output: .float(c, ldc: ldc, beta: beta, epilogue), pool: pool).run()
    }

    /// Applies `epilogue` in place to an m × n row-major block (for ops that produce their output
    /// another way but want the same fused bias + activation).
    public static func applyEpilogue(_ c: UnsafeMutablePointer<Float>, m: Int, n: Int, ldc: Int, epilogue: Epilogue,
                                     isa: KernelISA? = nil) {
        let ks = KernelSet.forISA(isa)
        let (code, p0, p1) = epilogue.activation.encoded
        for i in 0..<m {
            var rowBias: Float = 0
            var colBias: UnsafePointer<Float>? = nil
            switch epilogue.bias {
            case .none: break
            case let .perRow(bias): rowBias = bias[i]
            case let .perColumn(bias): colBias = bias
            }
            ks.epilogueRow(c + i * ldc, n, rowBias, colBias, code, p0, p1)
        }
    }
}
