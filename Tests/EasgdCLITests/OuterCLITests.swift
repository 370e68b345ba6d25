// easgd radius --method diloco: the synchronous outer-optimizer scheme's radius and stable η, against the closed
// form (Tests/DynamicsTests/OuterSchemeTests.swift states it); and what diloco cannot do yet is refused.

import CommandTesting
import Dynamics
import Foundation
import NumericTesting
import Testing
import Training

@Test(arguments: [("nesterov", 0.7, 0.9), ("nesterov", 0.5, 0.5), ("heavy-ball", 0.7, 0.9), ("sgd", 0.7, 0.0)])
func solvingDilocosInnerRateWithOneInnerStepGivesTheClosedForm(outer: String, lr: Double, beta: Double) throws {
    // H = 1: m = γh, so the inner rate's edge is the outer condition's bound on s = η_o·γh, divided by η_o.
    let bound = switch outer {
    case "sgd": 2.0
    case "heavy-ball": 2 * (1 + beta)
    default: 2 * (1 + beta) / (1 + 2 * beta)
    }
    var arguments = ["radius", "--method", "diloco", "--workers", "8", "--tau", "1", "--outer", outer, "--outer-lr", "\(lr)",
                     "--solve", "eta", "--range", "0.01:10", "--json"]
    if outer != "sgd" { arguments += ["--outer-momentum", "\(beta)"] }
    let r = try easgd(arguments)
    #expect(r.status == 0, "\(r.stderr)")
    let o = try jsonObject(r.stdout)
    let ends = ((o["stable_intervals"] as? [[String: Any]]) ?? []).compactMap { jsonNumber($0["to"]) }
    let expected = bound / lr
    #expect(!ends.isEmpty && isClose(ends[0], expected, relative: 1e-9), "\(outer) η_o=\(lr) β=\(beta): \(ends) against \(expected)")
}

