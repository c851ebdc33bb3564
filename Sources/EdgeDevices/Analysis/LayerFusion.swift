/// Groups run-time nodes into the layers a compiler launches, so per-layer overhead and memory
/// traffic are counted once per fused layer, as TensorRT, edgetpu_compiler, OpenVINO and ATC do:
///
/// - an anchor (Conv, ConvTranspose, Gemm, MatMul; `FusedConv`/`FusedGemm` are already one node)
///   absorbs the chain of BatchNormalization, activations and elementwise ops (bias Add, residual
///   Add, Mul by a scale) that follows it, as long as each intermediate has exactly one reader —
///   the intermediate never reaches memory;
/// - a run of elementwise/activation/normalization ops with single readers is one layer (a
///   decomposed LayerNorm or GELU becomes one pointwise kernel);
/// - metadata-only ops (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout) are not layers:
///   they change a view, not data. They still need operator support.
///
/// Nodes are fused only when they sit on the same side of the partition (`placement`).
public struct Layer: Sendable {
    /// Indices into `ModelFacts.nodes`, in schedule order; the first is the anchor.
    public var members: [Int]
    public var opClass: OpClass
    public var flops: Int
    public var macs: Int
    public var weightElements: Int
    /// Activation elements read from outside the layer and written for readers outside it.
    public var inputElements: Int
    public var outputElements: Int
    public var onAccelerator: Bool
    /// Metadata-only: no launch, no traffic.
    public var isView: Bool
}

public enum LayerFusion {
    static let anchors: Set<String> = ["Conv", "ConvTranspose", "Gemm", "MatMul", "ConvInteger", "MatMulInteger",
                                       "QLinearConv", "QLinearMatMul"]
    static let viewOps: Set<String> = ["Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Shape", "Size"]
    static let pointwiseClasses: Set<OpClass> = [.elementwise, .activation, .normalization]

    public static func layers(_ facts: ModelFacts, onAccelerator: [Bool]) -> [Layer] {
        let nodes = facts.nodes
        // Readers of each value among run-time nodes, plus graph outputs.
        var readers: [String: Int] = [:]
        for n in nodes { for (name, _) in n.activationInputs { readers[name, default: 0] += 1 } }
        for (name, _) in facts.outputs { readers[name, default: 0] += 1 }
        var producer: [String: Int] = [:]
        for (k, n) in nodes.enumerated() { for (name, _) in n.outputs { producer[name] = k } }

        var layerOf = [Int](repeating: -1, count: nodes.count)
        var layers: [Layer] = []
        for (k, n) in nodes.enumerated() {
            let isView = viewOps.contains(n.baseOpType)
            // Join the producer's layer when this node is pointwise, reads a single-reader output
            // of the producer's last member, and sits on the same side.
            if !isView, pointwiseClasses.contains(n.opClass) {
                let candidates = n.activationInputs.compactMap { producer[$0.name] }
                if let p = candidates.first(where: { p in
                    let l = layerOf[p]
                    return l >= 0 && !layers[l].isView && layers[l].members.last == p
                        && onAccelerator[p] == onAccelerator[k]
                        && nodes[p].outputs.allSatisfy { (readers[$0.name] ?? 0) == 1 }
                        && (anchors.contains(nodes[layers[l].members[0]].baseOpType) || pointwiseClasses.contains(layers[l].opClass))
                }) {
                    let l = layerOf[p]
                    layers[l].members.append(k)
                    layerOf[k] = l
                    continue
                }
            }
            layerOf[k] = layers.count
            layers.append(Layer(members: [k], opClass: n.opClass, flops: 0, macs: 0, weightElements: 0, inputElements: 0,
                                outputElements: 0, onAccelerator: onAccelerator[k], isView: isView))
        }
        // Totals: traffic is what crosses the layer boundary.
        for l in layers.indices {
            let members = Set(layers[l].members)
            var produced = Set<String>()
            for m in layers[l].members { for o in nodes[m].outputs { produced.insert(o.name) } }
            var consumedInside: [String: Int] = [:]
            for m in layers[l].members {
                let n = nodes[m]
                layers[l].flops += n.flops
                layers[l].macs += n.macs
                layers[l].weightElements += n.weightElements
                for (name, e) in n.activationInputs {
                    if produced.contains(name) { consumedInside[name, default: 0] += 1 } else { layers[l].inputElements += e ?? 0 }
                }
            }
            for m in members {
                for (name, e) in nodes[m].outputs where (readers[name] ?? 0) > (consumedInside[name] ?? 0) {
                    layers[l].outputElements += e ?? 0
                }
            }
        }
        return layers
    }
}
