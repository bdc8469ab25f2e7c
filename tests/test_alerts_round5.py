"""Alerts that reach people, round 5: what a recipient hears and in which order, and delivery as an operator and a
recipient meet it (7-bit-clean mail, robots' size limits, secrets kept out of the ledger, a relay that hangs).

Real receivers only: aiosmtpd and an HTTP receiver on 127.0.0.1, a real DuckDB warehouse and SQLite store.
"""

from __future__ import annotations

import re

import pytest
import yaml
from alert_receivers import SmtpSink
from alerts_fixtures import bare_site, write_routing  # noqa: F401 - the `site` fixture; write_routing re-exported
from test_alerts import run_alerts, set_status
from test_alerts_per_recipient import city_mail

from pipelines.alerts.config import load_routing
from pipelines.alerts.lifecycle import deliver_due
from pipelines.alerts.store import connect


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


# ------------------------------------------------------------------------------------- group robots
def add_cities(wh, n: int, *, province=("130000", "河北省"), status: str = "limited_progress") -> list[str]:
    """``n`` more cities of one province in the marts, each with its key target in ``status``."""
    import duckdb

    codes = [f"{province[0][:2]}{i:04d}" for i in range(1, n + 1)]
    with duckdb.connect(str(wh)) as con:
        con.executemany(
            "insert into marts.dim_city values (?, ?, ?, ?, ?, true, 'active')",
            [(c, f"测试{c[-3:]}市", f"Test {c[-3:]}", *province) for c in codes],
        )
        con.executemany(
            "insert into marts.fct_target_status values (?, 'plan_2021_2025', 'pledge_amount', ?, 2024, 50, 100, "
            "2025, 0.5, 1.0, true)",
            [(c, status) for c in codes],
        )
    return codes


def robot_routing(path, http_port: int, *, kind: str = "wecom", dashboard_url: str | None = None, **route) -> None:
    secret_key = {"wecom": "key_env", "dingtalk": "access_token_env"}[kind]
    endpoint = {"wecom": "/cgi-bin/webhook/send", "dingtalk": "/robot/send"}[kind]
    cfg = {
        "version": "test",
        "channels": {
            "robot": {"type": kind, secret_key: "TEST_ROBOT_KEY", "endpoint": f"http://127.0.0.1:{http_port}{endpoint}"}
        },
        "routes": [
            {"name": "national_office", "audience": "city", "recipients": {"robot": ["national-group"]}, **route}
        ],
        "delivery": {"immediate_attempts": 1, "backoff_seconds": [600], "max_attempts": 50},
    }
    if dashboard_url:
        cfg["dashboard_url"] = dashboard_url
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


ROBOT_KEY = "0f3c9a7e51b24d8e9c6a2b7d4e1f08a3"  # a robot token / key as DingTalk and WeCom issue them


def wecom_gateway(request) -> dict:
    """What WeCom's group robot answers: HTTP 200 always, errcode 40058 for a text over 2,048 bytes."""
    content = request["json"]["text"]["content"]
    if len(content.encode("utf-8")) > 2048:
        return {"errcode": 40058, "errmsg": "content exceed max length 2048"}
    return {"errcode": 0, "errmsg": "ok"}


def robot_content(request) -> str:
    """The text a robot message carries (DingTalk's starts with the subject and a CRLF)."""
    j = request["json"]
    return j["text"]["content"] if j.get("msgtype") == "text" else j["markdown"]["text"]


