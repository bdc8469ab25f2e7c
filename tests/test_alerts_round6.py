"""Alerts that reach people, round 6: the conditions that mean "a city falls behind" as the recipients (the national
and the provincial offices) read them, and what an operator's route test sends.

Real receivers only: aiosmtpd on 127.0.0.1, a real DuckDB warehouse and SQLite store.
"""

from __future__ import annotations

import duckdb
import pytest
from alert_receivers import SmtpSink
from alerts_fixtures import en_part, mail_site, write_routing, zh_part  # noqa: F401 - the `site` fixture
from test_alerts import run_alerts

from pipelines.evaluation.rules import acceptance_bands_text

# ------------------------------------------------------------------------------------------ acceptance band
ACCEPTANCE = [
    # unit, cycle, first year, judged year, complete, status, score, band
    ("410100", "2020-2022", 2020, 2022, True, "combined", 55.0, "title_removed"),  # history: an earlier cycle
    ("410100", "2023-2025", 2023, 2025, True, "combined", 64.999, "new_pilot_round"),
    # history: a verdict two cycles back, the cycles since still without one
    ("410700", "2017-2019", 2017, 2019, True, "combined", 50.0, "title_removed"),
    ("410700", "2020-2022", 2020, 2022, True, "third_party_pending", None, None),
    ("410700", "2023-2025", 2023, 2025, False, "third_party_pending", None, None),
    ("320581", "2023-2025", 2023, 2025, False, "indicator_only", 59.996, "title_removed"),  # county-level unit
    # the next cycle without a verdict yet (third-party pending): the last verdict stands, as on the profile
    ("320500", "2020-2022", 2020, 2022, True, "combined", 58.0, "title_removed"),
    ("320500", "2023-2025", 2023, 2025, False, "third_party_pending", None, None),
]


def write_acceptance(wh) -> None:
    with duckdb.connect(str(wh)) as con:
        # a county-level programme unit of Suzhou (Jiangsu): its province office hears of it, no other does
        con.execute(
            "insert into marts.dim_city values ('320581', '常熟市', 'Changshu', '320000', '江苏省', true, 'active')"
        )
        con.execute(
            "create table marts.fct_acceptance_score (unit_code varchar, cycle varchar, cycle_first_year integer, "
            "judged_year integer, is_complete boolean, acceptance_status varchar, acceptance_score double, "
            "acceptance_band varchar)"
        )
        con.executemany("insert into marts.fct_acceptance_score values (?, ?, ?, ?, ?, ?, ?, ?)", ACCEPTANCE)


def test_an_acceptance_band_that_falls_behind_reaches_its_province_and_the_nation_as_the_dashboard_reads_it(site):
    """A unit whose latest cycle's acceptance score is below 60 (title removed) or 60–70 (a new pilot round) falls
    behind by the management measures: the alert step raised nothing for it (no rule read fct_acceptance_score).
    Now one alert per unit: its province office and the national office hear it, in both languages, with the score
    as the profile shows it (cut, never rounded up across a threshold), the band and the thresholds of the seed; a
    county-level unit reaches its own province only; a verdict replaced by a later cycle's, one two cycles back and a
    good band raise nothing, a later cycle still without a verdict (third-party pending) leaves the last one standing; a rerun sends
    nothing; a correction out of the band is one resolution."""
    sink, wh = site["sink"], site["warehouse"]
    write_acceptance(wh)
    run_alerts(wh, "run-1")
    henan, jiangsu = sink.to("ipo-410000@test.local"), sink.to("ipo-320000@test.local")
    assert len(henan) == 1 and len(jiangsu) == 1 and len(sink.to("national@test.local")) == 1
    zh, en = zh_part(henan[0]), en_part(henan[0])
    # the score as the dashboard's profile shows it: 64.999 reads 64.99 (cut), beside its band and the seed's bands
    assert "郑州市" in zh and "2023-2025 周期验收评分 64.99，可开展新一轮试点" in zh
    assert acceptance_bands_text("zh", 2025) in zh and acceptance_bands_text("en", 2025) in en
    assert "acceptance score 64.99 for the cycle 2023-2025, new pilot round" in en
    assert "新乡市" not in zh and "常熟市" not in zh  # a good band raises nothing; another province's unit neither
    js = zh_part(jiangsu[0])
    # 59.996 is below 60: it must never read "60.00" beside "title removed"
    assert "常熟市" in js and "验收评分 59.99，撤销称号" in js and "60.00" not in js
    assert "‼" in js  # title removed is critical
    assert "第三方评估待定（仅按指标评分）" in js and "周期尚未结束，评分为暂定" in js
    assert "cycle not complete: provisional score" in en_part(jiangsu[0])
    # Suzhou's newer cycle awaits the evaluator: its last verdict (2020-2022) stands, it is not "resolved"
    assert "苏州市" in js and "2020-2022 周期验收评分 58.00，撤销称号" in js
    national = zh_part(sink.to("national@test.local")[0])
    assert "郑州市" in national and "常熟市" in national and "苏州市" in national and "新乡市" not in national

    n = len(sink.messages)
    assert run_alerts(wh, "run-2")["messages"] == [] and len(sink.messages) == n  # the same data: nothing new

    with duckdb.connect(str(wh)) as con:  # Zhengzhou's score corrected to 71: out of the band
        con.execute(
            "update marts.fct_acceptance_score set acceptance_score = 71, acceptance_band = 'demonstration_cultivation' "
            "where unit_code = '410100' and cycle = '2023-2025'"
        )
    run_alerts(wh, "run-3")
    new = sink.messages[n:]
    assert sorted(m["X-Envelope-To"] for m in new) == ["ipo-410000@test.local", "national@test.local"]
    assert all("新预警0条、解除1条" in m["Subject"] for m in new)
    assert run_alerts(wh, "run-4")["messages"] == []


