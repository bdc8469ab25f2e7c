"""城市画像 City profile: every indicator with trend and target, target statuses, stage history, alerts."""

from __future__ import annotations

import polars as pl
from dash import Input, Output, State, dcc, html

from pipelines.evaluation.releases import (
    cycle_revision_text,
    release_acceptance_text,
    release_verdict_text,
    released_acceptance_differs,
)
from pipelines.evaluation.rules import acceptance_bands_text, acceptance_score_text, reapply_ban_notes
from pipelines.labels import index_text, label_text, rank_text

from .. import access, ambition_view, figures, provenance, queries, security
from ..components import (
    ONE_DECIMAL,
    control,
    dropdown,
    graph,
    grid,
    guarded,
    href,
    memoised,
    page_title,
    records,
    section,
    snapshot,
    unavailable,
    unit_options,
    url_stores,
    url_sync,
)
from ..evaluation_text import (
    cycle_judged_by_text,
    cycle_state_text,
    evidence_text,
    report_conflict_mark,
    rules_text,
)
from ..formatting import (
    digits_for,
    fmt_value,
    labelled,
    language_part,
    progress_cells,
    progress_column,
    progress_footnote,
    range_dashes,
    shown_time,
    target_digits,
    unit_label,
)
from ..i18n import (
    ACCEPTANCE_BANDS,
    ACCEPTANCE_STATUS,
    ALERT_TYPES,
    GROUPS,
    PLANS,
    STAGES,
    TARGET_STATUS,
    alert_status_label,
    label,
    name_col,
    norm_lang,
    province_col,
    t,
)
from ..snapshot import SnapshotUnavailable
from ..theme import empty_figure
from .watchlist import robust_label

PATH = "/profile"
NAV_KEY = "nav_profile"


def target_rows(targets: pl.DataFrame, catalog: pl.DataFrame, lang: str) -> list[dict]:
    """Rows of the target table: values formatted in the indicator's unit and precision, ratios in %,
    the progress index as a whole number, invalid targets marked as such: by the mart's status alone
    (fct_target_status_year.is_invalid_target, the one definition of the rule), never re-derived here."""
    ind = "name_en" if lang == "en" else "name_zh"
    units = dict(zip(catalog["indicator_code"].to_list(), catalog["unit"].to_list()))
    names = dict(zip(catalog["indicator_code"].to_list(), catalog[ind].to_list()))
    rows = []
    records_ = targets.to_dicts()
    digits_by = target_digits(records_, units)
    for r in records_:
        unit = units.get(r["indicator_code"])
        digits = digits_by[r["indicator_code"]]
        invalid = r.get("status") == "invalid_target"
        progress = r.get("progress_index")
        rows.append(
            {
                "plan_label": label(PLANS, r.get("plan_id"), lang),
                "indicator_code": r["indicator_code"],
                "indicator_name": names.get(r["indicator_code"], r["indicator_code"]),
                "unit_label": unit_label(unit, lang),
                "baseline_value": fmt_value(r.get("baseline_value"), unit, digits),
                "target_value": fmt_value(r.get("target_value"), unit, digits),
                "current_year": r.get("current_year"),
                "current_value": fmt_value(r.get("current_value"), unit, digits),
                # a share of the way from baseline to target, in %: 100 = reached, negative = behind the baseline
                **progress_cells(None if invalid else progress, lang),
                "status": "invalid_target" if invalid else r.get("status"),
                "status_label": t("target_invalid", lang) if invalid else label(TARGET_STATUS, r.get("status"), lang),
            }
        )
    return rows


