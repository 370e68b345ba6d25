// Faults a run must survive without losing or mixing data: a second writer in a run's directory (a new run or a
// resume) is refused while the first holds it; a model that stops evaluating to finite numbers is recorded as
// null with the record's status, never as nan, and the run stays readable.

import CommandTesting
import Analysis
import Elastic
import Foundation
import Testing
import Training

@Test func aSecondWriterIsRefusedWhileARunOwnsItsDirectory() throws {
    let root = try temporaryDirectory()
    let dir = root.appendingPathComponent("run")
    let common = ["train", "--method", "msgd", "--lr", "0.01", "--momentum", "0.9", "--net", learnNet, "--batch", "16",
                  "--eval-every", "20", "--threads", "1", "--quiet"]
    let first = try launch(common + ["--steps", "100000", "--out", dir.path], log: root.appendingPathComponent("first.log"))
    defer { if first.isRunning { first.terminate(); first.waitUntilExit() } }
    try waitForRecords(2, in: dir)
    // The same directory with another seed, and a resume of it: each refused at once, naming the holder.
    for arguments in [common + ["--steps", "40", "--seed", "2", "--out", dir.path], ["train", "--resume", dir.path, "--quiet"]] {
        let second = try easgd(arguments)
        #expect(second.status != 0 && second.stderr.hasPrefix("easgd: ") && second.stderr.split(separator: "\n").count == 1, "\(second.stderr)")
        #expect(second.stderr.contains("in use by another easgd process (pid \(first.processIdentifier))")
                || second.stderr.contains("already"), "\(second.stderr)")
    }
    let resume = try easgd(["train", "--resume", dir.path, "--quiet"])
    #expect(resume.stderr.contains("pid \(first.processIdentifier)"), "\(resume.stderr)")
    first.interrupt()
    first.waitUntilExit()
    #expect(first.terminationStatus == 130)
    // The settings are the first run's: nothing of the refused one reached the directory.
    #expect(try RunFiles.readSettings(dir.path).seed == 1)
    // Once the holder is gone the kernel has released the lock: the resume goes on.
    let after = try easgd(["train", "--resume", dir.path, "--steps", "60", "--quiet"])
    #expect(after.status == 0, "\(after.stderr)")
}

@Test func aNonFiniteEvaluationIsWrittenAsNullWithItsStatus() throws {
    let record = MetricRecord(step: 8, samples: 256, epoch: 0.01, seconds: 1, wallSeconds: 1, trainLoss: .nan, minibatchLoss: .infinity,
                              testLoss: .nan, testError: 0.9)
    let dir = try temporaryDirectory()
    try RunFiles.writeMetrics([record], to: dir.path)
    let line = try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
    #expect(!line.lowercased().contains("nan") && !line.contains("inf"), "\(line)")
    let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    #expect(object["test_loss"] is NSNull && object["train_loss"] is NSNull && object["status"] as? String == "diverged")
    let csv = try String(contentsOf: dir.appendingPathComponent("metrics.csv"), encoding: .utf8)
    #expect(!csv.lowercased().contains("nan") && !csv.contains("inf"), "\(csv)")
    let back = try #require(try RunFiles.readMetrics(dir.path).first)
    #expect(back.testLoss.isNaN && back.testError == 0.9 && back.trainLoss == nil)
}

@Test func netsTooLargeForTheMachineAreRefusedBeforeAnythingIsAllocated() throws {
    let root = try temporaryDirectory()
    // Under a 2 GiB address-space limit: describing a 10-billion-parameter net allocates nothing, and training one
    // (or a net with a huge activation) is refused at once, in one line, leaving no directory.
    func limited(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String, seconds: Double) {
        let quoted = ([easgdBinary.path] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let start = Date()
        let r = try run(URL(fileURLWithPath: "/bin/sh"), ["-c", "ulimit -v 2097152; exec " + quoted.joined(separator: " ")])
        return (r.status, r.stdout, r.stderr, Date().timeIntervalSince(start))
    }
    let describe = try limited(["net", "describe", "(1000,1000)C(1000,1000)C(1000,1000)S(10,1)"])
    #expect(describe.status == 0 && describe.stdout.contains("parameters: 10,002,002,010") && describe.stdout.contains("refuses it"), "\(describe.stderr)")
    #expect(describe.seconds < 5)
    for net in ["(1,28)C(100000,24)S(10,1)", "(1000,1000)C(1000,1000)C(1000,1000)S(10,1)"] {
        let out = root.appendingPathComponent("big").path
        let train = try limited(["train", "--method", "sgd", "--lr", "0.1", "--steps", "1", "--net", net, "--out", out])
        #expect(train.status != 0 && train.stderr.hasPrefix("easgd: ") && train.stderr.split(separator: "\n").count == 1, "\(train.stderr)")
        #expect(train.stderr.contains("would need about") && train.stderr.contains("MiB"), "\(train.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(train.seconds < 5)
    }
    let huge = try limited(["net", "describe", "(1,100000)C(3,99999)S(10,1)"])
    #expect(huge.status != 0 && huge.stderr.hasPrefix("easgd: ") && huge.stderr.contains("2^34"), "\(huge.stderr)")
}

@Test func aSignalWhileAFigureIsDrawnLeavesNoFileAndNoProcess() throws {
    let root = try temporaryDirectory()
    // A gnuplot that says where it is and then hangs, as a slow one drawing a big map would.
    let marker = root.appendingPathComponent("gnuplot.pid").path
    let fake = root.appendingPathComponent("gnuplot")
    try "#!/bin/sh\necho $$ > '\(marker)'\nexec sleep 60\n".write(to: fake, atomically: true, encoding: .utf8)
    chmod(fake.path, 0o755)
    let out = root.appendingPathComponent("maps")
    try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
    let process = Process()
    process.executableURL = easgdBinary
    process.arguments = ["map", "--method", "admm", "--workers", "3", "--eta", "0.00001:0.01", "--rho", "0.01:10", "--grid", "40x40",
                         "--out", out.appendingPathComponent("m").path]
    process.environment = ProcessInfo.processInfo.environment.merging(["EASGD_GNUPLOT": fake.path]) { $1 }
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(60)
    while !FileManager.default.fileExists(atPath: marker) && Date() < deadline { usleep(20_000) }
    usleep(100_000)
    let gnuplot = try #require(pid_t(try String(contentsOfFile: marker, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
    kill(process.processIdentifier, SIGTERM)
    process.waitUntilExit()
    #expect(process.terminationStatus == 128 + SIGTERM)
    #expect(files(in: out).isEmpty, "left behind: \(files(in: out))")     // the data were staged, not committed
    let scripts = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())
        .filter { $0.hasPrefix("easgd-\(process.processIdentifier)-") }
    #expect(scripts.isEmpty, "gnuplot scripts left: \(scripts)")
    usleep(300_000)
    #expect(kill(gnuplot, 0) != 0, "gnuplot \(gnuplot) still runs")
}