@pytest.mark.parametrize("kind, limit", [("wecom", 2048), ("dingtalk", 20000)])
def test_a_long_digest_to_a_group_robot_is_cut_at_a_line_with_the_link_and_arrives(site, monkeypatch, kind, limit):
    """Hundreds of cities fall behind at once. WeCom's robot takes 2,048 bytes of text and DingTalk's 20,000 (UTF-8
    bytes: a Chinese character is three); the digest is cut after the last whole line that fits, says how much is
    left out and where the whole list is, and keeps its idempotency key."""
    from alert_receivers import HttpSink

    monkeypatch.setenv("TEST_ROBOT_KEY", ROBOT_KEY)
    hook = HttpSink(reply=wecom_gateway if kind == "wecom" else None).start()
    try:
        robot_routing(site["routing"], hook.port, kind=kind, dashboard_url="https://ipcity.example.cn/alerts")
        add_cities(site["warehouse"], 400)
        out = run_alerts(site["warehouse"], "run-1")
        assert [m["status"] for m in out["messages"]] == ["delivered"], out["deliveries"]
        (request,) = hook.requests
        content = robot_content(request)
        assert len(content.encode("utf-8")) <= limit
        with connect() as con:
            key, body = con.execute("SELECT idempotency_key, body FROM alerts.messages").fetchone()
        lines = content.split("\r\n", 1)[-1].split("\n")  # DingTalk's first line is the subject
        assert lines[-1] == body.split("\n")[-1] and key in lines[-1]  # the key line is kept
        note = [line for line in lines if "https://ipcity.example.cn/alerts" in line]
        assert len(note) == 1 and "未列出" in note[0] and "not shown" in note[0], lines[-3:]
        shown = [line for line in lines if line not in note and line != lines[-1]]
        body_lines = body.split("\n")
        assert all(line in body_lines for line in shown if line)  # whole lines of the digest, none cut in half
        omitted = int(re.search(r"另有([\d,]+)行", note[0])[1].replace(",", ""))
        assert omitted == len(body_lines) - len([ln for ln in shown if ln in body_lines]) - 1
    finally:
        hook.stop()


@pytest.mark.parametrize("kind, refusal", [("wecom", (-1, "system busy")), ("dingtalk", (-1, "系统繁忙"))])
def test_a_robot_that_answers_with_an_error_code_has_not_received_the_message(site, monkeypatch, kind, refusal):
    """DingTalk and WeCom answer HTTP 200 also when they refuse a message (busy, a wrong key, a bad signature, the rate
    limit): their errcode says so. Such a message is not delivered: it is retried, with the robot's answer in the
    ledger, and arrives once the robot takes it. (A wrong key or signature refuses the channel, a rate limit waits a
    minute: tests/test_alerts_round14.py.)"""
    from alert_receivers import HttpSink

    monkeypatch.setenv("TEST_ROBOT_KEY", ROBOT_KEY)
    answer = {"errcode": refusal[0], "errmsg": refusal[1]}
    hook = HttpSink(reply=lambda request: answer).start()
    try:
        robot_routing(site["routing"], hook.port, kind=kind)
        set_status(site["warehouse"], "410100", "limited_progress")
        out = run_alerts(site["warehouse"], "run-1")
        assert [m["status"] for m in out["messages"]] == ["retry"], out["deliveries"]
        with connect() as con:
            response = con.execute("SELECT last_response FROM alerts.messages").fetchone()[0]
        assert str(refusal[0]) in response and refusal[1] in response
        answer.update(errcode=0, errmsg="ok")
        _make_due("national-group")
        assert [d["status"] for d in deliver_due(load_routing())] == ["delivered"]
        assert len(hook.requests) == 2 and run_alerts(site["warehouse"], "run-2")["messages"] == []
    finally:
        hook.stop()


