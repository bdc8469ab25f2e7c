"""Attacks of the fifth review (branch h_security), tried over HTTP against the real app.

Each test failed before its fix:
- Save on a scenario another national account had saved (opened on the simulator page) rewrote that account's
  record under the saver's name: its name, date and author changed, the original author's filing was gone;
- every successful sign-in counted toward the per-address sign-in limit, so a provincial office whose staff sign in
  from behind one NAT address was locked out after ten sign-ins a minute; and a sign-in wiped the account's failed
  attempts from every address, so guesses spread over many addresses got a fresh allowance after each one;
- /favicon.ico answered anyone, signed in or not, with the app's page shell (Dash's catch-all route); Dash's
  hot-reload poll (/_reload-hash, a developer tool) answered in production; and so did '/assets//x' (a path under
  the static prefix that no static route serves: the gate let it through by its prefix to the catch-all);
- a form or script on another site (or on a sibling host of the same site, where the SameSite=Lax cookie still
  goes) could sign an official out or post a callback: the browser's Fetch Metadata said so and nothing read it;
- the audit log said who was refused but not who took what: no row for a dossier, an extract, the indicator
  download or a report opened, for an alert acknowledged or silenced, a scenario exported, or a sign-out;
- the alerts page's acknowledge and silence took the fingerprint a request carried as a LIKE prefix: a forged
  '%%%%%%%%' acknowledged every alert in the store, and a fingerprint pruned since the table was drawn was a 500;
- the PDF report's renderer fetched any file:// or http:// address in its HTML (one unescaped value away from a
  server file or an internal address inside a PDF);
- a signed-in account's callback body nested a few hundred levels deep (a list in a list...) was a 500 and a
  traceback: the JSON decoder, the gate's code scan and Dash walk a body by recursion;
- account changes (created, role or province changed, disabled, enabled, password reset) left no audit row;
- every Run of the simulator started a run (a copy of the snapshot, dbt and the uncertainty step for minutes),
  however many were already running: repeated clicks or a script filled disk and CPU; and one account could
  have PDF reports rendered (about a second of CPU each) as fast as a script asked.
"""

from __future__ import annotations

import fcntl
import json

import polars as pl
import pytest
from dashboard_fixtures import build_snapshot
from dashboard_http import TEST_PASSWORD, add_account, callback_body, login, logout, page_body, signed_in_client
from limits import parse_many

from dashboards import auth, web
from dashboards.app import create_app
from pipelines import scenarios as sc


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    return build_snapshot(tmp_path_factory.mktemp("attacks5_snap") / "published" / "warehouse.snapshot.duckdb")


def _app(snapshot, base):
    """One dashboard over the data folder ``base`` (its own accounts, limits and session key)."""
    return create_app(
        snapshot,
        user_store=base / "access" / "users.sqlite",
        secret_key_file=base / "access" / "secret_key",
        extracts_dir=base / "extracts",
        dossier_dir=base / "dossiers",
    )


def _post(client, body):
    r = client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    return r.get_json()["response"]


# ---- 1. Save never rewrites another account's saved scenario ---------------------------------------------------
def _act_body(app, trigger: str, result, name: str = "", saved_id: str | None = None) -> dict:
    """The simulator's main callback as the browser posts it (no rule or weight inputs on the page)."""
    key = next(k for k in app.callback_map if k.startswith("..sim-status.children"))
    body = callback_body(
        [
            ("sim-status", "children"),
            ("sim-result", "data"),
            ("sim-cards", "children"),
            ("sim-changes", "children"),
            ("sim-saved", "options"),
            ("sim-compare-with", "options"),
            ("sim-name", "value"),
        ],
        [(b, "n_clicks", 1 if b == trigger else None) for b in ("sim-run", "sim-save", "sim-open", "sim-compare")],
        [
            ("sim-name", "value", name),
            ("sim-saved", "value", saved_id),
            ("sim-compare-with", "value", None),
            ("sim-result", "data", result),
        ],
    )
    body["output"] = key
    body["outputs"] += [[], []]
    body["state"] += [[], [], [], [], {"id": "sim-lang", "property": "data", "value": "en"}]
    body["changedPropIds"] = [f"{trigger}.n_clicks"]
    return body


