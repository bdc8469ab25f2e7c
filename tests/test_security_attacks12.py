"""Attacks of the twelfth review (branch h_access12: "provinces with their own access"), tried against the real parts:
the running dashboard over HTTP (the shared app of tests/security_fixtures.py), the accounts store, the command line.
Each section says what was wrong; each of its tests failed before its fix (a test marked "guard" shows an attack that
already failed stays failing)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from dashboard_http import TEST_PASSWORD, form_token, login, rankings_body
from security_fixtures import SAME_ORIGIN, attack_web

from dashboards import auth
from dashboards import web as web_module
from pipelines.cli import main

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u3400-\u9fff]")
HTML = {"Accept": "text/html,application/xhtml+xml"}
# what no answer may carry: a traceback, the framework's own wording or version, a server path
LEAKS = ("Traceback", "Werkzeug", "werkzeug", "Flask", "Method Not Allowed", "The method is not allowed", str(ROOT))


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    return attack_web(tmp_path_factory, "attacks12", "gd12")


def _app(web, name: str):
    """Another app over the same snapshot with its own accounts folder (a deployment setting read at start)."""
    from dashboards.app import create_app

    base = web["base"] / name
    return create_app(web["snapshot"], user_store=base / "users.sqlite", secret_key_file=base / "secret_key")


# ---- 1. every error a person can reach says it in 简体中文 by default, in English when chosen ------------------------------
# Werkzeug's own pages answered a 405 (a form posted to a page, a POST to /healthz), an abort(404) or abort(503):
# English-only HTML in its own wording; the gate's plain answers were English-only lines ("sign in first", "request
# too large", "request URL too long", "internal error", "no such file"); a 400 or 404 of a download said only its
# technical reason; and an unknown page was the app's shell with a 200. Now every answer goes through web.refusal:
# a page with the header for a browser, a plain text for a script, the chosen language first, the right status.
def _oversized(client, path="/_dash-update-component"):
    return client.post(path, data=b"x" * (1024 * 1024 + 10), headers={**SAME_ORIGIN, "Content-Type": "text/plain"})


CASES = [
    # (who, method, path, status)
    ("anonymous", "get", "/rankings/x-data.json", 401),
    ("anonymous", "post", "/_dash-update-component", 401),
    ("anonymous", "post", "/healthz", 405),
    ("gd", "post", "/rankings", 405),
    ("gd", "put", "/login", 405),
    ("gd", "delete", "/download/extract", 405),
    ("gd", "get", "/no-such-page", 404),
    ("gd", "get", "/geo/no-such-layer.json", 404),
    ("gd", "get", "/download/extract?year=20x&fmt=csv", 400),
    ("gd", "get", "/download/extract?year=1999&province=44&fmt=csv", 404),
    ("gd", "get", "/report.pdf?year=1999&city=440100", 404),
    ("gd", "get", "/dossiers/440100_2024.html", 404),
    ("gd", "get", "/?" + "q=1&" * 1200, 414),
    ("gd", "oversized", "/_dash-update-component", 413),
    ("gd", "get", "/healthz", 500),  # its view made to fail below
]


@pytest.mark.parametrize(("who", "method", "path", "status"), CASES)
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("accept", ["*/*", "text/html"])
def test_every_error_is_said_in_the_chosen_language_with_its_status(
    web, monkeypatch, who, method, path, status, lang, accept
):
    client = web["gd"] if who == "gd" else web["app"].server.test_client()
    if status == 500:
        server = web["app"].server

        def fails():
            raise RuntimeError(f"a bug in {ROOT}/dashboards/app.py")

        monkeypatch.setitem(server.view_functions, "healthz", fails)
        monkeypatch.setattr(server, "testing", False)
        monkeypatch.setitem(server.config, "PROPAGATE_EXCEPTIONS", False)
    if lang == "en":
        path += ("&" if "?" in path else "?") + "lang=en"
    headers = {**SAME_ORIGIN, "Accept": accept}
    if method == "oversized":
        r = client.post(path, data=b"x" * (1024 * 1024 + 10), headers={**headers, "Content-Type": "text/plain"})
    else:
        r = getattr(client, method)(path, headers=headers)
    if who == "anonymous" and accept == "text/html" and method == "get":
        assert r.status_code == 302 and r.headers["Location"].startswith("/login?")  # a page: the sign-in form
        return
    text = r.get_data(as_text=True)
    assert r.status_code == status, (r.status_code, text[:300])
    assert not any(leak in text for leak in LEAKS), text[:600]
    if accept == "text/html":
        assert r.mimetype == "text/html" and f'<html lang="{"zh-CN" if lang == "zh" else "en"}"' in text, text[:300]
        body = re.sub(r"<[^>]+>", " ", text.split('id="error-page"', 1)[-1])
        first = body.strip()[:60]
    else:
        assert r.mimetype == "text/plain", r.mimetype
        first = text.split(" / ", 1)[0]
        assert CJK.search(text) and re.search(r"[A-Za-z]{4}", text), text  # both languages for a script's log
    # the chosen language says it first
    assert bool(CJK.search(first)) == (lang == "zh"), (lang, first)
    if status == 405:
        assert r.headers.get("Allow"), r.headers


def test_an_unknown_page_is_a_404_but_the_pages_open(web):
    gd = web["gd"]
    for path in ("/", "/rankings", "/rankings/", "/profile", "/flag", "/downloads"):
        assert gd.get(path, headers=HTML).status_code == 200, path
    r = gd.get("/rankingz", headers=HTML)
    assert r.status_code == 404 and "页面不存在（404）" in r.get_data(as_text=True)
    assert 'id="_dash-config"' not in r.get_data(as_text=True)


# ---- 2. the client's address is what the deployment's proxies saw, never what the client wrote ---------------------------
# Flask-Login's "strong" session protection binds a session to a hash of the client's address and browser, but read
# the address from X-Forwarded-For as sent: a session cookie copied to another machine, replayed with the victim's
# address written into that header, passed. Worse, for a permanent session (every session here) Flask-Login's check
# only marks the session "not fresh" and goes on: a copied cookie worked from any address and any browser. The
# binding is now checked by the app's user loader (refused and audited). And the proxy count was a switch of the WSGI entry point only (one proxy
# or none), so an app served any other way believed no proxy. Now the deployment states how many proxies it has
# (IPCITY_TRUSTED_PROXIES, default 0, `ipcity serve --trusted-proxies N`), the app applies ProxyFix with it, and the
# session, the limits and the audit log all read the address it yields.
def test_a_copied_session_cookie_does_not_pass_with_a_forged_forwarded_for(web):
    app = web["app"]
    owner = app.server.test_client()
    owner.environ_base.update(REMOTE_ADDR="10.0.0.1", HTTP_USER_AGENT="Firefox/140")
    web_module_login = login(owner, "gd12")
    assert web_module_login.status_code == 302
    assert owner.get("/rankings", headers=HTML).status_code == 200
    cookie = owner.get_cookie("ipcity_session").value
    thief = app.server.test_client()
    thief.environ_base.update(REMOTE_ADDR="10.6.6.6", HTTP_USER_AGENT="Firefox/140")
    thief.set_cookie("ipcity_session", cookie)
    for forged in ({}, {"X-Forwarded-For": "10.0.0.1"}, {"X-Forwarded-For": "10.0.0.1, 10.6.6.6"}):
        r = thief.get("/rankings", headers={**HTML, **forged})
        assert r.status_code == 302 and r.headers["Location"].startswith("/login"), (forged, r.status_code)
        r = thief.post("/_dash-update-component", json=rankings_body(2024), headers={**SAME_ORIGIN, **forged})
        assert r.status_code == 401, (forged, r.status_code)
    # the same address with another browser is another session too
    other_browser = app.server.test_client()
    other_browser.environ_base.update(REMOTE_ADDR="10.0.0.1", HTTP_USER_AGENT="curl/8")
    other_browser.set_cookie("ipcity_session", cookie)
    assert other_browser.get("/rankings", headers=HTML).status_code == 302
    refused = [r for r in auth.UserStore(web["store"]).audit_rows(10) if r["action"] == "session"]
    assert refused and refused[0]["remote_addr"] == "10.0.0.1" and refused[0]["username"] == "gd12", refused[:1]
    # the owner goes on (its own address, its own browser)
    assert owner.get("/rankings", headers=HTML).status_code == 200


def _last_audit(store_path) -> dict:
    return auth.UserStore(store_path).audit_rows(1)[0]


def test_without_trusted_proxies_the_audit_log_keeps_the_peer_address(web):  # guard
    client = web["app"].server.test_client()
    client.environ_base.update(REMOTE_ADDR="10.0.0.44")
    assert login(client, "gd12").status_code == 302
    client.get("/dossiers/..%2F..%2Fetc%2Fpasswd", headers={"X-Forwarded-For": "198.51.100.99"})
    row = _last_audit(web["store"])
    assert row["outcome"] == "denied" and row["remote_addr"] == "10.0.0.44", row


def test_behind_a_trusted_proxy_the_audit_and_the_limits_see_the_address_the_proxy_saw(web, monkeypatch):
    monkeypatch.setenv("IPCITY_TRUSTED_PROXIES", "1")
    app = _app(web, "one_proxy")
    store = web["base"] / "one_proxy" / "users.sqlite"
    auth.UserStore(store).add("gd12p", TEST_PASSWORD, "province", "44")
    client = app.server.test_client()
    client.environ_base.update(REMOTE_ADDR="10.9.9.9")  # the proxy
    # the client wrote 6.6.6.6 itself; the proxy appended the address it saw
    forwarded = {"X-Forwarded-For": "6.6.6.6, 203.0.113.7"}
    page = client.get("/login", headers=forwarded).get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    data = {"username": "gd12p", "password": "wrong-password-1", "csrf": token, "next": "/"}
    assert client.post("/login", data=data, headers=forwarded).status_code == 401
    row = _last_audit(store)
    assert row["action"] == "login" and row["remote_addr"] == "203.0.113.7", row
    assert auth.UserStore(store).locked("gd12p", "203.0.113.7") is False
    with sqlite3.connect(store) as con:
        assert con.execute("select remote_addr from login_failures").fetchall() == [("203.0.113.7",)]
    # https at the proxy: the session cookie is Secure (and, since round 14, "__Host-ipcity_session", a cookie apart
    # from the plain-HTTP one: the sign-in form is opened over https too, as a browser behind that proxy does)
    tls = {**forwarded, "X-Forwarded-Proto": "https"}
    page = client.get("/login", headers=tls).get_data(as_text=True)
    data["csrf"], data["password"] = re.search(r'name="csrf" value="([^"]+)"', page).group(1), TEST_PASSWORD
    r = client.post("/login", data=data, headers=tls)
    assert r.status_code == 302 and "Secure" in r.headers["Set-Cookie"], r.headers.get("Set-Cookie")


@pytest.mark.parametrize("value", ["-1", "two", "9", "1.5", "１"])
def test_a_wrong_proxy_count_is_refused_naming_the_setting(monkeypatch, value):
    from pipelines import settings

    monkeypatch.setenv("IPCITY_TRUSTED_PROXIES", value)
    with pytest.raises(ValueError, match="IPCITY_TRUSTED_PROXIES") as refused:
        settings.trusted_proxies()
    assert CJK.search(str(refused.value))


def test_the_serve_command_refuses_a_wrong_proxy_count():
    r = CliRunner().invoke(main, ["serve", "--trusted-proxies", "-1"])
    assert r.exit_code == 2 and "0<=x<=5" in r.output, r.output


# ---- 3. a new password may not be one of the account's last five --------------------------------------------------------
# A change of password (the web's page, or `ipcity users reset-password`) refused only the current password: an
# official told to change a leaked password changed it and changed it back, or cycled between two. The store now
# keeps each account's latest argon2 hashes (never the text; IPCITY_PASSWORD_HISTORY, default 5, the current one
# included) and refuses a new password matching any, with the reason in both languages.
PASSWORDS = ["plum orchard lantern 1", "quiet harbour copper 2", "violet canyon ember 3", "amber meadow ridge 4"]
PASSWORDS += ["silver thistle comet 5", "golden falcon ferry 6"]


def test_a_password_change_to_one_of_the_last_five_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("IPCITY_PASSWORD_HISTORY", raising=False)
    store = auth.UserStore(tmp_path / "access" / "users.sqlite")
    store.add("gd.office", PASSWORDS[0], "province", "44")
    for old, new in zip(PASSWORDS[:4], PASSWORDS[1:5], strict=True):
        store.change_password("gd.office", old, new)
    # the current one is PASSWORDS[4]; the last five are PASSWORDS[0..4]
    for earlier in PASSWORDS[:4]:
        with pytest.raises(auth.WeakPassword) as refused:
            store.change_password("gd.office", PASSWORDS[4], earlier)
        assert refused.value.reason == "reused"
        assert "5" in str(refused.value) and CJK.search(str(refused.value)) and "password" in str(refused.value)
        with pytest.raises(auth.WeakPassword):
            store.reset_password("gd.office", earlier)  # the operator's reset keeps to it too
    store.change_password("gd.office", PASSWORDS[4], PASSWORDS[5])
    # PASSWORDS[0] is now the sixth: allowed again
    store.change_password("gd.office", PASSWORDS[5], PASSWORDS[0])
    # only hashes, and only as many as the depth
    with sqlite3.connect(store.path) as con:
        con.execute("pragma wal_checkpoint(truncate)")
        kept = [r[0] for r in con.execute("select password_hash from password_history where username = 'gd.office'")]
    assert len(kept) == 5 and all(h.startswith("$argon2id$") for h in kept)
    on_disk = b"".join(p.read_bytes() for p in store.path.parent.glob("users.sqlite*"))
    assert not any(pw.encode() in on_disk for pw in PASSWORDS)


def test_the_depth_is_configurable_and_checked(tmp_path, monkeypatch):
    store = auth.UserStore(tmp_path / "access" / "users.sqlite")
    store.add("gd.office", PASSWORDS[0], "province", "44")
    store.change_password("gd.office", PASSWORDS[0], PASSWORDS[1])
    monkeypatch.setenv("IPCITY_PASSWORD_HISTORY", "1")
    store.change_password("gd.office", PASSWORDS[1], PASSWORDS[0])  # only the current one is refused
    monkeypatch.setenv("IPCITY_PASSWORD_HISTORY", "0")
    with pytest.raises(ValueError, match="IPCITY_PASSWORD_HISTORY"):
        store.change_password("gd.office", PASSWORDS[0], PASSWORDS[2])


def test_an_account_from_before_the_history_still_cannot_keep_its_password(tmp_path):
    store = auth.UserStore(tmp_path / "access" / "users.sqlite")
    store.add("gd.office", PASSWORDS[0], "province", "44")
    with sqlite3.connect(store.path) as con:
        con.execute("delete from password_history")  # what a store from before the history holds
    with pytest.raises(auth.WeakPassword) as refused:
        store.reset_password("gd.office", PASSWORDS[0])
    assert refused.value.reason == "reused"


def test_the_change_password_page_refuses_a_recent_password_in_both_languages(web):
    from dashboard_http import signed_in_client

    client = signed_in_client(web["app"], web["store"], "gd12.history", "province", "44")
    token = form_token(client, web_module.PASSWORD_PATH)
    new = "copper lantern orchard 9"
    data = {"csrf": token, "current": TEST_PASSWORD, "new": new, "confirm": new}
    assert client.post(web_module.PASSWORD_PATH, data=data, headers=SAME_ORIGIN).status_code == 302
    for lang, words in (("zh", "最近使用过的5个密码"), ("en", "last 5 passwords")):
        token = form_token(client, web_module.PASSWORD_PATH)
        data = {"csrf": token, "current": new, "new": TEST_PASSWORD, "confirm": TEST_PASSWORD}
        r = client.post(f"{web_module.PASSWORD_PATH}?lang={lang}", data=data, headers=SAME_ORIGIN)
        assert r.status_code == 400 and words in r.get_data(as_text=True), r.get_data(as_text=True)[-600:]
    r = CliRunner().invoke(
        main,
        ["users", "reset-password", "gd12.history", "--password", "-"],
        input=new + "\n",
        env={"IPCITY_ACCESS_DIR": str(Path(web["store"]).parent)},
    )
    assert r.exit_code == 2 and "最近使用过" in r.output and "last 5 passwords" in r.output, r.output


# ---- 4. an account with a province that does not exist is named, and sees nothing ----------------------------------------
# Accounts made before `users add` checked the province ('99', a typo's '45' is one too... no: 45 is Guangxi; '99'
# is none) signed in and saw the published pages with no province of their own, and `ipcity users list` showed
# them like any other. The list now names them (in both languages, with the fix), the sign-in says why it refuses,
# and a session such an account already had ends at its next request: no page, callback or file.
def _no_province_account(store_path, name: str) -> None:
    auth.UserStore(store_path).add(name, TEST_PASSWORD, "province", "44")
    with sqlite3.connect(store_path) as con:  # what an earlier version let `users add` make
        con.execute("update users set province_code = '990000' where username = ?", (name,))


def test_users_list_names_an_account_whose_province_does_not_exist(tmp_path):
    store = tmp_path / "access" / "users.sqlite"
    auth.UserStore(store).add("gd.ok", TEST_PASSWORD, "province", "44")
    _no_province_account(store, "ghost.prov")
    r = CliRunner().invoke(main, ["users", "list"], env={"IPCITY_ACCESS_DIR": str(store.parent), "COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    lines = [line for line in r.output.splitlines() if "ghost.prov" in line]
    assert any("990000" in line and "不是任何省份" in line for line in lines), r.output
    assert any("which is no province" in line for line in r.output.splitlines()), r.output
    assert not any(
        "gd.ok" in line and ("不是任何省份" in line or "no province" in line) for line in r.output.splitlines()
    )


def test_an_account_without_a_real_province_sees_nothing(web):
    from dashboard_http import callback_body, rankings_body

    app, store = web["app"], web["store"]
    # one signed in before its province was spoiled, one signing in after
    auth.UserStore(store).add("ghost.before", TEST_PASSWORD, "province", "44")
    before = app.server.test_client()
    assert login(before, "ghost.before").status_code == 302
    with sqlite3.connect(store) as con:
        con.execute("update users set province_code = '990000' where username = 'ghost.before'")
    _no_province_account(store, "ghost.after")
    after = app.server.test_client()
    r = login(after, "ghost.after")
    assert r.status_code == 403 and "省份代码不是任何省份" in r.get_data(as_text=True)
    r = after.post(
        "/login?lang=en",
        data={"username": "ghost.after", "password": TEST_PASSWORD, "csrf": form_token(after, "/login"), "next": "/"},
    )
    assert r.status_code == 403 and "is no province" in r.get_data(as_text=True)
    assert "wrong" not in r.get_data(as_text=True).lower()
    downloads = callback_body(
        [("dl-download", "data"), ("dl-status", "children")],
        [("dl-button", "n_clicks", 1)],
        [("dl-year", "value", 2024), ("dl-province", "value", None), ("dl-format", "value", "csv")]
        + [("dl-lang", "data", "zh")],
    )
    for client in (before, after):
        for path in (
            "/",
            "/rankings",
            "/downloads",
            "/_dash-layout",
            "/report.pdf?year=2024",
            "/download/extract?year=2024&fmt=csv",
            "/geo/provinces.json",
        ):
            r = client.get(path, headers=HTML)
            assert r.status_code in (302, 401) and b"_dash-config" not in r.get_data(), (path, r.status_code)
        for body in (rankings_body(2024), downloads):
            r = client.post("/_dash-update-component", json=body, headers=SAME_ORIGIN)
            assert r.status_code == 401, r.status_code
    rows = [r for r in auth.UserStore(store).audit_rows(20) if r["username"] == "ghost.after"]
    assert any(r["outcome"] == "denied" and "990000" in (r["detail"] or "") for r in rows), rows


# ---- 5. a provincial office forging callbacks: another province's code in every slot of every callback ---------------------
# The evaluation's first attack: call Dash's endpoint directly with another province's code (as text, as a number, as
# two digits, in a list) in each input and state of each callback. Nothing of Jiangsu's cities may come back from a
# callback whose page is not published (guard: the gate held; the sweep keeps it holding as callbacks are added).
# And a clientside callback is in Dash's map too, with no server function: posting its output was a KeyError in
# Dash, a 500 and a traceback in the log for each forged request. Now refused as no callback of the server.
FOREIGN = ["320100", 320100, "32", "320000", ["320100"], "320100,440100"]
PUBLISHED_OUTPUTS = ("rk-", "ov-", "ipc-", "_pages_")  # the national rankings and overview: published to every role


def _body(output: str, declared: dict, slot: int, value) -> dict:
    def plain(cid: str, prop: str):
        if "lang" in cid:
            return "zh"
        if "year" in cid:
            return 2024
        return {"n_clicks": 1, "pathname": "/", "search": ""}.get(prop)

    slots = declared.get("inputs", []) + declared.get("state", [])
    items = [
        {"id": s["id"], "property": s["property"], "value": value if i == slot else plain(s["id"], s["property"])}
        for i, s in enumerate(slots)
    ]
    names = output.strip(".").split("...")
    outputs = [{"id": n.rsplit(".", 1)[0], "property": n.rsplit(".", 1)[1]} for n in names]
    n_inputs = len(declared.get("inputs", []))
    return {
        "output": output,
        "outputs": outputs if output.startswith("..") else outputs[0],
        "inputs": items[:n_inputs],
        "state": items[n_inputs:],
        "changedPropIds": [f"{items[0]['id']}.{items[0]['property']}"] if items else [],
    }


def test_no_callback_gives_a_province_another_provinces_cities(web):
    import duckdb

    con = duckdb.connect(str(web["snapshot"]), read_only=True)
    try:
        foreign = con.execute(
            "select unit_code, unit_name from marts.dim_city where province_code = '320000' and level <> 'province'"
        ).fetchall()
    finally:
        con.close()
    words = [w for pair in foreign for w in pair]
    callbacks = web["app"].callback_map
    tried = 0
    for output, declared in callbacks.items():
        slots = declared.get("inputs", []) + declared.get("state", [])
        if "callback" not in declared or any(str(s["id"]).startswith("{") for s in slots):
            continue
        if output.strip(".").startswith(PUBLISHED_OUTPUTS):
            continue
        for slot in range(len(slots)):
            for value in FOREIGN:
                r = web["gd"].post(
                    "/_dash-update-component", json=_body(output, declared, slot, value), headers=SAME_ORIGIN
                )
                tried += 1
                if r.status_code == 200:
                    text = r.get_data(as_text=True)
                    assert not [w for w in words if w in text], (output, slots[slot], value)
    assert tried > 200


def test_a_clientside_callbacks_output_posted_to_the_server_is_refused_not_a_500(web):
    clientside = {k: v for k, v in web["app"].callback_map.items() if "callback" not in v}
    assert clientside  # the rankings' URL state, among others
    for output, declared in clientside.items():
        slots = declared.get("inputs", []) + declared.get("state", [])
        r = web["gd"].post(
            "/_dash-update-component",
            json=_body(output, declared, 0, None) if slots else {"output": output},
            headers=SAME_ORIGIN,
        )
        assert r.status_code == 403, (output, r.status_code)
    rows = auth.UserStore(web["store"]).audit_rows(5)
    assert rows[0]["outcome"] == "denied" and rows[0]["detail"] == "no such callback"
