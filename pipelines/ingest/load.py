"""Load one landing file into its raw table: hash ledger, quarantine, and all-or-nothing writes.

A file is identified by its content hash: the same bytes ingested again change nothing. A new version of a
file with the same name replaces the old version's rows (delete-then-insert by file name), inside one
transaction with its quarantined rows and its ledger entry, so a failure leaves nothing half-loaded.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines import settings
from pipelines.china_time import CHINA_STANDARD_TIME, utc_now
from pipelines.counts import count_en
from pipelines.ingest import contract_sql
from pipelines.ingest.readers import INVISIBLE_CHARS, ROW_NUMBER, IngestError, RawFrame, read_file, sheet_and_row
from pipelines.ingest.validate import (
    map_headers,
    parts_and_totals,
    repeated_key_reasons,
    running_totals,
    same_value,
    unit_names_of,
    validate,
)
from pipelines.sources import CITIES, SENDING_WORDS, SOURCES, Source, create_table_sql, plausibility_thresholds

LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS raw.ingested_files (
  source VARCHAR, file_name VARCHAR, file_hash VARCHAR, "partition" VARCHAR,
  rows_read BIGINT, rows_loaded BIGINT, rows_rejected BIGINT,
  status VARCHAR, message VARCHAR, encoding VARCHAR, ingested_at TIMESTAMP, run_id VARCHAR
)"""
REJECTED_DDL = """
CREATE TABLE IF NOT EXISTS raw.rejected_rows (
  source VARCHAR, file_name VARCHAR, file_hash VARCHAR, row_number BIGINT,
  raw_values VARCHAR, reason VARCHAR, "partition" VARCHAR, rejected_at TIMESTAMP, run_id VARCHAR
)"""

# A year in a file name, with the month/day that may follow it (2025年12月, 2025-12, 2025.12.31).
_YEAR_IN_NAME = re.compile(
    r"(?<!\d)((?:19|20)\d\d)(?!\d)((?:\s*[年\-_.]\s*\d{1,2}\s*月?(?:\s*[\-_.]?\s*\d{1,2}\s*日?)?)?)"
)
# Files at most this big have their data year read from their data (dates, a year column); bigger files (a
# national grant export) trust a data year in their name and fall back to their data.
PARTITION_FROM_DATA_MAX_BYTES = 16 << 20
# Data years outside this range are misread serials or typos, never a partition.
PLAUSIBLE_YEARS = (1985, 2100)
# CSV and Parquet files are typed and judged inside DuckDB's scan (contract_sql); IPCITY_INGEST_SCAN=polars
# reads every file through the Polars reader instead (the benchmark's "before", and the agreement test).
SQL_SCAN = os.environ.get("IPCITY_INGEST_SCAN", "sql") != "polars"

# Receipt of a landing file (the evidence of the reporting dates, marts.fct_reporting_status): the first time the
# pipeline saw its bytes in the landing folder (planning lists the pending files, or the ingest itself), recorded
# once per (source, file_hash) and never moved: a re-load, a partition reset, a release's pruning of the ledger or a
# same-named correction re-sent later leave it alone (the ledger's ingested_at is the time of the latest load).
# first_seen_utc is UTC; first_seen_on is its calendar day in China Standard Time (UTC+8, no daylight saving since
# 1991), the day the management measures count in (a file seen 2024-06-30 23:30 UTC+8 is on time at 15:30 UTC).
RECEIPTS_DDL = """
CREATE TABLE IF NOT EXISTS raw.file_receipts (
  source VARCHAR, file_name VARCHAR, file_hash VARCHAR, first_seen_utc TIMESTAMP, first_seen_on DATE,
  seen_by VARCHAR, run_id VARCHAR
)"""

CORRECTIONS_DDL = """
CREATE TABLE IF NOT EXISTS raw.corrections (
  source VARCHAR, key_values VARCHAR, old_file VARCHAR, old_row_number BIGINT, old_values VARCHAR,
  new_file VARCHAR, new_row_number BIGINT, new_values VARCHAR, changed_columns VARCHAR,
  corrected_at TIMESTAMP, run_id VARCHAR
)"""


@dataclass
class IngestResult:
    source: str
    file_name: str
    file_hash: str
    partition: str | None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    status: str = "loaded"  # loaded | skipped | failed
    message: str = ""
    notes: list[str] = field(default_factory=list)
    sheets: list[dict] = field(default_factory=list)  # workbooks: every sheet, read or skipped, rows per sheet
    corrections: list[dict] = field(default_factory=list)  # rows of earlier files this file corrected
    # a big text file's scan: the byte ranges it was read in together (1: read whole), and whether DuckDB refused a
    # range so the file was scanned whole after all (for the data engineer and the benchmark)
    scan_ranges: int = 1
    scan_ranges_refused: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


# Columns added to the ledger tables after they first shipped (warehouses made before get them on their next run):
# issue 12's sheets read per workbook (JSON), rows corrected and the sheet of a quarantined row; the rows a
# withdrawal of a file removed from landing took out (withdraw_file).
_ADDED_COLUMNS = (
    ("ingested_files", "sheets", "VARCHAR"),
    ("ingested_files", "rows_corrected", "BIGINT"),
    ("ingested_files", "rows_withdrawn", "BIGINT"),
    ("rejected_rows", "sheet", "VARCHAR"),
)
_LEDGER_TABLES = ("ingested_files", "rejected_rows", "corrections", "file_receipts")


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """The raw schema, every source's table, the ledger tables and their added columns, created where missing.

    Every step that touches the raw tables calls this (≈ 180 times in a default `ipcity run`), and its 19
    statements cost ≈ 5 ms of CPU each time, ≈ 1 s per run for tables that exist after the first call: one
    catalog query (≈ 1 ms) answers whether all of it is in place, and only a warehouse that lacks some of it
    runs the statements (each of which still creates only what is missing)."""
    if _schema_in_place(con):
        return
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for s in SOURCES.values():
        con.execute(create_table_sql(s))
    con.execute(LEDGER_DDL)
    con.execute(REJECTED_DDL)
    con.execute(CORRECTIONS_DDL)
    con.execute(RECEIPTS_DDL)
    for table, column, dtype in _ADDED_COLUMNS:
        con.execute(f"ALTER TABLE raw.{table} ADD COLUMN IF NOT EXISTS {column} {dtype}")


