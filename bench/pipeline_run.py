"""One `ipcity run` (in-process Dagster run of the whole pipeline) with its step times and memory, as JSON.

    IPCITY_WAREHOUSE=... IPCITY_LANDING=... python bench/pipeline_run.py OUT.json

Step times come from the run's step stats (`instance.get_run_step_stats`). Memory and CPU per step: the sampler
of bench/sampler.py (the resident set size of this process and of every process below it, dbt being one; the
CPU seconds between each step's start and end). The raw assets' time is split into read, validate and load (the
rest) by timing wrappers around the ingest functions. The process collects garbage as `ipcity run`'s does
(pipelines/heap.py: no collection while starting, the heap frozen once the definitions are imported and again
before exit), so the benchmark times what the command does.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from bench.ingest_timing import PHASES  # noqa: E402  (installs the timing wrappers)
from bench.sampler import Sampler, cpu_seconds  # noqa: E402


def main(out: Path) -> None:
    t0 = time.perf_counter()
    cpu0 = cpu_seconds()
    from pipelines.heap import freeze_heap, pause_collection

    pause_collection()  # as `ipcity run` (pipelines/cli.py): see pipelines/heap.py
    sampler = Sampler()
    sampler.start()
    from pipelines.launcher import dagster_instance, run_pipeline

    instance = dagster_instance()
    t_import = time.perf_counter() - t0
    t1 = time.perf_counter()
    cpu1 = cpu_seconds()

    def on_event(kind: str, info: dict) -> None:
        if kind == "RUN_PLANNED":  # the definitions are imported, as in `ipcity run`
            freeze_heap(collect_first=True)
        sampler.on_event(kind, info)

    summary = run_pipeline(instance=instance, progress=on_event)
    wall = time.perf_counter() - t1
    cpu_run = cpu_seconds() - cpu1
    sampler.stop.set()
    freeze_heap()  # as `ipcity run`: no last walk over the run's heap at exit
    run_id = summary.runs[0]["run_id"] if summary.runs else None
    steps = {}
    if run_id:
        for s in instance.get_run_step_stats(run_id):
            steps[s.step_key] = {
                "seconds": (s.end_time or s.start_time) - s.start_time,
                "status": str(s.status.value if s.status else None),
                "peak_rss_mb": sampler.peaks.get(s.step_key),
                "cpu_s": sampler.cpu.get(s.step_key),
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
                "import_cpu_s": cpu1 - cpu0,
                "run_cpu_s": cpu_run,
                "sampler_cpu_s": sampler.own_cpu_s,
                "peak_rss_mb": sampler.peak,
                "steps": steps,
                "ingest_phases_s": PHASES,
                "ledger": ledger,
                "run_id": run_id,
                "dbt_plan": plans[0].split("dbt build plan:", 1)[1].strip() if plans else None,
                # objects kept out of the collector's view: > 0 when the process follows pipelines/heap.py
                "frozen_heap_objects": gc.get_freeze_count(),
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
