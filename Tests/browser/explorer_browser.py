#!/usr/bin/env python3
"""The explorer in a real browser: headless Chromium (Debian's chromium) driven over the DevTools protocol.

It starts `easgd explore` on a free port with an empty runs directory, loads the page, waits for the refined map,
changes settings as a user does (the method, p's slider, the axes) and waits for the new refined map; it takes a
screenshot and checks that the pixels at the most unstable and the most stable grid points are red and blue, and
that `easgd radius` (an independent process) agrees with the map at both points. Then it starts a training run in the
runs directory, opens the runs view and waits until the run's row and its test-error curve appear in a screenshot.

Standard library only: a minimal WebSocket client (RFC 6455) for the DevTools protocol and a PNG decoder (zlib
and the five row filters). Exits 0 when every check holds; prints each check.

  python3 Tests/browser/explorer_browser.py [--easgd .build/debug/easgd] [--screenshot plots/explorer/map.png]
                                            [--runs-screenshot plots/explorer/runs.png]
"""

import argparse
import base64
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


class WebSocket:
    """A client WebSocket, text frames only: enough for the DevTools protocol."""

    def __init__(self, url):
        assert url.startswith("ws://"), url
        rest = url[len("ws://"):]
        hostport, path = rest.split("/", 1)
        host, port = hostport.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise RuntimeError("the browser closed the connection during the handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError(f"no WebSocket upgrade: {head[:200]!r}")
        self.next_id = 0

    def _read(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise RuntimeError("the browser closed the connection")
            data += chunk
        return data

    def send(self, text):
        payload = text.encode()
        header = bytes([0x81])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def receive(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)
            opcode = b0 & 0x0F
            if opcode == 0x9:                      # ping: answer, read on
                continue
            if opcode == 0x8:
                raise RuntimeError("the browser closed the WebSocket")
            message += payload
            if b0 & 0x80:
                return message.decode()

    def call(self, method, **params):
        """Send one command and wait for its answer (events in between are skipped)."""
        self.next_id += 1
        self.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            answer = json.loads(self.receive())
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})


def png_pixels(data):
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            channels = 4 if colour == 6 else 3
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            upleft = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - upleft
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else upleft)) & 0xFF
        rows.append(line)
        previous = line
    return width, height, channels, rows


class Check:
    def __init__(self):
        self.failures = 0

    def __call__(self, ok, text):
        print(("ok   " if ok else "FAIL ") + text, flush=True)
        if not ok:
            self.failures += 1


