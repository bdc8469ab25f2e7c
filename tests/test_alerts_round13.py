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

import yaml
from alert_receivers import HttpSink, SmtpSink
from alerts_fixtures import bare_site, hook_and_mail  # noqa: F401 - the `site` fixture
from click.testing import CliRunner
from dashboard_fixtures import build_snapshot
from dashboard_http import callback_body, page_body, signed_in_client
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


def _three_roles(path, mail_port: int, hook_port: int, **delivery) -> None:
    """The provincial offices (per province, mail), the national office (mail and a webhook) and the data engineers
    (mail), with a bad route the alert step leaves out (an engineering alert: alert_routing_refused)."""
    cfg = {
        "version": "test",
        "channels": {
            "mail": {"type": "smtp", "host": "127.0.0.1", "port": mail_port, "sender": "m@test.local", "timeout": 5},
            "hook": {"type": "webhook", "url": f"http://127.0.0.1:{hook_port}/alerts", "timeout": 3},
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
            {"name": "data_engineers", "audience": "engineering", "recipients": {"mail": ["de@test.local"]}},
            {"name": "broken", "audience": "nobody", "recipients": {"mail": ["x@test.local"]}},
        ],
        "delivery": {"immediate_attempts": 1, "backoff_seconds": [600], "max_attempts": 50, **delivery},
    }
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


def test_each_recipient_reads_the_next_step_for_its_role_in_mail_webhook_and_dashboard(site):
    """The next step was one per rule, worded for the provincial office ("省局：请联系该市…"), and the national office's
    digest, webhook and dashboard said the same. Now the labels seed words it per recipient role (national office,
    provincial office, data engineer), and each recipient reads its own role's step and not another's."""
    from dashboards.pages.alerts import alert_rows, load_alerts
    from pipelines.alerts.config import load_routing
    from pipelines.labels import next_step

    relay, hook = SmtpSink().start(), HttpSink().start()
    try:
        _three_roles(site["routing"], relay.port, hook.port)
        assert [r.role for r in load_routing(strict=False).routes] == ["province", "national", "engineer"]
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        step = {
            (role, lang): next_step("target_behind", lang, role)
            for role in ("national", "province")
            for lang in ("zh", "en")
        }
        assert step[("national", "zh")] != step[("province", "zh")]
        for address, own, other in (
            ("ipo-410000@test.local", "province", "national"),
            ("national@test.local", "national", "province"),
        ):
            (mail,) = relay.to(address)
            text = SmtpSink.text(mail)
            html = next(p for p in mail.walk() if p.get_content_type() == "text/html").get_content()
            for lang in ("zh", "en"):
                assert step[(own, lang)] in text, (address, text)
                assert step[(other, lang)] not in text and step[(other, "zh")] not in html, (address, text)
            assert step[(own, "zh")] in html
        (sent,) = hook.requests
        (alert,) = sent["json"]["firing"]
        assert alert["next_step"] == {"zh": step[("national", "zh")], "en": step[("national", "en")]}
        (de,) = relay.to("de@test.local")
        assert next_step("alert_routing_refused", "zh", "engineer") in SmtpSink.text(de)
    finally:
        relay.stop()
        hook.stop()

    df, _ = load_alerts("firing")
    city = df.filter(df["rule_id"] == "target_behind")
    engineering = df.filter(df["rule_id"] == "alert_routing_refused")
    for role in ("national", "province"):
        (row,) = alert_rows(city, "zh", role=role)
        assert row["next_step"] == step[(role, "zh")], row
    (row,) = alert_rows(engineering, "en", role="national")  # an engineering alert: the engineers' step on any page
    assert row["next_step"] == next_step("alert_routing_refused", "en", "engineer")

    client = _client(site["tmp"])  # the page itself, signed in as the national office: its own step
    body = callback_body(
        [("al-cards", "children"), ("al-body", "children")],
        [("al-state", "value", "firing"), ("al-city", "value", "410100"), ("al-refresh", "data", 0)],
        [("al-lang", "data", "zh")],
    )
    r = client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
    assert r.status_code == 200, r.data[:1000]
    (row,) = _grid_rows(json.dumps(r.get_json()["response"], ensure_ascii=False))
    assert row["next_step"] == step[("national", "zh")], row


