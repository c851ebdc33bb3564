@testable import EdgeDevices
import XCTest

/// Unit strings as they appear in profiles, and what they must convert to in base units.
final class QuantityParserTests: XCTestCase {
    func testParsesEveryUnitKindToBaseUnits() {
        let table: [(String, QuantityKind, Double)] = [
            ("4 GB", .bytes, 4e9),
            ("8 MiB", .bytes, 8 * 1_048_576),
            ("512 MB", .bytes, 512e6),
            ("4 Gbit", .bytes, 0.5e9),
            ("32 GiB", .bytes, 32 * 1_073_741_824),
            ("1.5KiB", .bytes, 1536),
            ("25.6 GB/s", .bandwidth, 25.6e9),
            ("5 Gbit/s", .bandwidth, 625e6),
            ("480 Mbit/s", .bandwidth, 60e6),
            ("500 MB/s", .bandwidth, 500e6),
            ("10 Gbps", .bandwidth, 1.25e9),
            ("4 TOPS", .compute, 4e12),
            ("472 GFLOPS", .compute, 472e9),
            ("1.33 TFLOPS", .compute, 1.33e12),
            ("100 GOPS", .compute, 100e9),
            ("0.5 tops", .compute, 0.5e12),
            ("10 W", .power, 10),
            ("500 mW", .power, 0.5),
            ("2W", .power, 2),
            ("921.6 MHz", .frequency, 921.6e6),
            ("1.5 GHz", .frequency, 1.5e9),
            ("0.2 ms", .duration, 0.2e-3),
            ("15 us", .duration, 15e-6),
            ("1e3 ns", .duration, 1e-6),
            ("$129", .price, 129),
            ("$1,599", .price, 1599),
            ("129 USD", .price, 129),
            ("$59.99", .price, 59.99),
        ]
        for (text, kind, expected) in table {
            guard let value = QuantityParser.parse(text, as: kind) else {
                XCTFail("\"\(text)\" as \(kind) did not parse")
                continue
            }
            XCTAssertEqual(value, expected, accuracy: abs(expected) * 1e-12, "\"\(text)\" as \(kind)")
        }
    }

    func testRejectsUnknownUnitsMissingNumbersAndWrongKinds() {
        let table: [(String, QuantityKind)] = [
            ("fast GB/s", .bandwidth),   // no number
            ("25.6", .bandwidth),        // no unit
            ("25.6 GB", .bandwidth),     // a size where a rate is needed
            ("4 GB/s", .bytes),          // a rate where a size is needed
            ("4 TOPS/W", .compute),
            ("10 mB", .bytes),           // millibytes are not a unit
            ("1 EB", .bytes),            // "E" must not be read as an exponent
            ("inf TOPS", .compute),
            ("nan W", .power),
            ("129", .price),             // a price needs its currency
            ("€129", .price),
            ("$", .price),
            ("", .power),
            ("1,5 W", .power),           // decimal comma is not accepted outside prices
        ]
        for (text, kind) in table {
            XCTAssertNil(QuantityParser.parse(text, as: kind), "\"\(text)\" as \(kind) should not parse")
        }
    }

    func testKeepsTheSignSoRangeChecksCanReportIt() {
        XCTAssertEqual(QuantityParser.parse("-5 GB/s", as: .bandwidth), -5e9)
        XCTAssertEqual(QuantityParser.parse("0 TOPS", as: .compute), 0)
    }

    func testFormatsDeterministically() {
        XCTAssertEqual(QuantityFormat.format(25.6e9, as: .bandwidth), "25.6 GB/s")
        XCTAssertEqual(QuantityFormat.format(8 * 1_048_576, as: .bytes), "8 MiB")
        XCTAssertEqual(QuantityFormat.format(4e9, as: .bytes), "4 GB")
        XCTAssertEqual(QuantityFormat.format(472e9, as: .compute), "472 GOPS")
        XCTAssertEqual(QuantityFormat.format(0.5, as: .power), "500 mW")
        XCTAssertEqual(QuantityFormat.format(1599, as: .price), "$1,599")
        XCTAssertEqual(QuantityFormat.format(59.99, as: .price), "$59.99")
        XCTAssertEqual(QuantityFormat.compute(472e9, precision: .fp16), "472 GFLOPS")
        XCTAssertEqual(QuantityFormat.compute(4e12, precision: .int8), "4 TOPS")
        XCTAssertEqual(QuantityFormat.number(1.0 / 3.0), "0.333")
    }

    func testRoundTripsFormattedValues() {
        for (value, kind) in [(25.6e9, QuantityKind.bandwidth), (8.0 * 1_048_576, .bytes), (4e12, .compute), (15.0, .power)] {
            let text = QuantityFormat.format(value, as: kind)
            XCTAssertEqual(QuantityParser.parse(text, as: kind), value, "\(text)")
        }
    }
}
