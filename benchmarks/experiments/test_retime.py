#!/usr/bin/env python3
"""Tests of retime.py (run by `make test`): the event simulation against closed forms, and the committed Figure 3
records re-timed at their own clock against the seconds the simulator wrote.

  python3 -m unittest discover -s benchmarks/experiments -p 'test_retime.py'
"""

import math
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import retime  # noqa: E402

RECORD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "record")


class RetimeTests(unittest.TestCase):
    def test_without_a_queue_every_worker_keeps_its_own_sum(self):
        # Elastic: step k of every worker completes at k·c + ⌈k/τ⌉·e; DOWNPOUR: at k·c + ⌊k/τ⌋·e.
        c, e, tau, p, n = 0.1, 0.03, 3, 4, 10
        for method, exchanges in (("easgd", lambda k: math.ceil(k / tau)), ("downpour", lambda k: k // tau)):
            got = retime.completion_times(method, p, tau, n, c, e, queue=False)
            want = sorted(k * c + exchanges(k) * e for k in range(1, n + 1) for _ in range(p))
            self.assertEqual(len(got), p * n)
            for g, w in zip(got, want):
                self.assertAlmostEqual(g, w, places=12)

    def test_a_busy_master_serves_one_exchange_every_e_seconds(self):
        # DOWNPOUR, τ = 1: every worker computes for c, then queues. When c ≤ (p − 1)·e the master never idles after
        # the first requests, so the m-th step to complete (its push served) does so at c + m·e.
        c, e, p, n = 0.015, 0.0025, 16, 50
        got = retime.completion_times("downpour", p, 1, n, c, e, queue=True)
        for m, g in enumerate(got, start=1):
            self.assertAlmostEqual(g, c + m * e, places=12)
        # A master with time to spare (p·e < c + e at p = 4) only staggers the first round: worker j waits j·e once,
        # and its step k completes at k(c + e) + j·e.
        got = retime.completion_times("downpour", 4, 1, n, c, e, queue=True)
        want = sorted(k * (c + e) + j * e for k in range(1, n + 1) for j in range(4))
        for g, w in zip(got, want):
            self.assertAlmostEqual(g, w, places=12)

    def test_the_records_are_re_timed_at_their_own_clock_to_the_seconds_they_hold(self):
        runs = sorted(d for d in os.listdir(RECORD) if d.startswith("fig3-"))
        self.assertEqual(len(runs), 9)
        for name in runs:
            run = os.path.join(RECORD, name)
            s, records = retime.read(run)
            rows = retime.retime(s, records, s["compute"], s["exchange"], False)
            for steps, _, t, recorded in rows:
                self.assertAlmostEqual(t, recorded, delta=1e-9 * max(1, recorded), msg=f"{name} at {steps} steps")


if __name__ == "__main__":
    unittest.main()
