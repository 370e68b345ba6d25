// easgd supervise: restart a training job from its last checkpoint when it dies.

import Analysis
import ArgumentParser
import Foundation

struct SuperviseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "supervise",
        abstract: "Run a training job and restart it from its last checkpoint when it dies.",
        discussion: """
            Runs the job given after --, and when it ends with a failure (a rank killed, a host gone, a stall the \
            master reported) starts `easgd train --resume DIR` behind the same launcher, keeping the job's --steps, \
            --epochs, --minutes, --threads and --quiet, up to --max-restarts times. Each restart is said on \
            standard error; the run directory's records show one continuous run. A job that diverges (exit 2) or \
            has bad settings (64) is not restarted, nor one stopped by SIGINT, SIGTERM or SIGHUP, nor one that \
            fails after its run wrote status.json (a rank that would not end): the run's outcome stands. Stopping the \
            supervisor (Ctrl-C, SIGTERM, SIGHUP) forwards the signal once to the job (to an mpirun job's rank 0, \
            which checkpoints every rank), waits up to --stop-timeout seconds for it to checkpoint and end, restarts \
            nothing and exits with the job's status; a second signal kills the job at once. If the supervisor is \
            killed outright, the job gets SIGTERM (PR_SET_PDEATHSIG) and stops at a checkpoint. Before restarting an mpirun job over several hosts (--host or \
            --hostfile), every host but the first is asked to run `true` through mpirun's launcher (--mca \
            plm_rsh_agent, else ssh); one that does not answer within 20 s is left out with its slots, and the job \
            restarts with that many fewer ranks (an elastic restart). Exit status: the last attempt's, or 0 (2) when \
            its run completed (diverged) and only the launcher failed.
              easgd supervise --max-restarts 3 -- mpirun -np 5 easgd train --backend mpi \\
                --method easgd --lr 0.02 --steps 2000 --checkpoint-every 5 --out runs/p4
            """
    )

    @Option(help: "Restarts at most (default 3).") var maxRestarts = 3
    @Option(help: "Seconds the job gets to checkpoint and end after a stop signal is forwarded, before it is killed (default 600).")
    var stopTimeout = Supervisor.defaultStopLimit
    @Argument(parsing: .postTerminator, help: "The job: [LAUNCHER ...] EASGD train ... --out DIR") var job: [String] = []

    func validate() throws {
        guard maxRestarts >= 0, maxRestarts <= 1000 else { throw ValidationError("--max-restarts must be between 0 and 1000") }
        guard stopTimeout > 0, stopTimeout <= 86_400 else { throw ValidationError("--stop-timeout must be between 0 and 86400 seconds") }
        guard !job.isEmpty else { throw ValidationError("give the job after --: easgd supervise -- mpirun ... easgd train ... --out DIR") }
        do { _ = try Supervisor(command: job, maxRestarts: maxRestarts) } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        var supervisor = try Supervisor(command: job, maxRestarts: maxRestarts)
        supervisor.stopLimit = stopTimeout
        let status = try supervisor.run { printError($0) }
        if status != 0 { throw ExitCode(status) }
    }
}
