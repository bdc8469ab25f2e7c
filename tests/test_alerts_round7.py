"""Alerts that reach people, round 7: a change of stage told as one "from → to" notice, deadlines from the rules seed,
robots' cut-off notes that point each recipient to what it may open, an HTML part in mail, and recipients a relay
takes only in part.

Real receivers only: aiosmtpd and an HTTP receiver on 127.0.0.1, a real DuckDB warehouse and SQLite store.
"""

from __future__ import annotations

import duckdb
import pytest
import yaml
from alert_receivers import SmtpSink
from alerts_fixtures import (  # noqa: F401 - the `site` fixture
    en_part,
    mail_site,
    with_engineers,
    write_routing,
    zh_part,
)
from test_alerts import run_alerts

from pipelines.alerts.store import connect
from pipelines.labels import next_step


def set_stages(wh, year: int, stages: dict[str, tuple[str, bool | None]]) -> None:
    """fct_evaluation_year of ``year``: unit -> (stage, is_robust)."""
    with duckdb.connect(str(wh)) as con:
        con.execute(
            "create table if not exists marts.fct_evaluation_year (unit_code varchar, year integer, stage varchar, "
            "is_robust boolean, rules_fired varchar)"
        )
        con.execute("delete from marts.fct_evaluation_year where year = ?", [year])
        con.executemany(
            "insert into marts.fct_evaluation_year values (?, ?, ?, ?, 'W1')",
            [(unit, year, st, robust) for unit, (st, robust) in stages.items()],
        )


# ------------------------------------------------------------------------------------- a change of stage
def test_a_stage_change_is_one_notice_from_to_that_says_worse_or_better(site):
    """Zhengzhou went from watch to rectification: each office got two items, "已解除：… 关注" (the old stage
    resolved) and the new stage firing, and the resolution read as good news when the city got worse. Now it is one
    notice, "加重：关注 → 整改", no resolution; the way back (rectification → watch) says "减轻"; a rerun sends
    nothing; the city leaving every flagged stage is one resolution."""
    sink, wh = site["sink"], site["warehouse"]
    set_stages(wh, 2024, {"410100": ("watch", True), "320500": ("rectification", True)})
    run_alerts(wh, "run-1")
    n = len(sink.messages)
    assert run_alerts(wh, "run-2")["messages"] == []

    set_stages(wh, 2024, {"410100": ("rectification", True), "320500": ("watch", True)})
    out = run_alerts(wh, "run-3")
    assert out["transitions"]["resolved"] == 0 and out["transitions"]["changed"] == 2
    new = sink.messages[n:]
    assert sorted(m["X-Envelope-To"] for m in new) == [
        "ipo-320000@test.local",
        "ipo-410000@test.local",
        "national@test.local",
    ]
    for m in new:
        text = SmtpSink.text(m)
        assert "已解除" not in text and "Resolved" not in text and "解除0条" in m["Subject"]
    henan = sink.to("ipo-410000@test.local")[-1]
    assert "【较上次通知加重：关注 → 整改】" in zh_part(henan)
    assert "[worse than last notified: Watch → Rectification]" in en_part(henan)
    assert "较上次通知加重1条" in henan["Subject"] and "1 worse than last notified" in henan["Subject"]
    jiangsu = sink.to("ipo-320000@test.local")[-1]
    assert "【较上次通知减轻：整改 → 关注】" in zh_part(jiangsu) and "较上次通知减轻1条" in jiangsu["Subject"]
    national = SmtpSink.text(sink.to("national@test.local")[-1])
    assert "加重：关注 → 整改" in national and "减轻：整改 → 关注" in national
    n = len(sink.messages)
    assert run_alerts(wh, "run-4")["messages"] == [] and len(sink.messages) == n

    # robust rectification → the same flag on evidence that is no longer robust (a review): told, as lighter
    set_stages(wh, 2024, {"410100": ("rectification", False), "320500": ("watch", True)})
    run_alerts(wh, "run-5")
    henan = sink.to("ipo-410000@test.local")[-1]
    assert "较上次通知减轻：整改 → 整改（人工复核）" in zh_part(henan)
    n = len(sink.messages)
    # Suzhou leaves the flagged stages: a resolution, the good news it is
    set_stages(wh, 2024, {"410100": ("rectification", False), "320500": ("normal", True)})
    out = run_alerts(wh, "run-6")
    assert out["transitions"]["resolved"] == 1
    got = sink.messages[n:]
    assert sorted(m["X-Envelope-To"] for m in got) == ["ipo-320000@test.local", "national@test.local"]
    assert all("新预警0条、解除1条" in m["Subject"] for m in got)
    # and a return is a new alert, not a change from a stage it left long ago
    n = len(sink.messages)
    set_stages(wh, 2024, {"410100": ("rectification", False), "320500": ("exit_candidate", True)})
    run_alerts(wh, "run-7")
    assert all("较上次通知" not in SmtpSink.text(m) for m in sink.messages[n:])


