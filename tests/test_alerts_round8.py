"""Alerts that reach people, round 8: a refused recipient the routing file no longer names, a city whose province
office was skipped, route tests that look like the digests, robots' cut-off notes in the route's language, an
office that changed its address, an acknowledged alert that got worse.

Real receivers only: aiosmtpd and an HTTP receiver on 127.0.0.1, a real DuckDB warehouse and SQLite store.
"""

from __future__ import annotations

import duckdb
import pytest
import yaml
from alert_receivers import HttpSink, SmtpSink
from alerts_fixtures import mail_site  # noqa: F401 - the `site` fixture
from test_alerts import run_alerts, set_status
from test_alerts_round5 import ROBOT_KEY, add_cities, robot_content, robot_routing, wecom_gateway, write_routing
from test_alerts_round7 import _with_engineers

from pipelines.alerts.store import connect


def _province_template(routing, template: str) -> None:
    cfg = yaml.safe_load(routing.read_text(encoding="utf-8"))
    cfg["routes"][0]["recipients"]["mail"] = [template]
    routing.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


# ------------------------------------------------------------------------- a refused recipient that is gone
def test_a_refused_recipient_removed_from_the_routing_file_resolves_with_a_note_and_its_new_address_is_told(site):
    """Henan's office mailbox refuses mail for good (550): the engineers hear "alert not delivered". The operators
    then give the province offices new addresses (office-<code>@…): the old mailbox is no longer routed, no requeue
    will ever reach it, and acknowledging does not close a condition, so the engineers' alert stayed firing for
    ever. It now resolves in the run that reads the new file, its resolution saying the recipient left the routing
    file; Henan's new address hears Zhengzhou fire (it never heard it) and, later, the resolution; the old address
    hears nothing more."""
    relay = SmtpSink(refuse={"ipo-410000@test.local": "550 5.1.1 mailbox unavailable"}).start()
    try:
        write_routing(site["routing"], relay.port)
        _with_engineers(site["routing"])
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        (de,) = relay.to("de@test.local")
        assert "预警未送达：ipo-410000@test.local" in SmtpSink.text(de)

        _province_template(site["routing"], "office-{province_code}@test.local")
        n = len(relay.messages)
        out = run_alerts(site["warehouse"], "run-2")
        assert out["transitions"]["resolved"] == 1, out
        new = {m["X-Envelope-To"]: m for m in relay.messages[n:]}
        assert sorted(new) == ["de@test.local", "office-410000@test.local"], sorted(new)
        text = SmtpSink.text(new["de@test.local"])
        assert "解除1条" in new["de@test.local"]["Subject"]
        assert "ipo-410000@test.local" in text and "已从路由文件中移除" in text
        assert "removed from the routing file" in text
        assert "郑州市" in SmtpSink.text(new["office-410000@test.local"])
        with connect() as con:
            assert (
                con.execute(
                    "SELECT count(*) FROM alerts.alerts WHERE rule_id = 'delivery_failed' AND state = 'firing'"
                ).fetchone()[0]
                == 0
            )
        n = len(relay.messages)
        assert run_alerts(site["warehouse"], "run-3")["messages"] == [] and len(relay.messages) == n

        set_status(site["warehouse"], "410100", "on_track")
        run_alerts(site["warehouse"], "run-4")
        got = sorted(m["X-Envelope-To"] for m in relay.messages[n:])
        assert got == ["national@test.local", "office-410000@test.local"], got  # never the old address
    finally:
        relay.stop()


def test_a_recipient_whose_route_entry_is_refused_for_now_is_not_taken_for_removed(site):
    """The route naming the refused mailbox is itself refused while an operator mends the file (a typo in its
    `per`): the recipient is not gone, and its delivery_failed alert stays firing."""
    relay = SmtpSink(refuse={"ipo-410000@test.local": "550 5.1.1 mailbox unavailable"}).start()
    try:
        write_routing(site["routing"], relay.port)
        _with_engineers(site["routing"])
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
        cfg["routes"][0]["per"] = "provnice"
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        run_alerts(site["warehouse"], "run-2")
        with connect() as con:
            assert (
                con.execute(
                    "SELECT count(*) FROM alerts.alerts WHERE rule_id = 'delivery_failed' AND state = 'firing'"
                ).fetchone()[0]
                == 1
            )
    finally:
        relay.stop()


