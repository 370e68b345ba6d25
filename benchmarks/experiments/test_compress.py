#!/usr/bin/env python3
"""Tests of notebook 06's compressed-exchange comparison (benchmarks/experiments/compress.py), run by `make test`:
the stated rule's verdicts on intervals worked by hand, the configurations as stated, and the committed record
reproducing the table notebook 06 quotes.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compress  # noqa: E402
import test_outer  # noqa: E402


class CompressTests(unittest.TestCase):
    def test_the_rule_on_intervals_worked_by_hand(self):
        # Within ±0.5 pp: matches; wholly beyond +0.5: worse; wholly below −0.5: better; else inconclusive.
        self.assertEqual(compress.verdict(0.1, 0.3), "matches")            # [−0.2, 0.4]
        self.assertEqual(compress.verdict(0.0, 0.5), "matches")            # [−0.5, 0.5], the edges included
        self.assertEqual(compress.verdict(1.2, 0.6), "worse")              # [0.6, 1.8]
        self.assertEqual(compress.verdict(-1.0, 0.4), "better")            # [−1.4, −0.6]
        self.assertEqual(compress.verdict(0.4, 0.3), "inconclusive")       # [0.1, 0.7]
        self.assertEqual(compress.verdict(0.9, 0.5), "inconclusive")       # [0.4, 1.4]: worse than 0, not beyond the margin
        self.assertEqual(compress.verdict(0.2, float("nan")), "-")

    def test_the_configurations_are_the_stated_ones(self):
        # 6 codecs for DOWNPOUR and DiLoCo, 4 for EASGD (no error feedback): 16 configurations.
        self.assertEqual(len(compress.CONFIGS), 16)
        self.assertNotIn("easgd-tau10-int4-ef", compress.CONFIGS)
        args = compress.arguments("diloco-h50-int4-ef", 2, "/tmp/x")
        for want in (["--tau", "50"], ["--compress", "int4"], ["--seed", "2"], ["--steps", "1500"]):
            i = args.index(want[0])
            self.assertEqual(args[i:i + 2], want)
        self.assertIn("--error-feedback", args)

    def test_a_figure_path_that_could_reach_gnuplot_as_script_is_refused(self):
        with self.assertRaises(SystemExit) as refused:
            compress.figure("/nonexistent", [1, 2, 3], "plots/x' ; system('true")
        self.assertIn("plain path", str(refused.exception))

    def test_the_figures_data_holds_no_non_finite_number(self):
        # The uncompressed rows have no paired difference: gnuplot's missing value "?", never "nan".
        import shutil
        import tempfile
        d = tempfile.mkdtemp()
        try:
            compress.figure("/nonexistent-compress-runs", [1, 2, 3], os.path.join(d, "f"))
            with open(os.path.join(d, "f.dat")) as f:
                fields = [x.lower() for line in f if not line.startswith("#") for x in line.split()]
            self.assertEqual(fields.count("?"), 2 * 3)                  # d and its half-width, one row per method
            self.assertFalse({"nan", "-nan", "inf", "-inf"} & set(fields))
            self.assertTrue(os.path.getsize(os.path.join(d, "f.png")) > 10_000)
        finally:
            shutil.rmtree(d)

    def test_a_signal_to_the_driver_alone_stops_every_run_and_a_rerun_finishes(self):
        test_outer.signalled_then_finished(self, "compress.py", compress.CONFIGS)

    def test_the_record_reproduces_the_notebooks_table(self):
        test_outer.expect_notebook_quotes(self, lambda: compress.report("/nonexistent-compress-runs", [1, 2, 3]), compress.CONFIGS)

if __name__ == "__main__":
    unittest.main()
