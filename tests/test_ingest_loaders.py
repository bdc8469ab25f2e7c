"""Each loader path: encodings, formats, the hash ledger, replacement, and the quarantine with accounting."""

from __future__ import annotations

import functools
import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines.ingest import contract_sql, load
from pipelines.ingest.load import ingest_file, partition_of
from pipelines.ingest.readers import IngestError
from pipelines.sources import SOURCES

TODAY = date(2026, 1, 15)
PLEDGE = SOURCES["pledge_loans"]
HEADER_EN = "city_code,month,registrations,amount_10k_yuan,patents_pledged,trademarks_pledged,enterprises_served,first_time_borrowers"
HEADER_ZH = "城市代码,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"
GOOD_ROWS = ["440300,2025-01,12,3500.5,30,4,10,3", "440100,2025-02,8,1200,11,2,7,2"]


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def scan_filler(big: bool) -> list[str]:
    """Valid pledge rows (repeated keys among themselves) that take a file past contract_sql.SCAN_MIN_BYTES when
    ``big``, so the same case runs through the DuckDB scan as well as the Polars reader; none otherwise."""
    return [f"{c},2025-{m:02d},5,500,5,1,4,2" for c in ("110100", "120100") for m in range(1, 13)] * (
        1700 if big else 0
    )


def _accounting(con, file_name: str) -> tuple[int, int, int]:
    read, loaded, rejected = con.execute(
        "SELECT rows_read, rows_loaded, rows_rejected FROM raw.ingested_files WHERE file_name = ? AND status = 'loaded'",
        [file_name],
    ).fetchall()[0]
    assert read == loaded + rejected
    in_table = con.execute("SELECT count(*) FROM raw.pledge_loans WHERE _source_file = ?", [file_name]).fetchall()[0][0]
    quarantined = con.execute("SELECT count(*) FROM raw.rejected_rows WHERE file_name = ?", [file_name]).fetchall()[0][
        0
    ]
    assert (in_table, quarantined) == (loaded, rejected)
    return read, loaded, rejected


@pytest.mark.parametrize(
    "encoding,header,prefix,recorded",
    [
        ("utf-8", HEADER_EN, "", "utf-8"),
        ("utf-8", HEADER_ZH, "\ufeff", "utf-8-sig"),
        ("gbk", HEADER_ZH, "", "gbk"),
        ("utf-8", HEADER_ZH, "", "utf-8"),
    ],
    ids=["utf8", "utf8-bom-chinese", "gbk-chinese", "utf8-chinese"],
)
def test_csv_encodings_and_chinese_headers_load_the_same_values(
    warehouse, tmp_path, encoding, header, prefix, recorded
):
    path = _write(tmp_path / "pledge_2025.csv", prefix + "\n".join([header, *GOOD_ROWS]) + "\n", encoding)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 2, 0)
    got = warehouse.execute("SELECT city_code, month, amount_10k_yuan FROM raw.pledge_loans ORDER BY month").fetchall()
    assert got == [("440300", date(2025, 1, 1), 3500.5), ("440100", date(2025, 2, 1), 1200.0)]
    # Stored text is UTF-8 whatever the file's encoding was; the ledger records the encoding the file had.
    assert warehouse.execute(
        "SELECT encoding FROM raw.ingested_files WHERE file_name = 'pledge_2025.csv'"
    ).fetchall() == [(recorded,)]


def test_parquet_and_xlsx_with_title_rows(warehouse, tmp_path):
    frame = pl.DataFrame(
        {
            "城市代码": ["440300", "440100"],
            "月份": ["2024-03", "2024-04"],
            "登记笔数": [5, 6],
            "质押金额(亿元)": [1.25, 0.5],
            "质押专利数": [9, 3],
            "质押商标数": [1, 0],
            "服务企业数": [4, 2],
            "首贷企业数": [1, 1],
        }
    )
    xlsx = tmp_path / "质押融资_2024.xlsx"
    import xlsxwriter

    wb = xlsxwriter.Workbook(xlsx)
    ws = wb.add_worksheet()
    ws.write(0, 0, "2024年知识产权质押融资统计表")
    ws.write(1, 0, "填报单位：某省知识产权局")
    for j, col in enumerate(frame.columns):
        ws.write(3, j, col)
        for i, v in enumerate(frame[col].to_list()):
            ws.write(4 + i, j, v)
    wb.close()
    r = ingest_file(warehouse, PLEDGE, xlsx, partition=2024, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 2, 0)
    assert any("title row" in n for n in r.notes)
    # 亿元 header: converted to 万元 on the way in.
    assert warehouse.execute("SELECT amount_10k_yuan FROM raw.pledge_loans ORDER BY month").fetchall() == [
        (12500.0,),
        (5000.0,),
    ]

    pq = tmp_path / "grants_2023.parquet"
    grants = pl.DataFrame(
        {
            "publication_number": ["CN112345678B"],
            "application_number": ["CN202010123456.7"],
            "patent_type": ["invention"],
            "kind_code": ["B"],
            "application_date": [date(2020, 3, 1)],
            "grant_date": [date(2023, 5, 9)],
            "applicant_name": ["深圳某某科技有限公司"],
            "applicant_type": ["enterprise"],
            "region_code": ["440305"],
            "ipc_main": ["H04L 9/40"],
            "lapse_date": [None],
            "hv_strategic_industry": [True],
            "hv_overseas_family": [False],
            "hv_maintained_10y": [False],
            "hv_pledged": [False],
            "hv_award": [False],
            "is_high_value": [True],
        }
    )
    grants.write_parquet(pq)
    r = ingest_file(warehouse, SOURCES["patent_grants"], pq, partition=2023, today=TODAY)
    assert (r.rows_loaded, r.rows_rejected) == (1, 0)
    assert warehouse.execute("SELECT region_code, year, is_high_value FROM raw.patent_grants").fetchall() == [
        ("440305", 2023, True)
    ]


def test_same_file_again_changes_nothing_and_a_new_version_replaces_the_old(warehouse, tmp_path):
    path = _write(tmp_path / "pledge_2025.csv", "\n".join([HEADER_EN, *GOOD_ROWS]) + "\n")
    first = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    again = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert first.status == "loaded" and again.status == "skipped"
    assert warehouse.execute("SELECT count(*) FROM raw.pledge_loans").fetchall()[0][0] == 2
    # Same name, corrected content: delete-then-insert of that file's rows.
    _write(path, "\n".join([HEADER_EN, GOOD_ROWS[0].replace("3500.5", "3600")]) + "\n")
    third = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert third.status == "loaded"
    assert warehouse.execute("SELECT city_code, amount_10k_yuan FROM raw.pledge_loans").fetchall() == [
        ("440300", 3600.0)
    ]
    statuses = sorted(
        r[0]
        for r in warehouse.execute("SELECT status FROM raw.ingested_files WHERE source = 'pledge_loans'").fetchall()
    )
    assert statuses == ["loaded", "replaced"]


