"""Total labels, 其中, indents and note lines in a scanned file's free-text cells: the scan searches each such cell
with one pattern (issue 19: the one-pass statement runs on one thread, and ten contains() calls per cell were a
tenth of its CPU), and every row it so leaves to the Polars rules ends as the Polars path ends it. Real DuckDB."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.ingest import contract_sql, load
from pipelines.ingest.validate import INDENT
from pipelines.sources import SOURCES, TOTAL_LABEL_CHARS
from tests.conftest import write_cities_csv

TODAY = datetime.date(2026, 1, 15)
GRANTS = SOURCES["patent_grants"]


def _row(i: int, name: str, first: str | None = None) -> dict:
    return {
        "publication_number": first or f"CN{100000 + i}B",
        "application_number": f"CN2019{i:06d}.1",
        "patent_type": "invention",
        "kind_code": "B",
        "application_date": "2019-03-01",
        "grant_date": "2021-05-04",
        "applicant_name": name,
        "applicant_type": "enterprise",
        "region_code": "320500",
        "ipc_main": "H04L 9/00",
        "lapse_date": None,
        "hv_strategic_industry": "true",
        "hv_overseas_family": "false",
        "hv_maintained_10y": "false",
        "hv_pledged": "false",
        "hv_award": "false",
        "is_high_value": "true",
    }


def _grants(path: Path) -> Path:
    names = [f"苏州{t}科技有限公司" for t in (*TOTAL_LABEL_CHARS, "其中")]
    names += ["\u3000苏州某某科技有限公司", "  苏州某某科技有限公司", "苏州某某（集团）有限公司"]
    rows = [_row(i, "苏州某某科技有限公司") for i in range(300)]
    rows += [_row(300 + i, n) for i, n in enumerate(names)]
    rows.append(_row(400, "苏州某某科技有限公司", first="注：本表为初步统计数"))  # a note line in the first column
    pl.DataFrame(rows).write_csv(path)
    return path


def _ingest(tmp: Path, monkeypatch, grants: Path, *, sql: bool):
    monkeypatch.setattr(load, "SQL_SCAN", sql)
    monkeypatch.setattr(contract_sql, "SCAN_MIN_BYTES", 0)
    con = duckdb.connect()
    load.ingest_file(con, SOURCES["cities"], write_cities_csv(tmp / "cities.csv"), today=TODAY)
    contract_sql.READ_LOG.clear()
    load.ingest_file(con, GRANTS, grants, partition=2021, today=TODAY)
    how = dict(contract_sql.READ_LOG).get(grants.name)
    return how, {
        "loaded": con.sql("SELECT * EXCLUDE (_ingested_at) FROM raw.patent_grants ORDER BY _row_number").fetchall(),
        "refused": con.sql("SELECT row_number, reason, raw_values FROM raw.rejected_rows ORDER BY ALL").fetchall(),
        "ledger": con.sql(
            "SELECT status, rows_read, rows_loaded, rows_rejected, message FROM raw.ingested_files "
            "WHERE source = 'patent_grants'"
        ).fetchall(),
    }


def test_rows_with_labels_indents_or_notes_end_as_the_polars_path_ends_them(tmp_path, monkeypatch):
    grants = _grants(tmp_path / "grants_2021.csv")
    how, via_sql = _ingest(tmp_path / "sql", monkeypatch, grants, sql=True)
    _, via_polars = _ingest(tmp_path / "polars", monkeypatch, grants, sql=False)
    assert via_sql == via_polars
    assert how is not None


@pytest.mark.parametrize(
    "cell", [*(f"苏州{t}公司" for t in (*TOTAL_LABEL_CHARS, "其中")), "\u3000苏州", "\t苏州", "  苏州"]
)
def test_each_label_or_indent_leaves_the_row_to_the_polars_rules(cell):
    """The verdict refuses a free-text cell holding any label or starting with an indent (the row then goes to the
    Polars rules), and passes the same cell without it."""
    layout = _layout()
    compiled = _compile(layout)
    con = duckdb.connect()
    con.register("__ingest_frame", _frame(cell).to_arrow())
    assert con.sql(f"SELECT __ok FROM ({compiled.select})").fetchall() == [(False,)]
    con.register("__ingest_frame", _frame("苏州某某科技有限公司").to_arrow())
    assert con.sql(f"SELECT __ok FROM ({compiled.select})").fetchall() == [(True,)]


def test_each_free_text_cell_is_searched_once_for_what_leaves_its_row_to_the_reader():
    """One pattern per free-text cell for labels, 其中, indents and notes — not one contains() per label."""
    checks = _compile(_layout()).checks
    name_col = f"__c{[c.name for c in GRANTS.columns].index('applicant_name')}"
    on_name = [c for c in checks if re.search(rf"\b{name_col}\b", c)]
    assert len(on_name) == 1, on_name
    assert all(t in on_name[0] for t in (*TOTAL_LABEL_CHARS, "其中")) and INDENT in on_name[0]


def _frame(name: str) -> pl.DataFrame:
    row = {k: (v if v is not None else None) for k, v in _row(1, name).items()}
    return pl.DataFrame([row], schema={k: pl.Utf8 for k in row}).with_columns(pl.lit(2).alias("__row"))


def _layout():
    from pipelines.ingest.readers import RawFrame

    return contract_sql.frame_layout(RawFrame(_frame("x"), "utf-8"), GRANTS, "grants_2021.csv")


def _compile(layout):
    return contract_sql.compile_stage(
        GRANTS,
        layout,
        "__ingest_frame",
        partition=2021,
        today=TODAY,
        valid_codes=frozenset({"320500"}),
        population=None,
    )
