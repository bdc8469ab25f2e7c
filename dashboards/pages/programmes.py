"""项目与批次 Programmes: programmes and cohorts with their cycle calendars, the roster with dated events (and the
notice that the 2022 roster is partial), third-party evaluation status per city and cycle, target ambition."""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlsplit

import polars as pl
from dash import Input, Output, State, dcc, html

from pipelines.data_nature import nature_of, with_provenance_column
from pipelines.evaluation.rules import acceptance_bands_text, acceptance_score_text, load_rules
from pipelines.labels import label_text

from .. import access, queries
from .. import programme_queries as pq
from ..components import (
    NUMERIC,
    SCORE_TEXT,
    card,
    grid,
    guarded,
    href,
    page_title,
    records,
    section,
    snapshot,
    unavailable,
)
from ..evaluation_text import report_conflict_mark
from ..formatting import digits_for, fmt_number, fmt_value, is_ratio, labelled, language_part, range_dashes, range_text
from ..i18n import PLANS, PROVINCE_EN, label, norm_lang, t
from ..i18n_programme import AMBITION_CLASSES, COHORTS, PEER_SCOPES, THIRD_PARTY_STATUS
from ..security import markdown_text, neutralise_text
from ..xlsx import xlsx_bytes

PATH = "/programmes"
NAV_KEY = "nav_programmes"

# Component ids
LANG_STORE = "pg-lang"
PARTIAL_NOTE = "pg-partial-note"
PROGRAMME_GRID = "pg-programmes"
MEMBERSHIP_GRID = "pg-memberships"
THIRD_PARTY_GRID = "pg-third-party"
AMBITION_GRID = "pg-ambition"
AMBITION_CSV = "pg-ambition-csv"
AMBITION_XLSX = "pg-ambition-xlsx"
AMBITION_DOWNLOAD = "pg-ambition-download"
ACCEPTANCE_BANDS = "pg-acceptance-bands"
BAN_FLAG_COUNT = "pg-ban-flag-count"
TP_PENDING_CARD = "pg-card-tp-pending"
TP_RECEIVED_CARD = "pg-card-tp-received"


def cohort_text(code: str | None, lang: str) -> str:
    """A cohort as an official reads it: the labels seed's words for a code that is no date ("2015a" -> "2015年2月批",
    the February 2015 notice), the code itself for one that is ("2022-08")."""
    return label(COHORTS, code, lang)


def partial_notes(cohorts: pl.DataFrame, lang: str) -> list[html.P]:
    """One sentence per cohort whose roster is partial (never a silent gap)."""
    notes = []
    for r in cohorts.iter_rows(named=True):
        text = t("pg_partial_roster", lang).format(announced=r["units_announced"], named=r["units_named"])
        name = r["programme_name_zh"] if norm_lang(lang) == "zh" else r["programme_name_en"]
        notes.append(
            html.P(
                labelled(f"{name} {cohort_text(r['cohort'], lang)}", text, lang),
                className="ipc-note ipc-partial-roster",
            )
        )
    return notes


# The calendar notes (programme_calendar seed) name the rules parameter the old cohorts' cycles start from by its
# id; an official reads it in words, with the year dim_programme resolved it to. The seed's English says "the
# rules seed's GEN.cycle_anchor_year": the possessive goes with the id (it names the file, not the rule).
_ANCHOR_RULE = re.compile(r"(?:the rules seed's |评价规则)?GEN\.cycle_anchor_year")


def calendar_note(r: dict, lang: str) -> str | None:
    """The cohort's calendar note in the page's language, its rule parameter in words."""
    note = r["calendar_note_zh"] if norm_lang(lang) == "zh" else r["calendar_note_en"]
    if not note:
        return note
    year = r.get("cycle_anchor_year")
    words = t("pg_rule_cycle_anchor_year", lang).format(value=year if year is not None else "–")
    return range_dashes(_ANCHOR_RULE.sub(words, note))


