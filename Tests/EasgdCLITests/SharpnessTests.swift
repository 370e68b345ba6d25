// Sharpness during training (`--sharpness-every`): measuring never changes the trajectory (bit-identical
// checkpoints and records with and without it), its value at the last step is what `advise` measures on the
// final checkpoint, and its bad uses are refused in one line.

import CommandTesting
import Foundation
import Testing
import Training

/// Every buffer of a checkpoint, read as the header-agnostic reader sees it.
private func buffers(_ dir: URL) throws -> [String: [Float]] {
    struct Header: Codable {}
    return try Checkpoint.read(dir.appendingPathComponent("checkpoint.bin").path, as: Header.self).buffers
}

@Test(arguments: ["sequential", "simulated"])
func measuringSharpnessLeavesTheTrajectoryBitIdentical(kind: String) throws {
    let root = try temporaryDirectory()
    let data = try smallFashionMNIST.get().path
    let method = kind == "sequential" ? ["--method", "msgd", "--momentum", "0.9", "--threads", "1"]
                                      : ["--method", "easgd", "--workers", "2", "--tau", "2", "--backend", "simulated", "--compute-seconds", "0.01"]
    let common = ["train"] + method + ["--lr", "0.02", "--net", learnNet, "--batch", "16", "--steps", "8", "--eval-every", "4",
                                       "--data", data, "--quiet"]
    let plain = root.appendingPathComponent("plain"), measured = root.appendingPathComponent("measured")
    #expect(try easgd(common + ["--out", plain.path]).status == 0)
    let extra = kind == "sequential" ? ["--sharpness-every", "3"] : ["--sharpness-every", "6", "--sharpness-of", "workers"]
    let r = try easgd(common + extra + ["--out", measured.path])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(try buffers(plain) == buffers(measured), "\(kind): the checkpoints differ")
    let a = try RunFiles.readMetrics(plain.path), b = try RunFiles.readMetrics(measured.path)
    for record in a {
        let same = try #require(b.first { $0.step == record.step }, "\(kind): no record at step \(record.step)")
        #expect(same.testLoss == record.testLoss && same.trainLoss == record.trainLoss && same.testError == record.testError)
    }
    // Measured at step 0 and at each multiple of 3 (6 for p workers) passed (steps are worker steps in total for p workers).
    let steps = b.filter { $0.sharpness != nil }.map(\.step)
    #expect(steps == (kind == "sequential" ? [0, 3, 6] : [0, 6, 12]), "\(kind): \(steps)")
    #expect(b.filter { $0.sharpness != nil }.allSatisfy { ($0.sharpness ?? 0) > 0 && ($0.sharpnessSeconds ?? -1) >= 0 })
    if kind == "simulated" { #expect(b.filter { $0.sharpness != nil }.allSatisfy { $0.workerSharpness?.count == 2 }) }
    let csv = try String(contentsOf: measured.appendingPathComponent("metrics.csv"), encoding: .utf8)
    #expect(csv.hasPrefix("total_steps,") && csv.split(separator: "\n")[0].contains("sharpness,sharpness_seconds"))
}

@Test(arguments: ["sequential", "simulated"])
func sharpnessAtTheLastStepIsWhatAdviseMeasuresOnTheCheckpoint(kind: String) throws {
    let dir = try temporaryDirectory().appendingPathComponent("run")
    let method = kind == "sequential" ? ["--method", "sgd"] : ["--method", "easgd", "--workers", "2", "--backend", "simulated",
                                                                "--compute-seconds", "0.01"]
    let r = try easgd(["train"] + method + ["--lr", "0.05", "--net", learnNet, "--batch", "16", "--steps", "6",
                                            "--sharpness-every", kind == "sequential" ? "6" : "12", "--threads", "1",
                                            "--data", try smallFashionMNIST.get().path, "--quiet", "--out", dir.path])
    #expect(r.status == 0, "\(r.stderr)")
    let last = try #require(try RunFiles.readMetrics(dir.path).last)
    let measured = try #require(last.sharpness)
    let advise = try easgd(["advise", dir.path, "--json"])
    #expect(advise.status == 0, "\(advise.stderr)")
    let hMax = try #require(jsonNumber(try jsonObject(advise.stdout)["h_max"]))
    // The same model, batch, tolerance and start; only OpenBLAS's thread count may differ between the two.
    #expect(abs(measured - hMax) <= 1e-9 * hMax, "\(kind): sharpness \(measured), advise \(hMax)")
}

@Test(arguments: [
    (["--method", "sgd", "--sharpness-every", "0"], "--sharpness-every must be between 1"),
    (["--method", "sgd", "--sharpness-of", "workers"], "--sharpness-of needs --sharpness-every"),
    (["--method", "easgd", "--workers", "2", "--backend", "threads", "--sharpness-every", "5", "--sharpness-of", "workers"], "simulated backend"),
    (["--method", "sgd", "--sharpness-every", "5", "--sharpness-of", "workers"], "parallel runs on the simulated backend"),
])
func badSharpnessRequestsAreRefused(arguments: [String], phrase: String) throws {
    let out = try temporaryDirectory().appendingPathComponent("run").path
    let r = try easgd(["train"] + arguments + ["--lr", "0.01", "--steps", "2", "--out", out])
    #expect(r.status == 64 && r.stderr.hasPrefix("easgd: ") && r.stderr.contains(phrase), "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: out))
}
