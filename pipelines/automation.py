"""Sensors and schedules: new landing files start ingestion; the annual evaluation and the monthly pledge
statistics run on the calendar."""

import json
from datetime import datetime

import dagster as dg
import duckdb

from pipelines import settings
from pipelines.china_time import CHINA_STANDARD_TIME
from pipelines.counts import count_en
from pipelines.ingest.load import file_hash, landing_files, landing_is_absent, partition_of, still_arriving
from pipelines.partitions import YEARLY
from pipelines.resources import Warehouse
from pipelines.sources import SOURCES

PIPELINE_JOB = "ipcity_pipeline"
PLEDGE_JOB = "pledge_loans_monthly"


def _evaluation_year(now: datetime) -> int:
    """Statistics for a year are complete in the first quarter of the next: evaluate the year before."""
    return now.year - 1


def _loaded_files() -> dict[tuple[str, str], tuple[str, str | None]]:
    """{(source, file hash): (file name, partition)} of the loaded files in the ledger."""
    wh = settings.warehouse_path()
    if not wh.exists():
        return {}
    with duckdb.connect(str(wh), read_only=True) as con:
        has = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw' AND table_name = 'ingested_files'"
        ).fetchall()[0][0]
        if not has:
            return {}
        return {
            (s, h): (name, part)
            for s, h, name, part in con.execute(
                "SELECT source, file_hash, file_name, \"partition\" FROM raw.ingested_files WHERE status = 'loaded'"
            ).fetchall()
        }


@dg.sensor(
    job_name=PIPELINE_JOB,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts ingestion (and the build) when a new or changed file lands in data/landing/<source>/, "
    "or a loaded file is removed from it (its rows are withdrawn).",
)
def landing_sensor(context: dg.SensorEvaluationContext):
    from pipelines.launcher import run_lock_held

    _reap(context)
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    landing = settings.landing_dir()
    if run_lock_held():
        # An `ipcity run` holds the warehouse for its whole run, also between its steps, when DuckDB's own
        # lock is free: a run started now would be a second writer. Next tick, cursor unchanged.
        return dg.SkipReason("warehouse busy")
    try:
        ledger = _loaded_files()
        loaded = set(ledger)
    except duckdb.IOException:
        # A run holds the warehouse (one writer): look again at the next tick, cursor unchanged.
        return dg.SkipReason("warehouse busy")
    valid = set(YEARLY.get_partition_keys())
    requests: dict[str, list[str]] = {}
    outside: list[str] = []
    arriving: list[str] = []
    present = set()
    for source in SOURCES.values():
        for path in landing_files(landing, source):
            present.add(f"{source.name}/{path.name}")
            if still_arriving(path):
                # Still being copied in: its cursor entry stays as it was, so a later tick sees it again, whole.
                arriving.append(f"{source.name}/{path.name}")
                continue
            stat = path.stat()
            # Nanoseconds: a file rewritten within the same second at the same size (a digit corrected) is a
            # new version too; a file only touched changes this but not its hash, which is checked next.
            fingerprint = f"{stat.st_size}:{stat.st_mtime_ns}"
            rel = f"{source.name}/{path.name}"
            if seen.get(rel) == fingerprint:
                continue
            seen[rel] = fingerprint
            if (source.name, file_hash(path)) in loaded:
                continue  # touched but the same bytes: nothing to load
            year = partition_of(path, source) if source.partitioned else None
            key = str(year) if year is not None else str(_evaluation_year(datetime.now(CHINA_STANDARD_TIME)))
            if key not in valid:
                # A RunRequest for a partition the job does not have fails the whole tick, and a failed tick
                # keeps its cursor: every later tick would fail on the same file and no other file would load.
                # This one is left out, by name; `ipcity run` records it in the ledger as refused.
                outside.append(f"{rel} (data year {key}, the pipeline holds {min(valid)}–{max(valid)})")
                continue
            requests.setdefault(key, []).append(f"{rel}@{fingerprint}")
    # A loaded file removed from landing: a run of its year withdraws its rows (pipelines/ingest/load.py,
    # withdraw_file). Not when the landing folder is missing or empty (an unmounted share): nothing is withdrawn
    # then and the cursor keeps the files, so they are not taken for new when the folder comes back.
    if not landing_is_absent(landing):
        loaded_names = {(s, name): part for (s, _), (name, part) in ledger.items()}
        for rel in sorted(set(seen) - present):
            fingerprint = seen.pop(rel)
            source_name, _, name = rel.partition("/")
            if (source_name, name) not in loaded_names:
                continue
            part = loaded_names[(source_name, name)]
            key = part if part in valid else str(_evaluation_year(datetime.now(CHINA_STANDARD_TIME)))
            requests.setdefault(key, []).append(f"removed:{rel}@{fingerprint}")
    context.update_cursor(json.dumps(seen, sort_keys=True))
    if outside:
        context.log.warning("landing files outside the pipeline's years, not loaded: " + "; ".join(outside))
    if arriving:
        context.log.info("landing files still arriving, read once their copy is complete: " + "; ".join(arriving))
    if not requests:
        return dg.SkipReason(
            "no new files in landing"
            + (f"; outside the pipeline's years, not loaded: {'; '.join(outside)}" if outside else "")
            + (f"; still arriving, read once their copy is complete: {'; '.join(arriving)}" if arriving else "")
        )
    for partition, files in sorted(requests.items()):
        yield dg.RunRequest(
            run_key="|".join(sorted(files)),
            partition_key=partition,
            tags={"ipcity/trigger": "landing_sensor", "ipcity/files": ", ".join(sorted(files))[:1000]},
        )


