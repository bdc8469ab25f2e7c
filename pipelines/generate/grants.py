"""SYNTHETIC patent grant records, one row per grant, vectorised (numpy + polars; no per-row Python).

Volumes are REAL: each province's grants by type and year (2010-2023, CNIPA via the yearbook) are spread
over the province's units at FULL volume by a seeded weight (GDP share to a superlinear power, times the unit's
profile) -- these full counts are also what the city-level patent statistics report (city_stats.py). The
records are a binomial sample of each unit's full count at rate ``scale``, so records and statistics
reconcile. Everything about a single record (numbers, dates, names, classes, lapse, high-value flags) is
synthetic but follows the real formats and rough real proportions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.generate import calibration as cal
from pipelines.generate import vocab
from pipelines.generate.profiles import Profiles
from pipelines.generate.units import Units

TYPES = cal.PATENT_TYPES
KIND = {"invention": "B", "utility_model": "U", "design": "S"}
TYPE_DIGIT = {"invention": 1, "utility_model": 2, "design": 3}
PUB_BASE = {"invention": 101_800_000, "utility_model": 201_500_000, "design": 301_200_000}
# Concentration of each type on the economically dominant units (exponent on GDP share).
GDP_EXPONENT = {"invention": 1.4, "utility_model": 1.2, "design": 1.25}
# Filing-to-grant lag in days: lognormal median and sigma, clipped.
LAG_DAYS = {"invention": (820, 0.3, 365, 2200), "utility_model": (290, 0.25, 120, 600), "design": (180, 0.3, 60, 500)}
APPLICANT_TYPES = ("enterprise", "university", "research_institute", "individual", "other")
APPLICANT_P = {
    "invention": (0.69, 0.20, 0.06, 0.035, 0.015),
    "utility_model": (0.78, 0.07, 0.02, 0.11, 0.02),
    "design": (0.62, 0.02, 0.005, 0.35, 0.005),
}
COUNTY_OWN_CODE_SHARE = 0.85  # the rest of a county unit's grants carry the prefecture's code
CHECK_WEIGHTS = np.array([2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5], dtype=np.int64)

GRANT_COLUMNS = (
    "publication_number",
    "application_number",
    "patent_type",
    "kind_code",
    "application_date",
    "grant_date",
    "applicant_name",
    "applicant_type",
    "region_code",
    "ipc_main",
    "lapse_date",
    "hv_strategic_industry",
    "hv_overseas_family",
    "hv_maintained_10y",
    "hv_pledged",
    "hv_award",
    "is_high_value",
)


def check_remainder(number12: np.ndarray) -> np.ndarray:
    """CN application-number check value: digits x 2,3,4,5,6,7,8,9,2,3,4,5 summed, mod 11 (10 is written X)."""
    total = np.zeros(len(number12), dtype=np.int64)
    rest = number12.copy()
    for weight in CHECK_WEIGHTS[::-1]:  # twelve passes over the column, not a loop over rows
        total += (rest % 10) * weight
        rest //= 10
    return total % 11


@dataclass
class GrantModel:
    units: Units
    profiles: Profiles
    volumes: pl.DataFrame  # province_code, year, patent_type, grants (REAL, full volume)
    seed: int
    last_year: int
    scale: float = 1.0  # share of the full volume written as records
    propensity: np.ndarray | None = None

    def __post_init__(self) -> None:
        rng = np.random.default_rng([self.seed, 10])
        prog = self.units.col("is_programme")
        self.propensity = rng.lognormal(0.0, 0.35, len(self.units.codes)) * np.where(prog, 1.3, 1.0)
        self.province = self.units.col("province_code")
        self.provinces = np.unique(self.province)
        self._counts = {
            (r[0], r[1], r[2]): int(round(r[3]))
            for r in self.volumes.select("province_code", "year", "patent_type", "grants").iter_rows()
        }
        self.end = np.datetime64(f"{self.last_year}-12-31")
        self.pub_start = self._publication_blocks()
        codes = list(self.units.codes)
        self.code_series = pl.Series(codes, dtype=pl.String)
        self.parent_index = np.array(
            [codes.index(p) if p in codes else i for i, p in enumerate(self.units.col("parent_code"))]
        )
        self._full: dict[tuple[int, str], np.ndarray] = {}

    def count(self, province: str, year: int, ptype: str) -> int:
        return self._counts.get((province, year, ptype), 0)

    def _publication_blocks(self) -> dict[tuple[str, int], int]:
        """First publication number of each (type, year): blocks sized from the known volumes so numbers
        are unique, ascending with the grant date and keep the type's leading digit."""
        starts = {}
        years = sorted({y for _, y, _ in self._counts})
        for ptype in TYPES:
            pos = PUB_BASE[ptype]
            for year in years:
                starts[(ptype, year)] = pos
                n = sum(self.count(p, year, ptype) for p in self.provinces) * self.scale
                pos += int(n * 1.3 + 5 * np.sqrt(n) + 10)
        return starts

    @property
    def group_code(self) -> np.ndarray:
        """Per unit: 1 lagging, 2 leading, 0 otherwise."""
        g = self.profiles.group
        return np.where(g == "lagging", 1, np.where(g == "leading", 2, 0))

    def weights(self, year: int, ptype: str, level: np.ndarray | None = None) -> np.ndarray:
        yi = self.units.year_index(max(year, int(self.units.years[0])))
        gdp = np.maximum(self.units.alloc_gdp[:, yi], 1e-6)
        level = self.profiles.level["grants"] if level is None else level
        return gdp ** GDP_EXPONENT[ptype] * self.propensity * level * self.profiles.traj("grants", year)

    def anchor_to_published(self, anchors: dict[str, tuple[int, float]]) -> None:
        """Rescale an anchored unit's propensity so that its share of the province's invention grants equals
        the share of the province's real stock in force its published per-capita figure implies (the stock of
        a unit with stable shares follows its grant share). Call once the profiles are set."""
        panel = cal.reference.province_panel()
        codes = list(self.units.codes)
        for code, (year, per_10k) in anchors.items():
            if code not in codes:
                continue
            u = codes.index(code)
            p = self.province[u]
            real = panel.filter(pl.col("province_code") == p, pl.col("year") == year)["in_force_invention"]
            if real.len() == 0 or real[0] is None:
                continue
            pop = self.units.pop[u, self.units.year_index(year)]
            target = min(per_10k * pop / real[0], 0.95)
            members = self.province == p
            w = self.weights(year, "invention")
            current = w[u] / w[members].sum()
            self.propensity[u] *= (target / (1 - target)) / (current / (1 - current))
        self._full.clear()

    def full_counts(self, year: int, ptype: str) -> np.ndarray:
        """Each unit's grants of the type in the year at FULL volume: the real province count spread by the
        weights (multinomial, own random stream so it does not depend on the sampling scale)."""
        key = (year, ptype)
        if key not in self._full:
            rng = np.random.default_rng([self.seed, 12, year, TYPES.index(ptype)])
            w = self.weights(year, ptype)
            counts = np.zeros(len(w), dtype=np.int64)
            for p in self.provinces:
                members = np.flatnonzero(self.province == p)
                n = self.count(p, year, ptype)
                if n:
                    counts[members] = rng.multinomial(n, w[members] / w[members].sum())
            self._full[key] = counts
        return self._full[key]

    def unit_counts(self, year: int, ptype: str, rng: np.random.Generator) -> np.ndarray:
        """Records written per unit: a binomial sample of the full count at rate ``scale``."""
        full = self.full_counts(year, ptype)
        return full if self.scale >= 1 else rng.binomial(full, self.scale)

    def expected_per_capita(self, year: int, level_with_traj: np.ndarray) -> np.ndarray:
        """Expected grants (all types) per 10k people of each unit, for placing the truth units."""
        yi = self.units.year_index(year)
        gdp = np.maximum(self.units.alloc_gdp[:, yi], 1e-6)
        total = np.zeros(len(gdp))
        for ptype in TYPES:
            w = gdp ** GDP_EXPONENT[ptype] * self.propensity * level_with_traj
            for p in self.provinces:
                m = self.province == p
                total[m] += self.count(p, year, ptype) * w[m] / w[m].sum()
        return total / np.maximum(self.units.alloc_pop[:, yi], 0.01)

    def year_frame(self, year: int) -> pl.DataFrame:
        rng = np.random.default_rng([self.seed, 11, year])
        parts = [self._type_frame(year, ptype, rng) for ptype in TYPES]
        return pl.concat([p for p in parts if p.height]) if any(p.height for p in parts) else _empty()

    def _type_frame(self, year: int, ptype: str, rng: np.random.Generator) -> pl.DataFrame:
        counts = self.unit_counts(year, ptype, rng)
        n = int(counts.sum())
        if n == 0:
            return _empty()
        unit = np.repeat(np.arange(len(counts)), counts)
        is_county = self.units.col("is_county")[unit]
        own = ~is_county | (rng.random(n) < COUNTY_OWN_CODE_SHARE)
        region = np.where(own, unit, self.parent_index[unit])
        group = self.group_code[unit]
        quality = self.profiles.q(year)[unit]

        # Grants are announced weekly (Tuesdays); order by date so numbers ascend with it.
        days = np.arange(np.datetime64(f"{year}-01-01"), np.datetime64(f"{year + 1}-01-01"))
        tuesdays = days[(days.astype("datetime64[D]").view("int64") - 5) % 7 == 0]
        grant = np.sort(tuesdays[rng.integers(0, len(tuesdays), n)])  # units keep random dates: no reorder
        med, sigma, lo, hi = LAG_DAYS[ptype]
        lag = np.clip(rng.lognormal(np.log(med), sigma, n), lo, hi).astype(np.int64)
        app = grant - lag.astype("timedelta64[D]")

        start = self.pub_start[(ptype, year)]
        pub = start + np.cumsum(1 + (rng.random(n) < 0.3))
        app_year = app.astype("datetime64[Y]").astype(np.int64) + 1970
        serial = (pub * 7919 + 1234567) % 10_000_000
        number12 = app_year * 100_000_000 + TYPE_DIGIT[ptype] * 10_000_000 + serial
        check = check_remainder(number12)

        p_app = np.array(APPLICANT_P[ptype])
        atype = rng.choice(len(APPLICANT_TYPES), n, p=p_app)
        if ptype == "invention":  # weaker units: fewer enterprise inventions (QLT04)
            weak = (quality < -0.5) & (atype == 0) & (rng.random(n) < 0.3)
            atype = np.where(weak, 3, atype)

        lapse = self._lapse(ptype, grant, app, group, rng)
        hv = self._high_value(ptype, n, atype, quality, app, lapse, rng)
        ipc, strategic = self._ipc(ptype, n, rng)
        if ptype == "invention":
            hv["hv_strategic_industry"] = strategic & (rng.random(n) < 0.38) | (~strategic & (rng.random(n) < 0.03))

        names = self._names(unit, atype, rng)
        frame = pl.DataFrame(
            {
                "pub": pub,
                "number12": number12,
                "check": check,
                "application_date": app,
                "grant_date": grant,
                "applicant_name": names,
                "atype": atype,
                "region_code": self.code_series.gather(pl.Series(region)),
                "ipc_main": ipc,
                "lapse_date": lapse,
                **hv,
            }
        )
        return frame.select(
            publication_number=pl.concat_str(pl.lit("CN"), pl.col("pub").cast(pl.String), pl.lit(KIND[ptype])),
            application_number=pl.concat_str(
                pl.lit("CN"),
                pl.col("number12").cast(pl.String),
                pl.lit("."),
                pl.when(pl.col("check") == 10).then(pl.lit("X")).otherwise(pl.col("check").cast(pl.String)),
            ),
            patent_type=pl.lit(ptype),
            kind_code=pl.lit(KIND[ptype]),
            application_date=pl.col("application_date").cast(pl.Date),
            grant_date=pl.col("grant_date").cast(pl.Date),
            applicant_name="applicant_name",
            applicant_type=pl.col("atype").replace_strict(dict(enumerate(APPLICANT_TYPES)), return_dtype=pl.String),
            region_code="region_code",
            ipc_main="ipc_main",
            lapse_date=pl.col("lapse_date").cast(pl.Date),
            hv_strategic_industry="hv_strategic_industry",
            hv_overseas_family="hv_overseas_family",
            hv_maintained_10y="hv_maintained_10y",
            hv_pledged="hv_pledged",
            hv_award="hv_award",
            is_high_value=pl.any_horizontal(
                "hv_strategic_industry", "hv_overseas_family", "hv_maintained_10y", "hv_pledged", "hv_award"
            ),
        )

    def _lapse(self, ptype, grant, app, group, rng):
        scale, shape = cal.LIFETIME_WEIBULL[ptype]
        scale = np.where(group == 1, scale * 0.5, np.where(group == 2, scale * 1.3, scale))
        # Non-payment shows up at the earliest at the first annual fee after grant (plus grace period).
        life_days = np.maximum((scale * rng.weibull(shape, len(grant)) * 365.25).astype(np.int64), 120)
        lapse = grant + life_days.astype("timedelta64[D]")
        term = cal.TERM_YEARS[ptype]
        if ptype == "design":
            term = np.where(app >= cal.DESIGN_TERM_15_FROM, 15, term)
        expiry = app.astype("datetime64[D]").astype("datetime64[Y]") + np.asarray(term).astype("timedelta64[Y]")
        # Keep month/day of the filing date: expiry = filing date + term years.
        expiry = expiry.astype("datetime64[D]") + (app - app.astype("datetime64[Y]").astype("datetime64[D]"))
        lapse = np.minimum(lapse, expiry)
        return np.where(lapse > self.end, np.datetime64("NaT"), lapse).astype("datetime64[D]")

    def _high_value(self, ptype, n, atype, quality, app, lapse, rng):
        if ptype != "invention":
            false = np.zeros(n, dtype=bool)
            return {
                k: false
                for k in ("hv_strategic_industry", "hv_overseas_family", "hv_maintained_10y", "hv_pledged", "hv_award")
            }
        q = np.exp(0.5 * quality)
        held_until = np.where(np.isnat(lapse), self.end, lapse)
        return {
            "hv_strategic_industry": np.zeros(n, dtype=bool),  # set from the IPC class by the caller
            "hv_overseas_family": rng.random(n) < np.where(atype == 0, 0.09, 0.04) * q,
            "hv_maintained_10y": (held_until - app).astype(np.int64) >= 3652,
            "hv_pledged": rng.random(n) < 0.03 * q,
            "hv_award": rng.random(n) < 0.002 * q,
        }

    def _ipc(self, ptype, n, rng):
        if ptype == "design":
            loc = [c for c, _ in vocab.LOCARNO]
            w = np.array([x for _, x in vocab.LOCARNO], dtype=float)
            idx = rng.choice(len(loc), n, p=w / w.sum())
            frame = pl.DataFrame({"s": pl.Series(loc).gather(pl.Series(idx)), "missing": rng.random(n) < 0.1})
            ipc = frame.select(pl.when(pl.col("missing")).then(None).otherwise(pl.col("s")).alias("s"))["s"]
            return ipc, np.zeros(n, dtype=bool)
        sub = [s for s, _, _ in vocab.IPC_SUBCLASSES]
        w = np.array([x for _, x, _ in vocab.IPC_SUBCLASSES], dtype=float)
        strategic_of = np.array([s for _, _, s in vocab.IPC_SUBCLASSES])
        idx = rng.choice(len(sub), n, p=w / w.sum())
        frame = pl.DataFrame(
            {
                "s": pl.Series(sub).gather(pl.Series(idx)),
                "g": pl.Series(vocab.IPC_GROUPS).gather(pl.Series(rng.integers(0, len(vocab.IPC_GROUPS), n))),
                "d": pl.Series(vocab.IPC_SUBGROUPS).gather(pl.Series(rng.integers(0, len(vocab.IPC_SUBGROUPS), n))),
            }
        )
        ipc = frame.select(pl.concat_str("s", pl.lit(" "), "g", pl.lit("/"), "d"))["s"]
        return ipc, strategic_of[idx]

    def _names(self, unit, atype, rng) -> pl.Series:
        n = len(unit)
        short = pl.Series(self.units.frame["city_name_short"]).gather(pl.Series(unit))
        firm = np.minimum((rng.pareto(1.1, n) * 4).astype(np.int64), 1_000_000)
        nb, ni = len(vocab.BRANDS), len(vocab.INDUSTRIES)

        def pick(words, idx):
            return pl.Series(words).gather(pl.Series(np.asarray(idx) % len(words)))

        frame = pl.DataFrame(
            {
                "short": short,
                "atype": atype,
                "brand": pick(vocab.BRANDS, firm),
                "industry": pick(vocab.INDUSTRIES, firm // nb),
                "suffix": pick(vocab.COMPANY_SUFFIXES, firm // (nb * ni)),
                "uni": pick(vocab.UNIVERSITY_SUFFIXES, np.minimum(firm, 7)),
                "inst": pick(vocab.INSTITUTE_SUFFIXES, firm),
                "other": pick(vocab.OTHER_SUFFIXES, firm),
                "sur": pick(vocab.SURNAMES, rng.integers(0, 10_000, n)),
                "given": pick(vocab.GIVEN_NAMES, rng.integers(0, 10_000, n)),
            }
        )
        return frame.select(
            pl.when(pl.col("atype") == 0)
            .then(pl.concat_str("short", "brand", "industry", "suffix"))
            .when(pl.col("atype") == 1)
            .then(pl.concat_str("short", "uni"))
            .when(pl.col("atype") == 2)
            .then(pl.concat_str("short", "inst"))
            .when(pl.col("atype") == 3)
            .then(pl.concat_str("sur", "given"))
            .otherwise(pl.concat_str("short", "other"))
            .alias("name")
        )["name"]


def _empty() -> pl.DataFrame:
    schema = {c: pl.String for c in GRANT_COLUMNS}
    schema.update({c: pl.Date for c in ("application_date", "grant_date", "lapse_date")})
    schema.update({c: pl.Boolean for c in GRANT_COLUMNS if c.startswith("hv_") or c == "is_high_value"})
    return pl.DataFrame(schema=schema)


def in_force_summary(frame: pl.DataFrame) -> pl.DataFrame:
    """Counts per region, type, high-value flag, grant year and lapse year (null = still in force): enough to
    rebuild in-force stocks at any year end without keeping the records."""
    return frame.group_by(
        "region_code",
        "patent_type",
        "is_high_value",
        grant_year=pl.col("grant_date").dt.year(),
        lapse_year=pl.col("lapse_date").dt.year(),
    ).len("n")
