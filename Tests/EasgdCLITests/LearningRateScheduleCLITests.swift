// Learning-rate schedules end to end, on every backend: the rate each record says is the closed form's at its
// step; a schedule is applied (a run that changes its rate by hand on resume equals, bit for bit, a straight run
// whose schedule makes the same change); the simulated backend and one-worker MPI give the same records; the
// threads and MPI backends apply a cut at the workers' clocks; a plateau's state survives a resume; advise reads
// the rate in force; bad schedules are refused.

import CommandTesting
import Dynamics
import Foundation
import NumericTesting
import Testing
import Training

private let tinyNet = "(1,28)C(4,24)P(4,12)S(10,1)"
/// 512 training images in batches of 16: 32 steps an epoch.
private let small = ["--net", tinyNet, "--batch", "16", "--train-subset", "512", "--quiet"]

private func records(_ dir: URL) throws -> [[String: Any]] {
    try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n").map {
        try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
}

private func number(_ record: [String: Any], _ key: String) -> Double? { record[key].flatMap { Double("\($0)") } }

/// A record's fields as text, without the host's clock (and without `omit`).
private func fields(_ record: [String: Any], omit: Set<String> = []) -> [String: String] {
    var out: [String: String] = [:]
    for (k, v) in record where !["seconds", "wall_seconds", "communication_seconds"].contains(k) && !omit.contains(k) { out[k] = "\(v)" }
    return out
}

@Test func aSequentialRunRecordsTheScheduledRateAtEveryRecord() throws {
    let dir = try temporaryDirectory().appendingPathComponent("run")
    let r = try easgd(["train", "--method", "msgd", "--momentum", "0.9", "--lr", "0.02", "--steps", "80", "--eval-every", "8",
                       "--lr-schedule", "step:1,2:0.1", "--warmup", "4", "--threads", "1", "--out", dir.path] + small)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("η = 0.02 (schedule step:1,2:0.1 --warmup 4)"), "\(r.stderr)")
    let all = try records(dir)
    #expect(all.count == 11)
    for record in all {
        // The rate of the step after the record: η · 0.1 per milestone reached (epochs 1, 2 = steps 32, 64), the
        // first 4 steps ramped by (t + 1)/4.
        let t = try #require(number(record, "total_steps"))
        let expected = 0.02 * pow(0.1, Double((t >= 32 ? 1 : 0) + (t >= 64 ? 1 : 0))) * min(1, (t + 1) / 4)
        #expect(isClose(try #require(number(record, "eta")), expected, relative: 1e-15), "step \(t)")
    }
    let csv = try String(contentsOf: dir.appendingPathComponent("metrics.csv"), encoding: .utf8)
    #expect(csv.hasPrefix("total_steps,") && csv.split(separator: "\n")[0].hasSuffix(",eta"))
    let config = try String(contentsOf: dir.appendingPathComponent("config.json"), encoding: .utf8)
    #expect(config.contains("\"shape\" : \"step:1,2:0.1\"") && config.contains("\"warmup\" : 4"))
}

