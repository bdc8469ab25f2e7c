"""Alerts that reach people, round 9: an alert that resolves and fires again before its digest went out, the
delivery sensor's own time budget, and delivery as it really fails.

Real receivers only: aiosmtpd and an HTTP receiver on 127.0.0.1, a real DuckDB warehouse and SQLite store.
"""

from __future__ import annotations

import time

import pytest
import yaml
from alert_receivers import SmtpSink
from alerts_fixtures import bare_site  # noqa: F401 - the `site` fixture
from test_alerts import run_alerts, set_status
from test_alerts_per_recipient import city_mail
from test_alerts_round5 import _make_due, write_routing

from pipelines.alerts.config import load_routing
from pipelines.alerts.lifecycle import deliver_due
from pipelines.alerts.store import connect

NATIONAL = "national@test.local"
BUSY = {NATIONAL: "450 4.2.1 mailbox busy, try later"}


def _statuses(recipient: str) -> list[str]:
    with connect() as con:
        return [
            r[0]
            for r in con.execute(
                "SELECT status FROM alerts.messages WHERE recipient = ? ORDER BY created_at, rowid", (recipient,)
            ).fetchall()
        ]


# ------------------------------------------------------------------------ resolved and fired again, not sent
def test_an_alert_that_resolved_and_fired_again_while_its_digest_waited_is_sent_once(site):
    """Zhengzhou fires while the national mailbox is busy: the digest waits for a retry. Before the retry the city
    recovers (the resolution waits for the firing) and falls behind again (a new episode, a new digest). The office
    got both firing digests, one after the other, for one alert. It is now told the latest state once."""
    busy = SmtpSink(refuse=BUSY).start()
    port = busy.port
    try:
        write_routing(site["routing"], port)
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        set_status(site["warehouse"], "410100", "on_track")
        run_alerts(site["warehouse"], "run-2")
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-3")
    finally:
        busy.stop()
    sink = SmtpSink(port).start()
    try:
        _make_due(NATIONAL)
        deliver_due(load_routing())
        heard = [(m["firing"], m["resolved"]) for m in city_mail(sink).get(NATIONAL, [])]
        assert heard == [(["410100"], [])]
        assert _statuses(NATIONAL).count("delivered") == 1 and "pending" not in _statuses(NATIONAL)
        # nothing follows in the next runs: no stale resolution, no third firing
        n = len(sink.messages)
        run_alerts(site["warehouse"], "run-4")
        _make_due(NATIONAL)
        deliver_due(load_routing())
        assert [m for m in city_mail(sink, n).get(NATIONAL, [])] == []
    finally:
        sink.stop()


def test_a_stale_resolution_waiting_for_a_retry_is_not_sent_beside_the_new_firing(site):
    """The office heard Zhengzhou fire; its resolution digest meets a busy mailbox and waits; the city falls behind
    again before the retry. It got "resolved" and then "firing" about a city that never stopped being behind as far
    as its latest state goes. The waiting resolution is replaced: the office hears the new firing once."""
    sink = SmtpSink().start()
    port = sink.port
    write_routing(site["routing"], port)
    set_status(site["warehouse"], "410100", "limited_progress")
    run_alerts(site["warehouse"], "run-1")
    assert [(m["firing"], m["resolved"]) for m in city_mail(sink)[NATIONAL]] == [(["410100"], [])]
    sink.stop()
    busy = SmtpSink(port, refuse=BUSY).start()
    try:
        set_status(site["warehouse"], "410100", "on_track")
        run_alerts(site["warehouse"], "run-2")
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-3")
    finally:
        busy.stop()
    sink = SmtpSink(port).start()
    try:
        _make_due(NATIONAL)
        deliver_due(load_routing())
        heard = [(m["firing"], m["resolved"]) for m in city_mail(sink).get(NATIONAL, [])]
        assert heard == [(["410100"], [])]
    finally:
        sink.stop()


