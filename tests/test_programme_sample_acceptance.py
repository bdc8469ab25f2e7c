"""The two-command start (``ipcity generate --if-empty && ipcity run``) shows the management measures' bands.

Before, the generator wrote a third-party report for the 2017-2019 demonstration-city cycle only: every strong-city
unit of the 2022 batch (cycle 2022-2024, accepted in the first half of 2025, inside the sample's years) waited for
its third-party report, so all its scored rows read "third-party evaluation pending" and a user never saw a title
removed, a new pilot round or demonstration cultivation -- nor the alert, the profile line, the dossier line or
the extract column that say them. Now the seeded generator writes the acceptance reports (synthetic, the evaluator
named so) and the sample run bands them: mostly demonstration cultivation, some new pilot rounds, a few removed.
"""

from __future__ import annotations

import duckdb

BANDS = ("title_removed", "new_pilot_round", "demonstration_cultivation")


def _bands(snapshot) -> dict[str, int]:
    with duckdb.connect(str(snapshot), read_only=True) as con:
        rows = con.execute(
            "select acceptance_band, count(*) from marts.fct_acceptance_score "
            "where acceptance_scored and acceptance_band is not null group by acceptance_band"
        ).fetchall()
    return dict(rows)


def test_the_sample_run_shows_every_acceptance_band(sample_snapshot):
    bands = _bands(sample_snapshot.snapshot)
    assert set(bands) == set(BANDS), bands
    # plausible: most reach demonstration cultivation, a few lose the title
    assert bands["demonstration_cultivation"] > bands["new_pilot_round"] > 0, bands
    assert bands["demonstration_cultivation"] > bands["title_removed"] > 0, bands


def test_the_sample_acceptance_reports_are_synthetic_and_cover_the_accepted_batch(sample_snapshot):
    with duckdb.connect(str(sample_snapshot.snapshot), read_only=True) as con:
        pending, received, evaluators = con.execute(
            "select count(*) filter (where a.third_party_status = 'pending'), "
            "count(*) filter (where a.third_party_status = 'received'), "
            "list(distinct a.third_party_evaluator) filter (where a.third_party_evaluator is not null) "
            "from marts.fct_acceptance_score as a "
            "where a.acceptance_scored and a.cycle_first_year = 2022 and a.cycle_last_year = 2024 "
            "and a.acceptance_status <> 'ended_before_acceptance'"
        ).fetchone()
    assert received > 0 and pending == 0, (received, pending)
    assert evaluators and all("SYNTHETIC" in e for e in evaluators), evaluators


def test_the_sample_run_alerts_on_a_removed_title_and_a_new_pilot_round(sample_snapshot):
    with duckdb.connect(str(sample_snapshot.snapshot), read_only=True) as con:
        from pipelines.alerts.conditions import acceptance_band
        from pipelines.alerts.config import load_rules as load_alert_rules

        conditions = acceptance_band(con, load_alert_rules())
    assert conditions, "no acceptance alert on the sample run"
    text = " ".join(f"{c.change_key} {c.detail}" for c in conditions)
    for band in ("title_removed", "new_pilot_round"):
        assert band in text, band
