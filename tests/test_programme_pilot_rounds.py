"""Pilot rounds (第N轮试点) and the office's rule on a second score between 60 and 70, as users read them.

The management measures give a pilot scoring 60-70 at acceptance a new pilot round and say nothing of a second
such score: the mart banded it "new pilot round" again, round after round. fct_acceptance_score now numbers the
round (roster and acceptance history) and applies the rules seed's ACC.max_pilot_rounds, an office rule stated as a
parameter (dbt unit test fct_acceptance_score::pilot_rounds_are_numbered_and_a_second_new_pilot_round_follows_the_
office_rule). Here: the parameter is in every rules version, and the one wording the profile, the dossier and the
alert share (pipelines.evaluation.rules.reapply_ban_notes) says the round and the rule in both languages.
"""

from __future__ import annotations

import pytest

from pipelines.evaluation.rules import load_rules, pilot_round_notes, reapply_ban_notes
from pipelines.labels import label_text


def test_every_rules_version_states_the_office_rule_on_pilot_rounds():
    import polars as pl

    from pipelines.settings import DBT_PROJECT_DIR

    seed = pl.read_csv(DBT_PROJECT_DIR / "seeds" / "evaluation_rules.csv", infer_schema_length=0)
    versions = set(seed["rules_version"])
    have = set(seed.filter((pl.col("rule_code") == "ACC") & (pl.col("param") == "max_pilot_rounds"))["rules_version"])
    assert have == versions
    assert int(load_rules()["ACC.max_pilot_rounds"]) >= 1


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_title_removed_in_the_last_pilot_round_says_the_round_and_the_rule(lang):
    row = {
        "pilot_round": 2,
        "max_pilot_rounds": 2,
        "pilot_rounds_exhausted": True,
        "reapply_ban_until": "2027-06-30",
        "rejoined_within_ban": False,
    }
    notes = reapply_ban_notes(row, lang)
    assert notes[0] == f"{label_text('pilot_round', lang)} 2"
    assert notes[1] == f"{label_text('pilot_rounds_exhausted', lang)} 2"
    assert notes[2].startswith(label_text("reapply_ban_until", lang))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_first_round_and_another_programme(lang):
    assert pilot_round_notes({"pilot_round": 1, "pilot_rounds_exhausted": False}, lang) == [
        f"{label_text('pilot_round', lang)} 1"
    ]
    # a demonstration unit (no pilot round) or a row of a mart published before the columns existed
    assert pilot_round_notes({}, lang) == []
    assert reapply_ban_notes({"pilot_round": None, "reapply_ban_until": None}, lang) == []
