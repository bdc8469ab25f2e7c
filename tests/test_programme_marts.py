"""The programme-cycle marts on the real sample run (generate -> Dagster pipeline -> dbt -> snapshot):
cohorts and calendars, target ambition, third-party status, province roll-up, and the policy simulator's engine
(the project's own dbt models and uncertainty step on a scratch copy of the snapshot)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from dashboards.evaluation_text import rule_description
from pipelines import scenarios as sc
from pipelines.labels import label_set, label_text


@pytest.fixture(scope="module")
def snap(sample_snapshot):
    con = duckdb.connect(str(sample_snapshot.snapshot), read_only=True)
    yield con
    con.close()


def q(con, sql: str, params=()) -> pl.DataFrame:
    return con.sql(sql, params=list(params)).pl()


# -- cohorts and calendars ---------------------------------------------------------------------------------------


def test_a_2022_cohort_city_is_evaluated_from_its_joining_year_on_its_own_calendar(snap):
    """石家庄 joined the strong-city demonstration on 2022-08-11 (not on the 2012-2016 roster): it is ranked from
    2022, never before, on the 2022-2024 cycle of its programme, and not after its period ended."""
    cal = q(snap, "select * from marts.fct_programme_unit_year where unit_code = '130100' order by year")
    assert cal["year"].to_list() == [2022, 2023, 2024]
    assert set(cal["programme_code"]) == {"strong_city_demo"} and set(cal["cohort"]) == {"2022-08"}
    assert set(cal["cycle_start"]) == {2022} and set(cal["cycle_end"]) == {2024}
    assert set(cal["cycle_baseline_year"]) == {2021}
    scores = q(snap, "select year, is_evaluated, rank from marts.fct_city_score_year where unit_code = '130100'")
    ranked = sorted(scores.filter(pl.col("rank").is_not_null())["year"].to_list())
    assert ranked == [2022, 2023, 2024]
    assert scores.filter(pl.col("year") == 2021)["is_evaluated"].to_list() == [False]
    # the same year on the old single calendar would be the 2020-2022 cycle: the calendars really differ
    demo = q(snap, "select cycle_start from marts.fct_programme_unit_year where unit_code = '420500' and year = 2021")
    assert demo["cycle_start"].to_list() == [2020]  # 宜昌: demonstration city 2015, strong-city demo from 2022


def test_a_2022_cohort_city_is_judged_on_its_own_cycle_with_its_calendar_baseline(snap):
    """The evaluation reads each unit-year's cycle from the programme calendar (fct_programme_unit_year): 石家庄's
    evaluation rows, cycle verdict, acceptance row and uncertainty shares are on 2022-2024 with baseline 2021."""
    ev = q(snap, "select * from marts.fct_evaluation_year where unit_code = '130100' order by year")
    assert ev["year"].to_list() == [2022, 2023, 2024]
    assert set(ev["cycle"]) == {"2022–2024"} and set(ev["cycle_baseline_year"]) == {2021}
    base = q(snap, "select composite_index from marts.fct_city_score_year where unit_code = '130100' and year = 2021")
    assert base["composite_index"][0] is not None  # scored on the programme scale before it joined
    assert ev["baseline_index"].to_list() == pytest.approx([base["composite_index"][0]] * 3)
    # the change of the published figures (verdicts round 11): what the index tables show, judged as shown
    from pipelines.labels import published_index

    shown = [published_index(c) - published_index(b) for c, b in zip(ev["composite_index"], ev["baseline_index"])]
    assert ev["index_change_cycle"].to_list() == pytest.approx(shown, abs=1e-9)
    cy = q(snap, "select * from marts.fct_evaluation_cycle where unit_code = '130100'")
    assert cy["cycle"].to_list() == ["2022–2024"] and cy["baseline_year"].to_list() == [2021]
    last = q(snap, "select max(year) as y from marts.fct_evaluation_year")["y"][0]
    assert cy["is_complete"][0] == (last >= 2024) and cy["years_evaluated"][0] == 3
    acc = q(snap, "select * from marts.fct_acceptance_score where unit_code = '130100'")
    assert acc.select("cycle_first_year", "cycle_last_year").rows() == [(2022, 2024)]
    # the uncertainty step (Python) measured the change since the same baseline: shares exist in every year
    unc = q(snap, "select year, share_improved from marts.fct_rank_uncertainty where unit_code = '130100'")
    assert unc["share_improved"].null_count() == 0 and unc.height == 3


def test_the_evaluation_and_the_uncertainty_step_read_one_calendar(snap):
    """Every evaluation row's cycle, end and baseline year are the calendar's; a Monte Carlo change share exists
    exactly where the evaluation has a change since the baseline (the Python step used the same baselines)."""
    diff = q(
        snap,
        """
        select e.unit_code, e.year from marts.fct_evaluation_year e
        left join marts.fct_programme_unit_year c on c.unit_code = e.unit_code and c.year = e.year
        where e.cycle_start is distinct from c.cycle_start or e.cycle_end is distinct from c.cycle_end
           or e.cycle_baseline_year is distinct from c.cycle_baseline_year or e.cycle is distinct from c.cycle
        """,
    )
    assert diff.is_empty(), diff
    both = q(
        snap,
        """
        select e.unit_code, e.year, e.index_change_cycle, u.share_improved from marts.fct_evaluation_year e
        join marts.fct_rank_uncertainty u on u.unit_code = e.unit_code and u.year = e.year
        where (e.index_change_cycle is null) <> (u.share_improved is null)
        """,
    )
    assert both.is_empty(), both


def test_old_roster_cities_keep_the_cycles_anchored_in_the_rules(snap):
    """Units only on the 2012-2016 demonstration roster keep the cycles they had on the single calendar
    (GEN.cycle_anchor_year, three years, baseline the year before), so their evidence and verdicts are those of
    the same cycles; a city that joined the 2022 cohort switches to 2022-2024 from 2022."""
    anchor = int(
        q(
            snap,
            "select max(cast(value as integer)) as a from marts.evaluation_rules "
            "where rule_code = 'GEN' and param = 'cycle_anchor_year'",
        )["a"][0]
    )
    old = q(
        snap,
        """
        select e.unit_code, e.year, e.cycle_start, e.cycle_end, e.cycle_baseline_year, e.baseline_index,
               b.composite_index as index_before
        from marts.fct_evaluation_year e
        left join marts.fct_city_score_year b on b.unit_code = e.unit_code and b.year = e.cycle_start - 1
        where e.unit_code in (select unit_code from marts.fct_programme_unit_year group by unit_code
                              having bool_and(programme_code = 'demo_city'))
        """,
    )
    assert old["unit_code"].n_unique() >= 10
    for r in old.iter_rows(named=True):
        start = anchor + 3 * ((r["year"] - anchor) // 3) if r["year"] >= anchor else None
        assert (r["cycle_start"], r["cycle_end"]) == (start, None if start is None else start + 2), r
        assert r["cycle_baseline_year"] == (None if start is None else start - 1), r
        assert r["baseline_index"] == r["index_before"] or start is None, r
    cycles = q(
        snap,
        "select distinct cycle from marts.fct_evaluation_cycle where unit_code in (select unit_code from "
        "marts.fct_programme_unit_year group by unit_code having bool_and(programme_code = 'demo_city'))",
    )
    assert set(cycles["cycle"]) <= {f"{a}\u2013{a + 2}" for a in range(anchor, 2031, 3)}
    yc = q(snap, "select year, cycle from marts.fct_evaluation_year where unit_code = '420500' order by year")
    by_year = dict(yc.iter_rows())
    assert by_year[2021] == "2020–2022" and by_year[2022] == "2022–2024"


def test_overlapping_memberships_and_promotion_follow_the_dated_events(snap):
    # 宜昌 (demonstration city 2015) joined the 2022 strong-city demonstration: from 2022 that calendar governs
    yc = q(
        snap, "select year, programme_code, cycle_start from marts.fct_programme_unit_year where unit_code = '420500'"
    )
    by_year = {r["year"]: r for r in yc.iter_rows(named=True)}
    assert by_year[2021]["programme_code"] == "demo_city"
    assert (by_year[2022]["programme_code"], by_year[2022]["cycle_start"]) == ("strong_city_demo", 2022)
    # 南通: 2022 pilot, promoted to demonstration in January 2024
    m = q(
        snap,
        "select programme_code, cohort, joined_on, left_on, exit_reason, first_evaluated_year, last_evaluated_year "
        "from marts.fct_programme_membership where unit_code = '320600' order by joined_on",
    ).to_dicts()
    pilot = next(r for r in m if r["programme_code"] == "strong_city_pilot")
    demo = next(r for r in m if r["programme_code"] == "strong_city_demo")
    assert (pilot["exit_reason"], str(pilot["left_on"]), pilot["last_evaluated_year"]) == (
        "promoted",
        "2024-01-01",
        2023,
    )
    assert (demo["cohort"], demo["first_evaluated_year"], demo["last_evaluated_year"]) == ("2024-01", 2024, 2026)
    nt = q(
        snap,
        "select year, programme_code, cycle_start, cycle_end from marts.fct_programme_unit_year "
        "where unit_code = '320600' and year in (2023, 2024) order by year",
    ).to_dicts()
    assert [(r["programme_code"], r["cycle_start"], r["cycle_end"]) for r in nt] == [
        ("strong_city_pilot", 2022, 2024),
        ("strong_city_demo", 2024, 2026),
    ]


def test_the_roster_says_it_is_partial_and_invents_no_pilot(snap):
    p = q(snap, "select * from marts.dim_programme where cohort = '2022-08' order by programme_code").to_dicts()
    demo, pilot = p
    assert (demo["units_named"], demo["units_announced"], demo["roster_complete"]) == (38, 38, True)
    assert (pilot["units_named"], pilot["units_announced"], pilot["roster_complete"]) == (20, 72, False)
    n = q(snap, "select count(*) as n from marts.fct_programme_membership where cohort = '2022-08'")["n"][0]
    assert n == 58
    # district units are on the roster with their own codes; without data they are not ranked (never zero)
    pudong = q(snap, "select * from marts.dim_city where unit_code = '310115'").row(0, named=True)
    assert (pudong["unit_name"], pudong["level"], pudong["is_programme"]) == ("浦东新区", "municipal_district", True)
    assert (
        q(snap, "select count(*) as n from marts.fct_city_score_year where unit_code = '310115' and rank is not null")[
            "n"
        ][0]
        == 0
    )


# -- target ambition ---------------------------------------------------------------------------------------------


def test_every_target_has_an_ambition_class_consistent_with_its_figures(snap):
    a = q(snap, "select * from marts.fct_target_ambition")
    targets = q(snap, "select count(*) as n from marts.fct_target_status")["n"][0]
    assert a.height == targets > 0
    rules = dict(q(snap, "select param, value from marts.evaluation_rules where rule_code = 'AMB'").iter_rows())
    u_margin, r_margin = float(rules["unambitious_margin"]), float(rules["unrealistic_margin"])
    for r in a.iter_rows(named=True):
        bench = [v for v in (r["trend_growth"], r["peer_median_growth"]) if v is not None]
        high = [v for v in (r["trend_growth"], r["peer_p90_growth"]) if v is not None]
        if r["required_growth"] is None or not bench:
            expected = "not_assessable"
        elif r["required_growth"] <= max(bench) + u_margin:
            expected = "unambitious"
        elif r["required_growth"] > max(high) + r_margin:
            expected = "unrealistic"
        else:
            expected = "stretch"
        assert r["ambition_class"] == expected, r
        assert r["ambition_weight"] == (float(rules["unambitious_weight"]) if expected == "unambitious" else 1.0)
    # the 2021-2025 plans have a pre-plan trend (2017-2020), peers come from the same group
    later = a.filter(pl.col("plan_id") == "plan_2021_2025")
    assert later["trend_growth"].is_not_null().mean() > 0.8
    assert set(a["peer_scope"].drop_nulls()) <= {"province_group", "national_group"}
    assert a["ambition_class"].n_unique() >= 2


def test_peer_growth_is_the_real_growth_of_same_group_peers(snap):
    """Recompute one target's peer benchmark by hand from fct_city_indicator_year and fct_city_score_year."""
    a = q(
        snap,
        "select * from marts.fct_target_ambition where peer_scope = 'province_group' and plan_id = 'plan_2021_2025' "
        "order by unit_code, indicator_code limit 1",
    ).row(0, named=True)
    peers = q(
        snap,
        """
        select s.unit_code from marts.fct_city_score_year s join marts.dim_city d on d.unit_code = s.unit_code
        where s.year = ? and s.performance_group = ? and d.province_code = ? and s.unit_code <> ?
        """,
        (a["baseline_year"], a["baseline_group"], a["province_code"], a["unit_code"]),
    )["unit_code"].to_list()
    v = q(
        snap,
        "select unit_code, year, raw_value from marts.fct_city_indicator_year where indicator_code = ? "
        "and year in (?, ?) and raw_value > 0",
        (a["indicator_code"], a["peer_first_year"], a["peer_last_year"]),
    )
    wide = v.filter(pl.col("unit_code").is_in(peers)).pivot("year", index="unit_code", values="raw_value").drop_nulls()
    span = a["peer_last_year"] - a["peer_first_year"]
    sign = -1.0 if a["direction"] == "lower" else 1.0
    growth = sign * ((wide[str(a["peer_last_year"])] / wide[str(a["peer_first_year"])]) ** (1 / span) - 1)
    assert wide.height == a["n_peers"]
    assert growth.median() == pytest.approx(a["peer_median_growth"], rel=1e-9)


