"""A dbt data test in the check history is said in words — what it checks, on which table and column, in 简体中文
and English — with its technical name beside it, secondary. Before, `ipcity quality --history` and the quality
page's history named a dbt test only as dbt names it (`not_null_dim_city_unit_name`), which tells an official
nothing. Real parts: the quality store's own writers and history query on DuckDB, the CLI through click, the
page's row builder.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

TESTS = {  # technical name: (asset, kind, columns)
    "not_null_dim_city_unit_name": ("marts.dim_city", "not_null", "unit_name"),
    "unique_combination_pledge_loans_city_code_month": ("raw.pledge_loans", "unique_combination", "city_code, month"),
}


def _store(path: Path) -> None:
    """Two runs of the two tests: passing, then failing (newly failing in the latest run)."""
    from pipelines.quality.results import record_dbt_results

    con = duckdb.connect(str(path))
    try:
        for day, passed in ((1, True), (2, False)):
            rows = [
                (
                    f"run{day}",
                    datetime(2026, 12, day, 18),
                    name,
                    asset,
                    None,
                    "error",
                    passed,
                    json.dumps({"status": "pass" if passed else "fail", "failures": 0 if passed else 3}),
                    None,
                    json.dumps({"engine": "dbt", "test": kind, "unique_id": f"test.ipcity.{name}"}),
                    "dbt",
                    columns,
                    kind,
                    0 if passed else 3,
                )
                for name, (asset, kind, columns) in TESTS.items()
            ]
            record_dbt_results(con, rows)
    finally:
        con.close()


def test_ipcity_quality_history_says_each_dbt_test_in_words_with_its_technical_name_below(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from pipelines import cli
    from pipelines.cli import main

    _store(tmp_path / "warehouse.duckdb")
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setattr(cli.console, "width", 400)
    out = CliRunner().invoke(main, ["quality", "--history"])
    assert out.exit_code == 0, out.output
    history = out.output[out.output.index("check history") :]
    for words in (
        "城市名录（分析数据集） · 城市：值不缺失 / City list (mart) · unit name: value present",
        "知识产权质押融资（原始数据） · 城市代码、月份：键组合不重复 / Pledge loans (raw data) · city code, month: key "
        "combination unique",
    ):
        assert words in history, history
    lines = history.splitlines()
    for name in TESTS:
        (at,) = [i for i, line in enumerate(lines) if name in line]
        assert "value present" in lines[at - 1] or "key combination" in lines[at - 1]  # the name below its words


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("zh", "城市：值不缺失"), ("en", "Unit name: value present")],
)
def test_the_quality_pages_history_says_a_dbt_test_in_words(tmp_path, lang, expected):
    from dashboards.i18n import t
    from dashboards.pages.quality import history_columns, history_rows
    from pipelines.quality.results import check_history

    _store(tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        rows = {r["check_name"]: r for r in history_rows(check_history(con), lang)}
    row = rows["not_null_dim_city_unit_name"]
    assert row["check_label"] == expected  # the table is the asset column's; the technical name its own column
    assert "not_null_dim_city" not in row["check_label"]
    fields = {c["field"]: c for c in history_columns(lang)}
    assert fields["check_name"]["headerName"] == t("dq_technical_name", lang)
    assert list(fields).index("check_label") < list(fields).index("check_name")


def test_the_quarantine_is_explained_in_chinese_and_english(tmp_path, monkeypatch):
    """`ipcity quality` (and `status`) list the quarantined rows by file and by reason: the loader records its
    reasons in English; the official reads them in 简体中文 first. Before, both tables printed the English only."""
    from click.testing import CliRunner

    from pipelines import cli
    from pipelines.cli import main
    from pipelines.ingest.load import ensure_schema

    wh = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(wh)) as con:
        ensure_schema(con)
        con.execute(
            "insert into raw.rejected_rows (source, file_name, row_number, reason, run_id) values "
            "('pledge_loans', 'pledge_2025_补报.csv', 5, 'negative value in registrations: -2 (min 0)', 'r1'), "
            "('pledge_loans', 'pledge_2025_补报.csv', 7, 'unknown region code in city_code: ''999999''', 'r1')"
        )
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(wh))
    monkeypatch.setattr(cli.console, "width", 400)
    for command in ("quality", "status"):
        out = CliRunner().invoke(main, [command])
        assert out.exit_code == 0, out.output
        text = out.output
        assert "登记笔数为负值" in text and "negative value in registrations" in text, (command, text)
        assert "行政区划代码未知" in text and "unknown region code in city_code" in text, (command, text)
