// easgd train with parallel methods (issue 5, first part): both backends learn on Fashion-MNIST, the records
// carry exchanges, and bad combinations are refused.

import Foundation
import Testing
import Training

@Test(arguments: [("easgd", "simulated"), ("downpour", "threads"), ("sync-easgd", "simulated")])
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
    // Virtual time: every worker takes 120 steps of 0.01 s (communication costs 0), so p devices take 1.2 s.
    if backend == "simulated" { #expect(abs(last.seconds - 1.2) < 1e-9, "\(last.seconds)") }
}

@Test(arguments: [
    (["train", "--method", "easgd", "--lr", "0.01", "--epochs", "1", "--out", "OUT"], "--steps (per worker)"),
    (["train", "--method", "msgd", "--lr", "0.01", "--steps", "1", "--workers", "4", "--out", "OUT"], "apply to the parallel methods"),
    (["train", "--method", "sync-easgd", "--lr", "0.01", "--steps", "1", "--backend", "threads", "--out", "OUT"], "simulated backend"),
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
                  "--net", learnNet, "--batch", "16", "--eval-every", "30", "--compute-seconds", "0.01",
                  "--communication-seconds", "0.002", "--quiet"]
    let straight = root.appendingPathComponent("straight"), split = root.appendingPathComponent("split")
    #expect(try easgd(common + ["--steps", "40", "--out", straight.path]).status == 0)
    #expect(try easgd(common + ["--steps", "25", "--out", split.path]).status == 0)
    let resumed = try easgd(["train", "--resume", split.path, "--steps", "40", "--quiet"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    struct Probe: Codable { var masterClock: Int }
    let a = try Checkpoint.read(RunFiles.checkpoint(straight.path), as: Probe.self)
    let b = try Checkpoint.read(RunFiles.checkpoint(split.path), as: Probe.self)
    #expect(a.state.masterClock == b.state.masterClock)
    #expect(Set(a.buffers.keys) == Set(b.buffers.keys) && !a.buffers.isEmpty)
    for (name, x) in a.buffers {
        let y = try #require(b.buffers[name])
        let same = x.map(\.bitPattern) == y.map(\.bitPattern)
        #expect(same, "\(name) differs after resume")
    }
    let strip = { (r: MetricRecord) in [Double(r.step), r.seconds, r.testLoss, r.testError, Double(r.exchanges ?? -1)] }
    let ra = try RunFiles.readMetrics(straight.path).map(strip), rb = try RunFiles.readMetrics(split.path).map(strip)
    #expect(ra.last == rb.last)
    let again = try easgd(["train", "--resume", split.path, "--workers", "5"])
    #expect(again.status != 0 && again.stderr.contains("cannot change on --resume"))
}

/// mpirun from Open MPI (installed by `make test` with openmpi-bin); as root it needs the two variables below.
let mpirun: String? = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }

@Test(.enabled(if: mpirun != nil), arguments: ["easgd", "downpour", "mdownpour"])
func threeRankMPIRunLearnsAndStopsCleanly(method: String) throws {
    let dir = try temporaryDirectory().appendingPathComponent("run")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: mpirun!)
    process.arguments = ["--oversubscribe", "-np", "3", easgdBinary.path, "train", "--backend", "mpi", "--method", method,
                         "--tau", "2", "--lr", "0.02", "--momentum", "0.5", "--net", learnNet, "--batch", "32", "--steps", "60",
                         "--eval-every", "60", "--quiet", "--out", dir.path]
    process.environment = ProcessInfo.processInfo.environment.merging(
        ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMPI_MCA_rmaps_base_oversubscribe": "1"]) { $1 }
    let err = Pipe()
    process.standardError = err
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "\(message)")         // every rank exited 0: the stop protocol ended the run
    let records = try RunFiles.readMetrics(dir.path)
    let first = try #require(records.first), last = try #require(records.last)
    #expect(last.step == 120 && first.testError > 0.7 && last.testError < first.testError - 0.1, "\(method): \(first.testError) → \(last.testError)")
    #expect((last.exchanges ?? 0) == (method == "mdownpour" ? 120 : 60))
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
