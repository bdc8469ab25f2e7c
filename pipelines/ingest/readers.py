"""Read a landing file (CSV/TSV in any of the encodings offices send, Parquet, XLSX, XLS) into an all-text frame.

Everything is read as text first: typing happens in `validate`, row by row, so that one bad cell
quarantines one row instead of failing the whole file. The header row is found by matching the contract's
column names and aliases (normalised: line breaks, full-width spaces and brackets, units in brackets), which
skips the title rows offices put above their tables and joins two-row (merged) headers. A workbook is read
whole: every sheet is read, instruction sheets are skipped by name, and a sheet that cannot be mapped refuses
the file by name.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import polars as pl

from pipelines.counts import count_en, noun_en
from pipelines.sources import (
    COUNT_UNITS,
    DISTRICT_HEADER_PATTERN,
    INSTRUCTION_SHEET_PATTERN,
    NOTE_COUNT_PATTERN,
    NOTE_UNIT_PATTERN,
    SCALED_COUNT_UNIT,
    SEVERAL_MONTHS_PATTERN,
    SHORT_UNITS,
    TITLE_UNIT_PATTERN,
    UNIT_FAMILIES,
    UNIT_LINE_PATTERN,
    UNIT_SCALES,
    Source,
    full_unit,
)

# .et: WPS Spreadsheets' own name for its workbooks (WPS's default save in many offices); its bytes are an Excel
# 97-2003 (BIFF8) or an OOXML workbook, read by their first bytes as those are (refused by name otherwise).
SUPPORTED_SUFFIXES = (".csv", ".txt", ".tsv", ".parquet", ".xlsx", ".xlsm", ".xls", ".et")
HEADER_SCAN_ROWS = 15
ROW_NUMBER = "__row"
# Rows of the second and later sheets of a workbook are numbered sheet ordinal x this + their Excel row, so a
# row number stays unique in the file and says which sheet it came from (see `sheet_and_row`).
SHEET_ROW_BLOCK = 1_000_000
_DELIMITERS = (",", "\t", ";", "|")
# Columns a reader adds to a frame holding, per row, why the row cannot be trusted as read (null: fine): a row with
# more fields than the header, a cut-off last row, a month Excel stored as an ambiguous number. Such rows are refused.
ROW_FLAGS = ("__ragged", "__truncated", "__ambiguous", "__repeated_header")
# Of those, the flags whose reason stands alone (the row's other faults are its symptoms: a header's cells are no
# values).
WHOLE_ROW_FLAGS = ("__repeated_header",)


class IngestError(Exception):
    """A file that cannot be loaded at all. Nothing of it is loaded."""

    def __init__(self, file_name: str, reason: str):
        self.file_name = file_name
        self.reason = reason
        super().__init__(f"{file_name}: {reason}")


class AmbiguousHeader(IngestError):
    """A header was found but does not say which column holds a contract column: the file is refused as it is
    (not taken for a sheet or a delimiter without a header)."""


@dataclass
class RawFrame:
    df: pl.DataFrame  # all Utf8 columns, headers as found in the file, plus ROW_NUMBER (1-based file row)
    encoding: str
    notes: list[str] = field(default_factory=list)
    # one entry per sheet of a workbook: {"sheet", "status" (read | skipped: why), "rows"}; [] for text files
    sheets: list[dict] = field(default_factory=list)
    unit_line: str | None = None  # the unit a "单位：元" line above the table states, if any
    # the data year the file states outside its rows (a 2025年 title line, a 2025年12月 in the file name): completes
    # month cells written without a year (12月)
    context_year: int | None = None
    unit_note: bool = False  # unit_line is stated by a note below the table (注：金额单位为亿元), not above it
    # several months the title rows (or else the file name) state as the table's period: (year, first month, last
    # month, where, the words): 2025年1-3月, 2025年第一季度, 截至2025年3月 (see title_span)
    title_span: tuple[int | None, int, int, str, str] | None = None
    # the one month the title rows state as the table's (2025年3月知识产权质押融资统计表): (year, month), see title_month
    title_month: tuple[int, int] | None = None


# ---------------------------------------------------------------------------------------------- headers

_BRACKETS = str.maketrans({"[": "(", "]": ")", "【": "(", "】": ")", "〔": "(", "〕": ")", "〈": "(", "〉": ")"})
# Invisible format characters that text copied from web pages and chats carries: zero-width spaces and joiners,
# direction marks and embeddings, the word joiner, byte-order marks, soft hyphens. They are no whitespace to
# regular expressions, and invisible to the office: in a header, a code, a number or an identifier they only make
# a known value unknown (or a key new).
INVISIBLE_CHARS = r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"


# A unit written after the name instead of in brackets — 质押金额/万元, 质押金额_万元, 质押金额 万元 (NFKC has made
# a full-width space, ／ and ＿ plain), also with its label (质押金额/单位:万元) — is the bracketed unit 质押金额(万元),
# so every spelling converts exactly as the bracketed one does. Only a unit word after the separator counts (a
# unit of UNIT_SCALES or COUNT_UNITS, per cent, or any …元 so that 金额/美元 is refused naming its currency): 城市/地区
# or 登记 笔数 stay as written. Written for Python's re and Polars' regex alike (flag_repeated_headers uses it too).
_UNIT_WORDS = sorted({*UNIT_SCALES, *SHORT_UNITS, *COUNT_UNITS, "%", "百分比", "百分数"}, key=lambda u: (-len(u), u))
UNIT_AFTER_SEPARATOR = (
    r"^(.*?[^\s/_])(?:\s*[/_]\s*|\s+)(?:(?:金额)?单位:?)?("
    + "|".join(re.escape(u) for u in _UNIT_WORDS)
    + r"|[^\s/_()]{1,3}元)[\s*※:]*$"
)


def normalise_header(h: str) -> str:
    """Full-width to half-width (NFKC), a unit after a separator in brackets, no whitespace at all (Alt+Enter
    line breaks, full-width spaces), one bracket style, no required-field stars, lower case."""
    return _normalised_header(str(h))


# Remembered by text: finding a file's header row compares every cell of the candidate rows with every alias of
# every column, so a default `ipcity run` normalised the same few hundred texts ≈ 88,000 times (five regular
# expressions each, ≈ 0.5 s of CPU on the planning's critical path). The answer depends on the text alone.
@lru_cache(maxsize=1 << 14)
def _normalised_header(h: str) -> str:
    s = re.sub(INVISIBLE_CHARS, "", unicodedata.normalize("NFKC", h))
    s = re.sub(UNIT_AFTER_SEPARATOR, r"\1(\2)", s)
    s = re.sub(r"\s+", "", s).translate(_BRACKETS)
    # a money unit written straight after an amount's name (质押金额万元, 质押融资额亿元): the bracketed unit. Read as
    # no header before, the file was refused for a missing amount column.
    s = re.sub(r"^(.*额)(百万元|千元|万元|亿元|元)(?=[*※:]*$)", r"\1(\2)", s)
    return s.strip("*※:").lower()


@dataclass(frozen=True)
class HeaderMatch:
    column: str
    factor: float | None = None  # multiply values by this to get the contract's unit
    unit: str | None = None  # the unit the header states; None = not stated (a bare 金额)
    percent: bool = False  # a (%) header: values are per cent


class HeaderUnitError(ValueError):
    """A known column under a header naming a unit that cannot be converted into the contract's."""


def header_names(source: Source) -> dict[str, str]:
    """Every accepted header (normalised) -> canonical column name."""
    return {k: v[0] for k, v in _exact_headers(source).items()}


_CACHE: dict[tuple[str, str], dict] = {}  # (kind, source name) -> header lookup (sources are module constants)


def _exact_headers(source: Source) -> dict[str, tuple[str, float | None, str | None]]:
    if ("exact", source.name) in _CACHE:
        return _CACHE[("exact", source.name)]
    names: dict[str, tuple[str, float | None, str | None]] = {}
    for c in source.columns:
        for h in (c.name, *c.aliases):
            key = normalise_header(h)
            m = re.fullmatch(r".+\(([^()]*)\)", key)
            stated = m.group(1) if m and m.group(1) in UNIT_SCALES else (c.unit if h == c.name else None)
            names[key] = (c.name, None, stated)
        for h, factor in c.unit_aliases.items():
            key = normalise_header(h)
            m = re.fullmatch(r".+\(([^()]*)\)", key)
            stated = m.group(1) if m and m.group(1) in UNIT_SCALES else "(alias)"
            names[key] = (c.name, factor, stated)
    _CACHE[("exact", source.name)] = names
    return names


def _header_bases(source: Source) -> dict[str, str]:
    """Headers without their bracketed unit (质押金额 of 质押金额(万元)) -> column."""
    if ("bases", source.name) in _CACHE:
        return _CACHE[("bases", source.name)]
    bases: dict[str, str] = {}
    for c in source.columns:
        for h in (c.name, *c.aliases, *c.unit_aliases):
            key = normalise_header(h)
            bases.setdefault(re.sub(r"\([^()]*\)$", "", key), c.name)
    _CACHE[("bases", source.name)] = bases
    return bases


def _percent_capable(source: Source, column: str) -> bool:
    col = source.column(column)
    return col.ratio or (source.ratio_by_indicator is not None and column in source.ratio_by_indicator[1])


def match_header(h, source: Source) -> HeaderMatch | None:
    """The contract column a header means, with the unit it states. Raises HeaderUnitError for a known column
    under a unit that cannot be converted (金额(美元))."""
    if h is None:
        return None
    key = normalise_header(h)
    if not key:
        return None
    exact = _exact_headers(source)
    if key in exact:
        col, factor, stated = exact[key]
        return HeaderMatch(col, factor, stated)
    if (m := re.fullmatch(r"\(?其中\)?[:,、]?(.+)", key)) is not None:
        # 其中：发明专利授权量 (a column of a breakdown beside its total, 专利授权总量): the column it names
        return match_header(m.group(1), source)
    if source.period_columns and (rest := _without_period_word(key, _THIS_PERIOD_WORDS)) is not None:
        # 本月登记笔数, 当月质押金额(万元), 登记笔数(本月): the month's own figure, as the plain header says
        inner = match_header(rest, source)
        return inner if inner is not None and inner.column in source.period_columns else None
    if source.period_columns and cumulative_column(key, source) is not None:
        return None  # 登记笔数(累计): a running total is no contract column (_leave_cumulative_columns judges it)
    bases = _header_bases(source)
    m = re.fullmatch(r"(.+?)\(([^()]*)\)", key)
    if m and m.group(1) in bases:
        # 质押金额(单位：亿元): templates write the unit with its label inside the brackets; the unit is what follows
        col, unit = bases[m.group(1)], re.sub(r"^(?:金额)?单位:?", "", m.group(2))
        return _unit_match(source, col, unit, str(h))
    if key in bases:
        return HeaderMatch(bases[key])
    return None


# Words in front of a header (or in brackets after it) saying which period its figures cover: the month's own
# (本月登记笔数, 登记笔数(当月)) or a running total since the start of the year (本年累计质押金额, 累计登记笔数,
# 1-3月累计笔数, 年初至今; 年累计, 当年累计: before, "missing required column", which did not say the column was there
# as a running total). Headers are normalised (NFKC, no spaces, round brackets) before these are asked.
_THIS_PERIOD_WORDS = r"(?:本月|当月|本期|当期)(?:数|值|发生(?:额|数)?)?"
_CUMULATIVE_WORDS = (
    r"(?:本年|全年|年度|当年|年|年初至今|自年初)?(?:累计|累积)(?:数|值|发生(?:额|数)?)?|\d{1,2}-\d{1,2}月(?:累计)?|本年|年初至今"
    r"|截[至止](?:本月|当月|本期|目前)?(?:累计)?"
)


def _without_period_word(key: str, words: str) -> str | None:
    """A normalised header without the period word (``words``) in front of it or in brackets after it, or None."""
    m = re.fullmatch(rf"(?:{words})[:·\-_]?(.+)|(.+?)\((?:{words})\)(\([^()]*\))?", key)
    if m is None:
        return None
    return m.group(1) if m.group(1) is not None else m.group(2) + (m.group(3) or "")


def cumulative_column(header: str, source: Source) -> str | None:
    """The period column a header names as its running total (本年累计登记笔数, 质押金额(累计)(万元)), else None."""
    if not source.period_columns:
        return None
    rest = _without_period_word(normalise_header(header), _CUMULATIVE_WORDS)
    col = _safe_match(rest, source) if rest else None
    return col if col in source.period_columns else None


def _unit_match(source: Source, column: str, unit: str, header: str) -> HeaderMatch:
    c = source.column(column)
    unit = full_unit(unit, c.unit)
    if unit in ("%", "百分比", "百分数"):
        if _percent_capable(source, column):
            return HeaderMatch(column, percent=True, unit="%")
        raise HeaderUnitError(f"header '{header}': per cent given for {column}, which is not a share")
    if c.unit and unit in UNIT_SCALES:
        family = next(f for f in UNIT_FAMILIES.values() if c.unit in f)
        if unit in family:
            factor = UNIT_SCALES[unit] / UNIT_SCALES[c.unit]
            return HeaderMatch(column, None if factor == 1 else factor, unit)
    if c.unit is None and (unit in COUNT_UNITS or unit == ""):
        return HeaderMatch(column)
    expected = (
        "one of " + ", ".join(u for f in UNIT_FAMILIES.values() if c.unit in f for u in f) if c.unit else "a count"
    )
    raise HeaderUnitError(f"header '{header}': unit '{unit}' cannot be converted into {column} (expected {expected})")


def _cell_text(v) -> str:
    return "" if v is None else str(v)


def _row_hits(row: list, source: Source) -> tuple[int, list]:
    """How many distinct contract columns a row's cells name, and the cells as header texts."""
    cols = set()
    for cell in row:
        try:
            m = match_header(cell, source)
        except HeaderUnitError:
            m = HeaderMatch("__unit_error__" + _cell_text(cell))
        if m is not None:
            cols.add(m.column)
    return len(cols), row


def _scale_units(text: str) -> list[str]:
    """The units a bracket lists (亿元; 亿元、笔; 万元/笔 is no list but a ratio, so no slash), each a unit word, or []."""
    words = [w for w in re.split(r"\s*[、,，;；]\s*", normalise_header(text).strip("()")) if w]
    ok = all(
        w in UNIT_SCALES or w in SHORT_UNITS or w in COUNT_UNITS or re.fullmatch(SCALED_COUNT_UNIT, w) for w in words
    )
    return words if words and ok else []


def _family_unit(unit: str, family: str) -> str | None:
    """``unit`` (a short form too: 万 over money is 万元) as a member of ``family``, else None."""
    unit = SHORT_UNITS.get(unit, {}).get(family, unit)
    return unit if unit in UNIT_FAMILIES[family] else None


def _unit_conflict(title: str, units: list[str], sub: str) -> tuple[str, str, str, str] | None:
    """(title, title's unit, sub-column, its unit) when a sub-column states a unit of the same family as one its
    group title states, a different one (金额(万元) under 质押融资（亿元）): the same figures in two scales."""
    m = re.fullmatch(r"(.+?)\(([^()]+)\)", normalise_header(sub))
    alone = _scale_units(sub)  # a bare unit under the title (万元 under 质押融资（亿元）) states one as well
    if m is None and len(alone) != 1:
        return None
    for family in UNIT_FAMILIES:
        own = _family_unit(m.group(2) if m is not None else alone[0], family)
        stated = [u for u in (_family_unit(t, family) for t in units) if u is not None]
        if own is not None and stated and own not in stated:
            return title, stated[0], sub, own
    return None


