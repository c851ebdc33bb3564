import EdgeIR
import EdgeRuntime
import Foundation

extension WeightOnlyQuantizer {
    /// When GPTQ's Hessians are collected, and from which model.
    ///
    /// Parallel (`WeightOnlyOptions.sequential == false`): one calibration pass over the float model
    /// gives every layer's Hessian. Sequential (the default, as in the GPTQ reference): the model the
    /// Hessians come from has every layer quantized so far replaced by its dequantized weight Ŵ, so
    /// each layer sees the inputs it will see after quantization and its OBS updates also absorb the
    /// error its inputs already carry. A Hessian is collected when a layer needs it and it is missing
    /// or stale (a layer upstream of it was quantized since); one pass collects every missing one,
    /// so a chain of L layers costs L passes, and layers that read one input (Q/K/V projections)
    /// share one Hessian. A Hessian no remaining layer needs is dropped (K² doubles each).
    struct HessianSchedule {
        private(set) var model: Model
        private let requests: [HessianCollector.Request]
        private let sequential: Bool
        private let collector: HessianCollector
        private var hessians: [HessianCollector.Request: [Double]] = [:]
        /// Targets still to quantize per request.
        private var pending: [HessianCollector.Request: Int] = [:]
        /// Names for the substituted weights, unused anywhere in the model.
        private var names: NameAllocator
        private(set) var passes = 0

        init(model: Model, targets: [Target], options: WeightOnlyOptions) {
            self.model = model
            names = NameAllocator(used: model.graph.allValueNames())
            for request in targets.compactMap(\.activation) { pending[request, default: 0] += 1 }
            requests = pending.keys.sorted { ($0.tensor, $0.transposed ? 1 : 0) < ($1.tensor, $1.transposed ? 1 : 0) }
            sequential = options.sequential
            let sessionOptions = options.threads.map { SessionOptions(threads: $0) } ?? SessionOptions()
            collector = HessianCollector(options: sessionOptions, progress: options.progress)
        }

        /// The Hessian of `request`'s activation in the current model, collecting it (and every
        /// other one missing) when needed. `seconds` accumulates the time spent calibrating.
        mutating func hessian(for request: HessianCollector.Request, data: CalibrationDataSet, seconds: inout Double) throws -> [Double] {
            if let h = hessians[request] { return h }
            let start = Date()
            let missing = requests.filter { hessians[$0] == nil && (pending[$0] ?? 0) > 0 }
            for (r, h) in try collector.collect(model: model, requests: missing, data: data) { hessians[r] = h }
            passes += 1
            seconds += Date().timeIntervalSince(start)
            guard let h = hessians[request] else {
                throw EdgeError.internalError("GPTQ calibration produced no Hessian for '\(request.tensor)'")
            }
            return h
        }

        /// Records that `target` is now `weight`: sequentially, the layer computes with Ŵ from now
        /// on and the Hessians downstream of it are stale.
        mutating func quantized(_ target: Target, as weight: BlockQuantizedWeight) {
            if let request = target.activation {
                pending[request, default: 1] -= 1
                if pending[request] == 0 { hessians[request] = nil }
            }
            guard sequential else { return }
            var tensor = Tensor(shape: weight.layout.shape, scalars: weight.dequantized())
            if target.transposed { tensor = WeightOnlyQuantizer.transposed(tensor) }
            let name = names.fresh(target.weight + "__quantized")
            model.graph.initializers[name] = tensor
            model.graph.nodes[target.node].inputs[1] = name

            // Every value computed from the layer's output.
            let consumers = model.graph.consumerIndices()
            var downstream = Set<String>()
            var frontier = model.graph.nodes[target.node].outputs
            while let value = frontier.popLast() {
                guard !value.isEmpty, downstream.insert(value).inserted else { continue }
                for i in consumers[value] ?? [] { frontier.append(contentsOf: model.graph.nodes[i].outputs) }
            }
            for request in requests where downstream.contains(request.tensor) { hessians[request] = nil }
        }
    }
}
