"""The units every generated record belongs to, and their population and GDP.

REAL: the 341 prefecture-level units, the 64-unit programme roster, province population and GDP 2005-2024.
SYNTHETIC: each city's share of its province (seeded, smooth drift), the county-level programme units' share
of their parent, and every value after 2024.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines import reference

PROGRAMME = "国家知识产权示范城市"
POP_FIRST_YEAR, POP_LAST_REAL_YEAR = 2005, 2024
SYNTHETIC_POP_SOURCE = "SYNTHETIC sample: city share of the real province total (seeded)"
EXTRAPOLATED_SOURCE = "SYNTHETIC: extrapolated from the real 2023-2024 province trend"

# Rough population share of their parent for the county-level programme units (approximate 2020 census
# magnitudes, used only to make the synthetic shares plausible; jittered ±10 % by the seed).
COUNTY_POP_SHARE = {
    "320581": 0.13,
    "320583": 0.16,
    "320281": 0.24,
    "321181": 0.30,
    "320582": 0.11,
    "110105": 0.16,
    "110108": 0.14,
    "310112": 0.11,
    "120111": 0.08,
    "500105": 0.03,
    "370215": 0.13,
    "320614": 0.13,
    "341881": 0.15,
    "330782": 0.26,
}

# Hanyu pinyin of the county-level programme units (the prefecture file has pinyin, the roster does not), so
# every unit has an English name.
COUNTY_PINYIN = {
    "320581": "chang shu",
    "320583": "kun shan",
    "320281": "jiang yin",
    "321181": "dan yang",
    "320582": "zhang jia gang",
    "110105": "chao yang",
    "110108": "hai dian",
    "310112": "min hang",
    "120111": "xi qing",
    "500105": "jiang bei",
    "370215": "ji mo",
    "320614": "hai men",
    "341881": "ning guo",
    "330782": "yi wu",
    # municipal districts on the real 2022 roster (read from the roster file, not the prefecture file)
    "110106": "feng tai",
    "110114": "chang ping",
    "120116": "bin hai",
    "310115": "pu dong",
}


# Large non-capital economies (sub-provincial cities and the biggest manufacturing centres): their synthetic
# size and productivity get a boost so the sample does not make, say, Shenzhen a small city.
MAJOR_CITIES = frozenset(
    {
        "440300",
        "320500",
        "330200",
        "370200",
        "210200",
        "350200",
        "320200",
        "440600",
        "441900",
        "350500",
        "130200",
        "370600",
        "320600",
        "330300",
        "320400",
        "440400",
    }
)


@dataclass
class Units:
    """Prefecture-level units first (file order), then the county-level programme units."""

    frame: pl.DataFrame  # one row per unit, see build_units
    years: np.ndarray  # population years
    pop: np.ndarray  # [unit, year] 万人 (full unit, as published)
    gdp: np.ndarray  # [unit, year] 亿元
    alloc_pop: np.ndarray  # [unit, year] parents net of their programme counties: what allocation uses
    alloc_gdp: np.ndarray
    province_pop: pl.DataFrame  # province_code, year, population_10k, gdp_100m_yuan, source

    @property
    def codes(self) -> np.ndarray:
        return self.frame["city_code"].to_numpy()

    def year_index(self, year: int) -> int:
        return int(year - self.years[0])

    def col(self, name: str) -> np.ndarray:
        return self.frame[name].to_numpy()


def build_units() -> pl.DataFrame:
    """Landing-shaped cities table (contract columns) plus helper columns prefixed by nothing the contract uses."""
    pref = reference.prefectures()
    roster = reference.roster()
    prog = roster.select(
        "unit_code",
        "unit_name",
        "cohort",
        cohort_year="first_designation_year",
        source_url="source_url",
        roster_level="admin_level",
        roster_parent="prefecture_code",
    )
    base = pref.select(
        "province_code",
        "province_name",
        "city_code",
        "city_name",
        "city_name_short",
        "level",
        parent_code=pl.col("province_code"),
        pinyin="pinyin",
        lng="lng",
        lat="lat",
        coord_note=pl.when(pl.col("coord_note") != "").then(pl.col("coord_note")),
    )
    counties = (
        prog.filter(pl.col("roster_level") != "prefecture")
        .join(
            pref.select("city_code", "province_code", "province_name", "lng", "lat"),
            left_on="roster_parent",
            right_on="city_code",
        )
        .select(
            "province_code",
            "province_name",
            city_code="unit_code",
            city_name=pl.when(pl.col("unit_name").str.ends_with("区") | pl.col("unit_name").str.ends_with("市"))
            .then(pl.col("unit_name"))
            .otherwise(pl.col("unit_name") + "市"),
            city_name_short=pl.col("unit_name").str.strip_suffix("区"),
            level="roster_level",
            parent_code="roster_parent",
            pinyin=pl.col("unit_code").replace_strict(COUNTY_PINYIN, default=None, return_dtype=pl.String),
            lng="lng",
            lat="lat",
            coord_note=pl.lit("coordinates of the parent prefecture (county-level unit)"),
        )
    )
    units = pl.concat([base, counties], how="vertical_relaxed")
    return units.join(
        prog.select("unit_code", "cohort", "cohort_year", "source_url"),
        left_on="city_code",
        right_on="unit_code",
        how="left",
        maintain_order="left",
    ).with_columns(
        is_programme=pl.col("cohort").is_not_null(),
        is_county=pl.col("level").is_in(["county_level_city", "municipal_district"]),
        is_capital=pl.col("city_code").str.ends_with("0100") & (pl.col("level") != "municipality"),
        prefecture_code=pl.when(pl.col("level").is_in(["county_level_city", "municipal_district"]))
        .then(pl.col("parent_code"))
        .otherwise(pl.col("city_code")),
    )


def province_population(last_year: int) -> pl.DataFrame:
    """REAL province population/GDP 2005-2024 (+ extrapolated later years, marked synthetic)."""
    panel = (
        reference.province_panel()
        .filter(
            pl.col("province_code") != reference.NATIONAL_CODE,
            pl.col("year").is_between(POP_FIRST_YEAR, POP_LAST_REAL_YEAR),
        )
        .select("province_code", "year", population_10k="population_yearend_10k", gdp_100m_yuan="gdp_100m_yuan")
    )
    frames = [panel.with_columns(source=pl.lit(reference.PANEL_SOURCE))]
    last = panel.filter(pl.col("year") == POP_LAST_REAL_YEAR)
    prev = panel.filter(pl.col("year") == POP_LAST_REAL_YEAR - 1).select(
        "province_code", p0="population_10k", g0="gdp_100m_yuan"
    )
    trend = last.join(prev, on="province_code")
    for year in range(POP_LAST_REAL_YEAR + 1, last_year + 1):
        k = year - POP_LAST_REAL_YEAR
        frames.append(
            trend.select(
                "province_code",
                year=pl.lit(year, pl.Int64),
                population_10k=(pl.col("population_10k") * (pl.col("population_10k") / pl.col("p0")) ** k).round(0),
                gdp_100m_yuan=(
                    pl.col("gdp_100m_yuan") * (pl.col("gdp_100m_yuan") / pl.col("g0")).clip(1.0, 1.08) ** k
                ).round(1),
                source=pl.lit(EXTRAPOLATED_SOURCE),
            )
        )
    return pl.concat(frames).sort("province_code", "year")


def _allocate_exact(total: float, shares: np.ndarray) -> np.ndarray:
    """Split total into 2-decimal parts that add up exactly (largest remainder in hundredths)."""
    cents = int(round(total * 100))
    raw = shares / shares.sum() * cents
    parts = np.floor(raw).astype(np.int64)
    rest = cents - parts.sum()
    parts[np.argsort(-(raw - parts), kind="stable")[:rest]] += 1
    # Every unit keeps at least 0.01 (the contract's minimum); the largest unit gives the cents back.
    short = np.maximum(1 - parts, 0)
    parts += short
    parts[np.argmax(parts)] -= short.sum()
    return parts / 100.0


def build_population(seed: int, last_year: int) -> Units:
    frame = build_units()
    prov = province_population(max(last_year, POP_LAST_REAL_YEAR))
    years = np.arange(POP_FIRST_YEAR, max(last_year, POP_LAST_REAL_YEAR) + 1)
    rng = np.random.default_rng([seed, 1])
    n = frame.height
    level = frame["level"].to_numpy()
    capital = frame["is_capital"].to_numpy()
    programme = frame["is_programme"].to_numpy()
    county = frame["is_county"].to_numpy()
    codes = frame["city_code"].to_numpy()
    t = (years - POP_FIRST_YEAR)[None, :]

    # Size and drift: capitals and programme cities are larger and grow faster; Sansha is tiny.
    size = rng.lognormal(0.0, 0.35, n) * np.where(capital, 1.9, 1.0) * np.where(programme, 1.4, 1.0)
    major = np.isin(codes, list(MAJOR_CITIES))
    size = np.where(major, size * 1.8, size)
    size = np.where(level == "direct_county_group", size * 0.8, size)
    size = np.where(codes == "460300", 0.0004, size)
    drift = rng.normal(0.0, 0.006, n) + np.where(capital, 0.006, 0.0) + np.where(programme, 0.003, 0.0)
    productivity = (
        rng.lognormal(0.0, 0.3, n)
        * np.where(capital, 1.5, 1.0)
        * np.where(programme, 1.35, 1.0)
        * np.where(major, 1.5, 1.0)
    )
    prod_drift = rng.normal(0.0, 0.008, n) + np.where(programme, 0.004, 0.0)
    pop_w = size[:, None] * np.exp(drift[:, None] * t)
    gdp_w = pop_w * productivity[:, None] * np.exp(prod_drift[:, None] * t)

    pop = np.zeros((n, len(years)))
    gdp = np.zeros((n, len(years)))
    province = frame["province_code"].to_numpy()
    prov_vals = {
        (r["province_code"], r["year"]): (r["population_10k"], r["gdp_100m_yuan"]) for r in prov.iter_rows(named=True)
    }
    for p in np.unique(province):
        members = np.flatnonzero((province == p) & ~county)
        for j, year in enumerate(years):
            p_total, g_total = prov_vals[(p, int(year))]
            pop[members, j] = _allocate_exact(p_total, pop_w[members, j])
            gdp[members, j] = _allocate_exact(g_total, gdp_w[members, j])

    # County-level programme units: a share of their parent, not part of the province sum.
    alloc_pop, alloc_gdp = pop.copy(), gdp.copy()
    index = {c: i for i, c in enumerate(codes)}
    parent = frame["parent_code"].to_numpy()
    for i in np.flatnonzero(county):
        share = COUNTY_POP_SHARE.get(codes[i], 0.12) * rng.uniform(0.9, 1.1)
        share_t = share * np.exp(rng.normal(0.004, 0.003) * (years - POP_FIRST_YEAR))
        gdp_uplift = rng.uniform(1.15, 1.6)
        pi = index[parent[i]]
        pop[i] = np.round(pop[pi] * share_t, 2)
        gdp[i] = np.round(gdp[pi] * np.minimum(share_t * gdp_uplift, 0.6), 2)
        alloc_pop[pi] -= pop[i]
        alloc_gdp[pi] -= gdp[i]
        alloc_pop[i], alloc_gdp[i] = pop[i], gdp[i]
    return Units(
        frame=frame, years=years, pop=pop, gdp=gdp, alloc_pop=alloc_pop, alloc_gdp=alloc_gdp, province_pop=prov
    )


def population_landing(units: Units) -> pl.DataFrame:
    """Landing rows: provinces REAL (extrapolated years marked), cities and county units SYNTHETIC."""
    prov = units.province_pop.select(
        region_code="province_code",
        year="year",
        population_10k="population_10k",
        gdp_100m_yuan="gdp_100m_yuan",
        source="source",
    )
    n, m = units.pop.shape
    cities = pl.DataFrame(
        {
            "region_code": np.repeat(units.codes, m),
            "year": np.tile(units.years, n).astype(np.int64),
            "population_10k": units.pop.reshape(-1),
            "gdp_100m_yuan": units.gdp.reshape(-1),
        }
    ).with_columns(
        source=pl.when(pl.col("year") > POP_LAST_REAL_YEAR)
        .then(pl.lit(SYNTHETIC_POP_SOURCE + "; province total extrapolated"))
        .otherwise(pl.lit(SYNTHETIC_POP_SOURCE))
    )
    return pl.concat([prov, cities]).sort("region_code", "year")
