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
            func finite(_ b: UnsafeMutableBufferPointer<Float>) -> Bool { b.allSatisfy(\.isFinite) }
            switch tag {
            case .exchange:
                guard count == n + 1, finite(payload) else { master.rejected += 1; send(message.base, count: 0, to: source, tag: .reject); continue }
                ElasticExchange.exchange(worker: payload, center: master.center.pointer, alpha: Float(s.alpha))
                master.accepted += 1
                send(message.base, count: n, to: source, tag: .exchange)
                steps += stepsPerRequest
            case .push:
                guard count == n + 1, finite(payload) else { master.rejected += 1; send(message.base, count: 0, to: source, tag: .reject); continue }
                Downpour.push(payload, into: master.center.pointer)
                switch s.method {
                case .adownpour:
                    Averaging.update(average: master.average.pointer, parameters: master.center.readOnly,
                                     rate: Averaging.runningMeanRate(after: master.clock))
                case .mvadownpour:
                    Averaging.update(average: master.average.pointer, parameters: master.center.readOnly, rate: Float(s.movingRate))
                default: break
                }
                master.clock += 1
                master.accepted += 1
                send(master.center.base, count: n, to: source, tag: .push)
                steps += stepsPerRequest
            case .lookahead:
                Nesterov.lookahead(parameters: master.center.readOnly, velocity: master.velocity.readOnly, momentum: Float(s.momentum),
                                   into: lookahead.pointer)
                send(lookahead.base, count: n, to: source, tag: .lookahead)
            case .gradient:
                guard count == n + 1, finite(payload) else { master.rejected += 1; send(message.base, count: 0, to: source, tag: .reject); continue }
                Nesterov.step(parameters: master.center.pointer, velocity: master.velocity.pointer, lookaheadGradient: UnsafeBufferPointer(payload),
                              learningRate: Float(s.learningRate), momentum: Float(s.momentum))
                master.clock += 1
                master.accepted += 1
                send(message.base, count: 0, to: source, tag: .gradient)
                steps += 1
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

    /// Rank r ≥ 1: worker r − 1. Takes `steps` steps, talking to rank 0 when its method says so, then sends DONE.
    /// Returns the reason it stopped early, if it did.
    public static func worker(settings: ParallelRunSettings, replica: Replica, initial: [Float]) -> String? {
        let s = settings.engine
        let n = initial.count
        let x = FlatBuffer<Float>(count: n), v = FlatBuffer<Float>(count: n), acc = FlatBuffer<Float>(count: n)
        let y = FlatBuffer<Float>(count: n), g = FlatBuffer<Float>(count: n)
        let message = FlatBuffer<Float>(count: n + 1)
        initial.withUnsafeBufferPointer { x.base.update(from: $0.baseAddress!, count: n) }
        let eta = Float(s.learningRate), decay = Float(s.weightDecay), delta = Float(s.momentum)
        var loss = 0.0
        var stopped: String? = nil
        func gradient(at point: FlatBuffer<Float>) -> Bool {
            loss = replica.lossAndGradient(at: point.readOnly, into: g.pointer)
            LocalStep.addWeightDecay(g.pointer, parameters: point.readOnly, decay: decay)
            return loss.isFinite && g.isFinite
        }
        /// Sends `payload` and the loss with `tag`; receives the reply into `into` (if any). False when rejected.
        func request(_ payload: FlatBuffer<Float>?, tag: MessageTag, into reply: FlatBuffer<Float>?) -> Bool {
            var count = 0
            if let payload { message.base.update(from: payload.base, count: n); count = n }
            message[count] = Float(loss)
            send(message.base, count: count + 1, to: 0, tag: tag)
            let (_, answer, _) = receive(reply?.base ?? message.base, capacity: n + 1, from: 0)
            return answer != .reject
        }
        outer: for clock in 0..<settings.steps {
            switch s.method {
            case .easgd, .eamsgd:
                let point: FlatBuffer<Float>
                if s.method == .eamsgd {
                    Nesterov.lookahead(parameters: x.readOnly, velocity: v.readOnly, momentum: delta, into: y.pointer)
                    point = y
                } else { point = x }
                guard gradient(at: point) else { stopped = "non-finite loss or gradient"; break outer }
                if clock % s.tau == 0 {
                    guard request(x, tag: .exchange, into: x) else { stopped = "the master rejected a non-finite exchange"; break outer }
                }
                if s.method == .eamsgd {
                    Nesterov.step(parameters: x.pointer, velocity: v.pointer, lookaheadGradient: g.readOnly, learningRate: eta, momentum: delta)
                } else {
                    LocalStep.sgd(x.pointer, gradient: g.readOnly, learningRate: eta)
                }
            case .downpour, .adownpour, .mvadownpour:
                guard gradient(at: x) else { stopped = "non-finite loss or gradient"; break outer }
                Downpour.accumulate(acc.pointer, gradient: g.readOnly, learningRate: eta)
                LocalStep.sgd(x.pointer, gradient: g.readOnly, learningRate: eta)
                if (clock + 1) % s.tau == 0 {
                    guard request(acc, tag: .push, into: x) else { stopped = "the master rejected a non-finite push"; break outer }
                    acc.fill(0)
                }
            case .mdownpour:
                guard request(nil, tag: .lookahead, into: y) else { stopped = "rejected"; break outer }
                guard gradient(at: y) else { stopped = "non-finite loss or gradient"; break outer }
                guard request(g, tag: .gradient, into: nil) else { stopped = "the master rejected a non-finite gradient"; break outer }
                x.copy(from: y)
            case .syncEasgd, .admm:
                stopped = "\(s.method.rawValue) does not run on the MPI backend"
                break outer
            }
        }
        message[0] = Float(loss)
        send(message.base, count: 1, to: 0, tag: .done)
        return stopped
    }
}