def test_a_waiting_digest_whose_other_alerts_still_hold_is_carried_into_the_new_one(site):
    """Two cities fire while the mailbox is busy; one of them recovers and a third city fires before the retry. The
    office gets one digest: the two cities behind now, not the recovered one, nothing twice."""
    busy = SmtpSink(refuse=BUSY).start()
    port = busy.port
    try:
        write_routing(site["routing"], port)
        set_status(site["warehouse"], "410100", "limited_progress")
        set_status(site["warehouse"], "410700", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        set_status(site["warehouse"], "410700", "on_track")
        set_status(site["warehouse"], "320500", "limited_progress")
        run_alerts(site["warehouse"], "run-2")
    finally:
        busy.stop()
    sink = SmtpSink(port).start()
    try:
        _make_due(NATIONAL)
        deliver_due(load_routing())
        heard = [(sorted(m["firing"]), m["resolved"]) for m in city_mail(sink).get(NATIONAL, [])]
        assert heard == [(["320500", "410100"], [])]
        n = len(sink.messages)
        run_alerts(site["warehouse"], "run-3")
        _make_due(NATIONAL)
        deliver_due(load_routing())
        assert city_mail(sink, n).get(NATIONAL, []) == []  # no bare resolution of 410700, which it never heard
    finally:
        sink.stop()


# ---------------------------------------------------------------------------- the delivery sensor's budget
def test_the_delivery_sensor_stops_at_its_own_budget_and_leaves_the_rest_due(site):
    """Three digests wait for a relay that now takes 1.5 s per message. The delivery sensor had no budget of its own:
    its tick took as long as the relay did (with hundreds of digests, past Dagster's 60 s sensor timeout, a failed
    tick that records nothing of what it sent). It now stops at `delivery.sensor_budget_seconds` (the routing file's,
    one definition): what it delivered is recorded, the rest stays pending and due for the next tick."""
    import dagster as dg

    from pipelines.automation import alert_delivery_sensor

    every = ("ipo-410000@test.local", "ipo-320000@test.local", NATIONAL)
    busy = SmtpSink(refuse=dict.fromkeys(every, "450 4.2.1 mailbox busy")).start()
    port = busy.port
    try:
        write_routing(site["routing"], port)
        for code in ("410100", "320500"):
            set_status(site["warehouse"], code, "limited_progress")
        run_alerts(site["warehouse"], "run-1")
    finally:
        busy.stop()
    cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
    cfg["delivery"]["sensor_budget_seconds"] = 2
    site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    assert load_routing().sensor_budget_seconds == 2
    with connect() as con:
        con.execute("UPDATE alerts.messages SET next_retry_at = NULL WHERE status = 'pending'")
        waiting = con.execute("SELECT count(*) FROM alerts.messages WHERE status = 'pending'").fetchone()[0]
    assert waiting >= 3
    slow = SmtpSink(port, delay=1.5).start()
    try:
        started = time.monotonic()
        alert_delivery_sensor(dg.build_sensor_context())
        took = time.monotonic() - started
        assert took < 2 + 1.5, took  # the budget, and at most the cut attempt's second past it
        with connect() as con:
            left = con.execute(
                "SELECT count(*) FROM alerts.messages WHERE status = 'pending' AND next_retry_at IS NULL"
            ).fetchone()[0]
        assert 1 <= left < waiting  # some delivered, the rest untried and due at once for the next tick
    finally:
        slow.stop()


def test_a_sensor_budget_past_dagster_s_tick_timeout_is_refused_by_name(site):
    write_routing(site["routing"], 25)
    cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
    cfg["delivery"]["sensor_budget_seconds"] = 90
    site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    routing = load_routing(strict=False)
    assert routing.sensor_budget_seconds == 40
    assert any("sensor_budget_seconds" in str(p) for p in routing.problems)


# ------------------------------------------------------------------------ the outbox file says what it is
def _record_sources(wh, synthetic: list[str]) -> None:
    """The warehouse's record of what it loaded (as the publish step stores it in meta.snapshot_info)."""
    import json

    import duckdb

    with duckdb.connect(str(wh)) as con:
        con.execute("create schema if not exists meta")
        con.execute("create table if not exists meta.snapshot_info (key varchar, value varchar)")
        con.execute("delete from meta.snapshot_info where key = 'synthetic_sources'")
        con.execute("insert into meta.snapshot_info values ('synthetic_sources', ?)", [json.dumps(synthetic)])


@pytest.mark.parametrize("synthetic", [True, False])
def test_the_outbox_file_says_whether_its_figures_are_synthetic(site, synthetic):
    """The file channel's .eml is a file a relay or a person takes away; it said nothing of the sample data it was
    drawn from, where every download says so (data_nature). It now carries the provenance header, and the note in
    its text when the loaded sources are synthetic."""
    from email import message_from_bytes, policy

    outbox = site["tmp"] / "outbox"
    cfg = {
        "version": "test",
        "channels": {"out": {"type": "file", "dir": str(outbox)}},
        "routes": [{"name": "national_office", "audience": "city", "recipients": {"out": [NATIONAL]}}],
    }
    site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    _record_sources(site["warehouse"], ["patent_grants", "pledge_loans"] if synthetic else [])
    set_status(site["warehouse"], "410100", "limited_progress")
    run_alerts(site["warehouse"], "run-1")
    (eml,) = outbox.glob("*.eml")
    mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
    text = mail.get_body(preferencelist=("plain",)).get_content()
    html = mail.get_body(preferencelist=("html",)).get_content()
    if synthetic:
        assert mail["X-Ipcity-Data-Provenance"] == "合成示例 / Synthetic sample"
        assert text.startswith("合成示例数据：") and "Synthetic sample data: " in text.split("\n")[0]
        assert "合成示例数据" in html
    else:
        assert mail["X-Ipcity-Data-Provenance"] == "真实 / Real"
        assert "合成" not in text and "Synthetic" not in text


# ------------------------------------------------------------------------------ delivery as it really fails
def _digest(recipient: str) -> dict:
    return {
        "idempotency_key": "k" * 32,
        "route": "national_office",
        "recipient": recipient,
        "subject": "【知识产权强市监测】新预警 1 条、解除 0 条" + "（其中变差 1 条）" * 20,
        "body": "郑州市：关键目标进展有限",
        "html": None,
        "payload": {},
    }


def test_an_idn_domain_reaches_a_relay_without_smtputf8_and_a_chinese_mailbox_is_refused_by_name():
    """office@例子.中国 on a relay without SMTPUTF8 (many office relays): smtplib demanded SMTPUTF8 for the domain
    alone and the digest was retried thirty times. The domain now goes in its IDNA form (xn--), which needs nothing;
    a mailbox name in Chinese (中文@例子.中国) cannot reach such a relay, and is refused for good at once, saying so."""
    from pipelines.alerts import channels

    sink = SmtpSink(smtputf8=False).start()
    try:
        ch = {"type": "smtp", "host": "127.0.0.1", "port": sink.port, "sender": "m@test.local", "timeout": 5}
        ok, response = channels.send(_digest("国家知识产权局 <office@例子.中国>"), ch)
        assert ok, response
        assert sink.envelopes[-1]["to"] == ["office@xn--fsqu00a.xn--fiqs8s"]
        assert "SMTPUTF8" not in sink.envelopes[-1]["options"]
        ok, response = channels.send(_digest("中文@例子.中国"), ch)
        assert not ok and response.startswith(channels.PERMANENT) and "SMTPUTF8" in response
        assert channels.refused_by_receiver(response)  # the channel itself is up: the others due on it are tried
    finally:
        sink.stop()
    utf8 = SmtpSink().start()
    try:
        ch = {"type": "smtp", "host": "127.0.0.1", "port": utf8.port, "sender": "m@test.local", "timeout": 5}
        ok, response = channels.send(_digest("中文@例子.中国"), ch)
        assert ok and utf8.envelopes[-1]["to"] == ["中文@例子.中国"], response
    finally:
        utf8.stop()


def test_a_line_break_in_an_address_is_refused_for_good_by_name_not_retried():
    """A recipient built from a province name or a routing entry that carries CR/LF: the email package refuses the
    header (no injection), but the digest was retried thirty times with a bare ValueError. It is refused for good
    at once, naming the address."""
    from pipelines.alerts import channels

    sink = SmtpSink().start()
    try:
        ch = {"type": "smtp", "host": "127.0.0.1", "port": sink.port, "sender": "m@test.local", "timeout": 5}
        ok, response = channels.send(_digest("ipo@test.local\r\nBcc: everyone@test.local"), ch)
        assert not ok and response.startswith(channels.PERMANENT) and "line break" in response
        assert sink.envelopes == []
    finally:
        sink.stop()


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
    ],
)
def test_a_webhook_pointed_at_a_cloud_metadata_address_is_never_sent(url):
    """The routing file is edited by operators: a webhook (or robot endpoint) pointed at the instance-metadata
    service got the digest and any secret header, retried for a day. It is refused before any connection."""
    from pipelines.alerts import channels

    ok, response = channels.send(_digest("hook"), {"type": "webhook", "url": url, "timeout": 1, "session_timeout": 2})
    assert not ok and response.startswith(channels.PERMANENT + "not sent:") and "metadata" in response
    robot = {"type": "wecom", "key": "k" * 20, "endpoint": url, "timeout": 1, "session_timeout": 2}
    ok, response = channels.send(_digest("group"), robot)
    assert not ok and "metadata" in response


