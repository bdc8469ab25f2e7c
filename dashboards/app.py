"""The Dash app factory: ``create_app`` builds the multi-page app over a published snapshot; ``serve`` runs it."""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from html import escape
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import dash
import flask
from dash import Input, Output, dcc, html

from pipelines import data_nature, extracts, settings

from . import (  # noqa: F401 (access_text: UI strings)
    access,
    access_text,
    components,
    figures,
    geo,
    payloads,
    queries,
    report,
    security,
    web,
)
from .auth import UserStore, dummy_hash
from .components import DOSSIER_KEY, EXTRACTS_KEY, SNAPSHOT_KEY, href
from .formatting import beijing_time
from .i18n import nav_label, norm_lang, t
from .indicator_download import FORMATS, prepare_download
from .pages import (
    alerts,
    compare,
    downloads,
    flag,
    not_found,
    overview,
    profile,
    programmes,
    provinces,
    quality,
    rankings,
    simulator,
    targets,
    watchlist,
)
from .snapshot import SNAPSHOT_SCHEMA_VERSION, Snapshot, SnapshotUnavailable, SnapshotWrongVersion

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PAGES = [overview, rankings, compare, profile, watchlist, targets, alerts, quality, downloads]
# Programme-cycle pages (issue 17): cohorts and third-party status, province roll-up, policy simulator.
PAGES += [programmes, provinces, simulator]
DOSSIER_SUFFIXES = {".html", ".md"}
LOCATION_ID = "_pages_location"  # the dcc.Location inside dash.page_container


def page_title_text(nav_key: str, lang: str | None) -> str:
    """The browser tab's title: the page and the platform, in the page's language (pure). It was "排名 · Rankings"
    in both languages, so the English pages' tabs, history and bookmarks began in Chinese."""
    return f"{t(nav_key, lang)} · {t('app_title', lang)}"


def _request_lang() -> str:
    """The language of the page being rendered: the router's callback carries the URL's query string among its
    inputs; the first page load is a plain request with ``?lang=``."""
    try:
        for key, value in (dash.ctx.inputs or {}).items():
            if key.endswith(".search"):
                return _lang_from_search(value)[0]
    except Exception:  # noqa: BLE001 - outside a callback there is no callback context
        pass
    try:
        return norm_lang(flask.request.args.get("lang"))
    except RuntimeError:  # no request at all (registration, tests)
        return norm_lang(None)


def _page_title(nav_key: str):
    return lambda **_: page_title_text(nav_key, _request_lang())


def index_language(html_text: str, path: str, lang: str | None) -> str:
    """The page shell in the page's language (pure): ``<html lang>`` (it had none, so screen readers read the
    Chinese pages as English and the header took the browser's default CJK glyphs) and the tab's title (the
    platform's Chinese name on every page until the router replaced it). A language switch is a full page load
    (the language links are plain links), so the server's shell is always in the page's language."""
    lang = norm_lang(lang)
    keys = {p.PATH: p.NAV_KEY for p in [*PAGES, flag]}
    key = keys.get("/" + path.strip("/")) if path.strip("/") else keys.get("/")
    title = page_title_text(key, lang) if key else t("app_title", lang)
    html_text = re.sub(r"<html(\s[^>]*)?>", f'<html lang="{"en" if lang == "en" else "zh-CN"}">', html_text, count=1)
    return re.sub(r"<title>.*?</title>", f"<title>{escape(title)}</title>", html_text, count=1, flags=re.S)


def _localise_index(app: dash.Dash) -> None:
    interpolate = app.interpolate_index

    def localised(**kwargs) -> str:
        page = interpolate(**kwargs)
        try:
            return index_language(page, flask.request.path, flask.request.args.get("lang"))
        except RuntimeError:  # no request (the index built outside one)
            return page

    app.interpolate_index = localised


def _register_pages() -> None:
    for order, page in enumerate(PAGES):
        dash.register_page(
            page.__name__,
            path=page.PATH,
            name=t(page.NAV_KEY, "en"),
            title=_page_title(page.NAV_KEY),
            order=order,
            layout=page.layout,
        )
    dash.register_page(not_found.MODULE, path="/404", name="404", title="404", layout=not_found.layout)
    # Reached from the watchlist and the profile, not from the navigation bar.
    dash.register_page(flag.__name__, path=flag.PATH, name="flag", title=_page_title(flag.NAV_KEY), layout=flag.layout)


