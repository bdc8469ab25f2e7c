"""Round 13 of the dashboard review (dash13): what an official reading the pages would distrust, checked on the pure
functions that draw them (the browser half is tests/e2e/test_dash13_browser.py)."""

from __future__ import annotations

import re

import polars as pl
import pytest

from dashboards.i18n import TARGET_STATUS, label
from dashboards.pages import profile, programmes, targets

CATALOG = pl.DataFrame(
    {
        "indicator_code": ["QLT02"],
        "unit": ["件/万人"],
        "name_zh": ["每万人口高价值发明专利拥有量"],
        "name_en": ["High-value invention patents in force per 10k people"],
        "direction": ["higher"],
    }
)


def _targets(rows: list[tuple[float | None, float | None, str]]) -> pl.DataFrame:
    n = len(rows)
    return pl.DataFrame(
        {
            "unit_code": ["410300"] * n,
            "plan_id": ["plan_2021_2025"] * n,
            "indicator_code": ["QLT02"] * n,
            "baseline_year": [2020] * n,
            "baseline_value": [b for b, _, _ in rows],
            "target_year": [2025] * n,
            "target_value": [tv for _, tv, _ in rows],
            "current_year": [2024] * n,
            "current_value": [1.5] * n,
            "progress_index": [None if s == "invalid_target" else 0.5 for _, _, s in rows],
            "status": [s for _, _, s in rows],
        },
        schema_overrides={"baseline_value": pl.Float64, "target_value": pl.Float64},
    )


# -- one definition of an invalid target: the mart's status ---------------------------------------------------------

# every status fct_target_status_year gives, each with values that another rule could read otherwise
MART_ROWS = [
    (1.0, 2.0, "achieved"),
    (1.0, 2.0, "on_track"),
    (1.0, 2.0, "acceleration_needed"),
    (1.0, 2.0, "limited_progress"),
    (1.0, 2.0, "deteriorating"),
    (1.0, 2.0, "insufficient_data"),
    (1.0, 2.0, "invalid_target"),  # the mart's rule may grow (a target below the baseline on a rising indicator)
    (0.0, 0.0, "insufficient_data"),  # a mart row the pages must not re-judge either
]


def test_the_pages_hold_no_copy_of_the_invalid_target_rule():
    """The rule lived twice (fct_target_status_year.is_invalid_target and profile.target_is_invalid, with a third
    copy in targets.with_buckets): a change to the mart's rule would leave the pages judging by the old one."""
    assert not hasattr(profile, "target_is_invalid")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_profile_shows_the_marts_target_status_and_nothing_else(lang):
    rows = profile.target_rows(_targets(MART_ROWS), CATALOG, lang)
    assert [r["status"] for r in rows] == [s for _, _, s in MART_ROWS]
    for row, (_, _, status) in zip(rows, MART_ROWS):
        words = profile.t("target_invalid", lang) if status == "invalid_target" else label(TARGET_STATUS, status, lang)
        assert row["status_label"] == words, (row, status)


def test_the_targets_page_buckets_the_marts_status_and_nothing_else():
    df = targets.with_buckets(_targets(MART_ROWS))
    assert df["bucket"].to_list() == [targets.BUCKETS[s] for _, _, s in MART_ROWS]


def test_the_snapshot_fixture_publishes_every_target_status_the_mart_gives():
    """tests/dashboard_fixtures.TARGET_STATUSES lacked invalid_target, so no fixture-built page ever drew one."""
    import dashboard_fixtures as fx

    assert set(fx.TARGET_STATUSES) == set(targets.BUCKETS)
    facts = fx.build_facts(*_fixture_inputs(fx))
    status = facts["fct_target_status"]
    invalid = status.filter(pl.col("status") == "invalid_target")
    assert invalid.height, "the fixture's snapshot has no invalid target"
    assert (invalid["target_value"] == invalid["baseline_value"]).all()
    assert invalid["progress_index"].is_null().all()


def _fixture_inputs(fx):
    import numpy as np

    rng = np.random.default_rng(7)
    dim = fx.build_dim_city(rng)
    return dim, list(range(2016, 2026)), rng


