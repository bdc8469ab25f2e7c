"""The programme-cycle part of the evidence dossier (issue 17): the unit's memberships and the calendar of the
year, the ambition of its plan targets and the third-party evaluation of its cycles (evaluator and version).

Every text that comes from data (roster sources, evaluator names, findings) is HTML-escaped and pipe-escaped
before it enters the markdown: markdown passes raw HTML through, and findings are free text from outside."""

from __future__ import annotations

import html

import duckdb
import polars as pl

from pipelines.evaluation.dossier_rows import MartRows
from pipelines.evaluation.rules import acceptance_score_text
from pipelines.labels import label_text

AMBITION_ZH = {
    "unambitious": "缺乏雄心",
    "stretch": "具有挑战性",
    "unrealistic": "不切实际",
    "not_assessable": "无法评估",
}


def _text(value, limit: int = 300) -> str:
    if value is None:
        return "–"
    s = str(value).replace("\r", " ").replace("\n", " ")
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return html.escape(s).replace("|", "&#124;")


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:+.1f}%"


def programme_data(con: duckdb.DuckDBPyConnection, unit_code: str, year: int, rows: MartRows | None = None) -> dict:
    """The unit's memberships, calendar row of ``year``, target ambition and third-party evaluations; ``rows`` as
    in ``dossier.dossier_data`` (each table read once for a batch of dossiers)."""
    rows = rows or MartRows(con)
    u = (unit_code,)
    out = {"memberships": pl.DataFrame(), "calendar": None, "ambition": pl.DataFrame(), "third_party": pl.DataFrame()}
    if rows.has("marts", "fct_programme_membership"):
        out["memberships"] = rows.frame(
            "memberships",
            "select * from marts.fct_programme_membership order by unit_code, joined_on nulls last",
            ("unit_code",),
            u,
        )
    if rows.has("marts", "fct_programme_unit_year"):
        out["calendar"] = rows.row(
            "calendar",
            "select * from marts.fct_programme_unit_year order by unit_code, year",
            ("unit_code", "year"),
            (unit_code, year),
        )
    if rows.has("marts", "fct_target_ambition"):
        out["ambition"] = rows.frame(
            "ambition",
            "select * from marts.fct_target_ambition order by unit_code, plan_id, indicator_code",
            ("unit_code",),
            u,
        )
    if rows.has("marts", "fct_third_party_evaluation"):
        out["third_party"] = rows.frame(
            "third_party",
            "select * from marts.fct_third_party_evaluation order by unit_code, cycle_first_year",
            ("unit_code",),
            u,
        )
    return out


def _table(headers: list[str], rows: list[list]) -> str:
    head = "| " + " | ".join(headers) + " |\n|" + "---|" * len(headers)
    return head + "\n" + "\n".join("| " + " | ".join(str(c) for c in r) + " |" for r in rows)


def _conflict_mark(r: dict) -> str:
    """Beside a third-party score: the report was loaded more than once with different scores
    (fct_third_party_evaluation.report_conflict). The score stands -- the rules picked it -- but a city reading
    its acceptance must see that another figure was sent and which rows sent it (labels seed, both languages)."""
    if not r.get("report_conflict"):
        return ""
    return (
        f" ⚠ {_text(label_text('third_party_report_conflict', 'zh'))}"
        f" / {_text(label_text('third_party_report_conflict', 'en'))}"
        f" ({_text(r.get('report_conflict_detail'))})"
    )


def programme_markdown(d: dict) -> list[str]:
    """Markdown blocks (one per section) for the dossier."""
    blocks = []
    lines = ["## 项目、批次与评估周期 / Programmes, cohorts and cycle", ""]
    cal = d.get("calendar")
    if cal:
        lines.append(
            f"- 本年度适用周期 / Cycle of the year: {_text(cal['programme_code'])} {_text(cal['cohort'])}, "
            f"{_text(cal['cycle'])} (基期 / baseline {_text(cal['cycle_baseline_year'])})"
        )
    m = d.get("memberships", pl.DataFrame())
    if m.height:
        lines += [
            "",
            _table(
                ["项目 / Programme", "批次 / Cohort", "入选 / Joined", "变动 / Event", "起评–末评 / Evaluated"],
                [
                    [
                        _text(r["programme_name_zh"]),
                        _text(r["cohort"]),
                        _text(r["joined_on"]),
                        f"{_text(r['exit_reason'])} {_text(r['left_on']) if r['left_on'] else ''}".strip(),
                        f"{r['first_evaluated_year']}–{r['last_evaluated_year'] or ''}",
                    ]
                    for r in m.iter_rows(named=True)
                ],
            ),
        ]
    elif not cal:
        lines.append("不在项目名单中 / Not on the programme roster.")
    blocks.append("\n".join(lines))

    a = d.get("ambition", pl.DataFrame())
    lines = ["## 建设目标雄心 / Target ambition", ""]
    if a.height:
        lines.append(
            _table(
                [
                    "方案 / Plan",
                    "指标 / Indicator",
                    "所需年增长 / Required",
                    "自身趋势 / Own trend",
                    "对标中位数 / Peers median",
                    "对标P90 / Peers P90",
                    "对标 / Peers",
                    "等级 / Class",
                    "权重 / Weight",
                ],
                [
                    [
                        _text(r["plan_id"]),
                        _text(r["indicator_code"]),
                        _pct(r["required_growth"]),
                        _pct(r["trend_growth"]),
                        _pct(r["peer_median_growth"]),
                        _pct(r["peer_p90_growth"]),
                        f"{_text(r['peer_scope'])} ({r['n_peers'] or 0})",
                        f"{AMBITION_ZH.get(r['ambition_class'], '')} {_text(r['ambition_class'])}",
                        f"{r['ambition_weight']:g}",
                    ]
                    for r in a.iter_rows(named=True)
                ],
            )
        )
    else:
        lines.append("无建设目标 / No plan targets.")
    blocks.append("\n".join(lines))

    tp = d.get("third_party", pl.DataFrame())
    lines = ["## 第三方评估 / Third-party evaluation", ""]
    if tp.height:
        lines.append(
            _table(
                [
                    "周期 / Cycle",
                    "状态 / Status",
                    "评估机构 / Evaluator",
                    "版本 / Version",
                    "得分 / Score",
                    "规则版本 / Rules",
                    "主要发现 / Findings",
                ],
                [
                    [
                        _text(r["cycle"]),
                        f"{_text(r['status_label_zh'])} {_text(r['status_label_en'])}",  # from the labels seed
                        _text(r["evaluator"]),
                        _text(r["report_version"]),
                        # as the profile and the acceptance table show it (cut at two decimals): 59.96 rounded to
                        # "60.0" here read above the 60 threshold beside the "59.96" of the same score there
                        acceptance_score_text(r["third_party_score"]) + _conflict_mark(r),
                        # the version whose TP weights scored the report: the cycle's last evaluated year's
                        _text(r.get("rules_version")),
                        _text(r["findings"]),
                    ]
                    for r in tp.iter_rows(named=True)
                ],
            )
        )
    else:
        lines.append("无评估周期 / No evaluation cycles.")
    blocks.append("\n".join(lines))
    return blocks
