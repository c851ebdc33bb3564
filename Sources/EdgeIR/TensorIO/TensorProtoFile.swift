import Foundation
import ONNXProto

/// A single serialized ONNX `TensorProto`, as in the ONNX test-data layout
/// (`test_data_set_N/input_K.pb`). Data may be raw, in typed fields, or external (relative to the
/// file's directory).
public enum TensorProtoFile {
    public static func read(path: String) throws -> (name: String, tensor: Tensor) {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch let error as EdgeError {
            throw error.inFile(path)
        }
        let bytes = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: file.baseAddress), count: file.byteCount,
                         deallocator: .none)
        let directory = (path as NSString).deletingLastPathComponent
        return try withExtendedLifetime(file) {
            try ONNXReader.tensor(data: bytes, path: path, baseDirectory: directory.isEmpty ? "." : directory)
        }
    }

    /// Decodes a serialized `TensorProto` held in memory (e.g. one embedded in a `SequenceProto`).
    /// External data, if any, is resolved against `baseDirectory`.
    public static func read(data: Data, baseDirectory: String? = nil) throws -> (name: String, tensor: Tensor) {
        try ONNXReader.tensor(data: data, path: nil, baseDirectory: baseDirectory)
    }

    /// Writes `tensor` (data in `raw_data`, or `string_data` for strings) atomically.
    public static func write(_ tensor: Tensor, name: String = "", to path: String) throws {
        let proto = try ProtoExporter(external: nil).tensor(tensor, name: name.isEmpty ? nil : name, mayGoExternal: false)
        let data: Data
        do {
            data = try proto.serializedBytes()
        } catch {
            throw EdgeError.internalError("cannot serialize tensor '\(name)': \(error)")
        }
        try AtomicFile.write(data, to: path)
    }
}
