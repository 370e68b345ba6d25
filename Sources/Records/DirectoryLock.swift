// A run owns its directory for its whole life: an advisory lock (flock) on DIR/.lock, held open by the process
// that writes there and released by the kernel when that process ends, however it ends. A second writer (a new
// run or a resume) is refused at once, with the holder's pid.

import Foundation

public final class DirectoryLock {
    public let directory: String
    private var fd: Int32

    public static func path(_ directory: String) -> String { (directory as NSString).appendingPathComponent(".lock") }

    /// Takes the lock of `directory` (which must exist) or throws, naming the process that holds it.
    public init(_ directory: String) throws {
        self.directory = directory
        let path = DirectoryLock.path(directory)
        fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError("\(path): cannot open the run's lock (\(String(cString: strerror(errno))))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buffer, buffer.count, 0)
            close(fd)
            fd = -1
            let holder = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            if busy { throw SettingsError("\(directory) is in use by another easgd process (pid \(holder)); wait for it to end or stop it first") }
            throw FileError("\(path): cannot lock (\(String(cString: strerror(errno))))")
        }
        let pid = Data("\(getpid())\n".utf8)
        ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    /// Gives the directory up (also when the object goes away, or the process ends).
    public func release() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }

    /// The process holding `directory`'s lock, or nil when none does (read from the kernel's table of locks,
    /// /proc/locks, so that asking never takes the lock, not even for an instant a run starting then would lose).
    public static func holder(of directory: String) -> Int32? {
        var info = stat()
        guard stat(path(directory), &info) == 0,
              let written = try? String(contentsOfFile: path(directory), encoding: .utf8),
              let pid = Int32(written.trimmingCharacters(in: .whitespacesAndNewlines)),
              let table = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return nil }
        // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF": an flock held by the pid the lock file names, on its
        // inode (the device numbers are left aside: an overlay filesystem reports others than stat does).
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "FLOCK", Int32(fields[4]) == pid else { continue }
            let id = fields[5].split(separator: ":")
            if id.count == 3, UInt64(id[2]) == UInt64(info.st_ino) { return pid }
        }
        return nil
    }
}
