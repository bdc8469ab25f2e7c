"""Resources: the warehouse connection and where alerts go."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from datetime import datetime
from email.message import EmailMessage
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


class RecordingAlertNotifier(AlertNotifier):
    """Test double: keeps alerts in memory instead of writing to the outbox."""

    def send(self, alerts: list[dict]) -> int:
        _RECORDED.extend(alerts)
        return len(alerts)


_RECORDED: list[dict] = []


def recorded_alerts() -> list[dict]:
    return _RECORDED
