"""Alerts that reach people, round 12: a webhook's 401/403 (a token expired or rotated) refuses the CHANNEL, not the
digest: the channel is marked refusing (named in `ipcity alerts status` and, by mail, to the data engineers, in both
languages), the later digests for it wait rather than being parked one by one, and they are delivered in order once
the channel answers again (`ipcity alerts retry --channel`, or the slow schedule). Each digest also says what to do
next for each kind of alert it carries, in the labels seed's words.

Real receivers only: aiosmtpd for the engineers' mail and an HTTP receiver on 127.0.0.1 for the webhook, a real
DuckDB warehouse and SQLite store.
"""

from __future__ import annotations

from datetime import timedelta

import yaml
from alert_receivers import HttpSink, SmtpSink
from alerts_fixtures import ENGINEERS, bare_site, hook_and_mail  # noqa: F401 - the `site` fixture
from click.testing import CliRunner
from test_alerts import run_alerts, set_status

from pipelines.alerts.config import load_routing
from pipelines.alerts.lifecycle import deliver_due
from pipelines.alerts.store import connect, iso, now_utc


def _hook_messages() -> list[tuple]:
    with connect() as con:
        return [
            tuple(r)
            for r in con.execute(
                "SELECT idempotency_key, status, attempts FROM alerts.messages WHERE channel = 'hook' "
                "ORDER BY created_at, rowid"  # the store keeps whole seconds: two digests of one second in the order written
            ).fetchall()
        ]


def test_a_401_marks_the_channel_refusing_its_digests_wait_and_go_in_order_once_it_answers(site):
    """A rotated token parked every digest of the channel, one by one, until someone ran --retry-failed, and
    nobody was told the channel itself was broken. Now the first 401 marks the channel, the engineers hear of the
    channel by mail (zh + en), a later digest waits untried, and once the token is mended the waiting digests go out
    oldest first and the channel is answering again."""
    from pipelines.cli import main

    hook, relay = HttpSink(status=401).start(), SmtpSink().start()
    try:
        hook_and_mail(site["routing"], hook.port, relay.port)
        wh = site["warehouse"]
        set_status(wh, "410100", "limited_progress")
        run_alerts(wh, "run-1")
        assert len(hook.requests) == 1  # the refusal is the channel's: not tried again within the call
        ((first, status, attempts),) = _hook_messages()
        assert (status, attempts) == ("pending", 1)  # waiting, not parked
        with connect() as con:
            (row,) = con.execute("SELECT channel, response FROM alerts.channel_refusals").fetchall()
        assert row["channel"] == "hook" and "HTTP 401" in row["response"]

        # the engineers are told of the channel, in both languages, with what to run once it is mended
        (de,) = relay.to(ENGINEERS)
        zh, en = SmtpSink.text(de).split("\nTo ", 1)
        assert "预警通道拒收：通道 hook" in zh and "ipcity alerts retry --channel hook" in zh, zh
        assert "alert channel refusing: the receiver refuses the credentials of channel hook" in en, en
        assert "ipcity alerts retry --channel" in en.split("Next steps:")[1]  # the engineer's next step

        status_out = CliRunner().invoke(main, ["alerts", "status"], env={"COLUMNS": "250"})
        assert status_out.exit_code == 1, status_out.output
        assert "hook" in status_out.output and "拒收中" in status_out.output and "refusing" in status_out.output

        # a later digest on the same channel waits, untried, rather than being parked on its own (it replaces the
        # first, which had not been delivered, and carries both cities: the store's supersede rule)
        set_status(wh, "410700", "limited_progress")
        run_alerts(wh, "run-2")
        assert len(hook.requests) == 1
        rows = _hook_messages()
        assert [r[1] for r in rows] == ["superseded", "pending"] and rows[1][2] == 0, rows
        assert len(relay.to(ENGINEERS)) == 1  # the channel is told once, not once per digest

        # the token mended: the waiting digest goes out with both cities, and the channel answers again
        hook.status = 200
        out = CliRunner().invoke(main, ["alerts", "retry", "--channel", "hook"], env={"COLUMNS": "250"})
        assert out.exit_code == 0, out.output
        assert [r[1] for r in _hook_messages()] == ["superseded", "delivered"]
        (sent,) = hook.requests[1:]
        assert sent["headers"].get("X-Idempotency-Key") == rows[1][0]
        text = sent["raw"].decode()
        assert "410100" in text or "郑州" in text, text
        assert "410700" in text or "新乡" in text, text
        assert first != rows[1][0]
        with connect() as con:
            assert con.execute("SELECT count(*) FROM alerts.channel_refusals").fetchone()[0] == 0
        answering = CliRunner().invoke(main, ["alerts", "status"], env={"COLUMNS": "250"})
        assert answering.exit_code == 0 and "正常应答" in answering.output and "answering" in answering.output
    finally:
        hook.stop()
        relay.stop()


