// `easgd variance`: the mean, variance and MSE of synchronous EASGD's center on a noisy quadratic, one result
// per direction of H's eigenbasis (closed forms from the 2×2 map on (Σ_i x_i, x̃)), and the problem built from
// curvatures, noise levels or matrix files.

import Dynamics
import Foundation
import Records

/// A matrix file: one row per line, numbers separated by spaces, tabs or commas; '#' starts a comment.
public func readMatrixFile(_ path: String, option: String) throws -> Matrix {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw SettingsError("\(option): cannot read \(path)") }
    var rows: [[Double]] = []
    for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," || $0 == "\r" })
        if fields.isEmpty { continue }
        let row = fields.map { Double($0) }
        guard row.allSatisfy({ $0 != nil && $0!.isFinite }) else {
            throw SettingsError("\(option): \(path) line \(n + 1) holds something that is not a finite number")
        }
        rows.append(row.map { $0! })
    }
    guard !rows.isEmpty, rows.allSatisfy({ $0.count == rows.count }) else {
        throw SettingsError("\(option): \(path) must hold a square matrix (\(rows.count) rows of \(rows.count) numbers)")
    }
    var m = Matrix(rows: rows.count, columns: rows.count)
    for i in 0..<rows.count { for j in 0..<rows.count { m[i, j] = rows[i][j] } }
    return m
}

public struct VarianceReport {
    public var workers: Int
    public var eta: Double
    public var alpha: Double
    /// nil: t = ∞.
    public var t: Int?
    public var rows: [(direction: NoisyQuadraticDirection, model: SynchronousEASGD, moments: CenterMoments?)]

    /// The problem: `--h` curvatures or a Hessian file, `--sigma` levels or a noise-covariance file.
    public static func problem(curvatures: [Double]?, hessian: String?, sigmas: [Double]?, noiseCovariance: String?,
                               x0: Double, center0: Double) throws -> NoisyQuadratic {
        func single(_ values: [Double], n: Int, option: String) throws -> [Double] {
            if values.count == 1 { return Array(repeating: values[0], count: n) }
            guard values.count == n else { throw SettingsError("\(option) needs 1 or \(n) values (got \(values.count))") }
            return values
        }
        do {
            if let hessian {
                let hm = try readMatrixFile(hessian, option: "--hessian")
                let n = hm.rows
                let noise: Matrix
                if let noiseCovariance { noise = try readMatrixFile(noiseCovariance, option: "--noise-cov") } else {
                    let s = try single(sigmas ?? [1], n: 1, option: "--sigma")[0]
                    noise = Matrix.identity(n).scaled(by: s * s)
                }
                return try NoisyQuadratic(hessian: hm, noiseCovariance: noise, x0: Array(repeating: x0, count: n),
                                          center0: Array(repeating: center0, count: n))
            }
            let curvatures = curvatures ?? [1]
            let n = curvatures.count
            if let noiseCovariance {
                let noise = try readMatrixFile(noiseCovariance, option: "--noise-cov")
                var hm = Matrix(rows: n, columns: n)
                for i in 0..<n { hm[i, i] = curvatures[i] }
                return try NoisyQuadratic(hessian: hm, noiseCovariance: noise, x0: Array(repeating: x0, count: n),
                                          center0: Array(repeating: center0, count: n))
            }
            return try NoisyQuadratic(curvatures: curvatures, sigmas: try single(sigmas ?? [1], n: n, option: "--sigma"),
                                      x0: Array(repeating: x0, count: n), center0: Array(repeating: center0, count: n))
        } catch let problem as NoisyQuadratic.Problem {
            throw SettingsError(problem.description)
        }
    }

    public init(problem: NoisyQuadratic, workers: Int, eta: Double, alpha: Double, t: Int?) throws {
        self.workers = workers
        self.eta = eta
        self.alpha = alpha
        self.t = t
        rows = []
        for d in problem.directions {
            let model = SynchronousEASGD(workers: workers, eta: eta, alpha: alpha, h: d.curvature, sigma: d.noiseVariance.squareRoot())
            let m = model.centerMoments(at: t, x0: d.x0, center0: d.center0)?.moments
            if let m, !(m.mean.isFinite && m.variance.isFinite && m.mse.isFinite) {
                throw OutputError("the moments at t = \(tLabel) overflow the double range (ρ(M) = \(model.spectralRadius) > 1)")
            }
            rows.append((d, model, m))
        }
    }

    public var tLabel: String { t.map(String.init) ?? "inf" }
    public var stable: Bool { rows.allSatisfy { $0.model.isStable } }
    /// The sum of the directions' MSE; nil when one diverges.
    public var totalMSE: Double? { rows.contains { $0.moments == nil } ? nil : rows.reduce(0) { $0 + $1.moments!.mse } }

    public var lines: [String] {
        get throws {
            var lines = ["synchronous EASGD: p = \(workers), η = \(eta), α = \(alpha) (β = \(alpha * Double(workers))), t = \(tLabel)"]
            if rows.count == 1, let row = rows.first {
                let (l1, l2) = row.model.eigenvalues
                lines.append("eigenvalues of M: \(l1), \(l2); \(row.model.isStable ? "stable" : "not stable") (ρ(M) = \(try number(row.model.spectralRadius)))")
                if let m = row.moments {
                    lines.append("center − x*: mean \(try number(m.mean)), variance \(try number(m.variance)), MSE \(try number(m.mse))")
                } else {
                    lines.append("center − x*: the MSE diverges as t → ∞ (the map is not stable)")
                }
                return lines
            }
            lines.append("direction,h,noise_variance,spectral_radius,stable,mean,variance,mse")
            for (k, row) in rows.enumerated() {
                let d = row.direction
                let values = try row.moments.map { [try number($0.mean), try number($0.variance), try number($0.mse)] }
                    ?? ["diverges", "diverges", "diverges"]
                lines.append(([String(k + 1), try number(d.curvature), try number(d.noiseVariance), try number(row.model.spectralRadius),
                               String(row.model.isStable)] + values).joined(separator: ","))
            }
            if let totalMSE {
                lines.append("total MSE E‖x̃ − x*‖²: \(try number(totalMSE))")
            } else {
                lines.append("total MSE: diverges as t → ∞ (a direction is not stable)")
            }
            return lines
        }
    }

    public var json: JSON {
        func value(_ v: Double?) -> JSON { v.map { .number($0) } ?? .null }
        func eigen(_ m: SynchronousEASGD) -> JSON {
            let (l1, l2) = m.eigenvalues
            return .array([.array([.number(l1.re), .number(l1.im)]), .array([.number(l2.re), .number(l2.im)])])
        }
        var fields: [(String, JSON)] = [
            ("method", .string("sync-easgd")), ("workers", .integer(workers)), ("eta", .number(eta)), ("alpha", .number(alpha)),
            ("beta", .number(alpha * Double(workers))), ("t", t.map { .integer($0) } ?? .string("inf")), ("stable", .bool(stable)),
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
        if t == nil && !stable { fields.append(("diverges", .bool(true))) }
        return .object(fields)
    }
}
