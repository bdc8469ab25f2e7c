"""A big CSV scanned in byte ranges cut at record boundaries, one per DuckDB thread (issue 19: the scan's row
numbering window kept the whole insert on one thread).

Each range numbers its records in its own window, offset by the line it starts at (contract_sql.csv_cuts,
contract_sql._stage). These tests hold every number — loaded and quarantined — to Python's csv module (the file as
an editor shows it), with refused rows placed right at the cuts (the last record of one range, the first of the
next), quoted cells with commas and quotes, CRLF, a byte-order mark, GBK, a line break in a cell and a stray quote;
and they hold the raw table, the quarantine and the ledger to what the same file gives scanned whole on one
thread. Real DuckDB, real files.
"""

from __future__ import annotations

import csv
import datetime
import io
import tempfile
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import contract_sql, load
from pipelines.ingest.readers import IngestError
from pipelines.sources import SOURCES
from tests.conftest import write_cities_csv

TODAY = datetime.date(2026, 1, 15)
ROWS = 40_000  # ≈ 6 MB, cut into 4 ranges once a range may be 1 MB
PIECES = 4
HEADER = [c.name for c in SOURCES["patent_grants"].columns]


def _text(*, crlf=False, bad=(), newline_in_cell_at=None, stray_quote_at=None) -> str:
    """A grants file: every third applicant quoted (a comma and quotes in it); rows in ``bad`` have an unknown
    region code of the same length (refused, and the file's bytes stay where they were)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    w.writerow(HEADER)
    bad = set(bad)
    for i in range(ROWS):
        name = "苏州某某科技有限公司" if i % 3 else f'苏州"{i}号",科技有限公司'
        if i == newline_in_cell_at:
            name = "苏州某某\n科技有限公司"
        if i == stray_quote_at:
            name = '苏州某"某科技有限公司'  # a quote inside an unquoted cell: text, for DuckDB and the reader alike
        region = "999998" if i in bad else "320500"
        row = [f"CN{1000000 + i}B", f"CN2019{i:07d}.1", "invention", "B", "2019-03-01", "2021-05-04", name]
        row += ["enterprise", region, "H04L 9/00", "", "true", "false", "false", "false", "false", "true"]
        if i == stray_quote_at:
            buf.write(",".join(row) + ("\r\n" if crlf else "\n"))  # as written, the quote not escaped
        else:
            w.writerow(row)
    return buf.getvalue()


def _write(path: Path, text: str, *, bom=False, encoding="utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


def _cut_lines(text: str) -> list[int]:
    """The lines the ranges start at, as the scan cuts the file's UTF-8 text (a transcoded copy for GBK / BOM)."""
    data = text.encode("utf-8")
    tmp = Path(tempfile.mkdtemp()) / "probe.csv"
    tmp.write_bytes(data)
    return [line for _, line in contract_sql.csv_cuts(tmp, contract_sql.count_text(data), 1, PIECES)[1:]]


def _python_numbers(path: Path, encoding: str) -> dict[str, int]:
    with open(path, newline="", encoding=encoding) as f:
        return {r[0]: n for n, r in enumerate(csv.reader(f), start=1) if r and n > 1}


def _ingest(tmp: Path, grants: Path, threads: int) -> tuple[duckdb.DuckDBPyConnection, str | None, load.IngestResult]:
    """The warehouse after loading the file, and the file's refusal if it was refused, else how it was loaded."""
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    load.ingest_file(con, SOURCES["cities"], write_cities_csv(tmp / "ref" / "cities.csv"), today=TODAY)
    try:
        result = load.ingest_file(con, SOURCES["patent_grants"], grants, partition=2021, today=TODAY)
    except IngestError as e:
        return con, str(e), None
    return con, None, result


def _tables(con) -> dict[str, list]:
    """The raw table, the quarantine and the ledger, without the times of day."""
    out = {}
    for table in ("raw.patent_grants", "raw.rejected_rows", "raw.ingested_files"):
        cols = [c for c, t, *_ in con.execute(f"DESCRIBE {table}").fetchall() if "TIMESTAMP" not in t]
        out[table] = con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY ALL").fetchall()
    return out


@pytest.fixture
def small_ranges(monkeypatch):
    monkeypatch.setattr(contract_sql, "SPLIT_MIN_BYTES", 1 << 20)
    contract_sql.READ_LOG.clear()


