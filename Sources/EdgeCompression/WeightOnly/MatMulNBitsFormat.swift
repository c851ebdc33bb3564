import EdgeIR

/// ONNX Runtime's `com.microsoft::MatMulNBits` weight layout (contrib operator, version 1):
///
///     Y = A · dequant(B) (+ bias),  dequant(B)[k, n] = (code[n, k] − zero_point[n, k / block_size]) · scale[n, k / block_size]
///
/// - `B`: uint8 [N, k_blocks, blob_size], k_blocks = ⌈K / block_size⌉, blob_size = block_size · bits / 8;
///   the codes of column n are packed along K, low bits first (4-bit: element 2j in the low nibble
///   of byte j, element 2j+1 in the high nibble). The tail of the last block is padded with the
///   zero-point code (it multiplies nothing: A has only K columns).
/// - `scales`: [N, k_blocks], A's float type.
/// - `zero_points` (optional): uint8 [N, ⌈k_blocks · bits / 8⌉], packed the same way; when absent
///   the zero point is 2^(bits−1) (8 for 4 bits, 128 for 8 bits).
/// Attributes K, N, bits, block_size (a power of two ≥ 16).
///
/// A symmetric edgeopt quantization (signed q, zero point 0) maps to codes q + 2^(bits−1) with the
/// default zero point, so no zero-point tensor is written; an asymmetric one stores its codes and
/// zero points as they are.
public struct MatMulNBitsWeight: Sendable {
    public var k: Int
    public var n: Int
    public var bits: Int
    public var blockSize: Int
    public var packed: Tensor
    public var scales: Tensor
    public var zeroPoints: Tensor?

    /// From a quantized [K, N] weight blocked along axis 0.
    public init(_ q: BlockQuantizedWeight) throws {
        let layout = q.layout
        guard layout.shape.count == 2, layout.axis == 0 else {
            throw EdgeError.internalError("MatMulNBits needs a [K, N] weight blocked along K, got \(layout.shape) axis \(layout.axis)")
        }
        let bits = q.grid.bits
        let (k, n, size) = (layout.shape[0], layout.shape[1], layout.blockSize)
        let blocks = layout.blocks
        let perByte = 8 / bits
        let blob = size * bits / 8
        let offset: Int32 = q.grid.symmetric ? 1 << (bits - 1) : 0
        var bytes = [UInt8](repeating: 0, count: n * blocks * blob)
        var scales = [Float](repeating: 0, count: n * blocks)
        let zeroBytesPerColumn = (blocks * bits + 7) / 8
        var zeros = [UInt8](repeating: 0, count: n * zeroBytesPerColumn)
        let mask: UInt32 = (1 << bits) - 1
        for col in 0..<n {
            for b in 0..<blocks {
                let p = layout.scaleIndex(line: col, block: b)
                scales[col * blocks + b] = q.scales[p]
                let zero = UInt32(q.zeros[p] + offset)
                zeros[col * zeroBytesPerColumn + b / perByte] |= UInt8((zero & mask) << UInt32(bits * (b % perByte)))
                for j in 0..<size {
                    let kk = b * size + j
                    let code = kk < k ? UInt32(q.values[layout.index(line: col, kk)] + offset) : zero
                    bytes[(col * blocks + b) * blob + j / perByte] |= UInt8((code & mask) << UInt32(bits * (j % perByte)))
                }
            }
        }
        self.k = k
        self.n = n
        self.bits = bits
        self.blockSize = size
        self.packed = Tensor(shape: [n, blocks, blob], scalars: bytes)
        self.scales = Tensor(shape: [n, blocks], scalars: scales)
        self.zeroPoints = q.grid.symmetric ? nil : Tensor(shape: [n, zeroBytesPerColumn], scalars: zeros)
    }

    public var attributes: [Attribute] {
        [Attribute("K", .int(Int64(k))), Attribute("N", .int(Int64(n))),
         Attribute("bits", .int(Int64(bits))), Attribute("block_size", .int(Int64(blockSize)))]
    }
}
