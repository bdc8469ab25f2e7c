"""The real thing: Dagster definitions, the landing sensor, and full materialisations into a temporary DuckDB."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.sources import SOURCES

RAW_TABLES = [f"raw.{s}" for s in SOURCES] + ["raw.ingested_files", "raw.rejected_rows"]


def test_definitions_load_with_jobs_sensor_schedules():
    from pipelines.definitions import defs

    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    assert {"ipcity_pipeline", "ingest_yearly", "pledge_loans_monthly"} <= set(repo.job_names)
    assert repo.has_sensor_def("landing_sensor")
    assert repo.has_schedule_def("annual_evaluation_schedule") and repo.has_schedule_def("monthly_pledge_schedule")
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"raw/patent_grants", "marts/fct_city_score_year", "published/snapshot"} <= keys
    # dbt sources are the raw assets: the marts hang below them in one graph.
    graph = defs.resolve_asset_graph()
    upstream = graph.get(dg.AssetKey(["staging", "stg_raw__pledge_loans"])).parent_keys
    assert dg.AssetKey(["raw", "pledge_loans"]) in upstream
    # dbt tests are asset checks on the marts.
    checks = {c.asset_key.to_user_string() for c in graph.asset_check_keys}
    assert "marts/fct_city_score_year" in checks


def test_landing_sensor_requests_one_run_per_year_and_remembers_files(tmp_path, monkeypatch):
    from pipelines.automation import landing_sensor
    from pipelines.ingest.load import ensure_schema, file_hash

    monkeypatch.setenv("IPCITY_LANDING", str(tmp_path / "landing"))
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    pledge = tmp_path / "landing" / "pledge_loans"
    pledge.mkdir(parents=True)
    (pledge / "pledge_2024.csv").write_text("city_code,month\n440300,2024-01\n")
    (pledge / "pledge_2025.csv").write_text("city_code,month\n440300,2025-01\n")
    (tmp_path / "landing" / "targets").mkdir()
    (tmp_path / "landing" / "targets" / "targets.csv").write_text("city_code\n440300\n")
    # A file whose bytes the ledger already holds (loaded before the sensor first looked) starts nothing.
    (tmp_path / "landing" / "targets" / "old_targets.csv").write_text("city_code\n110100\n")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ensure_schema(con)
    con.execute(
        "INSERT INTO raw.ingested_files (source, file_name, file_hash, status) VALUES ('targets', 'old_targets.csv', ?, 'loaded')",
        [file_hash(tmp_path / "landing" / "targets" / "old_targets.csv")],
    )
    con.close()

    ctx = dg.build_sensor_context(cursor=None)
    requests = list(landing_sensor(ctx))
    # One run per year; a reference file goes with the evaluation year (last year: 2025 in 2026).
    assert sorted(r.partition_key for r in requests) == ["2024", "2025"]
    assert not any("old_targets.csv" in r.run_key for r in requests)
    by_key = {r.partition_key: r for r in requests}
    assert "pledge_loans/pledge_2024.csv" in by_key["2024"].run_key
    assert "targets/targets.csv" in by_key["2025"].run_key
    assert all(r.run_key for r in requests)
    cursor = json.loads(ctx.cursor)
    assert "pledge_loans/pledge_2025.csv" in cursor and "targets/targets.csv" in cursor

    # Nothing new: a skip with its reason, as Dagster evaluates the sensor (the function is a generator, so the
    # reason is its return value: only a tick evaluation sees it), cursor unchanged.
    ctx2 = dg.build_sensor_context(cursor=ctx.cursor)
    tick = landing_sensor.evaluate_tick(ctx2)
    assert tick.run_requests == [] and tick.skip_message == "no new files in landing"
    assert json.loads(tick.cursor) == cursor
    import os
    import time

    (pledge / "pledge_2025.csv").write_text("city_code,month\n440300,2025-01\n440100,2025-02\n")
    os.utime(pledge / "pledge_2025.csv", (time.time() + 5, time.time() + 5))
    ctx3 = dg.build_sensor_context(cursor=ctx.cursor)
    third = [r for r in landing_sensor(ctx3) if isinstance(r, dg.RunRequest)]
    assert [r.partition_key for r in third] == ["2025"]
    assert third[0].run_key != by_key["2025"].run_key


def test_landing_sensor_skips_with_reason_while_a_run_holds_the_warehouse(tmp_path, monkeypatch):
    """Another process writing the warehouse (one DuckDB writer): the tick skips, says why, and keeps the cursor
    so the file is seen again at the next tick."""
    import subprocess
    import sys

    from pipelines.automation import landing_sensor
    from pipelines.ingest.load import ensure_schema

    wh = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("IPCITY_LANDING", str(tmp_path / "landing"))
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(wh))
    (tmp_path / "landing" / "targets").mkdir(parents=True)
    (tmp_path / "landing" / "targets" / "targets.csv").write_text("city_code\n440300\n")
    with duckdb.connect(str(wh)) as con:
        ensure_schema(con)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys, time; c = duckdb.connect({str(wh)!r}); print('ok', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        tick = landing_sensor.evaluate_tick(dg.build_sensor_context(cursor='{"x": "1"}'))
    finally:
        holder.kill()
        holder.wait()
    assert tick.run_requests == [] and tick.skip_message == "warehouse busy"
    assert tick.cursor == '{"x": "1"}'
    # the warehouse is free again: the same file starts a run (checked against the job's partitions)
    from pipelines.definitions import defs

    ctx = dg.build_sensor_context(cursor='{"x": "1"}', repository_def=defs.get_repository_def())
    tick = landing_sensor.evaluate_tick(ctx)
    assert [r.partition_key for r in tick.run_requests] == [str(datetime.now().year - 1)]


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """Generate a small sample and run the whole pipeline once into a temp warehouse."""
    from pipelines.generate import generate

    base = tmp_path_factory.mktemp("pipeline")
    mp = pytest.MonkeyPatch()
    mp.setenv("IPCITY_WAREHOUSE", str(base / "warehouse.duckdb"))
    mp.delenv("IPCITY_LANDING", raising=False)
    mp.setenv("DAGSTER_HOME", str(base / "dagster_home"))
    generate(base / "landing", seed=7, scale=0.002, first_year=2019, last_year=2024)
    from pipelines.launcher import run_pipeline

    summary = run_pipeline()
    yield base, summary
    mp.undo()


@pytest.mark.slow
def test_full_run_loads_every_source_builds_marts_and_publishes(sample_run):
    base, summary = sample_run
    assert summary.success, summary.runs
    con = duckdb.connect(str(base / "warehouse.duckdb"), read_only=True)
    for table in RAW_TABLES[:9]:
        assert con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] > 0, table
    # Accounting holds for every file: rows read = loaded + quarantined, and the tables agree with the ledger.
    for source, file_name, read, loaded, rejected in con.execute(
        "SELECT source, file_name, rows_read, rows_loaded, rows_rejected FROM raw.ingested_files WHERE status = 'loaded'"
    ).fetchall():
        assert read == loaded + rejected
        in_table = con.execute(f"SELECT count(*) FROM raw.{source} WHERE _source_file = ?", [file_name]).fetchall()[0][
            0
        ]
        assert in_table == loaded, file_name
    assert con.execute("SELECT count(*) FROM marts.fct_city_score_year").fetchall()[0][0] > 0
    # A clean sample run passes every check: blocking and warning, raw and marts.
    n_checks, n_failed = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE NOT passed) FROM quality.check_results"
    ).fetchall()[0]
    assert n_checks > 100 and n_failed == 0, con.execute(
        'SELECT asset, "partition", check_name, observed_value FROM quality.check_results WHERE NOT passed'
    ).fetchall()
    # Every ranked unit-year has its Monte Carlo rank interval (same coverage rule as the dbt composite).
    missing = con.execute(
        "SELECT s.unit_code, s.year FROM marts.fct_city_score_year s LEFT JOIN marts.fct_rank_uncertainty u "
        "USING (unit_code, year) WHERE s.is_ranked AND u.unit_code IS NULL"
    ).fetchall()
    assert missing == []
    assets = {r[0] for r in con.execute("SELECT DISTINCT asset FROM quality.check_results").fetchall()}
    assert {f"raw.{s}" for s in SOURCES} | {"marts.fct_city_score_year", "marts.dim_city"} <= assets
    con.close()
    snap = base / "published" / "warehouse.snapshot.duckdb"
    assert snap.exists()
    s = duckdb.connect(str(snap), read_only=True)
    assert s.execute("SELECT count(*) FROM marts.fct_city_score_year").fetchall()[0][0] > 0
    flagged = s.execute(
        "SELECT unit_code, year FROM marts.fct_evaluation_year "
        "WHERE stage IN ('watch', 'rectification', 'exit_candidate')"
    ).fetchall()
    s.close()
    # Every flagged city-year has its evidence dossier, for the watchlist's links.
    assert flagged and all((base / "dossiers" / f"{u}_{y}.html").exists() for u, y in flagged)


def test_the_runs_dbt_builds_run_every_data_test_and_no_unit_test(sample_run):
    """A production build leaves dbt's unit tests out (settings.DBT_PRODUCTION_EXCLUDE: they check the models'
    logic on fixed rows, and tests/test_patents_in_force.py runs every one) and runs every data test of the
    project, as the run's two dbt steps record it in their run_results.json."""
    from pipelines import settings

    _, summary = sample_run
    run_id = summary.runs[0]["run_id"]
    ran: set[str] = set()
    manifest = None
    for op in ("dbt_indicator_models", "dbt_evaluation_models"):
        (folder,) = (settings.DBT_PROJECT_DIR / "target").glob(f"{op}-{run_id[:7]}-*")
        ran |= {r["unique_id"] for r in json.loads((folder / "run_results.json").read_text())["results"]}
        manifest = json.loads((folder / "manifest.json").read_text())
    data_tests = {k for k, node in manifest["nodes"].items() if node["resource_type"] == "test"}
    # 92 since a model's simple column rules are one column_rules test per model and severity (issue 19)
    assert manifest["unit_tests"] and len(data_tests) > 80
    assert sum(".column_rules_" in t for t in data_tests) > 30
    assert not {i for i in ran if i.startswith("unit_test.")}
    assert data_tests <= ran, sorted(data_tests - ran)[:10]
    # ... and every one is in the quality store beside GX's checks, once, under this run (both dbt steps)
    con = duckdb.connect(str(sample_run[0] / "warehouse.duckdb"), read_only=True)
    try:
        recorded = con.execute(
            "SELECT check_name, count(*) FROM quality.check_results WHERE engine = 'dbt' AND run_id = ? GROUP BY 1",
            [run_id],
        ).fetchall()
    finally:
        con.close()
    assert dict(recorded) == {manifest["nodes"][t]["name"]: 1 for t in data_tests}


