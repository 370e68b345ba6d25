// easgd advise: the curvature estimate against exact answers (a quadratic; a tiny CNN's dense Hessian from
// dsyev), the sequential stability map against the round-robin EAMSGD machinery, and the validation the issue
// asks for: on the quadratic objective in the training engine, predicted stable/unstable agrees with observed
// convergence/divergence on settings on both sides of the boundary.

import CommandTesting
import Dynamics
import Elastic
import Foundation
import NumericTesting
import Testing
import Training

@Test func curvatureOfAQuadraticIsItsLargestEigenvalue() {
    for (h, top) in [([0.5, 2, 10], 10.0), ([-5, 1, 2], 2.0), ([3, -0.5], 3.0)] {
        let q = QuadraticObjective<Float>(curvatures: h, minimizer: h.map { _ in 0.3 })
        let estimate = Curvature.topEigenvalue(dimension: h.count, at: h.map { _ in 1.0 }, tolerance: 1e-10, maxIterations: 2000) {
            q.exactGradient(at: $0, into: $1)
        }
        #expect(estimate.converged)
        #expect(isClose(estimate.topEigenvalue, top, relative: 1e-6), "\(h): \(estimate.topEigenvalue)")
    }
}

@Test func curvatureIsTheLargestAlgebraicEigenvalueWhenANegativeOneDominates() {
    // A saddle whose most negative curvature (−10) dominates in magnitude over a clustered positive spectrum
    // up to 4.3: what a net's Hessian looked like at step 15 of a short SGD run, where power iteration with a
    // shift stopped after 17 products at 0.0034 (its relative-change test met while it had barely moved).
    let curvatures = [-10.0] + (0..<300).map { 4.3 * Double($0) / 299 }
    let q = QuadraticObjective<Float>(curvatures: curvatures, minimizer: curvatures.map { _ in 0 })
    let estimate = Curvature.topEigenvalue(dimension: curvatures.count, at: curvatures.map { _ in 0.5 }, tolerance: 1e-3,
                                           maxIterations: 100) { q.exactGradient(at: $0, into: $1) }
    #expect(estimate.converged && estimate.products < 100)
    #expect(isClose(estimate.topEigenvalue, 4.3, relative: 1e-2), "\(estimate.topEigenvalue) after \(estimate.products) products")
}

@Test func curvatureOfATinyNetMatchesItsDenseHessian() throws {
    // A net small enough for its whole Hessian: columns by central differences of gradients, eigenvalues by dsyev.
    let net = try Network<Double>("(1,6)C(2,4)P(2,2)D(3,1)S(3,1)", maxBatch: 4)
    let theta = FlatBuffer<Double>(count: net.parameterCount)
    net.initialize(theta, seed: 2)
    var rng = SplitMix64(seed: 3)
    let input = (0..<(4 * 36)).map { _ in rng.nextGaussian() }
    let labels: [Int32] = [0, 1, 2, 1]
    var unused = SplitMix64(seed: 0)
    func gradient(_ x: UnsafeBufferPointer<Double>, _ g: UnsafeMutableBufferPointer<Double>) {
        _ = labels.withUnsafeBufferPointer {
            net.lossAndGradient(parameters: x, input: input, labels: $0, batch: 4, gradient: g, rng: &unused, training: false)
        }
    }
    let n = net.parameterCount, x = theta.array, eps = 1e-5
    var hessian = Matrix(rows: n, columns: n)
    var plus = x, minus = x, gp = x, gm = x
    for j in 0..<n {
        plus = x; minus = x
        plus[j] += eps; minus[j] -= eps
        plus.withUnsafeBufferPointer { p in gp.withUnsafeMutableBufferPointer { gradient(p, $0) } }
        minus.withUnsafeBufferPointer { m in gm.withUnsafeMutableBufferPointer { gradient(m, $0) } }
        for i in 0..<n { hessian[i, j] = (gp[i] - gm[i]) / (2 * eps) }
    }
    for i in 0..<n { for j in 0..<i { let s = (hessian[i, j] + hessian[j, i]) / 2; hessian[i, j] = s; hessian[j, i] = s } }
    let reference = try symmetricEigen(hessian).values.max()!
    let estimate = Curvature.topEigenvalue(dimension: n, at: x, tolerance: 1e-9, maxIterations: 5000, gradient: gradient)
    #expect(estimate.converged)
    #expect(isClose(estimate.topEigenvalue, reference, relative: 1e-5), "\(estimate.topEigenvalue) vs \(reference)")
}

@Test(arguments: [0.0, 0.5, 0.9, 0.99])
func sequentialStabilityIsOneWorkerEAMSGDWithoutCoupling(momentum: Double) throws {
    let solver = EigenSolver(maxDimension: 4)
    for k in 1...50 {
        let e = 2.5 * Double(k) / 50
        // The worker's (x, v) block of round-robin EAMSGD with p = 1 and α = 0, probed from the Elastic code.
        let full = RoundRobinEAMSGD(workers: 1, eta: e, alpha: 0, momentum: momentum).probedRoundMap()
        var block = Matrix(rows: 2, columns: 2)
        for i in 0..<2 { for j in 0..<2 { block[i, j] = full[i, j] } }
        let reference = try solver.spectralRadius(of: block)
        #expect(isClose(SequentialStability.radius(etaH: e, momentum: momentum), reference, relative: 1e-9, absolute: 1e-12))
    }
}

