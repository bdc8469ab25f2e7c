"""Attacks of the eighth review (branch h_access8: "provinces with their own access"), tried against the real parts:
the figure builders, the stores on disk, the app over HTTP. Each section says what was wrong; each of its tests
failed before its fix (the layout test of section 3 is a guard: nothing to fix, shown to stay so)."""

from __future__ import annotations

import re

import polars as pl
import pytest

from dashboards import figures

# ---- 1. no data text becomes Plotly markup ----------------------------------------------------------------------------
# Plotly renders a subset of HTML in every text it draws (titles, annotations, tick labels, hover text): <a href>,
# <b>, <i>, <span style>, <br>. The indicator catalog's names and units reached a panel's annotation, the heatmap's
# tick labels, the trend chart's title and axis title and the hover text as they were: a name holding
# '<a href="https://…">' was drawn as a link on the profile and the comparison pages.
HOSTILE = '<a href="https://evil.example/">x</a><b style="font-size:99px">y</b>&<br>'
_TAG = re.compile(r"<[^<>]*>")
MARKUP = {"<br>", "<extra>", "</extra>"}  # the figures' own markup; nothing else may reach Plotly as a tag


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list | tuple):
        for v in node:
            yield from _strings(v)


def _assert_no_markup_from_data(fig) -> None:
    texts = list(_strings(fig.to_plotly_json()))
    tags = {tag for s in texts for tag in _TAG.findall(s)} - MARKUP
    assert not tags, sorted(tags)
    assert any("&lt;a href" in s for s in texts), "the hostile text is shown (escaped), not dropped"


def _catalog(n: int = 3) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "indicator_code": [f"I{k:02d}" for k in range(1, n + 1)],
            "name_zh": [f"指标{k}{HOSTILE}" for k in range(1, n + 1)],
            "name_en": [f"Indicator {k} {HOSTILE}" for k in range(1, n + 1)],
            "unit": [f"件{HOSTILE}"] * n,
        }
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_indicator_names_and_units_never_become_plotly_markup(lang):
    catalog = _catalog()
    codes = catalog["indicator_code"].to_list()
    values = pl.DataFrame(
        {"indicator_code": codes * 2, "year": [2024] * 3 + [2025] * 3, "value": [1.0, 2.0, 3.0, 1.5, 2.5, 3.5]}
    )
    _assert_no_markup_from_data(figures.indicator_small_multiples(values, None, catalog, lang))

    units = pl.DataFrame(
        {"unit_code": ["440100", "440300"], "unit_name": [f"广州{HOSTILE}", "深圳"], "unit_name_en": ["Guangzhou", "S"]}
    )
    matrix = pl.DataFrame(
        {"unit_code": ["440100", "440300"] * 3, "indicator_code": [c for c in codes for _ in (0, 1)], "v": [1.0] * 6}
    )
    _assert_no_markup_from_data(figures.strength_heatmap(matrix, units, catalog, ["440100", "440300"], lang))

    trend = pl.DataFrame(
        {
            "unit_code": ["440100", "440300"] * 2,
            "year": [2024, 2024, 2025, 2025],
            "value": [1.0, 2.0, 1.5, 2.5],
            "unit_name": [f"广州{HOSTILE}", "深圳"] * 2,
            "unit_name_en": [f"Guangzhou{HOSTILE}", "Shenzhen"] * 2,
        }
    )
    name = catalog["name_en" if lang == "en" else "name_zh"][0]
    fig = figures.trend_lines(trend, ["440100", "440300"], lang, f"I01 {name}", unit=catalog["unit"][0], name=name)
    _assert_no_markup_from_data(fig)
