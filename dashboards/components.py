"""Layout pieces shared by the pages, and access to the app's snapshot from inside a request."""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from pathlib import Path
from urllib.parse import urlencode

import dash_ag_grid as dag
import flask
import polars as pl
from dash import dcc, html

from .i18n import name_col, norm_lang, province_col, t
from .snapshot import SNAPSHOT_SCHEMA_VERSION, Snapshot, SnapshotUnavailable, SnapshotWrongVersion

log = logging.getLogger(__name__)

SNAPSHOT_KEY = "IPCITY_SNAPSHOT"
DOSSIER_KEY = "IPCITY_DOSSIER_DIR"
EXTRACTS_KEY = "IPCITY_EXTRACTS_DIR"
# The notice shown instead of any page when the snapshot is of another schema version.
SNAPSHOT_REFUSED_ID = "snapshot-refused"

# The strings of AG Grid's own menus that an official meets when sorting and filtering.
AG_GRID_LOCALE_ZH = {
    "filterOoo": "筛选…",
    "equals": "等于",
    "notEqual": "不等于",
    "contains": "包含",
    "notContains": "不包含",
    "startsWith": "开头是",
    "endsWith": "结尾是",
    "lessThan": "小于",
    "lessThanOrEqual": "小于等于",
    "greaterThan": "大于",
    "greaterThanOrEqual": "大于等于",
    "inRange": "介于",
    "inRangeStart": "从",
    "inRangeEnd": "到",
    "blank": "为空",
    "notBlank": "不为空",
    "andCondition": "且",
    "orCondition": "或",
    "applyFilter": "应用",
    "resetFilter": "重置",
    "clearFilter": "清除",
    "cancelFilter": "取消",
    "noRowsToShow": "无数据",
    "loadingOoo": "加载中…",
    "page": "第",  # "第 1 / 4 页": the closing 页 is the stylesheet's (.ag-paging-description::after)
    "of": "/",
    "to": "至",
    "more": "更多",
    "next": "下一页",
    "previous": "上一页",
    "first": "首页",
    "last": "末页",
    "pageSizeSelectorLabel": "每页行数：",
    # the pager's buttons as a screen reader names them (their aria-label read "First Page", "Page Size" in Chinese)
    "firstPage": "首页",
    "previousPage": "上一页",
    "nextPage": "下一页",
    "lastPage": "末页",
    "ariaPageSizeSelectorLabel": "每页行数",
    "searchOoo": "搜索…",
    "selectAll": "全选",
    "columns": "列",
    "pinColumn": "固定列",
    "autosizeThisColumn": "自动调整此列",
    "autosizeAllColumns": "自动调整所有列",
    "resetColumns": "重置列",
    "sortAscending": "升序",
    "sortDescending": "降序",
    "sortUnSort": "取消排序",
}


# dcc.Dropdown's own strings ("3 selected", "Search", "Select All" ...).
DROPDOWN_LABELS = {
    "zh": {
        "select_all": "全选",
        "deselect_all": "取消全选",
        "selected_count": "已选{num_selected}项",
        "search": "搜索",
        "clear_search": "清除搜索",
        "clear_selection": "清除选择",
        "no_options_found": "无匹配选项",
    },
    "en": {
        "select_all": "Select all",
        "deselect_all": "Deselect all",
        "selected_count": "{num_selected} selected",
        "search": "Search",
        "clear_search": "Clear search",
        "clear_selection": "Clear selection",
        "no_options_found": "No options found",
    },
}
PLACEHOLDER = {"zh": "请选择…", "en": "Select…"}


def dropdown(component_id: str, lang: str, **kwargs) -> dcc.Dropdown:
    """dcc.Dropdown with its built-in strings and placeholder in the page language."""
    lang = norm_lang(lang)
    kwargs.setdefault("placeholder", PLACEHOLDER[lang])
    return dcc.Dropdown(id=component_id, labels=DROPDOWN_LABELS[lang], **kwargs)