# -- third-party evaluation --------------------------------------------------------------------------------------


def test_cycles_without_an_upload_are_third_party_evaluation_pending(snap):
    tp = q(snap, "select * from marts.fct_third_party_evaluation")
    cycles = q(
        snap,
        "select distinct unit_code, cycle_start, cycle_end from marts.fct_programme_unit_year where cycle_start is not null",
    )
    assert tp.height == cycles.height > 0
    # the sample's synthetic evaluator reported on the 2017-2019 cycle and on the 2022 strong-city batch's accepted
    # 2022-2024 cycle (through the platform's template); every other cycle waits
    received = tp.filter(pl.col("status") == "received")
    pending = tp.filter(pl.col("status") == "pending")
    assert set(received["cycle"]) == {"2017–2019", "2022–2024"} and received.height > 0
    assert pending.height > 0 and "2017–2019" not in set(pending["cycle"])
    # the labels seed's third_party_status list names the status
    assert set(pending["status_label_zh"]) == {label_text("third_party_pending", "zh")}
    assert set(pending["status_label_en"]) == {label_text("third_party_pending", "en")}
    assert pending["third_party_score"].is_null().all() and received["third_party_score"].is_not_null().all()
    sjz = tp.filter(pl.col("unit_code") == "130100")
    # 石家庄 is a 2022 strong-city pilot too: the batch's acceptance report (keyed by unit and cycle) covers the cycle
    assert sjz.select("cycle", "programme_code", "status").rows() == [("2022–2024", "strong_city_demo", "received")]
    # versions: the highest report version is current, the earlier one is counted
    two = received.filter(pl.col("versions_received") == 2)
    assert two.height == 2 and set(two["report_version"]) == {2}
    # the combined score is the documented mix (TP shares, pillar weights of the cycle's last year)
    rules = dict(q(snap, "select param, value from marts.evaluation_rules where rule_code = 'TP'").iter_rows())
    w = dict(
        q(
            snap,
            "select p.pillar_code, p.pillar_weight from marts.pillars p join marts.catalog_versions c "
            "on c.catalog_version = p.catalog_version where c.evaluation_year = 2019",
        ).iter_rows()
    )
    r = received.filter(pl.col("cycle") == "2017–2019").row(0, named=True)  # the 2019 weights are this cycle's
    pillar = sum(r[f"score_{k.lower()}"] * v for k, v in w.items()) / sum(w.values())
    expected = (
        float(rules["pillar_share"]) * pillar
        + float(rules["site_visit_share"]) * r["site_visit_score"]
        + float(rules["document_review_share"]) * r["document_review_score"]
    )
    assert r["third_party_score"] == pytest.approx(expected)
    assert r["third_party_weight"] == float(rules["third_party_weight"])


