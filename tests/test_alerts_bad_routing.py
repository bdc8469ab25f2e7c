"""A bad alert routing file never blocks the run: its bad entries are left out and named (file, line, entry,
reason) in the run's log, the alert step's metadata and an engineering alert; the valid routes still deliver;
an unreadable file delivers nothing but loses nothing; the dashboard snapshot publishes either way.

Runs the real publish assets in Dagster against a real DuckDB warehouse, a real SQLite alert store and a real SMTP
server (aiosmtpd) on 127.0.0.1.
"""

from __future__ import annotations

import time

import dagster as dg
import duckdb
import pytest
from alert_receivers import SmtpSink
from test_alerts import CITIES, wait_for, write_target_marts

from pipelines.alerts import evaluate_and_notify
from pipelines.assets.publish import build_publish_assets
from pipelines.resources import Alerting, Warehouse
from pipelines.settings import snapshot_path


@dg.asset(key=["marts", "fct_target_status"])
def target_status_stub() -> None:
    """Stands for the evaluation build (the test's warehouse already holds its table)."""


@dg.asset(key=["raw", "pledge_loans"])
def raw_stub() -> None:
    """Stands for the ingested raw tables."""


PUBLISH = build_publish_assets([target_status_stub], [raw_stub])
STEP = dg.AssetSelection.assets(*[a for a in PUBLISH if a.key.path[0] != "published" or a.key.path[1] == "snapshot"])


def routing_text(smtp_port: int, province_recipient: str, *, hook_token: bool = True) -> str:
    """A routing file written by hand, so the line of each entry is known (the province route starts on line 6).
    ``hook_token``: the webhook channel carries a secret in clear text, which refuses it."""
    hook = ", token: x" if hook_token else ""
    return (
        'version: "test"\n'  # 1
        "channels:\n"  # 2
        f"  mail: {{type: smtp, host: 127.0.0.1, port: {smtp_port}, sender: monitor@test.local, timeout: 5}}\n"  # 3
        f"  hook: {{type: webhook, url: 'http://127.0.0.1:9/alerts'{hook}}}\n"  # 4
        "routes:\n"  # 5
        "  - name: province_office\n"  # 6
        f"    audience: city\n    per: province\n    recipients: {{mail: ['{province_recipient}']}}\n"  # 7-9
        "  - {name: national_office, audience: city, recipients: {mail: [national@test.local], hook: [ops]}}\n"  # 10
        "  - {name: data_engineers, audience: engineering, recipients: {mail: [de@test.local]}}\n"  # 11
        "delivery: {immediate_attempts: 2, backoff_seconds: [0.3], max_attempts: 50}\n"
    )


@pytest.fixture
def site(tmp_path, monkeypatch, smtp):
    """A warehouse where every city has fallen behind a key target, the alert store, the routing file."""
    routing = tmp_path / "routing.yaml"
    monkeypatch.setenv("IPCITY_ALERT_ROUTING", str(routing))
    monkeypatch.setenv("IPCITY_ALERT_STORE", str(tmp_path / "alerts.sqlite"))
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    wh = write_target_marts(tmp_path / "warehouse.duckdb", status="limited_progress")
    return {"warehouse": wh, "routing": routing, "store": tmp_path / "alerts.sqlite"}


def _run(site) -> tuple[dg.ExecuteInProcessResult, list[str]]:
    """The run's last steps as the pipeline runs them (quality summary, alert step, snapshot), and its log."""
    instance = dg.DagsterInstance.ephemeral()
    res = dg.materialize(
        [target_status_stub, raw_stub, *PUBLISH],
        selection=STEP,
        resources={
            "warehouse": Warehouse(database=str(site["warehouse"])),
            "alerting": Alerting(store=str(site["store"])),
        },
        instance=instance,
        raise_on_error=False,
    )
    return res, [e.user_message for e in instance.all_logs(res.run_id)]


def _alert_step_metadata(res: dg.ExecuteInProcessResult) -> dict:
    (mat,) = [m for m in res.get_asset_materialization_events() if m.asset_key == dg.AssetKey(["marts", "fct_alerts"])]
    return {k: v.value for k, v in mat.step_materialization_data.materialization.metadata.items()}


def _published_alerts(site, run_id: str) -> list[tuple]:
    with duckdb.connect(str(snapshot_path(site["warehouse"])), read_only=True) as con:
        assert con.execute("select value from meta.snapshot_info where key = 'run_id'").fetchall() == [(run_id,)]
        return con.execute("select rule_id, unit_code from marts.fct_alerts order by rule_id, unit_code").fetchall()


