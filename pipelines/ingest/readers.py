"""Read a landing file (CSV in any of the encodings offices send, Parquet, XLSX) into an all-text frame.

Everything is read as text first: typing happens in `validate`, row by row, so that one bad cell
quarantines one row instead of failing the whole file. The header row is found by matching the contract's
column names and aliases, which skips the title rows offices put above Excel tables.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines.sources import Source

SUPPORTED_SUFFIXES = (".csv", ".txt", ".parquet", ".xlsx")
HEADER_SCAN_ROWS = 15
ROW_NUMBER = "__row"


class IngestError(Exception):
    """A file that cannot be loaded at all. Nothing of it is loaded."""

    def __init__(self, file_name: str, reason: str):
        self.file_name = file_name
        self.reason = reason
        super().__init__(f"{file_name}: {reason}")


@dataclass
class RawFrame:
    df: pl.DataFrame  # all Utf8 columns, headers as found in the file, plus ROW_NUMBER (1-based file row)
    encoding: str
    notes: list[str] = field(default_factory=list)


def header_names(source: Source) -> dict[str, str]:
    """Every accepted header (normalised) -> canonical column name."""
    names: dict[str, str] = {}
    for c in source.columns:
        for h in (c.name, *c.aliases, *c.unit_aliases.keys()):
            names[normalise_header(h)] = c.name
    return names


def normalise_header(h: str) -> str:
    return str(h).strip().lstrip("\ufeff").replace("（", "(").replace("）", ")").replace(" ", "").lower()


def _decode(raw: bytes, file_name: str) -> tuple[str, str]:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    utf8_lines, bad_line = [], None
    for i, line in enumerate(raw.splitlines(), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8_lines.append(i)
        except UnicodeDecodeError:
            bad_line = bad_line or i
    if utf8_lines and bad_line:
        raise IngestError(
            file_name,
            f"mixed text encodings: line {utf8_lines[0]} is UTF-8 but line {bad_line} is not; "
            "save the whole file in one encoding",
        )
    try:
        # GB18030 is a superset of GBK and GB2312; Windows Excel in China saves CSV as GBK.
        return raw.decode("gb18030"), "gbk"
    except UnicodeDecodeError as e:
        raise IngestError(file_name, f"not valid UTF-8 or GBK text (byte {e.start}): cannot decode") from e


def _find_header(rows: list[list[str]], source: Source, file_name: str) -> int:
    known = header_names(source)
    best, best_hits = -1, 0
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        hits = sum(1 for cell in row if cell is not None and normalise_header(cell) in known)
        if hits > best_hits:
            best, best_hits = i, hits
    # Two known headers on one row identify the header; data rows never look like that.
    if best < 0 or best_hits < 2:
        raise IngestError(
            file_name,
            f"no header row found in the first {HEADER_SCAN_ROWS} rows: expected columns such as "
            + ", ".join(c.name for c in source.columns[:5]),
        )
    return best


def read_file(path: Path, source: Source) -> RawFrame:
    name = path.name
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(name, f"unsupported file type '{suffix}' (use CSV, Parquet or XLSX)")
    if path.stat().st_size == 0:
        raise IngestError(name, "file is empty")
    if suffix == ".parquet":
        return _read_parquet(path)
    if suffix == ".xlsx":
        return _read_xlsx(path, source)
    return _read_csv(path, source)


def _read_parquet(path: Path) -> RawFrame:
    try:
        df = pl.read_parquet(path)
    except Exception as e:  # polars raises several types for corrupt/truncated files
        raise IngestError(path.name, f"unreadable Parquet file ({type(e).__name__}: {str(e)[:200]})") from e
    if df.height == 0:
        raise IngestError(path.name, "file has a header but no data rows")
    df = df.with_columns(
        [pl.col(c).cast(pl.Utf8) if df.schema[c] != pl.Date else pl.col(c).dt.to_string("%Y-%m-%d") for c in df.columns]
    )
    # Parquet has no header row: row 1 is the first record.
    return RawFrame(df.with_row_index(ROW_NUMBER, offset=1).with_columns(pl.col(ROW_NUMBER).cast(pl.Int64)), "parquet")


def _read_xlsx(path: Path, source: Source) -> RawFrame:
    try:
        grid = pl.read_excel(path, has_header=False, infer_schema_length=0, raise_if_empty=False)
    except Exception as e:
        raise IngestError(path.name, f"unreadable Excel file ({type(e).__name__}: {str(e)[:200]})") from e
    if grid.height == 0:
        raise IngestError(path.name, "workbook's first sheet is empty")
    rows = [list(r) for r in grid.head(HEADER_SCAN_ROWS).iter_rows()]
    h = _find_header(rows, source, path.name)
    header = [str(c) if c is not None else f"__blank{i}" for i, c in enumerate(rows[h])]
    body = grid.slice(h + 1)
    body.columns = _dedupe(header)
    # Excel rows are 1-based and the header is on row h+1.
    body = body.with_row_index(ROW_NUMBER, offset=h + 2).with_columns(pl.col(ROW_NUMBER).cast(pl.Int64))
    # Fully blank rows at the end of a sheet are formatting, not data.
    data_cols = [c for c in body.columns if c != ROW_NUMBER]
    body = body.filter(
        ~pl.all_horizontal([pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in data_cols])
    )
    notes = [f"skipped {h} title row(s) above the header"] if h else []
    if body.height == 0:
        raise IngestError(path.name, "file has a header but no data rows")
    return RawFrame(body, "xlsx", notes)


def _dedupe(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for h in header:
        if h in seen:
            seen[h] += 1
            out.append(f"{h}__dup{seen[h]}")
        else:
            seen[h] = 0
            out.append(h)
    return out


# Files at least this big skip the separate whole-file UTF-8 decode: Polars validates UTF-8 in every field it
# reads, so only the rows above the header need a check of their own (done on the head). Small files take
# the decode path, whose error messages name the offending line.
FAST_UTF8_MIN_BYTES = 1 << 20
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


class _NotUtf8(Exception):
    """Raised on the fast path when the body turns out not to be UTF-8: take the decode path instead."""


def _head_text(raw: bytes) -> str | None:
    """The first 64 KiB as text when they are valid UTF-8 (a character cut at the end is fine), else None."""
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(raw[:65536], final=False)
    except UnicodeDecodeError:
        return None


def _read_csv(path: Path, source: Source) -> RawFrame:
    if path.stat().st_size >= FAST_UTF8_MIN_BYTES:
        # Polars reads (memory-maps) the file itself; only its head is read here.
        with open(path, "rb") as f:
            first = f.read(65536)
        head = _head_text(first) if not first.startswith(_BOMS) and first.strip() else None
        if head is not None:
            try:
                return _parse_csv(path, source, _FileBytes(path), head, None, "utf-8")
            except _NotUtf8:
                pass
    raw = path.read_bytes()
    text, encoding = _decode(raw, path.name)
    if not text.strip():
        raise IngestError(path.name, "file is empty")
    source_bytes = text.encode("utf-8") if encoding != "utf-8" else raw
    return _parse_csv(path, source, source_bytes, text[:65536], text, encoding)


class _FileBytes:
    """The few byte-level questions _parse_csv asks of a file it does not hold in memory."""

    def __init__(self, path: Path):
        self.path = path

    def endswith(self, suffixes: tuple[bytes, ...]) -> bool:
        return self[-65536:].endswith(suffixes)

    def count(self, sub: bytes) -> int:
        return self.path.read_bytes().count(sub)

    def decode(self, *args, **kwargs) -> str:
        return self.path.read_bytes().decode(*args, **kwargs)

    def __getitem__(self, key: slice) -> bytes:
        assert key.stop is None and key.start is not None and key.start < 0, "only tails are read"
        with open(self.path, "rb") as f:
            f.seek(max(0, self.path.stat().st_size + key.start))
            return f.read()


def _parse_csv(path: Path, source: Source, source_bytes, head: str, text: str | None, encoding: str) -> RawFrame:
    """Parse UTF-8 bytes. ``text`` is the decoded file, or None on the fast path (decoded only if needed)."""
    import csv

    head_lines = head.splitlines()[:HEADER_SCAN_ROWS]
    rows = list(csv.reader(head_lines))
    h = _find_header(rows, source, path.name)
    notes = [f"skipped {h} title row(s) above the header"] if h else []
    n_header_fields = len(rows[h])
    if encoding != "utf-8":
        notes.append(f"decoded from {encoding}")
    truncated_last = not source_bytes.endswith((b"\n", b"\r"))
    ragged = False

    def polars_csv(ragged_: bool) -> pl.DataFrame:
        try:
            return _polars_csv(source_bytes, h, ragged=ragged_)
        except pl.exceptions.ComputeError as e:
            if text is None and "utf-8" in str(e).lower():
                raise _NotUtf8 from e
            raise

    try:
        df = polars_csv(False)
    except pl.exceptions.ComputeError as e:
        # Only a row with more fields than the header makes the strict read fail; read again leniently
        # and count fields per row (slow path, taken only for such files).
        if "more fields" not in str(e) and "found more fields" not in str(e):
            df = None
            err = e
        else:
            ragged = True
            df = polars_csv(True)
    except _NotUtf8:
        raise
    except Exception as e:  # noqa: BLE001 - any parser failure means the file cannot be read
        df, err = None, e
    if df is None:
        if source_bytes.count(b'"') % 2:
            raise IngestError(
                path.name, 'the file ends inside a quoted field ("...) - it was probably cut off'
            ) from err
        raise IngestError(path.name, f"malformed CSV ({type(err).__name__}: {str(err)[:200]})") from err
    header = [c.lstrip("\ufeff") for c in rows[h]]
    df.columns = _dedupe(header if len(header) == df.width else [c.lstrip("\ufeff") for c in df.columns])
    if df.height == 0:
        raise IngestError(path.name, "file has a header but no data rows")
    df = df.with_row_index(ROW_NUMBER, offset=h + 2).with_columns(pl.col(ROW_NUMBER).cast(pl.Int64))
    if ragged:
        import io

        full = text if text is not None else source_bytes.decode("utf-8")
        counts = [len(r) for r in csv.reader(io.StringIO(full))][h + 1 :]
        if len(counts) == df.height:
            df = df.with_columns(pl.Series("__nfields", counts))
            df = df.with_columns(
                pl.when(pl.col("__nfields") > n_header_fields)
                .then(
                    pl.format(
                        "too many fields: row has {} fields, header has {} (unquoted comma?)",
                        pl.col("__nfields"),
                        pl.lit(n_header_fields),
                    )
                )
                .otherwise(None)
                .alias("__ragged")
            ).drop("__nfields")
    df = _drop_blank_rows(df)
    # A file cut off mid-row (interrupted copy or download) leaves a short last line: flag that row.
    if truncated_last:
        tail = text[-65536:] if text is not None else source_bytes[-65536:].decode("utf-8", errors="ignore")
        last_line = tail.rstrip("\r\n").rsplit("\n", 1)[-1]
        n_fields = len(next(csv.reader([last_line]), []))
        if n_fields < n_header_fields:
            notes.append(f"truncated last row ({n_fields} of {n_header_fields} fields)")
            df = df.with_columns(pl.lit(None, pl.Utf8).alias("__truncated"))
            df = df.with_columns(
                pl.when(pl.col(ROW_NUMBER) == df[ROW_NUMBER].max())
                .then(pl.lit(f"truncated row: file ends after {n_fields} of {n_header_fields} fields"))
                .otherwise(None)
                .alias("__truncated")
            )
    return RawFrame(df, encoding, notes)


def _drop_blank_rows(df: pl.DataFrame) -> pl.DataFrame:
    """Blank lines are layout, not records (as in Excel). A blank row has a blank first column, so only the
    rows with one are looked at across every column."""
    data_cols = [c for c in df.columns if not c.startswith("__")]
    if not data_cols:
        return df
    blank = [pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in data_cols]
    candidates = df.select(blank[0].alias("__b"))["__b"]
    if not candidates.any():
        return df
    return df.filter(~(blank[0] & pl.all_horizontal(blank[1:] or [pl.lit(True)])))


def _polars_csv(data, skip: int, *, ragged: bool) -> pl.DataFrame:
    return pl.read_csv(
        data.path if isinstance(data, _FileBytes) else data,
        skip_rows=skip,
        infer_schema=False,
        has_header=True,
        missing_columns="insert",
        truncate_ragged_lines=ragged,
    )