def _schema_in_place(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether every table `ensure_schema` creates is a table of the connection's database, with the added columns."""
    found = con.execute(
        """
        SELECT t.table_name, c.column_name
        FROM duckdb_tables() t
        LEFT JOIN duckdb_columns() c
          ON c.database_name = t.database_name AND c.schema_name = t.schema_name AND c.table_name = t.table_name
        WHERE t.database_name = current_database() AND t.schema_name = 'raw'
        """
    ).fetchall()
    tables = {t for t, _ in found}
    columns = set(found)
    wanted = {s.name for s in SOURCES.values()} | set(_LEDGER_TABLES)
    return wanted <= tables and all((t, c) in columns for t, c, _ in _ADDED_COLUMNS)


# sha256 of a file by (path, size, mtime): `ipcity run` asks for the hash of every landing file several times
# (planning, the asset's pending list, the ingest itself); hashing 500 MB costs seconds each time. A file that
# is rewritten changes its size or mtime, so the memo never hands back a stale hash. The line breaks of a text
# file are counted in the same pass: the Polars reader numbers empty lines as rows, DuckDB's scan skips them; a
# scan whose records do not match the lines leaves the file to the reader. A bounded memo (lru_cache), not a
# module-level dict the functions write into.
def _file_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _hash_and_lines(key: tuple[str, int, int]) -> tuple[str, contract_sql.TextCounts | None]:
    path = Path(key[0])
    h = hashlib.sha256()
    counter = contract_sql.TextCounter() if path.suffix.lower() in contract_sql.CSV_SUFFIXES else None
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(contract_sql.TEXT_CHUNK), b""):
            h.update(chunk)
            if counter is not None:
                counter.add(chunk)
    return h.hexdigest(), None if counter is None else counter.counts()


def file_hash(path: Path) -> str:
    return _hash_and_lines(_file_key(path))[0]


def text_counts(path: Path) -> contract_sql.TextCounts | None:
    """Line breaks and quotes of a text file (None for other files), counted in the hash pass."""
    return _hash_and_lines(_file_key(path))[1]


def still_arriving(path: Path) -> bool:
    """Whether a landing file changed (its size or modification time) less than IPCITY_LANDING_SETTLE_S seconds
    ago: a copy still under way (settings.landing_settle_seconds says why). A modification time in the future
    by more than that (a share's clock ahead) does not hold the file back for ever."""
    settle = settings.landing_settle_seconds()
    return settle > 0 and abs(time.time() - path.stat().st_mtime) < settle


def wait_until_settled(paths: list[Path]) -> list[Path]:
    """Wait for the files among ``paths`` that are still arriving to settle (stop changing for the settle time),
    for at most LANDING_SETTLE_WAIT_FACTOR settle times; returns those still changing after that (or gone).
    A run waits rather than leave out a file copied in seconds before it: leaving it out made the run say
    "nothing new" or publish a year without it, though the file was whole a moment later."""
    settle = settings.landing_settle_seconds()
    fresh = [p for p in paths if p.exists() and still_arriving(p)]
    if not fresh:
        return []
    deadline = time.monotonic() + settle * settings.LANDING_SETTLE_WAIT_FACTOR
    while fresh and time.monotonic() < deadline:
        time.sleep(min(0.25, settle))
        fresh = [p for p in fresh if not p.exists() or still_arriving(p)]
    return fresh


def arriving_files(landing: Path, source: Source) -> list[Path]:
    """The source's landing files still being copied in: not read by this run, named to whoever runs it."""
    return [p for p in landing_files(landing, source) if still_arriving(p)]


def landing_files(landing: Path, source: Source) -> list[Path]:
    folder = landing / source.name
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "~$")))


def data_years_in_name(stem: str) -> list[int]:
    """Distinct years a file name gives for its data: every year in it except one followed by a sending word
    (2026年1月报送 is when the file was sent; ..._2025年12月 is what it holds)."""
    years = []
    for m in _YEAR_IN_NAME.finditer(stem):
        after = stem[m.end() : m.end() + 4]
        if re.match(r"\s*[_\-]?\s*" + SENDING_WORDS, after):
            continue
        years.append(int(m.group(1)))
    return sorted(set(years))


class _SourceKey:
    """A source as a memo key: equal when every field of the contract is equal (Source holds dicts, so it is not
    hashable itself)."""

    def __init__(self, source: Source):
        self.source = source
        self.fingerprint = repr(source)

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SourceKey) and other.fingerprint == self.fingerprint


def partition_of(path: Path, source: Source) -> int | None:
    """The year a yearly file belongs to, from its data: the most common year of its partition dates. A file
    whose dates cannot be read falls back to the data year its name gives (a sending date does not count);
    a file that gives no year at all has none (None: it fails by name when loaded). Files bigger than
    PARTITION_FROM_DATA_MAX_BYTES trust a single data year in their name to avoid reading them twice.

    Memoised by (path, size, mtime) like the file hash: `ipcity run` asks for every pending file's year when
    it plans and again in each raw asset; reading an office workbook costs a second or more each time."""
    if not source.partitioned:
        return None
    try:
        key = _file_key(path)
    except OSError:  # gone or unreadable: not memoised, the read below names no year
        return _year_of_file(Path(path), source)
    return _partition_of_file(key, str(path), _SourceKey(source))


@functools.lru_cache(maxsize=4096)
def _partition_of_file(key: tuple[str, int, int], given_path: str, source_key: _SourceKey) -> int | None:
    # `key` (resolved path, size, mtime) makes a rewritten file a new entry; the path as given is read
    return _year_of_file(Path(given_path), source_key.source)


def _year_of_file(path: Path, source: Source) -> int | None:
    named = data_years_in_name(path.stem)
    try:
        if len(named) == 1 and path.stat().st_size > PARTITION_FROM_DATA_MAX_BYTES:
            return named[0]
        years = data_years(read_file(path, source), source, path.name)
    except Exception:  # noqa: BLE001 - an unreadable file has no year; loading it names the reason
        years = []
    if years:
        return years[0]
    return named[0] if len(named) == 1 else None


def data_years(raw: RawFrame, source: Source, file_name: str) -> list[int]:
    """Years of a file's partition dates, most common first (dates read by the same parser as the load)."""
    from pipelines.ingest.validate import map_headers

    c = source.column(source.partition_date)
    # Only the date column's header is mapped (map_columns' reading of the header, with its refusals): the rows'
    # total and note flags that map_columns computes were about half of planning the sample's Parquet files
    # (bench/bench_check_inputs.py).
    header = next((h for h, name in map_headers(raw, source, file_name).renames.items() if name == c.name), None)
    if header is None:
        return []
    return years_of_dates(raw.df, header, source, raw.context_year)


def years_of_dates(df: pl.DataFrame, column: str, source: Source, context_year: int | None) -> list[int]:
    """Years of the partition dates in ``df[column]``, most common first (ties to the later year)."""
    from pipelines.ingest.validate import _parse, with_stated_year

    c = source.column(source.partition_date)
    # A year of dates is a few hundred distinct texts in 10^4-10^6 rows: each distinct text is parsed once and
    # counted with its rows (the parse is per cell, so the years and their order are those of a per-row parse;
    # a per-row parse was ~90 % of planning a run's CSV and Parquet files).
    texts = df.group_by(pl.col(column).cast(pl.Utf8).alias("__text")).agg(pl.len().alias("__rows"))
    txt = pl.col("__text").str.normalize("NFKC").str.replace_all(INVISIBLE_CHARS, "").str.strip_chars()
    if context_year and c.name == "month":  # 12月 in a file that states its year (as validate reads it)
        txt = with_stated_year(txt, context_year)[0]
    years = (
        texts.select(_parse(c, None, txt).dt.year().alias("y"), pl.col("__rows"))
        .drop_nulls("y")
        .filter(pl.col("y").is_between(*PLAUSIBLE_YEARS))
        .group_by("y")
        .agg(pl.col("__rows").sum().alias("len"))
        .sort(["len", "y"], descending=[True, True])
    )
    return years["y"].to_list()