def shell() -> html.Div:
    return html.Div(
        [
            # Two bars: the title with language, account and sign-out; below it the navigation on one line
            # (short labels, assets/style.css). Twelve links beside the title wrapped onto two or three lines at
            # 1366 px and took a third of a laptop screen.
            html.Header(
                [
                    html.Div(
                        [
                            html.Div(id="ipc-title", className="ipc-brand"),
                            html.Div(id="ipc-lang", className="ipc-lang"),
                        ],
                        className="ipc-header-top",
                    ),
                    html.Nav(id="ipc-nav", className="ipc-nav"),
                ],
                className="ipc-header",
            ),
            html.Div(id="ipc-banner", className="ipc-banner", role="note"),
            html.Main(dash.page_container, className="ipc-main"),
            html.Footer(id="ipc-footer", className="ipc-footer"),
        ],
        className="ipc-app",
    )


def footer_info(snap: Snapshot) -> dict:
    """What every page's figures are (the footer): the snapshot's publication record (meta.snapshot_info), the
    latest evaluation year and its release, catalog and rules versions (report.release_info, as in the PDF)."""

    def compute() -> dict:
        meta = {}
        if snap.has("meta.snapshot_info"):
            meta = dict(snap.query("select key, value from meta.snapshot_info").iter_rows())
        ys = queries.years(snap)
        year = ys[-1] if ys else None
        release = report.release_info(snap, year) if year is not None else {}
        return {
            "year": year,
            # which sources are synthetic, from what the snapshot loaded (pipelines/data_nature.py)
            "synthetic_sources": list(data_nature.published_synthetic(snap)),
            "published_at": meta.get("published_at"),
            "run_id": meta.get("run_id"),
            "catalog_version": release.get("catalog_version"),
            "rules_version": release.get("rules_version"),
            "release_id": release.get("release_id"),
        }

    return snap.cached(("footer_info",), compute)


def footer_text(info: dict, lang: str) -> str:
    """The footer line from ``footer_info`` (pure): only the parts the snapshot carries, never "None"."""
    parts = []
    if info.get("year") is not None:
        parts.append(t("ft_year", lang).format(year=info["year"]))
    if info.get("published_at"):
        at, stamp = beijing_time(info["published_at"]), str(info["published_at"])
        # a time written with its zone is shown in Beijing time and says so; an older snapshot's has none
        zoned = stamp.endswith("Z") or bool(re.search(r"[+-]\d{2}:?\d{2}$", stamp))
        key = "ft_published_tz" if zoned else "ft_published"
        parts.append(t(key, lang).format(at=at, run=(info.get("run_id") or "–")[:8]))
    if info.get("catalog_version") or info.get("rules_version"):
        parts.append(
            t("ft_versions", lang).format(
                catalog=info.get("catalog_version") or "–", rules=info.get("rules_version") or "–"
            )
        )
    if info.get("year") is not None:
        release = info.get("release_id")
        parts.append(t("ft_release", lang).format(release=release) if release else t("ft_not_released", lang))
    if info.get("synthetic_sources", True):  # (a footer record without the key: the documented sample)
        parts.append(t("ft_synthetic", lang))
    return " · ".join(parts)


def _lang_from_search(search: str | None) -> tuple[str, dict]:
    params = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
    return norm_lang(params.get("lang")), params


