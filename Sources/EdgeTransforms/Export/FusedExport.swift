import EdgeIR

/// Turns edgeopt's fused operators (domain `ai.edgeopt`) back into operators other tools run,
/// before a model is written.
///
///     ai.edgeopt::FusedConv(activation="Relu")  ─►  Conv ─► Relu              (standard, default)
///                                                ─►  com.microsoft::FusedConv  (onnxruntime contrib)
///     ai.edgeopt::FusedConv(X, W, B, Z, A)       ─►  Conv ─► Add(·, Z) ─► A    (standard)
///                                                ─►  com.microsoft::FusedConv(X, W, B, Z)  (contrib;
///                                                    ORT adds Z before the activation, as the engine)
///     ai.edgeopt::FusedGemm(activation=A)       ─►  Gemm ─► A
///     ai.edgeopt::FusedGemm(A, B, C, Z, act)     ─►  Gemm ─► Add(·, Z) ─► act  (either style: ORT's
///                                                    FusedGemm has no Z)
///     ai.edgeopt::SiLU                          ─►  Sigmoid, Mul
///
/// The standard form is exact: the same operations the fused kernel performs, as separate nodes.
/// The contrib form is used only for activations ONNX Runtime's FusedConv implements (Relu, Tanh,
/// Sigmoid, LeakyRelu, Clip, HardSigmoid, or none when there is a Z); others fall back to the
/// standard form.
public enum FusedExport {
    public enum Style: String, Sendable, CaseIterable {
        case standard
        case onnxruntimeContrib = "onnxruntime-contrib"
    }

    static let contribActivations: Set<String> = ["Relu", "Tanh", "Sigmoid", "LeakyRelu", "Clip", "HardSigmoid"]

    /// The model with every `ai.edgeopt` node lowered; the `ai.edgeopt` import is dropped.
    public static func lower(_ model: Model, style: Style = .standard) -> Model {
        var result = model
        let context = PassContext(model: model)
        var usedContrib = false
        lower(&result.graph, style: style, context: context, usedContrib: &usedContrib)
        for k in result.functions.indices where result.functions[k].opsetImports.contains(where: { $0.domain == FuseActivations.domain }) {
            var body = FunctionBody.graph(of: result.functions[k])
            var usedContribHere = false
            lower(&body, style: style, context: PassContext(model: Model(opsetImports: result.functions[k].opsetImports, graph: body)),
                  usedContrib: &usedContribHere)
            var imports = result.functions[k].opsetImports
            imports.removeAll { $0.domain == FuseActivations.domain }
            if usedContribHere, !imports.contains(where: { $0.domain == "com.microsoft" }) {
                imports.append(OpsetImport(domain: "com.microsoft", version: 1))
            }
            FunctionBody.update(&result.functions[k], from: body, opsetImports: imports)
            usedContrib = usedContrib || usedContribHere
        }
        result.opsetImports.removeAll { $0.domain == FuseActivations.domain }
        if usedContrib, !result.opsetImports.contains(where: { $0.domain == "com.microsoft" }) {
            result.opsetImports.append(OpsetImport(domain: "com.microsoft", version: 1))
        }
        return result
    }

