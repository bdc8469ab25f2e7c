"""Excel 97-2003 workbooks (.xls, BIFF8), what WPS and old Office save by default and many offices send.

An .xls is read by xlrd and walked by the same workbook logic as an .xlsx (readers._XlsBook presents xlrd's sheets
as openpyxl's), so the same workbook saved as .xls must read exactly as the .xlsx: the whole office corpus is
compared frame by frame, cell conversions cell by cell against openpyxl, and a realistic office workbook end to
end through ingest_file. Each test checks that the .xls path ran (the frame's / ledger's kind is "xls").
"""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime, time
from pathlib import Path

import duckdb
import openpyxl
import pytest
import xlwt
from conftest import write_cities_csv
from test_ingest_loaders import HEADER_ZH, PLEDGE, TODAY
from test_office_files_round2 import SUMMARY_SHEET_REFUSALS
from xls_helpers import save_as_xls, xls_from_xlsx

from pipelines.ingest import readers
from pipelines.ingest.load import ingest_file, partition_of
from pipelines.ingest.readers import IngestError, read_file
from pipelines.sources import SOURCES

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# every committed workbook that openpyxl can open (truncated.xlsx and csv_renamed.xlsx are no workbooks)
CORPUS = sorted(p for p in FIXTURES.glob("*/*/*.xlsx") if p.name not in ("truncated.xlsx", "csv_renamed.xlsx"))


def _read(path: Path, source):
    try:
        raw = read_file(path, source)
    except IngestError as e:
        return ("refused", e.reason)
    return ("read", raw)


@pytest.mark.parametrize("xlsx", CORPUS, ids=[f"{p.parent.name}/{p.name}" for p in CORPUS])
def test_every_corpus_workbook_reads_the_same_saved_as_xls(xlsx, tmp_path):
    # Title rows, 单位 lines, two-row headers, month sheets, instruction / hidden / empty sheets, total rows, notes,
    # codes stored as numbers, dates, scaled number formats, error cells: the same frame, notes, sheets, unit line
    # and context year (or the same refusal) from the .xls as from the .xlsx.
    source = SOURCES[xlsx.parent.name]
    xls = xls_from_xlsx(xlsx, tmp_path / (xlsx.stem + ".xls"))
    want, got = _read(xlsx, source), _read(xls, source)
    assert want[0] == got[0], (want, got)
    if want[0] == "refused":
        assert got == want
        return
    a, b = want[1], got[1]
    assert (a.encoding, b.encoding) == ("xlsx", "xls")
    assert b.df.equals(a.df), (a.df, b.df)
    assert (b.notes, b.sheets, b.unit_line, b.context_year) == (a.notes, a.sheets, a.unit_line, a.context_year)


def test_xls_cells_read_as_openpyxl_reads_the_same_xlsx_cells(tmp_path):
    # Cell by cell: the value and type readers._XlsBook gives for each BIFF cell is what openpyxl's read-only
    # worksheet gives for the same .xlsx cell (ints for whole numbers, datetimes / times for date formats,
    # booleans, error texts, text with its leading zeros), and the number formats say the same.
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "数据"
    cells = [
        (440300, "General"),
        (440300.0, "0"),  # a code stored as a number
        (15600.5, "0.00"),
        (-3.25, "#,##0.00"),
        (0.941, "0.0%"),
        (9800, '0.00,,"百万"'),
        (2025.1, "General"),
        (2025.1, "0.00"),
        (1e15, "General"),
        (123456789012345678.0, "General"),
        (datetime(2025, 3, 1), "yyyy-mm-dd"),
        (datetime(2025, 3, 1, 14, 30), "yyyy-mm-dd hh:mm"),
        (datetime(2025, 12, 1), 'yyyy"年"m"月"'),
        (time(9, 30), "hh:mm"),
        (True, "General"),
        (False, "General"),
        ("0012", "@"),
        ("440300", "General"),
        ("注：本表数据来源于各区", "General"),
        ("#N/A", "General"),
        ("#DIV/0!", "General"),
        ("#VALUE!", "General"),
        ("#REF!", "General"),
    ]
    for j, (v, fmt) in enumerate(cells, start=1):
        c = ws.cell(row=2, column=j, value=v)
        c.number_format = fmt
        if isinstance(v, str) and v.startswith("#"):
            c.data_type = "e"
    xlsx = tmp_path / "cells.xlsx"
    wb.save(xlsx)
    xls = xls_from_xlsx(xlsx, tmp_path / "cells.xls")

    ro = openpyxl.load_workbook(xlsx, read_only=True, data_only=True)
    want = [list(r) for r in ro.worksheets[0].iter_rows()]
    import xlrd

    book = readers._XlsBook(xlrd.open_workbook(str(xls), formatting_info=True, ragged_rows=True))
    got = [list(r) for r in book.worksheets[0].iter_rows()]
    assert len(got) == len(want) == 2
    for w, g in zip(want[1], got[1], strict=True):
        assert (type(g.value), g.value, g.data_type) == (type(w.value), w.value, w.data_type), (w.coordinate, g)
        assert (g.row, g.column) == (w.row, w.column)
        assert readers._xlsx_text(g) == readers._xlsx_text(w), w.coordinate
        assert readers.display_factor(g.number_format) == readers.display_factor(w.number_format)
    ro.close()


