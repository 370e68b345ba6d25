// Compressed updates in training runs (issue 35): the master sees what the codec decodes, on every backend alike
// (one-worker MPI equals the simulator bit for bit with compression, stochastic rounding and error feedback on, with
// one server and with two, where MPI carries each server its slice's encoded bytes);
// the worker's residual is part of the checkpointed state; every record counts the codec's bytes; what cannot be
// compressed is refused in one line.

import CommandTesting
import Elastic
import Foundation
import Testing
import Training

private let common = ["train", "--method", "downpour", "--tau", "2", "--lr", "0.02", "--net", learnNet, "--batch", "16",
                      "--eval-every", "20", "--compress", "int8", "--compress-block", "100", "--compress-rounding", "stochastic",
                      "--error-feedback", "--quiet"]

@Test func aCompressedRunCountsItsBytesAndResumesBitForBit() throws {
    let root = try temporaryDirectory()
    let straight = root.appendingPathComponent("straight"), split = root.appendingPathComponent("split")
    let sim = ["--workers", "2", "--backend", "simulated", "--compute-seconds", "0.01"]
    for (steps, dir) in [(40, straight), (15, split)] {
        let r = try easgd(common + sim + ["--steps", "\(steps)", "--out", dir.path])
        #expect(r.status == 0, "\(r.stderr)")
    }
    let resumed = try easgd(["train", "--resume", split.path, "--steps", "40", "--quiet"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    try expectSameSystem(straight, split)
    // Continued past its budget (30 worker steps in all, a record at the end), the run evaluates every 20 steps
    // from step 0 as the straight run does, not from its budget's end.
    let straightSteps = try RunFiles.readMetrics(straight.path).map(\.step), splitSteps = try RunFiles.readMetrics(split.path).map(\.step)
    #expect(straightSteps == [0, 20, 40, 60, 80] && splitSteps == [0, 20, 30, 40, 60, 80], "\(straightSteps) \(splitSteps)")
    let probe = try Checkpoint.read(RunFiles.checkpoint(straight.path), as: SystemProbe.self)
    #expect(probe.buffers["w0.residual"]?.contains { $0 != 0 } == true, "the residual is kept and not empty")
    // Bytes: every exchange sends n values through int8 (a byte each and a Float32 scale per block of 100:
    // n + 4⌈n/100⌉ bytes) and receives n Float32.
    let n = try #require(probe.buffers["center"]?.count)
    let message = n + 4 * ((n + 99) / 100)
    for r in try RunFiles.readMetrics(straight.path) {
        let exchanges = try #require(r.exchanges)
        #expect(r.bytesSent == exchanges * message && r.bytesReceived == exchanges * 4 * n)
    }
    let csv = try String(contentsOfFile: RunFiles.metricsCSV(straight.path), encoding: .utf8)
    #expect(csv.split(separator: "\n").first?.hasSuffix("bytes_sent,bytes_received") == true)
    let config = try String(contentsOfFile: straight.path + "/config.json", encoding: .utf8)
    #expect(config.contains("\"compression\"") && config.contains("\"error_feedback\" : true") && config.contains("\"block_size\" : 100"), "\(config)")
}

@Test(.enabled(if: mpirun != nil))
func aCompressedMPIRunComputesWhatTheSimulatorComputes() throws {
    let root = try temporaryDirectory()
    let simulated = root.appendingPathComponent("simulated"), mpi = root.appendingPathComponent("mpi")
    let s = try easgd(common + ["--workers", "1", "--backend", "simulated", "--compute-seconds", "0.01", "--steps", "30", "--out", simulated.path])
    #expect(s.status == 0, "\(s.stderr)")
    let m = try mpiRun(2, common + ["--backend", "mpi", "--steps", "30", "--out", mpi.path])
    #expect(m.status == 0, "\(m.stderr)")
    try expectSameSystem(simulated, mpi)
}

@Test(.enabled(if: mpirun != nil))
func anMPIRunWithCompressedRepliesComputesWhatTheSimulatorComputes() throws {
    // The reply as the codec's bytes on the wire (int4, stochastic rounding, blocks of 100), decoded by the worker
    // into its reference: the same system as the simulator's, where the worker codes the center it is handed.
    let root = try temporaryDirectory()
    let simulated = root.appendingPathComponent("simulated"), mpi = root.appendingPathComponent("mpi")
    let reply = ["--compress-reply", "int4"]
    let s = try easgd(common + reply + ["--workers", "1", "--backend", "simulated", "--compute-seconds", "0.01", "--steps", "30",
                                        "--out", simulated.path])
    #expect(s.status == 0, "\(s.stderr)")
    let m = try mpiRun(2, common + reply + ["--backend", "mpi", "--steps", "30", "--out", mpi.path])
    #expect(m.status == 0, "\(m.stderr)")
    try expectSameSystem(simulated, mpi)
    let probe = try Checkpoint.read(RunFiles.checkpoint(mpi.path), as: SystemProbe.self)
    let reference = try #require(probe.buffers["w0.reply"]), center = try #require(probe.buffers["center"])
    #expect(reference.count == center.count && reference != center, "int4 replies leave the reference off the center")
    // A sharded center's replies: each server encodes its slice with coins of its own, the worker decodes each into
    // its slice of r; the simulator's link model with two servers codes the same slices. Run in two parts under MPI
    // (the second starts the servers from the checkpoint's references, which are off the center): the same system.
    let simulated2 = root.appendingPathComponent("simulated-2"), sharded = root.appendingPathComponent("sharded")
    let s2 = try easgd(common + reply + ["--workers", "1", "--backend", "simulated", "--compute-seconds", "0.01", "--servers", "2",
                                         "--link-bandwidth", "1e9", "--steps", "30", "--out", simulated2.path])
    #expect(s2.status == 0, "\(s2.stderr)")
    let first = try mpiRun(3, common + reply + ["--backend", "mpi", "--servers", "2", "--steps", "13", "--out", sharded.path])
    #expect(first.status == 0, "\(first.stderr)")
    let rest = try mpiRun(3, ["train", "--resume", sharded.path, "--servers", "2", "--steps", "30", "--quiet"])
    #expect(rest.status == 0, "\(rest.stderr)")
    try expectSameSystem(simulated2, sharded)
}

@Test(.enabled(if: mpirun != nil))
func aShardedCompressedMPIRunSendsEachServerItsSliceEncoded() throws {
    // Two servers: the worker encodes its update slice by slice (the blocks of 100 restart at the slice boundary,
    // which no block boundary meets), MPI carries each slice's bytes to its server, which decodes them; the
    // simulator with the link model's two servers encodes the same slices: the same system bit for bit, and both
    // count n + 4(⌈n₀/100⌉ + ⌈n₁/100⌉) bytes per exchange.
    let root = try temporaryDirectory()
    let simulated = root.appendingPathComponent("simulated"), mpi = root.appendingPathComponent("mpi")
    let s = try easgd(common + ["--workers", "1", "--backend", "simulated", "--compute-seconds", "0.01", "--servers", "2",
                                "--link-bandwidth", "1e9", "--steps", "30", "--out", simulated.path])
    #expect(s.status == 0, "\(s.stderr)")
    let m = try mpiRun(3, common + ["--backend", "mpi", "--servers", "2", "--steps", "30", "--out", mpi.path])
    #expect(m.status == 0, "\(m.stderr)")
    try expectSameSystem(simulated, mpi)
    let probe = try Checkpoint.read(RunFiles.checkpoint(mpi.path), as: SystemProbe.self)
    let n = try #require(probe.buffers["center"]?.count)
    let n0 = (n + 1) / 2, n1 = n / 2                     // the shard layout's split
    #expect(n0 % 100 != 0, "the slice boundary falls inside a block of the unsliced message")
    let message = n + 4 * ((n0 + 99) / 100 + (n1 + 99) / 100)
    for dir in [simulated, mpi] {
        for r in try RunFiles.readMetrics(dir.path) {
            let exchanges = try #require(r.exchanges)
            #expect(r.bytesSent == exchanges * message, "\(dir.lastPathComponent)")
        }
    }
}

@Test(arguments: [
    (["--method", "mdownpour", "--compress", "int8"], "--compress applies to what a worker sends (easgd, eamsgd, downpour"),
    (["--method", "sync-easgd", "--compress", "int8"], "--compress applies to what a worker sends"),
    (["--method", "easgd", "--compress", "int8", "--error-feedback"], "easgd's coded exchange sends x − s"),
    (["--method", "downpour", "--error-feedback"], "--error-feedback needs --compress FORMAT"),
    (["--method", "downpour", "--compress", "none", "--error-feedback"], "--error-feedback needs --compress FORMAT"),
    (["--method", "downpour", "--compress", "int8", "--compress-block", "0"], "--compress-block"),
    (["--method", "downpour", "--compress", "int9"], "int9"),
    (["--method", "downpour", "--compress-block", "64"], "--compress-block needs --compress FORMAT or --compress-reply FORMAT"),
    (["--method", "easgd", "--compress-reply", "int8"], "--compress-reply applies where the master answers with the center"),
    (["--method", "mdownpour", "--compress-reply", "fp16"], "--compress-reply applies where the master answers with the center"),
    (["--method", "downpour", "--compress-reply", "int8", "--compress-block", "0"], "--compress-block"),
])
func badCompressionIsRefused(arguments: [String], message: String) throws {
    let r = try easgd(["train", "--lr", "0.1", "--steps", "3", "--out", "/tmp/never-written"] + arguments)
    #expect(r.status == 64 && r.stderr.contains(message), "\(r.status) \(r.stderr)")
}

@Test func runsThatDifferOnlyInTheirCodecAreNotSeedsOfOneSetting() throws {
    let root = try temporaryDirectory()
    let base = ["train", "--method", "downpour", "--workers", "2", "--tau", "2", "--lr", "0.02", "--net", learnNet, "--batch", "16",
                "--steps", "4", "--backend", "simulated", "--compute-seconds", "0.01", "--quiet"]
    for (name, extra) in [("plain", [String]()), ("int8", ["--compress", "int8"]), ("int8ef", ["--compress", "int8", "--error-feedback"])] {
        let r = try easgd(base + extra + ["--out", root.appendingPathComponent(name).path])
        #expect(r.status == 0, "\(r.stderr)")
    }
    let grouped = try easgd(["runs", root.path, "--group-seeds", "--json"])
    #expect(grouped.status == 0, "\(grouped.stderr)")
    let groups = try #require(try JSONSerialization.jsonObject(with: Data(grouped.stdout.utf8)) as? [[String: Any]])
    #expect(groups.count == 3, "\(grouped.stdout)")
    #expect(Set(groups.compactMap { $0["compress"] as? String }) == ["none", "int8"])
    let table = try easgd(["runs", root.path])
    #expect(table.stdout.contains("downpour int8+ef") && table.stdout.contains("downpour int8 "), "\(table.stdout)")
}

/// A compressed reply counts its bytes (int8: n + 4⌈n/256⌉ per exchange) in bytes_received, bytes_sent stays Float32,
/// `runs` names it, and a run that differs only in it is not a seed of the plain run's setting.
@Test func aCompressedReplyCountsItsBytesAndIsItsOwnSetting() throws {
    let root = try temporaryDirectory()
    let base = ["train", "--method", "downpour", "--workers", "2", "--tau", "2", "--lr", "0.02", "--net", learnNet, "--batch", "16",
                "--steps", "8", "--eval-every", "8", "--backend", "simulated", "--compute-seconds", "0.01", "--quiet"]
    for (name, extra) in [("plain", [String]()), ("reply", ["--compress-reply", "int8"])] {
        let r = try easgd(base + extra + ["--data", try smallFashionMNIST.get().path, "--out", root.appendingPathComponent(name).path])
        #expect(r.status == 0, "\(r.stderr)")
    }
    // The learning net's parameters: 5×5 kernels 1 → 8 and biases, 8·12·12 → 64, 64 → 10.
    let n = (25 * 8 + 8) + (8 * 12 * 12 * 64 + 64) + (64 * 10 + 10)
    let records = try RunFiles.readMetrics(root.appendingPathComponent("reply").path)
    for r in records {
        let exchanges = try #require(r.exchanges)
        #expect(r.bytesSent == exchanges * 4 * n && r.bytesReceived == exchanges * (n + 4 * ((n + 255) / 256)), "\(r.bytesSent ?? -1) \(r.bytesReceived ?? -1) for \(exchanges)")
    }
    let grouped = try jsonArray(try easgd(["runs", root.path, "--group-seeds", "--json"]).stdout)
    #expect(grouped.count == 2 && Set(grouped.compactMap { $0["compress_reply"] as? String }) == ["none", "int8"], "\(grouped)")
    #expect(try easgd(["runs", root.path]).stdout.contains("downpour reply-int8"))
}

// EASGD's coded exchange (x − s through the codec, the elastic difference back in Float32): the same system on
// one-worker MPI as in the simulator (the codec's bytes on MPI's wire, the master's copy of s on rank 0, or its
// slices on two servers), a run split and resumed bit for bit with s in the checkpoint, the codec's bytes in every
// record, and what it does not take refused in one line.
private let coded = ["train", "--tau", "2", "--lr", "0.02", "--net", learnNet, "--batch", "16", "--eval-every", "20",
                     "--compress", "int4", "--compress-block", "100", "--compress-rounding", "stochastic", "--quiet"]

@Test(.enabled(if: mpirun != nil), arguments: ["easgd", "eamsgd"])
func aCodedEASGDExchangeOnMPIComputesWhatTheSimulatorComputes(method: String) throws {
    let root = try temporaryDirectory()
    let simulated = root.appendingPathComponent("simulated"), mpi = root.appendingPathComponent("mpi")
    let s = try easgd(coded + ["--method", method, "--workers", "1", "--backend", "simulated", "--compute-seconds", "0.01", "--steps", "30",
                               "--out", simulated.path])
    #expect(s.status == 0, "\(s.stderr)")
    let m = try mpiRun(2, coded + ["--method", method, "--backend", "mpi", "--steps", "30", "--out", mpi.path])
    #expect(m.status == 0, "\(m.stderr)")
    try expectSameSystem(simulated, mpi)
    let probe = try Checkpoint.read(RunFiles.checkpoint(mpi.path), as: SystemProbe.self)
    let sent = try #require(probe.buffers["w0.sent"]), x = try #require(probe.buffers["w0.x"]), n = sent.count
    #expect(n == x.count && sent != x, "int4 leaves what the master knows of x off x")
    // Every exchange sends the codec's bytes (n/2 and a Float32 scale per block of 100) and receives d in Float32.
    for r in try RunFiles.readMetrics(mpi.path) {
        let exchanges = try #require(r.exchanges)
        #expect(r.bytesSent == exchanges * ((n + 1) / 2 + 4 * ((n + 99) / 100)) && r.bytesReceived == exchanges * 4 * n)
    }
}

@Test(.enabled(if: mpirun != nil))
func aCodedEASGDExchangeToTwoServersComputesWhatTheSimulatorComputes() throws {
    // Each server decodes its slice of x − s into its slice of the master's copy of s and answers its slice of d;
    // the simulator's link model with two servers codes the same slices. Split in two under MPI (the second part
    // starts the servers from the checkpoint's s): the same system bit for bit.
    let root = try temporaryDirectory()
    let simulated = root.appendingPathComponent("simulated"), mpi = root.appendingPathComponent("mpi")
    let s = try easgd(coded + ["--method", "easgd", "--workers", "1", "--backend", "simulated", "--compute-seconds", "0.01", "--servers", "2",
                               "--link-bandwidth", "1e9", "--steps", "30", "--out", simulated.path])
    #expect(s.status == 0, "\(s.stderr)")
    let first = try mpiRun(3, coded + ["--method", "easgd", "--backend", "mpi", "--servers", "2", "--steps", "13", "--out", mpi.path])
    #expect(first.status == 0, "\(first.stderr)")
    let rest = try mpiRun(3, ["train", "--resume", mpi.path, "--servers", "2", "--steps", "30", "--quiet"])
    #expect(rest.status == 0, "\(rest.stderr)")
    try expectSameSystem(simulated, mpi)
}

@Test func aCodedEASGDRunResumesBitForBitAndRefusesWhatItDoesNotTake() throws {
    let root = try temporaryDirectory()
    let straight = root.appendingPathComponent("straight"), split = root.appendingPathComponent("split")
    let sim = ["--method", "easgd", "--workers", "2", "--backend", "simulated", "--compute-seconds", "0.01"]
    for (steps, dir) in [(40, straight), (15, split)] {
        let r = try easgd(coded + sim + ["--steps", "\(steps)", "--out", dir.path])
        #expect(r.status == 0, "\(r.stderr)")
    }
    let resumed = try easgd(["train", "--resume", split.path, "--steps", "40", "--quiet"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    try expectSameSystem(straight, split)
    for (extra, message) in [(["--error-feedback"], "keeps what the codec lost for the next message by itself"),
                             (["--compress-reply", "int8"], "--compress-reply applies where the master answers with the center")] {
        let r = try easgd(coded + sim + extra + ["--steps", "5", "--out", root.appendingPathComponent("refused").path])
        #expect(r.status != 0 && r.stderr.contains(message) && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
    }
}
