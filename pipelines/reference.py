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


# ---------------------------------------------------------------------------------------------------------------
# The strong-city programme roster (2022 onwards): named units only, codes derived from the divisions files.

STRONG_CITY_ROSTER_FILE = "ip_strong_city_roster_2022_partial.csv"
STRONG_CITY_BATCH_FILE = "ip_strong_city_pilot_demo_2022_metadata.csv"
AREAS_FILE = "modood_areas.csv"

# Programme codes: the stable keys the marts, the rules and the UI use; the Chinese names are the roster's.
PROGRAMME_DEMO_CITY = "demo_city"
PROGRAMME_STRONG_DEMO = "strong_city_demo"
PROGRAMME_STRONG_PILOT = "strong_city_pilot"
PROGRAMME_NAMES = {
    PROGRAMME_DEMO_CITY: "国家知识产权示范城市",
    PROGRAMME_STRONG_DEMO: "国家知识产权强市建设示范城市",
    PROGRAMME_STRONG_PILOT: "国家知识产权强市建设试点城市",
}
_ROLE_TO_PROGRAMME = {"demonstration": PROGRAMME_STRONG_DEMO, "pilot": PROGRAMME_STRONG_PILOT}

# The roster's batch text -> (cohort, joining date). The 2022 batch joined on the notice date (国知发运字〔2022〕33号,
# announced 2022-08-11, see the batch metadata file); later batches are known to the month only, so they join on
# the first day of that month. A unit whose batch the sources leave open ("2022-08 or 2024-01") joins with the
# LATER batch: it is never evaluated for years in which it may not yet have been in the programme.
BATCHES = {
    "2022-08": ("2022-08", "2022-08-11"),
    "2024-01": ("2024-01", "2024-01-01"),
    "2026-03": ("2026-03", "2026-03-01"),
}


class RosterMappingError(ValueError):
    """A roster unit name that does not map to exactly one GB/T 2260 code."""


@lru_cache(maxsize=4)
def areas(reference_dir: Path | None = None) -> pl.DataFrame:
    """County-level divisions (districts, county-level cities, counties) of modood @57a0aa9."""
    return _read(AREAS_FILE, reference_dir).select(
        code="code", name="name", city_code=pl.col("cityCode") + "00", province_code=pl.col("provinceCode") + "0000"
    )


def _province_code(short_name: str, provs: pl.DataFrame) -> str:
    hit = provs.filter(pl.col("name").str.starts_with(short_name))
    if hit.height != 1:
        raise RosterMappingError(f"province '{short_name}' matches {hit.height} provinces")
    return hit["province_code"][0]


def _batch(text: str) -> tuple[str, str, str]:
    """(cohort, joined_on, batch_note) of the roster's batch text."""
    found = [key for key in BATCHES if key in text]
    if not found:
        raise RosterMappingError(f"unknown batch '{text}'")
    latest = max(found)  # an unclear batch joins with the later candidate
    cohort, joined_on = BATCHES[latest]
    note = (
        "batch unclear in the sources; joined with the later candidate batch"
        if len(found) > 1 or (text.startswith("unclear"))
        else ""
    )
    return cohort, joined_on, note


