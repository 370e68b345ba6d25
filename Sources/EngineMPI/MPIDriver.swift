// The MPI backend behind the one seam: under mpirun -np S+P, rank 0 builds (or resumes) the run and drives it as
// the master (shard 0 of the center with S servers) and tester; ranks 1…S−1 serve the other shards (Shards.swift),
// ranks S…S+P−1 are the workers (MPIBackend.swift). An error on any rank aborts them all (MPI_Abort), so none is
// left waiting.

import Records
import Engine
import Foundation
import Training

public struct MPIDriver: BackendDriver {
    /// S: the ranks holding a shard of the center each (rank 0 among them).
    public let servers: Int
    public init(servers: Int = 1) { self.servers = servers }
    public var backend: Backend { .mpi }

    /// Under Open MPI's mpirun (which sets OMPI_COMM_WORLD_RANK and OMPI_COMM_WORLD_SIZE).
    public static var launched: Bool { ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"] != nil }
    /// Under mpirun and not its rank 0: this process serves a run whose directory only rank 0 reads.
    public static var isWorkerRank: Bool { launched && ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"] != "0" }
    /// The ranks mpirun started (S + P), known before MPI is initialised.
    public static var launchedWorldSize: Int? { ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"].flatMap { Int($0) } }

    public func run(_ make: () throws -> ParallelTrainingRun, observer: RunObserver) throws -> (run: ParallelTrainingRun, outcome: RunOutcome)? {
        let (rank, size) = try MPIRuntime.start()
        var result: (run: ParallelTrainingRun, outcome: RunOutcome)? = nil
        do {
            guard size > servers else { throw SettingsError("--backend mpi needs at least \(servers + 1) ranks: mpirun -np S+P easgd train --servers S ...") }
            ComputeThreads.set(1)
            if rank == 0 {
                let run = try self.make(make)
                guard run.settings.engine.workers == size - servers else {
                    throw SettingsError("\(run.directory) has p = \(run.settings.engine.workers) but mpirun started \(size) ranks for \(servers) server\(servers == 1 ? "" : "s") (use -np \(run.settings.engine.workers + servers))")
                }
                if servers > 1 {
                    FileHandle.standardError.write(Data("the center in \(servers) shards: ranks 0…\(servers - 1) serve one each, ranks \(servers)…\(size - 1) are the \(size - servers) workers\n".utf8))
                }
                observer.started(run)
                FileHandle.standardError.write(Data("rank 0 is process \(getpid()): kill -TERM \(getpid()) checkpoints the whole system and stops it\n".utf8))
                let outcome = try run.lifecycle.run(MPIMaster(run: run, servers: servers), observer: observer)
                result = (run, outcome)
                // Every other rank says it is ending. One that does not (stopped or hung after its last message)
                // would keep mpirun waiting forever once rank 0 has ended: it is named, and the job is ended for it;
                // the run's files are already whole.
                let limit = StallLimit.atEnd(interrupted: outcome.isInterrupted)
                let silent = MPIBackend.ranksNotEnded(size: size, within: limit)
                if !silent.isEmpty {
                    FileHandle.standardError.write(Data(("easgd (rank 0): the run is written (\(run.directory)), but rank\(silent.count == 1 ? "" : "s") "
                        + "\(silent.map(String.init).joined(separator: ", ")) did not end within \(Int(limit)) s of being told to (stopped or hung, "
                        + "EASGD_STALL_SECONDS); ending the job\n").utf8))
                    MPIRuntime.abort(1)
                }
            } else if rank < servers {
                try MPIBackend.server(rank: rank, servers: servers)
                MPIBackend.sayBye()
            } else {
                if let reason = try MPIBackend.worker(rank: rank, servers: servers) {
                    FileHandle.standardError.write(Data("worker \(rank - servers) stopped: \(reason)\n".utf8))
                }
                MPIBackend.sayBye()
            }
        } catch {
            FileHandle.standardError.write(Data("easgd (rank \(rank)): \(error)\n".utf8))
            MPIRuntime.abort(1)
        }
        // MPI_Finalize waits for every rank. A worker stopped after its bye (a hung host, SIGSTOP while paused for a
        // checkpoint) would hold rank 0 there forever, after the run's files are already whole: so rank 0 gives
        // Finalize the stall limit (after a signal, StallLimit.afterSignal), then says so and ends by SIGALRM, which
        // mpirun reports and answers by ending the other ranks.
        let finalizing = rank == 0 ? FinalizeWatchdog(limit: StallLimit.atEnd(interrupted: result?.outcome.isInterrupted ?? false),
                                                      directory: result?.run.directory) : nil
        MPIRuntime.finish()
        finalizing?.done()
        return result
    }
}

/// Ends rank 0 by SIGALRM, with one line, when MPI_Finalize has not returned within `limit` seconds.
final class FinalizeWatchdog: @unchecked Sendable {
    private let lock = NSLock()
    private var finished = false

    init(limit: Double, directory: String?) {
        Thread { [self] in
            Thread.sleep(forTimeInterval: limit)
            guard lock.withLock({ !finished }) else { return }
            FileHandle.standardError.write(Data(("easgd (rank 0): \(directory.map { "the run is written (\($0)), but " } ?? "")"
                + "a rank did not finish MPI within \(Int(limit)) s of its bye (stopped or hung, EASGD_STALL_SECONDS); "
                + "ending the job\n").utf8))
            signal(SIGALRM, SIG_DFL)
            raise(SIGALRM)
        }.start()
    }

    func done() { lock.withLock { finished = true } }
}
