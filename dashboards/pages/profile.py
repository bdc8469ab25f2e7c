"""城市画像 City profile: every indicator with trend and target, target statuses, stage history, alerts."""

from __future__ import annotations

import polars as pl
from dash import Input, Output, State, dcc, html

from .. import figures, provenance, queries
from ..components import (
    control,
    graph,
    grid,
    guarded,
    page_title,
    records,
    section,
    snapshot,
    unavailable,
    unit_options,
)
from ..evaluation_text import rules_text
from ..i18n import ALERT_TYPES, GROUPS, PLANS, STAGES, TARGET_STATUS, label, name_col, province_col, t
from ..snapshot import SnapshotUnavailable
from ..theme import empty_figure
from .watchlist import robust_label

PATH = "/profile"
NAV_KEY = "nav_profile"


def target_rows(targets: pl.DataFrame, catalog: pl.DataFrame, lang: str) -> list[dict]:
    ind = "name_en" if lang == "en" else "name_zh"
    df = targets.join(
        catalog.select("indicator_code", pl.col(ind).alias("indicator_name")), on="indicator_code", how="left"
    ).with_columns(
        status_label=pl.col("status").replace_strict(
            {k: label(TARGET_STATUS, k, lang) for k in TARGET_STATUS}, default=pl.col("status")
        ),
        plan_label=pl.col("plan_id").replace_strict(
            {k: label(PLANS, k, lang) for k in PLANS}, default=pl.col("plan_id")
        ),
    )
    return records(df, 2)


def target_columns(lang: str) -> list[dict]:
    num = {"type": "numericColumn"}
    return [
        {"field": "plan_label", "headerName": t("plan", lang), "minWidth": 160},
        {"field": "indicator_code", "headerName": "", "maxWidth": 90},
        {"field": "indicator_name", "headerName": t("indicator", lang), "minWidth": 200},
        {"field": "baseline_value", "headerName": t("baseline", lang), **num},
        {"field": "target_value", "headerName": t("target", lang), **num},
        {"field": "current_year", "headerName": t("year", lang), **num},
        {"field": "current_value", "headerName": t("current", lang), **num},
        {"field": "progress_index", "headerName": t("progress", lang), **num},
        {
            "field": "status_label",
            "headerName": t("status", lang),
            "cellClassRules": {
                "ipc-status-bad": "['deteriorating','limited_progress'].includes(data.status)",
                "ipc-status-good": "['achieved','on_track'].includes(data.status)",
            },
        },
    ]


def stage_rows(stages: pl.DataFrame, lang: str) -> list[dict]:
    rows = []
    for r in records(stages, 2):
        share = r.get("share_bottom")
        rows.append(
            {
                **r,
                "stage_label": label(STAGES, r["stage"], lang),
                # normal years carry no flag, so there is nothing to be robust about
                "robust_label": "" if r["stage"] == "normal" else robust_label(r.get("is_robust"), lang),
                "share_bottom_pct": None if share is None else round(100 * share),
                "rules_text": rules_text(r, lang),
            }
        )
    return rows


def cycle_rows(cycles: pl.DataFrame, lang: str) -> list[dict]:
    return [
        {
            **r,
            "verdict_label": label(STAGES, r["verdict"], lang),
            "state": t("complete", lang) if r.get("is_complete") in (True, None) else t("in_progress", lang),
        }
        for r in records(cycles, 1)
    ]


def alert_rows(alerts: pl.DataFrame, catalog: pl.DataFrame, lang: str) -> list[dict]:
    ind = "name_en" if lang == "en" else "name_zh"
    names = dict(zip(catalog["indicator_code"].to_list(), catalog[ind].to_list()))
    return [
        {
            **r,
            "type_label": label(ALERT_TYPES, r.get("alert_type"), lang),
            "status_label": label(TARGET_STATUS, r.get("status"), lang),
            "indicator_name": names.get(r.get("indicator_code"), r.get("indicator_code") or ""),
        }
        for r in records(alerts, 2)
    ]


