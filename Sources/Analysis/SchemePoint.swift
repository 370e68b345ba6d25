// One round-robin scheme at one parameter point, and what `radius` and `simulate` compute there: the spectral
// radius of its round map (or the mean-square radius of random order), and a trajectory of the Elastic update
// code with its measured growth rate. Every result echoes the settings that determined it, under the keys
// every command uses (method, workers, eta, rho, alpha, momentum, tau, h, schedule, spectral_radius, stable).

import Dynamics
import Elastic
import Foundation
import Plotting
import Records
import Training

public struct SchemePoint: Sendable {
    public var method: Algorithm
    public var workers: Int
    public var eta: Double
    /// ρ or α (α = ηρ); DOWNPOUR has none (`.alpha(0)`).
    public var coupling: Coupling
    public var h: Double
    public var momentum: Double
    public var tau: Int
    /// DiLoCo's outer optimizer (nil for the other methods); `eta` is then the inner rate γ and `tau` the inner
    /// steps H.
    public var outer: OuterSettings?
    /// DiLoCo's workers' own curvatures h_i (heterogeneous data; nil: every worker's is `h`).
    public var workerCurvatures: [Double]?
    /// DiLoCo and round-robin EASGD and EAMSGD: the gradient noise σ whose stationary center MSE `radius` adds (nil:
    /// none asked).
    public var sigma: Double?
    /// With `sigma`: the codec DiLoCo's pseudo-gradients (with error feedback or not) or EASGD's and EAMSGD's coded exchanges go
    /// through (nil: none).
    public var compression: Compression?

    public init(method: Algorithm, workers: Int, eta: Double, coupling: Coupling, h: Double, momentum: Double, tau: Int,
                outer: OuterSettings? = nil) {
        self.method = method
        self.workers = workers
        self.eta = eta
        self.coupling = coupling
        self.h = h
        self.momentum = momentum
        self.tau = tau
        self.outer = outer
    }

    /// δ where none was given: the training runs' default (TrainingDefaults.momentum, 0.99) for a method with
    /// momentum, so a map and a run of the same command line answer for the same method; 0 for the others.
    public static func momentum(_ method: Algorithm, given: Double?) -> Double {
        given ?? (method.takes(.momentum) ? TrainingDefaults.momentum : 0)
    }

    /// DiLoCo's synchronous scheme at this point.
    public func synchronousScheme() -> SynchronousOuterScheme {
        (outer ?? OuterSettings()).round(workers: workers, innerRate: eta, innerSteps: tau, curvatures: workerCurvatures ?? [h])
    }

    public func scheme() -> any RoundRobinScheme {
        makeScheme(method, workers: workers, eta: eta, coupling: coupling, h: h, momentum: momentum, tau: tau, outer: outer)
    }

    /// The settings, each only where the method takes it.
    public func settingsJSON(schedule: Schedule) -> [(String, JSON)] {
        var fields: [(String, JSON)] = [("method", .string(method.rawValue)), ("workers", .integer(workers)), ("eta", .number(eta))]
        if method.hasCoupling { fields += [("rho", .number(coupling.rho(eta: eta))), ("alpha", .number(coupling.alpha(eta: eta)))] }
        if method.takes(.momentum) { fields.append(("momentum", .number(momentum))) }
        if let outer, method.takes(.outer) {
            fields += [("outer", .string(outer.optimizer.rawValue)), ("outer_eta", .number(outer.learningRate))]
            if outer.optimizer != .sgd { fields.append(("outer_momentum", .number(outer.momentum))) }
            fields.append(("outer_delay", .integer(outer.delayed ? 1 : 0)))
            if outer.innerNesterov {
                fields += [("inner_momentum", .number(outer.innerMomentum)), ("keeps_inner_velocity", .bool(outer.keepsInnerVelocity))]
            }
        }
        fields.append(("tau", .integer(tau)))
        fields.append(workerCurvatures.map { ("worker_h", .array($0.map { .number($0) })) } ?? ("h", .number(h)))
        fields.append(("schedule", .string(schedule.rawValue)))
        return fields
    }

