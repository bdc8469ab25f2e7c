"""Readable text of the evaluation rules a unit fired in a year.

The mart's ``rules_fired`` is an English sentence per rule. Chinese readers get the same facts rebuilt from the
row's ``fired_*`` flags and the values behind them (same order and rounding as fct_evaluation_year.sql), so the
two languages can never disagree on a number.
"""

from __future__ import annotations

import math
import re

from pipelines.labels import index_text, label_text, rank_text

from .formatting import RANGE_DASH, fmt_number, range_dashes, true_minus
from .i18n import GROUPS, SOURCE_NAMES, VERDICT_STATUS, label, norm_lang, t

RULE_ORDER = ("x1", "r1", "r2", "w1", "w2", "ex1")


def report_conflict_mark(conflict, lang: str | None) -> str:
    """Beside a third-party score whose report was loaded twice with different scores
    (fct_third_party_evaluation.report_conflict): " ⚠ " and the labels seed's third_party_report_conflict; "" for
    none. One mark for every page that shows the score (programmes grid, city profile), as the dossier marks it."""
    return f" ⚠ {label_text('third_party_report_conflict', norm_lang(lang))}" if conflict else ""


def rule_description(row: dict, lang: str | None) -> str:
    """A rules-seed parameter as an official reads it: the seed's plain ``official_zh`` / ``official_en`` (one
    definition, read by every page), the engineers' ``description_*`` only for a snapshot published before the
    seed had the plain column."""
    suffix = "en" if norm_lang(lang) == "en" else "zh"
    return row.get(f"official_{suffix}") or row.get(f"description_{suffix}") or ""


