// `easgd supervise`: runs a training job (usually `mpirun ... easgd train ... --out DIR`), and when it dies (a rank
// killed, a host gone, a stall reported by the master) starts it again from the run's last checkpoint with
// `easgd train --resume DIR` behind the same launcher, up to a number of restarts, saying each on standard error.
// Before a restart of an mpirun job over other hosts (`--host` or `--hostfile`), it asks each host but the first
// (rank 0's) to run `true` through mpirun's own remote launcher (`--mca plm_rsh_agent`, else ssh); a host that does
// not answer within 20 s is left out, with its slots, and the job restarts with that many fewer ranks: an elastic
// restart with fewer workers.
// The run directory's records then show one continuous run: a resume drops the records made after the checkpoint
// and goes on from it. A job that ends by diverging (exit 2) or on bad settings (64) is not restarted: running it
// again would do the same; nor is one stopped by SIGINT, SIGTERM or SIGHUP (someone asked it to stop), nor one that
// failed after its run wrote how it ended (a rank that would not end after the last message): that outcome stands.
// Stopping the supervisor stops the job the way the job itself would want to be stopped: SIGINT, SIGTERM or SIGHUP
// is forwarded once (SIGHUP as SIGTERM) to the job, or to an mpirun job's rank 0, which checkpoints every rank and
// ends; the supervisor waits for that (up to `stopLimit` seconds, then kills the job, saying so), restarts nothing
// and exits with the job's status. A second signal kills the job at once. If the supervisor itself is killed
// (SIGKILL), the job receives SIGTERM (PR_SET_PDEATHSIG, set through util-linux's setpriv) and checkpoints and
// stops as if the supervisor had forwarded it: no job runs on unsupervised.

import Foundation
import Engine
import Records
import Training

