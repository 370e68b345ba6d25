// easgd radius: the spectral radius of one round map (dgeev on the map probed from the Elastic code).

import Analysis
import ArgumentParser
import Dynamics
import Elastic
import Records

struct RadiusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "radius",
        abstract: "Print the spectral radius of a round-robin round map.",
        discussion: """
            The map is probed from the update code (one round applied to each basis vector) and its eigenvalues \
            computed with LAPACK dgeev. With --schedule random (a uniformly random worker at each step) it prints \
            the mean-square radius per round ρ(T)^{p/2} of the second-moment operator. The paper's unstable ADMM:
              easgd radius --method admm --workers 3 --eta 0.001 --rho 2.5
              easgd radius --method admm --workers 3 --eta 0.001 --rho 2.5 \\
                --schedule random
            With --solve AXIS it answers "which values of one coordinate are stable, the others fixed": it samples the \
            radius along η, α, δ, h or τ (--range, --points; η and h logarithmically, τ at every integer) and \
            refines each crossing of ρ = 1 to 1e-10 relative, as the map's traced boundary is:
              easgd radius --method easgd --workers 4 --alpha 0.225 --solve eta
              easgd radius --method eamsgd --workers 4 --eta 0.1 --alpha 0.225 \\
                --solve momentum --json
            DiLoCo with gradient noise σ: the center's stationary mean-square error; with --compress, each \
            pseudo-gradient through a codec, its error as multiplicative noise (with --error-feedback, the last \
            error as state), and whether the round stays stable in mean square:
              easgd radius --method diloco --workers 4 --eta 0.3 --tau 4 --sigma 1 \\
                --compress int4 --compress-rounding stochastic --error-feedback
            Round-robin EASGD and EAMSGD with σ: the center's stationary mean-square error at the end of a round; with \
            --compress, every exchange coded (x − s through the codec, as `train --compress` runs it), the codec's \
            error entering the elastic difference, and the mean-square radius of the noisy round:
              easgd radius --method easgd --workers 4 --eta 0.5 --alpha 0.2 --tau 4 \\
                --sigma 1 --compress int4
            """
    )

    @OptionGroup var point: SchemeOptions
    @Option(help: "Worker order: round-robin, or random (the mean-square radius per round ρ(T)^{p/2} of the second-moment operator).")
    var schedule: Schedule = .roundRobin
    @Flag(help: "Print JSON: every setting, spectral_radius, stable, and each eigenvalue as [re, im] (with --solve: the stable intervals and the crossings).")
    var json = false
    @Option(help: ArgumentHelp("Solve for the stable values of one coordinate, the others fixed: eta, alpha, momentum, h or tau.", valueName: "axis"))
    var solve: SolveAxis?
    @Option(help: ArgumentHelp("With --solve: the range searched (default: η and h over 1e-6…100 of their scale 1/h and 1/η, α over 1e-6…1, δ over 0…0.9999, τ over 1…64).", valueName: "LO:HI"), transform: parseRange)
    var range: ClosedRange<Double>?
    @Option(help: "With --solve: samples along the axis before refining (default 400; τ takes every integer).") var points = 400
    @Option(help: "DiLoCo and round-robin EASGD and EAMSGD: gradient noise σ (each gradient h·x − ξ, ξ of variance σ²); prints the center's stationary mean-square error at the end of a round.")
    var sigma: Double?
    @OptionGroup var compressionOptions: QuantisationOptions

    func validate() throws {
        if let sigma {
            let elastic = point.method == .easgd || point.method == .eamsgd
            guard point.method.hasSynchronousMap || elastic else {
                throw ValidationError("--sigma applies to \(Algorithm.names(where: \.hasSynchronousMap)), easgd and eamsgd (the noisy round's mean-square error)")
            }
            if elastic {
                let name = point.method.rawValue
                guard schedule == .roundRobin else { throw ValidationError("--sigma with \(name): the noisy round is the round-robin one (--schedule round-robin)") }
                if compressionOptions.errorFeedback {
                    throw ValidationError("--error-feedback does not apply to \(name): its coded exchange sends x − s, so what a message misses goes with the next by construction")
                }
                let most = point.method == .easgd ? RoundRobinEASGD.codedNoiseMaxWorkers : RoundRobinEAMSGD.codedNoiseMaxWorkers
                try checkLimit("--workers with --sigma", point.workers, 1...most)
            }
            guard solve == nil else { throw ValidationError("--sigma applies to one point, not to --solve") }
            if point.outerOptions.keepInnerVelocity {
                throw ValidationError("--sigma with --keep-inner-velocity: the center's MSE is not modelled when the inner velocity carries noise across rounds")
            }
            try checkNonNegative("--sigma", sigma)
            if compressionOptions.compression != nil, point.workerH != nil {
                throw ValidationError("--compress with --worker-h: the quantisation model takes identical workers (one curvature)")
            }
        }
        if sigma == nil, compressionOptions.compression != nil {
            throw ValidationError("--compress applies with --sigma (DiLoCo's quantised pseudo-gradients or EASGD's coded exchanges as noise on the noisy round)")
        }
        guard schedule.hasMap else { throw ValidationError("--schedule clock has no round map: clock order depends on the workers' costs (use round-robin or random)") }
        if point.method.hasSynchronousMap, schedule != .roundRobin {
            throw ValidationError("\(point.method.rawValue) is synchronous (every worker each round): it has no worker order to choose")
        }
        if point.method.hasRoundRobinMap, !point.method.hasRandomOrderMap, schedule == .random {
            throw ValidationError("\(point.method.rawValue) has a round-robin map only (its outer velocity is a second shared coordinate, which the random-order reduction does not take)")
        }
        if point.workerH != nil, solve == .h {
            throw ValidationError("--solve h scales one curvature; with --worker-h each worker has its own (solve eta or tau)")
        }
        if point.method.takes(.outer), let solve, solve == .alpha || solve == .momentum {
            throw ValidationError("--solve \(solve.rawValue) does not apply to \(point.method.rawValue) (solve eta, h or tau)")
        }
        guard let solve else {
            if range != nil { throw ValidationError("--range applies to --solve") }
            _ = try point.schemePoint
            return
        }
        let open = try point.schemePoint(solving: solve)
        if solve == .alpha, !point.method.hasCoupling { throw ValidationError("\(point.method.rawValue) has no coupling α to solve for") }
        if solve == .momentum, point.method != .eamsgd { throw ValidationError("--solve momentum applies to eamsgd (its δ)") }
        if solve == .alpha, point.alpha != nil || point.rho != nil { throw ValidationError("--solve alpha: give neither --alpha nor --rho") }
        if solve == .tau, point.method == .admm { throw ValidationError("admm takes one step per activation (τ = 1)") }
        try checkLimit("--points", points, 3...100_000)
        if let range {
            try checkRange("--range", range, positiveLower: solve == .eta || solve == .h || solve == .alpha)
            if solve == .momentum, range.upperBound >= 1 { throw ValidationError("--range: δ must stay below 1") }
            if solve == .tau { try checkLimit("--range's upper τ", Int(range.upperBound), Limits.mapTau) }
        }
        _ = open
    }

    func run() throws {
        if json { return print(try jsonResult().render()) }
        guard let solve else {
            var at = try point.schemePoint
            at.sigma = sigma
            at.compression = compressionOptions.compression
            let result = try at.radius(schedule: schedule)
            print("\(try number(result.radius)) \(result.stable ? "stable" : "unstable")")
            if let sigma {
                print(try result.centerMSE.map { "center MSE \(try number($0)) (stationary, per coordinate, at the end of a round; σ = \(plain(sigma)))" }
                      ?? "center MSE: unbounded (the round is unstable)")
                if let compression = compressionOptions.compression, result.centerMSE != nil {
                    let what = point.method.hasSynchronousMap ? "pseudo-gradients" : "coded exchanges"
                    let name = "\(compression.codec.format.rawValue) \(compression.codec.rounding.rawValue)" + (compression.errorFeedback ? " with error feedback" : "")
                    print(try result.quantised.map { q in
                        "with \(name) \(what): center MSE \(try number(q.centerMSE)) (\(String(format: "%+.3g", 100 * (q.centerMSE / q.uncompressedMSE - 1))) %; the codec's error variance \(try number(q.errorVariance)) per value, multiplicative noise model)"
                    } ?? "with \(name) \(what): center MSE unbounded (not stable in mean square under the codec's noise)")
                }
            }
            return
        }
        let solution = try point.schemePoint(solving: solve).solve(solve, range: range, points: points, schedule: schedule)
        let symbol = ["eta": "η", "alpha": "α", "momentum": "δ", "h": "h", "tau": "τ"][solve.rawValue]!
        print(solution.lines(symbol: symbol).joined(separator: "\n"))
    }

    /// What --json prints (and the explorer's /api/radius answers).
    func jsonResult() throws -> JSON {
        guard let solve else {
            var at = try point.schemePoint
            at.sigma = sigma
            at.compression = compressionOptions.compression
            return try at.radius(schedule: schedule).json
        }
        let open = try point.schemePoint(solving: solve)
        let solution = try open.solve(solve, range: range, points: points, schedule: schedule)
        // The solved coordinate is left out, and so is whatever it moves (α = ηρ or ρ = α/η, except the one given).
        let moved: Set<String> = switch solve {
        case .eta: point.alpha != nil ? ["eta", "rho"] : ["eta", "alpha"]
        case .alpha: ["alpha", "rho"]
        default: [solve.rawValue]
        }
        let settings = open.settingsJSON(schedule: schedule).filter { !moved.contains($0.0) }
        return JSON.object(settings + solution.json)
    }
}