# ------------------------------------------------------------------------------------------------ route tests
def test_a_route_test_reads_in_the_route_s_language(site):
    """`ipcity alerts test` is how an operator checks what a route's recipients will get: it wrote every test in
    both languages whatever the route's `lang`, so a `lang: en` recipient got Chinese it cannot read and a `lang: zh`
    office a message unlike its digests. Each test is now in its route's language; the default stays both."""
    import re

    import yaml
    from click.testing import CliRunner

    from pipelines.cli import main

    sink = site["sink"]
    cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
    cfg["routes"][0]["lang"] = "zh"
    cfg["routes"][1]["lang"] = "en"
    cfg["routes"].append({"name": "archive", "audience": "city", "recipients": {"mail": ["archive@test.local"]}})
    site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    res = CliRunner().invoke(main, ["alerts", "test"])
    assert res.exit_code == 0, res.output
    by = {m["X-Envelope-To"]: m for m in sink.messages}
    zh, en, both = by["ipo-110000@test.local"], by["national@test.local"], by["archive@test.local"]
    assert str(en["Subject"]) == "IP strong-city monitor: test message"
    assert not re.search(r"[\u4e00-\u9fff]", str(en["Subject"]) + SmtpSink.text(en)), SmtpSink.text(en)
    assert "Test message: route national_office, channel mail." in SmtpSink.text(en)
    assert str(zh["Subject"]) == "【知识产权强市监测】测试消息"
    assert "Test message" not in SmtpSink.text(zh) and "测试消息：路由 province_office，通道 mail。" in SmtpSink.text(
        zh
    )
    text = SmtpSink.text(both)
    assert "测试消息" in str(both["Subject"]) and "test message" in str(both["Subject"])
    assert text.index("测试消息") < text.index("Test message")
    # each carries its idempotency key, the one in its Message-ID
    for m in (zh, en, both):
        assert m["X-Idempotency-Key"] in SmtpSink.text(m) and m["Message-ID"].startswith(f"<{m['X-Idempotency-Key']}@")


# ------------------------------------------------------------------------------------------- China Standard Time
@pytest.fixture
def machine_day_not_china_s():
    """The process runs in a time zone whose calendar day differs from China's right now (one of UTC-12 and UTC+14
    always does: they are 20 and 6 hours from UTC+8), as a server kept on another zone is for hours every day."""
    import os
    import time
    from datetime import UTC, datetime

    from pipelines.china_time import china_today

    saved = os.environ.get("TZ")
    for zone, offset in (("Etc/GMT+12", -12), ("Etc/GMT-14", 14)):
        from datetime import timedelta

        if (datetime.now(UTC) + timedelta(hours=offset)).date() != china_today():
            os.environ["TZ"] = zone
            break
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


