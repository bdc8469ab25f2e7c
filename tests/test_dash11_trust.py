"""Round 11 of the dashboard review (dash11): what an official reading the pages would distrust, checked on the pure
functions that draw them (the browser half is tests/e2e/test_dash11_browser.py)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from dashboards import figures
from pipelines.labels import label_text


def _stages() -> pl.DataFrame:
    # 2016 normal (no flag), 2017 exemplary and robust, 2018 exemplary but not robust, 2019 on watch without
    # uncertainty runs: each of the four readings of a year's robustness once
    return pl.DataFrame(
        {
            "year": [2016, 2017, 2018, 2019],
            "stage": ["normal", "exemplary", "exemplary", "watch"],
            "is_robust": [None, True, False, None],
            "rules_fired": [None, "EX1", "EX1", "W1"],
        }
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_mark_of_the_stage_history_is_named_in_its_legend(lang):
    """The profile's stage history drew a not-robust year as a hollow dot beside filled ones (Mianyang, 2021) and
    nothing on the page said what the hollow dot meant; a year without uncertainty runs was drawn as a robust one.
    Now each reading of robustness has its own mark and the legend names every mark drawn, in the seed's words."""
    fig = figures.stage_timeline(_stages(), lang)
    data = fig.to_plotly_json()["data"]
    drawn = data[0]["marker"]["symbol"]
    assert len(set(drawn)) == 4, drawn  # normal, robust, not robust, not assessed: four different marks
    legend = {tuple([tr["marker"]["symbol"]]): tr["name"] for tr in data[1:] if tr.get("showlegend", True)}
    assert fig.layout.showlegend is True
    for code in ("robust", "not_robust", "robustness_not_assessed", "robustness_not_applicable"):
        symbol = figures.STAGE_ROBUSTNESS_SYMBOLS[code]
        assert symbol in drawn
        assert legend.get((symbol,)) == label_text(code, lang), (code, legend)
    assert data[0]["showlegend"] is False  # the stage line itself is read on the y axis, not in the legend


def test_the_stage_history_legend_names_only_marks_it_draws():
    """A city robust every year gets one legend entry, not a key to marks that are nowhere on its chart."""
    stages = pl.DataFrame({"year": [2024, 2025], "stage": ["exemplary"] * 2, "is_robust": [True, True]})
    data = figures.stage_timeline(stages.with_columns(rules_fired=pl.lit(None, pl.String)), "zh").to_plotly_json()
    names = [tr["name"] for tr in data["data"][1:]]
    assert names == [label_text("robust", "zh")]


def test_the_stage_history_hover_says_the_years_robustness():
    data = figures.stage_timeline(_stages(), "en").to_plotly_json()["data"][0]
    assert label_text("not_robust", "en") in data["text"][2]
    assert data["text"][2].endswith("EX1")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_most_lagging_targets_say_the_year_of_every_value(lang):
    """The targets page's most-lagging table read "Luoyang · Plan 2016–2020 · baseline 0.77 · target 1.75 · current
    0.00 per 10k people" and never said of which years: the page is 2025's, this current value is 2020's. Each value
    now carries its year, as the profile's target table says it; the query reads the years it needs."""
    from dashboards.pages import targets

    catalog = pl.DataFrame(
        {
            "indicator_code": ["QLT02"],
            "name_zh": ["每万人口高价值发明专利拥有量"],
            "name_en": ["High-value invention patents in force per 10k people"],
            "unit": ["件/万人"],
            "direction": ["higher"],
        }
    )
    units = pl.DataFrame({"unit_code": ["410300"], "unit_name": ["洛阳市"], "unit_name_en": ["Luoyang"]})
    lag = pl.DataFrame(
        [
            {
                "unit_code": "410300",
                "plan_id": "plan_2016_2020",
                "indicator_code": "QLT02",
                "baseline_year": 2016,
                "baseline_value": 0.7746,
                "target_year": 2020,
                "target_value": 1.7492,
                "current_year": 2020,
                "current_value": 0.0,
                "progress_index": -79.0,
                "status": "deteriorating",
                "bucket": "lagging",
            }
        ]
    )
    (row,) = targets.lagging_rows(lag, units, catalog, lang)
    assert row["baseline"].endswith("(2016)"), row
    assert row["target"].endswith("(2020)"), row
    assert row["current"].endswith("(2020)"), row


