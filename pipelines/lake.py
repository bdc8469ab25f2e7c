"""The raw layer in an open format: every raw table as Parquet in a lake folder, partitioned by source and year.

Layout (``settings.lake_dir()``, default ``<data>/lake``; ``IPCITY_LAKE`` moves it, e.g. to a shared or object
store mount a cluster reads)::

    raw/<source>/year=<yyyy>/data_0.parquet   yearly sources (patent grants, pledge loans, cases, training)
    raw/<source>/data_0.parquet               reference sources (cities, roster, population, ...)
    raw/ingested_files/data_0.parquet         the ingestion ledger
    raw/file_receipts/data_0.parquet          first sighting of each landing file (reporting dates are read from it)
    raw/corrections/data_0.parquet            rows corrected by a later file (a correction keeps the first receipt)
    raw/rejected_rows/data_0.parquet          the quarantine

The DuckDB warehouse stays the one place that loads: the loader (pipelines/ingest) and its ledger
(``raw.ingested_files``) decide what is loaded, and this module only mirrors the loaded tables after
ingestion. A source is rewritten only when its ledger entries changed since the last export (fingerprint in
``raw/_exported.json``), and each source folder is replaced whole (written beside, then renamed), so a reader
never sees half a source; a yearly source, once written, is kept up to date year by year (only the year folders
whose rows changed are rewritten, each replaced whole). Spark registers these folders as external tables (dbt on-run-start hook
``register_lake_sources``); DuckDB keeps reading its own raw tables.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb

from pipelines import settings
from pipelines.sources import SOURCES

LEDGER_TABLE = "ingested_files"
# The quarantine: declared as a dbt source in schema raw (models/exposures/_dashboard_sources.yml), so Spark
# registers it with the other raw tables and needs its folder.
QUARANTINE_TABLE = "rejected_rows"
# First sightings of the landing files and the corrected rows: fct_reporting_status reads both (the date a unit's
# report was received, kept when a correction re-sends it later).
RECEIPTS_TABLE = "file_receipts"
CORRECTIONS_TABLE = "corrections"
FINGERPRINT_FILE = "_exported.json"
# The ledger's and the quarantine's rows in a stable order, so the same warehouse gives the same files. A source's
# rows are written in the table's own order (see _copy_year).
_ORDER = {
    LEDGER_TABLE: "source, file_name, ingested_at",
    QUARANTINE_TABLE: "source, file_name, row_number, reason",
    RECEIPTS_TABLE: "source, file_hash",
    CORRECTIONS_TABLE: "source, new_file, new_row_number, old_file, old_row_number",
}


def lake_tables() -> list[str]:
    """Names of the raw tables the lake holds: every source, then the ledger, the quarantine, the receipts and the
    corrections."""
    return [*SOURCES, LEDGER_TABLE, QUARANTINE_TABLE, RECEIPTS_TABLE, CORRECTIONS_TABLE]


def _fingerprint(con: duckdb.DuckDBPyConnection, table: str) -> str:
    if table == LEDGER_TABLE:
        row = con.execute("SELECT count(*), max(ingested_at) FROM raw.ingested_files").fetchone()
    elif table == QUARANTINE_TABLE:
        row = con.execute("SELECT count(*), max(rejected_at) FROM raw.rejected_rows").fetchone()
    elif table == RECEIPTS_TABLE:
        row = con.execute("SELECT count(*), max(first_seen_utc) FROM raw.file_receipts").fetchone()
    elif table == CORRECTIONS_TABLE:
        row = con.execute("SELECT count(*), max(corrected_at) FROM raw.corrections").fetchone()
    else:
        # every load, replacement or failure of the source's files is a ledger row
        row = con.execute(
            "SELECT count(*), max(ingested_at), (SELECT count(*) FROM raw." + table + ") "
            "FROM raw.ingested_files WHERE source = ?",
            [table],
        ).fetchone()
    return json.dumps([str(v) for v in row])


def _has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() "
            "AND table_schema = 'raw' AND table_name = ?",
            [table],
        ).fetchone()[0]
    )


def export_raw(con: duckdb.DuckDBPyConnection, lake: Path | None = None, *, force: bool = False) -> dict[str, str]:
    """Write the warehouse's raw tables into ``lake``; returns {table: 'written' | 'unchanged' | 'absent'}."""
    root = Path(lake or settings.lake_dir()) / "raw"
    root.mkdir(parents=True, exist_ok=True)
    marker = root / FINGERPRINT_FILE
    done: dict[str, str] = json.loads(marker.read_text(encoding="utf-8")) if marker.exists() else {}
    out: dict[str, str] = {}
    for table in lake_tables():
        if not _has_table(con, table):
            out[table] = "absent"
            continue
        fp = _fingerprint(con, table)
        target = root / table
        if not force and done.get(table) == fp and target.exists():
            out[table] = "unchanged"
            continue
        source = SOURCES.get(table)
        if source is not None and source.partitioned and not force and isinstance(done.get(f"{table}/years"), dict):
            # a yearly source rewrites only the partitions whose rows changed: adding a year to ten costs that year
            years = _export_changed_years(con, source, target, done[f"{table}/years"])
            done[table], done[f"{table}/years"] = fp, years
            out[table] = "written"
            continue
        tmp = root / f".{table}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if source is not None and source.partitioned:
            for (year,) in con.execute(f"SELECT DISTINCT year FROM raw.{table} ORDER BY year").fetchall():
                _copy_year(con, table, year, tmp / f"year={year}")
        else:
            order = f" ORDER BY {_ORDER[table]}" if table in _ORDER else ""
            con.execute(f"COPY (SELECT * FROM raw.{table}{order}) TO '{tmp / 'data_0.parquet'}' (FORMAT parquet)")
        old = root / f".{table}.old"
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
        done[table] = fp
        if source is not None and source.partitioned:
            done[f"{table}/years"] = _year_fingerprints(con, source)
        out[table] = "written"
    marker.write_text(json.dumps(done, indent=1, sort_keys=True), encoding="utf-8")
    return out


