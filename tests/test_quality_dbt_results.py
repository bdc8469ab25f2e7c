"""dbt's data tests in the quality store beside Great Expectations' checks: one answer to "what failed in last
night's run, where, how many rows, is it blocking" in quality.check_results, `ipcity quality` and the quality page,
and the same check across runs (did it start failing in the latest run?).

Real parts throughout: the pipeline's dbt asset and resource (dagster-dbt starting this environment's dbt as the
run does) on a DuckDB warehouse holding one mart with broken values, the run's own run_results.json, the real
snapshot writer, the CLI through click, the dashboard over HTTP as a signed-in national user.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from dashboard_http import callback_body, page_body, signed_in_client
from test_column_rules import GOOD, MART, _check_run, _warehouse

# a null in a not_null column; a value outside accepted_values on a row that also re-applied within the ban (warn)
BROKEN = (
    "('110200', null, '110000', 'demo_city', '2012', date '2012-01-01', 'active', null, 2012, 2012, 3, false)",
    "('120100', '天津市', '120000', 'demo_city', '2012', date '2012-01-01', 'paused', null, 2012, 2012, 3, true)",
)
ERROR_CHECK, WARN_CHECK = f"column_rules_{MART}", f"column_rules_{MART}_warn"


def _rows(path: Path, sql: str, params=()) -> list[dict]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rel = con.sql(sql, params=list(params) or None)
        return [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]
    finally:
        con.close()


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory):
    """One real dbt step over a mart with a blocking and a warning rule broken; the run's warehouse and run id."""
    tmp = tmp_path_factory.mktemp("dbt_quality")
    mp = pytest.MonkeyPatch()
    try:
        _warehouse(tmp / "warehouse.duckdb", GOOD, *BROKEN)
        res, ev = _check_run(tmp, mp)
    finally:
        mp.undo()
    assert not res.success and set(ev) == {ERROR_CHECK, WARN_CHECK}
    return {"dir": tmp, "warehouse": tmp / "warehouse.duckdb", "run_id": res.run_id}


def test_the_runs_dbt_tests_are_recorded_with_model_columns_rule_rows_and_severity(failed_run):
    rows = {
        r["check_name"]: r
        for r in _rows(failed_run["warehouse"], "select * from quality.check_results where engine = 'dbt'")
    }
    assert set(rows) == {ERROR_CHECK, WARN_CHECK}
    err, warn = rows[ERROR_CHECK], rows[WARN_CHECK]
    # where, what, how many rows, blocking or not, which run
    assert err["run_id"] == warn["run_id"] == failed_run["run_id"]
    assert err["asset"] == f"marts.{MART}" and err["partition"] is None
    assert (err["passed"], err["severity"], err["failing_rows"]) == (False, "error", 2)
    assert set(err["column_names"].split(", ")) == {"unit_name", "status"}
    assert "not_null" in err["rule"] and "accepted_values" in err["rule"]
    sample = {(s["column_name"], s["rule"].split(" ")[0]): s["failing_rows"] for s in json.loads(err["failing_sample"])}
    assert sample == {("unit_name", "not_null"): 1, ("status", "accepted_values"): 1}
    assert json.loads(err["observed_value"])["status"] == "fail"
    assert (warn["passed"], warn["severity"], warn["failing_rows"]) == (False, "warn", 1)
    assert "expression_holds" in warn["rule"]
    # the compiled query: where dbt wrote it, and the failed test's query itself
    spec = json.loads(err["expectation"])
    assert spec["engine"] == "dbt" and spec["test"] == "column_rules"
    assert Path(spec["compiled_path"]).is_file(), spec["compiled_path"]
    assert MART in spec["compiled_code"] and spec["defined_in"].endswith(f"{MART}.yml")
    assert err["checked_at"] is not None


def test_recording_a_step_again_replaces_its_rows(failed_run, tmp_path):
    """Idempotent per run: a retried step's tests are not counted twice; another run's rows stay."""
    from pipelines.quality.dbt_results import dbt_test_rows
    from pipelines.quality.results import record_dbt_results

    [step] = (failed_run["dir"] / "target").glob("dbt_evaluation_models-*")
    run_results = json.loads((step / "run_results.json").read_text())
    manifest = json.loads((step / "manifest.json").read_text())
    wh = tmp_path / "copy.duckdb"
    shutil.copyfile(failed_run["warehouse"], wh)  # the run's own store stays as the run left it for the others
    con = duckdb.connect(str(wh))
    try:
        for run_id in (failed_run["run_id"], failed_run["run_id"], "another-run"):
            record_dbt_results(con, dbt_test_rows(run_id, run_results, manifest, step))
        counts = dict(
            con.execute(
                "select run_id, count(*) from quality.check_results where engine = 'dbt' group by run_id"
            ).fetchall()
        )
        assert counts == {failed_run["run_id"]: 2, "another-run": 2}
    finally:
        con.close()


