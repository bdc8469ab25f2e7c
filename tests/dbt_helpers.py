"""Run the real dbt project on a small warehouse in a separate process and read what it reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pipelines.settings import DBT_PROJECT_DIR

DBT = Path(sys.executable).parent / "dbt"


def dbt(command: list[str], warehouse: Path, work: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """``dbt <command>`` on ``warehouse`` (``env``: more environment variables); returns {unique_id: status}
    from run_results.json. A separate process, so no DuckDB handle of dbt's stays open in the test process."""
    env = {**os.environ, "IPCITY_WAREHOUSE": str(warehouse), **(env or {})}
    res = subprocess.run(
        [
            str(DBT),
            *command,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=DBT_PROJECT_DIR,
    )
    results_file = work / "target" / "run_results.json"
    if not results_file.exists():
        raise RuntimeError(f"dbt {' '.join(command)} did not run:\n{res.stdout[-4000:]}\n{res.stderr[-2000:]}")
    results = json.loads(results_file.read_text(encoding="utf-8"))["results"]
    statuses = {r["unique_id"]: r["status"] for r in results}
    statuses["__output__"] = res.stdout[-6000:]
    return statuses


def unit_test_results(statuses: dict[str, str]) -> dict[str, str]:
    """{model::test_name: status} of the unit tests in a run."""
    out = {}
    for uid, status in statuses.items():
        if uid.startswith("unit_test."):
            _, _, model, name = uid.split(".", 3)
            out[f"{model}::{name}"] = status
    return out
