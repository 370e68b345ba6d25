// Running gnuplot (Debian: gnuplot-nox) through Process. Figures are always drawn from CSV files that the
// caller writes first, so the data survive even where gnuplot is missing.

import Foundation
import Records

public enum GnuplotError: Error, CustomStringConvertible, Equatable {
    case notFound(String)
    case failed(status: Int32, message: String)
    case incomplete(String, String)

    public var description: String {
        switch self {
        case .notFound(let searched):
            return "gnuplot not found (\(searched)); install it with: apt-get install -y gnuplot-nox"
        case .failed(let status, let message):
            let detail = message.split(separator: "\n").last.map(String.init) ?? ""
            return "gnuplot failed (exit \(status)): \(detail)"
        case .incomplete(let path, let why):
            return "gnuplot's figure \(path) is \(why)"
        }
    }
}

public enum Terminal: String, Sendable, CaseIterable {
    case png
    case svg
    case pdf

    func setTerminal(width: Int, height: Int) -> String {
        switch self {
        case .png: return "set terminal pngcairo enhanced size \(width),\(height) font 'DejaVu Sans,11'"
        case .svg: return "set terminal svg enhanced size \(width),\(height) font 'DejaVu Sans,11' background rgb 'white'"
        // Vector output for papers: the same layout at 100 pixels to the inch.
        case .pdf: return "set terminal pdfcairo enhanced size \(Double(width) / 100)in,\(Double(height) / 100)in font 'DejaVu Sans,8'"
        }
    }
}

public enum Gnuplot {
    /// The executable: `$EASGD_GNUPLOT` if set, else `gnuplot` on `$PATH`.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let explicit = environment["EASGD_GNUPLOT"] {
            guard FileManager.default.isExecutableFile(atPath: explicit) else {
                throw GnuplotError.notFound("EASGD_GNUPLOT=\(explicit) is not an executable")
            }
            return explicit
        }
        for dir in (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/gnuplot"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw GnuplotError.notFound("not on PATH")
    }

    /// Linetypes 9–12, set before every script: gnuplot's own colour sequence has eight, after which `lc N`, `lt N`
    /// and the automatic sequence repeat them (Figure 3's ninth curve took the first one's colour). Beyond twelve
    /// they repeat from 1.
    static let linetypes = ["#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"].enumerated()
        .map { "set linetype \($0.offset + 9) lc rgb '\($0.element)'\n" }.joined() + "set linetype cycle 12\n"

    /// Run a script (after `linetypes`). The script names its own output file.
    public static func run(script: String) throws {
        let executable = try locate()
        let dir = FileManager.default.temporaryDirectory
        let scriptURL = dir.appendingPathComponent("easgd-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString).gp")
        Cleanup.shared.register(file: scriptURL.path)
        try (linetypes + script).write(to: scriptURL, atomically: true, encoding: .utf8)
        defer {
            try? FileManager.default.removeItem(at: scriptURL)
            Cleanup.shared.unregister(file: scriptURL.path)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [scriptURL.path]
        let errorPipe = Pipe()
        process.standardError = errorPipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        Cleanup.shared.register(child: process.processIdentifier)
        let errorData = errorPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        Cleanup.shared.unregister(child: process.processIdentifier)
        let message = String(decoding: errorData, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw GnuplotError.failed(status: process.terminationStatus, message: message)
        }
    }

    /// Refuses a figure gnuplot left incomplete (a full disk truncates it while gnuplot still exits 0): a PNG
    /// must end with its IEND chunk, a PDF with %%EOF, an SVG with </svg>.
    public static func checkComplete(_ path: String, terminal: Terminal) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw GnuplotError.incomplete(path, "not written") }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        guard size > 0 else { throw GnuplotError.incomplete(path, "empty") }
        try? handle.seek(toOffset: size > 1024 ? size - 1024 : 0)
        let tail = handle.readDataToEndOfFile()
        let complete: Bool = switch terminal {
        case .png: tail.suffix(12).starts(with: [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44])
        case .pdf: String(decoding: tail, as: UTF8.self).contains("%%EOF")
        case .svg: String(decoding: tail, as: UTF8.self).contains("</svg>")
        }
        guard complete else { throw GnuplotError.incomplete(path, "truncated (is the disk full?)") }
    }

    // Text reaches a script only through the three functions below. A gnuplot statement ends at a newline (or a
    // `;` outside quotes), and gnuplot runs shell commands through `system(...)`, backquotes, `set output '|...'`
    // and data files named `< ...`: a title that could end its statement could run anything. So every string is
    // written as a double-quoted literal in which nothing can end it: `\` and `"` are escaped, and every control
    // character, the backquote (command substitution) and `@` (macro substitution) become octal escapes, which
    // gnuplot turns back into the same characters inside the string. The string's value is exactly the text.

    /// A gnuplot string literal holding exactly `s` (enhanced-text markup such as `{/Symbol r}` or `h_{max}` in it
    /// still takes effect when it is drawn). NUL, which no gnuplot string can hold, is dropped.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar.value {
            case 0: continue
            case 0x5C: out += "\\\\"    // backslash
            case 0x22: out += "\\\""     // double quote
            case 0x01..<0x20, 0x7F, 0x60, 0x40:  // control characters, backquote, @
                let octal = String(scalar.value, radix: 8)
                out += "\\" + String(repeating: "0", count: 3 - octal.count) + octal
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// `s` with gnuplot's enhanced-text markup characters escaped, so that it is drawn as typed (a label such as
    /// `lr_0.05` or `{run}` would otherwise draw a subscript or a group). For text from outside (titles, labels,
    /// directory names); compose it into a markup title, then `quote` the whole.
    public static func literal(_ s: String) -> String {
        var out = ""
        for c in s {
            if "\\^_@&~{}".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }

    /// Outside text as a gnuplot string drawn as typed: `quote(literal(s))`.
    public static func text(_ s: String) -> String { quote(literal(s)) }

    /// A file's path as a gnuplot string, made absolute: gnuplot reads a name beginning with `<` as a shell
    /// command, `|` (for output) as a pipe, `-`, `+` and `++` as pseudo-files and an empty one as the last file;
    /// an absolute path is none of these.
    public static func file(_ path: String) -> String {
        quote(path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path)
    }
}