# ------------------------------------------------------------------------------ a province office skipped
def test_a_city_without_a_province_tells_the_national_office_its_province_office_was_not_told(site):
    """Jiyuan has no province in the reference data: the province offices' route cannot take it, the national
    office's does, and its digest read as if Henan's office knew. Its line now says no province office was told,
    in both languages and in the HTML part; Zhengzhou's line (Henan's office told) says nothing of the kind."""
    sink, wh = site["sink"], site["warehouse"]
    with duckdb.connect(str(wh)) as con:
        con.execute("insert into marts.dim_city values ('419001', '济源市', 'Jiyuan', null, null, true, 'active')")
        con.execute(
            "insert into marts.fct_target_status select '419001', plan_id, indicator_code, 'limited_progress', "
            "status_year, 50, target_value, target_year, 0.5, growth_ratio, is_key_target from marts.fct_target_status "
            "where unit_code = '410100'"
        )
    set_status(wh, "410100", "limited_progress")
    run_alerts(wh, "run-1")
    (national,) = sink.to("national@test.local")
    text = SmtpSink.text(national)
    lines = text.split("\n")
    (jiyuan_zh,) = [ln for ln in lines if "未通知省局" in ln]
    (jiyuan_en,) = [ln for ln in lines if "no province office was told" in ln]
    fp = jiyuan_zh.split("]")[0]
    assert fp in jiyuan_en and "参考数据未给出该市所属省份" in jiyuan_zh
    zhengzhou = [ln for ln in lines if "[" in ln and fp not in ln]
    assert zhengzhou and not any("未通知省局" in ln or "province office" in ln for ln in zhengzhou)
    assert "未通知省局" in national.get_body(preferencelist=("html",)).get_content()
    (henan,) = sink.to("ipo-410000@test.local")
    assert "未通知省局" not in SmtpSink.text(henan)


# ---------------------------------------------------------------------------------------- route tests
@pytest.mark.parametrize("lang", ["both", "en"])
def test_a_route_test_mail_carries_the_html_part_the_digests_carry(site, lang):
    """`ipcity alerts test` sent plain text alone while every digest is multipart/alternative: the test did not
    show what the office will receive. It now has the HTML part too, in the route's language, values escaped."""
    from pipelines.alerts import send_test

    cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
    cfg["routes"][1]["lang"] = lang
    site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    assert [r["status"] for r in send_test(route="national_office")] == ["delivered"]
    (m,) = site["sink"].to("national@test.local")
    assert [p.get_content_type() for p in m.iter_parts()] == ["text/plain", "text/html"]
    page = m.get_body(preferencelist=("html",)).get_content()
    assert "route national_office, channel mail" in page and "<table" not in page
    assert ("测试消息" in page) == (lang == "both")
    with connect() as con:
        (key,) = con.execute("SELECT idempotency_key FROM alerts.messages").fetchone()
    assert key in page


# ------------------------------------------------------------------------------- a robot's note, one language
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_robot_s_cut_off_note_is_in_the_route_s_language(site, monkeypatch, lang):
    """A `lang: en` group's digest is English throughout, yet the line a robot's limit adds ("……另有 N 行未列出，
    完整清单见 … · … N more line(s) not shown") was in both languages; a `lang: zh` group got English. The note now
    follows the route's language, as the rest of the message does."""
    monkeypatch.setenv("TEST_ROBOT_KEY", ROBOT_KEY)
    hook = HttpSink(reply=wecom_gateway).start()
    try:
        robot_routing(site["routing"], hook.port, dashboard_url="https://ipcity.example.cn/alerts", lang=lang)
        add_cities(site["warehouse"], 120)
        out = run_alerts(site["warehouse"], "run-1")
        assert [m["status"] for m in out["messages"]] == ["delivered"], out["deliveries"]
        (request,) = hook.requests
        content = robot_content(request)
        (note,) = [ln for ln in content.split("\n") if "https://ipcity.example.cn/alerts" in ln]
        if lang == "en":
            assert "more lines not shown" in note and "未列出" not in content and "?lang=zh" not in note
        else:
            assert "未列出" in note and "not shown" not in content and "?lang=en" not in note
    finally:
        hook.stop()


