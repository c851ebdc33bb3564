import Foundation

/// One edge device as the cost model, the fit check and the selection engine see it: what it
/// computes at each precision, where weights and activations live, how data reaches it, what it
/// draws, which operators it runs and how a model gets onto it. Loaded from `profiles/*.yaml`
/// (schema in `profiles/SCHEMA.md`); every figure points at a source listed in the profile.
///
/// All quantities are in base units: bytes, bytes/s, operations/s (one MAC = 2 operations),
/// watts, hertz, seconds, US dollars.
public struct DeviceProfile: Codable, Sendable, Equatable {
    /// Stable identifier used on the command line and in reports (`coral-usb`).
    public var name: String
    /// Other names the device is known by (the calibration table says `ascend-310`).
    public var aliases: [String]
    public var displayName: String
    public var vendor: String
    /// The family file (`profiles/families/<family>.yaml`) whose sections this profile inherits.
    public var family: String?
    public var formFactor: FormFactor
    public var price: Price
    /// The engine a model is compiled for.
    public var accelerator: ComputeUnit
    /// Further engines that can take part of a graph (Jetson DLA cores).
    public var secondaryAccelerators: [ComputeUnit]
    /// Runs unsupported operators and pre/post-processing. For host-attached accelerators this is
    /// a reference host, named as such.
    public var hostCPU: HostCPU
    /// Device DRAM that holds weights and activations; nil when the device has none (the Edge TPU
    /// accelerators keep parameters on chip and stream the rest from host memory).
    public var memory: Memory?
    public var onChip: OnChipMemory?
    /// How the device is attached to a host; nil for a self-hosted SoC.
    public var hostLink: HostLink?
    public var power: Power
    public var precisions: PrecisionSupport
    public var operators: OperatorSupport
    public var partition: PartitionRule
    public var toolchain: Toolchain
    public var efficiency: Efficiency
    public var sources: [Source]
    public var notes: [String]
    /// The file the profile was read from, as shown in messages (`profiles/coral-usb.yaml`).
    public var file: String

    /// Dense peak rate of the main accelerator at `precision`, or nil when it has no such mode.
    public func peakCompute(_ precision: Precision) -> Double? {
        accelerator.compute[precision]?.peak
    }

    /// The power mode used when none is named.
    public var defaultPowerMode: PowerMode? {
        power.modes.first { $0.name == power.defaultMode }
    }

    public func matches(name query: String) -> Bool {
        name == query || aliases.contains(query)
    }
}

public enum FormFactor: String, Codable, Sendable, CaseIterable {
    case module
    case devBoard = "dev-board"
    case usbStick = "usb-stick"
    case m2Card = "m2-card"
    case pcieCard = "pcie-card"
}

/// Numeric precisions an engine computes in. `int8` covers uint8 activations too.
public enum Precision: String, Codable, Sendable, CaseIterable, Comparable, CodingKeyRepresentable {
    case fp32
    case fp16
    case bf16
    case int8
    case int4

    public static func < (lhs: Precision, rhs: Precision) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

public struct Price: Codable, Sendable, Equatable {
    public var usd: Double
    /// What the price buys (module only, developer kit, …): prices are not comparable otherwise.
    public var what: String
    /// When the price was seen or announced (YYYY or YYYY-MM).
    public var date: String
    public var source: [String]
}

public enum EngineKind: String, Codable, Sendable, CaseIterable {
    case gpu, npu, tpu, vpu, dla, cpu
}

public struct PeakCompute: Codable, Sendable, Equatable {
    /// Dense peak in operations per second.
    public var peak: Double
    public var note: String?
}

public struct ComputeUnit: Codable, Sendable, Equatable {
    public var name: String
    public var kind: EngineKind
    /// How many identical engines of this kind (2 DLA cores); `compute` is per engine.
    public var count: Int
    public var clock: Double?
    public var compute: [Precision: PeakCompute]
    /// Operators this engine accepts, when narrower than the main accelerator's (DLA layers).
    public var operators: OperatorSupport?
    public var source: [String]
    public var note: String?
}

public struct HostCPU: Codable, Sendable, Equatable {
    public var name: String
    public var cores: Int
    public var clock: Double
    /// Peak rates of the CPU for fallback operators.
    public var compute: [Precision: PeakCompute]
    /// True when the CPU is not part of the product (USB/M.2 accelerators): the figures describe
    /// the host the vendor benchmarked with.
    public var referenceHost: Bool
    public var source: [String]
    public var note: String?
}

public struct Memory: Codable, Sendable, Equatable {
    public var capacity: Double
    public var bandwidth: Double
    public var type: String
    /// Unified memory: the OS and CPU share the same DRAM (Jetson).
    public var sharedWithCPU: Bool
    /// Taken by the OS, drivers and runtime before a model loads.
    public var reserved: Double
    public var source: [String]
    public var note: String?

