"""排名 Rankings: a sortable, filterable grid of composite and pillar scores with rank intervals."""

from __future__ import annotations

import polars as pl
from dash import Input, Output, State, dcc, html

from .. import queries
from ..components import ONE_DECIMAL, control, grid, guarded, page_title, records, snapshot, year_dropdown
from ..i18n import GROUPS, PILLAR_COLUMNS, PILLAR_NAMES, STAGES, label, name_col, province_col, t
from ..snapshot import SnapshotUnavailable
from ..theme import GROUP_ORDER

PATH = "/rankings"
NAV_KEY = "nav_rankings"


def filter_rankings(
    df: pl.DataFrame, province: str | None = None, group: str | None = None, stage: str | None = None
) -> pl.DataFrame:
    if province:
        df = df.filter(pl.col("province_code") == province)
    if group:
        df = df.filter(pl.col("performance_group") == group)
    if stage:
        df = df.filter(pl.col("stage") == stage)
    return df


def ranking_rows(df: pl.DataFrame, lang: str) -> list[dict]:
    """Grid rows with translated labels and the rank interval as text (sortable on the numeric columns)."""
    out = df.with_columns(
        name=pl.col(name_col(lang)),
        # Cities outside the ranking get their band on the same index scale (grey on the map).
        group_label=pl.coalesce("performance_group", "performance_group_all").replace_strict(
            {k: label(GROUPS, k, lang) for k in GROUPS}, default=None
        ),
        stage_label=pl.col("stage").replace_strict(
            {k: label(STAGES, k, lang) for k in STAGES}, default=pl.col("stage")
        ),
        rank_interval=pl.when(pl.col("p05_rank").is_not_null())
        .then(pl.format("{}–{}", pl.col("p05_rank"), pl.col("p95_rank")))
        .otherwise(pl.lit("")),
        roster_label=pl.when(pl.col("is_ranked"))
        .then(pl.lit(t("programme_member", lang)))
        .when(pl.col("on_roster"))
        .then(pl.lit(t("not_ranked_member", lang)))
        .otherwise(pl.lit("")),
    )
    return records(out)


def column_defs(lang: str) -> list[dict]:
    num = {"type": "numericColumn", "filter": "agNumberColumnFilter"}
    real = {**num, **ONE_DECIMAL}
    cols = [
        {
            "field": "rank",
            "headerName": t("rank", lang),
            "pinned": "left",
            "width": 90,
            **num,
        },  # rows arrive best first
        {"field": "name", "headerName": t("city", lang), "pinned": "left", "minWidth": 130},
        {"field": province_col(lang), "headerName": t("province", lang), "minWidth": 120},
        {"field": "group_label", "headerName": t("group", lang)},
        {"field": "stage_label", "headerName": t("stage", lang)},
        {"field": "composite_index", "headerName": t("composite_index", lang), **real},
        {"field": "composite", "headerName": t("composite", lang), **real},
    ]
    cols += [
        {"field": col, "headerName": label(PILLAR_NAMES, code, lang), **real} for code, col in PILLAR_COLUMNS.items()
    ]
    cols += [
        {"field": "rank_interval", "headerName": t("rank_interval", lang), "sortable": False},
        {"field": "median_rank", "headerName": t("median_rank", lang), **num},
        {"field": "rank_change", "headerName": t("rank_change", lang), **num},
        {"field": "index_change", "headerName": t("index_change", lang), **real},
        {"field": "rank_all", "headerName": t("rank_all", lang), **num},
        {"field": "roster_label", "headerName": t("programme_status", lang)},
    ]
    return cols


@guarded
def layout(lang: str, year=None, **_):
    snap = snapshot()
    year = queries.resolve_year(snap, year)
    provinces = queries.provinces(snap)
    prov_opts = [{"label": r[province_col(lang)], "value": r["province_code"]} for r in provinces.iter_rows(named=True)]
    group_opts = [{"label": label(GROUPS, g, lang), "value": g} for g in GROUP_ORDER]
    stage_opts = [{"label": label(STAGES, s, lang), "value": s} for s in STAGES]
    return [
        dcc.Store(id="rk-lang", data=lang),
        page_title(NAV_KEY, lang, t("rk_hint", lang)),
        html.Div(
            [
                year_dropdown("rk-year", queries.years(snap), year, lang),
                control(
                    t("province", lang),
                    dcc.Dropdown(id="rk-province", options=prov_opts, placeholder=t("all_provinces", lang)),
                ),
                control(t("group", lang), dcc.Dropdown(id="rk-group", options=group_opts)),
                control(t("stage", lang), dcc.Dropdown(id="rk-stage", options=stage_opts)),
                control(
                    " ",
                    dcc.Checklist(
                        id="rk-programme",
                        options=[{"label": t("programme_only", lang), "value": "programme"}],
                        value=["programme"],
                        className="ipc-check",
                    ),
                ),
            ],
            className="ipc-controls",
        ),
        html.Div(id="rk-count", className="ipc-muted"),
        grid("rk-grid", lang, column_defs(lang), height=640),
    ]


def register_callbacks(app) -> None:
    @app.callback(
        Output("rk-grid", "rowData"),
        Output("rk-count", "children"),
        Input("rk-year", "value"),
        Input("rk-province", "value"),
        Input("rk-group", "value"),
        Input("rk-stage", "value"),
        Input("rk-programme", "value"),
        State("rk-lang", "data"),
    )
    def update(year, province, group, stage, programme, lang):
        try:
            df = queries.rankings(snapshot(), int(year), programme_only=bool(programme))
        except SnapshotUnavailable:
            return [], t("no_snapshot", lang)
        df = filter_rankings(df, province, group, stage)
        return ranking_rows(df, lang), f"{t('units_count', lang)}: {df.height}"
