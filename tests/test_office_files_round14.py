"""Office files as they are really sent (round 14). (1) A workbook of one sheet per province (sheets 吉林省, 辽宁省,
rows naming cities): the workbook's rows lie in several provinces, so 吉林 on sheet 吉林省 was refused as "province or
unit", and a 辽宁 city on sheet 吉林省 loaded silently. A sheet named for a province is now its rows' province: 吉林
there is 吉林市 (a city column lists cities; the province's own total, its figures the sum of the sheet's other rows,
is still refused as a total row), and a row of another province is refused naming the row's unit and the sheet's
province (which is wrong is the office's call). (2) An unreadable cell's reasons had two copies (numbers, months),
and a month cell holding a formula without its saved result read "not a date": one definition now tells a formula
apart in every typed column. (3) A quarter's report without a month column (2025年第一季度 in its title or file
name) was refused as "missing required column: month", sending the office to add a column it cannot fill; it is
refused as a period of several months. (4) Guards for habits probed and found handled: a two-row header with
merged cells (金额（万元） over 本月 | 累计), a chart sheet, a CSV's trailing totals line, 1,234.5万 in a 万元 column,
negatives in brackets or with a full-width minus, columns in another order than the template's; and 减123 (a
decrease), which read "not a number", is now the figure -123 (refused as negative where a column cannot be), and a
running total headed 年累计 or 当年累计 (read "missing required column") is refused as a running total."""

from __future__ import annotations

import openpyxl
import pytest
from office_fixtures import PLEDGE_CODES as CODES
from office_fixtures import ingest_counted as _ingest
from office_fixtures import loaded_of as _loaded
from office_fixtures import reasons_of as _reasons
from office_fixtures import status_of as _status
from test_ingest_loaders import PLEDGE, TODAY, _write
from test_ingest_loaders import scan_filler as _filler

from pipelines.ingest.load import IngestError, ingest_file
from pipelines.ingest.reason_labels import notes_both, reason_text, refusal_text

NAMES = CODES.replace("城市代码", "地区").split(",")


def _row(name: str, n: int = 2, amount: float = 20, rest=(1, 0, 1, 0)) -> list:
    return [name, "2025-03", n, amount, *rest]


def _province_sheets(path, sheets: dict[str, list[list]], header: list[str] = NAMES):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        ws.append(header)
        for r in rows:
            ws.append(r)
    wb.save(path)
    return path


# --- 1. one sheet per province -------------------------------------------------------------------------------


def test_a_province_s_short_name_on_its_province_s_sheet_is_its_city(warehouse, tmp_path):
    # Before: row 3 refused "'吉林' is province 220000 or unit 220200, and the file's other rows do not tell which":
    # the workbook's rows lie in two provinces; the sheet says which.
    path = _province_sheets(
        tmp_path / "质押_2025年3月.xlsx",
        {
            "吉林省": [_row("长春"), _row("吉林", 3, 30), _row("四平", 1, 10)],
            "辽宁省": [_row("沈阳"), _row("大连", 4, 40)],
        },
    )
    r = _ingest(warehouse, path)
    assert _reasons(warehouse, path.name) == {}
    assert sorted(c for c, _ in _loaded(warehouse, path.name)) == ["210100", "210200", "220100", "220200", "220300"]
    note = "read '吉林' in city_code as the unit 220200: its sheet '吉林省' names the province"
    assert note in r.notes
    zh = notes_both(_status(warehouse, path.name)[2], "pledge_loans")
    assert "按单位 220200 读取：所在工作表“吉林省”已注明省份" in zh


def test_the_province_s_total_on_its_sheet_stays_a_total_row(warehouse, tmp_path):
    # 吉林 whose every figure is the sum of the sheet's cities is the province's total written by its short name
    path = _province_sheets(
        tmp_path / "质押_2025年3月.xlsx",
        {
            "吉林省": [_row("长春", 2, 20), _row("四平", 1, 10), _row("吉林", 3, 30, (2, 0, 2, 0))],
            "辽宁省": [_row("沈阳"), _row("大连", 4, 40)],
        },
    )
    _ingest(warehouse, path)
    assert _reasons(warehouse, path.name)[4].startswith("total row: '吉林' in city_code names a province and a unit")
    assert "220200" not in [c for c, _ in _loaded(warehouse, path.name)]


@pytest.mark.parametrize("by", ["name", "code"])
def test_a_row_of_another_province_on_a_province_s_sheet_is_refused_naming_both(warehouse, tmp_path, by):
    # Before: 沈阳 (210100) on sheet 吉林省 loaded, silently: counted where the office's sheet never put it
    header = NAMES if by == "name" else CODES.split(",")
    sy, cc, dl = ("沈阳", "长春", "大连") if by == "name" else ("210100", "220100", "210200")
    path = _province_sheets(
        tmp_path / "质押_2025年3月.xlsx",
        {"吉林省": [_row(cc), _row(sy, 5, 50)], "辽宁省": [_row(dl, 4, 40)]},
        header,
    )
    _ingest(warehouse, path)
    reason = _reasons(warehouse, path.name)[3]
    assert reason == (
        f"unit in city_code contradicts its sheet: '{sy}' is 210100 of province 210000, while sheet '吉林省' is named "
        "for province 220000 (move the row to its province's sheet, or correct the unit)"
    )
    zh = reason_text(reason, "pledge_loans", "zh")
    assert "与所在工作表矛盾" in zh and "吉林省" in zh and "210100" in zh and "220000" in zh
    assert sorted(c for c, _ in _loaded(warehouse, path.name)) == ["210200", "220100"]


