// easgd validate: on the quadratic objective the engine's round-robin runs and the round map are one system, so
// the observed outcome (diverged or not) agrees with the map's verdict at every grid point, for each axis; a
// real net's points are run as training runs and kept; bad requests are refused in one line.

import CommandTesting
import Foundation
import Testing
import Training

@Test(arguments: [
    ["--method", "easgd", "--alpha", "0.02:0.9"],
    ["--method", "downpour", "--tau-range", "1:16"],
    ["--method", "eamsgd", "--momentum-range", "0:0.95"],
    ["--method", "diloco", "--tau-range", "1:16"],
    ["--method", "async-diloco", "--tau-range", "1:16"],
    ["--method", "async-diloco", "--tau-range", "1:16", "--outer", "heavy-ball", "--outer-lr", "0.5", "--outer-momentum", "0.6"],
])
func onTheQuadraticTheEngineAndTheMapAgreeEverywhere(axis: [String]) throws {
    let out = try temporaryDirectory().appendingPathComponent("val")
    let r = try easgd(["validate", "--objective", "quadratic", "--h", "2", "--workers", "4", "--eta", "0.005:1.5", "--grid", "10x8",
                       "--steps", "400", "--json", "--out", out.path] + axis)
    #expect(r.status == 0, "\(r.stderr)")
    let o = try jsonObject(r.stdout)
    let points = try #require(o["points"] as? [[String: Any]])
    #expect(points.count >= 60)
    let diverged = points.filter { $0["observed"] as? String == "diverged" }.count
    #expect(diverged > 5 && diverged < points.count - 5, "\(axis): \(diverged) of \(points.count) diverged: both sides must be sampled")
    #expect(jsonNumber(o["agreement"]) == 1, "\(axis): \(points.filter { ($0["predicted_stable"] as? Bool) == ($0["observed"] as? String == "diverged") })")
    #expect(jsonNumber(o["h_max"]) == 2)
    // The baselines, counted here from the points: always converged scores the converged share, GD's rule the
    // points where (η·h_max < 2) is (converged); and with every verdict right, κ = 1.
    let converged = points.map { $0["observed"] as? String == "converged" }
    let etas = points.map { jsonNumber($0["eta"]) ?? .nan }
    let baselines = try #require(o["baselines"] as? [String: Any])
    let shareConverged = Double(converged.filter { $0 }.count) / Double(points.count)
    let shareGD = Double(zip(etas, converged).filter { ($0.0 * 2 < 2) == $0.1 }.count) / Double(points.count)
    #expect(jsonNumber(baselines["always_converged"]).map { abs($0 - shareConverged) < 1e-12 } == true)
    #expect(jsonNumber(baselines["gd_rule"]).map { abs($0 - shareGD) < 1e-12 } == true)
    #expect(jsonNumber(o["kappa"]).map { abs($0 - 1) < 1e-12 } == true, "\(String(describing: o["kappa"]))")
    for name in ["validation.json", "validation.csv"] {
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), "\(name)")
    }
}

/// A 2 × 2 grid of EASGD runs of the small net on 64 full-batch images, 4 steps each, two at a time, into `out`.
private func smallNetGrid(_ out: URL) throws -> [String] {
    ["validate", "--method", "easgd", "--workers", "2", "--eta", "0.01:3", "--alpha", "0.1:0.4", "--grid", "2x2",
     "--steps", "4", "--net", learnNet, "--data", try smallFashionMNIST.get().path, "--train-subset", "64",
     "--full-batch", "--jobs", "2", "--json", "--out", out.path]
}

@Test func aNetGridRunsEachPointOnceAndKeepsIt() throws {
    let out = try temporaryDirectory().appendingPathComponent("val")
    let arguments = try smallNetGrid(out)
    let r = try easgd(arguments)
    #expect(r.status == 0, "\(r.stderr)")
    let o = try jsonObject(r.stdout)
    let points = try #require(o["points"] as? [[String: Any]])
    #expect(points.count == 4 && (jsonNumber(o["h_max"]) ?? 0) > 0)
    // η = 0.01 does not diverge in 4 steps (its loss falls a little: converged or stalled); every outcome is one
    // of the three.
    #expect(points.filter { jsonNumber($0["eta"]) == 0.01 }.allSatisfy { $0["observed"] as? String != "diverged" })
    #expect(points.allSatisfy { ["converged", "stalled", "diverged"].contains($0["observed"] as? String ?? "") })
    #expect(o["agreement_on_divergence"] != nil)
    let again = try easgd(arguments)
    #expect(again.status == 0 && again.stderr.contains("4 of 4 points already run"), "\(again.stderr)")
    #expect(try jsonObject(again.stdout)["agreement"] as? Double == o["agreement"] as? Double)
}

