"""Office files as they are really sent (round 16). (1) A month column Excel formatted `mmm-yy` and saved as CSV holds
Mar-25, Apr-25: every row was refused "not a date"; English months (Mar-25, Mar 2025, March-2025, Sept. 25) are read,
a two-digit year as Excel reads its own text back. (2) A month no calendar has (2025-13, or 13 under a title stating
the year) is refused saying so, naming the cell as the office typed it (it read "not a date in month: '2025年13月'",
a text the file never held). (3) A CSV whose last line is followed by an end-of-file mark (Ctrl-Z, 0x1A, what
DOS-era tools write) quarantined a row the file never held; lines ended by CR alone among LF lines refused the whole
file with the parser's words. (4) One cell typed far to the right (XFD) padded every row to 16,384 cells: a 2,000-row
sheet took 1.2 GB. (5) An instructions sheet left under its default name (Sheet1: 填表说明 and numbered lines) and a
clerk's pivot table (数据透视表) beside the data refused the whole workbook, or had the pivot's sums judged as records."""

from __future__ import annotations

import zipfile

import openpyxl
import pytest
from office_fixtures import PLEDGE_CODES as CODES
from office_fixtures import ingest_counted as _ingest
from office_fixtures import loaded_of as _loaded
from office_fixtures import reasons_of as _reasons
from office_fixtures import status_of as _status
from test_ingest_loaders import PLEDGE, _write
from test_ingest_loaders import scan_filler as _filler

from pipelines.ingest.readers import EMPTY_COLUMN_RUN, read_file
from pipelines.ingest.reason_labels import notes_both, reason_text

NO_SUCH_MONTH = " (no such month: months run from 1 to 12)"


# --- 1. months in English: Excel's mmm-yy written to a CSV ------------------------------------------------------


@pytest.mark.parametrize("big", [False, True], ids=["polars", "scan"])
def test_months_excel_shows_as_mmm_yy_load_as_those_months(warehouse, tmp_path, big):
    # Before: every row refused "not a date in month: 'Mar-25'".
    months = ["Mar-25", "Apr-2025", "May 2025", "June-25", "Sept. 25", "DEC-25"]
    codes = ["440300", "440100", "440200", "440400", "440500", "440600"]
    lines = [f"{c},{m},2,20,2,0,2,1" for c, m in zip(codes, months, strict=True)]
    path = _write(tmp_path / "质押融资.csv", "\n".join([CODES, *lines, *_filler(big)]) + "\n")
    r = _ingest(warehouse, path)
    assert _loaded(warehouse, path.name) == list(
        zip(codes, ["2025-03", "2025-04", "2025-05", "2025-06", "2025-09", "2025-12"], strict=True)
    )
    assert _reasons(warehouse, path.name) == {}
    assert any(n.startswith("months written in English (Mar-25") for n in r.notes)
    assert "英文书写的月份" in notes_both(_status(warehouse, path.name)[2], "pledge_loans")


def test_a_day_without_its_year_stays_refused(warehouse, tmp_path):
    # 25-Mar is Excel's d-mmm: a day of March, in no stated year.
    path = _write(tmp_path / "质押融资.csv", "\n".join([CODES, "440300,25-Mar,2,20,2,0,2,1"]) + "\n")
    _ingest(warehouse, path, partition=None)
    assert _reasons(warehouse, path.name) == {2: "not a date in month: '25-Mar'"}


# --- 2. a month no calendar has -----------------------------------------------------------------------------------


@pytest.mark.parametrize("big", [False, True], ids=["polars", "scan"])
def test_a_month_thirteen_is_named_as_typed_and_as_no_month(warehouse, tmp_path, big):
    # Before: "not a date in month: '2025年13月'" for a cell holding 13 (the year the title states was put in front).
    lines = ["440300,13,2,20,2,0,2,1", "440100,4,3,30,3,0,3,1"]
    path = _write(
        tmp_path / "质押融资.csv", "\n".join(["2025年知识产权质押融资统计表", CODES, *lines, *_filler(big)]) + "\n"
    )
    _ingest(warehouse, path)
    assert _reasons(warehouse, path.name) == {3: "not a date in month: '13'" + NO_SUCH_MONTH}
    assert reason_text(_reasons(warehouse, path.name)[3], "pledge_loans", "zh") == (
        "月份不是日期：'13'（没有这个月份：月份为1至12）"
    )


