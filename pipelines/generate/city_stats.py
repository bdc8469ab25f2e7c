"""SYNTHETIC city-level patent statistics at FULL volume, calibrated to the REAL province panel.

Offices receive city-level patent statistics (grants and patents in force by type) from the national office
every year; the sample writes them for every prefecture-level unit (its county-level programme units
included, as a prefecture publishes them) and for each county-level programme unit, 2010 to the last year.

- grants: the unit's full-volume count of the grant model (GrantModel.full_counts). For 2010-2023 the units of
  a province add up EXACTLY to the real province grants by type; later years follow the extrapolated volumes.
- in force at 31 December: a survival model of the unit's grants (the grant model's Weibull lapse by type and
  profile group, capped at the statutory term), rescaled per province, type and year so that the units add
  up to the REAL province stock in force (2010-2023, which includes patents granted before 2010); after 2023
  the 2023 factor is kept and the stock follows the unit's own grants and lapse.

The grant records (patent_grants) are a binomial sample of the same full counts at rate ``scale``; the
pipeline reconciles the two (dbt model int_patents__records_vs_statistics) and takes counts from the
statistics and record-level shares (enterprise, high value) from the records.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines import reference
from pipelines.generate import calibration as cal
from pipelines.generate.grants import TYPES, GrantModel
from pipelines.sources import SOURCES

CITY_STATS_SOURCE = (
    "SYNTHETIC sample: city-level statistics at full volume, units add up to the real province panel "
    "(中国科技统计年鉴, CNIPA figures) 2010-2023"
)
# Median filing-to-grant lag in years: the statutory term runs from filing, the survival clock from grant.
_LAG_YEARS = {"invention": 2.2, "utility_model": 0.8, "design": 0.5}


def _survival(ptype: str, age_years: np.ndarray, scale_factor: np.ndarray) -> np.ndarray:
    """Share of a grant cohort still in force ``age_years`` after grant (Weibull lifetime, statutory cap)."""
    scale, shape = cal.LIFETIME_WEIBULL[ptype]
    s = np.exp(-((np.maximum(age_years, 0.0) / (scale * scale_factor)) ** shape))
    s = np.where(age_years < 120 / 365.25, 1.0, s)  # no lapse before the first annual fee
    return np.where(age_years > cal.TERM_YEARS[ptype] - _LAG_YEARS[ptype], 0.0, s)


def city_patent_stats(model: GrantModel, first_year: int, last_year: int) -> pl.DataFrame:
    """One row per unit and year, columns of the patent_stats contract (region_code, region_name, year,
    grants_*, in_force_*, source), integers."""
    years = np.arange(first_year, last_year + 1)
    units = model.units
    n = len(units.codes)
    group = model.group_code
    # Same lapse speed per profile group as the records (grants.GrantModel._lapse).
    life_factor = np.where(group == 1, 0.5, np.where(group == 2, 1.3, 1.0))
    panel = reference.province_panel().filter(pl.col("province_code") != reference.NATIONAL_CODE)
    real_stock = {
        (r["province_code"], int(r["year"]), t): r[f"in_force_{t}"]
        for r in panel.iter_rows(named=True)
        for t in TYPES
        if r[f"in_force_{t}"] is not None
    }
    grants = {t: np.stack([model.full_counts(int(y), t) for y in years], axis=1) for t in TYPES}  # [unit, year]
    in_force = {}
    for t in TYPES:
        age = years[None, :] - years[:, None] + 0.5  # [grant year, stock year]
        stock = np.zeros((n, len(years)))
        for gi in range(len(years)):
            surv = _survival(t, np.broadcast_to(age[gi], (n, len(years))), life_factor[:, None])
            surv = np.where(age[gi][None, :] > 0, surv, 0.0)
            stock += grants[t][:, gi : gi + 1] * surv
        calibrated = np.zeros_like(stock)
        for p in model.provinces:
            members = model.province == p
            factor = 1.0
            for yi, y in enumerate(years):
                modelled = stock[members, yi].sum()
                real = real_stock.get((p, int(min(y, cal.PANEL_LAST_PATENT_YEAR)), t))
                if y <= cal.PANEL_LAST_PATENT_YEAR and real is not None and modelled > 0:
                    factor = real / modelled
                calibrated[members, yi] = stock[members, yi] * factor
        in_force[t] = np.round(calibrated).astype(np.int64)

    # Published per unit: a prefecture includes its county-level programme units.
    parent = model.parent_index
    is_county = units.col("is_county")
    rollup = np.eye(n, dtype=np.int64)
    for i in np.flatnonzero(is_county):
        rollup[parent[i], i] = 1  # row = published unit, column = model unit

    def published(values: np.ndarray) -> np.ndarray:
        return rollup @ values

    columns = {}
    for t in TYPES:
        columns[f"grants_{t}"] = published(grants[t])
        columns[f"in_force_{t}"] = published(in_force[t])
    frame = pl.DataFrame(
        {
            "region_code": np.repeat(units.codes, len(years)),
            "region_name": np.repeat(units.col("city_name"), len(years)),
            "year": np.tile(years, n).astype(np.int64),
            **{k: v.reshape(-1) for k, v in columns.items()},
        }
    )
    return (
        frame.with_columns(
            grants_total=pl.sum_horizontal(*[f"grants_{t}" for t in TYPES]),
            in_force_total=pl.sum_horizontal(*[f"in_force_{t}" for t in TYPES]),
            source=pl.lit(CITY_STATS_SOURCE),
        )
        .select([c.name for c in SOURCES["patent_stats"].columns])
        .sort("region_code", "year")
    )
