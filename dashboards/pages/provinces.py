"""省级汇总 Provinces: the city evaluation rolled up per province and year or cycle, all provinces side by side
("将考核评价结果作为知识产权强省建设考核评价的重要依据"). A provincial user sees only the provinces the one download
permission module (``dashboards.access``) lets them see."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from dash import Input, Output, State, dcc, html

from .. import access, queries
from .. import programme_queries as pq
from ..components import (
    INTEGER,
    NUMERIC,
    ONE_DECIMAL,
    control,
    graph,
    grid,
    guarded,
    page_title,
    records,
    snapshot,
    unavailable,
)
from ..figures import with_data_note_line
from ..formatting import RANGE_DASH, fmt_number
from ..i18n import PROVINCE_EN, STAGES, VERDICT_STATUS, label, norm_lang, t
from ..security import plot_text
from ..theme import OKABE_ITO, base_layout, empty_figure

PATH = "/provinces"
NAV_KEY = "nav_provinces"

LANG_STORE = "pv-lang"
LEVEL = "pv-level"
PERIOD = "pv-period"
CHART = "pv-chart"
GRID = "pv-grid"
BODY = "pv-body"
ACCEPTANCE_NOTE = "pv-acceptance-note"
STAGE_COLUMNS = (
    "normal",
    "exemplary",
    "watch",
    "review",
    "rectification",
    "exit_candidate",
    "not_reported",
    "withdrawn",
    # cycle rows: a cycle still running has no verdict yet (fct_province_rollup.n_cycle_running), never counted
    # under a verdict beside the judged cycles
    "cycle_running",
)


def visible(df: pl.DataFrame, principal: access.Principal) -> pl.DataFrame:
    """Rows of the provinces this principal may see (all for the national office, none for an unknown role)."""
    scope = principal.province_scope()
    if scope is None:
        return df
    return df.filter(pl.col("province_code").is_in(sorted(scope)))


def province_name(row: dict, lang: str) -> str:
    if norm_lang(lang) == "en":
        return PROVINCE_EN.get(row["province_code"][:2], row["province_name"] or row["province_code"])
    return row["province_name"] or row["province_code"]


def _stage_label(code: str, lang: str) -> str:
    if code in STAGES:
        return label(STAGES, code, lang)
    return label(VERDICT_STATUS, code, lang) if code in VERDICT_STATUS else code


def stages_text(row: dict, lang: str) -> str:
    parts = [f"{_stage_label(s, lang)} {row[f'n_{s}']}" for s in STAGE_COLUMNS if row.get(f"n_{s}")]
    return " · ".join(parts)


def flagged_text(value: str | None, province_code: str, names_en: dict[tuple[str, str], str], lang: str) -> str:
    """The mart lists flagged cities by Chinese name ("南阳市、安阳市"); in English each by its English name, looked
    up within the province (city names repeat across provinces)."""
    if not value:
        return ""
    if lang != "en":
        return value
    return ", ".join(names_en.get((province_code, n), n) for n in value.split("、"))


def range_text(low: float | None, high: float | None) -> str:
    """Lowest–highest index with one decimal; a one-city province's single figure once ("114.5", not
    "114.5–114.5"); a negative bound with a true minus sign."""
    if low is None or high is None:
        return "–"
    lo, hi = (fmt_number(v, 1) for v in (low, high))
    return lo if lo == hi else f"{lo}{RANGE_DASH}{hi}"


def rollup_rows(df: pl.DataFrame, lang: str, names_en: dict[tuple[str, str], str] | None = None) -> list[dict]:
    out = []
    for r in records(df, 3):
        share = r["share_key_targets_met"]
        out.append(
            {
                "province": province_name(r, lang),
                "province_code": r["province_code"],
                "n_cities": r["n_cities"],
                "stages": stages_text(r, lang),
                "mean_index": r["mean_index"],
                "sd_index": r["sd_index"],
                "range_index": range_text(r["min_index"], r["max_index"]),
                "mean_acceptance": r["mean_acceptance_score"],
                "share_key_met": None if share is None else round(100 * share, 1),
                "n_flagged": r["n_flagged"],
                "flagged_units": flagged_text(r["flagged_units"], r["province_code"], names_en or {}, lang),
            }
        )
    return out


# The figures of 31 provinces are sorted, not filtered: without a filter button each header needs ~24 px less, and
# the grid fits a 1366 px window (it scrolled the stage mix and the flagged cities off the edge).
SORTED = {"filter": False}


def columns(lang: str) -> list[dict]:
    return [
        # names wrap instead of ending in "…" ("新疆维…" for 新疆维吾尔自治区, as the target page's names do)
        {
            "field": "province",
            "headerName": t("province", lang),
            "minWidth": 100,
            "pinned": "left",
            "wrapText": True,
            "autoHeight": True,
        },
        {"field": "n_cities", **SORTED, "headerName": t("n_cities", lang), "maxWidth": 90, **INTEGER},
        {"field": "mean_index", **SORTED, "headerName": t("mean_index", lang), "maxWidth": 120, **ONE_DECIMAL},
        {
            "field": "sd_index",
            **SORTED,
            "headerName": t("sd_index", lang),
            "headerTooltip": t("sd_index_tip", lang),
            "maxWidth": 120,
            **ONE_DECIMAL,
        },
        {"field": "range_index", **SORTED, "headerName": t("range_index", lang), "maxWidth": 130, **NUMERIC},
        {
            "field": "mean_acceptance",
            **SORTED,
            "headerName": t("mean_acceptance", lang),
            "headerTooltip": t("mean_acceptance_tip", lang),
            "maxWidth": 130,
            **ONE_DECIMAL,
        },
        # a share in per cent with one decimal, as the target page's shares (this grid showed 67 beside 66.7 there)
        {
            "field": "share_key_met",
            **SORTED,
            "headerName": t("share_key_met", lang) + " %",
            "maxWidth": 130,
            **ONE_DECIMAL,
        },
        {
            "field": "n_flagged",
            **SORTED,
            "headerName": t("n_flagged", lang),
            "maxWidth": 110,
            "cellClassRules": {"ipc-status-bad": "data.n_flagged > 0"},
            **INTEGER,
        },
        {"field": "stages", "headerName": t("stages_mix", lang), "minWidth": 150, "wrapText": True, "autoHeight": True},
        {
            "field": "flagged_units",
            "headerName": t("flagged_units", lang),
            "minWidth": 120,
            "wrapText": True,
            "autoHeight": True,
        },
    ]


def chart(df: pl.DataFrame, lang: str) -> go.Figure:
    if df.height == 0:
        return empty_figure(t("pv_empty", lang))
    rows = rollup_rows(df, lang)
    fig = go.Figure(
        go.Bar(
            x=[plot_text(r["province"]) for r in rows],  # Plotly renders <a href> in labels: names are data
            y=[r["mean_index"] for r in rows],
            error_y={"type": "data", "array": [r["sd_index"] or 0 for r in rows], "visible": True},
            customdata=[[r["n_cities"], r["n_flagged"]] for r in rows],
            hovertemplate="%{x}: %{y:.1f}<br>"
            + t("n_cities", lang)
            + " %{customdata[0]} · "
            + t("n_flagged", lang)
            + " %{customdata[1]}<extra></extra>",
            # flagged provinces by hatching as well as colour: colour alone is lost in grey print and to some
            # readers (Okabe-Ito vermillion / blue, the theme's)
            marker={
                "color": [OKABE_ITO["vermillion"] if r["n_flagged"] else OKABE_ITO["blue"] for r in rows],
                "pattern": {"shape": ["/" if r["n_flagged"] else "" for r in rows], "fgcolor": "white"},
            },
        )
    )
    fig.add_hline(
        y=100,
        line_dash="dot",
        line_color="#888",
        annotation_text=t("pv_chart_average", lang),
        annotation_position="top right",
        annotation_font={"size": 12, "color": "#4b5563"},
    )
    base_layout(fig, t("pv_chart_title", lang), height=380)
    # the axis says what its figures are (it had no title: an official saw bare 0–150 beside the dotted 100)
    fig.update_yaxes(title=t("mean_index", lang))
    fig.update_layout(margin={"l": 60, "r": 10, "b": 80})
    # the data note on a line of its own above the bars (in the middle it lay over them; the long title leaves no
    # room on its line)
    return with_data_note_line(fig)


@guarded
def layout(lang: str, level=None, period=None, **_):
    snap = snapshot()
    if not snap.has(pq.ROLLUP):
        return [page_title(NAV_KEY, lang), unavailable(lang)]
    level = level if level in ("year", "cycle") else "year"
    periods = pq.rollup_periods(snap, level)
    period = period if period in periods else (periods[0] if periods else None)
    return [
        dcc.Store(id=LANG_STORE, data=lang),
        page_title(NAV_KEY, lang, t("pv_title", lang)),
        html.Div(
            [
                control(
                    t("pv_level", lang),
                    dcc.RadioItems(
                        id=LEVEL,
                        options=[
                            {"label": t("pv_level_year", lang), "value": "year"},
                            {"label": t("pv_level_cycle", lang), "value": "cycle"},
                        ],
                        value=level,
                        inline=True,
                    ),
                ),
                control(
                    t("pv_period", lang),
                    dcc.Dropdown(
                        id=PERIOD,
                        options=[{"label": p, "value": p} for p in periods],
                        value=period,
                        clearable=False,
                        className="ipc-dropdown",
                    ),
                ),
            ],
            className="ipc-controls",
        ),
        html.Div([graph(CHART)], className="ipc-row"),
        html.Div(id=BODY),
    ]


def render(level: str, period: str | None, lang: str, principal: access.Principal):
    snap = snapshot()
    df = pq.rollup(snap, level, period)
    if df is None:
        return empty_figure(t("not_available", lang)), unavailable(lang)
    df = visible(df, principal)
    if df.height == 0:
        return empty_figure(t("pv_empty", lang)), html.P(t("pv_empty", lang), className="ipc-muted")
    units = queries.units(snap)
    names_en = dict(
        zip(zip(units["province_code"].to_list(), units["unit_name"].to_list()), units["unit_name_en"].to_list())
    )
    rows = rollup_rows(df, lang, names_en)
    table = grid(GRID, lang, columns(lang), rows, height=None, pagination=False)
    note = acceptance_note(rows, level, lang)
    body = [table, html.P(note, id=ACCEPTANCE_NOTE, className="ipc-muted")] if note else table
    return chart(df, lang), body


def acceptance_note(rows: list[dict], level: str, lang: str) -> str | None:
    """Why the mean acceptance score column is blank, when every row of it is (pure): the page showed a column of
    "–" with the reason only in a header tooltip. None when any province has a score."""
    if not rows or any(r.get("mean_acceptance") is not None for r in rows):
        return None
    return t("pv_acceptance_blank_cycle" if level == "cycle" else "pv_acceptance_blank_year", lang)


def register_callbacks(app) -> None:
    @app.callback(
        Output(PERIOD, "options"),
        Output(PERIOD, "value"),
        Input(LEVEL, "value"),
        State(PERIOD, "value"),
        prevent_initial_call=True,
    )
    def periods(level, current):
        ps = pq.rollup_periods(snapshot(), level)
        return [{"label": p, "value": p} for p in ps], (current if current in ps else (ps[0] if ps else None))

    @app.callback(
        Output(CHART, "figure"),
        Output(BODY, "children"),
        Input(LEVEL, "value"),
        Input(PERIOD, "value"),
        State(LANG_STORE, "data"),
    )
    def update(level, period, lang):
        return render(level or "year", period, lang, access.current_principal())
