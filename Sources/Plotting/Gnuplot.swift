// Running gnuplot (Debian: gnuplot-nox) through Process. Figures are always drawn from CSV files that the
// caller writes first, so the data survive even where gnuplot is missing.

import Foundation

public enum GnuplotError: Error, CustomStringConvertible, Equatable {
    case notFound(String)
    case failed(status: Int32, message: String)

    public var description: String {
        switch self {
        case .notFound(let searched):
            return "gnuplot not found (\(searched)); install it with: apt-get install -y gnuplot-nox"
        case .failed(let status, let message):
            let detail = message.split(separator: "\n").last.map(String.init) ?? ""
            return "gnuplot failed (exit \(status)): \(detail)"
        }
    }
}

public enum Terminal: String, Sendable, CaseIterable {
    case png
    case svg
    case pdf

    func setTerminal(width: Int, height: Int) -> String {
        switch self {
        case .png: return "set terminal pngcairo enhanced size \(width),\(height) font 'DejaVu Sans,11'"
        case .svg: return "set terminal svg enhanced size \(width),\(height) font 'DejaVu Sans,11' background rgb 'white'"
        // Vector output for papers: the same layout at 100 pixels to the inch.
        case .pdf: return "set terminal pdfcairo enhanced size \(Double(width) / 100)in,\(Double(height) / 100)in font 'DejaVu Sans,8'"
        }
    }
}

public enum Gnuplot {
    /// The executable: `$EASGD_GNUPLOT` if set, else `gnuplot` on `$PATH`.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let explicit = environment["EASGD_GNUPLOT"] {
            guard FileManager.default.isExecutableFile(atPath: explicit) else {
                throw GnuplotError.notFound("EASGD_GNUPLOT=\(explicit) is not an executable")
            }
            return explicit
        }
        for dir in (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/gnuplot"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw GnuplotError.notFound("not on PATH")
    }

    /// Run a script. The script names its own output file.
    public static func run(script: String) throws {
        let executable = try locate()
        let dir = FileManager.default.temporaryDirectory
        let scriptURL = dir.appendingPathComponent("easgd-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString).gp")
        try script.write(to: scriptURL, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: scriptURL) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [scriptURL.path]
        let errorPipe = Pipe()
        process.standardError = errorPipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let errorData = errorPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let message = String(decoding: errorData, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw GnuplotError.failed(status: process.terminationStatus, message: message)
        }
    }

    /// A string quoted for a gnuplot script (single quotes; embedded ones doubled).
    public static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }
}
