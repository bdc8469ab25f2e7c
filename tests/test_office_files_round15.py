"""Office files as they are really sent (round 15). (1) A year to date written without the word 累计 anywhere (月份 |
登记笔数 reading 2, 5, 9 for every city): each running total loaded as its month's own figure, so a quarter's loans
were counted three times into the year, silently. A table whose every unit rises month after month in every figure,
by a running total's growth, is refused naming a unit's series; a header saying 本月 is believed, and figures that
rise and fall load. (2) A month column holding the month's number alone (3, 04, 12) under a title stating the year
(2025年…统计表) read "not a date" though the file said which month; it is that month of the stated year, as 3月
already was (13 stays refused; without a stated year it stays refused). (3) The words of a period of several months
were written three times (a month cell's, a title's, a sheet name's) and disagreed: a month cell 2025年1季 or
2025年以来 read "not a date", a sheet named 截至3月 beside the month sheets loaded its running totals as March. One
definition (`sources.SEVERAL_MONTHS_PATTERN`) is read by all three."""

from __future__ import annotations

import re

import openpyxl
import pytest
from office_fixtures import PLEDGE_CODES as CODES
from office_fixtures import ingest_counted as _ingest
from office_fixtures import reasons_of as _reasons
from office_fixtures import status_of as _status
from test_ingest_loaders import _write
from test_ingest_loaders import scan_filler as _filler

from pipelines.ingest import readers, validate
from pipelines.ingest.load import IngestError
from pipelines.ingest.reason_labels import notes_both, refusal_text
from pipelines.sources import TOTAL_SHEET_PATTERN


def _months(con, file_name: str) -> list[tuple]:
    return con.execute(
        "SELECT city_code, strftime(month, '%Y-%m'), registrations FROM raw.pledge_loans WHERE _source_file = ? "
        "AND city_code NOT IN ('110100', '120100') ORDER BY _row_number",
        [file_name],
    ).fetchall()


# --- 1. running totals without the word 累计 -------------------------------------------------------------------

# Each city's year to date: January's figures, January+February's, January to March's.
YEAR_TO_DATE = [
    "440300,2025-01,2,20,2,0,2,1",
    "440300,2025-02,5,52,5,0,4,2",
    "440300,2025-03,9,95,9,1,7,3",
    "440100,2025-01,3,30,3,0,3,1",
    "440100,2025-02,7,71,7,0,6,2",
    "440100,2025-03,10,104,10,0,8,3",
    "440200,2025-01,1,15,1,0,1,1",
    "440200,2025-02,1,15,1,0,1,1",
    "440200,2025-03,4,61,5,0,3,2",
]


@pytest.mark.parametrize("big", [False, True], ids=["polars", "scan"])
def test_running_totals_without_the_word_are_refused_naming_a_unit_s_series(warehouse, tmp_path, big):
    # Before: all six rows loaded, March's 9 registrations of 440300 counted as March's own (the month had 4).
    path = _write(tmp_path / "质押融资_2025年1-3月各月.csv", "\n".join([CODES, *YEAR_TO_DATE, *_filler(big)]) + "\n")
    with pytest.raises(IngestError, match="figures rising month after month for every unit") as e:
        _ingest(warehouse, path)
    assert "running totals (本年累计), not each month's own figures" in e.value.reason
    assert "(3 of them, e.g. 440100 registrations: 3 → 7 → 10 in 2025-01 → 2025-02 → 2025-03)" in e.value.reason
    assert _status(warehouse, path.name)[0] == 0
    assert warehouse.execute("SELECT count(*) FROM raw.pledge_loans").fetchone()[0] == 0
    zh = refusal_text(e.value.reason, "zh", "pledge_loans")
    assert "这是本年累计数，不是各月当月数" in zh and "登记笔数" in zh


def test_running_totals_over_half_a_year_are_refused_without_doubling(warehouse, tmp_path):
    # July to December of a year to date grows by a sixth of itself: its months, rising without a fall, tell it.
    rows = [
        f"{c},2025-{m:02d},{60 + k + 10 * m},{600 + 100 * m},{60 + 10 * m},0,{50 + 8 * m},9"
        for k, c in enumerate(("440300", "440100", "440200"))
        for m in range(7, 13)
    ]
    path = _write(tmp_path / "质押融资_2025年下半年.csv", "\n".join([CODES, *rows]) + "\n")
    with pytest.raises(IngestError, match="figures rising month after month"):
        _ingest(warehouse, path)


