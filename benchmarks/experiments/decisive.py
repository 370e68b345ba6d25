#!/usr/bin/env python3
"""The decisive Figure 2 and 3 runs (issue 33, item 3): notebook 02 states their design and the rules that decide
claims (a)–(d) before any of them ran; this script runs them and applies those rules.

Every setting is searched the same way (halving.py: four rates, successive halving at the evaluation horizon of 24
epochs of data per worker, seed 1); the winner's run is seed 1's run, and seeds 2 and 3 train at the chosen rate
from the same initialisation (--init-seed 1). Claim (d)'s settings (EAMSGD and EASGD at p = 4, 8, 16, τ = 10) then
continue every run by 8 epochs of data per worker at a time while its best test error fell by more than 0.3 point
over its last 8, up to 48 epochs. All on the simulated backend at a GPU-era clock: 15 ms a worker step,
and the link model's one server moving 2.5 ms worth of an exchange of the CIFAR net's 351,946 parameters, with its
queue (a request waits while the master serves another).

  python3 benchmarks/experiments/decisive.py [--jobs 2] [--claims abc|d] [--only NAME,...]   # run (again: continues)
  python3 benchmarks/experiments/decisive.py --plan                         # the settings and their state
  python3 benchmarks/experiments/decisive.py --report [--json]              # the statistics and the verdicts
  python3 benchmarks/experiments/decisive.py --figures [--plots DIR]         # each claim's curves, seed bands

Resumable: a search continues its runs; a seed's run resumes from its checkpoint. A signal (Ctrl-C, or SIGTERM to
this process alone) stops every run below it at a checkpoint, searches included, and ends with status 130; a run
that fails stops the other lane's the same way, and the script ends with the failure (stopping.py).

Across checkouts: .build/ does not outlive a machine, so every finished run's settings, status and records (and each
finished search's halving.json) are copied into the committed record, benchmarks/experiments/decisive-record/ (small
text, no checkpoints), as they finish; a campaign started in a checkout that lacks them brings them back from the
record first. A search whose rung was recorded but not its end resumes from that rung: a run that must go on without
its checkpoint is trained again from the start (the simulated backend is deterministic, so to the same bits).
  python3 benchmarks/experiments/decisive.py --keep     # copy what has finished into the record now
"""

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time

from campaign import copy_atomically, write_atomically
from halving import records, status, steps_per_worker
from stopping import Stop

HERE = os.path.dirname(os.path.abspath(__file__))
EPOCH = 50000 / 128                        # steps of batch 128 in one pass over the training set
EPOCHS = 24
STEPS = round(EPOCHS * EPOCH)              # 9,375 steps per worker
PARAMETERS = 351946
COMPUTE = 0.015                            # virtual seconds per worker step
EXCHANGE = 0.0025                          # virtual seconds per exchange of the whole net (in and out)
BANDWIDTH = 8 * PARAMETERS / EXCHANGE      # the link model's bytes per second: 8n bytes per exchange
SEEDS = (1, 2, 3)
EXTRA = []
TARGETS = (0.30, 0.25, 0.22)                # test errors whose times are read on the clock (notebook 02)
T975_2DF = 4.302652729911275               # Student's t, 97.5 % quantile, 2 degrees of freedom

RECORD = os.path.join(HERE, "decisive-record")
KEPT = ("config.json", "status.json", "metrics.jsonl")   # a run's settings, status and records: text, no checkpoint
ALSO_KEPT = ("advise.json",)                             # the map's verdict on its final model, where a driver asked
FINISHED = ("completed", "diverged")


def keep(out, record):
    """Copies every finished run (KEPT, and ALSO_KEPT where present) and every finished search's halving.json
    under `out` into `record`, where the record lacks it or holds an older version; returns how many files it
    wrote."""
    written = 0

    def copy(source, target):
        nonlocal written
        with open(source, "rb") as f:
            data = f.read()
        try:
            with open(target, "rb") as f:
                if f.read() == data:
                    return
        except OSError:
            pass
        os.makedirs(os.path.dirname(target), exist_ok=True)
        write_atomically(target, data)
        written += 1

    for root, dirs, files in os.walk(out):
        dirs.sort()
        rel = os.path.relpath(root, out)
        if "halving.json" in files:
            copy(os.path.join(root, "halving.json"), os.path.join(record, rel, "halving.json"))
        if status(root) in FINISHED and all(k in files for k in KEPT):
            for k in KEPT + tuple(k for k in ALSO_KEPT if k in files):
                copy(os.path.join(root, k), os.path.join(record, rel, k))
    return written


