"""How long the GX pandas path takes for one yearly partition of patent grants (the largest raw source).

    .venv/bin/python bench/bench_quality_validate.py [rows] [--bad-rows N]

Generates sample data into bench/work/, ingests it into DuckDB, reads grants back (DuckDB -> polars),
tiles them to ``rows`` rows of one year and validates them with suite raw.patent_grants. Prints the
first-call cost (GX import and context) apart from the steady-state cost per call.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work" / "quality"


def sample_grants(rows: int) -> tuple[pl.DataFrame, frozenset[str]]:
    from pipelines.generate import generate
    from pipelines.ingest.load import ingest_file, landing_files
    from pipelines.quality import valid_region_codes
    from pipelines.sources import SOURCES

    db = WORK / "warehouse.duckdb"
    if not db.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        generate(WORK / "landing", seed=11, scale=0.01, first_year=2020, last_year=2020, history_first_year=2020)
        con = duckdb.connect(str(db))
        for name in ("cities", "patent_grants"):
            for path in landing_files(WORK / "landing", SOURCES[name]):
                ingest_file(con, SOURCES[name], path)
        con.close()
    con = duckdb.connect(str(db), read_only=True)
    codes = valid_region_codes(con)
    grants = con.sql("SELECT * FROM raw.patent_grants WHERE year = 2020").pl()
    con.close()
    copies = -(-rows // grants.height)
    tiled = pl.concat([grants] * copies).head(rows)
    # keep the business key unique across copies
    tiled = tiled.with_columns(
        (pl.col("publication_number") + "-" + pl.int_range(pl.len()).cast(pl.String)).alias("publication_number")
    )
    return tiled, codes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("rows", nargs="?", type=int, default=100_000)
    ap.add_argument("--bad-rows", type=int, default=0, help="rows given a negative-free but out-of-year grant date")
    args = ap.parse_args()
    from pipelines.quality import validate

    df, codes = sample_grants(args.rows)
    if args.bad_rows:
        df = df.with_columns(
            pl.when(pl.int_range(pl.len()) < args.bad_rows)
            .then(pl.date(2019, 6, 1))
            .otherwise(pl.col("grant_date"))
            .alias("grant_date")
        )
    ctx = {"valid_region_codes": codes}
    t = time.perf_counter()
    validate("raw.cities", pl.DataFrame({"city_code": ["110100"]}), context=ctx)  # GX import + context, once
    first = time.perf_counter() - t
    times = []
    for _ in range(3):
        t = time.perf_counter()
        result = validate("raw.patent_grants", df, partition="2020", context=ctx)
        times.append(time.perf_counter() - t)
    print(
        f"rows={df.height:,} expectations={len(result.results)} first_call_overhead={first:.1f}s "
        f"validate: best={min(times):.2f}s worst={max(times):.2f}s passed_all={result.passed_all} "
        f"failed={[r.check_name for r in result.failures()]}"
    )


if __name__ == "__main__":
    main()
