#!/usr/bin/env python3
"""Tests of benchmarks/experiments/runs.sh, the campaign scripts' run/go, run by `make test`: what a printed line
does is decided when it runs (a run that finished after the list was printed is left alone, one that checkpointed
meanwhile is resumed, not restarted), a name and arguments with spaces and quotes reach easgd intact, and a
failure other than divergence stops the campaign. easgd is a stand-in script that records its arguments.
"""

import os
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))

STAND_IN = """#!/bin/bash
# Records its arguments, one per line, then behaves as the run's name asks.
out=""; prev=""
for a in "$@"; do [ "$prev" = "--out" ] && out=$a; [ "$prev" = "--resume" ] && out=$a; prev=$a; done
printf '%s\\n' "$@" > "$out.args"
case "$out" in *fails*) exit 1 ;; *diverges*) exit 2 ;; esac
mkdir -p "$out" && echo '{"status": "completed"}' > "$out/status.json"
"""


class RunsShTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "runs")
        os.makedirs(self.out)
        self.easgd = os.path.join(self.tmp.name, "easgd stand-in")
        with open(self.easgd, "w") as f:
            f.write(STAND_IN)
        os.chmod(self.easgd, 0o755)

    def tearDown(self):
        self.tmp.cleanup()

    def bash(self, script):
        env = dict(os.environ, E=self.easgd, OUT=self.out, JOBS="2")
        return subprocess.run(["bash", "-c", f"source {HERE}/runs.sh; common=(--net 'a b'); {script}"],
                              env=env, capture_output=True, text=True)

    def args(self, name):
        with open(os.path.join(self.out, name + ".args")) as f:
            return f.read().splitlines()

    def test_the_decision_is_taken_when_the_line_runs(self):
        # Printed while nothing exists yet; then "done" finishes and "paused" checkpoints before the lines run.
        printed = self.bash("run done --lr 1; run paused --lr 2; run fresh --lr 3").stdout
        self.assertEqual(len(printed.splitlines()), 3)
        for name, content in (("done", '{"status": "completed"}'), ("paused", '{"status": "interrupted"}')):
            os.makedirs(os.path.join(self.out, name))
            with open(os.path.join(self.out, name, "status.json"), "w") as f:
                f.write(content)
        open(os.path.join(self.out, "paused", "checkpoint.bin"), "w").close()
        r = subprocess.run(["bash", "-c", f"source {HERE}/runs.sh; go"], input=printed, text=True, capture_output=True,
                           env=dict(os.environ, JOBS="2"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.out, "done.args")), "a run finished meanwhile is left alone")
        self.assertEqual(self.args("paused"), ["train", "--resume", os.path.join(self.out, "paused"), "--quiet"])
        self.assertEqual(self.args("fresh"), ["train", "--net", "a b", "--lr", "3", "--out", os.path.join(self.out, "fresh")])

    def test_names_and_arguments_with_spaces_and_quotes_arrive_intact(self):
        r = self.bash("""run "it's a run" --label 'say "hi"; rm -rf /' | go""")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.args("it's a run"), ["train", "--net", "a b", "--label", 'say "hi"; rm -rf /', "--out",
                                                   os.path.join(self.out, "it's a run")])

    def test_divergence_is_a_result_and_a_failure_stops_the_campaign(self):
        self.assertEqual(self.bash("run diverges --lr 9 | go").returncode, 0)
        r = self.bash("run fails --lr 9 | go")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("failed (1)", r.stderr)


if __name__ == "__main__":
    unittest.main()
