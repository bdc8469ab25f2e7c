"""Sensors and schedules: new landing files start ingestion; the annual evaluation and the monthly pledge
statistics run on the calendar."""

import json
from datetime import datetime

import dagster as dg
import duckdb

from pipelines import settings
from pipelines.ingest.load import file_hash, landing_files, partition_of
from pipelines.sources import SOURCES

PIPELINE_JOB = "ipcity_pipeline"
PLEDGE_JOB = "pledge_loans_monthly"


def _evaluation_year(now: datetime) -> int:
    """Statistics for a year are complete in the first quarter of the next: evaluate the year before."""
    return now.year - 1


def _loaded_hashes() -> set[tuple[str, str]]:
    wh = settings.warehouse_path()
    if not wh.exists():
        return set()
    with duckdb.connect(str(wh), read_only=True) as con:
        has = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw' AND table_name = 'ingested_files'"
        ).fetchall()[0][0]
        if not has:
            return set()
        return {
            (s, h)
            for s, h in con.execute(
                "SELECT source, file_hash FROM raw.ingested_files WHERE status = 'loaded'"
            ).fetchall()
        }


@dg.sensor(
    job_name=PIPELINE_JOB,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts ingestion (and the build) when a new or changed file lands in data/landing/<source>/.",
)
def landing_sensor(context: dg.SensorEvaluationContext):
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    landing = settings.landing_dir()
    try:
        loaded = _loaded_hashes()
    except duckdb.IOException:
        # A run holds the warehouse (one writer): look again at the next tick, cursor unchanged.
        return dg.SkipReason("warehouse busy")
    requests: dict[str, list[str]] = {}
    for source in SOURCES.values():
        for path in landing_files(landing, source):
            stat = path.stat()
            fingerprint = f"{stat.st_size}:{int(stat.st_mtime)}"
            rel = f"{source.name}/{path.name}"
            if seen.get(rel) == fingerprint:
                continue
            seen[rel] = fingerprint
            if (source.name, file_hash(path)) in loaded:
                continue  # touched but the same bytes: nothing to load
            year = partition_of(path, source) if source.partitioned else None
            key = str(year) if year is not None else str(_evaluation_year(datetime.now()))
            requests.setdefault(key, []).append(f"{rel}@{fingerprint}")
    context.update_cursor(json.dumps(seen, sort_keys=True))
    if not requests:
        return dg.SkipReason("no new files in landing")
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
