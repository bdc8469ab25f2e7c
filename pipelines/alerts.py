"""Target alerts: a programme city that falls behind one of its construction-plan targets.

An alert is raised once per (city, plan, indicator, evaluated year, status); the history is kept in
`marts.fct_alerts` so the dashboard can show it and a re-run never sends the same alert twice.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl

from pipelines.labels import label_text

BEHIND = ("limited_progress", "deteriorating")

ALERTS_DDL = """
CREATE TABLE IF NOT EXISTS marts.fct_alerts (
  unit_code VARCHAR, unit_name VARCHAR, province_code VARCHAR, year INTEGER, plan_id VARCHAR,
  indicator_code VARCHAR, alert_type VARCHAR, status VARCHAR, progress_index DOUBLE,
  message VARCHAR, created_at TIMESTAMP
)"""


def candidate_alerts(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Targets whose latest status says the city is behind, for active programme units."""
    return con.sql(
        """
        SELECT t.unit_code, c.unit_name, c.province_code, t.current_year AS year, t.plan_id, t.indicator_code,
               'behind_target' AS alert_type, t.status, t.progress_index,
               i.name_zh AS indicator_name_zh, t.current_value, t.target_value, t.target_year
        FROM marts.fct_target_status t
        JOIN marts.dim_city c ON c.unit_code = t.unit_code
        LEFT JOIN (SELECT DISTINCT indicator_code, name_zh FROM marts.dim_indicator) i ON i.indicator_code = t.indicator_code
        WHERE t.status IN ('limited_progress', 'deteriorating')
          AND c.is_programme AND coalesce(c.programme_status, 'active') <> 'withdrawn'
        ORDER BY t.unit_code, t.plan_id, t.indicator_code
        """
    ).pl()


def new_alerts(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute(ALERTS_DDL)
    cand = candidate_alerts(con)
    if cand.height == 0:
        return cand
    sent = con.sql("SELECT unit_code, plan_id, indicator_code, year, status FROM marts.fct_alerts").pl()
    return cand.join(sent, on=["unit_code", "plan_id", "indicator_code", "year", "status"], how="anti")


def _num(x, fmt: str = ".4g") -> str:
    return "—" if x is None else format(x, fmt)


def message_for(row: dict) -> tuple[str, str]:
    status_zh = label_text(row["status"])
    subject = f"【目标预警】{row['unit_name']} {row['indicator_name_zh'] or row['indicator_code']} {status_zh}"
    body = (
        f"{row['unit_name']}（{row['unit_code']}）建设方案 {row['plan_id']} 的指标 "
        f"{row['indicator_name_zh'] or ''}（{row['indicator_code']}）在 {row['year']} 年评价为“{status_zh}”：\n"
        f"当前值 {_num(row['current_value'])}，{row['target_year']} 年目标值 {_num(row['target_value'])}，"
        f"目标完成度指数 {_num(row['progress_index'], '.2f')}。\n\n"
        f"Target alert: {row['unit_code']} {row['indicator_code']} is '{row['status']}' in {row['year']} "
        f"(current {_num(row['current_value'])}, target {_num(row['target_value'])} by {row['target_year']})."
    )
    return subject, body


def record_alerts(con: duckdb.DuckDBPyConnection, alerts: pl.DataFrame) -> list[dict]:
    now = datetime.now()
    out = []
    for row in alerts.iter_rows(named=True):
        subject, body = message_for(row)
        out.append({**row, "subject": subject, "body": body})
    if out:
        frame = alerts.select(
            "unit_code",
            "unit_name",
            "province_code",
            pl.col("year").cast(pl.Int32),
            "plan_id",
            "indicator_code",
            "alert_type",
            "status",
            "progress_index",
            pl.Series("message", [a["subject"] for a in out]),
            pl.lit(now).alias("created_at"),
        )
        con.register("__alerts", frame.to_arrow())
        con.execute("INSERT INTO marts.fct_alerts BY NAME SELECT * FROM __alerts")
        con.unregister("__alerts")
    return out
