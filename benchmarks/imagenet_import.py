#!/usr/bin/env python3
"""The ImageNet import's throughput against Pillow + NumPy doing the same decode-and-resize, and training's read
throughput from the store (make bench).

1. A synthetic ILSVRC-2012 tree of --images JPEGs at ImageNet's typical 500 × 375 (both orientations, quality 90,
   a smooth random field plus noise: about ImageNet's bytes per image). `easgd data import imagenet` at smaller
   side 256 on 1 and 2 threads, against Pillow + NumPy doing the same work per file (open, convert("RGB"), resize
   with BILINEAR to torchvision's size, to a CHW array) in one process and in a pool of 2 processes. Images/s,
   median of --repeats, all in the same run.
2. `easgd bench data STORE --net imagenet --batch 64` on the store made: the images/s training's batch stream
   forms (221 × 221 crops, flips, the mean subtracted) on 1 and 2 threads, beside the images/s the ImageNet net
   trains at (`easgd bench train --net imagenet --batch 32 --threads 2`).

  python3 benchmarks/imagenet_import.py --easgd .build/release/easgd
"""

import argparse
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time

import numpy as np
from PIL import Image


def make_tree(root, images, seed=1):
    rng = np.random.default_rng(seed)
    classes = [f"n{k:08d}" for k in range(8)]
    paths = []
    for k in range(images):
        split = "val" if k % 10 == 0 else "train"
        d = os.path.join(root, split, classes[k % len(classes)])
        os.makedirs(d, exist_ok=True)
        w, h = (500, 375) if k % 3 else (375, 500)
        coarse = rng.integers(0, 256, (h // 25 + 2, w // 25 + 2, 3)).astype(np.uint8)
        smooth = np.asarray(Image.fromarray(coarse).resize((w, h), Image.BICUBIC)).astype(int)
        a = np.clip(smooth + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
        path = os.path.join(d, f"{classes[k % len(classes)]}_{k}.JPEG")
        Image.fromarray(a).save(path, quality=90)
        paths.append(path)
    return paths


def pillow_one(path, side=256):
    im = Image.open(path).convert("RGB")
    w, h = im.size
    size = (side, side * h // w) if w <= h else (side * w // h, side)
    return np.ascontiguousarray(np.asarray(im.resize(size, Image.BILINEAR)).transpose(2, 0, 1)).nbytes


def pillow_rate(paths, processes):
    start = time.perf_counter()
    if processes == 1:
        for p in paths:
            pillow_one(p)
    else:
        with multiprocessing.Pool(processes) as pool:
            pool.map(pillow_one, paths, chunksize=16)
    return len(paths) / (time.perf_counter() - start)


def easgd_rate(easgd, src, out, threads):
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    r = subprocess.run([easgd, "data", "import", "imagenet", src, "--out", out, "--threads", str(threads)],
                       capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    files = int(re.search(r"decoded (\d+) files", r.stdout).group(1))
    return files / seconds, r.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--easgd", default=os.path.join(os.path.dirname(__file__), "..", ".build", "release", "easgd"))
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-train", action="store_true", help="leave out the net's own rate (a minute)")
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="easgd-imagenet-bench-")
    try:
        src = os.path.join(scratch, "src")
        paths = make_tree(src, args.images)
        mb = sum(os.path.getsize(p) for p in paths) / len(paths) / 1e3
        print(f"{len(paths)} JPEGs, 500 x 375 and 375 x 500, {mb:.0f} kB each on average; smaller side 256; "
              f"median of {args.repeats}; Pillow {Image.__version__ if hasattr(Image, '__version__') else ''}")
        for p in paths:          # the page cache holds the files for every contender
            open(p, "rb").read()
        rows = []
        store = os.path.join(scratch, "store")
        for threads in (1, 2):
            rates = [easgd_rate(args.easgd, src, store, threads)[0] for _ in range(args.repeats)]
            rows.append((f"easgd data import, {threads} thread{'s' if threads > 1 else ''}", statistics.median(rates)))
        for processes in (1, 2):
            rates = [pillow_rate(paths, processes) for _ in range(args.repeats)]
            rows.append((f"Pillow + NumPy, {processes} process{'es' if processes > 1 else ''}", statistics.median(rates)))
        for name, rate in rows:
            print(f"  {name:36s} {rate:8.1f} images/s")
        print(f"  ratio, 1 thread / 1 process: {rows[0][1] / rows[2][1]:.2f}; 2 threads / 2 processes: {rows[1][1] / rows[3][1]:.2f}")
        print(f"  ILSVRC-2012's 1,331,167 files at the 2-thread rate: {1331167 / rows[1][1] / 3600:.1f} h")
        for threads in (1, 2):
            r = subprocess.run([args.easgd, "bench", "data", store, "--net", "imagenet", "--batch", "64", "--batches", "10",
                                "--threads", str(threads)], capture_output=True, text=True, check=True)
            print("  store read: " + r.stdout.strip().split("; ", 1)[1])
        if not args.skip_train:
            r = subprocess.run([args.easgd, "bench", "train", "--net", "imagenet", "--batch", "32", "--threads", "2"],
                               capture_output=True, text=True, check=True)
            rate = re.findall(r"([\d,.]+) img/s", r.stdout)
            print("  the ImageNet net trains at: " + (rate[0] + " img/s (bench train --net imagenet --batch 32 --threads 2)" if rate else r.stdout))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