def test_a_refusing_channel_is_tried_again_on_its_slow_schedule_not_before(site):
    """The delivery sensor's minute does not knock on a refusing channel: it waits `refusal_retry_seconds`; when
    that has passed the oldest digest is tried, and a 403 again keeps the channel (and its digests) waiting."""
    hook, relay = HttpSink(status=403).start(), SmtpSink().start()
    try:
        hook_and_mail(site["routing"], hook.port, relay.port)
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        assert len(hook.requests) == 1
        routing = load_routing()
        assert routing.refusal_retry_seconds >= 600
        deliver_due(routing)
        assert len(hook.requests) == 1  # not due yet
        with connect() as con:  # the slow schedule's time has come
            past = iso(now_utc() - timedelta(seconds=1))
            con.execute("UPDATE alerts.channel_refusals SET next_try_at = ?", (past,))
            con.execute("UPDATE alerts.messages SET next_retry_at = ? WHERE channel = 'hook'", (past,))
        deliver_due(routing)
        assert len(hook.requests) == 2
        assert [r[1] for r in _hook_messages()] == ["pending"]
        with connect() as con:
            assert con.execute("SELECT tries FROM alerts.channel_refusals").fetchone()[0] == 2
    finally:
        hook.stop()
        relay.stop()


def test_every_digest_says_the_next_step_for_each_kind_of_alert_in_both_languages(site):
    """A digest said what fired and how to acknowledge or silence it, not what to do: the provincial office read
    "behind target" and nothing on who acts. Each firing rule now carries its next step, worded once in the labels
    seed (alert_next_step), in the mail's plain text and HTML part, in the webhook's payload per alert, and on the
    dashboard's Alerts page; an engineering alert (a refusing channel) carries the data engineer's step."""
    import polars as pl

    from dashboards.pages.alerts import alert_rows, load_alerts
    from pipelines.alerts.config import ROLES_OF_AUDIENCE, load_rules
    from pipelines.labels import label_set, next_step

    # every alert rule has its next step for each role its audience reaches, in both languages (round 13: worded
    # per recipient role, national office / provincial office / data engineer)
    rules = load_rules()
    assert set(rules.rules) <= set(label_set("alert_rule"))
    missing = [
        (r, role)
        for r in rules.rules
        for role in ROLES_OF_AUDIENCE[rules.audience(r)]
        if not (next_step(r, "zh", role) and next_step(r, "en", role))
    ]
    assert not missing, missing

    hook, relay = HttpSink(status=200).start(), SmtpSink().start()
    try:
        hook_and_mail(site["routing"], hook.port, relay.port)
        cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
        cfg["routes"].append(
            {
                "name": "province_office",
                "audience": "city",
                "role": "province",
                "recipients": {"mail": ["po@test.local"]},
            }
        )
        site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        set_status(site["warehouse"], "410100", "limited_progress")
        run_alerts(site["warehouse"], "run-1")
        # round 13: the provincial office's mail carries its step, the national office's webhook the national one
        zh_step, en_step = next_step("target_behind", "zh", "province"), next_step("target_behind", "en", "province")
        (mail,) = relay.to("po@test.local")
        zh, en = SmtpSink.text(mail).split("\nTo ", 1)
        assert "下一步：" in zh and zh_step in zh, zh
        assert "Next steps:" in en and en_step in en, en
        html = next(p for p in mail.walk() if p.get_content_type() == "text/html").get_content()
        assert zh_step in html and en_step.replace("'", "&#x27;") in html
        (sent,) = hook.requests
        (alert,) = sent["json"].get("firing") or sent["json"]["payload"]["firing"]
        zh_step, en_step = next_step("target_behind", "zh", "national"), next_step("target_behind", "en", "national")
        assert alert["next_step"] == {"zh": zh_step, "en": en_step}, alert
    finally:
        hook.stop()
        relay.stop()

    df, _ = load_alerts("firing")  # the national office's page: its own step
    for lang, step in (("zh", zh_step), ("en", en_step)):
        (row,) = alert_rows(df, lang)
        assert step in row["title"] and row["next_step"] == step, row
    resolved = alert_rows(pl.DataFrame([{**df.row(0, named=True), "state": "resolved"}]), "zh")
    assert resolved[0]["next_step"] == ""  # a cleared alert asks nothing more