def programme_rows(df: pl.DataFrame, lang: str) -> list[dict]:
    zh = norm_lang(lang) == "zh"
    out = []
    for r in records(df):
        end = r["period_end"] or t("open_ended", lang)
        out.append(
            {
                "programme": r["programme_name_zh"] if zh else r["programme_name_en"],
                "cohort": cohort_text(r["cohort"], lang),
                "period": f"{r['period_start']} – {end}",
                "calendar": calendar_note(r, lang),
                "units_announced": r["units_announced"],
                "units_named": r["units_named"],
                "roster_complete": r["roster_complete"],
            }
        )
    return out


def count_or(missing: str) -> dict:
    """Grid option: a count right-aligned with thousands separators, ``missing`` (escaped into the formatter's
    JavaScript) where there is none, so the cell says why it has no figure."""
    text = json.dumps(missing, ensure_ascii=False)
    return {**NUMERIC, "valueFormatter": {"function": f"params.value == null ? {text} : d3.format(',d')(params.value)"}}


def programme_columns(lang: str) -> list[dict]:
    return [
        {"field": "programme", "headerName": t("programme", lang), "minWidth": 200},
        {"field": "cohort", "headerName": t("cohort", lang), "maxWidth": 130, "wrapText": True, "autoHeight": True},
        {"field": "period", "headerName": t("period", lang), "minWidth": 180},
        {
            "field": "units_announced",
            "headerName": t("units_announced", lang),
            "headerTooltip": t("units_announced_tip", lang),
            "maxWidth": 110,
            **count_or(t("pg_not_announced", lang)),
        },
        {
            "field": "units_named",
            "headerName": t("units_named", lang),
            "maxWidth": 110,
            "cellClassRules": {"ipc-status-bad": "data.roster_complete === false"},
        },
        {"field": "calendar", "headerName": t("calendar", lang), "minWidth": 360, "wrapText": True, "autoHeight": True},
    ]


SOURCE_SEPARATOR = {"zh": "；", "en": "; "}
CONFIDENCE = {"high": ("高", "high"), "medium": ("中", "medium"), "low": ("低", "low")}
_ORDINAL = re.compile(r"^(\d+)(?:st|nd|rd|th)$")
_ROUND = re.compile(r"^(\d{4})-(\d{4}) round$")
_BATCH = re.compile(r"^(?P<head>\S+)(?: \((?P<detail>.*)\))?$")


def _batch_text(value: str, lang: str) -> str:
    """ "2022-08 (1st; 国知发运字〔2022〕33号)" -> "2022-08（第1批；国知发运字〔2022〕33号）"; "unclear (2022-08 or
    2024-01)" -> "不明（2022-08 或 2024-01）"; "2026-03 (2025-2027 round; …)" -> "2026-03（2025–2027年轮次；…）"."""
    m = _BATCH.match(value.strip())
    if m is None:
        return value
    head = t("src_batch_unclear", lang) if m["head"] == "unclear" else m["head"]
    if not m["detail"]:
        return head
    parts = []
    for part in m["detail"].split("; "):
        if o := _ORDINAL.match(part):
            part = t("src_batch_nth", lang).format(n=o[1])
        elif r := _ROUND.match(part):
            years = range_text(r[1], r[2]) + ("年" if lang == "zh" else "")
            part = t("src_round", lang).format(years=years)
        else:
            part = part.replace(" or ", f" {t('src_or', lang)} ")
        parts.append(part)
    joined = SOURCE_SEPARATOR[lang].join(parts)
    return f"{head}（{joined}）" if lang == "zh" else f"{head} ({joined})"


