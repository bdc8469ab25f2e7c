"""The dbt steps on Apache Spark (`ipcity run --engine spark`, target `spark` in dbt_project/profiles.yml).

How a Spark run fits the pipeline, and why:
- Ingestion and its ledger stay in DuckDB (one loader, one ledger). Before a dbt step, pipelines.lake mirrors the
  raw tables into the Parquet lake, and the tables the Python steps wrote (Monte Carlo rank intervals, released
  rows) are written as Parquet under ``<spark dir>/inputs``; dbt's on-run-start hook registers all of them as
  external tables, so every model reads them through ``source()`` exactly as on DuckDB.
- dbt-spark builds every model as a Parquet table in Spark's warehouse folder (``<spark dir>/warehouse``).
- The Python evaluation steps, the alerts and publish read those marts through DuckDB views over the Parquet
  Spark wrote (:func:`attach_spark_marts`): the numbers are the ones Spark computed (no copy, no second
  build), and the Python code, the dashboard's published snapshot and the provincial extracts stay one code
  path for both engines. Publishing materialises the views into the snapshot, so the dashboard keeps reading
  one file that a later Spark run cannot change under it.

dbt-spark 1.11 forces ``spark.sql.ansi.enabled=false`` on every connection and, with ``method: session``,
re-applies it before every statement; ANSI mode is what makes Spark fail on overflow, bad casts and division
by zero like DuckDB does, so :func:`patch_dbt_spark` lets the profile's own value stand (and makes its seed loading
escape quotes). The dbt command
line for Spark therefore goes through this module (``python -m pipelines.spark_engine <dbt args>``, or the
``dbt_spark`` launcher beside it for dagster-dbt, which needs an executable).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb

from pipelines import settings

LAUNCHER = Path(__file__).with_name("dbt_spark")
# Tables a Python step writes between the dbt steps and the evaluation models read as sources.
PYTHON_STEP_INPUTS = ("marts.fct_rank_uncertainty", "releases.city_score_year")
# Schemas dbt builds tables in (staging are views; seeds land in marts).
BUILT_SCHEMAS = ("intermediate", "marts")


def patch_dbt_spark() -> None:
    """Two fixes to dbt-spark 1.11's `session` method, applied before dbt starts (idempotent).

    - ANSI mode: keep the profile's spark.sql.ansi.enabled instead of the forced ``false``.
    - Seeds: the session cursor pastes each CSV value between quotes unescaped, so a value with an apostrophe
      ("city's") breaks the insert, and an empty cell becomes the string 'None' (which ANSI mode then refuses
      to cast). Values are escaped as Spark string literals and empty cells become NULL.
    """
    from dbt.adapters.spark import connections, session

    if getattr(connections.SparkCredentials, "_ipcity_patched", False):
        return
    forced = connections.SparkCredentials.__post_init__

    def __post_init__(self) -> None:
        wanted = {str(k): str(v) for k, v in (self.server_side_parameters or {}).items()}.get("spark.sql.ansi.enabled")
        forced(self)
        if wanted is not None:
            self.server_side_parameters["spark.sql.ansi.enabled"] = wanted

    unsafe = session.SessionConnectionWrapper._fix_binding

    def _fix_binding(cls, value):
        if value is None:
            return "NULL"
        if isinstance(value, str):
            return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return unsafe(value)

    connections.SparkCredentials.__post_init__ = __post_init__
    session.SessionConnectionWrapper._fix_binding = classmethod(_fix_binding)
    connections.SparkCredentials._ipcity_patched = True


def java_available() -> bool:
    return shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))


def spark_env(warehouse: Path | None = None, external: dict[str, Path] | None = None) -> dict[str, str]:
    """Environment variables the `spark` target reads (absolute paths: dbt runs from dbt_project/)."""
    data = Path(warehouse).resolve().parent if warehouse else settings.data_dir()
    env = {
        "IPCITY_LAKE": os.environ.get("IPCITY_LAKE") and str(settings.lake_dir()) or str(data / "lake"),
        "IPCITY_SPARK_DIR": os.environ.get("IPCITY_SPARK_DIR") and str(settings.spark_dir()) or str(data / "spark"),
        "IPCITY_SPARK_EXTERNAL": ";".join(f"{k}={v}" for k, v in (external or {}).items()),
        "PYSPARK_PYTHON": sys.executable,
    }
    return env


def export_python_inputs(con: duckdb.DuckDBPyConnection, spark_dir: Path) -> dict[str, Path]:
    """Write the Python steps' tables Spark reads as sources; returns {schema.table: folder} of those present."""
    out: dict[str, Path] = {}
    for name in PYTHON_STEP_INPUTS:
        schema, table = name.split(".")
        present = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() "
            "AND table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
        folder = spark_dir / "inputs" / schema / table
        shutil.rmtree(folder, ignore_errors=True)
        if not present:
            continue
        folder.mkdir(parents=True)
        con.execute(f"COPY (SELECT * FROM {schema}.{table}) TO '{folder / 'data_0.parquet'}' (FORMAT parquet)")
        out[name] = folder
    return out


def spark_table_dirs(spark_dir: Path) -> dict[str, Path]:
    """{schema.table: folder} of every table dbt built on Spark (managed Parquet tables)."""
    out: dict[str, Path] = {}
    root = spark_dir / "warehouse"
    for schema in BUILT_SCHEMAS:
        base = root / f"{schema}.db"
        if base.is_dir():
            for d in sorted(base.iterdir()):
                if d.is_dir() and not d.name.startswith((".", "_")):
                    out[f"{schema}.{d.name}"] = d
    return out


