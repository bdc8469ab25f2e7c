"""The raw checks of a run, before and after issue 19, on the same warehouse in the same process.

    python bench/bench_raw_checks.py WAREHOUSE.duckdb [--repeats 2]

before: per yearly partition, the row-level suite on the partition (or its 250k sample) + the key over every row
        in SQL + (grants) the per-city counts — one GX call per partition and suite;
after:  per source, the partition profile over every row (SQL aggregates, one GX call on the small frame) + the
        row-level suite on one sample of all partitions + (grants) the per-city counts of all years at once.
GX is imported and warmed up before either is timed; nothing is written to the warehouse (read-only).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402
import polars as pl  # noqa: E402

from pipelines.assets.checks import partition_frame, with_full_key_check  # noqa: E402
from pipelines.quality import patent_grant_city_counts_from_db, valid_region_codes, validate  # noqa: E402
from pipelines.quality.partition_profile import PROFILE_SUITE, partition_profile, run_sample_frame  # noqa: E402
from pipelines.sources import YEARLY_SOURCES  # noqa: E402


def before(con, source, years, codes) -> int:
    calls = 0
    for y in years:
        frame, full = partition_frame(con, source, y, limit=250_000, seed=0)
        prev = con.execute(f"SELECT count(*) FROM {source.table} WHERE year = ?", [y - 1]).fetchall()[0][0]
        if prev and frame.height < full:
            prev = round(prev * frame.height / full)
        r = validate(
            source.table, frame, partition=y, context={"valid_region_codes": codes, "previous_row_count": prev or None}
        )
        if frame.height < full:
            with_full_key_check(con, source, y, r, full)
        calls += 1
        if source.name == "patent_grants":
            validate("raw.patent_grants.city_counts", patent_grant_city_counts_from_db(con, y), partition=y)
            calls += 1
    return calls


def after(con, source, years, codes) -> int:
    validate(PROFILE_SUITE, partition_profile(con, source, years, valid_codes=codes))
    frame, _ = run_sample_frame(con, source, years, 50_000, 0)
    validate(source.table, frame, context={"valid_region_codes": codes})
    if source.name == "patent_grants":
        counts = pl.concat([patent_grant_city_counts_from_db(con, y) for y in years], how="vertical_relaxed")
        validate("raw.patent_grants.city_counts", counts)
        return 3
    return 2


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("warehouse", type=Path)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    con = duckdb.connect(str(args.warehouse), read_only=True)
    codes = valid_region_codes(con)
    validate("raw.cities", con.sql("SELECT * FROM raw.cities LIMIT 10").pl(), context={"valid_region_codes": codes})
    out = {"load_start": [round(x, 2) for x in os.getloadavg()]}
    for source in YEARLY_SOURCES:
        years = [r[0] for r in con.execute(f"SELECT DISTINCT year FROM {source.table} ORDER BY year").fetchall()]
        rows = con.execute(f"SELECT count(*) FROM {source.table}").fetchall()[0][0]
        best = {}
        for _ in range(args.repeats):
            for name, fn in (("before", before), ("after", after)):
                t = time.perf_counter()
                calls = fn(con, source, years, codes)
                s = time.perf_counter() - t
                if name not in best or s < best[name][0]:
                    best[name] = (s, calls)
        out[source.name] = {
            "rows": rows,
            "partitions": len(years),
            "before_s": round(best["before"][0], 2),
            "before_gx_calls": best["before"][1],
            "after_s": round(best["after"][0], 2),
            "after_gx_calls": best["after"][1],
            "ratio": round(best["before"][0] / best["after"][0], 2),
        }
        print(json.dumps({source.name: out[source.name]}), flush=True)
    out["before_total_s"] = round(sum(v["before_s"] for k, v in out.items() if isinstance(v, dict)), 2)
    out["after_total_s"] = round(sum(v["after_s"] for k, v in out.items() if isinstance(v, dict) and "after_s" in v), 2)
    out["load_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps({k: out[k] for k in ("before_total_s", "after_total_s", "load_start", "load_end")}))
    return out


if __name__ == "__main__":
    main()
