"""SYNTHETIC pledge-loan statistics, enforcement cases and training events per unit.

No real city series exist for these; national totals follow the real anchors in calibration.py and are
spread over units by seeded weights (economic size, the unit's profile and a year trajectory).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.generate import calibration as cal
from pipelines.generate import vocab
from pipelines.generate.profiles import Profiles
from pipelines.generate.units import Units
from pipelines.sources import AUDIENCES, CASE_TYPES, RESOLUTIONS

# Pledge registrations peak before the mid-year and year-end reporting dates.
MONTH_SEASON = np.array([0.6, 0.55, 0.9, 0.95, 0.95, 1.3, 0.85, 0.85, 1.0, 0.85, 1.0, 1.6])
# Case mix moves from counterfeit-patent campaigns (2016-2017) towards infringement disputes (2023).
CASE_MIX = {
    2016: (0.35, 0.40, 0.12, 0.06, 0.03, 0.01, 0.03),
    2023: (0.55, 0.05, 0.22, 0.10, 0.02, 0.02, 0.04),
}
AUDIENCE_P = (0.18, 0.42, 0.12, 0.12, 0.16)
HOURS = (np.array([2, 3, 4, 6, 8, 16, 24, 32], dtype=float), np.array([0.2, 0.25, 0.2, 0.12, 0.12, 0.06, 0.03, 0.02]))


class ActivityModel:
    def __init__(
        self,
        units: Units,
        profiles: Profiles,
        seed: int,
        scale: float,
        last_year: int,
        case_scale: float | None = None,
    ):
        self.units, self.profiles, self.seed, self.scale = units, profiles, seed, scale
        # Enforcement case records are few (~110k a year nationally, all offices' own files): the default
        # sample writes them complete (case_scale 1), so PRO04 is of the real order; small test samples keep
        # them at the sample rate. None = the sample rate.
        self.case_scale = scale if case_scale is None else case_scale
        self.end = np.datetime64(f"{last_year}-12-31")
        rng = np.random.default_rng([seed, 20])
        n = len(units.codes)
        prog = units.col("is_programme")
        self.noise = {
            "pledge": rng.lognormal(0.0, 0.4, n) * np.where(prog, 1.3, 1.0),
            "cases": rng.lognormal(0.0, 0.35, n) * np.where(prog, 1.5, 1.0),
            "training": rng.lognormal(0.0, 0.3, n) * np.where(prog, 1.4, 1.0),
        }

    # -- weights (also used to place the truth units) -------------------------------------------------
    def _yi(self, year: int) -> int:
        return self.units.year_index(year)

    def pledge_share(self, year: int, level: np.ndarray | None = None) -> np.ndarray:
        lv = self.profiles.level["pledge"] * self.profiles.traj("pledge", year) if level is None else level
        w = np.maximum(self.units.alloc_gdp[:, self._yi(year)], 1e-6) ** 1.15 * self.noise["pledge"] * lv
        return w / w.sum()

    def pledge_intensity(self, year: int, level: np.ndarray) -> np.ndarray:
        return self.pledge_share(year, level) / np.maximum(self.units.alloc_gdp[:, self._yi(year)], 1e-6)

    def case_share(self, year: int, level: np.ndarray | None = None) -> np.ndarray:
        lv = self.profiles.level["cases"] * self.profiles.traj("cases", year) if level is None else level
        yi = self._yi(year)
        size = np.sqrt(np.maximum(self.units.alloc_pop[:, yi], 0.01) * np.maximum(self.units.alloc_gdp[:, yi], 1e-6))
        w = size * self.noise["cases"] * lv
        return w / w.sum()

    def case_intensity(self, year: int, level: np.ndarray) -> np.ndarray:
        return self.case_share(year, level) / np.maximum(self.units.alloc_pop[:, self._yi(year)], 0.01)

    def training_rate(self, year: int, level: np.ndarray | None = None) -> np.ndarray:
        lv = self.profiles.level["training"] * self.profiles.traj("training", year) if level is None else level
        pop = np.maximum(self.units.alloc_pop[:, self._yi(year)], 0.01)
        return (4 + 30 * (pop / 600) ** 0.6) * self.noise["training"] * lv * 1.04 ** (year - 2016)

    def training_intensity(self, year: int, level: np.ndarray) -> np.ndarray:
        return self.training_rate(year, level) / np.maximum(self.units.alloc_pop[:, self._yi(year)], 0.01)

    # -- pledge loans: one row per unit and month ------------------------------------------------------
    def pledge_year(self, year: int) -> pl.DataFrame:
        rng = np.random.default_rng([self.seed, 21, year])
        n = len(self.units.codes)
        avg = cal.avg_loan_10k(year)
        annual_amount = cal.pledge_national_100m(year) * 10_000 * self.pledge_share(year)  # 万元
        season = MONTH_SEASON / MONTH_SEASON.sum()
        lam = (annual_amount / avg)[:, None] * season[None, :] * rng.lognormal(0, 0.15, (n, 12))
        reg = rng.poisson(lam)
        sigma = 0.5
        amount = reg * avg * rng.lognormal(-(sigma**2) / 2, sigma, reg.shape)
        q = np.repeat(self.profiles.q(year)[:, None], 12, axis=1)
        patents = rng.poisson(reg * 2.0) + (reg > 0)
        trademarks = rng.poisson(reg * 0.9)
        firms = np.minimum(reg, rng.binomial(reg, 0.9) + (reg > 0))
        first = rng.binomial(firms, np.clip(0.42 + 0.12 * q, 0.1, 0.8))
        months = np.array([np.datetime64(f"{year}-{m:02d}-01") for m in range(1, 13)])
        return pl.DataFrame(
            {
                "city_code": np.repeat(self.units.codes, 12),
                "month": np.tile(months, n),
                "registrations": reg.reshape(-1),
                "amount_10k_yuan": np.round(amount.reshape(-1), 2),
                "patents_pledged": patents.reshape(-1),
                "trademarks_pledged": trademarks.reshape(-1),
                "enterprises_served": firms.reshape(-1),
                "first_time_borrowers": first.reshape(-1),
            }
        ).with_columns(pl.col("month").cast(pl.Date))

    # -- enforcement cases -------------------------------------------------------------------------------
    def cases_year(self, year: int) -> pl.DataFrame:
        rng = np.random.default_rng([self.seed, 22, year])
        counts = rng.poisson(cal.cases_national(year) * self.case_scale * self.case_share(year))
        n = int(counts.sum())
        unit = np.repeat(np.arange(len(counts)), counts)
        q = self.profiles.q(year)[unit]
        days = np.arange(np.datetime64(f"{year}-01-01"), np.datetime64(f"{year + 1}-01-01"))
        filed = days[rng.integers(0, len(days), n)]
        order = np.lexsort((filed, unit))
        unit, q, filed = unit[order], q[order], filed[order]
        seq = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts) + 1

        w = np.clip((year - 2016) / 7, 0, 1)
        mix = (1 - w) * np.array(CASE_MIX[2016]) + w * np.array(CASE_MIX[2023])
        ctype = rng.choice(len(CASE_TYPES), n, p=mix / mix.sum())
        duration = np.maximum(rng.lognormal(np.log(75) - 0.5 * q, 0.6), 3).astype(np.int64)
        stale = rng.random(n) < np.clip(0.03 * np.exp(-1.5 * q), 0.005, 0.5)
        closed = filed + duration.astype("timedelta64[D]")
        is_closed = ~stale & (closed <= self.end)

        mediation = np.clip(0.38 + 0.12 * q, 0.1, 0.7)
        dispute = ctype == CASE_TYPES.index("patent_infringement_dispute")
        # columns follow RESOLUTIONS: ruling, mediation, court, withdrawn, penalty, dismissed
        p = np.where(
            dispute[:, None],
            np.stack(
                [0.42 - mediation / 2, mediation, np.full(n, 0.08), np.full(n, 0.12), np.zeros(n), np.full(n, 0.05)], 1
            ),
            np.stack(
                [
                    np.full(n, 0.05),
                    mediation / 3,
                    np.full(n, 0.05),
                    np.full(n, 0.05),
                    np.full(n, 0.72),
                    np.full(n, 0.08),
                ],
                1,
            ),
        )
        p = np.clip(p, 0.0, None)
        p /= p.sum(axis=1, keepdims=True)
        resolution = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
        frame = pl.DataFrame(
            {
                "unit": self.units.codes[unit],
                "seq": seq,
                "city_code": self.units.codes[unit],
                "ctype": ctype,
                "filed_date": filed,
                "closed": np.where(is_closed, closed, np.datetime64("NaT")),
                "res": np.where(is_closed, resolution, -1),
            }
        )
        return frame.select(
            case_id=pl.concat_str(
                pl.lit("AJ"), pl.col("unit"), pl.lit(f"-{year}-"), pl.col("seq").cast(pl.String).str.zfill(5)
            ),
            city_code="city_code",
            case_type=pl.col("ctype").replace_strict(dict(enumerate(CASE_TYPES)), return_dtype=pl.String),
            filed_date=pl.col("filed_date").cast(pl.Date),
            closed_date=pl.col("closed").cast(pl.Date),
            resolution=pl.col("res").replace_strict({-1: None, **dict(enumerate(RESOLUTIONS))}, return_dtype=pl.String),
        )

    # -- training events -----------------------------------------------------------------------------------
    def training_year(self, year: int) -> pl.DataFrame:
        rng = np.random.default_rng([self.seed, 23, year])
        counts = rng.poisson(self.training_rate(year))
        n = int(counts.sum())
        unit = np.repeat(np.arange(len(counts)), counts)
        q = self.profiles.q(year)[unit]
        p_aud = np.tile(np.array(AUDIENCE_P), (n, 1))
        p_aud[:, 0] *= np.exp(0.4 * q)  # better-run programmes train more officials
        p_aud /= p_aud.sum(axis=1, keepdims=True)
        aud = (rng.random(n)[:, None] > np.cumsum(p_aud, axis=1)).sum(axis=1)
        aud = np.minimum(aud, len(AUDIENCES) - 1)
        days = np.arange(np.datetime64(f"{year}-01-01"), np.datetime64(f"{year + 1}-01-01"))
        date = days[rng.integers(0, len(days), n)]
        week_426 = np.datetime64(f"{year}-04-20") + rng.integers(0, 7, n).astype("timedelta64[D]")
        public = aud == AUDIENCES.index("public")
        date = np.where(public & (rng.random(n) < 0.5), week_426, date)
        order = np.lexsort((date, unit))
        unit, aud, date, q = unit[order], aud[order], date[order], q[order]
        seq = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts) + 1
        participants = np.clip(rng.lognormal(np.log(80) + 0.15 * q, 0.6), 20, 500).astype(np.int64)
        hours = rng.choice(HOURS[0], n, p=HOURS[1])
        title_idx = rng.integers(0, 1000, n)
        titles = np.empty(n, dtype=object)
        for a, name in enumerate(AUDIENCES):  # five audiences, not rows
            m = aud == a
            opts = vocab.TRAINING_TITLES[name]
            titles[m] = np.array(opts, dtype=object)[title_idx[m] % len(opts)]
        frame = pl.DataFrame(
            {
                "unit": self.units.codes[unit],
                "seq": seq,
                "event_date": date,
                "aud": aud,
                "participants": participants,
                "hours": hours,
                "title": titles,
            }
        )
        return frame.select(
            event_id=pl.concat_str(
                pl.lit("PX"), pl.col("unit"), pl.lit(f"-{year}-"), pl.col("seq").cast(pl.String).str.zfill(4)
            ),
            city_code="unit",
            event_date=pl.col("event_date").cast(pl.Date),
            audience=pl.col("aud").replace_strict(dict(enumerate(AUDIENCES)), return_dtype=pl.String),
            participants="participants",
            hours="hours",
            title=pl.col("title").cast(pl.String),
        )