def source_parts(note: str | None, lang: str) -> list[str]:
    """A roster source note's parts as a reader reads them: the curator's "confidence: high | batch: 2024-01 (2nd)"
    fields in the page's language ("可信度：高", "批次：2024-01（第2批）"); links and quoted source text as published."""
    if not note:
        return []
    lang = norm_lang(lang)
    out = []
    for part in note.split(" | "):
        key, sep, value = part.partition(": ")
        if sep and key == "confidence":
            part = t("src_confidence", lang).format(value=label(CONFIDENCE, value.strip(), lang))
        elif sep and key == "batch":
            part = t("src_batch", lang).format(value=_batch_text(value, lang))
        elif part.startswith("(no URL in index)"):
            part = t("src_no_url", lang) + part.removeprefix("(no URL in index)").lstrip()
        out.append(part)
    return out


def source_text(note: str | None, lang: str) -> str:
    """A roster source note in the page's language, as plain text (the cell's tooltip and filter)."""
    return SOURCE_SEPARATOR[norm_lang(lang)].join(source_parts(note, lang))


# a link's address: the characters of a URL that Markdown does not read as the link's end or as a tag
_URL_SAFE = ":/?#[]@!$&'*+,;=%~-._"


def source_link(part: str) -> str | None:
    """A source part that is a web address, as a Markdown link named by its site ("www.cnipa.gov.cn"); None for any
    other text. Only http(s) addresses with a host; the address percent-encoded where Markdown would end it or read
    a tag, the site's name escaped (pure)."""
    text = part.strip()
    if not text or any(ch.isspace() for ch in text):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return f"[{markdown_text(parts.hostname)}]({quote(text, safe=_URL_SAFE)})"


def source_markdown(note: str | None, lang: str) -> str:
    """The source cell: a web address as a link named by its site, the rest escaped, all of it wrapping in the
    cell. The address in full was cut after ~25 characters ("https://zscqj.beijing…"): no official could read or
    follow it; the site's name reads whole and the link opens the page."""
    sep = SOURCE_SEPARATOR[norm_lang(lang)]
    return sep.join(source_link(p) or markdown_text(p) for p in source_parts(note, lang))


def membership_rows(
    df: pl.DataFrame,
    lang: str,
    unit_name_en: dict[str, str] | None = None,
    programme_en: dict[str, str] | None = None,
) -> list[dict]:
    """The roster; in English the city, province and programme by their English names (the mart carries the
    Chinese ones; the source note stays as published)."""
    en = norm_lang(lang) == "en"
    out = []
    for r in records(df):
        city, province, programme = r["unit_name"], r["province_name"], r["programme_name_zh"]
        if en:
            city = (unit_name_en or {}).get(r["unit_code"]) or city
            province = PROVINCE_EN.get((r["province_code"] or "")[:2], province)
            programme = (programme_en or {}).get(r["programme_code"]) or programme
        event = {"promoted": t("promoted", lang), "withdrawn": t("pg_withdrawn", lang)}.get(r["exit_reason"] or "", "")
        # a joining inside the re-application ban (fct_programme_membership.reapplied_within_ban: 两年内不得再申报,
        # rules seed ACC.reapply_ban_years) is said in the row's event cell, in the labels seed's words; the roster
        # showed such a joining as any other
        barred = bool(r.get("reapplied_within_ban"))
        if barred:
            zh = norm_lang(lang) == "zh"
            flag = label_text("rejoined_within_ban", lang)
            if r.get("reapply_ban_until"):
                until = t("pg_ban_until", lang).format(until=r["reapply_ban_until"])
                flag = f"{flag}（{until}）" if zh else f"{flag} ({until})"
            event = SOURCE_SEPARATOR["zh" if zh else "en"].join(filter(None, [event, flag]))
        out.append(
            {
                "unit_code": r["unit_code"],
                # a Markdown cell: the name from data is escaped so it can never become a link or a tag
                "city_link": f"[{markdown_text(city)}]({href('/profile', lang, unit=r['unit_code'])})",
                "province": province,
                "programme": programme,
                "cohort": cohort_text(r["cohort"], lang),
                "joined_on": r["joined_on"],
                "left_on": r["left_on"],
                "exit_reason": event,
                "rejoined_within_ban": barred,
                "first_evaluated_year": r["first_evaluated_year"],
                "last_evaluated_year": r["last_evaluated_year"],
                # source notes are text from the roster: plain in the tooltip, escaped in the Markdown cell (its web
                # address a link named by its site)
                "source": source_text(r["source_note"], lang),
                "source_link": source_markdown(r["source_note"], lang),
            }
        )
    return out


