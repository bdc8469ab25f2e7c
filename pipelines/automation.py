"""Sensors and schedules: new landing files start ingestion; the annual evaluation and the monthly pledge
statistics run on the calendar."""


import json
from datetime import datetime

import dagster as dg

from pipelines import settings
from pipelines.ingest.load import landing_files, partition_of
from pipelines.sources import SOURCES

PIPELINE_JOB = "ipcity_pipeline"
PLEDGE_JOB = "pledge_loans_monthly"


def _evaluation_year(now: datetime) -> int:
    """Statistics for a year are complete in the first quarter of the next: evaluate the year before."""
    return now.year - 1


@dg.sensor(job_name=PIPELINE_JOB, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Starts ingestion (and the build) when a new or changed file lands in data/landing/<source>/.")
def landing_sensor(context: dg.SensorEvaluationContext):
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    landing = settings.landing_dir()
    requests: dict[str, list[str]] = {}
    for source in SOURCES.values():
        for path in landing_files(landing, source):
            stat = path.stat()
            fingerprint = f"{stat.st_size}:{int(stat.st_mtime)}"
            rel = f"{source.name}/{path.name}"
            if seen.get(rel) == fingerprint:
                continue
            seen[rel] = fingerprint
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


@dg.schedule(job_name=PIPELINE_JOB, cron_schedule="0 6 1 3 *", execution_timezone="Asia/Shanghai",
             description="Annual evaluation on 1 March for the previous year.")
def annual_evaluation_schedule(context: dg.ScheduleEvaluationContext):
    year = _evaluation_year(context.scheduled_execution_time)
    return dg.RunRequest(run_key=f"annual-{year}", partition_key=str(year), tags={"ipcity/trigger": "annual"})


@dg.schedule(job_name=PLEDGE_JOB, cron_schedule="0 6 5 * *", execution_timezone="Asia/Shanghai",
             description="Monthly pledge-loan statistics on the 5th, into the current year's partition.")
def monthly_pledge_schedule(context: dg.ScheduleEvaluationContext):
    t = context.scheduled_execution_time
    # On 5 January the statistics that arrive are December's: they belong to the previous year.
    year = t.year - 1 if t.month == 1 else t.year
    return dg.RunRequest(run_key=f"pledge-{t:%Y-%m}", partition_key=str(year), tags={"ipcity/trigger": "monthly"})
