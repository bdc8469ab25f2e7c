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
# 3: robustness (evaluation year and cycle), the cycle's catalogue versions and joining year, the calendar's
#    numbers_pilot_rounds: pages and extracts read them, so a version-2 snapshot is re-published, not half-read
SNAPSHOT_SCHEMA_VERSION = 3


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
            # with its zone (UTC): the dashboard's footer shows it in Beijing time and says so. To the microsecond, as
            # the failed run's quality file is: the dashboard shows that file only while it is newer than this
            # snapshot, and a snapshot written within the same second would otherwise read as older than it
            "published_at": datetime.now(UTC).isoformat(timespec="microseconds"),
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
    # this release's quality tables are the newest now: a failed run's quality snapshot before it is history
    quality_snapshot_path(snapshot).unlink(missing_ok=True)
    return info


def quality_snapshot_path(snapshot: Path) -> Path:
    """Where a failed run's quality results are published beside the snapshot (``publish_quality_snapshot``)."""
    # "<snapshot>.quality.duckdb": not "quality.<...>", whose DuckDB catalog name would be the schema's, "quality"
    return snapshot.with_name(f"{snapshot.name.removesuffix('.duckdb')}.quality.duckdb")


# What the dashboard's data-quality page reads: the check results, the quarantine and the ledger of the runs.
QUALITY_SNAPSHOT_KIND = "quality"


