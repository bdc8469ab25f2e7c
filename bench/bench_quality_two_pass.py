"""GX validation in two passes (counts for every expectation, failing rows only for the failed ones) against the
one-pass SUMMARY validation it replaced, on the raw tables of a built warehouse, in the same run.

    .venv/bin/python bench/bench_quality_two_pass.py [--warehouse data/warehouse.duckdb] [--repeats 2]

For every raw suite it validates the run's frame as the Dagster check does (yearly sources: the repeatable
sample of all years; reference tables: every row) and two corrupted copies (nulls, an unknown text value and an
impossible number in some rows; a dropped column). It prints seconds per pass for each kind of frame and the
ratio one-pass / two-pass, and fails if any translated result differs (observed values, counts, failing rows).
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
from pipelines.quality import runner, valid_region_codes  # noqa: E402
from pipelines.quality.partition_profile import run_sample_frame  # noqa: E402
from pipelines.quality.suites import (  # noqa: E402
    add_derived,
    available_inputs,
    build_parameters,
    load_config,
    load_suite,
    suite_sample_columns,
)
from pipelines.sources import SOURCES  # noqa: E402


def one_pass(suite_name: str, df: pl.DataFrame, context: dict) -> list[dict]:
    """The validation before the change: one GX call with SUMMARY and the key columns for every expectation."""
    suite, config = load_suite(suite_name), load_config()
    max_rows = int((config.get("samples") or {}).get("max_failing_rows", 10))
    params = build_parameters(suite, None, context, config)
    pdf = runner._to_pandas(add_derived(df, suite, params))
    gx_suite, run, _ = runner.build_suite(suite, params, available_inputs(None, params), config)
    batch = runner._gx()["batch_definition"].get_batch(batch_parameters={"dataframe": pdf})
    result_format = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": max_rows,
        "unexpected_index_column_names": suite_sample_columns(suite, pdf.columns),
    }
    by_check = {
        vr.expectation_config.meta.get("check"): vr
        for vr in batch.validate(gx_suite, result_format=result_format).results
    }
    return [runner._translate(d, by_check[d["check"]], max_rows).to_dict() for d in run]


def two_pass(suite_name: str, df: pl.DataFrame, context: dict) -> list[dict]:
    return [r.to_dict() for r in runner.validate(suite_name, df, context=context).results]


def frames(con, names=None) -> list[tuple[str, str, pl.DataFrame, dict]]:
    """(kind, suite, frame, context) for each raw source (or those named): as loaded and corrupted two ways."""
    codes = valid_region_codes(con)
    out = []
    for name, src in SOURCES.items():
        if names is not None and name not in names:
            continue
        ctx = {"valid_region_codes": codes}
        if src.partitioned:
            years = [r[0] for r in con.execute(f"SELECT DISTINCT year FROM {src.table}").fetchall()]
            frame, _ = run_sample_frame(con, src, years, 50_000, 0)
            suite = src.table
        else:
            frame = con.sql(f"SELECT * FROM {src.table}").pl()
            suite = f"raw.{name}"
            if name in ("population", "patent_stats"):
                ctx["evaluation_year"] = int(frame["year"].max())
        if frame.height == 0:
            continue
        out.append(("as loaded", suite, frame, ctx))
        first = frame.columns[0]
        texts = [c for c, t in frame.schema.items() if t == pl.String]
        numbers = [c for c, t in frame.schema.items() if t.is_numeric() and c != "year"]
        i = pl.int_range(pl.len())
        bad = [pl.when(i < 7).then(None).otherwise(pl.col(first)).alias(first)]
        if texts:
            bad.append(pl.when(i % 5 == 1).then(pl.lit("坏值")).otherwise(pl.col(texts[-1])).alias(texts[-1]))
        if numbers:
            bad.append(pl.when(i % 3 == 0).then(-999_999).otherwise(pl.col(numbers[0])).alias(numbers[0]))
        corrupted = frame.with_columns(bad)
        out.append(("corrupted rows", suite, corrupted, ctx))
        out.append(("a column missing", suite, corrupted.drop(frame.columns[-1]), ctx))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--warehouse", type=Path, default=settings.warehouse_path())
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    con = duckdb.connect(str(args.warehouse), read_only=True)
    cases = frames(con)
    runner._gx()  # the import and context are a one-off cost of both
    seconds: dict[tuple[str, str], float] = {}
    differ = []
    for _ in range(args.repeats):
        for variant in (one_pass, two_pass):  # interleaved, so drift in machine load hits both
            for kind, suite, frame, ctx in cases:
                t = time.perf_counter()
                variant(suite, frame, ctx)
                seconds[kind, variant.__name__] = seconds.get((kind, variant.__name__), 0.0) + time.perf_counter() - t
    for kind, suite, frame, ctx in cases:
        if one_pass(suite, frame, ctx) != two_pass(suite, frame, ctx):
            differ.append(f"{suite} ({kind})")
    print(f"{len(cases)} validations × {args.repeats} repeats, warehouse {args.warehouse}")
    print("| frames | one pass (SUMMARY) | two passes | ratio |\n|---|---:|---:|---:|")
    for kind in dict.fromkeys(k for k, _, _, _ in cases):
        a, b = seconds[kind, "one_pass"] / args.repeats, seconds[kind, "two_pass"] / args.repeats
        print(f"| {kind} | {a:.2f} s | {b:.2f} s | {a / b:.2f}× |")
    if differ:
        raise SystemExit("results differ: " + ", ".join(differ))
    print("results identical for every validation")


if __name__ == "__main__":
    main()
