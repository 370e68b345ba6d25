#!/usr/bin/env python3
"""The plateau of each edge-of-stability run: the median and quartiles of the sharpness over the last third of the
run (its records with a sharpness), relative to the run's threshold h* and to 2/eta, as `easgd plot --sharpness`
computes them (PREFIX-sharpness.csv); for parallel runs the same for each worker's sharpness. Also draws one
sharpness figure per group of runs into OUT/figures. Usage: plateau.py EASGD OUT"""
import csv, json, os, statistics, subprocess, sys

easgd, out = sys.argv[1], sys.argv[2]
runs = sorted(d for d in os.listdir(out) if os.path.isfile(os.path.join(out, d, "metrics.jsonl")))
os.makedirs(os.path.join(out, "figures"), exist_ok=True)

def quartiles(values):
    values = sorted(values)
    if len(values) < 2:
        return values[0], values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], statistics.median(values), q[2]

rows = []
for name in runs:
    d = os.path.join(out, name)
    prefix = os.path.join(d, "sharpness")
    r = subprocess.run([easgd, "plot", d, "--x", "steps", "--sharpness", "--out", prefix], capture_output=True, text=True)
    if r.returncode not in (0, 3):
        print(f"{name}: easgd plot failed: {r.stderr.strip()}", file=sys.stderr)
        continue
    with open(prefix + "-sharpness.csv") as f:
        points = list(csv.DictReader(f))
    if not points:
        continue
    h_star = float(points[0]["h_star"]) if points[0]["h_star"] else None
    two_over_eta = float(points[0]["two_over_eta"])
    records = [json.loads(line) for line in open(os.path.join(d, "metrics.jsonl"))]
    sharp = [rec for rec in records if rec.get("sharpness") is not None]
    last = sharp[len(sharp) - len(sharp) // 3:] if len(sharp) >= 3 else sharp
    lo, med, hi = quartiles([rec["sharpness"] for rec in last])
    status = json.load(open(os.path.join(d, "status.json")))["status"] if os.path.exists(os.path.join(d, "status.json")) else "running"
    row = {"run": name, "status": status, "h_star": h_star, "two_over_eta": two_over_eta,
           "first": sharp[0]["sharpness"], "max": max(rec["sharpness"] for rec in sharp),
           "median_last_third": med, "q1": lo, "q3": hi, "points": len(last),
           "train_loss_first": records[0].get("train_loss"), "train_loss_last": records[-1].get("train_loss")}
    workers = [rec["worker_sharpness"] for rec in last if rec.get("worker_sharpness")]
    if workers:
        flat = [v for w in workers for v in w if v is not None]
        wl, wm, wh = quartiles(flat)
        row.update({"workers_median_last_third": wm, "workers_q1": wl, "workers_q3": wh})
    rows.append(row)

def ratio(v, ref):
    return f"{v / ref:.3f}" if ref else "–"

print("| run | status | h* | 2/η | sharpness first → max | median (q1–q3) of last third | ÷ h* | ÷ 2/η | workers' median (q1–q3) ÷ h* | train loss first → last |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    w = (f"{ratio(r['workers_median_last_third'], r['h_star'])} ({ratio(r['workers_q1'], r['h_star'])}–{ratio(r['workers_q3'], r['h_star'])})"
         if "workers_median_last_third" in r else "–")
    hs = f"{r['h_star']:.4g}" if r["h_star"] else "none"
    print(f"| {r['run']} | {r['status']} | {hs} | {r['two_over_eta']:.4g} | {r['first']:.3g} → {r['max']:.3g} | "
          f"{r['median_last_third']:.4g} ({r['q1']:.4g}–{r['q3']:.4g}), {r['points']} points | {ratio(r['median_last_third'], r['h_star'])} | "
          f"{ratio(r['median_last_third'], r['two_over_eta'])} | {w} | {r['train_loss_first']:.3f} → {r['train_loss_last']:.3f} |")
json.dump(rows, open(os.path.join(out, "plateau.json"), "w"), indent=1)

groups = {"gd": [n for n in runs if n.startswith("gd-")], "nesterov": [n for n in runs if n.startswith("nesterov-")],
          "elastic": [n for n in runs if "-p4-" in n]}
for group, names in groups.items():
    if names:
        r = subprocess.run([easgd, "plot"] + [os.path.join(out, n) for n in names] +
                           ["--x", "epochs" if group != "elastic" else "steps", "--sharpness", "--log-y",
                            "--title", f"edge of stability: {group}", "--out", os.path.join(out, "figures", group)],
                           capture_output=True, text=True)
        if r.returncode not in (0, 3):
            print(f"{group}: easgd plot failed: {r.stderr.strip()}", file=sys.stderr)
