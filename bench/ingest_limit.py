"""Ingestion at the engine's limit: one national year of grants, every figure a ratio taken in the same run.

    python bench/ingest_limit.py [--scale 1] [--year 2020] [--formats csv,parquet] [--repeats 3] [--pandas]

For each format, interleaved `--repeats` times (each a fresh process, whole-process wall time):

* bare DuckDB and bare Polars reading the grants file and counting it by region and type (bench/bare_*.py);
* bare DuckDB *storing* it: typed read, written into a fresh database file, counted, closed
  (bench/bare_duckdb_load.py) — the floor under any ingestion that keeps the rows;
* the pipeline's `ingest_file` (contract compiled to SQL, DuckDB scan) for cities + grants, then the same count
  (bench/pipeline_ingest.py --mode count);
* the same with IPCITY_INGEST_SCAN=polars: every file through the Polars reader and rules (the code before the
  scan; also the fallback for layouts the scan leaves to the reader).

`--pandas` adds bench/pandas_baseline.py (the analyst's script: same rules and indicators) against the
pipeline computing the same indicators, with the results compared value by value.

The scan's row numbers are checked against the file's own order once per format (publication number by row
number, every row), so the speed is not bought with wrong lineage. Prints one JSON line per figure and a
summary; the load average at the start and the end of each format says how shared the machine was.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run import BENCH, PY, compare_indicators, ensure_data, last_json, run_proc  # noqa: E402


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def verify_row_numbers(grants: Path, warehouse: Path) -> dict:
    """Every loaded grant sits at the row number the file gives it (data row n = file line n + 1 for CSV)."""
    import duckdb
    import polars as pl

    con = duckdb.connect(str(warehouse), read_only=True)
    loaded = con.sql("SELECT publication_number, _row_number FROM raw.patent_grants ORDER BY _row_number").pl()
    con.close()
    if grants.suffix == ".parquet":
        file = pl.read_parquet(grants, columns=["publication_number"]).with_row_index("r", offset=1)
    else:
        file = pl.read_csv(grants, columns=["publication_number"], infer_schema=False).with_row_index("r", offset=2)
    joined = loaded.join(file, left_on="_row_number", right_on="r", how="left", suffix="_file")
    wrong = joined.filter(pl.col("publication_number") != pl.col("publication_number_file")).height
    return {"rows_checked": loaded.height, "rows_at_wrong_number": wrong}


def measure(landing: Path, work: Path, repeats: int) -> dict:
    grants = sorted((landing / "patent_grants").iterdir())[0]
    wh = work / "bench.duckdb"
    cmds = {
        "bare_duckdb": ([PY, str(BENCH / "bare_duckdb.py"), str(grants)], {}),
        "bare_polars": ([PY, str(BENCH / "bare_polars.py"), str(grants)], {}),
        # the floor under any ingestion that stores the rows: typed read, written to a database file, counted
        "bare_duckdb_load": ([PY, str(BENCH / "bare_duckdb_load.py"), str(grants), str(work / "bare_load.duckdb")], {}),
        "pipeline_scan": (
            [PY, str(BENCH / "pipeline_ingest.py"), str(landing), str(wh), "--mode", "count"],
            {"IPCITY_INGEST_SCAN": "sql"},
        ),
        "pipeline_polars_reader": (
            [PY, str(BENCH / "pipeline_ingest.py"), str(landing), str(wh), "--mode", "count"],
            {"IPCITY_INGEST_SCAN": "polars"},
        ),
    }
    runs: dict[str, list[dict]] = {k: [] for k in cmds}
    load_start = load_average()
    for _ in range(repeats):
        for name, (cmd, env) in cmds.items():
            r = run_proc(cmd, env=env, log=work / f"{name}.log")
            runs[name].append(r)
            if name == "pipeline_scan" and len(runs[name]) == 1:
                # checked after all runs: reading 3.5 M rows here would raise this process's memory, which the
                # commands forked after it inherit in their peak-RSS counter
                shutil.copy(wh, work / "scan_check.duckdb")
    load_end = load_average()
    order = verify_row_numbers(grants, work / "scan_check.duckdb")
    out = {"file": grants.name, "mb": round(grants.stat().st_size / 1e6, 1), "load_start": load_start}
    for name, rs in runs.items():
        out[name] = {
            "median_s": round(statistics.median(r["wall_s"] for r in rs), 2),
            "runs_s": [round(r["wall_s"], 2) for r in rs],
            "maxrss_mb": round(max(r["maxrss_mb"] for r in rs)),
        }
        if name.startswith("pipeline"):
            out[name]["split"] = last_json(rs[-1]["output"])
    bare = min(out["bare_duckdb"]["median_s"], out["bare_polars"]["median_s"])
    out["ratio_scan_vs_bare"] = round(out["pipeline_scan"]["median_s"] / bare, 2)
    out["ratio_polars_reader_vs_bare"] = round(out["pipeline_polars_reader"]["median_s"] / bare, 2)
    out["ratio_scan_vs_bare_load"] = round(out["pipeline_scan"]["median_s"] / out["bare_duckdb_load"]["median_s"], 2)
    out["row_numbers"] = order
    out["load_end"] = load_end
    return out


def pandas_vs_pipeline(landing: Path, work: Path, repeats: int) -> dict:
    pd_out, pl_out, wh = work / "pandas.parquet", work / "pipeline.parquet", work / "indicators.duckdb"
    pand, pipe = [], []
    load_start = load_average()
    for _ in range(repeats):
        pand.append(run_proc([PY, str(BENCH / "pandas_baseline.py"), str(landing), str(pd_out)], log=work / "pd.log"))
        pipe.append(
            run_proc(
                [
                    PY,
                    str(BENCH / "pipeline_ingest.py"),
                    str(landing),
                    str(wh),
                    "--mode",
                    "indicators",
                    "--out",
                    str(pl_out),
                ],
                log=work / "pi.log",
            )
        )
    p, q = statistics.median(r["wall_s"] for r in pand), statistics.median(r["wall_s"] for r in pipe)
    return {
        "pandas_s": round(p, 2),
        "pandas_runs_s": [round(r["wall_s"], 2) for r in pand],
        "pipeline_s": round(q, 2),
        "pipeline_runs_s": [round(r["wall_s"], 2) for r in pipe],
        "ratio_pandas_vs_pipeline": round(p / q, 2),
        "compare": compare_indicators(pd_out, pl_out),
        "load_start": load_start,
        "load_end": load_average(),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--year", type=int, default=2020)
    ap.add_argument("--formats", default="csv,parquet")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pandas", action="store_true")
    ap.add_argument("--work", type=Path, default=BENCH / "work")
    args = ap.parse_args(argv)
    results: dict = {"scale": args.scale, "year": args.year}
    for fmt in args.formats.split(","):
        data = args.work / f"national_{args.year}_s{args.scale:g}_{fmt}"
        landing = ensure_data(data, args.scale, args.year, args.year, fmt)
        results[fmt] = measure(landing, data, args.repeats)
        print(json.dumps({fmt: results[fmt]}), flush=True)
        if args.pandas and fmt == "csv":
            results["pandas"] = pandas_vs_pipeline(landing, data, args.repeats)
            print(json.dumps({"pandas": results["pandas"]}), flush=True)
    print("\nsummary (same-run ratios; goal: scan <= 2x the faster bare engine, pandas >= 5x slower)")
    for fmt in args.formats.split(","):
        r = results[fmt]
        print(
            f"  {fmt:8s} bare duckdb {r['bare_duckdb']['median_s']} s, bare polars {r['bare_polars']['median_s']} s, "
            f"scan {r['pipeline_scan']['median_s']} s ({r['ratio_scan_vs_bare']}x), polars reader "
            f"{r['pipeline_polars_reader']['median_s']} s ({r['ratio_polars_reader_vs_bare']}x); rows at a wrong "
            f"number: {r['row_numbers']['rows_at_wrong_number']}; load {r['load_start']} -> {r['load_end']}"
        )
        split = r["pipeline_scan"]["split"]
        print(
            f"  {'':8s} bare duckdb load (typed read + write + count) {r['bare_duckdb_load']['median_s']} s: scan "
            f"{r['ratio_scan_vs_bare_load']}x of it; scan phases (last run) {split.get('phases_s')}, "
            f"aggregate {split['aggregate_s']:.2f} s, close {split.get('close_s', 0):.2f} s; peak RSS scan "
            f"{r['pipeline_scan']['maxrss_mb']} MB, reader {r['pipeline_polars_reader']['maxrss_mb']} MB"
        )
    if "pandas" in results:
        r = results["pandas"]
        print(
            f"  pandas {r['pandas_s']} s vs pipeline {r['pipeline_s']} s: {r['ratio_pandas_vs_pipeline']}x; "
            f"mismatched values {r['compare']['mismatched_values']}"
        )
    return results


if __name__ == "__main__":
    main()
