"""The server side of the dashboard around Dash: sign-in (Flask-Login + argon2 store), sessions, the request gate
every URL passes (size limits, sign-in, page and callback permissions), security headers (flask-talisman) and
error responses that never show a server path."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import html
import io
import json
import logging
import secrets
import time
from pathlib import Path

import flask
from dash.exceptions import DependencyException
from flask.sessions import SecureCookieSessionInterface
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_talisman import Talisman
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestedRangeNotSatisfiable
from werkzeug.http import parse_range_header
from werkzeug.middleware.proxy_fix import ProxyFix

from pipelines import settings

from . import access, busy, security
from .auth import SharedLimitStorage, UserError, UserStore, WeakPassword, address_key, secret_key, without_province
from .i18n import LANGS, norm_lang, t
from .password_policy import MAX_PASSWORD, MIN_PASSWORD, reason_text
from .snapshot import SnapshotUnavailable

log = logging.getLogger(__name__)

SESSION_IDLE = dt.timedelta(hours=2)  # a session unused this long ends (the cookie's expiry, renewed per request)
SESSION_MAX = dt.timedelta(hours=12)  # and no session lives longer than a working day, used or not
SESSION_ID_KEY = "session_id"  # a random id per sign-in: what sign-out ends (UserStore.end_session)
# The session's form token: every form that changes state (sign-in, sign-out, change password) carries it and the
# view compares it (constant time) with the session's, on top of Fetch Metadata and the SameSite=Lax cookie, which
# an older browser, a sibling host or a browser bug may not honour. Made anew at sign-in and at a password change.
CSRF_KEY = "csrf"
CSRF_FIELD = "csrf"
PASSWORD_PATH = "/account/password"
LOGIN_LIMIT = "10 per minute;60 per hour"
# Files built on request, per account (a script on one session must not keep a 2-core server's CPU busy): a PDF
# report (WeasyPrint, about a second each) no faster than a person reads them; the indicator extract (tens of ms
# as CSV, more as XLSX) generously; a provincial extract's file likewise (a re-version's workbook and CSV files
# are built on their first download, a few tenths of a second each, extracts.ensure_file).
BUILT_FILE_LIMITS = {
    "report_route": "30 per minute",
    "download_extract": "120 per minute",
    "extract_file": "120 per minute",
}
# Paths open without signing in: the sign-in page, the health probe and the app's own static files (its style sheet,
# which the sign-in and error pages use). Dash's bundles are served to signed-in accounts only: their URLs carry the
# versions of Dash and its components (".v4_4_1m…", "react@18.3.1") and their bytes identify each exactly, which
# tells anyone scanning for a published flaw whether it applies. Dash has no setting to leave the versions out of
# the URLs (they are built in its private resource code), and the files' content would tell them anyway; no page
# open before sign-in loads a bundle, so they are simply not shown to an anonymous caller.
PUBLIC_PATHS = frozenset({"/login", "/healthz", "/_favicon.ico", "/favicon.ico"})
PUBLIC_PREFIXES = ("/assets/",)
STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/")  # cacheable: no account's data in them
# Not data: the map outlines and the empty base map (dashboards/geo.py), the same for everyone, cached for a day.
CACHEABLE_PREFIXES = ("/geo/",)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Methods that open a page: a HEAD is a GET without the body (Flask answers it with the GET's view), so it passes the
# same page and query checks; it skipped them (a closed page or another province's city was a 200, unaudited).
PAGE_METHODS = frozenset({"GET", "HEAD"})
# Fetch Metadata (Sec-Fetch-Site): what a browser sends when another origin makes the request. "same-origin" and
# "none" (typed, bookmarked) pass; a browser without the header falls back on the SameSite cookie.
CROSS_ORIGIN_FETCH = frozenset({"cross-site", "same-site"})
FILE_PREFIXES = ("/dossiers/", "/download/", "/extracts/")
FILE_ENDPOINTS = frozenset({"dossier", "download_extract", "extract_file"})
AUDITED_FILE_ENDPOINTS = FILE_ENDPOINTS | {"report_route"}


# The query names Dash's own routes are sent with by Dash itself (dash 4.4; tests/test_security_attacks14.py reads
# the app's pages and posts a callback as the renderer does, to keep this true): the renderer asks for the layout and
# the dependencies with none, and each callback with ``endId`` (the page's signed id, from its config) and, for a
# background callback, ``cacheKey`` and ``job``; a bundle's URL carries its version in the file name
# (``….v4_4_1m1796450960.js``, the async chunks too), an asset Dash links its modification time (``?m=``), its icon
# Dash's version (``?v=``). ``lang`` on each, as on every route (the language of a refusal). Any other name, or a
# name twice, is refused (400, both languages) as on the app's own routes: a forged or mistyped query to these
# routes was silently served as if it were not there.
DASH_ROUTE_QUERY = {
    "_dash-layout": frozenset({"lang"}),
    "_dash-dependencies": frozenset({"lang"}),
    "_dash-update-component": frozenset({"lang", "endId", "cacheKey", "job"}),
    "_reload-hash": frozenset({"lang"}),
    "_favicon.ico": frozenset({"lang", "v"}),
    "_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": frozenset({"lang"}),
}
# Flask's and Dash's static routes (by endpoint): the assets carry Dash's ``?m=``
STATIC_ROUTE_QUERY = {"_dash_assets.static": frozenset({"lang", "m"}), "static": frozenset({"lang"})}


def route_query_params(server: flask.Flask, endpoint: str | None, routes_prefix: str = "/") -> frozenset | None:
    """The query names the route ``endpoint`` reads: the app's own (security.query_params), Dash's (above, its
    endpoints named by their path under the routes prefix), or None for the pages (their layouts decide)."""
    if not endpoint:
        return None
    declared = security.declared_query_params(server.view_functions.get(endpoint))
    if declared is not None:
        return declared
    if endpoint in STATIC_ROUTE_QUERY:
        return STATIC_ROUTE_QUERY[endpoint]
    if endpoint.startswith(routes_prefix):
        return DASH_ROUTE_QUERY.get(endpoint[len(routes_prefix) :])
    return None


def limit_address() -> str:
    """The client's address as the per-address limits count it: an IPv6 address by its /64 (auth.address_key)."""
    return address_key(get_remote_address()) or ""


def one_byte_range(header: str) -> bool:
    """Whether a Range header asks for one byte range, the one kind the file routes serve (206)."""
    parsed = parse_range_header(header)
    return parsed is not None and parsed.units == "bytes" and len(parsed.ranges) == 1