@Test func aTruncatedFigureIsNotReportedAsWritten() throws {
    let root = try temporaryDirectory()
    // A gnuplot that exits 0 but leaves half a PNG, as on a full disk.
    let fake = root.appendingPathComponent("gnuplot")
    try """
        #!/bin/sh
        out=$(sed -n 's/^set output "\\(.*\\)"$/\\1/p' "$1" | head -1)
        printf '\\211PNG\\r\\n\\032\\n0000' > "$out"
        """.write(to: fake, atomically: true, encoding: .utf8)
    chmod(fake.path, 0o755)
    let prefix = root.appendingPathComponent("m").path
    let r = try easgd(["map", "--method", "admm", "--workers", "3", "--eta", "0.00001:0.01", "--rho", "0.01:10", "--grid", "10x10",
                       "--out", prefix], environment: ["EASGD_GNUPLOT": fake.path])
    #expect(r.status == 3, "\(r.stderr)")
    #expect(r.stderr.contains("truncated") && !FileManager.default.fileExists(atPath: prefix + ".png"), "\(r.stderr)")
    #expect(FileManager.default.fileExists(atPath: prefix + ".csv"))        // the data are kept, as documented
}

@Test func anOutputTargetThatIsADirectoryLeavesEveryFileAsItWas() throws {
    let root = try temporaryDirectory()
    let prefix = root.appendingPathComponent("m").path
    try FileManager.default.createDirectory(atPath: prefix + ".png", withIntermediateDirectories: false)
    let r = try easgd(["map", "--method", "admm", "--workers", "3", "--eta", "0.00001:0.01", "--rho", "0.01:10", "--grid", "10x10", "--out", prefix])
    #expect(r.status != 0 && r.stderr.hasPrefix("easgd: ") && r.stderr.contains("is a directory"), "\(r.stderr)")
    #expect(files(in: root) == ["m.png"], "\(files(in: root))")
}

@Test func countsFromTheCommandLineOrAFileAreRangeCheckedInsteadOfCrashing() throws {
    let root = try temporaryDirectory()
    func refused(_ arguments: [String], _ needle: String, status: Int32 = 64) throws {
        let r = try easgd(arguments)
        #expect(r.status == status && r.stderr.hasPrefix("easgd: ") && r.stderr.split(separator: "\n").count == 1, "\(arguments): \(r.stderr)")
        #expect(r.stderr.contains(needle), "\(arguments): \(r.stderr)")
    }
    let out = root.appendingPathComponent("r").path
    try refused(["train", "--method", "sgd", "--lr", "0.1", "--epochs", "1e16", "--minutes", "0.01", "--out", out], "--epochs must be at most")
    try refused(["train", "--method", "easgd", "--workers", "2", "--lr", "0.1", "--steps", "9223372036854775807", "--out", out], "--steps must be between")
    #expect(!FileManager.default.fileExists(atPath: out))
    // An IDX header claiming 0xffffffff × 0xffffffff images overflows an Int: refused as a wrong file.
    let data = root.appendingPathComponent("data")
    try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
    let header: [UInt8] = [0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 28]
    for name in ["train-images-idx3-ubyte", "t10k-images-idx3-ubyte"] {
        try Data(header + [UInt8](repeating: 0, count: 64)).write(to: data.appendingPathComponent(name))
    }
    for name in ["train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"] {
        try Data([0, 0, 8, 1, 0, 0, 0, 1, 0]).write(to: data.appendingPathComponent(name))
    }
    try refused(["train", "--method", "sgd", "--lr", "0.1", "--steps", "1", "--net", learnNet, "--data", data.path, "--out", out],
                "expected", status: 1)
    // A config.json edited to an impossible thread count (or learning rate) is refused on --resume, and left as it was.
    let run = root.appendingPathComponent("run")
    #expect(try easgd(["train", "--method", "sgd", "--lr", "0.01", "--net", learnNet, "--batch", "16", "--steps", "5", "--threads", "1",
                       "--quiet", "--out", run.path]).status == 0)
    let config = run.appendingPathComponent("config.json")
    let original = try String(contentsOf: config, encoding: .utf8)
    for (from, to, needle) in [("\"threads\" : 1", "\"threads\" : 0", "--threads"), ("\"eta\" : 0.01", "\"eta\" : -5", "--lr")] {
        let edited = original.replacingOccurrences(of: from, with: to)
        #expect(edited != original)
        try edited.write(to: config, atomically: true, encoding: .utf8)
        let r = try easgd(["train", "--resume", run.path, "--steps", "10", "--quiet"])
        #expect(r.status != 0 && r.stderr.hasPrefix("easgd: ") && r.stderr.contains("config.json") && r.stderr.contains(needle), "\(r.stderr)")
        #expect(try String(contentsOf: config, encoding: .utf8) == edited)
    }
}

