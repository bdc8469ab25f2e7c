"""Verdicts a city cannot contest, round 16.

1. A rules version edited after it judged a release: office rules went into released rules versions
   (GEN.change_like_for_like into 2021.1 and 2024.1), and re-releasing then wrote a new release under the same
   version label -- "rules 2024.1" beside two verdicts judged by different rules, which a city contests. A release
   now stores the rules that judged it (releases.rules, the seed's rows of every version in force in its window) and
   is refused, in both languages, while a version some release recorded reads otherwise in the seed; the change
   goes in under a new version label mapped to its years, and that release says the rules versions moved. (Round 15's
   test_re_releasing_the_same_figures_under_changed_rules_is_a_new_release asserted the release under the edited
   label; it is replaced by the tests below.)
2. The released acceptance score was not on the dashboard's city profile: a city read a live score that a revised
   file had moved across a band, never the one it was judged on. The profile now shows it as released, old → new.

Labels and thresholds are read from the seeds, never copied here.
"""

from __future__ import annotations

import shutil

import duckdb
import polars as pl
import pytest

from pipelines.labels import label_text

# --- 1. a released rules version is frozen -------------------------------------------------------------------------


def _small_warehouse(path):
    """One city, one year (2025, rules version 2024.1), with the tables a release reads."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts; create schema raw")
        con.execute(
            "create table raw.ingested_files as select 'patents' as source, '2025' as \"partition\", "
            "'p2025.csv' as file_name, 'h1' as file_hash, 10 as rows_loaded, 'loaded' as status"
        )
        con.execute(
            "create table marts.fct_city_score_year as select '410100' as unit_code, 2025 as year, "
            "60.0 as composite_index, 1 as rank"
        )
        con.execute(
            "create table marts.fct_evaluation_year as select '410100' as unit_code, 2025 as year, 'watch' as stage"
        )
        con.execute("create table marts.fct_rank_uncertainty as select 7 as seed")
    return path


@pytest.fixture
def seeds(tmp_path, monkeypatch):
    """Copies of the rules seed and its version map, read by every rules reader for the test."""
    from pipelines.evaluation import rules

    rules_file, versions_file = tmp_path / "evaluation_rules.csv", tmp_path / "rules_versions.csv"
    shutil.copy(rules.RULES_FILE, rules_file)
    shutil.copy(rules.RULES_VERSIONS_FILE, versions_file)
    monkeypatch.setattr(rules, "RULES_FILE", rules_file)
    monkeypatch.setattr(rules, "RULES_VERSIONS_FILE", versions_file)
    return rules_file, versions_file


def _edit_inside_2024_1(rules_file, how: str) -> None:
    df = pl.read_csv(rules_file, infer_schema=False)
    if how == "rule added":
        extra = pl.DataFrame(
            [["2024.1", "GEN", "an_office_rule_added_later", "1", "added later", "后来加入", "added", "后来加入"]],
            schema=df.columns,
            orient="row",
        )
        df = pl.concat([df, extra])
    elif how == "value changed":
        hit = (
            (pl.col("rules_version") == "2024.1") & (pl.col("rule_code") == "ACC") & (pl.col("param") == "remove_below")
        )
        df = df.with_columns(pl.when(hit).then(pl.lit("59")).otherwise(pl.col("value")).alias("value"))
    else:  # rule removed
        hit = (
            (pl.col("rules_version") == "2024.1")
            & (pl.col("rule_code") == "GEN")
            & (pl.col("param") == "change_like_for_like")
        )
        df = df.filter(~hit)
    df.write_csv(rules_file)


def _releases(wh) -> list[tuple]:
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.execute(
            "select release_id, rules_version, restatement_reason from releases.releases order by release_id"
        ).fetchall()


def test_a_release_stores_the_rules_that_judged_it(tmp_path, seeds):
    from pipelines.evaluation.releases import release

    wh = _small_warehouse(tmp_path / "wh.duckdb")
    first = release(wh, 2025)
    seed_rows = pl.read_csv(seeds[0], infer_schema=False).filter(pl.col("rules_version") == "2024.1")
    with duckdb.connect(str(wh), read_only=True) as con:
        frozen = con.sql(
            "select rules_version, rule_code, param, value from releases.rules where release_id = ?",
            params=[first.release_id],
        ).pl()
    assert set(frozen["rules_version"]) == {"2024.1"}  # the window 2025-2025: the version in force then only
    assert frozen.sort("rule_code", "param").equals(
        seed_rows.select("rules_version", "rule_code", "param", "value").sort("rule_code", "param")
    )


@pytest.mark.parametrize("how", ["rule added", "value changed", "rule removed"])
def test_a_rules_version_edited_after_it_judged_a_release_is_refused(tmp_path, seeds, how):
    from pipelines.evaluation.releases import RulesVersionChanged, release

    wh = _small_warehouse(tmp_path / "wh.duckdb")
    first = release(wh, 2025)
    _edit_inside_2024_1(seeds[0], how)
    with pytest.raises(RulesVersionChanged) as refused:
        release(wh, 2025)
    message = str(refused.value)
    assert "2024.1" in message and first.release_id in message, message
    assert "已发布的规则版本" in message and "new version label" in message, message  # both languages
    assert [r[0] for r in _releases(wh)] == [first.release_id]  # nothing written


def test_the_changed_rules_under_a_new_label_are_a_new_release_naming_the_versions(tmp_path, seeds):
    from pipelines.evaluation.releases import release, rules_changed_since

    rules_file, versions_file = seeds
    wh = _small_warehouse(tmp_path / "wh.duckdb")
    first = release(wh, 2025)
    # the office's change written as it must be: version 2024.2 (2024.1's rows and the new rule), governing 2025
    df = pl.read_csv(rules_file, infer_schema=False)
    new = df.filter(pl.col("rules_version") == "2024.1").with_columns(rules_version=pl.lit("2024.2"))
    extra = pl.DataFrame(
        [["2024.2", "GEN", "an_office_rule_added_later", "1", "added later", "后来加入", "added", "后来加入"]],
        schema=df.columns,
        orient="row",
    )
    pl.concat([df, new, extra]).write_csv(rules_file)
    versions = pl.read_csv(versions_file, infer_schema=False)
    versions.with_columns(
        pl.when(pl.col("evaluation_year") == "2025")
        .then(pl.lit("2024.2"))
        .otherwise("rules_version")
        .alias("rules_version")
    ).write_csv(versions_file)

    second = release(wh, 2025)  # the same figures: still a new release, the rules that judged them moved
    assert second.created and second.supersedes_release_id == first.release_id
    rows = _releases(wh)
    assert rows[-1][1] == "2024.2" and "2024.1 -> 2024.2" in rows[-1][2], rows
    with duckdb.connect(str(wh), read_only=True) as con:
        frozen = dict(
            con.execute(
                "select release_id, string_agg(distinct rules_version) from releases.rules group by 1"
            ).fetchall()
        )
        recorded = con.execute("select rules_content from releases.releases order by release_id").fetchall()
    assert frozen == {first.release_id: "2024.1", second.release_id: "2024.2"}  # each keeps its own rules
    assert all(rules_changed_since({"rules_content": c}) == [] for (c,) in recorded)  # 2024.1 itself untouched
    assert not release(wh, 2025).created  # and again: a no-op


def test_the_release_command_says_why_it_refuses(tmp_path, seeds, monkeypatch):
    from click.testing import CliRunner

    from pipelines.cli import main
    from pipelines.evaluation.releases import release

    wh = _small_warehouse(tmp_path / "wh.duckdb")
    release(wh, 2025)
    _edit_inside_2024_1(seeds[0], "rule added")
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(wh))
    out = CliRunner().invoke(main, ["release", "--year", "2025"])
    assert out.exit_code == 1, out.output
    assert "2024.1" in out.output and "new version label" in out.output, out.output
    assert "Traceback" not in out.output


# --- 2. the released acceptance score on the dashboard's city profile ------------------------------------------------
# The profile showed the live acceptance table only: after a revised file moved a city from 60.00 (new pilot round, as
# released) to 59.99 (title removed), the city read a score it was not judged on, with no word of the official one.
# It now shows the score and band as released (releases.release_acceptance_text, the dossier's and the alert's
# wording) and, where the current ones differ, old → new; a city recoded since finds it under its former code.


def _profile_snapshot(path, unit_code: str, released_code: str, current_score: float, current_band: str):
    from pipelines.evaluation.rules import load_rules
    from pipelines.snapshot_writer import SNAPSHOT_SCHEMA_VERSION

    at = float(load_rules()["ACC.remove_below"])  # exactly at the threshold: the lowest score of the middle band
    with duckdb.connect(str(path)) as con:
        con.execute("create schema meta; create schema marts; create schema releases")
        con.execute("create table meta.snapshot_info (key varchar, value varchar)")
        con.execute("insert into meta.snapshot_info values ('schema_version', ?)", [str(SNAPSHOT_SCHEMA_VERSION)])
        con.execute(
            "create table releases.releases as select 'R2024-01' as release_id, 2024 as evaluation_year, "
            "timestamp '2025-03-01 02:00:00' as released_at, '3f-abc' as data_version, '2024.1' as catalog_version, "
            "'2024.1' as rules_version, 'abc' as code_version, cast(null as varchar) as rules_content"
        )
        con.execute(
            "create table releases.evaluation_year as select 'R2024-01' as release_id, ? as unit_code, "
            "'normal' as stage, 80.0 as composite_index, 3 as rank, 40 as n_ranked, true as is_robust",
            [released_code],
        )
        acceptance = (
            "cast(? as varchar) as unit_code, '2022-2024' as cycle, 2022 as cycle_first_year, 2024 as cycle_last_year, "
            "cast(? as double) as acceptance_score, cast(? as varchar) as acceptance_band, 'final' as acceptance_status"
        )
        con.execute(
            f"create table releases.acceptance_score as select 'R2024-01' as release_id, {acceptance}",
            [released_code, at, "new_pilot_round"],
        )
        con.execute(
            f"create table marts.fct_acceptance_score as select {acceptance}", [unit_code, current_score, current_band]
        )
        con.execute(
            "create table marts.fct_evaluation_year as select ? as unit_code, 2024 as year, 'normal' as stage, "
            "80.0 as composite_index, 3 as rank, 40 as n_ranked, false as rank_is_shared",
            [unit_code],
        )
    return path


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_profile_shows_the_acceptance_score_as_released_and_what_moved_since(tmp_path, lang):
    from dashboards import queries
    from dashboards.pages.profile import acceptance_view
    from dashboards.snapshot import Snapshot
    from pipelines.evaluation.rules import acceptance_score_text, load_rules

    at = float(load_rules()["ACC.remove_below"])
    below = at - 0.01
    snap = Snapshot(_profile_snapshot(tmp_path / "s.duckdb", "410100", "410100", below, "title_removed"))
    status = queries.release_status(snap, "410100", 2024)
    view = str(acceptance_view(None, status, None, lang))
    released_band, current_band = label_text("new_pilot_round", lang), label_text("title_removed", lang)
    assert "pf-release-acceptance" in view and "R2024-01" in view, view
    assert f"{acceptance_score_text(at)}" in view and released_band in view, view  # 60.00 as released, its band
    assert label_text("current_data_differ", lang) in view, view
    assert f"→ {acceptance_score_text(below)}" in view and current_band in view, view


def test_a_city_recoded_since_finds_its_released_acceptance_score(tmp_path):
    from dashboards import queries
    from dashboards.pages.profile import acceptance_view
    from dashboards.snapshot import Snapshot

    snap = Snapshot(_profile_snapshot(tmp_path / "s.duckdb", "370100", "371200", 60.0, "new_pilot_round"))
    status = queries.release_status(snap, "370100", 2024)
    view = str(acceptance_view(None, status, None, "zh"))
    assert "pf-release-acceptance" in view and "371200" in view, view
    assert (
        label_text("released_under_former_code", "zh") in view and label_text("current_data_differ", "zh") not in view
    )


# --- 3. a target the baseline already met is no target ------------------------------------------------------------
# 10 -> 9 on a higher-is-better indicator read "achieved" (100 points in the acceptance score's target part) for a city
# that only kept what it had, while 10 -> 10 was invalid: the mart (dbt unit tests
# target_status_progress_growth_and_projection / target_equal_to_its_baseline_or_zero_is_invalid_not_achieved, run by
# tests/test_patents_in_force.py) and the profile now call both invalid, direction-aware.


# The profile holds no copy of the rule: it shows the mart's status (tests/test_dashboard_round13.py,
# test_the_profile_shows_the_marts_target_status...), so the mart's unit tests above are the rule's tests.


# --- 4. the year's reasons name the like-for-like change a rule also compared -----------------------------------------
# X1, R2 and EX1 judge a cycle's change as published and, across a catalogue change (GEN.change_like_for_like),
# like-for-like; the year's reason named the published change only. The mart now adds ", like-for-like <x>" where the
# two differ (tests/test_verdicts_contestable14.py runs it on a real dbt build); the Chinese reason states the same
# figure, read from the English sentence.


@pytest.mark.parametrize(
    ("rule", "sentence", "row"),
    [
        (
            "x1",
            "X1 exit candidate (previous cycle in rectification; index change since 2019 -2.4, like-for-like -0.3)",
            {"index_change_cycle": -2.4},
        ),
        (
            "ex1",
            "EX1 exemplary (group leader, index change since 2019 +3.0, like-for-like +0.2)",
            {"index_change_cycle": 3.0, "performance_group": "leader"},
        ),
        (
            "r2",
            "R2 rectification (index change over cycle -8.0, like-for-like -12.0, threshold -5.0)",
            {"index_change_cycle": -8.0, "r2_threshold_points": 5.0},
        ),
    ],
)
def test_each_change_rule_states_both_changes_in_both_languages(rule, sentence, row):
    from dashboards.evaluation_text import rules_text

    r = {"rules_fired": sentence, f"fired_{rule}": True, "cycle_baseline_year": 2019, **row}
    like = sentence.split("like-for-like ")[1].split(",")[0].rstrip(")").replace("-", "−")
    zh, en = rules_text(r, "zh"), rules_text(r, "en")
    assert f"同口径变化 {like}" in zh and "like-for-like" not in zh, zh
    assert f"like-for-like {like}" in en, en
    if rule == "ex1":  # the gain read from the sentence, not from the row, as before
        assert "+3.0" in zh, zh
    # a sentence naming one change gets one in Chinese too
    single = {**r, "rules_fired": sentence.split(", like-for-like")[0] + (")" if rule != "r2" else ", threshold -5.0)")}
    assert "同口径" not in rules_text(single, "zh")


# --- 5. a not-reported verdict names the sources by name ----------------------------------------------------------
# The Chinese reason of a not_reported year (counts as exit) read "宽限期内未报送：pledge_loans（按退出处理）": the
# source's code, which no office reads. Both languages now name the sources as the quality page and the alerts do.


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_not_reported_reason_names_the_sources_by_name(lang):
    from dashboards.evaluation_text import rules_text
    from pipelines.sources import SOURCES

    codes = "enforcement_cases, pledge_loans"
    row = {
        "not_reported_sources": codes,
        "rules_fired": f"not reported within the grace period: {codes} (counts as exit)",
    }
    text = rules_text(row, lang)
    for code in ("enforcement_cases", "pledge_loans"):
        title = SOURCES[code].title_zh if lang == "zh" else SOURCES[code].title_en
        assert title in text and code not in text, text


# --- 6. a source-year no unit reported is the collection's gap, not every city's exit ---------------------------------
# The year's pledge-loan file lost (or never loaded): every programme unit read not_reported -- exit for all, on the
# office's own gap. fct_reporting_status now says none_received (dbt unit test
# a_source_year_no_unit_reported_is_a_gap_of_the_collection_not_an_exit), not an exit; fct_evaluation_year names it
# in the reasons, which read in both languages with the sources' names.


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_source_no_unit_reported_is_named_as_a_gap_not_an_exit(lang):
    from dashboards.evaluation_text import rules_text
    from pipelines.sources import SOURCES

    row = {
        "not_reported_sources": None,
        "rules_fired": "no unit reported within the grace period: pledge_loans (a gap of the collection, not counted "
        "as exit)",
    }
    text = rules_text(row, lang)
    title = SOURCES["pledge_loans"].title_zh if lang == "zh" else SOURCES["pledge_loans"].title_en
    assert title in text and "pledge_loans" not in text, text
    assert ("不视同退出" if lang == "zh" else "not counted as exit") in text, text
    assert "按退出处理" not in text
