"""Engine parity: the one dbt project built on DuckDB and on Apache Spark gives the same marts, value by value.

Path: sample data (seed 42, the smallest sample scale) -> the real loader -> the DuckDB warehouse; DuckDB: `dbt build`
(models and seeds) in the warehouse; Spark: pipelines.lake writes the raw layer as Parquet, then ONE in-process
dbt-spark invocation (`method: session`, local[2], ANSI on) builds every model from it. Every table in schema marts
is compared by pipelines.engine_parity (floats to 1e-9, everything else exactly). The same Spark session then
rebuilds one mart from a copy of the project whose Spark-only dispatch macro was changed (an approximate
percentile): the check must fail and name that table, a key and the column.

Needs Java: skipped where it is absent outside CI; in CI (CI=true) a missing Java fails, since .ci/run installs
openjdk-17-jre-headless.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest
from dbt_helpers import dbt
from skip_policy import in_ci

from pipelines.engine_parity import compare_marts
from pipelines.settings import DBT_PROJECT_DIR
from pipelines.sources import SOURCES

SEED, SCALE = 42, 0.005  # the sample of tests/test_dbt_marts.py
MUTATED_MODEL = "fct_target_ambition"


def _need_java() -> None:
    from pipelines.spark_engine import java_available

    if not java_available():
        if in_ci():
            pytest.fail("Java is missing in CI: .ci/run installs openjdk-17-jre-headless for the Spark tests")
        pytest.skip("needs Java 17/21 for Spark (apt-get install openjdk-17-jre-headless)")


def _load_raw(warehouse: Path, landing: Path) -> None:
    from pipelines.ingest.load import ingest_file, landing_files

    con = duckdb.connect(str(warehouse))
    try:
        for source in SOURCES.values():
            for path in landing_files(landing, source):
                ingest_file(con, source, path)
    finally:
        con.close()


def _spark_dbt(args: list[str], project: Path, work: Path) -> None:
    from dbt.cli.main import dbtRunner

    from pipelines.spark_engine import patch_dbt_spark

    patch_dbt_spark()
    res = dbtRunner().invoke(
        [
            *args,
            "--target",
            "spark",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
            "--quiet",
        ]
    )
    if not res.success:
        failed = [f"{r.node.unique_id}: {r.status} {r.message}" for r in (res.result or []) if r.status != "success"]
        raise AssertionError(f"dbt {' '.join(args)} on Spark failed: {res.exception}\n" + "\n".join(failed))


def _mutated_project(root: Path) -> Path:
    """A copy of the dbt project whose Spark quantile is approximate: a change on one engine only."""
    copy = root / "dbt_project_mutated"
    shutil.copytree(DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    macro = copy / "macros" / "quantile.sql"
    text = macro.read_text(encoding="utf-8")
    exact = "percentile({{ expr }}, {{ q }})"
    assert exact in text, "the Spark quantile macro changed: update this test's mutation"
    macro.write_text(text.replace(exact, "percentile_approx({{ expr }}, {{ q }}, 10)"), encoding="utf-8")
    return copy


@pytest.fixture(scope="module")
def parity(tmp_path_factory) -> dict:
    """Both builds, then the comparison of the real project and of the one-engine mutation."""
    _need_java()
    from pipelines.generate import generate
    from pipelines.lake import export_raw
    from pipelines.spark_engine import spark_table_dirs

    root = tmp_path_factory.mktemp("engine_parity")
    generate(root / "landing", seed=SEED, scale=SCALE)
    raw = root / "ingested.duckdb"
    _load_raw(raw, root / "landing")

    duck = root / "duck" / "warehouse.duckdb"
    duck.parent.mkdir()
    shutil.copy(raw, duck)
    statuses = dbt(
        ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"], duck, duck.parent
    )
    failed = {k: v for k, v in statuses.items() if k != "__output__" and v not in ("success", "pass", "no-op")}
    assert not failed, f"dbt build on DuckDB failed: {failed}\n{statuses['__output__']}"
    manifest = duck.parent / "target" / "manifest.json"

    lake, spark_dir = root / "lake", root / "spark"
    con = duckdb.connect(str(raw))
    try:
        export_raw(con, lake)
    finally:
        con.close()
    env = {
        "IPCITY_WAREHOUSE": str(raw),
        "IPCITY_LAKE": str(lake),
        "IPCITY_SPARK_DIR": str(spark_dir),
        "IPCITY_SPARK_EXTERNAL": "",
        # a small sample: compiling whole-stage code costs more than it saves
        "IPCITY_SPARK_WHOLESTAGE_CODEGEN": "false",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        _spark_dbt(
            ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"],
            DBT_PROJECT_DIR,
            root / "spark_run",
        )
        clean = compare_marts(duck, spark_table_dirs(spark_dir), manifest)
        # the same Spark session rebuilds one mart from the mutated project
        _spark_dbt(["run", "--select", MUTATED_MODEL], _mutated_project(root), root / "spark_mutated")
        mutated = compare_marts(duck, spark_table_dirs(spark_dir), manifest)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is not None:
            active.stop()
    with duckdb.connect(str(duck), read_only=True) as c:
        marts = {
            r[0]: c.execute(f'SELECT count(*) FROM marts."{r[0]}"').fetchone()[0]
            for r in c.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' ORDER BY 1"
            ).fetchall()
        }
    return {"clean": clean, "mutated": mutated, "marts": marts, "spark": spark_table_dirs(spark_dir)}


def test_every_mart_is_identical_on_duckdb_and_spark(parity):
    marts = parity["marts"]
    # every mart was built on both engines and holds rows (an empty pair would compare equal trivially)
    for name in ("fct_city_score_year", "fct_evaluation_year", "fct_evaluation_cycle", "fct_province_rollup"):
        assert marts.get(name), f"marts.{name} is missing or empty on DuckDB"
    assert {f"marts.{t}" for t in marts} <= set(parity["spark"]), "a mart was not built on Spark"
    diffs = parity["clean"]
    assert not diffs, f"{len(diffs)} difference(s) between DuckDB and Spark:\n" + "\n".join(map(str, diffs[:40]))


def test_parity_check_fails_when_one_engine_changes_a_model(parity):
    diffs = parity["mutated"]
    assert diffs, "changing a model on Spark only went unnoticed"
    assert {d.table for d in diffs} == {f"marts.{MUTATED_MODEL}"}
    d = diffs[0]
    # the failure names the table, the row's key and the column, with both values
    # (unit_code, plan_id, indicator_code); the peers' 90th percentile and what is judged against it
    assert d.key.count("|") == 2 and not d.column.startswith("("), str(d)
    assert "peer_p90_growth" in {x.column for x in diffs}
    assert d.duckdb != d.spark
    assert str(d).startswith(f"marts.{MUTATED_MODEL} [{d.key}] {d.column}: duckdb=")
