"""Verdicts a city cannot contest, round 6.

1. A unit that withdrew and later joined again lost the verdict "withdrawn" of the cycle it left: the withdrawal
   year was the unit's (dim_city), null as soon as a later membership was open. It is now the governing
   membership's (fct_programme_unit_year.withdrawn_year), so the history keeps it. The management measures'
   re-application ban ("撤销称号, 两年内不得再申报") is a rule of the rules seed (ACC.reapply_ban_years), and a
   joining inside it is flagged in fct_programme_membership (dbt unit test
   a_joining_inside_the_reapplication_ban_is_flagged).
2. The acceptance score's level part compared the city's value of its last year with the national value of the
   benchmark year, which can be earlier; both are now the benchmark year's (dbt unit test
   acceptance_levels_compare_one_year_and_a_cycle_ended_early_is_not_banded; here on the sample run).
3. The flag page worked out the year a cycle is judged in from the calendar; it reads fct_evaluation_cycle's
   judged_year (a withdrawn unit's cycle is judged in its last evaluated year, the page said the cycle's end).
4. fct_third_party_evaluation and int_programme_calendar took the largest value over all rules versions (dbt
   unit tests third_party_score_uses_the_rules_in_force_in_the_cycles_last_year and
   programme_calendar_reads_the_demonstration_city_cycle_from_the_rules_seed).
5. A cycle that ended before its last year (a pilot promoted, a unit withdrawn) was banded as if accepted; it
   now reads "ended before acceptance" (labels seed ended_before_acceptance), in both languages.
6. The province roll-up counted a running cycle's verdict to date with the judged ones (dbt unit test
   a_running_cycle_is_counted_as_running_not_under_its_verdict_to_date); the provinces page names it running.

Labels and thresholds are read from the seeds, never copied here."""

from __future__ import annotations

import duckdb
import evaluation_fixtures as F
import polars as pl
import pytest

from pipelines.labels import label_text

REAPPLIED = "130500"  # the rule cases' withdrawn unit (withdrew 2021), made to join a 2024-2026 calendar


@pytest.fixture(scope="module")
def reapplied(tmp_path_factory) -> pl.DataFrame:
    """The rule cases with 130500 joining again in 2024: its dim_city row no longer carries a withdrawal (a
    membership is open), it has no programme year 2021-2023, and 2024-2025 are on a 2024-2026 calendar."""
    work = tmp_path_factory.mktemp("reapplied")
    wh = work / "wh.duckdb"
    with duckdb.connect(str(wh)) as con:
        F.rule_cases(con)
        con.execute(
            "update marts.dim_city set withdrawn_year = null, programme_status = 'active' where unit_code = ?",
            [REAPPLIED],
        )
        con.execute(
            "delete from marts.fct_programme_unit_year where unit_code = ? and year between 2021 and 2023", [REAPPLIED]
        )
        con.execute(
            """update marts.fct_programme_unit_year set programme_code = 'strong_city_demo', cohort = '2024-01',
               cycle_start = 2024, cycle_end = 2026, cycle_baseline_year = 2023, cycle = '2024–2026',
               withdrawn_year = null where unit_code = ? and year >= 2024""",
            [REAPPLIED],
        )
        con.execute(
            """update marts.fct_city_score_year set is_evaluated = false, rank = null
               where unit_code = ? and year between 2021 and 2023""",
            [REAPPLIED],
        )
    F.run_evaluation_dbt(wh, work)
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.sql("select * from marts.fct_evaluation_cycle where unit_code = ?", params=[REAPPLIED]).pl()


def test_a_unit_that_joins_again_keeps_the_withdrawn_verdict_of_the_cycle_it_left(reapplied):
    by_cycle = {r["cycle"]: r for r in reapplied.iter_rows(named=True)}
    left = by_cycle["2020–2022"]
    assert left["verdict"] == "withdrawn", left
    assert left["withdrawn_year"] == 2021 and left["judged_year"] == 2020
    assert "withdrawn in 2021" in left["evidence"]
    new = by_cycle["2024–2026"]
    assert new["verdict"] != "withdrawn" and new["withdrawn_year"] is None, new
    # the cycle before the withdrawal keeps its own verdict
    assert by_cycle["2017–2019"]["verdict"] != "withdrawn"


