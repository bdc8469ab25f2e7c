"""为何被标记 Why this city is flagged: the rules that fired with their thresholds, how robust the flag is, what
happens next and by when, and the multi-year index and rank with the rank-interval band.

Linked from the watchlist (every row), the profile (its summary) and, through the profile, from the dossier's city.
Thresholds are read from the rules seed as published (``marts.evaluation_rules``), never restated here.
"""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import polars as pl
from dash import dcc, html

from pipelines.evaluation.rules import acceptance_bands_text
from pipelines.labels import index_text, published_index, rank_text

from .. import access, queries
from ..components import graph_config, guarded, href, page_title, section, snapshot
from ..evaluation_text import RULE_ORDER, rule_description, rules_text
from ..formatting import labelled, range_text, true_minus
from ..i18n import GROUPS, STAGES, label, name_col, norm_lang, t
from ..theme import OKABE_ITO, VALUE_AXIS, base_layout, empty_figure
from .watchlist import robust_label

PATH = "/flag"
NAV_KEY = "nav_flag"

# component ids
EMPTY_ID = "fl-empty"
EMPTY_WATCHLIST_LINK = "fl-empty-watchlist"
EMPTY_OVERVIEW_LINK = "fl-empty-overview"
FLAG_STAGES = ("watch", "rectification", "exit_candidate", "exemplary")
EVALUATION_DAY = (3, 1)  # the annual evaluation runs on 1 March for the previous year (automation schedule)


def _date(year: int, month: int, day: int) -> str:
    return dt.date(year, month, day).isoformat()


def grace_months_of(year: int) -> int:
    """RPT.grace_months of the rules in force in ``year`` (management measures: not reporting within six months
    of the year end counts as exit), as fct_reporting_status reads it for that year's reports."""
    from pipelines.evaluation.rules import load_rules

    try:
        rules = load_rules(year=year)
    except ValueError:  # a year outside rules_versions.csv: the latest rules
        rules = load_rules()
    return int(rules["RPT.grace_months"])


def report_deadline(snap, unit: str, data_year: int) -> str:
    """The last day (China Standard Time, the whole day counts) by which the unit's reports of ``data_year`` must
    be received, or it is not_reported and counts as exit: fct_reporting_status.grace_end_date when the mart has
    the year, else the same rule (year end + RPT.grace_months of that year). The page said "within six months of
    the published result" (1 September), a date no mart judges on, while the status turns not_reported after
    30 June."""
    if snap is not None and snap.has("marts.fct_reporting_status"):
        from pipelines.evaluation.rules import REPORT_DEADLINES_SQL

        got = snap.query(
            f"select report_grace_end_date as d from ({REPORT_DEADLINES_SQL}) where unit_code = ? and year = ?",
            (unit, int(data_year)),
        )
        if got.height and got["d"][0] is not None:
            return got["d"][0].isoformat()
    from pipelines.evaluation.rules import report_grace_end

    return report_grace_end(int(data_year)).isoformat()


