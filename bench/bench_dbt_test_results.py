"""What recording a dbt step's test results in quality.check_results costs a run (issue 19: no measurable time).

    python bench/bench_dbt_test_results.py STEP_TARGET_FOLDER... --warehouse WAREHOUSE.duckdb [--repeat 10]

A STEP_TARGET_FOLDER is one a pipeline dbt step left under dbt_project/target (run_results.json, manifest.json).
Each repetition does, per folder, what ``pipelines.assets.dbt.record_test_results`` does after a passing step
(read run_results.json, open the warehouse through the pipeline's resource, build and write the rows), interleaved
with the same connection opened and closed alone (what the recording adds beyond a connection is the rows).
Prints CPU (user+sys) and wall time per step, median over the repetitions; never asserts a timing. Work on a copy
of the warehouse: it writes rows for run id ``bench``, and removes them after.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(argv: list[str] | None = None) -> None:
    import orjson

    from pipelines.quality.dbt_results import dbt_test_rows
    from pipelines.quality.results import record_dbt_results
    from pipelines.resources import Warehouse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--warehouse", required=True, type=Path)
    ap.add_argument("--repeat", type=int, default=10)
    a = ap.parse_args(argv)
    wh = Warehouse(database=str(a.warehouse))
    manifests = {f: json.loads((f / "manifest.json").read_text()) for f in a.folders}  # dagster-dbt holds it
    samples: dict[str, list[tuple[float, float]]] = {"connection only": [], "recording": []}
    n_rows = 0
    for _ in range(a.repeat):
        for f in a.folders:
            c, w = _cpu(), time.perf_counter()
            with wh.get_connection(step="dbt") as con:
                con.execute("select 1").fetchall()
            samples["connection only"].append((_cpu() - c, time.perf_counter() - w))
            c, w = _cpu(), time.perf_counter()
            run_results = orjson.loads((f / "run_results.json").read_bytes())
            with wh.get_connection(step="dbt") as con:
                n_rows = record_dbt_results(con, dbt_test_rows("bench", run_results, manifests[f], f))
            samples["recording"].append((_cpu() - c, time.perf_counter() - w))
    with wh.get_connection() as con:
        con.execute("delete from quality.check_results where run_id = 'bench'")
    print(f"{len(a.folders)} step(s), {a.repeat} repetitions; last step wrote {n_rows} rows")
    for name, xs in samples.items():
        cpu = statistics.median(x[0] for x in xs)
        wall = statistics.median(x[1] for x in xs)
        print(f"{name:16s} per step: CPU {cpu * 1000:7.1f} ms   wall {wall * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
