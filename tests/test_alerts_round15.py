"""Alerts that reach people, round 15: what a data engineer expects at night (a failed blocking check is urgent), a
retry that a clock set back does not delay, ...

Real receivers only: aiosmtpd and an HTTP receiver on 127.0.0.1, a real DuckDB warehouse and SQLite store.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from alert_receivers import SmtpSink
from alerts_fixtures import bare_site  # noqa: F401 - the `site` fixture
from test_alerts import run_alerts, set_status

from pipelines.alerts.config import AlertConfigError, load_routing, load_rules
from pipelines.alerts.store import connect, iso, now_utc, parse


# ------------------------------------------------------------------------------------------ quiet hours, urgent set
def test_a_failed_blocking_check_is_urgent_by_default():
    """Inside the quiet hours a failed blocking check (the run's snapshot held back) waited until the morning, while
    the failed run it belongs to went at once: the data engineers heard of the run's failure without its cause."""
    from pipelines.alerts import run_failure_events
    from pipelines.alerts.lifecycle import is_urgent

    rules = load_rules()
    check = {"asset": "marts/fct_city_score", "check": "not_null_score", "description": "3 rows null"}
    events = run_failure_events("r" * 32, "ipcity_job", "boom", [check], {})
    assert [e.rule_id for e in events] == ["run_failed", "blocking_check_failed"]
    assert all(is_urgent({"rule_id": e.rule_id, "detail_json": e.detail_json()}, rules) for e in events)


@pytest.mark.parametrize("written", ["title_removed", "yes", 1])
def test_an_urgent_setting_that_is_neither_true_false_nor_a_list_is_refused(tmp_path, written):
    """`urgent: title_removed` (no brackets) was read as true: every band of the rule went out inside the quiet hours."""
    rules = yaml.safe_load(load_rules().path.read_text(encoding="utf-8"))
    rules["rules"]["acceptance_band"]["urgent"] = written
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    with pytest.raises(AlertConfigError, match="acceptance_band: urgent must be true, false or a list"):
        load_rules(path)


# ------------------------------------------------------------------------------------------ a clock set back
def _clock_back(hours: float) -> None:
    """The store as it reads after the server's clock was set back ``hours``: every time it wrote is that much ahead."""
    with connect() as con:
        for table, cols in (
            ("messages", ("created_at", "next_retry_at")),
            ("deliveries", ("attempted_at", "next_retry_at")),
            ("channel_refusals", ("since", "next_try_at")),
        ):
            for col in cols:
                rows = con.execute(f"SELECT rowid, {col} FROM alerts.{table} WHERE {col} IS NOT NULL").fetchall()
                con.executemany(
                    f"UPDATE alerts.{table} SET {col} = ? WHERE rowid = ?",
                    [(iso(parse(v) + timedelta(hours=hours)), rid) for rid, v in rows],
                )


def test_a_retry_is_not_delayed_by_a_clock_set_back(site):
    """A busy mailbox (450) is retried after the backoff (here 10 minutes). With the server's clock set back two hours
    (an NTP step, a VM restored) the retry waited two hours and ten minutes: the attempt's time and its retry time lay
    ahead of the clock. An attempt stamped later than now shows the clock went back past it: its retry is due now."""
    from alerts_fixtures import write_routing

    from pipelines.alerts.lifecycle import deliver_due

    relay = SmtpSink(refuse={"national@test.local": "450 4.2.1 mailbox busy"}).start()
    try:
        write_routing(site["routing"], relay.port, backoff=(600,), immediate=1)
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        assert [m["X-Envelope-To"] for m in relay.messages] == ["ipo-410000@test.local"]
        assert deliver_due(load_routing()) == []  # within its backoff: not yet
        _clock_back(2)
        (tried,) = deliver_due(load_routing())  # tried now (the mailbox still busy: its next retry after the backoff)
        assert (tried["recipient"], tried["attempts"]) == ("national@test.local", 2)
        with connect() as con:
            (retry_at,) = con.execute("SELECT next_retry_at FROM alerts.messages WHERE status = 'pending'").fetchone()
        assert parse(retry_at) <= now_utc() + timedelta(seconds=700)  # the backoff from now, not from the clock ahead
        assert deliver_due(load_routing()) == []
    finally:
        relay.stop()


def test_a_lease_still_holds_after_a_clock_set_back(site):
    """A digest leased to a dispatcher sending it now is not claimed by another, even when the clock went back past
    its earlier attempt: only a retry an attempt scheduled is made due by the clock, never a lease."""
    from alerts_fixtures import write_routing

    from pipelines.alerts.lifecycle import _claim

    relay = SmtpSink(refuse={"national@test.local": "450 4.2.1 mailbox busy"}).start()
    try:
        write_routing(site["routing"], relay.port, backoff=(600,), immediate=1)
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        with connect() as con:
            (key,) = con.execute("SELECT idempotency_key FROM alerts.messages WHERE status = 'pending'").fetchone()
        _clock_back(2)
        assert _claim(None, key, now_utc()) is not None  # the retry is due: the first dispatcher leases it
        assert _claim(None, key, now_utc()) is None  # the second finds it leased
    finally:
        relay.stop()


# ------------------------------------------------------------------------------------------ an smtp channel's sender
def _mail_channel(path, host: str, port: int, **more) -> None:
    cfg = {
        "version": "test",
        "channels": {"mail": {"type": "smtp", "host": host, "port": port, "timeout": 5, **more}},
        "routes": [{"name": "national_office", "audience": "city", "recipients": {"mail": ["national@test.local"]}}],
        "delivery": {"immediate_attempts": 1, "backoff_seconds": [600], "max_attempts": 50},
    }
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


def test_an_smtp_channel_to_a_relay_elsewhere_without_a_sender_is_named_when_the_file_is_read(site):
    """A channel to the office's relay with no `sender` sent From ipcity-monitor@localhost, which such a relay refuses
    or the offices' servers file as spam; nothing said so until digests failed. The file now reads with a warning
    naming the channel and the setting (the channel is still used), shown by `ipcity alerts test` and in the run's
    result; a relay on this machine, or a channel with a sender, gets none."""
    from click.testing import CliRunner

    from pipelines.cli import main

    _mail_channel(site["routing"], "smtp.office.invalid", 587, starttls=True)
    routing = load_routing()
    (warning,) = routing.warnings
    assert warning.entry == "channel mail" and "ipcity-monitor@localhost" in warning.reason
    assert "`sender`" in warning.reason and not routing.problems and "mail" in routing.channels
    out = CliRunner().invoke(main, ["alerts", "test"], env={"COLUMNS": "250"})
    shown = " ".join(out.output.split())
    assert "routing file warning" in shown and "no `sender`" in shown, out.output
    status = " ".join(CliRunner().invoke(main, ["alerts", "status"], env={"COLUMNS": "250"}).output.split())
    assert "routing file warning" in status and "no `sender`" in status, status

    _mail_channel(site["routing"], "smtp.office.invalid", 587, starttls=True, sender="ipcity@example.gov.cn")
    assert load_routing().warnings == ()
    # round 15 too: a relay elsewhere without TLS is named (the digests would cross the network in clear)
    _mail_channel(site["routing"], "smtp.office.invalid", 25, sender="ipcity@example.gov.cn")
    (warning,) = load_routing().warnings
    assert warning.entry == "channel mail" and "no TLS" in warning.reason and "`starttls: true`" in warning.reason
    _mail_channel(site["routing"], "127.0.0.1", 25)
    assert load_routing().warnings == ()
    set_status(site["warehouse"], "410100", "limited_progress")
    assert run_alerts(site["warehouse"], "run-1")["routing_warnings"] == []


def test_a_relay_refusing_the_default_sender_refuses_the_channel_with_the_setting_to_add(site):
    """A relay refusing MAIL FROM:<ipcity-monitor@localhost> (553) answered every digest alike; each was retried on
    its own, thirty times, in smtplib's words. Now the channel is marked refusing (its digests wait in order, the
    engineers are told once) with what to set, shown in Chinese in the CLI."""
    from aiosmtpd.controller import Controller
    from alert_receivers import free_port

    from pipelines.alerts.answers import answer_zh

    class RefusesLocalhost:
        async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
            if address.endswith("@localhost"):
                return "553 5.7.1 Sender address rejected: not owned by user"
            envelope.mail_from = address
            return "250 OK"

    relay = Controller(RefusesLocalhost(), hostname="127.0.0.1", port=free_port())
    relay.start()
    try:
        _mail_channel(site["routing"], "127.0.0.1", relay.port)
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        with connect() as con:
            (row,) = con.execute("SELECT channel, response FROM alerts.channel_refusals").fetchall()
        assert row["channel"] == "mail" and "refused the sender ipcity-monitor@localhost" in row["response"]
        assert "553" in row["response"] and "set `sender`" in row["response"]
        assert "拒收发件人 ipcity-monitor@localhost" in answer_zh(row["response"]), answer_zh(row["response"])
    finally:
        relay.stop()


# ------------------------------------------------------------------------------------------ what a resolution says
def test_a_resolution_says_why_it_cleared(site):
    """A resolution read "已解除" and the title of what had fired: a reader could not tell whether the city caught
    up or the data went away. Each resolved line now says why it cleared (the labels seed's alert_cleared_<rule>),
    in both languages, in the text, the HTML part and the webhook's payload."""
    from alerts_fixtures import write_routing

    from pipelines.labels import label_text

    relay = SmtpSink().start()
    try:
        write_routing(site["routing"], relay.port)
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        set_status(site["warehouse"], "410100", "on_track")
        run_alerts(site["warehouse"], "run-2")
        (notice, *_) = [m for m in relay.messages[2:] if m["X-Envelope-To"] == "national@test.local"]
        text = SmtpSink.text(notice)
        assert f"（解除原因：{label_text('alert_cleared_target_behind')}）" in text, text
        assert f" (cleared: {label_text('alert_cleared_target_behind', 'en')})" in text, text
        html = notice.get_body(("html",)).get_content()
        assert label_text("alert_cleared_target_behind") in html
    finally:
        relay.stop()


def test_every_rule_that_resolves_has_its_cleared_words():
    """Every rule that can resolve (all but the one-off events) says in both languages why it cleared."""
    from pipelines.labels import label_text

    events = {"run_failed", "blocking_check_failed", "dead_run"}
    for rule in sorted(set(load_rules().rules) - events):
        code = f"alert_cleared_{rule}"
        assert label_text(code) != code and label_text(code, "en") != code, rule


def test_a_refused_file_withdrawn_is_not_read_as_corrected(tmp_path):
    """A refused file the office removed from the landing folder (withdrawn) clears the refusal too: its resolution
    said the same as a corrected file's. Now it says the file was withdrawn and its data not corrected; the same
    file loaded unchanged (the loader mended) says that."""
    import duckdb

    from pipelines.alerts.conditions import landing_file_cleared
    from pipelines.alerts.store import fingerprint

    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create schema raw")
        con.execute(
            "create table raw.ingested_files (source varchar, file_name varchar, file_hash varchar, status varchar, "
            "rows_loaded bigint, rows_rejected bigint, ingested_at timestamp)"
        )
        con.execute(
            """insert into raw.ingested_files values
               ('pledge_loans', 'gone.csv', 'h1', 'failed', 0, 0, '2026-12-01 01:00:00'),
               ('pledge_loans', 'gone.csv', 'h1', 'withdrawn', 0, 0, '2026-12-02 01:00:00'),
               ('pledge_loans', 'same.csv', 'h2', 'failed', 0, 0, '2026-12-01 01:00:00'),
               ('pledge_loans', 'same.csv', 'h2', 'loaded', 12, 1, '2026-12-03 02:30:00'),
               ('pledge_loans', 'still.csv', 'h3', 'failed', 0, 0, '2026-12-01 01:00:00')"""
        )
        notes = landing_file_cleared(con)
    fp = lambda name: fingerprint("landing_file_refused", None, f"pledge_loans/{name}")  # noqa: E731
    assert set(notes) == {fp("gone.csv"), fp("same.csv")}
    assert "撤回" in notes[fp("gone.csv")]["zh"] and "not corrected" in notes[fp("gone.csv")]["en"]
    same = notes[fp("same.csv")]
    assert "内容未改" in same["zh"] and "2026-12-03 10:30 北京时间" in same["zh"] and "载入12行、隔离1行" in same["zh"]
    assert "the same file (unchanged)" in same["en"]


# ------------------------------------------------------------------------------------------ one send at a time
def test_a_slow_channel_keeps_its_digest_leased_for_its_whole_session(site):
    """A channel given a long `session_timeout` (a slow relay, 300 s) had its digest leased for 120 s only: past that
    the delivery sensor's next tick claimed it while the first send was still under way, and the office got it twice.
    The lease now outlasts the channel's session."""
    import threading
    from dataclasses import replace

    import duckdb
    from alerts_fixtures import write_routing

    from pipelines.alerts import conditions as cond
    from pipelines.alerts.lifecycle import _claim, deliver_due, record_and_dispatch

    relay = SmtpSink(delay=2).start()
    try:
        write_routing(site["routing"], relay.port, session_timeout=300)
        cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
        cfg["routes"] = cfg["routes"][1:]  # the national office alone: one digest
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        set_status(site["warehouse"], "410100", "limited_progress")
        rules = load_rules()
        with duckdb.connect(str(site["warehouse"])) as con:
            found, evaluated = cond.evaluate(con, rules)
        # planned, not sent: a run budget of next to nothing starts no delivery
        planning = replace(load_routing(), run_budget_seconds=1e-9)
        record_and_dispatch(found, evaluated=evaluated, rules=rules, routing=planning, run_id="run-1")
        with connect() as con:
            (key,) = con.execute("SELECT idempotency_key FROM alerts.messages WHERE status = 'pending'").fetchone()
        sending = threading.Thread(target=deliver_due, args=(load_routing(),))
        sending.start()
        try:
            for _ in range(200):  # until the first dispatcher has claimed it (leased into the future) and sends
                with connect() as con:
                    (until,) = con.execute(
                        "SELECT next_retry_at FROM alerts.messages WHERE idempotency_key = ?", (key,)
                    ).fetchone()
                if until and parse(until) > now_utc():
                    break
                threading.Event().wait(0.02)
            assert _claim(None, key, now_utc() + timedelta(seconds=150)) is None  # a tick 150 s on finds it leased
        finally:
            sending.join()
        assert len(relay.messages) == 1
    finally:
        relay.stop()


@pytest.mark.parametrize("value", ["60s", 0, -5, True])
def test_a_timeout_that_is_not_a_number_of_seconds_is_refused_when_the_file_is_read(site, value):
    """`session_timeout: 60s` failed every attempt on the channel with a ValueError, thirty times per digest."""
    _mail_channel(site["routing"], "127.0.0.1", 25, sender="m@test.local", session_timeout=value)
    problem = load_routing(strict=False).problems[0]
    assert problem.entry == "channel mail" and "`session_timeout` is a number of seconds" in problem.reason


# ------------------------------------------------------------------------------------------ one group, one message
@pytest.mark.parametrize("kind", ["dingtalk", "wecom"])
def test_a_robot_route_posts_one_message_mentioning_all_its_members(site, monkeypatch, kind):
    """A route listing three members on a DingTalk / WeCom robot posted three copies of each digest into the one
    group chat the robot is in. It now posts one, mentioning every mobile among them (DingTalk's atMobiles and
    "@number" in the text) and naming the rest; a member added to or removed from the list later is the same group,
    so the alerts still firing are not posted again, and their resolution comes once."""
    from alert_receivers import HttpSink
    from test_alerts_round5 import ROBOT_KEY, robot_content, robot_routing

    monkeypatch.setenv("TEST_ROBOT_KEY", ROBOT_KEY)
    hook = HttpSink().start()
    try:
        robot_routing(site["routing"], hook.port, kind=kind)
        cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
        cfg["routes"][0]["recipients"]["robot"] = ["138 0013 8000", "+86 139-0013-9000", "值班组"]
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        (request,) = hook.requests
        text = robot_content(request)
        assert "值班组" in text
        if kind == "dingtalk":
            assert request["json"]["at"]["atMobiles"] == ["13800138000", "13900139000"]
            assert text.split("\r\n")[1].startswith("@13800138000 @13900139000 ")

        cfg["routes"][0]["recipients"]["robot"] = ["138 0013 8000", "值班组", "新成员"]  # one left, one joined
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        set_status(site["warehouse"], "410700", "limited_progress")
        run_alerts(site["warehouse"], "run-2")
        assert len(hook.requests) == 2  # the new alert alone, not Zhengzhou's again
        again = robot_content(hook.requests[1])
        assert "新乡" in again and "郑州" not in again and "新成员" in again

        set_status(site["warehouse"], "410100", "on_track")
        run_alerts(site["warehouse"], "run-3")
        assert len(hook.requests) == 3 and "郑州" in robot_content(hook.requests[2])  # its resolution, once
        with connect() as con:
            assert {r[0] for r in con.execute("SELECT recipient FROM alerts.heard")} == {
                "138 0013 8000, 值班组, 新成员"
            }
    finally:
        hook.stop()


def test_one_mailbox_on_two_routes_is_named_when_the_file_is_read(site):
    """The national office's mailbox on its summary route and on a second route got two digests the same day, the
    alerts both take told twice, and nothing said so. The file now reads with a warning naming the mailbox and the
    routes (both routes are still used: another language or the full list beside a summary may be meant)."""
    _mail_channel(site["routing"], "127.0.0.1", 25, sender="m@test.local")
    cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
    cfg["routes"].append(
        {"name": "acceptance", "audience": "city", "recipients": {"mail": ["国家局 <National@test.local>"]}}
    )
    site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    routing = load_routing()
    (warning,) = routing.warnings
    assert (
        warning.entry == "route acceptance"
        and warning.line
        and "name: acceptance"
        in "\n".join(site["routing"].read_text(encoding="utf-8").splitlines()[warning.line - 1 : warning.line + 4])
    )
    assert "mailbox national@test.local is also on route national_office" in warning.reason
    assert [r.name for r in routing.routes] == ["national_office", "acceptance"]


# ------------------------------------------------------------------------------------------ figures a reader can check
def _one_programme_city(con) -> None:
    """marts.dim_city with one active programme city (Xinxiang, Henan): what the city rules join to."""
    con.execute("create schema marts")
    con.execute(
        "create table marts.dim_city as select '410700' as unit_code, '新乡市' as unit_name, "
        "'Xinxiang' as unit_name_en, '410000' as province_code, '河南省' as province_name, "
        "true as is_programme, 'active' as programme_status"
    )


def test_a_bottom_group_or_rank_drop_alert_names_its_figure_and_threshold(tmp_path):
    """ "处于末位组（第 52/60 名）" named neither the city's composite index nor the bound of the bottom group, and
    "排名下降 12 位（现第 52 名）" neither the rank before nor the threshold: a city contesting it could not check it.
    Each now names the figure and what it was read against (the performance_bands seed, rules.yaml max_rank_loss)."""
    import duckdb

    from pipelines.alerts.conditions import bottom_group, rank_drop

    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        _one_programme_city(con)
        con.execute(
            "create table marts.fct_city_score_year as select '410700' as unit_code, 2025 as year, 52 as rank, "
            "60 as n_ranked, false as rank_is_shared, -12 as rank_change, 'emerging' as performance_group, "
            "cast(64.95 as double) as composite_index_published"
        )
        (group,) = bottom_group(con, load_rules())
        (drop,) = rank_drop(con, load_rules())
    assert "综合指数 65.0，末位组为综合指数 < 70；第 52/60 名" in group.title_zh, group.title_zh
    assert "composite index 65.0; the bottom group is an index < 70; rank 52/60" in group.title_en, group.title_en
    assert "由第 40 名降至第 52 名；下降超过 10 位即预警" in drop.title_zh, drop.title_zh
    assert "from 40 to 52; alerted above a loss of 10" in drop.title_en, drop.title_en


def test_a_robot_digest_waiting_under_the_old_mention_list_is_told_to_the_group_once(site, monkeypatch):
    """The group's digest waits for a retry (the robot answered an error) when an operator edits the route's
    members: the waiting digest, under the old list, is parked as no longer routed, and the group hears the alert
    once, in its next digest under the new list (not never, not twice)."""
    from alert_receivers import HttpSink
    from test_alerts_round5 import ROBOT_KEY, robot_content, robot_routing

    from pipelines.alerts.lifecycle import deliver_due

    monkeypatch.setenv("TEST_ROBOT_KEY", ROBOT_KEY)
    answer = {"errcode": 500, "errmsg": "system busy"}
    hook = HttpSink(reply=lambda request: answer).start()
    try:
        robot_routing(site["routing"], hook.port, kind="dingtalk")
        cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
        cfg["routes"][0]["recipients"]["robot"] = ["13800138000", "值班组"]
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        assert len(hook.requests) == 1  # tried, refused for now: waits for its retry

        cfg["routes"][0]["recipients"]["robot"] = ["13900139000", "值班组"]
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        answer.update(errcode=0, errmsg="ok")
        run_alerts(site["warehouse"], "run-2")
        deliver_due(load_routing())
        delivered = [r for r in hook.requests[1:]]
        assert len(delivered) == 1 and "郑州" in robot_content(delivered[0]), [robot_content(r) for r in delivered]
        assert delivered[0]["json"]["at"]["atMobiles"] == ["13900139000"]
        with connect() as con:  # the old one's retry comes: parked, not sent
            con.execute("UPDATE alerts.messages SET next_retry_at = ? WHERE status = 'pending'", (iso(now_utc()),))
        deliver_due(load_routing())
        assert len(hook.requests) == 2
        with connect() as con:
            statuses = dict(con.execute("SELECT recipient, status FROM alerts.messages").fetchall())
        assert statuses == {"13800138000, 值班组": "failed", "13900139000, 值班组": "delivered"}, statuses
    finally:
        hook.stop()


def test_a_pledge_month_that_never_arrived_does_not_read_as_settled(tmp_path):
    """The pledge-freshness alert follows the month due: when the calendar moved on, the month before "resolved", and
    the province office read "已解除" for statistics that never came. Its resolution now says whether the month
    arrived or is still missing while a later month is followed."""
    from datetime import date

    import duckdb

    from pipelines.alerts.conditions import pledge_freshness_cleared
    from pipelines.alerts.store import fingerprint

    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create schema marts; create schema raw")
        con.execute(
            "create table marts.dim_city as select * from (values ('410100', '郑州市', 'Zhengzhou', '410000', "
            "'河南省', true, 'active')) t(unit_code, unit_name, unit_name_en, province_code, province_name, "
            "is_programme, programme_status)"
        )
        con.execute("create table raw.pledge_loans as select '410100' as city_code, date '2026-09-01' as month")
        notes = pledge_freshness_cleared(con, load_rules(), today=date(2026, 12, 15))
    came = notes[fingerprint("pledge_freshness", "410000", "pledge_loans:2026-09")]
    missing = notes[fingerprint("pledge_freshness", "410000", "pledge_loans:2026-10")]
    assert came["zh"] == "2026-09 数据已送达（1行）"
    assert missing["zh"].startswith("2026-10 数据仍未送达；应报月份已更替为 2026-11") and "still not" in missing["en"]
    assert fingerprint("pledge_freshness", None, "pledge_loans:2026-09") in notes  # the engineers' alert too


def test_a_source_no_unit_reported_is_alerted_not_passed_over(tmp_path):
    """fct_reporting_status says none_received when no unit's report of a source and year came within the grace
    period (a lost or late collection file: not an exit). The source_reporting rule alerted missing, late and
    not_reported only, so the one status that says a whole collection is missing reached nobody."""
    import duckdb

    from pipelines.alerts.conditions import source_reporting

    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        _one_programme_city(con)
        con.execute(
            "create table marts.fct_reporting_status as select '410700' as unit_code, 'pledge_loans' as source, "
            "2025 as year, 'none_received' as status, date '2026-03-31' as due_date, "
            "date '2026-06-30' as grace_end_date, cast(null as date) as received_date, "
            "false as received_after_grace_end"
        )
        (alert,) = source_reporting(con, load_rules())
    assert alert.detail["status"] == "none_received"
    assert "宽限期内全部单位均未报送" in alert.title_zh and "不视同退出" in alert.title_zh, alert.title_zh
    assert "逾期视为退出" not in alert.title_zh  # the exit wording belongs to one unit's missing report
    assert "received from no unit within the grace period" in alert.title_en, alert.title_en
