"""Verdicts a city cannot contest, round 10.

1. The year-on-year change a city reads (fct_city_score_year.index_change: extracts, rankings grid, movers) was
   the change of the unrounded indices: a city that read 80.0 and then 80.0 was told +0.04. It is now the change
   of the published figures (dbt unit test index_change_is_the_change_of_the_published_figures, run by
   tests/test_patents_in_force.py); the map's colour scale colours the published figure too, so two cities
   reading 80.0 are one colour. The change attribution splits the unrounded change: the dossier shows the published
   change first and names the split's as the unrounded one (the profile likewise, at two decimals).
2. fct_index_change_attribution took the previous year's release by ``release_id desc``: from the 100th release
   of a year (R2022-100 sorts before R2022-99 as a string) it compared against a superseded release while every
   Python reader (releases.LATEST_FIRST) named the newest. One order now (macro release_latest_first).
4. A third-party score of 59.96 read "60.0" in the dossier and the programmes grid and "59.96" on the profile; it
   reads as the acceptance scores do everywhere (cut at two decimals, never across ACC.remove_below).
5. What judged a cycle. A cycle can span a rules change (2020-2022: 2021.1 then 2024.1) and a change of
   performance group (the band of the published index moves). The methodology (§10): each year's stage is judged
   by the rules in force that year and in that year's group; the cycle verdict (X1/EX1, the third-party weight)
   and the acceptance by the rules of the last evaluated year, the year it is judged in -- as the marts do. The
   dossier and the profile did not say so: the cycle table named no rules and no group, the acceptance no rules
   version, the third-party table not the version whose weights scored it. fct_evaluation_cycle now carries
   verdict_rules_version and performance_groups (dbt unit test
   a_cycle_across_a_rules_change_and_a_group_change_names_what_judged_it), read by both. A released cycle whose
   current rules versions differ (the rules_versions seed re-mapped a released year) says so beside the verdict:
   a verdict moved by the rules never reads as moved by corrected data alone.
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


RECODED = ("320100", "370100", "371200")  # a fixture unit made 济南, and the code 莱芜 had when it was released


@pytest.fixture(scope="module")
def released_hundred_times(tmp_path_factory):
    """A small programme whose 2022 evaluation was released 100 times: R2022-99 with every index 5 points higher
    than today, R2022-100 (the latest) with today's indices. One unit is 济南 370100, released under 莱芜's code
    371200 (seed unit_code_changes: merged since): its released row must count for it (round 16)."""
    work = tmp_path_factory.mktemp("release_order")
    wh = work / "wh.duckdb"
    with duckdb.connect(str(wh)) as con:
        F.synthetic_programme(con, seed=5, n_units=12)
        for (table,) in con.execute(
            "select table_name from information_schema.columns where table_schema = 'marts' "
            "and column_name = 'unit_code'"
        ).fetchall():
            con.execute(f"update marts.{table} set unit_code = '{RECODED[1]}' where unit_code = '{RECODED[0]}'")
        con.execute("create schema releases")
        con.execute(
            f"""create table releases.city_score_year as
               select 'R2022-99' as release_id, unit_code, year, composite_index + 5 as composite_index, rank
               from marts.fct_city_score_year where year = 2022
               union all
               select 'R2022-100', replace(unit_code, '{RECODED[1]}', '{RECODED[2]}'), year, composite_index, rank
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


def test_a_city_recoded_since_the_release_is_compared_with_its_released_figure(released_hundred_times):
    """Round 16: released under 莱芜's code 371200, 济南 370100 found no released figure (the attribution matched on
    the code as released): its revision since release was empty while every other city's was there."""
    row = released_hundred_times.filter(pl.col("unit_code") == RECODED[1]).row(0, named=True)
    assert row["previous_release_id"] == "R2022-100" and row["released_previous_index"] is not None, row
    assert abs(row["part_revision"]) < 1e-9  # its own released figure, not R2022-99's 5 points higher
    assert RECODED[2] not in released_hundred_times["unit_code"].to_list()


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


# -- what judged a cycle: rules version and group of each part --------------------------------------------------------

