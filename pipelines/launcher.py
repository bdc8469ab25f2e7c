"""`ipcity run`: materialise everything in-process through Dagster, loading history year by year.

New files are found first; one Dagster run then covers every year that has new files (ingest → dbt →
checks → evaluation → alerts → publish). A failed blocking check on a raw asset stops everything below it,
so the published marts stay as they were.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from pipelines import dbt_manifest, settings
from pipelines.automation import PIPELINE_JOB
from pipelines.ingest.load import (
    arriving_files,
    ensure_schema,
    file_hash,
    landing_is_absent,
    partition_of,
    pending_files,
    removed_files,
    source_folders_emptied,
    withdraw_file,
)
from pipelines.partitions import YEARLY
from pipelines.private_files import private_duckdb
from pipelines.progress import PROGRESS_LOGGER_NAME
from pipelines.sources import SOURCES

ProgressFn = Callable[[str, dict], None]


class _ForwardEvents(logging.Handler):
    """Hands each Dagster event the progress logger emits to one run's progress display."""

    def __init__(self, progress: ProgressFn):
        super().__init__(level=logging.DEBUG)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        if event is not None:
            self.progress(event.event_type_value, {"step": event.step_key, "message": event.message or ""})


@contextmanager
def _forwarding(progress: ProgressFn | None) -> Iterator[None]:
    if progress is None:
        yield
        return
    handler = _ForwardEvents(progress)
    logger = logging.getLogger(PROGRESS_LOGGER_NAME)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


@dataclass
class RunSummary:
    runs: list[dict] = field(default_factory=list)  # partition, job, success, run_id
    ledger: pl.DataFrame | None = None
    nothing_new: bool = False
    blocked: str | None = None
    # one row per digest sent by this invocation: route, channel, recipient, firing, resolved, status
    alert_digests: list[dict] = field(default_factory=list)
    dead_runs: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # files refused while planning (file: reason)
    # landing files refused by an earlier run and unchanged since ("source/file: reason"): not a reason to start
    # a run by themselves (the same bytes would be refused again), listed so the operator mends or removes them
    still_refused: list[str] = field(default_factory=list)
    # the last build (pipeline or pledge job) when it did not succeed: run_id, job, status, ended, error. With
    # nothing new to load its files are in the ledger but its marts were never built or published.
    last_failure: dict | None = None
    corrections: pl.DataFrame | None = None  # rows a re-sent file corrected in this run (both versions)
    # files removed from landing whose rows this run withdrew: source, file_name, partition, rows_withdrawn
    withdrawn: pl.DataFrame | None = None
    # the landing folder is missing or holds no file while the warehouse holds loaded files: nothing was
    # withdrawn (an unmounted share must not empty the warehouse); the folder, for the message
    landing_absent: str | None = None
    # sources whose own folder holds no file while files of theirs are loaded: nothing withdrawn for them
    sources_emptied: list[str] = field(default_factory=list)
    withdrawn_refused: list[str] = field(default_factory=list)  # refused files removed from landing ("source/file")
    # landing files still being copied in after the run's wait ("source/file"): not read by this run, read by the
    # next once their copy is complete. Told to whoever runs it: before, only the raw asset's log said so, and a
    # run that said "nothing new" (or published a year without them) left the operator guessing.
    still_arriving: list[str] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.blocked and all(r["success"] for r in self.runs)


def prepare_dagster_home() -> str:
    """DAGSTER_HOME with its dagster.yaml (written once): one run at a time, since DuckDB has a single writer;
    telemetry off, the network is closed anyway."""
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text("telemetry:\n  enabled: false\nconcurrency:\n  runs:\n    max_concurrent_runs: 1\n")
    if "run_monitoring" not in cfg.read_text():
        # Dagster's run monitoring (daemon, under `ipcity dev`) fails runs stuck while starting; runs whose
        # process died after starting are caught by pipelines.alerts.runs.reap_dead_runs.
        with open(cfg, "a") as f:
            f.write(
                "run_monitoring:\n  enabled: true\n  start_timeout_seconds: 300\n  poll_interval_seconds: 30\n"
                "  max_resume_run_attempts: 0\n"
            )
    _write_storage_block(cfg, home)
    _create_storage_once(home)
    return str(home)


