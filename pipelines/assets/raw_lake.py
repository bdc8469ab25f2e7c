"""The raw layer in an open format, written after ingestion (pipelines/lake.py): Parquet by source and year."""

from pathlib import Path

import dagster as dg

from pipelines.assets.raw import RAW_ASSETS
from pipelines.resources import Warehouse


@dg.asset(
    key=["lake", "raw"],
    group_name="raw",
    deps=RAW_ASSETS,
    description="湖仓原始层 — every raw table and the ingestion ledger as Parquet, partitioned by source and year "
    "(<data>/lake/raw/<source>/year=<yyyy>/), for engines that read open formats (Spark: docs/scale_out.md). "
    "The DuckDB loader and its ledger stay the one owner of what is loaded; a source is rewritten only when its "
    "ledger changed.",
    kinds={"parquet"},
)
def raw_lake(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    import os

    from pipelines import settings
    from pipelines.lake import export_raw

    lake = settings.lake_dir() if os.environ.get("IPCITY_LAKE") else Path(warehouse.file).parent / "lake"
    with warehouse.connect() as con:
        out = export_raw(con, lake)
    written = sorted(k for k, v in out.items() if v == "written")
    context.log.info(f"lake {lake}: written {written or 'nothing (unchanged)'}")
    return dg.MaterializeResult(metadata={"folder": str(lake), "written": ", ".join(written) or "-"})


LAKE_ASSETS = [raw_lake]
