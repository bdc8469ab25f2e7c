"""The real province panel loads through the CNIPA-style region-year statistics path with values unchanged."""

from __future__ import annotations

import duckdb
import polars as pl

from pipelines.ingest.load import ingest_file, landing_files
from pipelines.settings import REFERENCE_DIR
from pipelines.sources import SOURCES

COLUMNS = [
    "grants_invention",
    "grants_utility_model",
    "grants_design",
    "grants_total",
    "in_force_invention",
    "in_force_utility_model",
    "in_force_design",
    "in_force_total",
]


def test_real_province_panel_round_trips_through_patent_stats(tmp_path):
    from pipelines.generate import generate

    landing = tmp_path / "landing"
    generate(landing, seed=1, scale=0.0005, first_year=2023, last_year=2023)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ingest_file(con, SOURCES["cities"], landing_files(landing, SOURCES["cities"])[0])
    # the real province panel (the generator also writes full-volume city statistics beside it)
    (stats_file,) = [f for f in landing_files(landing, SOURCES["patent_stats"]) if "province" in f.name]
    r = ingest_file(con, SOURCES["patent_stats"], stats_file)
    assert r.rows_rejected == 0 and r.rows_read == r.rows_loaded

    loaded = con.sql(f"SELECT region_code, year, {', '.join(COLUMNS)} FROM raw.patent_stats").pl()
    real = (
        pl.read_csv(REFERENCE_DIR / "province_ip_socioeconomic_panel_2005_2024.csv", infer_schema_length=0)
        .filter(
            (pl.col("province_code") != "000000")
            & pl.col("grants_total").is_not_null()
            & (pl.col("grants_total") != "")
        )
        .select(
            pl.col("province_code").alias("region_code"),
            pl.col("year").cast(pl.Int64),
            *[pl.col(c).cast(pl.Float64).cast(pl.Int64) for c in COLUMNS],
        )
        .unique()
    )
    assert real.height == 31 * 14  # 31 provinces, 2010-2023
    joined = real.join(loaded, on=["region_code", "year"], how="full", suffix="_loaded", coalesce=True)
    assert joined.height == real.height == loaded.height
    for c in COLUMNS:
        assert joined[c].to_list() == joined[f"{c}_loaded"].to_list(), c
    # The encoding path is the office's: a GBK file with Chinese headers.
    assert (
        con.execute("SELECT encoding FROM raw.ingested_files WHERE source = 'patent_stats'").fetchall()[0][0] == "gbk"
    )
