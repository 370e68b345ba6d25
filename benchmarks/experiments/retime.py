#!/usr/bin/env python3
"""Re-time finished simulated runs under another clock (issue 33, item 4): the campaign's clock charged 0.1245 s per
worker step and 7.5 ms per exchange with no queue at the master, which leaves the paper's communication argument no
room; a GPU-era ratio (e.g. 15 ms of compute, 2.5 ms per exchange) with the exchanges served one at a time at the
master (a FIFO queue, as the simulator's link model serves them) can change which method reaches a test error first.

The records hold each evaluation's total worker steps; what each worker did is fixed by the run (round-robin order,
equal costs), so the time of the S-th step to complete under a new clock follows from an event simulation of p
workers: an elastic worker (EASGD, EAMSGD) exchanges before its steps 1, τ + 1, 2τ + 1, …, a DOWNPOUR worker after its
steps τ, 2τ, …; an exchange takes E seconds and, with the queue, waits for the master to be free. Without the queue
and at the run's own clock this must give back the records' seconds exactly (checked for every record). What the
re-timing leaves out: a different clock could reorder arrivals and so change the trajectory itself; with equal costs
the order stays cyclic, so the error curves are taken as they were.

  python3 benchmarks/experiments/retime.py RUN_DIR... [--compute 0.015] [--exchange 0.0025] [--targets 40,35,30] [--json]
"""

import argparse
import heapq
import json
import math
import os
import sys


def settings(run):
    with open(os.path.join(run, "config.json")) as f:
        s = json.load(f)["settings"]
    e = s.get("engine", s)   # configs before the schema's rename kept the method's settings under "engine"
    return {"method": e["method"], "workers": e["workers"], "tau": e.get("tau", 1),
            "compute": s.get("compute_seconds", s.get("computeSeconds")),
            "exchange": s.get("communication_seconds", s.get("communicationSeconds", 0.0))}


def completion_times(method, p, tau, steps_per_worker, compute, exchange, queue):
    """The sorted times at which the p workers' steps complete, each worker taking steps_per_worker steps.

    A worker's step: for EASGD and EAMSGD an exchange first when its count of steps done is a multiple of τ, then
    the computation; for DOWNPOUR the computation, then the push when the count reaches a multiple of τ (the step
    completes with it). An exchange requested at t starts at t, or with the queue when the master is free (requests
    served in the order they arrive, ties in worker order)."""
    elastic = method in ("easgd", "eamsgd")
    if not elastic and method != "downpour":
        raise SystemExit(f"easgd: retime.py models easgd, eamsgd and downpour, not {method}")
    done = [0] * p
    free = 0.0
    times = []
    events = [(0.0, i, 0) for i in range(p)]     # (time, worker, phase: 0 before a step, 1 computing done, 2 push)
    heapq.heapify(events)

    def serve(t):
        nonlocal free
        start = max(t, free) if queue else t
        free = start + exchange
        return start + exchange

    while events:
        t, i, phase = heapq.heappop(events)
        if phase == 0:
            ready = serve(t) if elastic and done[i] % tau == 0 else t
            end = ready + compute
            if not elastic and (done[i] + 1) % tau == 0:
                heapq.heappush(events, (end, i, 2))
                continue
        else:
            end = serve(t)
        times.append(end)
        done[i] += 1
        if done[i] < steps_per_worker:
            heapq.heappush(events, (end, i, 0))
    return sorted(times)


def read(run):
    """The run's settings and records."""
    with open(os.path.join(run, "metrics.jsonl")) as f:
        return settings(run), [json.loads(line) for line in f]


def retime(s, records, compute, exchange, queue):
    """Each record's (total steps, test error, seconds under the given clock, seconds it holds)."""
    steps = max(max(r.get("worker_steps") or [r["step"] // s["workers"]]) for r in records)
    times = completion_times(s["method"], s["workers"], s["tau"], steps, compute, exchange, queue)
    out = []
    for r in records:
        k = r.get("total_steps", r.get("step"))
        out.append((k, r["test_error"], 0.0 if k == 0 else times[k - 1], r["seconds"]))
    return out


def first_time(rows, target):
    return next((t for _, e, t, _ in rows if math.isfinite(e) and e <= target), None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--compute", type=float, default=0.015, help="seconds per worker step (default 0.015)")
    ap.add_argument("--exchange", type=float, default=0.0025, help="seconds per exchange (default 0.0025)")
    ap.add_argument("--targets", default="40,35,30", help="test errors in percent")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    targets = [float(x) / 100 for x in a.targets.split(",")]
    result = []
    for run in a.runs:
        s, records = read(run)
        own = retime(s, records, s["compute"], s["exchange"], False)
        worst = max(abs(t - recorded) for _, _, t, recorded in own)
        if worst > 1e-6 * max(1.0, own[-1][3]):
            raise SystemExit(f"easgd: {run}: re-timing at the run's own clock misses its records by {worst:.3g} s")
        clocks = {"own": own, "new": retime(s, records, a.compute, a.exchange, False),
                  "new_queue": retime(s, records, a.compute, a.exchange, True)}
        entry = {"run": run, "method": s["method"], "workers": s["workers"], "tau": s["tau"],
                 "own_clock": {"compute": s["compute"], "exchange": s["exchange"]}, "own_clock_check_seconds": worst,
                 "end_seconds": {k: v[-1][2] for k, v in clocks.items()},
                 "time_to_target": [{"target_test_error": t, **{k: first_time(v, t) for k, v in clocks.items()}} for t in targets]}
        result.append(entry)
    if a.json:
        print(json.dumps(result, indent=2))
        return
    print(f"clocks: own (the run's), new ({a.compute * 1000:g} ms a step, {a.exchange * 1000:g} ms an exchange, no queue), "
          f"new_queue (the same, exchanges one at a time at the master)")
    for e in result:
        name = os.path.basename(os.path.normpath(e["run"]))
        cells = []
        for t in e["time_to_target"]:
            f = lambda v: "-" if v is None else f"{v:.1f}"
            cells.append(f"{t['target_test_error'] * 100:g}%: {f(t['own'])} / {f(t['new'])} / {f(t['new_queue'])} s")
        end = e["end_seconds"]
        print(f"{name:26s} end {end['own']:.1f} / {end['new']:.1f} / {end['new_queue']:.1f} s;  " + ";  ".join(cells))


if __name__ == "__main__":
    main()
