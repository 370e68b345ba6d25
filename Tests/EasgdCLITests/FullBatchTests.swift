// Deterministic full-batch training (`--train-subset N --full-batch`): each step's loss is the full-batch loss at
// the step's starting point, which the evaluator (another code path: centre crops in batches of 256) measured
// as the previous record's train loss; the subset is chosen by the seed and recorded; bad uses are refused.

import CommandTesting
import Foundation
import NumericTesting
import Testing
import Training

@Test func aFullBatchStepsLossIsThePreviousRecordsTrainLoss() throws {
    let dir = try temporaryDirectory().appendingPathComponent("run")
    // SGD: its gradient is taken at the iterate (Nesterov takes it at the look-ahead point, which no record holds).
    let r = try easgd(["train", "--method", "sgd", "--lr", "0.1", "--steps", "6", "--eval-every", "1",
                       "--train-subset", "300", "--full-batch", "--net", learnNet, "--data", try smallFashionMNIST.get().path,
                       "--threads", "1", "--quiet", "--out", dir.path])
    #expect(r.status == 0, "\(r.stderr)")
    let records = try RunFiles.readMetrics(dir.path)
    try #require(records.count == 7)
    for (before, after) in zip(records, records.dropFirst()) {
        let step = try #require(after.minibatchLoss), evaluated = try #require(before.trainLoss)
        // Float32 logits summed over one pass of 300 against passes of 256: equal to a few ulps of Float.
        #expect(isClose(step, evaluated, relative: 1e-6), "step \(after.step): \(step) vs \(evaluated)")
        #expect(after.epoch == Double(after.step))            // one step is one epoch of the subset
    }
    let settings = try RunFiles.readSettings(dir.path)
    #expect(settings.batch == 300 && settings.trainSubset == 300 && settings.fullBatch == true)
    // The same command again: the same bits (no shuffling, crops, flips or dropout draw anything).
    let again = dir.deletingLastPathComponent().appendingPathComponent("again")
    #expect(try easgd(["train", "--method", "sgd", "--lr", "0.1", "--steps", "6", "--eval-every", "1",
                       "--train-subset", "300", "--full-batch", "--net", learnNet, "--data", try smallFashionMNIST.get().path,
                       "--threads", "1", "--quiet", "--seed", "1", "--out", again.path]).status == 0)
    #expect(try RunFiles.readMetrics(again.path).map(\.trainLoss) == records.map(\.trainLoss))
}

@Test func aTrainSubsetIsChosenByTheSeedAndAParallelFullBatchRunIsDeterministic() throws {
    let split = try DataSource.load(try smallFashionMNIST.get().path)
    let a = try split.trainSubset(100, seed: 1), b = try split.trainSubset(100, seed: 1), c = try split.trainSubset(100, seed: 2)
    #expect(a.train.pixels == b.train.pixels && a.train.labels == b.train.labels && a.train.count == 100)
    #expect(a.train.pixels != c.train.pixels)
    #expect(Set(a.train.labels).count == 10)        // a seeded draw, not the first 100
    let root = try temporaryDirectory()
    var records: [[MetricRecord]] = []
    for name in ["one", "two"] {
        let dir = root.appendingPathComponent(name)
        let r = try easgd(["train", "--method", "easgd", "--workers", "2", "--tau", "2", "--lr", "0.05", "--steps", "6",
                           "--backend", "simulated", "--compute-seconds", "0.01", "--schedule", "round-robin", "--eval-every", "4",
                           "--train-subset", "200", "--full-batch", "--net", learnNet, "--data", try smallFashionMNIST.get().path,
                           "--quiet", "--out", dir.path])
        #expect(r.status == 0, "\(r.stderr)")
        records.append(try RunFiles.readMetrics(dir.path))
    }
    #expect(records[0].map(\.testLoss) == records[1].map(\.testLoss) && records[0].map(\.workerLoss) == records[1].map(\.workerLoss))
}

@Test(arguments: [
    (["--full-batch"], "--full-batch needs --train-subset"),
    (["--full-batch", "--train-subset", "100", "--batch", "32"], "give no --batch"),
    (["--train-subset", "0"], "--train-subset must be between 1"),
    (["--train-subset", "5000"], "has 2000 images"),
])
func badSubsetRequestsAreRefused(arguments: [String], phrase: String) throws {
    let out = try temporaryDirectory().appendingPathComponent("run").path
    let r = try easgd(["train", "--method", "sgd", "--lr", "0.01", "--steps", "2", "--net", learnNet,
                       "--data", try smallFashionMNIST.get().path] + arguments + ["--out", out])
    #expect(r.status != 0 && r.stderr.hasPrefix("easgd: ") && r.stderr.contains(phrase), "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: out))
}
