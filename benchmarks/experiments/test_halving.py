#!/usr/bin/env python3
"""Tests of halving.py (run by `make test`) with a stand-in for easgd whose test errors are a known function of η and
the step, so the rungs, the halving, the resumption and a divergence can be checked exactly.

  python3 -m unittest discover -s benchmarks/experiments -p 'test_halving.py'
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))

# The stand-in: train --lr E --steps N --out D writes records every 5 steps with test error
# 0.5 + |log2(E / 0.02)|/10 − step/1000 (best at η = 0.02); η ≥ 1 diverges at step 5; --resume continues to N;
# advise prints a margin. Every call is logged.
FAKE = r'''#!/usr/bin/env python3
import json, math, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(" ".join(args) + "\n")
if args[0] == "advise":
    print(json.dumps({"margin": {"eta_max": 0.1}}))
    sys.exit(0)
def opt(name):
    return args[args.index(name) + 1]
if "--resume" in args:
    run = opt("--resume")
    eta = json.load(open(os.path.join(run, "config.json")))["eta"]
    start = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))][-1]["total_steps"]
else:
    run, eta, start = opt("--out"), float(opt("--lr")), None
    os.makedirs(run)
    json.dump({"eta": eta}, open(os.path.join(run, "config.json"), "w"))
steps = int(opt("--steps"))
with open(os.path.join(run, "metrics.jsonl"), "a") as f:
    for s in range(0 if start is None else start + 5, steps + 1, 5):
        if eta >= 1 and s >= 5:
            json.dump({"status": "diverged"}, open(os.path.join(run, "status.json"), "w"))
            sys.exit(2)
        error = 0.5 + abs(math.log2(eta / 0.02)) / 10 - s / 1000
        f.write(json.dumps({"total_steps": s, "test_error": error}) + "\n")
open(os.path.join(run, "checkpoint.bin"), "w").close()
json.dump({"status": "completed"}, open(os.path.join(run, "status.json"), "w"))
'''


def install_stand_in(directory, text=FAKE):
    """Writes the stand-in easgd (TEXT) into DIRECTORY; returns its path and the log its calls go to (FAKE_LOG)."""
    fake, log = os.path.join(directory, "easgd"), os.path.join(directory, "calls.log")
    with open(fake, "w") as f:
        f.write(text)
    os.chmod(fake, 0o755)
    return fake, log


class HalvingTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.fake, self.log = install_stand_in(self.dir)
        self.out = os.path.join(self.dir, "search")

    def search(self):
        return subprocess.run([sys.executable, os.path.join(HERE, "halving.py"), "--out", self.out,
                               "--etas", "0.005,0.01,0.02,0.04,0.08,2", "--steps", "40", "--rungs", "3", "--jobs", "2",
                               "--easgd", self.fake, "--", "--method", "msgd"],
                              capture_output=True, text=True, env={**os.environ, "FAKE_LOG": self.log})

    def calls(self):
        with open(self.log) as f:
            return [line.split() for line in f]

    def test_rungs_halve_to_the_best_rate_and_resume_instead_of_retraining(self):
        r = self.search()
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.out, "halving.json")) as f:
            result = json.load(f)
        self.assertEqual([g["steps_per_worker"] for g in result["rungs"]], [10, 20, 40])
        # Rung 0, scores by hand: the mean of the errors at steps 5 and 10. The three nearest 0.02 go on; η = 2
        # diverged and scores 1.
        first = {c["eta"]: c for c in result["rungs"][0]["candidates"]}
        self.assertAlmostEqual(first[0.02]["score_test_error"], 0.5 - 0.0075, places=12)
        self.assertEqual(first[2]["score_test_error"], 1.0)
        self.assertEqual(first[2]["status"], "diverged")
        self.assertEqual(sorted(e for e, c in first.items() if c["goes_on"]), [0.01, 0.02, 0.04])
        second = [c["eta"] for c in result["rungs"][1]["candidates"] if c["goes_on"]]
        self.assertEqual(len(second), 2)
        self.assertIn(0.02, second)
        self.assertEqual(result["chosen_eta"], 0.02)
        # Each continuation is a --resume to the rung's budget; no run is trained from scratch twice.
        trains = [c for c in self.calls() if c[0] == "train"]
        fresh = [c for c in trains if "--resume" not in c]
        self.assertEqual(len(fresh), 6)
        resumed = sorted((c[c.index("--resume") + 1].rsplit("lr", 1)[1], c[c.index("--steps") + 1]) for c in trains if "--resume" in c)
        self.assertEqual([s for _, s in resumed].count("20"), 3)
        self.assertEqual([s for _, s in resumed].count("40"), 2)
        # Run again: every budget is reached, nothing is trained.
        before = len(trains)
        self.assertEqual(self.search().returncode, 0)
        self.assertEqual(len([c for c in self.calls() if c[0] == "train"]), before)

    def test_bad_input_is_one_line(self):
        for extra in (["--", "--lr", "0.1"], []):
            args = [sys.executable, os.path.join(HERE, "halving.py"), "--out", self.out, "--etas", "0.01,0.01" if not extra else "0.01",
                    "--steps", "8", "--easgd", self.fake] + extra
            r = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "FAKE_LOG": self.log})
            self.assertNotEqual(r.returncode, 0)
            self.assertTrue(r.stderr.startswith("easgd: ") and r.stderr.count("\n") == 1, r.stderr)


if __name__ == "__main__":
    unittest.main()
