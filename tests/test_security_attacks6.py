"""Attacks of the sixth review (branch h_security2), tried over HTTP against the real app.

Each test failed before its fix:
- an official could not change their own password on the web (only an operator with `ipcity users
  reset-password`): a password known to a former colleague, or sent by the operator in a message, stayed in use;
- the password policy accepted the passwords guessed first: 'Password123!', 'qwertyuiop1', '1qaz2wsx3edc',
  'zhangwei1986!', 'P@ssw0rd2024';
- the sign-out form had no form token of its own (it relied on Fetch Metadata and the SameSite=Lax cookie alone,
  which an older browser or a sibling host does not honour), and a sign-in without its token was refused in English
  only, as a bare line.
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from dashboard_fixtures import build_snapshot
from dashboard_http import TEST_PASSWORD, add_account, form_token, login, logout, signed_in_client
from limits import parse_many

from dashboards import auth, web
from dashboards.app import create_app
from pipelines.cli import main

NEW_PASSWORD = "plum orchard lantern 7"
WEAK = ["Password123!", "qwertyuiop1", "1qaz2wsx3edc", "zhangwei1986!", "P@ssw0rd2024", "1q2w3e4r5t6y", "abcdefghij12"]


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    return build_snapshot(tmp_path_factory.mktemp("attacks6_snap") / "published" / "warehouse.snapshot.duckdb")


def _app(snapshot, base):
    return create_app(snapshot, user_store=base / "users.sqlite", secret_key_file=base / "secret_key")


def _change(client, current, new, confirm=None, lang="en", token=None):
    token = form_token(client, web.PASSWORD_PATH) if token is None else token
    data = {"csrf": token, "current": current, "new": new, "confirm": new if confirm is None else confirm}
    return client.post(f"{web.PASSWORD_PATH}?lang={lang}", data=data)


# ---- 1. an official changes their own password ------------------------------------------------------------------
def test_an_official_changes_their_own_password_and_other_sessions_end(snapshot, tmp_path):
    app = _app(snapshot, tmp_path)
    store_path = tmp_path / "users.sqlite"
    store = auth.UserStore(store_path)
    anonymous = app.server.test_client()
    r = anonymous.get(web.PASSWORD_PATH, headers={"Accept": "text/html"})
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")  # signed in first

    here = signed_in_client(app, store_path, "gd_a", "province", "44")
    elsewhere = app.server.test_client()  # the same account on another computer
    assert login(elsewhere, "gd_a").status_code == 302
    for lang, words in (("zh", ["修改密码", "当前密码", "新密码"]), ("en", ["Change password", "Current password"])):
        page = here.get(f"{web.PASSWORD_PATH}?lang={lang}").get_data(as_text=True)
        assert all(w in page for w in words) and 'class="ipc-login"' in page and 'name="csrf"' in page

    # a copy of this session's cookie as it is now (a shared computer's cookie jar)
    copy = app.server.test_client()
    copy.set_cookie("ipcity_session", here.get_cookie("ipcity_session").value)
    assert copy.get("/rankings").status_code == 200

    r = _change(here, "not my password at all", NEW_PASSWORD)
    assert r.status_code == 401 and "The current password is wrong." in r.get_data(as_text=True)
    r = _change(here, TEST_PASSWORD, NEW_PASSWORD, confirm=NEW_PASSWORD + "x", lang="zh")
    assert r.status_code == 400 and "两次输入的新密码不一致" in r.get_data(as_text=True)
    r = _change(here, TEST_PASSWORD, TEST_PASSWORD)
    assert r.status_code == 400 and "must differ from the current password" in r.get_data(as_text=True)
    assert store.authenticate("gd_a", TEST_PASSWORD)  # nothing changed yet

    r = _change(here, TEST_PASSWORD, NEW_PASSWORD)
    assert r.status_code == 302 and "changed=1" in r.headers["Location"]
    assert "has been changed" in here.get(r.headers["Location"]).get_data(as_text=True)
    assert here.get("/rankings").status_code == 200  # this session goes on...
    assert elsewhere.get("/rankings").status_code == 401  # ...every other one ended
    assert copy.get("/rankings").status_code == 401  # and so did the old cookie of this one (rotated)
    assert store.authenticate("gd_a", TEST_PASSWORD) is None
    assert store.authenticate("gd_a", NEW_PASSWORD).username == "gd_a"
    assert login(app.server.test_client(), "gd_a", NEW_PASSWORD).status_code == 302

    rows = [(r["username"], r["action"], r["outcome"], r["detail"]) for r in store.audit_rows()]
    assert ("gd_a", "password_change", "ok", "other sessions ended") in rows
    assert ("gd_a", "password_change", "failed", "wrong current password") in rows
    assert ("gd_a", "password_change", "refused", "policy: same") in rows


def test_wrong_current_passwords_are_limited_like_sign_ins(snapshot, tmp_path):
    app = _app(snapshot, tmp_path)
    c = signed_in_client(app, tmp_path / "users.sqlite", "nat_a", "national")
    token = form_token(c, web.PASSWORD_PATH)
    per_minute = min(item.amount for item in parse_many(web.LOGIN_LIMIT))
    statuses = [_change(c, f"guess guess {i}", NEW_PASSWORD, token=token).status_code for i in range(per_minute + 1)]
    assert statuses[0] == 401 and statuses[-1] == 429
    assert "Too many attempts" in _change(c, TEST_PASSWORD, NEW_PASSWORD, token=token).get_data(as_text=True)
    # the guesses count toward the account's lockout from this address too, as failed sign-ins do
    assert auth.UserStore(tmp_path / "users.sqlite").locked("nat_a", "127.0.0.1")


# ---- 2. common and keyboard-pattern passwords are refused --------------------------------------------------------
@pytest.mark.parametrize("weak", WEAK)
def test_common_and_pattern_passwords_are_refused_on_the_web(snapshot, tmp_path, weak):
    app = _app(snapshot, tmp_path)
    c = signed_in_client(app, tmp_path / "users.sqlite", "nat_b", "national")
    r = _change(c, TEST_PASSWORD, weak, lang="zh")
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and "容易被猜中" in page, page[:800]
    assert auth.UserStore(tmp_path / "users.sqlite").authenticate("nat_b", TEST_PASSWORD)


@pytest.mark.parametrize("weak", WEAK)
def test_common_and_pattern_passwords_are_refused_by_ipcity_users(tmp_path, monkeypatch, weak):
    monkeypatch.setenv("IPCITY_ACCESS_DIR", str(tmp_path))
    r = CliRunner().invoke(main, ["users", "add", "chief", "--role", "national", "--password", "-"], input=weak + "\n")
    assert r.exit_code != 0 and "easily guessed" in r.output
    with pytest.raises(auth.WeakPassword):
        auth.UserStore(tmp_path / "u.sqlite").add("chief", weak, "national")


def test_the_policy_still_takes_a_passphrase(tmp_path):
    store = auth.UserStore(tmp_path / "u.sqlite")
    for i, good in enumerate([TEST_PASSWORD, NEW_PASSWORD, "Xk7#pQ2v!Lm", "长城 落日 2031 风"]):
        store.add(f"user{i}", good, "viewer")


# ---- 3. every form that changes state carries the session's token -------------------------------------------------
def test_forms_without_the_session_token_are_refused_in_both_languages(snapshot, tmp_path):
    app = _app(snapshot, tmp_path)
    store_path = tmp_path / "users.sqlite"
    c = signed_in_client(app, store_path, "nat_c", "national")
    html = {"Accept": "text/html"}
    for data in ({}, {"csrf": "forged-token"}, {"csrf": ""}):
        r = c.post("/logout", data=data, headers=html)
        page = r.get_data(as_text=True)
        assert r.status_code == 400 and "表单已过期或无效" in page
        assert c.get("/rankings").status_code == 200  # still signed in
        r = c.post(web.PASSWORD_PATH, data={**data, "current": TEST_PASSWORD, "new": NEW_PASSWORD})
        assert r.status_code == 400 and "表单已过期或无效" in r.get_data(as_text=True)
        assert "security token" in r.get_data(as_text=True)
    assert auth.UserStore(store_path).authenticate("nat_c", TEST_PASSWORD)  # unchanged

    # another session's token is not this session's
    other = signed_in_client(app, store_path, "nat_d", "national")
    r = other.post("/logout", data={"csrf": form_token(c)})
    assert r.status_code == 400 and other.get("/rankings").status_code == 200

    # sign-in without, or with a wrong, token: a bilingual refusal, not a bare English line
    anon = app.server.test_client()
    r = anon.post("/login", data={"username": "nat_c", "password": TEST_PASSWORD}, headers=html)
    assert r.status_code == 400 and "表单已过期或无效" in r.get_data(as_text=True)
    assert "Form expired" in anon.post("/login?lang=en", data={"csrf": "x"}, headers=html).get_data(as_text=True)

    # the refusals of a signed-in session are audited
    denied = [r for r in auth.UserStore(store_path).audit_rows() if r["detail"] == "missing or wrong form token"]
    assert {r["target"] for r in denied} == {"/logout", web.PASSWORD_PATH}

    # with the token, sign-out works, and signing in again gives the session a new token
    before = form_token(c)
    assert logout(c).status_code == 302 and c.get("/rankings").status_code == 401
    assert login(c, "nat_c").status_code == 302 and form_token(c) != before


def test_the_headers_sign_out_form_carries_the_token(snapshot, tmp_path):
    """The dashboard's own sign-out button (the shell callback's form) posts the session's token, and the header
    links to the change-password page."""
    from dashboard_http import callback_body

    app = _app(snapshot, tmp_path)
    c = signed_in_client(app, tmp_path / "users.sqlite", "nat_e", "national")
    body = callback_body(
        [("ipc-title", "children"), ("ipc-nav", "children"), ("ipc-lang", "children"), ("ipc-banner", "children")],
        [("_pages_location", "pathname", "/"), ("_pages_location", "search", "?lang=en")],
    )
    r = c.post("/_dash-update-component", json=body)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    text = json.dumps(r.get_json(), ensure_ascii=False)  # as sent, '/' is written '\\/'
    token = re.search(r'"name":\s*"csrf",\s*"value":\s*"([^"]+)"', text) or re.search(
        r'"value":\s*"([^"]+)",[^{}]*"name":\s*"csrf"', text
    )
    assert token and token.group(1) == form_token(c)
    assert web.PASSWORD_PATH in text
    assert c.post("/logout", data={"csrf": token.group(1)}).status_code == 302
    assert c.get("/rankings").status_code == 401


def test_account_changes_still_need_the_password_policy_on_reset(tmp_path):
    store = auth.UserStore(tmp_path / "u.sqlite")
    add_account(tmp_path / "u.sqlite", "chief")
    with pytest.raises(auth.WeakPassword):
        store.reset_password("chief", "Qazwsxedc123")