def test_a_route_role_that_does_not_fit_its_audience_is_refused_naming_the_route():
    """`role` in the routing file is checked against the route's audience: a city route for the data engineers (or
    a misspelt role) is refused with the file, route and reason, not silently read as the national office."""
    import tempfile
    from pathlib import Path

    import pytest

    from pipelines.alerts.config import AlertConfigError, load_routing

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "routing.yaml"
        for role in ("engineer", "provincial"):
            cfg = {
                "version": "t",
                "channels": {"out": {"type": "file", "dir": d}},
                "routes": [{"name": "offices", "audience": "city", "role": role, "recipients": {"out": ["a@b.cn"]}}],
            }
            path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
            with pytest.raises(
                AlertConfigError, match=f"route offices.*role must be one of national, province.*{role}"
            ):
                load_routing(path)
            assert not load_routing(path, strict=False).routes


# ------------------------------------------------------------------------------------------------ quiet hours
def test_quiet_hours_are_read_in_beijing_time_across_midnight_and_a_bad_bound_is_refused(tmp_path):
    """03:00 Beijing time (19:00 UTC the day before) is inside 22:00–07:00 and waits until 07:00 Beijing (23:00 UTC);
    08:00 is not; an unquoted 22:00 (YAML 1.1 reads it as 1320) is still 22:00; a bare 22 is refused naming the file,
    the delivery entry and the reason."""
    from datetime import UTC, datetime

    import pytest

    from pipelines.alerts.config import AlertConfigError, load_routing

    path = tmp_path / "routing.yaml"
    base = 'version: t\nchannels: {out: {type: file, dir: ""}}\nroutes: []\ndelivery:\n  quiet_hours: '
    path.write_text(base + "{start: 22:00, end: '07:00'}\n", encoding="utf-8")
    routing = load_routing(path)
    assert [f"{b:%H:%M}" for b in routing.quiet_hours] == ["22:00", "07:00"]
    assert routing.quiet_until(datetime(2026, 12, 5, 19, 0, tzinfo=UTC)) == datetime(2026, 12, 5, 23, 0, tzinfo=UTC)
    assert routing.quiet_until(datetime(2026, 12, 5, 14, 30, tzinfo=UTC)) == datetime(2026, 12, 5, 23, 0, tzinfo=UTC)
    assert routing.quiet_until(datetime(2026, 12, 6, 0, 0, tzinfo=UTC)) is None  # 08:00 Beijing
    assert routing.quiet_until(datetime(2026, 12, 5, 13, 59, tzinfo=UTC)) is None  # 21:59 Beijing
    assert load_routing(path.with_name("none.yaml"), strict=False).quiet_hours is None  # off by default

    path.write_text(base + "{start: 22, end: '07:00'}\n", encoding="utf-8")
    with pytest.raises(AlertConfigError, match=r"routing.yaml.*delivery.*quiet_hours start must be a Beijing time"):
        load_routing(path)
    assert load_routing(path, strict=False).quiet_hours is None  # the run goes on without, the problem named


def _quiet_now(routing_path, **window) -> tuple[str, str]:
    """Quiet hours around the present moment (Beijing time, two hours either side), or as given, in the routing
    file; returns them as written."""
    from datetime import datetime, timedelta

    from pipelines.china_time import CHINA_STANDARD_TIME

    now = datetime.now(CHINA_STANDARD_TIME)
    start = window.get("start") or f"{now - timedelta(hours=2):%H:%M}"
    end = window.get("end") or f"{now + timedelta(hours=2):%H:%M}"
    cfg = yaml.safe_load(routing_path.read_text(encoding="utf-8"))
    cfg["delivery"]["quiet_hours"] = {"start": start, "end": end}
    routing_path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return start, end


