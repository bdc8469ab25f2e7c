"""Alerts that reach people, round 11: a silence that ends is told within the delivery sensor's minute, an alert
that fires again says so (since when, how many times, when it last cleared), an HTTP receiver's 4xx is a refusal
for good and its 5xx / 429 a retry, and mail asks a DSN-capable relay for delivery status notifications whose
ENVID (the ledger's delivery id) finds the digest again in the bounce Maildir.

Real receivers only: aiosmtpd (with the DSN extension's parameters taken, see alert_receivers.SmtpSink) and an HTTP
receiver on 127.0.0.1, a real Maildir, a real DuckDB warehouse and SQLite store, the sensor evaluated by Dagster.
"""

from __future__ import annotations

import mailbox
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest
import yaml
from alert_receivers import HttpSink, SmtpSink
from alerts_fixtures import (  # noqa: F401 - the `site` fixture
    bare_site,
    en_part,
    with_bounce_maildir,
    write_routing,
    zh_part,
)
from test_alerts import run_alerts, set_status

from pipelines.alerts.answers import answer_zh, known
from pipelines.alerts.config import load_routing
from pipelines.alerts.lifecycle import deliver_due
from pipelines.alerts.store import connect, expire_silence, silence
from pipelines.china_time import china_time_text

OFFICE, NATIONAL = "ipo-410000@test.local", "national@test.local"


@pytest.fixture
def relay(site):
    sink = SmtpSink().start()
    write_routing(site["routing"], sink.port)
    yield sink
    sink.stop()


def _tick() -> None:
    """One evaluation of the minute-by-minute delivery sensor, as Dagster runs it."""
    from pipelines.automation import alert_delivery_sensor

    alert_delivery_sensor(dg.build_sensor_context())


# ------------------------------------------------------------------------------------- a silence that ends
def test_a_silence_that_ends_is_told_by_the_next_delivery_tick_not_the_next_run(site, relay):
    """A silence held Zhengzhou's alert back. Once it ended, the held alert went out only at the next pipeline run
    (or the hourly freshness sensor): a recipient waited up to an hour, or a day. The delivery sensor's minute tick
    now plans what a silence held (the first firing, the re-told one, a resolution that waited) and sends it."""
    wh = site["warehouse"]
    sid = silence(by="tester", duration=timedelta(hours=1), unit_code="410100")
    set_status(wh, "410100", "limited_progress")
    run_alerts(wh, "run-1")
    _tick()
    assert relay.messages == []  # silenced: nothing, also from the sensor

    expire_silence(sid)
    _tick()  # no run in between
    assert sorted(m["X-Envelope-To"] for m in relay.messages) == [OFFICE, NATIONAL]
    assert all("郑州市" in zh_part(m) for m in relay.messages)
    _tick()
    assert len(relay.messages) == 2  # told once

    # heard, silenced while still firing, the silence ends: re-told by the tick
    sid = silence(by="tester", duration=timedelta(hours=1), unit_code="410100")
    run_alerts(wh, "run-2")
    expire_silence(sid)
    _tick()
    assert len(relay.messages) == 4

    # it resolves during a silence: the resolution waits for the silence's end, then the tick tells it
    sid = silence(by="tester", duration=timedelta(hours=1), unit_code="410100")
    set_status(wh, "410100", "on_track")
    run_alerts(wh, "run-3")
    _tick()
    assert len(relay.messages) == 4
    expire_silence(sid)
    _tick()
    assert len(relay.messages) == 6
    assert all("解除1条" in m["Subject"] for m in relay.messages[4:])
    _tick()
    assert len(relay.messages) == 6


# --------------------------------------------------------------------------------------- it fired again
def _alert_row(unit: str) -> dict:
    with connect() as con:
        return dict(
            con.execute(
                "SELECT * FROM alerts.alerts WHERE unit_code = ? AND rule_id = 'target_behind'", (unit,)
            ).fetchone()
        )


