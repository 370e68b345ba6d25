// `easgd runs --export tensorboard --out DIR`: each run's records as TensorBoard scalars, one run per
// subdirectory (the run directory's name; -2, -3, … when names repeat), its settings (config.json) as text.
// Written as one output transaction: every event file staged, fsynced and renamed into place, or none.

import Foundation
import Records
import Training

public enum TensorBoardExport {
    /// The scalars of one record, under their tags: losses, test error, sharpness and h* (the run's threshold at
    /// the learning rate in force), the learning rate and the communication counters. Absent values are left out.
    static func scalars(_ r: MetricRecord, run: RunSummary, criticalEtaH: Double?) -> [(String, Double)] {
        var out: [(String, Double)] = [("error/test", r.testError), ("loss/test", r.testLoss), ("epoch", r.epoch)]
        if let v = r.trainLoss { out.append(("loss/train", v)) }
        if let v = r.minibatchLoss { out.append(("loss/minibatch", v)) }
        let eta = r.learningRate ?? run.learningRate
        if let v = r.learningRate { out.append(("eta", v)) }
        if let s = r.sharpness {
            out.append(("sharpness/h_max", s))
            if let c = criticalEtaH, eta > 0 { out.append(("sharpness/h_star", c / eta)) }
            out.append(("sharpness/two_over_eta", 2 / eta))
        }
        if let v = r.exchanges { out.append(("communication/exchanges", Double(v))) }
        if let v = r.communicationSeconds { out.append(("communication/seconds", v)) }
        if let v = r.bytesSent { out.append(("communication/bytes_sent", Double(v))) }
        if let v = r.bytesReceived { out.append(("communication/bytes_received", Double(v))) }
        return out
    }

    /// Writes OUT/NAME/events.out.tfevents.0.easgd for each run; returns the subdirectories' names.
    public static func write(_ runs: [RunSummary], to out: String) throws -> [String] {
        try OutputPath.checkDirectory(out, for: out)
        var names: [String] = [], used: [String: Int] = [:]
        for run in runs {
            let base = URL(fileURLWithPath: run.dir).standardizedFileURL.lastPathComponent
            let stem = base.isEmpty || base == "/" || base == "." || base == ".." ? "run" : base
            used[stem, default: 0] += 1
            names.append(used[stem]! == 1 ? stem : "\(stem)-\(used[stem]!)")
        }
        try OutputPath.createDirectory(out)
        let transaction = OutputTransaction()
        for (run, name) in zip(runs, names) {
            let dir = (out as NSString).appendingPathComponent(name)
            try OutputPath.createDirectory(dir)
            try transaction.write(try events(run), to: (dir as NSString).appendingPathComponent("events.out.tfevents.0.easgd"))
        }
        try transaction.commit()
        return names
    }

    /// One run's event file: its settings as text at step 0, then each record's scalars at its total steps.
    static func events(_ run: RunSummary) throws -> Data {
        // Wall time: the run's start (metrics.jsonl's time less the last record's wall seconds) plus each record's.
        let metrics = RunFiles.metricsJSONL(run.dir)
        let modified = ((try? FileManager.default.attributesOfItem(atPath: metrics))?[.modificationDate] as? Date)?.timeIntervalSince1970
            ?? Date().timeIntervalSince1970
        let start = modified - (run.records.last?.wallSeconds ?? 0)
        var file = TensorBoardEvents(wallTime: start)
        let config = (try? String(contentsOfFile: RunFiles.config(run.dir), encoding: .utf8)) ?? "{}"
        file.text("settings", "**\(run.methodText)**, p = \(run.workers), η = \(run.learningRate), seed \(run.seed), status \(run.status.rawValue)\n\n"
                  + config.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n"),
                  step: 0, wallTime: start)
        let critical: Double? = (try? RunPlot.criticalEtaH(run)) ?? nil
        for r in run.records {
            for (tag, value) in scalars(r, run: run, criticalEtaH: critical) {
                file.scalar(tag, value, step: r.step, wallTime: start + r.wallSeconds)
            }
        }
        return file.data
    }
}
