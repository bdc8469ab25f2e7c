"""Alerts that reach people, round 14: a group robot's errcode read for what it says (a revoked key or a security
setting refuses the CHANNEL, as an HTTP 401 does; a rate limit waits its minute), mail as a client and an auto-replier
read it, and text from the data that cannot forge a line of a digest.

Real receivers only: aiosmtpd and an HTTP receiver on 127.0.0.1, a real DuckDB warehouse and SQLite store.
"""

from __future__ import annotations

import pytest
import yaml
from alert_receivers import HttpSink, SmtpSink
from alerts_fixtures import ENGINEERS, bare_site  # noqa: F401 - the `site` fixture
from test_alerts import run_alerts, set_status
from test_alerts_round5 import ROBOT_KEY, robot_content, robot_routing

from pipelines.alerts.answers import answer_zh
from pipelines.alerts.config import load_routing
from pipelines.alerts.lifecycle import deliver_due, retry_channel
from pipelines.alerts.store import connect, parse


def _robot_with_engineers(routing, hook_port: int, mail_port: int, kind: str) -> None:
    """The national office on a group robot (``kind``) at the HTTP receiver, the data engineers by mail."""
    robot_routing(routing, hook_port, kind=kind)
    cfg = yaml.safe_load(routing.read_text(encoding="utf-8"))
    cfg["channels"]["mail"] = {"type": "smtp", "host": "127.0.0.1", "port": mail_port, "sender": "m@test.local"}
    cfg["routes"].append({"name": "data_engineers", "audience": "engineering", "recipients": {"mail": [ENGINEERS]}})
    routing.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


def _robot_messages() -> list[tuple]:
    with connect() as con:
        return [
            tuple(r)
            for r in con.execute(
                "SELECT status, attempts, next_retry_at, last_response FROM alerts.messages WHERE channel = 'robot' "
                "ORDER BY created_at, rowid"
            ).fetchall()
        ]


# ------------------------------------------------------------------------ a robot's errcode under HTTP 200
@pytest.mark.parametrize(
    "kind, code, said",
    [
        ("wecom", 93000, "invalid webhook url"),  # the key revoked, the robot removed from the group
        ("dingtalk", 310000, "keywords not in content"),  # the robot's security setting refuses every message alike
        ("dingtalk", 300001, "token is not exist"),
    ],
)
def test_a_robot_refusing_its_key_or_security_settings_refuses_the_channel_not_each_digest(
    site, monkeypatch, kind, code, said
):
    """A revoked robot key (or a DingTalk robot whose keyword, signature or IP setting refuses us) answers every
    digest alike, under HTTP 200. Each digest was retried on its own, up to thirty times over a day, then parked, and
    the channel itself was named to nobody. Now it is handled as an HTTP 401 is: the channel is marked refusing with
    the robot's answer and what to mend, the data engineers are told once, a later digest waits untried, and once
    mended `ipcity alerts retry --channel` delivers the waiting digest."""
    from click.testing import CliRunner

    from pipelines.cli import main

    monkeypatch.setenv("TEST_ROBOT_KEY", ROBOT_KEY)
    answer = {"errcode": code, "errmsg": said}
    hook, relay = HttpSink(reply=lambda request: answer).start(), SmtpSink().start()
    try:
        _robot_with_engineers(site["routing"], hook.port, relay.port, kind)
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        assert len(hook.requests) == 1
        with connect() as con:
            (row,) = con.execute("SELECT channel, response FROM alerts.channel_refusals").fetchall()
        assert row["channel"] == "robot" and str(code) in row["response"] and said in row["response"]
        assert "channel robot" in row["response"] and ROBOT_KEY not in row["response"]
        if "keywords" in said:  # the word to give the robot: what every digest's title carries
            assert "知识产权强市监测" in row["response"] and "知识产权强市监测" in robot_content(hook.requests[0])
        (de,) = relay.to(ENGINEERS)  # the engineers hear of the channel, once
        assert "robot" in SmtpSink.text(de) and str(code) in SmtpSink.text(de)
        # its reason in Chinese in the Chinese section (translated, then cut: cut first, it stayed in English)
        zh = SmtpSink.text(de).split("\nTo ", 1)[0]
        assert (
            "通道 robot 的群机器人只接收含其自定义关键词" if "keywords" in said else "群机器人拒绝通道 robot"
        ) in zh, zh

        set_status(site["warehouse"], "410700", "limited_progress")
        run_alerts(site["warehouse"], "run-2")
        assert len(hook.requests) == 1  # the later digest waits, untried
        assert [(s, n) for s, n, *_ in _robot_messages()] == [("superseded", 1), ("pending", 0)]
        assert len(relay.to(ENGINEERS)) == 1

        status = CliRunner().invoke(main, ["alerts", "status"], env={"COLUMNS": "250"})
        assert status.exit_code == 1 and "robot" in status.output
        shown = answer_zh(row["response"])  # in Chinese, our sentence translated
        assert (
            "通道 robot 的群机器人只接收含其自定义关键词" if "keywords" in said else "群机器人拒绝通道 robot"
        ) in shown

        answer.update(errcode=0, errmsg="ok")  # the key mended
        assert [d["status"] for d in retry_channel(load_routing(), "robot")] == ["delivered"]
        assert [s for s, *_ in _robot_messages()] == ["superseded", "delivered"]
        with connect() as con:
            assert con.execute("SELECT count(*) FROM alerts.channel_refusals").fetchone()[0] == 0
    finally:
        hook.stop()
        relay.stop()


