"""排名 Rankings: a sortable, filterable grid of composite and pillar scores with rank intervals."""

from __future__ import annotations

import json

import polars as pl
from dash import Input, Output, State, dcc, html

from pipelines.labels import index_text, rank_text

from .. import access, queries
from ..components import (
    INDEX_TEXT,
    INTEGER,
    ONE_DECIMAL,
    control,
    dropdown,
    grid,
    guarded,
    page_title,
    records,
    snapshot,
    unknown_year_notice,
    url_stores,
    url_sync,
    year_dropdown,
)
from ..formatting import RANGE_DASH
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


def ranking_rows(df: pl.DataFrame, lang: str, scope: frozenset[str] | None = None) -> list[dict]:
    """Grid rows with translated labels and the rank interval as text (sortable on the numeric columns).
    ``scope``: the provinces whose evaluation the account sees (None: every one); another province's stage is
    withheld (access.published_rankings) and says so: its "–" read as "not evaluated" beside the own cities'
    stages, the same dash a city without a stage has."""
    withheld = (
        pl.lit(False) if scope is None else ~pl.col("province_code").is_in(list(scope)) & pl.col("stage").is_null()
    )
    out = df.with_columns(
        name=pl.col(name_col(lang)),
        # Cities outside the ranking get their band on the same index scale (grey on the map).
        group_label=pl.coalesce("performance_group", "performance_group_all").replace_strict(
            {k: label(GROUPS, k, lang) for k in GROUPS}, default=None
        ),
        stage_label=pl.when(withheld)
        .then(pl.lit(t("stage_withheld", lang)))
        .otherwise(
            pl.col("stage").replace_strict({k: label(STAGES, k, lang) for k in STAGES}, default=pl.col("stage"))
        ),
        rank_interval=pl.when(pl.col("p05_rank").is_not_null())
        .then(pl.format("{}" + RANGE_DASH + "{}", pl.col("p05_rank"), pl.col("p95_rank")))
        .otherwise(pl.lit("")),
        composite_index_text=pl.col("composite_index").map_elements(index_text, return_dtype=pl.String),
        # a shared rank reads 并列 / tied (the number stays for sorting)
        rank_text=_rank_texts(df, "rank", lang),
        rank_all_text=_rank_texts(df, "rank_all", lang),
        roster_label=pl.when(pl.col("is_ranked"))
        .then(pl.lit(t("programme_member", lang)))
        .when(pl.col("on_roster"))
        .then(pl.lit(t("not_ranked_member", lang)))
        .otherwise(pl.lit("")),
    )
    return records(out)


def _rank_texts(df: pl.DataFrame, col: str, lang: str) -> pl.Series:
    if col not in df.columns:
        return pl.Series([None] * df.height, dtype=pl.String)
    shared = df[f"{col}_is_shared"] if f"{col}_is_shared" in df.columns else pl.Series([False] * df.height)
    return pl.Series(
        [rank_text(r, None, s, lang) for r, s in zip(df[col].to_list(), shared.to_list(), strict=True)],
        dtype=pl.String,
    )


def _text_of(field: str) -> dict:
    """AG Grid shows the row's text of a rank (并列 / tied when shared) and sorts on the number."""
    return {"valueFormatter": {"function": f"params.value == null ? '' : params.data.{field}"}}


