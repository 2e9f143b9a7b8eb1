// DisplayText, the one escaping rule for peer-chosen names shown in logs and tables: which
// characters are escaped, how, and that everything else passes through untouched.
import PCMProtocol
import Testing

@Suite("DisplayText escaping")
struct DisplayTextTests {
    @Test("line breaks, TAB and the backslash get short escapes")
    func shortEscapes() {
        #expect(DisplayText.escaped("a\nb") == #"a\nb"#)
        #expect(DisplayText.escaped("a\rb") == #"a\rb"#)
        #expect(DisplayText.escaped("a\r\nb") == #"a\r\nb"#, "CR LF is one Character but two escapes")
        #expect(DisplayText.escaped("a\tb") == #"a\tb"#)
        #expect(DisplayText.escaped(#"a\nb"#) == #"a\\nb"#, "a literal backslash cannot pass for an escape")
    }

    @Test("other controls, DEL, the Unicode separators and the bidi controls become \\u{XX}", arguments: [
        ("\u{200E}", #"\u{200E}"#), ("\u{200F}", #"\u{200F}"#), ("\u{202A}", #"\u{202A}"#), ("\u{202E}", #"\u{202E}"#),
        ("\u{2066}", #"\u{2066}"#), ("\u{2069}", #"\u{2069}"#),
        ("\0", #"\u{0}"#), ("\u{07}", #"\u{7}"#), ("\u{1B}", #"\u{1B}"#), ("\u{1F}", #"\u{1F}"#), ("\u{7F}", #"\u{7F}"#),
        ("\u{80}", #"\u{80}"#), ("\u{85}", #"\u{85}"#), ("\u{9B}", #"\u{9B}"#), ("\u{9F}", #"\u{9F}"#),
        ("\u{2028}", #"\u{2028}"#), ("\u{2029}", #"\u{2029}"#),
    ])
    func codeEscapes(raw: String, escaped: String) {
        #expect(DisplayText.escaped("x\(raw)y") == "x\(escaped)y")
        #expect(DisplayText.needsEscaping(raw))
    }

    @Test("printable text, including non-ASCII letters and symbols, is unchanged")
    func printableUnchanged() {
        for text in ["music", "Größe", "日本語", "🎵 tune", "a \"quoted\" name", "", "\u{A0}nbsp", "e\u{301}"] {
            #expect(DisplayText.escaped(text) == text)
            #expect(!DisplayText.needsEscaping(text))
        }
    }

    @Test("with quotes, a double quote is escaped so the result can sit between quotes")
    func quotes() {
        #expect(DisplayText.escaped(#"say "hi""#, quotes: true) == #"say \"hi\""#)
        #expect(DisplayText.needsEscaping("\"", quotes: true))
    }

    @Test("every scalar of every escaped result is printable and the result is one line")
    func exhaustiveLowPlanes() {
        var all = ""
        for value in UInt32(0)...0x2100 { if let scalar = Unicode.Scalar(value) { all.unicodeScalars.append(scalar) } }
        all += "\u{2028}\u{2029}"
        let escaped = DisplayText.escaped(all)
        #expect(!escaped.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) || $0.value == 0x2028 || $0.value == 0x2029 })
    }
}