def _as_the_old_code_left_it(con) -> None:
    """A store as the code before round 7 wrote it: one stage alert per (city, stage), subject "<kind>:<stage>",
    no change_key, the data migration not applied (user_version 0)."""
    import hashlib

    rows = con.execute("SELECT fingerprint, unit_code, kind, detail_json FROM alerts.alerts WHERE rule_id = 'stage'")
    for fp, unit, kind, detail in rows.fetchall():
        import json

        subject = f"{kind}:{json.loads(detail)['stage']}"
        old = hashlib.sha256(f"stage|{unit}|{subject}".encode()).hexdigest()[:24]
        con.execute(
            "UPDATE alerts.alerts SET fingerprint = ?, subject_key = ?, change_key = NULL WHERE fingerprint = ?",
            (old, subject, fp),
        )
        for table in ("heard", "message_items", "silences"):
            con.execute(f"UPDATE alerts.{table} SET fingerprint = ? WHERE fingerprint = ?", (old, fp))
    con.execute("PRAGMA alerts.user_version = 0")


def test_an_older_store_upgrades_without_sending_every_stage_again(site):
    """Stage alerts written by the old code (one per city and stage): the first run after the upgrade must not
    re-send every city's stage (a new key) nor "resolve" each old one. Unchanged stages send nothing; a stage that
    changed in the same run is one "from → to" notice; a silence of one old stage alert still holds."""
    sink, wh = site["sink"], site["warehouse"]
    set_stages(wh, 2024, {"410100": ("watch", True), "320500": ("rectification", True), "410700": ("watch", False)})
    run_alerts(wh, "run-1")
    with connect() as con:
        _as_the_old_code_left_it(con)
        (xinxiang,) = con.execute("SELECT fingerprint FROM alerts.alerts WHERE unit_code = '410700'").fetchone()
        # silenced under its old key, by the old code
        con.execute(
            "INSERT INTO alerts.silences (fingerprint, starts_at, ends_at, created_by) VALUES (?, ?, ?, 'ops')",
            (xinxiang, "2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z"),
        )
    n = len(sink.messages)
    out = run_alerts(wh, "run-2")  # the upgrade's first run, nothing changed
    assert out["messages"] == [] and len(sink.messages) == n
    assert out["transitions"]["new"] == 0 and out["transitions"]["resolved"] == 0

    set_stages(
        wh,
        2024,
        {"410100": ("rectification", True), "320500": ("rectification", True), "410700": ("rectification", True)},
    )
    run_alerts(wh, "run-3")
    got = sink.messages[n:]
    assert sorted(m["X-Envelope-To"] for m in got) == ["ipo-410000@test.local", "national@test.local"]
    henan = zh_part(got[0])
    assert "加重：关注 → 整改" in henan and "苏州市" not in henan and "新乡市" not in henan  # Xinxiang: silenced
    with connect() as con:  # one stage alert per city
        assert tuple(
            con.execute(
                "SELECT count(*), count(DISTINCT unit_code) FROM alerts.alerts WHERE rule_id = 'stage'"
            ).fetchone()
        ) == (3, 3)


