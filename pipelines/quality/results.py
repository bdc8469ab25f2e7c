"""Quality results in the warehouse (schema `quality`): check results, rejection summaries, latest report.

quality.check_results holds both engines' checks in one schema: Great Expectations' expectations (engine `gx`,
pipelines/assets/checks.py) and dbt's data tests (engine `dbt`, from each dbt step's run_results.json,
pipelines/assets/dbt.py), so "what failed in last night's run, where, how many rows, is it blocking" has one
answer: ``latest_report`` for the latest result of every check, ``check_history`` for the same check across runs.
"""

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
  expectation VARCHAR,
  engine VARCHAR DEFAULT 'gx',
  column_names VARCHAR,
  rule VARCHAR,
  failing_rows BIGINT
)"""

# Columns added after the table was first published (a warehouse created before them gets them on its next write).
# engine: which checked it ("gx" Great Expectations, "dbt" a dbt data test); column_names: the column(s) it reads
# or that failed; rule: the expectation type or dbt test (column_rules: the failing rules); failing_rows: the rows
# that failed it (GX's unexpected count, dbt's failure count).
CHECK_RESULTS_ADDED = {
    "engine": "VARCHAR DEFAULT 'gx'",
    "column_names": "VARCHAR",
    "rule": "VARCHAR",
    "failing_rows": "BIGINT",
}
CHECK_RESULTS_COLUMNS = (
    "run_id",
    "checked_at",
    "check_name",
    "asset",
    '"partition"',
    "severity",
    "passed",
    "observed_value",
    "failing_sample",
    "expectation",
    *CHECK_RESULTS_ADDED,
)
# The rows' types, in CHECK_RESULTS_COLUMNS order (JSON travels as text and is cast on insert).
_CHECK_RESULTS_TYPES = {
    "run_id": pl.String,
    "checked_at": pl.Datetime("us"),
    "check_name": pl.String,
    "asset": pl.String,
    "partition": pl.String,
    "severity": pl.String,
    "passed": pl.Boolean,
    "observed_value": pl.String,
    "failing_sample": pl.String,
    "expectation": pl.String,
    "engine": pl.String,
    "column_names": pl.String,
    "rule": pl.String,
    "failing_rows": pl.Int64,
}


def _insert_checks(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    """Insert rows in CHECK_RESULTS_COLUMNS order as ONE statement over an Arrow frame: executemany runs one
    statement per row (≈ 0.7 ms each, ~50 ms for a dbt step's ~75 tests, measured in bench/bench_dbt_test_results.py)."""
    frame = pl.DataFrame(rows, schema=_CHECK_RESULTS_TYPES, orient="row")  # noqa: F841 - DuckDB reads it by name
    names = ", ".join(CHECK_RESULTS_COLUMNS)
    con.execute(f"INSERT INTO quality.check_results ({names}) SELECT {names} FROM frame")


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
    have = {r[0] for r in con.execute(CHECK_RESULTS_COLUMNS_SQL).fetchall()}
    for column, kind in CHECK_RESULTS_ADDED.items():
        if column not in have:  # a warehouse from before the column: existing rows are GX's (the default)
            con.execute(f"ALTER TABLE quality.check_results ADD COLUMN {column} {kind}")


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
            "gx",
            r.column,
            r.expectation_type,
            r.unexpected_count,
        )
        for r in result.results
    ]
    con.execute("BEGIN TRANSACTION")
    try:
        if rows:
            con.execute(
                "DELETE FROM quality.check_results WHERE run_id = ? AND asset = ? "
                "AND engine = 'gx' AND \"partition\" IS NOT DISTINCT FROM ? AND check_name IN (SELECT unnest(?))",
                [run_id, asset, result.partition, [r[2] for r in rows]],
            )
            _insert_checks(con, rows)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(rows)


