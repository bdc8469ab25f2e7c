"""Office files as they are really sent (round 5): what the loader notes on a loaded file reads in 简体中文 and
English as its refusals do (the notes of `ipcity status` and the data-quality page); a county-level programme unit
found only as a 其中 row is told what to send; a city and its county-level unit sent in two files for the same
month are named together."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from rich.console import Console
from test_ingest_loaders import HEADER_ZH, PLEDGE, TODAY, _write
from test_ingest_loaders import scan_filler as _filler

from pipelines.ingest import reason_labels
from pipelines.ingest.load import ingest_file
from pipelines.ingest.reason_labels import reason_text, unknown_reasons
from pipelines.sources import SOURCES
from tests.conftest import write_cities_csv
from tests.test_file_refusals_bilingual import _fits, _template

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u3400-\u9fff]")
NOTE_FILES = [
    "pipelines/ingest/readers.py",
    "pipelines/ingest/validate.py",
    "pipelines/ingest/load.py",
    "pipelines/ingest/contract_sql.py",
]
# functions whose returned text is a note (the month note is the second of _month_from_sheet_name's pair)
NOTE_FUNCTIONS = {"numbered_rows_note", "hidden_note", "city_and_parts_elsewhere", "_far_note"}
# functions returning (frame, note): the note is the pair's second (the month or the city a sheet's name gives)
PAIR_FUNCTIONS = {"_month_from_sheet_name", "_city_from_sheet_name"}


def note_templates() -> set[str]:
    """Every note the loader can write on a loaded file (its template), found in the code itself: what is appended
    or inserted into a ``notes`` list, a ``notes = [...]`` literal, and the note functions' returns."""
    found: set[str] = set()
    for rel in NOTE_FILES:
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef):
                continue
            exprs: list[ast.expr] = []
            for n in ast.walk(fn):
                if (
                    isinstance(n, ast.Call)
                    and isinstance(n.func, ast.Attribute)
                    and n.func.attr in ("append", "insert")
                ):
                    target = n.func.value
                    name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", None)
                    if name == "notes" and n.args:
                        exprs.append(n.args[-1])
                elif isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "notes" for t in n.targets):
                    v = n.value.body if isinstance(n.value, ast.IfExp) else n.value
                    if isinstance(v, ast.List):
                        exprs += v.elts
                elif isinstance(n, ast.Return) and n.value is not None:
                    if fn.name in NOTE_FUNCTIONS:
                        exprs.append(n.value)
                    elif fn.name in PAIR_FUNCTIONS and isinstance(n.value, ast.Tuple):
                        exprs.append(n.value.elts[1])
            for e in exprs:
                if isinstance(e, ast.IfExp):
                    exprs += [e.body, e.orelse]
                    continue
                if isinstance(e, ast.Subscript) and isinstance(e.value, ast.Dict):  # {"\t": "tab-separated", ...}[d]
                    exprs += list(e.value.values)
                    continue
                t = _template(e)
                if t not in ("{}", "None"):  # "{}": a note passed on (note, month_note, numbered_rows_note(...))
                    found.add(t)
    return found


