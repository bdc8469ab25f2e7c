"""The memory and CPU sampler of bench/pipeline_run.py (no side effects on import, so tests can use it).

Memory: a thread reads the resident set size of this process and of every process below it (dbt runs as a
child) from /proc every 50 ms and keeps, for each step, the highest total seen while it ran. CPU: user + sys
seconds of this process and of its reaped children between each step's start and end events.
"""

from __future__ import annotations

import os
import threading
import time

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants (one pass over /proc: every process's stat)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    return pids


def rss_mb(pids: list[int]) -> float:
    """Resident memory of these processes (those still alive), in MB."""
    pages = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                pages += int(f.read().split()[1])
        except OSError:
            continue
    return pages * PAGE_KB / 1024


def tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and all its descendants, in MB."""
    return rss_mb(tree_pids(root))


class Sampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.step: str | None = "(start-up)"
        self.peaks: dict[str, float] = {}
        self.peak = 0.0
        self.stop = threading.Event()
        # CPU seconds (user + sys) of this process's threads and of its reaped children (dbt) per step, from
        # os.times() at the step's start and end: the steps run one after another in this process, so the
        # difference is the step's CPU plus whatever a background thread did meanwhile (GX's import).
        self.cpu: dict[str, float] = {}
        self._cpu_at_start: float | None = None
        self.own_cpu_s = 0.0  # this sampler thread's CPU seconds

    def run(self):
        # The process tree is looked up once a second and its members' memory read every 50 ms. Scanning all
        # of /proc on every sample (as before) cost ≈ 6.6 ms of CPU with ~200 processes on the machine, 13 % of
        # a core for the whole run: counted in the process's CPU and wall time the benches report as the run's
        # own. The sampler's CPU is kept (`sampler_cpu_s`) so it can be told apart; a child that lives less than
        # a second may be missed (dbt's steps live for many).
        me = os.getpid()
        pids, found_at = [me], 0.0
        while not self.stop.is_set():
            now = time.monotonic()
            if now - found_at >= 1.0:
                pids, found_at = tree_pids(me), now
            mb = rss_mb(pids)
            self.peak = max(self.peak, mb)
            step = self.step or "(between steps)"
            self.peaks[step] = max(self.peaks.get(step, 0.0), mb)
            self.own_cpu_s = time.thread_time()
            time.sleep(0.05)

    def on_event(self, event: str, data: dict) -> None:
        if event == "STEP_START":
            self.step = data["step"]
            self._cpu_at_start = cpu_seconds()
        elif event in ("STEP_SUCCESS", "STEP_FAILURE"):
            if self.step is not None and self._cpu_at_start is not None:
                self.cpu[self.step] = self.cpu.get(self.step, 0.0) + cpu_seconds() - self._cpu_at_start
            self.step, self._cpu_at_start = None, None


def cpu_seconds() -> float:
    """User + sys CPU seconds of this process (all threads) and of its children it has waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
