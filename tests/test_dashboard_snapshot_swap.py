"""The pipeline publishes a new snapshot while the app is serving: no request fails, every answer comes from one
whole snapshot, and afterwards the app serves the new data.

The publishes go through the pipeline's own ``publish_snapshot`` (copy the marts into a file beside the target,
then ``os.replace``). Their sources are copies of the real sample run's marts, altered so that each publish ranks
the cities differently and the test can tell which one answered.
"""

from __future__ import annotations

import shutil
import threading
import time

import duckdb
import pytest
import requests
from dashboard_http import add_account, login_session, page_body, rankings_body
from werkzeug.serving import make_server

from dashboards import queries
from dashboards.app import create_app
from dashboards.snapshot import Snapshot
from pipelines.snapshot_writer import publish_snapshot

pytestmark = pytest.mark.slow  # the session builds the sample run once


def expected_top(path, year: int) -> list[tuple[str, float]]:
    """Top of the rankings computed straight from a snapshot file, independent of the app."""
    s = Snapshot(path)
    try:
        df = queries.rankings(s, year).head(5)
        return [(r["unit_code"], round(r["composite_index"], 1)) for r in df.iter_rows(named=True)]
    finally:
        s.close()


def altered_source(real_snapshot, path, *, reverse: bool, drop_first_year: bool = False):
    """A publish source holding the real marts, with the ranking of every year turned upside down (``reverse``)
    or the index shifted by one point, as a re-run with other weights would change it."""
    shutil.copy(real_snapshot, path)
    con = duckdb.connect(str(path))
    try:
        if reverse:
            con.execute(
                "update marts.fct_city_score_year set rank = n_ranked + 1 - rank, "
                "composite_index = 200 - composite_index, composite = 100 - composite where is_ranked"
            )
        else:
            con.execute("update marts.fct_city_score_year set composite_index = composite_index + 1")
        if drop_first_year:
            con.execute(
                "delete from marts.fct_city_score_year where year = (select min(year) from marts.fct_city_score_year)"
            )
        con.execute("checkpoint")
    finally:
        con.close()
    return path


@pytest.fixture
def served(tmp_path, sample_snapshot):
    target = tmp_path / "published" / "warehouse.snapshot.duckdb"
    source = tmp_path / "old.duckdb"
    shutil.copy(sample_snapshot.snapshot, source)
    publish_snapshot(source, target)
    store = tmp_path / "access" / "users.sqlite"
    add_account(store, "national_test")
    app = create_app(
        target, dossier_dir=tmp_path / "dossiers", user_store=store, secret_key_file=tmp_path / "access" / "key"
    )
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", target, tmp_path, sample_snapshot.snapshot
    server.shutdown()
    thread.join(10)


def test_swap_while_serving(served):
    url, target, tmp_path, real = served
    con = duckdb.connect(str(real), read_only=True)
    try:
        years = [
            y for (y,) in con.execute("select distinct year from marts.fct_city_score_year order by year").fetchall()
        ]
    finally:
        con.close()
    year = years[-1]
    mid = altered_source(real, tmp_path / "mid.duckdb", reverse=False)
    new = altered_source(real, tmp_path / "new.duckdb", reverse=True, drop_first_year=True)
    old_top, mid_top, new_top = (expected_top(p, year) for p in (target, mid, new))
    assert len({tuple(old_top), tuple(mid_top), tuple(new_top)}) == 3  # the test can tell who answered

    results: list[tuple[str, object]] = []
    failures: list[str] = []
    stop = threading.Event()

    def hammer(kind: str):
        session = login_session(url, "national_test")
        while not stop.is_set():
            try:
                if kind == "rankings":
                    r = session.post(url + "/_dash-update-component", json=rankings_body(year), timeout=30)
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
                    r = session.get(url + f"/download/extract?year={year}&province=320000&fmt=csv", timeout=30)
                    if r.status_code != 200 or not r.content.startswith(b"\xef\xbb\xbf"):
                        failures.append(f"download {r.status_code}")
                    results.append((kind, r.status_code))
            except requests.RequestException as exc:
                failures.append(f"{kind} {exc!r}")

    threads = [threading.Thread(target=hammer, args=(k,)) for k in ("rankings", "rankings", "page", "download")]
    for th in threads:
        th.start()
    time.sleep(1.0)
    for source in (mid, new):  # two publishes in a row, the last one is the expected new data
        publish_snapshot(source, target)
        time.sleep(1.0)
    stop.set()
    for th in threads:
        th.join(60)

    assert not failures, failures[:5]
    ranking_answers = [v for k, v in results if k == "rankings"]
    assert len(results) > 40 and len(ranking_answers) > 10
    # Every answer is one whole snapshot's ranking, never a mixture: old, intermediate or new.
    assert all(a in (old_top, mid_top, new_top) for a in ranking_answers)
    assert ranking_answers[0] == old_top
    assert new_top in ranking_answers  # the new publish was picked up while the traffic was running
    print(
        f"{len(results)} requests, {len(ranking_answers)} ranking answers, "
        f"{sum(a == old_top for a in ranking_answers)} old / {sum(a == mid_top for a in ranking_answers)} mid / "
        f"{sum(a == new_top for a in ranking_answers)} new"
    )

    after = (
        login_session(url, "national_test")
        .post(url + "/_dash-update-component", json=rankings_body(year), timeout=30)
        .json()
    )
    rows = after["response"]["rk-grid"]["rowData"][:5]
    assert [(x["unit_code"], x["composite_index"]) for x in rows] == new_top
    layout = (
        login_session(url, "national_test")
        .post(url + "/_dash-update-component", json=page_body("/", "?lang=zh"), timeout=30)
        .text
    )
    compact = layout.replace(" ", "")
    # the year selector follows the new publish, which no longer has the first year
    assert f'"label":"{years[-1]}"' in compact and f'"label":"{years[0]}"' not in compact
