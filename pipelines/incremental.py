"""Which years a dbt build rebuilds: the plan behind the models that are incremental by year.

The models that read every grant record (``int_patents__grant_cohorts``, ``int_patents__unit_year_source_rows``)
are incremental by partition year (dbt_project/macros/incremental_years.sql, docs/incremental.md); everything
else reads their small results and stays a full table. Before the dbt step, this module compares the raw layer
with what the last successful build read, partition by partition, and decides:

* a **full refresh** when there is no record of a successful build on this engine, when the dbt project
  (models, macros, seeds, dbt_project.yml) changed, when any table that is not yearly (cities, roster,
  population, targets, statistics, third-party reports) changed, or when ``IPCITY_DBT_FULL_REFRESH`` asks for it;
  on Spark also when a partition that was built is now empty (insert_overwrite replaces only the partitions the
  new rows carry, so an emptied year would keep its old rows);
* otherwise the **years to rebuild**: every partition year of any yearly source whose rows differ from the last
  build (new years, a re-sent or corrected old year, a reloaded partition, rows a correction moved out of an
  old year). Nothing changed: no year is rebuilt, the full tables are recomputed from the incremental ones.

The comparison uses a fingerprint of the rows themselves (count and an order-independent sum of the hash of
each row's lineage for a yearly partition, of every column for the small tables), not the ledger's account of
what happened, so whatever path changed a partition (a new file, a re-sent file, a correction of a key loaded
from another year, a reload from the UI) rebuilds its year. The fingerprints are recorded in ``ops.dbt_build_state`` only after the dbt
step succeeded; a failed build leaves the old record, so the next run rebuilds the same years again.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines import settings
from pipelines.china_time import utc_now
from pipelines.sources import SOURCES

STATE_DDL = """
CREATE TABLE IF NOT EXISTS ops.dbt_build_state (
  engine VARCHAR, item VARCHAR, fingerprint VARCHAR, built_at TIMESTAMP, run_id VARCHAR
)"""
# The environment variable that carries the years to rebuild to dbt (macros/incremental_years.sql).
REBUILD_YEARS_ENV = "IPCITY_DBT_REBUILD_YEARS"
# The models the plan serves: the state is recorded only when a step built all of them.
INCREMENTAL_MODELS = ("int_patents__grant_cohorts", "int_patents__unit_year_source_rows")
PROJECT_ITEM = "dbt_project"
_PROJECT_PARTS = ("models", "macros", "seeds")
_PROJECT_FILES = ("dbt_project.yml",)


@dataclass(frozen=True)
class BuildPlan:
    full_refresh: bool
    rebuild_years: tuple[int, ...]
    reason: str
    fingerprints: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def dbt_args(self) -> list[str]:
        """The arguments of `dbt build` that carry the plan (a full refresh); the years go in ``dbt_env``."""
        return ["--full-refresh"] if self.full_refresh else []

    def dbt_env(self) -> dict[str, str]:
        """The environment of `dbt build` that carries the years to rebuild (macros/incremental_years.sql reads
        it when a model runs). Not a dbt var: a new value of a var makes dbt re-parse the whole project."""
        if self.full_refresh:
            return {}
        return {REBUILD_YEARS_ENV: json.dumps(list(self.rebuild_years))}

    def describe(self) -> str:
        if self.full_refresh:
            return f"full refresh: {self.reason}"
        years = ", ".join(map(str, self.rebuild_years)) or "none"
        return f"incremental: years rebuilt {years} ({self.reason})"


def project_fingerprint(root: Path | None = None) -> str:
    """sha256 over the dbt project's files that shape a model's rows (names and contents)."""
    root = Path(root or settings.DBT_PROJECT_DIR)
    h = hashlib.sha256()
    files = [root / f for f in _PROJECT_FILES if (root / f).is_file()]
    for part in _PROJECT_PARTS:
        files += sorted(p for p in (root / part).rglob("*") if p.is_file())
    for p in files:
        h.update(str(p.relative_to(root)).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() "
            "AND table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def _row_hash(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    cols = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database() "
            "AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, table],
        ).fetchall()
    ]
    return "hash(" + ", ".join(f'"{c}"' for c in cols) + ")"


# A loaded row is identified by its lineage: the loader writes every row with the hash of its file, its row
# number there and the time of the load, and changes a row only by deleting it and loading it again. Hashing
# these four columns is 5x cheaper than hashing every column (0.2 s vs 1.5 s for 5.3 M grants), which matters
# because every partition of every year is fingerprinted on every run.
LINEAGE = ("_source_file", "_file_hash", "_row_number", "_ingested_at")


def partition_fingerprints(con: duckdb.DuckDBPyConnection, source) -> dict[int, str]:
    """{partition year: fingerprint} of a yearly source: row count and an order-independent sum of the hash of
    each row's lineage (a new, re-sent, corrected, moved, reloaded or removed row changes it)."""
    cols = ", ".join(LINEAGE)
    return {
        int(year): f"{n}:{s}"
        for year, n, s in con.execute(
            f"SELECT year, count(*), sum(cast(hash({cols}) AS HUGEINT)) FROM {source.table} GROUP BY year"
        ).fetchall()
    }


