"""The data engineer's journeys, round 3: a landing file withdrawn (deleted) after it was loaded; a run killed
with `kill -9` while dbt builds; the exit codes and help texts cron and the operators read. Real DuckDB, real
Dagster runs of the project's definitions on one small generated sample (module scope), real processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import dagster as dg
import duckdb
import pytest
from click.testing import CliRunner

from pipelines.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    """A two-year sample run once through the whole pipeline."""
    from pipelines.generate import generate
    from pipelines.launcher import run_pipeline

    base = tmp_path_factory.mktemp("ops3")
    mp = pytest.MonkeyPatch()
    mp.setenv("IPCITY_WAREHOUSE", str(base / "warehouse.duckdb"))
    mp.delenv("IPCITY_LANDING", raising=False)
    mp.setenv("DAGSTER_HOME", str(base / "dagster_home"))
    generate(base / "landing", seed=5, scale=0.002, first_year=2023, last_year=2024, case_scale=0.05)
    summary = run_pipeline()
    assert summary.success, summary.runs
    yield base
    mp.undo()


def _cli(*args: str):
    from pipelines import cli

    width = cli.console.width
    cli.console.width = 400
    try:
        return CliRunner().invoke(main, list(args))
    finally:
        cli.console.width = width


# ------------------------------------------------------------------ kill -9 of a run while dbt builds
def _children(pid: int) -> list[tuple[int, str]]:
    """Live processes whose parent is ``pid``, with their command lines (from /proc: no psutil here)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append((int(entry.name), cmd))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # an orphan nobody reaps is a zombie: dead, it writes nothing


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc (Linux)")
def test_kill_9_of_a_run_kills_its_dbt_child_too(ops):
    """Before: dbt, a child of the run, went on building after `kill -9` of the run (only the run's process was
    killed, as the OOM killer or an operator's `kill -9 PID` does), and wrote the warehouse after the next
    `ipcity run` had marked the run dead: two writers. Now it dies with the run."""
    run = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from pipelines.definitions import defs\nfrom pipelines.launcher import dagster_instance\n"
            "defs.resolve_job_def('ipcity_pipeline').execute_in_process(instance=dagster_instance(), "
            "partition_key='2024', tags={'ipcity/trigger': 'cli'})\n",
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    dbt = []
    try:
        deadline = time.monotonic() + 240
        while not dbt and time.monotonic() < deadline and run.poll() is None:
            dbt = [(pid, cmd) for pid, cmd in _children(run.pid) if "dbt" in cmd and " build" in cmd]
            time.sleep(0.2)
        assert dbt, "the run started no dbt build"
        time.sleep(1.0)  # dbt is under way (parsed, opening the warehouse)
    finally:
        run.send_signal(signal.SIGKILL)  # the run's process only, as `kill -9 PID`
        run.wait()
    (pid, cmd), *_ = dbt
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)  # not left behind for the next test
        pytest.fail(f"dbt ({pid}: {cmd[:200]}) outlived the killed run")
    # the warehouse is free for the next run at once: nobody holds it
    duckdb.connect(str(ops / "warehouse.duckdb")).close()
    # and the next run marks the killed one failed and goes on
    out = _cli("run")
    assert out.exit_code == 0, out.output
    assert "marked dead runs failed" in out.output, out.output


def test_a_supervised_child_whose_parent_is_already_gone_ends_at_once(tmp_path):
    """The window between the run starting dbt and dbt asking to die with it: a parent that died meanwhile is
    noticed from the id it left in the environment."""
    from pipelines.supervised import ORPHANED_EXIT, SUPERVISOR_ENV

    code = "from pipelines.supervised import die_with_parent\ndie_with_parent()\nprint('ran')\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT), SUPERVISOR_ENV: "1"}  # not our parent
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == ORPHANED_EXIT and "ran" not in done.stdout
    env[SUPERVISOR_ENV] = str(os.getpid())
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "ran" in done.stdout, done.stderr


# ------------------------------------------------------------------ a landing file withdrawn after loading
def _cases(base: Path) -> Path:
    return base / "landing" / "enforcement_cases" / "cases_2024.csv"


