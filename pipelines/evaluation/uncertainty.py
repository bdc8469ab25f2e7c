"""How much a city's rank depends on methodology choices (Monte Carlo over weights, aggregation, imputation).

Each run draws, independently:
- a multiplier U(1 - jitter, 1 + jitter) for every indicator weight and every pillar weight (renormalised
  within each pillar and across pillars by the aggregation itself);
- arithmetic or geometric aggregation (both levels: indicators -> pillar, pillars -> composite);
- with or without imputation: "without" drops carried-forward values (is_imputed) and lets the remaining
  indicators carry the pillar, as long as the pillar keeps ``min_pillar_coverage`` of its weight.

Per run the composite becomes an index (mean of the ranked programme units in the year = 100), a rank and a
performance group, exactly as the dbt marts do for the nominal method. Everything is vectorised over runs
with numpy: arrays are [run, year, unit]. The nominal rank stored is the published one (fct_city_score_year).
Same seed -> same draws -> byte-identical table.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from pipelines.evaluation.rules import load_rules
from pipelines.labels import group_names, load_bands, published_index
from pipelines.settings import dbt_var

# Geometric means need positive inputs, and min-max scores put the weakest unit of every indicator at exactly
# 0, which would zero (or, floored at 1, nearly zero) a whole pillar for one weak indicator. The geometric
# variant is meant to test partial compensability, not that artefact, so it averages logs of (score + 10).
GEOMETRIC_OFFSET = 10.0


# The same threshold as the dbt models (one place: dbt_project.yml vars), so every unit that dbt gives a composite
# also gets a rank interval.
DEFAULT_MIN_PILLAR_COVERAGE = float(dbt_var("min_pillar_coverage"))


def performance_group_codes(index: np.ndarray) -> np.ndarray:
    """Position of each index's performance band in ``group_names()`` (0 = the highest band), -1 where index is
    nan: the bands seed read through pipelines.labels, the same rows the dbt macro performance_group joins."""
    bands = load_bands()
    index = published_index(index)  # banded as published, as the dbt macro bands
    out = np.full(index.shape, len(bands) - 1, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        for position in range(len(bands) - 1, -1, -1):  # lowest first: a higher band overrides
            band = bands[position]
            if band.lower_bound is not None:
                admits = index >= band.lower_bound if band.lower_bound_inclusive else index > band.lower_bound
                out = np.where(admits, position, out)
    return np.where(np.isnan(index), -1, out).astype(np.int8)


def _read_inputs(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    scores = con.sql(
        """
        select unit_code, year, rank, composite_index, catalog_version
        from marts.fct_city_score_year
        where is_ranked
        """
    ).pl()
    values = con.sql(
        """
        select unit_code, year, indicator_code, normalised_score, is_imputed
        from marts.fct_city_indicator_year
        """
    ).pl()
    catalog = con.sql(
        "select catalog_version, indicator_code, pillar_code, weight, pillar_weight from marts.dim_indicator"
    ).pl()
    return scores, values, catalog


CALENDAR_TABLE = "marts.fct_programme_unit_year"


def read_calendar(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Cycle of every programme unit-year from its programme's calendar: the mart twin of dbt's
    int_programme_unit_years (seed programme_calendar), the one definition the evaluation models read too. A
    2012-2016 demonstration city has the cycles anchored at GEN.cycle_anchor_year, a 2022 strong-city unit its
    2022-2024 cycle with baseline 2021."""
    schema, table = CALENDAR_TABLE.split(".")
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
    ).fetchall()[0][0]
    if not found:
        raise ValueError(
            f"{CALENDAR_TABLE} not found: the uncertainty step reads each unit's cycle calendar from it; build the "
            "programme marts (dbt models/marts/programme) first"
        )
    return con.sql(
        f"select unit_code, year, cycle_start, cycle_end, cycle_baseline_year from {CALENDAR_TABLE} "
        "where cycle_start is not null"
    ).pl()


