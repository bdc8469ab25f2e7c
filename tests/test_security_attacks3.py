"""Attacks of the third review (branch h32-sec), tried over HTTP against the real app.

Each test failed before its fix:
- a session cookie copied before sign-out still opened every page after it (the cookie is a signed, client-side
  session: sign-out only asked the browser to forget it);
- every Dash callback answered a forged value of the wrong shape (a list for a year, a number for a province, a
  dict for a unit, a 5,000-character string, a grid row index past the end) with a 500 and a traceback in the log;
- a page URL repeating a parameter (``/rankings?province=44&province=32``, a shared or hand-edited link) crashed
  the pages router (Dash hands the layout a list), so the page stayed blank;
- province names on the province roll-up chart, an unknown plan's id on the targets chart and an unknown source on
  the quality chart reached Plotly's pseudo-HTML unescaped (a live link in a label);
- a guessed name under Dash's static route (open without signing in) was a 500 with a traceback in the log;
- any made-up language, map mode, year, unit code, run id or indicator got the heavy callbacks answered and stored
  as one more payload in the workers' shared store (a disk-filling lever for any signed-in account);
- on https://host//evil.example/x (a link sent to a signed-in official) the language link led to evil.example: the
  click handler of assets/url_state.js rebuilt it from location.pathname, undoing the server's own check.
"""

from __future__ import annotations

import json
import shutil
from urllib.parse import urlencode

import duckdb
import pytest
from dashboard_fixtures import build_snapshot
from dashboard_http import add_account, callback_body, login, logout, page_body, signed_in_client

from dashboards import security
from dashboards.app import create_app

pytestmark = pytest.mark.slow  # the callback matrix runs on the session's sample run


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

    assert logout(browser).status_code == 302
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


def test_a_cookie_planted_before_sign_in_stays_signed_out(small_app):
    """Session fixation (a guard: it held before this review): the cookie a visitor had before signing in is not
    the one that signs them in, so a copy planted by someone else opens nothing."""
    app, store = small_app
    add_account(store, "chief3c")
    c = app.server.test_client()
    c.get("/login")
    planted = c.get_cookie("ipcity_session").value
    assert login(c, "chief3c").status_code == 302 and c.get_cookie("ipcity_session").value != planted
    attacker = app.server.test_client()
    attacker.set_cookie("ipcity_session", planted)
    assert attacker.get("/rankings").status_code == 401


# ---- callback values of the wrong shape -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world(tmp_path_factory, sample_snapshot):
    base = tmp_path_factory.mktemp("attacks3")
    snap = base / "published" / "a3.snapshot.duckdb"
    snap.parent.mkdir()
    shutil.copy(sample_snapshot.snapshot, snap)
    con = duckdb.connect(str(snap), read_only=True)
    try:
        year = con.execute("select max(year) from marts.fct_city_score_year").fetchall()[0][0]
        own, other = (
            con.execute(
                "select unit_code from marts.dim_city where province_code = ? and level <> 'province' "
                "order by unit_code limit 1",
                [p],
            ).fetchall()[0][0]
            for p in ("440000", "320000")
        )
    finally:
        con.close()
    users = base / "access" / "users.sqlite"
    app = create_app(
        snap,
        dossier_dir=base / "dossiers",
        user_store=users,
        secret_key_file=base / "access" / "secret_key",
        extracts_dir=base / "extracts",
    )
    return {
        "app": app,
        "year": year,
        "own": own,
        "other": other,
        "national": signed_in_client(app, users, "nat3", "national"),
        "province": signed_in_client(app, users, "gd3", "province", "440000"),
    }


def _defaults(world) -> dict:
    """A value each callback input accepts (what the page itself would send)."""
    y, own = world["year"], world["own"]
    return {
        "ov-year.value": y,
        "rk-year.value": y,
        "cmp-year.value": y,
        "wl-year.value": y,
        "dl-year.value": y,
        "ov-map-mode.value": "group",
        "rk-programme.value": ["programme"],
        "rk-total.data": 10,
        "rk-grid.virtualRowData": [],
        "cmp-units.value": [own, own],
        "cmp-indicator.value": "QLT01",
        "pf-unit.value": own,
        "pf-value-grid.cellClicked": {"rowIndex": 0},
        "pf-value-grid.rowData": [{"indicator_code": "QLT01", "year": y}],
        "al-state.value": "firing",
        "al-refresh.data": 0,
        "al-period.value": "7d",
        "dl-province.value": "440000",
        "dl-format.value": "csv",
        "_pages_location.pathname": "/",
        "_pages_location.search": "",
    }


