/// Renders a `Document` as aligned plain text for terminals: the title, then each section with
/// its heading, key/value pairs with aligned labels, tables with padded columns (numbers
/// right-aligned) and a rule under the header.
public enum PlainTextRenderer {
    public static func render(_ document: Document) -> String {
        var out: [String] = [document.title, String(repeating: "=", count: max(3, document.title.count))]
        for section in document.sections {
            out.append("")
            if !section.title.isEmpty {
                out.append(section.title)
                out.append(String(repeating: "-", count: section.title.count))
            }
            switch section.content {
            case .keyValues(let pairs):
                let width = pairs.map(\.key.count).max() ?? 0
                for p in pairs { out.append(pad(p.key, width, .left) + "  " + p.value) }
            case .table(let table):
                out += renderTable(table)
            case .lines(let lines):
                out += lines
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    public static func renderTable(_ table: Table) -> [String] {
        var widths = table.columns.map(\.title.count)
        for row in table.rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (i, column) in table.columns.enumerated() {
                parts.append(pad(i < cells.count ? cells[i] : "", widths[i], column.alignment))
            }
            // No trailing spaces after a left-aligned last column.
            return trimTrailing(parts.joined(separator: "  "))
        }
        var out = [line(table.columns.map(\.title)), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        for row in table.rows { out.append(line(row)) }
        return out
    }

    static func pad(_ s: String, _ width: Int, _ alignment: Table.Alignment) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return alignment == .left ? s + fill : fill + s
    }

    static func trimTrailing(_ s: String) -> String {
        var s = s
        while s.last == " " { s.removeLast() }
        return s
    }
}
