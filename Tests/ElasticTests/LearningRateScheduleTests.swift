// The learning-rate schedules against their closed forms, worked by hand here (PyTorch's MultiStepLR,
// CosineAnnealingLR and ReduceLROnPlateau define them), the warm-up ramp, the plateau rule's trace, and the text
// the command line and config.json use.
import Elastic
import Foundation
import NumericTesting
import Testing

@Test func stepScheduleMultipliesAtEachMilestoneReached() throws {
    let s = try LearningRateSchedule(parsing: "step:1,2.5:0.1")
    // 10 steps an epoch: milestones at steps 10 and 25.
    let rates = [0, 9, 10, 24, 25, 1000].map { s.rate(base: 0.1, step: $0, stepsPerEpoch: 10, totalSteps: nil) }
    #expect(rates.map { ($0 * 1e6).rounded() / 1e6 } == [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], "\(rates)")
}

@Test func cosineAnnealsFromTheBaseToTheFinalRateOverTheBudget() throws {
    let s = try LearningRateSchedule(parsing: "cosine:0.01")
    func at(_ t: Int) -> Double { s.rate(base: 0.1, step: t, stepsPerEpoch: 7, totalSteps: 100) }
    #expect(at(0) == 0.1)
    #expect(isClose(at(50), 0.055, relative: 1e-14))                  // the midpoint
    #expect(isClose(at(25), 0.01 + 0.09 * (1 + 0.5.squareRoot()) / 2, relative: 1e-14))   // cos(π/4) = √½
    #expect(at(100) == 0.01 && at(150) == 0.01)
    #expect(try LearningRateSchedule(parsing: "cosine").rate(base: 0.1, step: 100, stepsPerEpoch: 1, totalSteps: 100) == 0)
}

@Test func warmupRampsLinearlyToTheSchedulesRate() throws {
    let s = try LearningRateSchedule(parsing: "constant", warmup: 4)
    let rates = (0..<6).map { s.rate(base: 0.2, step: $0, stepsPerEpoch: 1, totalSteps: nil) }
    #expect(rates == [0.05, 0.1, 0.15000000000000002, 0.2, 0.2, 0.2], "\(rates)")
    // With another schedule the ramp multiplies its rate: step 0 of a step schedule at 1/W of the base.
    let stepped = try LearningRateSchedule(parsing: "step:1:0.5", warmup: 20)
    #expect(isClose(stepped.rate(base: 0.2, step: 15, stepsPerEpoch: 10, totalSteps: nil), 0.2 * 0.5 * 16 / 20, relative: 1e-15))
}

@Test func plateauCutsTheRateAfterPatienceEvaluationsWithoutImprovement() {
    // factor 0.5, patience 1; an improvement is a loss below best · (1 − 1e-4):
    //   1.0 best · 0.9 best · 0.95 bad 1 · 0.96 bad 2 > 1: cut, bad 0 · 0.85 best · 0.85 bad 1 ·
    //   0.84999 (not below 0.85 · 0.9999 = 0.849915) bad 2: cut · NaN bad 1 · 0.7 best
    var p = PlateauState(factor: 0.5, patience: 1)
    var scales: [Double] = []
    for loss in [1.0, 0.9, 0.95, 0.96, 0.85, 0.85, 0.84999, .nan, 0.7] {
        p.observe(loss)
        scales.append(p.scale)
    }
    #expect(scales == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25], "\(scales)")
    let s = LearningRateSchedule(.plateau(factors: [0.5], patience: 1))
    #expect(s.rate(base: 0.1, step: 5, stepsPerEpoch: 1, totalSteps: nil, scale: p.scale) == 0.025)
}

/// The paper's ImageNet rule, "decreased twice, by a factor of 5 and then 2": plateau:0.2,0.5:P cuts by 0.2 at the
/// first plateau, by 0.5 at the second, and never again (worked by hand, patience 0: every evaluation without
/// improvement is a plateau).
@Test func aListOfPlateauFactorsIsTakenInOrderOnceEach() throws {
    let s = try LearningRateSchedule(parsing: "plateau:0.2,0.5:0")
    guard case .plateau(let factors, let patience) = s.shape else { Issue.record("not a plateau"); return }
    var p = PlateauState(factors: factors, patience: patience)
    var scales: [Double] = []
    for loss in [1.0, 1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.85] {
        p.observe(loss)
        scales.append(p.scale)
    }
    //   1.0 best · 1.0 bad: ×0.2 · 0.9 best · 0.95 bad: ×0.5 · 0.95 bad: no factor left · 0.95 · 0.8 best · 0.85
    let expected: [Double] = [1, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1]
    #expect(zip(scales, expected).allSatisfy { abs($0 - $1) < 1e-15 }, "\(scales)")
    #expect(p.cuts == 5)         // plateaus met, the last three with no factor left
}

@Test func scheduleTextRoundTripsAndBadTextIsRefusedWithItsReason() throws {
    for text in ["constant", "step:30,60:0.1", "step:0.5:0.2", "cosine", "cosine:0.001", "plateau:0.5:3", "plateau:0.2,0.5:2"] {
        #expect(try LearningRateSchedule(parsing: text).description == text)
    }
    let coded = try JSONEncoder().encode(try LearningRateSchedule(parsing: "step:30,60:0.1", warmup: 100))
    #expect(String(decoding: coded, as: UTF8.self).contains("\"shape\":\"step:30,60:0.1\""))
    #expect(try JSONDecoder().decode(LearningRateSchedule.self, from: coded) == LearningRateSchedule(.step(at: [30, 60], factor: 0.1), warmup: 100))
    for (text, reason) in [("linear", "not one of"), ("step:60,30:0.1", "increasing"), ("step:30:2", "(0, 1]"),
                           ("step::0.1", "is not a number"), ("cosine:-1", "at least 0"), ("plateau:1:3", "(0, 1)"), ("plateau:0.2,1.5:3", "(0, 1)"),
                           ("plateau:0.5:x", "whole number"), ("cosine:nan", "is not a number")] {
        #expect(throws: ScheduleError.self) { try LearningRateSchedule(parsing: text) }
        do { _ = try LearningRateSchedule(parsing: text) } catch { #expect("\(error)".contains(reason), "\(text): \(error)") }
    }
    #expect(throws: ScheduleError.self) { try LearningRateSchedule(parsing: "constant", warmup: -1) }
}