def publish_quality_snapshot(warehouse: Path, run_id: str, snapshot: Path | None = None) -> dict:
    """Publish the quality results of a run that did not publish (a failed blocking check, a dbt error) into a
    small file of their own beside the snapshot, swapped in atomically like it.

    A failed run must not publish its data: the snapshot (every figure the dashboard shows) stays the last good
    release. But its check results, quarantine and ledger are what the data engineers need to see on the
    quality page now, not after the next successful run. So only ``quality.*`` and the ledger and quarantine
    tables are copied here; the dashboard reads them from this file while it is newer than the snapshot
    (dashboards/snapshot.py), and the next successful publish removes it. The warehouse is opened read-only
    (the caller, the run-failure sensor or `ipcity run`, takes no writer lock), so a run writing it elsewhere
    makes this raise duckdb.IOException, which the caller reports and goes on."""
    snapshot = snapshot or settings.snapshot_path(warehouse)
    target = quality_snapshot_path(snapshot)
    private_dir(target.parent)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.ConnectionException:
        # this process holds the warehouse open for writing already (`ipcity run` after its in-process run):
        # DuckDB hands out that same database, no second lock is taken
        con = duckdb.connect(str(warehouse))
    try:
        con.execute(f"ATTACH '{str(tmp).replace(chr(39), chr(39) * 2)}' AS snap (READ_WRITE)")
        published = {"quality": _tables(con, "quality")}
        published["raw"] = [t for t in PUBLISHED_RAW_TABLES if t in _tables(con, "raw")]
        for schema, tables in published.items():
            con.execute(f"CREATE SCHEMA snap.{schema}")
            for t in tables:
                con.execute(f'CREATE TABLE snap.{schema}."{t}" AS SELECT * FROM {schema}."{t}"')
        # the rejections summary is written by a step behind the raw checks: a run they stopped has none yet,
        # so it is counted here from the quarantine the run left, as that step counts it
        if "rejected_rows" in published["raw"]:
            from pipelines.quality.results import REASONS_SQL, REJECTIONS_SUMMARY_DDL

            con.execute(REJECTIONS_SUMMARY_DDL.replace("quality.", "snap.quality.", 1))
            con.execute(
                "INSERT INTO snap.quality.rejections_summary SELECT ?, * FROM (" + REASONS_SQL + ") AS reasons "
                "WHERE NOT EXISTS (SELECT 1 FROM snap.quality.rejections_summary WHERE run_id = ?)",
                [run_id, run_id],
            )
        for schema in published:
            for t in _tables_in(con, "snap", schema):
                counts[f"{schema}.{t}"] = con.execute(f'SELECT count(*) FROM snap.{schema}."{t}"').fetchall()[0][0]
        info = {
            "published_at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "run_id": run_id,
            "kind": QUALITY_SNAPSHOT_KIND,
            "schema_version": SNAPSHOT_SCHEMA_VERSION,
            "tables": counts,
        }
        con.execute("CREATE SCHEMA snap.meta")
        con.execute("CREATE TABLE snap.meta.snapshot_info (key VARCHAR, value VARCHAR)")
        con.execute(
            "INSERT INTO snap.meta.snapshot_info VALUES (?, ?), (?, ?), (?, ?), (?, ?), (?, ?)",
            [
                "schema_version",
                str(SNAPSHOT_SCHEMA_VERSION),
                "published_at",
                info["published_at"],
                "run_id",
                run_id,
                "kind",
                QUALITY_SNAPSHOT_KIND,
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
    os.replace(tighten_file(tmp), target)
    return info


def _tables_in(con: duckdb.DuckDBPyConnection, catalog: str, schema: str) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? AND table_schema = ? "
        "ORDER BY table_name",
        [catalog, schema],
    ).fetchall()
    return [r[0] for r in rows]


def publish_failed_run_quality(run_id: str, warehouse: Path | None = None) -> str | None:
    """After a run that failed (`ipcity run`, the Dagster UI's run-failure sensor): its quality results published
    alone (``publish_quality_snapshot``), so the dashboard's quality page shows them now. Returns why not, when
    they could not be (no warehouse, another run writing it), for the caller's log: a failed run stays failed for
    its own reason, and the next publication (failed or not) brings the page up to date."""
    wh = Path(warehouse) if warehouse else settings.warehouse_path()
    if not wh.exists():
        return f"no warehouse at {wh}"
    try:
        publish_quality_snapshot(wh, run_id)
    except (duckdb.Error, OSError) as exc:
        return f"quality results of run {run_id} not published: {exc}"
    return None


# ---- the published shape, written down once ---------------------------------------------------------------------------
# Every table and column (with its DuckDB type) a successful publish writes, read from a real publish of the sample
# run. The tests' hand-made snapshots are built to it (tests/dashboard_fixtures.py), so a fixture cannot drift from
# what publish writes (it lacked columns the report PDF and the comparison page read: a 500 there that no real
# snapshot has); tests/test_snapshot_schema.py holds a real publish to it, and a change to the published shape
# fails there until this file is rewritten (``write_schema_file``) and SNAPSHOT_SCHEMA_VERSION considered.
SCHEMA_FILE = Path(__file__).with_name("snapshot_schema.json")


def snapshot_schema(snapshot: Path) -> dict[str, list[list[str]]]:
    """``{"schema.table": [[column, type], ...]}`` of a snapshot file's published tables, columns in order (the
    contract header ``meta`` is the writer's own and not listed)."""
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        rows = con.execute(
            "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = current_database() AND table_schema <> 'meta' "
            "ORDER BY table_schema, table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    found: dict[str, list[list[str]]] = {}
    for schema, table, column, kind in rows:
        found.setdefault(f"{schema}.{table}", []).append([column, kind])
    return found


def published_schema() -> dict[str, list[list[str]]]:
    """What a successful publish writes (``SCHEMA_FILE``), in ``snapshot_schema``'s form."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def write_schema_file(snapshot: Path) -> Path:
    """Rewrite ``SCHEMA_FILE`` from a real publish (after a change to what is published)."""
    # one line per column: a change to the published shape reads as a one-line diff
    tables = sorted(snapshot_schema(snapshot).items())
    body = ",\n".join(
        f" {json.dumps(name)}: [\n" + ",\n".join(f"  {json.dumps(col)}" for col in cols) + "\n ]"
        for name, cols in tables
    )
    SCHEMA_FILE.write_text("{\n" + body + "\n}\n", encoding="utf-8")
    return SCHEMA_FILE
