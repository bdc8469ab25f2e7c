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
