// The MPI backend behind the one seam: under mpirun -np P+1, rank 0 builds (or resumes) the run and drives it as
// the master and tester; ranks 1…P serve it as the workers (MPIBackend.swift). An error on any rank aborts them
// all (MPI_Abort), so none is left waiting.

import Records
import Engine
import Foundation
import Training

public struct MPIDriver: BackendDriver {
    public init() {}
    public var backend: Backend { .mpi }

    /// Under Open MPI's mpirun (which sets OMPI_COMM_WORLD_RANK and OMPI_COMM_WORLD_SIZE).
    public static var launched: Bool { ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"] != nil }
    /// Under mpirun and not its rank 0: this process serves a run whose directory only rank 0 reads.
    public static var isWorkerRank: Bool { launched && ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"] != "0" }
    /// The ranks mpirun started (P + 1), known before MPI is initialised.
    public static var launchedWorldSize: Int? { ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"].flatMap { Int($0) } }

    public func run(_ make: () throws -> ParallelTrainingRun, observer: RunObserver) throws -> (run: ParallelTrainingRun, outcome: RunOutcome)? {
        let (rank, size) = try MPIRuntime.start()
        var result: (run: ParallelTrainingRun, outcome: RunOutcome)? = nil
        do {
            guard size >= 2 else { throw SettingsError("--backend mpi needs at least 2 ranks: mpirun -np P+1 easgd train ...") }
            ComputeThreads.set(1)
            if rank == 0 {
                let run = try self.make(make)
                guard run.settings.engine.workers == size - 1 else {
                    throw SettingsError("\(run.directory) has p = \(run.settings.engine.workers) but mpirun started \(size) ranks (use -np \(run.settings.engine.workers + 1))")
                }
                try RunFiles.clearStatus(run.directory)
                observer.started(run)
                FileHandle.standardError.write(Data("rank 0 is process \(getpid()): kill -TERM \(getpid()) checkpoints the whole system and stops it\n".utf8))
                let outcome = try MPIBackend.master(run, log: observer.record)
                try run.finish(outcome)
                result = (run, outcome)
            } else if let reason = try MPIBackend.worker(rank: rank) {
                FileHandle.standardError.write(Data("worker \(rank - 1) stopped: \(reason)\n".utf8))
            }
        } catch {
            FileHandle.standardError.write(Data("easgd (rank \(rank)): \(error)\n".utf8))
            MPIRuntime.abort(1)
        }
        if rank == 0 {
            // MPI_Finalize waits for every rank. A worker stopped after its last message (a hung host, SIGSTOP while
            // paused for a checkpoint) would hold rank 0 there forever, after the checkpoint is already written: so
            // rank 0 gives Finalize the stall limit (after a signal, StallLimit.afterSignal) and then ends by SIGALRM,
            // which mpirun reports and answers by ending the other ranks.
            let interrupted: Bool
            if case .interrupted = result?.outcome { interrupted = true } else { interrupted = false }
            alarm(UInt32(min(interrupted ? StallLimit.afterSignal : StallLimit.seconds, 3600).rounded(.up)))
        }
        MPIRuntime.finish()
        if rank == 0 { alarm(0) }
        return result
    }
}
