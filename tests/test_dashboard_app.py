"""The Dash app over HTTP (Flask test client) on a real sample-run snapshot: routes, callbacks; and on
hand-made snapshots: missing snapshot, missing tables."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest
from dashboard_fixtures import build_snapshot
from dashboard_http import callback_body, page_body, rankings_body

from dashboards import extracts
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


@pytest.fixture(scope="module")
def client(snap_path, dossiers):
    return create_app(snap_path, dossier_dir=dossiers).server.test_client()


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
    assert resp["rk-count"]["children"].startswith("Units:")


def test_overview_callback_builds_four_outputs(client, year):
    body = callback_body(
        [("ov-cards", "children"), ("ov-map", "figure"), ("ov-dist", "figure"), ("ov-movers", "figure")],
        [("ov-year", "value", year - 1)],
        [("ov-lang", "data", "zh")],
    )
    resp = post(client, body)
    assert len(resp["ov-cards"]["children"]) == 6
    assert sum(len(tr["x"]) for tr in resp["ov-map"]["figure"]["data"]) > 300


def test_dossier_route_serves_only_dossier_files(client, sample_snapshot):
    html = [n for n in sample_snapshot.dossiers if n.endswith(".html")][0]
    r = client.get("/dossiers/" + html)
    assert r.status_code == 200 and "证据档案" in r.get_data(as_text=True)
    md = client.get("/dossiers/" + html.replace(".html", ".md"))
    assert md.status_code == 200 and md.headers["Content-Type"].startswith("text/markdown")
    assert client.get("/dossiers/secret.txt").status_code == 404
    assert client.get("/dossiers/../outside.html").status_code == 404
    assert client.get("/dossiers/%2e%2e/outside.html").status_code == 404
    assert client.get("/dossiers/999999_2025.html").status_code == 404


def test_download_route_and_permission_gate(client, monkeypatch, year):
    r = client.get(f"/download/extract?year={year}&province=440000&fmt=csv")
    assert r.status_code == 200
    assert r.data.startswith(b"\xef\xbb\xbf")
    assert "attachment" in r.headers["Content-Disposition"]
    assert client.get(f"/download/extract?year={year}&fmt=pdf").status_code == 400
    monkeypatch.setattr(extracts, "authorize_download", lambda user, province: province != "440000")
    assert (
        client.get(
            f"/download/extract?year={year}&province=440000&fmt=csv", headers={"X-Remote-User": "bob"}
        ).status_code
        == 403
    )
    assert client.get(f"/download/extract?year={year}&province=320000&fmt=csv").status_code == 200


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
    client = create_app(tmp_path / "not_published_yet.duckdb").server.test_client()
    assert client.get("/healthz").status_code == 503
    for lang, notice in (("zh", "尚未发布数据快照"), ("en", "No published data snapshot")):
        resp = post(client, page_body("/rankings", f"?lang={lang}"))
        assert notice in json.dumps(resp["_pages_content"]["children"], ensure_ascii=False)


def test_missing_tables_show_not_yet_available(tmp_path):
    path = build_snapshot(
        tmp_path / "bare.duckdb", include_evaluation=False, include_quality=False, include_alerts=False
    )
    client = create_app(path).server.test_client()
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
