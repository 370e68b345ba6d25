// easgd variance: mean, variance and MSE of the center of synchronous EASGD on a noisy quadratic.

import Records
import ArgumentParser
import Dynamics
import Foundation

/// A time: a step count or "inf".
enum TimeArgument: ExpressibleByArgument, Equatable {
    case steps(Int)
    case infinity

    init?(argument: String) {
        if ["inf", "infinity", "∞"].contains(argument.lowercased()) { self = .infinity; return }
        guard let t = Int(argument), t >= 0 else { return nil }
        self = .steps(t)
    }
    var steps: Int? { if case .steps(let t) = self { return t } else { return nil } }
    var label: String { steps.map(String.init) ?? "inf" }
    var defaultValueDescription: String { label }
}

/// A comma-separated list of finite numbers.
struct NumberList: ExpressibleByArgument, Equatable {
    var values: [Double]
    init?(argument: String) {
        let parts = argument.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil && $0!.isFinite }) else { return nil }
        values = parts.map { $0! }
    }
    init(_ values: [Double]) { self.values = values }
    var defaultValueDescription: String { values.map(plain).joined(separator: ",") }
}

/// A matrix file: one row per line, numbers separated by spaces, tabs or commas; '#' starts a comment.
func readMatrixFile(_ path: String, option: String) throws -> Matrix {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw ValidationError("\(option): cannot read \(path)")
    }
    var rows: [[Double]] = []
    for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," || $0 == "\r" })
        if fields.isEmpty { continue }
        let row = fields.map { Double($0) }
        guard row.allSatisfy({ $0 != nil && $0!.isFinite }) else {
            throw ValidationError("\(option): \(path) line \(n + 1) holds something that is not a finite number")
        }
        rows.append(row.map { $0! })
    }
    guard !rows.isEmpty, rows.allSatisfy({ $0.count == rows.count }) else {
        throw ValidationError("\(option): \(path) must hold a square matrix (\(rows.count) rows of \(rows.count) numbers)")
    }
    var m = Matrix(rows: rows.count, columns: rows.count)
    for i in 0..<rows.count { for j in 0..<rows.count { m[i, j] = rows[i][j] } }
    return m
}