BAD_ROWS = [
    "440300,2025-01,12,3500.5,30,4,10,3",  # row 2: good
    "440300,2025-01,12,3500.5,30,4,10,3",  # row 3: duplicate of row 2
    "999999,2025-02,1,10,1,0,1,0",  # row 4: unknown region code
    "440100,2025-03,-5,10,1,0,1,0",  # row 5: negative value
    "440100,2030-03,5,10,1,0,1,0",  # row 6: future date
    "440100,2025-04,5,1e12,1,0,1,0",  # row 7: absurd amount
    "440100,2025-05,5,abc,1,0,1,0",  # row 8: not a number
    "440100,2025-06,5,10,1,0,1,0",  # row 9: good
    "440100,2025-07,5",  # row 10: truncated last row
]


def test_bad_rows_are_quarantined_with_reasons_and_the_rest_loads(warehouse, tmp_path):
    path = _write(tmp_path / "pledge_2025.csv", "\n".join([HEADER_ZH, *BAD_ROWS]), "gbk")  # no final newline: cut off
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (9, 2, 7)
    assert _accounting(warehouse, "pledge_2025.csv") == (9, 2, 7)
    reasons = dict(warehouse.execute("SELECT row_number, reason FROM raw.rejected_rows ORDER BY row_number").fetchall())
    assert reasons[3].startswith("duplicate record: 440300/2025-01-01 same as row 2")
    assert reasons[4] == "unknown region code in city_code: '999999'"
    assert reasons[5] == "negative value in registrations: -5 (min 0)"
    assert reasons[6].startswith("future date in month: 2030-03-01")
    assert reasons[7].startswith("absurd value in amount_10k_yuan")
    assert reasons[8] == "not a number in amount_10k_yuan: 'abc'"
    assert "truncated row" in reasons[10]
    raw_values = json.loads(
        warehouse.execute("SELECT raw_values FROM raw.rejected_rows WHERE row_number = 5").fetchall()[0][0]
    )
    assert raw_values["registrations"] == "-5" and raw_values["city_code"] == "440100"


def test_duplicate_against_a_file_loaded_before(warehouse, tmp_path):
    ingest_file(
        warehouse,
        PLEDGE,
        _write(tmp_path / "a_2025.csv", "\n".join([HEADER_EN, GOOD_ROWS[0]]) + "\n"),
        partition=2025,
        today=TODAY,
    )
    r = ingest_file(
        warehouse,
        PLEDGE,
        _write(tmp_path / "b_2025.csv", "\n".join([HEADER_EN, *GOOD_ROWS]) + "\n"),
        partition=2025,
        today=TODAY,
    )
    assert (r.rows_loaded, r.rows_rejected) == (1, 1)
    assert (
        warehouse.execute("SELECT reason FROM raw.rejected_rows").fetchall()[0][0]
        == "duplicate record: key already loaded from file a_2025.csv"
    )


# The three ways a file's repeated keys are judged: the SQL rules over a frame the Polars reader read (a small
# file), DuckDB's scan of the file (a file past SCAN_MIN_BYTES: scan_filler), and the Polars rules alone
# (IPCITY_INGEST_SCAN=polars: validate._duplicates).
INGEST_PATHS = ["reader", "scan", "polars"]


def _ingest_path(monkeypatch, how: str) -> list[str]:
    """Set up ``how`` (one of INGEST_PATHS); returns the filler rows its file needs."""
    if how == "polars":
        monkeypatch.setattr(load, "SQL_SCAN", False)
    return scan_filler(how == "scan")


CONFLICTING = [
    "440300,2025-03,12,300,10,2,8,3",  # row 2
    "440100,2025-03,8,200,5,1,6,2",  # row 3
    "440300,2025-03,12,900,10,2,8,3",  # row 4: 440300/2025-03 again, another amount (a cumulative figure)
    "440100,2025-03,8,200,5,1,6,2",  # row 5: 440100/2025-03 again, the same values
    "440300,2025-03,13,300,10,2,8,3",  # row 6: 440300/2025-03 a third time, other registrations
    "320500,2025-03,5,100.0,5,1,4,2",  # row 7
    "320500,2025-03,5,100,5,1,4,2",  # row 8: the same amount written otherwise
]


@pytest.mark.parametrize("how", INGEST_PATHS)
def test_rows_repeating_a_key_with_other_values_are_all_quarantined(warehouse, tmp_path, monkeypatch, how):
    # The first of them loaded and the others were refused as duplicates of it: whichever figure came first was
    # loaded silently (a 汇总 row before the month's own). Which one is right cannot be told: none loads, each
    # names the others and the columns that differ. Rows repeating a key with the same values stay duplicates.
    filler = _ingest_path(monkeypatch, how)
    path = _write(tmp_path / "pledge_2025.csv", "\n".join([HEADER_ZH, *CONFLICTING, *filler]) + "\n")
    assert (path.stat().st_size >= contract_sql.SCAN_MIN_BYTES) == (how == "scan")
    logged = len(contract_sql.READ_LOG)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    how_read = [h for name, h in contract_sql.READ_LOG[logged:] if name == path.name]
    assert how_read == {"reader": ["frame"], "scan": ["scan"], "polars": []}[how]
    assert _accounting(warehouse, path.name) == (r.rows_read, r.rows_loaded, r.rows_rejected)
    keys_in_filler = len(set(filler))
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (
        7 + len(filler),
        2 + keys_in_filler,
        5 + len(filler) - keys_in_filler,
    )
    reasons = dict(
        warehouse.execute("SELECT row_number, reason FROM raw.rejected_rows WHERE row_number < 9 ORDER BY 1").fetchall()
    )
    conflict = (
        "conflicting records: 440300/2025-03-01 differs from {} in registrations, amount_10k_yuan "
        "(no row of this key is loaded)"
    )
    assert reasons == {
        2: conflict.format("row 4, row 6"),
        4: conflict.format("row 2, row 6"),
        5: "duplicate record: 440100/2025-03-01 same as row 3",
        6: conflict.format("row 2, row 4"),
        8: "duplicate record: 320500/2025-03-01 same as row 7",
    }
    loaded = warehouse.execute(
        "SELECT _row_number, city_code, amount_10k_yuan FROM raw.pledge_loans WHERE _row_number < 9 ORDER BY 1"
    ).fetchall()
    assert loaded == [(3, "440100", 200.0), (7, "320500", 100.0)]


