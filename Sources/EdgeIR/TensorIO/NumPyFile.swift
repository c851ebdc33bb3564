import Foundation

/// NumPy `.npy` files (format versions 1.0, 2.0 and 3.0): a magic string, a header that is a
/// Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`, then the
/// array bytes. Little-endian, C-order arrays of numeric and bool types are supported; Fortran
/// order and big-endian data are rejected with a message saying how to re-save.
public enum NumPyFile {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"
    /// Headers beyond this are not arrays anyone wrote on purpose.
    static let maxHeaderLength = 1 << 20

    /// Reads an array; its bytes stay memory-mapped (no copy).
    public static func read(path: String) throws -> Tensor {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch let error as EdgeError {
            throw error.inFile(path)
        }
        let header = try parseHeader(file.bytes, label: path)
        let storage = try MappedStorage(file: file, offset: header.dataOffset, byteCount: header.byteCount)
        return Tensor(dtype: header.dtype, shape: header.shape, storage: storage)
    }

    /// Parses `.npy` bytes held in memory (e.g. an `.npz` member); `label` names it in errors.
    public static func read(data: Data, label: String) throws -> Tensor {
        let header = try data.withUnsafeBytes { try parseHeader($0, label: label) }
        let body = data.subdata(in: data.startIndex + header.dataOffset ..< data.startIndex + header.dataOffset + header.byteCount)
        return Tensor(dtype: header.dtype, shape: header.shape, storage: DataStorage.make(body))
    }

    /// Writes `tensor` atomically as an `.npy` file (version 1.0, or 2.0 for very long headers).
    public static func write(_ tensor: Tensor, to path: String) throws {
        let file = try AtomicFile(path: path)
        try file.write(try encodedHeader(for: tensor, label: path))
        try tensor.withUnsafeBytes { try file.write($0) }
        try file.commit()
    }

    /// The complete `.npy` bytes of `tensor`.
    public static func encode(_ tensor: Tensor, label: String) throws -> Data {
        var data = try encodedHeader(for: tensor, label: label)
        tensor.withUnsafeBytes { data.append(contentsOf: $0) }
        return data
    }

    // MARK: - Header

    struct Header {
        var dtype: DType
        var shape: [Int]
        var dataOffset: Int
        var byteCount: Int
    }

    static func descr(for dtype: DType) -> String? {
        switch dtype {
        case .float: return "<f4"
        case .double: return "<f8"
        case .float16: return "<f2"
        case .int8: return "|i1"
        case .uint8: return "|u1"
        case .int16: return "<i2"
        case .uint16: return "<u2"
        case .int32: return "<i4"
        case .uint32: return "<u4"
        case .int64: return "<i8"
        case .uint64: return "<u8"
        case .bool: return "|b1"
        case .complex64: return "<c8"
        case .complex128: return "<c16"
        default: return nil
        }
    }

    static func dtype(forDescr descr: String, label: String) throws -> DType {
        guard let order = descr.first, descr.count >= 3 else {
            throw EdgeError.badInput("\(label): unsupported .npy dtype '\(descr)'", file: label)
        }
        let code = String(descr.dropFirst())
        let table: [String: DType] = [
            "f2": .float16, "f4": .float, "f8": .double, "i1": .int8, "u1": .uint8, "i2": .int16, "u2": .uint16,
            "i4": .int32, "u4": .uint32, "i8": .int64, "u8": .uint64, "b1": .bool, "c8": .complex64, "c16": .complex128,
        ]
        guard let dtype = table[code] else {
            throw EdgeError.badInput("\(label): unsupported .npy dtype '\(descr)' (numeric and bool arrays only)", file: label)
        }
        switch order {
        case "<", "|", "=":
            return dtype
        case ">" where dtype.bitWidth == 8:
            return dtype
        case ">":
            throw EdgeError.badInput(
                "\(label): big-endian .npy data ('\(descr)') is not supported; re-save with arr.astype(arr.dtype.newbyteorder('<'))",
                file: label)
        default:
            throw EdgeError.badInput("\(label): unsupported .npy dtype '\(descr)'", file: label)
        }
    }