def target_columns(lang: str) -> list[dict]:
    num = {"type": "numericColumn"}
    # Names, units and statuses wrap: cut, the English table read "Limited prog…", "Acceleration…" and
    # "per 10k pe…" (gd_en_profile.png), a status an official could not read.
    wrap = {"wrapText": True, "autoHeight": True}
    # The figures are sorted, not filtered (no filter button: each header ~24 px narrower), and the plan wraps:
    # the English grid needed 1,300 px and scrolled sideways in the 1,250 px of a 1366×768 laptop.
    num = {**num, "filter": False}
    return [
        {"field": "plan_label", "headerName": t("plan", lang), "minWidth": 130, **wrap},
        {"field": "indicator_code", "headerName": t("code", lang), "maxWidth": 100},
        {"field": "indicator_name", "headerName": t("indicator", lang), "minWidth": 180, **wrap},
        {"field": "unit_label", "headerName": t("unit", lang), "minWidth": 110, **wrap},
        {"field": "baseline_value", "headerName": t("baseline", lang), **num},
        {"field": "target_value", "headerName": t("target", lang), **num},
        {"field": "current_year", "headerName": t("year", lang), **num},
        {"field": "current_value", "headerName": t("current", lang), **num},
        progress_column(lang),
        {
            "field": "status_label",
            "headerName": t("status", lang),
            "minWidth": 130,
            **wrap,
            "cellClassRules": {
                "ipc-status-bad": "['deteriorating','limited_progress','invalid_target'].includes(data.status)",
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
                # a normal year carries no flag: said so (robustness_not_applicable), not left blank
                "robust_label": robust_label(r, lang),
                "share_bottom_pct": None if share is None else round(100 * share),
                "rules_text": rules_text(r, lang),
            }
        )
    return rows


def cycle_rows(cycles: pl.DataFrame, lang: str) -> list[dict]:
    rows = []
    for r in records(cycles, 1):
        judged = cycle_judged_by_text(r, lang)
        evidence = evidence_text(r.get("evidence"), lang)
        rows.append(
            {
                **r,
                "verdict_label": label(STAGES, r["verdict"], lang),
                "state": cycle_state_text(r, lang),
                # what judged the cycle (rules version and group) follows the evidence in its cell: a column of
                # its own made the half-width grid scroll sideways at 1366 px
                "evidence": " · ".join(p for p in (evidence, labelled(t("judged_by", lang), judged, lang)) if p),
                "judged_by": judged,
            }
        )
    return rows


def alert_rows(alerts: pl.DataFrame, catalog: pl.DataFrame, lang: str) -> list[dict]:
    """The profile's alert history: every rule's alerts (target, stage, reporting, rank …), each labelled.

    The stored message is the Chinese title; in English the alert's own English title is shown when it has one
    (older mirrors carry none: then type, indicator and status say the same)."""
    ind = "name_en" if lang == "en" else "name_zh"
    names = dict(zip(catalog["indicator_code"].to_list(), catalog[ind].to_list()))
    rows = []
    for r in records(alerts, 2):
        type_label = label(ALERT_TYPES, r.get("alert_type"), lang)
        status_label = alert_status_label(r.get("status"), lang)
        indicator = names.get(r.get("indicator_code"), r.get("indicator_code") or "")
        if lang != "en":
            message = r.get("message") or ""
        elif r.get("title_en"):
            message = r["title_en"]
        else:
            message = " — ".join(
                p for p in (f"{type_label}: {indicator}" if indicator else type_label, status_label) if p
            )
        rows.append(
            {
                **r,
                "type_label": type_label,
                "status_label": status_label,
                "indicator_name": indicator,
                "message": message,
                # created_at: the mirror's UTC, already shown in Beijing time by records() (converting it again
                # here put the history sixteen hours ahead once records() learnt to convert)
            }
        )
    return rows


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
                html.Span(
                    f"{r['year']} {t('rank', lang)} {rank_text(r['rank'], r['n_ranked'], r.get('rank_is_shared'), lang)}",
                    className="ipc-chip",
                )
            )
        elif r.get("rank_all") is not None:
            shared = r.get("rank_all_is_shared")
            items.append(
                html.Span(
                    f"{r['year']} {t('rank_all', lang)} {rank_text(r['rank_all'], None, shared, lang)}",
                    className="ipc-chip",
                )
            )
        if r.get("composite_index") is not None:
            items.append(
                html.Span(f"{t('composite_index', lang)} {index_text(r['composite_index'])}", className="ipc-chip")
            )
        group = r.get("performance_group") or r.get("performance_group_all")
        if group:
            items.append(html.Span(label(GROUPS, group, lang), className="ipc-chip"))
    if stages is not None and stages.height:
        latest = stages.sort("year").tail(1).to_dicts()[0]
        items.append(html.Span(label(STAGES, latest["stage"], lang), className="ipc-chip ipc-chip-stage"))
        flagged = stages.filter(pl.col("stage").is_in(["watch", "rectification", "exit_candidate", "exemplary"]))
        if flagged.height:
            year = flagged["year"].max()
            items.append(
                dcc.Link(
                    f"{t('fl_link', lang)} ({year})",
                    href=href("/flag", lang, unit=info["unit_code"], year=year),
                    id="pf-flag-link",
                    className="ipc-chip",
                )
            )
    return html.Div(items, className="ipc-profile-summary")