@dg.schedule(
    job_name=PIPELINE_JOB,
    cron_schedule="0 6 1 3 *",
    execution_timezone="Asia/Shanghai",
    description="Annual evaluation on 1 March for the previous year.",
)
def annual_evaluation_schedule(context: dg.ScheduleEvaluationContext):
    year = _evaluation_year(context.scheduled_execution_time)
    return dg.RunRequest(run_key=f"annual-{year}", partition_key=str(year), tags={"ipcity/trigger": "annual"})


@dg.schedule(
    job_name=PLEDGE_JOB,
    cron_schedule="0 6 5 * *",
    execution_timezone="Asia/Shanghai",
    description="Monthly pledge-loan statistics on the 5th, into the current year's partition.",
)
def monthly_pledge_schedule(context: dg.ScheduleEvaluationContext):
    t = context.scheduled_execution_time
    # On 5 January the statistics that arrive are December's: they belong to the previous year.
    year = t.year - 1 if t.month == 1 else t.year
    return dg.RunRequest(run_key=f"pledge-{t:%Y-%m}", partition_key=str(year), tags={"ipcity/trigger": "monthly"})


# ------------------------------------------------------------------------------------------ alerting
# The sensors below are how alerts reach the data engineers between (and around) runs. They open the
# warehouse read-only at most, and only the alert store (SQLite, beside it) for writing.


@dg.run_failure_sensor(
    name="alert_run_failure_sensor",
    monitor_all_code_locations=False,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="A failed run (and its failed blocking checks, and any refused landing file) alerts the data "
    "engineers through the alert routing.",
)
def alert_run_failure_sensor(context: dg.RunFailureSensorContext):
    from pipelines.alerts import notify_run_failure
    from pipelines.alerts.runs import DEAD_TAG

    run = context.dagster_run
    if DEAD_TAG in run.tags:
        return dg.SkipReason(f"run {run.run_id} was reaped as dead; the reaper alerted already")
    message = (context.failure_event.message or "run failed") if context.failure_event else "run failed"
    out = notify_run_failure(context.instance, run, message)
    context.log.info(f"run {run.run_id} failed: {count_en(len(out['messages']), 'digest')} sent")
    # the run's checks on the dashboard's quality page now; its data stays unpublished (snapshot_writer)
    from pipelines.snapshot_writer import publish_failed_run_quality

    problem = publish_failed_run_quality(run.run_id)
    if problem:
        context.log.warning(problem)


@dg.sensor(
    name="dead_run_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks runs whose process is gone (SIGKILL, crash) as failed and alerts the data engineers, so "
    "the one-run-at-a-time queue moves on.",
)
def dead_run_sensor(context: dg.SensorEvaluationContext):
    from pipelines.alerts.runs import reap_dead_runs

    reaped = reap_dead_runs(context.instance)
    return dg.SkipReason(f"marked dead runs failed: {', '.join(reaped)}" if reaped else "no dead runs")


@dg.sensor(
    name="alert_delivery_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retries alert deliveries that are due (a channel that was down receives each message once "
    "when it is back).",
)
def alert_delivery_sensor(context: dg.SensorEvaluationContext):
    from pipelines.alerts.config import load_routing, load_rules
    from pipelines.alerts.lifecycle import deliver_due, take_bounces

    routing = load_routing(strict=False)  # a bad entry holds back only its own messages
    take_bounces(routing, load_rules())  # a digest bounced after the relay took it: the engineers hear it now
    # its own budget: a slow relay leaves the rest due for the next tick instead of a tick Dagster times out
    out = deliver_due(routing, budget=routing.sensor_budget_seconds, cut_at_budget=True)
    done = sum(1 for d in out if d["status"] == "delivered")
    refused = f"; routing entries left out: {'; '.join(map(str, routing.problems))}" if routing.problems else ""
    return dg.SkipReason(f"{len(out)} due deliveries attempted, {done} delivered{refused}")


@dg.sensor(
    name="landing_freshness_sensor",
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Monthly pledge-loan statistics must arrive by the 10th: a province whose file is late (or the "
    "whole source, when none arrived) raises an alert; it resolves when the file is loaded.",
)
def landing_freshness_sensor(context: dg.SensorEvaluationContext):
    from pipelines.alerts import evaluate_freshness

    try:
        out = evaluate_freshness()
    except duckdb.IOException:
        return dg.SkipReason("warehouse busy")
    return dg.SkipReason(f"freshness: {out['transitions']}; {count_en(len(out['messages']), 'digest')}")


def _pledge_freshness_check(context, warehouse) -> dg.AssetCheckResult:
    from pipelines.alerts.conditions import pledge_freshness
    from pipelines.alerts.config import load_rules

    with warehouse.get_connection() as con:
        late = pledge_freshness(con, load_rules()) or []
    return dg.AssetCheckResult(
        passed=not late,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "late": dg.MetadataValue.md("\n".join(f"- {c.title_en}" for c in late) or "none"),
            "late_count": len(late),
        },
    )


@dg.asset_check(
    asset=dg.AssetKey(["raw", "pledge_loans"]),
    name="pledge_monthly_freshness",
    description="Every province's monthly pledge-loan statistics for the previous month have arrived by the due "
    "day (rules.yaml pledge_freshness.due_day). Warning only: a late province never blocks the others.",
)
def pledge_monthly_freshness(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
    return _pledge_freshness_check(context, warehouse)


def _reap(context) -> None:
    """Dead runs must not hold the one-run queue: the landing sensor clears them before requesting a run."""
    from pipelines.alerts.runs import reap_dead_runs

    try:
        reap_dead_runs(context.instance)
    except Exception as e:  # noqa: BLE001 - a reaper problem must never stop ingestion
        context.log.warning(f"dead-run check failed: {e}")
