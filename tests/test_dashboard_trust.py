"""What made the dashboard look untrustworthy to an official reading it page by page (screenshots of every page,
both languages, national and provincial accounts): tick labels such as 0.6000000000000001, Chinese grid headers
broken inside a word ("绩效分/组") and English ones cut ("Perfo…"), the groupings of county-level divisions with
no English name, Chongqing and those groupings drawn as unexplained holes in the map, the flag page's rule values
as raw seed codes (``bottom_group = emerging``, ``0.8`` beside ``100%``)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import polars as pl
import pytest

REPO = Path(__file__).resolve().parents[1]
CITIES = REPO / "data" / "reference" / "cities_prefecture_level_2023.csv"
CSS = REPO / "dashboards" / "assets" / "style.css"
CJK = re.compile(r"[\u4e00-\u9fff]")
# d3-format's specifier grammar ([[fill]align][sign][symbol][0][width][,][.precision][~][type]), as d3-format
# parses it: a tickformat outside it is not applied, and Plotly prints the tick's raw float.
D3_FORMAT = re.compile(r"^(?:(.)?([<>=^]))?([+\-( ])?([$#])?(0)?(\d+)?(,)?(\.\d+)?(~)?([a-z%])?$", re.IGNORECASE)


def _text(component) -> str:
    """The visible text of a Dash component tree (attributes such as ``title`` are not visible text)."""
    if component is None:
        return ""
    if isinstance(component, (str, int, float)):
        return str(component)
    if isinstance(component, (list, tuple)):
        return "".join(_text(c) for c in component)
    return _text(getattr(component, "children", None))


@pytest.mark.parametrize("digits", [0, 1, 2, 3])
def test_value_axis_tickformat_is_a_format_d3_accepts(digits):
    """nat_en_1440_profile_unit_440300.png: the profile's small multiples read 0.6000000000000001."""
    from dashboards.formatting import axis_tickformat

    spec = axis_tickformat(digits)
    assert D3_FORMAT.match(spec), spec
    assert spec.endswith("~f")  # trailing zeros still trimmed


@pytest.mark.parametrize(
    ("lang", "header", "widest_piece"),
    [
        ("zh", "综合指数中位数", "综合指数中位数"),
        ("zh", "绩效分组", "绩效分组"),
        ("en", "Performance group", "Performance"),
    ],
)
def test_grid_columns_are_wide_enough_for_their_header_words(lang, header, widest_piece):
    """nat_zh_1440_rankings.png / nat_zh_1440_overview.png: "绩效分/组", "综合指/数中位/数"; nat_en_1440_rankings.png:
    "Perfo… group". A column is at least as wide as its header's widest unbreakable piece plus its icons."""
    from dashboards.components import grid

    g = grid("trust-grid", lang, [{"field": "a", "headerName": header}, {"field": "b", "headerName": "x"}])
    wide, narrow = g.columnDefs
    per_char = 16 if lang == "zh" else 9
    assert wide.get("minWidth", 0) >= per_char * len(widest_piece) + 40
    assert narrow.get("minWidth", 100) == 100  # short headers keep the grid's default


def test_chinese_grid_headers_do_not_break_inside_a_word():
    css = CSS.read_text(encoding="utf-8")
    assert re.search(r"\.ipc-grid:lang\(zh\) \.ag-header-cell-text \{[^}]*word-break: keep-all", css)


def test_map_and_province_table_share_the_row_equally():
    """nat_zh_1440_overview.png: the province table at a third of the row hid its median index column."""
    css = CSS.read_text(encoding="utf-8")
    rule = next(line for line in css.splitlines() if line.startswith(".ipc-two.ipc-map-row {"))
    assert "2fr" not in rule and rule.count("1fr") == 2


# The county-level groupings' English names are dbt's now (int_units; the dbt unit test
# unit_english_names_for_groupings_and_shared_romanisations and tests/test_dashboard_trust3.py).


