// The `easgd` executable as the tests run it: where the build put it, and one run of it to its end with its
// status and output. Shared by the command-line tests and the explorer's.

import Foundation

/// The built `easgd` next to the test bundle.
public let easgdBinary: URL = {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("easgd")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        dir.deleteLastPathComponent()
    }
    return URL(fileURLWithPath: ".build/debug/easgd")
}()

public struct Run: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs `executable` to its end and collects its status and output.
public func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil) throws -> Run {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    if let directory { process.currentDirectoryURL = directory }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Run(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// Runs the built `easgd`.
public func easgd(_ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil) throws -> Run {
    try run(easgdBinary, arguments, environment: environment, in: directory)
}

/// Runs `executable` to its end as `run` does, and also returns its peak resident memory in bytes: what a test
/// asserts instead of a time when it means "refused before it was read or allocated", which a loaded machine
/// cannot make flaky. The child is started by a small python3 process, which reads the child's `ru_maxrss` when it
/// has ended: a child spawned from this (large) process by vfork, as posix_spawn does, would count this
/// process's peak as its own.
public func runMeasuringMemory(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws -> (Run, peakBytes: Int) {
    // argv: the file to write the peak to, then the command (no text of ours inside the script).
    let script = """
        import resource, subprocess, sys
        status = subprocess.run(sys.argv[2:]).returncode
        with open(sys.argv[1], "w") as f: f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024))
        sys.exit(status if status >= 0 else 128 - status)
        """
    let peakFile = FileManager.default.temporaryDirectory.appendingPathComponent("easgd-peak-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: peakFile) }
    let r = try run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, peakFile.path, executable.path] + arguments, environment: environment)
    guard let text = try? String(contentsOf: peakFile, encoding: .utf8), let peak = Int(text) else {
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "python3 did not report the peak memory: \(r.stderr)"])
    }
    return (r, peak)
}
