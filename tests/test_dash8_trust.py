"""Round 8 of "a dashboard officials trust": a chart saved as PNG from its mode bar (the camera) says its data are
synthetic, as every other export does; the compare heatmap's colours keep one meaning whichever cities are picked,
and its colour bar says the range; a provincial office's cards say whose figure they hold once, not "本省…" above
"广东省 · 2025年".

Pure functions over small frames, and the real app over the session's sample snapshot for the callbacks
(tests/e2e/test_dash8_browser.py shows the same to a person and saves the PNG a person would)."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import polars as pl
import pytest
from dashboard_fixtures import year_and_units

from dashboards import figures
from dashboards.i18n import t
from dashboards.pages.overview import headline_cards
from dashboards.theme import empty_figure
from pipelines.data_nature import DataNature

NOTE = DataNature().row_value()  # the documented sample: "合成示例 / Synthetic sample"


def _notes(fig) -> list[str]:
    layout = fig["layout"] if isinstance(fig, dict) else fig.to_plotly_json()["layout"]
    return [a.get("text") for a in layout.get("annotations") or [] if a.get("name") == figures.DATA_NOTE_NAME]


# -- 1. the chart's own image carries the data note ---------------------------------------------------------------


def test_a_stamped_figure_carries_the_note_and_the_original_is_untouched():
    fig = go.Figure(go.Bar(x=[1, 2], y=[3, 4]))
    fig.add_annotation(text="keep me", x=0, y=0)
    out = figures.stamp_data_note(fig, NOTE)
    assert _notes(out) == [NOTE]
    assert "keep me" in [a.get("text") for a in out["layout"]["annotations"]]
    assert _notes(fig) == []  # a memoised figure is read, never changed
    assert _notes(figures.stamp_data_note(out, NOTE)) == [NOTE]  # once, however often it passes


def test_nothing_to_stamp_on_real_data_or_a_message():
    fig = go.Figure(go.Bar(x=[1], y=[1]))
    assert figures.stamp_data_note(fig, None) is fig  # real data: the image is not called synthetic
    blank = empty_figure("请至少选择两个城市")
    assert figures.stamp_data_note(blank, NOTE) is blank  # a message has no data to label


def test_the_note_is_escaped_text():
    out = figures.stamp_data_note(go.Figure(go.Bar(x=[1], y=[1])), "<a href='x'>合成</a>")
    assert _notes(out) == ["&lt;a href='x'&gt;合成&lt;/a&gt;"]


@pytest.fixture(scope="module")
def national(sample_snapshot, tmp_path_factory):
    from dashboard_fixtures import national_client

    return national_client(sample_snapshot.snapshot, tmp_path_factory.mktemp("dash8_access"))


def _post(client, outputs, inputs, state):
    from dashboard_http import callback_body

    r = client.post("/_dash-update-component", json=callback_body(outputs, inputs, state))
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return json.loads(r.get_data(as_text=True))["response"]


def _compare(client, year, units, lang="zh") -> dict:
    from dashboards.payloads import COMPARE_OUTPUTS

    return _post(
        client,
        COMPARE_OUTPUTS,
        [("cmp-year", "value", year), ("cmp-units", "value", units)],
        [("cmp-lang", "data", lang)],
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_chart_a_callback_draws_carries_the_data_note(national, sample_snapshot, lang):
    """The compare page's radar and heatmap (one callback, several outputs) and its trend (one output): each
    figure the browser receives has the note, so the PNG the camera saves has it."""
    year, codes = year_and_units(sample_snapshot.snapshot)
    got = _compare(national, year, codes[:3], lang)
    assert _notes(got["cmp-radar"]["figure"]) == [NOTE]
    assert _notes(got["cmp-heatmap"]["figure"]) == [NOTE]
    # and the year: the PNG has no page around it with the year dropdown
    for graph in ("cmp-radar", "cmp-heatmap"):
        assert str(year) in got[graph]["figure"]["layout"]["title"]["text"], graph
    trend = _post(
        national,
        [("cmp-trend", "figure")],
        [("cmp-units", "value", codes[:3]), ("cmp-indicator", "value", "QLT01")],
        [("cmp-lang", "data", lang)],
    )
    assert _notes(trend["cmp-trend"]["figure"]) == [NOTE]


# -- 2. the heatmap's colour range: the year's, said on the chart ------------------------------------------------


def test_the_heatmaps_range_is_the_years_whichever_cities_are_picked(national, sample_snapshot):
    """Fitted to the cities picked, one pair's range was twice the next's: one colour meant two differences."""
    year, codes = year_and_units(sample_snapshot.snapshot)
    ranges, bars = set(), set()
    for pick in (codes[:2], codes[-2:], [codes[0], codes[len(codes) // 2]]):
        fig = _compare(national, year, pick)["cmp-heatmap"]["figure"]
        heat = fig["data"][0]
        ranges.add((heat["zmin"], heat["zmax"]))
        bars.add(_scale_note(fig["layout"]))
    assert len(ranges) == 1 and len(bars) == 1, (ranges, bars)
    (zmin, zmax) = ranges.pop()
    assert zmin == -zmax and zmax % 10 == 0
    assert f"±{zmax:.0f}" in bars.pop()


def _scale_note(layout) -> str:
    layout = layout if isinstance(layout, dict) else layout.to_plotly_json()
    notes = [a["text"] for a in layout.get("annotations") or [] if a.get("name") == figures.HEAT_SCALE_NAME]
    assert len(notes) == 1, layout.get("annotations")
    return notes[0].replace("<br>", " ")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_heatmaps_colour_bar_says_its_range_and_whose(lang):
    matrix = pl.DataFrame({"unit_code": ["1", "2"], "indicator_code": ["A", "A"], "diff": [5.0, -3.0]})
    units = pl.DataFrame({"unit_code": ["1", "2"], "unit_name": ["甲市", "乙市"], "unit_name_en": ["A", "B"]})
    catalog = pl.DataFrame({"indicator_code": ["A"], "name_zh": ["指标"], "name_en": ["Ind"]})
    fig = figures.strength_heatmap(matrix, units, catalog, ["1", "2"], lang, extent=70.0, year=2025)
    assert (fig.data[0].zmin, fig.data[0].zmax) == (-70, 70)
    note = _scale_note(fig.layout)
    assert "±70" in note and "2025" in note
    own = figures.strength_heatmap(matrix, units, catalog, ["1", "2"], lang)
    assert (own.data[0].zmin, own.data[0].zmax) == (-10, 10)  # without the year's range: the choice's own, said
    assert _scale_note(own.layout) == t("heat_scale_chosen", lang).format(extent="10")


# -- 3. a provincial office's cards: whose figure, once -----------------------------------------------------------

HEADLINES = {
    "year": 2025,
    "programme_units": 65,
    "ranked_units": 300,
    "median_index": 99.8,
    "leaders": 5,
    "on_watch": 2,
    "exit_candidates": 0,
    "moved_up": 41,
    "first_year": False,
}
SCOPE_WORDS = {"zh": ("本省", "全国", "广东省"), "en": ("own province", "Nationwide", "Guangdong")}


def _card_texts(cards):
    return {c.id: (c.children[1].children, c.children[2].children) for c in cards}


@pytest.mark.parametrize("province", ["广东省", None])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_each_card_says_whose_figure_it_is_once(lang, province):
    """gd_1366_zh_overview: "本省退出候选城市" over "广东省 · 2025年" said the province twice on each flagged card."""
    name = None if province is None else ("广东省" if lang == "zh" else "Guangdong")
    cards = _card_texts(headline_cards(HEADLINES, lang, own_province=True, province=name))
    for cid, (title, note) in cards.items():
        said = sum(f"{title} | {note}".lower().count(w.lower()) for w in SCOPE_WORDS[lang])
        assert said == 1, (cid, title, note)
        assert "2025" in note
    watch_title, watch_note = cards["ov-card-watch"]
    if name:
        assert name in watch_note and watch_title == t("ov_on_watch", lang)
    else:
        assert watch_title == t("ov_on_watch_own", lang)


# -- review: axis ticks in full numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_axis_of_large_counts_reads_in_full_numbers(lang):
    """nat_zh_1366_quality: the rows-loaded axis read "200k 400k 600k 800k" beside "入库行数 900,779": an English
    abbreviation a Chinese reader takes for a unit. Every chart's axes (the app's template) show 200,000."""
    from dashboards.pages.quality import sources_figure

    fig = sources_figure(
        pl.DataFrame({"source": ["cases", "grants"], "rows_loaded": [900_779, 737_507], "rows_rejected": [0, 0]}),
        lang,
    )
    for axis in ("xaxis", "yaxis"):
        own = fig.layout[axis]
        template = fig.layout.template.layout[axis]
        assert (own.exponentformat or template.exponentformat) == "none", axis
        # Plotly separates 200,000 by itself; forced for four digits too, a year axis read "2,016 2,017"
        assert not template.separatethousands and not own.separatethousands, axis


# -- review: the provinces chart's title names the colours drawn, and the dotted line ------------------------------


def _province_rollup(**over) -> pl.DataFrame:
    row = {
        "province_code": "440000",
        "province_name": "广东省",
        "n_cities": 6,
        "mean_index": 111.04,
        "sd_index": 23.7,
        "min_index": 80.0,
        "max_index": 153.7,
        "mean_acceptance_score": None,
        "share_key_targets_met": 0.6667,
        "n_flagged": 1,
        "flagged_units": "惠州市",
        **{f"n_{s}": 0 for s in ("normal", "exemplary", "watch", "review", "rectification", "exit_candidate")},
        **{f"n_{s}": 0 for s in ("not_reported", "withdrawn")},
    }
    row.update(over)
    return pl.DataFrame([row])


# what a reader calls the theme's colours (Okabe-Ito vermillion reads orange on screen and in print)
COLOUR_WORDS = {"#D55E00": {"zh": "橙", "en": "orange"}, "#0072B2": {"zh": "蓝", "en": "blue"}}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_provinces_chart_names_the_colour_it_draws_and_its_dotted_line(lang):
    """nat_en_1366_provinces: "hatched red: with flagged cities" above orange hatched bars; the dotted line at 100
    was named nowhere."""
    from dashboards.pages.provinces import chart

    fig = chart(_province_rollup(), lang)
    flagged = fig.data[0].marker.color[0]
    title = fig.layout.title.text
    assert COLOUR_WORDS[flagged][lang] in title.lower(), (flagged, title)
    assert ("红色" if lang == "zh" else "red") not in title
    lines = [a.text for a in fig.layout.annotations]
    assert any("100" in (x or "") for x in lines), lines


# -- review: a stage withheld from the account says so -------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_withheld_stage_is_not_shown_as_a_missing_one(lang):
    """gd_zh_1366_rankings: every other province's city read "评价阶段 –", the dash a city with no stage has; a
    provincial office took the cities for not evaluated. A stage withheld from the account says 未公开 / not
    published; the own province's cities keep theirs, a city without a stage keeps its dash."""
    from test_verdicts_contestable2 import _ranking_frame

    from dashboards import access
    from dashboards.pages.rankings import ranking_rows

    df = _ranking_frame().with_columns(
        province_code=pl.Series(["320000", "320000", "440000", "440000"]),
        stage=pl.Series(["normal", None, "watch", "normal"]),
    )
    gd = access.Principal("gd", "province", "440000")
    rows = {
        r["unit_code"]: r["stage_label"]
        for r in ranking_rows(access.published_rankings(gd, df), lang, gd.province_scope())
    }
    withheld = t("stage_withheld", lang)
    assert rows["320100"] == withheld and rows["320200"] == withheld
    assert rows["320300"] != withheld and rows["320400"] != withheld
    national = {r["unit_code"]: r["stage_label"] for r in ranking_rows(df, lang)}
    assert national["320200"] is None  # no stage, nothing withheld: the grid's dash


# -- review: the watchlist's cards say whose count and which year ---------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_watchlists_cards_say_whose_count_and_which_year(lang):
    """nat_zh_1366_watchlist: "2 整改", "2 退出候选" with no scope or year, where the overview's cards (round 7) say
    全国 · 2025年; a provincial office's watchlist counts its own cities, and said so nowhere."""
    from dashboards.pages.watchlist import watch_cards

    counts = {"watch": 0, "review": 5, "rectification": 2, "exit_candidate": 2}
    national = _card_texts(watch_cards(counts, 2025, lang))
    assert {note for _, note in national.values()} == {t("card_scope_national", lang).format(year=2025)}
    name = "广东省" if lang == "zh" else "Guangdong"
    own = _card_texts(watch_cards(counts, 2025, lang, national=False, province=name))
    assert {note for _, note in own.values()} == {t("card_scope_province", lang).format(province=name, year=2025)}