    public var usable: Double { max(0, capacity - reserved) }
}

public enum OnChipRole: String, Codable, Sendable, CaseIterable {
    /// Edge TPU: parameters that fit are cached once; the rest stream in every inference.
    case parameterCache = "parameter-cache"
    /// A hardware-managed cache in front of DRAM (GPU L2).
    case cache
    /// Software-managed buffer (Ascend L1/unified buffer, Myriad CMX).
    case scratchpad
}

public enum OverflowPolicy: String, Codable, Sendable, CaseIterable {
    /// What does not fit on chip is re-read from host memory over the host link every inference.
    case streamFromHost = "stream-from-host"
    /// What does not fit on chip is read from device DRAM.
    case dram
}

public struct OnChipMemory: Codable, Sendable, Equatable {
    public var capacity: Double
    public var role: OnChipRole
    public var overflow: OverflowPolicy
    public var bandwidth: Double?
    public var source: [String]
    public var note: String?
}

public enum LinkKind: String, Codable, Sendable, CaseIterable {
    case usb2, usb3
    case pcieGen2x1 = "pcie-gen2-x1"
    case pcieGen2x2 = "pcie-gen2-x2"
    case pcieGen3x1 = "pcie-gen3-x1"
    case pcieGen3x4 = "pcie-gen3-x4"
}

public struct HostLink: Codable, Sendable, Equatable {
    public var kind: LinkKind
    /// Signalling rate as specified (USB 3.0: 5 Gbit/s).
    public var bandwidth: Double
    /// What a transfer achieves after encoding and protocol overhead; the cost model uses this.
    public var effectiveBandwidth: Double
    /// Fixed cost of one transfer (request round trip), paid per crossing.
    public var latency: Double
    public var source: [String]
    public var note: String?
}

public struct PowerMode: Codable, Sendable, Equatable {
    public var name: String
    /// The power budget of the mode (module or device, as the vendor states it).
    public var watts: Double
    /// Accelerator throughput relative to the fastest mode (clock ratio), 0 < scale ≤ 1.
    public var throughputScale: Double
    public var clocks: String?
    public var source: [String]
}

public struct Power: Codable, Sendable, Equatable {
    public var defaultMode: String
    public var modes: [PowerMode]
    /// Power drawn while idle, for energy per inference at low duty cycles.
    public var idle: Double?
    public var source: [String]
    public var note: String?
}

public enum Granularity: String, Codable, Sendable, CaseIterable {
    case perTensor = "per-tensor"
    case perChannel = "per-channel"
}

/// What a quantized model must look like for the toolchain to accept it.
public struct QuantizationScheme: Codable, Sendable, Equatable {
    public var weights: Granularity
    public var activations: Granularity
    public var symmetricWeights: Bool
    public var symmetricActivations: Bool
    /// Every tensor, including model inputs and outputs, must be integer (Edge TPU).
    public var fullInteger: Bool
    /// Activation ranges come from a representative data set.
    public var calibration: Bool
    public var note: String?
}

public struct PrecisionSupport: Codable, Sendable, Equatable {
    public var supported: [Precision]
    /// The precision a model is deployed in when the user does not choose.
    public var preferred: Precision
    public var quantization: [Precision: QuantizationScheme]
    public var source: [String]
    public var note: String?
}

public enum OperatorMode: String, Codable, Sendable, CaseIterable {
    /// Only the operators in `rules` run on the engine.
    case allowlist
    /// Every standard ONNX operator in the opset range runs, except `unsupported`; `rules` add
    /// constraints to some of them.
    case allOnnx = "all-onnx"
}

public enum AxisKind: String, Codable, Sendable, CaseIterable {
    case batch, channel, spatial, last
}

/// One operator (or a group of operators with the same limits) and the conditions under which
/// it runs on the engine. Constraints are a closed vocabulary so the checker can evaluate them.
public struct OperatorRule: Codable, Sendable, Equatable {
    /// ONNX operator types, spelled as ONNX spells them.
    public var ops: [String]
    /// The toolchain's own name for the operation (TFLite `CONV_2D`, TensorRT layer), for reports.
    public var native: String?
    public var maxRank: Int?
    /// At most this many dimensions larger than 1, and they must be the innermost ones.
    public var maxNonUnitDims: Int?
    public var maxElements: Int?
    /// The axes a reduction, pad, slice or concat may act on.
    public var allowedAxes: [AxisKind]?
    public var unitStrides: Bool?
    public var equalDilations: Bool?
    public var maxKernel: Int?
    public var maxInputs: Int?
    /// Weights/second operand must be compile-time constants.
    public var constantWeights: Bool?
    /// Only dimensions of size 1 may be removed or added at the front (no relayout).
    public var leadingUnitDimsOnly: Bool?
    public var noFusedActivation: Bool?
    public var note: String?
}

public struct OpsetRange: Codable, Sendable, Equatable {
    public var min: Int
    public var max: Int
}

public struct OperatorSupport: Codable, Sendable, Equatable {
    public var mode: OperatorMode
    public var opset: OpsetRange?
    /// All tensor shapes must be known when the model is compiled.
    public var staticShapes: Bool
    /// Limits that apply to every tensor on the engine.
    public var maxRank: Int?
    public var maxNonUnitDims: Int?
    public var maxDimension: Int?
    public var rules: [OperatorRule]
    /// For `all-onnx`: standard operators that do not run on the engine.
    public var unsupported: [String]
    public var source: [String]
    public var note: String?

