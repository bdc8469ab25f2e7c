"""The programme cycle's rules live in the seeds, once, and what they decide is said in both languages.

- Which programmes have numbered pilot rounds (第N轮试点, ACC.max_pilot_rounds) is the calendar seed's
  numbers_pilot_rounds, not a programme code written into a model (fct_acceptance_score had 'strong_city_pilot').
- A unit joining inside a cycle: the measures evaluate every city every year and give every cycle its third-party
  evaluation; on its baseline they are silent, and the office's rule is the rules seed's GEN.joined_entry_baseline,
  in every rules version (dbt unit tests int_programme_unit_years::a_unit_joining_inside_a_cycle_is_compared_from_
  the_year_before_it_joined and fct_evaluation_cycle::a_unit_that_joined_inside_the_cycle_is_said_with_its_
  baseline_and_third_party_due). The cycle's evidence says it, in Chinese too.
"""

from __future__ import annotations

import re

import polars as pl

from pipelines.settings import DBT_PROJECT_DIR

SEEDS = DBT_PROJECT_DIR / "seeds"


def _code_of(sql: str) -> str:
    """The SQL without its comments (a comment may name a programme; the code must not decide by one)."""
    sql = re.sub(r"\{#.*?#\}", "", sql, flags=re.S)
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def test_no_model_decides_pilot_rounds_by_a_programme_code():
    calendar = pl.read_csv(SEEDS / "programme_calendar.csv", infer_schema=False)
    codes = set(calendar["programme_code"])
    offenders = []
    for path in sorted((DBT_PROJECT_DIR / "models").rglob("*.sql")):
        code = _code_of(path.read_text(encoding="utf-8"))
        offenders += [f"{path.name}: '{c}'" for c in codes if f"'{c}'" in code]
    assert not offenders, offenders


def test_the_calendar_says_which_programmes_number_pilot_rounds():
    calendar = pl.read_csv(SEEDS / "programme_calendar.csv", infer_schema=False)
    assert set(calendar["numbers_pilot_rounds"]) <= {"true", "false"}
    per_programme = calendar.group_by("programme_code").agg(pl.col("numbers_pilot_rounds").n_unique().alias("n"))
    assert per_programme["n"].max() == 1, per_programme
    numbered = set(calendar.filter(pl.col("numbers_pilot_rounds") == "true")["programme_code"])
    assert numbered == {"strong_city_pilot"}


def test_every_rules_version_states_the_office_rule_on_a_mid_cycle_joiner():
    seed = pl.read_csv(SEEDS / "evaluation_rules.csv", infer_schema=False)
    rows = seed.filter((pl.col("rule_code") == "GEN") & (pl.col("param") == "joined_entry_baseline"))
    assert set(rows["rules_version"]) == set(seed["rules_version"])
    assert set(rows["value"]) <= {"0", "1"}
    for r in rows.iter_rows(named=True):
        # the office's rule, stated where the measures are silent, for officials in both languages
        assert "Office rule" in r["description_en"] and "本办公室规则" in r["description_zh"]
        assert "third-party" in r["official_en"] and "第三方评估" in r["official_zh"]


def test_the_joined_clause_of_the_cycle_evidence_reads_in_both_languages():
    from dashboards.evaluation_text import evidence_text

    clause = (
        "joined in 2026, inside the cycle: index change since 2025 (GEN.joined_entry_baseline), "
        "third-party evaluation due at the end of 2027"
    )
    zh = evidence_text(clause, "zh")
    assert zh.startswith("2026年周期中途入选") and "2025年" in zh and "第三方评估于2027年末" in zh
    assert "joined in" not in zh and "inside the cycle" not in zh
    assert evidence_text(clause, "en") == clause
