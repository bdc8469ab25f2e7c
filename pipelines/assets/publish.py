"""The last steps of a run: target alerts, then the dashboard snapshot."""


from pathlib import Path

import dagster as dg

from pipelines.alerts import new_alerts, record_alerts
from pipelines.publish import publish_snapshot
from pipelines.resources import AlertNotifier, Warehouse


def build_publish_assets(upstream: list[dg.AssetsDefinition], raw: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=["quality", "rejections_summary"],
        group_name="quality",
        deps=raw,
        description="Quarantined rows by source and reason, for the data-quality page.",
        kinds={"duckdb"},
    )
    def rejections_summary(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        from pipelines.quality import summarise_rejections

        with warehouse.connect() as con:
            summary = summarise_rejections(con, context.run.run_id)
        return dg.MaterializeResult(metadata={"reasons": summary.height, "rows": int(summary["rows"].sum()) if summary.height else 0})

    @dg.asset(
        key=["marts", "fct_alerts"],
        group_name="evaluation",
        deps=upstream,
        description="目标预警 — cities behind a construction-plan target; each alert is sent once through the notifier.",
        kinds={"duckdb"},
    )
    def target_alerts(context: dg.AssetExecutionContext, warehouse: Warehouse, notifier: AlertNotifier) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            fresh = new_alerts(con)
            alerts = record_alerts(con, fresh)
            total = con.execute("SELECT count(*) FROM marts.fct_alerts").fetchall()[0][0]
        sent = notifier.send(alerts) if alerts else 0
        context.log.info(f"{sent} new target alert(s) sent; {total} in history")
        return dg.MaterializeResult(metadata={"alerts_sent": sent, "alerts_in_history": total})

    @dg.asset(
        key=["published", "snapshot"],
        group_name="publish",
        deps=[*upstream, target_alerts, rejections_summary],
        description="Read-only snapshot for the dashboard, swapped in atomically after a successful run.",
        kinds={"duckdb"},
    )
    def published_snapshot(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        info = publish_snapshot(Path(warehouse.file), run_id=context.run.run_id)
        return dg.MaterializeResult(
            metadata={"published_at": info["published_at"], "tables": len(info["tables"])}
        )

    return [rejections_summary, target_alerts, published_snapshot]
