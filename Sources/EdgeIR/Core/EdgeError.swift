/// Process exit codes, the same in every command (documented in README "Exit codes").
public enum ExitStatus: Int32, Sendable {
    case success = 0
    /// A gate failed: accuracy budget not met, model does not fit, no device qualifies, check failed.
    case gateFailed = 1
    /// Command-line usage error (swift-argument-parser's own code).
    case usage = 64
    /// Bad input: unreadable or malformed model, data set, profile; unsupported operator.
    case badInput = 65
    /// A bug in edgeopt.
    case internalError = 70
}

/// Every error edgeopt raises carries what went wrong and where (file, node, key), and maps to
/// one exit status.
public struct EdgeError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case badInput
        case unsupported
        case gateFailed
        case internalError
    }

    public var kind: Kind
    public var message: String
    /// The file the problem is in, when there is one.
    public var file: String?

    public init(_ kind: Kind, _ message: String, file: String? = nil) {
        self.kind = kind
        self.message = message
        self.file = file
    }

    public static func badInput(_ message: String, file: String? = nil) -> EdgeError {
        EdgeError(.badInput, message, file: file)
    }

    public static func unsupported(_ message: String, file: String? = nil) -> EdgeError {
        EdgeError(.unsupported, message, file: file)
    }

    public static func internalError(_ message: String) -> EdgeError {
        EdgeError(.internalError, message)
    }

    public static func gateFailed(_ message: String) -> EdgeError {
        EdgeError(.gateFailed, message)
    }

    public var exitStatus: ExitStatus {
        switch kind {
        case .badInput, .unsupported: return .badInput
        case .gateFailed: return .gateFailed
        case .internalError: return .internalError
        }
    }

    /// Adds the file as context unless the message already names one.
    public func inFile(_ path: String) -> EdgeError {
        var copy = self
        if copy.file == nil { copy.file = path }
        return copy
    }

    public var description: String {
        if let file, !message.contains(file) { return "\(file): \(message)" }
        return message
    }
}
