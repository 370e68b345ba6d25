// How a run ended: status.json.

import Records
import Foundation

/// How a run ended, as `status.json` records it. A run removes the file when it starts and writes it when it
/// stops, so a directory without one holds a run that is still going or was killed before it could say.
public struct RunStatus: Codable, Equatable, Sendable {
    public enum State: String, Codable, Sendable, CaseIterable {
        /// Every budget reached (parallel: every live worker took its steps).
        case completed
        /// Stopped by a signal after checkpointing, or (no status.json) killed or still running.
        case interrupted
        /// The loss or the parameters stopped being finite (parallel: every worker stopped).
        case diverged
        /// A process holds the run's directory (it is training now); never written to status.json.
        case running
    }
    public var state: State
    public var reason: String?

    public init(_ state: State, reason: String? = nil) {
        self.state = state
        self.reason = reason
    }

    public init(outcome: RunOutcome) {
        switch outcome {
        case .completed: self.init(State.completed)
        case .interrupted(let signal): self.init(State.interrupted, reason: "signal \(signal)")
        case .diverged(let step, let reason, _): self.init(State.diverged, reason: "step \(step): \(reason)")
        }
    }

    enum CodingKeys: String, CodingKey { case state = "status", reason }
}
