"""The contract compiled to SQL: one DuckDB scan of a landing file types every column and judges every row.

`pipelines/sources.py` stays the one contract. From it (and the file's header, mapped by the same
`match_header` / `map_columns` as the Polars reader) this module generates:

* the scan: DuckDB ``read_csv`` (explicit delimiter, quote, header skip, every column as text) or
  ``read_parquet``; header aliases resolved to file positions, unit conversions (亿元 -> 万元, a 单位：元 line)
  as factors, explicit contract types;
* per-row rule expressions: required values, lengths, formula-like text, enumerations (with their Chinese
  synonyms), region codes, city-level totals, numbers and whole numbers, minimum / maximum, dates and months,
  yes/no spellings, no future dates, the partition year, cross-field order, kind code vs type, record
  plausibility (the seed's thresholds), total and note rows;
* one ``INSERT … SELECT`` from the scan into the raw table: typed values, the row number (computed in the
  scan), lineage, and only the rows every rule passes — no stage table, no Python frame. When fewer rows load
  than the file has records, a second pass keeps the raw text of just the other rows (refused by some rule, or
  in a spelling the SQL does not read: full-width characters, 2025年3月5日 dates, per cent, Excel errors ...).

The refused rows — few in a real file — are named by the Polars rule set of `validate` (the one place each reason
text is defined), so every refusal reason and every accepted spelling of the Polars path holds unchanged. A
file the scan cannot read the same way as the Polars reader (not UTF-8, blank lines, ragged or cut-off rows,
quotes in the header, a workbook, per-cent columns) is read by the Polars path as before.
"""

from __future__ import annotations

import bisect
import dataclasses
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines import reference
from pipelines.counts import count_en
from pipelines.ingest.readers import (
    _BOMS,
    EMPTY_COLUMN_RUN,
    ROW_FLAGS,
    ROW_NUMBER,
    IngestError,
    RawFrame,
    _dedupe,
    _head_text,
    _sniff,
    context_year,
    flag_repeated_headers,
    note_unit,
    title_month,
    title_span,
    unit_line,
)
from pipelines.ingest.validate import (
    _FALSE,
    _NOTE_ROW,
    _TRUE,
    DISTRICT,
    INDENT,
    SCIENTIFIC_TEXT,
    has_breakdown_label,
    has_indented_text,
    map_columns,
    summing_sheets,
)
from pipelines.sources import NATIONAL_CODES, TOTAL_LABEL_CHARS, Column, Source, plausibility_thresholds

REST = "__ingest_rest"  # the rows of a scan that did not load straight away (refused, blank)
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
SCAN_SUFFIXES = (*CSV_SUFFIXES, ".parquet")
# Files at least this big are scanned by DuckDB; smaller ones (and workbooks) are read by the Polars reader and
# the same SQL runs over the frame (reading a small file is cheap; the reader's messages name every oddity).
SCAN_MIN_BYTES = 1 << 20
# A text file is scanned in byte ranges cut at record boundaries, one per DuckDB thread, each at least this big:
# the row number of a CSV record comes from a fixed-order window (Layout.row_sql), which keeps the scan, the rules
# and the insert above it on one thread; one window per range, each offset by the line its range starts at, keeps
# the numbers exact and lets the ranges run on every core. Smaller pieces are not worth their copy.
SPLIT_MIN_BYTES = 32 << 20
TEXT_CHUNK = 1 << 22  # the hash pass reads (and counts) a file in chunks of this size


@dataclass(frozen=True)
class TextCounts:
    """What the hash pass counts in a text file while it reads it anyway: line breaks and quote characters, in
    all and before each chunk, so a cut point and the line it starts can be found by reading a few MB there."""

    lines: int
    quotes: int
    marks: tuple[tuple[int, int, int], ...]  # (byte offset, line breaks before it, quotes before it) per chunk


class TextCounter:
    """Counts line breaks and quotes of a text file chunk by chunk (TextCounts)."""

    def __init__(self) -> None:
        self.offset = self.lines = self.quotes = 0
        self.marks: list[tuple[int, int, int]] = []

    def add(self, chunk: bytes | memoryview) -> None:
        self.marks.append((self.offset, self.lines, self.quotes))
        self.offset += len(chunk)
        self.lines += chunk.count(b"\n")
        if b'"' in chunk:  # memchr finds none in a chunk without quotes 7x faster than count() counts them
            self.quotes += chunk.count(b'"')

    def counts(self) -> TextCounts:
        return TextCounts(self.lines, self.quotes, tuple(self.marks))


def count_text(data: bytes) -> TextCounts:
    counter = TextCounter()
    for i in range(0, len(data), TEXT_CHUNK):
        counter.add(data[i : i + TEXT_CHUNK])
    return counter.counts()


CODE_COLUMNS = ("city_code", "region_code", "province_code", "parent_code")
# What Polars' strip_chars() strips at both ends besides the ASCII whitespace DuckDB's trim is given: a cell
# starting or ending with one of these is left to the Polars path.
_WS = "' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)"


class NotScannable(Exception):
    """The file is read by the Polars path (its layout is one the scan does not read the same way)."""


# How each file of this process was read: "scan" or "polars: <why>" (for the benchmark and the tests).
READ_LOG: list[tuple[str, str]] = []


