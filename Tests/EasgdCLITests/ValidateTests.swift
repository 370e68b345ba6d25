// easgd validate: on the quadratic objective the engine's round-robin runs and the round map are one system, so
// the observed outcome (diverged or not) agrees with the map's verdict at every grid point, for each axis; a
// real net's points are run as training runs and kept; bad requests are refused in one line.

import Foundation
import Testing
import Training

@Test(arguments: [
    ["--method", "easgd", "--alpha", "0.02:0.9"],
    ["--method", "downpour", "--tau-range", "1:16"],
    ["--method", "eamsgd", "--momentum-range", "0:0.95"],
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
    for name in ["validation.json", "validation.csv"] {
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), "\(name)")
    }
}

@Test func aNetGridRunsEachPointOnceAndKeepsIt() throws {
    let out = try temporaryDirectory().appendingPathComponent("val")
    let arguments = ["validate", "--method", "easgd", "--workers", "2", "--eta", "0.01:3", "--alpha", "0.1:0.4", "--grid", "2x2",
                     "--steps", "4", "--net", learnNet, "--data", try smallFashionMNIST.get().path, "--train-subset", "64",
                     "--full-batch", "--jobs", "2", "--json", "--out", out.path]
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
    (["--method", "sgd", "--alpha", "0.1:0.5"], "validate maps easgd, eamsgd and downpour"),
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
