"""Resources: the warehouse connection and where alerts go."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from datetime import datetime
from email.message import EmailMessage
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


class AlertNotifier(dg.ConfigurableResource):
    """Sends target alerts. Writes each alert as an e-mail message into an outbox folder that the office's
    mail relay picks up (no mail server is reachable from the pipeline host), plus a JSON-lines log.
    """

    outbox_dir: str = Field(default="", description="folder for outgoing messages; empty = <data>/alerts/outbox")
    sender: str = "ipcity-monitor@localhost"

    def send(self, alerts: list[dict]) -> int:
        out = Path(self.outbox_dir or settings.alerts_dir() / "outbox")
        out.mkdir(parents=True, exist_ok=True)
        log = out.parent / "alerts.jsonl"
        with open(log, "a", encoding="utf-8") as f:
            for a in alerts:
                msg = EmailMessage()
                msg["From"] = self.sender
                msg["To"] = a.get("recipient", "province-office@localhost")
                msg["Subject"] = a["subject"]
                msg.set_content(a["body"])
                name = f"{a['unit_code']}_{a['year']}_{a['alert_type']}_{a.get('indicator_code', 'all')}.eml"
                (out / name).write_bytes(bytes(msg))
                f.write(
                    json.dumps({**a, "sent_at": datetime.now().isoformat(timespec="seconds")}, ensure_ascii=False)
                    + "\n"
                )
        return len(alerts)
