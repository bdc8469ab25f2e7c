"""The dbt build on Spark (local[2]) beside the same build on DuckDB, on the same raw data: time and memory.

    python bench/spark_engine.py [--scale 0.005] [--years 2016-2025] [--warehouse RAW.duckdb] [--codegen]

Data: sample data generated with ``--scale`` (1 = national volume) over ``--years`` and loaded by the real
loader, or an existing warehouse whose raw layer is loaded (``--warehouse``, e.g. the growth benchmark's).
Then, each on its own copy:
1. DuckDB: ``dbt build`` of every model and seed (tests excluded on both engines: the comparison is the build);
2. lake: pipelines.lake writes the raw layer as Parquet (the extra step a Spark run needs);
3. Spark: the same ``dbt build --target spark`` (one dbt-spark process, `method: session`, local[2], ANSI on),
   reading the lake.
Wall time and the peak resident memory of each process tree (the JVM is a child of dbt's process) are sampled
from /proc every 50 ms; ratios Spark / DuckDB are printed, then the engine-parity comparison of every mart
(pipelines/engine_parity.py). Writes bench/work/spark_engine/results.json. Nothing here is asserted by a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sampler import tree_rss_mb  # noqa: E402
from pipelines.settings import DBT_PROJECT_DIR  # noqa: E402

WORK = ROOT / "bench" / "work" / "spark_engine"
BUILD = ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]


def timed(cmd: list[str], env: dict[str, str]) -> dict:
    """Run ``cmd`` (cwd dbt_project) and return its wall time, peak tree RSS and exit status."""
    t0 = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(cmd, cwd=DBT_PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = [0.0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss_mb(proc.pid))
            time.sleep(0.05)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, _ = proc.communicate()
    th.join()
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": round(time.perf_counter() - t0, 1),
        # CPU of the whole tree (the JVM is waited for by dbt's process): the figure to compare when the machine
        # is shared and wall time says more about the neighbours than about the engine
        "cpu_seconds": round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 1),
        "peak_mb": round(peak[0]),
        "ok": proc.returncode == 0,
        "tail": out.decode(errors="replace")[-1500:],
    }


def dbt_args(work: Path) -> list[str]:
    return [
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
    ]


def raw_warehouse(args) -> Path:
    if args.warehouse:
        return Path(args.warehouse).resolve()
    import duckdb

    from pipelines.generate import generate
    from pipelines.ingest.load import ingest_file, landing_files
    from pipelines.sources import SOURCES

    first, _, last = args.years.partition("-")
    data = WORK / f"data_s{args.scale}_{args.years}"
    wh = data / "ingested.duckdb"
    if not wh.exists():
        t0 = time.perf_counter()
        generate(data / "landing", seed=42, scale=args.scale, first_year=int(first), last_year=int(last or first))
        con = duckdb.connect(str(wh))
        try:
            for source in SOURCES.values():
                for path in landing_files(data / "landing", source):
                    ingest_file(con, source, path)
        finally:
            con.close()
        print(f"data generated and loaded in {time.perf_counter() - t0:.0f} s: {wh}")
    return wh


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=0.005)
    ap.add_argument("--years", default="2016-2025")
    ap.add_argument("--warehouse", default=None, help="a warehouse with the raw layer loaded")
    ap.add_argument("--codegen", action="store_true", help="whole-stage code generation on (large data)")
    args = ap.parse_args()

    import duckdb

    from pipelines.engine_parity import compare_marts
    from pipelines.lake import export_raw
    from pipelines.spark_engine import spark_table_dirs

    raw = raw_warehouse(args)
    run = WORK / "run"
    shutil.rmtree(run, ignore_errors=True)
    (run / "duck").mkdir(parents=True)
    duck = run / "duck" / "warehouse.duckdb"
    shutil.copy(raw, duck)
    dbt = str(Path(sys.executable).with_name("dbt"))
    base = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    res = {"data": str(raw), "raw_mb": round(raw.stat().st_size / 1e6)}
    with duckdb.connect(str(raw), read_only=True) as con:
        res["patent_grants_rows"] = con.execute("SELECT count(*) FROM raw.patent_grants").fetchone()[0]

    res["duckdb"] = timed([dbt, *BUILD, *dbt_args(run / "duck")], {**base, "IPCITY_WAREHOUSE": str(duck)})
    print(
        f"DuckDB dbt build: {res['duckdb']['seconds']} s ({res['duckdb']['cpu_seconds']} s CPU), "
        f"peak {res['duckdb']['peak_mb']} MB"
    )

    t0 = time.perf_counter()
    with duckdb.connect(str(raw), read_only=True) as con:
        export_raw(con, run / "lake", force=True)
    res["lake_seconds"] = round(time.perf_counter() - t0, 1)
    print(f"lake export: {res['lake_seconds']} s")

    env = {
        **base,
        "IPCITY_WAREHOUSE": str(raw),
        "IPCITY_LAKE": str(run / "lake"),
        "IPCITY_SPARK_DIR": str(run / "spark"),
        "IPCITY_SPARK_WHOLESTAGE_CODEGEN": "true" if args.codegen else "false",
    }
    res["spark"] = timed(
        [sys.executable, "-m", "pipelines.spark_engine", *BUILD, "--target", "spark", *dbt_args(run / "spark_run")],
        env,
    )
    print(
        f"Spark dbt build (local[2]): {res['spark']['seconds']} s ({res['spark']['cpu_seconds']} s CPU), "
        f"peak {res['spark']['peak_mb']} MB"
    )
    if not (res["duckdb"]["ok"] and res["spark"]["ok"]):
        print(res["duckdb"]["tail"] if not res["duckdb"]["ok"] else res["spark"]["tail"])
        sys.exit(1)
    res["ratio_time"] = round(res["spark"]["seconds"] / res["duckdb"]["seconds"], 2)
    res["ratio_memory"] = round(res["spark"]["peak_mb"] / max(res["duckdb"]["peak_mb"], 1), 2)
    diffs = compare_marts(duck, spark_table_dirs(run / "spark"), run / "duck" / "target" / "manifest.json")
    res["parity_differences"] = len(diffs)
    for r in ("duckdb", "spark"):
        res[r].pop("tail")
    print(
        f"Spark / DuckDB: time {res['ratio_time']}x, peak memory {res['ratio_memory']}x; "
        f"parity: {len(diffs)} difference(s)" + "".join(f"\n  {d}" for d in diffs[:10])
    )
    (WORK / "results.json").write_text(json.dumps(res, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
