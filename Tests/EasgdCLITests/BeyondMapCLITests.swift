// The maps beyond Figure 1 through the CLI: the new methods, τ, the random schedule, compare variants, bad input.

import CommandTesting
import Foundation
import NumericTesting
import Testing

@Test func newMethodsAndSchedulesDrawMaps() throws {
    let dir = try temporaryDirectory()
    for (name, args) in [
        ("eamsgd", ["--method", "eamsgd", "--momentum", "0.9", "--eta", "0.01:2", "--alpha", "0.01:1"]),
        ("easgd-tau", ["--method", "easgd", "--tau", "4", "--eta", "0.01:2", "--alpha", "0.01:1"]),
        ("downpour", ["--method", "downpour", "--eta", "0.01:2", "--tau-range", "1:8"]),
        ("random", ["--method", "admm", "--schedule", "random", "--eta", "0.0001:0.01", "--rho", "0.01:10"]),
    ] {
        let prefix = dir.appendingPathComponent(name).path
        let r = try easgd(["map", "--workers", "3", "--grid", "12x8", "--out", prefix] + args)
        #expect(r.status == 0, "\(name): \(r.stderr)")
        let summary = try jsonObject(try String(contentsOfFile: prefix + ".json", encoding: .utf8))
        #expect(summary["grid_points"] as? Int == 96)
        #expect(FileManager.default.fileExists(atPath: prefix + ".png"))
    }
    let compare = try easgd(["compare", "--workers", "2", "--grid", "10x10", "--variant", "admm", "--variant", "admm schedule=random",
                             "--variant", "easgd tau=4", "--out", dir.appendingPathComponent("cmp").path])
    #expect(compare.status == 0, "\(compare.stderr)")
    #expect(compare.stdout.contains("admm-random") && compare.stdout.contains("easgd-tau4"))
}

@Test func randomScheduleRadiusWithOneWorkerIsTheRoundRobinRadius() throws {
    let a = try easgd(["radius", "--method", "eamsgd", "--momentum", "0.5", "--workers", "1", "--eta", "0.7", "--alpha", "0.3"])
    let b = try easgd(["radius", "--method", "eamsgd", "--momentum", "0.5", "--workers", "1", "--eta", "0.7", "--alpha", "0.3",
                       "--schedule", "random"])
    #expect(a.status == 0 && b.status == 0)
    // Each prints "RADIUS VERDICT"; with one worker both orders are the same map.
    let (ra, rb) = (a.stdout.split(separator: " "), b.stdout.split(separator: " "))
    let x = try #require(Double(ra[0])), y = try #require(Double(rb[0]))
    #expect(isClose(x, y, relative: 1e-9))
    #expect(ra.count == 2 && ra[1] == "stable\n" && rb.count == 2 && rb[1] == "stable\n")
}

@Test(arguments: [
    (["map", "--method", "downpour", "--workers", "3", "--eta", "0.01:1", "--alpha", "0.1:1", "--out", "/tmp/x"], "--tau-range"),
    (["map", "--method", "easgd", "--workers", "3", "--eta", "0.01:1", "--alpha", "0.1:1", "--tau-range", "1:4", "--out", "/tmp/x"], "EASGD and EAMSGD with a fixed --beta"),
    (["map", "--method", "easgd", "--momentum", "0.9", "--workers", "3", "--eta", "0.01:1", "--alpha", "0.1:1", "--out", "/tmp/x"], "eamsgd only"),
    (["map", "--method", "eamsgd", "--momentum", "1.2", "--workers", "3", "--eta", "0.01:1", "--alpha", "0.1:1", "--out", "/tmp/x"], "[0, 1)"),
    (["map", "--method", "easgd", "--tau", "0", "--workers", "3", "--eta", "0.01:1", "--alpha", "0.1:1", "--out", "/tmp/x"], "--tau"),
    (["map", "--method", "easgd", "--schedule", "sometimes", "--workers", "3", "--eta", "0.01:1", "--alpha", "0.1:1", "--out", "/tmp/x"], "schedule"),
    (["compare", "--workers", "3", "--variant", "downpour", "--out", "/tmp/easgd-cmp-x"], "downpour has no coupling axis: compare it at equal communication with --tau-range"),
    (["compare", "--workers", "3", "--variant", "easgd speed=3", "--out", "/tmp/easgd-cmp-x"], "variant"),
    (["radius", "--method", "downpour", "--workers", "3", "--eta", "0.1", "--rho", "1"], "DOWNPOUR has no coupling"),
])
func badBeyondMapInputGetsOneLineError(arguments: [String], needle: String) throws {
    let r = try easgd(arguments)
    #expect(r.status != 0)
    #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.hasPrefix("easgd: ") && r.stderr.contains(needle), "\(r.stderr)")
}

/// A one-character output prefix in the current directory (Foundation's NSString path helpers crash on it).
@Test func oneCharacterOutputPrefixWorks() throws {
    let dir = try temporaryDirectory()
    let r = try easgd(["map", "--method", "easgd", "--workers", "2", "--eta", "0.1:1", "--alpha", "0.1:1", "--grid", "5x5",
                       "--out", "e"], in: dir)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(files(in: dir) == ["e-boundary.csv", "e.csv", "e.json", "e.png"])
}
