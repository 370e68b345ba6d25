#!/usr/bin/env python3
"""The paper's Figures 2 and 3 at a budget that can show them: a resumable campaign of simulated-backend runs.

  benchmarks/experiments/campaign.py [--jobs N] [--out DIR] [--data DIR] [--easgd BIN] [--only SUBSTRING] [--queue A,B]
                                     [--plan | --status | --figures [--plots DIR] | --report]

Phases, in order (a later phase starts when the runs it depends on have finished):
  search   each method's learning rate over three values at the 2-epoch budget (200 steps per worker at p = 4):
           tau = 4 (EASGD, EAMSGD, DOWNPOUR), tau = 16 (the same three), tau = 1 (MDOWNPOUR, DOWNPOUR), MSGD (p = 1).
  figure2  p = 4, tau in {16, 64, 4, 1}: EASGD, EAMSGD, DOWNPOUR at 8 epochs of data per worker (3,125 steps), MDOWNPOUR
           at tau = 1, MSGD on the same virtual clock, and a second seed of EASGD, EAMSGD and DOWNPOUR at tau = 16.
  figure3  tau = 10 for EASGD and EAMSGD, tau = 1 for DOWNPOUR, p in {4, 8, 16}, at 4 epochs per worker (1,563 steps).
Each method's learning rate in figures 2 and 3 is the one with the lowest best test error in its search: the tau = 4
search for tau in {1, 4} (tau = 1 for MDOWNPOUR and for DOWNPOUR at tau = 1), the tau = 16 search for tau in {16, 64}
and for figure 3's tau = 10.

The manifest (OUT/manifest.json) lists every run with its arguments, cost and state. A run whose directory holds a
finished status (completed or diverged) is skipped; one with a checkpoint is resumed from it (easgd train --resume);
any other directory is removed and the run started again. A finished run's records (not its checkpoint) are copied
into benchmarks/experiments/record/NAME, which is committed: a run with a record there and no directory under OUT
counts as finished (a new checkout or machine has no OUT), and so does one listed in record/transcribed.json (runs
whose records were lost, with their numbers as notebook 02 recorded them; their curves cannot be drawn, so a panel
with one of them is not drawn). Runs go JOBS at a time (default: the cores), one compute thread each; --queue A,B
runs only the named runs, in that order (an unknown name: exit 1); a transcribed run named there is run again, and
its record, once it finishes, takes the place of its transcribed numbers. SIGINT or SIGTERM stops every run at a checkpoint
(easgd train writes one on SIGINT) and exits; the next invocation continues. Progress and an ETA are printed as runs start and finish and once a minute.

The simulated clock (stated, and the same for every run): each worker step costs COMPUTE_SECONDS (default 0.1245 s,
the single-thread training step of this net at batch 128 on oneDNN, `easgd bench train --threads 1`, 1,028 img/s on
the machine of 2026-12-01), each exchange COMMUNICATION_SECONDS (default 0.0075 s: what an MPI worker here waits for
the master's answer per exchange of the 351,946 parameters, 0.04-0.05 s over 6 exchanges, benchmarks/README.md).
"""

import argparse
import json
import os
import signal
import subprocess
import shutil
import sys
import time