def next_steps(
    stage: str,
    year: int,
    cycle_end: int | None,
    rules: dict,
    lang: str,
    judged_year: int | None = None,
    report_by: str | None = None,
) -> list[str]:
    """What happens next and by when, for a unit at ``stage`` in evaluation year ``year``. ``judged_year``: the
    year the cycle's verdict is judged in (fct_evaluation_cycle.judged_year; earlier than ``cycle_end`` for a cycle
    cut short, e.g. a pilot promoted mid-cycle), the cycle verdict being published on the next evaluation day.
    ``report_by``: the last day the reports of year + 1 count (report_deadline, as fct_reporting_status judges)."""
    zh = norm_lang(lang) == "zh"
    next_eval = _date(year + 2, *EVALUATION_DAY)  # year+1's data is evaluated on 1 March of year+2
    report_by = report_by or report_deadline(None, "", year + 1)
    months = grace_months_of(year + 1)
    cycle_eval = _date((judged_year or cycle_end or year) + 1, *EVALUATION_DAY)
    cycle_end = judged_year or cycle_end  # a cycle cut short ends in the year it is judged in
    watch_years = rules.get(("R1", "watch_years"), "2")
    if stage == "watch":
        return (
            [
                f"下一次年度评价：{next_eval}（评价{year + 1}年数据）。",
                f"若连续{watch_years}年处于关注，将进入整改（规则R1）。",
                f"本周期（至{cycle_end}年）末综合指数倒退的，将进入整改（规则R2，{cycle_eval}判定）。",
            ]
            if zh
            else [
                f"Next annual evaluation: {next_eval} (data of {year + 1}).",
                f"Watch in {watch_years} consecutive years puts the city in rectification (rule R1).",
                f"A composite index that regresses over the cycle (to {cycle_end}) also does (rule R2, judged {cycle_eval}).",
            ]
        )
    if stage == "rectification":
        return (
            [
                f"{year + 1}年度报送须在年度结束后{months}个月内收到（截至{report_by}，北京时间，含当日），"
                "逾期未报送视为退出。",
                f"下一次年度评价：{next_eval}；周期末（{cycle_eval}）仍未改善的，列为退出候选（规则X1）。",
            ]
            if zh
            else [
                f"The reports of {year + 1} must be received within {months} months of the year end "
                f"(by {report_by} inclusive, China Standard Time); not reporting counts as exit.",
                f"Next annual evaluation: {next_eval}; not improved by the cycle verdict ({cycle_eval}) makes it "
                "an exit candidate (rule X1).",
            ]
        )
    if stage == "exit_candidate":
        return (
            [
                f"{year + 1}年度报送须在{report_by}（北京时间，含当日）前收到，逾期视为退出；国家知识产权局据验收评分作出决定："
                f"{acceptance_bands_text('zh', year)}。",
                f"下一次年度评价：{next_eval}。",
            ]
            if zh
            else [
                f"The reports of {year + 1} must be received by {report_by} (inclusive, China Standard Time) or "
                f"count as exit; CNIPA decides by the acceptance score: "
                f"{acceptance_bands_text('en', year)}.",
                f"Next annual evaluation: {next_eval}.",
            ]
        )
    if stage == "exemplary":
        return (
            [f"作为示范城市推广经验；下一次年度评价：{next_eval}。"]
            if zh
            else [f"Its practice is promoted as exemplary; next annual evaluation: {next_eval}."]
        )
    return [f"下一次年度评价：{next_eval}。" if zh else f"Next annual evaluation: {next_eval}."]


def param_value_text(param: str, value, lang: str) -> str:
    """A rule parameter's value as the reader reads it (pure): a share in per cent (0.8 → 80%), a performance
    group by its label (emerging → 起步 / Emerging), anything else as published. The flag page showed the seed's
    raw ``bottom_group = emerging`` and ``robust_share = 0.8`` on the Chinese page, beside "100%" for the same
    kind of share."""
    if value is None or value == "":
        return "–"
    text = str(value)
    if param.endswith("_share"):
        try:
            return true_minus(f"{100 * float(text):g}%")
        except ValueError:
            return text
    if text in GROUPS:
        return label(GROUPS, text, lang)
    return true_minus(text)


def rule_thresholds(rules: pl.DataFrame, fired: list[str], lang: str) -> list:
    """For each fired rule: its parameters as published (description in the reader's language and the value as
    ``param_value_text`` shows it; the seed's parameter name is the item's tooltip, for evaluators)."""
    sep = ": " if norm_lang(lang) == "en" else "："
    items = []
    for code in [*fired, "GEN"]:
        part = rules.filter(pl.col("rule_code") == code.upper())
        if not part.height:
            continue
        rows = [
            html.Li(
                [rule_description(r, lang), sep, html.Strong(param_value_text(r["param"], r["value"], lang))],
                title=f"{r['param']} = {r['value']}",
            )
            for r in part.iter_rows(named=True)
            if r["param"] != "enabled" and (code != "GEN" or r["param"] == "robust_share")
        ]
        heading = t("fl_general_rules", lang) if code.upper() == "GEN" else code.upper()
        items.append(html.Div([html.Strong(heading), html.Ul(rows)], className="ipc-rule"))
    return items


