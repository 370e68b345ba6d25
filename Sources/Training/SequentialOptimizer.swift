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

    /// One step on the objective's next sample (a CNN replica's next minibatch); returns its loss.
    public func step(_ replica: some Objective<Float>) -> Double {
        let eta = Float(settings.learningRate)
        let lambda = Float(settings.weightDecay)
        let loss: Double
        switch settings.method {
        case .msgd:
            let delta = Float(settings.momentum)
            Nesterov.lookahead(parameters: parameters.readOnly, velocity: velocity.readOnly, momentum: delta,
                               into: lookahead.pointer)
            loss = replica.lossAndGradient(at: lookahead, into: gradient)
            LocalStep.addWeightDecay(gradient.pointer, parameters: lookahead.readOnly, decay: lambda)
            Nesterov.step(parameters: parameters.pointer, velocity: velocity.pointer,
                          lookaheadGradient: gradient.readOnly, learningRate: eta, momentum: delta)
        default:
            loss = replica.lossAndGradient(at: parameters, into: gradient)
            LocalStep.addWeightDecay(gradient.pointer, parameters: parameters.readOnly, decay: lambda)
            LocalStep.sgd(parameters.pointer, gradient: gradient.readOnly, learningRate: eta)
            if settings.method == .asgd {
                Averaging.update(average: average.pointer, parameters: parameters.readOnly,
                                 rate: Averaging.runningMeanRate(after: step))
            } else if settings.method == .mvasgd {
                Averaging.update(average: average.pointer, parameters: parameters.readOnly,
                                 rate: Float(settings.movingRate))
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