def unknown_unit_notice(requested, codes: set[str], lang: str) -> list:
    """A notice when the link names a unit code that does not exist (pure): the page showed the top-ranked city
    under it without a word, so a mistyped or outdated link looked like that city's profile."""
    if requested in (None, "") or requested in codes:
        return []
    shown = str(requested)[:32]
    return [html.P(t("pf_unknown_unit", lang).format(code=shown), className="ipc-unavailable", role="status")]


@guarded
def layout(lang: str, unit=None, **_):
    snap = snapshot()
    all_units = access.visible_units(access.current_principal(), queries.units(snap))  # a province: its own cities
    options = unit_options(all_units, lang)
    codes = set(all_units["unit_code"].to_list())
    notice = unknown_unit_notice(unit, codes, lang)
    if unit not in codes:
        year = queries.resolve_year(snap, None)
        ranked = queries.rankings(snap, year)["unit_code"].to_list() if year else []
        top = [c for c in ranked if c in codes][:1]
        unit = top[0] if top else (all_units["unit_code"][0] if all_units.height else None)
    last_year = queries.resolve_year(snap, None)
    return [
        dcc.Store(id="pf-lang", data=lang),
        dcc.Store(id="pf-year", data=last_year),
        *url_stores("pf", ["unit"]),
        page_title(NAV_KEY, lang),
        *notice,
        html.Div(
            [
                html.Div(
                    control(
                        t("pf_pick", lang), dropdown("pf-unit", lang, options=options, value=unit, clearable=False)
                    ),
                    className="ipc-grow",
                ),
                control(
                    " ",
                    html.A(
                        t("report_city_button", lang),
                        id="pf-report",
                        href=f"/report.pdf?year={last_year}&city={unit}&lang={lang}",
                        className="ipc-button",
                        target="_blank",
                    ),
                ),
            ],
            className="ipc-controls",
        ),
        html.Div(id="pf-summary"),
        section(t("pf_indicators", lang), graph("pf-indicators", lang=lang)),
        section(
            t("pf_values", lang),
            grid("pf-value-grid", lang, value_columns(lang), [], height=360),
            html.Div(id="pf-provenance", children=provenance.provenance_view(None, lang)),
        ),
        section(t("pf_targets", lang), html.Div(id="pf-targets")),
        ambition_view.placeholder(lang),
        html.Div(
            [
                html.Div(graph("pf-stage-fig", lang=lang), className="ipc-col"),
                html.Div(section(t("pf_cycles", lang), html.Div(id="pf-cycles")), className="ipc-col"),
            ],
            className="ipc-row ipc-two",
        ),
        section(t("pf_stage_rows", lang), html.Div(id="pf-stages")),
        section(t("pf_alerts", lang), html.Div(id="pf-alerts")),
        section(t("pf_acceptance", lang), html.Div(id=ACCEPTANCE_ID)),
    ]


ACCEPTANCE_ID = "pf-acceptance"
RELEASED_ACCEPTANCE_ID = "pf-release-acceptance"


# The acceptance table's scores are all shown as the acceptance score is (acceptance_score_text: cut to two
# decimals, as in the dossier): an indicator-only score is the acceptance score, and the same number must read the
# same in both cells (69.996 read "70.00" beside "69.99" and the band below the threshold).


def _num(v, digits: int = 1) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _third_party_cell(r: dict, lang: str) -> str:
    """The evaluator's score with its weight, evaluator and report version, or "pending"."""
    if r.get("third_party_status") != "received":
        return label(ACCEPTANCE_STATUS, "third_party_pending", lang)
    weight = r.get("third_party_weight")
    text = acceptance_score_text(r.get("third_party_score"))
    if weight is not None:
        text += f" (×{weight:g})"
    # the report behind the score was loaded twice with different scores: marked here as on the programmes page
    # and in the dossier (the profile's cell showed the score as if it were the only one sent)
    text += report_conflict_mark(r.get("report_conflict"), lang)
    return (
        f"{text} · {t('third_party_by', lang)} {language_part(r.get('third_party_evaluator'), lang) or '–'}, "
        f"{t('report_version_short', lang)} {r.get('third_party_report_version') or '–'}"
    )


