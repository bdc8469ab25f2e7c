"""Readers for the real reference files in ``data/reference`` (copied unchanged from their public sources).

Only reading and light reshaping happens here; values are never altered. The province panel has one quirk
worth knowing: Inner Mongolia appears twice per year (spellings "InnerMongolia"/"Innermongolia"), one row
carrying the population and the other the GDP, so rows are coalesced per province and year.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import polars as pl

from pipelines.settings import REFERENCE_DIR

PREFECTURES_FILE = "cities_prefecture_level_2023.csv"
PROVINCES_FILE = "modood_provinces.csv"
ROSTER_FILE = "national_ip_demonstration_cities_2012_2016.csv"
PANEL_FILE = "province_ip_socioeconomic_panel_2005_2024.csv"
NATIONAL_TARGETS_FILE = "national_ip_power_targets_and_actuals.csv"

PANEL_SOURCE = (
    "中国科技统计年鉴 (CNIPA figures) via huhuaping/techme @9ad60a1 (MIT); "
    "population/GDP: NBS via pik-piam/PyPSA-China-PIK @25c83bf (MIT)"
)
PATENT_STATS_SOURCE = "中国科技统计年鉴 (CNIPA figures) via huhuaping/techme @9ad60a1 (MIT)"
PATENT_TYPES = ("invention", "utility_model", "design")
PANEL_PATENT_COLUMNS = tuple(
    f"{measure}_{kind}" for measure in ("grants", "in_force") for kind in (*PATENT_TYPES, "total")
)
NATIONAL_CODE = "000000"  # the 全国 row: includes Hong Kong, Macao, Taiwan and foreign applicants


def _read(name: str, reference_dir: Path | None) -> pl.DataFrame:
    # Codes stay strings: a leading zero or a "000000" must survive.
    return pl.read_csv((reference_dir or REFERENCE_DIR) / name, infer_schema=False)


@lru_cache(maxsize=4)
def prefectures(reference_dir: Path | None = None) -> pl.DataFrame:
    """The 341 prefecture-level units, 2023 edition, with typed coordinates."""
    return _read(PREFECTURES_FILE, reference_dir).with_columns(
        pl.col("lng").cast(pl.Float64), pl.col("lat").cast(pl.Float64)
    )


@lru_cache(maxsize=4)
def provinces(reference_dir: Path | None = None) -> pl.DataFrame:
    return _read(PROVINCES_FILE, reference_dir).with_columns(province_code=pl.col("code") + "0000")


@lru_cache(maxsize=4)
def roster(reference_dir: Path | None = None) -> pl.DataFrame:
    """The 64 national IP demonstration units with the code each unit is known by (``unit_code``)."""
    return _read(ROSTER_FILE, reference_dir).with_columns(
        unit_code=pl.coalesce(
            pl.when(pl.col("county_or_district_code_2023") != "").then(pl.col("county_or_district_code_2023")),
            pl.col("prefecture_code"),
        ),
        first_designation_year=pl.col("first_designation_year").cast(pl.Int64),
    )


@lru_cache(maxsize=4)
def province_panel(reference_dir: Path | None = None) -> pl.DataFrame:
    """One row per (province_code, year) for 全国 and the 31 provinces, 2005–2024; numbers as floats, nulls kept."""
    raw = _read(PANEL_FILE, reference_dir)
    numeric = [c for c in raw.columns if c not in ("province", "province_code", "province_en", "year")]
    return (
        raw.with_columns(pl.col(numeric).cast(pl.Float64), pl.col("year").cast(pl.Int64))
        .group_by("province_code", "year", maintain_order=True)
        .agg(pl.col("province").first(), *[pl.col(c).drop_nulls().first() for c in numeric])
        .sort("province_code", "year")
    )


def national_pledge_amount_2023(reference_dir: Path | None = None) -> float:
    """Real patent+trademark pledge financing registered in 2023, 亿元 (8539.9)."""
    rows = _read(NATIONAL_TARGETS_FILE, reference_dir).filter(
        pl.col("indicator_en").str.starts_with("Patent+trademark pledge") & (pl.col("actual_year") == "2023")
    )
    return float(rows["actual_value"][0])
