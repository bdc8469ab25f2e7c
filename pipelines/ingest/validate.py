"""Turn an all-text frame into typed contract rows plus a reason for every row that cannot be loaded.

Every rule is a vectorised Polars expression producing either null (row fine) or a reason text that names
the column and the offending value. A row with any reason is quarantined with all its reasons; the others
are loaded. Nothing is dropped silently: rows in = rows loaded + rows quarantined.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import polars as pl
from openpyxl.utils import get_column_letter

from pipelines.counts import count_en, noun_en
from pipelines.ingest.readers import (
    INVISIBLE_CHARS,
    ROW_FLAGS,
    ROW_NUMBER,
    SHEET_ROW_BLOCK,
    WHOLE_ROW_FLAGS,
    HeaderUnitError,
    IngestError,
    RawFrame,
    _safe_match,
    match_header,
    normalise_header,
)
from pipelines.sources import (
    COUNT_WORDS_IN_CELLS,
    DISTRICT_HEADER_PATTERN,
    EXCEL_ERRORS,
    FOOTNOTE_MARKER_PATTERN,
    NATIONAL_CODES,
    OWN_LEVEL_CHARS,
    OWN_LEVEL_PATTERN,
    SCALED_COUNT_UNIT,
    SEVERAL_MONTHS_PATTERN,
    SHORT_UNITS,
    TOTAL_LABEL_CHARS,
    TOTAL_LABEL_PATTERN,
    TOTAL_SHEET_PATTERN,
    UNIT_FAMILIES,
    UNIT_SCALES,
    WHOLE_AREA_PATTERN,
    Column,
    Source,
    full_unit,
    plausibility_thresholds,
    ratio_indicators,
)

# Text a spreadsheet runs as a formula (= + @; the minus is judged apart). Tabs and line breaks in front are
# stripped with the other white space before this is asked.
_FORMULA_START = r"^[=+@]"

# Offices often write enumerations in Chinese; map them to the contract's codes. A word that means a different
# code in different columns lists them all: each column takes the one it allows (see `enum_synonyms`).
ENUM_SYNONYMS: dict[str, str | tuple[str, ...]] = {
    "发明": "invention",
    "发明专利": "invention",
    "实用新型": "utility_model",
    "外观设计": "design",
    "企业": ("enterprise", "enterprises"),  # an applicant type; a training audience
    "大专院校": "university",
    "高校": "university",
    "科研单位": "research_institute",
    "科研院所": "research_institute",
    "个人": "individual",
    "机关团体": "other",
    "其他": "other",
    "专利侵权纠纷": "patent_infringement_dispute",
    "假冒专利": "counterfeit_patent",
    "商标": "trademark",
    "商标违法": "trademark",
    "电子商务": "ecommerce",
    "电商": "ecommerce",
    "展会": "trade_fair",
    "地理标志": "geographical_indication",
    "行政裁决": "administrative_ruling",
    "调解": "mediation",
    "移送司法": "transferred_to_court",
    "移送法院": "transferred_to_court",
    "撤回": "withdrawn",
    "撤案": "withdrawn",
    "行政处罚": "penalty",
    "驳回": "dismissed",
    "党政机关": "officials",
    "机关干部": "officials",
    "领导干部": "officials",
    "企业人员": "enterprises",
    "服务机构": "service_agencies",
    "中小学": "schools",
    "学校": "schools",
    "社会公众": "public",
    "公众": "public",
    # what provincial case and training registers write besides the words above
    "专利侵权": "patent_infringement_dispute",
    "专利纠纷": "patent_infringement_dispute",
    "冒充专利": "counterfeit_patent",
    "商标侵权": "trademark",
    "侵犯注册商标专用权": "trademark",
    "电子商务领域": "ecommerce",
    "电商领域": "ecommerce",
    "调解结案": "mediation",
    "达成调解": "mediation",
    "调解成功": "mediation",
    "罚款": "penalty",
    "行政处罚决定": "penalty",
    "驳回请求": "dismissed",
    "撤诉": "withdrawn",
    "撤回请求": "withdrawn",
    "撤回申请": "withdrawn",
    "移送司法机关": "transferred_to_court",
    "公务员": "officials",
    "执法人员": "officials",
    "代理机构": "service_agencies",
    "知识产权服务机构": "service_agencies",
    "大中小学": "schools",
    "群众": "public",
    "市民": "public",
    "正常": "active",
    "在建": "active",
    "整改": "rectification",
    "撤销": "withdrawn",
}


def enum_synonyms(allowed: tuple[str, ...]) -> dict[str, str]:
    """The Chinese words of ENUM_SYNONYMS that mean one of ``allowed``, each mapped to that code."""
    out = {}
    for word, codes in ENUM_SYNONYMS.items():
        code = next((c for c in ((codes,) if isinstance(codes, str) else codes) if c in allowed), None)
        if code is not None:
            out[word] = code
    return out


_TRUE = ("1", "true", "t", "yes", "y", "是", "√")
_FALSE = ("0", "false", "f", "no", "n", "否", "")
_TRUE_CASED = tuple({v for t in _TRUE for v in (t, t.upper(), t.capitalize())})
_FALSE_CASED = tuple({v for t in _FALSE for v in (t, t.upper(), t.capitalize())})


@dataclass
class Validated:
    good: pl.DataFrame  # contract columns typed, + year (partitioned sources), + ROW_NUMBER
    rejected: pl.DataFrame  # ROW_NUMBER, raw_values (JSON text), reason
    notes: list[str]


@dataclass
class Mapped:
    df: pl.DataFrame  # contract columns (text), ROW_NUMBER, flags (__ragged, __truncated, __total, __note)
    notes: list[str]
    factors: dict[str, float]  # column -> multiply by (unit conversion)
    percent: set[str]  # columns under a (%) header
    renames: dict[str, str] = field(default_factory=dict)  # file header -> contract column
    by_name: set[str] = field(default_factory=set)  # code columns read from a column of names (Column.name_headers)
    derived: set[str] = field(default_factory=set)  # key columns the file leaves out, derived (Column.derived_from)


_NOTE_ROW = (
    r"^(注|注：|注:|说明|备注|填表人|填报人|审核人|联系人|联系电话|制表|制表人|负责人|单位负责人|统计负责人|数据来源"
    r"|填报日期|填表日期|报送日期|制表日期|填报时间|报送时间|填报单位|报送单位|分管领导|主管领导|经办人|统计人|审核"
    # footnotes: a source line, filling notes, numbered (1.本表…, 2、…) or starred (*为初步统计数) notes
    r"|资料来源|来源|填报说明|填表说明|附注|脚注|\d{1,2}[.、．]\D|[*※＊])"
)


# A signature label alone in its cell, its value in the next one (填报人 | 张三 | 联系电话 | 0755-…): a form's
# signature line typed across cells instead of 填报人：张三. Judged as a record, it was refused as an unknown code,
# a month '张三' and a number '0755-…', which named no reason.
_SIGN_LABEL = (
    r"^(填表人|填报人|审核人|联系人|联系电话|电话|手机|制表|制表人|负责人|单位负责人|统计负责人|填报日期|填表日期|报送日期"
    r"|制表日期|填报时间|报送时间|填报单位|报送单位|分管领导|主管领导|经办人|统计人|审核)\s*[:：]?$"
)


@dataclass
class HeaderMapping:
    renames: dict[str, str]  # file header -> contract column
    factors: dict[str, float]  # column -> multiply by (unit conversion)
    percent: set[str]  # columns under a (%) header
    extra: list[str]  # file headers outside the contract
    notes: list[str]
    by_name: set[str] = field(default_factory=set)  # code columns read from a column of names
    derived: set[str] = field(default_factory=set)  # key columns the file leaves out, derived (Column.derived_from)
    # code column -> the file's column of unit names beside it (城市代码 | 地市): an extra column, checked against it
    beside: dict[str, str] = field(default_factory=dict)


def summing_sheets(raw: RawFrame, source: Source | None = None) -> dict[int, str]:
    """The read sheets (by their place among the read ones: ROW_NUMBER // SHEET_ROW_BLOCK) that sum the workbook's
    other sheets, when other sheets are read beside them: by their name (`sources.TOTAL_SHEET_PATTERN`), or, given
    the ``source``, by their rows (`_sheets_summing_by_rows`: a quarter's sheet named Sheet4)."""
    read = [s["sheet"] for s in raw.sheets or [] if s.get("status") == "read"]
    summing = {k: n for k, n in enumerate(read) if re.search(TOTAL_SHEET_PATTERN, n)}
    if source is not None and len(read) - len(summing) >= 3:
        summing |= _sheets_summing_by_rows(raw, source, read, set(summing))
    return summing if len(summing) < len(read) else {}


def _sheets_summing_by_rows(raw: RawFrame, source: Source, read: list[str], named: set[int]) -> dict[int, str]:
    """Sheets whose every row a unit of the other sheets has is that unit's sum over them, figure by figure, and
    restates a period another sheet holds (a quarter's totals dated 2025-03 beside the 3月 sheet). Read as records
    under a name such as Sheet4 they loaded a quarter as a month, silently. The repeated period keeps a month that
    happens to equal the months before it (1, 2, 3 in one city's sheets) a month: its period is its own. Rows whose
    figures are not plain numbers are no evidence either way."""
    if source.partition_date is None:
        return {}
    headers: dict[str, str] = {}
    for col in raw.df.columns:
        if col.startswith("__") or col == ROW_NUMBER:
            continue
        try:
            m = match_header(col, source)
        except HeaderUnitError:
            continue
        if m is not None:
            headers.setdefault(m.column, col)
    region = next((c for c in source.key if c != source.partition_date and source.column(c).region_code), None)
    if region is not None and region not in headers:
        names = {normalise_header(h) for h in source.column(region).name_headers}
        headers[region] = next((c for c in raw.df.columns if normalise_header(c) in names), None)
    nums = [c.name for c in source.columns if c.dtype in ("int", "float") and c.name in headers]
    if region is None or headers.get(region) is None or source.partition_date not in headers or not nums:
        return {}
    df = raw.df.select(
        (pl.col(ROW_NUMBER) // SHEET_ROW_BLOCK).alias("__sheet"),
        pl.col(headers[region]).str.strip_chars().alias("__unit"),
        pl.col(headers[source.partition_date]).str.strip_chars().alias("__period"),
        *[
            pl.col(headers[c]).str.replace_all(",", "").str.strip_chars().cast(pl.Float64, strict=False).alias(c)
            for c in nums
        ],
    ).drop_nulls(["__unit", *nums])
    df = df.filter(~pl.col("__sheet").is_in(list(named)))
    found: dict[int, str] = {}
    for k, name in enumerate(read):
        if k in named:
            continue
        own, rest = df.filter(pl.col("__sheet") == k), df.filter(pl.col("__sheet") != k)
        sums = rest.group_by("__unit").agg(
            pl.len().alias("__n"), pl.col("__period").alias("__periods"), *[pl.col(c).sum() for c in nums]
        )
        joined = own.join(sums, on="__unit", how="inner", suffix="__sum")
        if joined.height == 0 or joined.height * 2 < own.height:
            continue
        same = pl.all_horizontal(
            [
                (pl.col(c) - pl.col(f"{c}__sum")).abs() <= 1e-6 * pl.max_horizontal(pl.lit(1.0), pl.col(c).abs())
                for c in nums
            ]
        )
        evidence = (
            (pl.col("__n") >= 2)
            & pl.any_horizontal([pl.col(c) != 0 for c in nums])
            & pl.col("__periods").list.contains(pl.col("__period"))
        )
        judged = joined.select(same.alias("same"), evidence.alias("evidence"))
        if judged["same"].all() and judged["evidence"].any():
            found[k] = name
    return found


DISTRICT = "__district"  # a district column's text (sources.DISTRICT_HEADER_PATTERN), read by `_district_rows`


def district_unit_column(source: Source) -> str | None:
    """The column whose unit a district column's rows are parts of: a source of units' figures (a city's month),
    whose rows a district's figures would be counted into (parts_add_up, a city-level column), else None."""
    return source.parts_add_up or next((c.name for c in source.columns if c.city_level), None)


def is_district_header(header: str) -> bool:
    """Whether a file header names a column of districts (sources.DISTRICT_HEADER_PATTERN: 区县, 县(市、区))."""
    return re.match(DISTRICT_HEADER_PATTERN, re.sub(r"\s", "", unicodedata.normalize("NFKC", header))) is not None


BESIDE = "__beside:"  # column prefix of the unit names a file gives beside a code column (HeaderMapping.beside)


def map_columns(raw: RawFrame, source: Source, file_name: str) -> Mapped:
    """Rename file headers to contract names; work out unit conversions (a unit alias, a unit in brackets,
    a 单位：元 line above the table); fail on missing required columns. Total and note rows are flagged here,
    while the file's extra columns (a 地区 name column saying 全省合计) are still present."""
    h = map_headers(raw, source, file_name)
    renames, extra, notes = h.renames, h.extra, h.notes
    text_cols = [col for col in raw.df.columns if not col.startswith("__")]
    # A total's label sits in a text, code or date column (城市 合计, 月份 合计) or an extra column (地区), never
    # in a number or yes/no column: only those are searched.
    label_cols = [
        col for col in text_cols if col not in renames or source.column(renames[col]).dtype in ("str", "date")
    ]
    # A column of districts beside the unit's (城市 | 区县): kept (as DISTRICT) for `_district_rows`, not dropped.
    # (only where rows are a unit's figures: a case or a training event in 海淀 is a record of its city all the same)
    district = [col for col in extra if is_district_header(col)] if district_unit_column(source) else []
    if len(district) == 1:
        extra = [col for col in extra if col != district[0]]
        notes = [n for n in notes if not n.startswith("ignored extra column")]
        if extra:
            notes.insert(0, f"ignored extra {noun_en(len(extra), 'column')}: " + ", ".join(extra))
        notes.append(f"'{district[0]}' read as the rows' districts (each row a district's figures, not its city's)")
    else:
        district = []
    df = (
        raw.df.with_columns(
            *[pl.col(header).cast(pl.Utf8).alias(BESIDE + code) for code, header in h.beside.items()],
            _total_label(raw.df, label_cols),
            _total_label(raw.df, label_cols, WHOLE_AREA_PATTERN).alias("__area_total"),
            _own_level_label(raw.df, label_cols),
            _note_row(raw.df, text_cols),
            _breakdown_label(raw.df, label_cols),
        )
        .rename(renames | {d: DISTRICT for d in district})
        .drop(extra)
    )
    summing = summing_sheets(raw, source)
    if summing:
        sheet = (pl.col(ROW_NUMBER) // SHEET_ROW_BLOCK).replace_strict(summing, default=None, return_dtype=pl.Utf8)
        df = df.with_columns(
            pl.coalesce(
                pl.format("total sheet: sheet '{}' sums the workbook's other sheets, its rows are no records", sheet),
                pl.col("__total"),
            ).alias("__total")
        )
    for c in source.columns:
        if c.name not in df.columns:
            df = df.with_columns(pl.lit(None, pl.Utf8).alias(c.name))
    return Mapped(df, notes, h.factors, h.percent, renames, h.by_name, h.derived)


def map_headers(raw: RawFrame, source: Source, file_name: str) -> HeaderMapping:
    """`map_columns`' reading of the header alone (what each file header is, units, missing columns), without
    touching the rows: planning needs only the header of the partition date."""
    renames: dict[str, str] = {}
    factors: dict[str, float] = {}
    percent: set[str] = set()
    extra: list[str] = []
    notes: list[str] = []
    _refuse_side_by_side(raw.df, source, file_name)
    for col in raw.df.columns:
        if col.startswith("__"):
            continue
        base_header = col.split("__dup")[0] if "__dup" in col else None
        try:
            m = match_header(col, source) if base_header is None else None
            if base_header is not None and match_header(base_header, source) is not None:
                target = match_header(base_header, source).column
                raise IngestError(file_name, f"column '{target}' appears twice (header '{base_header}' repeated)")
        except HeaderUnitError as e:
            raise IngestError(file_name, str(e)) from e
        if m is None:
            extra.append(col)
            continue
        target = m.column
        if target in renames.values():
            raise IngestError(file_name, f"column '{target}' appears twice (as '{col}' and another header)")
        renames[col] = target
        c = source.column(target)
        if m.percent:
            percent.add(target)
        line = full_unit(raw.unit_line, c.unit)
        where = "in a note below the table" if raw.unit_note else "above the table"
        family = next((f for f in UNIT_FAMILIES.values() if c.unit in f), ()) if c.unit else ()
        if line and line in family:
            if m.unit is None:
                factor = UNIT_SCALES[line] / UNIT_SCALES[c.unit]
                if factor != 1:
                    factors[target] = factor
                    notes.append(f"converted {target} from {line} (单位：{line} {where}) (x{factor:g})")
                continue
            if m.unit in family and m.unit != line:
                raise IngestError(
                    file_name,
                    f"unit conflict: header '{col}' says {m.unit} but the "
                    + ("note below the table" if raw.unit_note else "line above the table")
                    + f" says 单位：{line}",
                )
        if m.factor:
            factors[target] = m.factor
            notes.append(f"converted {target} from another unit (x{m.factor:g})")
    _refuse_counts_in_scale(raw, source, renames, file_name)
    present = set(renames.values())
    by_name: set[str] = set()
    for c in source.columns:
        if c.name in present or not c.name_headers:
            continue
        # No code column, but a column of the units' names (地市: 深圳市, 广州市): read as the codes they name.
        names = {normalise_header(h) for h in c.name_headers}
        header = next((col for col in extra if normalise_header(col.split("__dup")[0]) in names), None)
        if header is None and c.name == district_unit_column(source):
            # no city column, but a district column (区县: a table of one city's districts): its names are the units
            header = next((col for col in extra if is_district_header(col)), None)
        if header is not None:
            extra.remove(header)
            renames[header] = c.name
            by_name.add(c.name)
            present.add(c.name)
            notes.append(f"{c.name} read from the unit names in '{header}' (no code column)")
    # A column of names beside the code column (城市代码 | 地市: 440300 | 深圳市): not loaded, but each row's name is
    # checked against its code (validate: `code and name disagree`). Rows shifted against each other (one column
    # sorted or pasted without the other) loaded one city's figures under another's code, silently.
    beside: dict[str, str] = {}
    for c in source.columns:
        if c.name_headers and c.name in present and c.name not in by_name:
            names = {normalise_header(h) for h in c.name_headers}
            header = next((col for col in extra if normalise_header(col.split("__dup")[0]) in names), None)
            if header is not None:
                beside[c.name] = header
    derived = {
        c.name
        for c in source.columns
        if c.derived_from
        and c.name not in present
        and all(source.column(d).required <= (d in present) for d in c.derived_from)
    }
    for name in sorted(derived):
        notes.append(
            f"{name} derived from {', '.join(source.column(name).derived_from)} (the file has no "
            f"{source.column(name).aliases[0]} column)"
        )
    missing = [c for c in source.columns if c.required and c.name not in present | derived]
    if [c.name for c in missing] == [source.partition_date] == ["month"] and raw.title_span is not None:
        # A quarter's report (2025年第一季度, 1-3月, 上半年 in its title or file name) has no month column because its
        # figures are no one month's: "missing required column" sent the office to add a column it cannot fill.
        where, words = raw.title_span[3], raw.title_span[4]
        raise IngestError(
            file_name,
            f"no month column, and the {where} states several months ('{words}'): the figures are the period's "
            "total, not one month's (send each month's own figures: a 月份 column, or one file per month)",
        )
    if missing:
        expected = "; ".join(f"{c.name} (or {' / '.join(c.aliases[:2])})" if c.aliases else c.name for c in missing)
        raise IngestError(file_name, f"missing required {noun_en(len(missing), 'column')}: {expected}")
    if extra:
        notes.insert(0, f"ignored extra {noun_en(len(extra), 'column')}: " + ", ".join(extra))
    return HeaderMapping(renames, factors, percent, extra, notes, by_name, derived, beside)


def _refuse_counts_in_scale(raw: RawFrame, source: Source, renames: dict[str, str], file_name: str) -> None:
    """Refuse a table whose unit line states its counts in tens of thousands (单位：万笔、亿元; 单位：万件; 单位：万人 over
    参训人数): the contract's counts are whole numbers, and a figure in 万笔 (1.2) is no count of 笔. Before, the line
    was no unit line at all (or 万人 applied to no column): its counts loaded as 笔 (10,000 times too small) and,
    beside them, its 亿元 amounts as 万元, silently."""
    people = UNIT_FAMILIES["people"]
    own_people = any(c.unit in people for c in source.columns)
    # 万人 is a scale only where a column is kept in a people unit (population); over 参训人数 it is a count in 万
    scaled = [
        w
        for w in (raw.unit_line or "").split("、")
        if re.fullmatch(SCALED_COUNT_UNIT, w) or (w in people and UNIT_SCALES[w] != 1 and not own_people)
    ]
    counts = [
        col
        for col, target in renames.items()
        if (c := source.column(target)).dtype == "int" and c.unit is None and target not in source.key
    ]
    if scaled and counts:
        raise IngestError(
            file_name,
            f"the unit the table states gives counts in {scaled[0]} (单位：{raw.unit_line}): the counts ("
            + ", ".join(f"'{h}'" for h in counts)
            + ") are loaded as whole numbers, not in tens of thousands (send each count itself, e.g. 12500 not 1.25)",
        )


def _refuse_side_by_side(df: pl.DataFrame, source: Source, file_name: str) -> None:
    """Two tables side by side on the sheet (城市代码 … | empty columns | 城市代码 …: this year's beside last year's,
    or a second kind of pledge): refused naming both tables and the empty column band between them. Before, the
    refusal said "column 'city_code' appears twice", which did not tell the office that it had sent two tables.
    Which of the two is the file's table cannot be told from the header (the right one may be the same figures for
    another period), so neither is guessed at."""
    cols = [c for c in df.columns if not c.startswith("__") or c.startswith("__blank")]
    band = [j for j, c in enumerate(cols) if c.startswith("__blank")]
    for j, c in enumerate(cols):
        if "__dup" not in c or _safe_match(c.split("__dup")[0], source) is None:
            continue
        first = cols.index(c.split("__dup")[0])
        gap = [b for b in band if first < b < j]
        # a run of blank-header columns between the two headers, with named columns on each side of it
        runs = [b for b in gap if b - 1 not in gap]
        if not runs:
            return
        start = runs[-1]
        end = max(b for b in gap if b >= start)
        named = [k for k, h in enumerate(cols) if not h.startswith("__blank")]
        letter = [get_column_letter(k + 1) for k in (named[0], start - 1, start, end, end + 1, named[-1])]
        raise IngestError(
            file_name,
            f"two tables side by side: columns {letter[0]}–{letter[1]} and {letter[4]}–{letter[5]}, with the empty "
            f"column band {letter[2]}–{letter[3]} between them, each with a '{c.split('__dup')[0]}' column; which "
            "one is this file's table cannot be told (send each table in its own file or sheet)",
        )


def _row_label(df: pl.DataFrame, cols: list[str], chars: tuple[str, ...], pattern: str, message: str) -> pl.Expr:
    """``message`` formatted with the label cell (whitespace-free, matching ``pattern``) of each row that has one in
    ``cols``, else null. Only the columns holding one of ``chars`` at all are searched cell by cell: the one reading
    of a label cell for total rows (合计), whole-area rows (全省) and own-level rows (省本级)."""
    hits = [
        c
        for c in cols
        if df.schema[c] == pl.Utf8
        and df.select(pl.any_horizontal([pl.col(c).str.contains(t, literal=True) for t in chars]).any()).item()
    ]
    if not hits:
        return pl.lit(None, pl.Utf8)
    label = pl.coalesce(
        [pl.when(pl.col(c).str.replace_all(r"\s", "").str.contains(pattern)).then(pl.col(c)) for c in hits]
    )
    return pl.format(message, label.str.strip_chars())


def _total_label(df: pl.DataFrame, cols: list[str], pattern: str = TOTAL_LABEL_PATTERN) -> pl.Expr:
    """'total row ...' for a row with a 合计/小计/总计 label in any cell, else null."""
    return _row_label(
        df, cols, TOTAL_LABEL_CHARS, pattern, "total row ('{}'): a sum of other rows, not a record"
    ).alias("__total")


def _own_level_label(df: pl.DataFrame, cols: list[str]) -> pl.Expr:
    """'own-level row ...' for a row labelled 省本级 / 市本级 / 省直 (sources.OWN_LEVEL_PATTERN), else null."""
    return _row_label(
        df,
        cols,
        OWN_LEVEL_CHARS,
        OWN_LEVEL_PATTERN,
        "own-level row ('{}'): the figures of a province's or city's own departments (本级), not a city's record",
    ).alias("__own_level")


# The label in front of a unit's name in a breakdown row's name cell (其中：昆山市).
BREAKDOWN_PREFIX = r"^[(\[【]?其中[)\]】]?[:,、]?"
# A label opening an "of which" breakdown under the row above it (其中：昆山市, （其中）, 其中:): the rows of such a
# block are parts of the figures the row above states, never records of their own.
BREAKDOWN_LABEL = r"^[(（\[【]?\s*其中\s*(?:[)）\]】:：,，、]|$|[^\s\d])"


# A name cell indented as a breakdown is (全角空格 or two spaces or a tab before the name; an Excel indent level is
# read so by readers._read_workbook): under a city's row, its districts shown only by their indent.
INDENT = r"^(?:\x{3000}|\t| {2})"  # (Rust regex and RE2 both read \x{3000})
INDENTED = "indented "  # the label breakdown_rows knows an indented row by (indented 昆山市)


def _breakdown_label(df: pl.DataFrame, cols: list[str]) -> pl.Expr:
    """The 其中 label (BREAKDOWN_LABEL) of a row whose text, code, date or extra cell opens with one, else null; else
    "indented <name>" for a row whose text cell is indented (INDENT) in a column where other cells are not (an
    indent is relative: a column indented throughout is a style). breakdown_rows judges whether an indented row is
    a breakdown: only unambiguous ones (a county inside the city row right above it) are."""
    strings = [c for c in cols if df.schema[c] == pl.Utf8]
    hits = [c for c in strings if df.select(pl.col(c).str.contains("其中", literal=True).any()).item()]
    indented = [
        c
        for c in strings
        if df.select(
            pl.col(c).str.contains(INDENT).any()
            & (pl.col(c).str.strip_chars().str.len_chars().gt(0) & ~pl.col(c).str.contains(INDENT)).any()
        ).item()
    ]
    if not hits and not indented:
        return pl.lit(None, pl.Utf8).alias("__breakdown")

    def norm(c: str) -> pl.Expr:
        return pl.col(c).str.normalize("NFKC").str.replace_all(INVISIBLE_CHARS, "").str.strip_chars()

    return pl.coalesce(
        [pl.when(norm(c).str.contains(BREAKDOWN_LABEL)).then(norm(c)) for c in hits]
        + [pl.when(pl.col(c).str.contains(INDENT)).then(pl.lit(INDENTED) + norm(c)) for c in indented]
    ).alias("__breakdown")


def has_indented_text(df: pl.DataFrame) -> bool:
    """Whether any text cell of ``df`` is indented (INDENT): a breakdown perhaps, judged with the rows around it."""
    cols = [c for c in df.columns if not c.startswith("__") and df.schema[c] == pl.Utf8]
    return bool(cols) and df.select(pl.any_horizontal(pl.col(c).str.contains(INDENT) for c in cols).any()).item()


def has_breakdown_label(df: pl.DataFrame) -> bool:
    """Whether any text cell of ``df`` opens with a 其中 label (BREAKDOWN_LABEL)."""
    cols = [c for c in df.columns if not c.startswith("__") and df.schema[c] == pl.Utf8]
    return bool(cols) and df.select(_breakdown_label(df, cols).is_not_null().any()).item()


def _note_row(df: pl.DataFrame, cols: list[str]) -> pl.Expr:
    """A line of notes under the table (填表人：… / 注：…): one filled cell holding a note, or only cells that
    each hold a note label (填表人：张三 | 审核人：李四 | 联系电话：…, the signature line of a form), not a record. Only
    files with such a text in their first columns pay for the row-wise test."""
    if not any(df.schema[c] == pl.Utf8 and df.select(pl.col(c).str.contains(_NOTE_ROW).any()).item() for c in cols[:2]):
        return pl.lit(None, pl.Utf8).alias("__note")
    filled_cells = [pl.col(c).is_not_null() & (pl.col(c).str.strip_chars() != "") for c in cols]
    filled = pl.sum_horizontal([f.cast(pl.Int32) for f in filled_cells])
    labels = pl.sum_horizontal(
        [
            (f & pl.col(c).str.strip_chars().str.contains(_NOTE_ROW + r"\s*[:：(（]")).cast(pl.Int32)
            for c, f in zip(cols, filled_cells, strict=True)
        ]
    )
    alone = pl.sum_horizontal(
        [(f & pl.col(c).str.strip_chars().str.contains(_SIGN_LABEL)).cast(pl.Int32) for c, f in zip(cols, filled_cells)]
    )
    first = pl.coalesce([pl.when(pl.col(c).str.strip_chars() != "").then(pl.col(c).str.strip_chars()) for c in cols])
    signed_across = first.str.contains(_SIGN_LABEL) & (alone * 2 >= filled)  # label | value | label | value
    return (
        pl.when((((filled == 1) | (labels == filled)) & first.str.contains(_NOTE_ROW)) | signed_across)
        .then(pl.format("note below the table, not a record: '{}'", first.str.slice(0, 40)))
        .otherwise(None)
        .alias("__note")
    )


# A month cell without its year: 12月, 3月份, or the month's number alone (3, 03; 3.0 from a workbook's number cell) under
# the month column, as a table of one year's months keeps it when the title says the year (2025年…统计表). Before, the
# number alone read "not a date" though the file said which month it was; 13 or 0 stays refused (2025年13月).
YEARLESS_MONTH = r"^(\d{1,2})\s*(?:月份?|\.0+)?$"


def with_stated_year(txt: pl.Expr, year: int) -> tuple[pl.Expr, pl.Expr]:
    """``txt`` with its month cells written without a year (`YEARLESS_MONTH`) as that month of ``year`` (2025年3月),
    and whether each was one. One definition for the load (validate) and for telling the file's data year (load)."""
    month = txt.str.normalize("NFKC").str.strip_chars().str.extract(YEARLESS_MONTH, 1)
    # only a month there is: 13 kept as written, so its refusal names the cell the office typed, not "2025年13月"
    bare = month.cast(pl.Int32, strict=False).is_between(1, 12)
    return pl.when(bare).then(pl.lit(f"{year}年") + month + pl.lit("月")).otherwise(txt), bare


def _clean_text(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Utf8).str.strip_chars().replace("", None)


_TXT = "__txt:"  # column prefix of the cleaned text while typed values and text sit side by side


def _txt(name: str) -> pl.Expr:
    return pl.col(_TXT + name)


# Every date spelling offices use, as year / month / day groups (full-width digits are NFKC-normalised first):
# 2025-03-05, 2025/3/5, 2025.3.5, 2025年3月5日, 2025年03月05日, 20250305, with or without a time after it.
_YMD = r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
_YMD_COMPACT = r"^(\d{4})(\d{2})(\d{2})$"
# Months: 2025-03, 2025/3, 2025.3, 2025年3月, 202503 (month column only).
_YM = r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?(?:份)?$"
_YM_COMPACT = r"^(\d{4})(\d{2})$"
# Excel serial day numbers (days since 1899-12-30) for dates 1954-2119: a date cell formatted as a number.
_SERIAL = r"^\d{5}(?:\.\d+)?$"
DATE_SPELLINGS = (
    "2025-03-05",
    "2025/3/5",
    "2025.3.5",
    "2025年3月5日",
    "2025年03月05日",
    "20250305",
    "2025-03-05 00:00:00",
    "Excel serial 45721",
)
# A month in English, as Excel shows a date under its built-in "mmm-yy" format (Mar-25) and writes it to a CSV
# ("Save as" writes cells as shown), or typed so (Mar 2025, March-2025, Sept. 2025). Before, every such month was
# refused "not a date" and a clerk's whole CSV failed. A two-digit year is read as Excel reads its own text back
# (00-29: 20yy, 30-99: 19yy), so Mar-25 is 2025-03, the month Excel showed. Day-first 25-Mar (d-mmm) names a day
# without its year and stays refused. Matched on the lower-cased text.
_EN_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_EN_MONTH = (
    r"^(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t|tember)?|oct(?:ober)?"
    r"|nov(?:ember)?|dec(?:ember)?)\.?\s*[-/ ']?\s*(\d{2}|\d{4})$"
)
MONTH_SPELLINGS = (
    "2025-03",
    "2025/3",
    "2025.3",
    "2025年3月",
    "2025年03月",
    "202503",
    "Mar-25",
    "Mar 2025",
    "March 2025",
    "a date in the month",
)


def _english_month(t: pl.Expr) -> pl.Expr:
    """The first day of the month ``t`` spells in English (`_EN_MONTH`), else null."""
    low = t.str.to_lowercase()
    month = (
        low.str.extract(_EN_MONTH, 1)
        .str.slice(0, 3)
        .replace_strict({k: str(v) for k, v in _EN_MONTHS.items()}, default=None, return_dtype=pl.Utf8)
    )
    year = low.str.extract(_EN_MONTH, 2)
    two = year.str.len_chars() == 2
    century = pl.when(year.cast(pl.Int32, strict=False) < 30).then(pl.lit("20")).otherwise(pl.lit("19"))
    return _ymd(pl.when(two).then(century + year).otherwise(year), month, pl.lit("1"))


def _ymd(y: pl.Expr, m: pl.Expr, d: pl.Expr) -> pl.Expr:
    return pl.concat_str([y, pl.lit("-"), m.str.zfill(2), pl.lit("-"), d.str.zfill(2)]).str.to_date(
        "%Y-%m-%d", strict=False
    )


def _parse_date(c: Column, txt: pl.Expr, *, fast: bool) -> pl.Expr:
    if fast:
        # The whole column is in the first format (checked by the caller): one parse instead of several.
        return txt.str.to_date("%Y-%m-%d", strict=False)
    t = txt.str.normalize("NFKC").str.strip_chars()
    candidates = [
        _ymd(t.str.extract(_YMD, 1), t.str.extract(_YMD, 2), t.str.extract(_YMD, 3)),
        _ymd(t.str.extract(_YMD_COMPACT, 1), t.str.extract(_YMD_COMPACT, 2), t.str.extract(_YMD_COMPACT, 3)),
    ]
    if c.name == "month":
        candidates += [
            _ymd(t.str.extract(_YM, 1), t.str.extract(_YM, 2), pl.lit("1")),
            _ymd(t.str.extract(_YM_COMPACT, 1), t.str.extract(_YM_COMPACT, 2), pl.lit("1")),
            _english_month(t),
        ]
    serial = pl.when(t.str.contains(_SERIAL)).then(t.cast(pl.Float64, strict=False))
    candidates.append(
        pl.when(serial.is_between(20000, 80000)).then(
            pl.lit(date(1899, 12, 30)) + pl.duration(days=serial.floor().cast(pl.Int64, strict=False))
        )
    )
    value = pl.coalesce(candidates)
    if c.name == "month":
        # A monthly report's period written as its first and last day (2025-03-01至2025-03-31): that month. A range
        # over part of a month or several months is none (refused by `_parse_checks`, saying which).
        start, end = _date_range(t)
        whole = (start == start.dt.month_start()) & (end == start.dt.month_end())
        value = pl.coalesce(value.dt.month_start(), pl.when(whole).then(start))
    return value


# A period written as its first and last day in one cell (2025-03-01至2025-03-31, 2025.3.1-2025.3.31, 2025年3月1日至
# 3月31日, 2025年3月1日~31日): the end may leave out the year, or the year and the month, it shares with the start.
DATE_RANGE = (
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*(?:至|到|~|～|—{1,2}|–|-{1,2})\s*"
    r"(?:(\d{4})\s*[-/.年]\s*)?(?:(\d{1,2})\s*[-/.月]\s*)?(\d{1,2})\s*日?$"
)


def _date_range(t: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(first day, last day) of a cell spelling a period as two dates (`DATE_RANGE`), else nulls."""
    g = [t.str.extract(DATE_RANGE, i) for i in range(1, 7)]
    start = _ymd(g[0], g[1], g[2])
    end = _ymd(pl.coalesce(g[3], g[0]), pl.coalesce(g[4], g[1]), g[5])
    return start, end


# A number as offices write it: a sign, digits (thousands grouped in threes by , or ，, or by one space — the
# no-break, thin, narrow no-break and ideographic spaces are that space after NFKC, `_normalise_text` — or not
# grouped), a decimal part, an exponent. One separator throughout, every group after the first of three digits.
# Anything else is no number: Polars' cast alone reads NaN, inf and 1e400 (infinity), and dropping every
# separator read 12,34 or 12 34 (a decimal comma, a mistyped grouping, two numbers) as 1234 — wrong values, loaded
# silently.
NUMBER_TEXT = r"^[+-]?(?:(?:\d{1,3}(?:[,，]\d{3})+|\d{1,3}(?: \d{3})+|\d+)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"
# A number cell saying "no figure": dashes (-, --, —, ——, full-width －, ～), a slash, 无 / 暂无 / 无数据 / 不适用.
NO_VALUE_TEXT = r"^(?:[-‐‑‒–—―－~～]{1,3}|[/／\\]|无|暂无|无数据|不适用)$"
# Accounting style: a negative number in brackets, (1,200) for -1200. Read as the negative it is, so a column that
# cannot be negative refuses it saying so (`_rules`), instead of loading 1200 or calling it no number.
ACCOUNTING_NEGATIVE = r"^\((.*)\)$"

# A number in Excel's scientific notation (what it writes for long numbers in a General column).
SCIENTIFIC_TEXT = r"^[+-]?\d+(?:\.\d+)?[eE][+-]?\d+$"


def _number(txt: pl.Expr) -> pl.Expr:
    """The number a cell's text spells (null when it spells none, or one too large to be finite)."""
    signed = txt.str.replace(ACCOUNTING_NEGATIVE, "-${1}")
    num = pl.when(signed.str.contains(NUMBER_TEXT)).then(
        signed.str.replace_all(r"[,， ]", "").cast(pl.Float64, strict=False)
    )
    return pl.when(num.is_finite()).then(num)


def _parse(c: Column, factor: float | None, txt: pl.Expr, *, fast: bool = False) -> pl.Expr:
    """The typed value of one column, from its cleaned text (null where the text cannot be read)."""
    if c.dtype == "str":
        if c.allowed:
            # the word, else the word without a trailing 案件 / 案 / 类 (专利侵权纠纷案件, 假冒专利案, 商标类)
            words = enum_synonyms(c.allowed)
            bare = txt.str.replace(r"(?:类)?(?:案件|案)$|类$", "")
            value = txt.replace_strict(words, default=bare.replace_strict(words, default=txt))
        else:
            value = txt
        if c.name in ("city_code", "region_code", "province_code", "parent_code"):
            # Excel turns codes into numbers ("320500.0"); codes are text of 6 digits.
            value = txt.str.replace(r"\.0+$", "")
        if c.region_code:
            # The statistics bureau's 12-digit division code (统计用区划代码) of a county or larger unit is its 6-digit
            # code followed by six zeros (township and village parts): 440300000000 is 440300.
            value = value.str.replace(r"^(\d{6})000000$", "${1}")
        return value
    if c.dtype in ("int", "float"):
        num = _number(txt)
        if factor:
            num = num * factor
        return num.round(0).cast(pl.Int64, strict=False) if c.dtype == "int" else num
    if c.dtype == "date":
        return _parse_date(c, txt, fast=fast)
    if c.dtype == "bool":
        # Without lower-casing when every cell is one of the usual spellings (checked by the caller).
        low = txt if fast else txt.str.to_lowercase()
        true, false = (_TRUE_CASED, _FALSE_CASED) if fast else (_TRUE, _FALSE)
        return pl.when(low.is_in(true)).then(True).when(low.is_in(false) | low.is_null()).then(False).otherwise(None)
    raise ValueError(c.dtype)


Check = tuple[pl.Expr, pl.Expr]  # (row is bad, reason text); the text is only computed for bad rows


# A formula a workbook kept without its result (a program wrote =C2*2 and nothing calculated it; in a CSV the
# formula's text): in any typed column (an amount, a month, a yes/no) the office's fix is the same, to save the
# result, so every typed column tells it apart from a value typed wrong.
_NEVER_CALCULATED = (
    "a formula never calculated in {}: '{}' has no saved result (open and save the file in Excel or WPS so the result "
    "is stored, or paste values)"
)


def _unread_checks(
    c: Column, unread: pl.Expr, txt: pl.Expr, generic: str, kinds: list[tuple[pl.Expr, str]]
) -> list[Check]:
    """The reasons of a cell that could not be read as its column's type: each kind's own (a formula never
    calculated, a per cent, a quarter), and the ``generic`` one ("not a number") only where no kind holds, so a
    row never gets both. One definition for every typed column (before, numbers and months each had a copy, and a
    month cell's formula read "not a date"). Templates take the column and the cell."""
    cell = txt.str.slice(0, 40)
    kinds = [(txt.str.starts_with("="), _NEVER_CALCULATED), *kinds]
    other = ~pl.any_horizontal([cond.fill_null(False) for cond, _ in kinds])
    return [(unread & other, pl.format(generic, pl.lit(c.name), cell))] + [
        (unread & cond, pl.format(text, pl.lit(c.name), cell)) for cond, text in kinds
    ]


def _parse_checks(c: Column, factor: float | None, value: pl.Expr, txt: pl.Expr) -> list[Check]:
    unread = txt.is_not_null() & value.is_null()
    if c.dtype in ("int", "float"):
        # A per cent where an amount or count belongs has its own reason rather than "not a number": 12.5% is a
        # share, no 万元 figure can be read from it. Share columns never get here with a % (`_shares` reads them).
        if c.dtype == "int":
            # the unrounded number, as the reason shows it
            num = _number(txt)
            if factor:
                num = num * factor
            unread = txt.is_not_null() & num.is_null()
        percent = (
            txt.str.contains(r"^[^=]*\d\s*%$"),
            "a percentage in {}: '{}' where an amount or count is expected (write the figure itself, not a share)",
        )
        checks = _unread_checks(c, unread, txt, "not a number in {}: '{}'", [percent])
        if c.dtype == "int":
            frac = num.is_not_null() & ((num - num.round(0)).abs() > 1e-9)
            checks.append((frac, pl.format("not a whole number in {}: {}", pl.lit(c.name), num)))
        return checks
    if c.dtype == "date":
        kinds: list[tuple[pl.Expr, str]] = []
        if c.name == "month":
            # 2025年1-3月, 2025年第一季度, 上半年, 1-3月累计: a period of several months, not a month
            start, end = _date_range(txt.str.normalize("NFKC").str.strip_chars())
            ranged = start.is_not_null() & end.is_not_null()
            several = txt.str.contains(SEVERAL_MONTHS_PATTERN) | (
                ranged & (start.dt.month_start() != end.dt.month_start())
            )
            # 2025-13, 2025年13月, 13 under a title stating the year: a month number no month has (typed for 12, or
            # a day) is named as such, not as an unreadable date.
            t = txt.str.normalize("NFKC").str.strip_chars()
            number = pl.coalesce(
                t.str.extract(_YM, 2), t.str.extract(_YM_COMPACT, 2), t.str.extract(YEARLESS_MONTH, 1)
            ).cast(pl.Int32, strict=False)
            kinds = [
                (
                    number.is_not_null() & ~number.is_between(1, 12),
                    "not a date in {}: '{}' (no such month: months run from 1 to 12)",
                ),
                (
                    ranged & ~several,
                    "part of a month in {}: '{}' covers some of the month's days, not the whole month (send the "
                    "month's own figures)",
                ),
                (
                    several,
                    "several months in {}: '{}' is a quarter, half year or year to date, not one month (send each "
                    "month's own figures)",
                ),
            ]
        return _unread_checks(c, unread, txt, "not a date in {}: '{}'", kinds)
    if c.dtype == "bool":
        # the value is null exactly when the lower-cased text is neither a yes nor a no spelling
        return _unread_checks(c, unread, txt, "not a yes/no value in {}: '{}'", [])
    return []


def _rules(
    c: Column, value: pl.Expr, raw_txt: pl.Expr, valid_codes: list[str] | None, *, present: pl.Expr | None = None
) -> list[Check]:
    r: list[Check] = []
    if c.required:
        missing = raw_txt.is_null() if present is None else ~present
        r.append((missing, pl.lit(f"missing value in {c.name}")))
    if c.dtype == "str":
        if c.max_length:
            r.append(
                (
                    raw_txt.str.len_chars() > c.max_length,
                    pl.format(
                        "text too long in {}: {} characters (max {})",
                        pl.lit(c.name),
                        raw_txt.str.len_chars(),
                        pl.lit(c.max_length),
                    ),
                )
            )
        if c.identifier or c.name.endswith("_code"):
            # Excel writes a long number in a General column as 2.02211E+11: the digits are lost, the text is no
            # identifier any more (a wrong key, silently, if loaded).
            r.append(
                (
                    raw_txt.str.contains(SCIENTIFIC_TEXT),
                    pl.format(
                        "number in scientific notation in {}: '{}' (Excel dropped its digits: format the column as "
                        "text and send the file again)",
                        pl.lit(c.name),
                        raw_txt.str.slice(0, 40),
                    ),
                )
            )
        r.append(
            (
                raw_txt.str.contains(_FORMULA_START)
                # a minus starts a formula (Excel allows spaces in one: "-1 +cmd|...") unless the cell is a
                # plain negative number or a dash standing for "none"
                | (raw_txt.str.starts_with("-") & ~raw_txt.str.contains(r"^-[0-9.,]*%?$")),
                pl.format(
                    "formula-like text in {} (possible spreadsheet injection): '{}'",
                    pl.lit(c.name),
                    raw_txt.str.slice(0, 40),
                ),
            )
        )
        if c.allowed:
            r.append(
                (
                    value.is_not_null() & ~value.is_in(c.allowed),
                    pl.format(
                        "unknown {} '{}' (allowed: {})",
                        pl.lit(c.name),
                        value.str.slice(0, 40),
                        pl.lit(", ".join(c.allowed)),
                    ),
                )
            )
        if c.region_code and valid_codes is not None:
            # valid_codes: the distinct codes of this column that are valid (see _known_codes)
            r.append(
                (
                    value.is_not_null() & ~value.is_in(valid_codes),
                    pl.format("unknown region code in {}: '{}'", pl.lit(c.name), value.str.slice(0, 20)),
                )
            )
    if c.dtype in ("int", "float"):
        if c.min_value is not None:
            label = "negative value" if c.min_value == 0 else "value below minimum"
            below = value < c.min_value
            if c.min_value >= 0:
                # (1,200) where no negative is valid: the office meant a negative, or wrote a positive in an
                # accounting format; either way the cell is refused for what it is, not as "-1200.0 (min 0)".
                bracketed = raw_txt.str.contains(ACCOUNTING_NEGATIVE)
                r.append(
                    (
                        below & bracketed,
                        pl.format(
                            "negative amount in parentheses in {}: '{}' (accounting style for {}: {} cannot be "
                            "negative)",
                            pl.lit(c.name),
                            raw_txt.str.slice(0, 40),
                            value,
                            pl.lit(c.name),
                        ),
                    )
                )
                below = below & ~bracketed
            r.append(
                (
                    below,
                    pl.format("{} in {}: {} (min {})", pl.lit(label), pl.lit(c.name), value, pl.lit(c.min_value)),
                )
            )
        if c.max_value is not None:
            r.append(
                (
                    value > c.max_value,
                    pl.format("absurd value in {}: {} (max {})", pl.lit(c.name), value, pl.lit(c.max_value)),
                )
            )
    return r


def _cross_field_rules(source: Source) -> list[Check]:
    cols = {c.name for c in source.columns}
    r: list[Check] = []
    if {"application_date", "grant_date"} <= cols:
        r.append((pl.col("grant_date") < pl.col("application_date"), pl.lit("grant_date before application_date")))
    if {"grant_date", "lapse_date"} <= cols:
        r.append((pl.col("lapse_date") < pl.col("grant_date"), pl.lit("lapse_date before grant_date")))
    if {"filed_date", "closed_date"} <= cols:
        r.append((pl.col("closed_date") < pl.col("filed_date"), pl.lit("closed_date before filed_date")))
    if {"first_time_borrowers", "enterprises_served"} <= cols:
        r.append(
            (
                pl.col("first_time_borrowers") > pl.col("enterprises_served"),
                pl.lit("first_time_borrowers exceed enterprises_served"),
            )
        )
    if {"patent_type", "kind_code"} <= cols:
        kind_ok = (
            ((pl.col("patent_type") == "invention") & pl.col("kind_code").is_in(["B", "C"]))
            | ((pl.col("patent_type") == "utility_model") & pl.col("kind_code").is_in(["U", "Y"]))
            | ((pl.col("patent_type") == "design") & pl.col("kind_code").is_in(["S", "D"]))
        )
        r.append(
            (
                pl.col("patent_type").is_not_null() & pl.col("kind_code").is_not_null() & ~kind_ok,
                pl.format("kind code {} does not match patent type {}", pl.col("kind_code"), pl.col("patent_type")),
            )
        )
    if {"cycle_first_year", "cycle_last_year"} <= cols:
        r.append(
            (pl.col("cycle_last_year") < pl.col("cycle_first_year"), pl.lit("cycle_last_year before cycle_first_year"))
        )
    if {"evaluated_on", "site_visit_date"} <= cols:
        r.append((pl.col("site_visit_date") > pl.col("evaluated_on"), pl.lit("site_visit_date after evaluated_on")))
    if {"baseline_year", "target_year"} <= cols:
        r.append((pl.col("target_year") <= pl.col("baseline_year"), pl.lit("target_year not after baseline_year")))
    return r


_IDENT_OPEN = r"[\[(【〔［（]"
_IDENT_CLOSE = r"[\])】〕］）]"


# A cell written as Excel's text formula ="...", with no quote inside.
_EXCEL_TEXT_FORMULA = r'^="([^"]*)"$'


def _normalise_text(c: Column, txt: pl.Expr, series: pl.Series) -> pl.Expr:
    """Full-width to half-width for every column that is not free text (codes, numbers, dates, enums); for
    identifiers also one bracket style (〔2025〕 for [2025], 【2025】, (2025)) and no spaces, so keys compare
    equal however the number was typed. Only columns that hold such characters pay for it."""
    free_text = c.dtype == "str" and not (c.allowed or c.region_code or c.identifier or c.name.endswith("_code"))
    if free_text:
        return txt
    if series.str.starts_with('="').any():
        # ="440300": the text formula exports write so that Excel keeps a code's leading zeros; its value is the
        # text inside the quotes. (Free text keeps it as written, and the formula rule refuses it.)
        txt = txt.str.replace(_EXCEL_TEXT_FORMULA, "${1}")
        series = series.str.replace(_EXCEL_TEXT_FORMULA, "${1}")
    pattern = r"[^\x00-\x7F]|\s|[\[\]()]|^\s*'" if c.identifier else r"[^\x00-\x7F]|^\s*'"
    if not series.str.contains(pattern).any():
        return txt
    out = txt.str.normalize("NFKC").str.replace_all(INVISIBLE_CHARS, "")
    # A leading apostrophe is Excel's "keep as text" mark ('440300, '0012): exports and copied cells carry it into
    # the value, where it made a code unknown, a number no number and an identifier a new key.
    out = out.str.replace(r"^\s*'", "")
    if c.dtype in ("int", "float"):
        # Spellings of a number that NFKC leaves: the minus sign U+2212 (Word, web pages) is a minus, so a negative
        # amount is refused as negative rather than as no number; ¥ before an amount (￥ is ¥ after NFKC) names the
        # currency its header's unit already gives; 2024年 in a year column is the year.
        out = out.str.replace_all("\u2212", "-")
        # 减123 (a decrease, as a statement's 增减 writes it) is the figure -123: read as one, a column that cannot be
        # negative refuses it as negative, where "not a number" did not say what the office wrote.
        out = out.str.replace(r"^\s*减\s*(\d)", "-${1}")
        if c.unit in UNIT_FAMILIES["money"]:
            out = out.str.replace(r"^([+-]?\(?)\s*¥\s*", "${1}")
        if c.name == "year" or c.name.endswith("_year"):
            out = out.str.replace(r"\s*年度?$", "")  # 2024年, 2024年度: the year
    if c.identifier:
        out = out.str.replace_all(r"\s+", "").str.replace_all(_IDENT_OPEN, "〔").str.replace_all(_IDENT_CLOSE, "〕")
    return out.str.strip_chars().replace("", None)


def sheet_provinces(sheets: list[dict] | None, lookup: dict) -> dict[int, tuple[str, str]]:
    """The read sheets named for a province (吉林省, 广西壮族自治区, 广西), by their place among the read ones
    (ROW_NUMBER // SHEET_ROW_BLOCK): {ordinal: (the province's two digits, the sheet's name)}. A province's office
    sends its cities one sheet per province as readily as one file: such a sheet says which province its rows lie
    in, as a file's other rows do. A name that is no province's alone (吉林: the province or 吉林市) tells nothing."""
    read = [str(s["sheet"]) for s in sheets or [] if s.get("status") == "read"]
    ambiguous = getattr(lookup, "province_or_unit", {})
    out: dict[int, tuple[str, str]] = {}
    for i, sheet in enumerate(read):
        key = re.sub(r"\s+", "", unicodedata.normalize("NFKC", sheet))
        code = lookup.get(key) if key not in ambiguous else None
        if code and code.endswith("0000") and code != "100000":
            out[i] = (code[:2], sheet)
    return out


def _names_in_context(
    work: pl.DataFrame, name: str, lookup: dict, sheet_homes: dict[int, tuple[str, str]] | None = None
) -> tuple[pl.DataFrame, list[str]]:
    """What the file's other rows tell of a name that alone names a province or a unit (吉林: 吉林省 or 吉林市; 海南:
    海南省 or 海南州), or a unit elsewhere and a district of the file's province (中山 in a table of Dalian's
    districts is 中山区, not 中山市 in Guangdong). Read alone, such names loaded as the unit, silently: a province's
    total as a city's record, a district's figures as another province's city. The file's province is the one
    every other named row lies in; a name it does not decide is refused (``__both:`` / ``__elsewhere:``), never
    guessed. A district's own name that is no unit is kept for its reason (``__area:``). ``sheet_homes``
    (`sheet_provinces`): a sheet named for a province is its rows' province, whatever the workbook's other sheets
    hold (吉林 on sheet 吉林省 among 长春 and 四平 is 吉林市; before, a workbook of 吉林省 and 辽宁省 sheets had no one
    province and 吉林 was refused)."""
    both_of = getattr(lookup, "province_or_unit", {})
    stems = getattr(lookup, "area_stems", {})
    areas = getattr(lookup, "areas", {})
    notes: list[str] = []
    conflicted = pl.col("__key").is_in(pl.Series(list(both_of), dtype=pl.Utf8).implode())
    # The file's province: the one its named rows lie in, but for rows named by a district's name of that province
    # (the rows in question; a row alone in another province is no evidence against it).
    named = (
        work.filter(pl.col("__code").is_not_null() & ~conflicted & ~pl.col("__code").str.ends_with("0000"))
        .select(pl.col("__code").str.slice(0, 2).alias("p"), pl.col("__key").alias("k"))
        .rows()
    )
    # A row named by a district of one province only (海淀, 东城 in a table of Beijing's districts) tells the
    # province as well: without it, 朝阳 among them loaded as 朝阳市 of Liaoning, silently.
    unnamed = work.filter(pl.col("__code").is_null() & ~conflicted).get_column("__key").drop_nulls().to_list()
    for k in unnamed:
        if k in lookup:
            continue
        where = [p for p, names in stems.items() if k in names]
        if len(where) == 1:
            named.append((where[0], k))
    homes = []
    for p in sorted({p for p, _ in named}):
        inside = sum(1 for q, _ in named if q == p)
        outside = [k for q, k in named if q != p]
        if len(outside) <= inside and all(k in stems.get(p, ()) for k in outside):
            homes.append(p)
    home = homes[0] if len(homes) == 1 else None
    # Each row's province: its sheet's when the sheet is named for one, else the file's.
    sheet_homes = sheet_homes or {}
    ordinal = pl.col(ROW_NUMBER) // SHEET_ROW_BLOCK
    work = work.with_columns(
        ordinal.replace_strict(
            list(sheet_homes), [p for p, _ in sheet_homes.values()], default=pl.lit(home, dtype=pl.Utf8)
        ).alias("__home")
        if sheet_homes
        else pl.lit(home, dtype=pl.Utf8).alias("__home")
    )
    sheet_of = {p: sheet for p, sheet in sheet_homes.values()}
    present = [p for p in work.get_column("__home").drop_nulls().unique().sort().to_list()]
    # A name several units bear (朝阳: 朝阳市 in Liaoning, the programme unit 朝阳区 in Beijing) is the one in the row's
    # province, when exactly one lies there; else it stays refused as naming several.
    bearers = getattr(lookup, "bearers", {})
    for p in present:
        chosen = {k: inside[0] for k, v in bearers.items() if len(inside := [c for c in v if c[:2] == p]) == 1}
        if not chosen:
            continue
        several = (
            pl.col("__code").is_null()
            & (pl.col("__home") == p).fill_null(False)
            & pl.col("__key").is_in(pl.Series(list(chosen), dtype=pl.Utf8).implode())
        )
        picked = work.filter(several).select("__key").unique().to_series().to_list()
        work = work.with_columns(
            pl.when(several)
            .then(pl.col("__key").replace_strict(chosen, default=None, return_dtype=pl.Utf8))
            .otherwise(pl.col("__code"))
            .alias("__code"),
            (pl.col("__several:" + name) & ~several).alias("__several:" + name),
        )
        for k in sorted(picked):
            if p in sheet_of:
                notes.append(
                    f"read '{k}' in {name} as the unit {chosen[k]}: its sheet '{sheet_of[p]}' names the province"
                )
            else:
                notes.append(
                    f"read '{k}' in {name} as the unit {chosen[k]}: the file's other rows lie in its province, where "
                    "no other unit bears this name"
                )
    province_of = {k: p for k, (p, _) in both_of.items()}
    unit_of = {k: u for k, (_, u) in both_of.items()}
    as_unit = pl.col("__key").replace_strict(unit_of, default=None, return_dtype=pl.Utf8)
    as_province = pl.col("__key").replace_strict(province_of, default=None, return_dtype=pl.Utf8)
    resolved = (
        pl.when(~conflicted)
        .then(pl.col("__code"))
        .when(as_unit.str.slice(0, 2) == pl.col("__home"))
        .then(as_unit)
        .when(as_province.str.slice(0, 2) == pl.col("__home"))
        .then(as_province)
    )
    work = work.with_columns(
        resolved.alias("__code"),
        pl.when(conflicted & resolved.is_null())
        .then(pl.format("province {} or unit {}", as_province, as_unit))
        .alias("__both:" + name),
        (conflicted & (resolved == as_unit)).fill_null(False).alias("__pou:" + name),
    )
    if work.select(conflicted.any()).item():
        read = work.filter(conflicted & pl.col("__code").is_not_null()).select("__key", "__code").unique().rows()
        for k, code in sorted(read):
            sheet = sheet_of.get(code[:2])
            if code.endswith("0000") and sheet:
                notes.append(f"read '{k}' in {name} as the province {code}: its sheet '{sheet}' names the province")
            elif code.endswith("0000"):
                notes.append(f"read '{k}' in {name} as the province {code}: the file's other rows are units in it")
            elif sheet:
                notes.append(f"read '{k}' in {name} as the unit {code}: its sheet '{sheet}' names the province")
            else:
                notes.append(
                    f"read '{k}' in {name} as the unit {code}: the file's other rows are units of its province"
                )
    # A unit outside the row's province, named by what is a district's name inside it: the district was meant.
    elsewhere = pl.lit(False)
    for p in present:
        elsewhere = elsewhere | (
            (pl.col("__home") == p).fill_null(False)
            & pl.col("__code").is_not_null()
            & ~pl.col("__code").str.starts_with(p)
            & pl.col("__key").is_in(pl.Series(sorted(stems.get(p, ())), dtype=pl.Utf8).implode())
        )
    work = work.with_columns(
        pl.when(elsewhere)
        .then(pl.format("{} (province {}0000)", pl.col("__code"), pl.col("__home")))
        .alias("__elsewhere:" + name),
        pl.when(elsewhere).then(None).otherwise(pl.col("__code")).alias("__code"),
    )
    # A district's name without its kind (海淀 for 海淀区, 浦东 for 浦东新区): read as its full name would be, where the
    # file's province (or the name alone) leaves one district; several left are named as the candidates. Before,
    # it was "unknown city name", though the county list knows it.
    by_stem = getattr(lookup, "area_by_stem", {})
    unit_codes = {v for v in lookup.values() if v is not None}
    open_keys = (
        work.filter(
            pl.col("__code").is_null() & pl.col("__key").is_in(pl.Series(list(by_stem), dtype=pl.Utf8).implode())
        )
        .get_column("__key")
        .unique()
        .to_list()
        if by_stem
        else []
    )
    # The file's city, when every row that tells one tells the same (a unit's code, a district only one city
    # has): 鼓楼 among 玄武 and 秦淮 is Nanjing's 鼓楼区, not Xuzhou's.
    told = {c[:4] for c in work.get_column("__code").drop_nulls().unique().to_list() if not c.endswith("0000")}
    for k in work.filter(pl.col("__code").is_null()).get_column("__key").drop_nulls().unique().to_list():
        if k not in lookup and len(codes := areas.get(k) or by_stem.get(k) or []) == 1:
            told.add(codes[0][:4])
    city = next(iter(told)) if len(told) == 1 else None
    stem_units: dict[str, str] = {}
    stem_areas: dict[str, str] = {}
    for k in sorted(open_keys):
        if k in lookup or k in areas:
            continue
        codes = by_stem[k]
        codes = [c for c in codes if home and c[:2] == home] or codes
        codes = [c for c in codes if city and c[:4] == city] or codes
        if len(codes) == 1 and codes[0] in unit_codes:
            stem_units[k] = codes[0]
            notes.append(f"read '{k}' in {name} as the unit {codes[0]}: the county-level area of this name")
        else:
            stem_areas[k] = ", ".join(codes[:4])
    if stem_units:
        work = work.with_columns(
            pl.coalesce(
                pl.col("__code"), pl.col("__key").replace_strict(stem_units, default=None, return_dtype=pl.Utf8)
            ).alias("__code")
        )
    # A district's own name that is no unit: its codes, for the reason.
    area_codes = {k: ", ".join(v[:4]) for k, v in areas.items() if k not in lookup} | stem_areas
    work = work.with_columns(
        pl.when(pl.col("__code").is_null())
        .then(pl.col("__key").replace_strict(area_codes, default=None, return_dtype=pl.Utf8))
        .alias("__area:" + name)
    )
    return work, notes


def _sheet_province_checks(source: Source, sheet_homes: dict[int, tuple[str, str]], by_name: set[str]) -> list[Check]:
    """A row whose unit lies outside the province its sheet is named for (沈阳 on sheet 吉林省, by name or code):
    which is wrong, the sheet or the row, is the office's call, so the row is refused naming both. Before, it loaded
    silently, counted for a province whose sheet never held it."""
    if not sheet_homes:
        return []
    ordinal = pl.col(ROW_NUMBER) // SHEET_ROW_BLOCK
    keys = list(sheet_homes)
    home = ordinal.replace_strict(keys, [p for p, _ in sheet_homes.values()], default=None, return_dtype=pl.Utf8)
    sheet = ordinal.replace_strict(keys, [s for _, s in sheet_homes.values()], default=None, return_dtype=pl.Utf8)
    out: list[Check] = []
    for c in source.columns:
        if not c.region_code:
            continue
        code = pl.col(c.name)
        written = pl.coalesce(pl.col("__name:" + c.name), _txt(c.name)) if c.name in by_name else _txt(c.name)
        out.append(
            (
                home.is_not_null() & code.is_not_null() & (code.str.slice(0, 2) != home),
                pl.format(
                    "unit in {} contradicts its sheet: '{}' is {} of province {}0000, while sheet '{}' is named for "
                    "province {}0000 (move the row to its province's sheet, or correct the unit)",
                    pl.lit(c.name),
                    written,
                    code,
                    code.str.slice(0, 2),
                    sheet,
                    home,
                ),
            )
        )
    return out


def _row_period(source: Source, work: pl.DataFrame, partition: int | None) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(year, month or null, the text they come from) of each row's period, as written: the source's period
    column (月份, 年份) or, without one, the file's partition year."""
    col = source.partition_date if source.partition_date else "year"
    if _TXT + col not in work.columns:
        return pl.lit(partition, dtype=pl.Int32), pl.lit(None, dtype=pl.Int32), pl.lit(str(partition or ""))
    txt = _txt(col)
    year = txt.str.extract(r"((?:19|20)\d{2})", 1).cast(pl.Int32, strict=False)
    month = txt.str.extract(r"(?:19|20)\d{2}\s*(?:年|[-/.])\s*(\d{1,2})", 1).cast(pl.Int32, strict=False)
    return pl.coalesce(year, pl.lit(partition, dtype=pl.Int32)), month, txt.fill_null(str(partition or ""))


def _former_names(
    work: pl.DataFrame,
    name: str,
    lookup: dict,
    source: Source,
    partition: int | None,
    valid_codes: frozenset[str] | None,
) -> tuple[pl.DataFrame, list[str]]:
    """A former unit's name no unit bears today (襄樊, 思茅市, 莱芜市, 巢湖; UnitNames.former) read by what became of
    it at the row's period: a renamed unit (same code) is its code in any period, unless a district of it bears
    the bare name now (思茅 is 普洱市思茅区 since 2007: refused, naming both); a merged unit (莱芜市 into 济南市,
    2018-12-26) is its own old code before the merge (staging maps it, unit_code_changes) and refused after it,
    when the name is a district of the successor whose figures are no unit's; an abolished unit (巢湖市 2011,
    split among three cities) has no successor and is refused. Before, every one was "unknown city name" or a
    district's reason that did not say the unit had changed. ``__former:<name>`` holds [kind, fields...] for the
    reason; ``__area:`` is cleared on those rows so one reason is given."""
    former = getattr(lookup, "former", {})
    col = "__former:" + name
    empty = pl.lit(None, dtype=pl.List(pl.Utf8)).alias(col)
    if not former:
        return work.with_columns(empty), []
    hit = pl.col("__code").is_null() & pl.col("__key").is_in(pl.Series(list(former), dtype=pl.Utf8).implode())
    if not work.select(hit.any()).item():
        return work.with_columns(empty), []
    year, month, period = _row_period(source, work, partition)
    areas = getattr(lookup, "areas", {})
    by_stem = getattr(lookup, "area_by_stem", {})
    codes: dict[int, str] = {}
    reasons: dict[int, list[str]] = {}
    read: set[tuple[str, str, str]] = set()
    rows = work.filter(hit).select(ROW_NUMBER, "__key", year.alias("y"), month.alias("m"), period.alias("p"))
    for row, key, y, m, p in rows.rows():
        old_name, old_code, new_code, new_name, kind, approved, doc = former[key]
        when = (int(approved[:4]), int(approved[5:7]))
        fields = [old_code, old_name, new_code, new_name, approved, doc, str(p)]
        if kind == "renamed":
            # the bare name of a district inside the renamed unit today (思茅区 in 普洱市): a district's figures
            # read as the whole unit's would be wrong silently
            inside = [c for c in areas.get(key, []) + by_stem.get(key, []) if c[:4] == new_code[:4]]
            if key != name_key(old_name) and inside:
                reasons[row] = ["renamed", *fields, ", ".join(sorted(set(inside)))]
            else:
                codes[row] = new_code
                read.add((key, new_code, f"{old_name} was renamed {new_name} on {approved} ({doc})"))
        elif kind == "merged":
            before = y is not None and ((y, m) < when if m is not None else y < when[0])
            after = y is not None and ((y, m) > when if m is not None else y > when[0])
            if before and (valid_codes is None or old_code in valid_codes):
                codes[row] = old_code
                read.add((key, old_code, f"{old_name} existed until {approved} ({doc})"))
            elif after or before:
                reasons[row] = ["merged", *fields]
            else:
                reasons[row] = ["merged_unclear", *fields]
        else:
            reasons[row] = ["abolished", *fields]
    notes = [f"read '{k}' in {name} as the unit {c}: {why}" for k, c, why in sorted(read)]
    rn = pl.col(ROW_NUMBER)
    work = work.with_columns(
        pl.coalesce(
            pl.col("__code"),
            rn.replace_strict(codes, default=None, return_dtype=pl.Utf8) if codes else pl.lit(None, pl.Utf8),
        ).alias("__code"),
        (
            rn.replace_strict(reasons, default=None, return_dtype=pl.List(pl.Utf8))
            if reasons
            else pl.lit(None, pl.List(pl.Utf8))
        ).alias(col),
    )
    done = pl.col("__code").is_not_null() | pl.col(col).is_not_null()
    return work.with_columns(
        pl.when(done).then(None).otherwise(pl.col("__area:" + name)).alias("__area:" + name)
    ), notes


def _merged_codes(work: pl.DataFrame, source: Source, partition: int | None) -> pl.DataFrame:
    """A row under a merged unit's old code (371200 莱芜市, or a county code under it) read by the row's period, as
    its old name is (`_former_names`, the seed unit_code_changes decides both): before the merge it is the unit's
    own row (staging maps it); after the merge, or in a period that does not tell, it is refused naming the
    approval. Before, the code loaded for the successor while the name was refused: a 2025 row under 371200 is
    莱芜区's figures, 济南's part, not 济南's record (and beside 济南's own row, counted twice).
    ``__merged:<column>`` holds [kind, fields...] for the reason, as ``__former:`` does for a name."""
    from pipelines import reference

    merged = {r[1][:4]: r for r in reference.former_units() if r[4] == "merged"}
    cols = [c.name for c in source.columns if c.region_code and _TXT + c.name in work.columns]
    if not merged or not cols or _TXT + (source.partition_date or "year") not in work.columns:
        # a record without a period (the programme roster, an evaluation's cycle): staging maps the code
        return work
    year, month, period = _row_period(source, work, partition)
    for c in cols:
        prefix = _txt(c).str.slice(0, 4)
        hit = _txt(c).str.contains(r"^\d{6}$").fill_null(False) & prefix.is_in(list(merged))
        reasons: dict[int, list[str]] = {}
        if work.select(hit.any()).item():
            rows = work.filter(hit).select(
                ROW_NUMBER, prefix.alias("k"), year.alias("y"), month.alias("m"), period.alias("p")
            )
            for row, k, y, m, p in rows.rows():
                old_name, old_code, new_code, new_name, _, approved, doc = merged[k]
                when = (int(approved[:4]), int(approved[5:7]))
                before = y is not None and ((y, m) < when if m is not None else y < when[0])
                if not before:
                    after = y is not None and ((y, m) > when if m is not None else y > when[0])
                    kind = "merged" if after else "merged_unclear"
                    reasons[row] = [kind, old_code, old_name, new_code, new_name, approved, doc, str(p)]
        work = work.with_columns(
            (
                pl.col(ROW_NUMBER).replace_strict(reasons, default=None, return_dtype=pl.List(pl.Utf8))
                if reasons
                else pl.lit(None, pl.List(pl.Utf8))
            ).alias("__merged:" + c)
        )
    return work


def _merged_reasons(c: str, kind: pl.Expr, value: pl.Expr, f: list[pl.Expr]) -> list[Check]:
    """The reasons of a merged unit's row after its merge, or in a period that does not tell, whether the row
    names it (莱芜市) or gives its old code (371200): one text for both, naming the approval."""
    return [
        (
            (kind == "merged").fill_null(False),
            pl.format(
                "former unit in {}: '{}' ({} {}) was merged into {} {} on {} ({}) and the row's period '{}' is "
                "after it: it is no unit then (report its figures on {}'s row)",
                pl.lit(c),
                value,
                f[0],
                f[1],
                f[2],
                f[3],
                f[4],
                f[5],
                f[6],
                f[3],
            ),
        ),
        (
            (kind == "merged_unclear").fill_null(False),
            pl.format(
                "former unit in {}: '{}' ({} {}) was merged into {} {} on {} ({}) and the row's period '{}' does "
                "not tell whether before or after it (write the code meant: {} before, {} after)",
                pl.lit(c),
                value,
                f[0],
                f[1],
                f[2],
                f[3],
                f[4],
                f[5],
                f[6],
                f[0],
                f[2],
            ),
        ),
    ]


def _district_rows(work: pl.DataFrame, source: Source, lookup: dict | None) -> tuple[pl.DataFrame, list[str]]:
    """Rows of a file with a district column beside the unit's (城市 北京 | 区县 海淀): a row naming a district holds
    that district's figures. Read with the district column ignored, 海淀's figures loaded as Beijing's record,
    silently. A district that is a programme unit (its code among the units) loads as that unit (noted); any
    other district row is refused as a part of its city's figures, naming the district's codes in that city
    (the county list, data/reference/modood_areas.csv; a name without its kind, 海淀, is read as 海淀区). A row
    whose district cell is empty is the city's own."""
    col = district_unit_column(source)
    if DISTRICT not in work.columns or col is None:
        return work.drop(DISTRICT, strict=False), []
    lookup = lookup or {}
    areas, by_stem = getattr(lookup, "areas", {}), getattr(lookup, "area_by_stem", {})
    units = {v for v in lookup.values() if v is not None}
    text = _clean_text(DISTRICT)
    notes: list[str] = []
    work, filled = _fill_merged_city(work, col, text, areas, by_stem, lookup)
    if filled:
        notes.append(
            f"filled {col} of {count_en(filled, 'row')} from the row above: a city cell merged over its districts, left blank "
            "below its first row (each row's district is in that city)"
        )
    named = work.filter(text.is_not_null() & _txt(col).is_not_null())
    code_of: dict[tuple[str, str], str] = {}
    reason_of: dict[tuple[str, str], str] = {}
    for city, district in named.select(_txt(col), text).unique().sort(pl.all()).rows():
        key = name_key(district)
        if not key:
            continue
        prefix = city[:4] if not city.endswith("0000") else city[:2]
        named_unit = lookup.get(key)
        if named_unit == city:
            continue  # the city's own name in the district cell (深圳 | 深圳市): the city's row
        candidates = [c for c in areas.get(key) or by_stem.get(key) or [] if c.startswith(prefix)]
        if named_unit and named_unit != city and named_unit.startswith(prefix):
            candidates = [named_unit]
        if len(candidates) == 1 and candidates[0] in units:
            code_of[(city, district)] = candidates[0]
            notes.append(f"read the row of {city} and district '{district}' as the unit {candidates[0]} (the district)")
        elif candidates:
            reason_of[(city, district)] = (
                f"district row: '{district}' in the district column is a county-level area of {city} "
                f"({', '.join(candidates[:4])}), not a unit of the programme: its figures are part of the city's, "
                "not its record (report the city's figures on one row, or write the district's code)"
            )
        else:
            reason_of[(city, district)] = (
                f"district row: '{district}' in the district column names no county-level area of {city}: the row is "
                "a part of the city's figures or a mistake, not the city's record (report the city's figures on one "
                "row, or write the district's code)"
            )
    pair = pl.concat_str([_txt(col), text], separator="\x1f")
    flat = {f"{c}\x1f{d}": v for (c, d), v in code_of.items()}
    why = {f"{c}\x1f{d}": v for (c, d), v in reason_of.items()}
    work = work.with_columns(
        pl.coalesce(pair.replace_strict(flat, default=None, return_dtype=pl.Utf8), _txt(col)).alias(_TXT + col),
        pair.replace_strict(why, default=None, return_dtype=pl.Utf8).alias("__district_row"),
    ).drop(DISTRICT)
    return work, notes


def _fill_merged_city(
    work: pl.DataFrame, col: str, district: pl.Expr, areas: dict, by_stem: dict, lookup: dict
) -> tuple[pl.DataFrame, int]:
    """A city cell merged down over its districts' rows, exported to CSV: only the first row keeps the city, the
    rows below are blank there (refused as "missing value in city_code"). A blank city takes the city of the row
    above (through a run of such rows) only when the row names a district that lies in that city: a district of
    another city, or no district at all (a subtotal, a stray row), leaves it blank and refused as before. Only the
    name column is filled, never a figure. (A workbook's merged cells are filled down by the reader already.)"""
    name = "__name:" + col if "__name:" + col in work.columns else _TXT + col
    blank = pl.col(name).is_null() & _txt(col).is_null()
    # the city each blank row would take: the nearest row above that is not itself a blank city with a district
    # (an unread city, \x00, stops the run: it gives no city)
    anchor = pl.when(blank & district.is_not_null()).then(None).otherwise(pl.coalesce(_txt(col), pl.lit("\x00")))
    work = work.with_columns(anchor.forward_fill().replace("\x00", None).alias("__above"))
    above = pl.col("__above")
    pairs = work.filter(blank & district.is_not_null()).select(above, district).unique().rows()
    fill: dict[str, str] = {}
    for city, name_ in pairs:
        key = name_key(name_) if city else ""
        if not key:
            continue
        prefix = city[:4] if not city.endswith("0000") else city[:2]
        inside = [c for c in areas.get(key) or by_stem.get(key) or [] if c.startswith(prefix)]
        if inside or (lookup.get(key) or "").startswith(prefix) and lookup.get(key) != city:
            fill[f"{city}\x1f{name_}"] = city
    if not fill:
        return work.drop("__above"), 0
    pair = pl.concat_str([above, district], separator="\x1f")
    take = blank & pair.is_in(list(fill))
    n = work.select(take.sum()).item()
    return work.with_columns(pl.when(take).then(above).otherwise(_txt(col)).alias(_TXT + col)).drop("__above"), n


def _name_beside_checks(work: pl.DataFrame, unit_names: dict[str, str | None] | None) -> list[Check]:
    """A row whose unit name (the column beside its code: `HeaderMapping.beside`) names a unit of another prefecture
    than its code: which of the two is the row's cannot be told, so it is refused naming both. Only a name that is
    one city-level or county-level unit's is compared (an unknown name, a province's, one several units bear, a
    reporting office's, says nothing of the row); a district of the code's own city agrees with it."""
    checks: list[Check] = []
    if not unit_names:
        return checks
    cities = {k: v for k, v in unit_names.items() if v is not None and not v.endswith("0000")}
    for col in [c for c in work.columns if c.startswith(BESIDE)]:
        code = col.removeprefix(BESIDE)
        name = pl.col(col).str.strip_chars()
        key = name.str.normalize("NFKC").str.replace_all(INVISIBLE_CHARS, "").str.replace_all(r"\s+", "")
        named = key.replace_strict(cities, default=None, return_dtype=pl.Utf8)
        written = _txt(code)
        differ = (
            written.str.contains(r"^\d{6}$") & named.is_not_null() & (named.str.slice(0, 4) != written.str.slice(0, 4))
        ).fill_null(False)
        checks.append(
            (
                differ,
                pl.format(
                    "code and name disagree in {}: {}, but the name beside it is '{}' ({}): which unit the row is "
                    "cannot be told (correct the code or the name)",
                    pl.lit(code),
                    written,
                    name,
                    named,
                ),
            )
        )
    return checks


def derived_key(source: Source, name: str) -> pl.Expr:
    """The value of a key column the file leaves out (`Column.derived_from`): 'D-' and 16 hex digits of the SHA-1
    of the row's typed values of those columns (ISO dates, codes, enumeration words, text as cleaned; a missing
    value is refused by its own column's rule). SHA-1 of a fixed spelling, not Polars' hash, which may
    change between versions: the id must stay the same for the same event in every later file."""
    import hashlib

    parts = [pl.col(d).cast(pl.Utf8).fill_null("") for d in source.column(name).derived_from]
    joined = pl.concat_str(parts, separator="\x1f")
    return joined.map_elements(lambda v: "D-" + hashlib.sha1(v.encode()).hexdigest()[:16], return_dtype=pl.Utf8)


def validate(
    raw: RawFrame,
    source: Source,
    file_name: str,
    *,
    partition: int | None,
    today: date,
    valid_codes: frozenset[str] | None,
    population: pl.DataFrame | None = None,
    unit_names: dict[str, str | None] | None = None,
    own_units: frozenset[str] | None = None,
    loaded_rows: Callable[[], pl.DataFrame] | None = None,
) -> Validated:
    """Typed good rows and quarantined rows with every reason.

    Large files are mostly clean, so the work is split: first every rule is evaluated as a cheap boolean over
    materialised text and typed columns (no reason strings, each column cleaned and parsed once); then the
    reason texts are built only for the rows that failed a rule. ``population`` (region_code, population_10k)
    feeds the per-capita plausibility rules; without it they are not applied. ``unit_names`` (see `name_key`:
    a unit's name -> its code, None for a name several units bear) reads a column of names given for a code.
    ``own_units``: the county-level programme units (load.county_units), named in a breakdown row's reason.
    ``loaded_rows``: the file's rows loaded already (the SQL scan's), typed, for `unnamed_totals`' sums.
    """
    mapped = map_columns(raw, source, file_name)
    df, factors = mapped.df, mapped.factors
    notes = mapped.notes + raw.notes
    codes = sorted(valid_codes) if valid_codes is not None else None

    raw_cols = [c.name for c in source.columns]
    flags = [f for f in ROW_FLAGS if f in df.columns and f not in WHOLE_ROW_FLAGS]
    whole_flags = [f for f in WHOLE_ROW_FLAGS if f in df.columns]
    work = df.select(
        pl.col(ROW_NUMBER),
        *[_clean_text(c).alias(_TXT + c) for c in raw_cols],
        *flags,
        *whole_flags,
        "__total",
        "__area_total",
        "__own_level",
        "__note",
        "__breakdown",
        *([DISTRICT] if DISTRICT in df.columns else []),
        *[c for c in df.columns if c.startswith(BESIDE)],
    )
    # A footnote marker after a figure (12.5*, 12.5①) points to a note below the table: the figure is the number
    # before it (noted). Before NFKC, which made 12.5① the number 12.51 (loaded silently) and 12.5* no number.
    for c in source.columns:
        if c.dtype not in ("int", "float"):
            continue
        marked = _txt(c.name).str.contains(FOOTNOTE_MARKER_PATTERN).fill_null(False)
        n = work.select(marked.sum()).item()
        if n:
            notes.append(
                f"read {count_en(n, 'cell')} of {c.name} with a footnote marker (12.5*, 12.5①) as the number before it"
            )
            work = work.with_columns(
                pl.when(marked)
                .then(_txt(c.name).str.replace(FOOTNOTE_MARKER_PATTERN, "${1}"))
                .otherwise(_txt(c.name))
                .alias(_TXT + c.name)
            )
    work = work.with_columns(
        [_normalise_text(c, _txt(c.name), work[_TXT + c.name]).alias(_TXT + c.name) for c in source.columns]
    )

    # A column of names given for the codes (地市: 深圳市): each name as the code it names; one no unit bears, or
    # several do, is kept for its row's reason.
    sheet_homes = sheet_provinces(raw.sheets, unit_names or {})
    for name in sorted(mapped.by_name):
        lookup = unit_names or {}
        key = (
            _txt(name)
            .str.normalize("NFKC")
            .str.replace_all(INVISIBLE_CHARS, "")
            .str.replace_all(r"\s+", "")
            .str.replace(BREAKDOWN_PREFIX, "")  # 其中：昆山市 names 昆山市 (its row is judged as a breakdown row)
        )
        known = {k: v for k, v in lookup.items() if v is not None}
        several = pl.Series([k for k, v in lookup.items() if v is None], dtype=pl.Utf8)
        work = work.with_columns(
            key.replace_strict(known, default=None, return_dtype=pl.Utf8).alias("__code"),
            key.alias("__key"),
            _txt(name).alias("__name:" + name),
            key.is_in(several.implode()).alias("__several:" + name),
        )
        work, name_notes = _names_in_context(work, name, lookup, sheet_homes)
        notes += name_notes
        work, former_notes = _former_names(work, name, lookup, source, partition, valid_codes)
        notes += former_notes
        work = work.with_columns(pl.col("__code").alias(_TXT + name)).drop("__code", "__key")

    work, district_notes = _district_rows(work, source, unit_names)
    notes += district_notes

    # Month cells without a year (12月) take the year the file states (title line, file name); without one they
    # stay unreadable and are refused.
    if raw.context_year and source.partition_date == "month" and "month" in raw_cols:
        dated, bare = with_stated_year(_txt("month"), raw.context_year)
        if work.select(bare.any()).item():
            work = work.with_columns(dated.alias(_TXT + "month"))
            notes.append(f"month cells without a year read in {raw.context_year} (stated by the file)")
        # A two-digit year (25年3月) is the year the file states when it ends in those digits: the title or file name
        # gives the century. Any other two-digit year, or none stated, stays refused: which century is a guess.
        yy = _txt("month").str.contains(rf"^{raw.context_year % 100:02d}\s*年\s*\d{{1,2}}\s*月(?:份)?$")
        if work.select(yy.any()).item():
            work = work.with_columns(
                pl.when(yy)
                .then(pl.lit(str(raw.context_year // 100)) + _txt("month"))
                .otherwise(_txt("month"))
                .alias(_TXT + "month")
            )
            notes.append(
                f"two-digit years in month ('{raw.context_year % 100:02d}年') read as {raw.context_year} (stated by "
                "the file)"
            )

    if "month" in raw_cols and source.column("month").dtype == "date":
        english = _txt("month").str.normalize("NFKC").str.strip_chars().str.to_lowercase().str.contains(_EN_MONTH)
        if work.select(english.any()).item():
            notes.append(
                "months written in English (Mar-25: Excel's mmm-yy as shown) read as the month they name, a two-digit "
                "year as Excel reads it (00-29: 2000-2029)"
            )

    # A month written 2025.1 in a text file (CSV, or Parquet a program wrote) is January, or October: Excel keeps a
    # month typed 2025.10 in a General cell as the number 2025.1, and "Save as CSV" writes 2025.1. The file tells
    # which only when it writes October of that year as 2025.10 (its writer keeps the 0); otherwise the row is
    # refused, as a workbook's General number 2025.1 is (readers._decimal_month). A workbook's text cell 2025.1 is
    # as typed, January.
    month_unclear = False
    if not raw.sheets and "month" in raw_cols and source.column("month").dtype == "date":
        dotted_one = _txt("month").str.contains(r"^\d{4}\s*\.\s*1$")
        if work.select(dotted_one.any()).item():
            octobers = (
                work.select(_txt("month").str.extract(r"^(\d{4})\s*\.\s*10$", 1).drop_nulls().unique())
                .to_series()
                .to_list()
            )
            work = work.with_columns(
                (dotted_one & ~_txt("month").str.slice(0, 4).is_in(octobers)).alias("__month_unclear")
            )
            month_unclear = True

    # Excel error cells (#N/A, #DIV/0! ...): the formula failed, the cell has no value. The row is quarantined
    # with its own reason (never loaded as a blank that a later step would carry forward).
    error_cols = [c for c in raw_cols if work[_TXT + c].str.starts_with("#").any()]
    for c in error_cols:
        is_err = _txt(c).str.to_uppercase().is_in(EXCEL_ERRORS)
        work = work.with_columns(
            pl.when(is_err).then(_txt(c)).alias("__err:" + c),
            pl.when(is_err).then(None).otherwise(_txt(c)).alias(_TXT + c),
        )

    # A unit written in a number cell (100万元, 1.2亿, 12笔, 3学时; a workbook's format '0.00"亿元"' shows it too): a
    # count's word is dropped; a unit of the column's family converts that cell by its own unit, whatever the
    # header says (1.2亿 is 12000 万元 under any header). Another unit leaves the cell unread: "not a number".
    for c in source.columns:
        if c.dtype not in ("int", "float") or _percent_column(source, c):
            continue
        t = _txt(c.name)
        if not work.select(t.str.contains(r"\d\s*[^\x00-\x7F]+$").any()).item():
            continue
        if c.unit is None:
            words = "|".join(COUNT_WORDS_IN_CELLS)
            work = work.with_columns(t.str.replace(rf"^(.*\d)\s*(?:{words})$", "${1}").alias(_TXT + c.name))
            # 1.2万 (笔) in a count: twelve thousand, the count spelled in 万 as offices round large counts. Unread it
            # was "not a number" and a good row was refused. A count that is then no whole number (1.23456万) is
            # refused by the whole-number rule, never rounded.
            scaled = rf"^(.*\d)\s*(万|千)\s*(?:{words})?$"
            scale = t.str.extract(scaled, 2).replace_strict({"万": 10_000, "千": 1_000}, default=None)
            number = _number(t.str.extract(scaled, 1).str.strip_chars())
            times = pl.when(scale.is_not_null() & number.is_not_null()).then((number * scale).round(6).cast(pl.Utf8))
            n = work.select(times.is_not_null().sum()).item()
            if n:
                notes.append(f"read {count_en(n, 'cell')} of {c.name} written in 万 or 千 (1.2万 = 12000) as the count")
                work = work.with_columns(pl.coalesce(times, t).alias(_TXT + c.name))
            continue
        family = next(f for f in UNIT_FAMILIES.values() if c.unit in f)
        spelled = {u: u for u in family} | {s_: full_unit(s_, c.unit) for s_ in SHORT_UNITS}
        spelled = {k: v for k, v in spelled.items() if v in family}
        pattern = r"^(.*\d)\s*(" + "|".join(sorted(spelled, key=len, reverse=True)) + r")$"
        header_scale = (factors.get(c.name) or 1.0) * UNIT_SCALES[c.unit]
        ratio = t.str.extract(pattern, 2).replace_strict(
            {k: UNIT_SCALES[v] / header_scale for k, v in spelled.items()}, default=None, return_dtype=pl.Float64
        )
        number = _number(t.str.extract(pattern, 1).str.strip_chars())
        converted = pl.when(ratio.is_not_null() & number.is_not_null()).then((number * ratio).round(9).cast(pl.Utf8))
        n = work.select(converted.is_not_null().sum()).item()
        if n:
            notes.append(
                f"read {count_en(n, 'cell')} of {c.name} written with their unit (100万元, 1.2亿) in that unit"
            )
            work = work.with_columns(pl.coalesce(converted, t).alias(_TXT + c.name))

    # A dash, a slash or 无 in a number cell is how offices write "no figure" (统计表: —, -, /, 无, 暂无). It is no
    # number and never 0: in an optional column the cell is empty (noted); in a required one the row is refused
    # saying what the cell holds, not as "not a number".
    placeholder_cols = [
        c.name
        for c in source.columns
        if c.dtype in ("int", "float") and work.select(_txt(c.name).str.contains(NO_VALUE_TEXT).any()).item()
    ]
    for name in placeholder_cols:
        is_none = _txt(name).str.contains(NO_VALUE_TEXT).fill_null(False)
        if not source.column(name).required:
            n = work.select(is_none.sum()).item()
            notes.append(f"read {count_en(n, 'cell')} written as no figure (—, -, /, 无) in {name} as empty")
        work = work.with_columns(
            pl.when(is_none).then(_txt(name)).alias("__none:" + name),
            pl.when(is_none).then(None).otherwise(_txt(name)).alias(_TXT + name),
        )

    # Shares: per cent written with % (or under a (%) header) is divided by 100 where a share is expected.
    pct_cols = [
        c
        for c in raw_cols
        if (source.ratio_by_indicator and c in source.ratio_by_indicator[1]) or source.column(c).ratio
    ]
    for c in pct_cols:
        work = work.with_columns(
            (_txt(c).str.ends_with("%") | pl.lit(c in mapped.percent)).alias("__pct:" + c),
            _txt(c).str.strip_chars_end("%").str.strip_chars().alias(_TXT + c),
        )

    # Typed values on a fast path (dates in the first format: one parse; yes/no in the usual spellings: no
    # lower-casing); a column with any cell the fast path cannot read is typed again the general way.
    fast = {c.name for c in source.columns if (c.dtype == "date" and c.name != "month") or c.dtype == "bool"}
    typed = work.select(
        *[_parse(c, factors.get(c.name), _txt(c.name), fast=c.name in fast).alias(c.name) for c in source.columns]
    )
    for name in sorted(fast):
        if (work[_TXT + name].is_not_null() & typed[name].is_null()).any():
            c = source.column(name)
            typed = typed.with_columns(work.select(_parse(c, None, _txt(name)).alias(name)))
    work = pl.concat([work, typed], how="horizontal")
    for name in sorted(mapped.derived):
        key = derived_key(source, name)
        work = work.with_columns(key.alias(name), key.alias(_TXT + name))
    period_total(raw, source, work, file_name)
    title_month_differs(raw, source, work, file_name)
    ratio_checks: list[Check] = []
    if pct_cols:
        work, ratio_checks = _shares(work, source, pct_cols)
    if source.partitioned:
        work = work.with_columns(pl.col(source.partition_date).dt.year().cast(pl.Int32).alias("year"))

    # A name read as its unit by the file's other rows (吉林 among Jilin's cities) whose every figure is the sum of
    # those rows for the same period is the province's total written by the province's short name, not the unit's.
    sum_checks: list[Check] = []
    for c in sorted(mapped.by_name):
        period, values = source.partition_date, [v for v in source.period_columns if v in work.columns]
        if not values or period not in work.columns or not work["__pou:" + c].any():
            continue
        pou, prov = pl.col("__pou:" + c), pl.col(c).str.slice(0, 2).alias("__prov")
        sums = (
            work.filter(~pou & pl.col(c).is_not_null() & ~pl.col(c).str.ends_with("0000"))
            .group_by(prov, period)
            .agg(*[pl.col(v).sum().alias("__sum:" + v) for v in values], pl.len().alias("__parts"))
        )
        flag = "__sums:" + c
        work = (
            work.with_columns(prov)
            .join(sums, on=["__prov", period], how="left", maintain_order="left")
            .with_columns(
                (
                    pou
                    & (pl.col("__parts") >= 2)
                    & pl.all_horizontal([pl.col(v).cast(pl.Float64) == pl.col("__sum:" + v) for v in values])
                )
                .fill_null(False)
                .alias(flag)
            )
            .drop("__prov", "__parts", *["__sum:" + v for v in values])
        )
        sum_checks.append(
            (
                pl.col(flag),
                pl.format(
                    "total row: '{}' in {} names a province and a unit, and its figures are the sum of the file's "
                    "other rows of province {}0000 for the same {}: the province's total, not the unit's record",
                    pl.col("__name:" + c),
                    pl.lit(c),
                    pl.col(c).str.slice(0, 2),
                    pl.lit(period),
                ),
            )
        )

    checks: list[Check] = list(sum_checks) + _sheet_province_checks(source, sheet_homes, set(mapped.by_name))
    checks += _name_beside_checks(work, unit_names)
    work = _merged_codes(work, source, partition)
    for c in source.columns:
        if "__merged:" + c.name in work.columns:
            m = pl.col("__merged:" + c.name)
            mf = [m.list.get(i, null_on_oob=True) for i in range(1, 9)]
            checks += _merged_reasons(c.name, m.list.get(0, null_on_oob=True), _txt(c.name), mf)
    for c in source.columns:
        checks += _parse_checks(c, factors.get(c.name), pl.col(c.name), _txt(c.name))
        known = _known_codes(work[c.name], codes) if c.region_code and codes is not None else codes
        present = (
            _txt(c.name).is_not_null()
            | (pl.col("__name:" + c.name).is_not_null() if c.name in mapped.by_name else False)
            | (pl.col("__err:" + c.name).is_not_null() if c.name in error_cols else False)
            | (pl.col("__none:" + c.name).is_not_null() if c.name in placeholder_cols and c.required else False)
        )
        checks += _rules(c, pl.col(c.name), _txt(c.name), known, present=present)
    checks += _cross_field_rules(source)
    for d in source.no_future:
        checks.append((pl.col(d) > today, pl.format("future date in {}: {}", pl.lit(d), pl.col(d))))
    if source.partitioned and partition is not None:
        checks.append(
            (
                pl.col("year") != partition,
                pl.format(
                    "{} {} outside partition year {}",
                    pl.lit(source.partition_date),
                    pl.col(source.partition_date),
                    pl.lit(partition),
                ),
            )
        )
    for f in flags:
        checks.append((pl.col(f).is_not_null(), pl.col(f)))
    for c in sorted(mapped.by_name):
        named = pl.col("__name:" + c).is_not_null() & _txt(c).is_null()
        checks.append(
            (
                named & pl.col("__several:" + c),
                pl.format(
                    "city name in {} names several units: '{}' (write the code)", pl.lit(c), pl.col("__name:" + c)
                ),
            )
        )
        checks.append(
            (
                named & pl.col("__both:" + c).is_not_null(),
                pl.format(
                    "city name in {} names a province and a unit: '{}' is {}, and the file's other rows do not tell "
                    "which (write the unit's full name or its code; a province's total is no city's record)",
                    pl.lit(c),
                    pl.col("__name:" + c),
                    pl.col("__both:" + c),
                ),
            )
        )
        checks.append(
            (
                named & pl.col("__elsewhere:" + c).is_not_null(),
                pl.format(
                    "city name in {} names a unit of another province: '{}' is {}, while the file's other rows lie "
                    "in {} and a district there bears this name (write the full name or the code)",
                    pl.lit(c),
                    pl.col("__name:" + c),
                    pl.col("__elsewhere:" + c).str.extract(r"^(\d+)", 1),
                    pl.col("__elsewhere:" + c).str.extract(r"\((province \d+)\)$", 1),
                ),
            )
        )
        checks.append(
            (
                named & pl.col("__area:" + c).is_not_null() & ~pl.col("__several:" + c),
                pl.format(
                    "district name in {}: '{}' is a county-level area ({}), not a unit of the programme (report its "
                    "figures on its city's row, or write the district's code)",
                    pl.lit(c),
                    pl.col("__name:" + c),
                    pl.col("__area:" + c),
                ),
            )
        )
        fmr = pl.col("__former:" + c)
        kind, f = fmr.list.get(0, null_on_oob=True), [fmr.list.get(i, null_on_oob=True) for i in range(1, 9)]
        checks.append(
            (
                named & (kind == "renamed").fill_null(False),
                pl.format(
                    "former name in {}: '{}' was the name of {} {} until {} ({}), now {}, and its district {} bears it "
                    "today: a district's figures are no unit's (write {} or the code)",
                    pl.lit(c),
                    pl.col("__name:" + c),
                    f[0],
                    f[1],
                    f[4],
                    f[5],
                    f[3],
                    f[7],
                    f[3],
                ),
            )
        )
        checks += [(named & k, r) for k, r in _merged_reasons(c, kind, pl.col("__name:" + c), f)]
        checks.append(
            (
                named & (kind == "abolished").fill_null(False),
                pl.format(
                    "abolished unit in {}: '{}' ({} {}) was abolished on {} ({}) and its area divided among other "
                    "cities: no unit continues it (report each part on its city's row)",
                    pl.lit(c),
                    pl.col("__name:" + c),
                    f[0],
                    f[1],
                    f[4],
                    f[5],
                ),
            )
        )
        checks.append(
            (
                named
                & ~pl.col("__several:" + c)
                & pl.col("__both:" + c).is_null()
                & pl.col("__elsewhere:" + c).is_null()
                & pl.col("__former:" + c).is_null()
                & pl.col("__area:" + c).is_null(),
                pl.format(
                    "unknown city name in {}: '{}' (no unit of the administrative divisions has this name)",
                    pl.lit(c),
                    pl.col("__name:" + c).str.slice(0, 40),
                ),
            )
        )
    for c in placeholder_cols:
        if source.column(c).required:
            checks.append(
                (
                    pl.col("__none:" + c).is_not_null(),
                    pl.format(
                        "no figure in {}: '{}' stands for none (write the figure, or 0 if there was none)",
                        pl.lit(c),
                        pl.col("__none:" + c),
                    ),
                )
            )
    for c in error_cols:
        checks.append(
            (
                pl.col("__err:" + c).is_not_null(),
                pl.format(
                    "Excel error cell in {}: '{}' (the formula failed: fix it in the workbook)",
                    pl.lit(c),
                    pl.col("__err:" + c),
                ),
            )
        )
    if month_unclear:
        year = _txt("month").str.slice(0, 4)
        checks.append(
            (
                pl.col("__month_unclear"),
                pl.format(
                    "ambiguous month in month: '{}' is {}.10 (October, its 0 dropped by Excel) or {}.1 (January) - "
                    "write the month as text ({}-10, {}年10月)",
                    _txt("month"),
                    year,
                    year,
                    year,
                    year,
                ),
            )
        )
    checks += ratio_checks
    # Plausibility across a record's values is judged on records whose cells are each fine.
    cells_ok = ~pl.any_horizontal([cond.fill_null(False) for cond, _ in checks]) if checks else pl.lit(True)
    checks += [(cells_ok & cond, text) for cond, text in _record_rules(source, work, population)]
    # A total row is refused for being one, whatever else is wrong with it: its reason stands alone.
    work = work.with_columns(
        pl.coalesce(
            *[pl.col(f) for f in whole_flags],
            pl.col("__total"),
            _city_level_total(source),
            pl.col("__area_total"),
            pl.col("__own_level"),
            pl.col("__note"),
            *([pl.col("__district_row")] if "__district_row" in work.columns else []),
        ).alias("__whole")
    )
    unnamed = unnamed_totals(work, source, loaded_rows)
    if unnamed is not None:
        work = work.with_columns(pl.coalesce(pl.col("__whole"), unnamed).alias("__whole"))
    if work.select(pl.col("__breakdown").is_not_null().any()).item():
        parts = pl.Series(breakdown_rows(work, source, own_units), dtype=pl.Utf8)
        if parts.is_not_null().any():
            notes.append(
                f"refused {count_en(parts.is_not_null().sum(), 'breakdown row')} (其中, of which) as parts of the row above "
                "them: the stated rows are loaded, their parts are not added to them"
            )
        work = work.with_columns(pl.coalesce(pl.col("__whole"), parts).alias("__whole"))
    checks = [(cond & pl.col("__whole").is_null(), text) for cond, text in checks]
    checks.append((pl.col("__whole").is_not_null(), pl.col("__whole")))

    bad = work.select(pl.any_horizontal([cond.fill_null(False) for cond, _ in checks]).alias("__bad"))["__bad"]
    any_bad = bad.any()
    reasons = _reasons(work.filter(bad), checks)
    dup = _duplicates(work.filter(~bad) if any_bad else work, source, raw.sheets)
    if dup.height:
        reasons = pl.concat([reasons, dup]).sort(ROW_NUMBER)

    keep = raw_cols + (["year"] if source.partitioned else []) + [ROW_NUMBER]
    good = work.filter(~bad).select(keep) if any_bad else work.select(keep)  # select alone copies nothing
    if dup.height:
        good = good.join(dup.select(ROW_NUMBER), on=ROW_NUMBER, how="anti", maintain_order="left")
    rejected = (
        df.select(ROW_NUMBER, pl.struct([pl.col(c) for c in raw_cols]).struct.json_encode().alias("raw_values")).join(
            reasons, on=ROW_NUMBER, how="inner", maintain_order="right"
        )
        if reasons.height
        else pl.DataFrame(schema={ROW_NUMBER: pl.Int64, "raw_values": pl.Utf8, "reason": pl.Utf8})
    )
    return Validated(good=good, rejected=rejected.select(ROW_NUMBER, "raw_values", "reason"), notes=notes)


def unnamed_totals(
    work: pl.DataFrame, source: Source, loaded_rows: Callable[[], pl.DataFrame] | None = None
) -> pl.Expr | None:
    """The reason of each row whose name or code cells are blank (no 合计 label either) and whose every figure is the
    sum of the file's other records' (for its own period when it states one): the table's total row, its label
    cell left empty or merged away. Before, it was refused as "missing value in city_code" as if a record had
    lost its name, which tells the office nothing. Only when the sums hold: a blank-named row that is no sum keeps
    its missing-value reason (a record that lost its name). ``loaded_rows``: the file's rows the SQL scan loaded
    (only the others are in ``work``), fetched only when a candidate row exists. None when no row is one."""
    names = [c.name for c in source.columns if c.name in source.key and c.dtype == "str" and not c.derived_from]
    values = [c.name for c in source.columns if c.dtype in ("int", "float") and c.name not in source.key]
    if not names or not values:
        return None
    rest = [k for k in source.key if k not in names and k in work.columns]
    open_row = pl.col("__whole").is_null()
    # blank as written: a name no unit bears (its code null once read) or an Excel error is no blank cell
    written = [
        pl.any_horizontal(
            [_txt(n).is_not_null()]
            + [pl.col(f + n).is_not_null() for f in ("__name:", "__err:") if f + n in work.columns]
        )
        for n in names
    ]
    blank = ~pl.any_horizontal(written) & open_row
    filled = pl.any_horizontal([pl.col(v).is_not_null() for v in values])
    candidates = work.filter(blank & filled)
    if candidates.height == 0:
        return None
    # a workbook's sheet (its rows' block of row numbers): a sheet's total sums that sheet's rows
    sheet = (pl.col(ROW_NUMBER) // SHEET_ROW_BLOCK).alias("__sheet")
    records = work.filter(pl.all_horizontal([_txt(n).is_not_null() for n in names]) & open_row).select(
        ROW_NUMBER, sheet, *rest, *values
    )
    if loaded_rows is not None:
        more = loaded_rows().select(ROW_NUMBER, sheet, *rest, *values)
        records = pl.concat([records, more.cast(records.schema)])
    # A subtotal closes the block of records above it: from the previous total (or note, or subtotal) on.
    bounds = sorted(set(candidates[ROW_NUMBER].to_list()) | set(work.filter(~open_row)[ROW_NUMBER].to_list()))

    def sums_hold(same: pl.DataFrame, row: dict) -> bool:
        if same.height < 2:
            return False  # the sum of one row is that row: no evidence of a total
        sums = same.select([pl.col(v).cast(pl.Float64).sum().alias(v) for v in values]).row(0, named=True)
        given = {v: float(row[v]) for v in values if row[v] is not None}
        return any(given.values()) and all(
            sums[v] is not None and abs(x - sums[v]) <= max(1.0, abs(x), abs(sums[v])) * 1e-9 for v, x in given.items()
        )

    found: dict[int, str] = {}
    for row in candidates.select(ROW_NUMBER, sheet, *rest, *values).iter_rows(named=True):
        stated = [k for k in rest if row[k] is not None]
        same = records.filter(pl.col("__sheet") == row["__sheet"], *[pl.col(k) == row[k] for k in stated])
        if sums_hold(same, row):
            found[row[ROW_NUMBER]] = (
                f"total row without a name: {', '.join(names)} blank and its figures the sums of the file's other "
                f"{same.height} rows, not a record"
            )
            continue
        since = max((b for b in bounds if b < row[ROW_NUMBER]), default=-1)
        block = same.filter(pl.col(ROW_NUMBER).is_between(since, row[ROW_NUMBER], closed="none"))
        if sums_hold(block, row):
            found[row[ROW_NUMBER]] = (
                f"subtotal row without a name: {', '.join(names)} blank and its figures the sums of the {block.height} "
                "rows above it, not a record"
            )
    if not found:
        return None
    return pl.col(ROW_NUMBER).replace_strict(found, default=None, return_dtype=pl.Utf8)


def breakdown_rows(work: pl.DataFrame, source: Source, own_units: frozenset[str] | None = None) -> list[str | None]:
    """Per row of ``work`` (file order), the reason refusing it as part of a 其中 ("of which") breakdown, else None.

    A provincial report lists a city's row and under it 其中：昆山市, 张家港市 — parts of the city's figures, which the
    marts would add into the city again (``Source.parts_add_up``: a county-level code is summed into its prefecture).
    The stated row wins, whether or not its parts add up to it: the block's rows are refused as breakdown rows. The
    block is the 其中 row and the rows after it inside the same prefecture (code[:4]) for the same period, on the same
    sheet. Under a total row (合计, a province code) the 其中 rows are the records themselves and stay as they are; so
    do 其中 rows of a source whose units do not add up (``parts_add_up`` None). The row above is named by its row on
    its sheet (the block never leaves the sheet).

    A breakdown row of a county-level programme unit (``own_units``) is refused all the same: the marts add a
    county-level unit's rows into its prefecture, so loading it would count it in its city twice. Its reason says
    what to send to have the unit's own figures: its row as a record of its own and the city's row without it."""
    col = source.parts_add_up
    out: list[str | None] = [None] * work.height
    if col is None:
        return out
    period = [k for k in source.key if k != col]
    rows = work.select(
        pl.col(ROW_NUMBER),
        pl.col("__breakdown"),
        pl.col("__whole"),
        pl.col(col),
        *[pl.col(k).cast(pl.Utf8).alias("__p:" + k) for k in period],
    ).rows()

    def unit(code) -> str | None:
        return code[:4] if isinstance(code, str) and len(code) == 6 and code.isdigit() else None

    i = 0
    while i < len(rows):
        rn, label, whole, code, *per = rows[i]
        if label is None or i == 0 or rows[i - 1][0] // SHEET_ROW_BLOCK != rn // SHEET_ROW_BLOCK:
            i += 1
            continue
        prn, _, pwhole, pcode, *pper = rows[i - 1]
        if pwhole is not None and pwhole.startswith("total row"):
            i += 1  # 其中 under a 合计 or a province: the rows are the records the total sums
            continue
        if unit(code) and unit(pcode) and (unit(code) != unit(pcode) or (all(per) and all(pper) and per != pper)):
            i += 1  # a unit outside the row above, or another month: a remark saying 其中…, not its breakdown
            continue
        indent = label.startswith(INDENTED)
        if indent and not (
            rows[i - 1][1] is None  # the row above is not itself indented or a breakdown
            and unit(code)
            and unit(code) == unit(pcode)
            and pcode.endswith("00")
            and not code.endswith("00")
        ):
            i += 1  # indented, but not a county right under its city's row: no evidence of a breakdown, loaded
            continue
        prefix = unit(code) or unit(pcode)
        block_period = per if all(v is not None for v in per) else pper
        stated = " ".join(str(v) for v in (pcode, *pper) if v is not None)
        reason = (
            f"breakdown row ({label[:20]}) under row {prn % SHEET_ROW_BLOCK} ({stated or 'no code'}): part of the "
            "figures that row states, not a record of its own (the stated row is loaded)"
        )
        out[i] = reason
        j = i + 1
        while j < len(rows) and rows[j][0] // SHEET_ROW_BLOCK == rn // SHEET_ROW_BLOCK:
            _, jlabel, jwhole, jcode, *jper = rows[j]
            inside = prefix is not None and unit(jcode) == prefix and list(jper) == list(block_period)
            if not inside and jlabel is None:
                break
            if indent and not (inside and jlabel is not None and jlabel.startswith(INDENTED)):
                break  # an indented block ends at the first row not indented or outside the city
            if jlabel is not None and not inside and unit(jcode) is not None:
                break  # another city's own 其中 block starts (judged from its own row above)
            out[j] = reason
            j += 1
        for k in range(i, j):
            c = rows[k][3]
            if out[k] is not None and own_units and c in own_units:
                out[k] = out[k] + "; " + _own_unit_advice(c, pcode)
        i = j
    return out


def _own_unit_advice(code: str, city: str | None) -> str:
    """What to send for a county-level programme unit found only as a breakdown row (breakdown_rows)."""
    return (
        f"{code} is a programme unit of its own, so its figures are not loaded for it either: send its row as a "
        f"record (no 其中 label) and the row of {city or 'its city'} without its figures (the marts add a "
        "county-level unit's rows into its city)"
    )


def _city_level_total(source: Source) -> pl.Expr:
    """A province (xx0000) or national code in a column that holds cities: the row is a total."""
    exprs = [
        pl.when(pl.col(c.name).str.contains(r"^\d{2}0000$") | pl.col(c.name).is_in(NATIONAL_CODES)).then(
            pl.format(
                "total row: {} code {} in {} where a city is expected",
                pl.when(pl.col(c.name).is_in(NATIONAL_CODES)).then(pl.lit("national")).otherwise(pl.lit("province")),
                pl.col(c.name),
                pl.lit(c.name),
            )
        )
        for c in source.columns
        if c.city_level
    ]
    return pl.coalesce(exprs) if exprs else pl.lit(None, pl.Utf8)


def _percent_column(source: Source, c: Column) -> bool:
    """A share column (per cent spellings are read by `_shares`, not as units)."""
    return c.ratio or bool(source.ratio_by_indicator and c.name in source.ratio_by_indicator[1])


def _shares(work: pl.DataFrame, source: Source, pct_cols: list[str]) -> tuple[pl.DataFrame, list[Check]]:
    """Share values: 0–1 as stored, per cent (94.1% or a (%) header) divided by 100; anything else refused.
    For targets the indicator says whether a value is a share (unit 比率 in the indicator catalog)."""
    checks: list[Check] = []
    if source.ratio_by_indicator:
        ind = source.ratio_by_indicator[0]
        is_share = pl.col(ind).is_in(sorted(ratio_indicators()))
    else:
        is_share = pl.lit(True)
    updates = []
    for c in pct_cols:
        pct = pl.col("__pct:" + c)
        updates.append(pl.when(is_share & pct).then(pl.col(c) / 100).otherwise(pl.col(c)).alias(c))
        label = pl.col(source.ratio_by_indicator[0]) if source.ratio_by_indicator else pl.lit(c)
        out_of_range = is_share & ((pl.col(c) < 0) | (pl.col(c) > 1))
        checks.append(
            (
                out_of_range & ~pct,
                pl.format(
                    "not a share in {} for {}: {} (a share is 0–1: write 0.941, 94.1% or use a (%) header)",
                    pl.lit(c),
                    label,
                    pl.col(c),
                ),
            )
        )
        checks.append(
            (
                out_of_range & pct,
                pl.format("per cent out of range in {} for {}: {}%", pl.lit(c), label, (pl.col(c) * 100).round(4)),
            )
        )
        checks.append(
            (
                ~is_share & pct,
                pl.format("per cent given in {} but {} is not a share", pl.lit(c), label),
            )
        )
    return work.with_columns(updates), checks


def _unit_hint(c: Column, ratio: pl.Expr, low: float | None, high: float | None) -> pl.Expr:
    """'; looks like 元, not 万元' when the value, read in another unit of its family, would be plausible."""
    if not c.unit:
        return pl.lit("")
    family = next(f for f in UNIT_FAMILIES.values() if c.unit in f)
    hint = pl.lit("")
    for u in reversed(family):  # the first plausible unit of the family's order wins
        if u == c.unit:
            continue
        conv = ratio * UNIT_SCALES[u] / UNIT_SCALES[c.unit]
        ok = pl.lit(True)
        if low is not None:
            ok = ok & (conv >= low)
        if high is not None:
            ok = ok & (conv <= high)
        hint = pl.when(ok).then(pl.lit(f"; looks like {u}, not {c.unit}")).otherwise(hint)
    return hint


def _record_rules(source: Source, work: pl.DataFrame, population: pl.DataFrame | None) -> list[Check]:
    """Plausibility of a record: a ratio of two of its values (or of a value to the unit's population)
    within the seed's thresholds. A value off by a power of ten says which unit it looks like."""
    thresholds = plausibility_thresholds()
    checks: list[Check] = []
    for rule in source.record_rules:
        low, high = thresholds.get(rule.rule_id, (None, None))
        if low is None and high is None:
            continue
        num = pl.col(rule.numerator)
        if rule.denominator == "population_10k":
            if population is None or population.height == 0:
                continue
            unit_col = next(c.name for c in source.columns if c.region_code)
            pop = dict(zip(population["region_code"].to_list(), population["population_10k"].to_list(), strict=True))
            den = pl.col(unit_col).replace_strict(pop, default=None, return_dtype=pl.Float64)
        else:
            den = pl.col(rule.denominator).cast(pl.Float64)
        ratio = num / den
        out = pl.lit(False)
        if low is not None:
            out = out | (ratio < low)
        if high is not None:
            out = out | (ratio > high)
        cond = (den > 0) & num.is_not_null() & (num > 0) & out
        c = source.column(rule.numerator)
        bounds = f"{low:g}" if low is not None else "0"
        bounds += f"–{high:g}" if high is not None else " or more"
        checks.append(
            (
                cond,
                pl.format(
                    "implausible {}: {} {} (plausible {}){}",
                    pl.lit(rule.numerator),
                    ratio.round(4),
                    pl.lit(rule.label),
                    pl.lit(bounds),
                    _unit_hint(c, ratio, low, high),
                ),
            )
        )
    return checks


def _known_codes(values: pl.Series, valid_codes: list[str]) -> list[str]:
    """The distinct codes in ``values`` that are valid: six digits, and the code or its prefecture
    (code[:4] + "00") is a known division. A few hundred distinct codes instead of millions of rows."""
    uniq = values.drop_nulls().unique().to_frame("v")
    ok = uniq.filter(
        pl.col("v").str.contains(r"^\d{6}$")
        & (pl.col("v").is_in(valid_codes) | (pl.col("v").str.slice(0, 4) + "00").is_in(valid_codes))
    )
    return ok["v"].to_list()


def _reasons(failed: pl.DataFrame, checks: list[Check]) -> pl.DataFrame:
    """ROW_NUMBER and the joined reason text of every failed rule, for the rows that failed at least one."""
    if failed.height == 0:
        return pl.DataFrame(schema={ROW_NUMBER: pl.Int64, "reason": pl.Utf8})
    texts = [pl.when(cond.fill_null(False)).then(text) for cond, text in checks]
    return failed.select(pl.col(ROW_NUMBER), pl.concat_str(texts, separator="; ", ignore_nulls=True).alias("reason"))


def other_row_label(sheets: list[dict] | None, other: str = "__first") -> pl.Expr:
    """The text naming row ``other`` beside the row ``ROW_NUMBER`` it is compared with: its sheet's row, with the
    sheet when it is another one (row numbers of later sheets are ordinal × SHEET_ROW_BLOCK + row)."""
    read = [str(s["sheet"]) for s in sheets or [] if s.get("status") == "read"]
    if not read:
        return pl.col(other).cast(pl.Utf8)
    ordinal = pl.col(other) // SHEET_ROW_BLOCK
    row = (pl.col(other) % SHEET_ROW_BLOCK).cast(pl.Utf8)
    if len(read) == 1:
        return row
    # "of hidden sheet": a row on a sheet nobody opening the workbook sees (an old version of the records, as a
    # rule) is named as such, else the conflict it makes reads as two visible rows disagreeing
    kinds = ["hidden sheet" if s.get("hidden") else "sheet" for s in sheets or [] if s.get("status") == "read"]
    sheet = ordinal.replace_strict(list(range(len(read))), pl.Series(read, dtype=pl.Utf8), default=None)
    kind = ordinal.replace_strict(list(range(len(read))), pl.Series(kinds, dtype=pl.Utf8), default="sheet")
    return (
        pl.when(ordinal == pl.col(ROW_NUMBER) // SHEET_ROW_BLOCK)
        .then(row)
        .otherwise(pl.format("{} of {} '{}'", row, kind, sheet))
    )


def same_value(a: pl.Expr, b: pl.Expr, dtype) -> pl.Expr:
    """Equal values (nulls equal each other; floats within a relative 1e-9): what makes a row repeating a key a
    duplicate rather than a conflict (within a file) or a correction (against an earlier file)."""
    if dtype.is_float():
        close = (a - b).abs() <= pl.max_horizontal(pl.lit(1.0), a.abs(), b.abs()) * 1e-9
        return (a.is_null() & b.is_null()) | (a.is_not_null() & b.is_not_null() & close.fill_null(False))
    return a.eq_missing(b)


def _duplicates(good: pl.DataFrame, source: Source, sheets: list[dict] | None = None) -> pl.DataFrame:
    """The rows refused for repeating a key within the file (ROW_NUMBER, reason; see repeated_key_reasons)."""
    key = list(source.key)
    empty = pl.DataFrame(schema={ROW_NUMBER: pl.Int64, "reason": pl.Utf8})
    if good.height == 0:
        return empty
    keyed = good.filter(pl.all_horizontal([pl.col(k).is_not_null() for k in key]))
    # Distinct hashes prove distinct keys; only when some hashes collide are the keys compared exactly.
    hashes = keyed[key[0]].hash() if len(key) == 1 else keyed.select(key).hash_rows()
    if hashes.n_unique() == keyed.height:
        return empty
    is_dup = keyed[key[0]].is_duplicated() if len(key) == 1 else keyed.select(key).is_duplicated()
    if not is_dup.any():
        return empty
    repeated = keyed.filter(is_dup).select(ROW_NUMBER, *[c.name for c in source.columns])
    return repeated_key_reasons(repeated, source, sheets)


# The other rows a conflict reason names: a key repeated hundreds of times names the first few and counts the rest
# (naming them all would write each row's reason as long as the file).
CONFLICT_ROWS_NAMED = 5


def repeated_key_reasons(repeated: pl.DataFrame, source: Source, sheets: list[dict] | None) -> pl.DataFrame:
    """ROW_NUMBER and reason of every row to refuse among ``repeated``: the rows of one file, each fine on its own,
    whose key another of them has too (ROW_NUMBER and the typed contract columns; both ingest paths word their
    reasons here).

    A key whose rows agree on every contract value loads its first row; the later ones are duplicates naming it
    (in a workbook with its sheet when the first is on another one: "same as row 2" alone read as the refused row
    itself). A key whose rows disagree loads none of them: which one is right cannot be told (a 汇总 sheet's
    cumulative figure before the month sheet's own), so each is refused naming the others and the columns in which
    the key's rows differ."""
    key = list(source.key)
    value_cols = [c.name for c in source.columns if c.name not in key]
    rows = repeated.sort(ROW_NUMBER)
    first = rows.group_by(key, maintain_order=True).agg(
        pl.col(ROW_NUMBER).first().alias("__first"), *[pl.col(c).first().alias("__first:" + c) for c in value_cols]
    )
    rows = rows.join(first, on=key, how="inner", maintain_order="left")
    # A column differs within a key when a row's value differs from the key's first row's (compared as a later
    # file's row is with the loaded one: a float within 1e-9 is the same figure).
    differs = rows.group_by(key, maintain_order=True).agg(
        *[(~same_value(pl.col(c), pl.col("__first:" + c), rows.schema[c])).any().alias(c) for c in value_cols]
    )
    differing = (
        pl.concat_str([pl.when(pl.col(c)).then(pl.lit(c)) for c in value_cols], separator=", ", ignore_nulls=True)
        if value_cols
        else pl.lit(None, pl.Utf8)
    )
    rows = rows.select(ROW_NUMBER, *key, "__first").join(
        differs.select(*key, pl.when(differing != "").then(differing).alias("__differing")),
        on=key,
        how="inner",
        maintain_order="left",
    )
    key_text = pl.concat_str([pl.col(k).cast(pl.Utf8) for k in key], separator="/")
    agreeing = rows.filter(pl.col("__differing").is_null())
    later = agreeing.filter(pl.col(ROW_NUMBER) != pl.col("__first"))
    duplicates = later.select(
        pl.col(ROW_NUMBER),
        pl.format("duplicate record: {} same as row {}", key_text, other_row_label(sheets, "__first")).alias("reason"),
    )
    conflicting = rows.filter(pl.col("__differing").is_not_null())
    if conflicting.height == 0:
        return duplicates
    # Each row beside the first few rows of its key (one more than are named: the row itself may be among them).
    named_rows = conflicting.group_by(key).agg(
        pl.col(ROW_NUMBER).head(CONFLICT_ROWS_NAMED + 1).alias("__other"), pl.len().cast(pl.Int64).alias("__rows")
    )
    pairs = (
        conflicting.join(named_rows, on=key, how="inner", maintain_order="left")
        .explode("__other")
        .filter(pl.col("__other") != pl.col(ROW_NUMBER))
    )
    unnamed = pl.col("__rows") - 1 - CONFLICT_ROWS_NAMED
    conflicts = (
        pairs.group_by(ROW_NUMBER, maintain_order=True)
        .agg(
            key_text.first().alias("__key"),
            pl.format("row {}", other_row_label(sheets, "__other"))
            .head(CONFLICT_ROWS_NAMED)
            .str.join(", ")
            .alias("__others"),
            pl.col("__rows").first(),
            pl.col("__differing").first(),
        )
        .select(
            pl.col(ROW_NUMBER),
            pl.format(
                "conflicting records: {} differs from {}{} in {} (no row of this key is loaded)",
                pl.col("__key"),
                pl.col("__others"),
                pl.when(unnamed > 0).then(pl.format(" and {} more rows", unnamed)).otherwise(pl.lit("")),
                pl.col("__differing"),
            ).alias("reason"),
        )
    )
    return pl.concat([duplicates, conflicts]).sort(ROW_NUMBER)


# Parts named in a reason: the first few codes (a city with many districts would write a reason as long as the file).
PARTS_NAMED = 5


def parts_and_totals(good: pl.DataFrame, source: Source, sheets: list[dict] | None = None) -> pl.DataFrame:
    """ROW_NUMBER and reason of the prefecture rows to refuse among a file's good rows: a prefecture's own row
    whose every figure is the sum of the rows of units inside it for the same rest of the key (the same month) is
    their total row (``Source.parts_add_up``: the marts add the units into the prefecture, so it would count them
    twice). A prefecture's row that is not their sum is its own part (the rest of the prefecture beside its
    county-level programme units, as the sample writes it) and loads with them. A row of zeros totals nothing."""
    col = source.parts_add_up
    empty = pl.DataFrame(schema={ROW_NUMBER: pl.Int64, "reason": pl.Utf8})
    if col is None or good.height == 0:
        return empty
    period = [k for k in source.key if k != col]
    values = [c.name for c in source.columns if c.dtype in ("int", "float") and c.name not in source.key]
    g = good.filter(pl.col(col).str.contains(r"^\d{6}$")).with_columns(
        (pl.col(col).str.slice(0, 4) + "00").alias("__unit")
    )
    g = g.with_columns((pl.col(col) == pl.col("__unit")).alias("__own"))
    groups = ["__unit", *period]
    both = (
        g.group_by(groups)
        .agg(pl.col("__own").any().alias("__has_own"), (~pl.col("__own")).any().alias("__has_part"))
        .filter(pl.col("__has_own") & pl.col("__has_part"))
        .select(groups)
    )
    if both.height == 0 or not values:
        return empty
    rows = g.join(both, on=groups, how="semi")
    own = rows.filter(pl.col("__own"))
    sums = (
        rows.filter(~pl.col("__own"))
        .group_by(groups)
        .agg(
            *[pl.col(v).sum().alias("__sum:" + v) for v in values],
            *[pl.col(v).count().alias("__n:" + v) for v in values],
            pl.col(col).sort().head(PARTS_NAMED).str.join(", ").alias("__codes"),
            pl.len().alias("__parts"),
        )
    )

    def equal(v: str) -> pl.Expr:
        a, b = pl.col(v).cast(pl.Float64), pl.col("__sum:" + v).cast(pl.Float64)
        close = (a - b).abs() <= pl.max_horizontal(pl.lit(1.0), a.abs(), b.abs()) * 1e-9
        return (a.is_null() & (pl.col("__n:" + v) == 0)) | (a.is_not_null() & close.fill_null(False))

    totals = own.join(sums, on=groups, how="inner", maintain_order="left").filter(
        pl.all_horizontal([equal(v) for v in values])
        & pl.any_horizontal([pl.col(v).cast(pl.Float64).fill_null(0) != 0 for v in values])
    )
    more = pl.when(pl.col("__parts") > PARTS_NAMED).then(pl.format(" and {} more", pl.col("__parts") - PARTS_NAMED))
    return totals.select(
        pl.col(ROW_NUMBER),
        pl.format(
            "total row: {} is the sum of the rows of units inside it ({}{}) for the same {} {} in this file, not a "
            "record of its own",
            pl.col(col),
            pl.col("__codes"),
            more.otherwise(pl.lit("")),
            pl.lit("/".join(period)),
            pl.concat_str([pl.col(k).cast(pl.Utf8) for k in period], separator="/"),
        ).alias("reason"),
    ).sort(ROW_NUMBER)


def name_key(name: str) -> str:
    """A unit's name as `validate` looks it up: NFKC, without invisible characters and white space."""
    import re
    import unicodedata

    return re.sub(r"\s+", "", re.sub(INVISIBLE_CHARS, "", unicodedata.normalize("NFKC", name)))


def period_total(raw: RawFrame, source: Source, work: pl.DataFrame, file_name: str) -> None:
    """Refuse a table whose title (or file name) states several months (2025年1-3月, 2025年第一季度, 截至2025年3月) when
    every row's month is the last of them: its figures are the period's (a quarter, a year to date) filed under that
    month, not the month's own. Before, a 一季度 report whose 统计月份 column said 2025-03 loaded the quarter as March,
    silently (every figure is plausible for a month). A table whose rows are the period's several months (1月, 2月,
    3月 under 2025年1-3月) is the months' own figures and loads."""
    if raw.title_span is None or source.partition_date != "month" or source.partition_date not in work.columns:
        return
    year, first, last, where, words = raw.title_span
    months = work.select(pl.col(source.partition_date).drop_nulls().unique()).to_series().to_list()
    if len(months) == 1 and year is None:
        year = months[0].year  # 1-3月, 一季度 without a year: the rows' year
    if len(months) == 1 and (months[0].year, months[0].month) == (year, last):
        raise IngestError(
            file_name,
            f"the {where} states several months ('{words}', {year}-{first:02d} to {year}-{last:02d}) and every row is "
            f"{year}-{last:02d}: the figures are the period's total, not the month's own (send each month's own "
            "figures, one row per month)",
        )


def title_month_differs(raw: RawFrame, source: Source, work: pl.DataFrame, file_name: str) -> None:
    """Refuse a table whose title states one month (2025年3月知识产权质押融资统计表) while every row's month is one
    other month (2025-04). The file disagrees with itself: last month's file copied and its title and figures
    updated but not its month column (every cell the same, easily left) loaded March's figures as April's, silently;
    which of the two is right cannot be told from the file. Rows of several months under a one-month title are
    left to the other rules."""
    if raw.title_month is None or source.partition_date != "month" or source.partition_date not in work.columns:
        return
    months = work.select(pl.col(source.partition_date).drop_nulls().unique()).to_series().to_list()
    if len(months) != 1 or (months[0].year, months[0].month) == raw.title_month:
        return
    year, month = raw.title_month
    raise IngestError(
        file_name,
        f"the title above the table states {year}-{month:02d} but every row's month is {months[0]:%Y-%m}: which month "
        "the figures are cannot be told (correct the title or the month column)",
    )


def running_totals(good: pl.DataFrame, source: Source, headers: list[str], file_name: str) -> None:
    """Refuse a table of several months per unit whose every figure rises month after month for every unit: a year to
    date (本年累计) written without the word 累计 anywhere (月份 | 登记笔数 reading 2, 5, 9). Loaded, each running total
    counted as that month's own figure, so a quarter's loans were summed three times into the year, silently: every
    figure is plausible for a month. The evidence is the whole file's: a single unit's series proves nothing (a small
    city's 1, 2, 3 registrations are as likely its months' own as a running total of one a month), so at least the
    seed's `running_total_units` units rise, every unit with three or more months of a year rises without a fall in
    every period column, and the rise is a running total's (the last month's sum at least the seed's
    `running_total_growth` x the first's: a year to date from January triples by March; or `running_total_months`
    months rising, half a year, over which monthly flows of lumpy loans fall at least once). A file whose headers say
    their figures are the month's own (本月登记笔数, 当月质押金额: ``headers``, the file's headers of the period
    columns) is believed. (A city's own file of its year to date stays unseen: one series cannot tell.)"""
    from pipelines.ingest.readers import _THIS_PERIOD_WORDS

    period = source.partition_date
    values = [v for v in source.period_columns if v in good.columns]
    units = [k for k in source.key if k != period]
    if period != "month" or not values or not units or good.height < 3 or period not in good.columns:
        return
    if any(re.search(_THIS_PERIOD_WORDS, unicodedata.normalize("NFKC", h)) for h in headers):
        return
    rows = (
        good.select(*units, period, *values)
        .drop_nulls([*units, period])
        .unique([*units, period], keep="first")
        .with_columns(pl.col(period).dt.year().alias("__year"))
        .sort([*units, "__year", period])
    )
    series = rows.group_by([*units, "__year"], maintain_order=True).agg(
        pl.col(period).count().alias("__months"),
        *[(pl.col(v).diff().drop_nulls() >= 0).all().alias("__up:" + v) for v in values],
        *[pl.col(v).drop_nulls().first().alias("__first:" + v) for v in values],
        *[pl.col(v).drop_nulls().last().alias("__last:" + v) for v in values],
        *[pl.col(v).cast(pl.Utf8).str.join(" → ").alias("__seq:" + v) for v in values],
        pl.col(period).dt.strftime("%Y-%m").str.join(" → ").alias("__seq_months"),
    )
    series = series.filter(pl.col("__months") >= 3)
    if series.height == 0 or not series.select(pl.all_horizontal(pl.col("^__up:.*$")).all()).item():
        return
    rising = series.filter(pl.any_horizontal([pl.col("__last:" + v) > pl.col("__first:" + v) for v in values]))
    growth, months_enough, units_enough = (
        plausibility_thresholds()[r][0] for r in ("running_total_growth", "running_total_months", "running_total_units")
    )
    if rising.height < units_enough:
        return
    sums = rising.select(
        *[pl.col("__first:" + v).sum() for v in values], *[pl.col("__last:" + v).sum() for v in values]
    )
    grown = any(
        (first := sums["__first:" + v][0] or 0) > 0 and (sums["__last:" + v][0] or 0) >= growth * first for v in values
    )
    if not grown and rising["__months"].max() < months_enough:
        return
    top = rising.sort("__months", descending=True).row(0, named=True)
    shown = next(v for v in values if top["__last:" + v] > top["__first:" + v])
    unit = "/".join(str(top[u]) for u in units)
    raise IngestError(
        file_name,
        f"figures rising month after month for every unit ({rising.height} of them, e.g. {unit} {shown}: "
        f"{top['__seq:' + shown]} in {top['__seq_months']}): running totals (本年累计), not each month's own "
        "figures, though no header says 累计 (send each month's own figures; if these are, head the columns 本月… "
        "such as 本月登记笔数)",
    )


class UnitNames(dict):
    """Name -> code (None: several units bear it), and what a name alone cannot tell: ``province_or_unit`` (a name
    that is both a province's and a unit's: 吉林 is 吉林省 and 吉林市, 海南 is 海南省 and 海南藏族自治州: name ->
    (province code, unit code)), ``area_stems`` (province prefix -> the county-level areas' names in it, with and
    without 区/县/市: 中山 is 中山市 in Guangdong and 中山区 in Dalian) and ``areas`` (a county-level area's full name ->
    its codes, for the reason of a district that is no unit)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.province_or_unit: dict[str, tuple[str, str]] = {}
        self.area_stems: dict[str, frozenset[str]] = {}
        self.areas: dict[str, list[str]] = {}
        # a county-level area's name without its kind (海淀, 浦东: _AREA_KIND) -> the codes of the areas bearing it
        self.area_by_stem: dict[str, list[str]] = {}
        # a name several units bear -> their codes (朝阳: 211300 in Liaoning, 110105 in Beijing when a programme unit)
        self.bearers: dict[str, list[str]] = {}
        # a former unit's name (襄樊市, 襄樊, 莱芜市, 巢湖) -> its record (reference.former_units), where no unit bears it
        self.former: dict[str, tuple[str, ...]] = {}


# A county-level area's name without its kind (南山区 -> 南山, 浦东新区 -> 浦东, 昌平县 -> 昌平): how a district table
# names its rows.
_AREA_KIND = r"(?:新区|自治县|自治旗|区|县|旗|市)$"


def unit_names_of(
    rows: list[tuple], areas: list[tuple[str, str]] | None = None, former: tuple[tuple[str, ...], ...] = ()
) -> UnitNames:
    """(code, full name, short name[, province name]) of the administrative divisions -> name -> code, for
    `validate`: the full name (深圳市), the short one (深圳) and the full one without its 市; a name several units bear
    maps to None. Besides these, the spellings offices write for a unit (each kept only where no unit bears it as
    its own name): an autonomous prefecture as its short name and 州 (延边州, 恩施州, 黔东南州: how the province's
    documents name them) or 自治州 (延边自治州), a prefecture that was a 地区 by its old name (海东地区 for 海东市,
    吐鲁番地区, 毕节地区: renamed 2011-2018, still typed from old templates), and any of the names after its
    province's full or short name (广东省深圳市, 广东深圳, 吉林延边州: national tables name a city with its province).
    Unread, such rows were refused as unknown city names. A province's own name (广东省, 广东, 内蒙古) is its
    province code (a province's row in a city column is its total); where a unit bears it too (吉林, 海南) the name
    is kept in ``province_or_unit`` for `validate` to decide by the file's other rows. ``areas`` (code, name) are
    the county-level divisions (reference.areas), for names of districts that are no unit."""
    import re

    def add(into: dict[str, str | None], key: str, code: str) -> None:
        into[key] = code if into.get(key, code) == code else None

    out = UnitNames()
    derived: dict[str, str | None] = {}
    provinces: dict[str, str] = {}
    full_names: dict[str, str] = {}
    for code, full, short, *province in rows:
        keys = {name_key(n) for n in (full, short) if n}
        keys |= {k[:-1] for k in keys if k.endswith("市") and len(k) > 2}
        for k in keys:
            add(out, k, code)
            out.bearers.setdefault(k, []).append(code)
        if full:
            full_names[code] = name_key(full)
        if full and short and name_key(full).endswith("自治州"):
            for k in (name_key(short) + "州", name_key(short) + "自治州"):
                add(derived, k, code)
        if full and short and name_key(full).endswith("市") and len(name_key(short)) >= 2:
            add(derived, name_key(short) + "地区", code)
        if full and name_key(full).endswith("新区") and len(name_key(full)) >= 4:
            add(derived, name_key(full)[:-2], code)  # 浦东新区 is 浦东, 滨海新区 滨海
        if province and province[0]:
            provinces[code] = name_key(province[0])
    for k, v in derived.items():
        out.setdefault(k, v)
    prefixed: dict[str, str | None] = {}
    bare_of: dict[str, str] = {}
    for k, code in list(out.items()):
        if code is None or code not in provinces:
            continue
        pk = provinces[code]
        bare = re.sub(r"(?:维吾尔|壮族|回族)?自治区$|特别行政区$|[省市]$", "", pk)
        bare_of[pk] = bare
        for prefix in {pk, bare} - {""}:
            if not k.startswith(prefix):
                add(prefixed, prefix + k, code)
    for k, v in prefixed.items():
        out.setdefault(k, v)
    # The provinces' own names. A municipality's (北京市, 北京) is its unit's (the municipality is the city).
    province_codes = {provinces[c]: c[:2] + "0000" for c in provinces}
    for pk, pcode in province_codes.items():
        for k in {pk, bare_of.get(pk, "")} - {""}:
            unit = out.get(k)
            if k not in out:
                out[k] = pcode
            elif unit is not None and full_names.get(unit) != pk:
                out.province_or_unit[k] = (pcode, unit)
    for code, name in areas or ():
        full = name_key(name)
        out.areas.setdefault(full, []).append(code)
        stem = re.sub(_AREA_KIND, "", full)
        for k in {full, stem} - {""}:
            out.area_stems.setdefault(code[:2], set()).add(k)  # type: ignore[union-attr]
        if stem and stem != full and len(stem) >= 2:  # a one-character stem (城区 -> 城) names nothing
            out.area_by_stem.setdefault(stem, []).append(code)
    out.area_stems = {p: frozenset(v) for p, v in out.area_stems.items()}
    out.bearers = {k: sorted(set(v)) for k, v in out.bearers.items() if out.get(k, "") is None}
    # Former units' names (``former``: reference.former_units), full and without 市: offices type them from old
    # templates (襄樊 for 襄阳). Read alone they were "unknown city name" or, where a district bears the name now
    # (思茅区, 莱芜区, county-level 巢湖市), a district's reason that does not say the unit changed. A name a unit
    # bears today is that unit's.
    for record in former:
        full = name_key(record[0])
        for k in {full, full[:-1] if full.endswith("市") and len(full) > 2 else full}:
            if k not in out:
                out.former.setdefault(k, tuple(record))
    return out