@Test(arguments: [
    (["--method", "sgd", "--alpha", "0.1:0.5"], "validate maps easgd, eamsgd, downpour, diloco and async-diloco"),
    (["--method", "easgd", "--alpha", "0.1:0.5", "--tau-range", "1:4"], "exactly one second axis"),
    (["--method", "easgd", "--alpha", "0.1:0.5", "--grid", "1x4"], "at least 2 points"),
    (["--method", "downpour", "--alpha", "0.1:0.5"], "has no α"),
    (["--method", "easgd", "--alpha", "0.1:0.5", "--h-from", "/nonexistent/run"], "config.json"),
    (["--method", "easgd", "--alpha", "0.1:0.5", "--h-from", "DIVERGED"], "the run diverged"),
])
func badValidationRequestsAreRefused(arguments: [String], phrase: String) throws {
    var arguments = arguments
    if let k = arguments.firstIndex(of: "DIVERGED") { arguments[k] = try divergedRun.get().path }
    let out = try temporaryDirectory().appendingPathComponent("val").path
    let r = try easgd(["validate", "--eta", "0.01:1", "--steps", "3", "--out", out] + arguments)
    #expect(r.status != 0 && r.stderr.hasPrefix("easgd: ") && r.stderr.contains(phrase), "\(r.stderr)")
    #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
}

/// A parallel run that diverged (every worker stopped), for the refusals.
let divergedRun: Result<URL, any Error> = Result {
    let dir = try temporaryDirectory().appendingPathComponent("diverged")
    let r = try easgd(["train", "--method", "easgd", "--workers", "2", "--lr", "100", "--batch", "16", "--steps", "20", "--eval-every", "10",
                       "--net", learnNet, "--backend", "simulated", "--compute-seconds", "0.01", "--data", try smallFashionMNIST.get().path,
                       "--quiet", "--out", dir.path])
    guard r.status == 2 else { throw DataError("the diverging fixture run exited \(r.status): \(r.stderr)") }
    return dir
}

/// A point is reused only when every setting that determines it matches: after a grid at η 0.01…1, the same
/// directory asked for η 3…10 runs its points anew and gives what a fresh directory gives (there, every point
/// diverges), never the old points' outcomes.
@Test func aPointIsReusedOnlyWithTheSameSettings() throws {
    let root = try temporaryDirectory()
    func validate(_ eta: String, _ out: URL) throws -> (Run, [String]) {
        let r = try easgd(["validate", "--method", "easgd", "--workers", "2", "--eta", eta, "--alpha", "0.1:0.4", "--grid", "2x2",
                           "--steps", "4", "--net", learnNet, "--data", try smallFashionMNIST.get().path, "--train-subset", "64",
                           "--full-batch", "--jobs", "2", "--json", "--out", out.path])
        let points = (try? jsonObject(r.stdout)["points"] as? [[String: Any]]) ?? nil
        return (r, (points ?? []).map { $0["observed"] as? String ?? "?" })
    }
    let shared = root.appendingPathComponent("val")
    let (first, low) = try validate("0.01:1", shared)
    #expect(first.status == 0 && low.count == 4, "\(first.stderr)")
    let (second, high) = try validate("3:10", shared)
    #expect(second.status == 0 && second.stderr.contains("0 of 4 points already run"), "\(second.stderr)")
    let (fresh, expected) = try validate("3:10", root.appendingPathComponent("fresh"))
    #expect(fresh.status == 0 && high == expected && high.contains("diverged"), "\(high) against a fresh directory's \(expected)")
    // Both grids' points are kept: the first grid again runs nothing.
    let (third, again) = try validate("0.01:1", shared)
    #expect(third.stderr.contains("4 of 4 points already run") && again == low, "\(third.stderr)")
}

/// A point whose records were damaged (emptied, cut short) is named and run again, never judged by what is left.
@Test func aDamagedPointIsNamedAndRunAgain() throws {
    let out = try temporaryDirectory().appendingPathComponent("val")
    let arguments = try smallNetGrid(out)
    let r = try easgd(arguments)
    #expect(r.status == 0, "\(r.stderr)")
    let points = out.appendingPathComponent("points")
    let runs = files(in: points).filter { !$0.contains(".") }
    try #require(runs.count == 4)
    // One emptied, one cut to its first line.
    try Data().write(to: points.appendingPathComponent(runs[0]).appendingPathComponent("metrics.jsonl"))
    let cut = points.appendingPathComponent(runs[1]).appendingPathComponent("metrics.jsonl")
    let firstLine = try String(contentsOf: cut, encoding: .utf8).split(separator: "\n").first.map { $0 + "\n" } ?? ""
    try firstLine.write(to: cut, atomically: true, encoding: .utf8)
    let again = try easgd(arguments)
    #expect(again.status == 0 && again.stderr.contains("records are empty") && again.stderr.contains("run again")
            && again.stderr.contains("2 of 4 points already run"), "\(again.stderr)")
    #expect(!again.stdout.contains("no finite starting loss"))
    let before = try #require(try jsonObject(r.stdout)["points"] as? [[String: Any]]).map { $0["observed"] as? String }
    let after = try #require(try jsonObject(again.stdout)["points"] as? [[String: Any]]).map { $0["observed"] as? String }
    #expect(before == after)
}

