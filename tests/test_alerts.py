"""Alerts that reach people: lifecycle, grouping, routing, silences and delivery over real loopback channels.

A real DuckDB warehouse file holds the marts the rules read (in their contract columns), a real SMTP server
(aiosmtpd) and a real HTTP receiver listen on 127.0.0.1, and the alert store is a real SQLite file.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
import yaml
from alert_receivers import HttpSink, SmtpSink, free_port

from pipelines.alerts import evaluate_and_notify
from pipelines.alerts.config import AlertConfigError, load_routing
from pipelines.alerts.lifecycle import deliver_due
from pipelines.alerts.store import acknowledge, connect, expire_silence, silence

CITIES = [
    # unit_code, unit_name, province_code, province_name
    ("410100", "郑州市", "410000", "河南省"),
    ("410700", "新乡市", "410000", "河南省"),
    ("320500", "苏州市", "320000", "江苏省"),
]
NAMES_EN = {"410100": "Zhengzhou", "410700": "Xinxiang", "320500": "Suzhou"}


def routing_yaml(path, smtp_port: int, http_port: int, *, backoff=(0.3,), immediate=2) -> None:
    cfg = {
        "version": "test",
        "channels": {
            "mail": {
                "type": "smtp",
                "host": "127.0.0.1",
                "port": smtp_port,
                "sender": "monitor@test.local",
                "timeout": 5,
            },
            "hook": {"type": "webhook", "url": f"http://127.0.0.1:{http_port}/alerts", "timeout": 3},
        },
        "routes": [
            {
                "name": "province_office",
                "audience": "city",
                "per": "province",
                "recipients": {"mail": ["ipo-{province_code}@test.local"]},
            },
            {
                "name": "national_office",
                "audience": "city",
                "recipients": {"mail": ["national@test.local"], "hook": ["national-ops"]},
            },
            {
                "name": "data_engineers",
                "audience": "engineering",
                "recipients": {"mail": ["de@test.local"], "hook": ["de-ops"]},
            },
        ],
        "delivery": {"immediate_attempts": immediate, "backoff_seconds": list(backoff), "max_attempts": 50},
    }
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


@pytest.fixture
def env(tmp_path, monkeypatch, smtp):
    """A warehouse with the target mart, a routing file pointing at the loopback receivers, an alert store."""
    http_port = free_port()
    routing = tmp_path / "routing.yaml"
    routing_yaml(routing, smtp.port, http_port)
    monkeypatch.setenv("IPCITY_ALERT_ROUTING", str(routing))
    monkeypatch.setenv("IPCITY_ALERT_STORE", str(tmp_path / "alerts.sqlite"))
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    wh = write_target_marts(tmp_path / "warehouse.duckdb", status="on_track")
    return {"warehouse": wh, "http_port": http_port, "routing": routing, "tmp": tmp_path}


def write_target_marts(wh: Path, *, status: str) -> Path:
    """The marts the target alerts read: the cities, one indicator, and every city's key target in ``status``
    (on_track: 90 of 100; limited_progress: 50 of 100)."""
    current, progress = (90, 0.9) if status == "on_track" else (50, 0.5)
    with duckdb.connect(str(wh)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.dim_city (unit_code varchar, unit_name varchar, unit_name_en varchar, "
            "province_code varchar, province_name varchar, is_programme boolean, programme_status varchar)"
        )
        con.executemany(
            "insert into marts.dim_city values (?, ?, ?, ?, ?, true, 'active')",
            [(code, name, NAMES_EN[code], p, pn) for code, name, p, pn in CITIES],
        )
        con.execute(
            "create table marts.dim_indicator as select 'v1' as catalog_version, 'pledge_amount' as indicator_code, "
            "'质押融资额' as name_zh, 'Pledge financing' as name_en"
        )
        con.execute(
            "create table marts.fct_target_status (unit_code varchar, plan_id varchar, indicator_code varchar, "
            "status varchar, status_year integer, current_value double, target_value double, target_year integer, "
            "progress_index double, growth_ratio double, is_key_target boolean)"
        )
        con.executemany(
            "insert into marts.fct_target_status values (?, 'plan_2021_2025', 'pledge_amount', ?, 2024, ?, 100, 2025, "
            "?, 1.0, true)",
            [(code, status, current, progress) for code, *_ in CITIES],
        )
    return wh


def set_status(wh, unit_code: str, status: str) -> None:
    with duckdb.connect(str(wh)) as con:
        con.execute("update marts.fct_target_status set status = ? where unit_code = ?", [status, unit_code])


def run_alerts(wh, run_id: str) -> dict:
    with duckdb.connect(str(wh)) as con:
        return evaluate_and_notify(con, run_id=run_id)


def wait_for(pred, timeout=10.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_falling_behind_one_digest_per_route_then_nothing_then_one_resolution(env, smtp):
    http = HttpSink(env["http_port"]).start()
    try:
        out = run_alerts(env["warehouse"], "run-0")
        assert out["messages"] == [] and not smtp.messages and not http.requests  # everything on track

        # Two cities of Henan and one of Jiangsu fall behind in the same run.
        for code in ("410100", "410700", "320500"):
            set_status(env["warehouse"], code, "limited_progress")
        out = run_alerts(env["warehouse"], "run-1")
        assert out["transitions"]["new"] == 3
        assert wait_for(lambda: len(smtp.messages) == 3 and len(http.requests) == 1)
        time.sleep(0.3)
        # one message per recipient: each province office, the national office by mail and by webhook
        assert sorted(m["X-Envelope-To"] for m in smtp.messages) == [
            "ipo-320000@test.local",
            "ipo-410000@test.local",
            "national@test.local",
        ]
        henan = SmtpSink.text(smtp.to("ipo-410000@test.local")[0])
        assert "郑州市" in henan and "新乡市" in henan and "苏州市" not in henan  # its own cities, one digest
        national = SmtpSink.text(smtp.to("national@test.local")[0])
        assert all(name in national for _, name, _, _ in CITIES)
        for m in smtp.messages:
            assert m["X-Idempotency-Key"] and m["Message-ID"].startswith(f"<{m['X-Idempotency-Key']}@")
        hook = http.requests[0]
        assert hook["json"]["recipient"] == "national-ops" and len(hook["json"]["firing"]) == 3
        assert hook["headers"]["X-Idempotency-Key"] == hook["json"]["idempotency_key"]
        assert not [m for m in smtp.messages if "de@test.local" in m["X-Envelope-To"]]

        # A second run with no change sends nothing (ongoing alerts are not re-sent).
        out = run_alerts(env["warehouse"], "run-2")
        assert out["transitions"]["ongoing"] == 3 and out["messages"] == []
        time.sleep(0.3)
        assert len(smtp.messages) == 3 and len(http.requests) == 1

        # Recovery of one city: one resolution notice per route that heard of it, nothing to Jiangsu.
        set_status(env["warehouse"], "410700", "on_track")
        out = run_alerts(env["warehouse"], "run-3")
        assert out["transitions"]["resolved"] == 1
        assert wait_for(lambda: len(smtp.messages) == 5 and len(http.requests) == 2)
        new = smtp.messages[3:]
        assert sorted(m["X-Envelope-To"] for m in new) == ["ipo-410000@test.local", "national@test.local"]
        assert all("解除1条" in m["Subject"] and "新乡市" in SmtpSink.text(m) for m in new)
        assert http.requests[1]["json"]["resolved"][0]["unit_code"] == "410700"
        # and a run after the recovery sends nothing again
        assert run_alerts(env["warehouse"], "run-4")["messages"] == []
        time.sleep(0.3)
        assert len(smtp.messages) == 5 and len(http.requests) == 2

        with connect(read_only=True) as con:
            ledger = con.execute("select status, count(*) from alerts.deliveries group by status").fetchall()
        assert dict(ledger) == {"delivered": 7}
    finally:
        http.stop()


def test_receiver_down_is_retried_and_gets_the_message_exactly_once(env, smtp):
    set_status(env["warehouse"], "320500", "deteriorating")
    out = run_alerts(env["warehouse"], "run-1")  # the webhook receiver is not listening yet
    hook = [m for m in out["messages"] if m["channel"] == "hook"]
    assert hook and hook[0]["status"] == "retry"  # not delivered yet, will be retried
    with connect(read_only=True) as con:
        attempts = con.execute(
            "select d.attempt, d.status, d.response, d.next_retry_at from alerts.deliveries d "
            "join alerts.messages m using (idempotency_key) where m.channel = 'hook' order by d.attempt"
        ).fetchall()
    assert [a[1] for a in attempts] == ["retry", "retry"] and all(a[3] for a in attempts)
    assert all("connection error" in (a[2] or "").lower() for a in attempts), [tuple(a) for a in attempts]
    assert len(smtp.messages) == 2  # the mail channel was up: delivered at once

    # Still down at the next dispatch: retried again, nothing lost, nothing duplicated in the outbox.
    time.sleep(0.4)
    assert deliver_due(load_routing())[0]["status"] == "retry"

    http = HttpSink(env["http_port"]).start()
    try:
        time.sleep(0.4)
        delivered = deliver_due(load_routing())
        assert [d["status"] for d in delivered] == ["delivered"]
        assert len(http.requests) == 1
        # further dispatches and runs never send it again
        time.sleep(0.4)
        assert deliver_due(load_routing()) == []
        assert run_alerts(env["warehouse"], "run-2")["messages"] == []
        time.sleep(0.3)
        assert len(http.requests) == 1 and len(smtp.messages) == 2
        body = http.requests[0]["json"]
        assert body["firing"][0]["unit_code"] == "320500"
        with connect(read_only=True) as con:
            msg = con.execute("select status, attempts from alerts.messages where channel = 'hook'").fetchone()
        assert tuple(msg) == ("delivered", 5)  # 2 + 2 attempts while down, then 1
    finally:
        http.stop()


def test_silenced_alert_is_not_sent_and_is_sent_when_the_silence_ends_while_firing(env, smtp):
    http = HttpSink(env["http_port"]).start()
    try:
        sid = silence(by="tester", duration=timedelta(hours=1), unit_code="410100", comment="known, being fixed")
        set_status(env["warehouse"], "410100", "limited_progress")
        out = run_alerts(env["warehouse"], "run-1")
        assert out["transitions"]["new"] == 1 and out["messages"] == []
        assert run_alerts(env["warehouse"], "run-2")["messages"] == []
        time.sleep(0.3)
        assert not smtp.messages and not http.requests

        expire_silence(sid)  # the silence ends while the city is still behind
        out = run_alerts(env["warehouse"], "run-3")
        assert len(out["messages"]) == 3
        assert wait_for(lambda: len(smtp.messages) == 2 and len(http.requests) == 1)
        assert run_alerts(env["warehouse"], "run-4")["messages"] == []

        # An alert that was already sent, silenced, and still firing when the silence ends is sent again.
        fp = http.requests[0]["json"]["firing"][0]["fingerprint"]
        silence(by="tester", duration=timedelta(seconds=3), fingerprint=fp[:10])  # ends on its own
        assert run_alerts(env["warehouse"], "run-5")["messages"] == []
        time.sleep(3.5)
        out = run_alerts(env["warehouse"], "run-6")
        assert len(out["messages"]) == 3
        assert wait_for(lambda: len(smtp.messages) == 4 and len(http.requests) == 2)
        time.sleep(0.3)
        assert len(smtp.messages) == 4
    finally:
        http.stop()


def test_acknowledge_records_who_and_keeps_the_alert(env, smtp):
    from pipelines.alerts import alert_history

    set_status(env["warehouse"], "410700", "deteriorating")
    run_alerts(env["warehouse"], "run-1")
    fp = alert_history()["fingerprint"][0]
    assert acknowledge(fp[:8], "王工", "已联系市局") == 1
    row = alert_history().row(0, named=True)
    assert row["acked_by"] == "王工" and row["state"] == "firing"


def test_routing_refuses_secrets_in_clear_text(tmp_path):
    bad = tmp_path / "routing.yaml"
    bad.write_text(
        "version: x\nchannels:\n  mail: {type: smtp, host: h, password: hunter2}\nroutes: []\n", encoding="utf-8"
    )
    with pytest.raises(AlertConfigError, match="password_env"):
        load_routing(bad)


def test_secret_files_must_live_outside_the_repository(tmp_path):
    from pipelines.alerts.config import REPO_ROOT, secret

    outside = tmp_path / "dt_secret"
    outside.write_text("SECabc\n", encoding="utf-8")
    assert secret({"secret_file": str(outside)}, "secret") == "SECabc"
    with pytest.raises(AlertConfigError, match="inside the repository"):
        secret({"secret_file": str(REPO_ROOT / "pyproject.toml")}, "secret")
    with pytest.raises(AlertConfigError, match="IPCITY_NOT_SET"):
        secret({"secret_env": "IPCITY_NOT_SET"}, "secret")


def test_smtp_login_secret_from_the_environment(tmp_path, monkeypatch):
    """SMTP AUTH against a real aiosmtpd server, the password read from an environment variable."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from pipelines.alerts.channels import send, send_smtp

    got, logins = [], []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            got.append(envelope)
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    port = free_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False)
    ctl.start()
    try:
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
        ch = {
            "type": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "username": "monitor",
            "password_env": "TEST_SMTP_PASSWORD",
        }
        msg = {"idempotency_key": "k1", "recipient": "a@test.local", "subject": "s", "body": "b", "route": "r"}
        ok, response = send_smtp(msg, ch)
        assert ok, response
        assert logins == [(b"monitor", b"s3cret")] and len(got) == 1
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong")
        ok, response = send({**msg, "idempotency_key": "k2"}, {**ch, "timeout": 5})
        assert not ok and len(got) == 1, response
    except Exception:
        raise
    finally:
        ctl.stop()