def test_an_alert_that_fires_again_says_again_since_when_and_how_many_times(site, relay):
    """Zhengzhou fell behind, recovered, and fell behind again: the third digest read "新预警 / Firing" like the
    first, and a recipient could not tell a city that keeps slipping back from a new one. It now says it fired again,
    how many times, since when and when it last cleared (Beijing time), in the subject's count, both languages, the
    HTML part and the webhook payload; a first firing says nothing of the kind."""
    wh = site["warehouse"]
    set_status(wh, "410100", "limited_progress")
    run_alerts(wh, "run-1")
    first = relay.to(OFFICE)[-1]
    assert "再次预警" not in str(first["Subject"]) and "再次预警" not in zh_part(first)
    assert "fired again" not in en_part(first)

    set_status(wh, "410100", "on_track")
    run_alerts(wh, "run-2")
    cleared = _alert_row("410100")["resolved_at"]
    set_status(wh, "410100", "limited_progress")
    run_alerts(wh, "run-3")
    again = relay.to(OFFICE)[-1]
    row = _alert_row("410100")
    since_zh, since_en = china_time_text(row["first_fired_at"], "zh"), china_time_text(row["first_fired_at"], "en")
    cleared_zh, cleared_en = china_time_text(cleared, "zh"), china_time_text(cleared, "en")
    assert "（其中再次预警1条）" in str(again["Subject"]) and "(1 fired again)" in str(again["Subject"])
    assert f"【再次预警：自 {since_zh} 首次预警以来第2次；上次解除于 {cleared_zh}】" in zh_part(again)
    assert f"[fired again: 2 times since first fired {since_en}; last cleared {cleared_en}]" in en_part(again)
    html = again.get_body(preferencelist=("html",)).get_content()
    assert "再次预警" in html and "北京时间" in html
    with connect() as con:
        payload = con.execute(
            # the third run's digest by its run (created_at has whole seconds: three quick runs can share one)
            "SELECT payload_json FROM alerts.messages WHERE recipient = ? AND run_id = 'run-3'",
            (OFFICE,),
        ).fetchone()[0]
    assert '"repeat": {"times": 2' in payload

    set_status(wh, "410100", "on_track")
    run_alerts(wh, "run-4")
    set_status(wh, "410100", "limited_progress")
    run_alerts(wh, "run-5")
    assert "以来第3次" in zh_part(relay.to(OFFICE)[-1])
    assert "3 times since first fired" in en_part(relay.to(OFFICE)[-1])


def test_a_summary_digest_names_a_repeat_rather_than_count_it(site, relay):
    """A `detail: summary` route counted a city's alerts by rule: the repeat must still be named there."""
    cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
    cfg["routes"][1]["detail"] = "summary"
    site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    wh = site["warehouse"]
    for status in ("limited_progress", "on_track", "limited_progress"):
        set_status(wh, "410100", status)
        run_alerts(wh, f"run-{status}-{len(relay.messages)}")
    last = relay.to(NATIONAL)[-1]
    assert "再次预警：自" in zh_part(last) and "fired again: 2 times" in en_part(last)


# -------------------------------------------------------------------------- a webhook's HTTP answers
def _hook_routing(path, port: int) -> None:
    cfg = {
        "version": "test",
        "channels": {"hook": {"type": "webhook", "url": f"http://127.0.0.1:{port}/alerts", "timeout": 3}},
        "routes": [{"name": "national_office", "audience": "city", "recipients": {"hook": ["national-ops"]}}],
        "delivery": {"immediate_attempts": 2, "backoff_seconds": [0.2], "max_attempts": 50},
    }
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


def _ledger() -> list[tuple]:
    with connect() as con:
        return [
            tuple(r)
            for r in con.execute(
                "SELECT m.status, m.attempts, m.next_retry_at, d.response FROM alerts.messages AS m "
                "JOIN alerts.deliveries AS d ON d.idempotency_key = m.idempotency_key ORDER BY d.attempt"
            ).fetchall()
        ]


