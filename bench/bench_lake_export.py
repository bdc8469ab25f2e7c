"""The lake step's Parquet export of a yearly source: sorted (the code before) against the table's own order (now).

    python bench/bench_lake_export.py WAREHOUSE [--source patent_grants] [--repeats 3]

WAREHOUSE is a DuckDB file the pipeline built (e.g. a national year from `bench/run.py`'s data, or the default
sample's `data/warehouse.duckdb`); it is copied first, so the pipeline's file is never written. Both ways write
every year of the source into an empty folder under the memory limit and spill folder of the lake step's
connection (`settings.duckdb_config("other")`), alternating, and the best and every time of each is printed with
the ratio. The before-way is the SQL `pipelines/lake.py` ran until 4 December 2026: one COPY of the whole table
ordered by file and row number, partitioned by year.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402

from pipelines import settings  # noqa: E402
from pipelines.lake import _copy_year  # noqa: E402
from pipelines.sources import SOURCES  # noqa: E402


def sorted_way(con: duckdb.DuckDBPyConnection, table: str, out: Path) -> None:
    con.execute(
        f"COPY (SELECT * FROM raw.{table} ORDER BY _source_file, _row_number) TO '{out}' "
        "(FORMAT parquet, PARTITION_BY (year), FILENAME_PATTERN 'data_{i}')"
    )


def table_order_way(con: duckdb.DuckDBPyConnection, table: str, out: Path) -> None:
    for (year,) in con.execute(f"SELECT DISTINCT year FROM raw.{table} ORDER BY year").fetchall():
        _copy_year(con, table, year, out / f"year={year}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("warehouse", type=Path)
    ap.add_argument("--source", default="patent_grants", choices=[s for s, v in SOURCES.items() if v.partitioned])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_lake_") as tmp:
        work = Path(tmp)
        wh = work / "warehouse.duckdb"
        shutil.copy(args.warehouse, wh)
        cfg = settings.duckdb_config("other")
        con = duckdb.connect(str(wh))
        con.execute("SET memory_limit = ?", [cfg["memory_limit"]])
        con.execute("SET temp_directory = ?", [str(work / "spill")])
        rows = con.execute(f"SELECT count(*) FROM raw.{args.source}").fetchone()[0]
        print(f"raw.{args.source}: {rows:,} rows; memory_limit {cfg['memory_limit']}; load {os.getloadavg()[0]:.1f}")
        times: dict[str, list[float]] = {"sorted (before)": [], "table order (now)": []}
        for _ in range(args.repeats):
            for name, way in (("sorted (before)", sorted_way), ("table order (now)", table_order_way)):
                out = work / "out"
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                started = time.perf_counter()
                way(con, args.source, out)
                times[name].append(time.perf_counter() - started)
        con.close()
        for name, t in times.items():
            print(f"{name:20s} best {min(t):6.2f} s   all {' '.join(f'{x:.2f}' for x in t)}")
        before, now = (min(t) for t in times.values())
        print(
            f"ratio before / now (best of {args.repeats}): {before / now:.2f}x; load at the end {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
