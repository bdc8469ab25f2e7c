"""Frames computed for suites that judge aggregates rather than rows: patent grants per city and year.

A city whose grants jump or fall by more than the configured factor against the previous year is flagged
for review (suite ``raw.patent_grants.city_counts``, severity warn). Grants count for the record's
prefecture-level unit (``code[:4] || '00'``) and, for a county-level unit that is itself a known unit,
also under its own code — the same attribution the marts use.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from pipelines.ingest.load import valid_region_codes  # noqa: F401 - the loader's rule, re-exported
from pipelines.quality.suites import load_config


def _units(region: pl.Expr, unit_codes: frozenset[str] | None) -> list[pl.Expr]:
    prefecture = region.str.slice(0, 4) + "00"
    own = region if unit_codes is None else pl.when(region.is_in(list(unit_codes))).then(region)
    return [prefecture, own]


def grants_per_unit(grants: pl.DataFrame, unit_codes: Iterable[str] | None = None) -> pl.DataFrame:
    """unit_code, year, grants from patent-grant rows (needs columns region_code and grant_date or year; with a
    column ``n_records`` each row stands for that many records: rows already counted per code in SQL)."""
    codes = None if unit_codes is None else frozenset(str(c) for c in unit_codes)
    year = pl.col("year") if "year" in grants.columns else pl.col("grant_date").dt.year()
    region = pl.col("region_code").cast(pl.String)
    weight = pl.col("n_records").cast(pl.Int64) if "n_records" in grants.columns else pl.lit(1, pl.Int64)
    prefecture, own = _units(region, codes)
    frame = grants.select(
        year.cast(pl.Int64).alias("year"), prefecture.alias("pref"), own.alias("own"), weight.alias("n")
    )
    long = pl.concat(
        [
            frame.select("year", pl.col("pref").alias("unit_code"), "n"),
            # a county-level unit counts its own records too; not twice when it is its own prefecture
            frame.filter(pl.col("own").is_not_null() & (pl.col("own") != pl.col("pref"))).select(
                "year", pl.col("own").alias("unit_code"), "n"
            ),
        ]
    )
    return long.group_by("unit_code", "year").agg(pl.col("n").sum().cast(pl.Int64).alias("grants"))


def patent_grant_city_counts(
    current: pl.DataFrame,
    previous: pl.DataFrame,
    *,
    unit_codes: Iterable[str] | None = None,
    min_base_count: int | None = None,
) -> pl.DataFrame:
    """Per-unit grants of a year against the previous year, the input of suite raw.patent_grants.city_counts.

    Columns: unit_code, year, grants, prev_grants, change_factor. change_factor is the larger count over
    the smaller (so a fall counts like a rise; a unit without grants in one year counts as 1 there) and is
    null when both years stay below ``min_base_count`` (config patent_grant_city_counts.min_base_count).
    """
    if min_base_count is None:
        min_base_count = int(load_config()["patent_grant_city_counts"]["min_base_count"])
    cur = grants_per_unit(current, unit_codes)
    prev = grants_per_unit(previous, unit_codes)
    years = cur["year"].unique().to_list()
    if len(years) > 1:
        raise ValueError(f"current grants span several years: {sorted(years)}")
    year = years[0] if years else (prev["year"].max() + 1 if prev.height else None)
    if prev.height == 0:
        # No previous year loaded (the first year of history): there is nothing to compare against.
        return (
            cur.select("unit_code", pl.lit(year, pl.Int64).alias("year"), "grants")
            .with_columns(pl.lit(None, pl.Int64).alias("prev_grants"), pl.lit(None, pl.Float64).alias("change_factor"))
            .sort("unit_code", nulls_last=True)
        )
    joined = cur.select("unit_code", "grants").join(
        prev.select("unit_code", pl.col("grants").alias("prev_grants")), on="unit_code", how="full", coalesce=True
    )
    hi = pl.max_horizontal("grants", "prev_grants")
    lo = pl.min_horizontal("grants", "prev_grants")
    return (
        joined.with_columns(pl.col("grants").fill_null(0), pl.col("prev_grants").fill_null(0))
        .with_columns(
            pl.lit(year, pl.Int64).alias("year"),
            pl.when(hi >= min_base_count)
            .then(hi.cast(pl.Float64) / pl.max_horizontal(lo, pl.lit(1)).cast(pl.Float64))
            .otherwise(None)
            .alias("change_factor"),
        )
        .select("unit_code", "year", "grants", "prev_grants", "change_factor")
        .sort("unit_code", nulls_last=True)
    )


def patent_grant_city_counts_from_db(con, year: int, *, min_base_count: int | None = None) -> pl.DataFrame:
    """The same from raw.patent_grants in DuckDB, for partition ``year`` against ``year - 1``."""
    codes = {r[0] for r in con.execute("SELECT city_code FROM raw.cities").fetchall()}
    from pipelines.quality.results import query_pl

    # counted per region code in DuckDB: a national year is millions of records, never a Python frame
    sql = (
        "SELECT region_code, year, count(*) AS n_records FROM raw.patent_grants WHERE year = ? "
        "GROUP BY region_code, year"
    )
    cur, prev = query_pl(con, sql, [int(year)]), query_pl(con, sql, [int(year) - 1])
    out = patent_grant_city_counts(cur, prev, unit_codes=codes, min_base_count=min_base_count)
    return out.with_columns(pl.lit(int(year), pl.Int64).alias("year"))