def test_monthly_pledge_file_late_by_the_10th(env, smtp):
    """A province whose previous-month pledge statistics are missing after the 10th, while others reported."""
    from datetime import date

    from pipelines.alerts.conditions import pledge_freshness
    from pipelines.alerts.config import load_rules

    with duckdb.connect(str(env["warehouse"])) as con:
        con.execute("create schema raw")
        con.execute("create table raw.pledge_loans (city_code varchar, month date, registrations integer)")
        con.execute("insert into raw.pledge_loans values ('320500', '2025-01-01', 3), ('410100', '2025-01-01', 2)")
        con.execute("insert into raw.pledge_loans values ('320500', '2025-02-01', 4)")  # Henan's February missing
        rules = load_rules()
        assert [c.unit_code for c in pledge_freshness(con, rules, date(2025, 3, 11))] == ["410000"]
        assert pledge_freshness(con, rules, date(2025, 3, 10)) == []  # January is what is due until the 10th
        late = pledge_freshness(con, rules, date(2025, 4, 11))  # nobody delivered March: the source is late
        assert len(late) == 1 and late[0].audience == "engineering" and late[0].subject_key == "pledge_loans:2025-03"


def test_mail_server_down_loses_nothing_and_each_digest_arrives_once(env, monkeypatch):
    """Several digests on a channel that is down: one is tried (the others wait without another timeout);
    when the server is back every digest arrives exactly once."""
    port = free_port()
    routing_yaml(env["routing"], port, env["http_port"])  # nobody listens on the mail port yet
    for code in ("410100", "410700", "320500"):
        set_status(env["warehouse"], code, "limited_progress")
    t0 = time.time()
    out = run_alerts(env["warehouse"], "run-1")
    assert time.time() - t0 < 30
    mail = [m for m in out["messages"] if m["channel"] == "mail"]
    assert len(mail) == 3 and {m["status"] for m in mail} == {"retry"}
    with connect(read_only=True) as con:
        attempts = dict(
            con.execute("select recipient, attempts from alerts.messages where channel = 'mail'").fetchall()
        )
    assert sorted(attempts.values()) == [0, 0, 2]  # only the first digest spent its attempts

    sink = SmtpSink(port).start()
    try:
        time.sleep(0.5)
        assert wait_for(lambda: (deliver_due(load_routing()) or True) and len(sink.messages) == 3, timeout=15)
        time.sleep(0.5)
        deliver_due(load_routing())
        assert len(sink.messages) == 3
        keys = [m["X-Idempotency-Key"] for m in sink.messages]
        assert len(set(keys)) == 3
        assert sorted(m["X-Envelope-To"] for m in sink.messages) == [
            "ipo-320000@test.local",
            "ipo-410000@test.local",
            "national@test.local",
        ]
    finally:
        sink.stop()