@pytest.mark.parametrize("kind, code", [("wecom", 45009), ("dingtalk", 130101)])
def test_a_robot_rate_limit_waits_its_minute_and_holds_back_the_channel(site, monkeypatch, kind, code):
    """WeCom takes 20 messages a minute per robot (45009), DingTalk as many (130101 "send too fast"): the next attempt
    came after the backoff's 2 s, met the same limit and spent an attempt. It now waits the minute, and the channel's
    other digests due in the same pass are not sent into the limit either."""
    monkeypatch.setenv("TEST_ROBOT_KEY", ROBOT_KEY)
    hook = HttpSink(reply=lambda request: {"errcode": code, "errmsg": "send too fast"}).start()
    try:
        robot_routing(site["routing"], hook.port, kind=kind)
        cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
        # two routes on the robot (a route's members on a robot are one message since round 15)
        cfg["routes"].append({**cfg["routes"][0], "name": "second_route"})
        cfg["delivery"].update(immediate_attempts=3, backoff_seconds=[2])
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        set_status(site["warehouse"], "410100", "limited_progress")
        out = run_alerts(site["warehouse"], "run-1")
        assert len(hook.requests) == 1, out["deliveries"]  # one attempt; group-b's digest not sent into the limit
        (first,) = [m for m in _robot_messages() if m[1]]
        assert first[0] == "pending" and first[1] == 1 and f"errcode {code}" in first[3]
        with connect() as con:
            (tried_at,) = con.execute("SELECT attempted_at FROM alerts.deliveries").fetchone()
        assert (parse(first[2]) - parse(tried_at)).total_seconds() >= 60
    finally:
        hook.stop()


