"""A real pipeline materialisation while the app serves requests: every request succeeds, and afterwards the
app shows the new run's data (it never opens the warehouse the run writes, only the published snapshot)."""

from __future__ import annotations

import os
import shutil
import threading
import time

import pytest
import requests
from dashboard_http import add_account, callback_body, login_session, page_body, rankings_body
from werkzeug.serving import make_server

pytestmark = pytest.mark.slow


@pytest.fixture
def pipeline_env(sample_snapshot, tmp_path, monkeypatch):
    """A copy of the session's sample run (warehouse, landing, Dagster home, published snapshot): the first
    pipeline run is the session's own, so this test pays only for the run it watches."""
    base = tmp_path / "run"
    shutil.copytree(sample_snapshot.snapshot.parent.parent, base)
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(base / "warehouse.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(base / "dagster_home"))
    monkeypatch.delenv("IPCITY_LANDING", raising=False)
    return base


def test_app_keeps_serving_through_a_pipeline_run_and_shows_the_new_data(pipeline_env):
    from dashboards.app import create_app
    from pipelines import settings
    from pipelines.generate.resubmission import write_resubmission
    from pipelines.launcher import run_pipeline

    base = pipeline_env
    snap = settings.snapshot_path()
    add_account(base / "access" / "users.sqlite", "national_test")
    app = create_app(snap, dossier_dir=base / "dossiers", user_store=base / "access" / "users.sqlite")
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"

    statuses: list[int] = []
    failures: list[str] = []
    stop = threading.Event()

    def hammer():
        s = login_session(url, "national_test")
        while not stop.is_set():
            for body in (rankings_body(2024), page_body("/", "?lang=zh"), page_body("/quality", "?lang=zh")):
                try:
                    r = s.post(url + "/_dash-update-component", json=body, timeout=60)
                    statuses.append(r.status_code)
                    if r.status_code != 200 or "ipc-unavailable" in r.text:
                        failures.append(f"{r.status_code}: {r.text[:200]}")
                except requests.RequestException as exc:
                    failures.append(repr(exc))
            # a steady stream of readers, not a load test (bench/ measures load): a saturating stream would only
            # slow the run it watches on a 2-core machine
            time.sleep(1.0)

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for th in threads:
        th.start()
    try:
        inode_before = os.stat(snap).st_ino
        write_resubmission(base / "landing", 2024)  # a province's late file arrives
        second = run_pipeline()  # the real thing: Dagster run, dbt build, checks, publish
        assert second.success, second.runs
        time.sleep(1.0)
    finally:
        stop.set()
        for th in threads:
            th.join(60)
    try:
        assert not failures, failures[:5]
        assert len(statuses) > 20 and set(statuses) == {200}
        assert os.stat(snap).st_ino != inode_before  # a new snapshot was swapped in

        new_run = second.runs[-1]["run_id"]
        quality_page = login_session(url, "national_test").post(
            url + "/_dash-update-component", json=page_body("/quality", "?lang=zh"), timeout=60
        )
        assert new_run in quality_page.text
        body = callback_body(
            [
                ("dq-cards", "children"),
                ("dq-checks", "children"),
                ("dq-rej-fig", "figure"),
                ("dq-rejections", "children"),
            ],
            [("dq-run", "value", new_run)],
            [("dq-lang", "data", "zh")],
        )
        detail = login_session(url, "national_test").post(url + "/_dash-update-component", json=body, timeout=60)
        assert detail.status_code == 200
        assert "unknown region code in city_code" in detail.text  # the late file's quarantined rows
    finally:
        server.shutdown()
