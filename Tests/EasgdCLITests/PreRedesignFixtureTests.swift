// Run directories written by the build before the run-lifecycle redesign (Tests/Fixtures/pre-redesign, made by
// that build's own binary) still resume, and to the same numbers as a straight run made by that build: every
// record's step, samples, epoch, losses, error, exchanges and virtual seconds, bit for bit. Only the host's
// seconds (a sequential run's `seconds`, everyone's `wall_seconds`) may differ, and the records made after the
// resume add the learning rate in force (`eta`, which earlier builds did not record) and the bytes moved. Since 2026-12-06 the
// records name the step count `total_steps` (it was `step`): the one rename compared through.

import CommandTesting
import Foundation
import Testing
import Training

private let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures/pre-redesign")

/// A record's fields as text, without the host's clock.
private func comparable(_ line: Substring, hostSeconds: Bool) throws -> [String: String] {
    let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    var fields: [String: String] = [:]
    for (key, value) in object where key != "wall_seconds" && !(hostSeconds && key == "seconds") {
        fields[key == "step" ? "total_steps" : key] = "\(value)"
    }
    return fields
}

private func resumesLikeAStraightRun(_ name: String, arguments: [String], hostSeconds: Bool) throws {
    let dir = try temporaryDirectory().appendingPathComponent(name)
    try FileManager.default.copyItem(at: fixtures.appendingPathComponent(name), to: dir)
    let r = try easgd(["train", "--resume", dir.path, "--quiet"] + arguments)
    #expect(r.status == 0, "\(r.stderr)")
    let resumed = try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
    let straight = try String(contentsOf: fixtures.appendingPathComponent("\(name)-straight-metrics.jsonl"), encoding: .utf8)
        .split(separator: "\n")
    #expect(resumed.count == straight.count && straight.count == 5, "\(resumed.count) records against \(straight.count)")
    for (a, b) in zip(resumed, straight) {
        // Records made by today's build also say the learning rate in force (the run's constant η here).
        var made = try comparable(a, hostSeconds: hostSeconds)
        if let eta = made.removeValue(forKey: "eta") { #expect(eta == "0.02") }
        // And (since 2026-12-06) the bytes: Float32 both ways, so as many received as sent.
        let sent = made.removeValue(forKey: "bytes_sent"), received = made.removeValue(forKey: "bytes_received")
        #expect(sent == received)
        #expect(try made == comparable(b, hostSeconds: hostSeconds))
    }
    let status = try String(contentsOf: dir.appendingPathComponent("status.json"), encoding: .utf8)
    #expect(status.contains("completed"))
}

@Test func aSequentialRunWrittenBeforeTheRedesignResumesToTheStraightRunsNumbers() throws {
    try resumesLikeAStraightRun("sequential", arguments: ["--steps", "40"], hostSeconds: true)
}

@Test func aSimulatedRunWrittenBeforeTheRedesignResumesToTheStraightRunsNumbers() throws {
    try resumesLikeAStraightRun("simulated", arguments: ["--steps", "20"], hostSeconds: false)
}
