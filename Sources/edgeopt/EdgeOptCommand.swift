import ArgumentParser
import EdgeIR
import Foundation

@main
struct EdgeOptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edgeopt",
        abstract: "Optimize ONNX models for edge accelerators and choose the device to run them on.",
        version: EdgeOptVersion.string,
        // One file per subcommand in this directory; add new commands here.
        subcommands: [ConvertCommand.self, ReportCommand.self, ProfilesCommand.self, ConformanceCommand.self, RunCommand.self, BenchCommand.self, OptimizeCommand.self, QuantizeCommand.self, ValidateCommand.self, FitCommand.self, SelectCommand.self, EstimatorErrorCommand.self]
    )
}

/// Runs a command body, turning edgeopt errors into their documented exit status with a
/// one-line message on stderr (no stack traces, no crashes).
func runReportingErrors(_ body: () throws -> ExitStatus) throws {
    let status: ExitStatus
    do {
        status = try body()
    } catch let error as EdgeError {
        printError("error: \(error)")
        throw ExitCode(error.exitStatus.rawValue)
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch {
        printError("internal error: \(error)")
        throw ExitCode(ExitStatus.internalError.rawValue)
    }
    if status != .success { throw ExitCode(status.rawValue) }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
