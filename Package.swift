// swift-tools-version:6.0
// edgeopt — an edge-deployment model optimizer. Targets are layered bottom-up; each depends only
// on targets above it in this file (see README "Architecture").
import PackageDescription

/// Kernel targets are compiled with ISA flags so that SIMD FMA lowers to vfmadd instead of a
/// per-lane libm call; the runtime picks a variant by CPU feature at start-up.
let avx2Flags: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-mavx2", "-Xcc", "-mfma", "-Xcc", "-mf16c"])]
let avx512Flags: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-mavx512f", "-Xcc", "-mavx512bw", "-Xcc", "-mavx512vl", "-Xcc", "-mavx512dq", "-Xcc", "-mavx2", "-Xcc", "-mfma", "-Xcc", "-mf16c"])]
/// The VNNI int8 kernels also need -parse-stdlib: it exposes LLVM's vpdpbusd intrinsic through the
/// Builtin module (Swift's SIMD code never lowers to it). Used only on CPUs with AVX512_VNNI.
let vnniFlags: [SwiftSetting] = [.unsafeFlags(["-parse-stdlib", "-Xcc", "-mavx512f", "-Xcc", "-mavx512bw", "-Xcc", "-mavx512vl", "-Xcc", "-mavx512dq", "-Xcc", "-mavx512vnni", "-Xcc", "-mavx2", "-Xcc", "-mfma"])]

let package = Package(
    name: "edgeopt",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "edgeopt", targets: ["edgeopt"]),
        .library(name: "EdgeOpt", targets: ["EdgeOpt"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", exact: "0.9.20"),
        .package(url: "https://github.com/apple/swift-collections", exact: "1.6.0"),
    ],
    targets: [
        // Generated from scripts/proto/onnx.proto by scripts/generate-onnx-proto.sh. No hand edits.
        .target(name: "ONNXProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]),

        // Tensors, graph IR, ONNX import/export, shape inference, .npy/.npz/.pb tensor files.
        .target(name: "EdgeIR", dependencies: [
            "ONNXProto",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            .product(name: "OrderedCollections", package: "swift-collections"),
            .product(name: "ZIPFoundation", package: "ZIPFoundation"),
        ]),

        // Static model analysis: parameter counts, MACs/FLOPs, activation-memory schedule.
        .target(name: "EdgeAnalysis", dependencies: ["EdgeIR"]),

        // Raw-pointer compute kernels (SGEMM, conv, int8 GEMM): portable + ISA-specific builds.
        .target(name: "EdgeKernels", dependencies: ["EdgeKernelsAVX2", "EdgeKernelsAVX512", "EdgeKernelsVNNI"]),
        .target(name: "EdgeKernelsAVX2", swiftSettings: avx2Flags),
        .target(name: "EdgeKernelsAVX512", swiftSettings: avx512Flags),
        .target(name: "EdgeKernelsVNNI", swiftSettings: vnniFlags),
        // Kernel micro-benchmarks (release builds only, driven by scripts/bench-kernels).
        .executableTarget(name: "edgeopt-kernel-bench", dependencies: ["EdgeKernels"]),

        // Execution engine: compile a Graph into a plan and run it.
        .target(name: "EdgeRuntime", dependencies: ["EdgeIR", "EdgeKernels"]),

        // Graph rewrites (cleanup, fusion) checked by running the engine.
        .target(name: "EdgeTransforms", dependencies: ["EdgeIR", "EdgeAnalysis", "EdgeRuntime"]),

        // Quantization, pruning, distillation.
        .target(name: "EdgeCompression", dependencies: ["EdgeIR", "EdgeAnalysis", "EdgeKernels", "EdgeRuntime", "EdgeTransforms"]),

        // Device profiles (YAML), op support, cost model, fit check, selection.
        .target(name: "EdgeDevices", dependencies: [
            "EdgeIR", "EdgeAnalysis",
            .product(name: "Yams", package: "Yams"),
        ]),

        // The pipeline, report types and renderers (table / JSON / Markdown).
        .target(name: "EdgeOpt", dependencies: [
            "EdgeIR", "EdgeAnalysis", "EdgeRuntime", "EdgeTransforms", "EdgeCompression", "EdgeDevices",
        ]),

        // The command-line tool: argument parsing, exit codes, TTY progress. No logic.
        .executableTarget(name: "edgeopt", dependencies: [
            "EdgeOpt",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Shared test helpers (temporary dirs, running the CLI, tiny graph builders).
        .target(name: "EdgeTestSupport", dependencies: ["EdgeIR"], path: "Tests/EdgeTestSupport"),

        .testTarget(name: "EdgeIRTests", dependencies: ["EdgeIR", "EdgeTestSupport", "ONNXProto", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .testTarget(name: "EdgeAnalysisTests", dependencies: ["EdgeAnalysis", "EdgeIR", "EdgeTestSupport"]),
        .testTarget(name: "EdgeKernelsTests", dependencies: ["EdgeKernels"]),
        .testTarget(name: "EdgeRuntimeTests", dependencies: ["EdgeRuntime", "EdgeIR", "EdgeTestSupport"]),
        .testTarget(name: "EdgeTransformsTests", dependencies: ["EdgeTransforms", "EdgeRuntime", "EdgeIR", "EdgeTestSupport"]),
        .testTarget(name: "EdgeCompressionTests", dependencies: ["EdgeCompression", "EdgeRuntime", "EdgeIR", "EdgeTestSupport"]),
        .testTarget(name: "EdgeDevicesTests", dependencies: ["EdgeDevices", "EdgeIR", "EdgeTestSupport"]),
        .testTarget(name: "EdgeOptTests", dependencies: ["EdgeOpt", "EdgeIR", "EdgeTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
