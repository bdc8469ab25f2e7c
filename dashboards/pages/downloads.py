"""数据下载 Downloads: the year's indicator extract (CSV or XLSX) for the scopes the user may have, and the versioned
provincial extracts (省级数据包) with their releases and the rows changed since the previous version."""

from __future__ import annotations

import polars as pl
from dash import Input, Output, State, dcc, html

from pipelines import extracts
from pipelines.counts import count_en

from .. import access, queries, security
from ..components import (
    control,
    dropdown,
    extracts_dir,
    grid,
    grid_columns,
    guarded,
    page_title,
    records,
    section,
    snapshot,
    unknown_year_notice,
    year_dropdown,
)
from ..formatting import digits_for, display_scale, shown_time, unit_label
from ..i18n import norm_lang, province_col, t
from ..indicator_download import EXTRACT_HEADERS, FORMATS, indicator_extract, prepare_download
from ..snapshot import SnapshotUnavailable

PATH = "/downloads"
NAV_KEY = "nav_downloads"
ALL = "__all__"


def download_url(year, province, fmt: str) -> str:
    from urllib.parse import urlencode

    params = {"year": year, "fmt": fmt}
    if province and province != ALL:
        params["province"] = province
    return "/download/extract?" + urlencode(params)


def parse_request(snap, year, fmt) -> tuple[int, str]:
    """The callbacks' year and format as the /download/extract route reads them: a published year, a known
    format (security.BadParameter / NotFound otherwise, answered 400 / 404)."""
    return (
        security.parse_year(str(year), queries.years(snap)),
        security.parse_choice("fmt", None if fmt is None else str(fmt), FORMATS, default="csv"),
    )


def parse_scope(snap, province) -> str | None:
    """The callbacks' province as the /download/extract route reads its ``province``: ``ALL`` (or none chosen) is
    every province (None); '44' or '440000' is '440000'; other text is a BadParameter (400) and a code of no
    province a NotFound (404), each after the permission check, as on the route. The callbacks took the value as
    it came: '44' (the route's own short form) previewed no row at all while the page's link beside it, read by
    the route, gave Guangdong's file, and any text was encoded and kept as one more (empty) file."""
    scope = None if province in (ALL, None) else security.normalise_province(str(province))
    access.authorize(access.current_principal(), "download", province=scope, all_provinces=scope is None)
    if scope is not None:
        security.parse_province(scope, queries.provinces(snap)["province_code"].to_list())
    return scope


EXTRACT_ROUTE = "/extracts/"
MAX_CHANGE_ROWS = 1000


def _province_name(entry: dict, lang: str, names: dict[str, tuple[str, str]]) -> str:
    pair = names.get(entry["province_code"])
    if pair is None:
        return entry["province_name"]
    return (pair[1] or pair[0]) if norm_lang(lang) == "en" else pair[0]


def extract_rows(
    entries: list[dict], lang: str, province_names: dict[str, tuple[str, str]] | None = None
) -> list[dict]:
    """One row per extract version: what it is, which release, what changed, and its files as links.

    The province is named in the page's language (``province_names``: code → (zh, en); the manifest's Chinese
    name when the code is not there)."""
    rows = []
    for e in entries:
        files = {}
        for f in e["files"]:
            if f["table"] in ("all", "indicators", "changes"):
                label = {"all": "XLSX", "indicators": f["format"].upper(), "changes": "Δ " + f["format"].upper()}
                files.setdefault(label[f["table"]], f["path"])
        links = " · ".join(f"[{k}]({EXTRACT_ROUTE}{v})" for k, v in sorted(files.items()))
        changes = (
            t("ex_first", lang)
            if e["previous_version"] is None
            else f"{e['changes']} (v{e['previous_version']} → v{e['version']})"
        )
        rows.append(
            {
                "province": _province_name(e, lang, province_names or {}),
                "province_code": e["province_code"],
                "year": e["year"],
                "version": e["version"],
                "release_id": e["release_id"],
                "generated_at": shown_time(e["generated_at"], lang),
                "changes": changes,
                "files": links,
            }
        )
    return rows


def change_rows(root, entries: list[dict]) -> list[dict]:
    """The changed rows of every revised version the user may see (the diff, newest first)."""
    out = []
    for e in entries:
        if not e.get("changes"):
            continue
        f = next((f for f in e["files"] if f["table"] == "changes" and f["format"] == "parquet"), None)
        if f is None:
            continue
        df = pl.read_parquet(root / f["path"]).with_columns(
            province=pl.lit(e["province_name"]), year=pl.lit(e["year"]), version=pl.lit(f"v{e['version']}")
        )
        out += df.to_dicts()
        if len(out) >= MAX_CHANGE_ROWS:
            break
    return out[:MAX_CHANGE_ROWS]


