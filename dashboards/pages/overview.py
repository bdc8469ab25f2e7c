"""年度总览 Overview: headline figures, city map, composite-index distribution, biggest movers."""

from __future__ import annotations

from dash import Input, Output, State, dcc, html

from .. import figures, queries
from ..components import card, graph, guarded, page_title, snapshot, year_dropdown
from ..i18n import t
from ..snapshot import SnapshotUnavailable
from ..theme import empty_figure

PATH = "/"
NAV_KEY = "nav_overview"


def headline_cards(h: dict, lang: str) -> list:
    def fmt(v, digits=0):
        return "–" if v is None else (f"{v:.{digits}f}" if isinstance(v, float) else str(v))

    return [
        card(t("ov_programme_units", lang), fmt(h["programme_units"]), "ov-card-units"),
        card(t("ov_median_index", lang), fmt(h["median_index"], 1), "ov-card-index"),
        card(t("ov_leaders", lang), fmt(h["leaders"]), "ov-card-leaders"),
        card(t("ov_improved", lang), fmt(h["moved_up"]), "ov-card-up"),
        card(t("ov_on_watch", lang), fmt(h["on_watch"]), "ov-card-watch"),
        card(t("ov_exit", lang), fmt(h["exit_candidates"]), "ov-card-exit"),
    ]


@guarded
def layout(lang: str, year=None, **_):
    snap = snapshot()
    year = queries.resolve_year(snap, year)
    return [
        dcc.Store(id="ov-lang", data=lang),
        page_title(NAV_KEY, lang),
        html.Div([year_dropdown("ov-year", queries.years(snap), year, lang)], className="ipc-controls"),
        html.Div(id="ov-cards", className="ipc-cards"),
        html.Div([graph("ov-map")], className="ipc-row"),
        html.Div(
            [html.Div(graph("ov-dist"), className="ipc-col"), html.Div(graph("ov-movers"), className="ipc-col")],
            className="ipc-row ipc-two",
        ),
    ]


def render(year: int, lang: str):
    snap = snapshot()
    return (
        headline_cards(queries.overview_headlines(snap, year), lang),
        figures.city_map(queries.map_points(snap, year), lang),
        figures.composite_histogram(queries.composite_distribution(snap, year), lang),
        figures.movers_bar(queries.biggest_movers(snap, year), lang),
    )


def register_callbacks(app) -> None:
    @app.callback(
        Output("ov-cards", "children"),
        Output("ov-map", "figure"),
        Output("ov-dist", "figure"),
        Output("ov-movers", "figure"),
        Input("ov-year", "value"),
        State("ov-lang", "data"),
    )
    def update(year, lang):
        try:
            return render(int(year), lang)
        except SnapshotUnavailable:
            blank = empty_figure(t("no_snapshot", lang))
            return [], blank, blank, blank
