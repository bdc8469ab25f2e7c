"""The pipeline's own ingest path on the benchmark files, then an aggregate, as one process.

    python bench/pipeline_ingest.py LANDING WAREHOUSE --mode count|indicators [--out OUT.parquet]

count:      cities + patent grants through `ingest_file` (read, validate, quarantine, ledger, DuckDB load), then
            grants by region code and type from raw.patent_grants: the pipeline's answer to what bare Polars /
            bare DuckDB do in bench/bare_*.py.
indicators: cities, population and patent grants ingested, then the same city-year measures and indicators as
            bench/pandas_baseline.py, in DuckDB SQL over the raw tables (same attribution and in-force rules as
            dbt's int_patents__unit_year), written to OUT for comparison.

Prints one JSON line: seconds of each phase (bench/ingest_timing.py; load = the rest of ingest_file), of the
aggregate and of closing the warehouse (its checkpoint), and row counts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402

import pipelines.ingest.load as load  # noqa: E402
from bench.ingest_timing import PHASES  # noqa: E402  (installs the timing wrappers)
from pipelines.sources import SOURCES  # noqa: E402

INDICATOR_SQL = """
WITH units AS (SELECT city_code AS unit_code, level FROM raw.cities),
grants AS (
  SELECT region_code, year(grant_date) AS grant_year, year(lapse_date) AS lapse_year,
         patent_type = 'invention' AS invention, applicant_type = 'enterprise' AS enterprise,
         is_high_value AS high_value, count(*) AS n
  FROM raw.patent_grants GROUP BY ALL
),
by_unit AS (
  SELECT u.unit_code, g.* FROM grants g JOIN units u
    ON u.unit_code = substr(g.region_code, 1, 4) || '00' AND u.level NOT IN ('county_level_city', 'municipal_district')
  UNION ALL
  SELECT u.unit_code, g.* FROM grants g JOIN units u
    ON u.unit_code = g.region_code AND u.level IN ('county_level_city', 'municipal_district')
),
years AS (SELECT DISTINCT grant_year AS year FROM grants),
measures AS (
  SELECT b.unit_code, y.year,
    sum(CASE WHEN b.grant_year = y.year THEN n ELSE 0 END) AS grants_total,
    sum(CASE WHEN b.grant_year = y.year AND invention THEN n ELSE 0 END) AS grants_invention,
    sum(CASE WHEN b.grant_year = y.year AND invention AND enterprise THEN n ELSE 0 END) AS grants_invention_enterprise,
    sum(CASE WHEN invention AND (lapse_year IS NULL OR lapse_year > y.year) THEN n ELSE 0 END) AS in_force_invention,
    sum(CASE WHEN invention AND high_value AND (lapse_year IS NULL OR lapse_year > y.year) THEN n ELSE 0 END)
      AS in_force_invention_high_value
  FROM by_unit b JOIN years y ON b.grant_year <= y.year
  GROUP BY b.unit_code, y.year
)
SELECT m.*, p.population_10k,
  m.in_force_invention / p.population_10k AS QLT01,
  m.in_force_invention_high_value / p.population_10k AS QLT02,
  m.grants_invention / nullif(m.grants_total, 0) AS QLT03,
  m.grants_invention_enterprise / nullif(m.grants_invention, 0) AS QLT04,
  m.grants_total / p.population_10k AS ENV03
FROM measures m LEFT JOIN raw.population p ON p.region_code = m.unit_code AND p.year = m.year
ORDER BY m.unit_code NULLS LAST, m.year NULLS LAST
"""


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("landing", type=Path)
    ap.add_argument("warehouse", type=Path)
    ap.add_argument("--mode", choices=("count", "indicators"), default="count")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    args.warehouse.unlink(missing_ok=True)
    t0 = time.perf_counter()
    names = ["cities", "patent_grants"] + (["population"] if args.mode == "indicators" else [])
    rows = {"read": 0, "loaded": 0, "rejected": 0}
    con = duckdb.connect(str(args.warehouse))
    ingest_t = {}
    for name in names:
        source = SOURCES[name]
        for path in load.landing_files(args.landing, source):
            t = time.perf_counter()
            r = load.ingest_file(con, source, path, partition=load.partition_of(path, source))
            ingest_t[name] = ingest_t.get(name, 0.0) + time.perf_counter() - t
            if name == "patent_grants":
                rows["read"] += r.rows_read
                rows["loaded"] += r.rows_loaded
                rows["rejected"] += r.rows_rejected
    t1 = time.perf_counter()
    if args.mode == "count":
        groups = con.sql(
            "SELECT region_code, patent_type, count(*) AS n FROM raw.patent_grants GROUP BY ALL"
        ).fetchall()
        result = {"groups": len(groups), "rows": sum(g[2] for g in groups)}
    else:
        out = con.sql(INDICATOR_SQL).pl()
        if args.out:
            out.write_parquet(args.out)
        result = {"unit_years": out.height}
    t2 = time.perf_counter()
    con.close()  # the checkpoint: what is written lands in the database file
    t3 = time.perf_counter()
    ingest = t1 - t0
    print(
        json.dumps(
            {
                "mode": args.mode,
                "ingest_s": ingest,
                "ingest_by_source_s": ingest_t,
                "read_s": PHASES.get("read", 0.0),
                "validate_s": PHASES.get("validate", 0.0),
                "hash_s": PHASES.get("hash", 0.0),
                "load_s": ingest - sum(PHASES.values()),
                "phases_s": {k: round(v, 3) for k, v in PHASES.items()},
                "aggregate_s": t2 - t1,
                "close_s": t3 - t2,
                "grants": rows,
                **result,
            }
        )
    )


if __name__ == "__main__":
    main()