# ---------------------------------------------------------------------------------------------- secrets
def test_robot_and_webhook_secrets_never_reach_the_ledger_the_cli_or_the_logs(site, monkeypatch, capfd, caplog):
    """A robot token that apprise finds malformed is quoted in its error ("An invalid DingTalk API Token (...)"),
    and apprise logs the robot's URL with its token or key at DEBUG. None of it may reach the alert store, the CLI
    (`ipcity alerts list --deliveries`) or the process's logs, even with a deployment's logging at DEBUG."""
    import logging

    from alert_receivers import HttpSink
    from click.testing import CliRunner

    from pipelines.cli import main

    caplog.set_level(logging.DEBUG)
    hook = HttpSink().start()
    try:
        bad_token = "dt-token-SECRET-7731"  # a hyphen: apprise refuses it and quotes it
        monkeypatch.setenv("TEST_ROBOT_KEY", bad_token)
        robot_routing(site["routing"], hook.port, kind="dingtalk")
        set_status(site["warehouse"], "410100", "limited_progress")
        out = run_alerts(site["warehouse"], "run-1")
        assert [m["status"] for m in out["messages"]] == ["retry"]
        assert "***" in out["deliveries"][0]["response"]  # the answer is kept, the token masked

        monkeypatch.setenv("TEST_ROBOT_KEY", ROBOT_KEY)  # mended: a good token, sent with DEBUG logging on
        _make_due("national-group")
        assert [d["status"] for d in deliver_due(load_routing())] == ["delivered"]
        res = CliRunner().invoke(main, ["alerts", "list", "--deliveries"])
        assert res.exit_code == 0, res.output
    finally:
        hook.stop()
    store = (site["tmp"] / "alerts.sqlite").read_bytes() + b"".join(
        p.read_bytes() for p in site["tmp"].glob("alerts.sqlite-*")
    )
    seen = {
        "store": store.decode("utf-8", errors="replace"),
        "cli": res.output,
        "log": caplog.text,
        "stdio": "".join(capfd.readouterr()),
    }
    for where, text in seen.items():
        for value in (bad_token, ROBOT_KEY):
            assert value not in text, f"{value} in {where}"


# ------------------------------------------------------------------------------------------ mail on the wire
def test_chinese_mail_is_seven_bit_clean_on_the_wire_and_reads_back_as_written(site):
    """An office relay need not take 8-bit data (only after advertising 8BITMIME, and only when the client asks for
    it with BODY=8BITMIME, which smtplib does not). The digest's raw bytes must be 7-bit: the subject in RFC 2047
    encoded words, the body in base64, each declared UTF-8; a mail client decodes them to the text as written. So
    for a digest and for `ipcity alerts test`'s short message (its lines are short: the standard library would have
    chosen 8-bit for it)."""
    import email
    from email import policy

    from pipelines.alerts import send_test

    sink = SmtpSink(smtputf8=False).start()
    try:
        write_routing(site["routing"], sink.port)
        set_status(site["warehouse"], "410700", "deteriorating")
        run_alerts(site["warehouse"], "run-1")
        assert [r["status"] for r in send_test(route="national_office")] == ["delivered"]
        assert len(sink.envelopes) == 3
        with connect() as con:
            stored = {
                (r[0], r[1]): (r[1], r[2]) for r in con.execute("SELECT recipient, subject, body FROM alerts.messages")
            }
        for env in sink.envelopes:
            raw = env["raw"]
            assert max(raw) < 128, "8-bit bytes on the wire"
            assert "BODY=8BITMIME" not in [o.upper() for o in env["options"]]
            assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
            head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
            parsed = email.message_from_bytes(raw, policy=policy.default)
            # every text part (the plain text, and a digest's HTML alternative) declared UTF-8
            texts = [p for p in parsed.walk() if p.get_content_maintype() == "text"]
            assert "=?utf-8?" in head and texts and all(p.get_content_charset() == "utf-8" for p in texts)
            subject, body = stored[(env["to"][0], str(parsed["Subject"]))]
            assert "新预警1条" in subject or "测试消息" in subject
            text = parsed.get_body(preferencelist=("plain",)).get_content()
            assert text.rstrip("\n") == body and ("新乡市" in text or "测试消息" in text)
    finally:
        sink.stop()


# ---------------------------------------------------------------------------------------- a relay that hangs
class Tarpit:
    """A relay that never finishes its greeting: a "220-" continuation line every 0.2 s, forever (as an anti-spam
    tarpit does). Every read gets data in time, so a per-read timeout alone never fires."""

    def __init__(self):
        import socket
        import threading

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.dropped = threading.Event()  # the client gave up and closed the connection
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import threading

        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        with conn:
            while not self.stopped.is_set():
                try:
                    conn.sendall(b"220-please wait\r\n")
                except OSError:
                    self.dropped.set()
                    return
                self.stopped.wait(0.2)

    def stop(self):
        self.stopped.set()
        self.sock.close()


