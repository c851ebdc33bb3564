/// A report as a human reads it: a title and sections of key/value pairs, tables and text. Every
/// command builds one from its Codable report value; `PlainTextRenderer` and `MarkdownRenderer`
/// turn it into aligned terminal text or GitHub Markdown, and `JSONRendering` encodes the report
/// value itself for scripts.
public struct Document: Sendable, Equatable {
    public var title: String
    public var sections: [Section]

    public init(title: String, sections: [Section] = []) {
        self.title = title
        self.sections = sections
    }
}

public struct Section: Sendable, Equatable {
    public enum Content: Sendable, Equatable {
        /// Label/value rows, labels aligned.
        case keyValues([KeyValue])
        case table(Table)
        /// Free lines (notes, warnings).
        case lines([String])
    }

    public var title: String
    public var content: Content

    public init(_ title: String, _ content: Content) {
        self.title = title
        self.content = content
    }
}

public struct KeyValue: Sendable, Equatable {
    public var key: String
    public var value: String
    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

/// A table with typed column alignment.
public struct Table: Sendable, Equatable {
    public enum Alignment: Sendable, Equatable {
        case left
        case right
    }

    public struct Column: Sendable, Equatable {
        public var title: String
        public var alignment: Alignment
        public init(_ title: String, _ alignment: Alignment = .left) {
            self.title = title
            self.alignment = alignment
        }
    }

    public var columns: [Column]
    public var rows: [[String]]

    public init(columns: [Column], rows: [[String]] = []) {
        self.columns = columns
        self.rows = rows
    }

    public mutating func append(_ row: [String]) {
        precondition(row.count == columns.count, "row has \(row.count) cells for \(columns.count) columns")
        rows.append(row)
    }
}

/// Output formats every reporting command offers (`--format`).
public enum OutputFormat: String, Sendable, CaseIterable, Codable {
    case table
    case json
    case markdown
}

/// A report value that can be shown to people (as a `Document`) and encoded for scripts.
public protocol RenderableReport: Encodable {
    var document: Document { get }
}

extension RenderableReport {
    /// The report in `format`, ending with a newline.
    public func rendered(as format: OutputFormat) throws -> String {
        switch format {
        case .table: return PlainTextRenderer.render(document)
        case .markdown: return MarkdownRenderer.render(document)
        case .json: return try JSONRendering.encode(self) + "\n"
        }
    }
}
