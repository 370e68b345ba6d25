// The order in which workers act — one set of names with one meaning in every command:
//   clock        each worker steps when its own clock says so (the simulator's virtual time; the real order on
//                the threads and MPI backends)
//   round-robin  the workers take turns, τ steps per activation (section 4 of the paper)
//   random       a uniformly random worker activates (τ steps) at each turn (the maps' mean-square stability)
// Stability maps take round-robin or random; the training simulator takes all three.

public enum Schedule: String, CaseIterable, Codable, Sendable {
    case clock
    case roundRobin = "round-robin"
    case random

    /// Whether a stability map exists for this order (clock order depends on the costs, so it has none).
    public var hasMap: Bool { self != .clock }
}