def raw_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """{item: fingerprint} of the raw layer and the dbt project: ``yearly:<source>:<year>`` per partition (its
    rows' lineage), ``table:<source>`` per other source (every column of every row: small tables), and
    ``dbt_project``."""
    out = {PROJECT_ITEM: project_fingerprint()}
    for source in SOURCES.values():
        schema, table = source.table.split(".")
        if not _table_exists(con, schema, table):
            continue
        if source.partitioned:
            for year, fp in partition_fingerprints(con, source).items():
                out[f"yearly:{source.name}:{year}"] = fp
        else:
            agg = f"count(*), sum(cast({_row_hash(con, schema, table)} AS HUGEINT))"
            n, s = con.execute(f"SELECT {agg} FROM {source.table}").fetchone()
            out[f"table:{source.name}"] = f"{n}:{s}"
    return out


def recorded(con: duckdb.DuckDBPyConnection, engine: str) -> dict[str, str]:
    """The fingerprints the last successful build on ``engine`` read ({} when there is none)."""
    if not _table_exists(con, "ops", "dbt_build_state"):
        return {}
    return dict(con.execute("SELECT item, fingerprint FROM ops.dbt_build_state WHERE engine = ?", [engine]).fetchall())


def plan_build(con: duckdb.DuckDBPyConnection, engine: str = "duckdb", *, force_full: bool = False) -> BuildPlan:
    """What the next dbt build on ``engine`` must rebuild (see the module docstring)."""
    now = raw_fingerprints(con)
    before = recorded(con, engine)

    def full(reason: str) -> BuildPlan:
        return BuildPlan(True, (), reason, now)

    if force_full or os.environ.get("IPCITY_DBT_FULL_REFRESH", "").strip() not in ("", "0", "false"):
        return full("asked for")
    if not before:
        return full(f"no record of a successful build on {engine}")
    if before.get(PROJECT_ITEM) != now[PROJECT_ITEM]:
        return full("the dbt project (models, macros or seeds) changed")
    for item in sorted(k for k in before.keys() | now.keys() if not k.startswith(("yearly:", PROJECT_ITEM))):
        if before.get(item) != now.get(item):
            return full(f"{item.split(':', 1)[1]} (not yearly) changed")
    changed = sorted(k for k in before.keys() | now.keys() if k.startswith("yearly:") and before.get(k) != now.get(k))
    if engine == "spark":
        emptied = [k for k in changed if k not in now]
        if emptied:
            return full(f"partition {emptied[0].split(':', 1)[1]} is now empty (Spark overwrites only non-empty ones)")
    years = tuple(sorted({int(k.rsplit(":", 1)[1]) for k in changed}))
    sources = sorted({k.split(":")[1] for k in changed})
    return BuildPlan(False, years, f"changed partitions of {', '.join(sources)}" if sources else "nothing changed", now)


def record_build(con: duckdb.DuckDBPyConnection, engine: str, plan: BuildPlan, run_id: str = "") -> None:
    """After a successful build: the fingerprints it read become the record the next plan compares with."""
    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    con.execute(STATE_DDL)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM ops.dbt_build_state WHERE engine = ?", [engine])
        now = utc_now()
        con.executemany(
            "INSERT INTO ops.dbt_build_state VALUES (?, ?, ?, ?, ?)",
            [(engine, k, v, now, run_id) for k, v in sorted(plan.fingerprints.items())],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def forget_builds(con: duckdb.DuckDBPyConnection, engine: str | None = None) -> None:
    """Drop the record (the next build is a full refresh)."""
    if _table_exists(con, "ops", "dbt_build_state"):
        if engine:
            con.execute("DELETE FROM ops.dbt_build_state WHERE engine = ?", [engine])
        else:
            con.execute("DELETE FROM ops.dbt_build_state")