# Grid column option: one decimal, so 90 and 90.4 line up in a column (d3-format ships with dash-ag-grid).
# A number that is not there reads "–", as everywhere else on the dashboard: an empty cell in a numeric column (the
# provinces' spread of a one-city province, an acceptance score not yet due) looked like a broken table.
# Every number format below carries AG Grid's "numericColumn" type: figures right-aligned (header too), so digits
# line up by place; the provinces grid showed its figures flush left under a left header.
NUMERIC = {"type": "numericColumn"}
ONE_DECIMAL = {
    **NUMERIC,
    "valueFormatter": {"function": "params.value == null ? '–' : d3.format('.1f')(params.value)"},
}
# The composite index beside a performance group: the row's composite_index_text (pipelines.labels.index_text,
# one decimal unless that would put the figure in another group than the one shown), the value kept for sorting.
INDEX_TEXT = {
    **NUMERIC,
    "valueFormatter": {"function": "params.value == null ? '–' : params.data.composite_index_text"},
}
# A score of the acceptance scale (0-100, banded at the rules seed's ACC thresholds) as the row's <field>_text
# (pipelines.evaluation.rules.acceptance_score_text: cut at two decimals, so 59.96 never reads "60.0" as d3's
# rounding made it, above a threshold it is under), the value kept for sorting.
SCORE_TEXT = {
    **NUMERIC,
    "valueFormatter": {"function": "params.value == null ? '–' : params.data[params.colDef.field + '_text']"},
}
# Ranks and counts: whole numbers, never "58.0", with thousands separators (1,832,020 rows, as on the cards).
INTEGER = {**NUMERIC, "valueFormatter": {"function": "params.value == null ? '–' : d3.format(',d')(params.value)"}}
# Shares stored as fractions, shown as percentages.
PERCENT = {**NUMERIC, "valueFormatter": {"function": "params.value == null ? '–' : d3.format('.1%')(params.value)"}}


def snapshot() -> Snapshot:
    return flask.current_app.config[SNAPSHOT_KEY]


def dossier_dir() -> Path:
    return Path(flask.current_app.config[DOSSIER_KEY])


def current_user() -> str | None:
    """The signed-in user's name (Flask-Login session); never a client-sent header."""
    from .access import current_principal

    return current_principal().username


def extracts_dir() -> Path:
    return Path(flask.current_app.config[EXTRACTS_KEY])


def href(path: str, lang: str, **params) -> str:
    query = {"lang": norm_lang(lang), **{k: v for k, v in params.items() if v not in (None, "", [])}}
    return f"{path}?{urlencode(query)}"


def unit_options(units: pl.DataFrame, lang: str) -> list[dict]:
    """Dropdown options 'City (Province)'; searchable by either name. A name that already ends with its province
    (English names shared by two cities, queries.with_english_names: "Taizhou (Jiangsu)") is not given it twice."""
    name, prov = name_col(lang), province_col(lang)
    open_, close = ("（", "）") if norm_lang(lang) == "zh" else (" (", ")")

    def text(r: dict) -> str:
        suffix = f"{open_}{r[prov]}{close}"
        return r[name] if r[name].endswith(suffix) else f"{r[name]}{suffix}"

    return [
        {
            "label": text(r),
            "value": r["unit_code"],
            "search": f"{r['unit_name']} {r['unit_name_en']} {r['unit_code']}",
        }
        for r in units.iter_rows(named=True)
    ]


def page_title(key: str, lang: str, subtitle: str | None = None) -> html.Div:
    children = [html.H1(t(key, lang), className="ipc-page-title")]
    if subtitle:
        children.append(html.P(subtitle, className="ipc-page-subtitle"))
    return html.Div(children, className="ipc-page-head")


def unavailable(lang: str, key: str = "not_available") -> html.Div:
    return html.Div(t(key, lang), className="ipc-unavailable")


def control(label_text: str, component) -> html.Div:
    return html.Div([html.Label(label_text, className="ipc-label"), component], className="ipc-control")


