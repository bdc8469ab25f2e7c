"""Alerts that reach people, round 5: what a recipient hears and in which order, and delivery as an operator and a
recipient meet it (7-bit-clean mail, robots' size limits, secrets kept out of the ledger, a relay that hangs).

Real receivers only: aiosmtpd and an HTTP receiver on 127.0.0.1, a real DuckDB warehouse and SQLite store.
"""

from __future__ import annotations

import pytest
import yaml
from alert_receivers import SmtpSink
from test_alerts import run_alerts, set_status, write_target_marts
from test_alerts_per_recipient import city_mail

from pipelines.alerts.config import load_routing
from pipelines.alerts.lifecycle import deliver_due
from pipelines.alerts.store import connect


def write_routing(path, port: int, *, backoff=(600,), immediate: int = 1, **mail) -> None:
    cfg = {
        "version": "test",
        "channels": {
            "mail": {"type": "smtp", "host": "127.0.0.1", "port": port, "sender": "m@test.local", "timeout": 5, **mail}
        },
        "routes": [
            {
                "name": "province_office",
                "audience": "city",
                "per": "province",
                "recipients": {"mail": ["ipo-{province_code}@test.local"]},
            },
            {"name": "national_office", "audience": "city", "recipients": {"mail": ["national@test.local"]}},
        ],
        "delivery": {"immediate_attempts": immediate, "backoff_seconds": list(backoff), "max_attempts": 50},
    }
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


@pytest.fixture
def site(tmp_path, monkeypatch):
    routing = tmp_path / "routing.yaml"
    monkeypatch.setenv("IPCITY_ALERT_ROUTING", str(routing))
    monkeypatch.setenv("IPCITY_ALERT_STORE", str(tmp_path / "alerts.sqlite"))
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    wh = write_target_marts(tmp_path / "warehouse.duckdb", status="on_track")
    return {"warehouse": wh, "routing": routing, "tmp": tmp_path}


def _make_due(recipient: str) -> None:
    """The retry time of a recipient's waiting digests has come (instead of waiting out the backoff)."""
    with connect() as con:
        con.execute(
            "UPDATE alerts.messages SET next_retry_at = NULL WHERE recipient = ? AND status = 'pending'", (recipient,)
        )


# ------------------------------------------------------------------------------ firing before resolved
def test_a_resolution_waits_for_the_firing_digest_that_is_still_retrying(site):
    """The national office's mailbox is busy (450) when Zhengzhou fires: its digest waits for a retry. The city
    recovers before that retry. The office must hear "firing" before "resolved" — never the resolution first, and
    never a resolution of something it never got."""
    busy = SmtpSink(refuse={"national@test.local": "450 4.2.1 mailbox busy, try later"}).start()
    port = busy.port
    try:
        write_routing(site["routing"], port)
        set_status(site["warehouse"], "410100", "limited_progress")
        statuses = {m["recipient"]: m["status"] for m in run_alerts(site["warehouse"], "run-1")["messages"]}
        assert statuses == {"ipo-410000@test.local": "delivered", "national@test.local": "retry"}
    finally:
        busy.stop()

    sink = SmtpSink(port).start()  # the mailbox takes mail again; the firing digest's retry is not due yet
    try:
        set_status(site["warehouse"], "410100", "on_track")
        run_alerts(site["warehouse"], "run-2")
        got = city_mail(sink)
        assert [(m["firing"], m["resolved"]) for m in got["ipo-410000@test.local"]] == [([], ["410100"])]
        assert "national@test.local" not in got  # no resolution ahead of the firing it would resolve

        _make_due("national@test.local")  # the firing digest's retry comes (the delivery sensor, `alerts deliver`)
        deliver_due(load_routing())
        heard = [(m["firing"], m["resolved"]) for m in city_mail(sink)["national@test.local"]]
        assert heard == [(["410100"], []), ([], ["410100"])]  # firing, then at once its resolution
        n = len(sink.messages)
        assert run_alerts(site["warehouse"], "run-3")["messages"] == [] and sink.messages[n:] == []
    finally:
        sink.stop()


def test_no_resolution_follows_a_firing_digest_that_failed_while_the_resolution_waited(site):
    """The same, but the waiting firing digest is then refused for good (550): the office never received the
    firing, so it must not receive a resolution of it either."""
    busy = SmtpSink(refuse={"national@test.local": "450 4.2.1 mailbox busy, try later"}).start()
    port = busy.port
    try:
        write_routing(site["routing"], port)
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
    finally:
        busy.stop()
    gone = SmtpSink(port, refuse={"national@test.local": "550 5.1.1 mailbox unavailable"}).start()
    try:
        set_status(site["warehouse"], "410100", "on_track")
        run_alerts(site["warehouse"], "run-2")
        _make_due("national@test.local")
        out = deliver_due(load_routing())
        assert [(d["recipient"], d["status"]) for d in out] == [("national@test.local", "failed")]
        assert run_alerts(site["warehouse"], "run-3")["messages"] == []
        assert "national@test.local" not in city_mail(gone)
        with connect() as con:
            n = con.execute(
                "SELECT count(*) FROM alerts.messages WHERE recipient = 'national@test.local' AND n_resolved > 0"
            ).fetchone()[0]
        assert n == 0
    finally:
        gone.stop()
