// One cleanup path for every command: the temporary files it has staged and the child processes it has started
// are registered here, and SIGINT, SIGTERM or SIGHUP terminates the children (and their descendants), removes the
// files and exits with 128 + the signal. The signal handler only writes a byte to a pipe; a thread of its own does
// the cleanup with ordinary locks. (Training runs install their own handler, which checkpoints the run instead.)

import Foundation

public final class Cleanup: @unchecked Sendable {
    public static let shared = Cleanup()

    private let lock = NSLock()
    private var files: Set<String> = []
    private var children: Set<pid_t> = []

    /// A temporary file or directory to remove if the command is stopped.
    public func register(file path: String) { lock.withLock { _ = files.insert(path) } }
    public func unregister(file path: String) { lock.withLock { _ = files.remove(path) } }
    public func register(child pid: pid_t) { lock.withLock { _ = children.insert(pid) } }
    public func unregister(child pid: pid_t) { lock.withLock { _ = children.remove(pid) } }

    /// Terminates every registered child and its descendants, removes every registered file and exits with
    /// 128 + `sig`. The lock is held to the end, so the command's own thread, which registers and unregisters as
    /// it goes, cannot move a staged file into place meanwhile.
    func stop(signal sig: Int32) -> Never {
        lock.lock()
        var doomed: [pid_t] = []
        for pid in children { doomed += Cleanup.descendants(of: pid) + [pid] }
        for pid in doomed { kill(pid, SIGTERM) }
        // Give the children a moment to go (a child may still be writing a file), then make sure.
        usleep(200_000)
        for pid in doomed { kill(pid, SIGKILL) }
        for path in files { try? FileManager.default.removeItem(atPath: path) }
        FileHandle.standardError.write(Data("easgd: stopped by signal \(sig); temporary files removed\n".utf8))
        // _exit, not exit: exit() runs the libraries' exit handlers on this thread while the command's threads are
        // stopped wherever the signal found them, possibly holding the locks those handlers take (a validate
        // stopped by SIGTERM once hung here with every thread waiting on a futex after this line was printed).
        _exit(128 + sig)
    }

    /// The processes below `pid` (Linux: from /proc/*/stat).
    public static func descendants(of pid: pid_t) -> [pid_t] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var parent: [pid_t: pid_t] = [:]
        for entry in entries {
            guard let child = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let ppid = pid_t(fields[1]) { parent[child] = ppid }
        }
        var found: [pid_t] = [], frontier = [pid]
        while let p = frontier.popLast() {
            let kids = parent.filter { $0.value == p }.map(\.key)
            found += kids
            frontier += kids
        }
        return found
    }

    // MARK: Signals

    /// Routes SIGINT, SIGTERM and SIGHUP to the cleanup: children terminated, temporary files removed, exit
    /// status 128 + the signal.
    public static func installSignalHandlers() {
        SignalPipe.route([SIGINT, SIGTERM, SIGHUP]) { Cleanup.shared.stop(signal: $0) }
    }
}
