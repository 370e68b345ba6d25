// The sharded center (`--servers S`): S ranks each serve one contiguous slice of the center. With one worker the
// order of messages is fixed, so a sharded run must compute exactly what the unsharded run and the simulator
// compute; with several workers the checkpoint is gathered consistently and resumes under any S.

import CommandTesting
import Engine
import Training
import Foundation
import Testing

/// Every master-side rule once: the elastic exchange overlapped with the gradient (EASGD), the push with the
/// master's running average (ADOWNPOUR), the look-ahead and Nesterov step with the master's velocity (MDOWNPOUR).
@Test(.enabled(if: mpirun != nil), arguments: ["easgd", "adownpour", "mdownpour", "async-diloco"])
func shardedCenterComputesWhatOneServerAndTheSimulatorCompute(method: String) throws {
    let root = try temporaryDirectory()
    let own = method == "mdownpour" ? ["--momentum", "0.5"] : ["--tau", "2"]
    let common = ["train", "--method", method, "--lr", "0.02"] + own + ["--net", learnNet, "--batch", "16", "--steps", "30",
                                                                        "--eval-every", "10", "--quiet"]
    let simulated = root.appendingPathComponent("simulated"), one = root.appendingPathComponent("one"),
        three = root.appendingPathComponent("three")
    let s = try easgd(common + ["--workers", "1", "--backend", "simulated", "--compute-seconds", "0.01", "--out", simulated.path])
    #expect(s.status == 0, "\(s.stderr)")
    let r1 = try mpiRun(2, common + ["--backend", "mpi", "--out", one.path])
    #expect(r1.status == 0, "\(r1.stderr)")
    let r3 = try mpiRun(4, common + ["--backend", "mpi", "--servers", "3", "--out", three.path])
    #expect(r3.status == 0 && r3.stderr.contains("the center in 3 shards"), "\(r3.stderr)")
    try expectSameSystem(simulated, three)
    try expectSameSystem(one, three)
    // The evaluations on the way are of snapshots gathered from the three shards: the same models as one server's.
    let a = try RunFiles.readMetrics(one.path), b = try RunFiles.readMetrics(three.path)
    #expect(a.count >= 3 && a.map(\.step) == b.map(\.step), "\(a.map(\.step)) vs \(b.map(\.step))")
    #expect(a.map(\.testLoss) == b.map(\.testLoss) && a.map(\.trainLoss) == b.map(\.trainLoss))
}

@Test(.enabled(if: mpirun != nil))
func shardedCheckpointsResumeUnderAnyNumberOfServers() throws {
    let dir = try temporaryDirectory().appendingPathComponent("run")
    // Two workers, two shards, a checkpoint (a gather of both shards while the workers are paused) every ~120 ms.
    let first = try mpiRun(4, ["train", "--backend", "mpi", "--servers", "2", "--method", "easgd", "--tau", "2", "--lr", "0.02",
                               "--net", learnNet, "--batch", "16", "--steps", "40", "--eval-every", "20",
                               "--checkpoint-every", "0.002", "--quiet", "--out", dir.path])
    #expect(first.status == 0, "\(first.stderr)")
    let records = try RunFiles.readMetrics(dir.path)
    let start = try #require(records.first), end = try #require(records.last)
    #expect(end.step == 80 && end.exchanges == 40 && end.testError < start.testError - 0.1, "\(start.testError) → \(end.testError)")
    try expectWorkerReports(in: dir)
    // A resume under another S with nothing left to do leaves the system as it was: the shards are split anew
    // from the checkpoint and gathered back unchanged.
    let copy = dir.deletingLastPathComponent().appendingPathComponent("copy")
    try FileManager.default.copyItem(at: dir, to: copy)
    let same = try mpiRun(5, ["train", "--servers", "3", "--resume", dir.path, "--steps", "40", "--quiet"])
    #expect(same.status == 0, "\(same.stderr)")
    try expectSameSystem(copy, dir)
    // A resume keeps the run's last S unless told otherwise: without --servers it is refused, saying what would do.
    let silent = try mpiRun(3, ["train", "--resume", dir.path, "--steps", "50", "--quiet"])
    #expect(silent.status == 64 && silent.stderr.contains("ran with --servers 3") && silent.stderr.contains("mpirun -np 5"), "\(silent.stderr)")
    // Then on: one server, then four (an odd split of the vector), training going on from the same clocks.
    let one = try mpiRun(3, ["train", "--servers", "1", "--resume", dir.path, "--steps", "50", "--quiet"])
    #expect(one.stderr.contains("S = 3 → 1"), "\(one.stderr)")
    #expect(one.status == 0, "\(one.stderr)")
    let four = try mpiRun(6, ["train", "--servers", "4", "--resume", dir.path, "--steps", "60", "--quiet"])
    #expect(four.status == 0, "\(four.stderr)")
    let final = try Checkpoint.read(RunFiles.checkpoint(dir.path), as: SystemProbe.self).state
    #expect(final.workers.map(\.clock) == [60, 60] && final.workers.map(\.exchanges) == [30, 30])
    // Every change of S is in the run's config, dated, in order.
    let changes = try #require(try RunFiles.readSettings(dir.path).changes)
    #expect(changes.map { $0.servers ?? [] } == [[2, 3], [3, 1], [1, 4]] && changes.allSatisfy { $0.workers == [2, 2] }, "\(changes)")
    let all = try RunFiles.readMetrics(dir.path)
    #expect(all.last?.step == 120 && zip(all, all.dropFirst()).allSatisfy { $0.step <= $1.step }, "\(all.map(\.step))")
    try expectWorkerReports(in: dir)
}

