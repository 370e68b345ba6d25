"""`easgd runs --export tensorboard` read back by TensorBoard's own reader (the `tensorboard` package from PyPI).

Two tiny training runs (a sequential one measuring sharpness, a parallel DOWNPOUR one on the simulator) are exported;
EventAccumulator must find every record's scalars at its total steps, equal to metrics.jsonl's numbers rounded to
float32 (TensorBoard's simple_value), h* beside the sharpness, the communication counters, and the settings as text.

  EASGD=.build/debug/easgd python3 -m unittest discover -s Tests/python -p 'test_*.py'
"""

import json
import os
import shutil
import struct
import subprocess
import tempfile
import unittest

EASGD = os.environ.get("EASGD", os.path.join(os.path.dirname(__file__), "..", "..", ".build", "debug", "easgd"))
NET = "(1,28)C(4,24)P(4,12)D(16,1)S(10,1)"

try:
    from tensorboard.backend.event_processing import event_accumulator
except ImportError:  # CI installs it (make test); elsewhere the test says why it did not run
    event_accumulator = None


def float32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


@unittest.skipIf(event_accumulator is None and not os.environ.get("CI"), "pip install tensorboard (make test installs it)")
class TensorBoardExportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="easgd-tb-")
        cls.runs = os.path.join(cls.dir, "runs")
        os.makedirs(cls.runs)
        common = ["--net", NET, "--batch", "16", "--eval-every", "4", "--test-subset", "200", "--quiet"]
        cls.train(["train", "--method", "msgd", "--lr", "0.02", "--momentum", "0.9", "--steps", "12", "--threads", "1",
                   "--sharpness-every", "4", "--out", os.path.join(cls.runs, "msgd")] + common)
        cls.train(["train", "--method", "downpour", "--workers", "2", "--tau", "2", "--lr", "0.02", "--steps", "12",
                   "--backend", "simulated", "--out", os.path.join(cls.runs, "downpour")] + common)
        cls.out = os.path.join(cls.dir, "tb")
        cls.export = subprocess.run([EASGD, "runs", cls.runs, "--export", "tensorboard", "--out", cls.out],
                                    capture_output=True, text=True)

    @classmethod
    def train(cls, arguments):
        run = subprocess.run([EASGD] + arguments, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def accumulator(self, name):
        self.assertIsNotNone(event_accumulator, "the tensorboard package is not installed")
        acc = event_accumulator.EventAccumulator(os.path.join(self.out, name), size_guidance={"scalars": 0, "tensors": 0})
        acc.Reload()
        return acc

    def records(self, name):
        with open(os.path.join(self.runs, name, "metrics.jsonl")) as f:
            return [json.loads(line) for line in f if line.strip()]

    def test_the_export_says_what_it_wrote_and_writes_one_run_per_directory(self):
        self.assertEqual(self.export.returncode, 0, self.export.stderr)
        self.assertIn("wrote 2 TensorBoard runs", self.export.stderr)
        self.assertEqual(sorted(os.listdir(self.out)), ["downpour", "msgd"])
        for name in ("downpour", "msgd"):
            self.assertEqual(os.listdir(os.path.join(self.out, name)), ["events.out.tfevents.0.easgd"])

    def test_every_record_is_a_scalar_at_its_steps(self):
        for name in ("msgd", "downpour"):
            acc, records = self.accumulator(name), self.records(name)
            self.assertGreaterEqual(len(records), 3)
            for tag, key in (("error/test", "test_error"), ("loss/test", "test_loss"), ("loss/train", "train_loss"), ("epoch", "epoch"),
                             ("eta", "eta")):
                events = acc.Scalars(tag)
                self.assertEqual([e.step for e in events], [r["total_steps"] for r in records], (name, tag))
                for e, r in zip(events, records):
                    self.assertEqual(e.value, float32(r[key]), (name, tag, r["total_steps"]))

    def test_sharpness_comes_with_its_threshold(self):
        acc, records = self.accumulator("msgd"), self.records("msgd")
        measured = [r for r in records if r.get("sharpness") is not None]
        self.assertGreaterEqual(len(measured), 2)
        self.assertEqual([e.value for e in acc.Scalars("sharpness/h_max")], [float32(r["sharpness"]) for r in measured])
        # MSGD's h* is Nesterov's 2(1 + δ)/(η(1 + 2δ)) at δ = 0.9, η = 0.02, written out here.
        h_star = 2 * 1.9 / (0.02 * 2.8)
        for e in acc.Scalars("sharpness/h_star"):
            self.assertAlmostEqual(e.value, h_star, delta=1e-5 * h_star)
        for e in acc.Scalars("sharpness/two_over_eta"):
            self.assertAlmostEqual(e.value, 100.0, delta=1e-4)

    def test_a_parallel_run_carries_its_communication(self):
        acc, records = self.accumulator("downpour"), self.records("downpour")
        tags = acc.Tags()["scalars"]
        for tag, key in (("communication/exchanges", "exchanges"), ("communication/bytes_sent", "bytes_sent"),
                         ("communication/bytes_received", "bytes_received")):
            self.assertIn(tag, tags)
            self.assertEqual([e.value for e in acc.Scalars(tag)], [float32(r[key]) for r in records], tag)

    def test_the_settings_are_text(self):
        acc = self.accumulator("downpour")
        self.assertIn("settings", acc.Tags()["tensors"])
        self.assertIn("settings", acc.PluginTagToContent("text"))
        text = acc.Tensors("settings")[0].tensor_proto.string_val[0].decode()
        self.assertIn("**downpour**, p = 2", text)
        self.assertIn('"method"', text)

    def test_bad_export_settings_are_refused(self):
        missing_out = subprocess.run([EASGD, "runs", self.runs, "--export", "tensorboard"], capture_output=True, text=True)
        self.assertEqual(missing_out.returncode, 64)
        self.assertEqual(missing_out.stderr.splitlines()[0], "easgd: --export needs --out DIR (the directory to write the event files into)")
        wrong = subprocess.run([EASGD, "runs", self.runs, "--export", "wandb", "--out", self.out], capture_output=True, text=True)
        self.assertEqual(wrong.returncode, 64)
        self.assertTrue(wrong.stderr.startswith("easgd: "), wrong.stderr)


if __name__ == "__main__":
    unittest.main()