def year_dropdown(component_id: str, years: list[int], value: int | None, lang: str) -> html.Div:
    return control(
        t("year", lang),
        dropdown(
            component_id,
            lang,
            options=[{"label": str(y), "value": y} for y in reversed(years)],
            value=value,
            clearable=False,
            searchable=False,
            className="ipc-dropdown ipc-year",
        ),
    )


def card(title: str, value: str, element_id: str | None = None, note: str | None = None) -> html.Div:
    """A headline figure; ``note``: whose figure it is and of which year ("全国 · 2025年"), under the title."""
    kwargs = {"id": element_id} if element_id else {}
    children = [html.Div(value, className="ipc-card-value"), html.Div(title, className="ipc-card-title")]
    if note:
        children.append(html.Div(note, className="ipc-card-note"))
    return html.Div(children, className="ipc-card", **kwargs)


def section(title: str, *children, className: str = "") -> html.Section:
    return html.Section(
        [html.H2(title, className="ipc-section-title"), *children], className=f"ipc-section {className}".strip()
    )


# What a chart shows until its callback answers: nothing. Without a figure dcc.Graph drew empty axes from −1 to 6,
# which before the data arrived (a slow server, 1920 px) read as a broken chart.
BLANK_FIGURE = {"data": [], "layout": {"xaxis": {"visible": False}, "yaxis": {"visible": False}}}


# Every chart's configuration. Plotly's tool bar has a "Share chart..." button (showSendToCloud, on by default in
# plotly.js 3) that opens cloud.plotly.com and posts it the whole figure, data included: one click sent a page's
# figures (a province's flagged cities, their indices) to a service outside the office. Off on every chart, and no
# server to send to.
GRAPH_CONFIG = {"displaylogo": False, "showSendToCloud": False, "plotlyServerURL": ""}
# The tool bar's tips in Chinese on the Chinese pages ("Download plot as a PNG", "Zoom", "Pan", "Reset axes" read in
# English on hover): Plotly's own zh-CN words (plotly.js lib/locales/zh-cn.js), its dictionary only, so numbers and
# dates keep the format every page and export uses. In each chart's configuration: registered from a script once
# Plotly had loaded, the first charts were drawn before it.
PLOTLY_ZH = {
    "Autoscale": "自动缩放",
    "Box Select": "矩形框选择",
    "Double-click to zoom back out": "双击返回缩小显示",
    "Download plot": "下载图表",
    "Download plot as a png": "下载图表为PNG格式",
    "Download plot as a PNG": "下载图表为PNG格式",
    "Lasso Select": "套索选择",
    "Pan": "平移",
    "Reset": "重置",
    "Reset axes": "重置轴",
    "Reset view": "重置视图",
    "Reset views": "重置视图",
    "Show closest data on hover": "悬停时显示最近的数据",
    "Snapshot succeeded": "生成快照成功",
    "Sorry, there was a problem downloading your snapshot!": "抱歉，下载快照出现问题！",
    "Taking snapshot - this may take a few seconds": "正在生成快照 - 可能需要几秒钟",
    "Toggle Spike Lines": "切换显示数据点辅助线",
    "Toggle show closest data on hover": "切换悬停时显示最近的数据点",
    "Zoom": "缩放",
    "Zoom in": "放大",
    "Zoom out": "缩小",
}


def graph_config(lang: str | None, **extra) -> dict:
    """A chart's configuration in the page's language (pure): GRAPH_CONFIG, and in Chinese Plotly's zh-CN words."""
    if norm_lang(lang) != "zh":
        return {**GRAPH_CONFIG, **extra}
    return {**GRAPH_CONFIG, "locale": "zh-CN", "locales": {"zh-CN": {"dictionary": PLOTLY_ZH}}, **extra}


def graph(component_id: str, height: int | None = None, lang: str | None = None) -> dcc.Graph:
    # Passing style=None would send null to the client, which dcc.Graph cannot render.
    extra = {"style": {"height": f"{height}px"}} if height else {}
    config = graph_config(lang)
    return dcc.Graph(id=component_id, figure=BLANK_FIGURE, config=config, className="ipc-graph", **extra)


