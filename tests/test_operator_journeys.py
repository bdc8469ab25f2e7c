"""The data engineer's journeys with the CLI and the landing sensor: what `ipcity run`, `status` and `quality`
say after a refused file, a quarantine, a corrected re-sent file and a failed blocking check; a second run while
one holds the warehouse; a killed run's lock; the sensor's cursor. Real DuckDB, real Dagster runs of the
project's definitions on one small generated sample (module scope), real processes holding the locks."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from click.testing import CliRunner

from pipelines.cli import BUSY_EXIT, main

ROOT = Path(__file__).resolve().parent.parent
EMPTY_TARGETS = "targets_补充.csv"  # a header and no rows: refused whole


@pytest.fixture(scope="module")
def journey(tmp_path_factory):
    """A two-year sample (with the generator's late pledge file, four of its rows quarantined) plus a refused
    targets file, run once through the whole pipeline."""
    from pipelines.generate import generate
    from pipelines.launcher import run_pipeline

    base = tmp_path_factory.mktemp("journey")
    mp = pytest.MonkeyPatch()
    mp.setenv("IPCITY_WAREHOUSE", str(base / "warehouse.duckdb"))
    mp.delenv("IPCITY_LANDING", raising=False)
    mp.setenv("DAGSTER_HOME", str(base / "dagster_home"))
    try:
        generate(
            base / "landing", seed=11, scale=0.002, first_year=2023, last_year=2024, resubmission=True, case_scale=0.05
        )
        # (a 2023-2024 window holds no plan's base year: the sample has no targets file, only this empty one)
        (base / "landing" / "targets").mkdir(exist_ok=True)
        (base / "landing" / "targets" / EMPTY_TARGETS).write_text(
            "city_code,plan_id,indicator_code,baseline_year,baseline_value,target_year,target_value\n",
            encoding="utf-8",
        )
        summary = run_pipeline()
        assert summary.success, summary.runs
        yield base
    finally:
        mp.undo()  # also when the set-up fails: DAGSTER_HOME must not lead later tests to a folder never made


def _cli(*args: str):
    """The command as the operator runs it, printed wide enough that no table cell wraps (the assertions look
    for whole reasons and row lists)."""
    from pipelines import cli

    width = cli.console.width
    cli.console.width = 400
    try:
        return CliRunner().invoke(main, list(args))
    finally:
        cli.console.width = width


def _late_pledge_file(base: Path) -> Path:
    (path,) = (base / "landing" / "pledge_loans").glob("*补报.csv")
    return path


def _holder(code: str) -> subprocess.Popen:
    """Another process (this checkout's code, the test's environment) that holds something until killed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout.readline().strip() == "ok"
    return proc


HOLD_RUN_LOCK = (
    "import time\nfrom pipelines.launcher import run_lock\nwith run_lock():\n"
    "    print('ok', flush=True)\n    time.sleep(120)\n"
)


# ------------------------------------------------------------------ refused files, quarantine, what to do
@pytest.mark.slow
def test_an_unchanged_refused_file_starts_no_run_and_is_named(journey):
    """Before: a refused file stayed 'pending' (its bytes are not loaded), so every later `ipcity run` rebuilt
    everything for it and refused it again; the README promises "nothing new" on a second run."""
    out = _cli("run")
    assert out.exit_code == 0, out.output
    assert "Nothing new to load" in out.output and "没有新数据" in out.output, out.output
    assert f"targets/{EMPTY_TARGETS}" in out.output and "file has a header but no data rows" in out.output
    with duckdb.connect(str(journey / "warehouse.duckdb"), read_only=True) as con:
        # one run in the ledger for that file: it was not tried again
        assert con.execute(
            "SELECT count(DISTINCT run_id) FROM raw.ingested_files WHERE file_name = ?", [EMPTY_TARGETS]
        ).fetchall() == [(1,)]


@pytest.mark.slow
def test_status_names_each_refused_file_and_quarantined_row_and_says_what_to_do(journey):
    with duckdb.connect(str(journey / "warehouse.duckdb"), read_only=True) as con:
        late = _late_pledge_file(journey).name
        rows = [
            r[0]
            for r in con.execute(
                "SELECT row_number FROM raw.rejected_rows WHERE file_name = ? ORDER BY row_number", [late]
            ).fetchall()
        ]
    assert len(rows) == 4
    out = _cli("status")
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert EMPTY_TARGETS in text and "file has a header but no data rows" in text, out.output
    assert late in text and ", ".join(map(str, rows)) in text, out.output
    assert "not a date in month" in text
    # what to do, in both languages
    assert "same name" in text and "同名" in text


@pytest.mark.slow
def test_a_corrected_resent_file_replaces_its_rows_and_the_quarantine_report_follows(journey):
    """Before: `ipcity quality` printed the quarantine of the last run that had one, so after the province
    re-sent the file corrected it still reported its four bad rows."""
    from pipelines.definitions import INGEST_JOB, defs
    from pipelines.launcher import dagster_instance

    path = _late_pledge_file(journey)
    raw = path.read_bytes()
    encoding = "utf-8" if raw.startswith(b"\xef\xbb\xbf") else "gbk"
    lines = raw.decode(encoding).splitlines()
    good = [line for line in lines[1:] if not line.startswith(("999999", "440100", "320500", "420100"))]
    path.write_bytes("\n".join([lines[0], *good, "440100,2024-11,2,300,4,0,3,1"]).encode(encoding) + b"\n")
    result = defs.resolve_job_def(INGEST_JOB).execute_in_process(
        instance=dagster_instance(), partition_key="2024", raise_on_error=False
    )
    assert result.success
    with duckdb.connect(str(journey / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute(
            "SELECT status, rows_read, rows_loaded, rows_rejected FROM raw.ingested_files WHERE file_name = ? "
            "ORDER BY ingested_at",
            [path.name],
        ).fetchall() == [("replaced", 7, 3, 4), ("loaded", 4, 4, 0)]
        # replaced, not doubled
        assert con.execute("SELECT count(*) FROM raw.pledge_loans WHERE _source_file = ?", [path.name]).fetchall() == [
            (4,)
        ]
        assert con.execute("SELECT count(*) FROM raw.rejected_rows").fetchall() == [(0,)]
        in_table = con.execute("SELECT count(*) FROM raw.pledge_loans").fetchall()[0][0]
    # `ipcity status` counts what the table holds (before: DuckDB's estimate, which still counted the replaced
    # rows, so the file looked loaded twice)
    out = _cli("status")
    (line,) = [line for line in out.output.splitlines() if line.startswith("│ raw.pledge_loans ")]
    assert line.split("│")[2].strip() == f"{in_table:,}", line
    # and its ledger counts the current version of each file only: no quarantine left, loaded = the current files
    # (the ledger's table; the notes on loaded files, a later table, have rows per source too)
    ledger = out.output.split("ingestion ledger")[1].split("notes on loaded files")[0]
    (line,) = [line for line in ledger.splitlines() if line.startswith("│ pledge_loans ")]
    cells = [c.strip() for c in line.split("│")[1:-1]]
    assert cells[4] == "0", line  # quarantined
    assert cells[3] == f"{in_table:,}", line  # in table
    out = _cli("quality")
    assert out.exit_code == 0, out.output
    assert "not a date in month" not in out.output and "unknown region code" not in out.output, out.output


@pytest.mark.slow
def test_a_failed_blocking_check_names_the_rows_keeps_the_snapshot_and_fails_the_command(journey):
    snap = journey / "published" / "warehouse.snapshot.duckdb"
    before = hashlib.sha256(snap.read_bytes()).hexdigest()
    (journey / "landing" / "targets" / "补充目标.csv").write_text(
        "city_code,plan_id,indicator_code,baseline_year,baseline_value,target_year,target_value\n"
        "440300,plan_2021_2025,QLT99,2020,1.0,2025,2.0\n",
        encoding="utf-8",
    )
    out = _cli("run")
    assert out.exit_code == 1, out.output
    assert "raw/targets" in out.output and "gx_errors" in out.output
    # the cause, not a warning: the sample's pledge files end before today, so the freshness check warns, and
    # before it was named first as why the run failed
    (failed_line,) = [line for line in out.output.splitlines() if line.startswith("run ipcity_pipeline")]
    assert "gx_errors" in failed_line and "pledge_monthly_freshness" not in failed_line, failed_line
    assert hashlib.sha256(snap.read_bytes()).hexdigest() == before
    out = _cli("quality")
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    # which check, which rows (the values to look for in the file), and what to do, in both languages
    assert "indicator_code__in_catalog" in text and "QLT99" in text and "440300" in text, out.output
    assert "snapshot stays as it was" in text and "快照保持原样" in text
    # The next `ipcity run` has nothing new to load (the file is in the ledger) but must not hide that the last
    # build failed and its marts were never built (before: a plain "Nothing new to load").
    out = _cli("run")
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "Nothing new to load" in text and "the last build did not finish" in text, out.output
    assert "gx_raw_targets" in text and "ipcity run --rebuild" in text and "上一次构建未完成" in text


# ------------------------------------------------------------------ one writer
@pytest.mark.slow
def test_a_second_run_while_one_runs_is_refused_clearly_and_a_killed_runs_lock_does_not_linger(journey):
    """Before: the second run got in whenever the first one was between two steps (DuckDB locks the file only
    while a connection is open), and died with DuckDB's traceback when it was not."""
    holder = _holder(HOLD_RUN_LOCK)
    try:
        out = _cli("run")
        assert out.exit_code == BUSY_EXIT, out.output
        assert f"process {holder.pid}" in out.output
        assert "did nothing" in out.output and "未执行任何操作" in out.output
        # the landing sensor does not start a second writer meanwhile
        from pipelines.automation import landing_sensor

        tick = landing_sensor.evaluate_tick(dg.build_sensor_context(cursor='{"x": "1"}'))
        assert tick.run_requests == [] and tick.skip_message == "warehouse busy"
    finally:
        holder.send_signal(signal.SIGKILL)  # as `kill -9` of a run
        holder.wait()
    out = _cli("run")
    assert out.exit_code != BUSY_EXIT, out.output


@pytest.mark.slow
def test_run_status_and_quality_say_so_while_another_process_writes_the_warehouse(journey):
    """A process with the warehouse open for writing (a run's dbt step, a `dagster dev` run): the commands say
    the warehouse is busy and exit with the busy code; before, DuckDB's lock error ended them as a traceback."""
    wh = journey / "warehouse.duckdb"
    holder = _holder(
        f"import duckdb, time\nc = duckdb.connect({str(wh)!r})\nprint('ok', flush=True)\ntime.sleep(120)\n"
    )
    try:
        for command in ("run", "status", "quality"):
            out = _cli(command)
            assert out.exit_code == BUSY_EXIT, (command, out.output, out.exception)
            assert "did nothing" in out.output and "未执行任何操作" in out.output, out.output
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
def test_a_run_started_from_the_dagster_ui_keeps_ipcity_run_out(journey):
    """A run the UI or the landing sensor launched (same Dagster home, its own process) writes the warehouse step
    by step without the CLI's lock: `ipcity run` sees it in the instance and does not start a second writer."""
    holder = _holder(
        "import time\nimport dagster as dg\nfrom pipelines.launcher import dagster_instance\n"
        "@dg.op\ndef step():\n    print('ok', flush=True)\n    time.sleep(120)\n"
        "@dg.job(name='ipcity_pipeline')\ndef job():\n    step()\n"
        "job.execute_in_process(instance=dagster_instance())\n"
    )
    try:
        out = _cli("run", "--rebuild")
        assert out.exit_code == BUSY_EXIT, out.output
        assert "Dagster run" in out.output and "STARTED" in out.output and "did nothing" in out.output
    finally:
        holder.kill()
        holder.wait()
    from pipelines.alerts.runs import reap_dead_runs
    from pipelines.launcher import dagster_instance

    reap_dead_runs(dagster_instance(), alert=False)  # the stand-in's run, killed: not the next test's business


@pytest.mark.slow
def test_a_killed_run_is_marked_failed_at_the_next_run_which_says_what_to_do(journey):
    """`kill -9` of a real pipeline run (the project's job, in-process as `ipcity run` runs it). Before: the
    reaper looked for the run's process id in its first 50 events, which for this job are all "intends to
    materialize" events without one, so the run stayed STARTED for ever (and held Dagster's one-run queue)."""
    from pipelines.launcher import dagster_instance

    snap = journey / "published" / "warehouse.snapshot.duckdb"
    before = hashlib.sha256(snap.read_bytes()).hexdigest()
    run = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from pipelines.definitions import defs\nfrom pipelines.launcher import dagster_instance\n"
            "defs.resolve_job_def('ipcity_pipeline').execute_in_process(instance=dagster_instance(), "
            "partition_key='2024', tags={'ipcity/trigger': 'cli'})\n",
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,  # its dbt child goes with it
    )
    try:
        instance = dagster_instance()
        deadline = time.monotonic() + 180
        started = []
        while not started and time.monotonic() < deadline and run.poll() is None:
            started = [
                r
                for r in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]), limit=1)
                if instance.get_records_for_run(r.run_id, of_type=dg.DagsterEventType.STEP_START, limit=1).records
            ]
            time.sleep(0.5)
        assert started, "the run did not start"
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    run_id = started[0].run_id
    out = _cli("run")
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert run_id in text and "marked dead runs failed" in text and "the last build did not finish" in text, text
    assert "ipcity run --rebuild" in text
    assert dagster_instance().get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    assert hashlib.sha256(snap.read_bytes()).hexdigest() == before


