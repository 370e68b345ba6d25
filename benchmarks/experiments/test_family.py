#!/usr/bin/env python3
"""Tests of family.py (run by `make test`): the stated rule on intervals worked by hand, the configurations and rates
as notebook 06 section 9 states them, and the whole flow (searches, seeds, a rerun that trains nothing, a new
checkout that restores from the record) with the stand-in easgd of test_halving.py.
  python3 -m unittest discover -s benchmarks/experiments -p 'test_family.py'
"""

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import unittest.mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import family  # noqa: E402
import test_outer  # noqa: E402  (the notebook-quote check every campaign shares)
from test_halving import FAKE, install_stand_in, stop_when, stoppable  # noqa: E402


class RuleTests(unittest.TestCase):
    def test_the_rule_on_intervals_worked_by_hand(self):
        v = family.Family.verdict
        self.assertEqual(v(0.2, 0.7), "matches")                        # [−0.5, 0.9] within ±1
        self.assertEqual(v(0.0, 1.0), "matches")                        # the edges included
        self.assertEqual(v(2.0, 0.8), "worse")                          # [1.2, 2.8]
        self.assertEqual(v(-2.5, 1.0), "better")                        # [−3.5, −1.5]
        self.assertEqual(v(0.8, 0.5), "inconclusive at this budget")    # [0.3, 1.3]
        self.assertEqual(v(0.1, float("nan")), "-")

    def test_no_verdict_before_three_paired_seeds(self):
        # Differences 0.1 and 0.3 pp: mean 0.2, sd √0.02, t95(2) = 12.706 → half-width 12.706 · 0.1414 / √2 = 1.2706.
        f = family.Family.__new__(family.Family)
        rows = {"a": {"scores": {1: 0.201, 2: 0.203}}, "b": {"scores": {1: 0.200, 2: 0.200, 3: 0.2}}}
        mean, half, said = f.paired(rows, "a", "b")
        self.assertAlmostEqual(mean, 0.2, places=9)
        self.assertAlmostEqual(half, 1.2706, places=3)
        self.assertEqual(said, "pending (2 of 3 seeds)")
        rows["a"]["scores"][3] = 0.202                  # 0.1, 0.3, 0.2: sd 0.1, t95(3) = 4.303 → 0.2484
        mean, half, said = f.paired(rows, "a", "b")
        self.assertAlmostEqual(half, 4.303 * 0.1 / 3 ** 0.5, places=3)
        self.assertEqual(said, "matches")
        self.assertIsNone(f.paired({"a": {"scores": {1: 0.2}}, "b": rows["b"]}, "a", "b"))

    def test_the_score_is_the_mean_of_the_last_two_test_errors(self):
        d = tempfile.mkdtemp()
        with open(os.path.join(d, "metrics.jsonl"), "w") as f:
            for e in (0.5, 0.4, None, 0.31, 0.29):
                f.write(json.dumps({"test_error": e, "seconds": 10 * (e or 0)}) + "\n")
        with open(os.path.join(d, "status.json"), "w") as f:
            json.dump({"status": "completed"}, f)
        self.assertAlmostEqual(family.Family.score(d), 0.30, places=12)
        with open(os.path.join(d, "metrics.jsonl")) as f:
            rs = [json.loads(line) for line in f]
        self.assertAlmostEqual(family.Family.score(d, rs), 0.30, places=12)
        self.assertEqual(family.Family.time_to(rs, 0.35), 3.1)
        self.assertIsNone(family.Family.time_to(rs, 0.2))
        with open(os.path.join(d, "status.json"), "w") as f:
            json.dump({"status": "diverged"}, f)
        self.assertEqual(family.Family.score(d), 0.9)


