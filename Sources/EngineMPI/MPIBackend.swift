// The MPI backend, launched as `mpirun -np P+1 easgd train --backend mpi ...`: rank 0 is the master (the parameter
// server) and runs the tester; ranks 1…P are the workers. Point-to-point messages carry raw Float32 payloads, one
// tag per message kind. A request carries the worker's vector followed by its last loss; the master answers
// every request, with the new vector or with REJECT when the payload is not finite (the worker then stops, and
// the center is untouched). A worker that is done sends DONE; the master serves the others until every worker
// has sent DONE, evaluates the final model and returns, so every rank exits 0 and none waits on a finished one.
// The master applies exactly the `Elastic` calls of the threads backend to its copy of the worker's vector.

import CMPI
import Dispatch
import Elastic
import Engine
import Foundation
import Training

enum MessageTag: Int32 {
    case exchange = 1      // worker → master: x_i, loss;   master → worker: x_i after the elastic exchange
    case push = 2          // worker → master: acc, loss;   master → worker: the center
    case lookahead = 3     // worker → master: loss;        master → worker: x̃ + δV
    case gradient = 4      // worker → master: g, loss;     master → worker: empty acknowledgement
    case done = 5          // worker → master: loss
    case reject = 6        // master → worker: the payload was not finite
}

public struct MPIError: Error, CustomStringConvertible {
    public var description: String
}

public enum MPIRuntime {
    /// MPI_Init; returns (rank, size).
    public static func start() throws -> (rank: Int, size: Int) {
        var argc: Int32 = 0
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil
        guard MPI_Init(&argc, &argv) == easgd_mpi_success() else { throw MPIError(description: "MPI_Init failed") }
        var rank: Int32 = 0, size: Int32 = 0
        MPI_Comm_rank(easgd_mpi_comm_world(), &rank)
        MPI_Comm_size(easgd_mpi_comm_world(), &size)
        return (Int(rank), Int(size))
    }

    public static func finish() { MPI_Finalize() }

    public static func abort(_ code: Int32) { MPI_Abort(easgd_mpi_comm_world(), code) }
}

private func send(_ buffer: UnsafePointer<Float>, count: Int, to rank: Int, tag: MessageTag) {
    MPI_Send(buffer, Int32(count), easgd_mpi_float(), Int32(rank), tag.rawValue, easgd_mpi_comm_world())
}

/// Receives from `rank` (or any source) into `buffer`; returns (source, tag, count).
private func receive(_ buffer: UnsafeMutablePointer<Float>, capacity: Int, from rank: Int32 = easgd_mpi_any_source())
    -> (source: Int, tag: MessageTag?, count: Int) {
    var status = MPI_Status()
    MPI_Recv(buffer, Int32(capacity), easgd_mpi_float(), rank, easgd_mpi_any_tag(), easgd_mpi_comm_world(), &status)
    var count: Int32 = 0
    MPI_Get_count(&status, easgd_mpi_float(), &count)
    return (Int(status.MPI_SOURCE), MessageTag(rawValue: status.MPI_TAG), Int(count))
}