def test_a_workbook_s_running_totals_are_refused_too(warehouse, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["2025年知识产权质押融资统计表"])
    ws.append(CODES.split(","))
    for line in YEAR_TO_DATE:
        code, month, *figures = line.split(",")
        ws.append([code, month, *(float(f) for f in figures)])
    path = tmp_path / "质押_2025.xlsx"
    wb.save(path)
    with pytest.raises(IngestError, match="figures rising month after month"):
        _ingest(warehouse, path)


def test_monthly_figures_that_rise_and_fall_load(warehouse, tmp_path):
    rows = [
        "440300,2025-01,2,20,2,0,2,1",
        "440300,2025-02,3,32,3,0,2,1",
        "440300,2025-03,4,43,4,1,3,1",
        "440100,2025-01,3,30,3,0,3,1",
        "440100,2025-02,2,21,2,0,2,0",  # a fall: no running total falls
        "440100,2025-03,6,64,6,0,5,2",
    ]
    path = _write(tmp_path / "质押_2025年各月.csv", "\n".join([CODES, *rows]) + "\n")
    r = _ingest(warehouse, path)
    assert r.rows_loaded == 6 and _reasons(warehouse, path.name) == {}


def test_a_single_city_s_rising_months_load(warehouse, tmp_path):
    # 1, 2, 3 registrations of one city are as likely its months' own as a running total of one a month: one series
    # cannot tell, so it loads (the round-8 and round-11 fixtures' small cities, too)
    rows = [line for line in YEAR_TO_DATE if line.startswith("440300")]
    path = _write(tmp_path / "深圳_质押_2025.csv", "\n".join([CODES, *rows]) + "\n")
    assert _ingest(warehouse, path).rows_loaded == 3


def test_headers_saying_the_month_s_own_figures_are_believed(warehouse, tmp_path):
    header = CODES.replace("登记笔数", "本月登记笔数").replace("质押金额(万元)", "本月质押金额(万元)")
    path = _write(tmp_path / "质押_2025.csv", "\n".join([header, *YEAR_TO_DATE]) + "\n")
    assert _ingest(warehouse, path).rows_loaded == len(YEAR_TO_DATE)


def test_slowly_rising_months_of_a_growing_programme_load(warehouse, tmp_path):
    # rising every month for three months, by a tenth: monthly figures of a growing programme, not a running total
    rows = [
        f"{c},2025-{m:02d},{10 + m},{100 + 10 * m},{10 + m},0,{8 + m},2"
        for c in ("440300", "440100")
        for m in (1, 2, 3)
    ]
    path = _write(tmp_path / "质押_2025年一季度各月.csv", "\n".join([CODES, *rows]) + "\n")
    assert _ingest(warehouse, path).rows_loaded == 6


def test_running_totals_is_a_pure_rule_over_the_typed_rows():
    import datetime as dt

    import polars as pl

    from pipelines.sources import SOURCES

    src = SOURCES["pledge_loans"]
    good = pl.DataFrame(
        {
            "city_code": [c for c in ("440300", "440100", "440200") for _ in range(3)],
            "month": [dt.date(2025, m, 1) for _ in range(3) for m in (1, 2, 3)],
            "registrations": [2, 5, 9] * 3,
            "amount_10k_yuan": [20.0, 52.0, 95.0] * 3,
        }
    )
    rule = validate.running_totals
    with pytest.raises(IngestError):
        rule(good, src, ["登记笔数"], "f.csv")
    rule(good, src, ["当月登记笔数"], "f.csv")  # the header says the month's own
    rule(good.filter(pl.col("month") < dt.date(2025, 3, 1)), src, ["登记笔数"], "f.csv")  # two months tell nothing
    rule(good.head(6), src, ["登记笔数"], "f.csv")  # two units do not either


# --- 2. the month's number alone under a title stating the year -------------------------------------------------