class DesignTests(unittest.TestCase):
    def test_the_configurations_are_the_stated_ones(self):
        # Seven in the family's table; DOWNPOUR at none and four codecs, DiLoCo H = 50 at four, EASGD at three.
        family_table = [n for n, c in family.CONFIGS.items() if c[2] == "family"]
        self.assertEqual(family_table, ["sync-sgd", "diloco-h1", "diloco-h10", "diloco-h50", "diloco-h100", "easgd-tau10", "eamsgd-tau10"])
        self.assertEqual(len(family.CONFIGS), 19)
        self.assertNotIn("easgd-tau10-int4-ef", family.CONFIGS)
        self.assertEqual(family.STEPS, 2343)
        options = family.CONFIGS["diloco-h50-int4-ef"][1] + family.common("/data")
        for want in (["--tau", "50"], ["--compress", "int4"], ["--workers", "4"], ["--eval-every", "781"],
                     ["--compute-seconds", "0.015"], ["--link-bandwidth", "1.12623e+09"], ["--init-seed", "1"]):
            i = options.index(want[0])
            self.assertEqual(options[i:i + 2], want)
        self.assertIn("--error-feedback", options)

    def test_the_order_completes_one_table_or_group_at_a_time(self):
        # Every run once; the family table's 21 first; each codec group's runs together after it, EASGD's first.
        order = family.ORDER
        self.assertEqual(len(order), 57)
        self.assertEqual(len(set(order)), 57)
        self.assertEqual({n for n, _ in order[:21]}, set(family.FAMILY))
        self.assertEqual([s for _, s in order[:21]], [1] * 7 + [2] * 7 + [3] * 7)
        groups = [n.rsplit("-", 1)[0] if n.endswith(("fp16", "int8", "int4")) else n.replace("-int4-ef", "")
                  for n, _ in order[21:]]
        self.assertEqual(groups, ["easgd-tau10"] * 9 + ["diloco-h50"] * 12 + ["downpour"] * 15)

    def test_the_plan_prices_a_run_at_the_median_wall_time_of_the_finished(self):
        d = tempfile.mkdtemp()
        for run, wall in (("diloco-h10-s2", 600), ("diloco-h10-s3", 720), ("downpour-s1", 660)):
            os.makedirs(os.path.join(d, "out", run))
            with open(os.path.join(d, "out", run, "metrics.jsonl"), "w") as f:
                f.write(json.dumps({"total_steps": 9372, "wall_seconds": wall, "test_error": 0.3}) + "\n")
            with open(os.path.join(d, "out", run, "status.json"), "w") as f:
                json.dump({"status": "completed"}, f)
        f = family.Family(os.path.join(d, "out"), "/data", "easgd", record=os.path.join(d, "record"))
        with unittest.mock.patch("sys.stdout", new_callable=io.StringIO) as out:
            f.plan()
        last = out.getvalue().splitlines()[-1]
        # Median 660 s = 11.0 minutes; 57 − 3 runs left and the four undecided searches' other 3 candidates each.
        self.assertIn("3 of 57 runs finished", last)
        self.assertIn("11.0 minutes of a core, the median of the 3 finished", last)
        self.assertIn(f"about {(57 - 3 + 12) * 11 / 60:.1f} core-hours", last)
        shutil.rmtree(d)

    def test_downpours_rate_is_the_decisive_searchs_choice_at_this_horizon(self):
        with open(os.path.join(HERE, "decisive-record", "downpour-tau1", "search", "halving.json")) as f:
            h = json.load(f)
        first = h["rungs"][0]
        self.assertEqual(first["steps_per_worker"], family.STEPS)
        self.assertEqual(first["candidates"][0]["eta"], family.DOWNPOUR_ETA)      # ranked best first