def test_per_province_route_sends_each_province_only_its_own_cities(env, smtp):
    """`per: province` means one digest per province office even when the recipient is the same name for all (a
    provincial gateway behind one webhook): a digest never mixes provinces' cities."""
    cfg = yaml.safe_load(env["routing"].read_text(encoding="utf-8"))
    cfg["routes"] = [
        {"name": "province_gateway", "audience": "city", "per": "province", "recipients": {"hook": ["gateway"]}}
    ]
    env["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    http = HttpSink(env["http_port"]).start()
    try:
        for code in ("410100", "410700", "320500"):
            set_status(env["warehouse"], code, "limited_progress")
        run_alerts(env["warehouse"], "run-1")
        assert wait_for(lambda: len(http.requests) == 2), [r["json"]["firing"] for r in http.requests]
        provinces = sorted({a["province_code"] for a in r["json"]["firing"]} for r in http.requests)
        assert provinces == [{"320000"}, {"410000"}]
    finally:
        http.stop()


def _mail_only_routing(
    path,
    port: int,
    *,
    sender: str = "monitor@test.local",
    province_recipient: str = "ipo-{province_code}@test.local",
    national: str = "national@test.local",
) -> None:
    cfg = {
        "version": "test",
        "channels": {"mail": {"type": "smtp", "host": "127.0.0.1", "port": port, "sender": sender, "timeout": 5}},
        "routes": [
            {
                "name": "province_office",
                "audience": "city",
                "per": "province",
                "recipients": {"mail": [province_recipient]},
            },
            {"name": "national_office", "audience": "city", "recipients": {"mail": [national]}},
        ],
        "delivery": {"immediate_attempts": 2, "backoff_seconds": [0.3], "max_attempts": 50},
    }
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


def test_a_mailbox_refused_for_good_fails_at_once_and_one_refused_for_now_is_retried(env):
    """550 (no such mailbox) is the relay's last word: the digest fails on that attempt, with the relay's answer
    in the delivery log, instead of thirty attempts that all get the same answer. 450 (mailbox busy) is retried."""
    sink = SmtpSink(
        refuse={
            "ipo-410000@test.local": "550 5.1.1 mailbox unavailable",
            "national@test.local": "450 4.2.1 mailbox busy, try later",
        }
    ).start()
    try:
        _mail_only_routing(env["routing"], sink.port)
        set_status(env["warehouse"], "410100", "limited_progress")
        out = {m["recipient"]: m for m in run_alerts(env["warehouse"], "run-1")["messages"]}
        assert out["ipo-410000@test.local"]["status"] == "failed", out
        assert out["national@test.local"]["status"] == "retry", out
        with connect() as con:
            rows = {
                r["recipient"]: dict(r)
                for r in con.execute("SELECT recipient, attempts, status, last_response FROM alerts.messages")
            }
        assert rows["ipo-410000@test.local"]["attempts"] == 1
        assert rows["ipo-410000@test.local"]["status"] == "failed"
        assert "550" in rows["ipo-410000@test.local"]["last_response"]
        assert rows["national@test.local"]["status"] == "pending" and rows["national@test.local"]["attempts"] == 2
        assert sink.messages == []
        # the operator mends nothing and requeues: one more attempt each, and the command shows the answers
        from click.testing import CliRunner

        from pipelines.cli import main

        time.sleep(0.4)  # past the backoff: the busy mailbox is due again
        res = CliRunner().invoke(main, ["alerts", "deliver", "--retry-failed"])
        assert res.exit_code == 0, res.output
        assert "2 due messages: 0 delivered" in res.output
        assert "permanent refusal" in res.output and " 550" in res.output and " 450" in res.output, res.output
    finally:
        sink.stop()


def test_server_that_drops_the_session_after_accepting_gets_each_digest_once(env):
    """A relay that answers 250 to DATA and then closes the connection has the message: it is delivered,
    and neither the next dispatch nor the next run sends it again."""
    sink = SmtpSink(drop_after_accept=True).start()
    try:
        _mail_only_routing(env["routing"], sink.port)
        set_status(env["warehouse"], "410100", "limited_progress")
        out = run_alerts(env["warehouse"], "run-1")
        assert {m["status"] for m in out["messages"]} == {"delivered"}, out["messages"]
        time.sleep(0.8)  # past the backoff: a message wrongly left pending would be due again
        assert deliver_due(load_routing()) == []
        assert run_alerts(env["warehouse"], "run-2")["messages"] == []
        assert sorted(m["X-Envelope-To"] for m in sink.messages) == ["ipo-410000@test.local", "national@test.local"]
    finally:
        sink.stop()


def test_chinese_display_names_reach_a_server_without_smtputf8(env):
    """Sender and recipients written with their office's name (国家知识产权局 <...>) are plain ASCII mailboxes:
    the envelope carries the bare address, the names go into the encoded headers, no SMTPUTF8 is needed."""
    sink = SmtpSink(smtputf8=False).start()
    try:
        _mail_only_routing(
            env["routing"],
            sink.port,
            sender="知识产权强市监测 <monitor@test.local>",
            province_recipient="{province_name}知识产权局 <ipo-{province_code}@test.local>",
            national="国家知识产权局 <national@test.local>",
        )
        set_status(env["warehouse"], "410700", "deteriorating")
        out = run_alerts(env["warehouse"], "run-1")
        assert {m["status"] for m in out["messages"]} == {"delivered"}, out["messages"]
        assert sorted(e["to"][0] for e in sink.envelopes) == ["ipo-410000@test.local", "national@test.local"]
        assert {e["from"] for e in sink.envelopes} == {"monitor@test.local"}
        henan = sink.to("ipo-410000@test.local")[0]
        assert henan["To"].addresses[0].display_name == "河南省知识产权局"
        assert henan["From"].addresses[0].display_name == "知识产权强市监测"
        assert "新乡市" in SmtpSink.text(henan) and "新预警" in henan["Subject"]
    finally:
        sink.stop()


def _self_signed(tmp_path):
    """A certificate for 127.0.0.1 (the office relay's own CA, as a deployment's `cafile` names it)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "relay.pem", tmp_path / "relay.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def test_implicit_tls_relay_trusted_through_cafile(tmp_path):
    """`ssl: true` (port 465) verifies the relay against the channel's `cafile`, as STARTTLS does."""
    import ssl

    from aiosmtpd.controller import Controller

    from pipelines.alerts.channels import send

    cert_file, key_file = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_file, key_file)
    got = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            got.append(envelope)
            return "250 OK"

    port = free_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port, ssl_context=server_ctx)
    ctl.start()
    try:
        ch = {"type": "smtp", "host": "127.0.0.1", "port": port, "ssl": True, "timeout": 5}
        msg = {"idempotency_key": "k1", "recipient": "a@test.local", "subject": "测试", "body": "正文", "route": "r"}
        ok, response = send(msg, ch)
        assert not ok and "CERTIFICATE_VERIFY_FAILED" in response  # an unknown CA is refused, never ignored
        ok, response = send(msg, {**ch, "cafile": str(cert_file)})
        assert ok, response
        assert len(got) == 1
    finally:
        ctl.stop()