# --- 3. an end-of-file mark; lines ended by CR alone among LF lines -----------------------------------------------


@pytest.mark.parametrize("big", [False, True], ids=["polars", "scan"])
@pytest.mark.parametrize("after", ["\x1a", "\x1a\r\n"], ids=["mark", "mark-crlf"])
def test_an_end_of_file_mark_after_the_last_line_is_no_row(warehouse, tmp_path, big, after):
    # Before: a row '\x1a' quarantined (unknown region code, missing values, truncated row): rows the file never held.
    lines = ["440300,2025-03,2,20,2,0,2,1", "440100,2025-04,3,30,3,0,3,1"]
    path = _write(tmp_path / "质押融资.csv", "\r\n".join([CODES, *lines, *_filler(big)]) + "\r\n" + after)
    r = _ingest(warehouse, path)
    assert r.rows_read == 2 + len(_filler(big))
    assert _loaded(warehouse, path.name) == [("440300", "2025-03"), ("440100", "2025-04")]
    assert not any("\x1a" in v or "truncated" in v for v in _reasons(warehouse, path.name).values())
    assert "an end-of-file mark (Ctrl-Z, 0x1A) after the last line: not a row" in r.notes


def test_an_end_of_file_mark_in_a_gbk_file_is_no_row(warehouse, tmp_path):
    path = _write(
        tmp_path / "质押融资.csv",
        "\r\n".join(
            [
                "地市,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数",
                "深圳市,2025-03,2,20,2,0,2,1",
            ]
        )
        + "\r\n\x1a",
        encoding="gbk",
    )
    assert _ingest(warehouse, path).rows_loaded == 1 and _reasons(warehouse, path.name) == {}


@pytest.mark.parametrize("big", [False, True], ids=["polars", "scan"])
def test_lines_ended_by_cr_alone_among_lf_lines_are_lines(warehouse, tmp_path, big):
    # Before: the whole file refused "could not read the file (Error: new-line character seen in unquoted field …)".
    rows = ["440300,2025-03,2,20,2,0,2,1", "440100,2025-04,3,30,3,0,3,1", "440200,2025-04,3,30,3,0,3,1"]
    fill = _filler(big)
    text = CODES + "\r\n" + rows[0] + "\n" + rows[1] + "\r" + rows[2] + "\r\n" + "".join(f"{f}\n" for f in fill)
    if big:  # and one deep in the file, past the head the reader looks at first
        text = text[: len(text) - 300] + text[len(text) - 300 :].replace("\n", "\r", 1)
    path = _write(tmp_path / "质押融资.csv", text)
    r = _ingest(warehouse, path)
    assert _loaded(warehouse, path.name) == [("440300", "2025-03"), ("440100", "2025-04"), ("440200", "2025-04")]
    assert r.rows_read == 3 + len(fill)
    assert "lines ended by CR alone among lines ended by LF or CRLF: each read as a line break" in r.notes


# --- 4. a stray cell far to the right -----------------------------------------------------------------------------


def _stray_book(path, cell: str, rows: int = 200):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["2025年知识产权质押融资统计表"])
    ws.append(CODES.split(","))
    for i in range(rows):
        ws.append([["440300", "440100", "440200"][i % 3], f"2025-{i // 3 % 12 + 1:02d}", 2, 20, 2, 0, 2, 1])
    ws[cell] = "备注：待核实"
    ws.column_dimensions["D"].hidden = True
    wb.save(path)
    return path


