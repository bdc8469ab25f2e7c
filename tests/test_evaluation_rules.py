"""Each evaluation rule on hand-built cases (tests/evaluation_fixtures.RULE_UNITS), run through the real dbt
models, and the rules seed steering them: changing a threshold changes the stages exactly as that rule says."""

from __future__ import annotations

import duckdb
import evaluation_fixtures as F
import polars as pl
import pytest


def _build(
    tmp_path_factory,
    name: str,
    rules_csv: str | None = None,
    uncertainty: dict | None = None,
    reporting: dict | None = None,
    data_tests: bool = False,
) -> dict[str, pl.DataFrame]:
    work = tmp_path_factory.mktemp(name)
    wh = work / "wh.duckdb"
    with duckdb.connect(str(wh)) as con:
        F.rule_cases(con)
        if uncertainty is not None:
            F.rule_uncertainty(con, uncertainty)
        if reporting is not None:
            F.reporting(con, **reporting)
    F.run_evaluation_dbt(wh, work, rules_csv, data_tests=data_tests)
    with duckdb.connect(str(wh), read_only=True) as con:
        return {
            t: con.sql(f"select * from marts.{t}").pl()
            for t in (
                "fct_evaluation_year",
                "fct_evaluation_cycle",
                "fct_target_status_year",
                "fct_reporting_status",
                "fct_acceptance_score",
                "fct_national_benchmark",
            )
        }


@pytest.fixture(scope="module")
def default(tmp_path_factory):
    # the models' dbt data tests run on the rule cases once, here (the variants below move one threshold each)
    return _build(tmp_path_factory, "default", data_tests=True)


def stage(marts, unit: str, year: int) -> str | None:
    rows = marts["fct_evaluation_year"].filter((pl.col("unit_code") == unit) & (pl.col("year") == year))
    return rows["stage"][0] if rows.height else None


def stages(marts, unit: str) -> dict[int, str]:
    df = marts["fct_evaluation_year"].filter(pl.col("unit_code") == unit).sort("year")
    return dict(zip(df["year"].to_list(), df["stage"].to_list()))


def verdict(marts, unit: str, cycle: str) -> str | None:
    rows = marts["fct_evaluation_cycle"].filter((pl.col("unit_code") == unit) & (pl.col("cycle") == cycle))
    return rows["verdict"][0] if rows.height else None


def test_stable_city_stays_normal(default):
    assert set(stages(default, "110100").values()) == {"normal"}
    assert [verdict(default, "110100", c) for c in ("2017–2019", "2020–2022", "2023–2025")] == ["normal"] * 3


def test_ex1_leader_that_improves_is_exemplary(default):
    s = stages(default, "120100")
    assert s[2016] == "normal"  # baseline year: no cycle, so no improvement to judge
    assert all(s[y] == "exemplary" for y in range(2017, 2026))
    assert verdict(default, "120100", "2020–2022") == "exemplary"
    row = default["fct_evaluation_cycle"].filter((pl.col("unit_code") == "120100") & (pl.col("cycle") == "2020–2022"))
    assert row["index_change"][0] == pytest.approx(9.0)  # 148 in 2022 vs 139 in 2019