def restore(out, record):
    """Brings the record's runs and searches into `out` where `out` has no such run or search at all (a run that
    exists there, finished or not, is newer than the record's or the same); returns how many runs it brought."""
    brought = 0
    for root, dirs, files in os.walk(record):
        dirs.sort()
        target = os.path.join(out, os.path.relpath(root, record))
        if "halving.json" in files and not os.path.exists(os.path.join(target, "halving.json")):
            os.makedirs(target, exist_ok=True)
            copy_atomically(os.path.join(root, "halving.json"), os.path.join(target, "halving.json"))
        if all(k in files for k in KEPT) and not os.path.exists(target + "/metrics.jsonl"):
            os.makedirs(target, exist_ok=True)
            for k in KEPT:                      # metrics.jsonl, which says the run is here, last
                copy_atomically(os.path.join(root, k), os.path.join(target, k))
            brought += 1
    return brought


# name: (label, options, candidate rates)
SETTINGS = {
    "eamsgd-tau16": ("EAMSGD τ = 16", ["--method", "eamsgd", "--workers", "4", "--tau", "16", "--momentum", "0.99"],
                     [0.002, 0.004, 0.008, 0.016]),
    "mdownpour-tau1": ("MDOWNPOUR τ = 1", ["--method", "mdownpour", "--workers", "4", "--momentum", "0.99"],
                       [0.001, 0.002, 0.004, 0.008]),
    "downpour-tau1": ("DOWNPOUR τ = 1", ["--method", "downpour", "--workers", "4", "--tau", "1"],
                      [0.0125, 0.025, 0.05, 0.1]),
    "easgd-tau1": ("EASGD τ = 1", ["--method", "easgd", "--workers", "4", "--tau", "1"], [0.025, 0.05, 0.1, 0.2]),
    "easgd-tau64": ("EASGD τ = 64", ["--method", "easgd", "--workers", "4", "--tau", "64"], [0.025, 0.05, 0.1, 0.2]),
    "downpour-tau16": ("DOWNPOUR τ = 16", ["--method", "downpour", "--workers", "4", "--tau", "16"],
                       [0.0025, 0.005, 0.01, 0.02]),
    # MSGD on the same clock: MDOWNPOUR with one worker and free communication is MSGD bit for bit (tested).
    "msgd": ("MSGD", ["--method", "mdownpour", "--workers", "1", "--momentum", "0.99", "--communication-seconds", "0"],
             [0.001, 0.002, 0.004, 0.008]),
}
# Claim (d): EAMSGD and EASGD at p = 4, 8, 16, τ = 10, each (method, p) searched at the same horizon. EASGD's
# candidates are one factor 2 above (c)'s (stated in notebook 02 before any (d) run: both of (c)'s searches chose
# the top of 0.025–0.2, better at every rung than the rate below it).
D_WORKERS = (4, 8, 16)
D_SETTINGS = []
for _p in D_WORKERS:
    SETTINGS[f"eamsgd-p{_p}"] = (f"EAMSGD p = {_p}, τ = 10", ["--method", "eamsgd", "--workers", str(_p), "--tau", "10",
                                                              "--momentum", "0.99"], [0.002, 0.004, 0.008, 0.016])
    SETTINGS[f"easgd-p{_p}"] = (f"EASGD p = {_p}, τ = 10", ["--method", "easgd", "--workers", str(_p), "--tau", "10"],
                                [0.05, 0.1, 0.2, 0.4])
    D_SETTINGS += [f"eamsgd-p{_p}", f"easgd-p{_p}"]
# --claims: the settings each choice runs, in the stated order.
CLAIMS = {"abc": [n for n in SETTINGS if n not in D_SETTINGS], "d": D_SETTINGS, "abcd": list(SETTINGS)}
FALL = 0.003                               # (d): continue while the best error fell by more than 0.3 point ...
LONGEST_EPOCHS = 48                         # ... over the last 8 epochs of data per worker, up to 48


