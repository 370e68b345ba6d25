// One worker on the top curvature direction of its loss: the linear map that decides whether the sequential
// methods are stable there. SGD (and ASGD/MVASGD, whose averages only filter the iterate) multiplies the error
// by 1 − e, e = ηh; Nesterov momentum δ acts on (x, v) by
//   v' = δ(1 − e)v − e x,  x' = x + v'    →   λ² − (1 + δ)(1 − e)λ + δ(1 − e) = 0,
// stable exactly for 0 < e < 2(1 + δ)/(1 + 2δ) (λ = −1 at the upper end). This is round-robin EAMSGD with one
// worker and α = 0, which the tests use as the cross-check.

import Foundation

public enum SequentialStability {
    /// Spectral radius of the method's map at e = ηh (momentum 0 for SGD).
    public static func radius(etaH e: Double, momentum d: Double) -> Double {
        if d == 0 { return abs(1 - e) }
        let (l1, l2) = Complex.quadraticRoots(trace: (1 + d) * (1 - e), determinant: d * (1 - e))
        return max(l1.magnitude, l2.magnitude)
    }

    /// The largest stable ηh: 2(1 + δ)/(1 + 2δ) (2 for SGD).
    public static func criticalEtaH(momentum d: Double) -> Double { 2 * (1 + d) / (1 + 2 * d) }
}
