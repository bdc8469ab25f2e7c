"""The data engineer's journeys, round 3: a landing file withdrawn (deleted) after it was loaded; a run killed
with `kill -9` while dbt builds; the exit codes and help texts cron and the operators read. Real DuckDB, real
Dagster runs of the project's definitions on one small generated sample (module scope), real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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