    static func lower(_ graph: inout Graph, style: Style, context: PassContext, usedContrib: inout Bool) {
        var nodes: [Node] = []
        for var node in graph.nodes {
            for a in node.attributes.indices {
                switch node.attributes[a].value {
                case .graph(var g):
                    lower(&g, style: style, context: context, usedContrib: &usedContrib)
                    node.attributes[a].value = .graph(g)
                case .graphs(var gs):
                    for k in gs.indices { lower(&gs[k], style: style, context: context, usedContrib: &usedContrib) }
                    node.attributes[a].value = .graphs(gs)
                default: break
                }
            }
            guard node.domain == FuseActivations.domain else {
                nodes.append(node)
                continue
            }
            switch node.opType {
            case "SiLU":
                nodes.append(contentsOf: silu(input: node.inputs[0], output: node.outputs[0], base: node.displayName, context: context))
            case "FusedConv", "FusedGemm":
                let activation = node.string("activation") ?? ""
                let params = node.floats("activation_params") ?? []
                let preactivationName = node.string("preactivation_output")
                let activationName = node.string("activation_name")
                let residualInputName = node.string("residual_input"), residualName = node.string("residual_name")
                let z = node.inputs.count > 3 && !node.inputs[3].isEmpty ? node.inputs[3] : nil
                var base = node
                for a in ["activation", "activation_params", "preactivation_output", "activation_name", "residual_input", "residual_name"] {
                    base.removeAttribute(a)
                }
                if style == .onnxruntimeContrib, node.opType == "FusedConv",
                   contribActivations.contains(activation) || (z != nil && (activation.isEmpty || activation == "None")) {
                    var contrib = node
                    for a in ["preactivation_output", "activation_name", "residual_input", "residual_name"] { contrib.removeAttribute(a) }
                    if activation.isEmpty || activation == "None" { contrib.removeAttribute("activation") }
                    contrib.domain = "com.microsoft"
                    contrib.opType = "FusedConv"
                    usedContrib = true
                    nodes.append(contrib)
                    continue
                }
                base.domain = ""
                base.opType = node.opType == "FusedConv" ? "Conv" : "Gemm"
                let output = node.outputs[0]
                let hasActivation = !(activation.isEmpty || activation == "None")
                // The original intermediate names are free again unless something else took them.
                func restored(_ original: String?, _ suffix: String) -> String {
                    if let p = original, !graph.allValueNames().contains(p) {
                        context.reserve(p)
                        return p
                    }
                    return context.freshName("\(output)_\(suffix)")
                }
                if let z {
                    // Conv/Gemm → Add(·, Z) → activation (the Add writes the output when there is none).
                    base.inputs = Array(base.inputs.prefix(3))
                    while base.inputs.last == "" { base.inputs.removeLast() }
                    let convOutput = restored(residualInputName, node.opType == "FusedConv" ? "conv" : "gemm")
                    base.outputs = [convOutput]
                    nodes.append(base)
                    let sum = hasActivation ? restored(preactivationName, "preact") : output
                    nodes.append(Node(name: residualName ?? context.freshName("\(node.displayName)_add"), opType: "Add",
                                      inputs: [convOutput, z], outputs: [sum]))
                    if hasActivation {
                        var tail = activationNodes(activation, params: params, input: sum, output: output,
                                                   base: node.displayName, graph: &graph, context: context)
                        if let n = activationName, tail.count == 1 { tail[0].name = n }
                        nodes.append(contentsOf: tail)
                    }
                    continue
                }
                let preActivation = restored(preactivationName, "preact")
                base.outputs = [preActivation]
                nodes.append(base)
                var tail = activationNodes(activation, params: params, input: preActivation, output: output,
                                           base: node.displayName, graph: &graph, context: context)
                if let n = activationName, tail.count == 1 { tail[0].name = n }
                nodes.append(contentsOf: tail)
            default:
                nodes.append(node)
            }
        }
        graph.nodes = nodes
    }

    static func silu(input: String, output: String, base: String, context: PassContext) -> [Node] {
        let s = context.freshName("\(output)_sigmoid")
        return [Node(name: context.freshName("\(base)_sigmoid"), opType: "Sigmoid", inputs: [input], outputs: [s]),
                Node(name: context.freshName("\(base)_mul"), opType: "Mul", inputs: [input, s], outputs: [output])]
    }

    static func activationNodes(_ activation: String, params: [Float], input: String, output: String, base: String,
                                graph: inout Graph, context: PassContext) -> [Node] {
        let name = context.freshName("\(base)_\(activation.lowercased())")
        switch activation {
        case "SiLU":
            return silu(input: input, output: output, base: base, context: context)
        case "LeakyRelu":
            return [Node(name: name, opType: "LeakyRelu", inputs: [input], outputs: [output],
                         attributes: [Attribute("alpha", .float(params.first ?? 0.01))])]
        case "HardSigmoid":
            return [Node(name: name, opType: "HardSigmoid", inputs: [input], outputs: [output],
                         attributes: [Attribute("alpha", .float(params.count > 0 ? params[0] : 0.2)),
                                      Attribute("beta", .float(params.count > 1 ? params[1] : 0.5))])]
        case "Clip":
            let lo = params.count > 0 ? params[0] : -.infinity, hi = params.count > 1 ? params[1] : .infinity
            if context.opset < 11 {
                var attributes: [Attribute] = []
                if lo.isFinite { attributes.append(Attribute("min", .float(lo))) }
                if hi.isFinite { attributes.append(Attribute("max", .float(hi))) }
                return [Node(name: name, opType: "Clip", inputs: [input], outputs: [output], attributes: attributes)]
            }
            var inputs = [input]
            inputs.append(lo.isFinite ? graph.addInitializer(.scalar(lo), base: "\(name)_min", context: context) : "")
            if hi.isFinite { inputs.append(graph.addInitializer(.scalar(hi), base: "\(name)_max", context: context)) }
            while inputs.last == "" { inputs.removeLast() }
            return [Node(name: name, opType: "Clip", inputs: inputs, outputs: [output])]
        case "", "None":
            return [Node(name: name, opType: "Identity", inputs: [input], outputs: [output])]
        default:  // Relu, Sigmoid, HardSwish, Tanh
            return [Node(name: name, opType: activation, inputs: [input], outputs: [output])]
        }
    }
}
