// Peer-supplied text made safe to show. Client and stream names are any valid UTF-8 a peer chose,
// and they end up in places that give some characters a meaning: a line-oriented log (a newline
// forges a whole entry, a CR overwrites one on a terminal), a terminal (ESC starts a control
// sequence that can retitle the window, hide text or move the cursor), or a column-aligned table
// (a TAB or a newline breaks the columns). The daemon's log handler and pcmctl's tables both pass
// such text through this one function, so the rule for what is escaped lives in one place.
//
// What is escaped: every C0 control (U+0000 ... U+001F), DEL (U+007F), every C1 control
// (U+0080 ... U+009F, which some terminals still act on: U+009B is a one-byte CSI), and the
// Unicode line and paragraph separators (U+2028, U+2029), which some log viewers and editors
// treat as line breaks, and the bidirectional formatting characters (U+200E, U+200F, U+202A ...
// U+202E, U+2066 ... U+2069), which make a terminal or viewer show text in another order than it
// was written: a name could make the rest of its line read backwards or pose as another column
// ("Trojan Source"). The backslash is escaped too, so an escape in the output always came
// from the escaping and never from the peer: `a\nb` in a log is a newline, `a\\nb` a backslash.
// Everything else, including non-ASCII letters, passes through unchanged.

/// Escaping of peer-supplied text for logs and terminals.
public enum DisplayText {
    /// Whether `scalar` must be escaped before it reaches a log line or a terminal.
    public static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x5C: true
        case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    /// Whether `text` has any character ``escaped(_:quotes:)`` would change.
    public static func needsEscaping(_ text: some StringProtocol, quotes: Bool = false) -> Bool {
        text.unicodeScalars.contains { isUnsafe($0) || (quotes && $0 == "\"") }
    }

    /// `text` with every unsafe character written as an escape: `\n`, `\r`, `\t`, `\\`, and
    /// `\u{XX}` (hexadecimal, upper case) for the others; with `quotes`, `"` becomes `\"` so the
    /// result can sit between quotes. The result is one line of printable text.
    public static func escaped(_ text: some StringProtocol, quotes: Bool = false) -> String {
        guard needsEscaping(text, quotes: quotes) else { return String(text) }
        var result = ""
        result.reserveCapacity(text.utf8.count + 8)
        // Scalars, not Characters: "\r\n" is a single Character, which a check on Characters
        // would compare with neither "\r" nor "\n".
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\\": result += "\\\\"
            case "\"" where quotes: result += "\\\""
            case _ where isUnsafe(scalar):
                result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