def open_without_sign_in(path: str, rule: str) -> bool:
    """Whether the gate serves ``path`` (matched by the route ``rule``) to anyone: the public paths, and what the
    public static routes themselves serve. The prefix alone is not enough: '/assets//x' matches no static route and
    reached Dash's catch-all, the app's page shell, unsigned. Read by the gate and by the caching headers."""
    return path in PUBLIC_PATHS or (path.startswith(PUBLIC_PREFIXES) and rule.startswith(PUBLIC_PREFIXES))


class WebUser(UserMixin):
    def __init__(self, user):
        self.username = user.username
        self.role = user.role
        self.province_code = user.province_code
        self._stamp = user.auth_stamp

    def get_id(self) -> str:
        # The stamp changes on disable, password reset and role change, which ends every open session.
        return f"{self.username}:{self._stamp}"


class TlsAwareSessionInterface(SecureCookieSessionInterface):
    """Session cookie marked Secure whenever the request came over TLS (directly or via a trusted proxy), and then
    named with the ``__Host-`` prefix."""

    def get_cookie_secure(self, app) -> bool:
        if flask.has_request_context() and flask.request.is_secure:
            return True
        return bool(app.config.get("SESSION_COOKIE_SECURE"))

    def get_cookie_name(self, app) -> str:
        # Over TLS the cookie is "__Host-ipcity_session": a browser keeps a cookie of that name only when this host
        # set it, Secure, for the whole path and without a Domain (RFC 6265bis §4.1.3.2). A sibling host of the
        # same site (another office's server under the same parent domain) could set "ipcity_session" for the
        # parent domain, which the browser sent here too: a session of its own choosing (signed in as the
        # attacker's account, so what the official then entered or saved went to that account). Plain HTTP (a
        # developer's machine) keeps the bare name: a browser refuses a __Host- cookie that is not Secure.
        name = super().get_cookie_name(app)
        if flask.has_request_context() and flask.request.is_secure:
            return "__Host-" + name
        return name


LOGIN_TEXT = {
    "zh": {
        "title": "登录 · 知识产权强市监测评价平台",
        "heading": "知识产权强市监测评价平台",
        "user": "用户名",
        "password": "密码",
        "submit": "登录",
        "failed": "用户名或密码错误，或账户已停用。",
        "limited": "尝试次数过多，请稍后再试。",
        "no_province": "此省级账户的省份代码不是任何省份，账户无法使用。请联系国家知识产权局管理员更正。",
        "other": "English",
        "forbidden_title": "无权访问",
        "forbidden": "您的账户无权查看此页面或数据（省级账户只能查看本省城市的详细数据）。如需访问，请联系国家知识产权局管理员。",
        "error_title": "出错了",
        "error": "处理请求时出现内部错误，已记录在服务器日志中。请稍后重试；如问题持续，请联系管理员。",
        "home": "返回年度总览",
        "csrf_title": "表单已失效",
        "csrf": "表单已过期或无效（缺少安全令牌或令牌不符）。请返回，刷新页面后重试。",
        "bad_request_title": "请求有误",
        "bad_request": "请求中的参数或内容无法识别，未作处理。",
        "sign_in_title": "请先登录",
        "sign_in": "请先登录，再打开此页面或数据。",
        "not_found_title": t("page_not_found", "zh"),  # the Dash router's own 404 page says the same
        "not_found": "没有这个页面或文件。请检查网址，或从导航栏进入。",
        "method_title": "不支持的请求方式",
        "method": "此网址不接受这种请求方式（例如对只能打开的页面提交了表单）。",
        "too_large_title": "请求过大",
        "too_large": "请求的内容过大，未作处理。",
        "too_long_title": "网址过长",
        "too_long": "网址过长，未作处理。",
        "limited_title": "请求过于频繁",
        "busy_title": "同时进行的请求过多",
        "busy": "此账户同时进行的请求过多（报告、数据文件或图表计算），请稍后再试。",
        "unavailable_title": "暂不可用",
        "unavailable": "数据暂不可用（尚未发布快照，或正在更新）。请稍后再试。",
        "cross_origin_title": "已拒绝跨站请求",
        "cross_origin": "此请求来自其他网站，已拒绝。请在本平台的页面上操作。",
    },
    "en": {
        "title": "Sign in · IP Strong-City Monitor",
        "heading": "IP Strong-City Monitor",
        "user": "User name",
        "password": "Password",
        "submit": "Sign in",
        "failed": "Wrong user name or password, or the account is disabled.",
        "limited": "Too many attempts; please wait and try again.",
        "no_province": "This provincial account's province code is no province, so the account cannot be used. Ask "
        "the national office's administrator to correct it.",
        "other": "中文",
        "forbidden_title": "No access",
        "forbidden": "Your account may not open this page or data (provincial accounts see their own province's "
        "cities in detail). Ask the national office's administrator if you need access.",
        "error_title": "Something went wrong",
        "error": "An internal error occurred while handling the request; it has been logged on the server. Please "
        "try again later, and contact the administrator if it persists.",
        "home": "Back to the overview",
        "csrf_title": "Form expired",
        "csrf": "The form has expired or is not valid (its security token is missing or wrong). Go back, reload the "
        "page and try again.",
        "bad_request_title": "Bad request",
        "bad_request": "A parameter or the content of the request was not understood; nothing was done.",
        "sign_in_title": "Sign in first",
        "sign_in": "Please sign in before opening this page or data.",
        "not_found_title": t("page_not_found", "en"),
        "not_found": "There is no such page or file. Check the address, or start from the navigation bar.",
        "method_title": "Method not allowed",
        "method": "This address does not accept this kind of request (a form sent to a page that is only opened, "
        "for example).",
        "too_large_title": "Request too large",
        "too_large": "The request's content is too large; nothing was done.",
        "too_long_title": "Address too long",
        "too_long": "The address is too long; nothing was done.",
        "limited_title": "Too many requests",
        "busy_title": "Too many requests at once",
        "busy": "This account has too many requests running at once (reports, data files or chart updates); please "
        "try again shortly.",
        "unavailable_title": "Not available",
        "unavailable": "The data is not available yet (no snapshot published, or one being updated). Please try "
        "again shortly.",
        "cross_origin_title": "Cross-site request refused",
        "cross_origin": "This request came from another site and was refused. Use the platform's own pages.",
    },
}


