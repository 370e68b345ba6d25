// The interface a researcher meets (issue 31, in part): `runs` on a directory of runs finds them, a run that is
// training shows as running (and advise says it uses the last checkpoint), and every command that takes a
// learning rate takes it as --eta and as --lr.

import CommandTesting
import Analysis
import Foundation
import NumericTesting
import Testing
import Training

private let net = "(1,28)C(4,24)P(4,12)S(10,1)"

@Test func runsOnAParentDirectoryFindsTheRunsBelowItAndAnEmptyOneIsAnError() throws {
    let root = try temporaryDirectory()
    try FileManager.default.createDirectory(at: root.appendingPathComponent("a"), withIntermediateDirectories: true)
    for (dir, steps) in [("a/one", "4"), ("a/two", "6"), ("b", "2")] {
        let r = try easgd(["train", "--method", "sgd", "--net", net, "--lr", "0.02", "--batch", "16", "--train-subset", "256",
                           "--steps", steps, "--quiet", "--out", root.appendingPathComponent(dir).path])
        #expect(r.status == 0, "\(r.stderr)")
    }
    let all = try easgd(["runs", root.path, "--json"])
    #expect(all.status == 0, "\(all.stderr)")
    let rows = try #require(try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [[String: Any]])
    #expect(rows.compactMap { ($0["dir"] as? String).map { URL(fileURLWithPath: $0).path.replacingOccurrences(of: root.path + "/", with: "") } }
            == ["a/one", "a/two", "b"], "\(rows.map { $0["dir"] ?? "-" })")
    #expect(rows.map { $0["steps_per_worker"] as? Int } == [4, 6, 2])
    let empty = root.appendingPathComponent("empty")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    let none = try easgd(["runs", empty.path])
    #expect(none.status == 1 && none.stderr.contains("holds no training run"), "\(none.stderr)")
    let missing = try easgd(["runs", root.appendingPathComponent("missing").path])
    #expect(missing.status == 1 && missing.stderr.contains("does not exist"), "\(missing.stderr)")
}

@Test func aRunBeingTrainedShowsAsRunningAndAsInterruptedOnceKilled() throws {
    let root = try temporaryDirectory()
    let dir = root.appendingPathComponent("run")
    let process = try launch(["train", "--method", "sgd", "--net", net, "--lr", "0.02", "--batch", "16", "--train-subset", "256",
                              "--steps", "10000000", "--eval-every", "10000000", "--quiet", "--out", dir.path],
                             log: root.appendingPathComponent("log"))
    defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    let deadline = Date().addingTimeInterval(120)
    while !FileManager.default.fileExists(atPath: RunFiles.checkpoint(dir.path)) && Date() < deadline { usleep(50_000) }
    let running = try easgd(["runs", dir.path, "--json"])
    #expect(running.stdout.contains("\"status\": \"running\"") && running.stdout.contains("process \(process.processIdentifier)"),
            "\(running.stdout)")
    let advise = try easgd(["advise", dir.path, "--batch", "16"])
    #expect(advise.status == 0 && advise.stderr.contains("is being trained now (process \(process.processIdentifier)): advising on its last checkpoint"),
            "\(advise.stderr)")
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    let killed = try easgd(["runs", dir.path, "--json"])
    #expect(killed.stdout.contains("\"status\": \"interrupted\""), "\(killed.stdout)")
}

@Test(arguments: ["radius", "map", "compare", "simulate", "validate", "variance", "bench map", "train", "train-quadratic"])
func everyCommandTakingALearningRateTakesItAsEtaAndAsLr(command: String) throws {
    // The parser lists an option's names together ("--eta, --lr <eta>"): prose in the help cannot satisfy this.
    let help = try easgd(["help"] + command.split(separator: " ").map(String.init))
    #expect(help.status == 0 && (help.stdout.contains("--eta, --lr <") || help.stdout.contains("--lr, --eta <")),
            "\(command): \(help.stdout.prefix(400))")
}

// MARK: radius --solve

private func solved(_ arguments: [String]) throws -> [String: Any] {
    let r = try easgd(["radius"] + arguments + ["--json"])
    #expect(r.status == 0, "\(r.stderr)")
    return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
}

private func upperEnds(_ o: [String: Any]) -> [Double] {
    ((o["stable_intervals"] as? [[String: Any]]) ?? []).compactMap { ($0["to"] as? NSNumber)?.doubleValue }
}

@Test func solvingForEtaOrHGivesSGDsClosedFormOnDownpourWithOneWorker() throws {
    // One worker, τ = 1: DOWNPOUR's round is x ← (1 − ηh)x, stable exactly for 0 < ηh < 2.
    for h in [1.0, 4.0] {
        let eta = try solved(["--method", "downpour", "--workers", "1", "--h", "\(h)", "--solve", "eta"])
        #expect(upperEnds(eta).count == 1 && isClose(upperEnds(eta)[0], 2 / h, relative: 1e-10), "\(eta)")
    }
    let h = try solved(["--method", "downpour", "--workers", "1", "--eta", "0.25", "--solve", "h"])
    #expect(upperEnds(h).count == 1 && isClose(upperEnds(h)[0], 8, relative: 1e-10), "\(h)")
}