# Header widths (px): a CJK character, a Latin character (bold, 15 px type) and what a header cell adds around its
# text (padding, filter and sort icons). Estimates on the generous side: a header that fits is the point.
_CJK_PX, _LATIN_PX, _HEADER_CHROME_PX = 16, 9, 60
# A header without a filter button has no ~24 px button to leave room for: counting it anyway made the watchlist,
# provinces and ambition grids (sorted, not filtered) wider than a 1366 px window, so they scrolled sideways.
_HEADER_CHROME_NO_FILTER_PX = 36
# Where a Chinese header may break (style.css keeps CJK runs whole in grid headers: word-break: keep-all).
_HEADER_BREAKS = re.compile(r"\s+|(?=[（(])|(?<=[）)、/，,-])")  # a browser breaks after a hyphen too


def _text_px(text: str) -> int:
    return sum(_CJK_PX if unicodedata.east_asian_width(ch) in ("W", "F") else _LATIN_PX for ch in text)


def header_min_width(header: str | None, filtered: bool = True) -> int:
    """The narrowest column whose header wraps only between words: the widest unbreakable piece of the header
    (an English word, or a run of Chinese up to a space or bracket) plus the cell's icons and padding (pure).
    Without it a responsive grid squeezed headers to "绩效分/组" and "Perfo…" at 1440 px."""
    pieces = [p for p in _HEADER_BREAKS.split((header or "").replace(" ⓘ", "")) if p]
    chrome = _HEADER_CHROME_PX if filtered else _HEADER_CHROME_NO_FILTER_PX
    return max((_text_px(p) for p in pieces), default=0) + chrome


def fit_headers(column_defs: list[dict] | None) -> list[dict]:
    """Column definitions with each column's ``minWidth`` raised to fit its header (``header_min_width``); column
    groups are fitted through their children; a column's own larger minWidth is kept (pure)."""
    out = []
    for col in column_defs or []:
        col = dict(col)
        if "children" in col:
            col["children"] = fit_headers(col["children"])
        elif col.get("headerName") and not col.get("hide"):
            floor = header_min_width(col["headerName"], col.get("filter", True) is not False)
            col["minWidth"] = max(col.get("minWidth") or GRID_MIN_WIDTH, floor)
            if col.get("maxWidth") is not None and col["maxWidth"] < col["minWidth"]:
                col["maxWidth"] = col["minWidth"]
        out.append(col)
    return out


GRID_MIN_WIDTH = 100


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# A figure written as text by a page (pipelines.labels / formatting): an optional sign (true minus or plus), digits
# with thousands separators and decimals, then at most a per cent sign, a unit after a space or a bracketed note
# ("12.3 件/万人", "−3.6", "+8", "45.0%", "3（并列）", "3 (tied)"), a per cent with its year too ("51.7% (2020)",
# the targets page). A year range ("2016–2020"), a date, or a code of digits alone ("440300", a unit's code in a
# file preview) is not one.
_FIGURE_TEXT = re.compile(r"[+\u2212-]?\d[\d,]*(\.\d+)?(%(\s?[（(].*[）)])?|\s\S.*|\s?[（(].*[）)])?")
MISSING_TEXT = "–"


def _is_figure(value) -> bool:
    if not isinstance(value, str):
        return _is_number(value)
    return _FIGURE_TEXT.fullmatch(value.strip()) is not None


def _is_code(value) -> bool:
    """Digits alone as text: a code, or a figure (a rank beside "3（并列）"); neither makes a column one of figures."""
    return isinstance(value, str) and value.strip().isdigit()


# A time as the grids show it (pipelines.china_time.china_time_text), with its zone's name or without: its column's
# cells wrap between words only, so a narrow column never splits "北京时间" into "北京时" and "间".
KEEP_WORDS_CLASS = "ipc-keep-words"
_TIME_TEXT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d(?: \S+)?")


def _all_times(values) -> bool:
    shown = [v for v in values if v not in (None, "", MISSING_TEXT)]
    return bool(shown) and all(isinstance(v, str) and _TIME_TEXT.fullmatch(v) for v in shown)