def test_inside_quiet_hours_a_failed_run_goes_at_once_the_rest_waits_for_their_end_named_in_status(site):
    """An office got a night's digest at 03:00. With quiet hours set (Beijing time), a digest carrying only a city
    falling behind waits, untried, until the window ends — `ipcity alerts status` lists it with that time — while a
    failed run's alert (urgent in the rules file) reaches the data engineers at once. Once the window is over the
    waiting digests go on the next delivery."""
    from pipelines.alerts import notify_events, run_failure_events
    from pipelines.alerts.config import load_routing
    from pipelines.alerts.lifecycle import deliver_due
    from pipelines.alerts.store import connect, now_utc
    from pipelines.china_time import china_time_text
    from pipelines.cli import main

    relay, hook = SmtpSink().start(), HttpSink().start()
    try:
        _three_roles(site["routing"], relay.port, hook.port)
        cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
        cfg["routes"].pop()  # no broken route this time: the engineers hear of the failed run alone
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        _quiet_now(site["routing"])
        routing = load_routing()
        until = routing.quiet_until(now_utc())
        assert until is not None

        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        notify_events(run_failure_events("r" * 32, "ipcity_job", "boom", [], {}), run_id="r" * 32)
        assert [m["X-Envelope-To"] for m in relay.messages] == ["de@test.local"]  # the urgent one, at once
        assert not hook.requests
        with connect() as con:
            held = con.execute(
                "SELECT recipient, attempts, quiet_until FROM alerts.messages WHERE status = 'pending' ORDER BY recipient"
            ).fetchall()
        assert [(r[0], r[1]) for r in held] == [
            ("ipo-410000@test.local", 0),
            ("national-ops", 0),
            ("national@test.local", 0),
        ]
        assert {r[2] for r in held} == {until.strftime("%Y-%m-%dT%H:%M:%SZ")}

        out = CliRunner().invoke(main, ["alerts", "status"], env={"COLUMNS": "250"})
        assert out.exit_code == 0, out.output
        assert "静默时段" in out.output and "quiet hours" in out.output and "3 digests waiting" in out.output
        assert "national@test.local" in out.output and china_time_text(until, "zh") in out.output, out.output

        deliver_due(load_routing())  # the delivery sensor's next minute, still inside: nothing more
        assert len(relay.messages) == 1 and not hook.requests

        # the window over: one that is not now (at 03:00 Beijing time exactly, one that is, and nothing to check)
        _quiet_now(site["routing"], start="03:00", end="03:01")
        if load_routing().quiet_until(now_utc()) is None:
            deliver_due(load_routing())
            assert sorted(m["X-Envelope-To"] for m in relay.messages[1:]) == [
                "ipo-410000@test.local",
                "national@test.local",
            ]
            assert len(hook.requests) == 1
            quiet = CliRunner().invoke(main, ["alerts", "status"], env={"COLUMNS": "250"})
            assert "0 digests waiting" in quiet.output
    finally:
        relay.stop()
        hook.stop()


def test_a_title_removed_is_urgent_and_a_new_pilot_round_is_not():
    """The rules file says which alerts are urgent, by rule or by status: a title removed (acceptance_band's band),
    a failed or dead run; a band of a new pilot round, a city behind target, are not."""
    from pipelines.alerts.config import load_rules
    from pipelines.alerts.lifecycle import is_urgent

    rules = load_rules()
    band = lambda status: {"rule_id": "acceptance_band", "detail_json": json.dumps({"status": status})}  # noqa: E731
    assert is_urgent(band("title_removed"), rules) and not is_urgent(band("new_pilot_round"), rules)
    assert is_urgent({"rule_id": "run_failed"}, rules) and is_urgent({"rule_id": "dead_run"}, rules)
    assert not is_urgent({"rule_id": "target_behind", "detail_json": "{}"}, rules)


# ------------------------------------------------------------------------------------------------ SMTP as it answers
def test_a_4xx_is_retried_with_backoff_and_a_5xx_parks_that_recipient_alone(site):
    """One relay, three recipients: 450 (mailbox busy) for one, 550 (no such mailbox) for another. The busy one waits
    for its backoff (pending, one attempt, a retry time), the unknown one is parked at once with the relay's answer,
    and the third gets its digest in the same call."""
    from datetime import timedelta

    from pipelines.alerts.store import connect, now_utc, parse

    relay = SmtpSink(
        refuse={"ipo-410000@test.local": "450 4.2.1 mailbox busy", "national@test.local": "550 5.1.1 no such mailbox"}
    ).start()
    try:
        from alerts_fixtures import write_routing

        write_routing(site["routing"], relay.port, backoff=(600,), immediate=1)
        cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
        cfg["routes"].append({"name": "second", "audience": "city", "recipients": {"mail": ["second@test.local"]}})
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        assert [m["X-Envelope-To"] for m in relay.messages] == ["second@test.local"]
        with connect() as con:
            rows = {
                r["recipient"]: dict(r)
                for r in con.execute(
                    "SELECT recipient, status, attempts, next_retry_at, last_response FROM alerts.messages"
                )
            }
        busy, gone = rows["ipo-410000@test.local"], rows["national@test.local"]
        assert (busy["status"], busy["attempts"]) == ("pending", 1) and "450" in busy["last_response"]
        assert parse(busy["next_retry_at"]) >= now_utc() + timedelta(seconds=500)  # the backoff, not the next minute
        assert gone["status"] == "failed" and "550 5.1.1" in gone["last_response"]
        assert rows["second@test.local"]["status"] == "delivered"
    finally:
        relay.stop()


