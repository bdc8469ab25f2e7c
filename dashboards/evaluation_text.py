"""Readable text of the evaluation rules a unit fired in a year.

The mart's ``rules_fired`` is an English sentence per rule. Chinese readers get the same facts rebuilt from the
row's ``fired_*`` flags and the values behind them (same order and rounding as fct_evaluation_year.sql), so the
two languages can never disagree on a number.
"""

from __future__ import annotations

import math

from .i18n import GROUPS, label, norm_lang

RULE_ORDER = ("x1", "r1", "r2", "w1", "w2", "ex1")


def _num(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _signed(v) -> str:
    v = _num(v)
    return "–" if v is None else f"{v:+.1f}"


def _zh(rule: str, r: dict) -> str:
    base_year = r["cycle_start"] - 1 if r.get("cycle_start") is not None else None
    since = f"较{base_year}年" if base_year else "较周期基年"
    group = label(GROUPS, r.get("performance_group"), "zh") or "–"
    if rule == "x1":
        return f"X1 退出候选：上一周期处于整改，综合指数{since}变化 {_signed(r.get('index_change_cycle'))}"
    if rule == "r1":
        return f"R1 整改：连续{r.get('watch_run_years') or '–'}年处于关注"
    if rule == "r2":
        return f"R2 整改：本周期综合指数变化 {_signed(r.get('index_change_cycle'))}"
    if rule == "w1":
        return f"W1 关注：处于“{group}”组，排名 {r.get('rank') or '–'}/{r.get('n_ranked') or '–'}"
    if rule == "w2":
        return f"W2 关注：{r.get('targets_lagging') or 0}/{r.get('targets_evaluable') or 0}项关键目标进展有限或倒退"
    return f"EX1 示范：处于“{group}”组，综合指数{since}变化 {_signed(r.get('index_change_cycle'))}"


def rules_text(row: dict, lang: str | None) -> str:
    """The rules fired in ``row`` (a fct_evaluation_year row) in the reader's language; '' when none."""
    fired = [rule for rule in RULE_ORDER if row.get(f"fired_{rule}")]
    english = row.get("rules_fired") or ""
    if norm_lang(lang) == "en":
        return english
    return "；".join(_zh(rule, row) for rule in fired)