def record_dbt_results(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> int:
    """Write a dbt step's test results (pipelines/quality/dbt_results.dbt_test_rows) to quality.check_results.

    Idempotent per run: the step's tests recorded earlier for the same run (a retried step) are replaced, not
    counted twice; the other dbt step's tests of the run stay."""
    if not rows:
        return 0
    ensure_quality_schema(con)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "DELETE FROM quality.check_results WHERE run_id = ? AND engine = 'dbt' AND check_name IN (SELECT unnest(?))",
            [rows[0][0], sorted({r[2] for r in rows})],
        )
        _insert_checks(con, rows)
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


def _has_check_results(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'quality' AND table_name = 'check_results'"
        ).fetchall()[0][0]
    )


CHECK_RESULTS_COLUMNS_SQL = (
    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'quality' AND table_name = 'check_results'"
)


def check_results_select(have: set[str], table: str = "quality.check_results") -> str:
    """quality.check_results with every column this code reads, given the columns it ``have`` (the names
    CHECK_RESULTS_COLUMNS_SQL returns): a store or published snapshot written before dbt's results were recorded
    has no engine, column_names, rule or failing_rows, and its rows are all GX's. ``table``: where they are read
    (the dashboard names a failed run's quality snapshot, dashboards/queries.py)."""
    defaults = {"engine": "'gx'", "column_names": "NULL", "rule": "NULL", "failing_rows": "NULL"}
    extra = ", ".join(
        c if c in have else f"CAST({d} AS {'BIGINT' if c == 'failing_rows' else 'VARCHAR'}) AS {c}"
        for c, d in defaults.items()
    )
    base = ", ".join(c for c in CHECK_RESULTS_COLUMNS if c.strip('"') not in defaults)
    return f"SELECT {base}, {extra} FROM {table}"


def _select(con: duckdb.DuckDBPyConnection) -> str:
    return check_results_select({r[0] for r in con.execute(CHECK_RESULTS_COLUMNS_SQL).fetchall()})


