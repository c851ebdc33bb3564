import Foundation
import ONNXProto

/// External tensor data (`data_location = EXTERNAL`): the bytes live in a file named by the
/// `location` key, relative to the model file's directory, at `offset` for `length` bytes.
/// The file is memory-mapped once and each tensor becomes a zero-copy `MappedStorage` slice.
extension ProtoImporter {
    func externalStorage(_ proto: Onnx_TensorProto, byteCount needed: Int, label: String) throws -> any TensorStorage {
        var location: String?
        var offset = 0
        var length: Int?
        for entry in proto.externalData {
            switch entry.key {
            case "location":
                location = entry.value
            case "offset":
                guard let v = Int(entry.value), v >= 0 else {
                    throw fail("\(label): external data offset '\(entry.value)' is not a non-negative integer")
                }
                offset = v
            case "length":
                guard let v = Int(entry.value), v >= 0 else {
                    throw fail("\(label): external data length '\(entry.value)' is not a non-negative integer")
                }
                length = v
            default:
                break  // "checksum" and unknown keys carry nothing we need.
            }
        }
        guard let location, !location.isEmpty else {
            throw fail("\(label): external data has no 'location'")
        }
        let resolved = try resolveExternalPath(location, label: label)
        let file = try mappedExternalFile(resolved, location: location, label: label)
        guard offset <= file.byteCount else {
            throw fail("\(label): external data offset \(offset) lies beyond the end of '\(location)' (\(file.byteCount) bytes)")
        }
        let available = file.byteCount - offset
        let byteCount = length ?? min(available, needed)
        guard byteCount <= available else {
            throw fail("\(label): external data range [\(offset), \(offset + byteCount)) lies beyond the end of '\(location)' (\(file.byteCount) bytes)")
        }
        guard byteCount == needed else {
            throw fail("\(label): external data in '\(location)' holds \(byteCount) bytes at offset \(offset) but the tensor needs \(needed)")
        }
        return try MappedStorage(file: file, offset: offset, byteCount: byteCount)
    }

    /// `location` must stay inside the model's directory: no absolute paths, no `..`, and no
    /// symbolic link that leads outside.
    private func resolveExternalPath(_ location: String, label: String) throws -> String {
        guard let baseDirectory else {
            throw fail("\(label): uses external data '\(location)' but the model was not read from a file")
        }
        guard !location.hasPrefix("/"), !location.hasPrefix("\\"), !location.contains("\0") else {
            throw fail("\(label): external data location '\(location)' is an absolute path; it must be relative to the model's directory")
        }
        let components = location.split(whereSeparator: { $0 == "/" || $0 == "\\" })
        guard !components.contains(where: { $0 == ".." }) else {
            throw fail("\(label): external data location '\(location)' escapes the model's directory")
        }
        let path = (baseDirectory as NSString).appendingPathComponent(components.joined(separator: "/"))
        guard FileManager.default.fileExists(atPath: path) else {
            throw fail("\(label): external data file '\(location)' does not exist (looked for '\(path)')")
        }
        let realBase = URL(fileURLWithPath: baseDirectory).resolvingSymlinksInPath().standardizedFileURL.path
        let realPath = URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path
        let prefix = realBase.hasSuffix("/") ? realBase : realBase + "/"
        guard realPath.hasPrefix(prefix) else {
            throw fail("\(label): external data location '\(location)' resolves outside the model's directory")
        }
        return realPath
    }

    private func mappedExternalFile(_ path: String, location: String, label: String) throws -> MappedFile {
        if let file = externalFiles[path] { return file }
        do {
            let file = try MappedFile(path: path)
            externalFiles[path] = file
            return file
        } catch let error as EdgeError {
            throw fail("\(label): external data file '\(location)': \(error.message)")
        }
    }
}