def test_the_reapplication_ban_is_a_rule_of_every_rules_version():
    """The ban's period is configuration (one definition, the rules seed), in force in every version."""
    from pipelines.evaluation.rules import load_rules

    seed = pl.read_csv(F.DBT_PROJECT_DIR / "seeds" / "evaluation_rules.csv", infer_schema=False)
    versions = set(seed["rules_version"])
    ban = seed.filter((pl.col("rule_code") == "ACC") & (pl.col("param") == "reapply_ban_years"))
    assert set(ban["rules_version"]) == versions
    assert all(int(v) > 0 for v in ban["value"])
    assert all(ban[c].str.len_chars().min() > 0 for c in ("description_zh", "official_zh", "official_en"))
    assert load_rules(year=2024)["ACC.reapply_ban_years"] == int(
        ban.filter(pl.col("rules_version") == "2024.1")["value"][0]
    )


# --- 3. the flag page reads the mart's judged_year ------------------------------------------------------------


@pytest.fixture()
def flag_snapshot(tmp_path):
    """洛阳 410300 withdrew in 2024: its 2022-2024 cycle holds 2022-2023, no other cycle follows, and the mart
    judges it in 2023 (the withdrawal is a verdict of the year it was given). The calendar alone says 2024."""
    from dashboards.snapshot import Snapshot
    from pipelines.snapshot_writer import SNAPSHOT_SCHEMA_VERSION

    path = tmp_path / "snap.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("create schema meta")
    con.execute("create table meta.snapshot_info (key varchar, value varchar)")
    con.execute("insert into meta.snapshot_info values ('schema_version', ?)", [str(SNAPSHOT_SCHEMA_VERSION)])
    con.execute(
        """create table marts.fct_evaluation_year as select * from (values
             ('410300', 2022, 2022, 2024), ('410300', 2023, 2022, 2024)) t(unit_code, year, cycle_start, cycle_end)"""
    )
    con.execute(
        """alter table marts.fct_evaluation_year add column stage varchar default 'watch';
           alter table marts.fct_evaluation_year add column composite_index double default 90.0;
           alter table marts.fct_evaluation_year add column rank integer default 30;
           alter table marts.fct_evaluation_year add column n_ranked integer default 40;
           alter table marts.fct_evaluation_year add column p05_rank double;
           alter table marts.fct_evaluation_year add column p95_rank double;
           alter table marts.fct_evaluation_year add column is_robust boolean default true"""
    )
    con.execute(
        """create table marts.fct_evaluation_cycle as select '410300' as unit_code, 2022 as cycle_start,
             2024 as cycle_end, 2023 as judged_year, 'withdrawn' as verdict"""
    )
    con.close()
    return Snapshot(path)


def test_the_flag_page_dates_the_cycle_verdict_by_the_marts_judged_year(flag_snapshot):
    from dashboards.pages.flag import cycle_judged_year, evaluation_row, next_steps

    row = evaluation_row(flag_snapshot, "410300", 2023)
    assert cycle_judged_year(flag_snapshot, "410300", row) == 2023
    steps = " ".join(next_steps("watch", 2023, row["cycle_end"], {}, "en", 2023))
    assert "2024-03-01" in steps  # the 2023 verdict is published on the next evaluation day


def test_the_flag_page_dates_a_running_cycle_by_its_end(flag_snapshot):
    from dashboards.pages.flag import cycle_judged_year

    con = duckdb.connect(str(flag_snapshot.path))
    con.execute("update marts.fct_evaluation_cycle set judged_year = null")
    con.close()
    assert cycle_judged_year(flag_snapshot, "410300", {"cycle_start": 2022, "cycle_end": 2024}) == 2024


def test_releases_no_longer_keeps_a_second_judged_year_rule():
    import pipelines.evaluation.releases as releases

    assert not hasattr(releases, "judged_year_of_cycle")


