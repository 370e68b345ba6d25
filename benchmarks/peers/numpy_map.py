#!/usr/bin/env python3
"""Peer for `easgd bench map`: the same round-robin ADMM grid computed with numpy.

Reads PREFIX.json (grid, timing) and PREFIX.bin (easgd's radii, float64, row-major: row = rho, column = eta)
written by `easgd bench map --out PREFIX`, builds every round map F with numpy from the paper's equations
(an implementation independent of the Swift code: worker by worker, as row operations on the identity),
takes np.linalg.eigvals on the stacked matrices, checks both agree to 1e-9 (relative) and prints both times
and their ratio.
"""
import json
import sys
import time

import numpy as np


def admm_round_maps(p, etas, rhos, h):
    """F for a batch of (eta, rho): state (lam_1, x_1, ..., lam_p, x_p, center)."""
    n = 2 * p + 1
    c = 2 * p
    batch = etas.shape[0]
    F = np.broadcast_to(np.eye(n), (batch, n, n)).copy()
    er = (etas * rhos)[:, None]
    q = ((1 - etas * h) / (1 + etas * rhos))[:, None]
    g = er / (1 + er)
    for i in range(p):
        l, x = 2 * i, 2 * i + 1
        F[:, l, :] = F[:, l, :] - F[:, x, :] + F[:, c, :]              # lam_i <- lam_i - (x_i - center)
        F[:, x, :] = q * F[:, x, :] + g * (F[:, l, :] + F[:, c, :])     # x_i <- (x_i - eta h x_i + eta rho (lam_i + center)) / (1 + eta rho)
        F[:, c, :] = (F[:, 1::2, :][:, :p, :] - F[:, 0::2, :][:, :p, :]).mean(axis=1)  # center <- mean(x - lam)
    return F


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: numpy_map.py PREFIX   (from: easgd bench map --out PREFIX)")
    prefix = sys.argv[1]
    with open(prefix + ".json") as f:
        meta = json.load(f)
    if meta["method"] != "admm":
        sys.exit("numpy_map.py: only the ADMM benchmark has a numpy peer")
    p, h = meta["workers"], meta["h"]
    ne, nr = meta["eta"]["points"], meta["rho"]["points"]
    etas = np.linspace(meta["eta"]["lo"], meta["eta"]["hi"], ne)
    rhos = np.linspace(meta["rho"]["lo"], meta["rho"]["hi"], nr)
    ours = np.fromfile(prefix + ".bin", dtype="<f8")
    if ours.size != ne * nr or not np.all(np.isfinite(ours)):
        sys.exit("numpy_map.py: %s.bin does not hold %d finite radii" % (prefix, ne * nr))
    E, R = np.meshgrid(etas, rhos)          # row = rho, column = eta, as easgd writes it
    E, R = E.ravel(), R.ravel()

    chunk = 50_000
    radii = np.empty(E.size)
    build = solve = 0.0
    for start in range(0, E.size, chunk):
        t0 = time.perf_counter()
        F = admm_round_maps(p, E[start:start + chunk], R[start:start + chunk], h)
        t1 = time.perf_counter()
        radii[start:start + chunk] = np.abs(np.linalg.eigvals(F)).max(axis=1)
        t2 = time.perf_counter()
        build += t1 - t0
        solve += t2 - t1
    numpy_total = build + solve
    worst = float(np.max(np.abs(radii - ours) / radii))
    ours_time = meta["map_seconds_median"]
    print("numpy %s: build %.2f s + eigvals %.2f s = %.2f s (1 thread: numpy's eigvals loop is serial)"
          % (np.__version__, build, solve, numpy_total))
    print("easgd: %.3f s (median, %d threads)" % (ours_time, meta["threads"]))
    print("ratio numpy / easgd: %.1fx (per thread: %.1fx)" % (numpy_total / ours_time, numpy_total / ours_time / meta["threads"]))
    print("max relative difference: %.2e (%s 1e-9)" % (worst, "within" if worst <= 1e-9 else "NOT within"))
    if worst > 1e-9:
        sys.exit(1)


if __name__ == "__main__":
    main()
