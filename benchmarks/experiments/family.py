#!/usr/bin/env python3
"""DiLoCo and its kin against synchronous training and elastic averaging, and what each codec costs, on the CIFAR net
(notebook 06, section 9: the design, the hypotheses and the rules are stated there before any of these runs).

  python3 benchmarks/experiments/family.py [--jobs 2]          # run (again: continues where it stopped)
  python3 benchmarks/experiments/family.py --plan              # the runs and their state
  python3 benchmarks/experiments/family.py --report            # the two tables and the verdicts
  python3 benchmarks/experiments/family.py --figures [--plots plots/outer]   # the curves and the codecs' score
                                                                             # against bytes, once all seeds are in

Every run: the paper's CIFAR net on the CIFAR copy, p = 4 workers on the simulated backend, batch 128, weight decay
the default, --init-seed 1, 2,343 steps per worker (6 epochs of data per worker, the decisive campaign's first rung),
two evaluations per epoch of data per worker on all 10,000 test images, and the decisive campaign's GPU-era clock:
15 ms a worker step, the link model's one server moving an exchange of the whole net in 2.5 ms, its queue on, so an
exchange's time follows its bytes.

Rates: each base below is searched once at this horizon (halving.py with one rung: four rates, seed 1, the lowest
mean of the last two test errors wins); the winner's run is seed 1's run of its base, and every configuration that
takes the base's rate trains seeds 2 and 3 (and seed 1 where it is not the base) at it. DOWNPOUR takes η = 0.1, the
decisive campaign's choice at this very horizon (its search's first rung, committed in decisive-record/).

Order: the family table's seeds first, then each codec group's (EASGD's, DiLoCo H = 50's, DOWNPOUR's: the cheapest to
complete first), seed by seed within each, so that a campaign stopped part way has whole comparisons (ORDER).

A signal (Ctrl-C, or SIGTERM to this process alone) stops every run it started, each at a checkpoint, searches
included, and ends with status 130; run again to continue (stopping.py).

Runs go into OUT (default .build/experiments/family): OUT/search/BASE/lrETA and OUT/NAME-sS. Finished runs' settings,
status and records (and each search's halving.json) are copied into benchmarks/experiments/family-record/, which is
committed: a run the record holds finished is not trained again, and --report reads the record where OUT lacks a run.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compress  # noqa: E402  (the rule's verdict, at this section's margin)
import outer  # noqa: E402  (the launcher, the records and the t-interval)
from decisive import BANDWIDTH, COMPUTE, EPOCH, SEEDS, STEPS as DECISIVE_STEPS, keep as keep_finished, plot, Campaign  # noqa: E402
from halving import ask_map, records, status, steps_per_worker  # noqa: E402
from campaign import write_atomically  # noqa: E402
from stopping import Stop  # noqa: E402

RECORD = os.path.join(HERE, "family-record")
WORKERS = 4
STEPS = DECISIVE_STEPS // 4               # 2,343 steps per worker: the decisive search's first rung
MARGIN = 1.0                              # percentage points: "matches" when the paired interval lies within ±MARGIN
TARGETS = (0.35, 0.30)
DOWNPOUR_ETA = 0.1                        # decisive-record/downpour-tau1/search/halving.json, rung 0 (tested)
FINISHED = ("completed", "diverged")

# The bases searched, with their candidate rates (a factor 2 apart).
BASES = {
    "sync-sgd": (["--method", "diloco", "--tau", "1", "--outer", "sgd", "--outer-lr", "1"], [0.05, 0.1, 0.2, 0.4]),
    "diloco-h1": (["--method", "diloco", "--tau", "1"], [0.025, 0.05, 0.1, 0.2]),
    "easgd-tau10": (["--method", "easgd", "--tau", "10"], [0.025, 0.05, 0.1, 0.2]),
    "eamsgd-tau10": (["--method", "eamsgd", "--tau", "10", "--momentum", "0.99"], [0.002, 0.004, 0.008, 0.016]),
}
CODECS = {
    "fp16": ["--compress", "fp16"],
    "int8": ["--compress", "int8"],
    "int4": ["--compress", "int4"],
    "int4-ef": ["--compress", "int4", "--error-feedback"],
}
DOWNPOUR = ["--method", "downpour", "--tau", "1"]

# name: (the base whose rate it takes, or None for DOWNPOUR's stated rate; its options; its table)
CONFIGS = {
    "sync-sgd": ("sync-sgd", BASES["sync-sgd"][0], "family"),
    "diloco-h1": ("diloco-h1", BASES["diloco-h1"][0], "family"),
    "diloco-h10": ("diloco-h1", ["--method", "diloco", "--tau", "10"], "family"),
    "diloco-h50": ("diloco-h1", ["--method", "diloco", "--tau", "50"], "family"),
    "diloco-h100": ("diloco-h1", ["--method", "diloco", "--tau", "100"], "family"),
    "easgd-tau10": ("easgd-tau10", BASES["easgd-tau10"][0], "family"),
    "eamsgd-tau10": ("eamsgd-tau10", BASES["eamsgd-tau10"][0], "family"),
    "downpour": (None, DOWNPOUR, "codec"),
}
for _c, _o in CODECS.items():
    CONFIGS[f"downpour-{_c}"] = (None, DOWNPOUR + _o, "codec")
for _c, _o in CODECS.items():
    CONFIGS[f"diloco-h50-{_c}"] = ("diloco-h1", CONFIGS["diloco-h50"][1] + _o, "codec")
for _c, _o in CODECS.items():
    if not _c.endswith("-ef"):             # EASGD's coded exchange keeps what the codec lost by construction
        CONFIGS[f"easgd-tau10-{_c}"] = ("easgd-tau10", CONFIGS["easgd-tau10"][1] + _o, "codec")


def label(name):
    """A configuration's name as a reader says it: "DiLoCo H = 50, int4 + error feedback"."""
    base, codec = name, None
    for c in CODECS:
        if name.endswith("-" + c):
            base, codec = name[:-len(c) - 1], c.replace("-ef", " + error feedback")
    said = {"sync-sgd": "synchronous SGD", "downpour": "DOWNPOUR τ = 1"}.get(base)
    for prefix, words in (("diloco-h", "DiLoCo H = "), ("easgd-tau", "EASGD τ = "), ("eamsgd-tau", "EAMSGD τ = ")):
        if base.startswith(prefix):
            said = words + base[len(prefix):]
    return said + (f", {codec}" if codec else "")


