"""A digest the relay accepted and a mail server further on bounced: the delivery status notification (DSN, RFC
3464) that comes back to the sender's mailbox is read, the digest parked as failed in the ledger, and the engineers
told, in both languages.

Real parts: aiosmtpd as the relay, a real Maildir folder (the sender's mailbox as the office's mail server delivers
it), a real DuckDB warehouse and SQLite store, the delivery sensor evaluated by Dagster. The DSN is written as
Postfix writes one (aiosmtpd accepts and never bounces).
"""

from __future__ import annotations

import dagster as dg
import pytest
import yaml
from alert_receivers import SmtpSink
from alerts_fixtures import bounce_site  # noqa: F401 - the `site` fixture
from test_alerts import run_alerts, set_status

from pipelines.alerts.store import connect

OFFICE = "ipo-410000@test.local"


def postfix_dsn(original, recipient: str, *, action: str = "failed") -> bytes:
    """A bounce as Postfix sends it to the envelope sender: a human part, the delivery status, the headers."""
    headers = original.as_string().split("\n\n", 1)[0]
    return (
        "From: MAILER-DAEMON@mail.henan.test (Mail Delivery System)\n"
        "To: m@test.local\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B0UND"\n\n'
        "--B0UND\nContent-Type: text/plain; charset=us-ascii\n\n"
        "This is the mail system at host mail.henan.test.\n\nI'm sorry to have to inform you that your message could "
        "not be delivered to one or more recipients.\n\n"
        "--B0UND\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mail.henan.test\nArrival-Date: Sat,  5 Dec 2026 14:20:00 +0800 (CST)\n\n"
        f"Final-Recipient: rfc822; {recipient}\nOriginal-Recipient: rfc822;{recipient}\nAction: {action}\n"
        "Status: 5.1.1\nRemote-MTA: dns; mx.henan.test\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address\n"
        "    rejected: User unknown in local recipient table\n\n"
        f"--B0UND\nContent-Type: text/rfc822-headers\n\n{headers}\n\n--B0UND--\n"
    ).encode()


def _message(recipient: str):
    with connect() as con:
        return con.execute(
            "SELECT status, last_response FROM alerts.messages WHERE recipient = ? ORDER BY created_at DESC LIMIT 1",
            (recipient,),
        ).fetchone()


def test_a_bounce_after_the_relay_accepted_is_parked_and_told_to_the_engineers(site):
    """The relay answered 250 and the ledger said delivered for good; Henan's mail server then bounced the digest
    (no such mailbox) to the sender's mailbox, which nobody read: the province heard nothing, the operator saw a
    green row. The delivery sensor's tick now reads the DSN, parks the digest with the remote server's answer, and
    the engineers hear of it at once, in Chinese and English; a DSN is read once."""
    from click.testing import CliRunner

    from pipelines.automation import alert_delivery_sensor
    from pipelines.cli import main

    sink, box = site["sink"], site["box"]
    set_status(site["warehouse"], "410100", "limited_progress")
    run_alerts(site["warehouse"], "run-1")
    (sent,) = sink.to(OFFICE)
    assert _message(OFFICE)[0] == "delivered"
    box.add(b"From: someone@test.local\nSubject: not a bounce\n\nhello\n")  # other mail in the box is left alone
    box.add(postfix_dsn(sent, OFFICE))

    n = len(sink.messages)
    alert_delivery_sensor(dg.build_sensor_context())
    status, response = _message(OFFICE)
    assert status == "failed", response
    assert response.startswith("permanent refusal: bounced: ipo-410000@test.local 5.1.1 smtp; 550 5.1.1"), response
    (de,) = [m for m in sink.messages[n:] if "de@test.local" in m["X-Envelope-To"]]
    zh, en = SmtpSink.text(de).split("\nTo ", 1)
    assert f"预警未送达：{OFFICE}" in zh and "被收件服务器退信" in zh and "User unknown" in zh
    assert "bounced: ipo-410000@test.local 5.1.1" in en

    n = len(sink.messages)
    alert_delivery_sensor(dg.build_sensor_context())
    assert len(sink.messages) == n  # read once
    flags = {m["Subject"]: m.get_flags() for m in box}
    assert flags["not a bounce"] == ""

    ledger = CliRunner().invoke(main, ["alerts", "list", "--deliveries"], env={"COLUMNS": "250"})
    assert "被收件服务器退信" in ledger.output and "bounced:" in ledger.output, ledger.output


def test_a_delay_notice_does_not_park_a_digest(site):
    """A DSN with Action: delayed (the server still tries) is no refusal: the digest stays delivered."""
    from pipelines.automation import alert_delivery_sensor

    set_status(site["warehouse"], "410100", "limited_progress")
    run_alerts(site["warehouse"], "run-1")
    (sent,) = site["sink"].to(OFFICE)
    site["box"].add(postfix_dsn(sent, OFFICE, action="delayed"))
    alert_delivery_sensor(dg.build_sensor_context())
    assert _message(OFFICE)[0] == "delivered"


def test_a_bounce_is_read_by_the_next_run_too(site):
    """Without the sensor (a deployment running `ipcity run` alone), the next run reads the bounce and names it."""
    sink = site["sink"]
    set_status(site["warehouse"], "410100", "limited_progress")
    run_alerts(site["warehouse"], "run-1")
    (sent,) = sink.to(OFFICE)
    site["box"].add(postfix_dsn(sent, OFFICE))
    n = len(sink.messages)
    run_alerts(site["warehouse"], "run-2")
    assert _message(OFFICE)[0] == "failed"
    assert any(f"预警未送达：{OFFICE}" in SmtpSink.text(m) for m in sink.to("de@test.local")[-1:]), [
        m["Subject"] for m in sink.messages[n:]
    ]