def _rules_of_year(con, year: int) -> dict[str, float]:
    """The TP / AMB / ACC parameters in force in ``year`` (seeds rules_versions + evaluation_rules)."""
    rows = q(
        con,
        """select r.rule_code || '.' || r.param as k, r.value from marts.evaluation_rules r
           join marts.rules_versions v on cast(v.rules_version as varchar) = cast(r.rules_version as varchar)
           where v.evaluation_year = ? and r.rule_code in ('TP', 'AMB', 'ACC') and r.param <> 'level_indicators'""",
        (year,),
    )
    return {k: float(v) for k, v in rows.iter_rows()}


def test_acceptance_combines_the_uploaded_third_party_score_and_waits_for_pending_ones(snap):
    """On the sample run: cycles with the evaluator's upload (2017-2019) get (1 - w) x indicator + w x third-party
    exactly, their band from that combined score; every other cycle is third_party_pending with no band and its
    cycle verdict is not final."""
    acc = q(snap, "select * from marts.fct_acceptance_score")
    tp = q(
        snap,
        "select unit_code, cycle_first_year, cycle_last_year, third_party_score, evaluator, report_version "
        "from marts.fct_third_party_evaluation where third_party_score is not null",
    )
    joined = acc.join(tp, on=["unit_code", "cycle_first_year", "cycle_last_year"], how="left")
    combined = joined.filter(pl.col("acceptance_status") == "combined")
    assert combined.height > 0 and set(combined["cycle"]) == {"2017–2019", "2022–2024"}
    for r in combined.iter_rows(named=True):
        rules = _rules_of_year(snap, r["judged_year"])
        w = rules["TP.third_party_weight"]
        assert r["third_party_weight"] == w and r["third_party_score"] == r["third_party_score_right"]
        assert (r["third_party_evaluator"], r["third_party_report_version"]) == (r["evaluator"], r["report_version"])
        expected = (1 - w) * r["indicator_score"] + w * r["third_party_score"]
        assert r["acceptance_score"] == pytest.approx(expected, abs=1e-9)
        band = (
            "title_removed"
            if expected < rules["ACC.remove_below"]
            else "new_pilot_round"
            if expected < rules["ACC.cultivation_from"]
            else "demonstration_cultivation"
        )
        # an open-ended demonstration-city title is scored but never banded (no acceptance judges it)
        assert r["acceptance_band"] == (band if r["acceptance_scored"] else None)
    # without an upload: pending, no score and no band (TP.pending_blocks_verdict = 1), never indicator-only
    pending = joined.filter(pl.col("third_party_score_right").is_null())
    assert pending.height > 0 and set(pending["third_party_status"]) == {"pending"}
    # (a cycle still running is not judged at all: cycle_running, tests/test_verdicts_contestable4.py; one that
    # ended before its last year never reached acceptance: ended_before_acceptance, test_verdicts_contestable6.py;
    # one not reported within the grace period counts as exit: not_reported_exit, round 16)
    assert set(pending["acceptance_status"]) <= {
        "third_party_pending",
        "insufficient_data",
        "cycle_running",
        "ended_before_acceptance",
        "not_reported_exit",
    }
    assert (pending["acceptance_status"] == "cycle_running").to_list() == pending["judged_year"].is_null().to_list()
    assert pending["acceptance_score"].is_null().all() and pending["acceptance_band"].is_null().all()
    assert pending.filter(pl.col("acceptance_status") == "third_party_pending")["indicator_score"].is_not_null().all()
    cy = q(snap, "select * from marts.fct_evaluation_cycle")
    got = cy.join(tp, left_on=["unit_code", "cycle_start", "cycle_end"], right_on=tp.columns[:3], how="left")
    expected_status = got.select(
        pl.when(pl.col("evaluator").is_null()).then(pl.lit("pending")).otherwise(pl.lit("received"))
    ).to_series()
    assert (got["third_party_status"] == expected_status).all()
    waiting = got.filter(
        (pl.col("third_party_status") == "pending")
        & ~pl.col("verdict").is_in(["withdrawn", "not_reported"])
        & pl.col("judged_year").is_not_null()
    )
    assert waiting.height > 0 and set(waiting["verdict_status"]) == {"third_party_pending"}
    assert waiting["evidence"].str.contains("third-party evaluation pending").all()
    assert set(got.filter(pl.col("third_party_status") == "received")["verdict_status"]) == {"final"}