# --- 5. a cycle ended before its last year is not banded, and says so -----------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_ended_before_acceptance_has_a_label_in_both_languages(lang):
    text = label_text("ended_before_acceptance", lang)
    assert text and text != "ended_before_acceptance"


def _ended(**over) -> dict:
    row = {
        "cycle": "2022-2024",
        "acceptance_status": "ended_before_acceptance",
        "acceptance_score": None,
        "acceptance_band": None,
        "acceptance_scored": True,
        "indicator_score": 80.7,
        "third_party_status": "received",
        "third_party_score": 90.0,
        "third_party_weight": 0.3,
        "third_party_evaluator": "e",
        "third_party_report_version": 1,
        "target_points": 70.0,
        "targets_evaluable": 2,
        "targets_unambitious": 0,
        "unambitious_weight": 0.5,
        "target_weight": 0.6,
        "level_points": 100.0,
        "level_weight": 0.4,
        "benchmark_year": 2023,
        "qlt01_value": 121.67,
        "qlt01_national": 28.52,
        "level_detail": None,
        "level_indicators_missing": None,
        "judged_year": 2023,
        "scored_year": 2023,
    }
    row.update(over)
    return row


def test_the_dossier_and_the_profile_say_the_cycle_ended_before_acceptance():
    from dashboards.pages.profile import _band_cell
    from pipelines.evaluation.dossier import _acceptance_lines

    lines = _acceptance_lines(_ended())
    head = lines[0]
    # the QLT01 figure names the year it is of (the benchmark year), so it can be traced to the indicator table
    assert any("QLT01 (2023): 121.67" in line for line in lines), lines
    assert label_text("ended_before_acceptance", "zh") in head and label_text("ended_before_acceptance", "en") in head
    for band in ("title_removed", "new_pilot_round", "demonstration_cultivation"):
        assert label_text(band, "zh") not in head
    for lang in ("zh", "en"):
        assert _band_cell(_ended(), lang) == label_text("ended_before_acceptance", lang)


# --- 6. the provinces page names running cycles, not a verdict --------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_provinces_page_counts_running_cycles_under_their_own_label(lang):
    from dashboards.pages.provinces import stages_text

    text = stages_text({"n_watch": 1, "n_cycle_running": 2}, lang)
    assert f"{label_text('cycle_running', lang)} 2" in text
    assert text.count(label_text("watch", lang)) == 1


# --- on the real sample run ---------------------------------------------------------------------------------------


def _q(path, sql: str) -> pl.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


def test_on_the_sample_no_cycle_ended_early_is_banded_and_levels_compare_one_year(sample_snapshot):
    snap = sample_snapshot.snapshot
    acc = _q(snap, "select * from marts.fct_acceptance_score")
    early = acc.filter(pl.col("judged_year") < pl.col("cycle_last_year"))
    assert early.height > 0, "the sample has a promoted pilot (南通) and a withdrawn unit (洛阳)"
    assert (early["acceptance_status"] == "ended_before_acceptance").all(), early
    assert early["acceptance_band"].is_null().all() and early["acceptance_score"].is_null().all()
    assert "320600" in early["unit_code"].to_list()
    # qlt01_value is the city's value of the benchmark year, the year of the national value it is compared with
    joined = _q(
        snap,
        """select a.unit_code, a.cycle, a.qlt01_value, v.value as city_benchmark_year
           from marts.fct_acceptance_score a
           left join marts.fct_city_indicator_year v
             on v.unit_code = a.unit_code and v.year = a.benchmark_year and v.indicator_code = 'QLT01'
           where a.qlt01_value is not null""",
    )
    assert joined.height > 0
    off = joined.filter((pl.col("qlt01_value") - pl.col("city_benchmark_year")).abs() > 1e-9)
    assert off.height == 0, off
    # every rollup cycle row counts its running cycles apart from its verdicts
    roll = _q(snap, "select * from marts.fct_province_rollup where rollup_level = 'cycle'")
    cyc = _q(snap, "select * from marts.fct_evaluation_cycle")
    assert int(roll["n_cycle_running"].sum()) == cyc.filter(pl.col("verdict_status") == "cycle_running").height