# Every note, by its template, with examples in the code's exact words.
EXAMPLES: dict[str, list[str]] = {
    "skipped {} above the header": ["skipped 2 title rows above the header"],
    "skipped {} above the header{}": ["skipped 1 title row above the header (sheet 3月)"],
    "joined a two-row header": ["joined a two-row header"],
    "tab-separated": ["tab-separated"],
    "semicolon-separated": ["semicolon-separated"],
    "bar-separated": ["bar-separated"],
    "decoded from {}": ["decoded from gb18030"],
    "corrected {} loaded earlier from {}: {}": [
        "corrected 1 row loaded earlier from 质押_1月.csv: 440300|2025-01-01 (amount_10k_yuan)"
    ],
    "truncated last row ({} of {} fields)": ["truncated last row (3 of 8 fields)"],
    "lines ended by CR alone (old Mac line ends): read as line breaks": [
        "lines ended by CR alone (old Mac line ends): read as line breaks"
    ],
    "the file is {} (named {}): read as one": ["the file is an Excel workbook (named .csv): read as one"],
    "the file is {} (named .xls): read as one": [
        "the file is a web page (HTML table) (named .xls): read as one",
        "the file is an Excel 2003 XML spreadsheet (named .xls): read as one",
    ],
    "the file is a text table (named .xls): read as one": ["the file is a text table (named .xls): read as one"],
    "column {}: number format shows the stored value x{}; read as shown": [
        "column D: number format shows the stored value x10000; read as shown"
    ],
    "filled {} down their rows{}": [
        "filled 2 merged cell ranges down their rows",
        "filled 2 merged cell ranges down their rows (sheet 汇总)",
    ],
    "read {} written as serial numbers in the workbook's 1904 date system (Excel for Mac, WPS: day 0 is 1904-01-01){}": [
        "read 2 dates written as serial numbers in the workbook's 1904 date system (Excel for Mac, WPS: day 0 is "
        "1904-01-01)",
        "read 1 date written as serial numbers in the workbook's 1904 date system (Excel for Mac, WPS: day 0 is "
        "1904-01-01) (sheet 3月)",
    ],
    "formula {} without a saved value: {} - refused; open and save the workbook in Excel (or paste values) "
    "so the results are stored": [
        "formula cells without a saved value: D5, D6 (sheet 1月) - refused; open and save the workbook in Excel "
        "(or paste values) so the results are stored"
    ],
    "read {}: {}": ["read 2 sheets: 1月 (3 rows), 2月 (4 rows)"],
    "skipped {}: {}": ["skipped sheets: 说明 (instructions), Sheet3 (empty)", "skipped sheet: 说明 (instructions)"],
    "sheet '{}' is hidden in the workbook: its {} {} read as well": [
        "sheet '1月' is hidden in the workbook: its 12 rows were read as well"
    ],
    "{} hidden in the workbook: read as well (whoever opens the file does not see them; check they are no scratch or "
    "old rows)": [
        "rows 4, 7 and 2 more (hidden or filtered out) hidden in the workbook: read as well (whoever opens the "
        "file does not see them; check they are no scratch or old rows)",
        "row 4 and column C ('备注') hidden in the workbook: read as well (whoever opens the file does not see "
        "them; check they are no scratch or old rows) (sheet 汇总)",
    ],
    "skipped {} holding only a row number (序号){}": [
        "skipped 3 empty rows holding only a row number (序号)",
        "skipped 3 empty rows holding only a row number (序号) (sheet 2月)",
    ],
    "no city column: every row of sheet '{}' is the unit the sheet's name names": [
        "no city column: every row of sheet '深圳市' is the unit the sheet's name names"
    ],
    "no month column: every row is {}-{}, the month {} states{}": [
        "no month column: every row is 2025-03, the month the title above the table states",
        "no month column: every row is 2025-03, the month the file name states (sheet Sheet1)",
    ],
    "converted {} from {} (单位：{} {}) (x{})": [
        "converted amount_10k_yuan from 元 (单位：元 above the table) (x0.0001)",
        "converted amount_10k_yuan from 亿元 (单位：亿元 in a note below the table) (x10000)",
    ],
    "converted {} from another unit (x{})": ["converted amount_10k_yuan from another unit (x0.0001)"],
    "{} read from the unit names in '{}' (no code column)": [
        "city_code read from the unit names in '城市' (no code column)"
    ],
    "ignored extra {}: {}": ["ignored extra columns: 备注, 本年累计登记笔数", "ignored extra column: 备注"],
    "month cells without a year read in {} (stated by the file)": [
        "month cells without a year read in 2025 (stated by the file)"
    ],
    "read {} of {} written with their unit (100万元, 1.2亿) in that unit": [
        "read 2 cells of amount_10k_yuan written with their unit (100万元, 1.2亿) in that unit"
    ],
    "read {} of {} with a footnote marker (12.5*, 12.5①) as the number before it": [
        "read 2 cells of amount_10k_yuan with a footnote marker (12.5*, 12.5①) as the number before it"
    ],
    "read {} of {} written in 万 or 千 (1.2万 = 12000) as the count": [
        "read 1 cell of registrations written in 万 or 千 (1.2万 = 12000) as the count"
    ],
    "read '{}' in {} as the province {}: the file's other rows are units in it": [
        "read '海南' in city_code as the province 460000: the file's other rows are units in it"
    ],
    "read '{}' in {} as the unit {}: its sheet '{}' names the province": [
        "read '吉林' in city_code as the unit 220200: its sheet '吉林省' names the province"
    ],
    "read '{}' in {} as the province {}: its sheet '{}' names the province": [
        "read '海南' in city_code as the province 460000: its sheet '海南省' names the province"
    ],
    "read '{}' in {} as the unit {}: the file's other rows are units of its province": [
        "read '吉林' in city_code as the unit 220200: the file's other rows are units of its province"
    ],
    "read '{}' in {} as the unit {}: the file's other rows lie in its province, where no other unit bears this name": [
        "read '朝阳' in city_code as the unit 110105: the file's other rows lie in its province, where no other unit "
        "bears this name"
    ],
    "read '{}' in {} as the unit {}: the county-level area of this name": [
        "read '鼓楼' in city_code as the unit 320106: the county-level area of this name"
    ],
    "filled {} of {} from the row above: a city cell merged over its districts, left blank below its first "
    "row (each row's district is in that city)": [
        "filled city_code of 2 rows from the row above: a city cell merged over its districts, left blank below its "
        "first row (each row's district is in that city)"
    ],
    "'{}' read as the rows' districts (each row a district's figures, not its city's)": [
        "'区县' read as the rows' districts (each row a district's figures, not its city's)"
    ],
    "read the row of {} and district '{}' as the unit {} (the district)": [
        "read the row of 110100 and district '海淀' as the unit 110108 (the district)"
    ],
    "two-digit years in month ('{}年') read as {} (stated by the file)": [
        "two-digit years in month ('25年') read as 2025 (stated by the file)"
    ],
    "{} derived from {} (the file has no {} column)": [
        "event_id derived from city_code, event_date, audience, title (the file has no 活动编号 column)"
    ],
    "read {} written as no figure (—, -, /, 无) in {} as empty": [
        "read 4 cells written as no figure (—, -, /, 无) in first_time_borrowers as empty"
    ],
    "refused {} (其中, of which) as parts of the row above them: the stated rows are loaded, their "
    "parts are not added to them": [
        "refused 2 breakdown rows (其中, of which) as parts of the row above them: the stated rows are loaded, "
        "their parts are not added to them"
    ],
    "city and county-level rows in two files: {} (this file and {}): the marts add a county-level unit's rows into "
    "its city, so if the city's row includes them they count twice (send the city's row without them, or one of the "
    "two)": [
        "city and county-level rows in two files: 320500/320583 2025-03 (this file and 苏州_3月.csv): the marts add a "
        "county-level unit's rows into its city, so if the city's row includes them they count twice (send the "
        "city's row without them, or one of the two)"
    ],
    "months written in English (Mar-25: Excel's mmm-yy as shown) read as the month they name, a two-digit year as "
    "Excel reads it (00-29: 2000-2029)": [
        "months written in English (Mar-25: Excel's mmm-yy as shown) read as the month they name, a two-digit year as "
        "Excel reads it (00-29: 2000-2029)"
    ],
    "lines ended by CR alone among lines ended by LF or CRLF: each read as a line break": [
        "lines ended by CR alone among lines ended by LF or CRLF: each read as a line break"
    ],
    "an end-of-file mark (Ctrl-Z, 0x1A) after the last line: not a row": [
        "an end-of-file mark (Ctrl-Z, 0x1A) after the last line: not a row"
    ],
    "{} far to the right of the table, after {}: {} - not read as the table's{}": [
        "cell far to the right of the table, after 16,375 empty columns: XFD3 ('备注：待核实') - not read as the table's",
        "cells far to the right of the table, after 220 empty columns: IA1 ('x'), IA9 ('y') - not read as the table's "
        "(sheet 1月)",
    ],
    "{} {} beside the table not read (a pivot table sums other rows){}": [
        "pivot table J1:K4 beside the table not read (a pivot table sums other rows)",
        "pivot tables J1:K4, M1:N9 beside the table not read (a pivot table sums other rows) (sheet 汇总)",
    ],
}


