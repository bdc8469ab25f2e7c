"""Growth: ten years at national volume, then one more year on top, against that year alone.

    python bench/growth.py [--years 10] [--last-year 2023] [--scale 1] [--format parquet]

1. history: every source for the first years-1 years (about 32 million grant records at scale 1) in one
   `ipcity run` on a fresh warehouse: wall time and peak RSS of the process tree (goal: under 4 GB).
2. increment: the last year's files are added to the landing folder and `ipcity run` runs again on the same
   warehouse: only the new files are read (the ledger skips the old ones by hash, partitions are not re-parsed).
3. alone: the last year's files with the reference files only, on a fresh warehouse.
Ratios increment / alone for the whole run, the dbt steps and the grants ingest step (issue 19's goal: the
eleventh year costs at most 1.1x that year alone, dbt included; the increment's dbt build rebuilds only the new
year's partitions, pipelines/incremental.py), and the peak RSS of every run (goal: < 3 GB). The load average
of the machine is recorded beside every run (the figures are only comparable within one run of this script).
Writes <work>/growth.json and prints the figures.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import BENCH, ensure_data, pipeline_run  # noqa: E402

_YEAR = re.compile(r"(?<!\d)(19\d\d|20\d\d)(?!\d)")


def link_landing(src: Path, dst: Path, keep) -> None:
    """A landing folder of symlinks to the files of ``src`` for which keep(source, year or None) holds."""
    shutil.rmtree(dst, ignore_errors=True)
    for folder in sorted(p for p in src.iterdir() if p.is_dir()):
        for f in sorted(folder.iterdir()):
            m = _YEAR.search(f.stem)
            year = int(m.group(1)) if m and folder.name not in ("patent_stats",) else None
            if keep(folder.name, year):
                (dst / folder.name).mkdir(parents=True, exist_ok=True)
                (dst / folder.name / f.name).symlink_to(f.resolve())


def summary(run: dict) -> dict:
    steps = run["steps"]
    return {
        "run_s": run["run_s"],
        "peak_rss_mb": run["peak_rss_mb"],
        "grants_ingest_s": steps.get("raw__patent_grants", {}).get("seconds"),
        "grants_check_s": steps.get("gx_raw_patent_grants", {}).get("seconds"),
        "dbt_s": sum(v["seconds"] for k, v in steps.items() if k.startswith("dbt_")),
        "ingest_phases_s": run["ingest_phases_s"],
        "success": run["success"],
        "error": run.get("error"),
        "slowest": sorted(((k, round(v["seconds"], 1)) for k, v in steps.items()), key=lambda kv: -kv[1])[:6],
        "dbt_plan": run.get("dbt_plan"),
        "load_before": run.get("load_before"),
        "load_after": run.get("load_after"),
    }


def _with_load(fn, *args) -> dict:
    """Run fn and note the machine's 1-minute load average before and after (the machine may be shared)."""
    import os

    before = os.getloadavg()[0]
    run = fn(*args)
    run["load_before"], run["load_after"] = round(before, 2), round(os.getloadavg()[0], 2)
    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--last-year", type=int, default=2023)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--format", choices=("csv", "parquet"), default="parquet")
    ap.add_argument("--work", type=Path, default=BENCH / "work" / "growth")
    args = ap.parse_args(argv)
    work = args.work.resolve()
    first, last = args.last_year - args.years + 1, args.last_year
    data = work / f"data_{first}_{last}_s{args.scale:g}_{args.format}"
    print(f"generating {first}-{last} at scale {args.scale} ({args.format}) ...", flush=True)
    landing = ensure_data(data, args.scale, first, last, args.format)
    rows = json.loads((data / "generated.json").read_text())["rows"]
    print(f"rows: {rows}", flush=True)
    out: dict = {"years": [first, last], "rows": rows}

    grow = work / "landing_growing"
    link_landing(landing, grow, lambda s, y: y is None or y < last)
    print(f"1. history {first}-{last - 1} on a fresh warehouse ...", flush=True)
    out["history"] = summary(_with_load(pipeline_run, grow, work / "run_growing"))
    print(json.dumps(out["history"]), flush=True)

    link_landing(landing, grow, lambda s, y: True)
    print(f"2. adding {last} to the same warehouse ...", flush=True)
    # pipeline_run starts from a fresh folder; the increment must reuse the warehouse, so run it in place.
    out["increment"] = summary(_with_load(_rerun, grow, work / "run_growing"))
    print(json.dumps(out["increment"]), flush=True)

    alone = work / "landing_alone"
    link_landing(landing, alone, lambda s, y: y is None or y == last)
    print(f"3. {last} alone on a fresh warehouse ...", flush=True)
    out["alone"] = summary(_with_load(pipeline_run, alone, work / "run_alone"))
    print(json.dumps(out["alone"]), flush=True)

    inc_s, alone_s = out["increment"], out["alone"]
    out["ratio_grants_ingest"] = inc_s["grants_ingest_s"] / alone_s["grants_ingest_s"]
    out["ratio_run"] = inc_s["run_s"] / alone_s["run_s"]
    out["ratio_dbt"] = inc_s["dbt_s"] / alone_s["dbt_s"]
    out["peak_rss_mb"] = max(out[k]["peak_rss_mb"] for k in ("history", "increment", "alone"))
    (work / "growth.json").write_text(json.dumps(out, indent=1, default=str))
    print(
        f"peak RSS history {out['history']['peak_rss_mb']:,.0f} MB, increment {inc_s['peak_rss_mb']:,.0f} MB, "
        f"alone {alone_s['peak_rss_mb']:,.0f} MB (goal < 3072 MB); increment/alone: whole run "
        f"{out['ratio_run']:.2f}x ({inc_s['run_s']:.1f} s vs {alone_s['run_s']:.1f} s), dbt {out['ratio_dbt']:.2f}x "
        f"({inc_s['dbt_s']:.1f} s vs {alone_s['dbt_s']:.1f} s), grants ingest {out['ratio_grants_ingest']:.2f}x "
        f"(goal <= 1.1x for the run, dbt included); increment's dbt plan: {inc_s['dbt_plan']}",
        flush=True,
    )
    return 0


def _rerun(landing: Path, run_dir: Path) -> dict:
    import os

    from run import PY, run_proc

    out = run_dir / "run_increment.json"
    env = {
        "IPCITY_WAREHOUSE": str(run_dir / "warehouse.duckdb"),
        "IPCITY_LANDING": str(landing),
        "DAGSTER_HOME": str(run_dir / "dagster_home"),
    }
    res = run_proc(
        [PY, str(BENCH / "pipeline_run.py"), str(out)], env={**os.environ, **env}, log=run_dir / "run_increment.log"
    )
    data = json.loads(out.read_text())
    data["process_wall_s"] = res["wall_s"]
    return data


if __name__ == "__main__":
    sys.exit(main())
