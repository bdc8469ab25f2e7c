"""Verdicts a city cannot contest, round 14.

1. X1 and EX1 judged the PUBLISHED change of a cycle even when its baseline year and its last year were scored under
   different catalogues (2021.1 -> 2024.1 inside 2020-2022 and 2022-2024). Round 13 made the cycle say so, with the
   like-for-like change beside it, but the verdict still moved on the weight switch: on the sample 410700 was made
   an exit candidate for 2020-2022 on -2.4 published while like-for-like it had risen (+0.1), and a leader whose
   rise was only the switch's read exemplary. R2 already asked both comparisons before it sanctioned a fall. The
   measures are silent, so the office rule is in the rules seed (GEN.change_like_for_like): a finding on the
   cycle's change -- R2's fall, X1's "not improved", EX1's rise -- must hold both as published and like-for-like
   (the baseline year re-weighted by the last year's catalogue). The published figures stay the ones shown and
   compared; the evidence names the like-for-like change and the rule wherever it differs.

Labels, thresholds and rules are read from the seeds, never copied here.
"""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from pipelines.labels import index_text

# 130200 (evaluation_fixtures.RULE_UNITS): rectification in 2017-2019, still in the bottom group in 2020-2022 and
# 65.0 in 2022 against 66.0 in 2019: -1.0 published, an exit candidate. Re-weighted by 2024.1 its 2019 reads 64.0,
# so like-for-like it rose by +1.0.
# 120100: a leader, 139.0 (2019) -> 148.0 (2022): +9.0 published, exemplary; re-weighted by 2024.1 its 2019 reads
# 150.0, so like-for-like it fell by -2.0.
# 110100: 95.0 flat, re-weighted 86.0 (the re-weighted indices average 100, as the programme's do).
# 130300 (round 16): 96.0 (2019) -> 88.0 (2022), -8.0 published, R2; re-weighted its 2019 reads 100.0, -12.0
# like-for-like: R2 holds both ways, and its reason names both changes.
LIKE_FOR_LIKE_2019 = {"130200": 64.0, "120100": 150.0, "110100": 86.0, "130300": 100.0}
# 140100, a 2022 strong-city unit (cycle 2022-2024, baseline 2021, a year it was scored but not ranked): a leader,
# 126.0 (2021) -> 129.0 (2024), +3.0 published and exemplary. Re-weighted by 2024.1 its 2021 reads 130.0 against the
# ranked units' mean (110100 and 120100 at 100.0), so like-for-like it fell by -1.0. Before, a unit not ranked in its
# baseline year had no re-weighted baseline at all ("–"), and every rule fell back to the published change.
LIKE_FOR_LIKE_2021 = {"140100": 130.0, "110100": 100.0, "120100": 100.0}
THIRD_PARTY_JUST_UNDER = 59.996


