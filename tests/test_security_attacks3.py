"""Attacks of the third review (branch h32-sec), tried over HTTP against the real app.

Each test failed before its fix:
- a session cookie copied before sign-out still opened every page after it (the cookie is a signed, client-side
  session: sign-out only asked the browser to forget it).
"""

from __future__ import annotations

import json

import pytest
from dashboard_fixtures import build_snapshot
from dashboard_http import add_account, login, page_body

from dashboards.app import create_app


def _post(client, body):
    return client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")


# ---- sign-out ends the session, not only the browser's copy of it ---------------------------------------------------
@pytest.fixture(scope="module")
def small_app(tmp_path_factory):
    base = tmp_path_factory.mktemp("attacks3_small")
    snap = build_snapshot(base / "published" / "warehouse.snapshot.duckdb")
    store = base / "access" / "users.sqlite"
    app = create_app(snap, user_store=store, secret_key_file=base / "access" / "key", extracts_dir=base / "x")
    return app, store


def test_a_session_cookie_replayed_after_sign_out_is_refused(small_app):
    app, store = small_app
    add_account(store, "chief3")
    browser = app.server.test_client()
    assert login(browser, "chief3").status_code == 302
    stolen = browser.get_cookie("ipcity_session").value
    other_device = app.server.test_client()
    assert login(other_device, "chief3").status_code == 302
    assert browser.get("/rankings").status_code == 200

    assert browser.post("/logout").status_code == 302
    replay = app.server.test_client()
    replay.set_cookie("ipcity_session", stolen)
    assert replay.get("/rankings").status_code == 401
    assert _post(replay, page_body("/rankings")).status_code == 401
    assert replay.get("/rankings", headers={"Accept": "text/html"}).status_code == 302  # to the sign-in page
    # only that session ended: the account's other sign-in goes on, and signing in again works
    assert other_device.get("/rankings").status_code == 200
    assert login(browser, "chief3").status_code == 302 and browser.get("/rankings").status_code == 200


def test_a_session_without_a_sign_in_id_is_refused(small_app):
    """A cookie signed with the key but not made by this sign-in (no session id): nothing to end, so not valid."""
    app, store = small_app
    add_account(store, "chief3b")
    c = app.server.test_client()
    assert login(c, "chief3b").status_code == 302
    with c.session_transaction() as s:
        s.pop("session_id", None)
    assert c.get("/rankings").status_code == 401