def _scenarios() -> dict[str, dict]:
    return {r["scenario_id"]: r for r in sc.list_scenarios().iter_rows(named=True)}


def test_save_on_another_accounts_scenario_files_the_savers_own_copy(snapshot, tmp_path, monkeypatch):
    monkeypatch.setenv("IPCITY_SCENARIOS", str(tmp_path / "scenarios"))
    app = _app(snapshot, tmp_path)
    store = tmp_path / "access" / "users.sqlite"
    row = {"kind": "verdict", "unit_code": "440100", "unit_name": "广州市", "province_code": "440000"}
    changes = pl.DataFrame(
        [
            {
                **row,
                "period": "2021-2025",
                "base_value": "pass",
                "scenario_value": "rectification",
                "robustness": "robust",
            }
        ],
        schema=sc._CHANGE_SCHEMA,
    )
    scenario = sc.Scenario(rules={"W1.bottom_group": "moderate"})
    sc.save_scenario("a1b2c3d4e5f6", "A's plan", scenario, changes, author="nat_a", base_snapshot=snapshot.name)
    before = _scenarios()["a1b2c3d4e5f6"]

    b = signed_in_client(app, store, "nat_b", "national")
    opened = _post(b, _act_body(app, "sim-open", None, saved_id="a1b2c3d4e5f6"))["sim-result"]["data"]
    out = _post(b, _act_body(app, "sim-save", opened, name="B's take"))
    assert out["sim-status"]["children"] == "Saved: B's take"
    saved = _scenarios()
    # A's record as A filed it; B's copy under a new id, B's name and B as author
    assert saved["a1b2c3d4e5f6"] == before
    (copy_id,) = set(saved) - {"a1b2c3d4e5f6"}
    assert (saved[copy_id]["author"], saved[copy_id]["name"]) == ("nat_b", "B's take")
    _info, params, stored = sc.load_scenario(copy_id)
    assert params == scenario and stored.to_dicts() == changes.to_dicts()
    # the page now holds B's copy: saving again renames the copy, files no third record, leaves A's alone
    assert out["sim-result"]["data"]["scenario_id"] == copy_id
    again = _post(b, _act_body(app, "sim-save", out["sim-result"]["data"], name="B's final"))
    assert again["sim-status"]["children"] == "Saved: B's final"
    saved = _scenarios()
    assert set(saved) == {"a1b2c3d4e5f6", copy_id} and saved[copy_id]["name"] == "B's final"
    assert saved["a1b2c3d4e5f6"] == before
    # A still saves over A's own record
    a = signed_in_client(app, store, "nat_a", "national")
    opened_a = _post(a, _act_body(app, "sim-open", None, saved_id="a1b2c3d4e5f6"))["sim-result"]["data"]
    assert _post(a, _act_body(app, "sim-save", opened_a, name="A renamed"))["sim-status"]["children"].startswith(
        "Saved"
    )
    assert _scenarios()["a1b2c3d4e5f6"]["name"] == "A renamed" and len(_scenarios()) == 2
    # each save is in the audit log, the copy saying whose scenario it copied
    rows = [r for r in auth.UserStore(store).audit_rows() if r["action"] == "scenario_save"]
    assert [(r["username"], r["target"], r["outcome"]) for r in reversed(rows)] == [
        ("nat_b", copy_id, "ok"),
        ("nat_b", copy_id, "ok"),
        ("nat_a", "a1b2c3d4e5f6", "ok"),
    ]
    assert "a1b2c3d4e5f6" in rows[-1]["detail"] and "nat_a" in rows[-1]["detail"]


def test_the_scenario_store_refuses_to_rewrite_another_authors_record(tmp_path):
    store = tmp_path / "scenarios.sqlite"
    empty = pl.DataFrame(schema=sc._CHANGE_SCHEMA)
    sc.save_scenario("0123456789ab", "mine", sc.Scenario(), empty, author="nat_a", base_snapshot="s", store=store)
    with pytest.raises(sc.ScenarioError):
        sc.save_scenario("0123456789ab", "theirs", sc.Scenario(), empty, author="nat_b", base_snapshot="s", store=store)
    assert sc.list_scenarios(store)["author"].to_list() == ["nat_a"]
    assert sc.scenario_owner("0123456789ab", store) == "nat_a"
    assert sc.scenario_owner("ffffffffffff", store) is sc.NOT_SAVED