def wait_for(page, expression, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = page.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")
        if value:
            return value
        time.sleep(0.1)
    status = page.call("Runtime.evaluate", expression="[...document.querySelectorAll('.status')].map((e) => e.textContent).join(' | ')",
                       returnByValue=True)["result"].get("value")
    raise RuntimeError(f"timed out after {seconds} s waiting for {what}; the page says: {status}")


def evaluate(page, expression):
    result = page.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
    if "exceptionDetails" in result:
        raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
    return result["result"].get("value")


def screenshot(page, path=None):
    data = base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"])
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        temporary = path + ".partial"
        with open(temporary, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    return png_pixels(data)


def pixel(image, x, y):
    _, _, channels, rows = image
    row = rows[int(round(y))]
    i = int(round(x)) * channels
    return tuple(row[i:i + 3])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--easgd", default=os.environ.get("EASGD", os.path.join(ROOT, ".build/debug/easgd")))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--screenshot", help="keep the map view's screenshot here")
    parser.add_argument("--runs-screenshot", help="keep the runs view's screenshot here")
    args = parser.parse_args()
    check = Check()
    scratch = tempfile.mkdtemp(prefix="easgd-browser-")
    runs = os.path.join(scratch, "runs")
    os.makedirs(runs)
    server = browser = training = None
    started = time.time()
    try:
        server = subprocess.Popen([args.easgd, "explore", "--port", "0", runs], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = server.stdout.readline()
        check("serving http://127.0.0.1:" in line, f"the explorer prints its address: {line.strip()}")
        address = line.split("serving ")[1].split(" ")[0]

        browser = subprocess.Popen([args.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                    "--hide-scrollbars", "--remote-debugging-port=0", f"--user-data-dir={scratch}/profile",
                                    "--window-size=1400,1000", "about:blank"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        endpoint = None
        deadline = time.time() + 60
        while time.time() < deadline and endpoint is None:
            text = browser.stderr.readline()
            if not text and browser.poll() is not None:
                raise RuntimeError("chromium exited before it listened")
            if "DevTools listening on " in text:
                endpoint = text.split("DevTools listening on ")[1].strip()
        port = endpoint.split(":")[2].split("/")[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30))
        page = WebSocket(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Emulation.setDeviceMetricsOverride", width=1400, height=1000, deviceScaleFactor=1, mobile=False)
        page.call("Page.navigate", url=address)

        wait_for(page, "document.getElementById('map-a') && document.getElementById('map-a').dataset.state === 'refined'", 60, "the first refined map")
        check(True, "the page drew its first map, coarse then refined: " + evaluate(page, "document.getElementById('status-a').textContent"))

        # As a user would: choose ADMM, the (η, ρ) box of Figure 1, and drag p to 8.
        evaluate(page, """(() => {
          const set = (id, value, event) => { const e = document.getElementById(id); e.value = value; e.dispatchEvent(new Event(event)); };
          document.getElementById('map-a').dataset.state = 'changing';
          const method = document.getElementById('method-a'); method.value = 'admm'; method.dispatchEvent(new Event('change'));
          set('a-axis', 'rho', 'change');
          set('a-second', '0.01:10', 'change');
          set('a-eta', '0.00001:0.01', 'change');
          for (let p = 3; p <= 8; p++) set('a-workers', String(p), 'input');
          return true; })()""")
        wait_for(page, "document.getElementById('map-a').dataset.state === 'refined' && PANEL_A.data.method === 'admm' && PANEL_A.data.workers === 8"
                       " && PANEL_A.data.second_axis === 'rho' && PANEL_A.data.eta.hi === 0.01", 60, "the refined ADMM p = 8 map")
        status = evaluate(page, "document.getElementById('status-a').textContent")
        check("admm p=8: 200×200 points" in status, f"after the drag the refined map is ADMM p = 8: {status}")

        # The most unstable and the most stable grid points, where the page drew them.
        points = evaluate(page, """(() => {
          const d = PANEL_A.data, n = d.eta_values.length, r = PANEL_A.canvas.getBoundingClientRect();
          let hi = 0, lo = 0;
          d.radii.forEach((v, k) => { if (v > d.radii[hi]) hi = k; if (v < d.radii[lo]) lo = k; });
          const at = (k) => { const eta = d.eta_values[k % n], rho = d.second_values[Math.floor(k / n)];
            const b = PANEL_A.box;
            return { eta, rho, radius: d.radii[k], x: r.left + PANEL_A.xOf(eta), y: r.top + PANEL_A.yOf(rho),
                     cx: r.left + b.x + b.w / 2, cy: r.top + b.y + b.h / 2 }; };
          return { unstable: at(hi), stable: at(lo), fraction: d.unstable_fraction }; })()""")
        # A click, a fifth of the way along η and 70 % down the ρ axis (inside the unstable region of ADMM p = 8).
        evaluate(page, """(() => { const r = PANEL_A.canvas.getBoundingClientRect(), b = PANEL_A.box;
          const x = r.left + b.x + 0.2 * b.w, y = r.top + b.y + 0.7 * b.h;
          PANEL_A.canvas.dispatchEvent(new MouseEvent('click', { clientX: x, clientY: y, bubbles: true })); return true; })()""")
        legend = wait_for(page, "document.getElementById('trajectory-legend').textContent.includes('measured growth') && "
                                "document.getElementById('trajectory-legend').textContent", 60, "the point view's trajectory")
        check("ln ρ(F)" in legend, f"a click shows the eigenvalues and a trajectory against ln ρ(F): {legend}")
        margin = wait_for(page, "(t => t.includes('stable for η in') && t)(document.getElementById('point-text').textContent)", 60, "the point's η margin")
        check("with the rest fixed" in margin, f"and its margin along η: {margin}")

        image = screenshot(page, args.screenshot)
        for name, point in (("unstable", points["unstable"]), ("stable", points["stable"])):
            # The pixel 3 px from the point towards the middle of the box (a grid point on the box's edge is
            # drawn half a cell inside it; a cell is about 2 px).
            dx = 3 if point["x"] < point["cx"] else -3
            dy = 3 if point["y"] < point["cy"] else -3
            r, g, b = pixel(image, point["x"] + dx, point["y"] + dy)
            red = r > b + 30
            blue = b > r + 30
            check(red if name == "unstable" else blue,
                  f"the {name} point η = {point['eta']:.6g}, ρ = {point['rho']:.6g} (map ρ(F) = {point['radius']:.6f}) is drawn "
                  f"{'red' if name == 'unstable' else 'blue'}: rgb{(r, g, b)}")
            answer = subprocess.run([args.easgd, "radius", "--method", "admm", "--workers", "8", "--eta", repr(point["eta"]),
                                     "--rho", repr(point["rho"])], capture_output=True, text=True)
            verdict = answer.stdout.split()
            check(answer.returncode == 0 and verdict[1] == name,
                  f"easgd radius, run apart, says {name} there: {answer.stdout.strip()}")
        check(0.2 < points["fraction"] < 0.6, f"the unstable fraction {points['fraction']:.4f} is Figure 1's ADMM p = 8 (about a third)")

        # Seeds are paired as `easgd plot --group-seeds` pairs them (SeedStatisticsTests' case, worked by hand): a
        # search's run continued past its first budget (evaluations 0, 100, 200, 204, 304, 400) against a seed on the
        # plain schedule (0, 100, 200, 300, 400): 204 has no partner, 304 pairs with 300.
        rows = evaluate(page, "JSON.stringify(sharedEvaluations([[[0, 0], [100, 1], [200, 2], [204, 3], [304, 4], [400, 5]], "
                              "[[0, 10], [100, 11], [200, 12], [300, 13], [400, 14]]]))")
        check(json.loads(rows) == [[0, [0, 10]], [100, [1, 11]], [200, [2, 12]], [304, [4, 13]], [400, [5, 14]]],
              f"the runs view pairs seeds at their shared evaluations as easgd plot does: {rows}")
        rows = evaluate(page, "JSON.stringify(sharedEvaluations([[[0, 0], [100, 1], [200, 2]], [[0, 5], [50, 6], [150, 7], [200, 8]]]))")
        check(json.loads(rows) == [[0, [0, 5]], [200, [2, 8]]], f"schedules half an interval apart share only what coincides: {rows}")

        # The runs view: a run written during the test appears with its curve.
        training = subprocess.Popen([args.easgd, "train", "--method", "msgd", "--lr", "0.05", "--momentum", "0.9",
                                     "--net", "(1,28)C(4,24)P(4,12)D(16,1)S(10,1)", "--batch", "32", "--steps", "60",
                                     "--eval-every", "10", "--test-subset", "500", "--threads", "1", "--quiet",
                                     "--out", os.path.join(runs, "live")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        evaluate(page, "show('runs'); true")
        wait_for(page, "document.querySelectorAll('#runs-table tr[data-run]').length === 1 && Object.values(METRICS).some((m) => m.length >= 2)",
                 90, "the live run's row and two of its records")
        check(True, "the runs view lists the run written during the test: "
              + evaluate(page, "document.querySelector('#runs-table tr[data-run]').textContent"))
        training.wait(timeout=300)
        check(training.returncode == 0, "the training run ended")
        time.sleep(5.5)                                    # the view's next poll (every 5 s)
        evaluate(page, "loadRuns().then(() => true)")
        records = evaluate(page, "Object.values(METRICS)[0].length")
        check(records >= 6, f"its records arrived while it trained and after: {records}")
        box = evaluate(page, "(() => { const r = document.getElementById('curve-error').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()")
        image = screenshot(page, args.runs_screenshot)
        curve = 0
        for y in range(int(box[1]) + 10, int(box[1] + box[3]) - 34):
            for x in range(int(box[0]) + 52, int(box[0] + box[2]) - 12):
                r, g, b = pixel(image, x, y)
                if abs(r - 0x1f) < 40 and abs(g - 0x77) < 40 and abs(b - 0xb4) < 40:
                    curve += 1
        check(curve > 100, f"the test-error curve is drawn in the run's colour ({curve} pixels)")
    finally:
        for process in (training, browser, server):
            if process and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
        shutil.rmtree(scratch, ignore_errors=True)
    check(server.returncode == 0, f"the explorer stopped cleanly on SIGTERM (status {server.returncode})")
    print(f"{'passed' if check.failures == 0 else f'{check.failures} checks failed'} in {time.time() - started:.1f} s")
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
