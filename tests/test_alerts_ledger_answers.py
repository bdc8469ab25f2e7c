"""The delivery ledger's answers in 简体中文 as well as English: the record stays the English the channels and the
dispatcher write; the CLI's delivery tables and the delivery_failed notice show the Chinese first.

Real receivers only: aiosmtpd on 127.0.0.1, a real SQLite store.
"""

from __future__ import annotations

import re

from alert_receivers import SmtpSink
from test_alerts_round10 import _digest, _hook

from pipelines.alerts import channels
from pipelines.settings import ALERT_PRIVATE_NETWORKS_ENV

# --------------------------------------------------------------------- the ledger's answers in both languages
CJK = re.compile(r"[\u3400-\u9fff]")


def _real_answers(monkeypatch) -> list[str]:
    """Answers as the channels write them into the ledger, from real sends to real receivers."""
    out = []
    monkeypatch.delenv(ALERT_PRIVATE_NETWORKS_ENV, raising=False)
    out.append(channels.send(_digest(), _hook("http://169.254.169.254/"))[1])
    out.append(channels.send(_digest(), _hook("http://10.1.2.3/"))[1])
    monkeypatch.setenv(ALERT_PRIVATE_NETWORKS_ENV, "10.0.0.0/8, gateway.intra")
    out.append(channels.send(_digest(), _hook("http://10.1.2.3/"))[1])
    monkeypatch.setenv(ALERT_PRIVATE_NETWORKS_ENV, "127.0.0.0/8")
    out.append(channels.send(_digest(), _hook("ftp://127.0.0.1/"))[1])
    monkeypatch.delenv("IPCITY_TEST_NO_SUCH_KEY", raising=False)
    out.append(channels.send(_digest(), {"type": "wecom", "key_env": "IPCITY_TEST_NO_SUCH_KEY"})[1])
    relay = SmtpSink(smtputf8=False, refuse={"gone@test.local": "550 5.1.1 no such mailbox"}).start()
    try:
        smtp = {"type": "smtp", "host": "127.0.0.1", "port": relay.port, "sender": "m@test.local", "timeout": 5}
        out.append(channels.send(_digest("ipo@test.local\r\nBcc: x@test.local"), smtp)[1])
        out.append(channels.send(_digest("中文@例子.中国"), smtp)[1])
        out.append(channels.send(_digest("gone@test.local"), smtp)[1])
        out.append(channels.send(_digest("ok@test.local"), smtp)[1])
        out.append(channels.send(_digest("ok@test.local"), {**smtp, "ssl": True})[1])
    finally:
        relay.stop()
    return out


# Answers written by the dispatcher or hard to provoke quickly (a slow relay, a 429), in the code's exact words.
WRITTEN = [
    "not sent: ipo-410000@test.local is no longer in the routing file (route province_office)",
    "superseded by 0123456789abcdef: not sent, its alerts' latest state is there",
    "channel mail is not configured in /etc/ipcity/routing.yaml",
    "session_timeout: 10.0.0.5:25 did not finish within 60 s (TimeoutError)",
    "session_timeout: no complete answer within 60 s (Notification failed)",
    "rate limited: retry after 120 s (HTTP 429; Sending JSON notification failed)",
    "robot refused: errcode 93000 invalid webhook url",
    "TLS: no SMTP greeting from 10.0.0.5:465: a port that starts TLS at once (465) takes `ssl: true`; otherwise the "
    "relay is not answering (SMTPServerDisconnected: Connection unexpectedly closed)",
    "accepted by 127.0.0.1:25 (session ended after accepting: SMTPServerDisconnected; cut to the relay's SIZE limit "
    "of 20000 bytes)",
]
# a bounce (pipelines.alerts.bounces): the remote server's diagnostic is its own words, kept as written
BOUNCE = (
    "permanent refusal: bounced: ipo-410000@test.local 5.1.1 smtp; 550 5.1.1 <ipo-410000@test.local>: Recipient "
    "address rejected: User unknown in local recipient table"
)


