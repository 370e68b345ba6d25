#!/usr/bin/env python3
"""The mean-square edge in η of round-robin EASGD with coded exchanges against the round's own (notebook 06, section
8's table): for each (p, α, τ), the η where ρ(F) reaches 1 and, for each codec, where the codec's noise makes the
second moment grow (`easgd radius --sigma 1 --compress … --json`'s mean_square_radius reaches 1, null past it),
each found by a scan of 120 points on [0.01, 3] and 40 bisections.

  python3 benchmarks/experiments/coded_edge.py [--easgd .build/release/easgd]     # about a minute
"""

import argparse
import json
import subprocess

POINTS = (["--workers", "2", "--alpha", "0.2"], ["--workers", "8", "--alpha", "0.1"], ["--workers", "4", "--alpha", "0.2", "--tau", "4"])
CODECS = (["int8", "--compress-rounding", "stochastic"], ["int4"], ["int4", "--compress-rounding", "stochastic"],
          ["int4", "--compress-rounding", "stochastic", "--compress-block", "4096"])


def radius(easgd, point, eta, codec):
    command = [easgd, "radius", "--method", "easgd", "--eta", repr(eta), "--sigma", "1", "--json"] + point
    if codec:
        command += ["--compress"] + codec
    r = subprocess.run(command, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"easgd: {' '.join(command)} failed ({r.returncode}): {r.stderr.strip()}")
    j = json.loads(r.stdout)
    if not codec:
        return j["spectral_radius"]
    return j["mean_square_radius"] if j.get("mean_square_radius") is not None else float("inf")


def edge(easgd, point, codec, low=0.01, high=3.0, points=120):
    previous = low
    for k in range(points):
        eta = low + (high - low) * k / (points - 1)
        if radius(easgd, point, eta, codec) >= 1:
            high = eta
            break
        previous = eta
    low = previous
    for _ in range(40):
        mid = (low + high) / 2
        if radius(easgd, point, mid, codec) < 1:
            low = mid
        else:
            high = mid
    return low


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--easgd", default=".build/release/easgd")
    a = ap.parse_args()
    print("| p, α, τ | ρ(F) = 1 at η | " + " | ".join(" ".join(c) for c in CODECS) + " |")
    for point in POINTS:
        plain = edge(a.easgd, point, None)
        cells = [f"{e:.5f} ({100 * (e / plain - 1):+.3f} %)" for e in (edge(a.easgd, point, c) for c in CODECS)]
        print(f"| {' '.join(point)} | {plain:.5f} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
