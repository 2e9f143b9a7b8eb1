// Prints benchmark measurements as an aligned table.

/// Rows of benchmark, metric, value and unit, printed with aligned columns.
struct ResultTable {
    private var rows: [(benchmark: String, metric: String, value: String, unit: String)] = []

    mutating func add(benchmark: String, _ measurement: Measurement) {
        rows.append((benchmark, measurement.metric, Self.format(measurement.value), measurement.unit))
    }

    /// Three significant decimals for small values, thousands separators for large ones.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "n/a" }
        if value >= 1_000_000 || value == value.rounded() && value >= 1000 {
            var digits = String(Int(value.rounded()))
            var grouped = ""
            while digits.count > 3 {
                grouped = "," + String(digits.suffix(3)) + grouped
                digits.removeLast(3)
            }
            return digits + grouped
        }
        if value >= 100 { return String(Int(value.rounded())) }
        let hundredths = (value * 100).rounded() / 100
        return "\(hundredths)"
    }

    func print() {
        let header = ("benchmark", "metric", "value", "unit")
        let widths = (
            max(header.0.count, rows.map(\.benchmark.count).max() ?? 0),
            max(header.1.count, rows.map(\.metric.count).max() ?? 0),
            max(header.2.count, rows.map(\.value.count).max() ?? 0)
        )
        func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: width - text.count) }
        func padLeft(_ text: String, _ width: Int) -> String { String(repeating: " ", count: width - text.count) + text }
        Swift.print("\(pad(header.0, widths.0))  \(pad(header.1, widths.1))  \(padLeft(header.2, widths.2))  \(header.3)")
        Swift.print(String(repeating: "-", count: widths.0 + widths.1 + widths.2 + 12))
        for row in rows {
            Swift.print("\(pad(row.benchmark, widths.0))  \(pad(row.metric, widths.1))  \(padLeft(row.value, widths.2))  \(row.unit)")
        }
    }
}