def valid_region_codes(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    codes = {r[0] for r in con.execute("SELECT city_code FROM raw.cities").fetchall()}
    codes |= {r[0] for r in con.execute("SELECT DISTINCT province_code FROM raw.cities").fetchall()}
    if codes:
        from pipelines import reference

        # a code replaced since (莱芜市 371200): staging maps it to its unit (unit_code_changes); refused here as
        # unknown, such a row never reached that mapping
        codes |= reference.replaced_codes()
    return frozenset(c for c in codes if c)


def city_and_parts_elsewhere(
    con: duckdb.DuckDBPyConnection, source: Source, file_name: str, good: pl.DataFrame
) -> str | None:
    """A warning when this file's rows and another file's are a city's own row and a county-level unit inside it
    for the same period (320500 in one file, 320583 in another, both 2025-03): the marts add the county's rows into
    its city, so if the city's row already includes them they count twice. Neither file's rows are wrong alone,
    so both are loaded; the note names both files (None when there is no such pair)."""
    col = source.parts_add_up
    if col is None or good.height == 0:
        return None
    period = [k for k in source.key if k != col]
    on = " AND ".join(f"o.{k} = m.{k}" for k in period)
    con.register("__mine", good.select(col, *period).unique().to_arrow())
    try:
        pairs = con.execute(
            f"""SELECT DISTINCT CASE WHEN m.{col} LIKE '%00' THEN m.{col} ELSE o.{col} END AS city,
                   CASE WHEN m.{col} LIKE '%00' THEN o.{col} ELSE m.{col} END AS part,
                   o._source_file AS other, {", ".join(f"CAST(m.{k} AS VARCHAR)" for k in period)}
            FROM __mine AS m JOIN {source.table} AS o ON {on}
            WHERE o._source_file <> ? AND substr(o.{col}, 1, 4) = substr(m.{col}, 1, 4) AND o.{col} <> m.{col}
              AND (m.{col} LIKE '%00') <> (o.{col} LIKE '%00')
            ORDER BY other, city, part""",
            [file_name],
        ).fetchall()
    finally:
        con.unregister("__mine")
    if not pairs:
        return None
    others = sorted({p[2] for p in pairs})
    shown = ", ".join(f"{city}/{part} {' '.join(str(v)[:7] for v in per)}" for city, part, _, *per in pairs[:10])
    return (
        f"city and county-level rows in two files: {shown}"
        + (f" and {len(pairs) - 10} more" if len(pairs) > 10 else "")
        + f" (this file and {', '.join(others)}): the marts add a county-level unit's rows into its city, so if "
        "the city's row includes them they count twice (send the city's row without them, or one of the two)"
    )


def county_units(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """The county-level units of raw.cities (a district or county-level city that is a programme unit): the marts
    count a row of such a code for the unit itself as well as for its prefecture (int_unit_attribution)."""
    rows = con.execute(
        "SELECT city_code FROM raw.cities WHERE level IN ('county_level_city', 'municipal_district')"
    ).fetchall()
    return frozenset(r[0] for r in rows if r[0])


def unit_names(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """Name -> code of the administrative divisions (validate.unit_names_of), for files naming their cities."""
    rows = con.execute(
        "SELECT city_code, city_name, city_name_short, province_name FROM raw.cities ORDER BY city_code, city_name"
    ).fetchall()
    return _unit_names_for(tuple(rows))


@functools.lru_cache(maxsize=8)
def _unit_names_for(rows: tuple[tuple, ...]) -> dict[str, str | None]:
    """`unit_names` of these raw.cities rows, built once per process: a run reads many files against the same
    units, and building the lookup (the county list's ~3,000 areas, every unit's spellings) for each file cost
    more than reading a small file. Keyed by the rows, so a reloaded raw.cities builds a new one. Nothing changes
    the returned lookup (`validate` only reads it)."""
    from pipelines import reference

    # The county-level divisions (districts): they tell a district's name from a unit's (中山 in a Dalian table is
    # 中山区, not 中山市) and name the city a district that is no unit lies in. The reference file ships with the code.
    areas = reference.areas().select("code", "name").rows()
    return unit_names_of(list(rows), areas, reference.former_units())


def record_sightings(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    paths: list[Path],
    *,
    seen_by: str = "landing",
    run_id: str = "",
    now: datetime | None = None,
) -> int:
    """Record the first sighting of each landing file's bytes (raw.file_receipts), once: a file already recorded
    keeps its first sighting. ``now``: an aware datetime (tests); default the current time. Returns the files
    newly recorded."""
    ensure_schema(con)
    if not paths:
        return 0
    seen = {
        r[0] for r in con.execute("SELECT file_hash FROM raw.file_receipts WHERE source = ?", [source.name]).fetchall()
    }
    at = (now or datetime.now(UTC)).astimezone(UTC)
    new, hashes = [], set()
    for p in paths:
        digest = file_hash(p)
        if digest in seen or digest in hashes:
            continue
        hashes.add(digest)
        new.append(
            [
                source.name,
                Path(p).name,
                digest,
                at.replace(tzinfo=None),
                at.astimezone(CHINA_STANDARD_TIME).date(),
                seen_by,
                run_id,
            ]
        )
    if new:
        con.executemany(
            "INSERT INTO raw.file_receipts (source, file_name, file_hash, first_seen_utc, first_seen_on, seen_by,"
            " run_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            new,
        )
    return len(new)


def already_ingested(con: duckdb.DuckDBPyConnection, source: Source, digest: str) -> tuple[str, datetime] | None:
    row = con.execute(
        "SELECT file_name, ingested_at FROM raw.ingested_files WHERE source = ? AND file_hash = ? AND status = 'loaded'"
        " ORDER BY ingested_at DESC LIMIT 1",
        [source.name, digest],
    ).fetchall()
    return (row[0][0], row[0][1]) if row else None


def _population(con: duckdb.DuckDBPyConnection, source: Source) -> pl.DataFrame | None:
    """Latest year-end population per region, for the per-capita plausibility rules (None when unused)."""
    if not any(r.denominator == "population_10k" for r in source.record_rules):
        return None
    return con.sql(
        "SELECT region_code, arg_max(population_10k, year) AS population_10k FROM raw.population "
        "WHERE population_10k > 0 GROUP BY region_code"
    ).pl()


def _plain(e: BaseException) -> str:
    """An unexpected exception while reading a file, in words an office can act on."""
    if isinstance(e, UnicodeDecodeError):
        return f"cannot decode the text (byte {e.start}, {e.encoding}): save the file as UTF-8 or GBK"
    if isinstance(e, MemoryError):
        return "the file is too large to read in memory"
    return f"could not read the file ({type(e).__name__}: {str(e)[:200]})"


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    path: Path,
    *,
    partition: int | None = None,
    today: date | None = None,
    run_id: str = "",
) -> IngestResult:
    """Ingest one file. Raises IngestError (after recording it in the ledger) when the file cannot be loaded:
    any exception while reading or checking it becomes such a failure, named and in plain words."""
    ensure_schema(con)
    if wait_until_settled([path]):
        # Not recorded as refused: nothing is wrong with the file, it is not complete yet; the next run reads it.
        raise IngestError(
            path.name,
            f"still arriving: the file changed less than {settings.landing_settle_seconds():g} s ago, it is read once "
            "its copy is complete (IPCITY_LANDING_SETTLE_S)",
        )
    before = _file_key(path)
    digest = file_hash(path)
    # the first sighting of these bytes, before anything can fail: a refused file was still received
    record_sightings(con, source, [path], seen_by="ingest", run_id=run_id)
    part = str(partition) if partition is not None else None
    result = IngestResult(source.name, path.name, digest, part)
    seen = already_ingested(con, source, digest)
    if seen:
        result.status = "skipped"
        result.message = f"already ingested as {seen[0]} at {seen[1]:%Y-%m-%d %H:%M}"
        return result
    codes = None if source is CITIES else valid_region_codes(con)
    if codes is not None and not codes:
        _record_failure(
            con, result, "administrative divisions (raw.cities) are not loaded yet; load cities first", run_id
        )
        raise IngestError(path.name, "administrative divisions (raw.cities) are not loaded yet; load cities first")
    staged, today = None, today or date.today()
    target = contract_sql.Target(source.table, path.name, digest, utc_now())
    if (
        SQL_SCAN
        and path.suffix.lower() in contract_sql.SCAN_SUFFIXES
        and path.stat().st_size >= contract_sql.SCAN_MIN_BYTES
    ):
        try:
            staged = contract_sql.stage(
                con,
                source,
                path,
                partition=partition,
                today=today,
                valid_codes=codes,
                population=_population(con, source),
                counts=text_counts(path),
                target=target,
            )
        except contract_sql.NotScannable as e:
            staged, why = None, str(e)
        except Exception as e:  # noqa: BLE001 - the Polars reader reads the file and names what is wrong with it
            staged, why = None, f"{type(e).__name__}: {str(e)[:200]}"
        contract_sql.READ_LOG.append((path.name, "scan" if staged is not None else f"reader: {why}"))
    if staged is None:
        try:
            raw = read_file(path, source)
            result.sheets = raw.sheets
            if SQL_SCAN:
                try:
                    staged = contract_sql.stage_frame(
                        con,
                        source,
                        raw,
                        path.name,
                        partition=partition,
                        today=today,
                        valid_codes=codes,
                        population=_population(con, source),
                        target=target,
                    )
                    contract_sql.READ_LOG.append((path.name, "frame"))
                except Exception as e:  # noqa: BLE001 - NotScannable, or a bug: the Polars rules judge the frame
                    contract_sql.READ_LOG.append((path.name, f"polars: {type(e).__name__}: {str(e)[:200]}"))
        except IngestError as e:
            _record_failure(con, result, e.reason, run_id)
            raise
        except Exception as e:  # noqa: BLE001 - every failure is a named, recorded failure; other files go on
            reason = _plain(e)
            _record_failure(con, result, reason, run_id)
            raise IngestError(path.name, reason) from e
    if _file_key(path) != before:
        # The file grew or was rewritten while it was read: what was read is part of a copy, never the file (the
        # scan's rows, inserted in its open transaction, go back out).
        if staged is not None:
            contract_sql.rollback(con)
        raise IngestError(
            path.name,
            "still arriving: the file changed while it was read (its size or modification time), nothing of it is "
            "loaded; it is read again once its copy is complete",
        )
    if staged is not None:  # its good rows are loaded, in a transaction _ingest_staged commits or rolls back
        return _ingest_staged(con, source, path, staged, result, partition, today, codes, run_id)
    try:
        checked = validate(
            raw,
            source,
            path.name,
            partition=partition,
            today=today,
            valid_codes=codes,
            population=_population(con, source),
            unit_names=unit_names(con) if codes is not None else None,
            own_units=county_units(con) if codes is not None else None,
        )
        result.rows_read, encoding = raw.df.height, raw.encoding
        renames = map_headers(raw, source, path.name).renames if source.period_columns else {}
        del raw  # the all-text frame is not needed any more: free it before the load
        running_totals(checked.good, source, period_headers(renames, source), path.name)
        _move_to_rejected(checked, source, parts_and_totals(checked.good, source, result.sheets))
        _check_history(con, source, checked, path.name)
        good, corrections = _drop_already_loaded(con, source, checked, path.name)
    except IngestError as e:
        _record_failure(con, result, e.reason, run_id)
        raise
    except Exception as e:  # noqa: BLE001 - every failure is a named, recorded failure; other files go on
        reason = _plain(e)
        _record_failure(con, result, reason, run_id)
        raise IngestError(path.name, reason) from e
    rejected = checked.rejected
    result.rows_loaded = good.height
    result.rows_rejected = rejected.height
    result.notes = list(checked.notes)
    result.corrections = corrections
    if corrections:
        files = sorted({c["old_file"] for c in corrections})
        result.notes.append(
            f"corrected {count_en(len(corrections), 'row')} loaded earlier from {', '.join(files)}: "
            + ", ".join(f"{c['key']} ({c['changed']})" for c in corrections[:20])
            + (" ..." if len(corrections) > 20 else "")
        )
    if (twice := city_and_parts_elsewhere(con, source, path.name, good)) is not None:
        result.notes.append(twice)
    result.message = "; ".join(result.notes)
    if result.rows_read != result.rows_loaded + result.rows_rejected:  # pragma: no cover - invariant
        raise AssertionError(f"{path.name}: row accounting broken {result}")
    _write(con, source, path.name, digest, part, good, rejected, result, encoding, run_id)
    return result


def _ingest_staged(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    path: Path,
    staged: contract_sql.Staged,
    result: IngestResult,
    partition: int | None,
    today: date,
    codes,
    run_id: str,
) -> IngestResult:
    """The rest of ingest_file for a scanned file, whose good rows the scan already inserted into the raw table
    (transaction open): the rows the SQL did not pass are named by the Polars rules (validate) and the ones they
    pass join the others; repeated keys are found among this file's rows; then quarantine and ledger, and COMMIT.
    Rows whose key was loaded from another file (corrections, duplicates) and history rules take the frame path,
    which needs the good rows in hand. Any failure rolls the whole file back before it is recorded."""
    from pipelines.ingest.readers import _drop_blank_rows, drop_numbered_blank_rows, numbered_rows_note

    notes = list(staged.layout.notes)
    typed = staged.typed
    table = source.table
    lineage = {"file": path.name, "hash": result.file_hash, "now": staged.target.loaded_at}
    file_rows = f"SELECT {', '.join(typed)}, _row_number AS {ROW_NUMBER} FROM {table} WHERE _source_file = $file"
    try:
        population = _population(con, source)
        n_good = staged.rows_loaded
        result.rows_read = staged.rows_read
        result.scan_ranges, result.scan_ranges_refused = staged.layout.pieces, staged.ranges_refused
        rejected = pl.DataFrame(schema={ROW_NUMBER: pl.Int64, "raw_values": pl.Utf8, "reason": pl.Utf8})
        if staged.suspect is not None:
            suspect = staged.suspect
            if staged.layout.kind == "csv":
                suspect.df, numbered = drop_numbered_blank_rows(_drop_blank_rows(suspect.df), source)
                if numbered:  # as the Polars reader drops them (rows read are the same on both paths)
                    notes.append(numbered_rows_note(numbered))
            checked = validate(
                suspect,
                source,
                path.name,
                partition=partition,
                today=today,
                valid_codes=codes,
                population=population,
                # the rows the scan loaded: a blank-named row's figures are checked against their sums
                loaded_rows=lambda: con.sql(file_rows, params={"file": path.name}).pl(),
            )
            notes += [n for n in checked.notes if n not in notes]
            rejected = checked.rejected
            result.rows_read = staged.rows_loaded + suspect.df.height  # blank rows are layout, not records
            if checked.good.height:  # spellings the SQL leaves to the Polars rules, read and passed by them
                con.register("__suspect_good", checked.good.select(*typed, ROW_NUMBER).to_arrow())
                try:
                    con.execute(
                        f"INSERT INTO {table} BY NAME SELECT {', '.join(typed)}, {ROW_NUMBER} AS _row_number, "
                        "$file AS _source_file, $hash AS _file_hash, $now AS _ingested_at FROM __suspect_good",
                        lineage,
                    )
                finally:
                    con.unregister("__suspect_good")
                n_good += checked.good.height
        dups = _staged_duplicates(con, source, file_rows, path.name, staged.layout.sheets)
        if dups.height:
            rejected = pl.concat([rejected, dups.cast(rejected.schema)]).sort(ROW_NUMBER)
            con.register("__dup_rows", dups.select(ROW_NUMBER).to_arrow())
            try:
                con.execute(
                    f"DELETE FROM {table} WHERE _source_file = $file AND _row_number IN "
                    f"(SELECT {ROW_NUMBER} FROM __dup_rows)",
                    {"file": path.name},
                )
            finally:
                con.unregister("__dup_rows")
            n_good -= dups.height
        key = list(source.key)
        clash = False
        if con.execute(f"SELECT 1 FROM {table} WHERE _source_file <> ? LIMIT 1", [path.name]).fetchall():
            on = " AND ".join(f"g.{k} = t.{k}" for k in key)
            clash = bool(
                con.execute(
                    f"SELECT 1 FROM {table} g JOIN {table} t ON {on} "
                    "WHERE g._source_file = $file AND t._source_file <> $file LIMIT 1",
                    {"file": path.name},
                ).fetchall()
            )
        good, corrections = None, []
        if clash or source.history_rules or source.parts_add_up:
            # The frame path: the good rows in hand (files re-sending loaded keys, monthly pledge files); they
            # leave the table again and _write loads the ones that stay.
            from pipelines.ingest.validate import Validated

            rows = con.sql(f"{file_rows} ORDER BY {ROW_NUMBER}", params={"file": path.name}).pl()
            running_totals(rows, source, period_headers(staged.layout.renames, source), path.name)
            con.execute(f"DELETE FROM {table} WHERE _source_file = ?", [path.name])
            checked = Validated(good=rows, rejected=rejected, notes=notes)
            _move_to_rejected(checked, source, parts_and_totals(rows, source, staged.layout.sheets))
            _check_history(con, source, checked, path.name)
            good, corrections = _drop_already_loaded(con, source, checked, path.name)
            rejected = checked.rejected
            n_good = good.height
        result.rows_loaded = n_good
        result.rows_rejected = rejected.height
        result.notes = notes
        result.corrections = corrections
        if corrections:
            files = sorted({c["old_file"] for c in corrections})
            result.notes.append(
                f"corrected {count_en(len(corrections), 'row')} loaded earlier from {', '.join(files)}: "
                + ", ".join(f"{c['key']} ({c['changed']})" for c in corrections[:20])
                + (" ..." if len(corrections) > 20 else "")
            )
        if good is not None and (twice := city_and_parts_elsewhere(con, source, path.name, good)) is not None:
            result.notes.append(twice)
        result.message = "; ".join(result.notes)
        if result.rows_read != result.rows_loaded + result.rows_rejected:  # pragma: no cover - invariant
            raise AssertionError(f"{path.name}: row accounting broken {result}")
        part = str(partition) if partition is not None else None
        _write(
            con,
            source,
            path.name,
            result.file_hash,
            part,
            good,
            rejected,
            result,
            staged.encoding,
            run_id,
            in_transaction=True,
            now=staged.target.loaded_at,
        )
    except IngestError as e:
        contract_sql.rollback(con)
        _record_failure(con, result, e.reason, run_id)
        raise
    except Exception as e:  # noqa: BLE001 - every failure is a named, recorded failure; other files go on
        contract_sql.rollback(con)
        reason = _plain(e)
        _record_failure(con, result, reason, run_id)
        raise IngestError(path.name, reason) from e
    except BaseException:
        contract_sql.rollback(con)
        raise
    return result


def _staged_duplicates(
    con: duckdb.DuckDBPyConnection, source: Source, file_rows: str, file_name: str, sheets: list[dict] | None = None
) -> pl.DataFrame:
    """The rows of this file in the raw table refused for repeating a key within it, with their reasons (as
    validate._duplicates words them: validate.repeated_key_reasons); raw_values are the typed values as text."""
    key = list(source.key)
    keys = ", ".join(key)
    not_null = " AND ".join(f"{k} IS NOT NULL" for k in key)
    empty = pl.DataFrame(schema={ROW_NUMBER: pl.Int64, "raw_values": pl.Utf8, "reason": pl.Utf8})
    n = con.execute(
        f"SELECT count(*) FROM (SELECT {keys} FROM {source.table} WHERE _source_file = $file AND {not_null} "
        "GROUP BY ALL HAVING count(*) > 1)",
        {"file": file_name},
    ).fetchall()[0][0]
    if not n:
        return empty
    repeated = con.sql(
        f"SELECT * EXCLUDE (__rows) FROM (SELECT *, count(*) OVER (PARTITION BY {keys}) AS __rows "
        f"FROM ({file_rows}) WHERE {not_null}) WHERE __rows > 1",
        params={"file": file_name},
    ).pl()
    reasons = repeated_key_reasons(repeated, source, sheets)
    contract = [c.name for c in source.columns]
    return (
        repeated.join(reasons, on=ROW_NUMBER, how="inner")
        .select(
            pl.col(ROW_NUMBER),
            pl.struct([pl.col(c).cast(pl.Utf8) for c in contract]).struct.json_encode().alias("raw_values"),
            pl.col("reason"),
        )
        .sort(ROW_NUMBER)
    )


def period_headers(renames: dict[str, str], source: Source) -> list[str]:
    """The file's headers of the source's period columns (validate.running_totals reads whether they say 本月)."""
    return [header for header, column in renames.items() if column in source.period_columns]


def _check_history(con: duckdb.DuckDBPyConnection, source: Source, checked, file_name: str) -> None:
    """A value against the same unit's own earlier periods already in the warehouse (other files): a jump by
    more than the seed allows quarantines the row, saying which unit the value looks like."""
    good = checked.good
    if good.height == 0 or not source.history_rules:
        return
    thresholds = plausibility_thresholds()
    for rule in source.history_rules:
        low, high = thresholds.get(rule.rule_id, (None, None))
        if low is None and high is None:
            continue
        batch = good.select(rule.unit_column, rule.period_column, rule.column, ROW_NUMBER).filter(
            pl.col(rule.column) > 0
        )
        if batch.height == 0:
            continue
        con.register("__hist_batch", batch.to_arrow())
        try:
            med = con.sql(
                f"""
                SELECT b.{ROW_NUMBER} AS rn, median(t.{rule.column}) AS med, count(*) AS n
                FROM __hist_batch b JOIN {source.table} t
                  ON t.{rule.unit_column} = b.{rule.unit_column}
                 AND t.{rule.period_column} < b.{rule.period_column}
                 AND t.{rule.period_column} >= b.{rule.period_column} - INTERVAL {int(rule.window_months)} MONTH
                WHERE t.{rule.column} > 0 AND t._source_file <> $file
                GROUP BY b.{ROW_NUMBER} HAVING count(*) >= {int(rule.min_history)}
                """,
                params={"file": file_name},
            ).pl()
        finally:
            con.unregister("__hist_batch")
        if med.height == 0:
            continue
        j = batch.join(med.rename({"rn": ROW_NUMBER}), on=ROW_NUMBER).with_columns(
            (pl.col(rule.column) / pl.col("med")).alias("__ratio")
        )
        out = pl.lit(False)
        if high is not None:
            out = out | (pl.col("__ratio") > high)
        if low is not None:
            out = out | (pl.col("__ratio") < low)
        jumps = j.filter(out)
        if jumps.height == 0:
            continue
        c = source.column(rule.column)
        from pipelines.ingest.validate import _unit_hint

        lo = low if low is not None else 0.0
        hint = _unit_hint(c, pl.col("__ratio"), lo, high)
        reasons = jumps.select(
            pl.col(ROW_NUMBER),
            pl.format(
                "implausible jump in {}: {} is {}x this unit's median of its previous {} months ({}){}",
                pl.lit(rule.column),
                pl.col(rule.column),
                pl.col("__ratio").round(1),
                pl.lit(rule.window_months),
                pl.col("med").round(2),
                hint,
            ).alias("reason"),
        )
        _move_to_rejected(checked, source, reasons)


def _move_to_rejected(checked, source: Source, reasons: pl.DataFrame) -> None:
    rows = checked.good.join(reasons, on=ROW_NUMBER, how="inner")
    extra = rows.select(
        pl.col(ROW_NUMBER),
        pl.struct([pl.col(c.name).cast(pl.Utf8) for c in source.columns]).struct.json_encode().alias("raw_values"),
        pl.col("reason"),
    )
    checked.rejected = pl.concat([checked.rejected, extra.cast(checked.rejected.schema)]).sort(ROW_NUMBER)
    checked.good = checked.good.join(reasons.select(ROW_NUMBER), on=ROW_NUMBER, how="anti", maintain_order="left")


def _drop_already_loaded(
    con: duckdb.DuckDBPyConnection, source: Source, checked, file_name: str
) -> tuple[pl.DataFrame, list[dict]]:
    """Rows whose key was loaded from another file: the same values again are duplicates (quarantined); other
    values are a correction, and the latest received file wins — the earlier row leaves the raw table for
    raw.corrections, which keeps both versions. Returns the rows to load and the corrections. A key this file
    repeats reaches here once at most: rows repeating it with other values were all refused before
    (validate.repeated_key_reasons), so a file that disagrees with itself corrects nothing."""
    good = checked.good
    if good.height == 0:
        return good, []
    key = list(source.key)
    # Nothing loaded from other files yet (a first load, a fresh partition): no key can clash.
    if not con.execute(f"SELECT 1 FROM {source.table} WHERE _source_file <> ? LIMIT 1", [file_name]).fetchall():
        return good, []
    value_cols = [c.name for c in source.columns if c.name not in key]
    con.register("__batch_keys", good.select(key + [ROW_NUMBER]).to_arrow())
    try:
        on = " AND ".join(f"b.{k} = t.{k}" for k in key)
        old = con.sql(
            f"SELECT b.{ROW_NUMBER} AS __rn, t.* FROM __batch_keys b "
            f"JOIN {source.table} t ON {on} WHERE t._source_file <> $file",
            params={"file": file_name},
        ).pl()
    finally:
        con.unregister("__batch_keys")
    if old.height == 0:
        return good, []
    old = old.unique(subset=["__rn"], keep="last", maintain_order=True).rename({"__rn": ROW_NUMBER})
    pair = good.select(ROW_NUMBER, *key, *value_cols).join(
        old.select(ROW_NUMBER, "_source_file", "_row_number", *[pl.col(c).alias("__old:" + c) for c in value_cols]),
        on=ROW_NUMBER,
        how="inner",
    )
    # Which values differ, column by column (vectorised: a re-sent national file may clash on every key).
    diff = pair.select(
        ROW_NUMBER,
        *[(~same_value(pl.col(c), pl.col("__old:" + c), good.schema[c])).alias("__d:" + c) for c in value_cols],
    )
    changed_any = diff.select(pl.any_horizontal([pl.col("__d:" + c) for c in value_cols]).alias("x"))["x"]
    same = pair.filter(~changed_any).select(ROW_NUMBER, pl.col("_source_file").alias("other")).to_dicts()
    corrections = []
    for r, d in zip(
        pair.filter(changed_any).iter_rows(named=True), diff.filter(changed_any).iter_rows(named=True), strict=True
    ):
        changed = [c for c in value_cols if d["__d:" + c]]
        corrections.append(
            {
                "key": "/".join(str(r[k]) for k in key),
                "key_values": {k: _jsonable(r[k]) for k in key},
                "key_raw": {k: r[k] for k in key},
                "old_file": r["_source_file"],
                "old_row_number": r["_row_number"],
                "old_values": {c: _jsonable(r["__old:" + c]) for c in value_cols},
                "new_row_number": r[ROW_NUMBER],
                "new_values": {c: _jsonable(r[c]) for c in value_cols},
                "changed": ", ".join(f"{c} {_jsonable(r['__old:' + c])} → {_jsonable(r[c])}" for c in changed),
                "changed_columns": changed,
            }
        )
    if same:
        dup = pl.DataFrame(same, schema={ROW_NUMBER: pl.Int64, "other": pl.Utf8})
        _move_to_rejected(
            checked,
            source,
            dup.select(
                pl.col(ROW_NUMBER),
                pl.format("duplicate record: key already loaded from file {}", pl.col("other")).alias("reason"),
            ),
        )
    return checked.good, corrections


def _jsonable(v):
    return v.isoformat() if isinstance(v, (date, datetime)) else v


def _write(
    con,
    source: Source,
    file_name,
    digest,
    part,
    good: pl.DataFrame | None,
    rejected: pl.DataFrame,
    result,
    encoding,
    run_id,
    *,
    in_transaction: bool = False,
    now: datetime | None = None,
):
    """Quarantine, ledger and (unless ``good`` is None: the scan loaded them) the good rows, as one transaction.
    ``in_transaction``: the file's transaction is open and the old version's rows are gone already."""
    import json

    now = now or utc_now()
    cols = [c.name for c in source.columns] + (["year"] if source.partitioned else [])
    # The constant lineage columns are added by DuckDB in the INSERT: constant vectors cost nothing there,
    # whereas millions of copies of a 64-character hash are converted row by row on the way in.
    to_load = None if good is None else good.select(*cols, pl.col(ROW_NUMBER).alias("_row_number"))
    sheets = result.sheets
    if len([s for s in sheets if s.get("status") == "read"]) > 1:
        located = [sheet_and_row(n, sheets) for n in rejected[ROW_NUMBER].to_list()]
        sheet_col = pl.Series("sheet", [s for s, _ in located], dtype=pl.Utf8)
        row_col = pl.Series("row_number", [r for _, r in located], dtype=pl.Int64)
    else:
        sheet_col = pl.Series("sheet", [sheets[0]["sheet"] if sheets else None] * rejected.height, dtype=pl.Utf8)
        row_col = rejected[ROW_NUMBER].alias("row_number")
    quarantine = rejected.select(
        pl.lit(source.name).alias("source"),
        pl.lit(file_name).alias("file_name"),
        pl.lit(digest).alias("file_hash"),
        pl.col("raw_values"),
        pl.col("reason"),
        pl.lit(part, pl.Utf8).alias("partition"),
        pl.lit(now).alias("rejected_at"),
        pl.lit(run_id).alias("run_id"),
    ).with_columns(row_col, sheet_col)
    key = list(source.key)
    if not in_transaction:
        con.execute("BEGIN TRANSACTION")
    try:
        if not in_transaction:
            # A new version of a file replaces the rows of the old version (same name, different bytes).
            con.execute(f"DELETE FROM {source.table} WHERE _source_file = ?", [file_name])
        con.execute("DELETE FROM raw.rejected_rows WHERE source = ? AND file_name = ?", [source.name, file_name])
        con.execute(
            "UPDATE raw.ingested_files SET status = 'replaced' WHERE source = ? AND file_name = ? AND status IN ('loaded', 'failed')",
            [source.name, file_name],
        )
        if result.corrections:
            # Latest received wins: the corrected rows of earlier files leave the raw table; raw.corrections
            # keeps both versions.
            corr = pl.DataFrame(
                {
                    "source": [source.name] * len(result.corrections),
                    "key_values": [json.dumps(c["key_values"], ensure_ascii=False) for c in result.corrections],
                    "old_file": [c["old_file"] for c in result.corrections],
                    "old_row_number": [c["old_row_number"] for c in result.corrections],
                    "old_values": [json.dumps(c["old_values"], ensure_ascii=False) for c in result.corrections],
                    "new_file": [file_name] * len(result.corrections),
                    "new_row_number": [c["new_row_number"] for c in result.corrections],
                    "new_values": [json.dumps(c["new_values"], ensure_ascii=False) for c in result.corrections],
                    "changed_columns": [", ".join(c["changed_columns"]) for c in result.corrections],
                },
                schema_overrides={"old_row_number": pl.Int64, "new_row_number": pl.Int64},
            )
            con.register("__corr", corr.to_arrow())
            # A year reloaded (reload: true, a withdrawal that reloads the year) loads its files again in order, so
            # the corrected file corrects the first one again: the same correction (same files, key and values) is
            # recorded once, with its first run and time, however often the year is reloaded.
            con.execute(
                "INSERT INTO raw.corrections BY NAME SELECT c.*, $now AS corrected_at, $run AS run_id FROM __corr AS c "
                "WHERE NOT EXISTS (SELECT 1 FROM raw.corrections AS r WHERE r.source = c.source "
                "AND r.key_values = c.key_values AND r.old_file = c.old_file AND r.new_file = c.new_file "
                "AND r.old_values IS NOT DISTINCT FROM c.old_values AND r.new_values IS NOT DISTINCT FROM c.new_values)",
                {"now": now, "run": run_id},
            )
            con.unregister("__corr")
            old_keys = pl.DataFrame(
                {
                    **{
                        k: pl.Series(k, [c["key_raw"][k] for c in result.corrections], dtype=good.schema[k])
                        for k in key
                    },
                    "_f": [c["old_file"] for c in result.corrections],
                }
            )
            con.register("__old_keys", old_keys.to_arrow())
            on = " AND ".join(f"t.{k} = o.{k}" for k in key)
            con.execute(f"DELETE FROM {source.table} t USING __old_keys o WHERE {on} AND t._source_file = o._f")
            con.unregister("__old_keys")
        if to_load is not None:
            con.register("__to_load", to_load.to_arrow())
            con.execute(
                f"INSERT INTO {source.table} BY NAME SELECT *, $file AS _source_file, $hash AS _file_hash,"
                " $now AS _ingested_at FROM __to_load",
                {"file": file_name, "hash": digest, "now": now},
            )
            con.unregister("__to_load")
        if quarantine.height:
            con.register("__quarantine", quarantine.to_arrow())
            con.execute("INSERT INTO raw.rejected_rows BY NAME SELECT * FROM __quarantine")
            con.unregister("__quarantine")
        con.execute(
            'INSERT INTO raw.ingested_files (source, file_name, file_hash, "partition", rows_read, rows_loaded,'
            " rows_rejected, status, message, encoding, ingested_at, run_id, sheets, rows_corrected)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'loaded', ?, ?, ?, ?, ?, ?)",
            [
                source.name,
                file_name,
                digest,
                part,
                result.rows_read,
                result.rows_loaded,
                result.rows_rejected,
                result.message,
                encoding,
                now,
                run_id,
                json.dumps(sheets, ensure_ascii=False) if sheets else None,
                len(result.corrections),
            ],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _record_failure(con, result: IngestResult, reason: str, run_id: str) -> None:
    result.status = "failed"
    result.message = reason
    con.execute(
        "DELETE FROM raw.ingested_files WHERE source = ? AND file_hash = ? AND status = 'failed'",
        [result.source, result.file_hash],
    )
    con.execute(
        'INSERT INTO raw.ingested_files (source, file_name, file_hash, "partition", rows_read, rows_loaded,'
        " rows_rejected, status, message, encoding, ingested_at, run_id)"
        " VALUES (?, ?, ?, ?, 0, 0, 0, 'failed', ?, NULL, ?, ?)",
        [result.source, result.file_name, result.file_hash, result.partition, reason, utc_now(), run_id],
    )


def record_failure_of(con, source: Source, path: Path, reason: str, run_id: str = "") -> IngestError:
    """Record a file that fails before it is read (its year cannot be used): a 'failed' ledger row."""
    ensure_schema(con)
    _record_failure(con, IngestResult(source.name, path.name, file_hash(path), None), reason, run_id)
    return IngestError(path.name, reason)


def record_unreadable_year(con, source: Source, path: Path, run_id: str = "") -> IngestError:
    """A yearly file whose data year cannot be told fails alone, by name, in the ledger. A file that cannot
    even be read is recorded with the reason it cannot be read."""
    ensure_schema(con)
    result = IngestResult(source.name, path.name, file_hash(path), None)
    reason = (
        f"cannot tell the data year: no readable {source.partition_date} dates in the file and no single data "
        "year in its name (name it like 2025年12月_..., or fill the dates)"
    )
    try:
        from pipelines.ingest.validate import map_columns

        map_columns(read_file(path, source), source, path.name)
    except IngestError as e:
        reason = e.reason
    except Exception as e:  # noqa: BLE001 - recorded in words like any other read failure
        reason = _plain(e)
    _record_failure(con, result, reason, run_id)
    return IngestError(path.name, reason)


def pending_files(con: duckdb.DuckDBPyConnection, landing: Path, source: Source) -> list[Path]:
    """Landing files whose bytes have not been loaded yet. Every landing file listed is a sighting: its first one
    is recorded (raw.file_receipts), the evidence of when it was received."""
    ensure_schema(con)
    # A file still being copied in is waited for; one still changing after the wait is not pending yet (nor a
    # sighting: its bytes are not the file's yet).
    listed = landing_files(landing, source)
    changing = set(wait_until_settled(listed))
    files = [p for p in listed if p not in changing and p.exists()]
    record_sightings(con, source, files)
    loaded = {
        r[0]
        for r in con.execute(
            "SELECT file_hash FROM raw.ingested_files WHERE source = ? AND status = 'loaded'", [source.name]
        ).fetchall()
    }
    return [p for p in files if file_hash(p) not in loaded]


# ------------------------------------------------------------------ files removed from the landing folder
# The landing folder is what the offices have sent: a file removed from it (sent to the wrong folder, or replaced
# by a corrected file under a new name) is withdrawn by the next run that sees it gone, by default. Its rows
# leave the raw table, its quarantine goes with them, and the ledger records the withdrawal (status 'withdrawn',
# how many rows, which run), which `ipcity run`, `status` and `quality` list. Without this its rows stayed and
# counted beside the corrected file's. An explicit `ipcity withdraw` was the alternative; it was not chosen
# because the operator's act of removing the file already says it, and a step they forget would double count
# silently. The one risk of acting on absence, a landing folder that is missing or empty (an unmounted share, a
# wrong IPCITY_LANDING), withdraws nothing and says so (landing_is_absent).
WITHDRAWN_MESSAGE = "removed from the landing folder: its rows are withdrawn from the warehouse"


@dataclass
class Withdrawal:
    source: str
    file_name: str
    partition: str | None
    rows_withdrawn: int = 0
    rows_unquarantined: int = 0
    # years (None: the whole source) whose other files must be loaded again: rows of theirs were set aside because
    # of the withdrawn file (duplicates of its rows, rows it corrected), and come back only by a reload
    reload: bool = False


def landing_is_absent(landing: Path) -> bool:
    """No landing folder, or not one file in any source's folder: the folder is not there (an unmounted share, a
    mistyped IPCITY_LANDING) rather than every file withdrawn, so nothing is withdrawn."""
    return not any(landing_files(landing, s) for s in SOURCES.values())


def source_folders_emptied(con: duckdb.DuckDBPyConnection, landing: Path) -> list[str]:
    """Sources whose landing folder holds no file while the ledger holds loaded files of theirs (nothing is
    withdrawn for them; removed_files); [] when the whole landing folder is absent (landing_is_absent says that)."""
    ensure_schema(con)
    if landing_is_absent(landing):
        return []
    loaded = {
        name
        for (name,) in con.execute("SELECT DISTINCT source FROM raw.ingested_files WHERE status = 'loaded'").fetchall()
    }
    return [name for name, s in SOURCES.items() if name in loaded and not landing_files(landing, s)]


def removed_files(con: duckdb.DuckDBPyConnection, landing: Path, source: Source) -> list[tuple[str, str | None, bool]]:
    """(file name, partition, loaded) of the files the ledger holds as loaded or refused whose name is no longer
    in the source's landing folder ([] when the landing folder is absent altogether); ``loaded`` False: refused
    whole, no rows of it in the warehouse."""
    ensure_schema(con)
    if landing_is_absent(landing):
        return []
    present = {p.name for p in landing_files(landing, source)}
    if not present:
        # a source's folder with no file at all is a folder gone (its own share unmounted, renamed), not every
        # file of the source withdrawn: withdrawing the reference cities or population would break every mart.
        # Nothing is withdrawn for it and the run says so (source_folders_emptied); a file is withdrawn by
        # removing it while the source keeps another, or replaced by sending the corrected one.
        return []
    rows = con.execute(
        "SELECT file_name, max(\"partition\"), bool_or(status = 'loaded') FROM raw.ingested_files WHERE source = ? "
        "AND status IN ('loaded', 'failed') GROUP BY file_name ORDER BY file_name",
        [source.name],
    ).fetchall()
    return [(name, part, loaded) for name, part, loaded in rows if name not in present]


def withdraw_file(
    con: duckdb.DuckDBPyConnection, source: Source, file_name: str, partition: str | None, run_id: str = ""
) -> Withdrawal:
    """Withdraw a file removed from landing, in one transaction: its rows and quarantined rows leave the warehouse,
    its ledger rows become 'withdrawn' and a ledger row records the withdrawal. ``reload`` says whether other
    files' rows were set aside because of it (the caller loads that partition again)."""
    ensure_schema(con)
    w = Withdrawal(source.name, file_name, partition)
    w.reload = bool(
        con.execute(
            "SELECT 1 FROM raw.rejected_rows WHERE source = ? AND file_name <> ? AND reason = ? LIMIT 1",
            [source.name, file_name, f"duplicate record: key already loaded from file {file_name}"],
        ).fetchall()
        or con.execute(
            "SELECT 1 FROM raw.corrections WHERE source = ? AND new_file = ? AND old_file <> ? LIMIT 1",
            [source.name, file_name, file_name],
        ).fetchall()
    )
    digest = con.execute(
        "SELECT arg_max(file_hash, ingested_at) FROM raw.ingested_files WHERE source = ? AND file_name = ? "
        "AND status IN ('loaded', 'failed')",
        [source.name, file_name],
    ).fetchall()[0][0]
    con.execute("BEGIN TRANSACTION")
    try:
        w.rows_withdrawn = con.execute(
            f"SELECT count(*) FROM {source.table} WHERE _source_file = ?", [file_name]
        ).fetchall()[0][0]
        w.rows_unquarantined = con.execute(
            "SELECT count(*) FROM raw.rejected_rows WHERE source = ? AND file_name = ?", [source.name, file_name]
        ).fetchall()[0][0]
        con.execute(f"DELETE FROM {source.table} WHERE _source_file = ?", [file_name])
        con.execute("DELETE FROM raw.rejected_rows WHERE source = ? AND file_name = ?", [source.name, file_name])
        con.execute(
            "UPDATE raw.ingested_files SET status = 'withdrawn' WHERE source = ? AND file_name = ? "
            "AND status IN ('loaded', 'failed')",
            [source.name, file_name],
        )
        con.execute(
            'INSERT INTO raw.ingested_files (source, file_name, file_hash, "partition", rows_read, rows_loaded,'
            " rows_rejected, status, message, encoding, ingested_at, run_id, rows_withdrawn)"
            " VALUES (?, ?, ?, ?, 0, 0, 0, 'withdrawn', ?, NULL, ?, ?, ?)",
            [source.name, file_name, digest, partition, WITHDRAWN_MESSAGE, utc_now(), run_id, w.rows_withdrawn],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return w
