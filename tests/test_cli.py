"""The command line as a user meets it: help, `dagster definitions validate`, and `ipcity dev` stopped by PID."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.cli import main

VENV_BIN = Path(sys.executable).parent


def test_help_documents_every_command():
    """Exact command names from click's registry, and the help's command list is exactly that registry, each
    command with its own summary line (a substring check let 'run' match inside 'dev ... runs')."""
    import re

    registered = set(main.commands)
    assert {"generate", "run", "dev", "status", "quality", "serve", "dossier", "bench"} <= registered
    out = CliRunner().invoke(main, ["--help"]).output
    section = out.split("Commands:", 1)[1]
    listed = re.findall(r"^  (\S+)\s{2,}\S", section, flags=re.M)
    assert sorted(listed) == sorted(registered)
    for name, cmd in main.commands.items():
        assert (cmd.help or cmd.short_help or "").strip(), f"{name} has no help"
        if not cmd.add_help_option:
            continue  # `ipcity bench --help` is passed on to bench/run.py
        sub = CliRunner().invoke(main, [name, "--help"])
        assert sub.exit_code == 0 and sub.output.startswith(f"Usage: main {name} "), sub.output[:200]
    run_help = CliRunner().invoke(main, ["run", "--help"]).output
    assert "Materialise every asset" in run_help


def test_dagster_definitions_validate():
    res = subprocess.run(
        [str(VENV_BIN / "dagster"), "definitions", "validate", "-m", "pipelines.definitions"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Validation successful" in res.stdout + res.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # A group whose members are all zombies is gone for our purposes.
    out = subprocess.run(["ps", "-o", "stat=", "-g", str(pgid)], capture_output=True, text=True).stdout.split()
    return any(not s.startswith("Z") for s in out)


@pytest.mark.slow
def test_dev_starts_on_localhost_and_stops_by_pid(tmp_path):
    env = {**os.environ, "IPCITY_WAREHOUSE": str(tmp_path / "warehouse.duckdb"), "DAGSTER_HOME": str(tmp_path / "dh")}
    port = _free_port()
    ipcity = str(VENV_BIN / "ipcity")
    started = subprocess.run(
        [ipcity, "dev", "--background", "--port", str(port)], env=env, capture_output=True, text=True, timeout=120
    )
    assert started.returncode == 0, started.stderr
    pid = int((tmp_path / "dagster_dev.pid").read_text())
    try:
        deadline, ok = time.time() + 180, False
        while time.time() < deadline and not ok:
            try:
                ok = urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5).status == 200
            except OSError:
                time.sleep(1)
        assert ok, "Dagster UI did not answer on 127.0.0.1"
    finally:
        stopped = subprocess.run([ipcity, "dev", "--stop"], env=env, capture_output=True, text=True, timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    assert not _group_alive(pid)
    assert not (tmp_path / "dagster_dev.pid").exists()


def test_the_ipcity_script_runs_with_the_heap_frozen_after_start_up(tmp_path):
    """`ipcity run` (the script, `pipelines.cli:entry`) owns its process, so it turns the cyclic collector off
    while Dagster, dbt and GX are imported and then freezes that heap (bench/RESULTS.md: ≈ 4 s of full
    collections and the last one at exit). Here on an empty landing folder: nothing new to load, and the
    collector is on again, with the heap frozen, when the command ends. A command invoked in-process (tests,
    other code sharing the process) never touches the collector."""
    import importlib.metadata

    assert importlib.metadata.entry_points(group="console_scripts")["ipcity"].value == "pipelines.cli:entry"
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('GC', gc.isenabled(), gc.get_freeze_count() > 0, flush=True))\n"
        "sys.argv = ['ipcity', 'run']\n"
        "from pipelines.cli import entry\n"
        "entry()\n"
    )
    (tmp_path / "landing").mkdir()
    env = {
        **os.environ,
        "IPCITY_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "IPCITY_LANDING": str(tmp_path / "landing"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    res = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "Nothing new to load" in res.stdout
    assert "GC True True" in res.stdout
    import gc

    runner = CliRunner().invoke(main, ["run"], env=env)
    assert runner.exit_code == 0 and gc.isenabled() and gc.get_freeze_count() == 0