def test_unambitious_targets_weigh_the_rules_weight_in_the_acceptance_score(snap):
    """Target points recomputed by hand from the target statuses and the plan review: an unambitious target's
    points weigh AMB.unambitious_weight of the judged year, every other target 1."""
    acc = q(snap, "select * from marts.fct_acceptance_score where targets_unambitious > 0")
    assert acc.height > 0
    checked = 0
    for r in acc.iter_rows(named=True):
        t = q(
            snap,
            """select s.status, s.growth_ratio, a.ambition_class from marts.fct_target_status_year s
               left join marts.fct_target_ambition a
                 on a.unit_code = s.unit_code and a.plan_id = s.plan_id and a.indicator_code = s.indicator_code
               where s.unit_code = ? and s.year = ?
                 and s.status not in ('insufficient_data', 'invalid_target')""",
            (r["unit_code"], r["scored_year"]),
        )
        uw = _rules_of_year(snap, r["scored_year"])["AMB.unambitious_weight"]
        assert r["unambitious_weight"] == uw
        num = den = 0.0
        for status, ratio, cls in t.iter_rows():
            points = 100.0 if status == "achieved" else 100.0 * min(1.0, max(0.0, ratio or 0.0))
            w = uw if cls == "unambitious" else 1.0
            num, den = num + w * points, den + w
        assert r["targets_unambitious"] == t.filter(pl.col("ambition_class") == "unambitious").height
        assert r["target_points"] == pytest.approx(num / den, abs=1e-9)
        checked += 1
    assert checked > 0


