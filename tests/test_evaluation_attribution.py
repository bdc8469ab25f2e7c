"""Change attribution through the real dbt models (issue 10): every city-year's index change is split exactly
into indicator, catalog/weight and rescaling parts; a weight-only change is all in the catalog part."""

from __future__ import annotations

import duckdb
import evaluation_fixtures as F
import numpy as np
import polars as pl
import pytest


def _marts(wh) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(wh), read_only=True) as con:
        return {
            t: con.sql(f"select * from marts.{t}").pl()
            for t in ("fct_index_change_attribution", "fct_index_change_attribution_indicator", "fct_city_score_year")
        }


@pytest.fixture(scope="module")
def programme(tmp_path_factory):
    work = tmp_path_factory.mktemp("attribution")
    wh = work / "wh.duckdb"
    with duckdb.connect(str(wh)) as con:
        F.synthetic_programme(con, seed=11, n_units=30)
    F.run_evaluation_dbt(wh, work)
    return _marts(wh)


def _score_marts_from(con: duckdb.DuckDBPyConnection, codes: list[str]) -> None:
    comp = F._nominal_composite(con).with_columns(
        (100 * pl.col("composite") / pl.col("composite").mean().over("year")).alias("composite_index")
    )
    indexes: dict[str, dict[int, float]] = {}
    for unit, year, _, idx in comp.iter_rows():
        indexes.setdefault(unit, {})[year] = idx
    scores = (
        F._score_rows(indexes)
        .drop("composite")
        .join(
            comp.select("unit_code", "year", "composite").with_columns(pl.col("year").cast(pl.Int32)),
            on=["unit_code", "year"],
        )
    )
    F._insert(con, "fct_city_score_year", scores)


@pytest.fixture(scope="module")
def constant_scores(tmp_path_factory):
    """Every unit keeps exactly the same indicator scores in every year: only the catalog (2021.1 -> 2024.1
    in 2022) changes anything."""
    work = tmp_path_factory.mktemp("attribution_weights")
    wh = work / "wh.duckdb"
    rng = np.random.default_rng(3)
    cat = F._catalog()
    indicators = sorted(cat["indicator_code"].unique().to_list())
    codes = [f"{330100 + 100 * i:06d}" for i in range(12)]
    profile = rng.uniform(5, 95, (len(codes), len(indicators)))
    rows = [
        (u, y, code, F.catalog_version_of(y), float(profile[c, i]), float(profile[c, i]), False, False, False,
         float(profile[c, i]), "city")
        for y in F.YEARS
        for c, u in enumerate(codes)
        for i, code in enumerate(indicators)
    ]  # fmt: skip
    with duckdb.connect(str(wh)) as con:
        F.create_marts(con)
        F._insert(con, "dim_city", F._city_rows(codes, [f"常数{i}市" for i in range(len(codes))]))
        F._insert(con, "dim_indicator", cat)
        frame = pl.DataFrame(
            rows,
            orient="row",
            schema=[
                ("unit_code", pl.String),
                ("year", pl.Int32),
                ("indicator_code", pl.String),
                ("catalog_version", pl.String),
                ("raw_value", pl.Float64),
                ("value", pl.Float64),
                ("is_imputed", pl.Boolean),
                ("is_outlier", pl.Boolean),
                ("is_missing", pl.Boolean),
                ("normalised_score", pl.Float64),
                ("peer_group", pl.String),
            ],
        )
        F._insert(con, "fct_city_indicator_year", frame)
        _score_marts_from(con, codes)
    F.run_evaluation_dbt(wh, work)
    return _marts(wh)


def test_parts_sum_to_the_index_change_for_every_city_year(programme):
    att, scores = programme["fct_index_change_attribution"], programme["fct_city_score_year"]
    ranked = scores.filter(pl.col("rank").is_not_null())
    pairs = ranked.join(ranked.with_columns(pl.col("year") + 1), on=["unit_code", "year"], suffix="_prev")
    assert att.height == pairs.height > 0  # every city-year with a previous year
    total = pl.col("part_indicators") + pl.col("part_catalog") + pl.col("part_rescaling")
    assert (att["index_change"] - att.select(total).to_series()).abs().max() < 1e-9
    pillars = pl.sum_horizontal("part_mgt", "part_pro", "part_utl", "part_qlt", "part_env")
    assert (att["part_indicators"] - att.select(pillars).to_series()).abs().max() < 1e-9
    per_ind = (
        programme["fct_index_change_attribution_indicator"]
        .group_by("unit_code", "year")
        .agg(pl.col("contribution").sum())
    )
    joined = att.join(per_ind, on=["unit_code", "year"])
    assert (joined["part_indicators"] - joined["contribution"]).abs().max() < 1e-9
    # the catalog part is zero except across the 2021.1 -> 2024.1 switch
    assert att.filter(pl.col("year") != 2022)["part_catalog"].abs().max() < 1e-9
    assert att.filter(pl.col("year") == 2022)["part_catalog"].abs().max() > 0.01
    assert att["part_revision"].null_count() == att.height  # nothing released here


def test_a_weight_only_change_is_all_in_the_catalog_part(constant_scores):
    att = constant_scores["fct_index_change_attribution"]
    switch = att.filter(pl.col("year") == 2022)
    assert switch.height == 12 and switch["index_change"].abs().max() > 0.1
    assert (switch["part_catalog"] - switch["index_change"]).abs().max() < 1e-9
    assert switch["part_indicators"].abs().max() < 1e-9 and switch["part_rescaling"].abs().max() < 1e-9
    steady = att.filter(pl.col("year") != 2022)
    assert (
        steady.select(pl.col("index_change", "part_catalog", "part_indicators").abs().max()).max_horizontal()[0] < 1e-9
    )
