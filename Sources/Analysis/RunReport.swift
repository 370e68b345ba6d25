// What `easgd train` shows of a run: the settings at its start, a progress bar, a line per evaluation, and a
// summary at its end. Sequential and parallel runs are shown alike; virtual time is labelled as such.

import Elastic
import Engine
import Foundation
import Records
import Training

/// The exit status a run ends with when it is not 0 (128 + signal when interrupted, 1 when every worker stopped);
/// the run has already said why.
public struct RunExit: Error {
    public var status: Int32
}

public struct RunReport {
    public var quiet: Bool

    public init(quiet: Bool) { self.quiet = quiet }

    // MARK: One worker

    public func finish(_ run: TrainingRun, resumed: Bool) throws {
        let s = run.settings, o = s.optimizer
        report((resumed ? "resuming \(run.directory) at step \(run.step) (epoch \(String(format: "%.2f", run.epochs))): " : "training: ")
                   + settingsLine(method: o.method, workers: 1, eta: o.learningRate, schedule: o.schedule, momentum: o.momentum, alpha: nil, tau: nil,
                                  movingRate: o.movingRate, seed: s.seed, backend: nil, net: s.net, data: run.data.train.name)
                   + "; \(grouped(run.replica.parameterCount)) parameters, \(run.stepsPerEpoch) steps per epoch"
                   + evaluationText(s, available: run.data.test.count, every: "\(run.evalEvery) steps"))
        let bar = ProgressBar(enabled: !quiet)
        let outcome = try run.run(progress: { bar.update($0) }, log: { record in
            bar.clear()
            if !quiet { print(describe(record, virtual: false)); fflush(nil) }
        })
        bar.clear()
        switch outcome {
        case .completed:
            if let last = run.records.last {
                report(String(format: "done: step %d, epoch %.2f, %.1f s of training (%.0f img/s); test error final %@, best %@; run in %@",
                              last.step, last.epoch, last.seconds, Double(last.samples) / max(last.seconds, 1e-9),
                              percent(last.testError), percent(bestError(run.records)), run.directory))
            }
        case .interrupted(let sig):
            report("stopped by signal \(sig) at step \(run.step); checkpoint written; continue with: easgd train --resume \(run.directory)")
            throw RunExit(status: ExitStatus.signal(sig))
        case let .diverged(step, reason, lastCheckpointStep):
            report("easgd: training diverged at step \(step): \(reason); the last good checkpoint (step \(lastCheckpointStep)) is kept in \(RunFiles.checkpoint(run.directory))")
            throw RunExit(status: ExitStatus.diverged)
        }
    }

    /// "; evaluated every 47 steps on the first 5,000 of 10,000 test images".
    private func evaluationText(_ s: RunSettings, available: Int, every: String) -> String {
        let tested = min(s.testSubset ?? available, available)
        return "; evaluated every \(every) on " + (tested < available ? "the first \(grouped(tested)) of \(grouped(available))" : "all \(grouped(available))")
            + " test images"
    }

    // MARK: p workers

    public func finish(_ driver: any BackendDriver, resumed: Bool, _ make: () throws -> ParallelTrainingRun) throws {
        let bar = ProgressBar(enabled: !quiet)
        var virtual = false
        let observer = RunObserver(
            started: { run in
                let s = run.settings, e = s.engine
                virtual = s.backend == .simulated
                report((resumed ? "resuming \(run.directory) at \(run.totalSteps) worker steps: " : "training: ")
                           + settingsLine(method: e.method, workers: e.workers, eta: e.learningRate, schedule: e.schedule, momentum: e.momentum,
                                          alpha: e.alpha, tau: e.tau, movingRate: e.movingRate, seed: s.seed, backend: s.backend,
                                          net: s.net, data: run.data.train.name)
                           + "; \(s.steps) steps per worker"
                           + evaluationText(s, available: run.data.test.count,
                                            every: s.evalEvery.map { $0.seconds.map { "\($0) s" } ?? "\($0) worker steps in total" } ?? "-"))
            },
            progress: { bar.update($0) },
            record: { r in
                bar.clear()
                if !quiet { print(describe(r, virtual: virtual)); fflush(nil) }
            })
        let start = Date()
        guard let (run, outcome) = try driver.run(make, observer: observer) else { return }   // an MPI worker rank
        bar.clear()
        let status = summary(run, outcome, wall: Date().timeIntervalSince(start))
        if status != 0 { throw RunExit(status: status) }
    }