# Values no control sends: other types, a too-long string, lists and objects where a scalar is read, and well-shaped
# values a forged request can still carry (a grid row index past the end, a row whose year is not a year).
FORGED = [
    None,
    "x" * 5000,
    2**70,
    -1,
    0.5,
    True,
    [],
    [1, 2],
    [None],
    [[1]],
    {"a": 1},
    "２０２５",
    {"rowIndex": 10**6},
    {"rowIndex": "a"},
    {"data": {"indicator_code": "QLT01", "year": "abc"}},
]


def _server_callbacks(app):
    for key, cb in app.callback_map.items():
        if cb.get("callback") is None:  # clientside: never reaches the server
            continue
        items = [(i["id"], i["property"]) for i in cb["inputs"]] + [(i["id"], i["property"]) for i in cb["state"]]
        if any(cid.startswith("{") for cid, _ in items):  # pattern-matching (the simulator): checked below
            continue
        outputs = [tuple(p.rsplit(".", 1)) for p in key.strip(".").split("...")]
        yield key, [(cid, prop.split("@")[0]) for cid, prop in outputs], cb


def test_every_callback_answers_a_forged_value_without_a_server_error(world):
    defaults = _defaults(world)
    failures = []
    for key, outputs, cb in _server_callbacks(world["app"]):
        ins = [(i["id"], i["property"]) for i in cb["inputs"]]
        sts = [(i["id"], i["property"]) for i in cb["state"]]
        for pos in range(len(ins) + len(sts)):
            for bad in FORGED:
                values = [defaults.get(f"{i}.{p}") for i, p in ins + sts]
                values[pos] = bad
                body = callback_body(
                    outputs,
                    [(i, p, v) for (i, p), v in zip(ins, values[: len(ins)])],
                    [(i, p, v) for (i, p), v in zip(sts, values[len(ins) :])],
                )
                body["output"] = key
                for who in ("national", "province"):
                    r = _post(world[who], body)
                    if r.status_code not in (200, 204, 400, 403):
                        failures.append((who, key[:50], (ins + sts)[pos], repr(bad)[:30], r.status_code))
                    if r.status_code == 400:  # a reason naming the input, never a traceback
                        text = r.get_data(as_text=True)
                        assert "Traceback" not in text and r.mimetype == "text/plain", text[:300]
    assert not failures, failures[:20]


def test_a_forged_value_is_refused_by_name_before_the_callback_runs(world):
    body = callback_body(
        [("dl-preview", "columnDefs"), ("dl-preview", "rowData"), ("dl-count", "children"), ("dl-link", "href")],
        [("dl-year", "value", world["year"]), ("dl-province", "value", ["440000"]), ("dl-format", "value", "csv")],
        [("dl-lang", "data", "zh")],
    )
    r = _post(world["province"], body)
    assert r.status_code == 400 and "dl-province.value" in r.get_data(as_text=True)
    # the permission check still comes first: another province's code is a 403, whatever its shape
    body["inputs"][1]["value"] = ["320000"]
    assert _post(world["province"], body).status_code == 403
    # and the values the page sends pass
    body["inputs"][1]["value"] = "440000"
    assert _post(world["province"], body).status_code == 200


def test_every_server_callback_value_has_a_declared_shape(world):
    shapes = world["app"].server.config["IPCITY_CALLBACK_VALUES"]
    for key, cb in world["app"].callback_map.items():
        if cb.get("callback") is None:
            continue
        for item in cb["inputs"] + cb["state"]:
            cid = item["id"]
            name = json.loads(cid)["type"] if cid.startswith("{") else cid
            assert f"{name}.{item['property']}" in shapes, (key[:60], name, item["property"])


def test_simulator_values_of_the_wrong_shape_are_refused(world):
    body = callback_body(
        [("sim-download", "data")],
        [("sim-export-csv", "n_clicks", 1), ("sim-export-xlsx", "n_clicks", None)],
        [("sim-result", "data", {"a": 1}), ("sim-name", "value", "x")],
    )
    assert _post(world["national"], body).status_code == 200  # a dict, but not a stored result: nothing exported
    body["state"][0]["value"] = "not an object"
    assert _post(world["national"], body).status_code == 400
    assert not security.scalars_value([{"a": 1}]) and security.scalars_value([1.0, "leader", None])


