// Exit statuses follow the README's table in every command (a setting that cannot be used is 64, whichever layer
// finds it, so that supervise does not retry it), negative numbers reach the options' own range checks, `runs`
// counts steps per worker across an elastic restart, every reader names the file and what it expected, and a
// checkpoint of another run is refused wherever one is read.

import CommandTesting
import Foundation
import Testing
import Records
import Training

/// Small runs for the refusals, made once: a simulated EASGD run (p = 2), a sync-EASGD run, a sequential run and a
/// sequential run of another seed.
let refusalFixture: Result<URL, any Error> = Result {
    let root = try temporaryDirectory()
    let common = ["--net", learnNet, "--batch", "16", "--data", try smallFashionMNIST.get().path, "--quiet"]
    let runs: [(String, [String])] = [
        ("easgd", ["--method", "easgd", "--workers", "2", "--lr", "0.02", "--steps", "4", "--backend", "simulated", "--compute-seconds", "0.01"]),
        ("sync", ["--method", "sync-easgd", "--workers", "2", "--lr", "0.02", "--steps", "4", "--backend", "simulated", "--compute-seconds", "0.01"]),
        ("seq", ["--method", "msgd", "--lr", "0.01", "--steps", "4"]),
        ("seq2", ["--method", "msgd", "--lr", "0.01", "--steps", "4", "--seed", "2"]),
    ]
    for (name, arguments) in runs {
        let r = try easgd(["train"] + arguments + common + ["--out", root.appendingPathComponent(name).path])
        guard r.status == 0 else { throw SettingsError("fixture \(name): \(r.stderr)") }
    }
    // A run whose config says MPI, to be resumed without mpirun.
    let copy = root.appendingPathComponent("mpi-copy")
    try FileManager.default.copyItem(at: root.appendingPathComponent("easgd"), to: copy)
    let config = copy.appendingPathComponent("config.json")
    try String(contentsOf: config, encoding: .utf8).replacingOccurrences(of: "\"simulated\"", with: "\"mpi\"")
        .write(to: config, atomically: true, encoding: .utf8)
    return root
}

@Test(arguments: [
    // Settings found after parsing, in the library: each was exit 1, and supervise retried it.
    (["train", "--resume", "RUNS/easgd", "--workers", "0"], "--workers must be between 1 and 64"),
    (["train", "--resume", "RUNS/easgd", "--workers", "257"], "--workers must be between 1 and 64"),
    (["train", "--resume", "RUNS/sync", "--workers", "3"], "resume with their own p = 2"),
    (["train", "--resume", "RUNS/seq", "--workers", "2"], "--workers cannot be combined with --resume of a sequential run"),
    (["validate", "--method", "sgd", "--eta", "0.1:1", "--alpha", "0.1:0.5", "--steps", "3", "--out", "RUNS/v"], "validate maps easgd"),
    (["validate", "--method", "easgd", "--eta", "0.1:1", "--alpha", "0.1:0.5", "--grid", "200x200", "--steps", "3", "--objective", "quadratic",
      "--out", "RUNS/v"], "at most 10000 points"),
    (["plot", "RUNS/easgd", "RUNS/seq", "--out", "RUNS/p"], "one time axis cannot hold both"),
    (["train", "--resume", "RUNS/mpi-copy", "--steps", "8"], "is an MPI run: continue it under mpirun"),
    // One limit per quantity (Elastic/Limits): maps take p ≤ 256, training and validate's runs p ≤ 64.
    (["radius", "--method", "admm", "--workers", "257", "--eta", "0.1", "--rho", "1"], "--workers must be between 1 and 256 (got 257)"),
    (["train-quadratic", "--method", "easgd", "--workers", "300", "--lr", "0.1", "--steps", "10", "--out", "RUNS/q"], "--workers must be between 1 and 256 (got 300)"),
    (["validate", "--method", "easgd", "--workers", "65", "--eta", "0.1:1", "--alpha", "0.1:0.5", "--steps", "3", "--out", "RUNS/v"],
     "--workers must be between 1 and 64 (got 65)"),
    (["train", "--method", "easgd", "--workers", "65", "--lr", "0.1", "--steps", "2", "--out", "RUNS/n"], "--workers must be between 1 and 64 (got 65)"),
    // Negative numbers meet the options' own checks (were "Missing value for '--x'").
    (["supervise", "--max-restarts", "-1", "--", "easgd", "train", "--out", "x"], "--max-restarts must be between 0 and 1000"),
    (["train", "--method", "easgd", "--lr", "0.1", "--servers", "-1", "--steps", "2", "--out", "RUNS/n"], "--servers must be between 1 and 64"),
    (["radius", "--method", "easgd", "--workers", "3", "--eta", "0.5", "--alpha", "0.3", "--h", "-1"], "--h must be positive"),
    (["train", "--method", "msgd", "--lr", "0.1", "--sharpness-every", "-5", "--steps", "3", "--out", "RUNS/n"], "--sharpness-every must be between"),
])
func settingsErrorsExitWith64(arguments: [String], phrase: String) throws {
    let root = try refusalFixture.get()
    let r = try easgd(arguments.map { $0.replacingOccurrences(of: "RUNS", with: root.path) })
    #expect(r.status == 64, "\(arguments): exit \(r.status): \(r.stderr)")
    #expect(r.stderr.hasPrefix("easgd: ") && r.stderr.contains(phrase) && r.stderr.split(separator: "\n").count == 1, "\(arguments): \(r.stderr)")
}

