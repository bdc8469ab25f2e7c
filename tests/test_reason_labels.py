"""The loader's quarantine reasons shown in Chinese: every kind the loader writes, and every reason real bad files
produce, has a Chinese text that names the column by its Chinese header and keeps the offending value."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines.ingest.load import ingest_file
from pipelines.ingest.reason_labels import column_label, reason_text, unknown_reasons
from pipelines.sources import SOURCES

TODAY = date(2026, 1, 15)
CJK = re.compile(r"[\u3400-\u9fff]")

# One reason of every kind, in the exact words of the code that writes it (validate, load, readers), with the
# Chinese column headers and the values the Chinese text must show.
REASONS = [
    # validate: a cell
    ("pledge_loans", "missing value in city_code", ["城市代码"], []),
    ("pledge_loans", "not a number in amount_10k_yuan: 'abc'", ["质押金额(万元)"], ["'abc'"]),
    ("pledge_loans", "not a whole number in registrations: 1.5", ["登记笔数"], ["1.5"]),
    ("patent_grants", "not a date in grant_date: '2025-13-01'", ["授权公告日"], ["'2025-13-01'"]),
    ("patent_grants", "not a yes/no value in hv_pledged: 'maybe'", ["质押融资"], ["'maybe'"]),
    ("patent_grants", "text too long in applicant_name: 250 characters (max 200)", ["申请人"], ["250", "200"]),
    (
        "pledge_loans",
        "number in scientific notation in city_code: '4.40300E+05' (Excel dropped its digits: format the column as "
        "text and send the file again)",
        ["城市代码"],
        ["'4.40300E+05'"],
    ),
    (
        "training_events",
        "formula-like text in event_id (possible spreadsheet injection): '=cmd|x'",
        ["活动编号"],
        ["'=cmd|x'"],
    ),
    (
        "patent_grants",
        "unknown applicant_type 'alien' (allowed: enterprise, university, research_institute, individual, other)",
        ["申请人类型"],
        ["'alien'", "enterprise, university"],
    ),
    ("pledge_loans", "unknown region code in city_code: '999999'", ["城市代码"], ["'999999'"]),
    ("pledge_loans", "negative value in registrations: -5 (min 0)", ["登记笔数"], ["-5"]),
    (
        "pledge_loans",
        "negative amount in parentheses in amount_10k_yuan: '(1,200)' (accounting style for -1200.0: "
        "amount_10k_yuan cannot be negative)",
        ["质押金额(万元)"],
        ["'(1,200)'", "-1200.0"],
    ),
    ("training_events", "value below minimum in participants: 0 (min 1)", ["参训人数"], ["0", "1"]),
    ("pledge_loans", "absurd value in registrations: 200000 (max 100000)", ["登记笔数"], ["200000", "100000"]),
    ("patent_grants", "future date in grant_date: 2039-01-02", ["授权公告日"], ["2039-01-02"]),
    ("pledge_loans", "month 2024-12-01 outside partition year 2025", ["月份"], ["2024-12-01", "2025"]),
    (
        "pledge_loans",
        "Excel error cell in amount_10k_yuan: '#DIV/0!' (the formula failed: fix it in the workbook)",
        ["质押金额(万元)"],
        ["'#DIV/0!'"],
    ),
    (
        "pledge_loans",
        "ambiguous month in month: '2025.1' is 2025.10 (October, its 0 dropped by Excel) or 2025.1 (January) - "
        "write the month as text (2025-10, 2025年10月)",
        ["月份"],
        ["'2025.1'"],
    ),
    # validate: shares
    (
        "targets",
        "not a share in target_value for R01: 94.1 (a share is 0–1: write 0.941, 94.1% or use a (%) header)",
        ["目标值"],
        ["R01", "94.1"],
    ),
    ("targets", "per cent out of range in target_value for R01: 141.0%", ["目标值"], ["R01", "141.0%"]),
    ("targets", "per cent given in target_value but G01 is not a share", ["目标值"], ["G01"]),
    # validate: a record's values against each other
    ("patent_grants", "grant_date before application_date", ["授权公告日", "申请日"], []),
    ("patent_grants", "lapse_date before grant_date", ["失效日", "授权公告日"], []),
    ("enforcement_cases", "closed_date before filed_date", ["结案日期", "立案日期"], []),
    ("pledge_loans", "first_time_borrowers exceed enterprises_served", ["首贷企业数", "服务企业数"], []),
    ("patent_grants", "kind code U does not match patent type invention", [], ["U", "invention"]),
    ("third_party_evaluations", "cycle_last_year before cycle_first_year", ["周期结束年", "周期起始年"], []),
    ("third_party_evaluations", "site_visit_date after evaluated_on", ["现场核查日期", "评估日期"], []),
    ("targets", "target_year not after baseline_year", ["目标年份", "基期年份"], []),
    (
        "pledge_loans",
        "implausible amount_10k_yuan: 40000000.0 万元 per registration (plausible 1–100000); looks like 元, not 万元",
        ["质押金额(万元)"],
        ["40000000.0", "1–100000"],
    ),
    (
        "pledge_loans",
        "implausible jump in amount_10k_yuan: 350000.0 is 100.0x this unit's median of its previous 12 months "
        "(3500.0); looks like 元, not 万元",
        ["质押金额(万元)"],
        ["350000.0", "100.0", "3500.0"],
    ),
    # whole rows that are no record
    ("pledge_loans", "total row ('合计'): a sum of other rows, not a record", [], ["'合计'"]),
    (
        "pledge_loans",
        "total row: province code 440000 in city_code where a city is expected",
        ["城市代码"],
        ["440000"],
    ),
    ("pledge_loans", "note below the table, not a record: '注：数据来源于各市'", [], ["'注：数据来源于各市'"]),
    ("pledge_loans", "header row repeated inside the table, not a record", [], []),
    (
        "pledge_loans",
        "header row repeated inside the table with its columns in another order, not a record (month / city_code "
        "where the file's header has city_code / month)",
        [],
        ["month / city_code", "city_code / month"],
    ),
    (
        "pledge_loans",
        "read under the header repeated at row 4 whose columns are in another order: send one table per file",
        [],
        ["4"],
    ),
    (
        "pledge_loans",
        "header row repeated inside the table with another unit, not a record (质押金额(亿元) where the file's "
        "header has 质押金额(万元))",
        [],
        ["质押金额(亿元)", "质押金额(万元)"],
    ),
    (
        "pledge_loans",
        "read under the header repeated at row 3 whose unit differs: send one table per file",
        [],
        ["3"],
    ),
    (
        "pledge_loans",
        "value merged over rows 2–4 in amount_10k_yuan: one figure for several records (write each row's own)",
        ["质押金额(万元)"],
        ["2", "4"],
    ),
    (
        "pledge_loans",
        "duplicate record: 320500/2025-03-01 same as row 2 of sheet '汇总'",
        [],
        ["320500/2025-03-01", "2", "汇总"],
    ),
    ("pledge_loans", "too many fields: row has 9 fields, header has 8 (unquoted comma?)", [], ["9", "8"]),
    ("pledge_loans", "truncated row: file ends after 4 of 8 fields", [], ["4", "8"]),
    (
        "pledge_loans",
        "ambiguous month in month: the number 2025.1 is 2025.10 (October) or 2025.1 (January) - write the month as "
        "text (2025-10, 2025年10月)",
        ["月份"],
        ["2025.1"],
    ),
    # duplicates: within the file (validate) and against an earlier file (load)
    ("pledge_loans", "duplicate record: 440300/2025-01-01 same as row 2", [], ["440300/2025-01-01", "2"]),
    ("pledge_loans", "duplicate record: key already loaded from file pledge_2025.csv", [], ["pledge_2025.csv"]),
    # conflicting records within the file (validate.repeated_key_reasons): one other row, on another sheet
    (
        "pledge_loans",
        "conflicting records: 320500/2025-03-01 differs from row 2 of sheet '汇总' in amount_10k_yuan "
        "(no row of this key is loaded)",
        ["质押金额(万元)"],
        ["320500/2025-03-01", "2", "汇总"],
    ),
    # ... and many, some on other sheets, differing in several columns
    (
        "pledge_loans",
        "conflicting records: 440300/2025-01-01 differs from row 3, row 5 of sheet '1月', row 6, row 7, row 8 and 4 "
        "more rows in registrations, amount_10k_yuan (no row of this key is loaded)",
        ["登记笔数", "质押金额(万元)"],
        ["440300/2025-01-01", "第 3 行", "1月", "第 8 行", "4"],
    ),
    # quality.rejections_summary's text for a row without a reason
    ("pledge_loans", "no reason given", [], []),
]


@pytest.mark.parametrize("source,reason,columns,values", REASONS, ids=[r[1][:50] for r in REASONS])
def test_every_reason_kind_reads_in_chinese(source, reason, columns, values):
    zh = reason_text(reason, source, "zh")
    assert not unknown_reasons(reason)
    assert zh != reason and CJK.search(zh)
    for column in columns:
        assert column in zh
    for value in values:
        assert value in zh
    assert reason_text(reason, source, "en") == reason


def test_a_row_with_several_reasons_reads_each_and_joins_them_the_chinese_way():
    reason = "negative value in registrations: -5 (min 0); unknown region code in city_code: '999999'"
    assert (
        reason_text(reason, "pledge_loans", "zh")
        == "登记笔数为负值：-5（下限 0）；城市代码中的行政区划代码未知：'999999'"
    )


def test_a_quoted_value_holding_the_separator_stays_one_reason():
    zh = reason_text("not a number in registrations: 'a; b'", "pledge_loans", "zh")
    assert zh == "登记笔数不是数字：'a; b'"


def test_an_unknown_reason_stays_english_and_never_fails():
    assert reason_text("something new the loader says", "pledge_loans", "zh") == "something new the loader says"
    mixed = reason_text("missing value in city_code; something new", "pledge_loans", "zh")
    assert mixed == "城市代码缺少值；something new"
    assert reason_text(None, None, "zh") == ""


def test_a_column_is_named_by_its_first_chinese_header():
    assert column_label("city_code") == "城市代码"
    assert column_label("amount_10k_yuan", "pledge_loans") == "质押金额(万元)"
    assert column_label("no_such_column") == "no_such_column"


PLEDGE_HEADER = (
    "city_code,month,registrations,amount_10k_yuan,patents_pledged,trademarks_pledged,enterprises_served,"
    "first_time_borrowers"
)
GOOD = "440300,2025-01,12,3500.5,30,4,10,3"
BAD_PLEDGE = [  # one bad row per reason (several rows carry more than one)
    GOOD,
    "440100,2025-02,8,1200,11,2,7,2",
    "440300,2025-03,-5,100,1,1,1,1",
    "440600,2025-02,8,1200,11,2,7,2",
    "440600,2025-02,9,1200,11,2,7,2",  # the key of the row above with other values
    ",2025-04,1,1,1,1,1,1",
    "440300,2025-05,abc,1,1,1,1,1",
    "999999,2025-06,1,1,1,1,1,1",
    "440300,2025-07,1.5,1,1,1,1,1",
    "440100,2039-01,1,1,1,1,1,1",
    "4.40300E+05,2025-08,1,1,1,1,1,1",
    "=cmd,2025-09,1,1,1,1,1,1",
    GOOD,
    "合计,,100,100,1,1,1,1",
    "440000,2025-10,1,1,1,1,1,1",
    "440300,2025-11,200000,1,1,1,1,1",
    "440100,2024-12,1,1,1,1,1,1",
    "440100,2025-12,1,1,1,1,5,9",
    "440100,not-a-month,1,1,1,1,1,1",
    "440100,2025-03,1,#N/A,1,1,1,1",
    '440100,2025-04,1,"(1,200)",1,1,1,1',
    "440100,2025.1,1,1,1,1,1,1",
    "440500,2025-03,1,40000000,1,1,1,1",
    PLEDGE_HEADER,
    "注：数据来源于各市知识产权局",
]
# a ragged row, then the header again in another order with a row under it
BAD_LAYOUT = [
    "440600,2025-01,1,1,1,1,1,1",
    "440600,2025-02,1,1,1,1,1,1,9",
    "month,city_code,registrations,amount_10k_yuan,patents_pledged,trademarks_pledged,enterprises_served,"
    "first_time_borrowers",
    "2025-03,440600,1,1,1,1,1,1",
]
# a key the first file loaded, and a file cut off mid-row (no line end)
BAD_REPEAT = [GOOD, "440600,2025-05,1,1,1,1,1,1", "440600,2025-04,1,1"]
GRANTS_HEADER = (
    "publication_number,application_number,patent_type,kind_code,application_date,grant_date,applicant_name,"
    "applicant_type,region_code,ipc_main,lapse_date,hv_strategic_industry,hv_overseas_family,hv_maintained_10y,"
    "hv_pledged,hv_award,is_high_value"
)
BAD_GRANTS = [
    "CN1B,CN1,invention,B,2020-01-01,2023-01-01,甲公司,enterprise,440300,G06F,,是,否,否,否,否,是",
    "CN2B,CN2,invention,U,2020-01-01,2023-01-02,甲公司,enterprise,440300,G06F,,是,否,否,否,否,是",
    "CN3B,CN3,invention,B,2024-01-01,2023-01-03,甲公司,enterprise,440300,G06F,,是,否,否,否,否,是",
    "CN4B,CN4,invention,B,2020-01-01,2023-01-04,甲公司,alien,440300,G06F,,maybe,否,否,否,否,是",
    "CN5B,CN5,invention,B,2020-01-01,2023-01-05," + "长" * 250 + ",enterprise,440300,G06F,,是,否,否,否,否,是",
    "CN6B,CN6,invention,B,2020-01-01,2023-01-06,甲公司,enterprise,440300,G06F,2022-01-01,是,否,否,否,否,是",
    "CN7B,CN7,invention,B,2020-01-01,2039-01-02,甲公司,enterprise,440300,G06F,,是,否,否,否,否,是",
]


def _write(path: Path, header: str, rows: list[str], end: str = "\n") -> Path:
    path.write_text("\n".join([header, *rows]) + end, encoding="utf-8")
    return path


def test_every_reason_the_loader_writes_for_bad_files_reads_in_chinese(warehouse, tmp_path):
    pledge = SOURCES["pledge_loans"]
    for name, rows, end in [
        ("pledge_2025.csv", BAD_PLEDGE, "\n"),
        ("pledge_layout_2025.csv", BAD_LAYOUT, "\n"),
        ("pledge_repeat_2025.csv", BAD_REPEAT, ""),
    ]:
        ingest_file(warehouse, pledge, _write(tmp_path / name, PLEDGE_HEADER, rows, end), partition=2025, today=TODAY)
    grants = _write(tmp_path / "grants_2023.csv", GRANTS_HEADER, BAD_GRANTS)
    ingest_file(warehouse, SOURCES["patent_grants"], grants, partition=2023, today=TODAY)

    rejected = warehouse.execute("SELECT source, reason FROM raw.rejected_rows").fetchall()
    kinds = {re.split(r"[:(']", piece)[0].strip() for _, reason in rejected for piece in reason.split("; ")}
    assert len(kinds) >= 25, sorted(kinds)  # the files really drive many different rules
    for source, reason in rejected:
        zh = reason_text(reason, source, "zh")
        assert not unknown_reasons(reason), reason
        assert zh != reason and CJK.search(zh), reason


def test_quarantine_grid_shows_the_reason_in_the_chosen_language():
    from dashboards.pages import quality

    rej = pl.DataFrame(
        {
            "source": ["pledge_loans"],
            "reason_code": ["unknown region code in city_code"],
            "reason": ["unknown region code in city_code: '999999'"],
            "rows": [3],
        }
    )
    [zh] = quality.rejection_rows(rej, "zh")
    [en] = quality.rejection_rows(rej, "en")
    assert zh["reason"] == "城市代码中的行政区划代码未知：'999999'"
    assert en["reason"] == "unknown region code in city_code: '999999'"
    assert (zh["rows"], en["rows"]) == (3, 3)
