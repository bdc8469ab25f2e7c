"""Where a dbt step's data-test time goes: dbt's own work per node against the test's query on DuckDB.

    python bench/dbt_test_cost.py STEP_TARGET_FOLDER... --warehouse WAREHOUSE.duckdb [--top 8]

A STEP_TARGET_FOLDER is one a pipeline dbt step left under dbt_project/target (`dbt_indicator_models-<run>-…`);
its run_results.json holds each test's compiled SQL and its node time (`execution_time`: compiling, running,
dbt's events). Each test's query is run again here, alone, on a read-only copy of the warehouse the step
built (attached under the name the compiled SQL uses), the way dbt wraps it (`select count(*) from (...)`).
The difference is dbt's per-node cost. Prints sums and the slowest queries; never asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import duckdb


def measure(folders: list[Path], warehouse: Path, catalog: str) -> list[tuple[float, float, str]]:
    con = duckdb.connect()
    con.execute(f"ATTACH '{warehouse}' AS \"{catalog}\" (READ_ONLY)")
    con.execute(f'USE "{catalog}"')
    rows = []
    for folder in folders:
        for r in json.loads((folder / "run_results.json").read_text())["results"]:
            sql = r.get("compiled_code")
            if not r["unique_id"].startswith("test.") or not sql:
                continue
            t = time.perf_counter()
            con.execute(f"select count(*) from ({sql}) dbt_internal_test").fetchall()
            rows.append((time.perf_counter() - t, r["execution_time"], r["unique_id"]))
    return sorted(rows, reverse=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--warehouse", type=Path, required=True, help="a copy of the warehouse the step built")
    ap.add_argument("--catalog", default="warehouse", help="the database name in the compiled SQL")
    ap.add_argument("--top", type=int, default=8)
    args = ap.parse_args(argv)
    rows = measure(args.folders, args.warehouse, args.catalog)
    query, node = sum(r[0] for r in rows), sum(r[1] for r in rows)
    print(f"{len(rows)} data tests: node time {node:.2f} s, their queries alone {query:.2f} s ({query / node:.0%})")
    print("| query | node | test |\n|---:|---:|---|")
    for q, n, uid in rows[: args.top]:
        print(f"| {q:.3f} s | {n:.3f} s | {uid.split('.')[2]} |")


if __name__ == "__main__":
    sys.exit(main())