def test_map_draws_every_prefecture_level_unit_and_names_its_base_colour():
    """nat_zh_1440_overview.png: Chongqing (500100) and the county-level groupings (419000, 429000, 469000,
    659000) had no polygon, so they showed as pale holes in the colour of no legend entry."""
    from dashboards import figures, geo
    from dashboards.i18n import t

    with open(CITIES, encoding="utf-8", newline="") as f:
        units = {r["city_code"] for r in csv.DictReader(f)}
    drawn = {feature["id"] for feature in geo.layer("prefectures")["features"]}
    assert sorted(units - drawn) == []
    points = pl.DataFrame(
        {
            "unit_code": ["500100"],
            "unit_name": ["x"],
            "unit_name_en": ["x"],
            "composite_index": [None],
            "rank": [None],
            "group": [None],
        },
        schema_overrides={"composite_index": pl.Float64, "rank": pl.Int64, "group": pl.String},
    )
    fig = figures.city_map(points, "en")
    legend = {tr.name for tr in fig.data if tr.type == "scattergeo" and tr.showlegend}
    assert t("map_no_data", "en") in legend


def test_flag_page_shows_rule_values_in_the_readers_words():
    """nat_zh_1440_flag_unit_410700.png: "bottom_group = emerging" and "robust_share = 0.8" on the Chinese page,
    beside "末位组概率: 100%"."""
    from dashboards.i18n import GROUPS, label
    from dashboards.pages.flag import rule_thresholds

    rules = pl.DataFrame(
        {
            "rule_code": ["W1", "W1", "GEN"],
            "param": ["enabled", "bottom_group", "robust_share"],
            "value": ["1", "emerging", "0.8"],
            "description_zh": ["-", "视为末位的绩效分组", "稳健比例"],
            "description_en": ["-", "Bottom group", "Robust share"],
        }
    )
    for lang in ("zh", "en"):
        text = _text(rule_thresholds(rules, ["w1"], lang))
        assert label(GROUPS, "emerging", lang) in text
        assert "80%" in text
        assert "bottom_group" not in text and "emerging" not in text and "GEN" not in text
        assert "0.8" not in text


@pytest.mark.parametrize(
    "model",
    [
        "fct_city_indicator_year",
        "fct_city_score_year",
        "fct_target_status_year",
        "evaluation/fct_acceptance_score",
    ],
)
def test_every_column_of_a_province_extract_has_a_chinese_header(model):
    """data/extracts/41/2025/v1/ipcity_41_2025_v1_scores.csv: headers programme_average_composite, is_evaluated
    (and in the other tables peer_group, progress_index, level_points, … and a duplicated unit_name_1) among the
    Chinese ones. Every column the extract copies from a mart (as its model documents them) has a header."""
    import yaml

    from pipelines.extracts import EVALUATION_COLUMNS, HEADERS

    spec = yaml.safe_load((REPO / "dbt_project" / "models" / "marts" / f"{model}.yml").read_text(encoding="utf-8"))
    name = model.rsplit("/", 1)[-1]
    columns = [c["name"] for m in spec["models"] if m["name"] == name for c in m.get("columns", [])]
    assert columns
    if name == "fct_city_score_year":
        columns += list(EVALUATION_COLUMNS)
    # composite_index_published is the extract's 综合指数 (the figure the rank is decided on), not a second column
    missing = [c for c in columns if c not in HEADERS and c not in ("unit_code", "year", "composite_index_published")]
    assert missing == []
    assert len(set(HEADERS.values())) == len(HEADERS)  # no two columns under one header


def test_acceptance_extract_names_the_unit_once():
    """The acceptance table carried the mart's unit name beside the dimension's: a second column "unit_name_1"."""
    import duckdb

    from pipelines.extracts import year_extract_tables

    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.dim_city as select '410700' as unit_code, 'x' as unit_name, '410000' as province_code, "
        "'p' as province_name, 'prefecture' as level, true as is_programme"
    )
    con.execute(
        "create table marts.fct_city_indicator_year as select '410700' as unit_code, 2025 as year, "
        "'QLT01' as indicator_code, '2024.1' as catalog_version"
    )
    con.execute(
        "create table marts.dim_indicator as select 'QLT01' as indicator_code, '2024.1' as catalog_version, "
        "'QLT' as pillar_code, 'q' as pillar_name_zh, 'n' as name_zh, 'u' as unit"
    )
    con.execute("create table marts.fct_city_score_year as select '410700' as unit_code, 2025 as year, 1 as rank")
    con.execute(
        "create table marts.fct_acceptance_score as select '410700' as unit_code, 'x' as unit_name, "
        "2023 as cycle_first_year, 2025 as cycle_last_year"
    )
    tables = year_extract_tables(con, 2025, "410000", release={"derived": True})
    assert [c for c in tables["acceptance"].columns if c.startswith("unit_name")] == ["unit_name"]


