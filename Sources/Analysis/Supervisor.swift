// `easgd supervise`: runs a training job (usually `mpirun ... easgd train ... --out DIR`), and when it dies (a rank
// killed, a host gone, a stall reported by the master) starts it again from the run's last checkpoint with
// `easgd train --resume DIR` behind the same launcher, up to a number of restarts, saying each on standard error.
// The run directory's records then show one continuous run: a resume drops the records made after the checkpoint
// and goes on from it. A job that ends by diverging (exit 2) or on bad settings (64) is not restarted: running it
// again would do the same.

import Foundation
import Records
import Training

public struct Supervisor {
    /// The job: a launcher (optional), the easgd executable, `train` and its arguments.
    public var command: [String]
    public var maxRestarts: Int

    public init(command: [String], maxRestarts: Int) throws {
        guard let train = command.firstIndex(of: "train"), train >= 1 else {
            throw SettingsError("supervise runs a training job: give it as -- [LAUNCHER ...] EASGD train ... --out DIR")
        }
        guard Supervisor.runDirectory(command) != nil else {
            throw SettingsError("supervise needs the job's run directory: its train arguments must have --out DIR or --resume DIR")
        }
        self.command = command
        self.maxRestarts = maxRestarts
    }

    /// The value after `--out` or `--resume` among the train arguments.
    public static func runDirectory(_ command: [String]) -> String? {
        guard let train = command.firstIndex(of: "train") else { return nil }
        let arguments = Array(command[(train + 1)...])
        for flag in ["--resume", "--out"] {
            if let k = arguments.firstIndex(of: flag), k + 1 < arguments.count { return arguments[k + 1] }
            if let joined = arguments.first(where: { $0.hasPrefix(flag + "=") }) { return String(joined.dropFirst(flag.count + 1)) }
        }
        return nil
    }

    /// The same launcher and executable, `train --resume DIR`, and the budget and output options the job was given
    /// (the only ones a resume takes).
    public static func resumeCommand(_ command: [String], directory: String) -> [String] {
        let train = command.firstIndex(of: "train")!
        let arguments = Array(command[(train + 1)...])
        var kept: [String] = []
        var k = 0
        // An MPI job's shard servers are not a setting of the run: they go with the launch (a simulated run's
        // --servers belongs to its link model, which its config keeps).
        let mpi = command[..<train].contains { ["mpirun", "mpiexec", "orterun"].contains(($0 as NSString).lastPathComponent) }
        let options = ["--steps", "--epochs", "--minutes", "--threads", "--workers"] + (mpi ? ["--servers"] : [])
        while k < arguments.count {
            let a = arguments[k]
            if options.contains(a), k + 1 < arguments.count {
                kept += [a, arguments[k + 1]]
                k += 2
                continue
            }
            if a == "--quiet" { kept.append(a) }
            k += 1
        }
        return Array(command[...train]) + ["--resume", directory] + kept
    }

    /// Runs the job and its restarts; returns the exit status of the last attempt.
    public func run(say: (String) -> Void) throws -> Int32 {
        let directory = Supervisor.runDirectory(command)!
        var attempt = command
        var restarts = 0
        while true {
            let status = try Supervisor.execute(attempt)
            if status == 0 { return 0 }
            if status == ExitStatus.diverged || status == ExitStatus.usage {
                say("easgd supervise: the job ended with status \(status) (\(status == ExitStatus.diverged ? "diverged" : "bad settings")); not restarted")
                return status
            }
            guard FileManager.default.fileExists(atPath: RunFiles.checkpoint(directory)) else {
                say("easgd supervise: the job ended with status \(status) before \(directory) held a checkpoint; not restarted")
                return status
            }
            guard restarts < maxRestarts else {
                say("easgd supervise: the job ended with status \(status); \(maxRestarts) restart(s) used, giving up (continue with --resume \(directory))")
                return status
            }
            restarts += 1
            attempt = Supervisor.resumeCommand(command, directory: directory)
            say("easgd supervise: the job ended with status \(status); restart \(restarts) of \(maxRestarts) from the last checkpoint of \(directory): "
                + attempt.joined(separator: " "))
        }
    }

    /// Runs `command` with this process's standard streams; its exit status (128 + the signal if it was killed).
    static func execute(_ command: [String]) throws -> Int32 {
        let process = Process()
        let executable = command[0].contains("/") ? command[0] : try which(command[0])
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Array(command.dropFirst())
        try process.run()
        Cleanup.shared.register(child: process.processIdentifier)
        process.waitUntilExit()
        Cleanup.shared.unregister(child: process.processIdentifier)
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    private static func which(_ name: String) throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw SettingsError("supervise: \(name) not found on PATH")
    }
}