def test_two_units_on_different_calendars_in_one_run(default, with_runs):
    """Issue 17: each unit is judged on its own programme's cycle calendar (fct_programme_unit_year). 140100
    joined the 2022 strong-city cohort: its 2022-2024 years form one cycle with baseline 2021 (index 126), so the
    leader improves +1, +3, +3 and is exemplary every year and over the cycle; the demonstration city 120100 in
    the same run keeps 2020-2022 (baseline 2019) and 2023-2025 (baseline 2022)."""
    ev = default["fct_evaluation_year"]
    strong = ev.filter(pl.col("unit_code") == "140100").sort("year")
    assert strong["year"].to_list() == [2022, 2023, 2024]  # 2021 is its baseline year, not an evaluated year
    assert set(strong["cycle"]) == {"2022–2024"} and set(strong["cycle_baseline_year"]) == {2021}
    assert set(strong["cycle_start"]) == {2022} and set(strong["cycle_end"]) == {2024}
    assert strong["baseline_index"].to_list() == [126.0] * 3
    assert strong["index_change_cycle"].to_list() == pytest.approx([1.0, 3.0, 3.0])
    assert strong["stage"].to_list() == ["exemplary"] * 3
    assert "index change since 2021 +1.0" in strong["rules_fired"][0]
    demo = {r["year"]: r for r in ev.filter(pl.col("unit_code") == "120100").iter_rows(named=True)}
    assert (demo[2022]["cycle"], demo[2022]["cycle_baseline_year"], demo[2022]["baseline_index"]) == (
        "2020–2022",
        2019,
        139.0,
    )
    assert (demo[2023]["cycle"], demo[2023]["cycle_baseline_year"]) == ("2023–2025", 2022)
    # the cycle verdict: one cycle, complete, with its calendar's baseline year, and the third-party upload for
    # 2022-2024 -- which no demonstration-calendar cycle would match -- is received
    cy = default["fct_evaluation_cycle"].filter(pl.col("unit_code") == "140100")
    assert cy.height == 1
    row = cy.row(0, named=True)
    assert (row["cycle"], row["baseline_year"], row["years_evaluated"], row["is_complete"]) == (
        "2022–2024",
        2021,
        3,
        True,
    )
    assert row["verdict"] == "exemplary" and row["index_change"] == pytest.approx(3.0)
    assert (row["third_party_status"], row["third_party_score"], row["verdict_status"]) == (
        "received",
        F.STRONG_CITY_THIRD_PARTY_SCORE,
        "final",
    )
    acc = default["fct_acceptance_score"].filter(pl.col("unit_code") == "140100").row(0, named=True)
    assert (acc["cycle_first_year"], acc["cycle_last_year"], acc["judged_year"]) == (2022, 2024, 2024)
    assert acc["third_party_status"] == "received"
    assert verdict(default, "120100", "2020–2022") == "exemplary"
    # the robustness shares (rule_uncertainty) use the same calendar: the improvement since 2021 holds in every run
    runs = with_runs["fct_evaluation_year"].filter(pl.col("unit_code") == "140100").sort("year")
    assert runs["share_improved"].to_list() == [1.0] * 3 and runs["is_robust"].to_list() == [True] * 3


def test_w1_one_bottom_year_is_watch_only(default):
    s = stages(default, "130100")
    assert s[2018] == "watch" and s[2017] == "normal" and s[2019] == "normal"
    row = default["fct_evaluation_year"].filter((pl.col("unit_code") == "130100") & (pl.col("year") == 2018))
    assert row["fired_w1"][0] and "W1" in row["rules_fired"][0] and "emerging" in row["rules_fired"][0]
    assert verdict(default, "130100", "2017–2019") == "watch"


def test_r1_two_consecutive_watch_years_then_x1_exit(default):
    s = stages(default, "130200")
    assert s[2018] == "watch" and s[2019] == "rectification"
    assert verdict(default, "130200", "2017–2019") == "rectification"
    # rectification in 2017-2019, still emerging and no better in 2020-2022: exit candidate
    assert [s[y] for y in (2020, 2021, 2022)] == ["exit_candidate"] * 3
    assert verdict(default, "130200", "2020–2022") == "exit_candidate"
    # recovers in 2023-2025: back to normal, the exit candidacy does not stick
    assert verdict(default, "130200", "2023–2025") == "normal"
    row = default["fct_evaluation_year"].filter((pl.col("unit_code") == "130200") & (pl.col("year") == 2019))
    assert row["watch_run_years"][0] == 2