# --------------------------------------------------------------------------- acknowledged, then worse
def test_an_acknowledged_alert_that_gets_worse_is_sent_again(site):
    """Zhengzhou's target shows limited progress and an operator acknowledges it; it then deteriorates. The
    acknowledgement was of the lighter state: the offices hear it got worse, and the acknowledgement is cleared."""
    from pipelines.alerts.store import acknowledge

    sink, wh = site["sink"], site["warehouse"]
    set_status(wh, "410100", "limited_progress")
    run_alerts(wh, "run-1")
    with connect() as con:
        (fp,) = con.execute("SELECT fingerprint FROM alerts.alerts").fetchone()
    assert acknowledge(fp, "ops", "seen") == 1
    n = len(sink.messages)
    assert run_alerts(wh, "run-2")["messages"] == []
    set_status(wh, "410100", "deteriorating")
    run_alerts(wh, "run-3")
    got = sorted(m["X-Envelope-To"] for m in sink.messages[n:])
    assert got == ["ipo-410000@test.local", "national@test.local"]
    assert all("加重" in SmtpSink.text(m) for m in sink.messages[n:])
    with connect() as con:
        assert con.execute("SELECT acked_at FROM alerts.alerts WHERE fingerprint = ?", (fp,)).fetchone()[0] is None


# ------------------------------------------------------------------------------------ DingTalk's signature
DING_SECRET = "SEC" + "7d1f0c2b9a8e4f6d3c5b1a0e9f8d7c6b5a4e3d2c1b0a9f8e7d6c5b4a3e2d1c0b"


def dingtalk_gateway(request) -> dict:
    """What DingTalk's robot checks of a signed request (加签): `timestamp` (ms) within an hour of its clock and
    `sign` = base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>")); otherwise errcode 310000 under HTTP 200."""
    import base64
    import hashlib
    import hmac
    import time
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(urlsplit(request["path"]).query)
    stamp, sign = (query.get("timestamp") or [""])[0], (query.get("sign") or [""])[0]
    want = base64.b64encode(
        hmac.new(DING_SECRET.encode(), f"{stamp}\n{DING_SECRET}".encode(), hashlib.sha256).digest()
    ).decode()
    if not stamp.isdigit() or abs(time.time() * 1000 - int(stamp)) > 3600 * 1000 or sign != want:
        return {"errcode": 310000, "errmsg": "sign not match"}
    return {"errcode": 0, "errmsg": "ok"}


def test_a_signed_dingtalk_robot_takes_the_digest_and_a_wrong_secret_is_retried_not_delivered(site, monkeypatch):
    """A DingTalk robot with 加签: each request carries a fresh millisecond timestamp and its HMAC; a wrong secret is
    answered 310000 under HTTP 200, which is no delivery (the answer in the ledger, the secret never): every digest would
    get the same answer, so the channel waits as for an HTTP 401 and is tried again once the secret is mended."""
    monkeypatch.setenv("TEST_ROBOT_KEY", ROBOT_KEY)
    monkeypatch.setenv("TEST_DING_SECRET", DING_SECRET[:-1] + "f")  # one character wrong
    hook = HttpSink(reply=dingtalk_gateway).start()
    try:
        robot_routing(site["routing"], hook.port, kind="dingtalk")
        cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
        cfg["channels"]["robot"]["secret_env"] = "TEST_DING_SECRET"
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        set_status(site["warehouse"], "410100", "limited_progress")
        out = run_alerts(site["warehouse"], "run-1")
        assert [m["status"] for m in out["messages"]] == ["retry"], out["deliveries"]
        with connect() as con:
            (response,) = con.execute("SELECT last_response FROM alerts.messages").fetchone()
        assert "310000" in response and DING_SECRET[:-1] not in response

        monkeypatch.setenv("TEST_DING_SECRET", DING_SECRET)
        from pipelines.alerts.config import load_routing
        from pipelines.alerts.lifecycle import retry_channel

        assert [d["status"] for d in retry_channel(load_routing(), "robot")] == ["delivered"]
        assert "timestamp=" in hook.requests[-1]["path"] and "sign=" in hook.requests[-1]["path"]
    finally:
        hook.stop()