@Test(.enabled(if: mpirun != nil))
func serversOptionIsCheckedBeforeAnythingRuns() throws {
    let dir = try temporaryDirectory().appendingPathComponent("run")
    let common = ["train", "--backend", "mpi", "--method", "easgd", "--lr", "0.02", "--net", learnNet, "--steps", "4", "--quiet"]
    // As many servers as ranks leaves no worker.
    let none = try mpiRun(2, common + ["--servers", "2", "--out", dir.path])
    #expect(none.status != 0 && none.stderr.contains("easgd: ") && none.stderr.contains("at least one worker"), "\(none.stderr)")
    #expect(!RunFiles.holdsRun(dir.path))
    // Outside mpirun the option has nothing to shard.
    let threads = try easgd(["train", "--method", "easgd", "--lr", "0.02", "--steps", "4", "--servers", "2", "--out", dir.path])
    #expect(threads.status != 0 && threads.stderr.contains("--servers applies to MPI runs"), "\(threads.stderr)")
}

/// The simulated backend's link model: with one worker nothing queues, so every exchange costs exactly the
/// latency plus 8·(n/S) bytes over the bandwidth of the larger shard; with two workers the servers' queue is part of
/// the checkpoint, so a resumed run keeps the same clock.
@Test func simulatedLinksChargeEachExchangeItsBytesAndQueue() throws {
    let root = try temporaryDirectory()
    let common = ["train", "--method", "easgd", "--tau", "2", "--lr", "0.02", "--net", learnNet, "--batch", "16",
                  "--backend", "simulated", "--compute-seconds", "0.01", "--link-bandwidth", "2e7", "--link-latency", "0.003",
                  "--servers", "3", "--eval-every", "10", "--quiet"]
    let one = root.appendingPathComponent("one")
    let r = try easgd(common + ["--workers", "1", "--steps", "20", "--out", one.path])
    #expect(r.status == 0, "\(r.stderr)")
    let n = try Checkpoint.read(RunFiles.checkpoint(one.path), as: SystemProbe.self).buffers["center"]?.count ?? 0
    let largest = (n + 2) / 3                                       // the first shard of three holds the extra entries
    let exchange = 0.003 + Double(8 * largest) / 2e7
    let last = try #require(try RunFiles.readMetrics(one.path).last)
    #expect(n > 0 && abs(last.seconds - (20 * 0.01 + 10 * exchange)) < 1e-9, "\(last.seconds) vs \(20 * 0.01 + 10 * exchange)")
    #expect(abs((last.communicationSeconds ?? -1) - 10 * exchange) < 1e-9)
    // Two workers queue at the servers; stopped halfway and resumed, the run equals a straight one.
    let straight = root.appendingPathComponent("straight"), split = root.appendingPathComponent("split")
    for (steps, dir) in [(20, straight), (11, split)] {
        let run = try easgd(common + ["--workers", "2", "--steps", "\(steps)", "--out", dir.path])
        #expect(run.status == 0, "\(run.stderr)")
    }
    let resumed = try easgd(["train", "--resume", split.path, "--steps", "20", "--quiet"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    try expectSameSystem(straight, split)
    let a = try #require(try RunFiles.readMetrics(straight.path).last), b = try #require(try RunFiles.readMetrics(split.path).last)
    #expect(a.seconds == b.seconds && a.communicationSeconds == b.communicationSeconds, "\(a.seconds) vs \(b.seconds)")
    #expect(a.seconds > 20 * 0.01 + 10 * exchange, "two workers share the servers, so some exchanges wait: \(a.seconds)")
}

/// `easgd bench exchange` under mpirun: two servers and two workers, each worker's requests all served by both
/// shards (the gather's check that the shards agree passed), and one table row with finite numbers.
@Test(.enabled(if: mpirun != nil))
func exchangeBenchServesEveryRequestOnEveryShard() throws {
    let r = try mpiRunWithStdout(4, ["bench", "exchange", "--servers", "2", "--payload", "1001", "--requests", "25"])
    #expect(r.status == 0, "\(r.stderr)")
    let row = try #require(r.stdout.split(separator: "\n").last).split(separator: " ").map(String.init)
    #expect(row.count == 10 && row[0] == "2" && row[1] == "2" && row[2] == "1001" && row[3] == "50", "\(row)")
    #expect(row[5].split(separator: "/").count == 2 && [4, 6, 7].allSatisfy { Double(row[$0]).map { $0.isFinite && $0 > 0 } == true }, "\(row)")
    #expect(row[9] == "4004", "each request's payload arrives as 1001 Float32 values over the two shards: \(row)")
    // Compressed pushes: the bytes that arrive at the servers (counted from each message's size) are int8's, slice
    // by slice: 501 + 4⌈501/100⌉ + 500 + 4⌈500/100⌉ = 1045 per request, not 4004.
    let int8 = try mpiRunWithStdout(4, ["bench", "exchange", "--servers", "2", "--payload", "1001", "--requests", "25", "--method", "downpour",
                                        "--compress", "int8", "--compress-block", "100"])
    #expect(int8.status == 0, "\(int8.stderr)")
    let compressed = try #require(int8.stdout.split(separator: "\n").last).split(separator: " ").map(String.init)
    #expect(compressed.count == 10 && compressed[9] == "1045", "\(compressed)")
    // EASGD's coded exchange: x − s arrives as int4, 501 + 4⌈1001/100⌉ = 545 bytes per request with one server,
    // and (251 + 4·6) + (250 + 4·5) = 545 over two.
    let easgdInt4 = try mpiRunWithStdout(3, ["bench", "exchange", "--payload", "1001", "--requests", "25", "--method", "easgd",
                                             "--compress", "int4", "--compress-block", "100"])
    #expect(easgdInt4.status == 0, "\(easgdInt4.stderr)")
    let coded = try #require(easgdInt4.stdout.split(separator: "\n").last).split(separator: " ").map(String.init)
    #expect(coded.count == 10 && coded[9] == "545", "\(coded)")
    let sharded = try mpiRunWithStdout(4, ["bench", "exchange", "--servers", "2", "--payload", "1001", "--requests", "25", "--method", "easgd",
                                           "--compress", "int4", "--compress-block", "100"])
    #expect(sharded.status == 0, "\(sharded.stderr)")
    let codedSharded = try #require(sharded.stdout.split(separator: "\n").last).split(separator: " ").map(String.init)
    #expect(codedSharded.count == 10 && codedSharded[0] == "2" && codedSharded[9] == "545", "\(codedSharded)")
    let outside = try easgd(["bench", "exchange"])
    #expect(outside.status == 64 && outside.stderr.contains("run under mpirun"), "\(outside.stderr)")
}

/// `easgd arguments` under `mpirun -np ranks`, with its standard output.
func mpiRunWithStdout(_ ranks: Int, _ arguments: [String]) throws -> Run {
    try run(URL(fileURLWithPath: mpirun!), ["--oversubscribe", "-np", "\(ranks)", easgdBinary.path] + arguments,
            environment: ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"])
}

/// A stopped server rank is found and named, in every phase: mid-run (its workers fall silent waiting on it, and the
/// servers are asked before a worker is blamed) and with a signal to rank 0 meanwhile (the job ends within the
/// 10 s after a signal, whatever rank 0 was waiting for); the last checkpoint stays and the run resumes.
@Test(.enabled(if: mpirun != nil))
func aStoppedServerRankIsNamedAndTheRunResumes() throws {
    let root = try temporaryDirectory()
    let dir = root.appendingPathComponent("run"), log = root.appendingPathComponent("log")
    let common = ["train", "--backend", "mpi", "--servers", "2", "--method", "easgd", "--lr", "0.02", "--net", learnNet, "--batch", "16",
                  "--steps", "1000000", "--eval-every", "40", "--checkpoint-every", "0.005", "--quiet"]
    // Stall limit 4 s: the job ends on its own.
    let process = try launch(common + ["--out", dir.path], ranks: 4, log: log, environment: ["EASGD_STALL_SECONDS": "4"])
    try waitForRecords(2, in: dir)
    let deadline = Date().addingTimeInterval(120)
    while !FileManager.default.fileExists(atPath: RunFiles.checkpoint(dir.path)) && Date() < deadline { usleep(50_000) }
    let server = try #require(mpiRank(1, of: process.processIdentifier))
    let start = Date()
    kill(server, SIGSTOP)
    process.waitUntilExit()
    kill(server, SIGKILL)
    let message = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    #expect(process.terminationStatus != 0 && message.contains("rank 1 (server 1)") && !message.contains("easgd (rank 0): rank 2 (worker 0) has sent nothing"), "\(message)")
    #expect(Date().timeIntervalSince(start) < 40, "the stall took \(Date().timeIntervalSince(start)) s to notice")
    let status = try RunFiles.readStatus(dir.path)
    #expect(status?.state == .interrupted && (status?.reason ?? "").contains("rank 1 (server 1)"), "\(String(describing: status))")

    // Default stall limit (300 s): a SIGTERM to rank 0 while the server is stopped ends the job within the 10 s
    // after a signal, naming the server.
    let checkpointed = try FileManager.default.attributesOfItem(atPath: RunFiles.checkpoint(dir.path))[.modificationDate] as? Date
    let log2 = root.appendingPathComponent("log2")
    let again = try launch(["train", "--resume", dir.path, "--servers", "2", "--quiet"], ranks: 4, log: log2)
    let resumed = Date().addingTimeInterval(120)
    while Date() < resumed, (try? FileManager.default.attributesOfItem(atPath: RunFiles.checkpoint(dir.path))[.modificationDate] as? Date) == checkpointed {
        usleep(50_000)
    }
    let stopped = try #require(mpiRank(1, of: again.processIdentifier))
    kill(stopped, SIGSTOP)
    usleep(500_000)
    let rankZero = try #require(mpiRank(0, of: again.processIdentifier))
    let signalled = Date()
    kill(rankZero, SIGTERM)
    again.waitUntilExit()
    kill(stopped, SIGKILL)
    let said = (try? String(contentsOf: log2, encoding: .utf8)) ?? ""
    #expect(again.terminationStatus != 0 && said.contains("rank 1 (server 1)") && said.contains("after the signal"), "\(said)")
    #expect(Date().timeIntervalSince(signalled) < 30, "rank 0 took \(Date().timeIntervalSince(signalled)) s to end after SIGTERM")
    // The last checkpoint is whole: the run resumes from it.
    let finish = try mpiRun(4, ["train", "--resume", dir.path, "--servers", "2", "--steps", "1", "--quiet"])
    #expect(finish.status == 0, "\(finish.stderr)")
}

/// A signal to a server rank stops the whole system at a checkpoint, as one to a worker does (it was ignored, and
/// the run went on to exit 0).
@Test(.enabled(if: mpirun != nil))
func aSignalToAServerRankStopsTheRunAtACheckpoint() throws {
    let root = try temporaryDirectory()
    let dir = root.appendingPathComponent("run"), log = root.appendingPathComponent("log")
    let process = try launch(["train", "--backend", "mpi", "--servers", "2", "--method", "easgd", "--lr", "0.02", "--net", learnNet,
                              "--batch", "16", "--steps", "1000000", "--eval-every", "40", "--quiet", "--out", dir.path], ranks: 4, log: log)
    try waitForRecords(2, in: dir)
    let server = try #require(mpiRank(1, of: process.processIdentifier))
    kill(server, SIGTERM)
    process.waitUntilExit()
    let message = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    #expect(process.terminationStatus == 128 + SIGTERM && message.contains("rank 1 (server 1) received signal 15"), "\(message)")
    #expect(try RunFiles.readStatus(dir.path) == RunStatus(.interrupted, reason: "signal 15"))
    #expect(FileManager.default.fileExists(atPath: RunFiles.checkpoint(dir.path)))
}