def attach_spark_marts(con: duckdb.DuckDBPyConnection, spark_dir: Path, names: list[str] | None = None) -> list[str]:
    """DuckDB views over the Parquet tables Spark built, in place of DuckDB's own tables of the same names.

    ``names``: only these (``schema.table``), e.g. the models of the dbt step that just ran."""
    attached = []
    for name, folder in spark_table_dirs(spark_dir).items():
        if names is not None and name not in names:
            continue
        schema, table = name.split(".")
        # a table partitioned by year (the models incremental by year, macros/incremental_years.sql) keeps its
        # files in one folder per partition value (partition_year=2023/), read back as a Hive layout
        partitioned = not any(folder.glob("*.parquet")) and any(folder.glob("*=*/*.parquet"))
        if not partitioned and not any(folder.glob("*.parquet")):
            continue
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        kind = con.execute(
            "SELECT table_type FROM information_schema.tables WHERE table_catalog = current_database() "
            "AND table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
        if kind and kind[0][0] != "VIEW":
            con.execute(f'DROP TABLE {schema}."{table}"')
        glob = str(folder / ("*=*/*.parquet" if partitioned else "*.parquet")).replace("'", "''")
        source = f"read_parquet('{glob}', hive_partitioning = true)" if partitioned else f"read_parquet('{glob}')"
        # Spark's timestamps are UTC instants; DuckDB's marts hold them as local timestamps of UTC.
        cols = [
            f'timezone(\'UTC\', "{c}") AS "{c}"' if t.startswith("TIMESTAMP WITH TIME ZONE") else f'"{c}"'
            for c, t, *_ in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        ]
        con.execute(f'CREATE OR REPLACE VIEW {schema}."{table}" AS SELECT {", ".join(cols)} FROM {source}')
        attached.append(name)
    return attached


def build_on_spark(context, dbt, warehouse, extra_args: list[str] | None = None) -> Iterator:
    """The body of a dbt asset step on the `spark` target: lake and Python-step inputs out, dbt build on Spark
    (data tests as asset checks, as on DuckDB; unit tests test the SQL and run on DuckDB in CI), then DuckDB
    views over what Spark built for the steps after it. ``extra_args``: the build plan's (--full-refresh or the
    years to rebuild, pipelines/incremental.py)."""
    import dagster as dg

    from pipelines.assets.dbt import IpcityDbtCli, record_test_results
    from pipelines.lake import export_raw

    wh = Path(warehouse.file)
    env = spark_env(wh)
    lake, spark_dir = Path(env["IPCITY_LAKE"]), Path(env["IPCITY_SPARK_DIR"])
    with warehouse.connect() as con:
        written = export_raw(con, lake)
        external = export_python_inputs(con, spark_dir)
    context.log.info(f"lake {lake}: {written}; Python-step inputs for Spark: {sorted(external)}")
    os.environ.update(spark_env(wh, external))
    from pipelines.supervised import supervisor_environment

    os.environ.update(supervisor_environment())  # the launcher's interpreter and import path; dies with the run
    # The project's resource: no in-process adapter, and the launcher's version is this environment's dbt-core
    # (no `dbt --version` process, no call to PyPI).
    on_spark = IpcityDbtCli(
        project_dir=dbt.project_dir,
        profiles_dir=dbt.profiles_dir,
        dbt_executable=str(LAUNCHER),
        target="spark",
    )
    # Models that are ephemeral on DuckDB (the manifest the assets come from) are tables on Spark
    # (ephemeral_except_on_spark): they are not assets, so their results are not outputs of this step.
    outputs = set(context.selected_output_names)
    invocation = on_spark.cli(["build", *settings.DBT_PRODUCTION_EXCLUDE, *(extra_args or [])], context=context)
    # the tests' results in the quality store, as on DuckDB, passed or failed (not on an interrupted run, which must
    # not wait for dbt to exit), with a failed test's failing rows: its compiled query (the project's SQL is
    # portable) runs on DuckDB over the views of what Spark built, through the same sample query as on DuckDB
    # (quality.dbt_results.failing_rows_sample). Before, a Spark run recorded its failures without any row.
    try:
        for event in invocation.stream():
            if isinstance(event, dg.Output) and event.output_name not in outputs:
                continue
            yield event
    except Exception:
        try:
            invocation.process.wait()  # dbt has exited: Spark's tables are written whole
            with warehouse.connect() as con:
                attach_spark_marts(con, spark_dir)
        except Exception as exc:  # noqa: BLE001 - the step fails for dbt's reason; only the rows are missing
            context.log.warning(f"Spark's tables not readable for the failing rows: {exc!r}")
        record_test_results(invocation, warehouse, context.run.run_id, context.log)
        raise
    invocation.process.wait()
    with warehouse.connect() as con:
        attached = attach_spark_marts(con, spark_dir)
    record_test_results(invocation, warehouse, context.run.run_id, context.log)
    context.log.info(f"{len(attached)} Spark tables readable from DuckDB as views over {spark_dir / 'warehouse'}")


def main(argv: list[str] | None = None) -> None:
    """``python -m pipelines.spark_engine <dbt arguments>``: the dbt command line with ANSI mode honoured."""
    patch_dbt_spark()
    from dbt.cli.main import cli

    cli.main(args=list(sys.argv[1:] if argv is None else argv), prog_name="dbt")


if __name__ == "__main__":
    main()
