"""Office files through the real pipeline (issue 12): a small generated sample is run through Dagster, dbt and
DuckDB, then office files land in data/landing/ and the pipeline runs again.

- A district's pledge file in 元 under a 万元 header is quarantined, so its city's composite index does not move.
- A twelve-sheet workbook (one sheet per month, an instruction sheet) loads twelve months, and a corrected file
  re-sent under a new name replaces the rows it corrects: the marts change.
- A file whose year cannot be told and a file that cannot be read fail alone, by name, in the ledger, while
  every other file of the run loads and the marts are rebuilt.
"""

from __future__ import annotations

import io
import os
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest
import xlsxwriter

PLEDGE_ZH = [
    "城市代码",
    "统计月份",
    "质押登记笔数",
    "质押金额(万元)",
    "质押专利数",
    "质押商标数",
    "服务企业数",
    "首贷企业数",
]


@contextmanager
def _pipeline_env(base: Path):
    saved = {k: os.environ.get(k) for k in ("IPCITY_WAREHOUSE", "DAGSTER_HOME", "IPCITY_LANDING")}
    os.environ["IPCITY_WAREHOUSE"] = str(base / "warehouse.duckdb")
    os.environ["DAGSTER_HOME"] = str(base / "dagster_home")
    os.environ.pop("IPCITY_LANDING", None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run(base: Path):
    from pipelines.launcher import run_pipeline

    with _pipeline_env(base):
        summary = run_pipeline()
    assert summary.success, summary.runs
    return summary


def _query(base: Path, sql: str, params: list | None = None):
    with duckdb.connect(str(base / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _twelve_sheet_workbook(code: str, year: int) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    wb.set_properties({"created": datetime(2026, 1, 5)})
    ws = wb.add_worksheet("填报说明")
    ws.write_string(0, 0, "金额单位：万元；每月一张表")
    for m in range(1, 13):
        ws = wb.add_worksheet(f"{m}月")
        ws.write_row(0, 0, PLEDGE_ZH)
        ws.write_row(1, 0, [code, f"{year}-{m:02d}", 10, 12000.0 + m, 20, 5, 9, 4])
    wb.close()
    return buf.getvalue()


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """A small real sample run (2023–2025) in its own warehouse."""
    from pipelines.generate import generate

    base = tmp_path_factory.mktemp("office_pipeline")
    generate(base / "landing", seed=7, scale=0.002, first_year=2023, last_year=2025)
    _run(base)
    return base


def _programme_cities(base: Path, year: int) -> list[str]:
    rows = _query(
        base,
        "SELECT unit_code FROM marts.fct_city_score_year WHERE year = ? AND is_evaluated AND composite_index IS NOT "
        "NULL AND unit_code LIKE '%00' AND unit_code NOT LIKE '%0000' ORDER BY unit_code",
        [year],
    )
    return [r[0] for r in rows]


def _index(base: Path, unit: str, year: int) -> float:
    return _query(
        base, "SELECT composite_index FROM marts.fct_city_score_year WHERE unit_code = ? AND year = ?", [unit, year]
    )[0][0]


def _utl01(base: Path, unit: str, year: int) -> float:
    return _query(
        base,
        "SELECT raw_value FROM marts.fct_city_indicator_year WHERE unit_code = ? AND year = ? AND indicator_code = 'UTL01'",
        [unit, year],
    )[0][0]


def test_sample_loads_without_new_quarantines_of_its_own(sample):
    """The plausibility rules do not refuse the generator's own, plausible data."""
    reasons = _query(sample, "SELECT reason FROM raw.rejected_rows WHERE reason LIKE 'implausible%' LIMIT 5")
    assert reasons == []


def test_pledge_file_in_yuan_under_wan_header_does_not_move_the_composite(sample):
    city = _programme_cities(sample, 2025)[0]
    before = _index(sample, city, 2025)
    utl_before = _utl01(sample, city, 2025)
    district = city[:4] + "05"
    # 元 under a 万元 header: a district's month, about 2,100,000 元 over 3 registrations.
    rows = [PLEDGE_ZH, [district, "2025-06", 3, 2100000, 6, 1, 3, 1], [district, "2025-07", 4, 2650000, 8, 2, 4, 2]]
    path = sample / "landing" / "pledge_loans" / "区县报送_质押融资_2025年6-7月.csv"
    path.write_text("".join(",".join(map(str, r)) + "\n" for r in rows), encoding="utf-8")
    _run(sample)
    reasons = _query(
        sample, "SELECT reason FROM raw.rejected_rows WHERE file_name = ? ORDER BY row_number", [path.name]
    )
    assert len(reasons) == 2 and all("looks like 元, not 万元" in r[0] for r in reasons), reasons
    assert _query(sample, "SELECT count(*) FROM raw.pledge_loans WHERE _source_file = ?", [path.name]) == [(0,)]
    assert _utl01(sample, city, 2025) == pytest.approx(utl_before, rel=1e-12)
    assert _index(sample, city, 2025) == pytest.approx(before, rel=1e-12)


def test_twelve_sheet_workbook_and_corrected_resend_change_the_marts(sample):
    cities = _programme_cities(sample, 2025)
    wb_city, corrected_city = cities[1], cities[2]
    utl_wb, utl_corr = _utl01(sample, wb_city, 2025), _utl01(sample, corrected_city, 2025)

    # A district of one city sends its year as a workbook with a sheet per month.
    district = wb_city[:4] + "06"
    (sample / "landing" / "pledge_loans" / "2026年1月报送_质押融资月报_2025年.xlsx").write_bytes(
        _twelve_sheet_workbook(district, 2025)
    )
    # Another city re-sends March corrected, under a new name: amount doubled.
    original = pl.read_database(
        "SELECT city_code, month, registrations, amount_10k_yuan, patents_pledged, trademarks_pledged, "
        "enterprises_served, first_time_borrowers, _source_file FROM raw.pledge_loans "
        f"WHERE city_code = '{corrected_city}' AND month = DATE '2025-03-01'",
        duckdb.connect(str(sample / "warehouse.duckdb"), read_only=True),
    )
    assert original.height == 1
    row = original.row(0, named=True)
    amount = row["amount_10k_yuan"]
    corrected = [
        corrected_city,
        "2025-03",
        row["registrations"],
        round(amount * 2 + 100, 2),
        row["patents_pledged"],
        row["trademarks_pledged"],
        row["enterprises_served"],
        row["first_time_borrowers"],
    ]
    (sample / "landing" / "pledge_loans" / "质押融资_2025年3月_更正.csv").write_text(
        ",".join(PLEDGE_ZH) + "\n" + ",".join(map(str, corrected)) + "\n", encoding="utf-8"
    )
    # A file with no year anywhere, and a workbook that is not one: both fail alone, by name.
    (sample / "landing" / "pledge_loans" / "无年份.csv").write_text(
        ",".join(PLEDGE_ZH) + "\n" + f"{wb_city},3月,1,100,2,0,1,0\n", encoding="utf-8"
    )
    (sample / "landing" / "pledge_loans" / "损坏的表格.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")

    summary = _run(sample)

    months = _query(
        sample,
        "SELECT count(DISTINCT month) FROM raw.pledge_loans WHERE _source_file = '2026年1月报送_质押融资月报_2025年.xlsx'",
    )
    assert months == [(12,)]
    sheets = _query(
        sample, "SELECT sheets, rows_read, rows_loaded FROM raw.ingested_files WHERE file_name LIKE '2026年1月报送%'"
    )
    assert sheets[0][1:] == (12, 12) and '"填报说明"' in sheets[0][0]
    assert _utl01(sample, wb_city, 2025) > utl_wb

    assert _query(
        sample,
        f"SELECT amount_10k_yuan, _source_file FROM raw.pledge_loans WHERE city_code = '{corrected_city}' "
        "AND month = DATE '2025-03-01'",
    ) == [(corrected[3], "质押融资_2025年3月_更正.csv")]
    assert _query(
        sample, "SELECT old_file, changed_columns FROM raw.corrections WHERE new_file = '质押融资_2025年3月_更正.csv'"
    ) == [(row["_source_file"], "amount_10k_yuan")]
    assert _utl01(sample, corrected_city, 2025) > utl_corr

    failed = dict(_query(sample, "SELECT file_name, message FROM raw.ingested_files WHERE status = 'failed'"))
    assert failed["无年份.csv"].startswith("cannot tell the data year")
    assert failed["损坏的表格.xlsx"].startswith("unreadable Excel file")
    assert summary.ledger is not None and summary.ledger["files_failed"].sum() >= 2
