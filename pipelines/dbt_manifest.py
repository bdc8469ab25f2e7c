"""The dbt project's manifest: whether it must be parsed again, and the parse, here or beside this process.

dagster-dbt defines the dbt assets from the manifest, so importing `pipelines.definitions` parses the project
when the manifest is missing or older than its sources (a fresh checkout, an edit): ≈ 9-10 s of dbt. `ipcity
run` needs the definitions only once it has planned, and planning (reading every pending file for its data
year) is as long again, so the launcher starts the parse as a second process first (`start_parse`), plans
meanwhile and imports the definitions after (`finish_parse`): on two cores the two overlap instead of adding
up. Nothing here imports dagster-dbt or dbt, so the launcher can call it before either is loaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipelines import settings

# dagster-dbt's DbtProject(project_dir=...).manifest_path (its target path defaults to "target");
# tests/test_dbt_project.py checks that the two agree.
MANIFEST = settings.DBT_PROJECT_DIR / "target" / "manifest.json"


def newest_source_mtime(root: Path) -> float:
    newest = 0.0
    for sub in ("models", "seeds", "macros", "tests", "snapshots"):
        for p in (root / sub).rglob("*"):
            if p.is_file():
                newest = max(newest, p.stat().st_mtime)
    for name in ("dbt_project.yml", "profiles.yml"):
        if (root / name).exists():
            newest = max(newest, (root / name).stat().st_mtime)
    return newest


def is_stale() -> bool:
    """The manifest is missing or older than one of the project's sources."""
    return not MANIFEST.exists() or MANIFEST.stat().st_mtime < newest_source_mtime(settings.DBT_PROJECT_DIR)


def dbt_environment(warehouse_file: str) -> dict[str, str]:
    """What profiles.yml reads from the environment for a pipeline dbt step: the warehouse, and DuckDB's memory
    limit and spill folder for the dbt step (settings.duckdb_config)."""
    dbt_duckdb = settings.duckdb_config("dbt")
    return {
        "IPCITY_WAREHOUSE": warehouse_file,
        "IPCITY_DBT_MEMORY_LIMIT": dbt_duckdb["memory_limit"],
        "IPCITY_DBT_TEMP_DIR": dbt_duckdb["temp_directory"],
    }


def parse_args() -> list[str]:
    project = str(settings.DBT_PROJECT_DIR)
    return ["parse", "--quiet", "--project-dir", project, "--profiles-dir", project]


def parse_environment() -> dict[str, str]:
    """The parse sees the environment the pipeline's dbt steps will give dbt (`dbt_environment` of the default
    warehouse): dbt keeps its parse state only while the rendered profile stays the same, so a parse under any
    other environment made the first dbt step of a fresh checkout parse the whole project again (≈ 8 s)."""
    return dbt_environment(str(settings.warehouse_path()))


def start_parse() -> subprocess.Popen | None:
    """A `dbt parse` in a second process when the manifest is stale, else None. Its output is kept for
    `finish_parse`; the environment's own dbt-core runs it (no PATH lookup, no version check), as the dbt steps
    run theirs (pipelines/supervised.py): it dies with this process, and its collector leaves dbt's import heap
    alone (pipelines/heap.py; ≈ 0.6-1 s of a full parse's ≈ 6 s of CPU, which a fresh checkout's run waits for)."""
    if not is_stale():
        return None
    from pipelines.supervised import supervisor_environment

    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.supervised", "dbt", *parse_args()],
        env={**os.environ, **parse_environment(), **supervisor_environment()},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish_parse(proc: subprocess.Popen | None) -> None:
    """Wait for `start_parse`'s process. When it failed, nothing is raised here: importing the definitions
    parses again in this process (`pipelines.assets.dbt.ensure_manifest`), which names dbt's error."""
    if proc is None:
        return
    proc.communicate()