# -- province roll-up --------------------------------------------------------------------------------------------


def test_province_rollup_matches_the_city_evaluation(snap):
    r = q(snap, "select * from marts.fct_province_rollup where rollup_level = 'year'")
    year = int(r["year"].max())
    ev = q(
        snap,
        """
        select d.province_code, e.stage, s.composite_index, d.unit_name
        from marts.fct_evaluation_year e join marts.dim_city d on d.unit_code = e.unit_code
        left join marts.fct_city_score_year s on s.unit_code = e.unit_code and s.year = e.year
        where e.year = ?
        """,
        (year,),
    )
    got = r.filter(pl.col("year") == year)
    assert got["n_cities"].sum() == ev.height
    for prov in got.iter_rows(named=True):
        mine = ev.filter(pl.col("province_code") == prov["province_code"])
        assert prov["n_cities"] == mine.height
        assert prov["mean_index"] == pytest.approx(mine["composite_index"].mean())
        if mine.height > 1:
            assert prov["sd_index"] == pytest.approx(mine["composite_index"].std())
        flagged = mine.filter(pl.col("stage").is_in(["watch", "review", "rectification", "exit_candidate"]))
        assert prov["n_flagged"] == flagged.height
        assert sorted((prov["flagged_units"] or "").split("、")) == sorted(flagged["unit_name"]) or flagged.height == 0
        assert prov["n_watch"] == mine.filter(pl.col("stage") == "watch").height
    cycles = q(snap, "select * from marts.fct_province_rollup where rollup_level = 'cycle'")
    assert cycles.height > 0 and cycles["period_label"].str.contains(r"^\d{4}" + "\u2013" + r"\d{4}$").all()