def test_r2_regressing_composite_over_the_cycle(default):
    s = stages(default, "130300")
    assert s[2020] == "normal" and s[2021] == "normal"  # judged over the whole cycle, in its last year
    assert s[2022] == "rectification"
    row = default["fct_evaluation_year"].filter((pl.col("unit_code") == "130300") & (pl.col("year") == 2022))
    assert row["fired_r2"][0] and row["index_change_cycle"][0] == pytest.approx(-8.0)
    assert verdict(default, "130300", "2020–2022") == "rectification"


def test_w2_majority_of_key_targets_lagging(default):
    s = stages(default, "130400")
    assert s[2021] == "watch" and s[2022] == "rectification" and s[2023] == "normal"
    row = default["fct_evaluation_year"].filter((pl.col("unit_code") == "130400") & (pl.col("year") == 2021))
    # the non-key MGT01 target deteriorates too but does not count
    assert (row["targets_lagging"][0], row["targets_evaluable"][0]) == (2, 2)
    ts = default["fct_target_status_year"].filter(pl.col("unit_code") == "130400")
    by = {(r["indicator_code"], r["year"]): r["status"] for r in ts.iter_rows(named=True)}
    assert by[("QLT01", 2021)] == "limited_progress" and by[("QLT01", 2022)] == "deteriorating"
    assert by[("QLT01", 2023)] == "on_track" and by[("QLT01", 2025)] == "achieved"
    # recovered (no watch rule fires) in 2023-2025: not an exit candidate although the index is flat
    assert verdict(default, "130400", "2023–2025") == "normal"


def test_withdrawn_city_keeps_history_and_stops(default):
    years = sorted(stages(default, "130500"))
    assert years == list(range(2016, 2021))  # withdrawn in 2021
    assert verdict(default, "130500", "2017–2019") == "rectification"
    assert verdict(default, "130500", "2020–2022") == "withdrawn"
    assert verdict(default, "130500", "2023–2025") is None


def test_rectified_city_that_improves_is_not_exit_candidate(default):
    assert verdict(default, "130600", "2017–2019") == "rectification"
    assert verdict(default, "130600", "2020–2022") == "normal"


def test_watch_years_count_across_cycle_boundaries(default):
    s = stages(default, "130700")
    assert s[2019] == "rectification"  # R2: 60 in 2019 vs 95 in 2016
    assert s[2020] == "rectification"  # R1: 2019 and 2020 both in the bottom group
    row = default["fct_evaluation_year"].filter((pl.col("unit_code") == "130700") & (pl.col("year") == 2020))
    assert row["fired_r1"][0] and not row["fired_x1"][0]  # index up 1 point since 2019: improved


def test_x1_is_judged_in_the_cycle_last_year(default):
    # methodology §10: X1 needs a watch rule still firing in the cycle's last year. 130800 had one watch
    # year early in 2020-2022 (an interim X1 row) but is out of every watch condition in 2022: the cycle
    # verdict follows the last year's row, never an exit candidacy the year rows do not show at the end.
    s = stages(default, "130800")
    assert verdict(default, "130800", "2017–2019") == "rectification"
    assert s[2020] == "exit_candidate" and s[2022] == "normal"
    assert verdict(default, "130800", "2020–2022") == "watch"
    years, cycles = default["fct_evaluation_year"], default["fct_evaluation_cycle"]
    last = years.filter(pl.col("cycle").is_not_null()).group_by("unit_code", "cycle").agg(pl.col("year").max())
    ends = last.join(years, on=["unit_code", "cycle", "year"]).join(cycles, on=["unit_code", "cycle"])
    # every exit-candidate verdict has X1 firing in its last year row, and vice versa (withdrawn comes first)
    ends = ends.filter(pl.col("verdict") != "withdrawn")
    assert ends.filter((pl.col("verdict") == "exit_candidate") != pl.col("fired_x1")).is_empty()


def test_robustness_is_null_without_uncertainty(default):
    assert default["fct_evaluation_year"]["is_robust"].null_count() == default["fct_evaluation_year"].height


# --- the rules file steers the stages ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def stricter(tmp_path_factory):
    return _build(
        tmp_path_factory,
        "stricter",
        F.rules_with({("R1", "watch_years"): "3", ("R2", "regress_points"): "10", ("X1", "enabled"): "0"}),
    )


