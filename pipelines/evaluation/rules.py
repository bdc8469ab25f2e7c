"""The evaluation rules seed, read the same way dbt reads it, so Python and SQL apply one set of thresholds."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.settings import DBT_PROJECT_DIR

RULES_FILE = DBT_PROJECT_DIR / "seeds" / "evaluation_rules.csv"


def load_rules(path: Path | str | None = None) -> dict[str, object]:
    """Flat mapping ``"RULE.param" -> value`` (numbers parsed, text kept) plus ``rules_version``."""
    df = pl.read_csv(path or RULES_FILE, infer_schema=False)
    out: dict[str, object] = {"rules_version": df["rules_version"][0]}
    for rule, param, value in df.select("rule_code", "param", "value").iter_rows():
        try:
            number = float(value)
            out[f"{rule}.{param}"] = int(number) if number.is_integer() and "." not in value else number
        except ValueError:
            out[f"{rule}.{param}"] = value
    return out


def cycle_start(year: int, rules: dict[str, object]) -> int | None:
    """First year of the evaluation cycle holding ``year``; None before the first cycle (baseline year)."""
    anchor, length = int(rules["GEN.cycle_anchor_year"]), int(rules["GEN.cycle_length"])
    if year < anchor:
        return None
    return anchor + length * ((year - anchor) // length)
