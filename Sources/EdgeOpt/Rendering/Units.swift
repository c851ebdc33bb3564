import Foundation

/// Human units for reports. Decimal (SI) prefixes throughout, as model zoos quote sizes:
/// 97.8 MB = 97.8 × 10⁶ bytes; 4.09 GMAC = 4.09 × 10⁹ multiply-accumulates.
public enum Units {
    /// "97.8 MB", "512 B", "1.20 GB": three significant digits.
    public static func bytes(_ n: Int) -> String { scaled(Double(n), unit: "B", small: "\(n) B") }

    /// "4.09 GMAC".
    public static func macs(_ n: Int) -> String { scaled(Double(n), unit: "MAC", small: "\(n) MAC") }

    /// "8.21 GFLOP".
    public static func flops(_ n: Int) -> String { scaled(Double(n), unit: "FLOP", small: "\(n) FLOP") }

    /// "25.6 M" for counts.
    public static func count(_ n: Int) -> String { scaled(Double(n), unit: "", small: "\(n)").trimmingCharacters(in: .whitespaces) }

    /// "25,557,032".
    public static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// Signed difference with a unit formatter: "+1.2 MB", "−3.4 MB", "0 B".
    public static func delta(_ n: Int, _ format: (Int) -> String) -> String {
        if n == 0 { return format(0) }
        return (n > 0 ? "+" : "-") + format(abs(n))
    }

    /// "4.00×" (baseline / model), "—" when undefined.
    public static func ratio(_ numerator: Int, _ denominator: Int) -> String {
        guard denominator != 0 else { return "—" }
        return String(format: "%.2f×", Double(numerator) / Double(denominator))
    }

    static func scaled(_ v: Double, unit: String, small: String) -> String {
        let prefixes = ["k", "M", "G", "T", "P"]
        guard abs(v) >= 1000 else { return small }
        var x = v / 1000
        var i = 0
        while abs(x) >= 999.5, i < prefixes.count - 1 {
            x /= 1000
            i += 1
        }
        let digits = abs(x) >= 99.95 ? 0 : abs(x) >= 9.995 ? 1 : 2
        return String(format: "%.\(digits)f", x) + " " + prefixes[i] + unit
    }
}