@Test func emptyAndNamelessOutputPathsAreUsageErrors() throws {
    let root = try temporaryDirectory()
    let map = ["map", "--method", "admm", "--workers", "3", "--eta", "0:0.01", "--rho", "0:1", "--grid", "4x4"]
    for arguments in [map + ["--out", ""], map + ["--out", root.path + "/"], ["compare", "--workers", "2", "--out", ""],
                      ["variance-map", "--out", ""], ["net", "describe", "(1,28)X(3,3)"],
                      ["train", "--method", "sgd", "--lr", "0.1", "--steps", "1", "--net", "(1,28)C(4,24)", "--out", root.appendingPathComponent("n").path]] {
        let r = try easgd(arguments, in: root)
        #expect(r.status == 64 && r.stderr.hasPrefix("easgd: ") && r.stderr.split(separator: "\n").count == 1, "\(arguments): \(r.stderr)")
    }
    #expect(files(in: root).isEmpty, "\(files(in: root))")
}

@Test func aRunCleansWhatAKilledWriterLeftAndADirectoryWithoutACheckpointCanBeReused() throws {
    let root = try temporaryDirectory()
    let dir = root.appendingPathComponent("run")
    let common = ["train", "--method", "sgd", "--lr", "0.01", "--net", learnNet, "--batch", "16", "--threads", "1", "--quiet"]
    #expect(try easgd(common + ["--steps", "5", "--out", dir.path]).status == 0)
    // What kill -9 leaves: a checkpoint's temporary and a staged file.
    for name in ["checkpoint.bin.tmp-99999", ".metrics.csv.tmp-99999-0.csv"] {
        try Data(repeating: 7, count: 1000).write(to: dir.appendingPathComponent(name))
    }
    #expect(try easgd(["train", "--resume", dir.path, "--steps", "10", "--quiet"]).status == 0)
    #expect(!files(in: dir).contains { $0.contains(".tmp-") }, "\(files(in: dir))")
    // A run whose first checkpoint was never written: the directory is reusable, and --resume says so.
    try FileManager.default.removeItem(at: dir.appendingPathComponent("checkpoint.bin"))
    let resume = try easgd(["train", "--resume", dir.path, "--quiet"])
    #expect(resume.status == 64 && resume.stderr.contains("started again with the same --out"), "\(resume.stderr)")
    let again = try easgd(common + ["--steps", "5", "--out", dir.path])
    #expect(again.status == 0, "\(again.stderr)")
}

/// kill -9 at `count` seeded random moments (each within `window` seconds of a start), each followed by a resume, until the run completes: every metrics line is
/// valid JSON after every kill, a resume always works (a run killed before its first checkpoint starts again), and
/// no temporary file survives a resume. Returns the directory.
func killAndResume(_ arguments: [String], into dir: URL, count: Int, seed: UInt64, within window: Double) throws -> URL {
    var rng = SplitMix64(seed: seed)
    var kills = 0
    while kills < count {
        let resume = FileManager.default.fileExists(atPath: RunFiles.checkpoint(dir.path))
        let process = try launch(resume ? ["train", "--resume", dir.path, "--quiet"] : arguments + ["--out", dir.path],
                                 log: dir.deletingLastPathComponent().appendingPathComponent("log-\(kills)"))
        if !resume {
            // The first kill lands after the run has checkpointed once, so that the others have something to resume.
            let deadline = Date().addingTimeInterval(120)
            while process.isRunning && !FileManager.default.fileExists(atPath: RunFiles.checkpoint(dir.path)) && Date() < deadline {
                usleep(20_000)
            }
        }
        usleep(UInt32(rng.nextInt(below: Int(window * 1e6))))
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            kills += 1
        }
        process.waitUntilExit()
        if !process.isRunning, process.terminationReason == .exit {
            let log = (try? String(contentsOf: dir.deletingLastPathComponent().appendingPathComponent("log-\(kills)"), encoding: .utf8)) ?? ""
            #expect(process.terminationStatus == 0, "a resume failed: \(log)")
            // Finished before the kill could land: the kills so far are the test.
            if process.terminationStatus == 0, try RunFiles.readStatus(dir.path)?.state == .completed { break }
        }
        if let text = try? String(contentsOfFile: RunFiles.metricsJSONL(dir.path), encoding: .utf8) {
            for line in text.split(separator: "\n") {
                #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "invalid metrics line after kill \(kills): \(line)")
            }
        }
    }
    #expect(kills >= 3, "only \(kills) kills landed before the run completed")
    let finish = FileManager.default.fileExists(atPath: RunFiles.checkpoint(dir.path)) ? ["train", "--resume", dir.path, "--quiet"]
        : arguments + ["--out", dir.path]
    let last = try easgd(finish)
    #expect(last.status == 0, "\(last.stderr)")
    #expect(!files(in: dir).contains { $0.contains(".tmp-") }, "temporaries left: \(files(in: dir))")
    return dir
}

