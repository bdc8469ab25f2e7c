"""Evidence dossier for one city and year: what the evaluation concluded and every figure behind it, as
Markdown and as a self-contained HTML page (inline SVG charts, no external files or scripts).

Everything is read from the marts of a warehouse or published snapshot (opened read-only), so the dossier
shows exactly what the dashboard shows. No timestamps are written: the same snapshot gives the same files.
"""

from __future__ import annotations

import functools
import html
import re
import threading
from pathlib import Path

import duckdb
import markdown as md_lib
import markdown.extensions
import polars as pl

from pipelines.china_time import ZONE_NAME, china_time_both
from pipelines.data_nature import DataNature, nature_of
from pipelines.evaluation.dossier_programme import programme_data, programme_markdown
from pipelines.evaluation.dossier_rows import MartRows
from pipelines.evaluation.releases import (
    LATEST_FIRST,
    RELEASED_RANKS_SQL,
    cycle_of_year,
    cycle_revision_text,
    former_codes,
    release_acceptance_text,
    release_verdict_text,
)
from pipelines.evaluation.rules import acceptance_bands_text, acceptance_score_text, reapply_ban_notes
from pipelines.labels import (
    FLAGGED_STAGES,
    band_floor,
    group_names,
    index_text,
    label_set,
    label_text,
    rank_text,
    robustness_text,
)
from pipelines.private_files import private_dir, write_private_text

# Stage labels come from the labels seed (dbt_project/seeds/labels.csv) through the one loader.
STAGE_ZH = {code: zh for code, (zh, _) in label_set("stage").items()}


def _rules_zh(e: dict) -> str:
    from dashboards.evaluation_text import rules_text

    return rules_text(e, "zh")


def _rules_en(e: dict) -> str:
    """The mart's English sentence as the dashboard shows it (negative figures with the true minus, like the
    Chinese beside it on the same line)."""
    from dashboards.evaluation_text import rules_text

    return rules_text(e, "en")


def evidence_text(evidence: str, lang: str) -> str:
    """A cycle verdict's evidence in ``lang``, as the dashboard's profile words it (one function per text)."""
    from dashboards.evaluation_text import evidence_text as worded

    return worded(evidence, lang)


def resolve_unit(con: duckdb.DuckDBPyConnection, text: str) -> str:
    """A unit code from a 6-digit code or a Chinese (or English) name; programme units win ties."""
    t = text.strip()
    if re.fullmatch(r"\d{6}", t):
        if con.execute("select count(*) from marts.dim_city where unit_code = ?", [t]).fetchall()[0][0]:
            return t
        raise ValueError(f"unknown unit code {t}")
    for where in (
        "unit_name = ? or lower(unit_name_en) = lower(?)",
        "starts_with(unit_name, ?) or starts_with(?, unit_name)",
        "contains(unit_name, ?) or contains(lower(unit_name_en), lower(?))",
    ):
        hits = con.execute(
            f"select unit_code, unit_name, is_programme from marts.dim_city where {where} "
            "order by is_programme desc, unit_code",
            [t, t],
        ).fetchall()
        programme = [h for h in hits if h[2]]
        pick = programme or hits
        if len(pick) == 1:
            return pick[0][0]
        if len(pick) > 1:
            names = ", ".join(f"{c} {n}" for c, n, _ in pick[:10])
            raise ValueError(f"'{text}' matches several units: {names}")
    raise ValueError(f"no unit matches '{text}'")


class _NoRawHtml(md_lib.extensions.Extension):
    """Data (unit names, evidence text, file names) may hold '<img onerror=...>' or '[x](javascript:...)':
    Markdown passes raw HTML through and turns brackets into links, so both are switched off. Text is then
    escaped by Markdown's serializer, and the only tags left are the ones our own Markdown syntax makes."""

    def extendMarkdown(self, md):  # noqa: N802 (Markdown's API)
        md.preprocessors.deregister("html_block")
        for name in (
            "html",
            "reference",
            "link",
            "image_link",
            "image_reference",
            "short_reference",
            "short_image_ref",
            "autolink",
            "automail",
        ):
            md.inlinePatterns.deregister(name)
        md.parser.blockprocessors.deregister("reference")


_converters = threading.local()


def safe_markdown(text: str) -> str:
    """Markdown → HTML with raw HTML and links disabled (see ``_NoRawHtml``): HTML from data comes out escaped.
    One converter per thread, reset between texts: building one costs more than converting a dossier section."""
    md = getattr(_converters, "md", None)
    if md is None:
        md = _converters.md = md_lib.Markdown(extensions=["tables", _NoRawHtml()])
    return md.reset().convert(text)