# -- policy simulator engine -------------------------------------------------------------------------------------


def test_scenario_rejects_unknown_and_out_of_range_parameters(sample_snapshot):
    rules = sc.base_rules(sample_snapshot.snapshot)
    with pytest.raises(sc.ScenarioError, match="unknown rule parameter"):
        sc.validate_scenario(sc.Scenario(rules={"DROP TABLE": "1"}), rules)
    with pytest.raises(sc.ScenarioError, match="share between 0 and 1"):
        sc.validate_scenario(sc.Scenario(rules={"GEN.robust_share": "1.5"}), rules)
    with pytest.raises(sc.ScenarioError, match="performance group"):
        sc.validate_scenario(sc.Scenario(rules={"W1.bottom_group": "'; drop"}), rules)
    with pytest.raises(sc.ScenarioError, match="unknown pillar"):
        sc.validate_scenario(sc.Scenario(pillar_weights={"XXX": 0.2}), rules)


def test_raising_a_threshold_changes_verdicts_with_the_projects_own_models(sample_snapshot, tmp_path, monkeypatch):
    """Raise the watch threshold W1 from the emerging to the moderate group: the scenario runs the real dbt
    evaluation models and uncertainty step; the snapshot is untouched; save / load / compare / export."""
    monkeypatch.setenv("IPCITY_SCENARIOS", str(tmp_path / "scenarios"))
    path = sample_snapshot.snapshot
    before = path.stat().st_mtime_ns, path.stat().st_size
    scenario = sc.Scenario(rules={"W1.bottom_group": "moderate"})
    sid, changes = sc.run_scenario(path, scenario, n_runs=50)
    assert (path.stat().st_mtime_ns, path.stat().st_size) == before  # the snapshot is only read
    assert not list((tmp_path / "scenarios" / "work").glob("*"))  # scratch copies removed
    stages = changes.filter(pl.col("kind") == "stage")
    assert stages.height > 0
    # watching the moderate group instead of the emerging one can only move cities from normal/exemplary up
    assert set(stages["scenario_value"]) & {"watch", "rectification", "exit_candidate"}
    assert set(changes["robustness"]) <= set(label_set("robustness"))  # the labels seed's codes, as every page
    # a value equal to the published one is no change at all
    assert not sc.validate_scenario(sc.Scenario(rules={"W1.bottom_group": "emerging"}), sc.base_rules(path)).rules
    sc.save_scenario(sid, "W1 moderate", scenario, changes, author="national", base_snapshot=path.name)
    listed = sc.list_scenarios()
    assert listed["scenario_id"].to_list() == [sid] and listed["n_changes"][0] == changes.height
    info, loaded, again = sc.load_scenario(sid)
    assert info["name"] == "W1 moderate" and loaded.rules == scenario.rules
    assert again.sort(again.columns).equals(changes.sort(changes.columns))
    csv = sc.export_changes(changes, "csv", "W1 moderate").decode("utf-8-sig")
    assert "模拟情景,不是正式评价结论" in csv and csv.count("\n") == changes.height + 1
    assert sc.export_changes(changes, "xlsx").startswith(b"PK")
    assert sc.compare_scenarios(sid, sid).filter(pl.col("value_a") != pl.col("value_b")).height == 0


