// `easgd net describe`: a network's layers, shapes, parameter count, FLOPs and the memory a training run of it
// would need, all computed from the spec without allocating the network.

import Foundation
import Records
import Training

public struct NetDescription {
    public var spec: NetSpec
    public var batch: Int

    public init(_ spec: NetSpec, batch: Int) {
        self.spec = spec
        self.batch = batch
    }

    public var lines: [String] {
        get throws {
            let layers = Network<Float>.layers(spec)
            var lines = ["net \(spec.text)", "input \(spec.input)"]
            let header = ["#", "layer", "output", "parameters", "MFLOP/image"]
            var rows: [[String]] = []
            var forward = 0.0, training = 0.0
            for (i, layer) in layers.enumerated() {
                let flops = Double(layer.forwardFlopsPerImage)
                forward += flops
                training += (i == 0 ? 2 : 3) * flops
                rows.append(["\(i + 1)", layer.kind, "\(layer.outputShape)", grouped(layer.parameterCount),
                             flops > 0 ? String(format: "%.3f", flops / 1e6) : ""])
            }
            rows.append(["", "softmax + cross-entropy", "\(spec.classes)", "", ""])
            let widths = header.indices.map { c in ([header] + rows).map { $0[c].count }.max()! }
            func line(_ r: [String]) -> String {
                r.enumerated().map { c, s in
                    let pad = String(repeating: " ", count: widths[c] - s.count)
                    return c >= 3 ? pad + s : s + pad
                }.joined(separator: "  ")
            }
            lines.append(line(header))
            lines += rows.map(line)
            let parameters = MemoryEstimate.parameterCount(spec)
            lines.append("parameters: " + (parameters.map { "\(grouped($0)) (\(String(format: "%.2f", Double($0) * 4 / 1_048_576)) MiB as Float32)" } ?? "more than an Int holds"))
            lines.append(String(format: "forward: %.2f MFLOP per image; training step (forward + backward): %.2f MFLOP per image",
                                forward / 1e6, training / 1e6))
            let memory = MemoryEstimate.training(spec, replicas: 1, batch: batch, evaluators: 2, vectors: 4)
            let limit = MemoryEstimate.limitBytes
            lines.append("memory of a one-worker training run at batch \(batch): "
                         + (memory.map { String(format: "%.1f MiB", Double($0) / 1_048_576) } ?? "more than can be counted")
                         + ((memory ?? .max) > limit ? " (over the limit of \(limit >> 20) MiB: easgd train refuses it)" : ""))
            return lines
        }
    }
}
