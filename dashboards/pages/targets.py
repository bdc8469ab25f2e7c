"""目标进展 Programme-wide target progress: the share of the programme cities' key targets achieved, on track or
lagging, by plan, province and city, and the most-lagging targets.

Reads ``marts.fct_target_status`` (one row per unit, plan and indicator, status as of the latest data year).
Targets of zero (or none, or equal to their baseline) are invalid and counted apart, never as achieved.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from dash import Input, Output, State, dcc, html

from pipelines.counts import count_en

from .. import queries
from ..components import (
    INTEGER,
    ONE_DECIMAL,
    dropdown,
    graph,
    grid,
    grid_columns,
    guarded,
    href,
    page_title,
    records,
    section,
    snapshot,
    unavailable,
    url_stores,
    url_sync,
)
from ..figures import with_data_note_line
from ..formatting import fmt_value, progress_cells, progress_column, progress_footnote, range_text, target_digits
from ..i18n import PLANS, TARGET_STATUS, label, name_col, norm_lang, province_col, t
from ..security import markdown_text, plot_text
from ..theme import OKABE_ITO, TITLE_MARGIN_PX, base_layout, empty_figure

PATH = "/targets"
NAV_KEY = "nav_targets"
# Status -> bucket shown to officials; colours colour-blind safe, "lagging" the attention colour.
BUCKETS = {
    "achieved": "achieved",
    "on_track": "on_track",
    "acceleration_needed": "acceleration_needed",
    "limited_progress": "lagging",
    "deteriorating": "lagging",
    "insufficient_data": "insufficient_data",
    "invalid_target": "invalid_target",
}
BUCKET_ORDER = ["achieved", "on_track", "acceleration_needed", "lagging", "insufficient_data", "invalid_target"]
BUCKET_COLORS = {
    "achieved": OKABE_ITO["blue"],
    "on_track": OKABE_ITO["bluish_green"],
    "acceleration_needed": OKABE_ITO["orange"],
    "lagging": OKABE_ITO["reddish_purple"],
    "insufficient_data": "#B8B8B8",
    "invalid_target": "#6b7280",
}


def summary_text(df: pl.DataFrame, lang: str) -> str:
    """The targets counted by every status the chart shows, in its order and words, so the parts add up to the
    total: "640 targets: 238 achieved, 19 on track, 296 lagging, 14 invalid" left out the 73 needing acceleration
    and those without enough data, and did not add up (pure)."""
    sep = "，" if norm_lang(lang) == "zh" else ", "
    parts = sep.join(
        t("tg_summary_part", lang).format(label=bucket_label(b, lang), n=int((df["bucket"] == b).sum()))
        for b in BUCKET_ORDER
    )
    # as of which data year: the page said "latest data year" and never which (a city's latest may be earlier)
    years = df["current_year"].drop_nulls() if "current_year" in df.columns else None
    as_of = ""
    if years is not None and years.len():
        lo, hi = int(years.min()), int(years.max())
        as_of = t("tg_as_of", lang).format(years=str(hi) if lo == hi else range_text(lo, hi))
    return t("tg_summary", lang).format(
        total=f"{df.height:,}", targets=count_en(df.height, "target"), as_of=as_of, parts=parts
    )


def bucket_label(bucket: str, lang: str) -> str:
    if bucket == "lagging":
        return t("tg_lagging", lang)
    if bucket == "invalid_target":
        return t("target_invalid_short", lang)
    return label(TARGET_STATUS, bucket, lang)


def with_buckets(status: pl.DataFrame) -> pl.DataFrame:
    """Each target's bucket from the mart's status alone: an invalid target (missing, zero or not beyond its
    baseline in the indicator's direction: fct_target_status_year.is_invalid_target, the one definition of the rule) is the mart's
    'invalid_target'; the page re-derived it from the values with a copy of the rule that could drift."""
    return status.with_columns(bucket=pl.col("status").replace_strict(BUCKETS, default="insufficient_data"))


def shares(df: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Per group: number of targets and the share (%) in each bucket."""
    counts = df.group_by(*by).agg(
        pl.len().alias("targets"), *[(pl.col("bucket") == b).sum().alias(f"n_{b}") for b in BUCKET_ORDER]
    )
    return counts.with_columns(
        *[(100 * pl.col(f"n_{b}") / pl.col("targets")).alias(f"pct_{b}") for b in BUCKET_ORDER]
    ).sort("pct_lagging", descending=True)


def plan_figure(by_plan: pl.DataFrame, lang: str) -> go.Figure:
    if not by_plan.height:
        return empty_figure(t("no_data", lang))
    # an unknown plan is shown by its id, which is data: Plotly renders <a href> in labels
    plans = [plot_text(label(PLANS, p, lang)) for p in by_plan["plan_id"].to_list()]
    fig = go.Figure()
    for b in BUCKET_ORDER:
        fig.add_trace(
            go.Bar(
                y=plans,
                x=by_plan[f"pct_{b}"].to_list(),
                orientation="h",
                name=bucket_label(b, lang),
                marker_color=BUCKET_COLORS[b],
                customdata=by_plan[f"n_{b}"].to_list(),
                hovertemplate="%{y}: %{x:.0f}% (%{customdata})<extra>" + bucket_label(b, lang) + "</extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title=t("tg_share_axis", lang), range=[0, 100], ticksuffix="%")
    base_layout(fig, t("tg_by_plan", lang), height=340)
    # Above the bars, under the title: below the plot the legend covered the x-axis title. In the bars' own
    # order (stacked bars list their legend reversed by default).
    fig.update_layout(
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "traceorder": "normal"},
        margin={"t": TITLE_MARGIN_PX + PLAN_LEGEND_PX},
    )
    # the data note on a line of its own above the legend: in the plot's middle it lay between the two plans' bars
    # (bars across the whole width leave no free corner)
    return with_data_note_line(fig, above_px=PLAN_LEGEND_PX)


# the plan chart's legend line between its title and its bars (one line of 14 px type, its padding, and the 2 % of
# the plot it is lifted by)
PLAN_LEGEND_PX = 32


def with_year(value: str, year) -> str:
    """A value with the year it is of, as the profile's targets say it ("21.4 (2016)"); the value alone without one."""
    return value if year is None or value in ("", "–") else f"{value} ({int(year)})"


def lagging_rows(df: pl.DataFrame, units: pl.DataFrame, catalog: pl.DataFrame, lang: str, n: int = 25) -> list[dict]:
    """The ``n`` lagging targets furthest behind (lowest progress index), values in the indicator's unit."""
    ind = "name_en" if lang == "en" else "name_zh"
    names = dict(zip(units["unit_code"].to_list(), units[name_col(lang)].to_list()))
    ind_names = dict(zip(catalog["indicator_code"].to_list(), catalog[ind].to_list()))
    ind_units = dict(zip(catalog["indicator_code"].to_list(), catalog["unit"].to_list()))
    # Furthest from the target relative to the target itself (current ÷ target): the progress index explodes when
    # baseline and target are close (a closure rate from 98 % to 99 %), so it would list those first.
    directions = dict(zip(catalog["indicator_code"].to_list(), catalog["direction"].to_list()))
    lag = df.filter(pl.col("bucket") == "lagging").with_columns(
        lower_is_better=pl.col("indicator_code").replace_strict(directions, default="higher") == "lower"
    )
    attainment = (
        pl.when(pl.col("lower_is_better"))
        .then(pl.col("target_value") / pl.col("current_value"))
        .otherwise(pl.col("current_value") / pl.col("target_value"))
    )
    worst = lag.with_columns(attainment=attainment).sort("attainment", "progress_index", nulls_last=True).head(n)
    rows = []
    worst_rows = worst.to_dicts()
    # one precision per indicator down the columns (as on the profile's target table), not one per row
    digits = target_digits(worst_rows, ind_units)
    for r in worst_rows:
        unit = ind_units.get(r["indicator_code"])
        d = digits[r["indicator_code"]]
        rows.append(
            {
                # a Markdown cell: the name from data is escaped so it can never become a link or a tag
                "city": f"[{markdown_text(names.get(r['unit_code'], r['unit_code']))}]"
                f"({href('/profile', lang, unit=r['unit_code'])})",
                "plan": label(PLANS, r["plan_id"], lang),
                "indicator": f"{r['indicator_code']} {ind_names.get(r['indicator_code'], '')}",
                # each value with its year: "0.00 per 10k people" under "Current" did not say of which year (a
                # 2016–2020 plan's latest is 2020, another city's may be earlier than the page's 2025)
                "baseline": with_year(
                    fmt_value(r["baseline_value"], unit, d, lang, with_unit=True), r.get("baseline_year")
                ),
                "target": with_year(fmt_value(r["target_value"], unit, d, lang, with_unit=True), r.get("target_year")),
                "current": with_year(
                    fmt_value(r["current_value"], unit, d, lang, with_unit=True), r.get("current_year")
                ),
                **progress_cells(r["progress_index"], lang),
                "status": label(TARGET_STATUS, r["status"], lang),
            }
        )
    return rows


# The share tables: side by side at 1366 px the last column scrolled under the edge, cutting "20.0" to "20." (a
# wrong figure); they are stacked now, and their minimum widths still add up to less than half a 1366 px page
# (tests pin the sum). Names wrap instead of ending in "…" ("新疆维吾尔自治区").
SHARE_NAME_WIDTH = 110
SHARE_COUNT_WIDTH = 72
SHARE_PCT_WIDTH = 100


def share_columns(first: dict, lang: str) -> list[dict]:
    # no filter button on the narrow figures: it took ~30 px of a header ("Acceleration needed %" was cut); they sort
    num = {"type": "numericColumn", "filter": False}
    pct = {**num, **ONE_DECIMAL}
    return [
        {**first, "minWidth": SHARE_NAME_WIDTH, "wrapText": True, "autoHeight": True},
        {"field": "targets", "headerName": t("tg_targets", lang), "minWidth": SHARE_COUNT_WIDTH, **num, **INTEGER},
        *[
            {"field": f"pct_{b}", "headerName": bucket_label(b, lang) + " %", "minWidth": SHARE_PCT_WIDTH, **pct}
            # every status the summary line and the chart count, so a row's shares add up to 100 % (河南省 read
            # 22.0 + 2.0 + 6.0 + 64.0 = 94: the targets without enough data and the invalid ones were left out)
            for b in BUCKET_ORDER
        ],
    ]


@guarded
def layout(lang: str, plan=None, **_):
    snap = snapshot()
    plans = [{"label": label(PLANS, p, lang), "value": p} for p in PLANS]
    plan = plan if plan in PLANS else None
    return [
        dcc.Store(id="tg-lang", data=lang),
        *url_stores("tg", ["plan"]),
        page_title(NAV_KEY, lang, t("tg_hint", lang)),
        html.Div(
            [html.Div(dropdown("tg-plan", lang, options=plans, value=plan, placeholder=t("tg_all_plans", lang)))],
            className="ipc-controls",
        ),
        html.Div(id="tg-summary", className="ipc-muted"),
        html.Div(graph("tg-plan-fig", lang=lang), className="ipc-row"),
        # one above the other: side by side at 1366 px each had ~590 px for six columns, and the last figure
        # scrolled under the edge ("20." for 20.0) while the English headers were cut
        section(t("tg_by_province", lang), grid("tg-province", lang, height=420)),
        section(t("tg_by_city", lang), grid("tg-city", lang, height=420)),
        section(
            t("tg_most_lagging", lang),
            grid("tg-lagging", lang, height=None, pagination=False),
            html.P(id="tg-lagging-note", className="ipc-muted"),
        ),
        html.Div(id="tg-unavailable"),
        html.Span(str(snap.path.name), hidden=True),
    ]


def render(plan: str | None, lang: str):
    snap = snapshot()
    status = queries.programme_target_status(snap)
    if status is None:
        blank = empty_figure(t("not_available", lang))
        return "", blank, [], [], [], [], [], [], unavailable(lang), None
    df = with_buckets(status)
    by_plan = shares(df, ["plan_id"]).sort("plan_id")
    if plan:
        df = df.filter(pl.col("plan_id") == plan)
    units = queries.units(snap)
    prov = province_col(lang)
    with_names = df.join(units.select("unit_code", "province_code", prov, name_col(lang)), on="unit_code", how="left")
    by_province = shares(with_names, ["province_code", prov]).rename({prov: "name"})
    by_city = shares(with_names, ["unit_code", name_col(lang)]).rename({name_col(lang): "name"})
    catalog = queries.indicator_catalog(snap)
    lagging = lagging_rows(df, units, catalog, lang)
    summary = summary_text(df, lang)
    name_col_def = {"field": "name", "headerName": t("province", lang), "pinned": "left", "minWidth": 120}
    city_col_def = {**name_col_def, "headerName": t("city", lang)}
    lag_cols = [
        {
            "field": "city",
            "headerName": t("city", lang),
            "cellRenderer": "markdown",
            "minWidth": 110,
            "wrapText": True,
            "autoHeight": True,
        },
        {"field": "plan", "headerName": t("plan", lang), "minWidth": 130},
        {
            "field": "indicator",
            "headerName": t("indicator", lang),
            "minWidth": 220,
            "wrapText": True,
            "autoHeight": True,
        },
        {"field": "baseline", "headerName": t("baseline", lang), "wrapText": True, "autoHeight": True},
        {"field": "target", "headerName": t("target", lang), "wrapText": True, "autoHeight": True},
        {"field": "current", "headerName": t("current", lang), "wrapText": True, "autoHeight": True},
        progress_column(lang),
        {"field": "status", "headerName": t("status", lang)},
    ]
    return (
        summary,
        plan_figure(by_plan, lang),
        grid_columns(share_columns(name_col_def, lang), province_rows := records(by_province, 1)),
        province_rows,
        grid_columns(share_columns(city_col_def, lang), city_rows := records(by_city, 1)),
        city_rows,
        grid_columns(lag_cols, lagging),
        lagging,
        None,
        progress_footnote(lagging, lang),
    )


def register_callbacks(app) -> None:
    url_sync(app, "tg", [("tg-plan", "value")])

    @app.callback(
        Output("tg-summary", "children"),
        Output("tg-plan-fig", "figure"),
        Output("tg-province", "columnDefs"),
        Output("tg-province", "rowData"),
        Output("tg-city", "columnDefs"),
        Output("tg-city", "rowData"),
        Output("tg-lagging", "columnDefs"),
        Output("tg-lagging", "rowData"),
        Output("tg-unavailable", "children"),
        Output("tg-lagging-note", "children"),
        Input("tg-plan", "value"),
        State("tg-lang", "data"),
    )
    def update(plan, lang):
        return render(plan, lang)
