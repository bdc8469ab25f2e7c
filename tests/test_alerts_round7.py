"""Alerts that reach people, round 7: recipients a routing file or a relay takes only in part.

Real receivers only: aiosmtpd and an HTTP receiver on 127.0.0.1, a real DuckDB warehouse and SQLite store.
"""

from __future__ import annotations

import pytest
import yaml
from alert_receivers import SmtpSink
from test_alerts import run_alerts, write_target_marts
from test_alerts_round5 import write_routing


@pytest.fixture
def site(tmp_path, monkeypatch):
    routing = tmp_path / "routing.yaml"
    monkeypatch.setenv("IPCITY_ALERT_ROUTING", str(routing))
    monkeypatch.setenv("IPCITY_ALERT_STORE", str(tmp_path / "alerts.sqlite"))
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    wh = write_target_marts(tmp_path / "warehouse.duckdb", status="on_track")
    sink = SmtpSink().start()
    write_routing(routing, sink.port)
    yield {"warehouse": wh, "routing": routing, "tmp": tmp_path, "sink": sink}
    sink.stop()


def _zh(msg) -> str:
    return SmtpSink.text(msg).split("\nTo ")[0]


def _en(msg) -> str:
    return SmtpSink.text(msg).split("\nTo ", 1)[1]


# ------------------------------------------------------------------------------------ recipients in part
def _with_engineers(routing, **national) -> None:
    cfg = yaml.safe_load(routing.read_text(encoding="utf-8"))
    cfg["routes"].append(
        {"name": "data_engineers", "audience": "engineering", "recipients": {"mail": ["de@test.local"]}}
    )
    cfg["routes"][1].update(national)
    routing.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


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