/// A third of the seconds a straight run took: kills within it of each start leave at least three landed before a
/// run of that length can finish (each attempt does at most a third of the work, and a resume starts again from its
/// last checkpoint), on a fast machine or a slow one. A fixed window did not: 3 s let a run of 2.4 s finish after two.
func killWindow(straightRunTook seconds: Double) -> Double { max(0.3, seconds / 3) }

@Test func aSequentialRunKilledTenTimesEndsWithTheBitsOfAStraightRun() throws {
    let root = try temporaryDirectory()
    let common = ["train", "--method", "msgd", "--lr", "0.01", "--momentum", "0.9", "--net", learnNet, "--batch", "16", "--steps", "400",
                  "--eval-every", "100", "--threads", "1", "--checkpoint-every", "0.002", "--quiet"]
    let straight = root.appendingPathComponent("straight")
    let started = Date()
    #expect(try easgd(common + ["--out", straight.path]).status == 0)
    let window = killWindow(straightRunTook: Date().timeIntervalSince(started))
    let killed = try killAndResume(common, into: root.appendingPathComponent("killed"), count: 10, seed: 11, within: window)
    let a = try Checkpoint.read(RunFiles.checkpoint(straight.path), as: CheckpointProbe.self)
    let b = try Checkpoint.read(RunFiles.checkpoint(killed.path), as: CheckpointProbe.self)
    #expect(a.state.step == 400 && b.state.step == 400)
    for name in ["parameters", "velocity"] {
        let x = try #require(a.buffers[name]), y = try #require(b.buffers[name])
        #expect(x.count == y.count && zip(x, y).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(name) differs")
    }
    let strip = { (r: MetricRecord) in [Double(r.step), r.trainLoss ?? -1, r.testLoss, r.testError] }
    #expect(try RunFiles.readMetrics(straight.path).map(strip) == RunFiles.readMetrics(killed.path).map(strip))
}

@Test func aThreadsRunKilledTenTimesStaysResumable() throws {
    let root = try temporaryDirectory()
    let arguments = ["train", "--method", "easgd", "--workers", "2", "--tau", "2", "--lr", "0.02", "--net", learnNet, "--batch", "16",
                     "--steps", "400", "--eval-every", "400", "--checkpoint-every", "0.002", "--quiet"]
    // Kills within a third of a straight run's time of each start (killWindow).
    let started = Date()
    #expect(try easgd(arguments + ["--out", root.appendingPathComponent("straight").path]).status == 0)
    let window = killWindow(straightRunTook: Date().timeIntervalSince(started))
    let dir = try killAndResume(arguments, into: root.appendingPathComponent("killed"), count: 10, seed: 12, within: window)
    let records = try RunFiles.readMetrics(dir.path)
    #expect(records.last?.step == 800 && records.last?.workerSteps == [400, 400], "\(records.map(\.step))")
    #expect(try RunFiles.readStatus(dir.path)?.state == .completed)
}

/// The rank of `mpirun` (pid `parent`) whose environment says OMPI_COMM_WORLD_RANK=`rank`.
func mpiRank(_ rank: Int, of parent: pid_t) -> pid_t? {
    let children = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).filter { pid in
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
        return fields.count > 2 && Int32(fields[1]) == parent
    }
    return children.first { pid in
        let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") ?? Data()
        return environ.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == "OMPI_COMM_WORLD_RANK=\(rank)" }
    }
}

