// easgd notebook check FILE: run a text notebook's cells and compare with the recorded outputs.

import Analysis
import ArgumentParser
import Records
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
            Cells run in order with /bin/sh in a fresh temporary directory (files they write land there), with this \
            easgd first on PATH. Words must match exactly; numbers within the notebook's rtol (default 1e-6, set by \
            a line <!-- notebook: rtol=1e-4 -->); a recorded line '...' matches any lines. --update rewrites the \
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
        let binDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        let (passed, failed) = try checkNotebook(file, update: update, binDirectory: binDirectory) { print($0) }
        if update { return }
        print("\(passed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode.failure }
    }
}
