"""Alerts that reach people, round 10: where a webhook may point (loopback and private addresses only inside the
networks the deployment names, the address checked is the address connected to, no redirect followed), and times
in notice texts in Beijing time (tests/test_alerts_ledger_answers.py: the ledger's answers in 简体中文).

Real receivers only: HTTP receivers on 127.0.0.x, a real SQLite store and Dagster instance. The one
stand-in is the name resolver in the rebinding test: a DNS server that changes its answer between two lookups is
what an attacker runs, and the test machine's resolver cannot be made one.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from alert_receivers import HttpSink, free_port

from pipelines.alerts import channels
from pipelines.settings import ALERT_PRIVATE_NETWORKS_ENV


def _digest(recipient: str = "hook") -> dict:
    return {
        "idempotency_key": "k" * 32,
        "route": "data_engineers",
        "recipient": recipient,
        "subject": "【知识产权强市监测】新预警 1 条",
        "body": "郑州市：关键目标进展有限",
        "html": None,
        "payload": {},
    }


def _hook(url: str) -> dict:
    return {"type": "webhook", "url": url, "timeout": 2, "session_timeout": 5}


# ------------------------------------------------------------------------ loopback and private addresses
@pytest.fixture
def receiver():
    sink = HttpSink().start()
    yield sink
    sink.stop()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
def test_by_default_a_webhook_on_this_machine_is_not_sent(receiver, monkeypatch, host):
    """Loopback and private addresses were allowed to every webhook and robot endpoint: a routing file (operators
    edit it, a province's among them) could point one at the machine's own services (an admin API on
    127.0.0.1) and have the digest POSTed there, the answer kept in the ledger. By default they are refused for good
    before any connection, naming the deployment setting that opens a gateway's network."""
    monkeypatch.delenv(ALERT_PRIVATE_NETWORKS_ENV, raising=False)
    ok, response = channels.send(_digest(), _hook(f"http://{host}:{receiver.port}/admin"))
    assert not ok and response.startswith(channels.PERMANENT + "not sent:"), response
    assert ALERT_PRIVATE_NETWORKS_ENV in response
    robot = {"type": "wecom", "key": "k" * 20, "endpoint": f"http://{host}:{receiver.port}/cgi-bin/webhook/send"}
    ok, response = channels.send(_digest(), {**robot, "timeout": 2, "session_timeout": 5})
    assert not ok and ALERT_PRIVATE_NETWORKS_ENV in response, response
    assert receiver.requests == []


@pytest.mark.parametrize("url", ["http://10.20.30.40/alerts", "http://192.168.1.1/", "http://[fd12:3456::1]/"])
def test_by_default_a_webhook_on_a_private_address_is_not_sent(monkeypatch, url):
    monkeypatch.delenv(ALERT_PRIVATE_NETWORKS_ENV, raising=False)
    ok, response = channels.send(_digest(), _hook(url))
    assert not ok and response.startswith(channels.PERMANENT + "not sent:") and "private" in response, response


def test_an_on_premise_gateway_is_reached_once_its_network_is_named(receiver, monkeypatch):
    """The deployment names its gateway's network: that one is reached, its neighbours are not."""
    monkeypatch.setenv(ALERT_PRIVATE_NETWORKS_ENV, "127.0.0.1/32")
    ok, response = channels.send(_digest(), _hook(f"http://127.0.0.1:{receiver.port}/alerts"))
    assert ok, response
    assert len(receiver.requests) == 1
    ok, response = channels.send(_digest(), _hook(f"http://127.0.0.2:{receiver.port}/alerts"))
    assert not ok and "127.0.0.2" in response


def test_a_metadata_address_stays_refused_whatever_the_setting(monkeypatch):
    monkeypatch.setenv(ALERT_PRIVATE_NETWORKS_ENV, "0.0.0.0/0,::/0")
    ok, response = channels.send(_digest(), _hook("http://169.254.169.254/latest/meta-data/"))
    assert not ok and "metadata" in response


def test_a_setting_that_is_not_a_network_is_named(monkeypatch):
    monkeypatch.setenv(ALERT_PRIVATE_NETWORKS_ENV, "10.0.0.0/8, gateway.intra")
    ok, response = channels.send(_digest(), _hook("http://10.1.2.3/"))
    assert not ok and ALERT_PRIVATE_NETWORKS_ENV in response and "'gateway.intra'" in response, response


# ---------------------------------------------------------------------------------------- DNS rebinding
def test_the_address_checked_is_the_address_connected_to(receiver, monkeypatch):
    """DNS rebinding: a name answers an allowed address to the check and another one (an internal service's) to the
    connection's own lookup a moment later. The check resolved the name and the request resolved it again, so the
    digest went where nobody had checked. It is resolved once now and the connection made to that address, with the
    name kept in the Host header."""
    monkeypatch.setenv(ALERT_PRIVATE_NETWORKS_ENV, "127.0.0.1/32")
    real = socket.getaddrinfo
    answers = []

    def rebinding(host, *args, **kwargs):
        if host == "hook.rebind.test":
            # the first answer is the allowed gateway, every later one an address outside the allowed network
            ip = "127.0.0.1" if not answers else "10.255.255.1"
            answers.append(ip)
            return real(ip, *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    ok, response = channels.send(_digest(), _hook(f"http://hook.rebind.test:{receiver.port}/alerts"))
    assert ok, response
    assert answers == ["127.0.0.1"]  # one lookup, the checked one
    assert receiver.requests[0]["headers"]["Host"] == f"hook.rebind.test:{receiver.port}"


def test_a_redirect_to_an_unchecked_address_is_not_followed(monkeypatch):
    """A gateway answering 307 (method and body kept) with a Location inside the machine: requests followed it and
    POSTed the digest to an address nobody had checked. No redirect is followed; the 3xx is the ledger's answer."""
    monkeypatch.setenv(ALERT_PRIVATE_NETWORKS_ENV, "127.0.0.1/32")
    inner = HttpSink(port=free_port())
    inner.server.server_close()
    inner.server = ThreadingHTTPServer(("127.0.0.2", inner.port), inner.server.RequestHandlerClass)
    inner.thread = threading.Thread(target=inner.server.serve_forever, daemon=True)
    inner.start()

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.2:{inner.port}/internal")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    outer = ThreadingHTTPServer(("127.0.0.1", free_port()), Redirect)
    threading.Thread(target=outer.serve_forever, daemon=True).start()
    try:
        ok, response = channels.send(_digest(), _hook(f"http://127.0.0.1:{outer.server_port}/alerts"))
        assert not ok, response
        assert inner.requests == []
        assert "307" in response, response
    finally:
        outer.shutdown()
        outer.server_close()
        inner.stop()


def test_the_json_body_still_reaches_an_allowed_gateway_whole(receiver, monkeypatch):
    monkeypatch.setenv(ALERT_PRIVATE_NETWORKS_ENV, "127.0.0.0/8")
    ok, response = channels.send(_digest(), _hook(f"http://127.0.0.1:{receiver.port}/alerts"))
    assert ok, response
    body = receiver.requests[0]["json"]
    assert body["message"] == "郑州市：关键目标进展有限"
    assert json.loads(receiver.requests[0]["raw"])["title"].startswith("【知识产权强市监测】")


# ------------------------------------------------------------------------------------ times in notice texts
def test_a_dead_run_notice_gives_its_time_in_beijing_time(tmp_path, monkeypatch):
    """The engineers' dead-run notice said "marked failed at 2026-12-05 06:20:00 UTC" in its Chinese text as in its
    English: a reader in China takes a time for Beijing's, eight hours off. The time is in Beijing time now, marked
    so (UTC+8 in English: "CST" is also US Central Standard Time), and the Chinese text is Chinese."""
    from datetime import UTC, datetime

    import dagster as dg

    from pipelines.alerts.runs import dead_run_texts, notify_dead_run
    from pipelines.alerts.store import connect

    texts = dead_run_texts(4242, "STARTED", datetime(2026, 12, 5, 6, 20, tzinfo=UTC))
    assert "2026-12-05 14:20 北京时间" in texts["zh"] and "UTC" not in texts["zh"]
    assert "2026-12-05 14:20 UTC+8" in texts["en"] and "06:20" not in texts["en"] and "CST" not in texts["en"]
    assert not re.search(r"\b(run process|killed|queue)\b", texts["zh"])

    monkeypatch.setenv("IPCITY_ALERT_STORE", str(tmp_path / "alerts.sqlite"))
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))

    @dg.op
    def step():
        return 1

    @dg.job
    def slow_job():
        step()

    with dg.DagsterInstance.ephemeral() as instance:
        run = slow_job.execute_in_process(instance=instance).dagster_run
        notify_dead_run(instance, run, texts)
    with connect() as con:
        zh, en = con.execute("SELECT title_zh, title_en FROM alerts.alerts WHERE rule_id = 'dead_run'").fetchone()
    assert "14:20 北京时间" in zh and "14:20 UTC+8" in en and "06:20" not in zh + en and "CST" not in en
    assert "UTC" not in zh


