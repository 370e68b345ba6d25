// The easgd executable end to end: contracts of its outputs, bad input (one-line error, non-zero exit,
// nothing left behind), the missing-gnuplot path, and the text notebooks.

import CommandTesting
import Dynamics
import Foundation
import Synchronization
import NumericTesting
import Testing

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A fresh directory for one test, inside one root per test process that is removed when the process exits (each
/// `make test` used to leave about 40 MB of run directories in /tmp).
func temporaryDirectory() throws -> URL {
    let dir = testRoot.appendingPathComponent(UUID().uuidString)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

private let testRoot: URL = {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("easgd-cli-\(getpid())-\(UUID().uuidString.prefix(8))")
    try? FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    testRootPath.withLock { $0 = root.path }
    atexit { if let path = testRootPath.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) } }
    return root
}()

private let testRootPath = Mutex<String?>(nil)

func files(in dir: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
}

@Test func radiusMatchesAnIndependentNumpyComputation() throws {
    // Reference values: numpy's eigvals on the ADMM round map built from the paper's equations (see
    // benchmarks/peers/numpy_map.py for that independent construction).
    let p3 = try easgd(["radius", "--method", "admm", "--workers", "3", "--eta", "0.001", "--rho", "2.5"])
    #expect(p3.status == 0)
    #expect(p3.stdout.hasSuffix(" unstable\n"), "the verdict beside the number: \(p3.stdout)")
    #expect(isClose(try #require(Double(p3.stdout.split(separator: " ")[0])), 1.0009738854078933, relative: 1e-12))
    let p8 = try easgd(["radius", "--method", "admm", "--workers", "8", "--eta", "0.001", "--rho", "2.5"])
    #expect(isClose(try #require(Double(p8.stdout.split(separator: " ")[0])), 1.0022578661800414, relative: 1e-12))
}

@Test func radiusJSONHasEigenvaluesAndStability() throws {
    let run = try easgd(["radius", "--method", "easgd", "--workers", "4", "--eta", "0.5", "--alpha", "0.3", "--json"])
    #expect(run.status == 0)
    let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    #expect(object["stable"] as? Bool == true)
    let eigenvalues = try #require(object["eigenvalues"] as? [[Double]])
    #expect(eigenvalues.count == 5 && eigenvalues.allSatisfy { $0.count == 2 })
    let radius = try #require(object["spectral_radius"] as? Double)
    #expect(isClose(radius, eigenvalues.map { ($0[0] * $0[0] + $0[1] * $0[1]).squareRoot() }.max()!, relative: 1e-15))
}

@Test func mapWritesItsContractFiles() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let prefix = dir.appendingPathComponent("m").path
    let run = try easgd(["map", "--method", "admm", "--workers", "3", "--eta", "0.0001:0.01", "--rho", "0.5:10",
                         "--grid", "21x11", "--out", prefix])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(files(in: dir) == ["m-boundary.csv", "m.csv", "m.json", "m.png"])
    let lines = try String(contentsOfFile: prefix + ".csv", encoding: .utf8).split(separator: "\n")
    #expect(lines.first == "eta,rho,spectral_radius")
    #expect(lines.count == 1 + 21 * 11)
    // Grid points LO + k (HI − LO)/(N − 1), both ends included, written with round-trip precision.
    let etas = lines.dropFirst().prefix(21).map { Double($0.split(separator: ",")[0])! }
    #expect(etas.first == 0.0001 && etas.last == 0.01)
    #expect(etas[7] == 0.0001 + 7 * (0.01 - 0.0001) / 20)
    // Numbers are read with Swift's correctly rounded parser: Foundation's JSONSerialization on Linux can be an ulp off.
    let summary = try String(contentsOfFile: prefix + ".json", encoding: .utf8)
    let radii = lines.dropFirst().map { Double($0.split(separator: ",")[2])! }
    // One key per quantity across commands: ρ(F) is "spectral_radius" (here its range over the grid).
    #expect(summary.contains("\"spectral_radius\": {") && !summary.contains("max_radius"))
    #expect(jsonNumber(summary, "max") == radii.max() && jsonNumber(summary, "min") == radii.min())
    #expect(jsonNumber(summary, "unstable_fraction") == Double(radii.filter { $0 > 1 }.count) / Double(radii.count))
    let boundary = try String(contentsOfFile: prefix + "-boundary.csv", encoding: .utf8).split(separator: "\n")
    #expect(boundary.first == "eta,rho,crossing,becomes_unstable,spectral_radius" && boundary.count > 1)
    // Every row, bit for bit, is the map computed here (η fastest), through the parallel block formatter.
    let reference = try StabilityMap.compute(StabilityMapSpec(method: .admm, workers: 3, eta: GridAxis(0.0001...0.01, count: 21),
                                                              second: GridAxis(0.5...10, count: 11), secondKind: .rho))
    for (k, line) in lines.dropFirst().enumerated() {
        let fields = line.split(separator: ",").map { Double($0)! }
        let (i, j) = (k % 21, k / 21)
        #expect(fields == [reference.etaValues[i], reference.secondValues[j], reference.radius(etaIndex: i, secondIndex: j)],
                "row \(k + 1): \(line)")
    }
}