@pytest.mark.parametrize("how", INGEST_PATHS)
def test_a_key_repeated_many_times_names_its_first_rows_and_counts_the_rest(warehouse, tmp_path, monkeypatch, how):
    # Naming every other row would make each row's reason as long as the file.
    filler = _ingest_path(monkeypatch, how)
    rows = [f"440300,2025-03,{n},300,10,2,8,3" for n in range(1, 10)]  # rows 2-10: one key, nine figures
    path = _write(tmp_path / "pledge_2025.csv", "\n".join([HEADER_ZH, *rows, *filler]) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert _accounting(warehouse, path.name) == (r.rows_read, r.rows_loaded, r.rows_rejected)
    reasons = dict(
        warehouse.execute("SELECT row_number, reason FROM raw.rejected_rows WHERE row_number < 11").fetchall()
    )
    assert sorted(reasons) == list(range(2, 11))
    reason = (
        "conflicting records: 440300/2025-03-01 differs from {} and 3 more rows in registrations "
        "(no row of this key is loaded)"
    )
    assert reasons[2] == reason.format("row 3, row 4, row 5, row 6, row 7")
    assert reasons[4] == reason.format("row 2, row 3, row 5, row 6, row 7")
    assert reasons[10] == reason.format("row 2, row 3, row 4, row 5, row 6")
    assert warehouse.execute("SELECT count(*) FROM raw.pledge_loans WHERE _row_number < 11").fetchall() == [(0,)]


@pytest.mark.parametrize("scan", [False, True], ids=["reader", "scan"])
def test_a_parquet_file_repeating_a_key_with_other_values_loads_none_of_them(warehouse, tmp_path, monkeypatch, scan):
    monkeypatch.setattr(contract_sql, "SCAN_MIN_BYTES", 0 if scan else 1 << 40)
    columns = HEADER_EN.split(",")
    frame = pl.DataFrame([dict(zip(columns, row.split(","), strict=True)) for row in CONFLICTING])
    path = tmp_path / "pledge_2025.parquet"
    frame.write_parquet(path)
    logged = len(contract_sql.READ_LOG)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert [h for name, h in contract_sql.READ_LOG[logged:] if name == path.name] == ["scan" if scan else "frame"]
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (7, 2, 5)
    assert _accounting(warehouse, path.name) == (7, 2, 5)
    reasons = dict(warehouse.execute("SELECT row_number, reason FROM raw.rejected_rows").fetchall())
    assert reasons[1] == (
        "conflicting records: 440300/2025-03-01 differs from row 3, row 5 in registrations, amount_10k_yuan "
        "(no row of this key is loaded)"
    )
    assert reasons[4] == "duplicate record: 440100/2025-03-01 same as row 2"
    assert sorted(reasons) == [1, 3, 4, 5, 7]


@pytest.mark.parametrize("how", INGEST_PATHS)
def test_a_file_disagreeing_with_itself_corrects_no_earlier_file(warehouse, tmp_path, monkeypatch, how):
    # A later file's other values for a loaded key are a correction (the latest file wins). A file that sends a key
    # twice with different values says nothing about which is right: the loaded row stays, none is corrected.
    filler = _ingest_path(monkeypatch, how)
    first = _write(tmp_path / "a_2025.csv", "\n".join([HEADER_EN, "440300,2025-03,12,500,10,2,8,3"]) + "\n")
    ingest_file(warehouse, PLEDGE, first, partition=2025, today=TODAY)
    path = _write(tmp_path / "b_2025.csv", "\n".join([HEADER_EN, *CONFLICTING, *filler]) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert r.corrections == []
    assert _accounting(warehouse, path.name) == (r.rows_read, r.rows_loaded, r.rows_rejected)
    assert warehouse.execute(
        "SELECT _source_file, amount_10k_yuan FROM raw.pledge_loans WHERE city_code = '440300'"
    ).fetchall() == [("a_2025.csv", 500.0)]
    assert warehouse.execute("SELECT count(*) FROM raw.corrections").fetchall() == [(0,)]
    (reason,) = warehouse.execute("SELECT reason FROM raw.rejected_rows WHERE row_number = 2").fetchall()[0]
    assert reason.startswith("conflicting records: 440300/2025-03-01 differs from row 4, row 6")


def test_missing_column_fails_the_file_by_name_and_loads_nothing(warehouse, tmp_path):
    path = _write(tmp_path / "pledge_2025.csv", "city_code,month,registrations\n440300,2025-01,3\n")
    with pytest.raises(IngestError) as e:
        ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert str(e.value).startswith("pledge_2025.csv: missing required columns: amount_10k_yuan")
    assert warehouse.execute("SELECT count(*) FROM raw.pledge_loans").fetchall()[0][0] == 0
    assert (
        warehouse.execute(
            "SELECT status, message FROM raw.ingested_files WHERE file_name = 'pledge_2025.csv'"
        ).fetchall()[0][0]
        == "failed"
    )


def test_extra_column_is_ignored_and_said(warehouse, tmp_path):
    path = _write(tmp_path / "pledge_2025.csv", "\n".join([HEADER_EN + ",备注", GOOD_ROWS[0] + ",试点"]) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert r.rows_loaded == 1 and "ignored extra column: 备注" in r.message


def test_unreadable_files_fail_with_the_reason(warehouse, tmp_path):
    empty = _write(tmp_path / "empty_2025.csv", "")
    with pytest.raises(IngestError, match="empty_2025.csv: file is empty"):
        ingest_file(warehouse, PLEDGE, empty, partition=2025, today=TODAY)
    broken = tmp_path / "broken_2025.parquet"
    pl.DataFrame({"city_code": ["440300"] * 1000}).write_parquet(broken)
    broken.write_bytes(broken.read_bytes()[:200])
    with pytest.raises(IngestError, match="broken_2025.parquet: unreadable Parquet file"):
        ingest_file(warehouse, PLEDGE, broken, partition=2025, today=TODAY)


def test_partition_year_from_name_or_content(tmp_path):
    named = _write(tmp_path / "pledge_loans" / "质押_2023年.csv", "\n".join([HEADER_EN, *GOOD_ROWS]))
    unnamed = _write(tmp_path / "pledge_loans" / "latest.csv", "\n".join([HEADER_EN, *GOOD_ROWS]))
    # issue 12: the data year comes from the data; a year in the name is the fallback for undated rows
    assert partition_of(named, PLEDGE) == 2025
    assert partition_of(unnamed, PLEDGE) == 2025
    undated = _write(tmp_path / "pledge_loans" / "质押_2023年_无日期.csv", HEADER_EN + "\n440300,,1,1,1,0,1,0\n")
    assert partition_of(undated, PLEDGE) == 2023


def test_rows_outside_the_partition_year_are_quarantined(warehouse, tmp_path):
    path = _write(
        tmp_path / "pledge_2025.csv", "\n".join([HEADER_EN, GOOD_ROWS[0], "440100,2024-12,5,10,1,0,1,0"]) + "\n"
    )
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_loaded, r.rows_rejected) == (1, 1)
    assert (
        warehouse.execute("SELECT reason FROM raw.rejected_rows").fetchall()[0][0]
        == "month 2024-12-01 outside partition year 2025"
    )


def test_sample_resubmission_file_quarantines_its_five_mistakes(warehouse, tmp_path):
    from pipelines.generate.resubmission import write_resubmission

    monthly = _write(
        tmp_path / "pledge_loans" / "pledge_loans_2025.csv",
        "\n".join([HEADER_EN, "440300,2025-06,9,2100,12,2,8,3"]) + "\n",
    )
    ingest_file(warehouse, PLEDGE, monthly, partition=2025, today=TODAY)
    path, n = write_resubmission(tmp_path, 2025)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (n, 2, 5) == (7, 2, 5)
    reasons = [
        x[0]
        for x in warehouse.execute(
            "SELECT reason FROM raw.rejected_rows WHERE file_name = ? ORDER BY row_number", [path.name]
        ).fetchall()
    ]
    assert reasons == [
        "duplicate record: key already loaded from file pledge_loans_2025.csv",
        "unknown region code in city_code: '999999'",
        "negative value in registrations: -2 (min 0)",
        "not a number in amount_10k_yuan: '12,5O0'",
        "not a date in month: '2025-13' (no such month: months run from 1 to 12)",
    ]


def test_target_year_equal_to_baseline_year_is_quarantined(warehouse, tmp_path):
    """A plan needs at least one year between baseline and target: equal years are quarantined (boundary of
    'target_year not after baseline_year'), one year later loads."""
    path = _write(
        tmp_path / "targets.csv",
        "city_code,plan_id,indicator_code,baseline_year,baseline_value,target_year,target_value\n"
        "440300,plan_2021_2025,QLT01,2020,10,2020,12\n"
        "440300,plan_2021_2025,QLT02,2020,10,2021,12\n",
    )
    r = ingest_file(warehouse, SOURCES["targets"], path, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 1, 1)
    assert warehouse.execute("SELECT reason FROM raw.rejected_rows WHERE file_name = 'targets.csv'").fetchall() == [
        ("target_year not after baseline_year",)
    ]
    assert warehouse.execute("SELECT indicator_code FROM raw.targets").fetchall() == [("QLT02",)]


def test_partition_year_is_remembered_only_while_the_file_is_unchanged(tmp_path):
    """partition_of is memoised by (path, size, mtime): asking twice gives the same year without a new read,
    and a file rewritten with another year's data is read again."""
    import os

    path = _write(tmp_path / "pledge_loans" / "latest.csv", "\n".join([HEADER_EN, *GOOD_ROWS]))
    assert partition_of(path, PLEDGE) == 2025
    assert partition_of(path, PLEDGE) == 2025
    moved = [r.replace("2025-", "2022-") for r in GOOD_ROWS]
    _write(path, "\n".join([HEADER_EN, *moved, GOOD_ROWS[0].replace("2025-", "2022-")]))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert partition_of(path, PLEDGE) == 2022
    path.unlink()
    assert partition_of(path, PLEDGE) is None  # gone: no year, and no stale answer


def test_a_workbook_read_to_plan_is_not_read_again_to_load(tmp_path, monkeypatch):
    """`ipcity run` reads each pending workbook for its data year, then the raw asset reads it to load it: the
    second read comes from memory, as a copy (a caller's notes never reach the next), and a rewritten file
    is read again."""
    import os
    import shutil

    from pipelines.ingest import readers

    office = Path(__file__).resolve().parent / "fixtures" / "office" / "pledge_loans" / "twelve_month_sheets.xlsx"
    path = tmp_path / office.name
    shutil.copyfile(office, path)
    source = SOURCES["pledge_loans"]
    reads = []
    real = readers._read_xlsx
    monkeypatch.setattr(readers, "_read_xlsx", lambda p, s: reads.append(p) or real(p, s))
    first = readers.read_file(path, source)
    first.notes.append("a note of the first caller")
    second = readers.read_file(path, source)
    assert len(reads) == 1
    assert second.df.equals(first.df) and "a note of the first caller" not in second.notes
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))  # rewritten
    readers.read_file(path, source)
    assert len(reads) == 2


