// easgd train with parallel methods: every backend learns on Fashion-MNIST and its records carry exchanges and the
// workers' losses; evaluations on a virtual-time schedule; checkpoints, signals and resume on every backend (an
// MPI run with one worker equals the simulated run bit for bit); bad combinations are refused.

import CommandTesting
import Foundation
import NumericTesting
import Testing
import Engine
import Training

@Test(arguments: [("easgd", "simulated"), ("downpour", "threads"), ("sync-easgd", "simulated"), ("async-diloco", "threads"),
                  ("diloco", "threads")])
func parallelTrainingRunsLearn(method: String, backend: String) throws {
    let dir = try temporaryDirectory().appendingPathComponent("run")
    var arguments = ["train", "--method", method, "--workers", "2", "--tau", "2", "--lr", "0.02", "--net", learnNet,
                     "--batch", "32", "--steps", "120", "--eval-every", "80", "--backend", backend, "--quiet", "--out", dir.path]
    if backend == "simulated" { arguments += ["--compute-seconds", "0.01"] }
    let r = try easgd(arguments)
    #expect(r.status == 0, "\(r.stderr)")
    let records = try RunFiles.readMetrics(dir.path)
    let first = try #require(records.first), last = try #require(records.last)
    #expect(first.testError > 0.7 && last.testError < 0.5, "\(method)/\(backend): \(first.testError) → \(last.testError)")
    #expect((last.exchanges ?? 0) > 0 && last.step == 240)
    try expectWorkerReports(in: dir)
    // Virtual time: every worker takes 120 steps of 0.01 s (communication costs 0), so p devices take 1.2 s.
    if backend == "simulated" { #expect(abs(last.seconds - 1.2) < 1e-9, "\(last.seconds)") }
}

@Test(arguments: [
    (["train", "--method", "easgd", "--lr", "0.01", "--epochs", "1", "--out", "OUT"], "--steps (per worker)"),
    (["train", "--method", "msgd", "--lr", "0.01", "--steps", "1", "--workers", "4", "--out", "OUT"], "apply to the parallel methods"),
    (["train", "--method", "diloco", "--lr", "0.01", "--steps", "1", "--backend", "mpi", "--out", "OUT"], "--backend mpi runs under mpirun"),
    (["train", "--method", "easgd", "--lr", "0.01", "--steps", "1", "--backend", "mpi", "--out", "OUT"], "--backend mpi runs under mpirun"),
    (["train", "--method", "easgd", "--lr", "0.01", "--steps", "1", "--compute-seconds", "0.1", "--out", "OUT"], "add --backend simulated"),
    (["train", "--method", "easgd", "--lr", "0.01", "--steps", "1", "--backend", "threads", "--schedule", "round-robin", "--out", "OUT"],
     "--schedule applies to the simulated backend"),
    (["train", "--method", "msgd", "--lr", "0.01", "--steps", "1", "--eval-every", "3s", "--out", "OUT"], "seconds applies to the parallel"),
    (["train", "--method", "easgd", "--lr", "0.01", "--steps", "1", "--alpha", "0.1", "--beta", "0.9", "--out", "OUT"], "only one of --alpha or --beta"),
    (["train", "--method", "admm", "--lr", "0.01", "--steps", "1", "--out", "OUT"], "admm"),
])
func badParallelTrainingInputGetsOneLineError(arguments template: [String], needle: String) throws {
    let out = try temporaryDirectory().appendingPathComponent("run").path
    let r = try easgd(template.map { $0 == "OUT" ? out : $0 })
    #expect(r.status != 0)
    #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.hasPrefix("easgd: ") && r.stderr.contains(needle), "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: out))
}

@Test func simulatedParallelRunResumesBitForBit() throws {
    let root = try temporaryDirectory()
    let common = ["train", "--method", "eamsgd", "--workers", "3", "--tau", "2", "--lr", "0.01", "--momentum", "0.5",
                  "--net", learnNet, "--batch", "16", "--eval-every", "30", "--backend", "simulated", "--compute-seconds", "0.01",
                  "--communication-seconds", "0.002", "--quiet"]
    let straight = root.appendingPathComponent("straight"), split = root.appendingPathComponent("split")
    #expect(try easgd(common + ["--steps", "40", "--out", straight.path]).status == 0)
    #expect(try easgd(common + ["--steps", "25", "--out", split.path]).status == 0)
    let resumed = try easgd(["train", "--resume", split.path, "--steps", "40", "--quiet"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    try expectSameSystem(straight, split)
    let strip = { (r: MetricRecord) in [Double(r.step), r.seconds, r.testLoss, r.testError, Double(r.exchanges ?? -1)] }
    let ra = try RunFiles.readMetrics(straight.path).map(strip), rb = try RunFiles.readMetrics(split.path).map(strip)
    #expect(ra.last == rb.last)
    // The host's seconds go on across the resume (they started again from 0 before 2026-12-01, so a resumed run's
    // wall_seconds counted only its last part).
    let walls = try RunFiles.readMetrics(split.path).map(\.wallSeconds)
    #expect(walls.count > 3 && zip(walls, walls.dropFirst()).allSatisfy { $0 <= $1 }, "\(walls)")
    let again = try easgd(["train", "--resume", split.path, "--tau", "5"])     // (--workers is an elastic restart)
    #expect(again.status != 0 && again.stderr.contains("cannot change on --resume"))
}

@Test func threadsRunRecordsItsFinalStateOnceAndResumingAFinishedRunAddsNoRecord() throws {
    // --eval-every 40 with p = 2 and 40 steps per worker makes the tester due exactly at the end (80 in all), where
    // the final evaluation also falls: the state after the last step must be one record, not two.
    let dir = try temporaryDirectory().appendingPathComponent("run")
    let r = try easgd(["train", "--method", "easgd", "--workers", "2", "--tau", "2", "--lr", "0.02", "--net", learnNet,
                       "--batch", "16", "--steps", "40", "--eval-every", "40", "--quiet", "--out", dir.path])
    #expect(r.status == 0, "\(r.stderr)")
    let steps = try RunFiles.readMetrics(dir.path).map(\.step)
    #expect(steps.first == 0 && steps.last == 80 && zip(steps, steps.dropFirst()).allSatisfy { $0 < $1 }, "\(steps)")
    let again = try easgd(["train", "--resume", dir.path, "--steps", "40", "--quiet"])
    #expect(again.status == 0, "\(again.stderr)")
    #expect(try RunFiles.readMetrics(dir.path).map(\.step) == steps)
    // metrics.csv: one row per record, one column per quantity and per worker, the learning rate in force, and the
    // bytes sent and received (Float32 both ways without a codec: 4 bytes per parameter per exchange each).
    let csv = try String(contentsOfFile: RunFiles.metricsCSV(dir.path), encoding: .utf8).split(separator: "\n")
    let header = "total_steps,samples,epoch,seconds,wall_seconds,train_loss,minibatch_loss,test_loss,test_error,exchanges,"
        + "communication_seconds,worker_steps_0,worker_steps_1,worker_loss_0,worker_loss_1,eta,bytes_sent,bytes_received"
    #expect(csv.first.map(String.init) == header)
    #expect(csv.count == steps.count + 1)
    let last = try #require(csv.last).split(separator: ",", omittingEmptySubsequences: false)
    #expect(last.count == 18 && last[11] == "40" && last[12] == "40" && last[15] == "0.02", "\(last)")
    let parameters = try #require(try Checkpoint.read(RunFiles.checkpoint(dir.path), as: SystemProbe.self).buffers["center"]?.count)
    let exchanges = try #require(Int(last[9]))
    #expect(exchanges > 0 && last[16] == "\(exchanges * 4 * parameters)" && last[17] == last[16], "\(last)")
}

/// The fields of a parallel run's checkpoint that the tests compare.
struct SystemProbe: Codable {
    struct Worker: Codable { var clock: Int; var exchanges: Int; var lastLoss: Double? }
    var masterClock: Int
    var workers: [Worker]
}

/// What the workers report in the records: every record's step is the sum of its per-worker steps, the last
/// record's per-worker steps are the final checkpoint's clocks, and its worker loss is the mean of the workers' last
/// minibatch losses there (to Float precision: MPI workers report theirs in Float32 messages), the loss of a net that
/// has learned something (below ln 10, chance).
func expectWorkerReports(in dir: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let records = try RunFiles.readMetrics(dir.path)
    let record = try #require(records.last, sourceLocation: sourceLocation)
    #expect(records.allSatisfy { $0.workerSteps?.reduce(0, +) == $0.step }, "\(records.map(\.workerSteps))", sourceLocation: sourceLocation)
    let workers = try Checkpoint.read(RunFiles.checkpoint(dir.path), as: SystemProbe.self).state.workers
    #expect(record.workerSteps == workers.map(\.clock), sourceLocation: sourceLocation)
    let losses = workers.compactMap(\.lastLoss)
    let mean = losses.reduce(0, +) / Double(losses.count)
    // Each worker's own loss, one per worker, and their mean as the minibatch loss.
    let each = try #require(record.workerLoss, sourceLocation: sourceLocation)
    #expect(each.count == workers.count, sourceLocation: sourceLocation)
    for (k, w) in workers.enumerated() {
        if let l = w.lastLoss, let r = each[k] {
            #expect(isClose(r, l, relative: 1e-6), "worker \(k): \(r) vs \(l)", sourceLocation: sourceLocation)
        }
    }
    let reported = try #require(record.minibatchLoss, sourceLocation: sourceLocation)
    #expect(!losses.isEmpty && isClose(reported, mean, relative: 1e-6) && reported < 2.0, "\(reported) vs \(losses)",
            sourceLocation: sourceLocation)
}

/// The two runs' checkpoints hold the same master clock, worker clocks and bit-identical buffers.
func expectSameSystem(_ a: URL, _ b: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let x = try Checkpoint.read(RunFiles.checkpoint(a.path), as: SystemProbe.self)
    let y = try Checkpoint.read(RunFiles.checkpoint(b.path), as: SystemProbe.self)
    #expect(x.state.masterClock == y.state.masterClock, sourceLocation: sourceLocation)
    #expect(x.state.workers.map(\.clock) == y.state.workers.map(\.clock), sourceLocation: sourceLocation)
    #expect(Set(x.buffers.keys) == Set(y.buffers.keys) && !x.buffers.isEmpty, sourceLocation: sourceLocation)
    for (name, u) in x.buffers {
        let v = try #require(y.buffers[name], sourceLocation: sourceLocation)
        let same = u.map(\.bitPattern) == v.map(\.bitPattern)
        #expect(same, "\(name) differs between \(a.lastPathComponent) and \(b.lastPathComponent)", sourceLocation: sourceLocation)
    }
}

@Test func evaluationEveryVirtualSeconds() throws {
    // p = 2 workers, 0.01 virtual seconds per step, 120 steps each: 1.2 s in all, an evaluation every 0.3 s.
    let dir = try temporaryDirectory().appendingPathComponent("run")
    let r = try easgd(["train", "--method", "easgd", "--workers", "2", "--lr", "0.02", "--net", learnNet, "--batch", "16",
                       "--steps", "120", "--eval-every", "0.3s", "--backend", "simulated", "--compute-seconds", "0.01", "--quiet",
                       "--out", dir.path])
    #expect(r.status == 0, "\(r.stderr)")
    let seconds = try RunFiles.readMetrics(dir.path).map(\.seconds)
    let expected = [0, 0.3, 0.6, 0.9, 1.2]
    #expect(seconds.count == expected.count && zip(seconds, expected).allSatisfy { $0 >= $1 - 1e-9 && $0 < $1 + 0.0101 }, "\(seconds)")
    let zero = try easgd(["train", "--method", "easgd", "--lr", "0.02", "--steps", "5", "--eval-every", "0s", "--out", dir.path + "-0"])
    #expect(zero.status != 0 && zero.stderr.split(separator: "\n").count == 1, "\(zero.stderr)")
}

/// Starts `easgd arguments` (under `mpirun -np ranks` when given) with its standard error in `log`.
func launch(_ arguments: [String], ranks: Int? = nil, log: URL, environment: [String: String] = [:]) throws -> Process {
    let process = Process()
    if let ranks {
        process.executableURL = URL(fileURLWithPath: mpirun!)
        process.arguments = ["--oversubscribe", "-np", "\(ranks)", easgdBinary.path] + arguments
    } else {
        process.executableURL = easgdBinary
        process.arguments = arguments
    }
    process.environment = ProcessInfo.processInfo.environment.merging(
        ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMPI_MCA_rmaps_base_oversubscribe": "1"]
            .merging(environment) { $1 }) { $1 }
    _ = FileManager.default.createFile(atPath: log.path, contents: nil)
    process.standardError = try FileHandle(forWritingTo: log)
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    return process
}

/// Runs `easgd arguments` under `mpirun -np ranks`; returns its status and standard error.
func mpiRun(_ ranks: Int, _ arguments: [String]) throws -> (status: Int32, stderr: String) {
    let log = try temporaryDirectory().appendingPathComponent("stderr")
    let process = try launch(arguments, ranks: ranks, log: log)
    process.waitUntilExit()
    return (process.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
}

/// Waits until the run in `dir` has written at least `count` records (or `seconds` pass).
func waitForRecords(_ count: Int, in dir: URL, seconds: Double = 120) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if let records = try? RunFiles.readMetrics(dir.path), records.count >= count { return }
        usleep(50_000)
    }
    Issue.record("no \(count) records in \(dir.path) after \(seconds) s")
}

@Test func threadsRunPausesForCheckpointsAndResumesAfterASignal() throws {
    let root = try temporaryDirectory()
    let dir = root.appendingPathComponent("run")
    let process = try launch(["train", "--method", "easgd", "--workers", "2", "--tau", "2", "--lr", "0.02", "--net", learnNet,
                              "--batch", "16", "--steps", "1000000", "--eval-every", "40", "--backend", "threads",
                              "--checkpoint-every", "0.0002", "--quiet", "--out", dir.path], log: root.appendingPathComponent("log"))
    try waitForRecords(3, in: dir)
    kill(process.processIdentifier, SIGINT)
    process.waitUntilExit()
    #expect(process.terminationStatus == 130)
    let saved = try Checkpoint.read(RunFiles.checkpoint(dir.path), as: SystemProbe.self).state
    let target = ((saved.workers.map(\.clock).max() ?? 0) + 30) / 2 * 2      // even: an exchange every τ = 2 steps
    let before = try RunFiles.readMetrics(dir.path)
    // Resumed, it pauses for a checkpoint every 12 ms; no step may be lost or taken twice.
    let resumed = try easgd(["train", "--resume", dir.path, "--steps", "\(target)", "--quiet"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    let final = try Checkpoint.read(RunFiles.checkpoint(dir.path), as: SystemProbe.self).state
    #expect(final.workers.map(\.clock) == [target, target])
    #expect(final.workers.map(\.exchanges) == [target / 2, target / 2])
    let records = try RunFiles.readMetrics(dir.path)
    #expect(records.last?.step == 2 * target && records.last?.exchanges == target)
    // The clock goes on from where the checkpoint left it.
    let times = records.map(\.seconds)
    #expect(zip(times, times.dropFirst()).allSatisfy { $0 <= $1 } && records.count > before.count, "\(times)")
}

/// mpirun from Open MPI (installed by `make test` with openmpi-bin); as root it needs the two variables below.
let mpirun: String? = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }

@Test(.enabled(if: mpirun != nil), arguments: ["easgd", "downpour", "mdownpour", "async-diloco"])
func threeRankMPIRunLearnsAndStopsCleanly(method: String) throws {
    let dir = try temporaryDirectory().appendingPathComponent("run")
    // Each method gets only the settings it takes: MDOWNPOUR its momentum (and τ = 1), the others τ = 2.
    let own = method == "mdownpour" ? ["--momentum", "0.5"] : ["--tau", "2"]
    let (status, message) = try mpiRun(3, ["train", "--backend", "mpi", "--method", method, "--lr", "0.02"] + own
                                           + ["--net", learnNet, "--batch", "32", "--steps", "60",
                                              "--eval-every", "60", "--quiet", "--out", dir.path])
    #expect(status == 0, "\(message)")         // every rank exited 0: the stop protocol ended the run
    let records = try RunFiles.readMetrics(dir.path)
    let first = try #require(records.first), last = try #require(records.last)
    #expect(last.step == 120 && first.testError > 0.7 && last.testError < first.testError - 0.1, "\(method): \(first.testError) → \(last.testError)")
    #expect((last.exchanges ?? 0) == (method == "mdownpour" ? 120 : 60))
    try expectWorkerReports(in: dir)
}

@Test(.enabled(if: mpirun != nil))
func mpiRunEqualsTheSimulatorAndResumesBitForBit() throws {
    // With one worker the order of messages is fixed, so rank 0's master and rank 1's worker must compute exactly
    // what the simulator computes in one process; and an MPI run stopped and resumed must equal a straight one.
    let root = try temporaryDirectory()
    let common = ["train", "--method", "eamsgd", "--tau", "2", "--lr", "0.01", "--momentum", "0.5", "--net", learnNet,
                  "--batch", "16", "--eval-every", "30", "--quiet"]
    let simulated = root.appendingPathComponent("simulated"), straight = root.appendingPathComponent("straight"),
        split = root.appendingPathComponent("split")
    let s = try easgd(common + ["--workers", "1", "--backend", "simulated", "--compute-seconds", "0.01", "--steps", "40",
                                "--out", simulated.path])
    #expect(s.status == 0, "\(s.stderr)")
    for (steps, dir) in [(40, straight), (25, split)] {
        let r = try mpiRun(2, common + ["--backend", "mpi", "--steps", "\(steps)", "--out", dir.path])
        #expect(r.status == 0, "\(r.stderr)")
    }
    let resumed = try mpiRun(2, ["train", "--resume", split.path, "--steps", "40", "--quiet"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    try expectSameSystem(simulated, straight)
    try expectSameSystem(straight, split)
    // Under mpirun with more ranks a resume is refused unless --workers asks for the elastic restart, saying which
    // -np keeps p; with it, the new worker starts from the center, and the change is announced and recorded.
    let silent = try mpiRun(3, ["train", "--resume", split.path, "--steps", "50", "--quiet"])
    #expect(silent.status == 64 && silent.stderr.contains("resume it with -np 2, or give --workers 2"), "\(silent.stderr)")
    let wider = try mpiRun(3, ["train", "--resume", split.path, "--workers=2", "--steps", "50", "--quiet"])
    #expect(wider.status == 0 && wider.stderr.contains("elastic restart: p = 1 → 2, α = 0.9 → 0.45 (β = pα = 0.9 kept)"), "\(wider.stderr)")
    let change = try #require(try RunFiles.readSettings(split.path).changes?.last)
    #expect(change.workers == [1, 2] && change.alpha == [0.9, 0.45] && change.beta == 0.9 && change.atStep == 40, "\(change)")
    let final = try Checkpoint.read(RunFiles.checkpoint(split.path), as: SystemProbe.self).state
    #expect(final.workers.map(\.clock) == [50, 50])
}

/// Every evaluation on the wall-clock backends records the seconds the workers have spent on exchanges so far
/// (`communication_seconds`): finite, non-negative, never falling, and more than nothing once they have exchanged
/// (before, only the threads backend's final record had it, and MPI's none).
@Test(.enabled(if: mpirun != nil), arguments: ["threads", "mpi"])
func everyEvaluationRecordsTheWorkersCommunicationSeconds(backend: String) throws {
    let dir = try temporaryDirectory().appendingPathComponent("run")
    let arguments = ["train", "--method", "easgd", "--tau", "1", "--lr", "0.02", "--net", learnNet, "--batch", "16",
                     "--steps", "40", "--eval-every", "8", "--quiet", "--backend", backend, "--out", dir.path]
    if backend == "mpi" {
        let r = try mpiRun(3, arguments)
        #expect(r.status == 0, "\(r.stderr)")
    } else {
        let r = try easgd(arguments + ["--workers", "2"])
        #expect(r.status == 0, "\(r.stderr)")
    }
    let records = try RunFiles.readMetrics(dir.path)
    let seconds = records.dropFirst().map { $0.communicationSeconds }
    #expect(records.count >= 3 && seconds.allSatisfy { $0 != nil }, "\(records.count) records: \(seconds)")
    let values = seconds.compactMap { $0 }
    #expect(values.allSatisfy { $0.isFinite && $0 >= 0 } && zip(values, values.dropFirst()).allSatisfy { $0 <= $1 }, "\(values)")
    let last = try #require(records.last)
    #expect(values.last! > 0 && values.last! < 2 * last.wallSeconds, "\(values) in \(last.wallSeconds) s")
}

@Test(.enabled(if: mpirun != nil))
func signalToRankZeroCheckpointsAnMPIRunThatResumes() throws {
    let root = try temporaryDirectory()
    let dir = root.appendingPathComponent("run"), log = root.appendingPathComponent("log")
    let process = try launch(["train", "--backend", "mpi", "--method", "downpour", "--tau", "2", "--lr", "0.02", "--net", learnNet,
                              "--batch", "16", "--steps", "1000000", "--eval-every", "60", "--quiet", "--out", dir.path],
                             ranks: 3, log: log)
    try waitForRecords(2, in: dir)
    // mpirun's children are the ranks; rank 0 has OMPI_COMM_WORLD_RANK=0 in its environment.
    let children = (try FileManager.default.contentsOfDirectory(atPath: "/proc")).compactMap(Int32.init).filter { pid in
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
        return fields.count > 2 && Int32(fields[1]) == process.processIdentifier
    }
    let rankZero = children.first { pid in
        let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") ?? Data()
        return environ.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == "OMPI_COMM_WORLD_RANK=0" }
    }
    let pid = try #require(rankZero, "rank 0 among mpirun's children \(children)")
    kill(pid, SIGTERM)
    process.waitUntilExit()
    let message = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    #expect(process.terminationStatus != 0 && message.contains("stopped by signal 15"), "\(message)")
    let saved = try Checkpoint.read(RunFiles.checkpoint(dir.path), as: SystemProbe.self).state
    let target = ((saved.workers.map(\.clock).max() ?? 0) + 20) / 2 * 2      // even: a push every τ = 2 steps
    let resumed = try mpiRun(3, ["train", "--resume", dir.path, "--steps", "\(target)", "--quiet"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    let final = try Checkpoint.read(RunFiles.checkpoint(dir.path), as: SystemProbe.self).state
    #expect(final.workers.map(\.clock) == [target, target])
    #expect(final.masterClock == target, "one push every τ = 2 steps from each of 2 workers")
    #expect(try RunFiles.readMetrics(dir.path).last?.step == 2 * target)
}

@Test func engineWatchesThePapersADMMDiverge() throws {
    let dir = try temporaryDirectory().appendingPathComponent("chaos")
    let r = try easgd(["train-quadratic", "--method", "admm", "--workers", "3", "--lr", "0.001", "--rho", "2.5", "--x0", "1000",
                       "--schedule", "round-robin", "--steps", "60000", "--out", dir.path])
    #expect(r.status == 0, "\(r.stderr)")
    /// The first number on the line starting with `prefix` after `marker`.
    func value(after prefix: String, marker: String) -> Double? {
        guard let line = r.stdout.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }),
              let range = line.range(of: marker) else { return nil }
        return line[range.upperBound...].split(separator: " ").first.flatMap { Double($0) }
    }
    let measured = try #require(value(after: "growth", marker: "activations: "))
    let theory = try #require(value(after: "theory", marker: "ln ρ(F) = "))
    #expect(abs(measured - theory) / theory < 0.02, "engine \(measured) vs theory \(theory)")
    let rows = try String(contentsOf: dir.appendingPathComponent("metrics.csv"), encoding: .utf8).split(separator: "\n")
    #expect(rows.count > 100 && !rows.contains { $0.lowercased().contains("nan") || $0.lowercased().contains("inf") })
}

/// An elastic restart: `--resume DIR --workers P′` from p = 4 to 2 and back. The resume itself changes nothing it
/// keeps (the center and the kept workers' parameters bit for bit, checked with a resume that takes no step), new
/// workers start from the center, α = β/p follows p, and the records' steps go on from where the run was while
/// their worker_steps say where p changed; training continues at each p.
@Test func anElasticRestartChangesTheWorkersAndKeepsTheCenter() throws {
    let dir = try temporaryDirectory().appendingPathComponent("run")
    let r = try easgd(["train", "--method", "easgd", "--tau", "2", "--lr", "0.02", "--net", learnNet, "--batch", "16",
                       "--eval-every", "40", "--backend", "simulated", "--compute-seconds", "0.01", "--quiet",
                       "--data", try smallFashionMNIST.get().path, "--workers", "4", "--steps", "20", "--out", dir.path])
    #expect(r.status == 0, "\(r.stderr)")
    func system() throws -> (clocks: [Int], buffers: [String: [UInt32]]) {
        let c = try Checkpoint.read(RunFiles.checkpoint(dir.path), as: SystemProbe.self)
        return (c.state.workers.map(\.clock), c.buffers.mapValues { $0.map(\.bitPattern) })
    }
    func alpha() throws -> Double {
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: RunFiles.config(dir.path)))) as? [String: Any]
        let settings = config?["settings"] as? [String: Any]
        return try #require((settings?["alpha"] as? NSNumber)?.doubleValue)
    }
    func resume(_ extra: [String]) throws {
        let r = try easgd(["train", "--resume", dir.path, "--quiet"] + extra)
        #expect(r.status == 0, "\(r.stderr)")
    }
    let four = try system()
    try resume(["--workers", "2", "--steps", "20"])           // p = 4 → 2, no step taken
    let two = try system()
    #expect(two.clocks == [20, 20] && two.buffers["w2.x"] == nil)
    #expect(two.buffers["center"] == four.buffers["center"] && two.buffers["w0.x"] == four.buffers["w0.x"]
            && two.buffers["w1.x"] == four.buffers["w1.x"])
    #expect(abs(try alpha() - 0.45) < 1e-12)
    try resume(["--steps", "40"])                              // training goes on at p = 2
    let trained = try system()
    #expect(trained.clocks == [40, 40] && trained.buffers["center"] != two.buffers["center"])
    try resume(["--workers", "4", "--steps", "40"])            // p = 2 → 4, no step taken
    let back = try system()
    #expect(back.clocks == [40, 40, 40, 40] && back.buffers["center"] == trained.buffers["center"])
    #expect(back.buffers["w2.x"] == back.buffers["center"] && back.buffers["w3.x"] == back.buffers["center"])
    #expect(abs(try alpha() - 0.225) < 1e-12)
    try resume(["--steps", "60"])
    #expect(try system().clocks == [60, 60, 60, 60])
    let records = try RunFiles.readMetrics(dir.path)
    let steps = records.map(\.step), widths = records.map { $0.workerSteps?.count ?? 0 }
    #expect(zip(steps, steps.dropFirst()).allSatisfy { $0 < $1 }, "steps \(steps)")
    #expect(steps.last == 80 + 40 + 80 && widths.first == 4 && widths.contains(2) && widths.last == 4, "\(steps) \(widths)")
    #expect(records.allSatisfy { $0.testError.isFinite } && records.last!.testError < records.first!.testError - 0.1)
    // A given α stays whatever p becomes.
    let given = try temporaryDirectory().appendingPathComponent("given")
    #expect(try easgd(["train", "--method", "easgd", "--alpha", "0.1", "--lr", "0.02", "--net", learnNet, "--batch", "16",
                       "--backend", "simulated", "--compute-seconds", "0.01", "--quiet", "--data", try smallFashionMNIST.get().path,
                       "--workers", "2", "--steps", "4", "--out", given.path]).status == 0)
    #expect(try easgd(["train", "--resume", given.path, "--workers", "3", "--steps", "4", "--quiet"]).status == 0)
    let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: RunFiles.config(given.path)))) as? [String: Any]
    let settings = config?["settings"] as? [String: Any]
    #expect((settings?["alpha"] as? NSNumber)?.doubleValue == 0.1 && (settings?["workers"] as? NSNumber)?.intValue == 3)
}

