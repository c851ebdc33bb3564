import Foundation
import ONNXProto
import SwiftProtobuf

/// How `ONNXReader` treats what it reads.
public struct ReadOptions: Sendable {
    /// Run `GraphValidator` (dangling names, duplicate definitions, cycles) after import.
    public var validate: Bool
    /// Deepest protobuf message nesting accepted. Each If/Loop/Scan level costs three messages
    /// (graph → node → attribute), so 300 allows about 100 nested control-flow levels; deeper
    /// files are rejected before they can exhaust the stack.
    public var messageDepthLimit: Int

    public init(validate: Bool = true, messageDepthLimit: Int = 300) {
        self.validate = validate
        self.messageDepthLimit = messageDepthLimit
    }
}

/// Reads ONNX `ModelProto` files into the IR.
///
/// Memory: the model file is memory-mapped and decoded in place; swift-protobuf copies each
/// `raw_data` field once, and those buffers are moved into `DataStorage` without another copy,
/// then the decoded protobuf and the map are released. External data stays memory-mapped.
public enum ONNXReader {
    public static func read(path: String) throws -> Model {
        try read(path: path, options: ReadOptions())
    }

    public static func read(path: String, options: ReadOptions) throws -> Model {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch let error as EdgeError {
            throw error.inFile(path)
        }
        guard file.byteCount > 0 else {
            throw EdgeError.badInput("\(path): empty file, not an ONNX model", file: path)
        }
        let baseDirectory = (path as NSString).deletingLastPathComponent
        let importer = ProtoImporter(path: path, baseDirectory: baseDirectory.isEmpty ? "." : baseDirectory)
        // Large raw_data fields stay in the mapped file (zero-copy); the decoder sees the rest.
        if let located = RawDataLocator(bytes: file.bytes).locate() {
            importer.modelFile = file
            importer.located = located
            return try read(data: located.filtered, importer: importer, options: options)
        }
        // The Data aliases the map without copying; it must not outlive `file` (it does not:
        // swift-protobuf copies what it keeps).
        let bytes = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: file.baseAddress), count: file.byteCount,
                         deallocator: .none)
        return try withExtendedLifetime(file) {
            try read(data: bytes, importer: importer, options: options)
        }
    }

    public static func read(data: Data, baseDirectory: String?) throws -> Model {
        try read(data: data, baseDirectory: baseDirectory, options: ReadOptions())
    }

    public static func read(data: Data, baseDirectory: String?, options: ReadOptions) throws -> Model {
        try read(data: data, importer: ProtoImporter(path: nil, baseDirectory: baseDirectory), options: options)
    }

    static func read(data: Data, importer: ProtoImporter, options: ReadOptions) throws -> Model {
        let path = importer.path
        let proto = try importer.decodeModel(data, options: options)
        let model = try importer.model(proto)
        if options.validate {
            do {
                try GraphValidator.validate(model)
            } catch let error as EdgeError {
                throw path.map { error.inFile($0) } ?? error
            }
        }
        return model
    }

    /// Decodes one serialized `TensorProto` (the ONNX test-data `.pb` layout).
    static func tensor(data: Data, path: String?, baseDirectory: String?) throws -> (name: String, tensor: Tensor) {
        let importer = ProtoImporter(path: path, baseDirectory: baseDirectory)
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = 8
        options.discardUnknownFields = true
        let proto: Onnx_TensorProto
        do {
            proto = try Onnx_TensorProto(serializedBytes: data, options: options)
        } catch {
            throw importer.fail("not a valid ONNX TensorProto (\(ProtoImporter.describe(error)))")
        }
        return (proto.name, try importer.tensor(proto, what: "tensor file"))
    }
}

/// Converts decoded protobuf messages into the IR. One importer per file: it knows the file
/// (for messages) and the directory external data is relative to, and caches mapped external files.
final class ProtoImporter {
    let path: String?
    let baseDirectory: String?
    var externalFiles: [String: MappedFile] = [:]
    /// The mapped model file and where its large raw_data fields are, when `RawDataLocator`
    /// took them out of the bytes the decoder sees.
    var modelFile: MappedFile?
    var located: RawDataLocator.Located?

    init(path: String?, baseDirectory: String?) {
        self.path = path
        self.baseDirectory = baseDirectory
    }

    func fail(_ message: String) -> EdgeError {
        EdgeError.badInput(message, file: path)
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case BinaryDecodingError.truncated: return "the file is truncated"
        case BinaryDecodingError.malformedProtobuf: return "malformed protobuf"
        case BinaryDecodingError.invalidUTF8: return "a string field is not valid UTF-8"
        case BinaryDecodingError.messageDepthLimit: return "messages nested too deeply"
        case BinaryDecodingError.trailingGarbage: return "trailing garbage after the message"
        default: return "\(error)"
        }
    }

    func decodeModel(_ data: Data, options: ReadOptions) throws -> Onnx_ModelProto {
        var decoding = BinaryDecodingOptions()
        decoding.messageDepthLimit = options.messageDepthLimit
        decoding.discardUnknownFields = true
        let proto: Onnx_ModelProto
        do {
            proto = try Onnx_ModelProto(serializedBytes: data, options: decoding)
        } catch BinaryDecodingError.messageDepthLimit {
            throw fail("not a usable ONNX model: graphs nested more than \(options.messageDepthLimit / 3) levels deep (protobuf message depth limit \(options.messageDepthLimit))")
        } catch {
            throw fail("not a valid ONNX model: \(Self.describe(error))")
        }
        // Arbitrary bytes occasionally decode as a protobuf of unknown fields; a model has both.
        guard proto.hasIrVersion, proto.hasGraph else {
            let missing = [proto.hasIrVersion ? nil : "ir_version", proto.hasGraph ? nil : "graph"].compactMap { $0 }
            throw fail("not an ONNX model: no \(missing.joined(separator: " and ")) field")
        }
        return proto
    }
}
