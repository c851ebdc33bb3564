import Foundation
import Yams

/// One thing wrong with a profile: the file, the key path inside it, and what is wrong.
/// Printed as `profiles/coral-usb.yaml: memory.bandwidth: cannot parse "fast GB/s" as …`.
public struct ProfileProblem: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// Dotted key path with sequence indices: `operators.rules[3].max_rank`. Empty for the file itself.
    public var path: String
    public var message: String

    public init(file: String, path: String, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }

    public var description: String {
        path.isEmpty ? "\(file): \(message)" : "\(file): \(path): \(message)"
    }
}

/// Collects every problem in one file instead of stopping at the first, so `profiles validate`
/// can list them all. Also records the source ids each section cites, checked once the
/// `sources` list has been read.
final class ProblemLog {
    let file: String
    private(set) var problems: [ProfileProblem] = []
    private(set) var sourceReferences: [(id: String, path: String)] = []

    init(file: String) { self.file = file }

    func add(_ path: String, _ message: String) {
        problems.append(ProfileProblem(file: file, path: path, message: message))
    }

    func cite(_ id: String, at path: String) {
        sourceReferences.append((id, path))
    }
}

enum KeyPath {
    static func child(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    static func index(_ path: String, _ i: Int) -> String { "\(path)[\(i)]" }
}

/// Reads one YAML mapping strictly: each key may be read once, unknown keys are reported with
/// the list of keys the schema allows, and missing required keys are reported by name.
final class MappingReader {
    let path: String
    let log: ProblemLog
    private var values: [String: Node] = [:]
    private var order: [String] = []

    /// Returns nil (after logging) when `node` is not a mapping.
    init?(_ node: Node, path: String, log: ProblemLog, known: [String]) {
        self.path = path
        self.log = log
        guard case .mapping(let mapping) = node else {
            log.add(path, "expected a mapping, found \(describe(node))")
            return nil
        }
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                log.add(path, "mapping keys must be plain strings, found \(describe(keyNode))")
                continue
            }
            let key = scalar.string
            guard known.contains(key) else {
                log.add(KeyPath.child(path, key), "unknown key (allowed here: \(known.joined(separator: ", ")))")
                continue
            }
            values[key] = value
            order.append(key)
        }
    }

    func has(_ key: String) -> Bool { values[key] != nil }

    /// A required key: logs `missing required field` when absent (or null).
    func required<T>(_ key: String, _ read: (Node, String, ProblemLog) -> T?) -> T? {
        let childPath = KeyPath.child(path, key)
        guard let node = values[key], !isNull(node) else {
            log.add(childPath, "missing required field")
            return nil
        }
        return read(node, childPath, log)
    }

    /// An optional key: absent or null yields nil without a problem.
    func optional<T>(_ key: String, _ read: (Node, String, ProblemLog) -> T?) -> T? {
        guard let node = values[key], !isNull(node) else { return nil }
        return read(node, KeyPath.child(path, key), log)
    }
}

/// "a mapping", "a list", "the number 4", "null" — for type-mismatch messages.
func describe(_ node: Node) -> String {
    switch node {
    case .mapping: return "a mapping"
    case .sequence: return "a list"
    case .alias: return "an alias"
    case .scalar(let scalar):
        if isNull(node) { return "null" }
        return "\"\(scalar.string)\""
    }
}

func isNull(_ node: Node) -> Bool {
    guard case .scalar(let scalar) = node else { return false }
    if scalar.style != .plain { return false }
    return scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null" || scalar.string == "Null" || scalar.string == "NULL"
}

/// Scalar readers. Each logs at `path` and returns nil on a problem.
enum Read {
    static func string(_ node: Node, _ path: String, _ log: ProblemLog) -> String? {
        guard case .scalar(let scalar) = node else {
            log.add(path, "expected a string, found \(describe(node))")
            return nil
        }
        let text = scalar.string.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else {
            log.add(path, "must not be empty")
            return nil
        }
        return text
    }