ACROSS = {
    "unit_code": "320100",
    "cycle": "2020-2022",
    "cycle_start": 2020,
    "cycle_end": 2022,
    "verdict": "watch",
    "verdict_status": "final",
    "evidence": None,
    "index_change": -3.0,
    "is_robust": True,
    "judged_year": 2022,
    "is_complete": True,
    "end_group": "emerging",
    "rules_versions": "2020:2021.1, 2021:2021.1, 2022:2024.1",
    "verdict_rules_version": "2024.1",
    "performance_groups": "2020:moderate, 2021:moderate, 2022:emerging",
}


def _says_what_judged(text: str, lang: str) -> None:
    from pipelines.labels import label_text

    assert "2024.1" in text and "2020:2021.1" in text and "2022:2024.1" in text, text
    assert f"2020:{label_text('moderate', lang)}" in text and f"2022:{label_text('emerging', lang)}" in text, text


def test_the_dossier_names_the_rules_and_the_group_that_judged_each_part_of_a_cycle():
    from test_verdicts_contestable import _dossier_input

    from pipelines.evaluation.dossier import _render

    d = _dossier_input(65.0, performance_group(65.0))
    d["cycles"] = pl.DataFrame([ACROSS])
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    row = next(x for x in markdown_text.splitlines() if x.startswith("| 2020-2022"))
    for lang in ("zh", "en"):
        _says_what_judged(row, lang)
    assert "评定依据 / Judged by" in markdown_text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_profile_names_the_rules_and_the_group_that_judged_a_cycle(lang):
    from dashboards.pages.profile import cycle_rows

    (row,) = cycle_rows(pl.DataFrame([ACROSS]), lang)
    _says_what_judged(row["judged_by"], lang)
    # shown in the grid's evidence cell (a column of its own made the half-width grid scroll sideways at 1366 px)
    _says_what_judged(row["evidence"], lang)
    # one version and one group: the verdict's only, no per-year list to read
    (plain,) = cycle_rows(
        pl.DataFrame([ACROSS | {"rules_versions": "2022:2024.1", "performance_groups": "2022:emerging"}]), lang
    )
    assert "2024.1" in plain["judged_by"] and "2022:" not in plain["judged_by"]


def test_the_acceptance_and_the_third_party_report_name_the_rules_version_that_judged_them():
    from test_verdicts_contestable import _acceptance_row

    from pipelines.evaluation.dossier import _acceptance_lines
    from pipelines.evaluation.dossier_programme import programme_markdown
    from pipelines.evaluation.rules import load_rules

    a = _acceptance_row(load_rules()["ACC.cultivation_from"] + 5) | {"rules_version": "2024.1"}
    line = next(x for x in _acceptance_lines(a, bands_text=lambda *a, **k: "") if "2024.1" in x)
    assert "2024" in line.replace("2024.1", "") and "/" in line  # the year it was in force, both languages
    tp = _third_party_frame(75.0).with_columns(rules_version=pl.lit("2024.1"))
    table = "\n".join(programme_markdown({"third_party": tp}))
    assert "| 2024.1 |" in table, table


def test_a_released_cycle_judged_by_other_rules_now_says_so():
    from test_verdicts_contestable import _dossier_input

    from pipelines.evaluation.dossier import _render

    d = _dossier_input(65.0, performance_group(65.0))
    d["release"] = {
        "release_id": "R2022-01",
        "released_at": "2023-07-15 10:00:00",
        "data_version": "3f-abc",
        "code_version": "abc",
        "window_first_year": 2016,
        "window_last_year": 2022,
        "supersedes_release_id": None,
    }
    d["released_cycle"] = ACROSS | {"rules_versions": "2020:2021.1, 2021:2021.1, 2022:2021.1"}
    d["cycles"] = pl.DataFrame([ACROSS])
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    line = next(x for x in markdown_text.splitlines() if x.startswith("- 发布时周期结论"))
    assert "2022:2021.1 → " in line and "rules versions changed since the release" in line, line
    d["cycles"] = pl.DataFrame([d["released_cycle"]])
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    line = next(x for x in markdown_text.splitlines() if x.startswith("- 发布时周期结论"))
    assert "rules versions changed" not in line