@Test(.enabled(if: mpirun != nil))
func aStalledMPIWorkerEndsTheJobAndASignalToRankZeroWorksMeanwhile() throws {
    let root = try temporaryDirectory()
    let dir = root.appendingPathComponent("run"), log = root.appendingPathComponent("log")
    let common = ["train", "--backend", "mpi", "--method", "easgd", "--tau", "2", "--lr", "0.02", "--net", learnNet, "--batch", "16",
                  "--steps", "1000000", "--eval-every", "40", "--checkpoint-every", "0.01", "--quiet"]
    let stall = ["EASGD_STALL_SECONDS": "4"]
    let process = try launch(common + ["--out", dir.path], ranks: 3, log: log, environment: stall)
    try waitForRecords(2, in: dir)
    let deadline = Date().addingTimeInterval(120)
    while !FileManager.default.fileExists(atPath: RunFiles.checkpoint(dir.path)) && Date() < deadline { usleep(50_000) }
    let worker = try #require(mpiRank(1, of: process.processIdentifier))
    let start = Date()
    kill(worker, SIGSTOP)
    process.waitUntilExit()
    let message = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    // Stopped while computing ("has sent nothing"), or between its request and the master's reply ("did not take").
    #expect(process.terminationStatus != 0 && message.contains("rank 1 (worker 0)") && message.contains("EASGD_STALL_SECONDS"), "\(message)")
    #expect(Date().timeIntervalSince(start) < 30, "the stall took \(Date().timeIntervalSince(start)) s to notice")
    #expect(try RunFiles.readStatus(dir.path)?.state == .interrupted)
    kill(worker, SIGKILL)
    // The last checkpoint is whole: the run resumes (and a SIGTERM to rank 0 still ends it while a worker is stopped).
    let checkpointed = try FileManager.default.attributesOfItem(atPath: RunFiles.checkpoint(dir.path))[.modificationDate] as? Date
    let again = try launch(["train", "--resume", dir.path, "--quiet"], ranks: 3, log: root.appendingPathComponent("log2"), environment: stall)
    // Under way once it has checkpointed again.
    let resumed = Date().addingTimeInterval(120)
    while Date() < resumed, (try? FileManager.default.attributesOfItem(atPath: RunFiles.checkpoint(dir.path))[.modificationDate] as? Date) == checkpointed {
        usleep(50_000)
    }
    let stopped = try #require(mpiRank(2, of: again.processIdentifier))
    kill(stopped, SIGSTOP)
    let rankZero = try #require(mpiRank(0, of: again.processIdentifier))
    let signalled = Date()
    kill(rankZero, SIGTERM)
    again.waitUntilExit()
    kill(stopped, SIGKILL)
    #expect(again.terminationStatus != 0)
    #expect(Date().timeIntervalSince(signalled) < 30, "SIGTERM to rank 0 took \(Date().timeIntervalSince(signalled)) s")
}

@Test(arguments: ["sequential", "parallel"])
func aCheckpointFromAnotherRunIsRefused(kind: String) throws {
    let root = try temporaryDirectory()
    let method = kind == "sequential" ? ["--method", "sgd"] : ["--method", "easgd", "--workers", "2", "--backend", "simulated",
                                                                    "--compute-seconds", "0.01", "--eval-every", "100"]
    let common = ["train"] + method + ["--lr", "0.01", "--net", learnNet, "--batch", "16", "--steps", "5", "--threads", "1", "--quiet"]
    let a = root.appendingPathComponent("a"), b = root.appendingPathComponent("b")
    #expect(try easgd(common + ["--out", a.path]).status == 0)
    #expect(try easgd(common + ["--seed", "2", "--out", b.path]).status == 0)
    let records = try String(contentsOf: a.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
    try FileManager.default.removeItem(at: a.appendingPathComponent("checkpoint.bin"))
    try FileManager.default.copyItem(at: b.appendingPathComponent("checkpoint.bin"), to: a.appendingPathComponent("checkpoint.bin"))
    let r = try easgd(["train", "--resume", a.path, "--steps", "10", "--quiet"])
    #expect(r.status != 0 && r.stderr.hasPrefix("easgd: ") && r.stderr.contains("belongs to another run"), "\(r.stderr)")
    #expect(try String(contentsOf: a.appendingPathComponent("metrics.jsonl"), encoding: .utf8) == records)   // nothing overwritten
}

/// Runs that diverge on every backend: exit 2, every metrics line valid JSON without a non-finite number (a
/// parallel run's diverged records hold null; a sequential run stops at its first non-finite loss and keeps its
/// finite records and last good checkpoint), status.json says diverged, and `runs`, `plot` (and `advise`, for the
/// sequential run) read the directory.
@Test(arguments: ["sequential", "simulated", "threads", "mpi"])
func aDivergingRunLeavesFilesThatEveryReaderTakes(backend: String) throws {
    if backend == "mpi" && mpirun == nil { return }
    let root = try temporaryDirectory()
    let dir = root.appendingPathComponent("run")
    let common = ["--net", learnNet, "--batch", "16", "--eval-every", "10", "--threads", "1", "--quiet", "--out", dir.path]
    let status: Int32, message: String
    switch backend {
    case "sequential":
        let r = try easgd(["train", "--method", "msgd", "--momentum", "0.9", "--lr", "50", "--steps", "40"] + common)
        (status, message) = (r.status, r.stderr)
    case "mpi":
        (status, message) = try mpiRun(3, ["train", "--method", "easgd", "--lr", "100", "--steps", "40", "--backend", "mpi"] + common)
    default:
        var arguments = ["train", "--method", "easgd", "--workers", "2", "--lr", "100", "--steps", "40", "--backend", backend]
        if backend == "simulated" { arguments += ["--compute-seconds", "0.01"] }
        let r = try easgd(arguments + common)
        (status, message) = (r.status, r.stderr)
    }
    #expect(status == 2, "\(backend): exit \(status): \(message)")
    let lines = try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
    #expect(lines.count >= (backend == "sequential" ? 1 : 2))
    for line in lines {
        #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "\(backend): not JSON: \(line)")
        #expect(!line.lowercased().contains("nan") && !line.lowercased().contains("inf"), "\(backend): \(line)")
    }
    // On the simulated backend the order is fixed and the center does reach non-finite values (a null record);
    // on threads and MPI, workers may all stop first, leaving the center finite (the run is diverged all the same).
    if backend == "simulated" {
        #expect(lines.contains { $0.contains("\"status\":\"diverged\"") && $0.contains("null") }, "\(backend): no diverged record")
    }
    let csv = try String(contentsOf: dir.appendingPathComponent("metrics.csv"), encoding: .utf8).lowercased()
    #expect(!csv.contains("nan") && !csv.contains("inf"))
    let statusFile = try String(contentsOf: dir.appendingPathComponent("status.json"), encoding: .utf8)
    #expect(statusFile.contains("\"diverged\""), "\(backend): \(statusFile)")

    let runs = try easgd(["runs", dir.path, "--json"])
    #expect(runs.status == 0, "\(runs.stderr)")
    #expect(try jsonArray(runs.stdout).first?["status"] as? String == "diverged")
    let plot = try easgd(["plot", dir.path, "--log-y", "--out", root.appendingPathComponent("curves").path])
    #expect(plot.status == 0 || plot.status == 3, "\(backend): \(plot.stderr)")     // 3: gnuplot missing, the data still written
    if backend == "sequential" {
        let advise = try easgd(["advise", dir.path])
        #expect(advise.status == 0 && advise.stdout.contains("(unstable)"), "\(advise.stderr)")
    }
}

/// Whether this process can mount a small tmpfs (root with CAP_SYS_ADMIN): the disk-full tests need one.
let canMountTmpfs: Bool = {
    guard geteuid() == 0, let dir = try? temporaryDirectory() else { return false }
    defer { try? FileManager.default.removeItem(at: dir) }
    guard (try? run(URL(fileURLWithPath: "/bin/mount"), ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir.path]))?.status == 0 else { return false }
    _ = try? run(URL(fileURLWithPath: "/bin/umount"), [dir.path])
    return true
}()