@pytest.mark.parametrize(
    "route, expected",
    [
        ({"per": "province", "recipients": {"mail": ["ipo-{province}@x.cn"]}}, r"\{province\}"),
        ({"recipients": {"mail": ["ipo-{province_code}@x.cn"]}}, "per: province"),
        ({"per": "province", "recipients": {"mail": {"410000": ["henan@x.cn"]}}}, "list of recipients"),
        ({"per": "province", "recipients": {"mail": ["ipo-{province_code@x.cn"]}}, "ipo-\\{province_code@x.cn"),
    ],
)
def test_bad_recipient_is_a_config_error_naming_the_route(tmp_path, route, expected):
    """A recipient that cannot be expanded is refused when the routing file is read, naming the file, the route
    and the recipient, instead of crashing the alert step (or silently mailing a wrong address) later."""
    bad = tmp_path / "routing.yaml"
    cfg = {
        "version": "x",
        "channels": {"mail": {"type": "smtp", "host": "127.0.0.1"}},
        "routes": [{"name": "province_office", "audience": "city", **route}],
    }
    bad.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    with pytest.raises(AlertConfigError, match=expected) as e:
        load_routing(bad)
    assert str(bad) in str(e.value) and "province_office" in str(e.value)


def test_cli_reports_a_bad_routing_file_without_a_traceback(env, smtp):
    from click.testing import CliRunner

    from pipelines.cli import main

    env["routing"].write_text(
        "version: x\nchannels:\n  mail: {type: smtp, host: 127.0.0.1}\n"
        "routes:\n  - {name: national_office, audience: city, recipients: {nomail: [a@x.cn]}}\n",
        encoding="utf-8",
    )
    for args in (["alerts", "test"], ["alerts", "deliver"]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code != 0 and not isinstance(res.exception, AlertConfigError), res.output
        assert "unknown channel nomail" in res.output and "national_office" in res.output


def test_route_test_tries_its_own_message_even_behind_a_backlog(env):
    """`ipcity alerts test` is how an office finds out why mail does not go out: behind a backlog of digests
    waiting for a down relay it still tries its own messages and shows the relay's answer."""
    from pipelines.alerts import send_test

    port = free_port()  # nobody listens: the relay is down
    _mail_only_routing(env["routing"], port)
    for code in ("410100", "320500"):
        set_status(env["warehouse"], code, "limited_progress")
    assert {m["status"] for m in run_alerts(env["warehouse"], "run-1")["messages"]} == {"retry"}
    time.sleep(0.8)  # the backlog is due again
    out = send_test()
    assert len(out) == 2 and all(r["status"] == "pending" for r in out)
    assert all("refused" in (r["response"] or "").lower() for r in out), out

    sink = SmtpSink(port).start()
    try:
        out = send_test(route="national_office")
        assert [r["status"] for r in out] == ["delivered"]
        assert [m["X-Envelope-To"] for m in sink.messages if "测试" in m["Subject"]] == ["national@test.local"]
    finally:
        sink.stop()


def test_two_route_tests_in_one_second_are_two_tests(env, smtp):
    """`ipcity alerts test` run twice in a row (the key's time has whole seconds) sends twice; it failed with a
    UNIQUE constraint when both fell in one second."""
    from pipelines.alerts import send_test

    _mail_only_routing(env["routing"], smtp.port)
    tests_sent = lambda: [m for m in smtp.messages if "测试" in m["Subject"]]  # noqa: E731
    before = len(tests_sent())
    first, second = send_test(route="national_office"), send_test(route="national_office")
    assert [r["status"] for r in first + second] == ["delivered", "delivered"]
    assert wait_for(lambda: len(tests_sent()) == before + 2)


def test_chinese_digest_names_the_city_the_figures_and_the_deadline(env, smtp):
    """The Chinese section (what a provincial official reads) carries what the English one does: the city, the
    condition, the figures (current vs target) and, for a late source, the date it was due. A city name with
    markup stays plain text: in the plain part as written, in the HTML part (round 7) escaped, never markup."""
    with duckdb.connect(str(env["warehouse"])) as con:
        con.execute(
            "create table marts.fct_reporting_status (unit_code varchar, source varchar, year integer, "
            "status varchar, due_date date, received_date date, received_after_grace_end boolean)"
        )
        con.execute(
            "insert into marts.fct_reporting_status values ('410700', 'pledge_loans', 2025, 'late', "
            "'2026-03-31', null, false), ('410100', 'pledge_loans', 2025, 'received', '2026-03-31', '2026-03-01', "
            "false), ('410100', 'training_events', 2025, 'not_reported', '2026-03-31', '2026-07-02', true)"
        )
        con.execute("update marts.dim_city set unit_name = '苏州市<b onclick=x>' where unit_code = '320500'")
    set_status(env["warehouse"], "410100", "limited_progress")
    set_status(env["warehouse"], "320500", "deteriorating")
    run_alerts(env["warehouse"], "run-1")
    assert wait_for(lambda: len(smtp.messages) == 3)
    henan = SmtpSink.text(smtp.to("ipo-410000@test.local")[0])
    zh = henan.split("\nTo ipo-410000@test.local")[0]
    assert "郑州市" in zh and "质押融资额" in zh and "进展有限" in zh
    assert "现值 90" in zh and "目标值 100" in zh  # the figures, in Chinese
    assert "新乡市" in zh and "2026-03-31" in zh  # the deadline, in Chinese, not only in the English part
    # a report first received after the grace period stays not reported (counts as exit) and says when it came
    assert "2025 年知识产权培训数据未按期报送" in zh and "2026-07-02 宽限期满后才报送" in zh
    jiangsu = smtp.to("ipo-320000@test.local")[0]
    assert "苏州市<b onclick=x>" in SmtpSink.text(jiangsu)
    page = jiangsu.get_body(preferencelist=("html",)).get_content()
    assert "<b onclick" not in page and "苏州市&lt;b onclick=x&gt;" in page
    # the English part names the city, the source and the status as words, not as the warehouse's ids
    en = henan.split("\nTo ipo-410000@test.local")[1] if "\nTo ipo-410000@test.local" in henan else henan
    assert "Zhengzhou (410100)" in en and "limited progress" in en
    # under the city's English heading (its English name, not its Chinese one)
    assert "\n Xinxiang (410700)\n" in en and "] Pledge loans 2025 is late (due 2026-03-31)" in en
    assert "pledge_loans" not in en and "limited_progress" not in en
