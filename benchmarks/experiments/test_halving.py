#!/usr/bin/env python3
"""Tests of halving.py (run by `make test`) with a stand-in for easgd whose test errors are a known function of η and
the step, so the rungs, the halving, the resumption and a divergence can be checked exactly.

  python3 -m unittest discover -s benchmarks/experiments -p 'test_halving.py'
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))

# The stand-in: train --lr E --steps N --out D writes records every 5 steps with test error
# 0.5 + |log2(E / 0.02)|/10 − step/1000 (best at η = 0.02); η ≥ 1 diverges at step 5; --resume continues to N;
# advise prints a margin and a sharpness half its h*; plot draws nothing. Every call is logged.
FAKE = r'''#!/usr/bin/env python3
import json, math, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(" ".join(args) + "\n")
if args[0] == "plot":
    sys.exit(0)
if args[0] == "advise":
    print(json.dumps({"margin": {"eta_max": 0.1}, "h_max": 2.0, "h_star": 4.0, "stable": True}))
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
    json.dump({"eta": eta, "model": {"parameters": 100}}, open(os.path.join(run, "config.json"), "w"))
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


# In place of the stand-in's "steps = ..." line (RUN is set by then): it says its pid in FAKE_PIDS and stops on SIGTERM
# as easgd train does (a checkpoint, "interrupted", 143); a run resumed without --steps goes on to the budget it was
# given, as easgd's does.
STOPPABLE = '''config = json.load(open(os.path.join(run, "config.json")))
if "--steps" in args:
    config["steps"] = steps = int(opt("--steps"))
    json.dump(config, open(os.path.join(run, "config.json"), "w"))
else:
    steps = config["steps"]
import signal, time
with open(os.environ["FAKE_PIDS"], "a") as p:
    p.write(f"{os.getpid()}\\n")
def stopped(signum, frame):
    open(os.path.join(run, "checkpoint.bin"), "w").close()
    json.dump({"status": "interrupted"}, open(os.path.join(run, "status.json"), "w"))
    sys.exit(143)
signal.signal(signal.SIGTERM, stopped)
'''


def stoppable():
    """The stand-in, stoppable (STOPPABLE) and slowed by FAKE_SLOW seconds a record."""
    text = FAKE.replace('steps = int(opt("--steps"))\n', STOPPABLE).replace(
        '        f.write(json.dumps({"total_steps": s, "test_error": error}) + "\\n")\n',
        '        f.write(json.dumps({"total_steps": s, "test_error": error}) + "\\n")\n'
        '        f.flush()\n        time.sleep(float(os.environ.get("FAKE_SLOW", "0")))\n')
    assert "FAKE_SLOW" in text and "FAKE_PIDS" in text
    return text


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_when(test, command, env, log, out, started):
    """Runs COMMAND (a driver) with the stoppable stand-in slowed, sends SIGTERM to it alone once a logged call
    satisfies STARTED, and checks that it ends with 130, that no stand-in it started lives on, and that they were
    stopped, not left to finish (a run under OUT says "interrupted")."""
    open(log, "a").close()
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**env, "FAKE_SLOW": "0.1"})
    deadline = time.time() + 60
    while time.time() < deadline:
        with open(log) as f:
            if any(started(line) for line in f):
                break
        time.sleep(0.05)
    time.sleep(0.3)
    driver.send_signal(signal.SIGTERM)
    stdout, stderr = driver.communicate(timeout=60)
    test.assertEqual(driver.returncode, 130, stderr)
    test.assertIn("stopping every run at a checkpoint", stdout)
    with open(env["FAKE_PIDS"]) as f:
        said = [int(x) for x in f.read().split()]
    deadline = time.time() + 10
    while any(alive(p) for p in said) and time.time() < deadline:
        time.sleep(0.1)
    test.assertEqual([p for p in said if alive(p)], [])
    statuses = []
    for w, _, fs in os.walk(out):
        if "status.json" in fs:
            with open(os.path.join(w, "status.json")) as f:
                statuses.append(json.load(f)["status"])
    test.assertIn("interrupted", statuses)


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


    def test_a_signal_to_the_search_alone_stops_its_runs_writes_nothing_and_a_rerun_ends_the_same(self):
        fake, log = install_stand_in(self.dir, stoppable())
        command = [sys.executable, os.path.join(HERE, "halving.py"), "--out", self.out, "--etas", "0.005,0.01,0.02,0.04",
                   "--steps", "80", "--rungs", "2", "--jobs", "2", "--easgd", fake, "--", "--method", "msgd"]
        # (80 steps: the first rung's runs, 40 steps, are 8 slowed records, so two are under way at the signal)
        env = {**os.environ, "FAKE_LOG": log, "FAKE_PIDS": os.path.join(self.dir, "pids")}
        stop_when(self, command, env, log, self.out, lambda line: line.startswith("train"))
        self.assertFalse(os.path.exists(os.path.join(self.out, "halving.json")))
        r = subprocess.run(command, capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.out, "halving.json")) as f:
            self.assertEqual(json.load(f)["chosen_eta"], 0.02)


if __name__ == "__main__":
    unittest.main()
