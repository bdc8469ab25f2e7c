"""Counts in the data engineers' texts read as people write them: "1 row", "1 blocking failure" in English (not
"1 rows", "1 blocking failures, 1 warnings"), and in 简体中文 the number against its measure word ("未通过1行",
"共2项检查", not "未通过 1 行"). The CLI's quality report, a failed column_rules check's description (Dagster UI,
alerts), the quality page's failing rules and the raw steps' run log; and a scan that keeps new texts of the
quality area from pasting a count before a fixed plural or a spaced measure word (pipelines/counts.py says them).
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]
# English count + plural noun, and a Chinese count with a space before (or after) its measure word
BAD_EN = re.compile(r"\b1 (rows|checks|failures|blocking failures|warnings|files|runs|digests|recipients)\b")
BAD_ZH = re.compile(r"\d [行项次个条份]|[共读取入库隔离通过] \d")


def test_counts_agree_in_english_and_stand_against_their_measure_word_in_chinese():
    from pipelines.counts import count_en, count_zh

    assert [count_en(n, "row") for n in (0, 1, 2, 1_000)] == ["0 rows", "1 row", "2 rows", "1,000 rows"]
    assert count_en(1, "blocking failure") == "1 blocking failure"
    assert count_zh(1, "行") == "1行" and count_zh(12_000, "项") == "12,000项"


def test_a_failed_column_rules_check_says_one_row_as_one_row():
    from pipelines.assets.dbt import describe_failing_rules

    text = describe_failing_rules([("unit_name", "not_null", 1), ("status", "accepted_values", 2)])
    assert "fails on 1 row;" in text and "fails on 2 rows" in text
    assert "未通过1行" in text and "未通过2行" in text
    assert not BAD_EN.search(text) and not BAD_ZH.search(text), text


def _store(path: Path) -> None:
    """One run: a blocking GX check failing on its one row, a dbt column_rules warning failing on one row, one pass."""
    import json

    from pipelines.china_time import utc_now
    from pipelines.quality import ExpectationResult, SuiteResult, record_results
    from pipelines.quality.results import record_dbt_results

    def gx(name, passed, severity="error"):
        return ExpectationResult(
            check_name=name,
            expectation_type="expect_column_values_to_not_be_null",
            column="unit_code",
            severity=severity,
            passed=passed,
            observed_value=None if passed else {"unexpected_count": 1, "element_count": 1},
            failing_sample=None if passed else [{"unit_code": None}],
            unexpected_count=0 if passed else 1,
            element_count=1,
        )

    con = duckdb.connect(str(path))
    try:
        result = SuiteResult(
            "raw.cities",
            "raw.cities",
            None,
            [gx("unit_code__not_null", False), gx("x__type", True)],
            [],
            1,
            utc_now(),
            0,
        )
        record_results(con, "r1", "raw.cities", result)
        sample = [{"column_name": "unit_name", "rule": "not_null", "failing_rows": 1}]
        record_dbt_results(
            con,
            [
                (
                    "r1",
                    utc_now(),
                    "column_rules_dim_city_warn",
                    "marts.dim_city",
                    None,
                    "warn",
                    False,
                    json.dumps({"status": "warn", "failures": 1}),
                    json.dumps(sample),
                    json.dumps({"engine": "dbt", "test": "column_rules"}),
                    "dbt",
                    "unit_name",
                    "not_null",
                    1,
                )
            ],
        )
    finally:
        con.close()


def test_ipcity_quality_says_one_as_one(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from pipelines import cli
    from pipelines.cli import main

    _store(tmp_path / "warehouse.duckdb")
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setattr(cli.console, "width", 400)
    out = CliRunner().invoke(main, ["quality", "--history"])
    assert out.exit_code == 0, out.output
    text = out.output
    assert "3 checks: 1 passed, 1 blocking failure, 1 warning" in text, text
    assert "共3项检查：1项通过，1项阻断性失败，1项警告" in text, text
    assert "1 of 1 row unexpected" in text and "warn, 1 row failing" in text and "unit_name: not_null (1 row)" in text
    assert not BAD_EN.search(text), BAD_EN.search(text)
    assert not BAD_ZH.search(text), BAD_ZH.search(text)


@pytest.mark.parametrize(("lang", "expected"), [("en", "unit_name: not_null 1 row"), ("zh", "unit_name: not_null 1行")])
def test_the_quality_pages_failing_rules_say_one_row(lang, expected):
    from dashboards.pages.quality import dbt_rules_text

    sample = [{"column_name": "unit_name", "rule": "not_null", "failing_rows": 1}]
    assert dbt_rules_text(sample, None, lang) == expected


# The quality and run-operation texts the data engineers read (CLI, Dagster run log, quality page).
SCANNED = (
    "pipelines/cli.py",
    "pipelines/launcher.py",
    "pipelines/automation.py",
    "pipelines/assets/raw.py",
    "pipelines/assets/checks.py",
    "pipelines/assets/dbt.py",
    "pipelines/assets/publish.py",
    "pipelines/quality/results.py",
    "pipelines/quality/dbt_results.py",
    "dashboards/pages/quality.py",
    "dashboards/check_text.py",
)
# a count pasted before a fixed English plural (or "(s)"), or a Chinese count spaced from its measure word
PASTED_EN = re.compile(r"\{[^{}]+\} (rows|checks|failures|warnings|files|runs|digests?\(s\)|recipients?\(s\))\b")
PASTED_ZH = re.compile(r"\{[^{}]+\} [行项次个条份]|[共取库离过] \{[^{}]+\}[行项]")
# or hedged: "digest(s)", "attempt(s)"
HEDGED = re.compile(r"\b(row|check|failure|warning|file|run|digest|recipient|version|attempt|sheet|partition)\(s\)")


@pytest.mark.parametrize("name", SCANNED)
def test_no_count_is_pasted_before_a_fixed_plural_or_a_spaced_measure_word(name):
    found = [
        f"{name}:{i}: {line.strip()}"
        for i, line in enumerate((ROOT / name).read_text(encoding="utf-8").splitlines(), 1)
        if not line.lstrip().startswith("#")
        and any(p.search(line) for p in (PASTED_EN, PASTED_ZH, HEDGED, COUNT_HEDGED))
    ]
    assert not found, "say counts with pipelines.counts.count_en / count_zh:\n" + "\n".join(found)


# ------------------------------------------------------------------ the loader's notes, the alert digests, the dashboard


def test_a_loaded_file_s_one_title_row_reads_as_one_in_both_languages(tmp_path):
    """The ledger said "skipped 1 title row(s) above the header" / "跳过表头上方的 1 行标题" of a file with one title
    line above its header (the note `ipcity status` and the data-quality page show)."""
    from pipelines.ingest.readers import read_file
    from pipelines.ingest.reason_labels import reason_text
    from pipelines.sources import SOURCES

    path = tmp_path / "质押_2025年3月.csv"
    path.write_text(
        "2025年3月 专利质押融资统计表\n城市代码,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数\n"
        "440300,2025-03,12,3500.5,30,4,10,3\n",
        encoding="utf-8",
    )
    notes = read_file(path, SOURCES["pledge_loans"]).notes
    assert "skipped 1 title row above the header" in notes, notes
    zh = reason_text("; ".join(notes), "pledge_loans", "zh")
    assert "跳过表头上方的1行标题" in zh, zh
    assert not BAD_ZH.search(zh) and not HEDGED.search("; ".join(notes))


@pytest.mark.parametrize(
    ("note", "zh"),
    [
        ("skipped 2 title rows above the header (sheet 3月)", "跳过表头上方的2行标题（工作表“3月”）"),
        (
            "read 1 cell of registrations written in 万 or 千 (1.2万 = 12000) as the count",
            "登记笔数中有1个单元格以万或千书写",
        ),
        ("read 2 sheets: 1月 (1 row), 2月 (1,200 rows)", "读取了2个工作表：1月（1行）, 2月（1,200行）"),
        (
            "sheet '2月' is hidden in the workbook: its 1 row was read as well",
            "工作表“2月”在工作簿中处于隐藏状态：其1行同样已读取",
        ),
        (
            "read 1,500 cells written as no figure (—, -, /, 无) in first_time_borrowers as empty",
            "中有1,500个单元格写作无数据",
        ),
        # a ledger row written before: its "(s)" still reads in Chinese, the number against its measure word
        ("skipped 1 title row(s) above the header", "跳过表头上方的1行标题"),
        (
            "corrected 1 row(s) loaded earlier from a.csv: 440300|2025-01-01 (registrations)",
            "更正了此前由 a.csv 载入的1行",
        ),
    ],
)
def test_loader_notes_read_in_chinese_with_the_number_against_its_measure_word(note, zh):
    from pipelines.ingest.reason_labels import reason_text, unknown_reasons

    assert unknown_reasons(note) == [], note
    text = reason_text(note, "pledge_loans", "zh")
    assert zh in text and not BAD_ZH.search(text), text


@pytest.mark.parametrize(
    ("lang", "expected"), [("en", "… 1 more line not shown; full list: "), ("zh", "……另有1行未列出，完整清单见 ")]
)
def test_a_cut_digest_says_one_line_left_out_as_one(lang, expected):
    from pipelines.alerts.channels import fit_text

    body = "\n".join(["郑州市：目标进展有限" * 3, "新乡市：目标进展有限" * 3, "消息编号 / idempotency key: k"])
    out = fit_text(body, len(body.encode("utf-8")) - 10, "https://ipcity.example.cn/alerts", lang)
    assert expected in out, out


def test_the_alerts_page_says_one_acknowledged_alert_as_one():
    from dashboards.pages.alerts import TEXT, tx

    assert tx("al_acked", "en", n="1", alerts="1 alert") == "Acknowledged 1 alert."
    assert tx("al_acked", "zh", n="1", alerts="1 alert") == "已确认1条预警。"
    assert all("(s)" not in en and not PASTED_ZH.search(zh) for zh, en in TEXT.values())


# Where else people read counts: the loader's notes and refusals (pipelines/ingest), the alert digests and their
# titles (pipelines/alerts), the dashboard's texts (dashboards). Lines a test elsewhere keeps literal are named below.
WIDER = sorted(
    {
        p.relative_to(ROOT).as_posix()
        for d in ("pipelines/ingest", "pipelines/alerts", "dashboards")
        for p in (ROOT / d).rglob("*.py")
    }
    - set(SCANNED)
)
# a count before a hedged noun ("{n} alert(s)", "{h} title row(s)"), a count (not a constant such as
# {HEADER_SCAN_ROWS}, always several) before a fixed English plural, a count spaced from its measure word (an
# ordinal "第 {row} 行", "第 {r1}–{r2} 行" is a position, not a count: left as the row reasons write it)
COUNT_HEDGED = re.compile(r"\{[^{}]+\} (?:[a-z]+ )*[a-z]+\(s\)")
COUNT_PLURAL = re.compile(r"\{(?![A-Z_]+\})[^{}]+\} (rows|alerts|cells|sheets|messages|lines|areas|targets|times)\b")
SPACED_ZH = re.compile(r"(?<!第 )(?<!–)\{[^{}]+\} [行项次个条份处]")
KEPT = {
    # a row reason reason_labels parses as written; the file's other rows summed are several
    ("pipelines/ingest/validate.py", "{same.height} rows, not a record"),
    # said only when the count is not one (none, or several: the prefix is ambiguous)
    ("pipelines/alerts/store.py", "{len(fps)} alerts match"),
    # "the row of {city}": a unit's row, no count
    ("pipelines/ingest/reason_labels.py", "并报送不含其数字的 {city} 行"),
}


@pytest.mark.parametrize("name", WIDER)
def test_no_count_is_hedged_or_spaced_in_the_loader_the_alerts_or_the_dashboard(name):
    found = [
        f"{name}:{i}: {line.strip()}"
        for i, line in enumerate((ROOT / name).read_text(encoding="utf-8").splitlines(), 1)
        if not line.lstrip().startswith("#")
        and any(p.search(line) for p in (COUNT_HEDGED, COUNT_PLURAL, SPACED_ZH))
        and not any(name == f and kept in line for f, kept in KEPT)
    ]
    assert not found, "say counts with pipelines.counts.count_en / count_zh:\n" + "\n".join(found)
