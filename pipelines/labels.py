"""The one reader of the vocabulary seeds: performance bands and the labels (code, 中文, English) of every code
the marts publish (stage / verdict, target status, performance group, programme status, ...).

The seeds under ``dbt_project/seeds/`` are the only place these are written down. dbt loads them into
``marts.performance_bands`` / ``marts.labels`` (so they are published with the marts and SQL can join them);
Python (evaluation, dossier, alerts, dashboard) reads the same files through this module, never a copy.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

import numpy as np

from pipelines.settings import DBT_PROJECT_DIR, dbt_var

# The dash between the ends of a range of years, ranks or figures ("2024–2026"), on screens and in files alike: the
# marts write theirs with it too (dbt macro year_range), so its one definition is dbt_project.yml's var.
RANGE_DASH = dbt_var("range_dash")

SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
LABELS_FILE = SEEDS_DIR / "labels.csv"
BANDS_FILE = SEEDS_DIR / "performance_bands.csv"

# The stages a unit-year is flagged in: every stage short of "normal"/"exemplary", and a missing report (which
# counts as exit under the management measures; "review" = a sanction rule fired on non-robust evidence). The
# dashboard's watch list shows them and the pipeline writes an evidence dossier for each.
FLAGGED_STAGES = ("watch", "review", "rectification", "exit_candidate", "not_reported")


@dataclass(frozen=True)
class Label:
    code: str
    label_sets: tuple[str, ...]
    name_zh: str
    name_en: str
    sort_order: int

    def text(self, lang: str = "zh") -> str:
        return self.name_en if lang == "en" else self.name_zh


@dataclass(frozen=True)
class Band:
    """A performance band: index above ``lower_bound`` (or equal to it when ``lower_bound_inclusive``) and not in
    a higher band. The lowest band has no lower bound."""

    group_code: str
    lower_bound: float | None
    lower_bound_inclusive: bool

    def admits(self, index: float) -> bool:
        if self.lower_bound is None:
            return True
        return index > self.lower_bound or (self.lower_bound_inclusive and index == self.lower_bound)


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@cache
def load_labels(path: Path = LABELS_FILE) -> dict[str, Label]:
    """Every label by code (codes are unique across the seed: one meaning, one label)."""
    out: dict[str, Label] = {}
    for r in _read(path):
        code = r["code"].strip()
        if code in out:
            raise ValueError(f"{path}: code {code!r} is labelled twice")
        out[code] = Label(code, tuple(r["label_sets"].split()), r["name_zh"], r["name_en"], int(r["sort_order"]))
    return out


def label_set(name: str, path: Path = LABELS_FILE) -> dict[str, tuple[str, str]]:
    """``code -> (中文, English)`` for one list (e.g. ``"stage"``), in the seed's sort order."""
    members = [lab for lab in load_labels(path).values() if name in lab.label_sets]
    if not members:
        raise KeyError(f"no label set {name!r} in {path}")
    return {lab.code: (lab.name_zh, lab.name_en) for lab in sorted(members, key=lambda lab: lab.sort_order)}


def label_text(code: str | None, lang: str = "zh", path: Path = LABELS_FILE) -> str:
    """The label of ``code`` in ``lang`` ("zh" or "en"); the code itself when the seed does not know it."""
    if code is None:
        return ""
    lab = load_labels(path).get(code)
    return lab.text(lang) if lab else str(code)


# A finding's robustness in words, never a bare null (fct_evaluation_year / fct_evaluation_cycle.robustness)
ROBUSTNESS_NOT_APPLICABLE_TO = ("normal", "withdrawn")


def robustness_code(row: dict, verdict_key: str = "stage") -> str:
    """Why a unit-year's stage (or, ``verdict_key="verdict"``, a cycle's verdict) is robust or not: the mart's
    ``robustness`` code where the row has it, else the same reading of ``is_robust`` for rows published before
    the column -- robust, not_robust, robustness_not_applicable (no flag raised: a normal year, a withdrawn cycle),
    robustness_not_assessed (a flag without uncertainty runs). A null ``is_robust`` read as "–" hid which: 510400
    went from "not robust" to "–" when a corrected file moved its stage from review to normal."""
    code = row.get("robustness")
    if code:
        return code
    robust = row.get("is_robust")
    if robust is True:
        return "robust"
    if robust is False:
        return "not_robust"
    if row.get(verdict_key) in ROBUSTNESS_NOT_APPLICABLE_TO:
        return "robustness_not_applicable"
    return "robustness_not_assessed"