def _province_names() -> dict[str, tuple[str, str]]:
    try:
        provs = queries.provinces(snapshot())
    except SnapshotUnavailable:
        return {}
    return {r["province_code"]: (r["province_name"], r["province_name_en"]) for r in provs.iter_rows(named=True)}


def extracts_section(principal, lang: str):
    root = extracts_dir()
    scope = principal.province_scope()
    entries = extracts.list_versions(root, None if scope is None else sorted(scope))
    if not entries:
        return section(t("ex_title", lang), html.P(t("ex_none", lang), className="ipc-muted", id="ex-none"))
    cols = [
        # wide enough for the English headers ("Evaluation year", "Version") to show whole
        {"field": "province", "headerName": t("ex_province", lang), "minWidth": 120, "maxWidth": 160},
        {"field": "year", "headerName": t("ex_year", lang), "minWidth": 130, "maxWidth": 150},
        {"field": "version", "headerName": t("ex_version", lang), "minWidth": 110, "maxWidth": 120},
        {"field": "release_id", "headerName": t("ex_release", lang), "minWidth": 220},
        {"field": "generated_at", "headerName": t("ex_generated", lang), "minWidth": 170, "maxWidth": 190},
        {"field": "changes", "headerName": t("ex_changes", lang), "minWidth": 140},
        {"field": "files", "headerName": t("ex_files", lang), "cellRenderer": "markdown", "minWidth": 260},
    ]
    change_cols = [
        {"field": c, "headerName": h}
        for c, h in [
            ("province", t("ex_province", lang)),
            ("year", t("ex_year", lang)),
            ("version", t("ex_version", lang)),
        ]
        + list(extracts.CHANGE_HEADERS.items())
    ]
    changes = change_rows(root, entries)
    return section(
        t("ex_title", lang),
        grid("ex-grid", lang, cols, extract_rows(entries, lang, _province_names()), height=360),
        html.H3(t("ex_changes", lang), className="ipc-section-title"),
        changes_view(change_cols, changes, lang),
    )


def changes_view(change_cols: list[dict], changes: list[dict], lang: str):
    """The rows changed since each revised extract's previous version, or, when none was revised, a sentence that
    says so and what will be listed here (a bare "—" read as missing data)."""
    if changes:
        return grid("ex-changes", lang, change_cols, changes, height=260)
    return html.P(t("ex_no_changes", lang), className="ipc-muted", id="ex-no-changes")


@guarded
def layout(lang: str, year=None, **_):
    snap = snapshot()
    principal = access.current_principal()
    requested, year = year, queries.resolve_year(snap, year)
    # Only the scopes this user may download: one's own province, or (national office) every one and all cities.
    prov_opts = [{"label": t("all_cities", lang), "value": ALL}] if principal.is_national else []
    prov_opts += [
        {"label": r[province_col(lang)], "value": r["province_code"]}
        for r in access.visible_units(principal, queries.provinces(snap)).iter_rows(named=True)
    ]
    return [
        dcc.Store(id="dl-lang", data=lang),
        page_title(NAV_KEY, lang, t("dl_note", lang)),
        *unknown_year_notice(requested, queries.years(snap), year, lang),
        html.Div(
            [
                year_dropdown("dl-year", queries.years(snap), year, lang),
                control(
                    t("dl_scope", lang),
                    dropdown(
                        "dl-province",
                        lang,
                        options=prov_opts,
                        value=prov_opts[0]["value"] if prov_opts else None,
                        clearable=False,
                    ),
                ),
                control(
                    t("dl_format", lang),
                    dcc.RadioItems(
                        id="dl-format",
                        options=[{"label": "CSV", "value": "csv"}, {"label": "Excel (XLSX)", "value": "xlsx"}],
                        value="xlsx",
                        inline=True,
                        className="ipc-radio",
                    ),
                ),
                control(" ", html.Button(t("dl_button", lang), id="dl-button", className="ipc-button")),
                control(" ", html.A(t("dl_link", lang), id="dl-link", href="#", className="ipc-link")),
            ],
            className="ipc-controls",
        ),
        html.Div(id="dl-count", className="ipc-muted"),
        html.Div(id="dl-status", className="ipc-muted"),
        grid("dl-preview", lang, height=520),
        dcc.Download(id="dl-download"),
        extracts_section(principal, lang),
    ]