def test_a_pillar_weight_scenario_rescores_from_the_snapshot(sample_snapshot, snap, tmp_path, monkeypatch):
    """Pillar weights re-run the project's score models on the snapshot copy (which carries marts only): the
    latest catalog's published weights give back the published ranks of its years, other weights move ranks."""
    monkeypatch.setenv("IPCITY_SCENARIOS", str(tmp_path / "scenarios"))
    path = sample_snapshot.snapshot
    published = sc.base_pillar_weights(path)  # the latest catalog version's; a scenario sets them for every version
    latest_years = {
        str(y)
        for (y,) in q(
            snap,
            "select evaluation_year from marts.catalog_versions "
            "where catalog_version = (select max(catalog_version) from marts.catalog_versions)",
        ).iter_rows()
    }
    _, same = sc.run_scenario(path, sc.Scenario(pillar_weights=published), n_runs=10)
    moved = same.filter((pl.col("kind") == "rank") & pl.col("period").is_in(sorted(latest_years)))
    assert latest_years and moved.height == 0, moved
    heavy = {code: (0.6 if code == "PRO" else 0.1) for code in published}
    _, changes = sc.run_scenario(path, sc.Scenario(pillar_weights=heavy), n_runs=10)
    assert changes.filter(pl.col("kind") == "rank").height > 0


