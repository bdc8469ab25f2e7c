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
        title = tr.colorbar.title.text or ""
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
