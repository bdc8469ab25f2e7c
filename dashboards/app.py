"""The Dash app factory: ``create_app`` builds the multi-page app over a published snapshot; ``serve`` runs it."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import dash
import flask
from dash import Input, Output, dcc, html

from pipelines import settings

from . import components
from .components import DOSSIER_KEY, SNAPSHOT_KEY, current_user, href
from .extracts import FORMATS, DownloadDenied, prepare_download
from .i18n import norm_lang, t
from .pages import compare, downloads, overview, profile, quality, rankings, watchlist
from .snapshot import Snapshot, SnapshotUnavailable

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PAGES = [overview, rankings, compare, profile, watchlist, quality, downloads]
DOSSIER_SUFFIXES = {".html", ".md"}
LOCATION_ID = "_pages_location"  # the dcc.Location inside dash.page_container


def _register_pages() -> None:
    for order, page in enumerate(PAGES):
        zh, en = t(page.NAV_KEY, "zh"), t(page.NAV_KEY, "en")
        dash.register_page(
            page.__name__, path=page.PATH, name=en, title=f"{zh} · {en}", order=order, layout=page.layout
        )


def shell() -> html.Div:
    return html.Div(
        [
            html.Header(
                [
                    html.Div(id="ipc-title", className="ipc-brand"),
                    html.Nav(id="ipc-nav", className="ipc-nav"),
                    html.Div(id="ipc-lang", className="ipc-lang"),
                ],
                className="ipc-header",
            ),
            html.Div(id="ipc-banner", className="ipc-banner", role="note"),
            html.Main(dash.page_container, className="ipc-main"),
            html.Footer(id="ipc-footer", className="ipc-footer"),
        ],
        className="ipc-app",
    )


def _lang_from_search(search: str | None) -> tuple[str, dict]:
    params = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
    return norm_lang(params.get("lang")), params


def shell_content(pathname: str | None, search: str | None):
    """Header, navigation, language toggle and banner for the current URL (pure: used by the shell callback)."""
    lang, params = _lang_from_search(search)
    pathname = pathname or "/"
    nav = [
        dcc.Link(
            t(p.NAV_KEY, lang),
            href=href(p.PATH, lang),
            className="ipc-nav-link" + (" active" if p.PATH == pathname else ""),
            id=f"nav-{p.__name__.rsplit('.', 1)[-1]}",
        )
        for p in PAGES
    ]
    toggles = []
    for code, text in (("zh", "中文"), ("en", "English")):
        target = f"{pathname}?{urlencode({**params, 'lang': code})}"
        toggles.append(
            dcc.Link(
                text, href=target, id=f"lang-{code}", className="ipc-lang-link" + (" active" if code == lang else "")
            )
        )
    return t("app_title", lang), nav, toggles, t("synthetic_banner", lang)


def create_app(snapshot_path: Path | None = None, *, dossier_dir: Path | None = None) -> dash.Dash:
    """Build the app over the snapshot at ``snapshot_path`` (default: the pipeline's published snapshot)."""
    snap = Snapshot(Path(snapshot_path) if snapshot_path else settings.snapshot_path())
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        serve_locally=True,
        assets_folder=str(HERE / "assets"),
        suppress_callback_exceptions=True,
        title=t("app_title", "zh"),
        update_title=None,
    )
    app.server.config[SNAPSHOT_KEY] = snap
    app.server.config[DOSSIER_KEY] = str(Path(dossier_dir) if dossier_dir else settings.dossier_dir())
    _register_pages()
    app.layout = shell

    @app.callback(
        Output("ipc-title", "children"),
        Output("ipc-nav", "children"),
        Output("ipc-lang", "children"),
        Output("ipc-banner", "children"),
        Input(LOCATION_ID, "pathname"),
        Input(LOCATION_ID, "search"),
    )
    def update_shell(pathname, search):
        return shell_content(pathname, search)

    @app.callback(Output("ipc-footer", "children"), Input(LOCATION_ID, "pathname"), Input(LOCATION_ID, "search"))
    def update_footer(pathname, search):
        lang, _ = _lang_from_search(search)
        s = components.snapshot()
        if not s.available:
            return t("no_snapshot", lang)
        stamp = dt.datetime.fromtimestamp(s.path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        return f"{t('snapshot_version', lang)}: {s.path.name} · {stamp}"

    for page in PAGES:
        page.register_callbacks(app)
    _register_routes(app.server)
    return app


def _register_routes(server: flask.Flask) -> None:
    @server.route("/dossiers/<path:filename>")
    def dossier(filename: str):
        # send_from_directory refuses paths that escape the folder (safe_join), so only its files are served.
        if Path(filename).suffix not in DOSSIER_SUFFIXES:
            flask.abort(404)
        mimetype = "text/markdown; charset=utf-8" if filename.endswith(".md") else None
        return flask.send_from_directory(server.config[DOSSIER_KEY], filename, mimetype=mimetype)

    @server.route("/download/extract")
    def download_extract():
        args = flask.request.args
        fmt = args.get("fmt", "csv")
        if fmt not in FORMATS:
            flask.abort(400)
        snap = server.config[SNAPSHOT_KEY]
        try:
            year = int(args["year"])
            f = prepare_download(snap, current_user(), year, args.get("province") or None, fmt)
        except (KeyError, ValueError):
            flask.abort(400)
        except DownloadDenied:
            flask.abort(403)
        except SnapshotUnavailable:
            flask.abort(503)
        return flask.Response(
            f.content, mimetype=f.mimetype, headers={"Content-Disposition": f'attachment; filename="{f.filename}"'}
        )

    @server.route("/healthz")
    def healthz():
        snap = server.config[SNAPSHOT_KEY]
        try:
            version = list(snap.version())
        except SnapshotUnavailable as exc:
            return flask.jsonify({"snapshot": str(snap.path), "available": False, "reason": str(exc)}), 503
        return flask.jsonify({"snapshot": str(snap.path), "available": True, "version": version})


def serve(host: str = "127.0.0.1", port: int = 8050, snapshot_path: Path | None = None, debug: bool = False) -> None:
    """Run the dashboard with Flask's threaded server (fine for an office's handful of users)."""
    logging.basicConfig(level=logging.INFO)
    app = create_app(snapshot_path)
    app.run(
        host=host,
        port=port,
        debug=debug,
        use_reloader=False,
        threaded=True,
        dev_tools_hot_reload=False,
        dev_tools_disable_version_check=True,
    )
