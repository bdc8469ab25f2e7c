"""Alerts that reach people, round 13: a refusing channel shown on the quality page (the data engineers' view) as on
the Alerts page and in `ipcity alerts status`, from one reading; the next step worded for the recipient's role
(national office, provincial office, data engineer) in mail, webhook and dashboard; delivery quiet hours in Beijing
time (urgent alerts at once, the rest at the window's end, named in `ipcity alerts status`); and SMTP as it really
answers (4xx for now, 5xx for good per recipient, STARTTLS or AUTH the relay requires, CR/LF in a city name, a long
Chinese subject, one alert from two runs within a minute, a recipient removed while its mail waits).

Real receivers only: aiosmtpd and an HTTP receiver on 127.0.0.1, a real DuckDB warehouse and SQLite store, the
dashboard through its Flask test client.
"""

from __future__ import annotations

import json

from alert_receivers import HttpSink, SmtpSink
from alerts_fixtures import bare_site, hook_and_mail  # noqa: F401 - the `site` fixture
from click.testing import CliRunner
from dashboard_fixtures import build_snapshot
from dashboard_http import page_body, signed_in_client
from test_alerts import run_alerts, set_status


def _client(tmp):
    from dashboards.app import create_app

    snap = build_snapshot(tmp / "snap.duckdb")
    app = create_app(snap, dossier_dir=tmp, user_store=tmp / "users.sqlite", secret_key_file=tmp / "secret_key")
    return signed_in_client(app, tmp / "users.sqlite")


def _page_text(client, path: str, lang: str) -> str:
    r = client.post(
        "/_dash-update-component", data=json.dumps(page_body(path, f"?lang={lang}")), content_type="application/json"
    )
    assert r.status_code == 200, r.data[:2000]
    return json.dumps(r.get_json()["response"], ensure_ascii=False)


def test_the_quality_page_shows_a_refusing_channel_as_the_alerts_page_and_the_cli_do(site):
    """A webhook's 401 marked the channel refusing, and `ipcity alerts status` and the Alerts page's engineering alert
    said so, but the quality page — where the data engineers look — showed nothing. Now both pages carry the
    channels' state from the one reading (lifecycle.channel_states), in the page's language."""
    from pipelines.cli import main

    hook, relay = HttpSink(status=401).start(), SmtpSink().start()
    try:
        hook_and_mail(site["routing"], hook.port, relay.port)
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
    finally:
        hook.stop()
        relay.stop()
    client = _client(site["tmp"])
    for path in ("/quality", "/alerts"):
        zh, en = _page_text(client, path, "zh"), _page_text(client, path, "en")
        assert "拒收中（凭据被拒）" in zh and "正常应答" in zh, (path, zh[-3000:])
        assert "refusing (credentials refused)" in en and "answering" in en, path
        assert "HTTP 401" in en, path  # the receiver's answer, what the engineer mends
        rows = [r for r in _grid_rows(zh) if r.get("channel") == "hook"]
        assert len(rows) == 1 and rows[0]["waiting"] == 1, rows
    out = CliRunner().invoke(main, ["alerts", "status"], env={"COLUMNS": "250"})
    assert out.exit_code == 1 and "hook" in out.output and "拒收中" in out.output


def _grid_rows(text: str) -> list[dict]:
    """Every rowData of the page's grids (the JSON of a Dash layout)."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("rowData"), list):
                found.extend(node["rowData"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads(text))
    return found