def _years_parsing_every_row(raw, source, file_name):
    """The data years as planning found them before distinct texts were parsed once: every row parsed."""
    from pipelines.ingest.load import PLAUSIBLE_YEARS
    from pipelines.ingest.validate import _parse, map_columns

    mapped = map_columns(raw, source, file_name)
    c = source.column(source.partition_date)
    txt = pl.col(c.name).cast(pl.Utf8).str.strip_chars().str.normalize("NFKC")
    if raw.context_year and c.name == "month":
        bare = txt.str.contains(r"^\d{1,2}\s*月(?:份)?$")
        txt = pl.when(bare).then(pl.lit(f"{raw.context_year}年") + txt).otherwise(txt)
    years = (
        mapped.df.select(_parse(c, None, txt).dt.year().alias("y"))
        .drop_nulls()
        .filter(pl.col("y").is_between(*PLAUSIBLE_YEARS))
        .group_by("y")
        .len()
        .sort(["len", "y"], descending=[True, True])
    )
    return years["y"].to_list()


@pytest.mark.parametrize("seed", range(12))
def test_data_years_from_distinct_texts_are_those_of_every_row(seed):
    """Planning parses each distinct date text once and counts its rows; the years and their order (most
    rows first, ties to the later year) must be those of parsing every row, whatever the spellings."""
    import random

    from pipelines.ingest.load import data_years
    from pipelines.ingest.readers import ROW_NUMBER, RawFrame

    rng = random.Random(seed)
    spellings = [
        "2024-03", "2024年3月", " 2024/03 ", "202403", "2025-01", "2025年12月", "12月", "3月份", "2023-11-30",
        "45292", "2024.5", "全年合计", "", None, "２０２４－０７", "1899-01", "2999-01", "2025-02",
    ]  # fmt: skip
    n = rng.randint(1, 400)
    months = [rng.choice(spellings) for _ in range(n)]
    df = pl.DataFrame(
        {
            "city_code": ["440300"] * n,
            "month": months,
            "registrations": ["1"] * n,
            "amount_10k_yuan": ["1"] * n,
            "patents_pledged": ["1"] * n,
            "trademarks_pledged": ["0"] * n,
            "enterprises_served": ["1"] * n,
            "first_time_borrowers": ["0"] * n,
        },
        schema_overrides={"month": pl.Utf8},
    ).with_row_index(ROW_NUMBER, offset=2)
    for context_year in (None, 2025):
        raw = RawFrame(df, "utf-8", context_year=context_year)
        assert data_years(raw, PLEDGE, "f.csv") == _years_parsing_every_row(raw, PLEDGE, "f.csv"), months


TARGETS_HEADER = "city_code,plan_id,indicator_code,baseline_year,baseline_value,target_year,target_value"


