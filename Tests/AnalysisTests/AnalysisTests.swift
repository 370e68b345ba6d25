// The library side of the commands: the paper's curves as data, checked against their formulas at points
// worked by hand, and the quadratic engine run against the closed-form round map.

import Analysis
import Dynamics
import Elastic
import Engine
import Foundation
import NumericTesting
import Records
import Testing

@Test func easgdConditionCurveIsThePapersFormula() throws {
    let spec = StabilityMapSpec(method: .easgd, workers: 3, eta: GridAxis(lower: 0, upper: 2.4, count: 5),
                                second: GridAxis(lower: 0, upper: 1.2, count: 5), secondKind: .alpha)
    let curve = try #require(PaperCurves.easgdCondition(for: spec, samples: 5))
    // η = 0, 0.6, 1.2, 1.8 (2.4 > 2 is left out): α = (4 − 2η)/(4 − η) by hand: 1, 2.8/3.4, 1.6/2.8, 0.4/2.2.
    let expected = [1.0, 2.8 / 3.4, 1.6 / 2.8, 0.4 / 2.2]
    #expect(curve.points.count == 4)
    for (point, want) in zip(curve.points, expected) { #expect(isClose(point.y, want, relative: 1e-14)) }
    // Not EASGD over (η, α) with τ = 1, round-robin: no curve.
    var other = spec
    other.tau = 4
    #expect(PaperCurves.easgdCondition(for: other) == nil)
}

@Test func synchronousBoundaryIsTheAppendixFormula() {
    let curve = PaperCurves.synchronousBoundary(workers: 1, extent: 2, samples: 2)
    // p = 1: β = (4 − 2x)/(4 − x); at x = 1: 2/3, at x = 2: 0.
    #expect(curve.points.count == 2)
    #expect(isClose(curve.points[0].y, 2.0 / 3.0, relative: 1e-14) && curve.points[1].y == 0)
    // p = 1000 over (0, 2.2] in 400 samples: the last sample below 2 is at 1.9965, β = 2·0.0035/(0.0035 + 0.002)
    // by hand; the curve then ends at (2, 0).
    let steep = PaperCurves.synchronousBoundary(workers: 1000, extent: 2.2)
    let end = Array(steep.points.suffix(2))
    #expect(isClose(end[0].x, 1.9965, relative: 1e-12) && isClose(end[0].y, 0.007 / 0.0055, relative: 1e-9))
    #expect(end[1].x == 2 && end[1].y == 0)
}

@Test func quadraticRunGrowsAtTheRoundMapsRate() throws {
    // The paper's chaotic ADMM (p = 3, η = 0.001, ρ = 2.5) run by the engine: the fitted growth per round must
    // equal ln ρ(F) of the closed-form map computed independently by dgeev on the matrix product.
    let settings = EngineSettings(method: .admm, workers: 3, learningRate: 0.001, weightDecay: 0, rho: 2.5)
    let run = QuadraticRun(settings: settings, curvatures: [1], sigma: 0, x0: 1000, schedule: .roundRobin, steps: 20000,
                           evalEvery: nil, seed: 1)
    #expect(run.problem == nil)
    let result = try run.run()
    let scheme = makeScheme(.admm, workers: 3, eta: 0.001, coupling: .rho(2.5), h: 1)
    let radius = try EigenSolver(maxDimension: scheme.stateDimension).spectralRadius(of: scheme.roundMap())
    let theory = try #require(result.theory)
    #expect(isClose(theory.radius, radius, relative: 1e-10))
    #expect(isClose(try #require(result.growthPerRound), log(radius), relative: 0.05))
    var clock = run
    clock.schedule = .clock
    #expect(clock.problem != nil)       // ADMM needs its round-robin order
}

/// A supervised restart keeps the launch's shard servers under mpirun (they are not a setting of the run) and
/// the budget, and drops what a resume refuses; a simulated run's --servers (its link model) stays in its config.
@Test func supervisedRestartKeepsTheServersOfAnMPILaunch() {
    let mpi = ["/usr/bin/mpirun", "-np", "6", "easgd", "train", "--backend", "mpi", "--servers", "2", "--method", "easgd",
               "--lr", "0.02", "--steps", "300", "--quiet", "--out", "runs/a"]
    #expect(Supervisor.resumeCommand(mpi, directory: "runs/a")
            == ["/usr/bin/mpirun", "-np", "6", "easgd", "train", "--resume", "runs/a", "--servers", "2", "--steps", "300", "--quiet"])
    let simulated = ["easgd", "train", "--backend", "simulated", "--servers", "4", "--link-bandwidth", "1e9", "--method", "easgd",
                     "--lr", "0.02", "--steps", "300", "--out", "runs/b"]
    #expect(Supervisor.resumeCommand(simulated, directory: "runs/b") == ["easgd", "train", "--resume", "runs/b", "--steps", "300"])
    // One word or two, as the argument parser reads them: --servers=2 is kept like --servers 2.
    let joined = ["mpirun", "-np", "4", "easgd", "train", "--backend=mpi", "--servers=2", "--steps=300", "--out=runs/c"]
    #expect(Supervisor.runDirectory(joined) == "runs/c")
    #expect(Supervisor.resumeCommand(joined, directory: "runs/c") == ["mpirun", "-np", "4", "easgd", "train", "--resume", "runs/c", "--servers=2", "--steps=300"])
    #expect(Supervisor.setting("--workers", to: "1", in: joined + ["--workers=2"]) == joined + ["--workers", "1"])
}