@pytest.mark.parametrize("big", [False, True], ids=["polars", "scan"])
def test_a_month_s_number_alone_is_that_month_of_the_year_the_title_states(warehouse, tmp_path, big):
    # Before: rows 3-5 refused "not a date in month: '3'" though the title said 2025.
    lines = ["440300,3,2,20,1,0,1,0", "440100,04,3,30,1,0,1,0", "440200,１２,3,30,1,0,1,0", "440400,13,3,30,1,0,1,0"]
    path = _write(
        tmp_path / "质押融资.csv", "\n".join(["2025年知识产权质押融资统计表", CODES, *lines, *_filler(big)]) + "\n"
    )
    r = _ingest(warehouse, path)
    assert _months(warehouse, path.name) == [
        ("440300", "2025-03", 2),
        ("440100", "2025-04", 3),
        ("440200", "2025-12", 3),
    ]
    assert _reasons(warehouse, path.name) == {6: "not a date in month: '13' (no such month: months run from 1 to 12)"}
    assert "month cells without a year read in 2025 (stated by the file)" in r.notes


def test_a_workbook_s_month_numbers_take_the_title_s_year(warehouse, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["2025年知识产权质押融资统计表"])
    ws.append(CODES.split(","))
    ws.append(["440300", 3, 2, 20, 1, 0, 1, 0])
    ws.append(["440100", 11.0, 2, 20, 1, 0, 1, 0])
    path = tmp_path / "质押融资统计.xlsx"
    wb.save(path)
    _ingest(warehouse, path)
    assert _months(warehouse, path.name) == [("440300", "2025-03", 2), ("440100", "2025-11", 2)]


def test_a_month_s_number_without_a_stated_year_stays_refused(warehouse, tmp_path):
    path = _write(
        tmp_path / "质押融资.csv", "\n".join(["知识产权质押融资统计表", CODES, "440300,3,2,20,1,0,1,0"]) + "\n"
    )
    _ingest(warehouse, path, partition=None)
    assert _reasons(warehouse, path.name) == {3: "not a date in month: '3'"}


# --- 3. one definition of a period of several months ------------------------------------------------------------


def test_the_words_of_several_months_are_defined_once():
    from pipelines.sources import SEVERAL_MONTHS_PATTERN

    assert readers._PERIOD_WORDS.pattern == SEVERAL_MONTHS_PATTERN
    assert TOTAL_SHEET_PATTERN.endswith(SEVERAL_MONTHS_PATTERN)
    assert not hasattr(validate, "SEVERAL_MONTHS")
    for words in ("2025年1季", "2025年以来", "截至3月", "1-3月", "Q1", "上半年", "全年", "1月至3月"):
        assert re.search(SEVERAL_MONTHS_PATTERN, words), words


@pytest.mark.parametrize("big", [False, True], ids=["polars", "scan"])
def test_a_month_cell_of_a_quarter_or_a_year_so_far_is_several_months(warehouse, tmp_path, big):
    # Before: "not a date in month: '2025年1季'" (the cell's words a title or sheet name was refused for)
    lines = ["440300,2025年1季,2,20,1,0,1,0", "440100,2025年以来,3,30,1,0,1,0", "440200,2025-03,3,30,1,0,1,0"]
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join([CODES, *lines, *_filler(big)]) + "\n")
    _ingest(warehouse, path)
    reasons = _reasons(warehouse, path.name)
    assert reasons[2].startswith("several months in month: '2025年1季' is a quarter")
    assert reasons[3].startswith("several months in month: '2025年以来' is a quarter")


def test_a_sheet_named_for_the_year_so_far_beside_the_month_sheets_is_a_total_sheet(warehouse, tmp_path):
    # Before: sheet 截至3月 was read as records, and 440100's running total (missing from sheet 3月) loaded as March.
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for sheet, month in (("1月", "2025-01"), ("2月", "2025-02"), ("3月", "2025-03"), ("截至3月", "2025-03")):
        ws = wb.create_sheet(sheet)
        ws.append(CODES.split(","))
        ws.append(["440300", month, 2, 20, 1, 0, 1, 0])
        if sheet != "3月":
            ws.append(["440100", month, 2, 20, 1, 0, 1, 0])
    path = tmp_path / "质押_2025年一季度.xlsx"
    wb.save(path)
    _ingest(warehouse, path)
    assert ("440100", "2025-03", 2) not in _months(warehouse, path.name)
    assert set(_reasons(warehouse, path.name).values()) == {
        "total sheet: sheet '截至3月' sums the workbook's other sheets, its rows are no records"
    }