def lit(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def ident(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


@dataclass
class Layout:
    """How a landing file maps onto the contract, worked out from its head (text files) or schema (Parquet)."""

    kind: str  # csv | parquet
    headers: list[str]  # file headers (deduplicated) by position
    renames: dict[str, str]  # file header -> contract column
    factors: dict[str, float]
    notes: list[str]
    first_row: int  # row number of the first data row (numbering as the Polars reader numbers rows)
    skip: int = 0  # text lines before the first data row
    delimiter: str = ","
    unit_line: str | None = None
    context_year: int | None = None
    unit_note: bool = False  # unit_line is stated by a note below the table (a frame's RawFrame.unit_note)
    scan_columns: list[str] = field(default_factory=list)  # SQL expression of each file column
    # Parquet: each column's DuckDB type, and how its value is written as text (as the Polars reader writes
    # it) — only for the rows whose text is needed: the refused ones, and columns typed unlike the contract.
    native: list[str] = field(default_factory=list)
    lines: int | None = None  # line breaks in a text file (counted with its hash)
    encoding: str = "utf-8"
    flags: list[str] = field(default_factory=list)  # reader flags of a frame (__ragged, __truncated): refused rows
    sheets: list[dict] = field(default_factory=list)
    # the scan reads the file in byte ranges, each numbering its records from its first line (__prn; csv_cuts)
    pieces: int = 1

    @property
    def row_sql(self) -> str:
        """The row number of a scanned record, computed in the scan itself (so the rows may go anywhere, in any
        order, afterwards): a frame carries it; a Parquet row is its ``file_row_number`` (0-based); a CSV record
        is numbered by ``row_number() OVER ()`` right above the scan — DuckDB runs that streaming window in file
        order (a fixed-order operator), whatever the threads and insertion-order settings. It keeps the pipeline
        above it on one thread, so a big file is read in byte ranges cut at record boundaries (csv_cuts), each
        numbered by its own window from the line it starts at (``__prn``), the ranges on every core.
        ``read_csv(...) WITH ORDINALITY`` is no way out: DuckDB 2.0 binds it to this same window, and like it numbers the records DuckDB
        returns, skipping blank lines (tests/test_ingest_scan_row_numbers.py); the line count sends such files to
        the Polars reader."""
        if self.kind == "frame":
            return ROW_NUMBER
        if self.kind == "parquet":
            return f"(CAST(file_row_number AS BIGINT) + {self.first_row})"
        if self.pieces > 1:
            return "__prn"  # numbered in each range's own window (_stage), offset by the line the range starts at
        return f"(CAST(row_number() OVER () AS BIGINT) + {self.first_row - 1})"


# ------------------------------------------------------------------------------------------------ layout


def transcode(path: Path, tmp_dir: Path) -> tuple[Path, str, TextCounts]:
    """A text file in another encoding (GBK, UTF-16, a byte-order mark) as a UTF-8 copy the scan reads:
    (path, encoding, its line breaks and quotes). The decoding (and its refusals) is the Polars reader's own."""
    from pipelines.ingest.readers import _decode

    try:
        text, encoding = _decode(path.read_bytes(), path.name)
    except IngestError as e:
        raise NotScannable(e.reason) from e
    data = text.encode("utf-8")
    out = tmp_dir / (path.stem + ".utf8.csv")
    out.write_bytes(data)
    return out, encoding, count_text(data)


def csv_cuts(path: Path, counts: TextCounts, skip: int, pieces: int) -> list[tuple[int, int]]:
    """Where a UTF-8 text file can be cut into about ``pieces`` byte ranges of whole records: [(byte offset, line
    breaks before it)], the first range starting at 0. A cut is the start of a line below the header lines that no
    quoted cell spans: an even number of quote characters before it (a quoted cell opens and closes with one, an
    escaped quote is two), and the same line break (LF or CRLF) at the end of the line before it and of the line
    it starts as at the end of the file's first line (DuckDB takes the line break from the lines it reads first).
    A quote outside quoting (ab"c, which DuckDB reads as text) can fool the parity; a range that then ends inside a
    quoted cell is refused by DuckDB (unterminated quote) and the file is scanned whole (_stage). A file whose
    records are not one a line (blank lines, line breaks in cells) is found by its record count (_run_stage)."""
    size = path.stat().st_size
    offsets = [m[0] for m in counts.marks]
    cuts = [(0, 0)]
    with open(path, "rb") as f:
        first = f.read(65536)
        eol = first.find(b"\n")
        if eol < 0:
            return cuts
        crlf = first[eol - 1 : eol] == b"\r"
        for i in range(1, pieces):
            target = max(size * i // pieces, cuts[-1][0] + 1)
            off, lines, quotes = counts.marks[bisect.bisect_right(offsets, target) - 1]
            f.seek(off)
            buf = f.read(target - off + TEXT_CHUNK)  # the cut is looked for within a chunk after the target
            quotes += buf.count(b'"', 0, target - off)
            pos = target - off
            while (nl := buf.find(b"\n", pos)) >= 0:
                quotes += buf.count(b'"', pos, nl)
                pos = nl + 1
                after = buf.find(b"\n", pos)
                if (
                    quotes % 2 == 0
                    and (buf[nl - 1 : nl] == b"\r") == crlf
                    and after >= 0
                    and (buf[after - 1 : after] == b"\r") == crlf
                ):
                    line = lines + buf.count(b"\n", 0, pos)
                    if line > skip and off + pos < size:
                        cuts.append((off + pos, line))
                    break
    return cuts


def _copy_range(src: Path, dst: Path, start: int, length: int) -> None:
    """Bytes [start, start + length) of src as the file dst (in the kernel where it can: copy_file_range)."""
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        try:
            while length:
                n = os.copy_file_range(fi.fileno(), fo.fileno(), length, start)
                if n == 0:
                    raise OSError("copy_file_range copied nothing")
                start, length = start + n, length - n
        except OSError:  # a file system or kernel without it: the same bytes through user space
            fo.seek(0)
            fo.truncate()
            fi.seek(start)
            while length:
                chunk = fi.read(min(length, TEXT_CHUNK))
                if not chunk:
                    raise
                fo.write(chunk)
                length -= len(chunk)


def csv_layout(path: Path, source: Source, *, lines: int | None, encoding: str = "utf-8", name: str = "") -> Layout:
    """The header of a UTF-8 text file, found exactly as the Polars reader finds it (same sniffing)."""
    name = name or path.name
    with open(path, "rb") as f:
        first = f.read(65536)
        f.seek(max(0, path.stat().st_size - 64))
        tail = f.read()
    if first.startswith(_BOMS) or b"\x00" in first or not first.strip():
        raise NotScannable("byte-order mark, UTF-16 or empty")
    if not tail.endswith(b"\n"):
        raise NotScannable("no line break at the end (a cut-off last row is read by the Polars path)")
    if b"\x1a" in tail:
        raise NotScannable("an end-of-file mark (Ctrl-Z) after the last line (read by the Polars path)")
    head = _head_text(first)
    if head is None:
        raise NotScannable("not UTF-8")
    head_lines = head.splitlines()[:16]
    try:
        delimiter, rows, h, n_header, header = _sniff(head_lines, source, name)
    except IngestError as e:
        raise NotScannable(str(e)) from e
    if any(len(r) > EMPTY_COLUMN_RUN for r in rows):
        raise NotScannable("a line as wide as a sheet (the reader cuts its runs of empty columns)")
    n_lines = h + n_header
    # The header lines must be plain lines: no quoted line breaks, no line separators other than \n / \r\n.
    prefix_end = -1
    for _ in range(n_lines):
        prefix_end = first.find(b"\n", prefix_end + 1)
        if prefix_end < 0:
            raise NotScannable("no data after the header")
    prefix = first[: prefix_end + 1]
    if b'"' in prefix or len(prefix.decode("utf-8").splitlines()) != n_lines:
        raise NotScannable("quotes or unusual line breaks above the data")
    width = len(rows[h + n_header - 1])
    header = [str(c).lstrip("\ufeff") if c not in (None, "") else f"__blank{i}" for i, c in enumerate(header)]
    header = (header + [f"__blank{i}" for i in range(len(header), width)])[:width]
    headers = _dedupe(header)
    notes = [f"skipped {count_en(h, 'title row')} above the header"] if h else []
    if n_header == 2:
        notes.append("joined a two-row header")
    if delimiter != ",":
        notes.append({"\t": "tab-separated", ";": "semicolon-separated", "|": "bar-separated"}[delimiter])
    if encoding != "utf-8":
        notes.append(f"decoded from {encoding}")
    raw = RawFrame(
        pl.DataFrame(schema={c: pl.Utf8 for c in headers}),
        encoding,
        notes,
        [],
        unit_line(rows[:h], rows[h] if h < len(rows) else None),
        context_year(rows[:h], Path(name)),
    )
    if source.partition_date == "month" and title_span(rows[:h], Path(name)) is not None:
        raise NotScannable("a title stating several months")  # the reader sees all its rows' months
    if source.partition_date == "month" and title_month(rows[:h]) is not None:
        raise NotScannable("a title stating a month")  # the reader compares it with all its rows' months
    mapped = _map(raw, source, name)
    return Layout(
        "csv",
        headers,
        mapped.renames,
        mapped.factors,
        mapped.notes + notes,
        first_row=h + n_header + 1,
        skip=n_lines,
        delimiter=delimiter,
        unit_line=raw.unit_line,
        context_year=raw.context_year,
        scan_columns=[f"c{i}" for i in range(width)],
        encoding=encoding,
        lines=lines,
    )


def parquet_layout(con: duckdb.DuckDBPyConnection, path: Path, source: Source) -> Layout:
    try:
        cols = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    except duckdb.Error as e:
        raise NotScannable(f"unreadable Parquet ({e})") from e
    headers = [c[0] for c in cols]
    if len(set(headers)) != len(headers):
        raise NotScannable("repeated column names")
    if "file_row_number" in headers:  # the name of the scan's own row number
        raise NotScannable("a column named file_row_number")
    for name, dtype, *_ in cols:
        if any(k in dtype for k in ("[", "STRUCT", "MAP", "UNION", "BLOB")):
            raise NotScannable(f"column {name} is {dtype}")
    raw = RawFrame(pl.DataFrame(schema={c: pl.Utf8 for c in headers}), "parquet")
    mapped = _map(raw, source, path.name)
    return Layout(
        "parquet",
        headers,
        mapped.renames,
        mapped.factors,
        mapped.notes,
        first_row=1,
        scan_columns=[ident(h) for h in headers],
        encoding="parquet",
        native=[c[1] for c in cols],
    )


def frame_layout(raw: RawFrame, source: Source, file_name: str) -> Layout:
    """A file already read into an all-text frame (a workbook, a small text file): the same SQL runs over it."""
    if raw.title_span is not None and source.partition_date == "month":
        # a table whose title states several months: the reader sees all its rows' months (validate.period_total)
        raise NotScannable("a title stating several months")
    if raw.title_month is not None and source.partition_date == "month":
        raise NotScannable("a title stating a month")  # the reader compares it with all its rows' months
    if summing_sheets(raw, source):
        raise NotScannable("a sheet summing the others (its rows are refused by the Polars rules)")
    flags = [c for c in raw.df.columns if c in ROW_FLAGS]
    headers = [c for c in raw.df.columns if c != ROW_NUMBER and c not in flags]
    mapped = _map(raw, source, file_name)
    return Layout(
        "frame",
        headers,
        mapped.renames,
        mapped.factors,
        mapped.notes + raw.notes,
        first_row=0,
        unit_line=raw.unit_line,
        context_year=raw.context_year,
        unit_note=raw.unit_note,
        scan_columns=[ident(h) for h in headers],
        encoding=raw.encoding,
        flags=flags,
        sheets=raw.sheets,
    )


def _map(raw: RawFrame, source: Source, file_name: str):
    try:
        mapped = map_columns(raw, source, file_name)
    except IngestError as e:
        raise NotScannable(e.reason) from e  # the Polars path refuses the file with the same words
    pct = {c for c in (source.ratio_by_indicator[1] if source.ratio_by_indicator else ())} | {
        c.name for c in source.columns if c.ratio
    }
    if pct & set(mapped.renames.values()):
        raise NotScannable("share columns (per cent spellings are read by the Polars path)")
    if mapped.derived:
        raise NotScannable("a key column derived from the row's values (read by the Polars path)")
    if mapped.by_name:
        raise NotScannable("unit names instead of codes (read through the administrative divisions by the Polars path)")
    if any(c.startswith("__beside:") for c in mapped.df.columns):
        raise NotScannable("unit names beside the codes (checked against them by the Polars path)")
    if DISTRICT in mapped.df.columns:
        raise NotScannable("a district column (read through the county list by the Polars path)")
    return mapped


# ------------------------------------------------------------------------------------------------ rules


def _regex_alternatives(values) -> str:
    return "(" + "|".join(re.escape(v) for v in sorted(values)) + ")"


@dataclass
class Compiled:
    select: str  # the stage query
    typed: list[str]  # contract columns (+ year) as stored
    checks: list[str] = field(default_factory=list)  # the ok-conditions (the verdict is their conjunction)


def compile_stage(
    source: Source,
    layout: Layout,
    scan_from: str,
    *,
    partition: int | None,
    today: date,
    valid_codes: frozenset[str] | None,
    population: dict[str, float] | None,
) -> Compiled:
    """The stage query: typed contract columns, ``__ok`` (every rule passed, in a spelling the SQL reads),
    ``__blank`` (an empty line of cells: not a record) and the file's text cells for the other rows."""
    by_target = {v: k for k, v in layout.renames.items()}
    pos = {h: i for i, h in enumerate(layout.headers)}
    scan = layout.scan_columns

    def native_of(col: str) -> str | None:
        """The Parquet type of a contract column when it can be used as it is (no text in between)."""
        h = by_target.get(col)
        if h is None or not layout.native:
            return None
        c, dtype = source.column(col), layout.native[pos[h]]
        usable = {
            "date": dtype == "DATE",
            "bool": dtype == "BOOLEAN",
            "int": dtype in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT") and not layout.factors.get(col),
            "float": dtype == "DOUBLE",
        }.get(c.dtype, False)
        return dtype if usable else None

    def raw_of(col: str) -> str:
        h = by_target.get(col)
        if h is None:
            return "CAST(NULL AS VARCHAR)"
        return scan[pos[h]] if native_of(col) else _as_text(scan[pos[h]], layout, pos[h])

    # The cell as it stands: DuckDB reads an empty field as NULL; a cell with white space or a control
    # character at either end (or an empty quoted "") is left to the Polars rules, which strip it.
    text = {c.name: raw_of(c.name) for c in source.columns}
    values: dict[str, str] = {}
    ok: list[str] = []

    def t(name: str) -> str:
        return f"__t_{name}"

    def v(name: str) -> str:
        return f"__v_{name}"

    for c in source.columns:
        if native_of(c.name):
            values[c.name], checks = _native_column(c, t(c.name), v(c.name), layout.factors.get(c.name))
        else:
            values[c.name], checks = _column(c, t(c.name), v(c.name), layout.factors.get(c.name), valid_codes)
        ok += checks
    # Rules across a record's values (the typed values are referenced through the inner query's aliases).
    ok += [f"coalesce(NOT ({cond}), true)" for cond in _cross_field_sql(source, v)]
    for d in source.no_future:
        ok.append(f"coalesce({v(d)} <= DATE {lit(today.isoformat())}, true)")
    if source.partitioned and partition is not None:
        ok.append(f"coalesce(year({v(source.partition_date)}) = {int(partition)}, true)")
    ok += _record_rules_sql(source, v, population)

    # Totals and notes: a 合计/小计/总计 label in a text, date or extra column, a note line in the first columns.
    # (a column whose pattern admits only ASCII, an enumeration, a date or a number cannot hold either)
    def free(h: str) -> bool:
        if layout.native and layout.native[pos[h]] != "VARCHAR":
            return False
        if h not in layout.renames:
            return True
        c = source.column(layout.renames[h])
        return c.dtype == "str" and not (c.allowed or c.region_code or c.identifier or c.name.endswith("_code"))

    # Each free-text cell is searched once, by one pattern of everything that leaves its row to the reader: a total
    # label or 其中 anywhere, an indent (validate.INDENT: a breakdown shown only by its indent, perhaps) and, in the
    # first two columns, a note line. One RE2 pass over the cell where ten contains() calls and the indent pattern
    # read it eleven times (a national year's two free-text columns: 0.66 s of CPU against 1.31 s, and the scan's
    # numbered pipeline runs on one thread; see tests/test_ingest_scan_row_numbers.py).
    labels = "|".join(re.escape(t) for t in (*TOTAL_LABEL_CHARS, "其中"))
    first = [h for h in layout.headers if not h.startswith("__")][:2]
    for h in layout.headers:
        if not h.startswith("__") and free(h):
            pattern = f"(?:{INDENT})|{labels}" + (f"|(?:{_NOTE_ROW})" if h in first else "")
            ok.append(f"coalesce(NOT regexp_matches(__c{pos[h]}, {lit(pattern)}), true)")
    for c in source.columns:
        if c.city_level:
            ok.append(f"coalesce(NOT ({v(c.name)} LIKE '__0000' OR {_in(v(c.name), NATIONAL_CODES)}), true)")
    ok += [f"{ident(f)} IS NULL" for f in layout.flags]
    data_cols = [f"__c{pos[h]}" for h in layout.headers if not h.startswith("__")]
    # An empty line of cells is layout, not a record (the Polars reader drops it; a frame has none left).
    blank = (
        " AND ".join(
            f"CASE WHEN {c} IS NULL THEN true WHEN {c} < '!' THEN trim({c}, {_WS}) = '' ELSE false END"
            for c in data_cols
        )
        if layout.kind == "csv"
        else "false"
    )

    inner = ", ".join(
        [f"{text[c.name]} AS {t(c.name)}" for c in source.columns]
        + [f"{scan[i]} AS __c{i}" for i in range(len(layout.headers))]
        + [ident(f) for f in layout.flags]
        + [f"{layout.row_sql} AS __rn"]
    )
    mid = ", ".join(["*"] + [f"{values[c.name]} AS {v(c.name)}" for c in source.columns])
    typed = [c.name for c in source.columns] + (["year"] if source.partitioned else [])
    outer = [f"{v(c.name)} AS {ident(c.name)}" for c in source.columns]
    if source.partitioned:
        outer.append(f"CAST(year({v(source.partition_date)}) AS INTEGER) AS year")
    verdict = " AND ".join(f"({x})" for x in ok) or "true"
    judged = f"*, ({verdict}) AS __ok, ({blank}) AS __blank"
    outer += ["__ok", "__blank"]
    outer += [
        f"CASE WHEN NOT __ok THEN {_as_text(f'__c{i}', layout, i)} END AS __raw{i}" for i in range(len(layout.headers))
    ]
    outer += [ident(f) for f in layout.flags] + ["__rn"]
    select = (
        f"SELECT {', '.join(outer)} FROM (SELECT {judged} FROM (SELECT {mid} FROM (SELECT {inner} FROM {scan_from})))"
    )
    return Compiled(select, typed, ok)


# What a cell the SQL passes may look like, per kind of column. Anything else (white space or a control character
# at either end, full-width characters, Chinese enumeration words, other date or number spellings, a formula or
# an Excel error) is left to the Polars rules, which read every spelling and name every refusal.
# blank, control, formula-like (=, +, @, -), an Excel error (#N/A) or Excel's text mark (' before a code)
_NOT_FIRST = r"\x00-\x20=+@#\-'"
_U = r"\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"  # Unicode spaces
FREE_TEXT_RE = rf"(?s)[^{_NOT_FIRST}{_U}](?:.*[^\x00-\x20{_U}])?"
ASCII_TOKEN_RE = rf"[^{_NOT_FIRST}\x7f-\x{{10FFFF}}](?:[^\x00-\x1f\x7f-\x{{10FFFF}}]*[^\x00-\x20\x7f-\x{{10FFFF}}])?"
IDENTIFIER_RE = rf"[^{_NOT_FIRST}\[\]()\x7f-\x{{10FFFF}}][^\x00-\x20\[\]()\x7f-\x{{10FFFF}}]*"
CODE_RE = rf"[^{_NOT_FIRST}.\x7f-\x{{10FFFF}}][^\x00-\x20.\x7f-\x{{10FFFF}}]*"  # no "320500.0" (Excel)
NUMBER_RE = r"-?[0-9]+(\.[0-9]+)?"
SCIENTIFIC_RE = SCIENTIFIC_TEXT.strip("^$")
DATE_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
MONTH_RE = r"[0-9]{4}-[0-9]{2}(-[0-9]{2})?"
_TRUE_CASED = tuple(sorted({v for t in _TRUE for v in (t, t.upper(), t.capitalize())}))
_FALSE_CASED = tuple(sorted({v for t in _FALSE if t for v in (t, t.upper(), t.capitalize())}))


def _column(c: Column, x: str, vname: str, factor: float | None, valid_codes) -> tuple[str, list[str]]:
    """(typed value expression over the cell ``x``, ok-conditions over ``x`` and the typed value ``vname``) of
    one contract column. One pattern per cell where possible: the checks cost about one pass over the text."""
    ok: list[str] = []
    if c.required:
        ok.append(f"{x} IS NOT NULL")

    def present(cond: str) -> None:
        ok.append(f"({x} IS NULL OR ({cond}))")

    if c.dtype == "str":
        if c.allowed:
            present(_in(x, c.allowed))  # Chinese synonyms are mapped by the Polars rules
        elif c.region_code and valid_codes is not None:
            # a merged unit's old code (371200 莱芜市, and the county codes under it) is judged by the Polars rules,
            # which read it by the row's period (validate._merged_codes): refused after the merge
            merged = {r[1][:4] for r in reference.former_units() if r[4] == "merged"}
            codes = sorted(k for k in valid_codes if re.fullmatch(r"[0-9]{6}", k) and k[:4] not in merged)
            prefectures = sorted({k[:4] for k in codes if k.endswith("00")})
            # the code, or a county-level code of a known prefecture (validate._known_codes), as one pattern
            pattern = f"{_regex_alternatives(codes)}|{_regex_alternatives(prefectures)}[0-9]{{2}}"
            present(f"regexp_full_match({x}, {lit(pattern)})")
        elif c.identifier or c.name.endswith("_code"):
            pattern = IDENTIFIER_RE if c.identifier else CODE_RE if c.name in CODE_COLUMNS else ASCII_TOKEN_RE
            # 2.02211E+11 (a number Excel wrote for an identifier) is refused by the Polars rules
            present(f"regexp_full_match({x}, {lit(pattern)}) AND NOT regexp_full_match({x}, {lit(SCIENTIFIC_RE)})")
        elif c.region_code:
            present(f"regexp_full_match({x}, {lit(ASCII_TOKEN_RE)})")
        else:
            present(f"regexp_full_match({x}, {lit(FREE_TEXT_RE)})")
        if c.max_length:
            ok.append(f"coalesce(length({x}) <= {int(c.max_length)}, true)")
        return x, ok
    if c.dtype in ("int", "float"):
        num = f"TRY_CAST({x} AS DOUBLE)" + (f" * {factor!r}" if factor else "")
        if c.dtype == "int":
            value = f"TRY_CAST(round({num}) AS BIGINT)"
            present(f"regexp_full_match({x}, {lit(NUMBER_RE)}) AND abs({num} - round({num})) <= 1e-9")
        else:
            value = num
            present(f"regexp_full_match({x}, {lit(NUMBER_RE)})")
        ok.append(f"({x} IS NULL OR {vname} IS NOT NULL)")
        if c.min_value is not None:
            ok.append(f"coalesce({vname} >= {c.min_value!r}, true)")
        if c.max_value is not None:
            ok.append(f"coalesce({vname} <= {c.max_value!r}, true)")
        return value, ok
    if c.dtype == "date":
        if c.name == "month":
            value = (
                f"CASE WHEN length({x}) = 7 THEN TRY_CAST({x} || '-01' AS DATE) "
                f"ELSE CAST(date_trunc('month', TRY_CAST({x} AS DATE)) AS DATE) END"
            )
            present(f"regexp_full_match({x}, {lit(MONTH_RE)}) AND {vname} IS NOT NULL")
        else:
            value = f"TRY_CAST({x} AS DATE)"
            present(f"regexp_full_match({x}, {lit(DATE_RE)}) AND {vname} IS NOT NULL")
        return value, ok
    if c.dtype == "bool":
        # true / false (what exports write) answered by one comparison each; the list only for other spellings
        value = (
            f"CASE WHEN {x} = 'true' THEN true WHEN {x} = 'false' THEN false "
            f"ELSE coalesce({_in(x, _TRUE_CASED)}, false) END"
        )
        # other casings are read by the Polars rules
        present(f"CASE WHEN {x} = 'true' OR {x} = 'false' THEN true ELSE {_in(x, _TRUE_CASED + _FALSE_CASED)} END")
        return value, ok
    raise ValueError(c.dtype)


def _as_text(col: str, layout: Layout, i: int) -> str:
    """A file column as the Polars reader has it: text (Parquet dates as YYYY-MM-DD, other types cast)."""
    if not layout.native or layout.native[i] == "VARCHAR":
        return col
    if layout.native[i] == "DATE":
        return f"strftime({col}, '%Y-%m-%d')"
    return f"CAST({col} AS VARCHAR)"


def _native_column(c: Column, x: str, vname: str, factor: float | None) -> tuple[str, list[str]]:
    """A Parquet column already of the contract's type: the value as it is, the range rules over it."""
    ok = [f"{x} IS NOT NULL"] if c.required else []
    if c.dtype == "date":
        return (f"CAST(date_trunc('month', {x}) AS DATE)" if c.name == "month" else x), ok
    if c.dtype == "bool":
        return f"coalesce({x}, false)", ok
    value = f"CAST({x} AS BIGINT)" if c.dtype == "int" else (f"{x} * {factor!r}" if factor else x)
    if c.dtype == "float":
        # NaN and infinity are no numbers: left to the Polars rules, which refuse them (validate.NUMBER_TEXT)
        ok.append(f"({x} IS NULL OR isfinite({x}))")
    if c.min_value is not None:
        ok.append(f"coalesce({vname} >= {c.min_value!r}, true)")
    if c.max_value is not None:
        ok.append(f"coalesce({vname} <= {c.max_value!r}, true)")
    return value, ok


def _in(x: str, values) -> str:
    """x is one of the constants."""
    return f"list_contains([{', '.join(map(lit, values))}], {x})"


def _guard(x: str, num: str) -> str:
    """The number only where the text is a plain decimal (DuckDB and Polars read other spellings differently)."""
    return f"CASE WHEN regexp_full_match({x}, '-?[0-9]+(\\.[0-9]+)?') THEN {num} END"


def _cross_field_sql(source: Source, v) -> list[str]:
    """The conditions of validate._cross_field_rules (a bad record when true)."""
    cols = {c.name for c in source.columns}
    out = []
    pairs = [
        ("application_date", "grant_date", "<"),
        ("grant_date", "lapse_date", "<"),
        ("filed_date", "closed_date", "<"),
        ("cycle_first_year", "cycle_last_year", "<"),
    ]
    for earlier, later, op in pairs:
        if {earlier, later} <= cols:
            out.append(f"{v(later)} {op} {v(earlier)}")
    if {"first_time_borrowers", "enterprises_served"} <= cols:
        out.append(f"{v('first_time_borrowers')} > {v('enterprises_served')}")
    if {"patent_type", "kind_code"} <= cols:
        pt, kc = v("patent_type"), v("kind_code")
        out.append(
            f"{pt} IS NOT NULL AND {kc} IS NOT NULL AND NOT (({pt} = 'invention' AND ({kc} = 'B' OR {kc} = 'C')) OR "
            f"({pt} = 'utility_model' AND ({kc} = 'U' OR {kc} = 'Y')) OR ({pt} = 'design' AND ({kc} = 'S' OR {kc} = 'D')))"
        )
    if {"evaluated_on", "site_visit_date"} <= cols:
        out.append(f"{v('site_visit_date')} > {v('evaluated_on')}")
    if {"baseline_year", "target_year"} <= cols:
        out.append(f"{v('target_year')} <= {v('baseline_year')}")
    return out


def _record_rules_sql(source: Source, v, population: dict[str, float] | None) -> list[str]:
    """validate._record_rules as ok-conditions: a ratio of two values (or of a value to the unit's population)
    within the seed's thresholds."""
    thresholds = plausibility_thresholds()
    out = []
    for rule in source.record_rules:
        low, high = thresholds.get(rule.rule_id, (None, None))
        if low is None and high is None:
            continue
        num = f"CAST({v(rule.numerator)} AS DOUBLE)"
        if rule.denominator == "population_10k":
            if not population:
                continue
            unit_col = next(c.name for c in source.columns if c.region_code)
            keys = ", ".join(lit(k) for k in population)
            vals = ", ".join(repr(float(x)) for x in population.values())
            den = f"map_extract(MAP([{keys}], [{vals}]), {v(unit_col)})[1]"
        else:
            den = f"CAST({v(rule.denominator)} AS DOUBLE)"
        bad = []
        if low is not None:
            bad.append(f"{num} / {den} < {low!r}")
        if high is not None:
            bad.append(f"{num} / {den} > {high!r}")
        out.append(f"coalesce(NOT ({den} > 0 AND {num} > 0 AND ({' OR '.join(bad)})), true)")
    return out


# ------------------------------------------------------------------------------------------------ stage


@dataclass
class Target:
    """Where a scanned file's good rows go: the source's raw table, with the file's lineage columns."""

    table: str
    file_name: str
    file_hash: str
    loaded_at: datetime


@dataclass
class Staged:
    """A file scanned once: its good rows are already in the raw table, in a transaction left open for the
    caller (who names the other rows, then commits — or rolls back, and nothing of the file is left)."""

    layout: Layout
    typed: list[str]
    rows_read: int  # records of the file (blank lines of cells not counted)
    rows_loaded: int  # good rows inserted straight from the scan
    suspect: RawFrame | None  # the rows the SQL did not pass, as the Polars reader would have read them
    encoding: str
    target: Target
    # DuckDB refused one of the file's byte ranges, so the file was scanned whole (layout.pieces says how many
    # ranges a file that was cut was read in)
    ranges_refused: bool = False


def stage(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    path: Path,
    *,
    partition: int | None,
    today: date,
    valid_codes: frozenset[str] | None,
    population: pl.DataFrame | None,
    counts: TextCounts | None,
    target: Target,
) -> Staged:
    """Scan the file once, loading its good rows into ``target`` (transaction left open). Raises NotScannable
    (nothing loaded, no transaction open) for files the Polars path reads."""
    cleanup: list[Path] = []
    try:
        return _stage(con, source, path, partition, today, valid_codes, population, counts, target, cleanup)
    finally:
        for d in cleanup:
            shutil.rmtree(d, ignore_errors=True)


def _stage(con, source, path, partition, today, valid_codes, population, counts, target, cleanup) -> Staged:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        layout = parquet_layout(con, path, source)
        scan_from = f"read_parquet({lit(str(path))})"
        expected = con.execute(f"SELECT count(*) FROM {scan_from}").fetchall()[0][0]  # from the file's metadata
    elif suffix in CSV_SUFFIXES:
        scan_path, encoding = path, "utf-8"
        with open(path, "rb") as f:
            first = f.read(65536)
        if first.startswith(_BOMS) or b"\x00" in first or _head_text(first) is None:
            tmp = Path(tempfile.mkdtemp(prefix="ipcity_scan_"))
            cleanup.append(tmp)
            scan_path, encoding, counts = transcode(path, tmp)
        lines = None if counts is None else counts.lines
        layout = csv_layout(scan_path, source, lines=lines, encoding=encoding, name=path.name)
        spec = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(layout.headers))) + "}"

        def read_csv(file: Path, skip: int) -> str:
            return (
                f"read_csv({lit(str(file))}, header = false, skip = {skip}, columns = {spec}, "
                f"delim = {lit(layout.delimiter)}, quote = '\"', escape = '\"', strict_mode = true, "
                "auto_detect = false, null_padding = false, ignore_errors = false)"
            )

        scan_from = read_csv(scan_path, layout.skip)
        # One record per line below the header, or the file has blank lines or line breaks in cells.
        expected = None if lines is None else lines - layout.skip
        threads = int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
        size = scan_path.stat().st_size
        cuts = (
            csv_cuts(scan_path, counts, layout.skip, min(threads, size // SPLIT_MIN_BYTES))
            if counts is not None and threads > 1 and size >= 2 * SPLIT_MIN_BYTES
            else []
        )
        if len(cuts) > 1:
            # Each range numbers its records in its own window, from the line it starts at: a record's number is
            # its line's, exact when every line below the header is one record — what the record count checks
            # (a range can only hold fewer records than lines, so equal totals mean equal in every range).
            tmp = Path(tempfile.mkdtemp(prefix="ipcity_pieces_"))
            cleanup.append(tmp)
            ends = [c[0] for c in cuts[1:]] + [size]
            parts = []
            for j, ((start, line), end) in enumerate(zip(cuts, ends, strict=True)):
                piece = tmp / f"piece{j}.csv"
                _copy_range(scan_path, piece, start, end - start)
                skip = layout.skip if j == 0 else 0
                offset = layout.first_row - 1 + (line + skip - layout.skip)
                parts.append(
                    f"SELECT *, CAST(row_number() OVER () AS BIGINT) + {offset} AS __prn FROM {read_csv(piece, skip)}"
                )
            pieces = dataclasses.replace(layout, pieces=len(parts))
            try:
                return _run_stage(
                    con,
                    source,
                    pieces,
                    f"({' UNION ALL '.join(parts)})",
                    expected,
                    partition,
                    today,
                    valid_codes,
                    population,
                    target,
                )
            except NotScannable as e:
                if not isinstance(e.__cause__, duckdb.Error):
                    raise
                # DuckDB refused a range (a cell with a line break cut in two, the quote parity fooled by a stray
                # quote): the file is scanned whole, as it was before the ranges, for the file's own verdict
                whole = _run_stage(
                    con, source, layout, scan_from, expected, partition, today, valid_codes, population, target
                )
                return dataclasses.replace(whole, ranges_refused=True)
    else:
        raise NotScannable("workbook")
    return _run_stage(con, source, layout, scan_from, expected, partition, today, valid_codes, population, target)


def stage_frame(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    raw: RawFrame,
    file_name: str,
    *,
    partition: int | None,
    today: date,
    valid_codes: frozenset[str] | None,
    population: pl.DataFrame | None,
    target: Target,
) -> Staged:
    """The same stage, over a file read by the Polars reader (workbooks, small text files)."""
    if valid_codes is not None and raw.sheets and any(c.region_code for c in source.columns):
        from pipelines.ingest.load import unit_names
        from pipelines.ingest.validate import sheet_provinces

        if sheet_provinces(raw.sheets, unit_names(con)):
            # the SQL rules know no sheet: a row of another province on sheet 吉林省 would load (validate refuses it)
            raise NotScannable(
                "a sheet named for a province (its rows' units are checked against it by the Polars path)"
            )
    layout = frame_layout(raw, source, file_name)
    con.register("__ingest_frame", raw.df.to_arrow())
    try:
        return _run_stage(
            con, source, layout, "__ingest_frame", raw.df.height, partition, today, valid_codes, population, target
        )
    finally:
        con.unregister("__ingest_frame")


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction, if any."""
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:  # no transaction open
        pass


def _run_stage(con, source, layout, scan_from, expected, partition, today, valid_codes, population, target) -> Staged:
    """One pass over the file: the good rows go straight from the scan into the raw table (typed, row-numbered,
    with their lineage) — no stage table, no second copy. Only when the rows loaded fall short of the file's
    records (refused rows, blank lines) is the file judged a second time, keeping just the other rows."""
    pop = None
    if population is not None and population.height:
        pop = dict(zip(population["region_code"].to_list(), population["population_10k"].to_list(), strict=True))
    compiled = compile_stage(
        source, layout, scan_from, partition=partition, today=today, valid_codes=valid_codes, population=pop
    )
    cols = ", ".join(ident(c) for c in compiled.typed)
    ordered = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    con.execute("BEGIN TRANSACTION")
    try:
        # A new version of a file replaces the rows of the old version (same name, different bytes).
        con.execute(f"DELETE FROM {target.table} WHERE _source_file = ?", [target.file_name])
        # Every row carries its row number, so the insert need not keep the file's order: without it DuckDB
        # writes whole row groups from each thread, instead of ordered batches it merges again at checkpoint.
        con.execute("SET preserve_insertion_order = false")
        try:
            n_good = con.execute(
                f"INSERT INTO {target.table} BY NAME SELECT {cols}, __rn AS _row_number, $file AS _source_file, "
                f"$hash AS _file_hash, $now AS _ingested_at FROM ({compiled.select}) WHERE __ok AND NOT __blank",
                {"file": target.file_name, "hash": target.file_hash, "now": target.loaded_at},
            ).fetchall()[0][0]
        finally:
            con.execute(f"SET preserve_insertion_order = {'true' if ordered else 'false'}")
        suspect, n_rest = None, 0
        if expected is None or n_good != expected:
            flags = [ident(f) for f in layout.flags]
            raws = [f"__raw{i}" for i in range(len(layout.headers))]
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {REST} AS SELECT __rn, __blank, {', '.join(raws + flags)} "
                f"FROM ({compiled.select}) WHERE NOT (__ok AND NOT __blank)"
            )
            n_blank, n_rest = con.execute(
                f"SELECT count(*) FILTER (__blank), count(*) FILTER (NOT __blank) FROM {REST}"
            ).fetchall()[0]
            if layout.kind == "csv" and expected is not None and n_good + n_blank + n_rest != expected:
                # DuckDB skips empty lines that the Polars reader numbers (and a cell with a line break spans
                # two lines): the Polars reader numbers this file's rows.
                raise NotScannable("blank lines or line breaks inside cells (rows numbered by the Polars reader)")
            if n_rest:
                named = ", ".join([f"__raw{i} AS {ident(h)}" for i, h in enumerate(layout.headers)] + flags)
                df = con.sql(f"SELECT __rn AS {ROW_NUMBER}, {named} FROM {REST} WHERE NOT __blank ORDER BY __rn").pl()
                df = df.select(*layout.headers, ROW_NUMBER, *layout.flags)
                if layout.kind != "frame" and "__repeated_header" in flag_repeated_headers(df, source).columns:
                    # the rows under a reordered header passed as they were read: the reader judges the file
                    raise NotScannable("a header repeated inside the table")
                if source.parts_add_up and has_breakdown_label(df):
                    # the rows of a 其中 block after its label row passed as records: the reader judges the block
                    raise NotScannable("an 其中 (of which) breakdown under a row")
                if source.parts_add_up and has_indented_text(df):
                    # an indented name may be a breakdown shown by its indent: the reader judges it with its city
                    raise NotScannable("an indented name (a breakdown shown by its indent, perhaps)")
                if layout.kind != "frame" and layout.unit_line is None and note_unit(df) is not None:
                    # the rows above it passed in the header's unit: the reader reads the file in the note's
                    raise NotScannable("a unit stated in a note below the table")
                suspect = RawFrame(
                    df, layout.encoding, [], layout.sheets, layout.unit_line, layout.context_year, layout.unit_note
                )
            con.execute(f"DROP TABLE {REST}")
        if n_good + n_rest == 0:
            raise NotScannable("no data rows")
    except BaseException as e:
        rollback(con)
        if isinstance(e, duckdb.Error):
            raise NotScannable(f"scan failed ({type(e).__name__}: {str(e)[:200]})") from e
        raise
    return Staged(layout, compiled.typed, n_good + n_rest, n_good, suspect, layout.encoding, target)