def extension(run, steps):
    """Claim (d)'s rule for one run past the 24-epoch horizon of `steps` steps per worker (STEPS; a dry run's fewer):
    the budget to continue it to, or None when it stops where it is. At a budget's end (24, 32, 40 epochs), 8 epochs
    more while its best test error fell by more than 0.3 point over the last 8, up to 48; a run stopped on the way
    to its next budget (a signal) goes on to that budget. None for a diverged run or one short of the horizon."""
    rs = records(run)
    if status(run) == "diverged" or not rs:
        return None
    end = steps_per_worker(rs[-1])
    step8 = steps // 3                      # 8 of the horizon's 24 epochs: 3,125 steps per worker
    if end < steps:
        return None
    at = steps + (end - steps) // step8 * step8          # the last budget's end reached
    if end > at:
        return at + step8
    if at + step8 > steps * LONGEST_EPOCHS // EPOCHS:
        return None
    errors = [(steps_per_worker(r), r["test_error"]) for r in rs
              if r.get("test_error") is not None and math.isfinite(r["test_error"])]
    before = [e for s, e in errors if s <= end - step8]
    if not before:
        return None
    return end + step8 if min(before) - min(e for _, e in errors) > FALL else None


def workers(name):
    o = SETTINGS[name][1]
    return int(o[o.index("--workers") + 1])


def options(name, data):
    p = workers(name)
    clock = ["--compute-seconds", repr(COMPUTE)]
    if name != "msgd":
        clock += ["--link-bandwidth", f"{BANDWIDTH:.6g}"]
    # Two evaluations per epoch of data per worker, on all 10,000 test images: 48 on the way.
    every = max(1, round(p * EPOCH / 2))
    return SETTINGS[name][1] + ["--backend", "simulated", "--net", "cifar", "--data", data, "--batch", "128",
                                "--eval-every", str(every), "--checkpoint-every", "10", "--init-seed", "1"] + clock + EXTRA


