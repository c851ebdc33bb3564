import Foundation
import ONNXProto
import SwiftProtobuf

/// Somewhere serialized bytes go: the model file, or memory.
protocol ByteSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
}

extension AtomicFile: ByteSink {}

final class MemorySink: ByteSink {
    var data = Data()
    func write(_ bytes: UnsafeRawBufferPointer) throws { data.append(contentsOf: bytes) }
}

/// Serializes a model without ever holding a second copy of its weights.
///
/// Building a whole `Onnx_ModelProto` would copy every tensor into a `raw_data` field and then
/// again into the serialized bytes: three copies of the weights at the peak. Instead the main
/// graph is written field by field: each node is built and serialized on its own, and each
/// initializer's header is serialized without its bytes, which are then streamed straight from
/// the tensor's storage. Fields are emitted in field-number order, exactly as swift-protobuf
/// orders a whole message, so the bytes equal `try exporter.model(model).serializedBytes()`.
struct ModelStreamWriter {
    let exporter: ProtoExporter

    /// Node messages smaller than this are kept from the sizing pass instead of being rebuilt.
    private static let cacheLimit = 1 << 20

    // Wire tags (field number << 3 | 2 for length-delimited fields).
    private static let modelGraphTag: UInt8 = 7 << 3 | 2
    private static let graphNodeTag: UInt8 = 1 << 3 | 2
    private static let graphInitializerTag: UInt8 = 5 << 3 | 2
    private static let tensorRawDataTag: UInt8 = 9 << 3 | 2

    private enum NodeBytes {
        case cached(Data)
        case rebuild(index: Int, size: Int)
        var size: Int {
            switch self {
            case .cached(let d): return d.count
            case .rebuild(_, let size): return size
            }
        }
    }

    private struct InitializerBytes {
        var header: Data
        var raw: Tensor?
        var size: Int { header.count + (raw.map { 1 + varintSize($0.byteCount) + $0.byteCount } ?? 0) }
    }

    /// Writes the model; throws before writing anything when it would pass protobuf's 2 GB limit.
    func write(_ model: Model, to sink: ByteSink, path: String?) throws {
        var headProto = Onnx_ModelProto()
        headProto.irVersion = model.irVersion
        headProto.producerName = "edgeopt"
        headProto.producerVersion = EdgeOptVersion.string
        if !model.domain.isEmpty { headProto.domain = model.domain }
        if model.modelVersion != 0 { headProto.modelVersion = model.modelVersion }
        if !model.docString.isEmpty { headProto.docString = model.docString }
        var tailProto = try exporter.model(model, includeGraph: false)
        tailProto.clearIrVersion()
        tailProto.clearProducerName()
        tailProto.clearProducerVersion()
        tailProto.clearDomain()
        tailProto.clearModelVersion()
        tailProto.clearDocString()

        let graph = model.graph
        // Sizing pass.
        var nodes: [NodeBytes] = []
        nodes.reserveCapacity(graph.nodes.count)
        for (i, node) in graph.nodes.enumerated() {
            let bytes: Data = try exporter.node(node).serializedBytes()
            nodes.append(bytes.count < Self.cacheLimit ? .cached(bytes) : .rebuild(index: i, size: bytes.count))
        }
        var nameProto = Onnx_GraphProto()
        if !graph.name.isEmpty { nameProto.name = graph.name }
        var initializers: [InitializerBytes] = []
        initializers.reserveCapacity(graph.initializers.count)
        for (name, tensor) in graph.initializers {
            let (proto, raw) = try exporter.tensorWithoutRawData(tensor, name: name, mayGoExternal: true)
            initializers.append(InitializerBytes(header: try proto.serializedBytes(), raw: raw))
        }
        var restProto = try exporter.graph(graph, includeNodesAndInitializers: false)
        restProto.clearName()

        let head: Data = try headProto.serializedBytes()
        let name: Data = try nameProto.serializedBytes()
        let rest: Data = try restProto.serializedBytes()
        let tail: Data = try tailProto.serializedBytes()
        let graphSize = nodes.reduce(0) { $0 + 1 + varintSize($1.size) + $1.size } + name.count
            + initializers.reduce(0) { $0 + 1 + varintSize($1.size) + $1.size } + rest.count
        let total = head.count + 1 + varintSize(graphSize) + graphSize + tail.count
        guard total < ONNXWriter.protobufLimit else { throw ONNXWriter.tooLarge(path) }

        // Writing pass.
        try write(head, to: sink)
        try writeTag(Self.modelGraphTag, length: graphSize, to: sink)
        for entry in nodes {
            switch entry {
            case .cached(let bytes):
                try writeTag(Self.graphNodeTag, length: bytes.count, to: sink)
                try write(bytes, to: sink)
            case .rebuild(let index, let size):
                let bytes: Data = try exporter.node(graph.nodes[index]).serializedBytes()
                guard bytes.count == size else { throw EdgeError.internalError("node \(index) changed size between passes") }
                try writeTag(Self.graphNodeTag, length: size, to: sink)
                try write(bytes, to: sink)
            }
        }
        try write(name, to: sink)
        for entry in initializers {
            try writeTag(Self.graphInitializerTag, length: entry.size, to: sink)
            try write(entry.header, to: sink)
            if let raw = entry.raw {
                try writeTag(Self.tensorRawDataTag, length: raw.byteCount, to: sink)
                try raw.withUnsafeBytes { try sink.write($0) }
            }
        }
        try write(rest, to: sink)
        try write(tail, to: sink)
    }

    private func write(_ data: Data, to sink: ByteSink) throws {
        try data.withUnsafeBytes { try sink.write($0) }
    }

    private func writeTag(_ tag: UInt8, length: Int, to sink: ByteSink) throws {
        var bytes: [UInt8] = [tag]
        var v = UInt64(length)
        repeat {
            bytes.append(UInt8(v & 0x7F) | (v >= 0x80 ? 0x80 : 0))
            v >>= 7
        } while v != 0
        try bytes.withUnsafeBytes { try sink.write($0) }
    }
}

/// Bytes of `value` as a protobuf varint.
func varintSize(_ value: Int) -> Int {
    var v = UInt64(value)
    var n = 1
    while v >= 0x80 {
        v >>= 7
        n += 1
    }
    return n
}