def membership_columns(lang: str) -> list[dict]:
    # Ten columns in the 1,250 px of a 1366×768 laptop (eleven needed 1,460–1,540 px and scrolled sideways): the
    # unit's GB/T 2260 code is the city's tooltip, not a column of its own; dates and years, which nobody filters
    # by, leave out the filter button's room; the source note, whole on hover, is narrower.
    no_filter = {"filter": False}
    return [
        {
            "field": "city_link",
            "headerName": t("city", lang),
            "cellRenderer": "markdown",
            "minWidth": 100,
            "tooltipField": "unit_code",
            "wrapText": True,
            "autoHeight": True,
        },
        {"field": "province", "headerName": t("province", lang), "maxWidth": 110},
        {"field": "programme", "headerName": t("programme", lang), "minWidth": 150},
        {"field": "cohort", "headerName": t("cohort", lang), "maxWidth": 100, "wrapText": True, "autoHeight": True},
        {"field": "joined_on", "headerName": t("joined_on", lang), "maxWidth": 120, **no_filter},
        {
            "field": "exit_reason",
            "headerName": t("exit_reason", lang),
            "maxWidth": 140,
            "cellClassRules": {"ipc-status-bad": "data.rejoined_within_ban === true"},
        },
        {"field": "left_on", "headerName": t("left_on", lang), "maxWidth": 120, **no_filter},
        {"field": "first_evaluated_year", "headerName": t("first_evaluated_year", lang), "maxWidth": 100, **no_filter},
        {"field": "last_evaluated_year", "headerName": t("last_evaluated_year", lang), "maxWidth": 100, **no_filter},
        {
            "field": "source_link",
            "headerName": t("pg_source", lang),
            "cellRenderer": "markdown",
            "cellRendererParams": {"linkTarget": "_blank"},  # the roster stays open behind the source
            "minWidth": 170,
            "wrapText": True,
            "autoHeight": True,
        },
    ]


def third_party_rows(df: pl.DataFrame, lang: str, unit_name_en: dict[str, str] | None = None) -> list[dict]:
    """The third-party evaluations; in English each city by its English name where the city list has one."""
    en = norm_lang(lang) == "en"
    return [
        {
            "unit_name": ((unit_name_en or {}).get(r.get("unit_code")) or r["unit_name"]) if en else r["unit_name"],
            "cycle": range_dashes(r["cycle"]),  # the mart writes 2024-2026
            "status": label(THIRD_PARTY_STATUS, r["status"], lang),
            "status_code": r["status"],
            "evaluator": language_part(r["evaluator"], lang),
            "report_version": r["report_version"],
            "third_party_score": score,  # the value, for sorting (unrounded: 59.96 sorts under 60)
            # from the unrounded score (records() rounds floats for display: 59.96 was 60.0 before the text)
            # a report loaded twice with different scores (fct_third_party_evaluation.report_conflict) is marked
            # beside the score it produced, as the dossier marks it (labels seed third_party_report_conflict)
            "third_party_score_text": acceptance_score_text(score)
            + report_conflict_mark(r.get("report_conflict"), lang),
            "findings": r["findings"],
        }
        for r, score in zip(records(df), df["third_party_score"].to_list())
    ]