def summary(info: dict, scores: pl.DataFrame, stages: pl.DataFrame | None, lang: str) -> html.Div:
    last = scores.sort("year").tail(1).to_dicts()
    items = [
        html.H2(info[name_col(lang)], className="ipc-profile-name"),
        html.Span(info[province_col(lang)], className="ipc-chip"),
    ]
    if info.get("is_programme"):
        cohort = info.get("programme_cohort_year")
        items.append(html.Span(t("programme_status", lang) + (f" · {cohort}" if cohort else ""), className="ipc-chip"))
        if info.get("withdrawn_year"):
            items.append(
                html.Span(
                    f"{label(STAGES, 'withdrawn', lang)} · {info['withdrawn_year']}",
                    className="ipc-chip ipc-chip-stage",
                )
            )
    if last:
        r = last[0]
        if r.get("rank") is not None:
            items.append(
                html.Span(f"{r['year']} {t('rank', lang)} {r['rank']} / {r['n_ranked']}", className="ipc-chip")
            )
        elif r.get("rank_all") is not None:
            items.append(html.Span(f"{r['year']} {t('rank_all', lang)} {r['rank_all']}", className="ipc-chip"))
        if r.get("composite_index") is not None:
            items.append(html.Span(f"{t('composite_index', lang)} {r['composite_index']:.1f}", className="ipc-chip"))
        group = r.get("performance_group") or r.get("performance_group_all")
        if group:
            items.append(html.Span(label(GROUPS, group, lang), className="ipc-chip"))
    if stages is not None and stages.height:
        items.append(html.Span(label(STAGES, stages["stage"][0], lang), className="ipc-chip ipc-chip-stage"))
    return html.Div(items, className="ipc-profile-summary")


@guarded
def layout(lang: str, unit=None, **_):
    snap = snapshot()
    all_units = queries.units(snap)
    options = unit_options(all_units, lang)
    codes = set(all_units["unit_code"].to_list())
    if unit not in codes:
        year = queries.resolve_year(snap, None)
        top = queries.rankings(snap, year)["unit_code"].head(1).to_list() if year else []
        unit = top[0] if top else (all_units["unit_code"][0] if all_units.height else None)
    return [
        dcc.Store(id="pf-lang", data=lang),
        page_title(NAV_KEY, lang),
        html.Div(
            [
                html.Div(
                    control(
                        t("pf_pick", lang), dcc.Dropdown(id="pf-unit", options=options, value=unit, clearable=False)
                    ),
                    className="ipc-grow",
                )
            ],
            className="ipc-controls",
        ),
        html.Div(id="pf-summary"),
        section(t("pf_indicators", lang), graph("pf-indicators")),
        section(
            t("pf_values", lang),
            grid("pf-value-grid", lang, value_columns(lang), [], height=360),
            html.Div(id="pf-provenance", children=provenance.provenance_view(None, lang)),
        ),
        section(t("pf_targets", lang), html.Div(id="pf-targets")),
        html.Div(
            [
                html.Div(graph("pf-stage-fig"), className="ipc-col"),
                html.Div(section(t("pf_cycles", lang), html.Div(id="pf-cycles")), className="ipc-col"),
            ],
            className="ipc-row ipc-two",
        ),
        section(t("pf_stage_rows", lang), html.Div(id="pf-stages")),
        section(t("pf_alerts", lang), html.Div(id="pf-alerts")),
    ]


def value_rows(values: pl.DataFrame, catalog: pl.DataFrame, lang: str) -> list[dict]:
    """The unit's indicator values, latest year first, with the indicator's name."""
    ind = "name_en" if lang == "en" else "name_zh"
    df = values.join(
        catalog.select("indicator_code", pl.col(ind).alias("indicator_name")), on="indicator_code", how="left"
    ).sort(["year", "indicator_code"], descending=[True, False])
    return records(df.select("year", "indicator_code", "indicator_name", "value", "normalised_score"), 4)


def value_columns(lang: str) -> list[dict]:
    num = {"type": "numericColumn"}
    return [
        {"field": "year", "headerName": t("year", lang), "maxWidth": 100},
        {"field": "indicator_code", "headerName": "", "maxWidth": 90},
        {"field": "indicator_name", "headerName": t("indicator", lang), "minWidth": 220},
        {"field": "value", "headerName": t("value", lang), "cellClass": "ipc-traceable", **num},
        {"field": "normalised_score", "headerName": t("normalised_score", lang), **num},
    ]