def _band_cell(r: dict, lang: str) -> str:
    """The band read from the (combined) acceptance score, or why there is none (third-party pending, no data);
    an indicator-only score is marked as such."""
    status = r.get("acceptance_status")
    if r.get("acceptance_scored") is False:  # an open-ended title: scored, never banded
        return label(ACCEPTANCE_STATUS, "not_acceptance_scored", lang)
    if r["acceptance_band"]:
        band = label(ACCEPTANCE_BANDS, r["acceptance_band"], lang)
        if status == "indicator_only":
            band = f"{band} · {label(ACCEPTANCE_STATUS, status, lang)}"
        # the national statistics lag: the band stands on levels of an earlier year, said beside it
        if (r.get("benchmark_lag_years") or 0) > 0:
            band = f"{band} · {label_text('benchmark_lagged', norm_lang(lang))} ({r.get('benchmark_year')})"
        # a level figure carried forward from the year before (not reported): the band stands on it, said beside it
        if r.get("level_indicators_imputed"):
            band = f"{band} · {label_text('level_value_imputed', norm_lang(lang))} ({r['level_indicators_imputed']})"
        # a title removed: until when the unit may not apply again, and a joining inside that ban
        for note in reapply_ban_notes(r, norm_lang(lang)):
            band = f"{band} · {note}"
        return band
    return label(ACCEPTANCE_STATUS, status, lang) if status else "–"


def acceptance_view(
    acceptance: pl.DataFrame | None, release: dict | None, attribution: pl.DataFrame | None, lang: str
) -> html.Div:
    """Acceptance score per cycle, the latest year's release and its change attribution (plain Dash components:
    text from data is escaped by React)."""
    parts: list = [
        html.P(t("acceptance_hint", lang).format(bands=acceptance_bands_text(norm_lang(lang))), className="ipc-muted"),
        html.P(t("acceptance_combined_hint", lang), className="ipc-muted"),
    ]
    if acceptance is not None and acceptance.height:
        head = [
            t("cycle", lang),
            t("acceptance_indicator_score", lang),
            t("acceptance_third_party_score", lang),
            t("acceptance_score", lang),
            t("acceptance_band", lang),
        ]
        body = [
            html.Tr(
                [
                    html.Td(range_dashes(r["cycle"])),
                    html.Td(acceptance_score_text(r.get("indicator_score"))),
                    html.Td(_third_party_cell(r, lang)),
                    # cut, not rounded: 59.99 must not read 60.0 beside "title removed"
                    html.Td("–" if r["acceptance_score"] is None else acceptance_score_text(r["acceptance_score"])),
                    html.Td(_band_cell(r, lang)),
                ]
            )
            for r in acceptance.iter_rows(named=True)
        ]
        parts.append(
            html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)], id="pf-acceptance-table")
        )
        # the level part's figures (city / national = points), an imputed value marked in them (labels seed
        # level_value_imputed), so the city can check the figures its level points stand on
        parts += [
            html.P(
                f"{range_dashes(r['cycle'])} · {labelled(t('level_detail', lang), r['level_detail'], lang)}",
                className="ipc-muted",
            )
            for r in acceptance.iter_rows(named=True)
            if r.get("level_detail")
        ]
    if release is None:
        parts.append(html.P(t("not_released", lang)))
    else:
        rr = release.get("released") or {}
        versions = t("release_versions", lang).format(
            data=release["data_version"],
            catalog=release["catalog_version"],
            rules=release["rules_version"],
            code=release["code_version"],
        )
        # the release's time in Beijing time, marked, as the dossier and the extracts' cover date it
        when = shown_time(release.get("released_at"), lang) or "–"
        text = (
            f"{t('release_id', lang)} {release['release_id']}（{release['evaluation_year']}年；{when}；{versions}）"
            if norm_lang(lang) == "zh"
            else f"{t('release_id', lang)} {release['release_id']} ({release['evaluation_year']}; {when}; {versions})"
        )
        parts.append(html.P(text, id="pf-release"))
        # the official verdict as released and, where current data differ, old → new as shown: worded by the one
        # function the stage alert and the dossier use (releases.release_verdict_text)
        verdict = release_verdict_text(release, rr, release.get("current"), lang) or (
            labelled(
                t("as_released", lang),
                f"{label(STAGES, rr.get('stage'), lang) if rr.get('stage') else '–'}"
                + ("，" if norm_lang(lang) == "zh" else ", ")
                + index_text(rr.get("composite_index")),
                lang,
            )
        )
        parts.append(html.P(verdict, id="pf-release-verdict", className="ipc-warn" if release.get("differs") else None))
        revised = cycle_revision_text(release.get("released_cycle"), release.get("current_cycle"), lang)
        if revised:
            parts.append(html.P(revised, id="pf-cycle-revised", className="ipc-warn"))
        # the acceptance score and band the city was judged on, as released, beside the live table above (old → new
        # where current data differ): worded as the dossier and the acceptance-band alert word it
        ra, ca = release.get("released_acceptance"), release.get("current_acceptance")
        if ra:
            parts.append(
                html.P(
                    release_acceptance_text(release, ra, ca, norm_lang(lang)),
                    id=RELEASED_ACCEPTANCE_ID,
                    className="ipc-warn" if ca is not None and released_acceptance_differs(ra, ca) else None,
                )
            )
    if attribution is not None and attribution.height:
        last = attribution.row(attribution.height - 1, named=True)
        items = [
            ("part_indicators", last["part_indicators"]),
            ("part_catalog", last["part_catalog"]),
            ("part_rescaling", last["part_rescaling"]),
        ]
        # two decimals: the split of the unrounded change, which the one-decimal published change (0.0 for 80.0
        # then 80.0) would not show adding up
        text = (
            f"{t('attribution', lang)} {last['year']} ({t('attribution_unrounded', lang)}): "
            f"{_num(last['index_change'], 2)} = " + " + ".join(f"{t(k, lang)} {_num(v, 2)}" for k, v in items)
        )
        if last["part_revision"] is not None:
            # the previous year as released vs now: not part of the year-on-year change, shown beside it
            text += f" ({t('part_revision', lang)} {last['previous_release_id']}: {_num(last['part_revision'], 2)})"
        parts.append(html.P(text, id="pf-attribution"))
    return html.Div(parts)


