// Statistics over seeds (easgd runs --group-seeds, --paired): Student's t against its closed forms and published
// quantiles, the estimate and the paired difference against values worked by hand.

import Analysis
import Foundation
import NumericTesting
import Testing
import Training

@Test func studentTMeetsItsClosedFormsAndPublishedQuantiles() {
    // ν = 1 is Cauchy: F(t) = 1/2 + atan(t)/π; ν = 2: F(t) = 1/2 + t/(2√(2 + t²)).
    for t in [-7.0, -1, -0.3, 0, 0.5, 1, 2.5, 40] {
        #expect(isClose(StudentT.cdf(t, degrees: 1), 0.5 + atan(t) / .pi, relative: 1e-13))
        #expect(isClose(StudentT.cdf(t, degrees: 2), 0.5 + t / (2 * (2 + t * t).squareRoot()), relative: 1e-13))
    }
    // t(0.975, ν) as published (scipy.stats.t.ppf; the two-sided 95 % column of every t table).
    let published: [(Double, Double)] = [(1, 12.706204736174698), (2, 4.302652729911275), (3, 3.182446305284263),
                                         (4, 2.7764451051977987), (10, 2.2281388519649385), (30, 2.0422724563012373),
                                         (1000, 1.9623390808264078)]
    for (nu, q) in published { #expect(isClose(StudentT.quantile(0.975, degrees: nu), q, relative: 1e-10), "ν = \(nu)") }
    #expect(isClose(StudentT.quantile(0.025, degrees: 3), -3.182446305284263, relative: 1e-10))
    #expect(StudentT.quantile(0.5, degrees: 5) == 0)
}

@Test func seedEstimateIsTheMeanWithItsStandardErrorAndTInterval() throws {
    // 0.20, 0.22, 0.27: mean 0.23, squared deviations 9, 1, 16 (× 1e-4), s² = 26e-4 / 2, se = s/√3,
    // half-width t(0.975, 2)·se = 4.302652729911275 × 0.020816659994661...
    let e = try #require(SeedEstimate([0.20, 0.22, nil, 0.27, .nan]))
    let s = (13e-4).squareRoot(), se = s / 3.0.squareRoot(), half = 4.302652729911275 * se
    #expect(e.n == 3 && isClose(e.mean, 0.23, relative: 1e-14) && e.min == 0.20 && e.max == 0.27)
    let (sd, standardError) = (try #require(e.standardDeviation), try #require(e.standardError))
    #expect(isClose(sd, s, relative: 1e-13) && isClose(standardError, se, relative: 1e-13))
    let interval = try #require(e.interval)
    #expect(isClose(interval.lowerBound, 0.23 - half, relative: 1e-10) && isClose(interval.upperBound, 0.23 + half, relative: 1e-10))
    // One value has no spread to estimate; none is no estimate.
    let one = try #require(SeedEstimate([0.4]))
    #expect(one.interval == nil && one.standardError == nil && one.mean == 0.4)
    #expect(SeedEstimate([nil, .infinity]) == nil)
}

@Test func pairedDifferenceMatchesSeedsAndCountsWins() throws {
    // A: seeds 1, 2, 3 at 0.30, 0.28, 0.31. B: seeds 3, 1, 2, 4 at 0.29, 0.27, 0.29, 0.10 (seed 4 has no partner).
    // B − A by seed: −0.03, +0.01, −0.02: mean −0.04/3, lower in 2 of 3; s² = (0.05² + 0.07² + 0.02²)/9/2.
    let d = PairedDifference([(1, 0.30), (2, 0.28), (3, 0.31)], [(3, 0.29), (1, 0.27), (2, 0.29), (4, 0.10)])
    #expect(d.seeds == [1, 2, 3] && d.lower == 2)
    let e = try #require(d.difference)
    let s = ((0.05 * 0.05 + 0.07 * 0.07 + 0.02 * 0.02) / 9 / 2).squareRoot()
    let sd = try #require(e.standardDeviation)
    #expect(isClose(e.mean, -0.04 / 3, relative: 1e-12) && isClose(sd, s, relative: 1e-12))
    let half = 4.302652729911275 * s / 3.0.squareRoot()
    #expect(isClose(try #require(e.interval).upperBound, -0.04 / 3 + half, relative: 1e-10))
    // No shared seed: no difference.
    #expect(PairedDifference([(1, 0.3)], [(2, 0.2)]).difference == nil)
}

@Test func seedsArePairedAtTheirSharedEvaluationsEvenWhenOneWasContinuedPastItsBudget() {
    func run(_ steps: [Int]) -> [MetricRecord] {
        steps.map { MetricRecord(step: $0, samples: $0, epoch: Double($0), seconds: Double($0), wallSeconds: 0, trainLoss: nil,
                                 minibatchLoss: nil, testLoss: 1, testError: Double($0) / 1000) }
    }
    // A search's run (evaluations every 100 steps, its first budget ending at 204, continued to 400) against a seed
    // on the plain schedule: the median interval is 100, so evaluations pair within 10 steps, each to its nearest;
    // 204 has no partner (the other's 200 is nearer 200), 304 pairs with 300.
    let searched = run([0, 100, 200, 204, 304, 400]), plain = run([0, 100, 200, 300, 400])
    let rows = SeedGroup.sharedEvaluations([searched, plain])
    #expect(rows.map { $0.map(\.step) } == [[0, 0], [100, 100], [200, 200], [304, 300], [400, 400]])
    // A third seed without the evaluation at 100: that row goes.
    #expect(SeedGroup.sharedEvaluations([searched, plain, run([0, 200, 300, 400])]).map { $0[0].step } == [0, 200, 304, 400])
    // Schedules half an interval apart share only their start.
    #expect(SeedGroup.sharedEvaluations([plain, run([0, 50, 150, 250, 350])]).map { $0[0].step } == [0])
    // Equal schedules: every evaluation; a repeated step (a resumed run's record written again) counts once, the later.
    var again = run([0, 100, 100, 200])
    again[2].testError = 0.5
    let rows2 = SeedGroup.sharedEvaluations([run([0, 100, 200]), again])
    #expect(rows2.map { $0.map(\.step) } == [[0, 0], [100, 100], [200, 200]] && rows2[1][1].testError == 0.5)
}
