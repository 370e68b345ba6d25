// Stopping `easgd supervise` never costs the job's checkpoint: the stop signal is forwarded (to an MPI job's rank 0),
// the supervisor waits for the job's own checkpoint and exit, restarts nothing and exits with the job's status; a job
// stopped by a signal from elsewhere is not restarted; a supervisor killed outright leaves no job running on
// unsupervised. On a machine kept busy by two spinning processes, where a job needs seconds to checkpoint.

import CommandTesting
import Foundation
import Testing
import Training

/// Two processes spinning on the machine's two cores while `body` runs.
func withBusyMachine<T>(_ body: () throws -> T) throws -> T {
    let spinners = try (0..<2).map { _ in
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "while :; do :; done"]
        try p.run()
        return p
    }
    // SIGKILL: a process started from a test thread inherits that thread's mask, which blocks SIGTERM.
    defer { for p in spinners { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
    return try body()
}

/// Waits (up to 120 s) until the run in `dir` has written its first record: the job is past its set-up.
func waitForFirstRecord(_ dir: URL) throws {
    let deadline = Date().addingTimeInterval(120)
    while Date() < deadline {
        if let records = try? RunFiles.readMetrics(dir.path), !records.isEmpty { return }
        usleep(20_000)
    }
    Issue.record("no record in \(dir.path) within 120 s")
}

/// Whether `pid` is a live process (not gone, not a zombie waiting for a parent to reap it).
func isRunning(_ pid: pid_t) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
    return stat.split(separator: ")").last?.split(separator: " ").first != "Z"
}

func supervisedJob(_ backend: String, dir: URL, steps: Int) throws -> [String] {
    let train = [easgdBinary.path, "train", "--backend", backend, "--method", "easgd", "--lr", "0.05", "--net", learnNet,
                 "--batch", "16", "--steps", String(steps), "--eval-every", "100", "--data", try smallFashionMNIST.get().path,
                 "--quiet", "--out", dir.path]
    return backend == "mpi" ? [mpirun!, "--oversubscribe", "-np", "3"] + train : train.prefix(4) + ["--workers", "2"] + train.dropFirst(4)
}

