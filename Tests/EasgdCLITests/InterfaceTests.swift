// The interface a researcher meets (issue 31, in part): `runs` on a directory of runs finds them, a run that is
// training shows as running (and advise says it uses the last checkpoint), and every command that takes a
// learning rate takes it as --eta and as --lr.

import Foundation
import Testing
import Training

private let net = "(1,28)C(4,24)P(4,12)S(10,1)"

@Test func runsOnAParentDirectoryFindsTheRunsBelowItAndAnEmptyOneIsAUsageError() throws {
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
    #expect(rows.map { $0["steps"] as? Int } == [4, 6, 2])
    let empty = root.appendingPathComponent("empty")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    let none = try easgd(["runs", empty.path])
    #expect(none.status == 64 && none.stderr.contains("holds no training run"), "\(none.stderr)")
    let missing = try easgd(["runs", root.appendingPathComponent("missing").path])
    #expect(missing.status == 64 && missing.stderr.contains("does not exist"), "\(missing.stderr)")
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
    let help = try easgd(["help"] + command.split(separator: " ").map(String.init))
    #expect(help.status == 0 && help.stdout.contains("--eta") && help.stdout.contains("--lr"), "\(command): \(help.stdout.prefix(400))")
}
