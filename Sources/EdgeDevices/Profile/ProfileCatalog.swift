import EdgeIR
import Foundation

/// All device profiles edgeopt knows: the built-in `profiles/` directory plus user directories
/// (`--profiles DIR`), where a user profile with the name of a built-in one replaces it and any
/// other name adds a device.
///
/// Where the built-in directory is found, in order:
/// 1. `$EDGEOPT_PROFILES`, when set (an installed binary points it at its share directory);
/// 2. `profiles/` next to the executable, then `../share/edgeopt/profiles` relative to it;
/// 3. the source checkout this module was compiled from (`<repo>/profiles`, via `#filePath`),
///    which is what `swift run edgeopt` and `swift test` in a fresh clone use.
///
/// The profiles are plain files rather than SwiftPM resources on purpose: users edit and add
/// YAML next to the built-in ones, and on Linux `Bundle.module` traps when the bundle is not
/// beside the binary, where a missing directory here is a clear error instead.
public struct ProfileCatalog: Sendable {
    /// Every profile, sorted by name (deterministic output).
    public private(set) var profiles: [DeviceProfile]
    /// The built-in directory that was used.
    public let builtinDirectory: String

    public static let environmentVariable = "EDGEOPT_PROFILES"

    /// Loads the built-in profiles and then each user directory in order; later directories
    /// override earlier ones by name. Throws one bad-input error listing every problem found.
    public static func load(userDirectories: [String] = [], builtinDirectory: String? = nil,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ProfileCatalog {
        let builtin = try builtinDirectory ?? locateBuiltinDirectory(environment: environment)
        var loader = Loader(builtinDirectory: builtin)
        var problems: [ProfileProblem] = []
        var byName: [String: DeviceProfile] = [:]
        for (layer, directory) in ([builtin] + userDirectories).enumerated() {
            let (profiles, layerProblems) = try loader.loadDirectory(directory, isBuiltin: layer == 0)
            problems += layerProblems
            for profile in profiles { byName[profile.name] = profile }
        }
        let sorted = byName.values.sorted { $0.name < $1.name }
        problems += aliasClashes(sorted)
        // A broken family file is reported once, not once per profile that names it.
        var seen = Set<String>()
        problems = problems.filter { seen.insert($0.description).inserted }
        if !problems.isEmpty { throw problems.asError() }
        return ProfileCatalog(profiles: sorted, builtinDirectory: builtin)
    }

    /// The profile whose name or alias is `name`.
    public func profile(named name: String) throws -> DeviceProfile {
        if let profile = profiles.first(where: { $0.matches(name: name) }) { return profile }
        let known = profiles.map(\.name).joined(separator: ", ")
        throw EdgeError.badInput("no device profile named \"\(name)\" (known: \(known))")
    }

    public static func locateBuiltinDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let configured = environment[environmentVariable], !configured.isEmpty {
            guard isDirectory(configured) else {
                throw EdgeError.badInput("\(environmentVariable)=\(configured) is not a directory")
            }
            return configured
        }
        var candidates: [String] = []
        if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent() {
            candidates.append(executable.appendingPathComponent("profiles").path)
            candidates.append(executable.appendingPathComponent("../share/edgeopt/profiles").standardizedFileURL.path)
        }
        candidates.append(sourceCheckoutProfiles)
        if let found = candidates.first(where: isDirectory) { return found }
        throw EdgeError.badInput("cannot find the built-in device profiles (looked in \(candidates.joined(separator: ", "))); set \(environmentVariable) to the profiles directory")
    }

    /// `<repo>/profiles`, from this file's location `<repo>/Sources/EdgeDevices/Profile/ProfileCatalog.swift`.
    static let sourceCheckoutProfiles: String = {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("profiles").path
    }()

    /// Validates individual files (`edgeopt profiles validate`). Families are looked up next to
    /// each file and among the built-in profiles. Returns the problems per file, in input order.
    public static func validate(files: [String], builtinDirectory: String? = nil,
                                environment: [String: String] = ProcessInfo.processInfo.environment) -> [(file: String, problems: [ProfileProblem])] {
        let builtin = builtinDirectory ?? (try? locateBuiltinDirectory(environment: environment))
        var loader = Loader(builtinDirectory: builtin)
        return files.map { given in
            // Built-in files are named as the catalog names them (profiles/<file>); others as given.
            var file = given
            if let builtin, given.hasPrefix(builtin + "/") { file = "profiles/" + given.dropFirst(builtin.count + 1) }
            let text: String
            switch readProfileText(given) {
            case .success(let contents): text = contents
            case .failure(let problem): return (file, [ProfileProblem(file: file, path: "", message: problem.message)])
            }
            let directory = (given as NSString).deletingLastPathComponent
            if isFamilyFile(text: text) {
                return (file, ProfileReader.readFamily(text: text, file: file).problems)
            }
            return (file, loader.readProfile(text: text, file: file, directory: directory.isEmpty ? "." : directory).problems)
        }
    }

