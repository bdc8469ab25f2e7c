"""Publish a read-only snapshot of the warehouse for the dashboard, swapped in atomically.

DuckDB allows one writing process or many readers. The dashboard must keep serving while the pipeline
writes, so it never opens the warehouse: it reads a separate file that is built next to the snapshot and
moved into place with os.replace (atomic on POSIX; open readers keep the old inode until they reconnect).
Only what the dashboard needs is copied (marts, quality, the ledger), not the raw record tables.

The snapshot is a contract between two deployments (pipeline and dashboard): ``meta.snapshot_info`` carries
``schema_version``, and the dashboard opens only the version it was built for. Bump SNAPSHOT_SCHEMA_VERSION
whenever a published table or column is added, removed, renamed or changes meaning (docs/contracts.md).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines import data_nature, settings
from pipelines.private_files import private_dir, private_duckdb, tighten_file

# raw tables the dashboard shows (the ledger and the quarantine); record tables stay in the warehouse.
PUBLISHED_RAW_TABLES = ("ingested_files", "rejected_rows")
# releases: the immutable evaluation releases (pipelines/evaluation/releases.py), shown as released
PUBLISHED_SCHEMAS = ("marts", "quality", "releases")
# 2: quality.check_results holds dbt's data tests beside GX's (engine, column_names, rule, failing_rows)
SNAPSHOT_SCHEMA_VERSION = 2


def _tables(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = ? ORDER BY table_name",
        [schema],
    ).fetchall()
    return [r[0] for r in rows]


def publish_snapshot(warehouse: Path, snapshot: Path | None = None, run_id: str = "") -> dict:
    snapshot = snapshot or settings.snapshot_path(warehouse)
    # owner-only from birth (every province's figures); its one reader, the dashboard, runs as this user (private_files)
    private_dir(snapshot.parent)
    tmp = snapshot.with_name(f".{snapshot.name}.{os.getpid()}.tmp")
    if tmp.exists():
        tmp.unlink()
    counts: dict[str, int] = {}
    # the publish step's memory limit and spill folder (settings.duckdb_config): the copy streams table by table
    con = duckdb.connect(str(private_duckdb(warehouse)), read_only=False)
    try:
        settings.apply_duckdb_limits(con, "publish")
        con.execute(f"ATTACH '{tmp}' AS snap")
        for schema in PUBLISHED_SCHEMAS:
            tables = _tables(con, schema)
            if tables:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS snap.{schema}")
            for t in tables:
                con.execute(f'CREATE TABLE snap.{schema}."{t}" AS SELECT * FROM {schema}."{t}"')
                counts[f"{schema}.{t}"] = con.execute(f'SELECT count(*) FROM snap.{schema}."{t}"').fetchall()[0][0]
        con.execute("CREATE SCHEMA IF NOT EXISTS snap.raw")
        for t in PUBLISHED_RAW_TABLES:
            if t in _tables(con, "raw"):
                con.execute(f"CREATE TABLE snap.raw.{t} AS SELECT * FROM raw.{t}")
                counts[f"raw.{t}"] = con.execute(f"SELECT count(*) FROM snap.raw.{t}").fetchall()[0][0]
        info = {
            # with its zone (UTC): the dashboard's footer shows it in Beijing time and says so
            "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "run_id": run_id,
            "warehouse": str(warehouse),
            "tables": counts,
            "schema_version": SNAPSHOT_SCHEMA_VERSION,
        }
        con.execute("CREATE SCHEMA IF NOT EXISTS snap.meta")
        con.execute("CREATE TABLE snap.meta.snapshot_info (key VARCHAR, value VARCHAR)")
        # which sources hold generated sample files (pipelines/data_nature.py): every file a user takes away says so
        con.execute(
            "INSERT INTO snap.meta.snapshot_info VALUES (?, ?)",
            [data_nature.SNAPSHOT_KEY, json.dumps(list(data_nature.loaded_synthetic(con)))],
        )
        con.execute(
            "INSERT INTO snap.meta.snapshot_info VALUES (?, ?), (?, ?), (?, ?), (?, ?)",
            [
                "schema_version",
                str(SNAPSHOT_SCHEMA_VERSION),
                "published_at",
                info["published_at"],
                "run_id",
                run_id,
                "tables",
                json.dumps(counts),
            ],
        )
        con.execute("DETACH snap")
    except Exception:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    os.replace(tighten_file(tmp), snapshot)
    return info