def test_a_1904_workbook_reads_its_dates_from_its_own_epoch(tmp_path):
    # Workbooks from old Mac Excel count days from 1904: the same serial is another date.
    wb = xlwt.Workbook(encoding="utf-8")
    wb.dates_1904 = True
    ws = wb.add_sheet("案件")
    for j, h in enumerate(["案件编号", "城市代码", "案件类型", "立案日期", "结案日期", "处理结果"]):
        ws.write(0, j, h)
    day = xlwt.easyxf(num_format_str="yyyy-mm-dd")
    for j, v in enumerate(["A-1", 440300.0, "trademark", date(2025, 3, 1), date(2025, 4, 2), "fined"]):
        ws.write(1, j, v, day if isinstance(v, date) else xlwt.Style.default_style)
    path = tmp_path / "cases_2025.xls"
    wb.save(str(path))
    raw = read_file(path, SOURCES["enforcement_cases"])
    assert raw.encoding == "xls"
    assert raw.df.row(0)[:5] == ("A-1", "440300", "trademark", "2025-03-01", "2025-04-02")


def _office_workbook() -> openpyxl.Workbook:
    """A province office's monthly pledge-loan report as it is sent: a title row, a 单位：万元 line, the header,
    city codes typed as numbers (one merged down over its months), a month as a date cell, an error cell, a 合计
    row and a 注： note below the table."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "质押融资"
    ws.append(["2025年广东省知识产权质押融资统计表"])
    ws.append(["单位：万元"])
    ws.append(HEADER_ZH.replace("(万元)", "").split(","))
    ws.append([440300, "2025-01", 12, 15600.5, 25, 10, 11, 5])
    ws.append([None, "2025-02", 9, 9800, 16, 6, 7, 3])  # 440300 merged down over A4:A5
    ws.merge_cells("A4:A5")
    ws.append([440100, datetime(2025, 1, 1), 8, 1200, 11, 2, 7, 2])
    ws["B6"].number_format = "yyyy-mm"
    ws.append([440100, "2025-02", 7, "#N/A", 10, 2, 6, 1])
    ws["D7"].data_type = "e"
    ws.append([440600, "2025-01", 5, 3500.25, 8, 1, 4, 1])
    ws.append(["合计", None, 41, 30101.25, 70, 21, 35, 12])
    ws.append(["注：数据来源于各市知识产权局报送，2025年1-2月。"])
    return wb


def _ingest_in_fresh_warehouse(path: Path, root: Path):
    root.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    ingest_file(con, SOURCES["cities"], write_cities_csv(root / "ref" / "cities.csv"))
    result = ingest_file(con, PLEDGE, path, partition=partition_of(path, PLEDGE), today=TODAY)
    loaded = con.execute(
        "SELECT * EXCLUDE (_source_file, _file_hash, _ingested_at) FROM raw.pledge_loans ORDER BY _row_number"
    ).fetchall()
    rejected = con.execute("SELECT row_number, reason FROM raw.rejected_rows ORDER BY row_number").fetchall()
    ledger = con.execute(
        "SELECT status, rows_read, rows_loaded, rows_rejected, message, encoding, sheets FROM raw.ingested_files "
        "WHERE source = 'pledge_loans'"
    ).fetchone()
    con.close()
    return result, loaded, rejected, ledger


def test_an_office_workbook_saved_as_xls_loads_as_the_same_workbook_saved_as_xlsx(tmp_path):
    xlsx = tmp_path / "a" / "landing" / "pledge_loans" / "广东省质押融资_2025年.xlsx"
    xlsx.parent.mkdir(parents=True)
    _office_workbook().save(xlsx)
    xls = save_as_xls(_office_workbook(), tmp_path / "b" / "landing" / "pledge_loans" / "广东省质押融资_2025年.xls")
    want = _ingest_in_fresh_warehouse(xlsx, tmp_path / "a")
    got = _ingest_in_fresh_warehouse(xls, tmp_path / "b")
    (w_result, w_loaded, w_rejected, w_ledger), (g_result, g_loaded, g_rejected, g_ledger) = want, got
    assert (g_result.rows_read, g_result.rows_loaded, g_result.rows_rejected) == (7, 4, 3)
    assert g_loaded == w_loaded
    assert g_rejected == w_rejected
    assert g_result.notes == w_result.notes
    assert g_ledger[:5] == w_ledger[:5] and g_ledger[6] == w_ledger[6]
    assert (w_ledger[5], g_ledger[5]) == ("xlsx", "xls")  # the .xls path ran
    # what the office meant: 440300 filled down its months, the date cell a month, amounts in 万元
    assert [(r[0], r[1], r[3]) for r in g_loaded] == [
        ("440300", date(2025, 1, 1), 15600.5),
        ("440300", date(2025, 2, 1), 9800.0),
        ("440100", date(2025, 1, 1), 1200.0),
        ("440600", date(2025, 1, 1), 3500.25),
    ]
    reasons = dict(g_rejected)
    assert reasons[7].startswith("Excel error cell in amount_10k_yuan: '#N/A'")
    assert reasons[9].startswith("total row ('合计')")
    assert reasons[10] == "note below the table, not a record: '注：数据来源于各市知识产权局报送，2025年1-2月。'"
    assert g_result.notes == [
        "filled 1 merged cell range down their rows",
        "skipped 2 title rows above the header",
    ]
    assert json.loads(g_ledger[6]) == [{"sheet": "质押融资", "status": "read", "rows": 7}]


def test_an_amount_merged_over_month_rows_in_an_xls_refuses_those_rows(warehouse, tmp_path):
    # The .xlsx rule (test_office_files_round2): a quarter's amount merged over its months is no month's figure.
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER_ZH.split(","))
    for i in range(4):
        ws.append(["440300", f"2025-0{1 + i}", 12, 900 if i == 0 else (100 if i == 3 else None), 10, 2, 8, 3])
    ws.merge_cells("D2:D4")
    path = save_as_xls(wb, tmp_path / "质押_2025.xls")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (4, 1, 3)
    assert warehouse.execute("SELECT DISTINCT reason FROM raw.rejected_rows").fetchall() == [
        ("value merged over rows 2–4 in amount_10k_yuan: one figure for several records (write each row's own)",)
    ]
    assert warehouse.execute("SELECT encoding FROM raw.ingested_files WHERE file_name = ?", [path.name]).fetchone() == (
        "xls",
    )


def test_a_hidden_month_sheet_of_an_xls_is_read_and_named(warehouse, tmp_path):
    wb = openpyxl.Workbook()
    shown = wb.active
    shown.title = "3月"
    hidden = wb.create_sheet("2月")
    hidden.sheet_state = "hidden"
    for ws in (shown, hidden):
        ws.append(["城市代码", "登记笔数", "质押金额(万元)", "质押专利数", "质押商标数", "服务企业数", "首贷企业数"])
        ws.append([440300, 12, 15600.5, 20, 3, 10, 4])
    path = save_as_xls(wb, tmp_path / "质押融资_2025.xls")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 2, 0)
    assert "sheet '2月' is hidden in the workbook: its 1 row was read as well" in r.notes
    assert warehouse.execute("SELECT month FROM raw.pledge_loans ORDER BY month").fetchall() == [
        (date(2025, 2, 1),),
        (date(2025, 3, 1),),
    ]
    assert warehouse.execute("SELECT encoding FROM raw.ingested_files WHERE file_name = ?", [path.name]).fetchone() == (
        "xls",
    )


@pytest.mark.parametrize(
    ("name", "note"),
    [
        ("质押_2025.csv", "the file is an Excel 97-2003 workbook (named .csv): read as one"),
        ("质押_2025.xlsx", "the file is an Excel 97-2003 workbook (named .xlsx): read as one"),
    ],
)
def test_an_xls_under_another_name_is_read_as_what_it_holds(warehouse, tmp_path, name, note):
    wb = openpyxl.Workbook()
    wb.active.append(HEADER_ZH.split(","))
    wb.active.append([440300, "2025-03", 12, 100, 10, 2, 8, 3])
    xls = save_as_xls(wb, tmp_path / "质押_2025.xls")
    path = xls.rename(tmp_path / name)
    r = ingest_file(warehouse, PLEDGE, path, partition=partition_of(path, PLEDGE), today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (1, 1, 0)
    assert r.notes[0] == note
    assert warehouse.execute("SELECT encoding FROM raw.ingested_files WHERE file_name = ?", [name]).fetchone() == (
        "xls",
    )


def test_an_xlsx_named_xls_is_read_as_an_xlsx(tmp_path):
    path = tmp_path / "质押_2025.xls"
    shutil.copyfile(FIXTURES / "office" / "pledge_loans" / "footer_notes.xlsx", path)
    raw = read_file(path, PLEDGE)
    assert raw.encoding == "xlsx"
    assert raw.notes[0] == "the file is an Excel workbook (named .xls): read as one"


def test_a_damaged_xls_is_refused_as_unreadable(warehouse, tmp_path):
    path = tmp_path / "质押_2025.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(IngestError) as e:
        ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert e.value.reason.startswith("unreadable Excel file (")
    assert warehouse.execute("SELECT status FROM raw.ingested_files WHERE file_name = ?", [path.name]).fetchone() == (
        "failed",
    )


def test_an_xls_is_read_once_for_planning_and_loading(tmp_path, monkeypatch):
    # The workbook cache of .xlsx holds .xls too (planning reads a file for its year, the load reads it again).
    xls = xls_from_xlsx(FIXTURES / "office" / "pledge_loans" / "twelve_month_sheets.xlsx", tmp_path / "m.xls")
    reads = []
    real = readers._read_xls
    monkeypatch.setattr(readers, "_read_xls", lambda p, s: reads.append(p) or real(p, s))
    first = read_file(xls, PLEDGE)
    second = read_file(xls, PLEDGE)
    assert len(reads) == 1 and second.df.equals(first.df) and first.encoding == "xls"


def test_a_summary_sheet_before_the_month_sheet_of_an_xls_names_the_sheets(warehouse, tmp_path):
    # The .xlsx rule (test_office_files_round2): a 汇总 sheet repeating a month's rows; rows on both sheets name
    # each other's sheet, the differing figure loads on neither.
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, amount in (("汇总", 900), ("3月", 300)):
        ws = wb.create_sheet(name)
        ws.append(HEADER_ZH.split(","))
        ws.append([320500, "2025-03", 10, amount, 9, 2, 7, 2])
        if name == "3月":
            ws.append([440300, "2025-02", 3, 90, 2, 1, 2, 1])
        ws.append([440300, "2025-03", 3, 90, 2, 1, 2, 1])
    path = save_as_xls(wb, tmp_path / "质押_2025.xls")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (5, 2, 3)
    got = warehouse.execute("SELECT sheet, row_number, reason FROM raw.rejected_rows ORDER BY row_number").fetchall()
    assert got == SUMMARY_SHEET_REFUSALS
    assert warehouse.execute("SELECT encoding FROM raw.ingested_files WHERE file_name = ?", [path.name]).fetchone() == (
        "xls",
    )


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [("gbk", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe"), ("utf-16-le", b"")],
    ids=["gbk", "utf-8-bom", "utf-16-bom", "utf-16-no-bom"],
)
def test_a_text_table_a_web_system_exported_as_xls_is_read_as_text(warehouse, tmp_path, encoding, bom):
    # "导出Excel" of many web systems writes a tab-separated text table under an .xls name (Excel opens it without
    # a word); Excel's own "Unicode text" is UTF-16 with tabs. Read as the text it is, with a note.
    from test_ingest_loaders import GOOD_ROWS

    text = "\r\n".join([HEADER_ZH.replace(",", "\t"), *(r.replace(",", "\t") for r in GOOD_ROWS)]) + "\r\n"
    path = tmp_path / "质押贷款_2025年1-2月.xls"
    path.write_bytes(bom + text.encode(encoding))
    r = ingest_file(warehouse, PLEDGE, path, partition=partition_of(path, PLEDGE), today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 2, 0), r
    assert "the file is a text table (named .xls): read as one" in r.notes
    loaded = warehouse.execute("SELECT city_code, amount_10k_yuan FROM raw.pledge_loans ORDER BY city_code").fetchall()
    assert loaded == [("440100", 1200.0), ("440300", 3500.5)]


@pytest.mark.parametrize(
    ("content", "what"),
    [
        # (a page holding a table is read: tests/test_office_files_round4.py; one without is what a web system sends
        # when the export failed, a login or error page)
        (
            '<html><head><meta charset="utf-8"></head><body><p>登录已过期，请重新登录</p></body></html>',
            "a web page (HTML table)",
        ),
        ("\n  <TABLE border=1></TABLE>", "a web page (HTML table)"),
        (
            '<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"></Workbook>',
            "an Excel 2003 XML spreadsheet",
        ),
    ],
    ids=["html", "bare-table", "spreadsheetml"],
)
def test_a_web_page_or_xml_spreadsheet_named_xls_is_refused_saying_what_it_is(tmp_path, content, what):
    path = tmp_path / "export.xls"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(IngestError) as e:
        read_file(path, PLEDGE)
    assert e.value.reason.startswith(f"the file is {what}") and "save it as .xlsx" in e.value.reason


def test_binary_bytes_named_xls_without_a_workbook_signature_are_unreadable(tmp_path):
    path = tmp_path / "broken.xls"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(IngestError) as e:
        read_file(path, PLEDGE)
    assert e.value.reason == "unreadable Excel file (neither an Excel 97-2003 workbook nor a text table)"
