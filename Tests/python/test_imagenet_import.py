"""`easgd data import imagenet` against Pillow, the peer, on files Pillow writes here.

A few classes of synthetic JPEGs in ILSVRC-2012's layout (some greyscale, one CMYK, one truncated; RGB, palette and
RGBA PNGs under a .JPEG name), imported at a small and at the paper's smaller side; every stored image must equal Pillow's
Image.open(f).convert("RGB").resize((w, h), Image.BILINEAR) at torchvision's size rule (w, h) — bit for bit with
Pillow 13 (whose arithmetic and pass order the importer reproduces), within one grey level elsewhere (older Pillows
always ran the horizontal pass first). Then the store trains (`easgd train --data STORE`), verifies, and refuses bad
input with one `easgd:` line.

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

try:
    import numpy as np
    from PIL import Image
    import PIL
except ImportError:  # CI installs Pillow (make test); elsewhere the test says why it did not run
    Image = None

CLASSES = ["n01440764", "n01443537", "n01484850"]


def make_source(root, rng, flat_val=False):
    """5 training and 3 validation images per class, 37 to 150 pixels a side, in both orientations."""
    lines = []
    for c, wnid in enumerate(CLASSES):
        for split, count in (("train", 5), ("val", 3)):
            d = os.path.join(root, split) if flat_val and split == "val" else os.path.join(root, split, wnid)
            os.makedirs(d, exist_ok=True)
            for i in range(count):
                w, h = (int(v) for v in rng.integers(37, 150, 2))
                y, x = np.mgrid[0:h, 0:w]
                a = np.stack([(x * 3 + c * 50) % 256, (y * 5 + i * 30) % 256, ((x ^ y) * 7) % 256], -1).astype(np.uint8)
                a = np.clip(a.astype(int) + rng.integers(-20, 20, a.shape), 0, 255).astype(np.uint8)
                im = Image.fromarray(a)
                name = f"ILSVRC2012_val_{3 * c + i + 1:08d}.JPEG" if split == "val" else f"{wnid}_{i}.JPEG"
                path = os.path.join(d, name)
                if i == 1:
                    im.convert("L").save(path, quality=90)
                elif split == "train" and c == 0 and i == 2:
                    im.convert("CMYK").save(path, quality=90)
                elif split == "train" and c == 1 and i == 3:
                    im.save(path, format="PNG")                      # PNG data under a JPEG name, as in ILSVRC-2012
                elif split == "train" and c == 2 and i == 0:
                    im.convert("P").save(path, format="PNG")         # a palette PNG
                elif split == "val" and c == 0 and i == 2:
                    im.convert("RGBA").save(path, format="PNG")      # alpha, dropped by convert("RGB")
                else:
                    im.save(path, quality=int(rng.integers(70, 96)))
                if split == "train" and c == 2 and i == 4:
                    with open(path, "rb") as f:
                        data = f.read()
                    with open(path, "wb") as f:
                        f.write(data[: len(data) * 2 // 3])
                if split == "val":
                    lines.append(f"{name} {c}\n")
    if flat_val:
        with open(os.path.join(root, "val.txt"), "w") as f:
            f.write("".join(lines))


def read_store(store):
    """Every stored image as (split, HWC array, label), in the store's order, from its own files (not easgd's)."""
    with open(os.path.join(store, "manifest.json")) as f:
        m = json.load(f)
    out = []
    for split in m["splits"]:
        for shard in split["shards"]:
            with open(os.path.join(store, shard["file"] + ".index"), "rb") as f:
                index = f.read()
            assert index[:8] == b"EASGDSH1"
            count = struct.unpack_from("<I", index, 8)[0]
            pixels = np.fromfile(os.path.join(store, shard["file"] + ".pixels"), np.uint8)
            for e in range(count):
                offset, h, w, label = struct.unpack_from("<QHHH", index, 72 + 16 * e)
                out.append((split["name"], pixels[offset: offset + 3 * h * w].reshape(3, h, w).transpose(1, 2, 0), label))
    return m, out


def pillow_reference(path, side):
    im = Image.open(path).convert("RGB")
    w, h = im.size
    size = (side, side * h // w) if w <= h else (side * w // h, side)   # torchvision's Resize rule
    return np.asarray(im.resize(size, Image.BILINEAR))


def easgd(*args):
    return subprocess.run([EASGD, *args], capture_output=True, text=True)


@unittest.skipIf(Image is None and not os.environ.get("CI"), "pip install pillow numpy (make test installs Pillow)")
class ImageNetImportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="easgd-imagenet-")
        cls.src = os.path.join(cls.dir, "src")
        make_source(cls.src, np.random.default_rng(5))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def source_files(self, split):
        """The files the importer keeps, in its order (sorted classes, sorted names), and their labels."""
        dropped = {f"train/{CLASSES[2]}/{CLASSES[2]}_4.JPEG"}
        files = []
        for c, wnid in enumerate(CLASSES):
            for name in sorted(os.listdir(os.path.join(self.src, split, wnid))):
                rel = f"{split}/{wnid}/{name}"
                if rel not in dropped:
                    files.append((rel, c))
        return files

    def check_against_pillow(self, side):
        store = os.path.join(self.dir, f"store-{side}")
        r = easgd("data", "import", "imagenet", self.src, "--out", store, "--short-side", str(side))
        self.assertEqual(r.returncode, 0, r.stderr)
        m, images = read_store(store)
        expected = [(s, f, c) for s in ("train", "val") for f, c in self.source_files(s)]
        self.assertEqual(len(images), len(expected))
        self.assertEqual((m["problems"]["dropped"], m["problems"]["png"]), (1, 3))
        exact, worst = 0, 0
        for (split, ours, label), (s, rel, c) in zip(images, expected):
            self.assertEqual((split, label), (s, c), rel)
            ref = pillow_reference(os.path.join(self.src, rel), side)
            self.assertEqual(ours.shape, ref.shape, rel)
            d = int(np.abs(ours.astype(int) - ref.astype(int)).max())
            worst = max(worst, d)
            exact += d == 0
        major = int(PIL.__version__.split(".")[0])
        print(f"\n  smaller side {side}: {exact}/{len(images)} images equal Pillow {PIL.__version__}'s bit for bit, "
              f"largest difference {worst}")
        if major >= 13:
            self.assertEqual(worst, 0)
        else:
            self.assertLessEqual(worst, 1)
        return store, m

    def test_the_store_equals_pillow_shrinking_and_enlarging(self):
        store, m = self.check_against_pillow(32)
        self.check_against_pillow(256)
        with open(os.path.join(store, "problems.tsv")) as f:
            problems = f.read()
        self.assertIn(f"train/{CLASSES[1]}/{CLASSES[1]}_3.JPEG\tpng", problems)
        self.assertIn("dropped: truncated\tPremature end of JPEG file", problems)
        self.assertIn(f"train/{CLASSES[0]}/{CLASSES[0]}_2.JPEG\tcmyk", problems)
        self.assertEqual(m["problems"]["greyscale"], 6)
        # The mean, from the stored pixels themselves.
        _, images = read_store(store)
        train = [im for s, im, _ in images if s == "train"]
        mean = sum(im.reshape(-1, 3).sum(0).astype(float) for im in train) / sum(im.shape[0] * im.shape[1] for im in train) / 255
        np.testing.assert_allclose(m["channelMean"], mean, rtol=0, atol=1e-12)
        r = easgd("data", "verify", store)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("all 2 shards match", r.stdout)

    def test_a_short_training_run_on_the_store(self):
        store = os.path.join(self.dir, "store-train")
        self.assertEqual(easgd("data", "import", "imagenet", self.src, "--out", store, "--short-side", "32").returncode, 0)
        run = os.path.join(self.dir, "run")
        r = easgd("train", "--data", store, "--net", "(3,28)C(8,24)P(8,12)D(16,1)S(3,1)", "--method", "msgd",
                  "--lr", "0.01", "--momentum", "0.9", "--batch", "4", "--steps", "12", "--quiet", "--out", run)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(run, "config.json")) as f:
            config = json.load(f)
        self.assertEqual((config["data"]["train"], config["data"]["test"]), (14, 9))
        self.assertTrue(config["data"]["format"].startswith("easgd image store"))
        with open(os.path.join(run, "metrics.jsonl")) as f:
            records = [json.loads(l) for l in f]
        self.assertEqual(records[-1]["total_steps"], 12)

    def test_bad_input_gets_one_line(self):
        for args, code, text in [
            (["data", "import", "imagenet", os.path.join(self.dir, "nowhere"), "--out", os.path.join(self.dir, "x")], 1, "no train/ directory"),
            (["data", "import", "coco", self.src, "--out", os.path.join(self.dir, "x")], 64, "unknown kind 'coco'"),
            (["data", "import", "imagenet", self.src, "--out", os.path.join(self.dir, "x"), "--short-side", "0"], 64, "--short-side"),
            (["data", "verify", self.src], 1, "not a finished image store"),
        ]:
            r = easgd(*args)
            self.assertEqual(r.returncode, code, r.stderr)
            lines = r.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertTrue(lines[0].startswith("easgd:") and text in lines[0], lines[0])


if __name__ == "__main__":
    unittest.main()