def test_a_webhook_answering_429_with_retry_after_is_not_asked_again_sooner(site):
    """A gateway answers HTTP 429 with Retry-After: 120. The digest was tried again after the backoff's 2 s, twice
    in the same call, and again at each tick: more load on a receiver that asked for quiet, and more 429s. The next
    attempt now waits the time the receiver asked for, and the ledger says so."""
    import json
    import threading
    from datetime import UTC, datetime
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hits.append(time.monotonic())
            body = json.dumps({"errcode": 45009, "errmsg": "api freq out of limit"}).encode()
            self.send_response(429)
            self.send_header("Retry-After", "120")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cfg = {
            "version": "test",
            "channels": {
                "hook": {"type": "webhook", "url": f"http://127.0.0.1:{server.server_port}/alerts", "timeout": 5}
            },
            "routes": [{"name": "national_office", "audience": "city", "recipients": {"hook": ["national"]}}],
            "delivery": {"immediate_attempts": 3, "backoff_seconds": [1], "max_attempts": 50},
        }
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        assert len(hits) == 1
        with connect() as con:
            next_retry, response = con.execute(
                "SELECT next_retry_at, last_response FROM alerts.messages WHERE recipient = 'national'"
            ).fetchone()
        wait = (
            datetime.strptime(next_retry, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) - datetime.now(UTC)
        ).total_seconds()
        assert wait > 100, (next_retry, response)
        assert "retry after 120" in response and "429" in response
        deliver_due(load_routing())  # the sensor's tick before then: not due
        assert len(hits) == 1
    finally:
        server.shutdown()
        server.server_close()