def test_the_monthly_due_day_is_china_s_day_not_the_machine_s(site, machine_day_not_china_s):
    """The pledge statistics are due by day 10 of the next month in China; the rule took the machine's local day
    (date.today()), so on a server kept on another zone the due month moved by a day at each month's due day, up
    to 16 hours late or early. The day judged (as_of) is China's day whatever the machine's zone."""
    from datetime import date

    from pipelines.alerts import conditions as cond
    from pipelines.alerts.config import load_rules
    from pipelines.china_time import china_today

    assert date.today() != china_today()  # the fixture's premise
    with duckdb.connect(str(site["warehouse"])) as con:
        con.execute("create schema raw")
        con.execute("create table raw.pledge_loans (city_code varchar, month date, amount double)")
        found = cond.pledge_freshness(con, load_rules())
    assert [c.detail["as_of"] for c in found] == [str(china_today())]


def test_times_an_office_reads_are_beijing_time_and_say_so(site):
    """The store keeps UTC. The dashboard's Alerts page showed it as it is, unmarked ("since 2026-12-05 06:20" for
    14:20 in Beijing, and a silence "until" eight hours early to a reader in China), and so did `ipcity alerts list`;
    `ipcity alerts silence` did not say when the silence ends. Each now shows Beijing time and says so."""
    from datetime import UTC, datetime, timedelta

    from click.testing import CliRunner
    from test_alerts import set_status

    from dashboards.pages import alerts as page
    from pipelines.alerts.store import connect
    from pipelines.china_time import CHINA_STANDARD_TIME
    from pipelines.cli import main

    set_status(site["warehouse"], "410100", "limited_progress")
    run_alerts(site["warehouse"], "run-1")
    with connect() as con:
        fp, fired = con.execute("SELECT fingerprint, last_fired_at FROM alerts.alerts").fetchone()
    cst = datetime.fromisoformat(fired.replace("Z", "+00:00")).astimezone(CHINA_STANDARD_TIME)

    df, _ = page.load_alerts("firing", path=None)
    (row,) = page.alert_rows(df, "zh")
    # the zone is in the cell (dash5: in the headers it made the grid scroll sideways at 1366 px)
    assert row["since"] == cst.strftime("%Y-%m-%d %H:%M") + " 北京时间"
    assert page.alert_rows(df, "en")[0]["since"] == cst.strftime("%Y-%m-%d %H:%M") + " UTC+8"

    before = datetime.now(UTC).replace(second=0, microsecond=0)
    feedback = page.act(page.SILENCE_ID, [fp], "national_test", "7d", "zh")
    until = (before + timedelta(days=7)).astimezone(CHINA_STANDARD_TIME)
    # the end of the silence in Beijing time (the minute it was written in, or the next one), marked as such
    assert any(f"至 {(until + timedelta(minutes=m)):%Y-%m-%d %H:%M} 北京时间" in feedback for m in (0, 1)), feedback
    df, _ = page.load_alerts("firing", path=None)
    assert page.alert_rows(df, "zh")[0]["silenced_until"][:13] == f"{until:%Y-%m-%d %H}"[:13]

    listed = CliRunner().invoke(main, ["alerts", "list"], env={"COLUMNS": "250"})
    assert listed.exit_code == 0, listed.output
    # (the table folds "2026-12-05 14:20" in its column): the Beijing time, not the UTC one, marked as such
    utc = datetime.fromisoformat(fired.replace("Z", "+00:00"))
    assert f"{cst:%Y-%m-%d}" in listed.output and f"{cst:%H:%M}" in listed.output and "北京时间" in listed.output
    assert f"{utc:%H:%M}" not in listed.output
    silenced = CliRunner().invoke(main, ["alerts", "silence", fp[:8], "--for", "2d"])
    assert silenced.exit_code == 0, silenced.output
    assert "UTC+8" in silenced.output and "北京时间" in silenced.output and "CST" not in silenced.output
    ledger = CliRunner().invoke(main, ["alerts", "list", "--deliveries"], env={"COLUMNS": "250"})
    assert "(UTC)" not in ledger.output and "北京时间" in ledger.output