def test_every_note_the_code_can_write_has_an_example_here():
    """A new note (or changed words) fails here until it has an example below, and so a Chinese text."""
    found = note_templates()
    assert len(found) >= 25, sorted(found)  # the scan really finds the loader's notes
    assert found == set(EXAMPLES), {"no example": sorted(found - set(EXAMPLES)), "gone": sorted(set(EXAMPLES) - found)}


NOTE_CASES = [(t, note) for t, examples in EXAMPLES.items() for note in examples]


@pytest.mark.parametrize("template,note", NOTE_CASES, ids=[c[1][:60] for c in NOTE_CASES])
def test_every_note_reads_in_chinese(template, note):
    # (readers._read_workbook adds " (sheet 1月)" to a hidden_note in a workbook of several sheets)
    assert _fits(template, note) or _fits(template + " (sheet {})", note), "not the code's words"
    assert unknown_reasons(note) == [], note
    zh = reason_text(note, "pledge_loans", "zh")
    assert zh != note and CJK.search(zh)
    # a sentence of its own, not the English with a few words swapped (values and file names stay as written)
    assert not re.search(r"\b(the|file|header|column|sheet|rows?|read|and)\b", zh), zh
    assert reason_labels.notes_both(note, "pledge_loans") == f"{zh}\n{note}"


