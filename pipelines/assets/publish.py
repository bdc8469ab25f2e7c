"""The last steps of a run: alerts, then the dashboard snapshot."""

from pathlib import Path

import dagster as dg

from pipelines.counts import count_en
from pipelines.resources import Alerting, Warehouse
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

        with warehouse.get_connection(step="publish") as con:
            summary = summarise_rejections(con, context.run.run_id)
        return dg.MaterializeResult(
            metadata={"reasons": summary.height, "rows": int(summary["rows"].sum()) if summary.height else 0}
        )

    @dg.asset(
        key=["marts", "fct_alerts"],
        group_name="evaluation",
        deps=upstream,
        description="预警 — alert rules (pipelines/alerts/rules.yaml) evaluated after the evaluation build: new "
        "alerts fire, ongoing ones are not re-sent, cleared ones resolve; one digest per recipient (routing.yaml), "
        "delivered with a ledger in the alert store; the history is mirrored here for the snapshot.",
        kinds={"duckdb"},
    )
    def target_alerts(
        context: dg.AssetExecutionContext, warehouse: Warehouse, alerting: Alerting
    ) -> dg.MaterializeResult:
        from pipelines.alerts import evaluate_and_notify, mirror_to_warehouse

        with warehouse.get_connection(step="publish") as con:
            out = evaluate_and_notify(con, run_id=context.run.run_id, path=alerting.store_file)
            total = mirror_to_warehouse(con, path=alerting.store_file)
        per_recipient = {
            f"{m['route']} · {m['channel']} · {m['recipient']}": f"1 digest ({m['firing']} firing, {m['resolved']} resolved) {m['status']}"
            for m in out["messages"]
        }
        context.log.info(
            f"alerts: {out['transitions']}; {count_en(len(out['messages']), 'digest')} to "
            f"{count_en(len(per_recipient), 'recipient')}; "
            f"{total} in history"
        )
        # A bad routing entry is left out, never fails the step (the snapshot below still publishes): it is named
        # here, in the run's log and metadata, and in an alert_routing_refused alert over the routes that remain.
        for problem in out["routing_problems"]:
            context.log.warning(f"alert routing entry left out: {problem}")
        for problem in out.get("routing_warnings", ()):  # used as written, but likely not reaching people as meant
            context.log.warning(f"alert routing entry to check: {problem}")
        return dg.MaterializeResult(
            metadata={
                "transitions": out["transitions"],
                "digests": len(out["messages"]),
                "digests_per_recipient": dg.MetadataValue.json(per_recipient),
                "evaluated_rules": out["evaluated_rules"],
                "alerts_in_history": total,
                "routing_refused": len(out["routing_problems"]),
                "routing_problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in out["routing_problems"]) or "none"),
            }
        )

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

        from pipelines.evaluation.dossier import flagged_unit_years, write_dossiers
        from pipelines.settings import dossier_dir, snapshot_path

        snap = snapshot_path(Path(warehouse.file))
        out = dossier_dir(Path(warehouse.file))
        with duckdb.connect(str(snap), read_only=True) as con:
            flagged = flagged_unit_years(con)
        write_dossiers(snap, flagged, out)
        return dg.MaterializeResult(metadata={"dossiers": len(flagged), "folder": str(out)})

    return [rejections_summary, target_alerts, published_snapshot, evaluation_dossiers]


def build_extract_assets(publish_assets: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    snapshot_asset = next(a for a in publish_assets if a.key == dg.AssetKey(["published", "snapshot"]))

    @dg.asset(
        key=["published", "provincial_extracts"],
        group_name="publish",
        deps=[snapshot_asset],
        description="省级数据包 — for every province and released evaluation year: its cities' indicators, scores, "
        "ranks, groups, stages, target statuses and acceptance scores as CSV, XLSX and Parquet; a new version only "
        "when the content or release changed, with the rows changed since the previous version.",
        kinds={"parquet", "xlsx", "csv"},
    )
    def provincial_extracts(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        from pipelines.extracts import extracts_dir, write_all
        from pipelines.settings import snapshot_path

        new = write_all(snapshot_path(Path(warehouse.file)), extracts_dir(Path(warehouse.file)))
        changed = sum(1 for e in new if e["previous_version"] is not None)
        context.log.info(
            f"{count_en(len(new), 'new extract version')}, {changed:,} with changes since a previous version"
        )
        return dg.MaterializeResult(metadata={"new_versions": len(new), "revised": changed})

    return [provincial_extracts]