def align_numbers(column_defs: list[dict], row_data: list[dict] | None) -> list[dict]:
    """Column definitions with every column of figures right-aligned (pure): a column whose values in
    ``row_data`` are all figures (numbers, or figures a page wrote as text with their unit: "12.3 件/万人"; "–" for
    none) gets the "numericColumn" type when it has no type of its own, so a figure is never left flush left
    because its page forgot the option (the provinces grid's counts and shares, the target page's values)."""
    out = []
    for col in column_defs:
        col = dict(col)
        if "children" in col:
            col["children"] = align_numbers(col["children"], row_data)
        else:
            if "type" not in col and row_data:
                values = [r.get(col.get("field")) for r in row_data]
                values = [v for v in values if v is not None and v != "" and v != MISSING_TEXT]
                shown = [v for v in values if not _is_code(v)]
                if shown and all(_is_figure(v) for v in values):
                    col["type"] = NUMERIC["type"]
            if row_data and _all_times(r.get(col.get("field")) for r in row_data):
                col["cellClass"] = " ".join(filter(None, [col.get("cellClass"), KEEP_WORDS_CLASS]))
            if col.get("tooltipField") and "wrapText" not in col:
                # a long note whose whole text is the cell's tooltip stays one line (the grid's default wraps)
                col |= {"wrapText": False, "autoHeight": False}
        out.append(col)
    return out


# A cell's text in the grid's 15 px type: what a Latin character or digit takes at most (estimate on the generous
# side, as the headers'), and the padding either side of a dense grid's cells (style.css .ipc-grid-dense sets the
# same 8 px: the theme's 16 px either side took 380 px of the alerts grid's 1,250 at 1366 px).
_CELL_LATIN_PX = 9
DENSE_CELL_PADDING_PX = 8
# Where a cell's text may break: at a space. A date, a time, an id or a Latin word is one piece ("2026-12-05" broke
# after its hyphens); a run of Chinese breaks between characters unless the column keeps words (KEEP_WORDS_CLASS).
_CJK_RUN = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]+")


def _pieces(text: str, keep_words: bool) -> list[str]:
    out = []
    for word in str(text).split():
        if keep_words:
            out.append(word)
            continue
        # each Chinese character may start a line: a Latin piece between them is what stays whole
        out += [p for p in _CJK_RUN.split(word) if p] + [ch for run in _CJK_RUN.findall(word) for ch in run]
    return out


def _cell_text_px(text: str) -> int:
    return sum(_CJK_PX if unicodedata.east_asian_width(ch) in ("W", "F") else _CELL_LATIN_PX for ch in text)


def value_min_width(values, keep_words: bool = False, padding_px: int = DENSE_CELL_PADDING_PX) -> int:
    """The narrowest column whose cells break only where their text may (at a space, between Chinese characters
    unless ``keep_words``): the widest such piece of ``values`` plus the cell's padding either side (pure)."""
    widest = max((_cell_text_px(p) for v in values if v not in (None, "") for p in _pieces(v, keep_words)), default=0)
    return widest + 2 * padding_px


def fit_values(column_defs: list[dict], row_data: list[dict] | None, fields: set[str] | frozenset[str]) -> list[dict]:
    """Column definitions with the columns named in ``fields`` at least as wide as their values' widest unbreakable
    piece (``value_min_width``) and never narrower than their header's floor, sized from the rows the grid shows
    (pure). A column's maxWidth, where narrower, gives way: a fixed width that was right for one set of alerts cut
    another set's ids and dates ("a6785d8" / "f", "2026-12-" / "05" at 1366 px)."""
    out = []
    for col in column_defs:
        col = dict(col)
        if col.get("field") in fields and row_data:
            keep = KEEP_WORDS_CLASS in str(col.get("cellClass") or "")
            need = value_min_width([r.get(col["field"]) for r in row_data], keep)
            col["minWidth"] = max(col.get("minWidth") or 0, need)
            if col.get("maxWidth") is not None and col["maxWidth"] < col["minWidth"]:
                col["maxWidth"] = col["minWidth"]
        out.append(col)
    return out


