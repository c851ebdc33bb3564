import Foundation

/// JSON for scripts: keys sorted (so output is byte-identical for the same input), pretty
/// printed, slashes unescaped.
public enum JSONRendering {
    public static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        return String(decoding: data, as: UTF8.self)
    }
}
