// The supervisor's reading of an mpirun command line's hosts, and the command line without the hosts that are gone.

@testable import Analysis
import Foundation
import Testing

@Test func hostsGoneLeaveTheCommandWithFewerRanks() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("easgd-hosts-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    // --host with slots: b holds 2 of the 4 ranks.
    let listed = ["mpirun", "--host", "a,b:2,c", "-np", "4", "--mca", "plm_rsh_agent", "/x/agent", "easgd", "train", "--resume", "r"]
    let hosts = try #require(HostList(command: listed))
    #expect(hosts.names == ["a", "b", "c"] && hosts.slots == [1, 2, 1] && hosts.ranks == 4 && hosts.agent == "/x/agent")
    let without = try #require(try hosts.without(["b"], directory: dir.path))
    #expect(without.command == ["mpirun", "--host", "a,c", "-np", "2", "--mca", "plm_rsh_agent", "/x/agent", "easgd", "train", "--resume", "r"])
    #expect(try hosts.without(["b", "c"], directory: dir.path) == nil)      // one rank left: no worker
    // A hostfile (comments, slots) is written anew beside the run, without the host that is gone.
    let file = dir.appendingPathComponent("hosts")
    try "a slots=2\nb slots=1   # the second\nc slots=3\n".write(to: file, atomically: true, encoding: .utf8)
    let fromFile = try #require(HostList(command: ["/usr/bin/mpirun", "--hostfile", file.path, "-np", "6", "easgd", "train", "--resume", "r"]))
    #expect(fromFile.names == ["a", "b", "c"] && fromFile.slots == [2, 1, 3] && fromFile.agent == nil)
    let lessC = try #require(try fromFile.without(["c"], directory: dir.path))
    #expect(lessC.command[4] == "3" && lessC.command[2] == dir.path + "/hostfile.supervise")     // min(6 − 3, 2 + 1)
    #expect(try String(contentsOfFile: dir.path + "/hostfile.supervise", encoding: .utf8) == "a slots=2\nb slots=1\n")
    // Not an mpirun job over several hosts: nothing to leave out.
    #expect(HostList(command: ["easgd", "train", "--resume", "r"]) == nil)
    #expect(HostList(command: ["mpirun", "-np", "3", "easgd", "train", "--resume", "r"]) == nil)
}
