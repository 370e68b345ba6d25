// The one vocabulary of the toolkit: every algorithm the paper names, and what each one is. Dynamics (the
// round-robin maps), Engine (the parallel runs), sequential training and the CLI all speak it; a setting or a
// command that does not apply to an algorithm is refused from what is stated here, and nowhere else.
//
//   sgd          x ← x − η(g(x) + λx)                                        (p = 1)
//   msgd         Nesterov momentum δ                                          (p = 1)
//   asgd         sgd, evaluated at the running mean of the iterates           (p = 1)
//   mvasgd       sgd, evaluated at a moving average with a constant rate      (p = 1)
//   easgd        Algorithm 1: every τ steps x_i and x̃ move towards each other by α(x_i − x̃)
//   eamsgd       Algorithm 2: the same exchange, local Nesterov momentum δ
//   downpour     τ local steps accumulated, pushed to the center, the center pulled
//   mdownpour    τ = 1; Nesterov momentum δ at the master
//   adownpour    downpour plus the master's running average
//   mvadownpour  downpour plus the master's moving average with a constant rate
//   sync-easgd   every worker steps at once, then one elastic exchange of all of them
//   admm         round-robin linearized ADMM with penalty ρ (the quadratic of section 4)
//   diloco       H inner steps from the center, then an outer optimizer (SGD, heavy ball, Nesterov) on the
//                pseudo-gradient x̃ − mean x_i; every worker restarts from the center (OuterStep.swift). Every
//                worker's round at once: exact synchronous maps, and the engine on the simulated backend
//   async-diloco each worker's H inner steps from the center it last pulled; on arrival, the outer step on its own
//                pseudo-gradient over p, then the pull (OuterStep.applyArrival): every backend; round-robin maps

public enum Algorithm: String, CaseIterable, Codable, Sendable {
    case sgd, msgd, asgd, mvasgd
    case easgd, eamsgd, downpour, mdownpour, adownpour, mvadownpour
    case syncEasgd = "sync-easgd"
    case admm
    case diloco
    case asyncDiloco = "async-diloco"

    /// The hyper-parameters an algorithm can take besides the learning rate η.
    public enum HyperParameter: String, CaseIterable, Sendable {
        /// Nesterov momentum δ.
        case momentum
        /// The elastic moving rate α (or β = pα).
        case alpha
        /// ADMM's penalty ρ (the coupling of its map; α = ηρ for the elastic methods' maps).
        case rho
        /// The communication period τ.
        case tau
        /// The constant rate of a moving average.
        case movingRate = "moving-rate"
        /// The outer optimizer of DiLoCo and its kin, its learning rate η_o and momentum β.
        case outer
    }

    /// As the paper writes it.
    public var name: String {
        switch self {
        case .syncEasgd: "synchronous EASGD"
        case .diloco: "DiLoCo"
        case .asyncDiloco: "asynchronous DiLoCo"
        default: rawValue.uppercased()
        }
    }

    /// One worker and no master (the p = 1 references of the paper).
    public var isSequential: Bool { [.sgd, .msgd, .asgd, .mvasgd].contains(self) }
    /// p workers and a master.
    public var isParallel: Bool { !isSequential }

    /// The hyper-parameters this algorithm takes besides η.
    public var hyperParameters: Set<HyperParameter> {
        switch self {
        case .sgd, .asgd: []
        case .msgd: [.momentum]
        case .mvasgd: [.movingRate]
        case .easgd, .syncEasgd: [.alpha, .tau]
        case .eamsgd: [.alpha, .tau, .momentum]
        case .downpour, .adownpour: [.tau]
        case .mvadownpour: [.tau, .movingRate]
        case .mdownpour: [.momentum]
        case .admm: [.rho, .tau]
        case .diloco, .asyncDiloco: [.tau, .outer]
        }
    }

    public func takes(_ parameter: HyperParameter) -> Bool { hyperParameters.contains(parameter) }

    /// Every worker must be stepped at the same moment (one synchronous step, or a fixed round-robin order),
    /// so only a backend that schedules every worker itself (the simulator) can run it.
    public var needsEveryWorkerAtOnce: Bool { stepsTogether || needsFixedOrder }

    /// Round-robin ADMM: every worker in a fixed order, which only the simulator keeps.
    public var needsFixedOrder: Bool { self == .admm }

    /// Every live worker takes its step at the same moment, in one call of the engine (`synchronousStep`).
    public var stepsTogether: Bool { self == .syncEasgd || self == .diloco }

    /// Trains a network (ADMM runs on the quadratic objective only).
    public var trainsNetworks: Bool { self != .admm }

    /// Has a synchronous round map (every worker each round) on the quadratic: DiLoCo's.
    public var hasSynchronousMap: Bool { self == .diloco }

    /// Has a round-robin round map on the quadratic (section 4) and, from it, a random-order second-moment map.
    public var hasRoundRobinMap: Bool { [.easgd, .eamsgd, .downpour, .admm, .asyncDiloco].contains(self) }

    /// Has the random-order mean-square map (RandomOrder.swift's reduction needs a single shared coordinate, the
    /// center; asynchronous DiLoCo's outer velocity is a second).
    public var hasRandomOrderMap: Bool { hasRoundRobinMap && self != .asyncDiloco }

    /// Couples each worker to the center (a map over (η, ρ) or (η, α)); DOWNPOUR maps over (η, τ) instead.
    public var hasCoupling: Bool { takes(.alpha) || takes(.rho) }

    /// The model that is evaluated and saved is an average of the iterates (the master's for the A/MVA variants).
    public var evaluatesAverage: Bool { [.asgd, .mvasgd, .adownpour, .mvadownpour].contains(self) }
    /// Each worker keeps a velocity (EAMSGD), or the single optimizer does (MSGD).
    public var usesVelocity: Bool { self == .eamsgd || self == .msgd }
    /// The worker accumulates its steps and pushes them (the DOWNPOUR family without master momentum, and
    /// asynchronous DiLoCo, whose push is its pseudo-gradient).
    public var accumulates: Bool { self == .downpour || self == .adownpour || self == .mvadownpour || self == .asyncDiloco }

    /// What the worker sends the master is an update (DOWNPOUR's accumulated steps, DiLoCo's pseudo-gradient), which
    /// a codec can compress (`--compress`); EASGD's workers send their parameters, MDOWNPOUR's a gradient per step.
    public var sendsUpdates: Bool { accumulates || self == .diloco }
    /// The methods whose messages `--compress` codes: the updates, and EASGD's and EAMSGD's exchange (x − s, the
    /// coded exchange, which keeps what the codec lost by construction).
    public var compresses: Bool { sendsUpdates || self == .easgd || self == .eamsgd }

    /// The worker's gradient is taken at the point before its exchange (Algorithms 1 and 2), so the exchange can be
    /// in flight while the gradient is computed.
    public var takesGradientBeforeExchange: Bool { self == .easgd || self == .eamsgd }

    /// Every algorithm with a property, in declaration order, for help texts and errors.
    public static func names(where include: (Algorithm) -> Bool) -> String {
        allCases.filter(include).map(\.rawValue).joined(separator: ", ")
    }
}
