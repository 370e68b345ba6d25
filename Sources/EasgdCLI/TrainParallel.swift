// easgd train with a parallel method: p workers and a master on the simulated, threads or MPI backend.

import ArgumentParser
import Engine
import EngineMPI
import Foundation
import Training

struct ParallelOptions: ParsableArguments {
    @Option(help: "Workers p (parallel methods; default 4).") var workers: Int?
    @Option(help: "Communication period τ (default 1; MDOWNPOUR always 1).") var tau: Int?
    @Option(help: "Elastic moving rate α (default β/p).") var alpha: Double?
    @Option(help: "β = pα (default 0.9).") var beta: Double?
    @Option(help: "threads (default; sync-easgd: simulated), simulated (one thread, virtual clock), or mpi (under mpirun -np P+1).")
    var backend: Backend?
    @Option(help: "Simulated schedule: clock (default) or round-robin.") var schedule: SimulatedSchedule?
    @Option(help: "Virtual seconds per worker step (default: measured once on this machine).") var computeSeconds: Double?
    @Option(help: "Virtual seconds per exchange (default 0).") var communicationSeconds: Double?

    var given: Bool {
        workers != nil || tau != nil || alpha != nil || beta != nil || backend != nil || schedule != nil
            || computeSeconds != nil || communicationSeconds != nil
    }

    /// The backend a method runs on when none is given: threads, except sync-easgd, which only the simulator runs.
    func backend(for method: ParallelMethod) -> Backend { backend ?? (method == .syncEasgd ? .simulated : .threads) }

    func validate(method: ParallelMethod, steps: Int?, epochs: Double?, minutes: Double?) throws {
        if let workers { guard workers >= 1, workers <= 64 else { throw ValidationError("--workers must be between 1 and 64") } }
        if let tau { guard tau >= 1, tau <= 100_000 else { throw ValidationError("--tau must be between 1 and 100000") } }
        if alpha != nil && beta != nil { throw ValidationError("give only one of --alpha or --beta (beta = p * alpha)") }
        if let alpha { try checkNonNegative("--alpha", alpha); guard alpha <= 1 else { throw ValidationError("--alpha must be at most 1") } }
        if let beta { try checkNonNegative("--beta", beta) }
        if let computeSeconds { try checkPositive("--compute-seconds", computeSeconds) }
        if let communicationSeconds { try checkNonNegative("--communication-seconds", communicationSeconds) }
        let backend = backend(for: method)
        if backend != .simulated, let given = [("--schedule", schedule != nil), ("--compute-seconds", computeSeconds != nil),
                                               ("--communication-seconds", communicationSeconds != nil)].first(where: \.1) {
            throw ValidationError("\(given.0) applies to the simulated backend: add --backend simulated")
        }
        if method == .syncEasgd && backend != .simulated {
            throw ValidationError("sync-easgd runs on the simulated backend (not \(backend.rawValue))")
        }
        guard steps != nil, epochs == nil, minutes == nil else {
            throw ValidationError("parallel runs take their budget as --steps (per worker)")
        }
    }
}

extension TrainCommand {
    func runParallel(_ method: ParallelMethod, netName: String, spec: NetSpec, dataArgument: String) throws {
        if parallel.backend == .mpi {
            try runMPI(resume: nil)
            return
        }
        let p = parallel.workers ?? 4
        let backend = parallel.backend(for: method)
        let settings = parallelSettings(method, workers: p, backend: backend, netName: netName, spec: spec, dataArgument: dataArgument)
        let run = try ParallelTrainingRun(settings: settings, directory: out!)
        printError("training \(method.rawValue) with p = \(p) (α = \(settings.engine.alpha), τ = \(settings.engine.tau)) on the \(backend.rawValue) backend, \(run.data.train.name), net \(netName)")
        try finishParallel(run)
    }

    /// The run's settings from the arguments (defaults: 8 evaluations, a checkpoint every 10 minutes).
    func parallelSettings(_ method: ParallelMethod, workers p: Int, backend: Backend, netName: String, spec: NetSpec,
                          dataArgument: String) -> ParallelRunSettings {
        ParallelRunSettings(
            engine: engineSettings(method, workers: p), net: netName, netSpec: spec.text, data: dataArgument, batch: batch ?? 128,
            seed: seed ?? 1, backend: backend, schedule: parallel.schedule ?? .clock, computeSeconds: parallel.computeSeconds,
            communicationSeconds: parallel.communicationSeconds ?? 0, steps: steps!,
            evalEvery: evalEvery ?? .steps(max(1, p * steps! / 8)),
            checkpointEveryMinutes: checkpointEvery ?? 10)
    }

    func engineSettings(_ method: ParallelMethod, workers p: Int) -> EngineSettings {
        EngineSettings(method: method, workers: p, learningRate: learningRate!, alpha: parallel.alpha, beta: parallel.beta ?? 0.9,
                       tau: parallel.tau ?? 1, momentum: momentum ?? 0.99, movingRate: movingRate ?? 0.001,
                       weightDecay: weightDecay ?? 1e-4)
    }