def third_party_columns(lang: str) -> list[dict]:
    return [
        {"field": "unit_name", "headerName": t("city", lang), "minWidth": 110},
        {"field": "cycle", "headerName": t("pg_cycle", lang), "maxWidth": 120},
        {
            "field": "status",
            "headerName": t("pg_status", lang),
            "minWidth": 150,
            "cellClassRules": {"ipc-status-bad": "data.status_code !== 'received'"},
        },
        {"field": "evaluator", "headerName": t("evaluator", lang), "minWidth": 150},
        {"field": "report_version", "headerName": t("report_version", lang), "maxWidth": 90},
        {"field": "third_party_score", "headerName": t("third_party_score", lang), "maxWidth": 130, **SCORE_TEXT},
        {"field": "findings", "headerName": t("tp_findings", lang), "minWidth": 260, "tooltipField": "findings"},
    ]


def third_party_cards(tp: pl.DataFrame, lang: str) -> list:
    """The third-party cards with what they count and over which cycles: a row of the mart is one city in one
    evaluation cycle, every cycle on the calendar, so "189 第三方评估待定" alone read as 189 cities, this year."""
    rows = tp.filter(pl.col("status").is_in(["received", "pending"])) if tp.height else tp
    cycles = sorted({c for c in rows["cycle"].to_list() if c}, key=lambda c: (len(c), c)) if rows.height else []
    span = (
        t("tp_cycles_span", lang).format(first=range_dashes(cycles[0]), last=range_dashes(cycles[-1]))
        if len(cycles) > 1
        else range_dashes(cycles[0])
        if cycles
        else "–"
    )
    out = []
    for status, element_id in (("pending", TP_PENDING_CARD), ("received", TP_RECEIVED_CARD)):
        part = rows.filter(pl.col("status") == status) if rows.height else rows
        cities = part["unit_code"].n_unique() if part.height else 0
        note = t("tp_card_scope", lang).format(cycles=span, cities=f"{cities:,}")
        out.append(card(t(f"tp_{status}_count", lang), f"{part.height:,}", element_id, note=note))
    return out


def acceptance_bands_note(tp: pl.DataFrame | None, lang: str) -> html.P:
    """The acceptance bands the third-party and acceptance scores are read against, from the rules in force in the
    latest cycle's last year (rules seed ACC.remove_below / ACC.cultivation_from; labels seed band names): the page
    showed scores with no word of where the removal and cultivation lines fall."""
    years = [] if tp is None or not tp.height else [y for y in tp["cycle_last_year"].to_list() if y is not None]
    year = max(years) if years else None
    try:
        version = load_rules(year=year)["rules_version"]
    except ValueError:  # a year outside rules_versions.csv: the latest rules, as acceptance_bands_text reads them
        version = load_rules()["rules_version"]
    return html.P(
        [
            html.Strong(t("pg_acceptance_bands", lang).format(version=version)),
            acceptance_bands_text(norm_lang(lang), year),
        ],
        id=ACCEPTANCE_BANDS,
        className="ipc-note",
    )


def ban_flag_note(members: pl.DataFrame | None, lang: str) -> html.P:
    """How many roster rows joined inside the re-application ban, said above the roster (0 too: the check ran)."""
    n = 0
    if members is not None and members.height and "reapplied_within_ban" in members.columns:
        n = int(members["reapplied_within_ban"].fill_null(False).sum())
    return html.P(
        t("pg_ban_flag_count", lang).format(n=f"{n:,}"),
        id=BAN_FLAG_COUNT,
        className="ipc-note ipc-status-bad" if n else "ipc-note",
    )


def pct(value) -> str:
    return "–" if value is None else f"{fmt_number(100 * value, 1, signed=True)}%"


def _target_text(r: dict, lang: str) -> str:
    """Baseline → target in the indicator's unit (a ratio as %: 82.5%, not 0.8247), both with one precision."""
    unit = r.get("unit")
    digits = digits_for([r["baseline_value"], r["target_value"]], unit)
    base, target = (fmt_value(r[k], unit, digits, lang) for k in ("baseline_value", "target_value"))
    if is_ratio(unit):
        base, target = f"{base}%", f"{target}%"
    return f"{base} ({r['baseline_year']}) → {target} ({r['target_year']})"