def test_the_profile_s_alert_history_is_in_beijing_time():
    """The profile's alert history (marts.fct_alerts, mirrored from the store in UTC) showed the UTC time under
    "时间"; it shows Beijing time, and its header says so."""
    from datetime import datetime

    import polars as pl

    from dashboards.i18n import t
    from dashboards.pages import profile

    alerts = pl.DataFrame(
        {
            "year": [2025],
            "alert_type": ["stage"],
            "status": ["rectification"],
            "plan_id": [None],
            "indicator_code": [None],
            "progress_index": [None],
            "message": ["绵阳市：2025 年评价为“整改”"],
            "created_at": [datetime(2026, 12, 4, 17, 3)],
        }
    )
    catalog = pl.DataFrame({"indicator_code": ["PRO01"], "name_zh": ["x"], "name_en": ["x"]})
    (row,) = profile.alert_rows(alerts, catalog, "zh")
    assert row["created_at"] == "2026-12-05 01:03"
    assert (
        "北京时间" in t("created_at", "zh") and "UTC+8" in t("created_at", "en") and "CST" not in t("created_at", "en")
    )


# ---------------------------------------------------------------------------------------- abandoned requests
def test_a_request_abandoned_at_its_session_timeout_ends_with_its_thread_and_socket(site):
    """A webhook receiver that drips its answer is abandoned at the channel's session_timeout (round 5), but the
    request itself lived on in a daemon thread for as long as the receiver kept dripping: one more thread and one more
    open socket on every retry, for ever, in the long-lived process of the delivery sensor. Its socket is now shut at
    the deadline: the attempt is recorded as before, and no request thread or connection is left behind."""
    import threading
    import time

    import yaml
    from test_alerts import set_status
    from test_alerts_round5 import DripHttp

    from pipelines.alerts.store import connect

    drip = DripHttp()
    try:
        cfg = {
            "version": "test",
            "channels": {
                "hook": {
                    "type": "webhook",
                    "url": f"http://127.0.0.1:{drip.port}/alerts",
                    "timeout": 1,
                    "session_timeout": 1,
                }
            },
            "routes": [{"name": "national_office", "audience": "city", "recipients": {"hook": ["national-ops"]}}],
            "delivery": {"immediate_attempts": 1, "backoff_seconds": [600], "max_attempts": 50},
        }
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        set_status(site["warehouse"], "410100", "limited_progress")
        out = run_alerts(site["warehouse"], "run-1")
        assert [m["status"] for m in out["messages"]] == ["retry"]
        with connect() as con:
            assert con.execute("SELECT last_response FROM alerts.messages").fetchone()[0].startswith("session_timeout")
        left = lambda: [t for t in threading.enumerate() if t.name == "ipcity-alert-post"]  # noqa: E731
        t0 = time.monotonic()
        while left() and time.monotonic() - t0 < 3:
            time.sleep(0.05)
        assert not left(), "the abandoned request still runs while the receiver drips"
    finally:
        drip.stop()


# ------------------------------------------------------------------------------------- one notice per real change
def _digests(sink, start: int) -> list[tuple[str, str, str]]:
    """(recipient, subject counts, Chinese section) of each message from ``start`` on."""
    import re

    out = []
    for m in sink.messages[start:]:
        counts = re.search(r"新预警(\d+)条、解除(\d+)条", m["Subject"]).group(0)
        out.append((m["X-Envelope-To"], counts, zh_part(m)))
    return sorted(out)