class Campaign:
    def __init__(self, a, names):
        self.a = a
        self.names = names
        self.stop = Stop("decisive")         # installed while run() runs (stopping.py)
        self.lock = threading.Lock()
        self.keeping = threading.Lock()
        self.started = time.time()
        self.done_at_start = None

    def search_dir(self, name):
        return os.path.join(self.a.out, name, "search")

    def chosen(self, name):
        try:
            with open(os.path.join(self.search_dir(name), "halving.json")) as f:
                return json.load(f)["chosen_eta"]
        except (OSError, ValueError, KeyError):
            return None

    def seed_run(self, name, seed):
        eta = self.chosen(name)
        if eta is None:
            return None
        return os.path.join(self.search_dir(name), f"lr{eta:g}") if seed == 1 else os.path.join(self.a.out, name, f"s{seed}")

    def worker_steps_done(self):
        """Worker steps (summed over workers) in the settings' runs' records so far, and their planned total."""
        done = 0
        for name in self.names:
            base = os.path.join(self.a.out, name)
            for root, dirs, files in os.walk(base):
                if "metrics.jsonl" in files:
                    r = records(root)
                    if r:
                        last = r[-1]
                        done += sum(last["worker_steps"]) if last.get("worker_steps") else last.get("total_steps", last.get("step", 0))
        # Per setting: the search (4 × ¼ + 2 × ¼ + 1 × ½ = 2 budgets) and two more seeds (2 budgets).
        planned = sum(4 * STEPS * workers(n) for n in self.names)
        return done, planned

    def progress(self, what):
        done, planned = self.worker_steps_done()
        if self.done_at_start is None:
            self.done_at_start = done
        elapsed = time.time() - self.started
        rate = (done - self.done_at_start) / elapsed if elapsed > 0 else 0
        eta = f", about {(planned - done) / rate / 3600:.1f} h to go at this session's pace" if rate > 0 else ""
        with self.keeping:                  # one copy at a time: the lanes finish pieces together
            keep(self.a.out, self.a.record)
        print(f"[{time.strftime('%H:%M:%S')}] {what}: {done:,} of {planned:,} worker steps ({100 * done / planned:.1f} %){eta}",
              flush=True)

    def call(self, command, log):
        """COMMAND's exit status, or None when a stop came first (then it is not started)."""
        with open(log, "a") as out, self.lock:
            if self.stop.requested:
                return None
            process = subprocess.Popen(command, stdout=out, stderr=out)
        return process.wait()

    def setting(self, name):
        if self.stop.requested:
            return
        label, _, etas = SETTINGS[name]
        if self.chosen(name) is None:
            self.progress(f"{label}: searching η ∈ {{{', '.join(f'{e:g}' for e in etas)}}}")
            command = [sys.executable, os.path.join(HERE, "halving.py"), "--out", self.search_dir(name),
                       "--etas", ",".join(repr(e) for e in etas), "--steps", str(STEPS), "--jobs", "1",
                       "--easgd", self.a.easgd, "--"] + options(name, self.a.data) + ["--seed", "1"]
            os.makedirs(os.path.join(self.a.out, name), exist_ok=True)
            code = self.call(command, os.path.join(self.a.out, name, "search.log"))
            if self.stop.requested:
                return
            if code != 0:
                raise SystemExit(f"easgd: the search of {name} failed ({code}); see {os.path.join(self.a.out, name, 'search.log')}")
        eta = self.chosen(name)
        for seed in SEEDS[1:]:
            run = self.seed_run(name, seed)
            if status(run) in ("completed", "diverged") or (name in D_SETTINGS and extension(run, STEPS) is not None):
                continue
            self.progress(f"{label}: seed {seed} at η = {eta:g}")
            if os.path.exists(os.path.join(run, "checkpoint.bin")):
                command = [self.a.easgd, "train", "--resume", run, "--steps", str(STEPS), "--quiet"]
            else:
                subprocess.run(["rm", "-rf", run], check=True)
                command = [self.a.easgd, "train"] + options(name, self.a.data) + ["--seed", str(seed), "--lr", repr(eta),
                                                                                   "--steps", str(STEPS), "--quiet", "--out", run]
            code = self.call(command, run + ".log")
            if self.stop.requested:
                return
            if code not in (0, 2):
                raise SystemExit(f"easgd: {' '.join(command)} failed ({code}); see {run}.log")
        if name in D_SETTINGS:
            for seed in SEEDS:
                run = self.seed_run(name, seed)
                while (budget := extension(run, STEPS)) is not None:
                    self.progress(f"{label}: seed {seed} on to {budget / EPOCH:.0f} epochs per worker "
                                  f"(its best error still falling)")
                    command = [self.a.easgd, "train", "--resume", run, "--steps", str(budget), "--quiet"]
                    code = self.call(command, run + ".log")
                    if self.stop.requested:
                        return
                    if code not in (0, 2):
                        raise SystemExit(f"easgd: {' '.join(command)} failed ({code}); see {run}.log")
                    if extension(run, STEPS) == budget:
                        raise SystemExit(f"easgd: {' '.join(command)} did not reach {budget} steps per worker; see {run}.log")
        self.progress(f"{label}: done")

    def run(self, names):
        errors = []

        def lane(queue):
            try:
                while queue and not self.stop.requested:
                    self.setting(queue.pop(0))
            except SystemExit as e:
                errors.append(str(e))
                self.stop.request("a run failed")     # the other lane's runs stop at a checkpoint too

        queue = list(names)
        with self.stop:
            threads = [threading.Thread(target=lane, args=(queue,)) for _ in range(self.a.jobs)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        with self.keeping:                      # what finished before a stop, a search's rungs included
            keep(self.a.out, self.a.record)
        if errors:
            raise SystemExit(errors[0])
        if self.stop.requested:
            raise SystemExit(130)
        self.progress("every setting" if len(names) == len(SETTINGS) else "these settings")

    # MARK: the statistics and the rules stated in notebook 02

    def best(self, run):
        if status(run) == "diverged":
            return 1.0
        errors = [r["test_error"] for r in records(run) if r.get("test_error") is not None and math.isfinite(r["test_error"])]
        return min(errors) if errors and status(run) == "completed" else None

    def unstable(self, run):
        """The instability sign: diverged, or a test loss above the untrained net's after the first epoch of data."""
        if status(run) == "diverged":
            return True
        r = [x for x in records(run) if x.get("test_loss") is not None]
        if not r:
            return None
        start = r[0]["test_loss"]
        return any(x["test_loss"] > start for x in r if steps_per_worker(x) >= EPOCH)

    def group(self, name):
        """A setting's seed runs and their best test errors (None while a run is to train further: (d)'s runs
        until the rule stops them)."""
        runs = [self.seed_run(name, s) for s in SEEDS]
        bests = [self.best(r) if r and (name not in D_SETTINGS or extension(r, STEPS) is None) else None for r in runs]
        return runs, bests

    @staticmethod
    def seconds_to(rs, target):
        """The virtual seconds of the first of a run's records RS at or below TARGET (the GPU-era clock), or None."""
        return next((r.get("seconds") for r in rs if r.get("test_error") is not None and r["test_error"] <= target), None)

    def core_hours(self):
        """Every run's wall seconds so far (one thread each; a resumed run's are summed over its parts), searched
        candidates included, in core-hours; from OUT where a run is there, else from the record."""
        seconds = {}
        for root in (self.a.record, self.a.out):       # OUT last: its runs are the newer
            for d, dirs, files in os.walk(root):
                if "metrics.jsonl" in files:
                    r = records(d)
                    if r and r[-1].get("wall_seconds") is not None:
                        seconds[os.path.relpath(d, root)] = r[-1]["wall_seconds"]
        return sum(seconds.values()) / 3600

    @staticmethod
    def paired(a, b):
        """A − B per seed, its mean and 95 % interval (Student's t, 2 degrees of freedom)."""
        d = [x - y for x, y in zip(a, b)]
        mean = sum(d) / len(d)
        sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (len(d) - 1))
        half = T975_2DF * sd / math.sqrt(len(d))
        return {"differences": d, "mean": mean, "se": sd / math.sqrt(len(d)), "low": mean - half, "high": mean + half}

    @staticmethod
    def verdict(p):
        """The claim says A's error is lower (A − B < 0): confirmed if the interval lies below 0; refuted if it
        lies above, or B is ahead in every seed; otherwise inconclusive at this budget."""
        if p["high"] < 0:
            return "confirmed"
        if p["low"] > 0 or all(x > 0 for x in p["differences"]):
            return "refuted"
        return "inconclusive at this budget"

    def report(self):
        groups = {n: self.group(n) for n in SETTINGS}
        out = {"settings": {}, "claims": {}}
        for n, (runs, bests) in groups.items():
            finished = [records(r) if b is not None else None for r, b in zip(runs, bests)]
            out["settings"][n] = {"label": SETTINGS[n][0], "eta": self.chosen(n), "best_test_error": bests,
                                  "unstable": [self.unstable(r) if r else None for r in runs], "runs": runs,
                                  "seconds_to_target": {f"{t:g}": [self.seconds_to(rs, t) if rs is not None else None
                                                                   for rs in finished] for t in TARGETS}}
        out["core_hours"] = self.core_hours()
        ready = lambda *ns: all(None not in groups[n][1] for n in ns)

        def compare(a, b):
            return self.paired(groups[a][1], groups[b][1]) if ready(a, b) else None

        # (a) EAMSGD at τ = 16 against every comparator.
        rivals = ["mdownpour-tau1", "downpour-tau1", "easgd-tau1", "easgd-tau64", "msgd"]
        pairs = {r: compare("eamsgd-tau16", r) for r in rivals}
        if all(pairs.values()):
            vs = {r: self.verdict(p) for r, p in pairs.items()}
            v = "refuted" if "refuted" in vs.values() else "confirmed" if set(vs.values()) == {"confirmed"} else "inconclusive at this budget"
            out["claims"]["a"] = {"verdict": v, "against": {r: dict(pairs[r], verdict=vs[r]) for r in rivals}}
        # (b) DOWNPOUR: (i) better at τ = 1 than at τ = 16; (ii) the instability sign at τ = 16 and not at τ = 1.
        p = compare("downpour-tau1", "downpour-tau16")
        if p:
            signs16 = sum(bool(self.unstable(r)) for r in groups["downpour-tau16"][0])
            signs1 = sum(bool(self.unstable(r)) for r in groups["downpour-tau1"][0])
            ii = "confirmed" if signs16 >= 2 and signs1 == 0 else "refuted" if signs16 == 0 else "inconclusive at this budget"
            out["claims"]["b"] = {"i": dict(p, verdict=self.verdict(p)), "ii": {"verdict": ii, "unstable_seeds_tau16": signs16,
                                                                                "unstable_seeds_tau1": signs1}}
        # (c) EASGD: lower error at τ = 64 than at τ = 1.
        p = compare("easgd-tau64", "easgd-tau1")
        if p:
            out["claims"]["c"] = dict(p, verdict=self.verdict(p))
        # (d) Per seed the lower of EAMSGD's and EASGD's best errors, L_p; the rule on L_16 − L_4, L_8 beside.
        if ready(*D_SETTINGS):
            low = {p: [min(x, y) for x, y in zip(groups[f"eamsgd-p{p}"][1], groups[f"easgd-p{p}"][1])] for p in D_WORKERS}
            p = self.paired(low[16], low[4])
            out["claims"]["d"] = dict(p, verdict=self.verdict(p), lowest={str(k): v for k, v in low.items()},
                                      p8_minus_p4=self.paired(low[8], low[4]))
        for n in D_SETTINGS:
            ends = [records(r)[-1:] if r else [] for r in groups[n][0]]
            out["settings"][n]["epochs_per_worker"] = [steps_per_worker(e[0]) / EPOCH if e else None for e in ends]
        return out


