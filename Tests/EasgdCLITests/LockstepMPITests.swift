// MPI's lockstep (issue 34): sync-EASGD and DiLoCo with each worker on a rank of its own and rank 0 holding the
// round compute what the simulator computes, bit for bit (center, outer velocity, the delayed pseudo-gradient,
// every worker's parameters, velocity, residual and clock) — with inner momentum reset or kept, a delayed outer
// step, compressed pseudo-gradients with error feedback and compressed replies (issue 35), a final partial round, checkpoints every few milliseconds and a run split and resumed under MPI; a signal to a
// worker rank stops every rank at a round, from which the run resumes to the same system; and with the center in
// shards (--servers S), each server stepping its slice once every shard has said it can take the round.

import CommandTesting
import Foundation
import Testing
import Training

private func lockstep(_ method: [String], steps: Int) -> [String] {
    ["train"] + method + ["--lr", "0.02", "--net", learnNet, "--batch", "16", "--eval-every", "20", "--steps", "\(steps)", "--quiet"]
}

private let simulated = ["--workers", "2", "--backend", "simulated", "--compute-seconds", "0.01"]

private let variants: [[String]] = [
    ["--method", "diloco", "--tau", "5", "--outer", "nesterov", "--outer-lr", "0.7", "--outer-momentum", "0.9", "--inner-momentum", "0.5"],
    ["--method", "diloco", "--tau", "4", "--outer", "heavy-ball", "--outer-lr", "0.5", "--outer-momentum", "0.5", "--outer-delay", "1",
     "--inner-momentum", "0.5", "--keep-inner-velocity"],
    ["--method", "sync-easgd", "--tau", "3", "--alpha", "0.2"],
    // Compressed pseudo-gradients: each worker's x̃ − x_i as the codec's bytes on the wire (rank 0 tells it the
    // center at the start), int4 with stochastic rounding and error feedback.
    ["--method", "diloco", "--tau", "5", "--compress", "int4", "--compress-block", "100", "--compress-rounding", "stochastic", "--error-feedback"],
    // A compressed reply too: rank 0 answers each round with the codec's bytes of x̃ − r, encoded on its copy of the
    // worker with the worker's own coins (int4 stochastic), and pseudo-gradients in int8.
    ["--method", "diloco", "--tau", "5", "--compress", "int8", "--compress-reply", "int4", "--compress-block", "100", "--compress-rounding", "stochastic"],
]

@Test(.enabled(if: mpirun != nil), arguments: variants.indices)
func aLockstepMPIRunComputesWhatTheSimulatorComputes(variant: Int) throws {
    // 33 steps: six whole rounds of DiLoCo's 5 and a partial seventh, which leaves the workers off the center.
    let root = try temporaryDirectory()
    let sim = root.appendingPathComponent("simulated"), mpi = root.appendingPathComponent("mpi")
    let s = try easgd(lockstep(variants[variant], steps: 33) + simulated + ["--out", sim.path])
    #expect(s.status == 0, "\(s.stderr)")
    let m = try mpiRun(3, lockstep(variants[variant], steps: 33) + ["--backend", "mpi", "--out", mpi.path])
    #expect(m.status == 0, "\(m.stderr)")
    try expectSameSystem(sim, mpi)
    let state = try Checkpoint.read(RunFiles.checkpoint(mpi.path), as: SystemProbe.self)
    let tau = Int(variants[variant][3])!
    #expect(state.state.workers.map(\.exchanges) == [33 / tau, 33 / tau], "one exchange per round (sync-EASGD's at steps 0, 3, …, 30)")
    let records = try RunFiles.readMetrics(mpi.path), reference = try RunFiles.readMetrics(sim.path)
    #expect(records.last?.testLoss == reference.last?.testLoss, "the final evaluation is of the same center")
}

@Test(.enabled(if: mpirun != nil), arguments: [0, 2, 3, 4])
func aLockstepMPIRunPausesAtRoundsAndResumesBitForBit(variant: Int) throws {
    // Checkpoints every 12 ms (each a pause of every rank at a round) and a stop at 17 steps, mid-round; resumed
    // under MPI to 33: the straight simulated run's system.
    let root = try temporaryDirectory()
    let sim = root.appendingPathComponent("simulated"), mpi = root.appendingPathComponent("mpi")
    let s = try easgd(lockstep(variants[variant], steps: 33) + simulated + ["--out", sim.path])
    #expect(s.status == 0, "\(s.stderr)")
    let first = try mpiRun(3, lockstep(variants[variant], steps: 17) + ["--backend", "mpi", "--checkpoint-every", "0.0002", "--out", mpi.path])
    #expect(first.status == 0, "\(first.stderr)")
    let again = try mpiRun(3, ["train", "--resume", mpi.path, "--steps", "33", "--quiet"])      // its checkpoints still every 12 ms
    #expect(again.status == 0, "\(again.stderr)")
    try expectSameSystem(sim, mpi)
}

