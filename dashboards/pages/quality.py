"""数据质量 Data quality: latest runs, check results, quarantined rows, and which data are synthetic."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from dash import Input, Output, State, dcc, html

from .. import queries
from ..components import control, graph, grid, guarded, page_title, records, section, snapshot, unavailable
from ..i18n import t
from ..theme import OKABE_ITO, base_layout, empty_figure

PATH = "/quality"
NAV_KEY = "nav_quality"


def rejections_figure(rej: pl.DataFrame | None, lang: str) -> go.Figure:
    if rej is None or not rej.height:
        return empty_figure(t("not_available", lang) if rej is None else "0", height=260)
    by_source = rej.group_by("source").agg(pl.col("rows").sum()).sort("rows")
    fig = go.Figure(go.Bar(x=by_source["rows"].to_list(), y=by_source["source"].to_list(), orientation="h",
                           marker_color=OKABE_ITO["vermillion"]))
    fig.update_xaxes(title=t("rows", lang))
    return base_layout(fig, t("dq_rejections", lang), height=max(260, 40 * by_source.height + 120))


def check_rows(checks: pl.DataFrame, lang: str) -> list[dict]:
    return records(checks.with_columns(
        passed_label=pl.when(pl.col("passed")).then(pl.lit("✔ " + t("passed", lang)))
        .otherwise(pl.lit("✘ " + t("failed", lang)))), 2)


def source_rows(lang: str) -> list[dict]:
    return [{"source": s, "name": en if lang == "en" else zh,
             "nature": t("real", lang) if real else t("synthetic", lang), "is_real": real}
            for s, real, zh, en in queries.SOURCE_NATURE]


@guarded
def layout(lang: str, run=None, **_):
    snap = snapshot()
    runs = queries.quality_runs(snap)
    run_ids = runs["run_id"].to_list() if runs is not None else []
    latest = queries.latest_run_id(snap)
    value = run if run in run_ids else latest
    options = [{"label": r, "value": r} for r in run_ids] or ([{"label": latest, "value": latest}] if latest else [])
    runs_view = unavailable(lang) if runs is None else grid("dq-runs", lang, [
        {"field": "run_id", "headerName": t("run_id", lang)},
        {"field": "started", "headerName": t("started", lang), "minWidth": 180},
        {"field": "files", "headerName": t("files", lang), "type": "numericColumn"},
        {"field": "rows_read", "headerName": t("rows_read", lang), "type": "numericColumn"},
        {"field": "rows_loaded", "headerName": t("rows_loaded", lang), "type": "numericColumn"},
        {"field": "rows_rejected", "headerName": t("rows_rejected", lang), "type": "numericColumn"},
    ], records(runs), height=260, pagination=False)
    return [
        dcc.Store(id="dq-lang", data=lang),
        page_title(NAV_KEY, lang),
        section(t("dq_sources", lang), grid("dq-sources", lang, [
            {"field": "source", "headerName": t("source", lang)},
            {"field": "name", "headerName": "", "minWidth": 220},
            {"field": "nature", "headerName": t("nature", lang),
             "cellClassRules": {"ipc-synthetic": "!data.is_real"}},
        ], source_rows(lang), height=430, pagination=False)),
        section(t("dq_runs", lang), runs_view),
        html.Div([control(t("run_id", lang), dcc.Dropdown(id="dq-run", options=options, value=value,
                                                          clearable=False))], className="ipc-controls"),
        section(t("dq_checks", lang), html.Div(id="dq-checks")),
        html.Div([html.Div(graph("dq-rej-fig"), className="ipc-col"),
                  html.Div(html.Div(id="dq-rejections"), className="ipc-col")], className="ipc-row ipc-two"),
    ]


def register_callbacks(app) -> None:
    @app.callback(Output("dq-checks", "children"), Output("dq-rej-fig", "figure"), Output("dq-rejections", "children"),
                  Input("dq-run", "value"), State("dq-lang", "data"))
    def update(run_id, lang):
        snap = snapshot()
        checks = queries.quality_checks(snap, run_id)
        rej = queries.quality_rejections(snap, run_id)
        checks_view = unavailable(lang) if checks is None else grid("dq-check-grid", lang, [
            {"field": "passed_label", "headerName": t("status", lang), "maxWidth": 130,
             "cellClassRules": {"ipc-status-bad": "!data.passed", "ipc-status-good": "data.passed"}},
            {"field": "check_name", "headerName": t("check_name", lang), "minWidth": 220},
            {"field": "asset", "headerName": t("asset", lang), "minWidth": 200},
            {"field": "severity", "headerName": t("severity", lang), "maxWidth": 110},
            {"field": "partition", "headerName": "partition", "maxWidth": 120},
            {"field": "observed_value", "headerName": t("observed", lang), "type": "numericColumn"},
            {"field": "expectation", "headerName": "expectation", "minWidth": 200},
        ], check_rows(checks, lang), height=400)
        rej_view = unavailable(lang) if rej is None else grid("dq-rej-grid", lang, [
            {"field": "source", "headerName": t("source", lang)},
            {"field": "reason", "headerName": t("reason", lang), "minWidth": 240},
            {"field": "rows", "headerName": t("rows", lang), "type": "numericColumn"},
        ], records(rej), height=320, pagination=False)
        return checks_view, rejections_figure(rej, lang), rej_view