def _num(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _signed(v) -> str:
    return fmt_number(_num(v), 1, signed=True)


def _zh(rule: str, r: dict) -> str:
    # the baseline year of the unit's own calendar (fct_evaluation_year.cycle_baseline_year); rows published before
    # the column existed have the year before the cycle, which is what every calendar gives
    base_year = r.get("cycle_baseline_year")
    if base_year is None and r.get("cycle_start") is not None:
        base_year = r["cycle_start"] - 1
    since = f"较{base_year}年" if base_year else "较周期基年"
    group = label(GROUPS, r.get("performance_group"), "zh") or "–"
    if rule == "x1":
        return (
            f"X1 退出候选：上一周期处于整改，综合指数{since}变化 {_signed(r.get('index_change_cycle'))}"
            + _like_for_like_zh("x1", r)
        )
    if rule == "r1":
        return f"R1 整改：连续{r.get('watch_run_years') or '–'}年处于关注"
    if rule == "r2":
        # the threshold the change was compared with, as the English sentence states it
        threshold = _num(r.get("r2_threshold_points"))
        return (
            f"R2 整改：本周期综合指数变化 {_signed(r.get('index_change_cycle'))}"
            + _like_for_like_zh("r2", r)
            + ("" if threshold is None else f"，阈值 {fmt_number(-threshold, 1)}")
        )
    if rule == "w1":
        return f"W1 关注：处于“{group}”组，排名 {rank_text(r.get('rank'), r.get('n_ranked'), r.get('rank_is_shared'))}"
    if rule == "w2":
        return f"W2 关注：{r.get('targets_lagging') or 0}/{r.get('targets_evaluable') or 0}项关键目标进展有限或倒退"
    return f"EX1 示范：处于“{group}”组，综合指数{since}变化 {_ex1_gain(r)}" + _like_for_like_zh("ex1", r)


_EX1_GAIN = re.compile(r"EX1 exemplary \(.*, index change since \d{4} (\+[-\d.e]+)(?:, like-for-like [-+\d.e]+)?\)")
# The like-for-like change a rule also compared (fct_evaluation_year names it in X1's, R2's and EX1's sentence when
# it differs from the published one, under GEN.change_like_for_like): read from the English sentence, so the two
# languages state the same figure, and absent where the mart named none.
_LIKE_FOR_LIKE = {
    rule: re.compile(rf"{prefix} \([^)]*?, like-for-like ([-+]?[\d.]+)")
    for rule, prefix in (("x1", "X1 exit candidate"), ("r2", "R2 rectification"), ("ex1", "EX1 exemplary"))
}


def _like_for_like_zh(rule: str, r: dict) -> str:
    found = _LIKE_FOR_LIKE[rule].search(r.get("rules_fired") or "")
    return f"，同口径变化 {found.group(1)}" if found else ""


def _ex1_gain(r: dict) -> str:
    """The gain as the English sentence states it: fct_evaluation_year shows a gain that one decimal would round
    down onto EX1.improve_min_points with its own decimals (the threshold is not in the row), and the two
    languages must state the same number."""
    found = _EX1_GAIN.search(r.get("rules_fired") or "")
    return found.group(1) if found else _signed(r.get("index_change_cycle"))


def rules_text(row: dict, lang: str | None) -> str:
    """The rules fired in ``row`` (a fct_evaluation_year row) in the reader's language; '' when none."""
    fired = [rule for rule in RULE_ORDER if row.get(f"fired_{rule}")]
    english = row.get("rules_fired") or ""
    codes = row.get("not_reported_sources")
    # sources no unit reported at all in the year (fct_reporting_status none_received: not an exit), named in the
    # mart's English sentence only
    gap = _NONE_RECEIVED.search(english)
    if norm_lang(lang) == "en":
        # the sources by name, as the quality page and the alerts name them (pipelines/sources.py titles)
        for named in (codes, gap.group(1) if gap else None):
            if named:
                english = english.replace(
                    f"grace period: {named} (", f"grace period: {source_names_text(named, 'en')} ("
                )
        return range_dashes(true_minus(english))
    facts = []
    # sentences without a rule code (fct_evaluation_year.rules_fired puts them first)
    if codes:
        facts.append(f"宽限期内未报送：{source_names_text(codes, 'zh')}（按退出处理）")
    if gap:
        facts.append(f"宽限期内全部单位均未报送：{source_names_text(gap.group(1), 'zh')}（数据收集缺口，不视同退出）")
    if english.startswith("not ranked"):
        facts.append("未排名：无综合得分（某一维度指标权重不足）")
    return true_minus("；".join([*facts, *(_zh(rule, row) for rule in fired)]))


_NONE_RECEIVED = re.compile(r"no unit reported within the grace period: ([^()]+?) \(a gap of the collection")


def source_names_text(codes: str, lang: str | None) -> str:
    """fct_evaluation_year.not_reported_sources ("enforcement_cases, pledge_loans": the sources' codes) as a reader
    reads them, each by its name in ``lang`` (pipelines/sources.py title_zh / title_en, the names the quality page
    and the reporting alert use): "知识产权质押融资" -- a not_reported verdict (counts as exit) named "pledge_loans" in
    the Chinese reason. A code without a source keeps its code."""
    i = 1 if norm_lang(lang) == "en" else 0
    sep = ", " if i else "、"
    return sep.join(SOURCE_NAMES[c][i] if c in SOURCE_NAMES else c for c in (p.strip() for p in codes.split(",")) if c)


# The cycle mart's evidence is English clauses joined by "; ". Chinese readers get each clause rebuilt from its
# numbers; a clause of unknown shape is shown as it is (never dropped).
_NUM = r"([-+]?\d+(?:\.\d+)?)"
# a span of years: the mart writes it with the range dash; a snapshot published before that, with a hyphen
_SPAN = rf"(\d{{4}}(?:[-{RANGE_DASH}]\d{{4}})?)"
_RULES = r"([0-9A-Za-z._-]+)"


def _w2_years_zh(detail: str) -> str:
    """W2's per-year figures ("2020 3/4 = 0.75 > 0.50, 2021 …") with the year marked, in Chinese punctuation."""
    return "，".join(re.sub(r"^(\d{4}) ", r"\1年 ", part) for part in detail.split(", "))


# Each clause names its figures, its threshold, its year(s) and the rules version (fct_evaluation_cycle, round 13);
# the shorter forms after them are those of snapshots published before, still read.
_EVIDENCE_ZH = [
    (
        re.compile(rf"^EX1 leader in (\d{{4}}), index change {_SPAN} {_NUM}, above {_NUM} \(rules {_RULES}\)$"),
        "EX1 示范：{0}年处于领先组，{1}年综合指数变化 {2}，超过阈值 {3}（规则 {4}）",
    ),
    (
        re.compile(
            rf"^X1 previous cycle in rectification, index change {_SPAN} {_NUM}, not above {_NUM} \(rules {_RULES}\)$"
        ),
        "X1 退出候选：上一周期处于整改，{0}年综合指数变化 {1}，未超过阈值 {2}（规则 {3}）",
    ),
    (
        re.compile(rf"^R1 in {_SPAN} \((\d+) consecutive watch years, rules {_RULES}\)$"),
        "R1 整改：{0}年连续处于关注（连续关注{1}年即整改，规则 {2}）",
    ),
    (
        re.compile(rf"^R2 index change over cycle {_NUM}, threshold {_NUM} \({_SPAN}, rules {_RULES}\)$"),
        "R2 整改：{2}年综合指数变化 {0}，阈值 {1}（规则 {3}）",
    ),
    (
        re.compile(
            rf"^not reported within the grace period of (\d+) months in (\d+) year\(s\) {_SPAN} \(counts as exit\)$"
        ),
        "{1}年（{2}）未在{0}个月宽限期内报送（视同退出）",
    ),
    (
        re.compile(rf"^review: sanction evidence not robust in (\d+) year\(s\) {_SPAN} \(robust share below {_NUM}\)$"),
        label_text("review", "zh") + "：{0}年（{1}）处分证据不稳健（稳健比例低于 {2}）",
    ),
    (
        re.compile(rf"^W2 targets lagging in (\d+) year\(s\) {_SPAN} \((.+)\)$"),
        lambda n, span, detail: f"W2 关注：{n}年关键目标多数滞后（{span}）：{_w2_years_zh(detail)}",
    ),
    (re.compile(rf"^EX1 leader in (\d{{4}}), index change {_NUM}$"), "EX1 示范：{0}年处于领先组，综合指数变化 {1}"),
    (
        re.compile(rf"^X1 previous cycle in rectification, index change {_NUM}$"),
        "X1 退出候选：上一周期处于整改，综合指数变化 {0}",
    ),
    (re.compile(rf"^R1 in {_SPAN}$"), "R1 整改：{0}年连续处于关注"),
    (
        re.compile(rf"^R2 index change over cycle {_NUM}, threshold {_NUM}$"),
        "R2 整改：本周期综合指数变化 {0}，阈值 {1}",
    ),
    # a snapshot published before the cycle's evidence named the threshold
    (re.compile(rf"^R2 index change over cycle {_NUM}$"), "R2 整改：本周期综合指数变化 {0}"),
    (re.compile(rf"^W1 bottom group in (\d+) year\(s\) {_SPAN}$"), "W1 关注：{0}年处于末位组（{1}）"),
    (re.compile(rf"^W2 targets lagging in (\d+) year\(s\) {_SPAN}$"), "W2 关注：{0}年关键目标多数滞后（{1}）"),
    # a change across a catalogue change that reads otherwise like-for-like, and the office's rule on it
    (
        re.compile(
            rf"^index change {_SPAN} {_NUM} across catalogues {_RULES} and {_RULES}, like-for-like {_NUM}: "
            r"X1, EX1 and R2 count a change only where both agree \(GEN\.change_like_for_like\)$"
        ),
        "{0}年综合指数变化 {1}，跨目录 {2} 与 {3}，同口径变化 {4}：X1、EX1、R2 仅在两者一致时认定变化（GEN.change_like_for_like）",
    ),
    (
        re.compile(
            rf"^index change {_SPAN} {_NUM} across catalogues {_RULES} and {_RULES}, like-for-like {_NUM}: "
            r"R2 counts a fall only where both agree, X1 and EX1 the published change "
            r"\(GEN\.change_like_for_like = 0\)$"
        ),
        "{0}年综合指数变化 {1}，跨目录 {2} 与 {3}，同口径变化 {4}：R2 仅在两者一致时认定下降，X1、EX1 按公布数值判定"
        "（GEN.change_like_for_like = 0）",
    ),
    (re.compile(r"^withdrawn in (\d{4})$"), "{0}年已退出"),
    # a unit that joined inside the cycle (fct_evaluation_cycle: the office's rule GEN.joined_entry_baseline)
    (
        re.compile(
            r"^joined in (\d{4}), inside the cycle: index change since (\d{4}) \(GEN\.joined_entry_baseline\), "
            r"third-party evaluation due at the end of (\d{4})$"
        ),
        "{0}年周期中途入选：综合指数变化自{1}年起计（GEN.joined_entry_baseline），第三方评估于{2}年末进行",
    ),
    # the exit for late reporting and the manual review: a Chinese reader read these two clauses in English
    (
        re.compile(r"^not reported within the grace period in (\d+) year\(s\) \(counts as exit\)$"),
        "{0}年未在宽限期内报送（视同退出）",
    ),
    (
        re.compile(r"^review: sanction evidence not robust in (\d+) year\(s\)$"),
        label_text("review", "zh") + "：{0}年处分证据不稳健",
    ),
    (re.compile(rf"^third-party score {_NUM} \(report version (\d+)\)$"), "第三方评估得分 {0}（第{1}版）"),
    (
        re.compile(r"^cycle still running: evidence to (\d{4}), verdict in (\d{4})$"),
        "周期进行中：依据截至{0}年，{1}年作出结论",
    ),
    (re.compile(r"^third-party evaluation pending$"), label_text("third_party_pending", "zh")),
    (
        re.compile(r"^third-party evaluation pending: indicator-only verdict \(TP\.pending_blocks_verdict = 0\)$"),
        "第三方评估待定：仅按指标给出结论（TP.pending_blocks_verdict = 0）",
    ),
]


def evidence_text(evidence: str | None, lang: str | None) -> str:
    """A cycle verdict's evidence in the reader's language (the mart stores English)."""
    # range_dashes: a snapshot published before the marts wrote the range dash has "2022-2024" in its evidence
    if not evidence or norm_lang(lang) == "en":
        return true_minus(range_dashes(evidence)) or ""
    out = []
    for clause in evidence.split("; "):
        for pattern, template in _EVIDENCE_ZH:
            m = pattern.match(clause.strip())
            if m:
                out.append(template(*m.groups()) if callable(template) else template.format(*m.groups()))
                break
        else:
            out.append(clause)
    return true_minus(range_dashes("；".join(out)))


def cycle_state_text(r: dict, lang: str | None) -> str:
    """Where a cycle's verdict stands, from fct_evaluation_cycle.judged_year (one definition, the mart's): complete;
    cut short by a new calendar and judged in its last evaluated year (never "in progress" for ever); or still
    running, with no verdict yet. A verdict status other than final follows (third-party pending, running).
    Rows published before judged_year existed fall back to is_complete."""
    judged, end = r.get("judged_year"), r.get("cycle_end")
    if "judged_year" not in r:
        judged = end if r.get("is_complete") in (True, None) else None
    if judged is not None and end is not None and judged < end:
        state = t("cut_short_judged", lang).format(year=judged)
    elif judged is not None or (end is None and r.get("is_complete") in (True, None)):
        state = t("complete", lang)
    else:
        state = t("in_progress", lang)
    status = r.get("verdict_status")
    return state + (f" · {label(VERDICT_STATUS, status, lang)}" if status not in (None, "final") else "")


def _year_values(pairs: str | None) -> list[tuple[str, str]]:
    """'2020:2021.1, 2022:2024.1' (fct_evaluation_cycle.rules_versions / performance_groups) as (year, value)."""
    out = []
    for part in (pairs or "").split(", "):
        year, _, value = part.partition(":")
        if year:
            out.append((year, value))
    return out


def cycle_judged_by_text(r: dict, lang: str | None) -> str:
    """Which rules version and which performance group judged a cycle (methodology §10): the verdict by the rules in
    force in the cycle's last evaluated year (fct_evaluation_cycle.verdict_rules_version) and the group of that year
    (end_group); each year's stage by its own year's rules and in its own year's group. A cycle across a rules
    change or a change of group lists every year's, so the city sees what judged each part. "–" for a row
    published before the mart named them."""
    version, group = r.get("verdict_rules_version"), r.get("end_group")
    rules_years, group_years = _year_values(r.get("rules_versions")), _year_values(r.get("performance_groups"))
    if version is None and not rules_years:
        return "–"
    if version is None:
        # a snapshot published before the column: the last evaluated year's version is the last one listed
        version = rules_years[-1][1]
    text = t("judged_by_verdict", lang).format(version=version or "–")
    if group:
        text += t("judged_by_group", lang).format(group=label(GROUPS, group, lang))
    if len({v for _, v in rules_years}) > 1:
        text += t("judged_by_years_rules", lang).format(years=", ".join(f"{y}:{v}" for y, v in rules_years))
    if len({v for _, v in group_years}) > 1:
        years = ", ".join(f"{y}:{'–' if v == '-' else label(GROUPS, v, lang)}" for y, v in group_years)
        text += t("judged_by_years_groups", lang).format(years=years)
    return text + catalog_comparison_text(r, lang)


def catalog_comparison_text(r: dict, lang: str | None) -> str:
    """Which catalogs a cycle's index change compares (fct_evaluation_cycle.baseline_catalog_version,
    end_catalog_version): like-for-like, or across a catalog change with the like-for-like change beside it
    (index_change_same_catalog, at the published precision). A change across catalogs mixes the city's doing with the
    weight switch: X1, EX1 and R2 count it only where both comparisons agree (office rule GEN.change_like_for_like,
    said in the cycle's evidence). "" where the
    baseline year's catalog is unknown (or a row published before the columns)."""
    old, new = r.get("baseline_catalog_version"), r.get("end_catalog_version")
    if not old or not new:
        return ""
    if old == new:
        return t("judged_by_catalog_same", lang).format(version=new)
    same = _num(r.get("index_change_same_catalog"))
    shown = "–" if same is None else true_minus(("+" if same > 0 else "") + index_text(same))
    return t("judged_by_catalog_across", lang).format(old=old, new=new, same=shown)
