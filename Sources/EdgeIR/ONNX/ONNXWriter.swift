import Foundation
import ONNXProto
import SwiftProtobuf

/// Where `ONNXWriter.write` puts initializer data.
public enum ExternalDataPolicy: Sendable, Equatable {
    /// Inline, unless the serialized model would exceed protobuf's 2 GB limit; then every
    /// initializer of 1 KiB or more goes to the sidecar file.
    case automatic
    /// Always inline; models past 2 GB are an error.
    case never
    /// Initializers of at least `threshold` bytes go to the sidecar file `<model file name>.data`.
    case always(threshold: Int)
}

/// Writes the IR as an ONNX `ModelProto`. Output is deterministic (same IR → same bytes) and
/// written atomically (temporary file + rename, the data file first). The producer is set to
/// edgeopt; everything else the IR holds is kept, and each weight keeps its storage form
/// (initializer stays initializer, Constant stays Constant).
public enum ONNXWriter {
    /// protobuf cannot serialize messages of 2 GiB or more.
    static let protobufLimit = Int(Int32.max)
    /// Room left for everything that is not tensor bytes when deciding whether inline data fits.
    static let automaticHeadroom = 64 << 20
    /// Initializers at least this large go external under `.automatic` (as onnx's own helper does).
    static let automaticThreshold = 1024

    /// The files one `write` produced.
    public struct Written: Sendable, Equatable {
        public var modelPath: String
        /// The external data file, when any tensor went there.
        public var dataPath: String?
        /// Bytes of both files together.
        public var totalBytes: Int
    }

    @discardableResult
    public static func write(_ model: Model, to path: String, externalData: ExternalDataPolicy = .automatic) throws -> Written {
        let inlineBytes = model.totalTensorBytes()
        let threshold: Int?
        switch externalData {
        case .never:
            guard inlineBytes < protobufLimit else { throw tooLarge(path) }
            threshold = nil
        case .always(let t):
            threshold = max(0, t)
        case .automatic:
            threshold = inlineBytes + automaticHeadroom >= protobufLimit ? automaticThreshold : nil
        }
        let fileName = URL(fileURLWithPath: path).lastPathComponent
        let sink = try threshold.map { try ExternalDataSink(location: fileName + ".data", directoryOf: path, threshold: $0) }
        let modelFile = try AtomicFile(path: path)
        try ModelStreamWriter(exporter: ProtoExporter(external: sink)).write(model, to: modelFile, path: path)
        var dataPath: String?
        if let sink, sink.tensorCount > 0 {
            try sink.file.commit()
            dataPath = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(sink.location).path
        }
        try modelFile.commit()
        func size(_ p: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: p)[.size]) as? NSNumber)?.intValue ?? 0 }
        return Written(modelPath: path, dataPath: dataPath, totalBytes: size(path) + (dataPath.map(size) ?? 0))
    }

    /// The model with all data inline.
    public static func serialize(_ model: Model) throws -> Data {
        guard model.totalTensorBytes() < protobufLimit else { throw tooLarge(nil) }
        let memory = MemorySink()
        try ModelStreamWriter(exporter: ProtoExporter(external: nil)).write(model, to: memory, path: nil)
        return memory.data
    }

    static func tooLarge(_ path: String?) -> EdgeError {
        EdgeError.unsupported("the model is larger than protobuf's 2 GB limit; write it with external data", file: path)
    }
}

/// The sidecar file that receives external tensor data, in the order tensors are exported.
/// Tensors sharing one storage region are written once and referenced twice.
final class ExternalDataSink {
    let location: String
    let threshold: Int
    let file: AtomicFile
    private(set) var tensorCount = 0
    private var written: [RegionKey: Int] = [:]

    private struct RegionKey: Hashable {
        let storage: ObjectIdentifier
        let address: UInt
        let count: Int
    }

    init(location: String, directoryOf modelPath: String, threshold: Int) throws {
        self.location = location
        self.threshold = threshold
        let directory = URL(fileURLWithPath: modelPath).deletingLastPathComponent()
        file = try AtomicFile(path: directory.appendingPathComponent(location).path)
    }

    /// Appends the tensor's bytes (aligned: 4 KiB for tensors of 1 MiB and more so they can be
    /// mapped page-aligned, 64 bytes otherwise) and returns the `external_data` entries.
    func append(_ tensor: Tensor) throws -> [Onnx_StringStringEntryProto] {
        let key = RegionKey(storage: ObjectIdentifier(tensor.storage), address: UInt(bitPattern: tensor.storage.baseAddress),
                            count: tensor.byteCount)
        let offset: Int
        if let existing = written[key] {
            offset = existing
        } else {
            let alignment = tensor.byteCount >= 1 << 20 ? 4096 : 64
            let padding = (alignment - file.bytesWritten % alignment) % alignment
            try file.writeZeros(padding)
            offset = file.bytesWritten
            try tensor.withUnsafeBytes { try file.write($0) }
            written[key] = offset
        }
        tensorCount += 1
        return [entry("location", location), entry("offset", String(offset)), entry("length", String(tensor.byteCount))]
    }

    private func entry(_ key: String, _ value: String) -> Onnx_StringStringEntryProto {
        var e = Onnx_StringStringEntryProto()
        e.key = key
        e.value = value
        return e
    }
}

extension Model {
    /// Bytes of all tensor data in the model (graphs, subgraphs, function bodies).
    func totalTensorBytes() -> Int {
        graph.totalTensorBytes() + functions.reduce(0) { $0 + $1.nodes.totalTensorBytes() }
    }
}

extension Graph {
    /// Bytes of all tensor data in this graph and its subgraphs (initializers, sparse
    /// initializers, tensor-valued attributes).
    func totalTensorBytes() -> Int {
        initializers.values.reduce(0) { $0 + $1.byteCount + $1.strings.reduce(0) { $0 + $1.count } }
            + sparseInitializers.reduce(0) { $0 + $1.values.byteCount + $1.indices.byteCount }
            + nodes.totalTensorBytes()
    }
}

extension Array where Element == Node {
    func totalTensorBytes() -> Int {
        reduce(0) { sum, node in
            sum + node.attributes.reduce(0) { s, a in
                switch a.value {
                case .tensor(let t): return s + t.byteCount
                case .tensors(let ts): return s + ts.reduce(0) { $0 + $1.byteCount }
                case .sparseTensor(let t): return s + t.values.byteCount + t.indices.byteCount
                case .graph(let g): return s + g.totalTensorBytes()
                case .graphs(let gs): return s + gs.reduce(0) { $0 + $1.totalTensorBytes() }
                default: return s
                }
            }
        }
    }
}