def _components(value, found: list) -> list:
    """Every component (``{"type", "props"}``) of a Dash response body, depth first."""
    if isinstance(value, dict):
        if "type" in value and "props" in value:
            found.append(value)
        for v in value.values():
            _components(v, found)
    elif isinstance(value, list):
        for v in value:
            _components(v, found)
    return found


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_simulator_page_offers_every_threshold_once_and_no_list_setting(sample_snapshot, tmp_path, lang):
    """The seed holds one row per rules version and list-valued settings (sources a city reports, indicators
    compared with the nation): the page renders, with one input per numeric or group parameter of the latest
    version, valued as in that version, and no input for a list setting."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from dashboard_http import page_body, signed_in_client

    from dashboards.app import create_app
    from dashboards.pages.simulator import RULE

    app = create_app(sample_snapshot.snapshot, user_store=tmp_path / "u.sqlite", secret_key_file=tmp_path / "key")
    client = signed_in_client(app, tmp_path / "u.sqlite", "nat", "national", None)
    r = client.post("/_dash-update-component", json=page_body("/simulator", f"?lang={lang}"))
    assert r.status_code == 200, r.get_data(as_text=True)[-2000:]
    components = _components(r.get_json(), [])
    ids = [c["props"].get("id") for c in components]
    keys = [i["key"] for i in ids if isinstance(i, dict) and i.get("type") == RULE]
    rules = sc.base_rules(sample_snapshot.snapshot)
    latest = rules.filter(pl.col("rules_version") == rules["rules_version"].max())
    numeric = latest.filter(pl.col("value").cast(pl.Float64, strict=False).is_not_null())
    # the cycle calendar (GEN.cycle_anchor_year / cycle_length) is each programme's, read when the programme marts
    # are built: not a scenario parameter (changed on purpose with issue 17's per-programme calendars)
    expected = (
        {f"{a}.{b}" for a, b in numeric.select("rule_code", "param").iter_rows()} | sc.GROUP_PARAMS
    ) - sc.CALENDAR_PARAMS
    assert len(keys) == len(set(keys)), "a parameter is offered twice"
    assert set(keys) == expected
    assert not {"RPT.city_sources", "ACC.level_indicators", *sc.CALENDAR_PARAMS} & set(keys)
    # a switch is a choice (on / off in the page's language), and every parameter is labelled by what it means
    switches = {
        c["props"]["id"]["key"]: c["props"]
        for c in components
        if c.get("type") == "RadioItems" and isinstance(c["props"].get("id"), dict)
    }
    enabled = {k for k in expected if k.endswith(".enabled")}
    assert enabled and set(switches) == enabled
    on_off = ["启用", "停用"] if lang == "zh" else ["On", "Off"]
    assert all([o["label"] for o in p["options"]] == on_off for p in switches.values())
    labels = {c["props"]["children"] for c in components if c.get("type") == "Label"}
    # each parameter is labelled as officials read it (evaluation_text.rule_description: the seed's plain wording)
    descriptions = {rule_description(r, lang) for r in latest.iter_rows(named=True)}
    assert len(labels & descriptions) >= len(expected) - len(sc.GROUP_PARAMS)
    assert not {k for k in expected if k in labels}, "a parameter is labelled by its id"
    with pytest.raises(sc.ScenarioError, match="calendar"):
        sc.validate_scenario(sc.Scenario(rules={"GEN.cycle_length": "4"}), rules)
