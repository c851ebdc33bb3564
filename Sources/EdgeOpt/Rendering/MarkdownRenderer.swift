/// Renders a `Document` as GitHub-flavoured Markdown (for pull-request comments): `##` title,
/// `###` sections, key/value pairs as a two-column table, tables with alignment markers. Pipes in
/// cells are escaped.
public enum MarkdownRenderer {
    public static func render(_ document: Document) -> String {
        var out: [String] = ["## \(document.title)"]
        for section in document.sections {
            out.append("")
            if !section.title.isEmpty {
                out.append("### \(section.title)")
                out.append("")
            }
            switch section.content {
            case .keyValues(let pairs):
                out.append("| | |")
                out.append("|---|---|")
                for p in pairs { out.append("| \(escape(p.key)) | \(escape(p.value)) |") }
            case .table(let table):
                out.append("| " + table.columns.map { escape($0.title) }.joined(separator: " | ") + " |")
                out.append("|" + table.columns.map { $0.alignment == .right ? "---:" : ":---" }.joined(separator: "|") + "|")
                for row in table.rows { out.append("| " + row.map(escape).joined(separator: " | ") + " |") }
            case .lines(let lines):
                out += lines.map { "- " + $0 }
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}

import Foundation
