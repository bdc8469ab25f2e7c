"""数据下载 Downloads: the year's indicator extract for one province or all cities, as CSV or XLSX."""

from __future__ import annotations

from dash import Input, Output, State, dcc, html, no_update

from .. import queries
from ..components import control, current_user, grid, guarded, page_title, records, snapshot, year_dropdown
from ..extracts import DownloadDenied, indicator_extract, prepare_download
from ..i18n import province_col, t

PATH = "/downloads"
NAV_KEY = "nav_downloads"
ALL = "__all__"


def download_url(year, province, fmt: str) -> str:
    params = {"year": year, "fmt": fmt}
    if province and province != ALL:
        params["province"] = province
    return "/download/extract?" + "&".join(f"{k}={v}" for k, v in params.items())


@guarded
def layout(lang: str, year=None, **_):
    snap = snapshot()
    year = queries.resolve_year(snap, year)
    prov_opts = [{"label": t("all_cities", lang), "value": ALL}] + [
        {"label": r[province_col(lang)], "value": r["province_code"]}
        for r in queries.provinces(snap).iter_rows(named=True)
    ]
    return [
        dcc.Store(id="dl-lang", data=lang),
        page_title(NAV_KEY, lang, t("dl_note", lang)),
        html.Div(
            [
                year_dropdown("dl-year", queries.years(snap), year, lang),
                control(
                    t("dl_scope", lang), dcc.Dropdown(id="dl-province", options=prov_opts, value=ALL, clearable=False)
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
                control(" ", html.A("↓ URL", id="dl-link", href="#", className="ipc-link")),
            ],
            className="ipc-controls",
        ),
        html.Div(id="dl-count", className="ipc-muted"),
        html.Div(id="dl-status", className="ipc-muted"),
        grid("dl-preview", lang, height=520),
        dcc.Download(id="dl-download"),
    ]


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
        df = indicator_extract(snapshot(), int(year), None if province == ALL else province)
        wide = {"指标名称": 260, "一级指标": 110, "城市": 120}
        cols = [{"field": c, "headerName": c, **({"minWidth": wide[c]} if c in wide else {})} for c in df.columns]
        return cols, records(df.head(200), 4), t("dl_rows", lang).format(n=df.height), download_url(year, province, fmt)

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
        try:
            f = prepare_download(snapshot(), current_user(), int(year), None if province == ALL else province, fmt)
        except DownloadDenied:
            return no_update, t("dl_denied", lang)
        return dcc.send_bytes(f.content, f.filename), t("dl_rows", lang).format(n=f.rows)
