#!/usr/bin/env python3
"""DiLoCo against synchronous data-parallel SGD and EASGD at equal compute, on Fashion-MNIST (notebook 06, section 4).

  benchmarks/experiments/outer.py [--jobs N] [--out DIR] [--easgd BIN] [--seeds K] [--report]

Every run: p = 4 workers on the simulated backend, the small net, batch 64, inner SGD at eta = 0.05, 1,500 steps per
worker (6.4 epochs of data in all), weight decay the default, 15 evaluations on the whole test set, seeds 1..K
(default 3). Equal compute: every run takes the same worker steps; the configurations differ in how the workers
communicate:
  sync-sgd         diloco, H = 1, outer SGD at rate 1: the center moves by the mean of the p gradients each step,
                   which is synchronous data-parallel SGD at batch p*64
  diloco-hH        diloco, H in {1, 10, 50, 100}, DiLoCo's outer Nesterov (0.7, 0.9); with H = 1 it is synchronous
                   data-parallel Nesterov SGD (rate 0.7*eta, momentum 0.9 on the averaged gradient): the baseline
                   with DiLoCo's own optimizer, against which H > 1 asks what communicating less costs
  easgd-tauT       easgd, tau in {10, 100}, beta = 0.9 (the paper's)
  async-diloco-h10 async-diloco, H = 10, DiLoCo's outer Nesterov (0.7, 0.9)
  async-sgd-h10    async-diloco, H = 10, outer SGD at rate 1

Runs go into OUT/NAME-sS (default .build/outer); a finished run (status.json completed or diverged) is kept, one
with a checkpoint resumed, any other directory removed and started again, so the script can be stopped and rerun:
a signal (Ctrl-C, or SIGTERM to it alone) stops every run at a checkpoint and ends it with 130 (stopping.py).
A finished run's config.json, status.json and metrics.jsonl are copied into benchmarks/experiments/outer-record/,
which is committed: --report reads a run from OUT, else from there (a new checkout has no OUT), and a run the record
holds finished is not trained again where OUT lacks it (--record names another record: a test's).
--report prints, per configuration, the final and best test error (mean and 95 % t-interval over the seeds), the
difference to diloco-h1 and to sync-sgd paired by seed (mean and 95 % t-interval), the first step at which the test error reached
the target (TARGET, default 0.15; a run that never did counts as not reaching it), the bytes sent and received per
worker (exchanges x 2 x 4 bytes x parameters), how many times the training loss (train_loss, a fixed subset)
rose from one evaluation to the next (summed over the seeds: an oscillating center's signature) and how many runs
diverged.
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from campaign import copy_atomically
from stopping import Stop

RECORD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "outer-record")
STEPS = 1500
WORKERS = 4
ETA = 0.05
BATCH = 64
EVAL_EVERY = 400          # worker steps in total: 15 evaluations
TARGET = 0.15

CONFIGS = {
    "sync-sgd": ["--method", "diloco", "--tau", "1", "--outer", "sgd", "--outer-lr", "1"],
    "diloco-h1": ["--method", "diloco", "--tau", "1"],
    "diloco-h10": ["--method", "diloco", "--tau", "10"],
    "diloco-h50": ["--method", "diloco", "--tau", "50"],
    "diloco-h100": ["--method", "diloco", "--tau", "100"],
    "easgd-tau10": ["--method", "easgd", "--tau", "10"],
    "easgd-tau100": ["--method", "easgd", "--tau", "100"],
    "async-diloco-h10": ["--method", "async-diloco", "--tau", "10", "--backend", "simulated"],
    "async-sgd-h10": ["--method", "async-diloco", "--tau", "10", "--outer", "sgd", "--outer-lr", "1", "--backend", "simulated"],
}


def arguments(name, seed, out):
    return (["train"] + CONFIGS[name] + ["--workers", str(WORKERS), "--lr", str(ETA), "--batch", str(BATCH),
            "--steps", str(STEPS), "--eval-every", str(EVAL_EVERY), "--seed", str(seed), "--backend", "simulated",
            "--compute-seconds", "0.01", "--quiet", "--out", out])


def state(run):
    try:
        with open(os.path.join(run, "status.json")) as f:
            return json.load(f).get("status")
    except (OSError, ValueError):
        return None


def launch(easgd, name, seed, root, arguments=arguments, record=RECORD, stop=None):
    """Runs NAME's seed into ROOT/NAME-sSEED (kept when finished, resumed from a checkpoint, else started afresh)
    and copies it into RECORD when it has finished; `arguments` gives a fresh run's command line. After STOP (a
    stopping.Stop) is requested no run starts, and a run that the signal stopped is not a failure."""
    run = os.path.join(root, f"{name}-s{seed}")
    if state(run) in ("completed", "diverged"):
        keep(run, record)
        return run, "kept"
    recorded = os.path.join(record, f"{name}-s{seed}")
    if state(run) is None and not os.path.exists(run) and state(recorded) in ("completed", "diverged"):
        return recorded, "recorded"          # finished in an earlier checkout: the record is the run
    if os.path.exists(os.path.join(run, "checkpoint.bin")):
        command = [easgd, "train", "--resume", run, "--quiet"]
    else:
        shutil.rmtree(run, ignore_errors=True)
        command = [easgd] + arguments(name, seed, run)
    if stop is not None and stop.requested:
        return run, "not started (stopping)"
    env = dict(os.environ)
    started = time.time()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    if stop is not None and stop.requested and done.returncode not in (0, 2):
        return run, "stopped at a checkpoint"
    # Exit 2 is a diverged run (status.json says so): a result, not a failure.
    if done.returncode not in (0, 2):
        raise SystemExit(f"{os.path.basename(sys.argv[0])}: {name} seed {seed} failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    keep(run, record)
    return run, f"{time.time() - started:.0f} s"


def keep(run, record=RECORD):
    """Copies a finished run's settings, status and records into the committed record."""
    if state(run) not in ("completed", "diverged"):
        return
    target = os.path.join(record, os.path.basename(run))
    os.makedirs(target, exist_ok=True)
    for name in ("config.json", "status.json", "metrics.jsonl"):
        copy_atomically(os.path.join(run, name), os.path.join(target, name))


