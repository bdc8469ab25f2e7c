"""Two per-cell costs taken out of a run, each against the code before it, in the same run:

    .venv/bin/python bench/bench_check_inputs.py [--warehouse data/warehouse.duckdb] [--landing data/landing]
                                                [--repeats 3]

1. **GX date checks.** `runner._to_pandas` now hands GX date columns as datetime64[ns] when they fit that unit.
   GX compares such a column with its bounds in one vectorised step; any other unit (Polars dates arrive as
   datetime64[ms]) goes through a Python call per cell. The bench validates the raw suites of every yearly source
   (the run's 50k-row sample and the latest partition) and every mart suite both ways. It fails if any result
   differs.
2. **Planning's data years.** `load.data_years` now maps only the header of the partition date column. Before,
   it called `map_columns`, which also flags every row's total and note cells. The bench times both on every
   yearly landing file (the read itself, shared by both, is done once beforehand) and fails if any year list
   differs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines import settings  # noqa: E402
from pipelines.ingest.load import data_years, landing_files, years_of_dates  # noqa: E402
from pipelines.ingest.readers import read_file  # noqa: E402
from pipelines.ingest.validate import map_columns  # noqa: E402
from pipelines.quality import runner, valid_region_codes, validate  # noqa: E402
from pipelines.quality.partition_profile import run_sample_frame  # noqa: E402
from pipelines.sources import SOURCES  # noqa: E402

NANOSECONDS = runner._fits_nanoseconds  # the current code (patched to "never" for the way before)
MARTS = ("dim_city", "dim_indicator", "fct_city_indicator_year", "fct_city_score_year", "fct_target_status")


def _judged(result) -> list:
    return [(r.check_name, r.passed, r.observed_value, r.failing_sample, r.exception) for r in result.results]


def gx_cases(con) -> list[tuple[str, pl.DataFrame, dict, int | None]]:
    codes = valid_region_codes(con)
    cases = []
    for source in (s for s in SOURCES.values() if s.partitioned):
        years = [y for (y,) in con.execute(f"SELECT DISTINCT year FROM {source.table} ORDER BY 1").fetchall()]
        sample, _ = run_sample_frame(con, source, years, 50_000, 0)
        latest = con.sql(f"SELECT * FROM {source.table} WHERE year = {years[-1]}").pl()
        cases += [(source.table, sample, {"valid_region_codes": codes}, None)]
        cases += [(source.table, latest, {"valid_region_codes": codes}, years[-1])]
    for table in MARTS:
        cases.append(
            (f"marts.{table}", con.sql(f"SELECT * FROM marts.{table}").pl(), {"valid_region_codes": codes}, None)
        )
    return cases


def bench_gx(con, repeats: int) -> None:
    cases = gx_cases(con)
    validate(cases[0][0], cases[0][1].head(5), context=cases[0][2])  # GX's import and context: once, for both
    ways = {"per cell (before)": lambda *a: False, "nanoseconds (now)": NANOSECONDS}
    totals = dict.fromkeys(ways, 0.0)
    print("| suite | rows | per cell (before) | nanoseconds (now) | ratio |\n|---|---:|---:|---:|---:|")
    for suite, frame, ctx, partition in cases:
        best, judged = {}, {}
        for _ in range(repeats):
            for way, fits in ways.items():
                runner._fits_nanoseconds = fits
                t = time.perf_counter()
                result = validate(suite, frame, context=ctx, partition=partition)
                best[way] = min(best.get(way, float("inf")), time.perf_counter() - t)
                judged.setdefault(way, _judged(result))
        runner._fits_nanoseconds = NANOSECONDS
        a, b = judged.values()
        assert a == b, f"{suite} ({partition}): results differ"
        for way in ways:
            totals[way] += best[way]
        name = suite + ("" if partition is None else f" {partition}")
        before, now = best.values()
        print(f"| {name} | {frame.height:,} | {before:.2f} s | {now:.2f} s | {before / now:.2f}× |")
    before, now = totals.values()
    print(f"| **all {len(cases)}** | | {before:.2f} s | {now:.2f} s | **{before / now:.2f}×** |")
    print("results identical both ways: yes\n")


def years_mapping_every_column(raw, source, file_name) -> list[int]:
    """`data_years` as it was: `map_columns` (header, then every row's total and note flags), then the date's
    distinct texts."""
    mapped = map_columns(raw, source, file_name)
    return years_of_dates(mapped.df, source.partition_date, source, raw.context_year)


def bench_planning(landing: Path, repeats: int) -> None:
    print("| source | files | read (once, shared) | map every column (before) | date header only (now) | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    totals = [0.0, 0.0]
    for source in (s for s in SOURCES.values() if s.partitioned):
        t = time.perf_counter()
        files = [(p, read_file(p, source)) for p in landing_files(landing, source)]
        read_s = time.perf_counter() - t
        best = [float("inf"), float("inf")]
        for _ in range(repeats):
            for i, fn in enumerate((years_mapping_every_column, data_years)):
                t = time.perf_counter()
                found = [fn(raw, source, p.name) for p, raw in files]
                best[i] = min(best[i], time.perf_counter() - t)
                if i == 0:
                    before = found
                else:
                    assert found == before, f"{source.name}: years differ"
        totals = [totals[0] + best[0], totals[1] + best[1]]
        print(
            f"| {source.name} | {len(files)} | {read_s:.2f} s | {best[0]:.2f} s | {best[1]:.2f} s | "
            f"{best[0] / max(best[1], 1e-9):.2f}× |"
        )
    print(f"| **all** | | | {totals[0]:.2f} s | {totals[1]:.2f} s | **{totals[0] / totals[1]:.2f}×** |")
    print("years identical both ways: yes")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warehouse", default=str(settings.warehouse_path()))
    ap.add_argument("--landing", default=str(settings.landing_dir()))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    with duckdb.connect(args.warehouse, read_only=True) as con:
        bench_gx(con, args.repeats)
    bench_planning(Path(args.landing), args.repeats)


if __name__ == "__main__":
    main()