/// The number after `"key": ` in a JSON text.
func jsonNumber(_ text: String, _ key: String) -> Double? {
    guard let range = text.range(of: "\"\(key)\": ") else { return nil }
    return Double(text[range.upperBound...].prefix { !",\n}".contains($0) })
}

@Test func learningRateAndMomentumHaveOneNameEach() throws {
    // --lr and --eta are one option (and --momentum and --delta): the same scheme whichever is typed.
    let a = try easgd(["radius", "--method", "eamsgd", "--workers", "3", "--eta", "0.3", "--alpha", "0.2", "--momentum", "0.5"])
    let b = try easgd(["radius", "--method", "eamsgd", "--workers", "3", "--lr", "0.3", "--alpha", "0.2", "--delta", "0.5"])
    #expect(a.status == 0 && b.status == 0 && a.stdout == b.stdout && !a.stdout.isEmpty, "\(a.stderr)\(b.stderr)")
    let c = try easgd(["radius", "--method", "eamsgd", "--workers", "3", "--lr", "0.3", "--alpha", "0.2", "--delta", "0.6"])
    #expect(c.stdout != a.stdout)          // the alias really sets δ
}

@Test func missingGnuplotStillWritesTheDataAndSaysHowToInstall() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let prefix = dir.appendingPathComponent("m").path
    let run = try easgd(["map", "--method", "easgd", "--workers", "2", "--eta", "0.1:1", "--alpha", "0.1:0.5",
                         "--grid", "5x5", "--out", prefix], environment: ["EASGD_GNUPLOT": "/nonexistent/gnuplot"])
    #expect(run.status == 3)
    #expect(run.stderr.contains("apt-get install -y gnuplot-nox"))
    #expect(files(in: dir) == ["m-boundary.csv", "m.csv", "m.json"])
}