    /// ρ(F) of the round map (dgeev on the map probed from the update code), or for random order the mean-square
    /// radius per round ρ(T)^{p/2}; the JSON adds the eigenvalues or the per-activation radius. With `sigma`
    /// (DiLoCo, round-robin EASGD and EAMSGD), also the center's stationary MSE (nil when the round is unstable or none was asked),
    /// and with `compression` the same under the codec's noise (nil when not stable in mean square).
    public func radius(schedule: Schedule) throws -> (radius: Double, stable: Bool, json: JSON, centerMSE: Double?, quantised: QuantisedRound?) {
        let radius: Double
        var extra: [(String, JSON)] = []
        if method.hasSynchronousMap {
            // Every worker each round: the schedule does not enter. The pseudo-gradient's gain m and s = η_o·m say
            // where the point sits against the closed-form conditions (SynchronousOuter.swift).
            let synchronous = synchronousScheme()
            let (r, eigenvalues) = try synchronous.radius()
            guard r.isFinite else { throw OutputError("the spectral radius is not finite") }
            radius = r
            extra = [("pseudo_gradient_gain", .number(synchronous.pseudoGradientGain)),
                     ("eigenvalues", .array(eigenvalues.map { .array([.number($0.re), .number($0.im)]) }))]
            var mse: Double? = nil, quantised: QuantisedRound? = nil
            if let sigma {
                mse = try synchronous.stationaryCenterMSE(sigma: sigma)
                if let mse, !mse.isFinite { throw OutputError("the center's mean-square error is not finite") }
                extra += [("sigma", .number(sigma)), ("pseudo_gradient_noise_variance", .number(synchronous.pseudoGradientNoiseVariance(sigma: sigma))),
                          ("center_mse", mse.map { .number($0) } ?? .null)]
                if let compression, let noise = QuantisationNoise(codec: compression.codec, errorFeedback: compression.errorFeedback) {
                    // The codec's error as multiplicative noise (QuantisationNoise.swift): nil when the noisy round is
                    // not stable in mean square.
                    quantised = mse == nil ? nil : try synchronous.stationaryCenterMSE(sigma: sigma, quantisation: noise)
                    extra += [("compress", .string(compression.codec.format.rawValue)), ("compress_rounding", .string(compression.codec.rounding.rawValue)),
                              ("compress_block", .integer(compression.codec.blockSize)), ("error_feedback", .bool(compression.errorFeedback)),
                              ("kappa", .number(noise.kappa)),
                              ("codec_error_variance", quantised.map { .number($0.errorVariance) } ?? .null),
                              ("center_mse_compressed", quantised.map { .number($0.centerMSE) } ?? .null)]
                }
            }
            let stable = radius <= 1 + StabilityMap.marginalBand
            return (radius, stable, .object(settingsJSON(schedule: schedule).filter { $0.0 != "schedule" }
                                            + [("schedule", .string("synchronous")), ("spectral_radius", .number(radius)), ("stable", .bool(stable))] + extra),
                    mse, quantised)
        }
        let scheme = self.scheme()
        if schedule == .random {
            let random = RandomOrderScheme(scheme)
            let perActivation = try random.secondMomentRadius(solver: EigenSolver(maxDimension: random.reducedDimension))
            radius = pow(perActivation, Double(workers) / 2)
            guard radius.isFinite else { throw OutputError("the mean-square radius is not finite") }
            extra.append(("second_moment_radius_per_activation", .number(perActivation)))
        } else {
            let eigenvalues = try scheme.roundMapEigenvalues(solver: EigenSolver(maxDimension: scheme.stateDimension))
            radius = eigenvalues.reduce(0) { max($0, $1.magnitude) }
            guard radius.isFinite else { throw OutputError("the spectral radius is not finite") }
            extra.append(("eigenvalues", .array(eigenvalues.map { .array([.number($0.re), .number($0.im)]) })))
        }
        let stable = radius <= 1 + StabilityMap.marginalBand
        var mse: Double? = nil, quantised: QuantisedRound? = nil
        if let sigma, let model = codedNoiseModel(scheme, sigma: sigma) {
            // Round-robin EASGD or EAMSGD with gradient noise, its exchanges coded or not (CodedExchangeNoise.swift):
            // the codec's error enters the elastic difference, x − s carries it back (error feedback by construction).
            let kappa = compression.flatMap { QuantisationNoise(codec: $0.codec, errorFeedback: false) }?.kappa
            let plain = stable ? try model(0) : nil
            let noise = plain == nil ? nil : try kappa.flatMap { try model($0) }
            mse = plain?.centerMSE
            if let mse, !mse.isFinite { throw OutputError("the center's mean-square error is not finite") }
            extra += [("sigma", .number(sigma)), ("center_mse", mse.map { .number($0) } ?? .null)]
            if let compression, let kappa {
                if let noise, let plain {
                    quantised = QuantisedRound(centerMSE: noise.centerMSE, uncompressedMSE: plain.centerMSE,
                                               errorVariance: noise.errorVariance, messageMeanSquare: noise.messageMeanSquare)
                }
                let codec: [(String, JSON)] = [("compress", .string(compression.codec.format.rawValue)),
                                               ("compress_rounding", .string(compression.codec.rounding.rawValue)),
                                               ("compress_block", .integer(compression.codec.blockSize)), ("kappa", .number(kappa))]
                let msRadius: JSON = noise.map { .number($0.meanSquareRadius) } ?? .null
                let errorVariance: JSON = quantised.map { .number($0.errorVariance) } ?? .null
                let coded: JSON = quantised.map { .number($0.centerMSE) } ?? .null
                extra += codec + [("mean_square_radius", msRadius), ("codec_error_variance", errorVariance), ("center_mse_compressed", coded)]
            }
        }
        return (radius, stable, .object(settingsJSON(schedule: schedule) + [("spectral_radius", .number(radius)), ("stable", .bool(stable))] + extra),
                mse, quantised)
    }

