// easgd net describe: what a network in the paper's notation is, layer by layer.

import Analysis
import ArgumentParser
import Records
import Foundation
import Training

struct NetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "net",
        abstract: "Networks in the paper's notation.",
        subcommands: [NetDescribeCommand.self]
    )
}

struct NetDescribeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Print a network's layers, shapes, parameter count and MFLOP per image.",
        discussion: """
            SPEC is a name (cifar, imagenet, small) or the paper's notation, where (c,y) is the size of a layer's \
            input (c channels of y×y) and the letter before it the layer that produced it: C convolution + ReLU, \
            P max pooling, D fully connected + ReLU + dropout 0.5, S softmax output. Examples:
              easgd net describe cifar
              easgd net describe "(1,28)C(32,24)P(32,12)C(64,8)P(64,4)D(256,1)S(10,1)"
            Kernel and stride follow from the sizes: a valid convolution with the smallest stride s whose kernel \
            k = y_in − s(y_out − 1) satisfies s ≤ k ≤ 7; pooling windows are y_in/y_out wide and do not overlap.
            """
    )

    @Argument(help: "A name (cifar, imagenet, small) or a notation string.") var spec: String

    func run() throws {
        let parsed = try NetSpec(parsing: spec)
        let net = Network<Float>(spec: parsed, maxBatch: 1)
        print("net \(parsed.text)")
        print("input \(parsed.input)")
        let header = ["#", "layer", "output", "parameters", "MFLOP/image"]
        var rows: [[String]] = []
        for (i, layer) in net.layers.enumerated() {
            let mflop = layer.forwardFlopsPerImage > 0 ? String(format: "%.3f", Double(layer.forwardFlopsPerImage) / 1e6) : ""
            rows.append(["\(i + 1)", layer.kind, "\(layer.outputShape)", grouped(layer.parameterCount), mflop])
        }
        rows.append(["", "softmax + cross-entropy", "\(parsed.classes)", "", ""])
        let widths = header.indices.map { c in ([header] + rows).map { $0[c].count }.max()! }
        func line(_ r: [String]) -> String {
            r.enumerated().map { c, s in
                let pad = String(repeating: " ", count: widths[c] - s.count)
                return c >= 3 ? pad + s : s + pad
            }.joined(separator: "  ")
        }
        print(line(header))
        for r in rows { print(line(r)) }
        print("parameters: \(grouped(net.parameterCount)) (\(String(format: "%.2f", Double(net.parameterCount) * 4 / 1_048_576)) MiB as Float32)")
        print(String(format: "forward: %.2f MFLOP per image; training step (forward + backward): %.2f MFLOP per image",
                     Double(net.forwardFlopsPerImage) / 1e6, Double(net.trainingFlopsPerImage) / 1e6))
    }
}
