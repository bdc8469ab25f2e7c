"""The printable annual report (PDF, WeasyPrint): the national report of an evaluation year, or a city's one-pager.

Official wording, the figures of the published snapshot, charts as inline SVG (drawn here from the numbers: no
browser or image service needed), and the release the figures belong to — the release id and versions from
``releases.releases`` when the snapshot carries it, else the snapshot's file and catalog/rules versions, said so.
Used by ``ipcity report --year Y [--city X]`` and by the dashboard's ``/report.pdf`` route.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from pathlib import Path

import polars as pl

from pipelines.data_nature import nature_of
from pipelines.evaluation.releases import LATEST_FIRST
from pipelines.labels import index_text, rank_text, robustness_text
from pipelines.private_files import write_private_bytes

from . import queries
from .evaluation_text import rules_text
from .formatting import digits_for, fmt_value, range_text, shown_time, unit_label
from .i18n import GROUPS, STAGES, TARGET_STATUS, label, name_col, norm_lang, province_col, t
from .snapshot import Snapshot
from .theme import GROUP_COLORS, GROUP_ORDER, OKABE_ITO

RELEASES = "releases.releases"
REPORT_ROUTE = "/report.pdf"

CSS = """
@page { size: A4; margin: 18mm 16mm 18mm 16mm;
        @bottom-center { content: counter(page) " / " counter(pages); font-size: 9pt; color: #555; } }
body { font-family: 'Noto Sans CJK SC', 'Noto Sans SC', sans-serif; font-size: 10pt; color: #111; }
h1 { font-size: 18pt; text-align: center; margin: 0 0 4mm 0; }
h2 { font-size: 13pt; border-bottom: 1.5pt solid #0072B2; padding-bottom: 1mm; margin-top: 6mm; }
.issuer { text-align: center; font-size: 11pt; margin-bottom: 2mm; }
.meta { font-size: 8.5pt; color: #333; border: 0.5pt solid #999; padding: 2mm 3mm; margin: 3mm 0; }
.note { font-size: 8.5pt; color: #444; }
table { border-collapse: collapse; width: 100%; font-size: 8.5pt; margin: 2mm 0; }
th, td { border: 0.5pt solid #888; padding: 1mm 1.5mm; text-align: left; vertical-align: top; }
th { background: #e8eef5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.cards { display: flex; gap: 3mm; margin: 3mm 0; }
.card { flex: 1; border: 0.5pt solid #999; padding: 2mm; text-align: center; }
.card b { display: block; font-size: 14pt; }
.page-break { page-break-before: always; }
svg { display: block; margin: 2mm auto; }
"""

WORDS = {
    "issuer": ("国家知识产权局", "China National Intellectual Property Administration (CNIPA)"),
    "national_title": (
        "{year}年度知识产权强市建设监测评价报告",
        "IP Strong-City Programme: Monitoring and Evaluation Report {year}",
    ),
    "city_title": ("{city}知识产权强市建设{year}年度评价情况", "{city}: Evaluation {year}"),
    "intro": (
        "根据《关于加快建设知识产权强市的指导意见》（国知发管字〔2016〕86号），现将{year}年度知识产权强市建设"
        "监测评价情况通报如下。",
        "Under the Guiding Opinions on accelerating the building of IP strong cities (CNIPA 2016 No. 86), the "
        "results of the {year} monitoring and evaluation are reported as follows.",
    ),
    "release": ("数据版本", "Release"),
    "release_none": (
        "（尚无正式评价发布记录：以下为数据快照 {snapshot}，指标体系 {catalog}，评价规则 {rules}）",
        "(no formal evaluation release recorded: figures of snapshot {snapshot}, catalog {catalog}, rules {rules})",
    ),
    "generated": ("生成时间", "Generated"),
    # the release's fields in words (the report named them by their columns: "release_id R1 · data_version d1")
    "release_id": ("发布编号", "release"),
    "data_version": ("数据版本", "data"),
    "catalog_version": ("指标体系", "catalog"),
    "rules_version": ("评价规则", "rules"),
    "code_version": ("程序版本", "code"),
    "mc_seed": ("模拟随机种子", "simulation seed"),
    "released_at": ("发布时间", "released"),
    "overview": ("一、总体情况", "1. Overview"),
    "ranking": ("二、综合排名", "2. Composite ranking"),
    "flags": ("三、关注、整改与退出候选城市", "3. Cities on watch, in rectification and exit candidates"),
    "targets": ("四、建设目标完成情况", "4. Construction-plan targets"),
    "city_overview": ("一、评价结论", "1. Verdict"),
    "city_indicators": ("二、主要指标", "2. Main indicators"),
    "city_targets": ("三、建设目标", "3. Construction-plan targets"),
    "city_trend": ("综合指数历年变化", "Composite index by year"),
    "index_chart": (
        "各示范城市综合指数（示范城市均值=100）",
        "Composite index of the programme cities (average = 100)",
    ),
    "no_flags": ("本年度无关注、整改或退出候选城市。", "No city is on watch, in rectification or an exit candidate."),
    "none": ("无", "none"),
}


def w(key: str, lang: str, **kw) -> str:
    zh, en = WORDS[key]
    return (en if norm_lang(lang) == "en" else zh).format(**kw)


def esc(value) -> str:
    return html.escape("" if value is None else str(value))


# -- charts as SVG -------------------------------------------------------------------------------------------
def bar_chart_svg(labels: list[str], values: list[float], colors: list[str], ref: float | None = 100.0) -> str:
    """Horizontal bars of the composite index, one per label (the published figure printed at the bar's end, as
    index_text shows it everywhere: f"{v:.1f}" read 80.05 as 80.0 beside a rank decided on 80.1), an optional
    reference line."""
    if not values:
        return ""
    width, row, left, right = 640, 13, 110, 40
    height = row * len(values) + 24
    vmax = max([v for v in values if v is not None] + [ref or 0, 1])
    scale = (width - left - right) / vmax
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="8">']
    for i, (lab, v, c) in enumerate(zip(labels, values, colors)):
        y = 4 + i * row
        parts.append(f'<text x="{left - 4}" y="{y + 9}" text-anchor="end">{esc(lab)}</text>')
        if v is not None:
            parts.append(
                f'<rect x="{left}" y="{y + 1}" width="{max(v * scale, 0.5):.1f}" height="{row - 3}" fill="{c}"/>'
            )
            parts.append(f'<text x="{left + v * scale + 3:.1f}" y="{y + 9}">{esc(index_text(v))}</text>')
    if ref is not None:
        x = left + ref * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 16}" stroke="#000" stroke-dasharray="3,2"/>'
        )
        parts.append(f'<text x="{x:.1f}" y="{height - 4}" text-anchor="middle">{ref:g}</text>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart_svg(years: list[int], values: list[float | None], color: str = OKABE_ITO["blue"]) -> str:
    pts = [(y, v) for y, v in zip(years, values) if v is not None]
    if not pts:
        return ""
    width, height, pad = 520, 180, 36
    ys = [v for _, v in pts]
    lo, hi = min(ys + [100.0]), max(ys + [100.0])
    lo, hi = math.floor(lo / 10) * 10, math.ceil(hi / 10) * 10 or 10
    x0, x1 = min(years), max(years)

    def px(y):
        return pad + (y - x0) / max(x1 - x0, 1) * (width - 2 * pad)

    def py(v):
        return height - pad + 10 - (v - lo) / max(hi - lo, 1) * (height - 2 * pad)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="9">']
    for v in (lo, (lo + hi) / 2, hi):
        parts.append(f'<line x1="{pad}" y1="{py(v):.1f}" x2="{width - pad}" y2="{py(v):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{pad - 4}" y="{py(v) + 3:.1f}" text-anchor="end">{v:g}</text>')
    parts.append(
        f'<line x1="{pad}" y1="{py(100):.1f}" x2="{width - pad}" y2="{py(100):.1f}" stroke="#000" '
        'stroke-dasharray="3,2"/>'
    )
    path = " ".join(f"{px(y):.1f},{py(v):.1f}" for y, v in pts)
    parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
    for y, v in pts:
        parts.append(f'<circle cx="{px(y):.1f}" cy="{py(v):.1f}" r="2.5" fill="{color}"/>')
    for y in years:
        parts.append(f'<text x="{px(y):.1f}" y="{height - 6}" text-anchor="middle">{y}</text>')
    parts.append("</svg>")
    return "".join(parts)


# -- content -------------------------------------------------------------------------------------------------
def release_info(snap: Snapshot, year: int) -> dict:
    """The release of ``year`` when the snapshot carries releases.releases (latest, not superseded), else None
    fields and the snapshot's own versions."""
    info = {"snapshot": snap.path.name, "release_id": None}
    if snap.has(RELEASES):
        rows = snap.query(
            f"select * from {RELEASES} where evaluation_year = ? order by {LATEST_FIRST}", (year,)
        ).to_dicts()
        if rows:
            info.update(rows[0])
    if snap.has(queries.EVAL):
        v = snap.query(
            f"select max(catalog_version) as catalog, max(rules_version) as rules from {queries.EVAL} where year = ?",
            (year,),
        ).to_dicts()[0]
        info.setdefault("catalog_version", v["catalog"])
        info.setdefault("rules_version", v["rules"])
        info["catalog"], info["rules"] = v["catalog"], v["rules"]
    return info


def release_block(snap: Snapshot, year: int, lang: str) -> str:
    r = release_info(snap, year)
    stamp = shown_time(dt.datetime.now(dt.UTC), lang)
    if r.get("release_id"):
        fields = [
            ("release_id", r.get("release_id")),
            ("data_version", r.get("data_version")),
            ("catalog_version", r.get("catalog_version")),
            ("rules_version", r.get("rules_version")),
            ("code_version", r.get("code_version")),
            ("mc_seed", r.get("mc_seed")),
            ("released_at", shown_time(r.get("released_at"), lang) or None),
        ]
        text = " · ".join(f"{w(k, lang)} {esc(v)}" for k, v in fields if v is not None)
    else:
        text = esc(
            w(
                "release_none",
                lang,
                snapshot=r["snapshot"],
                catalog=r.get("catalog") or "–",
                rules=r.get("rules") or "–",
            )
        )
    colon = "：" if norm_lang(lang) == "zh" else ": "  # as formatting.labelled joins a label and its value
    return (
        f'<div class="meta"><b>{w("release", lang)}</b>{colon}{text}<br>{w("generated", lang)}{colon}{stamp}<br>'
        f"{nature_block(snap)}</div>"
    )


def nature_block(snap: Snapshot) -> str:
    """Which of the report's data are synthetic and which real, in 中文 and English, from what the snapshot loaded
    (pipelines/data_nature.py): a deployment on the offices' files is not called synthetic."""
    nature = nature_of(snap)
    return f"<b>{esc(nature.header())}</b>: {esc(nature.row_value())}<br>{esc(nature.note_both())}"


def page_css(snap: Snapshot) -> str:
    """The stylesheet, with the data's nature (合成示例 / Synthetic sample, or 真实 / Real) at the foot of every
    page: a page printed or forwarded alone still says it."""
    text = nature_of(snap).row_value().replace("\\", "\\\\").replace('"', '\\"')
    return CSS + f'@page {{ @bottom-left {{ content: "{text}"; font-size: 9pt; color: #555; }} }}\n'


def _table(headers: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="num">{esc(c)}</td>' if i in numeric else f"<td>{esc(c)}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def national_html(snap: Snapshot, year: int, lang: str = "zh") -> str:
    lang = norm_lang(lang)
    name = name_col(lang)
    h = queries.overview_headlines(snap, year)
    ranked = queries.rankings(snap, year)
    cards = [
        (t("ov_programme_units", lang), h["programme_units"]),
        (t("ov_median_index", lang), "–" if h["median_index"] is None else f"{h['median_index']:.1f}"),
        (t("ov_leaders", lang), h["leaders"]),
        (t("ov_on_watch", lang), "–" if h["on_watch"] is None else h["on_watch"]),
        (t("ov_exit", lang), "–" if h["exit_candidates"] is None else h["exit_candidates"]),
    ]
    card_html = "".join(f'<div class="card"><b>{esc(v)}</b>{esc(k)}</div>' for k, v in cards)
    chart = bar_chart_svg(
        ranked[name].to_list(),
        ranked["composite_index"].to_list(),
        [GROUP_COLORS.get(g, "#999") for g in ranked["performance_group"].to_list()],
    )
    legend = " ".join(
        f'<span style="color:{GROUP_COLORS[g]}">■</span> {esc(label(GROUPS, g, lang))}' for g in GROUP_ORDER
    )
    rank_rows = [
        [
            rank_text(r["rank"], None, r.get("rank_is_shared"), lang),
            r[name],
            r[province_col(lang)],
            index_text(r["composite_index"]),
            label(GROUPS, r["performance_group"], lang),
            label(STAGES, r.get("stage"), lang),
            "–" if r.get("p05_rank") is None else range_text(r["p05_rank"], r["p95_rank"]),
        ]
        for r in ranked.iter_rows(named=True)
    ]
    flagged = queries.watchlist(snap, year)
    if flagged is None or not flagged.height:
        flag_html = f"<p>{w('no_flags', lang)}</p>"
    else:
        flag_html = _table(
            [t("stage", lang), t("city", lang), t("robustness", lang), t("rules_fired", lang)],
            [
                [
                    label(STAGES, r["stage"], lang),
                    r[name],
                    robustness_text(r, lang),
                    rules_text(r, lang),
                ]
                for r in flagged.iter_rows(named=True)
            ],
        )
    target_html = ""
    status = queries.programme_target_status(snap)
    if status is not None and status.height:
        counts = status.group_by("status").len().sort("len", descending=True)
        target_html = _table(
            [t("status", lang), t("tg_targets", lang)],
            [[label(TARGET_STATUS, s, lang), n] for s, n in counts.iter_rows()],
            numeric={1},
        )
    title = w("national_title", lang, year=year)
    return f"""<!DOCTYPE html><html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">
<title>{esc(title)}</title><style>{page_css(snap)}</style></head><body>
<div class="issuer">{w("issuer", lang)}</div><h1>{esc(title)}</h1>
{release_block(snap, year, lang)}
<p>{esc(w("intro", lang, year=year))}</p>
<h2>{w("overview", lang)}</h2><div class="cards">{card_html}</div>
<p class="note">{esc(w("index_chart", lang))} {legend}</p>{chart}
<h2 class="page-break">{w("ranking", lang)}</h2>
{_table([t("rank", lang), t("city", lang), t("province", lang), t("composite_index", lang), t("group", lang), t("stage", lang), t("rank_interval", lang)], rank_rows, numeric={0, 3})}
<h2>{w("flags", lang)}</h2>{flag_html}
<h2>{w("targets", lang)}</h2>{target_html}
</body></html>"""


def city_html(snap: Snapshot, year: int, unit: str, lang: str = "zh") -> str:
    lang = norm_lang(lang)
    info = queries.unit_info(snap, unit)
    if info is None:
        raise KeyError(unit)
    name = info[name_col(lang)]
    scores = queries.profile_scores(snap, unit)
    row = scores.filter(pl.col("year") == year).to_dicts()
    row = row[0] if row else {}
    ev = {}
    if snap.has(queries.EVAL):
        found = snap.query(f"select * from {queries.EVAL} where unit_code = ? and year = ?", (unit, year)).to_dicts()
        ev = found[0] if found else {}
    verdict = [
        [t("rank", lang), rank_text(row.get("rank"), row.get("n_ranked"), row.get("rank_is_shared"), lang)],
        [t("composite_index", lang), index_text(row.get("composite_index"))],
        [t("group", lang), label(GROUPS, row.get("performance_group"), lang) or "–"],
        [t("stage", lang), label(STAGES, ev.get("stage"), lang) or "–"],
        [t("rules_fired", lang), rules_text(ev, lang) if ev else "–"],
    ]
    catalog = queries.indicator_catalog(snap, year)
    ind_name = "name_en" if lang == "en" else "name_zh"
    values = queries.profile_indicators(snap, unit).filter(pl.col("year") == year)
    by_code = {r["indicator_code"]: r for r in values.iter_rows(named=True)}
    ind_rows = []
    for c in catalog.iter_rows(named=True):
        v = by_code.get(c["indicator_code"], {})
        digits = digits_for([v.get("value")], c["unit"])
        ind_rows.append(
            [
                c["indicator_code"],
                c[ind_name],
                fmt_value(v.get("value"), c["unit"], digits),
                unit_label(c["unit"], lang),
            ]
        )
    targets = queries.profile_targets(snap, unit)
    target_rows = []
    units = dict(zip(catalog["indicator_code"].to_list(), catalog["unit"].to_list()))
    for r in targets.to_dicts() if targets is not None else []:
        u = units.get(r["indicator_code"])
        d = digits_for([r["baseline_value"], r["target_value"], r["current_value"]], u)
        target_rows.append(
            [
                r["plan_id"],
                r["indicator_code"],
                fmt_value(r["baseline_value"], u, d, lang, with_unit=True),
                fmt_value(r["target_value"], u, d, lang, with_unit=True),
                fmt_value(r["current_value"], u, d, lang, with_unit=True),
                label(TARGET_STATUS, r["status"], lang),
            ]
        )
    trend = line_chart_svg(scores["year"].to_list(), scores["composite_index"].to_list())
    title = w("city_title", lang, city=name, year=year)
    return f"""<!DOCTYPE html><html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">
<title>{esc(title)}</title><style>{page_css(snap)}</style></head><body>
<div class="issuer">{w("issuer", lang)}</div><h1>{esc(title)}</h1>
{release_block(snap, year, lang)}
<h2>{w("city_overview", lang)}</h2>{_table(["", ""], verdict)}
<p class="note">{w("city_trend", lang)}</p>{trend}
<h2>{w("city_indicators", lang)}</h2>
{_table(["", t("indicator", lang), t("value", lang), t("unit", lang)], ind_rows, numeric={2})}
<h2>{w("city_targets", lang)}</h2>
{_table([t("plan", lang), t("indicator", lang), t("baseline", lang), t("target", lang), t("current", lang), t("status", lang)], target_rows) if target_rows else "<p>" + w("none", lang) + "</p>"}
</body></html>"""


def report_pdf(snap: Snapshot, year: int, unit: str | None = None, lang: str = "zh") -> bytes:
    from weasyprint import HTML  # heavy import, only when a report is asked for
    from weasyprint.urls import URLFetcher

    doc = city_html(snap, year, unit, lang) if unit else national_html(snap, year, lang)
    # The report is self-contained (inline SVG and CSS): WeasyPrint fetches nothing. By default it reads any
    # file:// or http:// address in the document, so one piece of data that ever reached the HTML unescaped
    # would put a server file (the session key, the accounts store) or an internal address into a PDF.
    return HTML(string=doc, url_fetcher=URLFetcher(allowed_protocols=("data",))).write_pdf()


def write_report(snapshot_path: Path, year: int, unit: str | None, out: Path, lang: str = "zh") -> Path:
    snap = Snapshot(Path(snapshot_path))
    try:
        data = report_pdf(snap, year, unit, lang)
    finally:
        snap.close()
    # born owner-only (a city's one-pager, the national report before it is published); the folder too when it is
    # the project's own (data/reports), never one an operator named with --out
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_private_bytes(out, data)


def register_route(server) -> None:
    """``/report.pdf?year=Y[&city=X][&lang=en]``: the report as a PDF download (parameters validated)."""
    import flask

    from . import security
    from .components import SNAPSHOT_KEY
    from .snapshot import SnapshotUnavailable
    from .web import refusal

    @server.route(REPORT_ROUTE)
    @security.query_params("year", "city", "lang")  # any other, or one twice: refused by the gate
    def report_route():
        args = flask.request.args
        snap = server.config[SNAPSHOT_KEY]
        try:
            year = security.parse_year(args.get("year"))  # four ASCII digits: not int()'s '+2025', ' 2025', '２０２５'
            city = args.get("city") or None
            if city is not None and not security.is_unit_code(city):
                raise security.BadParameter("city: expected a six-digit code, e.g. 440300")
            # The national report lists every city's verdict: national office only; a city's one-pager follows
            # the city's province scope (the same single check as every other data path). Checked before the year
            # exists: a refused reader learns nothing, not even which years are published.
            from . import access

            principal = access.current_principal()
            if city is None:
                access.authorize(principal, "report", all_provinces=True, target=f"report {year}")
            else:
                access.authorize(principal, "report", page="/profile", unit=city, snap=snap, target=f"report {city}")
            if year not in queries.years(snap):
                raise security.NotFound(f"year {year}: no data for this year")
            data = report_pdf(snap, year, city, norm_lang(args.get("lang")))
        # said in words, as the other download routes say them (a bare status page told the caller nothing)
        # (in the reader's language first, the technical reason after it: web.refusal)
        except security.BadParameter as e:
            return refusal(400, str(e))
        except security.NotFound as e:
            return refusal(404, str(e))
        except KeyError:  # a well-formed code of no city in the snapshot (only the national office gets this far)
            return refusal(404, "city: not in the published snapshot")
        except ValueError:
            return refusal(400, "report: parameters not understood")
        except SnapshotUnavailable:
            return refusal(503, "no published snapshot yet")
        name = f"ipcity_report_{year}" + (f"_{city}" if city else "") + ".pdf"
        return flask.Response(
            data,
            mimetype="application/pdf",
            headers={"Content-Disposition": security.content_disposition(name)},
        )
