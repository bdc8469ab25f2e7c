"""Verdicts a city cannot contest, round 10.

1. The year-on-year change a city reads (fct_city_score_year.index_change: extracts, rankings grid, movers) was
   the change of the unrounded indices: a city that read 80.0 and then 80.0 was told +0.04. It is now the change
   of the published figures (dbt unit test index_change_is_the_change_of_the_published_figures, run by
   tests/test_patents_in_force.py); the map's colour scale colours the published figure too, so two cities
   reading 80.0 are one colour.
2. fct_index_change_attribution took the previous year's release by ``release_id desc``: from the 100th release
   of a year (R2022-100 sorts before R2022-99 as a string) it compared against a superseded release while every
   Python reader (releases.LATEST_FIRST) named the newest. One order now (macro release_latest_first).
4. A third-party score of 59.96 read "60.0" in the dossier and the programmes grid and "59.96" on the profile; it
   reads as the acceptance scores do everywhere (cut at two decimals, never across ACC.remove_below).
3. Orders that decide a verdict's input are total: rows of one key loaded at the same instant went by the order
   the engine read them (macro latest_per_key ranked on load time and row number only). The later-dated report,
   then the row sent under the current code, then the file decide (dbt unit tests
   a_report_loaded_twice_at_one_instant_is_the_later_dated_one_under_the_current_code,
   a_roster_row_loaded_twice_at_one_instant_is_the_one_under_the_current_code,
   the_current_report_of_two_evaluators_loaded_together_is_the_later_dated; run with every dbt unit test by
   tests/test_patents_in_force.py).

Labels and thresholds are read from the seeds, never copied here."""

from __future__ import annotations

import duckdb
import evaluation_fixtures as F
import polars as pl
import pytest

from pipelines.labels import performance_group


def _map_frame(index: list[float]) -> pl.DataFrame:
    n = len(index)
    codes = [f"{320100 + 100 * i:06d}" for i in range(n)]
    return pl.DataFrame(
        {
            "unit_code": codes,
            "unit_name": [f"测试{i}市" for i in range(n)],
            "unit_name_en": [f"Test {i}" for i in range(n)],
            "province_code": ["320000"] * n,
            "province_name": ["江苏省"] * n,
            "lng": [118.8] * n,
            "lat": [32.0] * n,
            "composite_index": index,
            "rank": list(range(1, n + 1)),
            "rank_is_shared": [False] * n,
            "is_ranked": [True] * n,
            "group": [performance_group(v) for v in index],
        }
    )


def test_the_index_map_colours_two_cities_reading_the_same_figure_alike():
    from dashboards.figures import city_map

    # 80.02 and 79.98 both read 80.0; 120.04 reads 120.0 (the top of the scale is a figure a city can read)
    fig = city_map(_map_frame([120.04, 80.02, 79.98]), "en", mode="index")
    scaled = [tr for tr in fig.data if tr.type == "choropleth" and tr.showscale]
    assert len(scaled) == 1
    z = dict(zip(scaled[0].locations, scaled[0].z))
    assert z["320200"] == z["320300"] == 80.0, z
    assert z["320100"] == 120.0


# -- the latest release, in SQL as in Python ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def released_hundred_times(tmp_path_factory):
    """A small programme whose 2022 evaluation was released 100 times: R2022-99 with every index 5 points higher
    than today, R2022-100 (the latest) with today's indices."""
    work = tmp_path_factory.mktemp("release_order")
    wh = work / "wh.duckdb"
    with duckdb.connect(str(wh)) as con:
        F.synthetic_programme(con, seed=5, n_units=12)
        con.execute("create schema releases")
        con.execute(
            """create table releases.city_score_year as
               select 'R2022-99' as release_id, unit_code, year, composite_index + 5 as composite_index, rank
               from marts.fct_city_score_year where year = 2022
               union all
               select 'R2022-100', unit_code, year, composite_index, rank
               from marts.fct_city_score_year where year = 2022"""
        )
    F.run_evaluation_dbt(wh, work)
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.sql("select * from marts.fct_index_change_attribution where year = 2023").pl()


def test_the_attribution_compares_with_the_latest_release_as_every_reader_does(released_hundred_times):
    from pipelines.evaluation.releases import LATEST_FIRST

    att = released_hundred_times
    assert att.height > 0
    with duckdb.connect() as con:
        latest = con.sql(
            f"select release_id from (values ('R2022-99'), ('R2022-100')) as t(release_id) order by {LATEST_FIRST} "
            "limit 1"
        ).fetchall()[0][0]
    assert latest == "R2022-100"
    assert set(att["previous_release_id"].to_list()) == {latest}
    # nothing was revised since R2022-100
    assert att["part_revision"].abs().max() < 1e-9


# -- a third-party score reads the same everywhere ------------------------------------------------------------------


def _third_party_frame(score: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "unit_code": ["320600"],
            "unit_name": ["南通市"],
            "cycle": ["2022-2024"],
            "status": ["received"],
            "status_label_zh": ["已收到"],
            "status_label_en": ["Received"],
            "evaluator": ["测试评估机构"],
            "report_version": [1],
            "third_party_score": [score],
            "findings": ["–"],
        }
    )


def test_a_third_party_score_under_a_threshold_never_reads_as_the_threshold():
    """The dossier (f"{x:.1f}") and the programmes grid (d3 .1f) showed a third-party score of 59.96 as "60.0",
    the profile as "59.96": one score, two sides of ACC.remove_below. Every reader shows it as the acceptance
    scores are shown (rules.acceptance_score_text, cut at two decimals)."""
    from dashboards.pages import programmes
    from pipelines.evaluation.dossier_programme import programme_markdown
    from pipelines.evaluation.rules import acceptance_score_text, load_rules

    for bound in (load_rules()["ACC.remove_below"], load_rules()["ACC.cultivation_from"]):
        score = bound - 0.04
        shown = acceptance_score_text(score)
        assert float(shown) < bound
        markdown = "\n".join(programme_markdown({"third_party": _third_party_frame(score)}))
        assert f"| {shown} |" in markdown and f"{bound:.1f}" not in markdown, markdown
        (row,) = programmes.third_party_rows(_third_party_frame(score), "zh")
        column = next(c for c in programmes.third_party_columns("zh") if c["field"] == "third_party_score")
        formatter = column["valueFormatter"]["function"]
        # the grid shows the row's text, the value stays for sorting
        assert "_text" in formatter and "d3.format" not in formatter
        assert row["third_party_score_text"] == shown and row["third_party_score"] == score