# 401/403 refuse the channel's credentials: the channel waits, its digests are not parked (round 12)
@pytest.mark.parametrize("status", [400, 404, 405, 409, 410, 413, 415, 418, 422])
def test_a_webhook_4xx_is_parked_at_once_with_why_in_both_languages(site, status):
    """HTTP 413 (the digest is larger than the receiver takes) and the other 4xx were retried like a receiver that
    was down, fifty times over, and nobody was told: sent unchanged, a 4xx gets the same answer. The digest is now
    parked at the first answer (one attempt), the ledger saying why (the Chinese from the answers table) and how it
    is requeued once mended."""
    receiver = HttpSink(status=status).start()
    try:
        _hook_routing(site["routing"], receiver.port)
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
    finally:
        receiver.stop()
    assert len(receiver.requests) == 1  # not retried within the call either
    ((state, attempts, next_retry, response),) = _ledger()
    assert (state, attempts, next_retry) == ("failed", 1, None), response
    assert response.startswith("permanent refusal: "), response
    assert f"HTTP {status}" in response and "--retry-failed" in response
    zh = answer_zh(response)
    assert known(response) and "永久拒收" in zh and f"HTTP {status}" in zh and "重新排队" in zh, zh


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_a_webhook_5xx_429_and_408_are_retried(site, status):
    """What may pass later is retried (with the backoff between), never parked."""
    receiver = HttpSink(status=status).start()
    try:
        _hook_routing(site["routing"], receiver.port)
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
    finally:
        receiver.stop()
    rows = _ledger()
    assert [r[0] for r in rows][-1:] == ["pending"] and len(receiver.requests) == 2, rows
    assert not any(r[3].startswith("permanent") for r in rows), rows


