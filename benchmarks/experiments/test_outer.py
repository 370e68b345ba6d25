#!/usr/bin/env python3
"""Tests of notebook 06's training comparison (benchmarks/experiments/outer.py), run by `make test`: its interval is
Student's t at the seeds' count (against scipy's quantile where scipy is installed, else the tabled values), and the
committed record reproduces the table notebook 06 quotes.
"""

import contextlib
import io
import math
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import outer  # noqa: E402


def signalled_then_finished(test, script, configs):
    """SCRIPT (outer.py or compress.py) on the stoppable stand-in of test_halving.py, seed 1 only, its own OUT and
    record: SIGTERM to it alone while its first runs train ends it with 130 and no run of it alive
    (test_halving.stop_when); run again, it finishes every configuration into the record."""
    import subprocess
    import tempfile
    from test_halving import install_stand_in, stop_when, stoppable
    d = tempfile.mkdtemp()
    fake, log = install_stand_in(d, stoppable())
    out, record = os.path.join(d, "out"), os.path.join(d, "record")
    command = [sys.executable, os.path.join(HERE, script), "--out", out, "--record", record, "--easgd", fake,
               "--seeds", "1", "--jobs", "2"]
    env = {**os.environ, "FAKE_LOG": log, "FAKE_PIDS": os.path.join(d, "pids")}
    stop_when(test, command, env, log, out, lambda line: line.startswith("train"))
    r = subprocess.run(command, capture_output=True, text=True, env=env)
    test.assertEqual(r.returncode, 0, r.stderr)
    test.assertEqual(sorted(os.listdir(record)), sorted(f"{name}-s1" for name in configs))
    for name in configs:
        test.assertEqual(outer.state(os.path.join(record, f"{name}-s1")), "completed")


class OuterTests(unittest.TestCase):
    def test_interval_is_students_t(self):
        values = [9.61, 10.35, 9.56]
        mean, half = outer.interval(values)
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 2)
        try:
            from scipy import stats
            quantile = stats.t.ppf(0.975, 2)
        except ImportError:
            quantile = 4.302652729911275          # t_{0.975, 2}
        self.assertAlmostEqual(mean, sum(values) / 3, places=12)
        self.assertAlmostEqual(half, quantile * sd / math.sqrt(3), places=3)

    def test_a_signal_to_the_driver_alone_stops_every_run_and_a_rerun_finishes(self):
        signalled_then_finished(self, "outer.py", outer.CONFIGS)

    def test_one_run_prints_a_dash_for_its_interval_not_nan(self):
        mean, half = outer.interval([31.88])
        self.assertEqual(mean, 31.88)
        self.assertEqual(outer.half(half, 5), "    -")
        self.assertEqual(outer.half(0.456, 5), " 0.46")
        self.assertEqual(outer.half(1.0), "1.00")

    def test_a_run_the_record_holds_finished_is_not_trained_again(self):
        # A new checkout: OUT is empty, the record holds one finished run and one that was not; the stand-in easgd
        # logs its calls, so only the second may train.
        import json
        import tempfile
        d = tempfile.mkdtemp()
        record, out, log = os.path.join(d, "record"), os.path.join(d, "out"), os.path.join(d, "calls")
        for name, status in (("sync-sgd-s1", "completed"), ("sync-sgd-s2", "running")):
            os.makedirs(os.path.join(record, name))
            with open(os.path.join(record, name, "status.json"), "w") as f:
                json.dump({"status": status}, f)
        fake = os.path.join(d, "easgd")
        with open(fake, "w") as f:
            f.write(f"#!/bin/sh\necho \"$@\" >> {log}\nexit 0\n")
        os.chmod(fake, 0o755)
        self.assertEqual(outer.launch(fake, "sync-sgd", 1, out, record=record), (os.path.join(record, "sync-sgd-s1"), "recorded"))
        self.assertFalse(os.path.exists(log))
        run, how = outer.launch(fake, "sync-sgd", 2, out, record=record)
        self.assertEqual(run, os.path.join(out, "sync-sgd-s2"))
        with open(log) as f:
            self.assertIn("--seed 2", f.read())

    def test_the_record_reproduces_the_notebooks_table(self):
        expect_notebook_quotes(self, lambda: outer.report("/nonexistent-outer-runs", [1, 2, 3], outer.TARGET), outer.CONFIGS)


def expect_notebook_quotes(test, report, configs, tables=False):
    """`report()` (reading the committed record only) prints a row per configuration, each quoted in notebook 06:
    after its header line nothing but one row per configuration, or (TABLES) headings, notes and several tables,
    whose rows are the lines that begin with a configuration's name, every configuration in at least one. Returns
    the rows."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        report()
    lines = out.getvalue().splitlines()
    if tables:
        rows = [line for line in lines if line.split() and line.split()[0] in configs]
        test.assertEqual({line.split()[0] for line in rows}, set(configs))
    else:
        rows = lines[1:]
        test.assertEqual(sorted(line.split()[0] for line in rows), sorted(configs))
    notebook = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "notebooks-text",
                                 "06-elastic-averagings-descendants.md"), encoding="utf-8").read()
    for line in rows:
        # assertTrue, not assertIn: a failure names the row, not the whole notebook.
        test.assertTrue(line in notebook, f"notebook 06 does not quote {line.split()[0]}'s row as the record gives it:\n{line}")
    return rows


if __name__ == "__main__":
    unittest.main()
