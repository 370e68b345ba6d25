#!/usr/bin/env python3
"""The elastic edge-of-stability law over α, decided by the rule notebook 05 (section 6) stated before the runs.

For each run of benchmarks/validation/elastic-eos-law.sh: the center's sharpness samples (every 37 worker steps), the
plateau = their median over the last third, the medians of the samples at even and at odd total steps (the two phases
of a period-2 cycle), the maximum; h* from `easgd radius --solve h` at the run's (η, α, τ, p); 2/η. Then the fit
ln(plateau) = a + b·ln(h*) by least squares with the 95 % interval of b (Student's t, n − 2 degrees of freedom), each
α's mean plateau ÷ h*, each hypothesis's mean |ln(plateau ÷ prediction)|, and the verdict by the stated rule. Writes
OUT/eos-law.json and OUT/eos-law.png (plateau against h*, the identity line, H0a's 2/η; gnuplot).

  python3 benchmarks/validation/eos_law.py EASGD OUT
"""

import json
import math
import os
import statistics
import subprocess
import sys

from scipy import stats


def h_star(easgd, e):
    r = subprocess.run([easgd, "radius", "--method", e["method"], "--workers", str(e["workers"]), "--eta", repr(e["eta"]),
                        "--alpha", repr(e["alpha"]), "--tau", str(e["tau"]), "--solve", "h", "--json"],
                       capture_output=True, text=True, check=True)
    crossings = [c["value"] for c in json.loads(r.stdout)["crossings"] if c["becomes_unstable"]]
    return crossings[0]


