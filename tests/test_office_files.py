"""The office-file corpus (issue 12): files shaped like what city and province offices actually send, and exactly
what the loader does with each — the right value, a quarantine with its specific reason, or a named file failure.

The files are built by tests/fixtures/make_office_files.py. For every case: the partition year is the one
`partition_of` tells from the file (never a sending date or the digits of a serial), rows read = rows loaded +
rows quarantined in the result, the raw table, raw.rejected_rows and raw.ingested_files, and a control file of
the same source ingested right after still loads whole (one bad file never blocks another).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from pipelines.ingest.load import ingest_file, partition_of, record_unreadable_year
from pipelines.ingest.readers import IngestError
from pipelines.sources import SOURCES

OFFICE = Path(__file__).resolve().parent / "fixtures" / "office"
TODAY = date(2026, 1, 15)
_SHARE = "(a share is 0–1: write 0.941, 94.1% or use a (%) header)"
_ERR = "(the formula failed: fix it in the workbook)"
_SZ = {"city_code": "440300", "month": date(2025, 3, 1), "registrations": 12, "amount_10k_yuan": 15600.5}
_SU = {"city_code": "320500", "month": date(2025, 3, 1), "registrations": 8, "amount_10k_yuan": 9800.0}


@dataclass(frozen=True)
class Case:
    id: str
    file: str  # <source>/<file name> under tests/fixtures/office
    year: int | None = 2025  # the partition partition_of must tell (None: unpartitioned source, or no year)
    error: str | re.Pattern | None = None  # whole-file failure: the reason
    rejected: dict = field(default_factory=dict)  # row -> reason (rows of later sheets: sheet, row via sheets)
    loaded: dict = field(default_factory=dict)  # _row_number -> subset of stored values
    notes: tuple[str, ...] | None = None  # the result's notes, exactly (None: not checked)
    rejected_sheet: dict = field(default_factory=dict)  # row -> sheet name in raw.rejected_rows
    before: tuple[str, ...] = ()  # files of the same source ingested first
    check: Callable | None = None  # further assertions on the warehouse

    @property
    def source(self) -> str:
        return self.file.split("/")[0]


def _twelve_months(con, name):
    months = con.execute(
        "SELECT DISTINCT month FROM raw.pledge_loans WHERE _source_file = ? ORDER BY 1", [name]
    ).fetchall()
    assert [m[0] for m in months] == [date(2025, m, 1) for m in range(1, 13)]
    (sheets,) = con.execute("SELECT sheets FROM raw.ingested_files WHERE file_name = ?", [name]).fetchone()
    sheets = json.loads(sheets)
    assert sheets[0] == {"sheet": "填报说明", "status": "skipped: instructions", "rows": 0}
    assert [(s["sheet"], s["status"], s["rows"]) for s in sheets[1:]] == [(f"{m}月", "read", 2) for m in range(1, 13)]


def _closed_not_twice(con, name):
    rows = con.execute("SELECT case_id, closed_date FROM raw.enforcement_cases ORDER BY case_id").fetchall()
    assert rows == [
        ("深知执罚〔2025〕12号", date(2025, 4, 1)),
        ("深知执罚〔2025〕13号", date(2025, 4, 2)),
        ("深知执罚〔2025〕14号", date(2025, 4, 3)),
    ]
    assert con.execute("SELECT count(*) FROM raw.corrections WHERE new_file = ?", [name]).fetchone() == (3,)


def _correction_recorded(con, name):
    rows = con.execute(
        "SELECT city_code, registrations, amount_10k_yuan, _source_file FROM raw.pledge_loans ORDER BY city_code"
    ).fetchall()
    assert rows == [("320500", 9, 10800.0, name), ("440300", 12, 15600.5, "2025年3月_质押融资.csv")]
    old, new, changed = con.execute(
        "SELECT old_values, new_values, changed_columns FROM raw.corrections WHERE new_file = ?", [name]
    ).fetchone()
    assert (json.loads(old)["amount_10k_yuan"], json.loads(new)["amount_10k_yuan"]) == (9800.0, 10800.0)
    assert changed == "registrations, amount_10k_yuan, patents_pledged, enterprises_served"
    assert con.execute("SELECT rows_corrected FROM raw.ingested_files WHERE file_name = ?", [name]).fetchone() == (1,)


CASES = [
    # ------------------------------------------------------------------------- units and magnitudes
    Case(
        "district-yuan-under-wan-header",
        "pledge_loans/district_yuan_under_wan_header.csv",
        rejected={
            2: "implausible amount_10k_yuan: 700000.0 万元 per registration (plausible 1–100000); looks like 元, "
            "not 万元; implausible amount_10k_yuan: 350000.0 万元 per pledged patent (plausible 0.1–50000); looks "
            "like 元, not 万元"
        },
        loaded={3: _SZ},
    ),
    Case(
        "yi-yuan-under-wan-header",
        "pledge_loans/yi_under_wan_header.csv",
        rejected={
            2: "implausible amount_10k_yuan: 0.13 万元 per registration (plausible 1–100000); looks like 亿元, not "
            "万元; implausible amount_10k_yuan: 0.0624 万元 per pledged patent (plausible 0.1–50000); looks like "
            "亿元, not 万元"
        },
    ),
    Case(
        "unit-line-yuan-converted",
        "pledge_loans/unit_line_yuan.csv",
        loaded={4: _SZ},
        notes=(
            "converted amount_10k_yuan from 元 (单位：元 above the table) (x0.0001)",
            "skipped 2 title rows above the header",
        ),
    ),
    Case(
        "unit-line-conflicts-with-header",
        "pledge_loans/unit_line_conflict.csv",
        year=None,  # an unreadable file has no year: loading it names the real reason
        error="unit conflict: header '质押金额(万元)' says 万元 but the line above the table says 单位：元",
    ),
    Case(
        "header-unit-yuan-fullwidth-brackets",
        "pledge_loans/header_yuan_fullwidth_brackets.xlsx",
        loaded={2: _SZ},
        notes=("converted amount_10k_yuan from another unit (x0.0001)",),
    ),
    Case(
        "number-format-shows-wan",
        "pledge_loans/number_format_shows_wan.xlsx",
        loaded={2: _SZ, 3: _SU},
        notes=("column 质押金额(万元): number format shows the stored value x0.0001; read as shown",),
    ),
    Case(
        "unit-row-under-header",
        "pledge_loans/unit_row_under_header.csv",
        loaded={3: _SZ},
        notes=("converted amount_10k_yuan from another unit (x0.0001)", "joined a two-row header"),
    ),
    Case(
        "unknown-unit",
        "pledge_loans/unknown_unit_usd.csv",
        year=None,  # an unreadable file has no year: loading it names the real reason
        error="header '质押金额(美元)': unit '美元' cannot be converted into amount_10k_yuan "
        "(expected one of 元, 亿元, 千元, 万元, 百万元)",
    ),
    Case(
        "percent-header-on-count",
        "pledge_loans/percent_header_on_count.csv",
        year=None,  # an unreadable file has no year: loading it names the real reason
        error="header '质押登记笔数(%)': per cent given for registrations, which is not a share",
    ),
    Case(
        "history-six-months",
        "pledge_loans/history_jan_jun.csv",
        loaded={r: {"month": date(2025, r - 1, 1)} for r in range(2, 8)},
    ),
    Case(
        "jump-against-own-history",
        "pledge_loans/jump_july_yuan.csv",
        before=("pledge_loans/history_jan_jun.csv",),
        rejected={
            2: "implausible jump in amount_10k_yuan: 600000.0 is 11215.0x this unit's median of its previous 24 "
            "months (53.5); looks like 元, not 万元"
        },
        loaded={3: {"month": date(2025, 8, 1), "amount_10k_yuan": 110.0}},
    ),
    Case(
        "ratio-targets-percent-sign",
        "targets/ratio_targets_percent_sign.csv",
        year=None,
        loaded={
            2: {"indicator_code": "PRO01", "baseline_value": 0.85, "target_value": pytest.approx(0.941)},
            3: {"indicator_code": "UTL03", "baseline_value": 0.4, "target_value": 0.45},
            4: {"indicator_code": "QLT01", "baseline_value": 80.5, "target_value": 120.0},
        },
        rejected={
            5: f"not a share in baseline_value for PRO03: 60.0 {_SHARE}; not a share in target_value for PRO03: "
            f"98.0 {_SHARE}",
            6: "per cent out of range in baseline_value for QLT03: 150.0%; per cent out of range in target_value "
            "for QLT03: 160.0%",
        },
    ),
    Case(
        "ratio-targets-percent-header",
        "targets/ratio_targets_percent_header.xlsx",
        year=None,
        loaded={2: {"indicator_code": "PRO01", "baseline_value": 0.85, "target_value": 0.98}},
        rejected={
            3: "per cent given in baseline_value but QLT01 is not a share; per cent given in target_value but "
            "QLT01 is not a share"
        },
        rejected_sheet={3: "目标"},
    ),
    # ------------------------------------------------------------------------- whole workbooks
    Case(
        "twelve-month-sheets",
        "pledge_loans/twelve_month_sheets.xlsx",
        loaded={
            k * 1_000_000 + r: {"month": date(2025, k + 1, 1), "city_code": c}
            for k in range(12)
            for r, c in ((2, "440300"), (3, "320500"))
        },
        check=_twelve_months,
    ),
    Case(
        "month-from-sheet-names",
        "pledge_loans/month_from_sheet_names.xlsx",
        loaded={k * 1_000_000 + 2: {"month": date(2025, k + 1, 1), "amount_10k_yuan": 15600.5} for k in range(3)},
        notes=("read 3 sheets: 2025年1月 (1 row), 2025年2月 (1 row), 2025年3月 (1 row)",),
    ),
    Case(
        "month-sheets-year-in-title",
        "pledge_loans/month_sheets_year_in_title.xlsx",
        loaded={3: {"month": date(2025, 4, 1)}, 1_000_003: {"month": date(2025, 5, 1)}},
    ),
    Case(
        "unmappable-sheet-refuses-file",
        "pledge_loans/unmappable_summary_sheet.xlsx",
        year=None,  # an unreadable file has no year: loading it names the real reason
        error="sheet '分析' cannot be mapped: no header row in the first 15 rows (expected columns such as "
        "city_code, month, registrations, amount_10k_yuan, patents_pledged); remove them or move them to their "
        "own file",
    ),
    Case(
        "hidden-and-empty-sheets-skipped",
        "pledge_loans/hidden_and_empty_sheets.xlsx",
        loaded={2: _SZ},
        notes=(
            "read 1 sheet: 数据 (1 row)",
            "skipped sheets: Sheet2 (empty), 下拉选项 (hidden sheet without a header)",
        ),
    ),
    Case(
        "sheets-in-different-units",
        "pledge_loans/sheets_in_different_units.xlsx",
        year=None,  # an unreadable file has no year: loading it names the real reason
        error="sheets use different units for amount_10k_yuan: sheet '2月' header '质押金额(元)' differs from "
        "'质押金额(万元)' on an earlier sheet; send one unit per file",
    ),
    Case(
        "instruction-sheet-first",
        "enforcement_cases/instructions_first.xlsx",
        loaded={2: {"case_id": "深知执〔2025〕1号", "closed_date": date(2025, 4, 2), "resolution": "mediation"}},
        notes=("read 1 sheet: 案件 (1 row)", "skipped sheet: 填写说明 (instructions)"),
    ),
    # ------------------------------------------------------------------------- tables as offices draw them
    Case("header-line-breaks-fullwidth-space", "pledge_loans/header_line_breaks_fullwidth_space.xlsx", loaded={2: _SZ}),
    Case(
        "two-row-merged-header",
        "pledge_loans/two_row_merged_header.xlsx",
        loaded={4: _SZ, 5: _SU},
        notes=("skipped 1 title row above the header",),
    ),
    Case(
        "total-rows",
        "pledge_loans/total_rows.csv",
        loaded={2: _SZ, 3: _SU},
        rejected={
            4: "total row ('小计'): a sum of other rows, not a record",
            5: "total row ('全省合计'): a sum of other rows, not a record",
            6: "total row: national code 000000 in city_code where a city is expected",
            7: "total row ('总计'): a sum of other rows, not a record",
        },
        notes=("ignored extra column: 地区",),
    ),
    Case(
        "excel-error-cells",
        "pledge_loans/excel_error_cells.xlsx",
        loaded={2: _SZ},
        rejected={
            3: f"Excel error cell in amount_10k_yuan: '#VALUE!' {_ERR}",
            4: f"Excel error cell in registrations: '#N/A' {_ERR}",
            5: f"Excel error cell in first_time_borrowers: '#DIV/0!' {_ERR}",
            6: f"Excel error cell in enterprises_served: '#REF!' {_ERR}",
        },
        rejected_sheet={3: "Sheet1"},
    ),
    Case(
        "excel-error-in-optional-column",
        "enforcement_cases/excel_error_in_optional_column.csv",
        loaded={3: {"case_id": "深知执〔2025〕22号", "closed_date": None}},
        rejected={2: f"Excel error cell in closed_date: '#VALUE!' {_ERR}"},
    ),
    Case(
        "utf16-tab-unicode-text",
        "training_events/unicode_text_export.txt",
        loaded={
            2: {"event_id": "E101", "event_date": date(2025, 3, 5), "audience": "enterprises", "title": "专利导航"},
            3: {"event_id": "E102", "event_date": date(2025, 3, 6), "audience": "officials"},
        },
        notes=("tab-separated", "decoded from utf-16"),
    ),
    Case(
        "tab-separated-utf8",
        "training_events/tab_separated_utf8.tsv",
        loaded={2: {"title": "世界知识产权日, 宣传周", "hours": 1.5}},
        notes=("tab-separated",),
    ),
    Case(
        "utf16-without-bom",
        "training_events/utf16_without_bom.txt",
        loaded={2: {"event_id": "E121", "audience": "schools"}},
        notes=("tab-separated", "decoded from utf-16-le"),
    ),
    Case(
        "utf8-bom-then-gbk",
        "pledge_loans/utf8_bom_then_gbk.csv",
        loaded={2: _SZ},
        notes=("decoded from gbk (behind a UTF-8 byte-order mark)",),
    ),
    Case(
        "date-spellings",
        "training_events/date_spellings.csv",
        loaded={r: {"event_date": date(2025, 3, 5)} for r in range(2, 10)},
        rejected={
            10: "not a date in event_date: '3/5/2025'",
            11: "not a date in event_date: '25.3.5'",
            12: "not a date in event_date: '2025年2月30日'",
            13: "not a date in event_date: '2025年3月'",
        },
    ),
    Case(
        "month-spellings",
        "pledge_loans/month_spellings.csv",
        loaded={r: {"month": date(2025, r - 1, 1)} for r in range(2, 10)},
        rejected={
            10: "not a date in month: '8月'",
            11: "not a date in month: '2025-13' (no such month: months run from 1 to 12)",
        },
    ),
    Case(
        "month-serials-in-workbook",
        "pledge_loans/month_serials.xlsx",
        loaded={2: {"month": date(2025, 3, 1), "year": 2025}, 3: {"month": date(2025, 4, 1), "year": 2025}},
    ),
    Case(
        "real-date-cells",
        "enforcement_cases/real_date_cells.xlsx",
        loaded={2: {"filed_date": date(2025, 2, 3), "closed_date": date(2025, 2, 28), "case_type": "trademark"}},
    ),
    Case(
        "footer-notes",
        "pledge_loans/footer_notes.xlsx",
        loaded={2: _SZ, 3: _SU},
        rejected={
            5: "note below the table, not a record: '填表人：张三    联系电话：0755-12345678'",
            6: "note below the table, not a record: '注：金额单位为万元，笔数为当月新增。'",
        },
    ),
    Case(
        "semicolon-separated",
        "pledge_loans/semicolon_separated.csv",
        loaded={2: _SZ},
        notes=("semicolon-separated",),
    ),
    # ------------------------------------------------------------------------- identifiers
    Case(
        "case-numbers-open",
        "enforcement_cases/case_numbers_open.csv",
        loaded={2: {"case_id": "深知执罚〔2025〕12号", "closed_date": None}, 3: {}, 4: {}},
    ),
    Case(
        "case-numbers-closed-typed-differently",
        "enforcement_cases/case_numbers_closed_typed_differently.csv",
        before=("enforcement_cases/case_numbers_open.csv",),
        loaded={
            2: {"case_id": "深知执罚〔2025〕12号", "closed_date": date(2025, 4, 1)},
            3: {"case_id": "深知执罚〔2025〕13号", "closed_date": date(2025, 4, 2)},
            4: {"case_id": "深知执罚〔2025〕14号", "resolution": "mediation"},
        },
        check=_closed_not_twice,
    ),
    Case(
        "same-case-twice-in-one-file",
        "enforcement_cases/same_case_twice_in_one_file.csv",
        loaded={2: {"case_id": "苏知执〔2025〕3号"}},
        rejected={3: "duplicate record: 苏知执〔2025〕3号 same as row 2"},
    ),
    Case(
        "fullwidth-codes-and-numbers",
        "pledge_loans/fullwidth_codes_and_numbers.csv",
        loaded={2: _SZ},
    ),
    # ------------------------------------------------------------------------- corrections
    Case("original-march", "pledge_loans/2025年3月_质押融资.csv", loaded={2: _SZ, 3: _SU}),
    Case(
        "corrected-resend-wins",
        "pledge_loans/2025年3月_质押融资_更正版.csv",
        before=("pledge_loans/2025年3月_质押融资.csv",),
        loaded={3: {"city_code": "320500", "registrations": 9, "amount_10k_yuan": 10800.0}},
        rejected={2: "duplicate record: key already loaded from file 2025年3月_质押融资.csv"},
        notes=(
            "corrected 1 row loaded earlier from 2025年3月_质押融资.csv: 320500/2025-03-01 (registrations 8 → 9, "
            "amount_10k_yuan 9800.0 → 10800.0, patents_pledged 16 → 18, enterprises_served 7 → 8)",
        ),
        check=_correction_recorded,
    ),
    # ------------------------------------------------------------------------- partitions
    Case(
        "sending-date-in-name",
        "pledge_loans/2026年1月报送_深圳市质押融资统计_2025年12月.xlsx",
        loaded={2: {"month": date(2025, 12, 1), "year": 2025}},
    ),
    Case(
        "month-cells-without-year-name-gives-it",
        "pledge_loans/2026年1月报送_苏州市质押融资_2025年12月.csv",
        loaded={2: {"city_code": "320500", "month": date(2025, 12, 1), "year": 2025}},
        notes=("month cells without a year read in 2025 (stated by the file)",),
    ),
    Case(
        "month-cells-without-year-title-gives-it",
        "pledge_loans/months_without_year_title.xlsx",
        loaded={3: {"month": date(2025, 1, 1)}, 4: {"month": date(2025, 2, 1)}},
        notes=(
            "skipped 1 title row above the header",
            "month cells without a year read in 2025 (stated by the file)",
        ),
    ),
    Case("no-year-anywhere", "pledge_loans/no_year_anywhere.csv", year=None),
    Case(
        "name-year-loses-to-data",
        "pledge_loans/质押_2024年_数据为2025年.csv",
        loaded={2: {**_SZ, "year": 2025}},
    ),
]

_CONTROL = {
    "pledge_loans": "城市代码,统计月份,质押登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数\n"
    "370200,2025-11,5,6000,10,2,4,2\n",
    "enforcement_cases": "案件编号,城市代码,案件类型,立案日期,结案日期,处理结果\nCTRL-1,370200,商标,2025-11-02,,\n",
    "training_events": "活动编号,城市代码,培训日期,培训对象,参训人数,学时,主题\nCTRL-1,370200,2025-11-03,公众,50,2,对照\n",
    "targets": "city_code,plan_id,indicator_code,baseline_year,baseline_value,target_year,target_value\n"
    "370200,plan_2021_2025,QLT01,2020,10,2025,20\n",
}


def _matches(expected, actual) -> bool:
    if isinstance(expected, re.Pattern):
        return actual is not None and expected.fullmatch(actual) is not None
    return expected == actual


def _copy(tmp_path: Path, rel: str) -> Path:
    path = tmp_path / "landing" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(OFFICE / rel, path)
    return path


def _ingest(con, tmp_path: Path, rel: str):
    path = _copy(tmp_path, rel)
    source = SOURCES[rel.split("/")[0]]
    return ingest_file(con, source, path, partition=partition_of(path, source), today=TODAY)


def _one(con, sql: str, params: list):
    rows = con.execute(sql, params).fetchall()
    assert len(rows) == 1, rows
    return rows[0]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_office_file(case: Case, warehouse, tmp_path):
    con = warehouse
    source = SOURCES[case.source]
    name = Path(case.file).name
    for rel in case.before:
        first = _ingest(con, tmp_path, rel)
        assert first.status == "loaded"

    path = _copy(tmp_path, case.file)
    year = partition_of(path, source)
    assert year == case.year

    if case.error is not None:
        with pytest.raises(IngestError) as info:
            ingest_file(con, source, path, partition=year, today=TODAY)
        err = info.value
        assert err.file_name == name
        assert _matches(case.error, err.reason), err.reason
        assert _one(con, f"SELECT count(*) FROM {source.table} WHERE _source_file = ?", [name]) == (0,)
        assert _one(con, "SELECT count(*) FROM raw.rejected_rows WHERE file_name = ?", [name]) == (0,)
        assert _one(
            con,
            "SELECT status, message, rows_read, rows_loaded, rows_rejected FROM raw.ingested_files "
            "WHERE source = ? AND file_name = ?",
            [source.name, name],
        ) == ("failed", err.reason, 0, 0, 0)
    elif source.partitioned and year is None:
        # No year can be told: the file fails alone, by name, in the ledger (what the raw asset records).
        err = record_unreadable_year(con, source, path)
        assert err.reason.startswith("cannot tell the data year")
        assert _one(con, "SELECT status, message FROM raw.ingested_files WHERE file_name = ?", [name]) == (
            "failed",
            err.reason,
        )
    else:
        result = ingest_file(con, source, path, partition=year, today=TODAY)
        assert result.status == "loaded"
        if case.notes is not None:
            assert list(result.notes) == list(case.notes)
        rejected = {
            r[0]: (r[1], r[2])
            for r in con.execute(
                "SELECT row_number, reason, sheet FROM raw.rejected_rows WHERE source = ? AND file_name = ? "
                "ORDER BY row_number",
                [source.name, name],
            ).fetchall()
        }
        assert rejected.keys() == case.rejected.keys(), rejected
        for row, reason in case.rejected.items():
            assert _matches(reason, rejected[row][0]), (row, rejected[row][0])
        for row, sheet in case.rejected_sheet.items():
            assert rejected[row][1] == sheet
        stored = con.sql(f"SELECT * FROM {source.table} WHERE _source_file = $f", params={"f": name}).pl()
        by_row = {r["_row_number"]: r for r in stored.iter_rows(named=True)}
        assert by_row.keys() == case.loaded.keys(), sorted(by_row)
        for row, expected in case.loaded.items():
            assert {k: by_row[row][k] for k in expected} == expected, row
        n_loaded, n_rejected = len(case.loaded), len(case.rejected)
        assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (
            n_loaded + n_rejected,
            n_loaded,
            n_rejected,
        )
        assert _one(
            con,
            "SELECT status, rows_read, rows_loaded, rows_rejected, message FROM raw.ingested_files "
            "WHERE source = ? AND file_name = ?",
            [source.name, name],
        ) == ("loaded", n_loaded + n_rejected, n_loaded, n_rejected, "; ".join(result.notes))
        if case.check:
            case.check(con, name)

    # No other file is affected: a control file of the same source loads whole afterwards.
    control = tmp_path / "landing" / source.name / "control.csv"
    control.write_text(_CONTROL[source.name], encoding="utf-8")
    r = ingest_file(con, source, control, partition=partition_of(control, source), today=TODAY)
    assert (r.status, r.rows_read, r.rows_loaded, r.rows_rejected) == ("loaded", 1, 1, 0), r


def test_corpus_has_a_case_for_every_file():
    files = {str(p.relative_to(OFFICE)) for p in OFFICE.rglob("*") if p.is_file()}
    covered = {c.file for c in CASES} | {f for c in CASES for f in c.before}
    assert files == covered
    assert len(files) >= 40


def test_committed_corpus_is_what_the_script_builds(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_office_files", OFFICE.parent / "make_office_files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path / "office")
    built = {
        str(p.relative_to(tmp_path / "office")): p.read_bytes() for p in (tmp_path / "office").rglob("*") if p.is_file()
    }
    committed = {str(p.relative_to(OFFICE)): p.read_bytes() for p in OFFICE.rglob("*") if p.is_file()}
    assert built.keys() == committed.keys()
    assert [f for f in built if built[f] != committed[f]] == []


def test_any_exception_while_reading_is_a_named_ledger_failure(warehouse, tmp_path, monkeypatch):
    """An unforeseen error in a reader becomes a failed ledger row with the reason in words, not a crash."""
    import pipelines.ingest.load as load

    def boom(path, source):
        raise UnicodeDecodeError("gbk", b"\x80\x80", 0, 1, "illegal multibyte sequence")

    monkeypatch.setattr(load, "read_file", boom)
    path = _copy(tmp_path, "pledge_loans/total_rows.csv")
    with pytest.raises(IngestError) as info:
        ingest_file(warehouse, SOURCES["pledge_loans"], path, partition=2025, today=TODAY)
    assert info.value.reason == "cannot decode the text (byte 0, gbk): save the file as UTF-8 or GBK"
    assert warehouse.execute(
        "SELECT status, message FROM raw.ingested_files WHERE file_name = 'total_rows.csv'"
    ).fetchall() == [("failed", info.value.reason)]


def test_run_summary_lists_the_corrected_rows(warehouse, tmp_path):
    """`ipcity run` prints the rows re-sent files corrected in the run, from raw.corrections."""
    from pipelines.launcher import corrections_for_runs

    for rel, run in (
        ("pledge_loans/2025年3月_质押融资.csv", "r1"),
        ("pledge_loans/2025年3月_质押融资_更正版.csv", "r2"),
    ):
        path = _copy(tmp_path, rel)
        ingest_file(warehouse, SOURCES["pledge_loans"], path, partition=2025, today=TODAY, run_id=run)
    got = corrections_for_runs(warehouse, ["r2"])
    assert got.select("source", "key_values", "old_file", "new_file", "changed_columns").rows() == [
        (
            "pledge_loans",
            '{"city_code": "320500", "month": "2025-03-01"}',
            "2025年3月_质押融资.csv",
            "2025年3月_质押融资_更正版.csv",
            "registrations, amount_10k_yuan, patents_pledged, enterprises_served",
        )
    ]
    assert corrections_for_runs(warehouse, ["r1"]).height == 0


def test_quality_suite_guards_the_magnitude_rules_too(warehouse, tmp_path):
    """Defence in depth: the raw.pledge_loans GX suite checks amount per registration and per pledged patent
    against the same seed thresholds, so a row in 元 that reached the raw table by any other way fails it."""
    import polars as pl

    from pipelines.quality.runner import validate as gx_validate

    _ingest(warehouse, tmp_path, "pledge_loans/history_jan_jun.csv")
    df = warehouse.sql("SELECT * FROM raw.pledge_loans").pl()
    ctx = {"valid_region_codes": [r[0] for r in warehouse.execute("SELECT city_code FROM raw.cities").fetchall()]}
    clean = gx_validate("raw.pledge_loans", df, partition="2025", context=ctx)
    checks = clean.by_check()
    assert checks["amount_per_registration__plausible"].passed and checks["amount_per_patent__plausible"].passed
    in_yuan = df.with_columns(
        pl.when(pl.col("month") == date(2025, 3, 1))
        .then(pl.col("amount_10k_yuan") * 10_000)
        .otherwise(pl.col("amount_10k_yuan"))
    )
    bad = gx_validate("raw.pledge_loans", in_yuan, partition="2025", context=ctx).by_check()
    assert not bad["amount_per_registration__plausible"].passed
    assert bad["amount_per_registration__plausible"].severity == "error"