def test_a_callback_posted_as_a_form_from_another_site_is_refused(world):
    """CSRF (a guard: it held before this review): another site can post text/plain without a preflight, and the
    SameSite=Lax cookie stays home only for cross-site posts; the gate reads JSON bodies only, so such a post
    never reaches a callback (the alert acknowledgement is one)."""
    body = callback_body(
        [("ipc-footer", "children")], [("_pages_location", "pathname", "/"), ("_pages_location", "search", "")]
    )
    c = world["national"]
    assert c.post("/_dash-update-component", data=json.dumps(body), content_type="text/plain").status_code == 403
    assert _post(c, body).status_code == 200


def test_stored_answers_cannot_be_multiplied_by_made_up_values(world, tmp_path):
    """The heavy callbacks' answers are stored per distinct request (dashboards.payloads, in the SQLite file the
    gunicorn workers share). Any language or map-mode string, year, unit code, run id or indicator was answered
    and stored: any account could fill the disk by counting. Made-up languages and modes are refused now; a
    year, code or run the snapshot does not have is answered but not stored; real requests are stored as before."""
    import sqlite3

    from dashboards import payloads

    base = tmp_path
    users = base / "access" / "users.sqlite"
    app = create_app(
        world["app"].server.config["IPCITY_SNAPSHOT"].path,
        user_store=users,
        secret_key_file=base / "access" / "key",
        extracts_dir=base / "x",
    )
    payloads.install(app, base / "payloads")
    viewer = signed_in_client(app, users, "view3", "viewer")
    national = signed_in_client(app, users, "nat3s", "national")

    def overview(lang, mode="group", year=world["year"]):
        return _post(
            viewer,
            callback_body(
                payloads.OVERVIEW_OUTPUTS,
                [("ov-year", "value", year), ("ov-map-mode", "value", mode)],
                [("ov-lang", "data", lang)],
            ),
        )

    def stored() -> int:
        con = sqlite3.connect(base / "payloads" / "payloads.sqlite")
        try:
            return con.execute("select count(*) from payloads").fetchone()[0]
        finally:
            con.close()

    assert overview("zh").status_code == 200 and overview("en", "index").status_code == 200
    before = stored()
    assert before >= 2
    for i in range(5):
        assert overview(f"zh{i}").status_code == 400
        assert overview("zh", f"group{i}").status_code == 400
        # a well-formed year, code or run that the snapshot does not have is answered, but not stored
        assert overview("zh", year=3000 + i).status_code == 200
        assert _post(viewer, payloads.profile_body(f"99999{i}", "zh")).status_code == 403  # a viewer: no profile
        assert _post(national, payloads.profile_body(f"99999{i}", "zh")).status_code == 200
        assert _post(national, payloads.quality_body(f"run-{i}", "en")).status_code == 200
        assert _post(national, payloads.trend_body([world["own"], world["own"]], f"XYZ0{i}", "zh")).status_code == 200
    assert stored() == before
    # and what the snapshot has is stored as before
    assert _post(national, payloads.profile_body(world["own"], "zh")).status_code == 200
    assert stored() == before + 1


# ---- a parameter repeated in a page URL ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path,params",
    [
        ("/rankings", [("province", "440000"), ("province", "320000")]),
        ("/rankings", [("group", "leader"), ("group", "x")]),
        ("/rankings", [("stage", "watch"), ("stage", "normal")]),
        ("/rankings", [("filter", "{}"), ("filter", "{}")]),
        ("/profile", [("unit", "OWN"), ("unit", "OWN")]),
        ("/flag", [("unit", "OWN"), ("unit", "OWN")]),
        ("/compare", [("units", "OWN"), ("units", "OWN")]),
        ("/", [("lang", "en"), ("lang", "zh")]),
    ],
)
def test_a_page_url_repeating_a_parameter_is_refused_not_served_with_one_of_its_values(world, path, params):
    """Round 3 had a repeated parameter open the page (it crashed before); since round 12 (query parameters) a URL
    naming a parameter twice is refused with 400, in both languages: the router used one value while the scope check read
    every value, so which one a page showed was the engine's choice. Never a crash, for either role."""
    search = "?" + urlencode([(k, world["own"] if v == "OWN" else v) for k, v in params])
    for who in ("national", "province"):
        r = _post(world[who], page_body(path, search))
        assert r.status_code == 400, (who, path, search, r.status_code)
        assert "Traceback" not in r.text and "请求中的参数" in r.text and "not understood" in r.text, r.text


def test_a_repeated_parameter_cannot_smuggle_another_province(world):
    search = "?" + urlencode([("unit", world["own"]), ("unit", world["other"])])
    for path in ("/profile", "/flag"):
        assert _post(world["province"], page_body(path, search)).status_code == 403
        search_rev = "?" + urlencode([("unit", world["other"]), ("unit", world["own"])])
        assert _post(world["province"], page_body(path, search_rev)).status_code == 403