@Test(arguments: [(3, 0.3, 1.0), (5, 0.6, 2.0), (7, 0.1, 0.5)])
func solvingForEtaGivesTheOddPEASGDClosedForm(workers: Int, alpha: Double, h: Double) throws {
    // For odd p the round-robin EASGD map is stable exactly for ηh < 4(1 − α)/(2 − α) (the README's closed form).
    let o = try solved(["--method", "easgd", "--workers", "\(workers)", "--alpha", "\(alpha)", "--h", "\(h)", "--solve", "eta"])
    #expect(upperEnds(o).count == 1 && isClose(upperEnds(o)[0], 4 * (1 - alpha) / (h * (2 - alpha)), relative: 1e-10), "\(o)")
}

@Test func solvingForEtaMeetsTheMapsTracedBoundaryAndTheHAxisItsScaling() throws {
    let root = try temporaryDirectory()
    let map = try easgd(["map", "--method", "easgd", "--workers", "4", "--eta", "0.001:10", "--alpha", "0.225:0.3", "--grid", "100x2",
                         "--out", root.appendingPathComponent("m").path])
    #expect(map.status == 0, "\(map.stderr)")
    let rows = try String(contentsOf: root.appendingPathComponent("m-boundary.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
    let traced = try #require(rows.map { $0.split(separator: ",") }.first { $0[1] == "0.225" }.flatMap { Double($0[0]) })
    let eta = try solved(["--method", "easgd", "--workers", "4", "--alpha", "0.225", "--solve", "eta"])
    let crossings = (eta["crossings"] as? [[String: Any]]) ?? []
    let crossing = crossings.first.flatMap { ($0["value"] as? NSNumber)?.doubleValue }
    #expect(crossings.count == 1 && isClose(crossing ?? .nan, traced, relative: 1e-9), "\(crossings) against \(traced)")
    // With α fixed the round map depends on ηh alone: along h at η = 0.5 the crossing is at h = η*/0.5.
    let h = try solved(["--method", "easgd", "--workers", "4", "--alpha", "0.225", "--eta", "0.5", "--solve", "h"])
    #expect(upperEnds(h).count == 1 && isClose(upperEnds(h)[0], traced / 0.5, relative: 1e-9), "\(h)")
}

@Test func solvingForTauNamesTheLastStableTauAndRadiusAgrees() throws {
    let o = try solved(["--method", "downpour", "--workers", "4", "--eta", "0.1", "--solve", "tau"])
    let last = try #require(upperEnds(o).first.map { Int($0) })
    #expect(last > 1 && last < 64, "\(o)")
    for (tau, word) in [(last, "stable"), (last + 1, "unstable")] {
        let r = try easgd(["radius", "--method", "downpour", "--workers", "4", "--eta", "0.1", "--tau", "\(tau)"])
        #expect(r.stdout.hasSuffix(" \(word)\n"), "τ = \(tau): \(r.stdout)")
    }
}

@Test(arguments: [
    (["--method", "easgd", "--workers", "3", "--eta", "0.1", "--alpha", "0.3", "--solve", "momentum"], "applies to eamsgd"),
    (["--method", "easgd", "--workers", "3", "--eta", "0.1", "--alpha", "0.3", "--range", "1:2"], "--range applies to --solve"),
    (["--method", "easgd", "--workers", "3", "--alpha", "0.3"], "give the learning rate --eta"),
    (["--method", "downpour", "--workers", "3", "--eta", "0.1", "--solve", "alpha"], "has no coupling"),
])
func badSolvesAreRefused(arguments: [String], message: String) throws {
    let r = try easgd(["radius"] + arguments)
    #expect(r.status == 64 && r.stderr.contains(message), "\(r.status) \(r.stderr)")
}

// MARK: Errors that teach

@Test(arguments: [
    (["trian", "--method", "sgd"], "unknown command 'trian' (did you mean 'train'?); the commands: radius, map,"),
    (["rnus", "runs"], "unknown command 'rnus' (did you mean 'runs'?)"),
    (["frobnicate"], "unknown command 'frobnicate'; the commands:"),
    (["train", "--method", "easdg", "--lr", "0.1", "--steps", "2", "--out", "x"], "'easdg' is invalid for '--method <method>': not a method (did you mean 'easgd'?); the methods are sgd, msgd,"),
    (["radius", "--method", "eamgsd", "--workers", "3", "--eta", "0.1"], "(did you mean 'eamsgd'?)"),
    (["radius", "--method", "zzz", "--workers", "3", "--eta", "0.1"], "'zzz' is invalid for '--method <method>': not a method; the methods are"),
    (["train-quadratic", "--method", "admn", "--workers", "3", "--lr", "0.1", "--steps", "2", "--out", "x"], "(did you mean 'admm'?)"),
])
func mistypedCommandsAndMethodsAreNamedWithTheNearestRightOne(arguments: [String], message: String) throws {
    let r = try easgd(arguments)
    #expect(r.status == 64 && r.stderr.hasPrefix("easgd: ") && r.stderr.contains(message) && r.stderr.split(separator: "\n").count == 1,
            "\(r.status) \(r.stderr)")
}

@Test func aShortSubsetRunEvaluatesByTheStatedRuleAndSaysSo() throws {
    // 512 training images in batches of 16 (32 steps an epoch), 96 steps: by the old rule 4 evaluations an epoch
    // (every 8 steps: 13 records) on all 10,000 test images; now on the first 1,000, every ⌈2,000/16⌉ = 125 steps,
    // so the start and the end only.
    let root = try temporaryDirectory()
    let dir = root.appendingPathComponent("run")
    let r = try easgd(["train", "--method", "sgd", "--net", net, "--lr", "0.02", "--batch", "16", "--train-subset", "512",
                       "--steps", "96", "--threads", "1", "--out", dir.path])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("evaluated every 125 steps on the first 1,000 of 10,000 test images"), "\(r.stderr)")
    let config = try String(contentsOf: dir.appendingPathComponent("config.json"), encoding: .utf8)
    #expect(config.contains("\"test_subset\" : 1000") && config.contains("\"eval_every\" : \"125\""), "\(config)")
    #expect(try RunFiles.readMetrics(dir.path).map(\.step) == [0, 96])
    // The same run told to use the whole test set and to evaluate every 32 steps does so.
    let told = root.appendingPathComponent("told")
    let t = try easgd(["train", "--method", "sgd", "--net", net, "--lr", "0.02", "--batch", "16", "--train-subset", "512",
                       "--steps", "96", "--threads", "1", "--test-subset", "10000", "--eval-every", "32", "--quiet", "--out", told.path])
    #expect(t.status == 0, "\(t.stderr)")
    #expect(try RunFiles.readMetrics(told.path).map(\.step) == [0, 32, 64, 96])
    // The training is the same whatever is evaluated: the final training loss, bit for bit.
    #expect(try RunFiles.readMetrics(told.path).last?.trainLoss == RunFiles.readMetrics(dir.path).last?.trainLoss)
    // More test images than the test set has: one line, nothing left behind.
    let bad = try easgd(["train", "--method", "sgd", "--net", net, "--lr", "0.02", "--steps", "4", "--test-subset", "20000",
                         "--out", root.appendingPathComponent("bad").path])
    #expect(bad.status == 1 && bad.stderr.contains("--test-subset 20000") && bad.stderr.contains("10000 images"), "\(bad.stderr)")
    #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("bad").path))
    // `plot --x epochs` says which epochs it counts.
    let summary = try RunSummary.read(dir.path)
    #expect(RunPlot(runs: [summary], axis: .epochs, labels: nil, groupSeeds: false).xLabel
            == "epochs (passes over the 512-image training subset)")
    #expect(RunPlot(runs: [summary, summary], axis: .epochs, labels: nil, groupSeeds: false).xLabel.contains("512-image"))
}

