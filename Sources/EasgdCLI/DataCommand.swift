// easgd data import imagenet SRC --out STORE; easgd data verify STORE: the image store that `train --data STORE`
// maps (Training/ImageStore.swift, Training/ImageNetImport.swift).

import Analysis
import ArgumentParser
import Foundation
import Records
import Training

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Image stores: ImageNet's JPEG folders decoded once, for training to map.",
        subcommands: [DataImportCommand.self, DataVerifyCommand.self]
    )
}

struct DataImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Decode ILSVRC-2012's JPEG folders into an image store (resumable).",
        discussion: """
            SRC holds train/<wnid>/*.JPEG and val/<wnid>/*.JPEG, or a flat val/*.JPEG with --val-labels FILE (a \
            line per image: its file name, then its WordNet id or 0-based class index; Caffe's val.txt and \
            Kaggle's LOC_val_solution.csv read as they are). The classes are train/'s directories, sorted. Each \
            image is decoded by libjpeg-turbo and resized so its smaller side is 256 (the paper's), the longer \
            side in proportion (rounded down, as torchvision's Resize), with Pillow's antialiased bilinear filter, \
            bit for bit; greyscale and CMYK JPEGs become RGB as Pillow converts them, and PNG data under a JPEG \
            name is decoded as PNG. Files that cannot be used (not decodable, truncated) are left out and listed in STORE/problems.tsv with \
            every conversion and libjpeg warning, and counted in STORE/manifest.json, which is written last with \
            each shard's CRC-32 and the training images' channel means. Interrupted (Ctrl-C, a crash), the same \
            command resumes at the first unfinished shard of 1,024 files. Examples:
              easgd data import imagenet /data/ILSVRC2012 --out /data/imagenet-256
              easgd train --data /data/imagenet-256 --net imagenet --method eamsgd
            ILSVRC-2012 at 256 takes about 350 GB and, on two cores, about half an hour (benchmarks/README.md).
            """
    )

    @Argument(help: ArgumentHelp("The data set's layout: imagenet.", valueName: "kind")) var kind: String
    @Argument(help: ArgumentHelp("The directory holding train/ and val/.", valueName: "src")) var source: String
    @Option(help: "The store's directory (created; an unfinished import there is resumed).") var out: String
    @Option(help: ArgumentHelp("The labels of a flat val/ directory.", valueName: "file")) var valLabels: String?
    @Option(help: "The smaller side of every stored image, in pixels.") var shortSide = 256
    @Option(help: "Decoding threads (default: the cores).") var threads = max(1, ProcessInfo.processInfo.activeProcessorCount)

    func validate() throws {
        guard kind == "imagenet" else { throw ValidationError("unknown kind '\(kind)': the one layout read is imagenet") }
        try checkLimit("--short-side", shortSide, 1...4096)
        try checkLimit("--threads", threads, 1...256)
    }

    func run() throws {
        var settings = ImageNetImport.Settings(source: source, out: out)
        settings.shortSide = shortSide
        settings.threads = threads
        settings.valLabels = valLabels
        let report = try ImageNetImport.run(settings) { line in
            FileHandle.standardError.write(Data("easgd data import: \(line)\n".utf8))
        }
        let m = report.manifest
        if report.alreadyFinished {
            print("\(out): already a finished store (nothing to do)")
        }
        let counts = m.splits.map { "\($0.name) \($0.images) of \($0.sourceFiles) files" }.joined(separator: ", ")
        print("\(out): \(m.classes.count) classes; \(counts); \(String(format: "%.1f", Double(m.splits.reduce(0) { $0 + $1.bytes }) / 1e9)) GB")
        let p = m.problems
        print("problems: \(p.dropped) dropped, \(p.greyscale) greyscale and \(p.cmyk) CMYK converted, \(p.png) PNG decoded, "
              + "\(p.warnings) decoded with warnings" + (p.dropped + p.greyscale + p.cmyk + p.png + p.warnings > 0 ? " (\(out)/\(p.file))" : ""))
        print("channel means: " + m.channelMean.map { String(format: "%.4f", $0) }.joined(separator: ", "))
        if report.decodedImages > 0 {
            print(String(format: "decoded %d files in %.1f s (%.0f images/s on %d thread%@); %d shards resumed",
                         report.decodedImages, report.seconds, Double(report.decodedImages) / max(report.seconds, 1e-9),
                         threads, threads == 1 ? "" : "s", report.resumedShards))
        }
    }
}

struct DataVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every shard of an image store against the CRC-32 its manifest records.",
        discussion: """
            Reads every byte (ImageNet's store: minutes). Exit 0 when all shards match, 1 when one does not \
            (each listed). Example:
              easgd data verify /data/imagenet-256
            """
    )

    @Argument(help: ArgumentHelp("The store's directory.", valueName: "store")) var store: String

    func run() throws {
        guard ImageStore.isStore(store) else { throw DataError("\(store): no manifest.json (not a finished image store)") }
        var last = Date()
        let (bad, shards) = try ImageStore.verify(store) { done, total in
            if Date().timeIntervalSince(last) >= 2 {
                last = Date()
                FileHandle.standardError.write(Data("easgd data verify: \(done >> 20)/\(total >> 20) MiB\n".utf8))
            }
        }
        guard bad.isEmpty else {
            for line in bad { print(line) }
            throw DataError("\(store): \(bad.count) of \(shards) shards differ from the manifest")
        }
        print("\(store): all \(shards) shards match the manifest's CRC-32")
    }
}
