// The paper's architecture notation: "(c,y)" is the input size of a layer (c channels of y×y), and a
// letter before it names the layer producing that size: C convolution (+ ReLU), P max pooling,
// D fully connected (+ ReLU + dropout 0.5), S the softmax output layer.
//
// Kernel and stride are not written in the notation; they follow from the sizes by two documented rules:
//  • C from y_in to y_out: a valid convolution with the smallest stride s ≥ 1 whose kernel
//    k = y_in − s·(y_out − 1) satisfies s ≤ k ≤ 7. CIFAR: 28→24 is 5×5/1, 12→8 is 5×5/1, 4→2 is 3×3/1.
//    ImageNet: 221→108 is 7×7/2 (stride 1 would need a 114×114 kernel), 36→32 5×5/1, 16→14 3×3/1,
//    14→13 and 13→12 2×2/1.
//  • P from y_in to y_out: non-overlapping windows, window = stride = y_in / y_out, which must divide exactly
//    (24→12 is 2×2/2, 108→36 is 3×3/3).

import Records

public enum LayerSpec: Equatable, Sendable {
    case convolution(channels: Int, size: Int, kernel: Int, stride: Int)
    case pooling(channels: Int, size: Int, window: Int)
    case dense(units: Int)
    case softmax(classes: Int)
}

public struct NetSpecError: Error, CustomStringConvertible {
    public var description: String
}

public struct NetSpec: Equatable, Sendable {
    public var text: String
    public var input: Shape
    public var layers: [LayerSpec]
    /// Each convolution's path, in order, when a run fixes them (a run records the paths it started on and
    /// keeps them when resumed, whatever the defaults of the build or machine it resumes on); nil: each layer's
    /// default (`ConvolutionPath.preferred`). Float networks only: a Double network always takes im2col.
    public var convolutionPaths: [ConvolutionPath]?
    public static let maximumKernel = 7

    /// Names for the paper's networks and the small Fashion-MNIST net.
    public static let named: [String: String] = [
        "cifar": "(3,28)C(64,24)P(64,12)C(128,8)P(128,4)C(64,2)D(256,1)S(10,1)",
        "imagenet": "(3,221)C(96,108)P(96,36)C(256,32)P(256,16)C(384,14)C(384,13)C(256,12)P(256,6)D(4096,1)D(4096,1)S(1000,1)",
        "small": "(1,28)C(32,24)P(32,12)C(64,8)P(64,4)D(256,1)S(10,1)",
    ]

    public var classes: Int {
        if case .softmax(let k) = layers.last { return k }
        return 0
    }