    static func bool(_ node: Node, _ path: String, _ log: ProblemLog) -> Bool? {
        guard case .scalar(let scalar) = node, scalar.style == .plain,
              scalar.string == "true" || scalar.string == "false" else {
            log.add(path, "expected true or false, found \(describe(node))")
            return nil
        }
        return scalar.string == "true"
    }

    static func int(_ node: Node, _ path: String, _ log: ProblemLog) -> Int? {
        guard case .scalar(let scalar) = node, scalar.style == .plain, let value = Int(scalar.string) else {
            log.add(path, "expected a whole number, found \(describe(node))")
            return nil
        }
        return value
    }

    static func positiveInt(_ node: Node, _ path: String, _ log: ProblemLog) -> Int? {
        guard let value = int(node, path, log) else { return nil }
        guard value > 0 else {
            log.add(path, "must be positive, got \(value)")
            return nil
        }
        return value
    }

    /// A plain number in (0, 1]: efficiency factors and power-mode throughput scales.
    static func fraction(_ node: Node, _ path: String, _ log: ProblemLog) -> Double? {
        guard case .scalar(let scalar) = node, scalar.style == .plain,
              let value = QuantityParser.parseNumber(scalar.string) else {
            log.add(path, "expected a number between 0 and 1, found \(describe(node))")
            return nil
        }
        guard value > 0, value <= 1 else {
            log.add(path, "must be greater than 0 and at most 1, got \(QuantityFormat.number(value))")
            return nil
        }
        return value
    }

    /// A quantity with a unit, converted to the base unit; must be > 0 unless `allowZero`.
    static func quantity(_ kind: QuantityKind, allowZero: Bool = false) -> (Node, String, ProblemLog) -> Double? {
        return { node, path, log in
            guard case .scalar(let scalar) = node else {
                log.add(path, "expected \(kind.nounWithExamples), found \(describe(node))")
                return nil
            }
            let text = scalar.string
            guard let value = QuantityParser.parse(text, as: kind) else {
                log.add(path, "cannot parse \"\(text)\" as \(kind.nounWithExamples)")
                return nil
            }
            if value < 0 || (value == 0 && !allowZero) {
                log.add(path, "must be \(allowZero ? "zero or positive" : "positive"), got \"\(text)\"")
                return nil
            }
            return value
        }
    }

    static func enumeration<E: RawRepresentable & CaseIterable>(_ type: E.Type) -> (Node, String, ProblemLog) -> E?
    where E.RawValue == String {
        return { node, path, log in
            guard let text = string(node, path, log) else { return nil }
            guard let value = E(rawValue: text) else {
                let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
                log.add(path, "unknown value \"\(text)\" (expected one of: \(allowed))")
                return nil
            }
            return value
        }
    }

    /// A list of `element`s. Problems in elements are logged; good elements are kept.
    static func list<T>(_ element: @escaping (Node, String, ProblemLog) -> T?) -> (Node, String, ProblemLog) -> [T]? {
        return { node, path, log in
            guard case .sequence(let sequence) = node else {
                log.add(path, "expected a list, found \(describe(node))")
                return nil
            }
            var result: [T] = []
            for (i, item) in sequence.enumerated() {
                if let value = element(item, KeyPath.index(path, i), log) { result.append(value) }
            }
            return result
        }
    }

    /// One string or a list of strings (`op: Conv` or `op: [Conv, ConvTranspose]`).
    static func stringOrList(_ node: Node, _ path: String, _ log: ProblemLog) -> [String]? {
        if case .sequence = node {
            let items = list(string)(node, path, log)
            if let items, items.isEmpty { log.add(path, "must not be empty") }
            return items
        }
        return string(node, path, log).map { [$0] }
    }

    /// `source: id` or `source: [id, id]`; each id is checked against `sources` later.
    static func sourceIDs(_ node: Node, _ path: String, _ log: ProblemLog) -> [String]? {
        guard let ids = stringOrList(node, path, log) else { return nil }
        for (i, id) in ids.enumerated() {
            log.cite(id, at: ids.count == 1 ? path : KeyPath.index(path, i))
        }
        return ids
    }
}