def test_the_programme_target_query_hands_the_page_the_years_of_its_values(tmp_path):
    """The targets page's rows come from queries.programme_target_status on the published snapshot: it read the
    current value's year only, so baseline and target had none to show."""
    import duckdb

    from dashboards import queries
    from dashboards.snapshot import Snapshot
    from pipelines.snapshot_writer import SNAPSHOT_SCHEMA_VERSION

    path = tmp_path / "tiny.snapshot.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts; create schema meta")
    con.execute("create table meta.snapshot_info (key string, value string)")
    con.execute("insert into meta.snapshot_info values ('schema_version', ?)", [str(SNAPSHOT_SCHEMA_VERSION)])
    con.execute("create table marts.dim_city as select '410300' as unit_code, true as is_programme")
    con.execute(
        "create table marts.fct_target_status as select '410300' as unit_code, 'plan_2016_2020' as plan_id, "
        "'QLT02' as indicator_code, 2016 as baseline_year, 0.7746 as baseline_value, 2020 as target_year, "
        "1.7492 as target_value, 2020 as current_year, 0.0 as current_value, -79.0 as progress_index, "
        "'deteriorating' as status"
    )
    con.close()
    (row,) = queries.programme_target_status(Snapshot(path)).to_dicts()
    assert (row["baseline_year"], row["target_year"], row["current_year"]) == (2016, 2020, 2020)


def test_a_per_cent_with_its_year_is_still_a_figure_right_aligned():
    """ "51.7% (2020)" (a closure rate with its year, the targets page) left its whole column flush left, as text."""
    from dashboards.components import align_numbers

    rows = [{"v": "51.7% (2020)"}, {"v": "0.77 件/万人 (2016)"}, {"v": "–"}]
    (col,) = align_numbers([{"field": "v"}], rows)
    assert col.get("type") == "numericColumn"
    (col,) = align_numbers([{"field": "v"}], [{"v": "2016–2020"}])
    assert "type" not in col


def _text_px(text: str, size: float) -> float:
    """A line's width in the charts' font, on the generous side: a Chinese character (or full-width bracket) is as
    wide as the type is high, anything else about 0.6 of it."""
    import unicodedata

    return sum(size if unicodedata.east_asian_width(c) in "WF" else 0.6 * size for c in text)


# A 390 px phone leaves the map about 340 px (page and section padding); its title starts 1 % in.
PHONE_MAP_PX = 330