def shell_content(
    pathname: str | None,
    search: str | None,
    principal: access.Principal | None = None,
    province_names: dict[str, tuple[str, str]] | None = None,
    synthetic_sources: tuple[str, ...] | None = None,
):
    """Header, navigation, language toggle and banner for the current URL (pure: used by the shell callback).

    The banner says which data are synthetic: the sample's own note for the documented sample (or when not known),
    else the note of what the snapshot loaded (``synthetic_sources``; a deployment on the offices' files is not
    called synthetic on every page).

    Only pages the principal may open are listed. The language links are built on a known page path only:
    a crafted path such as ``//evil.example/x`` would otherwise become a link to another site.
    """
    lang, params = _lang_from_search(search)
    # The flag page is a known page outside the bar: its language link stays on it (it led to the overview, which
    # the bar also marked as the page shown).
    paths = {p.PATH for p in PAGES} | {flag.PATH}
    pathname = pathname if pathname in paths else "/"
    visible = [p for p in PAGES if principal is None or access.can_open_page(principal, p.PATH)]
    nav = [
        dcc.Link(
            nav_label(p.NAV_KEY, lang),
            href=href(p.PATH, lang),
            # the page's full name as the tooltip where the bar shows a shorter one
            title=t(p.NAV_KEY, lang),
            className="ipc-nav-link" + (" active" if p.PATH == pathname else ""),
            id=f"nav-{p.__name__.rsplit('.', 1)[-1]}",
        )
        for p in visible
    ]
    toggles = []
    for code, text in (("zh", "中文"), ("en", "English")):
        target = f"{pathname}?{urlencode({**params, 'lang': code})}"
        # A plain link: assets/url_state.js rewrites its query at click time from the page's current state.
        toggles.append(
            html.A(
                text,
                href=target,
                id=f"lang-{code}",
                className="ipc-lang-link" + (" active" if code == lang else ""),
                **{"data-lang": code},
            )
        )
    if principal is not None and principal.authenticated:
        who = principal.username + " · " + t(f"role_{principal.role}", lang)
        if principal.province_code:
            # the province by name (the code when the snapshot does not know it)
            pair = (province_names or {}).get(principal.province_code)
            name = (pair[1] if lang == "en" else pair[0]) if pair else principal.province_code
            who += f" ({name})" if lang == "en" else f"（{name}）"
        token = web.csrf_token() if flask.has_request_context() else ""  # the session's form token
        toggles += [
            html.Span(who, className="ipc-user", id="ipc-user"),
            html.A(
                t("change_password", lang),
                href=f"{web.PASSWORD_PATH}?{urlencode({'lang': lang})}",
                className="ipc-account-link",  # not ipc-lang-link: url_state.js rewrites those at click
                id="ipc-password",
            ),
            # a form, not a link: signing out is a POST carrying the session's form token (dashboards/web.py)
            html.Form(
                [
                    dcc.Input(type="hidden", name=web.CSRF_FIELD, value=token, id="ipc-logout-csrf"),
                    html.Button(
                        t("logout", lang), type="submit", className="ipc-lang-link ipc-logout", id="ipc-logout"
                    ),
                ],
                method="POST",
                action="/logout",
                className="ipc-logout-form",
            ),
        ]
    return t("app_title", lang), nav, toggles, banner_text(synthetic_sources, lang)


def banner_text(synthetic_sources: tuple[str, ...] | None, lang: str) -> str:
    """The data note under the header (pure): the sample's detailed note when the synthetic sources are the
    documented sample's or unknown, else what the snapshot loaded (pipelines.data_nature.DataNature.note)."""
    if synthetic_sources is None or set(synthetic_sources) == set(data_nature.DOCUMENTED_SYNTHETIC):
        return t("synthetic_banner", lang)
    return t("data_banner", lang).format(note=data_nature.DataNature(tuple(synthetic_sources)).note(lang))


def header_html(
    pathname: str | None,
    search: str | None,
    principal: access.Principal | None = None,
    province_names: dict[str, tuple[str, str]] | None = None,
) -> str:
    """The app's header (title, navigation, language, account, sign-out) as HTML for a page Dash does not render:
    the "no access" page (pure). It had none, so a provincial official sent there by another province's link saw
    a bare card; now the page has the navigation of every other page, in the page's language."""
    title, nav, toggles, banner = shell_content(pathname, search, principal, province_names)
    e = escape

    def attr(name: str, value) -> str:
        return f' {name}="{e(str(value))}"' if value else ""

    def part(c) -> str:
        if isinstance(c, dcc.Link):
            cls = str(c.className or "").replace(" active", "")  # the refused page is not the page shown
            return f"<a{attr('href', c.href)}{attr('title', c.title)}{attr('class', cls)}>{e(str(c.children))}</a>"
        if isinstance(c, html.A):
            return f"<a{attr('href', c.href)}{attr('id', c.id)}{attr('class', c.className)}>{e(str(c.children))}</a>"
        if isinstance(c, html.Span):
            return f"<span{attr('class', c.className)}>{e(str(c.children))}</span>"
        if isinstance(c, html.Form):  # sign-out: its form token (hidden) and its button
            inner = []
            for child in c.children if isinstance(c.children, list) else [c.children]:
                if isinstance(child, dcc.Input):
                    inner.append(f'<input type="hidden"{attr("name", child.name)}{attr("value", child.value)}>')
                elif isinstance(child, html.Button):
                    inner.append(
                        f'<button type="submit"{attr("class", child.className)}>{e(str(child.children))}</button>'
                    )
            return f'<form method="post" action="/logout"{attr("class", c.className)}>{"".join(inner)}</form>'
        return ""

    return (
        '<header class="ipc-header" id="error-header"><div class="ipc-header-top">'
        f'<div class="ipc-brand">{e(title)}</div><div class="ipc-lang">{"".join(part(c) for c in toggles)}</div>'
        f'</div><nav class="ipc-nav">{"".join(part(c) for c in nav)}</nav></header>'
        # the data note every page carries (which data are synthetic), on this page too
        f'<div class="ipc-banner" role="note" id="ipc-banner">{e(banner)}</div>'
    )


