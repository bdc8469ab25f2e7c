"""Who lags, who leads, who sits on the border: the known truth behind the sample data, and the per-unit
levels and trajectories that make every source tell the same story.

Each source allocates a national (or province) total over units with a weight
``weight[u] * level[source][u] * trajectory[source][u, year]``. Programme units chosen as
- LAGGING get levels that put them far below programme peers (half the 10th percentile of intensity in 2016),
  stagnate in absolute terms 2017-2019 and decline by 15 %/year from 2020, with worse quality parameters;
- LEADING get at least 1.15 x the 85th percentile and grow 10 %/year faster than the rest from 2017;
- BORDERLINE sit at the lower-third boundary (33rd percentile), strong in some pillars and weak in others,
  with ±8 % year noise, so their rank flips under small weight changes.
Everyone else follows smooth growth with a small seeded drift (programme units a little faster).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipelines.generate.units import MAJOR_CITIES, Units

SOURCES = ("grants", "pledge", "cases", "training")
YEAR0 = 2000  # trajectories are indexed from here
BASE_YEAR = 2016
N_LAGGING = N_LEADING = N_BORDERLINE = 4
# Pillar mix of the borderline units (grants, pledge, cases, training), alternating between units.
# Lagging units' intensity as a fraction of the programme 10th percentile; cases less extreme so that a
# lagging unit still has enough cases for its (worse) closure rate and durations to show.
LAGGING_DEPTH = {"grants": 0.5, "pledge": 0.5, "cases": 0.75, "training": 0.5}
BORDERLINE_MIX = ((1.2, 0.8, 1.15, 0.85), (0.85, 1.2, 0.85, 1.15))


@dataclass
class Profiles:
    lagging: list[str]
    leading: list[str]
    borderline: list[str]
    rectification: str
    withdrawn: str
    group: np.ndarray  # per unit: "lagging" / "leading" / "borderline" / "" (others)
    level: dict[str, np.ndarray] = field(default_factory=dict)  # per source, per unit
    trajectory: dict[str, np.ndarray] = field(default_factory=dict)  # per source, [unit, year - YEAR0]
    quality: np.ndarray | None = None  # [unit, year - YEAR0]: + better, - worse (case handling, lapse, hv)

    def traj(self, source: str, year: int) -> np.ndarray:
        return self.trajectory[source][:, year - YEAR0]

    def q(self, year: int) -> np.ndarray:
        return self.quality[:, year - YEAR0]


def choose_truth(units: Units, seed: int, can_reach=None) -> tuple[list[str], list[str], list[str]]:
    """Seeded choice among prefecture-level programme units without programme counties; lagging and
    borderline units are not provincial capitals (a capital dominates its province, so a collapsing capital
    would distort everything else)."""
    rng = np.random.default_rng([seed, 2])
    f = units.frame
    pref_prog = f.filter(f["is_programme"] & ~f["is_county"])
    # A prefecture's records include its programme counties' (contract: code[:4] || '00'), whose own
    # trajectories would blur a lagging or borderline parent: those parents are not eligible.
    with_counties = set(f.filter(f["is_programme"] & f["is_county"])["parent_code"].to_list())
    non_capital = [
        c for c in pref_prog.filter(~pref_prog["is_capital"])["city_code"].to_list() if c not in with_counties
    ]
    # Grants are shared out within a province: a unit in a province with few patents cannot reach a high
    # per-capita level however large its share, so leading/borderline units must be able to get there.
    can_reach = can_reach or (lambda _code, _quantile: True)
    order = [str(c) for c in rng.permutation(non_capital)]
    borderline = sorted([c for c in order if can_reach(c, 1 / 3)][:N_BORDERLINE])
    # The big sub-provincial economies (Shenzhen, Ningbo, ...) collapsing would not be a plausible story:
    # lagging units come from the programme units below the median GDP.
    gdp = dict(zip(units.codes, units.gdp[:, units.year_index(BASE_YEAR)]))
    median_gdp = np.median([gdp[c] for c in pref_prog["city_code"].to_list()])
    lagging = sorted(
        [c for c in order if c not in borderline and c not in MAJOR_CITIES and gdp[c] < median_gdp][:N_LAGGING]
    )
    eligible = [c for c in pref_prog["city_code"].to_list() if c not in with_counties]
    rest = [str(c) for c in rng.permutation(eligible) if c not in lagging + borderline]
    leading = sorted([c for c in rest if can_reach(c, 0.85)][:N_LEADING])
    return [str(c) for c in lagging], [str(c) for c in leading], [str(c) for c in borderline]


def build_profiles(
    units: Units, seed: int, last_year: int, national_index: dict[str, np.ndarray], intensity: dict[str, callable]
) -> Profiles:
    """national_index[source]: growth index of the national total for years YEAR0.. (1 at BASE_YEAR);
    intensity[source](level) -> per-unit intensity in BASE_YEAR for the given level vector (what the
    evaluation sees: grants per capita, pledge per GDP, ...)."""
    codes = units.codes
    index = {c: i for i, c in enumerate(codes)}
    prog_mask = units.col("is_programme").astype(bool)
    natural = intensity["grants"](np.ones(len(codes)))
    quantile_of = {q: np.quantile(natural[prog_mask], q) for q in (1 / 3, 0.85)}

    def can_reach(code: str, q: float) -> bool:
        boosted = np.ones(len(codes))
        boosted[index[code]] = 1e4  # as good as all of its province's grants
        return intensity["grants"](boosted)[index[code]] >= 2.0 * quantile_of[q]

    lagging, leading, borderline = choose_truth(units, seed, can_reach)
    group = np.array([""] * len(codes), dtype=object)
    for name, members in (("lagging", lagging), ("leading", leading), ("borderline", borderline)):
        group[[index[c] for c in members]] = name
    rng = np.random.default_rng([seed, 3])
    rect_city, withdrawn_city = (str(c) for c in rng.permutation(lagging)[:2])
    prof = Profiles(lagging, leading, borderline, rect_city, withdrawn_city, group)

    n = len(codes)
    years = np.arange(YEAR0, max(last_year, 2025) + 1)
    t = years - BASE_YEAR
    cohort = np.nan_to_num(units.frame["cohort_year"].cast(float).to_numpy(), nan=9999.0)

    for s_i, source in enumerate(SOURCES):
        drift = rng.normal(0.0, 0.015, n)
        traj = np.exp(drift[:, None] * t[None, :])
        after = (years[None, :] >= np.maximum(cohort, 2012)[:, None]) & prog_mask[:, None]
        traj *= np.exp(np.where(after, 0.008 * np.maximum(years[None, :] - np.maximum(cohort, 2012)[:, None], 0), 0.0))
        traj *= np.exp(rng.normal(0.0, 0.03, traj.shape))  # year-to-year wobble
        nat = national_index[source]
        for c in lagging:
            i = index[c]
            stag = np.where(years <= BASE_YEAR, 1.0, 1.0 / nat)  # flat in absolute terms from 2017
            decline = np.where(years >= 2020, 0.85 ** (years - 2019), 1.0)
            traj[i] = stag * decline * np.exp(rng.normal(0.0, 0.02, len(years)))
        for c in leading:
            i = index[c]
            traj[i] = np.where(years > BASE_YEAR, 1.10 ** (years - BASE_YEAR), 1.0) * np.exp(
                rng.normal(0.0, 0.02, len(years))
            )
        for c in borderline:
            traj[index[c]] = np.exp(rng.normal(0.0, 0.08, len(years)))
        prof.trajectory[source] = traj

        # Levels: natural seeded weights, then placement of the truth units in BASE_YEAR.
        level = np.ones(n)
        for _ in range(3):  # within-province normalisation moves the others a little: iterate
            value = intensity[source](level * traj[:, BASE_YEAR - YEAR0])
            peers = value[prog_mask]
            q10, q33, q85 = np.quantile(peers, [0.10, 1 / 3, 0.85])
            for c in lagging:
                i = index[c]
                level[i] *= LAGGING_DEPTH[source] * q10 / value[i]
            for c in leading:
                i = index[c]
                level[i] *= max(1.0, 1.15 * q85 / value[i])
            for k, c in enumerate(borderline):
                i = index[c]
                level[i] *= q33 * BORDERLINE_MIX[k % 2][s_i] / value[i]
        prof.level[source] = level

    quality = np.repeat(rng.normal(0.0, 0.3, n)[:, None], len(years), axis=1)
    for c in lagging:
        quality[index[c]] = np.where(years <= 2019, -0.6, -0.6 - 0.3 * (years - 2019))
    for c in leading:
        quality[index[c]] = np.where(years <= BASE_YEAR, 0.6, np.minimum(0.6 + 0.15 * (years - BASE_YEAR), 1.5))
    for c in borderline:
        quality[index[c]] = rng.normal(-0.15, 0.2, len(years))
    prof.quality = quality
    return prof
