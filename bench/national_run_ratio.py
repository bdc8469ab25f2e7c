"""A full `ipcity run` of one national year against the bare DuckDB count of its grants file, in the same run.

    python bench/national_run_ratio.py [--landing DIR] [--scale 1 --year 2020 --format csv] [--repeats 3]

Issue 19's goal: the whole run ≤ 25× the bare count. The bare count (bench/bare_duckdb.py, whole process) is
timed ``--repeats`` times before the run and as often after it, so both sides see the same machine load; the
ratio uses the median of all of them. Wall time AND CPU time (user + sys of the process and every child it
waited for: dbt is one) are printed for both, with the load average at the start and at the end: on a shared
machine the wall ratio moves with the load, the CPU ratio much less.

The run goes to ``--work``/run, removed first (a fresh warehouse) but at the same path every time, as an
operator's warehouse is. dbt keeps its parse state only while the rendered profile (the warehouse path and the
spill folder among it) stays the same, and a changed one costs the first dbt step a full parse (≈ 3.5-4 s of
CPU): so before the timed run a `dbt parse` in the run's environment (not timed) leaves the state an operator's
second run finds; ``--cold-parse`` leaves it out. ``--landing`` points at an existing landing folder (read only); without it the data are generated
by bench/run.py's ``ensure_data`` under ``--work`` (kept for the next run while its parameters match).
Prints; asserts nothing (tests/test_bench_smoke.py runs it at a tiny scale so it cannot rot).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run import BENCH, PY, ensure_data, grants_files, machine, pipeline_run, run_proc  # noqa: E402

GROUPS = (  # (label, step-key prefixes), as bench/run.py's STAGES
    ("ingest", ("raw__",)),
    ("GX raw", ("gx_raw_",)),
    ("dbt indicator", ("dbt_indicator",)),
    ("dbt evaluation", ("dbt_evaluation",)),
    ("GX marts", ("gx_marts_",)),
    ("lake", ("lake__",)),
    ("publish", ("published__", "releases__")),
)


def bare_counts(grants: Path, repeats: int, log: Path) -> list[dict]:
    return [run_proc([PY, str(BENCH / "bare_duckdb.py"), str(grants)], log=log) for _ in range(repeats)]


def warm_parse(run_dir: Path) -> None:
    """`dbt parse` with the profile environment the run's dbt steps will have (pipelines.dbt_manifest), so
    dbt_project/target/partial_parse.msgpack matches the run's profile."""
    from unittest import mock

    from pipelines import dbt_manifest

    warehouse = str(run_dir / "warehouse.duckdb")
    with mock.patch.dict(os.environ, {"IPCITY_WAREHOUSE": warehouse}):  # the spill folder follows the warehouse
        env = {"IPCITY_WAREHOUSE": warehouse, **dbt_manifest.dbt_environment(warehouse)}
    run_proc(
        [PY, "-m", "pipelines.supervised", "dbt", *dbt_manifest.parse_args()], env=env, log=run_dir.parent / "parse.log"
    )


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--landing", type=Path, help="an existing landing folder (read only)")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--year", type=int, default=2020)
    ap.add_argument("--format", choices=("csv", "parquet"), default="csv")
    ap.add_argument("--repeats", type=int, default=3, help="bare counts before and again after the run")
    ap.add_argument("--work", type=Path, default=BENCH / "work" / "national_run_ratio")
    ap.add_argument("--cold-parse", action="store_true", help="no untimed `dbt parse` in the run's environment first")
    args = ap.parse_args(argv)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    say = lambda msg: print(msg, flush=True)  # noqa: E731
    landing = args.landing.resolve() if args.landing else None
    if landing is None:
        data = work / f"data_{args.year}_s{args.scale:g}_{args.format}"
        landing = ensure_data(data, args.scale, args.year, args.year, args.format)
    grants = grants_files(landing)[0]
    start = machine()
    say(f"machine: {start}")
    say(f"grants file: {grants} ({grants.stat().st_size / 1e6:,.0f} MB)")

    if not args.cold_parse:
        warm_parse(work / "run")
    before = bare_counts(grants, args.repeats, work / "bare_before.log")
    run = pipeline_run(landing, work / "run")
    after = bare_counts(grants, args.repeats, work / "bare_after.log")
    end = machine()

    bare = before + after
    bare_wall = statistics.median(b["wall_s"] for b in bare)
    bare_cpu = statistics.median(b["cpu_s"] for b in bare)
    run_wall, run_cpu = run["process_wall_s"], run["process_cpu_s"]
    steps = run["steps"]
    grouped = {
        label: sum(v["seconds"] for k, v in steps.items() if k.startswith(prefixes)) for label, prefixes in GROUPS
    }
    in_groups = {k for k in steps for _, prefixes in GROUPS if k.startswith(prefixes)}
    grouped["other steps"] = sum(v["seconds"] for k, v in steps.items() if k not in in_groups)
    grouped_cpu = {
        label: sum(v.get("cpu_s") or 0.0 for k, v in steps.items() if k.startswith(prefixes))
        for label, prefixes in GROUPS
    }
    grouped_cpu["other steps"] = sum(v.get("cpu_s") or 0.0 for k, v in steps.items() if k not in in_groups)
    result = {
        "load_avg": {"start": start["load_avg"], "end": end["load_avg"]},
        "bare_duckdb": {
            "wall_s": [round(b["wall_s"], 2) for b in bare],
            "cpu_s": [round(b["cpu_s"], 2) for b in bare],
            "median_wall_s": bare_wall,
            "median_cpu_s": bare_cpu,
        },
        "run": {
            "success": run["success"],
            "process_wall_s": run_wall,
            "process_cpu_s": run_cpu,
            "user_s": run["process_user_s"],
            "sys_s": run["process_sys_s"],
            "dagster_run_s": run["run_s"],
            "outside_run_s": run_wall - run["run_s"],
            "peak_rss_mb": run["process_maxrss_mb"],
            "dbt_plan": run.get("dbt_plan"),
            "stages_s": grouped,
            "stages_cpu_s": grouped_cpu,
            "import_cpu_s": run.get("import_cpu_s"),
            "dagster_run_cpu_s": run.get("run_cpu_s"),
            "sampler_cpu_s": run.get("sampler_cpu_s"),
            "frozen_heap_objects": run.get("frozen_heap_objects"),
        },
        "ratio_wall": run_wall / bare_wall,
        "ratio_cpu": run_cpu / bare_cpu,
    }
    (work / "ratio.json").write_text(json.dumps(result, indent=1))
    say(f"load average: {start['load_avg']} at the start, {end['load_avg']} at the end")
    say(
        f"bare DuckDB count: median {bare_wall:.2f} s wall, {bare_cpu:.2f} s CPU "
        f"(wall {result['bare_duckdb']['wall_s']}, CPU {result['bare_duckdb']['cpu_s']})"
    )
    say(
        f"ipcity run ({'ok' if run['success'] else 'FAILED'}): {run_wall:.1f} s wall, {run_cpu:.1f} s CPU "
        f"(user {run['process_user_s']:.1f} + sys {run['process_sys_s']:.1f}); the Dagster run {run['run_s']:.1f} s, "
        f"outside it {run_wall - run['run_s']:.1f} s; peak {run['process_maxrss_mb']:,.0f} MB"
    )
    say("  wall: " + ", ".join(f"{k} {v:.1f} s" for k, v in grouped.items()))
    say("  CPU:  " + ", ".join(f"{k} {v:.1f} s" for k, v in grouped_cpu.items()))
    if run.get("run_cpu_s") is not None:
        say(
            f"  CPU of the Dagster run {run['run_cpu_s']:.1f} s, before it (imports, instance) "
            f"{run['import_cpu_s']:.1f} s, of the bench's memory sampler {run['sampler_cpu_s']:.2f} s"
        )
    say(
        f"ratio run / bare DuckDB count: {result['ratio_wall']:.1f}x wall, {result['ratio_cpu']:.1f}x CPU "
        "(goal: within 25x)"
    )
    return result


if __name__ == "__main__":
    main()
