"""Verdicts a city cannot contest, round 5: no acceptance band where no acceptance judges.

The management measures judge a pilot (and a strong-city unit) at the end of its construction period by its
acceptance score: < 60 title removed, 60-70 a new pilot round, >= 70 demonstration cultivation. An open-ended
national IP demonstration-city title (国家知识产权示范城市, programme calendar ``acceptance_scored = false``) has no
acceptance. ``fct_acceptance_score`` still banded every cycle: 17 demonstration-city cycles of the sample read
"title removed" on the profile, in the dossier and the extracts, and the acceptance alert sent it to their
province. Now such a cycle keeps its score (an absolute measure beside the third-party evaluation every city gets)
and has no band, shown as "not judged at acceptance" (labels seed ``not_acceptance_scored``).
"""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from pipelines.labels import label_text


def _q(path, sql: str) -> pl.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


ACCEPTANCE_WITH_PROGRAMME = """
    select a.*, y.programme_code, y.acceptance_scored as calendar_acceptance_scored
    from marts.fct_acceptance_score a
    join marts.fct_programme_unit_year y on y.unit_code = a.unit_code and y.year = a.scored_year
"""


def test_no_demonstration_city_cycle_is_banded_and_every_judged_pilot_cycle_can_be(sample_snapshot):
    acc = _q(sample_snapshot.snapshot, ACCEPTANCE_WITH_PROGRAMME)
    demo = acc.filter(pl.col("programme_code") == "demo_city")
    assert demo.height > 0, "the sample has demonstration-city cycles"
    assert not demo["acceptance_scored"].any() and demo["acceptance_band"].is_null().all(), demo.filter(
        pl.col("acceptance_band").is_not_null()
    ).select("unit_code", "cycle", "acceptance_band")
    # the score itself stays where there is one to give (the third-party evaluation is every city's)
    assert demo["acceptance_score"].is_not_null().any()
    scored = acc.filter(pl.col("calendar_acceptance_scored"))
    assert scored["acceptance_scored"].all()
    # a scored programme's cycle with a score has its band, read from the score as before
    with_score = scored.filter(pl.col("acceptance_score").is_not_null())
    assert with_score["acceptance_band"].is_not_null().all()


def test_the_acceptance_alert_never_reads_title_removed_for_a_demonstration_city(sample_snapshot, tmp_path):
    import shutil

    from pipelines.alerts import conditions as cond
    from pipelines.alerts.config import load_rules

    copy = tmp_path / "snap.duckdb"
    shutil.copy(sample_snapshot.snapshot, copy)
    # units only ever under the open-ended title (南京 also had a strong-city cycle, judged at its acceptance)
    only_demo = set(
        _q(
            copy,
            "select unit_code from marts.fct_programme_unit_year group by unit_code "
            "having bool_and(programme_code = 'demo_city')",
        )["unit_code"]
    )
    assert only_demo
    con = duckdb.connect(str(copy), read_only=True)
    try:
        found = cond.acceptance_band(con, load_rules()) or []
    finally:
        con.close()
    assert not [(c.unit_code, c.title_en) for c in found if c.unit_code in only_demo]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_profile_says_not_judged_at_acceptance_instead_of_a_band(lang):
    from dashboards.pages.profile import _band_cell

    row = {"acceptance_status": "combined", "acceptance_band": None, "acceptance_scored": False}
    assert _band_cell(row, lang) == label_text("not_acceptance_scored", lang)
    judged = {"acceptance_status": "combined", "acceptance_band": "title_removed", "acceptance_scored": True}
    assert _band_cell(judged, lang) == label_text("title_removed", lang)


def test_the_dossier_gives_the_score_and_says_no_acceptance_judges_it():
    from collections import defaultdict

    from pipelines.evaluation.dossier import _acceptance_lines

    a = defaultdict(lambda: None)  # the mart's other columns, empty
    a |= {
        "cycle": "2017-2019",
        "acceptance_status": "combined",
        "acceptance_score": 45.123,
        "acceptance_band": None,
        "acceptance_scored": False,
        "indicator_score": 45.123,
        "third_party_status": "pending",
    }
    head = _acceptance_lines(a)[0]
    assert "45.12" in head
    assert label_text("not_acceptance_scored", "zh") in head and label_text("not_acceptance_scored", "en") in head
    assert "None" not in head and label_text("title_removed", "zh") not in head


def test_a_unit_whose_membership_ended_is_told_its_last_year_was_not_reported():
    """The reporting alert looked at the table's latest year only. A unit whose membership ended in 2024 (the
    2022-2024 strong-city units, which owe no 2025 report since reports are owed only in membership years) and
    never reported 2024 — not_reported, counted as exit — raised nothing, because other units owe 2025. The window
    is now each unit's own latest owed year."""
    from test_verdicts_contestable2 import _alert_warehouse

    from pipelines.alerts.conditions import source_reporting
    from pipelines.alerts.config import load_rules as alert_rules

    con = _alert_warehouse()
    con.execute(
        """create table marts.fct_reporting_status as select * from (values
             ('410100', 'pledge_loans', 2024, 'not_reported', date '2025-03-31', date '2025-06-30',
              cast(null as date), false),
             ('410300', 'pledge_loans', 2024, 'not_reported', date '2025-03-31', date '2025-06-30',
              cast(null as date), false),
             ('410300', 'pledge_loans', 2025, 'received', date '2026-03-31', date '2026-06-30',
              date '2026-03-02', false),
             ('410500', 'pledge_loans', 2025, 'missing', date '2026-03-31', date '2026-06-30',
              cast(null as date), false))
           t(unit_code, source, year, status, due_date, grace_end_date, received_date, received_after_grace_end)"""
    )
    out = {(c.unit_code, c.year) for c in source_reporting(con, alert_rules())}
    # 410100 owes nothing after 2024: told; 410300 owes 2025 and reported it (its 2024 is an older year's);
    # 410500's missing 2025 is told as before
    assert out == {("410100", 2024), ("410500", 2025)}, out