/// Runs `body` with a directory on a fresh tmpfs of `kib` KiB that holds a filler leaving about `free` KiB, and
/// gives `body` a way to remove the filler (space freed, as a user would after a disk-full error).
func withFullFileSystem(kib: Int, free: Int, _ body: (_ dir: URL, _ freeSpace: () throws -> Void) throws -> Void) throws {
    let dir = try temporaryDirectory()
    #expect(try run(URL(fileURLWithPath: "/bin/mount"), ["-t", "tmpfs", "-o", "size=\(kib)k", "tmpfs", dir.path]).status == 0)
    defer { _ = try? run(URL(fileURLWithPath: "/bin/umount"), [dir.path]); try? FileManager.default.removeItem(at: dir) }
    let filler = dir.appendingPathComponent("filler")
    FileManager.default.createFile(atPath: filler.path, contents: Data(count: max(0, kib - free) * 1024))
    try body(dir) { try FileManager.default.removeItem(at: filler) }
}

/// Every file under `dir` (hidden ones included), relative to it.
func allFiles(under dir: URL) -> [String] {
    (FileManager.default.enumerator(atPath: dir.path)?.allObjects as? [String] ?? []).sorted()
}

/// A small Fashion-MNIST in IDX files (the first 2,000 training and 500 test images), for runs whose evaluations
/// must be quick in a debug build.
let smallFashionMNIST: Result<URL, any Error> = Result {
    let split = try DataSource.load("fashion-mnist")
    let dir = try temporaryDirectory().appendingPathComponent("fashion-mnist-small")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    func idx(_ dims: [Int], _ bytes: [UInt8]) -> Data {
        var header: [UInt8] = [0, 0, 0x08, UInt8(dims.count)]
        for d in dims { header += [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: d >> $0) } }
        return Data(header + bytes)
    }
    for (name, set) in [("train", split.train.prefix(2000)), ("t10k", split.test.prefix(500))] {
        try idx([set.count, set.shape.height, set.shape.width], set.pixels).write(to: dir.appendingPathComponent("\(name)-images-idx3-ubyte"))
        try idx([set.count], set.labels.map { UInt8($0) }).write(to: dir.appendingPathComponent("\(name)-labels-idx1-ubyte"))
    }
    return dir
}