def test_a_file_s_several_notes_read_in_chinese_each():
    message = "; ".join(EXAMPLES["decoded from {}"] + EXAMPLES["ignored extra {}: {}"][:1] + ["tab-separated"])
    assert (
        reason_text(message, "pledge_loans", "zh")
        == "按 gb18030 编码解码；未使用的多余列：备注, 本年累计登记笔数；以制表符分隔"
    )
    assert reason_labels.notes_both("", "pledge_loans") == ""


NOTED_FILE = "\n".join(
    ["2025年3月 专利质押融资统计表", "单位：万元", HEADER_ZH + ",备注", "440300,2025-03,12,3500.5,30,4,10,3,已核"]
)


@pytest.fixture
def noted_warehouse(tmp_path):
    """A real warehouse holding one loaded file the loader noted things on (title rows, GBK, an extra column)."""
    wh = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(wh)) as con:
        ingest_file(con, SOURCES["cities"], write_cities_csv(tmp_path / "ref" / "cities.csv"))
        path = _write(tmp_path / "landing" / "pledge_loans" / "广东_质押_2025年3月.csv", NOTED_FILE + "\n", "gbk")
        r = ingest_file(con, PLEDGE, path, partition=2025, today=TODAY, run_id="run-1")
        assert r.rows_loaded == 1 and r.message
    return wh


def test_ipcity_status_shows_a_loaded_file_s_notes_in_chinese_and_english(noted_warehouse, tmp_path, monkeypatch):
    from pipelines import cli

    with duckdb.connect(str(noted_warehouse), read_only=True) as con:
        (message,) = con.execute(
            "SELECT message FROM raw.ingested_files WHERE status = 'loaded' AND source = 'pledge_loans'"
        ).fetchone()
    assert "skipped 2 title rows above the header" in message and "ignored extra column: 备注" in message
    monkeypatch.setattr(cli, "console", Console(width=2000, force_terminal=False))
    env = {"IPCITY_WAREHOUSE": str(noted_warehouse), "IPCITY_LANDING": str(tmp_path / "landing")}
    out = CliRunner().invoke(cli.main, ["status"], env=env)
    assert out.exit_code == 0, out.output
    assert "已入库文件的说明" in out.output and "广东_质押_2025年3月.csv" in out.output
    assert "跳过表头上方的2行标题" in out.output and "未使用的多余列：备注" in out.output
    assert message in out.output  # the English below, as the ledger keeps it


def test_quality_page_shows_a_loaded_file_s_notes_in_the_chosen_language(noted_warehouse):
    from dashboards.pages.quality import noted_rows, noted_view

    with duckdb.connect(str(noted_warehouse), read_only=True) as con:
        noted = con.sql(
            "SELECT source, file_name, message FROM raw.ingested_files WHERE status = 'loaded' AND message <> '' "
            "AND source = 'pledge_loans'"
        ).pl()
    (zh,) = noted_rows(noted, "zh")
    assert zh["file_name"] == "广东_质押_2025年3月.csv" and "未使用的多余列：备注" in zh["notes"]
    assert "skipped" not in zh["notes"]
    (en,) = noted_rows(noted, "en")
    assert en["notes"] == noted["message"][0]
    assert noted_view(noted, "zh") is not None and noted_view(noted.head(0), "zh") is None


# ------------------------------------------------------------------ a county-level programme unit only under 其中

