import Foundation

/// Finds the large `raw_data` fields of a serialized ModelProto so that they can stay in the
/// memory-mapped file instead of being copied by the protobuf decoder.
///
/// It walks the wire format along ModelProto.graph (7) → GraphProto.initializer (5) and
/// GraphProto.node (1) → NodeProto.attribute (5) → AttributeProto.t (5), and for each
/// TensorProto found there removes `raw_data` (9) of at least `minimumBytes`, recording where
/// it lies in the file. Everything else is copied verbatim, with the lengths of the enclosing
/// messages re-encoded, into a much smaller message that swift-protobuf then decodes.
/// Anything unexpected (groups, bad varints, lengths past the end) returns nil and the caller
/// decodes the file as it is, which reports the problem precisely.
struct RawDataLocator {
    struct Located {
        /// The model without the removed `raw_data` fields.
        var filtered: Data
        /// Byte ranges in the file of the raw data of main-graph initializers, by initializer index.
        var initializers: [Int: Range<Int>] = [:]
        /// Byte ranges of tensor-valued attributes of main-graph nodes, by node and attribute index.
        var attributes: [AttributeKey: Range<Int>] = [:]
    }

    struct AttributeKey: Hashable {
        var node: Int
        var attribute: Int
    }

    let bytes: UnsafeRawBufferPointer
    let minimumBytes: Int

    init(bytes: UnsafeRawBufferPointer, minimumBytes: Int = 4096) {
        self.bytes = bytes
        self.minimumBytes = minimumBytes
    }

    /// What to do with one length-delimited field.
    private enum Action {
        case keep
        case replace(Data)
        case drop
    }

    func locate() -> Located? {
        var located = Located(filtered: Data())
        var graphs = 0
        let filtered = rewrite(0 ..< bytes.count) { field, range -> Action? in
            guard field == 7 else { return .keep }
            graphs += 1
            return self.graph(range, into: &located).map(Action.replace)
        }
        // A repeated graph field would merge two messages; leave such files to the decoder.
        guard let filtered, graphs <= 1 else { return nil }
        located.filtered = filtered
        return located
    }

    private func graph(_ range: Range<Int>, into located: inout Located) -> Data? {
        var initializerIndex = 0
        var nodeIndex = 0
        return rewrite(range) { field, range -> Action? in
            switch field {
            case 5:
                defer { initializerIndex += 1 }
                guard let (tensor, raw) = self.tensor(range) else { return nil }
                if let raw { located.initializers[initializerIndex] = raw }
                return .replace(tensor)
            case 1:
                defer { nodeIndex += 1 }
                var attributeIndex = 0
                let node = self.rewrite(range) { field, range -> Action? in
                    guard field == 5 else { return .keep }
                    defer { attributeIndex += 1 }
                    let index = attributeIndex
                    let attribute = self.rewrite(range) { field, range -> Action? in
                        guard field == 5 else { return .keep }
                        guard let (tensor, raw) = self.tensor(range) else { return nil }
                        if let raw { located.attributes[AttributeKey(node: nodeIndex, attribute: index)] = raw }
                        return .replace(tensor)
                    }
                    return attribute.map(Action.replace)
                }
                return node.map(Action.replace)
            default:
                return .keep
            }
        }
    }

    /// The TensorProto without large raw_data fields, and the last such field's range.
    private func tensor(_ range: Range<Int>) -> (Data, Range<Int>?)? {
        var raw: Range<Int>?
        var small = false
        let tensor = rewrite(range) { field, range -> Action? in
            guard field == 9 else { return .keep }
            if range.count < self.minimumBytes {
                small = true
                raw = nil
                return .keep  // small raw_data stays in the message
            }
            small = false
            raw = range
            return .drop
        }
        guard let tensor else { return nil }
        // If a small raw_data came after a large one, protobuf's last-wins rule picks the small one,
        // which stayed in the message; only a last large field is taken from the file.
        return (tensor, small ? nil : raw)
    }

    /// Copies the fields of the message in `range`, letting `handle` keep, replace or drop each
    /// length-delimited field; nil from `handle` (or malformed input) abandons the scan.
    private func rewrite(_ range: Range<Int>, _ handle: (Int, Range<Int>) -> Action?) -> Data? {
        var out = Data()
        var i = range.lowerBound
        while i < range.upperBound {
            let start = i
            guard let key = varint(&i, end: range.upperBound) else { return nil }
            let field = Int(key >> 3)
            guard field > 0 else { return nil }
            switch key & 7 {
            case 0:
                guard varint(&i, end: range.upperBound) != nil else { return nil }
            case 1:
                i += 8
            case 5:
                i += 4
            case 2:
                guard let length = varint(&i, end: range.upperBound), length <= UInt64(range.upperBound - i) else { return nil }
                let body = i ..< i + Int(length)
                i = body.upperBound
                switch handle(field, body) {
                case nil:
                    return nil
                case .drop?:
                    continue
                case .replace(let content)?:
                    appendVarint(key, to: &out)
                    appendVarint(UInt64(content.count), to: &out)
                    out.append(content)
                    continue
                case .keep?:
                    break
                }
            default:
                return nil  // groups (3, 4) and invalid wire types
            }
            guard i <= range.upperBound else { return nil }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start ..< i]))
        }
        return out
    }

    private func varint(_ i: inout Int, end: Int) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while i < end, shift < 64 {
            let byte = bytes[i]
            i += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
        return nil
    }

    private func appendVarint(_ value: UInt64, to out: inout Data) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }
}
