"""Landing files derived from the REAL reference data (cities, programme roster, province patent panel).

Values are derived by code, never edited by hand. The only synthetic rows are the two programme status
events used by the sample evaluation, which say so in their ``source`` column.
"""

from __future__ import annotations

import polars as pl

from pipelines import reference
from pipelines.generate.profiles import Profiles
from pipelines.generate.units import PROGRAMME, Units
from pipelines.sources import SOURCES

SYNTHETIC_STATUS = "synthetic sample status event"


def cities_landing(units: Units) -> pl.DataFrame:
    return units.frame.select([c.name for c in SOURCES["cities"].columns])


def programme_landing(units: Units, profiles: Profiles, last_year: int) -> pl.DataFrame:
    roster = reference.roster()
    rect_since = f"{min(last_year, 2023)}-03-01"
    withdrawn_on = f"{min(last_year, 2024)}-06-30"
    return roster.select(
        city_code="unit_code",
        unit_name="unit_name",
        programme=pl.lit(PROGRAMME),
        cohort="cohort",
        cohort_year="first_designation_year",
        status=pl.when(pl.col("unit_code") == profiles.rectification)
        .then(pl.lit("rectification"))
        .when(pl.col("unit_code") == profiles.withdrawn)
        .then(pl.lit("withdrawn"))
        .otherwise(pl.lit("active")),
        status_since=pl.when(pl.col("unit_code") == profiles.rectification)
        .then(pl.lit(rect_since))
        .when(pl.col("unit_code") == profiles.withdrawn)
        .then(pl.lit(withdrawn_on))
        .str.to_date(),
        withdrawn_on=pl.when(pl.col("unit_code") == profiles.withdrawn).then(pl.lit(withdrawn_on)).str.to_date(),
        source=pl.when(pl.col("unit_code").is_in([profiles.rectification, profiles.withdrawn]))
        .then(pl.lit(SYNTHETIC_STATUS + "; roster: ") + pl.col("source_url"))
        .otherwise(pl.col("source_url")),
    )


def patent_stats_landing() -> pl.DataFrame:
    """The REAL province panel 2010-2023 in the contract's wide form: renamed and reshaped only."""
    names = reference.provinces().select("province_code", region_name="name")
    value_cols = list(reference.PANEL_PATENT_COLUMNS)
    panel = reference.province_panel().filter(
        pl.col("province_code") != reference.NATIONAL_CODE, pl.col("grants_total").is_not_null()
    )
    return (
        panel.join(names, on="province_code", how="left")
        .select(
            pl.col("province_code").alias("region_code"),
            pl.col("region_name"),
            pl.col("year"),
            *[pl.col(c).round(0).cast(pl.Int64) for c in value_cols],
            source=pl.lit(reference.PATENT_STATS_SOURCE),
        )
        .select([c.name for c in SOURCES["patent_stats"].columns])
        .sort("region_code", "year")
    )