def test_a_city_that_falls_further_behind_is_told_once_without_a_resolution_in_between(site):
    """A firing alert whose state changes is a real change: Zhengzhou's key target went from limited progress to
    deteriorating (倒退), its rank dropped again in a new year, an acceptance band went from a new pilot round to
    title removed. Each was an "ongoing" alert whose title changed silently: no office heard of it. Now each change
    is one firing notice to each recipient (no resolution of the earlier state, which would read as good news), a
    rerun sends nothing, and a change of the figures alone (the same status) stays silent."""
    from test_alerts import set_status

    sink, wh = site["sink"], site["warehouse"]
    write_acceptance(wh)
    with duckdb.connect(str(wh)) as con:
        con.execute(
            "create table marts.fct_city_score_year (unit_code varchar, year integer, rank integer, "
            "n_ranked integer, rank_is_shared boolean, rank_change integer, performance_group varchar, "
            "composite_index double)"
        )
        con.execute("insert into marts.fct_city_score_year values ('410700', 2024, 40, 90, false, -15, 'strong', 95)")
    set_status(wh, "410100", "limited_progress")
    run_alerts(wh, "run-1")
    n = len(sink.messages)
    assert run_alerts(wh, "run-2")["messages"] == []

    # the figures alone change (90 → 88 of 100, the same status): nothing to tell
    with duckdb.connect(str(wh)) as con:
        con.execute("update marts.fct_target_status set current_value = 88 where unit_code = '410100'")
    assert run_alerts(wh, "run-3")["messages"] == [] and len(sink.messages) == n

    set_status(wh, "410100", "deteriorating")
    out = run_alerts(wh, "run-4")
    got = _digests(sink, n)
    assert [(to, counts) for to, counts, _ in got] == [
        ("ipo-410000@test.local", "新预警1条、解除0条"),
        ("national@test.local", "新预警1条、解除0条"),
    ]
    assert out["transitions"].get("changed") == 1 and out["transitions"]["resolved"] == 0
    assert all("郑州市" in zh and "倒退" in zh and "已解除" not in zh for _, _, zh in got)
    n = len(sink.messages)
    assert run_alerts(wh, "run-5")["messages"] == []

    # Xinxiang drops again, in 2025: another drop, told once
    with duckdb.connect(str(wh)) as con:
        con.execute("insert into marts.fct_city_score_year values ('410700', 2025, 52, 90, true, -12, 'strong', 90)")
    run_alerts(wh, "run-6")
    got = _digests(sink, n)
    assert [(to, counts) for to, counts, _ in got] == [
        ("ipo-410000@test.local", "新预警1条、解除0条"),
        ("national@test.local", "新预警1条、解除0条"),
    ]
    assert all(
        "新乡市" in zh and "2025 年排名下降 12 位（由第 40 名降至第 52 名，并列；下降超过 10 位即预警）" in zh
        for _, _, zh in got
    )
    n = len(sink.messages)

    # Changshu's acceptance band: title removed → a new pilot round after the evaluator's upload, one notice
    with duckdb.connect(str(wh)) as con:
        con.execute(
            "update marts.fct_acceptance_score set acceptance_score = 62.5, acceptance_band = 'new_pilot_round', "
            "acceptance_status = 'combined' where unit_code = '320581'"
        )
    run_alerts(wh, "run-7")
    got = _digests(sink, n)
    assert [(to, counts) for to, counts, _ in got] == [
        ("ipo-320000@test.local", "新预警1条、解除0条"),
        ("national@test.local", "新预警1条、解除0条"),
    ]
    assert all("常熟市" in zh and "验收评分 62.50，可开展新一轮试点" in zh for _, _, zh in got)
    assert run_alerts(wh, "run-8")["messages"] == []


def test_an_older_store_learns_the_state_without_telling_it_again(site):
    """A store written before alerts kept their state (change_key): its firing alerts are not told again on the
    first run after the upgrade; a later change is."""
    from test_alerts import set_status

    from pipelines.alerts.store import connect

    sink, wh = site["sink"], site["warehouse"]
    set_status(wh, "410100", "limited_progress")
    run_alerts(wh, "run-1")
    with connect() as con:  # as an older store has it
        con.execute("UPDATE alerts.alerts SET change_key = NULL")
    n = len(sink.messages)
    assert run_alerts(wh, "run-2")["messages"] == [] and len(sink.messages) == n
    set_status(wh, "410100", "deteriorating")
    assert len(run_alerts(wh, "run-3")["messages"]) == 2


# ----------------------------------------------------------------------------- a crash after the relay accepted
class AcceptThenHang:
    """A relay that accepts the message (250 to DATA) and then never answers the next command: the sender is killed
    there, after the relay has the message and before its ledger says so."""

    def __init__(self, port: int):
        import asyncio

        from aiosmtpd.controller import Controller

        self.raw: list[bytes] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
                sink.raw.append(envelope.original_content)
                return "250 accepted"

            async def handle_NOOP(self, server, session, envelope, arg):  # noqa: N802
                await asyncio.sleep(60)
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