def unknown_year_notice(requested, years: list[int], shown: int | None, lang: str) -> list:
    """A notice when the link names a year the published data do not hold (pure): the page showed the latest year
    under it without a word, so a bookmark of 2014, or a mistyped year, read as that year's figures. The profile says
    the same of an unknown city (profile.unknown_unit_notice)."""
    if requested in (None, "") or shown is None:
        return []
    try:
        if int(requested) in years:
            return []
    except (TypeError, ValueError):
        pass
    text = t("unknown_year", lang).format(year=str(requested)[:32], shown=shown)
    return [html.P(text, className="ipc-unavailable", role="status")]


def grid_columns(column_defs: list[dict] | None, row_data: list[dict] | None) -> list[dict]:
    """A grid's column definitions as every grid gets them (pure): each column as wide as its header needs and
    every column of figures right-aligned. ``grid`` applies it; a callback that sets a grid's ``columnDefs`` returns
    its columns through it too (the compare and target grids set theirs in callbacks and missed the alignment)."""
    return align_numbers(fit_headers(column_defs), row_data)


# Every grid's cells: text wraps onto more lines instead of ending in "…" (the programmes page cut "National IP
# strong-city demonstratio…", "Third-party evaluation p…" and "Plan 20…" in English), and a cell with nothing in it
# reads "–" like every missing figure (the 2012–2016 cohorts' empty "Designated" looked like a broken table). A
# column's own formatter (numbers, progress) takes precedence.
DEFAULT_COLUMN = {
    "sortable": True,
    "filter": True,
    "resizable": True,
    "floatingFilter": False,
    "minWidth": None,  # set below (GRID_MIN_WIDTH)
    "wrapHeaderText": True,
    "autoHeaderHeight": True,
    "wrapText": True,
    "autoHeight": True,
    "valueFormatter": {"function": "params.value == null || params.value === '' ? '–' : params.value"},
}


KEYBOARD_GRID_OPTIONS = {"tabToNextCell": {"function": "false"}, "tabToNextHeader": {"function": "false"}}


def grid(
    component_id: str,
    lang: str,
    column_defs: list[dict] | None = None,
    row_data: list[dict] | None = None,
    height: int | None = 520,
    pagination: bool = True,
    dense: bool = False,
    **grid_options,
) -> dag.AgGrid:
    """An AG Grid with the app's defaults; ``height=None`` sizes it to its rows (small tables). ``dense``: cells
    padded DENSE_CELL_PADDING_PX either side (a grid of many short values, such as the alerts')."""
    options = {
        "pagination": pagination,
        "paginationPageSize": 50,
        "animateRows": False,
        "enableCellTextSelection": True,
        # One tab stop per grid, arrows inside it (the WAI-ARIA grid pattern): AG Grid moved Tab from cell to cell,
        # so a keyboard user passed 168 cells of the targets page's province table to reach the next control.
        # Returning false hands Tab back to the browser; from a header the arrow keys go down into the rows.
        **KEYBOARD_GRID_OPTIONS,
        **grid_options,
    }
    if height is None:
        options["domLayout"] = "autoHeight"
    if norm_lang(lang) == "zh":
        options["localeText"] = AG_GRID_LOCALE_ZH
    return dag.AgGrid(
        id=component_id,
        columnDefs=grid_columns(column_defs, row_data),
        # no rows given: AG Grid's loading overlay (加载中… / Loading…) until the callback fills it; an empty list
        # showed "无数据 / No rows" before the data arrived, as if there were none
        rowData=row_data,
        defaultColDef={**DEFAULT_COLUMN, "minWidth": GRID_MIN_WIDTH},
        dashGridOptions=options,
        columnSize="responsiveSizeToFit",
        style={"height": f"{height}px"} if height else {"width": "100%"},
        className="ipc-grid ipc-grid-dense" if dense else "ipc-grid",
    )


