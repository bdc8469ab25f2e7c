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
        if not line.lstrip().startswith("#") and any(p.search(line) for p in (PASTED_EN, PASTED_ZH, HEDGED))
    ]
    assert not found, "say counts with pipelines.counts.count_en / count_zh:\n" + "\n".join(found)
