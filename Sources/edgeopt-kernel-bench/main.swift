// edgeopt-kernel-bench: times the EdgeKernels kernels on fixed shapes and prints one line per case:
//   <case> threads=<t> isa=<isa> median_ms=<ms> p10_ms=<ms> p90_ms=<ms> gflops=<rate> cpu_ms=<ms>
// `gflops` counts 2 flops per multiply-add (int8 cases: 2 ops per MAC, i.e. GOPS) over the median
// wall time; `cpu_ms` is the median process CPU time per run (all threads, spinning included),
// which on a loaded machine is a steadier measure of single-thread speed than wall time.
// Usage: edgeopt-kernel-bench [--threads N] [--runs N] [--isa portable|avx2|avx512] [--only SUBSTRING]
// Run from scripts/bench-kernels (release build, compared with numpy/torch in the same run).

import EdgeKernels
import Foundation

var threads = 1, runs = 15
var isa: KernelISA? = nil
var only: String? = nil
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--threads": threads = Int(args.popFirst() ?? "") ?? 1
    case "--runs": runs = Int(args.popFirst() ?? "") ?? 15
    case "--isa": isa = KernelISA(rawValue: args.popFirst() ?? "")
    case "--only": only = args.popFirst()
    default:
        FileHandle.standardError.write("usage: edgeopt-kernel-bench [--threads N] [--runs N] [--isa portable|avx2|avx512] [--only S]\n".data(using: .utf8)!)
        exit(64)
    }
}
/// Settings from the command line, passed explicitly: the timed code must not touch main.swift's
/// top-level variables (main-actor globals), whose closures get executor checks on every call
/// (25% of a small kernel's profile).
struct Config {
    let threads: Int, runs: Int, isa: KernelISA?, only: String?
    let pool: ThreadPool
    var isaName: String { (isa ?? KernelISA.active).rawValue }
}