@pytest.mark.slow
def test_quality_and_dossier_commands_on_the_run(sample_run):
    from click.testing import CliRunner

    from pipelines.cli import main

    base, _ = sample_run
    out = CliRunner().invoke(main, ["quality", "--all"])
    assert out.exit_code == 0, out.output
    assert "raw.patent_grants" in out.output and "0 blocking failures" in out.output

    con = duckdb.connect(str(base / "published" / "warehouse.snapshot.duckdb"), read_only=True)
    unit, name, year = con.execute(
        "SELECT e.unit_code, c.unit_name, e.year FROM marts.fct_evaluation_year e JOIN marts.dim_city c USING (unit_code) "
        "WHERE e.stage IN ('watch', 'rectification', 'exit_candidate') ORDER BY e.year DESC, e.unit_code LIMIT 1"
    ).fetchall()[0]
    con.close()
    out = CliRunner().invoke(main, ["dossier", name, "--year", str(year), "--out", str(base / "dossiers")])
    assert out.exit_code == 0, out.output
    written = sorted(p.suffix for p in (base / "dossiers").iterdir() if p.name.startswith(f"{unit}_{year}"))
    assert written == [".html", ".md"]


@pytest.mark.slow
def test_second_run_loads_nothing_new(sample_run):
    from pipelines.launcher import run_pipeline

    summary = run_pipeline()
    assert summary.nothing_new and summary.runs == []


