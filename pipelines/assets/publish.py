"""The last steps of a run: target alerts, then the dashboard snapshot."""

from pathlib import Path

import dagster as dg

from pipelines.alerts import new_alerts, record_alerts
from pipelines.resources import AlertNotifier, Warehouse
from pipelines.snapshot_writer import publish_snapshot


def build_publish_assets(
    upstream: list[dg.AssetsDefinition], raw: list[dg.AssetsDefinition]
) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=["quality", "rejections_summary"],
        group_name="quality",
        deps=raw,
        description="Quarantined rows by source and reason, for the data-quality page.",
        kinds={"duckdb"},
    )
    def rejections_summary(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        from pipelines.quality import summarise_rejections

        with warehouse.get_connection() as con:
            summary = summarise_rejections(con, context.run.run_id)
        return dg.MaterializeResult(
            metadata={"reasons": summary.height, "rows": int(summary["rows"].sum()) if summary.height else 0}
        )

    @dg.asset(
        key=["marts", "fct_alerts"],
        group_name="evaluation",
        deps=upstream,
        description="目标预警 — cities behind a construction-plan target; each alert is sent once through the notifier.",
        kinds={"duckdb"},
    )
    def target_alerts(
        context: dg.AssetExecutionContext, warehouse: Warehouse, notifier: AlertNotifier
    ) -> dg.MaterializeResult:
        with warehouse.get_connection() as con:
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
        return dg.MaterializeResult(metadata={"published_at": info["published_at"], "tables": len(info["tables"])})

    @dg.asset(
        key=["published", "dossiers"],
        group_name="publish",
        deps=[published_snapshot],
        description="证据档案 — an evidence dossier (Markdown + HTML) for every city flagged in any evaluated year, "
        "written from the published snapshot so it shows exactly what the dashboard shows.",
        kinds={"html"},
    )
    def evaluation_dossiers(warehouse: Warehouse) -> dg.MaterializeResult:
        import duckdb

        from pipelines.evaluation.dossier import write_dossier
        from pipelines.settings import dossier_dir, snapshot_path

        snap = snapshot_path(Path(warehouse.file))
        out = dossier_dir(Path(warehouse.file))
        with duckdb.connect(str(snap), read_only=True) as con:
            flagged = con.execute(
                "SELECT unit_code, year FROM marts.fct_evaluation_year "
                "WHERE stage IN ('watch', 'rectification', 'exit_candidate') ORDER BY year, unit_code"
            ).fetchall()
        for unit, year in flagged:
            write_dossier(snap, unit, year, out)
        return dg.MaterializeResult(metadata={"dossiers": len(flagged), "folder": str(out)})

    return [rejections_summary, target_alerts, published_snapshot, evaluation_dossiers]