def test_a_stray_cell_far_to_the_right_does_not_widen_every_row(tmp_path):
    # Before: 16,385 columns (every row padded to XFD); a 2,000-row sheet took 1.2 GB of memory.
    raw = read_file(_stray_book(tmp_path / "质押.xlsx", "XFD3", rows=36), PLEDGE)
    assert raw.df.width < 8 + EMPTY_COLUMN_RUN + 3
    assert raw.df.height == 36
    assert any(
        n.startswith("cell far to the right of the table, after 16,375 empty columns: XFD3 ('备注：待核实')")
        for n in raw.notes
    )
    # indices into the grid left of the cut are unchanged: the hidden column D is still named as D
    assert any("column D ('质押金额(万元)')" in n for n in raw.notes)


def test_a_sheet_with_a_stray_cell_far_right_loads_its_rows(warehouse, tmp_path):
    path = _stray_book(tmp_path / "质押.xlsx", "XFD3", rows=36)
    r = _ingest(warehouse, path)
    assert r.rows_loaded == 36 and _reasons(warehouse, path.name) == {}
    assert "表格右侧很远处（隔了16,375个空列）的单元格" in notes_both(_status(warehouse, path.name)[2], "pledge_loans")


def test_a_note_a_few_columns_right_is_left_as_it_was(tmp_path):
    raw = read_file(_stray_book(tmp_path / "质押.xlsx", "Z3", rows=6), PLEDGE)
    assert raw.df.width == 26 + 1 and not any("far to the right" in n for n in raw.notes)


# --- 5. an instructions sheet under a default name; a pivot table -------------------------------------------------


def _data_sheet(ws):
    ws.append(CODES.split(","))
    ws.append(["440300", "2025-03", 2, 20, 2, 0, 2, 1])
    ws.append(["440100", "2025-04", 3, 30, 3, 0, 3, 1])


def test_an_instructions_sheet_left_as_sheet1_is_skipped(warehouse, tmp_path):
    # Before: "sheet 'Sheet1' cannot be mapped: no header row in the first 15 rows": the whole workbook refused.
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    for line in ("填表说明：", "1. 金额单位为万元。", "2. 每月10日前报送上月数据。"):
        ws.append([line])
    ws.append([3, "城市代码填写6位行政区划代码。"])
    _data_sheet(wb.create_sheet("Sheet2"))
    path = tmp_path / "质押.xlsx"
    wb.save(path)
    r = _ingest(warehouse, path)
    assert r.rows_loaded == 2
    assert "skipped sheet: Sheet1 (instructions)" in r.notes
    assert "（填表说明）" in notes_both(_status(warehouse, path.name)[2], "pledge_loans")


def test_a_table_under_an_instructions_title_is_no_instructions_sheet(warehouse, tmp_path):
    # a sheet of figures whose header the contract does not know is still refused, naming it
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(["说明"])
    ws.append(["城市", "本月", "同比", "环比"])
    ws.append(["深圳", 3, 0.1, 0.2])
    _data_sheet(wb.create_sheet("Sheet2"))
    path = tmp_path / "质押.xlsx"
    wb.save(path)
    with pytest.raises(Exception, match="sheet 'Sheet1' cannot be mapped"):
        _ingest(warehouse, path)


_PIVOT_REL = (
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId9" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/pivotTable" '
    'Target="../pivotTables/pivotTable1.xml"/></Relationships>'
)