# ------------------------------------------------------------------ the landing sensor
def _sensor_env(tmp_path, monkeypatch) -> Path:
    from pipelines.ingest.load import ensure_schema

    monkeypatch.setenv("IPCITY_LANDING", str(tmp_path / "landing"))
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        ensure_schema(con)
    pledge = tmp_path / "landing" / "pledge_loans"
    pledge.mkdir(parents=True)
    return pledge


def test_a_file_of_a_year_the_pipeline_does_not_hold_does_not_stop_the_sensor(tmp_path, monkeypatch):
    """Before: the RunRequest for partition 2031 failed the whole tick, a failed tick keeps its cursor, so every
    later tick failed on that file and no other landing file was ever loaded by the sensor."""
    from pipelines.automation import landing_sensor
    from pipelines.definitions import defs

    pledge = _sensor_env(tmp_path, monkeypatch)
    (pledge / "pledge_2031.csv").write_text("city_code,month\n440300,2031-01\n")
    (pledge / "pledge_2024.csv").write_text("city_code,month\n440300,2024-01\n")
    ctx = dg.build_sensor_context(cursor=None, repository_def=defs.get_repository_def())
    tick = landing_sensor.evaluate_tick(ctx)
    assert [r.partition_key for r in tick.run_requests] == ["2024"]
    assert "pledge_2031" not in tick.run_requests[0].run_key
    # the next tick does not ask again
    tick = landing_sensor.evaluate_tick(
        dg.build_sensor_context(cursor=tick.cursor, repository_def=defs.get_repository_def())
    )
    assert tick.run_requests == []


