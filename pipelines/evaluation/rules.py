"""The evaluation rules seed, read the same way dbt reads it, so Python and SQL apply one set of thresholds.

Rules are versioned by evaluation year like the indicator catalog: ``evaluation_rules.csv`` holds one row per
rules version and parameter, ``rules_versions.csv`` says which version is in force in which year.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.settings import DBT_PROJECT_DIR

RULES_FILE = DBT_PROJECT_DIR / "seeds" / "evaluation_rules.csv"
RULES_VERSIONS_FILE = DBT_PROJECT_DIR / "seeds" / "rules_versions.csv"


def rules_version_of(year: int | None = None, versions_path: Path | str | None = None) -> str:
    """The rules version in force in ``year`` (None: in the latest year listed)."""
    df = pl.read_csv(versions_path or RULES_VERSIONS_FILE, infer_schema=False).with_columns(
        pl.col("evaluation_year").cast(pl.Int64)
    )
    if year is None:
        year = int(df["evaluation_year"].max())
    hit = df.filter(pl.col("evaluation_year") == int(year))
    if hit.is_empty():
        raise ValueError(f"no rules version in force in {year}: add it to {RULES_VERSIONS_FILE.name}")
    return hit["rules_version"][0]


def load_rules(
    path: Path | str | None = None, year: int | None = None, versions_path: Path | str | None = None
) -> dict[str, object]:
    """Flat mapping ``"RULE.param" -> value`` (numbers parsed, text kept) plus ``rules_version``, for the rules
    in force in ``year`` (None: the latest year). A rules file holding a single version is used as it is."""
    df = pl.read_csv(path or RULES_FILE, infer_schema=False)
    if df["rules_version"].n_unique() > 1:
        df = df.filter(pl.col("rules_version") == rules_version_of(year, versions_path))
    out: dict[str, object] = {"rules_version": df["rules_version"][0]}
    for rule, param, value in df.select("rule_code", "param", "value").iter_rows():
        try:
            number = float(value)
            out[f"{rule}.{param}"] = int(number) if number.is_integer() and "." not in value else number
        except ValueError:
            out[f"{rule}.{param}"] = value
    return out


# The last day a unit's reports of a year count (China Standard Time, the whole day), per unit and data year: the
# earliest grace end of its sources (marts.fct_reporting_status.grace_end_date). One query for the dashboard's flag
# page, the alerts and the provincial extract, so the three name the same date beside the same exit verdict.
REPORT_DEADLINES_SQL = (
    "select unit_code, year, min(grace_end_date) as report_grace_end_date "
    "from marts.fct_reporting_status where grace_end_date is not null group by unit_code, year"
)


def report_grace_end(data_year: int):
    """The last day (China Standard Time, the whole day counting) the reports of ``data_year`` may arrive before they
    count as not reported, i.e. as exit (the management measures' six months): the year end + RPT.grace_months of the
    rules in force in that year, the day fct_reporting_status.grace_end_date holds. Written once here for the pages
    and the alerts (the mart computes the same in SQL from the same seed)."""
    import datetime as dt

    try:
        rules = load_rules(year=data_year)
    except ValueError:  # a year outside rules_versions.csv: the latest rules
        rules = load_rules()
    months = int(rules["RPT.grace_months"])
    first_after = dt.date(data_year + 1 + months // 12, 1 + months % 12, 1)  # year end + months, then the day before
    return first_after - dt.timedelta(days=1)


def acceptance_score_text(score: float | None) -> str:
    """An acceptance score as a city reads it beside its band: cut (not rounded) to two decimals, so a score just
    under a band threshold never reads as the threshold itself beside the lower band, and the figure is on the
    same side of every threshold as the band (the mart has already rounded float noise away at 9 decimals, so a
    score exactly at a threshold reads as it, with two zero decimals). The dossier and the dashboard's profile both
    show it this way, the indicator-based and third-party parts beside it too (an indicator-only score is the
    acceptance score, so the same number must read the same in both places). "–" for a missing score."""
    import decimal

    if score is None:
        return "–"
    return str(decimal.Decimal(repr(float(score))).quantize(decimal.Decimal("0.01"), rounding=decimal.ROUND_DOWN))


def acceptance_bands_text(lang: str = "zh", year: int | None = None) -> str:
    """The management measures' acceptance bands as users read them ("< 60 撤销称号，60–70 …，≥ 70 …"), built
    from the rules in force in ``year`` (ACC.remove_below, ACC.cultivation_from) and the band labels of the labels
    seed: the thresholds and the words are written once, in the seeds."""
    from pipelines.labels import label_set

    try:
        rules = load_rules(year=year)
    except ValueError:  # a year outside rules_versions.csv (e.g. a cycle judged after the last listed year)
        rules = load_rules()
    low, high = rules["ACC.remove_below"], rules["ACC.cultivation_from"]
    removed, new_round, cultivation = (zh if lang == "zh" else en for zh, en in label_set("acceptance_band").values())
    sep = "，" if lang == "zh" else ", "
    return sep.join([f"< {low:g} {removed}", f"{low:g}–{high:g} {new_round}", f"≥ {high:g} {cultivation}"])


def pilot_round_notes(row: dict, lang: str = "zh") -> list[str]:
    """The pilot round judged (fct_acceptance_score.pilot_round: 第N轮试点) and, when the title was removed because a
    pilot scored in the new-pilot-round band in its last allowed round, the office's rule that decided it
    (ACC.max_pilot_rounds, the management measures being silent on a second score in that band). Labels seed wording; empty for
    a row without a pilot round (another programme, or a mart published before the columns existed)."""
    from pipelines.labels import label_text

    n = row.get("pilot_round")
    if n is None:
        return []
    notes = [f"{label_text('pilot_round', lang)} {int(n)}"]
    if row.get("pilot_rounds_exhausted"):
        notes.append(f"{label_text('pilot_rounds_exhausted', lang)} {row.get('max_pilot_rounds')}")
    return notes


def reapply_ban_notes(row: dict, lang: str = "zh") -> list[str]:
    """What a title removed at acceptance means next (management measures: 撤销称号, 两年内不得再申报): the day the
    re-application ban ends and, when the roster has the unit join again before it, that joining, flagged
    (fct_acceptance_score.reapply_ban_until / rejoined_on / rejoined_within_ban, the ban read from the rules seed's
    ACC.reapply_ban_years). One wording, from the labels seed, for the profile, the dossier and the alert; empty for
    any other band (or a row of a mart published before the columns existed)."""
    from pipelines.labels import label_text

    notes = pilot_round_notes(row, lang)
    until = row.get("reapply_ban_until")
    if until is None:
        return notes
    notes.append(f"{label_text('reapply_ban_until', lang)} {until}")
    if row.get("rejoined_within_ban"):
        notes.append(f"{label_text('rejoined_within_ban', lang)} ({row.get('rejoined_on')})")
    return notes
