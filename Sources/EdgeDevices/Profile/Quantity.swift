import Foundation

/// The physical quantities a device profile states as strings with units ("25.6 GB/s", "4 TOPS").
///
/// Every value is converted to one base unit on load so the cost model never sees a prefix:
/// bytes, bytes per second, operations per second, watts, hertz, seconds, US dollars.
/// SI prefixes are decimal (1 GB = 10⁹ B, as vendors print them); binary sizes are written
/// with IEC prefixes (1 MiB = 2²⁰ B). Bits are accepted where vendors use them (link speeds,
/// DRAM dies) and divided by 8.
public enum QuantityKind: String, Sendable, CaseIterable, Codable {
    case bytes
    case bandwidth
    case compute
    case power
    case frequency
    case duration
    case price

    /// What the error message calls this quantity, with examples of accepted spellings.
    var nounWithExamples: String {
        switch self {
        case .bytes: return "a size (e.g. \"4 GB\", \"8 MiB\", \"4 Gbit\")"
        case .bandwidth: return "a bandwidth (e.g. \"25.6 GB/s\", \"5 Gbit/s\")"
        case .compute: return "a compute rate (e.g. \"4 TOPS\", \"472 GFLOPS\")"
        case .power: return "a power (e.g. \"10 W\", \"500 mW\")"
        case .frequency: return "a frequency (e.g. \"921.6 MHz\", \"1.5 GHz\")"
        case .duration: return "a duration (e.g. \"0.2 ms\", \"15 us\")"
        case .price: return "a price in US dollars (e.g. \"$129\", \"129 USD\")"
        }
    }
}

public enum QuantityParser {
    /// Parses `text` as a quantity of `kind` and returns it in the base unit, or nil when the
    /// number or the unit is not understood. Sign is kept: range checks are the caller's job,
    /// so that "-5 GB/s" is reported as "must be positive" rather than "cannot parse".
    public static func parse(_ text: String, as kind: QuantityKind) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if kind == .price { return parsePrice(trimmed) }
        guard let (number, unit) = splitNumberAndUnit(trimmed) else { return nil }
        guard let scale = scale(of: unit, for: kind) else { return nil }
        let value = number * scale
        return value.isFinite ? value : nil
    }

    /// "$1,599" · "$129.00" · "129 USD" · "129 usd". Thousands separators only in prices,
    /// where vendors print them; everywhere else a comma is an error.
    static func parsePrice(_ text: String) -> Double? {
        var body = text
        var sawCurrency = false
        if body.hasPrefix("$") {
            body.removeFirst()
            sawCurrency = true
        } else if body.lowercased().hasSuffix("usd") {
            body.removeLast(3)
            sawCurrency = true
        }
        guard sawCurrency else { return nil }
        body = body.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: ",", with: "")
        guard !body.isEmpty, let value = parseNumber(body), value.isFinite else { return nil }
        return value
    }

    /// Splits "25.6 GB/s" into (25.6, "GB/s"); the space is optional ("10W").
    static func splitNumberAndUnit(_ text: String) -> (Double, String)? {
        let scalars = Array(text.unicodeScalars)
        var end = 0
        // Sign, digits, one decimal point, optional exponent ("1e3"). The exponent is accepted
        // only when digits follow it, so "1 EB" is not misread.
        if end < scalars.count, scalars[end] == "-" || scalars[end] == "+" { end += 1 }
        var digits = 0
        var sawPoint = false
        while end < scalars.count {
            let c = scalars[end]
            if c.properties.numericType != nil, c.isASCII {
                digits += 1
            } else if c == ".", !sawPoint {
                sawPoint = true
            } else {
                break
            }
            end += 1
        }
        guard digits > 0 else { return nil }
        if end + 1 < scalars.count, scalars[end] == "e" || scalars[end] == "E" {
            var probe = end + 1
            if scalars[probe] == "-" || scalars[probe] == "+" { probe += 1 }
            var expDigits = 0
            while probe < scalars.count, scalars[probe].isASCII, scalars[probe].properties.numericType != nil {
                probe += 1
                expDigits += 1
            }
            if expDigits > 0 { end = probe }
        }
        let numberText = String(String.UnicodeScalarView(scalars[0..<end]))
        let unit = String(String.UnicodeScalarView(scalars[end...])).trimmingCharacters(in: .whitespaces)
        guard let number = parseNumber(numberText), !unit.isEmpty else { return nil }
        return (number, unit)
    }

    static func parseNumber(_ text: String) -> Double? {
        // Double(String) accepts "inf"/"nan"; a profile figure never should.
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// Multiplier from `unit` to the base unit of `kind`. Units are case-sensitive where case
    /// carries meaning (Mbit vs mW, MB vs mB is not a unit); common lowercase spellings of
    /// operation rates ("tops") are accepted because vendors write them that way.
    static func scale(of unit: String, for kind: QuantityKind) -> Double? {
        switch kind {
        case .bytes:
            return sizeScale(unit)
        case .bandwidth:
            if let bps = ["bps": 1.0, "kbps": 1e3, "Kbps": 1e3, "Mbps": 1e6, "Gbps": 1e9, "Tbps": 1e12][unit] {
                return bps / 8
            }
            guard unit.hasSuffix("/s") else { return nil }
            return sizeScale(String(unit.dropLast(2)))
        case .compute:
            let table: [String: Double] = [
                "OPS": 1, "KOPS": 1e3, "MOPS": 1e6, "GOPS": 1e9, "TOPS": 1e12, "POPS": 1e15,
                "FLOPS": 1, "KFLOPS": 1e3, "MFLOPS": 1e6, "GFLOPS": 1e9, "TFLOPS": 1e12, "PFLOPS": 1e15,
            ]
            return table[unit] ?? table[unit.uppercased()]
        case .power:
            return ["W": 1, "mW": 1e-3, "kW": 1e3][unit]
        case .frequency:
            return ["Hz": 1, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9][unit]
        case .duration:
            return ["s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ns": 1e-9][unit]
        case .price:
            return nil
        }
    }

    static func sizeScale(_ unit: String) -> Double? {
        let bytes: [String: Double] = [
            "B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
            "KiB": 1024, "MiB": 1_048_576, "GiB": 1_073_741_824, "TiB": 1_099_511_627_776,
        ]
        if let scale = bytes[unit] { return scale }
        let bits: [String: Double] = [
            "bit": 1, "kbit": 1e3, "Kbit": 1e3, "Mbit": 1e6, "Gbit": 1e9, "Tbit": 1e12,
            "Kibit": 1024, "Mibit": 1_048_576, "Gibit": 1_073_741_824,
        ]
        if let scale = bits[unit] { return scale / 8 }
        return nil
    }
}