def _tls_relay(tmp, **kw):
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    from alert_receivers import free_port
    from test_alerts import _self_signed

    cert, key = _self_signed(tmp)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    got: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            got.append(envelope.rcpt_tos)
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=auth_data.login == b"ipcity" and auth_data.password == b"pa55-w0rd-x")

    port = free_port()
    ctl = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        tls_context=ctx,
        require_starttls=True,
        authenticator=authenticator,
        **kw,
    )
    ctl.start()
    return ctl, port, cert, got


def test_a_relay_that_requires_starttls_or_a_login_the_channel_lacks_names_the_channel_and_what_to_set(
    site, monkeypatch
):
    """A relay that takes mail only after STARTTLS (530 "Must issue a STARTTLS command first") or only after a login
    (530 "Authentication required"), and a channel without `starttls` / `username`: every digest was retried under
    smtplib's words until parked. Now the channel is marked refusing (its digests wait, untried, in order) with the
    channel's name and the setting to add, in both languages; set it, retry the channel, and they go."""
    from alerts_fixtures import write_routing

    from pipelines.alerts.answers import answer_zh
    from pipelines.alerts.store import connect
    from pipelines.cli import main

    ctl, port, cert, got = _tls_relay(site["tmp"], auth_required=True)
    try:
        write_routing(site["routing"], port)
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        with connect() as con:
            (refusal,) = con.execute("SELECT channel, response FROM alerts.channel_refusals").fetchall()
            states = {r[0] for r in con.execute("SELECT status FROM alerts.messages")}
        assert refusal["channel"] == "mail" and states == {"pending"} and not got
        said = refusal["response"]
        assert "requires STARTTLS" in said and "`starttls: true` on channel mail" in said, said
        assert "请在路由文件中为通道 mail 设置 `starttls: true`" in answer_zh(said)
        out = CliRunner().invoke(main, ["alerts", "status"], env={"COLUMNS": "250"})
        assert out.exit_code == 1 and "starttls: true" in out.output

        # STARTTLS set, no login yet: the relay's next refusal names the login to add
        write_routing(site["routing"], port, starttls=True, cafile=str(cert))
        CliRunner().invoke(main, ["alerts", "retry", "--channel", "mail"], env={"COLUMNS": "250"})
        with connect() as con:
            (said,) = con.execute("SELECT response FROM alerts.channel_refusals").fetchone()
        assert "requires a login" in said and "`username` and `password_env`" in said and "channel mail" in said, said
        assert not got

        # a login without STARTTLS: smtplib's "AUTH not supported" (the relay offers AUTH only after STARTTLS)
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "pa55-w0rd-x")
        write_routing(site["routing"], port, username="ipcity", password_env="TEST_SMTP_PASSWORD")
        CliRunner().invoke(main, ["alerts", "retry", "--channel", "mail"], env={"COLUMNS": "250"})
        with connect() as con:
            (said,) = con.execute("SELECT response FROM alerts.channel_refusals").fetchone()
        assert "requires STARTTLS" in said, said

        write_routing(
            site["routing"], port, starttls=True, cafile=str(cert), username="ipcity", password_env="TEST_SMTP_PASSWORD"
        )
        out = CliRunner().invoke(main, ["alerts", "retry", "--channel", "mail"], env={"COLUMNS": "250"})
        assert out.exit_code == 0, out.output
        assert sorted(r[0] for r in got) == ["ipo-410000@test.local", "national@test.local"]
        with connect() as con:
            assert con.execute("SELECT count(*) FROM alerts.channel_refusals").fetchone()[0] == 0
    finally:
        ctl.stop()


