import EdgeIR
import Foundation

/// Reads a backend-test value file: a `TensorProto`, or for sequence/optional-typed values a
/// `SequenceProto` / `OptionalProto` (whose embedded tensors are decoded by `TensorProtoFile`).
enum ProtoValueFile {
    static func read(path: String, type: ValueType?) throws -> Value {
        switch type {
        case .sequence(let element)?:
            guard let data = FileManager.default.contents(atPath: path) else { throw EdgeError.badInput("cannot read '\(path)'") }
            return try sequence(data, elementType: element, path: path)
        case .optional(let element)?:
            guard let data = FileManager.default.contents(atPath: path) else { throw EdgeError.badInput("cannot read '\(path)'") }
            return try optional(data, elementType: element, path: path)
        default:
            return .tensor(try TensorProtoFile.read(path: path).tensor)
        }
    }

    /// SequenceProto: field 3 = repeated TensorProto tensor_values, 5 = repeated SequenceProto.
    static func sequence(_ data: Data, elementType: ValueType?, path: String) throws -> Value {
        var tensors: [Tensor] = []
        for (field, payload) in try fields(data, path: path) where field == 3 {
            tensors.append(try tensor(payload, path: path))
        }
        let dtype = elementType?.tensorType?.elementType ?? tensors.first?.dtype ?? .float
        return .sequence(tensors, elementType: dtype)
    }

    /// OptionalProto: field 2 = elem_type (0 undefined, 1 tensor, 4 sequence), 3 = tensor_value,
    /// 5 = sequence_value.
    static func optional(_ data: Data, elementType: ValueType?, path: String) throws -> Value {
        for (field, payload) in try fields(data, path: path) {
            if field == 3 { return .optional(.tensor(try tensor(payload, path: path))) }
            if field == 5 {
                var inner: ValueType? = nil
                if case .sequence(let e)? = elementType { inner = e }
                return .optional(try sequence(payload, elementType: inner, path: path))
            }
        }
        return .optional(nil)
    }

    static func tensor(_ payload: Data, path: String) throws -> Tensor {
        let temp = NSTemporaryDirectory() + "edgeopt-proto-\(UUID().uuidString).pb"
        try payload.write(to: URL(fileURLWithPath: temp))
        defer { try? FileManager.default.removeItem(atPath: temp) }
        return try TensorProtoFile.read(path: temp).tensor
    }

    /// Length-delimited fields of a protobuf message (others skipped), in order.
    static func fields(_ data: Data, path: String) throws -> [(Int, Data)] {
        let bytes = [UInt8](data)
        var i = 0
        var result: [(Int, Data)] = []
        func varint() throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard i < bytes.count, shift < 64 else { throw EdgeError.badInput("truncated protobuf in '\(path)'") }
                let b = bytes[i]
                i += 1
                value |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { return value }
                shift += 7
            }
        }
        while i < bytes.count {
            let key = try varint()
            let field = Int(key >> 3)
            switch key & 7 {
            case 0: _ = try varint()
            case 1: i += 8
            case 5: i += 4
            case 2:
                let length = Int(try varint())
                guard length >= 0, i + length <= bytes.count else { throw EdgeError.badInput("truncated protobuf in '\(path)'") }
                result.append((field, Data(bytes[i..<(i + length)])))
                i += length
            default:
                throw EdgeError.badInput("unsupported protobuf wire type in '\(path)'")
            }
        }
        return result
    }
}
