"""Round 9 of the operators' side: the CLI's withdrawn-files tables and the corrections ledger on reload."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import polars as pl

ROOT = Path(__file__).resolve().parents[1]


def _functions_building(tree: ast.AST, header: str) -> list[str]:
    """Names of the functions whose body builds a rich Table with ``header`` among its literal column heads."""
    out = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef):
            continue
        for node in ast.walk(fn):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "Table"
                and any(isinstance(a, ast.Constant) and a.value == header for a in node.args)
            ):
                out.append(fn.name)
                break
    return out


def test_withdrawn_files_are_one_table_definition():
    """The run summary's withdrawn files and the ledger's (status, quality) were two copies of one table; one function
    draws it now, so a column added to one cannot be missing from the other."""
    tree = ast.parse((ROOT / "pipelines" / "cli.py").read_text(encoding="utf-8"))
    assert len(_functions_building(tree, "rows withdrawn / 撤回行")) == 1


def test_run_summary_withdrawn_table_still_printed():
    from pipelines import cli

    summary = SimpleNamespace(
        withdrawn=pl.DataFrame(
            {
                "source": ["enforcement_cases"],
                "file_name": ["cases_2024.csv"],
                "partition": ["2024"],
                "rows_withdrawn": [1234],
            }
        ),
        withdrawn_refused=[],
        landing_absent=None,
        sources_emptied=[],
    )
    width = cli.console.width
    cli.console.width = 300
    try:
        with cli.console.capture() as captured:
            cli._print_withdrawals(summary)
    finally:
        cli.console.width = width
    text = captured.get()
    assert "cases_2024.csv" in text and "1,234" in text and "已撤回" in text, text


def test_reloading_a_corrected_year_does_not_repeat_its_corrections(warehouse, tmp_path):
    """A year reloaded (`reload: true`, a backfill from the UI, a withdrawal that reloads the year) loads its files
    again in order, so the corrected file corrects the first one again: raw.corrections got the same correction once
    per reload, and the history read as if the office had corrected the figure several times."""
    import shutil
    from datetime import date

    from pipelines.assets.raw import _reset_partition
    from pipelines.ingest.load import ingest_file
    from pipelines.sources import SOURCES

    office = ROOT / "tests" / "fixtures" / "office" / "pledge_loans"
    source = SOURCES["pledge_loans"]
    names = ("2025年3月_质押融资.csv", "2025年3月_质押融资_更正版.csv")
    paths = []
    for name in names:
        (tmp_path / "landing").mkdir(exist_ok=True)
        paths.append(Path(shutil.copy(office / name, tmp_path / "landing" / name)))

    def load(runs):
        for path, run in zip(paths, runs, strict=True):
            ingest_file(warehouse, source, path, partition=2025, today=date(2026, 1, 15), run_id=run)

    load(("r1", "r2"))
    first = warehouse.execute("SELECT key_values, old_file, new_file, run_id FROM raw.corrections").fetchall()
    assert len(first) == 1
    for reload in range(2):
        _reset_partition(warehouse, source, 2025)
        load((f"r{3 + 2 * reload}", f"r{4 + 2 * reload}"))
    assert warehouse.execute("SELECT key_values, old_file, new_file, run_id FROM raw.corrections").fetchall() == first
    # the warehouse itself holds the corrected row once, as before
    assert warehouse.execute(
        "SELECT count(*), max(_source_file) FROM raw.pledge_loans WHERE city_code = '320500'"
    ).fetchone() == (1, names[1])


def _snapshot_with_pending(path: Path, synthetic: list[str]) -> Path:
    import json

    import duckdb

    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.fct_third_party_evaluation as select '410100' as unit_code, '郑州市' as unit_name, "
            "2021 as cycle_first_year, 2023 as cycle_last_year, 'pending' as status"
        )
        con.execute("create schema meta")
        con.execute("create table meta.snapshot_info (key varchar, value varchar)")
        con.execute("insert into meta.snapshot_info values ('synthetic_sources', ?)", [json.dumps(synthetic)])
    return path


def test_third_party_template_pre_filled_from_a_synthetic_snapshot_says_so(tmp_path):
    """`ipcity template third-party` pre-fills the pending cycles from the snapshot, and said nothing of the sample
    data they came from, where every other file does (data_nature). The CSV and the workbook carry the per-row
    provenance column (last, which the loader ignores), the workbook its document properties and note too."""
    import csv
    import io

    from click.testing import CliRunner
    from openpyxl import load_workbook

    from pipelines.cli import main

    snap = _snapshot_with_pending(tmp_path / "s.duckdb", ["patent_grants"])
    for suffix in (".csv", ".xlsx"):
        out = tmp_path / f"t{suffix}"
        result = CliRunner().invoke(main, ["template", "third-party", "--from", str(snap), "--out", str(out)])
        assert result.exit_code == 0, result.output
        if suffix == ".csv":
            rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
            assert rows[0][-1] == "数据性质 Data provenance" and rows[1][-1] == "合成示例 / Synthetic sample"
            assert rows[1][0] == "410100"
        else:
            wb = load_workbook(out)
            ws = wb.worksheets[0]
            head = [c.value for c in ws[1]]
            assert (
                head[-1] == "数据性质 Data provenance" and ws.cell(2, len(head)).value == "合成示例 / Synthetic sample"
            )
            assert wb.properties.keywords == "合成示例 / Synthetic sample"
            notes = " ".join(str(c.value) for row in wb.worksheets[1].iter_rows() for c in row if c.value)
            assert "合成示例数据" in notes

    real = _snapshot_with_pending(tmp_path / "r.duckdb", [])
    out = tmp_path / "r.csv"
    assert CliRunner().invoke(main, ["template", "third-party", "--from", str(real), "--out", str(out)]).exit_code == 0
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    assert rows[1][-1] == "真实 / Real"
