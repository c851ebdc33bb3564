/// A constant GEMM operand packed once into the micro-kernel's panel layout (weights packed at
/// session compile time). Packing depends on the ISA's tile shape, so a `PackedMatrix` is used
/// with the ISA it was packed for (`isa`).
///
/// Layout: the K dimension is cut into blocks of `kc`; k-block starting at p0 holds, for each
/// panel of `panelWidth` rows (role A) or columns (role B), `kcb × panelWidth` floats k-major.
/// That block starts at `p0 · roundedExtent`, its panel q at `+ q · panelWidth · kcb`.
public final class PackedMatrix: @unchecked Sendable {
    // @unchecked Sendable: the storage is written only in init and read-only afterwards.
    public enum Role: Sendable { case a, b }

    public let role: Role
    /// Logical shape of the packed operand: A is m × k, B is k × n.
    public let rows: Int, cols: Int
    public let isa: KernelISA
    let kc: Int
    let panelWidth: Int
    /// m (role A) or n (role B) rounded up to a multiple of `panelWidth`.
    let roundedExtent: Int
    let storage: UnsafeMutablePointer<Float>
    let kernels: KernelSet

    /// Packs op(A) (m × k; `a[i·lda + p]`, or `a[p·lda + i]` when `transposed`) as a left operand.
    public init(packingA a: UnsafePointer<Float>, m: Int, k: Int, lda: Int, transposed: Bool = false, isa: KernelISA? = nil) {
        let ks = KernelSet.forISA(isa)
        kernels = ks
        role = .a; rows = m; cols = k; self.isa = ks.isa; kc = ks.kc; panelWidth = ks.mr
        roundedExtent = (m + ks.mr - 1) / ks.mr * ks.mr
        storage = .allocate(capacity: max(1, roundedExtent * k))
        var p0 = 0
        while p0 < k {
            let kcb = min(kc, k - p0)
            packAPanels(a, lda: lda, trans: transposed, i0: 0, rows: m, p0: p0, kcb: kcb, mr: ks.mr, alpha: 1,
                        into: storage + p0 * roundedExtent)
            p0 += kcb
        }
    }

    /// Packs op(B) (k × n; `b[p·ldb + j]`, or `b[j·ldb + p]` when `transposed`) as a right operand.
    public init(packingB b: UnsafePointer<Float>, k: Int, n: Int, ldb: Int, transposed: Bool = false, isa: KernelISA? = nil) {
        let ks = KernelSet.forISA(isa)
        kernels = ks
        role = .b; rows = k; cols = n; self.isa = ks.isa; kc = ks.kc; panelWidth = ks.nr
        roundedExtent = (n + ks.nr - 1) / ks.nr * ks.nr
        storage = .allocate(capacity: max(1, roundedExtent * k))
        var p0 = 0
        while p0 < k {
            let kcb = min(kc, k - p0)
            ks.packB(b, ldb, transposed, p0, kcb, 0, n, ks.nr, 1, storage + p0 * roundedExtent)
            p0 += kcb
        }
    }

    /// Bytes held by the packed copy (for memory accounting).
    public var byteCount: Int { max(1, roundedExtent * (role == .a ? cols : rows)) * MemoryLayout<Float>.stride }

    deinit { storage.deallocate() }

    /// Element (i, p) of the logical operand (A: row i, column p; B: row p, column i), read back
    /// from the panels (the inverse of the packing; for recovering weights, not for kernels).
    func element(_ i: Int, _ p: Int) -> Float {
        let k = role == .a ? cols : rows
        let p0 = p / kc * kc, kcb = Swift.min(kc, k - p0)
        return storage[p0 * roundedExtent + (i / panelWidth) * panelWidth * kcb + (p - p0) * panelWidth + i % panelWidth]
    }

    /// Start of the panels for k-block `p0` (length `kcb`) at row/column `index` (a multiple of panelWidth).
    @inline(__always) func panels(p0: Int, kcb: Int, index: Int) -> UnsafePointer<Float> {
        UnsafePointer(storage + p0 * roundedExtent + (index / panelWidth) * panelWidth * kcb)
    }
}
