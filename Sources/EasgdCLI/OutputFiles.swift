// Output that is never half-written: every file is written under a temporary name in its final directory
// and renamed into place only when the whole command has succeeded; on failure the temporaries are removed.
// Numbers are written with round-trip precision (Swift's shortest representation); non-finite numbers are
// refused, never written as data.

import ArgumentParser
import Foundation
import Training

struct OutputError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Check that PREFIX (or DIR) can be written: its directory exists, is a directory and is writable.
func checkOutputDirectory(ofPrefix prefix: String) throws {
    try checkDirectory(splitPath(prefix).directory, for: prefix)
}

/// `dir` "" is the current directory (the directory part of a bare file name).
func checkDirectory(_ dir: String, for what: String) throws {
    let dir = dir.isEmpty ? "." : dir
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) else {
        throw ValidationError("cannot write \(what): directory \(dir) does not exist")
    }
    guard isDirectory.boolValue else { throw ValidationError("cannot write \(what): \(dir) is not a directory") }
    guard FileManager.default.isWritableFile(atPath: dir) else {
        throw ValidationError("cannot write \(what): directory \(dir) is not writable")
    }
}

final class OutputTransaction {
    private var staged: [(temporary: String, final: String)] = []
    private var done = false

    /// A temporary path in the same directory as `final`, to be renamed onto it at commit.
    func stage(_ final: String) -> String {
        let dir = splitPath(final).directory
        let name = splitPath(final).name
        let ext = (name as NSString).pathExtension
        let temporaryName = ".\(name).tmp-\(ProcessInfo.processInfo.processIdentifier)-\(staged.count)" + (ext.isEmpty ? "" : ".\(ext)")
        let temporary = dir.isEmpty ? temporaryName : "\(dir)/\(temporaryName)"
        staged.append((temporary, final))
        return temporary
    }

    /// Write text to a staged file; returns the temporary path (for a figure drawn from it before commit).
    @discardableResult
    func write(_ text: String, to final: String) throws -> String {
        let temporary = stage(final)
        do { try text.write(toFile: temporary, atomically: false, encoding: .utf8) } catch {
            throw OutputError("cannot write \(final): \(error.localizedDescription)")
        }
        return temporary
    }

    /// Drop a staged file that was not produced (e.g. a figure when gnuplot failed).
    func discard(_ final: String) {
        staged.removeAll { entry in
            guard entry.final == final else { return false }
            try? FileManager.default.removeItem(atPath: entry.temporary)
            return true
        }
    }

    /// Rename every staged file into place.
    func commit() throws {
        for (temporary, final) in staged {
            guard rename(temporary, final) == 0 else {
                let reason = String(cString: strerror(errno))
                rollback()
                throw OutputError("cannot move \(temporary) to \(final): \(reason)")
            }
        }
        staged.removeAll()
        done = true
    }

    /// Remove every staged temporary file.
    func rollback() {
        for (temporary, _) in staged { try? FileManager.default.removeItem(atPath: temporary) }
        staged.removeAll()
    }

    deinit { if !done { rollback() } }
}

/// A number as written to CSV and JSON: shortest round-trip form; non-finite numbers are an error.
func number(_ v: Double) throws -> String {
    guard v.isFinite else { throw OutputError("refusing to write a non-finite number (\(v))") }
    return "\(v)"
}

/// CSV text built row by row.
struct CSV {
    private(set) var text: String
    init(header: [String]) { text = header.joined(separator: ",") + "\n" }
    mutating func row(_ values: [Double]) throws {
        text += try values.map(number).joined(separator: ",")
        text += "\n"
    }
    mutating func row(_ fields: [String]) {
        text += fields.joined(separator: ",") + "\n"
    }
    /// A text field, quoted (RFC 4180) when it holds a comma, a quote or a line break.
    static func quote(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// A JSON value with ordered keys.
indirect enum JSON {
    case number(Double)
    case integer(Int)
    case string(String)
    case bool(Bool)
    case array([JSON])
    case object([(String, JSON)])
    case null

    func render(indent: Int = 0) throws -> String {
        let pad = String(repeating: "  ", count: indent)
        let inner = String(repeating: "  ", count: indent + 1)
        switch self {
        case .number(let v): return try EasgdCLI.number(v)
        case .integer(let i): return String(i)
        case .string(let s): return JSON.quote(s)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array(let items):
            if items.allSatisfy({ if case .number = $0 { return true }; if case .integer = $0 { return true }; return false }) {
                return "[" + (try items.map { try $0.render() }.joined(separator: ", ")) + "]"
            }
            if items.isEmpty { return "[]" }
            return "[\n" + (try items.map { inner + (try $0.render(indent: indent + 1)) }.joined(separator: ",\n")) + "\n\(pad)]"
        case .object(let fields):
            if fields.isEmpty { return "{}" }
            return "{\n" + (try fields.map { "\(inner)\(JSON.quote($0.0)): \(try $0.1.render(indent: indent + 1))" }
                .joined(separator: ",\n")) + "\n\(pad)}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}

/// Print to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