/// DOWNPOUR over τ with a τ that does not divide the budget: in round-robin order each activation is τ steps, so a
/// point ends past its budget (4 steps at τ = 3: 6 per worker), which is the whole budget reached, not damage (the
/// make validation campaign stopped there on 2026-12-06: "records end at step 432, not 400").
@Test func aPointWhoseTauDoesNotDivideItsBudgetIsJudged() throws {
    let out = try temporaryDirectory().appendingPathComponent("val")
    let r = try easgd(["validate", "--method", "downpour", "--workers", "2", "--eta", "0.01:0.1", "--tau-range", "1:3", "--grid", "2x2",
                       "--steps", "4", "--net", learnNet, "--data", try smallFashionMNIST.get().path, "--train-subset", "64",
                       "--full-batch", "--jobs", "2", "--json", "--out", out.path])
    #expect(r.status == 0, "\(r.stderr)")
    let points = try #require(try jsonObject(r.stdout)["points"] as? [[String: Any]])
    #expect(points.count == 4 && points.allSatisfy { $0["observed"] is String })
    let again = try easgd(["validate", "--method", "downpour", "--workers", "2", "--eta", "0.01:0.1", "--tau-range", "1:3", "--grid", "2x2",
                           "--steps", "4", "--net", learnNet, "--data", try smallFashionMNIST.get().path, "--train-subset", "64",
                           "--full-batch", "--jobs", "2", "--json", "--out", out.path])
    #expect(again.status == 0 && again.stderr.contains("4 of 4 points already run"), "\(again.stderr)")
}

/// A second validate on a directory in use is refused (64) and leaves the first one's points alone.
@Test func aSecondValidateOnTheSameDirectoryIsRefused() throws {
    let root = try temporaryDirectory()
    let out = root.appendingPathComponent("val"), log = root.appendingPathComponent("log")
    let arguments = ["validate", "--method", "easgd", "--workers", "2", "--eta", "0.01:1", "--alpha", "0.1:0.4", "--grid", "3x3",
                     "--steps", "40", "--net", learnNet, "--data", try smallFashionMNIST.get().path, "--train-subset", "64",
                     "--full-batch", "--jobs", "1", "--out", out.path]
    let first = try launch(arguments, log: log)
    // Once the first has started its points, the second is refused.
    let deadline = Date().addingTimeInterval(120)
    while files(in: out.appendingPathComponent("points")).isEmpty && Date() < deadline { usleep(20_000) }
    let second = try easgd(arguments)
    #expect(second.status == 64 && second.stderr.contains("in use by another easgd process"), "\(second.stderr)")
    first.waitUntilExit()
    #expect(first.terminationStatus == 0, "\((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
}

