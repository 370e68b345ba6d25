#!/usr/bin/env python3
"""The elastic edge-of-stability law, each sweep decided by the rule notebook 05 stated before its runs (section 6 for
α, section 8 for τ, p, δ and DOWNPOUR).

For each run of benchmarks/validation/elastic-eos-law.sh: the center's sharpness samples (every 37 total steps), the
plateau = their median over the last third, the medians of the samples at even and at odd total steps (the two phases
of a period-2 cycle, counted in the center's updates), the maximum; the round map's h* from `easgd radius --solve h` at the run's settings; the rivals'
predictions: H0a GD's 2/η, H0b Nesterov's own (2 + 2δ)/(η(1 + 2δ)) for EAMSGD, H0c 2/(pη) for DOWNPOUR. A run belongs
to every sweep whose fixed settings it has (the α = 0.7 runs of the α sweep are S1's τ = 1, for instance). Writes
OUT/eos-law.json, OUT/eos-law.png (the α sweep) and OUT/eos-law-sweeps.png (every sweep: plateau against h*, and
against the strongest rival's prediction; gnuplot).

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
    """The round map's threshold at the run's settings (`easgd radius --solve h`), once per distinct setting: the
    seeds of a setting share it."""
    key = (easgd, e["method"], e["workers"], e["eta"], e["tau"], e.get("alpha"), e.get("momentum"), json.dumps(e.get("outer"), sort_keys=True))
    if key not in _thresholds:
        _thresholds[key] = _h_star(easgd, e)
    return _thresholds[key]


_thresholds = {}


def _h_star(easgd, e):
    args = [easgd, "radius", "--method", e["method"], "--workers", str(e["workers"]), "--eta", repr(e["eta"]),
            "--tau", str(e["tau"]), "--solve", "h", "--json"]
    if e["method"] in ("easgd", "eamsgd"):
        args += ["--alpha", repr(e["alpha"])]
    if e["method"] == "eamsgd":
        args += ["--delta", repr(e["momentum"])]
    if e["method"] == "diloco":
        o = e["outer"]
        args += ["--outer", o["optimizer"], "--outer-lr", repr(o["eta"]), "--outer-momentum", repr(o["momentum"])]
    r = subprocess.run(args, capture_output=True, text=True, check=True)
    crossings = [c["value"] for c in json.loads(r.stdout)["crossings"] if c["becomes_unstable"]]
    return crossings[0]


def rivals(r):
    eta = r["eta"]
    out = {"h0a_two_over_eta": 2 / eta}
    if r["method"] == "eamsgd":
        d = r["momentum"]
        out["h0b_nesterov"] = (2 + 2 * d) / (eta * (1 + 2 * d))
    if r["method"] == "downpour":
        out["h0c_two_over_p_eta"] = 2 / (r["workers"] * eta)
    return out


# The sweeps and their rules, as notebook 05 stated them before the runs.
SWEEPS = [
    {"name": "alpha", "section": 6, "title": "EASGD over α (p 4, τ 1)", "axis": "alpha", "values": [0.05, 0.225, 0.5, 0.7, 0.85], "rule": "slope",
     "fixed": {"method": "easgd", "workers": 4, "tau": 1}, "rival": "h0a_two_over_eta"},
    {"name": "S1-tau", "section": 8, "title": "EASGD over τ (p 4, α 0.7)", "axis": "tau", "values": [1, 4, 16], "rule": "slope",
     "fixed": {"method": "easgd", "workers": 4, "alpha": 0.7}, "rival": "h0a_two_over_eta"},
    {"name": "S2-p", "section": 8, "title": "EASGD over p (τ 1, α 0.5)", "axis": "workers", "values": [2, 4, 8], "rule": "flat-p",
     "fixed": {"method": "easgd", "tau": 1, "alpha": 0.5}, "rival": "h0a_two_over_eta"},
    {"name": "S3-delta", "section": 8, "title": "EAMSGD over δ (p 4, τ 1, α 0.7)", "axis": "momentum", "values": [0.0, 0.5, 0.9], "rule": "delta",
     "fixed": {"method": "eamsgd", "workers": 4, "tau": 1, "alpha": 0.7}, "rival": "h0b_nesterov"},
    {"name": "S4-downpour-tau", "section": 8, "title": "DOWNPOUR over τ (p 4)", "axis": "tau", "values": [1, 2, 4], "rule": "slope",
     "fixed": {"method": "downpour", "workers": 4}, "rival": "h0c_two_over_p_eta"},
    {"name": "S5-downpour-p", "section": 8, "title": "DOWNPOUR over p (τ 1)", "axis": "workers", "values": [2, 4, 8], "rule": "slope-h0a",
     "fixed": {"method": "downpour", "tau": 1}, "rival": "h0c_two_over_p_eta"},
    {"name": "S6-diloco-H", "section": 10, "title": "DiLoCo over H (p 4, outer Nesterov 1.0, 0.9)", "axis": "tau", "values": [1, 2, 3],
     "rule": "parity", "fixed": {"method": "diloco", "workers": 4, "outer_lr": 1.0}, "rival": "h0a_two_over_eta"},
]


def err(runs, key):
    return statistics.mean(abs(math.log(r["plateau"] / r[key])) for r in runs)


def slope_fit(runs):
    x = [math.log(r["h_star"]) for r in runs]
    y = [math.log(r["plateau"]) for r in runs]
    fit = stats.linregress(x, y)
    t = stats.t.ppf(0.975, len(runs) - 2)
    return fit, (fit.slope - t * fit.stderr, fit.slope + t * fit.stderr)


def decide(sweep, runs):
    """The sweep's statistics and its verdict by the stated rule."""
    by_axis = {}
    for r in runs:
        by_axis.setdefault(r[sweep["axis"]], []).append(r)
    res = {"title": sweep["title"], "section": sweep["section"], "n": len(runs), "axis": sweep["axis"],
           "settings": [{"value": v, "h_star": statistics.mean(r["h_star"] for r in rs),
                         "rival": statistics.mean(r[sweep["rival"]] for r in rs),
                         "plateaus": [r["plateau"] for r in sorted(rs, key=lambda r: r["seed"])],
                         "plateau_over_h_star": statistics.mean(r["plateau"] / r["h_star"] for r in rs)}
                        for v, rs in sorted(by_axis.items())],
           "errors": {"h1_h_star": err(runs, "h_star")}}
    for key in sorted({k for r in runs for k in r if k.startswith("h0")}):
        res["errors"][key] = err(runs, key)
    ratios = [s["plateau_over_h_star"] for s in res["settings"]]
    rule = sweep["rule"]
    missing = [v for v in sweep["values"] if v not in by_axis]
    if missing:
        res["verdict"] = f"incomplete: no finished run yet at {sweep['axis']} = " + ", ".join(map(str, missing))
    elif rule in ("slope", "slope-h0a"):
        fit, (lo, hi) = slope_fit(runs)
        res.update({"slope": fit.slope, "slope_interval_95": [lo, hi], "intercept": fit.intercept, "r": fit.rvalue})
        if rule == "slope":
            if 0.8 <= lo and hi <= 1.2 and all(0.9 <= v <= 1.1 for v in ratios):
                res["verdict"] = "H1 confirmed"
            elif lo <= 0 <= hi or hi < 0.5:
                res["verdict"] = "H1 refuted in favour of the flat rival"
            elif 0.5 <= lo:
                res["verdict"] = "neither rule met: the plateau follows h* (slope interval above 0.5), not in the stated form"
            else:
                res["verdict"] = "neither rule met"
        else:
            res["verdict"] = ("H0a refuted (the slope's interval excludes 0); H1 against H0c: errors "
                              f"{res['errors']['h1_h_star']:.3f} and {res['errors']['h0c_two_over_p_eta']:.3f}"
                              if lo > 0 else "H0a not refuted (the slope's interval contains 0)")
    elif rule == "flat-p":
        base = statistics.mean(r["plateau"] for r in by_axis[4])
        rel = {str(p): statistics.mean(r["plateau"] for r in rs) / base for p, rs in sorted(by_axis.items())}
        res["plateau_over_p4"] = rel
        holds = all(0.9 <= rel[k] <= 1.1 for k in rel)
        res["verdict"] = ("H1's independence of p holds" if holds else "H1's independence of p does not hold") + \
            ("; a p-steps rule refuted" if "8" in rel and rel["8"] > 0.75 else "")
    elif rule == "delta":
        ratio = statistics.mean(r["plateau"] for r in by_axis[0.9]) / statistics.mean(r["plateau"] for r in by_axis[0.0])
        res["r_delta_09_over_0"] = ratio
        e1, e0b = res["errors"]["h1_h_star"], res["errors"]["h0b_nesterov"]
        if 0.9 <= ratio <= 1.15 and e1 < e0b:
            res["verdict"] = "H1 favoured over H0b"
        elif 0.6 <= ratio <= 0.78:
            res["verdict"] = "H0b favoured"
        else:
            res["verdict"] = "neither"
    elif rule == "parity":
        mean = {h: statistics.mean(r["plateau"] for r in rs) for h, rs in by_axis.items()}
        r12, r32 = mean[1] / mean[2], mean[3] / mean[2]
        res.update({"r_h1_over_h2": r12, "r_h3_over_h2": r32})
        if 0.6 <= r12 <= 0.8 and mean[1] < mean[3] < mean[2]:
            res["verdict"] = "H1 favoured (the plateau zig-zags with H's parity as h* does)"
        elif 0.9 <= r12 <= 1.1:
            res["verdict"] = "H0a favoured (no step from H = 1 to H = 2)"
        else:
            res["verdict"] = "neither"
    return res


