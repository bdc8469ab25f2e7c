"""Landing files derived from the REAL reference data (cities, programme roster, province patent panel).

Values are derived by code, never edited by hand. The only synthetic rows are the two programme status
events used by the sample evaluation, which say so in their ``source`` column.
"""

from __future__ import annotations

import polars as pl

from pipelines import reference
from pipelines.generate.profiles import Profiles
from pipelines.generate.units import COUNTY_PINYIN, PROGRAMME, Units
from pipelines.sources import SOURCES

SYNTHETIC_STATUS = "synthetic sample status event"


def strong_city_districts(units_frame: pl.DataFrame) -> pl.DataFrame:
    """REAL district-level strong-city units that are not in the 2012-2016 roster (浦东新区, 滨海新区, ...), in the
    cities contract's columns. They join raw.cities so the roster can name them; the sample generates no
    activity for them (the generator's units are the 2012-2016 roster), so they show as "no data", never as 0."""
    roster = reference.strong_city_roster()
    known = set(units_frame["city_code"].to_list())
    extra = roster.filter(
        pl.col("level").is_in(["municipal_district", "county_level_city"]), ~pl.col("unit_code").is_in(list(known))
    ).unique("unit_code", keep="first", maintain_order=True)
    parents = units_frame.select("city_code", "province_name", "lng", "lat")
    return (
        extra.join(parents, left_on="parent_code", right_on="city_code", how="left")
        .select(
            "province_code",
            "province_name",
            city_code="unit_code",
            city_name="unit_name",
            city_name_short=pl.col("unit_name").str.strip_suffix("区"),
            level="level",
            parent_code="parent_code",
            pinyin=pl.col("unit_code").replace_strict(COUNTY_PINYIN, default=None, return_dtype=pl.String),
            lng="lng",
            lat="lat",
            coord_note=pl.lit("coordinates of the parent prefecture (county-level unit)"),
        )
        .select([c.name for c in SOURCES["cities"].columns])
    )


def cities_landing(units: Units) -> pl.DataFrame:
    base = units.frame.select([c.name for c in SOURCES["cities"].columns])
    return pl.concat([base, strong_city_districts(units.frame)], how="vertical_relaxed")


def strong_city_landing() -> pl.DataFrame:
    """REAL strong-city roster rows (2022 onwards) as far as public sources name them, one per unit, programme and
    cohort, with the source URL, quote and confidence in ``source``. A pilot later named a demonstration unit
    carries the promotion as a dated status event (status ``promoted`` since the demonstration joining date).
    The pilots no source names are absent: the roster is partial and the UI says so."""
    roster = reference.strong_city_roster()
    promos = reference.strong_city_promotions().select(
        "unit_code",
        cohort="pilot_cohort",
        programme_code=pl.lit(reference.PROGRAMME_STRONG_PILOT),
        promoted_on="promoted_on",
    )
    return roster.join(promos, on=["unit_code", "cohort", "programme_code"], how="left").select(
        city_code="unit_code",
        unit_name="unit_name",
        programme="programme",
        cohort="cohort",
        cohort_year="cohort_year",
        status=pl.when(pl.col("promoted_on").is_not_null()).then(pl.lit("promoted")).otherwise(pl.lit("active")),
        status_since=pl.col("promoted_on"),
        withdrawn_on=pl.lit(None, pl.Date),
        source=pl.concat_str(
            [
                pl.col("source_url"),
                pl.col("source_quote").str.slice(0, 300),
                pl.lit("confidence: ") + pl.col("confidence"),
                pl.lit("batch: ") + pl.col("batch"),
            ],
            separator=" | ",
        ),
        joined_on="joined_on",
    )


def programme_landing(units: Units, profiles: Profiles, last_year: int) -> pl.DataFrame:
    demo = _demo_city_landing(profiles, last_year)
    # The sample's synthetic withdrawal removes the city from the programme altogether: a strong-city membership it
    # holds at that date ends with it (marked synthetic like the demonstration-city event), so the withdrawn city
    # stops being evaluated from the year of withdrawal whatever programme it was in.
    gone = demo.filter(pl.col("status") == "withdrawn").select("city_code", "withdrawn_on")
    strong = (
        strong_city_landing()
        .join(gone, on="city_code", how="left", suffix="_sample")
        .with_columns(
            hit=pl.col("withdrawn_on_sample").is_not_null()
            & (pl.col("joined_on") < pl.col("withdrawn_on_sample"))
            & (pl.col("status") == "active")
        )
        .with_columns(
            status=pl.when("hit").then(pl.lit("withdrawn")).otherwise(pl.col("status")),
            status_since=pl.when("hit").then(pl.col("withdrawn_on_sample")).otherwise(pl.col("status_since")),
            withdrawn_on=pl.when("hit").then(pl.col("withdrawn_on_sample")).otherwise(pl.col("withdrawn_on")),
            source=pl.when("hit")
            .then(pl.lit(SYNTHETIC_STATUS + "; roster: ") + pl.col("source"))
            .otherwise(pl.col("source")),
        )
        .drop("withdrawn_on_sample", "hit")
    )
    return pl.concat([demo, strong], how="vertical_relaxed")


def _demo_city_landing(profiles: Profiles, last_year: int) -> pl.DataFrame:
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
        joined_on=pl.lit(None, pl.Date),
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