def _province_names(principal: access.Principal | None) -> dict | None:
    """The province names a provincial account's header shows (None for the national office, or with no
    snapshot)."""
    if principal is None or not principal.province_code:
        return None
    try:
        provs = queries.provinces(components.snapshot())
    except SnapshotUnavailable:
        return None
    return {r["province_code"]: (r["province_name"], r["province_name_en"]) for r in provs.iter_rows(named=True)}


def _synthetic_sources() -> tuple[str, ...] | None:
    """The published snapshot's synthetic sources (None with no snapshot: the banner keeps the sample's note)."""
    try:
        snap = components.snapshot()
        # its own small query (meta.snapshot_info), not the footer's record: the header must not fail with it
        return snap.cached(("synthetic_sources",), lambda: tuple(data_nature.published_synthetic(snap)))
    except SnapshotUnavailable:
        return None


def _page_header(principal: access.Principal | None) -> str:
    """``header_html`` for the current request (the "no access" page of dashboards/web.py)."""
    req = flask.request
    path = access.page_of_pathname(req.path, [p.PATH for p in PAGES] + [flag.PATH]) or "/"
    return header_html(path, req.query_string.decode("utf-8", "replace"), principal, _province_names(principal))


def create_app(
    snapshot_path: Path | None = None,
    *,
    dossier_dir: Path | None = None,
    user_store: UserStore | Path | str | None = None,
    secret_key_file: Path | None = None,
    extracts_dir: Path | None = None,
    debug: bool = False,
) -> dash.Dash:
    """Build the app over the snapshot at ``snapshot_path`` (default: the pipeline's published snapshot).

    Accounts come from ``user_store`` (default ``<data>/access/users.sqlite``); every URL but the sign-in page,
    the health probe and static bundles needs a signed-in user, and each data path checks the user's role.
    """
    snap = Snapshot(Path(snapshot_path) if snapshot_path else settings.snapshot_path())
    store = user_store if isinstance(user_store, UserStore) else UserStore(user_store)
    dummy_hash()  # before the first sign-in, which is then timed like every other (dashboards.auth.dummy_hash)
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
    app.server.config[EXTRACTS_KEY] = str(Path(extracts_dir) if extracts_dir else extracts.extracts_dir())
    app.server.config["IPCITY_PAGE_HEADER"] = _page_header
    app.server.config["IPCITY_PAGE_ROLES"] = {
        **access.PAGE_ROLES,
        **{p.PATH: frozenset(p.ROLES) for p in PAGES if hasattr(p, "ROLES")},
    }
    # the shape of every value a callback reads (security.check_callback_values); a page may declare its own
    app.server.config["IPCITY_CALLBACK_VALUES"] = {
        **security.CALLBACK_VALUES,
        **{k: v for p in PAGES for k, v in getattr(p, "CALLBACK_VALUES", {}).items()},
    }
    _register_pages()
    app.layout = shell
    _localise_index(app)

    @app.callback(
        Output("ipc-title", "children"),
        Output("ipc-nav", "children"),
        Output("ipc-lang", "children"),
        Output("ipc-banner", "children"),
        Input(LOCATION_ID, "pathname"),
        Input(LOCATION_ID, "search"),
    )
    def update_shell(pathname, search):
        principal = access.current_principal()
        return shell_content(pathname, search, principal, _province_names(principal), _synthetic_sources())

    @app.callback(Output("ipc-footer", "children"), Input(LOCATION_ID, "pathname"), Input(LOCATION_ID, "search"))
    def update_footer(pathname, search):
        lang, _ = _lang_from_search(search)
        s = components.snapshot()
        if not s.available:
            return t("no_snapshot", lang)
        try:
            return footer_text(footer_info(s), lang)
        except SnapshotUnavailable:
            return t("no_snapshot", lang)

    label_figure_callbacks(app)
    for page in PAGES:
        page.register_callbacks(app)
    _register_routes(app.server)
    geo.register_route(app.server)
    report.register_route(app.server)
    # every page the router opens, the flag page outside the navigation bar too: the gate checks each one's roles
    web.install(app, store, secret_key_file, debug=debug, pages={p.PATH: p for p in [*PAGES, flag]})
    payloads.install(app)  # after the sign-in gate: its role check runs before any stored response is served
    return app