public struct Supervisor {
    /// The job: a launcher (optional), the easgd executable, `train` and its arguments.
    public var command: [String]
    public var maxRestarts: Int
    /// Seconds a job has, after a forwarded stop signal, to checkpoint and end before it is killed.
    public var stopLimit: Double = Supervisor.defaultStopLimit
    public static let defaultStopLimit = 600.0

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
        return value(of: "--resume", in: arguments) ?? value(of: "--out", in: arguments)
    }

    /// An option's value as the argument parser reads it: `--flag value` or `--flag=value` (the last one given).
    public static func value(of flag: String, in arguments: [String]) -> String? {
        var found: String? = nil
        for (k, a) in arguments.enumerated() {
            if a == flag, k + 1 < arguments.count { found = arguments[k + 1] }
            if a.hasPrefix(flag + "=") { found = String(a.dropFirst(flag.count + 1)) }
        }
        return found
    }

    /// `command` with the train option `flag` set to `value` (every earlier occurrence, in either form, removed).
    public static func setting(_ flag: String, to value: String, in command: [String]) -> [String] {
        let train = command.firstIndex(of: "train")!
        var kept: [String] = [], k = train + 1
        while k < command.count {
            if command[k] == flag { k += 2; continue }
            if command[k].hasPrefix(flag + "=") { k += 1; continue }
            kept.append(command[k])
            k += 1
        }
        return Array(command[...train]) + kept + [flag, value]
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
            // The one-word form, as the argument parser takes it too.
            if options.contains(where: { a.hasPrefix($0 + "=") }) { kept.append(a) }
            if a == "--quiet" { kept.append(a) }
            k += 1
        }
        return Array(command[...train]) + ["--resume", directory] + kept
    }

    /// Runs the job and its restarts; returns the exit status of the last attempt. Installs the supervisor's own
    /// handling of SIGINT, SIGTERM and SIGHUP (forwarded to the job; see the file's header).
    public func run(say: @escaping @Sendable (String) -> Void) throws -> Int32 {
        let job = JobControl.install(stopLimit: stopLimit, say: say)
        var command = self.command
        let directory = Supervisor.runDirectory(command)!
        var attempt = command
        var restarts = 0
        while true {
            if let sig = job.stopRequested {
                say("easgd supervise: stopped by signal \(sig) before the next attempt started; nothing is running (continue with --resume \(directory))")
                return ExitStatus.signal(sig)
            }
            let status: Int32
            let started = Date()
            // The launcher's grace after the run has ended: 60 s, or the job's stall limit when that is shorter.
            do { status = try job.execute(attempt, directory: directory, lingerLimit: min(60, StallLimit.seconds)) } catch let stopped as JobControl.StoppedBeforeStart {
                say("easgd supervise: stopped by signal \(stopped.signal) before the next attempt started; nothing is running (continue with --resume \(directory))")
                return ExitStatus.signal(stopped.signal)
            }
            if let sig = job.stopRequested {
                say("easgd supervise: the job ended with status \(status) after signal \(sig); not restarted"
                    + (FileManager.default.fileExists(atPath: RunFiles.checkpoint(directory)) ? " (continue with --resume \(directory))" : ""))
                return status
            }
            if status == 0 { return 0 }
            if let final = job.endedLingering {
                // The run itself had ended; only the launcher was stuck: its own outcome stands.
                return final == .completed ? 0 : final == .diverged ? ExitStatus.diverged : status
            }
            if let final = Supervisor.outcomeWritten(directory, since: started), final != .interrupted {
                // The run wrote how it ended during this attempt; a rank ended the launcher after that (rank 0's
                // MPI_Finalize limit): its files are whole and its own outcome stands.
                say("easgd supervise: the run \(final == .completed ? "completed" : "diverged") (\(RunFiles.status(directory))), but the launcher "
                    + "ended with status \(status) after it (a rank did not end after its last message); not restarted")
                return final == .completed ? 0 : ExitStatus.diverged
            }
            if status == ExitStatus.diverged || status == ExitStatus.usage {
                say("easgd supervise: the job ended with status \(status) (\(status == ExitStatus.diverged ? "diverged" : "bad settings")); not restarted")
                return status
            }
            if let sig = [SIGINT, SIGTERM, SIGHUP].first(where: { ExitStatus.signal($0) == status }) {
                say("easgd supervise: the job was stopped by signal \(sig) (status \(status)), not by a failure; not restarted (continue with --resume \(directory))")
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
            // A process of the attempt that ended (a rank still going down) may hold the run's directory a while.
            if let held = Supervisor.waitUntilFree(directory, seconds: 60) {
                say("easgd supervise: the job ended with status \(status), but \(held) 60 s later; not restarted")
                return status
            }
            restarts += 1
            attempt = Supervisor.resumeCommand(command, directory: directory)
            if let hosts = HostList(command: attempt) {
                let gone = hosts.names.dropFirst().filter { !Supervisor.reachable($0, agent: hosts.agent) }
                if !gone.isEmpty {
                    guard let fewer = try hosts.without(Set(gone), directory: directory) else {
                        say("easgd supervise: host\(gone.count == 1 ? "" : "s") \(gone.joined(separator: ", ")) unreachable, which leaves no worker; not restarted")
                        return status
                    }
                    say("easgd supervise: host\(gone.count == 1 ? "" : "s") \(gone.joined(separator: ", ")) unreachable: left out, \(hosts.ranks) → \(fewer.ranks) ranks")
                    // The run keeps its p unless told otherwise: the fewer ranks are an elastic restart, said so.
                    let train = fewer.command.firstIndex(of: "train")!
                    let servers = Supervisor.value(of: "--servers", in: Array(fewer.command[(train + 1)...])).flatMap { Int($0) } ?? 1
                    command = Supervisor.setting("--workers", to: String(fewer.ranks - servers), in: fewer.command)
                    attempt = Supervisor.resumeCommand(command, directory: directory)
                }
            }
            say("easgd supervise: the job ended with status \(status); restart \(restarts) of \(maxRestarts) from the last checkpoint of \(directory): "
                + attempt.joined(separator: " "))
        }
    }

    /// How the run in `directory` ended, when its status.json was written at or after `date` (a run removes the
    /// file when it starts: an older one belongs to an earlier attempt).
    static func outcomeWritten(_ directory: String, since date: Date) -> RunStatus.State? {
        let path = RunFiles.status(directory)
        guard let written = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
              written >= date.addingTimeInterval(-1) else { return nil }
        return ((try? RunFiles.readStatus(directory)) ?? nil)?.state
    }

    /// Whether `host` runs `true` through `agent` (mpirun's remote launcher: `agent HOST COMMAND`), or ssh, within 20 s.
    static func reachable(_ host: String, agent: String?) -> Bool {
        let process = Process()
        if let agent {
            process.executableURL = URL(fileURLWithPath: agent)
            process.arguments = [host, "true"]
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh")
            process.arguments = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", host, "true"]
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning { process.terminate(); process.waitUntilExit(); return false }
        return process.terminationStatus == 0
    }

    /// Nil once no process holds the run directory's lock (within `seconds`); else what the lock said.
    public static func waitUntilFree(_ directory: String, seconds: Double) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            do {
                try DirectoryLock(directory).release()
                return nil
            } catch {
                if Date() >= deadline { return "\(error)" }
                usleep(200_000)
            }
        }
    }

    static func which(_ name: String) throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw SettingsError("supervise: \(name) not found on PATH")
    }
}