# ------------------------------------------------------------------------------------------ mail as it arrives
def test_mail_is_marked_automatic_and_answers_reach_the_operators_not_the_sending_mailbox(site):
    """A digest carried no mark of a machine's message: every office's out-of-office responder answered it, into
    the sending mailbox (the bounce_maildir the delivery sensor reads), and a recipient's reply went to that same
    mailbox nobody reads. Now each mail (digest, route test, outbox file) says Auto-Submitted: auto-generated (RFC
    3834; Exchange's X-Auto-Response-Suppress for its out-of-office replies, not its bounces), and a channel's `reply_to` is the Reply-To, with the client's
    unsubscribe (List-Unsubscribe) writing to the same operators, naming the route and address."""
    import email
    from email import policy
    from email.utils import parseaddr
    from urllib.parse import parse_qs, urlsplit

    from pipelines.alerts import send_test
    from pipelines.alerts.channels import email_message, send_file

    sink = SmtpSink().start()
    try:
        from alerts_fixtures import write_routing

        write_routing(site["routing"], sink.port, reply_to="监测平台运维 <ops@test.local>")
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        assert [r["status"] for r in send_test(route="national_office")] == ["delivered"]
        assert len(sink.envelopes) == 3
        for env in sink.envelopes:
            mail = email.message_from_bytes(env["raw"], policy=policy.default)
            assert mail["Auto-Submitted"] == "auto-generated"
            # Exchange's out-of-office and auto-replies held back, never its non-delivery reports (the bounces we read)
            suppressed = {v.strip() for v in str(mail["X-Auto-Response-Suppress"]).split(",")}
            assert suppressed == {"OOF", "AutoReply"}
            assert parseaddr(str(mail["Reply-To"])) == ("监测平台运维", "ops@test.local")
            # on the wire as the URI itself (a client reads no encoded words in it), one line
            (raw_line,) = [ln for ln in env["raw"].split(b"\r\n") if ln.startswith(b"List-Unsubscribe:")]
            assert raw_line.startswith(b"List-Unsubscribe: <mailto:ops@test.local?subject=unsubscribe%20"), raw_line
            unsubscribe = urlsplit(str(mail["List-Unsubscribe"]).strip("<>"))
            assert (unsubscribe.scheme, unsubscribe.path) == ("mailto", "ops@test.local")
            (ask,) = parse_qs(unsubscribe.query)["subject"]
            assert ask == f"unsubscribe {mail['X-Ipcity-Route']} {env['to'][0]}"
    finally:
        sink.stop()
    # without reply_to: marked automatic all the same, and no Reply-To pointing anywhere
    plain = email_message(
        {"recipient": "a@test.local", "subject": "s", "idempotency_key": "k", "route": "r", "body": "b"}, "m@x.cn"
    )
    assert plain["Auto-Submitted"] == "auto-generated" and plain["Reply-To"] is None
    # the outbox file a relay or a person takes away carries the same headers
    digest = {"recipient": "a@test.local", "subject": "s", "idempotency_key": "k2", "route": "r", "body": "b"}
    send_file(digest, {"dir": str(site["tmp"] / "outbox"), "reply_to": "ops@test.local"})
    written = email.message_from_bytes((site["tmp"] / "outbox" / "k2.eml").read_bytes(), policy=policy.default)
    assert written["Auto-Submitted"] == "auto-generated" and written["Reply-To"] == "ops@test.local"


@pytest.mark.parametrize(
    "reply_to", ["a@test.local, b@test.local", "ops@test.local\nBcc: x@evil.example", "operators", ["ops@test.local"]]
)
def test_a_reply_to_that_is_not_one_mailbox_on_one_line_is_refused_naming_the_channel(tmp_path, reply_to):
    from pipelines.alerts.config import AlertConfigError

    path = tmp_path / "routing.yaml"
    cfg = {
        "version": "t",
        "channels": {"mail": {"type": "smtp", "host": "127.0.0.1", "port": 25, "reply_to": reply_to}},
        "routes": [{"name": "national_office", "audience": "city", "recipients": {"mail": ["a@b.cn"]}}],
    }
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    with pytest.raises(AlertConfigError, match="channel mail.*reply_to"):
        load_routing(path)
    assert "mail" in load_routing(path, strict=False).refused_channels


# ------------------------------------------------------------------------------- text from the data, one line
FORGED = "  [0000beef] ‼ 国家局通知：预警已撤销，无需处理"


def test_a_city_name_with_a_line_break_cannot_forge_a_line_of_the_digest(site):
    """A city's name (and its English name, a title built from them) comes from data: "郑州市\\n  [0000beef] ‼ 国家局通知…"
    made a line of its own in the digest's text — in the mail's plain text and a robot's message a forged alert line,
    item or notice, indistinguishable from ours. Every value from the data is one line in a digest: the break becomes
    a space, the text is kept."""
    import duckdb
    from alerts_fixtures import write_routing

    relay = SmtpSink().start()
    try:
        write_routing(site["routing"], relay.port)
        with duckdb.connect(str(site["warehouse"])) as con:
            con.execute(
                "update marts.dim_city set unit_name = '郑州市' || chr(10) || ?, "
                "unit_name_en = 'Zhengzhou' || chr(13) || chr(10) || '  [0000beef] withdrawn' where unit_code = '410100'",
                [FORGED],
            )
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        assert len(relay.envelopes) == 2
        with connect() as con:
            stored = con.execute("SELECT subject, body, html FROM alerts.messages").fetchall()
        for subject, body, html in stored:
            lines = body.split("\n")
            assert not any(line.startswith("  [0000beef]") for line in lines), body
            assert any("郑州市" in line and "[0000beef]" in line for line in lines), body  # kept, on its line
            assert "<br" not in html and "郑州市\n" not in html and "Zhengzhou\r" not in html
            assert "\n" not in subject
        for env in relay.envelopes:
            text = SmtpSink.text(relay.to(env["to"][0])[0])
            assert not any(line.startswith("  [0000beef]") for line in text.split("\n")), text
    finally:
        relay.stop()