@lru_cache(maxsize=4)
def strong_city_roster(reference_dir: Path | None = None) -> pl.DataFrame:
    """The strong-city roster as far as public sources name it, each unit with its GB/T 2260 code.

    Codes are derived, never typed: a prefecture-level name (石家庄市) is matched within its province in the 2023
    prefecture file, a district or county-level name (海淀区) within its province in modood's county-level
    divisions. A name that matches no code or several raises RosterMappingError naming the row. The pilots no
    public source names are absent: see ``strong_city_batches`` for how many the notice announced.
    """
    raw = _read(STRONG_CITY_ROSTER_FILE, reference_dir)
    provs = provinces(reference_dir)
    pref = prefectures(reference_dir)
    county = areas(reference_dir)
    rows = []
    for i, r in enumerate(raw.iter_rows(named=True), start=2):
        where = f"{STRONG_CITY_ROSTER_FILE} row {i} ({r['province']} {r['unit_name']})"
        try:
            prov = _province_code(r["province"], provs)
            cohort, joined_on, batch_note = _batch(r["batch"])
        except RosterMappingError as e:
            raise RosterMappingError(f"{where}: {e}") from None
        name = r["unit_name"]
        hits = pref.filter(pl.col("province_code") == prov, pl.col("city_name") == name)
        level = None
        if hits.height == 1:
            code, level, parent = hits["city_code"][0], hits["level"][0], prov
        else:
            hits = county.filter(pl.col("province_code") == prov, pl.col("name") == name)
            if hits.height != 1:
                raise RosterMappingError(f"{where}: name matches {hits.height} divisions, expected exactly one")
            code, parent = hits["code"][0], hits["city_code"][0]
            level = "municipal_district" if name.endswith("区") else "county_level_city"
        if r["role"] not in _ROLE_TO_PROGRAMME:
            raise RosterMappingError(f"{where}: unknown role '{r['role']}'")
        rows.append(
            {
                "unit_code": code,
                "unit_name": name,
                "province_code": prov,
                "level": level,
                "parent_code": parent,
                "programme_code": _ROLE_TO_PROGRAMME[r["role"]],
                "programme": PROGRAMME_NAMES[_ROLE_TO_PROGRAMME[r["role"]]],
                "cohort": cohort,
                "cohort_year": int(cohort[:4]),
                "joined_on": joined_on,
                "batch": r["batch"],
                "batch_note": batch_note,
                "confidence": r["confidence"],
                "source_url": r["source_url"],
                "source_quote": r["source_quote"],
            }
        )
    out = pl.DataFrame(rows).with_columns(pl.col("joined_on").str.to_date())
    dupes = out.filter(pl.struct("unit_code", "programme_code", "cohort").is_duplicated())
    if dupes.height:
        raise RosterMappingError(f"{STRONG_CITY_ROSTER_FILE}: duplicate units {dupes['unit_name'].to_list()}")
    return out


def strong_city_promotions(reference_dir: Path | None = None) -> pl.DataFrame:
    """Pilot -> demonstration promotions the roster shows: a unit named as a pilot and later as a demonstration
    unit. The pilot membership ends on the day the demonstration one begins."""
    roster = strong_city_roster(reference_dir)
    pilots = roster.filter(pl.col("programme_code") == PROGRAMME_STRONG_PILOT)
    demos = roster.filter(pl.col("programme_code") == PROGRAMME_STRONG_DEMO)
    return (
        pilots.join(demos, on="unit_code", suffix="_demo")
        .filter(pl.col("joined_on_demo") > pl.col("joined_on"))
        .select("unit_code", pilot_cohort="cohort", promoted_on="joined_on_demo", demo_cohort="cohort_demo")
    )


def strong_city_batches(reference_dir: Path | None = None) -> pl.DataFrame:
    """The 2022 batch as announced: how many demonstration and pilot units the notice named in total."""
    return _read(STRONG_CITY_BATCH_FILE, reference_dir).with_columns(
        pl.col("demo_cities_count").cast(pl.Int64), pl.col("pilot_cities_count").cast(pl.Int64)
    )


@lru_cache(maxsize=1)
def former_units() -> tuple[tuple[str, str, str, str, str, str, str], ...]:
    """The prefecture-level units that changed since the programme's data begin, by their old name: renamed under
    the same code and abolished (seed unit_name_changes), and merged into another (unit_code_changes' 'merged'
    rows: 莱芜市 into 济南市). The recoded 地区 are not here: their old names read as the new unit in any period
    (validate.unit_names_of derives 海东地区 etc.). Read from the dbt seeds, the one place these are written down."""
    import csv

    from pipelines.labels import SEEDS_DIR

    out = []
    for seed, kinds in (("unit_name_changes.csv", ("renamed", "abolished")), ("unit_code_changes.csv", ("merged",))):
        with open(SEEDS_DIR / seed, encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                if r["change_kind"] in kinds:
                    out.append(
                        (
                            r["old_name"],
                            r["old_code"],
                            r["new_code"],
                            r["new_name"],
                            r["change_kind"],
                            r["approved_on"],
                            r["document"],
                        )
                    )
    return tuple(out)


@lru_cache(maxsize=1)
def replaced_codes() -> frozenset[str]:
    """The old codes of unit_code_changes (371200 莱芜市, 522200 铜仁地区, ...): staging reads a row sent under one as
    the unit of its new code (macro current_region_code), so the loader takes them as known codes."""
    import csv

    from pipelines.labels import SEEDS_DIR

    with open(SEEDS_DIR / "unit_code_changes.csv", encoding="utf-8", newline="") as f:
        return frozenset(r["old_code"] for r in csv.DictReader(f) if r["old_code"])