# --------------------------------------------------------------------------------- a digest the relay finds too big
def test_a_digest_bigger_than_the_relay_takes_is_cut_to_its_size_limit_and_arrives(site):
    """400 cities fall behind at once: the national digest (plain text and HTML table, base64) is far bigger than
    the relay takes (it advertises SIZE 60000 and answers 552 to more). It was refused at MAIL FROM every attempt and
    retried for ever, reaching nobody and telling nobody. It now arrives within the limit: plain text cut at a whole
    line, the note saying how much is left out and where the whole list is (the Alerts page for the national office,
    the watch list and extract for the province's), the idempotency key kept; the ledger says it was cut. A digest
    that fits keeps its HTML part."""
    relay = SmtpSink(data_size_limit=60_000).start()
    try:
        write_routing(site["routing"], relay.port)
        cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
        cfg["dashboard_url"] = "https://ipcity.example.cn/monitor/alerts"
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        add_cities(site["warehouse"], 400)
        set_status(site["warehouse"], "410100", "limited_progress")
        out = run_alerts(site["warehouse"], "run-1")
        assert {m["recipient"]: m["status"] for m in out["messages"]} == {
            "ipo-130000@test.local": "delivered",
            "ipo-410000@test.local": "delivered",
            "national@test.local": "delivered",
        }, out["deliveries"]
        sizes = {e["to"][0]: len(e["raw"]) for e in relay.envelopes}
        assert all(size <= 60_000 for size in sizes.values()), sizes
        with connect() as con:
            ledger = dict(con.execute("SELECT recipient, last_response FROM alerts.messages").fetchall())
            (key,) = con.execute(
                "SELECT idempotency_key FROM alerts.messages WHERE recipient = 'national@test.local'"
            ).fetchone()
        assert "SIZE limit of 60000" in ledger["national@test.local"] and "SIZE" not in ledger["ipo-410000@test.local"]
        (national,) = relay.to("national@test.local")
        text = SmtpSink.text(national)
        assert national.get_content_type() == "text/plain" and text.rstrip("\n").split("\n")[-1].count(key) == 1
        (note,) = [ln for ln in text.split("\n") if "未列出" in ln]
        assert "https://ipcity.example.cn/monitor/alerts?lang=zh" in note and "not shown" in note
        (hebei,) = relay.to("ipo-130000@test.local")
        assert "watchlist?lang=zh" in SmtpSink.text(hebei) and "/alerts?" not in SmtpSink.text(hebei)
        (henan,) = relay.to("ipo-410000@test.local")  # one city: it fits, HTML and all
        assert henan.get_content_type() == "multipart/alternative"
    finally:
        relay.stop()


# ---------------------------------------------------------------------------- HTTP 200 with an error in the body
@pytest.mark.parametrize("kind", ["wecom", "webhook"])
def test_an_http_200_whose_body_says_errcode_45009_is_not_delivered(site, monkeypatch, kind):
    """WeCom answers its rate limit (45009, "api freq out of limit") under HTTP 200, and an on-premise gateway in
    front of it (a JSON webhook channel) passes that answer on. The digest was recorded as delivered when it came
    through the webhook channel: nobody got it and nobody would retry. It is now a retry with the answer in the
    ledger, and is delivered (once) when the gateway takes it."""
    from pipelines.alerts.config import load_routing
    from pipelines.alerts.lifecycle import deliver_due

    monkeypatch.setenv("TEST_ROBOT_KEY", ROBOT_KEY)
    answer = {"errcode": 45009, "errmsg": "api freq out of limit"}
    hook = HttpSink(reply=lambda request: answer).start()
    try:
        robot_routing(site["routing"], hook.port)
        if kind == "webhook":
            cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
            cfg["channels"]["robot"] = {"type": "webhook", "url": f"http://127.0.0.1:{hook.port}/gateway"}
            site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        set_status(site["warehouse"], "410100", "limited_progress")
        out = run_alerts(site["warehouse"], "run-1")
        assert [m["status"] for m in out["messages"]] == ["retry"], out["deliveries"]
        with connect() as con:
            (response,) = con.execute("SELECT last_response FROM alerts.messages").fetchone()
        assert "45009" in response and "api freq out of limit" in response
        answer.update(errcode=0, errmsg="ok")
        with connect() as con:
            con.execute("UPDATE alerts.messages SET next_retry_at = NULL")
        assert [d["status"] for d in deliver_due(load_routing())] == ["delivered"]
        assert len(hook.requests) == 2 and run_alerts(site["warehouse"], "run-2")["messages"] == []
    finally:
        hook.stop()