def test_gx_and_dbt_results_share_the_store_and_the_latest_report(failed_run, tmp_path):
    """One schema: a GX result written by the checks' own writer lands beside dbt's, and `latest_report` (what
    `ipcity quality` prints) orders both engines' failures, blocking first, with their failing rows."""
    from pipelines.china_time import utc_now
    from pipelines.quality import ExpectationResult, SuiteResult, latest_report, record_results

    wh = tmp_path / "wh.duckdb"
    with duckdb.connect(str(failed_run["warehouse"]), read_only=True) as src:
        dbt_rows = src.sql("select * from quality.check_results").pl()
    con = duckdb.connect(str(wh))
    try:
        gx = ExpectationResult(
            check_name="unit_name__not_null",
            expectation_type="expect_column_values_to_not_be_null",
            column="unit_name",
            severity="warn",
            passed=False,
            observed_value={"unexpected_count": 4, "element_count": 10},
            failing_sample=[{"unit_name": None}],
            unexpected_count=4,
            element_count=10,
        )
        result = SuiteResult("raw.cities", "raw.cities", None, [gx], [], 10, utc_now(), 0.1)
        record_results(con, failed_run["run_id"], "raw.cities", result)
        con.register("dbt_rows", dbt_rows)
        con.execute("insert into quality.check_results by name select * from dbt_rows")
        report = latest_report(con)
    finally:
        con.close()
    got = [(r["engine"], r["check_name"], r["severity"], r["failing_rows"]) for r in report.iter_rows(named=True)]
    assert got[0] == ("dbt", ERROR_CHECK, "error", 2)  # the blocking failure first
    assert ("gx", "unit_name__not_null", "warn", 4) in got and ("dbt", WARN_CHECK, "warn", 1) in got
    assert report.filter(report["engine"] == "gx")["column_names"].to_list() == ["unit_name"]


def test_an_older_store_and_snapshot_without_the_engine_columns_still_read(tmp_path):
    """A warehouse (or published snapshot) from before dbt's results were recorded: its rows read as GX's, and the
    next write adds the columns."""
    from pipelines.quality import latest_report
    from pipelines.quality.results import check_history, ensure_quality_schema

    wh = tmp_path / "old.duckdb"
    con = duckdb.connect(str(wh))
    try:
        con.execute("create schema quality")
        con.execute(
            "create table quality.check_results (run_id varchar not null, checked_at timestamp not null, check_name "
            "varchar not null, asset varchar not null, partition varchar, severity varchar not null, passed boolean "
            "not null, observed_value varchar, failing_sample json, expectation varchar)"
        )
        con.execute(
            "insert into quality.check_results values ('r1', timestamp '2026-12-01 01:00', 'unit_code__not_null', "
            "'raw.cities', null, 'error', false, null, null, null)"
        )
        assert latest_report(con)["engine"].to_list() == ["gx"]
        assert check_history(con)["trend"].to_list() == ["check_new_failure"]
        ensure_quality_schema(con)
        cols = {r[0] for r in con.execute("describe quality.check_results").fetchall()}
        assert {"engine", "column_names", "rule", "failing_rows"} <= cols
        assert con.execute("select engine from quality.check_results").fetchall() == [("gx",)]
    finally:
        con.close()


def test_ipcity_quality_shows_dbt_failures_beside_gx_and_their_history(failed_run, monkeypatch):
    from click.testing import CliRunner

    from pipelines import cli
    from pipelines.cli import main
    from pipelines.labels import label_text

    monkeypatch.setenv("IPCITY_WAREHOUSE", str(failed_run["warehouse"]))
    monkeypatch.setattr(cli.console, "width", 400)  # a wide terminal: each name on one line
    out = CliRunner().invoke(main, ["quality", "--history"])
    assert out.exit_code == 0, out.output
    text = out.output
    assert label_text("dbt", "zh") in text and label_text("dbt", "en") in text
    assert ERROR_CHECK in text and WARN_CHECK in text
    assert "1 blocking failure, 1 warning" in text  # in agreement: not "1 blocking failures, 1 warnings"
    assert "unit_name: not_null (1 row)" in text and "fail, 2 rows failing" in text
    assert "1项阻断性失败" in text and "1项警告" in text  # the number against its measure word
    # the history: both newly failing in this run
    assert label_text("check_new_failure", "zh") in text and label_text("check_new_failure", "en") in text


