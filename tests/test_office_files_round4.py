"""Office files as they are really sent (round 4): breakdown rows (其中), month and year-to-date columns side by side
(本月 | 本年累计), a group title over 金额 / 笔数, hidden rows and columns of a workbook. Each case a file that was
loaded wrong silently or refused whole though good; both ingest paths (the Polars reader and the DuckDB scan of a
big CSV) where a CSV can carry the case."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import openpyxl
import pytest
from test_ingest_loaders import HEADER_ZH, PLEDGE, TODAY, _write
from test_ingest_loaders import scan_filler as _filler

from pipelines.ingest import contract_sql
from pipelines.ingest.load import ingest_file
from pipelines.ingest.readers import IngestError
from pipelines.ingest.reason_labels import reason_text, unknown_reasons


def _workbook(path: Path, rows: list[list], hook=None) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    if hook is not None:
        hook(ws)
    wb.save(path)
    return path


def _rejected(con) -> dict[int, str]:
    return dict(con.execute("SELECT row_number, reason FROM raw.rejected_rows ORDER BY row_number").fetchall())


def _by_prefecture(con, below: int = 100) -> list[tuple]:
    """What the marts see: each county-level code summed into its prefecture (int_pledge__unit_year)."""
    return con.execute(
        "SELECT substr(city_code, 1, 4) || '00', month, sum(amount_10k_yuan) FROM raw.pledge_loans "
        f"WHERE _row_number < {below} GROUP BY ALL ORDER BY 1, 2"
    ).fetchall()


def _read_how(file_name: str, logged: int) -> list[str]:
    return [h.split(":")[0] for name, h in contract_sql.READ_LOG[logged:] if name == file_name]


# ------------------------------------------------------------------ 其中 (of which): a breakdown under a city's row

# 苏州's row, then 其中 two of its county-level cities: 100 + 50 is NOT its 300 (the rest of the city is not listed).
BREAKDOWN = [
    ("苏州市", "320500,2025-03,30,300,20,6,16,6"),
    ("其中：昆山市", "320583,2025-03,10,100,10,2,8,3"),
    ("张家港市", "320582,2025-03,5,50,5,1,4,1"),
    ("无锡市", "320200,2025-03,5,50,5,1,4,1"),
]
BREAKDOWN_REFUSED = (
    "breakdown row (其中:昆山市) under row 2 (320500 2025-03-01): part of the figures that row states, not a record "
    "of its own (the stated row is loaded)"
)


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_qizhong_breakdown_that_does_not_add_up_is_not_added_to_the_city_row(warehouse, tmp_path, big):
    # Loaded, 苏州's March was 300 (its row) + 100 + 50 (昆山, 张家港 summed into 3205 by the marts) = 450 万元,
    # silently: 其中 rows are by definition parts of the row above. The stated row wins; its parts are quarantined.
    lines = [HEADER_ZH + ",地区"] + [f"{codes},{name}" for name, codes in BREAKDOWN]
    lines += [f"{line},北京市" for line in _filler(big)]
    path = _write(tmp_path / "江苏_质押_2025.csv", "\n".join(lines) + "\n")
    logged = len(contract_sql.READ_LOG)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert "reader" in _read_how(path.name, logged) if big else _read_how(path.name, logged) == ["polars"]
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    assert {k: v for k, v in _rejected(warehouse).items() if k < 6} == {3: BREAKDOWN_REFUSED, 4: BREAKDOWN_REFUSED}
    assert _by_prefecture(warehouse, 6) == [("320200", date(2025, 3, 1), 50.0), ("320500", date(2025, 3, 1), 300.0)]
    assert any(n.startswith("refused 2 breakdown rows (其中, of which)") for n in r.notes)
    assert not unknown_reasons(BREAKDOWN_REFUSED)
    assert reason_text(BREAKDOWN_REFUSED, "pledge_loans", "zh") == (
        "“其中”分项行（其中:昆山市）：属于第 2 行（320500 2025-03-01）所填数字的一部分，不是一条独立记录"
        "（已按该行所填数字入库）"
    )


def test_a_qizhong_breakdown_that_adds_up_keeps_the_stated_row_too(warehouse, tmp_path):
    # Without the 其中 label a city row equal to its districts' sum is their total row (round 3); with it, the
    # stated row wins as when the parts do not add up: one rule for a breakdown, whatever its sum.
    path = _workbook(
        tmp_path / "苏州_质押_2025.xlsx",
        [
            ["地区", *HEADER_ZH.split(",")],
            ["苏州市", "320500", "2025-03", 30, 300, 20, 6, 16, 6],
            ["  其中：昆山市", "320583", "2025-03", 10, 100, 10, 2, 8, 3],
            ["        张家港市", "320582", "2025-03", 20, 200, 10, 4, 8, 3],
            ["苏州市", "320500", "2025-04", 30, 300, 20, 6, 16, 6],
        ],
    )
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (4, 2, 2)
    assert sorted(_rejected(warehouse)) == [3, 4]
    assert _by_prefecture(warehouse) == [("320500", date(2025, 3, 1), 300.0), ("320500", date(2025, 4, 1), 300.0)]


def test_a_qizhong_row_naming_its_city_is_read_as_that_city_and_refused_as_a_part(warehouse, tmp_path):
    # A report naming its cities (no code column): 其中：昆山市 was "unknown city name '其中:昆山市'" — refused, but
    # for a reason that hid what the row is.
    path = _workbook(
        tmp_path / "苏州_质押_2025.xlsx",
        [
            ["地市", *HEADER_ZH.split(",")[1:]],
            ["苏州市", "2025-04", 30, 300, 20, 6, 16, 6],
            ["其中：昆山市", "2025-04", 10, 100, 10, 2, 8, 3],
        ],
    )
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 1, 1)
    assert _rejected(warehouse)[3].startswith("breakdown row (其中:昆山市) under row 2 (320500 2025-04-01)")


def test_qizhong_rows_under_a_total_row_are_the_records_it_sums(warehouse, tmp_path):
    # 全省合计 then 其中 its cities: the total row is refused as one; the cities are the records.
    path = _workbook(
        tmp_path / "江苏_质押_2025.xlsx",
        [
            ["地区", *HEADER_ZH.split(",")],
            ["全省合计", "320000", "2025-05", 15, 150, 15, 3, 12, 4],
            ["其中：苏州市", "320500", "2025-05", 10, 100, 10, 2, 8, 3],
            ["无锡市", "320200", "2025-05", 5, 50, 5, 1, 4, 1],
        ],
    )
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 2, 1)
    assert _rejected(warehouse)[2].startswith("total row")


# ------------------------------------------------------------------ 本月 | 本年累计: the month's figure beside the year's

# The usual monthly report: each figure twice, the month's own and the year to date.
PERIOD_HEADER = (
    "城市代码,月份,本月登记笔数,本年累计登记笔数,当月质押金额(万元),累计质押金额(万元),质押专利数,质押商标数,服务企业数,"
    "首贷企业数"
)


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_the_month_s_columns_beside_the_year_to_date_columns_load_the_month(warehouse, tmp_path, big):
    # Refused whole as "missing required column(s): registrations; amount_10k_yuan": 本月登记笔数 was no header
    # the contract knew, though it says exactly what the contract column holds.
    filler = [f"{c},{m},{r},{r},{a},{a},{rest}" for c, m, r, a, rest in (x.split(",", 4) for x in _filler(big))]
    path = _write(
        tmp_path / "质押_2025.csv", "\n".join([PERIOD_HEADER, "440300,2025-03,12,50,100,900,10,2,8,3", *filler]) + "\n"
    )
    logged = len(contract_sql.READ_LOG)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert _read_how(path.name, logged) == (["scan"] if big else ["frame"])
    assert r.rows_read == r.rows_loaded + r.rows_rejected == 1 + len(filler)
    assert "ignored extra columns: 本年累计登记笔数, 累计质押金额(万元)" in r.notes
    assert warehouse.execute(
        "SELECT registrations, amount_10k_yuan FROM raw.pledge_loans WHERE _row_number = 2"
    ).fetchall() == [(12, 100.0)]


@pytest.mark.parametrize(
    "header",
    [
        "城市代码,月份,本年累计登记笔数,本年累计质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数",
        "城市代码,月份,登记笔数（累计）,质押金额（本年累计）（万元）,质押专利数,质押商标数,服务企业数,首贷企业数",
    ],
    ids=["in-front", "in-brackets"],
)
def test_year_to_date_columns_alone_are_refused_as_running_totals(warehouse, tmp_path, header):
    # Only the running totals: loading them as the month's counted January again in every later month. Before,
    # the first spelling was refused for a missing column and the second for a "unit '累计'": true refusals, but
    # not saying the figures are a year to date. Deriving the month as the difference to last month's total is
    # not done: last month's file may be missing, corrected or in another unit (docs/contracts.md).
    path = _write(tmp_path / "质押_2025.csv", "\n".join([header, "440300,2025-03,12,100,10,2,8,3"]) + "\n")
    with pytest.raises(IngestError, match=r"a year-to-date \(cumulative\) total, not the month's own figure"):
        ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)


def _merge_pairs(ws):
    ws.merge_cells("C1:D1")
    ws.merge_cells("E1:F1")


def test_a_merged_header_over_this_month_and_year_to_date_reads_this_month(warehouse, tmp_path):
    # 登记笔数 merged over 本月 | 本年累计: refused whole as "which one holds the value is not told" — it is told.
    path = _workbook(
        tmp_path / "质押_2025.xlsx",
        [
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
            ],
            [None, None, "本月", "本年累计", "本月", "本年累计"],
            ["440300", "2025-03", 12, 50, 100, 900, 10, 2, 8, 3],
        ],
        _merge_pairs,
    )
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (1, 1, 0)
    assert "ignored extra columns: 本年累计登记笔数, 本年累计质押金额(万元)" in r.notes
    assert warehouse.execute("SELECT registrations, amount_10k_yuan FROM raw.pledge_loans").fetchall() == [(12, 100.0)]


def test_a_year_to_date_line_under_the_header_refuses_the_file(warehouse, tmp_path):
    # 本年累计 written under each figure's header (no 本月 beside it): the line was read as a record (refused, "not
    # a number") and every row under it loaded its running total as the month's own figure, silently.
    path = _workbook(
        tmp_path / "质押_2025.xlsx",
        [
            HEADER_ZH.split(","),
            [None, None, "本年累计", "本年累计"],
            ["440300", "2025-03", 12, 100, 10, 2, 8, 3],
        ],
    )
    with pytest.raises(IngestError, match=r"'本年累计登记笔数', '本年累计质押金额\(万元\)': a year-to-date"):
        ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)


# ------------------------------------------------------------------ a group title over 金额 | 笔数


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_pledge_group_title_over_amount_and_count_reads_both(warehouse, tmp_path, big):
    # 质押融资 merged over 金额（万元） | 笔数: the amount was read (质押融资金额(万元)), the count not, and the file was
    # refused whole as "missing required column(s): registrations".
    filler = [f"{c},{m},{a},{r},{rest}" for c, m, r, a, rest in (x.split(",", 4) for x in _filler(big))]
    lines = [
        "城市代码,月份,质押融资,,质押专利数,质押商标数,服务企业数,首贷企业数",
        ",,金额（万元）,笔数,,,,",
        "440300,2025-03,100,12,10,2,8,3",
        *filler,
    ]
    path = _write(tmp_path / "质押_2025.csv", "\n".join(lines) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected == 1 + len(filler)
    assert warehouse.execute(
        "SELECT registrations, amount_10k_yuan FROM raw.pledge_loans WHERE _row_number = 3"
    ).fetchall() == [(12, 100.0)]


def test_a_merged_pledge_group_title_in_a_workbook_reads_both(warehouse, tmp_path):
    path = _workbook(
        tmp_path / "质押_2025.xlsx",
        [
            ["城市代码", "月份", "质押融资", None, "质押专利数", "质押商标数", "服务企业数", "首贷企业数"],
            [None, None, "金额（万元）", "笔数"],
            ["440300", "2025-03", 100, 12, 10, 2, 8, 3],
        ],
        lambda ws: ws.merge_cells("C1:D1"),
    )
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (1, 1, 0)
    assert warehouse.execute("SELECT registrations, amount_10k_yuan FROM raw.pledge_loans").fetchall() == [(12, 100.0)]


# ------------------------------------------------------------------ rows and columns a workbook hides


def _hidden_workbook(path: Path, *, filtered: bool = False) -> Path:
    """Two cities shown, a third hidden (a filter's or by hand), and a remarks column hidden."""

    def hide(ws):
        ws.row_dimensions[3].hidden = True
        ws.column_dimensions["I"].hidden = True
        if filtered:
            ws.auto_filter.ref = "A1:I4"

    return _workbook(
        path,
        [
            [*HEADER_ZH.split(","), "备注"],
            ["440300", "2025-03", 12, 100, 10, 2, 8, 3, None],
            ["440100", "2025-03", 8, 200, 5, 1, 6, 2, "核对用"],
            ["330100", "2025-03", 5, 50, 5, 1, 4, 1, None],
        ],
        hide,
    )


@pytest.mark.parametrize("kind", ["xlsx", "xls", "filtered"])
def test_rows_and_columns_hidden_in_a_workbook_are_read_and_named(warehouse, tmp_path, kind):
    # Read without a word: whoever opens the workbook does not see row 3 nor column I, and was never told that
    # they were loaded. They are what the office sent (a finished month hidden, a table filtered to check one
    # city), so they are read — and named, so that a hidden scratch or old row is found.
    from xls_helpers import xls_from_xlsx

    path = _hidden_workbook(tmp_path / "质押_2025.xlsx", filtered=kind == "filtered")
    if kind == "xls":
        path = xls_from_xlsx(path, tmp_path / "质押_2025.xls")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 3, 0)
    how = " (hidden or filtered out)" if kind == "filtered" else ""
    assert (
        f"row 3{how} and column I ('备注') hidden in the workbook: read as well (whoever opens the file does "
        "not see them; check they are no scratch or old rows)"
    ) in r.notes