# ------------------------------------------------------------------------------ a webhook that gets no answer
def test_a_webhook_that_reaches_no_answer_says_why_without_its_token(monkeypatch):
    """A webhook's endpoint whose name does not resolve (a DNS failure, a mistyped host) and one whose port refuses
    the connection were recorded alike as apprise's "A Connection error occurred sending JSON notification": the
    operator could not tell a DNS failure from a gateway that is down. The ledger now leads with what failed, in the
    operating system's words (shown in Chinese too), and never with requests' text, which quotes the url's query (the
    gateway's token)."""
    from alert_receivers import free_port

    from pipelines.alerts.answers import answer_zh
    from pipelines.alerts.channels import send

    monkeypatch.setenv("IPCITY_ALERT_PRIVATE_NETWORKS", "127.0.0.0/8")
    token = "gw-token-TOPSECRET-4417"
    msg = {"idempotency_key": "k", "recipient": "ops", "route": "r", "subject": "s", "body": "b", "payload": {}}
    ch = {"type": "webhook", "url_env": "TEST_HOOK_URL", "timeout": 2}

    monkeypatch.setenv("TEST_HOOK_URL", f"http://127.0.0.1:{free_port()}/send?access_token={token}")
    ok, response = send({**msg, "channel": "hook"}, ch)
    assert not ok and response.startswith("connection to 127.0.0.1 failed: [Errno"), response
    assert "refused" in response.lower() and token not in response
    assert answer_zh(response).startswith("连接 127.0.0.1 失败（")

    monkeypatch.setenv("TEST_HOOK_URL", f"https://gateway.no-such-name.invalid/send?access_token={token}")
    ok, response = send({**msg, "channel": "hook"}, ch)
    assert not ok and response.startswith("gateway.no-such-name.invalid does not resolve: [Errno"), response
    assert token not in response and not response.startswith("permanent refusal")  # a retry, as any DNS failure
    assert answer_zh(response).startswith("主机名 gateway.no-such-name.invalid 无法解析（")


