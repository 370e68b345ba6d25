// Text notebooks: Markdown whose ```sh cells are each followed by an ```output block holding what the
// cell printed. `check` runs every cell and compares: words must match exactly, numbers within a relative
// tolerance (set per notebook with a line `<!-- notebook: rtol=1e-6 -->`), and a line `...` in a recorded
// output matches any number of lines.

import Foundation
import Records

public struct NotebookCell {
    var command: String
    var expected: String?
    /// Line range of the recorded output block's body, for `--update`.
    var outputLines: Range<Int>?
    var line: Int
}

public struct Notebook {
    var lines: [String]
    var cells: [NotebookCell]
    var relativeTolerance: Double

    public init(text: String) throws {
        lines = text.components(separatedBy: "\n")
        cells = []
        relativeTolerance = 1e-6
        var k = 0
        var pending: NotebookCell? = nil
        while k < lines.count {
            let line = lines[k].trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("<!-- notebook:"), let range = line.range(of: "rtol=") {
                let value = line[range.upperBound...].prefix { "0123456789.eE-+".contains($0) }
                guard let rtol = Double(value), rtol >= 0 else { throw OutputError("line \(k + 1): bad rtol") }
                relativeTolerance = rtol
            }
            if line.hasPrefix("```") {
                let tag = line.dropFirst(3).trimmingCharacters(in: .whitespaces)
                var end = k + 1
                while end < lines.count && lines[end].trimmingCharacters(in: .whitespaces) != "```" { end += 1 }
                guard end < lines.count else { throw OutputError("line \(k + 1): unterminated code block") }
                let body = lines[(k + 1)..<end].joined(separator: "\n")
                if tag == "sh" {
                    if let cell = pending { cells.append(cell) }
                    pending = NotebookCell(command: body, expected: nil, outputLines: nil, line: k + 1)
                } else if tag == "output" {
                    guard var cell = pending else { throw OutputError("line \(k + 1): output block without a sh cell before it") }
                    cell.expected = body
                    cell.outputLines = (k + 1)..<end
                    cells.append(cell)
                    pending = nil
                }
                k = end + 1
                continue
            }
            k += 1
        }
        if let cell = pending { cells.append(cell) }
    }

    /// Compare an actual output with the recorded one; nil if they agree, else the first difference.
    public static func difference(expected: String, actual: String, relativeTolerance: Double) -> String? {
        let want = expected.components(separatedBy: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let got = actual.components(separatedBy: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return match(want[...], got[...], relativeTolerance)
    }

    private static func match(_ want: ArraySlice<String>, _ got: ArraySlice<String>, _ rtol: Double) -> String? {
        guard let first = want.first else {
            return got.isEmpty ? nil : "unexpected extra output: \(got.first!)"
        }
        if first == "..." {
            if want.count == 1 { return nil }
            for skip in 0...got.count where match(want.dropFirst(), got.dropFirst(skip), rtol) == nil { return nil }
            return "no lines after '...' match: expected \(want.dropFirst().first!)"
        }
        guard let line = got.first else { return "missing output: expected \(first)" }
        if let problem = compareLine(first, line, rtol) { return problem }
        return match(want.dropFirst(), got.dropFirst(), rtol)
    }

    public static func compareLine(_ want: String, _ got: String, _ rtol: Double) -> String? {
        let a = tokens(want), b = tokens(got)
        guard a.count == b.count else { return "expected '\(want)', got '\(got)'" }
        for (x, y) in zip(a, b) {
            if x == y { continue }          // identical text, including words Double() would read ("inf", "nan")
            if let u = Double(x), let v = Double(y) {
                guard u.isFinite, v.isFinite, abs(u - v) <= rtol * max(abs(u), abs(v)) + 1e-300 else {
                    return "expected '\(want)', got '\(got)' (\(x) vs \(y) beyond rtol \(rtol))"
                }
            } else if x != y {
                return "expected '\(want)', got '\(got)'"
            }
        }
        return nil
    }

    /// Words and numbers: split at whitespace and at the punctuation that surrounds numbers in our output.
    public static func tokens(_ s: String) -> [String] {
        var out: [String] = []
        var current = ""
        for ch in s {
            if ch.isWhitespace || ",;()[]{}=:\"".contains(ch) {
                if !current.isEmpty { out.append(current); current = "" }
                if !ch.isWhitespace { out.append(String(ch)) }
            } else {
                current.append(ch)
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }
}

/// Run one shell cell in `directory` with `binDirectory` first on PATH; returns (stdout, exit status).
func runCell(_ command: String, directory: String, binDirectory: String) throws -> (String, Int32) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    var environment = ProcessInfo.processInfo.environment
    environment["PATH"] = binDirectory + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    Cleanup.shared.register(child: process.processIdentifier)
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    Cleanup.shared.unregister(child: process.processIdentifier)
    return (String(decoding: data, as: UTF8.self), process.terminationStatus)
}

/// Runs a notebook's cells in order in a fresh temporary directory, with `binDirectory` first on PATH, and
/// compares each output with the recorded one (or, with `update`, records the outputs instead, atomically).
/// `report` sees one line per cell. Returns how many cells passed and failed.
public func checkNotebook(_ file: String, update: Bool, binDirectory: String,
                          report: (String) -> Void) throws -> (passed: Int, failed: Int) {
    let text = try String(contentsOfFile: file, encoding: .utf8)
    var notebook = try Notebook(text: text)
    guard !notebook.cells.isEmpty else { throw OutputError("\(file) has no ```sh cells") }
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("easgd-notebook-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    Cleanup.shared.register(file: work.path)
    defer {
        try? FileManager.default.removeItem(at: work)
        Cleanup.shared.unregister(file: work.path)
    }

    var failures = 0
    var replacements: [(Range<Int>, String)] = []
    for cell in notebook.cells {
        let (output, status) = try runCell(cell.command, directory: work.path, binDirectory: binDirectory)
        let first = cell.command.split(separator: "\n").first.map(String.init) ?? ""
        if update {
            if let lines = cell.outputLines { replacements.append((lines, output.trimmingCharacters(in: .newlines))) }
            continue
        }
        if status != 0 {
            failures += 1
            report("FAIL line \(cell.line): \(first): exit status \(status)")
        } else if let expected = cell.expected,
                  let problem = Notebook.difference(expected: expected, actual: output, relativeTolerance: notebook.relativeTolerance) {
            failures += 1
            report("FAIL line \(cell.line): \(first): \(problem)")
        } else {
            report("ok   line \(cell.line): \(first)")
        }
    }
    if update {
        for (range, output) in replacements.sorted(by: { $0.0.lowerBound > $1.0.lowerBound }) {
            notebook.lines.replaceSubrange(range, with: output.components(separatedBy: "\n"))
        }
        let transaction = OutputTransaction()
        try transaction.write(notebook.lines.joined(separator: "\n"), to: file)
        try transaction.commit()
        report("updated \(replacements.count) outputs in \(file)")
        return (replacements.count, 0)
    }
    return (notebook.cells.count - failures, failures)
}
