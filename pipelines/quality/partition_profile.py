"""What the loader cannot see, per yearly partition: aggregates computed in DuckDB, validated by GX.

The loader judges every row against the contract as it loads it (pipelines/ingest/contract_sql.py); re-running
those row rules over a frame costs more than the load itself. What a single row cannot show is checked here,
over every row of every partition of the run, in one SQL aggregate per source:

* the partition's row count against the previous year's (within `row_count.max_change_factor`, warn);
* nulls in required columns, keys repeated within the partition, rows outside their partition year, dates
  in the future, values outside an enumeration, unknown region codes, numbers outside the contract's range and
  texts longer than it allows (error: 0 allowed — a row that got past the loader, or was written by something
  else, blocks the run);
* the latest date against the year's end (`freshness.<source>.max_lag_days`, warn);
* each enumeration's distribution against the previous year (`profile.max_share_shift`, warn);
* an optional column mostly filled last year (`profile.max_null_shift`) and empty this year (warn).

The result is a small frame — one row per partition and measure, with its bounds and severity — that GX
validates through its pandas data source (suite expectations/raw.partition_profile.json): the blocking
semantics and the quality report are those of every other suite.
"""

from __future__ import annotations

import math
from datetime import date

import duckdb
import polars as pl

from pipelines.sources import Source

PROFILE_SUITE = "raw.partition_profile"
SCHEMA = {
    "asset": pl.Utf8,
    "year": pl.Int64,
    "check": pl.Utf8,
    "column": pl.Utf8,
    "value": pl.Float64,
    "low": pl.Float64,
    "high": pl.Float64,
    "severity": pl.Utf8,
}


