"""年度总览 Overview: headline figures, city map, composite-index distribution, biggest movers."""

from __future__ import annotations

import polars as pl
from dash import Input, Output, State, dcc, html

from .. import access, figures, queries
from ..components import (
    BLANK_FIGURE,
    INTEGER,
    ONE_DECIMAL,
    card,
    control,
    graph,
    graph_config,
    grid,
    guarded,
    memoised,
    page_title,
    records,
    section,
    snapshot,
    unknown_year_notice,
    url_stores,
    url_sync,
    year_dropdown,
)
from ..geo import TOPOJSON_ROUTE
from ..i18n import GROUPS, label, province_col, t
from ..snapshot import SnapshotUnavailable
from ..theme import GROUP_ORDER, empty_figure

PATH = "/"
NAV_KEY = "nav_overview"


def headline_cards(
    h: dict, lang: str, own_province: bool = False, province: str | None = None, show_flagged: bool = True
) -> list:
    """The overview's cards; ``own_province``: the flagged cities are counted in the account's provinces (named
    ``province``), and the cards say so (the others count every programme city). Every card says whose figure it
    is and of which year: a provincial office read "65 示范/试点城市数" beside "0 本省退出候选城市" and took the 65
    for its own province. ``show_flagged`` false (an account without a province of its own: viewer, evaluator):
    no flagged-city count, the stages are not published to it, and its "0 本省退出候选城市" read as "none flagged"."""

    def fmt(v, digits=0):
        return "–" if v is None else (f"{v:.{digits}f}" if isinstance(v, float) else str(v))

    if h.get("first_year"):
        h = {**h, "moved_up": t("na_short", lang)}  # no previous ranking: not applicable, not zero

    national = t("card_scope_national", lang).format(year=h["year"])
    # Whose count a flagged card holds is said once: in the note when the province has a name ("关注及整改城市",
    # "广东省 · 2025年"), else in the title ("本省关注及整改城市", "2025年"). Both at once read "本省关注及整改城市 /
    # 广东省 · 2025年" (own province, then the province) on every provincial card.
    own = (
        t("card_scope_province", lang).format(province=province, year=h["year"])
        if province
        else t("card_scope_own", lang).format(year=h["year"])
    )
    own_title = own_province and not province
    cards = [
        card(t("ov_programme_units", lang), fmt(h["programme_units"]), "ov-card-units", national),
        card(t("ov_median_index", lang), fmt(h["median_index"], 1), "ov-card-index", national),
        card(t("ov_leaders", lang), fmt(h["leaders"]), "ov-card-leaders", national),
        card(t("ov_improved", lang), fmt(h["moved_up"]), "ov-card-up", national),
    ]
    if not show_flagged:
        return cards
    return cards + [
        card(
            t("ov_on_watch_own" if own_title else "ov_on_watch", lang),
            fmt(h["on_watch"]),
            "ov-card-watch",
            own if own_province else national,
        ),
        card(
            t("ov_exit_own" if own_title else "ov_exit", lang),
            fmt(h["exit_candidates"]),
            "ov-card-exit",
            own if own_province else national,
        ),
    ]


def scope_name(snap, scope, lang: str) -> str | None:
    """The name of the provinces in ``scope`` (an account's province scope) in ``lang``; None for no province."""
    if not scope:
        return None
    provs = queries.provinces(snap).filter(pl.col("province_code").is_in(list(scope)))
    names = provs[province_col(lang)].to_list()
    return ("、" if lang != "en" else ", ").join(names) or None


MAP_MODES = ("group", "index")


def province_summary(ranked: pl.DataFrame, lang: str) -> list[dict]:
    """Per province: programme units ranked, median composite index, units per performance group."""
    if not ranked.height:
        return []
    prov = province_col(lang)
    aggs = [
        pl.len().alias("units"),
        pl.col("composite_index").median().alias("median_index"),
        *[(pl.col("performance_group") == g).sum().alias(f"n_{g}") for g in GROUP_ORDER],
    ]
    df = ranked.group_by("province_code", prov).agg(aggs).sort("median_index", descending=True, nulls_last=True)
    return records(df.rename({prov: "province"}), 1)


# a count of cities in a group: a few digits under a header of two characters or one word
GROUP_COUNT_MIN_WIDTH = 64


def province_columns(lang: str) -> list[dict]:
    # The counts and the median are sorted, not filtered (no filter button: each header ~24 px narrower), and a
    # count of a group needs no more than its short header: the table stands beside the map at 1920 px (in about
    # 880 px, which its 906 px of English columns overflowed).
    num = {"type": "numericColumn", "filter": False}
    cols = [
        {"field": "province", "headerName": t("province", lang), "minWidth": 120, "pinned": "left"},
        {"field": "units", "headerName": t("ov_prog_units", lang), **num, **INTEGER},
        {"field": "median_index", "headerName": t("ov_median_index", lang), **num, **ONE_DECIMAL},
    ]
    cols += [
        {"field": f"n_{g}", "headerName": label(GROUPS, g, lang), "minWidth": GROUP_COUNT_MIN_WIDTH, **num, **INTEGER}
        for g in GROUP_ORDER
    ]
    return cols