def _with_pivot(src, dst, sheet: int, location: str):
    """``src`` with a pivot table (its relationship and definition, as Excel saves them) on sheet ``sheet``, whose
    cells ``src`` already holds (Excel stores a pivot's shown values in the sheet)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/pivotTables/pivotTable1.xml" ContentType="application/vnd.openxmlformats-'
                    b'officedocument.spreadsheetml.pivotTable+xml"/></Types>',
                )
            z.writestr(item, data)
        z.writestr(f"xl/worksheets/_rels/sheet{sheet}.xml.rels", _PIVOT_REL)
        z.writestr(
            "xl/pivotTables/pivotTable1.xml",
            '<pivotTableDefinition xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" name="数据透视表1" '
            f'cacheId="1" dataCaption="值"><location {location} firstHeaderRow="1" firstDataRow="2" firstDataCol="1"/>'
            "</pivotTableDefinition>",
        )
    return dst


def test_a_pivot_table_sheet_beside_the_data_is_skipped(warehouse, tmp_path):
    # Before: the workbook refused ("sheet 'Sheet2' cannot be mapped"), or, its report filters (城市代码, 月份) read as
    # a header, the pivot's sums judged as records.
    wb = openpyxl.Workbook()
    _data_sheet(wb.active)
    ws = wb.create_sheet("Sheet2")
    ws.append(["城市代码", "(全部)"])
    ws.append(["月份", "(全部)"])
    ws.append([])
    ws.append(["行标签", "求和项:登记笔数", "求和项:质押金额(万元)"])
    ws.append(["440100", 3, 30])
    ws.append(["440300", 2, 20])
    ws.append(["总计", 5, 50])
    wb.save(tmp_path / "plain.xlsx")
    path = _with_pivot(
        tmp_path / "plain.xlsx", tmp_path / "质押.xlsx", 2, 'ref="A4:C7" rowPageCount="2" colPageCount="1"'
    )
    r = _ingest(warehouse, path)
    assert _loaded(warehouse, path.name) == [("440300", "2025-03"), ("440100", "2025-04")]
    assert _reasons(warehouse, path.name) == {}
    assert "skipped sheet: Sheet2 (pivot table)" in r.notes
    assert "（数据透视表）" in notes_both(_status(warehouse, path.name)[2], "pledge_loans")


def test_a_pivot_table_on_the_data_s_sheet_is_left_out_of_its_rows(warehouse, tmp_path):
    # Before: row 4 (440100, 2025-04) refused as a total row, for the pivot's 总计 beside it.
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([*CODES.split(","), None, "行标签", "求和项:质押金额(万元)"])
    ws.append(["440300", "2025-03", 2, 20, 2, 0, 2, 1, None, "440100", 30])
    ws.append(["440300", "2025-04", 3, 30, 3, 0, 3, 1, None, "440300", 50])
    ws.append(["440100", "2025-04", 3, 30, 3, 0, 3, 1, None, "总计", 80])
    wb.save(tmp_path / "plain.xlsx")
    path = _with_pivot(tmp_path / "plain.xlsx", tmp_path / "质押.xlsx", 1, 'ref="J1:K4"')
    r = _ingest(warehouse, path)
    assert r.rows_loaded == 3 and _reasons(warehouse, path.name) == {}
    assert "pivot table J1:K4 beside the table not read (a pivot table sums other rows)" in r.notes
    assert "表格旁的数据透视表 J1:K4 未读取" in notes_both(_status(warehouse, path.name)[2], "pledge_loans")


# --- 6. a file disagreeing with itself: a code and the name beside it, a title's month and the rows' -------------

NAMES_AND_CODES = "城市代码,地市,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"


@pytest.mark.parametrize("big", [False, True], ids=["polars", "scan"])
def test_a_code_whose_name_beside_it_is_another_city_s_is_refused(warehouse, tmp_path, big):
    # Before: the name column was ignored and row 3 loaded 广州's figures under 深圳's code (one column pasted a row
    # off), silently.
    lines = [
        "440300,深圳市,2025-03,2,20,2,0,2,1",
        "440300,广州市,2025-04,3,30,3,0,3,1",
        "440305,深圳,2025-04,1,10,1,0,1,0",  # a district of the named city, by its short name: agrees
        "440200,广东省,2025-04,3,30,3,0,3,1",  # a province's name says nothing of the row
        "440400,珠海市知识产权局,2025-04,3,30,3,0,3,1",  # nor a reporting office's
    ]
    fill = [f.replace(",", ",,", 1) for f in _filler(big)]  # no name beside the filler's codes
    path = _write(tmp_path / "质押融资.csv", "\n".join([NAMES_AND_CODES, *lines, *fill]) + "\n")
    r = _ingest(warehouse, path)
    assert _reasons(warehouse, path.name) == {
        3: "code and name disagree in city_code: 440300, but the name beside it is '广州市' (440100): which unit the "
        "row is cannot be told (correct the code or the name)"
    }
    assert _loaded(warehouse, path.name)[:4] == [
        ("440300", "2025-03"),
        ("440305", "2025-04"),
        ("440200", "2025-04"),
        ("440400", "2025-04"),
    ]
    assert r.rows_rejected >= 1
    assert reason_text(_reasons(warehouse, path.name)[3], "pledge_loans", "zh").startswith(
        "城市代码的代码与名称不一致：代码为 440300，旁边的名称却是“广州市”（440100）"
    )


def test_a_workbook_s_names_are_checked_against_its_codes_too(warehouse, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(NAMES_AND_CODES.split(","))
    ws.append(["440100", "深圳", "2025-03", 2, 20, 2, 0, 2, 1])
    path = tmp_path / "质押.xlsx"
    wb.save(path)
    _ingest(warehouse, path)
    assert _reasons(warehouse, path.name)[2].startswith("code and name disagree in city_code: 440100")


@pytest.mark.parametrize("big", [False, True], ids=["polars", "scan"])
def test_a_title_s_month_that_no_row_has_refuses_the_file(warehouse, tmp_path, big):
    # Before: loaded as April under a title saying March (last month's file copied, its month column left).
    lines = ["440300,2025-04,2,20,2,0,2,1", "440100,2025-04,3,30,3,0,3,1"]
    title = "2025年3月知识产权质押融资统计表"
    path = _write(tmp_path / "质押融资.csv", "\n".join([title, CODES, *lines]) + "\n")
    if big:  # a workbook: the SQL over the reader's frame
        wb = openpyxl.Workbook()
        ws = wb.active
        for line in [title, CODES, *lines]:
            ws.append(line.split(","))
        path = tmp_path / "质押融资.xlsx"
        wb.save(path)
    with pytest.raises(Exception, match="the title above the table states 2025-03 but every row's month is 2025-04"):
        _ingest(warehouse, path)
    assert _status(warehouse, path.name)[0] == 0


def test_a_title_s_month_that_the_rows_have_loads(warehouse, tmp_path):
    lines = ["440300,2025-03,2,20,2,0,2,1", "440100,2025-03,3,30,3,0,3,1"]
    path = _write(
        tmp_path / "质押融资.csv",
        "\n".join(["2025年3月知识产权质押融资统计表", "填报日期：2025年4月8日", CODES, *lines]) + "\n",
    )
    assert _ingest(warehouse, path).rows_loaded == 2


@pytest.mark.parametrize("big", [False, True], ids=["polars", "scan"])
def test_a_csv_saved_from_a_sheet_with_a_stray_cell_far_right_reads_narrow(warehouse, tmp_path, big):
    # Excel's "Save as CSV" pads every line to the used range: before, 500 such lines took 70 s and 1.2 GB to load.
    pad = "," * (16384 - 8)
    lines = [CODES + pad, "440300,2025-03,2,20,2,0,2,1" + pad[:-1] + "备注：待核实"]
    lines += [f"440100,2025-{m:02d},3,30,3,0,3,1" + pad for m in range(1, 13)]
    lines += [f + pad for f in _filler(big)[:70]]  # over 1 MB: the size the SQL scan reads
    lines.append("440200,2025-04,1,200,000,3,0,3,1" + pad)  # an unquoted comma: a field too many, still refused
    # (its ninth field is the table's last filled column: 16,373 empty ones follow)
    path = _write(tmp_path / "质押融资.csv", "\n".join(lines) + "\n")
    raw = read_file(path, PLEDGE)
    assert raw.df.width < 8 + EMPTY_COLUMN_RUN + 6  # (and the ragged row's field, flag, row number)
    note = "cell far to the right of the table, after 16,373 empty columns: XFC2 ('备注：待核实') - not read as the table's"
    assert note in raw.notes
    r = _ingest(warehouse, path)
    assert _loaded(warehouse, path.name)[:2] == [("440300", "2025-03"), ("440100", "2025-01")]
    assert "too many fields: row has 112 fields, header has 111" in _reasons(warehouse, path.name)[len(lines)]
    assert note in r.notes
