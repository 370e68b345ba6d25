"""How the campaign drivers stop (decisive.py, family.py, outer.py, compress.py, halving.py): a signal — Ctrl-C, or
SIGTERM to the driver alone — starts no run after it and sends SIGTERM once to every process below the driver, so
each `easgd train` checkpoints and exits and a search below it stops too; the driver then keeps what finished and
ends with 130.

    with Stop("family") as stop:
        ...                      # launch runs unless stop.requested
    if stop.requested:
        raise SystemExit(130)

A driver that must stop for a reason of its own (a run failed) calls stop.request(why): the same, without a signal.
(campaign.py, the 8-epoch campaign of notebook 02's appendix, keeps its own: SIGINT to each run it started, runs
that start no process of their own.)
"""

import os
import signal
import threading
import time


def descendants(pid):
    """Every living process below PID (children, their children, ...), read from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            parent = int(stat[stat.rindex(")") + 2:].split()[1])     # after "pid (name) state": the parent
        except (OSError, ValueError, IndexError):
            continue                                                 # gone meanwhile
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Stop:
    """SIGINT and SIGTERM while the block runs: `requested` turns true, and every process below this one gets SIGTERM
    once, looked for again every half second until the block ends (a run started in that instant is not missed)."""

    def __init__(self, driver):
        self.driver, self.requested, self.finished = driver, False, False

    def __enter__(self):
        self.previous = [(s, signal.signal(s, self.signalled)) for s in (signal.SIGINT, signal.SIGTERM)]
        return self

    def __exit__(self, *exc):
        self.finished = True
        for s, handler in self.previous:
            signal.signal(s, handler)
        return False

    def signalled(self, signum, frame):
        self.request(f"signal {signum}")

    def request(self, why):
        """Starts no run after this and stops every process below this one, as a signal does (WHY is said)."""
        if self.requested:
            return
        self.requested = True
        print(f"{self.driver}: {why}: stopping every run at a checkpoint", flush=True)

        def forward():
            signalled = set()
            while not self.finished:
                for pid in descendants(os.getpid()):
                    if pid not in signalled:
                        signalled.add(pid)
                        try:
                            os.kill(pid, signal.SIGTERM)
                        except ProcessLookupError:
                            pass
                time.sleep(0.5)
        threading.Thread(target=forward, daemon=True).start()
