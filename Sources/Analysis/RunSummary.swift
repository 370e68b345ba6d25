// What a training run directory holds, in one row: its settings (each only where its method takes it), how far
// it got, its best and final test error, its wall and virtual time and how it ended. `easgd runs` prints these;
// `easgd plot` reads the same rows to label time axes and to group runs that differ only in their seed.

import Elastic
import Engine
import Foundation
import Records
import Training

public struct RunSummary: Sendable {
    public var dir: String
    public var method: Algorithm
    public var workers: Int
    /// Only where the method takes it.
    public var tau: Int?
    public var learningRate: Double
    /// The learning rate's schedule (`--lr-schedule`, `--warmup`) and any change a resume made to the rate, as
    /// text; nil for a constant η never changed.
    public var lrSchedule: String?
    public var momentum: Double?
    public var alpha: Double?
    /// DiLoCo's outer step (nil for the other methods).
    public var outer: OuterSettings? = nil
    /// The codec the workers' updates went through (nil: none).
    public var compression: Compression? = nil
    public var replyCompression: Codec? = nil
    public var seed: UInt64
    /// `--init-seed` where the run gave one (its initialisation's seed; nil: `seed`).
    public var initSeed: UInt64? = nil
    /// Nil for a sequential run (one worker, no master).
    public var backend: Backend?
    public var net: String
    public var data: String
    /// `--train-subset N` (nil: the whole training set): what an epoch is a pass over.
    public var trainSubset: Int? = nil
    /// Steps per worker so far (the last record's; a sequential run's steps).
    public var steps: Int
    public var bestTestError: Double?
    public var finalTestError: Double?
    public var wallSeconds: Double?
    /// Simulated runs: seconds of the virtual clock.
    public var virtualSeconds: Double?
    public var status: RunStatus.State
    /// Why it ended that way (a signal, the step and reason of a divergence), where the run said.
    public var reason: String?
    public var records: [MetricRecord]

    /// True when `seconds` in the records is the simulator's virtual clock.
    public var isVirtual: Bool { backend == .simulated }

    /// The first evaluation at which the test error is at or below `target` (a fraction): its time on the run's
    /// clock (wall-clock training seconds, or the simulator's virtual seconds), epochs and total steps; nil if none.
    public func timeToTarget(_ target: Double) -> TargetTime? {
        records.first { $0.testError.isFinite && $0.testError <= target }
            .map { TargetTime(target: target, seconds: $0.seconds, epochs: $0.epoch, steps: $0.step) }
    }

    /// Reads config.json, metrics.jsonl and status.json of `dir`; a run whose directory a process holds is running.
    public static func read(_ dir: String) throws -> RunSummary {
        var summary = try readFiles(dir)
        if let pid = DirectoryLock.holder(of: dir) {
            summary.status = .running
            summary.reason = "process \(pid) is training it"
        }
        return summary
    }