def test_figure_titles_sit_below_the_mode_bar():
    """nat_en_1440_overview.png, nat_en_1440_compare.png: long titles ran under the mode bar's icons."""
    import plotly.graph_objects as go

    from dashboards.theme import base_layout, figure

    for fig in (base_layout(go.Figure(), "Composite index distribution (programme average = 100)"), figure([], "t")):
        title = fig.layout.title
        assert title.yref == "container" and title.yanchor == "top"
        assert title.pad.t >= 30  # the mode bar's band
        assert fig.layout.margin.t >= title.pad.t + title.font.size + 10


def test_province_chart_marks_flagged_provinces_by_pattern_not_colour_alone():
    """nat_zh_1440_provinces.png: flagged provinces were told apart by red against blue only."""
    from dashboards.pages.provinces import chart

    df = pl.DataFrame(
        {
            "province_code": ["410000", "440000"],
            "province_name": ["a", "b"],
            "n_cities": [2, 3],
            "mean_index": [80.0, 110.0],
            "sd_index": [5.0, 4.0],
            "min_index": [75.0, 105.0],
            "max_index": [85.0, 115.0],
            "mean_acceptance_score": [None, None],
            "share_key_targets_met": [0.5, 0.6],
            "n_flagged": [1, 0],
            "flagged_units": ["x", None],
        },
        schema_overrides={"mean_acceptance_score": pl.Float64, "flagged_units": pl.String},
    )
    bar = chart(df, "zh").data[0]
    shapes = list(bar.marker.pattern.shape)
    assert shapes[0] and not shapes[1]


def test_alert_figures_are_in_the_indicators_unit():
    """nat_zh_1440_alerts.png: "行政执法案件结案率倒退（2025 年现值 0.6679，目标值 0.7808）" where the profile and the
    targets page show the same figures as 66.8% and 78.1%."""
    from dashboards.formatting import RATIO_UNIT
    from pipelines.alerts.conditions import _figure

    assert _figure(0.66789, RATIO_UNIT, "zh") == "66.8%"
    assert _figure(0.66789, RATIO_UNIT, "en") == "66.8%"
    assert _figure(3.9123, "万元/亿元", "en") == "3.912 10k yuan per 100m yuan GDP"
    assert _figure(3.9123, "万元/亿元", "zh") == "3.912 万元/亿元"
    assert _figure(90.0) == "90"  # no unit known: the figure alone, as before


def test_city_options_name_the_province_once():
    """empty/nat_en_1440_profile_unit_419000.png: "County-level divisions directly under the province (Henan)
    (Henan)"; the same for every English name shared by two cities ("Taizhou (Jiangsu) (Jiangsu)")."""
    from dashboards.components import unit_options

    units = pl.DataFrame(
        {
            "unit_code": ["321200", "440300"],
            "unit_name": ["泰州市", "深圳市"],
            "unit_name_en": ["Taizhou (Jiangsu)", "Shenzhen"],
            "province_name": ["江苏省", "广东省"],
            "province_name_en": ["Jiangsu", "Guangdong"],
        }
    )
    assert [o["label"] for o in unit_options(units, "en")] == ["Taizhou (Jiangsu)", "Shenzhen (Guangdong)"]
    assert [o["label"] for o in unit_options(units, "zh")] == ["泰州市（江苏省）", "深圳市（广东省）"]