def test_a_file_rewritten_in_the_same_second_at_the_same_size_is_a_new_version(tmp_path, monkeypatch):
    """Touched but unchanged starts nothing; changed starts a run, even when the correction keeps the size and
    lands within the same second (before: the cursor kept size and whole seconds only)."""
    from pipelines.automation import landing_sensor
    from pipelines.definitions import defs

    repo = defs.get_repository_def()
    pledge = _sensor_env(tmp_path, monkeypatch)
    f = pledge / "pledge_2024.csv"
    f.write_text("city_code,month,registrations\n440300,2024-01,5\n")
    second = int(time.time()) * 1_000_000_000
    os.utime(f, ns=(second + 100, second + 100))
    first = landing_sensor.evaluate_tick(dg.build_sensor_context(cursor=None, repository_def=repo))
    assert [r.partition_key for r in first.run_requests] == ["2024"]
    # the same bytes again, touched: no run
    from pipelines.ingest.load import file_hash

    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute(
            "INSERT INTO raw.ingested_files (source, file_name, file_hash, status) VALUES ('pledge_loans', ?, ?, 'loaded')",
            [f.name, file_hash(f)],
        )
    os.utime(f, ns=(second + 200, second + 200))
    touched = landing_sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor, repository_def=repo))
    assert touched.run_requests == []
    # a digit corrected: same size, same second
    f.write_text("city_code,month,registrations\n440300,2024-01,6\n")
    os.utime(f, ns=(second + 300, second + 300))
    changed = landing_sensor.evaluate_tick(dg.build_sensor_context(cursor=touched.cursor, repository_def=repo))
    assert [r.partition_key for r in changed.run_requests] == ["2024"]
    assert changed.run_requests[0].run_key != first.run_requests[0].run_key
