#!/usr/bin/env python3
"""Tests of decisive.py (run by `make test`): the paired statistics and the stated rules against hand-computed
values, and the whole flow (search, the other seeds, resumption, the report) with the stand-in easgd of
test_halving.py.
  python3 -m unittest discover -s benchmarks/experiments -p 'test_decisive.py'
"""

import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from decisive import Campaign, extension  # noqa: E402
from halving import status  # noqa: E402
from test_halving import FAKE, alive, install_stand_in, stop_when, stoppable  # noqa: E402



class StatisticsTests(unittest.TestCase):
    def test_the_paired_interval_by_hand(self):
        # Differences −2, −1, −3 points: mean −2, sd 1, SE 1/√3 = 0.57735; t(0.975, 2) = 4.302653 gives ±2.48414.
        p = Campaign.paired([0.20, 0.21, 0.19], [0.22, 0.22, 0.22])
        self.assertAlmostEqual(p["mean"], -0.02, places=12)
        self.assertAlmostEqual(p["se"], 0.01 / 3 ** 0.5, places=12)
        self.assertAlmostEqual(p["low"], -0.02 - 0.0248414, places=6)
        self.assertAlmostEqual(p["high"], -0.02 + 0.0248414, places=6)
        # Ahead in every seed, but the interval reaches above 0: not confirmed, not refuted.
        self.assertEqual(Campaign.verdict(p), "inconclusive at this budget")

    def test_the_rules(self):
        self.assertEqual(Campaign.verdict({"differences": [-0.03, -0.031, -0.029], "low": -0.033, "high": -0.027}), "confirmed")
        self.assertEqual(Campaign.verdict({"differences": [0.01, 0.02, 0.005], "low": -0.01, "high": 0.03}), "refuted")
        self.assertEqual(Campaign.verdict({"differences": [0.03, 0.031, -0.001], "low": 0.001, "high": 0.05}), "refuted")
        self.assertEqual(Campaign.verdict({"differences": [0.01, -0.02, 0.005], "low": -0.03, "high": 0.03}),
                         "inconclusive at this budget")


class ExtensionTests(unittest.TestCase):
    """Claim (d)'s rule, by hand, at a dry run's horizon of 30 steps per worker: 8 epochs are 10 steps, 48 are 60."""

    def run_with(self, errors, state="completed", workers=None):
        d = tempfile.mkdtemp()
        with open(os.path.join(d, "metrics.jsonl"), "w") as f:
            for s, e in errors:
                r = {"total_steps": s * (workers or 1), "test_error": e}
                if workers:
                    r["worker_steps"] = [s] * workers
                f.write(json.dumps(r) + "\n")
        with open(os.path.join(d, "status.json"), "w") as f:
            json.dump({"status": state}, f)
        return d

    def test_on_by_8_epochs_while_the_best_fell_by_more_than_0_3_point(self):
        # Best by step 20 (8 epochs before the end): 0.300; by 30: 0.2965, a fall of 0.35 point: on to 40.
        self.assertEqual(extension(self.run_with([(10, 0.32), (20, 0.300), (25, 0.2990), (30, 0.2965)]), 30), 40)
        # A fall of 0.25 point (0.300 to 0.2975, the lowest at 25, not at the end): it stops at 30.
        self.assertIsNone(extension(self.run_with([(10, 0.32), (20, 0.300), (25, 0.2975), (30, 0.2990)]), 30))
        # The best 8 epochs ago counts, not the error then: 0.290 at 15 and 0.2890 by 40 is a fall of 0.1 point.
        self.assertIsNone(extension(self.run_with([(15, 0.290), (30, 0.30), (40, 0.2890)]), 30))
        # Steps per worker are the workers' (worker_steps), not the summed total_steps.
        self.assertEqual(extension(self.run_with([(20, 0.30), (30, 0.29)], workers=4), 30), 40)

    def test_never_past_48_epochs_nor_for_a_diverged_run_or_one_short_of_the_horizon(self):
        self.assertIsNone(extension(self.run_with([(50, 0.30), (60, 0.20)]), 30))
        self.assertEqual(extension(self.run_with([(40, 0.30), (50, 0.20)]), 30), 60)
        self.assertIsNone(extension(self.run_with([(20, 0.30), (30, 0.20)], state="diverged"), 30))
        self.assertIsNone(extension(self.run_with([(10, 0.30), (25, 0.20)], state="interrupted"), 30))

    def test_a_run_stopped_on_the_way_to_its_next_budget_goes_on_to_it(self):
        # Interrupted at 35 on its way from 30 to 40: on to 40, whatever its errors.
        self.assertEqual(extension(self.run_with([(20, 0.30), (30, 0.30), (35, 0.30)], state="interrupted"), 30), 40)


