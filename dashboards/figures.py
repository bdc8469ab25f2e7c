"""Pure figure builders: polars frames in, Plotly figures out. No snapshot access here."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import polars as pl

from .i18n import GROUPS, PILLAR_COLUMNS, PILLAR_NAMES, label, name_col, t
from .theme import (
    DIVERGING,
    GROUP_COLORS,
    GROUP_ORDER,
    NON_PROGRAMME_COLOR,
    OKABE_ITO,
    SERIES,
    base_layout,
    empty_figure,
)


def _fmt(v, digits: int = 1) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def city_map(points: pl.DataFrame, lang: str) -> go.Figure:
    """City points at their coordinates on plain lng/lat axes (no tiles, no boundary layer: works offline)."""
    name = name_col(lang)
    fig = go.Figure()
    others = points.filter(pl.col("group").is_null())
    if others.height:
        fig.add_trace(
            go.Scatter(
                x=others["lng"].to_list(),
                y=others["lat"].to_list(),
                mode="markers",
                name=t("non_programme", lang),
                marker={"size": 6, "color": NON_PROGRAMME_COLOR},
                text=others[name].to_list(),
                hovertemplate="%{text}<extra></extra>",
            )
        )
    for group in GROUP_ORDER:
        g = points.filter(pl.col("group") == group)
        if not g.height:
            continue
        fig.add_trace(
            go.Scatter(
                x=g["lng"].to_list(),
                y=g["lat"].to_list(),
                mode="markers",
                name=label(GROUPS, group, lang),
                marker={"size": 12, "color": GROUP_COLORS[group], "line": {"width": 1, "color": "white"}},
                text=g[name].to_list(),
                customdata=g.select("composite_index", "rank").rows(),
                hovertemplate="%{text}<br>"
                + t("composite_index", lang)
                + " %{customdata[0]:.1f}<br>"
                + t("rank", lang)
                + " %{customdata[1]}<extra></extra>",
            )
        )
    fig.update_xaxes(title=t("lng", lang), range=[73, 136], constrain="domain")
    # Equal degrees on both axes keeps the country's shape recognisable without a projection.
    fig.update_yaxes(title=t("lat", lang), range=[17, 54], scaleanchor="x", scaleratio=1.15, constrain="domain")
    base_layout(fig, t("ov_map_title", lang), height=520)
    fig.update_layout(legend={"orientation": "h", "y": -0.15})
    return fig


def composite_histogram(dist: pl.DataFrame, lang: str) -> go.Figure:
    if not dist.height:
        return empty_figure(t("not_available", lang))
    fig = go.Figure()
    for group in GROUP_ORDER:
        g = dist.filter(pl.col("performance_group") == group)
        if g.height:
            fig.add_trace(
                go.Histogram(
                    x=g["composite_index"].to_list(),
                    name=label(GROUPS, group, lang),
                    marker_color=GROUP_COLORS[group],
                    xbins={"size": 5},
                )
            )
    fig.update_layout(barmode="stack")
    fig.add_vline(x=100, line_dash="dash", line_color=OKABE_ITO["black"])
    fig.update_xaxes(title=t("composite_index", lang))
    fig.update_yaxes(title=t("units_count", lang))
    return base_layout(fig, t("ov_dist_title", lang), height=400)


def movers_bar(movers: pl.DataFrame, lang: str) -> go.Figure:
    if not movers.height:
        return empty_figure(t("not_available", lang))
    name = name_col(lang)
    colors = [OKABE_ITO["blue"] if v > 0 else OKABE_ITO["vermillion"] for v in movers["rank_change"].to_list()]
    # Categories are unit codes, labelled with names: two units with one name must not share a bar.
    codes = movers["unit_code"].to_list()
    fig = go.Figure(
        go.Bar(
            x=movers["rank_change"].to_list(),
            y=codes,
            orientation="h",
            marker_color=colors,
            customdata=movers.select(name, "rank").rows(),
            hovertemplate="%{customdata[0]}: %{x:+d}<br>" + t("rank", lang) + " %{customdata[1]}<extra></extra>",
        )
    )
    fig.update_xaxes(title=t("rank_change", lang))
    fig.update_yaxes(
        automargin=True, type="category", tickmode="array", tickvals=codes, ticktext=movers[name].to_list()
    )
    return base_layout(fig, t("ov_movers_title", lang), height=max(360, 28 * movers.height + 100))


def pillar_radar(pillars: pl.DataFrame, lang: str) -> go.Figure:
    theta = [label(PILLAR_NAMES, p, lang) for p in PILLAR_COLUMNS]
    cols = list(PILLAR_COLUMNS.values())
    name = name_col(lang)
    fig = go.Figure()
    k = 0
    for row in pillars.iter_rows(named=True):
        values = [row[c] for c in cols]
        if row["unit_code"] is None:
            fig.add_trace(
                go.Scatterpolar(
                    r=values + values[:1],
                    theta=theta + theta[:1],
                    name=t("programme_avg", lang),
                    line={"color": OKABE_ITO["black"], "dash": "dash"},
                )
            )
        else:
            fig.add_trace(
                go.Scatterpolar(
                    r=values + values[:1],
                    theta=theta + theta[:1],
                    name=row[name],
                    line={"color": SERIES[k % len(SERIES)], "width": 3},
                )
            )
            k += 1
    fig.update_layout(polar={"radialaxis": {"range": [0, 100]}})
    return base_layout(fig, t("cmp_radar", lang), height=460)


def trend_lines(trend: pl.DataFrame, unit_codes: list[str], lang: str, title: str) -> go.Figure:
    if not trend.height:
        return empty_figure(t("not_available", lang))
    name = name_col(lang)
    fig = go.Figure()
    for k, code in enumerate(unit_codes):
        u = trend.filter(pl.col("unit_code") == code)
        if not u.height:
            continue
        fig.add_trace(
            go.Scatter(
                x=u["year"].to_list(),
                y=u["value"].to_list(),
                mode="lines+markers",
                name=u[name][0],
                line={"color": SERIES[k % len(SERIES)], "width": 3},
            )
        )
    fig.update_xaxes(title=t("year", lang), dtick=1)
    fig.update_yaxes(title=t("value", lang))
    return base_layout(fig, title, height=420)


def strength_heatmap(
    matrix: pl.DataFrame, units: pl.DataFrame, catalog: pl.DataFrame, unit_codes: list[str], lang: str
) -> go.Figure:
    if not matrix.height:
        return empty_figure(t("not_available", lang))
    name = name_col(lang)
    ind_col = "name_en" if lang == "en" else "name_zh"
    codes = catalog["indicator_code"].to_list()
    ind_names = dict(zip(codes, catalog[ind_col].to_list()))
    unit_names = dict(zip(units["unit_code"].to_list(), units[name].to_list()))
    lookup = {(r[0], r[1]): r[2] for r in matrix.iter_rows()}
    z = [[lookup.get((u, c)) for c in codes] for u in unit_codes]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"{c} {ind_names.get(c, '')}" for c in codes],
            y=unit_codes,
            colorscale=DIVERGING,
            zmid=0,
            zmin=-40,
            zmax=40,
            colorbar={"title": {"text": t("diff_vs_avg", lang)}},
            hovertemplate="%{y}<br>%{x}<br>%{z:+.1f}<extra></extra>",
        )
    )
    fig.update_xaxes(tickangle=-40, automargin=True)
    fig.update_yaxes(
        automargin=True,
        autorange="reversed",
        type="category",
        tickmode="array",
        tickvals=unit_codes,
        ticktext=[unit_names.get(u, u) for u in unit_codes],
    )
    # The rotated indicator names take ~250 px below the cells; the cells need room of their own.
    return base_layout(fig, t("cmp_sw", lang), height=420 + 50 * len(unit_codes))


def indicator_small_multiples(
    values: pl.DataFrame, targets: pl.DataFrame | None, catalog: pl.DataFrame, lang: str, cols: int = 4
) -> go.Figure:
    """Every indicator's yearly value; plan targets as dashed lines from baseline to target.

    The grid of axes is laid out by hand: make_subplots + add_trace(row, col) costs ~200 ms for 19 panels,
    building the dicts once costs a tenth of that.
    """
    if not values.height:
        return empty_figure(t("not_available", lang))
    ind_col = "name_en" if lang == "en" else "name_zh"
    codes = catalog["indicator_code"].to_list()
    names = dict(zip(codes, catalog[ind_col].to_list()))
    units = dict(zip(codes, catalog["unit"].to_list())) if "unit" in catalog.columns else {}
    rows = math.ceil(len(codes) / cols)
    hgap, vgap = 0.06, 0.5 / rows
    width, height = (1 - hgap * (cols - 1)) / cols, (1 - vgap * (rows - 1)) / rows
    by_code = {k[0]: g for k, g in values.group_by("indicator_code")}
    target_by_code = (
        {k[0]: g for k, g in targets.group_by("indicator_code")} if targets is not None and targets.height else {}
    )
    traces, annotations, layout = [], [], {}
    shown_target = False
    for i, code in enumerate(codes):
        r, c = divmod(i, cols)
        suffix = "" if i == 0 else str(i + 1)
        x0 = c * (width + hgap)
        y1 = 1 - r * (height + vgap)
        layout[f"xaxis{suffix}"] = {
            "domain": [x0, x0 + width],
            "anchor": f"y{suffix}",
            "dtick": 2,
            "tickfont": {"size": 11},
            "gridcolor": "#e5e7eb",
        }
        layout[f"yaxis{suffix}"] = {
            "domain": [y1 - height, y1],
            "anchor": f"x{suffix}",
            "tickfont": {"size": 11},
            "gridcolor": "#e5e7eb",
        }
        title = f"{code} {names[code]}" + (f" ({units[code]})" if units.get(code) else "")
        annotations.append(
            {
                "text": title,
                "x": x0 + width / 2,
                "y": y1,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 12},
            }
        )
        v = by_code.get(code)
        if v is not None:
            v = v.sort("year")
            traces.append(
                {
                    "type": "scatter",
                    "x": v["year"].to_list(),
                    "y": v["value"].to_list(),
                    "mode": "lines+markers",
                    "line": {"color": OKABE_ITO["blue"], "width": 2.5},
                    "name": t("value", lang),
                    "showlegend": i == 0,
                    "legendgroup": "value",
                    "xaxis": f"x{suffix}",
                    "yaxis": f"y{suffix}",
                }
            )
        tg = target_by_code.get(code)
        for tr in tg.iter_rows(named=True) if tg is not None else []:
            traces.append(
                {
                    "type": "scatter",
                    "x": [tr["baseline_year"], tr["target_year"]],
                    "y": [tr["baseline_value"], tr["target_value"]],
                    "mode": "lines+markers",
                    "line": {"color": OKABE_ITO["vermillion"], "dash": "dash", "width": 2},
                    "marker": {"symbol": ["circle-open", "star"], "size": [6, 11]},
                    "name": t("target", lang),
                    "showlegend": not shown_target,
                    "legendgroup": "target",
                    "xaxis": f"x{suffix}",
                    "yaxis": f"y{suffix}",
                }
            )
            shown_target = True
    fig = go.Figure(data=traces, layout={**layout, "annotations": annotations})
    base_layout(fig, height=260 * rows)
    fig.update_layout(margin={"t": 40}, legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"})
    return fig


def stage_timeline(stages: pl.DataFrame, lang: str) -> go.Figure:
    from .i18n import STAGES
    from .theme import STAGE_COLORS

    if stages is None or not stages.height:
        return empty_figure(t("not_available", lang))
    s = stages.sort("year")
    order = ["exemplary", "normal", "watch", "rectification", "exit_candidate", "withdrawn"]
    fig = go.Figure(
        go.Scatter(
            x=s["year"].to_list(),
            y=[label(STAGES, v, lang) for v in s["stage"].to_list()],
            mode="lines+markers",
            marker={
                "size": 16,
                "color": [STAGE_COLORS.get(v, "#888") for v in s["stage"].to_list()],
                "symbol": ["circle" if r else "circle-open" for r in s["is_robust"].fill_null(True).to_list()],
                "line": {"width": 3, "color": [STAGE_COLORS.get(v, "#888") for v in s["stage"].to_list()]},
            },
            line={"color": "#9ca3af"},
            text=s["rules_fired"].fill_null("").to_list(),
            hovertemplate="%{x}: %{y}<br>%{text}<extra></extra>",
        )
    )
    fig.update_yaxes(categoryorder="array", categoryarray=[label(STAGES, v, lang) for v in order][::-1])
    fig.update_xaxes(dtick=1, title=t("year", lang))
    return base_layout(fig, t("pf_stages", lang), height=340)
