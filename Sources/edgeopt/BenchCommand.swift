import ArgumentParser
import EdgeIR
import EdgeRuntime
import Foundation

/// `edgeopt bench MODEL`: latency and memory of the CPU engine on seeded random inputs.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the engine's latency (median, p10, p90) and peak memory on a model.",
        discussion: """
            Inputs are random with a fixed seed: floats uniform in [0, 1), integers uniform in \
            [0, 10), bools fair coins. Dynamic dimensions take --input-shape/--dim values, else 1. \
            After --warmup untimed runs (the first plans the activation arena), --runs runs are \
            timed one by one. Peak memory is the process's resident high-water mark (VmHWM), \
            reported next to the model's weight bytes and the planned arena.
            """)

    @Argument(help: "The ONNX model to benchmark.")
    var model: String

    @OptionGroup var shapes: ShapeOptions

    @Option(name: .customLong("input"), help: ArgumentHelp("Use this input instead of random data: name=file.npy|.pb, or an .npz (repeatable).", valueName: "name=file"))
    var inputFiles: [String] = []

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Option(help: "Timed runs.")
    var runs: Int = 20

    @Option(help: "Untimed runs first.")
    var warmup: Int = 3

    @Option(help: "Seed of the random inputs.")
    var seed: UInt64 = 0

    @Flag(help: "Keep every convolution on im2col: no Winograd for stride-1 3×3 layers (same memory, slower 3×3 layers).")
    var noWinograd = false

    @Flag(help: "Round float32 weights and activations through half precision (FP16 execution preview).")
    var fp16 = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        guard runs >= 1, warmup >= 0 else { throw ValidationError("--runs must be ≥ 1 and --warmup ≥ 0") }
    }

    struct Result: Encodable {
        var model: String
        var threads: Int
        var runs: Int
        var medianMs: Double
        var p10Ms: Double
        var p90Ms: Double
        var minMs: Double
        var peakRSSBytes: Int
        var weightBytes: Int
        var arenaBytes: Int
        /// Constant data the compiled session holds (packed weights, folded constants such as
        /// weights a model computes with ConstantOfShape).
        var heldWeightBytes: Int
        var inputs: [String: [Int]]
    }

    func run() throws {
        try runReportingErrors {
            let loaded = try ONNXReader.read(path: model)
            let weights = loaded.graph.weights().reduce(0) { $0 + $1.tensor.byteCount }
            var options = SessionOptions(threads: threads, fp16: fp16)
            options.winograd = !noWinograd
            // Consumed: the session then holds the only copy of each weight (packed).
            let session = try Session(model: consume loaded, options: options)
            let pinned = try shapes.inputShapes, dims = try shapes.dims
            var generator = SplitMix64(seed: seed)
            var feeds: [String: Tensor] = [:]
            var inputShapes: [String: [Int]] = [:]
            for argument in inputFiles {
                for (name, tensor) in try TensorFiles.readInput(argument, modelInputs: session.inputs.map(\.name)) {
                    feeds[name] = tensor
                    inputShapes[name] = tensor.shape
                }
            }
            for input in session.inputs where feeds[input.name] == nil {
                guard let type = input.tensorType, let declared = type.shape ?? pinned[input.name].map({ $0.map(Dim.fixed) }) else {
                    throw EdgeError.badInput("input '\(input.name)' has no tensor shape; give it with --input-shape")
                }
                let shape = try pinned[input.name] ?? declared.map { dim -> Int in
                    switch dim {
                    case .fixed(let v): return v
                    case .symbolic(let name): return dims[name] ?? 1
                    case .unknown: return 1
                    }
                }
                inputShapes[input.name] = shape
                feeds[input.name] = try Self.random(type.elementType, shape, &generator, input: input.name)
            }
            for _ in 0..<warmup { _ = try session.run(feeds) }
            var times: [Double] = []
            for _ in 0..<runs {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try session.run(feeds)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
            times.sort()
            func percentile(_ p: Double) -> Double {
                let position = p * Double(times.count - 1)
                let low = Int(position.rounded(.down)), high = Int(position.rounded(.up))
                return times[low] + (times[high] - times[low]) * (position - Double(low))
            }
            let result = Result(model: model, threads: options.threads, runs: runs, medianMs: percentile(0.5), p10Ms: percentile(0.1),
                                p90Ms: percentile(0.9), minMs: times[0], peakRSSBytes: Self.peakRSS(), weightBytes: weights,
                                arenaBytes: session.plannedArenaBytes, heldWeightBytes: session.heldWeightBytes, inputs: inputShapes)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                encoder.keyEncodingStrategy = .convertToSnakeCase
                print(String(decoding: try encoder.encode(result), as: UTF8.self))
            } else {
                func mb(_ b: Int) -> String { String(format: "%.1f MB", Double(b) / 1_048_576) }
                print("\(model): \(options.threads) thread(s), \(runs) runs")
                print(String(format: "latency  median %.3f ms  p10 %.3f ms  p90 %.3f ms  min %.3f ms",
                             result.medianMs, result.p10Ms, result.p90Ms, result.minMs))
                print("memory   peak RSS \(mb(result.peakRSSBytes))  weights \(mb(weights))  held by the session \(mb(result.heldWeightBytes))  activation arena \(mb(result.arenaBytes))")
            }
            return .success
        }
    }

    static func random(_ dtype: DType, _ shape: [Int], _ g: inout SplitMix64, input: String) throws -> Tensor {
        let count = shape.reduce(1, *)
        switch dtype {
        case .float: return Tensor(shape: shape, scalars: (0..<count).map { _ in g.nextFloat() })
        case .double: return Tensor(shape: shape, scalars: (0..<count).map { _ in Double(g.nextFloat()) })
        case .float16: return Tensor(shape: shape, scalars: (0..<count).map { _ in Float16(g.nextFloat()) })
        case .int64: return Tensor(shape: shape, scalars: (0..<count).map { _ in Int64(g.next() % 10) })
        case .int32: return Tensor(shape: shape, scalars: (0..<count).map { _ in Int32(g.next() % 10) })
        case .int8: return Tensor(shape: shape, scalars: (0..<count).map { _ in Int8(g.next() % 10) })
        case .uint8: return Tensor(shape: shape, scalars: (0..<count).map { _ in UInt8(g.next() % 10) })
        case .bool: return Tensor(shape: shape, scalars: (0..<count).map { _ in g.next() & 1 == 1 })
        default: throw EdgeError.badInput("input '\(input)' is \(dtype); bench generates float, int and bool inputs only")
        }
    }

    /// Resident-set high-water mark of this process (Linux VmHWM), 0 where unavailable.
    static func peakRSS() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kb * 1024
        }
        return 0
    }
}