/// Before a restart the supervisor waits for the run directory's lock (a rank of the attempt that ended may still
/// hold it) instead of spending a restart on a lock conflict: it returns once the holder lets go, and says who
/// holds it when the wait runs out.
@Test func supervisorWaitsForTheRunDirectoryToBeFree() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("supervise-lock-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let held = try DirectoryLock(dir)
    let busy = try #require(Supervisor.waitUntilFree(dir, seconds: 0.3))
    #expect(busy.contains("in use by another easgd process (pid \(getpid()))"), "\(busy)")
    let start = Date()
    struct Held: @unchecked Sendable { let lock: DirectoryLock }
    let holder = Held(lock: held)
    DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) { holder.lock.release() }
    #expect(Supervisor.waitUntilFree(dir, seconds: 10) == nil)
    let waited = Date().timeIntervalSince(start)
    #expect(waited >= 0.4 && waited < 5, "\(waited) s")
}

/// Round-robin is DOWNPOUR's worst order (p = 4: stable for ηh < 0.445 round-robin, 0.843 in mean square in random
/// order). At η = 0.6 between the two the engine shows both verdicts: round-robin grows at ln ρ(F) of its map, and in
/// random order every seed's run decays, each no faster-growing than the mean-square bound ln ρ(T)^{p/2} allows
/// (Jensen), within the sampling of a 300-round fit. The radius is also the one `easgd radius --schedule random`
/// maps, computed independently from the full n² × n² operator here.
@Test func randomOrderRunsObeyTheMeanSquareBoundWhereRoundRobinDiverges() throws {
    let settings = EngineSettings(method: .downpour, workers: 4, learningRate: 0.6, weightDecay: 0)
    let roundRobin = try QuadraticRun(settings: settings, curvatures: [1], sigma: 0, x0: 1000, schedule: .roundRobin, steps: 300,
                                      evalEvery: nil, seed: 1).run()
    let lnF = try #require(roundRobin.theory?.lnRadius)
    let rrGrowth = try #require(roundRobin.growthPerRound)
    #expect(lnF > 0.2 && isClose(rrGrowth, lnF, relative: 0.01), "round-robin grew \(rrGrowth) per round, its map ln ρ(F) \(lnF)")
    let full = RandomOrderScheme(makeScheme(.downpour, workers: 4, eta: 0.6, coupling: .alpha(0), h: 1)).fullOperator()
    let rhoT = try EigenSolver(maxDimension: full.rows).spectralRadius(of: full)
    for seed in UInt64(1)...6 {
        let random = try QuadraticRun(settings: settings, curvatures: [1], sigma: 0, x0: 1000, schedule: .random, steps: 300,
                                      evalEvery: nil, seed: seed).run()
        let ms = try #require(random.meanSquare), growth = try #require(random.growthPerRound)
        #expect(isClose(ms.radius, pow(rhoT, 2), relative: 1e-9), "ρ(T)^(p/2) \(ms.radius) against the full operator's \(pow(rhoT, 2))")
        #expect(ms.lnRadius < 0 && growth < 0 && growth <= ms.lnRadius + 0.03, "seed \(seed): growth \(growth), bound \(ms.lnRadius)")
        #expect(random.theory == nil)
    }
}