public enum MPIBackend {
    /// Rank 0: the master and tester. Serves requests until all `run.settings.engine.workers` workers are done.
    public static func master(_ run: ParallelTrainingRun, log: (MetricRecord) -> Void) throws {
        let s = run.settings.engine
        let p = s.workers, n = run.engine.master.center.count
        let master = run.engine.master
        try run.writeConfig(measuredComputeSeconds: nil)
        let start = DispatchTime.now().uptimeNanoseconds
        func wall() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 }
        log(try run.appendRecord(model: master.model(s.method), step: 0, seconds: 0, wall: 0, exchanges: 0, communication: nil))
        let message = FlatBuffer<Float>(count: n + 1)
        let lookahead = FlatBuffer<Float>(count: n)
        var losses = [Double](repeating: .nan, count: p + 1)
        var done = 0, steps = 0, lastEvaluated = 0
        let stepsPerRequest = s.method == .mdownpour ? 1 : s.tau
        while done < p {
            let (source, tag, count) = receive(message.base, capacity: n + 1)
            guard let tag, source >= 1, source <= p else { throw MPIError(description: "unexpected message from rank \(source)") }
            if count > 0 { losses[source] = Double(message[count - 1]) }
            let payload = UnsafeMutableBufferPointer(rebasing: message.pointer[0..<n])
            /// The same master-side code as the other backends (`MasterState`); REJECT if it refused the payload.
            func answer(_ accepted: Bool, with reply: UnsafePointer<Float>, count replyCount: Int, tag: MessageTag, steps taken: Int) {
                if accepted {
                    send(reply, count: replyCount, to: source, tag: tag)
                    steps += taken
                } else {
                    send(message.base, count: 0, to: source, tag: .reject)
                }
            }
            switch tag {
            case .exchange:
                let ok = count == n + 1 && master.acceptExchange(payload)
                answer(ok, with: message.base, count: n, tag: .exchange, steps: stepsPerRequest)
            case .push:
                let ok = count == n + 1 && master.acceptPush(payload) { _ in }
                answer(ok, with: master.center.base, count: n, tag: .push, steps: stepsPerRequest)
            case .lookahead:
                master.lookahead(into: lookahead.pointer)
                send(lookahead.base, count: n, to: source, tag: .lookahead)
            case .gradient:
                let ok = count == n + 1 && master.acceptGradient(UnsafeBufferPointer(payload))
                answer(ok, with: message.base, count: 0, tag: .gradient, steps: 1)
            case .done:
                done += 1
            case .reject:
                throw MPIError(description: "a worker sent REJECT")
            }
            if steps - lastEvaluated >= run.settings.evalEvery {
                lastEvaluated = steps
                log(try run.appendRecord(model: master.model(s.method), step: steps, seconds: wall(), wall: wall(),
                                         exchanges: master.accepted, communication: nil))
            }
        }
        if lastEvaluated != steps || steps == 0 {
            log(try run.appendRecord(model: master.model(s.method), step: steps, seconds: wall(), wall: wall(),
                                     exchanges: master.accepted, communication: nil))
        }
        // The workers' own last minibatch losses, as they reported them.
        let reported = losses.dropFirst().map { $0.isFinite ? String(format: "%.4f", $0) : "stopped" }
        FileHandle.standardError.write(Data("worker losses (last minibatch): \(reported.joined(separator: ", "))\n".utf8))
    }

    /// Rank r ≥ 1: worker r − 1. Takes `steps` steps of the shared `WorkerState.step`, reaching rank 0 through
    /// messages, then sends DONE. Returns the reason it stopped early, if it did.
    public static func worker(settings: ParallelRunSettings, replica: Replica, index: Int, initial: [Float]) -> String? {
        let w = WorkerState<Float>(index: index, settings: settings.engine, objective: replica)
        initial.withUnsafeBufferPointer { w.parameters.base.update(from: $0.baseAddress!, count: initial.count) }
        let link = MessageLink(count: initial.count)
        var stopped: String? = nil
        while w.clock < settings.steps {
            if case .stopped(let reason) = w.step(settings: settings.engine, link: link) {
                stopped = reason
                break
            }
        }
        link.message[0] = Float(w.lastLoss)
        send(link.message.base, count: 1, to: 0, tag: .done)
        return stopped
    }
}

/// The worker's way to rank 0: each request carries its vector (if any) and the worker's last loss, and waits
/// for the answer (the new vector, or REJECT).
struct MessageLink: MasterLink {
    let n: Int
    let message: FlatBuffer<Float>

    init(count: Int) {
        n = count
        message = FlatBuffer(count: count + 1)
    }

    private func request(_ payload: FlatBuffer<Float>?, loss: Double, tag: MessageTag, reply: FlatBuffer<Float>?) -> Bool {
        var count = 0
        if let payload {
            message.base.update(from: payload.base, count: n)
            count = n
        }
        message[count] = Float(loss)
        send(message.base, count: count + 1, to: 0, tag: tag)
        let (_, answer, _) = receive(reply?.base ?? message.base, capacity: n + 1, from: 0)
        return answer != .reject
    }

    func exchange(_ x: FlatBuffer<Float>, loss: Double) -> Bool { request(x, loss: loss, tag: .exchange, reply: x) }
    func pushAndPull(_ acc: FlatBuffer<Float>, into x: FlatBuffer<Float>, loss: Double) -> Bool {
        guard request(acc, loss: loss, tag: .push, reply: x) else { return false }
        acc.fill(0)                 // the master applied it
        return true
    }
    func lookahead(into y: FlatBuffer<Float>, loss: Double) -> Bool { request(nil, loss: loss, tag: .lookahead, reply: y) }
    func applyGradient(_ g: FlatBuffer<Float>, loss: Double) -> Bool { request(g, loss: loss, tag: .gradient, reply: nil) }
}
