"""How a number of each indicator is shown: unit in both languages, ratios as %, precision chosen per indicator.

The catalog's ``unit`` column is Chinese (件/万人, 比率, 天 …). Ratios (比率) are stored as fractions and shown
as percentages; other indicators keep their unit. Precision is chosen from the indicator's typical magnitude
so that two values that differ are shown differently (0.03 vs 0.034 must not both read 0.03).
"""

from __future__ import annotations

import json
import math
import re

from pipelines.labels import RANGE_DASH

from .i18n import norm_lang, t

RATIO_UNIT = "比率"
UNIT_EN = {
    "件/万人": "per 10k people",
    "人次/万人": "participants per 10k people",
    "场/百万人": "events per million people",
    "家/百万人": "enterprises per million people",
    "万元/亿元": "10k yuan per 100m yuan GDP",
    "件/千件": "per 1,000 in force",
    "天": "days",
    "%": "%",
    RATIO_UNIT: "%",
}


# The minus sign of a figure is U+2212 wherever it is shown: Plotly's and the grids' d3-format print "−", Python's
# format() prints a hyphen, and an official saw "−3.6" in a chart beside "-3.6" in the rule text for the same change.
MINUS = "\u2212"
# a hyphen is a sign when a digit follows and no digit, Latin letter or point precedes ("变化 -3.6", "(-2)"); a year
# range (2016-2020), a date (2025-06-30) or a code (COVID-19) keeps its hyphen
_SIGN = re.compile(r"(?<![0-9A-Za-z.])-(?=\d)")


# The range dash (U+2013) between the ends of a range of years, ranks or figures, in both languages: the pages wrote
# "2016–2020" while the calendar notes from the seed said "2016-2020" beside them (pipelines.labels.RANGE_DASH,
# which the marts' dbt macro year_range writes too).
# a hyphen between two years ("2016-2020", "2022-2024年"); a date (2025-06-30) or a month (2024-01) keeps it
_YEAR_RANGE = re.compile(r"(?<![\d-])((?:19|20)\d\d)-((?:19|20)\d\d)(?![\d-])")


def labelled(name: str, value, lang: str | None) -> str:
    """``name`` and its ``value`` as each language writes them (pure): "评定依据：…" with the full-width colon in Chinese,
    "Judged by: …" in English. The pages joined them with ": " in both, a Latin colon inside Chinese text."""
    return f"{name}：{value}" if norm_lang(lang) == "zh" else f"{name}: {value}"


def range_text(low, high) -> str:
    """``low``–``high`` with the range dash (pure)."""
    return f"{low}{RANGE_DASH}{high}"


def range_dashes(text: str | None) -> str | None:
    """``text`` with each range of years written with the range dash (pure): for texts the dashboard did not
    write (seed notes, the marts' sentences)."""
    return _YEAR_RANGE.sub(lambda m: range_text(m[1], m[2]), text) if text else text


def true_minus(text: str | None) -> str | None:
    """``text`` with every negative number's hyphen-minus replaced by the minus sign (pure)."""
    return _SIGN.sub(MINUS, text) if text else text


def fmt_number(value, digits: int = 1, signed: bool = False) -> str:
    """A figure with ``digits`` decimals, thousands separators and a true minus; "+" before a gain when
    ``signed``; "–" for a missing value (pure)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return true_minus(f"{value:{'+' if signed else ''},.{digits}f}")


def beijing_time(value) -> str:
    """A stored time as "2026-12-05 14:13" in Beijing time (pure): an ISO text or datetime with a zone ("Z",
    "+00:00") is converted (``pipelines.china_time``, the one definition); one without a zone was written on the
    machine's clock before times carried one (an older snapshot's publication time) and is shown as it is; "" for
    none."""
    from datetime import datetime

    from pipelines.china_time import china_time_text

    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return value.replace("T", " ")[:16]
    return china_time_text(value) if value.tzinfo is not None else value.strftime("%Y-%m-%d %H:%M")


def shown_time(value, lang: str | None) -> str:
    """Any stored time as a reader reads it (pure): in Beijing time and marked so ("2026-12-05 14:20 北京时间" /
    "… UTC+8"), through ``pipelines.china_time``. A datetime without a zone is a store's TIMESTAMP, which holds UTC
    (``china_time.utc_now``); ISO text without a zone is an older file's time on the writing machine's clock,
    shown as written and unmarked, since its zone is unknown; "" for none. The quality page's run selector,
    refusal times, provenance, saved scenarios and the file list showed times unmarked, some in UTC."""
    from datetime import datetime

    from pipelines.china_time import china_time_text

    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return value.replace("T", " ")[:16]
        if parsed.tzinfo is None:
            return parsed.strftime("%Y-%m-%d %H:%M")
        value = parsed
    return china_time_text(value, norm_lang(lang))


def is_ratio(unit: str | None) -> bool:
    return unit == RATIO_UNIT


def unit_label(unit: str | None, lang: str | None) -> str:
    """The unit as shown next to a value: '%' for ratios, else the catalog unit (English when asked)."""
    if not unit:
        return ""
    if is_ratio(unit):
        return "%"
    return UNIT_EN.get(unit, unit) if norm_lang(lang) == "en" else unit


# A ratio's formula gives a fraction (0.673): its unit is a ratio, never the % its shown value carries.
RATIO_UNIT_EN = "ratio"


def formula_unit(unit: str | None, lang: str | None) -> str:
    """The unit of a formula's own result in ``lang`` (pure): a ratio's formula computes a fraction, so 比率 /
    'ratio'; any other unit as beside a shown value. The catalog's Chinese unit leaked into the English UI."""
    if not unit:
        return ""
    if is_ratio(unit):
        return RATIO_UNIT_EN if norm_lang(lang) == "en" else unit
    return unit_label(unit, lang)


