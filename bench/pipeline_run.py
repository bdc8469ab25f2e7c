"""One `ipcity run` (in-process Dagster run of the whole pipeline) with its step times and memory, as JSON.

    IPCITY_WAREHOUSE=... IPCITY_LANDING=... python bench/pipeline_run.py OUT.json

Step times come from the run's step stats (`instance.get_run_step_stats`). Memory: a sampler thread reads the
resident set size of this process and of every process below it (dbt runs as a child) from /proc every 50 ms
and keeps, for each step, the highest total seen while it ran. The raw assets' time is split into read,
validate and load (the rest) by timing wrappers around the ingest functions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from bench.ingest_timing import PHASES  # noqa: E402  (installs the timing wrappers)

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and all its descendants, in MB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/statm") as f:
                pages = int(f.read().split()[1])
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = pages
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total * PAGE_KB / 1024


class Sampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.step: str | None = "(start-up)"
        self.peaks: dict[str, float] = {}
        self.peak = 0.0
        self.stop = threading.Event()

    def run(self):
        me = os.getpid()
        while not self.stop.is_set():
            mb = tree_rss_mb(me)
            self.peak = max(self.peak, mb)
            step = self.step or "(between steps)"
            self.peaks[step] = max(self.peaks.get(step, 0.0), mb)
            time.sleep(0.05)

    def on_event(self, event: str, data: dict) -> None:
        if event == "STEP_START":
            self.step = data["step"]
        elif event in ("STEP_SUCCESS", "STEP_FAILURE"):
            self.step = None


def main(out: Path) -> None:
    t0 = time.perf_counter()
    sampler = Sampler()
    sampler.start()
    from pipelines.launcher import dagster_instance, run_pipeline

    instance = dagster_instance()
    t_import = time.perf_counter() - t0
    t1 = time.perf_counter()
    summary = run_pipeline(instance=instance, progress=sampler.on_event)
    wall = time.perf_counter() - t1
    sampler.stop.set()
    run_id = summary.runs[0]["run_id"] if summary.runs else None
    steps = {}
    if run_id:
        for s in instance.get_run_step_stats(run_id):
            steps[s.step_key] = {
                "seconds": (s.end_time or s.start_time) - s.start_time,
                "status": str(s.status.value if s.status else None),
                "peak_rss_mb": sampler.peaks.get(s.step_key),
            }
    ledger = summary.ledger.to_dicts() if summary.ledger is not None and summary.ledger.height else []
    # what the dbt step rebuilt: a full refresh or the years (pipelines/incremental.py logs its plan)
    plans = (
        [e.user_message for e in instance.all_logs(run_id) if "dbt build plan:" in (e.user_message or "")]
        if run_id
        else []
    )
    out.write_text(
        json.dumps(
            {
                "success": summary.success,
                "error": summary.runs[0].get("error") if summary.runs else summary.blocked,
                "import_s": t_import,
                "run_s": wall,
                "peak_rss_mb": sampler.peak,
                "steps": steps,
                "ingest_phases_s": PHASES,
                "ledger": ledger,
                "run_id": run_id,
                "dbt_plan": plans[0].split("dbt build plan:", 1)[1].strip() if plans else None,
            },
            default=str,
            indent=1,
        )
    )


def cli(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, help="where to write the run's JSON summary")
    main(ap.parse_args(argv).out)


if __name__ == "__main__":
    cli()