@pytest.mark.parametrize("mode", ["group", "index"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_maps_title_and_hint_fit_a_phone(lang, mode):
    """At 390 px the map was drawn 640 px wide and scrolled sideways (the east coast, where most programme cities
    lie, off screen); fitted to the screen, its one-line title "城市分布（按绩效分组着色，点击城市查看画像） · 2025年"
    would be cut, as Plotly does not wrap titles. The title (with its year) and the hint (what a click does, now a
    subtitle) each fit the phone's map."""
    from dashboards.theme import TITLE_SIZE

    points = pl.DataFrame(
        {
            "unit_code": ["440100", "440300"],
            "unit_name": ["广州市", "深圳市"],
            "unit_name_en": ["Guangzhou", "Shenzhen"],
            "province_code": ["440000"] * 2,
            "province_name": ["广东省"] * 2,
            "lng": [113.3, 114.1],
            "lat": [23.1, 22.5],
            "composite_index": [100.0, 120.0],
            "rank": [2, 1],
            "rank_is_shared": [False] * 2,
            "is_ranked": [True] * 2,
            "group": ["strong", "leader"],
        }
    )
    fig = figures.city_map(points, lang, mode, year=2025)
    title = fig.layout.title
    assert "2025" in title.text
    assert title.subtitle.text, "no hint under the map's title"
    assert _text_px(title.text, TITLE_SIZE) <= PHONE_MAP_PX, title.text
    assert _text_px(title.subtitle.text, figures.MAP_HINT_SIZE) <= PHONE_MAP_PX, title.subtitle.text
    # the legend sits at the figure's foot, under the map: anchored by its bottom to the plot it grew upwards over the
    # map and its data note, and hung from the plot it was left over the map by a redraw (tests/test_dashboard_round13)
    assert fig.layout.legend.yref == "container" and fig.layout.legend.y == 0


# -- the simulator's robustness: the labels seed's four readings, in words on the page and in the export ------------


def _outcomes(kind: str, base: list[tuple], scen: list[tuple]) -> dict[str, pl.DataFrame]:
    """Base and scenario outcomes of one kind, as pipelines.scenarios._outcomes reads them (plus the names)."""
    cols = ["unit_code", "period", "value", "is_robust"]
    schema = {"unit_code": pl.String, "period": pl.String, "value": pl.String, "is_robust": pl.Boolean}
    frames = {}
    for side, rows in (("base", base), ("scen", scen)):
        df = pl.DataFrame([dict(zip(cols, r, strict=True)) for r in rows], schema=schema, orient="row")
        if kind == "rank":
            df = df.with_columns(p05_rank=pl.lit(None, pl.Float64), p95_rank=pl.lit(None, pl.Float64))
        names = pl.DataFrame({"unit_code": ["410300"], "unit_name": ["洛阳市"], "province_code": ["410000"]})
        frames[side] = {kind: df, "_names": names}
    return frames


@pytest.mark.parametrize(
    ("kind", "base", "scen", "expected"),
    [
        # a city leaving watch for normal: no flag is raised, "not applicable" as the evaluation pages say
        ("stage", ("watch", False), ("normal", None), "robustness_not_applicable"),
        ("stage", ("normal", None), ("watch", True), "robust"),
        ("stage", ("normal", None), ("watch", False), "not_robust"),
        ("verdict", ("exemplary", True), ("normal", None), "robustness_not_applicable"),
        # acceptance bands and ranks without an interval have no uncertainty runs
        ("acceptance_band", ("new_pilot_round", None), ("title_removed", None), "robustness_not_assessed"),
        ("rank", ("5", None), ("9", None), "robustness_not_assessed"),
    ],
)
def test_a_scenarios_change_says_its_robustness_in_the_seeds_codes(kind, base, scen, expected):
    """The simulator's robustness column read "未评估 / not assessed" for every change to normal (where the profile
    and the watchlist say "not applicable: no flag was raised") and its own three words beside the seed's four."""
    from pipelines import scenarios as sc

    frames = _outcomes(kind, [("410300", "2025", *base)], [("410300", "2025", *scen)])
    (change,) = sc.compare_outcomes(frames["base"], frames["scen"]).to_dicts()
    assert change["robustness"] == expected


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_simulators_robustness_cells_read_the_seeds_words_and_wrap(lang):
    from dashboards.pages.simulator import change_columns, change_rows

    change = {
        "kind": "stage",
        "unit_code": "410300",
        "unit_name": "洛阳市",
        "period": "2025",
        "base_value": "watch",
        "scenario_value": "normal",
    }
    new, old = change_rows(
        [{**change, "robustness": "robustness_not_applicable"}, {**change, "robustness": "unknown"}], lang
    )
    assert new["robust_label"] == label_text("robustness_not_applicable", lang)
    # a scenario stored before this round ("unknown") reads as the seed's "not assessed"
    assert old["robust_label"] == label_text("robustness_not_assessed", lang)
    col = next(c for c in change_columns(lang) if c["field"] == "robust_label")
    assert col.get("wrapText") and col.get("autoHeight") and "maxWidth" not in col


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_scenario_export_says_its_changes_in_chinese_words_not_codes(fmt):
    """The export's Chinese headers stood over codes: "stage, normal, watch, unknown" / "rank … robust"."""
    import io

    import openpyxl

    from dashboards.i18n import t
    from pipelines import scenarios as sc

    changes = pl.DataFrame(
        [
            {"kind": "stage", "base_value": "normal", "scenario_value": "watch", "robustness": "unknown"},
            {"kind": "rank", "base_value": "5", "scenario_value": "9", "robustness": "robust"},
            {"kind": "acceptance_band", "base_value": "new_pilot_round", "scenario_value": "title_removed"},
        ],
        schema=sc._CHANGE_SCHEMA,
    ).with_columns(unit_code=pl.lit("410300"), unit_name=pl.lit("洛阳市"), province_code=pl.lit("410000"))
    data = sc.export_changes(changes, fmt, "s")
    if fmt == "csv":
        text = data.decode("utf-8-sig")
    else:
        ws = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
        text = "\n".join(",".join("" if v is None else str(v) for v in row) for row in ws.iter_rows(values_only=True))
    for code in ("stage", "rank", "normal", "watch", "unknown", "robust", "new_pilot_round", "title_removed"):
        assert f",{code}," not in f",{text.replace(chr(10), ',')},", code
    for words in (
        t("kind_stage", "zh"),
        t("kind_rank", "zh"),
        label_text("watch", "zh"),
        label_text("title_removed", "zh"),
        label_text("robustness_not_assessed", "zh"),
        label_text("robust", "zh"),
    ):
        assert words in text, words


def test_every_chart_the_pages_build_has_the_charts_class():
    """style.css gives every chart (.ipc-graph) its phone rule (its laid-out width, scrolled sideways; the map fits
    the screen). The /flag page built its dcc.Graph by hand without the class, and a phone squeezed its chart into
    340 px: title cut, the two axes' titles over each other, the years in a heap. Every dcc.Graph in the dashboard's
    code is built with it (components.graph does; a hand-built one must say so)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "dashboards"
    missing = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "Graph"):
                continue
            cls = next((k.value for k in node.keywords if k.arg == "className"), None)
            if not (isinstance(cls, ast.Constant) and "ipc-graph" in str(cls.value).split()):
                missing.append(f"{path.relative_to(root.parent)}:{node.lineno}")
    assert not missing, missing


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_empty_strengths_list_says_what_is_not_there(lang):
    """compare_en_1366: Anyang's "Strengths" list read "None", as a program prints an empty value; now it says that
    no indicator scores above (or below) the programme average."""
    from dashboards.i18n import t
    from dashboards.pages.compare import strengths_list

    sw = pl.DataFrame(
        {
            "unit_code": ["410500"],
            "kind": ["weakness"],
            "indicator_code": ["UTL01"],
            "name_zh": ["知识产权质押融资额与GDP之比"],
            "name_en": ["Pledge financing amount per GDP"],
            "diff": [-67.6],
        }
    )
    (card,) = strengths_list(sw, {"410500": "Anyang"}, ["410500"], lang)
    text = json.dumps(card.to_plotly_json(), ensure_ascii=False, default=lambda o: o.to_plotly_json())
    assert t("sw_none_strength", lang) in text
    assert '"None"' not in text and '无"' not in text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_extracts_changes_say_why_they_are_empty(lang):
    """downloads_zh_1366: under "较上一版本变更" a bare "—" when no extract had been revised."""
    from dashboards.i18n import t
    from dashboards.pages.downloads import changes_view

    view = changes_view([], [], lang)
    assert view.children == t("ex_no_changes", lang) and len(view.children) > 20


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_stage_history_puts_every_stage_at_its_place_on_the_axis(lang):
    """The stage axis listed six stages by hand and left out manual review and not reported: Plotly drew a stage
    missing from the list above 示范 (Exemplary), so a city's manual-review year looked like its best. Every stage
    of the labels seed is on the axis, best at the top, in the seed's order below normal."""
    from dashboards.i18n import STAGES, label

    stages = pl.DataFrame(
        {
            "year": [2023, 2024, 2025],
            "stage": ["exemplary", "review", "not_reported"],
            "is_robust": [True, False, True],
            "rules_fired": [None, None, None],
        }
    )
    axis = list(figures.stage_timeline(stages, lang).layout.yaxis.categoryarray)[::-1]  # top first
    assert axis[:2] == [label(STAGES, "exemplary", lang), label(STAGES, "normal", lang)]
    assert set(axis) == {label(STAGES, s, lang) for s in STAGES}
    top_down = ["watch", "review", "rectification", "exit_candidate"]
    assert [axis.index(label(STAGES, s, lang)) for s in top_down] == sorted(
        axis.index(label(STAGES, s, lang)) for s in top_down
    )


def test_the_stage_historys_data_note_lies_over_no_year():
    """profile_420500: the data note in the chart's middle veiled the 2021 watch mark (a hollow circle under a white
    box). The stage history declares where its note goes (above the plot's right corner); a chart that declares
    nothing keeps the middle."""
    note = "合成示例 / Synthetic sample"
    stamped = figures.stamp_data_note(figures.stage_timeline(_stages(), "zh"), note)
    (ann,) = [a for a in stamped["layout"]["annotations"] if a.get("name") == figures.DATA_NOTE_NAME]
    assert (ann["x"], ann["y"], ann["xanchor"], ann["yanchor"]) == (1, 1, "right", "bottom")
    plain = figures.stamp_data_note(figures.empty_figure("x").add_scatter(x=[1], y=[1]), note)
    (ann,) = [a for a in plain["layout"]["annotations"] if a.get("name") == figures.DATA_NOTE_NAME]
    assert (ann["x"], ann["y"]) == (0.5, 0.5)


def test_charts_with_data_in_their_middle_put_the_data_note_where_no_data_is():
    """overview_en_1366 and quality_en_1366: the note in the plot's middle lay over the distribution's tallest bars,
    the movers' bars round 0 and the quality chart's "Rows quarantined 0" labels. Each declares its place: the
    distribution the top-left corner (the few lowest indices), the movers above the plot on the title's line, the
    quality chart on a line of its own under its title."""
    from dashboards.figures import DATA_NOTE_LINE_PX
    from dashboards.pages.quality import sources_figure
    from dashboards.theme import TITLE_MARGIN_PX

    note = "合成示例 / Synthetic sample"

    def place(fig):
        (ann,) = [
            a
            for a in figures.stamp_data_note(fig, note)["layout"]["annotations"]
            if a.get("name") == figures.DATA_NOTE_NAME
        ]
        return {k: ann[k] for k in ("x", "y", "xanchor", "yanchor")}

    dist = pl.DataFrame(
        {
            "composite_index": [30.0, 90.0, 100.0, 110.0, 155.0],
            "performance_group": ["emerging", "moderate", "moderate", "strong", "leader"],
        }
    )
    movers = pl.DataFrame(
        {
            "unit_code": ["1", "2"],
            "unit_name": ["甲", "乙"],
            "unit_name_en": ["A", "B"],
            "rank_change": [5, -3],
            "rank": [1, 9],
            "stage": [None, None],
        }
    )
    sources = pl.DataFrame({"source": ["cases", "training"], "rows_loaded": [900_000, 123], "rows_rejected": [0, 0]})
    assert place(figures.composite_histogram(dist, "en", 2025)) == figures.DATA_NOTE_TOP_LEFT
    assert place(figures.movers_bar(movers, "en", year=2025)) == figures.DATA_NOTE_TITLE_LINE
    fig = sources_figure(sources, "en")
    assert place(fig) == figures.DATA_NOTE_TITLE_LINE
    assert fig.layout.margin.t >= TITLE_MARGIN_PX + DATA_NOTE_LINE_PX  # the note's own line under the title
