"""Dead runs never block: a run killed with SIGKILL is detected, marked failed, alerted to the data engineers,
and the one-run-at-a-time queue launches the next sensor-triggered run. Real Dagster daemon, real SIGKILL,
real SMTP server on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from alert_receivers import SmtpSink, free_port
from test_alerts import routing_yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _runs(home: Path) -> list[dg.DagsterRun]:
    from dagster._core.instance.ref import InstanceRef

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as inst:
        return list(inst.get_runs())


def _wait(pred, timeout: float, what: str):
    t0 = time.time()
    while time.time() - t0 < timeout:
        got = pred()
        if got:
            return got
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.mark.slow
def test_killed_run_is_marked_failed_alerted_and_the_queue_moves_on(tmp_path, monkeypatch):
    smtp = SmtpSink().start()
    home = tmp_path / "dagster_home"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)]),
        "IPCITY_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "IPCITY_LANDING": str(tmp_path / "landing"),
        "IPCITY_ALERT_STORE": str(tmp_path / "alerts.sqlite"),
        "IPCITY_ALERT_ROUTING": str(tmp_path / "routing.yaml"),
    }
    routing_yaml(tmp_path / "routing.yaml", smtp.port, free_port())
    for k in ("DAGSTER_HOME", "IPCITY_WAREHOUSE", "IPCITY_ALERT_STORE", "IPCITY_ALERT_ROUTING", "IPCITY_LANDING"):
        monkeypatch.setenv(k, env[k])
    from pipelines.launcher import prepare_dagster_home

    prepare_dagster_home()  # the project's dagster.yaml: one run at a time, run monitoring on
    assert "max_concurrent_runs: 1" in (home / "dagster.yaml").read_text()

    # 1. A run in its own process, killed with SIGKILL mid-way: it stays STARTED.
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import dagster as dg, dead_run_defs as d; "
            "d.defs.resolve_job_def('slow_job').execute_in_process(instance=dg.DagsterInstance.get())",
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    daemon = None
    try:
        dead = _wait(
            lambda: next((r for r in _runs(home) if r.status == dg.DagsterRunStatus.STARTED), None), 120, "run start"
        )
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        time.sleep(1)
        assert next(r for r in _runs(home) if r.run_id == dead.run_id).status == dg.DagsterRunStatus.STARTED

        # 2. A new landing file, and the Dagster daemon (sensors + the run queue) with the project's sensors.
        landing = tmp_path / "landing" / "pledge_loans"
        landing.mkdir(parents=True)
        (landing / "pledge_loans_2024.csv").write_text("城市代码,月份\n410100,2024-01-01\n", encoding="utf-8")
        daemon = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-m", "dead_run_defs"],
            env=env,
            cwd=HERE,
            start_new_session=True,
            stdout=open(tmp_path / "daemon.log", "wb"),
            stderr=subprocess.STDOUT,
        )

        # 3. The next sensor-triggered run launches; the dead run is failed and tagged; the engineers hear of it.
        def launched():
            runs = _runs(home)
            new = [r for r in runs if r.tags.get("ipcity/trigger") == "landing_sensor"]
            ok = {dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.SUCCESS}
            return new[0] if new and new[0].status in ok else None

        try:
            nxt = _wait(launched, 240, "the sensor-triggered run to launch")
        except AssertionError:
            print((tmp_path / "daemon.log").read_text(errors="replace")[-4000:])
            raise
        after = next(r for r in _runs(home) if r.run_id == dead.run_id)
        assert after.status == dg.DagsterRunStatus.FAILURE
        assert after.tags.get("ipcity/dead_run") == str(worker.pid)
        assert nxt.tags.get("dagster/partition") == "2024"
        assert _wait(lambda: smtp.to("de@test.local"), 30, "the dead-run alert")
        text = SmtpSink.text(smtp.to("de@test.local")[0])
        assert dead.run_id[:8] in text and "slow_job" in text
        assert not smtp.to("national@test.local")  # engineers only
    finally:
        for p in (daemon, worker):
            if p is not None and p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(timeout=20)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(p.pid, signal.SIGKILL)
        smtp.stop()
