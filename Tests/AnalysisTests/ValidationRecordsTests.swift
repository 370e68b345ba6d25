// What validate accepts as a finished point's records: the budget reached by every worker still running (a worker
// stopped on a non-finite loss stays where it stopped; make validation stopped on 2026-12-06 at a DOWNPOUR point with
// one stopped worker, "records end at step 385"), past it by less than an activation, never short of it.

@testable import Analysis
import Dynamics
import Elastic
import Foundation
import NumericTesting
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

@Test func anAgreementComesWithItsBaselinesAndCohensKappa() throws {
    // Ten points worked by hand: the map says stable at 0…5, the runs converged at 0…3 and 6…7, and η·h_max is
    // below 2 at 0…7. Agreement: 0…3 (stable, converged) and 8, 9 (unstable, not converged) = 6/10. Always converged:
    // 6/10; always diverged: 4/10; GD's rule (stable iff ηh < 2): 0…7 agree with converged at 0…3, 6, 7 and disagree
    // at 4, 5, then 8, 9 agree = 8/10. κ: p_stable = 0.6, p_converged = 0.6, chance = 0.36 + 0.16 = 0.52, κ =
    // (0.6 − 0.52)/0.48 = 1/6.
    let predicted = (0..<10).map { $0 < 6 }, converged = (0..<10).map { $0 < 4 || $0 == 6 || $0 == 7 }
    let etaH = (0..<10).map { $0 < 8 ? 1.0 : 3.0 }
    let s = Validation.Scores(predicted: predicted, converged: converged, etaH: etaH)
    #expect(s.agreement == 0.6 && s.alwaysConverged == 0.6 && s.alwaysDiverged == 0.4 && s.gdRule == 0.8)
    #expect(isClose(s.kappa!, 1.0 / 6.0, relative: 1e-12))
    // The best cut-off on η alone, with η = 0.01, 0.01, 0.02, 0.02, 0.04, 0.04, 0.08, 0.08, 0.16, 0.16: converged ⇔
    // η < c scores 4/10 below every η, 6/10 between 0.01 and 0.02, 8/10 between 0.02 and 0.04, 6/10 between 0.04 and
    // 0.08, 8/10 between 0.08 and 0.16, 6/10 above: the first 8/10, at √(0.02·0.04).
    let eta = [0.01, 0.01, 0.02, 0.02, 0.04, 0.04, 0.08, 0.08, 0.16, 0.16]
    let cut = Validation.Scores(predicted: predicted, converged: converged, etaH: etaH, eta: eta)
    let c = try #require(cut.etaCutoff)
    #expect(c.share == 0.8 && isClose(c.at, (0.02 * 0.04).squareRoot(), relative: 1e-15))
    #expect(cut.agreement == s.agreement && cut.kappa == s.kappa && s.etaCutoff == nil)
    // One η value: the cuts are half and twice it; every run converged, so the higher cut scores 1.
    let one = Validation.Scores(predicted: [true, false], converged: [true, true], etaH: [1, 1], eta: [0.1, 0.1])
    #expect(one.etaCutoff?.share == 1 && one.etaCutoff?.at == 0.2)
    // Every outcome the same: the chance agreement is 1 when the verdicts are too, and κ is undefined.
    #expect(Validation.Scores(predicted: [true, true], converged: [true, true], etaH: [1, 1]).kappa == nil)
}
