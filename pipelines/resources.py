"""Resources: the warehouse connection and the alert store."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from pipelines import settings


class Warehouse(DuckDBResource):
    """The DuckDB file the pipeline writes (dagster-duckdb's resource). Only the pipeline opens it; the dashboard
    reads the snapshot. An empty ``database`` resolves, at connection time, to IPCITY_WAREHOUSE or
    data/warehouse.duckdb, so one Definitions object serves every warehouse a process points it at."""

    database: str = Field(default="", description="DuckDB file; empty = IPCITY_WAREHOUSE or data/warehouse.duckdb")

    @property
    def file(self) -> str:
        return self.database or str(settings.warehouse_path())

    @contextmanager
    def get_connection(self):
        Path(self.file).parent.mkdir(parents=True, exist_ok=True)
        # DuckDB keeps written blocks cached up to 80 % of RAM by default; cap it so ten years of national
        # data stay within a few GB (it spills to disk beyond the cap). IPCITY_DUCKDB_MEMORY overrides.
        config = {"memory_limit": os.environ.get("IPCITY_DUCKDB_MEMORY", "2GB"), **self.connection_config}
        with DuckDBResource(database=self.file, connection_config=config).get_connection() as con:
            yield con

    # The call sites' older name (other branches in flight use it); same connection.
    connect = get_connection


class Alerting(dg.ConfigurableResource):
    """Where alert state and the delivery ledger live (pipelines/alerts/store.py). Rules and routing come from
    pipelines/alerts/{rules,routing}.yaml or IPCITY_ALERT_RULES / IPCITY_ALERT_ROUTING."""

    store: str = Field(
        default="", description="SQLite alert store; empty = IPCITY_ALERT_STORE or <data>/alerts/alerts.sqlite"
    )

    @property
    def store_file(self) -> str | None:
        return self.store or None
