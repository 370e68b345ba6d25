// From stored bytes to network input, as in the paper: pixels scaled to [0, 1], the per-channel mean of
// the training set subtracted; when the stored images are larger than the net's input (CIFAR-10: 32 → 28),
// training draws a random crop and a horizontal flip with probability ½, testing takes the centre crop.
// Each worker draws its own stream: its own shuffled order per epoch and its own augmentation randomness,
// all from its seed, and the whole stream state fits in a checkpoint.

import Elastic

public struct Preprocessing: Sendable {
    /// The smallest stored height and width (the crops must fit in every image).
    public var stored: Shape
    public var input: Shape
    /// Per-channel mean of the training pixels, in [0, 1].
    public var mean: [Float]
    /// Whether any stored image is larger than the input (then training crops and flips, testing takes the centre).
    public let crops: Bool
    /// Whether the mean is the one the data carries (an image store's, computed at import).
    public let meanFromData: Bool

    public init(train: Dataset, input: Shape) throws {
        guard train.shape.channels == input.channels else {
            throw DataError("the net expects \(input.channels)-channel \(input) images, \(train.name) has \(train.shape)")
        }
        guard train.shape.height >= input.height, train.shape.width >= input.width else {
            throw DataError("the net expects \(input) images, \(train.name) images are only \(train.shape)")
        }
        stored = train.shape
        self.input = input
        crops = train.largest.height > input.height || train.largest.width > input.width
        if let known = train.channelMean, known.count == input.channels {
            mean = known
            meanFromData = true
            return
        }
        meanFromData = false
        var sums = [Double](repeating: 0, count: input.channels)
        var pixelsPerChannel = 0
        for i in 0..<train.count {
            let (px, h, w) = train.image(i)
            let plane = h * w
            pixelsPerChannel += plane
            for c in 0..<input.channels {
                var s = 0
                let base = px + c * plane
                for k in 0..<plane { s += Int(base[k]) }
                sums[c] += Double(s)
            }
        }
        mean = sums.map { Float($0 / Double(max(pixelsPerChannel, 1)) / 255) }
    }

    /// Writes image `index` of `data` into `out` (input.count floats), cropped at (dy, dx), optionally mirrored.
    func write(_ data: Dataset, index: Int, dy: Int, dx: Int, flip: Bool, into out: UnsafeMutablePointer<Float>) {
        let (h, w) = (input.height, input.width)
        let (px, sh, sw) = data.image(index)
        for c in 0..<input.channels {
            let src = px + c * sh * sw
            let dst = out + c * h * w
            let m = mean[c]
            for y in 0..<h {
                let row = src + (y + dy) * sw + dx
                let d = dst + y * w
                if flip {
                    for x in 0..<w { d[x] = Float(row[w - 1 - x]) * (1 / 255) - m }
                } else {
                    for x in 0..<w { d[x] = Float(row[x]) * (1 / 255) - m }
                }
            }
        }
    }

    /// The centre crop of image `index`, for evaluation.
    public func writeCentre(_ data: Dataset, index: Int, into out: UnsafeMutablePointer<Float>) {
        let (_, sh, sw) = data.image(index)
        write(data, index: index, dy: (sh - input.height) / 2, dx: (sw - input.width) / 2, flip: false, into: out)
    }
}

/// The resumable state of a batch stream.
public struct StreamState: Codable, Equatable, Sendable {
    public var epoch: Int
    public var position: Int
    public var augmentation: UInt64
}

public struct BatchStream {
    public let data: Dataset
    public let preprocessing: Preprocessing
    public let batchSize: Int
    public let seed: UInt64
    /// Full-batch mode (`--full-batch`): every batch is the whole data set in its stored order, centre-cropped,
    /// never shuffled or flipped; an epoch is one batch.
    public let fullBatch: Bool
    public private(set) var epoch = 0
    public private(set) var position = 0
    private var order: [Int32] = []
    private var augmentation: SplitMix64

    /// Full batches per epoch (the last partial batch of each shuffled epoch is dropped).
    public var batchesPerEpoch: Int { data.count / batchSize }

    public init(data: Dataset, preprocessing: Preprocessing, batchSize: Int, seed: UInt64, fullBatch: Bool = false) throws {
        guard batchSize >= 1, batchSize <= data.count else {
            throw DataError("batch size \(batchSize) must be between 1 and the \(data.count) training images")
        }
        if fullBatch, batchSize != data.count {
            throw DataError("a full batch is the \(data.count) training images, not \(batchSize)")
        }
        self.data = data
        self.preprocessing = preprocessing
        self.batchSize = batchSize
        self.seed = seed
        self.fullBatch = fullBatch
        augmentation = SplitMix64.derived(from: seed, stream: 0xA06)
        order = fullBatch ? [] : BatchStream.permutation(count: data.count, seed: seed, epoch: 0)
    }

    /// The shuffled order of epoch `epoch`: Fisher–Yates driven by a stream derived from (seed, epoch).
    static func permutation(count n: Int, seed: UInt64, epoch: Int) -> [Int32] {
        var rng = SplitMix64.derived(from: seed ^ 0x5EED_0F0D, stream: UInt64(epoch))
        var p = (0..<n).map { Int32($0) }
        for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, rng.nextInt(below: i + 1)) }
        return p
    }

    public var state: StreamState {
        StreamState(epoch: epoch, position: position, augmentation: augmentation.state)
    }

    public mutating func restore(_ s: StreamState) {
        epoch = s.epoch
        position = s.position
        augmentation.state = s.augmentation
        order = fullBatch ? [] : BatchStream.permutation(count: data.count, seed: seed, epoch: epoch)
    }

    /// The next batch of `batchSize` images into `images` (batchSize × input.count) and `labels`.
    public mutating func next(images: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>) {
        if fullBatch {
            let size = preprocessing.input.count
            for index in 0..<data.count {
                labels[index] = data.labels[index]
                preprocessing.writeCentre(data, index: index, into: images + index * size)
            }
            epoch += 1
            return
        }
        if position + batchSize > data.count {
            epoch += 1
            position = 0
            order = BatchStream.permutation(count: data.count, seed: seed, epoch: epoch)
        }
        let size = preprocessing.input.count
        let p = preprocessing
        // The crops and flips are drawn in image order, then the images written on the compute threads.
        var placements: [(index: Int, dy: Int, dx: Int, flip: Bool)] = []
        placements.reserveCapacity(batchSize)
        for b in 0..<batchSize {
            let index = Int(order[position + b])
            labels[b] = data.labels[index]
            var placement = (index: index, dy: 0, dx: 0, flip: false)
            if p.crops {
                let (_, h, w) = data.image(index)
                placement.dy = augmentation.nextInt(below: h - p.input.height + 1)
                placement.dx = augmentation.nextInt(below: w - p.input.width + 1)
                placement.flip = augmentation.next() & 1 == 1
            }
            placements.append(placement)
        }
        Parallel.forEach(batchSize) { range in
            for b in range {
                let q = placements[b]
                p.write(data, index: q.index, dy: q.dy, dx: q.dx, flip: q.flip, into: images + b * size)
            }
        }
        position += batchSize
    }
}