# ------------------------------------------------------------------------------ a slow relay and the pipeline run
def test_a_slow_relay_holds_the_run_no_longer_than_its_delivery_budget(site):
    """The relay takes a second to accept each message and eight province offices have a digest due: the run's alert
    step waited for every one of them (each session may take up to its session_timeout, a minute), holding the
    pipeline run. It now starts no digest past `delivery.run_budget_seconds`: the run returns, the digests not yet
    tried stay due and untried (no attempt spent), and the next delivery (the sensor's tick) sends each once."""
    import time

    from pipelines.alerts.config import load_routing
    from pipelines.alerts.lifecycle import deliver_due

    relay = SmtpSink(delay=1.0).start()
    try:
        write_routing(site["routing"], relay.port)
        cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
        cfg["delivery"]["run_budget_seconds"] = 2
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        provinces = [f"{p}0000" for p in (11, 12, 13, 14, 15, 21, 22, 23)]
        for code in provinces:
            add_cities(site["warehouse"], 1, province=(code, f"省{code}"))
        t0 = time.monotonic()
        out = run_alerts(site["warehouse"], "run-1")
        took = time.monotonic() - t0
        statuses = [m["status"] for m in out["messages"]]
        assert len(statuses) == 9 and took < 6, (took, statuses)
        assert 1 <= statuses.count("delivered") <= 3 and statuses.count("pending") >= 6, statuses
        with connect() as con:
            untried = con.execute("SELECT count(*) FROM alerts.messages WHERE attempts = 0").fetchone()[0]
        assert untried == statuses.count("pending")
        rest = deliver_due(load_routing())  # the sensor's tick: no budget of the run's
        assert [d["status"] for d in rest] == ["delivered"] * untried
        assert sorted(e["to"][0] for e in relay.envelopes) == sorted(
            [f"ipo-{c}@test.local" for c in provinces] + ["national@test.local"]
        )
    finally:
        relay.stop()


def test_a_digest_still_retrying_for_an_address_since_removed_is_not_sent_there(site):
    """Henan's office mailbox answers 451 (try later): its digest waits for a retry. The operators then replace the
    province offices' addresses. The waiting digest was still sent to the old mailbox at its next retry (an address
    replaced may be someone else's by now). It is now parked as failed with why, without a session to the relay; the
    engineers are not told of a failed delivery (the recipient is gone, not refusing); Henan's new address hears
    Zhengzhou fire."""
    from pipelines.alerts.config import load_routing
    from pipelines.alerts.lifecycle import deliver_due

    relay = SmtpSink(refuse={"ipo-410000@test.local": "451 4.3.0 try again later"}).start()
    try:
        write_routing(site["routing"], relay.port)
        _with_engineers(site["routing"])
        set_status(site["warehouse"], "410100", "limited_progress")
        out = run_alerts(site["warehouse"], "run-1")
        assert {m["recipient"]: m["status"] for m in out["messages"]}["ipo-410000@test.local"] == "retry"
        _province_template(site["routing"], "office-{province_code}@test.local")
        with connect() as con:
            con.execute("UPDATE alerts.messages SET next_retry_at = NULL WHERE status = 'pending'")
        n = len(relay.messages)
        (old,) = deliver_due(load_routing())
        assert old["recipient"] == "ipo-410000@test.local" and old["status"] == "failed"
        assert "no longer in the routing file" in old["response"] and len(relay.messages) == n
        run_alerts(site["warehouse"], "run-2")
        got = sorted(m["X-Envelope-To"] for m in relay.messages[n:])
        assert got == ["office-410000@test.local"], got  # no "alert not delivered" to the engineers
        with connect() as con:
            assert (
                con.execute("SELECT count(*) FROM alerts.alerts WHERE rule_id = 'delivery_failed'").fetchone()[0] == 0
            )
    finally:
        relay.stop()
