"""Every GX suite of a run, with each expectation's configuration kept for a validation (the pipeline) and
rebuilt on every read (GX's own behaviour), alternating in one process on the same frames.

    .venv/bin/python bench/bench_gx_configuration.py WAREHOUSE.duckdb [--repeats 3]

WAREHOUSE: any warehouse an `ipcity run` built (read-only here; e.g. data/warehouse.duckdb after the README's
first command). The frames are what the run's checks validate: the mart suites and the reference sources whole,
and each yearly source's row sample (expectations/config.yml `row_sample`) without a partition. GX is imported
and warmed up before anything is timed; the results of both ways are compared check by check (timings aside).
Prints the best time of each way and their ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402

from pipelines.assets.checks import MART_SUITES  # noqa: E402
from pipelines.quality import runner, valid_region_codes, validate  # noqa: E402
from pipelines.quality.partition_profile import run_sample_frame  # noqa: E402
from pipelines.quality.suites import row_sample  # noqa: E402
from pipelines.sources import SOURCES  # noqa: E402


def frames(con) -> list[tuple[str, object, dict]]:
    codes = valid_region_codes(con)
    built = {
        r[0]
        for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'").fetchall()
    }
    jobs = [
        (f"marts.{t}", con.sql(f"SELECT * FROM marts.{t}").pl(), {"valid_region_codes": codes})
        for t in MART_SUITES
        if t in built  # a warehouse with its raw layer only (the smoke test's) has no marts
    ]
    max_rows, seed = row_sample()
    for source in SOURCES.values():
        if source.partitioned:
            years = [y for (y,) in con.execute(f"SELECT DISTINCT year FROM {source.table} ORDER BY year").fetchall()]
            frame, _ = run_sample_frame(con, source, years, max_rows, seed)
            jobs.append((source.table, frame, {"valid_region_codes": codes}))
        else:
            frame = con.sql(f"SELECT * FROM {source.table}").pl()
            ctx = {"valid_region_codes": codes}
            if source.name in ("population", "patent_stats") and frame.height:
                ctx["evaluation_year"] = int(frame["year"].max())
            jobs.append((f"raw.{source.name}", frame, ctx))
    return jobs


def judged(jobs) -> tuple[float, list]:
    started = time.perf_counter()
    out = []
    for name, frame, ctx in jobs:
        result = validate(name, frame, context=ctx)
        out.append([(r.check_name, r.passed, r.observed_value, r.failing_sample, r.exception) for r in result.results])
    return time.perf_counter() - started, out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("warehouse")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    con = duckdb.connect(args.warehouse, read_only=True)
    jobs = frames(con)
    kept_way = runner._expectation_configurations_kept
    judged(jobs)  # GX imported, suites and caches warm
    times = {"kept": [], "rebuilt": []}
    answers = {}
    for _ in range(args.repeats):
        for way in ("rebuilt", "kept"):
            runner._expectation_configurations_kept = kept_way if way == "kept" else contextlib.nullcontext
            seconds, answers[way] = judged(jobs)
            times[way].append(seconds)
    runner._expectation_configurations_kept = kept_way
    checks = sum(len(a) for a in answers["kept"])
    rows = sum(f.height for _, f, _ in jobs)
    print(f"{len(jobs)} suites, {checks} checks, {rows:,} rows; repeats {args.repeats}, alternating")
    for way, label in (("rebuilt", "configuration rebuilt (GX)"), ("kept", "configuration kept (pipeline)")):
        print(f"  {label:32s} best {min(times[way]):6.2f} s   all {', '.join(f'{t:.2f}' for t in times[way])}")
    print(f"  ratio rebuilt / kept: {min(times['rebuilt']) / min(times['kept']):.2f}x")
    print(f"  same results: {answers['kept'] == answers['rebuilt']}")
    same = answers["kept"] == answers["rebuilt"]
    return {"suites": len(jobs), "checks": checks, "rows": rows, "seconds": times, "same": same}


if __name__ == "__main__":
    main()
