"""整改/退出风险名单 Watchlist: units on watch, in rectification and exit candidates, with robustness and dossiers."""

from __future__ import annotations

import polars as pl
from dash import Input, Output, State, dcc, html

from pipelines.labels import index_text, rank_text, robustness_code, robustness_text

from .. import access, queries
from ..components import (
    INDEX_TEXT,
    card,
    dossier_dir,
    grid,
    guarded,
    href,
    page_title,
    records,
    snapshot,
    unavailable,
    unknown_year_notice,
    url_stores,
    url_sync,
    year_dropdown,
)
from ..evaluation_text import rules_text
from ..formatting import range_text
from ..i18n import STAGES, label, name_col, province_col, t
from ..security import markdown_text
from .overview import scope_name

PATH = "/watchlist"
NAV_KEY = "nav_watchlist"
DOSSIER_ROUTE = "/dossiers/"


def robust_label(row: dict, lang: str) -> str:
    """A finding's robustness with its mark: robust, not robust, or -- never a bare "–" -- why there is none (no
    flag raised, or no uncertainty runs): labels.robustness_text, the words every surface uses."""
    code = robustness_code(row)
    mark = {"robust": "✔ ", "not_robust": "⚠ "}.get(code, "– ")
    return mark + robustness_text(row, lang)


def robust_term(row: dict, lang: str) -> str:
    """The robustness cell's words: the seed's term with its mark ("⚠ 不稳健", "⚠ not robust"), the sentence after
    the colon left to the cell's tooltip (pure). The whole sentence wrapped to five lines in the 130 px column at
    1366 px ("⚠ not robust: the finding does not hold in the uncertainty runs") and made every row five lines tall."""
    full = robust_label(row, lang)
    for colon in ("：", ": "):
        if colon in full:
            return full.split(colon, 1)[0]
    return full


def watch_rows(df: pl.DataFrame, lang: str, year: int | None = None) -> list[dict]:
    rows = []
    # the index's text from the mart's value, before records() rounds the floats for the grid
    df = df.with_columns(
        composite_index_text=pl.col("composite_index").map_elements(index_text, return_dtype=pl.String)
    )
    for r in records(df, 3):
        profile = href("/profile", lang, unit=r["unit_code"])
        dossiers = [
            f"[HTML]({DOSSIER_ROUTE}{r['dossier_html']})" if r["dossier_html"] else None,
            f"[MD]({DOSSIER_ROUTE}{r['dossier_md']})" if r["dossier_md"] else None,
        ]
        dossiers = [d for d in dossiers if d]
        share = r.get("share_bottom")
        rows.append(
            {
                **r,
                # the name is data: escaped so it can never become a link or a tag in the markdown cell
                "city_link": f"[{markdown_text(r[name_col(lang)])}]({profile})",
                "stage_label": label(STAGES, r["stage"], lang),
                "robust_label": robust_label(r, lang),
                "robust_term": robust_term(r, lang),
                "share_bottom_pct": None if share is None else round(100 * share),
                "targets_label": (
                    f"{r['targets_lagging']}/{r['targets_evaluable']}" if r.get("targets_evaluable") else "–"
                ),
                "rank_label": rank_text(r.get("rank"), r.get("n_ranked"), r.get("rank_is_shared"), lang),
                "rank_interval": range_text(r["p05_rank"], r["p95_rank"]) if r.get("p05_rank") is not None else "–",
                "rules_text": rules_text(r, lang),
                "why_link": f"[{t('fl_link', lang)}]({href('/flag', lang, unit=r['unit_code'], year=year or r.get('year'))})",
                "dossier_link": " · ".join(dossiers) if dossiers else t("dossier_missing", lang),
            }
        )
        # one cell, two lines (a Markdown hard break): why flagged, then the dossier
        rows[-1]["links"] = f"{rows[-1]['why_link']}  \n{rows[-1]['dossier_link']}"
    return rows


def empty_text(principal, lang: str) -> str:
    """The empty list's sentence: a provincial office's list holds its own province only, so it says 本省."""
    return t("wl_empty" if principal.is_national else "wl_empty_province", lang)


# Narrow columns sort but carry no filter button: the button took ~30 px of each header, cutting "Province" to
# "Provi…" (a list of a few dozen cities is sorted, not filtered; stage, city and rules keep their filters).
NARROW = {"filter": False}


