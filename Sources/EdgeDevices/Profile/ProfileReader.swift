import EdgeIR
import Foundation
import Yams

/// Facts shared by several devices (the Edge TPU's operator list is the same on three Coral
/// products), kept in `profiles/families/<name>.yaml`. A profile naming the family inherits
/// each section it does not state itself; a section the profile states replaces the family's
/// whole section (no deep merge, so what applies is always one block in one file).
public struct DeviceFamily: Sendable, Equatable {
    public var name: String
    public var description: String
    public var onChip: OnChipMemory?
    public var hostLink: HostLink?
    public var precisions: PrecisionSupport?
    public var operators: OperatorSupport?
    public var partition: PartitionRule?
    public var toolchain: Toolchain?
    public var efficiency: Efficiency?
    /// Operators of the secondary engines (DLA) for profiles whose secondary accelerators do not
    /// state their own.
    public var secondaryOperators: OperatorSupport?
    public var sources: [Source]
    public var notes: [String]
    public var file: String
}

/// Reads profile and family files strictly and reports every problem with file and key path.
public enum ProfileReader {
    public static let profileSchema = "edgeopt-device-profile/1"
    public static let familySchema = "edgeopt-device-family/1"

    static let inheritableKeys = ["on_chip", "host_link", "precisions", "operators", "partition", "toolchain", "efficiency"]

    /// Result of reading one file: the profile when it is valid, and every problem found.
    public struct Outcome<T: Sendable>: Sendable {
        public var value: T?
        public var problems: [ProfileProblem]
    }

