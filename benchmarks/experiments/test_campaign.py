#!/usr/bin/env python3
"""Tests of the campaign runner's bookkeeping (run by `make test`): a finished run's committed record stands in for
its working directory, runs known only from the notebook's transcription count as finished, the learning rates
the transcribed search chooses are the ones notebook 02 lists as chosen, a figure panel with a run whose records
were lost is not drawn, and a transcribed run queued again is rerun while the others keep its numbers.

  EASGD=.build/debug/easgd python3 -m unittest discover -s benchmarks/experiments -p 'test_*.py'
"""

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import types
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import campaign  # noqa: E402

EASGD = os.environ.get("EASGD", ".build/debug/easgd")


def options(out, queue=None):
    return types.SimpleNamespace(out=out, queue=queue, easgd=EASGD, only=None, jobs=1, compute_seconds=0.1245,
                                 communication_seconds=0.0075, data="unused")


class CampaignRecordTests(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="easgd-campaign-test-")
        self.out = os.path.join(self.directory, "out")
        self.record = os.path.join(self.directory, "record")
        os.makedirs(self.out)
        os.makedirs(self.record)
        self.saved_record = campaign.RECORD
        campaign.RECORD = self.record

    def tearDown(self):
        campaign.RECORD = self.saved_record
        shutil.rmtree(self.directory, ignore_errors=True)

    def train(self, name):
        """A real (tiny) simulated run on Fashion-MNIST, so the record holds what easgd train writes."""
        r = subprocess.run([EASGD, "train", "--method", "easgd", "--workers", "2", "--tau", "2", "--lr", "0.02",
                            "--batch", "16", "--steps", "6", "--eval-every", "4", "--backend", "simulated",
                            "--quiet", "--out", os.path.join(self.out, name)],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_finished_runs_record_outlives_its_working_directory(self):
        self.train("fig2-easgd-p4-tau4")
        c = campaign.Campaign(options(self.out))
        before = c.summary_of("fig2-easgd-p4-tau4")
        self.assertEqual(before["status"], "completed")
        c.archive("fig2-easgd-p4-tau4")
        archived = sorted(os.listdir(os.path.join(self.record, "fig2-easgd-p4-tau4")))
        self.assertIn("metrics.jsonl", archived)
        self.assertIn("config.json", archived)
        self.assertFalse(any(f.startswith("checkpoint") or f.startswith(".") for f in archived), archived)
        # The working directory goes (a new checkout, a new machine); the record answers in its place.
        shutil.rmtree(os.path.join(self.out, "fig2-easgd-p4-tau4"))
        after = campaign.Campaign(options(self.out)).summary_of("fig2-easgd-p4-tau4")
        for key in ("status", "steps_per_worker", "workers", "best_test_error", "final_test_error", "virtual_seconds"):
            self.assertEqual(after[key], before[key], key)
        self.assertEqual(after["dir"], os.path.join(self.record, "fig2-easgd-p4-tau4"))
        # A record left half-written under its temporary name is not a record.
        os.makedirs(os.path.join(self.record, "fig2-eamsgd-p4-tau4.tmp-1"))
        self.assertIsNone(campaign.Campaign(options(self.out)).summary_of("fig2-eamsgd-p4-tau4"))

    def test_transcribed_runs_are_finished_and_choose_the_notebooks_learning_rates(self):
        shutil.copy(os.path.join(self.saved_record, "transcribed.json"), self.record)
        c = campaign.Campaign(options(self.out))
        runs = c.plan()
        search = [r for r in runs if r["phase"] == "search"]
        self.assertEqual(len(search), 34)
        self.assertTrue(all(c.state(r) == "completed" for r in search))
        lr = {r["name"]: r["lr"] for r in runs}
        # notebook 02, "The learning-rate search", the "chosen" column, and the rule for the other tau
        expected = {"fig2-easgd-p4-tau1": 0.1, "fig2-easgd-p4-tau4": 0.1, "fig2-easgd-p4-tau64": 0.1,
                    "fig2-eamsgd-p4-tau1": 0.032, "fig2-eamsgd-p4-tau4": 0.032, "fig2-eamsgd-p4-tau16": 0.016,
                    "fig2-eamsgd-p4-tau64": 0.016, "fig2-downpour-p4-tau1": 0.05, "fig2-downpour-p4-tau4": 0.05,
                    "fig2-downpour-p4-tau16": 0.02, "fig2-downpour-p4-tau64": 0.02, "fig2-mdownpour-p4-tau1": 0.004,
                    "fig2-msgd-p1": 0.008, "fig3-easgd-p16-tau10": 0.1, "fig3-eamsgd-p8-tau10": 0.016,
                    "fig3-downpour-p4-tau1": 0.05}
        for name, value in expected.items():
            self.assertEqual(lr[name], value, name)
        self.assertEqual(len(runs), 60)
        # DOWNPOUR's test loss rose above the untrained net's at tau = 16 and 64, not at 4 (notebook 02).
        self.assertFalse(c.loss_rose("fig2-downpour-p4-tau4"))
        self.assertTrue(c.loss_rose("fig2-downpour-p4-tau64"))

    def test_a_panel_with_a_lost_run_is_not_drawn(self):
        # tau = 4: EASGD has its records, EAMSGD and DOWNPOUR only their transcribed numbers.
        shutil.copy(os.path.join(self.saved_record, "transcribed.json"), self.record)
        self.train("fig2-easgd-p4-tau4")
        campaign.Campaign(options(self.out)).archive("fig2-easgd-p4-tau4")
        shutil.rmtree(os.path.join(self.out, "fig2-easgd-p4-tau4"))
        plots = os.path.join(self.directory, "plots")
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            campaign.Campaign(options(self.out)).figures(plots)
        self.assertFalse(os.path.exists(os.path.join(plots, "figure2-tau4.png")))
        self.assertIn("figure2-tau4 not drawn: the records of fig2-eamsgd-p4-tau4, fig2-downpour-p4-tau4 were lost",
                      printed.getvalue())
        # The summary still lists the run that has its records (read from the record).
        with open(os.path.join(self.out, "summary.txt")) as f:
            self.assertIn(os.path.join(self.record, "fig2-easgd-p4-tau4"), f.read())

    def test_a_transcribed_run_named_in_the_queue_is_run_again_and_its_record_then_counts(self):
        shutil.copy(os.path.join(self.saved_record, "transcribed.json"), self.record)
        name = "fig2-easgd-p4-tau1"        # transcribed: 31.44 / 31.44 % (notebook 02)

        def state(queue=None):
            c = campaign.Campaign(options(self.out, queue))
            run = next(r for r in c.plan() if r["name"] == name)
            return c, c.state(run)

        c, s = state()
        self.assertEqual(s, "completed")
        self.assertAlmostEqual(c.results[name]["best_test_error"], 0.3144)
        # Queued, it is to run; another transcribed run, not queued, stays finished in the same campaign.
        c, s = state(name)
        self.assertEqual(s, "pending")
        self.assertEqual(c.state(next(r for r in c.plan() if r["name"] == "fig2-eamsgd-p4-tau1")), "completed")
        # A rerun on its way (stopped at a checkpoint): the rerunning campaign resumes it; the others keep the
        # transcribed numbers and draw no panel from its partial curves.
        self.train(name)
        with open(os.path.join(self.out, name, "status.json"), "w") as f:
            f.write('{"status": "interrupted"}')
        open(os.path.join(self.out, name, "checkpoint.bin"), "w").close()
        self.assertEqual(state(name)[1], "interrupted")
        c, s = state()
        self.assertEqual(s, "completed")
        self.assertTrue(c.results[name]["transcribed"])
        self.assertAlmostEqual(c.results[name]["best_test_error"], 0.3144)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            c.figures(os.path.join(self.directory, "plots"))
        self.assertIn("figure2-tau1 not drawn: the records of fig2-easgd-p4-tau1, fig2-eamsgd-p4-tau1 were lost",
                      printed.getvalue())
        self.assertFalse(os.path.exists(os.path.join(self.out, "summary.txt")))     # no finished run has records
        # Finished: its own record answers, in every campaign.
        with open(os.path.join(self.out, name, "status.json"), "w") as f:
            f.write('{"status": "completed"}')
        for queue in (None, name):
            c, s = state(queue)
            self.assertEqual(s, "completed")
            self.assertNotIn("transcribed", c.results[name])
            self.assertNotAlmostEqual(c.results[name]["best_test_error"], 0.3144)


if __name__ == "__main__":
    unittest.main()
