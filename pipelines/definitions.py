"""The one Dagster entry point: `dagster dev -m pipelines.definitions` / `dagster definitions validate`."""

import dagster as dg

from pipelines.assets.checks import MART_CHECKS, RAW_CHECKS
from pipelines.assets.dbt import DBT_ASSETS, dbt_resource
from pipelines.assets.evaluation import EVALUATION_ASSETS
from pipelines.assets.publish import build_extract_assets, build_publish_assets
from pipelines.assets.raw import RAW_ASSETS
from pipelines.assets.raw_lake import LAKE_ASSETS
from pipelines.automation import (
    PIPELINE_JOB,
    PLEDGE_JOB,
    alert_delivery_sensor,
    alert_run_failure_sensor,
    annual_evaluation_schedule,
    dead_run_sensor,
    landing_freshness_sensor,
    landing_sensor,
    monthly_pledge_schedule,
    pledge_monthly_freshness,
)
from pipelines.progress import progress_logger
from pipelines.resources import Alerting, Warehouse

INGEST_JOB = "ingest_yearly"

MODEL_ASSETS = [*DBT_ASSETS, *EVALUATION_ASSETS]
PUBLISH_ASSETS = build_publish_assets(MODEL_ASSETS, RAW_ASSETS)
PUBLISH_ASSETS += build_extract_assets(PUBLISH_ASSETS)
ALL_ASSETS = [*RAW_ASSETS, *LAKE_ASSETS, *MODEL_ASSETS, *PUBLISH_ASSETS]

# The jobs take their yearly partitions from the assets they select (define_asset_job(partitions_def=) is
# deprecated): the raw assets are partitioned by pipelines.partitions.YEARLY.
pipeline_job = dg.define_asset_job(
    PIPELINE_JOB,
    selection=dg.AssetSelection.all(),
    description="Ingest a year's new files, build every mart, run every check, alert and publish.",
)
ingest_job = dg.define_asset_job(
    INGEST_JOB,
    selection=dg.AssetSelection.groups("raw"),
    description="Ingest only (raw layer and its checks) for one year; used to load history year by year.",
)
pledge_job = dg.define_asset_job(
    PLEDGE_JOB,
    selection=dg.AssetSelection.assets(["raw", "pledge_loans"]).downstream(),
    description="Monthly pledge-loan statistics and everything they feed.",
)


def resources(warehouse_path: str | None = None, alerting: Alerting | None = None) -> dict:
    wh = Warehouse(database=warehouse_path) if warehouse_path else Warehouse()
    return {"warehouse": wh, "dbt": dbt_resource(), "alerting": alerting or Alerting()}


defs = dg.Definitions(
    assets=ALL_ASSETS,
    asset_checks=[*RAW_CHECKS, *MART_CHECKS, pledge_monthly_freshness],
    jobs=[pipeline_job, ingest_job, pledge_job],
    sensors=[
        landing_sensor,
        alert_run_failure_sensor,
        dead_run_sensor,
        alert_delivery_sensor,
        landing_freshness_sensor,
    ],
    schedules=[annual_evaluation_schedule, monthly_pledge_schedule],
    resources=resources(),
    # `ipcity run` selects the progress logger in its run config; runs from the UI keep the console logger.
    loggers={"console": dg.colored_console_logger, "progress": progress_logger},
    # One DuckDB writer at a time: steps run one after another in the run's own process.
    executor=dg.in_process_executor,
)
