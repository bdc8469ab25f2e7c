"""Resources: the warehouse connection and the alert store."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import Field

from pipelines import settings


class Warehouse(dg.ConfigurableResource):
    """The DuckDB file the pipeline writes. Only the pipeline opens it; the dashboard reads the snapshot."""

    path: str = Field(default="", description="DuckDB file; empty = IPCITY_WAREHOUSE or data/warehouse.duckdb")

    @property
    def file(self) -> str:
        return self.path or str(settings.warehouse_path())

    @contextmanager
    def connect(self):
        Path(self.file).parent.mkdir(parents=True, exist_ok=True)
        # DuckDB keeps written blocks cached up to 80 % of RAM by default; cap it so ten years of national
        # data stay within a few GB (it spills to disk beyond the cap). IPCITY_DUCKDB_MEMORY overrides.
        con = duckdb.connect(self.file, config={"memory_limit": os.environ.get("IPCITY_DUCKDB_MEMORY", "2GB")})
        try:
            yield con
        finally:
            con.close()


class Alerting(dg.ConfigurableResource):
    """Where alert state and the delivery ledger live (pipelines/alerts/store.py). Rules and routing come from
    pipelines/alerts/{rules,routing}.yaml or IPCITY_ALERT_RULES / IPCITY_ALERT_ROUTING."""

    store: str = Field(
        default="", description="SQLite alert store; empty = IPCITY_ALERT_STORE or <data>/alerts/alerts.sqlite"
    )

    @property
    def store_file(self) -> str | None:
        return self.store or None
