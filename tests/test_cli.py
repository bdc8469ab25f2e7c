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
    out = CliRunner().invoke(main, ["--help"]).output
    for cmd in ("generate", "run", "dev", "status", "quality", "serve", "dossier", "docs", "bench"):
        assert cmd in out
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