@Test(.enabled(if: canMountTmpfs, "skipped: the disk-full tests mount a small tmpfs, which needs root"))
func aFullDiskStopsARunCleanlyAndItResumesToTheBitsOfAStraightRun() throws {
    let arguments = ["train", "--method", "msgd", "--momentum", "0.9", "--lr", "0.01", "--steps", "20", "--eval-every", "10",
                     "--net", learnNet, "--batch", "16", "--threads", "1", "--quiet", "--data", try smallFashionMNIST.get().path]
    let straight = try temporaryDirectory().appendingPathComponent("straight")
    #expect(try easgd(arguments + ["--out", straight.path]).status == 0)
    func errors(_ dir: URL) throws -> [String] {
        try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n").map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
            return "\(object["total_steps"] ?? "") \(object["test_loss"] ?? "") \(object["test_error"] ?? "")"
        }
    }
    let expected = try errors(straight)
    // The checkpoint of this net (x and v) is about 600 KiB. With 4 KiB left config.json cannot be written, with
    // 300 KiB the first checkpoint cannot (the directory is reusable), with 1000 KiB the second cannot (the
    // first is kept and resumable).
    var failures = 0
    for free in [4, 300, 1000] {
        try withFullFileSystem(kib: 2048, free: free) { root, freeSpace in
            let dir = root.appendingPathComponent("run")
            let r = try easgd(arguments + ["--out", dir.path])
            #expect(r.status == 0 || r.status == 1, "free \(free) KiB: exit \(r.status): \(r.stderr)")
            #expect(!allFiles(under: root).contains { $0.contains(".tmp") }, "free \(free) KiB: \(allFiles(under: root))")
            if r.status == 1 {
                failures += 1
                let last = r.stderr.split(separator: "\n").last ?? ""
                #expect(last.hasPrefix("easgd: ") && last.contains("No space left"), "free \(free) KiB: \(r.stderr)")
                if FileManager.default.fileExists(atPath: dir.appendingPathComponent("metrics.jsonl").path) { _ = try errors(dir) }
            }
            try freeSpace()
            // Resumable if a checkpoint was written, reusable (the same --out) if not; either way the records end
            // as the straight run's.
            let resumable = FileManager.default.fileExists(atPath: dir.appendingPathComponent("checkpoint.bin").path)
            let again = try easgd(resumable ? ["train", "--resume", dir.path, "--quiet"] : arguments + ["--out", dir.path])
            #expect(again.status == 0, "free \(free) KiB, \(resumable ? "resume" : "rerun"): \(again.stderr)")
            #expect(try errors(dir) == expected, "free \(free) KiB")
        }
    }
    #expect(failures == 3)      // each case did reach a full disk
}

@Test(.enabled(if: canMountTmpfs, "skipped: the disk-full tests mount a small tmpfs, which needs root"))
func aFullDiskLeavesAMapWholeOrAbsent() throws {
    var outcomes: Set<Int32> = []
    for free in stride(from: 4, through: 320, by: 12) {
        try withFullFileSystem(kib: 1024, free: free) { root, _ in
            let prefix = root.appendingPathComponent("m").path
            let r = try easgd(["map", "--method", "admm", "--workers", "3", "--eta", "0.00001:0.01", "--rho", "0.01:10",
                               "--grid", "60x60", "--out", prefix])
            outcomes.insert(r.status)
            let names = allFiles(under: root).filter { $0 != "filler" }
            #expect(!names.contains { $0.hasPrefix(".") || $0.contains(".tmp") }, "free \(free) KiB: \(names)")
            switch r.status {
            case 0: #expect(names == ["m-boundary.csv", "m.csv", "m.json", "m.png"], "free \(free) KiB: \(names)")
            case 1: #expect(names.isEmpty && r.stderr.hasPrefix("easgd: ") && r.stderr.contains("No space left"), "free \(free) KiB: \(names) \(r.stderr)")
            case 3: #expect(!names.contains("m.png"), "free \(free) KiB: \(names)")      // the data kept, no figure
            default: Issue.record("free \(free) KiB: exit \(r.status): \(r.stderr)")
            }
            if let png = FileManager.default.contents(atPath: prefix + ".png") {
                #expect(png.suffix(8) == Data([0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]), "free \(free) KiB: PNG without IEND")
            }
            if let json = FileManager.default.contents(atPath: prefix + ".json") {
                #expect((try? JSONSerialization.jsonObject(with: json)) != nil, "free \(free) KiB: m.json is not JSON")
            }
            if let csv = FileManager.default.contents(atPath: prefix + ".csv") {
                #expect(String(decoding: csv, as: UTF8.self).split(separator: "\n").count == 60 * 60 + 1, "free \(free) KiB: m.csv incomplete")
            }
        }
    }
    #expect(outcomes.contains(1) && outcomes.contains(0), "\(outcomes)")
}