func now(_ clock: clockid_t = CLOCK_MONOTONIC) -> Double {
    var ts = timespec()
    clock_gettime(clock, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Times `body` (after warm-up) and prints the summary line.
func bench(_ name: String, flops: Double, _ config: Config, _ body: () -> Void) {
    if let only = config.only, !name.contains(only) { return }
    let runs = config.runs
    body(); body()
    var times = [Double](), cpu = [Double]()
    let deadline = now() + 3
    for r in 0..<runs {
        let c0 = now(CLOCK_PROCESS_CPUTIME_ID), t0 = now()
        body()
        times.append(now() - t0)
        cpu.append(now(CLOCK_PROCESS_CPUTIME_ID) - c0)
        if r >= 4 && now() > deadline { break }
    }
    times.sort(); cpu.sort()
    func q(_ f: Double) -> Double { times[min(times.count - 1, Int(Double(times.count - 1) * f + 0.5))] }
    let med = q(0.5)
    print(String(format: "%@ threads=%d isa=%@ median_ms=%.4f p10_ms=%.4f p90_ms=%.4f gflops=%.2f cpu_ms=%.4f",
                 name, config.threads, config.isaName, med * 1e3, q(0.1) * 1e3, q(0.9) * 1e3, flops / med / 1e9, cpu[cpu.count / 2] * 1e3))
    fflush(nil)  // flush all streams (avoids touching the global `stdout`)
}

func randomFloats(_ n: Int, seed: UInt64) -> [Float] {
    var s = seed | 1
    return (0..<n).map { _ in
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        return Float(Int64(s >> 40) - (1 << 23)) / Float(1 << 23)
    }
}

func runAll(_ config: Config) {
    let pool = config.pool, isa = config.isa
    // SGEMM, square.
    for n in [256, 512, 1024] {
        let a = randomFloats(n * n, seed: 1), b = randomFloats(n * n, seed: 2)
        var c = [Float](repeating: 0, count: n * n)
        bench("sgemm \(n)x\(n)x\(n)", flops: 2 * Double(n * n * n), config) {
            Kernels.sgemm(m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: &c, ldc: n, pool: pool, isa: isa)
        }
        let packed = PackedMatrix(packingB: b, k: n, n: n, ldb: n, isa: isa)
        bench("sgemm-packedB \(n)x\(n)x\(n)", flops: 2 * Double(n * n * n), config) {
            Kernels.sgemm(m: n, a: a, lda: n, packedB: packed, c: &c, ldc: n, pool: pool)
        }
    }

    // Wide B with a power-of-two row stride (16 KB): B's strips are read in place with that
    // stride, the worst case for cache-set conflicts; against the same product from packed B.
    do {
        let m = 256, n = 4096, k = 512
        let a = randomFloats(m * k, seed: 10), b = randomFloats(k * n, seed: 11)
        var c = [Float](repeating: 0, count: m * n)
        bench("sgemm \(m)x\(n)x\(k)", flops: 2 * Double(m * n * k), config) {
            Kernels.sgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c, ldc: n, pool: pool, isa: isa)
        }
        let packed = PackedMatrix(packingB: b, k: k, n: n, ldb: n, isa: isa)
        bench("sgemm-packedB \(m)x\(n)x\(k)", flops: 2 * Double(m * n * k), config) {
            Kernels.sgemm(m: m, a: a, lda: k, packedB: packed, c: &c, ldc: n, pool: pool)
        }
    }

    // Small M: batch-1 fully connected layer (ResNet-50 classifier, 1 × 2048 · 2048 × 1000).
    do {
        let m = 1, n = 1000, k = 2048
        let a = randomFloats(m * k, seed: 6), b = randomFloats(k * n, seed: 7)
        var c = [Float](repeating: 0, count: m * n)
        let packed = PackedMatrix(packingB: b, k: k, n: n, ldb: n, isa: isa)
        bench("sgemm-packedB \(m)x\(n)x\(k)", flops: 2 * Double(m * n * k), config) {
            Kernels.sgemm(m: m, a: a, lda: k, packedB: packed, c: &c, ldc: n, pool: pool)
        }
    }

    // Convolutions (batch 1), ResNet-50 and MobileNetV2 layers.
    struct ConvCase { let name: String; let g: ConvGeometry }
    let convs: [ConvCase] = [
        ConvCase(name: "conv resnet50-conv1 7x7s2 3->64 224", g: ConvGeometry(inChannels: 3, outChannels: 64, inputSize: [224, 224],
                 kernelSize: [7, 7], strides: [2, 2], padsBegin: [3, 3], padsEnd: [3, 3])),
        ConvCase(name: "conv squeezenet-conv1 3x3s2 3->64 224", g: ConvGeometry(inChannels: 3, outChannels: 64, inputSize: [224, 224],
                 kernelSize: [3, 3], strides: [2, 2])),
        ConvCase(name: "conv shufflenet-conv1 3x3s2 3->24 224", g: ConvGeometry(inChannels: 3, outChannels: 24, inputSize: [224, 224],
                 kernelSize: [3, 3], strides: [2, 2], padsBegin: [1, 1], padsEnd: [1, 1])),
        ConvCase(name: "conv mobilenetv2-conv1 3x3s2 3->32 224", g: ConvGeometry(inChannels: 3, outChannels: 32, inputSize: [224, 224],
                 kernelSize: [3, 3], strides: [2, 2], padsBegin: [1, 1], padsEnd: [1, 1])),
        // A stride-1 first layer (VGG-style): the direct kernel against Winograd and im2col.
        ConvCase(name: "conv vgg-conv1 3x3 3->64 224", g: ConvGeometry(inChannels: 3, outChannels: 64, inputSize: [224, 224],
                 kernelSize: [3, 3], padsBegin: [1, 1], padsEnd: [1, 1])),
        ConvCase(name: "conv resnet50-3x3 64->64 56", g: ConvGeometry(inChannels: 64, outChannels: 64, inputSize: [56, 56],
                 kernelSize: [3, 3], padsBegin: [1, 1], padsEnd: [1, 1])),
        ConvCase(name: "conv resnet50-3x3 128->128 28", g: ConvGeometry(inChannels: 128, outChannels: 128, inputSize: [28, 28],
                 kernelSize: [3, 3], padsBegin: [1, 1], padsEnd: [1, 1])),
        ConvCase(name: "conv resnet50-3x3 256->256 14", g: ConvGeometry(inChannels: 256, outChannels: 256, inputSize: [14, 14],
                 kernelSize: [3, 3], padsBegin: [1, 1], padsEnd: [1, 1])),
        ConvCase(name: "conv resnet50-3x3 512->512 7", g: ConvGeometry(inChannels: 512, outChannels: 512, inputSize: [7, 7],
                 kernelSize: [3, 3], padsBegin: [1, 1], padsEnd: [1, 1])),
        ConvCase(name: "conv squeezenet-3x3 16->64 55", g: ConvGeometry(inChannels: 16, outChannels: 64, inputSize: [55, 55],
                 kernelSize: [3, 3], padsBegin: [1, 1], padsEnd: [1, 1])),
        ConvCase(name: "conv squeezenet-3x3 48->192 13", g: ConvGeometry(inChannels: 48, outChannels: 192, inputSize: [13, 13],
                 kernelSize: [3, 3], padsBegin: [1, 1], padsEnd: [1, 1])),
        ConvCase(name: "conv resnet50-1x1 64->256 56", g: ConvGeometry(inChannels: 64, outChannels: 256, inputSize: [56, 56], kernelSize: [1, 1])),
        ConvCase(name: "conv resnet50-1x1 1024->256 14", g: ConvGeometry(inChannels: 1024, outChannels: 256, inputSize: [14, 14], kernelSize: [1, 1])),
        ConvCase(name: "conv mobilenetv2-dw3x3 144 56", g: ConvGeometry(inChannels: 144, outChannels: 144, groups: 144, inputSize: [56, 56],
                 kernelSize: [3, 3], padsBegin: [1, 1], padsEnd: [1, 1])),
        ConvCase(name: "conv mobilenetv2-dw3x3s2 144 56", g: ConvGeometry(inChannels: 144, outChannels: 144, groups: 144, inputSize: [56, 56],
                 kernelSize: [3, 3], strides: [2, 2], padsBegin: [1, 1], padsEnd: [1, 1])),
        ConvCase(name: "conv mobilenetv2-dw3x3s2 96 112", g: ConvGeometry(inChannels: 96, outChannels: 96, groups: 96, inputSize: [112, 112],
                 kernelSize: [3, 3], strides: [2, 2], padsBegin: [1, 1], padsEnd: [1, 1])),
        ConvCase(name: "conv mobilenetv2-dw3x3 576 14", g: ConvGeometry(inChannels: 576, outChannels: 576, groups: 576, inputSize: [14, 14],
                 kernelSize: [3, 3], padsBegin: [1, 1], padsEnd: [1, 1])),
        ConvCase(name: "conv mobilenetv2-1x1 16->96 112", g: ConvGeometry(inChannels: 16, outChannels: 96, inputSize: [112, 112], kernelSize: [1, 1])),
        ConvCase(name: "conv mobilenetv2-1x1 32->16 112", g: ConvGeometry(inChannels: 32, outChannels: 16, inputSize: [112, 112], kernelSize: [1, 1])),
        ConvCase(name: "conv mobilenetv2-dw3x3 32 112", g: ConvGeometry(inChannels: 32, outChannels: 32, groups: 32, inputSize: [112, 112],
                 kernelSize: [3, 3], padsBegin: [1, 1], padsEnd: [1, 1])),
        ConvCase(name: "conv mobilenetv2-1x1 144->24 56", g: ConvGeometry(inChannels: 144, outChannels: 24, inputSize: [56, 56], kernelSize: [1, 1])),
        // N = 49 and 196: a partial last column panel (17 and 4 of 32 columns).
        ConvCase(name: "conv mobilenetv2-1x1 320->1280 7", g: ConvGeometry(inChannels: 320, outChannels: 1280, inputSize: [7, 7], kernelSize: [1, 1])),
        ConvCase(name: "conv mobilenetv2-1x1 960->320 7", g: ConvGeometry(inChannels: 960, outChannels: 320, inputSize: [7, 7], kernelSize: [1, 1])),
        ConvCase(name: "conv resnet50-1x1 512->2048 7", g: ConvGeometry(inChannels: 512, outChannels: 2048, inputSize: [7, 7], kernelSize: [1, 1])),
        ConvCase(name: "conv resnet50-1x1 256->1024 14", g: ConvGeometry(inChannels: 256, outChannels: 1024, inputSize: [14, 14], kernelSize: [1, 1])),
        // Small M: B's packing is a large share (SqueezeNet's squeeze layers).
        ConvCase(name: "conv squeezenet-1x1 128->16 55", g: ConvGeometry(inChannels: 128, outChannels: 16, inputSize: [55, 55], kernelSize: [1, 1])),
        ConvCase(name: "conv squeezenet-1x1 16->64 55", g: ConvGeometry(inChannels: 16, outChannels: 64, inputSize: [55, 55], kernelSize: [1, 1])),
        ConvCase(name: "conv squeezenet-1x1 384->48 13", g: ConvGeometry(inChannels: 384, outChannels: 48, inputSize: [13, 13], kernelSize: [1, 1])),
    ]
    for cc in convs {
        let g = cc.g
        let x = randomFloats(g.inChannels * g.inputPlane, seed: 3)
        let w = randomFloats(g.outChannels * g.reductionSize, seed: 4)
        let bias = randomFloats(g.outChannels, seed: 5)
        let weights = ConvWeights(weights: w, geometry: g, isa: isa)
        var y = [Float](repeating: 0, count: g.outChannels * g.outputPlane)
        // Direct-convolution MACs, also for Winograd (gflops is then an effective rate).
        let macs = Double(g.outChannels * g.outputPlane * g.reductionSize)
        let suffix = weights.algorithm == .gemm ? "" : " [\(weights.algorithm)]"
        bench(cc.name + suffix, flops: 2 * macs, config) {
            Kernels.conv(weights, input: x, bias: bias, activation: .relu, output: &y, pool: pool)
        }
        // Every algorithm the geometry can run, besides the one the cost model picked.
        for other in [ConvAlgorithm.gemm, .direct, .winograd(m: 2), .winograd(m: 4)] where other != weights.algorithm {
            let forced = ConvWeights(weights: w, geometry: g, isa: isa, algorithm: other)
            if forced.algorithm != other { continue }
            bench(cc.name + " [\(other)]", flops: 2 * macs, config) {
                Kernels.conv(forced, input: x, bias: bias, activation: .relu, output: &y, pool: pool)
            }
        }
    }

    // Residual block tails: `Kernels.conv(residual:)` (the conv, then one streaming pass
    // y = act(y + z)) against the conv alone with its activation fused (the pass's cost).
    let tails: [(String, ConvGeometry, Activation)] = [
        ("resnet50-1x1 64->256 56 +z relu", ConvGeometry(inChannels: 64, outChannels: 256, inputSize: [56, 56], kernelSize: [1, 1]), .relu),
        ("resnet50-1x1 256->1024 14 +z relu", ConvGeometry(inChannels: 256, outChannels: 1024, inputSize: [14, 14], kernelSize: [1, 1]), .relu),
        ("resnet18-3x3 64->64 56 +z relu", ConvGeometry(inChannels: 64, outChannels: 64, inputSize: [56, 56], kernelSize: [3, 3],
                                                        padsBegin: [1, 1], padsEnd: [1, 1]), .relu),
        ("mobilenetv2-1x1 144->24 56 +z", ConvGeometry(inChannels: 144, outChannels: 24, inputSize: [56, 56], kernelSize: [1, 1]), .none),
    ]
    for (name, g, act) in tails {
        let x = randomFloats(g.inChannels * g.inputPlane, seed: 3), z = randomFloats(g.outChannels * g.outputPlane, seed: 9)
        let w = randomFloats(g.outChannels * g.reductionSize, seed: 4), bias = randomFloats(g.outChannels, seed: 5)
        let weights = ConvWeights(weights: w, geometry: g, isa: isa)
        var y = [Float](repeating: 0, count: g.outChannels * g.outputPlane)
        let macs = Double(g.outChannels * g.outputPlane * g.reductionSize)
        bench("residual conv+z \(name)", flops: 2 * macs, config) {
            z.withUnsafeBufferPointer { zp in
                Kernels.conv(weights, input: x, bias: bias, activation: act, residual: zp.baseAddress, output: &y, pool: pool)
            }
        }
        bench("residual conv-only \(name)", flops: 2 * macs, config) {
            Kernels.conv(weights, input: x, bias: bias, activation: act, output: &y, pool: pool)
        }
    }

    // 3×3 stride-2 max pooling (SqueezeNet pool1, ResNet-50 pool); "gflops" counts one op per tap.
    for (name, c, ih, oh, pad) in [("maxpool squeezenet 64x111", 64, 111, 55, 0), ("maxpool resnet50 64x112", 64, 112, 56, 1)] {
        let x = randomFloats(c * ih * ih, seed: 8)
        var y = [Float](repeating: 0, count: c * oh * oh)
        bench(name, flops: Double(c * oh * oh * 9), config) {
            Kernels.maxPool2D(x, planes: c, ih: ih, iw: ih, oh: oh, ow: oh, kh: 3, kw: 3, sh: 2, sw: 2, padTop: pad, padLeft: pad,
                              output: &y, pool: pool, isa: isa)
        }
    }

    // Int8 GEMM (u8 × s8 → s32), GOPS = 2·m·n·k / time.
    for n in [256, 512, 1024] {
        let a = (0..<(n * n)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }
        let b = (0..<(n * n)).map { UInt8(truncatingIfNeeded: $0 &* 40503 >> 3) }
        var c = [Int32](repeating: 0, count: n * n)
        let packed = PackedInt8Matrix(packing: b, signed: true, k: n, n: n, ldb: n, zeroPoints: [3], isa: isa)
        bench("int8gemm-packedB \(n)x\(n)x\(n)", flops: 2 * Double(n * n * n), config) {
            Kernels.gemmInt8(m: n, a: a, aSigned: false, lda: n, aZeroPoint: .scalar(128), packedB: packed, c: &c, ldc: n, pool: pool)
        }
    }
    // m × n × k: a conv-sized GEMM (256 channels × 56² positions × 64·3²) and a batch-1 classifier.
    for (m, n, k) in [(256, 3136, 576), (1, 1000, 2048)] {
        let a = (0..<(m * k)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }
        let b = (0..<(k * n)).map { UInt8(truncatingIfNeeded: $0 &* 40503 >> 3) }
        var c = [Int32](repeating: 0, count: m * n)
        let packed = PackedInt8Matrix(packing: b, signed: true, k: k, n: n, ldb: n, zeroPoints: [0], isa: isa)
        bench("int8gemm-packedB \(m)x\(n)x\(k)", flops: 2 * Double(m * n * k), config) {
            Kernels.gemmInt8(m: m, a: a, aSigned: false, lda: k, aZeroPoint: .scalar(128), packedB: packed, c: &c, ldc: n, pool: pool)
        }
    }
    // QLinearConv-shaped: uint8 input (zero point 128), int8 weights per channel (zero point 0).
    for (name, cin, cout, hw, kk, pad) in [("int8conv 3x3 64->256 56x56", 64, 256, 56, 3, 1), ("int8conv 1x1 96->576 14x14", 96, 576, 14, 1, 0)] {
        let g = ConvGeometry(inChannels: cin, outChannels: cout, inputSize: [hw, hw], kernelSize: [kk, kk],
                             padsBegin: [pad, pad], padsEnd: [pad, pad])
        let x = (0..<(cin * hw * hw)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 9) }
        let w = (0..<(cout * g.reductionSize)).map { UInt8(truncatingIfNeeded: $0 &* 40503 >> 5) }
        let cw = Int8ConvWeights(weights: w, signed: true, zeroPoints: [0], geometry: g, isa: isa)
        var y = [Int32](repeating: 0, count: cout * g.outputPlane)
        bench(name, flops: 2 * Double(cout * g.outputPlane * g.reductionSize), config) {
            Kernels.convInt8(cw, input: x, inputSigned: false, inputZeroPoint: 128, output: &y, pool: pool)
        }
    }
}

runAll(Config(threads: threads, runs: runs, isa: isa, only: only, pool: ThreadPool(threads: threads)))