def column_defs(lang: str) -> list[dict]:
    num = {"type": "numericColumn", "filter": "agNumberColumnFilter", **INTEGER}
    real = {**num, **ONE_DECIMAL}
    cols = [
        {
            "field": "rank",
            "headerName": t("rank", lang),
            "pinned": "left",
            "width": 110,
            **num,
            **_text_of("rank_text"),
        },  # rows arrive best first
        # long names wrap, never cut ("Chaoyang (B…", the county-level groupings' English names)
        {
            "field": "name",
            "headerName": t("city", lang),
            "pinned": "left",
            "minWidth": 130 if lang == "zh" else 170,
            "wrapText": True,
            "autoHeight": True,
        },
        {"field": province_col(lang), "headerName": t("province", lang), "minWidth": 120},
        {"field": "group_label", "headerName": t("group", lang)},
        {"field": "stage_label", "headerName": t("stage", lang)},
        {"field": "composite_index", "headerName": t("composite_index", lang), **num, **INDEX_TEXT},
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
        {"field": "rank_all", "headerName": t("rank_all", lang), **num, **_text_of("rank_all_text")},
        {"field": "roster_label", "headerName": t("programme_status", lang)},
    ]
    return cols


# The grid's column filters travel in the URL as AG Grid's filter model (JSON under 'filter'): only these keys
# and plain values are accepted back, so a crafted URL can set a filter and nothing else.
FILTER_KEYS = frozenset({"filterType", "type", "filter", "filterTo", "operator", "conditions", "dateFrom", "dateTo"})
MAX_FILTER_CHARS = 1200
MAX_FILTER_VALUE_CHARS = 100  # one text value of a grid filter condition (the whole filter: MAX_FILTER_CHARS)
LANG_FIELDS = ({"province_name", "province_name_en"},)  # one column, a field per language


def _clean_condition(cond, depth: int = 0) -> dict | None:
    if not isinstance(cond, dict) or not cond or not set(cond) <= FILTER_KEYS:
        return None
    out = {}
    for k, v in cond.items():
        if k == "conditions":
            if depth or not isinstance(v, list) or len(v) > 2:
                return None
            parts = [_clean_condition(c, depth + 1) for c in v]
            if any(p is None for p in parts):
                return None
            out[k] = parts
        elif (
            v is None or isinstance(v, bool | int | float) or (isinstance(v, str) and len(v) <= MAX_FILTER_VALUE_CHARS)
        ):
            out[k] = v
        else:
            return None
    return out


def parse_filter_model(raw: str | None, lang: str) -> dict | None:
    """AG Grid filter model from the URL, validated against the grid's columns and moved to this language's
    fields (the province column has a field per language); None when absent or not a valid model."""
    if not raw or len(raw) > MAX_FILTER_CHARS:
        return None
    try:
        model = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(model, dict):
        return None
    fields = {c["field"] for c in column_defs(lang)}
    out = {}
    for field, cond in model.items():
        for group in LANG_FIELDS:
            if field in group:
                field = next(iter(group & fields))
        clean = _clean_condition(cond)
        if field not in fields or clean is None:
            return None
        out[field] = clean
    return out or None


@guarded
def layout(lang: str, year=None, province=None, group=None, stage=None, programme=None, filter=None, **_):  # noqa: A002 - the URL parameter is called filter
    snap = snapshot()
    requested, year = year, queries.resolve_year(snap, year)
    provinces = queries.provinces(snap)
    province = province if province in set(provinces["province_code"].to_list()) else None
    group = group if group in GROUPS else None
    stage = stage if stage in STAGES else None
    programme_value = [] if programme == "all" else ["programme"]
    filter_model = parse_filter_model(filter, lang)
    prov_opts = [{"label": r[province_col(lang)], "value": r["province_code"]} for r in provinces.iter_rows(named=True)]
    group_opts = [{"label": label(GROUPS, g, lang), "value": g} for g in GROUP_ORDER]
    stage_opts = [{"label": label(STAGES, s, lang), "value": s} for s in STAGES]
    return [
        dcc.Store(id="rk-lang", data=lang),
        *url_stores("rk", ["year", "province", "group", "stage", "programme", "filter"]),
        dcc.Store(id="rk-programme-url"),
        # the URL's filter until the grid reports one of its own (the grid's first report may come after the
        # first write of the query string, which would otherwise drop the filter from the address)
        dcc.Store(id="rk-filter-url", data=filter_text(filter_model)),
        dcc.Store(id="rk-total"),
        page_title(NAV_KEY, lang, t("rk_hint", lang)),
        *unknown_year_notice(requested, queries.years(snap), year, lang),
        html.Div(
            [
                year_dropdown("rk-year", queries.years(snap), year, lang),
                control(
                    t("province", lang),
                    dropdown(
                        "rk-province", lang, options=prov_opts, value=province, placeholder=t("all_provinces", lang)
                    ),
                ),
                control(t("group", lang), dropdown("rk-group", lang, options=group_opts, value=group)),
                control(t("stage", lang), dropdown("rk-stage", lang, options=stage_opts, value=stage)),
                control(
                    " ",
                    dcc.Checklist(
                        id="rk-programme",
                        options=[{"label": t("programme_only", lang), "value": "programme"}],
                        value=programme_value,
                        className="ipc-check",
                    ),
                ),
            ],
            className="ipc-controls",
        ),
        html.Div(id="rk-count", className="ipc-muted"),
        _grid_with_filters(lang, filter_model),
    ]