# Each claim's figure: its settings' seed groups (mean and min–max band) on the virtual clock, with the targets; the
# test error's range where plot's own would hide the differences ((a)'s six settings end within 4 points).
FIGURES = {
    "a": ("(a) EAMSGD τ = 16 against the comparators, p = 4", ["eamsgd-tau16", "mdownpour-tau1", "downpour-tau1", "easgd-tau1",
                                                              "easgd-tau64", "msgd"], "18:40"),
    "b": ("(b) DOWNPOUR at τ = 1 and τ = 16, p = 4", ["downpour-tau1", "downpour-tau16"], None),
    "c": ("(c) EASGD at τ = 1 and τ = 64, p = 4", ["easgd-tau1", "easgd-tau64"], None),
    "d": ("(d) EAMSGD and EASGD at p = 4, 8, 16, τ = 10", D_SETTINGS, None),
}


def plot(easgd, runs, labels, title, prefix, targets, error_range=None):
    """easgd plot of RUNS grouped by seed (one curve per label, mean and min–max band), the TARGETS (percent) marked,
    PREFIX.png and .svg; a failure ends the driver with easgd's own message."""
    command = [easgd, "plot"] + runs + ["--group-seeds", "--targets", ",".join(f"{t:g}" for t in targets)]
    for text in labels:
        command += ["--label", text]
    if error_range:
        command += ["--error-range", error_range]
    command += ["--title", title, "--format", "png,svg", "--out", prefix]
    os.makedirs(os.path.dirname(prefix) or ".", exist_ok=True)
    r = subprocess.run(command, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"easgd: {' '.join(command)} failed ({r.returncode}): {r.stderr.strip()}")
    return prefix