def test_a_bad_route_and_a_bad_channel_are_left_out_the_rest_delivers_and_the_snapshot_publishes(site, smtp):
    site["routing"].write_text(routing_text(smtp.port, "ipo-{province}@test.local"), encoding="utf-8")
    res, log = _run(site)
    assert res.success  # the alert step did not fail, so the snapshot was published

    # The valid routes deliver: the national office by mail (its refused webhook left out), the data engineers.
    assert wait_for(lambda: len(smtp.messages) == 2)
    time.sleep(0.3)
    assert sorted(m["X-Envelope-To"] for m in smtp.messages) == ["de@test.local", "national@test.local"]
    national = SmtpSink.text(smtp.to("national@test.local")[0])
    assert all(name in national for _, name, _, _ in CITIES)

    # What was left out, named by file, line, entry and reason: in the run's log, the alert step's metadata and
    # the data engineers' mail.
    route = (
        f"{site['routing']}, line 6: route province_office: recipient 'ipo-{{province}}@test.local': unknown "
        "placeholder {province}; use {province_code} or {province_name}"
    )
    channel = f"{site['routing']}, line 4: channel hook: ['token'] in clear text"
    hook = f"{site['routing']}, line 10: route national_office, channel hook: channel hook was refused"
    metadata = _alert_step_metadata(res)
    assert metadata["routing_refused"] == 3
    assert all(p in metadata["routing_problems"] for p in (route, channel, hook))
    refused = [line for line in log if line.startswith("alert routing entry left out: ")]
    assert len(refused) == 3 and any(route in line for line in refused) and any(channel in line for line in refused)
    engineers = SmtpSink.text(smtp.to("de@test.local")[0])
    assert "alert routing refused" in engineers and "route province_office" in engineers and "line 6" in engineers

    # The snapshot carries this run's alerts: every city behind its target, and the routing alerts.
    published = _published_alerts(site, res.run_id)
    assert [u for r, u in published if r == "target_behind"] == sorted(code for code, *_ in CITIES)
    assert sum(r == "alert_routing_refused" for r, _ in published) == 3

    # The file mended: the routing alerts resolve (one notice to the data engineers), nothing is refused.
    site["routing"].write_text(routing_text(smtp.port, "ipo-{province_code}@test.local", hook_token=False), "utf-8")
    with duckdb.connect(str(site["warehouse"])) as con:
        out = evaluate_and_notify(con, run_id="mended", path=site["store"])
    assert out["routing_problems"] == [] and out["transitions"]["resolved"] == 3
    assert wait_for(lambda: len(smtp.to("de@test.local")) == 2)
    assert "解除3条" in smtp.to("de@test.local")[1]["Subject"]


def test_an_unreadable_routing_file_sends_nothing_loses_nothing_and_the_snapshot_publishes(site, smtp):
    text = routing_text(smtp.port, "ipo-{province_code}@test.local", hook_token=False)
    site["routing"].write_text(text + "routes: [\n", "utf-8")
    res, log = _run(site)
    assert res.success
    metadata = _alert_step_metadata(res)
    assert metadata["routing_refused"] == 1 and metadata["digests"] == 0
    assert f"{site['routing']}: not valid YAML" in metadata["routing_problems"]
    assert any(line.startswith(f"alert routing entry left out: {site['routing']}: not valid YAML") for line in log)
    time.sleep(0.5)
    assert smtp.messages == []  # no route is known: nobody is sent anything
    assert [r for r, _ in _published_alerts(site, res.run_id)].count("target_behind") == len(CITIES)

    # The alerts were kept pending, not marked as heard: once the file reads, every office hears of them once.
    site["routing"].write_text(text, "utf-8")
    with duckdb.connect(str(site["warehouse"])) as con:
        out = evaluate_and_notify(con, run_id="mended", path=site["store"])
    assert out["routing_problems"] == []
    assert wait_for(lambda: len(smtp.messages) == 3)
    time.sleep(0.3)
    assert sorted(m["X-Envelope-To"] for m in smtp.messages) == [
        "ipo-320000@test.local",
        "ipo-410000@test.local",
        "national@test.local",
    ]  # the routing alert fired and resolved unheard: the data engineers get no stale notice