# -- a value the score was not computed from as shown ------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_profile_says_a_value_was_capped_or_carried_forward_beside_its_score(lang):
    """The profile's indicator table showed an outlier's value beside a score computed from its capped value, and a
    value carried forward from the previous year as if observed: a city could not see why 95 per 10k scored as 40
    did. The value now carries the mark (labels seed value_capped with the capped value, level_value_imputed)."""
    from dashboards.pages.profile import value_rows
    from pipelines.labels import label_text

    values = pl.DataFrame(
        {
            "year": [2024, 2024, 2024],
            "indicator_code": ["QLT01", "QLT02", "ENV03"],
            "value": [95.0, 3.0, 20.0],
            "raw_value": [95.0, None, 20.0],
            "is_imputed": [False, True, False],
            "is_missing": [False, False, False],
            "normalised_score": [100.0, 40.0, 55.0],
            "is_outlier": [True, False, False],
            "capped_value": [41.5, 3.0, 20.0],
        }
    )
    catalog = pl.DataFrame(
        {
            "indicator_code": ["QLT01", "QLT02", "ENV03"],
            "name_zh": ["每万人口发明专利拥有量", "每万人口高价值发明专利拥有量", "每万人口专利授权量"],
            "name_en": ["Invention patents per 10k", "High-value invention patents per 10k", "Grants per 10k"],
            "unit": ["件/万人", "件/万人", "件/万人"],
        }
    )
    rows = {r["indicator_code"]: r for r in value_rows(values, catalog, lang)}
    assert label_text("value_capped", lang) in rows["QLT01"]["value_text"] and "41.5" in rows["QLT01"]["value_text"]
    assert label_text("level_value_imputed", lang) in rows["QLT02"]["value_text"]
    plain = rows["ENV03"]["value_text"]
    assert label_text("value_capped", lang) not in plain and label_text("level_value_imputed", lang) not in plain


def test_the_attribution_says_it_splits_the_unrounded_change_beside_the_published_one():
    """80.0 then 80.0 is a change of 0.0 (index_change); the attribution splits the unrounded +0.04 exactly. The
    dossier's attribution table called the +0.04 "Index change", beside an extract reading 0.0: it now shows the
    published change first and names the split's change as the unrounded one, at two decimals so the parts add up."""
    from test_verdicts_contestable import _dossier_input

    from pipelines.evaluation.dossier import _render

    d = _dossier_input(80.0, performance_group(80.0))
    d["score"] = d["score"] | {"index_change": 0.0}
    d["attribution"] = {
        "index_change": 0.04,
        "part_indicators": 0.03,
        **{f"part_{p}": 0.006 for p in ("mgt", "pro", "utl", "qlt", "env")},
        "previous_catalog_version": "2024.1",
        "catalog_version": "2024.1",
        "part_catalog": 0.0,
        "part_rescaling": 0.01,
        "part_revision": None,
        "previous_release_id": None,
    }
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    lines = markdown_text.splitlines()
    published = next(x for x in lines if x.startswith("| 公布指数变动"))
    unrounded = next(x for x in lines if x.startswith("| 未取整指数变动"))
    assert "| 0.0 |" in published and "| 0.04 |" in unrounded, (published, unrounded)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_profile_attribution_names_the_unrounded_change(lang):
    from dashboards.i18n import t
    from dashboards.pages.profile import acceptance_view

    attribution = pl.DataFrame(
        [
            {
                "year": 2024,
                "index_change": 0.04,
                "part_indicators": 0.03,
                "part_catalog": 0.0,
                "part_rescaling": 0.01,
                "part_revision": None,
                "previous_release_id": None,
            }
        ],
        schema_overrides={"part_revision": pl.Float64, "previous_release_id": pl.String},
    )
    view = str(acceptance_view(None, None, attribution, lang))
    assert t("attribution_unrounded", lang) in view and "0.04 = " in view and "0.03" in view, view