    /// Under mpirun: rank 0 is the master and tester, ranks 1…P the workers (P = ranks − 1). Rank 0 builds the
    /// run (or resumes `resume`) and sends the workers their settings and states, so only rank 0 reads the
    /// arguments' run directory. An error on any rank aborts them all (MPI_Abort), so none is left waiting.
    func runMPI(resume: String?) throws {
        let (rank, size) = try MPIRuntime.start()
        var status: Int32 = 0
        do {
            guard size >= 2 else { throw ValidationError("--backend mpi needs at least 2 ranks: mpirun -np P+1 easgd train ...") }
            let p = size - 1
            ComputeThreads.set(1)
            if rank == 0 {
                let run: ParallelTrainingRun
                if let resume {
                    run = try ParallelTrainingRun.resume(directory: resume, steps: steps)
                    guard run.settings.backend == .mpi else {
                        throw ValidationError("\(resume) is a \(run.settings.backend.rawValue) run; resume it without mpirun")
                    }
                    guard run.settings.engine.workers == p else {
                        throw ValidationError("\(resume) has p = \(run.settings.engine.workers) but mpirun started \(size) ranks (use -np \(run.settings.engine.workers + 1))")
                    }
                    printError("resuming \(resume) (\(run.settings.engine.method.rawValue), p = \(p), mpi)")
                } else {
                    guard case .parallel(let method) = method else { throw ValidationError("give a parallel --method for --backend mpi") }
                    if let w = parallel.workers, w != p { throw ValidationError("--workers \(w) but mpirun started \(size) ranks (P + 1 = \(p + 1))") }
                    let dataArgument = data ?? "fashion-mnist"
                    let netName = net ?? (dataArgument.lowercased() == "fashion-mnist" ? "small" : "cifar")
                    let settings = parallelSettings(method, workers: p, backend: .mpi, netName: netName,
                                                    spec: try NetSpec(parsing: netName), dataArgument: dataArgument)
                    run = try ParallelTrainingRun(settings: settings, directory: out!)
                    printError("training \(method.rawValue) with p = \(p) on the mpi backend (rank 0: master and tester), net \(netName)")
                }
                printError("rank 0 is process \(getpid()): kill -TERM \(getpid()) checkpoints the whole system and stops it")
                let outcome = try MPIBackend.master(run) { r in
                    if !quiet {
                        print(String(format: "step %7d  epoch %6.2f  %10.2f s  test loss %.4f  test error %6.2f%%  exchanges %d",
                                     r.step, r.epoch, r.seconds, r.testLoss, r.testError * 100, r.exchanges ?? 0))
                        fflush(nil)
                    }
                }
                status = report(run, outcome)
            } else if let reason = try MPIBackend.worker(rank: rank) {
                printError("worker \(rank - 1) stopped: \(reason)")
            }
        } catch {
            printError("easgd (rank \(rank)): \(error)")
            MPIRuntime.abort(1)
        }
        MPIRuntime.finish()
        if status != 0 { throw ExitCode(status) }
    }

    /// Runs (or continues) a parallel run and reports how it ended.
    func finishParallel(_ run: ParallelTrainingRun) throws {
        let backend = run.settings.backend
        let bar = ProgressBar(enabled: !quiet)
        let outcome = try run.run(progress: { bar.update($0) }) { r in
            bar.clear()
            if !quiet {
                print(String(format: "step %7d  epoch %6.2f  %10.2f s%@  test loss %.4f  test error %6.2f%%  exchanges %d",
                             r.step, r.epoch, r.seconds, backend == .simulated ? " (virtual)" : "", r.testLoss, r.testError * 100,
                             r.exchanges ?? 0))
                fflush(nil)
            }
        }
        bar.clear()
        let status = report(run, outcome)
        if status != 0 { throw ExitCode(status) }
    }

    /// Prints how a parallel run ended; returns the exit status (0, 1 when every worker stopped, 128 + signal).
    func report(_ run: ParallelTrainingRun, _ outcome: RunOutcome) -> Int32 {
        for s in run.engine.stopped { printError("worker \(s.worker) stopped at its step \(s.clock): \(s.reason)") }
        if case .interrupted(let sig) = outcome {
            let again = run.settings.backend == .mpi ? "mpirun -np \(run.settings.engine.workers + 1) easgd train" : "easgd train"
            printError("stopped by signal \(sig); the whole system is checkpointed; continue with: \(again) --resume \(run.directory)")
            return 128 + sig
        }
        if run.engine.aliveWorkers == 0 {
            printError("easgd: every worker stopped (non-finite loss or parameters); see the lines above")
            return 1
        }
        if let last = run.records.last {
            printError(String(format: "done: %d steps, test error %.2f%%; run in %@", last.step, last.testError * 100, run.directory))
        }
        return 0
    }
}
