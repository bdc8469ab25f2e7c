"""Where `ipcity run` spends its wall time outside the Dagster run: timers around the launcher's phases.

    IPCITY_WAREHOUSE=<dir>/warehouse.duckdb IPCITY_LANDING=data/landing DAGSTER_HOME=<dir>/dagster_home \\
        .venv/bin/python bench/launcher_phases.py

Run it from a fresh clone (no dbt_project/target) on a fresh warehouse to see a first run's start-up, as
bench/RESULTS.md ("the night's start-up costs") did. It runs `pipelines.launcher.run_pipeline` with timers
around the manifest parse, planning, the Dagster instance and `execute_in_process`, and prints each phase's
start and end in seconds from the process start.
"""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path

STARTED = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dagster as dg  # noqa: E402

from pipelines import dbt_manifest, launcher  # noqa: E402

marks: list[tuple[float, str]] = [(time.perf_counter() - STARTED, "imports done")]


def _timed(owner, name: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def timed(*args, **kwargs):
        marks.append((time.perf_counter() - STARTED, f"{name} start"))
        try:
            return original(*args, **kwargs)
        finally:
            marks.append((time.perf_counter() - STARTED, f"{name} end"))

    setattr(owner, name, timed)


def main() -> None:
    for name in ("plan", "latest_loaded_year", "dagster_instance", "ledger_for_runs", "digests_for_runs"):
        _timed(launcher, name)
    for name in ("start_parse", "finish_parse"):
        _timed(dbt_manifest, name)
    _timed(dg.JobDefinition, "execute_in_process")
    summary = launcher.run_pipeline()
    marks.append((time.perf_counter() - STARTED, "run_pipeline end"))
    print("| seconds from start | phase |\n|---:|---|")
    for t, name in marks:
        print(f"| {t:.2f} | {name} |")
    print(f"\nrun succeeded: {summary.success}")


if __name__ == "__main__":
    main()