# ---- 2. the sign-in limits count failures, not a busy office's sign-ins ------------------------------------------
def test_successful_sign_ins_from_one_address_are_not_limited(snapshot, tmp_path):
    app = _app(snapshot, tmp_path)
    store = tmp_path / "access" / "users.sqlite"
    per_minute = min(item.amount for item in parse_many(web.LOGIN_LIMIT))
    # a provincial office's staff behind one NAT address, all signing in within the minute
    for i in range(per_minute + 3):
        add_account(store, f"gd_staff{i}", "province", "44")
    statuses = [login(app.server.test_client(), f"gd_staff{i}").status_code for i in range(per_minute + 3)]
    assert statuses == [302] * (per_minute + 3)
    # guessing from that address is still limited
    guesses = [login(app.server.test_client(), f"x{i}", "wrong wrong wrong").status_code for i in range(per_minute)]
    assert guesses == [401] * per_minute
    assert login(app.server.test_client(), "gd_staff0", "wrong wrong wrong").status_code == 429
    assert login(app.server.test_client(), "gd_staff0").status_code == 429  # the limit holds for everyone there


def test_a_sign_in_does_not_wipe_guesses_made_from_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setattr(auth, "MAX_FAILURES", 3)
    monkeypatch.setattr(auth, "MAX_ACCOUNT_FAILURES", 6)
    store = auth.UserStore(tmp_path / "users.sqlite")
    store.add("gd_office", TEST_PASSWORD, "province", "44")
    for i in range(5):  # spread over addresses: under both bounds
        assert store.authenticate("gd_office", "wrong wrong wrong", remote_addr=f"198.51.100.{i}") is None
    # the official signs in from the office; the guesses from elsewhere still count
    assert store.authenticate("gd_office", TEST_PASSWORD, remote_addr="10.0.0.5").username == "gd_office"
    assert store.authenticate("gd_office", "wrong wrong wrong", remote_addr="198.51.100.9") is None
    assert store.locked("gd_office", "203.0.113.1")
    # the official's own failures before a success are forgiven at that address
    store2 = auth.UserStore(tmp_path / "users2.sqlite")
    store2.add("gd_office", TEST_PASSWORD, "province", "44")
    for _ in range(2):
        store2.authenticate("gd_office", "typo typo typo", remote_addr="10.0.0.5")
    assert store2.authenticate("gd_office", TEST_PASSWORD, remote_addr="10.0.0.5") is not None
    for _ in range(2):
        store2.authenticate("gd_office", "typo typo typo", remote_addr="10.0.0.5")
    assert not store2.locked("gd_office", "10.0.0.5")


# ---- 3. what every route answers before sign-in --------------------------------------------------------------------
def _concrete(rule: str) -> str:
    path = rule
    for placeholder, value in (
        ("<path:filename>", "440100_2025.html"),
        ("<string:package_name>", "dash"),
        ("<path:fingerprinted_path>", "dash-renderer/build/dash_renderer.v1_0_0m1.min.js"),
        ("<path:relpath>", "2025/440000/x.csv"),
        ("<path:path>", "rankings"),
        ("<name>", "provinces"),
    ):
        path = path.replace(placeholder, value)
    return path


# open to anyone: the sign-in page, the health probe and the static files Dash and the app ship (no data in them)
PUBLIC_ROUTES = {"/login", "/healthz", "/_favicon.ico", "/favicon.ico", "/assets/"}


