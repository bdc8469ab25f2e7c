"""The row suite's sample of a run's yearly partitions: 50,000 rows (until stop 31) against the configured size
(expectations/config.yml `row_sample.max_rows`), on the same warehouse in the same process.

    python bench/bench_row_sample.py WAREHOUSE.duckdb [--repeats 3]

Per yearly source: the partition profile over every row (SQL aggregates, then one GX call on the small frame;
the same in both ways, timed once per repeat), and the row-level suite on one repeatable sample of all the
source's partitions at each size, alternating. Prints each source's best times, the ratio of the two ways of
the profile + sample together, and the totals. GX is imported and warmed up first; nothing is written.
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

from pipelines.quality import valid_region_codes, validate  # noqa: E402
from pipelines.quality.partition_profile import PROFILE_SUITE, partition_profile, run_sample_frame  # noqa: E402
from pipelines.quality.suites import row_sample  # noqa: E402
from pipelines.sources import YEARLY_SOURCES  # noqa: E402

BEFORE_ROWS = 50_000


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("warehouse", type=Path)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    now_rows, seed = row_sample()
    con = duckdb.connect(str(args.warehouse), read_only=True)
    codes = valid_region_codes(con)
    validate("raw.cities", con.sql("SELECT * FROM raw.cities LIMIT 10").pl(), context={"valid_region_codes": codes})
    out: dict = {"load_start": [round(x, 2) for x in os.getloadavg()], "sample_now": now_rows}
    for source in YEARLY_SOURCES:
        years = [r[0] for r in con.execute(f"SELECT DISTINCT year FROM {source.table} ORDER BY year").fetchall()]
        if not years:
            continue

        def profile(source=source, years=years):
            validate(PROFILE_SUITE, partition_profile(con, source, years, valid_codes=codes))

        def sample(limit, source=source, years=years):
            frame, _ = run_sample_frame(con, source, years, limit, seed)
            validate(source.table, frame, context={"valid_region_codes": codes})

        best = {"profile": float("inf"), "sample_before": float("inf"), "sample_now": float("inf")}
        for _ in range(args.repeats):
            best["profile"] = min(best["profile"], _timed(profile))
            best["sample_before"] = min(best["sample_before"], _timed(lambda: sample(BEFORE_ROWS)))
            best["sample_now"] = min(best["sample_now"], _timed(lambda: sample(now_rows)))
        before, now = best["profile"] + best["sample_before"], best["profile"] + best["sample_now"]
        out[source.name] = {k: round(v, 3) for k, v in best.items()} | {
            "before_s": round(before, 3),
            "now_s": round(now, 3),
            "ratio": round(before / now, 2),
        }
        print(json.dumps({source.name: out[source.name]}), flush=True)
    sources = [v for v in out.values() if isinstance(v, dict)]
    out["before_total_s"] = round(sum(v["before_s"] for v in sources), 2)
    out["now_total_s"] = round(sum(v["now_s"] for v in sources), 2)
    out["ratio"] = round(out["before_total_s"] / out["now_total_s"], 2) if out["now_total_s"] else None
    out["load_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps({k: out[k] for k in ("before_total_s", "now_total_s", "ratio", "load_start", "load_end")}))
    return out


if __name__ == "__main__":
    main()
