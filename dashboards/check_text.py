"""A data-quality check in the reader's words, in 简体中文 or English: the checked table, column and rule of a Great
Expectations check or a dbt data test. Read by the dashboard's quality page and by `ipcity quality` (light: no Dash),
so both name a check alike, with its technical name beside it, not instead of it."""

from __future__ import annotations

import json

from pipelines.ingest.reason_labels import column_label

from .i18n import (
    CHECK_KINDS,
    CHECK_SUBJECTS,
    DBT_TESTS,
    EXPECTATION_TYPES,
    MART_NAMES,
    SOURCE_NAMES,
    TEXT,
    label,
    norm_lang,
    t,
)


def column_words(column: str, asset: str | None, lang: str) -> str:
    """A checked column in words: the contract's Chinese header of a raw column, a mart's column as the pages name
    it (composite_index: 综合指数 / Composite index), else its name spelled out ("unit code")."""
    layer, _, name = (asset or "").partition(".")
    header = column_label(column, name if layer == "raw" else None)
    if column in CHECK_SUBJECTS:
        return label(CHECK_SUBJECTS, column, lang)
    if lang == "zh" and header != column:
        return header
    if column in TEXT:
        return t(column, lang)
    return header if lang == "zh" else column.replace("_", " ")


def _expectation_type(value) -> str | None:
    try:
        v = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return None
    return v.get("type") if isinstance(v, dict) else None


def check_label(check_name: str | None, asset: str | None, expectation, lang: str) -> str:
    """A check in the reader's words: "<column's header>：<kind>" for a check named "<column>__<kind>" —
    amount_10k_yuan__not_null on raw.pledge_loans reads "质押金额(万元)：不为空" / "Amount 10k yuan: not null".
    The header is the contract's Chinese one (pipelines/sources.py aliases, the source's own first); English has
    none, so the column's name is spelled out in words. A kind without a label is said by the check's expectation
    type, and failing that shown as it is (a new check is still visible, if not yet translated)."""
    if not check_name:
        return ""
    lang = norm_lang(lang)
    column, sep, kind = check_name.rpartition("__")
    if not sep:
        column, kind = "", check_name
    if kind in CHECK_KINDS:
        kind_text = label(CHECK_KINDS, kind, lang)
    elif _expectation_type(expectation) in EXPECTATION_TYPES:
        kind_text = label(EXPECTATION_TYPES, _expectation_type(expectation), lang)
    else:
        kind_text = kind
    if not column:
        return kind_text[:1].upper() + kind_text[1:] if lang == "en" else kind_text
    subject = column_words(column, asset, lang)
    if lang == "en":
        return f"{subject[:1].upper()}{subject[1:]}: {kind_text}"
    return f"{subject}：{kind_text}"


def dbt_check_label(rule: str | None, columns: str | None, expectation, lang: str) -> str:
    """A dbt data test in the reader's words: its kind from the labels seed and the columns it reads (a failed
    column_rules test: the failing columns) — "列规则（status, unit_name）" / "Column rules (status, unit_name)"."""
    try:
        kind = (json.loads(expectation) if isinstance(expectation, str) else expectation or {}).get("test")
    except (ValueError, AttributeError):
        kind = None
    text = label(DBT_TESTS, kind or rule, lang)
    text = text[:1].upper() + text[1:] if lang == "en" else text
    if not columns:
        return text
    return f"{text} ({columns})" if lang == "en" else f"{text}（{columns}）"


def asset_label(asset: str | None, lang: str) -> str:
    """A checked asset by name and layer: raw.<source> by the source's contract title, marts.<model> by the
    mart's name ("知识产权培训（原始数据）" / "Training events (raw data)"); an unknown one as it is."""
    if not asset:
        return ""
    layer, _, name = asset.partition(".")
    names = {"raw": SOURCE_NAMES, "marts": MART_NAMES}.get(layer)
    known = bool(names) and name in names
    # an unknown source stays as it is (a new source is visible, if not yet named); a dbt model without a name in
    # words (a dbt test's intermediate model, an evaluation mart) is its name, in its layer
    if not name or f"layer_{layer}" not in TEXT or (layer == "raw" and not known):
        return asset
    text = label(names, name, lang) if known else name
    where = t(f"layer_{layer}", lang)
    return f"{text}（{where}）" if lang != "en" else f"{text} ({where})"


def dbt_test_kind(expectation, rule: str | None = None) -> str | None:
    """A dbt test's kind (not_null, unique, column_rules...) as recorded with its result, else its rule."""
    try:
        v = json.loads(expectation) if isinstance(expectation, str) else expectation or {}
    except ValueError:
        v = {}
    return (v.get("test") if isinstance(v, dict) else None) or rule


def dbt_check_description(
    asset: str | None, rule: str | None, columns: str | None, expectation, lang: str, *, with_table: bool = True
) -> str:
    """What a dbt data test checks, where, in words — "城市目录（指标层）· 单位名称、状态：列规则" / "Cities (marts) ·
    unit name, status: column rules" — for a reader who does not know that `not_null_dim_city_unit_name` means
    "the unit name of every city is present". The technical name goes beside it (its tooltip, the CLI's second
    line). ``with_table``: name the table first (not where a column beside it names it already)."""
    lang = norm_lang(lang)
    kind = dbt_test_kind(expectation, rule)
    text = label(DBT_TESTS, kind, lang) if kind else ""
    names = [c.strip() for c in (columns or "").split(",") if c.strip()]
    where = asset_label(asset, lang) if with_table else ""
    subject = ("、" if lang == "zh" else ", ").join(column_words(c, asset, lang) for c in names)
    if lang == "en":
        what = f"{subject}: {text}" if subject else text
        return f"{where} · {what}" if where else what[:1].upper() + what[1:]
    what = f"{subject}：{text}" if subject else text
    return f"{where} · {what}" if where else what
