import ArgumentParser
import EdgeDevices
import EdgeIR
import Foundation

/// `edgeopt profiles list|show|validate`: the device profiles edgeopt knows.
struct ProfilesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profiles",
        abstract: "List, show and validate device profiles.",
        discussion: """
            Built-in profiles live in the repository's profiles/ directory (or $EDGEOPT_PROFILES). \
            --profiles DIR adds a directory of user profiles: a profile with the name of a built-in one \
            replaces it, any other name adds a device. A profile with an unknown key, a missing field, \
            a zero or negative figure or a unit that cannot be parsed is rejected with the file and key \
            path (exit status 65).
            """,
        subcommands: [List.self, Show.self, Validate.self]
    )

    struct CatalogOptions: ParsableArguments {
        @Option(name: .customLong("profiles"), help: ArgumentHelp("A directory of user profiles (repeatable); overrides built-in profiles by name.", valueName: "DIR"))
        var directories: [String] = []

        func load() throws -> ProfileCatalog {
            try ProfileCatalog.load(userDirectories: directories)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One line per device: vendor, accelerator, precisions, dense INT8/FP16 peak, memory, power, price.")

        @OptionGroup var catalog: CatalogOptions

        @Flag(help: "Print JSON (base units: bytes, bytes/s, operations/s, watts, USD).")
        var json = false

        func run() throws {
            try runReportingErrors {
                let profiles = try catalog.load().profiles
                let text = json ? try ProfileRendering.json(profiles.map(ProfileSummary.init)) + "\n"
                                : ProfileRendering.table(profiles)
                FileHandle.standardOutput.write(Data(text.utf8))
                return .success
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Everything a profile says about one device, with the sources of its figures.")

        @Argument(help: "The device name or one of its aliases (see `edgeopt profiles list`).")
        var name: String

        @OptionGroup var catalog: CatalogOptions

        @Flag(help: "Print the whole profile as JSON (base units).")
        var json = false

        func run() throws {
            try runReportingErrors {
                let profile = try catalog.load().profile(named: name)
                let text = json ? try ProfileRendering.json(profile) + "\n" : ProfileRendering.details(profile)
                FileHandle.standardOutput.write(Data(text.utf8))
                return .success
            }
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check profile or family files; list every problem with its file and key path.",
            discussion: "Exit status 0 when every file is valid, 65 when any is not. Families named by a profile are looked up in families/ next to the file, then among the built-in profiles. Without files, validates the built-in profiles and families (and any --profiles directories).")

        @Argument(help: "Profile or family YAML files (default: every file of the built-in profiles and of --profiles directories).")
        var files: [String] = []

        @Option(name: .customLong("profiles"), help: ArgumentHelp("With no files: also validate this directory of user profiles (repeatable).", valueName: "DIR"))
        var directories: [String] = []

        func run() throws {
            try runReportingErrors {
                let targets = files.isEmpty ? try ProfileCatalog.profileFiles(userDirectories: directories) : files
                let results = ProfileCatalog.validate(files: targets)
                var out = ""
                var problemCount = 0
                for result in results {
                    if result.problems.isEmpty {
                        out += "ok  \(result.file)\n"
                    } else {
                        problemCount += result.problems.count
                        for problem in result.problems { out += "\(problem)\n" }
                    }
                }
                FileHandle.standardOutput.write(Data(out.utf8))
                guard problemCount == 0 else {
                    let bad = results.filter { !$0.problems.isEmpty }.count
                    printError("error: \(problemCount) problem\(problemCount == 1 ? "" : "s") in \(bad) of \(results.count) file\(results.count == 1 ? "" : "s")")
                    return .badInput
                }
                return .success
            }
        }
    }
}