def ambition_rows(df: pl.DataFrame, lang: str) -> list[dict]:
    zh = norm_lang(lang) == "zh"
    return [
        {
            "unit_name": r["unit_name"] if zh or not r.get("unit_name_en") else r["unit_name_en"],
            "plan_id": label(PLANS, r["plan_id"], lang),
            "indicator": r["indicator_name"] if zh else (r["indicator_name_en"] or r["indicator_code"]),
            "target": _target_text(r, lang),
            "required_growth": pct(r["required_growth"]),
            "trend_growth": pct(r["trend_growth"]),
            "peer_median_growth": pct(r["peer_median_growth"]),
            "peer_p90_growth": pct(r["peer_p90_growth"]),
            "peer_scope": f"{label(PEER_SCOPES, r['peer_scope'], lang)} ({r['n_peers'] or 0})"
            if r["peer_scope"]
            else "–",
            "ambition_class": label(AMBITION_CLASSES, r["ambition_class"], lang),
            "class_code": r["ambition_class"],
            "ambition_weight": fmt_number(r["ambition_weight"], 1),
        }
        for r in df.to_dicts()
    ]


def ambition_columns(lang: str) -> list[dict]:
    # the growth rates are sorted, not filtered (no filter button: each header ~24 px narrower), so the grid fits a
    # 1366 px window beside its target texts; it scrolled sideways on this page and on the profile
    rates = {"filter": False}
    return [
        {"field": "unit_name", "headerName": t("city", lang), "minWidth": 90},
        {"field": "plan_id", **rates, "headerName": t("pg_plan", lang), "maxWidth": 140},
        {"field": "indicator", "headerName": t("indicator", lang), "minWidth": 110},
        {"field": "target", "headerName": t("pg_target", lang), "minWidth": 130},
        {"field": "required_growth", **rates, "headerName": t("required_growth", lang), "maxWidth": 120},
        {"field": "trend_growth", **rates, "headerName": t("trend_growth", lang), "maxWidth": 120},
        {
            "headerName": t("peer_growth", lang),
            "headerTooltip": f"{t('peer_median_growth', lang)} · {t('peer_p90_growth', lang)}",
            "children": [
                {"field": "peer_median_growth", **rates, "headerName": t("peer_median", lang), "maxWidth": 140},
                {"field": "peer_p90_growth", **rates, "headerName": t("peer_p90", lang), "maxWidth": 140},
            ],
        },
        {"field": "peer_scope", **rates, "headerName": t("peer_scope", lang), "maxWidth": 140},
        {
            "field": "ambition_class",
            **rates,
            "headerName": t("ambition_class", lang),
            # "Unambitious" whole (sized to fit at 1366 px it read "Unambitiou" over "s"); the Chinese classes are
            # four characters, and the grid's least widths must still add up to a 1366 px window's
            "minWidth": 120 if norm_lang(lang) == "en" else None,
            "maxWidth": 130,
            "cellClassRules": {
                "ipc-status-bad": "data.class_code == 'unambitious' || data.class_code == 'unrealistic'",
                "ipc-status-good": "data.class_code == 'stretch'",
            },
        },
        {"field": "ambition_weight", **rates, "headerName": t("ambition_weight", lang), "maxWidth": 120},
    ]


