// Plain-text tables for pcmctl's listings: left-aligned columns sized to their widest cell,
// and the few number formats the listings use. Cells hold names other clients chose, so each
// cell is escaped (DisplayText): a newline or TAB in a name cannot break the table, and an
// ESC cannot reach the terminal of whoever runs pcmctl.

import PCMProtocol

/// A table of text cells printed with aligned columns.
struct Table {
    private var rows: [[String]]

    init(_ header: [String]) { rows = [header] }

    /// Adds a row; every cell is made one line of printable text first.
    mutating func add(_ row: [String]) { rows.append(row.map { DisplayText.escaped($0) }) }

    /// The table as lines, columns separated by two spaces, trailing spaces removed.
    func render() -> String {
        let columns = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return rows.map { row in
            var line = ""
            for (index, cell) in row.enumerated() {
                line += cell
                if index < row.count - 1 { line += String(repeating: " ", count: widths[index] - cell.count + 2) }
            }
            return line
        }.joined(separator: "\n")
    }

    /// A frame count at `rate` as milliseconds, e.g. `21.333 ms`.
    static func milliseconds(frames: Int, rate: Int) -> String {
        String(format3: Double(frames) * 1000 / Double(max(rate, 1))) + " ms"
    }

    /// A frame position at `rate` as seconds, e.g. `12.500 s`.
    static func seconds(frames: UInt64, rate: Int) -> String {
        String(format3: Double(frames) / Double(max(rate, 1))) + " s"
    }
}

extension String {
    /// A non-negative number with exactly three decimals (no Foundation needed).
    init(format3 value: Double) {
        let thousandths = Int((Swift.max(value, 0) * 1000).rounded())
        let fraction = thousandths % 1000
        let padding = fraction < 10 ? "00" : fraction < 100 ? "0" : ""
        let whole = thousandths / 1000
        self = "\(whole).\(padding)\(fraction)"
    }
}
