"""The one partitioning scheme: calendar years, as the programme evaluates cities year by year."""

import dagster as dg

from pipelines.settings import HISTORY_FIRST_YEAR

# end_offset=1 includes the current (still running) year, so monthly pledge statistics can land during it.
YEARLY = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1 *",
    start=str(HISTORY_FIRST_YEAR),
    fmt="%Y",
    end_offset=1,
)