def _combine_two_rows(upper: list, lower: list, source: Source, conflicts: list | None = None) -> list:
    """The header of a two-row (merged) header: per column the lower cell, the upper cell, or both joined
    (a group title over its sub-columns, a name over its unit) — whichever names a contract column. A sub-column
    whose unit contradicts its group title's goes into ``conflicts`` (find_header refuses the file)."""
    n = max(len(upper), len(lower))
    upper = list(upper) + [None] * (n - len(upper))
    lower = list(lower) + [None] * (n - len(lower))
    filled, last = [], None  # a merged group title spans the empty cells to its right
    for u in upper:
        last = u if u not in (None, "") else last
        filled.append(last)
    out = []
    for j in range(n):
        u, lo, f = _cell_text(upper[j]).strip(), _cell_text(lower[j]).strip(), _cell_text(filled[j]).strip()
        if lo and _is_unit_row([lo]):
            # a unit under its column's name: 质押金额 over 元 is 质押金额(元)
            candidates = [f"{u}({normalise_header(lo).strip('()')})", u]
        else:
            candidates = [lo, u, u + lo, f + lo, f"{u}({lo})" if lo else "", u + lo.strip("()（）")]
            if lo and f and _period_of(lo) is not None:
                # a period under its column's name (登记笔数 over 本月 | 本年累计): the period's header of it
                candidates = [lo + f]
        # A group title that states a unit (质押融资（亿元） over 笔数 | 金额): its unit is its money columns', tried
        # first: read as 金额 alone, 亿元 figures loaded as 万元, silently, and 笔数 named no column. A column of
        # another family (笔数 is a count) takes the title's words without its unit.
        # The title may list several units (质押融资（亿元、笔）: money in 亿元, counts in 笔), each for its family.
        grouped = re.fullmatch(r"(.*?)\s*[(（]\s*(?:单位\s*[:：]?\s*)?([^()（）]+?)\s*[)）]", f) if lo and f else None
        units = _scale_units(grouped.group(2)) if grouped else []
        if units and conflicts is not None and (clash := _unit_conflict(f, units, lo)) is not None:
            # 金额(万元) under 质押融资（亿元）: one of the two is wrong, and which the file cannot tell (a factor of
            # 10 000). Taken from the sub-column, the figures loaded as 万元 whatever the title said, silently.
            conflicts.append(clash)
        if units and not _is_unit_row([lo]) and _period_of(lo) is None:
            names = dict.fromkeys([grouped.group(1), re.sub(r"^知识产权", "", grouped.group(1)), ""])
            for unit, name, cand in [(u, n, f"{n}{lo}({u})") for u in units for n in names]:
                try:
                    if match_header(cand, source) is not None:
                        candidates = [cand]
                        break
                except HeaderUnitError:
                    if re.fullmatch(SCALED_COUNT_UNIT, unit) and _safe_match(name + lo, source) is not None:
                        # 笔数 under 质押融资（万笔、亿元）: its counts in 万笔, refused by that header (read without
                        # the title's unit, 9 万笔 loaded as 9 笔, silently)
                        candidates = [cand]
                        break
                    continue
            else:
                candidates = [name + lo for name in names if name] + candidates
        chosen = None
        for cand in candidates:
            if not cand:
                continue
            try:
                if match_header(cand, source) is not None:
                    chosen = cand
                    break
            except HeaderUnitError:
                chosen = cand
                break
        if chosen is None and lo and f and _period_of(lo) is not None:
            # 本年累计 under 登记笔数: 本年累计登记笔数, a running total _leave_cumulative_columns judges
            chosen = lo + f
        out.append(chosen if chosen is not None else (lo or u or None))
    return out


def _is_unit_row(row: list) -> bool:
    cells = [normalise_header(c).strip("()") for c in row if c not in (None, "") and str(c).strip()]
    # (a count in 万 too: 万笔 under 登记笔数 is 登记笔数(万笔), refused by its header; unread, the row of units was no
    # header part, and the 亿元 beside it was lost: 亿元 figures loaded as 万元, silently)
    return bool(cells) and all(
        c in UNIT_SCALES or c in SHORT_UNITS or c in COUNT_UNITS or c == "%" or re.fullmatch(SCALED_COUNT_UNIT, c)
        for c in cells
    )


# A header cell naming one month (1月, 01月, 一月, 十二月份, 2025年3月): the months of a 统计月报 written across.
_MONTH_LABEL = re.compile(r"(?:\d{4}\s*年\s*)?(?:\d{1,2}|[一二三四五六七八九十]{1,3})\s*月份?")
_NUMBER_CELL = re.compile(r"[-+]?[\d,]+(?:\.\d+)?")


def _refuse_months_across(rows: list[list], source: Source, file_name: str) -> None:
    """Refuse a table whose months run across its columns (城市 | 1月 | 2月 | … | 12月, one row per city; or a month's
    group title over its figures' sub-columns): the contract's row is one unit and month with every figure. Left to
    the header search, such a table was refused as having no header, or for a column appearing twice, neither of
    which says what to change. Unpivoting is not done: one figure per month (the usual 月报 table) leaves the
    other required figures of the row unknown, and a month's group of sub-columns is rarely complete."""
    if source.partition_date != "month":
        return
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        labels = [
            _cell_text(c).strip()
            for c in row
            if _MONTH_LABEL.fullmatch(unicodedata.normalize("NFKC", _cell_text(c)).strip())
        ]
        numbers = sum(1 for c in row if _NUMBER_CELL.fullmatch(unicodedata.normalize("NFKC", _cell_text(c)).strip()))
        if len(set(labels)) >= 2 and numbers < len(labels):  # a data row holds figures (its month once at most)
            shown = ", ".join(f"'{x}'" for x in labels[:3]) + (" …" if len(labels) > 3 else "")
            raise AmbiguousHeader(
                file_name,
                f"months as columns (row {i + 1}: {shown}): the table needs one row per city and month, the month in "
                "a column of its own (月份) and each figure beside it; send the months down the rows, not across",
            )


# A header cell naming one year (2024年, 2025年度): the years of a 统计年报 written across.
_YEAR_LABEL = re.compile(r"((?:19|20)\d\d)\s*年度?(?:末)?")
# A header cell naming one quarter or half year (一季度, 第二季度, 2025年三季度, Q4, 上半年)
_QUARTER_LABEL = re.compile(r"(?:(?:19|20)\d\d\s*年?\s*)?(?:第?\s*[一二三四1-4]\s*季度?|[Qq][1-4]|[上下]半年)")


def _refuse_years_across(rows: list[list], source: Source, file_name: str) -> None:
    """Refuse a table whose years run across its columns (地区 | 指标 | 2023年 | 2024年, 2023年发明专利授权量 |
    2024年发明专利授权量, or a year's group title over its figures' sub-columns: 2024年 | 2025年 over 件数 | 金额): the
    contract's row is one unit and period. Left to the
    header search, such a table was refused as having a header but no data rows, or for a column appearing twice,
    neither of which says what to change."""
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        texts = [unicodedata.normalize("NFKC", _cell_text(c)).strip() for c in row]
        # a year alone, or in front of a contract header (2023年发明专利授权量 | 2024年发明专利授权量)
        labels = [
            t
            for t in texts
            if _YEAR_LABEL.fullmatch(t) or ((m := _YEAR_LABEL.match(t)) and _safe_match(t[m.end() :], source))
        ]
        numbers = sum(1 for t in texts if _NUMBER_CELL.fullmatch(t))
        quarters = [t for t in texts if _QUARTER_LABEL.fullmatch(t)]
        if len(set(quarters)) >= 2 and numbers < len(quarters):
            # 一季度 | 二季度 | …: refused as a header without data rows, or as a year to date (a quarter is not)
            shown = ", ".join(f"'{x}'" for x in quarters[:3]) + (" …" if len(quarters) > 3 else "")
            raise AmbiguousHeader(
                file_name,
                f"quarters or half years as columns (row {i + 1}: {shown}): the table needs one row per unit and "
                "period, the period in a column of its own (年份 or 月份) and each figure beside it; send each month's "
                "(or year's) own figures down the rows",
            )
        if len(set(labels)) >= 2 and numbers < len(labels):  # a data row holds figures (its year once at most)
            shown = ", ".join(f"'{x}'" for x in labels[:3]) + (" …" if len(labels) > 3 else "")
            raise AmbiguousHeader(
                file_name,
                f"years as columns (row {i + 1}: {shown}): the table needs one row per unit and period, the period in "
                "a column of its own (年份 or 月份) and each figure beside it; send the years down the rows, not across",
            )


def find_header(rows: list[list], source: Source, file_name: str) -> tuple[int, int, list]:
    """(first header row index, header rows (1 or 2), header cells). Two known headers on one row identify the
    header; data rows never look like that."""
    _refuse_months_across(rows, source, file_name)
    _refuse_years_across(rows, source, file_name)
    best = (-1, 1, [], 0)
    scan = rows[:HEADER_SCAN_ROWS]
    for i, row in enumerate(scan):
        hits, _ = _row_hits(row, source)
        if hits > best[3]:
            best = (i, 1, row, hits)
        if i + 1 < len(rows):
            pair = _combine_two_rows(row, rows[i + 1], source)
            pair_hits, _ = _row_hits(pair, source)
            if pair_hits > max(hits, best[3]) and pair_hits > _row_hits(rows[i + 1], source)[0]:
                best = (i, 2, pair, pair_hits)
            elif hits >= 2 and hits >= best[3] and (_is_unit_row(rows[i + 1]) or _is_period_row(rows[i + 1])):
                # a row of units under the header (笔 / 万元 / 件), or of periods (本月 / 本年累计): part of it
                best = (i, 2, pair, max(hits, pair_hits))
    if best[0] < 0 or best[3] < 2:
        raise IngestError(
            file_name,
            f"no header row found in the first {HEADER_SCAN_ROWS} rows: expected columns such as "
            + ", ".join(c.name for c in source.columns[:5]),
        )
    if best[1] == 2:
        conflicts: list[tuple[str, str, str, str]] = []
        _combine_two_rows(rows[best[0]], rows[best[0] + 1], source, conflicts)
        if conflicts:
            title, title_unit, sub, sub_unit = conflicts[0]
            raise AmbiguousHeader(
                file_name,
                f"units disagree: group title '{title}' states {title_unit} over sub-column '{sub}' stating "
                f"{sub_unit}; which the figures are in cannot be told (state one unit, in the title or the sub-columns)",
            )
    if best[0] + 1 < len(rows):
        _refuse_spanned_headers(rows[best[0]], rows[best[0] + 1], best[1] == 2, source, file_name)
    group_row = rows[best[0]] if best[1] == 2 else (rows[best[0] - 1] if best[0] > 0 else None)
    return best[0], best[1], _leave_cumulative_columns(group_row, list(best[2]), source, file_name)


_CUMULATIVE = re.compile(r"累计")
_THIS_PERIOD = re.compile(r"本月|当月|本期|当期")
_EARLIER = re.compile(r"上年|去年|同期|上月|上期|前期|上季|上一")
# A running total whose words name this month as its end (1-本月累计, 1月至本月, 截至本月, 年初至当月, 本月累计: from the
# year's start up to this month): the 本月 in it is no "this month's own". Read as one, such a group's year to date
# loaded as the month's figures, silently.
_UP_TO_THIS_MONTH = re.compile(
    r"(?:(?:1|一|年初)\s*月?份?\s*[-—–~至到]\s*|截[至止]\s*|自年初至\s*)(?:本|当)(?:月|期)(?:末|底)?(?:累计|累积)?"
    r"|(?:本|当)(?:月|期)(?:末|底)?(?:累计|累积)"
)


def _running_group(title: str, several: bool) -> bool:
    """Whether a group title (or the one title line above a header) says its columns hold a running total: 累计 (not
    beside a 本月 of its own: 本月及累计), a total up to this month (1-本月累计, 截至本月), or, on a row of several group
    titles, a period of several months (1-3月 | 3月, 一季度 | 3月; a lone title line's period is title_span's)."""
    text = _UP_TO_THIS_MONTH.sub("累计", re.sub(r"\s+", "", unicodedata.normalize("NFKC", title)))
    if _CUMULATIVE.search(text) and not _THIS_PERIOD.search(text):
        return True
    return several and not _THIS_PERIOD.search(text) and _span_in(text) is not None


def _leave_cumulative_columns(group_row: list | None, header: list, source: Source, file_name: str) -> list:
    """A group title saying 累计 (本年累计, 1-3月累计) over a column that holds the period's own figure: the values
    are a running total, and were loaded as the month's (a quarter counted again in every month), silently. Beside
    a block of the same columns that is not cumulative (本月 | 本年累计, the usual monthly report) the cumulative
    block is left as extra columns (renamed so no contract name matches; the ledger lists them); alone, the file
    is refused naming the group and its headers. The group row is the header's upper row or the row above it. A
    group of an earlier period (上年同期, 上月: a report's comparison block) is the same: beside the month's columns it
    is left, alone it is refused (last year's March was loaded as this March, silently)."""
    if not source.period_columns:
        return header
    own_header = {c for hd in header if (c := _safe_match(_cell_text(hd), source))}
    running = {j: col for j, hd in enumerate(header) if (col := cumulative_column(_cell_text(hd), source))}
    alone = [j for j, col in running.items() if col not in own_header]
    if alone:
        # 本年累计质押金额 without 本月质押金额 beside it: a year to date, refused as a cumulative group is
        raise AmbiguousHeader(
            file_name,
            f"{noun_en(len(alone), 'header')} "
            + ", ".join(f"'{_cell_text(header[j]).strip()}'" for j in alone)
            + ": a year-to-date (cumulative) total, not the month's own figure (send each month's own figures, "
            "or put them beside the total under a header such as 本月登记笔数)",
        )
    if not group_row:
        return header
    filled, last = [], None  # a merged title spans the empty cells to its right
    for j in range(len(header)):
        cell = group_row[j] if j < len(group_row) else None
        last = _cell_text(cell).strip() if cell not in (None, "") and _cell_text(cell).strip() else last
        filled.append(last)
    columns = [_safe_match(_cell_text(hd), source) for hd in header]
    titles = {_cell_text(c).strip() for c in group_row if _cell_text(c).strip()}
    cumulative = [
        j
        for j, col in enumerate(columns)
        if col in source.period_columns and filled[j] and _running_group(filled[j], len(titles) > 1)
    ]
    # Group titles of an earlier period (上年同期 | 上月 beside 本月: the comparison columns of a monthly report), only
    # on a row of group titles (a one-cell title line above the table saying 同期 is about the report, not a group).
    earlier = [
        j
        for j, col in enumerate(columns)
        if len(titles) > 1
        and j not in cumulative
        and col in source.period_columns
        and filled[j]
        and _EARLIER.search(filled[j])
        and not _THIS_PERIOD.search(filled[j])
    ]
    if not cumulative and not earlier:
        return header
    own = {columns[j] for j in range(len(header)) if j not in cumulative and j not in earlier and columns[j]}
    alone = [j for j in cumulative if columns[j] not in own]
    if alone:
        groups = sorted({filled[j] for j in alone})
        raise AmbiguousHeader(
            file_name,
            f"{noun_en(len(alone), 'header')} "
            + ", ".join(f"'{_cell_text(header[j]).strip()}'" for j in alone)
            + " under "
            + ", ".join(f"'{g}'" for g in groups)
            + ": a year-to-date (cumulative) total, not the month's own figure (send each month's own figures, or "
            "put them beside the total under a group titled 本月)",
        )
    alone = [j for j in earlier if columns[j] not in own]
    if alone:
        groups = sorted({filled[j] for j in alone})
        raise AmbiguousHeader(
            file_name,
            f"{noun_en(len(alone), 'header')} "
            + ", ".join(f"'{_cell_text(header[j]).strip()}'" for j in alone)
            + " under "
            + ", ".join(f"'{g}'" for g in groups)
            + ": the figures of an earlier period (a comparison), not the month's own (send the month's own figures, "
            "or put them beside under a group titled 本月)",
        )
    for j in (*cumulative, *earlier):
        header[j] = f"{filled[j]}·{_cell_text(header[j]).strip()}"
    return header


_NUMBER_LIKE = re.compile(r"^[+-]?[\d.,，%]+$|^\d{4}[-/.年]\d{1,2}")  # a number, code or date: a data cell


def _refuse_spanned_headers(upper: list, lower: list, lower_is_header: bool, source: Source, file_name: str) -> None:
    """A contract header over several sub-columns (登记笔数 merged over 本年累计 / 本月): the first was read as the
    column (a year's cumulative total loaded as the month's value, silently). Which one the contract means is not
    told, so the file is refused naming them. The row below is a sub-header when it is part of the header, or when
    no cell of it is a number, code or date (a data row always has one)."""
    cells = [_cell_text(c).strip() for c in lower]
    if not lower_is_header and any(_NUMBER_LIKE.match(c) for c in cells):
        return
    spans = []
    n = len(upper)
    for j, u in enumerate(upper):
        if _safe_match(_cell_text(u), source) is None:
            continue
        k = j + 1
        while k < n and _cell_text(upper[k]).strip() == "":
            k += 1
        labels = [c for c in cells[j:k] if c and not _is_unit_row([c])]
        periods = [_period_of(x) for x in labels]
        if periods.count("month") == 1 and all(p is not None for p in periods):
            continue  # 本月 | 本年累计 under 登记笔数: the month's own figure is told (_combine_two_rows reads it)
        if k - j > 1 and len(labels) > 1:
            spans.append(f"header '{_cell_text(u).strip()}' spans sub-columns " + ", ".join(f"'{x}'" for x in labels))
    if spans:
        raise AmbiguousHeader(
            file_name,
            " and ".join(spans) + ": which one holds the value is not told (keep one sub-column per header, or send "
            "the sub-column under the header's own name)",
        )


def _is_period_row(row: list) -> bool:
    """A row of period words (本月 / 本年累计, or 本年累计 alone) and units under a header: part of the header."""
    cells = [_cell_text(c).strip() for c in row if _cell_text(c).strip()]
    periods = [_period_of(c) for c in cells]
    return any(periods) and all(p is not None or _is_unit_row([c]) for c, p in zip(cells, periods, strict=True))


def _period_of(label: str) -> str | None:
    """The period a sub-header names: "month" for the month's own figure (本月, 当月数), "running" for a year to
    date (本年累计, 累计, 1-3月累计), else None."""
    key = normalise_header(label).strip("()")
    if re.fullmatch(_THIS_PERIOD_WORDS, key):
        return "month"
    if re.fullmatch(_CUMULATIVE_WORDS, key):
        return "running"
    return None


