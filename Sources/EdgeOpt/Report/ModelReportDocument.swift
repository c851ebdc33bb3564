import Foundation

/// How a `ModelReport` reads in a terminal or a pull request.
extension ModelReport: RenderableReport {
    public var document: Document {
        var doc = Document(title: "Model report: \((model.path as NSString).lastPathComponent)")
        doc.sections.append(Section("Model", .keyValues(modelFacts)))
        doc.sections.append(Section("Inputs", .table(Self.tensorTable(inputs))))
        doc.sections.append(Section("Outputs", .table(Self.tensorTable(outputs))))
        doc.sections.append(Section("Size", .keyValues(sizeFacts)))
        var dtypes = Table(columns: [.init("dtype"), .init("tensors", .right), .init("elements", .right), .init("bytes", .right)])
        for d in bytesByDType {
            dtypes.append([d.dtype, Units.grouped(d.tensors), Units.grouped(d.elements), Units.bytes(d.bytes)])
        }
        doc.sections.append(Section("Bytes by dtype", .table(dtypes)))
        doc.sections.append(Section("Compute", .keyValues(computeFacts)))
        doc.sections.append(Section("Activation memory", .keyValues(memoryFacts)))
        var ops = Table(columns: [.init("op"), .init("count", .right)])
        for (op, n) in opCounts.sorted(by: { ($1.value, $0.key) < ($0.value, $1.key) }) { ops.append([op, String(n)]) }
        doc.sections.append(Section("Operators (\(nodeCount) nodes)", .table(ops)))
        if !unknownOps.isEmpty {
            doc.sections.append(Section("Unknown operators (shapes taken from the model's declarations; no cost estimate)",
                                        .lines(unknownOps.sorted { $0.key < $1.key }.map { "\($0.key) × \($0.value)" })))
        }
        if let layers {
            var t = Table(columns: [.init("name"), .init("op"), .init("output shape"), .init("params", .right),
                                    .init("bytes", .right), .init("MACs", .right)])
            for l in layers {
                let name = l.graph.isEmpty ? l.name : "\(l.graph)/\(l.name)"
                let op = l.domain.isEmpty || l.domain == "ai.onnx" ? l.op : "\(l.domain):\(l.op)"
                let shape = l.outputs.first.map { $0.type.shapeText } ?? ""
                t.append([name, op, shape, Units.grouped(l.parameters), Units.bytes(l.bytes),
                          l.costKnown ? Units.grouped(l.macs) : "?"])
            }
            doc.sections.append(Section("Layers", .table(t)))
        }
        return doc
    }

    var modelFacts: [KeyValue] {
        var facts = [KeyValue("file", model.path), KeyValue("file size", Units.bytes(model.fileBytes))]
        if model.externalDataBytes > 0 { facts.append(KeyValue("external data", Units.bytes(model.externalDataBytes))) }
        let producer = [model.producerName, model.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")
        facts.append(KeyValue("producer", producer.isEmpty ? "(none)" : producer))
        facts.append(KeyValue("IR version", String(model.irVersion)))
        facts.append(KeyValue("opsets", model.opsets.map { "\($0.domain.isEmpty ? "ai.onnx" : $0.domain) \($0.version)" }.joined(separator: ", ")))
        if !model.dims.isEmpty {
            facts.append(KeyValue("dims", model.dims.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")))
        }
        return facts
    }

    var sizeFacts: [KeyValue] {
        var facts = [
            KeyValue("parameters", "\(Units.grouped(parameters.count)) (\(Units.count(parameters.count)))"),
            KeyValue("parameter bytes", Units.bytes(parameters.bytes)),
            KeyValue("constant elements", "\(Units.grouped(parameters.constantElements)) (\(Units.bytes(parameters.constantBytes)), int64/bool shape data)"),
            KeyValue("weight tensors", Units.grouped(parameters.tensors)),
        ]
        if parameters.fromConstantNodes > 0 {
            facts.append(KeyValue("  in Constant nodes", Units.grouped(parameters.fromConstantNodes)))
        }
        if parameters.fromConstantOfShape > 0 {
            facts.append(KeyValue("  from ConstantOfShape", Units.grouped(parameters.fromConstantOfShape)))
        }
        if parameters.inSubgraphs > 0 {
            facts.append(KeyValue("  in If/Loop/Scan bodies", Units.grouped(parameters.inSubgraphs)))
        }
        if parameters.duplicateTensors > 0 {
            facts.append(KeyValue("byte-identical copies", "\(parameters.duplicateTensors) tensors, \(Units.grouped(parameters.duplicateElements)) elements (counted; sharing would save them)"))
        }
        return facts
    }

    var computeFacts: [KeyValue] {
        var facts = [
            KeyValue("MACs", "\(Units.macs(compute.macs)) (\(Units.grouped(compute.macs)))"),
            KeyValue("FLOPs", "\(Units.flops(compute.flops)) (\(Units.grouped(compute.flops)))"),
        ]
        if compute.nodesWithUnknownCost > 0 {
            facts.append(KeyValue("unknown cost", "\(compute.nodesWithUnknownCost) nodes (counted as 0)"))
            let symbolic = Set(inputs.flatMap { $0.type.shape ?? [] }.compactMap { d -> String? in
                if case .named(let n) = d, n != "?" { return n }
                return nil
            })
            if !symbolic.isEmpty {
                facts.append(KeyValue("hint", "pin symbolic dimensions for a full count, e.g. " +
                                      symbolic.sorted().map { "--dim \($0)=1" }.joined(separator: " ")))
            }
        }
        return facts
    }

    var memoryFacts: [KeyValue] {
        var facts = [
            KeyValue("peak live", Units.bytes(memory.peakLiveBytes) + (memory.peakAt.map { " (at \($0))" } ?? "")),
            KeyValue("arena (best-fit reuse)", Units.bytes(memory.arenaBytes)),
            KeyValue("naive sum", "\(Units.bytes(memory.naiveBytes)) over \(memory.activations) activations"),
        ]
        if memory.unsizedActivations > 0 {
            facts.append(KeyValue("unsized", "\(memory.unsizedActivations) activations of unknown shape (counted as 0)"))
        }
        return facts
    }

    static func tensorTable(_ values: [NamedTensorValue]) -> Table {
        var t = Table(columns: [.init("name"), .init("dtype"), .init("shape")])
        for v in values { t.append([v.name, v.type.dtype, v.type.shapeText]) }
        return t
    }
}