    private static func readFiles(_ dir: String) throws -> RunSummary {
        let records = try RunFiles.readMetrics(dir)
        let said = try RunFiles.readStatus(dir)
        let last = records.last
        let best = records.map(\.testError).filter(\.isFinite).min()
        let final = last.flatMap { $0.testError.isFinite ? $0.testError : nil }
        let s = try RunFiles.readSettings(dir)
        if s.isParallel {
            let e = s.engine, m = e.method
            // Steps per worker: the furthest worker's clock in the last record. Not the records' step over p: step
            // counts the worker steps done in all, which after an elastic restart (p changed, new workers starting at
            // the furthest clock) is no multiple of the current p. Records from before worker_steps: step / p.
            // In random order the budget is p × steps in all (the workers' shares are drawn): the mean is reported.
            let random = s.simulatorOrder == .random && !m.stepsTogether
            let steps = last.map { random ? $0.step / e.workers : $0.workerSteps?.max() ?? $0.step / e.workers } ?? 0
            let reached = last.map { random ? $0.step >= s.steps * e.workers
                : $0.workerSteps.map { $0.allSatisfy { $0 >= s.steps } } ?? ($0.step >= s.steps * e.workers) } ?? false
            var summary = RunSummary(dir: dir, method: m, workers: e.workers, tau: m.takes(.tau) ? e.tau : nil,
                              learningRate: e.learningRate, lrSchedule: scheduleText(e.schedule, s.changes),
                              momentum: m.takes(.momentum) ? e.momentum : nil,
                              alpha: m.takes(.alpha) ? e.alpha : nil, seed: s.seed, backend: s.backend, net: s.net, data: s.data,
                              steps: steps, bestTestError: best, finalTestError: final, wallSeconds: last?.wallSeconds,
                              virtualSeconds: s.backend == .simulated ? last?.seconds : nil,
                              status: said?.state ?? (reached ? .completed : .interrupted), reason: said?.reason, records: records)
            summary.trainSubset = s.trainSubset
            summary.initSeed = s.initSeed
            summary.outer = m.takes(.outer) ? e.outer : nil
            summary.compression = e.compression
            summary.replyCompression = e.replyCompression
            return summary
        }
        let o = s.optimizer
        var reached = false
        if let last {
            if let steps = s.budget.steps, last.step >= steps { reached = true }
            if let epochs = s.budget.epochs, last.epoch >= epochs * (1 - 1e-12) { reached = true }
            if let minutes = s.budget.minutes, last.seconds >= minutes * 60 { reached = true }
        }
        var summary = RunSummary(dir: dir, method: o.method, workers: 1, tau: nil, learningRate: o.learningRate,
                          lrSchedule: scheduleText(o.schedule, s.changes),
                          momentum: o.method.takes(.momentum) ? o.momentum : nil, alpha: nil, seed: s.seed, backend: nil,
                          net: s.net, data: s.data, steps: last?.step ?? 0, bestTestError: best, finalTestError: final,
                          wallSeconds: last?.wallSeconds, virtualSeconds: nil,
                          status: said?.state ?? (reached ? .completed : .interrupted), reason: said?.reason, records: records)
        summary.trainSubset = s.trainSubset
        summary.initSeed = s.initSeed
        return summary
    }