@Test func dilocosRadiusReportsItsSettingsAndTheOuterGain() throws {
    let r = try easgd(["radius", "--method", "diloco", "--workers", "8", "--eta", "0.995", "--tau", "1", "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let o = try jsonObject(r.stdout)
    #expect(o["outer"] as? String == "nesterov" && jsonNumber(o["outer_eta"]) == 0.7 && jsonNumber(o["outer_momentum"]) == 0.9)
    #expect(jsonNumber(o["pseudo_gradient_gain"]) == 0.995 && o["schedule"] as? String == "synchronous")
    // s = 0.6965: z² − 1.9·0.3035 z + 0.9·0.3035, complex roots of modulus √(0.9·0.3035).
    #expect(isClose(try #require(jsonNumber(o["spectral_radius"])), (0.9 * (1 - 0.7 * 0.995)).squareRoot(), relative: 1e-12))
}

@Test(arguments: [
    (["radius", "--method", "diloco", "--workers", "4", "--eta", "0.1", "--schedule", "random"], "no worker order"),
    (["radius", "--method", "easgd", "--workers", "4", "--eta", "0.1", "--alpha", "0.2", "--outer-lr", "0.7"], "apply to diloco"),
    (["radius", "--method", "diloco", "--workers", "4", "--eta", "0.1", "--alpha", "0.2"], "DiLoCo has no coupling"),
    (["radius", "--method", "diloco", "--workers", "4", "--eta", "0.1", "--outer-momentum", "1"], "--outer-momentum must be in [0, 1)"),
    (["simulate", "--method", "diloco", "--workers", "2", "--eta", "0.1", "--rounds", "3", "--out", "/tmp/x"], "simulate runs the round-robin schemes"),
    (["train", "--method", "easgd", "--lr", "0.1", "--steps", "3", "--outer-lr", "0.7", "--out", "/tmp/x"], "apply to diloco"),
    (["train", "--method", "async-diloco", "--lr", "0.1", "--steps", "3", "--outer-delay", "1", "--out", "/tmp/x"],
     "--outer-delay applies to diloco's synchronous rounds"),
    (["train", "--method", "async-diloco", "--lr", "0.1", "--steps", "3", "--inner-momentum", "0.9", "--out", "/tmp/x"],
     "--inner-momentum applies to diloco's workers"),
    (["radius", "--method", "diloco", "--workers", "2", "--eta", "0.1", "--keep-inner-velocity"], "--keep-inner-velocity needs --inner-momentum"),
    (["radius", "--method", "diloco", "--workers", "2", "--eta", "0.1", "--inner-momentum", "0.5", "--keep-inner-velocity", "--sigma", "1"],
     "not modelled"),
    (["train", "--method", "diloco", "--lr", "0.1", "--steps", "3", "--outer-momentum", "1", "--out", "/tmp/x"],
     "--outer-momentum must be in [0, 1)"),
    (["train-quadratic", "--method", "easgd", "--workers", "2", "--lr", "0.1", "--steps", "3", "--outer", "sgd", "--out", "/tmp/x"],
     "apply to diloco"),
    (["map", "--method", "diloco", "--workers", "4", "--eta", "0.01:1", "--outer-lr-range", "0.1:2", "--schedule", "random", "--out", "/tmp/x"],
     "DiLoCo's rounds are synchronous"),
    (["map", "--method", "diloco", "--workers", "4", "--eta", "0.01:1", "--rho", "0.1:2", "--out", "/tmp/x"], "DiLoCo has no coupling"),
    (["map", "--method", "diloco", "--workers", "4", "--eta", "0.01:1", "--out", "/tmp/x"], "exactly one of --outer-lr-range"),
    (["map", "--method", "diloco", "--workers", "4", "--eta", "0.01:1", "--outer-lr-range", "0.1:2", "--tau-range", "1:8", "--out", "/tmp/x"],
     "exactly one of --outer-lr-range"),
    (["map", "--method", "diloco", "--workers", "4", "--eta", "0.01:1", "--outer-momentum-range", "0:1", "--out", "/tmp/x"],
     "--outer-momentum-range must lie within [0, 1)"),
    (["map", "--method", "easgd", "--workers", "4", "--eta", "0.01:1", "--alpha", "0.1:0.5", "--outer-lr", "0.7", "--out", "/tmp/x"],
     "apply to diloco"),
    (["radius", "--method", "diloco", "--workers", "4", "--eta", "0.3", "--tau", "4", "--compress", "int4"], "--compress applies with --sigma"),
    (["radius", "--method", "diloco", "--workers", "4", "--eta", "0.3", "--sigma", "1", "--error-feedback"], "--error-feedback needs --compress"),
    (["radius", "--method", "diloco", "--workers", "2", "--eta", "0.3", "--sigma", "1", "--compress", "int8", "--worker-h", "1,2"],
     "identical workers"),
    (["radius", "--method", "diloco", "--workers", "2", "--eta", "0.3", "--sigma", "1", "--compress", "int8", "--compress-block", "0"],
     "--compress-block"),
    // EASGD's coded exchange as noise: round-robin only, no --error-feedback (built in), at most 16 workers.
    (["radius", "--method", "easgd", "--workers", "2", "--eta", "0.3", "--alpha", "0.2", "--sigma", "1", "--schedule", "random"],
     "the noisy round is the round-robin one"),
    (["radius", "--method", "easgd", "--workers", "2", "--eta", "0.3", "--alpha", "0.2", "--sigma", "1", "--compress", "int4", "--error-feedback"],
     "--error-feedback does not apply to easgd"),
    (["radius", "--method", "easgd", "--workers", "17", "--eta", "0.3", "--alpha", "0.02", "--sigma", "1"], "--workers with --sigma"),
    (["radius", "--method", "eamsgd", "--workers", "9", "--eta", "0.3", "--alpha", "0.02", "--sigma", "1"], "--workers with --sigma"),
    (["radius", "--method", "downpour", "--workers", "2", "--eta", "0.3", "--sigma", "1"], "--sigma applies to"),
])
func whatDilocoCannotDoYetIsRefused(arguments: [String], message: String) throws {
    let r = try easgd(arguments)
    #expect(r.status == 64 && r.stderr.contains(message), "\(r.status) \(r.stderr)")
}

@Test(arguments: [(0.2, 3), (0.5, 1)])
func aDelayedDilocoEngineGrowsAtTheRateOfTheDelayedMap(eta: Double, innerSteps: Int) throws {
    // Streaming DiLoCo's overlap on the engine (each round's pseudo-gradient applied at the end of the next) against
    // the delayed round's map, p = 8: both points are stable without the delay and unstable with it. The map's ln ρ
    // is also the closed form's: on (x̃, v, d) the delayed Nesterov round [[1, −η_oβ², −η_o(1 + β)], [0, β, 1], [m, 0, 0]]
    // has the characteristic polynomial z³ − (1 + β)z² + (β + bm)z − η_oβm, b = η_o(1 + β), whose roots LAPACK
    // finds here from the coefficients alone.
    let plain = try easgd(["radius", "--method", "diloco", "--workers", "8", "--eta", "\(eta)", "--tau", "\(innerSteps)"])
    #expect(plain.status == 0 && plain.stdout.contains(" stable"), "\(plain.stdout)")
    let dir = try temporaryDirectory().appendingPathComponent("q").path
    let r = try easgd(["train-quadratic", "--method", "diloco", "--workers", "8", "--lr", "\(eta)", "--tau", "\(innerSteps)",
                       "--outer-delay", "1", "--x0", "1000", "--steps", "\(3000 * innerSteps)", "--out", dir, "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let o = try jsonObject(r.stdout)
    #expect(jsonNumber(o["outer_delay"]) == 1)
    let growth = try #require(jsonNumber(o["growth_per_round"])), theory = try #require(jsonNumber(o["ln_spectral_radius"]))
    let m = 1 - pow(1 - eta, Double(innerSteps)), beta = 0.9, b = 0.7 * (1 + beta)
    let roots = try EigenSolver(maxDimension: 4).roots(ofMonic: [-0.7 * beta * m, beta + b * m, -(1 + beta), 1])
    let closed = log(roots.map(\.magnitude).max()!)
    #expect(closed > 0 && isClose(theory, closed, relative: 1e-8) && abs(growth - theory) < 0.01 * theory,
            "engine \(growth), map \(theory), closed form \(closed)")
}

@Test(arguments: [(1.99, 3), (0.6, 3), (1.9, 1)])
func dilocosEngineGrowsAtTheRateOfItsMap(eta: Double, innerSteps: Int) throws {
    // The engine on the noiseless quadratic, every worker's round at once (simulated), against the synchronous
    // round map: the center's ln-distance per round equals ln ρ. (1.99, 3) is DiLoCo's instability at odd H near
    // the inner edge (m = 1 + 0.99³ = 1.970 > 1.94) though the inner loop is stable; its ln ρ is also the closed
    // form's: the larger root of z² − 1.9(1 − 0.7m)z + 0.9(1 − 0.7m), here real.
    let m = 1 - pow(1 - eta, Double(innerSteps)), s = 0.7 * m, b = 1.9 * (1 - s), c = 0.9 * (1 - s)
    let disc = b * b - 4 * c
    let closed = disc >= 0 ? log(max(abs((b + disc.squareRoot()) / 2), abs((b - disc.squareRoot()) / 2))) : 0.5 * log(c)
    #expect((closed > 0) == (eta == 1.99), "only the odd-H point near the inner edge is unstable: ln ρ = \(closed)")
    let dir = try temporaryDirectory().appendingPathComponent("q").path
    let r = try easgd(["train-quadratic", "--method", "diloco", "--workers", "4", "--lr", "\(eta)", "--tau", "\(innerSteps)",
                       "--x0", "1000", "--steps", "600", "--out", dir, "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let o = try jsonObject(r.stdout)
    #expect(o["outer"] as? String == "nesterov" && jsonNumber(o["outer_eta"]) == 0.7 && jsonNumber(o["outer_momentum"]) == 0.9)
    let growth = try #require(jsonNumber(o["growth_per_round"])), theory = try #require(jsonNumber(o["ln_spectral_radius"]))
    // Complex roots turn the distance as they shrink it, so a line fitted to ln‖x̃ − x*‖ meets their rate to 1 %.
    let tolerance = disc < 0 ? 1e-2 : 1e-4
    #expect(isClose(theory, closed, relative: 1e-8) && abs(growth - closed) < tolerance * abs(closed), "\(growth) \(theory) \(closed)")
    #expect((o["stable"] as? Bool) == (closed < 0))
}

@Test(arguments: [(false, false), (true, false), (false, true)])
func aDilocoRunTrainsAndResumesBitForBit(delayed: Bool, innerNesterov: Bool) throws {
    // A DiLoCo run on the simulated backend learns; stopped mid-round (steps 5 of H = 4) and resumed, it ends
    // where the run without the stop ends, outer velocity (and a delayed run's pending pseudo-gradient) included,
    // and config.json holds its outer step.
    let root = try temporaryDirectory()
    func train(_ dir: URL, _ steps: Int, resume: Bool = false) throws {
        let args = resume ? ["train", "--resume", dir.path, "--steps", "\(steps)", "--quiet"]
            : ["train", "--method", "diloco", "--workers", "2", "--tau", "4", "--lr", "0.02", "--outer-lr", "0.8", "--net", learnNet,
               "--batch", "32", "--steps", "\(steps)", "--eval-every", "80", "--backend", "simulated", "--compute-seconds", "0.01", "--quiet",
               "--out", dir.path]
               + (delayed ? ["--outer-delay", "1"] : []) + (innerNesterov ? ["--inner-momentum", "0.5", "--keep-inner-velocity"] : [])
        let r = try easgd(args)
        #expect(r.status == 0, "\(r.stderr)")
    }
    let straight = root.appendingPathComponent("straight"), split = root.appendingPathComponent("split")
    try train(straight, 120)
    try train(split, 5)
    try train(split, 120, resume: true)
    let records = try RunFiles.readMetrics(straight.path)
    let first = try #require(records.first), last = try #require(records.last)
    #expect(first.testError > 0.7 && last.testError < 0.5, "\(first.testError) → \(last.testError)")
    #expect(last.exchanges == 2 * 30 && last.step == 240)
    try expectSameSystem(straight, split)
    let config = try String(contentsOfFile: straight.path + "/config.json", encoding: .utf8)
    #expect(config.contains("\"outer\"") && config.contains("\"optimizer\" : \"nesterov\"") && config.contains("\"eta\" : 0.8"), "\(config)")
    #expect(config.contains("\"delayed\" : true") == delayed)
    let buffers = try Checkpoint.read(RunFiles.checkpoint(straight.path), as: SystemProbe.self).buffers
    #expect((buffers["master.pending"] != nil) == delayed && buffers["master.velocity"]?.isEmpty == false)
    #expect(buffers["w0.v"]?.isEmpty == !innerNesterov && config.contains("\"keeps_inner_velocity\" : true") == innerNesterov)
}

@Test func aDilocoRoundOnTheLinkModelCostsEveryWorkersRequestInTurn() throws {
    // p = 2, H = 4, 10 ms a step, one server at 1e8 bytes/s: a round's two Float32 requests (8n bytes each) queue, so
    // a round takes 4·0.01 + 2·8n/1e8 seconds; 40 steps per worker are 10 rounds. With int8 sent the request is
    // n + 4⌈n/256⌉ bytes out and 4n back.
    for int8 in [false, true] {
        let dir = try temporaryDirectory().appendingPathComponent("links")
        let r = try easgd(["train", "--method", "diloco", "--workers", "2", "--tau", "4", "--lr", "0.02", "--net", learnNet,
                           "--batch", "8", "--steps", "40", "--eval-every", "80", "--backend", "simulated", "--compute-seconds", "0.01",
                           "--link-bandwidth", "1e8", "--quiet", "--out", dir.path] + (int8 ? ["--compress", "int8"] : []))
        #expect(r.status == 0, "\(r.stderr)")
        let config = try jsonObject(String(contentsOfFile: dir.path + "/config.json", encoding: .utf8))
        let n = try #require(jsonNumber((config["model"] as? [String: Any])?["parameters"]))
        let request = int8 ? n + 4 * ((n + 255) / 256).rounded(.down) + 4 * n : 8 * n
        let last = try #require(try RunFiles.readMetrics(dir.path).last)
        #expect(isClose(last.seconds, 10 * (0.04 + 2 * request / 1e8), relative: 1e-9), "\(last.seconds) n = \(n)")
    }
}

@Test func aDilocoMapWritesItsAxesUnderTheirNamesAndTheBoundaryTheClosedFormGives() throws {
    // H = 1 and outer SGD: s = η_o·γ, stable iff s < 2, so the boundary along γ is γ = 2/η_o on every row η_o > 1.
    let prefix = try temporaryDirectory().appendingPathComponent("dl").path
    let r = try easgd(["map", "--method", "diloco", "--workers", "8", "--tau", "1", "--outer", "sgd", "--eta", "0.01:1.99",
                       "--outer-lr-range", "0.5:3", "--grid", "40x26", "--out", prefix, "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let o = try jsonObject(r.stdout)
    #expect(o["method"] as? String == "diloco" && o["schedule"] as? String == "synchronous" && o["outer"] as? String == "sgd")
    #expect(o["outer_eta"] is [String: Any] && o["outer_momentum"] == nil && jsonNumber(o["tau"]) == 1)
    let csv = try String(contentsOfFile: prefix + ".csv", encoding: .utf8)
    #expect(csv.hasPrefix("eta,outer_eta,spectral_radius\n"))
    let rows = try String(contentsOfFile: prefix + "-boundary.csv", encoding: .utf8).split(separator: "\n").dropFirst()
    #expect(rows.count >= 10)
    for row in rows {
        let f = row.split(separator: ",").compactMap { Double($0) }
        #expect(f.count == 5 && isClose(f[0], 2 / f[1], relative: 1e-9), "\(row)")
    }
}

@Test func heterogeneousWorkersEnterDilocosRoundThroughTheMeanOfTheirInnerFactors() throws {
    // Workers with h = 0.5 and 1.5, H = 3, γ = 0.9, outer SGD at η_o = 1: m = 1 − ((1 − 0.45)³ + (1 − 1.35)³)/2
    // = 0.93825 and the round is 1 − m.
    let r = try easgd(["radius", "--method", "diloco", "--workers", "2", "--worker-h", "0.5,1.5", "--eta", "0.9", "--tau", "3",
                       "--outer", "sgd", "--outer-lr", "1", "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let o = try jsonObject(r.stdout)
    #expect(isClose(try #require(jsonNumber(o["pseudo_gradient_gain"])), 0.93825, relative: 1e-13))
    #expect(isClose(try #require(jsonNumber(o["spectral_radius"])), 0.06175, relative: 1e-12))
    #expect(o["worker_h"] as? [Double] == [0.5, 1.5] && o["h"] == nil && o["outer_momentum"] == nil)
    // The largest stable γ at DiLoCo's defaults: where 0.7·m(γ) = 2(1.9)/(2.8), found here by bisection on the
    // closed form, against the radius's Brent on the probed round.
    func m(_ g: Double) -> Double { 1 - (pow(1 - 0.5 * g, 3) + pow(1 - 1.5 * g, 3)) / 2 }
    var (lo, hi) = (1.0, 2.0)
    for _ in 0..<200 { let mid = (lo + hi) / 2; if 0.7 * m(mid) < 2 * 1.9 / 2.8 { lo = mid } else { hi = mid } }
    let solved = try easgd(["radius", "--method", "diloco", "--workers", "2", "--worker-h", "0.5,1.5", "--tau", "3", "--solve", "eta",
                            "--range", "0.01:3", "--json"])
    #expect(solved.status == 0, "\(solved.stderr)")
    let ends = ((try jsonObject(solved.stdout)["stable_intervals"] as? [[String: Any]]) ?? []).compactMap { jsonNumber($0["to"]) }
    #expect(ends.count == 1 && isClose(ends[0], lo, relative: 1e-9), "\(ends) against \(lo)")
    // One curvature per worker, positive; DiLoCo only.
    for (arguments, message) in [(["--method", "diloco", "--workers", "3", "--worker-h", "0.5,1.5"], "2 curvatures for 3 workers"),
                                 (["--method", "diloco", "--workers", "2", "--worker-h", "0.5,-1"], "--worker-h must be positive"),
                                 (["--method", "easgd", "--workers", "2", "--alpha", "0.1", "--worker-h", "1,1"], "--worker-h applies to diloco")] {
        let bad = try easgd(["radius", "--eta", "0.1"] + arguments)
        #expect(bad.status == 64 && bad.stderr.contains(message), "\(bad.stderr)")
    }
}

@Test func aDelayedOuterStepHalvesOuterSGDsRangeAndShrinksDilocosDefault() throws {
    // H = 1, h = 1: s = η_o·γ. Outer SGD at η_o = 1: stable to γ = 2 at once, to γ = 1 one round late (z² − z + s).
    func edge(_ extra: [String]) throws -> Double {
        let r = try easgd(["radius", "--method", "diloco", "--workers", "4", "--tau", "1", "--solve", "eta", "--range", "0.01:3", "--json"] + extra)
        #expect(r.status == 0, "\(r.stderr)")
        let o = try jsonObject(r.stdout)
        return try #require(((o["stable_intervals"] as? [[String: Any]])?.first).flatMap { jsonNumber($0["to"]) })
    }
    #expect(isClose(try edge(["--outer", "sgd", "--outer-lr", "1"]), 2, relative: 1e-9))
    #expect(isClose(try edge(["--outer", "sgd", "--outer-lr", "1", "--outer-delay", "1"]), 1, relative: 1e-9))
    // DiLoCo's Nesterov 0.7, 0.9 one round late keeps a fifth of its range (0.36 of 1.94).
    let late = try edge(["--outer-delay", "1"]), now = try edge([])
    #expect(isClose(now, 2 * 1.9 / 2.8 / 0.7, relative: 1e-9) && late < 0.2 * now, "\(late) against \(now)")
    let o = try jsonObject(try easgd(["radius", "--method", "diloco", "--workers", "4", "--eta", "0.1", "--outer-delay", "1", "--json"]).stdout)
    #expect(jsonNumber(o["outer_delay"]) == 1 && (o["eigenvalues"] as? [Any])?.count == 3)
    let bad = try easgd(["radius", "--method", "diloco", "--workers", "4", "--eta", "0.1", "--outer-delay", "2"])
    #expect(bad.status == 64 && bad.stderr.contains("--outer-delay is 0 or 1"), "\(bad.stderr)")
}

@Test(arguments: [["--method", "diloco", "--tau", "3", "--inner-momentum", "0.5"], ["--method", "sync-easgd", "--tau", "2"]])
func aLockstepThreadsRunComputesWhatTheSimulatorComputes(method: [String]) throws {
    // The threads backend steps every worker at once with a thread each and the exchange under the master's lock:
    // the same arithmetic as the simulator, so the same bits (every buffer of the final checkpoint).
    let root = try temporaryDirectory()
    let common = ["train"] + method + ["--workers", "3", "--lr", "0.02", "--net", learnNet, "--batch", "16", "--steps", "40",
                                       "--eval-every", "30", "--quiet"]
    let simulated = root.appendingPathComponent("simulated"), threads = root.appendingPathComponent("threads")
    let s = try easgd(common + ["--backend", "simulated", "--compute-seconds", "0.01", "--out", simulated.path])
    #expect(s.status == 0, "\(s.stderr)")
    let t = try easgd(common + ["--backend", "threads", "--out", threads.path])
    #expect(t.status == 0, "\(t.stderr)")
    try expectSameSystem(simulated, threads)
    let a = try RunFiles.readMetrics(simulated.path), b = try RunFiles.readMetrics(threads.path)
    #expect(a.map(\.step) == b.map(\.step) && a.map(\.testLoss) == b.map(\.testLoss), "\(a.map(\.step)) against \(b.map(\.step))")
    try expectWorkerReports(in: threads)
}

@Test func anEASGDMapOverTauHoldsItsCouplingFixedAndMeetsRadius() throws {
    // EASGD over (η, τ) at β = 0.8 (α = 0.2 for p = 4), next to DiLoCo's (γ, H) maps at equal communication: each
    // point's radius (the cyclic structure) equals `radius` (dgeev on the probed map) at the same (η, α, τ).
    let prefix = try temporaryDirectory().appendingPathComponent("et").path
    let r = try easgd(["map", "--method", "easgd", "--workers", "4", "--eta", "0.1:1.9", "--tau-range", "1:8", "--beta", "0.8",
                       "--grid", "5x8", "--out", prefix, "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let o = try jsonObject(r.stdout)
    #expect(jsonNumber(o["alpha"]) == 0.2 && jsonNumber(o["beta"]) == 0.8 && o["tau"] is [String: Any])
    let rows = try String(contentsOfFile: prefix + ".csv", encoding: .utf8).split(separator: "\n").dropFirst()
    #expect(rows.count == 40)
    for row in rows.enumerated().filter({ $0.offset % 7 == 0 }).map(\.element) {
        let f = row.split(separator: ",").map { Double($0)! }
        let point = try easgd(["radius", "--method", "easgd", "--workers", "4", "--eta", "\(f[0])", "--alpha", "0.2", "--tau", "\(Int(f[1]))"])
        let radius = try #require(Double(point.stdout.split(separator: " ")[0]))
        #expect(isClose(radius, f[2], relative: 1e-9), "η \(f[0]) τ \(f[1]): map \(f[2]), radius \(radius)")
    }
    let refused = try easgd(["map", "--method", "easgd", "--workers", "4", "--eta", "0.1:1.9", "--tau-range", "1:8", "--alpha", "0.1:0.5",
                             "--out", prefix + "x"])
    #expect(refused.status == 64 && refused.stderr.contains("with a fixed --beta"), "\(refused.stderr)")
}

@Test func compareAtEqualCommunicationDrawsWhatMapDraws() throws {
    // compare --tau-range with DiLoCo's family and EASGD at a fixed β: each variant's grid is the grid map computes for
    // the same settings (the variant's words reach the map as map's options do), and Lookahead's row (p = 1) equals
    // p = 4's, since a synchronous round on the homogeneous quadratic does not depend on p.
    let dir = try temporaryDirectory()
    let axes = ["--eta", "0.01:1.99", "--log-eta", "--tau-range", "1:9", "--grid", "12x9"]
    let r = try easgd(["compare", "--workers", "1,4"] + axes + ["--variant", "easgd beta=0.6", "--variant", "diloco outer=heavy-ball outer-lr=1 outer-momentum=0.5 inner-momentum=0.9",
                                                              "--variant", "diloco outer=sgd outer-lr=0.5", "--out", dir.appendingPathComponent("c").path])
    #expect(r.status == 0 || r.status == 3, "\(r.stderr)")
    let pairs: [(String, [String])] = [
        ("easgd-beta0.6-p4", ["--method", "easgd", "--workers", "4", "--beta", "0.6"]),
        ("diloco-heavy-ball-lr1.0-mom0.5-inner0.9-p4", ["--method", "diloco", "--workers", "4", "--outer", "heavy-ball", "--outer-lr", "1",
                                                         "--outer-momentum", "0.5", "--inner-momentum", "0.9"]),
        ("diloco-sgd-lr0.5-p4", ["--method", "diloco", "--workers", "4", "--outer", "sgd", "--outer-lr", "0.5"]),
    ]
    for (name, options) in pairs {
        let prefix = dir.appendingPathComponent(name).path
        let m = try easgd(["map"] + options + axes + ["--out", prefix])
        #expect(m.status == 0 || m.status == 3, "\(m.stderr)")
        let fromCompare = try String(contentsOf: dir.appendingPathComponent("c/\(name).csv"), encoding: .utf8)
        #expect(fromCompare == (try String(contentsOfFile: prefix + ".csv", encoding: .utf8)), "\(name)")
    }
    let lookahead = try String(contentsOf: dir.appendingPathComponent("c/diloco-sgd-lr0.5-p1.csv"), encoding: .utf8)
    #expect(lookahead == (try String(contentsOf: dir.appendingPathComponent("c/diloco-sgd-lr0.5-p4.csv"), encoding: .utf8)))
}

@Test(arguments: [
    (["--variant", "diloco"], "compare it at equal communication with --tau-range"),
    (["--tau-range", "1:8", "--variant", "diloco tau=4"], "τ is the axis"),
    (["--variant", "easgd beta=0.5"], "beta= fixes"),
    (["--tau-range", "1:8", "--variant", "easgd outer-lr=1"], "apply to diloco"),
    (["--tau-range", "1:8", "--variant", "diloco outer-momentum=1"], "--outer-momentum must be in [0, 1)"),
    (["--tau-range", "1:8", "--variant", "async-diloco inner-momentum=0.5"], "--inner-momentum applies to diloco's workers"),
    (["--tau-range", "1:8", "--rho", "0.1:1", "--variant", "easgd"], "only one of --rho, --alpha or --tau-range"),
])
func compareRefusesWhatItCannotDraw(extra: [String], message: String) throws {
    let r = try easgd(["compare", "--workers", "4", "--eta", "0.01:1", "--out", "/tmp/easgd-compare-never"] + extra)
    #expect(r.status == 64 && r.stderr.contains(message), "\(r.status) \(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: "/tmp/easgd-compare-never"))
}

@Test func radiusGivesEasgdsCodedExchangeNoiseInItsJSON() throws {
    // The JSON carries what the text prints, from the same model: the uncompressed and coded center MSE, κ, the
    // codec's error variance and the mean-square radius, which lies at or above ρ(F) (the codec's noise adds to the
    // second moment's growth); without --compress only the uncompressed MSE.
    let base = ["radius", "--method", "easgd", "--workers", "2", "--eta", "1.5", "--alpha", "0.2", "--sigma", "1", "--json"]
    let plain = try easgd(base)
    #expect(plain.status == 0, "\(plain.stderr)")
    let p = try jsonObject(plain.stdout)
    #expect(p["center_mse"] as? Double != nil && p["center_mse_compressed"] == nil)
    let coded = try easgd(base + ["--compress", "int4", "--compress-rounding", "stochastic"])
    #expect(coded.status == 0, "\(coded.stderr)")
    let c = try jsonObject(coded.stdout)
    let mse = try #require(c["center_mse"] as? Double), compressed = try #require(c["center_mse_compressed"] as? Double)
    let rho = try #require(c["spectral_radius"] as? Double), msRadius = try #require(c["mean_square_radius"] as? Double)
    #expect(mse == p["center_mse"] as? Double)
    #expect(compressed > mse * 1.1, "\(compressed) against \(mse)")          // the model: +21.9 %
    #expect(msRadius >= rho && msRadius < 1, "\(msRadius) against \(rho)")
    // Past the mean-square edge (η = 1.7776) the coded MSE is null, the uncompressed one finite.
    let edge = try jsonObject(try easgd(["radius", "--method", "easgd", "--workers", "2", "--eta", "1.778", "--alpha", "0.2", "--sigma", "1",
                                         "--compress", "int4", "--compress-rounding", "stochastic", "--json"]).stdout)
    #expect(edge["center_mse"] as? Double != nil)
    #expect(edge["center_mse_compressed"] is NSNull && edge["mean_square_radius"] is NSNull)
}