@pytest.mark.slow
def test_malformed_pledge_file_is_quarantined_and_good_rows_load(sample_run):
    """Through Dagster's ingest job (raw assets and their checks, as the landing sensor's history loads run):
    what is asserted here is the raw layer, and the full pipeline run over a quarantine is the office-files
    suite's (tests/test_office_pipeline.py)."""
    from pipelines.definitions import INGEST_JOB, defs
    from pipelines.launcher import dagster_instance

    base, _ = sample_run
    bad = base / "landing" / "pledge_loans" / "补报_2024.csv"
    bad.write_bytes(
        "\n".join(
            [
                "城市代码,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数",
                "440305,2024-12,3,100,2,0,2,1",  # good: a district of Shenzhen reporting on its own
                "999999,2024-12,3,100,2,0,2,1",  # unknown city
                "440300,2024-12,-4,100,2,0,2,1",  # negative registrations (and a duplicate month of the sample)
                "441900,2024-13,3,100,2,0,2,1",  # no such month
            ]
        ).encode("gbk")
    )
    result = defs.resolve_job_def(INGEST_JOB).execute_in_process(
        instance=dagster_instance(), partition_key="2024", raise_on_error=False
    )
    assert result.success
    con = duckdb.connect(str(base / "warehouse.duckdb"), read_only=True)
    read, loaded, rejected = con.execute(
        "SELECT rows_read, rows_loaded, rows_rejected FROM raw.ingested_files WHERE file_name = ? AND status = 'loaded'",
        [bad.name],
    ).fetchall()[0]
    assert (read, loaded, rejected) == (4, 1, 3)
    assert con.execute(
        "SELECT amount_10k_yuan FROM raw.pledge_loans WHERE _source_file = ?", [bad.name]
    ).fetchall() == [(100.0,)]
    reasons = [
        r[0]
        for r in con.execute(
            "SELECT reason FROM raw.rejected_rows WHERE file_name = ? ORDER BY row_number", [bad.name]
        ).fetchall()
    ]
    assert reasons[0] == "unknown region code in city_code: '999999'"
    assert reasons[1].startswith("negative value in registrations: -4")
    assert reasons[2] == "not a date in month: '2024-13' (no such month: months run from 1 to 12)"
    con.close()