def test_a_relay_that_never_finishes_its_greeting_does_not_hang_the_run(site):
    """Each read of the session gets a line within the channel's `timeout`, so only a bound on the whole session
    (`session_timeout`) ends it: the run's alert step returns, the digest waits for a retry with the reason in the
    ledger, and the other digest due on that relay waits without spending another session on it."""
    import threading

    pit = Tarpit()
    try:
        write_routing(site["routing"], pit.port, timeout=1, session_timeout=2)
        set_status(site["warehouse"], "410100", "limited_progress")
        out: dict = {}
        step = threading.Thread(target=lambda: out.update(run_alerts(site["warehouse"], "run-1")), daemon=True)
        step.start()
        step.join(120)  # a hang guard, not a measurement: the step must return at all
        assert not step.is_alive(), "the alert step hangs on a tarpit relay"
        assert sorted(m["status"] for m in out["messages"]) == ["retry", "retry"]
        with connect() as con:
            answers = [r[0] for r in con.execute("SELECT response FROM alerts.deliveries")]
        assert len(answers) == 1 and "session_timeout" in answers[0], answers
        assert pit.dropped.wait(10)  # the client closed the session
    finally:
        pit.stop()


# --------------------------------------------------------------------------------- TLS relays with a login
@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_relays_with_a_login_deliver_and_a_wrong_password_is_never_written_down(site, monkeypatch, mode):
    """The two ways an office relay takes mail: STARTTLS on 587 (the relay refuses AUTH before STARTTLS) and
    implicit TLS on 465; a login whose password comes from the environment, the relay's certificate checked
    against the channel's `cafile`. A wrong password is a retry with the relay's answer — not the password."""
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    from test_alerts import _self_signed

    cert_file, key_file = _self_signed(site["tmp"])
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_file, key_file)
    got = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            got.append((envelope.rcpt_tos, server._tls_protocol is not None or mode == "ssl"))
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"ipcity" and auth_data.password == b"pa55-w0rd-x"
        return AuthResult(
            success=ok, handled=False, message=None if ok else "535 5.7.8 Authentication credentials invalid"
        )

    from alert_receivers import free_port

    port = free_port()
    # (aiosmtpd counts only STARTTLS as TLS for `auth_require_tls`; on 465 the whole connection is TLS already)
    tls = (
        {"tls_context": server_ctx, "require_starttls": True, "auth_require_tls": True}
        if mode == "starttls"
        else {"ssl_context": server_ctx, "auth_require_tls": False}
    )
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port, authenticator=authenticator, **tls)
    ctl.start()
    try:
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong-pa55-zz")
        channel = {"username": "ipcity", "password_env": "TEST_SMTP_PASSWORD", "cafile": str(cert_file), mode: True}
        write_routing(site["routing"], port, **channel)
        set_status(site["warehouse"], "410100", "limited_progress")
        out = run_alerts(site["warehouse"], "run-1")
        assert sorted(m["status"] for m in out["messages"]) == ["retry", "retry"] and got == []
        with connect() as con:
            answers = [r[0] for r in con.execute("SELECT response FROM alerts.deliveries")]
        assert answers and all("535" in a and "wrong-pa55-zz" not in a for a in answers), answers

        monkeypatch.setenv("TEST_SMTP_PASSWORD", "pa55-w0rd-x")
        for who in ("national@test.local", "ipo-410000@test.local"):
            _make_due(who)
        assert sorted(d["status"] for d in deliver_due(load_routing())) == ["delivered", "delivered"]
        assert sorted(to for (to,), _ in got) == ["ipo-410000@test.local", "national@test.local"]
        assert all(encrypted for _, encrypted in got)
    finally:
        ctl.stop()


