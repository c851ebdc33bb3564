import EdgeKernelsAVX2
import EdgeKernelsAVX512
import Foundation

/// An instruction-set level of the kernels. Every kernel entry point takes an optional `isa:`; nil
/// means `KernelISA.active`.
public enum KernelISA: String, Sendable, CaseIterable, Comparable {
    case portable, avx2, avx512

    public static func < (a: KernelISA, b: KernelISA) -> Bool { a.rank < b.rank }
    private var rank: Int { self == .portable ? 0 : self == .avx2 ? 1 : 2 }

    /// The best level this CPU (and OS) supports. On Linux the kernel lists a feature in
    /// /proc/cpuinfo only when it also saves that register state (XCR0), so the flags are a
    /// complete test; elsewhere we fall back to portable.
    public static let detected: KernelISA = {
        #if arch(x86_64) && os(Linux)
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return .portable }
        let flags = Set(line.split(separator: " ").map(String.init))
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx2", "fma", "f16c"].allSatisfy(flags.contains) { return .avx512 }
        if ["avx2", "fma", "f16c"].allSatisfy(flags.contains) { return .avx2 }
        return .portable
        #else
        return .portable
        #endif
    }()

    /// The level used when a call does not name one: `EDGEOPT_ISA=portable|avx2|avx512` if set
    /// (capped at what the CPU supports), else `detected`.
    public static let active: KernelISA = {
        if let env = ProcessInfo.processInfo.environment["EDGEOPT_ISA"], let isa = KernelISA(rawValue: env.lowercased()) {
            return min(isa, detected)
        }
        return detected
    }()

    /// Levels this CPU can run, for tests that sweep every path.
    public static var supported: [KernelISA] { allCases.filter { $0 <= detected } }
}