/// A threads run evaluates at the scheduled worker-step counts whatever the threads' timing: two seeds of p = 2 ×
/// 200 steps evaluated every 50 give records at 0, 50, …, 400 (8 evaluations and the start), so `--group-seeds` keeps
/// them all, and the sharpness falls on its own multiples (was 0 50 206 389 400 with one seed, 0 50 213 384 400 with
/// another). Each record's step is the sum of its workers' clocks.
@Test func twoSeedsOfAThreadsRunEvaluateAtTheSameSteps() throws {
    let root = try temporaryDirectory()
    var schedules: [[Int]] = []
    for seed in ["1", "2"] {
        let dir = root.appendingPathComponent("seed\(seed)")
        let r = try easgd(["train", "--backend", "threads", "--method", "easgd", "--workers", "2", "--lr", "0.05", "--net", learnNet,
                           "--batch", "16", "--steps", "200", "--eval-every", "50", "--sharpness-every", "120", "--seed", seed,
                           "--data", try smallFashionMNIST.get().path, "--quiet", "--out", dir.path])
        #expect(r.status == 0, "\(r.stderr)")
        let records = try RunFiles.readMetrics(dir.path)
        #expect(records.allSatisfy { $0.step == ($0.workerSteps ?? []).reduce(0, +) }, "\(records.map(\.step))")
        #expect(records.filter { $0.sharpness != nil }.map(\.step) == [0, 120, 240, 360], "\(records.map(\.step))")
        #expect(zip(records, records.dropFirst()).allSatisfy { $0.seconds <= $1.seconds })
        schedules.append(records.map(\.step))
    }
    #expect(schedules[0] == [0, 50, 100, 120, 150, 200, 240, 250, 300, 350, 360, 400] && schedules[1] == schedules[0], "\(schedules)")
}