def test_rules_file_changes_stages(default, stricter):
    # R1 at 3 years: two lagging-target years are watch, not rectification
    assert stages(default, "130400")[2022] == "rectification"
    assert stages(stricter, "130400")[2022] == "watch"
    # ... and the 2018-2022 bottom-group run of 130200 reaches rectification in its third year
    assert stages(stricter, "130200")[2018] == "watch"
    assert stages(stricter, "130200")[2020] == "rectification"
    # R2 at 10 points: an 8-point fall no longer regresses, a 24-point fall still does
    assert stages(default, "130300")[2022] == "rectification"
    assert stages(stricter, "130300")[2022] == "normal"
    assert stages(stricter, "130200")[2019] == "rectification"
    # X1 disabled: no exit candidates anywhere
    assert "exit_candidate" not in stricter["fct_evaluation_year"]["stage"].to_list()
    assert "exit_candidate" not in stricter["fct_evaluation_cycle"]["verdict"].to_list()
    # each year carries the rules version in force then (seed rules_versions), not one version for all
    by_year = dict(stricter["fct_evaluation_year"].select("year", "rules_version").unique().iter_rows())
    assert by_year[2016] == by_year[2021] == "2021.1" and by_year[2022] == by_year[2025] == "2024.1"
    row = stricter["fct_evaluation_cycle"].filter((pl.col("unit_code") == "110100") & (pl.col("cycle") == "2020–2022"))
    assert row["rules_versions"][0] == "2020:2021.1, 2021:2021.1, 2022:2024.1"
    assert row["catalog_versions"][0] == "2020:2021.1, 2021:2021.1, 2022:2024.1"


@pytest.fixture(scope="module")
def moderate_bottom(tmp_path_factory):
    return _build(tmp_path_factory, "moderate_bottom", F.rules_with({("W1", "bottom_group"): "moderate"}))


def test_bottom_group_comes_from_the_rules_file(moderate_bottom):
    # the emerging-only city is no longer watched ...
    assert stages(moderate_bottom, "130100")[2018] == "normal"
    # ... and the stable city (index 95: moderate) is watched, then rectified in its second year
    s = stages(moderate_bottom, "110100")
    assert s[2016] == "watch" and s[2017] == "rectification"


@pytest.fixture(scope="module")
def no_watch(tmp_path_factory):
    return _build(tmp_path_factory, "no_watch", F.rules_with({("W1", "enabled"): "0", ("W2", "enabled"): "0"}))


def test_disabling_watch_rules_removes_watch_and_consecutive_rectification(no_watch):
    df = no_watch["fct_evaluation_year"]
    assert not df["fired_w1"].any() and not df["fired_w2"].any() and not df["fired_r1"].any()
    assert set(df["stage"].unique().to_list()) <= {"normal", "exemplary", "rectification", "exit_candidate"}
    # R2 does not depend on the watch rules
    assert stages(no_watch, "130300")[2022] == "rectification"


def test_same_input_gives_identical_marts(default, tmp_path_factory):
    again = _build(tmp_path_factory, "again")
    for name in ("fct_evaluation_year", "fct_evaluation_cycle"):
        key = ["unit_code", "year"] if name.endswith("year") else ["unit_code", "cycle"]
        assert again[name].sort(key).equals(default[name].sort(key))


# --- sanctions only on robust evidence --------------------------------------------------------------------


@pytest.fixture(scope="module")
def with_runs(tmp_path_factory):
    # 130200's 2019 bottom-group year holds in only 60 % of the runs: its R1 rectification is not robust
    return _build(tmp_path_factory, "with_runs", uncertainty={("130200", 2019): {"share_bottom": 0.6}})