    /// `totalByteCount`: the size of the whole `.npy` when `bytes` hold only its beginning.
    static func parseHeader(_ bytes: UnsafeRawBufferPointer, label: String, totalByteCount: UInt64? = nil) throws -> Header {
        func fail(_ message: String) -> EdgeError { EdgeError.badInput("\(label): \(message)", file: label) }
        guard bytes.count >= 10, bytes.prefix(6).elementsEqual(magic) else {
            throw fail("not a .npy file (no \\x93NUMPY magic)")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated .npy header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw fail("unsupported .npy format version \(major).\(bytes[7])")
        }
        guard headerLength <= maxHeaderLength, headerStart + headerLength <= bytes.count else {
            throw fail("truncated .npy header (declares \(headerLength) bytes)")
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[headerStart ..< headerStart + headerLength]),
                          as: UTF8.self)
        var parser = PythonLiteralParser(text: text)
        let dict: [String: PythonLiteralParser.Value]
        do {
            dict = try parser.parseDict()
        } catch let message as PythonLiteralParser.Failure {
            throw fail("malformed .npy header (\(message.text)): \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        guard case .string(let descr)? = dict["descr"] else { throw fail(".npy header has no 'descr'") }
        guard case .bool(let fortran)? = dict["fortran_order"] else { throw fail(".npy header has no 'fortran_order'") }
        guard case .tuple(let dims)? = dict["shape"] else { throw fail(".npy header has no 'shape'") }
        if fortran {
            throw fail("Fortran-order .npy arrays are not supported; re-save with np.save(path, np.ascontiguousarray(arr))")
        }
        let dtype = try self.dtype(forDescr: descr, label: label)
        var count = 1
        for d in dims {
            guard d >= 0 else { throw fail("negative dimension in .npy shape \(dims)") }
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, product <= 1 << 48 else { throw fail(".npy shape \(dims) declares an absurd number of elements") }
            count = product
        }
        let dataOffset = headerStart + headerLength
        let byteCount = dtype.byteCount(elements: count)
        let total = Int(clamping: totalByteCount ?? UInt64(bytes.count))
        guard total - dataOffset == byteCount else {
            throw fail(".npy data holds \(total - dataOffset) bytes but \(descr) \(dims) needs \(byteCount)")
        }
        return Header(dtype: dtype, shape: dims, dataOffset: dataOffset, byteCount: byteCount)
    }

    static func encodedHeader(for tensor: Tensor, label: String) throws -> Data {
        guard let descr = descr(for: tensor.dtype) else {
            throw EdgeError.unsupported("\(label): \(tensor.dtype) tensors cannot be stored in .npy", file: label)
        }
        let shape: String
        switch tensor.shape.count {
        case 0: shape = "()"
        case 1: shape = "(\(tensor.shape[0]),)"
        default: shape = "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        }
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        // Pad with spaces and a final newline so that the data starts on a 64-byte boundary.
        let fixed = dict.utf8.count + 1 + 10 <= 65535 ? 10 : 12
        let total = fixed + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        let length = dict.utf8.count
        var data = Data(magic)
        if fixed == 10 {
            data.append(contentsOf: [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)])
        } else {
            data.append(contentsOf: [2, 0, UInt8(length & 0xFF), UInt8((length >> 8) & 0xFF),
                                     UInt8((length >> 16) & 0xFF), UInt8(length >> 24)])
        }
        data.append(contentsOf: Array(dict.utf8))
        return data
    }
}

/// Just enough of Python's literal syntax for `.npy` headers: a dict of string keys to strings,
/// booleans and tuples of integers.
struct PythonLiteralParser {
    enum Value: Equatable {
        case string(String)
        case bool(Bool)
        case tuple([Int])
    }

    struct Failure: Error {
        var text: String
    }

    private let chars: [Character]
    private var i = 0

    init(text: String) {
        chars = Array(text)
    }

    mutating func parseDict() throws -> [String: Value] {
        try expect("{")
        var result: [String: Value] = [:]
        while true {
            skipSpace()
            if peek == "}" { i += 1; break }
            let key = try parseString()
            try expect(":")
            result[key] = try parseValue()
            skipSpace()
            if peek == "," { i += 1; continue }
            try expect("}")
            break
        }
        return result
    }

    private var peek: Character? { i < chars.count ? chars[i] : nil }

    private mutating func skipSpace() {
        while let c = peek, c.isWhitespace { i += 1 }
    }

    private mutating func expect(_ c: Character) throws {
        skipSpace()
        guard peek == c else { throw Failure(text: "expected '\(c)' at offset \(i)") }
        i += 1
    }

    private mutating func parseString() throws -> String {
        skipSpace()
        guard let quote = peek, quote == "'" || quote == "\"" else { throw Failure(text: "expected a string at offset \(i)") }
        i += 1
        var s = ""
        while let c = peek, c != quote {
            s.append(c)
            i += 1
        }
        guard peek == quote else { throw Failure(text: "unterminated string") }
        i += 1
        return s
    }

    private mutating func parseValue() throws -> Value {
        skipSpace()
        switch peek {
        case "'", "\"":
            return .string(try parseString())
        case "(":
            i += 1
            var items: [Int] = []
            while true {
                skipSpace()
                if peek == ")" { i += 1; break }
                var digits = ""
                if peek == "-" { digits.append("-"); i += 1 }
                while let c = peek, c.isASCII, c.isNumber { digits.append(c); i += 1 }
                if peek == "L" { i += 1 }  // Python 2 long suffix
                guard let v = Int(digits) else { throw Failure(text: "expected an integer at offset \(i)") }
                items.append(v)
                skipSpace()
                if peek == "," { i += 1; continue }
                try expect(")")
                break
            }
            return .tuple(items)
        default:
            let rest = String(chars[i...].prefix(5))
            if rest.hasPrefix("True") { i += 4; return .bool(true) }
            if rest.hasPrefix("False") { i += 5; return .bool(false) }
            throw Failure(text: "unexpected value at offset \(i)")
        }
    }
}