/// Human-readable formatting of base-unit values, used by `profiles list/show`. Output is
/// deterministic (fixed rounding, no locale).
public enum QuantityFormat {
    public static func format(_ value: Double, as kind: QuantityKind) -> String {
        switch kind {
        case .bytes: return bytes(value)
        case .bandwidth: return scaled(value, units: [(1e12, "TB/s"), (1e9, "GB/s"), (1e6, "MB/s"), (1e3, "kB/s"), (1, "B/s")])
        case .compute: return scaled(value, units: [(1e15, "POPS"), (1e12, "TOPS"), (1e9, "GOPS"), (1e6, "MOPS"), (1, "OPS")])
        case .power: return value < 1 ? "\(number(value * 1000)) mW" : "\(number(value)) W"
        case .frequency: return scaled(value, units: [(1e9, "GHz"), (1e6, "MHz"), (1e3, "kHz"), (1, "Hz")])
        case .duration: return scaled(value, units: [(1, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")])
        case .price: return price(value)
        }
    }

    /// Operation rates in FLOPS for floating-point precisions and OPS for integer ones.
    public static func compute(_ value: Double, precision: Precision) -> String {
        let text = format(value, as: .compute)
        switch precision {
        case .fp32, .fp16, .bf16: return text.replacingOccurrences(of: "OPS", with: "FLOPS")
        case .int8, .int4: return text
        }
    }

    /// "$1,599", "$59.99", "$99": cents only when there are any, thousands grouped.
    static func price(_ value: Double) -> String {
        let cents = (value * 100).rounded()
        let whole = Int(cents / 100)
        let fraction = Int(cents) % 100
        var digits = String(whole)
        var grouped = ""
        while digits.count > 3 {
            grouped = "," + digits.suffix(3) + grouped
            digits.removeLast(3)
        }
        grouped = digits + grouped
        return fraction == 0 ? "$\(grouped)" : "$\(grouped)." + String(format: "%02d", fraction)
    }

    /// Sizes that are whole mebibytes below a gigabyte print in MiB (on-chip SRAM is sized in
    /// powers of two); everything else prints with decimal prefixes as vendors state DRAM.
    static func bytes(_ value: Double) -> String {
        let mib = value / 1_048_576
        if value < 1e9, value >= 1_048_576, mib == mib.rounded() { return "\(number(mib)) MiB" }
        return scaled(value, units: [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"), (1, "B")])
    }

    static func scaled(_ value: Double, units: [(Double, String)]) -> String {
        for (scale, unit) in units where abs(value) >= scale {
            return "\(number(value / scale)) \(unit)"
        }
        let last = units[units.count - 1]
        return "\(number(value / last.0)) \(last.1)"
    }

    /// Up to three decimals, trailing zeros removed: 25.6, 4, 0.472, 1.33.
    public static func number(_ value: Double) -> String {
        var text = String(format: "%.3f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }
}