def test_history_says_when_a_check_started_failing(failed_run, tmp_path):
    """The same check across runs: passing in the two runs before, failing in the latest → newly failing since
    the latest; failing again in a later run → still failing since the first failing run; then passing again."""
    from pipelines.quality.dbt_results import dbt_test_rows
    from pipelines.quality.results import check_history, record_dbt_results

    [step] = (failed_run["dir"] / "target").glob("dbt_evaluation_models-*")
    failing = json.loads((step / "run_results.json").read_text())
    manifest = json.loads((step / "manifest.json").read_text())
    passing = json.loads(json.dumps(failing))
    for r in passing["results"]:
        r["status"], r["failures"] = "pass", 0

    def at(day: int, results: dict) -> dict:
        out = json.loads(json.dumps(results))
        out["metadata"]["generated_at"] = f"2026-12-0{day}T18:00:00Z"
        for r in out["results"]:
            r["timing"] = [{"name": "execute", "completed_at": f"2026-12-0{day}T18:00:00Z"}]
        return out

    con = duckdb.connect(str(tmp_path / "h.duckdb"))
    try:

        def history():
            return {r["check_name"]: r for r in check_history(con).iter_rows(named=True)}

        for day, results in ((1, passing), (2, passing), (3, failing)):
            record_dbt_results(con, dbt_test_rows(f"run{day}", at(day, results), manifest, step))
        h = history()[ERROR_CHECK]
        assert (h["trend"], h["runs_oldest_first"], h["failing_rows"]) == ("check_new_failure", "✔✔✘", 2)
        assert str(h["failing_since"]).startswith("2026-12-03 18:00")
        record_dbt_results(con, dbt_test_rows("run4", at(4, failing), manifest, step))
        h = history()[ERROR_CHECK]
        assert (h["trend"], h["runs_oldest_first"]) == ("check_still_failing", "✔✔✘✘")
        assert str(h["failing_since"]).startswith("2026-12-03 18:00")  # since the first failing run, not today
        record_dbt_results(con, dbt_test_rows("run5", at(5, passing), manifest, step))
        h = history()[ERROR_CHECK]
        assert (h["trend"], h["failing_since"]) == ("check_recovered", None)
    finally:
        con.close()


@pytest.fixture(scope="module")
def page(failed_run, tmp_path_factory):
    """The dashboard over the failed run's published store, signed in as a national user."""
    from dashboards.app import create_app
    from pipelines.snapshot_writer import publish_snapshot

    base = tmp_path_factory.mktemp("dq_page")
    snap = base / "published" / "warehouse.snapshot.duckdb"
    publish_snapshot(failed_run["warehouse"], snap, run_id=failed_run["run_id"])
    app = create_app(snap, dossier_dir=base / "dossiers", user_store=base / "users.sqlite")
    return signed_in_client(app, base / "users.sqlite")


