"""Round 7 of "a dashboard officials trust": every headline figure says whose figure it is and of which year; no
Chinese of the catalog stands in the English UI (the provenance panel's formula read "(比率)").

Pure functions behind the callbacks, over small dicts and the real indicator catalog seed: no snapshot, no browser
(tests/e2e/test_dash7_browser.py shows the same to a person)."""

from __future__ import annotations

import csv
import re

import pytest

from dashboards import provenance
from dashboards.i18n import t
from dashboards.pages.overview import headline_cards
from pipelines import settings

CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")


def _catalog() -> list[dict]:
    with open(settings.DBT_PROJECT_DIR / "seeds" / "indicator_catalog.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


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


def _cards(cards) -> dict[str, tuple[str, str, str | None]]:
    """card id -> (value, title, note)"""
    out = {}
    for c in cards:
        kids = c.children
        out[c.id] = (kids[0].children, kids[1].children, kids[2].children if len(kids) > 2 else None)
    return out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_overview_card_says_whose_figure_and_which_year_national(lang):
    cards = _cards(headline_cards(HEADLINES, lang))
    assert len(cards) == 6
    national = t("card_scope_national", lang).format(year=2025)
    for cid, (_, title, note) in cards.items():
        assert note == national, (cid, title, note)
        assert "2025" in note and ("全国" in note if lang == "zh" else "Nationwide" in note)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_provincial_offices_overview_tells_national_cards_from_its_own(lang):
    """gd_1366_zh_overview: a provincial office read "65 示范/试点城市数" beside "0 本省退出候选城市" and took the 65 for
    its own province; the national cards now say 全国 / Nationwide, the flagged counts name the province."""
    province = "广东省" if lang == "zh" else "Guangdong"
    cards = _cards(headline_cards(HEADLINES, lang, own_province=True, province=province))
    national = t("card_scope_national", lang).format(year=2025)
    own = t("card_scope_province", lang).format(province=province, year=2025)
    assert {cid: note for cid, (_, _, note) in cards.items()} == {
        "ov-card-units": national,
        "ov-card-index": national,
        "ov-card-leaders": national,
        "ov-card-up": national,
        "ov-card-watch": own,
        "ov-card-exit": own,
    }
    assert province in own and "2025" in own


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_account_without_a_province_is_shown_no_flagged_count(lang):
    """A viewer's scope is empty: its cards said "0 本省退出候选城市" for a province it does not have (stages are not
    published to it; "0" read as "none flagged"). Its cards are the national figures only, each labelled."""
    cards = _cards(headline_cards(HEADLINES, lang, own_province=True, show_flagged=False))
    assert set(cards) == {"ov-card-units", "ov-card-index", "ov-card-leaders", "ov-card-up"}
    assert all(note == t("card_scope_national", lang).format(year=2025) for _, _, note in cards.values())


@pytest.mark.parametrize("row", _catalog(), ids=lambda r: f"{r['catalog_version']}-{r['indicator_code']}")
def test_formula_text_in_english_has_no_chinese(row):
    """The provenance panel showed "= closed / caseload (比率)" in the English UI: the catalog's unit is Chinese.
    Every catalog entry's formula now reads in English, and a ratio's formula (a fraction) says 'ratio', not '%'."""
    en = provenance.formula_text(row, "en")
    assert not CJK.search(en), en
    zh = provenance.formula_text(row, "zh")
    assert zh.endswith(f"({row['unit']})"), zh  # the catalog's own unit in Chinese
    if row["unit"] == "比率":
        assert en.endswith("(ratio)"), en


def _points(indices: list[float]):
    import polars as pl

    n = len(indices)
    return pl.DataFrame(
        {
            "unit_code": [f"44{i:02d}00" for i in range(1, n + 1)],
            "unit_name": [f"城市{i}" for i in range(n)],
            "unit_name_en": [f"City {i}" for i in range(n)],
            "province_code": ["440000"] * n,
            "province_name": ["广东省"] * n,
            "lng": [113.0] * n,
            "lat": [23.0] * n,
            "composite_index": indices,
            "rank": list(range(1, n + 1)),
            "rank_is_shared": [False] * n,
            "is_ranked": [True] * n,
            "group": ["strong"] * n,
        }
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_index_map_keeps_one_colour_scale_across_years_and_says_so(lang):
    """The index map took each year's own min–max: a city at index 100 was pale one year and dark the next with
    nothing saying the scale had moved. Two years with different spreads now share the range handed in (the
    snapshot's, over every year), and the colour bar says it is the same every year."""
    from dashboards import figures

    def scale(fig):
        [tr] = [tr for tr in fig.data if tr.type == "choropleth" and tr.showscale]
        return tr.zmin, tr.zmax, tr.colorbar.title.text

    y1 = figures.city_map(_points([60.0, 100.0, 120.0]), lang, "index", index_range=(20.0, 160.0))
    y2 = figures.city_map(_points([90.0, 100.0, 150.0]), lang, "index", index_range=(20.0, 160.0))
    assert scale(y1) == scale(y2)
    zmin, zmax, title = scale(y1)
    assert (zmin, zmax) == (20.0, 160.0)
    assert t("map_scale_all_years", lang).format(range="20–160") in title
    # without a range handed in the year's own scale is used, and the colour bar says that instead
    assert t("map_scale_this_year", lang) in scale(figures.city_map(_points([60.0, 120.0]), lang, "index"))[2]


def test_index_colour_range_covers_every_year_in_whole_tens(sample_snapshot):
    """queries.index_colour_range over the real sample run: the ranked cities' index over every year, widened to
    whole tens, holds every year's published figures (each year's own range sits inside it)."""
    import math

    import duckdb

    from dashboards import queries
    from dashboards.snapshot import Snapshot

    con = duckdb.connect(str(sample_snapshot.snapshot), read_only=True)
    try:
        per_year = con.execute(
            "select year, min(composite_index), max(composite_index) from marts.fct_city_score_year "
            "where is_ranked group by year order by year"
        ).fetchall()
    finally:
        con.close()
    assert len(per_year) > 1
    snap = Snapshot(sample_snapshot.snapshot)
    try:
        lo, hi = queries.index_colour_range(snap)
    finally:
        snap.close()
    assert lo == math.floor(min(r[1] for r in per_year) / 10) * 10
    assert hi == math.ceil(max(r[2] for r in per_year) / 10) * 10
    assert all(lo <= y_lo and y_hi <= hi for _, y_lo, y_hi in per_year)


def _far_from_zero(codes):
    import polars as pl

    years = list(range(2016, 2026))
    return pl.DataFrame(
        {
            "unit_code": ["440100"] * len(years) * len(codes),
            "unit_name": ["广州市"] * len(years) * len(codes),
            "unit_name_en": ["Guangzhou"] * len(years) * len(codes),
            "indicator_code": [c for c in codes for _ in years],
            "year": years * len(codes),
            "value": [0.82 + 0.005 * i for _ in codes for i in range(len(years))],
        }
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_value_axis_starts_at_zero(lang):
    """A case-closure rate from 82 % to 87 % filled the profile's panel like a doubling, its axis starting at 80
    unsaid. Each value axis of the line charts (profile panels, compare trend, flag history) now starts at zero;
    the rank axis (1 = best, reversed) is not a magnitude and keeps its range."""
    import polars as pl

    from dashboards import figures
    from dashboards.pages import flag

    codes = ["PRO01", "QLT01"]
    catalog = pl.DataFrame(
        {
            "indicator_code": codes,
            "name_zh": ["结案率", "拥有量"],
            "name_en": ["Closure", "Stock"],
            "unit": ["比率", "件/万人"],
        }
    )
    values = _far_from_zero(codes)
    panels = figures.indicator_small_multiples(values, None, catalog, lang)
    y_axes = [k for k in panels.layout.to_plotly_json() if k.startswith("yaxis")]
    assert len(y_axes) == len(codes)
    assert all(panels.layout[k].rangemode == "tozero" for k in y_axes)

    trend = figures.trend_lines(values.filter(pl.col("indicator_code") == "PRO01"), ["440100"], lang, "PRO01", "比率")
    assert trend.layout.yaxis.rangemode == "tozero"

    history = pl.DataFrame(
        {
            "year": [2023, 2024, 2025],
            "composite_index": [96.0, 98.0, 101.0],
            "rank": [30, 28, 25],
            "p05_rank": [None, None, None],
            "p95_rank": [None, None, None],
        },
        schema_overrides={"p05_rank": pl.Int64, "p95_rank": pl.Int64},
    )
    fig = flag.history_figure(history, lang)
    assert fig.layout.yaxis.rangemode == "tozero"
    assert fig.layout.yaxis2.autorange == "reversed" and fig.layout.yaxis2.rangemode != "tozero"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_radar_leaves_room_for_every_pillar_name(lang):
    """At 1366 px the English radar read "nvironment" at its left edge (Plotly gives the angular labels no room):
    the side margins now hold the longest pillar name in the radar's type, and the legend is below, not beside."""
    import polars as pl

    from dashboards import figures
    from dashboards.i18n import PILLAR_COLUMNS, PILLAR_NAMES, label

    row = {"unit_code": ["440100"], "unit_name": ["广州市"], "unit_name_en": ["Guangzhou"]}
    row |= {c: [50.0] for c in PILLAR_COLUMNS.values()}
    fig = figures.pillar_radar(pl.DataFrame(row), lang)
    widest = max(figures._label_px(label(PILLAR_NAMES, p, lang), figures.RADAR_LABEL_SIZE) for p in PILLAR_COLUMNS)
    assert fig.layout.margin.l >= widest and fig.layout.margin.r >= widest
    assert fig.layout.polar.angularaxis.tickfont.size == figures.RADAR_LABEL_SIZE
    assert fig.layout.legend.orientation == "h"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_target_summary_says_as_of_which_data_year(lang):
    """The targets page said "(latest data year)" and never which year; its counts now say it (a range when some
    cities' latest data are older)."""
    import polars as pl

    from dashboards.pages.targets import summary_text

    one = pl.DataFrame({"bucket": ["achieved", "lagging"], "current_year": [2025, 2025]})
    assert t("tg_as_of", lang).format(years="2025") in summary_text(one, lang)
    mixed = pl.DataFrame({"bucket": ["achieved", "lagging"], "current_year": [2024, 2025]})
    assert t("tg_as_of", lang).format(years="2024–2025") in summary_text(mixed, lang)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_compare_table_says_not_applicable_for_an_unranked_citys_rank(lang):
    """gd_en_compare_1366: Shaoguan (not in the programme) read rank "–" and rank change "–" above group "n/a" and
    stage "n/a": the dash looked like missing data. A rank or change that does not apply now says so."""
    import polars as pl

    from dashboards.pages.compare import side_by_side_table

    cols = {"composite_index": [106.6, 89.9], "composite": [57.9, 48.8], "rank": [23, None], "rank_change": [-3, None]}
    from dashboards.i18n import PILLAR_COLUMNS

    cols |= {c: [50.0, 40.0] for c in PILLAR_COLUMNS.values()}
    df = pl.DataFrame(
        {
            "unit_code": ["440100", "440200"],
            "unit_name": ["广州市", "韶关市"],
            "unit_name_en": ["Guangzhou", "Shaoguan"],
            **cols,
            "performance_group": ["strong", None],
            "stage": ["normal", None],
        }
    )
    _, rows = side_by_side_table(df, lang)
    by = {r["measure"]: r for r in rows}
    na = t("na_short", lang)
    for m in ("rank", "rank_change", "group", "stage"):
        assert by[t(m, lang)]["440200"] == na, (m, by[t(m, lang)])
    assert by[t("rank", lang)]["440100"] == "23"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_overview_charts_say_their_year(lang):
    """The overview's map, distribution and movers said no year: the year picker above them is not in a chart an
    official copies (the mode bar's PNG) into a report. Each title now ends with its year."""
    import polars as pl

    from dashboards import figures

    pts = _points([60.0, 100.0, 120.0])
    dist = pts.select("unit_code", "unit_name", "unit_name_en", "composite_index").with_columns(
        performance_group=pl.lit("strong")
    )
    movers = pl.DataFrame(
        {
            "unit_code": ["440100"],
            "unit_name": ["广州市"],
            "unit_name_en": ["Guangzhou"],
            "rank": [3],
            "rank_change": [4],
            "stage": [None],
        },
        schema_overrides={"stage": pl.String},
    )
    for fig in (
        figures.city_map(pts, lang, "group", year=2025),
        figures.city_map(pts, lang, "index", index_range=(20.0, 160.0), year=2025),
        figures.composite_histogram(dist, lang, 2025),
        figures.movers_bar(movers, lang, year=2025),
    ):
        assert fig.layout.title.text.endswith("2025年" if lang == "zh" else "· 2025"), fig.layout.title.text
