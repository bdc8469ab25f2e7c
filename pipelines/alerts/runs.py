"""Dead runs never block: a Dagster run whose process is gone is marked failed and alerted.

`ipcity run` executes in-process and the Dagster UI's run worker is a subprocess; either can be killed
(SIGKILL, OOM killer, a reboot) before it records its end, which leaves the run STARTED forever. With one run
at a time (DuckDB has one writer) the queue then never launches another run. Dagster's own run monitoring
(enabled in dagster.yaml, see runner._instance) only covers runs stuck while starting, because the default run
launcher cannot check a worker's health; so every start of `ipcity run`, every landing-sensor tick and the
dead-run sensor call `reap_dead_runs`, which checks the process that emitted the run's events.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

IN_PROGRESS = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.CANCELING]
DEAD_TAG = "ipcity/dead_run"


def _process_alive(pid: int, since: float | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    # A recycled pid: a process that started after the run did is not the run's process.
    if since is not None:
        try:
            return _start_time(pid) <= since + 5
        except (OSError, ValueError, IndexError, StopIteration):
            return True
    return True


def _start_time(pid: int) -> float:
    """Process start (epoch seconds) from /proc: boot time + starttime ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[19])
    boot = next(float(x.split()[1]) for x in open("/proc/stat") if x.startswith("btime"))
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def run_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid of the process that started the run (its RUN_START / first engine event). Asked by event type:
    the real pipeline's run opens with one ASSET_MATERIALIZATION_PLANNED event per asset (≈ 350, no pid), so the
    run's first 50 events carried none and a killed `ipcity run` was never reaped."""
    records = instance.get_records_for_run(
        run_id,
        of_type={dg.DagsterEventType.RUN_START, dg.DagsterEventType.ENGINE_EVENT, dg.DagsterEventType.STEP_START},
        limit=5,
    ).records
    for rec in records:
        ev = rec.event_log_entry.dagster_event
        if ev is not None and ev.pid:
            return int(ev.pid)
    return None


def reap_dead_runs(instance: dg.DagsterInstance, *, alert: bool = True) -> list[str]:
    """Mark in-progress runs whose process is gone as failed (and alert the data engineers); returns run ids."""
    reaped = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=IN_PROGRESS)):
        pid = run_pid(instance, run.run_id)
        if pid is None:
            continue  # not started yet: Dagster's run monitoring (start_timeout_seconds) handles a stuck start
        record = instance.get_run_record_by_id(run.run_id)
        since = record.start_time if record else None
        if _process_alive(pid, since):
            continue
        texts = dead_run_texts(pid, run.status.value, datetime.now(UTC))
        instance.add_run_tags(run.run_id, {DEAD_TAG: str(pid)})
        instance.report_run_failed(run, message=texts["en"])
        reaped.append(run.run_id)
        if alert:
            notify_dead_run(instance, instance.get_run_by_id(run.run_id), texts)
    return reaped


def dead_run_texts(pid: int, status: str, at: datetime) -> dict[str, str]:
    """Why a dead run was marked failed, in each language, the time in Beijing time and saying so: the engineers'
    notice said "marked failed at 06:20:00 UTC" in its Chinese text as in its English, to readers who take an
    unmarked or foreign time for Beijing's (every other time a person reads is Beijing time, marked so:
    pipelines.china_time)."""
    from pipelines.china_time import china_time_text

    return {
        "zh": f"运行进程 {pid} 已消失（被终止或崩溃），当时运行状态为 {status}；已于 {china_time_text(at, 'zh')}"
        "标记为失败，以便队列继续",
        "en": f"run process {pid} is gone (killed or crashed) while the run was {status}; marked failed at "
        f"{china_time_text(at, 'en')} so the queue can move on",
    }


def notify_dead_run(instance, run, texts: dict[str, str]) -> dict:
    """The engineers' notice of a dead run (``texts``: dead_run_texts), with any blocking check it failed first."""
    from pipelines.alerts import failed_blocking_checks, notify_events, run_failure_events
    from pipelines.alerts.conditions import Condition
    from pipelines.alerts.config import load_rules

    rules = load_rules()
    message = texts["en"]
    events = [
        Condition(
            rule_id="dead_run",
            audience="engineering",
            kind="event",
            severity=rules.severity("dead_run"),
            subject_key=f"run:{run.run_id}",
            title_zh=f"运行进程已消失，已标记为失败：{run.job_name} ({run.run_id[:8]}) — {texts['zh']}",
            title_en=f"dead run marked failed: {run.job_name} ({run.run_id[:8]}) — {message}",
            detail={"run_id": run.run_id, "job": run.job_name, "message": message},
        )
    ]
    # The killed run may have failed blocking checks before it died: report those as well.
    checks = failed_blocking_checks(instance, run.run_id)
    events += [
        e for e in run_failure_events(run.run_id, run.job_name, message, checks, run.tags) if e.rule_id != "run_failed"
    ]
    return notify_events(events, run_id=run.run_id)
