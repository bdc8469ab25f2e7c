"""Every legend of the performance groups (the development stages 领先 … 起步) runs in one order: the labels seed's
sort_order. The overview's distribution listed 起步 → 领先 (Plotly reverses a stacked bar chart's legend by default)
beside the map's 领先 → 起步.

Pure: the figures are built from small frames, and the order a browser shows is worked out from the figure as
Plotly.js does it (traceorder, else the template's, else "reversed" for stacked bars; choropleths have no entry of
their own unless asked).
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import pytest

from pipelines.labels import load_labels

LEGEND_DEFAULT_HIDDEN = {"choropleth"}  # Plotly.js: showlegend defaults to false for these


def seed_order() -> list[str]:
    """The performance groups by the labels seed's sort_order, read from the seed here (not from the code)."""
    groups = [lab for lab in load_labels().values() if "performance_group" in lab.label_sets]
    return [lab.code for lab in sorted(groups, key=lambda lab: lab.sort_order)]


def shown_legend(fig: go.Figure) -> list[str]:
    """The legend's entries top to bottom (left to right when horizontal), as Plotly.js lays them out."""
    order = fig.layout.legend.traceorder or fig.layout.template.layout.legend.traceorder
    if order is None:
        stacked = fig.layout.barmode == "stack" and any(tr.type in ("bar", "histogram") for tr in fig.data)
        order = "reversed" if stacked else "normal"
    names = [
        tr.name
        for tr in fig.data
        if tr.name and (tr.showlegend if tr.showlegend is not None else tr.type not in LEGEND_DEFAULT_HIDDEN)
    ]
    return names[::-1] if "reversed" in order else names


def _points() -> pl.DataFrame:
    groups = seed_order()
    n = len(groups)
    return pl.DataFrame(
        {
            "unit_code": [f"44{i:02d}00" for i in range(1, n + 1)],
            "unit_name": [f"城市{i}" for i in range(n)],
            "unit_name_en": [f"City {i}" for i in range(n)],
            "province_code": ["440000"] * n,
            "province_name": ["广东省"] * n,
            "lng": [113.0] * n,
            "lat": [23.0] * n,
            "composite_index": [50.0, 80.0, 110.0, 130.0][-n:],
            "rank": list(range(1, n + 1)),
            "rank_is_shared": [False] * n,
            "is_ranked": [True] * n,
            # listed lowest first, so no figure gets the seed's order from its data's
            "group": groups[::-1],
        }
    )


def _group_legends(lang: str) -> dict[str, list[str]]:
    from dashboards import figures
    from dashboards.i18n import GROUPS, label

    pts = _points()
    dist = pts.select("unit_code", "unit_name", "unit_name_en", "composite_index", performance_group="group")
    names = {label(GROUPS, g, lang) for g in seed_order()}
    legends = {
        "map": figures.city_map(pts, lang, "group", year=2025),
        "histogram": figures.composite_histogram(dist, lang, 2025),
    }
    return {k: [n for n in shown_legend(fig) if n in names] for k, fig in legends.items()}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_group_legend_runs_in_the_seed_s_order(lang):
    from dashboards.i18n import GROUPS, label

    expected = [label(GROUPS, g, lang) for g in seed_order()]
    legends = _group_legends(lang)
    for name, shown in legends.items():
        assert shown == expected, f"{name}: {shown} (the labels seed's sort_order: {expected})"


def test_the_group_orders_the_code_lists_are_the_seed_s():
    """The order the legends, the PDF report's colour key and the option lists iterate in is read from the seed."""
    from dashboards.theme import GROUP_COLORS, GROUP_ORDER
    from pipelines.scenarios import GROUPS as SCENARIO_GROUPS

    assert list(GROUP_ORDER) == seed_order()
    assert list(SCENARIO_GROUPS) == seed_order()
    assert set(GROUP_COLORS) == set(seed_order())


def stack_order(fig: go.Figure) -> list[str]:
    """A stacked bar chart's series as the eye reads the stack: top to bottom for upright bars (Plotly stacks the
    first trace at the bottom), left to right for lying ones."""
    names = [tr.name for tr in fig.data if tr.name]
    lying = all(getattr(tr, "orientation", None) == "h" for tr in fig.data)
    return names if lying else names[::-1]


def _stacked_charts(lang: str) -> dict[str, go.Figure]:
    from dashboards import figures
    from dashboards.pages.targets import BUCKET_ORDER, plan_figure

    pts = _points()
    dist = pts.select("unit_code", "unit_name", "unit_name_en", "composite_index", performance_group="group")
    plans = pl.DataFrame(
        {"plan_id": ["p1", "p2"], "targets": [4, 2]}
        | {f"pct_{b}": [25.0, 50.0] for b in BUCKET_ORDER}
        | {f"n_{b}": [1, 1] for b in BUCKET_ORDER}
    )
    return {"histogram": figures.composite_histogram(dist, lang, 2025), "targets_by_plan": plan_figure(plans, lang)}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_stacked_chart_s_legend_runs_as_its_stack(lang):
    """zh_1366_overview: the distribution's legend listed 领先 first while 领先 was the bottom of every bar. The top
    (left) of each stacked chart's legend is the top (left) of its stack; the groups' stack is the seed's order."""
    from dashboards.i18n import GROUPS, label

    for name, fig in _stacked_charts(lang).items():
        assert shown_legend(fig) == stack_order(fig), name
    hist = _stacked_charts(lang)["histogram"]
    assert stack_order(hist) == [label(GROUPS, g, lang) for g in seed_order()]


def test_a_stacked_chart_s_legend_is_not_reversed_by_default():
    """The template's default: a legend lists the series as they were added (a chart whose stack reads the other way
    says so itself, as the distribution does: test_a_stacked_chart_s_legend_runs_as_its_stack)."""
    from dashboards.theme import base_layout

    fig = go.Figure([go.Bar(x=[1], y=[1], name=n) for n in ("a", "b", "c")])
    fig.update_layout(barmode="stack")
    assert shown_legend(base_layout(fig, "t")) == ["a", "b", "c"]
