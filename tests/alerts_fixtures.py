"""The alert tests' shared site (rounds 5 to 11): a warehouse with the target marts, a routing file, an alert store,
and for the mail rounds a real aiosmtpd relay on 127.0.0.1 the routing file points at. One place, so every round
builds its site alike and a change to how the site is made is made once.

A module imports the fixture it uses (`from alerts_fixtures import mail_site`); both are named ``site`` to the
tests, which take ``site`` as before.
"""

from __future__ import annotations

import mailbox

import pytest
import yaml
from alert_receivers import SmtpSink
from test_alerts import write_target_marts

ENGINEERS = "de@test.local"


def hook_and_mail(path, hook_port: int, mail_port: int) -> None:
    """A webhook channel (hook) for the national office and a mail channel (mail) for the data engineers."""
    cfg = {
        "version": "test",
        "channels": {
            "hook": {"type": "webhook", "url": f"http://127.0.0.1:{hook_port}/alerts", "timeout": 3},
            "mail": {"type": "smtp", "host": "127.0.0.1", "port": mail_port, "sender": "m@test.local", "timeout": 5},
        },
        "routes": [
            {"name": "national_office", "audience": "city", "recipients": {"hook": ["national-ops"]}},
            {"name": "data_engineers", "audience": "engineering", "recipients": {"mail": [ENGINEERS]}},
        ],
        "delivery": {"immediate_attempts": 2, "backoff_seconds": [0.2], "max_attempts": 50},
    }
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


def write_routing(path, port: int, *, backoff=(600,), immediate: int = 1, **mail) -> None:
    cfg = {
        "version": "test",
        "channels": {
            "mail": {"type": "smtp", "host": "127.0.0.1", "port": port, "sender": "m@test.local", "timeout": 5, **mail}
        },
        "routes": [
            {
                "name": "province_office",
                "audience": "city",
                "per": "province",
                "recipients": {"mail": ["ipo-{province_code}@test.local"]},
            },
            {"name": "national_office", "audience": "city", "recipients": {"mail": ["national@test.local"]}},
        ],
        "delivery": {"immediate_attempts": immediate, "backoff_seconds": list(backoff), "max_attempts": 50},
    }
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


def _site(tmp_path, monkeypatch) -> dict:
    routing = tmp_path / "routing.yaml"
    monkeypatch.setenv("IPCITY_ALERT_ROUTING", str(routing))
    monkeypatch.setenv("IPCITY_ALERT_STORE", str(tmp_path / "alerts.sqlite"))
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    wh = write_target_marts(tmp_path / "warehouse.duckdb", status="on_track")
    return {"warehouse": wh, "routing": routing, "tmp": tmp_path}


@pytest.fixture(name="site")
def bare_site(tmp_path, monkeypatch):
    """The site without a relay: the test starts the receivers it needs (a busy one, one that is down...)."""
    return _site(tmp_path, monkeypatch)


@pytest.fixture(name="site")
def mail_site(tmp_path, monkeypatch):
    """The site with a running relay (``site["sink"]``), the routing file's two mail routes pointing at it."""
    out = _site(tmp_path, monkeypatch)
    sink = SmtpSink().start()
    write_routing(out["routing"], sink.port)
    yield {**out, "sink": sink}
    sink.stop()


def with_engineers(routing, **national) -> None:
    """Add the data engineers' mail route (de@test.local); ``national``: fields to change on the national route."""
    cfg = yaml.safe_load(routing.read_text(encoding="utf-8"))
    cfg["routes"].append(
        {"name": "data_engineers", "audience": "engineering", "recipients": {"mail": ["de@test.local"]}}
    )
    cfg["routes"][1].update(national)
    routing.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


def with_bounce_maildir(routing, folder) -> mailbox.Maildir:
    """Point the mail channel at a real Maildir (the sender's mailbox, where a DSN comes back) and return it."""
    box = mailbox.Maildir(folder, create=True)
    cfg = yaml.safe_load(routing.read_text(encoding="utf-8"))
    cfg["channels"]["mail"]["bounce_maildir"] = str(folder)
    routing.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return box


@pytest.fixture(name="site")
def bounce_site(tmp_path, monkeypatch):
    """The mail site with the engineers' route and a bounce Maildir (``site["box"]``)."""
    out = _site(tmp_path, monkeypatch)
    sink = SmtpSink().start()
    write_routing(out["routing"], sink.port)
    with_engineers(out["routing"])
    box = with_bounce_maildir(out["routing"], tmp_path / "Maildir")
    yield {**out, "sink": sink, "box": box}
    sink.stop()


def zh_part(msg) -> str:
    """A bilingual digest's Chinese section (plain text)."""
    return SmtpSink.text(msg).split("\nTo ")[0]


def en_part(msg) -> str:
    """A bilingual digest's English section (plain text)."""
    return SmtpSink.text(msg).split("\nTo ", 1)[1]