def test_profile_says_when_the_links_unit_code_does_not_exist():
    """empty/nat_zh_1440_profile_unit_999999.png: /profile?unit=999999 showed 绵阳市's profile without a word."""
    from dashboards.i18n import t
    from dashboards.pages.profile import unknown_unit_notice

    for lang in ("zh", "en"):
        assert unknown_unit_notice("440300", {"440300"}, lang) == []
        assert unknown_unit_notice(None, {"440300"}, lang) == []
        notice = _text(unknown_unit_notice("999999", {"440300"}, lang))
        assert "999999" in notice and notice == t("pf_unknown_unit", lang).format(code="999999")


def test_tab_title_and_html_lang_follow_the_page_language(tmp_path):
    """Every tab read "排名 · Rankings" in both languages, and <html> had no lang at all (screen readers read the
    Chinese pages as English)."""
    from dashboard_http import signed_in_client

    from dashboards.app import create_app

    app = create_app(
        tmp_path / "no.snapshot.duckdb",
        user_store=tmp_path / "access" / "users.sqlite",
        secret_key_file=tmp_path / "access" / "secret_key",
    )
    client = signed_in_client(app, tmp_path / "access" / "users.sqlite")
    for lang, expected, other in (("en", "Rankings", "排名"), ("zh", "排名", "Rankings")):
        page = client.get(f"/rankings?lang={lang}").get_data(as_text=True)
        title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
        assert expected in title and other not in title, title
    for lang, expected in (("en", '<html lang="en">'), ("zh", '<html lang="zh-CN">')):
        assert expected in client.get(f"/?lang={lang}").get_data(as_text=True)


def test_none_under_strengths_carries_no_arrow():
    """nat_en_1440_compare.png: "Strengths ▲ None" read as a strength called None."""
    from dashboards.pages.compare import strengths_list

    css = CSS.read_text(encoding="utf-8")
    assert re.search(r"\.ipc-good li\.ipc-muted::marker[^{]*\{ content: \"\"; \}", css)
    empty = pl.DataFrame(schema={"unit_code": pl.String, "kind": pl.String, "indicator_code": pl.String})
    card = strengths_list(empty, {"440300": "x"}, ["440300"], "en")[0]
    good = card.children[1].children[1]
    assert good.className == "ipc-good" and good.children[0].className == "ipc-muted"


def test_comparison_says_not_applicable_for_a_unit_outside_the_programme():
    """after/gd_zh_1024_compare.png: 韶关市 (not in the programme) had blank group and stage cells."""
    from dashboards.i18n import PILLAR_COLUMNS, t
    from dashboards.pages.compare import side_by_side_table

    row = {"unit_code": "440200", "unit_name": "韶关市", "unit_name_en": "Shaoguan", "composite_index": 89.9}
    row |= {"composite": 48.8, "rank": None, "rank_change": None, "performance_group": None, "stage": None}
    row |= {col: 50.0 for col in PILLAR_COLUMNS.values()}
    for lang in ("zh", "en"):
        _, rows = side_by_side_table(pl.DataFrame([row]), lang)
        by_measure = {r["measure"]: r["440200"] for r in rows}
        assert by_measure[t("group", lang)] == t("na_short", lang)
        assert by_measure[t("stage", lang)] == t("na_short", lang)


def test_ranking_city_names_wrap_instead_of_being_cut():
    """nat_en_1440_rankings.png: "Chaoyang (B…" (two cities are called Chaoyang; the English name adds the
    province)."""
    from dashboards.pages.rankings import column_defs

    for lang in ("zh", "en"):
        city = next(c for c in column_defs(lang) if c["field"] == "name")
        assert city.get("wrapText") and city.get("autoHeight")


def test_grid_numbers_that_are_not_there_read_as_a_dash():
    """after/nat_en_1440_provinces.png: the spread of a one-city province and the acceptance score not yet due were
    empty cells, which read as a broken table; everywhere else the dashboard writes "–"."""
    from dashboards import components
    from dashboards.pages import downloads

    formatters = [components.ONE_DECIMAL, components.INTEGER, components.PERCENT, components.INDEX_TEXT]
    formatters += [downloads.VALUE_FORMAT, downloads.SCORE_FORMAT]
    for f in formatters:
        assert f["valueFormatter"]["function"].startswith("params.value == null ? '–' :")
