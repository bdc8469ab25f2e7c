"""Whole-file refusals read in 简体中文 and English wherever people see them: every reason the loader can refuse a
file with has one Chinese text in reason_labels (the row reasons' table), and `ipcity status`, the run summary, the
dashboard's data-quality page and the landing_file_refused alert show it, keeping the file's own details (lines,
headers, bytes). The ledger keeps the English reason as written."""

from __future__ import annotations

import ast
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from rich.console import Console

from pipelines.ingest.load import IngestError, ingest_file
from pipelines.ingest.reason_labels import refusal_both, refusal_text, unknown_refusal
from pipelines.sources import SOURCES
from tests.conftest import write_cities_csv

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u3400-\u9fff]")
TODAY = date(2026, 1, 15)

# Where a refusal's words are written, and which argument of the call they are.
SCANNED = [
    "pipelines/ingest/readers.py",
    "pipelines/ingest/validate.py",
    "pipelines/ingest/load.py",
    "pipelines/ingest/contract_sql.py",
    "pipelines/launcher.py",
    "pipelines/assets/raw.py",
]
REASON_ARG = {
    "IngestError": 1,
    "AmbiguousHeader": 1,
    "HeaderUnitError": 0,
    "record_failure_of": 3,
    "_record_failure": 2,
}
# functions whose returned text is a refusal (load._plain: an unexpected failure; readers._quote_fault: the CSV's quotes)
REASON_FUNCTIONS = {"_plain", "_quote_fault"}

