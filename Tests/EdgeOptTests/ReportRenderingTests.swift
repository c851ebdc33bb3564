import EdgeOpt
import Foundation
import XCTest

final class ReportRenderingTests: XCTestCase {
    func testUnitsUseThreeSignificantDigitsAndDecimalPrefixes() {
        XCTAssertEqual(Units.bytes(97_800_000), "97.8 MB")
        XCTAssertEqual(Units.bytes(512), "512 B")
        XCTAssertEqual(Units.bytes(1_234), "1.23 kB")
        XCTAssertEqual(Units.bytes(999_999), "1.00 MB") // rounds up into the next prefix, not "1000 kB"
        XCTAssertEqual(Units.macs(4_089_184_256), "4.09 GMAC")
        XCTAssertEqual(Units.flops(8_206_518_248), "8.21 GFLOP")
        XCTAssertEqual(Units.count(25_557_032), "25.6 M")
        XCTAssertEqual(Units.grouped(25_557_032), "25,557,032")
        XCTAssertEqual(Units.grouped(-1_000), "-1,000")
        XCTAssertEqual(Units.grouped(999), "999")
        XCTAssertEqual(Units.delta(-2_000_000, Units.bytes), "-2.00 MB")
        XCTAssertEqual(Units.delta(0, Units.bytes), "0 B")
        XCTAssertEqual(Units.ratio(400, 100), "4.00×")
        XCTAssertEqual(Units.ratio(1, 0), "—")
    }

    private var sample: Document {
        var t = Table(columns: [.init("op"), .init("count", .right)])
        t.append(["Conv", "53"])
        t.append(["GlobalAveragePool", "1"])
        return Document(title: "T", sections: [
            Section("Facts", .keyValues([KeyValue("a", "1"), KeyValue("longer key", "x|y")])),
            Section("Ops", .table(t)),
            Section("Notes", .lines(["one"])),
        ])
    }

    func testPlainTextAlignsColumnsAndRightAlignsNumbers() {
        let text = PlainTextRenderer.render(sample)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertTrue(lines.contains("a           1"), text)
        XCTAssertTrue(lines.contains("longer key  x|y"), text)
        XCTAssertTrue(lines.contains("op                 count"), text)
        XCTAssertTrue(lines.contains("Conv                  53"), text)
        XCTAssertTrue(lines.contains("GlobalAveragePool      1"), text)
        XCTAssertFalse(lines.contains { $0.hasSuffix(" ") }, "no trailing spaces")
    }

    func testMarkdownEscapesPipesAndMarksAlignment() {
        let md = MarkdownRenderer.render(sample)
        XCTAssertTrue(md.hasPrefix("## T\n"))
        XCTAssertTrue(md.contains("| longer key | x\\|y |"), md)
        XCTAssertTrue(md.contains("| op | count |\n|:---|---:|\n| Conv | 53 |"), md)
        XCTAssertTrue(md.contains("- one"))
    }

    func testJSONHasSortedKeysAndIsStable() throws {
        struct Value: Encodable { var zeta = 1; var alpha = [2, 3]; var mid = ["b": 1, "a": 2] }
        let a = try JSONRendering.encode(Value())
        XCTAssertEqual(a, try JSONRendering.encode(Value()))
        let alpha = a.range(of: "\"alpha\"")!.lowerBound, mid = a.range(of: "\"mid\"")!.lowerBound, zeta = a.range(of: "\"zeta\"")!.lowerBound
        XCTAssertTrue(alpha < mid && mid < zeta)
        XCTAssertTrue(a.range(of: "\"a\"")!.lowerBound < a.range(of: "\"b\"")!.lowerBound)
    }
}