/// The rank a signal or a stop is sent to: worker 1 of an unsharded run (rank 2), or server 1 of a run on two servers
/// (rank 1, which keeps serving its slice of the rounds).
struct LockstepTarget: Sendable, CustomTestStringConvertible {
    var servers: Int
    var rank: Int
    var name: String
    var testDescription: String { name }
    var ranks: Int { servers + 2 }
    var options: [String] { servers > 1 ? ["--servers", "\(servers)"] : [] }
    static let worker = LockstepTarget(servers: 1, rank: 2, name: "rank 2 (worker 1)")
    static let server = LockstepTarget(servers: 2, rank: 1, name: "rank 1 (server 1)")
}

@Test(.enabled(if: mpirun != nil), arguments: [LockstepTarget.worker, .server])
func aSignalToALockstepRankStopsEveryRankAtARound(target: LockstepTarget) throws {
    let root = try temporaryDirectory()
    let dir = root.appendingPathComponent("run"), log = root.appendingPathComponent("log")
    let method = variants[0]
    let process = try launch(lockstep(method, steps: 1_000_000) + ["--backend", "mpi"] + target.options + ["--out", dir.path],
                             ranks: target.ranks, log: log)
    try waitForRecords(3, in: dir)
    let rank = try #require(mpiRank(target.rank, of: process.processIdentifier))
    let signalled = Date()
    kill(rank, SIGTERM)
    process.waitUntilExit()
    let message = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    #expect(process.terminationStatus != 0 && message.contains("\(target.name) received signal \(SIGTERM)"), "\(message)")
    #expect(Date().timeIntervalSince(signalled) < 30, "the stop took \(Date().timeIntervalSince(signalled)) s")
    #expect(try RunFiles.readStatus(dir.path)?.state == .interrupted)
    if target.servers > 1 {
        #expect(process.terminationStatus == 128 + SIGTERM)
        #expect(try RunFiles.readStatus(dir.path) == RunStatus(.interrupted, reason: "signal 15"))
    }
    // Both workers stopped at the same round (a multiple of τ = 5), and the run goes on from there (on as many
    // servers) to the system of a straight run.
    let saved = try Checkpoint.read(RunFiles.checkpoint(dir.path), as: SystemProbe.self).state
    let clocks = saved.workers.map(\.clock)
    #expect(clocks.count == 2 && clocks[0] == clocks[1] && clocks[0] % 5 == 0 && clocks[0] > 0, "\(clocks)")
    let steps = clocks[0] + 8
    let resumed = try mpiRun(target.ranks, ["train", "--resume", dir.path] + target.options + ["--steps", "\(steps)", "--quiet"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    let straight = root.appendingPathComponent("straight")
    let s = try easgd(lockstep(method, steps: steps) + simulated + ["--out", straight.path])
    #expect(s.status == 0, "\(s.stderr)")
    try expectSameSystem(straight, dir)
}

@Test(.enabled(if: mpirun != nil), arguments: variants.indices)
func aShardedLockstepRunComputesWhatTheSimulatorComputes(variant: Int) throws {
    // --servers 2: each worker's round goes out as two slices, each server steps its own (outer momentum, the delayed
    // pseudo-gradient, a compressed pseudo-gradient and reply encoded slice by slice, each slice's coins its own)
    // once rank 0 has every shard's verdict; the simulator, told of two servers, encodes in the same two slices.
    let root = try temporaryDirectory()
    let sim = root.appendingPathComponent("simulated"), mpi = root.appendingPathComponent("mpi")
    let links = ["--servers", "2", "--link-latency", "0.001", "--link-bandwidth", "1e8"]
    let s = try easgd(lockstep(variants[variant], steps: 33) + simulated + links + ["--out", sim.path])
    #expect(s.status == 0, "\(s.stderr)")
    let m = try mpiRun(4, lockstep(variants[variant], steps: 33) + ["--backend", "mpi", "--servers", "2", "--out", mpi.path])
    #expect(m.status == 0, "\(m.stderr)")
    try expectSameSystem(sim, mpi)
    let records = try RunFiles.readMetrics(mpi.path), reference = try RunFiles.readMetrics(sim.path)
    #expect(records.last?.testLoss == reference.last?.testLoss, "the final evaluation is of the same center")
    guard variant == 0 else { return }
    // MPI's lockstep evaluates at the round that reaches each evaluation's step: the unsharded MPI run's evaluations,
    // each of the center gathered from both shards here.
    let whole = root.appendingPathComponent("one-server")
    let o = try mpiRun(3, lockstep(variants[variant], steps: 33) + ["--backend", "mpi", "--out", whole.path])
    #expect(o.status == 0, "\(o.stderr)")
    let unsharded = try RunFiles.readMetrics(whole.path)
    #expect(records.count > 2 && records.map(\.testLoss) == unsharded.map(\.testLoss) && records.map(\.step) == unsharded.map(\.step),
            "\(records.map(\.step)) \(unsharded.map(\.step))")
}

@Test(.enabled(if: mpirun != nil))
func aShardedLockstepRunPausesResumesAndReshards() throws {
    // DiLoCo with heavy-ball outer momentum and a delayed outer step (both held in shards): checkpoints every 12 ms
    // with two servers (each a gather at a round), stopped mid-round at 17 steps, resumed on three servers to 25 and
    // on one to 33: the straight simulated run's system (uncompressed, so the number of slices does not matter).
    let root = try temporaryDirectory()
    let sim = root.appendingPathComponent("simulated"), mpi = root.appendingPathComponent("mpi")
    let s = try easgd(lockstep(variants[1], steps: 33) + simulated + ["--out", sim.path])
    #expect(s.status == 0, "\(s.stderr)")
    let first = try mpiRun(4, lockstep(variants[1], steps: 17) + ["--backend", "mpi", "--servers", "2", "--checkpoint-every", "0.0002", "--out", mpi.path])
    #expect(first.status == 0, "\(first.stderr)")
    let three = try mpiRun(5, ["train", "--resume", mpi.path, "--servers", "3", "--steps", "25", "--quiet"])
    #expect(three.status == 0, "\(three.stderr)")
    let one = try mpiRun(3, ["train", "--resume", mpi.path, "--servers", "1", "--steps", "33", "--quiet"])
    #expect(one.status == 0, "\(one.stderr)")
    try expectSameSystem(sim, mpi)
}

@Test(.enabled(if: mpirun != nil), arguments: [LockstepTarget.worker, .server])
func aStoppedLockstepRankIsNamedNotOneWaitingForIt(target: LockstepTarget) throws {
    // Worker 1 stopped (SIGSTOP) while worker 0 reaches the round and waits there; or server 1 stopped while rank 0
    // waits for its verdict or the workers for its answers: the job ends within the stall limit naming the stopped
    // rank, whose silence is its own, and keeps a checkpoint of a round.
    let root = try temporaryDirectory()
    let dir = root.appendingPathComponent("run"), log = root.appendingPathComponent("log")
    let process = try launch(lockstep(variants[0], steps: 1_000_000) + ["--backend", "mpi"] + target.options
                             + ["--checkpoint-every", "0.01", "--out", dir.path],
                             ranks: target.ranks, log: log, environment: ["EASGD_STALL_SECONDS": "4"])
    try waitForRecords(2, in: dir)
    let deadline = Date().addingTimeInterval(120)
    while !FileManager.default.fileExists(atPath: RunFiles.checkpoint(dir.path)) && Date() < deadline { usleep(50_000) }
    let rank = try #require(mpiRank(target.rank, of: process.processIdentifier))
    let start = Date()
    kill(rank, SIGSTOP)
    process.waitUntilExit()
    kill(rank, SIGKILL)
    let message = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    // Worker 0 is rank 1 of an unsharded run, rank 2 on two servers: waiting at the round, it is not the one named.
    #expect(process.terminationStatus != 0 && message.contains(target.name)
            && !message.contains("rank \(target.servers) (worker 0) has sent nothing"), "\(message)")
    #expect(Date().timeIntervalSince(start) < 30, "the stall took \(Date().timeIntervalSince(start)) s to notice")
    #expect(try RunFiles.readStatus(dir.path)?.state == .interrupted)
    let saved = try Checkpoint.read(RunFiles.checkpoint(dir.path), as: SystemProbe.self).state
    #expect(Set(saved.workers.map(\.clock)).count == 1, "the checkpoint is of a round: \(saved.workers.map(\.clock))")
}
