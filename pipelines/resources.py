"""Resources: the warehouse connection and the alert store."""

from __future__ import annotations

from contextlib import contextmanager

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from pipelines import settings
from pipelines.private_files import private_duckdb


class Warehouse(DuckDBResource):
    """The DuckDB file the pipeline writes (dagster-duckdb's resource). Only the pipeline opens it; the dashboard
    reads the snapshot. An empty ``database`` resolves, at connection time, to IPCITY_WAREHOUSE or
    data/warehouse.duckdb, so one Definitions object serves every warehouse a process points it at."""

    database: str = Field(default="", description="DuckDB file; empty = IPCITY_WAREHOUSE or data/warehouse.duckdb")

    @property
    def file(self) -> str:
        return self.database or str(settings.warehouse_path())

    @contextmanager
    def get_connection(self, step: str = "other"):
        """A connection with the memory limit and spill folder of pipeline ``step`` (ingest, checks, dbt,
        publish, other; settings.duckdb_config): DuckDB keeps what it touches cached up to 80 % of RAM by
        default, the limit bounds each step whatever the history holds (it spills to disk beyond it)."""
        private_duckdb(self.file)  # every city's figures: owner-only (pipelines/private_files.py)
        with DuckDBResource(database=self.file, connection_config=self.connection_config).get_connection() as con:
            settings.apply_duckdb_limits(con, step)
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