def filter_text(model: dict | None) -> str | None:
    """A filter model as the URL carries it: compact JSON, as the browser's JSON.stringify writes it (pure)."""
    return json.dumps(model, separators=(",", ":"), ensure_ascii=False) if model else None


def _grid_with_filters(lang: str, filter_model: dict | None):
    """The rankings grid with the URL's column filters as the grid's initial state. Not through the grid's
    ``filterModel`` property: the grid sets that model only once it knows its columns' data types, which it learns
    from the first rows, and the rows arrive by a callback after the grid is drawn. A filter event in between
    reported an empty model, the property became {} and cleared the queued filter, and the URL's filter was
    dropped: a bookmarked filter, or one carried across the language switch, came back as every city (seen in
    4 of 20 language switches under CPU load). The initial state is the grid's own model from its first moment."""
    g = grid("rk-grid", lang, column_defs(lang), height=640)
    if filter_model:
        g.dashGridOptions = {**g.dashGridOptions, "initialState": {"filter": {"filterModel": filter_model}}}
    return g


def count_text(shown: int | None, total: int | None, lang: str) -> str:
    """'Units: 12 of 63' — follows the grid's own column filters, not only the dropdowns."""
    total = total or 0
    shown = total if shown is None else shown
    return t("units_shown", lang).format(shown=shown, total=total)


def register_callbacks(app) -> None:
    # The URL carries 'programme=all' when the checkbox is off (on is the default).
    app.clientside_callback(
        "function(v){return (v && v.length) ? null : 'all';}",
        Output("rk-programme-url", "data"),
        Input("rk-programme", "value"),
    )
    app.clientside_callback(
        "function(m){return (m && Object.keys(m).length) ? JSON.stringify(m) : null;}",
        Output("rk-filter-url", "data"),
        Input("rk-grid", "filterModel"),
        prevent_initial_call=True,  # the layout holds the URL's filter; the grid reports changes to it
    )
    url_sync(
        app,
        "rk",
        [
            ("rk-year", "value"),
            ("rk-province", "value"),
            ("rk-group", "value"),
            ("rk-stage", "value"),
            ("rk-programme-url", "data"),
            ("rk-filter-url", "data"),
        ],
    )

    @app.callback(
        Output("rk-count", "children"),
        Input("rk-grid", "virtualRowData"),
        Input("rk-total", "data"),
        State("rk-lang", "data"),
    )
    def update_count(virtual, total, lang):
        return count_text(None if virtual is None else len(virtual), total, lang)

    @app.callback(
        Output("rk-grid", "rowData"),
        Output("rk-total", "data"),
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
            return [], 0
        # Other provinces' rows as published (no internal evaluation detail) unless national / own province.
        principal = access.current_principal()
        df = access.published_rankings(principal, df)
        df = filter_rankings(df, province, group, stage)
        return ranking_rows(df, lang, principal.province_scope() if principal else None), df.height