@Test(arguments: ["threads", "mpi"])
func aStoppedSupervisorLeavesTheJobCheckpointedAndItResumesToCompletion(backend: String) throws {
    if backend == "mpi" && mpirun == nil { return }
    let root = try temporaryDirectory()
    let dir = root.appendingPathComponent("run"), log = root.appendingPathComponent("log")
    let supervisor = try launch(["supervise", "--max-restarts", "3", "--"] + supervisedJob(backend, dir: dir, steps: 1500), log: log)
    try withBusyMachine {
        try waitForFirstRecord(dir)
        kill(supervisor.processIdentifier, SIGTERM)
        supervisor.waitUntilExit()
    }
    let message = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    #expect(supervisor.terminationStatus == 128 + SIGTERM, "\(message)")
    #expect(message.contains("forwarded to the job") && message.contains("not restarted") && !message.contains("restart 1"), "\(message)")
    if backend == "mpi" { #expect(message.contains("(rank 0, pid"), "\(message)") }
    #expect(FileManager.default.fileExists(atPath: RunFiles.checkpoint(dir.path)), "\(message)")
    let status = try RunFiles.readStatus(dir.path)
    #expect(status?.state == .interrupted, "\(String(describing: status)): \(message)")
    let steps = try RunFiles.readMetrics(dir.path).last?.step ?? 0
    #expect(steps < 3000, "the job finished before the signal (\(steps) steps); the test proves nothing")

    // The run resumes to completion from that checkpoint.
    let resume = try launch(["supervise", "--"] + (backend == "mpi" ? [mpirun!, "--oversubscribe", "-np", "3"] : [])
                            + [easgdBinary.path, "train", "--resume", dir.path, "--quiet"], log: log)
    resume.waitUntilExit()
    #expect(resume.terminationStatus == 0, "\((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    #expect(try RunFiles.readStatus(dir.path)?.state == .completed)
    #expect(try RunFiles.readMetrics(dir.path).last?.step == 3000)
}

/// SIGTERM sent to the job itself (not to the supervisor) is a request to stop, not a failure: no restart.
@Test func aJobStoppedFromOutsideIsNotRestarted() throws {
    let root = try temporaryDirectory()
    let dir = root.appendingPathComponent("run"), log = root.appendingPathComponent("log")
    let supervisor = try launch(["supervise", "--max-restarts", "3", "--"] + supervisedJob("threads", dir: dir, steps: 1500), log: log)
    try waitForFirstRecord(dir)
    let job = try #require(childProcesses(of: supervisor.processIdentifier).first)
    kill(job, SIGTERM)
    supervisor.waitUntilExit()
    let message = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    #expect(supervisor.terminationStatus == 128 + SIGTERM, "\(message)")
    #expect(message.contains("stopped by signal 15") && message.contains("not restarted") && !message.contains("restart 1"), "\(message)")
    #expect(try RunFiles.readStatus(dir.path)?.state == .interrupted)
}

/// A supervisor killed outright (SIGKILL cannot be caught or forwarded): its job receives SIGTERM, checkpoints and
/// ends, instead of running on with nobody to restart it.
@Test func aKilledSupervisorTakesItsJobDownAtACheckpoint() throws {
    let root = try temporaryDirectory()
    let dir = root.appendingPathComponent("run"), log = root.appendingPathComponent("log")
    let supervisor = try launch(["supervise", "--"] + supervisedJob("threads", dir: dir, steps: 1500), log: log)
    try waitForFirstRecord(dir)
    let job = try #require(childProcesses(of: supervisor.processIdentifier).first)
    kill(supervisor.processIdentifier, SIGKILL)
    supervisor.waitUntilExit()
    let deadline = Date().addingTimeInterval(60)
    while isRunning(job) && Date() < deadline { usleep(20_000) }
    #expect(!isRunning(job), "the job \(job) runs on without its supervisor")
    #expect(try RunFiles.readStatus(dir.path)?.state == .interrupted)
    #expect(FileManager.default.fileExists(atPath: RunFiles.checkpoint(dir.path)))
}

/// A rank stopped after its last message keeps mpirun waiting forever once rank 0 has ended: rank 0 names a rank
/// that does not say it is ending or does not finish MPI, and the supervisor ends a launcher still waiting after the
/// run has ended; the run's own outcome stands (completed: exit 0, not restarted).
@Test(.enabled(if: mpirun != nil))
func aRankStoppedAtTheEndDoesNotHoldTheSupervisedJobForever() throws {
    let root = try temporaryDirectory()
    let dir = root.appendingPathComponent("run"), log = root.appendingPathComponent("log")
    let stall = ["EASGD_STALL_SECONDS": "4"]
    let job = [mpirun!, "--oversubscribe", "-np", "3", "-x", "EASGD_STALL_SECONDS", easgdBinary.path, "train", "--backend", "mpi",
               "--method", "easgd", "--lr", "0.05", "--net", learnNet, "--batch", "16", "--steps", "200", "--eval-every", "100",
               "--data", try smallFashionMNIST.get().path, "--quiet", "--out", dir.path]
    let supervisor = try launch(["supervise", "--"] + job, log: log, environment: stall)
    let deadline = Date().addingTimeInterval(120)
    var worker: pid_t? = nil
    while Date() < deadline && !FileManager.default.fileExists(atPath: RunFiles.status(dir.path)) {
        if worker == nil, let launcher = childProcesses(of: supervisor.processIdentifier).first { worker = mpiRank(1, of: launcher) }
        usleep(5_000)
    }
    let rank = try #require(worker)
    let stoppedInTime = isRunning(rank)
    kill(rank, SIGSTOP)
    let stopped = Date()
    supervisor.waitUntilExit()
    kill(rank, SIGKILL)
    let message = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    #expect(supervisor.terminationStatus == 0, "\(message)")
    #expect(Date().timeIntervalSince(stopped) < 60, "the job was held \(Date().timeIntervalSince(stopped)) s by a stopped rank")
    #expect(try RunFiles.readStatus(dir.path)?.state == .completed)
    #expect(!message.contains("restart 1"), "a completed run was restarted: \(message)")
    if stoppedInTime {
        // Stopped before its bye (rank 0 names it), after its bye but inside MPI_Finalize (rank 0 says so and ends
        // by SIGALRM; the supervisor keeps the run's outcome), or after both (the supervisor ends the launcher).
        #expect(message.contains("did not end within") || message.contains("did not finish MPI within")
                    || message.contains("the launcher still waits for a rank"), "\(message)")
    }
}