def run_directories(out):
    """Each run under `out` that has records, in name order: (name, settings, status, records); a run without
    status.json is still running (or was killed)."""
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
        yield name, settings, status, records


def load(easgd, out):
    rows = []
    for name, e, status, records in run_directories(out):
        samples = [(r["total_steps"], r["sharpness"]) for r in records if r.get("sharpness") is not None]
        if len(samples) < 3:       # a run just started has no last third yet
            continue
        last = samples[len(samples) - len(samples) // 3:]
        # The phases of a period-2 cycle of the center, counted in its updates: one per exchange (EASGD, EAMSGD,
        # DOWNPOUR: a worker's τ steps run as one block, so with τ > 1 the records fall at multiples of τ total
        # steps), one per round for DiLoCo (p·H steps).
        per_update = e["tau"] * (e["workers"] if e["method"] == "diloco" else 1)
        even = [s for t, s in last if (t // per_update) % 2 == 0]
        odd = [s for t, s in last if (t // per_update) % 2 == 1]
        row = {"run": name, "status": status, "method": e["method"], "workers": e["workers"], "tau": e["tau"],
               "alpha": e["alpha"] if e["method"] in ("easgd", "eamsgd") else None,
               "momentum": e["momentum"] if e["method"] == "eamsgd" else None,
               "outer_lr": e["outer"]["eta"] if e["method"] == "diloco" else None,
               "seed": e["seed"], "eta": e["eta"], "h_star": h_star(easgd, e), "first": samples[0][1],
               "max": max(s for _, s in samples), "plateau": statistics.median(s for _, s in last),
               "plateau_even": statistics.median(even) if even else None,
               "plateau_odd": statistics.median(odd) if odd else None, "samples_last_third": len(last),
               "train_loss_end": records[-1].get("train_loss"), "wall_seconds": records[-1].get("wall_seconds")}
        row.update(rivals(row))
        rows.append(row)
    return rows


def quote(text):
    """A gnuplot single-quoted string (a quote inside is doubled; our own titles, no user text)."""
    return "'" + text.replace("'", "''") + "'"


def figures(out, rows, sweeps):
    fit_rows = [r for r in rows if r["status"] == "completed"]
    alpha = [r for r in fit_rows if all(r[k] == v for k, v in SWEEPS[0]["fixed"].items())]
    with open(os.path.join(out, "eos-law.dat"), "w") as f:
        for r in alpha:
            phases = [v for v in (r["plateau_even"], r["plateau_odd"]) if v is not None] or [r["plateau"]]
            f.write(f"{r['h_star']} {r['plateau']} {min(phases)} {max(phases)}\n")
    if alpha:
        script = """set terminal pngcairo size 900,700 font ',12'
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
    # Every sweep: the plateau against h* (left) and against the sweep's strongest rival (right), log-log.
    plots_h, plots_r = [], []
    colors = ["#222222", "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#8c564b"]
    points = [7, 5, 9, 11, 13, 3, 15]
    rival_names = {"h0a_two_over_eta": "2/η", "h0b_nesterov": "Nesterov's", "h0c_two_over_p_eta": "2/(pη)"}
    for i, s in enumerate(SWEEPS):
        mine = [r for r in fit_rows if all(r[k] == v for k, v in s["fixed"].items())]
        if not mine:
            continue
        data = f"sweep-{i}.dat"
        with open(os.path.join(out, data), "w") as f:
            for r in mine:
                f.write(f"{r['h_star']} {r[s['rival']]} {r['plateau']}\n")
        style = f"pt {points[i]} ps 1.3 lc rgb '{colors[i]}'"
        plots_h.append(f"'{data}' using 1:3 title {quote(s['title'])} {style}")
        plots_r.append(f"'{data}' using 2:3 title {quote(s['title'] + ': ' + rival_names[s['rival']])} {style}")
    if plots_h:
        script = f"""set terminal pngcairo size 1500,700 font ',12'
set output 'eos-law-sweeps.png'
set multiplot layout 1,2 title "Full-batch training, η = 0.04: the center's plateau (median of the last third; one point per setting and seed)"
set logscale xy
set xrange [2:80]
set yrange [2:80]
set grid
set key top left font ',10'
set ylabel "the center's plateau sharpness"
set xlabel "H1: the round map's threshold h*"
set title "against the map's h*"
plot x title "plateau = prediction" lw 2 lc rgb '#1f4e9e', {', '.join(plots_h)}
set xlabel "each sweep's rival: 2/η (EASGD, DiLoCo), Nesterov's threshold (EAMSGD), 2/(pη) (DOWNPOUR)"
set title "against each sweep's rival"
plot x title "plateau = prediction" lw 2 lc rgb '#b22222', {', '.join(plots_r)}
unset multiplot
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=True, cwd=out)


def main():
    easgd, out = sys.argv[1], sys.argv[2]
    rows = load(easgd, out)
    fit_rows = [r for r in rows if r["status"] == "completed"]
    result = {"runs": rows, "diverged": sum(r["status"] == "diverged" for r in rows),
              "unfinished": sum(r["status"] not in ("completed", "diverged") for r in rows),
              "core_hours": sum(r["wall_seconds"] or 0 for r in rows) / 3600, "sweeps": {}}
    print(f"{'run':30s} {'h*':>7s} {'rival':>7s} {'first':>6s} {'max':>6s} {'plateau':>8s} {'even':>7s} {'odd':>7s} {'÷h*':>6s}  status")
    for r in rows:
        ev = f"{r['plateau_even']:7.2f}" if r["plateau_even"] is not None else "      -"
        od = f"{r['plateau_odd']:7.2f}" if r["plateau_odd"] is not None else "      -"
        rival = r.get("h0b_nesterov") or r.get("h0c_two_over_p_eta") or r["h0a_two_over_eta"]
        print(f"{r['run']:30s} {r['h_star']:7.2f} {rival:7.2f} {r['first']:6.1f} {r['max']:6.1f} {r['plateau']:8.2f} {ev} {od} "
              f"{r['plateau'] / r['h_star']:6.3f}  {r['status']}")
    for s in SWEEPS:
        mine = [r for r in fit_rows if all(r[k] == v for k, v in s["fixed"].items()) and r[s["axis"]] in s["values"]]
        if not mine:
            continue
        res = decide(s, mine)
        result["sweeps"][s["name"]] = res
        print(f"\n{s['name']}: {s['title']}, n = {res['n']}")
        for st in res["settings"]:
            print(f"  {s['axis']} = {st['value']}: h* {st['h_star']:.2f}, rival {st['rival']:.2f}, plateaus "
                  + ", ".join(f"{v:.2f}" for v in st["plateaus"]) + f", mean ÷ h* {st['plateau_over_h_star']:.3f}")
        if "slope" in res:
            print(f"  slope {res['slope']:.3f} (95 % interval {res['slope_interval_95'][0]:.3f} to "
                  f"{res['slope_interval_95'][1]:.3f}), r = {res['r']:.3f}")
        for k in ("plateau_over_p4", "r_delta_09_over_0"):
            if k in res:
                print(f"  {k}: {res[k]}")
        print("  errors mean |ln(plateau/prediction)|: " + ", ".join(f"{k} {v:.3f}" for k, v in res["errors"].items()))
        print(f"  verdict: {res['verdict']}")
    print(f"\ndiverged {result['diverged']}, unfinished {result['unfinished']}, {result['core_hours']:.2f} core-hours of training")
    with open(os.path.join(out, "eos-law.json"), "w") as f:
        json.dump(result, f, indent=2)
    figures(out, rows, SWEEPS)
    print(f"wrote {os.path.join(out, 'eos-law.json')} and the figures beside it")


if __name__ == "__main__":
    main()