def value_rows(values: pl.DataFrame, catalog: pl.DataFrame, lang: str) -> list[dict]:
    """The unit's indicator values, latest year first, with the indicator's name and the value as officials read
    it (``value_text``: in its unit, ratios as %, the indicator's own precision, thousands separators); the number
    itself stays in ``value`` for sorting and filtering."""
    ind = "name_en" if lang == "en" else "name_zh"
    units = dict(zip(catalog["indicator_code"].to_list(), catalog["unit"].to_list()))
    digits = {
        code: digits_for(group["value"].to_list(), units.get(code))
        for (code,), group in values.group_by("indicator_code")
    }
    df = values.join(
        catalog.select("indicator_code", pl.col(ind).alias("indicator_name")), on="indicator_code", how="left"
    ).sort(["year", "indicator_code"], descending=[True, False])
    flags = [c for c in ("is_imputed", "is_outlier", "capped_value") if c in df.columns]
    rows = records(df.select("year", "indicator_code", "indicator_name", "value", "normalised_score", *flags), 4)
    lang_code = norm_lang(lang)
    for r in rows:
        code = r["indicator_code"]
        text = fmt_value(r["value"], units.get(code), digits.get(code, 1), lang, with_unit=True)
        # the score beside the value was not computed from it as shown: a value carried forward from the previous
        # year, or an outlier scored at the capped value (methodology §3) -- said, never left to look observed/raw
        if r.get("is_imputed"):
            text += f" · {label_text('level_value_imputed', lang_code)}"
        if r.get("is_outlier") and r.get("capped_value") is not None:
            capped = fmt_value(r["capped_value"], units.get(code), digits.get(code, 1), lang, with_unit=True)
            text += f" · {label_text('value_capped', lang_code)} {capped}"
        r["value_text"] = text
    return rows


def value_columns(lang: str) -> list[dict]:
    num = {"type": "numericColumn"}
    return [
        {"field": "year", "headerName": t("year", lang), "maxWidth": 100},
        {"field": "indicator_code", "headerName": t("code", lang), "maxWidth": 100},
        {"field": "indicator_name", "headerName": t("indicator", lang), "minWidth": 220},
        {
            "field": "value",
            "headerName": t("value", lang),
            **num,
            # clickable (provenance) and still a number column: cellClass would otherwise drop the right alignment
            "cellClass": ["ipc-traceable", "ag-right-aligned-cell"],
            "valueFormatter": {"function": "params.data ? params.data.value_text : ''"},
            # a carried-forward or capped value's mark wraps inside the cell, never cut off
            "wrapText": True,
            "autoHeight": True,
        },
        {"field": "normalised_score", "headerName": t("normalised_score", lang), **num, **ONE_DECIMAL},
    ]