KUNSHAN_UNDER_SUZHOU = [
    "苏州市,320500,2025-03,30,300,20,6,16,6",
    "其中：昆山市,320583,2025-03,10,100,10,2,8,3",
    "无锡市,320200,2025-03,5,50,5,1,4,1",
]


def _county_unit(con, code: str, name: str) -> None:
    """raw.cities as the real run has it: a county-level programme unit beside the prefectures."""
    con.execute(
        "INSERT INTO raw.cities BY NAME SELECT * REPLACE (? AS city_code, ? AS city_name, ? AS city_name_short, "
        "'county_level_city' AS level) FROM raw.cities WHERE city_code = ?",
        [code, name, name, code[:4] + "00"],
    )


def test_a_programme_unit_only_under_qizhong_is_told_what_to_send(warehouse, tmp_path):
    # 昆山 (320583) is a county-level programme unit: its 其中 row is part of 苏州's 300, so it is not loaded (the
    # marts would add it into 苏州 again) - but 昆山's own figures are then missing, and the reason said only
    # "part of the figures that row states". It now says what to send to have them.
    _county_unit(warehouse, "320583", "昆山市")
    path = _write(
        tmp_path / "江苏_质押_2025年3月.csv", "地区," + HEADER_ZH + "\n" + "\n".join(KUNSHAN_UNDER_SUZHOU) + "\n"
    )
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 2, 1)
    (reason,) = warehouse.execute("SELECT reason FROM raw.rejected_rows").fetchone()
    assert reason.startswith("breakdown row (其中:昆山市) under row 2 (320500 2025-03-01)")
    assert "320583 is a programme unit of its own" in reason and "the row of 320500 without its figures" in reason
    assert unknown_reasons(reason) == []
    zh = reason_text(reason, "pledge_loans", "zh")
    assert "320583 本身是强市建设单位" in zh and "不含其数字的 320500 行" in zh


def test_a_plain_district_under_qizhong_keeps_the_plain_reason(warehouse, tmp_path):
    path = _write(
        tmp_path / "江苏_质押_2025年3月.csv", "地区," + HEADER_ZH + "\n" + "\n".join(KUNSHAN_UNDER_SUZHOU) + "\n"
    )
    ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    (reason,) = warehouse.execute("SELECT reason FROM raw.rejected_rows").fetchone()
    assert "programme unit" not in reason


# ------------------------------------------------------------------ a city and its county in two files, same month


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_city_and_its_county_in_two_files_for_one_month_are_named_together(warehouse, tmp_path, big):
    # 苏州's own total in one file, 昆山 in another, both March: the marts add 昆山 into 苏州 - counted twice if
    # 苏州's 300 already holds it. Each file alone is fine, so both load, silently; now the second names both.
    city = _write(
        tmp_path / "苏州_3月.csv", "\n".join([HEADER_ZH, "320500,2025-03,30,300,20,6,16,6"] + _filler(big)) + "\n"
    )
    county = _write(
        tmp_path / "昆山_3月.csv", f"{HEADER_ZH}\n320583,2025-03,10,100,10,2,8,3\n320583,2025-04,1,10,1,0,1,0\n"
    )
    r1 = ingest_file(warehouse, PLEDGE, city, partition=2025, today=TODAY)
    assert not any(n.startswith("city and county-level rows") for n in r1.notes)
    r2 = ingest_file(warehouse, PLEDGE, county, partition=2025, today=TODAY)
    assert r2.rows_loaded == 2  # loaded: which of the two holds what only the office can tell
    (note,) = [n for n in r2.notes if n.startswith("city and county-level rows")]
    assert "320500/320583 2025-03 (this file and 苏州_3月.csv)" in note and "2025-04" not in note
    assert unknown_reasons(note) == [] and "苏州_3月.csv" in reason_text(note, "pledge_loans", "zh")
    ledger = dict(warehouse.execute("SELECT file_name, message FROM raw.ingested_files").fetchall())
    assert note in ledger["昆山_3月.csv"]


