// What validate accepts as a finished point's records: the budget reached by every worker still running (a worker
// stopped on a non-finite loss stays where it stopped; make validation stopped on 2026-12-06 at a DOWNPOUR point with
// one stopped worker, "records end at step 385"), past it by less than an activation, never short of it.

@testable import Analysis
import Dynamics
import Elastic
import Foundation
import Testing

private func damage(_ last: String) throws -> String? {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("validation-records-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let first = #"{"total_steps":0,"samples":0,"epoch":0.0,"seconds":0.0,"wall_seconds":0.0,"train_loss":2.3,"minibatch_loss":null,"test_loss":2.3,"test_error":0.9,"worker_steps":[0,0,0,0],"worker_loss":[null,null,null,null]}"#
    try (first + "\n" + last + "\n").write(to: dir.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
    let v = Validation(method: .downpour, workers: 4, eta: 0.01...1, axis: .tau(1...16), grid: GridPoints(eta: 2, second: 2), steps: 100,
                       seed: 1, objective: .net(net: "small", data: "fashion-mnist", trainSubset: 500, fullBatch: true), alpha: nil,
                       tau: 1, momentum: nil, hFrom: nil, jobs: 1)
    return v.damage(dir.path, diverged: false)
}

private func record(_ steps: [Int], _ losses: [String]) -> String {
    #"{"total_steps":\#(steps.reduce(0, +)),"samples":0,"epoch":1.0,"seconds":1.0,"wall_seconds":1.0,"train_loss":2.0,"minibatch_loss":2.0,"test_loss":2.0,"test_error":0.8,"worker_steps":[\#(steps.map(String.init).joined(separator: ","))],"worker_loss":[\#(losses.joined(separator: ","))]}"#
}

@Test func aFinishedPointsRecordsReachTheBudgetOfEveryWorkerStillRunning() throws {
    #expect(try damage(record([100, 100, 100, 100], ["2.0", "2.0", "2.0", "2.0"])) == nil)
    #expect(try damage(record([108, 108, 108, 108], ["2.0", "2.0", "2.0", "2.0"])) == nil)          // τ = 9
    #expect(try damage(record([108, 108, 61, 108], ["2.0", "2.0", "null", "2.0"])) == nil)         // one stopped
    #expect(try damage(record([108, 108, 61, 108], ["2.0", "2.0", "2.0", "2.0"]))?.contains("short of the budget") == true)
    #expect(try damage(record([99, 100, 100, 100], ["2.0", "2.0", "2.0", "2.0"]))?.contains("short of the budget") == true)
    // Records cut to the evaluation at step 0 (no worker has a loss yet): short, not a run of stopped workers.
    #expect(try damage(record([0, 0, 0, 0], ["null", "null", "null", "null"]))?.contains("short of the budget") == true)
}
