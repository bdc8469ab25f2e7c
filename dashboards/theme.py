"""One theme for every chart: Okabe-Ito colours (safe for colour-blind viewers) and projector-sized type."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

from pipelines.labels import label_set

# Okabe & Ito (2008) palette.
OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}
# The performance groups (the development stages 领先 … 起步) in the labels seed's sort_order, the one order every
# legend, colour key and option list runs in: a copy written here could drift from the seed
GROUP_ORDER = list(label_set("performance_group"))
# Four groups told apart by hue AND lightness under the common colour-vision deficiencies (orange next to
# vermillion was not): dark blue, bluish green, orange, reddish purple.
GROUP_COLORS = {
    "leader": OKABE_ITO["blue"],
    "strong": OKABE_ITO["bluish_green"],
    "moderate": OKABE_ITO["orange"],
    "emerging": OKABE_ITO["reddish_purple"],
}
NON_PROGRAMME_COLOR = "#B8B8B8"
STAGE_COLORS = {
    "normal": OKABE_ITO["bluish_green"],
    "exemplary": OKABE_ITO["blue"],
    "watch": OKABE_ITO["orange"],
    "rectification": OKABE_ITO["vermillion"],
    "exit_candidate": OKABE_ITO["reddish_purple"],
    "withdrawn": OKABE_ITO["black"],
}
# Series colours for up to six compared cities plus the average (black, dashed).
SERIES = [OKABE_ITO[k] for k in ("blue", "orange", "bluish_green", "vermillion", "reddish_purple", "sky_blue")]
DIVERGING = "PuOr"  # readable for the common colour-vision deficiencies, unlike red-green

FONT_FAMILY = "'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', 'Microsoft YaHei', 'PingFang SC', sans-serif"


# Plotly separates thousands from five digits on by itself; forced on for four digits too, a year axis read
# "2,016 2,017" (the profile's stage history)
FULL_NUMBERS = {"exponentformat": "none"}

# The app's own Plotly template, the default for every figure. Plotly's default template ("plotly") is ~7 KB of
# JSON copied into every figure and validated each time (~15 ms of a figure's ~20 ms build); this one holds only
# what the charts use, so a figure is ~1 KB lighter per chart and ~4× faster to build (issue 15's load goal).
TEMPLATE_NAME = "ipcity"
pio.templates[TEMPLATE_NAME] = go.layout.Template(
    layout={
        "font": {"family": FONT_FAMILY, "size": 15, "color": "#1f2933"},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "colorway": SERIES,
        # Every legend lists its series in the order they were added (GROUP_ORDER for the groups): Plotly lists a
        # stacked bar chart's legend reversed by default, so the distribution's ran 起步 → 领先 beside the map's
        # 领先 → 起步 on one page
        "legend": {"font": {"size": 14}, "traceorder": "normal"},
        "hoverlabel": {"font": {"family": FONT_FAMILY, "size": 14}},
        # whole numbers (200,000) on every axis: Plotly's default ticks read "200k", "1.5M" (an
        # English abbreviation a Chinese reader takes for a unit; 万 and 亿 are what they count in)
        "xaxis": {"gridcolor": "#e5e7eb", "zerolinecolor": "#9ca3af", "automargin": True, **FULL_NUMBERS},
        "yaxis": {"gridcolor": "#e5e7eb", "zerolinecolor": "#9ca3af", "automargin": True, **FULL_NUMBERS},
    }
)
pio.templates.default = TEMPLATE_NAME


# A figure's title sits below the band Plotly's mode bar (camera, zoom, …; ~28 px at the top right) takes, so a
# long title ("Composite index distribution (programme average = 100)") is never drawn under its icons.
MODEBAR_PX = 34
TITLE_SIZE = 20
TITLE_MARGIN_PX = MODEBAR_PX + TITLE_SIZE + 22


# A value axis (an indicator, the composite index) starts at zero: fitted to its data, a case-closure rate from 82 %
# to 87 % filled its panel like a doubling, and nothing said the axis began at 80. Ranks and categories excepted.
VALUE_AXIS = {"rangemode": "tozero"}


def title_layout(title: str) -> dict:
    """The title of every figure: left, in the top margin, under the mode bar's band (pure)."""
    return {
        "text": title,
        "x": 0.01,
        "xanchor": "left",
        "yref": "container",
        "y": 1,
        "yanchor": "top",
        "pad": {"t": MODEBAR_PX},
        "font": {"size": TITLE_SIZE},
    }


def base_layout(fig: go.Figure, title: str | None = None, height: int = 440) -> go.Figure:
    # Fonts, colours and grids come from the template; one update_layout call for the per-figure parts
    # (update_xaxes/update_yaxes walk every axis with selectors and cost ~30 ms per figure).
    fig.update_layout(
        title=title_layout(title) if title else None,
        height=height,
        margin={"l": 60, "r": 20, "t": TITLE_MARGIN_PX if title else 20, "b": 50},
    )
    return fig


def figure(traces: list[dict], title: str | None = None, height: int = 440, **layout) -> go.Figure:
    """A themed figure built in one construction from plain trace and layout dicts: one validation pass, where
    add_trace + update_layout + update_xaxes/yaxes each walk Plotly's object tree again (the compare page's
    figures, built for every new choice of cities: ~27 → ~6 ms each, the same JSON)."""
    full = {
        **({"title": title_layout(title)} if title else {}),
        "height": height,
        "margin": {"l": 60, "r": 20, "t": TITLE_MARGIN_PX if title else 20, "b": 50},
        **layout,
    }
    return go.Figure(data=traces, layout=full)


def empty_figure(message: str, height: int = 300) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font={"size": 18}, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return base_layout(fig, height=height)
