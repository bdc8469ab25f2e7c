"""A value and the unit shown beside it agree everywhere: a share shown as 67.3 carries the unit %, never the
catalog's 比率 (a fraction). One rendering of a unit beside a shown value: formatting.unit_label.

Pure functions behind the callbacks over small frames and the real indicator catalog seed: no snapshot, no browser."""

from __future__ import annotations

import csv

import polars as pl
import pytest

from dashboards import provenance
from dashboards.formatting import display_scale, unit_label
from dashboards.indicator_download import EXTRACT_HEADERS as H
from dashboards.pages import downloads, profile
from pipelines import settings


def _catalog_units() -> list[str]:
    with open(settings.DBT_PROJECT_DIR / "seeds" / "indicator_catalog.csv", encoding="utf-8") as f:
        return sorted({r["unit"] for r in csv.DictReader(f)})


UNITS = _catalog_units()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_download_preview_unit_cell_is_the_unit_of_the_shown_value(lang):
    """The preview showed 比率 beside a share shown as 67.3%: every unit of the catalog now reads as the value
    beside it is shown (a share scaled to per cent has unit %), and the value formatter adds no unit of its own."""
    n = len(UNITS)
    df = pl.DataFrame(
        {
            H["indicator_code"]: [f"X{i:02d}" for i in range(n)],
            H["unit"]: UNITS,
            H["raw_value"]: [0.6731] * n,
            H["value"]: [0.6731] * n,
            H["normalised_score"]: [48.43] * n,
        }
    )
    rows = downloads.preview_rows(df, lang)
    for row, unit in zip(rows, UNITS, strict=True):
        assert row[H["unit"]] == unit_label(unit, lang), unit
        # the unit cell is % exactly when the value is scaled to per cent
        assert (row[H["unit"]] == "%") == (row["_scale"] == 100.0 == display_scale(unit)), unit
    assert "比率" not in {r[H["unit"]] for r in rows}
    # one place says the unit: the formatter's text is the number only
    assert "%" not in downloads.VALUE_FORMAT["valueFormatter"]["function"].replace("params", "")


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("unit", UNITS)
def test_provenance_panel_value_reads_as_the_clicked_cell(unit, lang):
    """A click on a profile value cell reading 67.3% opened a panel saying 0.6731: the panel's value is now the
    cell's text (value and unit alike), for every unit of the catalog."""
    value = 0.6731
    cell = profile.value_rows(
        pl.DataFrame({"year": [2024], "indicator_code": ["X01"], "value": [value], "normalised_score": [48.4]}),
        pl.DataFrame({"indicator_code": ["X01"], "name_zh": ["某指标"], "name_en": ["Some indicator"], "unit": [unit]}),
        lang,
    )[0]["value_text"]
    p = {
        "unit_code": "510700",
        "year": 2024,
        "computed_in": 2024,
        "indicator": {
            "indicator_code": "X01",
            "name_zh": "某指标",
            "name_en": "Some indicator",
            "formula": "a / b",
            "unit": unit,
        },
        "value": {"value": value, "raw_value": value, "normalised_score": 48.4, "is_imputed": False},
        "inputs": None,
        "source_rows": pl.DataFrame(),
    }
    text = str(provenance.provenance_view(p, lang).to_plotly_json())
    assert cell in text, (cell, text[:400])
    if display_scale(unit) == 100:
        assert "0.6731" not in text.split("prov-formula")[0]


# 80.05 is 80.04999… in binary: d3's / Python's .1f read 80.0, the published figure (half up in exact decimals,
# pipelines.labels.published_index) is 80.1; 89.96 is published as 90.0.
EDGE = [80.05, 89.96, 100.25, 64.35]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_flag_history_hover_shows_the_published_index(lang):
    """The flag page's chip said 综合指数 80.1 while its history chart's hover (d3 %{y:.1f} of the unrounded index)
    said 80.0: the hover is now the published figure, index_text, and the line sits on it."""
    from dashboards.pages import flag
    from pipelines.labels import index_text, published_index

    h = pl.DataFrame(
        {
            "year": [2021, 2022, 2023, 2024],
            "composite_index": EDGE,
            "rank": [3, 3, 5, 6],
            "n_ranked": [40] * 4,
            "p05_rank": [None] * 4,
            "p95_rank": [None] * 4,
        },
        schema_overrides={"p05_rank": pl.Int64, "p95_rank": pl.Int64},
    )
    fig = flag.history_figure(h, lang)
    trace = next(tr for tr in fig.data if list(tr.y) and float(tr.y[0]) > 50)
    assert list(trace.y) == [published_index(v) for v in EDGE]
    assert "%{y" not in trace.hovertemplate  # no second rounding in the browser
    assert list(trace.customdata) == [index_text(v) for v in EDGE] == ["80.1", "90.0", "100.3", "64.4"]


def test_index_histogram_bins_the_published_index():
    """A city published as 90.0 (in the group from 90) stood in the histogram's bar below 90."""
    from dashboards.figures import composite_histogram
    from pipelines.labels import performance_group, published_index

    dist = pl.DataFrame({"composite_index": EDGE, "performance_group": [performance_group(v) for v in EDGE]})
    xs = sorted(x for tr in composite_histogram(dist, "zh").data for x in tr.x)
    assert xs == sorted(published_index(v) for v in EDGE)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_profile_legend_sits_above_the_wrapped_panel_titles(lang):
    """At 1366 px in English the first row's titles wrap to three lines and ran under the legend (placed just above
    the panels): the legend's bottom is now above the tallest title of the first row, in pixels of the figure."""
    from dashboards.figures import indicator_small_multiples

    codes = ["ENV01", "ENV02", "ENV03", "MGT01", "QLT01"]
    long_en = "Officials and school participants in IP training per 10k people in the year"
    catalog = pl.DataFrame(
        {
            "indicator_code": codes,
            "name_zh": ["每万人口知识产权培训人次"] * 5,
            "name_en": [long_en] * 5,
            "unit": ["人次/万人"] * 5,
        }
    )
    values = pl.DataFrame({"unit_code": "420500", "indicator_code": codes, "year": [2024] * 5, "value": [1.0] * 5})
    fig = indicator_small_multiples(values, None, catalog, lang)
    height, top, bottom = fig.layout.height, fig.layout.margin.t, fig.layout.margin.b
    plot_px = height - top - bottom
    first_row = [a for a in fig.layout.annotations if a.y == 1]
    lines = max(a.text.count("<br>") + 1 for a in first_row)
    assert lang == "zh" or lines >= 3  # the case that overlapped
    legend_bottom_px = (fig.layout.legend.y - 1) * plot_px
    assert legend_bottom_px >= 14 * lines, (legend_bottom_px, lines)
    assert top >= legend_bottom_px + 20  # and the legend itself fits in the top margin