def test_a_digest_resent_after_a_crash_past_the_relay_carries_the_same_message_id(site):
    """The sender dies after the relay accepted a digest and before the ledger recorded it: the digest is still
    pending, and once its lease runs out it is sent again. The receiver drops the repeat by its Message-ID /
    X-Idempotency-Key: both must be the first attempt's, and the text the same."""
    import email
    import os
    import signal
    import subprocess
    import sys
    import time
    from email import policy

    from alert_receivers import free_port
    from test_alerts import set_status, wait_for

    from pipelines.alerts.config import load_routing
    from pipelines.alerts.lifecycle import deliver_due
    from pipelines.alerts.store import connect

    port = free_port()
    write_routing(site["routing"], port)  # nobody listens yet: the digests wait for a retry
    set_status(site["warehouse"], "410100", "limited_progress")
    run_alerts(site["warehouse"], "run-1")
    due = "UPDATE alerts.messages SET next_retry_at = NULL WHERE recipient = 'national@test.local'"
    with connect() as con:
        con.execute(due)
        (key,) = con.execute(
            "SELECT idempotency_key FROM alerts.messages WHERE recipient = 'national@test.local'"
        ).fetchone()
    code = (
        "from pipelines.alerts.config import load_routing\n"
        "from pipelines.alerts.lifecycle import deliver_due\n"
        f"deliver_due(load_routing(), keys=[{key!r}])\n"
    )
    with AcceptThenHang(port) as relay:
        proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": os.getcwd()})
        try:
            assert wait_for(lambda: relay.raw, timeout=60), "the relay never got the digest"
            time.sleep(0.2)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    with connect() as con:
        status, lease = con.execute(
            "SELECT status, next_retry_at FROM alerts.messages WHERE idempotency_key = ?", (key,)
        ).fetchone()
        assert status == "pending" and lease  # leased to the dead sender, not recorded as delivered
        con.execute(due)  # the lease has run out
    sink = SmtpSink(port).start()
    try:
        out = deliver_due(load_routing())
        assert ("national@test.local", "delivered") in [(d["recipient"], d["status"]) for d in out]
        first = email.message_from_bytes(relay.raw[0], policy=policy.default)
        (again,) = sink.to("national@test.local")
        assert again["Message-ID"] == first["Message-ID"] == f"<{key}@ipcity.monitor>"
        assert again["X-Idempotency-Key"] == first["X-Idempotency-Key"] == key
        assert SmtpSink.text(again) == first.get_body(preferencelist=("plain",)).get_content()
    finally:
        sink.stop()


# ------------------------------------------------------------------------------------------------ city links
def test_each_city_in_a_digest_links_to_its_own_page_in_the_reader_s_language(site):
    """A digest named the cities but led nowhere: the only address was the Alerts page (named when a robot cuts a
    digest), which only the national office may open. With `dashboard_url` set, each city's heading carries its
    profile page (beside the Alerts page, wherever the dashboard is mounted) in the section's language; a province
    office's digest links its own cities only; without `dashboard_url` nothing changes."""
    import re

    import yaml
    from test_alerts import set_status

    cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
    cfg["dashboard_url"] = "https://ipcity.example.cn/monitor/alerts"
    cfg["routes"][1]["detail"] = "summary"
    site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    set_status(site["warehouse"], "410100", "limited_progress")
    set_status(site["warehouse"], "320500", "deteriorating")
    run_alerts(site["warehouse"], "run-1")
    sink = site["sink"]
    base = "https://ipcity.example.cn/monitor/profile?unit="
    henan = sink.to("ipo-410000@test.local")[0]
    zh, en = zh_part(henan), en_part(henan)
    assert f"\n 郑州市  {base}410100&lang=zh\n" in zh
    assert f"\n Zhengzhou (410100)  {base}410100&lang=en\n" in en
    assert set(re.findall(r"unit=(\d+)", SmtpSink.text(henan))) == {"410100"}  # its own city only
    national = SmtpSink.text(sink.to("national@test.local")[0])
    assert f"{base}410100&lang=zh" in national and f"{base}320500&lang=en" in national


