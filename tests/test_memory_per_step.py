"""Memory bounded by design (issue 19): every pipeline step's DuckDB connection carries its memory limit and spill
folder, and the grants' per-city counts are counted in DuckDB, never pulled into a Python frame of records."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from pipelines import settings
from pipelines.resources import Warehouse


def test_each_step_gets_a_share_of_ram_within_bounds(monkeypatch):
    monkeypatch.delenv("IPCITY_DUCKDB_MEMORY", raising=False)
    for step in settings.DUCKDB_STEPS:
        monkeypatch.delenv(f"IPCITY_DUCKDB_MEMORY_{step.upper()}", raising=False)
    monkeypatch.setattr(settings, "machine_ram_mb", lambda: 24 * 1024)
    assert settings.duckdb_memory_limit("ingest") == "2048MB"
    assert settings.duckdb_memory_limit("dbt") == "2048MB"
    assert settings.duckdb_memory_limit("checks") == "1024MB"
    monkeypatch.setattr(settings, "machine_ram_mb", lambda: 4 * 1024)
    assert settings.duckdb_memory_limit("checks") == "512MB"  # the floor
    monkeypatch.setenv("IPCITY_DUCKDB_MEMORY", "3GB")
    monkeypatch.setenv("IPCITY_DUCKDB_MEMORY_PUBLISH", "700MB")
    assert settings.duckdb_memory_limit("ingest") == "3GB"
    assert settings.duckdb_memory_limit("publish") == "700MB"
    with pytest.raises(ValueError, match="unknown pipeline step"):
        settings.duckdb_memory_limit("nonsense")


def test_the_warehouse_connection_applies_the_steps_limit_and_spill_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("IPCITY_DUCKDB_MEMORY_CHECKS", "600MB")
    monkeypatch.setenv("IPCITY_DUCKDB_TEMP", str(tmp_path / "spill"))
    wh = Warehouse(database=str(tmp_path / "w.duckdb"))
    with wh.get_connection(step="checks") as con:
        limit, temp = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()
    # DuckDB reports the limit in its own units (600 MB = 572.2 MiB)
    assert limit.replace(" ", "") in ("572.2MiB", "600.0MB"), limit
    assert temp == str(tmp_path / "spill" / "checks")
    assert (tmp_path / "spill" / "checks").is_dir()


def test_grant_city_counts_from_the_database_equal_the_record_frame(tmp_path):
    from pipelines.quality.derived import patent_grant_city_counts, patent_grant_city_counts_from_db

    records = pl.DataFrame(
        {
            "region_code": ["110101", "110101", "110102", "310101", "441900", "441900", "110101", None],
            "year": [2020, 2020, 2020, 2020, 2020, 2019, 2019, 2020],
        }
    )
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        con.execute("CREATE SCHEMA raw")
        con.execute("CREATE TABLE raw.cities AS SELECT * FROM (VALUES ('110100'), ('441900'), ('310100')) t(city_code)")
        con.register("records", records.to_arrow())
        con.execute("CREATE TABLE raw.patent_grants AS SELECT region_code, year, DATE '2020-01-01' AS d FROM records")
        got = patent_grant_city_counts_from_db(con, 2020, min_base_count=1)
    finally:
        con.close()
    codes = {"110100", "441900", "310100"}
    want = patent_grant_city_counts(
        records.filter(pl.col("year") == 2020),
        records.filter(pl.col("year") == 2019),
        unit_codes=codes,
        min_base_count=1,
    ).with_columns(pl.lit(2020, pl.Int64).alias("year"))
    assert got.sort("unit_code", nulls_last=True).equals(want.sort("unit_code", nulls_last=True))


def test_dbt_keeps_building_after_a_model_spilled(tmp_path, monkeypatch):
    """The project's own dbt profile, a model that spills past its memory limit, then models after it (new
    cursors). dbt-duckdb re-applies a profile's `settings` with SET on every cursor, and DuckDB refuses any SET
    temp_directory once it has spilled: with the spill folder there, every model after the first spill failed
    (found on ten national years). The profile gives memory and spill folder as config_options, once."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from pipelines.settings import DBT_PROJECT_DIR

    proj = tmp_path / "spill_project"
    (proj / "models").mkdir(parents=True)
    (proj / "dbt_project.yml").write_text(
        "name: spill_check\nversion: '1.0'\nconfig-version: 2\nprofile: ipcity\nmodel-paths: [models]\n"
        "models:\n  spill_check:\n    +materialized: table\n",
        encoding="utf-8",
    )
    # a sort far larger than the limit below: DuckDB must write it to the spill folder
    (proj / "models" / "sorted_rows.sql").write_text(
        "select md5(range::string) as s, range as i, random() as r from range(8000000) order by s", encoding="utf-8"
    )
    (proj / "models" / "settings_seen.sql").write_text(
        "select current_setting('memory_limit') as memory_limit, current_setting('temp_directory') as temp_dir "
        "from {{ ref('sorted_rows') }} limit 1",
        encoding="utf-8",
    )
    for name in ("after_one", "after_two"):
        (proj / "models" / f"{name}.sql").write_text(
            "select count(*) as n from {{ ref('sorted_rows') }}", encoding="utf-8"
        )
    warehouse, spill = tmp_path / "w.duckdb", tmp_path / "spill"
    env = {
        **os.environ,
        "IPCITY_WAREHOUSE": str(warehouse),
        "IPCITY_DBT_MEMORY_LIMIT": "200MB",
        "IPCITY_DBT_TEMP_DIR": str(spill),
    }
    res = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "run",
            "--project-dir",
            str(proj),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=DBT_PROJECT_DIR,
    )
    assert res.returncode == 0, res.stdout[-3000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select n from main.after_two").fetchone()[0] == 8000000
        # the limit and the spill folder were in force for the models (so the sort above did spill: with the
        # same data and limit given as `settings`, this run fails with DuckDB's "Cannot switch temporary
        # directory" error; DuckDB removes its spill files on close)
        limit, temp = con.execute("select memory_limit, temp_dir from main.settings_seen").fetchone()
    assert limit.startswith(("190", "200")) and Path(temp) == spill
