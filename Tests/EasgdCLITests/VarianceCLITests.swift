// easgd variance and variance-map end to end: the JSON contract, the multi-dimensional case against
// independent one-dimensional runs (a rotated Hessian and noise covariance give the same total MSE), bad input.

import CommandTesting
import Foundation
import NumericTesting
import Testing

func jsonObject(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

/// Numbers re-read from their text (Foundation's parser can be off by an ulp).
func jsonNumber(_ any: Any?) -> Double? { any.flatMap { Double("\($0)") } }

@Test func varianceJSONHasTheMomentsAndEigenvalues() throws {
    let r = try easgd(["variance", "--workers", "10", "--eta", "0.1", "--beta", "0.9", "--sigma", "10", "--t", "5", "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let o = try jsonObject(r.stdout)
    let mean = try #require(jsonNumber(o["mean"])), variance = try #require(jsonNumber(o["variance"]))
    let mse = try #require(jsonNumber(o["mse"]))
    #expect(isClose(mse, mean * mean + variance, relative: 1e-14))
    #expect(o["stable"] as? Bool == true)
    let eigen = try #require(o["eigenvalues"] as? [[Any]])
    #expect(eigen.count == 2)
    // Mean at t = 5 by hand: the center's mean follows M^t (Σx_i, x̃) with M = [[1 − ηh − α, pα], [α, 1 − pα]].
    var (y, c) = (10.0, 1.0)
    for _ in 0..<5 { (y, c) = ((1 - 0.1 - 0.09) * y + 0.9 * c, 0.09 * y + 0.1 * c) }
    #expect(isClose(mean, c, relative: 1e-12))
    let unstable = try easgd(["variance", "--workers", "4", "--eta", "1.9", "--beta", "1.9", "--json"])
    let u = try jsonObject(unstable.stdout)
    #expect(unstable.status == 0 && u["stable"] as? Bool == false && u["mse"] is NSNull && u["diverges"] as? Bool == true)
    #expect(!unstable.stdout.lowercased().contains("nan") && !unstable.stdout.contains(": inf,") && !unstable.stdout.lowercased().contains("infinity"))
}

@Test func rotatedHessianGivesTheSameTotalAsItsEigenvalues() throws {
    let dir = try temporaryDirectory()
    // H = R diag(2, 0.5) Rᵀ and Σ = R diag(4, 1) Rᵀ with R a rotation by 0.7 rad.
    let (cs, sn) = (cos(0.7), sin(0.7))
    func rotated(_ a: Double, _ b: Double) -> String {
        let m11 = a * cs * cs + b * sn * sn, m12 = (a - b) * cs * sn, m22 = a * sn * sn + b * cs * cs
        return "\(m11) \(m12)\n\(m12) \(m22)\n"
    }
    try rotated(2, 0.5).write(to: dir.appendingPathComponent("H.txt"), atomically: true, encoding: .utf8)
    try rotated(4, 1).write(to: dir.appendingPathComponent("S.txt"), atomically: true, encoding: .utf8)
    // Start at the origin-symmetric point x0 = 0, center 0: the rotation then cannot change the starting point.
    let common = ["variance", "--workers", "3", "--eta", "0.2", "--beta", "0.9", "--x0", "0", "--t", "7", "--json"]
    let fromFiles = try easgd(common + ["--hessian", dir.appendingPathComponent("H.txt").path,
                                       "--noise-cov", dir.appendingPathComponent("S.txt").path])
    #expect(fromFiles.status == 0, "\(fromFiles.stderr)")
    let total = try #require(jsonNumber(try jsonObject(fromFiles.stdout)["total_mse"]))
    var sum = 0.0
    for (h, s) in [("2", "2"), ("0.5", "1")] {
        let one = try easgd(common + ["--h", h, "--sigma", s])
        sum += try #require(jsonNumber(try jsonObject(one.stdout)["mse"]))
    }
    #expect(isClose(total, sum, relative: 1e-10))
}

@Test(arguments: [
    (["variance", "--workers", "4", "--eta", "0.1"], "give one of --alpha or --beta"),
    (["variance", "--workers", "4", "--eta", "0.1", "--alpha", "0.1", "--beta", "0.4"], "only one of --alpha or --beta"),
    (["variance", "--workers", "0", "--eta", "0.1", "--beta", "0.9"], "--workers must be between 1"),
    (["variance", "--workers", "4", "--eta", "-0.1", "--beta", "0.9"], "--eta"),
    (["variance", "--workers", "4", "--eta", "0.1", "--beta", "0.9", "--h", "1,-2"], "--h values must be positive"),
    (["variance", "--workers", "4", "--eta", "0.1", "--beta", "0.9", "--h", "1,2", "--sigma", "1,2,3"], "--sigma needs 1 or 2 values"),
    (["variance", "--workers", "4", "--eta", "0.1", "--beta", "0.9", "--t", "soon"], "--t"),
    (["variance", "--workers", "4", "--eta", "0.1", "--beta", "0.9", "--hessian", "/nonexistent"], "cannot read"),
    (["variance", "--workers", "4", "--eta", "0.1", "--beta", "0.9", "--t", "100000", "--eta", "3"], "overflow"),
    (["variance-map", "--grid", "1", "--out", "/tmp/x"], "--grid"),
    (["variance-map", "--times", "1,later", "--out", "/tmp/x"], "--times"),
])
func badVarianceInputGetsOneLineError(arguments: [String], needle: String) throws {
    let r = try easgd(arguments)
    #expect(r.status != 0)
    #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.hasPrefix("easgd: ") && r.stderr.contains(needle), "\(r.stderr)")
}

@Test func varianceMapWritesItsPanelsAndComparison() throws {
    let dir = try temporaryDirectory()
    let prefix = dir.appendingPathComponent("mse").path
    let r = try easgd(["variance-map", "--workers", "1,10", "--times", "2,inf", "--grid", "12", "--out", prefix])
    #expect(r.status == 0, "\(r.stderr)")
    let lines = try String(contentsOfFile: prefix + ".csv", encoding: .utf8).split(separator: "\n")
    #expect(lines.count == 1 + 2 * 2 * 12 * 12)
    #expect(files(in: dir) == ["mse-compare.csv", "mse-compare.png", "mse.csv", "mse.png"])
    // Every row is either stable with a number, or not stable (empty at t = inf).
    for line in lines.dropFirst() {
        let f = line.split(separator: ",", omittingEmptySubsequences: false)
        #expect(f.count == 6)
        if f[1] == "inf" { #expect((f[4] == "true") == !f[5].isEmpty) }
    }
}