def robustness_text(row: dict, lang: str = "zh", verdict_key: str = "stage") -> str:
    """``robustness_code`` in words (labels seed, set robustness): every page, the dossier and the report say it
    with this one function; "both" for the bilingual dossier."""
    code = robustness_code(row, verdict_key)
    if lang == "both":
        return f"{label_text(code, 'zh')} / {label_text(code, 'en')}"
    return label_text(code, lang)


# Who reads an alert's next step: the national office
# decides, the provincial office acts with its cities, the data engineers mend the pipeline. One step worded for all
# three told the national office what the provincial office should do ("省局：请联系该市…").
RECIPIENT_ROLES = ("national", "province", "engineer")


def next_step(rule_id: str, lang: str, role: str, path: Path = LABELS_FILE) -> str:
    """What a reader in ``role`` (RECIPIENT_ROLES) does about an alert of this rule: the seed's alert_next_step list,
    next_step_<role>_<rule>, for the digests (the route's role) and the dashboard (the user's role) alike. "" for a
    rule the seed does not word for that role (an engineering rule has no step for an office)."""
    if role not in RECIPIENT_ROLES:
        raise ValueError(f"unknown recipient role {role!r}; one of {', '.join(RECIPIENT_ROLES)}")
    code = f"next_step_{role}_{rule_id}"
    text = label_text(code, lang, path)
    return "" if text == code else text


# A boolean in a Chinese-headed file (the provincial extracts, the indicator download): 是 / 否, not TRUE / FALSE.
YES_NO_ZH = ("是", "否")

# fct_third_party_evaluation.status codes (received / pending / not_on_calendar) are labelled in the seed under
# third_party_<status>: "received" alone is a reporting status with another meaning (按期报送).
THIRD_PARTY_STATUS_PREFIX = "third_party_"


def third_party_status_labels(path: Path = LABELS_FILE) -> dict[str, tuple[str, str]]:
    """``status -> (中文, English)`` for fct_third_party_evaluation.status, from the third_party_status list."""
    return {
        code.removeprefix(THIRD_PARTY_STATUS_PREFIX): pair
        for code, pair in label_set("third_party_status", path).items()
    }


@cache
def load_bands(path: Path = BANDS_FILE) -> tuple[Band, ...]:
    """The performance bands from the highest to the lowest."""
    bands = []
    for r in _read(path):
        lower = r["lower_bound"].strip()
        bands.append(
            Band(r["group_code"].strip(), float(lower) if lower else None, r["lower_bound_inclusive"].strip() == "true")
        )
    bands.sort(key=lambda b: -math.inf if b.lower_bound is None else b.lower_bound, reverse=True)
    if sum(b.lower_bound is None for b in bands) != 1:
        raise ValueError(f"{path}: exactly one band (the lowest) must have no lower bound")
    return tuple(bands)


def group_names(path: Path = BANDS_FILE) -> tuple[str, ...]:
    """Performance group codes from the highest band to the lowest."""
    return tuple(b.group_code for b in load_bands(path))


NOISE_DECIMALS = 9


@cache
def index_decimals() -> int:
    """GEN.index_decimals of the rules seed: the decimals of the published composite index, the one definition of
    the shown precision that ranks, ties and groups are decided on (dbt macro published_index reads the same row).
    It must be the same in every rules version: a change would re-rank years already published."""
    from pipelines.evaluation.rules import RULES_FILE

    values = {
        r["value"].strip() for r in _read(RULES_FILE) if (r["rule_code"], r["param"]) == ("GEN", "index_decimals")
    }
    if len(values) != 1:
        raise ValueError(
            f"{RULES_FILE.name}: GEN.index_decimals must have one value in every rules version, found {sorted(values)}"
        )
    digits = int(values.pop())
    if not 0 <= digits <= 4:  # the dbt macro has a branch per value 0..4 (round() needs a constant scale)
        raise ValueError(f"{RULES_FILE.name}: GEN.index_decimals must be 0 to 4, found {digits}")
    return digits


