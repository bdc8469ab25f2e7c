"""Row numbers of a CSV that DuckDB reads in parallel (issue 19: numbering the scan without serialising it).

The scan numbers CSV records with ``row_number() OVER ()`` right above ``read_csv`` (contract_sql.Layout.row_sql),
a fixed-order window that keeps the pipeline above it on one thread. DuckDB 2.0 also offers ``read_csv(...) WITH
ORDINALITY``; it is bound to the very same streaming window (so it would not let the scan use more cores), and,
like the window, it numbers the records DuckDB returns, not the file's: a blank line is skipped, so every record
after it gets a number one too small. The window stays; the pipeline finds such files by their line count and
lets the Polars reader number them. These tests hold the numbering to Python's csv module (the file as an editor
or a spreadsheet shows it) on a file big enough for DuckDB to read it in several parallel pieces (> 8 MB), with
two and with four threads. Real DuckDB, real files.
"""

from __future__ import annotations

import csv
import datetime
import io
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import contract_sql, load
from pipelines.sources import SOURCES
from tests.conftest import write_cities_csv

TODAY = datetime.date(2026, 1, 15)
ROWS = 90_000  # ≈ 14 MB: DuckDB splits it between threads (a file under ≈ 8 MB is read by one)
HEADER = [c.name for c in SOURCES["patent_grants"].columns]


def _grants_csv(path: Path, *, crlf=False, bom=False, blank_every=0, newline_in_cell_at=None) -> Path:
    """A grants file with quoted cells holding commas and quotes, and some rows the rules refuse."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    w.writerow(HEADER)
    for i in range(ROWS):
        name = "苏州某某科技有限公司" if i % 3 else f'苏州"{i}号",科技有限公司'  # quoted: a comma and quotes
        if i == newline_in_cell_at:
            name = "苏州某某\n科技有限公司"
        w.writerow(
            [
                f"CN{1000000 + i}B",
                f"CN2019{i:07d}.1",
                "invention",
                "B",
                "2019-03-01",
                "2021-05-04",
                name,
                "enterprise",
                "999999" if i % 997 == 5 else "320500",  # an unknown code: refused, with its row number
                "H04L 9/00",
                "",
                "true",
                "false",
                "false",
                "false",
                "false",
                "true",
            ]
        )
        if blank_every and i % blank_every == blank_every - 1:
            buf.write("\r\n" if crlf else "\n")
    data = buf.getvalue().encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def _python_numbers(path: Path) -> dict[str, int]:
    """publication number -> record number as Python's csv module counts records over the whole file (the header
    is record 1; a blank line is a record of no cells)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        return {r[0]: n for n, r in enumerate(csv.reader(f), start=1) if r and n > 1}


def _ingest(tmp_path: Path, grants: Path, threads: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    load.ingest_file(con, SOURCES["cities"], write_cities_csv(tmp_path / "ref" / "cities.csv"), today=TODAY)
    load.ingest_file(con, SOURCES["patent_grants"], grants, partition=2021, today=TODAY)
    return con


def _numbers_in_warehouse(con) -> tuple[dict[str, int], dict[str, int]]:
    loaded = dict(con.execute("SELECT publication_number, _row_number FROM raw.patent_grants").fetchall())
    refused = dict(
        con.execute(
            "SELECT json_extract_string(raw_values, '$.publication_number'), row_number FROM raw.rejected_rows"
        ).fetchall()
    )
    return loaded, refused


@pytest.mark.parametrize(
    ("layout", "threads"),
    [
        ({}, 2),
        ({}, 4),
        ({"crlf": True}, 4),
        ({"bom": True, "crlf": True}, 2),
        ({"blank_every": 20_000, "crlf": True}, 4),
        ({"newline_in_cell_at": 60_000}, 2),
    ],
    ids=["lf-2", "lf-4", "crlf-4", "bom-crlf-2", "blank-lines-crlf-4", "newline-in-cell-2"],
)
def test_every_record_keeps_its_file_number_when_duckdb_reads_in_parallel(tmp_path, monkeypatch, threads, layout):
    grants = _grants_csv(tmp_path / "grants_2021.csv", **layout)
    assert grants.stat().st_size > contract_sql.SCAN_MIN_BYTES
    expected = _python_numbers(grants)
    contract_sql.READ_LOG.clear()
    con = _ingest(tmp_path, grants, threads)
    how = dict(contract_sql.READ_LOG)[grants.name]
    # one record a line: the scan reads it; blank lines or a line break in a cell: the Polars reader numbers it
    plain = "blank_every" not in layout and "newline_in_cell_at" not in layout
    assert (how == "scan") == plain, how
    loaded, refused = _numbers_in_warehouse(con)
    assert len(loaded) + len(refused) == ROWS
    assert len(refused) == len([i for i in range(ROWS) if i % 997 == 5])
    wrong = {k: (v, expected[k]) for k, v in {**loaded, **refused}.items() if expected[k] != v}
    assert not wrong, f"{len(wrong)} rows at a wrong number, e.g. {list(wrong.items())[:3]}"


def test_with_ordinality_is_the_same_window_and_not_the_file_number(tmp_path):
    """Why the scan does not use WITH ORDINALITY: DuckDB binds it to the same fixed-order streaming window as
    row_number() OVER () (for Parquet too, where file_row_number is read in parallel), and like the window it
    skips a blank line, so its numbers are not the file's. Should a DuckDB release number records natively, this
    test fails and the choice is worth making again."""
    grants = _grants_csv(tmp_path / "grants_2021.csv", blank_every=20_000)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    scan = (
        f"read_csv({contract_sql.lit(str(grants))}, header = false, skip = 1, all_varchar = true, "
        "auto_detect = false, delim = ',', quote = '\"', escape = '\"', strict_mode = true, "
        f"columns = {{{', '.join(f'{chr(39)}c{i}{chr(39)}: {chr(39)}VARCHAR{chr(39)}' for i in range(len(HEADER)))}}})"
    )
    for query in (
        f"SELECT * FROM {scan} WITH ORDINALITY",
        f"SELECT * FROM read_parquet({contract_sql.lit(str(_as_parquet(con, grants)))}) WITH ORDINALITY",
    ):
        plan = con.execute(f"EXPLAIN {query}").fetchall()[0][1]
        assert "Streaming Window" in plan, plan
    numbered = con.execute(f"SELECT c0, ordinality, row_number() OVER () FROM {scan} WITH ORDINALITY").fetchall()
    assert all(o == w for _, o, w in numbered)  # the same numbers as the window ...
    expected = _python_numbers(grants)
    off = [c0 for c0, o, _ in numbered if o + 1 != expected[c0]]  # ... and not the file's after a blank line
    assert len(off) == ROWS - 20_000


def _as_parquet(con, grants: Path) -> Path:
    out = grants.with_suffix(".parquet")
    con.execute(f"COPY (SELECT * FROM read_csv({contract_sql.lit(str(grants))})) TO {contract_sql.lit(str(out))}")
    return out