# -- the targets chart's data note lies over no bar -----------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_targets_chart_note_has_a_line_of_its_own_above_its_legend(lang):
    """The synthetic-data note was drawn in the plot's middle, between the two plans' bars (their shares hidden under
    it). It now has a line of its own above the legend, under the title."""
    from dashboards import figures
    from dashboards.theme import TITLE_MARGIN_PX

    df = targets.with_buckets(_targets([(1.0, 2.0, "achieved"), (1.0, 2.0, "limited_progress")]))
    df = pl.concat([df, df.with_columns(plan_id=pl.lit("plan_2016_2020"))])
    fig = targets.plan_figure(targets.shares(df, ["plan_id"]).sort("plan_id"), lang)
    spec = figures.stamp_data_note(fig, "合成示例 / Synthetic sample")
    (note,) = [a for a in spec["layout"]["annotations"] if a.get("name") == figures.DATA_NOTE_NAME]
    assert (note["x"], note["y"], note["xanchor"], note["yanchor"]) == (1, 1, "right", "bottom"), note
    # above the legend's line ...
    assert note.get("yshift", 0) >= targets.PLAN_LEGEND_PX, note
    # ... and below the title's band
    top = spec["layout"]["margin"]["t"]
    assert top - note["yshift"] - TITLE_MARGIN_PX >= figures.DATA_NOTE_LINE_PX, (top, note)


# -- the programmes page: cohorts in words, sources readable ----------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_two_2015_cohorts_are_named_in_words(lang):
    """The cohort column read "2015a" and "2015b": codes of the curated roster, not what any notice calls them. They
    are the February and April 2015 notices (data/reference/national_ip_demonstration_cities_2012_2016.csv)."""
    a, b = programmes.cohort_text("2015a", lang), programmes.cohort_text("2015b", lang)
    assert a != b and "2015a" not in a and "2015b" not in b
    assert ("2月" in a and "4月" in b) if lang == "zh" else ("Feb" in a and "Apr" in b)
    if lang == "en":
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in a + b)
    # a cohort that is a date reads as it is
    assert programmes.cohort_text("2022-08", lang) == "2022-08"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_programme_and_roster_grids_show_cohorts_in_words(lang):
    programme = {
        "programme_code": "demo_city",
        "cohort": "2015a",
        "programme_name_zh": "国家知识产权示范城市",
        "programme_name_en": "National IP demonstration city",
        "period_start": "2015-01-01",
        "period_end": None,
        "calendar_note_zh": "长期称号",
        "calendar_note_en": "Open-ended title",
        "cycle_anchor_year": 2017,
        "units_announced": 8,
        "units_named": 8,
        "roster_complete": True,
    }
    (row,) = programmes.programme_rows(pl.DataFrame([programme]), lang)
    assert row["cohort"] == programmes.cohort_text("2015a", lang)
    (member,) = programmes.membership_rows(pl.DataFrame([_member(cohort="2015b")]), lang)
    assert member["cohort"] == programmes.cohort_text("2015b", lang)


def _member(**over) -> dict:
    return {
        "unit_code": "440600",
        "unit_name": "佛山市",
        "province_code": "440000",
        "province_name": "广东省",
        "programme_code": "demo_city",
        "programme_name_zh": "国家知识产权示范城市",
        "cohort": "2015b",
        "joined_on": "2015-04-13",
        "left_on": None,
        "exit_reason": None,
        "first_evaluated_year": 2016,
        "last_evaluated_year": 2025,
        "source_note": "https://www.cnipa.gov.cn/transfer/docs/pub/old/gk/jgb/201608/P020160829312534599722.pdf",
        **over,
    }


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_roster_source_address_is_a_link_named_by_its_site_and_the_cell_wraps(lang):
    """The source column cut every address after ~25 characters ("https://zscqj.beijing…"): an official could
    neither read nor follow it. The address is now a link named by its site, the rest of the note wraps."""
    note = (
        "https://zscqj.beijing.gov.cn/zscqj/zwgk/xwdt/743939560/index.html | 昌平区获批国家知识产权强市建设示范市创建对象 | "
        "confidence: high | batch: 2026-03 (2025-2027 round; 国知发运函字〔2026〕25号)"
    )
    (row,) = programmes.membership_rows(pl.DataFrame([_member(source_note=note)]), lang)
    cell = row["source_link"]
    assert cell.startswith(
        "[zscqj.beijing.gov.cn](https://zscqj.beijing.gov.cn/zscqj/zwgk/xwdt/743939560/index.html)"
    ), cell
    assert ("可信度" if lang == "zh" else "Confidence") in cell
    col = next(c for c in programmes.membership_columns(lang) if c["field"] == "source_link")
    assert col["cellRenderer"] == "markdown" and col["wrapText"] and col["autoHeight"]
    assert col["cellRendererParams"] == {"linkTarget": "_blank"}