# ------------------------------------------------------------------------------------------ two dispatchers
def test_a_message_between_two_quick_attempts_stays_leased_to_its_dispatcher(site):
    """Between two attempts of one dispatch (the short backoff), the message is still that dispatcher's: the
    delivery sensor ticking meanwhile (or `ipcity alerts deliver`) must not send it as well — with a relay that
    answers the first attempt late, the recipient would get it twice."""
    busy = SmtpSink(refuse={"national@test.local": "450 4.2.1 mailbox busy, try later"}).start()
    try:
        write_routing(site["routing"], busy.port, backoff=(0.3,), immediate=2)
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        _make_due("national@test.local")
        with connect() as con:
            key = con.execute(
                "SELECT idempotency_key FROM alerts.messages WHERE recipient = 'national@test.local'"
            ).fetchone()[0]
        meanwhile: list[dict] = []

        def sleep_while_another_dispatcher_runs(seconds):
            meanwhile.extend(deliver_due(load_routing(), sleep=lambda s: None))

        first = deliver_due(load_routing(), sleep=sleep_while_another_dispatcher_runs)
        assert [(d["idempotency_key"], d["status"]) for d in first] == [(key, "retry")]
        assert key not in [d["idempotency_key"] for d in meanwhile]
        with connect() as con:
            attempts = [
                r[0] for r in con.execute("SELECT attempt FROM alerts.deliveries WHERE idempotency_key = ?", (key,))
            ]
        assert attempts == [1, 2, 3, 4]  # two in the run, two in this dispatch; none by the other dispatcher
    finally:
        busy.stop()


# ------------------------------------------------------------------------------------------------ languages
def test_each_route_reads_its_own_language(site):
    """`lang: zh` for the province offices, `lang: en` for an English-reading recipient: each digest is in that
    language alone — subject, body and the city headings (an English reader is not given Chinese city names as
    headings) — and the default stays both, Chinese first."""
    import re

    sink = SmtpSink().start()
    try:
        write_routing(site["routing"], sink.port)
        cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
        cfg["routes"][0]["lang"] = "zh"
        cfg["routes"][1]["lang"] = "en"
        cfg["routes"].append({"name": "archive", "audience": "city", "recipients": {"mail": ["archive@test.local"]}})
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        by = {m["X-Envelope-To"]: m for m in sink.messages}
        zh, en, both = by["ipo-410000@test.local"], by["national@test.local"], by["archive@test.local"]
        assert str(zh["Subject"]) == "【知识产权强市监测】新预警1条、解除0条：郑州市"
        assert str(en["Subject"]) == "IP strong-city monitor: 1 firing, 0 resolved: Zhengzhou (410100)"
        assert "新预警1条" in str(both["Subject"]) and "1 firing" in str(both["Subject"])
        zh_text, en_text, both_text = (SmtpSink.text(m).replace("\r\n", "\n") for m in (zh, en, both))
        assert "郑州市" in zh_text and "Firing" not in zh_text and "Acknowledge" not in zh_text
        assert not re.search(r"[\u4e00-\u9fff]", en_text), en_text  # no Chinese at all
        assert "\n Zhengzhou (410100)\n" in en_text and "Firing: 1 alert in 1 area" in en_text
        assert both_text.index("新预警") < both_text.index("Firing:")
        # and a routing file with another language is refused, naming the route
        cfg["routes"][1]["lang"] = "fr"
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        from pipelines.alerts.config import AlertConfigError

        with pytest.raises(AlertConfigError, match="national_office.*lang must be one of zh, en, both"):
            load_routing()
    finally:
        sink.stop()