def test_no_route_answers_data_or_the_app_before_sign_in(snapshot, tmp_path):
    app = _app(snapshot, tmp_path)
    anonymous = app.server.test_client()
    seen = []
    for rule in app.server.url_map.iter_rules():
        path = _concrete(rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for accept in ("*/*", "text/html"):
                r = anonymous.open(path, method=method, headers={"Accept": accept})
                seen.append(path)
                if any(path == p or (p.endswith("/") and path.startswith(p)) for p in PUBLIC_ROUTES):
                    # never the app's page shell (Dash's index: its config script and renderer)
                    assert b'id="_dash-config"' not in r.get_data(), (path, method)
                    continue
                if path == "/_reload-hash":  # a developer tool, off in production (below)
                    assert r.status_code == 404
                    continue
                assert r.status_code in (302, 401), (path, method, accept, r.status_code)
                if r.status_code == 302:
                    assert r.headers["Location"].startswith("/login?"), (path, r.headers["Location"])
    assert "/favicon.ico" in seen
    # paths under the static prefixes that no static route serves (Dash's catch-all would answer the page shell)
    for path in ("/assets//etc/passwd", "/assets/%2fetc%2fpasswd", "/_dash-component-suites//x", "/assets/"):
        for accept in ("*/*", "text/html"):
            r = anonymous.get(path, headers={"Accept": accept})
            assert r.status_code in (302, 401, 404), (path, r.status_code)
            assert b'id="_dash-config"' not in r.get_data(), path
    r = anonymous.get("/favicon.ico", headers={"Accept": "text/html"})
    assert b'id="_dash-config"' not in r.get_data()
    assert r.status_code == 301 and r.headers["Location"] == "/_favicon.ico"
    assert anonymous.get("/_favicon.ico").content_type == "image/x-icon"


def test_dashs_hot_reload_poll_is_off_in_production(snapshot, tmp_path):
    app = _app(snapshot, tmp_path)
    c = signed_in_client(app, tmp_path / "access" / "users.sqlite", "nat_r", "national")
    assert c.get("/_reload-hash").status_code == 404
    assert app.server.test_client().get("/_reload-hash").status_code == 404


# ---- 4. requests another origin made are refused --------------------------------------------------------------------
@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_a_post_another_origin_made_is_refused(snapshot, tmp_path, site):
    app = _app(snapshot, tmp_path)
    store = tmp_path / "access" / "users.sqlite"
    c = signed_in_client(app, store, "nat_x", "national")
    router = page_body("/rankings")  # the pages router: any callback will do
    forged = {"Sec-Fetch-Site": site}
    r = c.post("/_dash-update-component", json=router, headers=forged)
    assert r.status_code == 403
    assert c.post("/logout", headers=forged).status_code == 403
    assert c.get("/rankings").status_code == 200  # still signed in
    page = c.get("/login").get_data(as_text=True)
    token = page.split('name="csrf" value="')[1].split('"')[0]
    form = {"username": "nat_x", "password": TEST_PASSWORD, "csrf": token, "next": "/"}
    assert app.server.test_client().post("/login", data=form, headers=forged).status_code == 403
    # another site making its visitors' browsers post the sign-in form does not use up their address's allowance
    # (a guard: the refusal comes before the view, where the limit is counted)
    per_minute = min(item.amount for item in parse_many(web.LOGIN_LIMIT))
    for _ in range(per_minute + 1):
        assert app.server.test_client().post("/login", data=form, headers=forged).status_code == 403
    assert login(app.server.test_client(), "nat_x").status_code == 302
    denied = [r for r in auth.UserStore(store).audit_rows() if r["detail"] == "cross-origin request"]
    # audited for the signed-in account a forged request rides on; an anonymous one writes nothing (no disk lever)
    assert {r["target"] for r in denied} == {"/_dash-update-component", "/logout"}
    # the page's own requests (same origin) and requests without the header (older browsers) go through
    assert c.post("/_dash-update-component", json=router, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
    assert c.post("/_dash-update-component", json=router).status_code == 200
    assert c.get("/rankings", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200  # a link: a GET
    assert logout(c, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 302
    assert c.get("/rankings").status_code == 401


# ---- 5. alert actions touch the alerts chosen, exactly -----------------------------------------------------------
def _seed_alerts(tmp_path, monkeypatch) -> list[str]:
    from pipelines.alerts.conditions import Condition
    from pipelines.alerts.lifecycle import apply_conditions, fingerprint
    from pipelines.alerts.store import connect, now_utc

    monkeypatch.setenv("IPCITY_ALERT_STORE", str(tmp_path / "alerts" / "alerts.sqlite"))
    conds = [
        Condition(rule_id="target_behind", subject_key=f"p/QLT0{i}", title_zh="t", title_en="t", unit_code=u)
        for i, u in enumerate(["440100", "440300", "320500"])
    ]
    with connect() as con:
        apply_conditions(con, conds, evaluated={"target_behind"}, rules_version="t", run_id="r1", at=now_utc())
    return [fingerprint(c.rule_id, c.unit_code, c.subject_key) for c in conds]


def _alert_action(button: str, fingerprints: list) -> dict:
    body = callback_body(
        [("al-feedback", "children"), ("al-refresh", "data")],
        [("al-ack", "n_clicks", 1 if button == "al-ack" else None), ("al-silence", "n_clicks", 1)],
        [
            ("al-grid", "selectedRows", [{"fingerprint": fp} for fp in fingerprints]),
            ("al-period", "value", "7d"),
            ("al-refresh", "data", 0),
            ("al-lang", "data", "en"),
        ],
    )
    body["changedPropIds"] = [f"{button}.n_clicks"]
    return body


@pytest.mark.parametrize("button", ["al-ack", "al-silence"])
def test_a_forged_fingerprint_acknowledges_or_silences_nothing_else(snapshot, tmp_path, monkeypatch, button):
    from pipelines.alerts.store import connect

    fps = _seed_alerts(tmp_path, monkeypatch)
    app = _app(snapshot, tmp_path)
    nat = signed_in_client(app, tmp_path / "access" / "users.sqlite", "nat_al", "national")
    # LIKE patterns, a prefix, and a fingerprint since pruned: nothing done, no server error
    for forged in (["%%%%%%%%"], ["________"], [fps[0][:8]], ["0" * 24]):
        out = _post(nat, _alert_action(button, forged))
        assert " 0 " in out["al-feedback"]["children"], out
    with connect() as con:
        assert con.execute("select count(*) from alerts.alerts where acked_at is not null").fetchone()[0] == 0
        assert con.execute("select count(*) from alerts.silences").fetchone()[0] == 0
    # the row chosen: that alert only
    out = _post(nat, _alert_action(button, [fps[1]]))
    assert " 1 " in out["al-feedback"]["children"], out
    with connect() as con:
        acked = {r[0] for r in con.execute("select fingerprint from alerts.alerts where acked_at is not null")}
        silenced = {r[0] for r in con.execute("select fingerprint from alerts.silences")}
    assert (acked | silenced) == {fps[1]}


def test_the_alert_cli_target_is_a_prefix_never_a_pattern(tmp_path, monkeypatch):
    from pipelines.alerts.store import acknowledge

    fps = _seed_alerts(tmp_path, monkeypatch)
    assert acknowledge("%%%%%%%%", "ops") == 0 and acknowledge("________", "ops") == 0
    assert acknowledge(fps[2][:10], "ops") == 1


# ---- 6. the audit log says who took what ---------------------------------------------------------------------------
def test_files_taken_actions_and_sign_outs_are_in_the_audit_log(snapshot, tmp_path, monkeypatch):
    fps = _seed_alerts(tmp_path, monkeypatch)
    app = _app(snapshot, tmp_path)
    store = tmp_path / "access" / "users.sqlite"
    (tmp_path / "dossiers").mkdir()
    (tmp_path / "dossiers" / "440100_2025.html").write_text("<p>dossier</p>", encoding="utf-8")
    year = max(
        int(y) for y in __import__("dashboards.queries", fromlist=["years"]).years(app.server.config["IPCITY_SNAPSHOT"])
    )
    gd = signed_in_client(app, store, "gd_a", "province", "44")
    assert gd.get("/dossiers/440100_2025.html").status_code == 200
    assert gd.get(f"/download/extract?year={year}&province=440000&fmt=csv").status_code == 200
    dl = callback_body(
        [("dl-download", "data"), ("dl-status", "children")],
        [("dl-button", "n_clicks", 1)],
        [
            ("dl-year", "value", year),
            ("dl-province", "value", "440000"),
            ("dl-format", "value", "csv"),
            ("dl-lang", "data", "en"),
        ],
    )
    assert _post(gd, dl)["dl-download"]["data"]["filename"]
    assert logout(gd).status_code == 302

    nat = signed_in_client(app, store, "nat_c", "national")
    _post(nat, _alert_action("al-silence", [fps[0]]))

    per_minute = min(item.amount for item in parse_many(web.LOGIN_LIMIT))
    for i in range(per_minute + 1):
        login(app.server.test_client(), "guesser", f"wrong wrong {i}")

    rows = [(r["username"], r["action"], r["target"], r["outcome"]) for r in auth.UserStore(store).audit_rows()]
    assert ("gd_a", "file", "/dossiers/440100_2025.html", "ok") in rows
    assert ("gd_a", "file", f"/download/extract?year={year}&province=440000&fmt=csv", "ok") in rows
    assert any(r[:2] == ("gd_a", "download") and r[3] == "ok" for r in rows)
    assert ("gd_a", "logout", "/logout", "ok") in rows
    assert ("nat_c", "alert_silence", fps[0], "ok") in rows
    # the guesses are there, each; the requests the limit refused are not (anyone could fill the disk with them).
    # 'guesser' is no account: its tries are logged under the name's fingerprint (tenth review)
    guesser = auth.UserStore(store).name_fingerprint("guesser")
    assert rows.count((guesser, "login", "/login", "failed")) == per_minute


# ---- 7. the PDF report fetches nothing ---------------------------------------------------------------------------
def test_the_report_pdf_fetches_no_address_its_html_names(snapshot, tmp_path, monkeypatch):
    """Data reaching the report's HTML unescaped (a regression anywhere) must not make WeasyPrint read a server
    file or an internal address into the PDF: the renderer is given no fetcher but data: URIs."""
    import http.server
    import threading

    from dashboards import queries, report

    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the library's name
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"@page { size: 20mm 20mm }")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret = tmp_path / "secret.css"
    secret.write_text("@page { size: 20mm 20mm }", encoding="utf-8")
    port = server.server_address[1]
    doc = (
        f'<html><head><link rel="stylesheet" href="http://127.0.0.1:{port}/internal.css">'
        f'<link rel="stylesheet" href="{secret.as_uri()}"></head>'
        f'<body><img src="http://127.0.0.1:{port}/pixel.png"><p>report</p></body></html>'
    )
    monkeypatch.setattr(report, "national_html", lambda *a, **k: doc)
    app = _app(snapshot, tmp_path)
    nat = signed_in_client(app, tmp_path / "access" / "users.sqlite", "nat_pdf", "national")
    year = max(queries.years(app.server.config["IPCITY_SNAPSHOT"]))
    try:
        r = nat.get(f"/report.pdf?year={year}")
    finally:
        server.shutdown()
    assert r.status_code == 200 and r.get_data().startswith(b"%PDF")
    assert hits == []  # (the file:// stylesheet falls under the same rule: data: is the only protocol allowed)


# ---- 8. a body nested deeper than any control sends ----------------------------------------------------------------
def test_a_deeply_nested_callback_body_is_a_400_not_a_server_error(snapshot, tmp_path):
    from dashboards import security

    app = _app(snapshot, tmp_path)
    c = signed_in_client(app, tmp_path / "access" / "users.sqlite", "gd_deep", "province", "44")
    deep_value = page_body("/")
    deep_value["inputs"][1]["value"] = json.loads("[" * 400 + "]" * 400)  # parses; the gate's code scan recursed
    for data in ("[" * 100_000 + "]" * 100_000, json.dumps(deep_value)):  # the decoder itself recursed
        r = c.post("/_dash-update-component", data=data, content_type="application/json")
        assert r.status_code == 400 and b"nested too deeply" in r.get_data()
    # the depth is read from the bytes: brackets inside strings (escaped quotes and backslashes too) do not count
    for value, depth in (
        ({"a": "[[[[{{{", "b": [1, {"c": '\\"]]'}]}, 3),
        ({"a": "x\\", "b": [[['\\"[[[']]]}, 4),
        ({'k"[': ['\n"{']}, 2),
    ):
        assert security.json_depth(json.dumps(value).encode()) == depth, value
    assert security.json_depth(b'{"a": [[{"b": "]]]]"}]]}') == 4
    assert security.json_depth(b"[" * 40 + b"]" * 40) == 40 and security.json_depth(b'"[[["') == 0


# ---- 9. account changes are in the audit log -------------------------------------------------------------------------
def test_account_changes_are_in_the_audit_log(tmp_path):
    from click.testing import CliRunner

    from pipelines.cli import main as cli

    store = auth.UserStore(tmp_path / "users.sqlite")
    store.add("gd_office", TEST_PASSWORD, "province", "44")
    store.set_role("gd_office", "province", "32")
    store.disable("gd_office")
    store.enable("gd_office")
    store.reset_password("gd_office", "another long passphrase")
    with pytest.raises(auth.UserError):
        store.set_role("nobody", "viewer")  # refused: nothing changed, nothing logged
    rows = [(r["action"], r["target"], r["outcome"], r["detail"]) for r in reversed(store.audit_rows())]
    assert rows == [
        ("user_add", "gd_office", "ok", "role=province province=440000"),
        ("user_set_role", "gd_office", "ok", "role=province province=320000"),
        ("user_disable", "gd_office", "ok", ""),
        ("user_enable", "gd_office", "ok", ""),
        ("user_reset_password", "gd_office", "ok", ""),
    ]
    assert all(r["username"].startswith("os:") for r in store.audit_rows())
    # and through the command the administrator runs
    env = {"IPCITY_ACCESS_DIR": str(tmp_path)}
    result = CliRunner().invoke(cli, ["users", "disable", "gd_office"], env=env)
    assert result.exit_code == 0, result.output
    assert store.audit_rows(1)[0]["action"] == "user_disable"


# ---- 10. one scenario run at a time ----------------------------------------------------------------------------------
def test_a_scenario_run_while_another_runs_is_refused_not_started(snapshot, tmp_path, monkeypatch):
    """Each run copies the snapshot and runs dbt for minutes: repeated clicks or a script posting Run started as
    many as the server had threads (disk and CPU filled). The page says another is running and starts nothing."""
    monkeypatch.setenv("IPCITY_SCENARIOS", str(tmp_path / "scenarios"))
    # the small test snapshot has no rules mart: the page's reading of the published rules stands in
    monkeypatch.setattr(sc, "base_pillar_weights", lambda _db: {})
    monkeypatch.setattr(sc, "base_rules", lambda _db: pl.DataFrame())
    monkeypatch.setattr(sc, "validate_scenario", lambda scenario, _rules: scenario)
    started = []
    monkeypatch.setattr(sc, "_prepare", lambda *a: started.append(a) or (_ for _ in ()).throw(sc.ScenarioError("ran")))
    app = _app(snapshot, tmp_path)
    nat = signed_in_client(app, tmp_path / "access" / "users.sqlite", "nat_run", "national")
    body = _act_body(app, "sim-run", None)
    rule = {"type": "sim-rule", "key": "W1.bottom_group"}
    body["outputs"][-2] = [{"id": rule, "property": "value"}]
    body["state"][4] = [{"id": rule, "property": "value", "value": "moderate"}]
    body["state"][5] = [{"id": rule, "property": "id", "value": rule}]
    (tmp_path / "scenarios").mkdir()
    with open(tmp_path / "scenarios" / "run.lock", "a") as lock:  # another worker's run holds the installation's lock
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        out = _post(nat, body)
        assert out["sim-status"]["children"].startswith("Another scenario is being computed"), out
        fcntl.flock(lock, fcntl.LOCK_UN)
    assert started == []
    # once it has finished, a run starts (here it stops at once in the stand-in)
    out = _post(nat, body)
    assert len(started) == 1 and out["sim-status"]["children"].endswith("ran")


# ---- 11. files built on request, per account ------------------------------------------------------------------------
def test_one_account_cannot_make_the_server_build_reports_without_end(snapshot, tmp_path, monkeypatch):
    from dashboards import queries, report

    monkeypatch.setattr(report, "national_html", lambda *a, **k: "<html><body><p>report</p></body></html>")
    app = _app(snapshot, tmp_path)
    store = tmp_path / "access" / "users.sqlite"
    url = f"/report.pdf?year={max(queries.years(app.server.config['IPCITY_SNAPSHOT']))}"
    limit = getattr(web, "BUILT_FILE_LIMITS", {}).get("report_route", "30 per minute")  # (none before the fix)
    per_minute = min(item.amount for item in parse_many(limit))
    nat = signed_in_client(app, store, "nat_bulk", "national")
    assert [nat.get(url).status_code for _ in range(per_minute)] == [200] * per_minute
    assert nat.get(url).status_code == 429
    assert nat.get("/rankings").status_code == 200  # the pages go on
    # counted per account: a colleague at the same address still gets the report
    assert signed_in_client(app, store, "nat_colleague", "national").get(url).status_code == 200
    # the indicator extract has its own (generous) limit, per account too
    assert "download_extract" in web.BUILT_FILE_LIMITS
