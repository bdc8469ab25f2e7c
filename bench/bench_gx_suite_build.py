"""Building a GX suite from its expectations at once (the constructor) against adding them one by one
(`ExpectationSuite.add_expectation`, the code before), for every suite in expectations/, in the same run.

    .venv/bin/python bench/bench_gx_suite_build.py [--warehouse data/warehouse.duckdb] [--repeats 5]

`add_expectation` compares each new expectation with every one already in the suite (pydantic dicts: the suite
is set-like), so building a suite of n expectations costs O(n²) comparisons, and `runner.validate` builds one
per call. The bench prints seconds per way and the ratio, then validates the raw patent-grant sample both ways
(full `runner.validate`, the suite built each way) and fails if the suites' expectations or the results differ.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from unittest import mock

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines import settings  # noqa: E402
from pipelines.quality import runner, valid_region_codes  # noqa: E402
from pipelines.quality.partition_profile import run_sample_frame  # noqa: E402
from pipelines.quality.suites import (  # noqa: E402
    available_inputs,
    build_parameters,
    load_config,
    load_suite,
    suite_names,
)
from pipelines.sources import SOURCES  # noqa: E402

BUILD_AT_ONCE = runner.build_suite  # the current code (the bench patches runner.build_suite below)


def build_one_by_one(suite, params, inputs, config):
    """`runner.build_suite` as it was: an empty suite, then `add_expectation` for each expectation."""
    expectations, run, skipped = runner.build_expectations(suite, params, inputs, config)
    old = runner._gx()["gx"].ExpectationSuite(name=suite.name)
    for e in expectations:
        old.add_expectation(e)
    return old, run, skipped


def _configs(gx_suite) -> list[dict]:
    return [e.configuration.to_json_dict() for e in gx_suite.expectations]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warehouse", default=str(settings.warehouse_path()))
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    with duckdb.connect(args.warehouse, read_only=True) as con:
        codes = valid_region_codes(con)
        years = [r[0] for r in con.execute("SELECT DISTINCT year FROM raw.patent_grants ORDER BY 1").fetchall()]
        frame, _ = run_sample_frame(con, SOURCES["patent_grants"], years, 50_000, 0)
    config = load_config()
    context = {"valid_region_codes": codes, "evaluation_year": 2024, "previous_row_count": 1000}
    cases = []
    for name in suite_names():
        suite = load_suite(name)
        params = build_parameters(suite, None, context, config)
        cases.append((suite, params, available_inputs(None, params)))
    runner._gx()  # the import and context are a one-off cost of both ways
    n_expectations = 0
    for suite, params, inputs in cases:
        new, _, _ = BUILD_AT_ONCE(suite, params, inputs, config)
        old, _, _ = build_one_by_one(suite, params, inputs, config)
        assert _configs(new) == _configs(old), suite.name
        n_expectations += len(new.expectations)
    times = {"one by one": 0.0, "constructor": 0.0}
    for _ in range(args.repeats):
        for way, fn in (("one by one", build_one_by_one), ("constructor", BUILD_AT_ONCE)):
            t = time.perf_counter()
            for suite, params, inputs in cases:
                fn(suite, params, inputs, config)
            times[way] += time.perf_counter() - t
    print(f"{len(cases)} suites, {n_expectations} expectations, {args.repeats} repeats")
    print("| way | suites built | per repeat |\n|---|---:|---:|")
    for way, s in times.items():
        print(f"| {way} | {s:.2f} s | {s / args.repeats:.3f} s |")
    print(f"ratio one by one / constructor: {times['one by one'] / times['constructor']:.2f}×")

    # whole validations of the raw grants sample, the suite built each way
    v = {"one by one": 0.0, "constructor": 0.0}
    results = {}
    for _ in range(args.repeats):
        for way in v:
            built_as_before = way == "one by one"
            patch = mock.patch.object(runner, "build_suite", build_one_by_one) if built_as_before else nullcontext()
            t = time.perf_counter()
            with patch:
                r = runner.validate("raw.patent_grants", frame, context={"valid_region_codes": codes})
            v[way] += time.perf_counter() - t
            results[way] = [x.to_dict() for x in r.results]
    assert results["one by one"] == results["constructor"], "validation results differ"
    print(f"\nraw.patent_grants on its {frame.height:,}-row sample, {args.repeats} validations each way:")
    print("| way | total | per validation |\n|---|---:|---:|")
    for way, s in v.items():
        print(f"| {way} | {s:.2f} s | {s / args.repeats:.2f} s |")
    print(f"ratio: {v['one by one'] / v['constructor']:.2f}× (results identical)")


if __name__ == "__main__":
    main()