@Test func predictionAgreesWithTheEngineOnBothSidesOfTheBoundary() {
    let curvatures = [0.3, 1.0, 4.0]
    let q = QuadraticObjective<Float>(curvatures: curvatures, minimizer: [0.5, -1, 2])
    // h_max as advise estimates it (power iteration on central-difference Hessian-vector products).
    let hMax = Curvature.topEigenvalue(dimension: 3, at: [0, 0, 0], tolerance: 1e-8, maxIterations: 1000) {
        q.exactGradient(at: $0, into: $1)
    }.topEigenvalue
    var checked = 0
    for (method, momentum, etaHs) in [(Algorithm.sgd, 0.0, [1.8, 1.95, 2.05, 2.3]),
                                      (.msgd, 0.9, [1.0, 1.3, 1.42, 1.7]),
                                      (.msgd, 0.5, [1.4, 1.45, 1.55, 1.8])] {
        for etaH in etaHs {
            let eta = etaH / hMax
            let predictedStable = SequentialStability.radius(etaH: eta * hMax, momentum: momentum) < 1
            let optimizer = SequentialOptimizer(settings: OptimizerSettings(method: method, learningRate: eta, momentum: momentum,
                                                                            weightDecay: 0), count: 3)
            for j in 0..<3 { optimizer.parameters[j] = Float(q.minimizer[j] + 1) }
            let start = q.distance(optimizer.parameters)
            for _ in 0..<3000 { _ = optimizer.step(q) }
            let end = q.distance(optimizer.parameters)
            let converged = end.isFinite && end < 1e-3 * start
            let diverged = !end.isFinite || end > 1e3 * start
            #expect(converged != diverged, "\(method) δ=\(momentum) ηh=\(etaH): neither converged nor diverged (\(end))")
            #expect(predictedStable == converged, "\(method) δ=\(momentum) ηh=\(etaH): predicted \(predictedStable), distance \(start) → \(end)")
            checked += 1
        }
    }
    #expect(checked == 12)
}