# The preview's figures in the dashboard's format (the file keeps full precision): values by their indicator's
# precision (formatting.digits_for, one precision per indicator) and shares as per cent; scores with one decimal.
# The unit is the row's unit cell (formatting.unit_label, the one rendering of a unit beside a shown value): the
# cell said 比率 beside a share shown as 67.3%, so the value and its unit disagreed.
VALUE_FORMAT = {
    "valueFormatter": {
        "function": "params.value == null ? '–' : d3.format(',.' + params.data._digits + 'f')"
        "(params.value * params.data._scale)"
    }
}
SCORE_FORMAT = {"valueFormatter": {"function": "params.value == null ? '–' : d3.format('.1f')(params.value)"}}
_VALUE_HEADERS = (EXTRACT_HEADERS["raw_value"], EXTRACT_HEADERS["value"])


def preview_rows(df: pl.DataFrame, lang: str | None = "zh") -> list[dict]:
    """Preview rows with each row's display precision and scale (``_digits``, ``_scale``): one precision per
    indicator across the rows shown, chosen from its values (4.7655 and 0.513 of one indicator read 4.77 and
    0.51, a share 0.6731 reads 67.3 with unit %); the numbers stay numbers, so the columns still sort by value.
    The unit cell is the unit of the number shown (the file keeps the catalog's unit beside its stored value)."""
    code, unit = EXTRACT_HEADERS["indicator_code"], EXTRACT_HEADERS["unit"]
    rows = records(df, 4)
    values: dict[str, list] = {}
    for r in rows:
        values.setdefault(r[code], []).extend(r[h] for h in _VALUE_HEADERS)
    units = {r[code]: r[unit] for r in rows}
    digits = {c: digits_for(v, units[c]) for c, v in values.items()}
    return [
        {**r, unit: unit_label(r[unit], lang), "_digits": digits[r[code]], "_scale": display_scale(r[unit])}
        for r in rows
    ]


def preview_columns(columns: list[str]) -> list[dict]:
    wide = {"指标名称": 260, "一级指标": 110, "城市": 120}
    out = []
    for c in columns:
        # a file's preview keeps one line per row, each cell's whole text in its tooltip: with the grids' default
        # wrapping, the formula column at the grid's edge wrapped a letter a line into rows a screen tall
        col = {
            "field": c,
            "headerName": c,
            "wrapText": False,
            "autoHeight": False,
            "tooltipField": c,
            **({"minWidth": wide[c]} if c in wide else {}),
        }
        if c in _VALUE_HEADERS:
            col |= {"type": "numericColumn", **VALUE_FORMAT}
        elif c == EXTRACT_HEADERS["normalised_score"]:
            col |= {"type": "numericColumn", **SCORE_FORMAT}
        out.append(col)
    return out


PREVIEW_ROWS = 200  # the preview shows this many rows and says so; the download has them all


def register_callbacks(app) -> None:
    @app.callback(
        Output("dl-preview", "columnDefs"),
        Output("dl-preview", "rowData"),
        Output("dl-count", "children"),
        Output("dl-link", "href"),
        Input("dl-year", "value"),
        Input("dl-province", "value"),
        Input("dl-format", "value"),
        State("dl-lang", "data"),
    )
    def preview(year, province, fmt, lang):
        snap = snapshot()
        scope = parse_scope(snap, province)
        year, fmt = parse_request(snap, year, fmt)
        df = indicator_extract(snap, year, scope)
        shown = t("rows_shown", lang).format(
            shown=f"{min(PREVIEW_ROWS, df.height):,}", total=f"{df.height:,}", total_rows=count_en(df.height, "row")
        )
        rows = preview_rows(df.head(PREVIEW_ROWS), lang)
        return (
            grid_columns(preview_columns(df.columns), rows),
            rows,
            shown,
            download_url(year, scope, fmt),
        )

    @app.callback(
        Output("dl-download", "data"),
        Output("dl-status", "children"),
        Input("dl-button", "n_clicks"),
        State("dl-year", "value"),
        State("dl-province", "value"),
        State("dl-format", "value"),
        State("dl-lang", "data"),
        prevent_initial_call=True,
    )
    def download(n_clicks, year, province, fmt, lang):
        # A refused scope raises AccessDenied (audited), which the server answers with 403.
        snap = snapshot()
        scope = parse_scope(snap, province)
        year, fmt = parse_request(snap, year, fmt)
        principal = access.current_principal()
        f = prepare_download(snap, principal, year, scope, fmt)
        access.audit(principal, "download", f.filename, "ok", f"{access.granted()}; rows={f.rows}")
        return dcc.send_bytes(f.content, f.filename), t("dl_rows", lang).format(
            n=f"{f.rows:,}", rows=count_en(f.rows, "row")
        )
