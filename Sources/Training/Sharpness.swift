// Sharpness during training: h_max of the training loss at the evaluated model, measured on a fixed batch (the
// first 128 training images, or a full-batch run's whole subset; centre crop, dropout off, weight decay included)
// by Lanczos on Hessian-vector products with the ReLU and pooling pattern fixed at the model, to a relative
// tolerance of 10⁻³: exactly as `easgd advise` measures it at a checkpoint. The probe has its own Double network
// and no random stream the run draws from, so measuring never changes the training trajectory.

import Dispatch
import Elastic

/// One measurement: h_max (NaN when the estimate is not finite), the Hessian-vector products it took, whether
/// Lanczos converged, and its wall-clock seconds.
public struct SharpnessMeasurement: Sendable {
    public var value: Double
    public var products: Int
    public var converged: Bool
    public var seconds: Double
}

public final class SharpnessProbe {
    /// The fixed batch, the tolerance and the cap on products: `easgd advise`'s defaults.
    public static let batch = 128
    public static let tolerance = 1e-3
    public static let maxIterations = 100

    public let loss: FixedBatchLoss

    public init(spec: NetSpec, train: Dataset, preprocessing: Preprocessing, weightDecay: Double, fullBatch: Bool) {
        loss = FixedBatchLoss(spec: spec, train: train, preprocessing: preprocessing, weightDecay: weightDecay, fullBatch: fullBatch)
    }

    public func measure(_ model: FlatBuffer<Float>) -> SharpnessMeasurement {
        let start = DispatchTime.now().uptimeNanoseconds
        let x = model.array.map(Double.init)
        guard x.allSatisfy(\.isFinite) else {
            return SharpnessMeasurement(value: .nan, products: 0, converged: false, seconds: 0)
        }
        let estimate = loss.topEigenvalue(at: x, tolerance: SharpnessProbe.tolerance, maxIterations: SharpnessProbe.maxIterations)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        return SharpnessMeasurement(value: estimate.topEigenvalue.isFinite ? estimate.topEigenvalue : .nan,
                                    products: estimate.products, converged: estimate.converged, seconds: seconds)
    }
}