def test_number_spellings_that_are_no_number_are_refused_not_loaded(warehouse, tmp_path):
    # Polars' cast reads NaN / inf / 1e400, and dropping every comma read 12,34 (a decimal comma, or a mistyped
    # grouping) as 1234: each loaded a wrong value silently. Only digits grouped in threes are thousands.
    rows = [
        "370200,p,X01,2020,nan,2025,20",
        "370200,p,X02,2020,10,2025,inf",
        "370200,p,X03,2020,10,2025,1e400",
        '370200,p,X04,2020,"12,34",2025,20',
        '370200,p,X05,2020,"1,2345",2025,20',
        '370200,p,X06,2020,"1,234.5",2025,"１２，３４５"',
        "370200,p,X07,2020,1.5e2,2025,+20",
    ]
    path = _write(tmp_path / "targets.csv", "\n".join([TARGETS_HEADER, *rows]) + "\n")
    r = ingest_file(warehouse, SOURCES["targets"], path, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (7, 2, 5)
    reasons = dict(warehouse.execute("SELECT row_number, reason FROM raw.rejected_rows ORDER BY 1").fetchall())
    assert reasons == {
        2: "not a number in baseline_value: 'nan'",
        3: "not a number in target_value: 'inf'",
        4: "not a number in target_value: '1e400'",
        5: "not a number in baseline_value: '12,34'",
        6: "not a number in baseline_value: '1,2345'",
    }
    loaded = warehouse.execute(
        "SELECT indicator_code, baseline_value, target_value FROM raw.targets ORDER BY 1"
    ).fetchall()
    assert loaded == [("X06", 1234.5, 12345.0), ("X07", 150.0, 20.0)]


def test_parquet_nan_and_infinity_are_refused_not_loaded(warehouse, tmp_path):
    # A Parquet DOUBLE column is used as it is by the scan: NaN and infinity must not pass as numbers.
    path = tmp_path / "targets.parquet"
    pl.DataFrame(
        {
            "city_code": ["370200"] * 3,
            "plan_id": ["p"] * 3,
            "indicator_code": ["X01", "X02", "X03"],
            "baseline_year": [2020] * 3,
            "baseline_value": [float("nan"), 10.0, 10.0],
            "target_year": [2025] * 3,
            "target_value": [20.0, float("inf"), 30.0],
        }
    ).write_parquet(path)
    r = ingest_file(warehouse, SOURCES["targets"], path, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 1, 2)
    reasons = dict(warehouse.execute("SELECT row_number, reason FROM raw.rejected_rows ORDER BY 1").fetchall())
    assert reasons == {1: "not a number in baseline_value: 'NaN'", 2: "not a number in target_value: 'inf'"}
    assert warehouse.execute("SELECT indicator_code, target_value FROM raw.targets").fetchall() == [("X03", 30.0)]


def test_identifier_excel_wrote_in_scientific_notation_is_refused(warehouse, tmp_path):
    # Excel saves a long number in a General column as 2.02211E+11: its last digits are gone, so the text is not
    # the case / publication number any more; loaded, it would be a wrong key that never matches its record.
    header = "case_id,city_code,case_type,filed_date,closed_date,resolution"
    rows = [
        "2.02511E+11,440300,trademark,2025-03-01,,",
        "1.5e3,440300,trademark,2025-03-02,,",
        "粤知执〔2025〕1号,440300,trademark,2025-03-03,,",
        "E2025001,440300,trademark,2025-03-04,,",
    ]
    path = _write(tmp_path / "cases_2025.csv", "\n".join([header, *rows]) + "\n")
    r = ingest_file(warehouse, SOURCES["enforcement_cases"], path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (4, 2, 2)
    reasons = dict(warehouse.execute("SELECT row_number, reason FROM raw.rejected_rows ORDER BY 1").fetchall())
    assert reasons == {
        2: "number in scientific notation in case_id: '2.02511E+11' (Excel dropped its digits: "
        "format the column as text and send the file again)",
        3: "number in scientific notation in case_id: '1.5e3' (Excel dropped its digits: "
        "format the column as text and send the file again)",
    }
    assert warehouse.execute("SELECT case_id FROM raw.enforcement_cases ORDER BY 1").fetchall() == [
        ("E2025001",),
        ("粤知执〔2025〕1号",),
    ]


def test_workbook_formulas_without_a_saved_value_are_refused_not_nulled(warehouse, tmp_path):
    # A workbook written by a program (openpyxl, some report exports) keeps formulas without their results: the
    # cell reads as empty. An optional column would load NULL silently and a required one be refused as
    # "missing"; the formula is what the file holds, so it is shown and the row refused.
    import openpyxl

    path = tmp_path / "人口_2025.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["地区代码", "年份", "年末常住人口(万人)", "地区生产总值(亿元)", "来源"])
    ws.append(["440300", 2024, 1779.01, "=C2*2", "统计公报"])
    ws.append(["440100", 2024, "=1800+82.7", 30355.73, "统计公报"])
    ws.append(["320500", 2024, 1295.8, 26727.0, '=HYPERLINK("http://example.com")'])
    ws.append(["330100", 2024, 1262.4, 21860.0, "统计公报"])
    wb.save(path)
    r = ingest_file(warehouse, SOURCES["population"], path, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (4, 1, 3)
    reasons = dict(warehouse.execute("SELECT row_number, reason FROM raw.rejected_rows ORDER BY 1").fetchall())
    assert reasons == {
        # a formula never calculated, named as one (round 13; it was "not a number")
        2: "a formula never calculated in gdp_100m_yuan: '=C2*2' has no saved result (open and save the file in "
        "Excel or WPS so the result is stored, or paste values)",
        3: "a formula never calculated in population_10k: '=1800+82.7' has no saved result (open and save the file "
        "in Excel or WPS so the result is stored, or paste values)",
        4: "formula-like text in source (possible spreadsheet injection): '=HYPERLINK(\"http://example.com\")'",
    }
    assert "formula cells without a saved value: D2, C3, E4" in r.message
    assert warehouse.execute("SELECT region_code, gdp_100m_yuan FROM raw.population").fetchall() == [
        ("330100", 21860.0)
    ]


def test_workbook_month_typed_as_a_decimal_number_is_read_as_shown_or_refused(warehouse, tmp_path):
    # 2025.10 typed into an Excel cell is the number 2025.1: read as text it was January, silently. A format that
    # shows two decimals (0.00) shows the office's 2025.10; under General 2025.1 may be either month.
    import openpyxl

    path = tmp_path / "质押_2025.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER_ZH.split(","))
    ws.append(["440300", 2025.1, 12, 100, 10, 2, 8, 3])
    ws.append(["440100", 2025.1, 12, 100, 10, 2, 8, 3])
    ws["B3"].number_format = "0.00"
    ws.append(["320500", 2025.12, 12, 100, 10, 2, 8, 3])
    ws.append(["330100", 2025.3, 12, 100, 10, 2, 8, 3])
    ws.append(["310100", "2025.1", 12, 100, 10, 2, 8, 3])  # text: as typed, January
    wb.save(path)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (5, 4, 1)
    assert warehouse.execute("SELECT row_number, reason FROM raw.rejected_rows").fetchall() == [
        (
            2,
            "ambiguous month in month: the number 2025.1 is 2025.10 (October) or 2025.1 (January) - "
            "write the month as text (2025-10, 2025年10月)",
        )
    ]
    loaded = warehouse.execute("SELECT city_code, month FROM raw.pledge_loans ORDER BY _row_number").fetchall()
    assert loaded == [
        ("440100", date(2025, 10, 1)),
        ("320500", date(2025, 12, 1)),
        ("330100", date(2025, 3, 1)),
        ("310100", date(2025, 1, 1)),
    ]


def test_invisible_characters_pasted_from_the_web_do_not_make_a_new_key(warehouse, tmp_path):
    # Text copied from a web page or a chat carries zero-width spaces, byte-order marks, direction marks: invisible
    # in the office's sheet, yet 深知执罚〔2025〕12号<U+200B> was a second case instead of the correction of the first
    # (counted twice, silently), and 城市代码<U+200B> was no known header.
    header = "案件编号,城市代码,案件类型,立案日期,结案日期,处理结果"
    cases = SOURCES["enforcement_cases"]
    first = _write(tmp_path / "a_2025.csv", header + "\n深知执罚〔2025〕12号,440300,商标,2025-03-01,,\n")
    ingest_file(warehouse, cases, first, partition=2025, today=TODAY)
    resent = _write(
        tmp_path / "b_2025.csv",
        header.replace("城市代码", "城市代码\u200b")
        + "\n深知执罚〔2025〕12号\u200b,440300,商标,2025-03-01,2025-04-01,调解"
        + "\n\u200e深知执罚\ufeff〔2025〕13号,440300\u200b,商标\u2060,2025-03-02,,"
        + "\n深知执罚〔2025〕14号,440300,商标,2025-03-03\u200b,,\n",
    )
    r = ingest_file(warehouse, cases, resent, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 3, 0)
    assert len(r.corrections) == 1
    rows = warehouse.execute(
        "SELECT case_id, city_code, case_type, filed_date, closed_date FROM raw.enforcement_cases ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("深知执罚〔2025〕12号", "440300", "trademark", date(2025, 3, 1), date(2025, 4, 1)),
        ("深知执罚〔2025〕13号", "440300", "trademark", date(2025, 3, 2), None),
        ("深知执罚〔2025〕14号", "440300", "trademark", date(2025, 3, 3), None),
    ]


def test_chinese_enumeration_word_maps_to_the_code_its_column_allows(warehouse, tmp_path):
    # 企业 is "enterprise" among applicant types but "enterprises" among training audiences: one global mapping
    # turned a training file's 企业 into 'enterprise' and refused it as an unknown audience.
    header = "活动编号,城市代码,日期,对象,参训人数,学时,主题"
    rows = ["E1,440300,2025-03-01,企业,50,3,专利导航", "E2,440300,2025-03-02,社会公众,80,2,宣传周"]
    path = _write(tmp_path / "培训_2025.csv", "\n".join([header, *rows]) + "\n")
    r = ingest_file(warehouse, SOURCES["training_events"], path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 2, 0)
    assert warehouse.execute("SELECT event_id, audience FROM raw.training_events ORDER BY 1").fetchall() == [
        ("E1", "enterprises"),
        ("E2", "public"),
    ]


def test_text_starting_with_a_minus_is_refused_unless_it_is_a_number(warehouse, tmp_path):
    # Excel runs "-1 +cmd|' /C calc'!A0" or "- 1+1" as a formula (spaces are allowed in formulas), and
    # "-1e3+A1": only a minus followed by operators was refused. A minus starts a formula unless the cell is a
    # plain (negative) number or a dash standing for "none".
    header = "活动编号,城市代码,日期,对象,参训人数,学时,主题"
    titles = ["-1 +cmd|' /C calc'!A0", "- 1+1", "-1e3+A1", "-A1", "-", "-12.5%", "-1,200", "知识产权-专利导航"]
    rows = [f'E{i},440300,2025-03-0{i + 1},企业,50,3,"{t}"' for i, t in enumerate(titles)]
    path = _write(tmp_path / "培训_2025.csv", "\n".join([header, *rows]) + "\n")
    r = ingest_file(warehouse, SOURCES["training_events"], path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (8, 4, 4)
    reasons = dict(warehouse.execute("SELECT row_number, reason FROM raw.rejected_rows ORDER BY 1").fetchall())
    assert reasons == {
        n: f"formula-like text in title (possible spreadsheet injection): '{titles[n - 2]}'" for n in (2, 3, 4, 5)
    }
    assert [t for (t,) in warehouse.execute("SELECT title FROM raw.training_events ORDER BY event_id").fetchall()] == [
        "-",
        "-12.5%",
        "-1,200",
        "知识产权-专利导航",
    ]


def test_a_file_is_read_by_what_it_holds_not_only_by_its_name(warehouse, tmp_path):
    # Offices rename files: a workbook saved as 质押.csv was refused as "not valid UTF-16 text", an old .xls
    # renamed .csv likewise. A workbook or Parquet file under a text name is read as what it is (and said); an
    # .xls under a text name too (tests/test_xls_workbooks.py), and one that is damaged is refused as unreadable.
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(HEADER_ZH.split(","))
    wb.active.append(["440300", "2025-03", 12, 100, 10, 2, 8, 3])
    workbook = tmp_path / "质押_2025.csv"
    wb.save(workbook)
    r = ingest_file(warehouse, PLEDGE, workbook, partition=partition_of(workbook, PLEDGE), today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (1, 1, 0)
    assert "the file is an Excel workbook (named .csv): read as one" in r.notes
    parquet = tmp_path / "质押_2025-04.txt"
    pl.DataFrame({c: [v] for c, v in zip(HEADER_EN.split(","), GOOD_ROWS[1].split(","), strict=True)}).write_parquet(
        parquet
    )
    r = ingest_file(warehouse, PLEDGE, parquet, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (1, 1, 0)
    old = _write(tmp_path / "old_2025.csv", "")
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(IngestError) as e:
        ingest_file(warehouse, PLEDGE, old, partition=2025, today=TODAY)
    assert e.value.reason.startswith("unreadable Excel file (")


def test_a_known_header_spanning_sub_columns_refuses_the_file(warehouse, tmp_path):
    # Statistical tables put sub-columns under a merged 登记笔数 (专利 / 商标): the first sub-column was read as the
    # month's registrations (a part loaded as the whole, silently) and the sub-header row refused as data. Which
    # sub-column the contract means is not told: the file is refused, naming the header and its sub-columns.
    # (本年累计 / 本月 tells it: the 本月 sub-column is read, tests/test_office_files_round4.py.)
    import openpyxl

    path = tmp_path / "质押_2025年3月.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(
        [
            "城市代码",
            "月份",
            "登记笔数",
            None,
            "质押金额(万元)",
            None,
            "质押专利数",
            "质押商标数",
            "服务企业数",
            "首贷企业数",
        ]
    )
    ws.append([None, None, "专利", "商标", "专利", "商标", None, None, None, None])
    ws.merge_cells("C1:D1")
    ws.merge_cells("E1:F1")
    ws.append(["440300", "2025-03", 30, 12, 300, 100, 10, 2, 8, 3])
    wb.save(path)
    with pytest.raises(IngestError) as e:
        ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert e.value.reason == (
        "header '登记笔数' spans sub-columns '专利', '商标' and header '质押金额(万元)' spans sub-columns "
        "'专利', '商标': which one holds the value is not told (keep one sub-column per header, or send the "
        "sub-column under the header's own name)"
    )
    assert warehouse.execute("SELECT count(*) FROM raw.pledge_loans").fetchall() == [(0,)]
    # the same table as CSV (merged cells are saved as empty ones)
    csv_path = _write(
        tmp_path / "质押_2025年4月.csv",
        "城市代码,月份,登记笔数,,质押金额(万元),,质押专利数,质押商标数,服务企业数,首贷企业数\n"
        ",,专利,商标,专利,商标,,,,\n440300,2025-04,30,12,300,100,10,2,8,3\n",
    )
    with pytest.raises(IngestError, match="header '登记笔数' spans sub-columns '专利', '商标'"):
        ingest_file(warehouse, PLEDGE, csv_path, partition=2025, today=TODAY)


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_header_repeated_inside_the_table_is_refused_and_so_are_rows_it_reorders(warehouse, tmp_path, big):
    # Exports repeat the header at page breaks; a 续表 below a table may order its columns differently. The rows
    # under a reordered header were read in the first header's columns: 质押专利数 and 质押商标数 swapped, silently.
    swapped = HEADER_ZH.replace("质押专利数,质押商标数", "质押商标数,质押专利数")
    filler = scan_filler(big)
    lines = [
        HEADER_ZH,
        "440300,2025-01,12,100,10,2,8,3",  # row 2
        HEADER_ZH,  # row 3: the same header again
        "440100,2025-01,8,200,5,1,6,2",  # row 4
        swapped,  # row 5
        "320500,2025-01,8,200,1,5,6,2",  # row 6: patents 5, trademarks 1 in this order
        HEADER_ZH,  # row 7: back to the file's order
        "330100,2025-01,8,200,5,1,6,2",  # row 8
    ]
    path = _write(tmp_path / "pledge_2025.csv", "\n".join(lines + [r for r in filler]) + "\n")
    if big:
        assert path.stat().st_size >= (1 << 20)
    logged = len(contract_sql.READ_LOG)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    # the scan finds the repeated header among the rows it did not pass and leaves the file to the reader
    how = [how for name, how in contract_sql.READ_LOG[logged:] if name == "pledge_2025.csv"]
    assert how == (["reader: a header repeated inside the table"] if big else []) + ["frame"]
    assert r.rows_read == r.rows_loaded + r.rows_rejected == 7 + len(filler)
    reasons = dict(
        warehouse.execute("SELECT row_number, reason FROM raw.rejected_rows WHERE row_number < 9 ORDER BY 1").fetchall()
    )
    assert reasons[3] == "header row repeated inside the table, not a record"
    assert reasons[5] == (
        "header row repeated inside the table with its columns in another order, not a record "
        "(质押商标数 / 质押专利数 where the file's header has 质押专利数 / 质押商标数)"
    )
    assert reasons[6] == (
        "read under the header repeated at row 5 whose columns are in another order: send one table per file"
    )
    assert reasons[7] == "header row repeated inside the table, not a record"
    assert set(reasons) == {3, 5, 6, 7}
    loaded = warehouse.execute(
        "SELECT city_code, patents_pledged FROM raw.pledge_loans WHERE _row_number < 9 ORDER BY _row_number"
    ).fetchall()
    assert loaded == [("440300", 10), ("440100", 5), ("330100", 5)]


def test_a_hidden_sheet_with_a_table_is_loaded_and_the_ledger_says_it_was_hidden(warehouse, tmp_path):
    # Offices hide finished months. Such a sheet is read like the others (its rows are what the office sent), but
    # whoever opens the workbook does not see them: the ledger's message names the hidden sheet and its rows.
    import openpyxl

    path = tmp_path / "质押融资_2025.xlsx"
    wb = openpyxl.Workbook()
    shown = wb.active
    shown.title = "3月"
    hidden = wb.create_sheet("2月")
    hidden.sheet_state = "hidden"
    for ws, month in ((shown, "2025-03"), (hidden, "2025-02")):
        ws.append(
            ["城市代码", "月份", "登记笔数", "质押金额(万元)", "质押专利数", "质押商标数", "服务企业数", "首贷企业数"]
        )
        ws.append(["440300", month, 12, 15600.5, 20, 3, 10, 4])
    wb.save(path)
    r = ingest_file(warehouse, SOURCES["pledge_loans"], path, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 2, 0)
    assert "sheet '2月' is hidden in the workbook: its 1 row was read as well" in r.message


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_csv_month_written_2025_1_is_refused_unless_the_file_writes_october_as_2025_10(warehouse, tmp_path, big):
    # Excel keeps a month typed 2025.10 in a General cell as the number 2025.1, and "Save as CSV" writes 2025.1:
    # October read as January, silently (the workbook's General number is refused: readers._decimal_month). A
    # file that writes October as 2025.10 shows that its 2025.1 is January.
    filler = scan_filler(big)
    zero_dropped = [f"440300,2025.{m},{m},100,10,2,8,3" for m in (1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 11, 12)]
    path = _write(tmp_path / "pledge_2025.csv", "\n".join([HEADER_ZH, *zero_dropped, *filler]) + "\n")
    if big:
        assert path.stat().st_size >= (1 << 20)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert _accounting(warehouse, "pledge_2025.csv") == (r.rows_read, r.rows_loaded, r.rows_rejected)
    reasons = dict(
        warehouse.execute(
            "SELECT row_number, reason FROM raw.rejected_rows WHERE row_number < 14 ORDER BY 1"
        ).fetchall()
    )
    assert set(reasons) == {2, 11}
    assert all(
        "ambiguous month in month: '2025.1' is 2025.10 (October, its 0 dropped by Excel) or 2025.1 (January)"
        in reasons[n]
        for n in (2, 11)
    )
    loaded = warehouse.execute(
        "SELECT month, registrations FROM raw.pledge_loans WHERE city_code = '440300' ORDER BY month"
    ).fetchall()
    assert [(m.month, n) for m, n in loaded] == [(m, m) for m in (2, 3, 4, 5, 6, 7, 8, 9, 11, 12)]

    kept_zero = [f"440100,2025.{m},{m},100,10,2,8,3" for m in (1, 2, 10, 11)]
    path = _write(tmp_path / "pledge_2025_b.csv", "\n".join([HEADER_ZH, *kept_zero, *filler]) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    loaded = warehouse.execute(
        "SELECT month, registrations FROM raw.pledge_loans WHERE city_code = '440100' ORDER BY month"
    ).fetchall()
    assert [(m.month, n) for m, n in loaded] == [(1, 1), (2, 2), (10, 10), (11, 11)]


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_excel_text_formula_cells_are_read_as_the_text_inside(warehouse, tmp_path, big):
    # Exports write ="440300" so that Excel keeps a code's leading zeros; the value is the text inside the quotes
    # (codes, numbers and dates; free text written so is refused by the formula rule, as before).
    filler = scan_filler(big)
    rows = ['"=""440300""",2025-01,12,100,10,2,8,3', '440100,"=""2025-02""",8,"=""200""",5,1,6,2']
    path = _write(tmp_path / "pledge_2025.csv", "\n".join([HEADER_ZH, *rows, *filler]) + "\n")
    if big:
        assert path.stat().st_size >= (1 << 20)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert _accounting(warehouse, "pledge_2025.csv") == (r.rows_read, r.rows_loaded, r.rows_rejected)
    assert warehouse.execute("SELECT count(*) FROM raw.rejected_rows WHERE row_number < 4").fetchall() == [(0,)]
    got = warehouse.execute(
        "SELECT city_code, month, amount_10k_yuan FROM raw.pledge_loans WHERE _row_number < 4 ORDER BY _row_number"
    ).fetchall()
    assert got == [("440300", date(2025, 1, 1), 100.0), ("440100", date(2025, 2, 1), 200.0)]


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_numbers_written_with_a_currency_sign_a_unicode_minus_or_a_year_suffix(warehouse, tmp_path, big):
    # ¥/￥ before an amount, the minus sign U+2212 pasted from Word, 2024年 in a year column: read as the number
    # (a negative count is then refused as negative, not as "not a number").
    filler = scan_filler(big)
    rows = [
        "440300,2025-01,12,¥3500.5,10,2,8,3",
        '440100,2025-02,8,"￥1,200",5,1,6,2',
        "320500,2025-03,\u22125,100,5,1,6,2",
    ]
    path = _write(tmp_path / "pledge_2025.csv", "\n".join([HEADER_ZH, *rows, *filler]) + "\n")
    if big:
        assert path.stat().st_size >= (1 << 20)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert _accounting(warehouse, "pledge_2025.csv") == (r.rows_read, r.rows_loaded, r.rows_rejected)
    got = warehouse.execute(
        "SELECT city_code, amount_10k_yuan FROM raw.pledge_loans WHERE _row_number < 5 ORDER BY _row_number"
    ).fetchall()
    assert got == [("440300", 3500.5), ("440100", 1200.0)]
    (reason,) = warehouse.execute("SELECT reason FROM raw.rejected_rows WHERE row_number = 4").fetchall()[0]
    assert reason.startswith("negative value in registrations") and "not a number" not in reason

    path = _write(
        tmp_path / "人口_2024.csv",
        "地区代码,年份,年末常住人口(万人),地区生产总值(亿元)\n440300,2024年,1779.01,36801.87\n440100,2024,1882.7,30355.73\n",
    )
    r = ingest_file(warehouse, SOURCES["population"], path, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 2, 0)
    assert warehouse.execute("SELECT region_code, year FROM raw.population ORDER BY 1").fetchall() == [
        ("440100", 2024),
        ("440300", 2024),
    ]


def test_each_reason_of_a_row_is_summarised_once_whatever_its_wording(warehouse, tmp_path):
    # The quality summary splits a row's reasons on "; ". A reason whose own text held "; " (the Excel error cell's
    # did) was counted as two reasons, the second "fix it in the workbook)".
    from pipelines.quality import summarise_rejections

    rows = ["440300,2025-01,#N/A,100,10,2,8,3", "440100,2025-02,-3,#DIV/0!,5,1,6,2"]
    path = _write(tmp_path / "pledge_2025.csv", "\n".join([HEADER_ZH, *rows]) + "\n")
    ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    got = {r["reason_code"]: r["rows"] for r in summarise_rejections(warehouse, "run-x").iter_rows(named=True)}
    assert got == {
        "Excel error cell in registrations": 1,
        "Excel error cell in amount_10k_yuan": 1,
        "negative value in registrations": 1,
    }


class _CountingConnection:
    """A DuckDB connection that counts the statements run through it (DuckDB's own object takes no attributes)."""

    def __init__(self, con):
        self.con, self.statements = con, []

    def execute(self, sql, *args):
        self.statements.append(" ".join(sql.split())[:60])
        return self.con.execute(sql, *args)


def test_the_raw_schema_is_made_once_and_a_warehouse_missing_part_of_it_gets_that_part(tmp_path):
    """`ensure_schema` runs ≈ 180 times in a default run (every raw step, file and sighting). A warehouse that has
    the schema pays one catalog query each time, not the 19 DDL statements; one that lacks a table or an added
    ledger column (a warehouse made before the column was added) still gets it, with its rows kept."""
    import duckdb

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load.ensure_schema(con)
    counted = _CountingConnection(con)
    load.ensure_schema(counted)
    assert len(counted.statements) == 1, counted.statements
    con.execute("INSERT INTO raw.rejected_rows (source, file_name, row_number) VALUES ('cities', 'a.csv', 3)")
    con.execute("ALTER TABLE raw.rejected_rows DROP COLUMN sheet")
    con.execute("DROP TABLE raw.file_receipts")
    load.ensure_schema(counted)
    assert len(counted.statements) > 1
    assert con.execute("SELECT row_number, sheet FROM raw.rejected_rows").fetchall() == [(3, None)]
    assert con.execute("SELECT count(*) FROM raw.file_receipts").fetchone() == (0,)
    counted.statements.clear()
    load.ensure_schema(counted)
    assert len(counted.statements) == 1


def test_a_header_text_is_normalised_once_however_often_it_is_compared(monkeypatch, tmp_path):
    """Finding a header row compares every cell of the candidate rows with every alias of every column: a default
    run normalised the same few hundred texts ≈ 88,000 times. Each text is normalised once (same answers, also for
    cells that are not text), and a file read twice does no normalising the second time."""
    import re
    import types

    from pipelines.ingest import readers

    calls = []

    def sub(pattern, repl, text, count=0, flags=0):
        if pattern == readers.UNIT_AFTER_SEPARATOR:  # the unit rule: one per normalised text
            calls.append(text)
        return re.sub(pattern, repl, text, count=count, flags=flags)

    monkeypatch.setattr(readers, "re", types.SimpleNamespace(**{**vars(re), "sub": sub}))
    if hasattr(readers, "_normalised_header"):  # a fresh memo: texts other tests normalised would not be counted
        fresh = functools.lru_cache(maxsize=1 << 14)(readers._normalised_header.__wrapped__)
        monkeypatch.setattr(readers, "_normalised_header", fresh)
    for _ in range(50):
        assert readers.normalise_header(" 质押金额 / 万元* ") == "质押金额(万元)"
        assert readers.normalise_header(2025) == "2025"
        assert readers.normalise_header("ＣＩＴＹ＿ＣＯＤＥ") == "city_code"
    assert len(calls) == 3, calls
    path = _write(tmp_path / "pledge_loans" / "质押_2025.csv", "\n".join([HEADER_ZH, *GOOD_ROWS]) + "\n")
    readers.read_file(path, PLEDGE)
    calls.clear()
    readers.read_file(path, PLEDGE)
    assert calls == []