# The codec table's groups: each method uncompressed, then through each of its codecs (the report's rows, each
# judged against the group's first; a figure each).
CODEC_GROUPS = {m: [m] + [n for n in CONFIGS if n.startswith(m + "-") and CONFIGS[n][2] == "codec"]
                for m in ("downpour", "diloco-h50", "easgd-tau10")}
FAMILY = [n for n, c in CONFIGS.items() if c[2] == "family"]

# The order the runs are trained in: one table or group at a time, seed by seed within it (the family table, then
# the codec groups, the cheapest to complete first), so that a campaign stopped part way has whole comparisons.
ORDER = []
for _group in [FAMILY] + [CODEC_GROUPS[m] for m in ("easgd-tau10", "diloco-h50", "downpour")]:
    ORDER += [(n, s) for s in SEEDS for n in _group if (n, s) not in ORDER]
assert sorted(ORDER) == sorted((n, s) for n in CONFIGS for s in SEEDS)

# The figures (--figures): each configuration's seeds as one curve (mean, min–max band) on the virtual clock.
FIGURES = {"family-cifar": ("DiLoCo against synchronous SGD and elastic averaging", FAMILY)}
for _m, _names in CODEC_GROUPS.items():
    FIGURES[f"codecs-cifar-{_m}"] = (f"{label(_m)} and its codecs", _names)
BYTES_FIGURE = "codecs-cifar-bytes"       # and every codec configuration's score against its bytes (PREFIX.png, .dat)


def common(data):
    every = round(WORKERS * EPOCH / 2)    # two evaluations per epoch of data per worker: 12 on the way
    return ["--workers", str(WORKERS), "--backend", "simulated", "--net", "cifar", "--data", data, "--batch", "128",
            "--eval-every", str(every), "--checkpoint-every", "10", "--init-seed", "1",
            "--compute-seconds", repr(COMPUTE), "--link-bandwidth", f"{BANDWIDTH:.6g}"]