@pytest.mark.parametrize(
    "part",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "https://",
        "see https://example.org for more",
        "x](javascript:alert(1))",
        "<img src=x onerror=alert(1)>",
    ],
)
def test_only_a_web_address_becomes_a_link(part):
    """A source note is data: only an http(s) address with a host becomes a link; anything else is escaped text."""
    from dashboards.security import markdown_text

    assert programmes.source_link(part) is None
    assert programmes.source_markdown(part, "zh") == markdown_text(part)


def test_a_links_address_cannot_end_the_link_or_open_a_tag():
    link = programmes.source_link("https://example.org/a)b<script>/c(d")
    assert link == "[example.org](https://example.org/a%29b%3Cscript%3E/c%28d)", link


# -- the phone map's height is the figure's own margins and China at its width ----------------------------------------


def test_the_phone_maps_height_counts_the_figures_own_top_margin():
    """style.css sizes the phone map as its top margin (title, subtitle, note line) + China at its width + the legend;
    the margin is the figure's (figures.city_map), so a change to one is a change to the other."""
    import re
    from pathlib import Path

    from dashboards import figures

    points = pl.DataFrame(
        {"unit_code": ["440100"], "unit_name": ["广州市"], "unit_name_en": ["Guangzhou"], "group": ["leader"]}
    ).with_columns(composite_index=pl.lit(100.0), rank=pl.lit(1), rank_is_shared=pl.lit(False), is_ranked=pl.lit(True))
    fig = figures.city_map(points, "zh", year=2025)
    css = (Path(figures.__file__).parent / "assets" / "style.css").read_text(encoding="utf-8")
    phone = css[css.index("@media (max-width: 700px)") :]
    tops = {int(m) for m in re.findall(r"\.ipc-map-col(?::lang\(en\))? \{ height: calc\((\d+)px \+ 98cqw", phone)}
    assert tops == {fig.layout.margin.t}, (tops, fig.layout.margin.t)
    # the note is above the map, the legend at the figure's foot: neither on the map
    assert fig.layout.meta[figures.DATA_NOTE_PLACE_KEY]["yanchor"] == "bottom"
    assert fig.layout.legend.yref == "container" and fig.layout.legend.yanchor == "bottom"


