"""How busy the machine's cores are in each phase of one `ipcity run` (Linux: reads /proc/stat).

    .venv/bin/python bench/cpu_by_step.py OUT_DIR [--landing data/landing]

Runs `python -m pipelines.cli run` from this checkout into OUT_DIR (a fresh warehouse and Dagster home there;
delete dbt_project/target first to see a fresh checkout's start-up) while sampling /proc/stat once a second,
then lays the samples over the run's step times (grouped as in bench/compare_runs.py) and prints wall seconds
and the share of all cores busy in each phase. bench/RESULTS.md's "where a default run's cores go" table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.compare_runs import GROUPS  # noqa: E402


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def sample(stop: threading.Event, out: list[tuple[float, float]]) -> None:
    busy0, total0 = _cpu_times()
    while not stop.wait(1.0):
        busy, total = _cpu_times()
        out.append((time.time(), 100 * (busy - busy0) / max(total - total0, 1)))
        busy0, total0 = busy, total


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--landing", default=str(ROOT / "data" / "landing"))
    args = ap.parse_args(argv)
    out = Path(args.out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "IPCITY_WAREHOUSE": str(out / "warehouse.duckdb"),
        "IPCITY_LANDING": str(Path(args.landing).resolve()),
        "DAGSTER_HOME": str(out / "dagster_home"),
    }
    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample, args=(stop, samples))
    sampler.start()
    started = time.time()
    try:
        subprocess.run([sys.executable, "-m", "pipelines.cli", "run"], cwd=ROOT, env=env, check=True)
    finally:
        ended = time.time()
        stop.set()
        sampler.join()

    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(out / "dagster_home"))
    run = instance.get_runs(limit=1)[0]
    steps = instance.get_run_step_stats(run.run_id)
    first = min(s.start_time for s in steps)
    last = max(s.end_time for s in steps)

    def busy(a: float, b: float) -> str:
        inside = [c for t, c in samples if a <= t - 0.5 <= b]  # a sample covers the second before it
        return f"{sum(inside) / len(inside):.0f} %" if inside else "–"

    print(f"whole command: {ended - started:.1f} s, cores busy {busy(started, ended)}\n")
    print("| phase | wall (sum of steps) | busy (of all cores) |\n|---|---:|---:|")
    print(f"| before the first step | {first - started:.1f} s | {busy(started, first)} |")
    grouped = set()
    for name, member in GROUPS.items():
        mine = [s for s in steps if member(s.step_key)]
        grouped |= {s.step_key for s in mine}
        if not mine:
            continue
        wall = sum(s.end_time - s.start_time for s in mine)
        shares = [busy(s.start_time, s.end_time) for s in mine if s.end_time - s.start_time >= 1]
        print(f"| {name} | {wall:.1f} s | {', '.join(dict.fromkeys(shares)) or '–'} |")
    rest = [s for s in steps if s.step_key not in grouped]
    print(f"| other steps | {sum(s.end_time - s.start_time for s in rest):.1f} s | |")
    print(f"| after the last step | {ended - last:.1f} s | {busy(last, ended)} |")


if __name__ == "__main__":
    main()
