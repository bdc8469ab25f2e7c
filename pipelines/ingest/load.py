"""Load one landing file into its raw table: hash ledger, quarantine, and all-or-nothing writes.

A file is identified by its content hash: the same bytes ingested again change nothing. A new version of a
file with the same name replaces the old version's rows (delete-then-insert by file name), inside one
transaction with its quarantined rows and its ledger entry, so a failure leaves nothing half-loaded.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines.ingest.readers import ROW_NUMBER, IngestError, read_file
from pipelines.ingest.validate import validate
from pipelines.sources import CITIES, SOURCES, Source, create_table_sql

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

_YEAR_IN_NAME = re.compile(r"(?<!\d)(19\d\d|20\d\d)(?!\d)")


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

    def as_dict(self) -> dict:
        return asdict(self)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for s in SOURCES.values():
        con.execute(create_table_sql(s))
    con.execute(LEDGER_DDL)
    con.execute(REJECTED_DDL)


# sha256 of a file by (path, size, mtime): `ipcity run` asks for the hash of every landing file several times
# (planning, the asset's pending list, the ingest itself); hashing 500 MB costs seconds each time. A file that
# is rewritten changes its size or mtime, so the cache never hands back a stale hash.
_HASHES: dict[tuple[str, int, int], str] = {}


def file_hash(path: Path) -> str:
    st = path.stat()
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key in _HASHES:
        return _HASHES[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def landing_files(landing: Path, source: Source) -> list[Path]:
    folder = landing / source.name
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "~$")))


def partition_of(path: Path, source: Source) -> int | None:
    """The year a yearly file belongs to: from its name, else the most common year in its date column."""
    if not source.partitioned:
        return None
    m = _YEAR_IN_NAME.search(path.stem)
    if m:
        return int(m.group(1))
    try:
        raw = read_file(path, source)
        from pipelines.ingest.validate import map_columns

        df, _ = map_columns(raw, source, path.name)
        years = [str(v)[:4] for v in df[source.partition_date].drop_nulls().to_list()]
        years = [int(y) for y in years if y.isdigit()]
    except IngestError:
        return None
    return Counter(years).most_common(1)[0][0] if years else None


def valid_region_codes(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    codes = {r[0] for r in con.execute("SELECT city_code FROM raw.cities").fetchall()}
    codes |= {r[0] for r in con.execute("SELECT DISTINCT province_code FROM raw.cities").fetchall()}
    return frozenset(c for c in codes if c)


def already_ingested(con: duckdb.DuckDBPyConnection, source: Source, digest: str) -> tuple[str, datetime] | None:
    row = con.execute(
        "SELECT file_name, ingested_at FROM raw.ingested_files WHERE source = ? AND file_hash = ? AND status = 'loaded'"
        " ORDER BY ingested_at DESC LIMIT 1",
        [source.name, digest],
    ).fetchall()
    return (row[0][0], row[0][1]) if row else None


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    path: Path,
    *,
    partition: int | None = None,
    today: date | None = None,
    run_id: str = "",
) -> IngestResult:
    """Ingest one file. Raises IngestError (after recording it in the ledger) when the file cannot be loaded."""
    ensure_schema(con)
    digest = file_hash(path)
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
    try:
        raw = read_file(path, source)
        checked = validate(raw, source, path.name, partition=partition, today=today or date.today(), valid_codes=codes)
    except IngestError as e:
        _record_failure(con, result, e.reason, run_id)
        raise
    result.rows_read, encoding = raw.df.height, raw.encoding
    del raw  # the all-text frame is not needed any more: free it before the load
    good = _drop_already_loaded(con, source, checked, path.name)
    rejected = checked.rejected
    result.rows_loaded = good.height
    result.rows_rejected = rejected.height
    result.notes = checked.notes
    result.message = "; ".join(checked.notes)
    if result.rows_read != result.rows_loaded + result.rows_rejected:  # pragma: no cover - invariant
        raise AssertionError(f"{path.name}: row accounting broken {result}")
    _write(con, source, path.name, digest, part, good, rejected, result, encoding, run_id)
    return result


def _drop_already_loaded(con: duckdb.DuckDBPyConnection, source: Source, checked, file_name: str) -> pl.DataFrame:
    """Rows whose key was loaded from another file are duplicates: move them to the quarantine."""
    good = checked.good
    if good.height == 0:
        return good
    key = list(source.key)
    # Nothing loaded from other files yet (a first load, a fresh partition): no key can clash.
    if not con.execute(f"SELECT 1 FROM {source.table} WHERE _source_file <> ? LIMIT 1", [file_name]).fetchall():
        return good
    con.register("__batch_keys", good.select(key + [ROW_NUMBER]).to_arrow())
    try:
        on = " AND ".join(f"b.{k} = t.{k}" for k in key)
        dup = con.sql(
            f"SELECT b.{ROW_NUMBER} AS rn, any_value(t._source_file) AS other FROM __batch_keys b "
            f"JOIN {source.table} t ON {on} WHERE t._source_file <> $file GROUP BY b.{ROW_NUMBER}",
            params={"file": file_name},
        ).pl()
    finally:
        con.unregister("__batch_keys")
    if dup.height == 0:
        return good
    dup = dup.rename({"rn": ROW_NUMBER})
    dup_rows = good.join(dup, on=ROW_NUMBER, how="inner")
    extra_rejected = dup_rows.select(
        pl.col(ROW_NUMBER),
        pl.struct([c.name for c in source.columns]).struct.json_encode().alias("raw_values"),
        pl.format("duplicate record: key already loaded from file {}", pl.col("other")).alias("reason"),
    )
    checked.rejected = pl.concat([checked.rejected, extra_rejected.cast(checked.rejected.schema)])
    return good.join(dup.select(ROW_NUMBER), on=ROW_NUMBER, how="anti")


def _write(
    con, source: Source, file_name, digest, part, good: pl.DataFrame, rejected: pl.DataFrame, result, encoding, run_id
):
    now = datetime.now()
    cols = [c.name for c in source.columns] + (["year"] if source.partitioned else [])
    # The constant lineage columns are added by DuckDB in the INSERT: constant vectors cost nothing there,
    # whereas millions of copies of a 64-character hash are converted row by row on the way in.
    to_load = good.select(*cols, pl.col(ROW_NUMBER).alias("_row_number"))
    quarantine = rejected.select(
        pl.lit(source.name).alias("source"),
        pl.lit(file_name).alias("file_name"),
        pl.lit(digest).alias("file_hash"),
        pl.col(ROW_NUMBER).alias("row_number"),
        pl.col("raw_values"),
        pl.col("reason"),
        pl.lit(part, pl.Utf8).alias("partition"),
        pl.lit(now).alias("rejected_at"),
        pl.lit(run_id).alias("run_id"),
    )
    con.execute("BEGIN TRANSACTION")
    try:
        # A new version of a file replaces the rows of the old version (same name, different bytes).
        con.execute(f"DELETE FROM {source.table} WHERE _source_file = ?", [file_name])
        con.execute("DELETE FROM raw.rejected_rows WHERE source = ? AND file_name = ?", [source.name, file_name])
        con.execute(
            "UPDATE raw.ingested_files SET status = 'replaced' WHERE source = ? AND file_name = ? AND status IN ('loaded', 'failed')",
            [source.name, file_name],
        )
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
            "INSERT INTO raw.ingested_files VALUES (?, ?, ?, ?, ?, ?, ?, 'loaded', ?, ?, ?, ?)",
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
        "INSERT INTO raw.ingested_files VALUES (?, ?, ?, ?, 0, 0, 0, 'failed', ?, NULL, ?, ?)",
        [result.source, result.file_name, result.file_hash, result.partition, reason, datetime.now(), run_id],
    )


def pending_files(con: duckdb.DuckDBPyConnection, landing: Path, source: Source) -> list[Path]:
    """Landing files whose bytes have not been loaded yet."""
    ensure_schema(con)
    loaded = {
        r[0]
        for r in con.execute(
            "SELECT file_hash FROM raw.ingested_files WHERE source = ? AND status = 'loaded'", [source.name]
        ).fetchall()
    }
    return [p for p in landing_files(landing, source) if file_hash(p) not in loaded]