def records(df: pl.DataFrame, float_digits: int = 1, lang: str | None = None) -> list[dict]:
    """Grid rows: floats rounded for display, dates as strings (JSON-safe). A time (a store's TIMESTAMP, UTC) is
    shown in Beijing time, marked 北京时间 / UTC+8 in ``lang`` when given: the quality page's runs showed the store's
    UTC as if it were the reader's time."""
    from pipelines.china_time import china_time_text

    exprs = []
    for name, dtype in df.schema.items():
        if dtype.is_float():
            exprs.append(pl.col(name).round(float_digits))
        elif dtype == pl.Datetime or isinstance(dtype, pl.Datetime):
            exprs.append(
                pl.col(name).map_elements(
                    lambda v: china_time_text(v, lang and norm_lang(lang)), return_dtype=pl.String
                )
            )
        elif dtype.is_temporal():
            exprs.append(pl.col(name).cast(pl.String))
    return (df.with_columns(exprs) if exprs else df).to_dicts()


def guarded(view):
    """Render a page layout, or a notice instead of a traceback when no snapshot has been published yet."""

    @functools.wraps(view)
    def wrapper(lang: str | None = None, **kwargs):
        # Dash's router passes a parameter repeated in the URL (?unit=a&unit=b) as a list; a page reads one value,
        # the last, as the language links do (app._lang_from_search). The access gate checked every one of them.
        kwargs = {k: v[-1] if isinstance(v, list) and v else v for k, v in kwargs.items()}
        lang = norm_lang(lang[-1] if isinstance(lang, list) and lang else lang)
        try:
            return html.Div(view(lang=lang, **kwargs), className="ipc-page", lang="en" if lang == "en" else "zh-CN")
        except SnapshotWrongVersion as exc:
            log.error("%s", exc)
            text = t("wrong_snapshot_version", lang).format(found=exc.found or "–", expected=SNAPSHOT_SCHEMA_VERSION)
            return html.Div(html.Div(text, className="ipc-unavailable", id=SNAPSHOT_REFUSED_ID), className="ipc-page")
        except SnapshotUnavailable:
            log.warning("no snapshot at %s", snapshot().path)
            return html.Div(unavailable(lang, "no_snapshot"), className="ipc-page")

    return wrapper


def url_stores(prefix: str, keys: list[str]) -> list:
    """Stores of a page's URL state: the query keys its controls write (see url_sync)."""
    return [dcc.Store(id=f"{prefix}-url"), dcc.Store(id=f"{prefix}-url-keys", data=keys)]


def url_sync(app, prefix: str, inputs: list[tuple[str, str]]) -> None:
    """Write the values of ``inputs`` ((component id, property) in the order of the page's keys) into the
    query string as they change (clientside, history.replaceState: no page reload, no server round trip)."""
    from dash import ClientsideFunction, Input, Output, State

    app.clientside_callback(
        ClientsideFunction(namespace="ipc", function_name="syncUrl"),
        Output(f"{prefix}-url", "data"),
        *[Input(cid, prop) for cid, prop in inputs],
        State(f"{prefix}-url-keys", "data"),
    )


def _hashable(value):
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def memoised(name: str, check=None):
    """Memoise a heavy callback's outputs per snapshot version and inputs (the snapshot's LRU cache): fifty
    officials opening the same year or city cost one computation, and a new publish invalidates everything.
    Outputs are built fresh for new inputs; cached ones are only read (serialised) afterwards.

    ``check(*args)``: the account's permission for these inputs (raises to refuse). The cache is shared by every
    account, so it runs on every call, before the cache is asked: a cached answer computed for the national office
    is never handed to an account that may not see it."""

    def decorate(callback):
        @functools.wraps(callback)
        def wrapper(*args):
            if check is not None:
                check(*args)
            try:
                snap = snapshot()
                return snap.cached(("callback", name, *map(_hashable, args)), lambda: callback(*args), output=True)
            except SnapshotUnavailable:
                return callback(*args)  # the callback says so in the page's language

        return wrapper

    return decorate
