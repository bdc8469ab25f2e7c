"""The partition profile: aggregates over every row in DuckDB, validated by GX on the small frame they make.
A fault no row rule can see in a sample (a repeated key, a row outside its year, a vanished category) is
found over the whole partition, blocks when it is an error and is only shown when it is a warning."""

from __future__ import annotations

from datetime import date

import duckdb

from pipelines.ingest.load import ensure_schema
from pipelines.quality import validate
from pipelines.quality.partition_profile import PROFILE_SUITE, partition_profile, run_sample_frame
from pipelines.sources import SOURCES

CASES = SOURCES["enforcement_cases"]
CODES = frozenset(["440300", "440000"])
TODAY = date(2026, 1, 15)


def _warehouse(tmp_path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_schema(con)
    # 2023 and 2024: 400 cases a year, half patent disputes, half trademark cases, all in Shenzhen districts
    con.execute("""
        INSERT INTO raw.enforcement_cases (case_id, city_code, case_type, filed_date, closed_date, resolution,
            year, _source_file, _row_number)
        SELECT 'C' || y || '-' || i, '4403' || lpad(CAST(i % 7 + 1 AS VARCHAR), 2, '0'),
            CASE WHEN i % 2 = 0 THEN 'patent_infringement_dispute' ELSE 'trademark' END,
            make_date(y, i % 12 + 1, 1), make_date(y, i % 12 + 1, 20), 'mediation', y, 'f.csv', i
        FROM range(2023, 2025) t(y), range(400) s(i)
    """)
    return con


def _profile(con):
    return validate(PROFILE_SUITE, partition_profile(con, CASES, [2023, 2024], valid_codes=CODES, today=TODAY))


def test_a_clean_history_passes_and_every_measure_is_recorded(tmp_path):
    con = _warehouse(tmp_path)
    frame = partition_profile(con, CASES, [2024], valid_codes=CODES, today=TODAY)
    checks = set(frame["check"])
    assert {"rows_vs_previous_year", "duplicate_keys", "rows_outside_partition_year", "dates_in_future"} <= checks
    assert {"values_outside_enumeration", "unknown_region_codes", "share_shift", "nulls_in_required_column"} <= checks
    r = _profile(con)
    assert r.passed_all, [(f.check_name, f.failing_sample) for f in r.failures()]


def test_faults_only_aggregates_see_block_or_warn(tmp_path):
    con = _warehouse(tmp_path)
    # a key twice in 2024, a 2023 case filed in 2022, an unknown region, and every 2024 case now a trademark case
    con.execute("INSERT INTO raw.enforcement_cases SELECT * FROM raw.enforcement_cases WHERE case_id = 'C2024-5'")
    con.execute("UPDATE raw.enforcement_cases SET filed_date = DATE '2022-12-31' WHERE case_id = 'C2023-3'")
    con.execute("UPDATE raw.enforcement_cases SET city_code = '990100' WHERE case_id = 'C2024-7'")
    con.execute("UPDATE raw.enforcement_cases SET case_type = 'trademark' WHERE year = 2024")
    r = _profile(con)
    assert not r.passed_blocking
    blocking = r.by_check()["profile__blocking_measures_within_bounds"]
    failing = {(row["year"], row["check"]) for row in blocking.failing_sample}
    assert failing == {(2024, "duplicate_keys"), (2023, "rows_outside_partition_year"), (2024, "unknown_region_codes")}
    warned = r.by_check()["profile__warning_measures_within_bounds"]
    assert not warned.passed and warned.severity == "warn"
    assert {row["column"] for row in warned.failing_sample} >= {"case_type=trademark"}


def test_one_sample_covers_all_partitions_of_a_run(tmp_path):
    con = _warehouse(tmp_path)
    frame, n = run_sample_frame(con, CASES, [2023, 2024], limit=100, seed=3)
    again, _ = run_sample_frame(con, CASES, [2023, 2024], limit=100, seed=3)
    assert n == 800 and frame.height == 100 and set(frame["year"]) == {2023, 2024}
    assert frame.sort("case_id").equals(again.sort("case_id"))


def test_numbers_outside_the_contracts_range_and_overlong_texts_block_over_every_row(tmp_path):
    """The contract's ranges and text lengths are judged on every row of the run's partitions (not only on the
    row suite's sample): one bad row among thousands blocks, naming its column."""
    events = SOURCES["training_events"]
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_schema(con)
    con.execute("""
        INSERT INTO raw.training_events (event_id, city_code, event_date, audience, participants, hours, title,
            year, _source_file, _row_number)
        SELECT 'E' || i, '440300', make_date(2024, i % 12 + 1, 1), 'enterprises', 30, 2.0, 'training', 2024, 'f.csv', i
        FROM range(5000) t(i)
    """)
    clean = partition_profile(con, events, [2024], valid_codes=CODES, today=TODAY)
    measured = {(r["check"], r["column"]) for r in clean.iter_rows(named=True)}
    assert {("values_outside_range", "participants"), ("values_outside_range", "hours")} <= measured
    assert {("texts_longer_than_allowed", "event_id"), ("texts_longer_than_allowed", "title")} <= measured
    assert validate(PROFILE_SUITE, clean).passed_blocking
    con.execute("UPDATE raw.training_events SET participants = 0 WHERE event_id = 'E4321'")  # below 1
    con.execute("UPDATE raw.training_events SET hours = 200.5 WHERE event_id = 'E17'")  # above 200
    con.execute(f"UPDATE raw.training_events SET title = '{'培' * 201}' WHERE event_id = 'E2'")  # 201 characters
    r = validate(PROFILE_SUITE, partition_profile(con, events, [2024], valid_codes=CODES, today=TODAY))
    assert not r.passed_blocking
    failing = {
        (row["check"], row["column"], row["value"])
        for row in r.by_check()["profile__blocking_measures_within_bounds"].failing_sample
    }
    assert failing == {
        ("values_outside_range", "participants", 1.0),
        ("values_outside_range", "hours", 1.0),
        ("texts_longer_than_allowed", "title", 1.0),
    }
