"""Office files as they are really sent (round 2): each case a file an office sent that was loaded wrong silently
or refused for a reason that was not the real one."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import xlsxwriter
from test_ingest_loaders import HEADER_ZH, PLEDGE, TODAY, _write
from test_ingest_loaders import scan_filler as _filler

from pipelines.ingest import contract_sql, load
from pipelines.ingest.load import ingest_file
from pipelines.ingest.readers import IngestError


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_rows_under_a_repeated_header_in_another_unit_are_refused_not_read_in_the_first_unit(warehouse, tmp_path, big):
    # Two provinces' tables pasted one under the other: the second states its amounts in 亿元. Its 10 (亿元) was
    # loaded as 10 万元 (1.25 万元 per registration passes the plausibility rule): 10,000 times too small, silently.
    lines = [
        HEADER_ZH,
        "440300,2025-01,12,100,10,2,8,3",  # row 2
        HEADER_ZH.replace("(万元)", "（亿元）"),  # row 3: the same header, another unit
        "440100,2025-01,8,10,5,1,6,2",  # row 4: 10 亿元
        HEADER_ZH.replace("(万元)", "（万元）"),  # row 5: back to the file's unit (full-width brackets)
        "330100,2025-01,8,200,5,1,6,2",  # row 6
    ]
    filler = _filler(big)
    path = _write(tmp_path / "pledge_2025.csv", "\n".join(lines + filler) + "\n")
    if big:
        assert path.stat().st_size >= (1 << 20)
    logged = len(contract_sql.READ_LOG)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    how = [how for name, how in contract_sql.READ_LOG[logged:] if name == "pledge_2025.csv"]
    assert how == (["reader: a header repeated inside the table"] if big else []) + ["frame"]
    assert r.rows_read == r.rows_loaded + r.rows_rejected == 5 + len(filler)
    reasons = dict(
        warehouse.execute("SELECT row_number, reason FROM raw.rejected_rows WHERE row_number < 7 ORDER BY 1").fetchall()
    )
    assert reasons == {
        3: "header row repeated inside the table with another unit, not a record "
        "(质押金额（亿元） where the file's header has 质押金额(万元))",
        4: "read under the header repeated at row 3 whose unit differs: send one table per file",
        5: "header row repeated inside the table, not a record",
    }
    loaded = warehouse.execute(
        "SELECT city_code, amount_10k_yuan FROM raw.pledge_loans WHERE _row_number < 7 ORDER BY _row_number"
    ).fetchall()
    assert loaded == [("440300", 100.0), ("330100", 200.0)]


# The 汇总 sheet before the 3月 sheet (the workbook test below and its .xls twin in test_xls_workbooks.py):
# 320500's March differs between them, so neither loads; 440300's March repeats the same values, so the second goes.
SUMMARY_SHEET_REFUSALS = [
    (
        "汇总",
        2,
        "conflicting records: 320500/2025-03-01 differs from row 2 of sheet '3月' in amount_10k_yuan "
        "(no row of this key is loaded)",
    ),
    (
        "3月",
        2,
        "conflicting records: 320500/2025-03-01 differs from row 2 of sheet '汇总' in amount_10k_yuan "
        "(no row of this key is loaded)",
    ),
    ("3月", 4, "duplicate record: 440300/2025-03-01 same as row 3 of sheet '汇总'"),
]


def test_stacked_tables_on_one_sheet_in_another_unit_are_refused(warehouse, tmp_path):
    # The same in a workbook: a sheet holding two tables, the lower one in 亿元 (a line above it says so too).
    path = tmp_path / "质押_2025.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("Sheet1")
    header = HEADER_ZH.split(",")
    for j, h in enumerate(header):
        ws.write(0, j, h)
        ws.write(2, j, h.replace("(万元)", "(亿元)"))
    for j, v in enumerate(["440300", "2025-03", 12, 100, 10, 2, 8, 3]):
        ws.write(1, j, v)
    for j, v in enumerate(["440100", "2025-03", 8, 10, 5, 1, 6, 2]):
        ws.write(3, j, v)
    wb.close()
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 1, 2)
    assert warehouse.execute("SELECT city_code, amount_10k_yuan FROM raw.pledge_loans").fetchall() == [
        ("440300", 100.0)
    ]
    (reason,) = warehouse.execute("SELECT reason FROM raw.rejected_rows WHERE row_number = 4").fetchall()[0]
    assert reason == "read under the header repeated at row 3 whose unit differs: send one table per file"


def test_a_repeated_header_naming_the_unit_the_line_above_the_table_gives_is_the_same_unit(warehouse, tmp_path):
    # 单位：亿元 above a bare 质押金额, repeated at a page break as 质押金额(亿元): the same unit, rows load.
    lines = [
        "单位：亿元",
        HEADER_ZH.replace("(万元)", ""),
        "440300,2025-01,12,1.5,10,2,8,3",
        HEADER_ZH.replace("(万元)", "(亿元)"),
        "440100,2025-01,8,2,5,1,6,2",
    ]
    path = _write(tmp_path / "pledge_2025.csv", "\n".join(lines) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 2, 1)
    assert warehouse.execute("SELECT amount_10k_yuan FROM raw.pledge_loans ORDER BY _row_number").fetchall() == [
        (15000.0,),
        (20000.0,),
    ]


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_unit_written_danwei_inside_the_header_brackets_is_read(warehouse, tmp_path, big):
    # 质押金额（单位：亿元） is how many templates write a unit. It was refused with "unit '单位:亿元' cannot be
    # converted … (expected one of 元, 亿元, …)": a reason naming the very unit the header gives.
    filler = [r.replace(",500,", ",0.05,") for r in _filler(big)]
    header = HEADER_ZH.replace("质押金额(万元)", "质押金额（单位：亿元）")
    path = _write(tmp_path / "pledge_2025.csv", "\n".join([header, "440300,2025-01,12,1.5,10,2,8,3", *filler]) + "\n")
    if big:
        assert path.stat().st_size >= (1 << 20)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert r.status == "loaded" and "converted amount_10k_yuan" in r.message
    assert warehouse.execute("SELECT count(*) FROM raw.rejected_rows WHERE row_number < 3").fetchall() == [(0,)]
    assert warehouse.execute("SELECT amount_10k_yuan FROM raw.pledge_loans WHERE _row_number = 2").fetchall() == [
        (15000.0,)
    ]


def _grouped_workbook(path: Path, groups: list[tuple[str, list]]) -> Path:
    """城市代码 and 月份 merged over two header rows; each group title merged over the six value columns."""
    header = HEADER_ZH.split(",")
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet()
    ws.merge_range(0, 0, 1, 0, header[0])
    ws.merge_range(0, 1, 1, 1, header[1])
    for g, (title, values) in enumerate(groups):
        first = 2 + 6 * g
        ws.merge_range(0, first, 0, first + 5, title)
        for j, h in enumerate(header[2:]):
            ws.write(1, first + j, h)
        ws.write(2, 0, "440300")
        ws.write(2, 1, "2025-03")
        for j, v in enumerate(values):
            ws.write(2, first + j, v)
    wb.close()
    return path


def test_values_under_a_year_to_date_group_title_are_refused_not_loaded_as_the_month(warehouse, tmp_path):
    # 本年累计 merged over the value columns: the year's running total to March, loaded as March's own figures
    # (a city's 1-3月 amount counted again in every later month), silently.
    path = _grouped_workbook(tmp_path / "质押_2025.xlsx", [("本年累计", [30, 900, 25, 4, 20, 6])])
    with pytest.raises(IngestError) as e:
        ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert e.value.reason == (
        "headers '登记笔数', '质押金额(万元)', '质押专利数', '质押商标数', '服务企业数', '首贷企业数' under '本年累计': "
        "a year-to-date (cumulative) total, not the month's own figure (send each month's own figures, or put them "
        "beside the total under a group titled 本月)"
    )
    assert warehouse.execute("SELECT count(*) FROM raw.pledge_loans").fetchall() == [(0,)]


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_csv_with_a_cumulative_group_row_above_the_header_is_refused(warehouse, tmp_path, big):
    # The same saved as CSV: the merged 1-3月累计 becomes one cell of the row above the header.
    lines = [",,1-3月累计,,,,,", HEADER_ZH, "440300,2025-03,30,900,25,4,20,6", *_filler(big)]
    path = _write(tmp_path / "pledge_2025.csv", "\n".join(lines) + "\n")
    if big:
        assert path.stat().st_size >= (1 << 20)
    with pytest.raises(IngestError, match="under '1-3月累计': a year-to-date"):
        ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert warehouse.execute("SELECT count(*) FROM raw.pledge_loans").fetchall() == [(0,)]


def test_the_month_block_is_read_and_the_year_to_date_block_beside_it_is_left(warehouse, tmp_path):
    # 本月 | 本年累计 side by side (the usual monthly report): the month's block is the record; the running total
    # beside it is left out and said. (Was refused: "column 'registrations' appears twice".)
    path = _grouped_workbook(
        tmp_path / "质押_2025.xlsx", [("本月", [12, 300, 10, 2, 8, 3]), ("本年累计", [30, 900, 25, 4, 20, 6])]
    )
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.status, r.rows_loaded, r.rows_rejected) == ("loaded", 1, 0)
    assert "本年累计" in r.message
    assert warehouse.execute(
        "SELECT registrations, amount_10k_yuan, first_time_borrowers FROM raw.pledge_loans"
    ).fetchall() == [(12, 300.0, 3)]


def test_a_code_merged_down_over_its_months_in_a_workbook_is_each_row_s_code(warehouse, tmp_path):
    # WPS/Excel tables merge a city's code over the rows of its months. The merged cell shows 440300 beside every
    # month, but only its first row holds the value: the other months were refused as "missing value in
    # city_code", a reason the official could not see in the sheet.
    path = tmp_path / "质押_2025.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet()
    for j, h in enumerate(HEADER_ZH.split(",")):
        ws.write(0, j, h)
    ws.merge_range(1, 0, 3, 0, "440300")
    ws.merge_range(4, 0, 5, 0, "440100")
    for i in range(5):
        ws.write(1 + i, 1, f"2025-0{1 + i % 3}")
        for j, v in enumerate([12, 100 + i, 10, 2, 8, 3]):
            ws.write(1 + i, 2 + j, v)
    ws.merge_range(6, 0, 6, 7, "注：本表由某某填报")  # a note merged across the row stays a note
    wb.close()
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (6, 5, 1)
    assert "merged" in r.message
    got = warehouse.execute(
        "SELECT city_code, month, amount_10k_yuan FROM raw.pledge_loans ORDER BY _row_number"
    ).fetchall()
    assert got == [
        ("440300", date(2025, 1, 1), 100.0),
        ("440300", date(2025, 2, 1), 101.0),
        ("440300", date(2025, 3, 1), 102.0),
        ("440100", date(2025, 1, 1), 103.0),
        ("440100", date(2025, 2, 1), 104.0),
    ]
    (reason,) = warehouse.execute("SELECT reason FROM raw.rejected_rows").fetchall()[0]
    assert reason.startswith("note below the table")


def test_an_amount_merged_over_several_month_rows_refuses_those_rows(warehouse, tmp_path):
    # A quarter's amount merged over its three month rows: the figure belongs to none of the months alone. It was
    # loaded whole as January's amount (and February and March refused as missing); filled down it would be
    # counted three times. Each row of the range is refused, naming the range.
    path = tmp_path / "质押_2025.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet()
    for j, h in enumerate(HEADER_ZH.split(",")):
        ws.write(0, j, h)
    for i in range(4):
        ws.write(1 + i, 0, "440300")
        ws.write(1 + i, 1, f"2025-0{1 + i}")
        for j, v in enumerate([12, 100, 10, 2, 8, 3]):
            if j != 1 or i == 3:
                ws.write(1 + i, 2 + j, v)
    ws.merge_range(1, 3, 3, 3, 900)  # D2:D4, 1-3月 in one cell
    wb.close()
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (4, 1, 3)
    assert warehouse.execute("SELECT month, amount_10k_yuan FROM raw.pledge_loans").fetchall() == [
        (date(2025, 4, 1), 100.0)
    ]
    reasons = warehouse.execute("SELECT DISTINCT reason FROM raw.rejected_rows").fetchall()
    assert reasons == [
        ("value merged over rows 2–4 in amount_10k_yuan: one figure for several records (write each row's own)",)
    ]


@pytest.mark.parametrize("sql", [True, False], ids=["sql-rules", "polars-rules"])
def test_a_key_repeated_on_another_sheet_names_that_sheet(warehouse, tmp_path, monkeypatch, sql):
    # A workbook with a 汇总 sheet before its month sheets: March's rows were refused as "duplicate record: … same
    # as row 2", read on sheet 3月 as its own row 2. The earlier row is on another sheet; the reason says which.
    # Where the 汇总 figure differs from the month's own (320500: 900 there, 300 on 3月) the cumulative one was
    # loaded as March's, silently: now neither loads, each naming the other.
    monkeypatch.setattr(load, "SQL_SCAN", sql)
    path = tmp_path / "质押_2025.xlsx"
    wb = xlsxwriter.Workbook(path)
    for name, amount in (("汇总", 900), ("3月", 300)):
        ws = wb.add_worksheet(name)
        for j, h in enumerate(HEADER_ZH.split(",")):
            ws.write(0, j, h)
        for j, v in enumerate(["320500", "2025-03", 10, amount, 9, 2, 7, 2]):
            ws.write(1, j, v)
        for j, v in enumerate(["440300", "2025-03", 3, 90, 2, 1, 2, 1]):
            ws.write(2 if name == "汇总" else 3, j, v)
        if name == "3月":
            for j, v in enumerate(["440300", "2025-02", 3, 90, 2, 1, 2, 1]):
                ws.write(2, j, v)
    wb.close()
    logged = len(contract_sql.READ_LOG)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert [how for name, how in contract_sql.READ_LOG[logged:] if name == path.name] == (["frame"] if sql else [])
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (5, 2, 3)
    got = warehouse.execute("SELECT sheet, row_number, reason FROM raw.rejected_rows ORDER BY row_number").fetchall()
    assert got == SUMMARY_SHEET_REFUSALS
    assert warehouse.execute("SELECT city_code, month FROM raw.pledge_loans ORDER BY ALL").fetchall() == [
        ("440300", date(2025, 2, 1)),
        ("440300", date(2025, 3, 1)),
    ]
    assert warehouse.execute(
        "SELECT rows_read, rows_loaded, rows_rejected FROM raw.ingested_files WHERE file_name = ?", [path.name]
    ).fetchall() == [(5, 2, 3)]