# ----------------------------------------------------------------------------------------------- the ledger
def test_the_ledger_shows_to_whom_what_and_whether_in_both_languages(site):
    """`ipcity alerts list --deliveries` is what an operator reads to answer "did Henan get it?": each digest with
    its recipient, what it carried (the cities), delivered or not, after how many attempts, and the relay's answer,
    headed and labelled in Chinese and English; `--status failed` lists what needs mending. A relay's answer is
    data: one with rich markup in it ("[/]") is shown as written, instead of stopping the listing."""
    from click.testing import CliRunner

    from pipelines.cli import main

    sink = SmtpSink(refuse={"ipo-410000@test.local": "550 5.1.1 [/] no such mailbox"}).start()
    try:
        write_routing(site["routing"], sink.port)
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
    finally:
        sink.stop()
    res = CliRunner().invoke(main, ["alerts", "list", "--deliveries"])
    assert res.exit_code == 0, res.output
    out = res.output
    for words in ("收件人", "to /", "状态", "status", "回应", "answer", "已送达", "Delivered", "搁置"):
        assert words in out, (words, out)
    assert "national@test.local" in out and "ipo-410000@test.local" in out and "郑州市" in out
    assert "[/] no such" in out

    failed = CliRunner().invoke(main, ["alerts", "list", "--deliveries", "--status", "failed"])
    assert failed.exit_code == 0, failed.output
    assert "ipo-410000@test.local" in failed.output and "national@test.local" not in failed.output


# ------------------------------------------------------------------------------------- one mailbox per item
@pytest.mark.parametrize(
    "recipient", ["national@test.local, deputy@test.local", "national@test.local;deputy@test.local", "national-office"]
)
def test_a_mail_recipient_item_is_one_mailbox(site, recipient):
    """ "a@x, b@x" written as one item put both in the To header while the envelope — what the relay delivers to —
    took only the first: the deputy read "To: ... deputy" on a copy that never reached them. A bare name reaches
    nobody. Such an item is refused when the routing file is read, naming the route; in a run, that channel of the
    route is left out (and reported) while the other routes deliver."""
    from pipelines.alerts.config import AlertConfigError

    sink = SmtpSink().start()
    try:
        write_routing(site["routing"], sink.port)
        cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
        cfg["routes"][1]["recipients"]["mail"] = [recipient]
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        with pytest.raises(AlertConfigError, match="national_office.*one e-mail address"):
            load_routing()
        set_status(site["warehouse"], "410100", "limited_progress")
        out = run_alerts(site["warehouse"], "run-1")
        assert any("national_office" in p and "one e-mail address" in p for p in out["routing_problems"])
        assert [m["X-Envelope-To"] for m in sink.messages] == ["ipo-410000@test.local"]
    finally:
        sink.stop()


class DripHttp:
    """A webhook receiver that answers 200 with a body it sends one byte every 0.2 s (100 MB announced): each read
    of the client gets data in time, so requests' read timeout never fires."""

    def __init__(self):
        import socket
        import threading

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import threading

        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n")
                while not self.stopped.is_set():
                    conn.sendall(b" ")
                    self.stopped.wait(0.2)
            except OSError:
                return

    def stop(self):
        self.stopped.set()
        self.sock.close()


def test_a_webhook_that_never_finishes_its_answer_does_not_hang_the_run(site):
    """The same for the webhook channels (JSON, DingTalk, WeCom: requests under apprise): a receiver dripping its
    answer is abandoned at the channel's `session_timeout`; the digest waits for a retry with the reason."""
    import threading

    drip = DripHttp()
    try:
        cfg = {
            "version": "test",
            "channels": {
                "hook": {
                    "type": "webhook",
                    "url": f"http://127.0.0.1:{drip.port}/alerts",
                    "timeout": 1,
                    "session_timeout": 2,
                }
            },
            "routes": [{"name": "national_office", "audience": "city", "recipients": {"hook": ["national-ops"]}}],
            "delivery": {"immediate_attempts": 1, "backoff_seconds": [600], "max_attempts": 50},
        }
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        set_status(site["warehouse"], "410100", "limited_progress")
        out: dict = {}
        step = threading.Thread(target=lambda: out.update(run_alerts(site["warehouse"], "run-1")), daemon=True)
        step.start()
        step.join(120)  # a hang guard, not a measurement
        assert not step.is_alive(), "the alert step hangs on a dripping webhook receiver"
        assert [m["status"] for m in out["messages"]] == ["retry"]
        with connect() as con:
            answer = con.execute("SELECT last_response FROM alerts.messages").fetchone()[0]
        assert answer.startswith("session_timeout"), answer
    finally:
        drip.stop()