    /// Parses YAML text into its root node, logging syntax errors with line and column.
    static func root(text: String, log: ProblemLog) -> Yams.Node? {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                log.add("", "the file is empty")
                return nil
            }
            return node
        } catch let error as YamlError {
            log.add("", "invalid YAML: \(yamlErrorSummary(error))")
        } catch {
            log.add("", "invalid YAML: \(error)")
        }
        return nil
    }

    /// One line from a Yams error: the problem and where it is, without the echoed snippet.
    static func yamlErrorSummary(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
             .composer(_, let problem, let mark, _):
            return "\(problem) at line \(mark.line), column \(mark.column)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            return "duplicate key \(duplicates.joined(separator: ", ")) in the mapping at line \(context.mark.line), column \(context.mark.column)"
        default:
            return String(describing: error).split(separator: "\n").first.map(String.init) ?? "unreadable"
        }
    }

    public static func readFamily(text: String, file: String) -> Outcome<DeviceFamily> {
        let log = ProblemLog(file: file)
        guard let node = root(text: text, log: log) else { return Outcome(value: nil, problems: log.problems) }
        let known = ["schema", "family", "description", "sources", "notes", "secondary_operators"] + inheritableKeys
        guard let r = MappingReader(node, path: "", log: log, known: known) else { return Outcome(value: nil, problems: log.problems) }
        let schema = r.required("schema", Read.string)
        if let schema, schema != familySchema {
            log.add("schema", "expected \"\(familySchema)\", got \"\(schema)\"")
        }
        let name = r.required("family", Read.string)
        let description = r.required("description", Read.string)
        let onChip = r.optional("on_chip", Sections.onChip)
        let hostLink = r.optional("host_link", Sections.hostLink)
        let precisions = r.optional("precisions", Sections.precisions)
        let operators = r.optional("operators", Sections.operators)
        let partition = r.optional("partition", Sections.partition)
        let toolchain = r.optional("toolchain", Sections.toolchain)
        let efficiency = r.optional("efficiency", Sections.efficiency)
        let secondaryOperators = r.optional("secondary_operators", Sections.operators)
        let sources = r.required("sources", Read.list(Sections.source)) ?? []
        let notes = r.optional("notes", Read.list(Read.string)) ?? []
        if let name { checkIdentifier(name, path: "family", log: log) }
        Sections.checkSources(sources, inherited: [], path: "sources", log: log)
        guard log.problems.isEmpty, let name, let description else { return Outcome(value: nil, problems: log.problems) }
        let family = DeviceFamily(name: name, description: description, onChip: onChip, hostLink: hostLink,
                                  precisions: precisions, operators: operators, partition: partition,
                                  toolchain: toolchain, efficiency: efficiency, secondaryOperators: secondaryOperators,
                                  sources: sources, notes: notes, file: file)
        return Outcome(value: family, problems: [])
    }

    /// Reads a profile. `family` looks up a family by name (nil when there is no such file).
    public static func readProfile(text: String, file: String,
                                   family lookup: (String) -> Outcome<DeviceFamily>?) -> Outcome<DeviceProfile> {
        let log = ProblemLog(file: file)
        guard let node = root(text: text, log: log) else { return Outcome(value: nil, problems: log.problems) }
        let known = ["schema", "name", "aliases", "display_name", "vendor", "family", "form_factor", "price",
                     "accelerator", "secondary_accelerators", "host_cpu", "memory", "sources", "notes", "power"]
            + inheritableKeys
        guard let r = MappingReader(node, path: "", log: log, known: known) else { return Outcome(value: nil, problems: log.problems) }
        let schema = r.required("schema", Read.string)
        if let schema, schema != profileSchema {
            log.add("schema", "expected \"\(profileSchema)\", got \"\(schema)\"")
        }
        let name = r.required("name", Read.string)
        let aliases = r.optional("aliases", Read.list(Read.string)) ?? []
        let displayName = r.required("display_name", Read.string)
        let vendor = r.required("vendor", Read.string)
        let familyName = r.optional("family", Read.string)
        let formFactor = r.required("form_factor", Read.enumeration(FormFactor.self))
        let price = r.required("price", Sections.price)
        let accelerator = r.required("accelerator", Sections.computeUnit)
        let secondary = r.optional("secondary_accelerators", Read.list(Sections.computeUnit)) ?? []
        let hostCPU = r.required("host_cpu", Sections.hostCPU)
        let memory = r.optional("memory", Sections.memory)
        let power = r.required("power", Sections.power)
        let sources = r.required("sources", Read.list(Sections.source)) ?? []
        let notes = r.optional("notes", Read.list(Read.string)) ?? []

        // The family, if named, must itself be valid; its problems are reported under its own file.
        var family: DeviceFamily?
        var familyProblems: [ProfileProblem] = []
        if let familyName {
            if let outcome = lookup(familyName) {
                family = outcome.value
                familyProblems = outcome.problems
            } else {
                log.add("family", "no family file \"families/\(familyName).yaml\" next to the profile or among the built-in profiles")
            }
        }
        // A section the profile states wins; otherwise the family's; otherwise it is missing.
        func section<T>(_ key: String, _ read: (Yams.Node, String, ProblemLog) -> T?, inherited: T?, required: Bool) -> T? {
            if r.has(key) { return r.optional(key, read) }
            if let inherited { return inherited }
            if required {
                let whence = familyName.map { " (neither the profile nor family \"\($0)\" states it)" } ?? ""
                log.add(key, "missing required field\(whence)")
            }
            return nil
        }
        let familyFailed = familyName != nil && family == nil
        let onChip = section("on_chip", Sections.onChip, inherited: family?.onChip, required: false)
        let hostLink = section("host_link", Sections.hostLink, inherited: family?.hostLink, required: false)
        let precisions = section("precisions", Sections.precisions, inherited: family?.precisions, required: !familyFailed)
        let operators = section("operators", Sections.operators, inherited: family?.operators, required: !familyFailed)
        let partition = section("partition", Sections.partition, inherited: family?.partition, required: !familyFailed)
        let toolchain = section("toolchain", Sections.toolchain, inherited: family?.toolchain, required: !familyFailed)
        let efficiency = section("efficiency", Sections.efficiency, inherited: family?.efficiency, required: !familyFailed)

        if let name {
            checkIdentifier(name, path: "name", log: log)
            for (i, alias) in aliases.enumerated() {
                checkIdentifier(alias, path: KeyPath.index("aliases", i), log: log)
                if alias == name { log.add(KeyPath.index("aliases", i), "repeats the profile's own name") }
            }
        }
        // With a broken family its sources and sections are unknown: checking citations or the
        // memory rule against nothing would only repeat the family's own problem.
        Sections.checkSources(sources, inherited: family?.sources ?? [], path: "sources", log: log,
                              checkCitations: !familyFailed)
        if let accelerator, let precisions {
            for (i, precision) in precisions.supported.enumerated() where accelerator.compute[precision] == nil {
                log.add(KeyPath.index("precisions.supported", i),
                        "\(precision.rawValue) is supported but accelerator.compute gives no \(precision.rawValue) peak")
            }
        }
        if r.has("memory") == false, memory == nil, !familyFailed {
            // A device without DRAM must say where weights live: on chip, streamed over the link.
            if onChip?.overflow != .streamFromHost || hostLink == nil {
                log.add("memory", "missing required field (only a host-attached device whose on_chip overflow is stream-from-host may omit it)")
            }
        }

        var secondaryUnits = secondary
        for (i, unit) in secondaryUnits.enumerated() where unit.operators == nil {
            if let inherited = family?.secondaryOperators {
                secondaryUnits[i].operators = inherited
            } else if !familyFailed {
                log.add(KeyPath.child(KeyPath.index("secondary_accelerators", i), "operators"),
                        "missing required field (neither the engine nor its family states secondary_operators)")
            }
        }

        let problems = log.problems + familyProblems
        guard problems.isEmpty, let name, let displayName, let vendor, let formFactor, let price, let accelerator,
              let hostCPU, let power, let precisions, let operators, let partition, let toolchain, let efficiency
        else { return Outcome(value: nil, problems: problems) }
        let profile = DeviceProfile(
            name: name, aliases: aliases, displayName: displayName, vendor: vendor, family: familyName,
            formFactor: formFactor, price: price, accelerator: accelerator, secondaryAccelerators: secondaryUnits,
            hostCPU: hostCPU, memory: memory, onChip: onChip, hostLink: hostLink, power: power,
            precisions: precisions, operators: operators, partition: partition, toolchain: toolchain,
            efficiency: efficiency, sources: (family?.sources ?? []) + sources, notes: (family?.notes ?? []) + notes,
            file: file)
        return Outcome(value: profile, problems: [])
    }

    /// Names are used on the command line and as file names: lowercase letters, digits, dashes.
    static func checkIdentifier(_ text: String, path: String, log: ProblemLog) {
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789-")
        let valid = !text.isEmpty && text.unicodeScalars.allSatisfy { allowed.contains($0) }
            && !text.hasPrefix("-") && !text.hasSuffix("-")
        if !valid {
            log.add(path, "\"\(text)\" is not a valid name (lowercase letters, digits and single dashes, e.g. jetson-orin-nano-8gb)")
        }
    }
}

extension Array where Element == ProfileProblem {
    /// All problems as one bad-input error (exit 65): one line per problem.
    func asError() -> EdgeError {
        EdgeError.badInput(map(\.description).joined(separator: "\n"), file: first?.file)
    }
}