# --------------------------------------------------------------------------------------------- deadlines
def test_a_stage_alert_names_the_deadline_the_rules_seed_defines_in_beijing_time(site):
    """A stage alert said "评价为整改" and nothing of what must be done by when. The rules seed defines one deadline
    (RPT.grace_months: reports not received within six months of the year end count as exit): a flagged city's
    alert names the day its next year's reports must arrive by, in Beijing time, the whole day counting (the mart's
    grace_end_date where it has one, else the seed's rule); a rectification says the rules set it no term and what
    follows (X1); not_reported names the day that passed. No deadline is invented where the rules define none."""
    sink, wh = site["sink"], site["warehouse"]
    set_stages(
        wh, 2024, {"410100": ("rectification", True), "410700": ("not_reported", None), "320500": ("watch", True)}
    )
    with duckdb.connect(str(wh)) as con:  # Suzhou's 2025 reports: the mart's day
        con.execute(
            "create table marts.fct_reporting_status (unit_code varchar, source varchar, year integer, "
            "status varchar, due_date date, grace_end_date date, received_date date, received_after_grace_end boolean)"
        )
        con.execute(
            "insert into marts.fct_reporting_status values ('320500', 'pledge_loans', 2025, 'missing', "
            "'2026-03-31', '2026-06-30', null, false)"
        )
    run_alerts(wh, "run-1")
    henan = sink.to("ipo-410000@test.local")[0]
    zh, en = zh_part(henan), en_part(henan)
    assert "2025 年度数据须于 2026-06-30（北京时间，含当日）前报送，逾期视为退出" in zh
    assert "整改无固定期限，下一周期仍未改善的列为退出候选（规则 X1）" in zh
    assert "the reports of 2025 must be received by 2026-06-30 inclusive, China Standard Time" in en
    assert "2024 年度数据未在 2025-06-30（北京时间，含当日）前报送，视为退出" in zh
    assert "the reports of 2024 were not received by 2025-06-30 inclusive" in en
    js = zh_part(sink.to("ipo-320000@test.local")[0])
    assert "2026-06-30（北京时间，含当日）" in js and "X1" not in js  # watch: the report deadline only
    # once every report of 2025 is in, no deadline is left to name (the title no longer asks for them)
    with duckdb.connect(str(wh)) as con:
        con.execute("update marts.fct_reporting_status set status = 'received', received_date = '2026-02-01'")
    run_alerts(wh, "run-2")
    with connect() as con:
        (title,) = con.execute("SELECT title_zh FROM alerts.alerts WHERE unit_code = '320500'").fetchone()
    assert title == "苏州市：2024 年评价为“关注”"


# ------------------------------------------------------------------------------------- a robot's cut-off note
def test_a_robot_s_cut_off_note_points_each_recipient_to_what_its_role_opens(site, monkeypatch):
    """A digest too long for the robot ends "完整清单见 <the Alerts page>": a province office's account is refused
    there (national accounts only). A province office's note now names its province's watch list and its extract on
    the Downloads page, both languages, with their addresses beside `dashboard_url`; the national office's keeps
    the Alerts page."""
    from alert_receivers import HttpSink
    from test_alerts_round5 import ROBOT_KEY, add_cities, robot_content, wecom_gateway

    from dashboards.access import PAGE_ROLES

    monkeypatch.setenv("TEST_ROBOT_KEY", ROBOT_KEY)
    hook = HttpSink(reply=wecom_gateway).start()
    try:
        cfg = {
            "version": "test",
            "dashboard_url": "https://ipcity.example.cn/monitor/alerts",
            "channels": {
                "robot": {
                    "type": "wecom",
                    "key_env": "TEST_ROBOT_KEY",
                    "endpoint": f"http://127.0.0.1:{hook.port}/cgi-bin/webhook/send",
                }
            },
            "routes": [
                {
                    "name": "province_office",
                    "audience": "city",
                    "per": "province",
                    "recipients": {"robot": ["ipo-{province_code}"]},
                },
                {"name": "national_office", "audience": "city", "recipients": {"robot": ["national-group"]}},
            ],
            "delivery": {"immediate_attempts": 1, "backoff_seconds": [600], "max_attempts": 50},
        }
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        add_cities(site["warehouse"], 120)
        out = run_alerts(site["warehouse"], "run-1")
        assert {m["status"] for m in out["messages"]} == {"delivered"}, out["deliveries"]
        notes = {}
        for request in hook.requests:
            text = robot_content(request)
            (note,) = [line for line in text.split("\n") if "未列出" in line]
            notes["national" if "收件人 national-group" in text else "province"] = note
        province, national = notes["province"], notes["national"]
        base = "https://ipcity.example.cn/monitor/"
        assert "/alerts" not in province and "“预警”页面仅限国家局账号" in province
        assert f"{base}watchlist?lang=zh" in province and f"{base}downloads?lang=zh" in province
        assert f"{base}watchlist?lang=en" in province and "extract" in province
        assert {"province"} <= PAGE_ROLES["/watchlist"] and {"province"} <= PAGE_ROLES["/downloads"]
        assert "province" not in PAGE_ROLES.get("/alerts", frozenset())  # why the province's note avoids it
        assert f"{base}alerts?lang=zh" in national and "watchlist" not in national
    finally:
        hook.stop()