    /// Parses a name from `named` or a notation string.
    public init(parsing raw: String) throws {
        let source = NetSpec.named[raw.lowercased()] ?? raw
        text = source
        var tokens: [(letter: Character?, c: Int, y: Int)] = []
        var chars = Array(source.filter { !$0.isWhitespace })
        var i = 0
        func fail(_ why: String) -> NetSpecError { NetSpecError(description: "net spec \"\(raw)\": \(why)") }
        func integer() throws -> Int {
            let start = i
            while i < chars.count, chars[i].isASCII, chars[i].isNumber { i += 1 }
            guard i > start, let v = Int(String(chars[start..<i])), v > 0, v <= 1_000_000 else {
                throw fail("expected a positive integer at position \(start + 1)")
            }
            return v
        }
        while i < chars.count {
            var letter: Character? = nil
            if chars[i].isLetter {
                letter = Character(chars[i].uppercased())
                guard "CPDS".contains(letter!) else {
                    throw fail("unknown layer '\(chars[i])' (use C, P, D or S)")
                }
                i += 1
            }
            guard i < chars.count, chars[i] == "(" else { throw fail("expected '(' at position \(i + 1)") }
            i += 1
            let c = try integer()
            guard i < chars.count, chars[i] == "," else { throw fail("expected ',' at position \(i + 1)") }
            i += 1
            let y = try integer()
            guard i < chars.count, chars[i] == ")" else { throw fail("expected ')' at position \(i + 1)") }
            i += 1
            tokens.append((letter, c, y))
        }
        chars = []
        guard let first = tokens.first else { throw fail("empty") }
        guard first.letter == nil else { throw fail("must start with the input size (c,y), e.g. (3,28)") }
        guard tokens.count >= 2 else { throw fail("no layers after the input size") }
        input = Shape(channels: first.c, height: first.y, width: first.y)
        layers = []
        var current = input
        for (index, t) in tokens.dropFirst().enumerated() {
            guard t.letter != nil else {
                throw fail("size (\(t.c),\(t.y)) after layer \(index) has no layer letter (C, P, D or S); only the first size is the input")
            }
            let name = "layer \(index + 1) \(t.letter!)(\(t.c),\(t.y))"
            let isLast = index == tokens.count - 2
            switch t.letter! {
            case "C":
                guard current.height > 1 || t.y == 1 else { throw fail("\(name): convolution after a flat layer") }
                guard let (k, s) = NetSpec.convolutionGeometry(from: current.height, to: t.y) else {
                    throw fail("\(name): no valid convolution takes size \(current.height) to \(t.y) (kernel ≤ \(NetSpec.maximumKernel))")
                }
                layers.append(.convolution(channels: t.c, size: t.y, kernel: k, stride: s))
                current = Shape(channels: t.c, height: t.y, width: t.y)
            case "P":
                guard t.c == current.channels else {
                    throw fail("\(name): pooling keeps the channel count (\(current.channels)), got \(t.c)")
                }
                guard t.y < current.height, current.height % t.y == 0 else {
                    throw fail("\(name): pooling needs the input size \(current.height) to be a multiple of \(t.y)")
                }
                layers.append(.pooling(channels: t.c, size: t.y, window: current.height / t.y))
                current = Shape(channels: t.c, height: t.y, width: t.y)
            case "D", "S":
                guard t.y == 1 else { throw fail("\(name): a fully connected layer has size 1, got \(t.y)") }
                if t.letter! == "S" {
                    guard isLast else { throw fail("\(name): S is the output layer and must come last") }
                    guard t.c >= 2 else { throw fail("\(name): the softmax needs at least 2 classes") }
                    layers.append(.softmax(classes: t.c))
                } else {
                    layers.append(.dense(units: t.c))
                }
                current = Shape(channels: t.c, height: 1, width: 1)
            default:
                throw fail("\(name): unknown layer")
            }
        }
        guard case .softmax = layers.last else { throw fail("must end with the softmax output layer S(classes,1)") }
        // Counts stay far inside Int (FLOPs included): no layer may have more than 2^34 outputs per image or, for a
        // fully connected layer, 2^40 weights; either is already beyond any machine's memory.
        var shape = input
        for (index, layer) in layers.enumerated() {
            let next: Shape = switch layer {
            case let .convolution(c, y, _, _), let .pooling(c, y, _): Shape(channels: c, height: y, width: y)
            case let .dense(units): Shape(channels: units, height: 1, width: 1)
            case let .softmax(classes): Shape(channels: classes, height: 1, width: 1)
            }
            var outputs = MemoryCount(), weights = MemoryCount()
            outputs.add(next.channels, next.height, next.width)
            weights.add(shape.channels, shape.height, shape.width, next.channels)
            guard let o = outputs.total, o <= 1 << 34 else { throw fail("layer \(index + 1) has more than 2^34 outputs per image") }
            if case .dense = layer, (weights.total ?? .max) > 1 << 40 { throw fail("layer \(index + 1) has more than 2^40 weights") }
            if case .softmax = layer, (weights.total ?? .max) > 1 << 40 { throw fail("layer \(index + 1) has more than 2^40 weights") }
            shape = next
        }
    }

    /// Kernel and stride of a valid convolution from size y_in to y_out by the rule at the top of this file.
    static func convolutionGeometry(from yIn: Int, to yOut: Int) -> (kernel: Int, stride: Int)? {
        guard yOut >= 1, yOut <= yIn else { return nil }
        if yOut == 1 { return yIn <= maximumKernel ? (yIn, 1) : nil }
        for s in 1...maximumKernel {
            let k = yIn - s * (yOut - 1)
            if k < s { return nil }
            if k <= maximumKernel { return (k, s) }
        }
        return nil
    }
}
