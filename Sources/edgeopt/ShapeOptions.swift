import ArgumentParser
import EdgeIR

/// Reusable options that pin dynamic dimensions before shape inference:
/// `--input-shape name=1,3,224,224` (repeatable) and `--dim batch=1` (repeatable).
struct ShapeOptions: ParsableArguments {
    @Option(name: .customLong("input-shape"),
            help: ArgumentHelp("Pin a graph input's shape, e.g. input=1,3,224,224 (repeatable).", valueName: "name=d0,d1,..."))
    var inputShapeArguments: [String] = []

    @Option(name: .customLong("dim"),
            help: ArgumentHelp("Give a symbolic dimension a value, e.g. batch=1 (repeatable).", valueName: "name=value"))
    var dimArguments: [String] = []

    /// Parsed `--input-shape` values by input name.
    var inputShapes: [String: [Int]] {
        get throws {
            var result: [String: [Int]] = [:]
            for argument in inputShapeArguments {
                let (name, value) = try Self.split(argument, option: "--input-shape")
                let parts = value.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                var dims: [Int] = []
                for p in parts where !(parts.count == 1 && p.isEmpty) {
                    guard let d = Int(p), d >= 0 else {
                        throw ValidationError("--input-shape \(argument): '\(p)' is not a non-negative integer")
                    }
                    dims.append(d)
                }
                guard result[name] == nil else { throw ValidationError("--input-shape gives '\(name)' twice") }
                result[name] = dims
            }
            return result
        }
    }

    /// Parsed `--dim` values by dimension name.
    var dims: [String: Int] {
        get throws {
            var result: [String: Int] = [:]
            for argument in dimArguments {
                let (name, value) = try Self.split(argument, option: "--dim")
                guard let v = Int(value.trimmingCharacters(in: .whitespaces)), v >= 0 else {
                    throw ValidationError("--dim \(argument): '\(value)' is not a non-negative integer")
                }
                guard result[name] == nil else { throw ValidationError("--dim gives '\(name)' twice") }
                result[name] = v
            }
            return result
        }
    }

    func validate() throws {
        _ = try inputShapes
        _ = try dims
    }

    private static func split(_ argument: String, option: String) throws -> (String, String) {
        // The value follows the last '=', so input names may themselves contain '='-free colons, slashes etc.
        guard let eq = argument.lastIndex(of: "="), eq != argument.startIndex else {
            throw ValidationError("\(option) expects name=value, got '\(argument)'")
        }
        return (String(argument[..<eq]), String(argument[argument.index(after: eq)...]))
    }
}

import Foundation