def _states_counts(before: str, header: list | None) -> bool:
    """Whether a title's bracketed count in 万 states this table's counts: the bracket closes the table's title
    (2023年专利授权统计（万件）, …统计表（万笔）) or follows the name of one of the table's own columns (参训人次（万人次）
    over a 参训人次 column). Read as no unit (round 11), its 4 万件 loaded as 4 件, silently."""
    from pipelines.sources import TABLE_TITLE_END

    before = re.sub(r"\s+", "", before)
    if re.search(TABLE_TITLE_END, before):
        return True
    names = {re.sub(r"\(.*?\)|\s+", "", unicodedata.normalize("NFKC", _cell_text(c))) for c in header or []}

    def shared_tail(n: str) -> int:
        k = 0
        while k < min(len(n), len(before)) and n[-1 - k] == before[-1 - k]:
            k += 1
        return k

    # …专利授权量（万件） over 发明专利授权量 | 专利授权总量: the words before the bracket end as a column's name does
    return any(len(n) >= 2 and (before.endswith(n) or shared_tail(n) >= 3) for n in names)


def unit_line(rows: list[list], header: list | None = None) -> str | None:
    """The unit stated by a "单位：元" line (or cell) above the table, or by a title's bracketed unit (…统计表（亿元）)."""
    for row in rows:
        for cell in row:
            if cell is None:
                continue
            text = unicodedata.normalize("NFKC", str(cell))
            said = re.search(UNIT_LINE_PATTERN, text)
            m = said or re.search(TITLE_UNIT_PATTERN, text)
            if m:
                # the scale units the line lists (counts say what is counted): one, or several joined by 、
                # (单位：万人、亿元), of which each column takes its family's (sources.full_unit); a count in 万 (万笔)
                # is kept for map_headers to refuse
                words = re.split(r"\s*[、,;/]\s*", m.group(1))  # (a slash only after 单位: UNIT_LINE_PATTERN)
                scales = list(
                    dict.fromkeys(
                        w for w in words if w in UNIT_SCALES or w in SHORT_UNITS or re.fullmatch(SCALED_COUNT_UNIT, w)
                    )
                )
                if (
                    not said
                    and all(re.fullmatch(SCALED_COUNT_UNIT, w) for w in scales)
                    and not _states_counts(text[: m.start()], header)
                ):
                    # a title's bracket naming only a count in 万 after a measure's name the table does not have
                    # (培训人次（万人次） over a pledge table) says what that one figure is in, not the table's unit
                    continue
                if scales:
                    return "、".join(scales)
    # A cell of the header row that is a unit line and nothing else (… | 首贷企业数 | 单位：亿元, beside the table's
    # last column): the same statement. Left as an extra column, its 亿元 figures loaded as 万元, silently.
    for cell in header or []:
        text = unicodedata.normalize("NFKC", _cell_text(cell)).strip()
        if text.startswith(("单位", "金额单位")) and re.fullmatch(UNIT_LINE_PATTERN, text):
            return unit_line([[text]])
    return None


def note_unit(df: pl.DataFrame) -> str | None:
    """The unit a note below the table states (注：本表金额单位为亿元, in one of the first two columns), if any. Left
    unread, a bare 质押金额 over 亿元 figures loaded them as 万元, 10,000 times too small, whenever the plausibility
    rules let them pass."""
    for c in [c for c in df.columns if not c.startswith("__")][:2]:
        if df.schema[c] != pl.Utf8 or not df.select(pl.col(c).str.contains("单位", literal=True).any()).item():
            continue
        text = pl.col(c).str.normalize("NFKC")
        found = df.select(text.str.extract(NOTE_UNIT_PATTERN, 1).drop_nulls().unique()).to_series().to_list()
        # a count in 万 the note states beside (or instead of) the money unit: map_headers refuses the file
        counts = df.select(text.str.extract(NOTE_COUNT_PATTERN, 1).drop_nulls().unique()).to_series().to_list()
        if found or counts:
            return "、".join(dict.fromkeys([*found[:1], *sorted(counts)[:1]]))
    return None


# ---------------------------------------------------------------------------------------------- files


# What a file holds, by its first bytes: offices rename files (a workbook saved as .csv), and a name is no proof.
# The OLE2 signature is that of an Excel 97-2003 workbook (.xls, BIFF8), what WPS and old Office save by default.
_MAGIC = {b"PK\x03\x04": ".xlsx", b"PAR1": ".parquet", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": ".xls"}
_KIND_NAMES = {".xlsx": "an Excel workbook", ".parquet": "a Parquet file", ".xls": "an Excel 97-2003 workbook"}


def read_file(path: Path, source: Source) -> RawFrame:
    name = path.name
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(name, f"unsupported file type '{suffix}' (use CSV, Parquet, XLSX or XLS)")
    if path.stat().st_size == 0:
        raise IngestError(name, "file is empty")
    with open(path, "rb") as f:
        head = f.read(8)
    held = next((kind for magic, kind in _MAGIC.items() if head.startswith(magic)), None)
    if suffix == ".et":
        return _read_wps_et(path, source, held)
    if held is not None and held != suffix and not (held == ".xlsx" and suffix == ".xlsm"):
        # a text name over a workbook or Parquet bytes (a text file never starts with these bytes), or one
        # workbook kind named as the other (an .xls saved as .xlsx)
        raw = _read_parquet(path) if held == ".parquet" else _read_workbook_once(path, source, held)
        raw.notes.insert(0, f"the file is {_KIND_NAMES[held]} (named {suffix}): read as one")
        return raw
    if suffix == ".parquet":
        return _read_parquet(path)
    if suffix == ".xls" and held is None:
        return _read_exported_xls(path, source)
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return _read_workbook_once(path, source, ".xls" if suffix == ".xls" else ".xlsx")
    return _read_csv(path, source)


def _read_wps_et(path: Path, source: Source, held: str | None) -> RawFrame:
    """A WPS .et workbook: read as the Excel workbook its bytes are (noted as any renamed workbook is). Before, the
    suffix was refused as unsupported though the workbook inside is one the loader reads. Bytes xlrd/openpyxl cannot
    read (WPS's own encrypted or proprietary records) refuse the file saying how to save it."""
    raw = None
    if held in (".xls", ".xlsx"):
        try:
            raw = _read_workbook_once(path, source, held)
        except AmbiguousHeader:
            raise
        except IngestError as e:
            if not e.reason.startswith("unreadable Excel file"):
                raise
    if raw is None:
        raise IngestError(
            path.name,
            "a WPS spreadsheet (.et) that is not readable as an Excel workbook: open it in WPS and save it as .xlsx "
            "(文件 → 另存为 → Excel 工作簿), or export CSV",
        )
    raw.notes.insert(0, f"the file is {_KIND_NAMES[held]} (named {path.suffix.lower()}): read as one")
    return raw


# What web systems' "导出Excel" writes under an .xls name: a tab-separated text table (read as one), or an HTML page
# (Excel opens both and says nothing). An .xlsx is a zip by definition, so text under that name stays refused.
_MARKUP_START = re.compile(rb"^\s*<(?:!doctype\s+html|html\b|table\b|head\b|body\b|meta\b|\?xml)", re.IGNORECASE)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _read_exported_xls(path: Path, source: Source) -> RawFrame:
    """A file named .xls without an Excel 97-2003 workbook's signature: a text table is read as CSV/TSV (with a
    note saying so); a web page, an Excel 2003 XML spreadsheet or other bytes are refused naming what they are."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if head.startswith(_UTF16_BOMS):
        probe = head.decode("utf-16", errors="ignore").encode("utf-8")
    else:
        probe = head.removeprefix(codecs.BOM_UTF8)
    if _MARKUP_START.match(probe):
        spreadsheet = b"urn:schemas-microsoft-com:office:spreadsheet" in probe
        book = _spreadsheet_xml_book(path) if spreadsheet else _html_book(path)
        if book is not None:
            raw = _read_workbook(book, path, source, "xml" if spreadsheet else "html")
            what = "an Excel 2003 XML spreadsheet" if spreadsheet else "a web page (HTML table)"
            raw.notes.insert(0, f"the file is {what} (named .xls): read as one")
            return raw
        what = (
            "an Excel 2003 XML spreadsheet"
            if spreadsheet
            else "a web page (HTML table), as some web systems export 'Excel'"
        )
        raise IngestError(
            path.name,
            f"the file is {what}, named .xls, not a workbook: open it in Excel or WPS and save it as .xlsx, "
            "or export CSV",
        )
    # UTF-16 text without a byte-order mark has its NULs in every other byte; other NULs are binary
    utf16 = head.startswith(_UTF16_BOMS) or max(head[0::2].count(0), head[1::2].count(0)) > len(head) // 4
    if b"\x00" in head and not utf16:
        raise IngestError(path.name, "unreadable Excel file (neither an Excel 97-2003 workbook nor a text table)")
    raw = _read_csv(path, source)
    raw.notes.insert(0, "the file is a text table (named .xls): read as one")
    return raw


# -- Markup named .xls: an HTML table (what many government web systems' "导出Excel" writes) and an Excel 2003 XML
# spreadsheet (SpreadsheetML). Both are read with the standard library (html.parser, ElementTree: no lxml or
# html5lib needed, which pandas.read_html would) into the cells of a grid, presented as the read-only worksheets
# `_read_workbook` walks, so title rows, headers, units, merges (colspan/rowspan, MergeAcross/MergeDown) and every
# cell rule are the workbook logic itself.


class _GridSheet:
    """A grid of cells read from markup, as `_read_workbook` walks a read-only openpyxl worksheet."""

    def __init__(
        self, title: str, rows: dict[int, dict[int, object]], merges, hidden_rows=frozenset(), state="visible"
    ):
        self.title, self._rows, self._merges = title, rows, merges
        self._hidden, self.sheet_state = frozenset(hidden_rows), state

    def reset_dimensions(self) -> None:
        """Nothing to reset: every cell is in hand."""

    def iter_rows(self, min_row: int = 1):
        for r in range(min_row, max(self._rows, default=0) + 1):
            cells = self._rows.get(r, {})
            yield tuple(_markup_cell(cells.get(c), r, c) for c in range(1, max(cells, default=0) + 1))

    def marks(self) -> tuple[bool, list[tuple[int, int, int]], Hidden]:
        return False, sorted(self._merges), Hidden(self._hidden)


def _markup_cell(value, row: int, column: int) -> _XlsCell:
    kind = "n" if value is None or isinstance(value, (int, float)) else "d" if isinstance(value, datetime) else "s"
    return _XlsCell(value, "General", kind, row, column)


@dataclass
class _GridBook:
    worksheets: list[_GridSheet]


def _place(rows: dict, merges: set, taken: set, r: int, c: int, value, across: int, down: int) -> int:
    """Puts a cell spanning ``across`` x ``down`` at the first free column from ``c`` of row ``r``; its column."""
    while (r, c) in taken:
        c += 1
    for dr in range(down):
        for dc in range(across):
            taken.add((r + dr, c + dc))
    if value not in (None, ""):
        rows.setdefault(r, {})[c] = value
    if down > 1:
        merges.add((c, r, r + down - 1))  # merged down one column: `_read_workbook` fills it down its rows
    return c


def _html_book(path: Path) -> _GridBook | None:
    """The rows of every <table> of an HTML page, in order, as one sheet; None when it has no table row."""
    from html.parser import HTMLParser

    text, _ = _decode(path.read_bytes(), path.name)

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.rows: dict[int, dict[int, object]] = {}
            self.merges: set = set()
            self.taken: set = set()
            self.hidden: set[int] = set()
            self.r, self.c, self.cell, self.span = 0, 1, None, (1, 1)

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag in ("tr", "td", "th", "table"):
                self.close_cell()  # HTML lets a cell end where the next one (or row) starts: <td>a<td>b
            if tag == "tr":
                self.r, self.c = self.r + 1, 1
                if re.search(r"display\s*:\s*none", a.get("style") or "", re.IGNORECASE):
                    self.hidden.add(self.r)
            elif tag in ("td", "th") and self.r:
                self.cell, self.span = [], (_span(a.get("colspan")), _span(a.get("rowspan")))
            elif tag == "br" and self.cell is not None:
                self.cell.append("\n")

        def handle_endtag(self, tag):
            if tag in ("td", "th", "tr", "table"):
                self.close_cell()

        def close_cell(self):
            if self.cell is not None:
                value = re.sub(r"[ \t\r\n]+", " ", "".join(self.cell)).strip() or None
                c = _place(self.rows, self.merges, self.taken, self.r, self.c, value, *self.span)
                self.c, self.cell = c + self.span[0], None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell.append(data)

    parser = Cells()
    parser.feed(text)
    parser.close()
    parser.close_cell()
    if not parser.rows:
        return None
    return _GridBook([_GridSheet("Sheet1", parser.rows, parser.merges, parser.hidden)])


def _span(v) -> int:
    try:
        return max(1, min(int(str(v).strip()), 1000))
    except (TypeError, ValueError):
        return 1


def _index(v, default: int, last: int) -> int:
    """A SpreadsheetML ss:Index (1-based row or column), else ``default``; never before ``default`` (a row or
    column cannot go back) nor past Excel's ``last``."""
    try:
        return max(default, min(int(str(v).strip()), last)) if v is not None else default
    except ValueError:
        return default


_SS = "{urn:schemas-microsoft-com:office:spreadsheet}"


def _spreadsheet_xml_book(path: Path) -> _GridBook | None:
    """The worksheets of an Excel 2003 XML spreadsheet; None when it cannot be parsed or holds none."""
    from xml.etree import ElementTree

    raw = path.read_bytes()
    try:
        root = ElementTree.fromstring(raw)  # expat refuses entity expansion bombs (2.4+)
    except (ElementTree.ParseError, ValueError):
        # a multi-byte encoding expat does not know (encoding="gb2312"): decoded as a text file is, then parsed
        try:
            text = re.sub(r"^\s*<\?xml[^>]*\?>", "", _decode(raw, path.name)[0])
            root = ElementTree.fromstring(text)
        except (ElementTree.ParseError, IngestError):
            return None
    sheets = []
    for ws in root.iter(_SS + "Worksheet"):
        rows: dict[int, dict[int, object]] = {}
        merges: set = set()
        taken: set = set()
        hidden: set[int] = set()
        r = 0
        for table in ws.iter(_SS + "Table"):
            for row in table.iter(_SS + "Row"):
                r = _index(row.get(_SS + "Index"), r + 1, 1_048_576)
                if row.get(_SS + "Hidden") in ("1", "true"):
                    hidden.add(r)
                c = 1
                for cell in row.iter(_SS + "Cell"):
                    c = _index(cell.get(_SS + "Index"), c, 16_384)
                    data = cell.find(_SS + "Data")
                    across = _span(int(cell.get(_SS + "MergeAcross", "0")) + 1)
                    down = _span(int(cell.get(_SS + "MergeDown", "0")) + 1)
                    value = _spreadsheet_value(data)
                    c = _place(rows, merges, taken, r, c, value, across, down) + across
        options = ws.find(".//{urn:schemas-microsoft-com:office:excel}Visible")
        state = "hidden" if options is not None and (options.text or "").startswith("Sheet") else "visible"
        sheets.append(_GridSheet(ws.get(_SS + "Name") or f"Sheet{len(sheets) + 1}", rows, merges, hidden, state))
    return _GridBook(sheets) if sheets else None


def _spreadsheet_value(data):
    """A SpreadsheetML <Data> as the value openpyxl gives the same cell of an .xlsx."""
    if data is None:
        return None
    text = "".join(data.itertext())
    kind = data.get(_SS + "Type")
    if kind == "Number":
        try:
            v = float(text)
        except ValueError:
            return text
        return int(v) if v.is_integer() and abs(v) < 1e16 else v
    if kind == "DateTime":
        try:
            return datetime.fromisoformat(text[:19])
        except ValueError:
            return text
    if kind == "Boolean":
        return text.strip() in ("1", "true")
    return text if text != "" else None


# A workbook is read twice in a run: `ipcity run` asks every pending file for its data year when it plans
# (load.partition_of reads files up to 16 MB) and the raw asset then reads it to load it. openpyxl is the slow
# part of both (read-only mode, cell by cell, kept for the number formats that carry units): in the default
# sample run the planning read of the seven pledge-loan workbooks took ~5 s and their load again as much. So
# the last few workbooks read (.xlsx or .xls) are kept, keyed by path, size and modification time (a rewritten
# file is read again, and so is one read under another contract), and each caller gets its own copy of the
# frame's lists (the frame itself is immutable).
_XLSX_KEEP = 16
_XLSX_KEEP_MAX_BYTES = 16 << 20
_xlsx_read: OrderedDict[tuple, RawFrame] = OrderedDict()
_xlsx_lock = threading.Lock()


def _read_workbook_once(path: Path, source: Source, kind: str) -> RawFrame:
    """The workbook's frame, read by `_read_xls` (kind ".xls") or `_read_xlsx` (".xlsx": OOXML, .xlsm too)."""
    # looked up at call time, so a test can watch the readers
    read = _read_xls if kind == ".xls" else _read_xlsx
    st = path.stat()
    if st.st_size > _XLSX_KEEP_MAX_BYTES:
        return read(path, source)
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, repr(source))  # the whole contract, not its name
    with _xlsx_lock:
        kept = _xlsx_read.get(key)
        if kept is not None:
            _xlsx_read.move_to_end(key)
    if kept is None:
        kept = read(path, source)  # an unreadable workbook raises and is not kept
        with _xlsx_lock:
            _xlsx_read[key] = kept
            while len(_xlsx_read) > _XLSX_KEEP:
                _xlsx_read.popitem(last=False)
    return replace(kept, notes=list(kept.notes), sheets=[dict(s) for s in kept.sheets])