    /// "step:30,60:0.1 --warmup 100", with each resume's change of the rate ("η 0.02 → 0.005 at step 20").
    static func scheduleText(_ schedule: LearningRateSchedule?, _ changes: [SettingsChange]?) -> String? {
        var parts: [String] = []
        if let schedule, !schedule.isConstant { parts.append(schedule.summary) }
        for c in changes ?? [] {
            if let r = c.learningRate { parts.append("η \(r[0]) → \(r[1]) at step \(c.atStep)") }
            if let s = c.lrSchedule { parts.append("schedule \(s[0]) → \(s[1]) at step \(c.atStep)") }
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    /// Everything that determines a run except its seed (and where it lives): runs with equal keys are repeats.
    public var settingsKey: String {
        [methodText, String(workers), tau.map(String.init) ?? "-", "\(learningRate)", lrSchedule ?? "-", momentum.map { "\($0)" } ?? "-",
         alpha.map { "\($0)" } ?? "-", backend?.rawValue ?? "-", net, data, String(steps), initSeed.map { "\($0)" } ?? "-"].joined(separator: "|")
    }

    /// The method, with DiLoCo's outer step and the codecs of its updates and replies: "diloco (nesterov 0.7, 0.9)
    /// int8+ef reply-int4" (optimizer, η_o, β; format, stochastic rounding, a block other than 256, error feedback).
    public var methodText: String {
        var text = method.rawValue
        if let o = outer {
            text += " (\(o.optimizer.rawValue) \(plain(o.learningRate))\(o.keepsVelocity ? ", \(plain(o.momentum))" : "")\(o.delayed ? ", delayed" : "")"
                + (o.innerNesterov ? "; inner nesterov \(plain(o.innerMomentum))\(o.keepsInnerVelocity ? " kept" : "")" : "") + ")"
        }
        if let c = compression {
            text += " \(c.codec.format.rawValue)" + (c.codec.rounding == .stochastic ? "-stochastic" : "")
                + (c.codec.blockSize != Codec.defaultBlockSize && [.int8, .int4].contains(c.codec.format) ? "/\(c.codec.blockSize)" : "")
                + (c.errorFeedback ? "+ef" : "")
        }
        if let c = replyCompression {
            text += " reply-\(c.format.rawValue)" + (c.rounding == .stochastic ? "-stochastic" : "")
                + (c.blockSize != Codec.defaultBlockSize && [.int8, .int4].contains(c.format) ? "/\(c.blockSize)" : "")
        }
        return text
    }

    /// DiLoCo's outer step under the toolkit's keys (null for the other methods).
    var outerJSON: [(String, JSON)] {
        [("outer", outer.map { .string($0.optimizer.rawValue) } ?? .null), ("outer_eta", outer.map { .number($0.learningRate) } ?? .null),
         ("outer_momentum", outer.flatMap { $0.keepsVelocity ? .number($0.momentum) : nil } ?? .null),
         ("outer_delay", outer.map { .integer($0.delayed ? 1 : 0) } ?? .null),
         ("inner_momentum", outer.map { .number($0.innerMomentum) } ?? .null),
         ("keeps_inner_velocity", outer.map { .bool($0.keepsInnerVelocity) } ?? .null),
         ("compress", .string(compression?.codec.format.rawValue ?? "none")),
         ("error_feedback", .bool(compression?.errorFeedback == true)),
         ("compress_reply", .string(replyCompression?.format.rawValue ?? "none"))]
    }

    /// The keys of `easgd runs --json`.
    public var json: JSON { json(targets: []) }

    /// `json`, and with `targets` each target's time (`time_to_target`, before the status: null times where the run
    /// never reached it).
    public func json(targets: [Double]) -> JSON {
        func opt(_ v: Double?) -> JSON { v.map { .number($0) } ?? .null }
        let times: [(String, JSON)] = targets.isEmpty ? [] : [("time_to_target", .array(targets.map { t in
            timeToTarget(t)?.json ?? .object([("target_test_error", .number(t)), ("seconds", .null), ("epochs", .null),
                                              ("total_steps", .null)])
        }))]
        return .object([
            ("dir", .string(dir)), ("method", .string(method.rawValue)), ("workers", .integer(workers)),
            ("tau", tau.map { .integer($0) } ?? .null), ("eta", .number(learningRate)),
            ("eta_schedule", lrSchedule.map { .string($0) } ?? .null), ("momentum", opt(momentum)),
            ("alpha", opt(alpha))] + outerJSON + [("seed", seedJSON(seed)), ("init_seed", initSeed.map(seedJSON) ?? .null), ("backend", backend.map { .string($0.rawValue) } ?? .null),
            ("net", .string(net)), ("data", .string(data)), ("steps_per_worker", .integer(steps)),
            ("best_test_error", opt(bestTestError)), ("final_test_error", opt(finalTestError)),
            ("wall_seconds", opt(wallSeconds)), ("virtual_seconds", opt(virtualSeconds))] + times + [
            ("status", .string(status.rawValue)), ("reason", reason.map { .string($0) } ?? .null),
        ])
    }

    public static func tableHeader(targets: [Double] = []) -> [String] {
        ["dir", "method", "workers", "tau", "eta", "momentum", "alpha", "seed", "backend", "steps_per_worker",
         "best_test_error", "final_test_error", "wall_seconds", "virtual_seconds"] + targets.map(TargetTime.column) + ["status"]
    }

    /// With `targets`, each one's time ("-" where the run never reached it).
    public func tableRow(targets: [Double] = []) -> [String] {
        let eta: String = plain(learningRate) + (lrSchedule.map { " (\($0))" } ?? "")
        let settings: [String] = [dir, methodText, String(workers), tau.map(String.init) ?? "-", eta, momentum.map(plain) ?? "-",
                                  alpha.map(plain) ?? "-", String(seed), backend?.rawValue ?? "sequential", String(steps)]
        let results: [String] = [percent(bestTestError), percent(finalTestError), seconds(wallSeconds), seconds(virtualSeconds)]
        let times: [String] = targets.map { timeToTarget($0)?.text ?? "-" }
        return settings + results + times + [status.rawValue]
    }
}

/// When a run first reached a test error: seconds of its clock, epochs and worker steps in total.
public struct TargetTime: Sendable, Equatable {
    public var target: Double
    public var seconds: Double
    public var epochs: Double
    public var steps: Int

    var json: JSON {
        .object([("target_test_error", .number(target)), ("seconds", .number(seconds)), ("epochs", .number(epochs)),
                 ("total_steps", .integer(steps))])
    }
    var text: String { String(format: "%.1f s (%.2f epochs)", seconds, epochs) }

    /// "time_to_30" for 0.30: the column of a target in the tables (whole percents, else up to two decimals).
    static func column(_ target: Double) -> String {
        "time_to_" + String(format: "%g", (target * 100 * 100).rounded() / 100).replacingOccurrences(of: ".", with: "_")
    }
}

/// Runs that differ only in their seed: the mean of their test errors with its standard error and 95 % interval,
/// the min and max, and their times to target errors.
public struct SeedGroup: Sendable {
    public var runs: [RunSummary]

    /// Groups in the order their first run appears.
    public static func group(_ runs: [RunSummary]) -> [SeedGroup] {
        var order: [String] = [], groups: [String: [RunSummary]] = [:]
        for r in runs {
            if groups[r.settingsKey] == nil { order.append(r.settingsKey) }
            groups[r.settingsKey, default: []].append(r)
        }
        return order.map { SeedGroup(runs: groups[$0]!) }
    }

    public var best: SeedEstimate? { SeedEstimate(runs.map(\.bestTestError)) }
    public var final: SeedEstimate? { SeedEstimate(runs.map(\.finalTestError)) }

    /// The evaluations the seeds share, one row per shared evaluation with each run's record (in `runs`' order).
    /// The first run's evaluations are the reference; another run's evaluation is matched to the reference one
    /// nearest it in steps, if it lies within a tenth of the reference's median interval between evaluations and
    /// no other of that run's evaluations lies nearer the same reference one; a reference evaluation that some run
    /// does not match is left out. Runs on one schedule match at equal steps. A run continued past its budget
    /// (`train --resume --steps`, as a learning-rate search's rung does) evaluates at its old budget's end and may
    /// go on a few steps off the others' schedule; those evaluations still pair with the others', one to one.
    public static func sharedEvaluations(_ runs: [[MetricRecord]]) -> [[MetricRecord]] {
        func lastPerStep(_ records: [MetricRecord]) -> [MetricRecord] {
            var out: [MetricRecord] = []
            for r in records {
                if let last = out.last, last.step == r.step { out[out.count - 1] = r } else if out.last.map({ $0.step < r.step }) ?? true { out.append(r) }
            }
            return out
        }
        guard let first = runs.first.map(lastPerStep) else { return [] }
        let steps = first.map(\.step)
        let gaps = zip(steps.dropFirst(), steps).map { $0 - $1 }.sorted()
        let tolerance = gaps.isEmpty ? 0 : gaps[gaps.count / 2] / 10
        // matched[j][i]: run j's record for reference evaluation i, with its distance in steps.
        var matched: [[(record: MetricRecord, distance: Int)?]] = [first.map { ($0, 0) }]
        for run in runs.dropFirst().map(lastPerStep) {
            var mine = [(record: MetricRecord, distance: Int)?](repeating: nil, count: steps.count)
            for r in run {
                // The nearest reference evaluation (the earlier on a tie).
                var lo = 0, hi = steps.count
                while lo < hi { let mid = (lo + hi) / 2; if steps[mid] < r.step { lo = mid + 1 } else { hi = mid } }
                let candidates = [lo - 1, lo].filter { steps.indices.contains($0) }
                guard let i = candidates.min(by: { abs(steps[$0] - r.step) < abs(steps[$1] - r.step) }) else { continue }
                let d = abs(steps[i] - r.step)
                if d <= tolerance, mine[i].map({ d < $0.distance }) ?? true { mine[i] = (r, d) }
            }
            matched.append(mine)
        }
        return steps.indices.compactMap { i in
            let row = matched.compactMap { $0[i]?.record }
            return row.count == runs.count ? row : nil
        }
    }

    /// How many of the runs reached `target`, and the estimates of their times (seconds of the runs' clock, epochs)
    /// over those that did: a mean over the runs that reached it, so read it with the count.
    public func timeToTarget(_ target: Double) -> (reached: Int, seconds: SeedEstimate?, epochs: SeedEstimate?) {
        let times = runs.compactMap { $0.timeToTarget(target) }
        return (times.count, SeedEstimate(times.map(\.seconds)), SeedEstimate(times.map(\.epochs)))
    }

    /// This group against `first` over the seeds they share: best and final test error, this group's minus first's.
    public func paired(with first: SeedGroup) -> (best: PairedDifference, final: PairedDifference) {
        (PairedDifference(first.runs.map { ($0.seed, $0.bestTestError) }, runs.map { ($0.seed, $0.bestTestError) }),
         PairedDifference(first.runs.map { ($0.seed, $0.finalTestError) }, runs.map { ($0.seed, $0.finalTestError) }))
    }
    /// "3 completed, 1 diverged".
    public var statusText: String {
        RunStatus.State.allCases.compactMap { s in
            let n = runs.filter { $0.status == s }.count
            return n > 0 ? "\(n) \(s.rawValue)" : nil
        }.joined(separator: ", ")
    }

    /// The keys of `easgd runs --group-seeds --json`: with `targets`, each target's times; with `paired`, the
    /// differences against `first` (null for the first group itself, or where `first` is nil).
    public func json(targets: [Double] = [], paired: Bool = false, first: SeedGroup? = nil) -> JSON {
        let r = runs[0]
        func opt(_ v: Double?) -> JSON { v.map { .number($0) } ?? .null }
        var fields: [(String, JSON)] = [
            ("dirs", .array(runs.map { .string($0.dir) })), ("seeds", .array(runs.map { seedJSON($0.seed) })),
            ("method", .string(r.method.rawValue)), ("workers", .integer(r.workers)),
        ]
        fields.append(("tau", r.tau.map { .integer($0) } ?? .null))
        fields += [("eta", .number(r.learningRate)), ("eta_schedule", r.lrSchedule.map { .string($0) } ?? .null),
                   ("momentum", opt(r.momentum)), ("alpha", opt(r.alpha))] + r.outerJSON
        fields.append(("backend", r.backend.map { .string($0.rawValue) } ?? .null))
        fields += [("net", .string(r.net)), ("data", .string(r.data)), ("steps_per_worker", .integer(r.steps))]
        fields.append(("best_test_error", best?.json ?? .null))
        fields.append(("final_test_error", final?.json ?? .null))
        if !targets.isEmpty {
            fields.append(("time_to_target", .array(targets.map { t in
                let (reached, seconds, epochs) = timeToTarget(t)
                return .object([("target_test_error", .number(t)), ("reached", .integer(reached)), ("runs", .integer(runs.count)),
                                ("seconds", seconds?.json ?? .null), ("epochs", epochs?.json ?? .null)])
            })))
        }
        if paired, let first {
            let (b, f) = self.paired(with: first)
            fields.append(("paired_with_first", .object([
                ("first_dirs", .array(first.runs.map { .string($0.dir) })), ("seeds", .array(b.seeds.map(seedJSON))),
                ("best_test_error_difference", b.difference?.json ?? .null), ("best_lower_in", .integer(b.lower)),
                ("final_seeds", .array(f.seeds.map(seedJSON))),
                ("final_test_error_difference", f.difference?.json ?? .null), ("final_lower_in", .integer(f.lower))])))
        } else if paired {
            fields.append(("paired_with_first", .null))
        }
        let counts: [(String, JSON)] = RunStatus.State.allCases.map { s in (s.rawValue, .integer(runs.filter { $0.status == s }.count)) }
        fields.append(("status", .object(counts)))
        return .object(fields)
    }

    public static func tableHeader(targets: [Double] = []) -> [String] {
        ["group", "method", "workers", "tau", "eta", "momentum", "alpha", "backend", "steps_per_worker", "seeds",
         "best_test_error mean [min, max]", "best_test_error_ci95", "final_test_error mean [min, max]", "final_test_error_ci95"]
            + targets.map(TargetTime.column) + ["status"]
    }

    /// `number` is the group's place in the table (the paired table names groups by it).
    public func tableRow(number: Int, targets: [Double] = []) -> [String] {
        let r = runs[0]
        let settings: [String] = [String(number), r.methodText, String(r.workers), r.tau.map(String.init) ?? "-", plain(r.learningRate),
                                  r.momentum.map(plain) ?? "-", r.alpha.map(plain) ?? "-", r.backend?.rawValue ?? "sequential",
                                  String(r.steps), String(runs.count)]
        let errors: [String] = [best?.text ?? "-", best?.intervalText ?? "-", final?.text ?? "-", final?.intervalText ?? "-"]
        let times: [String] = targets.map { t in
            let (reached, seconds, epochs) = timeToTarget(t)
            guard let seconds, let epochs else { return "0/\(runs.count)" }
            let interval: String = seconds.interval.map { String(format: " [%.1f, %.1f] s", $0.lowerBound, $0.upperBound) } ?? ""
            return "\(reached)/\(runs.count): " + String(format: "%.1f s, %.2f epochs", seconds.mean, epochs.mean) + interval
        }
        return settings + errors + times + [statusText]
    }

    public static let pairedHeader = ["group", "against", "paired_seeds", "best_test_error_difference", "best_lower_in",
                                      "final_test_error_difference", "final_lower_in"]

    /// Group `number` against group 1: the differences in points (this group's error minus the first's; negative
    /// is lower), with their 95 % intervals, and in how many shared seeds this group's error was lower.
    public func pairedRow(number: Int, first: SeedGroup) -> [String] {
        let (b, f) = paired(with: first)
        func text(_ d: PairedDifference) -> String {
            guard let e = d.difference else { return "-" }
            return String(format: "%+.2f points", e.mean * 100)
                + (e.interval.map { String(format: " [%+.2f, %+.2f]", $0.lowerBound * 100, $0.upperBound * 100) } ?? "")
        }
        return [String(number), "1", String(b.seeds.count), text(b), "\(b.lower)/\(b.seeds.count)", text(f), "\(f.lower)/\(f.seeds.count)"]
    }
}

extension SeedEstimate {
    /// mean, min, max, n, and where n ≥ 2 the standard deviation, standard error and 95 % interval.
    var json: JSON {
        func opt(_ v: Double?) -> JSON { v.map { .number($0) } ?? .null }
        return .object([("mean", .number(mean)), ("min", .number(min)), ("max", .number(max)), ("n", .integer(n)),
                        ("standard_deviation", opt(standardDeviation)), ("standard_error", opt(standardError)),
                        ("ci95_low", opt(interval?.lowerBound)), ("ci95_high", opt(interval?.upperBound))])
    }
    /// "27.10% [25.31%, 28.90%]": the mean with the min and max.
    var text: String { "\(percent(mean)) [\(percent(min)), \(percent(max))]" }
    /// "25.31–28.90%": the 95 % interval of the mean (nil for one value).
    var intervalText: String? { interval.map { String(format: "%.2f–%.2f%%", $0.lowerBound * 100, $0.upperBound * 100) } }
}

/// A seed as a JSON number where it fits one exactly.
private func seedJSON(_ s: UInt64) -> JSON { Int(exactly: s).map { .integer($0) } ?? .string(String(s)) }

private func percent(_ v: Double?) -> String { v.map { String(format: "%.2f%%", $0 * 100) } ?? "-" }
private func seconds(_ v: Double?) -> String { v.map { String(format: "%.1f", $0) } ?? "-" }

/// Left-aligned columns separated by two spaces.
public func table(_ rows: [[String]]) -> String {
    guard let first = rows.first else { return "" }
    let widths = (0..<first.count).map { c in rows.map { $0[c].count }.max() ?? 0 }
    return rows.map { row in
        row.enumerated().map { c, cell in c == row.count - 1 ? cell : cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
    }.joined(separator: "\n")
}
