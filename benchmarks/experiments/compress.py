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
codec's bytes, divided by p). A signal (Ctrl-C, or SIGTERM to this process alone) stops every run at a checkpoint
and ends with 130; run again to continue (stopping.py). --record names another record (a test's).
"""

import argparse
import os
import re
import subprocess
import sys

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


def verdict(mean, half, margin=MARGIN):
    """A paired difference (percentage points) and its 95 % half-width: "matches" within ±margin, "worse" or
    "better" wholly beyond it, otherwise "inconclusive"."""
    if half != half:                           # one seed: no interval
        return "-"
    low, high = mean - half, mean + half
    if -margin <= low and high <= margin:
        return "matches"
    if low > margin:
        return "worse"
    if high < -margin:
        return "better"
    return "inconclusive"


def report(root, seeds, record=RECORD):
    rows = summary(root, seeds, record)
    finals = {name: f for name, _, _, f, _ in rows}
    print(f"{'configuration':22} {'runs':>4} {'final test error':>20} {'best test error':>20} {'final − uncompressed (paired)':>30} "
          f"{'verdict':>13} {'MB sent':>9} {'MB received':>11} {'diverged':>8}")
    for name, method, codec, f_, extra in rows:
        f, fi = outer.interval([100 * v for v in f_.values()])
        b, bi = outer.interval([100 * v for v in extra["bests"].values()])
        base = finals.get(f"{method}-none", {})
        common = [s for s in f_ if s in base]
        if codec == "none" or not common:
            difference, says = "-", "-"
        else:
            d, di = outer.interval([100 * (f_[s] - base[s]) for s in common])
            difference, says = f"{d:+.2f} ± {outer.half(di)} pp", verdict(d, di)
        print(f"{name:22} {len(f_):>4} {f:>10.2f} ± {outer.half(fi, 5)} % {b:>10.2f} ± {outer.half(bi, 5)} % {difference:>30} {says:>13} "
              f"{extra['sent']:>9.1f} {extra['received']:>11.1f} {extra['diverged']:>8}")


def summary(root, seeds, record=RECORD):
    """Per configuration with runs: (name, method, codec, final test error by seed, and the best test errors by
    seed, the megabytes each worker sent and received, the diverged runs). A diverged run counts at chance (0.9)."""
    rows = []
    for name, (method, codec) in CONFIGS.items():
        finals, extra = {}, {"bests": {}, "sent": 0.0, "received": 0.0, "diverged": 0}
        for s in seeds:
            run = os.path.join(root, f"{name}-s{s}")
            if outer.state(run) not in ("completed", "diverged"):
                run = os.path.join(record, f"{name}-s{s}")
            st = outer.state(run)
            if st not in ("completed", "diverged"):
                continue
            rs = outer.records(run)
            errors = [r.get("test_error") for r in rs if r.get("test_error") is not None]
            if st == "diverged" or not errors or rs[-1].get("test_error") is None:
                extra["diverged"] += 1
                finals[s], extra["bests"][s] = 0.9, min(errors, default=0.9)
            else:
                finals[s], extra["bests"][s] = rs[-1]["test_error"], min(errors)
            extra["sent"] = rs[-1].get("bytes_sent", 0) / outer.WORKERS / 1e6
            extra["received"] = rs[-1].get("bytes_received", 0) / outer.WORKERS / 1e6
        if finals:
            rows.append((name, method, codec, finals, extra))
    return rows


def figure(root, seeds, prefix, record=RECORD):
    """Final test error (mean and 95 % interval over the seeds) against the megabytes each worker sent, log scale,
    one colour per method, each point named by its codec: PREFIX.png (and PREFIX.dat, what gnuplot read)."""
    plain_path(prefix)
    rows = summary(root, seeds, record)
    if any(len(f) < len(seeds) for _, _, _, f, _ in rows) or len(rows) < len(CONFIGS):
        raise SystemExit("compress.py: not every configuration has all its seeds yet; no figure")
    by_name = {name: f for name, _, _, f, _ in rows}
    methods = [(TITLES[m], COLOURS[m], [(codec, extra["sent"], finals, None if codec == "none" else by_name[f"{m}-none"])
                                        for name, mm, codec, finals, extra in rows if mm == m])
               for m in METHODS]
    bytes_figure(methods, prefix, "Compressed exchanges on Fashion-MNIST, p = 4, 1,500 steps per worker, 3 seeds "
                 "(notebook 06, section 7)", "final test error", MARGIN, (2, 5000))


COLOURS = {"downpour": "#1f77b4", "diloco-h50": "#d62728", "easgd-tau10": "#2ca02c"}
TITLES = {"downpour": "DOWNPOUR τ = 1", "diloco-h50": "DiLoCo H = 50", "easgd-tau10": "EASGD τ = 10"}


def plain_path(prefix):
    """A figure's path goes into gnuplot's script: only letters, digits, . _ / - may."""
    if not re.fullmatch(r"[A-Za-z0-9._/-]+", prefix):
        raise SystemExit(f"compress.py: --figure takes a plain path (letters, digits, . _ / -), not {prefix!r}")


def bytes_figure(methods, prefix, title, score, margin, xrange, band_label="top left", height=640):
    """Each configuration's score (mean and 95 % interval over the seeds, percent) against the megabytes each worker
    sent, log scale, and beside it the paired difference to its method uncompressed, which the rule judges (the
    ±MARGIN band shaded): PREFIX.png, and PREFIX.dat, what gnuplot read. METHODS: [(title, colour, [(codec, MB
    sent, {seed: score}, {seed: the uncompressed score} or None)])], scores as fractions. TITLE, SCORE (the left
    axis's quantity: its words before " (" name the axis) and the titles are the caller's own constants; the codec
    names are passed to gnuplot as data, never as script text. BAND_LABEL: where the band's "matches" goes ("top
    left" or "bottom right", where the points leave room)."""
    plain_path(prefix)
    os.makedirs(os.path.dirname(prefix) or ".", exist_ok=True)
    data = prefix + ".dat"
    reach = [0.0, 0.0]                          # the farthest the paired intervals reach below and above 0
    with open(data + ".tmp", "w") as f:
        for name, _, rows in methods:
            f.write(f"# {name}\n")
            for codec, sent, scores, base in rows:
                mean, half = outer.interval([100 * v for v in scores.values()])
                # "?": gnuplot's missing value (set below), never "nan" in the data (the uncompressed: no difference).
                d, dh = "?", "?"
                if base is not None:
                    diff, diff_half = outer.interval([100 * (scores[s] - base[s]) for s in scores])
                    reach = [min(reach[0], diff - diff_half), max(reach[1], diff + diff_half)]
                    d, dh = f"{diff:.6g}", f"{diff_half:.6g}"
                # The name right of the point, or (error feedback) left of it, so that a codec and its -ef twin,
                # which send the same bytes, do not print over each other.
                right, left = ("", codec) if codec.endswith("-ef") else (codec, "")
                f.write(f'{sent:.6g} {mean:.6g} {half:.6g} "{right}" "{left}" {d} {dh}\n')
            f.write("\n\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(data + ".tmp", data)
    absolute, paired = [], []
    for k, (name, c, _) in enumerate(methods):
        absolute.append(f"'{data}' index {k} using 1:2:3 with yerrorbars lc rgb '{c}' pt 7 ps 1.2 title '{name}'")
        absolute.append(f"'{data}' index {k} using 1:2:4 with labels left offset char 0.7,0.6 font ',9' tc rgb '{c}' notitle")
        absolute.append(f"'{data}' index {k} using 1:2:5 with labels right offset char -0.7,-0.6 font ',9' tc rgb '{c}' notitle")
        paired.append(f"'{data}' index {k} using 1:6:7 with yerrorbars lc rgb '{c}' pt 7 ps 1.2 title '{name}'")
        paired.append(f"'{data}' index {k} using 1:6:4 with labels left offset char 0.7,0.6 font ',9' tc rgb '{c}' notitle")
        paired.append(f"'{data}' index {k} using 1:6:5 with labels right offset char -0.7,-0.6 font ',9' tc rgb '{c}' notitle")
    joined = lambda ps: ", \\\n     ".join(ps)
    low, high = xrange
    # The right panel's range: the band and every interval in view.
    bottom, top = min(-2.4 * margin, 1.1 * reach[0]), max(2.4 * margin, 1.1 * reach[1])
    edge = top - bottom
    script = "\n".join([
        f"set terminal pngcairo size 1500,{height} enhanced font 'DejaVu Sans,11'",
        f"set output '{prefix}.png.tmp'",
        f"set multiplot layout 1,2 title '{title}'",
        "set datafile missing '?'",
        "set logscale x 10",
        f"set xrange [{low:g}:{high:g}]",
        "set xlabel 'MB each worker sent (codec bytes, log scale)'",
        "set grid",
        "set key top right box opaque",
        f"set title '{score}: mean and 95 % interval over the seeds'",
        f"set ylabel '{score.split(' (')[0]} (%)'",
        "plot " + joined(absolute),
        "set title 'what the rule judges: the difference to the method uncompressed, paired by seed'",
        "set ylabel 'difference (percentage points), 95 % interval'",
        f"set yrange [{bottom:g}:{top:g}]",
        f"set object 1 rect from {low:g},{-margin:g} to {high:g},{margin:g} behind fc rgb '#eeeeee' fillstyle solid 1.0 noborder",
        f"set label 1 '±{margin:g} pp: matches' at {1.5 * low:g},{margin - 0.04 * edge:g} font ',9'" if band_label == "top left"
        else f"set label 1 '±{margin:g} pp: matches' at {high / 1.5:g},{-margin + 0.025 * edge:g} right font ',9'",
        "plot 0 lc rgb '#888888' dt 2 notitle, \\\n     " + joined(paired),
        "unset multiplot",
    ]) + "\n"
    done = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"compress.py: gnuplot failed: {done.stderr.strip()}")
    with open(prefix + ".png.tmp", "rb") as f:
        os.fsync(f.fileno())
    os.replace(prefix + ".png.tmp", prefix + ".png")
    print(f"{prefix}.png")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default=".build/compress")
    parser.add_argument("--easgd", default=".build/release/easgd")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--record", default=RECORD, help="the committed record of finished runs (default: %(default)s)")
    parser.add_argument("--figure", metavar="PREFIX", help="draw PREFIX.png (error against bytes) from the finished runs, then stop")
    a = parser.parse_args()
    if a.figure:
        return figure(a.out, list(range(1, a.seeds + 1)), a.figure, a.record)
    seeds = list(range(1, a.seeds + 1))
    if not a.report:
        outer.run_stoppable(a, CONFIGS, seeds, "compress", lambda name, s, stop: outer.launch(
            a.easgd, name, s, a.out, arguments=arguments, record=a.record, stop=stop))
    report(a.out, seeds, a.record)


if __name__ == "__main__":
    main()