# Every refusal the code can write, by its template (the code's constant words, "{}" where it puts a value), with
# examples in the code's exact words and what the Chinese text must keep of them.
EXAMPLES: dict[str, list[tuple[str, list[str]]]] = {
    "unsupported file type '{}' (use CSV, Parquet, XLSX or XLS)": [
        ("unsupported file type '.txt' (use CSV, Parquet, XLSX or XLS)", [".txt"])
    ],
    "file is empty": [("file is empty", [])],
    "units disagree: group title '{}' states {} over sub-column '{}' stating {}; which the figures are in cannot be "
    "told (state one unit, in the title or the sub-columns)": [
        (
            "units disagree: group title '质押融资（亿元）' states 亿元 over sub-column '金额(万元)' stating 万元; "
            "which the figures are in cannot be told (state one unit, in the title or the sub-columns)",
            ["质押融资（亿元）", "金额(万元)", "万元"],
        )
    ],
    "still arriving: the file changed less than {} s ago, it is read once its copy is complete "
    "(IPCITY_LANDING_SETTLE_S)": [
        (
            "still arriving: the file changed less than 5 s ago, it is read once its copy is complete "
            "(IPCITY_LANDING_SETTLE_S)",
            ["5", "IPCITY_LANDING_SETTLE_S"],
        )
    ],
    "still arriving: the file changed while it was read (its size or modification time), nothing of it is loaded; "
    "it is read again once its copy is complete": [
        (
            "still arriving: the file changed while it was read (its size or modification time), nothing of it is "
            "loaded; it is read again once its copy is complete",
            [],
        )
    ],
    "file has a header but no data rows": [("file has a header but no data rows", [])],
    "the file is {}, named .xls, not a workbook: open it in Excel or WPS and save it as .xlsx, or export CSV": [
        (
            "the file is an Excel 2003 XML spreadsheet, named .xls, not a workbook: open it in Excel or WPS and save it "
            "as .xlsx, or export CSV",
            ["Excel 2003 XML", ".xlsx"],
        ),
        (
            "the file is a web page (HTML table), as some web systems export 'Excel', named .xls, not a workbook: open "
            "it in Excel or WPS and save it as .xlsx, or export CSV",
            ["HTML", ".xlsx"],
        ),
    ],
    "unreadable Excel file (neither an Excel 97-2003 workbook nor a text table)": [
        ("unreadable Excel file (neither an Excel 97-2003 workbook nor a text table)", ["Excel 97-2003"])
    ],
    "unreadable Parquet file ({}: {})": [
        (
            "unreadable Parquet file (ComputeError: parquet: File out of specification)",
            ["ComputeError: parquet: File out of specification"],
        )
    ],
    "unreadable Excel file ({}: {})": [
        ("unreadable Excel file (BadZipFile: File is not a zip file)", ["BadZipFile: File is not a zip file"])
    ],
    "no header row found in the first {} rows: expected columns such as {}": [
        (
            "no header row found in the first 15 rows: expected columns such as city_code, month, registrations",
            ["15", "城市代码", "月份", "登记笔数"],
        )
    ],
    "{} {} under {}: a year-to-date (cumulative) total, not the month's own figure (send each month's own "
    "figures, or put them beside the total under a group titled 本月)": [
        (
            "header '登记笔数' under '本年累计': a year-to-date (cumulative) total, not the month's own figure (send "
            "each month's own figures, or put them beside the total under a group titled 本月)",
            ["'登记笔数'", "'本年累计'", "本月"],
        )
    ],
    "{} {}: a year-to-date (cumulative) total, not the month's own figure (send each month's own figures, or "
    "put them beside the total under a header such as 本月登记笔数)": [
        (
            "headers '本年累计登记笔数', '累计质押金额(万元)': a year-to-date (cumulative) total, not the month's own "
            "figure (send each month's own figures, or put them beside the total under a header such as 本月登记笔数)",
            ["'本年累计登记笔数', '累计质押金额(万元)'", "本月登记笔数"],
        )
    ],
    "{} {} under {}: the figures of an earlier period (a comparison), not the month's own (send the month's own "
    "figures, or put them beside under a group titled 本月)": [
        (
            "headers '登记笔数', '质押金额(万元)' under '上年同期': the figures of an earlier period (a comparison), not "
            "the month's own (send the month's own figures, or put them beside under a group titled 本月)",
            ["'登记笔数', '质押金额(万元)'", "'上年同期'", "本月"],
        )
    ],
    "{}: which one holds the value is not told (keep one sub-column per header, or send the sub-column under the "
    "header's own name)": [
        (
            "header '登记笔数' spans sub-columns '本年累计', '本月' and header '质押金额' spans sub-columns '累计', "
            "'当月': which one holds the value is not told (keep one sub-column per header, or send the sub-column "
            "under the header's own name)",
            ["登记笔数", "'本年累计', '本月'", "质押金额", "'累计', '当月'"],
        )
    ],
    "header spans sub-columns {}": [],
    "the {} states several months ('{}', {}-{} to {}-{}) and every row is {}-{}: the figures are the period's total, "
    "not the month's own (send each month's own figures, one row per month)": [
        (
            "the title above the table states several months ('2025年第一季度', 2025-01 to 2025-03) and every row is "
            "2025-03: the figures are the period's total, not the month's own (send each month's own figures, one row "
            "per month)",
            ["2025年第一季度", "2025-01", "2025-03", "表格上方的标题"],
        ),
        (
            "the file name states several months ('2025年1-3月', 2025-01 to 2025-03) and every row is 2025-03: the "
            "figures are the period's total, not the month's own (send each month's own figures, one row per month)",
            ["2025年1-3月", "文件名"],
        ),
    ],
    "the title above the table states {}-{} but every row's month is {}: which month the figures are cannot be told "
    "(correct the title or the month column)": [
        (
            "the title above the table states 2025-03 but every row's month is 2025-04: which month the figures are "
            "cannot be told (correct the title or the month column)",
            ["2025-03", "2025-04", "标题"],
        )
    ],
    "no month column, and the {} states several months ('{}'): the figures are the period's total, not one month's "
    "(send each month's own figures: a 月份 column, or one file per month)": [
        (
            "no month column, and the file name states several months ('2025年第一季度'): the figures are the period's "
            "total, not one month's (send each month's own figures: a 月份 column, or one file per month)",
            ["2025年第一季度", "文件名", "月份"],
        ),
        (
            "no month column, and the title above the table states several months ('2025年上半年'): the figures are "
            "the period's total, not one month's (send each month's own figures: a 月份 column, or one file per month)",
            ["2025年上半年", "表格上方的标题"],
        ),
    ],
    "figures rising month after month for every unit ({} of them, e.g. {} {}: {} in {}): running totals (本年累计), "
    "not each month's own figures, though no header says 累计 (send each month's own figures; if these are, head the "
    "columns 本月… such as 本月登记笔数)": [
        (
            "figures rising month after month for every unit (2 of them, e.g. 440100 registrations: 3 → 7 → 10 in "
            "2025-01 → 2025-02 → 2025-03): running totals (本年累计), not each month's own figures, though no header "
            "says 累计 (send each month's own figures; if these are, head the columns 本月… such as 本月登记笔数)",
            ["440100", "3 → 7 → 10", "2025-01 → 2025-02 → 2025-03", "登记笔数", "本年累计"],
        )
    ],
    "a WPS spreadsheet (.et) that is not readable as an Excel workbook: open it in WPS and save it as .xlsx "
    "(文件 → 另存为 → Excel 工作簿), or export CSV": [
        (
            "a WPS spreadsheet (.et) that is not readable as an Excel workbook: open it in WPS and save it as .xlsx "
            "(文件 → 另存为 → Excel 工作簿), or export CSV",
            [".et", ".xlsx"],
        )
    ],
    "quarters or half years as columns (row {}: {}): the table needs one row per unit and period, the period in a "
    "column of its own (年份 or 月份) and each figure beside it; send each month's (or year's) own figures down the rows": [
        (
            "quarters or half years as columns (row 1: '一季度', '二季度', '三季度' …): the table needs one row per unit "
            "and period, the period in a column of its own (年份 or 月份) and each figure beside it; send each month's "
            "(or year's) own figures down the rows",
            ["'一季度', '二季度', '三季度' …", "第 1 行"],
        )
    ],
    "years as columns (row {}: {}): the table needs one row per unit and period, the period in a column of its own "
    "(年份 or 月份) and each figure beside it; send the years down the rows, not across": [
        (
            "years as columns (row 1: '2023年', '2024年'): the table needs one row per unit and period, the period in a "
            "column of its own (年份 or 月份) and each figure beside it; send the years down the rows, not across",
            ["'2023年', '2024年'", "第 1 行"],
        )
    ],
    "months as columns (row {}: {}): the table needs one row per city and month, the month in a column of its own "
    "(月份) and each figure beside it; send the months down the rows, not across": [
        (
            "months as columns (row 2: '1月', '2月', '3月' …): the table needs one row per city and month, the month in "
            "a column of its own (月份) and each figure beside it; send the months down the rows, not across",
            ["'1月', '2月', '3月' …", "2"],
        )
    ],  # a piece of the reason above (readers._refuse_spanned_headers)
    "sheets use different units for {}: sheet '{}' header '{}' differs from '{}' on an earlier sheet; send one unit "
    "per file": [
        (
            "sheets use different units for amount_10k_yuan: sheet '2月' header '质押金额(亿元)' differs from "
            "'质押金额(万元)' on an earlier sheet; send one unit per file",
            ["质押金额(万元)", "2月", "质押金额(亿元)"],
        )
    ],
    "{} {} cannot be mapped: no header row in the first {} rows (expected columns such as {}); remove them or "
    "move them to their own file": [
        (
            "sheets '说明2', '备注' cannot be mapped: no header row in the first 15 rows (expected columns such as "
            "city_code, month); remove them or move them to their own file",
            ["'说明2', '备注'", "15", "城市代码"],
        )
    ],
    "workbook's first sheet is empty": [("workbook's first sheet is empty", [])],
    "workbook has no data sheet ({})": [
        (
            "workbook has no data sheet (说明: skipped: instructions, Sheet2: skipped: empty)",
            ["说明", "Sheet2", "填表说明"],
        )
    ],
    "sheets state different units: {}": [
        ("sheets state different units: '1月' 单位：万元, '2月' 单位：元", ["'1月' 单位：万元", "'2月' 单位：元"])
    ],
    "sheet '{}' has no month column and its year cannot be told (name the sheet 2025年1月)": [
        ("sheet '3月' has no month column and its year cannot be told (name the sheet 2025年1月)", ["3月", "2025年1月"])
    ],
    "not valid UTF-16 text (byte {}): cannot decode": [("not valid UTF-16 text (byte 120): cannot decode", ["120"])],
    "mixed text encodings: line {} is UTF-8 but line {} is not; save the whole file in one encoding": [
        ("mixed text encodings: line 2 is UTF-8 but line 5 is not; save the whole file in one encoding", ["2", "5"])
    ],
    "not valid UTF-8 or GBK text (byte {}): cannot decode": [
        ("not valid UTF-8 or GBK text (byte 77): cannot decode", ["77"])
    ],
    'the file ends inside a quoted field ("...) - it was probably cut off': [
        ('the file ends inside a quoted field ("...) - it was probably cut off', [])
    ],
    "malformed CSV ({}: {})": [("malformed CSV (ComputeError: could not parse)", ["ComputeError: could not parse"])],
    'malformed CSV at line {}: a field starts with a quote (") but goes on after its closing quote (quote the whole '
    'field and write each quote in it twice: """快速预审""讲座", or remove the quotes)': [
        (
            'malformed CSV at line 7: a field starts with a quote (") but goes on after its closing quote (quote the '
            'whole field and write each quote in it twice: """快速预审""讲座", or remove the quotes)',
            ["7", '"""快速预审""讲座"'],
        )
    ],
    'malformed CSV at line {}: a quote (") opens a field that is never closed, so every line after it was read into '
    'that field (close it, or write a quote inside a quoted field twice: "")': [
        (
            'malformed CSV at line 3: a quote (") opens a field that is never closed, so every line after it was read '
            'into that field (close it, or write a quote inside a quoted field twice: "")',
            ["3"],
        )
    ],
    "header '{}': per cent given for {}, which is not a share": [
        ("header '登记笔数(%)': per cent given for registrations, which is not a share", ["登记笔数(%)", "登记笔数"])
    ],
    "header '{}': unit '{}' cannot be converted into {} (expected {})": [
        (
            "header '质押金额(美元)': unit '美元' cannot be converted into amount_10k_yuan (expected one of 元, 万元, "
            "亿元)",
            ["质押金额(美元)", "美元", "质押金额(万元)", "元, 万元, 亿元"],
        ),
        (
            "header '登记笔数(万元)': unit '万元' cannot be converted into registrations (expected a count)",
            ["登记笔数(万元)", "万元", "登记笔数"],
        ),
    ],
    "two tables side by side: columns {}–{} and {}–{}, with the empty column band {}–{} between them, each with a "
    "'{}' column; which one is this file's table cannot be told (send each table in its own file or sheet)": [
        (
            "two tables side by side: columns A–H and J–Q, with the empty column band I–I between them, each with a "
            "'城市代码' column; which one is this file's table cannot be told (send each table in its own file or sheet)",
            ["A–H", "J–Q", "I–I", "城市代码"],
        )
    ],
    "column '{}' appears twice (header '{}' repeated)": [
        ("column 'city_code' appears twice (header '城市代码' repeated)", ["城市代码"])
    ],
    "column '{}' appears twice (as '{}' and another header)": [
        ("column 'city_code' appears twice (as '地市代码' and another header)", ["城市代码", "地市代码"])
    ],
    "unit conflict: header '{}' says {} but the {} says 单位：{}": [
        (
            "unit conflict: header '质押金额(亿元)' says 亿元 but the line above the table says 单位：元",
            ["质押金额(亿元)", "亿元", "单位：元", "上方"],
        ),
        (
            "unit conflict: header '质押金额(亿元)' says 亿元 but the note below the table says 单位：元",
            ["质押金额(亿元)", "单位：元", "下方"],
        ),
    ],
    "the unit the table states gives counts in {} (单位：{}): the counts ({}) are loaded as whole numbers, not "
    "in tens of thousands (send each count itself, e.g. 12500 not 1.25)": [
        (
            "the unit the table states gives counts in 万笔 (单位：万笔、亿元): the counts ('登记笔数', "
            "'质押专利数') are loaded as whole numbers, not in tens of thousands (send each count itself, e.g. 12500 "
            "not 1.25)",
            ["万笔", "单位：万笔、亿元", "'登记笔数', '质押专利数'", "12500"],
        )
    ],
    "missing required {}: {}": [
        (
            "missing required columns: month (or 月份 / 统计月份); amount_10k_yuan (or 质押金额(万元) / 金额)",
            ["月份", "统计月份", "质押金额(万元)", "金额"],
        ),
        ("missing required column: month", ["月份"]),
        ("missing required column(s): month", ["月份"]),  # a ledger row written before: still read
    ],
    "administrative divisions (raw.cities) are not loaded yet; load cities first": [
        ("administrative divisions (raw.cities) are not loaded yet; load cities first", ["raw.cities"])
    ],
    "cannot decode the text (byte {}, {}): save the file as UTF-8 or GBK": [
        ("cannot decode the text (byte 12, gbk): save the file as UTF-8 or GBK", ["12", "gbk"])
    ],
    "the file is too large to read in memory": [("the file is too large to read in memory", [])],
    "could not read the file ({}: {})": [("could not read the file (KeyError: 'amount')", ["KeyError: 'amount'"])],
    "cannot tell the data year: no readable {} dates in the file and no single data year in its name (name it like "
    "2025年12月_..., or fill the dates)": [
        (
            "cannot tell the data year: no readable month dates in the file and no single data year in its name (name "
            "it like 2025年12月_..., or fill the dates)",
            ["月份", "2025年12月_..."],
        )
    ],
    "data year {} is outside the years the pipeline holds ({}–{})": [
        ("data year 2031 is outside the years the pipeline holds (2019–2025)", ["2031", "2019–2025"])
    ],
    "could not load the file ({}: {})": [
        ("could not load the file (IOException: disk full)", ["IOException: disk full"]),
        ("could not load the file (ValueError: " + "x" * 463, ["ValueError: " + "x" * 463]),  # cut at 500 characters
    ],
}