/// radius --sigma's codec: DiLoCo's pseudo-gradients quantised or EASGD's exchanges coded, as noise on the round
/// (Dynamics/QuantisationNoise.swift, CodedExchangeNoise.swift).
struct QuantisationOptions: ParsableArguments {
    @Option(help: ArgumentHelp("With --sigma: the codec of DiLoCo's pseudo-gradients or EASGD's and EAMSGD's exchanges (fp16, bf16, int8, int4), as multiplicative noise; prints the center's MSE with it.",
                               valueName: "format"))
    var compress: CodecFormat?
    @Option(help: "With --compress: nearest (default) or stochastic rounding.") var compressRounding: CodecRounding?
    @Option(help: "With --compress int8 or int4: values per scale (default \(Codec.defaultBlockSize)).") var compressBlock: Int?
    @Flag(help: "With --compress: each worker adds what the codec lost to its next message.") var errorFeedback = false

    func validate() throws {
        if compress == nil || compress == CodecFormat.none {
            if let given = [("--compress-rounding", compressRounding != nil), ("--compress-block", compressBlock != nil),
                            ("--error-feedback", errorFeedback)].first(where: \.1) {
                throw ValidationError("\(given.0) needs --compress FORMAT (fp16, bf16, int8 or int4)")
            }
        }
        if let compressBlock { try checkLimit("--compress-block", compressBlock, 1...(1 << 20)) }
    }

    var compression: Compression? {
        .given(compress, rounding: compressRounding, blockSize: compressBlock, errorFeedback: errorFeedback)
    }
}