    /// The rule governing `opType`, if the list names it.
    public func rule(for opType: String) -> OperatorRule? {
        rules.first { $0.ops.contains(opType) }
    }

    /// Whether the operator type is accepted at all (its constraints still apply).
    public func accepts(opType: String) -> Bool {
        switch mode {
        case .allowlist: return rule(for: opType) != nil
        case .allOnnx: return !unsupported.contains(opType)
        }
    }
}

public enum PartitionKind: String, Codable, Sendable, CaseIterable {
    /// edgetpu_compiler: only the first contiguous run of supported operators (from the inputs)
    /// is compiled; everything after the first unsupported operator runs on the fallback.
    case firstContiguousSubgraph = "first-contiguous-subgraph"
    /// Any number of accelerator subgraphs, with fallback segments in between.
    case multipleSubgraphs = "multiple-subgraphs"
    /// The whole graph must compile for the engine or the model does not deploy.
    case wholeGraph = "whole-graph"
}

public enum FallbackTarget: String, Codable, Sendable, CaseIterable {
    case hostCPU = "host-cpu"
    /// CPU cores on the device itself (Ascend AI CPU).
    case deviceCPU = "device-cpu"
    case gpu
    case none
}

public struct PartitionRule: Codable, Sendable, Equatable {
    public var rule: PartitionKind
    public var fallback: FallbackTarget
    public var source: [String]
    public var note: String?
}

public struct Toolchain: Codable, Sendable, Equatable {
    public var name: String
    public var versions: String
    /// What the toolchain takes in (ONNX, full-integer TFLite, OpenVINO IR).
    public var input: String
    /// What it produces and the device loads.
    public var artifact: String
    public var source: [String]
    public var note: String?
}

/// Operator classes the roofline latency model distinguishes; each gets its own fraction of
/// peak compute and of memory bandwidth. The mapping from ONNX types is `OpClass.of(opType:)`.
public enum OpClass: String, Codable, Sendable, CaseIterable, CodingKeyRepresentable {
    case conv
    case depthwiseConv = "depthwise_conv"
    case matmul
    case elementwise
    case activation
    case pooling
    case normalization
    case softmax
    case reduction
    case resize
    case dataMovement = "data_movement"
}

public struct EfficiencyFactor: Codable, Sendable, Equatable {
    /// Achieved fraction of dense peak compute, 0 < x ≤ 1.
    public var compute: Double
    /// Achieved fraction of memory bandwidth, 0 < x ≤ 1.
    public var memory: Double
}

public struct Efficiency: Codable, Sendable, Equatable {
    /// Used for any class without its own entry.
    public var `default`: EfficiencyFactor
    public var classes: [OpClass: EfficiencyFactor]
    /// Launch/scheduling cost per (fused) layer.
    public var perLayerOverhead: Double
    /// Fixed cost per inference (runtime call, synchronisation, input/output copies on chip).
    public var perInferenceOverhead: Double
    /// False while the figures are reasoned initial values; true once fitted to measurements.
    public var fitted: Bool
    /// How the numbers were obtained (reasoning, or the fit and the rows it used).
    public var method: String
    public var source: [String]

    public func factor(for opClass: OpClass) -> EfficiencyFactor {
        classes[opClass] ?? self.default
    }
}

public enum SourceKind: String, Codable, Sendable, CaseIterable {
    case datasheet
    case productPage = "product-page"
    case documentation
    case benchmark
    case article
    case announcement
    /// Not measured or published: derived by reasoning, which `says` must spell out.
    case estimate
}

public struct Source: Codable, Sendable, Equatable {
    public var id: String
    public var kind: SourceKind
    public var url: String?
    /// What the source states, in a sentence, including the figures taken from it.
    public var says: String
    /// How this session saw the source (e.g. "2026-11 via search") or "vendor figure, not re-checked".
    public var retrieved: String?
}