def _chart_note() -> str | None:
    """What a chart's own image says its data are: the per-row label every file a user takes away carries
    ("合成示例 / Synthetic sample", pipelines.data_nature), when the published snapshot holds synthetic data; None for
    real data or no snapshot."""
    sources = _synthetic_sources()
    nature = data_nature.DataNature(sources) if sources is not None else None
    return nature.row_value() if nature is not None and nature.is_synthetic else None


def _figure_positions(args, kwargs) -> tuple[int, list[int]]:
    """How many outputs a callback declares, and which of them are a graph's ``figure``."""
    outputs = []
    for a in (*args, *(kwargs.get(k) for k in ("output", "outputs") if k in kwargs)):
        for o in a if isinstance(a, (list, tuple)) else [a]:
            if isinstance(o, Output):
                outputs.append(o)
    return len(outputs), [i for i, o in enumerate(outputs) if o.component_property == "figure"]


def label_figure_callbacks(app: dash.Dash) -> None:
    """Every callback the pages register that draws a chart returns its figures with the data note in them
    (figures.stamp_data_note): a PNG saved from a chart's mode bar (the camera) had no synthetic-data label while
    every other export has one. One place, so a chart added later is labelled too."""
    register = app.callback

    def callback(*args, **kwargs):
        n_outputs, positions = _figure_positions(args, kwargs)
        decorate = register(*args, **kwargs)
        if not positions:
            return decorate

        def wrap(func):
            @functools.wraps(func)
            def labelled(*a, **kw):
                out = func(*a, **kw)
                note = _chart_note()
                if not note:
                    return out
                if n_outputs == 1 and not isinstance(out, (list, tuple)):
                    return figures.stamp_data_note(out, note)
                out = list(out)
                for i in positions:
                    out[i] = figures.stamp_data_note(out[i], note)
                return out

            return decorate(labelled)

        return wrap

    app.callback = callback


def _bad(status: int, reason: str) -> flask.Response:
    return web.refusal(status, reason)  # in the reader's language, the technical reason after it


