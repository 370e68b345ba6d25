// easgd train with parallel methods (issue 5, first part): both backends learn on Fashion-MNIST, the records
// carry exchanges, and bad combinations are refused.

import Foundation
import Testing
import Training

@Test(arguments: [("easgd", "simulated"), ("downpour", "threads"), ("sync-easgd", "simulated")])
func parallelTrainingRunsLearn(method: String, backend: String) throws {
    let dir = try temporaryDirectory().appendingPathComponent("run")
    let r = try easgd(["train", "--method", method, "--workers", "2", "--tau", "2", "--lr", "0.02", "--net", learnNet,
                       "--batch", "32", "--steps", "120", "--eval-every", "80", "--backend", backend, "--quiet",
                       "--compute-seconds", "0.01", "--out", dir.path].filter { !(backend == "threads" && ($0 == "--compute-seconds" || $0 == "0.01")) })
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