/// The per-ISA function table the drivers call through. Block sizes: a packed A block
/// (mc × kc) stays in L2, a B micro-panel (kc × nr) in L1, the packed B block (kc × nc) in L3.
struct KernelSet: Sendable {
    typealias Tile = @Sendable (Int, UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Bool) -> Void
    /// A full tile with a per-row bias and a none/relu/clip activation applied before the store.
    typealias FusedTile = @Sendable (Int, UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Bool,
                                     UnsafePointer<Float>?, Int, Float, Float) -> Void
    /// `FusedTile` storing only the first (leading Int) rows of the MR-row tile.
    typealias FusedRowsTile = @Sendable (Int, Int, UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Bool,
                                         UnsafePointer<Float>?, Int, Float, Float) -> Void
    typealias RowTile = @Sendable (Int, UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Bool) -> Void
    typealias RowEpilogue = @Sendable (UnsafeMutablePointer<Float>, Int, Float, UnsafePointer<Float>?, Int, Float, Float) -> Void
    typealias BlockEpilogue = @Sendable (UnsafeMutablePointer<Float>, Int, Int, Int, UnsafePointer<Float>?, UnsafePointer<Float>?,
                                         Int, Float, Float) -> Void
    /// Bias, then a residual z (pointer, row stride), then the activation over a block.
    typealias ResidualEpilogue = @Sendable (UnsafeMutablePointer<Float>, Int, Int, Int, UnsafePointer<Float>?, UnsafePointer<Float>?,
                                            UnsafePointer<Float>, Int, Int, Float, Float) -> Void
    typealias Depthwise = @Sendable ([Int], UnsafePointer<Float>, UnsafePointer<Float>, Float, UnsafeMutablePointer<Float>,
                                      UnsafeMutablePointer<Float>, Int, Float, Float) -> Void
    /// Winograd transforms (Shared/WinogradImpl.swift): input (geometry, plane, tBegin, tEnd, dst,
    /// panelStride) and output (geometry, src, tBegin, tEnd, plane, bias, activation code, p0, p1).
    typealias WinogradInput = @Sendable (UnsafePointer<Int>, UnsafePointer<Float>, Int, Int, UnsafeMutablePointer<Float>, Int) -> Void
    typealias WinogradOutput = @Sendable (UnsafePointer<Int>, UnsafePointer<Float>, Int, Int, UnsafeMutablePointer<Float>,
                                          Float, Int, Float, Float) -> Void
    /// Winograd weight transform, rows of U per call (Shared/WinogradWeightTransform.swift):
    /// (geometry, im2col-packed weights, dst).
    typealias WinogradWeightRows = @Sendable (UnsafePointer<Int>, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void
    /// 2-D max pooling of one plane: geometry [ih, iw, oh, ow, kh, kw, sh, sw (1 or 2), padTop, padLeft].
    /// Implicit im2col packer (Shared/Im2ColImpl.swift): (geometry, input, pad value, nr, p0, kcb, j0, cols, dst).
    typealias Im2ColPanels = @Sendable (UnsafePointer<Int>, UnsafePointer<Float>, Float, Int, Int, Int, Int, Int, UnsafeMutablePointer<Float>) -> Void
    /// B-panel packer (Shared/PackBImpl.swift): (b, ldb, trans, p0, kcb, j0, cols, nr, alpha, dst).
    typealias PackB = @Sendable (UnsafePointer<Float>, Int, Bool, Int, Int, Int, Int, Int, Float, UnsafeMutablePointer<Float>) -> Void
    typealias MaxPool2D = @Sendable (UnsafePointer<Int>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void
    /// Direct small-C_in conv, output rows of one image (Shared/SmallConvImpl.swift): (geometry,
    /// tap offsets, band rows, input, weights [tap][C_out], bias, output, oy0, oy1, scratch,
    /// activation code, p0, p1).
    typealias SmallConvBand = @Sendable (UnsafePointer<Int>, UnsafePointer<Int>, Int, UnsafePointer<Float>, UnsafePointer<Float>,
                                         UnsafePointer<Float>?, UnsafeMutablePointer<Float>, Int, Int, UnsafeMutablePointer<Float>,
                                         Int, Float, Float) -> Void
    typealias ToBits = @Sendable (UnsafePointer<Float>, UnsafeMutablePointer<UInt16>, Int) -> Void
    typealias FromBits = @Sendable (UnsafePointer<UInt16>, UnsafeMutablePointer<Float>, Int) -> Void

    let isa: KernelISA
    let mr: Int, nr: Int, kc: Int, mc: Int, nc: Int
    let tile: Tile
    let tile1: RowTile
    /// MR × NR/2 tile over the left half of a packed NR panel (nil where not provided).
    let tileHalf: Tile?
    let epilogueRow: RowEpilogue
    let epilogueBlock: BlockEpilogue
    let epilogueResidual: ResidualEpilogue
    let depthwisePlane: Depthwise
    let depthwiseScratchCount: @Sendable ([Int]) -> Int
    let maxPool2D: MaxPool2D
    let im2colPanels: Im2ColPanels
    let packB: PackB
    let floatToHalf: ToBits, halfToFloat: FromBits, floatToBFloat16: ToBits, bfloat16ToFloat: FromBits
    /// Full tile with the epilogue fused (nil where not provided).
    var tileFused: FusedTile? = nil
    /// Partial-height fused tile (nil where not provided).
    var tileFusedRows: FusedRowsTile? = nil
    /// Partial-panel and in-place-B tiles (nil where not provided; see NarrowTiles).
    var narrow: NarrowTiles? = nil
    /// Winograd transforms; nil where not provided (then 3×3 convs stay on im2col).
    var winogradInput: WinogradInput? = nil
    var winogradOutput: WinogradOutput? = nil
    var winogradWeightRows: WinogradWeightRows? = nil
    var smallConvBand: SmallConvBand = PortableKernels.smallConvBand

    static let portable = KernelSet(
        isa: .portable, mr: PortableKernels.mr, nr: PortableKernels.nr, kc: 256, mc: 128, nc: 4096,
        tile: PortableKernels.tile, tile1: PortableKernels.tile1, tileHalf: nil, epilogueRow: PortableKernels.epilogueRow, epilogueBlock: PortableKernels.epilogueBlock,
        epilogueResidual: PortableKernels.epilogueResidual,
        depthwisePlane: PortableKernels.depthwisePlane, depthwiseScratchCount: PortableKernels.depthwiseScratchCount, maxPool2D: PortableKernels.maxPool2D, im2colPanels: PortableKernels.im2colPanels, packB: PortableKernels.packBPanels,
        floatToHalf: PortableKernels.floatToHalf, halfToFloat: PortableKernels.halfToFloat,
        floatToBFloat16: PortableKernels.floatToBFloat16, bfloat16ToFloat: PortableKernels.bfloat16ToFloat)

    static let avx2 = KernelSet(
        isa: .avx2, mr: AVX2Kernels.mr, nr: AVX2Kernels.nr, kc: 256, mc: 144, nc: 4096,
        tile: AVX2Kernels.tile, tile1: AVX2Kernels.tile1, tileHalf: nil, epilogueRow: AVX2Kernels.epilogueRow, epilogueBlock: AVX2Kernels.epilogueBlock,
        epilogueResidual: AVX2Kernels.epilogueResidual,
        depthwisePlane: AVX2Kernels.depthwisePlane, depthwiseScratchCount: AVX2Kernels.depthwiseScratchCount, maxPool2D: AVX2Kernels.maxPool2D, im2colPanels: AVX2Kernels.im2colPanels, packB: AVX2Kernels.packBPanels,
        floatToHalf: AVX2Kernels.floatToHalf, halfToFloat: AVX2Kernels.halfToFloat,
        floatToBFloat16: AVX2Kernels.floatToBFloat16, bfloat16ToFloat: AVX2Kernels.bfloat16ToFloat,
        winogradInput: AVX2Kernels.winogradInput, winogradOutput: AVX2Kernels.winogradOutput,
        winogradWeightRows: AVX2Kernels.winogradWeightRows, smallConvBand: AVX2Kernels.smallConvBand)

    static let avx512 = KernelSet(
        isa: .avx512, mr: AVX512Kernels.mr, nr: AVX512Kernels.nr, kc: 256, mc: 168, nc: 4096,
        tile: AVX512Kernels.tile, tile1: AVX512Kernels.tile1, tileHalf: AVX512Kernels.tileHalf, epilogueRow: AVX512Kernels.epilogueRow, epilogueBlock: AVX512Kernels.epilogueBlock,
        epilogueResidual: AVX512Kernels.epilogueResidual,
        depthwisePlane: AVX512Kernels.depthwisePlane, depthwiseScratchCount: AVX512Kernels.depthwiseScratchCount, maxPool2D: AVX512Kernels.maxPool2D, im2colPanels: AVX512Kernels.im2colPanels, packB: AVX512Kernels.packBPanels,
        floatToHalf: AVX512Kernels.floatToHalf, halfToFloat: AVX512Kernels.halfToFloat,
        floatToBFloat16: AVX512Kernels.floatToBFloat16, bfloat16ToFloat: AVX512Kernels.bfloat16ToFloat,
        tileFused: AVX512Kernels.tileFused, tileFusedRows: AVX512Kernels.tileFusedRows,
        narrow: NarrowTiles(general: AVX512Kernels.tileGeneral, columns: AVX512Kernels.tileColumns,
                            columnPanels: AVX512Kernels.columnPanels, halfWidth: 16),
        winogradInput: AVX512Kernels.winogradInput, winogradOutput: AVX512Kernels.winogradOutput,
        winogradWeightRows: AVX512Kernels.winogradWeightRows, smallConvBand: AVX512Kernels.smallConvBand)

    static func forISA(_ isa: KernelISA?) -> KernelSet {
        switch min(isa ?? .active, .detected) {
        case .portable: return .portable
        case .avx2: return .avx2
        case .avx512: return .avx512
        }
    }
}

/// Tiles for a GEMM's last, partial NR panel and for a right operand read in place
/// (AVX512NarrowTiles.swift): `general` multiplies the first rows × (halfWidth or nr) columns of
/// an MR panel with B's rows `ldb` apart and the none/relu/clip epilogue fused; `columns` takes
/// the last few (< halfWidth) columns with the output channels along the vector lanes, for up to
/// `columnPanels(cols)` MR panels at once. Both are bit-identical to the full tile.
struct NarrowTiles: Sendable {
    /// (rows, width, kc, a, b, ldb, c, ldc, accumulate, rowBias, code, p0, p1)
    typealias General = @Sendable (Int, Int, Int, UnsafePointer<Float>, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Int, Bool,
                                   UnsafePointer<Float>?, Int, Float, Float) -> Void
    /// (panels, rows, cols, kc, a, aPanelStride, b, ldb, c, ldc, accumulate, rowBias, code, p0, p1)
    typealias Columns = @Sendable (Int, Int, Int, Int, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Int,
                                   Bool, UnsafePointer<Float>?, Int, Float, Float) -> Void
    let general: General
    let columns: Columns
    let columnPanels: @Sendable (Int) -> Int
    let halfWidth: Int
}