def test_a_sheet_named_by_a_short_name_that_is_a_city_s_too_tells_no_province(warehouse, tmp_path):
    # a sheet 吉林 may be the province's or 吉林市's: it decides nothing, and 沈阳 on it is no contradiction
    path = _province_sheets(tmp_path / "质押_2025年3月.xlsx", {"吉林": [_row("长春"), _row("沈阳", 5, 50)]})
    _ingest(warehouse, path)
    assert _reasons(warehouse, path.name) == {}


# --- 2. one definition of an unreadable cell's reasons ---------------------------------------------------------


def test_a_month_cell_s_formula_without_its_result_has_the_formula_s_reason(warehouse, tmp_path):
    # Before: "not a date in month: '=DATE(2025,3,1)'", while the same formula in an amount said what to do
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(CODES.split(","))
    ws.append(["440300", "=DATE(2025,3,1)", 2, 20, 1, 0, 1, 0])  # openpyxl saves no result
    ws.append(["440100", "2025-03", 2, "=1+1", 1, 0, 1, 0])
    ws.append(["440400", "2025-03", 2, 20, 1, 0, 1, 0])
    wb.save(path := tmp_path / "质押_2025年3月.xlsx")
    _ingest(warehouse, path)
    reasons = _reasons(warehouse, path.name)
    for row, col, cell in ((2, "month", "=DATE(2025,3,1)"), (3, "amount_10k_yuan", "=1+1")):
        assert reasons[row] == (
            f"a formula never calculated in {col}: '{cell}' has no saved result (open and save the file in Excel or "
            "WPS so the result is stored, or paste values)"
        )
    assert _loaded(warehouse, path.name) == [("440400", "2025-03")]


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_unreadable_cells_keep_their_own_reasons(warehouse, tmp_path, big):
    lines = [
        CODES,
        "440300,2025-03,2,12.5%,1,0,1,0",
        "440100,2025年1-3月,2,20,1,0,1,0",
        "440400,2025-03,2,abc,1,0,1,0",
        "440500,2025-03-15,2,20,1,0,1,0",
    ]
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join([*lines, *_filler(big)]) + "\n")
    _ingest(warehouse, path)
    reasons = _reasons(warehouse, path.name)
    assert reasons[2].startswith("a percentage in amount_10k_yuan: '12.5%'")
    assert reasons[3].startswith("several months in month: '2025年1-3月'")
    assert reasons[4] == "not a number in amount_10k_yuan: 'abc'"
    assert len(reasons) == 3 or reasons[5].startswith("part of a month in month")


# --- 3. a quarter's report without a month column -------------------------------------------------------------


@pytest.mark.parametrize(
    "name,title,where,words",
    [
        ("质押_2025年第一季度.csv", None, "file name", "2025年第一季度"),
        ("质押_2025Q1.csv", None, "file name", "2025Q1"),
        ("质押统计.xlsx", "2025年第一季度知识产权质押融资统计表", "title above the table", "2025年第一季度"),
        ("质押统计.xlsx", "2025年上半年知识产权质押融资统计表", "title above the table", "2025年上半年"),
    ],
)
def test_a_quarter_s_report_without_a_month_column_is_refused_as_several_months(
    warehouse, tmp_path, name, title, where, words
):
    # Before: "missing required column: month (or 月份 / 统计月份)": the office cannot fill a month for a quarter
    header = [h for h in CODES.split(",") if h != "月份"]
    if name.endswith(".csv"):
        path = _write(tmp_path / name, ",".join(header) + "\n440300,2,20,1,0,1,0\n")
    else:
        wb = openpyxl.Workbook()
        wb.active.append([title])
        wb.active.append(header)
        wb.active.append(["440300", 2, 20, 1, 0, 1, 0])
        wb.save(path := tmp_path / name)
    with pytest.raises(IngestError) as e:
        ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert e.value.reason == (
        f"no month column, and the {where} states several months ('{words}'): the figures are the period's total, "
        "not one month's (send each month's own figures: a 月份 column, or one file per month)"
    )
    zh = refusal_text(e.value.reason, "zh")
    assert words in zh and "多个月" in zh and ("文件名" if where == "file name" else "表格上方的标题") in zh
    assert _status(warehouse, path.name)[:2] == (0, 0)