@Test func aMapAndARunOfEAMSGDTakeTheSameMomentumByDefault() throws {
    // δ given nowhere: the map answers for the training default, 0.99, and says so.
    let implicit = try easgd(["radius", "--method", "eamsgd", "--workers", "4", "--eta", "0.1", "--alpha", "0.2", "--json"])
    let explicit = try easgd(["radius", "--method", "eamsgd", "--workers", "4", "--eta", "0.1", "--alpha", "0.2", "--momentum", "0.99", "--json"])
    #expect(implicit.status == 0 && implicit.stdout == explicit.stdout, "\(implicit.stdout)")
    #expect(implicit.stdout.contains("\"momentum\": 0.99"))
    #expect(TrainingDefaults.momentum == 0.99)
}

@Test(arguments: [
    (["map", "--method", "easgd", "--workers", "3", "--eta", "0.01:1", "--alpha", "0.1125:0.1125", "--out", "m"],
     "LO must be below HI; for one value ask `easgd radius` at that point, or `easgd radius --solve AXIS`"),
    (["map", "--method", "easgd", "--workers", "3", "--eta", "0.01", "--out", "m"], "a range is LO:HI, e.g. 0.01:1"),
    (["validate", "--method", "easgd", "--eta", "0.1:nan", "--alpha", "0.1:0.5", "--steps", "10", "--out", "v"],
     "LO and HI must be finite numbers"),
    (["map", "--method", "easgd", "--workers", "3", "--eta", "0.01:1", "--alpha", "0.1:0.2", "--grid", "400x1", "--out", "m"],
     "grid 400x1: each side needs at least 2 points"),
])
func aBadRangeSaysWhatIsWrongAndWhatToType(arguments: [String], needle: String) throws {
    let r = try easgd(arguments, in: try temporaryDirectory())
    #expect(r.status == 64 && r.stderr.contains(needle), "\(r.stderr)")
    #expect(r.stderr.split(separator: "\n").count == 1)
}
