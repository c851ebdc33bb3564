import EdgeIR
import EdgeRuntime

/// Which float32 activations leave the float16 range on data: the values an FP16 conversion must
/// keep in float32 (`FP16ConversionOptions.overflowingValues`), since a float16 value beyond
/// ±65504 becomes ±inf.
public enum FP16RangeCheck {
    public static func overflowingActivations(_ model: Model, data: CalibrationDataSet, threads: Int? = nil) throws -> Set<String> {
        let inference = try? ShapeInference.infer(model: model)
        var weights = Set(model.graph.initializers.keys)
        for node in model.graph.nodes where node.opType == "Constant" { weights.formUnion(node.outputs) }
        var tensors: [String] = []
        for node in model.graph.nodes where node.opType != "Constant" && node.subgraphs.isEmpty {
            for out in node.outputs where !out.isEmpty && !weights.contains(out) {
                if let t = inference?.types[out], t.elementType != .float { continue }
                tensors.append(out)
            }
        }
        let calibrator = Calibrator(options: threads.map { SessionOptions(threads: $0) } ?? SessionOptions())
        let stats = try calibrator.collect(model: model, tensors: tensors, data: data, histograms: false)
        return Set(tensors.filter { name in
            guard let s = stats[name], s.minMax.count > 0 else { return false }
            return s.minMax.maxAbs > FP16Converter.float16Max
        })
    }
}
