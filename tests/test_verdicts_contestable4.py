"""Verdicts a city cannot contest, round 4.

1. A cycle still running is not judged. The evaluator's third-party report for 2023-2025 can arrive before the
   2025 data do; the acceptance score then combined the data to 2024 with it, gave a band ("title removed"), a
   judged_year of 2024 and a final cycle verdict, though the cycle's last year had not been evaluated. A cycle cut
   short by a new calendar (a pilot promoted mid-cycle) *is* judged, in its last evaluated year, and the
   dashboard's cycle table called it "in progress" for ever. One definition now: fct_evaluation_cycle.judged_year
   (null while running), read by the acceptance score, the profile and the dossier.
2. The cycle's end rank carries its tie flag (end_rank_is_shared) as every other rank does.

Labels and thresholds are read from the seeds, never copied here."""

from __future__ import annotations

import duckdb
import evaluation_fixtures as F
import polars as pl
import pytest

from pipelines.labels import label_text

# 130400: third-party report for 2023-2025 received (fixture); 110100: promoted in 2024 onto a 2024-2026 calendar,
# so its 2023-2025 cycle is cut short after one year; 120100 and 130700: one more unit each to tie.
PROMOTED = "110100"


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> dict[str, pl.DataFrame]:
    """The rule cases as they stand before the 2025 data arrive: the window ends in 2024."""
    work = tmp_path_factory.mktemp("running_cycle")
    wh = work / "wh.duckdb"
    with duckdb.connect(str(wh)) as con:
        F.rule_cases(con)
        for table in ("fct_city_score_year", "fct_city_indicator_year", "fct_programme_unit_year"):
            con.execute(f"delete from marts.{table} where year > 2024")
        con.execute(
            """update marts.fct_programme_unit_year set cycle_start = 2024, cycle_end = 2026,
               cycle_baseline_year = 2023, cycle = '2024–2026' where unit_code = ? and year = 2024""",
            [PROMOTED],
        )
        # a tie at the end of the 2023-2025 cycle's evidence (2024): 120100 and 130700 share a rank
        con.execute(
            """update marts.fct_city_score_year set composite_index = 150.0, composite = 150.0
               where year = 2024 and unit_code in ('120100', '130700')"""
        )
        con.execute(
            """update marts.fct_city_score_year s set rank = r.rk, rank_is_shared = r.n > 1
               from (select unit_code, rank() over (order by round(composite_index, 9) desc) as rk,
                            count(*) over (partition by round(composite_index, 9)) as n
                     from marts.fct_city_score_year where year = 2024 and is_ranked) r
               where s.unit_code = r.unit_code and s.year = 2024"""
        )
    F.run_evaluation_dbt(wh, work)
    with duckdb.connect(str(wh), read_only=True) as con:
        return {t: con.sql(f"select * from marts.{t}").pl() for t in ("fct_evaluation_cycle", "fct_acceptance_score")}


def _row(frame: pl.DataFrame, unit: str, first: int) -> dict:
    col = "cycle_start" if "cycle_start" in frame.columns else "cycle_first_year"
    return frame.filter((pl.col("unit_code") == unit) & (pl.col(col) == first)).row(0, named=True)


def test_a_running_cycle_with_an_early_third_party_report_gets_no_band(running):
    """130400's 2023-2025 cycle, data to 2024, third-party report received: before, acceptance_status 'combined',
    a band and judged_year 2024; the verdict 'final'."""
    a = _row(running["fct_acceptance_score"], "130400", 2023)
    assert a["third_party_status"] == "received"
    assert a["acceptance_status"] == "cycle_running", a
    assert a["acceptance_score"] is None and a["acceptance_band"] is None
    assert a["judged_year"] is None and a["scored_year"] == 2024
    assert a["indicator_score"] is not None  # the figure to date stays readable
    c = _row(running["fct_evaluation_cycle"], "130400", 2023)
    assert c["judged_year"] is None and c["verdict_status"] == "cycle_running"
    assert "cycle still running" in c["evidence"]


def test_a_complete_cycle_is_judged_in_its_last_year(running):
    c = _row(running["fct_evaluation_cycle"], "130400", 2020)
    assert c["judged_year"] == 2022 and c["verdict_status"] != "cycle_running"
    a = _row(running["fct_acceptance_score"], "130400", 2020)
    assert a["judged_year"] == 2022 and a["acceptance_status"] != "cycle_running"


def test_a_cycle_cut_short_by_a_promotion_is_judged_in_its_last_calendar_year(running):
    """110100's 2023-2025 cycle holds only 2023 (2024 is on the 2024-2026 calendar): judged in 2023, as
    the flag page reads from this mart; its new cycle is running."""
    cycles = running["fct_evaluation_cycle"]
    cut = _row(cycles, PROMOTED, 2023)
    assert not cut["is_complete"] and cut["judged_year"] == 2023
    assert cut["verdict_status"] != "cycle_running"
    new = _row(cycles, PROMOTED, 2024)
    assert new["judged_year"] is None and new["verdict_status"] == "cycle_running"
    assert _row(running["fct_acceptance_score"], PROMOTED, 2023)["judged_year"] == 2023


def test_the_end_rank_says_when_it_is_shared(running):
    cycles = running["fct_evaluation_cycle"]
    for unit in ("120100", "130700"):
        c = _row(cycles, unit, 2023)
        assert c["end_rank"] == 1 and c["end_rank_is_shared"] is True, c
    assert _row(cycles, "130200", 2023)["end_rank_is_shared"] is False  # 96.0 in 2024, alone


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_running_status_has_a_label_in_both_languages(lang):
    text = label_text("cycle_running", lang)
    assert text and text != "cycle_running"