def authorize_unit(unit) -> None:
    """The account may see ``unit`` (raises AccessDenied otherwise). Also checked before dispatch; every profile
    callback checks again, the memoised one on cached answers too (components.memoised)."""
    if not unit:
        return
    try:
        snap = snapshot()
    except SnapshotUnavailable:
        return  # nothing to show anyone; the callback says so
    access.authorize(access.current_principal(), "callback", page=PATH, unit=unit, snap=snap)


def register_callbacks(app) -> None:
    url_sync(app, "pf", [("pf-unit", "value")])
    app.clientside_callback(
        """function(unit, year, lang) {
            return '/report.pdf?' + new URLSearchParams({year: year, city: unit || '', lang: lang}).toString();
        }""",
        Output("pf-report", "href"),
        Input("pf-unit", "value"),
        State("pf-year", "data"),
        State("pf-lang", "data"),
    )

    @app.callback(Output(ACCEPTANCE_ID, "children"), Input("pf-unit", "value"), State("pf-lang", "data"))
    def update_acceptance(unit, lang):
        try:
            authorize_unit(unit)
            snap = snapshot()
            if not unit or queries.unit_info(snap, unit) is None:
                return unavailable(lang)
            year = queries.latest_release_year(snap) or queries.resolve_year(snap, None)
            return acceptance_view(
                queries.profile_acceptance(snap, unit),
                queries.release_status(snap, unit, year) if year else None,
                queries.profile_attribution(snap, unit),
                lang,
            )
        except SnapshotUnavailable:
            return unavailable(lang, "no_snapshot")

    ambition_view.register_callbacks(app)

    @app.callback(
        Output("pf-value-grid", "rowData"),
        Output("pf-provenance", "children", allow_duplicate=True),
        Input("pf-unit", "value"),
        State("pf-lang", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def update_values(unit, lang):
        try:
            if not unit:
                return [], provenance.provenance_view(None, lang)
            authorize_unit(unit)
            snap = snapshot()
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
        # the clicked row as the grid sends it, else by its index; a forged index, row or year shows nothing
        index = cell.get("rowIndex")
        row = cell.get("data") or (rows[index] if isinstance(index, int) and 0 <= index < len(rows) else {})
        year = row.get("year") if isinstance(row, dict) else None
        if not security.year_value(year) or not row.get("indicator_code"):
            return provenance.provenance_view(None, lang)
        try:
            # the unit arrives as State: checked here too, so a forged request cannot trace another province's city
            authorize_unit(unit)
            snap = snapshot()
            p = provenance.provenance(snap, unit, int(row["year"]), str(row["indicator_code"]))
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
    @memoised("pf", check=lambda unit, lang: authorize_unit(unit))
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
            ind_fig = figures.indicator_small_multiples(
                queries.profile_indicators(snap, unit),
                targets,
                catalog,
                lang,
                benchmark=queries.national_benchmarks(snap),
            )
        except SnapshotUnavailable:
            return unavailable(lang, "no_snapshot"), blank, None, blank, None, None, None

        if targets is None:
            target_view = unavailable(lang)
        else:
            rows = target_rows(targets, catalog, lang)
            note = progress_footnote(rows, lang)
            target_view = html.Div(
                [
                    grid("pf-target-grid", lang, target_columns(lang), rows, height=None, pagination=False),
                    *([html.P(note, className="ipc-muted", id="pf-target-note")] if note else []),
                ]
            )
        applicable = bool(info.get("is_programme") or info.get("on_roster"))
        if stages is None:
            stage_fig, stage_view = blank, unavailable(lang)
        elif not applicable or not stages.height:
            stage_fig = figures.stage_timeline(stages, lang, applicable=applicable)
            stage_view = html.P(t("na_not_programme" if not applicable else "no_data", lang), className="ipc-muted")
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
                    {"field": "created_at", "headerName": t("created_at", lang), "minWidth": 160},
                ],
                alert_rows(alerts, catalog, lang),
                height=260,
                pagination=False,
            )
        return head, ind_fig, target_view, stage_fig, cycle_view, stage_view, alert_view