/// The hosts of an mpirun command line (`--host A,B:2,...` or `--hostfile FILE` with `HOST [slots=N]` lines), its
/// `-np`, and its remote launcher; `without` gives the command line that leaves some hosts out.
struct HostList {
    var command: [String]
    var names: [String]
    var slots: [Int]
    var ranks: Int
    var agent: String?
    private var hostIndex: Int         // the value after --host or --hostfile
    private var hostfile: Bool
    private var rankIndex: Int

    init?(command: [String]) {
        guard let train = command.firstIndex(of: "train"), train >= 2 else { return nil }
        let launcher = Array(command[..<(train - 1)])
        guard ["mpirun", "mpiexec", "orterun"].contains((launcher.first.map { ($0 as NSString).lastPathComponent }) ?? "") else { return nil }
        func value(after flags: [String]) -> Int? {
            guard let k = launcher.firstIndex(where: flags.contains), k + 1 < launcher.count else { return nil }
            return k + 1
        }
        guard let n = value(after: ["-np", "-n", "--np"]), let ranks = Int(launcher[n]) else { return nil }
        self.command = command
        self.ranks = ranks
        rankIndex = n
        if let k = launcher.indices.dropLast().first(where: { launcher[$0] == "--mca" && launcher[$0 + 1] == "plm_rsh_agent" }), k + 2 < launcher.count {
            agent = launcher[k + 2]
        }
        if let h = value(after: ["--host", "-H", "--hosts"]) {
            hostIndex = h
            hostfile = false
            let entries = launcher[h].split(separator: ",").map(String.init)
            names = entries.map { String($0.split(separator: ":").first ?? "") }
            slots = entries.map { $0.split(separator: ":").dropFirst().first.flatMap { Int($0) } ?? 1 }
        } else if let h = value(after: ["--hostfile", "--machinefile", "-hostfile", "-machinefile"]) {
            hostIndex = h
            hostfile = true
            guard let text = try? String(contentsOfFile: launcher[h], encoding: .utf8) else { return nil }
            var names: [String] = [], slots: [Int] = []
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: "#").first?.split(separator: " ") ?? []
                guard let host = fields.first else { continue }
                names.append(String(host))
                slots.append(fields.dropFirst().first { $0.hasPrefix("slots=") }.flatMap { Int($0.dropFirst(6)) } ?? 1)
            }
            self.names = names
            self.slots = slots
        } else {
            return nil
        }
        guard names.count > 1 else { return nil }
    }

    /// The command line without `gone`: the hosts left, and -np reduced by the slots gone (never above what the
    /// hosts left hold); a hostfile is written anew beside the run (`DIR/hostfile.supervise`). Nil when that
    /// leaves fewer than 2 ranks (a master and a worker).
    func without(_ gone: Set<String>, directory: String) throws -> HostList? {
        let kept = names.indices.filter { !gone.contains(names[$0]) }
        let keptSlots = kept.reduce(0) { $0 + slots[$1] }
        let lost = names.indices.filter { gone.contains(names[$0]) }.reduce(0) { $0 + slots[$1] }
        let ranks = min(self.ranks - lost, keptSlots)
        guard ranks >= 2 else { return nil }
        var result = self
        if hostfile {
            let path = directory + "/hostfile.supervise"
            let text = kept.map { "\(names[$0]) slots=\(slots[$0])\n" }.joined()
            let transaction = OutputTransaction()
            try transaction.write(text, to: path)
            try transaction.commit()
            result.command[hostIndex] = path
        } else {
            result.command[hostIndex] = kept.map { slots[$0] == 1 ? names[$0] : "\(names[$0]):\(slots[$0])" }.joined(separator: ",")
        }
        result.command[rankIndex] = String(ranks)
        result.names = kept.map { names[$0] }
        result.slots = kept.map { slots[$0] }
        result.ranks = ranks
        return result
    }
}