# --- the readers: the profile's cycle table, the acceptance table and the dossier ---------------------------------


def _cycles(**overrides) -> pl.DataFrame:
    base = {
        "cycle": ["2020-2022", "2023-2025", "2024-2026"],
        "cycle_start": [2020, 2023, 2024],
        "cycle_end": [2022, 2025, 2026],
        "verdict": ["normal", "watch", "normal"],
        "evidence": [None, "W1 bottom group in 1 year(s) 2023", None],
        "is_robust": [None, None, None],
        "is_complete": [True, False, False],
        "judged_year": [2022, 2023, None],
        "index_change": [1.0, -2.0, 0.5],
        "verdict_status": ["final", "final", "cycle_running"],
        "third_party_status": ["received", "received", "pending"],
        "third_party_score": [80.0, 75.0, None],
    }
    base.update(overrides)
    return pl.DataFrame(base)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_profile_names_a_cut_short_cycle_judged_not_in_progress(lang):
    """The cycle table read 'in progress' for a cycle cut short years ago (is_complete false) though its verdict
    was given; a running cycle reads in progress, and says its verdict is not given yet."""
    from dashboards.i18n import t
    from dashboards.pages.profile import cycle_rows

    rows = cycle_rows(_cycles(), lang)
    assert rows[0]["state"] == t("complete", lang)
    assert t("in_progress", lang) not in rows[1]["state"] and "2023" in rows[1]["state"], rows[1]["state"]
    assert rows[2]["state"].startswith(t("in_progress", lang))
    assert label_text("cycle_running", lang) in rows[2]["state"]


def test_the_dossier_states_when_each_cycle_was_judged():
    """The dossier's cycle table said 完整 否 for the cut-short cycle, as for the running one."""
    from dashboards.i18n import t
    from pipelines.evaluation.dossier import _cycle_state_text

    states = [_cycle_state_text(r) for r in _cycles().iter_rows(named=True)]
    assert states[0] == f"{t('complete', 'zh')} / {t('complete', 'en')}"
    assert "2023" in states[1] and states[1] != states[2]
    assert label_text("cycle_running", "zh") in states[2] and label_text("cycle_running", "en") in states[2]


# --- 3. the level points name the figures they stand on, and the indicators left out --------------------------


def test_the_level_points_list_each_indicator_and_the_ones_not_counted(running):
    """130400 has a QLT01 value but none for QLT03 / ENV03 (both with a national value): its level points were the
    QLT01 points alone, and nothing said so -- the dossier showed QLT01 only, as if it were the whole level part."""
    a = _row(running["fct_acceptance_score"], "130400", 2020)
    assert a["level_indicators"] == 1
    assert a["level_indicators_missing"] == "ENV03, QLT03"
    parts = a["level_detail"].split("; ")
    assert [p.split(" ")[0] for p in parts] == ["ENV03", "QLT01", "QLT03"]
    qlt01 = next(p for p in parts if p.startswith("QLT01"))
    assert qlt01 == "QLT01 99.0 / 100.0 = 99.0", qlt01  # 2022: 99 against the national 100 (fixture)
    assert a["level_points"] == pytest.approx(99.0)
    assert all("not counted" in p for p in parts if not p.startswith("QLT01"))


def test_the_dossier_shows_the_level_detail_and_what_was_not_counted():
    from pipelines.evaluation.dossier import _acceptance_lines

    a = {
        "cycle": "2020-2022",
        "acceptance_score": 64.0,
        "acceptance_band": "new_pilot_round",
        "acceptance_status": "combined",
        "target_points": 50.0,
        "targets_evaluable": 2,
        "targets_unambitious": 0,
        "unambitious_weight": 0.5,
        "target_weight": 0.6,
        "level_points": 99.0,
        "level_weight": 0.4,
        "benchmark_year": 2022,
        "qlt01_value": 99.0,
        "qlt01_national": 100.0,
        "level_detail": "ENV03 – / 3.0 = not counted (no value); QLT01 99.0 / 100.0 = 99.0",
        "level_indicators_missing": "ENV03",
        "judged_year": 2022,
    }
    text = "\n".join(_acceptance_lines(a))
    assert "QLT01 99.0 / 100.0 = 99.0" in text and "ENV03 – / 3.0" in text
    assert "Not counted in the level points (no value): ENV03" in text


def test_the_dossier_says_a_running_cycle_has_no_acceptance_verdict_yet():
    from pipelines.evaluation.dossier import _acceptance_lines

    a = {
        "cycle": "2023-2025",
        "acceptance_score": None,
        "acceptance_band": None,
        "acceptance_status": "cycle_running",
        "indicator_score": 52.5,
        "third_party_status": "received",
        "third_party_score": 40.0,
        "third_party_weight": 0.3,
        "third_party_evaluator": "E",
        "third_party_report_version": 1,
        "target_points": 50.0,
        "targets_evaluable": 2,
        "targets_unambitious": 0,
        "unambitious_weight": 0.5,
        "target_weight": 0.6,
        "level_points": None,
        "level_weight": 0.4,
        "benchmark_year": None,
        "qlt01_value": None,
        "qlt01_national": None,
        "judged_year": None,
        "scored_year": 2024,
    }
    head = _acceptance_lines(a)[0]
    assert label_text("cycle_running", "zh") in head and label_text("cycle_running", "en") in head
    assert not any(label_text(b, "zh") in head for b in ("title_removed", "new_pilot_round"))