PASSWORD_TEXT = {
    "zh": {
        "title": "修改密码 · 知识产权强市监测评价平台",
        "heading": "修改密码",
        "current": "当前密码",
        "new": "新密码",
        "confirm": "再次输入新密码",
        "rules": f"至少{MIN_PASSWORD}个字符，不含用户名，不能是常见密码、键盘连续按键或字母数字序列。"
        "修改后，此账户在其他浏览器或设备上的登录将全部退出。",
        "submit": "修改密码",
        "wrong": "当前密码错误。",
        "mismatch": "两次输入的新密码不一致。",
        "done": "密码已修改。此账户的其他登录已全部退出。",
    },
    "en": {
        "title": "Change password · IP Strong-City Monitor",
        "heading": "Change password",
        "current": "Current password",
        "new": "New password",
        "confirm": "New password again",
        "rules": f"At least {MIN_PASSWORD} characters, not containing the user name, not a common password, a "
        "keyboard walk or a letter or digit sequence. Once changed, this account is signed out everywhere else.",
        "submit": "Change password",
        "wrong": "The current password is wrong.",
        "mismatch": "The two new passwords differ.",
        "done": "Your password has been changed. The account's other sessions have been signed out.",
    },
}


def csrf_token() -> str:
    """The session's form token (made on first use; a new one at sign-in and at a password change)."""
    token = flask.session.get(CSRF_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        flask.session[CSRF_KEY] = token
    return token


def csrf_ok() -> bool:
    """Whether the posted form carries the session's token (compared in constant time)."""
    token, sent = flask.session.get(CSRF_KEY), flask.request.form.get(CSRF_FIELD, "")
    return isinstance(token, str) and bool(token) and hmac.compare_digest(token.encode(), sent.encode())


def _csrf_refused(lang: str | None) -> flask.Response:
    """A form without the session's token: refused, in both languages (a stale page or a forged post)."""
    principal = access.current_principal()
    if principal.authenticated:
        access.audit(principal, "post", flask.request.path[:200], "denied", "missing or wrong form token")
    lang = norm_lang(lang)
    if "text/html" in (flask.request.headers.get("Accept") or ""):
        return error_page(lang, 400, "csrf")
    zh, en = LOGIN_TEXT["zh"]["csrf"], LOGIN_TEXT["en"]["csrf"]
    return _plain(400, f"{zh} / {en}")


def _login_page(lang: str, next_url: str, error: str | None = None, status: int = 200):
    lang = norm_lang(lang)
    tx = LOGIN_TEXT[lang]
    token = csrf_token()
    other = "en" if lang == "zh" else "zh"
    e = html.escape
    body = f"""<!DOCTYPE html>
<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{e(tx["title"])}</title>
<link rel="stylesheet" href="/assets/style.css"></head>
<body class="ipc-login-body"><main class="ipc-login">
<h1>{e(tx["heading"])}</h1>
{f'<p class="ipc-login-error" role="alert" id="login-error">{e(error)}</p>' if error else ""}
<form method="post" action="/login?lang={lang}" id="login-form">
<input type="hidden" name="csrf" value="{e(token)}"><input type="hidden" name="next" value="{e(next_url)}">
<label>{e(tx["user"])}<input name="username" id="login-username" autocomplete="username" required maxlength="64"></label>
<label>{e(tx["password"])}<input name="password" id="login-password" type="password" autocomplete="current-password" required maxlength="1024"></label>
<button type="submit" id="login-submit" class="ipc-button">{e(tx["submit"])}</button>
</form>
<p><a href="/login?{e(_qs({"lang": other, "next": next_url}))}">{e(tx["other"])}</a></p>
</main></body></html>"""
    return flask.Response(body, status=status, mimetype="text/html")


def error_page(lang: str, status: int, kind: str, header: str = "", detail: str = "") -> flask.Response:
    """A refusal or failure a person reads (a page opened in the browser): what happened, in their language, and
    a way back; never a bare status line or a traceback. ``kind`` is a key of LOGIN_TEXT with its "_title"
    ("forbidden", "error", "not_found"... see STATUS_KIND). ``header`` is the app's header as HTML
    (app.header_html), so the page is not a dead end; ``detail`` the technical reason (a parameter's name), shown
    escaped under the sentence."""
    tx = LOGIN_TEXT[norm_lang(lang)]
    e = html.escape
    more = f'<p class="ipc-muted" id="error-detail">{e(detail)}</p>' if detail else ""
    body = f"""<!DOCTYPE html>
<html lang="{"zh-CN" if norm_lang(lang) == "zh" else "en"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{e(tx[kind + "_title"])}</title>
<link rel="stylesheet" href="/assets/style.css"></head>
<body class="ipc-login-body">{header}<main class="ipc-login" id="error-page">
<h1>{e(tx[kind + "_title"])}</h1><p role="alert">{e(tx[kind])}</p>{more}
<p><a href="/?{e(_qs({"lang": norm_lang(lang)}))}">{e(tx["home"])}</a></p>
</main></body></html>"""
    return flask.Response(body, status=status, mimetype="text/html")


def _password_page(
    lang: str, username: str, error: str | None = None, status: int = 200, done: bool = False
) -> flask.Response:
    """The signed-in account's change-password form (the sign-in page's look)."""
    lang = norm_lang(lang)
    tx = PASSWORD_TEXT[lang]
    other = "en" if lang == "zh" else "zh"
    e = html.escape
    notice = ""
    if error:
        notice = f'<p class="ipc-login-error" role="alert" id="password-error">{e(error)}</p>'
    elif done:
        notice = f'<p role="status" id="password-done">{e(tx["done"])}</p>'
    field = f'type="password" required maxlength="{MAX_PASSWORD}"'
    body = f"""<!DOCTYPE html>
<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{e(tx["title"])}</title>
<link rel="stylesheet" href="/assets/style.css"></head>
<body class="ipc-login-body"><main class="ipc-login" id="password-page">
<h1>{e(tx["heading"])}</h1>
<p class="ipc-muted">{e(username)}</p>
{notice}
<form method="post" action="{PASSWORD_PATH}?lang={lang}" id="password-form">
<input type="hidden" name="{CSRF_FIELD}" value="{e(csrf_token())}">
<input type="text" name="username" value="{e(username)}" autocomplete="username" hidden readonly>
<label>{e(tx["current"])}<input name="current" id="password-current" autocomplete="current-password" {field}></label>
<label>{e(tx["new"])}<input name="new" id="password-new" autocomplete="new-password" minlength="{MIN_PASSWORD}" {field}></label>
<label>{e(tx["confirm"])}<input name="confirm" id="password-confirm" autocomplete="new-password" minlength="{MIN_PASSWORD}" {field}></label>
<p class="ipc-muted">{e(tx["rules"])}</p>
<button type="submit" id="password-submit" class="ipc-button">{e(tx["submit"])}</button>
</form>
<p><a href="/?{e(_qs({"lang": lang}))}">{e(LOGIN_TEXT[lang]["home"])}</a> ·
<a href="{PASSWORD_PATH}?{e(_qs({"lang": other}))}">{e(LOGIN_TEXT[lang]["other"])}</a></p>
</main></body></html>"""
    return flask.Response(body, status=status, mimetype="text/html")


def _logout_page(lang: str | None) -> flask.Response:
    """The sign-out button, for a GET of /logout (a typed or bookmarked URL): the sign-out itself is a POST."""
    lang = norm_lang(lang)
    e = html.escape
    label = e(t("logout", lang))
    body = f"""<!DOCTYPE html>
<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{label}</title>
<link rel="stylesheet" href="/assets/style.css"></head>
<body class="ipc-login-body"><main class="ipc-login" id="logout-page"><h1>{label}</h1>
<form method="post" action="/logout"><input type="hidden" name="{CSRF_FIELD}" value="{e(csrf_token())}">
<button type="submit" id="logout-confirm">{label}</button></form>
<p><a href="/?{e(_qs({"lang": lang}))}">{e(LOGIN_TEXT[lang]["home"])}</a></p>
</main></body></html>"""
    return flask.Response(body, status=200, mimetype="text/html")


def _plain(status: int, reason: str):
    return flask.Response(reason + "\n", status=status, mimetype="text/plain")


# The words of each status a person can be answered with (LOGIN_TEXT's keys). Werkzeug's own pages (405, 404, 400,
# 503 from abort) were English-only HTML, and the plain answers ("sign in first", "request too large") English-only
# lines: every answer now goes through ``refusal``.
STATUS_KIND = {
    400: "bad_request",
    401: "sign_in",
    403: "forbidden",
    404: "not_found",
    405: "method",
    413: "too_large",
    414: "too_long",
    429: "limited",
    500: "error",
    503: "unavailable",
}


def refusal(status: int, detail: str = "", kind: str | None = None) -> flask.Response:
    """A refusal or failure in the reader's language (``?lang=``; 简体中文 unless English is chosen): the page
    with the app's header for a page opened in a browser, else a plain text, the chosen language first and the
    other after it (a script's log, a download manager), with ``detail`` (the technical reason: which parameter,
    which year) on its own line. Never a traceback, never a server path or a library's version."""
    kind = kind or STATUS_KIND.get(status) or ("error" if status >= 500 else "bad_request")
    lang = _refusal_lang() if flask.has_request_context() else norm_lang(None)
    # any method: a browser's form post (a 405, a 413) is read by a person too
    if flask.has_request_context() and "text/html" in (flask.request.headers.get("Accept") or ""):
        principal = access.current_principal()
        build = flask.current_app.config.get("IPCITY_PAGE_HEADER")
        header = build(principal) if build and principal.authenticated else ""
        return error_page(lang, status, kind, header, detail)
    first, second = LOGIN_TEXT[lang][kind], LOGIN_TEXT["en" if lang == "zh" else "zh"][kind]
    return _plain(status, f"{first} / {second}" + (f"\n{detail}" if detail else ""))


def _refusal_lang() -> str:
    """The language a refusal is said in: for a callback (``/_dash-update-component``), the page's own, as the
    callbacks read it (its language store, else the page URL's ``lang`` the router callback carries), since Dash
    never puts ``?lang=`` on the callback URL and an English page's refusals came in Chinese first; otherwise, and
    when the body says nothing usable, ``?lang=``; 简体中文 by default."""
    req = flask.request
    if req.path == "/_dash-update-component" and req.method == "POST":
        found = _callback_page_lang(req)
        if found is not None:
            return found
    return norm_lang(req.args.get("lang"))


def _callback_page_lang(req) -> str | None:
    """The page language a callback body carries, or None. Never raises: the body may be what was refused (too
    large, too deep, not JSON), so it is read only when small enough and measured before it is parsed."""
    from urllib.parse import parse_qs

    if req.content_length is None or req.content_length > security.MAX_CONTENT_LENGTH:
        return None
    try:
        raw = req.get_data(cache=True)
        if security.json_depth(raw) > security.MAX_JSON_DEPTH:
            return None
        body = json.loads(raw or b"null")
    except Exception:  # noqa: BLE001 - an unreadable body: the URL's language, as for any other request
        return None
    if not isinstance(body, dict):
        return None
    shapes = flask.current_app.config.get("IPCITY_CALLBACK_VALUES") or security.CALLBACK_VALUES
    from_search = None
    for kind in ("state", "inputs"):
        items = body.get(kind)
        for item in items if isinstance(items, list) else []:
            for it in item if isinstance(item, list) else [item]:
                if not isinstance(it, dict):
                    continue
                key, value = security.callback_value_key(it), it.get("value")
                # a page's language store: the values declared with the language shape (security.CALLBACK_VALUES)
                if shapes.get(key) is security.lang_value and value in LANGS:
                    return value
                if key == "_pages_location.search" and isinstance(value, str) and from_search is None:
                    langs = parse_qs(value.lstrip("?")).get("lang") or []
                    from_search = langs[0] if len(langs) == 1 and langs[0] in LANGS else None
    return from_search


def _wants_html() -> bool:
    return flask.request.method in PAGE_METHODS and "text/html" in (flask.request.headers.get("Accept") or "")


def install(app, store: UserStore, secret_key_file: Path | None, *, debug: bool = False, pages: dict) -> None:
    """Wire sign-in, the request gate and the security headers into the Dash app's Flask server."""
    server: flask.Flask = app.server
    server.config.update(
        SECRET_KEY=secret_key(secret_key_file),
        IPCITY_USER_STORE=store,
        MAX_CONTENT_LENGTH=security.MAX_CONTENT_LENGTH,
        MAX_FORM_MEMORY_SIZE=security.MAX_FORM_MEMORY_SIZE,
        MAX_FORM_PARTS=50,
        SESSION_COOKIE_NAME="ipcity_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_REFRESH_EACH_REQUEST=True,
        PERMANENT_SESSION_LIFETIME=SESSION_IDLE,
        REMEMBER_COOKIE_DURATION=dt.timedelta(0),
    )
    server.session_interface = TlsAwareSessionInterface()

    # The client's address is the one the deployment's own proxies saw (settings.trusted_proxies: that many
    # X-Forwarded-For entries from the right; none by default), for the limits, the audit log and the session.
    # Applied here, not only in the WSGI entry point, so every way of serving the app believes the same proxies.
    hops = settings.trusted_proxies()
    if hops:
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    server.wsgi_app = SizedBody(server.wsgi_app, security.MAX_CONTENT_LENGTH)

    login_manager = LoginManager()
    login_manager.session_protection = "strong"
    # Flask-Login's "strong" protection ties the session to a hash of the client's address and browser, but reads
    # the address from X-Forwarded-For as the client sent it: a copied cookie replayed from elsewhere with the
    # victim's address in that header passed. The address is the request's (after ProxyFix, above) instead.
    login_manager._session_identifier_generator = session_identifier
    login_manager.init_app(server)

    @login_manager.user_loader
    def load_user(user_id: str):
        username, _, stamp = (user_id or "").partition(":")
        started = flask.session.get("login_at")
        if not isinstance(started, int | float) or time.time() - started > SESSION_MAX.total_seconds():
            return None
        # the sign-in's own id: a session signed out (a copy of its cookie replayed after the sign-out) is over too
        session_id = flask.session.get(SESSION_ID_KEY)
        if not isinstance(session_id, str) or not session_id:
            return None
        user = store.session_user(username, session_id)
        if user is None or not user.active or not hmac.compare_digest(user.auth_stamp, stamp):
            return None
        if without_province(user):
            return None  # a province of no cities: nothing to see (its sign-in is refused too)
        # The session is bound to the address and browser it signed in from (session_identifier). Flask-Login's
        # "strong" protection does not hold it: for a permanent session (every one here) it only marks the
        # session not fresh and goes on, so a copied cookie worked from anywhere. Checked here instead.
        bound = flask.session.get("_id")
        if not isinstance(bound, str) or not hmac.compare_digest(bound, session_identifier()):
            access.audit(
                access.Principal(user.username, user.role, user.province_code),
                "session",
                flask.request.path[:200],
                "denied",
                "session used from another address or browser",
            )
            return None
        return WebUser(user)

    _install_headers(app, server, debug)  # first: its hook must run even when the gate answers the request
    if not debug:
        _hide_versions(app)
    # counted in the accounts store, not in this worker's memory: each of gunicorn's workers would count apart
    limiter = Limiter(
        limit_address,
        app=server,
        storage_uri=SharedLimitStorage.STORAGE_SCHEME[0] + "://",
        storage_options={"store": store},
        strategy="fixed-window",
        default_limits=[],
    )

    def account_key() -> str:
        # per account, whichever address it comes from (a province's NAT shares one address); per address before
        # sign-in (the gate refuses those requests anyway)
        return "account:" + current_user.username if current_user.is_authenticated else limit_address()

    for endpoint, limit in BUILT_FILE_LIMITS.items():  # routes registered by create_app before this: views wrapped
        view = server.view_functions[endpoint]
        server.view_functions[endpoint] = limiter.limit(limit, key_func=account_key)(view)
    # ... and how many at once: the limits above count per minute, so one script could start them all in the same
    # second (dashboards.busy: a few per account running, a few waiting, the rest refused)
    # its refusal is said as every other (``refusal``: the page's language first, a page for a browser)
    busy.install(server, store.path.parent / "busy", lambda: refusal(429, kind="busy"))
    _send_own_callbacks(server, app.config.routes_pathname_prefix + "_dash-dependencies")

    @server.route("/login", methods=["GET", "POST"])
    # Only attempts that did not sign in count toward the address's limit: a provincial office's staff behind one
    # NAT address sign in dozens of times a morning, and counting their successes locked the whole office out.
    # Guessing still counts in full, here and per account (UserStore.locked).
    @limiter.limit(LOGIN_LIMIT, methods=["POST"], deduct_when=_not_signed_in)
    @security.query_params("lang", "next")
    def login():
        lang = norm_lang(flask.request.args.get("lang"))
        next_url = security.safe_local_path(flask.request.values.get("next"))
        if flask.request.method == "GET":
            return _login_page(lang, next_url)
        form = flask.request.form
        if not csrf_ok():
            return _csrf_refused(lang)
        username = form.get("username", "")[:64]
        user = store.authenticate(username, form.get("password", ""), remote_addr=get_remote_address())
        if user is None:
            # an account's name, or the fingerprint of what was typed (maybe a password: UserStore.audit_name)
            access.audit(access.Principal(store.audit_name(username), None), "login", "/login", "failed")
            return _login_page(lang, next_url, LOGIN_TEXT[lang]["failed"], 401)
        if without_province(user):
            # the password was right, so say why: the operator must correct the province (`ipcity users list`)
            access.audit(
                access.Principal(user.username, user.role),
                "login",
                "/login",
                "denied",
                f"province {user.province_code} is no province",
            )
            return _login_page(lang, next_url, LOGIN_TEXT[lang]["no_province"], 403)
        flask.session.clear()
        flask.session.permanent = True
        flask.session["login_at"] = time.time()
        flask.session[SESSION_ID_KEY] = secrets.token_urlsafe(24)
        flask.session[CSRF_KEY] = secrets.token_urlsafe(32)  # the signed-in session's own, not the sign-in page's
        login_user(WebUser(user))
        flask.g.signed_in = True
        access.audit(access.Principal(user.username, user.role, user.province_code), "login", "/login", "ok")
        return flask.redirect(next_url)

    @server.route("/logout", methods=["GET", "POST"])
    @security.query_params("lang")
    def logout():
        # Signing out changes state, so only a POST does it: the session cookie is SameSite=Lax, which a browser
        # sends with another site's link (a GET) but not with another site's form, so no page elsewhere can sign
        # an official out. A GET (a typed or bookmarked URL) gets the button that does.
        if flask.request.method == "GET":
            return _logout_page(flask.request.args.get("lang"))
        principal = access.current_principal()
        if principal.authenticated and not csrf_ok():
            # (a session already over has nothing to end: its page's button just goes on to the sign-in page)
            return _csrf_refused(flask.request.args.get("lang"))
        session_id, started = flask.session.get(SESSION_ID_KEY), flask.session.get("login_at")
        if principal.authenticated:
            access.audit(principal, "logout", "/logout", "ok")
        if isinstance(session_id, str) and session_id and isinstance(started, int | float):
            # the browser forgets the cookie below; the store refuses any copy of it until it would have expired
            store.end_session(session_id, dt.datetime.fromtimestamp(started, dt.UTC) + SESSION_MAX)
        logout_user()
        flask.session.clear()
        return flask.redirect("/login")

    @server.route(PASSWORD_PATH, methods=["GET", "POST"])
    # wrong current passwords count like failed sign-ins: toward the address's limit here, and toward the account's
    # lockout in the store (UserStore.change_password goes through authenticate); the rest do not
    @limiter.limit(LOGIN_LIMIT, methods=["POST"], deduct_when=lambda _r: bool(flask.g.get("wrong_password")))
    @security.query_params("lang", "changed")
    def change_password():
        # signed in: the gate sends anyone else to the sign-in page first
        lang = norm_lang(flask.request.args.get("lang"))
        principal = access.current_principal()
        if flask.request.method == "GET":
            return _password_page(lang, principal.username, done=flask.request.args.get("changed") == "1")
        if not csrf_ok():
            return _csrf_refused(lang)
        tx, form = PASSWORD_TEXT[lang], flask.request.form
        current, new = form.get("current", ""), form.get("new", "")
        if new != form.get("confirm", ""):
            return _password_page(lang, principal.username, tx["mismatch"], 400)
        try:
            user = store.change_password(principal.username, current, new, remote_addr=get_remote_address())
        except WeakPassword as e:
            access.audit(principal, "password_change", PASSWORD_PATH, "refused", f"policy: {e.reason}")
            message = reason_text(e.reason, lang)
            return _password_page(lang, principal.username, message, 400)
        except UserError:
            flask.g.wrong_password = True
            access.audit(principal, "password_change", PASSWORD_PATH, "failed", "wrong current password")
            locked = store.locked(principal.username, get_remote_address())
            message = LOGIN_TEXT[lang]["limited"] if locked else tx["wrong"]
            return _password_page(lang, principal.username, message, 401)
        # The store gave the account a new stamp, which ends every session it had, this one too; this one goes on
        # under a new id and form token (the old id is ended as at sign-out: a copy of this cookie is worth nothing).
        session_id, started = flask.session.get(SESSION_ID_KEY), flask.session.get("login_at")
        if isinstance(session_id, str) and session_id and isinstance(started, int | float):
            store.end_session(session_id, dt.datetime.fromtimestamp(started, dt.UTC) + SESSION_MAX)
        flask.session.clear()
        flask.session.permanent = True
        flask.session["login_at"] = started  # no longer than SESSION_MAX from the sign-in, as before
        flask.session[SESSION_ID_KEY] = secrets.token_urlsafe(24)
        flask.session[CSRF_KEY] = secrets.token_urlsafe(32)
        login_user(WebUser(user))
        access.audit(principal, "password_change", PASSWORD_PATH, "ok", "other sessions ended")
        return flask.redirect(PASSWORD_PATH + "?" + _qs({"lang": lang, "changed": "1"}))

    @server.errorhandler(429)
    def too_many(_e):
        lang = norm_lang(flask.request.args.get("lang"))
        if flask.request.path == PASSWORD_PATH and current_user.is_authenticated:
            return _password_page(lang, current_user.username, LOGIN_TEXT[lang]["limited"], 429)
        if flask.request.path == "/login":
            # not in the audit log: the attempts that reached the limit are there (each a failed sign-in), and a
            # row per refused request would let anyone fill the disk at the rate they can send them
            return _login_page(lang, "/", LOGIN_TEXT[lang]["limited"], 429)
        return refusal(429)

    @server.errorhandler(access.AccessDenied)
    def forbidden(_e):
        if _wants_html():  # a page someone opened (a bookmark, a shared link): say why, in their language
            build = flask.current_app.config.get("IPCITY_PAGE_HEADER")
            header = build(access.current_principal()) if build else ""
            return error_page(flask.request.args.get("lang"), 403, "forbidden", header)
        return refusal(403)

    @server.errorhandler(security.BadParameter)
    def bad_parameter(e):  # a malformed value in a callback's inputs (a forged request): said, not a 500
        return refusal(400, str(e))

    @server.errorhandler(security.NotFound)
    def not_found(e):
        return refusal(404, str(e))

    @server.errorhandler(SnapshotUnavailable)
    def no_snapshot(e):
        # No snapshot to read (none published yet, one of another schema version, a file being replaced): a
        # permission check or a callback that needed it was a 500 and a traceback in the log (a provincial office's
        # every callback naming a city, the downloads preview for everyone). Said as the file routes say it: 503.
        # The message names no server path (the exception's text is the snapshot's path).
        log.warning("no snapshot to answer %s: %s", flask.request.path[:200], type(e).__name__)
        return refusal(503)

    @server.errorhandler(DependencyException)
    def no_such_bundle(_e):
        # Dash's static bundles are open to anyone (no data); a name it does not serve is its exception, which
        # was a 500 and a traceback in the log for every guessed name from an anonymous caller
        return refusal(404)

    @server.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        # Every status Werkzeug or a view's abort() answers with (405 for a POST to a page, 413, 414, 400 for a
        # malformed form, 503...): its page was English-only HTML naming Werkzeug's wording. A 500 from an
        # unhandled exception comes here too (Flask wraps it in InternalServerError): never the traceback.
        if e.code is None or e.code < 400:
            return e
        if isinstance(e, RequestedRangeNotSatisfiable) and e.length:
            # RFC 9110 §15.5.17: a 416 says the file's length (``Content-Range: bytes */N``), so a download manager
            # resuming past the end learns where the file ends; the refusal dropped Werkzeug's header
            resp = refusal(416, f"Range: the file has {e.length} bytes")
            resp.headers["Content-Range"] = f"bytes */{e.length}"
            return resp
        resp = refusal(e.code)
        if e.code == 405 and isinstance(e, MethodNotAllowed) and e.valid_methods:
            resp.headers["Allow"] = ", ".join(sorted(e.valid_methods))  # RFC 9110 §15.5.6: a 405 says what is
        return resp

    @server.after_request
    def audit_files(resp):
        # every file a person takes away (a dossier, an extract, the indicator download, a report PDF) is in the
        # audit log with who took it; refusals are logged where they are decided (access.deny)
        # A part of a file (206, a Range request: a download manager, a resumed download, or a script taking the
        # file piece by piece) is taken too; it went unlogged. A HEAD takes nothing and is not a taken file.
        taken = resp.status_code in (200, 206) and flask.request.method == "GET"
        if taken and flask.request.endpoint in AUDITED_FILE_ENDPOINTS:
            target = flask.request.full_path if flask.request.query_string else flask.request.path
            part = f"part: {flask.request.headers.get('Range', '')[:100]}" if resp.status_code == 206 else ""
            # whose figures: the province (or unit, or all provinces) the view's permission check granted, so the
            # log answers "who took Guangdong's extract" without reading each path's or query's codes
            detail = "; ".join(filter(None, [access.granted(), part]))
            access.audit(access.current_principal(), "file", target[:500], "ok", detail)
        return resp

    @server.before_request
    def gate():
        req = flask.request
        if (
            req.method in PAGE_METHODS
            and req.path in PUBLIC_PATHS
            and security.query_ignored(server.view_functions.get(req.endpoint))
        ):
            return None  # /healthz: its status to any query, however long, never read (app.healthz says why)
        if "HTTP_RANGE" in req.environ and not one_byte_range(req.environ["HTTP_RANGE"]):
            # RFC 9110 §14.2: a Range the server does not serve (another unit, several ranges, a malformed one) is
            # ignored and the whole file sent. Werkzeug answered each with 416, so a download manager asking for two
            # parts of an extract, or a proxy's odd header, got no file at all (and no length to try again with).
            del req.environ["HTTP_RANGE"]
        if len(req.query_string) > security.MAX_QUERY_STRING or len(req.path) > security.MAX_PATH:
            flask.abort(414)
        if req.content_length is not None and req.content_length > security.MAX_CONTENT_LENGTH:
            flask.abort(413)
        path = req.path
        if path == "/_reload-hash" and not debug:
            # Dash's hot-reload poll: a developer tool, answered (files, packages) only by `ipcity serve --debug`
            return refusal(404)
        if req.method not in SAFE_METHODS and req.headers.get("Sec-Fetch-Site") in CROSS_ORIGIN_FETCH:
            # Cross-site request forgery: the browser says another origin made this request (a form or script on
            # another site, or on a sibling host of the same site, to which the SameSite=Lax cookie still goes).
            # Sign-out, sign-in and every callback (scenario save, alert silences) change state: refused, and
            # audited for a signed-in account (the one a forged request rides on; an anonymous flood writes nothing).
            principal = access.current_principal()
            if principal.authenticated:
                access.audit(principal, "post", path[:200], "denied", "cross-origin request")
            return refusal(403, kind="cross_origin")
        # public: the paths above, and what the static routes themselves serve. The prefix alone is not enough:
        # '/assets//x' matches no static route and reached Dash's catch-all, the app's page shell, unsigned.
        rule = req.url_rule.rule if req.url_rule is not None else ""
        # the query parameters each of the app's routes declared (security.query_params): any other name, or a
        # name given twice, is a 400 here, for every such route (a view read the first of two values, silently)
        declared = route_query_params(server, req.endpoint, app.config.routes_pathname_prefix)
        if open_without_sign_in(path, rule):
            if declared is not None:
                security.check_query(req.args, declared)
            return None
        if path.startswith(STATIC_PREFIXES) and rule.startswith(STATIC_PREFIXES) and current_user.is_authenticated:
            if declared is not None:  # the names Dash links a bundle with (DASH_ROUTE_QUERY), each once
                security.check_query(req.args, declared)
            return None  # a bundle for a signed-in page: no page or callback checks apply
        if not current_user.is_authenticated:
            if _wants_html() and not path.startswith("/_dash"):
                target = req.full_path if req.query_string else path
                return flask.redirect("/login?" + _qs({"next": security.safe_local_path(target)}))
            return refusal(401)
        if declared is not None:  # signed in first: an anonymous caller learns nothing of a route's parameters
            security.check_query(req.args, declared)
        principal = access.current_principal()
        wrong_method = isinstance(req.routing_exception, MethodNotAllowed)  # a served file's URL, another method
        if path.startswith(FILE_PREFIXES) and req.endpoint not in FILE_ENDPOINTS and not wrong_method:
            # e.g. '/dossiers//etc/passwd' falls through to Dash's catch-all: refuse instead of serving the shell.
            access.deny(principal, "file", path[:200], "not a served file path")
        if req.method in PAGE_METHODS and rule.endswith("<path:path>") and not _is_page(path):
            # Dash's catch-all answered every other path with the app's shell and a 200 (its router then drew
            # "not found" in the page): a link checker, a proxy or a script read a missing page as there
            return refusal(404)
        page = access.page_of_pathname(path, pages) if req.method in PAGE_METHODS else None
        if page is not None:
            access.authorize(principal, "page", page=page, target=path)
        if req.method in PAGE_METHODS and (rule == "/" or rule.endswith("<path:path>")):
            # A page (Dash's routes): the names its layout reads (security.layout_query_params), each once. The
            # pages' own links write each once (assets/url_state.js); Dash's router read the last of two, the page
            # checks every one; a name the page does not read (a typo, an invented one) was silently ignored.
            security.check_query(req.args, page_query_params(path))
        if req.query_string and not path.startswith("/_dash") and _wants_html():
            # a page (the navigation's, or one reached from them such as /flag) opened on another province's city
            access.check_page_query(
                principal, page or path, req.query_string.decode("utf-8", "replace"), server.config["IPCITY_SNAPSHOT"]
            )
        if path == "/_dash-update-component" and req.method == "POST":
            # (the route takes POST alone: any other method is answered 405 with its Allow header by the routing,
            # as on every route; it was checked as a callback with no body, a 403 and a "no access" audit row)
            if security.json_depth(req.get_data(cache=True)) > security.MAX_JSON_DEPTH:
                # forged: the JSON decoder, the checks and Dash walk a body by recursion (a 500 and a traceback)
                raise security.BadParameter("request body: nested too deeply")
            body = req.get_json(silent=True)
            access.check_callback(principal, body, server.config["IPCITY_SNAPSHOT"], pages, app.callback_map)
            # then the values' shapes: a forged list, number or giant string is a 400, never a callback's 500
            security.check_callback_values(body, server.config.get("IPCITY_CALLBACK_VALUES"))
            # the router callback draws a page for the URL it is sent: held to the page's names, as the page is
            check_router_query(body)
        return None


def page_query_params(path: str) -> frozenset | None:
    """The query names the page at ``path`` reads (its layout's parameters), or None when no page is there (the
    gate answers those with 404 first). Read from Dash's page registry, so the flag page (outside the navigation)
    is covered as every other."""
    import dash

    for page in dash.page_registry.values():
        if page["path"] != "/404" and access.page_of_pathname(path, [page["path"]]) is not None:
            return security.layout_query_params(page["layout"])
    return None


def check_router_query(body) -> None:
    """BadParameter when the pages router's callback carries a URL query the page would refuse when opened: a
    forged ``_pages_location.search`` drew the page with any name (the layouts took the rest as ``**_``)."""
    items = body.get("inputs") if isinstance(body, dict) else None
    found = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            found[security.callback_value_key(item)] = item.get("value")
    path, search = found.get("_pages_location.pathname"), found.get("_pages_location.search")
    if isinstance(path, str) and isinstance(search, str) and search.lstrip("?"):
        security.check_query(security.search_args(search), page_query_params(path))


def _send_own_callbacks(server: flask.Flask, endpoint: str) -> None:
    """Dash's callback list (``/_dash-dependencies``, which the renderer reads once per page load) as each account
    may use it: the callbacks whose outputs its role may have updated (access.own_callbacks, the callback gate's
    own rule). Every signed-in account was sent every callback of the app with the ids and properties of its inputs
    and states (a viewer learnt the alerts page's acknowledge and silence, the simulator's save and the quality
    page's run picker), though the gate refuses each of them to it."""
    view = server.view_functions[endpoint]

    @functools.wraps(view)
    def own_callbacks(*args, **kwargs):
        resp = flask.make_response(view(*args, **kwargs))
        if resp.status_code != 200:
            return resp
        listed = json.loads(resp.get_data())
        resp.set_data(json.dumps(access.own_callbacks(access.current_principal(), listed)))
        return resp

    server.view_functions[endpoint] = own_callbacks


class SizedBody:
    """WSGI middleware: a request body sent in chunks (``Transfer-Encoding: chunked``, no Content-Length) is read
    here, at most ``limit`` bytes and one more, and handed on with its length, so the size limit holds for it as for
    a body of a stated length (the gate's 413). Werkzeug read such a body only up to the limit and stopped without a
    word: a chunked 3 MB callback body reached the gate cut at 1 MiB, was no JSON and was refused as a forbidden
    callback (403, a "no access" audit row) instead of too large (413); a cut body could also have parsed as
    something else. Only where the server says it ends the stream itself (``wsgi.input_terminated``: gunicorn,
    Werkzeug's own server): elsewhere Werkzeug reads no such body at all."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):
            stream, parts, size = environ["wsgi.input"], [], 0
            while size <= self.limit:  # a server's stream may return less than asked (Werkzeug's dechunker)
                part = stream.read(self.limit + 1 - size)
                if not part:
                    break
                parts.append(part)
                size += len(part)
            body = b"".join(parts)
            environ["wsgi.input"] = io.BytesIO(body)
            # a body of this length now, no longer chunked (Werkzeug reads no length beside "chunked")
            environ["CONTENT_LENGTH"] = str(len(body))  # over the limit: the gate answers 413
            del environ["HTTP_TRANSFER_ENCODING"]
        return self.app(environ, start_response)


def session_identifier() -> str:
    """What a "strong" Flask-Login session is bound to: the client's address as the trusted proxies report it
    (``request.remote_addr``, never a header the client wrote) and its User-Agent, hashed."""
    req = flask.request
    agent = req.headers.get("User-Agent", "")
    return hashlib.sha512(f"{req.remote_addr}|{agent}".encode("utf-8", "replace")).hexdigest()


def _is_page(path: str) -> bool:
    """Whether Dash's router opens a page of the app at ``path`` (its own "not found" page is none)."""
    import dash

    paths = [p["path"] for p in dash.page_registry.values() if p["path"] != "/404"]
    return access.page_of_pathname(path, paths) is not None


def _not_signed_in(response: flask.Response) -> bool:
    """Whether a sign-in POST counts toward the address's limit (for the limiter): anything but a successful
    sign-in. (A post the gate refuses, such as another site's, never reaches the view, where the limit is counted.)"""
    return not (response.status_code == 302 and flask.g.get("signed_in"))


def _qs(params: dict) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


# What Dash's page config (the "_dash-config" script in every page) tells its developer tools' upgrade notice: the
# exact Python build (sys.version: version, build date, compiler), Dash's and Plotly's versions and Plotly's version
# server. The notice shows in debug mode only (the renderer reads nothing else of it); to anyone else the versions
# are a list of which published flaws apply.
VERSION_CONFIG_KEYS = ("python_version", "dash_version", "plotly_version", "ddk_version", "dash_version_url")


def _hide_versions(app) -> None:
    """Leave the version fields out of Dash's page config (``Dash._config``, read per page load)."""
    own_config = app._config

    def config_without_versions():
        config = own_config()
        for key in VERSION_CONFIG_KEYS:
            config.pop(key, None)
        return config

    app._config = config_without_versions


def _install_headers(app, server: flask.Flask, debug: bool) -> None:
    @server.after_request
    def _hsts_on_tls_only(resp):
        # Talisman decides "HTTPS" by the request or by a raw X-Forwarded-Proto header, which any client can send;
        # whether a proxy's word counts is the deployment's (ProxyFix with IPCITY_TRUSTED_PROXIES). Registered
        # before Talisman, so it runs after Talisman's own header hook (Flask runs them last-registered first).
        if not flask.request.is_secure:
            resp.headers.pop("Strict-Transport-Security", None)
        return resp

    talisman = Talisman(
        server,
        force_https=False,  # TLS ends at the office's proxy or gunicorn; cookies follow the request (see above)
        strict_transport_security=True,  # sent on HTTPS responses only
        session_cookie_secure=False,
        session_cookie_http_only=True,
        session_cookie_samesite="Lax",
        frame_options="DENY",
        content_security_policy=security.content_security_policy([]),
        referrer_policy="same-origin",
        x_content_type_options=True,
    )
    state = {"ready": False}

    @server.before_request
    def _csp_hashes():
        # Dash adds its inline scripts (renderer start-up, pages' clientside callbacks) while setting up on the
        # first request, so the hashes are taken then; the policy dict is read by Talisman on every response.
        if not state["ready"]:
            talisman.content_security_policy["script-src"] = ["'self'", *app.csp_hashes()]
            state["ready"] = True

    @server.after_request
    def _own_window(resp):
        # Cross-origin isolation of the dashboard's windows and files, which flask-talisman does not set. COOP: a
        # page of another site that opens the dashboard (window.open, a link with target) keeps no handle on its
        # window: it could navigate it elsewhere while the official read it (to a look-alike sign-in form), and
        # probe it (frames, history length) for what the official's account can see. CORP: no other site's page
        # can load a response here as its own resource (an image, a script, a frame's part). Every response:
        # the pages, the refusals, the downloads, the sign-in form.
        resp.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        resp.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return resp

    @server.after_request
    def _no_store(resp):
        # Every response but the static bundles and the (public) map outlines may carry an account's data — the
        # callbacks, downloads, dossiers, extracts, /report.pdf, pages — so none is kept by a browser or a proxy.
        rule = flask.request.url_rule.rule if flask.request.url_rule is not None else ""
        if not rule.startswith((*STATIC_PREFIXES, *CACHEABLE_PREFIXES)) or resp.status_code >= 400:
            # the routes, not a look-alike path; and a refusal (401, 404) is not kept either
            resp.headers["Cache-Control"] = "no-store"
        elif not open_without_sign_in(flask.request.path, rule):
            # Behind sign-in (Dash's bundles, the map outlines): the browser may keep them, a shared cache must not.
            # Dash sends its bundles with a bare max-age (and the outlines said "public"), which lets an office's
            # or an ISP's caching proxy store the answer to a signed-in request and hand it to anyone asking the
            # same URL without an account (a proxy keys by URL; "Vary: Cookie" is ignored by many), undoing the
            # gate (the bundles' versions name the published flaws that apply, see PUBLIC_PATHS).
            resp.cache_control.public = False
            resp.cache_control.private = True
        return resp