def _read_parquet(path: Path) -> RawFrame:
    try:
        df = pl.read_parquet(path)
    except Exception as e:  # polars raises several types for corrupt/truncated files
        raise IngestError(path.name, f"unreadable Parquet file ({type(e).__name__}: {str(e)[:200]})") from e
    if df.height == 0:
        raise IngestError(path.name, "file has a header but no data rows")
    df = df.with_columns(
        [pl.col(c).cast(pl.Utf8) if df.schema[c] != pl.Date else pl.col(c).dt.to_string("%Y-%m-%d") for c in df.columns]
    )
    # Parquet has no header row: row 1 is the first record.
    return RawFrame(df.with_row_index(ROW_NUMBER, offset=1).with_columns(pl.col(ROW_NUMBER).cast(pl.Int64)), "parquet")


# -- XLSX ------------------------------------------------------------------------------------------------

# A number format that shows a scaled value: "0!.0000" or '0.00,,"百万"' style thousands scaling. The cell holds
# one unit, the office sees (and means) another: the shown value is what the file says.
_LITERAL = re.compile(r'"[^"]*"|\\.')


@lru_cache(maxsize=512)
def display_factor(fmt: str | None) -> float:
    """Factor from the stored number to the number a cell's format shows (1 when it shows it as stored)."""
    if not fmt or fmt == "General":
        return 1.0
    section = fmt.split(";")[0]
    bare = _LITERAL.sub(lambda m: "" if m.group(0).startswith('"') else ("!" if m.group(0) == "\\." else ""), section)
    if "%" in bare:
        return 1.0  # a percentage format shows 0.94 as 94%: the stored share is the value
    factor = 1.0
    m = re.search(r"[0#?]!?\.((?:[0#?]|!?[0#?])+)", section) if "!." in section or "\\." in section else None
    if m:
        # "0!.0000": a literal decimal point inserted four digits from the right: shows value / 10^4
        digits = len(re.findall(r"[0#?]", m.group(1)))
        factor /= 10**digits
    m = re.search(r"[0#?](,+)(?:[^0#?,]|$)", bare)
    if m:
        factor /= 1000 ** len(m.group(1))
    return factor


@lru_cache(maxsize=512)
def percent_format(fmt: str | None) -> bool:
    """Whether a number format shows its number as a percentage (0.0%, 0%;[Red]-0%), "%" in quotes aside."""
    return bool(fmt) and "%" in _LITERAL.sub("", fmt.split(";")[0])


@lru_cache(maxsize=512)
def _format_unit(fmt: str | None) -> str:
    """The unit a number format writes after the number (0.00"亿元", #,##0"笔"), or "". The cell shows 1.50亿元: read
    without it, 1.5 under a bare 质押金额 loaded as 1.5 万元, silently. Kept on the text, the rules read the cell in
    its own unit (validate). (A scaling format, 0!.0000"万", is read as shown by display_factor instead.)"""
    if not fmt or '"' not in fmt:
        return ""
    section = fmt.split(";")[0]
    if "%" in _LITERAL.sub("", section):
        return ""
    literal = "".join(m.group(0).strip('"') for m in _LITERAL.finditer(section) if m.group(0).startswith('"')).strip()
    return literal if literal in {*UNIT_SCALES, *SHORT_UNITS, *COUNT_UNITS} else ""


def _decimals_shown(fmt: str | None) -> int | None:
    """Decimal places a number format shows (0.00 -> 2); None for General (as many as the number has)."""
    if not fmt or fmt == "General":
        return None
    m = re.search(r"\.([0#?]+)", _LITERAL.sub("", fmt.split(";")[0]))
    return len(m.group(1)) if m else 0


def _decimal_month(cell) -> tuple[str, bool] | None:
    """A number like 2025.1 in a cell (a month typed as 2025.10 loses its 0: Excel keeps the number 2025.1): the
    text its format shows (2025.10 under 0.00), and whether it is ambiguous (2025.1 under General: January, or
    October with its 0 dropped). None for any other value."""
    v = cell.value
    if not isinstance(v, float) or not 1900 < v < 2101 or v.is_integer():
        return None
    shown = _decimals_shown(getattr(cell, "number_format", None))
    if shown is not None and shown >= 2:
        return f"{v:.{shown}f}", False
    text = repr(v)
    return text, text.endswith(".1")


def _xlsx_text(cell) -> tuple[str | None, float]:
    """The text of a cell and the factor its number format applies (1 for everything but scaled numbers)."""
    v = cell.value
    if v is None:
        return None, 1.0
    if isinstance(v, bool):
        return ("true" if v else "false"), 1.0
    if isinstance(v, datetime):
        return (v.strftime("%Y-%m-%d") if v.time() == time(0) else v.strftime("%Y-%m-%d %H:%M:%S")), 1.0
    if isinstance(v, date):
        return v.isoformat(), 1.0
    if isinstance(v, time):
        return v.isoformat(), 1.0
    if isinstance(v, (int, float)):
        fmt = getattr(cell, "number_format", None)
        if percent_format(fmt):
            # 0.125 under 0.0% shows 12.5%: the text as shown, so a share column reads the share (validate._shares
            # divides by 100) and an amount or count column refuses a percentage by name. Read as stored it was
            # 0.125 万元 (or 0 registrations), a share loaded as an amount or refused for an unrelated reason.
            return format(Decimal(repr(float(v))).scaleb(2).normalize(), "f") + "%", 1.0
        f = display_factor(fmt)
        if f != 1.0:
            v = v * f
            v = round(v, 10)
        if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
            text = str(int(v))
        else:
            text = repr(v) if isinstance(v, float) else str(v)
        return text + (_format_unit(fmt) if f == 1.0 else ""), f
    text = str(v)
    if "_x" in text:
        # OOXML escapes control characters in strings (_x000D_ for the CR of an Alt+Enter line break)
        text = _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return text, 1.0


_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")

# A formula element in a sheet's XML (any namespace prefix): sheets without one are not parsed a second time.
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")
# A range of merged cells in a sheet's XML.
_MERGE_CELL = re.compile(rb"<(?:\w+:)?mergeCell\s[^>]*?ref=\"([A-Z]+[0-9]+):([A-Z]+[0-9]+)\"")


# A row or column element of a sheet's XML, and its attributes (hidden="1": hidden by hand or by a filter).
_ROW_TAG = re.compile(rb"<(?:\w+:)?row\b([^>]*)>")
_COL_TAG = re.compile(rb"<(?:\w+:)?col\b([^>]*)>")
_HIDDEN_ATTR = re.compile(rb"\shidden=\"(?:1|true)\"")
_AUTO_FILTER = re.compile(rb"<(?:\w+:)?autoFilter\b")


@dataclass(frozen=True)
class Hidden:
    """What a sheet hides from whoever opens it: rows and columns (1-based), and whether it has a filter."""

    rows: frozenset[int] = frozenset()
    columns: frozenset[int] = frozenset()
    filtered: bool = False


def sheet_xml_marks(ws) -> tuple[bool, list[tuple[int, int, int]], Hidden]:
    """One pass over a read-only sheet's XML bytes: whether it holds any formula element (a sheet without one is
    not parsed again by `uncached_formulas`), (column, first row, last row) of the cells it merges down one
    column over several rows (1-based; read-only worksheets do not expose merged cells, so their <mergeCell>
    elements, after the sheet's data, are read here), and the rows and columns it hides (read-only worksheets do not
    expose those either)."""
    from openpyxl.utils.cell import coordinate_to_tuple

    get_source = getattr(ws, "_get_source", None)  # read-only worksheets stream their XML
    if get_source is None:
        return False, [], Hidden()
    has_formula, merges, tail = False, set(), b""
    hidden_rows: set[int] = set()
    hidden_cols: set[int] = set()
    filtered = False
    with get_source() as src:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            text = tail + chunk
            has_formula = has_formula or _FORMULA_TAG.search(text) is not None
            filtered = filtered or (b"autoFilter" in text and _AUTO_FILTER.search(text) is not None)
            if b"hidden" in text:
                for m in _ROW_TAG.finditer(text):
                    if _HIDDEN_ATTR.search(m.group(1)) and (r := re.search(rb'\sr="(\d+)"', m.group(1))):
                        hidden_rows.add(int(r.group(1)))
                for m in _COL_TAG.finditer(text):
                    lo, hi = re.search(rb'\smin="(\d+)"', m.group(1)), re.search(rb'\smax="(\d+)"', m.group(1))
                    if _HIDDEN_ATTR.search(m.group(1)) and lo and hi:
                        hidden_cols.update(range(int(lo.group(1)), min(int(hi.group(1)), 16384) + 1))
            for m in _MERGE_CELL.finditer(text):
                (r1, c1), (r2, c2) = (coordinate_to_tuple(g.decode()) for g in m.groups())
                if c1 == c2 and r2 > r1:
                    merges.add((c1, r1, r2))
            tail = text[-200:]  # an element cut by the chunk's end is found whole in the next text
    return has_formula, sorted(merges), Hidden(frozenset(hidden_rows), frozenset(hidden_cols), filtered)


def uncached_formulas(ws, has_formula: bool) -> dict[tuple[int, int], str]:
    """(row, column) -> "=formula" of the formula cells a sheet holds without a saved result. Excel and WPS save
    each formula's value; a workbook written by a program (openpyxl, some report exports) may not, and such a cell
    reads as empty: a blank a required column refuses as "missing", an optional one loads as NULL - silently
    losing what the file holds. Returned as the formula's text, the rules refuse it by name (not a number /
    formula-like text). A formula whose result is the empty text (t="str", <v></v>) is a saved value.
    ``has_formula``: `sheet_xml_marks`' answer; without a formula element the sheet is not parsed."""
    from xml.etree.ElementTree import iterparse

    from openpyxl.utils.cell import coordinate_to_tuple

    get_source = getattr(ws, "_get_source", None)
    if get_source is None or not has_formula:
        return {}
    out: dict[tuple[int, int], str] = {}
    with get_source() as src:
        for _, el in iterparse(src):
            if el.tag.rsplit("}", 1)[-1] != "c":
                continue
            f = v = None
            for child in el:
                tag = child.tag.rsplit("}", 1)[-1]
                f, v = (child, v) if tag == "f" else (f, child) if tag == "v" else (f, v)
            saved = v is not None and (bool(v.text) or el.get("t") == "str")
            if f is not None and not saved and el.get("r"):
                out[coordinate_to_tuple(el.get("r"))] = "=" + (f.text or "(shared formula)")
            el.clear()
    return out


_MONTH_SHEET = re.compile(r"^(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月(?:份)?(?:数据|统计)?$|^(\d{4})[-./](\d{1,2})$")
_CN_MONTHS = {
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
    "十一": 11,
    "十二": 12,
}


def sheet_month(name: str) -> tuple[int | None, int] | None:
    """(year or None, month) when a sheet is named for a month (1月, 2025年3月, 2025-03, 三月)."""
    s = unicodedata.normalize("NFKC", name).strip()
    m = _MONTH_SHEET.match(s)
    if m:
        year, month = (m.group(1), m.group(2)) if m.group(2) else (m.group(3), m.group(4))
        if 1 <= int(month) <= 12:
            return (int(year) if year else None, int(month))
    m = re.match(r"^(十一|十二|[一二三四五六七八九十])月(?:份)?$", s)
    if m:
        return (None, _CN_MONTHS[m.group(1)])
    return None


def _read_xlsx(path: Path, source: Source) -> RawFrame:
    import openpyxl

    # Opened as a stream: openpyxl refuses a workbook by its file name (.csv) before looking at its bytes.
    with open(path, "rb") as stream:
        try:
            wb = openpyxl.load_workbook(stream, read_only=True, data_only=True)
        except Exception as e:
            raise IngestError(path.name, f"unreadable Excel file ({type(e).__name__}: {str(e)[:200]})") from e
        try:
            return _read_workbook(wb, path, source, "xlsx")
        finally:
            wb.close()


# -- XLS (Excel 97-2003, BIFF8) ----------------------------------------------------------------------------
# Provincial and city offices very often send .xls (WPS and old Office save it by default). xlrd reads it; the
# classes below present its sheets as the read-only openpyxl worksheets `_read_workbook` walks, so title rows,
# unit lines, headers, month and hidden sheets, merges and every cell rule are the .xlsx logic itself, not a copy
# of it. What differs is only how a BIFF cell becomes what openpyxl would have given for the same cell in .xlsx.


@dataclass(frozen=True, slots=True)  # one per cell: slots keep a 65,536-row sheet light
class _XlsCell:
    """One xlrd cell as openpyxl's read-only cell shows it (the attributes `_read_workbook` and `_xlsx_text` use)."""

    value: object
    number_format: str
    data_type: str  # openpyxl's: n(umber or empty), s(tring), b(oolean), e(rror), d(ate)
    row: int  # 1-based, as openpyxl's
    column: int


class _XlsBook:
    """An xlrd book as `_read_workbook` walks an openpyxl workbook (chart sheets are not sheets to xlrd either)."""

    def __init__(self, book):
        import xlrd
        from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900

        self._xlrd, self._book = xlrd, book
        self._epoch = CALENDAR_MAC_1904 if book.datemode == 1 else CALENDAR_WINDOWS_1900  # old Mac Excel: 1904
        self.epoch = self._epoch  # as openpyxl's Workbook.epoch
        self._formats: dict[int, tuple[str, bool, bool]] = {}
        self.worksheets = [_XlsSheet(self, s) for s in book.sheets()]

    def number_format(self, xf_index: int | None) -> tuple[str, bool, bool]:
        """A cell format's number format text (xlrd fills in Excel's built-in ones), whether openpyxl takes it for a
        date format, and for a duration format."""
        key = xf_index or 0
        if key not in self._formats:
            from openpyxl.styles.numbers import is_date_format, is_timedelta_format

            fmt_key = self._book.xf_list[key].format_key if key < len(self._book.xf_list) else 0
            found = self._book.format_map.get(fmt_key)
            fmt = found.format_str if found is not None and found.format_str else "General"
            self._formats[key] = (fmt, is_date_format(fmt), is_timedelta_format(fmt))
        return self._formats[key]

    def cell(self, cell, row: int, column: int) -> _XlsCell:
        """One xlrd cell as openpyxl would have given the same cell of an .xlsx."""
        xlrd = self._xlrd
        fmt, is_date, is_duration = self.number_format(cell.xf_index)
        ctype, v = cell.ctype, cell.value
        if ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):  # a blank is a formatted empty cell
            return _XlsCell(None, fmt, "n", row, column)
        if ctype == xlrd.XL_CELL_TEXT:
            return _XlsCell(v, fmt, "s", row, column)
        if ctype == xlrd.XL_CELL_BOOLEAN:
            return _XlsCell(bool(v), fmt, "b", row, column)
        if ctype == xlrd.XL_CELL_ERROR:  # openpyxl shows an error cell as its text (#N/A, #DIV/0!)
            return _XlsCell(xlrd.error_text_from_code.get(v, "#VALUE!"), fmt, "e", row, column)
        # A number. A date is a serial under a date format: converted as openpyxl converts it (its test of the
        # format, its epoch rules), from the workbook's own epoch. xlrd's date type counts too: it knows the locale's
        # built-in date formats (zh-CN 27-36, 50-58) whose text a BIFF file need not carry.
        if ctype == xlrd.XL_CELL_DATE or is_date:
            from openpyxl.utils.datetime import from_excel

            try:
                return _XlsCell(from_excel(v, self._epoch, timedelta=is_duration), fmt, "d", row, column)
            except (OverflowError, ValueError):  # openpyxl: a date serial outside the dates is an error cell
                return _XlsCell("#VALUE!", fmt, "e", row, column)
        # BIFF stores every number as a float; .xlsx writes a whole number without a decimal point (9800, 440300)
        # and openpyxl reads that as int, whatever its format. So a whole float is an int here, below 1e16 (from
        # there a number's text is in exponent form, which openpyxl reads as float).
        if isinstance(v, float) and v.is_integer() and abs(v) < 1e16:
            v = int(v)
        return _XlsCell(v, fmt, "n", row, column)