def latest_report(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The latest result of every check per engine, asset and partition (what `ipcity quality` prints): GX's
    expectations and dbt's data tests alike.

    Ordered blocking failures first, then warnings, then passes. Works on a read-only connection (the
    snapshot or a warehouse opened for reading): no results yet gives an empty frame.
    """
    if not _has_check_results(con):
        return pl.DataFrame()
    return query_pl(
        con,
        f"""
        WITH ranked AS (
          SELECT *, row_number() OVER (
                   PARTITION BY engine, check_name, asset, "partition"
                   ORDER BY checked_at DESC NULLS LAST, run_id DESC NULLS LAST) AS rn
          FROM ({_select(con)}) AS results
        )
        SELECT run_id, checked_at, engine, asset, "partition", check_name, severity, passed, column_names, rule,
               failing_rows, observed_value, failing_sample, expectation
        FROM ranked
        WHERE rn = 1
        ORDER BY passed, CASE severity WHEN 'error' THEN 0 ELSE 1 END, engine, asset, "partition" NULLS LAST,
                 check_name
        """,
    )


# The same check across the last runs (a run being one run id): did it pass, fail, or not run, and since when has
# it failed. A check failing in a run is any of its partitions failing. trend: new_failure (fails in the run, passed
# or did not run in the one before), still_failing, recovered (passes, failed the run before), passing.
HISTORY_SQL = """
WITH per_run AS (
  SELECT engine, asset, check_name, run_id,
         max(checked_at) AS checked_at,
         bool_and(passed) AS passed,
         max(CASE WHEN passed THEN 0 ELSE 1 END * CASE severity WHEN 'error' THEN 2 ELSE 1 END) AS failed_level,
         sum(CASE WHEN passed THEN 0 ELSE coalesce(failing_rows, 0) END) AS failing_rows,
         -- what the check reads and judges, to say it in words (one value per check and run but for a failed
         -- column_rules test's failing columns, of which any run's own are right)
         max(column_names) AS column_names, max(rule) AS rule, max(expectation) AS expectation
  FROM ({results}) AS results
  GROUP BY engine, asset, check_name, run_id
),
runs AS (
  SELECT run_id, max(checked_at) AS run_at,
         row_number() OVER (ORDER BY max(checked_at) DESC NULLS LAST, run_id DESC) AS run_no
  FROM per_run GROUP BY run_id
),
recent AS (
  SELECT p.*, r.run_at, r.run_no FROM per_run AS p JOIN runs AS r ON p.run_id = r.run_id WHERE r.run_no <= ?
),
ordered AS (
  SELECT *,
         lag(passed) OVER (PARTITION BY engine, asset, check_name ORDER BY run_no DESC) AS passed_before,
         lag(run_no) OVER (PARTITION BY engine, asset, check_name ORDER BY run_no DESC) AS run_no_before,
         -- a streak: the runs since the check last changed between passing and failing
         sum(CASE WHEN passed THEN 1 ELSE 0 END) OVER (
           PARTITION BY engine, asset, check_name ORDER BY run_no
           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS passes_since_latest
  FROM recent
),
latest AS (
  SELECT * FROM ordered
  WHERE run_no = (SELECT min(o.run_no) FROM ordered AS o
                  WHERE o.engine = ordered.engine AND o.asset = ordered.asset AND o.check_name = ordered.check_name)
)
SELECT l.engine, l.asset, l.check_name, l.run_id, l.run_at, l.run_no, l.passed, l.failing_rows,
       l.column_names, l.rule, l.expectation,
       CASE WHEN l.failed_level = 2 THEN 'error' WHEN l.failed_level = 1 THEN 'warn' END AS failed_severity,
       CASE
         WHEN NOT l.passed AND (l.passed_before IS NULL OR l.passed_before OR l.run_no_before > l.run_no + 1)
           THEN 'check_new_failure'
         WHEN NOT l.passed THEN 'check_still_failing'
         WHEN l.passed_before IS NOT NULL AND NOT l.passed_before AND l.run_no_before = l.run_no + 1
           THEN 'check_recovered'
         ELSE 'check_passing'
       END AS trend,
       (SELECT min(o.run_at) FROM ordered AS o
        WHERE o.engine = l.engine AND o.asset = l.asset AND o.check_name = l.check_name
          AND NOT o.passed AND o.passes_since_latest = 0) AS failing_since,
       (SELECT string_agg(CASE WHEN o.passed THEN '✔' ELSE '✘' END, '' ORDER BY o.run_no DESC)
        FROM ordered AS o
        WHERE o.engine = l.engine AND o.asset = l.asset AND o.check_name = l.check_name) AS runs_oldest_first,
       (SELECT count(*) FROM ordered AS o
        WHERE o.engine = l.engine AND o.asset = l.asset AND o.check_name = l.check_name AND NOT o.passed) AS runs_failed,
       (SELECT count(*) FROM ordered AS o
        WHERE o.engine = l.engine AND o.asset = l.asset AND o.check_name = l.check_name) AS runs_checked
FROM latest AS l
WHERE l.run_no = 1 OR NOT l.passed
ORDER BY CASE
           WHEN NOT l.passed AND (l.passed_before IS NULL OR l.passed_before OR l.run_no_before > l.run_no + 1) THEN 0
           WHEN NOT l.passed THEN 1
           WHEN l.passed_before IS NOT NULL AND NOT l.passed_before AND l.run_no_before = l.run_no + 1 THEN 2
           ELSE 3
         END,
         l.failed_level DESC NULLS LAST, l.engine, l.asset, l.check_name
"""
HISTORY_RUNS = 10


def check_history(con: duckdb.DuckDBPyConnection, runs: int = HISTORY_RUNS) -> pl.DataFrame:
    """Every check of the latest run (and any still failing from an earlier one) across the last ``runs`` runs:
    its trend in the latest run (newly failing, still failing, recovered, passing), since when it fails, and its
    result in each run, oldest first. Works on the warehouse and on a published snapshot alike."""
    if not _has_check_results(con):
        return pl.DataFrame()
    return query_pl(con, HISTORY_SQL.format(results=_select(con)), [int(runs)])
