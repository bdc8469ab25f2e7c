"""城市对比 City comparison: radar of pillar scores, indicator trends, side-by-side table, strengths/weaknesses."""

from __future__ import annotations

import math

import polars as pl
from dash import Input, Output, State, dcc, html

from pipelines.labels import index_text, rank_text

from .. import access, figures, queries
from ..components import (
    NUMERIC,
    control,
    dropdown,
    graph,
    grid,
    grid_columns,
    guarded,
    memoised,
    page_title,
    section,
    snapshot,
    unit_options,
    unknown_year_notice,
    url_stores,
    url_sync,
    year_dropdown,
)
from ..formatting import fmt_number
from ..i18n import GROUPS, PILLAR_COLUMNS, PILLAR_NAMES, STAGES, label, name_col, t
from ..snapshot import SnapshotUnavailable
from ..theme import empty_figure

PATH = "/compare"
NAV_KEY = "nav_compare"
MAX_UNITS = 6


def parse_units(value) -> list[str]:
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for v in items:
        v = str(v).strip()
        if v and v not in out:
            out.append(v)
    return out[:MAX_UNITS]


def authorize_units(unit_codes) -> None:
    """The account may see every chosen unit (raises AccessDenied otherwise). Also checked before dispatch; the
    callbacks check again, cached answers included (components.memoised)."""
    try:
        snap = snapshot()
    except SnapshotUnavailable:
        return  # nothing to show anyone; the callback says so
    principal = access.current_principal()
    for code in parse_units(unit_codes):
        access.authorize(principal, "callback", page=PATH, unit=code, snap=snap)