struct VarianceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "variance",
        abstract: "Mean, variance and MSE of the center of synchronous EASGD on a noisy quadratic.",
        discussion: """
            All p workers start at x0 and the center at center0 (x* = 0). Each worker's gradient is h·x_i − ξ_i \
            with ξ_i of variance σ². Every step, x_i ← x_i − ηg_i − α(x_i − x̃) and x̃ ← x̃ + αΣ_i(x_i − x̃), with \
            β = pα. The answer is the closed form from the two eigenvalues of the 2×2 map on (Σ_i x_i, x̃). For \
            t = inf the map must be stable; otherwise the MSE diverges, which is reported as such. Examples:
              easgd variance --workers 10 --eta 0.1 --beta 0.9 --sigma 10
              easgd variance --workers 10 --eta 0.1 --beta 0.9 --sigma 10 --t 5 --json
              easgd variance --workers 4 --eta 0.1 --beta 0.9 --h 1,0.1,0.01 --sigma 1
              easgd variance --workers 4 --eta 0.1 --beta 0.9 --hessian H.txt --noise-cov S.txt
            Several directions (--h as a list, or --hessian FILE) are solved in the eigenbasis of H. Each direction \
            gets its own result, and the total MSE is their sum.
            """
    )

    @Option(help: "Number of workers p.") var workers: Int
    @Option(help: "Learning rate η.") var eta: Double
    @Option(help: "Moving rate α (or give --beta).") var alpha: Double?
    @Option(help: "β = pα (or give --alpha).") var beta: Double?
    @Option(help: "Curvature h, or a comma-separated list of H's eigenvalues (default 1).") var h: NumberList?
    @Option(help: "A file with the Hessian matrix (instead of --h).") var hessian: String?
    @Option(help: "Noise standard deviation σ, or one per direction (default 1).") var sigma: NumberList?
    @Option(help: "A file with the noise covariance matrix (instead of --sigma; in the same basis as --hessian or --h).")
    var noiseCov: String?
    @Option(help: "Time step t ≥ 0, or inf.") var t: TimeArgument = .infinity
    @Option(help: "Starting point of every worker (each coordinate).") var x0: Double = 1
    @Option(help: "Starting point of the center (default: x0).") var center0: Double?
    @Flag(help: "Print JSON: also the two eigenvalues, \"stable\" and each direction.") var json = false

    func validate() throws {
        // The model is the 2×2 map on (Σ x_i, x̃), so p can be large.
        guard workers >= 1, workers <= 1_000_000_000 else { throw ValidationError("--workers must be between 1 and 1000000000 (got \(workers))") }
        try checkPositive("--eta", eta)
        try checkFinite("--x0", x0)
        if let center0 { try checkFinite("--center0", center0) }
        switch (alpha, beta) {
        case (let a?, nil): try checkNonNegative("--alpha", a)
        case (nil, let b?): try checkNonNegative("--beta", b)
        case (nil, nil): throw ValidationError("give one of --alpha or --beta (beta = p * alpha)")
        default: throw ValidationError("give only one of --alpha or --beta (beta = p * alpha)")
        }
        if h != nil && hessian != nil { throw ValidationError("give only one of --h or --hessian") }
        if sigma != nil && noiseCov != nil { throw ValidationError("give only one of --sigma or --noise-cov") }
        if let h, let bad = h.values.first(where: { $0 <= 0 }) { throw ValidationError("--h values must be positive (got \(bad))") }
        if let sigma, let bad = sigma.values.first(where: { $0 < 0 }) { throw ValidationError("--sigma must not be negative (got \(bad))") }
    }

    func run() throws {
        let a = alpha ?? (beta! / Double(workers))
        let problem = try makeProblem()
        let results = problem.directions.map { d in
            (d, SynchronousEASGD(workers: workers, eta: eta, alpha: a, h: d.curvature, sigma: d.noiseVariance.squareRoot()))
        }
        var rows: [(direction: NoisyQuadraticDirection, model: SynchronousEASGD, moments: CenterMoments?)] = []
        for (d, model) in results {
            let m = model.centerMoments(at: t.steps, x0: d.x0, center0: d.center0)?.moments
            if let m, !(m.mean.isFinite && m.variance.isFinite && m.mse.isFinite) {
                throw OutputError("the moments at t = \(t.label) overflow the double range (ρ(M) = \(model.spectralRadius) > 1)")
            }
            rows.append((d, model, m))
        }
        let stable = rows.allSatisfy { $0.model.isStable }
        let total: CenterMoments? = rows.contains { $0.moments == nil } ? nil : rows.reduce(CenterMoments(mean: 0, variance: 0)) {
            CenterMoments(mean: 0, variance: $0.variance + $1.moments!.mse)       // total MSE carried in `variance`
        }
        if json {
            try printJSON(rows: rows, stable: stable, alpha: a, totalMSE: total?.variance)
            return
        }
        print("synchronous EASGD: p = \(workers), η = \(eta), α = \(a) (β = \(a * Double(workers))), t = \(t.label)")
        if rows.count == 1, let row = rows.first {
            let (l1, l2) = row.model.eigenvalues
            let state = row.model.isStable ? "stable" : "not stable"
            print("eigenvalues of M: \(l1), \(l2); \(state) (ρ(M) = \(try number(row.model.spectralRadius)))")
            if let m = row.moments {
                print("center − x*: mean \(try number(m.mean)), variance \(try number(m.variance)), MSE \(try number(m.mse))")
            } else {
                print("center − x*: the MSE diverges as t → ∞ (the map is not stable)")
            }
            return
        }
        print("direction,h,noise_variance,spectral_radius,stable,mean,variance,mse")
        for (k, row) in rows.enumerated() {
            let d = row.direction
            let values = try row.moments.map { [try number($0.mean), try number($0.variance), try number($0.mse)] }
                ?? ["diverges", "diverges", "diverges"]
            print(([String(k + 1), try number(d.curvature), try number(d.noiseVariance), try number(row.model.spectralRadius),
                    String(row.model.isStable)] + values).joined(separator: ","))
        }
        if let total {
            print("total MSE E‖x̃ − x*‖²: \(try number(total.variance))")
        } else {
            print("total MSE: diverges as t → ∞ (a direction is not stable)")
        }
    }

    private func makeProblem() throws -> NoisyQuadratic {
        do {
            if let hessian {
                let hm = try readMatrixFile(hessian, option: "--hessian")
                let n = hm.rows
                let noise: Matrix
                if let noiseCov { noise = try readMatrixFile(noiseCov, option: "--noise-cov") } else {
                    let s = try single(sigma?.values ?? [1], n: 1, option: "--sigma")[0]
                    noise = Matrix.identity(n).scaled(by: s * s)
                }
                return try NoisyQuadratic(hessian: hm, noiseCovariance: noise, x0: Array(repeating: x0, count: n),
                                          center0: Array(repeating: center0 ?? x0, count: n))
            }
            let curvatures = h?.values ?? [1]
            let n = curvatures.count
            if let noiseCov {
                let noise = try readMatrixFile(noiseCov, option: "--noise-cov")
                var hm = Matrix(rows: n, columns: n)
                for i in 0..<n { hm[i, i] = curvatures[i] }
                return try NoisyQuadratic(hessian: hm, noiseCovariance: noise, x0: Array(repeating: x0, count: n),
                                          center0: Array(repeating: center0 ?? x0, count: n))
            }
            return try NoisyQuadratic(curvatures: curvatures, sigmas: try single(sigma?.values ?? [1], n: n, option: "--sigma"),
                                      x0: Array(repeating: x0, count: n), center0: Array(repeating: center0 ?? x0, count: n))
        } catch let problem as NoisyQuadratic.Problem {
            throw ValidationError(problem.description)
        }
    }

    /// One value for all n directions, or exactly n values.
    private func single(_ values: [Double], n: Int, option: String) throws -> [Double] {
        if values.count == 1 { return Array(repeating: values[0], count: n) }
        guard values.count == n else { throw ValidationError("\(option) needs 1 or \(n) values (got \(values.count))") }
        return values
    }

    private func printJSON(rows: [(direction: NoisyQuadraticDirection, model: SynchronousEASGD, moments: CenterMoments?)],
                           stable: Bool, alpha a: Double, totalMSE: Double?) throws {
        func value(_ v: Double?) -> JSON { v.map { .number($0) } ?? .null }
        func eigen(_ m: SynchronousEASGD) -> JSON {
            let (l1, l2) = m.eigenvalues
            return .array([.array([.number(l1.re), .number(l1.im)]), .array([.number(l2.re), .number(l2.im)])])
        }
        var fields: [(String, JSON)] = [
            ("workers", .integer(workers)), ("eta", .number(eta)), ("alpha", .number(a)),
            ("beta", .number(a * Double(workers))), ("t", t.steps.map { .integer($0) } ?? .string("inf")),
            ("stable", .bool(stable)),
        ]
        if rows.count == 1, let row = rows.first {
            fields += [("h", .number(row.direction.curvature)), ("sigma", .number(row.direction.noiseVariance.squareRoot())),
                       ("mean", value(row.moments?.mean)), ("variance", value(row.moments?.variance)),
                       ("mse", value(row.moments?.mse)), ("eigenvalues", eigen(row.model)),
                       ("spectral_radius", .number(row.model.spectralRadius))]
        } else {
            fields.append(("directions", .array(rows.map { row in
                .object([("h", .number(row.direction.curvature)), ("noise_variance", .number(row.direction.noiseVariance)),
                         ("x0", .number(row.direction.x0)), ("center0", .number(row.direction.center0)),
                         ("stable", .bool(row.model.isStable)), ("mean", value(row.moments?.mean)),
                         ("variance", value(row.moments?.variance)), ("mse", value(row.moments?.mse)),
                         ("eigenvalues", eigen(row.model)), ("spectral_radius", .number(row.model.spectralRadius))])
            })))
            fields.append(("total_mse", value(totalMSE)))
        }
        if t.steps == nil && !stable { fields.append(("diverges", .bool(true))) }
        print(try JSON.object(fields).render())
    }
}