def _create_storage_once(home: Path) -> None:
    """Create Dagster's SQLite stores of a new home here, one process at a time. Two processes that open a new
    home at the same moment (a run's process and a reader, a run and the daemon) both stamp the schedule store's
    migration table, and every later open of that home then fails ("more than one head present"; seen in CI)."""
    if (home / "schedules" / "schedules.db").exists():
        return
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; the race stays as rare as Dagster leaves it
        fcntl = None
    with open(home / ".create_storage.lock", "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        if not (home / "schedules" / "schedules.db").exists():
            dg.DagsterInstance.from_config(str(home)).dispose()


_STORAGE_BEGIN = "# --- ipcity storage (pipelines/dagster_storage.py; rewritten when DAGSTER_HOME moves) ---"
_STORAGE_END = "# --- end ipcity storage ---"


def _write_storage_block(cfg: Path, home: Path) -> None:
    """Dagster's default SQLite storage at its default places under ``home``, except the event log, which keeps
    its connections open (pipelines/dagster_storage.py: an ~1,100-event run spent about a quarter of its time
    opening and closing SQLite connections). Paths are absolute, so the block is rewritten if the home moves;
    a dagster.yaml that configures storage itself (``storage:``) is left alone."""
    text = cfg.read_text()
    lines = text.splitlines()
    ours = _STORAGE_BEGIN in lines and _STORAGE_END in lines
    if not ours and any(line.split(":")[0] in ("storage", "run_storage", "event_log_storage") for line in lines):
        return
    block = "\n".join(
        [
            _STORAGE_BEGIN,
            "run_storage:",
            "  module: dagster._core.storage.runs",
            "  class: SqliteRunStorage",
            "  config:",
            f"    base_dir: {json.dumps(str(home / 'history'))}",
            "event_log_storage:",
            "  module: pipelines.dagster_storage",
            "  class: PooledSqliteEventLogStorage",
            "  config:",
            f"    base_dir: {json.dumps(str(home / 'history' / 'runs'))}",
            "schedule_storage:",
            "  module: dagster._core.storage.schedules",
            "  class: SqliteScheduleStorage",
            "  config:",
            f"    base_dir: {json.dumps(str(home / 'schedules'))}",
            _STORAGE_END,
        ]
    )
    if ours:
        start, end = lines.index(_STORAGE_BEGIN), lines.index(_STORAGE_END)
        if "\n".join(lines[start : end + 1]) == block:
            return
        lines = lines[:start] + lines[end + 1 :]
    cfg.write_text("\n".join([*lines, block]) + "\n")


class WarehouseBusy(RuntimeError):
    """Another run writes the warehouse now (one DuckDB writer): this one does not start."""


def run_lock_path() -> Path:
    wh = settings.warehouse_path()
    return wh.with_name(wh.name + ".run.lock")


@contextmanager
def run_lock() -> Iterator[None]:
    """Held for the whole of an `ipcity run`. DuckDB locks the file only while a connection is open, and a run
    opens and closes one per step: between two steps (or at planning) a second `ipcity run` would get in and
    both would load the same new files and build from each other's half-written tables. An advisory lock
    (flock) is released by the kernel when its process dies, so a run killed with SIGKILL never leaves a lock
    that blocks the next one; the PID written into the file only names the holder in the message."""
    import fcntl

    path = run_lock_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "?"
            raise WarehouseBusy(
                f"another `ipcity run` (process {holder}) is writing {settings.warehouse_path()}"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)


def run_lock_held() -> bool:
    """Whether an `ipcity run` holds the warehouse now (for the landing sensor, which must not start a second
    writer meanwhile)."""
    import fcntl

    path = run_lock_path()
    if not path.exists():
        return False
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def _connect_for_planning(wh: Path) -> duckdb.DuckDBPyConnection:
    """The warehouse for writing, or WarehouseBusy naming the process that holds it (a `dagster dev` run, a
    script), instead of DuckDB's traceback."""
    try:
        return duckdb.connect(str(private_duckdb(wh)))
    except duckdb.IOException as e:
        if "lock" not in str(e).lower():
            raise
        raise WarehouseBusy(f"{wh} is open for writing elsewhere ({e})") from None


def refused_unchanged(
    con: duckdb.DuckDBPyConnection, pending: dict[str, list[Path]]
) -> dict[str, list[tuple[Path, str]]]:
    """Pending files whose very bytes an earlier run refused (ledger status 'failed'), with the reason."""
    out: dict[str, list[tuple[Path, str]]] = {}
    for source, files in pending.items():
        if not files:
            continue
        reasons = dict(
            con.execute(
                "SELECT file_hash, arg_max(message, ingested_at) FROM raw.ingested_files "
                "WHERE source = ? AND status = 'failed' GROUP BY file_hash",
                [source],
            ).fetchall()
        )
        for path in files:
            digest = file_hash(path)
            if digest in reasons:
                out.setdefault(source, []).append((path, reasons[digest] or ""))
    return out


def dagster_instance() -> dg.DagsterInstance:
    """The persistent Dagster instance in DAGSTER_HOME (run history, asset checks, sensor cursors)."""
    return dg.DagsterInstance.from_config(prepare_dagster_home())


def pending_by_source(con: duckdb.DuckDBPyConnection) -> dict[str, list[Path]]:
    """Each source's landing files not loaded yet."""
    ensure_schema(con)
    landing = settings.landing_dir()
    return {name: pending_files(con, landing, source) for name, source in SOURCES.items()}


def plan(
    con: duckdb.DuckDBPyConnection, pending: dict[str, list[Path]] | None = None
) -> tuple[dict[int, list[str]], list[str]]:
    """New yearly files by partition year, and new reference files (``pending``: `pending_by_source`'s answer,
    when the caller has it already)."""
    pending = pending if pending is not None else pending_by_source(con)
    yearly: dict[int, list[str]] = {}
    reference: list[str] = []
    for source in SOURCES.values():
        for path in pending[source.name]:
            if source.partitioned:
                year = partition_of(path, source)
                if year is None:
                    # An unreadable file still gets a run, which fails with the reason.
                    year = settings.DEFAULT_LAST_YEAR
                yearly.setdefault(year, []).append(f"{source.name}/{path.name}")
            else:
                reference.append(f"{source.name}/{path.name}")
    return yearly, reference


def latest_loaded_year(con: duckdb.DuckDBPyConnection) -> int | None:
    years = [
        con.execute(f"SELECT max(year) FROM raw.{s.name}").fetchall()[0][0] for s in SOURCES.values() if s.partitioned
    ]
    years = [y for y in years if y is not None]
    return max(years) if years else None


def run_pipeline(
    *, rebuild: bool = False, progress: ProgressFn | None = None, instance: dg.DagsterInstance | None = None
) -> RunSummary:
    """Plan and run; WarehouseBusy when another run writes the warehouse (nothing is started then)."""
    with run_lock():
        return _run_pipeline(rebuild=rebuild, progress=progress, instance=instance)


def _run_pipeline(*, rebuild: bool, progress: ProgressFn | None, instance: dg.DagsterInstance | None) -> RunSummary:
    summary = RunSummary()
    wh = settings.warehouse_path()
    wh.parent.mkdir(parents=True, exist_ok=True)
    # A stale dbt manifest (fresh checkout, edited models) is parsed in a second process while this one plans;
    # the definitions, which need it, are imported after (pipelines/dbt_manifest.py).
    parsing = dbt_manifest.start_parse()
    try:
        with _connect_for_planning(wh) as con:
            pending = pending_by_source(con)
            summary.still_arriving = [
                f"{name}/{path.name}"
                for name, source in SOURCES.items()
                for path in arriving_files(settings.landing_dir(), source)
                if path not in pending[name]
            ]
            # A file refused before and unchanged since would be refused again: by itself it starts no run
            # (otherwise every `ipcity run` rebuilt everything for it). It is retried with any run that has
            # something else to do (the raw asset takes every pending file), and listed for the operator.
            for source, files in refused_unchanged(con, pending).items():
                for path, reason in files:
                    pending[source] = [p for p in pending[source] if p != path]
                    summary.still_refused.append(f"{source}/{path.name}: {reason}")
            if rebuild or any(pending.values()):
                # The run's checks need GX (≈ 4 s of imports): a thread imports it while this one plans and the
                # other core parses (pipelines.quality.runner.import_in_background).
                from pipelines.quality.runner import import_in_background

                import_in_background()
            yearly, reference = plan(con, pending)
            last = latest_loaded_year(con)
            # Files removed from landing since they were loaded: a run withdraws their rows (the raw assets,
            # load.withdraw_file), so their years are run even when nothing new arrived.
            landing = settings.landing_dir()
            removed = {name: removed_files(con, landing, s) for name, s in SOURCES.items()}
            # A refused file has no rows to withdraw: the ledger records its withdrawal now, without a run (before,
            # a refused file removed as `ipcity status` advises stayed listed as refused for ever).
            for name, files in removed.items():
                for file_name, part, loaded in files:
                    if not loaded:
                        withdraw_file(con, SOURCES[name], file_name, part)
                        summary.withdrawn_refused.append(f"{name}/{file_name}")
                removed[name] = [f for f in files if f[2]]
            if (
                landing_is_absent(landing)
                and con.execute("SELECT 1 FROM raw.ingested_files WHERE status = 'loaded' LIMIT 1").fetchall()
            ):
                summary.landing_absent = str(landing)
            summary.sources_emptied = source_folders_emptied(con, landing)
    finally:
        dbt_manifest.finish_parse(parsing)
    valid_years = set(YEARLY.get_partition_keys())
    for name, files in removed.items():
        for file_name, part, _loaded in files:
            if SOURCES[name].partitioned and part in valid_years:
                yearly.setdefault(int(part), []).append(f"{name}/{file_name} (removed)")
            else:  # a reference file, or a file refused before its year was known: any run withdraws it
                reference.append(f"{name}/{file_name} (removed)")
    if not yearly and not reference and not rebuild:
        summary.nothing_new = True
        # "Nothing new" must not hide a run that failed or was killed after loading its files: those files are
        # 'loaded', so without this the marts would stay unbuilt (and the snapshot old) with nothing said.
        from pipelines.alerts.runs import reap_dead_runs

        instance = instance or dagster_instance()
        summary.dead_runs = reap_dead_runs(instance)
        summary.last_failure = last_build_failure(instance)
        return summary
    valid = set(YEARLY.get_partition_keys())
    # A file whose data year lies outside the partitions fails alone, by name; the other years still run.
    outside = sorted(y for y in yearly if str(y) not in valid)
    if outside:
        from pipelines.ingest.load import record_failure_of

        with duckdb.connect(str(private_duckdb(wh))) as con:
            for y in outside:
                for rel in yearly.pop(y):
                    reason = f"data year {y} is outside the years the pipeline holds ({min(valid)}–{max(valid)})"
                    record_failure_of(con, SOURCES[rel.split("/")[0]], settings.landing_dir() / rel, reason)
                    summary.refused.append(f"{rel}: {reason}")
        if not yearly and not reference and not rebuild:
            return summary
    years = sorted(y for y in yearly if str(y) in valid)
    first, last_year = (years[0], years[-1]) if years else (last or settings.DEFAULT_LAST_YEAR,) * 2
    instance = instance or dagster_instance()
    # A run killed earlier (SIGKILL) is still STARTED in Dagster: mark it failed and alert before starting.
    from pipelines.alerts.runs import IN_PROGRESS, reap_dead_runs

    summary.dead_runs = reap_dead_runs(instance)
    # A run the Dagster UI or its sensor started (same DAGSTER_HOME) writes the warehouse step by step: the run
    # lock above does not see it, the instance does.
    live = instance.get_runs(filters=dg.RunsFilter(statuses=IN_PROGRESS), limit=1)
    if live:
        raise WarehouseBusy(f"Dagster run {live[0].run_id} ({live[0].job_name}) is {live[0].status.value}")
    # One run for every year with new files: the yearly raw assets take the whole range in one step
    # (single-run backfill policy) and everything downstream is built once, behind the blocking checks.
    tags = {"ipcity/trigger": "cli"}
    if first == last_year:
        kwargs = {"partition_key": str(first)}
    else:
        kwargs = {}
        tags |= {"dagster/asset_partition_range_start": str(first), "dagster/asset_partition_range_end": str(last_year)}
    label = f"{first}" if first == last_year else f"{first}–{last_year}"
    from pipelines.definitions import defs  # after planning: see dbt_manifest.start_parse above

    with _forwarding(progress):
        if progress:
            progress("RUN_PLANNED", {"step": None, "message": f"pipeline {label}"})
        res = defs.resolve_job_def(PIPELINE_JOB).execute_in_process(
            instance=instance, raise_on_error=False, run_config={"loggers": {"progress": {}}}, tags=tags, **kwargs
        )
        summary.runs.append(
            {
                "partition": label,
                "job": PIPELINE_JOB,
                "success": res.success,
                "run_id": res.run_id,
                "error": _first_error(res),
            }
        )
        if not res.success:
            # No daemon watches an in-process run: alert the data engineers here, as the sensor would.
            from pipelines.alerts import notify_run_failure

            try:
                notify_run_failure(
                    instance, instance.get_run_by_id(res.run_id), summary.runs[-1]["error"] or "run failed"
                )
            except Exception as e:  # noqa: BLE001 - the run's own failure is what the user must see
                summary.runs[-1]["error"] = f"{summary.runs[-1]['error']} | alerting the data engineers failed: {e}"
            # its checks on the dashboard's quality page now (its data stays unpublished; snapshot_writer)
            from pipelines.snapshot_writer import publish_failed_run_quality

            problem = publish_failed_run_quality(res.run_id, wh)
            if problem:
                summary.runs[-1]["error"] = f"{summary.runs[-1]['error']} | {problem}"
    run_ids = [r["run_id"] for r in summary.runs if r["run_id"]]
    with duckdb.connect(str(wh), read_only=True) as con:
        summary.ledger = ledger_for_runs(con, run_ids)
        summary.corrections = corrections_for_runs(con, run_ids)
        summary.withdrawn = withdrawals_for_runs(con, run_ids)
    summary.alert_digests = digests_for_runs(run_ids + summary.dead_runs)
    return summary


def last_build_failure(instance: dg.DagsterInstance) -> dict | None:
    """The latest run of a job that builds the marts, when it failed or was cancelled (a killed run, once
    reaped, is failed): which, when, and why in a line."""
    from pipelines.automation import PLEDGE_JOB

    records = [
        r
        for job in (PIPELINE_JOB, PLEDGE_JOB)
        for r in instance.get_run_records(filters=dg.RunsFilter(job_name=job), limit=1)
    ]
    if not records:
        return None
    last = max(records, key=lambda r: r.create_timestamp)
    run = last.dagster_run
    if run.status not in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
        return None
    reasons = []
    for rec in instance.get_records_for_run(
        run.run_id, of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
    ).records:
        ev = rec.event_log_entry.dagster_event
        err = getattr(ev.event_specific_data, "error", None)
        text = err.message.strip() if err is not None else (ev.message or "")
        reasons.append(f"{ev.step_key}: {text}" if ev.step_key else text)
    return {
        "run_id": run.run_id,
        "job": run.job_name,
        "status": run.status.value,
        "ended": last.end_time,
        "error": " | ".join(reasons)[:600] or run.status.value,
    }


def digests_for_runs(run_ids: list[str]) -> list[dict]:
    """Digests the alert dispatches of these runs created, one row per recipient, with delivery status."""
    from pipelines.alerts.store import connect

    if not run_ids:
        return []
    try:
        with connect(read_only=True) as con:
            marks = ", ".join("?" * len(run_ids))
            return [
                dict(r)
                for r in con.execute(
                    f"""SELECT route, channel, recipient, count(*) AS messages, sum(n_firing) AS firing,
                        sum(n_resolved) AS resolved, group_concat(DISTINCT status) AS status
                        FROM alerts.messages WHERE run_id IN ({marks})
                        GROUP BY route, channel, recipient ORDER BY route, recipient""",
                    run_ids,
                ).fetchall()
            ]
    except FileNotFoundError:
        return []


def _first_error(res) -> str | None:
    """Failed steps (with their causes) and failed asset checks of a run, for the CLI's summary."""
    if res.success:
        return None
    msgs = []
    for ev in res.all_events:
        if ev.event_type_value == "STEP_FAILURE":
            err = ev.event_specific_data.error
            text = err.message.strip() if err else ev.message
            while err is not None and err.cause is not None:
                err = err.cause
                text += f" ← {err.message.strip()}"
            msgs.append(f"{ev.step_key}: {text}")
        elif (
            ev.event_type_value == "ASSET_CHECK_EVALUATION"
            and not ev.event_specific_data.passed
            and ev.event_specific_data.severity == dg.AssetCheckSeverity.ERROR
        ):
            # Only blocking checks: a warning (a late province's pledge file) never fails a run, and naming it
            # first sent the operator after the wrong cause.
            msgs.append(f"check failed: {ev.message}")
    return " | ".join(msgs)[:4000] or "run failed"


def ledger_for_runs(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> pl.DataFrame:
    if not run_ids:
        return pl.DataFrame()
    return con.sql(
        """
        SELECT source, count(*) AS files, sum(rows_read) AS rows_read, sum(rows_loaded) AS rows_loaded,
               sum(rows_rejected) AS rows_quarantined, sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS files_failed
        FROM raw.ingested_files WHERE list_contains($ids, run_id) AND status <> 'withdrawn'
        GROUP BY source ORDER BY source
        """,
        params={"ids": run_ids},
    ).pl()


def withdrawals_for_runs(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> pl.DataFrame:
    """Files removed from landing whose rows these runs withdrew (the ledger's withdrawal rows)."""
    if not run_ids:
        return pl.DataFrame()
    return con.sql(
        """
        SELECT source, file_name, "partition", rows_withdrawn FROM raw.ingested_files
        WHERE list_contains($ids, run_id) AND rows_withdrawn IS NOT NULL ORDER BY source, file_name
        """,
        params={"ids": run_ids},
    ).pl()


def corrections_for_runs(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> pl.DataFrame:
    """Rows corrected by re-sent files in these runs: which key, which file replaced which, what changed."""
    if not run_ids:
        return pl.DataFrame()
    return con.sql(
        """
        SELECT source, key_values, old_file, new_file, changed_columns, old_values, new_values
        FROM raw.corrections WHERE list_contains($ids, run_id) ORDER BY source, new_file, key_values
        """,
        params={"ids": run_ids},
    ).pl()


def warehouse_status(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every table with its exact row count. Not duckdb_tables().estimated_size: it still counts the rows a
    re-sent file replaced (deleted, not yet checkpointed), so after a correction `ipcity status` showed the old
    and the new rows as if the file had been loaded twice."""
    tables = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "ORDER BY schema_name, table_name"
    ).fetchall()
    if not tables:
        return pl.DataFrame({"table": [], "rows": []}, schema={"table": pl.Utf8, "rows": pl.Int64})
    union = " UNION ALL ".join(
        f'SELECT \'{schema}.{table}\' AS "table", count(*) AS rows FROM "{schema}"."{table}"'
        for schema, table in tables
    )
    return con.sql(f'SELECT * FROM ({union}) ORDER BY "table"').pl()