def test_a_month_s_report_without_a_month_column_still_loads(warehouse, tmp_path):
    header = [h for h in CODES.split(",") if h != "月份"]
    path = _write(tmp_path / "质押_2025年3月.csv", ",".join(header) + "\n440300,2,20,1,0,1,0\n")
    _ingest(warehouse, path)
    assert _loaded(warehouse, path.name) == [("440300", "2025-03")]


# --- 4. guards: habits probed and found handled ------------------------------------------------------------


def _amounts(con, file_name: str) -> list[tuple]:
    return con.execute(
        "SELECT city_code, registrations, amount_10k_yuan FROM raw.pledge_loans WHERE _source_file = ? "
        "AND city_code NOT IN ('110100', '120100') ORDER BY _row_number",
        [file_name],
    ).fetchall()


def test_a_two_row_header_of_merged_cells_reads_the_month_s_column_not_the_running_total(warehouse, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(
        ["单位", "月份", "登记笔数", "金额（万元）", None, "质押专利数", "质押商标数", "服务企业数", "首贷企业数"]
    )
    ws.append([None, None, None, "本月", "累计", None, None, None, None])
    ws.merge_cells("D1:E1")
    for col in "ABCFGHI":
        ws.merge_cells(f"{col}1:{col}2")
    ws.append(["深圳", "2025-03", 2, 20, 60, 1, 0, 1, 0])
    ws.append(["广州", "2025-03", 3, 30, 90, 1, 0, 1, 0])
    wb.save(path := tmp_path / "质押_2025年3月.xlsx")
    r = _ingest(warehouse, path)
    assert _amounts(warehouse, path.name) == [("440300", 2, 20.0), ("440100", 3, 30.0)]
    assert any("累计" in n and "ignored" in n for n in r.notes)


def test_a_chart_sheet_is_skipped_and_the_data_sheet_read(warehouse, tmp_path):
    from openpyxl.chart import BarChart, Reference

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "数据"
    ws.append(CODES.split(","))
    ws.append(["440300", "2025-03", 2, 20, 1, 0, 1, 0])
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=4, min_row=1, max_row=2), titles_from_data=True)
    wb.create_chartsheet("图表").add_chart(chart)
    wb.save(path := tmp_path / "质押_2025年3月.xlsx")
    _ingest(warehouse, path)
    assert _amounts(warehouse, path.name) == [("440300", 2, 20.0)]


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_csv_habits_load_right_or_are_refused_by_name(warehouse, tmp_path, big):
    lines = [
        CODES,
        '440300,2025-03,2,"1,234.5万",1,0,1,0',  # 万 in a 万元 column: the figure in 万元
        "440100,2025-03,3,(123),1,0,1,0",  # accounting-style negative: no amount is negative
        "440400,2025-03,3,－123,1,0,1,0",  # full-width minus
        "440500,2025-03,3,减123,1,0,1,0",  # 减: a decrease (before: "not a number", which did not say so)
        '合计,,5,"1,357.5",3,0,3,0',  # the trailing totals line
    ]
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join([*lines[:5], *_filler(big), lines[5]]) + "\n")
    _ingest(warehouse, path)
    assert _amounts(warehouse, path.name) == [("440300", 2, 1234.5)]
    reasons = _reasons(warehouse, path.name)
    assert reasons[3].startswith("negative amount in parentheses in amount_10k_yuan: '(123)'")
    assert reasons[4] == reasons[5] == "negative value in amount_10k_yuan: -123.0 (min 0)"
    assert max(reasons) == 6 + len(_filler(big)) and "total row" in reasons[max(reasons)]


def test_columns_in_another_order_than_the_template_s_load_by_their_headers(warehouse, tmp_path):
    h = CODES.split(",")
    order = [3, 1, 0, 2, 5, 4, 7, 6]
    path = _write(tmp_path / "质押_2025年3月.csv", ",".join(h[i] for i in order) + "\n20.5,2025-03,440300,2,0,1,0,1\n")
    _ingest(warehouse, path)
    row = warehouse.execute(
        "SELECT city_code, registrations, amount_10k_yuan, patents_pledged, trademarks_pledged, enterprises_served, "
        "first_time_borrowers FROM raw.pledge_loans WHERE _source_file = ?",
        [path.name],
    ).fetchall()
    assert row == [("440300", 2, 20.5, 1, 0, 1, 0)]


@pytest.mark.parametrize("words", ["年累计", "当年累计"])
@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_running_total_s_header_written_year_cumulative_is_refused_as_one(warehouse, tmp_path, words, big):
    # Before: "missing required column: amount_10k_yuan": the column was there, as a running total that each
    # month's file would have double counted had it been read as the month's
    header = CODES.replace("质押金额(万元)", f"{words}质押金额(万元)")
    path = _write(
        tmp_path / "质押_2025年3月.csv", "\n".join([header, "440300,2025-03,2,20,1,0,1,0", *_filler(big)]) + "\n"
    )
    with pytest.raises(IngestError) as e:
        ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert e.value.reason.startswith(
        f"header '{words}质押金额(万元)': a year-to-date (cumulative) total, not the month's own figure"
    )
    assert "累计" in refusal_text(e.value.reason, "zh")
