"""The evidence of when a report was received (raw.file_receipts, read by marts.fct_reporting_status): the first
sighting of a landing file's bytes, recorded once, on the China Standard Time calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb
import pytest

from pipelines.ingest.load import ingest_file, pending_files, record_sightings
from pipelines.ingest.readers import IngestError
from pipelines.sources import SOURCES

PLEDGE = SOURCES["pledge_loans"]


def _receipts(con) -> dict[str, tuple]:
    rows = con.execute("select file_name, first_seen_utc, first_seen_on, seen_by from raw.file_receipts").fetchall()
    return {r[0]: r[1:] for r in rows}


def test_a_sighting_is_dated_in_china_standard_time_and_never_moves(tmp_path):
    con = duckdb.connect()
    a, b = tmp_path / "a_2023.csv", tmp_path / "b_2023.csv"
    a.write_text("city_code,month\n110100,2023-12\n", encoding="utf-8")
    b.write_text("city_code,month\n120100,2023-12\n", encoding="utf-8")
    # 2024-06-30 23:30 UTC+8 is 15:30 UTC: the grace period's last day; 2024-07-01 00:30 UTC+8 (16:30 UTC) is after it
    assert record_sightings(con, PLEDGE, [a], now=datetime(2024, 6, 30, 15, 30, tzinfo=UTC)) == 1
    assert record_sightings(con, PLEDGE, [a, b], now=datetime(2024, 6, 30, 16, 30, tzinfo=UTC)) == 1
    got = _receipts(con)
    assert got["a_2023.csv"][:2] == (datetime(2024, 6, 30, 15, 30), date(2024, 6, 30))
    assert got["b_2023.csv"][:2] == (datetime(2024, 6, 30, 16, 30), date(2024, 7, 1))
    # seen again later (another run lists the landing folder, a re-load): the first sighting stands
    assert record_sightings(con, PLEDGE, [a, b], now=datetime(2024, 9, 1, tzinfo=UTC)) == 0
    assert _receipts(con) == got


def test_listing_the_landing_folder_and_ingesting_record_the_first_sighting(tmp_path):
    con = duckdb.connect()
    folder = tmp_path / "landing" / PLEDGE.name
    folder.mkdir(parents=True)
    listed = folder / "listed_2023.csv"
    listed.write_text("city_code,month\n110100,2023-12\n", encoding="utf-8")
    assert pending_files(con, tmp_path / "landing", PLEDGE) == [listed]
    assert _receipts(con)["listed_2023.csv"][2] == "landing"
    # a file handed straight to the ingest (not listed first) is recorded before anything can fail: a refused
    # file was still received (here: the administrative divisions are not loaded yet)
    direct = tmp_path / "direct_2023.csv"
    direct.write_text("city_code,month\n120100,2023-12\n", encoding="utf-8")
    with pytest.raises(IngestError):
        ingest_file(con, PLEDGE, direct, partition=2023)
    assert _receipts(con)["direct_2023.csv"][2] == "ingest"