def test_non_robust_sanctions_become_review(with_runs):
    ev = with_runs["fct_evaluation_year"]
    # R2 of a moderate city (index 88): the fall is real in every run but the city is never in the bottom
    # group, so the sanction is not robust -> review (人工复核), with the evidence kept
    row = ev.filter((pl.col("unit_code") == "130300") & (pl.col("year") == 2022)).row(0, named=True)
    assert (row["rule_stage"], row["stage"], row["is_robust"]) == ("rectification", "review", False)
    assert row["fired_r2"] and "R2" in row["rules_fired"]
    assert verdict(with_runs, "130300", "2020–2022") == "review"
    # 130200: the 2018-2019 run is robust only for 2018 -> 2019 is review; the 2019-2020 run is not robust
    # either; a non-robust rectification does not carry into an exit candidacy
    s = stages(with_runs, "130200")
    assert s[2019] == "review"
    assert "exit_candidate" not in [s[y] for y in (2020, 2021, 2022)]
    # ... while a robust run (2020-2021) still rectifies
    assert s[2021] == "rectification"
    # no rectification or exit candidate anywhere rests on non-robust evidence
    sanctions = ev.filter(pl.col("stage").is_in(["rectification", "exit_candidate"]))
    assert sanctions.height > 0 and sanctions["is_robust"].all()
    cy = with_runs["fct_evaluation_cycle"].filter(pl.col("verdict").is_in(["rectification", "exit_candidate"]))
    assert cy.height > 0 and cy["is_robust"].all()
    # the robust lagging city keeps its sanctions: 130500 rectification 2017-2019
    assert verdict(with_runs, "130500", "2017–2019") == "rectification"


@pytest.fixture(scope="module")
def rules_2024_only(tmp_path_factory):
    return _build(tmp_path_factory, "rules_2024_only", F.rules_with({("W1", "enabled"): "0"}, versions=("2024.1",)))


def test_each_year_is_judged_by_the_rules_in_force_then(default, rules_2024_only):
    # W1 switched off only in rules version 2024.1 (years >= 2022): 130100's 2018 bottom year is still watched
    # under the 2021.1 rules, 130200's 2022 bottom year no longer is
    assert stages(rules_2024_only, "130100")[2018] == "watch"
    assert stages(default, "130200")[2022] != "normal"
    row = rules_2024_only["fct_evaluation_year"].filter((pl.col("unit_code") == "130200") & (pl.col("year") == 2022))
    assert not row["fired_w1"][0] and row["rules_version"][0] == "2024.1"


# --- non-reporting -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stops_reporting(tmp_path_factory):
    # 110100 (the stable city) sends no pledge-loan report after 2022; the latest data land on 2026-03-01
    return _build(tmp_path_factory, "stops_reporting", reporting={"stops_after": {"110100": 2022}})


def test_a_city_whose_source_stops_arriving_is_not_reported_after_the_grace_period(stops_reporting):
    rs = stops_reporting["fct_reporting_status"]
    mine = rs.filter((pl.col("unit_code") == "110100") & (pl.col("source") == "pledge_loans"))
    status = dict(zip(mine["year"].to_list(), mine["status"].to_list()))
    # on time up to 2022; 2023 and 2024: nothing by 30 June of the next year -> not_reported; 2025: the grace
    # period (to 2026-06-30) is not over on the as-of date 2026-03-01 -> missing, not yet a verdict
    assert all(status[y] == "received" for y in range(2016, 2023))
    assert status[2023] == status[2024] == "not_reported" and status[2025] == "missing"
    row = mine.filter(pl.col("year") == 2023).row(0, named=True)
    assert str(row["due_date"]) == "2024-03-31" and str(row["grace_end_date"]) == "2024-06-30"
    # 2025 data landed on 2026-03-01, before the 31 March due date: received; other units are unaffected
    others = rs.filter(pl.col("unit_code") != "110100")
    assert set(others["status"].to_list()) == {"received"}
    # the rules count it as exit (management measures); never silently unranked or dropped
    s = stages(stops_reporting, "110100")
    assert s[2022] == "normal" and s[2023] == s[2024] == "not_reported" and s[2025] == "normal"
    ev = stops_reporting["fct_evaluation_year"].filter((pl.col("unit_code") == "110100") & (pl.col("year") == 2023))
    assert ev["counts_as_exit"][0] and "pledge_loans" in ev["rules_fired"][0]
    assert verdict(stops_reporting, "110100", "2023–2025") == "not_reported"
    cy = stops_reporting["fct_evaluation_cycle"].filter(pl.col("unit_code") == "110100")
    assert cy.filter(pl.col("cycle") == "2023–2025")["counts_as_exit"][0]