def test_a_refused_reminder_does_not_take_back_the_firing_the_recipient_did_receive(site):
    """The national office received Zhengzhou's firing; a silence held it back and, when it ended, the reminder
    (the same episode told again) was refused for good. The office still heard the firing — from the first digest
    — so it hears the resolution too."""
    from datetime import timedelta

    from pipelines.alerts.store import expire_silence, silence

    sink = SmtpSink().start()
    port = sink.port
    try:
        write_routing(site["routing"], port)
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        assert sorted(m["X-Envelope-To"] for m in sink.messages) == ["ipo-410000@test.local", "national@test.local"]
        sid = silence(by="tester", duration=timedelta(hours=1), unit_code="410100")
        run_alerts(site["warehouse"], "run-2")
    finally:
        sink.stop()
    refusing = SmtpSink(port, refuse={"national@test.local": "550 5.7.1 mailbox disabled for now"}).start()
    try:
        expire_silence(sid)
        statuses = {m["recipient"]: m["status"] for m in run_alerts(site["warehouse"], "run-3")["messages"]}
        assert statuses == {"ipo-410000@test.local": "delivered", "national@test.local": "failed"}
    finally:
        refusing.stop()
    back = SmtpSink(port).start()
    try:
        set_status(site["warehouse"], "410100", "on_track")
        run_alerts(site["warehouse"], "run-4")
        got = {to: [(m["firing"], m["resolved"]) for m in ms] for to, ms in city_mail(back).items()}
        assert got == {"ipo-410000@test.local": [([], ["410100"])], "national@test.local": [([], ["410100"])]}
    finally:
        back.stop()


# ------------------------------------------------------------------------------ refusals of the message itself
def test_a_message_refused_at_data_for_now_is_retried_and_for_good_is_parked(site):
    """The relay may take the recipients and refuse the message itself: 451 (local error, try later) is a retry;
    554 (content refused) fails the digest at once, with the relay's answer; neither holds back the other digest
    on that relay, which is delivered."""
    from aiosmtpd.controller import Controller
    from alert_receivers import free_port

    answers = {"national@test.local": "451 4.3.0 temporary local problem", "ipo-410000@test.local": "250 OK"}
    got = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            answer = answers[envelope.rcpt_tos[0]]
            if answer.startswith("250"):
                got.append(envelope.rcpt_tos[0])
            return answer

    port = free_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        write_routing(site["routing"], port)
        set_status(site["warehouse"], "410100", "limited_progress")
        statuses = {m["recipient"]: m["status"] for m in run_alerts(site["warehouse"], "run-1")["messages"]}
        assert statuses == {"ipo-410000@test.local": "delivered", "national@test.local": "retry"}
        answers["national@test.local"] = "554 5.7.1 message content refused"
        _make_due("national@test.local")
        out = deliver_due(load_routing())
        assert [(d["recipient"], d["status"]) for d in out] == [("national@test.local", "failed")]
        assert "554" in out[0]["response"] and out[0]["response"].startswith("permanent refusal")
        assert got == ["ipo-410000@test.local"]
    finally:
        ctl.stop()


def test_a_login_without_tls_to_a_relay_elsewhere_is_refused(site, tmp_path):
    """`username` with neither `starttls` nor `ssl` sends the password in clear (AUTH PLAIN is base64, not
    encryption) to whoever is on the path: refused when the routing file is read, naming the channel; a relay on
    this machine (127.0.0.1, localhost) may still take a plain login."""
    from pipelines.alerts.config import AlertConfigError

    routing = tmp_path / "routing.yaml"
    write_routing(routing, 587, username="ipcity", password_env="X_PW")
    cfg = yaml.safe_load(routing.read_text(encoding="utf-8"))
    load_routing(routing)  # on 127.0.0.1: allowed
    cfg["channels"]["mail"]["host"] = "smtp.example.gov.cn"
    routing.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    with pytest.raises(AlertConfigError, match="channel mail.*password in clear.*starttls: true"):
        load_routing(routing)
    assert load_routing(routing, strict=False).refused_channels == {"mail"}
    plain = dict(cfg["channels"]["mail"])
    for tls in ({"starttls": True}, {"ssl": True, "port": 465}):  # each alone: together they are refused
        cfg["channels"]["mail"] = {**plain, **tls}
        routing.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        assert "mail" in load_routing(routing).channels


