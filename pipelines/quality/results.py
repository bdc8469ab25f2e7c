"""Quality results in the warehouse (schema `quality`): check results, rejection summaries, latest report."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

    from pipelines.quality.runner import SuiteResult

CHECK_RESULTS_DDL = """
CREATE TABLE IF NOT EXISTS quality.check_results (
  run_id VARCHAR NOT NULL,
  checked_at TIMESTAMP NOT NULL,
  check_name VARCHAR NOT NULL,
  asset VARCHAR NOT NULL,
  "partition" VARCHAR,
  severity VARCHAR NOT NULL,
  passed BOOLEAN NOT NULL,
  observed_value VARCHAR,
  failing_sample JSON,
  expectation VARCHAR
)"""

REJECTIONS_SUMMARY_DDL = """
CREATE TABLE IF NOT EXISTS quality.rejections_summary (
  run_id VARCHAR NOT NULL,
  source VARCHAR NOT NULL,
  reason_code VARCHAR NOT NULL,
  reason VARCHAR,
  rows BIGINT NOT NULL
)"""


def query_pl(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    """A query result as polars (DuckDB 2 offers .pl() on relations only, not on executed statements)."""
    return con.sql(sql, params=params or None).pl()


def ensure_quality_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS quality")
    con.execute(CHECK_RESULTS_DDL)
    con.execute(REJECTIONS_SUMMARY_DDL)


def _dumps(value) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


def record_results(con: duckdb.DuckDBPyConnection, run_id: str, asset: str, result: SuiteResult) -> int:
    """Append one row per expectation of ``result`` to quality.check_results; returns rows written.

    Writing the same run, asset, partition and suite again replaces the earlier rows (a retried step
    must not count its checks twice).
    """
    ensure_quality_schema(con)
    rows = [
        (
            run_id,
            result.checked_at,
            r.check_name,
            asset,
            result.partition,
            r.severity,
            r.passed,
            _dumps(r.observed_value),
            _dumps(r.failing_sample),
            _dumps(r.expectation),
        )
        for r in result.results
    ]
    con.execute("BEGIN TRANSACTION")
    try:
        if rows:
            con.execute(
                "DELETE FROM quality.check_results WHERE run_id = ? AND asset = ? "
                'AND "partition" IS NOT DISTINCT FROM ? AND check_name IN (SELECT unnest(?))',
                [run_id, asset, result.partition, [r[2] for r in rows]],
            )
            con.executemany("INSERT INTO quality.check_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(rows)


# Rejected rows by source and reason code, as raw.rejected_rows holds them now (see summarise_rejections).
REASONS_SQL = """
WITH reasons AS (
  SELECT source, trim(unnest(string_split(coalesce(reason, 'no reason given'), '; '))) AS reason
  FROM raw.rejected_rows
)
SELECT source,
       trim(CASE WHEN strpos(reason, ':') > 0 THEN substr(reason, 1, strpos(reason, ':') - 1)
                 ELSE reason END) AS reason_code,
       min(reason) AS reason,
       count(*) AS rows
FROM reasons
WHERE reason <> ''
GROUP BY source, reason_code
"""


def current_rejections(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Quarantined rows by source and reason code as the raw layer holds them now: a file re-sent with its rows
    corrected has none left, whatever the last run's summary recorded."""
    return query_pl(con, f"SELECT * FROM ({REASONS_SQL}) ORDER BY rows DESC, source, reason_code")


def summarise_rejections(con: duckdb.DuckDBPyConnection, run_id: str) -> pl.DataFrame:
    """Count raw.rejected_rows by source and reason code into quality.rejections_summary for ``run_id``.

    A rejected row may carry several reasons joined by "; " ("negative value in registrations: -5;
    unknown region code in city_code: '999999'"); each reason is counted, so a row can appear under two
    codes. The reason code is the text before the first ':' ("negative value in registrations"), and
    ``reason`` keeps one full example for the reader.
    """
    ensure_quality_schema(con)
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw' AND table_name = 'rejected_rows'"
    ).fetchall()[0][0]  # fetch all: DuckDB 2 keeps an unfinished result open
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM quality.rejections_summary WHERE run_id = ?", [run_id])
        if exists:
            con.execute(f"INSERT INTO quality.rejections_summary SELECT ?, * FROM ({REASONS_SQL})", [run_id])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return query_pl(
        con,
        "SELECT source, reason_code, reason, rows FROM quality.rejections_summary WHERE run_id = ? "
        "ORDER BY source NULLS LAST, rows DESC NULLS LAST, reason_code NULLS LAST",
        [run_id],
    )


def latest_report(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The latest result of every check per asset and partition (what `ipcity quality` prints).

    Ordered blocking failures first, then warnings, then passes. Works on a read-only connection (the
    snapshot or a warehouse opened for reading): no results yet gives an empty frame.
    """
    present = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'quality' AND table_name = 'check_results'"
    ).fetchall()[0][0]
    if not present:
        return pl.DataFrame()
    return query_pl(
        con,
        """
        WITH ranked AS (
          SELECT *, row_number() OVER (
                   PARTITION BY check_name, asset, "partition"
                   ORDER BY checked_at DESC NULLS LAST, run_id DESC NULLS LAST) AS rn
          FROM quality.check_results
        )
        SELECT run_id, checked_at, asset, "partition", check_name, severity, passed,
               observed_value, failing_sample, expectation
        FROM ranked
        WHERE rn = 1
        ORDER BY passed, CASE severity WHEN 'error' THEN 0 ELSE 1 END, asset, "partition" NULLS LAST, check_name
        """,
    )