    /// Every profile and family file of the built-in directory and of `userDirectories`, in a
    /// stable order, for `profiles validate` without arguments.
    public static func profileFiles(userDirectories: [String] = [],
                                    environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [String] {
        let builtin = try locateBuiltinDirectory(environment: environment)
        var files: [String] = []
        for directory in [builtin] + userDirectories {
            guard isDirectory(directory) else {
                throw EdgeError.badInput("profiles directory \(directory) does not exist or is not a directory")
            }
            for sub in [directory, (directory as NSString).appendingPathComponent("families")] where isDirectory(sub) {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: sub)) ?? []
                files += names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
                    .map { (sub as NSString).appendingPathComponent($0) }
            }
        }
        return files
    }

    /// A family file is validated as such; it declares `family:` instead of `name:`.
    static func isFamilyFile(text: String) -> Bool {
        text.contains(ProfileReader.familySchema)
    }

    static func aliasClashes(_ profiles: [DeviceProfile]) -> [ProfileProblem] {
        var owner: [String: DeviceProfile] = [:]
        for profile in profiles { owner[profile.name] = profile }
        var problems: [ProfileProblem] = []
        for profile in profiles {
            for (i, alias) in profile.aliases.enumerated() {
                if let other = owner[alias], other.name != profile.name {
                    problems.append(ProfileProblem(file: profile.file, path: "aliases[\(i)]",
                                                   message: "\"\(alias)\" is already the name or alias of \(other.name) (\(other.file))"))
                } else {
                    owner[alias] = profile
                }
            }
        }
        return problems
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    /// Profiles are a few kilobytes; anything past this is not a profile and is not read into memory.
    static let maximumProfileBytes = 4 << 20

    struct ReadFailure: Error { var message: String }

    /// The file's text, or why it cannot be had: missing, a directory, too large, not UTF-8.
    static func readProfileText(_ path: String) -> Result<String, ReadFailure> {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            return .failure(ReadFailure(message: "no such file"))
        }
        if isDir.boolValue { return .failure(ReadFailure(message: "is a directory, not a profile file")) }
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber,
           size.intValue > maximumProfileBytes {
            return .failure(ReadFailure(message: "is \(size.intValue) bytes; a profile is at most \(maximumProfileBytes) bytes"))
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(ReadFailure(message: "cannot read the file"))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(ReadFailure(message: "cannot read the file as UTF-8 text"))
        }
        return .success(text)
    }



    /// Reads directories and caches family files by path.
    struct Loader {
        let builtinDirectory: String?
        var families: [String: ProfileReader.Outcome<DeviceFamily>] = [:]

        init(builtinDirectory: String?) { self.builtinDirectory = builtinDirectory }

        /// How a file is named in messages: built-in files as `profiles/<name>.yaml`, user files
        /// by the path the user gave.
        func displayPath(_ file: String, in directory: String, isBuiltin: Bool) -> String {
            isBuiltin ? "profiles/\(file)" : (directory as NSString).appendingPathComponent(file)
        }

        mutating func loadDirectory(_ directory: String, isBuiltin: Bool) throws -> ([DeviceProfile], [ProfileProblem]) {
            guard isDirectory(directory) else {
                throw EdgeError.badInput("profiles directory \(directory) does not exist or is not a directory")
            }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            var profiles: [DeviceProfile] = []
            var problems: [ProfileProblem] = []
            var fileOfName: [String: String] = [:]
            for name in names.sorted() where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
                let shown = displayPath(name, in: directory, isBuiltin: isBuiltin)
                let text: String
                switch readProfileText((directory as NSString).appendingPathComponent(name)) {
                case .success(let contents): text = contents
                case .failure(let failure):
                    problems.append(ProfileProblem(file: shown, path: "", message: failure.message))
                    continue
                }
                let outcome = readProfile(text: text, file: shown, directory: directory)
                problems += outcome.problems
                guard let profile = outcome.value else { continue }
                if let other = fileOfName[profile.name] {
                    problems.append(ProfileProblem(file: shown, path: "name", message: "\"\(profile.name)\" is also the name in \(other)"))
                    continue
                }
                fileOfName[profile.name] = shown
                profiles.append(profile)
            }
            return (profiles, problems)
        }

        mutating func readProfile(text: String, file: String, directory: String) -> ProfileReader.Outcome<DeviceProfile> {
            ProfileReader.readProfile(text: text, file: file) { familyName in
                self.family(named: familyName, near: directory)
            }
        }

        /// `<directory>/families/<name>.yaml`, else the built-in `families/<name>.yaml`.
        mutating func family(named name: String, near directory: String) -> ProfileReader.Outcome<DeviceFamily>? {
            var candidates = [(directory as NSString).appendingPathComponent("families/\(name).yaml")]
            if let builtinDirectory {
                candidates.append((builtinDirectory as NSString).appendingPathComponent("families/\(name).yaml"))
            }
            guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else { return nil }
            if let cached = families[path] { return cached }
            let shown = builtinDirectory.map { path.hasPrefix($0 + "/") ? "profiles/" + path.dropFirst($0.count + 1) : path } ?? path
            var outcome: ProfileReader.Outcome<DeviceFamily>
            switch readProfileText(path) {
            case .success(let text):
                outcome = ProfileReader.readFamily(text: text, file: shown)
                if let family = outcome.value, family.name != name {
                    outcome = .init(value: nil, problems: [ProfileProblem(file: shown, path: "family",
                        message: "declares family \"\(family.name)\" but the file is named \(name).yaml")])
                }
            case .failure(let failure):
                outcome = .init(value: nil, problems: [ProfileProblem(file: shown, path: "", message: failure.message)])
            }
            families[path] = outcome
            return outcome
        }
    }
}