def register_callbacks(app) -> None:
    @app.callback(
        Output("pf-value-grid", "rowData"),
        Output("pf-provenance", "children", allow_duplicate=True),
        Input("pf-unit", "value"),
        State("pf-lang", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def update_values(unit, lang):
        try:
            snap = snapshot()
            if not unit:
                return [], provenance.provenance_view(None, lang)
            rows = value_rows(queries.profile_indicators(snap, unit), queries.indicator_catalog(snap), lang)
        except SnapshotUnavailable:
            return [], unavailable(lang, "no_snapshot")
        return rows, provenance.provenance_view(None, lang)

    @app.callback(
        Output("pf-provenance", "children"),
        Input("pf-value-grid", "cellClicked"),
        State("pf-value-grid", "rowData"),
        State("pf-unit", "value"),
        State("pf-lang", "data"),
        prevent_initial_call=True,
    )
    def show_provenance(cell, rows, unit, lang):
        """One click on a value: its formula, inputs and source rows."""
        if not cell or not unit or not rows:
            return provenance.provenance_view(None, lang)
        index = cell.get("rowIndex")
        row = (cell.get("data") or {}) if cell.get("data") else (rows[index] if index is not None else {})
        if not row.get("indicator_code") or row.get("year") is None:
            return provenance.provenance_view(None, lang)
        try:
            p = provenance.provenance(snapshot(), unit, int(row["year"]), str(row["indicator_code"]))
        except SnapshotUnavailable:
            return unavailable(lang, "no_snapshot")
        return provenance.provenance_view(p, lang)

    @app.callback(
        Output("pf-summary", "children"),
        Output("pf-indicators", "figure"),
        Output("pf-targets", "children"),
        Output("pf-stage-fig", "figure"),
        Output("pf-cycles", "children"),
        Output("pf-stages", "children"),
        Output("pf-alerts", "children"),
        Input("pf-unit", "value"),
        State("pf-lang", "data"),
    )
    def update(unit, lang):
        blank = empty_figure(t("not_available", lang))
        try:
            snap = snapshot()
            info = queries.unit_info(snap, unit) if unit else None
            if info is None:
                return unavailable(lang), blank, None, blank, None, None, None
            catalog = queries.indicator_catalog(snap)
            targets = queries.profile_targets(snap, unit)
            stages = queries.profile_stages(snap, unit)
            cycles = queries.profile_cycles(snap, unit)
            alerts = queries.profile_alerts(snap, unit)
            head = summary(info, queries.profile_scores(snap, unit), stages, lang)
            ind_fig = figures.indicator_small_multiples(queries.profile_indicators(snap, unit), targets, catalog, lang)
        except SnapshotUnavailable:
            return unavailable(lang, "no_snapshot"), blank, None, blank, None, None, None

        target_view = (
            unavailable(lang)
            if targets is None
            else grid(
                "pf-target-grid",
                lang,
                target_columns(lang),
                target_rows(targets, catalog, lang),
                height=None,
                pagination=False,
            )
        )
        if stages is None:
            stage_fig, stage_view = blank, unavailable(lang)
        else:
            stage_fig = figures.stage_timeline(stages, lang)
            stage_view = grid(
                "pf-stage-grid",
                lang,
                [
                    {"field": "year", "headerName": t("year", lang), "maxWidth": 100},
                    {"field": "stage_label", "headerName": t("stage", lang), "maxWidth": 160},
                    {"field": "robust_label", "headerName": t("robustness", lang), "maxWidth": 130},
                    {
                        "field": "share_bottom_pct",
                        "headerName": t("share_bottom", lang) + " %",
                        "maxWidth": 130,
                        "headerTooltip": t("share_bottom_hint", lang),
                    },
                    {
                        "field": "rules_text",
                        "headerName": t("rules_fired", lang),
                        "minWidth": 360,
                        "wrapText": True,
                        "autoHeight": True,
                    },
                ],
                stage_rows(stages, lang),
                height=None,
                pagination=False,
            )
        cycle_view = (
            unavailable(lang)
            if cycles is None
            else grid(
                "pf-cycle-grid",
                lang,
                [
                    {"field": "cycle", "headerName": t("cycle", lang), "maxWidth": 120},
                    {"field": "verdict_label", "headerName": t("verdict", lang), "maxWidth": 120},
                    {"field": "state", "headerName": t("status", lang), "maxWidth": 100},
                    {
                        "field": "evidence",
                        "headerName": t("evidence", lang),
                        "minWidth": 260,
                        "wrapText": True,
                        "autoHeight": True,
                    },
                ],
                cycle_rows(cycles, lang),
                height=None,
                pagination=False,
            )
        )
        if alerts is None:
            alert_view = unavailable(lang)
        elif not alerts.height:
            alert_view = html.P(t("pf_no_alerts", lang), className="ipc-muted")
        else:
            alert_view = grid(
                "pf-alert-grid",
                lang,
                [
                    {"field": "year", "headerName": t("year", lang), "maxWidth": 100},
                    {"field": "type_label", "headerName": t("alert_type", lang), "maxWidth": 120},
                    {"field": "indicator_name", "headerName": t("indicator", lang), "minWidth": 200},
                    {"field": "status_label", "headerName": t("status", lang), "maxWidth": 130},
                    {"field": "message", "headerName": t("message", lang), "minWidth": 300},
                    {"field": "created_at", "headerName": t("created_at", lang), "maxWidth": 160},
                ],
                alert_rows(alerts, catalog, lang),
                height=260,
                pagination=False,
            )
        return head, ind_fig, target_view, stage_fig, cycle_view, stage_view, alert_view