    /// The coded exchange's noise model of a round-robin EASGD or EAMSGD scheme, as a function of κ (nil: another method).
    private func codedNoiseModel(_ scheme: any RoundRobinScheme, sigma: Double) -> ((Double) throws -> CodedExchangeNoise?)? {
        if let easgd = scheme as? RoundRobinEASGD { return { try easgd.codedExchangeNoise(sigma: sigma, kappa: $0) } }
        if let eamsgd = scheme as? RoundRobinEAMSGD { return { try eamsgd.codedExchangeNoise(sigma: sigma, kappa: $0) } }
        return nil
    }

    /// A trajectory of the Elastic update code from `initial` over `rounds` rounds, against ρ(F): what `simulate`
    /// prints (its lines and JSON) and the explorer draws (`maxAbs`, max_k |s_k| after each round, round 0 first).
    public struct TrajectoryReport: Sendable {
        public var lines: [String]
        public var json: JSON
        public var maxAbs: [Double]
        public var radius: Double
    }

    public func trajectoryReport(from initial: InitialState, rounds: Int) throws -> TrajectoryReport {
        let scheme = self.scheme()
        let trajectory = scheme.simulate(from: scheme.initialState(initial), rounds: rounds)
        let (radius, stable, _, _, _) = try self.radius(schedule: .roundRobin)
        let lnRadius = log(radius)
        var lines = ["spectral radius of the round map: \(try number(radius)) (ln = \(try number(lnRadius)))"]
        if let diverged = trajectory.divergedAtRound {
            lines.append("diverged at round \(diverged): max|s| left the finite range (> 1e300) after \(diverged - 1) finite rounds")
        }
        if let vanished = trajectory.vanishedAtRound { lines.append("the state reached exactly 0 at round \(vanished)") }
        var relative: Double? = nil
        if let rate = trajectory.growthRate {
            lines.append("measured growth rate per round: \(String(format: "%.9g", rate)) (ln max|s|, least squares over rounds \(trajectory.maxAbs.count / 2)..\(trajectory.roundsRun))")
            if lnRadius != 0 {
                relative = abs(rate - lnRadius) / abs(lnRadius)
                lines.append("relative difference from ln rho(F): \(String(format: "%.3g", relative! * 100)) %")
            }
        } else {
            lines.append("growth rate not measurable: too few finite, nonzero rounds")
        }
        let json = JSON.object(settingsJSON(schedule: .roundRobin) + [
            ("rounds", .integer(rounds)), ("rounds_run", .integer(trajectory.roundsRun)),
            ("spectral_radius", .number(radius)), ("stable", .bool(stable)), ("ln_spectral_radius", .number(lnRadius)),
            ("growth_rate", trajectory.growthRate.map { .number($0) } ?? .null),
            ("relative_difference", relative.map { .number($0) } ?? .null),
            ("diverged_at_round", trajectory.divergedAtRound.map { .integer($0) } ?? .null),
            ("vanished_at_round", trajectory.vanishedAtRound.map { .integer($0) } ?? .null),
        ])
        return TrajectoryReport(lines: lines, json: json, maxAbs: trajectory.maxAbs, radius: radius)
    }

    /// `easgd simulate`: PREFIX.csv (round, max_abs, log10_max_abs) and PREFIX.png; the report's lines, its JSON
    /// and the figure's warning if gnuplot could not draw it.
    public func simulate(from initial: InitialState, rounds: Int, prefix: String) throws -> (lines: [String], json: JSON, warning: String?) {
        let report = try trajectoryReport(from: initial, rounds: rounds)
        let radius = report.radius
        let transaction = OutputTransaction()
        var csv = CSV(header: ["round", "max_abs", "log10_max_abs"])
        for (t, m) in report.maxAbs.enumerated() {
            if m > 0 { try csv.row([Double(t), m, log10(m)]) } else { csv.row([String(t), "0", ""]) }
        }
        let csvTemporary = try transaction.write(csv.text, to: prefix + ".csv")
        let start0 = report.maxAbs[0]
        let reference = start0 > 0 && radius > 0
            ? [LineReference("\(log10(start0)) + x * \(log10(radius))", "log_{10} max|s_0| + t log_{10} {/Symbol r}(F)")] : []
        let warning = stageFigure(prefix + ".png", transaction: transaction) {
            LinePlot.script(series: [LineSeries(csv: csvTemporary, xColumn: 1, yColumn: 3, title: "simulated (Elastic update code)")],
                            references: reference,
                            title: "\(method.rawValue.uppercased()) round-robin, p = \(workers), {/Symbol h} = \(eta)" + (method.hasCoupling ? ", {/Symbol r} = \(coupling.rho(eta: eta))" : "") + ", {/Symbol r}(F) = \(String(format: "%.9g", radius))",
                            xLabel: "round t", yLabel: "log_{10} max_k |s_k|", output: $0, terminal: .png)
        }
        try transaction.commit()
        return (report.lines, report.json, warning)
    }
}