def _lit(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def partition_profile(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    years: list[int],
    *,
    valid_codes,
    today: date | None = None,
    config: dict | None = None,
) -> pl.DataFrame:
    """One row per (year, measure): value, bounds and severity, plus error_ok / warn_ok for the suite."""
    from pipelines.quality.suites import load_config

    config = config or load_config()
    today = today or date.today()
    t, pd_col = source.table, source.partition_date
    years = sorted({int(y) for y in years})
    wanted = sorted(set(years) | {y - 1 for y in years})
    in_years = ", ".join(str(y) for y in wanted)
    required = [c for c in source.columns if c.required]
    optional = [c for c in source.columns if not c.required]
    enums = [c for c in source.columns if c.allowed]
    regions = [c for c in source.columns if c.region_code] if valid_codes is not None else []
    ranged = [c for c in source.columns if c.min_value is not None or c.max_value is not None]
    bounded_texts = [c for c in source.columns if c.max_length]
    aggs = [
        "count(*) AS rows",
        f"max({pd_col}) AS latest",
        f"count(*) FILTER (WHERE year({pd_col}) <> year) AS outside",
    ]
    aggs += [f"count(*) FILTER (WHERE {c.name} IS NULL) AS null__{c.name}" for c in required + optional]
    aggs += [f"count(*) FILTER (WHERE {d} > DATE {_lit(today.isoformat())}) AS future__{d}" for d in source.no_future]
    for c in ranged:
        outside = [f"{c.name} < {float(c.min_value)!r}"] if c.min_value is not None else []
        outside += [f"{c.name} > {float(c.max_value)!r}"] if c.max_value is not None else []
        aggs.append(f"count(*) FILTER (WHERE {' OR '.join(outside)}) AS range__{c.name}")
    # length() counts characters, as the row suite's expect_column_value_lengths_to_be_between does
    aggs += [f"count(*) FILTER (WHERE length({c.name}) > {int(c.max_length)}) AS long__{c.name}" for c in bounded_texts]
    if regions:
        con.register("__profile_codes", pl.DataFrame({"code": sorted(valid_codes)}).to_arrow())
    try:
        by_year = con.sql(f"SELECT year, {', '.join(aggs)} FROM {t} WHERE year IN ({in_years}) GROUP BY year").pl()
        key = ", ".join(source.key)
        dups = dict(
            con.execute(
                f"SELECT year, count(*) FROM (SELECT year, {key} FROM {t} WHERE year IN ({', '.join(map(str, years))}) "
                f"GROUP BY ALL HAVING count(*) > 1) GROUP BY year"
            ).fetchall()
        )
        # Enumerations and region codes are judged per distinct value, weighted by its rows: the same counts as
        # the per-row predicate, but the predicate (an IN list, a pattern and a semi-join against the region
        # codes) runs on a few thousand values instead of every row (national grants: 0.3-0.45 s of the
        # profile's 1 s aggregate, bench/RESULTS.md "the checks of a national year").
        shares, unknown = {}, {}
        for c in enums:
            allowed = ", ".join(_lit(a) for a in c.allowed)
            for y, v, n, bad in con.execute(
                f"SELECT year, {c.name}, n, {c.name} IS NOT NULL AND {c.name} NOT IN ({allowed}) "
                f"FROM (SELECT year, {c.name}, count(*) AS n FROM {t} WHERE year IN ({in_years}) GROUP BY ALL)"
            ).fetchall():
                shares[(c.name, y, v)] = n
                unknown[(c.name, y)] = unknown.get((c.name, y), 0) + (n if bad else 0)
        for c in regions:
            for y, n in con.execute(
                f"SELECT year, sum(n) FILTER (WHERE {c.name} IS NOT NULL AND NOT ("
                f"regexp_full_match({c.name}, '[0-9]{{6}}') AND ({c.name} IN (SELECT code FROM __profile_codes) OR "
                f"left({c.name}, 4) || '00' IN (SELECT code FROM __profile_codes)))) "
                f"FROM (SELECT year, {c.name}, count(*) AS n FROM {t} WHERE year IN ({in_years}) GROUP BY ALL) "
                "GROUP BY year"
            ).fetchall():
                unknown[(c.name, y)] = int(n or 0)
    finally:
        if regions:
            con.unregister("__profile_codes")
    stats = {r["year"]: r for r in by_year.iter_rows(named=True)}
    factor = float(config["row_count"]["max_change_factor"])
    prof = config.get("profile") or {}
    max_shift, max_null_shift = float(prof.get("max_share_shift", 0.25)), float(prof.get("max_null_shift", 0.5))
    min_rows = int(prof.get("min_rows_for_shares", 200))
    lag = (config.get("freshness") or {}).get(source.name, {}).get("max_lag_days")
    rows: list[dict] = []

    def add(y, check, column, value, low, high, severity):
        rows.append(
            {
                "asset": t,
                "year": y,
                "check": check,
                "column": column,
                "value": None if value is None else float(value),
                "low": None if low is None else float(low),
                "high": None if high is None else float(high),
                "severity": severity,
            }
        )

    for y in years:
        s, p = stats.get(y), stats.get(y - 1)
        if s is None:
            continue
        n = s["rows"]
        if p and p["rows"]:
            add(
                y,
                "rows_vs_previous_year",
                None,
                n,
                math.floor(p["rows"] / factor),
                math.ceil(p["rows"] * factor),
                "warn",
            )
        else:
            add(y, "rows", None, n, 1, None, "warn")
        for c in required:
            add(y, "nulls_in_required_column", c.name, s[f"null__{c.name}"], None, 0, "error")
        for c in optional:
            # an optional column that was mostly filled last year and is empty now: a dropped export column
            if p and p["rows"] and p[f"null__{c.name}"] / p["rows"] < 1 - max_null_shift:
                add(y, "optional_column_emptied", c.name, s[f"null__{c.name}"] / n, None, 0.999999, "warn")
        add(y, "duplicate_keys", ",".join(source.key), dups.get(y, 0), None, 0, "error")
        add(y, "rows_outside_partition_year", pd_col, s["outside"], None, 0, "error")
        for d in source.no_future:
            add(y, "dates_in_future", d, s[f"future__{d}"], None, 0, "error")
        for c in enums:
            add(y, "values_outside_enumeration", c.name, unknown.get((c.name, y), 0), None, 0, "error")
            # shares among the filled cells, judged only on partitions big enough for a share to mean something
            filled = sum(shares.get((c.name, y, v), 0) for v in c.allowed)
            filled_prev = sum(shares.get((c.name, y - 1, v), 0) for v in c.allowed)
            if filled >= min_rows and filled_prev >= min_rows:
                for v in c.allowed:
                    cur, prev = shares.get((c.name, y, v), 0) / filled, shares.get((c.name, y - 1, v), 0) / filled_prev
                    add(y, "share_shift", f"{c.name}={v}", cur, prev - max_shift, prev + max_shift, "warn")
        for c in regions:
            add(y, "unknown_region_codes", c.name, unknown.get((c.name, y), 0), None, 0, "error")
        for c in ranged:
            add(y, "values_outside_range", c.name, s[f"range__{c.name}"], None, 0, "error")
        for c in bounded_texts:
            add(y, "texts_longer_than_allowed", c.name, s[f"long__{c.name}"], None, 0, "error")
        if lag is not None and s["latest"] is not None and date(y, 12, 31) <= today:
            end = date(y, 12, 31)
            add(y, "days_from_latest_to_year_end", pd_col, (end - s["latest"]).days, None, lag, "warn")
    frame = pl.DataFrame(rows, schema=SCHEMA)
    within = (pl.col("low").is_null() | (pl.col("value") >= pl.col("low"))) & (
        pl.col("high").is_null() | (pl.col("value") <= pl.col("high"))
    )
    return frame.with_columns(
        ((pl.col("severity") != "error") | within.fill_null(False)).alias("error_ok"),
        ((pl.col("severity") != "warn") | within.fill_null(False)).alias("warn_ok"),
    )


def run_sample_frame(con: duckdb.DuckDBPyConnection, source: Source, years: list[int], limit: int, seed: int):
    """The run's partitions as one frame for the row-level suite: all rows, or a repeatable sample of `limit`."""
    in_years = ", ".join(str(int(y)) for y in years)
    n = con.execute(f"SELECT count(*) FROM {source.table} WHERE year IN ({in_years})").fetchall()[0][0]
    if n <= limit:
        return con.sql(f"SELECT * FROM {source.table} WHERE year IN ({in_years})").pl(), n
    # The reservoir draws row ids only, then those rows are read: the same rows in the same order as sampling
    # the rows themselves (the reservoir's choice depends on the row count and the seed, not on the payload),
    # without carrying every column of every row through the sampler (national grants: 0.45 s -> 0.17 s).
    picked = con.sql(
        f"SELECT rowid AS __rid FROM (SELECT rowid FROM {source.table} WHERE year IN ({in_years})) "
        f"USING SAMPLE reservoir({int(limit)} ROWS) REPEATABLE ({int(seed)})"
    ).pl()
    con.register("__sample_rowids", picked.to_arrow())
    try:
        rows = con.sql(
            f"SELECT rowid AS __rid, * FROM {source.table} WHERE rowid IN (SELECT __rid FROM __sample_rowids)"
        ).pl()
    finally:
        con.unregister("__sample_rowids")
    frame = picked.join(rows, on="__rid", how="left", maintain_order="left").drop("__rid")
    return frame, n