def test_bounce_maildir_is_an_smtp_setting_named_when_misplaced(site):
    from pipelines.alerts.config import AlertConfigError, load_routing

    cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
    cfg["channels"]["hook"] = {"type": "webhook", "url": "https://ops.example.gov.cn/a", "bounce_maildir": "/x"}
    site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    with pytest.raises(AlertConfigError, match="channel hook.*bounce_maildir"):
        load_routing()


# ------------------------------------------------------------------------------ round 15: bounces in plain text
def qmail_bounce(original, recipient: str) -> bytes:
    """A bounce as qmail writes it: plain text, no delivery-status part, the original's headers quoted after it."""
    headers = original.as_string().split("\n\n", 1)[0]
    return (
        "Return-Path: <>\nFrom: MAILER-DAEMON@mx.henan.test\nTo: m@test.local\nSubject: failure notice\n\n"
        "Hi. This is the qmail-send program at mx.henan.test.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        f"<{recipient}>:\n550 5.1.1 mailbox unavailable: user unknown\n\n"
        f"--- Below this line is a copy of the message.\n\n{headers}\n\n(body)\n"
    ).encode()


def coremail_bounce(original, subject: str, said: str) -> bytes:
    """A bounce as a Chinese office's server (Coremail) writes one: GBK text/plain, the original attached."""
    from email.message import Message
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    out = MIMEMultipart("mixed")
    out["From"] = "postmaster@henan.test"
    out["To"] = "m@test.local"
    out["Subject"] = str(email_header(subject))
    out.attach(MIMEText(said, "plain", "gbk"))
    attached = Message()
    attached.set_type("message/rfc822")
    attached.set_payload([original])
    out.attach(attached)
    return out.as_bytes()


def email_header(text: str):
    from email.header import Header

    return Header(text, "gbk").encode()


@pytest.mark.parametrize("kind", ["qmail", "coremail"])
def test_a_bounce_written_as_plain_text_is_parked_too(site, kind):
    """qmail, Exchange's older servers and the Coremail servers many offices run send a bounce as plain text, not
    as a delivery status notification (RFC 3464): it was ignored, and the ledger said "delivered" for a province
    whose mailbox was gone. Such a bounce is now read for the digest's key in the headers it quotes and the
    server's answer, parked as a DSN's is, and the engineers told."""
    from pipelines.automation import alert_delivery_sensor

    sink, box = site["sink"], site["box"]
    set_status(site["warehouse"], "410100", "limited_progress")
    run_alerts(site["warehouse"], "run-1")
    (sent,) = sink.to(OFFICE)
    if kind == "qmail":
        box.add(qmail_bounce(sent, OFFICE))
    else:
        box.add(
            coremail_bounce(
                sent, "系统退信", f"很抱歉，您的邮件未能送达 {OFFICE}。\n退信原因：550 5.1.1 收件人地址不存在\n"
            )
        )
    n = len(sink.messages)
    alert_delivery_sensor(dg.build_sensor_context())
    status, response = _message(OFFICE)
    assert status == "failed", response
    assert response.startswith(f"permanent refusal: bounced: {OFFICE} 5.1.1"), response
    assert ("user unknown" if kind == "qmail" else "收件人地址不存在") in response
    assert any(
        f"预警未送达：{OFFICE}" in SmtpSink.text(m) for m in sink.messages[n:] if "de@test.local" in m["X-Envelope-To"]
    )


@pytest.mark.parametrize(
    "subject, said",
    [
        (
            "自动回复：知识产权强市监测",
            "您好，我正在休假，12月10日返回。",
        ),  # an out-of-office answer, from the null sender
        ("Delivery Status Notification (Delay)", "Delivery is delayed; the server will keep trying. 4.4.7"),
    ],
)
def test_an_auto_reply_or_a_delay_in_plain_text_leaves_the_digest_delivered(site, subject, said):
    """An out-of-office answer (its subject says so) or a delay notice (the server still tries) quotes the digest
    too: neither is a refusal, and the digest stays delivered."""
    from pipelines.automation import alert_delivery_sensor

    set_status(site["warehouse"], "410100", "limited_progress")
    run_alerts(site["warehouse"], "run-1")
    (sent,) = site["sink"].to(OFFICE)
    site["box"].add(coremail_bounce(sent, subject, said))
    alert_delivery_sensor(dg.build_sensor_context())
    assert _message(OFFICE)[0] == "delivered"


def test_a_mail_with_a_mangled_header_in_the_bounce_folder_is_left_alone_and_stops_nothing(site):
    """A subject in a charset Python lacks (or GBK bytes it cannot read) raised in the bounce reader, which every run
    calls first: the run's alert step failed on one odd mail. It is now read for what it says, or left alone."""
    from pipelines.automation import alert_delivery_sensor

    set_status(site["warehouse"], "410100", "limited_progress")
    run_alerts(site["warehouse"], "run-1")
    (sent,) = site["sink"].to(OFFICE)
    headers = sent.as_string().split("\n\n", 1)[0]
    site["box"].add(
        f"From: MAILER-DAEMON@mx.henan.test\nSubject: =?x-unknown-cs?b?vPLM5dbQzsQ=?= =?gbk?b?/////w==?=\n\n{headers}\n".encode()
    )
    site["box"].add(qmail_bounce(sent, OFFICE))
    alert_delivery_sensor(dg.build_sensor_context())
    assert _message(OFFICE)[0] == "failed"  # the readable bounce beside it is read
    set_status(site["warehouse"], "410700", "limited_progress")
    run_alerts(site["warehouse"], "run-2")  # the run reads the folder again: no error