/// On the quadratic the engine and the map are one system, so each row's bisection must bracket the map's η*
/// (computed by `easgd radius --solve eta`, a separate path: the map's root along η at h = 2) within the tolerance.
@Test(arguments: [
    ["--method", "easgd", "--alpha", "0.05:0.9"],
    ["--method", "downpour", "--tau-range", "1:16"],
    ["--method", "eamsgd", "--momentum-range", "0:0.9"],
])
func onTheQuadraticBisectionFindsTheMapsCriticalEta(axis: [String]) throws {
    let out = try temporaryDirectory().appendingPathComponent("bisect")
    let r = try easgd(["validate", "--objective", "quadratic", "--h", "2", "--workers", "4", "--eta", "0.005:2", "--grid", "1x4",
                       "--steps", "2000", "--bisect", "--tolerance", "1.05", "--json", "--out", out.path] + axis)
    #expect(r.status == 0, "\(r.stderr)")
    let o = try jsonObject(r.stdout)
    #expect(o["mode"] as? String == "bisect" && o["baselines"] != nil && o["kappa"] != nil)
    let rows = try #require(o["rows"] as? [[String: Any]])
    #expect(rows.count == 4)
    let name = axis[2] == "--alpha" ? "alpha" : axis[2] == "--tau-range" ? "tau" : "momentum"
    for row in rows {
        let low = try #require(jsonNumber(row["eta_low"])), high = try #require(jsonNumber(row["eta_high"]))
        let second = try #require(jsonNumber(row[name]))
        let flag = name == "alpha" ? "--alpha" : name == "tau" ? "--tau" : "--momentum"
        let value = name == "tau" ? String(Int(second)) : "\(second)"
        // validate's fixed α where α is not the axis: β/p = 0.9/4.
        let fixed = axis[1] == "eamsgd" ? ["--alpha", "0.225"] : []
        let solved = try easgd(["radius", "--method", axis[1], "--workers", "4", "--h", "2", flag, value, "--solve", "eta", "--json"] + fixed)
        #expect(solved.status == 0, "\(solved.stderr)")
        let crossings = try #require(try jsonObject(solved.stdout)["crossings"] as? [[String: Any]])
        let etaStar = try #require(crossings.first { $0["becomes_unstable"] as? Bool == true }.flatMap { jsonNumber($0["value"]) })
        #expect(high / low <= 1.05 + 1e-12 && low <= etaStar * (1 + 1e-9) && etaStar <= high * (1 + 1e-9),
                "\(name) = \(second): bracket \(low)–\(high), the map's η* \(etaStar)")
        #expect(jsonNumber(row["eta_star"]).map { abs($0 / etaStar - 1) < 1e-6 } == true)
        #expect(row["outcome"] as? String == "bracketed")
    }
    let csv = try String(contentsOf: out.appendingPathComponent("validation.csv"), encoding: .utf8)
    #expect(csv.hasPrefix("\(name),eta_c,eta_low,eta_high,eta_star,eta_c_over_eta_star,settled_h_max,eta_star_plateau,outcome,runs"))
}

/// A net bisection's runs are kept like a grid's: run again, it finds every one (the midpoints follow from the
/// outcomes), and a row whose lowest η already diverges says so.
@Test func aNetBisectionFindsItsRunsAgain() throws {
    let out = try temporaryDirectory().appendingPathComponent("bisect-net")
    let arguments = ["validate", "--method", "easgd", "--workers", "2", "--eta", "0.01:30", "--alpha", "0.2:0.4", "--grid", "1x1",
                     "--steps", "4", "--net", learnNet, "--data", try smallFashionMNIST.get().path, "--train-subset", "64",
                     "--full-batch", "--jobs", "2", "--bisect", "--tolerance", "2", "--json", "--out", out.path]
    let r = try easgd(arguments)
    #expect(r.status == 0, "\(r.stderr)")
    let rows = try #require(try jsonObject(r.stdout)["rows"] as? [[String: Any]])
    let runs = try #require(rows.first.flatMap { jsonNumber($0["runs"]) })
    #expect(rows.count == 1 && runs >= 2)
    let again = try easgd(arguments)
    #expect(again.status == 0, "\(again.stderr)")
    // Every batch of runs found already made: each "N of N points already run …; 0 to run" line.
    let batches = again.stderr.split(separator: "\n").filter { $0.contains(" to run,") }
    #expect(!batches.isEmpty && batches.allSatisfy { $0.contains("; 0 to run,") }, "\(again.stderr)")
    let rowsAgain = try #require(try jsonObject(again.stdout)["rows"] as? [[String: Any]])
    #expect(jsonNumber(rowsAgain.first?["eta_c"]) == jsonNumber(rows.first?["eta_c"]))
    // Where the last run that trained settled: its h_max as `easgd advise` measures that run (found by its
    // arguments), and the map's η* there.
    do {
        let low = try #require(jsonNumber(rows.first?["eta_low"]))        // η = 0.01 trains for 4 steps
        let points = out.appendingPathComponent("points")
        let args = try FileManager.default.contentsOfDirectory(atPath: points.path).filter { $0.hasSuffix(".args") }
        let run = try #require(args.first { name in
            ((try? String(contentsOf: points.appendingPathComponent(name), encoding: .utf8)) ?? "").contains("--lr\n\(low)\n")
        })
        let advised = try easgd(["advise", points.appendingPathComponent(String(run.dropLast(5))).path, "--json"])
        let h = try #require(jsonNumber(try jsonObject(advised.stdout)["h_max"]))
        let settled = try #require(jsonNumber(rows.first?["settled_h_max"]))
        #expect(abs(settled / h - 1) < 1e-9, "settled \(settled), advise \(h)")
        #expect((jsonNumber(rows.first?["eta_star_plateau"]) ?? 0) > 0)
    }
}
