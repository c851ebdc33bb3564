import Foundation

/// Tensor bytes held by a Foundation `Data` without copying them: the importer moves each
/// decoded `raw_data` buffer here instead of duplicating it, which keeps peak memory while
/// importing near one copy of the weights (swift-protobuf already copies every `bytes` field once).
///
/// `Data` stores values of up to 14 bytes inline in the struct itself, where their address is not
/// stable; `make(_:)` therefore copies small buffers into `OwnedStorage` (which also gives them the
/// 64-byte alignment kernels prefer) and wraps only heap-backed buffers.
public final class DataStorage: TensorStorage, @unchecked Sendable {
    // @unchecked: `data` is immutable after init and only read through `baseAddress`.
    public let data: Data
    public let byteCount: Int
    public let baseAddress: UnsafeRawPointer

    /// Buffers below this size are copied (cheap) rather than wrapped.
    public static let wrapThreshold = 256

    private init(wrapping data: Data) {
        self.data = data
        byteCount = data.count
        // A heap-backed Data's bytes stay where they are while this (never mutated) copy is alive.
        baseAddress = data.withUnsafeBytes { UnsafeRawPointer($0.baseAddress!) }
    }

    /// Storage for `data`: wrapped without a copy when large, copied into owned storage when small.
    public static func make(_ data: Data) -> any TensorStorage {
        if data.count < wrapThreshold { return OwnedStorage(copying: data) }
        return DataStorage(wrapping: data)
    }
}
