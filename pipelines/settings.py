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


def dbt_var(name: str):
    """A var of dbt_project.yml, for Python that must agree with the models (one place: its ``vars``)."""
    import yaml

    return yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))["vars"][name]


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
# What a pipeline dbt build leaves out: dbt's unit tests check the models' SQL on fixed inputs, not a run's data.
# They run with the test suite (tests/test_patents_in_force.py runs every one) and, as dbt recommends, not in
# production runs. Every data test runs and is an asset check.
DBT_PRODUCTION_EXCLUDE = ("--exclude-resource-type", "unit_test")
# dagster-dbt gives every dbt step of every run its own folder under dbt_project/target (≈ 16 MB: manifest,
# compiled SQL, logs). The newest folders of each step are kept for whoever looks into a run; older ones go once
# they are an hour old (a younger one may belong to a run still going).
DBT_STEP_FOLDERS_KEPT = 5
DBT_STEP_FOLDER_MIN_AGE_S = 3600


# A landing file is read only once it has stopped changing for this many seconds: an office's large CSV copied
# onto the share while a run (or the landing sensor's tick) looks at it would otherwise be read cut short and its
# first rows published as the whole file. Neither the copy nor the share tells when a copy is done; a file whose
# size and modification time stay the same for a few seconds is the usual sign (tests set 0: they write and run).
# A run that finds a file changed more recently waits for it (up to LANDING_SETTLE_WAIT_FACTOR times this) rather
# than leave it out: files copied in just before `ipcity run` (or written by `ipcity generate` just before it) are
# read by that run; only a file still changing after the wait is left for the next one, and named.
DEFAULT_LANDING_SETTLE_S = 5.0
LANDING_SETTLE_WAIT_FACTOR = 6


def landing_settle_seconds() -> float:
    raw = os.environ.get("IPCITY_LANDING_SETTLE_S", "").strip()
    if not raw:
        return DEFAULT_LANDING_SETTLE_S
    try:
        return max(float(raw), 0.0)
    except ValueError:
        raise ValueError(f"IPCITY_LANDING_SETTLE_S must be a number of seconds, not {raw!r}") from None


# How many reverse proxies stand between the dashboard's clients and gunicorn, each appending the address it saw to
# X-Forwarded-For: that many entries, counted from the right, are the proxies' word; everything left of them is
# what the client wrote and is never believed. 0 (the default: gunicorn faces the clients) believes none of it.
TRUSTED_PROXIES_ENV = "IPCITY_TRUSTED_PROXIES"
MAX_TRUSTED_PROXIES = 5


def trusted_proxies() -> int:
    """The deployment's trusted proxy count (``IPCITY_TRUSTED_PROXIES``; ``IPCITY_TRUST_PROXY=1``, the older
    switch, means one). ValueError naming the variable for anything but a whole number 0..MAX_TRUSTED_PROXIES."""
    raw = os.environ.get(TRUSTED_PROXIES_ENV, "").strip()
    if not raw:
        return 1 if os.environ.get("IPCITY_TRUST_PROXY", "").strip() == "1" else 0
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_TRUSTED_PROXIES:
        raise ValueError(
            f"{TRUSTED_PROXIES_ENV} 须为 0 到 {MAX_TRUSTED_PROXIES} 的整数（客户端与看板之间的反向代理层数），"
            f"而不是 {raw[:40]!r} · {TRUSTED_PROXIES_ENV} must be a whole number 0..{MAX_TRUSTED_PROXIES} (the "
            f"reverse proxies between the clients and the dashboard), not {raw[:40]!r}"
        )
    return int(raw)


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


# The networks outside the public internet that alert webhooks and robot endpoints may reach (comma-separated CIDR
# blocks, e.g. "10.20.0.0/16,192.168.8.5/32"): an on-premise gateway sits on one. Empty by default, so a routing
# file (edited by operators, a province's among them) cannot point a webhook at the machine's own services or the
# intranet's. It is the deployment's setting, not the routing file's: whoever may edit routes may not widen it.
ALERT_PRIVATE_NETWORKS_ENV = "IPCITY_ALERT_PRIVATE_NETWORKS"