class _XlsSheet:
    """An xlrd sheet as `_read_workbook` walks a read-only openpyxl worksheet."""

    def __init__(self, book: _XlsBook, sheet):
        self._book, self._sheet = book, sheet
        self.title = sheet.name
        self.sheet_state = {1: "hidden", 2: "veryHidden"}.get(sheet.visibility, "visible")

    def reset_dimensions(self) -> None:
        """openpyxl's read-only sheets need it to trust no stored size; xlrd has read every cell."""

    def iter_rows(self, min_row: int = 1):
        # rows as long as their last cell (ragged_rows), as openpyxl's read-only rows are
        for r in range(min_row - 1, self._sheet.nrows):
            yield tuple(self._book.cell(c, r + 1, j + 1) for j, c in enumerate(self._sheet.row(r)))

    def marks(self) -> tuple[bool, list[tuple[int, int, int]], Hidden]:
        """`sheet_xml_marks` for a BIFF sheet: no formula without its result (BIFF stores each formula's value with
        it), (column, first row, last row) of the ranges merged down one column over several rows, and the rows
        and columns it hides (xlrd does not tell a filter)."""
        merges = {
            (clo + 1, rlo + 1, rhi)  # xlrd: 0-based, end-exclusive
            for rlo, rhi, clo, chi in self._sheet.merged_cells
            if chi == clo + 1 and rhi > rlo + 1
        }
        rows = frozenset(r + 1 for r, info in self._sheet.rowinfo_map.items() if info.hidden)
        columns = frozenset(c + 1 for c, info in self._sheet.colinfo_map.items() if info.hidden)
        return False, sorted(merges), Hidden(rows, columns)


def _read_xls(path: Path, source: Source) -> RawFrame:
    import xlrd

    try:
        # formatting_info: number formats (units, dates, per cent), merged cells; ragged_rows: see iter_rows.
        # xlrd writes its warnings (a file size not a multiple of its sector) to logfile: kept off the console.
        book = xlrd.open_workbook(
            file_contents=path.read_bytes(), formatting_info=True, ragged_rows=True, logfile=io.StringIO()
        )
    except Exception as e:  # xlrd raises XLRDError, but also struct/index errors for damaged files
        raise IngestError(path.name, f"unreadable Excel file ({type(e).__name__}: {str(e)[:200]})") from e
    try:
        return _read_workbook(_XlsBook(book), path, source, "xls")
    finally:
        book.release_resources()


# A date written as its serial day number (a date cell that lost its date format, or pasted as a number): 5 digits.
_SERIAL_TEXT = re.compile(r"^\d{5}(?:\.\d+)?$")


def _serials_in_1904(grid: list[list], first: int, header: list, source: Source, wb) -> int:
    """Rewrite, in a workbook of the 1904 date system (Excel for Mac's, which WPS keeps), the serial day numbers of its
    date columns (the rows from ``first``) as the dates they are in that system; how many. A date cell is converted
    from the workbook's epoch by openpyxl or xlrd, but a serial without a date format reached the rules as text, and
    they read every serial from 1899-12-30: 2025-03-01 (44255 since 1904-01-01) loaded as 2021-02-28, four years and a
    day early, silently whenever the file's year came from its dates."""
    from datetime import timedelta

    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    if wb.epoch != CALENDAR_MAC_1904:
        return 0
    dated = [
        j
        for j, c in enumerate(header)
        if (t := _safe_match(_cell_text(c), source)) and source.column(t).dtype == "date"
    ]
    n = 0
    for row in grid[first:]:
        for j in dated:
            v = row[j] if j < len(row) else None
            text = unicodedata.normalize("NFKC", str(v)).strip() if v is not None else ""
            if _SERIAL_TEXT.match(text) and 20000 <= (days := float(text)) <= 80000:
                row[j] = (CALENDAR_MAC_1904 + timedelta(days=int(days))).date().isoformat()
                n += 1
    return n