# --- 4. a workbook of the 1904 date system ----------------------------------------------------------------------


def _workbook_1904(path, months: list):
    """An .xlsx in the 1904 date system (Excel for Mac's; WPS keeps it): month cells as given (a datetime is written as a
    date cell, a number or text as it is: a serial that lost its date format)."""
    import datetime as dt

    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"date_1904": True})
    ws, fmt = wb.add_worksheet("Sheet1"), wb.add_format({"num_format": "yyyy-mm"})
    ws.write_row(0, 0, CODES.split(","))
    for r, (code, month) in enumerate(months, start=1):
        ws.write_string(r, 0, code)
        if isinstance(month, dt.datetime):
            ws.write_datetime(r, 1, month, fmt)
        elif isinstance(month, str):
            ws.write_string(r, 1, month)
        else:
            ws.write_number(r, 1, month)
        ws.write_row(r, 2, [2, 20, 1, 0, 1, 0])
    wb.close()
    return path


def test_serial_months_of_a_1904_workbook_are_read_in_its_date_system(warehouse, tmp_path):
    # 44255 days after 1904-01-01 is 2025-03-01. Before: read from 1899-12-30 as 2021-02-28, and the file's year
    # (taken from its dates) was 2021, so both rows loaded as February 2021, silently.
    import datetime as dt

    from pipelines.ingest.load import partition_of
    from pipelines.sources import SOURCES

    path = _workbook_1904(tmp_path / "质押融资统计.xlsx", [("440300", 44255), ("440100", "44255")])
    assert partition_of(path, SOURCES["pledge_loans"]) == 2025
    r = _ingest(warehouse, path)
    assert _months(warehouse, path.name) == [("440300", "2025-03", 2), ("440100", "2025-03", 2)]
    assert "read 2 dates written as serial numbers in the workbook's 1904 date system" in r.message
    zh = notes_both(r.message, "pledge_loans")
    assert "已按工作簿的 1904 日期系统读取" in zh
    # a real date cell was right already (openpyxl converts it from the workbook's epoch), and stays so
    path = _workbook_1904(tmp_path / "质押_日期单元格.xlsx", [("440200", dt.datetime(2025, 4, 1))])
    _ingest(warehouse, path)
    assert _months(warehouse, path.name) == [("440200", "2025-04", 2)]


def test_serial_months_of_a_1900_workbook_are_unchanged(warehouse, tmp_path):
    import xlsxwriter

    path = tmp_path / "质押融资统计.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Sheet1")
    ws.write_row(0, 0, CODES.split(","))
    ws.write_string(1, 0, "440300")
    ws.write_number(1, 1, 45717)  # 2025-03-01 from 1899-12-30
    ws.write_row(1, 2, [2, 20, 1, 0, 1, 0])
    wb.close()
    _ingest(warehouse, path)
    assert _months(warehouse, path.name) == [("440300", "2025-03", 2)]


# --- 5. a sheet with a stray cell far to the right --------------------------------------------------------------


def test_blank_cells_far_to_the_right_add_no_columns(warehouse, tmp_path):
    # A space typed in column WQJ (16,000) made every row 16,000 cells wide: a 300-row sheet took over a minute
    # (a 10,000-row one would not finish). Blank cells after a row's last filled one are no columns.
    from pipelines.ingest.readers import read_file
    from pipelines.sources import SOURCES

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(CODES.split(","))
    for code in ("440300", "440100", "440200"):
        ws.append([code, "2025-03", 2, 20, 1, 0, 1, 0])
    ws.cell(row=2, column=16000, value=" ")
    ws.cell(row=3, column=9, value="已核对")  # a remark beside the table stays a column of its own
    path = tmp_path / "质押_2025年3月.xlsx"
    wb.save(path)
    frame = read_file(path, SOURCES["pledge_loans"])
    assert frame.df.width < 12
    _ingest(warehouse, path)
    assert [c for c, _, _ in _months(warehouse, path.name)] == ["440300", "440100", "440200"]