@pytest.fixture(scope="module")
def across_catalogues(tmp_path_factory):
    """The evaluation models run by the real dbt on the rule cases, with indicator scores for 2019 that re-weight
    three units' baseline by the 2024.1 catalogue (each unit's indicators share one score, so the composite under
    any catalogue is that score and the index its ratio to the three units' mean)."""
    import evaluation_fixtures as F

    work = tmp_path_factory.mktemp("across_catalogues")
    wh = work / "wh.duckdb"
    with duckdb.connect(str(wh)) as con:
        F.rule_cases(con)
        codes = con.sql("select distinct indicator_code from marts.dim_indicator").fetchall()
        rows = [
            (unit, 2019, code, F.catalog_version_of(2019), score, score, False, False, False, score, "city")
            for unit, score in LIKE_FOR_LIKE_2019.items()
            for (code,) in codes
        ] + [
            (unit, 2021, code, F.catalog_version_of(2021), score, score, False, False, False, score, "city")
            for unit, score in LIKE_FOR_LIKE_2021.items()
            for (code,) in codes
        ]
        con.executemany("insert into marts.fct_city_indicator_year values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        # the evaluator's score of 140100's 2022-2024 cycle just under a band line (see part 4)
        con.execute(
            "update marts.fct_third_party_evaluation set third_party_score = ? where unit_code = '140100'",
            [THIRD_PARTY_JUST_UNDER],
        )
    F.run_evaluation_dbt(wh, work, F.rules_with({}))
    with duckdb.connect(str(wh), read_only=True) as con:
        years = con.sql("select * from marts.fct_evaluation_year where year = 2022").pl()
        cycles = con.sql("select * from marts.fct_evaluation_cycle where cycle_start = 2020").pl()
        joined = {
            "year": con.sql("select * from marts.fct_evaluation_year where unit_code = '140100' and year = 2024").pl(),
            "cycle": con.sql("select * from marts.fct_evaluation_cycle where unit_code = '140100'").pl(),
        }
    by_unit = {r["unit_code"]: r for r in years.iter_rows(named=True)}
    return by_unit, {r["unit_code"]: r for r in cycles.iter_rows(named=True)}, wh, joined


def test_the_fixture_compares_across_the_catalogue_change(across_catalogues):
    years, cycles, *_ = across_catalogues
    assert years["130200"]["index_change_cycle"] == -1.0 and years["130200"]["index_change_same_catalog"] == 1.0
    assert years["120100"]["index_change_cycle"] == 9.0 and years["120100"]["index_change_same_catalog"] == -2.0
    assert cycles["130200"]["index_change_like_for_like"] is False


def test_an_exit_candidacy_needs_the_like_for_like_change_not_to_have_risen_either(across_catalogues):
    """130200 fell by 1.0 as published, rose by 1.0 like-for-like: the fall is the weight switch's, so it has not
    "not improved" -- no exit candidate; still watched two years running, it stays in rectification (R1)."""
    years, cycles, *_ = across_catalogues
    y = years["130200"]
    assert not y["fired_x1"], y["rules_fired"]
    assert y["stage"] == "rectification" and y["fired_r1"]
    assert cycles["130200"]["verdict"] == "rectification", cycles["130200"]["evidence"]


def test_exemplary_needs_the_like_for_like_change_to_have_risen_too(across_catalogues):
    years, cycles, *_ = across_catalogues
    y = years["120100"]
    assert y["performance_group"] == "leader"
    assert not y["fired_ex1"], y["rules_fired"]
    assert y["stage"] == "normal"
    assert cycles["120100"]["verdict"] == "normal", cycles["120100"]["evidence"]


def test_a_unit_not_ranked_in_its_baseline_year_is_compared_like_for_like_too(across_catalogues):
    """140100 joined in 2022, its cycle's first year: its baseline 2021 was scored (on the programme scale) but not
    ranked, and int_evaluation_index_by_catalog re-weighted ranked units only -- so its like-for-like change was
    null and EX1 judged the +3.0 the weight switch made. Re-weighted against the ranked units' mean, it fell."""
    *_, joined = across_catalogues
    (y,) = joined["year"].iter_rows(named=True)
    assert y["index_change_cycle"] == 3.0 and y["index_change_same_catalog"] == -1.0, y
    assert y["performance_group"] == "leader" and not y["fired_ex1"], y["rules_fired"]
    (c,) = joined["cycle"].iter_rows(named=True)
    assert c["verdict"] != "exemplary" and c["index_change_same_catalog"] == -1.0, c["evidence"]
    assert "like-for-like -" + index_text(1.0) in c["evidence"], c["evidence"]


def test_a_like_for_like_cycle_is_judged_as_before(across_catalogues):
    """A unit without a re-weighted baseline (no indicator rows for it) is judged on the published change alone,
    as before: 130800 and 130600 keep their verdicts, and a leader whose change holds both ways is exemplary."""
    years, cycles, *_ = across_catalogues
    assert cycles["130600"]["verdict"] not in ("exit_candidate",)
    assert years["110100"]["stage"] == "normal"


def test_the_evidence_names_the_like_for_like_change_and_the_rule(across_catalogues):
    """Where the two comparisons differ, the year's reasons and the cycle's evidence name the like-for-like change
    and the office rule beside the published one, at the published precision."""
    years, cycles, *_ = across_catalogues
    evidence = cycles["130200"]["evidence"]
    assert "like-for-like +" + index_text(1.0) in evidence, evidence
    assert "GEN.change_like_for_like" in evidence, evidence
    # and in Chinese, clause by clause (the profile's and the dossier's wording)
    from dashboards.evaluation_text import evidence_text

    zh = evidence_text(evidence, "zh")
    assert "同口径变化 +" + index_text(1.0) in zh and "like-for-like" not in zh, zh
    # a cycle whose comparison is like-for-like names no second change
    assert "like-for-like" not in (cycles["130600"]["evidence"] or "")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_years_reason_names_the_like_for_like_change_the_rule_also_compared(across_catalogues, lang):
    """Round 16: R2 (like X1 and EX1) judged 130300's fall both as published (-8.0) and like-for-like (-12.0), but
    the year's reason printed the published change only -- the cycle evidence named both, the year's (the profile,
    the dossier, the extract's rules_fired) did not. Now both, in both languages; a unit whose two changes agree
    names one."""
    from dashboards.evaluation_text import rules_text

    years, *_ = across_catalogues
    y = years["130300"]
    assert y["index_change_cycle"] == -8.0 and y["index_change_same_catalog"] == -12.0, y
    assert y["fired_r2"], y["rules_fired"]
    text = rules_text(y, lang)
    published, like = "−" + index_text(8.0), "−" + index_text(12.0)
    word = "同口径变化" if lang == "zh" else "like-for-like"
    assert published in text and f"{word} {like}" in text, text
    assert "like-for-like" not in (years["110100"]["rules_fired"] or "")


def test_the_office_rule_is_in_the_rules_seed_in_every_version():
    from pipelines.settings import DBT_PROJECT_DIR

    rules = pl.read_csv(DBT_PROJECT_DIR / "seeds" / "evaluation_rules.csv", infer_schema=False)
    row = rules.filter((pl.col("rule_code") == "GEN") & (pl.col("param") == "change_like_for_like"))
    assert set(row["rules_version"]) == set(rules["rules_version"])
    assert set(row["value"]) == {"1"}
    assert row["description_en"][0].startswith("Office rule")


# --- 2. the provincial extract shows what judged the current cycle verdict ---------------------------------------------
# The acceptance sheet named the current cycle verdict (周期结论) and nothing a city could check it against: no
# evidence, no rules version, no catalogues compared -- only a RELEASED verdict had 发布时周期结论评定依据 (round 11).
# It now carries the current verdict's evidence (周期结论依据) and what judged it (周期结论评定依据), worded by the
# functions the dossier and the profile use, in both languages.


def test_the_extract_gives_the_current_cycle_verdict_its_evidence_and_what_judged_it(across_catalogues, tmp_path):
    import shutil

    from dashboards.evaluation_text import cycle_judged_by_text, evidence_text
    from pipelines import extracts as X

    _, cycles, wh, _ = across_catalogues
    copy = tmp_path / "wh.duckdb"
    shutil.copy(wh, copy)
    with duckdb.connect(str(copy), read_only=True) as con:
        tables = X.extract_tables(con, "130000", 2022)
    acceptance = tables["acceptance"]
    assert {"cycle_evidence", "cycle_judged_by"} <= set(acceptance.columns)
    row = acceptance.filter((pl.col("unit_code") == "130200") & (pl.col("cycle_first_year") == 2020)).row(0, named=True)
    cycle = cycles["130200"]
    for lang in ("zh", "en"):
        assert evidence_text(cycle["evidence"], lang) in row["cycle_evidence"], row["cycle_evidence"]
        assert cycle_judged_by_text(cycle, lang) in row["cycle_judged_by"], row["cycle_judged_by"]
    assert "2021.1 → 2024.1" in row["cycle_judged_by"]
    # the columns beside the verdict, in Chinese in the CSV / XLSX like every column
    cols = acceptance.columns
    assert cols.index("cycle_evidence") == cols.index("cycle_verdict_status") + 1
    assert X.HEADERS["cycle_evidence"] and X.HEADERS["cycle_judged_by"]


# --- 3. the simulator runs a rule switch only as 0 or 1 ------------------------------------------------------------------
# Only "enabled" was held to 0 / 1. The models read the other switches with "= 1" in one place and "= 0" in another
# (X1.require_still_flagged: fct_evaluation_year asks "= 0 or still watched", the cycle chain "= 1 and no longer
# watched"), so a scenario with 5 ran under no coherent rule -- and a city shown such a scenario's verdict could not
# say which rule judged it.


def _seed_rules() -> pl.DataFrame:
    from pipelines.settings import DBT_PROJECT_DIR

    return pl.read_csv(DBT_PROJECT_DIR / "seeds" / "evaluation_rules.csv", infer_schema=False)


def test_every_rule_switch_of_the_seed_is_0_or_1_and_the_simulator_takes_no_other_value():
    from pipelines import scenarios as sc

    rules = _seed_rules()
    names = (
        "enabled",
        "require_still_flagged",
        "pending_blocks_verdict",
        "joined_entry_baseline",
        "change_like_for_like",
    )
    switches = rules.filter(pl.col("param").is_in(names))
    # every switch is a parameter of the seed, the simulator knows each, and the seed holds it at 0 or 1
    assert set(switches["param"]) == set(names) == set(getattr(sc, "SWITCH_PARAMS", names))
    assert set(switches["value"]) <= {"0", "1"}
    for key in {f"{r}.{p}" for r, p in switches.select("rule_code", "param").iter_rows()}:
        with pytest.raises(sc.ScenarioError, match="0 or 1"):
            sc.validate_scenario(sc.Scenario(rules={key: "5"}), rules)
        with pytest.raises(sc.ScenarioError, match="0 or 1"):
            sc.validate_scenario(sc.Scenario(rules={key: "0.5"}), rules)
        for ok in ("0", "1"):
            sc.validate_scenario(sc.Scenario(rules={key: ok}), rules)


# --- 4. the third-party score reads the same in the cycle's evidence as beside the acceptance score -------------------
# The cycle's evidence rounded the evaluator's score to one decimal ("third-party score 60.0" for 59.996) while the
# dossier, the profile and the programmes grid cut it to two (59.99, acceptance_score_text): one figure, two readings,
# one of them on the other side of the removal line.


def test_the_evidence_shows_the_third_party_score_as_the_acceptance_lines_do(across_catalogues):
    from pipelines.evaluation.rules import acceptance_score_text

    *_, joined = across_catalogues
    (c,) = joined["cycle"].iter_rows(named=True)
    shown = acceptance_score_text(THIRD_PARTY_JUST_UNDER)
    assert f"third-party score {shown} (report version" in c["evidence"], c["evidence"]
    # and in Chinese
    from dashboards.evaluation_text import evidence_text

    assert f"第三方评估得分 {shown}" in evidence_text(c["evidence"], "zh")