def _fmt(x, digits: int = 1) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _table(headers: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def svg_line_chart(
    xs: list[int],
    series: list[tuple[str, list, str]],
    *,
    band: tuple[list, list] | None = None,
    ref_lines: tuple[tuple[float, str], ...] = (),
    invert: bool = False,
    title: str = "",
    width: int = 640,
    height: int = 260,
) -> str:
    """A small inline SVG line chart; ``band`` draws a shaded interval (e.g. 5th-95th percentile rank)."""
    left, right, top, bottom = 48, 16, 28, 32
    values = [v for _, ys, _ in series for v in ys if v is not None]
    if band:
        values += [v for v in band[0] + band[1] if v is not None]
    values += [v for v, _ in ref_lines]
    if not values or not xs:
        return ""
    lo, hi = min(values), max(values)
    if hi == lo:
        hi = lo + 1
    pad = (hi - lo) * 0.08
    lo, hi = lo - pad, hi + pad
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1

    def px(x):
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    def py(y):
        f = (y - lo) / (hi - lo)
        return top + (f if invert else 1 - f) * (height - top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{left}" y="16" font-size="13" font-family="sans-serif">{html.escape(title)}</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#999"/>',
    ]
    for x in xs:
        parts.append(
            f'<text x="{px(x):.1f}" y="{height - bottom + 16}" font-size="11" text-anchor="middle" '
            f'font-family="sans-serif">{x}</text>'
        )
    for k in range(5):
        y = lo + (hi - lo) * k / 4
        parts.append(
            f'<text x="{left - 6}" y="{py(y) + 4:.1f}" font-size="10" text-anchor="end" '
            f'font-family="sans-serif">{y:.0f}</text>'
        )
    for value, label in ref_lines:
        parts.append(
            f'<line x1="{left}" y1="{py(value):.1f}" x2="{width - right}" y2="{py(value):.1f}" '
            f'stroke="#bbb" stroke-dasharray="4 3"/><text x="{width - right}" y="{py(value) - 3:.1f}" '
            f'font-size="10" text-anchor="end" fill="#777" font-family="sans-serif">'
            f"{html.escape(label)}</text>"
        )
    if band:
        pts = [(x, a, b) for x, a, b in zip(xs, band[0], band[1]) if a is not None and b is not None]
        if pts:
            poly = [f"{px(x):.1f},{py(a):.1f}" for x, a, _ in pts] + [
                f"{px(x):.1f},{py(b):.1f}" for x, _, b in reversed(pts)
            ]
            parts.append(f'<polygon points="{" ".join(poly)}" fill="#9ecae1" fill-opacity="0.45"/>')
    for i, (label, ys, color) in enumerate(series):
        pts = [(x, y) for x, y in zip(xs, ys) if y is not None]
        if pts:
            parts.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                + " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
                + '"/>'
            )
            parts += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}"/>' for x, y in pts]
        parts.append(
            f'<text x="{left + 10 + 150 * i}" y="{height - 4}" font-size="11" fill="{color}" '
            f'font-family="sans-serif">— {html.escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def dossier_data(con: duckdb.DuckDBPyConnection, unit_code: str, year: int, rows: MartRows | None = None) -> dict:
    """Every figure the dossier prints, straight from the marts (tests compare these with the files). ``rows``
    (one ``MartRows`` for a batch of dossiers) reads each table once for the batch instead of once per dossier."""
    rows = rows or MartRows(con)
    has = rows.has
    u, uy = (unit_code,), (unit_code, year)
    city = rows.row("city", "select * from marts.dim_city order by unit_code", ("unit_code",), u)
    if city is None:
        raise ValueError(f"unknown unit {unit_code}")
    score = rows.row(
        "score", "select * from marts.fct_city_score_year order by unit_code, year", ("unit_code", "year"), uy
    )
    evaluation = rows.row(
        "evaluation", "select * from marts.fct_evaluation_year order by unit_code, year", ("unit_code", "year"), uy
    )
    cycles = rows.frame(
        "cycles", "select * from marts.fct_evaluation_cycle order by unit_code, cycle_start", ("unit_code",), u
    )
    history = rows.frame(
        "history",
        """select s.*, e.stage, e.p05_rank, e.p95_rank, e.median_rank
           from marts.fct_city_score_year s
           left join marts.fct_evaluation_year e on e.unit_code = s.unit_code and e.year = s.year
           order by s.unit_code, s.year""",
        ("unit_code",),
        u,
        keep_key=False,
    ).filter(pl.col("year") <= year)
    # the indicators the unit's score of the year stands without: no value (missing) or a filled-in one (imputed);
    # a city ranked and judged on part of its indicators is told so, and which
    gaps = pl.DataFrame()
    if has("marts", "fct_city_indicator_year"):
        gaps = rows.frame(
            "gaps",
            """select unit_code, year, indicator_code, is_missing, is_imputed from marts.fct_city_indicator_year
               where peer_group = 'city' and (is_missing or is_imputed) order by unit_code, year, indicator_code""",
            ("unit_code", "year"),
            uy,
            keep_key=False,
        )
    uncertainty = None
    if has("marts", "fct_rank_uncertainty"):
        uncertainty = rows.row(
            "uncertainty",
            "select * from marts.fct_rank_uncertainty order by unit_code, year",
            ("unit_code", "year"),
            uy,
        )
    targets = pl.DataFrame()
    if has("marts", "fct_target_status_year"):
        targets = rows.frame(
            "targets",
            """select t.unit_code, t.year, t.plan_id, t.indicator_code, i.name_zh, t.baseline_year, t.baseline_value,
                      t.target_year, t.target_value, t.current_value, t.growth_ratio, t.status, t.is_key_target
               from marts.fct_target_status_year t
               left join (select distinct indicator_code, name_zh from marts.dim_indicator
                          where catalog_version = (select max(catalog_version) from marts.dim_indicator)) i
                 on i.indicator_code = t.indicator_code
               order by t.unit_code, t.year, t.plan_id, t.indicator_code""",
            ("unit_code", "year"),
            uy,
            keep_key=False,
        )
    acceptance = None
    if has("marts", "fct_acceptance_score"):
        # The cycle of the year, as the release, the extract and the profile take it (releases.cycle_of_year):
        # the cycle the unit's calendar assigns to the year. It was the earliest cycle whose label holds the year,
        # so 南通 2024 (pilot 2022-2024 judged in 2023, then 2024-2026) showed the pilot cycle's score while the
        # release of 2024 held 2024-2026, and the dossier said "current data differ from the release".
        calendar_start = None
        if has("marts", "fct_programme_unit_year"):
            cal = rows.row(  # (MartRows caches by name: not "calendar", the programme section's whole table)
                "cycle_of_year",
                "select unit_code, year, cycle_start from marts.fct_programme_unit_year order by unit_code, year",
                ("unit_code", "year"),
                uy,
            )
            calendar_start = cal["cycle_start"] if cal else None
        elif evaluation:
            calendar_start = evaluation.get("cycle_start")
        acceptance = cycle_of_year(
            rows.frame("acceptance", "select * from marts.fct_acceptance_score", ("unit_code",), u),
            year,
            calendar_start,
        )
    attribution = None
    if has("marts", "fct_index_change_attribution"):
        attribution = rows.row(
            "attribution",
            "select * from marts.fct_index_change_attribution order by unit_code, year",
            ("unit_code", "year"),
            uy,
        )
    release_row = released = released_acceptance = released_cycle = None
    if has("releases", "releases") and has("releases", "evaluation_year"):
        release_row = rows.row(  # the year's latest release (the first of its year, ids descending)
            "release",
            f"select * from releases.releases order by evaluation_year, {LATEST_FIRST}",
            ("evaluation_year",),
            (year,),
        )
        if release_row:
            # the unit's code, then the codes it replaced (seed unit_code_changes): a city recoded since the release
            # finds its released rows under the code it was released under, and the verdict says so (recoded_text)
            released_code = unit_code
            for code, name in [(unit_code, None), *former_codes(unit_code)]:
                released = rows.row(
                    "released",
                    "select * from releases.evaluation_year",
                    ("release_id", "unit_code"),
                    (release_row["release_id"], code),
                )
                if released:
                    released_code = code
                    if code != unit_code:
                        released = {**released, "released_unit_code": code, "released_unit_name": name}
                    break
            if released and has("releases", "city_score_year"):
                # whether the released rank is shared, from the release's own ranks (releases.RELEASED_RANKS_SQL):
                # a release written before rank_is_shared existed holds it null, and its tie read as no tie
                ranks = rows.row(
                    "released_ranks",
                    RELEASED_RANKS_SQL,
                    ("release_id", "unit_code"),
                    (release_row["release_id"], released_code),
                )
                if ranks is not None and ranks["rank"] == released.get("rank"):
                    released = {**released, "rank_is_shared": ranks["rank_is_shared"]}
            if has("releases", "evaluation_cycle"):
                # the cycle verdict as released (with the rules versions it was judged by): a file corrected after
                # publication can move it, and the dossier shows the published verdict beside the current one
                released_cycle = rows.row(
                    "released_cycle",
                    "select * from releases.evaluation_cycle",
                    ("release_id", "unit_code"),
                    (release_row["release_id"], released_code),
                )
            if has("releases", "acceptance_score"):
                # the acceptance verdict as released: a revised file of the cycle can move the score across a
                # band after the release, and the dossier must not show the new band as if it were the one published
                released_acceptance = rows.row(
                    "released_acceptance",
                    "select * from releases.acceptance_score",
                    ("release_id", "unit_code"),
                    (release_row["release_id"], released_code),
                )
                if released_acceptance and released and released.get("released_unit_code"):
                    released_acceptance = released_acceptance | {
                        k: released[k] for k in ("released_unit_code", "released_unit_name")
                    }
    # the unit's reporting of the year: when each source was received and on what evidence (a contested
    # not_reported verdict is argued from these rows)
    reporting = pl.DataFrame()
    if has("marts", "fct_reporting_status"):
        reporting = rows.frame(
            "reporting",
            "select * from marts.fct_reporting_status order by unit_code, year, source",
            ("unit_code", "year"),
            uy,
        )
    files = pl.DataFrame()
    if has("raw", "ingested_files"):
        files = rows.whole(
            "files",
            "select source, file_name, file_hash, status from raw.ingested_files order by source, file_name, file_hash",
        )
    return {
        "city": city,
        "year": year,
        "score": score,
        "evaluation": evaluation,
        "cycles": cycles,
        "history": history,
        "uncertainty": uncertainty,
        "gaps": gaps,
        "targets": targets,
        "files": files,
        "reporting": reporting,
        "acceptance": acceptance,
        "attribution": attribution,
        "release": release_row,
        "released": released,
        "released_acceptance": released_acceptance,
        "released_cycle": released_cycle,
        "programme": programme_data(con, unit_code, year, rows),
        # which data are synthetic and which real: from what was loaded (pipelines/data_nature.py)
        "nature": nature_of(con),
    }


def _acceptance_lines(a: dict, bands_text=acceptance_bands_text) -> list[str]:
    """The acceptance score of the cycle: the combined score and its band, or "third-party evaluation pending",
    with the indicator-based and the third-party parts and their weights (zh / en)."""
    status = a.get("acceptance_status") or ("combined" if a.get("acceptance_score") is not None else None)
    zh, en = (label_text(status, "zh"), label_text(status, "en")) if status else ("", "")
    if a["acceptance_score"] is not None and a.get("acceptance_scored") is False:
        # an open-ended demonstration-city title: the score stands beside the third-party evaluation, no band
        head = (
            f"- 验收评分 / Acceptance score ({a['cycle']}): **{acceptance_score_text(a['acceptance_score'])}** / 100 — "
            f"{label_text('not_acceptance_scored', 'zh')} / {label_text('not_acceptance_scored', 'en')}"
        )
    elif a["acceptance_score"] is not None:
        head = (
            f"- 验收评分 / Acceptance score ({a['cycle']}): **{acceptance_score_text(a['acceptance_score'])}** / 100 — "
            f"{label_text(a['acceptance_band'])} {a['acceptance_band']}（{zh} / {en}）"
        )
    else:
        head = f"- 验收评分 / Acceptance score ({a['cycle']}): **{zh} / {en}**"
    lines = [head]
    # a title removed: until when the unit may not apply again, and a joining inside that ban (the same words as
    # the profile and the alert, pipelines.evaluation.rules.reapply_ban_notes)
    lines += [f"- {z} / {e}" for z, e in zip(reapply_ban_notes(a, "zh"), reapply_ban_notes(a, "en"), strict=True)]
    if "indicator_score" in a:
        w = a.get("third_party_weight")
        lines.append(
            f"- 指标得分 / Indicator-based score: {acceptance_score_text(a['indicator_score'])}"
            + ("" if w is None else f", 权重 weight {1 - w:g}")
        )
        if a.get("third_party_status") == "received":
            lines.append(
                f"- 第三方评估得分 / Third-party score: {acceptance_score_text(a['third_party_score'])}, 权重 weight {w:g} — "
                f"{a['third_party_evaluator'] or '–'}, 第 {a['third_party_report_version']} 版 / version "
                f"{a['third_party_report_version']}"
            )
            if status == "combined":
                lines.append(f"- 合成 / Combined = (1 − {w:g}) × 指标得分 indicator + {w:g} × 第三方 third-party")
        else:
            lines.append("- 第三方评估得分 / Third-party score: 待定 pending")
    lines += [
        f"- 目标完成度 / Target points: {_fmt(a['target_points'])} ({a['targets_evaluable']} 个目标 targets"
        + (
            f"，其中缺乏雄心 {a['targets_unambitious']} 个按权重 {a['unambitious_weight']:g} 计 / "
            f"{a['targets_unambitious']} unambitious weighted {a['unambitious_weight']:g}"
            if a.get("targets_unambitious")
            else ""
        )
        + f"), 权重 weight {a['target_weight']}",
        f"- 对标全国水平 / Level points vs national (000000, {a['benchmark_year']}): {_fmt(a['level_points'])}, "
        f"权重 weight {a['level_weight']}",
        # the national statistics lag: a level compared in an earlier year than the one scored is said so, not left
        # for the reader to work out from two years (fct_acceptance_score.benchmark_lag_years)
        *(
            [
                f"- 全国统计滞后 / National statistics lag: 对标 {a['benchmark_year']} 年，早于评分年 {a['scored_year']} "
                f"{a['benchmark_lag_years']} 年 / benchmark of {a['benchmark_year']}, {a['benchmark_lag_years']} "
                f"year(s) before the year scored ({a['scored_year']})"
                + (
                    f"；{label_text('benchmark_before_cycle', 'zh')} / {label_text('benchmark_before_cycle', 'en')}"
                    if a.get("benchmark_before_cycle")
                    else ""
                )
            ]
            if (a.get("benchmark_lag_years") or 0) > 0
            else []
        ),
        # both of the benchmark year (fct_acceptance_score.qlt01_value): the year is stated so the figure can be
        # looked up in the indicator table, not taken for the judged year's
        f"- 每万人口发明专利拥有量 / QLT01 ({a['benchmark_year']}): {_fmt(a['qlt01_value'], 2)} "
        f"(全国 national {_fmt(a['qlt01_national'], 2)})",
        # every level indicator's value / national value = points, so the level points can be recomputed, and
        # the ones left out for want of a value named (the mean is over those present)
        *(
            [f"- 对标明细（本市 / 全国 = 得分）/ Level indicators (city / national = points): {a['level_detail']}"]
            if a.get("level_detail")
            else []
        ),
        *(
            [f"- 无数据未计入水平得分 / Not counted in the level points (no value): {a['level_indicators_missing']}"]
            if a.get("level_indicators_missing")
            else []
        ),
        # the rules version that judged the score and band: the one in force in the year the cycle is judged in
        # (fct_acceptance_score.rules_version), named, so a cycle across a rules change says which applied
        *(
            [
                f"- 验收规则版本 / Acceptance rules version: {a['rules_version']}"
                f"（{a.get('judged_year') or a.get('scored_year')} 年在用 / in force in "
                f"{a.get('judged_year') or a.get('scored_year')}）"
            ]
            if a.get("rules_version")
            else []
        ),
        # the rules of the year judged in; while the cycle runs, those of the year the score to date reads
        f"- 绝对评分，与相对的综合指数并列：{bands_text('zh', a.get('judged_year') or a.get('scored_year'))} / "
        f"Absolute, beside the relative index: {bands_text('en', a.get('judged_year') or a.get('scored_year'))}.",
    ]
    return lines


def _coverage_lines(s: dict, gaps: pl.DataFrame | None) -> list[str]:
    """What the score stands on: the share of the composite weight carried by observed (or carried-forward)
    indicators, and the indicators without a value or with a filled-in one -- a city scored, ranked and judged
    on part of its indicators must read that beside its rank, not find it out from the indicator sheet."""
    coverage = s.get("indicator_coverage")
    gaps = gaps if gaps is not None else pl.DataFrame()
    missing = gaps.filter(pl.col("is_missing"))["indicator_code"].to_list() if gaps.height else []
    imputed = (
        gaps.filter(pl.col("is_imputed") & ~pl.col("is_missing"))["indicator_code"].to_list() if gaps.height else []
    )
    if coverage is None and not missing and not imputed:
        return []
    lines = [""]
    if coverage is not None:
        lines.append(f"- 指标覆盖率 / Indicator coverage: {coverage:.1%}（按综合得分权重 / of the composite weight）")
    if missing or imputed:
        lines.append(
            f"- 缺失指标 / Missing indicators: {', '.join(missing) or '无 none'}；"
            f"补值指标 / Imputed indicators: {', '.join(imputed) or '无 none'}"
        )
    else:
        lines.append("- 本年度指标无缺失、无补值 / No indicator missing or imputed this year")
    return lines


def _cycle_state_text(r: dict) -> str:
    """Whether the cycle is judged, and when (fct_evaluation_cycle.judged_year: a cut-short cycle is judged in its
    last evaluated year, a running one not yet), in both languages as the profile's cycle table says it. The
    verdict status (third-party pending) is in the verdict's cell; a running cycle's is not repeated here."""
    from dashboards.evaluation_text import cycle_state_text

    row = {**r, "verdict_status": None}
    running = r.get("verdict_status") == "cycle_running" or ("judged_year" in r and r.get("judged_year") is None)
    zh, en = cycle_state_text(row, "zh"), cycle_state_text(row, "en")
    if running:
        zh, en = f"{zh}（{label_text('cycle_running', 'zh')}）", f"{en} ({label_text('cycle_running', 'en')})"
    return f"{zh} / {en}"


def _cycle_judged_by_text(r: dict) -> str:
    """Which rules version and which group judged the cycle, in both languages, as the profile says it
    (dashboards.evaluation_text.cycle_judged_by_text, one definition)."""
    from dashboards.evaluation_text import cycle_judged_by_text

    zh, en = cycle_judged_by_text(r, "zh"), cycle_judged_by_text(r, "en")
    return zh if zh == en else f"{zh} / {en}"


def _verdict_status_text(status: str | None) -> str:
    if status in (None, "final"):
        return ""
    return f"（{label_text(status, 'zh')} / {label_text(status, 'en')}）"


def _render(d: dict, to_html=safe_markdown, bands_text=acceptance_bands_text) -> tuple[str, str]:
    """The dossier's Markdown and HTML. ``to_html`` and ``bands_text`` are ``safe_markdown`` and
    ``acceptance_bands_text``, or memoised copies of them for a batch (``write_dossiers``)."""
    city, year, s, e, u = d["city"], d["year"], d["score"], d["evaluation"], d["uncertainty"]
    name = city["unit_name"]
    blocks: list[tuple[str, str | None]] = []  # (markdown, html override)
    title = f"# {name}（{city['unit_code']}）{year} 年知识产权强市评估证据档案 / Evidence dossier {year}"
    blocks.append((title, None))
    # under the title, so the dossier forwarded or printed says whether its figures are synthetic
    nature = d.get("nature") or DataNature()
    blocks.append((f"> **{nature.header()}**: {nature.row_value()}\n>\n> {nature.note_both()}", None))

    lines = ["## 评估结论 / Evaluation stage", ""]
    if e:
        # the reason beside a null (labels seed, set robustness), as every page says it (labels.robustness_text)
        robust = robustness_text(e, "both")
        lines += [
            f"- 阶段 / Stage: **{label_text(e['stage'])} {e['stage']}**",
            # the Chinese from the row's facts (the dashboard's function), the mart's English sentence after it
            f"- 触发规则 / Rules fired: {_rules_zh(e) or '无'} / {_rules_en(e) or 'none'}",
            f"- 稳健性 / Robustness: {robust}",
            f"- 评估周期 / Cycle: {e['cycle'] or '基期 baseline year'}",
            f"- 规则版本 / Rules version: {e['rules_version']}",
            # the dashboard's explanation of the flag, and the way back to the list (dossiers open in a new tab)
            f"- 为何被标记 / Why flagged: [/flag?unit={city['unit_code']}&year={year}]"
            f"(/flag?unit={city['unit_code']}&year={year})",
            f"- [返回整改/退出风险名单 / Back to the watchlist](/watchlist?year={year})",
        ]
    else:
        lines.append("- 本年度未参加评估 / Not evaluated this year (not in the programme, withdrawn or not ranked)")
    blocks.append(("\n".join(lines), None))

    lines = ["## 得分与排名 / Scores and rank", ""]
    if s:
        lines.append(
            _table(
                ["指标 / Measure", "数值 / Value"],
                [
                    ["综合得分 / Composite", s["composite"]],
                    ["综合指数 / Composite index", index_text(s["composite_index"])],
                    ["排名 / Rank", rank_text(s["rank"], s["n_ranked"], s.get("rank_is_shared"), "both")],
                    ["绩效分组 / Group", f"{label_text(s['performance_group']) or '–'} {s['performance_group'] or ''}"],
                    ["管理能力 / MGT", s["score_mgt"]],
                    ["大保护 / PRO", s["score_pro"]],
                    ["运用 / UTL", s["score_utl"]],
                    ["质量 / QLT", s["score_qlt"]],
                    ["发展环境 / ENV", s["score_env"]],
                    ["目录版本 / Catalog version", s["catalog_version"]],
                ],
            )
        )
        lines += _coverage_lines(s, d.get("gaps"))
    if u:
        lines += [
            "",
            "### 排名区间 / Rank interval (methodology uncertainty)",
            "",
            _table(
                ["名义排名 / Nominal", "中位 / Median", "5%–95%", "末位组概率 / Share bottom group", "模拟次数 / Runs"],
                [
                    [
                        u["nominal_rank"],
                        u["median_rank"],
                        f"{_fmt(u['p05_rank'])}–{_fmt(u['p95_rank'])}",
                        f"{u['share_bottom']:.1%}",
                        u["n_runs"],
                    ]
                ],
            ),
        ]
    blocks.append(("\n".join(lines), None))

    a = d.get("acceptance")
    lines = ["## 验收评分 / Acceptance score", ""]
    if a:
        lines += _acceptance_lines(a, bands_text)
    else:
        lines.append("无验收评分（无可评估目标或全国基准）/ No acceptance score (no evaluable targets or benchmark).")
    blocks.append(("\n".join(lines), None))

    at = d.get("attribution")
    lines = ["## 指数变动归因 / Change attribution", ""]
    if at:
        # the attribution splits the change of the unrounded indices (two decimals, so the parts visibly add up);
        # the change of the published figures, the one the extracts and the rankings show, stands first
        rows = [
            ["公布指数变动 / Change of the published index", _fmt(s.get("index_change") if s else None)],
            ["未取整指数变动 / Change of the unrounded index", at["index_change"]],
            ["指标变化 / Indicator values", at["part_indicators"]],
            ["　管理能力 / MGT", at["part_mgt"]],
            ["　大保护 / PRO", at["part_pro"]],
            ["　运用 / UTL", at["part_utl"]],
            ["　质量 / QLT", at["part_qlt"]],
            ["　发展环境 / ENV", at["part_env"]],
            [
                f"目录/权重变化 / Catalog ({at['previous_catalog_version']} → {at['catalog_version']})",
                at["part_catalog"],
            ],
            ["同组重标定 / Rescaling (peers)", at["part_rescaling"]],
        ]
        if at["part_revision"] is not None:
            rows.append([f"数据修订 / Data revision since {at['previous_release_id']}", at["part_revision"]])
        lines.append(_table(["构成 / Part", "指数点 / Points"], [[k, _fmt(v, 2)] for k, v in rows]))
    else:
        lines.append("上一年度无排名，无法归因 / No ranked previous year to compare with.")
    blocks.append(("\n".join(lines), None))

    h = d["history"]
    xs = h["year"].to_list()
    trend_md = [
        "## 趋势 / Trends",
        "",
        _table(
            ["年份 / Year", "综合指数 / Index", "排名 / Rank", "5%–95%", "阶段 / Stage"],
            [
                [
                    r["year"],
                    index_text(r["composite_index"]),
                    rank_text(r["rank"], r["n_ranked"], r.get("rank_is_shared"), "both"),
                    f"{_fmt(r['p05_rank'])}–{_fmt(r['p95_rank'])}",
                    label_text(r["stage"]) or "–",
                ]
                for r in h.iter_rows(named=True)
            ],
        ),
    ]
    # the bottom group lies below the floor of the band above it
    bottom, bottom_floor = group_names()[-1], band_floor(group_names()[-2])
    chart1 = svg_line_chart(
        xs,
        [("综合指数 Index", h["composite_index"].to_list(), "#1f77b4")],
        ref_lines=(
            (100.0, "项目均值 100"),  # the index's definition (programme mean = 100), not a band
            (bottom_floor, f"{label_text(bottom)}组 {bottom_floor:g}"),
        ),
        title="综合指数 / Composite index (programme mean = 100)",
    )
    chart2 = svg_line_chart(
        xs,
        [("排名 Rank", [float(r) if r is not None else None for r in h["rank"].to_list()], "#d62728")],
        band=(h["p05_rank"].to_list(), h["p95_rank"].to_list()),
        invert=True,
        title="排名及5%–95%区间 / Rank with 5th–95th percentile band",
    )
    trend_md_text = "\n".join(trend_md)
    blocks.append(
        (
            trend_md_text,
            f"<h2>趋势 / Trends</h2>\n<figure>{chart1}</figure>\n<figure>{chart2}</figure>\n"
            + to_html("\n".join(trend_md[2:])),
        )
    )

    t = d["targets"]
    lines = ["## 建设目标 / Targets and statuses", ""]
    if t.height:
        lines.append(
            _table(
                [
                    "方案 / Plan",
                    "指标 / Indicator",
                    "基期 / Baseline",
                    "目标 / Target",
                    "当年值 / Current",
                    "增速比 / Growth ratio",
                    "状态 / Status",
                    "关键 / Key",
                ],
                [
                    [
                        r["plan_id"],
                        f"{r['indicator_code']} {r['name_zh'] or ''}",
                        f"{_fmt(r['baseline_value'], 2)} ({r['baseline_year']})",
                        f"{_fmt(r['target_value'], 2)} ({r['target_year']})",
                        _fmt(r["current_value"], 2),
                        _fmt(r["growth_ratio"], 2),
                        f"{label_text(r['status'])} {r['status']}",
                        "是" if r["is_key_target"] else "否",
                    ]
                    for r in t.iter_rows(named=True)
                ],
            )
        )
    else:
        lines.append("本年度无可评估的建设目标 / No targets in force this year.")
    blocks.append(("\n".join(lines), None))

    c = d["cycles"]
    lines = ["## 周期结论 / Cycle verdicts", ""]
    if c.height:
        lines.append(
            _table(
                [
                    "周期 / Cycle",
                    "结论 / Verdict",
                    "依据 / Evidence",
                    "指数变化 / Index change",
                    "稳健 / Robust",
                    "评定 / Judged",
                    "评定依据 / Judged by",
                ],
                [
                    [
                        r["cycle"],
                        f"{label_text(r['verdict'])} {r['verdict']}" + _verdict_status_text(r.get("verdict_status")),
                        # the evidence in both languages, worded by the one function the profile words it with
                        # (the dossier showed the mart's English clauses only, the profile Chinese ones)
                        (
                            f"{evidence_text(r['evidence'], 'zh')} / {evidence_text(r['evidence'], 'en')}"
                            if r["evidence"]
                            else "–"
                        ),
                        # the change of the published indices, at their precision: the figure the rules judged
                        # and the evidence states (fct_evaluation_cycle.index_change)
                        index_text(r["index_change"]),
                        robustness_text(r, "both", "verdict"),
                        _cycle_state_text(r),
                        _cycle_judged_by_text(r),
                    ]
                    for r in c.iter_rows(named=True)
                ],
            )
        )
    else:
        lines.append("无周期结论 / No cycle verdicts.")
    blocks.append(("\n".join(lines), None))

    # issue 17: memberships and calendar, target ambition, third-party evaluation (own module)
    blocks += [(b, None) for b in programme_markdown(d.get("programme", {}))]

    f = d["files"]
    lines = [
        "## 数据与版本 / Data and versions",
        "",
        f"- 指标目录版本 / Catalog version: {s['catalog_version'] if s else '–'}",
        f"- 评估规则版本 / Rules version: {e['rules_version'] if e else '–'}",
    ]
    rel, rr = d.get("release"), d.get("released")
    if rel:
        lines += [
            # released_at is stored in UTC: shown in Beijing time and marked, as the extracts' cover shows it (a
            # raw UTC time read as Beijing time dated a release published after 16:00 UTC on the day before)
            f"- 发布编号 / Release: **{rel['release_id']}** ({china_time_both(rel['released_at'])}), 数据版本 data version "
            f"{rel['data_version']}, 代码版本 code {rel['code_version']}, 窗口 window "
            f"{rel['window_first_year']}–{rel['window_last_year']}"
            + (f", 更正 supersedes {rel['supersedes_release_id']}" if rel["supersedes_release_id"] else ""),
        ]
        if rr:
            # the official verdict as released and, where current data differ, old → new as shown: worded by the
            # one function the stage alert and the profile use (releases.release_verdict_text), in both languages
            now = None
            if e is not None:
                now = {"stage": e.get("stage")} | {
                    k: (s or e).get(k) for k in ("composite_index", "rank", "n_ranked", "rank_is_shared")
                }
            lines.append(
                "- 发布时结论 / As released: "
                + " / ".join(release_verdict_text(rel, rr, now, lang) for lang in ("zh", "en"))
            )
        ra = d.get("released_acceptance")
        if ra:
            # worded by the one function the acceptance-band alert uses (releases.release_acceptance_text): the
            # release, the score and band as released and, where current data differ, old → new
            lines.append(
                f"- 发布时验收评分 / Acceptance as released ({ra['cycle']}): "
                + " / ".join(release_acceptance_text(rel, ra, d.get("acceptance"), lang) for lang in ("zh", "en"))
            )
        rc = d.get("released_cycle")
        if rc:
            # the published cycle verdict, the rules versions and data release it was judged on, and -- when data
            # corrected since moved it -- the current verdict beside it, marked, never silently in its place
            cycles = d.get("cycles")
            now = None
            if cycles is not None and cycles.height:
                same = cycles.filter(pl.col("cycle_start") == rc.get("cycle_start"))
                now = same.row(0, named=True) if same.height else None
            line = (
                # 评定依据 / Judged by worded as the cycle table, the profile and the extracts word it (one definition)
                f"- 发布时周期结论 / Cycle verdict as released ({rc.get('cycle')}; 评定依据 / Judged by: "
                f"{_cycle_judged_by_text(rc)}; 数据版本 data {rel['data_version']}, {rel['release_id']}): "
                f"{label_text(rc.get('verdict'), 'zh')} / {label_text(rc.get('verdict'), 'en')}"
            )
            # old → new as the extracts and the profile show it (releases.cycle_revision_text)
            revised = [cycle_revision_text(rc, now, lang) for lang in ("zh", "en")]
            if revised[0]:
                line += f"；**{revised[0]} / {revised[1]}**"
            # the rules the cycle is judged by now, when a re-run reads other versions than the release did (the
            # rules_versions seed re-mapped a released year): said beside the verdict, so a verdict moved by the
            # rules never reads as moved by corrected data alone, and one the rules did not move is still told
            if now is not None and rc.get("rules_versions") and now.get("rules_versions") != rc.get("rules_versions"):
                line += (
                    f"；**规则版本已变更 {rc.get('rules_versions')} → {now.get('rules_versions') or '–'} / rules "
                    f"versions changed since the release**"
                )
            lines.append(line)
    else:
        lines.append("- 发布编号 / Release: 未发布 not released (current data)")
    if u:
        lines.append(
            f"- 不确定性模拟 / Uncertainty: {u['n_runs']} runs, seed {u['seed']}, "
            f"weight jitter ±{u['weight_jitter']:.0%}"
        )
    rp = d.get("reporting")
    if rp is not None and rp.height:
        lines += [
            "",
            f"### 数据报送 / Reporting ({year})",
            "",
            _table(
                [
                    "来源 / Source",
                    "状态 / Status",
                    "应报日期 / Due",
                    "宽限期至 / Grace end",
                    # the day in Beijing time (first_seen_on), marked for both readers as every other time
                    f"收到日期（{ZONE_NAME['zh']}）/ Received ({ZONE_NAME['en']})",
                    "依据 / Evidence",
                    "文件 / File",
                ],
                [
                    [
                        r["source"],
                        f"{label_text(r['status'])} {r['status']}"
                        + (
                            f"（{label_text('received_after_grace_end')}）" if r.get("received_after_grace_end") else ""
                        ),
                        r["due_date"],
                        r["grace_end_date"],
                        r["received_date"] or "–",
                        label_text(r.get("receipt_evidence")) or "–",
                        r.get("receipt_file") or "–",
                    ]
                    for r in rp.iter_rows(named=True)
                ],
            ),
        ]
    blocks.append(("\n".join(lines), None))
    if f.height:
        # The warehouse's whole ledger, the same in every dossier of a batch: a block of its own, so the batch's
        # memoised to_html converts it once. It grows with the history (ten years of files in each of the
        # eleventh year's ~50 dossiers: issue 19). Joined as the blocks are, the Markdown is the same text as
        # when it closed the block above, and Markdown converts the two apart to the same HTML.
        blocks.append(
            (
                "\n".join(
                    [
                        "### 入库文件 / Ingested files",
                        "",
                        _table(
                            ["来源 / Source", "文件 / File", "SHA-256", "状态 / Status"],
                            [
                                [r["source"], r["file_name"], r["file_hash"], r["status"]]
                                for r in f.iter_rows(named=True)
                            ],
                        ),
                    ]
                ),
                None,
            )
        )

    markdown_text = "\n\n".join(b[0] for b in blocks) + "\n"
    body = "\n".join(b[1] if b[1] is not None else to_html(b[0]) for b in blocks)
    page = (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{html.escape(name)} {year} 评估证据档案</title><style>"
        "body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;max-width:960px;margin:2em auto;"
        "padding:0 1em;color:#222}table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #ccc;padding:4px 8px;font-size:14px}th{background:#f3f3f3}"
        "figure{margin:1em 0}</style></head><body>\n" + body + "\n</body></html>\n"
    )
    return markdown_text, page


def write_dossier(snapshot_or_warehouse_path: Path | str, unit_code: str, year: int, out_dir: Path | str) -> list[Path]:
    """Write ``<unit_code>_<year>.md`` and ``.html`` into out_dir; ``unit_code`` may also be a name."""
    return write_dossiers(snapshot_or_warehouse_path, [(unit_code, year)], out_dir)


def flagged_unit_years(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """Every (unit, year) whose stage gets a dossier, by year and unit: what the pipeline's dossier step writes."""
    stages = ", ".join(f"'{s}'" for s in FLAGGED_STAGES)
    return con.execute(
        f"SELECT unit_code, year FROM marts.fct_evaluation_year WHERE stage IN ({stages}) ORDER BY year, unit_code"
    ).fetchall()


def write_dossiers(
    snapshot_or_warehouse_path: Path | str, units_years: list[tuple[str, int]], out_dir: Path | str
) -> list[Path]:
    """Write the dossier of every (unit, year) pair over one read-only connection (the pipeline writes one per
    flagged unit-year: opening the file for each cost more than the dossier itself)."""
    # owner-only, the folder from birth and each file: a city's case file was readable by every local user
    out = private_dir(out_dir)
    paths: list[Path] = []
    with duckdb.connect(str(snapshot_or_warehouse_path), read_only=True) as con:
        rows = MartRows(con)  # every table read once for all the dossiers
        # Pure functions of their arguments, memoised for the batch only (a seed edited between two runs is read
        # again): many sections come out word for word the same in several dossiers ("no targets", the
        # acceptance bands), and converting Markdown is the dossier's largest cost.
        to_html, bands_text = functools.cache(safe_markdown), functools.cache(acceptance_bands_text)
        for unit_code, year in units_years:
            code = resolve_unit(con, unit_code)
            markdown_text, page = _render(dossier_data(con, code, int(year), rows), to_html, bands_text)
            md_path, html_path = out / f"{code}_{year}.md", out / f"{code}_{year}.html"
            write_private_text(md_path, markdown_text)
            write_private_text(html_path, page)
            paths += [md_path, html_path]
    return paths