def test_a_hidden_old_version_of_a_shown_row_is_refused_with_it_not_loaded(warehouse, tmp_path):
    # The common hidden row: last month's draft of a city's row kept under the corrected one. Neither is loaded as
    # the city's figure on the strength of row order; both are refused as conflicting, and the note names row 2.
    path = _workbook(
        tmp_path / "质押_2025.xlsx",
        [HEADER_ZH.split(","), ["440300", "2025-03", 10, 90, 10, 2, 8, 3], ["440300", "2025-03", 12, 100, 10, 2, 8, 3]],
        lambda ws: setattr(ws.row_dimensions[2], "hidden", True),
    )
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 0, 2)
    assert any(n.startswith("row 2 hidden in the workbook") for n in r.notes)
    assert all(v.startswith("conflicting records") for v in _rejected(warehouse).values())


# ------------------------------------------------------------------ "Excel" exports that are markup named .xls

HTML_EXPORT = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head><body>
<table border=1>
<tr><td colspan=9>2025年知识产权质押融资统计表</td></tr>
<tr><th>地区</th><th>城市代码</th><th>月份</th><th>登记笔数</th><th>质押金额(万元)</th><th>质押专利数</th><th>质押商标数</th>
<th>服务企业数</th><th>首贷企业数</th></tr>
<tr><td rowspan=2>深圳市</td><td rowspan=2>440300</td><td>2025-01</td><td>12</td><td>1,234.5</td><td>10</td><td>2</td>
<td>8</td><td>3</td></tr>
<tr><td>2025-02</td><td>8</td><td>200&nbsp;</td><td>5</td><td>1</td><td>6</td><td>2</td></tr>
<tr><td>合计</td><td></td><td></td><td>20</td><td>1434.5</td><td>15</td><td>3</td><td>14</td><td>5</td></tr>
</table></body></html>"""


def test_an_html_table_named_xls_is_read_as_a_workbook(warehouse, tmp_path):
    # What many government web systems' "导出Excel" writes: an HTML page (here GB2312) named .xls. It was refused
    # ("open it in Excel or WPS and save it as .xlsx"); the standard library reads it, and the workbook rules apply:
    # the title row is skipped, a code spanning two rows (rowspan) is each row's code, 合计 is a total row.
    path = tmp_path / "质押融资导出_2025.xls"
    path.write_bytes(HTML_EXPORT.encode("gbk"))
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 2, 1)
    assert "the file is a web page (HTML table) (named .xls): read as one" in r.notes
    assert warehouse.execute(
        "SELECT city_code, month, registrations, amount_10k_yuan FROM raw.pledge_loans ORDER BY _row_number"
    ).fetchall() == [("440300", date(2025, 1, 1), 12, 1234.5), ("440300", date(2025, 2, 1), 8, 200.0)]
    assert _rejected(warehouse) == {5: "total row ('合计'): a sum of other rows, not a record"}
    assert warehouse.execute(
        "SELECT encoding FROM raw.ingested_files WHERE status = 'loaded' AND file_name = ?", [path.name]
    ).fetchall() == [("html",)]


def _cells(*values) -> str:
    out = []
    for v in values:
        kind = "Number" if isinstance(v, (int, float)) else "String"
        out.append(f'<Cell><Data ss:Type="{kind}">{v}</Data></Cell>')
    return "".join(out)


SPREADSHEET_ML = f"""<?xml version="1.0" encoding="gb2312"?>
<?mso-application progid="Excel.Sheet"?>
<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">
<Worksheet ss:Name="3月"><Table>
<Row><Cell ss:MergeAcross="6"><Data ss:Type="String">2025年3月知识产权质押融资统计表</Data></Cell></Row>
<Row>{_cells("城市代码", "登记笔数", "质押金额(万元)", "质押专利数", "质押商标数", "服务企业数", "首贷企业数")}</Row>
<Row>{_cells("440300", 12, 100.5, 10, 2, 8, 3)}</Row>
<Row ss:Hidden="1"><Cell><Data ss:Type="String">440100</Data></Cell><Cell ss:Index="3"><Data ss:Type="Number">100</Data>
</Cell>{_cells(10, 2, 8, 3)}</Row>
</Table></Worksheet></Workbook>"""


def test_an_excel_2003_xml_spreadsheet_named_xls_is_read_as_a_workbook(warehouse, tmp_path):
    # SpreadsheetML (Excel 2003 XML, what some report systems still write) in GB2312: refused before. Read as a
    # workbook: the month from the sheet name, the hidden row named, its empty 登记笔数 (ss:Index skips it) refused.
    path = tmp_path / "质押_2025.xls"
    path.write_bytes(SPREADSHEET_ML.encode("gbk"))
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 1, 1)
    assert "the file is an Excel 2003 XML spreadsheet (named .xls): read as one" in r.notes
    assert any(n.startswith("row 4 hidden in the workbook") for n in r.notes)
    assert warehouse.execute("SELECT city_code, month, amount_10k_yuan FROM raw.pledge_loans").fetchall() == [
        ("440300", date(2025, 3, 1), 100.5)
    ]
    assert _rejected(warehouse) == {4: "missing value in registrations"}


def test_a_remark_starting_with_qizhong_on_another_city_s_row_is_no_breakdown(warehouse, tmp_path):
    # 备注 "其中专利质押3笔" on 深圳's row under 广州's: a remark about 深圳's own figures, not a part of 广州's.
    path = _workbook(
        tmp_path / "广东_质押_2025.xlsx",
        [
            [*HEADER_ZH.split(","), "备注"],
            ["440100", "2025-03", 8, 200, 5, 1, 6, 2, None],
            ["440300", "2025-03", 12, 100, 10, 2, 8, 3, "其中专利质押3笔"],
        ],
    )
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 2, 0)


# ------------------------------------------------------------------ 本月 | 上年同期: a comparison block beside the month

COMPARISON_HEADER = [
    "城市代码,月份,本月,,上年同期,,质押专利数,质押商标数,服务企业数,首贷企业数,同比增长(%)",
    ",,登记笔数,质押金额(万元),登记笔数,质押金额(万元),,,,,",
]


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_the_same_month_last_year_beside_this_month_is_left_and_this_month_read(warehouse, tmp_path, big):
    # A monthly report with its comparison block: refused whole ("column 'registrations' appears twice").
    filler = [f"{c},{m},{r},{a},{r},{a},{rest}," for c, m, r, a, rest in (x.split(",", 4) for x in _filler(big))]
    lines = [*COMPARISON_HEADER, "440300,2025-03,12,100,10,90,10,2,8,3,11.1%", *filler]
    path = _write(tmp_path / "质押_2025.csv", "\n".join(lines) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected == 1 + len(filler)
    assert "ignored extra columns: 上年同期·登记笔数, 上年同期·质押金额(万元), 同比增长(%)" in r.notes
    assert warehouse.execute(
        "SELECT registrations, amount_10k_yuan FROM raw.pledge_loans WHERE _row_number = 3"
    ).fetchall() == [(12, 100.0)]


def test_the_same_month_last_year_alone_is_refused_not_loaded_as_this_month(warehouse, tmp_path):
    # Only the 上年同期 block filled in (this year's left for another sheet): last year's March loaded as this
    # March, silently.
    path = _workbook(
        tmp_path / "质押_2025.xlsx",
        [
            ["城市代码", "月份", "上年同期", None, "质押专利数", "质押商标数", "服务企业数", "首贷企业数"],
            [None, None, "登记笔数", "质押金额(万元)"],
            ["440300", "2025-03", 10, 90, 10, 2, 8, 3],
        ],
        lambda ws: ws.merge_cells("C1:D1"),
    )
    with pytest.raises(IngestError, match=r"under '上年同期': the figures of an earlier period \(a comparison\)"):
        ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)


def test_a_title_line_mentioning_the_same_period_last_year_is_no_group(warehouse, tmp_path):
    path = _workbook(
        tmp_path / "质押_2025.xlsx",
        [
            ["2025年3月知识产权质押融资情况（含与上年同期对比）"],
            HEADER_ZH.split(","),
            ["440300", "2025-03", 12, 100, 10, 2, 8, 3],
        ],
    )
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (1, 1, 0)


# ------------------------------------------------------------------ 其中 in a header: a breakdown column beside its total

STATS_QIZHONG_HEADER = "地区代码,地区,年份,专利授权总量,其中：发明专利授权量,实用新型专利授权量,外观设计专利授权量"


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_column_headed_qizhong_is_the_column_it_names(warehouse, tmp_path, big):
    # 专利授权总量 | 其中：发明专利授权量 | …: the invention grants were an "ignored extra column" and loaded as no
    # figure (NULL), losing what the office sent.
    from pipelines.sources import SOURCES

    filler = [f"{110100 + k * 100},某市,2024,20,5,10,5" for k in range(30)] * (1500 if big else 0)
    path = _write(
        tmp_path / "专利统计_2024.csv",
        "\n".join([STATS_QIZHONG_HEADER, "440300,深圳市,2024,200,50,100,50", *filler]) + "\n",
    )
    logged = len(contract_sql.READ_LOG)
    r = ingest_file(warehouse, SOURCES["patent_stats"], path, today=TODAY)
    assert _read_how(path.name, logged) == (["scan"] if big else ["frame"])
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    assert not any(n.startswith("ignored extra column") for n in r.notes)
    assert warehouse.execute(
        "SELECT grants_invention, grants_total FROM raw.patent_stats WHERE _row_number = 2"
    ).fetchall() == [(50, 200)]


# ------------------------------------------------------------------ footnotes under the table

FOOTNOTES = [
    "资料来源：省知识产权局",
    "填报说明：1.本表按月报送",
    "1.本表数据为初步统计数",
    "2、首贷企业数含个体工商户",
    "*为初步统计数",
]


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_source_lines_and_numbered_or_starred_footnotes_are_notes_not_records(warehouse, tmp_path, big):
    # Refused as records with eight reasons each ("unknown region code in city_code: '资料来源:…'; missing value in
    # month; …"), burying what the rows are among real faults.
    lines = [HEADER_ZH, "440300,2025-03,12,100,10,2,8,3", *_filler(big), *FOOTNOTES]
    path = _write(tmp_path / "质押_2025.csv", "\n".join(lines) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    notes = {v for v in _rejected(warehouse).values() if not v.startswith(("duplicate", "conflicting"))}
    assert notes == {f"note below the table, not a record: '{n}'" for n in FOOTNOTES}
    assert all(reason_text(n, "pledge_loans", "zh").startswith("表格下方的备注") for n in notes)


# ------------------------------------------------------------------ the words a case register writes

CASES_HEADER = "案件编号,城市代码,案件类型,立案日期,结案日期,处理结果"


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_case_register_s_own_words_for_types_and_results_are_read(warehouse, tmp_path, big):
    # 专利侵权纠纷案件, 假冒专利案, 调解结案, 罚款: each row was refused as "unknown case_type / resolution".
    from pipelines.sources import SOURCES

    lines = [
        CASES_HEADER,
        "深知执〔2025〕1号,440300,专利侵权纠纷案件,2025-03-01,2025-04-01,调解结案",
        "深知执〔2025〕2号,440300,假冒专利案,2025-03-01,,",
        "深知执〔2025〕3号,440300,商标侵权,2025-03-01,2025-05-01,罚款",
        "深知执〔2025〕4号,440300,撤案,2025-03-01,2025-05-01,撤诉",  # 撤案 is a result, not a type: refused
    ]
    lines += [f"X{k},440100,trademark,2025-02-01,2025-02-02,penalty" for k in range(30000 if big else 0)]
    path = _write(tmp_path / "执法案件_2025.csv", "\n".join(lines) + "\n")
    logged = len(contract_sql.READ_LOG)
    r = ingest_file(warehouse, SOURCES["enforcement_cases"], path, partition=2025, today=TODAY)
    assert _read_how(path.name, logged) == (["scan"] if big else ["frame"])
    assert r.rows_read == r.rows_loaded + r.rows_rejected == 4 + (30000 if big else 0)
    assert warehouse.execute(
        "SELECT case_type, resolution FROM raw.enforcement_cases WHERE _row_number < 6 ORDER BY _row_number"
    ).fetchall() == [
        ("patent_infringement_dispute", "mediation"),
        ("counterfeit_patent", None),
        ("trademark", "penalty"),
    ]
    assert list(_rejected(warehouse).values()) == [
        "unknown case_type '撤案' (allowed: patent_infringement_dispute, counterfeit_patent, trademark, ecommerce, "
        "trade_fair, geographical_indication, other)"
    ]


def test_an_html_export_with_a_two_row_header_a_breakdown_and_a_total_loads_the_city_once(warehouse, tmp_path):
    # The shape of a provincial system's export: rowspan/colspan header (质押融资 over 金额 | 笔数), a city, 其中 a
    # county-level city, 总计.
    html = (
        "<html><body><table><tr><th rowspan=2>地区</th><th rowspan=2>城市代码</th><th rowspan=2>月份</th>"
        "<th colspan=2>质押融资</th><th rowspan=2>质押专利数</th><th rowspan=2>质押商标数</th><th rowspan=2>服务企业数"
        "</th><th rowspan=2>首贷企业数</th></tr><tr><th>金额（万元）</th><th>笔数</th></tr>"
        "<tr><td>苏州市</td><td>320500</td><td>2025-03</td><td>300</td><td>30</td><td>20</td><td>6</td><td>16</td>"
        "<td>6</td></tr><tr><td>其中：昆山市</td><td>320583</td><td>2025-03</td><td>100</td><td>10</td><td>10</td>"
        "<td>2</td><td>8</td><td>3</td></tr><tr><td>总计</td><td></td><td></td><td>300</td><td>30</td><td>20</td>"
        "<td>6</td><td>16</td><td>6</td></tr></table></body></html>"
    )
    path = tmp_path / "质押_2025.xls"
    path.write_text(html, encoding="utf-8")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 1, 2)
    assert _by_prefecture(warehouse) == [("320500", date(2025, 3, 1), 300.0)]
    assert _rejected(warehouse)[4].startswith("breakdown row (其中:昆山市) under row 3 (320500 2025-03-01)")
    assert _rejected(warehouse)[5] == "total row ('总计'): a sum of other rows, not a record"


# ------------------------------------------------------------------ a quarter or a year to date in the month column


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_quarter_or_range_in_the_month_column_is_refused_as_several_months(warehouse, tmp_path, big):
    # Refused as "not a date in month: '2025年1-3月'": true, but the office reads that as a typo of the date, when
    # the figure is a quarter's, which no month may hold.
    periods = ["2025年1-3月", "2025年第一季度", "2025年上半年", "2025.01-2025.03", "2025年1月至3月", "2025Q1"]
    lines = [HEADER_ZH, *[f"440300,{p},12,100,10,2,8,3" for p in periods], "440100,2025年13月,8,200,5,1,6,2"]
    path = _write(tmp_path / "质押_2025.csv", "\n".join(lines + _filler(big)) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    reasons = {k: v for k, v in _rejected(warehouse).items() if k < 9}
    assert reasons == {
        **{
            n: f"several months in month: '{p}' is a quarter, half year or year to date, not one month (send each "
            "month's own figures)"
            for n, p in enumerate(periods, start=2)
        },
        8: "not a date in month: '2025年13月' (no such month: months run from 1 to 12)",
    }
    assert reason_text(reasons[2], "pledge_loans", "zh") == (
        "月份是多个月份：'2025年1-3月' 为季度、半年或年初至今的合计，不是单月（请报送各月当月数）"
    )


def test_a_spreadsheet_xml_row_or_cell_index_places_it_where_excel_shows_it(tmp_path):
    # ss:Index skips empty rows and cells; read as a span (at most 1000), row 1500 was put at row 1000.
    from pipelines.ingest.readers import _spreadsheet_xml_book

    path = tmp_path / "x.xls"
    path.write_text(
        '<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
        'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="a"><Table>'
        '<Row ss:Index="1500"><Cell ss:Index="3"><Data ss:Type="Number">5</Data></Cell><Cell><Data ss:Type="String">'
        'x</Data></Cell></Row><Row><Cell><Data ss:Type="String">y</Data></Cell></Row></Table></Worksheet></Workbook>',
        encoding="utf-8",
    )
    assert _spreadsheet_xml_book(path).worksheets[0]._rows == {1500: {3: 5, 4: "x"}, 1501: {1: "y"}}