/// Every bad input: exit non-zero, exactly one line on stderr starting "easgd:", and no file written.
@Test(arguments: [
    ["radius", "--method", "sgd", "--workers", "3", "--eta", "0.001", "--rho", "2.5"],
    ["radius", "--method", "admm", "--workers", "0", "--eta", "0.001", "--rho", "2.5"],
    ["radius", "--method", "admm", "--workers", "3", "--eta", "-0.001", "--rho", "2.5"],
    ["radius", "--method", "admm", "--workers", "3", "--eta", "nan", "--rho", "2.5"],
    ["radius", "--method", "admm", "--workers", "3", "--eta", "0.001", "--rho", "inf"],
    ["radius", "--method", "admm", "--workers", "3", "--eta", "0.001", "--rho", "-1"],
    ["radius", "--method", "admm", "--workers", "3", "--eta", "0.001"],
    ["radius", "--method", "admm", "--workers", "3", "--eta", "0.001", "--rho", "1", "--alpha", "0.1"],
    ["map", "--method", "admm", "--workers", "3", "--eta", "0.01:0.001", "--rho", "0:10", "--out", "OUT/m"],
    ["map", "--method", "admm", "--workers", "3", "--eta", "0.001-0.01", "--rho", "0:10", "--out", "OUT/m"],
    ["map", "--method", "admm", "--workers", "3", "--eta", "0:nan", "--rho", "0:10", "--out", "OUT/m"],
    ["map", "--method", "admm", "--workers", "3", "--eta", "-1:1", "--rho", "0:10", "--out", "OUT/m"],
    ["map", "--method", "admm", "--workers", "3", "--eta", "0:0.01", "--rho", "0:10", "--grid", "0x10", "--out", "OUT/m"],
    ["map", "--method", "admm", "--workers", "3", "--eta", "0:0.01", "--rho", "0:10", "--grid", "10x-3", "--out", "OUT/m"],
    ["map", "--method", "admm", "--workers", "3", "--eta", "0:0.01", "--rho", "0:10", "--grid", "100000x100000", "--out", "OUT/m"],
    ["map", "--method", "admm", "--workers", "3", "--eta", "0:0.01", "--rho", "0:10", "--log-eta", "--out", "OUT/m"],
    ["map", "--method", "admm", "--workers", "3", "--eta", "0:0.01", "--rho", "0:10", "--out", "OUT/missing/m"],
    ["map", "--method", "admm", "--workers", "3", "--eta", "0:0.01", "--rho", "0:10", "--out", "/etc/hostname/m"],
    ["compare", "--workers", "3,x", "--out", "OUT/c"],
    ["compare", "--workers", "3,0", "--out", "OUT/c"],
    ["simulate", "--method", "admm", "--workers", "3", "--eta", "0.001", "--rho", "2.5", "--rounds", "0", "--out", "OUT/s"],
    ["simulate", "--method", "admm", "--workers", "3", "--eta", "0.001", "--rho", "2.5", "--rounds", "10", "--init", "abc", "--out", "OUT/s"],
    ["notebook", "check", "OUT/none.md"],
])
func badInputGetsOneLineAndLeavesNothing(arguments: [String]) throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try easgd(arguments.map { $0.replacingOccurrences(of: "OUT", with: dir.path) })
    #expect(run.status != 0)
    let lines = run.stderr.split(separator: "\n")
    #expect(lines.count == 1, "stderr: \(run.stderr)")
    #expect(lines.first?.hasPrefix("easgd: ") == true)
    #expect(run.stdout.isEmpty)
    #expect(files(in: dir).isEmpty)
}

@Test func simulateReportsGrowthAndDivergenceWithoutNonFiniteNumbers() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let prefix = dir.appendingPathComponent("s").path
    let run = try easgd(["simulate", "--method", "easgd", "--workers", "2", "--eta", "3", "--alpha", "0.5",
                         "--rounds", "5000", "--init", "1", "--out", prefix])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.contains("diverged at round"))
    let csv = try String(contentsOfFile: prefix + ".csv", encoding: .utf8).lowercased()
    #expect(!csv.contains("nan") && !csv.contains("inf"))
    #expect(!run.stdout.lowercased().contains("nan") && !run.stdout.contains(" inf"))
}

@Test(arguments: ["01-admm-vs-easgd-round-robin.md", "03-synchronous-easgd-variance.md", "04-beyond-the-paper.md",
                  "05-theory-meets-the-network.md", "06-elastic-averagings-descendants.md"])
func notebookOutputsStillHold(name: String) throws {
    let path = packageRoot.appendingPathComponent("notebooks-text").appendingPathComponent(name).path
    let run = try easgd(["notebook", "check", path])
    #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
    #expect(run.stdout.contains(" 0 failed"))
}

@Test func notebookCheckerCatchesAChangedNumber() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let notebook = dir.appendingPathComponent("n.md")
    try """
    ```sh
    easgd radius --method admm --workers 3 --eta 0.001 --rho 2.5
    ```
    ```output
    1.0009
    ```
    """.write(to: notebook, atomically: true, encoding: .utf8)
    let run = try easgd(["notebook", "check", notebook.path])
    #expect(run.status != 0)
    #expect(run.stdout.contains("FAIL"))
}