def display_scale(unit: str | None) -> float:
    return 100.0 if is_ratio(unit) else 1.0


def digits_for(values, unit: str | None = None) -> int:
    """Decimals that keep the typical value of this indicator readable: ~3 significant digits, at most 3."""
    scale = display_scale(unit)
    finite = [abs(v) * scale for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    finite = [v for v in finite if v > 0]
    if not finite:
        return 1
    typical = sorted(finite)[len(finite) // 2]
    # three significant digits for the typical value: its order of magnitude says how many are left for decimals
    return min(3, max(0, 2 - math.floor(math.log10(typical))))


def axis_tickformat(digits: int) -> str:
    """A value axis's d3 tick format: at most the hover's decimals, trailing zeros dropped, so the ticks of an
    axis running to 200 read 0, 50 … 200, not 0.00 … 200.00, while 0.25 keeps its digits (pure). d3-format puts the
    trim flag after the precision (``,.2~f``); the spec ``,~.2f`` is invalid, and Plotly then printed raw floats
    such as 0.6000000000000001 on the profile's small multiples."""
    return f",.{digits}~f"


def fmt_value(value, unit: str | None, digits: int, lang: str | None = None, with_unit: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    shown = value * display_scale(unit)
    text = fmt_number(shown, digits)
    if with_unit:
        u = unit_label(unit, lang)
        text = f"{text}%" if u == "%" else f"{text} {u}"
    return text


def axis_title(name: str, unit: str | None, lang: str | None) -> str:
    """'name (unit)' without repeating a unit the name already carries (结案周期中位数(天) → no '(天) (天)')."""
    u = unit_label(unit, lang)
    # ... nor a unit the name says in words ("Invention patents in force per 10k people" needs no "(per 10k people)")
    if not u or f"({unit})" in name or f"（{unit}）" in name or f"({u})" in name or (u != "%" and name.endswith(u)):
        return name
    return f"{name} ({u})"


def _display_width(text: str) -> int:
    """Width in half-width characters: a CJK character is as wide as two Latin ones."""
    return sum(2 if "\u2e80" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" else 1 for ch in text)


def wrap_axis_title(text: str, width: int = 40) -> str:
    """A long axis title in lines of at most ``width`` half-width characters, joined by Plotly's <br>: a vertical
    title longer than the plot ran past it into the chart title ("Invention patents in force per 10k people (per
    10k people)" at 420 px). English breaks between words; Chinese (no spaces) between characters (pure).
    Each line is escaped for Plotly's pseudo-HTML (``plot_text``): the title is an indicator's name, which is data,
    and only the <br> this function adds may be markup."""
    from .security import plot_text

    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if _display_width(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        for ch in word:  # a word (or a Chinese phrase) wider than a line is cut between characters
            if _display_width(line + ch) > width:
                lines.append(line)
                line = ""
            line += ch
    if line:
        lines.append(line)
    return "<br>".join(plot_text(x) for x in lines)


def strip_unit_suffix(name: str, unit: str | None) -> str:
    """Indicator name without a trailing '(unit)' it may carry, for places that add the unit themselves."""
    for suffix in (f"({unit})", f"（{unit}）"):
        if unit and name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def plotly_format(unit: str | None, digits: int) -> str:
    """A d3 format for hover/tick labels of values already multiplied by display_scale."""
    return f",.{digits}f"


def distinct_digits(values: list, unit: str | None, digits: int) -> int:
    """More decimals until the values that differ also read differently (current 0.031 vs target 0.034)."""
    present = [v for v in values if v is not None]
    while digits < 4:
        shown = {fmt_value(v, unit, digits) for v in present}
        if len(shown) == len(set(present)):
            break
        digits += 1
    return digits


def target_digits(rows: list[dict], units: dict[str, str | None]) -> dict[str, int]:
    """One precision per indicator for the whole target table (both plans' rows): a column of QLT01 read "74 … 232"
    on one row and "31.8 … 63.9" on the next. Chosen from all its values, then raised until every row's values
    that differ read differently."""
    values: dict[str, list] = {}
    for r in rows:
        values.setdefault(r["indicator_code"], []).extend(
            r.get(k) for k in ("baseline_value", "target_value", "current_value")
        )
    digits = {code: digits_for(v, units.get(code)) for code, v in values.items()}
    for r in rows:
        code = r["indicator_code"]
        row = [r.get("baseline_value"), r.get("target_value"), r.get("current_value")]
        digits[code] = distinct_digits(row, units.get(code), digits[code])
    return digits


# "中文名(English name)" — one name given in both languages, as an uploaded evaluator's name may be
_BILINGUAL = re.compile(
    r"^\s*(?P<zh>[^()（）]*[\u4e00-\u9fff][^()（）]*?)\s*[(（](?P<en>[^()（）\u4e00-\u9fff]*[A-Za-z][^()（）\u4e00-\u9fff]*)[)）]\s*$"
)


def language_part(text: str | None, lang: str | None) -> str | None:
    """The part of a free-text name in the page's language when it is written "中文(English)" (the sample's
    evaluator: "合成示例评估机构(SYNTHETIC sample evaluator)"); any other text as it is — data are never guessed
    at, and both parts of the sample's name say it is synthetic."""
    if not text:
        return text
    m = _BILINGUAL.match(text)
    if m is None:
        return text
    return m["en"].strip() if norm_lang(lang) == "en" else m["zh"].strip()


# The progress index is the share of the baseline-to-target gap closed (a fraction; the mart does not cap it). A
# whole gap either way is the most a reader can take as a share; beyond it the value only says the gap was tiny.
PROGRESS_SHOWN = 1.0


def progress_cells(progress: float | None, lang: str | None) -> dict:
    """Grid cells of a progress index (pure): ``progress_index`` the mart's value in per cent (sorting and
    filtering keep it), ``progress_text`` what is shown and ``progress_note`` its tooltip. Beyond ±100 % the
    cell reads "<−" / ">" the bound with a star, and the tooltip gives the value and why: −1,184 % alone read as a broken
    figure to an official (a closure rate from 51.7 % to 55.4 %, now 8.0 %)."""
    if progress is None:
        return {"progress_index": None, "progress_text": "–", "progress_note": None}
    pct = round(100 * progress)
    shown = f"{pct:,}".replace("-", "−")
    if abs(progress) <= PROGRESS_SHOWN:
        return {"progress_index": pct, "progress_text": shown, "progress_note": None}
    bound = round(100 * PROGRESS_SHOWN)
    text = f"<−{bound}*" if progress < 0 else f">{bound}*"
    return {
        "progress_index": pct,
        "progress_text": text,
        "progress_note": t("progress_beyond", lang).format(value=shown),
    }


def progress_column(lang: str | None) -> dict:
    """The grid column of ``progress_cells``: its text shown, the value and reason (else the index's definition)
    on hover, sorted by the mart's value."""
    hint = json.dumps(t("progress_hint", lang), ensure_ascii=False)
    return {
        "field": "progress_index",
        "headerName": t("progress", lang) + " ⓘ",
        "headerTooltip": t("progress_hint", lang),
        "type": "numericColumn",
        "valueFormatter": {"function": "params.data ? params.data.progress_text : ''"},
        "tooltipValueGetter": {"function": f"(params.data && params.data.progress_note) || {hint}"},
    }


def progress_footnote(rows: list[dict], lang: str | None) -> str | None:
    """The footnote under a grid of ``progress_cells`` rows when one of them is shown bounded (pure): what the
    star means, so it does not rely on the tooltip alone (a printout or a touch screen has none)."""
    return t("progress_beyond_note", lang) if any(r.get("progress_note") for r in rows) else None
