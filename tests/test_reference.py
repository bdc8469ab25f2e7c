"""The real reference data shipped in data/reference and the readers over it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest

from pipelines import reference
from pipelines.settings import REFERENCE_DIR

SHARED = Path("/work/shared/reference")
FILES = (
    "cities_prefecture_level_2023.csv",
    "modood_provinces.csv",
    "national_ip_demonstration_cities_2012_2016.csv",
    "province_ip_socioeconomic_panel_2005_2024.csv",
    "national_ip_power_targets_and_actuals.csv",
    "cn_kind_codes.csv",
    "cn_number_formats.md",
)


@pytest.mark.parametrize("name", FILES)
def test_file_present_and_documented(name):
    assert (REFERENCE_DIR / name).is_file()
    assert name in (REFERENCE_DIR / "README.md").read_text(encoding="utf-8")


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _manifest() -> dict[str, str]:
    lines = (REFERENCE_DIR / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    return {name: digest for digest, name in (ln.split() for ln in lines if ln.strip() and not ln.startswith("#"))}


@pytest.mark.parametrize("name", FILES)
def test_copy_is_unchanged(name):
    """The project's own copy is byte-for-byte the one recorded with its provenance (data/reference/SHA256SUMS),
    on every clone. Where the team's shared folder exists, the record also matches it (no skip elsewhere: the
    check above is the one that matters to a user's clone)."""
    manifest = _manifest()
    assert name in manifest
    assert _digest(REFERENCE_DIR / name) == manifest[name]
    if SHARED.is_dir() and (SHARED / name).is_file():
        assert _digest(SHARED / name) == manifest[name]


def test_licences_shipped():
    licences = {p.name for p in REFERENCE_DIR.iterdir() if "LICENSE" in p.name}
    assert {
        "areacity_LICENSE.txt",
        "modood_LICENSE.txt",
        "pyecharts_LICENSE_MIT.txt",
        "pypsa_china_pik_LICENSE_MIT.txt",
        "techme_LICENSE_MIT.md",
    } <= licences


def test_prefectures():
    pref = reference.prefectures()
    assert pref.height == 341 and pref["city_code"].n_unique() == 341
    assert pref["city_code"].str.contains(r"^\d{6}$").all()
    assert pref["province_code"].n_unique() == 31
    assert pref["lng"].dtype == pl.Float64 and pref["lng"].null_count() == 5  # Sansha + 4 county groups


def test_roster():
    roster = reference.roster()
    assert roster.height == 64 and roster["unit_code"].n_unique() == 64
    assert roster.filter(pl.col("unit_name") == "常熟")["unit_code"].item() == "320581"
    assert roster.filter(pl.col("unit_name") == "武汉")["unit_code"].item() == "420100"
    assert set(roster["prefecture_code"]) <= set(reference.prefectures()["city_code"])


def test_province_panel_is_one_row_per_province_year():
    panel = reference.province_panel()
    assert panel.select("province_code", "year").is_duplicated().sum() == 0
    inner_mongolia = panel.filter(pl.col("province_code") == "150000", pl.col("year") == 2016).row(0, named=True)
    assert inner_mongolia["population_yearend_10k"] == 2436.0 and inner_mongolia["gdp_100m_yuan"] == 13789.3
    assert inner_mongolia["grants_invention"] == 871.0
    provinces = panel.filter(pl.col("province_code") != reference.NATIONAL_CODE)
    assert provinces["province_code"].n_unique() == 31
    assert provinces.filter(pl.col("year").is_between(2005, 2024))["population_yearend_10k"].null_count() == 0
    national = panel.filter(pl.col("province_code") == reference.NATIONAL_CODE, pl.col("year") == 2023)
    assert national["grants_invention"].item() == 819234.0


def test_national_pledge_actual():
    assert reference.national_pledge_amount_2023() == 8539.9
