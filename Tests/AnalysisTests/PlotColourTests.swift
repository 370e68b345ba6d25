// A figure that compares methods gives each method one hue and each of its curves a shade (issue 31: Figure 3 had
// nine unrelated colours); the sharpness figure draws a threshold that several runs share once, named for all.

@testable import Analysis
import Elastic
import Testing
import Training

private func run(_ method: Algorithm, workers: Int, tau: Int?, eta: Double) -> RunSummary {
    RunSummary(dir: "/runs/\(method.rawValue)-p\(workers)", method: method, workers: workers, tau: tau, learningRate: eta,
               lrSchedule: nil, momentum: nil, alpha: nil, seed: 1, backend: .simulated, net: "small", data: "fashion-mnist",
               steps: 10, bestTestError: nil, finalTestError: nil, wallSeconds: nil, virtualSeconds: nil, status: .completed,
               reason: nil, records: [])
}

@Test func curvesOfSeveralMethodsTakeAHuePerMethodAndAShadePerSetting() throws {
    // Figure 3's layout: EASGD and EAMSGD at p = 16, 4, 8 (in that order on the command line), DOWNPOUR at p = 4.
    let runs = [run(.easgd, workers: 16, tau: 10, eta: 0.1), run(.easgd, workers: 4, tau: 10, eta: 0.1),
                run(.easgd, workers: 8, tau: 10, eta: 0.1), run(.eamsgd, workers: 4, tau: 10, eta: 0.032),
                run(.downpour, workers: 4, tau: 1, eta: 0.05)]
    let colours = try #require(RunPlot(runs: runs, axis: .steps, labels: nil, groupSeeds: false).colours)
    let blues = RunPlot.hues["easgd"]!
    // EASGD: darkest for the smallest p.
    #expect(colours[1] == blues[0] && colours[2] == blues[1] && colours[0] == blues[2])
    #expect(colours[3] == RunPlot.hues["eamsgd"]![0] && colours[4] == RunPlot.hues["downpour"]![0])
    #expect(Set(colours).count == 5)
    // One method only: no method colours (gnuplot's distinct colours, one per curve).
    #expect(RunPlot(runs: Array(runs.prefix(3)), axis: .steps, labels: nil, groupSeeds: false).colours == nil)
}

@Test func dilocoTakesItsOwnHueAndAnotherOuterStepTakesGrey() throws {
    // Notebook 06's CIFAR figure: synchronous SGD (DiLoCo H = 1, outer SGD), DiLoCo H = 1, 10, 50, 100, EASGD.
    // With synchronous SGD in DiLoCo's hue, five curves on four shades gave H = 1 and H = 100 one colour.
    var runs = [1, 1, 10, 50, 100].map { run(.diloco, workers: 4, tau: $0, eta: 0.1) }
    runs[0].outer = OuterSettings(optimizer: .sgd, learningRate: 1, momentum: 0)
    for i in 1..<runs.count { runs[i].outer = OuterSettings(optimizer: .nesterov, learningRate: 0.7, momentum: 0.9) }
    runs.append(run(.easgd, workers: 4, tau: 10, eta: 0.2))
    let colours = try #require(RunPlot(runs: runs, axis: .steps, labels: nil, groupSeeds: false).colours)
    #expect(colours[0] == RunPlot.hues["other"]![0])
    #expect(Array(colours[1...4]) == RunPlot.hues["diloco"]!)         // darkest for H = 1
    #expect(Set(colours).count == 6)
    // More curves of one method than its hue has shades: no method colours rather than two curves alike.
    runs[0].outer = runs[1].outer
    #expect(RunPlot(runs: runs, axis: .steps, labels: nil, groupSeeds: false).colours == nil)
}

@Test func aThresholdSharedByRunsIsDrawnOnceAndNamedForEach() throws {
    let lines = try RunPlot.referenceLines([(43.7, "h*", "easgd", 1), (50, "2/{/Symbol h}", "easgd", 1),
                                            (35.0, "h*", "eamsgd", 2), (50, "2/{/Symbol h}", "eamsgd", 2),
                                            (11.1, "h*", "downpour", 3), (50.0000000001, "2/{/Symbol h}", "downpour", 3)])
    #expect(lines.count == 4)
    let shared = try #require(lines.first { Double($0.expression) == 50 })
    #expect(shared.lineType == -1 && shared.title.contains("easgd") && shared.title.contains("eamsgd")
            && shared.title.contains("downpour") && shared.title.contains("one line"), "\(shared.title)")
    #expect(lines.filter { $0.lineType != -1 }.map(\.lineType) == [1, 2, 3])
}
