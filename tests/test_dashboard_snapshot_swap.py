"""The pipeline publishes a new snapshot (write beside, os.replace) while the app is serving: no request fails,
and afterwards the app serves the new data."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from werkzeug.serving import make_server

from dashboard_fixtures import build_snapshot, publish_snapshot
from dashboard_http import page_body, rankings_body
from dashboards import queries
from dashboards.app import create_app
from dashboards.snapshot import Snapshot


def expected_top(path, year: int) -> list[tuple[str, float]]:
    """Top of the rankings computed straight from a snapshot file, independent of the app."""
    s = Snapshot(path)
    try:
        df = queries.rankings(s, year).head(5)
        return [(r["unit_code"], round(r["composite_index"], 1)) for r in df.iter_rows(named=True)]
    finally:
        s.close()


@pytest.fixture
def served(tmp_path):
    published = tmp_path / "published"
    target = publish_snapshot(published / "warehouse.snapshot.duckdb", seed=1, last_year=2024)
    app = create_app(target, dossier_dir=tmp_path / "dossiers")
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", target, tmp_path
    server.shutdown()
    thread.join(10)


def test_swap_while_serving(served):
    url, target, tmp_path = served
    old_top = expected_top(target, 2024)
    new_file = build_snapshot(tmp_path / "expected_new.duckdb", seed=2, last_year=2025)
    new_top = expected_top(new_file, 2024)
    assert old_top != new_top  # the two publishes differ, so the test can tell which one was served

    results: list[tuple[str, object]] = []
    failures: list[str] = []
    stop = threading.Event()

    def hammer(kind: str):
        session = requests.Session()
        while not stop.is_set():
            try:
                if kind == "rankings":
                    r = session.post(url + "/_dash-update-component", json=rankings_body(2024), timeout=30)
                    if r.status_code != 200:
                        failures.append(f"rankings {r.status_code}: {r.text[:300]}")
                        continue
                    rows = r.json()["response"]["rk-grid"]["rowData"][:5]
                    results.append((kind, [(x["unit_code"], x["composite_index"]) for x in rows]))
                elif kind == "page":
                    r = session.post(url + "/_dash-update-component", json=page_body("/", "?lang=zh"), timeout=30)
                    if r.status_code != 200 or "ipc-unavailable" in r.text:
                        failures.append(f"page {r.status_code}: {r.text[:300]}")
                    results.append((kind, r.status_code))
                else:
                    r = session.get(url + "/download/extract?year=2024&province=320000&fmt=csv", timeout=30)
                    if r.status_code != 200 or not r.content.startswith(b"\xef\xbb\xbf"):
                        failures.append(f"download {r.status_code}")
                    results.append((kind, r.status_code))
            except requests.RequestException as exc:
                failures.append(f"{kind} {exc!r}")

    threads = [threading.Thread(target=hammer, args=(k,)) for k in ("rankings", "rankings", "page", "download")]
    for th in threads:
        th.start()
    time.sleep(1.0)
    for seed in (3, 2):  # two publishes in a row, the last one is the expected new data
        publish_snapshot(target, seed=seed, last_year=2025)
        time.sleep(1.0)
    stop.set()
    for th in threads:
        th.join(60)

    assert not failures, failures[:5]
    ranking_answers = [v for k, v in results if k == "rankings"]
    assert len(results) > 40 and len(ranking_answers) > 10
    # Every answer is one whole snapshot's ranking, never a mixture: old, intermediate (seed 3) or new.
    mid_top = expected_top(build_snapshot(tmp_path / "mid.duckdb", seed=3, last_year=2025), 2024)
    assert all(a in (old_top, mid_top, new_top) for a in ranking_answers)
    assert ranking_answers[0] == old_top
    assert new_top in ranking_answers  # the new publish was picked up while the traffic was running
    print(f"{len(results)} requests, {len(ranking_answers)} ranking answers, "
          f"{sum(a == old_top for a in ranking_answers)} old / {sum(a == new_top for a in ranking_answers)} new")

    after = requests.post(url + "/_dash-update-component", json=rankings_body(2024), timeout=30).json()
    rows = after["response"]["rk-grid"]["rowData"][:5]
    assert [(x["unit_code"], x["composite_index"]) for x in rows] == new_top
    layout = requests.post(url + "/_dash-update-component", json=page_body("/", "?lang=zh"), timeout=30).text
    assert '"label":"2025"' in layout.replace(" ", "")  # the year selector offers the newly published year