def _count(base: Path, sql: str, args=()) -> list[tuple]:
    with duckdb.connect(str(base / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql, list(args)).fetchall()


@pytest.mark.slow
def test_a_file_replaced_by_a_corrected_one_under_a_new_name_and_removed_leaves_no_stale_rows(ops):
    """An office re-sends its 2024 cases corrected under a new name (three cases it should not have reported
    dropped, one outcome corrected) and the operator removes the first file. Before: the removed file's rows
    stayed (`ipcity run` said "Nothing new to load"), so the three dropped cases still counted in the marts."""
    old = _cases(ops)
    raw = old.read_bytes()
    lines = raw.decode("gbk").splitlines()
    header, rows = lines[0], lines[1:]
    dropped = [r.split(",")[0] for r in rows[10:13]]
    first, outcome = rows[0].rsplit(",", 1)
    fixed = f"{first},{'mediation' if outcome == 'penalty' else 'penalty'}"
    new = old.with_name("cases_2024_更正.csv")
    new.write_bytes("\n".join([header, fixed, *rows[1:10], *rows[13:]]).encode("gbk") + b"\n")
    os.utime(new, (old.stat().st_mtime + 60, old.stat().st_mtime + 60))  # received after the first
    out = _cli("run")
    assert out.exit_code == 0, out.output
    # the corrected file loaded beside the first: its repeated cases are duplicates, the dropped ones still in
    assert _count(ops, "SELECT count(*) FROM raw.enforcement_cases WHERE case_id IN (?, ?, ?)", dropped) == [(3,)]

    old.unlink()
    out = _cli("run")
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "rows withdrawn" in text and "撤回" in text and "cases_2024.csv" in text, out.output
    # nothing of the removed file is left, every case of the corrected file is in, once
    assert _count(ops, "SELECT count(*) FROM raw.enforcement_cases WHERE _source_file = 'cases_2024.csv'") == [(0,)]
    assert _count(ops, "SELECT count(*) FROM raw.enforcement_cases WHERE case_id IN (?, ?, ?)", dropped) == [(0,)]
    assert _count(ops, "SELECT count(*), count(DISTINCT case_id) FROM raw.enforcement_cases WHERE year = 2024") == [
        (len(rows) - 3, len(rows) - 3)
    ]
    assert _count(
        ops, "SELECT count(*) FROM raw.rejected_rows WHERE file_name IN ('cases_2024.csv', 'cases_2024_更正.csv')"
    ) == [(0,)]
    case = fixed.split(",")[0]
    assert _count(ops, "SELECT _source_file FROM raw.enforcement_cases WHERE case_id = ?", [case]) == [
        ("cases_2024_更正.csv",)
    ]
    # the marts count the corrected file's cases only
    assert _count(
        ops,
        "SELECT sum(n_rows) FROM marts.fct_unit_year_source_rows WHERE source_name = 'enforcement_cases' "
        "AND year = 2024 AND source_file = 'cases_2024.csv'",
    ) == [(None,)]
    # audited: the ledger records the withdrawal (which file, how many rows, which run)
    ((status, n, run_id),) = _count(
        ops,
        "SELECT status, rows_withdrawn, run_id FROM raw.ingested_files WHERE file_name = 'cases_2024.csv' "
        "AND rows_withdrawn IS NOT NULL",
    )
    assert status == "withdrawn" and n == len(rows) - 1 and run_id  # less the case the corrected file took over
    # `ipcity status` and `ipcity quality` list it
    for command in ("status", "quality"):
        out = _cli(command)
        assert out.exit_code == 0, out.output
        assert "files withdrawn" in out.output and "cases_2024.csv" in out.output.split("files withdrawn")[1]
    # and the next run has nothing to do
    out = _cli("run")
    assert out.exit_code == 0 and "Nothing new to load" in out.output, out.output


@pytest.mark.slow
def test_a_refused_file_removed_from_landing_is_recorded_withdrawn_without_a_run(ops):
    """A file put in the wrong folder is refused; the operator removes it, as `ipcity status` advises. Before: it
    stayed listed as refused for ever."""
    wrong = ops / "landing" / "enforcement_cases" / "training_2024_错放.csv"
    wrong.write_text("活动编号,城市代码,日期\nPX1,110100,2024-01-01\n", encoding="utf-8")
    out = _cli("run")
    assert wrong.name in _cli("status").output
    wrong.unlink()
    out = _cli("run")
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "Nothing new to load" in text and "recorded as withdrawn" in text and wrong.name in text, out.output
    status = _cli("status").output
    refused = status.split("refused files")[1] if "refused files" in status else ""
    assert wrong.name not in refused.split("files withdrawn")[0], status


def test_an_empty_or_missing_landing_folder_withdraws_nothing_and_says_so(tmp_path, monkeypatch):
    """An unmounted share (or a wrong IPCITY_LANDING) looks like every file removed: nothing is withdrawn, the
    run says why and exits non-zero so cron notices."""
    from pipelines.ingest.load import ensure_schema

    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("IPCITY_LANDING", str(tmp_path / "not_mounted"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        ensure_schema(con)
        con.execute(
            "INSERT INTO raw.enforcement_cases (case_id, city_code, year, _source_file) "
            "VALUES ('AJ1', '110100', 2024, 'cases_2024.csv')"
        )
        con.execute(
            'INSERT INTO raw.ingested_files (source, file_name, file_hash, "partition", status) '
            "VALUES ('enforcement_cases', 'cases_2024.csv', 'h', '2024', 'loaded')"
        )
    out = _cli("run")
    assert out.exit_code == 1, out.output
    text = " ".join(out.output.split())
    assert "missing or holds no file" in text and "nothing was withdrawn" in text and "未撤回任何数据" in text
    assert _count(tmp_path, "SELECT count(*) FROM raw.enforcement_cases") == [(1,)]


def test_a_source_folder_emptied_withdraws_nothing_of_that_source_and_says_so(tmp_path, monkeypatch):
    """One source's folder with no file left (its own share unmounted, the folder renamed, the reference cities
    deleted by mistake) is not every file of that source withdrawn: that would empty a table every mart reads.
    Nothing of it is withdrawn and the run names the source; the other sources are judged as before."""
    from pipelines.ingest.load import ensure_schema, file_hash

    landing = tmp_path / "landing"
    (landing / "enforcement_cases").mkdir(parents=True)  # there, but empty
    pledge = landing / "pledge_loans" / "pledge_2024.csv"
    pledge.parent.mkdir(parents=True)
    pledge.write_text("城市代码,月份\n110100,2024-01\n", encoding="utf-8")
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("IPCITY_LANDING", str(landing))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        ensure_schema(con)
        con.execute(
            "INSERT INTO raw.enforcement_cases (case_id, city_code, year, _source_file) "
            "VALUES ('AJ1', '110100', 2024, 'cases_2024.csv')"
        )
        con.execute(
            'INSERT INTO raw.ingested_files (source, file_name, file_hash, "partition", status) VALUES '
            "('enforcement_cases', 'cases_2024.csv', 'h', '2024', 'loaded'), "
            "('pledge_loans', 'pledge_2024.csv', ?, '2024', 'loaded')",
            [file_hash(pledge)],
        )
    out = _cli("run")
    text = " ".join(out.output.split())
    assert "Nothing new to load" in text, out.output
    assert "landing folders hold no file" in text and "enforcement_cases" in text and "未撤回任何数据" in text, text
    assert _count(tmp_path, "SELECT count(*) FROM raw.enforcement_cases") == [(1,)]
    assert _count(tmp_path, "SELECT count(*) FROM raw.ingested_files WHERE status = 'withdrawn'") == [(0,)]


# ------------------------------------------------------------------ the run log in both languages
def test_the_run_log_tells_the_operator_about_each_file_in_both_languages(tmp_path, monkeypatch):
    """What the project writes into Dagster's run log about the offices' files (loaded, quarantined, refused,
    withdrawn) is what an operator of a sensor-started run reads in the Dagster UI: before it was English only,
    while the CLI says everything in 简体中文 and English."""
    from conftest import write_cities_csv

    from pipelines.assets.raw import RAW_ASSETS
    from pipelines.resources import Warehouse

    landing = tmp_path / "landing"
    monkeypatch.setenv("IPCITY_LANDING", str(landing))
    write_cities_csv(landing / "cities" / "cities.csv")
    cases = landing / "enforcement_cases"
    cases.mkdir(parents=True)
    header = "案件编号,城市代码,案件类型,立案日期,结案日期,处理结果\n"
    (cases / "cases_2024.csv").write_text(
        header
        + "AJ1,110100,patent_infringement_dispute,2024-01-01,2024-02-19,dismissed\n"
        + "AJ2,999999,patent_infringement_dispute,2024-01-02,2024-02-19,dismissed\n",
        encoding="utf-8",
    )
    (cases / "cases_2024_空.csv").write_text(header, encoding="utf-8")
    by_name = {a.key.path[-1]: a for a in RAW_ASSETS}
    wh = Warehouse(database=str(tmp_path / "warehouse.duckdb"))
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize([by_name["cities"]], resources={"warehouse": wh}, instance=instance).success
    res = dg.materialize(
        [by_name["enforcement_cases"]], partition_key="2024", resources={"warehouse": wh}, instance=instance
    )
    assert res.success
    logs = [e.user_message for e in instance.all_logs(res.run_id) if e.user_message]
    (loaded,) = [m for m in logs if "cases_2024.csv" in m and "loaded 1" in m]
    assert "入库1行" in loaded and "隔离1行" in loaded, loaded
    (refused,) = [m for m in logs if "cases_2024_空.csv" in m and "refused" in m]
    assert "拒收" in refused and "file has a header but no data rows" in refused, refused
    # a withdrawal too
    (cases / "cases_2024.csv").unlink()
    res = dg.materialize(
        [by_name["enforcement_cases"]], partition_key="2024", resources={"warehouse": wh}, instance=instance
    )
    logs = [e.user_message for e in instance.all_logs(res.run_id) if e.user_message]
    (withdrawn,) = [m for m in logs if "cases_2024.csv" in m and "withdrawn" in m]
    assert "撤回" in withdrawn and "1 row," in withdrawn, withdrawn


# ------------------------------------------------------------------ help texts
HAN = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{3,}")


def _commands(cmd: click.Command, path: tuple[str, ...] = ("ipcity",)):
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            yield from _commands(sub, (*path, name))


def test_every_command_s_help_is_in_both_languages():
    """`ipcity --help` and each command's help were English only, while everything the commands print is in
    简体中文 and English. The listing (click's short help) starts with the Chinese, so it shows in the list too."""
    missing = [
        " ".join(path)
        for path, cmd in _commands(main)
        if not (cmd.help and HAN.search(cmd.help.split("\n\n")[0]) and LATIN.search(cmd.help))
    ]
    assert not missing, f"commands whose help is not in both languages: {missing}"
    listing = CliRunner().invoke(main, ["--help"]).output.split("Commands:")[1]
    for name in main.commands:
        (line,) = [x for x in listing.splitlines() if x.startswith(f"  {name} ")]
        assert HAN.search(line), line


def test_the_options_of_the_data_engineers_commands_are_explained_in_both_languages():
    """The commands the data engineers run from cron and by hand: every option says what it does, in both."""
    for name in ("generate", "run", "status", "quality", "dev"):
        for p in main.commands[name].params:
            if isinstance(p, click.Option) and p.name != "help":
                assert p.help and HAN.search(p.help) and LATIN.search(p.help), (name, p.opts)


# ------------------------------------------------------------------ the landing sensor sees a removal
def test_the_landing_sensor_starts_a_run_of_the_year_of_a_loaded_file_that_was_removed(tmp_path, monkeypatch):
    """Before: the sensor only looked for new or changed files, so under `ipcity dev` a removed file's rows stayed
    until some other file of its year arrived. Once: the next tick does not ask again. Not when the whole
    landing folder is gone (an unmounted share)."""
    from pipelines.automation import landing_sensor
    from pipelines.definitions import defs
    from pipelines.ingest.load import ensure_schema, file_hash

    monkeypatch.setenv("IPCITY_LANDING", str(tmp_path / "landing"))
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    pledge = tmp_path / "landing" / "pledge_loans"
    pledge.mkdir(parents=True)
    keep, gone = pledge / "pledge_2023.csv", pledge / "pledge_2024.csv"
    keep.write_text("city_code,month\n440300,2023-01\n")
    gone.write_text("city_code,month\n440300,2024-01\n")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        ensure_schema(con)
        for f, year in ((keep, "2023"), (gone, "2024")):
            con.execute(
                'INSERT INTO raw.ingested_files (source, file_name, file_hash, "partition", status) '
                "VALUES ('pledge_loans', ?, ?, ?, 'loaded')",
                [f.name, file_hash(f), year],
            )
    repo = defs.get_repository_def()
    first = landing_sensor.evaluate_tick(dg.build_sensor_context(cursor=None, repository_def=repo))
    assert first.run_requests == []  # both loaded already
    gone.unlink()
    tick = landing_sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor, repository_def=repo))
    assert [r.partition_key for r in tick.run_requests] == ["2024"]
    assert tick.run_requests[0].run_key.startswith("removed:pledge_loans/pledge_2024.csv@")
    again = landing_sensor.evaluate_tick(dg.build_sensor_context(cursor=tick.cursor, repository_def=repo))
    assert again.run_requests == []
    # the landing folder unmounted: nothing asked, the cursor keeps the files
    keep.unlink()
    pledge.rmdir()
    absent = landing_sensor.evaluate_tick(dg.build_sensor_context(cursor=tick.cursor, repository_def=repo))
    assert absent.run_requests == [] and "pledge_loans/pledge_2023.csv" in (absent.cursor or tick.cursor)


def test_the_withdrawals_table_shows_beijing_time(tmp_path):
    """The ledger stores UTC (pipelines.china_time.utc_now); the table of withdrawals printed the stored value as
    it was, eight hours behind the offices' clock and without a zone, beside other tables in Beijing time."""
    from datetime import datetime

    from pipelines import cli
    from pipelines.ingest.load import ensure_schema

    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        ensure_schema(con)
        con.execute(
            'INSERT INTO raw.ingested_files (source, file_name, file_hash, "partition", status, ingested_at,'
            " rows_withdrawn) VALUES ('enforcement_cases', 'cases_2024.csv', 'h', '2024', 'withdrawn', ?, 3)",
            [datetime(2026, 12, 5, 20, 30)],
        )
        width = cli.console.width
        cli.console.width = 300
        try:
            with cli.console.capture() as captured:
                cli._print_withdrawn(con)
        finally:
            cli.console.width = width
    text = captured.get()
    assert "2026-12-06 04:30" in text and "北京时间" in text, text