@Test func adviseOnARealRun() throws {
    let dir = try temporaryDirectory().appendingPathComponent("run")
    let train = try easgd(["train", "--method", "msgd", "--net", "(1,28)C(4,24)P(4,12)D(16,1)S(10,1)", "--lr", "0.01",
                           "--momentum", "0.9", "--batch", "16", "--steps", "20", "--threads", "1", "--quiet", "--out", dir.path])
    #expect(train.status == 0, "\(train.stderr)")
    let r = try easgd(["advise", dir.path, "--batch", "32", "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let o = try jsonObject(r.stdout)
    let hMax = try #require(jsonNumber(o["h_max"])), radius = try #require(jsonNumber(o["spectral_radius"]))
    #expect(hMax > 0 && hMax.isFinite && o["converged"] as? Bool == true)
    #expect(isClose(radius, SequentialStability.radius(etaH: 0.01 * hMax, momentum: 0.9), relative: 1e-12))
    #expect(o["stable"] as? Bool == (radius < 1))
    #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("advise.png").path))
    let bad = try easgd(["advise", dir.appendingPathComponent("nothing").path])
    #expect(bad.status != 0 && bad.stderr.hasPrefix("easgd: ") && bad.stderr.contains("config.json"))
}

/// `advise` on a run directory of every backend and parallel method: the keys, a verdict that matches
/// the radius, and a radius equal to what `easgd radius` computes at the reported coordinates (round-robin).
@Test(arguments: [("easgd", "simulated"), ("eamsgd", "threads"), ("downpour", "mpi"), ("mdownpour", "simulated"),
                  ("sync-easgd", "simulated"), ("adownpour", "threads")])
func adviseReadsEveryBackendsRun(method: String, backend: String) throws {
    if backend == "mpi" && mpirun == nil { return }
    let dir = try temporaryDirectory().appendingPathComponent("run")
    var own: [String] = ["--tau", "2"]
    if method == "eamsgd" || method == "mdownpour" { own = method == "mdownpour" ? ["--momentum", "0.5"] : own + ["--momentum", "0.9"] }
    let common = ["train", "--method", method, "--lr", "0.02"] + own + ["--net", learnNet, "--batch", "16", "--steps", "6",
                  "--eval-every", "1000", "--data", try smallFashionMNIST.get().path, "--quiet", "--out", dir.path]
    if backend == "mpi" {
        let (status, message) = try mpiRun(3, common + ["--backend", "mpi"])
        #expect(status == 0, "\(message)")
    } else {
        let r = try easgd(common + ["--workers", "2", "--backend", backend] + (backend == "simulated" ? ["--compute-seconds", "0.01"] : []))
        #expect(r.status == 0, "\(r.stderr)")
    }
    let r = try easgd(["advise", dir.path, "--batch", "32", "--at", "workers", "--json"])
    #expect(r.status == 0, "\(method)/\(backend): \(r.stderr)")
    let o = try jsonObject(r.stdout)
    for key in ["method", "workers", "tau", "eta", "momentum", "alpha", "schedule", "h_max", "spectral_radius", "stable", "margin", "h_star"] {
        #expect(o[key] != nil, "\(method): no \(key)")
    }
    #expect(o["method"] as? String == method && jsonNumber(o["workers"]) == 2 && jsonNumber(o["eta"]) == 0.02)
    #expect((o["workers_at"] as? [Any])?.count == 2)
    let radius = try #require(jsonNumber(o["spectral_radius"])), etaH = try #require(jsonNumber(o["eta_h"]))
    #expect(o["stable"] as? Bool == (radius <= 1 + 1e-12), "\(method): radius \(radius)")
    if let hStar = jsonNumber(o["h_star"]), let hMax = jsonNumber(o["h_max"]) {
        #expect((hMax < hStar) == (o["stable"] as? Bool ?? false), "\(method): h_max \(hMax), h* \(hStar)")
    }
    // The same radius from `easgd radius` for the methods it maps (DOWNPOUR's averaging variant uses DOWNPOUR's map).
    let mapped = ["easgd": "easgd", "eamsgd": "eamsgd", "downpour": "downpour", "adownpour": "downpour"]
    if let mapMethod = mapped[method] {
        var arguments = ["radius", "--method", mapMethod, "--workers", "2", "--eta", "\(etaH)", "--tau", "2", "--json"]
        if mapMethod != "downpour" { arguments += ["--alpha", "\(0.9 / 2)"] }
        if mapMethod == "eamsgd" { arguments += ["--momentum", "0.9"] }
        let reference = try easgd(arguments)
        #expect(reference.status == 0, "\(reference.stderr)")
        let expected = try #require(jsonNumber(try jsonObject(reference.stdout)["spectral_radius"]))
        #expect(isClose(radius, expected, relative: 1e-12), "\(method): \(radius) vs radius \(expected)")
    }
}

/// The sharpness probe's loss with its ReLU and pooling pattern fixed at the model: the top eigenvalue from
/// Lanczos equals the largest eigenvalue (dsyev) of the dense Hessian built column by column from the same
/// pattern-fixed gradients, and the pattern-fixed gradient is smooth: Hessian-vector products with ε = 10⁻² and
/// ε = 10⁻⁵ agree to O(ε²), which a difference across a ReLU's kink would not.
@Test func fixedPatternCurvatureOfATinyNetIsItsSmoothHessian() throws {
    let spec = try NetSpec(parsing: "(1,6)C(2,4)P(2,2)D(3,1)S(3,1)")
    var rng = SplitMix64(seed: 5)
    let pixels = (0..<(8 * 36)).map { _ in UInt8(truncatingIfNeeded: rng.next() >> 56) }
    let train = Dataset(name: "tiny", shape: Shape(channels: 1, height: 6, width: 6), pixels: pixels,
                        labels: (0..<8).map { UInt8($0 % 3) }, classes: 3)
    let loss = FixedBatchLoss(spec: spec, train: train, preprocessing: try Preprocessing(train: train, input: spec.input),
                              count: 8, weightDecay: 1e-3)
    let theta = FlatBuffer<Double>(count: loss.network.parameterCount)
    loss.network.initialize(theta, seed: 4)
    let x = theta.array, n = x.count
    loss.fix(at: x)
    func hv(_ v: [Double], _ eps: Double) -> [Double] {
        var gp = x, gm = x
        let plus = zip(x, v).map { $0 + eps * $1 }, minus = zip(x, v).map { $0 - eps * $1 }
        plus.withUnsafeBufferPointer { p in gp.withUnsafeMutableBufferPointer { loss.gradient(p, $0) } }
        minus.withUnsafeBufferPointer { m in gm.withUnsafeMutableBufferPointer { loss.gradient(m, $0) } }
        return zip(gp, gm).map { ($0 - $1) / (2 * eps) }
    }
    var hessian = Matrix(rows: n, columns: n)
    for j in 0..<n {
        var e = [Double](repeating: 0, count: n); e[j] = 1
        let column = hv(e, 1e-5)
        for i in 0..<n { hessian[i, j] = column[i] }
    }
    for i in 0..<n { for j in 0..<i { let s = (hessian[i, j] + hessian[j, i]) / 2; hessian[i, j] = s; hessian[j, i] = s } }
    let v = (0..<n).map { _ in rng.nextGaussian() / Double(n).squareRoot() }
    let coarse = hv(v, 1e-2), fine = hv(v, 1e-5)
    let scale = fine.map(abs).max()!
    #expect(zip(coarse, fine).allSatisfy { abs($0 - $1) <= 1e-3 * scale }, "the pattern-fixed gradient is not smooth")
    loss.release()
    let reference = try symmetricEigen(hessian).values.max()!
    let estimate = loss.topEigenvalue(at: x, tolerance: 1e-9, maxIterations: 500)
    #expect(estimate.converged)
    #expect(isClose(estimate.topEigenvalue, reference, relative: 1e-6), "\(estimate.topEigenvalue) vs \(reference)")
}
