"""The dashboard's Alerts page: firing alerts and history per city from the alert store, acknowledge and
silence from the page (written to the alert store, never to the warehouse). Flask test client over HTTP."""

from __future__ import annotations

import json

import pytest
from dashboard_fixtures import build_snapshot
from dashboard_http import callback_body, page_body, signed_in_client

from dashboards.app import create_app
from dashboards.pages import alerts as page
from pipelines.alerts.conditions import Condition
from pipelines.alerts.lifecycle import apply_conditions
from pipelines.alerts.store import active_silence, connect, now_utc


def cond(unit, name, prov, subject, title, rule="target_behind", severity="warning"):
    return Condition(
        rule_id=rule,
        unit_code=unit,
        unit_name=name,
        province_code=prov,
        province_name="",
        subject_key=subject,
        title_zh=title,
        title_en=f"{unit}: {subject}",
        severity=severity,
    )


@pytest.fixture
def store(tmp_path, monkeypatch):
    path = tmp_path / "alerts.sqlite"
    monkeypatch.setenv("IPCITY_ALERT_STORE", str(path))
    with connect() as con:
        apply_conditions(
            con,
            [
                cond("410700", "新乡市", "410000", "p/QLT01", "新乡市：目标“<b>发明专利</b>”进展有限"),
                cond("320500", "苏州市", "320000", "stage", "苏州市：整改", rule="stage", severity="critical"),
            ],
            evaluated={"target_behind", "stage"},
            rules_version="t",
            run_id="r1",
            at=now_utc(),
        )
        apply_conditions(
            con,
            [cond("410700", "新乡市", "410000", "p/QLT01", "新乡市：目标进展有限")],
            evaluated={"target_behind", "stage"},
            rules_version="t",
            run_id="r2",
            at=now_utc(),
        )  # Suzhou's stage alert resolves
    return path


def post(client, body, headers=None):
    r = client.post(
        "/_dash-update-component", data=json.dumps(body), content_type="application/json", headers=headers or {}
    )
    assert r.status_code == 200, r.data[:2000]
    return r.get_json()["response"]


@pytest.fixture
def client(tmp_path, store):
    snap = build_snapshot(tmp_path / "snap.duckdb")
    # the alerts page is the national office's (deny by default for other roles): sign in as one
    app = create_app(
        snap, dossier_dir=tmp_path, user_store=tmp_path / "users.sqlite", secret_key_file=tmp_path / "secret_key"
    )
    return signed_in_client(app, tmp_path / "users.sqlite")


def update_body(state, city="", lang="zh"):
    return callback_body(
        [(page.CARDS_ID, "children"), (page.BODY_ID, "children")],
        [(page.STATE_ID, "value", state), (page.CITY_ID, "value", city), (page.REFRESH_ID, "data", 0)],
        [(page.LANG_ID, "data", lang)],
    )


def grid_rows(resp) -> list[dict]:
    return resp[page.BODY_ID]["children"]["props"]["rowData"]


def test_page_is_registered_and_renders_in_both_languages(client):
    for lang in ("zh", "en"):
        out = post(client, page_body("/alerts", f"?lang={lang}"))
        text = json.dumps(out, ensure_ascii=False)
        assert page.ACK_ID in text and page.SILENCE_ID in text
        assert ("确认所选预警" if lang == "zh" else "Acknowledge selected") in text
    nav = client.get("/alerts?lang=en")
    assert nav.status_code == 200


def test_firing_alerts_and_history_per_city(client):
    rows = grid_rows(post(client, update_body("firing")))
    assert [r["unit_code"] for r in rows] == ["410700"]
    everything = grid_rows(post(client, update_body("all")))
    assert {(r["unit_code"], r["state"]) for r in everything} == {("410700", "预警中"), ("320500", "已解除")}
    suzhou = grid_rows(post(client, update_body("all", "320500", "en")))
    assert [(r["rule"], r["state"]) for r in suzhou] == [("Stage alert", "Resolved")]
    # text from data travels as plain row data (AG Grid renders it as text, no cellRenderer/markdown here)
    assert not any(c.get("cellRenderer") for c in page.columns("zh"))


def test_acknowledge_and_silence_from_the_page_write_the_alert_store(client, store):
    fp = grid_rows(post(client, update_body("firing")))[0]["fingerprint"]
    body = callback_body(
        [(page.FEEDBACK_ID, "children"), (page.REFRESH_ID, "data")],
        [(page.ACK_ID, "n_clicks", 1), (page.SILENCE_ID, "n_clicks", None)],
        [
            (page.GRID_ID, "selectedRows", [{"fingerprint": fp}]),
            (page.PERIOD_ID, "value", "7d"),
            (page.REFRESH_ID, "data", 0),
            (page.LANG_ID, "data", "zh"),
        ],
    )
    r = client.post(
        "/_dash-update-component",
        data=json.dumps(body),
        content_type="application/json",
        headers={"X-Remote-User": "henan-office"},
    )
    assert r.status_code == 200, r.data[:1000]
    assert "已确认1条预警" in json.dumps(r.get_json(), ensure_ascii=False)
    with connect(read_only=True) as con:
        row = con.execute("select acked_by from alerts.alerts where fingerprint = ?", (fp,)).fetchone()
    assert row[0] == "national_test"  # the signed-in user; a client-sent X-Remote-User is ignored

    body["changedPropIds"] = [f"{page.SILENCE_ID}.n_clicks"]
    body["inputs"] = [
        {"id": page.ACK_ID, "property": "n_clicks", "value": 1},
        {"id": page.SILENCE_ID, "property": "n_clicks", "value": 1},
    ]
    out = post(client, body, {"X-Remote-User": "henan-office"})
    assert "已静默1条预警" in json.dumps(out, ensure_ascii=False)
    with connect(read_only=True) as con:
        alert = dict(con.execute("select * from alerts.alerts where fingerprint = ?", (fp,)).fetchone())
        s = active_silence(con, alert, now_utc())
    assert s and s["created_by"] == "national_test"
    rows = grid_rows(post(client, update_body("firing")))
    assert rows[0]["silenced_until"] and rows[0]["acked_by"] == "national_test"


def test_no_store_yet_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("IPCITY_ALERT_STORE", str(tmp_path / "none" / "alerts.sqlite"))
    cards, view = page.body("firing", None, "en")
    assert cards == [] and "No alert store yet" in json.dumps(view.to_plotly_json(), default=str)


def test_action_without_selection_and_bad_period(store):
    assert page.act(page.ACK_ID, [], "u", "7d", "en") == "Select alerts in the table first."
    with pytest.raises(ValueError):
        page.act(page.SILENCE_ID, ["x" * 24], "u", "1y", "en")