def test_webhook_credentials_come_from_the_environment_never_from_the_routing_file(site, monkeypatch):
    """A bearer token in `headers`, or a token in the url's query, is a secret written into the routing file:
    refused, naming the channel and the way to give it (headers_env, url_env). Given that way, it reaches the
    receiver — the header, and the url's query kept — and never the ledger."""
    from alert_receivers import HttpSink

    from pipelines.alerts.config import AlertConfigError

    hook = HttpSink().start()
    try:
        write_routing(site["routing"], 25)
        cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
        base = f"http://127.0.0.1:{hook.port}/alerts"
        cfg["channels"] = {"hook": {"type": "webhook", "url": base, "headers": {"Authorization": "Bearer abc"}}}
        cfg["routes"] = [{"name": "national_office", "audience": "city", "recipients": {"hook": ["ops"]}}]
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        with pytest.raises(AlertConfigError, match=r"channel hook.*Authorization.*headers_env"):
            load_routing()
        cfg["channels"]["hook"] = {"type": "webhook", "url": f"{base}?access_token=abc"}
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        with pytest.raises(AlertConfigError, match=r"channel hook.*access_token.*url_env"):
            load_routing()

        monkeypatch.setenv("TEST_HOOK_URL", f"{base}?access_token=tok-in-url-991")
        monkeypatch.setenv("TEST_HOOK_AUTH", "Bearer tok-in-header-552")
        cfg["channels"]["hook"] = {
            "type": "webhook",
            "url_env": "TEST_HOOK_URL",
            "headers_env": {"Authorization": "TEST_HOOK_AUTH"},
            "headers": {"X-Office": "cnipa"},
        }
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        set_status(site["warehouse"], "410100", "limited_progress")
        out = run_alerts(site["warehouse"], "run-1")
        assert [m["status"] for m in out["messages"]] == ["delivered"], out["deliveries"]
        (request,) = hook.requests
        assert request["headers"]["Authorization"] == "Bearer tok-in-header-552"
        assert request["headers"]["X-Office"] == "cnipa"
        assert request["path"] == "/alerts?access_token=tok-in-url-991"
        assert request["json"]["firing"][0]["unit_code"] == "410100"
    finally:
        hook.stop()
    store = b"".join(p.read_bytes() for p in site["tmp"].glob("alerts.sqlite*"))
    assert b"tok-in-header-552" not in store and b"tok-in-url-991" not in store


def test_a_dingtalk_recipient_given_as_a_mobile_number_is_mentioned(site, monkeypatch):
    """The routing file's DingTalk recipients are "@-mobiles or names": an on-call engineer's mobile number must
    @-mention them (atMobiles, and "@number" in the text, as DingTalk shows a mention), or nobody is notified."""
    from alert_receivers import HttpSink

    monkeypatch.setenv("TEST_ROBOT_KEY", ROBOT_KEY)
    hook = HttpSink().start()
    try:
        robot_routing(site["routing"], hook.port, kind="dingtalk")
        cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
        cfg["routes"][0]["recipients"]["robot"] = ["+86 138-0013-8000", "national-group"]
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        set_status(site["warehouse"], "410100", "limited_progress")
        out = run_alerts(site["warehouse"], "run-1")
        # round 15: one message into the group (it posted a copy per member), the mobile @-mentioned in it
        assert [m["status"] for m in out["messages"]] == ["delivered"]
        (request,) = hook.requests
        assert request["json"]["at"]["atMobiles"] == ["13800138000"]  # a mainland member by its 11 digits
        assert robot_content(request).split("\r\n")[1].startswith("@13800138000 ")
        assert "national-group" in robot_content(request)
    finally:
        hook.stop()