def test_a_webhook_429_retry_after_is_honoured(site):
    """A receiver that asks to be left alone (429 with Retry-After) is not asked again sooner."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(429)
            self.send_header("Retry-After", "900")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _hook_routing(site["routing"], server.server_address[1])
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
    finally:
        server.shutdown()
        server.server_close()
    ((state, attempts, next_retry, response),) = _ledger()
    assert state == "pending" and attempts == 1 and response.startswith("rate limited: retry after 900 s"), response
    with connect() as con:
        wait = con.execute(
            "SELECT (julianday(next_retry_at) - julianday(attempted_at)) * 86400 FROM alerts.deliveries"
        ).fetchone()[0]
    assert wait >= 899


# ------------------------------------------------------------------------------------------------- DSN
def _dsn(envid: str | None, recipient: str, returned_headers: str) -> bytes:
    """A DSN as a mail server sends it to the envelope sender, carrying the ENVID it was given (RFC 3464
    Original-Envelope-Id) and the headers it returns (RET=HDRS)."""
    envelope = f"Original-Envelope-Id: {envid}\n" if envid else ""
    return (
        "From: MAILER-DAEMON@mail.henan.test (Mail Delivery System)\nTo: m@test.local\n"
        "Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B0UND"\n\n'
        "--B0UND\nContent-Type: text/plain; charset=us-ascii\n\nYour message could not be delivered.\n\n"
        "--B0UND\nContent-Type: message/delivery-status\n\n"
        f"{envelope}Reporting-MTA: dns; mail.henan.test\n\n"
        f"Final-Recipient: rfc822; {recipient}\nAction: failed\nStatus: 5.1.1\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: User unknown\n\n"
        f"--B0UND\nContent-Type: text/rfc822-headers\n\n{returned_headers}\n\n--B0UND--\n"
    ).encode()


def _with_bounces(site) -> mailbox.Maildir:
    return with_bounce_maildir(site["routing"], site["tmp"] / "Maildir")


def test_mail_asks_a_dsn_relay_for_failure_and_delay_reports_and_a_dsn_is_matched_by_its_envid(site):
    """Mail asked for no delivery status notification: a relay advertising DSN sent none, or its default, and a
    bounce was matched only by the returned headers, which a server on the way may rewrite (a new Message-ID, the
    X- headers stripped). Now MAIL FROM carries ENVID = the ledger's delivery id and RET=HDRS, each RCPT TO
    NOTIFY=FAILURE,DELAY; the bounce is matched by its Original-Envelope-Id first."""
    relay = SmtpSink(dsn=True).start()
    try:
        write_routing(site["routing"], relay.port)
        box = _with_bounces(site)
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        (sent,) = relay.to(OFFICE)
        (envelope,) = [e for e in relay.envelopes if e["to"] == [OFFICE]]
        key = sent["X-Idempotency-Key"]
        assert envelope["dsn_mail"] == {"ENVID": f"{key}.1", "RET": "HDRS"}
        assert envelope["dsn_rcpt"] == [{"NOTIFY": "FAILURE,DELAY"}]
        with connect() as con:  # the ENVID names the ledger's row of that attempt
            assert (
                con.execute(
                    "SELECT status FROM alerts.deliveries WHERE idempotency_key = ? AND attempt = 1", (key,)
                ).fetchone()[0]
                == "delivered"
            )

        # a server on the way rewrote the Message-ID and dropped our X- headers: only the ENVID says whose it is
        box.add(_dsn(f"{key}.1", OFFICE, "Message-ID: <rewritten.1234@mx.henan.test>\nSubject: =?utf-8?b?5oql?="))
        _tick()
        with connect() as con:
            status, response = con.execute(
                "SELECT status, last_response FROM alerts.messages WHERE idempotency_key = ?", (key,)
            ).fetchone()
        assert status == "failed" and "bounced: ipo-410000@test.local 5.1.1" in response, response
    finally:
        relay.stop()


def test_a_relay_without_dsn_is_asked_nothing_and_a_dsn_without_envid_is_matched_as_before(site, relay):
    """A relay that does not advertise DSN refuses its parameters (555): it is asked none, and the mail goes. A
    bounce without an ENVID of ours is matched by the returned headers, as before."""
    box = _with_bounces(site)
    set_status(site["warehouse"], "410100", "limited_progress")
    run_alerts(site["warehouse"], "run-1")
    (sent,) = relay.to(OFFICE)
    (envelope,) = [e for e in relay.envelopes if e["to"] == [OFFICE]]
    assert envelope["dsn_mail"] == {} and envelope["dsn_rcpt"] == []
    headers = sent.as_string().split("\n\n", 1)[0]
    box.add(_dsn("not-ours-42", OFFICE, headers))
    _tick()
    with connect() as con:
        status = con.execute(
            "SELECT status FROM alerts.messages WHERE idempotency_key = ?", (sent["X-Idempotency-Key"],)
        ).fetchone()[0]
    assert status == "failed"


def test_an_envid_in_xtext_is_read_back():
    from pipelines.alerts.bounces import envelope_key

    key = "0123456789abcdef" * 2
    assert envelope_key(f"{key}.3") == key and envelope_key(key) == key
    assert envelope_key(f"{key}+2E3") == key  # "." written as xtext
    assert envelope_key("somebody-else") is None and envelope_key(f"{key}.x") is None


def test_deliver_due_alone_sends_what_an_ended_silence_held(site, relay):
    """`ipcity alerts deliver` (deliver_due) releases an ended silence as the sensor does."""
    sid = silence(by="tester", duration=timedelta(hours=1), unit_code="410100")
    set_status(site["warehouse"], "410100", "limited_progress")
    run_alerts(site["warehouse"], "run-1")
    expire_silence(sid)
    deliver_due(load_routing())
    assert len(relay.messages) == 2
    assert re.search(r"新预警1条", str(relay.messages[0]["Subject"]))


# ------------------------------------------------------------------------------------- as a recipient reads it
def test_a_digest_is_dated_in_beijing_time_and_says_how_to_stop_receiving_and_that_links_ask_a_sign_in(site, relay):
    """Read in an inbox: the Date header was UTC written as "-0000" (RFC 5322: zone unknown), so a client showing it
    as written (or a reader of the headers) saw 18:56 for 02:56 in Beijing; and nothing said how to stop receiving
    the digests, nor that the linked pages ask for a sign-in, and every subject read "新预警 1 条、解除 0 条" alike. Now
    the Date is +0800, the subject names the city, and the closing lines say both (in both languages, plain text and
    HTML)."""
    from email.utils import parsedate_to_datetime

    cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
    cfg["dashboard_url"] = "https://monitor.example.cn/alerts"
    site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    for code in ("410100", "320500"):  # two provinces at once
        set_status(site["warehouse"], code, "limited_progress")
    run_alerts(site["warehouse"], "run-1")
    (henan,) = relay.to(OFFICE)
    assert str(henan["Date"]).endswith("+0800") and parsedate_to_datetime(str(henan["Date"])).utcoffset() == timedelta(
        hours=8
    )
    zh, en = zh_part(henan), en_part(henan)
    # the subject names the city (an inbox of digests read alike), the province office's own only
    assert str(henan["Subject"]).endswith(
        "新预警1条、解除0条：郑州市 · IP strong-city monitor: 1 firing, 0 resolved: Zhengzhou (410100)"
    )
    assert "苏州市" not in zh and "Suzhou" not in en  # a province office hears its own cities only
    assert "不再接收或更改收件地址：请联系监测平台运维人员修改预警路由文件" in zh
    assert "To stop receiving these messages or change the address" in en
    assert "链接须登录监测平台后打开" in zh and "after signing in to the dashboard" in en
    assert "https://monitor.example.cn/profile?unit=410100&lang=zh" in zh
    html = henan.get_body(preferencelist=("html",)).get_content()
    assert "修改预警路由文件" in html and "signing in" in html


def test_a_relay_down_for_the_whole_run_loses_nothing_and_the_ledger_says_why_in_chinese(site):
    """The relay is down for the whole run: every digest waits for a retry (nothing lost, nothing parked), the
    ledger's answer ("ConnectionRefusedError: [Errno 111] Connection refused") was shown to a Chinese reader in
    English alone; it now reads 连接被拒绝 beside the record. When the relay is back, the delivery sensor's tick sends
    each digest once."""
    from alert_receivers import free_port
    from click.testing import CliRunner
    from test_alerts_round5 import _make_due

    from pipelines.cli import main

    port = free_port()
    write_routing(site["routing"], port)  # nobody listens
    for code in ("410100", "410700", "320500"):  # a correction: several cities at once
        set_status(site["warehouse"], code, "limited_progress")
    out = run_alerts(site["warehouse"], "run-1")
    assert {m["status"] for m in out["messages"]} == {"retry"} and len(out["messages"]) == 3  # a digest each
    ledger = CliRunner().invoke(main, ["alerts", "list", "--deliveries"], env={"COLUMNS": "250"})
    assert "连接被拒绝" in ledger.output and "ConnectionRefusedError" in ledger.output, ledger.output

    relay = SmtpSink(port).start()
    try:
        for recipient in (OFFICE, NATIONAL, "ipo-320000@test.local"):
            _make_due(recipient)
        _tick()
        _tick()
        assert sorted(m["X-Envelope-To"] for m in relay.messages) == sorted([OFFICE, NATIONAL, "ipo-320000@test.local"])
        (national,) = relay.to(NATIONAL)
        subject = str(national["Subject"])  # the storm is one digest, not one mail per city, and names them
        assert "新预警3条、解除0条：新乡市、苏州市等3个地区" in subject
        assert "3 firing, 0 resolved: Suzhou (320500), Xinxiang (410700) and 1 more" in subject
    finally:
        relay.stop()
