import EdgeIR

/// Small Codable values shared by every report's JSON (reused by fit/select/quantize/validate).

/// One dimension in JSON: a number when fixed, the name when symbolic, "?" when unknown.
public enum DimValue: Codable, Sendable, Equatable, CustomStringConvertible {
    case fixed(Int)
    case named(String)

    public init(_ dim: Dim) {
        switch dim {
        case .fixed(let v): self = .fixed(v)
        case .symbolic(let s): self = .named(s)
        case .unknown: self = .named("?")
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Int.self) { self = .fixed(v) } else { self = .named(try c.decode(String.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .fixed(let v): try c.encode(v)
        case .named(let s): try c.encode(s)
        }
    }

    public var description: String {
        switch self {
        case .fixed(let v): return String(v)
        case .named(let s): return s
        }
    }
}

/// A tensor's element type and shape; `shape` is nil when even the rank is unknown.
public struct TensorTypeValue: Codable, Sendable, Equatable, CustomStringConvertible {
    public var dtype: String
    public var shape: [DimValue]?

    public init(_ type: TensorType?) {
        dtype = type.map { $0.elementType.description } ?? "unknown"
        shape = type?.shape?.map(DimValue.init)
    }

    /// "float32[1,3,224,224]", "float32[?]" for unknown rank.
    public var description: String {
        "\(dtype)[\(shape.map { $0.map(\.description).joined(separator: ",") } ?? "*")]"
    }

    /// "1×3×224×224" (or "?" for unknown rank), for tables.
    public var shapeText: String {
        guard let shape else { return "?" }
        return shape.isEmpty ? "scalar" : shape.map(\.description).joined(separator: "×")
    }
}

/// A named value (graph input/output, node output).
public struct NamedTensorValue: Codable, Sendable, Equatable {
    public var name: String
    public var type: TensorTypeValue
    public init(name: String, type: TensorType?) {
        self.name = name
        self.type = TensorTypeValue(type)
    }
}
