"""A small Dagster code location for the dead-run test: the project's real landing sensor and dead-run
sensor over a tiny stand-in for the pipeline job (same name and yearly partitions), so the daemon loads in
seconds. `slow_job` is what the test starts in a separate process and kills with SIGKILL."""

import time

import dagster as dg

from pipelines.automation import PIPELINE_JOB, dead_run_sensor, landing_sensor
from pipelines.partitions import YEARLY


@dg.asset(partitions_def=YEARLY)
def stand_in() -> None:
    time.sleep(1)


@dg.op
def long_ingest() -> None:
    time.sleep(600)


@dg.job
def slow_job():
    long_ingest()


pipeline_job = dg.define_asset_job(PIPELINE_JOB, selection=[stand_in], partitions_def=YEARLY)

defs = dg.Definitions(assets=[stand_in], jobs=[pipeline_job, slow_job], sensors=[landing_sensor, dead_run_sensor])