# ------------------------------------------------------------------------------------------------ HTML mail
# The plain text of the digest below as the code before the HTML part wrote it, byte for byte (with the line on how
# to stop receiving, added in round 11).
PLAIN_BEFORE_HTML = (
    "收件人 ipo-410000@test.local（province_office）：\n新预警2条，涉及2个地区：目标滞后 2\n"
    " <script>alert(1)</script>&开封市\n  [c5667dd8] 2025 年目标“质押融资额”进展有限（2024 年现值 50，目标值 100）\n"
    " 郑州市\n  [ec6921e9] 2025 年目标“质押融资额”倒退（2024 年现值 90，目标值 100）\n"
    # round 12: the next step per kind of alert (the labels seed's alert_next_step), after the alerts; round 13: the
    # provincial office's step (a per-province route)
    f"下一步：\n  · 目标滞后：{next_step('target_behind', 'zh', 'province')}\n\n"
    "如需确认或静默某条预警，请将其编号告知国家知识产权局监测平台运维人员（“预警”页面仅限国家局账号）。"
    "不再接收或更改收件地址：请联系监测平台运维人员修改预警路由文件。\n\n"
    "To ipo-410000@test.local (province_office):\nFiring: 2 alerts in 2 areas: Behind target 2\n"
    " Kaifeng <b>&amp; (410200)\n  [c5667dd8] 2025 target Pledge financing is limited progress (50 in 2024, target 100)\n"
    " Zhengzhou (410100)\n  [ec6921e9] 2025 target Pledge financing is deteriorating (90 in 2024, target 100)\n"
    f"Next steps:\n  · Behind target: {next_step('target_behind', 'en', 'province')}\n\n"
    "To acknowledge or silence an alert, send its id to the monitoring platform's operators at CNIPA (the Alerts page "
    "is for national accounts). To stop receiving these messages or change the address, ask the monitoring "
    "platform's operators to change the alert routing file.\n\n消息编号 / idempotency key: 6613bf1af20d407bea135b5ce4155d7e   run: run-1\n"
)


def test_mail_carries_an_html_table_beside_the_unchanged_plain_text_and_escapes_every_value(site):
    """Mail was plain text only: an office's mail client showed the digest as a wall of text. It is now
    multipart/alternative: the plain text first and exactly as before, then an HTML part whose table lists the
    alerts (city, id, alert); a city named "<script>…&…" (data, whatever its source) is escaped text in the HTML,
    never markup, and the parts stay 7-bit on the wire."""
    from test_alerts import set_status

    sink, wh = site["sink"], site["warehouse"]
    with duckdb.connect(str(wh)) as con:
        con.execute(
            "insert into marts.dim_city values ('410200', '<script>alert(1)</script>&开封市', 'Kaifeng <b>&amp;', "
            "'410000', '河南省', true, 'active')"
        )
        con.execute(
            "insert into marts.fct_target_status select '410200', plan_id, indicator_code, 'limited_progress', "
            "status_year, 50, target_value, target_year, 0.5, growth_ratio, is_key_target from marts.fct_target_status "
            "where unit_code = '410100'"
        )
    set_status(wh, "410100", "deteriorating")
    run_alerts(wh, "run-1")
    (henan,) = sink.to("ipo-410000@test.local")
    assert henan.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in henan.iter_parts()] == ["text/plain", "text/html"]
    assert SmtpSink.text(henan) == PLAIN_BEFORE_HTML
    page = henan.get_body(preferencelist=("html",)).get_content()
    # per language: a head and a row per alert, then the next steps' head and a row per rule (round 12)
    assert page.count("<table") == 4 and page.count("<tr>") == 10
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;&amp;开封市" in page
    assert "Kaifeng &lt;b&gt;&amp;amp; (410200)" in page and "<b>&amp;" not in page
    assert "ec6921e9" in page and "倒退" in page and "deteriorating" in page
    raw = [e["raw"] for e in sink.envelopes if "ipo-410000@test.local" in e["to"]][0]
    assert raw.isascii()