/// Grids, checkpoints and data files are estimated before they are allocated, like nets: under a 256 MiB limit
/// (the small net itself needs about 134) each is refused at once in one line with the estimate and the limit, and
/// nothing is written.
@Test func gridsCheckpointsAndDataBeyondTheMemoryLimitAreRefusedUnread() throws {
    let root = try temporaryDirectory()
    let limit = ["EASGD_MEMORY_LIMIT_MIB": "256"]
    // Refused in one line, and unread: the process's peak resident memory stays below `peakMiB` (about 35 MiB for
    // the program itself; the map would need 2.4 GiB, the checkpoint 300 MiB, the data file's images 600 MiB).
    func refused(_ arguments: [String], _ phrase: String, peakMiB: Int = 100) throws {
        let (r, peak) = try runMeasuringMemory(easgdBinary, arguments, environment: limit)
        #expect(r.status != 0 && r.stderr.hasPrefix("easgd: ") && r.stderr.split(separator: "\n").count == 1, "\(arguments): \(r.stderr)")
        #expect(r.stderr.contains(phrase) && r.stderr.contains("256 MiB (EASGD_MEMORY_LIMIT_MIB)"), "\(arguments): \(r.stderr)")
        #expect(peak > 0 && peak < peakMiB << 20, "\(arguments) peaked at \(peak >> 20) MiB")
    }
    // 4000 × 4000 points at 160 bytes each is about 2.4 GiB.
    try refused(["map", "--method", "easgd", "--workers", "4", "--eta", "0.001:2", "--alpha", "0.01:0.9", "--grid", "4000x4000",
                 "--out", root.appendingPathComponent("m").path], "a map of 4000x4000 points would need about 2441 MiB")
    try refused(["variance-map", "--grid", "2000", "--out", root.appendingPathComponent("v").path], "would need about")
    #expect(files(in: root).isEmpty, "\(files(in: root))")

    // A checkpoint of 100 MiB (read whole, copied and decoded: about 300 MiB) is refused before it is read.
    let runDir = root.appendingPathComponent("run")
    #expect(try easgd(["train", "--method", "sgd", "--lr", "0.01", "--steps", "2", "--net", learnNet, "--batch", "16",
                       "--data", try smallFashionMNIST.get().path, "--quiet", "--out", runDir.path]).status == 0)
    let checkpoint = runDir.appendingPathComponent("checkpoint.bin")
    let handle = try FileHandle(forWritingTo: checkpoint)
    try handle.truncate(atOffset: 100 << 20)
    try handle.close()
    try refused(["train", "--resume", runDir.path, "--steps", "4"], "reading the checkpoint")

    // A data file that decompresses to more than half the limit (an IDX header claiming 50,000 images, then
    // 150 MiB of zeros, gzipped to about 650 KiB) is refused while it is read.
    let data = root.appendingPathComponent("data")
    try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
    let small = try smallFashionMNIST.get()
    for name in ["train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
        try FileManager.default.copyItem(at: small.appendingPathComponent(name), to: data.appendingPathComponent(name))
    }
    let gz = try run(URL(fileURLWithPath: "/bin/sh"), ["-c", "(printf '\\000\\000\\010\\003\\000\\000\\303\\120\\000\\000\\000\\034\\000\\000\\000\\034'; head -c 157286400 /dev/zero) | gzip -1 > '\(data.path)/train-images-idx3-ubyte.gz'"])
    #expect(gz.status == 0, "\(gz.stderr)")
    try refused(["train", "--method", "sgd", "--lr", "0.01", "--steps", "2", "--net", learnNet, "--data", data.path,
                 "--out", root.appendingPathComponent("never").path], "decompresses to more than 128 MiB", peakMiB: 256)
    #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("never").path))
}

/// The processes whose parent is `pid`.
func childProcesses(of pid: pid_t) -> [pid_t] {
    ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).filter { child in
        let stat = (try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8)) ?? ""
        let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
        return fields.count > 2 && Int32(fields[1]) == pid
    }
}

/// `easgd supervise` keeps a job going: a worker rank killed with SIGKILL twice, the job restarts from its last
/// checkpoint each time, and the run completes its budget as one continuous run (its records' steps never fall,
/// and the last one is the whole budget).
@Test(.enabled(if: mpirun != nil))
func aSupervisedMPIRunSurvivesTwoKilledWorkersAndCompletesItsBudget() throws {
    let root = try temporaryDirectory()
    let dir = root.appendingPathComponent("run"), log = root.appendingPathComponent("log")
    let job = [mpirun!, "--oversubscribe", "-np", "3", easgdBinary.path, "train", "--backend", "mpi", "--method", "easgd",
               "--tau", "2", "--lr", "0.02", "--net", learnNet, "--batch", "16", "--steps", "600", "--eval-every", "200",
               "--checkpoint-every", "0.005", "--data", try smallFashionMNIST.get().path, "--quiet", "--out", dir.path]
    let supervisor = try launch(["supervise", "--max-restarts", "3", "--"] + job, log: log)
    var killed: [pid_t] = []
    for _ in 1...2 {
        // A rank 1 of the current attempt (not one killed before), once this attempt has checkpointed.
        let since = Date()
        let deadline = Date().addingTimeInterval(120)
        var victim: pid_t? = nil
        while Date() < deadline {
            let written = (try? FileManager.default.attributesOfItem(atPath: RunFiles.checkpoint(dir.path))[.modificationDate] as? Date) ?? .distantPast
            if written > since, let launcher = childProcesses(of: supervisor.processIdentifier).first,
               let rank = mpiRank(1, of: launcher), !killed.contains(rank) {
                victim = rank
                break
            }
            usleep(20_000)
        }
        let rank = try #require(victim, "no rank 1 with a fresh checkpoint within 120 s")
        kill(rank, SIGKILL)
        killed.append(rank)
    }
    supervisor.waitUntilExit()
    let message = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    #expect(supervisor.terminationStatus == 0, "\(message)")
    #expect(message.contains("restart 1 of 3") && message.contains("restart 2 of 3") && !message.contains("restart 3 of 3"), "\(message)")
    let saved = try Checkpoint.read(RunFiles.checkpoint(dir.path), as: SystemProbe.self).state
    #expect(saved.workers.map(\.clock) == [600, 600])
    let steps = try RunFiles.readMetrics(dir.path).map(\.step)
    #expect(zip(steps, steps.dropFirst()).allSatisfy { $0 <= $1 } && steps.last == 1200, "\(steps)")
    #expect(try RunFiles.readStatus(dir.path)?.state == .completed)
}
