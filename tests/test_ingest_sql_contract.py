"""The contract compiled to SQL (pipelines/ingest/contract_sql.py) agrees with the Polars rules on every
text and Parquet fixture file: the same rows loaded with the same values, the same rows quarantined with the
same reasons, the same ledger lines. Every such fixture goes through DuckDB's scan here (the size threshold is
set to 0). Real DuckDB, no mocks."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import contract_sql, load
from pipelines.ingest.readers import IngestError
from pipelines.sources import SOURCES
from tests.conftest import write_cities_csv

FIXTURES = Path(__file__).parent / "fixtures"
TODAY = datetime.date(2026, 1, 15)
ORDER = list(SOURCES)  # cities first, then the contract's order


def _fixture_files() -> list[tuple[str, Path]]:
    out = []
    for group in ("bad", "office"):
        for folder in sorted((FIXTURES / group).iterdir()):
            if folder.is_dir() and folder.name in SOURCES:
                # text and Parquet files: the ones DuckDB scans (workbooks take the frame path, which the office-file
                # tests exercise as they stand)
                out += [(folder.name, p) for p in sorted(folder.iterdir()) if p.suffix in contract_sql.SCAN_SUFFIXES]
    return sorted(out, key=lambda sp: (ORDER.index(sp[0]), str(sp[1])))


def _load_all(tmp: Path, monkeypatch, *, sql: bool) -> duckdb.DuckDBPyConnection:
    monkeypatch.setattr(load, "SQL_SCAN", sql)
    monkeypatch.setattr(contract_sql, "SCAN_MIN_BYTES", 0)
    con = duckdb.connect()
    load.ingest_file(con, SOURCES["cities"], write_cities_csv(tmp / "ref" / "cities.csv"), today=TODAY)
    for name, path in _fixture_files():
        source = SOURCES[name]
        copy = tmp / name / path.parent.parent.name / path.name
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, copy)
        try:
            load.ingest_file(con, source, copy, partition=load.partition_of(copy, source), today=TODAY)
        except IngestError:
            pass  # recorded in the ledger, compared below
    return con


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, list]:
    out = {
        "ledger": con.sql(
            "SELECT source, file_name, status, rows_read, rows_loaded, rows_rejected, message, encoding, sheets "
            "FROM raw.ingested_files ORDER BY ALL"
        ).fetchall(),
        # rows refused for repeating a key within the file (duplicates, conflicting records) found by the SQL keep
        # the typed values as raw_values: compared without them
        "rejected": con.sql(
            "SELECT source, file_name, row_number, sheet, reason, "
            "CASE WHEN reason LIKE 'duplicate record:% same as row %' OR reason LIKE 'conflicting records:%' "
            "THEN NULL ELSE raw_values END "
            "FROM raw.rejected_rows ORDER BY ALL"
        ).fetchall(),
    }
    for s in SOURCES.values():
        cols = [c.name for c in s.columns] + (["year"] if s.partitioned else []) + ["_source_file", "_row_number"]
        out[s.name] = con.sql(f"SELECT {', '.join(cols)} FROM {s.table} ORDER BY ALL").fetchall()
    return out


def test_sql_and_polars_rules_agree_on_every_fixture_file(tmp_path, monkeypatch):
    contract_sql.READ_LOG.clear()
    via_sql = _tables(_load_all(tmp_path / "sql", monkeypatch, sql=True))
    how = dict(contract_sql.READ_LOG)
    via_polars = _tables(_load_all(tmp_path / "polars", monkeypatch, sql=False))
    for name in via_polars:
        assert via_sql[name] == via_polars[name], name
    # The SQL really judged the files: the readable CSV/Parquet fixtures were scanned by DuckDB; layouts the
    # scan leaves to the reader (blank lines, cut-off rows) went through the same SQL as frames.
    scanned = [f for f, h in how.items() if h == "scan"]
    assert len(scanned) >= 30, how
    assert "fullwidth_codes_and_numbers.csv" in scanned and "typed_codes_duplicates.parquet" in scanned


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_clean_file_loads_straight_from_the_scan(tmp_path, warehouse, monkeypatch, kind):
    """rows in = rows loaded + rows quarantined; nothing of a clean file reaches the Polars rules."""
    import polars as pl

    monkeypatch.setattr(contract_sql, "SCAN_MIN_BYTES", 0)
    rows = [
        {
            "publication_number": f"CN{100000 + i}B",
            "application_number": f"CN2019{i:06d}.1",
            "patent_type": "invention",
            "kind_code": "B",
            "application_date": "2019-03-01",
            "grant_date": "2021-05-04",
            "applicant_name": "苏州某某科技有限公司",
            "applicant_type": "enterprise",
            "region_code": "320500",
            "ipc_main": "H04L 9/00",
            "lapse_date": None,
            "hv_strategic_industry": "true",
            "hv_overseas_family": "false",
            "hv_maintained_10y": "false",
            "hv_pledged": "0",
            "hv_award": "否",
            "is_high_value": "是",
        }
        for i in range(200)
    ]
    rows[7]["region_code"] = "999999"  # unknown code: quarantined by name
    df = pl.DataFrame(rows)
    path = tmp_path / f"grants_2021.{kind}"
    df.write_csv(path) if kind == "csv" else df.write_parquet(path)
    contract_sql.READ_LOG.clear()
    r = load.ingest_file(warehouse, SOURCES["patent_grants"], path, partition=2021, today=TODAY)
    assert contract_sql.READ_LOG == [(path.name, "scan")]
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (200, 199, 1)
    assert warehouse.execute("SELECT row_number, reason FROM raw.rejected_rows").fetchall() == [
        (9 if kind == "csv" else 8, "unknown region code in region_code: '999999'")
    ]
    got = warehouse.execute(
        "SELECT hv_pledged, hv_award, is_high_value, grant_date, year, _row_number FROM raw.patent_grants "
        "ORDER BY _row_number LIMIT 1"
    ).fetchall()
    assert got == [(False, False, True, datetime.date(2021, 5, 4), 2021, 2 if kind == "csv" else 1)]