# ------------------------------------------------------------------------------------ recipients in part
_with_engineers = with_engineers  # the shared fixture's; earlier imports of this name keep working


def test_a_bad_address_among_good_ones_leaves_out_that_address_alone_and_is_reported(site):
    """One mistyped item in a route's list of mail recipients left out the whole channel of the route: the national
    office's good addresses were sent nothing. Now the bad item alone is left out, named (file, line, route, channel,
    recipient) in the run's routing problems and, to the data engineers, in an alert of its own; the good addresses
    get their digest. `ipcity alerts` (strict) still refuses the file, naming the item."""
    from test_alerts import set_status

    from pipelines.alerts.config import AlertConfigError, load_routing

    sink = site["sink"]
    _with_engineers(
        site["routing"],
        recipients={"mail": ["national@test.local", "国家局 <nat@@test.local>", "second@test.local", "a@x, b@x"]},
    )
    set_status(site["warehouse"], "410100", "limited_progress")
    out = run_alerts(site["warehouse"], "run-1")
    got = sorted(m["X-Envelope-To"] for m in sink.messages)
    assert got == ["de@test.local", "ipo-410000@test.local", "national@test.local", "second@test.local"], got
    problems = out["routing_problems"]
    assert len(problems) == 2 and all("route national_office, channel mail, recipient" in p for p in problems)
    assert any("nat@@test.local" in p for p in problems) and any("a@x, b@x" in p for p in problems)
    de = SmtpSink.text(sink.to("de@test.local")[0])
    assert "nat@@test.local" in de and "a@x, b@x" in de and "预警路由配置被拒" in de
    with pytest.raises(AlertConfigError, match="nat@@test.local"):
        load_routing()
    assert run_alerts(site["warehouse"], "run-2")["messages"] == []


def test_a_recipient_the_relay_refuses_for_good_is_named_to_the_engineers_and_the_others_are_reached(site):
    """The relay takes Jiangsu's and the national office's mail and answers 550 for Henan's mailbox: Henan's digest
    was parked as failed in the ledger and nobody heard of it, while Henan heard nothing. The others are delivered as
    before, and in the same run the data engineers get an alert naming the recipient, the route and the relay's
    answer; a rerun repeats nothing; once the mailbox takes mail and the digest is requeued, the alert resolves."""
    from click.testing import CliRunner
    from test_alerts import set_status

    from pipelines.cli import main

    relay = SmtpSink(refuse={"ipo-410000@test.local": "550 5.1.1 mailbox unavailable"}).start()
    try:
        write_routing(site["routing"], relay.port)
        _with_engineers(site["routing"])
        set_status(site["warehouse"], "410100", "limited_progress")
        set_status(site["warehouse"], "320500", "limited_progress")
        out = run_alerts(site["warehouse"], "run-1")
        statuses = {m["recipient"]: m["status"] for m in out["messages"]}
        assert statuses["ipo-410000@test.local"] == "failed"
        assert statuses["ipo-320000@test.local"] == statuses["national@test.local"] == "delivered"
        (de,) = relay.to("de@test.local")
        text = SmtpSink.text(de)
        assert "预警未送达：ipo-410000@test.local（路由 province_office，通道 mail）" in text and "550" in text
        assert "alert not delivered: ipo-410000@test.local" in text and "‼" in text
        assert "ipo-320000" not in text
        n = len(relay.messages)
        assert run_alerts(site["warehouse"], "run-2")["messages"] == [] and len(relay.messages) == n
    finally:
        relay.stop()
    sink = SmtpSink(relay.port).start()  # the mailbox is mended
    try:
        res = CliRunner().invoke(main, ["alerts", "deliver", "--retry-failed"])
        assert res.exit_code == 0, res.output
        assert len(sink.to("ipo-410000@test.local")) == 1
        run_alerts(site["warehouse"], "run-3")
        (resolution,) = sink.to("de@test.local")
        assert "解除1条" in resolution["Subject"] and "ipo-410000@test.local" in SmtpSink.text(resolution)
    finally:
        sink.stop()


