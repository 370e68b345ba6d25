// The update rules against hand-derived values and independent formulations, in Double and Float.
import Elastic
import NumericTesting
import Testing

@Test func elasticExchangeUsesOnePreExchangeDifference() {
    var x: [Double] = [3, -2, 0.5]
    var c: [Double] = [1, 2, 0.5]
    x.withUnsafeMutableBufferPointer { xp in
        c.withUnsafeMutableBufferPointer { cp in ElasticExchange.exchange(worker: xp, center: cp, alpha: 0.25) }
    }
    // d = 0.25·(x − c) = (0.5, −1, 0): worker moves by −d, center by +d.
    #expect(x == [2.5, -1, 0.5])
    #expect(c == [1.5, 1, 0.5])
}

@Test func elasticExchangeConservesTheSumInFloat() {
    var x: [Float] = [1.5, -4, 7]
    var c: [Float] = [0.25, 3, -1]
    let before = zip(x, c).map { $0 + $1 }
    x.withUnsafeMutableBufferPointer { xp in
        c.withUnsafeMutableBufferPointer { cp in ElasticExchange.exchange(worker: xp, center: cp, alpha: 0.3) }
    }
    for (k, s) in before.enumerated() { #expect(abs(x[k] + c[k] - s) <= 1e-6) }
}

@Test func synchronousExchangeMatchesTheAppendixEquations() {
    var workers: [[Double]] = [[1, 2], [3, -1], [-2, 0]]
    var center: [Double] = [0.5, 1]
    let alpha = 0.2
    // Reference, written from x_i ← x_i − α(x_i − x̃), x̃ ← x̃ + α Σ (x_i − x̃) with the old x̃.
    let expectedWorkers = workers.map { w in (0..<2).map { w[$0] - alpha * (w[$0] - center[$0]) } }
    let expectedCenter = (0..<2).map { k in center[k] + alpha * workers.reduce(0) { $0 + ($1[k] - center[k]) } }
    let w0 = UnsafeMutableBufferPointer<Double>.allocate(capacity: 6)
    defer { w0.deallocate() }
    for i in 0..<3 { for k in 0..<2 { w0[2 * i + k] = workers[i][k] } }
    let buffers = (0..<3).map { UnsafeMutableBufferPointer(rebasing: w0[(2 * $0)..<(2 * $0 + 2)]) }
    center.withUnsafeMutableBufferPointer { ElasticExchange.synchronousExchange(workers: buffers, center: $0, alpha: alpha) }
    for i in 0..<3 { workers[i] = [w0[2 * i], w0[2 * i + 1]] }
    for i in 0..<3 { for k in 0..<2 { #expect(isClose(workers[i][k], expectedWorkers[i][k], relative: 1e-15)) } }
    for k in 0..<2 { #expect(isClose(center[k], expectedCenter[k], relative: 1e-15)) }
}

@Test func sgdAndWeightDecay() {
    var x: [Float] = [1, -2]
    var g: [Float] = [0.5, 0.25]
    g.withUnsafeMutableBufferPointer { gp in
        x.withUnsafeBufferPointer { LocalStep.addWeightDecay(gp, parameters: $0, decay: 0.1) }
    }
    #expect(abs(g[0] - 0.6) < 1e-6 && abs(g[1] - 0.05) < 1e-6)
    x.withUnsafeMutableBufferPointer { xp in g.withUnsafeBufferPointer { LocalStep.sgd(xp, gradient: $0, learningRate: 0.5) } }
    #expect(abs(x[0] - 0.7) < 1e-6 && abs(x[1] + 2.025) < 1e-6)
}

/// Nesterov in (x, v) form must reproduce the textbook accelerated-gradient sequence
/// x_{t+1} = y_t − η∇F(y_t), y_{t+1} = x_{t+1} + δ(x_{t+1} − x_t), y_0 = x_0, on F(x) = h x²/2.
@Test func nesterovMatchesTheAcceleratedGradientSequence() {
    let h = 1.7, eta = 0.1, delta = 0.9
    var x = [2.0], v = [0.0], y = [0.0], g = [0.0]
    var refX = 2.0, refY = 2.0
    for _ in 0..<50 {
        x.withUnsafeBufferPointer { xp in v.withUnsafeBufferPointer { vp in
            y.withUnsafeMutableBufferPointer { Nesterov.lookahead(parameters: xp, velocity: vp, momentum: delta, into: $0) } } }
        g[0] = h * y[0]
        x.withUnsafeMutableBufferPointer { xp in v.withUnsafeMutableBufferPointer { vp in g.withUnsafeBufferPointer {
            Nesterov.step(parameters: xp, velocity: vp, lookaheadGradient: $0, learningRate: eta, momentum: delta) } } }
        let newX = refY - eta * h * refY
        refY = newX + delta * (newX - refX)
        refX = newX
        #expect(isClose(x[0], refX, relative: 1e-12, absolute: 1e-300))
    }
}

@Test func downpourAccumulatesPushesAndPulls() {
    var acc: [Double] = [0, 0]
    var center: [Double] = [1, 1]
    var x: [Double] = [5, 5]
    let gradients: [[Double]] = [[1, 2], [3, -1], [0.5, 0.5]]
    for g in gradients { acc.withUnsafeMutableBufferPointer { a in g.withUnsafeBufferPointer { Downpour.accumulate(a, gradient: $0, learningRate: 0.1) } } }
    acc.withUnsafeMutableBufferPointer { a in center.withUnsafeMutableBufferPointer { Downpour.push(a, into: $0) } }
    #expect(isClose(center[0], 1 - 0.1 * 4.5) && isClose(center[1], 1 - 0.1 * 1.5))
    #expect(acc == [0, 0])
    center.withUnsafeBufferPointer { c in x.withUnsafeMutableBufferPointer { Downpour.pull(c, into: $0) } }
    #expect(x == center)
}

@Test func admmWorkerStepAndCenter() {
    // λ = 1, x = 4, x̃ = 2, h = 1 (g = 4), η = 0.1, ρ = 5: λ' = 1 − 2 = −1; x' = (4 − 0.4 + 0.5(−1 + 2)) / 1.5.
    var lambda = [1.0], x = [4.0], c = [2.0], g = [4.0]
    lambda.withUnsafeMutableBufferPointer { l in x.withUnsafeMutableBufferPointer { xp in c.withUnsafeBufferPointer { cp in
        g.withUnsafeBufferPointer { ADMM.workerStep(multiplier: l, parameters: xp, center: cp, gradient: $0, learningRate: 0.1, rho: 5) } } } }
    #expect(lambda[0] == -1)
    #expect(isClose(x[0], 4.1 / 1.5, relative: 1e-15))
    let xs: [[Double]] = [[1], [2], [6]], ls: [[Double]] = [[0.5], [-1], [0]]
    var center = [0.0]
    xs[0].withUnsafeBufferPointer { x0 in xs[1].withUnsafeBufferPointer { x1 in xs[2].withUnsafeBufferPointer { x2 in
        ls[0].withUnsafeBufferPointer { l0 in ls[1].withUnsafeBufferPointer { l1 in ls[2].withUnsafeBufferPointer { l2 in
            center.withUnsafeMutableBufferPointer { ADMM.updateCenter($0, parameters: [x0, x1, x2], multipliers: [l0, l1, l2]) }
        } } } } } }
    #expect(isClose(center[0], (0.5 + 3 + 6) / 3, relative: 1e-15))
}

@Test func outerStepsMoveTheCenterByThePseudoGradientAsWritten() {
    // Δ = x̃ − mean x_i = 1 − (0 + 3)/2 = −0.5 (the workers went up); v = 0.9·2 + Δ = 1.3.
    var center = [1.0], delta = [0.0]
    let a = [0.0], b = [3.0]
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in center.withUnsafeBufferPointer { c in
        delta.withUnsafeMutableBufferPointer { OuterStep.pseudoGradient(center: c, workers: [pa, pb], into: $0) }
    } } }
    #expect(delta == [-0.5])
    for (outer, expected, velocity) in [(OuterOptimizer.sgd, 1 + 0.7 * 0.5, 2.0), (.heavyBall, 1 - 0.7 * 1.3, 1.3),
                                         (.nesterov, 1 - 0.7 * (-0.5 + 0.9 * 1.3), 1.3)] {
        var c = [1.0], v = [2.0]
        c.withUnsafeMutableBufferPointer { cp in v.withUnsafeMutableBufferPointer { vp in delta.withUnsafeBufferPointer {
            OuterStep.apply(outer, center: cp, velocity: vp, pseudoGradient: $0, learningRate: 0.7, momentum: 0.9)
        } } }
        #expect(isClose(c[0], expected, relative: 1e-15) && isClose(v[0], velocity, relative: 1e-15), "\(outer): \(c) \(v)")
    }
}
