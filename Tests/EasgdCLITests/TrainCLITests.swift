// easgd train / plot / net describe end to end: a short real run on Fashion-MNIST that must learn,
// a run stopped by a real SIGINT and resumed to the same bits as a straight run, and bad input.

import CommandTesting
import Foundation
import NumericTesting
import Testing
import Training

let learnNet = "(1,28)C(8,24)P(8,12)D(64,1)S(10,1)"

@Test func shortFashionMNISTRunLearns() throws {
    let dir = try temporaryDirectory().appendingPathComponent("run")
    let r = try easgd(["train", "--method", "msgd", "--net", learnNet, "--lr", "0.01", "--momentum", "0.9",
                       "--batch", "64", "--steps", "300", "--eval-every", "100", "--threads", "1", "--quiet",
                       "--out", dir.path])
    #expect(r.status == 0, "\(r.stderr)")
    let records = try RunFiles.readMetrics(dir.path)
    #expect(records.map(\.step) == [0, 100, 200, 300])
    let first = try #require(records.first), last = try #require(records.last)
    // Chance is 90 % error and ln 10 ≈ 2.30 loss; after 300 steps of 64 images it must be far better.
    #expect(first.testError > 0.7)
    #expect(last.testError < 0.35, "test error \(last.testError)")
    #expect(last.testLoss < 0.5 * first.testLoss)
    // The minibatch losses since each evaluation (none at the start), and the model on the fixed training subset
    // at every record, the start included: both fall.
    let minibatchLosses = records.compactMap(\.minibatchLoss)
    #expect(minibatchLosses.count == 3 && minibatchLosses[2] < minibatchLosses[0])
    let trainLosses = records.compactMap(\.trainLoss)
    #expect(trainLosses.count == 4 && trainLosses[3] < 0.5 * trainLosses[0], "\(trainLosses)")
    // config.json records the settings, the seed and versions; metrics.csv has the same records.
    let config = try String(contentsOf: dir.appendingPathComponent("config.json"), encoding: .utf8)
    for key in ["\"seed\" : 1", "\"method\" : \"msgd\"", "\"toolkit\"", "\"openblas\"", "\"eta\" : 0.01"] {
        #expect(config.contains(key), "config.json lacks \(key)")
    }
    let csv = try String(contentsOf: dir.appendingPathComponent("metrics.csv"), encoding: .utf8)
    #expect(csv.split(separator: "\n").count == records.count + 1)
    #expect(!files(in: dir).contains { $0.contains(".tmp-") })
}

@Test func aBareRunNameIsCreatedInTheCurrentDirectory() throws {
    let here = try temporaryDirectory()
    let r = try easgd(["train", "--method", "sgd", "--net", learnNet, "--lr", "0.01", "--batch", "8", "--steps", "2", "--quiet",
                       "--out", "run"], in: here)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(files(in: here.appendingPathComponent("run")).contains("checkpoint.bin"))
}