def _template(node: ast.expr) -> str:
    """A reason expression's words: constants as written, every computed part "{}"."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_template(v) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left), _template(node.right)
        return left + right if not (left.endswith("{}") and right.startswith("{}")) else left + right[2:]
    if isinstance(node, ast.Subscript):  # "..."[:500]
        return _template(node.value)
    return "{}"


def _callee(call: ast.Call) -> str | None:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def refusal_templates() -> set[str]:
    """Every refusal reason the code can write (its template), found in the code itself."""
    found: set[str] = set()
    for rel in SCANNED:
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            exprs: list[ast.expr] = []
            if fn.name in REASON_FUNCTIONS:
                exprs += [r.value for r in ast.walk(fn) if isinstance(r, ast.Return) and r.value is not None]
            for call in (n for n in ast.walk(fn) if isinstance(n, ast.Call)):
                pos = REASON_ARG.get(_callee(call) or "")
                if pos is None or len(call.args) <= pos:
                    continue
                arg = call.args[pos]
                if isinstance(arg, ast.Name):  # a reason assigned above in the same function
                    exprs += [
                        a.value
                        for a in ast.walk(fn)
                        if isinstance(a, ast.Assign)
                        and any(isinstance(t, ast.Name) and t.id == arg.id for t in a.targets)
                    ]
                else:
                    exprs.append(arg)
            # the sub-column spans joined into the spanned-header refusal
            if fn.name == "_refuse_spanned_headers":
                found.add("header spans sub-columns {}")
            for e in exprs:
                t = _template(e)
                if t not in ("{}", "None"):  # "{}": a reason passed on (e.reason, str(e), _plain(e), fault)
                    found.add(t)
    return found


def _fits(template: str, reason: str) -> bool:
    pattern = "".join(".*" if part == "{}" else re.escape(part) for part in re.split(r"(\{\})", template))
    return re.fullmatch(pattern, reason, flags=re.DOTALL) is not None


def test_every_refusal_the_code_can_write_has_an_example_here():
    """A new refusal (or changed words) fails here until it has an example below, and so a Chinese text."""
    found = refusal_templates()
    assert len(found) >= 30, sorted(found)  # the scan really finds the readers' refusals
    assert found == set(EXAMPLES), {"no example": sorted(found - set(EXAMPLES)), "gone": sorted(set(EXAMPLES) - found)}


CASES = [(t, reason, keep) for t, examples in EXAMPLES.items() for reason, keep in examples]


@pytest.mark.parametrize("template,reason,keep", CASES, ids=[c[1][:60] for c in CASES])
def test_every_refusal_reads_in_chinese_keeping_its_details(template, reason, keep):
    # (the raw asset cuts its reason at 500 characters, closing bracket and all)
    assert _fits(template, reason) or (len(reason) == 500 and _fits(template, reason + ")")), "not the code's words"
    assert not unknown_refusal(reason), f"no Chinese text for: {reason}"
    zh = refusal_text(reason, "zh", "pledge_loans")
    assert zh != reason and CJK.search(zh)
    # the Chinese is a sentence of its own, not the English with a few words swapped
    own = zh.replace("raw.cities", "")
    for value in keep:  # the file's own words (an exception's text) may be English
        own = own.replace(value, "")
    assert not re.search(r"\b(the|file|header|column|sheet|cannot|and)\b", own), zh
    for value in keep:
        assert value in zh, (value, zh)
    assert refusal_text(reason, "en", "pledge_loans") == reason
    assert refusal_both(reason, "pledge_loans") == f"{zh}\n{reason}"


def test_an_unknown_refusal_stays_english_and_never_fails():
    assert refusal_text("something new went wrong", "zh") == "something new went wrong"
    assert refusal_both("something new went wrong") == "something new went wrong"
    assert refusal_text(None, "zh") == ""


PLEDGE_HEADER = (
    "city_code,month,registrations,amount_10k_yuan,patents_pledged,trademarks_pledged,enterprises_served,"
    "first_time_borrowers"
)
# Bad landing files, each refused whole by the real readers, with what the Chinese must name of it.
BAD_FILES: list[tuple[str, bytes, list[str]]] = [
    ("pledge_empty_2025.csv", b"", ["文件为空"]),
    ("pledge_header_only_2025.csv", (PLEDGE_HEADER + "\n").encode(), ["没有数据行"]),
    (
        "pledge_no_month_2025.csv",
        "城市代码,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数\n440300,1,1,1,1,1,1\n".encode(),
        ["缺少必填列", "月份"],
    ),
    (
        "pledge_dollars_2025.csv",
        "城市代码,月份,登记笔数,质押金额(美元),质押专利数,质押商标数,服务企业数,首贷企业数\n440300,2025-01,1,1,1,1,1,1\n".encode(),
        ["质押金额(美元)", "美元", "无法换算"],
    ),
    (
        "pledge_twice_2025.csv",
        (PLEDGE_HEADER + ",city_code\n440300,2025-01,1,1,1,1,1,1,440300\n").encode(),
        ["城市代码", "出现了两次"],
    ),
    ("pledge_junk_2025.csv", b"a,b,c\n1,2,3\n4,5,6\n", ["找不到表头行", "城市代码"]),
    (
        "pledge_mixed_2025.csv",
        PLEDGE_HEADER.encode() + "\n440300,2025-01,1,1,1,1,1,1\n# 深圳\n".encode() + "# 广州\n".encode("gbk"),
        ["文本编码混用", "第 3 行", "第 4 行"],
    ),
    (
        "pledge_quote_2025.csv",
        (
            PLEDGE_HEADER + '\n440300,2025-01,1,1,1,1,1,1\n440100,"2025-02,1,1,1,1,1,1\n440600,2025-03,1,1,1,1,1,1\n'
        ).encode(),
        ["CSV 格式错误", "第 3 行"],
    ),
    (
        "pledge_export_2025.xls",
        b"<html><body><p>session expired</p></body></html>",  # an export that failed (a page with a table is read)
        ["网页", ".xlsx"],
    ),
    ("pledge_2025.docx", b"PK\x03\x04 a Word file", ["不支持的文件类型", ".docx"]),
]


@pytest.fixture
def refused_warehouse(tmp_path):
    """A real warehouse where each bad file was refused by the real loader (its ledger holds the reasons)."""
    wh = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(wh)) as con:
        ingest_file(con, SOURCES["cities"], write_cities_csv(tmp_path / "ref" / "cities.csv"))
        landing = tmp_path / "landing" / "pledge_loans"
        landing.mkdir(parents=True)
        for name, content, _ in BAD_FILES:
            path = landing / name
            path.write_bytes(content)
            with pytest.raises(IngestError):
                ingest_file(con, SOURCES["pledge_loans"], path, partition=2025, today=TODAY, run_id="run-bad")
    return wh


def _ledger(wh: Path) -> dict[str, str]:
    with duckdb.connect(str(wh), read_only=True) as con:
        rows = con.execute("SELECT file_name, message FROM raw.ingested_files WHERE status = 'failed'").fetchall()
    return dict(rows)


def test_real_refused_files_read_in_chinese_and_the_ledger_keeps_the_english(refused_warehouse):
    ledger = _ledger(refused_warehouse)
    assert set(ledger) == {name for name, _, _ in BAD_FILES}
    for name, _, expected in BAD_FILES:
        reason = ledger[name]
        assert not unknown_refusal(reason), reason
        zh = refusal_text(reason, "zh", "pledge_loans")
        for text in expected:
            assert text in zh, (name, zh)


def test_ipcity_status_shows_each_refusal_in_chinese_and_english(refused_warehouse, tmp_path, monkeypatch):
    from pipelines import cli

    # wide enough that no reason is wrapped across lines of the table
    monkeypatch.setattr(cli, "console", Console(width=2000, force_terminal=False))
    env = {"IPCITY_WAREHOUSE": str(refused_warehouse), "IPCITY_LANDING": str(tmp_path / "landing")}
    out = CliRunner().invoke(cli.main, ["status"], env=env)
    assert out.exit_code == 0, out.output
    ledger = _ledger(refused_warehouse)
    for name, _, expected in BAD_FILES:
        assert name in out.output
        assert refusal_text(ledger[name], "zh", "pledge_loans") in out.output
        assert ledger[name].splitlines()[0][:60] in out.output
        for text in expected:
            assert text in out.output


def test_run_summary_refusals_show_both_languages(monkeypatch):
    import io

    from pipelines import cli

    buf = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=buf, width=2000, force_terminal=False))
    reason = "data year 2031 is outside the years the pipeline holds (2019–2025)"
    cli._print_still_refused([f"pledge_loans/pledge_2031.csv: {reason}"])
    text = buf.getvalue()
    assert "数据年份 2031 不在本系统所涵盖的年份（2019–2025）之内" in text and reason in text


def test_refused_file_alert_reads_in_chinese_for_engineers(refused_warehouse):
    from pipelines.alerts.conditions import landing_file_refused
    from pipelines.alerts.config import load_rules

    with duckdb.connect(str(refused_warehouse), read_only=True) as con:
        conditions = landing_file_refused(con, load_rules())
    ledger = _ledger(refused_warehouse)
    assert {c.subject_key for c in conditions} == {f"pledge_loans/{name}" for name, _, _ in BAD_FILES}
    for c in conditions:
        name = c.subject_key.split("/", 1)[1]
        assert name in c.title_zh and name in c.title_en
        assert refusal_text(ledger[name], "zh", "pledge_loans")[:200] in c.title_zh
        assert ledger[name][:200] in c.title_en
        assert c.detail["message"] == ledger[name]  # the record stays the English


def test_quality_page_lists_refused_files_in_the_chosen_language(refused_warehouse, tmp_path):
    from dashboards import queries
    from dashboards.pages import quality
    from dashboards.snapshot import Snapshot
    from pipelines.snapshot_writer import publish_snapshot

    snap_path = tmp_path / "snapshot.duckdb"
    publish_snapshot(refused_warehouse, snap_path, run_id="run-bad")
    refused = queries.refused_files(Snapshot(snap_path))
    assert refused is not None and refused.height == len(BAD_FILES)
    ledger = _ledger(refused_warehouse)
    zh = {r["file_name"]: r for r in quality.refused_rows(refused, "zh")}
    en = {r["file_name"]: r for r in quality.refused_rows(refused, "en")}
    for name, _, expected in BAD_FILES:
        assert en[name]["reason"] == ledger[name]
        assert zh[name]["reason"] == refusal_text(ledger[name], "zh", "pledge_loans")
        assert all(text in zh[name]["reason"] for text in expected)
        assert zh[name]["source"] != "pledge_loans" and CJK.search(zh[name]["source"])
    view = quality.refused_view(refused, "zh")
    assert view is not None and view.id == "dq-refused"
    assert quality.refused_view(refused.clear(), "zh") is None