def figures(c, plots):
    """Draws every claim whose settings have all three seeds' runs complete; returns the figures' prefixes."""
    drawn = []
    for claim, (title, names, error_range) in FIGURES.items():
        groups = {n: c.group(n) for n in names}
        if any(None in bests for _, bests in groups.values()):
            print(f"({claim}): not drawn yet, its runs are not all complete")
            continue
        prefix = plot(c.a.easgd, [r for n in names for r in groups[n][0]],
                      [f"{SETTINGS[n][0]}, η = {c.chosen(n):g} (3 seeds)" for n in names],
                      f"{title}: mean of 3 seeds, min–max band; 15 ms a step, 2.5 ms an exchange, queued",
                      os.path.join(plots, f"decisive-{claim}"), (30, 25, 22), error_range)
        drawn.append(prefix)
        print(f"({claim}): {prefix}.png")
    return drawn


def show(report):
    for n, s in report["settings"].items():
        bests = ", ".join("—" if b is None else f"{100 * b:.2f}" for b in s["best_test_error"])
        eta = "not yet chosen" if s["eta"] is None else f"η = {s['eta']:g}"
        done = [b for b in s["best_test_error"] if b is not None]
        times = []
        for t, ts in s["seconds_to_target"].items():
            hit = [x for x in ts if x is not None]
            if done:
                times.append(f"{100 * float(t):g} %: " + (f"{sum(hit) / len(hit):.1f} s ({len(hit)}/{len(done)})" if hit else f"never (0/{len(done)})"))
        epochs = ("; epochs per worker: " + ", ".join("—" if e is None else f"{e:.0f}" for e in s["epochs_per_worker"])
                  if s.get("epochs_per_worker") and done else "")
        print(f"{s['label']:21s} {eta:16s} best test error by seed (%): {bests}"
              + (f"; virtual seconds to {', '.join(times)}" if times else "") + epochs)
    fmt = lambda p: (f"{100 * p['mean']:+.2f} points (95 % {100 * p['low']:+.2f} to {100 * p['high']:+.2f}; "
                     f"per seed {', '.join(f'{100 * x:+.2f}' for x in p['differences'])}): {p['verdict']}")
    c = report["claims"]
    if "a" in c:
        print(f"(a) EAMSGD τ = 16 outperforms the comparators: {c['a']['verdict']}")
        for r, p in c["a"]["against"].items():
            print(f"      − {SETTINGS[r][0]}: {fmt(p)}")
    if "b" in c:
        print(f"(b-i) DOWNPOUR τ = 1 − τ = 16: {fmt(c['b']['i'])}")
        ii = c["b"]["ii"]
        print(f"(b-ii) the instability sign in {ii['unstable_seeds_tau16']} of 3 seeds at τ = 16, "
              f"{ii['unstable_seeds_tau1']} at τ = 1: {ii['verdict']}")
    if "c" in c:
        print(f"(c) EASGD τ = 64 − τ = 1: {fmt(c['c'])}")
    if "d" in c:
        low = ", ".join(f"p = {p}: " + ", ".join(f"{100 * x:.2f}" for x in xs) for p, xs in c["d"]["lowest"].items())
        print(f"(d) the lower of EAMSGD's and EASGD's best errors by seed (%): {low}")
        print(f"(d) L_16 − L_4: {fmt(c['d'])}")
        print(f"      L_8 − L_4, beside it: {fmt(dict(c['d']['p8_minus_p4'], verdict=Campaign.verdict(c['d']['p8_minus_p4'])))}")
    print(f"core-hours so far: {report['core_hours']:.1f} (every run's wall seconds, searches included, one thread each)")
    missing = [k for k in "abcd" if k not in c]
    if missing:
        print(f"not yet decided (runs to come): {', '.join(missing)}")