@Test func sigintWritesACheckpointAndResumeMatchesAStraightRun() throws {
    let root = try temporaryDirectory()
    let common = ["train", "--method", "msgd", "--net", learnNet, "--lr", "0.01", "--momentum", "0.9", "--batch", "32",
                  "--steps", "150", "--eval-every", "50", "--threads", "1", "--quiet"]
    let straight = root.appendingPathComponent("straight"), split = root.appendingPathComponent("split")
    #expect(try easgd(common + ["--out", straight.path]).status == 0)

    let process = Process()
    process.executableURL = easgdBinary
    process.arguments = common + ["--out", split.path]
    process.standardOutput = FileHandle.nullDevice
    let err = Pipe()
    process.standardError = err
    try process.run()
    // Interrupt once training is under way (the evaluation at step 50 is logged).
    let metrics = split.appendingPathComponent("metrics.jsonl").path
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline {
        let lines = (try? String(contentsOfFile: metrics, encoding: .utf8))?.split(separator: "\n").count ?? 0
        if lines >= 2 { break }
        usleep(20_000)
    }
    process.interrupt()
    let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 130, "\(message)")
    #expect(message.contains("continue with: easgd train --resume"))
    let interrupted = try #require(try RunFiles.readStatus(split.path))
    #expect(interrupted.state == .interrupted && interrupted.reason == "signal 2")
    let (stopped, _) = try Checkpoint.read(RunFiles.checkpoint(split.path), as: CheckpointProbe.self)
    #expect(stopped.step > 0 && stopped.step < 150, "stopped at \(stopped.step)")

    let resumed = try easgd(["train", "--resume", split.path, "--quiet"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(try RunFiles.readStatus(split.path)?.state == .completed)
    let a = try Checkpoint.read(RunFiles.checkpoint(straight.path), as: CheckpointProbe.self)
    let b = try Checkpoint.read(RunFiles.checkpoint(split.path), as: CheckpointProbe.self)
    #expect(a.state.step == 150 && b.state.step == 150)
    for name in ["parameters", "velocity"] {
        let x = try #require(a.buffers[name]), y = try #require(b.buffers[name])
        let firstDifference = x.indices.first { $0 >= y.count || x[$0].bitPattern != y[$0].bitPattern }
        #expect(x.count == y.count && firstDifference == nil, "\(name) differs after resume at \(firstDifference ?? -1)")
    }
    let strip = { (r: MetricRecord) in [Double(r.step), r.trainLoss ?? -1, r.testLoss, r.testError] }
    #expect(try RunFiles.readMetrics(straight.path).map(strip) == RunFiles.readMetrics(split.path).map(strip))
}

/// The part of the checkpoint header these tests look at.
struct CheckpointProbe: Codable { var step: Int }

@Test(arguments: [
    (["train", "--method", "msgd", "--lr", "0.01", "--steps", "1"], "give --out"),
    (["train", "--method", "msgd", "--steps", "1", "--out", "OUT"], "--lr"),
    (["train", "--lr", "0.01", "--steps", "1", "--out", "OUT"], "--method"),
    (["train", "--method", "msgd", "--lr", "0.01", "--out", "OUT"], "give a budget"),
    (["train", "--method", "adam", "--lr", "0.01", "--steps", "1", "--out", "OUT"], "adam"),
    (["train", "--method", "msgd", "--lr", "-1", "--steps", "1", "--out", "OUT"], "--lr"),
    (["train", "--method", "msgd", "--lr", "nan", "--steps", "1", "--out", "OUT"], "--lr"),
    (["train", "--method", "msgd", "--lr", "0.1", "--momentum", "1", "--steps", "1", "--out", "OUT"], "--momentum"),
    (["train", "--method", "msgd", "--lr", "0.1", "--batch", "0", "--steps", "1", "--out", "OUT"], "--batch"),
    (["train", "--method", "msgd", "--lr", "0.1", "--steps", "1", "--net", "(3,28)Q(1,1)", "--out", "OUT"], "unknown layer"),
    (["train", "--method", "msgd", "--lr", "0.1", "--steps", "1", "--data", "/nonexistent", "--out", "OUT"], "not a directory"),
    (["train", "--method", "msgd", "--lr", "0.1", "--steps", "1", "--net", "cifar", "--out", "OUT"], "3-channel"),
    (["train", "--method", "msgd", "--lr", "0.1", "--steps", "1", "--out", "/nonexistent/dir/run"], "/nonexistent/dir"),
    (["train", "--resume", "/nonexistent-run"], "no checkpoint.bin"),
    (["net", "describe", "(3,28)C(64,30)S(10,1)"], "no valid convolution"),
    (["plot", "/nonexistent-run"], "metrics.jsonl"),
])
func badTrainingInputGetsOneLineError(arguments template: [String], needle: String) throws {
    let out = try temporaryDirectory().appendingPathComponent("run").path
    let arguments = template.map { $0 == "OUT" ? out : $0 }
    let r = try easgd(arguments)
    #expect(r.status != 0)
    let lines = r.stderr.split(separator: "\n")
    #expect(lines.count == 1, "\(r.stderr)")
    #expect(r.stderr.hasPrefix("easgd: ") && r.stderr.contains(needle), "\(r.stderr)")
    if let i = arguments.firstIndex(of: "--out") {
        #expect(!FileManager.default.fileExists(atPath: arguments[i + 1]), "\(arguments[i + 1]) left behind")
    }
}

@Test func resumeRefusesSettingsThatWouldChangeTheRun() throws {
    let dir = try temporaryDirectory().appendingPathComponent("run")
    let r = try easgd(["train", "--method", "sgd", "--net", learnNet, "--lr", "0.01", "--batch", "16", "--steps", "2",
                       "--threads", "1", "--quiet", "--out", dir.path])
    #expect(r.status == 0, "\(r.stderr)")
    let again = try easgd(["train", "--method", "sgd", "--lr", "0.01", "--steps", "2", "--out", dir.path])
    #expect(again.status != 0 && again.stderr.contains("already holds a run"))
    let changed = try easgd(["train", "--resume", dir.path, "--momentum", "0.5"])
    #expect(changed.status != 0 && changed.stderr.contains("--momentum cannot be combined with --resume"))
}

@Test func plotDrawsSeveralRunsWithTheirData() throws {
    let root = try temporaryDirectory()
    for (name, lr) in [("a", "0.01"), ("b", "0.02")] {
        let r = try easgd(["train", "--method", "sgd", "--net", learnNet, "--lr", lr, "--batch", "16", "--steps", "20",
                           "--eval-every", "10", "--threads", "1", "--quiet", "--out", root.appendingPathComponent(name).path])
        #expect(r.status == 0, "\(r.stderr)")
    }
    let prefix = root.appendingPathComponent("fig").path
    let r = try easgd(["plot", root.appendingPathComponent("a").path, root.appendingPathComponent("b").path,
                       "--label", "η=0.01", "--label", "η=0.02", "--out", prefix])
    #expect(r.status == 0, "\(r.stderr)")
    let csv = try String(contentsOfFile: prefix + ".csv", encoding: .utf8).split(separator: "\n")
    #expect(csv.count == 1 + 3 + 3)
    #expect(csv[1].hasPrefix("0,η=0.01,1,0,0,") && csv[4].hasPrefix("1,η=0.02,1,0,0,"))
    let png = try Data(contentsOf: URL(fileURLWithPath: prefix + ".png"))
    #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 10_000)
    let bad = try easgd(["plot", root.appendingPathComponent("a").path, "--label", "x", "--label", "y", "--out", prefix])
    #expect(bad.status != 0 && bad.stderr.contains("--label given 2 times for 1 runs"))
}

@Test func netDescribeCountsTheCifarNet() throws {
    let r = try easgd(["net", "describe", "cifar"])
    #expect(r.status == 0)
    #expect(r.stdout.contains("parameters: 351,946"))
    #expect(r.stdout.contains("conv 3×3/1"))
}

@Test func initSeedFixesTheInitialisationAndLeavesTheRestToTheSeed() throws {
    let root = try temporaryDirectory()
    func run(_ name: String, _ extra: [String], method: [String] = ["--method", "msgd"]) throws -> [MetricRecord] {
        let dir = root.appendingPathComponent(name).path
        let r = try easgd(["train"] + method + ["--net", learnNet, "--lr", "0.02", "--batch", "16", "--steps", "20",
                           "--eval-every", "10", "--threads", "1", "--quiet", "--out", dir] + extra)
        #expect(r.status == 0, "\(r.stderr)")
        return try RunFiles.readMetrics(dir)
    }
    // The untrained net's test loss is a function of the initialisation only: seeds 1 and 2 with --init-seed 7
    // start where --seed 7 starts, and then part (their data orders differ).
    let a = try run("a", ["--seed", "1", "--init-seed", "7"]), b = try run("b", ["--seed", "2", "--init-seed", "7"])
    let seven = try run("seven", ["--seed", "7"]), one = try run("one", ["--seed", "1"])
    #expect(a[0].testLoss == seven[0].testLoss && b[0].testLoss == seven[0].testLoss && one[0].testLoss != seven[0].testLoss)
    #expect(a.last!.testLoss != b.last!.testLoss)
    // The same for a parallel run (the center's start), and the runs table groups a and b as seeds of one setting.
    let p = try run("p", ["--seed", "3", "--init-seed", "7", "--workers", "2", "--backend", "simulated", "--compute-seconds", "0.01"],
                    method: ["--method", "easgd"])
    #expect(p[0].testLoss == seven[0].testLoss)
    let groups = try easgd(["runs", root.appendingPathComponent("a").path, root.appendingPathComponent("b").path,
                            root.appendingPathComponent("one").path, "--group-seeds", "--json"])
    #expect(groups.status == 0, "\(groups.stderr)")
    let rows = try JSONSerialization.jsonObject(with: Data(groups.stdout.utf8)) as? [Any]
    #expect(rows?.count == 2)
    let resumed = try easgd(["train", "--resume", root.appendingPathComponent("a").path, "--init-seed", "8"])
    #expect(resumed.status != 0 && resumed.stderr.contains("--init-seed"))
}

/// A run in random order (simulated) takes p × steps worker steps in all, the workers' shares drawn from its seed:
/// it completes there, `runs` reports the mean steps per worker, and another seed draws other shares.
@Test func aRandomOrderRunTakesItsBudgetInAll() throws {
    let root = try temporaryDirectory()
    func train(_ seed: Int) throws -> URL {
        let dir = root.appendingPathComponent("r\(seed)")
        let r = try easgd(["train", "--method", "downpour", "--workers", "3", "--lr", "0.02", "--net", learnNet, "--batch", "16",
                           "--steps", "30", "--eval-every", "45", "--backend", "simulated", "--schedule", "random",
                           "--compute-seconds", "0.01", "--seed", "\(seed)", "--data", try smallFashionMNIST.get().path, "--quiet",
                           "--out", dir.path])
        #expect(r.status == 0, "\(r.stderr)")
        return dir
    }
    let first = try train(1), second = try train(2)
    let shares = try [first, second].map { dir -> [Int] in
        let last = try #require(try RunFiles.readMetrics(dir.path).last)
        #expect(last.step == 90 && (last.workerSteps ?? []).reduce(0, +) == 90)
        return last.workerSteps ?? []
    }
    #expect(shares[0] != shares[1], "\(shares)")      // seed 1 happens to draw 30 each; seed 2 does not
    let runs = try jsonArray(try easgd(["runs", first.path, "--json"]).stdout)
    #expect(runs.first?["steps_per_worker"] as? Int == 30 && runs.first?["status"] as? String == "completed", "\(runs)")
}

/// With the link model's queue at the master, a worker that has taken its steps can be the earliest on the virtual
/// clock: it takes no more (before, workers ended up to two steps past their budget at p = 16).
@Test func aQueuedSimulatedRunStopsEveryWorkerAtItsBudget() throws {
    let dir = try temporaryDirectory().appendingPathComponent("queued")
    // EAMSGD at p = 16, τ = 10, an exchange six times a step: before, worker 0 ended at 35 steps of 31.
    let r = try easgd(["train", "--method", "eamsgd", "--workers", "16", "--tau", "10", "--lr", "0.02", "--net", learnNet,
                       "--batch", "16", "--steps", "31", "--eval-every", "100000", "--backend", "simulated", "--compute-seconds", "0.001",
                       "--link-bandwidth", "1e8", "--data", try smallFashionMNIST.get().path, "--quiet", "--out", dir.path])
    #expect(r.status == 0, "\(r.stderr)")
    let last = try #require(try RunFiles.readMetrics(dir.path).last)
    #expect(last.workerSteps == Array(repeating: 31, count: 16) && last.step == 16 * 31, "\(last.workerSteps ?? [])")
}