RECORD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "record")
EPOCH_IMAGES = 50_000
BATCH = 128
SEARCH_STEPS = 200                                  # per worker: 2 epochs of data at p = 4
FIG2_STEPS = -(-8 * EPOCH_IMAGES // BATCH)          # 8 epochs per worker: 3,125 steps
FIG3_STEPS = -(-4 * EPOCH_IMAGES // BATCH)          # 4 epochs per worker: 1,563 steps
EVALUATIONS = 16                                    # test evaluations per run of the figures (plus one at step 0)
SEARCH_EVALUATIONS = 4                              # and per search run

# Learning rates searched, each bracketing the best of the 2026-12-01 check at tau = 4 where it had one
# (notebook 02), extended upward where its best sat at the top of the range. After the campaign's first search
# (2026-12-01), EAMSGD's best at tau = 16 sat at the bottom (0.016: 53.2 %) and DOWNPOUR's at tau = 4 at the top
# (0.05: 68.3 %), so 0.008 and 0.1 were added; the figures' runs wait for them.
SEARCH = {
    "easgd": [0.05, 0.1, 0.2, 0.4],
    "eamsgd": [0.008, 0.016, 0.032, 0.064],
    "downpour": [0.005, 0.02, 0.05, 0.1],
    "mdownpour": [0.002, 0.004, 0.008],
    "msgd": [0.008, 0.016, 0.032],
}
MOMENTUM = {"eamsgd": 0.99, "mdownpour": 0.99, "msgd": 0.99}


def run_spec(name, phase, method, workers, tau, lr, steps, seed=1):
    evaluations = SEARCH_EVALUATIONS if phase == "search" else EVALUATIONS
    args = ["--method", "mdownpour" if method == "msgd" else method, "--workers", str(workers), "--lr", repr(lr),
            "--steps", str(steps), "--seed", str(seed),
            "--eval-every", str(max(1, workers * steps // evaluations))]
    if method in ("easgd", "eamsgd", "downpour"):
        args += ["--tau", str(tau)]
    if method in MOMENTUM:
        args += ["--momentum", str(MOMENTUM[method])]
    return {"name": name, "phase": phase, "method": method, "workers": workers, "tau": tau, "lr": lr, "seed": seed,
            "steps": steps, "worker_steps": workers * steps, "args": args}


def search_runs():
    runs = []
    for tau, methods in ((4, ["easgd", "eamsgd", "downpour"]), (16, ["easgd", "eamsgd", "downpour"]),
                         (1, ["mdownpour", "downpour"])):
        for method in methods:
            for lr in SEARCH[method]:
                runs.append(run_spec(f"search-{method}-p4-tau{tau}-lr{lr}", "search", method, 4, tau, lr, SEARCH_STEPS))
    for lr in SEARCH["msgd"]:
        runs.append(run_spec(f"search-msgd-p1-lr{lr}", "search", "msgd", 1, 1, lr, SEARCH_STEPS))
    return runs


def chosen_lr(results, method, tau):
    """The searched learning rate with the lowest best test error, or None while the search is unfinished."""
    # Only MDOWNPOUR and DOWNPOUR were searched at tau = 1; EASGD and EAMSGD at tau = 1 take their tau = 4 rate.
    search_tau = 1 if (method in ("mdownpour", "msgd") or (tau == 1 and method == "downpour")) else (4 if tau <= 4 else 16)
    if method == "msgd":
        names = [f"search-msgd-p1-lr{lr}" for lr in SEARCH["msgd"]]
    else:
        names = [f"search-{method}-p4-tau{search_tau}-lr{lr}" for lr in SEARCH[method]]
    best = None
    for name, lr in zip(names, SEARCH[method]):
        r = results.get(name)
        if r is None or r["status"] not in ("completed", "diverged"):
            return None
        error = r["best_test_error"] if r["best_test_error"] is not None else 1.0
        if best is None or error < best[0]:
            best = (error, lr)
    return best[1]


def main_runs(results, estimate=False):
    """Figures 2 and 3, each with its chosen learning rate; runs whose search is unfinished are left out (all of
    them are listed, with no learning rate, when `estimate`)."""
    runs = []

    def add(name, phase, method, workers, tau, steps, seed=1):
        lr = 0.0 if estimate else chosen_lr(results, method, tau)
        if lr is not None:
            runs.append(run_spec(name, phase, method, workers, tau, lr, steps, seed))

    for tau in (16, 64, 4, 1):
        for method in ("eamsgd", "easgd", "downpour"):
            add(f"fig2-{method}-p4-tau{tau}", "figure2", method, 4, tau, FIG2_STEPS)
        if tau == 16:
            for method in ("eamsgd", "easgd", "downpour"):
                add(f"fig2-{method}-p4-tau16-seed2", "figure2", method, 4, 16, FIG2_STEPS, seed=2)
    add("fig2-mdownpour-p4-tau1", "figure2", "mdownpour", 4, 1, FIG2_STEPS)
    add("fig2-msgd-p1", "figure2", "msgd", 1, 1, FIG2_STEPS)
    for p in (4, 8, 16):
        for method, tau in (("eamsgd", 10), ("easgd", 10), ("downpour", 1)):
            add(f"fig3-{method}-p{p}-tau{tau}", "figure3", method, p, tau, FIG3_STEPS)
    return runs


class Campaign:
    def __init__(self, options):
        self.o = options
        self.out = options.out
        self.results = {}
        self.running = {}          # name -> (Popen, start time, run)
        self.known = set()
        self.failed = set()
        self.stopping = False
        self.queue = options.queue.split(",") if options.queue else None
        if self.queue is not None:
            known = {r["name"] for r in search_runs() + main_runs({}, estimate=True)}
            unknown = [name for name in self.queue if name not in known]
            if unknown:
                sys.exit(f"campaign: --queue: no such run: {', '.join(unknown)} (campaign.py --plan lists them)")
        try:
            with open(os.path.join(RECORD, "transcribed.json")) as f:
                # Transcribed before 2026-12-06, when `easgd runs --json` named the steps per worker "steps".
                self.transcribed = {name: {("steps_per_worker" if k == "steps" else k): v for k, v in t.items()}
                                    for name, t in json.load(f)["runs"].items()}
        except (OSError, ValueError, KeyError):
            self.transcribed = {}
        # A transcribed run named in --queue is run again (to draw its curves); until the rerun finishes, every
        # other invocation (--report, --figures) keeps its transcribed numbers.
        self.rerun = {name for name in self.queue or [] if name in self.transcribed}

    # --- state of the runs on disk -----------------------------------------------------------------------------
    def run_dir(self, name):
        """The run's directory: its working one under OUT, else its record (committed when it finished), else None."""
        for base in (self.out, RECORD):
            path = os.path.join(base, name)
            if os.path.isdir(path):
                return path
        return None

    def summary_of(self, name):
        """The run's summary (easgd runs --json) from its directory; for a transcribed run whose directory holds no
        finished run (none, or a rerun on its way), the transcribed numbers, marked "transcribed" -- except, in the
        campaign that reruns it (--queue), where the rerun's own state decides what is run."""
        path = self.run_dir(name)
        s = None
        if path is not None:
            r = subprocess.run([self.o.easgd, "runs", "--json", path], capture_output=True, text=True)
            try:
                s = json.loads(r.stdout)[0] if r.returncode == 0 else None
            except (ValueError, IndexError):
                s = None
        t = self.transcribed.get(name)
        if t is not None and name not in self.rerun and (s is None or s["status"] not in ("completed", "diverged")):
            return dict(t, transcribed=True)
        return s

    def refresh(self, runs):
        for run in runs:
            if run["name"] not in self.running:
                s = self.summary_of(run["name"])
                if s is not None:
                    self.results[run["name"]] = s
                else:
                    self.results.pop(run["name"], None)

    def state(self, run):
        if run["name"] in self.running:
            return "running"
        s = self.results.get(run["name"])
        if s is None:
            return "pending"
        if s["status"] in ("completed", "diverged"):
            return s["status"]
        return "interrupted" if os.path.exists(os.path.join(self.out, run["name"], "checkpoint.bin")) else "pending"

    def plan(self):
        """Every run of the campaign as far as it can be planned now; a run is read from disk when first seen (after
        that, when it finishes or at a progress report)."""
        runs = search_runs()
        self.refresh([r for r in runs if r["name"] not in self.known])
        self.known.update(r["name"] for r in runs)
        main = main_runs(self.results)
        self.refresh([r for r in main if r["name"] not in self.known])
        self.known.update(r["name"] for r in main)
        return [r for r in runs + main if self.o.only is None or self.o.only in r["name"]]

    # --- cost and progress ------------------------------------------------------------------------------------
    def step_cost(self):
        """Wall seconds per worker step: from this campaign's runs under way once they have a record past step 0,
        else from the finished runs that know theirs: the figures' runs once one has (a search run evaluates 4 times
        as often per step), else the search's (default 0.16). The transcribed runs carry no wall seconds (the build
        they ran on restarted a resumed run's from 0); every build since 6d4357c carries them on across a resume."""
        # The runs under way first: they measure this machine now (a campaign continued on another machine kind
        # runs at another speed: 0.147 s per step on an AVX-512 EPYC, 0.265 s on an AVX2-only one).
        now = [s for name, s in self.results.items() if name in self.running and s.get("wall_seconds")
               and s.get("steps_per_worker")]
        done = [(name, s) for name, s in self.results.items() if s["status"] == "completed" and s.get("wall_seconds")]
        done = now or [s for name, s in done if name.startswith("fig")] or [s for _, s in done]
        steps = sum(s["steps_per_worker"] * s["workers"] for s in done)
        return sum(s["wall_seconds"] for s in done) / steps if steps > 0 else 0.16

    def progress(self, runs):
        cost = self.step_cost()
        total = sum(r["worker_steps"] for r in runs) * cost
        done = 0.0
        for r in runs:
            s = self.results.get(r["name"])
            if self.state(r) in ("completed", "diverged"):
                done += r["worker_steps"] * cost
            elif s is not None:
                done += min(r["worker_steps"], s["steps_per_worker"] * r["workers"]) * cost
        planned = {r["name"] for r in runs}
        unplanned = [r for r in main_runs({}, estimate=True) if r["name"] not in planned
                     and (self.o.only is None or self.o.only in r["name"])]
        total += sum(r["worker_steps"] for r in unplanned) * cost
        pending_main = f" ({len(unplanned)} runs of figures 2 and 3 wait for their search)" if unplanned else ""
        finished = sum(1 for r in runs if self.state(r) in ("completed", "diverged"))
        remaining = max(0.0, total - done)
        eta = remaining / max(1, self.o.jobs)
        return (f"campaign: {finished}/{len(runs) + len(unplanned)} runs finished, {len(self.running)} running; "
                f"{done / 3600:.2f} of {total / 3600:.2f} core-hours{pending_main}; "
                f"ETA {int(eta // 3600)} h {int(eta % 3600 // 60):02d} min at {self.o.jobs} jobs "
                f"({cost:.3f} s per worker step)")

    def write_manifest(self, runs):
        entries = []
        for r in runs:
            entry = {k: r[k] for k in ("name", "phase", "method", "workers", "tau", "lr", "seed", "steps")}
            entry["state"] = self.state(r)
            s = self.results.get(r["name"])
            if s is not None:
                entry.update({k: s.get(k) for k in ("best_test_error", "final_test_error", "wall_seconds",
                                                     "virtual_seconds")})
                entry["steps_done"] = s.get("steps_per_worker")
            entry["command"] = self.command(r)
            entries.append(entry)
        manifest = {"compute_seconds": self.o.compute_seconds, "communication_seconds": self.o.communication_seconds,
                    "data": self.o.data, "runs": entries}
        temporary = os.path.join(self.out, ".manifest.json.tmp")
        with open(temporary, "w") as f:
            json.dump(manifest, f, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, os.path.join(self.out, "manifest.json"))

    # --- running ----------------------------------------------------------------------------------------------
    def command(self, run):
        directory = os.path.join(self.out, run["name"])
        if self.state(run) == "interrupted":
            return [self.o.easgd, "train", "--resume", directory, "--quiet"]
        return ([self.o.easgd, "train"] + run["args"] +
                ["--backend", "simulated", "--data", self.o.data, "--net", "cifar", "--batch", str(BATCH),
                 "--compute-seconds", str(self.o.compute_seconds),
                 "--communication-seconds", str(self.o.communication_seconds if run["workers"] > 1 else 0),
                 "--checkpoint-every", "5", "--quiet", "--out", directory])

    def start(self, run):
        directory = os.path.join(self.out, run["name"])
        state = self.state(run)
        if state == "pending" and os.path.exists(directory):
            subprocess.run(["rm", "-rf", directory], check=True)
        log = open(directory + ".log", "a")
        command = self.command(run)
        log.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} {'resume' if state == 'interrupted' else 'start'}: "
                  + " ".join(command) + "\n")
        log.flush()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self.running[run["name"]] = (process, time.time(), run)
        print(f"{time.strftime('%H:%M:%S')} {'resumed' if state == 'interrupted' else 'started'} {run['name']} "
              f"(lr {run['lr']}, {run['steps']} steps per worker)", flush=True)

    def reap(self):
        for name, (process, started, run) in list(self.running.items()):
            code = process.poll()
            if code is None:
                continue
            del self.running[name]
            s = self.summary_of(name)
            if s is not None:
                self.results[name] = s
                if s["status"] in ("completed", "diverged"):
                    self.archive(name)
            outcome = s["status"] if s else "no records"
            error = f", best test error {100 * s['best_test_error']:.2f} %" if s and s["best_test_error"] is not None else ""
            print(f"{time.strftime('%H:%M:%S')} {name}: exit {code}, {outcome}{error}, "
                  f"{(time.time() - started) / 60:.1f} min", flush=True)
            if code not in (0, 2) and not self.stopping:
                self.failed.add(name)

    def archive(self, name):
        """Copies a finished run's records (config, metrics, status; not its checkpoint) into RECORD/NAME, which is
        committed: a campaign takes days of core time, and its working directory lives under .build, which a new
        checkout or machine does not have. Written under a temporary name and renamed into place."""
        source = os.path.join(self.out, name)
        target = os.path.join(RECORD, name)
        temporary = target + f".tmp-{os.getpid()}"
        shutil.rmtree(temporary, ignore_errors=True)
        os.makedirs(temporary)
        for file in sorted(os.listdir(source)):
            if file.startswith(".") or file.startswith("checkpoint") or not os.path.isfile(os.path.join(source, file)):
                continue
            with open(os.path.join(source, file), "rb") as f, open(os.path.join(temporary, file), "wb") as g:
                g.write(f.read())
                g.flush()
                os.fsync(g.fileno())
        shutil.rmtree(target, ignore_errors=True)
        os.rename(temporary, target)

    # --- figures and summary -----------------------------------------------------------------------------------
    def figures(self, plots="plots/experiments"):
        """Figure 2 (one panel per tau) and Figure 3 from the finished runs, and the summary table (easgd runs)."""
        runs = self.plan()
        finished = {r["name"]: r for r in runs if self.state(r) in ("completed", "diverged")}
        os.makedirs(plots, exist_ok=True)
        names = {"easgd": "EASGD", "eamsgd": "EAMSGD", "downpour": "DOWNPOUR", "mdownpour": "MDOWNPOUR", "msgd": "MSGD"}

        def plot(curves, title, prefix):
            present = [(label, dirs) for label, dirs in curves if all(d in finished for d in dirs)]
            if not present:
                return
            lost = [d for _, dirs in present for d in dirs if self.results[d].get("transcribed")]
            if lost:
                # Drawn without them, the panel would misstate the figure; the committed one (if any) stays.
                print(f"campaign: {prefix} not drawn: the records of {', '.join(lost)} were lost "
                      f"(their numbers are in {RECORD}/transcribed.json)")
                return
            command = [self.o.easgd, "plot"]
            for _, dirs in present:
                command += [self.run_dir(d) for d in dirs]
            for label, _ in present:
                command += ["--label", label]
            if any(len(dirs) > 1 for _, dirs in present):
                command.append("--group-seeds")
            command += ["--title", title, "--log-y", "--out", os.path.join(plots, prefix)]
            subprocess.run(command, check=True)

        for tau in (1, 4, 16, 64):
            # One colour per method in every panel: the elastic methods and DOWNPOUR first, then MSGD, then
            # MDOWNPOUR (only at tau = 1).
            curves = []
            for method in ("easgd", "eamsgd", "downpour"):
                name = f"fig2-{method}-p4-tau{tau}"
                dirs = [d for d in (name, name + "-seed2") if d in finished]      # a seed still running is left out
                if name in finished:
                    curves.append((f"{names[method]}, η = {finished[name]['lr']:g}" + (" (2 seeds)" if len(dirs) > 1 else ""), dirs))
            if "fig2-msgd-p1" in finished:
                curves.append(("MSGD p = 1, η = %g" % finished["fig2-msgd-p1"]["lr"], ["fig2-msgd-p1"]))
            if tau == 1 and "fig2-mdownpour-p4-tau1" in finished:
                curves.append((f"MDOWNPOUR, η = {finished['fig2-mdownpour-p4-tau1']['lr']:g}", ["fig2-mdownpour-p4-tau1"]))
            plot(curves, f"Figure 2: CIFAR-10 copy, p = 4, τ = {tau}, 8 epochs per worker (simulated clock)",
                 f"figure2-tau{tau}")
        curves = []
        for method, tau in (("eamsgd", 10), ("easgd", 10), ("downpour", 1)):
            for p in (4, 8, 16):
                name = f"fig3-{method}-p{p}-tau{tau}"
                if name in finished:
                    curves.append((f"{names[method]} p = {p}, τ = {tau}, η = {finished[name]['lr']:g}", [name]))
        plot(curves, "Figure 3: CIFAR-10 copy, p ∈ {4, 8, 16}, 4 epochs per worker (simulated clock)", "figure3")
        directories = [self.run_dir(n) for n in finished if not self.results[n].get("transcribed")]
        if directories:
            os.makedirs(self.out, exist_ok=True)   # a new checkout draws from the record alone
            for flag, file in (([], "summary.txt"), (["--json"], "summary.json")):
                r = subprocess.run([self.o.easgd, "runs"] + flag + sorted(directories), capture_output=True, text=True,
                                   check=True)
                write_atomically(os.path.join(self.out, file), r.stdout)
            print(f"campaign: figures in {plots}, summary in {self.out}/summary.txt and summary.json")

    def report(self):
        """Markdown tables of every finished run of figures 2 and 3 (best and final test error, virtual seconds), and
        the paper's claims (a)-(d) checked mechanically against them, for notebook 02."""
        runs = self.plan()
        done = {r["name"]: (r, self.results[r["name"]]) for r in runs
                if self.state(r) in ("completed", "diverged") and r["name"] in self.results}
        names = {"easgd": "EASGD", "eamsgd": "EAMSGD", "downpour": "DOWNPOUR", "mdownpour": "MDOWNPOUR", "msgd": "MSGD"}

        def cell(name):
            if name not in done:
                return "(not run yet)"
            run, s = done[name]
            best, final = s.get("best_test_error"), s.get("final_test_error")
            text = f"{100 * best:.2f} / {100 * final:.2f} %" if best is not None and final is not None else "no record"
            return text + (" (diverged)" if s["status"] == "diverged" else "")

        def best(name):
            return done[name][1].get("best_test_error") if name in done else None

        lines = ["Figure 2, p = 4, 3,125 steps per worker (8 epochs of data): best / final test error", "",
                 "| tau | " + " | ".join(names[m] for m in ("easgd", "eamsgd", "downpour")) + " | MDOWNPOUR |",
                 "| --- | --- | --- | --- | --- |"]
        for tau in (1, 4, 16, 64):
            row = [cell(f"fig2-{m}-p4-tau{tau}") + (f"; seed 2: {cell(f'fig2-{m}-p4-tau{tau}-seed2')}" if tau == 16 else "")
                   for m in ("easgd", "eamsgd", "downpour")]
            row.append(cell("fig2-mdownpour-p4-tau1") if tau == 1 else "")
            lines.append(f"| {tau} | " + " | ".join(row) + " |")
        lines += ["", f"MSGD, p = 1, the same clock: {cell('fig2-msgd-p1')}", "",
                  "Figure 3, 1,563 steps per worker (4 epochs of data): best / final test error", "",
                  "| p | EASGD tau = 10 | EAMSGD tau = 10 | DOWNPOUR tau = 1 |", "| --- | --- | --- | --- |"]
        for p in (4, 8, 16):
            lines.append(f"| {p} | {cell(f'fig3-easgd-p{p}-tau10')} | {cell(f'fig3-eamsgd-p{p}-tau10')} | "
                         f"{cell(f'fig3-downpour-p{p}-tau1')} |")
        lines += ["", "Claims, checked on the best test errors (a claim whose runs are not all finished says so):"]

        def verdict(ok, why):
            return ("holds" if ok else "does not hold") + f": {why}"
        def waiting(so_far):
            return "waiting for runs" + (f" (so far {so_far})" if so_far else "")
        # (a) EAMSGD below every comparator (EASGD, DOWNPOUR, MSGD, and MDOWNPOUR at tau = 1) at every tau, by more at
        # tau in {16, 64} than at {1, 4}.
        a = []
        for tau in (1, 4, 16, 64):
            others = ([f"fig2-{m}-p4-tau{tau}" for m in ("easgd", "downpour")] + ["fig2-msgd-p1"]
                      + (["fig2-mdownpour-p4-tau1"] if tau == 1 else []))
            e, o = best(f"fig2-eamsgd-p4-tau{tau}"), [best(n) for n in others]
            if e is not None and any(x is not None for x in o):
                a.append((tau, e, min(x for x in o if x is not None), None not in o))
        text = ", ".join(f"tau {t}: {100 * e:.2f} % against the best {'other' if full else 'other finished'} {100 * m:.2f} %"
                         for t, e, m, full in a)
        beaten = [(t, e, m) for t, e, m, _ in a if e >= m]
        a = [(t, e, m) for t, e, m, full in a if full]
        if beaten:
            # Settled whatever the runs still to come: a finished comparator is already at least as good.
            lines.append("- (a) EAMSGD outperforms the comparators at every tau: does not hold, whatever the runs to come: "
                         + ", ".join(f"tau {t}: EAMSGD {100 * e:.2f} %, a comparator {100 * m:.2f} %" for t, e, m in beaten)
                         + f" (so far: {text})")
        elif len(a) < 4:
            lines.append("- (a) EAMSGD outperforms the comparators at every tau, more so at {16, 64}: " + waiting(text))
        else:
            margin = {t: m - e for t, e, m in a}
            more = min(margin[16], margin[64]) > max(margin[1], margin[4])
            lines.append("- (a) EAMSGD outperforms the comparators at every tau: " + verdict(all(e < m for _, e, m in a), text)
                         + "; more so at {16, 64}: " + verdict(more, ", ".join(f"margin at tau {t} {100 * margin[t]:.2f} points"
                                                                                for t in (1, 4, 16, 64))))
        # (b) DOWNPOUR best at small tau, unstable at tau 16 and 64: diverged, or its test loss rose above the
        # untrained net's at some evaluation, or it ended more than 5 points above its best or near chance.
        d = {tau: done[f"fig2-downpour-p4-tau{tau}"] for tau in (1, 4, 16, 64) if f"fig2-downpour-p4-tau{tau}" in done}
        bests = {t: v[1]["best_test_error"] for t, v in d.items()}
        finals = {t: v[1]["final_test_error"] for t, v in d.items()}
        unstable = {t: finals[t] - bests[t] > 0.05 or finals[t] > 0.85 or v[1]["status"] == "diverged"
                    or self.loss_rose(f"fig2-downpour-p4-tau{t}") for t, v in d.items()}
        text = ", ".join(f"tau {t}: best {100 * bests[t]:.2f} %, final {100 * finals[t]:.2f} %"
                         + (" (unstable)" if unstable[t] else "") for t in sorted(d))
        claim = "- (b) the DOWNPOUR family (MDOWNPOUR at tau = 1) does best at tau in {1, 4} and is unstable at {16, 64}: "
        small = [x for x in [bests.get(1), bests.get(4), best("fig2-mdownpour-p4-tau1")] if x is not None]
        if "fig2-mdownpour-p4-tau1" in done:
            text += f", MDOWNPOUR tau 1: best {100 * best('fig2-mdownpour-p4-tau1'):.2f} %"
        if not all(t in d for t in (4, 16, 64)):
            lines.append(claim + waiting(text))
        else:
            # Runs still to come at tau = 1 can only lower the small-tau side, so a verdict that holds is settled.
            ok = min(small) < min(bests[16], bests[64]) and unstable[16] and unstable[64]
            pending = 1 not in d or "fig2-mdownpour-p4-tau1" not in done
            lines.append(claim + verdict(ok, text) + (" (tau = 1 runs still to come can only lower the tau in {1, 4} "
                                                     "side)" if ok and pending else ""))
        # (c) EASGD improves with tau.
        e = {tau: best(f"fig2-easgd-p4-tau{tau}") for tau in (1, 4, 16, 64)}
        text = ", ".join(f"tau {t}: {100 * x:.2f} %" for t, x in e.items() if x is not None)
        claim = "- (c) EASGD's test error improves with larger tau: "
        if None in e.values():
            lines.append(claim + waiting(text))
        else:
            x = [e[t] for t in (1, 4, 16, 64)]
            lines.append(claim + verdict(all(u > v for u, v in zip(x, x[1:])), text))
        # (d) The lowest error of EASGD/EAMSGD falls with p. `upper` is the lower of the finished runs at each p,
        # `low` the same once both have finished.
        ps = (4, 8, 16)
        found = [{m: best(f"fig3-{m}-p{p}-tau10") for m in ("easgd", "eamsgd") if best(f"fig3-{m}-p{p}-tau10") is not None}
                 for p in ps]
        upper = [min(f.values(), default=None) for f in found]
        low = [u if len(f) == 2 else None for u, f in zip(upper, found)]
        so_far = "; ".join(f"p {p}: " + ", ".join(f"{names[m]} {100 * x:.2f} %" for m, x in f.items())
                           for p, f in zip(ps, found) if f)
        # Settled early when a smaller p's finished run is already at least as good as a larger p's lowest.
        early = [(i, j) for i in range(3) for j in range(i + 1, 3)
                 if upper[i] is not None and low[j] is not None and upper[i] <= low[j]]
        claim = "- (d) the lowest error of EASGD/EAMSGD falls with p: "
        if None not in low:
            lines.append(claim + verdict(all(x > y for x, y in zip(low, low[1:])),
                                         ", ".join(f"p {p}: {100 * x:.2f} %" for p, x in zip(ps, low))))
        elif early:
            i, j = early[0]
            lines.append(claim + f"does not hold, whatever the runs to come: p {ps[i]} already reaches "
                         f"{100 * upper[i]:.2f} %, p {ps[j]}'s lowest is {100 * low[j]:.2f} % (so far {so_far})")
        else:
            lines.append(claim + waiting(so_far))
        return "\n".join(lines)

    def loss_rose(self, name):
        """Whether the run's test loss rose above its step-0 value (the untrained net's) at a later evaluation."""
        if self.results[name].get("transcribed"):
            return self.transcribed[name]["test_loss_rose"]
        losses = []
        with open(os.path.join(self.run_dir(name), "metrics.jsonl")) as f:
            for line in f:
                record = json.loads(line)
                losses.append(record.get("test_loss"))
        return len(losses) > 1 and losses[0] is not None and any(x is None or x > losses[0] for x in losses[1:])

    def stop(self, signum, frame):
        if self.stopping:
            return
        self.stopping = True
        print(f"{time.strftime('%H:%M:%S')} stopping: every run checkpoints and exits; run the campaign again to "
              "continue", flush=True)
        for process, _, _ in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)

    def run(self):
        os.makedirs(self.out, exist_ok=True)
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGTERM, self.stop)
        last_report = 0.0
        while True:
            runs = self.plan()
            self.write_manifest(runs)
            todo = [r for r in runs if self.state(r) in ("pending", "interrupted") and r["name"] not in self.failed]
            if self.queue is not None:
                order = {name: i for i, name in enumerate(self.queue)}
                todo = sorted((r for r in todo if r["name"] in order), key=lambda r: order[r["name"]])
            if self.stopping:
                if not self.running:
                    print(self.progress(runs), flush=True)
                    return 130
            else:
                while todo and len(self.running) < self.o.jobs:
                    self.start(todo.pop(0))
            if not self.running and not todo:
                print(self.progress(runs), flush=True)
                if self.o.only is None and self.queue is None:
                    self.figures(self.o.plots)
                if self.failed:
                    print(f"campaign: {len(self.failed)} run(s) failed (see their .log): " + ", ".join(sorted(self.failed)))
                    return 1
                return 0
            if time.time() - last_report > 60:
                for name in list(self.running):          # the steps the running runs have done
                    s = self.summary_of(name)
                    if s is not None:
                        self.results[name] = s
                print(self.progress(runs), flush=True)
                last_report = time.time()
            time.sleep(2)
            self.reap()


def write_atomically(path, text):
    """Writes `text` (str or bytes) to `path` under a temporary name in the same directory, fsynced, then renamed
    into place: a reader finds the old file or the new one, never half of one."""
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "wb" if isinstance(text, bytes) else "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


def copy_atomically(source, target):
    """SOURCE's bytes into TARGET by write_atomically."""
    with open(source, "rb") as f:
        write_atomically(target, f.read())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default=".build/experiments/campaign")
    parser.add_argument("--data", default="../shared/data/cifar10-jpeg")
    parser.add_argument("--easgd", default=".build/release/easgd")
    parser.add_argument("--compute-seconds", type=float, default=float(os.environ.get("COMPUTE_SECONDS", 0.1245)))
    parser.add_argument("--communication-seconds", type=float,
                        default=float(os.environ.get("COMMUNICATION_SECONDS", 0.0075)))
    parser.add_argument("--only", help="only the runs whose name contains this")
    parser.add_argument("--queue", help="run only these runs (comma-separated names), in this order")
    parser.add_argument("--plots", default="plots/experiments", help="where --figures (and the end of a campaign) draws")
    parser.add_argument("--plan", action="store_true", help="print the runs, their state and cost, and exit")
    parser.add_argument("--status", action="store_true", help="print the progress line and exit")
    parser.add_argument("--figures", action="store_true",
                        help="draw the figures and write the summary from the runs finished so far, and exit")
    parser.add_argument("--report", action="store_true",
                        help="print the tables of figures 2 and 3 and the paper's claims checked on them, and exit")
    options = parser.parse_args()
    if options.jobs < 1:
        sys.exit("campaign: --jobs must be at least 1")
    campaign = Campaign(options)
    if options.figures:
        campaign.figures(options.plots)
        return 0
    if options.report:
        campaign.plan()
        print(campaign.report())
        return 0
    if options.plan or options.status:
        os.makedirs(options.out, exist_ok=True)
        runs = campaign.plan()
        if options.plan:
            for r in runs:
                print(f"{r['phase']:8} {r['name']:38} lr {r['lr']:<6} {r['worker_steps']:6} worker steps  "
                      f"{campaign.state(r)}")
        print(campaign.progress(runs))
        return 0
    return campaign.run()


if __name__ == "__main__":
    sys.exit(main())