def main():
    global STEPS, EXTRA
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=".build/experiments/decisive")
    ap.add_argument("--data", default="../shared/data/cifar10-jpeg")
    ap.add_argument("--easgd", default=".build/release/easgd")
    ap.add_argument("--jobs", type=int, default=2, help="settings at a time (one thread each)")
    ap.add_argument("--claims", default="abcd", help="the claims whose settings to run: abc, d or abcd (default; "
                    "(a)–(c)'s settings before (d)'s)")
    ap.add_argument("--only", help="comma-separated setting names (default: the claims', in the stated order)")
    ap.add_argument("--steps", type=int, default=STEPS, help="steps per worker at the horizon (a dry run's fewer)")
    ap.add_argument("--extra", default="", help="options added to every run (a dry run's --train-subset, say)")
    ap.add_argument("--plan", action="store_true")
    ap.add_argument("--report", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--figures", action="store_true")
    ap.add_argument("--plots", default="plots/experiments")
    ap.add_argument("--record", default=RECORD, help="the committed record of finished runs (default: %(default)s)")
    ap.add_argument("--keep", action="store_true", help="copy what has finished into the record, and stop")
    a = ap.parse_args()
    STEPS, EXTRA = a.steps, a.extra.split()
    if a.claims not in CLAIMS:
        raise SystemExit(f"easgd: --claims {a.claims}: {', '.join(CLAIMS)}")
    names = a.only.split(",") if a.only else CLAIMS[a.claims]
    unknown = [n for n in names if n not in SETTINGS]
    if unknown or a.jobs < 1:
        raise SystemExit(f"easgd: unknown setting {unknown[0]} (the settings: {', '.join(SETTINGS)})" if unknown
                         else "easgd: --jobs must be at least 1")
    c = Campaign(a, names)
    if a.keep:
        print(f"decisive: {keep(a.out, a.record)} files written into {a.record}")
        return
    brought = restore(a.out, a.record)
    if brought:
        print(f"decisive: {brought} finished runs brought from {a.record} into {a.out}")
    if a.plan:
        for n in names:
            label, _, etas = SETTINGS[n]
            print(f"{n}: {label}; η ∈ {{{', '.join(f'{e:g}' for e in etas)}}}; chosen: {c.chosen(n)}")
            print(f"  easgd train {' '.join(options(n, a.data))} --seed S --lr η --steps {STEPS} --out ...")
        done, planned = c.worker_steps_done()
        print(f"{done:,} of {planned:,} worker steps done ({100 * done / planned:.1f} %)")
    elif a.figures:
        figures(c, a.plots)
    elif a.report:
        r = c.report()
        print(json.dumps(r, indent=2)) if a.json else show(r)
    else:
        if not os.path.isdir(a.data):
            raise SystemExit(f"easgd: {a.data}: not a directory (the CIFAR-10 copy; --data)")
        c.run(names)


if __name__ == "__main__":
    main()
