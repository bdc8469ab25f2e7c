"""Round 5 of the official's read of the dashboard (1366×768 and 1920×1080, 简体中文 and English): the heatmap's
colour bar and the small charts' titles, judged without a browser (tests/e2e/test_dash5_browser.py judges them in
one)."""

from __future__ import annotations

import pytest

# -- the heatmap's colour bar and the small charts' titles ----------------------------------------------------------


def _catalog():
    import csv

    import polars as pl

    from pipelines.settings import DBT_PROJECT_DIR

    with open(DBT_PROJECT_DIR / "seeds" / "indicator_catalog.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    latest = max(r["catalog_version"] for r in rows)
    rows = [r for r in rows if r["catalog_version"] == latest]
    return pl.DataFrame({k: [r[k] for r in rows] for k in ("indicator_code", "name_zh", "name_en", "unit")})


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_colour_bar_says_what_it_measures_and_in_what_unit(lang):
    """The comparison's heatmap had a colour bar of −50…50 titled "Difference from average": no unit (points of
    a 0–100 score), and its hover named the city by its code."""
    import polars as pl

    from dashboards.figures import strength_heatmap
    from dashboards.i18n import t

    catalog = _catalog().head(3)
    codes = catalog["indicator_code"].to_list()
    matrix = pl.DataFrame({"unit_code": ["440300"] * 3, "indicator_code": codes, "diff": [12.5, -40.0, None]})
    units = pl.DataFrame({"unit_code": ["440300"], "unit_name": ["深圳市"], "unit_name_en": ["Shenzhen"]})
    fig = strength_heatmap(matrix, units, catalog, ["440300"], lang)
    bars = [tr for tr in fig.data if getattr(tr, "colorbar", None) is not None and tr.showscale is not False]
    assert bars
    for tr in bars:
        title = (tr.colorbar.title.text or "").replace("<br>", "")  # wrapped to the bar's width
        assert ("（分）" if lang == "zh" else "(points)") in title, title
        assert t("points_short", lang) in tr.hovertemplate
        assert "%{y}" not in tr.hovertemplate  # the city by name, not by code
        assert {c for row in tr.customdata for c in row} == {"深圳市" if lang == "zh" else "Shenzhen"}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_small_chart_title_line_is_wider_than_its_panel(lang):
    """profile en at 1366 px: "UTL02 Enterprises served by pledge financing per million pe" ran past the figure's
    right edge. Every indicator of the catalog, in both languages: each title line fits a panel."""
    import polars as pl

    from dashboards.figures import PANEL_TITLE_PX, _label_px, indicator_small_multiples

    catalog = _catalog()
    values = pl.DataFrame(
        {"indicator_code": catalog["indicator_code"].to_list(), "year": [2025] * catalog.height}
    ).with_columns(value=pl.lit(1.0), raw_value=pl.lit(1.0))
    fig = indicator_small_multiples(values, None, catalog, lang)
    lines = [line for a in fig.layout.annotations for line in a.text.split("<br>")]
    assert len(lines) >= catalog.height
    wide = [line for line in lines if _label_px(line) > PANEL_TITLE_PX]
    assert not wide, wide


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_column_of_times_never_splits_the_zones_name(lang):
    """nat_1920_zh_alerts (and the quality page's runs): "2026-12-05 20:43 北京时/间", the zone's name broken
    across lines in a wrapped cell. A column whose cells are all times gets the class that wraps between words."""
    from datetime import datetime

    import polars as pl
    from dashboard_fixtures import alert_row

    from dashboards.components import KEEP_WORDS_CLASS, grid_columns
    from dashboards.pages.alerts import alert_rows, columns
    from pipelines.china_time import china_time_text
    from pipelines.settings import PROJECT_ROOT

    row = alert_row()
    rows = alert_rows(pl.DataFrame([row]), lang)
    cols = {c["field"]: c for c in grid_columns(columns(lang), rows)}
    for f in ("since", "resolved_at"):
        assert KEEP_WORDS_CLASS in cols[f].get("cellClass", ""), (f, cols[f])
    assert KEEP_WORDS_CLASS not in cols["title"].get("cellClass", "")
    # any grid's column of times, from the formatter every grid uses
    times = [{"t": china_time_text(datetime(2026, 12, 5, 6, 20), lang)}, {"t": None}]
    assert KEEP_WORDS_CLASS in grid_columns([{"field": "t", "headerName": "t"}], times)[0]["cellClass"]
    css = (PROJECT_ROOT / "dashboards" / "assets" / "style.css").read_text(encoding="utf-8")
    assert f".{KEEP_WORDS_CLASS}" in css and "keep-all" in css.split(f".{KEEP_WORDS_CLASS}", 1)[1].split("}")[0]


def test_a_provincial_offices_overview_counts_the_flagged_cities_its_watchlist_lists(sample_snapshot):
    """gd_1920_zh_overview: a provincial office read "2 退出候选城市" on the overview and then a watchlist of its own
    province with none (the stage of another province's city is not published to it, the count told it anyway)."""
    import polars as pl

    from dashboards import queries
    from dashboards.i18n import t
    from dashboards.pages.overview import headline_cards
    from dashboards.snapshot import Snapshot

    snap = Snapshot(sample_snapshot.snapshot)
    try:
        year = max(queries.years(snap))
        listed = queries.watchlist(snap, year)
        nation = queries.overview_headlines(snap, year)
        # the watchlist's rows as a provincial office sees them: its province's units (access.only_visible)
        listed = listed.with_columns(province=pl.col("unit_code").str.slice(0, 2) + "0000")
        provinces = sorted(set(listed["province"].to_list())) + ["650000"]
        for code in provinces:
            own = listed.filter(pl.col("province") == code)
            got = queries.overview_headlines(snap, year, frozenset({code}))
            assert got["exit_candidates"] == int((own["stage"] == "exit_candidate").sum()), code
            assert got["on_watch"] == int(own["stage"].is_in(["watch", "rectification"]).sum()), code
            assert got["programme_units"] == nation["programme_units"]  # the rest stays national
        assert nation["exit_candidates"] == int((listed["stage"] == "exit_candidate").sum())
    finally:
        snap.close()
    cards = headline_cards({**nation, "first_year": False}, "zh", own_province=True)
    titles = [c.children[1].children for c in cards]
    assert t("ov_exit_own", "zh") in titles and t("ov_exit", "zh") not in titles