def english_names(snap, progs: pl.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """Unit code → English name, programme code → English name (for the roster in English)."""
    units = queries.units(snap)
    return (
        dict(zip(units["unit_code"].to_list(), units["unit_name_en"].to_list())),
        dict(zip(progs["programme_code"].to_list(), progs["programme_name_en"].to_list())),
    )


@guarded
def layout(lang: str, **_):
    snap = snapshot()
    progs = pq.programmes(snap)
    if progs is None:
        return [page_title(NAV_KEY, lang), unavailable(lang)]
    members = pq.memberships(snap)
    tp = pq.third_party(snap)
    amb = pq.ambition(snap)
    unit_en, programme_en = english_names(snap, progs)
    body = [
        dcc.Store(id=LANG_STORE, data=lang),
        page_title(NAV_KEY, lang, t("pg_title", lang)),
        html.Div(partial_notes(pq.partial_cohorts(snap), lang), id=PARTIAL_NOTE),
        section(
            t("pg_programmes", lang),
            grid(
                PROGRAMME_GRID,
                lang,
                programme_columns(lang),
                programme_rows(progs, lang),
                height=None,
                pagination=False,
            ),
        ),
        section(
            t("pg_memberships", lang),
            ban_flag_note(members, lang),
            grid(
                MEMBERSHIP_GRID,
                lang,
                membership_columns(lang),
                membership_rows(members, lang, unit_en, programme_en),
                height=420,
            ),
        ),
    ]
    if tp is not None:
        body.append(
            section(
                t("pg_third_party", lang),
                html.Div(third_party_cards(tp, lang), className="ipc-cards"),
                acceptance_bands_note(tp, lang),
                grid(
                    THIRD_PARTY_GRID, lang, third_party_columns(lang), third_party_rows(tp, lang, unit_en), height=360
                ),
            )
        )
    if amb is not None:
        body.append(
            section(
                t("pg_ambition", lang),
                html.P(t("ambition_hint", lang), className="ipc-muted"),
                html.Div(
                    [
                        html.Button(t("sim_export_csv", lang), id=AMBITION_CSV, className="ipc-button"),
                        html.Button(t("sim_export_xlsx", lang), id=AMBITION_XLSX, className="ipc-button"),
                        dcc.Download(id=AMBITION_DOWNLOAD),
                    ],
                    className="ipc-controls",
                ),
                grid(AMBITION_GRID, lang, ambition_columns(lang), ambition_rows(amb, lang), height=420),
            )
        )
    return body


def ambition_download(snap, principal: access.Principal, fmt: str) -> dict | None:
    """The ambition extract (every programme city) as a dcc.Download payload: national office only, through the
    one permission check (refusal = 403 + audit row)."""
    if fmt not in ("csv", "xlsx"):
        return None
    access.authorize(principal, "download", all_provinces=True, target="target_ambition")
    nature = nature_of(snap)  # which of the data are synthetic: a column in every row, and the workbook's note
    df = with_provenance_column(pq.ambition_extract(snap), nature)
    if fmt == "csv":
        return dcc.send_bytes(xlsx_safe_csv(df), "target_ambition.csv")
    return dcc.send_bytes(xlsx_bytes(df, nature=nature), "target_ambition.xlsx")


def xlsx_safe_csv(df: pl.DataFrame) -> bytes:
    """CSV with BOM (Excel opens it as UTF-8); text cells that would run as formulas get an apostrophe (the one
    rule every export uses, ``security.neutralise_text``: line feeds and full-width signs start formulas too)."""
    return neutralise_text(df).write_csv().encode("utf-8-sig")


def register_callbacks(app) -> None:
    from dash import ctx

    @app.callback(
        Output(AMBITION_DOWNLOAD, "data"),
        Input(AMBITION_CSV, "n_clicks"),
        Input(AMBITION_XLSX, "n_clicks"),
        State(LANG_STORE, "data"),
        prevent_initial_call=True,
    )
    def download(_csv, _xlsx, _lang):
        fmt = "csv" if ctx.triggered_id == AMBITION_CSV else "xlsx"
        principal = access.current_principal()
        data = ambition_download(snapshot(), principal, fmt)
        if data:
            access.audit(principal, "download", str(data.get("filename", "ambition"))[:200], "ok", access.granted())
        return data