# --- acceptance score (验收评分) and the national unit ------------------------------------------------------


def test_national_unit_from_the_statistics_path(default):
    nb = default["fct_national_benchmark"]
    assert set(nb["unit_code"].to_list()) == {"000000"}
    row = nb.filter((pl.col("year") == 2019) & (pl.col("indicator_code") == "QLT01")).row(0, named=True)
    # sum of the provinces' patents in force over the sum of their population, not a mean of ratios
    assert row["value"] == pytest.approx(100.0) and row["n_provinces"] == 2
    env = nb.filter((pl.col("year") == 2019) & (pl.col("indicator_code") == "ENV03"))["value"][0]
    assert env == pytest.approx(800 / 10000)


def _band(score: float) -> str:
    return "title_removed" if score < 60 else "new_pilot_round" if score < 70 else "demonstration_cultivation"


def test_acceptance_score_is_absolute_with_bands_from_the_rules(default):
    acc = default["fct_acceptance_score"]
    row = acc.filter((pl.col("unit_code") == "130400") & (pl.col("cycle") == "2023–2025")).row(0, named=True)
    # targets in 2025: QLT01 and PRO01 achieved (100 each), MGT01 moving away (0). QLT01 is unambitious
    # (fct_target_ambition), so its achievement weighs AMB.unambitious_weight 0.5: (0.5 x 100 + 100 + 0) / 2.5
    # = 60 target points; QLT01 200 vs the national 100 (2023 statistics, the latest <= 2025) -> 100 level points
    assert row["target_points"] == pytest.approx(60.0) and row["targets_evaluable"] == 3
    assert row["targets_unambitious"] == 1 and row["unambitious_weight"] == 0.5
    assert row["level_points"] == pytest.approx(100.0) and row["benchmark_year"] == 2023
    indicator = 0.6 * 60 + 0.4 * 100
    assert row["indicator_score"] == pytest.approx(indicator)
    assert row["cycle_first_year"] == 2023 and row["cycle_last_year"] == 2025
    # 2020-2022: QLT01 99 in 2022 against a 100 baseline, PRO01 98 -> both deteriorating, MGT01 too -> 0
    # target points; level 99 / 100 -> 99 points: indicator score 0.4 x 99 = 39.6
    low = acc.filter((pl.col("unit_code") == "130400") & (pl.col("cycle") == "2020–2022")).row(0, named=True)
    assert low["indicator_score"] == pytest.approx(0.4 * 99.0)
    # absolute: every score within 0-100, and a unit without targets or benchmark values has no score
    assert acc["indicator_score"].drop_nulls().is_between(0, 100).all()
    assert acc["acceptance_score"].drop_nulls().is_between(0, 100).all()
    none = acc.filter(pl.col("unit_code") == "110100")
    assert none["acceptance_score"].null_count() == 3 and set(none["acceptance_status"]) == {"insufficient_data"}