# ---- text from data in Plotly labels on the national pages ----------------------------------------------------------
LINK = '<a href="https://evil.example/">点此</a>'


def _no_live_link(fig) -> None:
    text = json.dumps(fig.to_plotly_json(), ensure_ascii=False)
    assert "<a href" not in text and "&lt;a href" in text


def test_plotly_labels_on_national_pages_escape_text_from_data(world):
    """Plotly renders <a href> in axis and bar labels: the province names of the roll-up, an unknown plan's id and an
    unknown source's name are data, so they are escaped as the city names are (test_security_attacks2)."""
    import polars as pl

    from dashboards import programme_queries as pq
    from dashboards.pages import provinces, quality, targets
    from dashboards.snapshot import Snapshot

    snap = Snapshot(world["app"].server.config["IPCITY_SNAPSHOT"].path)
    try:
        rollup = pq.rollup(snap, "year", None)
        assert rollup is not None and rollup.height, "the sample run has no province roll-up"
        _no_live_link(provinces.chart(rollup.with_columns(province_name=pl.lit(LINK)), "zh"))
    finally:
        snap.close()
    plan = {"plan_id": [LINK]} | {f"{k}_{b}": [1] for b in targets.BUCKET_ORDER for k in ("pct", "n")}
    _no_live_link(targets.plan_figure(pl.DataFrame(plan), "en"))
    sources = pl.DataFrame({"source": [LINK], "rows_loaded": [10], "rows_rejected": [1]})
    _no_live_link(quality.sources_figure(sources, "zh"))


# ---- Dash's open static route -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/_dash-component-suites/not_a_package/x.js",
        "/_dash-component-suites/dash/not_a_bundle.js",
        "/_dash-component-suites/dash/../../../../etc/passwd",
        "/_dash-component-suites/dash/%2e%2e/%2e%2e/dash.py",
    ],
)
def test_a_guessed_bundle_name_is_a_404_not_a_server_error(small_app, path):
    """A name Dash does not serve was a 500 (and a traceback logged). The bundles are served to signed-in accounts
    only since the tenth review (their URLs and bytes name Dash's version): an anonymous caller gets 401."""
    app, store = small_app
    assert app.server.test_client().get(path).status_code == 401
    r = signed_in_client(app, store, "bundles3", "viewer").get(path)
    assert r.status_code == 404 and r.mimetype == "text/plain", (path, r.status_code)
    assert "registered" not in r.get_data(as_text=True)  # Dash's message lists the server's packages


# ---- the language links in the browser ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser_app(world, tmp_path_factory):
    """The dashboard in a subprocess (as the browser suites run it) and headless Chromium signed in to it."""
    import subprocess

    from dashboard_http import add_account
    from e2e.conftest import browser_login, make_driver, start_server

    base = tmp_path_factory.mktemp("attacks3_browser")
    add_account(base / "users.sqlite", "nat3b", "national")
    server = start_server(world["app"].server.config["IPCITY_SNAPSHOT"].path, None, base / "server.log", base, None)
    driver, profile = make_driver()
    try:
        browser_login(driver, server.url, "nat3b")
        yield server, driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        server.proc.terminate()
        try:
            server.proc.wait(10)
        except subprocess.TimeoutExpired:
            server.proc.kill()


@pytest.mark.browser
@pytest.mark.parametrize("path", ["//evil.example/x", "//evil.example/rankings", "///evil.example/"])
def test_the_language_link_never_leads_off_site(browser_app, path):
    """A link to the dashboard whose path starts with '//' (sent to an official who is signed in) opens the
    dashboard's not-found page; its language link was rewritten at click time from ``location.pathname``
    (assets/url_state.js) into '//evil.example/x?lang=en': a link to another site on the dashboard's own page.
    The click is made with navigation held back, and the link's resolved address read."""
    import time
    from urllib.parse import urlsplit

    server, driver = browser_app
    driver.get(server.url + path + "?lang=zh")
    deadline = time.time() + 30
    while not driver.find_elements("id", "lang-en") and time.time() < deadline:
        time.sleep(0.2)
    assert driver.find_elements("id", "lang-en"), driver.page_source[:500]
    target = driver.execute_script(
        "var link = document.getElementById('lang-en');"
        "document.addEventListener('click', function (e) { e.preventDefault(); }, {once: true});"
        "link.click();"
        "return link.href;"
    )
    assert urlsplit(target).netloc == urlsplit(server.url).netloc, target
    assert "lang=en" in target