    /// Prints how a parallel run ended; returns the exit status (0, `ExitStatus.diverged` when every worker stopped
    /// or the evaluated model is no longer finite, 128 + signal).
    func summary(_ run: ParallelTrainingRun, _ outcome: RunOutcome, wall: Double) -> Int32 {
        for s in run.engine.stopped { report("worker \(s.worker) stopped at its step \(s.clock): \(s.reason)") }
        if case .interrupted(let sig) = outcome {
            let again = run.settings.backend == .mpi ? "mpirun -np \(run.settings.engine.workers + 1) easgd train" : "easgd train"
            report("stopped by signal \(sig); the whole system is checkpointed; continue with: \(again) --resume \(run.directory)")
            return ExitStatus.signal(sig)
        }
        let status = run.status(outcome)
        if status.state == .diverged {
            report("easgd: training diverged: \(status.reason ?? "")\(run.engine.stopped.isEmpty ? "" : "; see the lines above")")
            return ExitStatus.diverged
        }
        guard let last = run.records.last else { return 0 }
        let p = run.settings.engine.workers
        let perWorker = last.workerSteps.map { steps in Set(steps).count == 1 ? "\(steps[0])" : steps.map(String.init).joined(separator: "/") }
            ?? "\(last.step / p)"
        var line = String(format: "done: %@ steps per worker (%d in all), %.1f s wall (this process), ", perWorker, last.step, wall)
        if run.settings.backend == .simulated {
            line += String(format: "%.1f s virtual (%.0f virtual img/s)", last.seconds, Double(last.samples) / max(last.seconds, 1e-9))
        } else {
            line += String(format: "%.0f img/s", Double(last.samples) / max(last.seconds, 1e-9))
        }
        line += "; test error final \(percent(last.testError)), best \(percent(bestError(run.records))); run in \(run.directory)"
        report(line)
        return 0
    }

    // MARK: Lines

    /// The settings that determine a run, each only where its method takes it.
    func settingsLine(method: Algorithm, workers: Int, eta: Double, schedule: LearningRateSchedule?, momentum: Double, alpha: Double?, tau: Int?,
                      movingRate: Double, seed: UInt64, backend: Backend?, net: String, data: String) -> String {
        var parts = ["method \(method.rawValue)", "p = \(workers)"]
        if method.takes(.tau), let tau { parts.append("τ = \(tau)") }
        parts.append("η = \(eta)" + (schedule.flatMap { $0.isConstant ? nil : " (schedule \($0.summary))" } ?? ""))
        if method.takes(.momentum) { parts.append("δ = \(momentum)") }
        if method.takes(.alpha), let alpha { parts.append("α = \(alpha) (β = \(alpha * Double(workers)))") }
        if method.takes(.movingRate) { parts.append("moving rate \(movingRate)") }
        parts.append("seed \(seed)")
        if let backend { parts.append("backend \(backend.rawValue)") }
        parts.append("net \(net)")
        parts.append("data \(data)")
        return parts.joined(separator: ", ")
    }

    func describe(_ r: MetricRecord, virtual: Bool) -> String {
        var line = String(format: "step %7d  epoch %6.2f  %8.1f s%@  train loss %@  minibatch loss %@  test loss %@  test error %@",
                          r.step, r.epoch, r.seconds, virtual ? " (virtual)" : "", loss(r.trainLoss), loss(r.minibatchLoss),
                          loss(r.testLoss), percent(r.testError, width: 6))
        if let exchanges = r.exchanges { line += "  exchanges \(exchanges)" }
        return line
    }

    /// The best finite test error (nil when there is none).
    func bestError(_ records: [MetricRecord]) -> Double? { records.map(\.testError).filter(\.isFinite).min() }

    /// A loss or an error as printed: never a non-finite number.
    func loss(_ v: Double?) -> String {
        guard let v else { return "-" }
        return v.isFinite ? String(format: "%.4f", v) : "not finite"
    }

    func percent(_ v: Double?, width: Int = 0) -> String {
        guard let v else { return "-" }
        return v.isFinite ? String(format: "%\(width).2f%%", v * 100) : "not finite"
    }
}

/// A line on standard error.
func report(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// A one-line progress bar on standard error, drawn only on a terminal, at most a few times a second.
final class ProgressBar {
    private let enabled: Bool
    private var lastDraw = 0.0
    private var drawn = false
    private let started = Date()

    init(enabled: Bool) {
        self.enabled = enabled && isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["CI"] == nil
    }

    func update(_ p: TrainingProgress) {
        guard enabled else { return }
        let now = Date().timeIntervalSince1970
        guard now - lastDraw >= 0.25 else { return }
        lastDraw = now
        var fraction: Double? = nil
        if let target = p.targetSteps { fraction = Double(p.step) / Double(max(target, 1)) }
        if let minutes = p.minutesTarget { fraction = max(fraction ?? 0, p.seconds / (minutes * 60)) }
        let width = 24
        let done = min(fraction ?? 0, 1)
        let filled = Int((done * Double(width)).rounded(.down))
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        let loss = p.recentLoss.isFinite ? String(format: "%.4f", p.recentLoss) : "-"
        let elapsed = Date().timeIntervalSince(started)
        let eta = done > 0.001 ? clock(elapsed * (1 - done) / done) : "-"
        let line = String(format: "\r[%@] %5.1f%%  %@ elapsed, ETA %@  step %d  epoch %.2f  loss %@  %.0f %@img/s ",
                          bar, done * 100, clock(elapsed), eta, p.step, p.epoch, loss, p.imagesPerSecond, p.virtualTime ? "virtual " : "")
        FileHandle.standardError.write(Data(line.utf8))
        drawn = true
    }

    private func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }

    func clear() {
        guard drawn else { return }
        FileHandle.standardError.write(Data(("\r" + String(repeating: " ", count: 120) + "\r").utf8))
        drawn = false
    }
}

public func grouped(_ n: Int) -> String {
    let s = String(n)
    var out = ""
    for (i, ch) in s.enumerated() {
        if i > 0, (s.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return out
}