def test_a_per_province_route_test_reaches_the_province_office_asked_for(site):
    """`ipcity alerts test` wrote a per-province route's test to Beijing's office only: the operator mending Henan's
    mailbox could not test it. `--province 410000` (repeatable) tests that office's address; an unknown code is
    refused with a message, not a traceback."""
    from click.testing import CliRunner

    from pipelines.cli import main

    sink = site["sink"]
    res = CliRunner().invoke(
        main, ["alerts", "test", "--route", "province_office", "--province", "410000", "--province", "320000"]
    )
    assert res.exit_code == 0, res.output
    assert sorted(m["X-Envelope-To"] for m in sink.messages) == ["ipo-320000@test.local", "ipo-410000@test.local"]
    bad = CliRunner().invoke(main, ["alerts", "test", "--province", "999999"])
    assert bad.exit_code != 0 and "999999" in bad.output and "未知的省份代码" in bad.output
    assert bad.exception is None or isinstance(bad.exception, SystemExit)
    assert len(sink.messages) == 2


# ------------------------------------------------------------------------------------------ TLS settings
def test_a_relay_and_the_channel_s_tls_settings_that_disagree_say_what_to_mend(site, tmp_path):
    """`ssl: true` against a STARTTLS port answered "[SSL: WRONG_VERSION_NUMBER] wrong version number", `starttls`
    against an implicit-TLS port a bare timeout: nothing said which setting to change. Each mismatch now names the
    setting to use (the library's error kept after it), an untrusted certificate names `cafile`, and a channel
    with both `ssl` and `starttls` is refused when the routing file is read."""
    import ssl

    import yaml
    from aiosmtpd.controller import Controller
    from alert_receivers import free_port
    from test_alerts import _self_signed

    from pipelines.alerts.channels import send
    from pipelines.alerts.config import AlertConfigError, load_routing

    msg = {"idempotency_key": "k" * 32, "recipient": "a@test.local", "subject": "测试", "body": "正文", "route": "r"}
    plain = {"type": "smtp", "host": "127.0.0.1", "port": site["sink"].port, "timeout": 2, "session_timeout": 10}
    ok, answer = send(msg, {**plain, "ssl": True})
    assert not ok and "`starttls: true` instead of `ssl: true`" in answer and "WRONG_VERSION_NUMBER" in answer
    ok, answer = send(msg, {**plain, "starttls": True})
    assert not ok and "does not offer STARTTLS" in answer and "`ssl: true`" in answer

    cert_file, key_file = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_file, key_file)

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            return "250 OK"

    port = free_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port, ssl_context=server_ctx)
    ctl.start()
    try:
        implicit = {**plain, "port": port}
        ok, answer = send(msg, {**implicit, "starttls": True})
        assert not ok and "no SMTP greeting" in answer and "`ssl: true`" in answer, answer
        ok, answer = send(msg, {**implicit, "ssl": True})
        assert not ok and "not trusted" in answer and "`cafile`" in answer and "CERTIFICATE_VERIFY_FAILED" in answer
        assert send(msg, {**implicit, "ssl": True, "cafile": str(cert_file)})[0]
    finally:
        ctl.stop()

    cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
    cfg["channels"]["mail"].update(ssl=True, starttls=True)
    site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    with pytest.raises(AlertConfigError, match="channel mail.*exclude each other"):
        load_routing()


def test_a_province_office_is_not_told_to_use_pages_and_commands_it_cannot_open(site):
    """Every digest ended "acknowledge: ipcity alerts ack <id> … or on the dashboard's Alerts page": the command is
    the operators' and the page refuses a provincial account. A province office's digest now says whom to send the
    id to; the national office's keeps the command and the page."""
    from test_alerts import set_status

    set_status(site["warehouse"], "410100", "limited_progress")
    run_alerts(site["warehouse"], "run-1")
    sink = site["sink"]
    henan, national = (SmtpSink.text(sink.to(to)[0]) for to in ("ipo-410000@test.local", "national@test.local"))
    assert "ipcity alerts ack" not in henan and "“预警”页面操作" not in henan
    assert "请将其编号告知国家知识产权局监测平台运维人员" in henan and "send its id to the monitoring platform" in henan
    assert "ipcity alerts ack <编号>" in national and "dashboard's Alerts page" in national