def test_every_answer_of_ours_in_the_ledger_has_its_chinese(monkeypatch):
    """The delivery ledger's answers were English only, and `ipcity alerts list --deliveries`, `alerts test`,
    `alerts deliver` and the delivery_failed notice to the engineers showed them so to offices that read 简体中文.
    Each head is a label of the labels seed (delivery_answer) and each sentence of ours has its Chinese; a
    receiver's own words (550 5.1.1 ...) are kept as written."""
    from pipelines.alerts.answers import answer_both, answer_zh, known

    answers = _real_answers(monkeypatch) + WRITTEN
    for text in answers:
        assert known(text), text
        zh = answer_zh(text)
        assert CJK.search(zh), text
        # no English sentence of ours is left in the Chinese: what remains Latin is addresses, codes, settings
        assert not re.search(r"\b(refused|refusal|not sent|within|address|routing file|setting)\b", zh), zh
        assert answer_both(text).split("\n")[-1] == text  # the record, as written, below
    assert known(BOUNCE) and answer_zh(BOUNCE).startswith(
        "永久拒收（不再重试）：被收件服务器退信：ipo-410000@test.local 5.1.1"
    )
    gone = next(a for a in answers if "550 5.1.1" in a)
    assert "收件人被拒收" in answer_zh(gone) and "550 5.1.1 no such mailbox" in answer_zh(gone)


def test_the_heads_the_code_writes_are_the_seeds_labels():
    """One definition: the heads the ledger's answers start with are the labels seed's delivery_answer names, as the
    code writes them (a head renamed in one place and not the other would leave it untranslated)."""
    from pathlib import Path

    from pipelines.labels import label_set

    code = "".join(
        Path(f"pipelines/alerts/{name}.py").read_text(encoding="utf-8") for name in ("channels", "lifecycle", "bounces")
    )
    for _zh, en in label_set("delivery_answer").values():
        assert en.endswith(":") and f"{en} " in code, en


def test_the_cli_shows_a_refusal_in_chinese_and_english(tmp_path, monkeypatch):
    from click.testing import CliRunner
    from test_alerts_round5 import write_routing

    from pipelines.cli import main

    monkeypatch.setenv("IPCITY_ALERT_ROUTING", str(tmp_path / "routing.yaml"))
    monkeypatch.setenv("IPCITY_ALERT_STORE", str(tmp_path / "alerts.sqlite"))
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    relay = SmtpSink(refuse={"national@test.local": "550 5.1.1 no such mailbox"}).start()
    try:
        write_routing(tmp_path / "routing.yaml", relay.port)
        res = CliRunner().invoke(main, ["alerts", "test", "--route", "national_office"], env={"COLUMNS": "250"})
    finally:
        relay.stop()
    assert res.exit_code == 1, res.output
    assert "永久拒收（不再重试）：收件人被拒收" in res.output, res.output
    assert "permanent refusal: recipient refused" in res.output
    ledger = CliRunner().invoke(main, ["alerts", "list", "--deliveries"], env={"COLUMNS": "250"})
    assert "收件人被拒收" in ledger.output, ledger.output


def test_the_delivery_failed_notice_gives_the_refusal_in_chinese(tmp_path, monkeypatch):
    """The engineers' notice of a digest refused for good: its Chinese section quoted the ledger's English answer."""
    from test_alerts import run_alerts, set_status, write_target_marts
    from test_alerts_round5 import write_routing
    from test_alerts_round7 import _with_engineers

    routing = tmp_path / "routing.yaml"
    monkeypatch.setenv("IPCITY_ALERT_ROUTING", str(routing))
    monkeypatch.setenv("IPCITY_ALERT_STORE", str(tmp_path / "alerts.sqlite"))
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    wh = write_target_marts(tmp_path / "warehouse.duckdb", status="on_track")
    relay = SmtpSink(refuse={"ipo-410000@test.local": "550 5.1.1 mailbox unavailable"}).start()
    try:
        write_routing(routing, relay.port)
        _with_engineers(routing)
        set_status(wh, "410100", "limited_progress")
        run_alerts(wh, "run-1")
        (de,) = relay.to("de@test.local")
    finally:
        relay.stop()
    zh, en = SmtpSink.text(de).split("\nTo ", 1)
    assert "预警未送达：ipo-410000@test.local" in zh
    assert "永久拒收（不再重试）：收件人被拒收：ipo-410000@test.local 550 5.1.1 mailbox unavailable" in zh, zh
    assert "permanent refusal" not in zh and "permanent refusal: recipient refused" in en