def _baselines(calendar: pl.DataFrame, units: list[str], years: list[int]) -> np.ndarray:
    """[year, unit] index of the cycle's baseline year in ``years`` (-1: no cycle or baseline outside the data)."""
    u_ix = {u: i for i, u in enumerate(units)}
    y_ix = {y: i for i, y in enumerate(years)}
    out = np.full((len(years), len(units)), -1, dtype=np.int64)
    for unit, year, _, _, base in calendar.iter_rows():
        if unit in u_ix and year in y_ix and base is not None and base in y_ix:
            out[y_ix[year], u_ix[unit]] = y_ix[base]
    return out


def _nominal_arrays(scores: pl.DataFrame, values: pl.DataFrame, catalog: pl.DataFrame):
    units = sorted(scores["unit_code"].unique().to_list())
    years = sorted(scores["year"].unique().to_list())
    indicators = sorted(catalog["indicator_code"].unique().to_list())
    pillars = sorted(catalog["pillar_code"].unique().to_list())
    u_ix = {u: i for i, u in enumerate(units)}
    y_ix = {y: i for i, y in enumerate(years)}
    i_ix = {c: i for i, c in enumerate(indicators)}
    p_ix = {p: i for i, p in enumerate(pillars)}
    nY, nC, nI, nP = len(years), len(units), len(indicators), len(pillars)

    ranked = np.zeros((nY, nC), dtype=bool)
    nominal_rank = np.full((nY, nC), np.nan)
    nominal_index = np.full((nY, nC), np.nan)
    version_of_year: dict[int, str] = {}
    for u, y, rank, idx, version in scores.iter_rows():
        ranked[y_ix[y], u_ix[u]] = True
        nominal_rank[y_ix[y], u_ix[u]] = rank
        nominal_index[y_ix[y], u_ix[u]] = np.nan if idx is None else idx
        version_of_year[y] = version

    score = np.full((nY, nC, nI), np.nan)
    imputed = np.zeros((nY, nC, nI), dtype=bool)
    v = values.filter(
        pl.col("unit_code").is_in(units) & pl.col("year").is_in(years) & pl.col("indicator_code").is_in(indicators)
    )
    yi = np.array([y_ix[y] for y in v["year"].to_list()], dtype=np.int64)
    ci = np.array([u_ix[u] for u in v["unit_code"].to_list()], dtype=np.int64)
    ii = np.array([i_ix[c] for c in v["indicator_code"].to_list()], dtype=np.int64)
    score[yi, ci, ii] = v["normalised_score"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    imputed[yi, ci, ii] = v["is_imputed"].fill_null(False).to_numpy()

    # Weights depend on the catalog version in force in each year (pillar weights changed in 2024.1).
    weight = np.zeros((nY, nI))
    pillar_weight = np.zeros((nY, nP))
    membership = np.zeros((nI, nP))
    for version, code, pillar, w, pw in catalog.iter_rows():
        membership[i_ix[code], p_ix[pillar]] = 1.0
        for y, yv in version_of_year.items():
            if yv == version:
                weight[y_ix[y], i_ix[code]] = w or 0.0
                pillar_weight[y_ix[y], p_ix[pillar]] = pw or 0.0
    return dict(
        units=units,
        years=years,
        indicators=indicators,
        pillars=pillars,
        ranked=ranked,
        nominal_rank=nominal_rank,
        nominal_index=nominal_index,
        score=score,
        imputed=imputed,
        weight=weight,
        pillar_weight=pillar_weight,
        membership=membership,
        version_of_year=version_of_year,
    )


def _composites(
    a: dict, ind_mult: np.ndarray, pil_mult: np.ndarray, geometric: bool, drop_imputed: bool, min_coverage: float
) -> np.ndarray:
    """Composite [run, year, unit] for one (aggregation, imputation) variant and all runs' weights."""
    score, membership = a["score"], a["membership"]
    avail = ~np.isnan(score)
    if drop_imputed:
        avail &= ~a["imputed"]
    x = np.log(score + GEOMETRIC_OFFSET) if geometric else score
    x = np.where(avail, x, 0.0)
    availf = avail.astype(float)
    nR, nY, nC = ind_mult.shape[0], score.shape[0], score.shape[1]
    num = np.zeros((nR, nY, nC))
    den = np.zeros((nR, nY, nC))
    complete = np.ones((nR, nY, nC), dtype=bool)
    for p in range(membership.shape[1]):
        members = np.flatnonzero(membership[:, p])
        # w[run, year, indicator]: nominal weight of the year's catalog times the run's multiplier
        w = a["weight"][None, :, members] * ind_mult[:, None, members]
        full = w.sum(axis=2)  # [R, Y]
        got = np.einsum("ryi,yci->ryc", w, availf[:, :, members])
        pillar = np.einsum("ryi,yci->ryc", w, x[:, :, members])
        with np.errstate(invalid="ignore", divide="ignore"):
            pillar = pillar / got
            covered = (got / full[:, :, None]) >= min_coverage - 1e-12
        ok = covered & (got > 0)
        pw = a["pillar_weight"][None, :, p] * pil_mult[:, None, p]  # [R, Y]
        pw = np.broadcast_to(pw[:, :, None], ok.shape)
        # geometric pillar scores are kept in logs so the composite is a weighted mean of logs
        num += np.where(ok, pw * np.where(ok, pillar, 0.0), 0.0)
        den += np.where(ok, pw, 0.0)
        complete &= ok | (pw == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        comp = num / den
    # as in int_composite: a unit missing a pillar has no composite, so it is not ranked in that run
    comp = np.where(complete & (den > 0), comp, np.nan)
    return np.exp(comp) - GEOMETRIC_OFFSET if geometric else comp


def _rank_desc(values: np.ndarray, ranked: np.ndarray) -> np.ndarray:
    """Rank 1 = highest, among ranked units (ranked[year, unit]); nan elsewhere. values: [run, year, unit].
    As fct_city_score_year ranks: standard competition ranking (1, 2, 2, 4) on the value as published
    (labels.published_index), so units showing the same figure share a rank in every run too."""
    valid = ranked[None] & ~np.isnan(values)
    keyed = np.where(valid, -published_index(np.where(valid, values, 0.0)), np.inf)
    order = np.argsort(keyed, axis=-1, kind="stable")
    sorted_keys = np.take_along_axis(keyed, order, axis=-1)
    positions = np.broadcast_to(np.arange(values.shape[-1]), sorted_keys.shape)
    # a tie's members all take the position of its first member
    starts = np.concatenate(
        [np.ones(sorted_keys.shape[:-1] + (1,), dtype=bool), sorted_keys[..., 1:] != sorted_keys[..., :-1]], axis=-1
    )
    first = np.maximum.accumulate(np.where(starts, positions, 0), axis=-1)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, first + 1, axis=-1)
    return np.where(np.isinf(keyed), np.nan, ranks.astype(float))


def _change_since_baseline(index: np.ndarray, baseline_index: np.ndarray, base: np.ndarray) -> np.ndarray:
    """published(index[..., y, u]) - published(baseline_index[..., base[y, u], u]) over the last two axes (year,
    unit); nan where the unit-year has no baseline (base -1)."""
    has = base >= 0
    rows = np.where(has, base, 0)
    cols = np.broadcast_to(np.arange(base.shape[1])[None, :], base.shape)
    picked = baseline_index[..., rows, cols]
    # the change of the PUBLISHED figures, as int_evaluation_signals_year judges X1, EX1 and R2 on it; taken at
    # the published precision once more so that 75.1 - 80.1 is -5.0, not -4.99999999999999 in doubles
    return np.where(has, published_index(published_index(index) - published_index(picked)), np.nan)


def r2_thresholds(
    nominal_index: np.ndarray,
    years: list[int],
    rules_of: dict[int, dict[str, object]],
    base: np.ndarray,
    baseline_index: np.ndarray | None = None,
) -> np.ndarray:
    """R2 threshold per year (points), as int_evaluation_signals_year computes it: max(R2.regress_points,
    R2.noise_z x 1.4826 x MAD of the nominal index change since each unit's cycle baseline (``base``, from its
    programme calendar) over the year's units), with the rules in force in each year (``rules_of[year]``).
    nominal_index: [year, unit] of the ranked unit-years; baseline_index: [year, unit] published index of every
    unit-year (a unit not yet in the programme in its baseline year still has one), default nominal_index."""
    change_all = _change_since_baseline(
        nominal_index, nominal_index if baseline_index is None else baseline_index, base
    )
    out = np.array([float(rules_of[y]["R2.regress_points"]) for y in years])
    for yi, y in enumerate(years):
        rules = rules_of[y]
        floor, z = float(rules["R2.regress_points"]), float(rules.get("R2.noise_z", 0.0))
        change = change_all[yi]
        change = change[~np.isnan(change)]
        if change.size:
            noise = 1.4826 * float(np.median(np.abs(change - np.median(change))))
            out[yi] = max(floor, z * noise)
    # at the published precision, as the dbt model and the evidence text show it
    return published_index(out)


def run_uncertainty(
    con: duckdb.DuckDBPyConnection,
    n_runs: int = 1000,
    seed: int = 20160086,
    weight_jitter: float = 0.25,
    robust_share: float | None = None,
    rules_path: Path | str | None = None,
    min_pillar_coverage: float = DEFAULT_MIN_PILLAR_COVERAGE,
) -> pl.DataFrame:
    """Per ranked programme unit and year: nominal / median / 5th / 95th percentile rank and index over the
    runs, and the share of runs in which the unit is in the bottom group, the leader group, regressing or
    improved since its cycle's baseline year (thresholds from the rules seed). ``robust_share`` defaults to
    the rules seed's GEN.robust_share."""
    scores, values, catalog = _read_inputs(con)
    if scores.is_empty():
        raise ValueError("marts.fct_city_score_year has no ranked programme units: build the marts first")
    a = _nominal_arrays(scores, values, catalog)
    years, units, ranked = a["years"], a["units"], a["ranked"]
    nI, nP = len(a["indicators"]), len(a["pillars"])
    # each year with the rules in force then (seed rules_versions), like the dbt evaluation models
    rules_of = {y: load_rules(rules_path, year=y) for y in years}
    share_needed = np.array(
        [float(rules_of[y]["GEN.robust_share"]) if robust_share is None else robust_share for y in years]
    )

    rng = np.random.default_rng(seed)
    ind_mult = rng.uniform(1 - weight_jitter, 1 + weight_jitter, size=(n_runs, nI))
    pil_mult = rng.uniform(1 - weight_jitter, 1 + weight_jitter, size=(n_runs, nP))
    geometric = rng.random(n_runs) < 0.5
    drop_imputed = rng.random(n_runs) < 0.5

    comp = np.full((n_runs, len(years), len(units)), np.nan)
    for geo in (False, True):
        for drop in (False, True):
            pick = (geometric == geo) & (drop_imputed == drop)
            if pick.any():
                comp[pick] = _composites(a, ind_mult[pick], pil_mult[pick], geo, drop, min_pillar_coverage)

    # Every unit-year with a composite gets an index on the programme scale (as fct_city_score_year gives
    # non-programme units one): a unit's cycle baseline can fall before it joined (石家庄, 2022 cohort: 2021).
    comp_all = comp
    comp = np.where(ranked[None], comp, np.nan)
    with np.errstate(invalid="ignore"):
        programme_mean = np.nanmean(comp, axis=2, keepdims=True)
        index = 100.0 * comp / programme_mean
        index_all = 100.0 * comp_all / programme_mean
    rank = _rank_desc(index, ranked)
    group = performance_group_codes(index)

    # Index change since the baseline year of each unit-year's cycle on its programme calendar, per run (nan
    # outside cycles): the same calendar the evaluation models read (fct_programme_unit_year).
    base = _baselines(read_calendar(con), units, years)
    change = _change_since_baseline(index, index_all, base)
    published = con.sql(
        "select unit_code, year, composite_index from marts.fct_city_score_year where composite_index is not null"
    ).pl()
    nominal_all = np.full((len(years), len(units)), np.nan)
    u_ix, y_ix = {u: i for i, u in enumerate(units)}, {y: i for i, y in enumerate(years)}
    for u, y, idx in published.iter_rows():
        if u in u_ix and y in y_ix:
            nominal_all[y_ix[y], u_ix[u]] = idx
    regress_points = r2_thresholds(a["nominal_index"], years, rules_of, base, nominal_all)[None, :, None]
    improve_points = np.array([float(rules_of[y]["X1.improve_min_points"]) for y in years])[None, :, None]
    below_index = np.array([float(rules_of[y]["R2.below_index"]) for y in years])[None, :, None]

    evaluated = ranked[None] & ~np.isnan(index)
    n_eval = evaluated.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        # units that no run could rank in a year give all-nan slices; they get null quantiles
        warnings.simplefilter("ignore", RuntimeWarning)

        def share(cond: np.ndarray, base: np.ndarray = evaluated) -> np.ndarray:
            return (cond & base).sum(axis=0) / base.sum(axis=0)

        # the bottom and leader groups of each year's rules, as positions in the bands seed's order
        names = group_names()
        bottom_code = np.array([names.index(str(rules_of[y]["W1.bottom_group"])) for y in years])[None, :, None]
        leader_code = np.array([names.index(str(rules_of[y]["EX1.leader_group"])) for y in years])[None, :, None]
        share_bottom = share(group == bottom_code)
        share_leader = share(group == leader_code)
        # lower third of the ranking (rank beyond 2/3 of the ranked units): where rank flips are visible
        # for units that never reach the bottom group
        n_ranked = ranked.sum(axis=1)[None, :, None]
        share_lower_third = share(rank > 2.0 * n_ranked / 3.0)
        has_change = evaluated & ~np.isnan(change)
        below = index < below_index
        share_regressing = share((change <= -regress_points) & below, has_change)
        share_improved = share(change > improve_points, has_change)
        q_rank = np.nanquantile(np.where(evaluated, rank, np.nan), [0.05, 0.5, 0.95], axis=0)
        q_index = np.nanquantile(np.where(evaluated, index, np.nan), [0.05, 0.5, 0.95], axis=0)

    rows_y, rows_c = np.nonzero(ranked & (n_eval > 0))
    df = (
        pl.DataFrame(
            {
                "unit_code": [units[c] for c in rows_c],
                "year": np.array([years[y] for y in rows_y], dtype=np.int32),
                "catalog_version": [a["version_of_year"][years[y]] for y in rows_y],
                "n_runs": np.full(len(rows_y), n_runs, dtype=np.int32),
                "nominal_rank": a["nominal_rank"][rows_y, rows_c],
                "median_rank": q_rank[1][rows_y, rows_c],
                "p05_rank": q_rank[0][rows_y, rows_c],
                "p95_rank": q_rank[2][rows_y, rows_c],
                "nominal_index": a["nominal_index"][rows_y, rows_c],
                "median_index": q_index[1][rows_y, rows_c],
                "p05_index": q_index[0][rows_y, rows_c],
                "p95_index": q_index[2][rows_y, rows_c],
                "share_bottom": share_bottom[rows_y, rows_c],
                "share_leader": share_leader[rows_y, rows_c],
                "share_lower_third": share_lower_third[rows_y, rows_c],
                "share_regressing": share_regressing[rows_y, rows_c],
                "share_improved": share_improved[rows_y, rows_c],
                "robust_share": share_needed[rows_y],
                "rules_version": [str(rules_of[years[y]]["rules_version"]) for y in rows_y],
            }
        )
        .with_columns(
            pl.col("nominal_rank").cast(pl.Int32),
            (pl.col("share_bottom") >= pl.col("robust_share")).alias("is_robust_bottom"),
            pl.lit(weight_jitter).alias("weight_jitter"),
            pl.lit(seed, dtype=pl.Int64).alias("seed"),
        )
        .with_columns(
            # nan (no cycle baseline) is stored as null so SQL comparisons treat it as unknown
            pl.col(pl.Float64).fill_nan(None)
        )
    )
    return df.sort("unit_code", "year")


def write_rank_uncertainty(con: duckdb.DuckDBPyConnection, df: pl.DataFrame) -> int:
    """Replace marts.fct_rank_uncertainty with ``df``; returns the row count."""
    con.execute("create schema if not exists marts")
    arrow = df.sort("unit_code", "year").to_arrow()  # noqa: F841 - read by name below
    con.execute("create or replace table marts.fct_rank_uncertainty as select * from arrow")
    return df.height