def test_acceptance_combines_the_third_party_score_and_pending_blocks_the_band(default):
    """A cycle with the evaluator's upload is judged on (1 - w) x indicator + w x third-party, its band read from
    that combined score; a cycle without one is third_party_pending with no score and no band."""
    acc = default["fct_acceptance_score"]
    row = acc.filter((pl.col("unit_code") == "130400") & (pl.col("cycle") == "2023–2025")).row(0, named=True)
    w = 0.3  # TP.third_party_weight of the seed
    combined = (1 - w) * row["indicator_score"] + w * F.THIRD_PARTY_SCORE  # 0.7 x 76 + 0.3 x 30 = 62.2
    assert row["acceptance_status"] == "combined" and row["third_party_status"] == "received"
    assert row["third_party_score"] == F.THIRD_PARTY_SCORE and row["third_party_weight"] == w
    assert row["third_party_evaluator"] == F.THIRD_PARTY_EVALUATOR and row["third_party_report_version"] == 2
    assert row["acceptance_score"] == pytest.approx(combined, abs=1e-9)
    # the band is the combined score's (62.2: a new pilot round), not the indicator score's (76: cultivation)
    assert row["acceptance_band"] == "new_pilot_round" == _band(combined) != _band(row["indicator_score"])
    low = acc.filter((pl.col("unit_code") == "130400") & (pl.col("cycle") == "2020–2022")).row(0, named=True)
    assert low["third_party_status"] == "pending" and low["acceptance_status"] == "third_party_pending"
    assert low["indicator_score"] is not None and low["acceptance_score"] is None and low["acceptance_band"] is None
    # no cycle gets a band without an upload (TP.pending_blocks_verdict = 1)
    assert (
        acc.filter(pl.col("third_party_status") == "pending")["acceptance_band"].null_count()
        == acc.filter(pl.col("third_party_status") == "pending").height
    )
    # the cycle verdict says so: pending cycles are third_party_pending (withdrawn and not_reported stay final)
    cy = default["fct_evaluation_cycle"]
    mine = {r["cycle"]: r for r in cy.filter(pl.col("unit_code") == "130400").iter_rows(named=True)}
    assert mine["2023–2025"]["third_party_status"] == "received" and mine["2023–2025"]["verdict_status"] == "final"
    assert mine["2023–2025"]["third_party_score"] == F.THIRD_PARTY_SCORE
    assert (mine["2020–2022"]["third_party_status"], mine["2020–2022"]["verdict_status"]) == (
        "pending",
        "third_party_pending",
    )
    assert "third-party evaluation pending" in mine["2020–2022"]["evidence"]
    withdrawn = cy.filter((pl.col("unit_code") == "130500") & (pl.col("verdict") == "withdrawn"))
    assert withdrawn.height == 1 and withdrawn["verdict_status"][0] == "final"
    # (140100, the strong-city unit, has an upload for its own 2022-2024 cycle: see the calendar test)
    others = cy.filter(
        ~pl.col("unit_code").is_in(["130400", "140100"]) & ~pl.col("verdict").is_in(["withdrawn", "not_reported"])
    )
    assert set(others["verdict_status"]) == {"third_party_pending"}


def test_acceptance_follows_the_third_party_and_ambition_rules_of_the_seed(default, tmp_path_factory):
    """Changing TP.third_party_weight, AMB.unambitious_weight and TP.pending_blocks_verdict in the rules seed
    changes the acceptance scores exactly as documented."""
    changed = _build(
        tmp_path_factory,
        "acceptance_rules",
        F.rules_with(
            {
                ("TP", "third_party_weight"): "0.5",
                ("AMB", "unambitious_weight"): "1",
                ("TP", "pending_blocks_verdict"): "0",
            }
        ),
    )
    acc = changed["fct_acceptance_score"]
    row = acc.filter((pl.col("unit_code") == "130400") & (pl.col("cycle") == "2023–2025")).row(0, named=True)
    # an unambitious target now weighs 1 like the others: (100 + 100 + 0) / 3
    assert row["target_points"] == pytest.approx(200 / 3) and row["unambitious_weight"] == 1
    assert row["indicator_score"] == pytest.approx(0.6 * 200 / 3 + 0.4 * 100)  # 80
    combined = 0.5 * 80 + 0.5 * F.THIRD_PARTY_SCORE  # 55
    assert row["third_party_weight"] == 0.5 and row["acceptance_score"] == pytest.approx(combined, abs=1e-9)
    assert row["acceptance_band"] == "title_removed" == _band(combined)
    base = default["fct_acceptance_score"].filter((pl.col("unit_code") == "130400") & (pl.col("cycle") == "2023–2025"))
    assert base["acceptance_score"][0] != pytest.approx(row["acceptance_score"])
    # pending no longer blocks: the indicator-only score, explicitly marked, with its band
    low = acc.filter((pl.col("unit_code") == "130400") & (pl.col("cycle") == "2020–2022")).row(0, named=True)
    assert low["acceptance_status"] == "indicator_only" and low["acceptance_score"] == pytest.approx(0.4 * 99.0)
    assert low["acceptance_band"] == "title_removed"
    cy = changed["fct_evaluation_cycle"].filter((pl.col("unit_code") == "130400") & (pl.col("cycle") == "2020–2022"))
    assert cy["verdict_status"][0] == "indicator_only"
    stricter = _build(tmp_path_factory, "acceptance_bands", F.rules_with({("ACC", "remove_below"): "65"}))
    row = stricter["fct_acceptance_score"].filter((pl.col("unit_code") == "130400") & (pl.col("cycle") == "2023–2025"))
    assert row["acceptance_band"][0] == "title_removed"  # 62.2 < 65


