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