@pytest.mark.parametrize(
    "answer, read_as",
    [
        ({"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}, "channel"),
        ({"code": 9499, "msg": "Bad Request"}, "retry"),
        ({"code": 11232, "msg": "frequency limited"}, "rate"),
        ({"errcode": 40001, "errmsg": "invalid credential"}, "channel"),
        ({"errcode": 42001, "errmsg": "access_token expired"}, "channel"),
        ({"code": 0, "msg": "success"}, "delivered"),
        ({"code": 200, "message": "ok"}, "delivered"),
        ({"code": "accepted", "message": "queued"}, "delivered"),
        ({"code": 10000, "msg": "Success"}, "delivered"),
        ({"StatusCode": 0, "StatusMessage": "success"}, "delivered"),
    ],
)
def test_a_json_webhook_answering_200_with_an_error_code_in_its_body_is_no_delivery(monkeypatch, answer, read_as):
    """A JSON webhook in front of a robot answers HTTP 200 whatever happened; only its body says. WeCom's and
    DingTalk's `errcode` was read, but a Feishu robot (or a gateway) writes {"code": 19021, "msg": ...}: that was
    recorded as delivered, for ever, while nobody got a thing. A numeric `code` beside a `msg` is now read as an
    errcode is (an expired access_token or a signature refuses the channel, a rate limit waits its minute); a
    success, or a code that is no number, is still a delivery."""
    from alert_receivers import HttpSink

    from pipelines.alerts.channels import CHANNEL_REFUSING, RATE_LIMITED, send

    monkeypatch.setenv("IPCITY_ALERT_PRIVATE_NETWORKS", "127.0.0.0/8")
    hook = HttpSink(reply=lambda request: answer).start()
    try:
        msg = {"idempotency_key": "k", "recipient": "ops", "route": "r", "subject": "s", "body": "b", "payload": {}}
        ok, response = send(
            {**msg, "channel": "gateway"}, {"type": "webhook", "url": f"http://127.0.0.1:{hook.port}/hook"}
        )
    finally:
        hook.stop()
    if read_as == "delivered":
        assert ok, response
        return
    assert not ok and str(answer.get("code", answer.get("errcode"))) in response, response
    assert {
        "channel": response.startswith(CHANNEL_REFUSING),
        "rate": response.startswith(RATE_LIMITED + "60 s"),
        "retry": response.startswith("robot refused: "),
    }[read_as], response


# --------------------------------------------------------------------------- secrets a routing mistake quoted
SECRET = "Sup3r-S3cret!pw"


@pytest.mark.parametrize(
    "channel_text",
    [
        # a quote left open on the password's line: YAML quoted the line in its error
        f'{{type: smtp, host: smtp.example.cn, port: 587, starttls: true, username: u, password: "{SECRET}, sender: a@b.cn}}',
        # the password itself written where the variable's name goes
        f'{{type: smtp, host: smtp.example.cn, port: 587, starttls: true, username: u, password_env: "{SECRET}"}}',
        f'{{type: webhook, url: "https://gw.example.cn/a", headers_env: {{Authorization: "Bearer {SECRET}"}}}}',
    ],
)
def test_a_secret_on_a_bad_routing_line_is_never_quoted_in_the_refusal(tmp_path, channel_text):
    """A routing file is read by the run's alert step, whose refusals go to the run's log, the step's metadata, the
    data engineers' alert mail and the alert store. PyYAML's error quoted the line it could not read (a password with
    its quote unclosed), and a password written in `password_env` was named as "the variable" to set in every
    attempt's answer. The refusal now says what and where (file, line, column, entry) and never repeats the value."""
    from pipelines.alerts.config import AlertConfigError

    path = tmp_path / "routing.yaml"
    path.write_text(
        'version: "1"\nchannels:\n'
        f"  c: {channel_text}\n"
        "routes:\n  - {name: n, audience: city, recipients: {c: [a@b.cn]}}\n",
        encoding="utf-8",
    )
    with pytest.raises(AlertConfigError) as refused:
        load_routing(path)
    assert SECRET not in str(refused.value) and "line 3" in str(refused.value), refused.value
    problems = " ".join(str(p) for p in load_routing(path, strict=False).problems)
    assert problems and SECRET not in problems


# ------------------------------------------------------------------------------------------- a route test
def test_a_route_test_tells_its_recipient_there_is_nothing_to_do_and_whom_to_ask_to_stop(site):
    """`ipcity alerts test` sent an office "测试消息：路由 …，通道 …。" and nothing more: a digest ends with what to do
    and how to stop receiving them, the test said neither, and an office that got one unannounced asked what it
    meant. It now says, in each route's language, that nothing is to be done and whom to ask to stop them."""
    from pipelines.alerts import send_test

    out = site["tmp"] / "outbox"
    site["routing"].write_text(
        yaml.safe_dump(
            {
                "version": "t",
                "channels": {"out": {"type": "file", "dir": str(out)}},
                "routes": [
                    {"name": "national_office", "audience": "city", "recipients": {"out": ["n@test.local"]}},
                    {"name": "english", "audience": "city", "lang": "en", "recipients": {"out": ["e@test.local"]}},
                ],
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    assert [r["status"] for r in send_test()] == ["delivered", "delivered"]
    with connect() as con:
        bodies = dict(con.execute("SELECT recipient, body FROM alerts.messages").fetchall())
    assert "无需处理" in bodies["n@test.local"] and "nothing to do" in bodies["n@test.local"]
    assert "运维人员" in bodies["n@test.local"] and "operators" in bodies["e@test.local"]
    assert "无需处理" not in bodies["e@test.local"]  # an English route reads English alone


# ------------------------------------------------------------------------------- one mailbox, one digest
def test_one_mailbox_written_several_ways_on_a_route_gets_one_digest_and_the_rest_is_named(site):
    """The national office's mailbox listed as "ops@x.cn", "OPS@X.CN" and "运维 <ops@x.cn>" (three operators adding
    it over time) was three recipients: the office got every digest three times. The first entry is kept; each later
    one is left out and named (file, route, why) as the routing file's other mistakes are."""
    out = site["tmp"] / "outbox"
    site["routing"].write_text(
        yaml.safe_dump(
            {
                "version": "t",
                "channels": {"out": {"type": "file", "dir": str(out)}},
                "routes": [
                    {
                        "name": "national_office",
                        "audience": "city",
                        "recipients": {"out": ["ops@x.cn", "OPS@X.CN", "运维 <ops@x.cn>", "other@x.cn"]},
                    },
                    {
                        "name": "province_office",
                        "audience": "city",
                        "per": "province",
                        "recipients": {"out": ["ipo-{province_code}@x.cn", "IPO-{province_code}@X.cn"]},
                    },
                ],
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    problems = [str(p) for p in load_routing(strict=False).problems]
    assert len(problems) == 3 and all("one mailbox gets one digest" in p for p in problems), problems
    assert any("'OPS@X.CN' is the mailbox of 'ops@x.cn'" in p for p in problems)
    set_status(site["warehouse"], "410100", "limited_progress")
    sent = run_alerts(site["warehouse"], "run-1")["messages"]
    city_digests = sorted(m["recipient"] for m in sent if m["route"] != "data_engineers")
    assert city_digests == ["ipo-410000@x.cn", "ops@x.cn", "other@x.cn"], sent


def test_a_variable_name_no_shell_writes_is_taken_when_the_environment_holds_it(tmp_path, monkeypatch):
    """A deployment that named its password variable IPCITY-SMTP.PASSWORD (set by systemd or a container) keeps its
    channel: only a value that is neither a variable's name nor in the environment is refused as a secret."""
    monkeypatch.setenv("IPCITY-SMTP.PASSWORD", "x")
    path = tmp_path / "routing.yaml"
    cfg = {
        "version": "t",
        "channels": {
            "mail": {
                "type": "smtp",
                "host": "smtp.example.cn",
                "port": 587,
                "starttls": True,
                "username": "u",
                "password_env": "IPCITY-SMTP.PASSWORD",
                "sender": "a@example.cn",
            }
        },
        "routes": [{"name": "n", "audience": "city", "recipients": {"mail": ["a@b.cn"]}}],
    }
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    assert not load_routing(path).problems


@pytest.mark.parametrize("kind", ["wecom", "dingtalk"])
def test_an_alert_storm_to_one_robot_is_paced_under_its_minute_limit(site, monkeypatch, kind):
    """25 digests due at once on one group robot (a storm: one per province office on a shared robot): all were sent
    in the same second, the 21st on was refused (WeCom 45009) or got the robot throttled for ten minutes (DingTalk
    130101). A dispatch now sends a robot at most its minute's worth (one short of 20); the rest wait, untried (no
    attempt spent), and go with the next dispatch once the minute has passed."""
    from datetime import timedelta

    from pipelines.alerts.channels import ROBOT_PER_MINUTE
    from pipelines.alerts.store import iso

    monkeypatch.setenv("TEST_ROBOT_KEY", ROBOT_KEY)
    hook = HttpSink().start()
    try:
        robot_routing(site["routing"], hook.port, kind=kind)
        cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
        # 25 routes on one robot (a route's members on a robot are one message since round 15)
        cfg["routes"] = [{**cfg["routes"][0], "name": f"route-{i:02d}"} for i in range(25)]
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        set_status(site["warehouse"], "410100", "limited_progress")
        out = run_alerts(site["warehouse"], "run-1")
        assert len(hook.requests) == ROBOT_PER_MINUTE < 20, out["deliveries"]
        waiting = [(s, n) for s, n, *_ in _robot_messages() if s != "delivered"]
        assert waiting == [("pending", 0)] * (25 - ROBOT_PER_MINUTE)
        assert deliver_due(load_routing()) == [] and len(hook.requests) == ROBOT_PER_MINUTE  # the minute is full

        with connect() as con:  # the minute has passed
            old = iso(parse(con.execute("SELECT max(attempted_at) FROM alerts.deliveries").fetchone()[0]))
            con.execute("UPDATE alerts.deliveries SET attempted_at = ?", (iso(parse(old) - timedelta(seconds=61)),))
        assert [d["status"] for d in deliver_due(load_routing())] == ["delivered"] * (25 - ROBOT_PER_MINUTE)
        assert len(hook.requests) == 25 and {s for s, *_ in _robot_messages()} == {"delivered"}

        # the clock set back an hour: attempts stamped "later" than now do not keep the robot's minute full
        from pipelines.alerts.lifecycle import _robot_minute_full

        with connect() as con:
            con.execute("UPDATE alerts.deliveries SET attempted_at = ?", (iso(parse(old) + timedelta(hours=1)),))
        assert not _robot_minute_full(None, load_routing(), "robot")
    finally:
        hook.stop()
