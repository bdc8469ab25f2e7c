"""The pandas path end to end from a real DuckDB file, the results store, and generated sample data."""

from __future__ import annotations

import contextlib
import json
import os
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.quality import (
    latest_report,
    patent_grant_city_counts_from_db,
    record_results,
    summarise_rejections,
    valid_region_codes,
    validate,
)
from pipelines.sources import SOURCES, create_table_sql


def _events(n: int = 8, bad_participants_row: int | None = None) -> pl.DataFrame:
    rows = []
    for i in range(n):
        rows.append(
            dict(
                event_id=f"E{i:03d}",
                city_code=["130100", "320500", "440300", "320581"][i % 4],
                event_date=date(2021, 1 + i % 12, 5),
                audience="officials",
                participants=20 + i,
                hours=2.5,
                title="专利运营",
                year=2021,
                _source_file="training_2021.csv",
                _file_hash="h",
                _row_number=i + 2,
                _ingested_at=None,
            )
        )
    if bad_participants_row is not None:
        rows[bad_participants_row]["participants"] = 0
    return pl.DataFrame(rows, schema_overrides={"year": pl.Int32, "_ingested_at": pl.Datetime})


def _write_events(path, df: pl.DataFrame) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(create_table_sql(SOURCES["training_events"]))
    con.register("incoming", df.to_arrow())
    con.execute("INSERT INTO raw.training_events BY NAME SELECT * FROM incoming")
    con.close()


def test_pandas_path_end_to_end_from_a_duckdb_file(warehouse, tmp_path):
    codes = valid_region_codes(warehouse)  # the real 341 prefecture-level units and 31 provinces
    assert "440300" in codes and "440000" in codes and len(codes) >= 341 + 31
    db = tmp_path / "events.duckdb"
    _write_events(db, _events(8, bad_participants_row=5))
    con = duckdb.connect(str(db), read_only=True)
    df = con.sql("SELECT * FROM raw.training_events WHERE year = 2021").pl()
    con.close()
    assert df.schema["event_date"] == pl.Date and df.schema["participants"] == pl.Int64

    result = validate("raw.training_events", df, partition="2021", context={"valid_region_codes": codes})
    assert {r.check_name for r in result.failures()} == {"participants__in_range"}
    (sample,) = result.by_check()["participants__in_range"].failing_sample
    assert sample == {
        "participants": 0,
        "event_id": "E005",
        "city_code": "320500",
        "_source_file": "training_2021.csv",
        "_row_number": 7,
    }
    clean = validate(
        "raw.training_events",
        df.filter(pl.col("participants") > 0),
        partition="2021",
        context={"valid_region_codes": codes},
    )
    assert clean.passed_all and not clean.skipped[1:]  # only the row-count check lacks its input
    assert clean.skipped == ["row_count__vs_previous_year"]


def test_record_results_and_latest_report(tmp_path):
    codes = ["130100", "320500", "440300", "320581", "130000", "320000", "440000"]
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    bad = validate(
        "raw.training_events",
        _events(8, bad_participants_row=3),
        partition="2021",
        context={"valid_region_codes": codes},
    )
    good = validate("raw.training_events", _events(8), partition="2021", context={"valid_region_codes": codes})
    assert record_results(con, "run-1", "raw.training_events", bad) == len(bad.results)
    record_results(con, "run-2", "raw.training_events", good)
    record_results(con, "run-2", "raw.training_events", good)  # a retried step replaces, not duplicates
    counts = dict(con.execute("SELECT run_id, count(*) FROM quality.check_results GROUP BY run_id").fetchall())
    assert counts == {"run-1": len(bad.results), "run-2": len(good.results)}

    stored = con.execute(
        'SELECT severity, passed, "partition", failing_sample, observed_value, expectation FROM quality.check_results '
        "WHERE run_id = 'run-1' AND check_name = 'participants__in_range'"
    ).fetchall()
    (severity, passed, partition, sample, observed, expectation) = stored[0]
    assert (severity, passed, partition) == ("error", False, "2021")
    assert json.loads(sample)[0]["event_id"] == "E003"
    assert json.loads(observed)["unexpected_count"] == 1
    assert json.loads(expectation)["type"] == "expect_column_values_to_be_between"

    report = latest_report(con)
    assert report.height == len(good.results)
    assert set(report["run_id"]) == {"run-2"} and report["passed"].all()
    # the next run fails again: the report shows that failure first
    again = validate(
        "raw.training_events",
        _events(8, bad_participants_row=3),
        partition="2021",
        context={"valid_region_codes": codes},
    )
    record_results(con, "run-3", "raw.training_events", again)
    report = latest_report(con)
    assert report.row(0, named=True)["check_name"] == "participants__in_range"
    assert report.row(0, named=True)["run_id"] == "run-3" and report.height == len(bad.results)
    con.close()


