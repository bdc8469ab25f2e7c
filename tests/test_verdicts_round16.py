"""Verdicts a city cannot contest, round 16.

1. A rules version edited after it judged a release: office rules went into released rules versions
   (GEN.change_like_for_like into 2021.1 and 2024.1), and re-releasing then wrote a new release under the same
   version label -- "rules 2024.1" beside two verdicts judged by different rules, which a city contests. A release
   now stores the rules that judged it (releases.rules, the seed's rows of every version in force in its window) and
   is refused, in both languages, while a version some release recorded reads otherwise in the seed; the change
   goes in under a new version label mapped to its years, and that release says the rules versions moved. (Round 15's
   test_re_releasing_the_same_figures_under_changed_rules_is_a_new_release asserted the release under the edited
   label; it is replaced by the tests below.)

Labels and thresholds are read from the seeds, never copied here.
"""

from __future__ import annotations

import shutil

import duckdb
import polars as pl
import pytest

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