def test_behind_the_deployments_proxy_a_name_this_machine_cannot_resolve_still_goes_out(receiver, monkeypatch):
    """Offices reach the internet through a proxy that resolves the names this machine cannot. The check resolves
    the name first; one that does not resolve here is left to the proxy (HTTP_PROXY / HTTPS_PROXY), not retried for
    ever. (A real forward proxy's side: the receiver gets the absolute-URI request a proxy gets.)"""
    monkeypatch.delenv(ALERT_PRIVATE_NETWORKS_ENV, raising=False)
    for var in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{receiver.port}")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{receiver.port}")
    ok, response = channels.send(_digest(), _hook("http://hook.example.invalid/alerts"))
    assert ok, response
    assert receiver.requests[0]["path"] == "http://hook.example.invalid/alerts"


def test_over_https_the_pinned_connection_keeps_the_name_for_sni_and_the_certificate(tmp_path, monkeypatch):
    """The connection goes to the checked address, and TLS still speaks to the name: the server is asked for
    hook.rebind.test (SNI) and its certificate for that name is verified (a pin that put the address in its place
    would fail verification, or reach the wrong virtual host of a gateway)."""
    import ssl
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=hook.rebind.test",
         "-addext", "subjectAltName=DNS:hook.rebind.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    names, bodies = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            bodies.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0))))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"errcode": 0}')

        def log_message(self, *args):
            pass

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    ctx.sni_callback = lambda sock, name, context: names.append(name)
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    monkeypatch.setenv(ALERT_PRIVATE_NETWORKS_ENV, "127.0.0.1/32")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    real = socket.getaddrinfo
    answers = []

    def rebinding(host, *args, **kwargs):
        if host == "hook.rebind.test":
            answers.append(host)
            return real("127.0.0.1" if len(answers) == 1 else "10.255.255.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    try:
        ok, response = channels.send(_digest(), _hook(f"https://hook.rebind.test:{server.server_port}/alerts"))
    finally:
        server.shutdown()
        server.server_close()
    assert ok, response
    assert names == ["hook.rebind.test"] and len(answers) == 1
    assert bodies[0]["message"] == "郑州市：关键目标进展有限"


# ----------------------------------------------------------------- an alert that leaves a recipient's scope
def test_a_city_moved_to_another_province_is_not_left_firing_with_its_old_office(tmp_path, monkeypatch):
    """Zhengzhou's alert fired and Henan's office heard it; the reference data then put the city in another
    province. The new office heard it fire (it had not), the old one heard nothing more, ever: not the resolution
    (which goes to whoever the alert now reaches) nor that it was no longer Henan's. The old office is now told once
    that the alert is still firing but no longer its concern, and where it went; nothing more after."""
    import duckdb
    from alert_receivers import SmtpSink
    from test_alerts import run_alerts, set_status, write_target_marts
    from test_alerts_round5 import write_routing

    monkeypatch.setenv("IPCITY_ALERT_ROUTING", str(tmp_path / "routing.yaml"))
    monkeypatch.setenv("IPCITY_ALERT_STORE", str(tmp_path / "alerts.sqlite"))
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    wh = write_target_marts(tmp_path / "warehouse.duckdb", status="on_track")
    sink = SmtpSink().start()
    try:
        write_routing(tmp_path / "routing.yaml", sink.port)
        set_status(wh, "410100", "limited_progress")
        run_alerts(wh, "run-1")
        assert len(sink.to("ipo-410000@test.local")) == 1
        with duckdb.connect(str(wh)) as con:
            con.execute(
                "update marts.dim_city set province_code = '130000', province_name = '河北省' where unit_code = '410100'"
            )
        run_alerts(wh, "run-2")
        old = sink.to("ipo-410000@test.local")
        assert len(old) == 2, [m["Subject"] for m in old]
        text = SmtpSink.text(old[-1])
        assert "郑州市" in text and "仍在预警，但该市现属河北省" in text and "now belongs to 河北省" in text
        assert len(sink.to("ipo-130000@test.local")) == 1 and not sink.to("national@test.local")[1:]
        n = len(sink.messages)
        run_alerts(wh, "run-3")  # nothing changed: nobody is told again
        assert len(sink.messages) == n
        set_status(wh, "410100", "on_track")
        run_alerts(wh, "run-4")
        got = sorted(m["X-Envelope-To"] for m in sink.messages[n:])
        assert got == ["ipo-130000@test.local", "national@test.local"], got  # the old office has no more to hear
    finally:
        sink.stop()


def test_a_route_that_no_longer_takes_a_rule_tells_its_recipients_once(tmp_path, monkeypatch):
    """The province route is narrowed to the stage rule while a target alert fires: the offices that heard it fire
    are told once that it is no longer sent to them (not left believing it fires for ever, not told it resolved)."""
    import yaml
    from alert_receivers import SmtpSink
    from test_alerts import run_alerts, set_status, write_target_marts
    from test_alerts_round5 import write_routing

    routing = tmp_path / "routing.yaml"
    monkeypatch.setenv("IPCITY_ALERT_ROUTING", str(routing))
    monkeypatch.setenv("IPCITY_ALERT_STORE", str(tmp_path / "alerts.sqlite"))
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    wh = write_target_marts(tmp_path / "warehouse.duckdb", status="on_track")
    sink = SmtpSink().start()
    try:
        write_routing(routing, sink.port)
        set_status(wh, "410100", "limited_progress")
        run_alerts(wh, "run-1")
        cfg = yaml.safe_load(routing.read_text(encoding="utf-8"))
        cfg["routes"][0]["rules"] = ["stage"]
        routing.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        n = len(sink.messages)
        run_alerts(wh, "run-2")
        (told,) = sink.messages[n:]
        assert told["X-Envelope-To"] == "ipo-410000@test.local"
        assert "路由已不再把此类预警发给本收件人" in SmtpSink.text(told)
        n = len(sink.messages)
        run_alerts(wh, "run-3")
        assert len(sink.messages) == n
    finally:
        sink.stop()
