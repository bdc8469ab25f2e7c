"""Turn an all-text frame into typed contract rows plus a reason for every row that cannot be loaded.

Every rule is a vectorised Polars expression producing either null (row fine) or a reason text that names
the column and the offending value. A row with any reason is quarantined with all its reasons; the others
are loaded. Nothing is dropped silently: rows in = rows loaded + rows quarantined.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from pipelines.ingest.readers import ROW_NUMBER, IngestError, RawFrame, header_names, normalise_header
from pipelines.sources import Column, Source

_FORMULA_PREFIXES = ("=", "+", "@", "\t", "\r")

# Offices often write enumerations in Chinese; map them to the contract's codes.
ENUM_SYNONYMS: dict[str, str] = {
    "发明": "invention",
    "发明专利": "invention",
    "实用新型": "utility_model",
    "外观设计": "design",
    "企业": "enterprise",
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
    "正常": "active",
    "在建": "active",
    "整改": "rectification",
    "撤销": "withdrawn",
}

_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日", "%Y.%m.%d")
_MONTH_FORMATS = ("%Y-%m", "%Y/%m", "%Y年%m月", "%Y%m")
_TRUE = ("1", "true", "t", "yes", "y", "是", "√")
_FALSE = ("0", "false", "f", "no", "n", "否", "")
_TRUE_CASED = tuple({v for t in _TRUE for v in (t, t.upper(), t.capitalize())})
_FALSE_CASED = tuple({v for t in _FALSE for v in (t, t.upper(), t.capitalize())})


@dataclass
class Validated:
    good: pl.DataFrame  # contract columns typed, + year (partitioned sources), + ROW_NUMBER
    rejected: pl.DataFrame  # ROW_NUMBER, raw_values (JSON text), reason
    notes: list[str]


def map_columns(raw: RawFrame, source: Source, file_name: str) -> tuple[pl.DataFrame, list[str]]:
    """Rename file headers to contract names; convert unit-alias columns; fail on missing required columns."""
    known = header_names(source)
    renames: dict[str, str] = {}
    factors: dict[str, float] = {}
    extra: list[str] = []
    for col in raw.df.columns:
        if col.startswith("__"):
            continue
        key = normalise_header(col)
        target = known.get(key)
        if target is None and "__dup" in col and known.get(normalise_header(col.split("__dup")[0])):
            raise IngestError(
                file_name,
                f"column '{known[normalise_header(col.split('__dup')[0])]}' appears twice (header '{col.split('__dup')[0]}' repeated)",
            )
        if target is None:
            extra.append(col)
            continue
        if target in renames.values():
            raise IngestError(file_name, f"column '{target}' appears twice (as '{col}' and another header)")
        renames[col] = target
        for alias, factor in source.column(target).unit_aliases.items():
            if normalise_header(alias) == key:
                factors[target] = factor
    present = set(renames.values())
    missing = [c for c in source.columns if c.required and c.name not in present]
    if missing:
        expected = "; ".join(f"{c.name} (or {' / '.join(c.aliases[:2])})" if c.aliases else c.name for c in missing)
        raise IngestError(file_name, f"missing required column(s): {expected}")
    notes = []
    if extra:
        notes.append("ignored extra column(s): " + ", ".join(extra))
    for target, factor in factors.items():
        notes.append(f"converted {target} from another unit (x{factor:g})")
    df = raw.df.rename(renames).drop(extra)
    for c in source.columns:
        if c.name not in df.columns:
            df = df.with_columns(pl.lit(None, pl.Utf8).alias(c.name))
    return df, notes + [f"_factor:{k}={v}" for k, v in factors.items()]


def _clean_text(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Utf8).str.strip_chars().replace("", None)


_TXT = "__txt:"  # column prefix of the cleaned text while typed values and text sit side by side


def _txt(name: str) -> pl.Expr:
    return pl.col(_TXT + name)


def _parse_date(c: Column, txt: pl.Expr, *, fast: bool) -> pl.Expr:
    if fast:
        # The whole column is in the first format (checked by the caller): one parse instead of seven.
        return txt.str.to_date(_DATE_FORMATS[0], strict=False)
    base = txt.str.slice(0, 10).str.replace(r"[ T].*$", "")
    fmts = _MONTH_FORMATS + _DATE_FORMATS if c.name == "month" else _DATE_FORMATS
    candidates = []
    for f in fmts:
        src = base if "%d" in f else txt
        if f == "%Y%m":
            candidates.append(
                pl.when(src.str.contains(r"^\d{6}$")).then((src + "-01").str.to_date(f + "-%d", strict=False))
            )
        elif f in _MONTH_FORMATS:
            candidates.append((src + "-01").str.to_date(f + "-%d", strict=False))
        else:
            candidates.append(src.str.to_date(f, strict=False))
    # Excel serial day numbers (days since 1899-12-30) arrive when a date cell was formatted as a number.
    serial = txt.cast(pl.Float64, strict=False)
    candidates.append(
        pl.when(serial.is_between(20000, 80000)).then(
            pl.lit(date(1899, 12, 30)) + pl.duration(days=serial.cast(pl.Int64, strict=False))
        )
    )
    value = pl.coalesce(candidates)
    if c.name == "month":
        value = value.dt.month_start()
    return value


def _parse(c: Column, factor: float | None, txt: pl.Expr, *, fast: bool = False) -> pl.Expr:
    """The typed value of one column, from its cleaned text (null where the text cannot be read)."""
    if c.dtype == "str":
        value = txt.replace_strict(ENUM_SYNONYMS, default=txt) if c.allowed else txt
        if c.name in ("city_code", "region_code", "province_code", "parent_code"):
            # Excel turns codes into numbers ("320500.0"); codes are text of 6 digits.
            value = txt.str.replace(r"\.0+$", "")
        return value
    if c.dtype in ("int", "float"):
        num = txt.str.replace_all(",", "").str.replace_all("，", "").cast(pl.Float64, strict=False)
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


def _parse_checks(c: Column, factor: float | None, value: pl.Expr, txt: pl.Expr) -> list[Check]:
    if c.dtype in ("int", "float"):
        checks = [
            (
                txt.is_not_null() & value.is_null(),
                pl.format("not a number in {}: '{}'", pl.lit(c.name), txt.str.slice(0, 40)),
            )
        ]
        if c.dtype == "int":
            # the unrounded number, as the reason shows it
            num = txt.str.replace_all(",", "").str.replace_all("，", "").cast(pl.Float64, strict=False)
            if factor:
                num = num * factor
            frac = num.is_not_null() & ((num - num.round(0)).abs() > 1e-9)
            checks = [
                (txt.is_not_null() & num.is_null(), checks[0][1]),
                (frac, pl.format("not a whole number in {}: {}", pl.lit(c.name), num)),
            ]
        return checks
    if c.dtype == "date":
        return [
            (
                txt.is_not_null() & value.is_null(),
                pl.format("not a date in {}: '{}'", pl.lit(c.name), txt.str.slice(0, 40)),
            )
        ]
    if c.dtype == "bool":
        # the value is null exactly when the lower-cased text is neither a yes nor a no spelling
        return [
            (
                txt.is_not_null() & value.is_null(),
                pl.format("not a yes/no value in {}: '{}'", pl.lit(c.name), txt.str.slice(0, 40)),
            )
        ]
    return []


def _rules(c: Column, value: pl.Expr, raw_txt: pl.Expr, valid_codes: list[str] | None) -> list[Check]:
    r: list[Check] = []
    if c.required:
        r.append((raw_txt.is_null(), pl.lit(f"missing value in {c.name}")))
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
        r.append(
            (
                raw_txt.str.starts_with("=")
                | raw_txt.str.starts_with("+")
                | raw_txt.str.starts_with("@")
                | raw_txt.str.contains(r"^-[^0-9.\s]|^-[0-9.]+[-+*/=&|(]"),
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
            r.append(
                (
                    value < c.min_value,
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


def validate(
    raw: RawFrame,
    source: Source,
    file_name: str,
    *,
    partition: int | None,
    today: date,
    valid_codes: frozenset[str] | None,
) -> Validated:
    """Typed good rows and quarantined rows with every reason.

    Large files are mostly clean, so the work is split: first every rule is evaluated as a cheap boolean over
    materialised text and typed columns (no reason strings, each column cleaned and parsed once); then the
    reason texts are built only for the rows that failed a rule.
    """
    df, notes = map_columns(raw, source, file_name)
    factors = {n.split(":", 1)[1].split("=")[0]: float(n.split("=")[1]) for n in notes if n.startswith("_factor:")}
    notes = [n for n in notes if not n.startswith("_factor:")] + raw.notes
    codes = sorted(valid_codes) if valid_codes is not None else None

    raw_cols = [c.name for c in source.columns]
    flags = [f for f in ("__ragged", "__truncated") if f in df.columns]
    work = df.select(pl.col(ROW_NUMBER), *[_clean_text(c).alias(_TXT + c) for c in raw_cols], *flags)

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
    if source.partitioned:
        work = work.with_columns(pl.col(source.partition_date).dt.year().cast(pl.Int32).alias("year"))

    checks: list[Check] = []
    for c in source.columns:
        checks += _parse_checks(c, factors.get(c.name), pl.col(c.name), _txt(c.name))
        known = _known_codes(work[c.name], codes) if c.region_code and codes is not None else codes
        checks += _rules(c, pl.col(c.name), _txt(c.name), known)
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

    bad = work.select(pl.any_horizontal([cond.fill_null(False) for cond, _ in checks]).alias("__bad"))["__bad"]
    any_bad = bad.any()
    reasons = _reasons(work.filter(bad), checks)
    dup = _duplicates(work.filter(~bad) if any_bad else work, source)
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


def _duplicates(good: pl.DataFrame, source: Source) -> pl.DataFrame:
    """Second and later occurrences of a key within the file, naming the first row (ROW_NUMBER, reason)."""
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
    first = keyed.group_by(key).agg(pl.col(ROW_NUMBER).min().alias("__first"))
    later = keyed.join(first, on=key, how="inner").filter(pl.col(ROW_NUMBER) != pl.col("__first"))
    key_txt = pl.format(
        "duplicate record: {} same as row {}",
        pl.concat_str([pl.col(k).cast(pl.Utf8) for k in key], separator="/"),
        pl.col("__first"),
    )
    return later.select(pl.col(ROW_NUMBER), key_txt.alias("reason")).sort(ROW_NUMBER)