def alert_private_networks() -> tuple:
    """The ``IPCITY_ALERT_PRIVATE_NETWORKS`` blocks as ipaddress networks; ValueError naming the variable and the
    entry for one that is not a network."""
    import ipaddress

    out = []
    for entry in os.environ.get(ALERT_PRIVATE_NETWORKS_ENV, "").replace(";", ",").split(","):
        if not entry.strip():
            continue
        try:
            out.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as e:
            raise ValueError(
                f"{ALERT_PRIVATE_NETWORKS_ENV}: {entry.strip()!r} is not a network (write CIDR blocks such as "
                f"10.20.0.0/16 or 192.168.8.5/32, comma-separated): {e}"
            ) from e
    return tuple(out)


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


# DuckDB's memory per pipeline step. DuckDB keeps what it reads and writes cached up to its memory_limit (80 % of
# RAM by default) and spills to temp_directory beyond it, so the limit is what bounds a step's memory, whatever
# the history holds. Each step gets a share of the machine's RAM, between a floor and a cap; the whole run
# stays within a few GB on a 24 GB machine. IPCITY_DUCKDB_MEMORY sets every step, IPCITY_DUCKDB_MEMORY_<STEP>
# one step (e.g. IPCITY_DUCKDB_MEMORY_INGEST=4GB); IPCITY_DUCKDB_TEMP moves the spill folder.
DUCKDB_STEPS = ("ingest", "checks", "dbt", "publish", "other")
_STEP_RAM_SHARE = {"ingest": 1 / 12, "checks": 1 / 24, "dbt": 1 / 12, "publish": 1 / 24, "other": 1 / 24}
_STEP_MEMORY_FLOOR_MB, _STEP_MEMORY_CAP_MB = 512, 2048


def machine_ram_mb() -> int:
    """Physical memory of the machine in MB (8 GB when the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20))
    except (ValueError, OSError, AttributeError):
        return 8192


def duckdb_memory_limit(step: str = "other") -> str:
    """DuckDB's memory_limit for a pipeline step (see above), e.g. '2048MB'."""
    if step not in DUCKDB_STEPS:
        raise ValueError(f"unknown pipeline step {step!r}: one of {', '.join(DUCKDB_STEPS)}")
    value = os.environ.get(f"IPCITY_DUCKDB_MEMORY_{step.upper()}") or os.environ.get("IPCITY_DUCKDB_MEMORY")
    if value:
        return value.strip()
    share = int(machine_ram_mb() * _STEP_RAM_SHARE[step])
    return f"{min(max(share, _STEP_MEMORY_FLOOR_MB), _STEP_MEMORY_CAP_MB)}MB"


def duckdb_temp_dir(step: str = "other") -> Path:
    """Where DuckDB spills what exceeds the step's memory_limit: <data>/duckdb_tmp/<step>, or IPCITY_DUCKDB_TEMP."""
    root = Path(os.environ.get("IPCITY_DUCKDB_TEMP", data_dir() / "duckdb_tmp")).resolve()
    return root / step


def duckdb_config(step: str = "other") -> dict[str, str]:
    """The connection settings of a step's DuckDB connection (memory limit and spill folder)."""
    return {"memory_limit": duckdb_memory_limit(step), "temp_directory": str(duckdb_temp_dir(step))}


def apply_duckdb_limits(con, step: str = "other") -> None:
    """Set a step's memory limit and spill folder on an open connection. SET, not connect(config=...): DuckDB
    refuses a second connection to a file that is still open in the process (a step's objects not yet garbage
    collected) with a different configuration, and the pipeline's steps run in one process. The spill folder
    cannot move once DuckDB has spilled to it; then the folder in use stays."""
    cfg = duckdb_config(step)
    con.execute("SET memory_limit = ?", [cfg["memory_limit"]])
    # what DuckDB spills there is the warehouse's data: the folder is owner-only, the files are born inside it
    from pipelines.private_files import private_dirs

    spill = Path(cfg["temp_directory"])
    private_dirs(spill.parent, spill.name)
    try:
        con.execute("SET temp_directory = ?", [cfg["temp_directory"]])
    except Exception:  # noqa: BLE001 - a spill folder already in use is kept
        pass