def records(run):
    out = []
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def parameters(run):
    with open(os.path.join(run, "config.json")) as f:
        return json.load(f)["model"]["parameters"]


def t95(n):
    # Two-sided 97.5 % quantiles of Student's t for n - 1 degrees of freedom.
    return {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306, 10: 2.262}.get(n, 1.96)


def interval(values):
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, float("nan")
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, t95(n) * sd / math.sqrt(n)


def half(h, width=0):
    """A 95 % half-width as printed: "-" where one run gives none (never "nan")."""
    return f"{h:{width}.2f}" if math.isfinite(h) else "-".rjust(width)


def report(root, seeds, target, record=RECORD):
    rows, baselines = [], {}
    for name in CONFIGS:
        finals, bests, reached, diverged, bytes_, rises = {}, {}, [], 0, None, 0
        for s in seeds:
            run = os.path.join(root, f"{name}-s{s}")
            if state(run) not in ("completed", "diverged"):
                run = os.path.join(record, f"{name}-s{s}")
            st = state(run)
            if st not in ("completed", "diverged"):
                continue
            rs = records(run)
            errors = [r.get("test_error") for r in rs]
            if st == "diverged" or not rs or errors[-1] is None:
                diverged += 1
                finals[s] = 0.9            # a diverged run is counted at chance level (9 of 10 wrong)
                bests[s] = min([e for e in errors if e is not None], default=0.9)
            else:
                finals[s] = errors[-1]
                bests[s] = min(e for e in errors if e is not None)
            hit = next((r["total_steps"] // WORKERS for r in rs if r.get("test_error") is not None and r["test_error"] <= target), None)
            reached.append(hit)
            losses = [r.get("train_loss") for r in rs if r.get("train_loss") is not None]
            rises += sum(1 for a, b in zip(losses, losses[1:]) if b > a)
            last = rs[-1] if rs else {}
            bytes_ = last.get("exchanges", 0) / WORKERS * 2 * 4 * parameters(run)
        if not finals:
            continue
        if name in ("sync-sgd", "diloco-h1"):
            baselines[name] = finals
        rows.append((name, finals, bests, reached, diverged, bytes_, rises))
    print(f"{'configuration':18} {'runs':>4} {'final test error':>20} {'best test error':>20} {'final − sync-sgd (paired)':>27} "
          f"{'final − diloco-h1 (paired)':>27} {'steps to ' + format(target, '.0%'):>16} {'MB per worker':>14} {'loss rises':>10} {'diverged':>8}")
    for name, finals, bests, reached, diverged, bytes_, rises in rows:
        f, fi = interval([100 * v for v in finals.values()])
        b, bi = interval([100 * v for v in bests.values()])
        def difference(base):
            baseline = baselines.get(base, {})
            common = [s for s in finals if s in baseline]
            if name == base or not common:
                return "-"
            d, di = interval([100 * (finals[s] - baseline[s]) for s in common])
            return f"{d:+.2f} ± {half(di)} pp"
        hits = [h for h in reached if h is not None]
        steps = f"{sum(hits) / len(hits):.0f} ({len(hits)}/{len(reached)})" if hits else f"never (0/{len(reached)})"
        print(f"{name:18} {len(finals):>4} {f:>10.2f} ± {half(fi, 5)} % {b:>10.2f} ± {half(bi, 5)} % {difference('sync-sgd'):>27} "
              f"{difference('diloco-h1'):>27} {steps:>16} "
              f"{bytes_ / 1e6:>14.1f} {rises:>10} {diverged:>8}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default=".build/outer")
    parser.add_argument("--easgd", default=".build/release/easgd")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--target", type=float, default=TARGET)
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--record", default=RECORD, help="the committed record of finished runs (default: %(default)s)")
    a = parser.parse_args()
    seeds = list(range(1, a.seeds + 1))
    if not a.report:
        run_stoppable(a, CONFIGS, seeds, "outer", lambda name, s, stop: launch(a.easgd, name, s, a.out, record=a.record, stop=stop))
    report(a.out, seeds, a.target, a.record)


def run_all(a, configs, seeds, launcher, order=None):
    """Every configuration's seeds, seed by seed (a stopped campaign has whole comparisons first), A.JOBS at once;
    ORDER, a list of (name, seed), gives another order."""
    os.makedirs(a.out, exist_ok=True)
    jobs = order or [(name, s) for s in seeds for name in configs]
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        for (name, s), (run, how) in zip(jobs, pool.map(lambda j: launcher(*j), jobs)):
            print(f"{name} seed {s}: {how}", flush=True)


def run_stoppable(a, configs, seeds, driver, launcher):
    """run_all under a stopping.Stop named DRIVER, LAUNCHER(name, seed, stop) starting each run; a signal stops
    every run at a checkpoint and ends the driver with 130."""
    with Stop(driver) as stop:
        run_all(a, configs, seeds, lambda name, s: launcher(name, s, stop))
    if stop.requested:
        raise SystemExit(130)


if __name__ == "__main__":
    main()