def main():
    easgd, out = sys.argv[1], sys.argv[2]
    rows = []
    for name in sorted(os.listdir(out)):
        d = os.path.join(out, name)
        if not os.path.isfile(os.path.join(d, "metrics.jsonl")):
            continue
        with open(os.path.join(d, "config.json")) as f:
            settings = json.load(f)["settings"]
        status = "running"
        if os.path.exists(os.path.join(d, "status.json")):
            with open(os.path.join(d, "status.json")) as f:
                status = json.load(f)["status"]
        with open(os.path.join(d, "metrics.jsonl")) as f:
            records = [json.loads(line) for line in f]
        samples = [(r["total_steps"], r["sharpness"]) for r in records if r.get("sharpness") is not None]
        last = samples[len(samples) - len(samples) // 3:]
        even = [s for t, s in last if t % 2 == 0]
        odd = [s for t, s in last if t % 2 == 1]
        e = settings
        hs = h_star(easgd, e)
        rows.append({
            "run": name, "status": status, "alpha": e["alpha"], "seed": settings["seed"], "eta": e["eta"],
            "h_star": hs, "two_over_eta": 2 / e["eta"], "first": samples[0][1], "max": max(s for _, s in samples),
            "plateau": statistics.median(s for _, s in last), "plateau_even": statistics.median(even) if even else None,
            "plateau_odd": statistics.median(odd) if odd else None, "samples_last_third": len(last),
            "train_loss_end": records[-1].get("train_loss"),
        })
    fit_rows = [r for r in rows if r["status"] == "completed"]
    result = {"runs": rows, "diverged": sum(r["status"] == "diverged" for r in rows),
              "unfinished": sum(r["status"] not in ("completed", "diverged") for r in rows)}
    if len(fit_rows) >= 3:
        x = [math.log(r["h_star"]) for r in fit_rows]
        y = [math.log(r["plateau"]) for r in fit_rows]
        fit = stats.linregress(x, y)
        t = stats.t.ppf(0.975, len(fit_rows) - 2)
        lo, hi = fit.slope - t * fit.stderr, fit.slope + t * fit.stderr
        by_alpha = {}
        for r in fit_rows:
            by_alpha.setdefault(r["alpha"], []).append(r["plateau"] / r["h_star"])
        ratios = {str(a): statistics.mean(v) for a, v in sorted(by_alpha.items())}
        err_h1 = statistics.mean(abs(math.log(r["plateau"] / r["h_star"])) for r in fit_rows)
        err_h0a = statistics.mean(abs(math.log(r["plateau"] / r["two_over_eta"])) for r in fit_rows)
        if 0.8 <= lo and hi <= 1.2 and all(0.9 <= v <= 1.1 for v in ratios.values()):
            verdict = "H1 confirmed"
        elif lo <= 0 <= hi or hi < 0.5:
            verdict = "H1 refuted in favour of H0a"
        else:
            verdict = "neither rule met: see the slope and the ratios"
        result.update({"slope": fit.slope, "slope_interval_95": [lo, hi], "intercept": fit.intercept, "r": fit.rvalue,
                       "n": len(fit_rows), "plateau_over_h_star_by_alpha": ratios,
                       "mean_abs_log_error": {"h1_h_star": err_h1, "h0a_two_over_eta": err_h0a}, "verdict": verdict})
    with open(os.path.join(out, "eos-law.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(f"{'run':22s} {'h*':>7s} {'first':>6s} {'max':>6s} {'plateau':>8s} {'even':>7s} {'odd':>7s} {'÷h*':>6s} {'÷2/η':>6s}  status")
    for r in rows:
        ev = f"{r['plateau_even']:7.2f}" if r["plateau_even"] is not None else "      -"
        od = f"{r['plateau_odd']:7.2f}" if r["plateau_odd"] is not None else "      -"
        print(f"{r['run']:22s} {r['h_star']:7.2f} {r['first']:6.1f} {r['max']:6.1f} {r['plateau']:8.2f} {ev} {od} "
              f"{r['plateau'] / r['h_star']:6.3f} {r['plateau'] / r['two_over_eta']:6.3f}  {r['status']}")
    if "slope" in result:
        print(f"slope {result['slope']:.3f} (95 % interval {result['slope_interval_95'][0]:.3f} to {result['slope_interval_95'][1]:.3f}), "
              f"n = {result['n']}, r = {result['r']:.3f}; plateau/h* by alpha: "
              + ", ".join(f"{a}: {v:.3f}" for a, v in result["plateau_over_h_star_by_alpha"].items()))
        print(f"mean |ln(plateau/prediction)|: h* {result['mean_abs_log_error']['h1_h_star']:.3f}, "
              f"2/eta {result['mean_abs_log_error']['h0a_two_over_eta']:.3f}; diverged {result['diverged']}; verdict: {result['verdict']}")
    # The figure: plateau (and the two phases) against h*, the identity line (H1) and 2/η (H0a).
    data = os.path.join(out, "eos-law.dat")
    with open(data, "w") as f:
        for r in fit_rows:
            phases = [v for v in (r["plateau_even"], r["plateau_odd"]) if v is not None] or [r["plateau"]]
            f.write(f"{r['h_star']} {r['plateau']} {min(phases)} {max(phases)}\n")
    if fit_rows:
        script = f"""set terminal pngcairo size 900,700 font ',12'
set output 'eos-law.png'
set title "EASGD p = 4, τ = 1, η = 0.04, full batch: the center's plateau against the map's h*\\n(one point per α and seed; bars: the two phases' medians)"
set xlabel "the round map's threshold h* (α = 0.85 ... 0.05)"
set ylabel "the center's sharpness, median of the last third"
set key top left
set grid
set xrange [0:60]
set yrange [0:60]
plot x title "H1: plateau = h*" lw 2 lc rgb '#1f4e9e', 50 title "H0a: plateau = 2/η = 50" dt 2 lw 2 lc rgb '#b22222', \\
     'eos-law.dat' using 1:2:3:4 with yerrorbars title 'runs (median, phases)' pt 7 ps 1.2 lc rgb '#222222'
"""
        # Run where the files are: no path reaches gnuplot's script.
        subprocess.run(["gnuplot"], input=script, text=True, check=True, cwd=out)
        print(f"wrote {os.path.join(out, 'eos-law.json')}, {os.path.join(out, 'eos-law.png')}")


if __name__ == "__main__":
    main()