def _register_routes(server: flask.Flask) -> None:
    @server.route("/dossiers/<path:filename>")
    @security.query_params("lang")  # a file: only the refusal's language (a query is kept in the audit log)
    def dossier(filename: str):
        principal = access.current_principal()
        parsed = access.parse_dossier_name(filename)
        if parsed is None:
            # Anything but '<unit>_<year>.html|md' (traversal, other files, encoded tricks) is refused and logged.
            access.deny(principal, "dossier", filename[:200], "not a dossier file name")
        unit, _year, suffix = parsed
        snap = server.config[SNAPSHOT_KEY]
        try:
            access.authorize(principal, "dossier", page="/watchlist", unit=unit, snap=snap, target=filename)
        except SnapshotUnavailable:
            flask.abort(503)
        folder = Path(server.config[DOSSIER_KEY])
        if not (folder / filename).is_file():
            return _bad(404, "no such dossier")
        # a bare text type: Werkzeug adds "; charset=utf-8" itself (given one already, it added a second)
        mimetype = "text/markdown" if suffix == "md" else "text/html"
        return flask.send_from_directory(folder, filename, mimetype=mimetype)

    # A dossier is a standalone document: nothing in it may run, whatever the data held (read by flask-talisman).
    dossier.talisman_view_options = {"content_security_policy": security.DOSSIER_CSP}

    @server.route("/download/extract")
    @security.query_params("year", "province", "fmt", "lang")  # any other, or one twice: refused by the gate
    def download_extract():
        args = flask.request.args
        snap = server.config[SNAPSHOT_KEY]
        principal = access.current_principal()
        try:
            fmt = security.parse_choice("fmt", args.get("fmt"), FORMATS, default="csv")
            year = security.parse_year(args.get("year"))
            province = security.normalise_province(args.get("province"))
            # Permission before existence: another province's code is refused (403) whether or not it exists.
            access.authorize(principal, "download", province=province, all_provinces=province is None)
            security.parse_year(str(year), queries.years(snap))
            if province is not None:
                security.parse_province(province, queries.provinces(snap)["province_code"].to_list())
            f = prepare_download(snap, principal, year, province, fmt)
        except security.BadParameter as e:
            return _bad(400, str(e))
        except security.NotFound as e:
            return _bad(404, str(e))
        except SnapshotUnavailable:
            return _bad(503, "no published snapshot yet")
        return flask.Response(
            # the full header value ("text/csv; charset=utf-8"): as a mimetype Werkzeug would add a second charset
            f.content,
            content_type=f.mimetype,
            headers={"Content-Disposition": security.content_disposition(f.filename)},
        )

    @server.route("/extracts/<path:relpath>")
    @security.query_params("lang")  # likewise
    def extract_file(relpath: str):
        principal = access.current_principal()
        folder = Path(server.config[EXTRACTS_KEY])
        entry = extracts.lookup_file(folder, relpath)
        if entry is None:
            # Only files the extract manifests list are served: traversal and guessed names are refused.
            access.deny(principal, "extract", relpath[:200], "not a listed extract file")
        access.authorize(principal, "extract", page="/downloads", province=entry["province_code"], target=relpath)
        # only now, for a file of the principal's own province: a re-version's workbook is built on first download
        extracts.ensure_file(folder, relpath)
        resp = flask.send_from_directory(folder, relpath)
        resp.content_type = entry["mimetype"]  # the manifest's full value, charset included: set as it is, once
        resp.headers["Content-Disposition"] = security.content_disposition(Path(relpath).name)
        return resp

    # /favicon.ico reads no query but ``lang`` (the language their refusals are said in, as on every
    # route): any other name is refused (400, both languages) as on every other route, so a probe or a script
    # learns one rule ("a name the address does not read is an error"), never a silent ignore.
    @server.route("/favicon.ico")
    @security.query_params("lang")
    def favicon():
        # Browsers ask for /favicon.ico by themselves, before anyone signs in; Dash serves its icon at
        # /_favicon.ico and would answer this path with its catch-all (the app's page shell) to anyone
        return flask.redirect("/_favicon.ico", code=301)

    # /healthz answers its status to any query, and never reads or echoes it: a load balancer's or an orchestrator's
    # probe adds names of its own (``?probe=lb-3``, ``?ts=…``) that the deployment does not choose, and a refusal
    # (400) took a healthy dashboard out of the pool. It answers JSON only, so there is no refusal language either.
    @server.route("/healthz")
    @security.ignores_query
    def healthz():
        # Whether a snapshot is being served and which version, never where it lives on the server.
        snap = server.config[SNAPSHOT_KEY]
        try:
            version = snap.version()
        except SnapshotWrongVersion as exc:
            # The contract mismatch is said plainly (an operator must re-publish), still without the server path.
            reason = (
                f"snapshot has schema version {exc.found or 'none'}, but this dashboard reads version "
                f"{SNAPSHOT_SCHEMA_VERSION} only"
            )
            return flask.jsonify({"available": False, "reason": reason}), 503
        except SnapshotUnavailable:
            return flask.jsonify({"available": False}), 503
        tag = hashlib.sha256(repr(version).encode()).hexdigest()[:12]
        # payloads: whether the heavy views of this version are all precomputed (dashboards.payloads)
        return flask.jsonify({"available": True, "version": tag, "payloads": payloads.precompute_status(server)})


def serve(host: str = "127.0.0.1", port: int = 8050, snapshot_path: Path | None = None, debug: bool = False) -> None:
    """Run the dashboard with Flask's development server (``ipcity serve --debug`` only; production serving is
    gunicorn, see ``dashboards.serving``)."""
    logging.basicConfig(level=logging.INFO)
    app = create_app(snapshot_path, debug=debug)
    app.run(
        host=host,
        port=port,
        debug=debug,
        use_reloader=False,
        threaded=True,
        dev_tools_hot_reload=False,
        dev_tools_disable_version_check=True,
    )