def test_summarise_rejections_by_reason_code(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert summarise_rejections(con, "run-0").height == 0  # nothing ingested yet: empty, not an error
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.rejected_rows (source VARCHAR, file_name VARCHAR, file_hash VARCHAR, row_number BIGINT, "
        'raw_values VARCHAR, reason VARCHAR, "partition" VARCHAR)'
    )
    reasons = [
        ("pledge_loans", "negative value in registrations: -5"),
        ("pledge_loans", "negative value in registrations: -12"),
        ("pledge_loans", "negative value in registrations: -1; unknown region code in city_code: '999999'"),
        ("training_events", "unknown region code in city_code: '990000'"),
        ("targets", "duplicate record: 320281/plan_2021_2025/ENV01 same as row 43"),
    ]
    con.executemany("INSERT INTO raw.rejected_rows VALUES (?, 'f.csv', 'h', 2, '{}', ?, '2021')", reasons)
    out = summarise_rejections(con, "run-1")
    got = {(r["source"], r["reason_code"]): r["rows"] for r in out.iter_rows(named=True)}
    assert got == {
        ("pledge_loans", "negative value in registrations"): 3,
        ("pledge_loans", "unknown region code in city_code"): 1,
        ("training_events", "unknown region code in city_code"): 1,
        ("targets", "duplicate record"): 1,
    }
    example = out.filter(pl.col("reason_code") == "duplicate record")["reason"][0]
    assert example.startswith("duplicate record: 320281")
    summarise_rejections(con, "run-1")
    assert con.execute("SELECT count(*) FROM quality.rejections_summary WHERE run_id = 'run-1'").fetchall()[0][0] == 4
    con.close()


@pytest.fixture(scope="module")
def generated_warehouse(tmp_path_factory):
    from pipelines.generate import generate
    from pipelines.ingest.load import ingest_file, landing_files

    root = tmp_path_factory.mktemp("generated")
    generate(root / "landing", seed=5, scale=0.005, first_year=2019, last_year=2020, history_first_year=2019)
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    for source in SOURCES.values():  # cities first: SOURCES is in load order
        for path in landing_files(root / "landing", source):
            ingest_file(con, source, path)
    con.close()
    return root / "warehouse.duckdb"


def test_raw_suites_pass_on_generated_sample_data(generated_warehouse):
    con = duckdb.connect(str(generated_warehouse), read_only=True)
    codes = valid_region_codes(con)
    outcomes = {}
    for source in SOURCES.values():
        years = [None]
        if source.partitioned:
            years = [r[0] for r in con.execute(f"SELECT DISTINCT year FROM {source.table} ORDER BY 1").fetchall()]
            assert years == [2019, 2020], source.name
        for year in years:
            where = "" if year is None else f" WHERE year = {year}"
            df = con.sql(f"SELECT * FROM {source.table}{where}").pl()
            assert df.height > 0, source.name
            ctx = {"valid_region_codes": codes, "evaluation_year": 2020}
            if year == 2020:
                ctx["previous_row_count"] = con.execute(
                    f"SELECT count(*) FROM {source.table} WHERE year = 2019"
                ).fetchall()[0][0]
            result = validate(f"raw.{source.name}", df, partition=year, context=ctx)
            outcomes[(source.name, year)] = [
                (r.check_name, r.observed_value, r.failing_sample) for r in result.failures()
            ]
            assert all(r.exception is None for r in result.results)
    assert outcomes == {k: [] for k in outcomes}
    # 6 unpartitioned sources (incl. third-party evaluations) + 4 yearly sources x 2 years
    assert len(outcomes) == 6 + 2 * 4

    # grants per city, 2020 against 2019: flagged exactly where the factor is exceeded (checked by SQL here)
    # min_base_count lowered from the reviewed default so that this small sample has swings to flag
    counts = patent_grant_city_counts_from_db(con, 2020, min_base_count=20)
    result = validate("raw.patent_grants.city_counts", counts, partition="2020")
    assert result.passed_blocking
    expected = {
        r[0]
        for r in con.execute("""
        WITH g AS (SELECT substr(region_code, 1, 4) || '00' AS unit, year, count(*) AS n
                   FROM raw.patent_grants GROUP BY ALL),
             p AS (SELECT coalesce(a.unit, b.unit) AS unit, coalesce(a.n, 0) AS cur, coalesce(b.n, 0) AS prev
                   FROM (SELECT * FROM g WHERE year = 2020) a FULL JOIN (SELECT * FROM g WHERE year = 2019) b ON a.unit = b.unit)
        SELECT unit FROM p WHERE greatest(cur, prev) >= 20 AND greatest(cur, prev) / greatest(least(cur, prev), 1) > 3
    """).fetchall()
    }
    county_units = {c for c in codes if c[4:] != "00"}
    flagged = {
        row["unit_code"] for row in (result.by_check()["city_grants__change_vs_previous_year"].failing_sample or [])
    }
    assert flagged - county_units == expected
    con.close()


def test_pandas_input_is_accepted_like_polars():
    codes = ["130100", "320500", "440300", "320581"]
    df = _events(8, bad_participants_row=2)
    from_polars = validate("raw.training_events", df, partition=2021, context={"valid_region_codes": codes})
    from_pandas = validate("raw.training_events", df.to_pandas(), partition=2021, context={"valid_region_codes": codes})
    assert [(r.check_name, r.passed, r.failing_sample) for r in from_pandas.results] == [
        (r.check_name, r.passed, r.failing_sample) for r in from_polars.results
    ]
    assert [r.check_name for r in from_pandas.failures()] == ["participants__in_range"]


def test_two_pass_validation_gives_the_one_pass_results(generated_warehouse):
    """validate() asks GX for counts first and for the failing rows of the failed expectations only; its
    results (observed values, counts, failing rows by key, missing columns) are those of the one SUMMARY
    validation it replaced (bench/bench_quality_two_pass.py times both)."""
    from bench.bench_quality_two_pass import frames, one_pass, two_pass

    con = duckdb.connect(str(generated_warehouse), read_only=True)
    try:
        cases = frames(con, names={"patent_grants", "cities"})
    finally:
        con.close()
    assert len(cases) == 6
    failed = 0
    for kind, suite, frame, ctx in cases:
        expected = one_pass(suite, frame, ctx)
        assert two_pass(suite, frame, ctx) == expected, f"{suite} ({kind})"
        failed += sum(not r["passed"] for r in expected)
    assert failed >= 6  # the corrupted frames fail, so the second pass ran


def test_gx_is_imported_once_beside_the_caller(tmp_path):
    """`import_in_background` imports GX in a thread once per process; a validation started meanwhile waits for
    it and uses the same context. Run as a script: the test workers' uninitialised main module is the one case
    where the import is not moved to a thread."""
    import subprocess
    import sys

    script = tmp_path / "gx_in_background.py"
    script.write_text(
        "import polars as pl\n"
        "from pipelines.quality import runner\n"
        "thread = runner.import_in_background()\n"
        "assert thread is not None and thread.name == 'gx-import'\n"
        "assert runner.import_in_background() is None\n"
        "frame = pl.DataFrame({'asset': ['raw.x'], 'year': [2020], 'check': ['rows'], 'column': [None],\n"
        "    'value': [1.0], 'low': [1.0], 'high': [None], 'severity': ['warn'], 'error_ok': [True], 'warn_ok': [True]},\n"
        "    schema_overrides={'column': pl.Utf8, 'high': pl.Float64})\n"
        "result = runner.validate('raw.partition_profile', frame)\n"
        "thread.join()\n"
        "assert result.passed_all, result.to_dict()\n"
        "info = runner._gx_objects.cache_info()\n"
        "assert info.misses == 1 and info.currsize == 1, info\n"
        "print('ok')\n",
        encoding="utf-8",
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, str(script)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stdout + out.stderr


def test_a_suite_keeps_every_check_in_order_even_with_the_same_arguments(tmp_path):
    """The GX suite is built from all its expectations at once (GX's `add_expectation` compares each new one
    with all before it, and drops one whose type and arguments repeat another's even under another check name:
    its result would then be missing). Every check of the definition is in the suite, in order, and validated."""
    from pipelines.quality.runner import build_suite
    from pipelines.quality.suites import SuiteDefinition

    expectations = tuple(
        {"check": name, "type": "expect_column_values_to_not_be_null", "severity": severity, "kwargs": {"column": "x"}}
        for name, severity in (("x__not_null", "error"), ("x__required_by_the_contract", "error"))
    ) + ({"check": "x__positive", "type": "expect_column_values_to_be_between", "severity": "error",
          "kwargs": {"column": "x", "min_value": 1}},)  # fmt: skip
    suite = SuiteDefinition("test.same_arguments", "test", None, "", (), (), expectations, tmp_path / "s.json")
    gx_suite, run, skipped = build_suite(suite, {}, set(), {})
    assert [e.meta["check"] for e in gx_suite.expectations] == [e["check"] for e in expectations]
    assert [d["check"] for d in run] == [e["check"] for e in expectations] and skipped == []


@pytest.mark.parametrize(
    "event_dates",
    [
        [date(2021, 3, 5), date(2021, 7, 1), None, date(2039, 1, 2)],  # one in the future
        [date(2021, 3, 5), date(1212, 7, 1), None, date(2021, 1, 2)],  # one before nanoseconds' range
        [date(2021, 3, 5), date(9999, 12, 31), date(2021, 5, 2), None],  # one after it
        [None, None, None, None],
    ],
)
def test_date_checks_judge_the_same_whether_dates_reach_gx_in_nanoseconds_or_not(monkeypatch, event_dates):
    """Dates reach GX as datetime64[ns] (its vectorised between) when they fit that unit, otherwise in their
    own unit (a Python comparison per cell); the results, failing samples included, are the same either way."""
    from pipelines.quality import runner

    codes = ["130100", "320500", "440300", "320581"]
    df = _events(4).with_columns(pl.Series("event_date", event_dates, dtype=pl.Date))
    ctx = {"valid_region_codes": codes, "today": date(2026, 12, 1)}

    def judged():
        result = validate("raw.training_events", df, partition=2021, context=ctx)
        return [(r.check_name, r.passed, r.observed_value, r.failing_sample, r.exception) for r in result.results]

    fits = runner._fits_nanoseconds(df, "event_date", pl.Date)
    assert fits == all(d is None or 1678 <= d.year <= 2261 for d in event_dates)
    assert str(runner._to_pandas(df)["event_date"].dtype) == ("datetime64[ns]" if fits else "datetime64[ms]")
    fast = judged()
    monkeypatch.setattr(runner, "_fits_nanoseconds", lambda *a: False)
    assert judged() == fast
    failed = {name for name, passed, *_ in fast if not passed}
    if any(d is not None and d.year != 2021 for d in event_dates):
        assert "event_date__in_partition_year" in failed
    if date(2039, 1, 2) in event_dates or date(9999, 12, 31) in event_dates:
        assert "event_date__not_in_future" in failed


def test_a_validation_with_each_expectations_configuration_kept_judges_as_one_without(monkeypatch):
    """`validate` keeps each expectation's configuration for the length of a validation (GX rebuilds it on every
    read); a suite with passing and failing checks, failing samples included, is judged the same without that,
    and GX's own property is back afterwards, also when a validation raises."""
    from great_expectations.expectations.expectation import Expectation

    from pipelines.quality import runner

    original = Expectation.__dict__["configuration"]
    df = _events(12, bad_participants_row=3).with_columns(
        pl.when(pl.col("event_id") == "E005").then(pl.lit("999999")).otherwise(pl.col("city_code")).alias("city_code")
    )
    ctx = {"valid_region_codes": ["130100", "320500", "440300", "320581"], "today": date(2026, 12, 1)}

    def judged():
        result = validate("raw.training_events", df, partition=2021, context=ctx)
        return [(r.check_name, r.passed, r.observed_value, r.failing_sample, r.exception) for r in result.results]

    kept = judged()
    assert Expectation.__dict__["configuration"] is original
    failed = {name for name, passed, *_ in kept if not passed}
    assert len(failed) >= 2 and any(passed for _, passed, *_ in kept)
    monkeypatch.setattr(runner, "_expectation_configurations_kept", contextlib.nullcontext)
    assert judged() == kept
    monkeypatch.undo()

    with pytest.raises(RuntimeError), runner._expectation_configurations_kept():
        assert Expectation.__dict__["configuration"] is not original
        raise RuntimeError("a validation that fails halfway")
    assert Expectation.__dict__["configuration"] is original


def test_a_duckdb_run_imports_gx_without_pyspark(tmp_path):
    """GX's compatibility module imports pyspark whenever it is installed (it is, for the Spark engine): on a DuckDB
    run that cost start-up CPU and printed pyspark's FutureWarning on every run. The run's modules and GX are imported
    in a fresh interpreter as `ipcity run` imports them; no Spark module is loaded, GX still validates, and pyspark
    itself stays importable afterwards."""
    import subprocess
    import sys

    script = tmp_path / "gx_without_spark.py"
    script.write_text(
        "import sys, warnings\n"
        "warnings.simplefilter('error', FutureWarning)\n"  # pyspark's pandas-3 warning would fail the import
        "import polars as pl\n"
        "import pipelines.launcher, pipelines.extracts, pipelines.lake\n"
        "from pipelines.quality import runner\n"
        "frame = pl.DataFrame({'asset': ['raw.x'], 'year': [2020], 'check': ['rows'], 'column': [None],\n"
        "    'value': [1.0], 'low': [1.0], 'high': [None], 'severity': ['warn'], 'error_ok': [True], 'warn_ok': [True]},\n"
        "    schema_overrides={'column': pl.Utf8, 'high': pl.Float64})\n"
        "result = runner.validate('raw.partition_profile', frame)\n"
        "assert result.passed_all, result.to_dict()\n"
        "spark = sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'py4j'))\n"
        "assert not spark, spark\n"
        "import importlib.util\n"
        "if importlib.util.find_spec('pyspark') is not None:\n"
        "    warnings.simplefilter('ignore', FutureWarning)\n"
        "    import pyspark.sql\n"
        "print('ok')\n",
        encoding="utf-8",
    )
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k != "IPCITY_ENGINE"}
    out = subprocess.run(
        [sys.executable, str(script)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={**env, "PYTHONPATH": str(root)},
    )
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stdout + out.stderr
    assert "pyspark" not in out.stderr, out.stderr
