#!/usr/bin/env python3
"""Compressed exchanges in training: what each codec costs DOWNPOUR and DiLoCo at equal compute, on Fashion-MNIST
(notebook 06, section 7; the hypotheses and the rule are stated there before the runs).

  benchmarks/experiments/compress.py [--jobs N] [--out DIR] [--easgd BIN] [--seeds K] [--report]

Every run is outer.py's setting (p = 4 workers on the simulated backend, the small net, batch 64, eta = 0.05, 1,500
steps per worker, 15 evaluations on the whole test set, seeds 1..K, default 3), with what a worker sends through a
codec (`--compress`; int8 and int4 with one Float32 scale per block of 256 values, rounding to nearest, the
defaults); the center's reply stays Float32:
  downpour-C      downpour, tau = 1 (each step's update pushed): C in none, fp16, int8, int4, int8-ef, int4-ef
  diloco-h50-C    diloco, H = 50, DiLoCo's outer Nesterov (0.7, 0.9), its pseudo-gradient through the codec
  easgd-tau10-C   easgd, tau = 10, beta = 0.9: the coded exchange (x - s through the codec, the elastic difference
                  back), C in none, fp16, int8, int4 (it keeps what the codec lost by construction: no -ef)
  (-ef: with --error-feedback, the worker keeping what the codec lost for its next message)

Runs go into OUT/NAME-sS (default .build/compress); finished, they are kept (status.json completed or diverged), one
with a checkpoint resumed, anything else started again; a finished run's config.json, status.json and metrics.jsonl
are copied into benchmarks/experiments/compress-record/, which is committed, and --report reads a run from OUT, else
from there. --report prints, per configuration, the final and best test error (mean and 95 % t-interval over the
seeds), the difference to the same method uncompressed paired by seed (mean and 95 % t-interval) with the verdict of
the stated rule, and the megabytes each worker sent and received (the records' bytes_sent and bytes_received, the
codec's bytes, divided by p).
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import outer  # noqa: E402  (the setting, the records and the interval are outer.py's)

RECORD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compress-record")
MARGIN = 0.5              # percentage points: "matches" when the paired interval lies within ±MARGIN

METHODS = {
    "downpour": ["--method", "downpour", "--tau", "1"],
    "diloco-h50": ["--method", "diloco", "--tau", "50"],
    "easgd-tau10": ["--method", "easgd", "--tau", "10"],
}
CODECS = {
    "none": [],
    "fp16": ["--compress", "fp16"],
    "int8": ["--compress", "int8"],
    "int4": ["--compress", "int4"],
    "int8-ef": ["--compress", "int8", "--error-feedback"],
    "int4-ef": ["--compress", "int4", "--error-feedback"],
}
CONFIGS = {f"{m}-{c}": (m, c) for m in METHODS for c in CODECS if not (m.startswith("easgd") and c.endswith("-ef"))}


def arguments(name, seed, out):
    method, codec = CONFIGS[name]
    return (["train"] + METHODS[method] + CODECS[codec] + ["--workers", str(outer.WORKERS), "--lr", str(outer.ETA),
            "--batch", str(outer.BATCH), "--steps", str(outer.STEPS), "--eval-every", str(outer.EVAL_EVERY),
            "--seed", str(seed), "--backend", "simulated", "--compute-seconds", "0.01", "--quiet", "--out", out])


def keep(run):
    if outer.state(run) not in ("completed", "diverged"):
        return
    target = os.path.join(RECORD, os.path.basename(run))
    os.makedirs(target, exist_ok=True)
    for name in ("config.json", "status.json", "metrics.jsonl"):
        shutil.copyfile(os.path.join(run, name), os.path.join(target, name))


def launch(easgd, name, seed, root):
    run = os.path.join(root, f"{name}-s{seed}")
    if outer.state(run) in ("completed", "diverged"):
        keep(run)
        return run, "kept"
    if os.path.exists(os.path.join(run, "checkpoint.bin")):
        command = [easgd, "train", "--resume", run, "--quiet"]
    else:
        shutil.rmtree(run, ignore_errors=True)
        command = [easgd] + arguments(name, seed, run)
    started = time.time()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode not in (0, 2):          # exit 2: diverged, a result
        raise SystemExit(f"compress.py: {name} seed {seed} failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    keep(run)
    return run, f"{time.time() - started:.0f} s"


def verdict(mean, half):
    if half != half:                           # one seed: no interval
        return "-"
    low, high = mean - half, mean + half
    if -MARGIN <= low and high <= MARGIN:
        return "matches"
    if low > MARGIN:
        return "worse"
    if high < -MARGIN:
        return "better"
    return "inconclusive"


def report(root, seeds):
    finals, bests, sent, received, diverged = {}, {}, {}, {}, {}
    for name in CONFIGS:
        for s in seeds:
            run = os.path.join(root, f"{name}-s{s}")
            if outer.state(run) not in ("completed", "diverged"):
                run = os.path.join(RECORD, f"{name}-s{s}")
            st = outer.state(run)
            if st not in ("completed", "diverged"):
                continue
            rs = outer.records(run)
            errors = [r.get("test_error") for r in rs if r.get("test_error") is not None]
            if st == "diverged" or not errors:
                diverged[name] = diverged.get(name, 0) + 1
                finals.setdefault(name, {})[s] = 0.9
                bests.setdefault(name, {})[s] = min(errors, default=0.9)
            else:
                finals.setdefault(name, {})[s] = rs[-1]["test_error"]
                bests.setdefault(name, {})[s] = min(errors)
            last = rs[-1] if rs else {}
            sent[name] = last.get("bytes_sent", 0) / outer.WORKERS
            received[name] = last.get("bytes_received", 0) / outer.WORKERS
    print(f"{'configuration':22} {'runs':>4} {'final test error':>20} {'best test error':>20} {'final − uncompressed (paired)':>30} "
          f"{'verdict':>13} {'MB sent':>9} {'MB received':>11} {'diverged':>8}")
    for name, (method, codec) in CONFIGS.items():
        if name not in finals:
            continue
        f, fi = outer.interval([100 * v for v in finals[name].values()])
        b, bi = outer.interval([100 * v for v in bests[name].values()])
        base = finals.get(f"{method}-none", {})
        common = [s for s in finals[name] if s in base]
        if codec == "none" or not common:
            difference, says = "-", "-"
        else:
            d, di = outer.interval([100 * (finals[name][s] - base[s]) for s in common])
            difference, says = f"{d:+.2f} ± {di:.2f} pp", verdict(d, di)
        print(f"{name:22} {len(finals[name]):>4} {f:>10.2f} ± {fi:5.2f} % {b:>10.2f} ± {bi:5.2f} % {difference:>30} {says:>13} "
              f"{sent[name] / 1e6:>9.1f} {received[name] / 1e6:>11.1f} {diverged.get(name, 0):>8}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default=".build/compress")
    parser.add_argument("--easgd", default=".build/release/easgd")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--report", action="store_true")
    a = parser.parse_args()
    seeds = list(range(1, a.seeds + 1))
    if not a.report:
        os.makedirs(a.out, exist_ok=True)
        # Seed by seed, so that a stopped campaign has whole comparisons first.
        jobs = [(name, s) for s in seeds for name in CONFIGS]
        with ThreadPoolExecutor(max_workers=a.jobs) as pool:
            for (name, s), (run, how) in zip(jobs, pool.map(lambda j: launch(a.easgd, j[0], j[1], a.out), jobs)):
                print(f"{name} seed {s}: {how}", flush=True)
    report(a.out, seeds)


if __name__ == "__main__":
    main()