def history_figure(history: pl.DataFrame, lang: str) -> go.Figure:
    """Composite index (left) and rank with its 5–95 % interval band (right, 1 = best) per year."""
    if not history.height:
        return empty_figure(t("no_data", lang))
    h = history.sort("year")
    years = h["year"].to_list()
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=years,
            # the published figure (index_text, half up in exact decimals), as the chip above and the rankings show
            # it: d3's .1f of the unrounded index read 80.0 on hover where the page said 80.1
            y=[published_index(v) for v in h["composite_index"].to_list()],
            customdata=[index_text(v) for v in h["composite_index"].to_list()],
            mode="lines+markers",
            name=t("composite_index", lang),
            line={"color": OKABE_ITO["blue"], "width": 3},
            xaxis="x",
            yaxis="y",
            hovertemplate="%{x}: %{customdata}<extra></extra>",
        )
    )
    band = h.filter(pl.col("p05_rank").is_not_null())
    if band.height:
        fig.add_trace(
            go.Scatter(
                x=band["year"].to_list() + band["year"].to_list()[::-1],
                y=band["p95_rank"].to_list() + band["p05_rank"].to_list()[::-1],
                fill="toself",
                fillcolor="rgba(230,159,0,0.25)",
                line={"width": 0},
                name=t("rank_interval", lang),
                hoverinfo="skip",
                xaxis="x2",
                yaxis="y2",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=years,
            y=h["rank"].to_list(),
            mode="lines+markers",
            name=t("rank", lang),
            line={"color": OKABE_ITO["vermillion"], "width": 3},
            xaxis="x2",
            yaxis="y2",
            hovertemplate="%{x}: %{y:d}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis={"domain": [0, 0.46], "dtick": 1, "title": {"text": t("year", lang)}},
        yaxis={"title": {"text": t("composite_index_axis", lang)}, **VALUE_AXIS},
        xaxis2={"domain": [0.56, 1], "dtick": 1, "anchor": "y2", "title": {"text": t("year", lang)}},
        yaxis2={
            "anchor": "x2",
            "autorange": "reversed",
            "title": {"text": t("rank_axis", lang)},
            "tickformat": "d",
        },
    )
    base_layout(fig, t("fl_history", lang), height=420)
    fig.update_layout(legend={"orientation": "h", "y": -0.25})
    return fig


def flag_history(snap, unit: str) -> pl.DataFrame:
    if not snap.has(queries.EVAL):
        return pl.DataFrame()
    return snap.query(
        f"select year, stage, composite_index, rank, n_ranked, p05_rank, p95_rank, is_robust, cycle_start "
        f"from {queries.EVAL} where unit_code = ? order by year",
        (unit,),
    ).with_columns(pl.col("p05_rank", "p95_rank").round(0))


def evaluation_row(snap, unit: str, year: int) -> dict | None:
    if not snap.has(queries.EVAL):
        return None
    rows = snap.query(f"select * from {queries.EVAL} where unit_code = ? and year = ?", (unit, year)).to_dicts()
    return rows[0] if rows else None


def rules_table(snap, version: str | None) -> pl.DataFrame:
    if not snap.has("marts.evaluation_rules"):
        return pl.DataFrame(schema={"rule_code": pl.String, "param": pl.String, "value": pl.String})
    df = snap.query("select * from marts.evaluation_rules")
    df = df.with_columns(pl.col(c).cast(pl.String) for c in ("rules_version", "rule_code", "param", "value"))
    if version is not None:
        df = df.filter(pl.col("rules_version") == str(version))
    return df


def flagged_year(snap, unit: str, year=None) -> int | None:
    """The requested year, else the latest year in which the unit carried a flag, else the latest year."""
    history = flag_history(snap, unit)
    if not history.height:
        return None
    years = history["year"].to_list()
    try:
        if year is not None and int(year) in years:
            return int(year)
    except (TypeError, ValueError):
        pass
    flagged = history.filter(pl.col("stage").is_in(FLAG_STAGES))["year"].to_list()
    return (flagged or years)[-1]


def cycle_judged_year(snap, unit: str, row: dict) -> int | None:
    """The year the cycle of ``row`` (the unit's evaluation row of the year) is judged in: the mart's
    fct_evaluation_cycle.judged_year, the one definition the acceptance score, the profile and the dossier read (a
    pilot promoted mid-cycle or a unit that withdrew is judged in its last evaluated year). A cycle still running
    has no judged year yet: its verdict is due at the cycle's end, so the page dates it by ``cycle_end``. The page
    never works the year out from the calendar itself: a second rule could disagree with the mart's."""
    cycle_end = row.get("cycle_end")
    if row.get("cycle_start") is None or not snap.has(queries.CYCLE):
        return cycle_end
    rows = snap.query(
        f"select judged_year from {queries.CYCLE} where unit_code = ? and cycle_start = ?",
        (unit, row.get("cycle_start")),
    ).to_dicts()
    judged = rows[0]["judged_year"] if rows else None
    return cycle_end if judged is None else int(judged)


def flag_href(unit: str, year: int | None, lang: str) -> str:
    return href(PATH, lang, unit=unit, year=year)


def empty_state(lang: str, unit=None) -> html.Div:
    """The page opened without a city, or with a code no city has: what happened, what to do, and the links to do
    it (a bare sentence left the official on a page with no way on but the browser's back button)."""
    what = t("fl_unknown_city", lang).format(code=str(unit)[:12]) if unit else t("fl_no_city", lang)
    return html.Div(
        [
            html.P(what),
            html.P(t("fl_pick_from_watchlist", lang), className="ipc-muted"),
            html.P(
                [
                    dcc.Link(t("fl_open_watchlist", lang), href=href("/watchlist", lang), id=EMPTY_WATCHLIST_LINK),
                    " · ",
                    dcc.Link(t("fl_open_overview", lang), href=href("/", lang), id=EMPTY_OVERVIEW_LINK),
                ]
            ),
        ],
        id=EMPTY_ID,
        className="ipc-unavailable",
    )


@guarded
def layout(lang: str, unit=None, year=None, **_):
    snap = snapshot()
    info = queries.unit_info(snap, unit) if unit else None
    if info is None:
        return [page_title(NAV_KEY, lang), empty_state(lang, unit)]
    # the one layout that draws a city's data: it checks the city itself, as the callbacks of the other pages do
    # (the request gate checks it first, but lets a request pass while no snapshot can be read to check it with)
    access.authorize(access.current_principal(), "page", page=PATH, unit=unit, snap=snap, target=f"{PATH}?unit={unit}")
    year = flagged_year(snap, unit, year)
    row = evaluation_row(snap, unit, year) if year else None
    name = info[name_col(lang)]
    # the year as every title writes it ("2025年" in Chinese; a bare "2025" beside the city read as a code)
    head = page_title(NAV_KEY, lang, t("title_year", lang).format(title=name, year=year) if year else f"{name} · –")
    links = html.P(
        [
            dcc.Link(t("profile_link", lang), href=href("/profile", lang, unit=unit)),
            " · ",
            dcc.Link(t("nav_watchlist", lang), href=href("/watchlist", lang, year=year)),
        ]
    )
    if row is None:
        return [head, links, html.P(t("na_not_programme", lang), className="ipc-muted")]
    fired = [rule for rule in RULE_ORDER if row.get(f"fired_{rule}")]
    rules = rules_table(snap, row.get("rules_version"))
    rule_values = {(r["rule_code"], r["param"]): r["value"] for r in rules.iter_rows(named=True)}
    stage = row.get("stage") or "normal"
    judged = cycle_judged_year(snap, unit, row)
    share = row.get("share_bottom")
    p05, p95 = row.get("p05_rank"), row.get("p95_rank")
    robust_share = rule_values.get(("GEN", "robust_share"))
    robust_text = [
        html.P(robust_label({**row, "stage": stage}, lang), className="ipc-robust-mark"),
        html.Ul(
            [
                html.Li(labelled(t("share_bottom", lang), "–" if share is None else f"{100 * share:.0f}%", lang)),
                html.Li(
                    labelled(
                        t("rank", lang),
                        rank_text(row.get("rank"), row.get("n_ranked"), row.get("rank_is_shared"), lang),
                        lang,
                    )
                    + " · "
                    + labelled(
                        t("rank_interval", lang), "–" if p05 is None else range_text(round(p05), round(p95)), lang
                    )
                ),
                html.Li(t("fl_robust_rule", lang).format(share=param_value_text("robust_share", robust_share, lang))),
            ]
        ),
    ]
    return [
        head,
        links,
        html.Div(
            [
                html.Span(label(STAGES, stage, lang), className="ipc-chip ipc-chip-stage", id="fl-stage"),
                html.Span(
                    f"{t('composite_index', lang)} {index_text(row.get('composite_index'))}", className="ipc-chip"
                ),
            ],
            className="ipc-profile-summary",
        ),
        section(
            t("fl_why", lang),
            html.P(rules_text(row, lang) or t("fl_no_rules", lang), id="fl-rules"),
            *rule_thresholds(rules, fired, lang),
        ),
        section(t("robustness", lang), *robust_text),
        section(
            t("fl_next", lang),
            html.Ul(
                [
                    html.Li(s)
                    for s in next_steps(
                        stage,
                        year,
                        row.get("cycle_end"),
                        rule_values,
                        lang,
                        judged,
                        report_deadline(snap, unit, year + 1),
                    )
                ],
                id="fl-next",
            ),
        ),
        html.Div(
            dcc.Graph(
                id="fl-history",
                figure=labelled_history(snap, unit, lang),
                config=graph_config(lang),
                # the phone rule of every chart (style.css .ipc-graph): without it the chart was squeezed into
                # 340 px, its title cut, its two axes' titles over each other and its years in a heap
                className="ipc-graph",
            ),
            className="ipc-row",
        ),
    ]


def labelled_history(snap, unit: str, lang: str):
    """The history chart with the data note every chart's own image carries (app.label_figure_callbacks stamps the
    figures callbacks draw; this page draws its chart in its layout, so its PNG said nothing of synthetic data)."""
    from ..app import _chart_note
    from ..figures import stamp_data_note

    return stamp_data_note(history_figure(flag_history(snap, unit), lang), _chart_note())


def register_callbacks(app) -> None:  # static page: everything comes from the URL
    return None
