// easgd notebook check FILE: run a text notebook's cells and compare with the recorded outputs.

import ArgumentParser
import Foundation

struct NotebookCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notebook",
        abstract: "Text notebooks (Markdown with ```sh cells and ```output blocks).",
        subcommands: [NotebookCheckCommand.self]
    )
}

struct NotebookCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Run every ```sh cell of a notebook and compare its output with the recorded ```output block.",
        discussion: """
            Cells run in order with /bin/sh in a fresh temporary directory (files they write land there), with this
            easgd first on PATH. Words must match exactly; numbers within the notebook's rtol (default 1e-6, set by
            a line <!-- notebook: rtol=1e-4 -->); a recorded line '...' matches any lines. --update rewrites the
            recorded outputs instead (atomically).
            """
    )

    @Argument(help: "The notebook file.") var file: String
    @Flag(help: "Record the current outputs instead of checking them.") var update = false

    func validate() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw ValidationError("notebook \(file) does not exist")
        }
    }

    func run() throws {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        var notebook = try Notebook(text: text)
        guard !notebook.cells.isEmpty else { throw OutputError("\(file) has no ```sh cells") }
        let binDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().path
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("easgd-notebook-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }

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
                print("FAIL line \(cell.line): \(first): exit status \(status)")
            } else if let expected = cell.expected,
                      let problem = Notebook.difference(expected: expected, actual: output, relativeTolerance: notebook.relativeTolerance) {
                failures += 1
                print("FAIL line \(cell.line): \(first): \(problem)")
            } else {
                print("ok   line \(cell.line): \(first)")
            }
        }
        if update {
            for (range, output) in replacements.sorted(by: { $0.0.lowerBound > $1.0.lowerBound }) {
                notebook.lines.replaceSubrange(range, with: output.components(separatedBy: "\n"))
            }
            let transaction = OutputTransaction()
            try transaction.write(notebook.lines.joined(separator: "\n"), to: file)
            try transaction.commit()
            print("updated \(replacements.count) outputs in \(file)")
            return
        }
        print("\(notebook.cells.count - failures) passed, \(failures) failed")
        if failures > 0 { throw ExitCode.failure }
    }
}
