"""Alerts for the data engineers: a failed run (with its failed blocking check), a refused landing file, and
the group-robot channels, each delivered to real loopback receivers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import parse_qs, urlsplit

import dagster as dg
import duckdb
import pytest
from alert_receivers import HttpSink, SmtpSink, free_port
from conftest import write_cities_csv
from test_alerts import routing_yaml, wait_for

from pipelines.alerts import evaluate_and_notify


@pytest.fixture
def routed(tmp_path, monkeypatch, smtp):
    http = HttpSink().start()
    routing = tmp_path / "routing.yaml"
    routing_yaml(routing, smtp.port, http.port)
    monkeypatch.setenv("IPCITY_ALERT_ROUTING", str(routing))
    monkeypatch.setenv("IPCITY_ALERT_STORE", str(tmp_path / "alerts.sqlite"))
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    yield http
    http.stop()


# A tiny real Dagster job: an ingested asset whose blocking check fails, and a mart below it.
@dg.asset(key=["raw", "pledge_loans"])
def pledge_loans() -> int:
    return 1


@dg.asset_check(asset=pledge_loans, name="gx_errors", blocking=True)
def gx_errors() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata={"unexpected": 3})


@dg.asset(deps=[pledge_loans], key=["marts", "fct_pledge"])
def fct_pledge() -> None:
    return None


def test_failed_run_and_its_blocking_check_reach_the_data_engineers(routed, smtp, tmp_path):
    from pipelines.automation import alert_run_failure_sensor

    instance = dg.DagsterInstance.ephemeral()
    job = dg.define_asset_job("ipcity_pipeline", selection="*")
    defs = dg.Definitions(assets=[pledge_loans, fct_pledge], asset_checks=[gx_errors], jobs=[job])
    res = defs.resolve_job_def("ipcity_pipeline").execute_in_process(instance=instance, raise_on_error=False)
    assert not res.success
    run = instance.get_run_by_id(res.run_id)
    failure = instance.get_records_for_run(res.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    assert failure
    ctx = dg.build_run_status_sensor_context(
        sensor_name="alert_run_failure_sensor",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure[0].event_log_entry.dagster_event,
    ).for_run_failure()
    alert_run_failure_sensor(ctx)

    assert wait_for(lambda: len(smtp.messages) == 1 and len(routed.requests) == 1)
    mail = smtp.messages[0]
    assert mail["X-Envelope-To"] == "de@test.local"  # data engineers only, not the offices
    text = SmtpSink.text(mail)
    assert res.run_id[:8] in text and "raw/pledge_loans" in text and "gx_errors" in text
    rules = {a["rule"] for a in routed.requests[0]["json"]["firing"]}
    assert rules == {"run_failed", "blocking_check_failed"}
    assert routed.requests[0]["json"]["recipient"] == "de-ops"

    # The sensor seeing the same failure again (a restarted daemon) sends nothing new.
    alert_run_failure_sensor(ctx)
    time.sleep(0.3)
    assert len(smtp.messages) == 1 and len(routed.requests) == 1

    # An engineer acknowledges the run failure: a one-off event is closed by that, silently.
    from pipelines.alerts import alert_history
    from pipelines.alerts.config import load_routing
    from pipelines.alerts.lifecycle import dispatch
    from pipelines.alerts.store import acknowledge

    fp = next(a["fingerprint"] for a in routed.requests[0]["json"]["firing"] if a["rule"] == "run_failed")
    assert acknowledge(fp, "de-oncall") == 1
    row = alert_history().filter(alert_history()["fingerprint"] == fp).row(0, named=True)
    assert row["state"] == "resolved" and row["acked_by"] == "de-oncall"
    assert dispatch(load_routing(), run_id="later")["messages"] == []


PLEDGE_HEADER = "城市代码,月份,登记笔数,质押金额(亿元),质押专利数,质押商标数,服务企业数,首贷企业数\n"


def test_refused_landing_file_reaches_the_data_engineers_and_resolves_when_fixed(routed, smtp, tmp_path):
    from pipelines.ingest.load import IngestError, ingest_file
    from pipelines.sources import SOURCES

    wh = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(wh)) as con:
        ingest_file(con, SOURCES["cities"], write_cities_csv(tmp_path / "ref" / "cities.csv"))
        bad = tmp_path / "landing" / "pledge_loans" / "pledge_loans_2024_henan.csv"
        bad.parent.mkdir(parents=True)
        bad.write_text("城市代码,登记笔数\n410100,3\n", encoding="utf-8")  # no month column: refused
        with pytest.raises(IngestError):
            ingest_file(con, SOURCES["pledge_loans"], bad, partition=2024)
        out = evaluate_and_notify(con, run_id="run-bad")
    assert "landing_file_refused" in out["evaluated_rules"]
    assert wait_for(lambda: len(smtp.messages) == 1 and len(routed.requests) == 1)
    assert smtp.messages[0]["X-Envelope-To"] == "de@test.local"
    assert "pledge_loans/pledge_loans_2024_henan.csv" in SmtpSink.text(smtp.messages[0])

    # The office sends a corrected file under the same name: the alert resolves, with one notice.
    bad.write_text(PLEDGE_HEADER + "410100,2024-01-01,3,0.5,4,1,3,1\n", encoding="utf-8-sig")
    with duckdb.connect(str(wh)) as con:
        ingest_file(con, SOURCES["pledge_loans"], bad, partition=2024)
        out = evaluate_and_notify(con, run_id="run-fixed")
    assert out["transitions"]["resolved"] == 1
    assert wait_for(lambda: len(smtp.messages) == 2)
    assert "解除1条" in smtp.messages[1]["Subject"]
    # round 15: the resolution says the data were corrected (when, how many rows), not "已解除" alone
    text = " ".join(SmtpSink.text(smtp.messages[1]).split())
    assert "解除原因：更正后的文件已于" in text and "数据已更正：载入1行、隔离0行" in text, text
    assert "(cleared: a corrected file loaded" in text and "the data corrected: 1 row loaded" in text, text


def _dingtalk_sign(secret: str, timestamp: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def test_dingtalk_signed_request_and_wecom_robot_formats(monkeypatch):
    """apprise's DingTalk (加签) and WeCom robots, pointed at a loopback gateway instead of the public API."""
    from pipelines.alerts.channels import send

    http = HttpSink().start()
    try:
        monkeypatch.setenv("DT_TOKEN", "abc123token")
        monkeypatch.setenv("DT_SECRET", "SECf00dbeef")
        monkeypatch.setenv("WECOM_KEY", "wk-0001")
        msg = {
            "idempotency_key": "0123456789abcdef",
            "recipient": "province-410000",
            "subject": "【知识产权强市监测】新预警 1 条",
            "body": "新乡市：目标进展有限\n消息编号 / idempotency key: 0123456789abcdef",
            "route": "province_office",
            "payload": {},
        }
        ok, response = send(
            msg,
            {
                "type": "dingtalk",
                "access_token_env": "DT_TOKEN",
                "secret_env": "DT_SECRET",
                "endpoint": f"http://127.0.0.1:{http.port}/robot/send",
            },
        )
        assert ok, response
        ok, response = send(
            msg,
            {"type": "wecom", "key_env": "WECOM_KEY", "endpoint": f"http://127.0.0.1:{http.port}/cgi-bin/webhook/send"},
        )
        assert ok, response
        assert wait_for(lambda: len(http.requests) == 2)
        dt, wc = http.requests
        q = {k: v[0] for k, v in parse_qs(urlsplit(dt["path"]).query).items()}
        assert q["access_token"] == "abc123token"
        # the signed-request secret (加签): urlencode(base64(HMAC-SHA256(secret, timestamp + "\n" + secret))), encoded
        # once: DingTalk decodes the query once (this test decoded twice and let a double-encoded sign pass)
        assert q["sign"] == _dingtalk_sign("SECf00dbeef", q["timestamp"])
        assert "%25" not in dt["path"]
        assert abs(int(q["timestamp"]) / 1000 - time.time()) < 60
        assert dt["json"]["msgtype"] == "text" and "0123456789abcdef" in dt["json"]["text"]["content"]
        assert parse_qs(urlsplit(wc["path"]).query)["key"] == ["wk-0001"]
        assert "0123456789abcdef" in wc["json"]["text"]["content"]
    finally:
        http.stop()


def test_channel_down_is_a_ledger_entry_not_a_crash():
    from pipelines.alerts.channels import send

    msg = {"idempotency_key": "k", "recipient": "a@b", "subject": "s", "body": "b", "route": "r", "payload": {}}
    ok, response = send(msg, {"type": "smtp", "host": "127.0.0.1", "port": free_port(), "timeout": 2})
    assert not ok and "Connection" in response
