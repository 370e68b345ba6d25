// The supervisor's job and the signals sent to the supervisor. The job runs in a process group of its own (Foundation
// starts it so), so a Ctrl-C at the terminal reaches the supervisor alone, which forwards it once: to an mpirun
// job's rank 0 (the master, which stops and checkpoints every rank), else to the job itself. The job then gets
// `stopLimit` seconds to write its checkpoint and end; past that, or at a second signal, it is killed with its
// descendants. The job is started under `setpriv --pdeathsig TERM` (util-linux), so that if the supervisor is
// killed outright the job receives SIGTERM and stops at a checkpoint instead of running on unsupervised.

import Foundation
import Records
import Training

final class JobControl: @unchecked Sendable {
    private let lock = NSLock()
    private var job: Process?
    private var requested: Int32?
    private var signals = 0
    let stopLimit: Double
    let say: @Sendable (String) -> Void

    private init(stopLimit: Double, say: @escaping @Sendable (String) -> Void) {
        self.stopLimit = stopLimit
        self.say = say
    }

    /// Routes SIGINT, SIGTERM and SIGHUP to the returned control, which forwards them (SignalPipe).
    static func install(stopLimit: Double, say: @escaping @Sendable (String) -> Void) -> JobControl {
        let control = JobControl(stopLimit: stopLimit, say: say)
        SignalPipe.route([SIGINT, SIGTERM, SIGHUP]) { control.received($0) }
        return control
    }

    /// The first stop signal the supervisor received, if any.
    var stopRequested: Int32? { lock.withLock { requested } }

    /// Set when the last `execute` ended a job whose run had ended (rank 0 gone, status.json written) but whose
    /// launcher still waited for a rank: the status the run recorded.
    private(set) var endedLingering: RunStatus.State?

    /// Runs `command` with this process's standard streams; its exit status (128 + the signal if it was killed). A
    /// command not started because a stop was requested first returns 128 + that signal. Under mpirun, once the
    /// run in `directory` has ended (rank 0 gone, status.json final), the launcher gets `lingerLimit` seconds to
    /// end; a rank stopped or hung after its last message would keep it waiting forever, so the job is then ended.
    func execute(_ command: [String], directory: String? = nil, lingerLimit: Double = 60) throws -> Int32 {
        endedLingering = nil
        let process = Process()
        let executable = command[0].contains("/") ? command[0] : try Supervisor.which(command[0])
        let setpriv = "/usr/bin/setpriv"
        if FileManager.default.isExecutableFile(atPath: setpriv) {
            process.executableURL = URL(fileURLWithPath: setpriv)
            process.arguments = ["--pdeathsig", "TERM", "--", executable] + command.dropFirst()
        } else {
            say("easgd supervise: \(setpriv) not found (Debian: util-linux): if this supervisor is killed, the job runs on unsupervised")
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = Array(command.dropFirst())
        }
        try lock.withLock {
            if let sig = requested { throw StoppedBeforeStart(signal: sig) }
            try process.run()
            job = process
        }
        var endedAt: Date? = nil
        while process.isRunning {
            usleep(200_000)
            guard let directory, endedLingering == nil else { continue }
            let final = ((try? RunFiles.readStatus(directory)) ?? nil).map(\.state)
            guard let final, JobControl.rankZero(below: process.processIdentifier) == nil,
                  Cleanup.descendants(of: process.processIdentifier).contains(where: JobControl.isMPIRank) else { endedAt = nil; continue }
            if endedAt == nil { endedAt = Date() }
            if Date().timeIntervalSince(endedAt!) > lingerLimit {
                say("easgd supervise: the run ended (\(final.rawValue); rank 0 gone) \(Int(lingerLimit)) s ago, but the launcher still waits for a rank "
                    + "that does not end (stopped or hung after its last message): the job is ended")
                endedLingering = final
                JobControl.killTree(process.processIdentifier)
            }
        }
        process.waitUntilExit()
        lock.withLock { job = nil }
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    struct StoppedBeforeStart: Error { var signal: Int32 }

    private func received(_ sig: Int32) {
        let (count, process): (Int, Process?) = lock.withLock {
            signals += 1
            if requested == nil { requested = sig }
            return (signals, job)
        }
        guard let process, process.isRunning else {
            say("easgd supervise: signal \(sig) received; no job is running, none will be started")
            return
        }
        let pid = process.processIdentifier
        guard count == 1 else {
            say("easgd supervise: a second signal (\(sig)): the job is killed now; its last periodic checkpoint stays")
            JobControl.killTree(pid)
            return
        }
        // The training job checkpoints on SIGINT and SIGTERM; SIGHUP is passed on as SIGTERM.
        let forwarded = sig == SIGHUP ? SIGTERM : sig
        let rankZero = JobControl.rankZero(below: pid)
        kill(rankZero ?? pid, forwarded)
        say("easgd supervise: signal \(sig) forwarded to the job (\(rankZero.map { "rank 0, pid \($0)" } ?? "pid \(pid)")) as signal \(forwarded); "
            + "waiting up to \(Int(stopLimit)) s (--stop-timeout) for it to checkpoint and end; a second signal kills it at once")
        let limit = stopLimit
        Thread { [say] in
            let deadline = Date().addingTimeInterval(limit)
            while process.isRunning && Date() < deadline { usleep(50_000) }
            if process.isRunning {
                say("easgd supervise: the job did not end within \(Int(limit)) s of the signal: killed; its last periodic checkpoint stays")
                JobControl.killTree(pid)
            }
        }.start()
    }

    static func killTree(_ pid: pid_t) {
        for p in Cleanup.descendants(of: pid) + [pid] { kill(p, SIGKILL) }
    }

    /// An MPI job's rank 0 among the processes below `pid` (its environment holds OMPI_COMM_WORLD_RANK=0).
    static func rankZero(below pid: pid_t) -> pid_t? {
        Cleanup.descendants(of: pid).first { rank($0) == 0 }
    }

    /// The MPI rank of process `pid` (from its environment), if it is one.
    static func rank(_ pid: pid_t) -> Int? {
        let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") ?? Data()
        let prefix = Array("OMPI_COMM_WORLD_RANK=".utf8)
        return environ.split(separator: 0).first { $0.starts(with: prefix) }.flatMap { Int(String(decoding: $0.dropFirst(prefix.count), as: UTF8.self)) }
    }

    static func isMPIRank(_ pid: pid_t) -> Bool { rank(pid) != nil }
}