@pytest.mark.parametrize(
    "kind",
    ["lf", "crlf", "bom-crlf", "gbk"],
)
def test_rows_at_the_cuts_keep_their_numbers_and_the_tables_match_one_thread(tmp_path, small_ranges, kind):
    crlf, bom, encoding = kind != "lf" and kind != "gbk", kind == "bom-crlf", "gbk" if kind == "gbk" else "utf-8"
    cuts = _cut_lines(_text(crlf=crlf))
    assert len(cuts) == PIECES - 1
    # the last record of each range and the first of the next: data row i sits on line i + 1 (0-based)
    bad = {line - 1 for line in cuts} | {line - 2 for line in cuts} | {5, ROWS - 1}
    text = _text(crlf=crlf, bad=bad)
    assert _cut_lines(text) == cuts  # same bytes, same cuts
    grants = _write(tmp_path / "in" / "grants_2021.csv", text, bom=bom, encoding=encoding)
    assert grants.stat().st_size > contract_sql.SCAN_MIN_BYTES

    con, refusal, result = _ingest(tmp_path / "ranges", grants, PIECES)
    assert refusal is None
    assert dict(contract_sql.READ_LOG)[grants.name] == "scan"
    assert (result.scan_ranges, result.scan_ranges_refused) == (PIECES, False)
    expected = _python_numbers(grants, "utf-8-sig" if encoding == "utf-8" else encoding)
    loaded = dict(con.execute("SELECT publication_number, _row_number FROM raw.patent_grants").fetchall())
    refused = dict(
        con.execute(
            "SELECT json_extract_string(raw_values, '$.publication_number'), row_number FROM raw.rejected_rows"
        ).fetchall()
    )
    assert len(loaded) + len(refused) == ROWS
    # the refused rows are exactly the ones at the cuts (and two more), each named by its line in the file
    assert sorted(refused.values()) == sorted(expected[f"CN{1000000 + i}B"] for i in bad)
    wrong = {k: (v, expected[k]) for k, v in {**loaded, **refused}.items() if expected[k] != v}
    assert not wrong, f"{len(wrong)} rows at a wrong number, e.g. {list(wrong.items())[:3]}"

    whole, _, one = _ingest(tmp_path / "whole", grants, 1)
    assert (one.scan_ranges, one.scan_ranges_refused) == (1, False)  # one thread: the file scanned as before
    assert _tables(con) == _tables(whole)


@pytest.mark.parametrize(
    "layout",
    [{"newline_in_cell_at": 0}, {"stray_quote_at": 7}, {"stray_quote_at": 7, "newline_in_cell_at": 0}],
    ids=["newline-in-cell-at-a-cut", "stray-quote", "stray-quote-and-newline-in-cell"],
)
def test_a_line_break_in_a_cell_or_a_stray_quote_near_a_cut_changes_nothing(tmp_path, small_ranges, layout):
    """A cell with a line break right where a cut would fall: the quote parity keeps the cut out of it, the record
    count finds the file is not one record a line, and the reader numbers it, as it does the whole file. A stray
    quote turns the parity, so a cut can fall inside that cell: DuckDB refuses the range, the file is scanned whole
    and gets its own verdict (here the reader's refusal: the stray quote opens a cell that never closes)."""
    at = _cut_lines(_text())[1] - 1  # the data row on the line the second range would start at
    layout = {k: (at if k == "newline_in_cell_at" else v) for k, v in layout.items()}
    grants = _write(tmp_path / "in" / "grants_2021.csv", _text(bad={3, at + 1}, **layout))

    con, refusal, result = _ingest(tmp_path / "ranges", grants, PIECES)
    whole, whole_refusal, _ = _ingest(tmp_path / "whole", grants, 1)
    assert refusal == whole_refusal
    assert _tables(con) == _tables(whole)
    how = dict(contract_sql.READ_LOG)[grants.name]
    if len(layout) == 2:
        assert refusal and "quoted" in refusal
        return
    assert refusal is None
    assert (how == "scan") == ("newline_in_cell_at" not in layout), how  # a line break in a cell: the reader
    assert (result.scan_ranges, result.scan_ranges_refused) == (1, False)  # and the file's result says: read whole
    expected = _python_numbers(grants, "utf-8")
    rows = con.execute(
        "SELECT publication_number, _row_number FROM raw.patent_grants UNION ALL "
        "SELECT json_extract_string(raw_values, '$.publication_number'), row_number FROM raw.rejected_rows"
    ).fetchall()
    assert len(rows) == ROWS
    assert all(expected[k] == v for k, v in rows)


def test_cuts_fall_only_between_records(tmp_path):
    """Every cut starts a line outside quoting, below the header, with the file's own line break."""
    for crlf in (False, True):
        data = _text(crlf=crlf, newline_in_cell_at=ROWS // 2).encode("utf-8")
        path = tmp_path / f"g{crlf}.csv"
        path.write_bytes(data)
        cuts = contract_sql.csv_cuts(path, contract_sql.count_text(data), 1, 8)
        assert cuts[0] == (0, 0) and len(cuts) == 8
        for offset, line in cuts[1:]:
            assert data[offset - 1 : offset] == b"\n"
            assert data.count(b"\n", 0, offset) == line
            assert data.count(b'"', 0, offset) % 2 == 0
            assert (data[offset - 2 : offset - 1] == b"\r") == crlf