def test_a_county_of_another_city_or_month_is_no_pair(warehouse, tmp_path):
    a = _write(tmp_path / "a.csv", f"{HEADER_ZH}\n320500,2025-03,30,300,20,6,16,6\n")
    b = _write(tmp_path / "b.csv", f"{HEADER_ZH}\n320583,2025-04,10,100,10,2,8,3\n320281,2025-03,1,10,1,0,1,0\n")
    ingest_file(warehouse, PLEDGE, a, partition=2025, today=TODAY)
    r = ingest_file(warehouse, PLEDGE, b, partition=2025, today=TODAY)
    assert not any(n.startswith("city and county-level rows") for n in r.notes)


# ------------------------------------------------------------------ a breakdown shown only by its indent

# 苏州's row, then two of its county-level cities indented under it (no 其中 word): parts of its 300, not records.
INDENTED_ROWS = [
    ("苏州市", "320500,2025-03,30,300,20,6,16,6"),
    ("\u3000\u3000昆山市", "320583,2025-03,10,100,10,2,8,3"),
    ("\u3000\u3000张家港市", "320582,2025-03,5,50,5,1,4,1"),
    ("无锡市", "320200,2025-03,5,50,5,1,4,1"),
]
INDENT_REFUSED = (
    "breakdown row (indented 昆山市) under row 2 (320500 2025-03-01): part of the figures that row states, not a "
    "record of its own (the stated row is loaded)"
)


def _by_prefecture(con) -> list[tuple]:
    """What the marts see: each county-level code summed into its prefecture (int_pledge__unit_year)."""
    return con.execute(
        "SELECT substr(city_code, 1, 4) || '00', sum(amount_10k_yuan) FROM raw.pledge_loans "
        "WHERE _row_number < 100 AND city_code LIKE '32%' GROUP BY ALL ORDER BY 1"
    ).fetchall()


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_districts_indented_under_their_city_are_its_breakdown(warehouse, tmp_path, big):
    # Loaded, 苏州's March was 300 + 100 + 50 = 450 万元 (the indented rows summed into 3205 by the marts), silently.
    lines = ["地区," + HEADER_ZH] + [f"{name},{codes}" for name, codes in INDENTED_ROWS]
    lines += [f"北京市,{line}" for line in _filler(big)]
    path = _write(tmp_path / "江苏_质押_2025年3月.csv", "\n".join(lines) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    rejected = dict(
        warehouse.execute("SELECT row_number, reason FROM raw.rejected_rows WHERE row_number < 6").fetchall()
    )
    assert rejected == {3: INDENT_REFUSED, 4: INDENT_REFUSED}  # the block named by its first row, as 其中 blocks are
    assert _by_prefecture(warehouse) == [("320200", 50), ("320500", 300)]
    assert any(n.startswith("refused 2 breakdown rows") for n in r.notes)
    assert reason_text(INDENT_REFUSED, "pledge_loans", "zh").startswith("“其中”分项行（缩进的昆山市）")


def test_an_excel_indent_level_is_read_as_a_breakdown_too(warehouse, tmp_path):
    import openpyxl
    from openpyxl.styles import Alignment

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["地区", *HEADER_ZH.split(",")])
    for name, codes in INDENTED_ROWS:
        ws.append([name.strip("\u3000"), codes.split(",")[0], codes.split(",")[1], *map(float, codes.split(",")[2:])])
    for row in (3, 4):
        ws.cell(row, 1).alignment = Alignment(indent=2)
    wb.save(path := tmp_path / "江苏_质押_2025年3月.xlsx")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_loaded, r.rows_rejected) == (2, 2)
    assert _by_prefecture(warehouse) == [("320200", 50), ("320500", 300)]


def test_an_indent_without_evidence_of_a_breakdown_keeps_loading(warehouse, tmp_path):
    # indented rows that are no county of the row above (another city; a whole column indented as a style)
    other = [
        "地区," + HEADER_ZH,
        "苏州市,320500,2025-03,30,300,20,6,16,6",
        "\u3000\u3000无锡市,320200,2025-03,5,50,5,1,4,1",
    ]
    styled = ["地区," + HEADER_ZH] + [f"\u3000{name.strip(chr(0x3000))},{codes}" for name, codes in INDENTED_ROWS]
    for i, lines in enumerate((other, styled)):
        path = _write(tmp_path / f"江苏_质押_{i}.csv", "\n".join(lines) + "\n")
        warehouse.execute("DELETE FROM raw.pledge_loans")  # each file on its own
        r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
        assert r.rows_rejected == 0 and r.rows_loaded == len(lines) - 1, r.notes