class Family:
    def __init__(self, out, data, easgd, record=RECORD, steps=STEPS):
        self.out, self.data, self.easgd, self.record, self.steps = out, data, easgd, record, steps
        self.stop = Stop("family")           # installed while run() runs (stopping.py)

    def search_dir(self, base, root=None):
        return os.path.join(root or self.out, "search", base)

    def chosen(self, base):
        for root in (self.out, self.record):
            try:
                with open(os.path.join(self.search_dir(base, root), "halving.json")) as f:
                    return json.load(f)["chosen_eta"], root
            except (OSError, ValueError, KeyError):
                continue
        return None, None

    def eta(self, name):
        base = CONFIGS[name][0]
        return DOWNPOUR_ETA if base is None else self.chosen(base)[0]

    def run_dir(self, name, seed):
        """Where NAME's seed lives: a base's seed 1 is its search's winner; elsewhere OUT/NAME-sS, or the record's."""
        base = CONFIGS[name][0]
        if seed == 1 and base == name:
            eta, root = self.chosen(name)
            return None if eta is None else os.path.join(self.search_dir(name, root), f"lr{eta:g}")
        run = os.path.join(self.out, f"{name}-s{seed}")
        recorded = os.path.join(self.record, f"{name}-s{seed}")
        if status(run) not in FINISHED and not os.path.exists(run) and status(recorded) in FINISHED:
            return recorded
        return run

    def keep(self):
        """Copies every finished run (and every finished search's halving.json) from OUT into the record (the
        decisive campaign's copy: only what changed, each file under a temporary name, then renamed)."""
        if os.path.isdir(self.out):
            keep_finished(self.out, self.record)

    def search(self, base, jobs):
        if self.chosen(base)[0] is not None:
            return
        options, etas = BASES[base]
        command = [sys.executable, os.path.join(HERE, "halving.py"), "--out", self.search_dir(base), "--rungs", "1",
                   "--etas", ",".join(repr(e) for e in etas), "--steps", str(self.steps), "--jobs", str(jobs),
                   "--easgd", self.easgd, "--"] + options + common(self.data) + ["--seed", "1"]
        os.makedirs(self.search_dir(base), exist_ok=True)
        with open(self.search_dir(base) + ".log", "a") as log:
            code = subprocess.run(command, stdout=log, stderr=log).returncode
        if self.stop.requested:
            return
        if code != 0:
            raise SystemExit(f"easgd: the search of {base} failed ({code}); see {self.search_dir(base)}.log")
        self.keep()
        print(f"search {base}: η = {self.chosen(base)[0]:g}", flush=True)

    def arguments(self, name, seed, out):
        return (["train"] + CONFIGS[name][1] + common(self.data) + ["--lr", repr(self.eta(name)), "--steps", str(self.steps),
                "--seed", str(seed), "--quiet", "--out", out])

    def launch(self, name, seed):
        run = self.run_dir(name, seed)
        if run is None or status(run) not in FINISHED:
            run, how = outer.launch(self.easgd, name, seed, self.out, arguments=self.arguments, record=self.record, stop=self.stop)
        else:
            how = "kept"
        self.advise(run)
        return run, how

    def advise(self, run):
        """The map on a completed run's final center: `easgd advise RUN --json` (h_max, the sharpness there, and h*,
        the largest the run's settings keep stable), kept as RUN/advise.json and copied into the record with the
        run. It needs the run's checkpoint, so only a run trained in this checkout is asked; a diverged one is not."""
        target = os.path.join(run, "advise.json")
        if (self.stop.requested or status(run) != "completed" or os.path.exists(target)
                or not os.path.exists(os.path.join(run, "checkpoint.bin"))):
            return
        said, failure = ask_map(self.easgd, run)
        if self.stop.requested:
            return
        if said is None:
            raise SystemExit(f"easgd: {failure}")
        write_atomically(target, json.dumps(said, indent=2) + "\n")

    def run(self, jobs):
        with self.stop:
            for base in BASES:
                if not self.stop.requested:
                    self.search(base, jobs)
            if not self.stop.requested:
                outer.run_all(types.SimpleNamespace(out=self.out, jobs=jobs), CONFIGS, list(SEEDS), self.launch,
                              order=ORDER)
        self.keep()                             # what finished before a stop
        if self.stop.requested:
            raise SystemExit(130)

    # MARK: the statistics and the stated rules

    @staticmethod
    def score(run, rs=None):
        """The mean of the last two test errors (at 5.5 and 6 epochs of data per worker); 0.9 (chance) if diverged.
        RS: the run's records, when already read."""
        if status(run) == "diverged":
            return 0.9
        errors = [r["test_error"] for r in (records(run) if rs is None else rs)
                  if r.get("test_error") is not None and math.isfinite(r["test_error"])]
        return sum(errors[-2:]) / len(errors[-2:]) if errors else None

    time_to = staticmethod(Campaign.seconds_to)      # virtual seconds to a test error in a run's records, or None

    @staticmethod
    def verdict(mean, half, margin=MARGIN):
        """A paired difference (percentage points) with its 95 % half-width: "matches" within ±margin, "worse" or
        "better" wholly beyond it, otherwise "inconclusive at this budget"."""
        said = compress.verdict(mean, half, margin)
        return "inconclusive at this budget" if said == "inconclusive" else said

    def group(self, name):
        runs = {s: self.run_dir(name, s) for s in SEEDS}
        return {s: r for s, r in runs.items() if r is not None and status(r) in FINISHED}

    def rows(self):
        out = {}
        for name in CONFIGS:
            runs = self.group(name)
            if not runs:
                continue
            rs = {s: records(r) for s, r in runs.items()}           # each run's records, read once
            scores = {s: self.score(r, rs[s]) for s, r in runs.items()}
            last = {s: (rs[s] or [{}])[-1] for s in runs}
            out[name] = {
                "runs": runs, "scores": scores, "eta": self.eta(name),
                "times": {t: [self.time_to(rs[s], t) for s in runs] for t in TARGETS},
                "sent_mb": sum(x.get("bytes_sent", 0) for x in last.values()) / len(last) / WORKERS / 1e6,
                "received_mb": sum(x.get("bytes_received", 0) for x in last.values()) / len(last) / WORKERS / 1e6,
                "diverged": sum(status(r) == "diverged" for r in runs.values()),
                "map": [m for m in (self.map_said(r) for r in runs.values()) if m is not None],
            }
        return out

    @staticmethod
    def map_said(run):
        """(h_max / h*, stable) from RUN's advise.json: the final center's sharpness against the largest its
        settings keep stable (the map's verdict), or None where the run was not asked."""
        try:
            with open(os.path.join(run, "advise.json")) as f:
                said = json.load(f)
            ratio = said["h_max"] / said["h_star"]
        except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError):
            return None
        return (ratio, bool(said.get("stable"))) if math.isfinite(ratio) else None

    def paired(self, rows, name, base):
        if name == base or name not in rows or base not in rows:
            return None
        a, b = rows[name]["scores"], rows[base]["scores"]
        common_seeds = [s for s in a if s in b]
        if len(common_seeds) < 2:
            return None
        mean, half = outer.interval([100 * (a[s] - b[s]) for s in common_seeds])
        if len(common_seeds) < len(SEEDS):      # the stated rule is over three paired seeds: no verdict before
            return mean, half, f"pending ({len(common_seeds)} of {len(SEEDS)} seeds)"
        return mean, half, self.verdict(mean, half)

    def report(self):
        rows = self.rows()

        def diff(name, base):
            p = self.paired(rows, name, base)
            return "-" if p is None else f"{p[0]:+.2f} ± {outer.half(p[1])} pp {p[2]}"

        def sharpness(row):
            said = row["map"]
            if not said:
                return "-"
            ratios = [r for r, _ in said]
            return (f"{sum(ratios) / len(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}) "
                    f"{sum(stable for _, stable in said)}/{len(said)}")

        def times(row):
            cells = []
            for t in TARGETS:
                hits = [x for x in row["times"][t] if x is not None]
                cells.append(f"{sum(hits) / len(hits):.1f} s ({len(hits)}/{len(row['times'][t])})" if hits else f"never (0/{len(row['times'][t])})")
            return cells

        for base, (_, etas) in BASES.items():
            eta, root = self.chosen(base)
            if eta is None:
                continue
            with open(os.path.join(self.search_dir(base, root), "halving.json")) as f:
                ranked = json.load(f)["rungs"][-1]["candidates"]
            scores = ", ".join(f"{c['eta']:g}: " + ("-" if c["score_test_error"] is None else f"{100 * c['score_test_error']:.2f} %")
                               for c in sorted(ranked, key=lambda c: c["eta"]))
            edge = " (at the edge of its grid)" if eta in (min(etas), max(etas)) else ""
            print(f"search {base}: {scores} → η = {eta:g}{edge}")
        print("\nSeed 1 of a searched base (" + ", ".join(BASES) + ") is its search's winner, chosen among four rates on its\n"
              "own score: in a paired difference its seed 1 favours the base, a bias the interval does not include.")
        print("\nh_max/h*: the final center's sharpness over the largest its settings keep stable (easgd advise; above 1,\n"
              "the map calls the run unstable there): mean (range) over the seeds asked, and how many it calls stable.")
        for table in ("family", "codec"):
            print("\nDiLoCo and its kin, p = 4 (score: mean of the last two test errors)" if table == "family" else
                  "\nCompressed exchanges, p = 4 (paired against the same method uncompressed)")
            print(f"{'configuration':20} {'η':>7} {'runs':>4} {'score':>17} "
                  + (f"{'− diloco-h1 (paired)':>40} {'− sync-sgd (paired)':>40} " if table == "family" else f"{'− uncompressed (paired)':>40} ")
                  + " ".join(f"{'to ' + format(t, '.0%'):>16}" for t in TARGETS) + f" {'MB sent':>9} {'MB recv':>9} {'div':>3}"
                  + f"  {'h_max/h* (range) stable':>26}")
            against = ([(n, None) for n in FAMILY] if table == "family" else
                       [(n, group[0]) for group in CODEC_GROUPS.values() for n in group])
            for name, uncompressed in against:
                if name not in rows:
                    continue
                row = rows[name]
                m, h = outer.interval([100 * v for v in row["scores"].values()])
                if table == "family":
                    d = f"{diff(name, 'diloco-h1'):>40} {diff(name, 'sync-sgd'):>40}"
                else:
                    d = f"{diff(name, uncompressed):>40}"
                print(f"{name:20} {row['eta']:>7g} {len(row['scores']):>4} {m:>8.2f} ± {outer.half(h, 5)} % {d} "
                      + " ".join(f"{c:>16}" for c in times(row)) + f" {row['sent_mb']:>9.1f} {row['received_mb']:>9.1f} {row['diverged']:>3}"
                      + f"  {sharpness(row):>26}")
            if table == "family":               # rival (A2): elastic averaging at DiLoCo H = 10's communication
                print("\n(A2) against DiLoCo H = 10, the same bytes per round (paired)")
                for name in ("easgd-tau10", "eamsgd-tau10"):
                    print(f"{name:20} {diff(name, 'diloco-h10'):>40}")

    def figures(self, plots):
        """Draws each figure whose configurations have all their seeds finished (easgd plot --group-seeds, png and
        svg, PLOTS/NAME); returns the prefixes drawn."""
        drawn = []
        for figure, (title, names) in FIGURES.items():
            groups = {n: self.group(n) for n in names}
            if any(len(g) < len(SEEDS) for g in groups.values()):
                print(f"{figure}: not drawn yet, its runs are not all finished")
                continue
            prefix = plot(self.easgd, [groups[n][s] for n in names for s in SEEDS],
                          [f"{label(n)}, η = {self.eta(n):g}" for n in names],
                          f"{title}: CIFAR net, p = 4, 6 epochs per worker; mean of 3 seeds, min–max band; "
                          "15 ms a step, 2.5 ms an exchange, queued", os.path.join(plots, figure), [100 * t for t in TARGETS])
            drawn.append(prefix)
            print(f"{figure}: {prefix}.png")
        # The codec table at a glance: each configuration's score against the bytes each worker sent, and the paired
        # difference the rule judges, the ±MARGIN band shaded (section 7's figure, on the CIFAR net).
        done = {os.path.basename(p) for p in drawn}
        if all(f"codecs-cifar-{m}" in done for m in CODEC_GROUPS):      # every codec group has all its seeds
            rows = self.rows()
            methods = [(compress.TITLES[m], compress.COLOURS[m],
                        [(n[len(m) + 1:] if n != m else "none", rows[n]["sent_mb"], rows[n]["scores"],
                          None if n == m else rows[m]["scores"]) for n in names])
                       for m, names in CODEC_GROUPS.items()]
            prefix = os.path.join(plots, BYTES_FIGURE)
            compress.bytes_figure(methods, prefix, "Compressed exchanges on the CIFAR net, p = 4, 6 epochs per worker, "
                                  "3 seeds (notebook 06, section 9 (B))", "score (the mean of the last two test errors)",
                                  MARGIN, (2, 20000), band_label="bottom right", height=760)
            drawn.append(prefix)
        else:
            print(f"{BYTES_FIGURE}: not drawn yet, its runs are not all finished")
        return drawn

    def plan(self):
        for base, (_, etas) in BASES.items():
            eta, root = self.chosen(base)
            print(f"search {base:14} η ∈ {{{', '.join(f'{e:g}' for e in etas)}}}: "
                  + ("to run" if eta is None else f"chose η = {eta:g}" + (" (record)" if root == self.record else "")))
        done, walls = 0, []
        for name in CONFIGS:
            states = []
            for s in SEEDS:
                run = self.run_dir(name, s)
                states.append("-" if run is None else status(run) or ("checkpoint" if os.path.exists(os.path.join(run, "checkpoint.bin")) else "to run"))
                done += states[-1] in FINISHED
                last = (records(run) or [{}])[-1] if states[-1] == "completed" else {}
                if isinstance(last.get("wall_seconds"), (int, float)):
                    walls.append(last["wall_seconds"])
            print(f"{name:20} {', '.join(states)}")
        total = len(CONFIGS) * len(SEEDS)
        # A search not yet decided trains its other three candidates too (its winner is the base's seed 1).
        left = total - done + sum(3 for base in BASES if self.chosen(base)[0] is None)
        # A run's cost: the median wall time of the finished runs (each one thread; evaluations and the map
        # included), before any the estimate of 0.055 s a worker step, about 9 minutes.
        walls.sort()
        minutes, said = 9.0, "about 9 minutes of a core at 0.055 s a step"
        if walls:
            minutes = walls[len(walls) // 2] / 60
            said = f"{minutes:.1f} minutes of a core, the median of the {len(walls)} finished"
        print(f"{done} of {total} runs finished; each about 9,372 worker steps ({said}): "
              f"about {left * minutes / 60:.1f} core-hours to go, less what the runs under way have done")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=".build/experiments/family")
    ap.add_argument("--data", default="../shared/data/cifar10-jpeg")
    ap.add_argument("--easgd", default=".build/release/easgd")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--record", default=RECORD, help="the committed record of finished runs (default: %(default)s)")
    ap.add_argument("--steps", type=int, default=STEPS, help="steps per worker (a dry run's fewer)")
    ap.add_argument("--plan", action="store_true")
    ap.add_argument("--report", action="store_true")
    ap.add_argument("--figures", action="store_true", help="draw the curves of every finished figure, and stop")
    ap.add_argument("--plots", default="plots/outer", help="where --figures draws (default: %(default)s)")
    a = ap.parse_args()
    f = Family(a.out, a.data, a.easgd, a.record, a.steps)
    if a.plan:
        return f.plan()
    if a.figures:
        return f.figures(a.plots)
    if not a.report:
        f.run(a.jobs)
    f.report()


if __name__ == "__main__":
    main()
