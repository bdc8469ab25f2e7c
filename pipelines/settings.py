"""Where things live. Every component (Dagster, dbt, Dash, CLI, benchmarks) resolves paths here.

One environment variable moves the warehouse: ``IPCITY_WAREHOUSE`` (path of the DuckDB file the pipeline
writes). Everything else that belongs to a run (landing folder, published snapshot, Dagster home, dossiers,
alerts) sits next to it by default, so a test that points ``IPCITY_WAREHOUSE`` at a temp dir is isolated.
``IPCITY_LANDING`` overrides the landing folder alone (for example to ingest from a shared drive).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
REFERENCE_DIR = PROJECT_ROOT / "data" / "reference"
DEFAULT_WAREHOUSE = PROJECT_ROOT / "data" / "warehouse.duckdb"

# The evaluation window the sample data and the catalog cover by default.
DEFAULT_FIRST_YEAR = 2016
DEFAULT_LAST_YEAR = 2025
# Patent grants are generated back to this year so that patents in force at the end of the first
# evaluation year include the stock granted before it.
HISTORY_FIRST_YEAR = 2010


# dbt selectors of the evaluation step: the evaluation intermediates, the evaluation marts and the marts built on
# them (the province roll-up reads stages and verdicts). Everything else is built before the Monte Carlo step,
# these after it (the evaluation intermediates read the Monte Carlo rank intervals).
DBT_EVALUATION_SELECTORS = (
    "path:models/intermediate/evaluation",
    "path:models/marts/evaluation",
    "path:models/marts/province",
)


def warehouse_path() -> Path:
    return Path(os.environ.get("IPCITY_WAREHOUSE", DEFAULT_WAREHOUSE)).resolve()


def data_dir() -> Path:
    return warehouse_path().parent


def landing_dir() -> Path:
    return Path(os.environ.get("IPCITY_LANDING", data_dir() / "landing")).resolve()


def snapshot_path(warehouse: Path | None = None) -> Path:
    """Read-only copy of the warehouse that the dashboard reads; swapped in atomically by `publish`."""
    wh = Path(warehouse) if warehouse else warehouse_path()
    return wh.parent / "published" / (wh.stem + ".snapshot.duckdb")


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME", data_dir() / "dagster_home")).resolve()


def dossier_dir(warehouse: Path | None = None) -> Path:
    return (Path(warehouse).parent if warehouse else data_dir()) / "dossiers"


def alerts_dir() -> Path:
    return data_dir() / "alerts"


# The engines the dbt steps can run on: DuckDB in the warehouse file (default), or Spark (dbt-spark) over the
# Parquet lake, its marts read back by the Python steps through DuckDB views (docs/scale_out.md).
ENGINES = ("duckdb", "spark")


def engine() -> str:
    """The engine of the dbt steps: IPCITY_ENGINE (`ipcity run --engine` sets it), default duckdb."""
    name = os.environ.get("IPCITY_ENGINE", "duckdb").strip().lower() or "duckdb"
    if name not in ENGINES:
        raise ValueError(f"IPCITY_ENGINE={name!r}: the engine must be one of {', '.join(ENGINES)}")
    return name


def lake_dir() -> Path:
    """The raw layer as Parquet, partitioned by source and year (pipelines/lake.py); IPCITY_LAKE moves it."""
    return Path(os.environ.get("IPCITY_LAKE", data_dir() / "lake")).resolve()


def spark_dir() -> Path:
    """Spark's local metastore and warehouse (the marts it builds) for the `spark` dbt target; IPCITY_SPARK_DIR."""
    return Path(os.environ.get("IPCITY_SPARK_DIR", data_dir() / "spark")).resolve()