class FlowTests(unittest.TestCase):
    def test_searches_then_seeds_then_nothing_then_a_new_checkout(self):
        d = tempfile.mkdtemp()
        fake, log = install_stand_in(d, FAKE)
        out, record = os.path.join(d, "out"), os.path.join(d, "record")
        command = [sys.executable, os.path.join(HERE, "family.py"), "--out", out, "--data", d, "--easgd", fake,
                   "--steps", "40", "--jobs", "2", "--record", record]
        env = {**os.environ, "FAKE_LOG": log}

        def calls():
            with open(log) as f:
                return [line.split() for line in f if line.startswith("train")]

        # The plan before any run: 57 runs, and four searches' other three candidates each, 9 minutes apiece.
        plan = subprocess.run(command + ["--plan"], capture_output=True, text=True, env=env).stdout
        self.assertIn("0 of 57 runs finished", plan)
        hours = float(plan.split("about ")[-1].split(" core-hours")[0])
        self.assertAlmostEqual(hours, (57 + 4 * 3) * 9 / 60, delta=0.05)
        r = subprocess.run(command, capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        trains = calls()
        plan = subprocess.run(command + ["--plan"], capture_output=True, text=True, env=env).stdout
        self.assertIn("57 of 57 runs finished", plan)
        self.assertIn("about 0.0 core-hours to go", plan)
        # Four searches of four rates (16 runs), then 19 configurations × 3 seeds less the four bases' seed 1.
        self.assertEqual(len(trains), 16 + 19 * 3 - 4)
        rate = lambda c: float(c[c.index("--lr") + 1])
        by = lambda name, seed: [c for c in trains if c[c.index("--out") + 1].endswith(f"/{name}-s{seed}")]
        # The stand-in's error is least at η = 0.02: DiLoCo's search (0.025 … 0.2) picks 0.025, every DiLoCo
        # configuration takes it; EAMSGD's (0.002 … 0.016) 0.016; DOWNPOUR takes the stated 0.1.
        self.assertEqual([rate(c) for c in by("diloco-h100", 2)], [0.025])
        self.assertEqual([rate(c) for c in by("diloco-h50-int4-ef", 1)], [0.025])
        self.assertEqual([rate(c) for c in by("eamsgd-tau10", 3)], [0.016])
        self.assertEqual([rate(c) for c in by("downpour-int8", 1)], [0.1])
        self.assertEqual(by("diloco-h1", 1), [])               # the search's winner is seed 1's run
        self.assertIn("--error-feedback", by("downpour-int4-ef", 2)[0])
        # The report: every configuration with three seeds (the stand-in ignores the seed: differences 0), and the
        # map asked once of each of the 57 runs (after the searches' 16, one per candidate), its ratio 2/4 reported.
        self.assertIn("diloco-h10", r.stdout)
        self.assertIn("+0.00 ± 0.00 pp matches", r.stdout)
        a2 = r.stdout.split("(A2) against DiLoCo H = 10")[1].splitlines()[1:3]
        self.assertEqual([line.split()[0] for line in a2], ["easgd-tau10", "eamsgd-tau10"])
        self.assertTrue(all(line.endswith("+0.00 ± 0.00 pp matches") for line in a2), a2)
        with open(log) as f:
            advised = [line.split() for line in f if line.startswith("advise ")]
        self.assertEqual(len(advised), 16 + 57)
        self.assertEqual(len({a[1] for a in advised[16:]}), 57)
        self.assertEqual(r.stdout.count("0.50 (0.50–0.50) 3/3"), 7 + 14)     # the two tables (H = 50, τ = 10 in both)
        # Again: nothing trains, and the map is not asked again.
        r = subprocess.run(command, capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(calls()), len(trains))
        with open(log) as f:
            self.assertEqual(sum(line.startswith("advise ") for line in f), 16 + 57)
        # A new checkout: OUT gone, the record kept; nothing trains and the report is the same.
        shutil.rmtree(out)
        again = subprocess.run(command, capture_output=True, text=True, env=env)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(len(calls()), len(trains))
        self.assertEqual(again.stdout.split("\nDiLoCo")[1:], r.stdout.split("\nDiLoCo")[1:])
        # The figures: every configuration's three seeds, one labelled curve each, on the stated targets.
        plots = os.path.join(d, "plots")
        drawn = subprocess.run(command + ["--figures", "--plots", plots], capture_output=True, text=True, env=env)
        self.assertEqual(drawn.returncode, 0, drawn.stderr)
        with open(log) as f:
            calls = [line.split() for line in f if line.startswith("plot ")]
        self.assertEqual([c[c.index("--out") + 1] for c in calls],
                         [os.path.join(plots, n) for n in ("family-cifar", "codecs-cifar-downpour", "codecs-cifar-diloco-h50",
                                                           "codecs-cifar-easgd-tau10")])
        family_plot = calls[0]
        runs = [x for x in family_plot[1:family_plot.index("--group-seeds")]]
        self.assertEqual(len(runs), 7 * 3)
        self.assertEqual(runs[:3], [os.path.join(record, "search", "sync-sgd", "lr0.05"), os.path.join(record, "sync-sgd-s2"),
                                    os.path.join(record, "sync-sgd-s3")])
        self.assertEqual(family_plot.count("--label"), 7)
        self.assertEqual(family_plot[family_plot.index("--targets") + 1], "35,30")
        self.assertEqual(len(calls[3][1:calls[3].index("--group-seeds")]), 4 * 3)
        with open(log) as f:
            said = f.read()
        self.assertIn("--label DiLoCo H = 50, int4 + error feedback, η = 0.025", said)
        self.assertIn("--label DOWNPOUR τ = 1, fp16, η = 0.1", said)
        # And the codecs' scores against their bytes: a block per method, a row per codec, uncompressed first with
        # no difference ("?", gnuplot's missing value), every other difference 0 (the stand-in ignores the codec).
        with open(os.path.join(plots, "codecs-cifar-bytes.dat")) as f:
            blocks = [[line.split() for line in b.splitlines() if line and not line.startswith("#")]
                      for b in f.read().split("\n\n\n") if b.strip()]
        self.assertEqual([len(b) for b in blocks], [5, 5, 4])
        self.assertEqual([row[3] for row in blocks[1]], ['"none"', '"fp16"', '"int8"', '"int4"', '""'])
        self.assertEqual(blocks[1][4][4], '"int4-ef"')
        self.assertEqual([row[5:] for b in blocks for row in b[:1]], [["?", "?"]] * 3)
        self.assertEqual({float(x) for b in blocks for row in b[1:] for x in row[5:]}, {0.0})
        self.assertGreater(os.path.getsize(os.path.join(plots, "codecs-cifar-bytes.png")), 10_000)

    def test_the_committed_record_reproduces_the_notebooks_tables(self):
        # Section 9's two tables and (A2) lines, as --report prints them from the committed record alone (a new
        # checkout's view): every configuration's row, quoted verbatim in notebook 06.
        f = family.Family("/nonexistent-family-runs", "/nonexistent-data", "/nonexistent-easgd")
        rows = test_outer.expect_notebook_quotes(self, f.report, family.CONFIGS, tables=True)
        self.assertEqual(len(rows), len(family.FAMILY) + 2 + sum(len(n) for n in family.CODEC_GROUPS.values()))

    def test_a_signal_to_the_driver_alone_stops_every_run_at_a_checkpoint_and_a_rerun_finishes(self):
        # SIGTERM to family.py only, once during the first search (its halving.py and two runs below it) and once
        # during the seeds: each time family.py ends with 130 and no run of it lives on (test_halving.stop_when).
        d = tempfile.mkdtemp()
        fake, log = install_stand_in(d, stoppable())
        out, record = os.path.join(d, "out"), os.path.join(d, "record")
        command = [sys.executable, os.path.join(HERE, "family.py"), "--out", out, "--data", d, "--easgd", fake,
                   "--steps", "40", "--jobs", "2", "--record", record]
        env = {**os.environ, "FAKE_LOG": log, "FAKE_PIDS": os.path.join(d, "pids")}
        stop_when(self, command, env, log, out, lambda line: line.startswith("train") and "/search/sync-sgd/" in line)
        self.assertTrue(os.path.exists(os.path.join(out, "search", "sync-sgd")))
        stop_when(self, command, env, log, out, lambda line: line.startswith("train") and "-s2" in line)
        # Then to the end, unslowed: every configuration's three seeds, the report as in the full flow.
        r = subprocess.run(command, capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("+0.00 ± 0.00 pp matches", r.stdout)
        self.assertEqual(len([n for n in os.listdir(record) if n.endswith("-s3")]), 19)


if __name__ == "__main__":
    unittest.main()