def _copy_year(con: duckdb.DuckDBPyConnection, table: str, year: int, folder: Path) -> None:
    """One year of a yearly source as ``folder/data_0.parquet``, in the layout of Hive partitions (no year column
    in the file: it is in the folder name).

    The rows keep the order the raw table stores them in, the order the loader inserted them (file by file; in a
    file, the rows the SQL scan passed in file order, then those only the Polars rules could read). DuckDB writes
    a scan in that order, so the same warehouse gives the same files. They used to be sorted by file and row
    number: under the step's memory limit that sort was most of the step (a national year of grants, 3.5 M rows:
    8.9 s sorted against 2.3 s streamed, best of 3, bench/bench_lake_export.py; 47 s of a national run on a loaded
    machine)."""
    folder.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"COPY (SELECT * EXCLUDE (year) FROM raw.{table} WHERE year = {int(year)}) "
        f"TO '{folder / 'data_0.parquet'}' (FORMAT parquet)"
    )


def _year_fingerprints(con: duckdb.DuckDBPyConnection, source) -> dict[str, str]:
    from pipelines.incremental import partition_fingerprints

    return {str(y): fp for y, fp in partition_fingerprints(con, source).items()}


def _export_changed_years(con: duckdb.DuckDBPyConnection, source, target: Path, before: dict[str, str]) -> dict:
    """Rewrite the year folders of ``target`` whose rows changed since ``before`` ({year: fingerprint}, the same
    fingerprints pipelines/incremental.py compares) and drop the folders of years that are gone. Each year folder
    is replaced whole (written beside, then renamed), in the layout COPY … PARTITION_BY writes (no year column in
    the files: it is in the folder name). Returns the fingerprints now."""
    now = _year_fingerprints(con, source)
    table = source.table.split(".")[1]
    for year, fp in sorted(now.items()):
        folder = target / f"year={year}"
        if before.get(year) == fp and folder.exists():
            continue
        tmp = target.parent / f".{table}.year={year}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        _copy_year(con, table, year, tmp)
        old = target.parent / f".{table}.year={year}.old"
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    for year in set(before) - set(now):
        shutil.rmtree(target / f"year={year}", ignore_errors=True)
    return now