/// η = 0.02 for 32 steps (each worker's), then 0.005: once by a step schedule (epoch 1, factor 0.25), once by hand
/// (stopped at 32, resumed with --lr 0.005). 0.005 is 0.02/4 exactly in binary, so both take the same steps, and
/// every record but the learning rate the split run's record at the change said before it must be the same, bit for
/// bit. Returns the split run's directory.
private func aNewRateOnResumeEqualsAStraightRun(_ common: [String], changeAt total: Int) throws -> URL {
    let root = try temporaryDirectory()
    let straight = root.appendingPathComponent("straight"), split = root.appendingPathComponent("split")
    #expect(try easgd(common + ["--steps", "64", "--lr-schedule", "step:1:0.25", "--out", straight.path]).status == 0)
    #expect(try easgd(common + ["--steps", "32", "--out", split.path]).status == 0)
    let resumed = try easgd(["train", "--resume", split.path, "--steps", "64", "--lr", "0.005", "--quiet"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(resumed.stderr.contains("the learning rate from step \(total) on: η = 0.02 → 0.005"), "\(resumed.stderr)")
    let a = try records(straight), b = try records(split)
    #expect(a.count == 9 && b.count == 9, "\(a.count) and \(b.count) records")
    for (x, y) in zip(a, b) {
        let step = number(x, "total_steps")
        #expect(fields(x, omit: step == Double(total) ? ["eta"] : []) == fields(y, omit: step == Double(total) ? ["eta"] : []),
                "step \(step ?? -1)")
    }
    #expect(number(b[4], "eta") == 0.02 && number(b[5], "eta") == 0.005 && number(a[4], "eta") == 0.005)
    return split
}

@Test func aNewRateOnResumeEqualsAStraightRunWhoseScheduleMakesTheSameChange() throws {
    let split = try aNewRateOnResumeEqualsAStraightRun(["train", "--method", "msgd", "--momentum", "0.9", "--lr", "0.02",
                                                        "--eval-every", "8", "--threads", "1"] + small, changeAt: 32)
    // The change is in the run's config, dated, and `runs` shows it.
    let config = try JSONSerialization.jsonObject(with: Data(contentsOf: split.appendingPathComponent("config.json"))) as? [String: Any]
    let change = try #require(((config?["settings"] as? [String: Any])?["changes"] as? [[String: Any]])?.last)
    #expect(change["at_total_steps"] as? Int == 32 && (change["eta"] as? [Double]) == [0.02, 0.005] && change["date"] is String, "\(change)")
    let runs = try easgd(["runs", split.path])
    #expect(runs.stdout.contains("η 0.02 → 0.005 at step 32"), "\(runs.stdout)")
}

@Test func aParallelRunResumedWithANewRateEqualsAStraightRunWhoseScheduleMakesTheSameChange() throws {
    // The same on the simulated backend, p = 2: each worker's step schedule cuts at its own step 32 (epoch 1), where
    // the split run stopped (64 worker steps in total). Until 2026-12-06 a parallel run refused the new rate: its
    // checkpoint's settings held the old one.
    _ = try aNewRateOnResumeEqualsAStraightRun(["train", "--method", "eamsgd", "--workers", "2", "--backend", "simulated",
                                                "--momentum", "0.9", "--lr", "0.02", "--eval-every", "16"] + small, changeAt: 64)
}

@Test(.enabled(if: mpirun != nil), arguments: ["eamsgd", "mdownpour"])
func theSimulatorAndOneWorkerMPIApplyTheSameSchedule(method: String) throws {
    // τ = 1: every step is a request, so rank 0 evaluates the center at exactly the simulator's steps. The
    // evaluations (losses, error), the exchanges and the rate in force must be the same in every record. EAMSGD's
    // worker takes its rate from its clock; MDOWNPOUR's master applies the gradient at the rate the worker sends.
    let root = try temporaryDirectory()
    let common = ["train", "--method", method] + (method == "eamsgd" ? ["--tau", "1"] : []) + ["--momentum", "0.5", "--lr", "0.02", "--workers", "1",
                  "--steps", "80", "--eval-every", "8", "--lr-schedule", "step:1,2:0.3", "--warmup", "5"] + small
    let simulated = root.appendingPathComponent("simulated"), mpi = root.appendingPathComponent("mpi")
    let s = try easgd(common + ["--backend", "simulated", "--compute-seconds", "0.01", "--out", simulated.path])
    #expect(s.status == 0, "\(s.stderr)")
    let m = try mpiRun(2, common + ["--backend", "mpi", "--out", mpi.path])
    #expect(m.status == 0, "\(m.stderr)")
    let a = try records(simulated), b = try records(mpi)
    #expect(a.count == 11 && b.count == 11)
    for (x, y) in zip(a, b) {
        for key in ["total_steps", "samples", "test_loss", "test_error", "train_loss", "exchanges", "eta"] {
            #expect("\(x[key] ?? "-")" == "\(y[key] ?? "-")", "\(key) at step \(x["total_steps"] ?? "?")")
        }
    }
    #expect(Set(a.compactMap { number($0, "eta") }).count == 4)      // 0.004 (the ramp, first record), 0.02, 0.006, 0.0018
}

/// The records of DOWNPOUR on p = 2 workers (τ = 1, 64 steps each) on `backend` with the given rate and schedule.
private func downpourOnTwoWorkers(lr: String, evalEvery: String, schedule: String, backend: String) throws -> [[String: Any]] {
    let dir = try temporaryDirectory().appendingPathComponent("run")
    let arguments = ["train", "--method", "downpour", "--tau", "1", "--lr", lr, "--workers", "2", "--steps", "64",
                     "--eval-every", evalEvery, "--lr-schedule", schedule, "--backend", backend, "--out", dir.path] + small
    let r = try backend == "mpi" ? mpiRun(3, arguments) : { let run = try easgd(arguments); return (run.status, run.stderr) }()
    #expect(r.status == 0, "\(r.stderr)")
    return try records(dir)
}

@Test(.enabled(if: mpirun != nil), arguments: ["threads", "mpi"])
func aCutToNothingStopsTheCenterAtTheWorkersMilestone(backend: String) throws {
    // DOWNPOUR with p = 2, τ = 1: the center moves only by the workers' pushes of −η·g. From each worker's epoch 1
    // (its step 32) on, η is 10⁻¹² of itself, so once both workers are past it the center stands still (in Float32)
    // and every later evaluation gives the same test loss; before, it falls.
    let all = try downpourOnTwoWorkers(lr: "0.05", evalEvery: "8", schedule: "step:1:1e-12", backend: backend)
    let after = all.filter { (($0["worker_steps"] as? [Int]) ?? []).allSatisfy { $0 >= 33 } }
    let before = all.filter { (($0["worker_steps"] as? [Int]) ?? [0]).allSatisfy { $0 <= 31 } }
    #expect(after.count >= 2 && before.count >= 2, "\(all.map { $0["worker_steps"] ?? "-" })")
    #expect(Set(after.map { "\($0["test_loss"] ?? "-")" }).count == 1, "\(after.map { $0["test_loss"] ?? "-" })")
    #expect(Set(before.map { "\($0["test_loss"] ?? "-")" }).count == before.count)
}

@Test(.enabled(if: mpirun != nil), arguments: ["threads", "mpi"])
func aPlateausCutReachesTheWorkersOfTheAsynchronousBackends(backend: String) throws {
    // DOWNPOUR at η = 0.3 stalls soon, and plateau:1e-6:0 then cuts η a millionfold at each stalled evaluation:
    // once the cuts reach the workers (the threads tester's shared scale, MPI's rate message from rank 0), the
    // center stands still and the last evaluations give one test loss. Without them it goes on moving.
    let all = try downpourOnTwoWorkers(lr: "0.3", evalEvery: "4", schedule: "plateau:0.000001:0", backend: backend)
    let rates = all.compactMap { number($0, "eta") }
    #expect(rates.first == 0.3 && rates.count == all.count && (rates.dropLast(6).last ?? 1) < 1e-6, "\(rates)")
    #expect(Set(all.suffix(3).map { "\($0["test_loss"] ?? "-")" }).count == 1, "\(all.suffix(3).map { $0["test_loss"] ?? "-" })")
}

@Test func aPlateauScheduleResumesToTheStraightRunsRatesAndNumbers() throws {
    // plateau:0.5:0 cuts η at every evaluation whose train_loss is no improvement; at η = 0.3 the loss stalls often.
    // A run stopped at 40 steps per worker and resumed must go on with the same scale (rebuilt from its records):
    // the same records as a straight run, bit for bit (simulated), and the rates the rule gives on those losses.
    let root = try temporaryDirectory()
    let common = ["train", "--method", "easgd", "--tau", "2", "--lr", "0.3", "--workers", "2", "--eval-every", "8",
                  "--lr-schedule", "plateau:0.5:0", "--backend", "simulated", "--compute-seconds", "0.01"] + small
    let straight = root.appendingPathComponent("straight"), split = root.appendingPathComponent("split")
    #expect(try easgd(common + ["--steps", "80", "--out", straight.path]).status == 0)
    #expect(try easgd(common + ["--steps", "40", "--out", split.path]).status == 0)
    let resumed = try easgd(["train", "--resume", split.path, "--steps", "80", "--quiet"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    let a = try records(straight), b = try records(split)
    #expect(a.count == b.count && a.count == 21)
    for (x, y) in zip(a, b) { #expect(fields(x) == fields(y), "step \(x["total_steps"] ?? "?")") }
    // The rule, restated: best train loss so far; no improvement (not below best · (1 − 1e-4)) halves the scale.
    var best = Double.infinity, scale = 1.0, cuts = 0
    for record in a {
        let loss = try #require(number(record, "train_loss"))
        if loss < best * (1 - 1e-4) { best = loss } else { scale *= 0.5; cuts += 1 }
        #expect(number(record, "eta") == 0.3 * scale, "step \(record["total_steps"] ?? "?")")
    }
    #expect(cuts >= 1 && cuts < a.count - 1, "\(cuts) cuts: the test needs some and not all")
    // And the cut is applied: the same run at a constant η = 0.3 has the same records up to the first cut (made
    // at an evaluation, for the steps after it) and another next one.
    let constant = root.appendingPathComponent("constant")
    #expect(try easgd(Array(common.filter { $0 != "--lr-schedule" && $0 != "plateau:0.5:0" }) + ["--steps", "80", "--out", constant.path]).status == 0)
    let c = try records(constant)
    let cut = try #require(a.firstIndex { number($0, "eta") != 0.3 })
    for k in 0...cut { #expect(fields(a[k], omit: ["eta"]) == fields(c[k], omit: ["eta"]), "record \(k)") }
    #expect(cut + 1 < a.count && number(a[cut + 1], "test_loss") != number(c[cut + 1], "test_loss"))
}

@Test func adviseReadsTheRateInForceAtTheCheckpoint() throws {
    let dir = try temporaryDirectory().appendingPathComponent("run")
    let train = try easgd(["train", "--method", "msgd", "--momentum", "0.9", "--lr", "0.01", "--steps", "40",
                           "--lr-schedule", "step:1:0.1", "--threads", "1", "--out", dir.path] + small)
    #expect(train.status == 0, "\(train.stderr)")
    let r = try easgd(["advise", dir.path, "--batch", "32", "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let o = try jsonObject(r.stdout)
    let hMax = try #require(jsonNumber(o["h_max"])), radius = try #require(jsonNumber(o["spectral_radius"]))
    // Step 40 is past epoch 1 (step 32): η = 0.001 is in force, and the map is read at ηh = 0.001·h_max.
    #expect(jsonNumber(o["eta"]) == 0.001)
    #expect(isClose(radius, SequentialStability.radius(etaH: 0.001 * hMax, momentum: 0.9), relative: 1e-12))
    let text = try easgd(["advise", dir.path, "--batch", "32"])
    #expect(text.stdout.contains("η = 0.001 (in force at the checkpoint; base η = 0.01)"), "\(text.stdout)")
}

@Test(arguments: [
    (["--lr-schedule", "linear"], "--lr-schedule linear: not one of constant, step:AT1,AT2,...:FACTOR"),
    (["--lr-schedule", "step:2,1:0.1"], "the epochs must be positive and increasing"),
    (["--lr-schedule", "cosine", "--minutes", "1"], "cosine anneals over the budget's steps: give --steps or --epochs"),
    (["--warmup", "-3", "--steps", "5"], "--warmup must be between 0 and"),
])
func badSchedulesAreRefusedBeforeAnythingRuns(extra: [String], message: String) throws {
    let dir = try temporaryDirectory().appendingPathComponent("run")
    let r = try easgd(["train", "--method", "sgd", "--lr", "0.01", "--net", tinyNet, "--out", dir.path] + extra)
    #expect(r.status == 64 && r.stderr.hasPrefix("easgd: ") && r.stderr.contains(message), "\(r.status) \(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.path))
}
