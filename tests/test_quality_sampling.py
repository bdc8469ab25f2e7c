"""Large partitions: the suite sees a repeatable sample, the key is still checked over every row."""

from __future__ import annotations

from datetime import date

import duckdb

from pipelines.assets.checks import partition_frame, with_full_key_check
from pipelines.ingest.load import ensure_schema
from pipelines.quality import validate
from pipelines.sources import SOURCES

PLEDGE = SOURCES["pledge_loans"]


def _warehouse(tmp_path, n_units: int, duplicate: bool) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_schema(con)
    con.execute("INSERT INTO raw.cities (province_code, city_code, level) VALUES ('440000', '440300', 'prefecture')")
    con.execute(f"""
        INSERT INTO raw.pledge_loans (city_code, month, registrations, amount_10k_yuan, patents_pledged,
            trademarks_pledged, enterprises_served, first_time_borrowers, year, _source_file, _row_number)
        SELECT '4403' || lpad(CAST(u AS VARCHAR), 2, '0'), make_date(2024, m, 1), 3, 100.0, 2, 1, 2, 1, 2024, 'f.csv', u * 12 + m
        FROM range(1, {n_units + 1}) t(u), range(1, 13) s(m)
    """)
    if duplicate:
        con.execute(
            "INSERT INTO raw.pledge_loans SELECT * FROM raw.pledge_loans WHERE city_code = '440301' AND month = DATE '2024-03-01'"
        )
    return con


def test_sample_is_repeatable_and_bounded(tmp_path):
    con = _warehouse(tmp_path, n_units=50, duplicate=False)  # 600 rows
    a, n = partition_frame(con, PLEDGE, 2024, limit=100, seed=7)
    b, _ = partition_frame(con, PLEDGE, 2024, limit=100, seed=7)
    assert n == 600 and a.height == 100
    assert a.sort("_row_number").equals(b.sort("_row_number"))
    full, n_full = partition_frame(con, PLEDGE, 2024, limit=1000)
    assert full.height == n_full == 600


def test_duplicate_outside_the_sample_still_fails_the_blocking_check(tmp_path):
    con = _warehouse(tmp_path, n_units=50, duplicate=True)
    frame, n = partition_frame(con, PLEDGE, 2024, limit=50, seed=1)
    codes = frozenset(["440300", "440000"])
    r = validate(
        "raw.pledge_loans", frame, partition=2024, context={"valid_region_codes": codes, "today": date(2026, 1, 1)}
    )
    r = with_full_key_check(con, PLEDGE, 2024, r, n)
    key = [x for x in r.results if x.check_name == "key__unique_full_partition"][0]
    assert not key.passed and key.severity == "error" and not r.passed_blocking
    assert key.failing_sample == [{"city_code": "440301", "month": date(2024, 3, 1), "n": 2}]

    clean = (
        _warehouse(tmp_path / "clean", n_units=50, duplicate=False) if (tmp_path / "clean").mkdir() is None else None
    )
    frame, n = partition_frame(clean, PLEDGE, 2024, limit=50, seed=1)
    r = with_full_key_check(
        clean,
        PLEDGE,
        2024,
        validate(
            "raw.pledge_loans", frame, partition=2024, context={"valid_region_codes": codes, "today": date(2026, 1, 1)}
        ),
        n,
    )
    assert r.passed_blocking, [f.check_name for f in r.failures()]