# -- a label and its value are joined as each language writes them -------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_label_and_its_value_are_joined_by_the_languages_colon(lang):
    """The Chinese pages wrote "评定依据: 结论…", "排名: 12/65", "情景变化: 3" with a Latin colon inside Chinese text."""
    from dashboards.formatting import labelled

    assert labelled("评定依据", "结论", "zh") == "评定依据：结论"
    assert labelled("Judged by", "verdict", "en") == "Judged by: verdict"
    cycle = {
        "unit_code": "320100",
        "cycle": "2022-2024",
        "verdict": "watch",
        "verdict_status": "final",
        "evidence": None,
        "judged_year": 2024,
        "end_group": "emerging",
        "rules_versions": "2024:2024.1",
        "verdict_rules_version": "2024.1",
        "performance_groups": "2024:emerging",
    }
    (row,) = profile.cycle_rows(pl.DataFrame([cycle]), lang)
    judged = profile.t("judged_by", lang)
    assert (judged + "：" if lang == "zh" else judged + ": ") in row["evidence"], row["evidence"]
    if lang == "zh":
        assert judged + ": " not in row["evidence"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_releases_versions_are_said_in_the_pages_language(lang):
    """The profile's release line read "发布编号 r1 (2025; …; data d1, catalog 2024.1, rules 2024.1, code c1)": four
    English words in the Chinese page."""
    text = profile.t("release_versions", lang).format(data="d1", catalog="2024.1", rules="2024.1", code="c1")
    if lang == "zh":
        assert not re.search(r"[A-Za-z]{3,}", text.replace("d1", "").replace("c1", "")), text
        assert "指标体系" in text and "评价规则" in text
    else:
        assert text == "data d1, catalog 2024.1, rules 2024.1, code c1"
    release = {
        "release_id": "R2024-02",
        "evaluation_year": 2024,
        "released_at": "2025-07-15 02:00:00",
        "data_version": "d1",
        "catalog_version": "2024.1",
        "rules_version": "2024.1",
        "code_version": "c1",
        "released": {"stage": "watch", "composite_index": 80.0},
        "differs": False,
    }
    view = str(profile.acceptance_view(None, release, None, lang))
    assert text in view, view
    if lang == "zh":
        assert not re.search(r"\b(data|catalog|rules|code) ", view), view


# -- a link's year without data is said, not silently replaced ---------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_links_year_without_data_is_said_not_silently_replaced(lang):
    """/?year=2014 (a bookmark from before the data, a mistyped year) showed 2025 without a word, as the profile did
    with an unknown city before it said so. Each page that reads a year from its link now says the year has no data
    and which year is shown."""
    from dashboards.components import unknown_year_notice

    years = list(range(2016, 2026))
    (note,) = unknown_year_notice("2014", years, 2025, lang)
    assert "2014" in note.children and "2025" in note.children
    assert ("没有数据" in note.children) if lang == "zh" else ("no data" in note.children)
    assert unknown_year_notice("2020", years, 2020, lang) == []
    assert unknown_year_notice(2020, years, 2020, lang) == []
    assert unknown_year_notice(None, years, 2025, lang) == []
    assert unknown_year_notice("", years, 2025, lang) == []


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    """The dashboard on a hand-made snapshot (2016-2025), signed in as the national office."""
    from dashboard_fixtures import build_snapshot, national_client

    d = tmp_path_factory.mktemp("dash13")
    return national_client(build_snapshot(d / "x.snapshot.duckdb"), d)


@pytest.mark.parametrize("path", ["/", "/rankings", "/compare", "/downloads", "/watchlist"])
def test_every_page_with_a_year_in_its_link_says_when_it_has_no_data(national, path):
    import json

    from dashboard_http import page_body

    for query, said in (("?year=2014&lang=zh", True), ("?year=2020&lang=zh", False)):
        r = national.post("/_dash-update-component", json=page_body(path, query))
        assert r.status_code == 200, r.get_data(as_text=True)[:300]
        body = json.dumps(json.loads(r.get_data(as_text=True))["response"], ensure_ascii=False)
        assert ("链接中的年份“2014”没有数据" in body) == said, (path, query)


# -- no chart can be sent to Plotly's cloud; its tools speak the page's language ----------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_chart_config_turns_off_sending_to_plotly_cloud(lang):
    """plotly.js 3 draws a "Share chart..." button by default that posts the figure, data included, to
    cloud.plotly.com (the browser half: tests/e2e/test_dash13_browser.py)."""
    from dashboards.components import graph, graph_config

    for config in (graph_config(lang), graph_config(lang, topojsonURL="/geo/topojson/"), graph("x", lang=lang).config):
        assert config["showSendToCloud"] is False and config["plotlyServerURL"] == "", config
        assert config.get("locale") == ("zh-CN" if lang == "zh" else None), config
    if lang == "zh":
        words = graph_config(lang)["locales"]["zh-CN"]["dictionary"]
        assert words["Zoom"] == "缩放" and words["Download plot as a PNG"].startswith("下载")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_printed_reports_release_line_names_its_fields_in_words(monkeypatch, lang):
    """The PDF report's release line read "数据版本: release_id R1 · data_version d1 · catalog_version 2024.1 …": the
    store's column names, and a Latin colon in Chinese."""
    from dashboards import report

    release = {"release_id": "R1", "data_version": "d1", "catalog_version": "2024.1", "rules_version": "2024.1"}
    monkeypatch.setattr(report, "release_info", lambda snap, year: {**release, "code_version": "c1"})
    monkeypatch.setattr(report, "nature_block", lambda snap: "")
    block = report.release_block(None, 2025, lang)
    assert not re.search(r"release_id|data_version|catalog_version|rules_version|code_version", block), block
    if lang == "zh":
        assert "发布编号 R1" in block and "指标体系 2024.1" in block and "</b>：" in block and "</b>: " not in block
    else:
        assert "release R1" in block and "</b>: " in block