def test_profile_and_dossier_show_the_combined_score_or_pending(default):
    """Where acceptance scores are shown (profile page, evidence dossier), in Chinese and English: the combined
    score with its parts and band, or "third-party evaluation pending" with no band."""
    from dashboards.evaluation_text import evidence_text
    from dashboards.pages.profile import acceptance_view, cycle_rows
    from pipelines.evaluation.dossier import _acceptance_lines, _verdict_status_text

    acc = default["fct_acceptance_score"].filter(pl.col("unit_code") == "130400").sort("cycle_first_year")
    zh, en = (str(acceptance_view(acc, None, None, lang)) for lang in ("zh", "en"))
    assert "62.2" in zh and "可开展新一轮试点" in zh and "第三方评估待定" in zh and F.THIRD_PARTY_EVALUATOR in zh
    assert "指标得分" in zh and "第三方评估得分" in zh and "76.0" in zh
    assert "62.2" in en and "New pilot round" in en and "Third-party evaluation pending" in en
    assert "Indicator-based score" in en and "Third-party score" in en
    rows = {r["cycle"]: r for r in acc.iter_rows(named=True)}
    combined = "\n".join(_acceptance_lines(rows["2023–2025"]))
    assert "62.2" in combined and "可开展新一轮试点" in combined and F.THIRD_PARTY_EVALUATOR in combined
    assert "third-party" in combined.lower() and "76.0" in combined
    pending = "\n".join(_acceptance_lines(rows["2020–2022"]))
    # the dossier shows the status with the labels seed's label (capitalised there)
    assert "第三方评估待定" in pending and "third-party evaluation pending" in pending.lower()
    assert not any(band in pending for band in ("title_removed", "new_pilot_round", "demonstration_cultivation"))
    cycles = default["fct_evaluation_cycle"].filter(pl.col("unit_code") == "130400").sort("cycle_start")
    state = {r["cycle"]: r["state"] for r in cycle_rows(cycles, "zh")}
    assert "第三方评估待定" in state["2020–2022"] and "第三方评估待定" not in state["2023–2025"]
    state_en = {r["cycle"]: r["state"] for r in cycle_rows(cycles, "en")}
    assert "Third-party evaluation pending" in state_en["2020–2022"]
    ev = cycles.filter(pl.col("cycle") == "2020–2022")["evidence"][0]
    assert "第三方评估待定" in evidence_text(ev, "zh") and "third-party evaluation pending" in evidence_text(ev, "en")
    got = cycles.filter(pl.col("cycle") == "2023–2025")["evidence"][0]
    # the score as the acceptance lines show it (cut at two decimals: verdicts round 14)
    assert "第三方评估得分 30.00（第2版）" in evidence_text(got, "zh")
    assert _verdict_status_text("third_party_pending") and not _verdict_status_text("final")
