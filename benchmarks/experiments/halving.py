#!/usr/bin/env python3
"""Learning rates chosen by successive halving at the evaluation horizon (issue 33, item 3), the same way for every
method and setting: every candidate η trains for a quarter of the budget (with three rungs), the better half goes on
to half the budget, the better half of those to the whole; the winner is the best at the horizon, not at 200 steps.
Each run is one `easgd train`, continued rung by rung with `easgd train --resume RUN --steps N`, so an interrupted
search resumes where it stopped (its state is its runs' records); a signal (Ctrl-C, or SIGTERM to it alone) stops
its runs at their checkpoints and ends it with 130, nothing written (stopping.py). A candidate's score at a rung is
the mean of its last two test errors at or before the rung's budget (one noisy evaluation does not decide); a
diverged run scores 1. Beside each candidate: the map's largest stable η at the sharpness its run reached after the
first rung (`easgd advise`), so the search shows where it stands against the stability boundary.

  python3 benchmarks/experiments/halving.py --out DIR --etas 0.004,0.008,0.016,0.032 --steps 3125 [--rungs 3] \\
      [--jobs 2] [--easgd .build/release/easgd] -- --method eamsgd --workers 4 --tau 16 --backend simulated ...

Writes DIR/halving.json (every rung: each candidate's budget, score and whether it went on; the winner) and prints
a table. The options after -- are the runs' own (everything but --lr, --steps, --out).
"""

import argparse
import concurrent.futures
import json
import math
import os
import subprocess
import sys

from campaign import write_atomically
from stopping import Stop


def records(run):
    path = os.path.join(run, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def status(run):
    try:
        with open(os.path.join(run, "status.json")) as f:
            return json.load(f)["status"]
    except (OSError, ValueError, KeyError):
        return None


def steps_per_worker(record):
    return max(record["worker_steps"]) if record.get("worker_steps") else record.get("total_steps", record.get("step", 0))


def score(run, budget):
    """The mean of the last two test errors at or before `budget` steps per worker; 1 for a diverged run."""
    if status(run) == "diverged":
        return 1.0
    errors = [r["test_error"] for r in records(run) if steps_per_worker(r) <= budget and r.get("test_error") is not None]
    errors = [e for e in errors if math.isfinite(e)]
    return sum(errors[-2:]) / len(errors[-2:]) if errors else None


def reached(run, budget):
    return status(run) == "diverged" or any(steps_per_worker(r) >= budget for r in records(run))


def train(easgd, run, eta, budget, extra, stop=None):
    """Trains `run` up to `budget` steps per worker: a new run, or its continuation; nothing once STOP (a
    stopping.Stop) is requested, and a run the signal stopped is not a failure."""
    if reached(run, budget) or (stop is not None and stop.requested):
        return 0
    log = open(run + ".log", "a")
    if os.path.exists(os.path.join(run, "checkpoint.bin")):
        command = [easgd, "train", "--resume", run, "--steps", str(budget), "--quiet"]
    else:
        if os.path.exists(run):
            subprocess.run(["rm", "-rf", run], check=True)
        command = [easgd, "train", *extra, "--lr", repr(eta), "--steps", str(budget), "--out", run, "--quiet"]
    code = subprocess.run(command, stdout=log, stderr=log).returncode
    if stop is not None and stop.requested:
        return code
    if code not in (0, 2):       # 2: the run diverged, a result
        raise SystemExit(f"easgd: {' '.join(command)} failed ({code}); see {run}.log")
    return code


def ask_map(easgd, run):
    """`easgd advise RUN --json` (its figure and table into RUN/advise.*): the map's answer on the run's model as a
    dict, or None and easgd's message when it could not answer."""
    r = subprocess.run([easgd, "advise", run, "--json", "--out", os.path.join(run, "advise")], capture_output=True, text=True)
    try:
        if r.returncode == 0:
            return json.loads(r.stdout), None
    except ValueError:
        pass
    return None, f"easgd advise {run} failed ({r.returncode}): {r.stderr.strip()}"


def largest_stable_eta(easgd, run):
    said, _ = ask_map(easgd, run)
    return None if said is None else said.get("margin", {}).get("eta_max")


def main():
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--etas", required=True, help="candidate learning rates, comma-separated")
    ap.add_argument("--steps", type=int, required=True, help="the horizon: steps (per worker) of the last rung")
    ap.add_argument("--rungs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--easgd", default=".build/release/easgd")
    a = ap.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    etas = [float(x) for x in a.etas.split(",")]
    if len(set(etas)) != len(etas) or any(not (e > 0 and math.isfinite(e)) for e in etas) or a.rungs < 1 or a.steps < 2 ** (a.rungs - 1):
        raise SystemExit("easgd: --etas takes distinct positive rates; --rungs ≥ 1; --steps at least 2^(rungs − 1)")
    if any(x in extra for x in ("--lr", "--eta", "--steps", "--out", "--resume")):
        raise SystemExit("easgd: the options after -- may not give --lr, --steps, --out or --resume (the search sets them)")
    os.makedirs(a.out, exist_ok=True)
    runs = {eta: os.path.join(a.out, f"lr{eta:g}") for eta in etas}
    alive = list(etas)
    history = []
    with Stop("halving") as stop:    # a signal: its runs stop at their checkpoints, no rung is scored or written
        for rung in range(a.rungs):
            budget = a.steps // 2 ** (a.rungs - 1 - rung)
            with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
                list(pool.map(lambda e: train(a.easgd, runs[e], e, budget, extra, stop), alive))
            if stop.requested:
                raise SystemExit(130)
            scores = {e: score(runs[e], budget) for e in alive}
            ranked = sorted(alive, key=lambda e: (scores[e] if scores[e] is not None else 2.0, e))
            keep = ranked[:max(1, math.ceil(len(alive) / 2))] if rung < a.rungs - 1 else ranked[:1]
            entry = {"rung": rung, "steps_per_worker": budget,
                     "candidates": [{"eta": e, "run": runs[e], "score_test_error": scores[e], "status": status(runs[e]),
                                     "goes_on": e in keep} for e in ranked]}
            if rung == 0:
                for c in entry["candidates"]:
                    c["map_largest_stable_eta"] = largest_stable_eta(a.easgd, c["run"]) if c["status"] != "diverged" else None
            history.append(entry)
            alive = keep
    if stop.requested:               # during the map's advise: a rung without it is not written
        raise SystemExit(130)
    result = {"etas": etas, "horizon_steps_per_worker": a.steps, "rungs": history, "chosen_eta": alive[0],
              "options": extra}
    write_atomically(os.path.join(a.out, "halving.json"), json.dumps(result, indent=2) + "\n")
    for entry in history:
        print(f"rung {entry['rung']} ({entry['steps_per_worker']} steps per worker):")
        for c in entry["candidates"]:
            s = "-" if c["score_test_error"] is None else f"{100 * c['score_test_error']:.2f} %"
            m = c.get("map_largest_stable_eta")
            beside = "" if m is None else f"  (map: stable up to η = {m:.4g} at its sharpness)"
            print(f"  η = {c['eta']:<8g} {s:>8s}  {c['status'] or '':10s} {'→ goes on' if c['goes_on'] else ''}{beside}")
    print(f"chosen: η = {alive[0]:g}; wrote {os.path.join(a.out, 'halving.json')}")


if __name__ == "__main__":
    main()
