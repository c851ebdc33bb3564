import EdgeIR
import EdgeKernels
import Foundation

/// ONNX Runtime's `com.microsoft::MatMulNBits` (contrib opset 1): A · dequant(B) (+ bias), with B
/// quantized block-wise along K to `bits` ∈ {2, 4, 8}:
///
///     dequant(B)[k, n] = (code[n, k] − zp[n, k / block_size]) · scale[n, k / block_size]
///
/// B is uint8 [N, k_blocks, blob_size] (blob_size = block_size·bits/8), codes packed low bits first
/// along K; scales [N, k_blocks] (or flat [N·k_blocks], the older form) in A's type; zero points
/// either packed uint8 [N, ⌈k_blocks·bits/8⌉] (or flat), or unpacked in A's type [N, k_blocks];
/// default 2^(bits−1). Inputs 4 (g_idx, deprecated) must be absent; input 5 is an optional bias [N].
/// A is [..., K]; Y is [..., N].
///
/// Constant weights (the normal case) are dequantized once when the session compiles and packed
/// for the SGEMM; the bias is fused into its epilogue.
enum MatMulNBitsOperators {
    static let domain = "com.microsoft"
    static let operators: [OperatorSpec] = [
        OperatorSpec("MatMulNBits", domain: domain, versions: 1...1) { b in try MatMulNBitsKernel(b) },
    ]
}

final class MatMulNBitsKernel: TensorKernel {
    let k: Int, n: Int, bits: Int, blockSize: Int
    /// Dequantized constant B ([K, N] float32) and its packed form.
    let constantB: Tensor?
    let packedB: PackedMatrix?

    init(_ b: KernelBuildContext) throws {
        guard let k = b.int("K"), let n = b.int("N"), let blockSize = b.int("block_size") else {
            throw b.error("attributes K, N and block_size are required")
        }
        let bits = b.int("bits", 4)
        guard k > 0, n > 0, k <= 1 << 24, n <= 1 << 24 else { throw b.error("K = \(k), N = \(n) out of range") }
        guard [2, 4, 8].contains(bits) else { throw b.error("bits = \(bits) is not supported (2, 4 or 8)") }
        guard blockSize >= 16, blockSize & (blockSize - 1) == 0 else { throw b.error("block_size \(blockSize) must be a power of two ≥ 16") }
        if b.hasInput(4) { throw b.error("input g_idx (deprecated) is not supported") }
        self.k = k; self.n = n; self.bits = bits; self.blockSize = blockSize
        if let bq = b.constantInput(1), let scales = b.constantInput(2), !b.hasInput(3) || b.constantInput(3) != nil {
            let w = try MatMulNBitsKernel.dequantize(bq, scales, b.constantInput(3), k: k, n: n, bits: bits, blockSize: blockSize, b.nodeDescription)
            constantB = w
            packedB = PackedMatrix(packingB: w.pointer(Float.self), k: k, n: n, ldb: n)
        } else {
            constantB = nil
            packedB = nil
        }
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let input = try i.required(0, c)
        let a = try input.asFloat32(c)
        guard a.rank >= 1, a.shape[a.rank - 1] == k else {
            throw EdgeError.badInput("\(c.nodeDescription): A has shape \(a.shape); its last dimension must be K = \(k)")
        }
        let w = try constantB ?? MatMulNBitsKernel.dequantize(i.required(1, c), i.required(2, c), i.optional(3),
                                                              k: k, n: n, bits: bits, blockSize: blockSize, c.nodeDescription)
        let bias = try i.optional(5)?.asFloat32(c)
        if let bias, bias.elementCount != n {
            throw EdgeError.badInput("\(c.nodeDescription): bias has shape \(bias.shape), [\(n)] expected")
        }
        let m = a.elementCount / k
        let out = try c.allocate(.float, Array(a.shape.dropLast()) + [n])
        let po = out.mutablePointer(Float.self)
        withExtendedLifetime((a, w, bias)) {
            // A per-column bias in the epilogue; a single column (n = 1) is added after.
            let epilogue = bias.map { n > 1 ? Epilogue(bias: .perColumn($0.pointer(Float.self))) : .none } ?? .none
            if m > 0 {
                if let packedB {
                    Kernels.sgemm(m: m, a: a.pointer(Float.self), lda: k, packedB: packedB, c: po, ldc: n, epilogue: epilogue, pool: c.kernelPool)
                } else {
                    Kernels.sgemm(m: m, n: n, k: k, a: a.pointer(Float.self), lda: k, b: w.pointer(Float.self), ldb: n,
                                  c: po, ldc: n, epilogue: epilogue, pool: c.kernelPool)
                }
            }
            if let bias, n == 1 {
                let v = bias.pointer(Float.self)[0]
                for r in 0..<m { po[r] += v }
            }
        }
        return [input.dtype == .float ? out : try CastOperators.cast(out, to: input.dtype, c)]
    }

    /// B as float32 [K, N].
    static func dequantize(_ bq: Tensor, _ scales: Tensor, _ zeroPoints: Tensor?, k: Int, n: Int, bits: Int, blockSize: Int,
                           _ what: String) throws -> Tensor {
        let blocks = (k + blockSize - 1) / blockSize
        let blob = blockSize * bits / 8
        guard bq.dtype == .uint8, bq.elementCount == n * blocks * blob else {
            throw EdgeError.badInput("\(what): B is \(bq.dtype) \(bq.shape), uint8 [\(n), \(blocks), \(blob)] expected")
        }
        guard scales.dtype.isFloatingPoint, scales.elementCount == n * blocks else {
            throw EdgeError.badInput("\(what): scales are \(scales.dtype) \(scales.shape), [\(n), \(blocks)] expected")
        }
        let s = scales.floatArray()
        let perByte = 8 / bits
        let mask = UInt8((1 << bits) - 1)
        let zeroBytes = (blocks * bits + 7) / 8
        var zero = [Float](repeating: Float(1 << (bits - 1)), count: n * blocks)
        if let zeroPoints {
            if zeroPoints.dtype == .uint8 {
                guard zeroPoints.elementCount == n * zeroBytes else {
                    throw EdgeError.badInput("\(what): packed zero points are \(zeroPoints.shape), [\(n), \(zeroBytes)] expected")
                }
                let z = zeroPoints.pointer(UInt8.self)
                for col in 0..<n {
                    for b in 0..<blocks {
                        zero[col * blocks + b] = Float((z[col * zeroBytes + b / perByte] >> UInt8(bits * (b % perByte))) & mask)
                    }
                }
            } else if zeroPoints.dtype.isFloatingPoint, zeroPoints.elementCount == n * blocks {
                zero = zeroPoints.floatArray()
            } else {
                throw EdgeError.badInput("\(what): zero points are \(zeroPoints.dtype) \(zeroPoints.shape); packed uint8 [\(n), \(zeroBytes)] or \(scales.dtype) [\(n), \(blocks)] expected")
            }
        }
        var w = [Float](repeating: 0, count: k * n)
        let codes = bq.pointer(UInt8.self)
        for col in 0..<n {
            for kk in 0..<k {
                let b = kk / blockSize, j = kk % blockSize
                let byte = codes[(col * blocks + b) * blob + j / perByte]
                let code = Float((byte >> UInt8(bits * (j % perByte))) & mask)
                let p = col * blocks + b
                w[kk * n + col] = (code - zero[p]) * s[p]
            }
        }
        return Tensor(shape: [k, n], scalars: w)
    }
}
