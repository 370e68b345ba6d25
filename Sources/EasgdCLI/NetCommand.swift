// easgd net describe: what a network in the paper's notation is, layer by layer.

import Elastic
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

    @Option(help: "Minibatch size for the memory estimate of a training run.") var batch = TrainingDefaults.batch

    func validate() throws {
        try checkLimit("--batch", batch, Limits.batch)
        do { _ = try NetSpec(parsing: spec) } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let parsed = try NetSpec(parsing: spec)
        for line in try NetDescription(parsed, batch: batch).lines { print(line) }
    }
}