/// Each class of the README's table once more, by what causes it: 1 a file that cannot be read, 2 a diverged run,
/// 3 no gnuplot, 64 settings (above), 128 + n a signal (the supervisor and reliability tests); 0 everywhere else.
@Test func runtimeDivergedAndFigureStatusesFollowTheTable() throws {
    let root = try refusalFixture.get()
    let unreadable = try easgd(["runs", root.appendingPathComponent("nothing").path])
    #expect(unreadable.status == 1 && unreadable.stderr.hasPrefix("easgd: "), "\(unreadable.stderr)")
    let diverged = try easgd(["train", "--method", "sgd", "--lr", "1000000", "--net", learnNet, "--batch", "16", "--steps", "20",
                              "--data", try smallFashionMNIST.get().path, "--quiet", "--out", root.appendingPathComponent("bad").path])
    #expect(diverged.status == 2, "\(diverged.stderr)")
    let figure = try easgd(["map", "--method", "easgd", "--workers", "2", "--eta", "0.1:1", "--alpha", "0.1:0.5", "--grid", "4x4",
                            "--out", root.appendingPathComponent("m").path], environment: ["EASGD_GNUPLOT": "/nonexistent/gnuplot"])
    #expect(figure.status == 3, "\(figure.stderr)")
}

/// `runs` gives steps per worker from the workers' clocks: 3 workers for 60 steps, then 1 worker to 100, is 100
/// steps per worker, not the records' 220 worker steps in all over the new p (was 220).
@Test func runsCountsStepsPerWorkerAcrossAnElasticRestart() throws {
    let dir = try temporaryDirectory().appendingPathComponent("run")
    let first = try easgd(["train", "--method", "easgd", "--workers", "3", "--lr", "0.02", "--steps", "60", "--net", learnNet, "--batch", "16",
                           "--backend", "simulated", "--compute-seconds", "0.01", "--data", try smallFashionMNIST.get().path,
                           "--quiet", "--out", dir.path])
    #expect(first.status == 0, "\(first.stderr)")
    let narrower = try easgd(["train", "--resume", dir.path, "--workers", "1", "--steps", "100", "--quiet"])
    #expect(narrower.status == 0 && narrower.stderr.contains("elastic restart: p = 3 → 1"), "\(narrower.stderr)")
    let row = try #require(try jsonArray(try easgd(["runs", dir.path, "--json"]).stdout).first)
    #expect(jsonNumber(row["steps_per_worker"]) == 100 && jsonNumber(row["workers"]) == 1 && row["status"] as? String == "completed", "\(row)")
    // The records' step is the worker steps done in all: 3 × 60 before the restart, 40 after.
    #expect(try RunFiles.readMetrics(dir.path).last?.step == 220)
}

/// Readers name the file and what they expected, in words (no `DecodingError.keyNotFound: …`); a checkpoint of
/// another run, even of the same net, is refused by advise.
@Test func readersSayWhatTheyExpectedAndAdviseRefusesAnotherRunsCheckpoint() throws {
    let root = try refusalFixture.get()
    let broken = root.appendingPathComponent("broken")
    try FileManager.default.copyItem(at: root.appendingPathComponent("easgd"), to: broken)
    let config = broken.appendingPathComponent("config.json")
    let text = try String(contentsOf: config, encoding: .utf8)
    let mistyped = text.replacingOccurrences(of: "\"workers\" : 2", with: "\"workers\" : \"two\"")
    try #require(mistyped != text)
    try mistyped.write(to: config, atomically: true, encoding: .utf8)
    let runs = try easgd(["runs", broken.path])
    #expect(runs.status == 1 && runs.stderr.contains("config.json: not a valid run configuration (the field settings.workers is not a whole number)")
            && !runs.stderr.contains("DecodingError"), "\(runs.stderr)")
    for (run, other, kind) in [("seq", "easgd", "a parallel run's"), ("easgd", "seq", "a sequential run's")] {
        let r = try easgd(["advise", root.appendingPathComponent(run).path, "--checkpoint",
                           root.appendingPathComponent(other).appendingPathComponent("checkpoint.bin").path])
        #expect(r.status == 1 && r.stderr.contains("holds \(kind) checkpoint, not the kind this needs") && !r.stderr.contains("DecodingError"), "\(r.stderr)")
    }
    let foreign = try easgd(["advise", root.appendingPathComponent("seq").path, "--checkpoint",
                             root.appendingPathComponent("seq2").appendingPathComponent("checkpoint.bin").path])
    #expect(foreign.status == 1 && foreign.stderr.contains("belongs to another run") && foreign.stderr.contains("seq/config.json"), "\(foreign.stderr)")
}