class CoreHoursTests(unittest.TestCase):
    def test_core_hours_sum_every_runs_wall_seconds_the_newer_copy_winning(self):
        # The record holds a (1,800 s) and search/b (5,400 s); OUT holds a newer a (3,600 s): 9,000 s = 2.5 h.
        d = tempfile.mkdtemp()
        for root, run, wall in (("record", "a", 1800), ("record", "search/b", 5400), ("out", "a", 3600)):
            os.makedirs(os.path.join(d, root, run))
            with open(os.path.join(d, root, run, "metrics.jsonl"), "w") as f:
                f.write(json.dumps({"total_steps": 0, "wall_seconds": 0}) + "\n")
                f.write(json.dumps({"total_steps": 9, "wall_seconds": wall}) + "\n")

        class A:
            record, out = os.path.join(d, "record"), os.path.join(d, "out")
        self.assertAlmostEqual(Campaign(A(), []).core_hours(), 2.5, places=12)


class FlowTests(unittest.TestCase):
    def campaign(self, stand_in, *selection):
        """Runs decisive.py on a stand-in easgd in a new directory (jobs 2, its own record); returns the directory,
        the command, its environment and the stand-in's calls."""
        d = tempfile.mkdtemp()
        fake, log = install_stand_in(d, stand_in)
        command = [sys.executable, os.path.join(HERE, "decisive.py"), "--out", os.path.join(d, "out"), "--data", d,
                   "--easgd", fake, "--jobs", "2", "--record", os.path.join(d, "record")] + list(selection)
        env = {**os.environ, "FAKE_LOG": log}
        r = subprocess.run(command, capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(log) as f:
            return d, fake, log, command, env, [line.split() for line in f]

    def test_search_then_seeds_then_a_rerun_trains_nothing(self):
        d, fake, log, command, env, calls = self.campaign(FAKE, "--steps", "40", "--only", "easgd-tau1,easgd-tau64")
        trains = [c for c in calls if c[0] == "train" and "--resume" not in c]
        # Four candidates each searched with seed 1; the chosen η (0.025 is nearest the stand-in's best, 0.02) then
        # trains seeds 2 and 3 from the same initialisation, in both settings.
        self.assertEqual(len(trains), 2 * (4 + 2))
        seeds = sorted(c[c.index("--seed") + 1] for c in trains if c[c.index("--lr") + 1] == "0.025")
        self.assertEqual(seeds, ["1", "1", "2", "2", "3", "3"])
        self.assertTrue(all(c[c.index("--init-seed") + 1] == "1" for c in trains))
        self.assertTrue(all(c[c.index("--steps") + 1] == "40" for c in trains if c[c.index("--seed") + 1] != "1"))
        # Every 24-epoch horizon option is the campaign's: the clock and the link model.
        self.assertTrue(all("--link-bandwidth" in c and "--compute-seconds" in c for c in trains))
        # A second invocation finds everything done and trains nothing.
        before = len(calls)
        r = subprocess.run(command, capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(log) as f:
            self.assertEqual(len(f.readlines()), before)
        # A new checkout (no .build): the record brings back every finished run and search; nothing trains again.
        self.assertTrue(os.path.exists(os.path.join(d, "record", "easgd-tau64", "search", "halving.json")))
        self.assertTrue(os.path.exists(os.path.join(d, "record", "easgd-tau64", "s3", "metrics.jsonl")))
        self.assertFalse(any(f.endswith(".bin") or f.endswith(".log") for _, _, fs in os.walk(os.path.join(d, "record")) for f in fs))
        before_report = subprocess.run(command[:2] + ["--out", os.path.join(d, "out"), "--record", os.path.join(d, "record"), "--report", "--json"],
                                       capture_output=True, text=True).stdout
        subprocess.run(["rm", "-rf", os.path.join(d, "out")], check=True)
        r = subprocess.run(command, capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("12 finished runs brought from", r.stdout)
        with open(log) as f:
            self.assertEqual(len(f.readlines()), before)
        # A search recorded only to its first rung: its eliminated candidates stay done, the ones going on train
        # again from the start (no checkpoint), and the seeds after it are the record's.
        subprocess.run(["rm", "-rf", os.path.join(d, "out")], check=True)
        search = os.path.join(d, "record", "easgd-tau1", "search")
        os.remove(os.path.join(search, "halving.json"))
        for name in os.listdir(search):
            path = os.path.join(search, name, "metrics.jsonl")
            with open(path) as f:
                lines = [x for x in f if json.loads(x)["total_steps"] <= 10]
            with open(path, "w") as f:
                f.writelines(lines)
        r = subprocess.run(command, capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(log) as f:
            again = [line.split() for line in f][before:]
        self.assertEqual(sorted(c[c.index("--lr") + 1] for c in again if c[0] == "train" and "--resume" not in c),
                         ["0.025", "0.05"])
        self.assertEqual(subprocess.run(command[:2] + ["--out", os.path.join(d, "out"), "--record", os.path.join(d, "record"), "--report", "--json"],
                                        capture_output=True, text=True).stdout, before_report)
        # The report: equal runs in every seed (the stand-in ignores the seed), so τ = 64 − τ = 1 is 0 in each:
        # not confirmed (the interval is {0}) and not refuted (τ = 1 is not ahead in any seed).
        r = subprocess.run(command[:2] + ["--out", os.path.join(d, "out"), "--record", os.path.join(d, "record"), "--report", "--json"], capture_output=True, text=True)
        report = json.loads(r.stdout)
        self.assertEqual(report["settings"]["easgd-tau1"]["eta"], 0.025)
        self.assertEqual(report["claims"]["c"]["differences"], [0.0, 0.0, 0.0])
        self.assertEqual(report["claims"]["c"]["verdict"], "inconclusive at this budget")
        self.assertNotIn("a", report["claims"])
        # The figures: only (c)'s settings are complete; its plot groups the six runs by seed, two labelled curves.
        r = subprocess.run(command[:2] + ["--out", os.path.join(d, "out"), "--record", os.path.join(d, "record"), "--easgd", fake, "--figures", "--plots", os.path.join(d, "plots")],
                           capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("(a): not drawn yet", r.stdout)
        with open(log) as f:
            plots = [line.split() for line in f if line.startswith("plot ")]
        self.assertEqual(len(plots), 1)
        plot = plots[0]
        self.assertEqual(sum(1 for x in plot if x.startswith(os.path.join(d, "out"))), 6)
        self.assertEqual(plot.count("--label"), 2)
        self.assertIn("--group-seeds", plot)
        self.assertNotIn("--error-range", plot)            # only (a) is drawn on a narrower range
        self.assertEqual(plot[plot.index("--out") + 1], os.path.join(d, "plots", "decisive-c"))


    def test_a_signal_to_the_driver_alone_stops_every_run_at_a_checkpoint_and_a_rerun_finishes(self):
        # SIGTERM to decisive.py only, during the searches (a halving.py and its runs below each lane) and again
        # during the seeds: 130 each time, no run of it alive after (test_halving.stop_when); then a rerun finishes.
        d = tempfile.mkdtemp()
        fake, log = install_stand_in(d, stoppable())
        out = os.path.join(d, "out")
        command = [sys.executable, os.path.join(HERE, "decisive.py"), "--out", out, "--data", d, "--easgd", fake,
                   "--jobs", "2", "--record", os.path.join(d, "record"), "--steps", "200", "--only", "easgd-tau1,easgd-tau64"]
        env = {**os.environ, "FAKE_LOG": log, "FAKE_PIDS": os.path.join(d, "pids")}
        # (200 steps: the search's shortest run, 50 steps, is 10 slowed records, so a run is under way at the signal)
        stop_when(self, command, env, log, out, lambda line: line.startswith("train") and "/easgd-tau64/search/" in line)
        self.assertFalse(os.path.exists(os.path.join(out, "easgd-tau64", "search", "halving.json")))
        stop_when(self, command, env, log, out, lambda line: line.startswith("train") and line.rstrip().endswith("/s2"))
        r = subprocess.run(command, capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in ("easgd-tau1", "easgd-tau64"):
            for seed in (2, 3):
                with open(os.path.join(out, name, f"s{seed}", "status.json")) as f:
                    self.assertEqual(json.load(f)["status"], "completed")

    def test_a_failed_run_stops_the_other_lanes_runs_and_ends_with_its_error(self):
        # τ = 64's seed 2 fails at once; τ = 1's lane, slowed, is then at its own seeds: it is stopped at a
        # checkpoint instead of going on to finish them, and the driver ends with the failure, nothing left running.
        d = tempfile.mkdtemp()
        failing = stoppable().replace('if args[0] == "plot":', 'if "--tau" in args and args[args.index("--tau") + 1] == "64" '
                                      'and "--seed" in args and args[args.index("--seed") + 1] == "2":\n    sys.exit(1)\nif args[0] == "plot":')
        self.assertIn("sys.exit(1)", failing)
        fake, log = install_stand_in(d, failing)
        out = os.path.join(d, "out")
        command = [sys.executable, os.path.join(HERE, "decisive.py"), "--out", out, "--data", d, "--easgd", fake,
                   "--jobs", "2", "--record", os.path.join(d, "record"), "--steps", "40", "--only", "easgd-tau1,easgd-tau64"]
        env = {**os.environ, "FAKE_LOG": log, "FAKE_PIDS": os.path.join(d, "pids"), "FAKE_SLOW": "0.1"}
        r = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("a run failed: stopping every run at a checkpoint", r.stdout)
        self.assertTrue(r.stderr.startswith("easgd: ") and "--tau 64" in r.stderr and r.stderr.count("\n") == 1, r.stderr)
        with open(env["FAKE_PIDS"]) as f:
            self.assertEqual([p for p in map(int, f.read().split()) if alive(p)], [])
        self.assertNotEqual(status(os.path.join(out, "easgd-tau1", "s3")), "completed")

    def test_claim_d_continues_every_run_while_its_best_falls_and_decides_on_the_lowest_of_two_methods(self):
        # A stand-in whose error stops falling at 40 steps: every run, at a horizon of 30, goes on to 40 (it fell 1
        # point over the last 10 steps, 8 epochs here), then to 50 (it fell 1 point again, to its lowest at 40), and
        # stops there (no fall over the last 10).
        d, fake, log, command, env, calls = self.campaign(FAKE.replace("- s / 1000", "- min(s, 40) / 1000"),
                                                          "--steps", "30", "--claims", "d")
        trains = [c for c in calls if c[0] == "train" and "--resume" not in c]
        self.assertEqual(len(trains), 6 * (4 + 2))
        self.assertEqual(sorted({c[c.index("--workers") + 1] for c in trains}), ["16", "4", "8"])
        self.assertTrue(all(c[c.index("--tau") + 1] == "10" for c in trains))
        self.assertEqual(sorted({c[c.index("--lr") + 1] for c in trains if "easgd" in c}), ["0.05", "0.1", "0.2", "0.4"])
        # Past the search: every one of the 18 runs resumed to 40 and then to 50, never to 60.
        # (The search's own resumptions go to its rungs, 15 and 30 steps.)
        extended = [c[c.index("--steps") + 1] for c in calls if "--resume" in c]
        self.assertEqual(sorted(x for x in extended if x not in ("15", "30")), ["40"] * 18 + ["50"] * 18)
        report = json.loads(subprocess.run(command[:2] + ["--out", os.path.join(d, "out"), "--record", os.path.join(d, "record"),
                                                          "--report", "--json"], capture_output=True, text=True).stdout)
        # Each setting's chosen rate is the stand-in's best (nearest 0.02) and its best error the one at 40 steps.
        self.assertEqual(report["settings"]["eamsgd-p16"]["eta"], 0.016)
        self.assertEqual(report["settings"]["easgd-p8"]["eta"], 0.05)
        # (Epochs of 50,000 images at batch 128: 50 steps are 0.128 of one.)
        for e in report["settings"]["easgd-p4"]["epochs_per_worker"]:
            self.assertAlmostEqual(e, 0.128, places=12)
        low = 0.5 + abs(math.log2(0.016 / 0.02)) / 10 - 0.040
        self.assertEqual(len(report["claims"]["d"]["lowest"]["16"]), 3)
        for p in ("4", "8", "16"):
            for x in report["claims"]["d"]["lowest"][p]:
                self.assertAlmostEqual(x, low, places=12)
        # Equal in every seed at every p: L_16 − L_4 is 0 in each, inconclusive (neither side ahead in any seed).
        self.assertEqual(report["claims"]["d"]["differences"], [0.0, 0.0, 0.0])
        self.assertEqual(report["claims"]["d"]["verdict"], "inconclusive at this budget")
        # A second invocation trains nothing.
        before = len(calls)
        r = subprocess.run(command, capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(log) as f:
            self.assertEqual(len(f.readlines()), before)


if __name__ == "__main__":
    unittest.main()
