"""Not reporting within the grace period counts as exit: the same verdict and the same deadline everywhere.

The management measures count a city that does not report within six months (RPT.grace_months of the rules seed)
as exit. fct_reporting_status judges it on Beijing days (a load at 23:30 UTC on the last day is the next day in
Beijing: dbt unit tests fct_reporting_status::a_load_late_at_night_utc_is_received_on_the_next_beijing_day and
::the_grace_period_follows_the_rules_months_in_beijing_days, the latter at 5 and 7 months). Here: the dashboard's
flag page, the alerts and the provincial extract name the same deadline (pipelines.evaluation.rules.
REPORT_DEADLINES_SQL) beside the same exit verdict -- the extract gave the stage and no date, nor the sources
not reported -- and the Python fallback the pages use without the mart gives the mart's dates at 5, 6 and 7 months.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from pipelines.evaluation import rules as rules_module
from pipelines.settings import DBT_PROJECT_DIR


@pytest.mark.parametrize(
    ("months", "last_day"), [(5, dt.date(2024, 5, 31)), (6, dt.date(2024, 6, 30)), (7, dt.date(2024, 7, 31))]
)
def test_the_fallback_deadline_follows_the_rules_months(months, last_day, tmp_path, monkeypatch):
    """report_grace_end (the flag page and the alerts without the mart) at 5, 6 and 7 months: the last day of the
    month that many months after the year end, the day the mart's SQL gives (the dbt unit test above)."""
    seed = pl.read_csv(DBT_PROJECT_DIR / "seeds" / "evaluation_rules.csv", infer_schema=False)
    seed = seed.with_columns(
        pl.when((pl.col("rule_code") == "RPT") & (pl.col("param") == "grace_months"))
        .then(pl.lit(str(months)))
        .otherwise(pl.col("value"))
        .alias("value")
    )
    path = tmp_path / "evaluation_rules.csv"
    seed.write_csv(path)
    monkeypatch.setattr(rules_module, "RULES_FILE", path)
    assert rules_module.report_grace_end(2023) == last_day


def test_dashboard_alert_and_extract_name_the_same_exit_and_deadline(sample_snapshot):
    from dashboards.pages.flag import report_deadline
    from dashboards.snapshot import Snapshot
    from pipelines.alerts.conditions import _stage_deadlines
    from pipelines.extracts import year_extract_tables

    snap = Snapshot(sample_snapshot.snapshot)
    with duckdb.connect(str(sample_snapshot.snapshot), read_only=True) as con:
        flagged = con.sql(
            "select unit_code, year, not_reported_sources from marts.fct_evaluation_year where stage = 'not_reported'"
        ).pl()
        assert flagged.height, "the sample has units that did not report within the grace period"
        alert_days = _stage_deadlines(con)
        by_year: dict[int, pl.DataFrame] = {}
        for unit, year, sources in flagged.iter_rows():
            if year not in by_year:
                by_year[year] = year_extract_tables(con, year)["scores"]
            row = by_year[year].filter(pl.col("unit_code") == unit).row(0, named=True)
            # the extract: the exit verdict, its sources and the deadline
            assert row["stage"] == "not_reported" and row["counts_as_exit"] is True, row
            assert row["not_reported_sources"] == sources
            page_day = report_deadline(snap, unit, year)
            assert row["report_grace_end_date"].isoformat() == page_day, (unit, year)
            # the alert's deadline for the same unit and year (None only when every source came in)
            assert alert_days[(unit, year)] == page_day, (unit, year)
            # the deadline is a Beijing day after which the unit's report still counts as not received
            assert dt.date.fromisoformat(page_day) == rules_module.report_grace_end(year)