def _published_decimal(x: float, digits: int) -> Decimal:
    # the double taken at 9 decimals (its float noise off), then half up at ``digits``: two exact decimal steps, as
    # the dbt macro's cast(x as decimal(38, 9)) then round(…, digits)
    nano = Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-NOISE_DECIMALS), rounding=ROUND_HALF_UP)
    return nano.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def _published_array(x: np.ndarray, digits: int) -> np.ndarray:
    """published_index over an array (the uncertainty runs: millions of values), in integer arithmetic: the
    9-decimal step as integer nanos (exact in int64 for any index), the rare value whose nanos are within float
    error of a half taken through the decimal module, then half up at ``digits`` on the integers."""
    x = np.asarray(x, dtype=float)
    ok = ~np.isnan(x)
    ax = np.where(ok, np.abs(x), 0.0)
    y = ax * 10.0**NOISE_DECIMALS
    nanos = np.floor(y + 0.5).astype(np.int64)
    doubtful = ok & (np.abs(y - np.floor(y) - 0.5) < 1e-3)
    for i in zip(*np.nonzero(doubtful)):
        exact = Decimal(repr(float(ax[i]))).quantize(Decimal(1).scaleb(-NOISE_DECIMALS), rounding=ROUND_HALF_UP)
        nanos[i] = int(exact.scaleb(NOISE_DECIMALS))
    step = 10 ** (NOISE_DECIMALS - digits)
    rounded = (nanos + step // 2) // step * step
    return np.where(ok, np.sign(x) * rounded / 10.0**NOISE_DECIMALS, np.nan)


def published_index(x, digits: int | None = None):
    """The composite index as published (a number, None/nan, or a numpy array): half up at GEN.index_decimals in
    exact decimal arithmetic, exactly as the dbt macro published_index (80.05, 80.04999… in binary, is 80.1, as a
    reader rounds it; Python's round() and f"{x:.1f}" would give 80.0). Ranks, ties and groups are decided on it."""
    digits = index_decimals() if digits is None else digits
    if isinstance(x, np.ndarray):
        return _published_array(x, digits)
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return float(_published_decimal(x, digits))


def performance_group(index: float | None, path: Path = BANDS_FILE) -> str | None:
    """The performance group of a composite index (None for a missing index), as the dbt macro assigns it: read
    from the index as published, so the figure shown is always in the group shown beside it."""
    if index is None or (isinstance(index, float) and math.isnan(index)):
        return None
    index = published_index(index)
    return next(b.group_code for b in load_bands(path) if b.admits(index))


def index_text(index: float | None, digits: int | None = None, path: Path = BANDS_FILE) -> str:
    """A composite index as a city reads it: the published figure (GEN.index_decimals, half up in exact decimals),
    the figure its rank and its group are decided on, so it is always in the group shown beside it and two cities
    showing the same figure share the rank; "–" for a missing index (never 0.0). The dossier, the report, the
    profile, the flag page, the map and the dashboard's grids show it this way."""
    if index is None or (isinstance(index, float) and math.isnan(index)):
        return "–"
    digits = index_decimals() if digits is None else digits
    return str(_published_decimal(index, digits))


def band_floor(group_code: str, path: Path = BANDS_FILE) -> float | None:
    """The lower bound of a group's band (e.g. the floor under which a city is in the bottom group)."""
    for b in load_bands(path):
        if b.group_code == group_code:
            return b.lower_bound
    raise KeyError(group_code)


def rank_text(rank: int | None, n_ranked: int | None = None, shared: bool | None = False, lang: str = "zh") -> str:
    """A rank as every reader shows it: ``3/40``, with the labels seed's 并列 / tied when another unit of the year
    has the same rank (fct_city_score_year.rank_is_shared: equal indices share a rank, 1, 2, 2, 4), so a city
    ranked third beside another third reads why there is no fourth; "–" without a rank. ``lang``: "zh", "en" or
    "both" (中文 / English, the dossier)."""
    if rank is None or (isinstance(rank, float) and math.isnan(rank)):
        return "–"
    text = f"{int(rank)}/{int(n_ranked)}" if n_ranked is not None else f"{int(rank)}"
    if not shared:
        return text
    if lang == "both":  # the bilingual dossier
        return f"{text}（{label_text('rank_shared', 'zh')} / {label_text('rank_shared', 'en')}）"
    label = label_text("rank_shared", lang)
    return f"{text}（{label}）" if lang == "zh" else f"{text} ({label})"


def shared_ranks(ranks) -> list[bool]:
    """For a year's ranks (one per unit, None for an unranked unit): whether each rank is held by another unit
    too -- for readers of frames without fct_city_score_year.rank_is_shared (older snapshots)."""
    from collections import Counter

    ranks = list(ranks)
    counts = Counter(r for r in ranks if r is not None)
    return [r is not None and counts[r] > 1 for r in ranks]
