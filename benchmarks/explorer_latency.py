#!/usr/bin/env python3
"""The explorer's latency targets, measured in headless Chromium against the release binary (make bench).

1. A 200 × 200 ADMM p = 8 map (Figure 1's box): the time from the request to the first picture (a 40 × 40 coarse
   map drawn) and to the full map drawn, as the page measures them (performance.now()), median of 7 repeats.
   Targets: first picture within 100 ms, full map within 1 s.
2. A drag of 20 steps of the p slider (2 → 16 → 11, one step per frame, 16 ms apart): the time from the last step
   to the refined map of the final setting, and how many map requests the drag sent, how many the server stopped as
   superseded, and how many the page drew (stale work must not queue: the drawn maps are the last setting's).

  python3 benchmarks/explorer_latency.py --easgd .build/release/easgd
"""

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("explorer_browser", os.path.join(HERE, "..", "Tests", "browser", "explorer_browser.py"))
browser_tools = importlib.util.module_from_spec(spec)
spec.loader.exec_module(browser_tools)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--easgd", default=os.path.join(HERE, "..", ".build", "release", "easgd"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="easgd-latency-")
    server = browser = None
    try:
        server = subprocess.Popen([args.easgd, "explore", "--port", "0"], stdout=subprocess.PIPE, text=True)
        address = server.stdout.readline().split("serving ")[1].split(" ")[0]
        browser = subprocess.Popen([args.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
                                    f"--user-data-dir={scratch}/profile", "about:blank"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        endpoint = None
        while endpoint is None:
            line = browser.stderr.readline()
            if "DevTools listening on " in line:
                endpoint = line.split("DevTools listening on ")[1].strip()
        port = endpoint.split(":")[2].split("/")[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30))
        page = browser_tools.WebSocket(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Page.navigate", url=address)
        browser_tools.wait_for(page, "document.getElementById('map-a') && document.getElementById('map-a').dataset.state === 'refined'", 60, "the first map")
        browser_tools.evaluate(page, """(() => {
          const set = (id, value, event) => { const e = document.getElementById(id); e.value = value; e.dispatchEvent(new Event(event)); };
          const method = document.getElementById('method-a'); method.value = 'admm'; method.dispatchEvent(new Event('change'));
          set('a-axis', 'rho', 'change'); set('a-second', '0.01:10', 'change'); set('a-eta', '0.00001:0.01', 'change');
          set('a-workers', '8', 'input'); return true; })()""")
        browser_tools.wait_for(page, "PANEL_A.canvas.dataset.state === 'refined' && PANEL_A.data.method === 'admm' && PANEL_A.data.workers === 8", 60, "ADMM p = 8")
        first, full = [], []
        for _ in range(args.repeats):
            timing = browser_tools.evaluate(page, "PANEL_A.refresh().then(() => PANEL_A.timing)")
            first.append(timing["first"])
            full.append(timing["full"])
        drag = browser_tools.evaluate(page, """new Promise((resolve) => {
          const slider = document.getElementById('a-workers');
          const steps = []; for (let p = 2; p <= 16; p++) steps.push(p); for (let p = 15; p >= 11; p--) steps.push(p);
          const before = { requests: PANEL_A.requests || 0, superseded: PANEL_A.superseded || 0, aborted: PANEL_A.aborted || 0 };
          let drawn = 0; const draw = PANEL_A.draw.bind(PANEL_A);
          PANEL_A.draw = (peers) => { drawn += 1; draw(peers); };
          PANEL_A.canvas.dataset.state = 'dragging';
          let k = 0, last = 0;
          const tick = () => {
            slider.value = String(steps[k]); slider.dispatchEvent(new Event('input')); k += 1;
            if (k < steps.length) { setTimeout(tick, 16); return; }
            last = performance.now();
            const wait = () => {
              if (PANEL_A.canvas.dataset.state === 'refined' && PANEL_A.data.workers === 11 && PANEL_A.data.eta.points === 200) {
                PANEL_A.draw = draw;
                resolve({ steps: steps.length, settle_ms: performance.now() - last, requests: PANEL_A.requests - before.requests,
                          superseded: (PANEL_A.superseded || 0) - before.superseded,
                          aborted: (PANEL_A.aborted || 0) - before.aborted, drawn, final_workers: PANEL_A.data.workers });
              } else setTimeout(wait, 2);
            };
            wait();
          };
          tick();
        })""")
    finally:
        for process in (browser, server):
            if process and process.poll() is None:
                process.terminate()
                process.wait(timeout=20)
        shutil.rmtree(scratch, ignore_errors=True)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    print(f"explorer latency, {time.strftime('%Y-%m-%d')}, {cpu}, {os.cpu_count()} cores, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}")
    print(f"ADMM p = 8, 200 × 200 (Figure 1's box), {args.repeats} repeats: first picture (40 × 40) median "
          f"{statistics.median(first):.0f} ms [{min(first):.0f}, {max(first):.0f}] (target ≤ 100 ms); full map median "
          f"{statistics.median(full):.0f} ms [{min(full):.0f}, {max(full):.0f}] (target ≤ 1000 ms)")
    print(f"a drag of {drag['steps']} steps of p (16 ms apart): the final setting's full map {drag['settle_ms']:.0f} ms after the "
          f"last step; {drag['requests']} map requests sent, {drag['aborted']} abandoned by the page for a newer one, "
          f"{drag['superseded']} answered 409 (superseded), {drag['drawn']} maps drawn (the last at p = {drag['final_workers']})")
    ok = statistics.median(first) <= 100 and statistics.median(full) <= 1000
    print("targets met" if ok else "targets NOT met (see the numbers above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
