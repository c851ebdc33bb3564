import Foundation
import OrderedCollections
import ZIPFoundation

/// NumPy `.npz` archives: a ZIP file of `.npy` members, stored (`np.savez`) or
/// deflate-compressed (`np.savez_compressed`). Keys are member names without `.npy`, in archive order.
public enum NPZFile {
    /// Largest member we inflate (16 GiB): guards against archives that declare absurd sizes.
    static let maxMemberBytes: UInt64 = 16 << 30

    public static func read(path: String) throws -> OrderedDictionary<String, Tensor> {
        guard FileManager.default.fileExists(atPath: path) else {
            throw EdgeError.badInput("\(path): no such file", file: path)
        }
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw EdgeError.badInput("\(path): not a readable .npz (ZIP) archive: \(error)", file: path)
        }
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value ?? 0
        var result = OrderedDictionary<String, Tensor>()
        for entry in archive where entry.type == .file {
            let name = entry.path.hasSuffix(".npy") ? String(entry.path.dropLast(4)) : entry.path
            let label = "\(path) member '\(entry.path)'"
            // Deflate cannot expand more than ~1032:1; a larger declared size is a lie.
            guard entry.uncompressedSize <= maxMemberBytes,
                  entry.uncompressedSize <= max(entry.compressedSize, 1) * 1032 + 1024 || !entry.isCompressed,
                  entry.isCompressed || entry.uncompressedSize <= fileSize else {
                throw EdgeError.badInput("\(label): declares an implausible size of \(entry.uncompressedSize) bytes", file: path)
            }
            var data = Data()
            data.reserveCapacity(Int(min(entry.uncompressedSize, 64 << 20)))  // grows past this only as bytes arrive
            do {
                _ = try archive.extract(entry, skipCRC32: false) { chunk in
                    guard UInt64(data.count + chunk.count) <= entry.uncompressedSize else {
                        throw EdgeError.badInput("\(label): inflates beyond its declared size", file: path)
                    }
                    data.append(chunk)
                }
            } catch let error as EdgeError {
                throw error
            } catch {
                throw EdgeError.badInput("\(label): cannot be extracted (\(error))", file: path)
            }
            guard result.updateValue(try NumPyFile.read(data: data, label: label), forKey: name) == nil else {
                throw EdgeError.badInput("\(path): member '\(name)' appears twice", file: path)
            }
        }
        return result
    }

    /// The members' headers and locations, without reading their data (see `NumPyArraySource`).
    public static func sources(path: String) throws -> [(key: String, source: NumPyArraySource)] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw EdgeError.badInput("\(path): no such file", file: path)
        }
        return try NumPyArraySource.members(ofArchive: path)
    }

    /// Writes the arrays atomically; `compressed` deflates each member as `np.savez_compressed` does.
    public static func write(_ arrays: OrderedDictionary<String, Tensor>, to path: String, compressed: Bool = false) throws {
        // ZIPFoundation writes to a path of its own; build the archive at a temporary name in the
        // destination directory and rename it into place.
        let target = URL(fileURLWithPath: path)
        let temporary = target.deletingLastPathComponent()
            .appendingPathComponent(".\(target.lastPathComponent).tmp-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: temporary) }
        do {
            let archive = try Archive(url: temporary, accessMode: .create)
            for (name, tensor) in arrays {
                let bytes = try NumPyFile.encode(tensor, label: "\(path) member '\(name)'")
                try archive.addEntry(with: name + ".npy", type: .file, uncompressedSize: Int64(bytes.count),
                                     compressionMethod: compressed ? .deflate : .none) { position, size in
                    bytes.subdata(in: Int(position) ..< Int(position) + size)
                }
            }
        } catch let error as EdgeError {
            throw error
        } catch {
            throw EdgeError.badInput("\(path): cannot write the archive: \(error)", file: path)
        }
        guard rename(temporary.path, path) == 0 else {
            throw EdgeError.badInput("\(path): cannot move the finished archive into place: \(String(cString: strerror(errno)))",
                                     file: path)
        }
    }
}