def test_a_city_name_or_route_name_with_a_line_break_never_becomes_a_header(site):
    """A city's name comes from data and a route's name from the routing file: "郑州市\\r\\nBcc: …" in either reached
    the subject, the body, the HTML part and the X-Ipcity-Route header. Each arrives as one header line (or is
    refused by name), no Bcc or other header appears, and the envelope names only the routed recipients."""
    from email import message_from_bytes, policy

    import duckdb
    from alerts_fixtures import write_routing

    relay, hook = SmtpSink().start(), HttpSink().start()
    try:
        write_routing(site["routing"], relay.port)
        cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
        cfg["routes"][1]["name"] = "national\r\nBcc: route@evil.test"
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        with duckdb.connect(str(site["warehouse"])) as con:
            con.execute(
                "update marts.dim_city set unit_name = '郑州市' || chr(13) || chr(10) || 'Bcc: city@evil.test', "
                "unit_name_en = 'Zhengzhou' || chr(13) || chr(10) || 'X-Evil: 1' where unit_code = '410100'"
            )
        from pipelines.alerts.channels import email_message
        from pipelines.alerts.config import load_routing

        # the routing file's route is refused by name (its other routes are used), not failed digest by digest
        (problem,) = load_routing(strict=False).problems
        assert "route's name must be one line" in str(problem) and "routing.yaml, line" in str(problem), problem
        # and a digest that carries such a name (a store written before) still makes one header line of it
        made = email_message(
            {
                "idempotency_key": "k",
                "recipient": "a@test.local",
                "subject": "s",
                "body": "b",
                "route": "national\r\nBcc: route@evil.test",
                "provenance": "x\ny",
            },
            "m@test.local",
        )
        assert made["Bcc"] is None and made["X-Ipcity-Route"] == "national Bcc: route@evil.test"

        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        assert relay.envelopes, "nothing delivered"
        for env in relay.envelopes:
            assert not any("evil" in to for to in env["to"]), env["to"]
            mail = message_from_bytes(env["raw"], policy=policy.default)
            assert mail["Bcc"] is None and mail["X-Evil"] is None, env["raw"][:600]
            head = env["raw"].split(b"\r\n\r\n", 1)[0]
            assert not any(line.lower().startswith((b"bcc:", b"x-evil:")) for line in head.split(b"\r\n")), head
            assert "\n" not in str(mail["Subject"]) and "\n" not in str(mail["X-Ipcity-Route"] or "")
    finally:
        relay.stop()
        hook.stop()


def test_the_same_alert_from_two_runs_within_a_minute_is_delivered_once(site):
    """Two runs (a scheduled one and one started by hand) evaluate the same warehouse within the same minute, at the
    same moment: each recipient gets the alert once, not once per run."""
    import threading

    from alerts_fixtures import write_routing

    relay = SmtpSink().start()
    try:
        write_routing(site["routing"], relay.port)
        set_status(site["warehouse"], "410100", "limited_progress")
        barrier = threading.Barrier(2)
        errors: list = []

        def run(run_id):
            try:
                barrier.wait(10)
                run_alerts(site["warehouse"], run_id)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=run, args=(f"run-{i}",)) for i in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        run_alerts(site["warehouse"], "run-3")  # and a third right after
        assert not errors, errors
        assert sorted(m["X-Envelope-To"] for m in relay.messages) == ["ipo-410000@test.local", "national@test.local"]
    finally:
        relay.stop()


def test_a_recipient_removed_while_its_digest_waits_for_the_quiet_hours_end_is_not_sent_it(site):
    """The national office's address is taken out of the routing file while its digest waits for the quiet hours to
    end: when they end, the province office's digest goes, and the national one is not sent to the removed address
    (parked, saying why) — nor lost silently."""
    from alerts_fixtures import write_routing

    from pipelines.alerts.config import load_routing
    from pipelines.alerts.lifecycle import deliver_due
    from pipelines.alerts.store import connect

    relay = SmtpSink().start()
    try:
        write_routing(site["routing"], relay.port)
        _quiet_now(site["routing"])
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        assert not relay.messages

        cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
        cfg["routes"] = [r for r in cfg["routes"] if r["name"] != "national_office"]
        cfg["delivery"].pop("quiet_hours")  # the window over
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        deliver_due(load_routing())
        assert [m["X-Envelope-To"] for m in relay.messages] == ["ipo-410000@test.local"]
        with connect() as con:
            status, said = con.execute(
                "SELECT status, last_response FROM alerts.messages WHERE recipient = 'national@test.local'"
            ).fetchone()
        assert status == "failed" and "no longer in the routing file" in said, said
    finally:
        relay.stop()
