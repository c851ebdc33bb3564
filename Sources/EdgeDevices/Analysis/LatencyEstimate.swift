/// Per-inference latency of a partitioned model on one device (batch 1), as a roofline per
/// fused layer (schema: profiles/SCHEMA.md, `efficiency`):
///
///   t(layer) = max(FLOPs / (peak(precision) × mode.throughput_scale × f.compute),
///                  bytes / (bandwidth × f.memory)) + per_layer_overhead
///
/// where bytes = weights at the deployment precision + activations read and written, f is the
/// profile's factor for the layer's class (the anchor's class). On top:
/// - per_inference_overhead;
/// - host-attached devices: the graph inputs and outputs cross the host link
///   (bytes / effective_bandwidth + link latency per direction);
/// - a `stream-from-host` parameter cache: weights beyond its capacity are re-read over the link
///   every inference;
/// - fallback layers run on `host_cpu` at `cpuEfficiency` of its peak, and every tensor that
///   crosses between the engines pays a link crossing (or a DRAM copy on a self-hosted SoC).
public struct LatencyEstimate: Sendable, Equatable, Codable {
    public var acceleratorSeconds: Double
    public var fallbackSeconds: Double
    public var transferSeconds: Double
    public var streamedWeightSeconds: Double
    public var overheadSeconds: Double
    public var layers: Int
    public var total: Double { acceleratorSeconds + fallbackSeconds + transferSeconds + streamedWeightSeconds + overheadSeconds }
}

public enum LatencyModel {
    /// Fraction of the host CPU's peak reached by fallback operators: runtimes such as TFLite run
    /// them on one or a few threads without the accelerator's layout tuning, so a tenth of the
    /// multi-core peak is the planning figure (no calibration rows exercise it).
    public static let cpuEfficiency = 0.1
    /// Host DRAM bandwidth assumed for fallback layers on a host the profile does not describe.
    public static let referenceHostBandwidth = 20e9

    public static func bytes(_ precision: Precision) -> Double {
        switch precision {
        case .fp32: return 4
        case .fp16, .bf16: return 2
        case .int8: return 1
        case .int4: return 0.5
        }
    }

    /// Parameter bytes cached on chip and streamed, for a `parameter-cache` on-chip memory.
    public static func parameterCache(weightBytes: Double, profile: DeviceProfile) -> (cached: Double, streamed: Double)? {
        guard let chip = profile.onChip, chip.role == .parameterCache else { return nil }
        let cached = min(weightBytes, chip.capacity)
        return (cached, chip.overflow == .streamFromHost ? weightBytes - cached : 0)
    }

    public static func estimate(_ facts: ModelFacts, layers: [Layer], plan: PartitionPlan, profile: DeviceProfile,
                                precision: Precision, mode: PowerMode) -> LatencyEstimate {
        let wBytes = bytes(precision)
        let aBytes = bytes(precision)
        let eff = profile.efficiency
        let peak = (profile.peakCompute(precision) ?? 0) * mode.throughputScale
        let chip = profile.onChip
        // Bandwidth the accelerator's layers see. An Edge TPU parameter cache without a stated
        // bandwidth keeps weights and activations on chip: no memory term (compute-bound).
        let bandwidth: Double? = chip?.role == .parameterCache ? chip?.bandwidth
            : (profile.memory?.bandwidth ?? chip?.bandwidth ?? profile.hostLink?.effectiveBandwidth)
        let cpuPrecision: Precision = precision == .int8 && profile.hostCPU.compute[.int8] != nil ? .int8 : .fp32
        let cpuPeak = (profile.hostCPU.compute[cpuPrecision]?.peak ?? profile.hostCPU.compute.values.map(\.peak).max() ?? 1e9)
            * cpuEfficiency
        let cpuBandwidth = profile.hostCPU.referenceHost ? referenceHostBandwidth : (profile.memory?.bandwidth ?? referenceHostBandwidth)
        let cpuBytes = cpuPrecision == .int8 ? 1.0 : 4.0

        var accel = 0.0, fallback = 0.0, count = 0
        var acceleratorWeights = 0.0
        // A `gpu` fallback (ONNX Runtime's CUDA provider under TensorRT) runs on the same engine,
        // unfused but at the accelerator's rates.
        let fallbackOnEngine = profile.partition.fallback == .gpu
        for layer in layers where !layer.isView {
            if layer.onAccelerator || fallbackOnEngine {
                let f = eff.factor(for: layer.opClass)
                let w = Double(layer.weightElements) * wBytes
                acceleratorWeights += w
                let traffic = w + Double(layer.inputElements + layer.outputElements) * aBytes
                let compute = peak > 0 ? Double(layer.flops) / (peak * f.compute) : 0
                let memory = bandwidth.map { traffic / ($0 * f.memory) } ?? 0
                accel += max(compute, memory) + eff.perLayerOverhead
                count += 1
            } else {
                let traffic = Double(layer.weightElements + layer.inputElements + layer.outputElements) * cpuBytes
                fallback += max(Double(layer.flops) / cpuPeak, traffic / cpuBandwidth)
            }
        }
        var transfer = 0.0
        var streamed = 0.0
        if let link = profile.hostLink {
            // Inputs consumed on the accelerator and outputs produced there cross the link.
            let onAccel = Set(facts.nodes.indices.filter { plan.onAccelerator[$0] }.flatMap { facts.nodes[$0].outputs.map(\.name) })
            let acceleratorReaders = Set(facts.nodes.indices.filter { plan.onAccelerator[$0] }
                .flatMap { facts.nodes[$0].activationInputs.map(\.name) })
            let inBytes = facts.inputs.filter { acceleratorReaders.contains($0.name) }.reduce(0.0) { $0 + Double($1.elements ?? 0) * aBytes }
            let outBytes = facts.outputs.filter { onAccel.contains($0.name) }.reduce(0.0) { $0 + Double($1.elements ?? 0) * aBytes }
            if inBytes > 0 { transfer += inBytes / link.effectiveBandwidth + link.latency }
            if outBytes > 0 { transfer += outBytes / link.effectiveBandwidth + link.latency }
            for c in plan.crossings { transfer += Double(c.elements ?? 0) * aBytes / link.effectiveBandwidth + link.latency }
            if let cache = parameterCache(weightBytes: acceleratorWeights, profile: profile) {
                streamed = cache.streamed / link.effectiveBandwidth
            }
        } else {
            // Self-hosted SoC: a crossing is a copy through shared DRAM (read + write).
            let bw = profile.memory?.bandwidth ?? referenceHostBandwidth
            for c in plan.crossings { transfer += 2 * Double(c.elements ?? 0) * aBytes / bw }
        }
        return LatencyEstimate(acceleratorSeconds: accel, fallbackSeconds: fallback, transferSeconds: transfer,
                               streamedWeightSeconds: streamed, overheadSeconds: eff.perInferenceOverhead, layers: count)
    }
}
