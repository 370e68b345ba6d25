// The method's threshold (ηh)* against closed forms that do not go through the round maps: EASGD and EAMSGD
// without coupling are SGD and Nesterov on each worker; DOWNPOUR with one worker and τ = 1 is SGD; synchronous
// EASGD's boundary is the closed-form condition 4 − 2ηh − 2β(1 + 1/p) + ηhβ = 0; and at the threshold the round
// map's radius crosses 1.

import Analysis
import Dynamics
import Elastic
import Foundation
import NumericTesting
import Testing

@Test func thresholdsWithoutCouplingAreTheSequentialOnes() throws {
    let sgd = try #require(try MethodThreshold(method: .easgd, workers: 3, alpha: 0, tau: 1, momentum: 0, schedule: .roundRobin).criticalEtaH())
    #expect(isClose(sgd, 2, relative: 1e-8), "\(sgd)")
    for delta in [0.5, 0.9] {
        let nesterov = try #require(try MethodThreshold(method: .eamsgd, workers: 2, alpha: 0, tau: 1, momentum: delta, schedule: .roundRobin).criticalEtaH())
        #expect(isClose(nesterov, 2 * (1 + delta) / (1 + 2 * delta), relative: 1e-8), "δ = \(delta): \(nesterov)")
    }
    let downpour = try #require(try MethodThreshold(method: .downpour, workers: 1, alpha: 0, tau: 1, momentum: 0, schedule: .roundRobin).criticalEtaH())
    #expect(isClose(downpour, 2, relative: 1e-8), "\(downpour)")
    #expect(try MethodThreshold(method: .msgd, workers: 1, alpha: 0, tau: 1, momentum: 0.9, schedule: .roundRobin).criticalEtaH() == 2 * 1.9 / 2.8)
}

@Test(arguments: [(2, 0.9), (4, 0.9), (8, 0.5)])
func synchronousThresholdIsTheClosedFormCondition(workers: Int, beta: Double) throws {
    let p = Double(workers)
    let closedForm = (4 - 2 * beta * (1 + 1 / p)) / (2 - beta)
    let found = try #require(try MethodThreshold(method: .syncEasgd, workers: workers, alpha: beta / p, tau: 1, momentum: 0,
                                                 schedule: .roundRobin).criticalEtaH())
    #expect(isClose(found, closedForm, relative: 1e-8), "p = \(workers): \(found) vs \(closedForm)")
    // The recursion's eigenvalues (not the condition) cross the unit circle there.
    let radius = { (e: Double) in SynchronousEASGD(workers: workers, eta: e, beta: beta, h: 1, sigma: 0).spectralRadius }
    #expect(radius(found * (1 - 1e-6)) < 1 && radius(found * (1 + 1e-6)) > 1)
}

@Test(arguments: [Algorithm.easgd, .eamsgd, .downpour])
func theRoundMapCrossesOneAtTheThreshold(method: Algorithm) throws {
    for schedule in [Schedule.roundRobin, .random] {
        let t = MethodThreshold(method: method, workers: 4, alpha: method == .downpour ? 0 : 0.225, tau: 2,
                                momentum: method == .eamsgd ? 0.9 : 0, schedule: schedule)
        let e = try #require(try t.criticalEtaH())
        let point = { (x: Double) in
            SchemePoint(method: method, workers: 4, eta: x, coupling: .alpha(method == .downpour ? 0 : 0.225), h: 1,
                        momentum: method == .eamsgd ? 0.9 : 0, tau: 2)
        }
        #expect(try point(e * (1 - 1e-6)).radius(schedule: schedule).radius <= 1 + 1e-9, "\(method) \(schedule)")
        #expect(try point(e * (1 + 1e-6)).radius(schedule: schedule).radius > 1, "\(method) \(schedule)")
        // Below the threshold the round map itself (not the threshold's own verdict) is stable at every probe:
        // it is the first crossing.
        for k in 1...40 {
            let x = e * Double(k) / 41
            #expect(try point(x).radius(schedule: schedule).radius <= 1 + 1e-12, "\(method) \(schedule) at \(x)")
        }
    }
}

@Test(arguments: [(3, 0.7, 0.9), (8, 0.7, 0.9), (5, 1.2, 0.5), (1, 0.7, 0.9)])
func dilocosThresholdIsWhereTheOuterConditionFails(innerSteps: Int, outerRate: Double, beta: Double) throws {
    // Nesterov's outer step is stable iff 0 < s < 2(1 + β)/(1 + 2β), s = η_o·m, m = 1 − (1 − ηh)^H. Along ηh, m
    // rises from 0; for even H it stays ≤ 1 until ηh = 2 and turns negative after it, so the threshold is the first
    // of 2 and the ηh where m reaches the bound (odd H: (1 − ηh)^H = 1 − bound/η_o).
    let bound = 2 * (1 + beta) / (1 + 2 * beta) / outerRate
    let odd = innerSteps % 2 == 1
    let closed: Double = if bound < 1 {
        1 - pow(1 - bound, 1 / Double(innerSteps))                  // m reaches the bound before ηh = 1
    } else if odd, bound < 2 {
        1 + pow(bound - 1, 1 / Double(innerSteps))
    } else { 2 }
    let t = MethodThreshold(method: .diloco, workers: 4, alpha: 0, tau: innerSteps, momentum: 0, schedule: .roundRobin,
                            outer: OuterSettings(optimizer: .nesterov, learningRate: outerRate, momentum: beta))
    let found = try #require(try t.criticalEtaH())
    #expect(isClose(found, closed, relative: 1e-8), "H = \(innerSteps), η_o = \(outerRate), β = \(beta): \(found) against \(closed)")
    #expect(try t.radius(etaH: found * (1 - 1e-6)) < 1 && t.radius(etaH: found * (1 + 1e-6)) > 1)
}