@guarded
def layout(lang: str, year=None, map=None, **_):  # noqa: A002 - the URL parameter is called map
    snap = snapshot()
    requested, year = year, queries.resolve_year(snap, year)
    mode = map if map in MAP_MODES else "group"
    mode_opts = [{"label": t("group", lang), "value": "group"}, {"label": t("composite_index", lang), "value": "index"}]
    return [
        dcc.Store(id="ov-lang", data=lang),
        *url_stores("ov", ["year", "map"]),
        dcc.Store(id="ov-nav"),
        page_title(NAV_KEY, lang),
        *unknown_year_notice(requested, queries.years(snap), year, lang),
        html.Div(
            [
                year_dropdown("ov-year", queries.years(snap), year, lang),
                control(
                    " ",
                    html.A(
                        t("report_button", lang),
                        id="ov-report",
                        href=f"/report.pdf?year={year}&lang={lang}",
                        className="ipc-button",
                        target="_blank",
                        # the national report lists every province's cities: shown only to whom the route gives it
                        # (a provincial office or a viewer clicking it got a bare 403)
                        hidden=not access.may_take_all_provinces(access.current_principal()),
                    ),
                ),
                control(
                    t("ov_map_mode", lang),
                    dcc.RadioItems(id="ov-map-mode", options=mode_opts, value=mode, inline=True, className="ipc-radio"),
                ),
            ],
            className="ipc-controls",
        ),
        html.Div(id="ov-cards", className="ipc-cards"),
        html.Div(
            [
                html.Div(
                    dcc.Graph(
                        id="ov-map",
                        figure=BLANK_FIGURE,
                        className="ipc-graph",
                        # plotly's geo base map from the app (empty), never from cdn.plot.ly
                        config=graph_config(lang, topojsonURL=TOPOJSON_ROUTE),
                        # as tall as its card (style.css: 640 px, on a phone the screen's width and the title's and
                        # legend's lines): at the figure's fixed 640 px a 390 px phone drew China 390 px tall with
                        # empty bands above and below it
                        responsive=True,
                    ),
                    className="ipc-col ipc-map-col",
                ),
                html.Div(
                    section(t("ov_provinces", lang), grid("ov-provinces", lang, province_columns(lang), height=600)),
                    className="ipc-col",
                ),
            ],
            className="ipc-row ipc-two ipc-map-row",
        ),
        html.Div(
            [
                html.Div(graph("ov-dist", lang=lang), className="ipc-col"),
                html.Div(graph("ov-movers", lang=lang), className="ipc-col"),
            ],
            className="ipc-row ipc-two",
        ),
    ]


def scoped_movers(scope, movers: pl.DataFrame) -> pl.DataFrame:
    """The movers chart's rows as an account with province ``scope`` (``Principal.province_scope()``; None = every
    province) may see them: a city's evaluation stage (watch, rectification, exit candidate) is internal detail, so
    it is blanked outside the scope, as ``access.published_rankings`` does in the rankings."""
    if scope is None:
        return movers
    own = pl.col("province_code").is_in(list(scope))
    return movers.with_columns(stage=pl.when(own).then(pl.col("stage")).otherwise(pl.lit(None, movers.schema["stage"])))


def render(year: int, lang: str, mode: str = "group", scope=()):
    """The overview's outputs for an account whose province scope is ``scope`` (None = national; the default,
    an empty scope, shows no city's stage)."""
    snap = snapshot()
    first_year = year == min(queries.years(snap))
    headlines = {
        **queries.overview_headlines(snap, year, None if scope is None else frozenset(scope)),
        "first_year": first_year,
    }
    return (
        headline_cards(
            headlines,
            lang,
            own_province=scope is not None,
            province=scope_name(snap, scope, lang),
            show_flagged=scope is None or bool(scope),
        ),
        # other provinces' cities outside the programme are not published: left off the map, as off the rankings
        figures.city_map(
            access.published_units(None if scope is None else frozenset(scope), queries.map_points(snap, year)),
            lang,
            mode if mode in MAP_MODES else "group",
            index_range=queries.index_colour_range(snap),
            year=year,
        ),
        province_summary(queries.rankings(snap, year), lang),
        figures.composite_histogram(queries.composite_distribution(snap, year), lang, year),
        figures.movers_bar(
            scoped_movers(scope, queries.biggest_movers(snap, year)), lang, first_year=first_year, year=year
        ),
    )


def register_callbacks(app) -> None:
    url_sync(app, "ov", [("ov-year", "value"), ("ov-map-mode", "value")])
    app.clientside_callback(
        "function(year, lang) { return '/report.pdf?' + new URLSearchParams({year: year, lang: lang}).toString(); }",
        Output("ov-report", "href"),
        Input("ov-year", "value"),
        State("ov-lang", "data"),
    )
    # A click on a city opens its profile (clientside: no server round trip, the language is kept).
    app.clientside_callback(
        """function(click, lang) {
            if (!click || !click.points || !click.points.length) { return window.dash_clientside.no_update; }
            var p = click.points[0];
            var code = p.location || (p.customdata && p.customdata[0]);
            if (!code) { return window.dash_clientside.no_update; }
            window.location.href = "/profile?" + new URLSearchParams({lang: lang || "zh", unit: code}).toString();
            return code;
        }""",
        Output("ov-nav", "data"),
        Input("ov-map", "clickData"),
        State("ov-lang", "data"),
    )

    @app.callback(
        Output("ov-cards", "children"),
        Output("ov-map", "figure"),
        Output("ov-provinces", "rowData"),
        Output("ov-dist", "figure"),
        Output("ov-movers", "figure"),
        Input("ov-year", "value"),
        Input("ov-map-mode", "value"),
        State("ov-lang", "data"),
    )
    def update(year, mode, lang):
        # The account's scope is part of the memo key: the stage labels depend on it.
        principal = access.current_principal()
        scope = principal.province_scope()
        return update_scoped(year, mode, lang, None if scope is None else tuple(sorted(scope)))

    @memoised("ov")
    def update_scoped(year, mode, lang, scope):
        try:
            return render(int(year), lang, mode, scope)
        except SnapshotUnavailable:
            blank = empty_figure(t("no_snapshot", lang))
            return [], blank, [], blank, blank
