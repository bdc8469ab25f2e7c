"""What each recipient has heard decides what it is sent: every (route, channel, recipient) hears each episode of
an alert that concerns it once when it fires — in its next digest, even when its route became usable only later
(a routing entry refused for a while, a recipient added) — and hears the resolution if and only if it heard the
firing. Silences hold back and re-send per recipient as well.

A real DuckDB warehouse holds the marts the target rule reads, a real SQLite alert store, and a real SMTP server
(aiosmtpd) on 127.0.0.1 receives the mail; delivery runs in the alert step, so what the server holds when a run
returns is what that run sent.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import yaml
from alert_receivers import HttpSink, SmtpSink
from test_alerts import CITIES, run_alerts, set_status, write_target_marts

from pipelines.alerts import alert_history
from pipelines.alerts.store import acknowledge, connect, expire_silence, silence

GOOD_PROVINCE = "ipo-{province_code}@test.local"
BAD_PROVINCE = "ipo-{province}@test.local"  # an unknown placeholder: the whole route is refused
NAME = {code: name for code, name, *_ in CITIES}


def write_routing(path, port: int, *, province: str = GOOD_PROVINCE, national=("national@test.local",)) -> None:
    cfg = {
        "version": "test",
        "channels": {"mail": {"type": "smtp", "host": "127.0.0.1", "port": port, "sender": "m@test.local"}},
        "routes": [
            {"name": "province_office", "audience": "city", "per": "province", "recipients": {"mail": [province]}},
            {"name": "national_office", "audience": "city", "recipients": {"mail": list(national)}},
            {"name": "data_engineers", "audience": "engineering", "recipients": {"mail": ["de@test.local"]}},
        ],
        "delivery": {"immediate_attempts": 2, "backoff_seconds": [0.3], "max_attempts": 50},
    }
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


@pytest.fixture
def site(tmp_path, monkeypatch, smtp):
    routing = tmp_path / "routing.yaml"
    write_routing(routing, smtp.port)
    monkeypatch.setenv("IPCITY_ALERT_ROUTING", str(routing))
    monkeypatch.setenv("IPCITY_ALERT_STORE", str(tmp_path / "alerts.sqlite"))
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    wh = write_target_marts(tmp_path / "warehouse.duckdb", status="on_track")
    return {"warehouse": wh, "routing": routing, "port": smtp.port}


def mail(sink: SmtpSink, start: int = 0) -> list[dict]:
    """The mail a server received from message ``start`` on: recipient, the cities it says are firing and
    resolved (from the digest's own text: what the reader sees)."""
    out = []
    for m in sink.messages[start:]:
        n_firing, n_resolved = map(int, re.search(r"新预警(\d+)条、解除(\d+)条", m["Subject"]).groups())
        text = SmtpSink.text(m).split("\nTo ")[0]  # the Chinese section
        firing_part, _, resolved_part = text.partition("已解除：")
        out.append(
            {
                "to": m["X-Envelope-To"],
                "firing": sorted(c for c, n in NAME.items() if n in firing_part) if n_firing else [],
                "resolved": sorted(c for c, n in NAME.items() if n in resolved_part) if n_resolved else [],
                "n_firing": n_firing,
                "n_resolved": n_resolved,
            }
        )
    return out


def city_mail(sink: SmtpSink, start: int = 0) -> dict[str, list[dict]]:
    """The mail of the city routes (not the data engineers'), by recipient."""
    out: dict[str, list[dict]] = {}
    for m in mail(sink, start):
        if m["to"] != "de@test.local":
            out.setdefault(m["to"], []).append(m)
    return out


def test_a_route_refused_for_a_run_hears_the_still_firing_alerts_once_it_is_mended(site, smtp):
    for code in ("410100", "410700", "320500"):
        set_status(site["warehouse"], code, "limited_progress")
    write_routing(site["routing"], site["port"], province=BAD_PROVINCE)
    run_alerts(site["warehouse"], "run-1")
    first = city_mail(smtp)
    assert list(first) == ["national@test.local"]  # the province route is left out, the others deliver
    assert first["national@test.local"][0]["firing"] == ["320500", "410100", "410700"]
    assert [m["n_firing"] for m in mail(smtp) if m["to"] == "de@test.local"] == [1]  # the refusal, to the engineers

    # A second run with the route still refused sends nothing new to anyone.
    n = len(smtp.messages)
    run_alerts(site["warehouse"], "run-2")
    assert city_mail(smtp, n) == {}

    # Mended: each province office hears of its still-firing cities, once; the national office is sent nothing.
    write_routing(site["routing"], site["port"])
    n = len(smtp.messages)
    out = run_alerts(site["warehouse"], "run-3")
    assert out["routing_problems"] == []
    mended = city_mail(smtp, n)
    assert sorted(mended) == ["ipo-320000@test.local", "ipo-410000@test.local"]
    assert [(m["firing"], m["resolved"]) for m in mended["ipo-410000@test.local"]] == [(["410100", "410700"], [])]
    assert [(m["firing"], m["resolved"]) for m in mended["ipo-320000@test.local"]] == [(["320500"], [])]
    engineers = [m for m in mail(smtp, n) if m["to"] == "de@test.local"]
    assert [(m["n_firing"], m["n_resolved"]) for m in engineers] == [(0, 1)]  # the refusal resolves

    # ... and not again after.
    n = len(smtp.messages)
    run_alerts(site["warehouse"], "run-4")
    assert smtp.messages[n:] == []

    # The province offices heard the firing, so they hear the resolution too (and so does the national office).
    set_status(site["warehouse"], "410700", "on_track")
    n = len(smtp.messages)
    run_alerts(site["warehouse"], "run-5")
    resolved = city_mail(smtp, n)
    assert sorted(resolved) == ["ipo-410000@test.local", "national@test.local"]
    assert all([(m["firing"], m["resolved"]) for m in ms] == [([], ["410700"])] for ms in resolved.values())


def test_a_channel_refused_for_a_run_hears_the_still_firing_alerts_once_it_is_mended(site, smtp):
    """The same for one channel of a route (a webhook written with its token in clear text): its recipient hears
    the alerts still firing once the channel is mended; the route's mail recipient is not sent them again."""
    hook = HttpSink().start()
    try:
        cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
        cfg["channels"]["hook"] = {"type": "webhook", "url": f"http://127.0.0.1:{hook.port}/alerts", "token": "x"}
        cfg["routes"][1]["recipients"]["hook"] = ["national-ops"]
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        set_status(site["warehouse"], "410100", "limited_progress")
        set_status(site["warehouse"], "320500", "limited_progress")
        out = run_alerts(site["warehouse"], "run-1")
        assert any("channel hook" in p for p in out["routing_problems"]) and hook.requests == []

        del cfg["channels"]["hook"]["token"]
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        set_status(site["warehouse"], "320500", "on_track")  # Suzhou resolves before the channel is mended
        n = len(smtp.messages)
        out = run_alerts(site["warehouse"], "run-2")
        assert out["routing_problems"] == []
        assert [
            (r["json"]["recipient"], [a["unit_code"] for a in r["json"]["firing"]], r["json"]["resolved"])
            for r in hook.requests
        ] == [("national-ops", ["410100"], [])]
        assert sorted((m["to"], m["firing"], m["resolved"]) for ms in city_mail(smtp, n).values() for m in ms) == [
            ("ipo-320000@test.local", [], ["320500"]),
            ("national@test.local", [], ["320500"]),
        ]
        assert run_alerts(site["warehouse"], "run-3")["messages"] == []
        assert len(hook.requests) == 1
    finally:
        hook.stop()


def test_a_recipient_added_later_hears_the_still_firing_alerts_once(site, smtp):
    for code in ("410100", "320500"):
        set_status(site["warehouse"], code, "limited_progress")
    run_alerts(site["warehouse"], "run-1")
    assert sorted(city_mail(smtp)) == ["ipo-320000@test.local", "ipo-410000@test.local", "national@test.local"]
    set_status(site["warehouse"], "320500", "on_track")
    run_alerts(site["warehouse"], "run-2")  # Suzhou resolves before the deputy is added

    write_routing(site["routing"], site["port"], national=("national@test.local", "deputy@test.local"))
    n = len(smtp.messages)
    run_alerts(site["warehouse"], "run-3")
    added = city_mail(smtp, n)
    # only the alert still firing, and no notice of the one that resolved before the deputy was on the route
    assert list(added) == ["deputy@test.local"]
    assert [(m["firing"], m["resolved"]) for m in added["deputy@test.local"]] == [(["410100"], [])]

    n = len(smtp.messages)
    run_alerts(site["warehouse"], "run-4")
    assert smtp.messages[n:] == []

    # Both heard Zhengzhou fire: both hear it resolve, once.
    set_status(site["warehouse"], "410100", "on_track")
    n = len(smtp.messages)
    run_alerts(site["warehouse"], "run-5")
    resolved = city_mail(smtp, n)
    assert sorted(resolved) == ["deputy@test.local", "ipo-410000@test.local", "national@test.local"]
    assert all([(m["firing"], m["resolved"]) for m in ms] == [([], ["410100"])] for ms in resolved.values())


def test_a_resolution_goes_only_to_recipients_that_heard_the_firing(site, smtp):
    set_status(site["warehouse"], "410100", "limited_progress")
    set_status(site["warehouse"], "410700", "limited_progress")
    run_alerts(site["warehouse"], "run-1")

    # A recipient added in the same run in which Zhengzhou recovers never heard it fire: no bare resolution.
    write_routing(site["routing"], site["port"], national=("national@test.local", "deputy@test.local"))
    set_status(site["warehouse"], "410100", "on_track")
    n = len(smtp.messages)
    run_alerts(site["warehouse"], "run-2")
    got = city_mail(smtp, n)
    assert sorted(got) == ["deputy@test.local", "ipo-410000@test.local", "national@test.local"]
    assert [(m["firing"], m["resolved"]) for m in got["deputy@test.local"]] == [(["410700"], [])]
    assert [(m["firing"], m["resolved"]) for m in got["national@test.local"]] == [([], ["410100"])]
    assert [(m["firing"], m["resolved"]) for m in got["ipo-410000@test.local"]] == [([], ["410100"])]

    # A route refused while an alert fires and resolves hears neither, once mended.
    write_routing(site["routing"], site["port"], province=BAD_PROVINCE)
    set_status(site["warehouse"], "320500", "deteriorating")
    run_alerts(site["warehouse"], "run-3")
    set_status(site["warehouse"], "320500", "on_track")
    run_alerts(site["warehouse"], "run-4")
    write_routing(site["routing"], site["port"])
    n = len(smtp.messages)
    run_alerts(site["warehouse"], "run-5")
    assert city_mail(smtp, n) == {}


def test_a_digest_refused_for_good_is_neither_resent_nor_followed_by_a_resolution(site):
    """A recipient whose digest the server refused for good (550) has not heard it: no resolution follows. Nothing
    re-plans the refused digest either (it would be refused again, run after run); it is parked as failed, and
    once an operator has mended the mailbox and requeued it (`ipcity alerts deliver --retry-failed`) the recipient
    has heard it, so the resolution follows."""
    from click.testing import CliRunner

    from pipelines.cli import main

    refusing = SmtpSink(refuse={"ipo-410000@test.local": "550 5.1.1 mailbox unavailable"}).start()
    try:
        write_routing(site["routing"], refusing.port)
        set_status(site["warehouse"], "410100", "limited_progress")
        set_status(site["warehouse"], "410700", "limited_progress")
        statuses = {m["recipient"]: m["status"] for m in run_alerts(site["warehouse"], "run-1")["messages"]}
        # (and the data engineers hear whom the relay refused: delivery_failed, round 7)
        assert statuses == {
            "ipo-410000@test.local": "failed",
            "national@test.local": "delivered",
            "de@test.local": "delivered",
        }
        assert run_alerts(site["warehouse"], "run-2")["messages"] == []  # no resend loop

        set_status(site["warehouse"], "410700", "on_track")
        out = run_alerts(site["warehouse"], "run-3")
        assert [(m["recipient"], m["firing"], m["resolved"]) for m in out["messages"]] == [
            ("national@test.local", 0, 1)
        ]
    finally:
        refusing.stop()

    mended = SmtpSink(refusing.port).start()  # the mailbox exists now
    try:
        res = CliRunner().invoke(main, ["alerts", "deliver", "--retry-failed"])
        # the requeued firing arrives, and the resolution that waited for it follows at once
        assert res.exit_code == 0 and "2 delivered" in res.output, res.output
        assert [(m["to"], m["firing"], m["resolved"]) for m in mail(mended)] == [
            ("ipo-410000@test.local", ["410100", "410700"], []),
            ("ipo-410000@test.local", [], ["410700"]),
        ]
        # the next run tells the data engineers the recipient is reached again (the delivery_failed alert resolves)
        assert [(m["recipient"], m["resolved"]) for m in run_alerts(site["warehouse"], "run-4")["messages"]] == [
            ("de@test.local", 1)
        ]
        assert run_alerts(site["warehouse"], "run-5")["messages"] == []
        assert len(mended.messages) == 3
    finally:
        mended.stop()


def test_silences_hold_back_and_resend_to_each_recipient_once(site, smtp):
    # Silenced when it first fires: nothing is sent; when the silence ends, every recipient hears it once.
    sid = silence(by="tester", duration=timedelta(hours=1), unit_code="410100")
    set_status(site["warehouse"], "410100", "limited_progress")
    run_alerts(site["warehouse"], "run-1")
    run_alerts(site["warehouse"], "run-2")
    assert smtp.messages == []
    expire_silence(sid)
    run_alerts(site["warehouse"], "run-3")
    assert sorted(m["to"] for m in mail(smtp)) == ["ipo-410000@test.local", "national@test.local"]
    n = len(smtp.messages)
    run_alerts(site["warehouse"], "run-4")
    assert smtp.messages[n:] == []

    # Silenced again while firing: held back; it ends while the province route is refused: the national office
    # hears it again at once, the province office once its route is mended, and then nobody again.
    sid = silence(by="tester", duration=timedelta(hours=1), unit_code="410100")
    run_alerts(site["warehouse"], "run-5")
    assert smtp.messages[n:] == []
    write_routing(site["routing"], site["port"], province=BAD_PROVINCE)
    expire_silence(sid)
    run_alerts(site["warehouse"], "run-6")
    assert {to: [m["firing"] for m in ms] for to, ms in city_mail(smtp, n).items()} == {
        "national@test.local": [["410100"]]
    }
    write_routing(site["routing"], site["port"])
    n = len(smtp.messages)
    run_alerts(site["warehouse"], "run-7")
    assert {to: [m["firing"] for m in ms] for to, ms in city_mail(smtp, n).items()} == {
        "ipo-410000@test.local": [["410100"]]
    }
    n = len(smtp.messages)
    run_alerts(site["warehouse"], "run-8")
    assert smtp.messages[n:] == []

    # A resolution during a silence waits for its end, and goes to those that heard the firing.
    sid = silence(by="tester", duration=timedelta(hours=1), unit_code="410100")
    set_status(site["warehouse"], "410100", "on_track")
    run_alerts(site["warehouse"], "run-9")
    assert smtp.messages[n:] == []
    expire_silence(sid)
    run_alerts(site["warehouse"], "run-10")
    got = city_mail(smtp, n)
    assert sorted(got) == ["ipo-410000@test.local", "national@test.local"]
    assert all([m["resolved"] for m in ms] == [["410100"]] for ms in got.values())


def test_an_older_store_keeps_what_its_ledger_says_was_heard(site, smtp):
    """A store written before recipients' notices were kept per recipient: what its ledger (alerts.messages,
    alerts.message_items) shows each recipient was sent counts as heard, so the upgrade re-sends nothing; an alert
    a silence held back is still told again when the silence ends, and what was settled stays settled (a
    resolution sent, an acknowledged run failure closed without notice)."""
    from pipelines.alerts import notify_events, run_failure_events

    for code in ("410100", "410700", "320500"):
        set_status(site["warehouse"], code, "limited_progress")
    run_alerts(site["warehouse"], "run-1")
    assert len(smtp.messages) == 3
    notify_events(run_failure_events("run-x", "ipcity_pipeline", "boom", [], {}), run_id="run-x")
    assert [m["to"] for m in mail(smtp, 3)] == ["de@test.local"]
    acknowledge(alert_history(state="firing").filter(rule_id="run_failed")["fingerprint"][0], "de-oncall")
    sid = silence(by="tester", duration=timedelta(hours=1), unit_code="320500")
    run_alerts(site["warehouse"], "run-2")  # Suzhou held back
    set_status(site["warehouse"], "410100", "on_track")
    run_alerts(site["warehouse"], "run-3")  # Zhengzhou's resolution, to the two who heard it fire
    assert sorted((m["to"], m["n_resolved"]) for m in mail(smtp, 4)) == [
        ("ipo-410000@test.local", 1),
        ("national@test.local", 1),
    ]
    with connect() as con:
        tables = {
            r[0]
            for r in con.execute("SELECT name FROM alerts.sqlite_master WHERE type = 'table'")
            if not r[0].startswith("sqlite_")
        }
        for table in tables - {"alerts", "silences", "messages", "message_items", "deliveries", "dispatches"}:
            con.execute(f"DROP TABLE alerts.{table}")  # back to the older store's tables

    # The silence ends before the first run on the upgraded store: Suzhou is told again, Xinxiang (firing and
    # heard) is not, and neither Zhengzhou nor the run failure gets a second resolution.
    expire_silence(sid)
    n = len(smtp.messages)
    run_alerts(site["warehouse"], "run-4")
    assert sorted(m["to"] for m in mail(smtp, n)) == ["ipo-320000@test.local", "national@test.local"]
    assert all([(m["firing"], m["resolved"]) for m in ms] == [(["320500"], [])] for ms in city_mail(smtp, n).values())
    n = len(smtp.messages)
    run_alerts(site["warehouse"], "run-5")
    assert smtp.messages[n:] == []
