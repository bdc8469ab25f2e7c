"""The target-ambition section of the city profile (issue 17): one grid of the unit's plan targets with the growth
each requires against its own pre-plan trend and its peers' real growth, and the class and weight that follow.
Kept out of pages/profile.py so the profile only carries a placeholder and one callback registration."""

from __future__ import annotations

from dash import Input, Output, State, html

from . import access
from . import programme_queries as pq
from .components import grid, section, snapshot, unavailable
from .i18n import t
from .snapshot import SnapshotUnavailable

SECTION_ID = "pf-ambition"
GRID_ID = "pf-ambition-grid"


def placeholder(lang: str) -> html.Section:
    return section(
        t("pg_ambition", lang), html.P(t("ambition_hint", lang), className="ipc-muted"), html.Div(id=SECTION_ID)
    )


def ambition_view(snap, unit: str | None, lang: str):
    from .pages.programmes import ambition_columns, ambition_rows

    df = pq.ambition(snap, unit_code=unit) if unit else None
    if df is None:
        return unavailable(lang)
    if df.height == 0:
        return html.P(t("ambition_none", lang), className="ipc-muted")
    cols = [c for c in ambition_columns(lang) if c.get("field") != "unit_name"]  # a group header has no field
    return grid(GRID_ID, lang, cols, ambition_rows(df, lang), height=None, pagination=False)


def register_callbacks(app) -> None:
    @app.callback(Output(SECTION_ID, "children"), Input("pf-unit", "value"), State("pf-lang", "data"))
    def update(unit, lang):
        try:
            snap = snapshot()
            if unit:  # also checked before dispatch; here the callback refuses on its own
                access.authorize(access.current_principal(), "callback", page="/profile", unit=unit, snap=snap)
            return ambition_view(snap, unit, lang)
        except SnapshotUnavailable:
            return unavailable(lang, "no_snapshot")
