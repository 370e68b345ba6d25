// The p = 1 reference methods, each a few calls into the shared `Elastic` rules:
//   sgd     x ← x − η(g(x) + λx)
//   msgd    Nesterov: v ← δv − η(g(x + δv) + λ(x + δv)); x ← x + v
//   asgd    sgd, then z ← z + (x − z)/(t + 1): z is the mean of the iterates x_1 … x_t
//   mvasgd  sgd, then z ← z + a(x − z) with a constant moving rate a
// ASGD and MVASGD are evaluated (and saved as the model) at z, the others at x.

import Elastic

public struct OptimizerSettings: Codable, Equatable, Sendable {
    public var method: Algorithm
    public var learningRate: Double
    public var momentum: Double
    public var movingRate: Double
    public var weightDecay: Double
    /// The learning rate's schedule (nil: constant, and in configs written before schedules).
    public var schedule: LearningRateSchedule?
    /// `method` is one of the sequential algorithms (`Algorithm.isSequential`).
    public init(method: Algorithm, learningRate: Double, momentum: Double = TrainingDefaults.momentum,
                movingRate: Double = TrainingDefaults.movingRate, weightDecay: Double = TrainingDefaults.weightDecay) {
        self.method = method
        self.learningRate = learningRate
        self.momentum = momentum
        self.movingRate = movingRate
        self.weightDecay = weightDecay
    }
}

public final class SequentialOptimizer {
    public let settings: OptimizerSettings
    /// The iterate x, the velocity v (msgd), the average z (asgd, mvasgd).
    public let parameters: FlatBuffer<Float>
    public let velocity: FlatBuffer<Float>
    public let average: FlatBuffer<Float>
    /// Steps taken so far.
    public var step = 0
    private let gradient: FlatBuffer<Float>
    private let lookahead: FlatBuffer<Float>

    public init(settings: OptimizerSettings, count: Int) {
        self.settings = settings
        parameters = FlatBuffer(count: count)
        velocity = FlatBuffer(count: settings.method.usesVelocity ? count : 0)
        average = FlatBuffer(count: settings.method.evaluatesAverage ? count : 0)
        gradient = FlatBuffer(count: count)
        lookahead = FlatBuffer(count: settings.method.usesVelocity ? count : 0)
    }

    /// The model that is evaluated and saved: the average where there is one.
    public var model: FlatBuffer<Float> { settings.method.evaluatesAverage ? average : parameters }

    /// Call once after the parameters are initialised (the average starts at x_0).
    public func start() {
        if settings.method.evaluatesAverage { average.copy(from: parameters) }
    }

    /// One step on the objective's next sample (a CNN replica's next minibatch) with learning rate `learningRate`
    /// (the settings' when not given); returns its loss.
    public func step(_ replica: some Objective<Float>, learningRate: Double? = nil) -> Double {
        let eta = Float(learningRate ?? settings.learningRate)
        let lambda = Float(settings.weightDecay)
        let loss: Double
        // The element-wise passes run in blocks on the compute threads; each element's arithmetic is the same
        // whichever thread does it, so the bits do not depend on the thread count.
        switch settings.method {
        case .msgd:
            let delta = Float(settings.momentum)
            Parallel.forEachBlock(parameters.count) { r in
                Nesterov.lookahead(parameters: parameters.readOnlySlice(r), velocity: velocity.readOnlySlice(r), momentum: delta,
                                   into: lookahead.slice(r))
            }
            loss = replica.lossAndGradient(at: lookahead, into: gradient)
            Parallel.forEachBlock(parameters.count) { r in
                LocalStep.addWeightDecay(gradient.slice(r), parameters: lookahead.readOnlySlice(r), decay: lambda)
                Nesterov.step(parameters: parameters.slice(r), velocity: velocity.slice(r),
                              lookaheadGradient: gradient.readOnlySlice(r), learningRate: eta, momentum: delta)
            }
        default:
            loss = replica.lossAndGradient(at: parameters, into: gradient)
            let rate: Float? = settings.method == .asgd ? Averaging.runningMeanRate(after: step)
                : settings.method == .mvasgd ? Float(settings.movingRate) : nil
            Parallel.forEachBlock(parameters.count) { r in
                LocalStep.addWeightDecay(gradient.slice(r), parameters: parameters.readOnlySlice(r), decay: lambda)
                LocalStep.sgd(parameters.slice(r), gradient: gradient.readOnlySlice(r), learningRate: eta)
                if let rate { Averaging.update(average: average.slice(r), parameters: parameters.readOnlySlice(r), rate: rate) }
            }
        }
        step += 1
        return loss
    }

    /// The buffers that make up the optimizer's state, by name, for checkpoints.
    public var stateBuffers: [(name: String, buffer: FlatBuffer<Float>)] {
        var list = [("parameters", parameters)]
        if settings.method.usesVelocity { list.append(("velocity", velocity)) }
        if settings.method.evaluatesAverage { list.append(("average", average)) }
        return list
    }

    /// The checkpoint buffer holding the model a run of `method` evaluates (one of `stateBuffers`' names).
    public static func evaluatedBuffer(_ method: Algorithm) -> String { method.evaluatesAverage ? "average" : "parameters" }
}