def test_a_relay_that_drops_the_session_before_answering_data_gets_the_same_message_id_again(site):
    """The relay takes the mail's data and drops the connection before its answer: was it delivered? Not knowable
    here. The choice is at-least-once: the digest is retried under the same idempotency key (Message-ID and
    X-Idempotency-Key), so a receiver that did keep the first copy drops the repeat; nothing is lost. Such a digest
    is never replaced by a newer one (which a receiver could not recognise as a repeat), even when its alert resolves
    and fires again before the retry."""
    import email
    from email import policy

    from aiosmtpd.controller import Controller
    from alert_receivers import free_port

    got = []

    class Dropper:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            got.append(email.message_from_bytes(envelope.content, policy=policy.default))
            server.transport.close()  # before the 250: the sender cannot tell whether it arrived
            return "250 OK"

    port = free_port()
    dropper = Controller(Dropper(), hostname="127.0.0.1", port=port)
    dropper.start()
    try:
        write_routing(site["routing"], port)
        set_status(site["warehouse"], "410100", "limited_progress")
        out = run_alerts(site["warehouse"], "run-1")
        assert {m["recipient"]: m["status"] for m in out["messages"]}[NATIONAL] == "retry"
        set_status(site["warehouse"], "410100", "on_track")
        run_alerts(site["warehouse"], "run-2")
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-3")
    finally:
        dropper.stop()
    sink = SmtpSink(port).start()
    try:
        _make_due(NATIONAL)
        deliver_due(load_routing())
        first = [m["Message-ID"] for m in got if NATIONAL in m["To"]]
        again = [m["Message-ID"] for m in sink.to(NATIONAL)]
        assert first and set(first) <= set(again)  # each unconfirmed digest again, under its own key
        assert "superseded" not in _statuses(NATIONAL)
    finally:
        sink.stop()


def test_a_long_chinese_subject_is_folded_without_losing_a_space():
    """A digest's subject with many counts (both languages) is longer than a header line: folded into RFC 2047
    encoded words, it lost the space before a Chinese word that began a new encoded word ("新预警 12 条" read
    "新预警 12条"). Folded now so that every reader decodes it as it was written, in lines of at most 78."""
    from email import message_from_bytes, policy

    sink = SmtpSink().start()
    try:
        from pipelines.alerts import channels

        msg = _digest(NATIONAL)
        subject = (
            "【知识产权强市监测】新预警 12 条、解除 3 条（其中变差 5 条、变好 2 条）" * 3
            + " · IP strong-city monitor: 12 firing"
        )
        ch = {"type": "smtp", "host": "127.0.0.1", "port": sink.port, "sender": "m@test.local", "timeout": 5}
        ok, response = channels.send({**msg, "subject": subject}, ch)
        assert ok, response
        raw = sink.envelopes[-1]["raw"]
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert max(len(line) for line in head.split(b"\r\n")) <= 78
        assert message_from_bytes(raw, policy=policy.default)["Subject"] == subject
        # a line break in a subject (none of ours has one) is a space, never a header of its own
        ok, response = channels.send({**msg, "subject": subject + "\r\nBcc: x@test.local"}, ch)
        got = message_from_bytes(sink.envelopes[-1]["raw"], policy=policy.default)
        assert ok and got["Subject"] == subject + " Bcc: x@test.local" and got["Bcc"] is None, response
    finally:
        sink.stop()


def test_a_superseded_digest_reads_in_both_languages_in_the_ledger():
    from pipelines.cli import _delivery_status

    assert _delivery_status("superseded") == "已由新摘要取代（未发送） / Superseded by a newer digest (not sent)"
