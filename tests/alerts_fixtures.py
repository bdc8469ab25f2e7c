"""The alert tests' shared site (rounds 5 to 11): a warehouse with the target marts, a routing file, an alert store,
and for the mail rounds a real aiosmtpd relay on 127.0.0.1 the routing file points at. One place, so every round
builds its site alike and a change to how the site is made is made once.

A module imports the fixture it uses (`from alerts_fixtures import mail_site`); both are named ``site`` to the
tests, which take ``site`` as before.
"""

from __future__ import annotations

import pytest
import yaml
from alert_receivers import SmtpSink
from test_alerts import write_target_marts


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


def zh_part(msg) -> str:
    """A bilingual digest's Chinese section (plain text)."""
    return SmtpSink.text(msg).split("\nTo ")[0]


def en_part(msg) -> str:
    """A bilingual digest's English section (plain text)."""
    return SmtpSink.text(msg).split("\nTo ", 1)[1]