def columns(lang: str) -> list[dict]:
    return [
        # Stage and city pinned and wide enough for the English labels ("Exit candidate", "Taizhou (Jiangsu)"):
        # at 1366 px the row scrolls sideways to the why-flagged link, and must still say whose row it is.
        {
            "field": "stage_label",
            "headerName": t("stage", lang),
            "pinned": "left",
            "minWidth": 120 if lang == "zh" else 140,
            "maxWidth": 160,
            "cellClassRules": {
                "ipc-stage-exit": "data.stage == 'exit_candidate'",
                "ipc-stage-rect": "data.stage == 'rectification'",
                "ipc-stage-watch": "data.stage == 'watch'",
            },
        },
        {
            "field": "city_link",
            "headerName": t("city", lang),
            "cellRenderer": "markdown",
            "pinned": "left",
            "minWidth": 120 if lang == "zh" else 130,  # 乌鲁木齐市 fits in 120 px; English names wrap
            "maxWidth": 180,
            "wrapText": True,
            "autoHeight": True,
        },
        # The rest fits beside the two pinned columns at 1366 px (their minimum widths add up to less than the
        # ~1,000 px left; tests pin the sum): the rules fired were cut at the window's edge. Long names wrap.
        {
            "field": province_col(lang),
            **NARROW,
            "headerName": t("province", lang),
            "minWidth": 86,
            "maxWidth": 130,
            "wrapText": True,
            "autoHeight": True,
        },
        {
            "field": "robust_term",
            # the whole sentence on hover: the cell holds the term (robust_term)
            "tooltipField": "robust_label",
            **NARROW,
            "headerName": t("robustness", lang),
            "minWidth": 96 if lang == "zh" else 120,
            "maxWidth": 130,
            "cellClassRules": {
                "ipc-status-good": "data.is_robust === true",
                "ipc-status-bad": "data.is_robust === false",
            },
        },
        {
            "field": "share_bottom_pct",
            **NARROW,
            "headerName": t("share_bottom", lang) + " %",
            "type": "numericColumn",
            "minWidth": 80,
            "maxWidth": 120,
            "headerTooltip": t("share_bottom_hint", lang),
        },
        {"field": "targets_label", "headerName": t("targets_lagging", lang), "minWidth": 92, "maxWidth": 110, **NARROW},
        {
            "field": "composite_index",
            **NARROW,
            "headerName": t("composite_index", lang),
            "type": "numericColumn",
            "minWidth": 100,
            "maxWidth": 120,
            **INDEX_TEXT,
        },
        {
            "field": "rank_label",
            **NARROW,
            "headerName": t("rank", lang),
            "minWidth": 76,
            "maxWidth": 100,
            "comparator": {"function": "Number(valueA.split('/')[0]) - Number(valueB.split('/')[0])"},
        },
        {"field": "rank_interval", "headerName": t("rank_interval", lang), "minWidth": 96, "maxWidth": 140, **NARROW},
        {
            "field": "rules_text",
            "headerName": t("rules_fired", lang),
            "minWidth": 150,
            "width": 360,  # the grid is fitted to the window from these widths: the rules take the most room
            "wrapText": True,
            "autoHeight": True,
        },
        # why flagged and the dossier in one cell, one above the other: two link columns did not fit at 1366 px
        {
            "field": "links",
            **NARROW,
            "headerName": t("wl_links", lang),
            "cellRenderer": "markdown",
            "cellRendererParams": {"linkTarget": "_blank"},  # the list stays open behind the dossier
            "minWidth": 100,
            "maxWidth": 150,
            "wrapText": True,
            "autoHeight": True,
        },
    ]


@guarded
def layout(lang: str, year=None, **_):
    snap = snapshot()
    requested, year = year, queries.resolve_year(snap, year)
    return [
        dcc.Store(id="wl-lang", data=lang),
        *url_stores("wl", ["year"]),
        page_title(NAV_KEY, lang, t("wl_title", lang)),
        *unknown_year_notice(requested, queries.years(snap), year, lang),
        html.Div([year_dropdown("wl-year", queries.years(snap), year, lang)], className="ipc-controls"),
        html.Div(id="wl-cards", className="ipc-cards"),
        html.Div(id="wl-body"),
    ]


def watch_cards(
    counts: dict[str, int], year: int, lang: str, national: bool = True, province: str | None = None
) -> list:
    """The watchlist's count per stage, each saying whose count it is and of which year (pure), as the overview's
    cards do: "2 整改" read alike for the nation and for a province's own cities, and the year was only in the
    dropdown above. ``national``: every province's cities; else ``province`` names the account's (no note
    without a name)."""
    if national:
        note = t("card_scope_national", lang).format(year=year)
    elif province:
        note = t("card_scope_province", lang).format(province=province, year=year)
    else:
        note = None
    return [card(label(STAGES, s, lang), str(counts.get(s, 0)), f"wl-card-{s}", note) for s in queries.WATCH_STAGES]


def register_callbacks(app) -> None:
    url_sync(app, "wl", [("wl-year", "value")])

    @app.callback(
        Output("wl-cards", "children"),
        Output("wl-body", "children"),
        Input("wl-year", "value"),
        State("wl-lang", "data"),
    )
    def update(year, lang):
        snap = snapshot()
        principal = access.current_principal()
        df = access.only_visible(principal, snap, queries.watchlist(snap, int(year), dossier_dir()))
        if df is None:
            return [], unavailable(lang)
        counts = {s: int((df["stage"] == s).sum()) for s in queries.WATCH_STAGES}
        scope = principal.province_scope() if principal else frozenset()
        cards = watch_cards(counts, int(year), lang, national=scope is None, province=scope_name(snap, scope, lang))
        if not df.height:
            return cards, html.P(empty_text(principal, lang), className="ipc-muted")
        # Sized to its rows: a watchlist is a few dozen cities at most and should read like a list, not a box.
        return cards, grid(
            "wl-grid", lang, columns(lang), watch_rows(df, lang, int(year)), height=None, pagination=False
        )
