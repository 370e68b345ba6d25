#!/usr/bin/env python3
"""The catapult regime, measured by the rule notebook 05 (section 9) stated before the runs of
benchmarks/validation/catapult.sh.

Per run: the map's h* at its settings (`easgd radius --solve h`), the starting sharpness h_start (the first sample),
whether the map calls the start unstable (h_start > h*), the center's training loss at the start, its spike (the largest
rise of the loss over the lowest loss before it, a ratio ≥ 1) and its total step, the sharpness's maximum, its minimum after the spike, and
the landing = the median of the last third of the sharpness samples (section 6's plateau statistic). Over the runs the
map calls unstable that did not diverge: the fraction landing at or below h* and at or below 1.25 h*, the log–log
slope of the landing against h* with its 95 % interval, and the errors mean |ln(landing ÷ prediction)| of "lands at
h*" and of the trivial "stays where it started". Writes OUT/catapult.json and OUT/catapult.png.

  python3 benchmarks/validation/catapult.py EASGD OUT
"""

import json
import math
import os
import statistics
import subprocess
import sys

from scipy import stats

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eos_law import h_star, run_directories  # noqa: E402  (the same map reading and run reading as the sweeps)


def load(easgd, out):
    rows = []
    for name, e, status, records in run_directories(out):
        losses = [(r["total_steps"], r["train_loss"]) for r in records
                  if r.get("train_loss") is not None and math.isfinite(r["train_loss"])]
        samples = [(r["total_steps"], r["sharpness"]) for r in records
                   if r.get("sharpness") is not None and math.isfinite(r["sharpness"])]
        if len(samples) < 3 or not losses:     # a run just started has no last third yet
            continue
        hs = h_star(easgd, e)
        # The spike: the largest rise of the loss over the lowest loss before it (a catapult is a local rise).
        spike, t_peak, low = 1.0, losses[0][0], losses[0][1]
        for t, v in losses:
            low = min(low, v)
            if v / low > spike:
                spike, t_peak = v / low, t
        peak = max(v for _, v in losses)
        after = [s for t, s in samples if t > t_peak]
        last = samples[len(samples) - len(samples) // 3:]
        rows.append({
            "run": name, "status": status, "method": e["method"], "eta": e["eta"], "seed": e["seed"], "h_star": hs,
            "h_start": samples[0][1], "predicted_unstable": samples[0][1] > hs, "h_max_max": max(s for _, s in samples),
            "loss_start": losses[0][1], "loss_peak": peak, "spike": spike, "spike_step": t_peak,
            "loss_end": losses[-1][1], "h_min_after_peak": min(after) if after else None,
            "landing": statistics.median(s for _, s in last), "wall_seconds": records[-1].get("wall_seconds"),
            "losses": losses, "samples": samples,
        })
    return rows


def main():
    easgd, out = sys.argv[1], sys.argv[2]
    rows = load(easgd, out)
    cat = [r for r in rows if r["predicted_unstable"] and r["status"] == "completed"]
    result = {"runs": [{k: v for k, v in r.items() if k not in ("losses", "samples")} for r in rows],
              "predicted_unstable": sum(r["predicted_unstable"] for r in rows),
              "predicted_unstable_diverged": sum(r["predicted_unstable"] and r["status"] == "diverged" for r in rows),
              "predicted_stable": sum(not r["predicted_unstable"] for r in rows),
              "unfinished": sum(r["status"] not in ("completed", "diverged") for r in rows),
              "core_hours": sum(r["wall_seconds"] or 0 for r in rows) / 3600}
    print(f"{'run':36s} {'h*':>6s} {'start':>6s} {'max':>6s} {'landing':>7s} {'÷h*':>6s} {'min>pk':>6s} "
          f"{'loss0':>6s} {'spike':>8s} {'at':>4s} {'end':>7s}  status")
    for r in rows:
        mn = f"{r['h_min_after_peak']:6.2f}" if r["h_min_after_peak"] is not None else "     -"
        print(f"{r['run']:36s} {r['h_star']:6.2f} {r['h_start']:6.2f} {r['h_max_max']:6.1f} {r['landing']:7.2f} "
              f"{r['landing'] / r['h_star']:6.3f} {mn} {r['loss_start']:6.3f} {r['spike']:8.3g} "
              f"{r['spike_step']:4d} {r['loss_end']:7.4f}  {r['status']}{'' if r['predicted_unstable'] else ' (map: stable at start)'}")
    if len(cat) >= 3:
        ratio = [r["landing"] / r["h_star"] for r in cat]
        fit = stats.linregress([math.log(r["h_star"]) for r in cat], [math.log(r["landing"]) for r in cat])
        t = stats.t.ppf(0.975, len(cat) - 2)
        at_or_below = sum(x <= 1 for x in ratio) / len(cat)
        within = sum(x <= 1.25 for x in ratio) / len(cat)
        result.update({
            "catapults": len(cat), "fraction_landing_at_or_below_h_star": at_or_below,
            "fraction_landing_at_or_below_1_25_h_star": within,
            "landing_over_h_star": {"median": statistics.median(ratio), "min": min(ratio), "max": max(ratio)},
            "spike": {"median": statistics.median(r["spike"] for r in cat),
                      "fraction_above_1_1": sum(r["spike"] > 1.1 for r in cat) / len(cat)},
            "slope": fit.slope, "slope_interval_95": [fit.slope - t * fit.stderr, fit.slope + t * fit.stderr],
            "errors": {"lands_at_h_star": statistics.mean(abs(math.log(x)) for x in ratio),
                       "stays_at_start": statistics.mean(abs(math.log(r["landing"] / r["h_start"])) for r in cat)},
            "verdict": ("confirmed" if within >= 0.8 else "refuted" if within < 0.5 else "neither")})
        print(f"\n{len(cat)} catapults (map: unstable at the start; trained without diverging), "
              f"{result['predicted_unstable_diverged']} diverged, {result['predicted_stable']} stable at the start")
        print(f"landing ÷ h*: median {result['landing_over_h_star']['median']:.3f} "
              f"({result['landing_over_h_star']['min']:.3f}–{result['landing_over_h_star']['max']:.3f}); "
              f"at or below h*: {at_or_below:.0%}; at or below 1.25 h*: {within:.0%}")
        print(f"loss spike (the largest rise over the lowest loss before it): median {result['spike']['median']:.3g}, a rise of more than 10 % in {result['spike']['fraction_above_1_1']:.0%}")
        print(f"slope of ln(landing) on ln(h*): {fit.slope:.3f} (95 % interval {result['slope_interval_95'][0]:.3f} to "
              f"{result['slope_interval_95'][1]:.3f}); errors: lands at h* {result['errors']['lands_at_h_star']:.3f}, "
              f"stays at the start {result['errors']['stays_at_start']:.3f}; verdict: {result['verdict']}")
    print(f"{result['core_hours']:.2f} core-hours of training")
    with open(os.path.join(out, "catapult.json"), "w") as f:
        json.dump(result, f, indent=2)
    # The figure: left, each run's start and landing against h* (a line from one to the other); right, seed 1's loss.
    methods = {"easgd": ("#1f77b4", 7), "eamsgd": ("#2ca02c", 5), "downpour": ("#d62728", 9)}
    left, right = [], []
    for m, (color, pt) in methods.items():
        mine = [r for r in rows if r["method"] == m and r["status"] == "completed"]
        if mine:
            with open(os.path.join(out, f"drop-{m}.dat"), "w") as f:
                for r in mine:
                    f.write(f"{r['h_star']} {r['h_start']}\n{r['h_star']} {r['landing']}\n\n")
            left.append(f"'drop-{m}.dat' using 1:2 with lines lc rgb '{color}' notitle, "
                        f"'drop-{m}.dat' every 2::1 using 1:2 with points pt {pt} ps 1.4 lc rgb '{color}' title '{m.upper()}: landing', "
                        f"'drop-{m}.dat' every 2 using 1:2 with points pt {pt - 1} ps 1.4 lc rgb '{color}' title '{m.upper()}: start'")
        for i, r in enumerate(sorted((r for r in rows if r["method"] == m and r["seed"] == 1), key=lambda r: r["eta"])):
            data = f"loss-{m}-{i}.dat"
            with open(os.path.join(out, data), "w") as f:
                for t, v in r["losses"]:
                    f.write(f"{t} {v}\n")
            right.append(f"'{data}' using 1:2 with lines lw 2 dt {i + 1} lc rgb '{color}' title '{m.upper()} η = {r['eta']:g}'")
    if left:
        script = f"""set terminal pngcairo size 1500,700 font ',12'
set output 'catapult.png'
set multiplot layout 1,2 title "Catapults: full-batch runs the map calls unstable at their start (p = 4, 1,000 Fashion-MNIST images)"
set logscale xy
set grid
set key top left font ',10'
set title "the center's sharpness: at the start (open) and landed (filled, median of the last third)"
set xlabel "the round map's threshold h* at the run's η"
set ylabel "sharpness h_{{max}}"
plot x title "sharpness = h*" lw 2 lc rgb '#444444', {', '.join(left)}
unset logscale x
set title "the center's training loss, seed 1"
set xlabel "total steps"
set ylabel "training loss (full batch)"
set key top right
plot {', '.join(right)}
unset multiplot
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=True, cwd=out)
        print(f"wrote {os.path.join(out, 'catapult.json')}, {os.path.join(out, 'catapult.png')}")


if __name__ == "__main__":
    main()