# The alert store the code before round 7 wrote (tests/fixtures, made by running that code: Zhengzhou and Suzhou on
# watch, Xinxiang on watch on non-robust evidence (a review) and silenced, then Suzhou on to rectification, which it
# told as "watch resolved" beside "rectification firing"), every digest delivered.
OLD_STORE = __import__("pathlib").Path(__file__).parent / "fixtures" / "alerts_store_before_round7.sqlite"


def test_a_store_written_by_the_code_before_upgrades_without_a_resend_storm(site):
    """The store as the old code left it, opened by this code: nothing is sent for the stages that did not change
    (the new key would have sent every city's stage again and "resolved" each old one), a later change is one
    "from → to" notice, and the silence set on an old alert still holds it."""
    import shutil

    sink, wh = site["sink"], site["warehouse"]
    shutil.copy(OLD_STORE, site["tmp"] / "alerts.sqlite")
    set_stages(wh, 2023, {"410100": ("watch", True), "320500": ("rectification", True), "410700": ("watch", False)})
    out = run_alerts(wh, "run-1")
    assert out["messages"] == [] and sink.messages == []
    assert out["transitions"]["new"] == 0 and out["transitions"]["resolved"] == 0

    set_stages(
        wh,
        2023,
        {"410100": ("rectification", True), "320500": ("rectification", True), "410700": ("exit_candidate", True)},
    )
    run_alerts(wh, "run-2")
    assert sorted(m["X-Envelope-To"] for m in sink.messages) == ["ipo-410000@test.local", "national@test.local"]
    for m in sink.messages:
        text = SmtpSink.text(m)
        assert "【较上次通知加重：关注 → 整改】" in text and "已解除" not in text
        assert "郑州市" in text and "苏州市" not in text and "新乡市" not in text  # Xinxiang: still silenced
    assert run_alerts(wh, "run-3")["messages"] == []


def test_a_city_alert_no_route_reaches_is_named_to_the_engineers(site):
    """Jiyuan (a county-level city the reference data give no province) falls behind, and the routing file has
    only the province offices' route (per province) and the engineers': the alert fired, nobody heard it and
    nobody knew. The data engineers now hear that it reaches nobody (which rule, which city); once the reference
    data give its province, Henan's office hears it and the engineers' alert resolves."""
    from test_alerts import set_status

    sink, wh = site["sink"], site["warehouse"]
    cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
    cfg["routes"] = [cfg["routes"][0]]  # the province offices' route alone
    site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    _with_engineers(site["routing"])
    with duckdb.connect(str(wh)) as con:
        con.execute("insert into marts.dim_city values ('419001', '济源市', 'Jiyuan', null, null, true, 'active')")
        con.execute(
            "insert into marts.fct_target_status select '419001', plan_id, indicator_code, 'limited_progress', "
            "status_year, 50, target_value, target_year, 0.5, growth_ratio, is_key_target from marts.fct_target_status "
            "where unit_code = '410100'"
        )
    set_status(wh, "410100", "limited_progress")
    run_alerts(wh, "run-1")
    assert sorted(m["X-Envelope-To"] for m in sink.messages) == ["de@test.local", "ipo-410000@test.local"]
    de = SmtpSink.text(sink.to("de@test.local")[0])
    assert "预警无人接收：1条“目标滞后”预警在路由文件中没有任何收件人（济源市）" in de and "419001" in de
    assert "郑州市" not in de  # Zhengzhou reached its office
    n = len(sink.messages)
    assert run_alerts(wh, "run-2")["messages"] == [] and len(sink.messages) == n

    with duckdb.connect(str(wh)) as con:
        con.execute(
            "update marts.dim_city set province_code = '410000', province_name = '河南省' where unit_code = '419001'"
        )
    run_alerts(wh, "run-3")
    new = {m["X-Envelope-To"]: m for m in sink.messages[n:]}
    assert "济源市" in SmtpSink.text(new["ipo-410000@test.local"])
    assert "解除1条" in new["de@test.local"]["Subject"]