def _post(client, body) -> dict:
    r = client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return r.get_json()["response"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_quality_page_lists_dbt_failures_and_their_history(failed_run, page, lang):
    from pipelines.labels import label_text

    body = callback_body(
        [("dq-cards", "children"), ("dq-checks", "children"), ("dq-rej-fig", "figure"), ("dq-rejections", "children")],
        [("dq-run", "value", failed_run["run_id"])],
        [("dq-lang", "data", lang)],
    )
    checks = json.dumps(_post(page, body)["dq-checks"], ensure_ascii=False)
    grid = json.loads(checks)["children"]["props"]
    rows = {r["check_name"]: r for r in grid["rowData"]}
    err = rows[ERROR_CHECK]
    assert err["engine_label"] == label_text("dbt", lang) and err["failing_rows"] == 2
    assert err["passed"] is False and err["severity_label"] in ("错误", "Error")
    assert label_text("column_rules", lang).lower() in err["check_label"].lower()
    assert "unit_name" in err["check_label"] and "status" in err["check_label"]
    assert "unit_name: not_null 1" in err["expectation_text"] and "status: accepted_values" in err["expectation_text"]
    assert rows[WARN_CHECK]["failing_rows"] == 1
    assert err["observed_text"] == "2" and rows[WARN_CHECK]["observed_text"] == "1"  # dbt's observation: its rows

    layout = json.dumps(_post(page, page_body("/quality", f"?lang={lang}")), ensure_ascii=False)
    assert '"dq-history-grid"' in layout
    assert label_text("check_new_failure", lang) in layout and ERROR_CHECK in layout


def test_a_test_named_with_markup_is_shown_as_text(tmp_path, monkeypatch):
    """A test's name, columns and rule are data (a yml anyone may edit): the CLI prints markup as text, and the
    page's grid cells are text (no HTML renderer), so the names go through as they are, never as markup."""
    from click.testing import CliRunner

    from dashboards.pages import quality
    from pipelines.cli import main
    from pipelines.quality.dbt_results import dbt_test_rows
    from pipelines.quality.results import latest_report, record_dbt_results

    evil = "[red]x[/red]<img src=x onerror=alert(1)>"
    uid = f"test.ipcity.{evil}.abc"
    run_results = {
        "metadata": {"generated_at": "2026-12-05T18:00:00Z"},
        "results": [{"unique_id": uid, "status": "fail", "failures": 3, "message": evil, "compiled_code": "select 1"}],
    }
    manifest = {
        "nodes": {
            uid: {
                "name": evil,
                "column_name": evil,
                "attached_node": "model.ipcity.dim_city",
                "test_metadata": {"name": "unique", "kwargs": {"column_name": evil}},
                "config": {"severity": "ERROR"},
            },
            "model.ipcity.dim_city": {"schema": "marts", "name": "dim_city"},
        }
    }
    wh = tmp_path / "wh.duckdb"
    with duckdb.connect(str(wh)) as con:
        record_dbt_results(con, dbt_test_rows("r1", run_results, manifest, tmp_path))
        report = latest_report(con)
    from pipelines import cli

    monkeypatch.setenv("IPCITY_WAREHOUSE", str(wh))
    monkeypatch.setattr(cli.console, "width", 400)
    out = CliRunner().invoke(main, ["quality"])
    assert out.exit_code == 0, out.output
    assert "[red]x[/red]" in out.output  # shown, not interpreted
    rows = quality.check_rows(report, "en")
    assert rows[0]["check_name"] == evil and evil in rows[0]["check_label"]
    for col in quality.check_columns("en"):
        assert "cellRenderer" not in col and "markdown" not in json.dumps(col).lower()


def test_each_dbt_status_is_recorded_as_blocking_or_not_and_a_skipped_test_is_not():
    """pass keeps its configured severity; fail and error (the query broke) block; warn never does; a skipped
    test did not run. A source test is the raw table's, a model test the model's, by its schema."""
    from pipelines.quality.dbt_results import dbt_test_rows

    def node(name, parent, severity="ERROR", kind="unique", **extra):
        return {
            "name": name,
            "attached_node": parent,
            "depends_on": {"nodes": [parent]},
            "test_metadata": {"name": kind, "kwargs": {"column_name": "unit_code"}},
            "config": {"severity": severity},
            **extra,
        }

    manifest = {
        "nodes": {
            "test.p.a": node("a", "model.p.int_units", "warn"),
            "test.p.b": node("b", "model.p.int_units"),
            "test.p.c": node("c", "model.p.int_units", "warn"),
            "test.p.d": node("d", "model.p.int_units"),
            "test.p.e": node("e", "model.p.int_units"),
            "test.p.f": node("f", None) | {"depends_on": {"nodes": ["source.p.raw.cities"]}},
            "model.p.int_units": {"schema": "intermediate", "name": "int_units"},
        },
        "sources": {"source.p.raw.cities": {"source_name": "raw", "name": "cities", "schema": "raw"}},
    }
    statuses = {"a": ("pass", 0), "b": ("fail", 5), "c": ("warn", 2), "d": ("error", None), "e": ("skipped", None)}
    statuses["f"] = ("pass", 0)
    results = {
        "metadata": {"generated_at": "2026-12-05T18:00:00Z"},
        "results": [
            {"unique_id": f"test.p.{k}", "status": s, "failures": n, "compiled_code": "select 1"}
            for k, (s, n) in statuses.items()
        ]
        + [{"unique_id": "model.p.int_units", "status": "success"}],
    }
    rows = {r[2]: r for r in dbt_test_rows("r", results, manifest, Path("/t"))}
    assert set(rows) == {"a", "b", "c", "d", "f"}  # the skipped test and the model are not checks
    got = {k: (r[5], r[6], r[13]) for k, r in rows.items()}  # severity, passed, failing rows
    assert got == {
        "a": ("warn", True, 0),
        "b": ("error", False, 5),
        "c": ("warn", False, 2),
        "d": ("error", False, None),
        "f": ("error", True, 0),
    }
    assert rows["b"][3] == "intermediate.int_units" and rows["f"][3] == "raw.cities"
    assert rows["b"][11] == "unit_code" and rows["b"][12] == "unique"
    assert "compiled_code" in json.loads(rows["d"][9]) and "compiled_code" not in json.loads(rows["a"][9])


def test_iso_times_are_read_once_and_offsets_converted_not_dropped():
    """dbt writes "…Z"; a time written with an offset (+08:00) is the same instant and must land as the same UTC,
    which dropping the zone (the store's reading before) did not do. One reading serves every caller."""
    from datetime import datetime

    from pipelines.china_time import china_time_text, utc_from_iso

    utc = datetime(2026, 12, 5, 6, 20)
    assert utc_from_iso("2026-12-05T06:20:00Z") == utc
    assert utc_from_iso("2026-12-05T14:20:00+08:00") == utc
    assert utc_from_iso("2026-12-05T06:20:00") == utc  # zoneless text means UTC in the stores
    assert utc_from_iso("") is None and utc_from_iso(None) is None
    assert china_time_text("2026-12-05T14:20:00+08:00") == china_time_text(utc) == "2026-12-05 14:20"