def _read_workbook(wb, path: Path, source: Source, kind: str) -> RawFrame:
    """Every sheet of an openpyxl read-only workbook (or an `_XlsBook`) as one frame; ``kind`` (xlsx, xls) is the
    frame's encoding, which the ledger records."""
    frames: list[pl.DataFrame] = []
    sheets: list[dict] = []
    notes: list[str] = []
    unmappable: list[str] = []
    units: dict[str, str | None] = {}
    units_below: dict[str, bool] = {}  # sheets whose unit a note below the table states
    canonical_header: dict[tuple, str] = {}  # (column, factor, percent) -> header text used for it
    scaled: dict[str, float] = {}
    titles: list[list] = []
    ordinal = 0
    for ws in wb.worksheets:
        name = ws.title
        if re.search(INSTRUCTION_SHEET_PATTERN, unicodedata.normalize("NFKC", name), re.IGNORECASE):
            sheets.append({"sheet": name, "status": "skipped: instructions", "rows": 0})
            continue
        try:
            ws.reset_dimensions()
        except AttributeError:  # a chartsheet has no cells
            sheets.append({"sheet": name, "status": "skipped: no cells", "rows": 0})
            continue
        grid: list[list] = []
        factors: list[list[float]] = []
        has_formula, merges, hidden = ws.marks() if isinstance(ws, (_XlsSheet, _GridSheet)) else sheet_xml_marks(ws)
        formulas = uncached_formulas(ws, has_formula)
        decimal_months: dict[tuple[int, int], tuple[str, bool]] = {}  # (grid row, column) -> see _decimal_month
        for row in ws.iter_rows(min_row=1):
            cells = [_xlsx_text(c) for c in row]
            # An Excel indent level (增加缩进) before a name reads as the 全角 spaces an office would type for it:
            # validate judges an indented district under its city's row as a breakdown (validate.INDENT).
            cells = [
                ("\u3000" * k + t, f) if (k := _indent(c)) and isinstance(t, str) and t.strip() else (t, f)
                for c, (t, f) in zip(row, cells, strict=True)
            ]
            for j, c in enumerate(row):
                if isinstance(c.value, float) and (dm := _decimal_month(c)) is not None:
                    decimal_months[(len(grid), j)] = dm
            if formulas:
                cells = [
                    (formulas.get((getattr(c, "row", 0), getattr(c, "column", 0)), t), f) if t is None else (t, f)
                    for c, (t, f) in zip(row, cells, strict=True)
                ]
            # Blank cells after a row's last filled one are no columns: a space typed or a cell formatted far to the
            # right (XFD) made every row 16,384 cells wide, and a sheet of 300 rows took over a minute to read.
            end = len(cells)
            while end and (
                cells[end - 1][0] is None or (isinstance(cells[end - 1][0], str) and not cells[end - 1][0].strip())
            ):
                end -= 1
            grid.append([t for t, _ in cells[:end]])
            factors.append([f for _, f in cells[:end]])
        pivots = _pivot_ranges(wb, ws)
        if pivots:
            for r1, c1, r2, c2 in pivots:
                for r in range(r1 - 1, min(r2, len(grid))):
                    for c in range(c1 - 1, min(c2, len(grid[r]))):
                        grid[r][c] = None
            if all(_blank(v) for r in grid for v in r):
                sheets.append({"sheet": name, "status": "skipped: pivot table", "rows": 0})
                continue
            from openpyxl.utils.cell import get_column_letter

            notes.append(
                f"{noun_en(len(pivots), 'pivot table')} "
                + ", ".join(f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{r2}" for r1, c1, r2, c2 in pivots)
                + " beside the table not read (a pivot table sums other rows)"
                + (f" (sheet {name})" if len(wb.worksheets) > 1 else "")
            )
        kept = _columns_kept(grid)
        if kept is not None:
            # A long run of empty columns before a stray cell (a note typed in column XFD) is cut short: padded to
            # that cell, every row was 16,384 cells (2,000 rows took 1.2 GB and 4 s; 20,000 would exhaust memory and
            # stop the run). Every index into the grid below (merges, hidden columns, decimal months) is moved too.
            at = {old: new for new, old in enumerate(kept)}
            far = _far_cells(grid, kept)
            grid = [[r[j] for j in kept if j < len(r)] for r in grid]
            factors = [[r[j] for j in kept if j < len(r)] for r in factors]
            decimal_months = {(i, at[j]): v for (i, j), v in decimal_months.items() if j in at}
            merges = [(at[c - 1] + 1, r1, r2) for c, r1, r2 in merges if c - 1 in at]
            hidden = Hidden(
                hidden.rows, frozenset(at[c - 1] + 1 for c in hidden.columns if c - 1 in at), hidden.filtered
            )
            if far:
                notes.append(_far_note(far, name if len(wb.worksheets) > 1 else None))
        width = max((len(r) for r in grid), default=0)
        grid = [r + [None] * (width - len(r)) for r in grid]
        factors = [r + [1.0] * (width - len(r)) for r in factors]
        if not any(v not in (None, "") for r in grid for v in r):
            sheets.append({"sheet": name, "status": "skipped: empty", "rows": 0})
            continue
        try:
            h, n_header, header = find_header(grid, source, path.name)
        except AmbiguousHeader:
            raise
        except IngestError:
            if getattr(ws, "sheet_state", "visible") != "visible":
                sheets.append({"sheet": name, "status": "skipped: hidden sheet without a header", "rows": 0})
                continue
            if _instructions_text(grid):
                sheets.append({"sheet": name, "status": "skipped: instructions", "rows": 0})
                continue
            unmappable.append(name)
            continue
        units[name] = unit_line(grid[:h], grid[h] if h < len(grid) else None)
        if formulas:
            from openpyxl.utils.cell import get_column_letter

            shown = [f"{get_column_letter(c)}{r}" for r, c in sorted(formulas) if r > h + n_header][:20]
            if shown:
                notes.append(
                    f"formula {noun_en(len(shown), 'cell')} without a saved value: "
                    + ", ".join(shown)
                    + (f" (sheet {name})" if len(wb.worksheets) > 1 else "")
                    + " - refused; open and save the workbook in Excel (or paste values) so the results are stored"
                )
        titles.extend(grid[:h])
        if hidden.rows or hidden.columns:
            note = hidden_note(hidden, grid, h + n_header, header)
            if note:
                notes.append(note + (f" (sheet {name})" if len(wb.worksheets) > 1 else ""))
        # A code or name merged down over the rows of its months shows beside each of them, but only its first row
        # holds the value: the others were refused as "missing value", which the sheet does not show. Ranges one
        # column wide below the header are filled down (a note merged across a row stays one cell). A number
        # merged so (a quarter's amount over its months) is one figure for several records: read on the first
        # row it loaded the quarter as one month, filled down it would count it each month; its rows are refused.
        filled_down = 0
        merged_values: dict[int, str] = {}  # grid row -> reason
        for col, r1, r2 in merges:
            if r1 > h + n_header and col <= width and r2 <= len(grid) and grid[r1 - 1][col - 1] not in (None, ""):
                target = _safe_match(_cell_text(header[col - 1]), source)
                if target is not None and source.column(target).dtype in ("int", "float"):
                    for r in range(r1 - 1, r2):
                        merged_values[r] = (
                            f"value merged over rows {r1}–{r2} in {target}: one figure for several records (write "
                            "each row's own)"
                        )
                else:
                    filled_down += 1
                for r in range(r1, r2):  # numbers too, so their rows are refused for the merge, not as "missing"
                    if grid[r][col - 1] in (None, ""):
                        grid[r][col - 1], factors[r][col - 1] = grid[r1 - 1][col - 1], factors[r1 - 1][col - 1]
        if filled_down:
            notes.append(
                f"filled {count_en(filled_down, 'merged cell range')} down their rows"
                + (f" (sheet {name})" if len(wb.worksheets) > 1 else "")
            )
        if getattr(wb, "epoch", None) is not None and (n := _serials_in_1904(grid, h + n_header, header, source, wb)):
            notes.append(
                f"read {count_en(n, 'date')} written as serial numbers in the workbook's 1904 date system (Excel for Mac, "
                "WPS: day 0 is 1904-01-01)" + (f" (sheet {name})" if len(wb.worksheets) > 1 else "")
            )
        header = [str(c) if c not in (None, "") else f"__blank{i}" for i, c in enumerate(header)]
        body_rows = grid[h + n_header :]
        first_row = h + n_header + 1  # Excel rows are 1-based
        # Columns shown in another unit by their number format: noted, values taken as shown.
        for j, hd in enumerate(header):
            fs = {factors[i][j] for i in range(h + n_header, len(grid))} - {1.0}
            if fs:
                scaled[f"{hd} (sheet {name})" if len(wb.worksheets) > 1 else hd] = fs.pop()
        # Unify header spellings across sheets: the same contract column gets the first sheet's header text.
        renamed = []
        for hd in header:
            try:
                m = match_header(hd, source)
            except HeaderUnitError:
                m = None
            if m is None:
                renamed.append(hd)
                continue
            key = (m.column, m.factor, m.percent)
            other = [k for k in canonical_header if k[0] == m.column and k != key]
            if other:
                raise IngestError(
                    path.name,
                    f"sheets use different units for {m.column}: sheet '{name}' header '{hd}' differs from "
                    f"'{canonical_header[other[0]]}' on an earlier sheet; send one unit per file",
                )
            renamed.append(canonical_header.setdefault(key, hd))
        ambiguous = _read_decimal_months(grid, h + n_header, header, decimal_months, source)
        for r, reason in merged_values.items():
            ambiguous[r] = f"{ambiguous[r]}; {reason}" if r in ambiguous else reason
        df = pl.DataFrame(
            [pl.Series(c, [r[j] for r in body_rows], dtype=pl.Utf8) for j, c in enumerate(_dedupe(renamed))]
        )
        if ambiguous:
            df = df.with_columns(
                pl.Series("__ambiguous", [ambiguous.get(i) for i in range(h + n_header, len(grid))], dtype=pl.Utf8)
            )
        offset = ordinal * SHEET_ROW_BLOCK
        df = df.with_columns(
            pl.Series(ROW_NUMBER, list(range(offset + first_row, offset + first_row + len(body_rows))), dtype=pl.Int64)
        )
        if units[name] is None and (below := note_unit(df)) is not None:
            units[name], units_below[name] = below, True
        df, numbered = drop_numbered_blank_rows(_drop_blank_rows(df), source)
        if numbered:
            notes.append(numbered_rows_note(numbered, name if len(wb.worksheets) > 1 else None))
        df = flag_repeated_headers(df, source, units[name], grid[:h])
        df, caption_note = city_captions(df, source, grid[:h])
        if caption_note:
            notes.append(caption_note + (f" (sheet {name})" if len(wb.worksheets) > 1 else ""))
        df, month_note = _month_from_sheet_name(df, source, name, grid[:h], path)
        if month_note:
            notes.append(month_note if len(wb.worksheets) > 1 else month_note.replace(f" (sheet {name})", ""))
        df, city_note = _city_from_sheet_name(df, source, name)
        if city_note:
            notes.append(city_note)
        if getattr(ws, "sheet_state", "visible") != "visible":
            # A hidden sheet with a table is read like the others (offices hide finished months), but the ledger
            # says so: whoever opens the workbook does not see those rows and may not know they were sent.
            notes.append(
                f"sheet '{name}' is hidden in the workbook: its {count_en(df.height, 'row')} "
                f"{'was' if df.height == 1 else 'were'} read as well"
            )
        # a hidden sheet is marked: a reason naming one of its rows says so (an old version kept out of sight)
        hidden = getattr(ws, "sheet_state", "visible") != "visible"
        sheets.append({"sheet": name, "status": "read", "rows": df.height, **({"hidden": True} if hidden else {})})
        frames.append(df)
        ordinal += 1
        if h:
            notes.append(
                f"skipped {count_en(h, 'title row')} above the header"
                + (f" (sheet {name})" if len(wb.worksheets) > 1 else "")
            )
    if unmappable:
        raise IngestError(
            path.name,
            f"{noun_en(len(unmappable), 'sheet')} "
            + ", ".join(f"'{s}'" for s in unmappable)
            + f" cannot be mapped: no header row in the first {HEADER_SCAN_ROWS} rows (expected columns such as "
            + ", ".join(c.name for c in source.columns[:5])
            + "); remove them or move them to their own file",
        )
    if not frames:
        if any(s["status"] == "read" for s in sheets) or not sheets:
            raise IngestError(path.name, "workbook's first sheet is empty")
        raise IngestError(
            path.name, "workbook has no data sheet (" + ", ".join(f"{s['sheet']}: {s['status']}" for s in sheets) + ")"
        )
    stated = {u for u in units.values() if u}
    meant = [set(SHORT_UNITS[u].values()) if u in SHORT_UNITS else {u} for u in stated]
    if len(stated) > 1 and set.intersection(*meant):
        # 单位：万 on one sheet and 单位：万元 on another are one unit (万 abbreviates 万元 or 万人): the spelled one
        stated = {next(u for u in stated if u not in SHORT_UNITS)}
    if len(stated) > 1:
        raise IngestError(
            path.name,
            "sheets state different units: " + ", ".join(f"'{s}' 单位：{u}" for s, u in units.items() if u),
        )
    body = pl.concat(frames, how="diagonal") if len(frames) > 1 else frames[0]
    if body.height == 0:
        raise IngestError(path.name, "file has a header but no data rows")
    read = [s for s in sheets if s["status"] == "read"]
    if len(wb.worksheets) > 1:
        notes.append(
            f"read {count_en(len(read), 'sheet')}: "
            + ", ".join(f"{s['sheet']} ({count_en(s['rows'], 'row')})" for s in read)
        )
        skipped = [s for s in sheets if s["status"] != "read"]
        if skipped:
            notes.append(
                f"skipped {noun_en(len(skipped), 'sheet')}: "
                + ", ".join(f"{s['sheet']} ({s['status'][9:]})" for s in skipped)
            )
    for hd, f in scaled.items():
        notes.append(f"column {hd}: number format shows the stored value x{f:g}; read as shown")
    return RawFrame(
        body,
        kind,
        notes,
        sheets,
        stated.pop() if stated else None,
        context_year(titles, path),
        unit_note=any(units_below.values()),
        title_span=title_span(titles, path),
        title_month=title_month(titles),
    )


def _pivot_ranges(wb, ws) -> list[tuple[int, int, int, int]]:
    """(first row, first column, last row, last column) of each pivot table (数据透视表) an .xlsx sheet holds, its report
    filters above it included. A pivot table sums another table's rows (求和项:质押金额 by city and month, with 总计):
    none of its cells is a record. A clerk's pivot sheet beside the data refused the whole workbook ("cannot be
    mapped"), and a pivot whose filter fields (城市代码 | 月份 | (全部)) read as a header had its sums judged as records.
    openpyxl's read-only sheets do not expose pivots: the sheet's relationships and each pivot's <location> are read
    from the archive."""
    import posixpath

    from openpyxl.utils.cell import range_boundaries

    archive, path = getattr(wb, "_archive", None), getattr(ws, "_worksheet_path", None)
    if archive is None or not path:
        return []
    folder, base = posixpath.split(path)
    try:
        rels = archive.read(posixpath.join(folder, "_rels", base + ".rels"))
    except KeyError:
        return []
    out = []
    for m in re.finditer(rb"<Relationship\b[^>]*>", rels):
        tag = m[0]
        target = re.search(rb'Target="([^"]+)"', tag)
        if b"relationships/pivotTable" not in tag or target is None:
            continue
        part = posixpath.normpath(posixpath.join(folder, target[1].decode()))
        try:
            xml = archive.read(part.lstrip("/"))
        except KeyError:
            continue
        loc = re.search(rb"<(?:\w+:)?location\b([^>]*)>", xml)
        ref = re.search(rb'\sref="([A-Z]+\d+(?::[A-Z]+\d+)?)"', loc[1]) if loc else None
        if ref is None:
            continue
        c1, r1, c2, r2 = range_boundaries(ref[1].decode())
        pages = re.search(rb'\srowPageCount="(\d+)"', loc[1])
        page_cols = re.search(rb'\scolPageCount="(\d+)"', loc[1])
        if pages and int(pages[1]):  # report filters: a field and its value per row, a blank row, then the pivot
            r1 = max(1, r1 - int(pages[1]) - 1)
            c2 = max(c2, c1 + 3 * int(page_cols[1] if page_cols else 1) - 2)
        out.append((r1, c1, r2, c2))
    return out


def _instructions_text(grid: list[list]) -> bool:
    """Whether a sheet without a header holds only instructions: its first text is an instructions title (填表说明,
    注意事项, …: `INSTRUCTION_SHEET_PATTERN`) and every row is a line of prose (one or two cells: a number and its
    text). Such a sheet left under the default name (Sheet1) before the form was refused as "cannot be mapped",
    failing the whole workbook; a sheet with a table under such a title is not one (its rows have many cells)."""
    rows = [[v for v in r if not _blank(v)] for r in grid]
    rows = [r for r in rows if r]
    if not rows or any(len(r) > 2 for r in rows):
        return False
    first = re.sub(r"\s+", "", unicodedata.normalize("NFKC", _cell_text(rows[0][0])))
    return re.match(r"^(?:附件\d*[:：]?)?" + INSTRUCTION_SHEET_PATTERN, first, re.IGNORECASE) is not None


# Wholly empty columns in a row of them kept before a cell further right: a band of empty columns between two tables
# side by side (validate._refuse_side_by_side names its letters) is never this long.
EMPTY_COLUMN_RUN = 100


def _blank(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _columns_kept(grid: list[list]) -> list[int] | None:
    """The columns of a sheet's (right-trimmed) rows to keep when a run of more than `EMPTY_COLUMN_RUN` wholly empty
    columns lies before a filled cell further right: the run's first `EMPTY_COLUMN_RUN`, every other column. None
    when there is no such run (the usual sheet: nothing to move)."""
    width = max((len(r) for r in grid), default=0)
    if width <= EMPTY_COLUMN_RUN:
        return None
    filled = sorted({j for r in grid for j, v in enumerate(r) if not _blank(v)})
    kept, last = [], -1
    for j in filled:
        kept.extend(range(last + 1, min(j, last + 1 + EMPTY_COLUMN_RUN)))
        kept.append(j)
        last = j
    return kept if len(kept) < width else None


def _far_note(far: list[tuple[str, str, int]], sheet: str | None = None) -> str:
    """The ledger's words for the cells `_far_cells` found."""
    return (
        f"{noun_en(len(far), 'cell')} far to the right of the table, after {count_en(far[0][2], 'empty column')}: "
        + ", ".join(f"{ref} ('{text[:20]}')" for ref, text, _ in far[:5])
        + (f" and {len(far) - 5} more" if len(far) > 5 else "")
        + " - not read as the table's"
        + (f" (sheet {sheet})" if sheet is not None else "")
    )


def _cut_empty_column_runs(text: str, delimiter: str) -> tuple[str, str | None] | None:
    """A delimited text with every run of more than `EMPTY_COLUMN_RUN` wholly empty columns cut to that many, and the
    note naming the cells right of the first such run (None when none is filled); None when there is no such run.
    Each line keeps its own number of fields less the columns cut (a line with a field too many stays one too many:
    the reader refuses it as ragged)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    trimmed: list[list[str]] = []
    lengths: list[int] = []
    for row in reader:
        lengths.append(len(row))
        end = len(row)
        while end and not row[end - 1].strip():
            end -= 1
        trimmed.append(row[:end])
    kept = _columns_kept(trimmed)
    if kept is None:
        return None
    at = set(kept)
    width = max(len(r) for r in trimmed)
    cut_below = [0] * (width + 1)  # columns cut before position j
    for j in range(width):
        cut_below[j + 1] = cut_below[j] + (j not in at)
    far = _far_cells(trimmed, kept)
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    for r, n in zip(trimmed, lengths, strict=True):
        cells = [r[j] for j in kept if j < len(r)]
        writer.writerow(cells + [""] * (n - cut_below[min(n, width)] - len(cells)))
    return out.getvalue(), _far_note(far) if far else None


def _far_cells(grid: list[list], kept: list[int]) -> list[tuple[str, str, int]]:
    """(cell reference, text, empty columns before it) of the filled cells right of the first cut run of empty
    columns (`_columns_kept`)."""
    from openpyxl.utils.cell import get_column_letter

    start = next(kept[k] for k in range(1, len(kept)) if kept[k] != kept[k - 1] + 1)
    left = max((j for r in grid for j, v in enumerate(r[:start]) if not _blank(v)), default=-1)
    return [
        (f"{get_column_letter(j + 1)}{i + 1}", str(v).strip(), start - left - 1)
        for i, r in enumerate(grid)
        for j, v in enumerate(r)
        if j >= start and not _blank(v)
    ]


def _indent(cell) -> int:
    """A workbook cell's indent level (its alignment's), 0 when none or not told (xls cells, empty cells)."""
    try:
        return int(getattr(getattr(cell, "alignment", None), "indent", 0) or 0)
    except (TypeError, ValueError):
        return 0


def hidden_note(hidden: Hidden, grid: list[list], first_body: int, header: list) -> str | None:
    """The ledger's words for the rows and columns a sheet hides (or a filter hides) among its table's, or None. They
    are read: an office hides rows it has finished with and filters a table to check it, and what it sent is data.
    But whoever opens the workbook does not see them (a hidden scratch or duplicate row is common), so they are named:
    a duplicate or another version of a shown row is refused by the key rules, a scratch row by the cell rules."""
    from openpyxl.utils.cell import get_column_letter

    rows = sorted(
        r for r in hidden.rows if first_body < r <= len(grid) and any(v not in (None, "") for v in grid[r - 1])
    )
    cols = sorted(
        c
        for c in hidden.columns
        if c <= len(header) and any(grid[i][c - 1] not in (None, "") for i in range(first_body, len(grid)))
    )
    parts = []
    if rows:
        shown = ", ".join(str(r) for r in rows[:20]) + (f" and {len(rows) - 20} more" if len(rows) > 20 else "")
        parts.append(f"{noun_en(len(rows), 'row')} {shown}" + (" (hidden or filtered out)" if hidden.filtered else ""))
    if cols:
        parts.append(
            f"{noun_en(len(cols), 'column')} "
            + ", ".join(f"{get_column_letter(c)} ('{_cell_text(header[c - 1]).strip()}')" for c in cols[:20])
        )
    if not parts:
        return None
    return (
        " and ".join(parts)
        + " hidden in the workbook: read as well (whoever opens the file does not see them; check they are no "
        "scratch or old rows)"
    )


def _read_decimal_months(
    grid: list[list], first_body: int, header: list[str], decimal_months: dict, source: Source
) -> dict[int, str]:
    """Month cells that are numbers (2025.1): their text becomes what the format shows (2025.10 under 0.00); the
    ambiguous ones (General) are returned as grid row -> reason, refusing their rows."""
    if not decimal_months:
        return {}
    month_cols = {
        j: col
        for j, hd in enumerate(header)
        if (col := _safe_match(hd, source)) is not None and col == "month" and source.column(col).dtype == "date"
    }
    out: dict[int, str] = {}
    for (i, j), (text, unclear) in decimal_months.items():
        if i < first_body or j not in month_cols:
            continue
        grid[i][j] = text
        if unclear:
            y, m = text.split(".")
            out[i] = (
                f"ambiguous month in {month_cols[j]}: the number {text} is {y}.10 (October) or {text} (January) - "
                f"write the month as text ({y}-10, {y}年10月)"
            )
    return out


def context_year(title_rows: list, path: Path) -> int | None:
    """A single data year stated by the title rows (2025年…统计表), else by the file name (not a sending date)."""
    text = unicodedata.normalize("NFKC", " ".join(str(c) for r in title_rows for c in r if c is not None))
    years = {int(y) for y in re.findall(r"(?<!\d)((?:19|20)\d\d)\s*年", text)}
    if len(years) == 1:
        return years.pop()
    from pipelines.ingest.load import data_years_in_name

    named = data_years_in_name(path.stem)
    return named[0] if len(named) == 1 else None


# 2025年1-3月, 2025年1月至3月, 2025.01-2025.03, 2025年1月-2025年3月: the second month written with 月 or its year (a
# date such as 2025-01-03 is no range)
_MONTH_RANGE = re.compile(
    r"(?<!\d)((?:19|20)\d\d)\s*(?:年|[-./])\s*(\d{1,2})\s*月?份?\s*[-—–~至到]\s*"
    r"(?:(?:19|20)\d\d\s*(?:年|[-./])\s*(\d{1,2})(?!\d)|(\d{1,2})\s*月)"
)
_QUARTER = re.compile(
    r"(?<!\d)((?:19|20)\d\d)\s*年?\s*(?:第\s*)?([一二三四1-4])\s*季度|(?<!\d)((?:19|20)\d\d)\s*[Qq]([1-4])"
)
_HALF = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*年?\s*(上半年|下半年|前三季度|全年)")
_UP_TO = re.compile(
    r"(?:截[至止]|至)\s*((?:19|20)\d\d)\s*年\s*(\d{1,2})\s*月|((?:19|20)\d\d)\s*年\s*(\d{1,2})\s*月[末底]?\s*累计"
)


def _span_in(text: str) -> tuple[int | None, int, int, str] | None:
    """(year, first month, last month, the words) of the first period of several months ``text`` states (the year
    None when the words give none: the rows' year is meant)."""
    s = re.sub(INVISIBLE_CHARS, "", unicodedata.normalize("NFKC", str(text)))
    if m := _MONTH_RANGE.search(s):
        first, last = int(m.group(2)), int(m.group(3) or m.group(4))
        if 1 <= first < last <= 12:
            return int(m.group(1)), first, last, m.group(0).strip()
    if m := _QUARTER.search(s):
        q = "一二三四1234".index(m.group(2) or m.group(4)) % 4 + 1
        return int(m.group(1) or m.group(3)), 3 * q - 2, 3 * q, m.group(0).strip()
    if m := _HALF.search(s):
        first, last = {"上半年": (1, 6), "下半年": (7, 12), "前三季度": (1, 9), "全年": (1, 12)}[m.group(2)]
        return int(m.group(1)), first, last, m.group(0).strip()
    if (m := _UP_TO.search(s)) and 1 < int(m.group(2) or m.group(4)) <= 12:
        return int(m.group(1) or m.group(3)), 1, int(m.group(2) or m.group(4)), m.group(0).strip()
    return _yearless_span_in(s)


# The same periods written without their year (1-3月, 1月至3月, 一季度, 上半年, 截至3月底, 3月累计): the year is the
# rows' own. Unread, a 1-3月 report whose 月份 column said 2025-03 loaded the quarter as March, silently, where
# 2025年1-3月 was refused (validate.period_total).
_YEARLESS_RANGE = re.compile(r"(?<![\d年.\-/])(\d{1,2})\s*月?份?\s*[-—–~至到]\s*(\d{1,2})\s*月(?!\d)")
_YEARLESS_QUARTER = re.compile(r"(?<![\d年])(?:第\s*)?([一二三四])\s*季度")
_YEARLESS_HALF = re.compile(r"(上半年|下半年|前三季度)")
_YEARLESS_UP_TO = re.compile(r"截[至止]\s*(\d{1,2})\s*月(?!\d)[末底]?|(?<![\d年\-~至到])(\d{1,2})\s*月[末底]?\s*累计")


def _yearless_span_in(s: str) -> tuple[None, int, int, str] | None:
    if (m := _YEARLESS_RANGE.search(s)) and 1 <= int(m.group(1)) < int(m.group(2)) <= 12:
        return None, int(m.group(1)), int(m.group(2)), m.group(0).strip()
    if m := _YEARLESS_QUARTER.search(s):
        q = "一二三四".index(m.group(1)) + 1
        return None, 3 * q - 2, 3 * q, m.group(0).strip()
    if m := _YEARLESS_HALF.search(s):
        first, last = {"上半年": (1, 6), "下半年": (7, 12), "前三季度": (1, 9)}[m.group(1)]
        return None, first, last, m.group(0).strip()
    if (m := _YEARLESS_UP_TO.search(s)) and 1 < int(m.group(1) or m.group(2)) <= 12:
        return None, 1, int(m.group(1) or m.group(2)), m.group(0).strip()
    return None


def _month_beside_period(row: list) -> bool:
    """A row of group titles one of which is the month's own (本月, 当月, 3月, 2025年3月) and another a period of
    several months (1-3月, 一季度, 1-本月累计)."""
    cells = [unicodedata.normalize("NFKC", _cell_text(c)).strip() for c in row if _cell_text(c).strip()]
    if len(set(cells)) < 2:
        return False
    month = any(_MONTH_LABEL.fullmatch(c) or re.fullmatch(_THIS_PERIOD_WORDS, c) for c in cells)
    return month and any(_running_group(c, True) for c in cells)


def title_span(title_rows: list, path: Path) -> tuple[int | None, int, int, str, str] | None:
    """Several months the table's period spans, as its title rows (else its file name) state it: 2025年1-3月,
    2025年第一季度, 2025Q1, 2025年上半年, 前三季度, 全年, 截至2025年3月, 2025年3月累计. A table of such a period whose every
    row is its last month holds the period's figures under that month (validate refuses it). A row of group titles
    giving the month's block beside the period's (3月 | 1-3月, 本月 | 一季度) is no title: find_header reads the month's
    columns and leaves the period's."""
    title = " ".join(str(c) for r in title_rows if not _month_beside_period(r) for c in r if c is not None)
    for where, text in (("title above the table", title), ("file name", path.stem)):
        if (span := _span_in(text)) is not None:
            return (*span[:3], where, span[3])
    return None


def title_month(title_rows: list) -> tuple[int, int] | None:
    """The one (year, month) the title rows above a table state as its month (`stated_month`: not a date with its
    day, a sending date or several months), else None. The file name is not asked: it often says when a file was
    made or sent."""
    stated = stated_month(" ".join(str(c) for r in title_rows for c in r if c is not None))
    return stated if isinstance(stated, tuple) else None


def _month_from_sheet_name(
    df: pl.DataFrame, source: Source, sheet: str | None, title_rows: list, path: Path
) -> tuple[pl.DataFrame, str | None]:
    """A monthly table often has no month column: a month-per-sheet workbook names the sheet for it (1月; the year
    from the sheet name, title line or file name), and a one-month report states it in its title
    (2025年3月知识产权质押融资统计表) or its file name (深圳市2025年3月质押融资.xlsx). Without the month such a file
    was refused whole as missing a required column. (frame, note naming where the month came from)"""
    if source.partition_date != "month":
        return df, None
    if any(_safe_match(c, source) == "month" for c in df.columns):
        return df, None
    sm = sheet_month(sheet) if sheet is not None else None
    if sm is None:
        title = " ".join(str(c) for r in title_rows for c in r if c is not None)
        for where, text in (("the title above the table", title), ("the file name", path.stem)):
            stated = stated_month(text)
            if stated == "unclear":
                return df, None  # a range or a cumulative period: map_columns refuses the missing month column
            if stated is not None:
                y, m = stated
                return df.with_columns(pl.lit(f"{y}-{m:02d}").alias("月份")), (
                    f"no month column: every row is {y}-{m:02d}, the month {where} states"
                    + (f" (sheet {sheet})" if sheet is not None else "")
                )
        return df, None  # the missing column is reported by map_columns
    year = sm[0]
    if year is None:
        text = " ".join(str(c) for r in title_rows for c in r if c is not None)
        m = re.search(r"(?<!\d)((?:19|20)\d\d)\s*年", unicodedata.normalize("NFKC", text))
        year = int(m.group(1)) if m else None
    if year is None:
        from pipelines.ingest.load import data_years_in_name

        years = data_years_in_name(path.stem)
        year = years[0] if len(years) == 1 else None
    if year is None:
        raise IngestError(
            path.name, f"sheet '{sheet}' has no month column and its year cannot be told (name the sheet 2025年1月)"
        )
    return df.with_columns(pl.lit(f"{year}-{sm[1]:02d}").alias("月份")), None


# A sheet named for a unit (深圳市, 延边州, 锡林郭勒盟, 海东地区): a workbook of one sheet per city.
_UNIT_SHEET = re.compile(r"^[\u4e00-\u9fff]{1,15}(?:市|州|盟|地区)$")


def _city_column_missing(df: pl.DataFrame, source: Source):
    """The contract column a 城市 name column fills, when the table has neither it nor a district column; else None."""
    col = next((c for c in source.columns if c.name_headers), None)
    if col is None:
        return None
    names = {normalise_header(h) for h in col.name_headers}
    for c in df.columns:
        if c.startswith("__"):
            continue
        base = normalise_header(c.split("__dup")[0])
        if _safe_match(c, source) == col.name or base in names or re.fullmatch(DISTRICT_HEADER_PATTERN, base):
            return None
    return col


def city_captions(df: pl.DataFrame, source: Source, title_rows: list | None = None) -> tuple[pl.DataFrame, str | None]:
    """A table without a city column in blocks, each under a caption row naming its city (深圳市 alone on a row,
    the figures blank, often above the header repeated): each block's rows are the captioned unit, read as a 城市
    column of that name (validate reads it through the administrative divisions; a caption that is no unit refuses
    its rows naming it). A caption among the title rows above the header is the first block's. Before, the caption
    above a repeated header was read as a second table's title and its rows refused, and the file was refused whole
    as missing city_code. The caption rows are no records: they are dropped, noted, like the title rows."""
    col = _city_column_missing(df, source)
    cols = [c for c in df.columns if not c.startswith("__")]
    if col is None or df.height == 0 or not cols:
        return df, None

    def caption(row: tuple) -> str | None:
        text = _title_line(row, cols, df.columns)
        name = unicodedata.normalize("NFKC", text or "").strip()
        return name if _UNIT_SHEET.fullmatch(name) else None

    first = None
    for r in title_rows or []:
        texts = {_cell_text(c).strip() for c in r} - {""}
        if len(texts) == 1 and _UNIT_SHEET.fullmatch(name := unicodedata.normalize("NFKC", texts.pop()).strip()):
            first = name  # the last such title row above the header
    at = {i: name for i, row in enumerate(df.iter_rows()) if (name := caption(row)) is not None}
    if not at:
        return df, None
    city, cities, keep = first, [], []
    repeated = df["__repeated_header"].to_list() if "__repeated_header" in df.columns else [None] * df.height
    for i in range(df.height):
        if i in at:
            city = at[i]
            keep.append(False)
            cities.append(None)
            continue
        keep.append(True)
        cities.append(city)
        # the rows under the caption were judged a second table's: they are the captioned unit's block
        if repeated[i] and city and repeated[i].startswith(f"read under the second table titled '{city[:40]}'"):
            repeated[i] = None
    df = df.with_columns(pl.Series(col.name_headers[0], cities, dtype=pl.Utf8))
    if "__repeated_header" in df.columns:
        df = df.with_columns(pl.Series("__repeated_header", repeated, dtype=pl.Utf8))
    df = df.filter(pl.Series(keep))
    return df, (
        f"no city column: read {count_en(len(at), 'caption row')} naming a city ({', '.join(sorted(set(at.values()))[:5])}) "
        "as the city of the rows below each"
    )


def _city_from_sheet_name(df: pl.DataFrame, source: Source, sheet: str | None) -> tuple[pl.DataFrame, str | None]:
    """A workbook of one sheet per city (sheets 深圳市, 广州市) whose tables have no city column: each sheet's rows are
    the unit its name names, read as a 城市 column of that name (validate reads it through the administrative
    divisions; a name that is no unit refuses its rows naming it). Before, the file was refused whole as missing
    city_code, which did not say the sheets named the cities."""
    name = unicodedata.normalize("NFKC", sheet or "").strip()
    col = _city_column_missing(df, source) if _UNIT_SHEET.fullmatch(name) else None
    if col is None:
        return df, None
    return df.with_columns(pl.lit(name).alias(col.name_headers[0])), (
        f"no city column: every row of sheet '{name}' is the unit the sheet's name names"
    )


# A year and month in a title or a file name: 2025年3月, 2025年03月份, 2025-03, 2025_3, 2025.03. (NFKC has made a
# full-width comma or tilde plain.)
_STATED_MONTH = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*(?:年|[-_./])\s*(\d{1,2})(?!\d)\s*(月份?)?")
# Words saying a title's figures span more than one month (a year to date, a quarter, a half year): no one month.
_PERIOD_WORDS = re.compile(SEVERAL_MONTHS_PATTERN)
# A label saying the date after it is when the form was filled or sent, not what it holds.
_SENT_LABEL = re.compile(r"(?:日期|时间|报送|上报|填报|填表|制表|报出|提交|印发)\s*[:：]?\s*$")


def stated_month(text: str) -> tuple[int, int] | str | None:
    """The one (year, month) a title or file name states as its data month; None when it states none, "unclear"
    when it states a range (2025年1-3月), a cumulative period (截至2025年3月, 1-3月累计) or several months. A date
    with its day (填报日期：2025年4月5日, 2025-04-05) and a month followed or labelled by a sending word (2026年1月报送)
    are when the file was made or sent: not counted."""
    from pipelines.sources import SENDING_WORDS

    s = re.sub(INVISIBLE_CHARS, "", unicodedata.normalize("NFKC", str(text)))
    found: set[tuple[int, int]] = set()
    for m in _STATED_MONTH.finditer(s):
        year, month, after = int(m.group(1)), int(m.group(2)), s[m.end() :]
        if re.match(r"\s*(?:[-—–~～至到、,和及与]\s*)(?:\d{1,2}\s*月|(?:19|20)\d\d)", after):
            return "unclear"  # 2025年1-3月, 2025年1月至3月, 2025.01-2025.03, 2025年3月、4月: several months
        if re.match(r"\s*(?:[-./]\s*)?\d", after) or (m.group(3) is None and "年" in m.group(0)):
            continue  # a date with its day (2025-04-05), or 2025年3 without 月
        sent = re.match(r"\s*[_\-]?\s*" + SENDING_WORDS, after) and not re.match(
            r"\s*" + SENDING_WORDS + r"?\s*(?:时间|日期|单位|人)", after
        )  # 2026年1月报送 (not 2025年3月 报送时间：…, a label of the next date)
        if sent or re.match(r"\s*(?:日|号)", after):
            continue
        if _SENT_LABEL.search(s[max(0, m.start() - 8) : m.start()]):
            continue
        if 1 <= month <= 12:
            found.add((year, month))
    if not found:
        return None
    if len(found) > 1 or _PERIOD_WORDS.search(s):
        return "unclear"
    return found.pop()


def _safe_match(h: str, source: Source) -> str | None:
    try:
        m = match_header(h, source)
    except HeaderUnitError:
        return None
    return m.column if m else None


def _dedupe(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for h in header:
        if h in seen:
            seen[h] += 1
            out.append(f"{h}__dup{seen[h]}")
        else:
            seen[h] = 0
            out.append(h)
    return out


# -- CSV / TSV -------------------------------------------------------------------------------------------


_GB18030_FOUR_BYTES = re.compile(rb"[\x81-\xfe][\x30-\x39][\x81-\xfe][\x30-\x39]")


def _decode(raw: bytes, file_name: str) -> tuple[str, str]:
    if raw.startswith(b"\xef\xbb\xbf"):
        try:
            return raw[3:].decode("utf-8", errors="strict"), "utf-8-sig"
        except UnicodeDecodeError:
            # A UTF-8 byte-order mark in front of GBK text (a tool added the mark, Excel saved the text).
            text, enc = _decode(raw[3:], file_name)
            return text, f"{enc} (behind a UTF-8 byte-order mark)"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as e:
            raise IngestError(file_name, f"not valid UTF-16 text (byte {e.start}): cannot decode") from e
    head = raw[:4096]
    if b"\x00" in head:
        # NUL bytes never occur in UTF-8 or GBK text: UTF-16 without a byte-order mark (ASCII characters, tabs
        # and line breaks have their zero byte second in little-endian, first in big-endian).
        # UTF-16 without a byte-order mark: every other byte of ASCII text is zero.
        enc = "utf-16-le" if head[1::2].count(b"\x00") > head[0::2].count(b"\x00") else "utf-16-be"
        try:
            return raw.decode(enc), enc
        except UnicodeDecodeError as e:
            raise IngestError(file_name, f"not valid UTF-16 text (byte {e.start}): cannot decode") from e
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    utf8_lines, bad_line = [], None
    for i, line in enumerate(raw.splitlines(), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8_lines.append(i)
        except UnicodeDecodeError:
            bad_line = bad_line or i
    if utf8_lines and bad_line:
        raise IngestError(
            file_name,
            f"mixed text encodings: line {utf8_lines[0]} is UTF-8 but line {bad_line} is not; "
            "save the whole file in one encoding",
        )
    try:
        # GB18030 is a superset of GBK and GB2312; Windows Excel in China saves CSV as GBK. A four-byte sequence (a
        # byte >= 0x81, a digit, a byte >= 0x81, a digit: no GBK text has one, a GBK trail byte is >= 0x40) holds a
        # character outside GBK (𠮷, 䶮): the file is GB18030 and the ledger says so; it said "gbk" for every one.
        text = raw.decode("gb18030")
        return text, "gb18030" if _GB18030_FOUR_BYTES.search(raw) else "gbk"
    except UnicodeDecodeError as e:
        raise IngestError(file_name, f"not valid UTF-8 or GBK text (byte {e.start}): cannot decode") from e


# Files at least this big skip the separate whole-file UTF-8 decode: Polars validates UTF-8 in every field it
# reads, so only the rows above the header need a check of their own (done on the head). Small files take
# the decode path, whose error messages name the offending line.
FAST_UTF8_MIN_BYTES = 1 << 20
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


class _NotUtf8(Exception):
    """Raised on the fast path when the body turns out not to be UTF-8: take the decode path instead."""


def _head_text(raw: bytes) -> str | None:
    """The first 64 KiB as text when they are valid UTF-8 (a character cut at the end is fine), else None."""
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(raw[:65536], final=False)
    except UnicodeDecodeError:
        return None


# What DOS-era tools and some statistics systems' exports put after a text file's last line: an end-of-file mark
# (Ctrl-Z, 0x1A), maybe with a line break after it. Read as a last row, it was refused as "unknown region code '\x1a'"
# and a truncated row: a quarantined record the file never held.
_EOF_MARK = re.compile(r"\x1a+[\r\n]*\Z")
# A carriage return not followed by a line feed, among lines that end LF or CRLF: lines added by another program
# (Excel for Mac's CR) to a Windows file. The parser refused the whole file ("new-line character seen in unquoted
# field").
_LONE_CR = re.compile(r"\r(?!\n)")


def _has_lone_cr(path: Path) -> bool:
    """Whether a file holds a carriage return not followed by a line feed (`_LONE_CR`), found without reading it into
    memory (a search for CR, which most files answer at once)."""
    import mmap

    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        at = m.find(b"\r")
        if at < 0:
            return False
        return re.compile(rb"\r(?!\n)").search(m, at) is not None


def _read_csv(path: Path, source: Source) -> RawFrame:
    if path.stat().st_size >= FAST_UTF8_MIN_BYTES:
        # Polars reads (memory-maps) the file itself; only its head and tail are read here.
        with open(path, "rb") as f:
            first = f.read(65536)
            f.seek(max(0, path.stat().st_size - 64))
            last = f.read()
        plain = (
            not first.startswith(_BOMS)
            and first.strip()
            and b"\x00" not in first
            and b"\n" in first
            and b"\x1a" not in last
            and not _has_lone_cr(path)
        )
        head = _head_text(first) if plain else None  # (no \n: CR line ends, read by the decode path)
        if head is not None:
            try:
                return _parse_csv(path, source, _FileBytes(path), head, None, "utf-8")
            except _NotUtf8:
                pass
    raw = path.read_bytes()
    text, encoding = _decode(raw, path.name)
    if not text.strip():
        raise IngestError(path.name, "file is empty")
    # Lines ended by CR alone (Excel for Mac's "CSV (Macintosh)"): the parser knows no such line end and read the
    # whole file as its header line, refusing it as "a header but no data rows".
    cr_only = "\r" in text and "\n" not in text
    if cr_only:
        text = text.replace("\r", "\n")
    eof_mark = _EOF_MARK.search(text) is not None
    if eof_mark:  # the last line ends where the mark begins (with a line break of its own, or one added)
        text = _EOF_MARK.sub("", text)
        text = text if text.endswith(("\n", "\r")) else text + "\n"
    mixed = not cr_only and "\r" in text and _LONE_CR.search(text) is not None
    if mixed:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    changed = encoding != "utf-8" or cr_only or eof_mark or mixed
    source_bytes = text.encode("utf-8") if changed else raw
    frame = _parse_csv(path, source, source_bytes, text[:65536], text, encoding)
    if cr_only:
        frame.notes.append("lines ended by CR alone (old Mac line ends): read as line breaks")
    if mixed:
        frame.notes.append("lines ended by CR alone among lines ended by LF or CRLF: each read as a line break")
    if eof_mark:
        frame.notes.append("an end-of-file mark (Ctrl-Z, 0x1A) after the last line: not a row")
    return frame


class _FileBytes:
    """The few byte-level questions _parse_csv asks of a file it does not hold in memory."""

    def __init__(self, path: Path):
        self.path = path

    def endswith(self, suffixes: tuple[bytes, ...]) -> bool:
        return self[-65536:].endswith(suffixes)

    def count(self, sub: bytes) -> int:
        return self.path.read_bytes().count(sub)

    def decode(self, *args, **kwargs) -> str:
        return self.path.read_bytes().decode(*args, **kwargs)

    def __getitem__(self, key: slice) -> bytes:
        assert key.stop is None and key.start is not None and key.start < 0, "only tails are read"
        with open(self.path, "rb") as f:
            f.seek(max(0, self.path.stat().st_size + key.start))
            return f.read()


def _sniff(head_lines: list[str], source: Source, file_name: str) -> tuple[str, list[list[str]], int, int, list]:
    """The delimiter whose split of the head finds the best header (comma, tab, semicolon, bar)."""
    best = None
    for d in _DELIMITERS:
        if d != "," and not any(d in line for line in head_lines):
            continue
        rows = list(csv.reader(head_lines, delimiter=d))
        try:
            h, n, header = find_header(rows, source, file_name)
        except AmbiguousHeader:
            raise
        except IngestError:
            continue
        hits = _row_hits(header, source)[0]
        if best is None or hits > best[0]:
            best = (hits, d, rows, h, n, header)
    if best is None:
        raise IngestError(
            file_name,
            f"no header row found in the first {HEADER_SCAN_ROWS} rows: expected columns such as "
            + ", ".join(c.name for c in source.columns[:5]),
        )
    return best[1], best[2], best[3], best[4], best[5]


def _parse_csv(path: Path, source: Source, source_bytes, head: str, text: str | None, encoding: str) -> RawFrame:
    """Parse UTF-8 bytes. ``text`` is the decoded file, or None on the fast path (decoded only if needed)."""
    head_lines = head.splitlines()[: HEADER_SCAN_ROWS + 1]
    delimiter, rows, h, n_header, header = _sniff(head_lines, source, path.name)
    if any(len(r) > EMPTY_COLUMN_RUN for r in rows) and (
        cut := _cut_empty_column_runs(text if text is not None else source_bytes.decode("utf-8"), delimiter)
    ):
        # Excel's "Save as CSV" writes every line as wide as the sheet's used range: one cell typed in column XFD
        # made each line 16,384 fields (500 lines took 70 s and 1.2 GB to load). The run of empty columns before it
        # is cut short, as a workbook's is (`_columns_kept`); the cell is named.
        cut_text, note = cut
        frame = _parse_csv(path, source, cut_text.encode("utf-8"), cut_text[:65536], cut_text, encoding)
        if note:
            frame.notes.append(note)
        return frame
    notes = [f"skipped {count_en(h, 'title row')} above the header"] if h else []
    if n_header == 2:
        notes.append("joined a two-row header")
    if delimiter != ",":
        notes.append({"\t": "tab-separated", ";": "semicolon-separated", "|": "bar-separated"}[delimiter])
    n_header_fields = len(rows[h + n_header - 1])
    if encoding != "utf-8":
        notes.append(f"decoded from {encoding}")
    truncated_last = not source_bytes.endswith((b"\n", b"\r"))
    ragged = False
    skip = h + n_header - 1

    def polars_csv(ragged_: bool) -> pl.DataFrame:
        try:
            return _polars_csv(source_bytes, skip, ragged=ragged_, separator=delimiter)
        except pl.exceptions.ComputeError as e:
            if text is None and "utf-8" in str(e).lower():
                raise _NotUtf8 from e
            raise

    try:
        df = polars_csv(False)
    except pl.exceptions.ComputeError as e:
        # Only a row with more fields than the header makes the strict read fail; read again leniently
        # and count fields per row (slow path, taken only for such files).
        if "more fields" not in str(e) and "found more fields" not in str(e):
            df = None
            err = e
        else:
            ragged = True
            df = polars_csv(True)
    except _NotUtf8:
        raise
    except Exception as e:  # noqa: BLE001 - any parser failure means the file cannot be read
        df, err = None, e
    if df is None:
        fault = _quote_fault(text if text is not None else source_bytes.decode("utf-8", errors="replace"), delimiter)
        if fault is not None:
            raise IngestError(path.name, fault) from err
        if source_bytes.count(b'"') % 2:
            raise IngestError(
                path.name, 'the file ends inside a quoted field ("...) - it was probably cut off'
            ) from err
        raise IngestError(path.name, f"malformed CSV ({type(err).__name__}: {str(err)[:200]})") from err
    header = [str(c).lstrip("\ufeff") if c not in (None, "") else f"__blank{i}" for i, c in enumerate(header)]
    header = header + [f"__blank{i}" for i in range(len(header), df.width)]
    df.columns = _dedupe(header[: df.width] if len(header) >= df.width else [c.lstrip("\ufeff") for c in df.columns])
    if df.height == 0:
        raise IngestError(path.name, "file has a header but no data rows")
    df = df.with_row_index(ROW_NUMBER, offset=h + n_header + 1).with_columns(pl.col(ROW_NUMBER).cast(pl.Int64))
    if ragged:
        full = text if text is not None else source_bytes.decode("utf-8")
        counts = [len(r) for r in csv.reader(io.StringIO(full), delimiter=delimiter)][h + n_header :]
        if len(counts) == df.height:
            df = df.with_columns(pl.Series("__nfields", counts))
            df = df.with_columns(
                pl.when(pl.col("__nfields") > n_header_fields)
                .then(
                    pl.format(
                        "too many fields: row has {} fields, header has {} (unquoted comma?)",
                        pl.col("__nfields"),
                        pl.lit(n_header_fields),
                    )
                )
                .otherwise(None)
                .alias("__ragged")
            ).drop("__nfields")
    unit, below = unit_line(rows[:h], rows[h] if h < len(rows) else None), False
    if unit is None and (unit := note_unit(df)) is not None:
        below = True
    df, numbered = drop_numbered_blank_rows(_drop_blank_rows(df), source)
    if numbered:
        notes.append(numbered_rows_note(numbered))
    df = flag_repeated_headers(df, source, unit, rows[:h])
    df, caption_note = city_captions(df, source, rows[:h])
    if caption_note:
        notes.append(caption_note)
    # A file cut off mid-row (interrupted copy or download) leaves a short last line: flag that row.
    if truncated_last:
        tail = text[-65536:] if text is not None else source_bytes[-65536:].decode("utf-8", errors="ignore")
        last_line = tail.rstrip("\r\n").rsplit("\n", 1)[-1]
        n_fields = len(next(csv.reader([last_line], delimiter=delimiter), []))
        if n_fields < n_header_fields:
            notes.append(f"truncated last row ({n_fields} of {n_header_fields} fields)")
            df = df.with_columns(pl.lit(None, pl.Utf8).alias("__truncated"))
            df = df.with_columns(
                pl.when(pl.col(ROW_NUMBER) == df[ROW_NUMBER].max())
                .then(pl.lit(f"truncated row: file ends after {n_fields} of {n_header_fields} fields"))
                .otherwise(None)
                .alias("__truncated")
            )
    df, month_note = _month_from_sheet_name(df, source, None, rows[:h], path)
    if month_note:
        notes.append(month_note)
    return RawFrame(
        df,
        encoding,
        notes,
        [],
        unit,
        context_year(rows[:h], path),
        unit_note=below,
        title_span=title_span(rows[:h], path),
        title_month=title_month(rows[:h]),
    )


def _quote_fault(text: str, delimiter: str) -> str | None:
    """Where a CSV's quotes break it, in words naming the line, or None. The parser's own message quoted a cell
    and advised raising `infer_schema_length`, naming no line: a title typed "快速预审"讲座 (a quote opening a field
    that goes on after its closing quote) or a quote opened and never closed made the office search the file."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    start = 1
    try:
        for _ in reader:
            start = reader.line_num + 1
    except csv.Error as e:
        if "unexpected end of data" not in str(e):
            return (
                f'malformed CSV at line {reader.line_num}: a field starts with a quote (") but goes on after its '
                'closing quote (quote the whole field and write each quote in it twice: """快速预审""讲座", or remove '
                "the quotes)"
            )
        if text.rstrip("\r\n").count("\n") + 1 > start:
            return (
                f'malformed CSV at line {start}: a quote (") opens a field that is never closed, so every line after '
                'it was read into that field (close it, or write a quote inside a quoted field twice: "")'
            )
    return None


def _header_scale(h: str, source: Source, line: str | None) -> tuple[float, bool] | None:
    """The scale (in the family's base unit) and per-cent flag a header reads its values in, ``line`` being the
    unit of a "单位：…" line above the table; None when the header states no unit of a scaled column (then it
    means whatever the table around it means)."""
    try:
        m = match_header(h, source)
    except HeaderUnitError:
        return None
    if m is None:
        return None
    c = source.column(m.column)
    line = full_unit(line, c.unit)
    if m.percent:
        return (1.0, True)
    if not c.unit or c.unit not in UNIT_SCALES:
        return None
    if m.unit in UNIT_SCALES:
        return (UNIT_SCALES[m.unit], False)
    if m.unit == "(alias)" and m.factor:
        return (m.factor * UNIT_SCALES[c.unit], False)
    if m.unit is None and line in UNIT_SCALES and any(line in f and c.unit in f for f in UNIT_FAMILIES.values()):
        return (UNIT_SCALES[line], False)
    return None


def flag_repeated_headers(
    df: pl.DataFrame, source: Source, unit: str | None = None, title_rows: list | None = None
) -> pl.DataFrame:
    """A data row that is the header again (an export's page break; a 续表 below the table) is no record. When it
    puts the contract's columns in another order, the rows under it would be read in the file header's columns
    (two counts swapped, silently): they are refused too, up to a header in the file's order. The same when it
    states another unit (a second table pasted below the first, in 亿元 where the file's header says 万元): its
    rows would be read in the first header's unit, 10,000 times off and silently. ``unit`` is the unit of a
    "单位：…" line above the table (what a header without a unit means). A title line right above a repeated header
    heads a second table (表2 上年同期): its rows are refused up to the next header, unless the title says the table
    goes on (续表) or is the table's own title (``title_rows``, above the file's header) repeated at a page break."""
    cols = [c for c in df.columns if not c.startswith("__")]
    if df.height == 0 or len(cols) < 2:
        return df
    own = {j: _safe_match(c.split("__dup")[0], source) for j, c in enumerate(cols)}
    own_scale = {j: _header_scale(c.split("__dup")[0], source, unit) for j, c in enumerate(cols) if own[j]}
    known = sorted({*header_names(source), *(normalise_header(c) for j, c in enumerate(cols) if own[j])})

    no_digit_in_known = not any(re.search(r"\d", k) for k in known)

    def header_cells(c: str) -> pl.Series:
        """The texts of column ``c`` that read as a known header (normalise_header in expressions). Only the
        column's distinct texts are normalised: normalising every cell was about 40 % of reading a 100k-row CSV."""
        texts = df.select(pl.col(c).drop_nulls().unique()).to_series()
        if no_digit_in_known:  # NFKC keeps a digit a digit: a text with one is no known header
            texts = texts.filter(~texts.str.contains(r"\d"))
        normalised = (
            texts.str.normalize("NFKC")
            .str.replace(UNIT_AFTER_SEPARATOR, "${1}(${2})")
            .str.replace_all(r"\s+", "")
            .str.replace_all(r"[\[【〔〈]", "(")
            .str.replace_all(r"[\]】〕〉]", ")")
            .str.strip_chars("*※:")
            .str.to_lowercase()
        )
        return texts.filter(normalised.is_in(known))

    hits = df.select(
        pl.sum_horizontal([pl.col(c).is_in(header_cells(c).implode()).cast(pl.Int32) for c in cols]) >= 2
    ).to_series()
    if not hits.any():
        return df
    rows = df.filter(hits).select(ROW_NUMBER, *cols).rows()
    marks: dict[int, str] = {}  # row number -> reason
    for row in rows:
        n, cells = row[0], row[1:]
        other = [j for j, cell in enumerate(cells) if (m := _safe_match(_cell_text(cell), source)) and m != own[j]]
        if not other:
            # a cell that names no unit means the table's unit; one that names the same scale is the same unit
            rescaled = [
                j
                for j, cell in enumerate(cells)
                if own[j]
                and (scale := _header_scale(_cell_text(cell), source, None)) is not None
                and scale != (own_scale.get(j) or _contract_scale(source, own[j]))
            ]
            if not rescaled:
                marks[n] = PLAIN_REPEATED_HEADER
                continue
            marks[n] = _repeated_header_reason("with another unit", cells, cols, rescaled)
            marks[-n] = "whose unit differs"
            continue
        marks[n] = _repeated_header_reason("with its columns in another order", cells, cols, other)
        marks[-n] = "whose columns are in another order"  # the rows below, to the next header, are read wrong
    numbers = df[ROW_NUMBER].to_list()
    # What the rows under each repeated header are read as: its reason when they cannot be this file's records.
    below = {
        n: f"read under the header repeated at row {n} {marks[-n]}: send one table per file"
        for n in marks
        if n > 0 and -n in marks
    }
    at = {n: i for i, n in enumerate(numbers)}
    headers = [n for n in marks if n > 0]
    own_titles = {_cell_text(c).strip() for r in title_rows or [] for c in r} - {""}
    for n in headers:
        i = at[n]
        title = _title_line(df.row(i - 1), cols, df.columns) if i and n - numbers[i - 1] <= 2 else None
        if title is not None:
            t = numbers[i - 1]
            # a title line right above a repeated header heads a second table on the sheet: the line is no record
            marks[t] = f"title of a second table on the sheet, not a record: '{title[:40]}'"
            if n not in below and not re.search(CONTINUED_TITLE, title) and title not in own_titles:
                # Its rows, with the file's columns, may be 上年同期, 累计, 其中… or another kind of record (表2 商标质押):
                # read under the first header they loaded as this file's records, silently. Only a 续表 (the same
                # table continued on another page) goes on. A title stating another month is no safer: the rows
                # carry their own month cells, which may contradict it, so they are not loaded as that month either.
                below[n] = (
                    f"read under the second table titled '{title[:40]}' at row {t}, not this file's records: "
                    "send one table per file"
                )
            continue
        total = _total_line(df.row(i - 1), cols, df.columns) if i else None
        if total is not None and n not in below:
            # a header repeated right after the table's total (合计, 全省合计) starts a second table: the first has ended
            below[n] = (
                f"read under the header repeated at row {n} after the total row {numbers[i - 1]} ('{total[:40]}'), "
                "a second table, not this file's records: send one table per file"
            )
    reasons, under = [], None
    for n in numbers:
        if n in marks:
            if n in headers:  # each repeated header starts what the rows under it are read as
                under = n if n in below else None
            reasons.append(marks[n])
        elif under is not None:
            reasons.append(below[under])
        else:
            reasons.append(None)
    return df.with_columns(pl.Series("__repeated_header", reasons, dtype=pl.Utf8))


# A title line that says the table above goes on (续表, 表1（续）): its rows are the same table's, page after page.
CONTINUED_TITLE = r"续表|[（(]\s*续\s*[)）]|^续$|接上"
PLAIN_REPEATED_HEADER = "header row repeated inside the table, not a record"


def _title_line(row: tuple, cols: list[str], columns: list[str]) -> str | None:
    """The text of a title line: one text alone on the row (or the same text in each cell of a merged title), with
    Chinese in it (表2 商标质押, 2024年同期). None for any other row."""
    texts = {_cell_text(row[columns.index(c)]).strip() for c in cols} - {""}
    if len(texts) != 1:
        return None
    (text,) = texts
    return text if re.search(r"[\u4e00-\u9fff]", text) else None


def _total_line(row: tuple, cols: list[str], columns: list[str]) -> str | None:
    """The label of a whole table's total row (合计, 总计, 全省合计) in its first filled cell; None for a subtotal
    (小计, 广东省合计: a group closed inside a longer table) or any other row."""
    texts = [t for c in cols if (t := _cell_text(row[columns.index(c)]).strip())]
    if not texts:
        return None
    label = unicodedata.normalize("NFKC", texts[0]).replace(" ", "")
    whole = r"^(?:全省|全市|全区|全县|全国|本省|本市|各市|各地)?(?:合计|总计|汇总)(?:[:：()（）]|$)"
    return texts[0] if re.search(whole, label) else None


def _repeated_header_reason(how: str, cells: list, cols: list[str], at: list[int]) -> str:
    """A repeated header's reason, naming its cells at ``at`` beside the file header's."""
    return (
        f"header row repeated inside the table {how}, not a record ("
        + " / ".join(str(cells[j]) for j in at)
        + " where the file's header has "
        + " / ".join(cols[j] for j in at)
        + ")"
    )


def _contract_scale(source: Source, column: str) -> tuple[float, bool] | None:
    """The scale a header without a unit and without a unit line reads values in: the contract's unit."""
    c = source.column(column)
    return (UNIT_SCALES[c.unit], False) if c.unit in UNIT_SCALES else None


def _drop_blank_rows(df: pl.DataFrame) -> pl.DataFrame:
    """Blank lines are layout, not records (as in Excel). A blank row has a blank first column, so only the
    rows with one are looked at across every column."""
    data_cols = [c for c in df.columns if not c.startswith("__")]
    if not data_cols or df.height == 0:
        return df
    blank = [pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in data_cols]
    candidates = df.select(blank[0].alias("__b"))["__b"]
    if not candidates.any():
        return df
    return df.filter(~(blank[0] & pl.all_horizontal(blank[1:] or [pl.lit(True)])))


def drop_numbered_blank_rows(df: pl.DataFrame, source: Source) -> tuple[pl.DataFrame, int]:
    """(frame, rows dropped) without the rows of a template numbered in advance: every contract cell empty and the
    other cells only row numbers (序号 1–50 printed down a form the office filled for ten cities). Each was refused
    with a "missing value" for every column, burying the file's real faults among dozens of such rows. A row with
    anything else (a city's name, a remark) stays and is judged."""
    cols = [c for c in df.columns if not c.startswith("__")]
    own = {c: _safe_match(c.split("__dup")[0], source) for c in cols}
    contract, other = [c for c in cols if own[c]], [c for c in cols if not own[c]]
    if df.height == 0 or not contract or not other:
        return df, 0

    def empty(c: str) -> pl.Expr:
        return pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "")

    numbered = pl.all_horizontal([empty(c) for c in contract]) & pl.all_horizontal(
        [empty(c) | pl.col(c).str.strip_chars().str.contains(r"^\d{1,6}$") for c in other]
    )
    mask = df.select(numbered.alias("__m"))["__m"]
    n = int(mask.sum())
    return (df.filter(~mask), n) if n else (df, 0)


def numbered_rows_note(n: int, sheet: str | None = None) -> str:
    return f"skipped {count_en(n, 'empty row')} holding only a row number (序号)" + (
        f" (sheet {sheet})" if sheet else ""
    )


def _polars_csv(data, skip: int, *, ragged: bool, separator: str = ",") -> pl.DataFrame:
    return pl.read_csv(
        data.path if isinstance(data, _FileBytes) else data,
        skip_rows=skip,
        infer_schema=False,
        has_header=True,
        missing_columns="insert",
        truncate_ragged_lines=ragged,
        separator=separator,
        quote_char='"',
    )


def sheet_and_row(row_number: int, sheets: list[dict]) -> tuple[str | None, int]:
    """The sheet name and Excel row of a row number (see SHEET_ROW_BLOCK)."""
    read = [s["sheet"] for s in sheets if s.get("status") == "read"]
    if not read:
        return None, row_number
    k = row_number // SHEET_ROW_BLOCK
    return (read[k] if k < len(read) else None), row_number % SHEET_ROW_BLOCK