/// A run whose terminal session ends (SIGHUP, an ssh connection dropped) is checkpointed and stops (129), as on
/// SIGINT and SIGTERM, instead of dying with nothing saved since its last periodic checkpoint; it resumes.
@Test func aHangupCheckpointsATrainingRun() throws {
    let root = try temporaryDirectory()
    let dir = root.appendingPathComponent("run"), log = root.appendingPathComponent("log")
    let train = try launch(["train", "--method", "msgd", "--lr", "0.01", "--net", learnNet, "--batch", "16", "--steps", "100000",
                            "--eval-every", "50", "--threads", "1", "--data", try smallFashionMNIST.get().path, "--quiet",
                            "--out", dir.path], log: log)
    try waitForRecords(2, in: dir)
    kill(train.processIdentifier, SIGHUP)
    train.waitUntilExit()
    #expect(train.terminationStatus == 128 + SIGHUP, "\((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    #expect(try RunFiles.readStatus(dir.path) == RunStatus(.interrupted, reason: "signal 1"))
    let resumed = try easgd(["train", "--resume", dir.path, "--steps", "120", "--quiet"])
    let last = try RunFiles.readMetrics(dir.path).last?.step
    #expect(resumed.status == 0 && last == 120, "\(resumed.stderr)")
}

/// A job that fails after its run wrote how it ended (a rank that would not finish MPI, ended by rank 0's limit)
/// keeps that outcome and is not restarted; a status.json left from before the attempt does not count, and such a
/// failure is restarted. The job is a shell script standing in for the launcher: each attempt appends to a count.
@Test(arguments: [true, false])
func aFailureAfterTheRunsOutcomeKeepsIt(writesOutcome: Bool) throws {
    let root = try temporaryDirectory()
    let dir = root.appendingPathComponent("run"), log = root.appendingPathComponent("log")
    let script = root.appendingPathComponent("job.sh"), attempts = root.appendingPathComponent("attempts")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try Data("checkpoint".utf8).write(to: URL(fileURLWithPath: RunFiles.checkpoint(dir.path)))
    try Data(#"{"status":"completed"}"#.utf8).write(to: URL(fileURLWithPath: RunFiles.status(dir.path)))
    try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-600)], ofItemAtPath: RunFiles.status(dir.path))
    let write = writesOutcome ? #"printf '{"status":"completed"}' > "$DIR/status.json""# : ":"
    try Data("""
        echo attempt >> '\(attempts.path)'
        DIR='\(dir.path)'
        \(write)
        exit 1
        """.utf8).write(to: script)
    let supervisor = try launch(["supervise", "--max-restarts", "1", "--", "/bin/sh", script.path, "train", "--out", dir.path], log: log)
    supervisor.waitUntilExit()
    let message = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    let count = ((try? String(contentsOf: attempts, encoding: .utf8)) ?? "").split(separator: "\n").count
    if writesOutcome {
        #expect(supervisor.terminationStatus == 0 && count == 1, "\(count) attempts: \(message)")
        #expect(message.contains("the run completed") && message.contains("not restarted"), "\(message)")
    } else {
        #expect(supervisor.terminationStatus == 1 && count == 2, "\(count) attempts: \(message)")
        #expect(message.contains("restart 1 of 1") && !message.contains("the run completed"), "\(message)")
    }
}