def default_units(snap, year: int) -> list[str]:
    """The first, the middle and the last ranked unit: a comparison worth looking at before any choice."""
    codes = queries.rankings(snap, year)["unit_code"].to_list()
    picks = [codes[0], codes[len(codes) // 2], codes[-1]] if len(codes) >= 3 else codes
    return list(dict.fromkeys(picks))


def warm(snap) -> None:
    """Compute the per-year, every-unit data the comparison filters (scores, averages, strengths, score
    differences) and every indicator's trend, for each year of the snapshot."""
    for year in queries.years(snap):
        queries.pillar_scores(snap, year, [])
        queries.side_by_side(snap, year, [])
        queries.score_matrix(snap, year, [])
        queries.score_difference_extent(snap, year)
        queries.strengths_weaknesses(snap, year, [])
        queries.indicator_catalog(snap, year)
    for code in queries.indicator_catalog(snap)["indicator_code"].to_list():
        queries.indicator_trend(snap, [], code)


def _measure_text(col: str, v, shared: bool | None = False, lang: str = "zh") -> str:
    """A cell of the comparison as text, so that a column reads alike: scores with one decimal (71.0 beside 76.5,
    not 71), ranks as whole places, rank changes signed as on the overview (+8 = moved up)."""
    if v is None and col in ("rank", "rank_change"):
        # a city outside the programme is not ranked, a first ranking has no change: not applicable, as its group
        # and stage below say; a dash read as data missing beside "n/a" in the same column
        return t("na_short", lang)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if col == "composite_index":  # beside the group row below: never across a band bound
        return index_text(v)
    if col == "rank":  # a shared rank reads 并列 / tied
        return rank_text(v, None, shared, lang)
    if col == "rank_change":
        return fmt_number(int(v), 0, signed=True) if v else "0"
    return fmt_number(v, 1)


def side_by_side_table(df: pl.DataFrame, lang: str) -> tuple[list[dict], list[dict]]:
    """Transpose: one row per measure, one column per city (how officials read a comparison)."""
    name = name_col(lang)
    measures = [("composite_index", t("composite_index", lang)), ("composite", t("composite", lang))]
    measures += [(col, label(PILLAR_NAMES, code, lang)) for code, col in PILLAR_COLUMNS.items()]
    measures += [("rank", t("rank", lang)), ("rank_change", t("rank_change", lang))]
    rows = []
    for col, title in measures:
        row = {"measure": title}
        for r in df.iter_rows(named=True):
            row[r["unit_code"]] = _measure_text(col, r[col], r.get(f"{col}_is_shared"), lang)
        rows.append(row)
    for col, mapping, title in (("performance_group", GROUPS, t("group", lang)), ("stage", STAGES, t("stage", lang))):
        row = {"measure": title}
        for r in df.iter_rows(named=True):
            # a unit outside the programme has no group or stage: say so, a blank cell read as missing data
            row[r["unit_code"]] = t("na_short", lang) if r[col] is None else label(mapping, r[col], lang)
        rows.append(row)
    # Numbers and labels share a column here, so AG Grid must not infer a number type from the first row. A city's
    # column is a column of figures (its group and stage below them): right-aligned, digits line up by place.
    cols = [
        {"field": "measure", "headerName": t("measure", lang), "pinned": "left", "minWidth": 150, "sortable": False}
    ]
    cols += [
        {"field": r["unit_code"], "headerName": r[name], "sortable": False, "cellDataType": False, **NUMERIC}
        for r in df.iter_rows(named=True)
    ]
    return cols, rows


def strengths_list(sw: pl.DataFrame, names: dict[str, str], unit_codes: list[str], lang: str) -> list:
    ind = "name_en" if lang == "en" else "name_zh"
    listed: dict[tuple[str, str], list] = {}  # (unit, kind) -> items, in the frame's order (one pass, no filters)
    for r in sw.iter_rows(named=True):
        listed.setdefault((r["unit_code"], r["kind"]), []).append(
            html.Li(f"{r[ind] or r['indicator_code']} ({fmt_number(r['diff'], 1, signed=True)})")
        )
    blocks = []
    for code in unit_codes:

        def items(kind, code=code):
            # an empty list says so in words: a bare dash read as "no data"
            return listed.get((code, kind)) or [html.Li(t(f"sw_none_{kind}", lang), className="ipc-muted")]

        blocks.append(
            html.Div(
                [
                    html.H3(names.get(code, code)),
                    html.Div([html.Strong(t("strengths", lang)), html.Ul(items("strength"), className="ipc-good")]),
                    html.Div([html.Strong(t("weaknesses", lang)), html.Ul(items("weakness"), className="ipc-bad")]),
                ],
                className="ipc-sw-card",
            )
        )
    return blocks


@guarded
def layout(lang: str, year=None, units=None, indicator=None, **_):
    snap = snapshot()
    principal = access.current_principal()
    requested, year = year, queries.resolve_year(snap, year)
    all_units = access.visible_units(principal, queries.units(snap))  # a province compares its own cities
    options = unit_options(all_units, lang)
    visible = set(all_units["unit_code"].to_list())
    chosen = [u for u in parse_units(units) if u in visible] or [u for u in default_units(snap, year) if u in visible]
    if len(chosen) < 2:
        chosen = all_units["unit_code"].head(3).to_list()
    catalog = queries.indicator_catalog(snap)
    ind_col = "name_en" if lang == "en" else "name_zh"
    ind_opts = [{"label": f"{c} {n}", "value": c} for c, n in catalog.select("indicator_code", ind_col).iter_rows()]
    codes = catalog["indicator_code"].to_list()
    indicator = indicator if indicator in codes else ("QLT01" if "QLT01" in codes else (codes[0] if codes else None))
    return [
        dcc.Store(id="cmp-lang", data=lang),
        *url_stores("cmp", ["year", "units", "indicator"]),
        page_title(NAV_KEY, lang),
        *unknown_year_notice(requested, queries.years(snap), year, lang),
        html.Div(
            [
                year_dropdown("cmp-year", queries.years(snap), year, lang),
                html.Div(
                    control(
                        t("cmp_pick", lang), dropdown("cmp-units", lang, options=options, value=chosen, multi=True)
                    ),
                    className="ipc-grow",
                ),
            ],
            className="ipc-controls",
        ),
        html.Div(id="cmp-message", className="ipc-muted"),
        html.Div(
            [
                html.Div(graph("cmp-radar", lang=lang), className="ipc-col"),
                html.Div(
                    [
                        control(
                            t("indicator", lang),
                            dropdown("cmp-indicator", lang, options=ind_opts, value=indicator, clearable=False),
                        ),
                        graph("cmp-trend", lang=lang),
                    ],
                    className="ipc-col",
                ),
            ],
            className="ipc-row ipc-two",
        ),
        section(t("cmp_table", lang), grid("cmp-table", lang, height=None, pagination=False)),
        html.Div(graph("cmp-heatmap", lang=lang), className="ipc-row"),
        section(t("cmp_sw", lang), html.Div(id="cmp-sw", className="ipc-sw")),
    ]


def register_callbacks(app) -> None:
    url_sync(app, "cmp", [("cmp-year", "value"), ("cmp-units", "value"), ("cmp-indicator", "value")])

    @app.callback(
        Output("cmp-radar", "figure"),
        Output("cmp-table", "columnDefs"),
        Output("cmp-table", "rowData"),
        Output("cmp-heatmap", "figure"),
        Output("cmp-sw", "children"),
        Output("cmp-message", "children"),
        Input("cmp-year", "value"),
        Input("cmp-units", "value"),
        State("cmp-lang", "data"),
    )
    @memoised("cmp", check=lambda year, unit_codes, lang: authorize_units(unit_codes))
    def update(year, unit_codes, lang):
        chosen = parse_units(unit_codes)
        if len(chosen) < 2:
            blank = empty_figure(t("cmp_need_two", lang))
            return blank, [], [], blank, [], t("cmp_need_two", lang)
        try:
            snap = snapshot()
            year = int(year)
            radar = figures.pillar_radar(queries.pillar_scores(snap, year, chosen), lang, chosen, year=year)
            cols, rows = side_by_side_table(queries.side_by_side(snap, year, chosen), lang)
            units = queries.units(snap)
            heat = figures.strength_heatmap(
                queries.score_matrix(snap, year, chosen),
                units,
                queries.indicator_catalog(snap, year),
                chosen,
                lang,
                extent=queries.score_difference_extent(snap, year),
                year=year,
            )
            names = dict(zip(units["unit_code"].to_list(), units[name_col(lang)].to_list()))
            sw = strengths_list(queries.strengths_weaknesses(snap, year, chosen), names, chosen, lang)
        except SnapshotUnavailable:
            blank = empty_figure(t("no_snapshot", lang))
            return blank, [], [], blank, [], t("no_snapshot", lang)
        note = "" if not unit_codes or len(unit_codes) <= MAX_UNITS else f"≤ {MAX_UNITS}"
        return radar, grid_columns(cols, rows), rows, heat, sw, note

    @app.callback(
        Output("cmp-trend", "figure"),
        Input("cmp-units", "value"),
        Input("cmp-indicator", "value"),
        State("cmp-lang", "data"),
    )
    @memoised("cmp-trend", check=lambda unit_codes, indicator, lang: authorize_units(unit_codes))
    def update_trend(unit_codes, indicator, lang):
        chosen = parse_units(unit_codes)
        if len(chosen) < 2 or not indicator:
            return empty_figure(t("cmp_need_two", lang))
        try:
            snap = snapshot()
            catalog = queries.indicator_catalog(snap)
            row = catalog.filter(pl.col("indicator_code") == indicator)
            title, name, unit = indicator, "", None
            if row.height:
                name = row["name_en" if lang == "en" else "name_zh"][0]
                unit = row["unit"][0] if "unit" in row.columns else None
                title = f"{indicator} {name}"
            return figures.trend_lines(
                queries.indicator_trend(snap, chosen, indicator), chosen, lang, title, unit=unit, name=name
            )
        except SnapshotUnavailable:
            return empty_figure(t("no_snapshot", lang))
