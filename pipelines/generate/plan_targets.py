"""SYNTHETIC construction-plan targets of the programme units.

Baselines are the unit's own generated value in the baseline year, computed roughly as the contract defines
the indicator (a prefecture unit counts every record whose code starts with its 4 digits; a county-level unit
only records carrying its own code); targets are ambitious but plausible improvements.
"""

from __future__ import annotations

import numpy as np
import polars as pl

PLANS = (("plan_2016_2020", 2016, 2020), ("plan_2021_2025", 2020, 2025))
INDICATORS = ("QLT01", "QLT02", "UTL01", "PRO01", "ENV01")
MIN_CASELOAD = 3
# Closure-rate targets: baseline + 3-10 points, at most 98 % (no plan promises to close every case); a unit
# already at or above the cap gets no closure-rate target (nothing left to plan for).
PRO01_TARGET_CAP = 0.98


def _by_unit(frame: pl.DataFrame, code_col: str, aggs: list[pl.Expr], units: pl.DataFrame) -> pl.DataFrame:
    """Aggregate to programme units: prefecture units over their 4-digit prefix, county units over their code."""
    keyed = frame.with_columns(prefix=pl.col(code_col).str.slice(0, 4), record_code=pl.col(code_col))
    pref = units.filter(~pl.col("is_county")).select(unit_code="city_code", prefix=pl.col("city_code").str.slice(0, 4))
    county = units.filter(pl.col("is_county")).select(unit_code="city_code")
    a = keyed.join(pref, on="prefix").group_by("unit_code", "year").agg(aggs)
    b = keyed.join(county, left_on="record_code", right_on="unit_code").with_columns(unit_code="record_code")
    b = b.group_by("unit_code", "year").agg(aggs)
    return pl.concat([a, b], how="vertical_relaxed").rename({"unit_code": "city_code"})


def unit_values(
    programme: pl.DataFrame,
    population: pl.DataFrame,
    in_force: pl.DataFrame,
    pledge: pl.DataFrame,
    cases: pl.DataFrame,
    training: pl.DataFrame,
    years: list[int],
) -> pl.DataFrame:
    """Indicator values per programme unit and year: city_code, year, indicator_code, value."""
    stock = pl.concat(
        [
            in_force.filter(
                pl.col("patent_type") == "invention",
                pl.col("grant_year") <= y,
                pl.col("lapse_year").is_null() | (pl.col("lapse_year") > y),
            ).with_columns(year=pl.lit(y, pl.Int64))
            for y in years
        ]
    )
    stock = _by_unit(
        stock,
        "region_code",
        [pl.col("n").sum().alias("inv"), pl.col("n").filter(pl.col("is_high_value")).sum().alias("hv")],
        programme,
    )
    pledge = _by_unit(
        pledge.with_columns(year=pl.col("month").dt.year().cast(pl.Int64)),
        "city_code",
        [pl.col("amount_10k_yuan").sum().alias("amount")],
        programme,
    )
    # PRO01 as the contract defines it (the official 结案率): cases closed in Y / (cases filed in Y + cases
    # pending on 1 January Y). Counting only whether this year's cases were ever closed gave 100 % for most
    # units, so baselines and targets of 100 % made any open case "deteriorating".
    filed_year = pl.col("filed_date").dt.year().cast(pl.Int64)
    closed_year = pl.col("closed_date").dt.year().cast(pl.Int64)
    caseload = pl.concat(
        [
            cases.select(
                "city_code",
                year=pl.lit(y, pl.Int64),
                filed_in_year=filed_year == y,
                pending_at_start=(filed_year < y) & (pl.col("closed_date").is_null() | (closed_year >= y)),
                closed_in_year=closed_year == y,
            )
            for y in years
        ]
    )
    cases = _by_unit(
        caseload,
        "city_code",
        [
            (pl.col("filed_in_year").sum() + pl.col("pending_at_start").sum()).alias("caseload"),
            pl.col("closed_in_year").sum().alias("closed"),
        ],
        programme,
    )
    training = _by_unit(
        training.with_columns(year=pl.col("event_date").dt.year().cast(pl.Int64)),
        "city_code",
        [pl.col("participants").sum().alias("participants")],
        programme,
    )
    base = programme.select("city_code").join(pl.DataFrame({"year": years}, schema={"year": pl.Int64}), how="cross")
    pop = population.select(city_code="region_code", year="year", pop="population_10k", gdp="gdp_100m_yuan")
    wide = base.join(pop, on=["city_code", "year"], how="left")
    for part in (stock, pledge, cases, training):
        wide = wide.join(part, on=["city_code", "year"], how="left")
    wide = wide.fill_null(0)
    return wide.select(
        "city_code",
        "year",
        QLT01=pl.col("inv") / pl.col("pop"),
        QLT02=pl.col("hv") / pl.col("pop"),
        UTL01=pl.col("amount") / pl.col("gdp"),
        # a closure-rate plan needs enough cases for the rate to mean something (a real plan would not set
        # one on three cases)
        PRO01=pl.when(pl.col("caseload") >= MIN_CASELOAD).then(pl.col("closed") / pl.col("caseload")),
        ENV01=pl.col("participants") / pl.col("pop"),
    ).unpivot(index=["city_code", "year"], variable_name="indicator_code", value_name="value")


def build_targets(values: pl.DataFrame, seed: int, first_year: int, last_year: int) -> pl.DataFrame:
    rng = np.random.default_rng([seed, 30])
    rows = []
    for plan_id, base_year, target_year in PLANS:
        if not first_year <= base_year <= last_year:
            continue
        part = values.filter(pl.col("year") == base_year, pl.col("value").is_not_null()).sort(
            "city_code", "indicator_code"
        )
        n = part.height
        factor = {
            "QLT01": rng.uniform(1.6, 2.0, n),
            "QLT02": rng.uniform(1.8, 2.4, n),
            "UTL01": rng.uniform(1.5, 2.5, n),
            "ENV01": rng.uniform(1.3, 1.8, n),
        }
        uplift = rng.uniform(0.03, 0.10, n)
        code = part["indicator_code"].to_numpy()
        value = part["value"].to_numpy()
        target = value.copy()
        for ind, f in factor.items():
            target = np.where(code == ind, value * f, target)
        target = np.where(code == "PRO01", np.minimum(value + uplift, PRO01_TARGET_CAP), target)
        keep = (code != "PRO01") | (value < PRO01_TARGET_CAP - 0.01)
        part, value, target = part.filter(pl.Series(keep)), value[keep], target[keep]
        rows.append(
            part.select(
                "city_code",
                plan_id=pl.lit(plan_id),
                indicator_code="indicator_code",
                baseline_year=pl.lit(base_year, pl.Int64),
                baseline_value=pl.col("value").round(4),
                target_year=pl.lit(target_year, pl.Int64),
            ).with_columns(target_value=pl.Series(np.round(np.maximum(target, value), 4)))
        )
    if not rows:
        return pl.DataFrame(
            schema={
                "city_code": pl.String,
                "plan_id": pl.String,
                "indicator_code": pl.String,
                "baseline_year": pl.Int64,
                "baseline_value": pl.Float64,
                "target_year": pl.Int64,
                "target_value": pl.Float64,
            }
        )
    return pl.concat(rows)