@pytest.mark.slow
def test_an_ingest_run_reads_only_the_new_files_to_tell_their_year(sample_run, monkeypatch):
    """Telling a yearly file's data year reads the file (an office workbook: a second or more). Files loaded
    in earlier runs are not loaded again, so an ingest run reads only the new ones: its cost does not grow with
    the years of history in the landing folder (issue 19: the eleventh year costs what that year costs)."""
    from pipelines.definitions import INGEST_JOB, defs
    from pipelines.ingest import load
    from pipelines.launcher import dagster_instance

    base, _ = sample_run
    new = base / "landing" / "pledge_loans" / "补报_2024_11.csv"
    new.write_bytes(
        "\n".join(
            [
                "城市代码,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数",
                "440305,2024-11,2,80,1,0,1,1",
            ]
        ).encode("gbk")
    )
    told: list[str] = []
    real = load._year_of_file
    monkeypatch.setattr(load, "_year_of_file", lambda path, source: told.append(Path(path).name) or real(path, source))
    load._partition_of_file.cache_clear()  # as in a fresh process: no year remembered
    n_landing = sum(1 for p in (base / "landing").rglob("*") if p.is_file())
    result = defs.resolve_job_def(INGEST_JOB).execute_in_process(
        instance=dagster_instance(), partition_key="2024", raise_on_error=False
    )
    assert result.success
    assert set(told) == {new.name}, f"{len(set(told))} of {n_landing} landing files read to tell their year"
    with duckdb.connect(str(base / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute(
            "SELECT rows_loaded FROM raw.ingested_files WHERE file_name = ? AND status = 'loaded'", [new.name]
        ).fetchall() == [(1,)]


def _failed_checks(run_id: str) -> set[tuple[str, str]]:
    """(asset, check) of every asset check that did not pass in the run, from the Dagster instance's event log."""
    records = (
        dg.DagsterInstance.get().get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    )
    out = set()
    for rec in records:
        data = rec.event_log_entry.dagster_event.event_specific_data
        if not data.passed:
            out.add((data.asset_key.to_user_string(), data.check_name))
    return out


@pytest.mark.slow
def test_blocking_check_failure_leaves_published_marts_as_they_were(sample_run):
    """A batch that loads (no row is malformed) but violates a blocking expectation stops the build."""
    import hashlib

    from pipelines.launcher import run_pipeline

    base, _ = sample_run
    snap = base / "published" / "warehouse.snapshot.duckdb"
    before = hashlib.sha256(snap.read_bytes()).hexdigest()
    wh = base / "warehouse.duckdb"
    con = duckdb.connect(str(wh), read_only=True)
    marts_before = con.execute("SELECT count(*), sum(composite) FROM marts.fct_city_score_year").fetchall()
    con.close()
    # A target on an indicator that is not in the catalog: every row is well-formed, so the loader takes it,
    # but the targets suite's blocking expectation indicator_code__in_catalog fails.
    (base / "landing" / "targets" / "补充目标.csv").write_text(
        "city_code,plan_id,indicator_code,baseline_year,baseline_value,target_year,target_value\n"
        "440300,plan_2021_2025,QLT99,2020,1.0,2025,2.0\n",
        encoding="utf-8",
    )
    summary = run_pipeline()
    assert not summary.success
    # The run failed because of that one blocking check, and the summary says which.
    run = summary.runs[-1]
    assert not run["success"] and "raw/targets" in run["error"] and "gx_errors" in run["error"], run["error"]
    failed_checks = _failed_checks(run["run_id"])
    # the landing-freshness check (issue 13) also fails on a sample whose data end before the machine date: not
    # a blocking data check, so only the GX error checks are compared
    gx_failed = {c for c in failed_checks if c[1] == "gx_errors"}
    assert gx_failed == {("raw/targets", "gx_errors")}, failed_checks
    assert hashlib.sha256(snap.read_bytes()).hexdigest() == before
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("SELECT count(*), sum(composite) FROM marts.fct_city_score_year").fetchall() == marts_before
    failed = con.execute(
        "SELECT check_name, failing_sample FROM quality.check_results WHERE asset = 'raw.targets' AND NOT passed"
    ).fetchall()
    con.close()
    assert [f[0] for f in failed] == ["indicator_code__in_catalog"]
    assert "QLT99" in str(failed[0][1]) and "440300" in str(failed[0][1])
