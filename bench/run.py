"""National-scale benchmarks: prints every figure with its ratio; never asserts a timing.

    python bench/run.py [--scale 1] [--year 2020] [--format csv|parquet] [--repeats 3] [--growth]
    ipcity bench [same options]

1. ingest + build at national volume: one year of patent grants at --scale 1 (about 3.5 million rows) plus every
   other source for all 341 units, then one full `ipcity run`: wall time, rows/s and peak memory per stage.
2. against the limit: bare Polars and bare DuckDB (read the grants file, count by region and type; whole process,
   median of --repeats) against the pipeline's ingest-and-aggregate (validation, quarantine, ledger and load).
3. against the usual alternative: bench/pandas_baseline.py against the pipeline computing the same indicators.
4. --growth: ten years at national volume, then one more year on top (bench/growth.py).
5. start-up: `dagster definitions validate` and the dashboard's first HTTP 200.
Plus the figures of bench/bench_quality_validate.py and bench/bench_dashboard.py.

Everything is written under bench/work/ (gitignored); generated data is reused while its parameters match.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
PY = sys.executable


# ---------------------------------------------------------------- processes


def run_proc(cmd: list[str], *, env: dict | None = None, log: Path | None = None, timeout: float | None = None) -> dict:
    """Run a command to completion; wall seconds, the peak RSS of that process and its CPU seconds (os.wait4
    rusage: user and sys of the process and of every child it waited for, dbt among them)."""
    log = log or (BENCH / "work" / "last_command.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    with open(log, "w") as out:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=full_env, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{text[-3000:]}")
    return {
        "wall_s": wall,
        "maxrss_mb": usage.ru_maxrss / 1024,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "output": text,
    }


def last_json(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError(f"no JSON line in output:\n{text[-2000:]}")


def median_runs(cmd: list[str], repeats: int, **kw) -> dict:
    runs = [run_proc(cmd, **kw) for _ in range(repeats)]
    return {
        "wall_s": statistics.median(r["wall_s"] for r in runs),
        "all_s": [round(r["wall_s"], 2) for r in runs],
        "maxrss_mb": max(r["maxrss_mb"] for r in runs),
        "output": runs[-1]["output"],
        "outputs": [r["output"] for r in runs],
    }


# ---------------------------------------------------------------- machine and data


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    mem = next((int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    load = open("/proc/loadavg").read().split()[:3]
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(mem / 1024 / 1024, 1),
        "cpu": cpu,
        "load_avg": " ".join(load),
        "python": platform.python_version(),
    }


def ensure_data(work: Path, scale: float, first: int, last: int, fmt: str) -> Path:
    landing = work / "landing"
    marker = work / "generated.json"
    params = {"seed": 42, "scale": scale, "first_year": first, "last_year": last, "grants_format": fmt}
    if marker.exists() and json.loads(marker.read_text()).get("params") == params and landing.exists():
        return landing
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    code = (
        "import json, sys, time; from pathlib import Path; from pipelines.generate import generate; "
        f"t = time.perf_counter(); r = generate(Path({str(landing)!r}), seed=42, scale={scale}, first_year={first}, "
        f"last_year={last}, history_first_year={first}, grants_format={fmt!r}); "
        "print(json.dumps({'rows': r['rows'], 'seconds': time.perf_counter() - t}))"
    )
    res = run_proc([PY, "-c", code], log=work / "generate.log")
    info = last_json(res["output"])
    marker.write_text(
        json.dumps(
            {"params": params, "rows": info["rows"], "seconds": info["seconds"], "maxrss_mb": res["maxrss_mb"]},
            indent=1,
        )
    )
    return landing


def ensure_data_default(work: Path) -> Path:
    """The bundled sample as `ipcity generate` writes it by default."""
    landing = work / "landing"
    if (work / "generated.json").exists() and landing.exists():
        return landing
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    code = f"from pathlib import Path; from pipelines.generate import generate; generate(Path({str(landing)!r}))"
    run_proc([PY, "-c", code], log=work / "generate.log")
    (work / "generated.json").write_text("{}")
    return landing


def grants_files(landing: Path) -> list[Path]:
    return sorted((landing / "patent_grants").iterdir())


# ---------------------------------------------------------------- figures


def pipeline_run(landing: Path, run_dir: Path) -> dict:
    """A full `ipcity run` on a fresh warehouse reading ``landing``."""
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    out = run_dir / "run.json"
    env = {
        "IPCITY_WAREHOUSE": str(run_dir / "warehouse.duckdb"),
        "IPCITY_LANDING": str(landing),
        "DAGSTER_HOME": str(run_dir / "dagster_home"),
    }
    res = run_proc([PY, str(BENCH / "pipeline_run.py"), str(out)], env=env, log=run_dir / "run.log")
    data = json.loads(out.read_text())
    data["process_wall_s"] = res["wall_s"]
    data["process_maxrss_mb"] = res["maxrss_mb"]
    data["process_user_s"], data["process_sys_s"], data["process_cpu_s"] = res["user_s"], res["sys_s"], res["cpu_s"]
    return data


STAGES = (  # (label, predicate on step key)
    ("ingest (raw assets)", lambda k: k.startswith("raw__")),
    ("checks on raw (GX)", lambda k: k.startswith("gx_raw_")),
    ("dbt build (models + dbt tests)", lambda k: k.startswith("dbt_")),
    ("checks on marts (GX)", lambda k: k.startswith("gx_marts_")),
    ("evaluation + alerts (Python)", lambda k: k.startswith(("marts__", "quality__"))),
    ("publish", lambda k: k.startswith("published__")),
)


def stage_table(run: dict, grant_rows: int, total_rows: int) -> list[dict]:
    steps = run["steps"]
    rows = []
    used = set()
    for label, pred in STAGES:
        keys = [k for k in steps if pred(k)]
        used |= set(keys)
        secs = sum(steps[k]["seconds"] for k in keys)
        peak = max((steps[k]["peak_rss_mb"] or 0 for k in keys), default=0)
        rows.append({"stage": label, "seconds": secs, "peak_rss_mb": peak, "steps": len(keys)})
    other = [k for k in steps if k not in used]
    if other:
        rows.append(
            {
                "stage": "other steps",
                "seconds": sum(steps[k]["seconds"] for k in other),
                "peak_rss_mb": max((steps[k]["peak_rss_mb"] or 0 for k in other), default=0),
                "steps": len(other),
            }
        )
    ph = run["ingest_phases_s"]
    ingest = rows[0]["seconds"]
    split = [
        {"stage": "  of which read (parse)", "seconds": ph.get("read", 0.0)},
        {"stage": "  of which validate + quarantine", "seconds": ph.get("validate", 0.0)},
        {"stage": "  of which hash (sha256)", "seconds": ph.get("hash", 0.0)},
        {"stage": "  of which load, ledger, Dagster", "seconds": ingest - sum(ph.values())},
    ]
    rows[1:1] = split
    for r in rows:
        r["rows_per_s"] = total_rows / r["seconds"] if r["seconds"] else None
    rows.append(
        {
            "stage": "whole run (steps + orchestration)",
            "seconds": run["run_s"],
            "peak_rss_mb": run["peak_rss_mb"],
            "rows_per_s": total_rows / run["run_s"],
        }
    )
    return rows


def startup(snapshot: Path, work: Path) -> dict:
    dagster = str(Path(PY).parent / "dagster")
    home = work / "dagster_home_validate"
    home.mkdir(parents=True, exist_ok=True)
    validate = median_runs(
        [dagster, "definitions", "validate", "-m", "pipelines.definitions"],
        3,
        env={"DAGSTER_HOME": str(home)},
        log=work / "validate.log",
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = f"from pathlib import Path; from dashboards.app import serve; serve(port={port}, snapshot_path=Path({str(snapshot)!r}))"
    log = open(work / "serve.log", "w")
    t = time.perf_counter()
    proc = subprocess.Popen([PY, "-c", code], stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    first = None
    try:
        while time.perf_counter() - t < 120 and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    if r.status == 200:
                        first = time.perf_counter() - t
                        break
            except OSError:
                time.sleep(0.05)
        second_t = time.perf_counter()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as r:
            r.read()
        second = time.perf_counter() - second_t
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    return {
        "definitions_validate_s": validate["wall_s"],
        "definitions_validate_all_s": validate["all_s"],
        "dashboard_first_200_s": first,
        "dashboard_second_request_s": second,
    }


def compare_indicators(pandas_out: Path, pipeline_out: Path) -> dict:
    import polars as pl

    a = pl.read_parquet(pandas_out)
    b = pl.read_parquet(pipeline_out)
    cols = [
        "grants_total",
        "grants_invention",
        "grants_invention_enterprise",
        "in_force_invention",
        "in_force_invention_high_value",
        "QLT01",
        "QLT02",
        "QLT03",
        "QLT04",
        "ENV03",
    ]
    j = a.select("unit_code", pl.col("year").cast(pl.Int64), *cols).join(
        b.select("unit_code", pl.col("year").cast(pl.Int64), *cols),
        on=["unit_code", "year"],
        how="full",
        suffix="_b",
        coalesce=True,
    )
    bad = 0
    for c in cols:
        x, y = j[c].cast(pl.Float64), j[c + "_b"].cast(pl.Float64)
        same = ((x - y).abs() <= 1e-9 * (1 + y.abs())) | (x.is_null() & y.is_null())
        bad += int((~same.fill_null(False)).sum())
    return {"unit_years_pandas": a.height, "unit_years_pipeline": b.height, "mismatched_values": bad}


def fmt_s(x):
    return "–" if x is None else f"{x:,.1f} s"


def fmt_rate(x):
    return "–" if not x else f"{x:,.0f}"


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="share of real national volumes (1 = national)")
    ap.add_argument("--year", type=int, default=2020, help="the one year generated (2016 or 2020 give targets)")
    ap.add_argument("--format", choices=("csv", "parquet"), default="csv", help="grants landing file format")
    ap.add_argument("--repeats", type=int, default=3, help="runs per whole-process timing (median reported)")
    ap.add_argument("--pandas-repeats", type=int, default=3, help="runs of the pandas comparison (median)")
    ap.add_argument("--growth", action="store_true", help="also the ten-year growth benchmark (long)")
    ap.add_argument("--growth-years", type=int, default=10)
    ap.add_argument(
        "--skip", default="", help="comma list of parts to skip: limit,pandas,pipeline,sample,startup,existing"
    )
    ap.add_argument("--work", type=Path, default=BENCH / "work")
    args = ap.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()}}
    say = lambda msg: print(msg, flush=True)  # noqa: E731
    say(f"machine: {results['machine']}")

    t = time.perf_counter()
    data_dir = work / f"national_{args.year}_s{args.scale:g}_{args.format}"
    landing = ensure_data(data_dir, args.scale, args.year, args.year, args.format)
    gen = json.loads((data_dir / "generated.json").read_text())
    grant_rows = gen["rows"]["patent_grants"]
    total_rows = sum(gen["rows"].values())
    gfile = grants_files(landing)[0]
    results["data"] = {
        "rows": gen["rows"],
        "grants_file": gfile.name,
        "grants_file_mb": gfile.stat().st_size / 1e6,
        "generate_s": gen["seconds"],
        "generate_maxrss_mb": gen["maxrss_mb"],
    }
    say(
        f"data: {grant_rows:,} grant rows in {gfile.name} ({gfile.stat().st_size / 1e6:,.0f} MB), "
        f"{total_rows:,} rows in all sources; generated in {gen['seconds']:.1f} s (ready after {time.perf_counter() - t:.1f} s)"
    )

    if "limit" not in skip:
        say("\n== 2. against the limit: read the grants file and count by region and type (whole process) ==")
        bare_p = median_runs([PY, str(BENCH / "bare_polars.py"), str(gfile)], args.repeats)
        bare_d = median_runs([PY, str(BENCH / "bare_duckdb.py"), str(gfile)], args.repeats)
        pipe = median_runs(
            [PY, str(BENCH / "pipeline_ingest.py"), str(landing), str(work / "ingest_count.duckdb"), "--mode", "count"],
            args.repeats,
        )
        phases = [last_json(o) for o in pipe["outputs"]]
        ph = {
            k: statistics.median(p[k] for p in phases)
            for k in ("ingest_s", "read_s", "validate_s", "hash_s", "load_s", "aggregate_s")
        }
        best = min(bare_p["wall_s"], bare_d["wall_s"])
        results["limit"] = {
            "bare_polars_s": bare_p["all_s"],
            "bare_duckdb_s": bare_d["all_s"],
            "pipeline_s": pipe["all_s"],
            "pipeline_phases_median_s": ph,
            "ratio": pipe["wall_s"] / best,
            "maxrss_mb": {"polars": bare_p["maxrss_mb"], "duckdb": bare_d["maxrss_mb"], "pipeline": pipe["maxrss_mb"]},
        }
        say(f"bare Polars   {bare_p['wall_s']:7.2f} s  (runs {bare_p['all_s']}, peak {bare_p['maxrss_mb']:,.0f} MB)")
        say(f"bare DuckDB   {bare_d['wall_s']:7.2f} s  (runs {bare_d['all_s']}, peak {bare_d['maxrss_mb']:,.0f} MB)")
        say(
            f"pipeline      {pipe['wall_s']:7.2f} s  (runs {pipe['all_s']}, peak {pipe['maxrss_mb']:,.0f} MB): ingest "
            f"{ph['ingest_s']:.2f} s = read {ph['read_s']:.2f} + validate {ph['validate_s']:.2f} + hash {ph['hash_s']:.2f} "
            f"+ load/ledger {ph['load_s']:.2f}; aggregate {ph['aggregate_s']:.2f} s; rest is start-up"
        )
        say(f"ratio pipeline / faster bare tool = {results['limit']['ratio']:.2f}x   (goal: within 2x)")

    if "pandas" not in skip:
        say("\n== 3. against the usual alternative: pandas script vs pipeline, same files, rules and indicators ==")
        pd_out, pl_out = work / "indicators_pandas.parquet", work / "indicators_pipeline.parquet"
        pand = median_runs([PY, str(BENCH / "pandas_baseline.py"), str(landing), str(pd_out)], args.pandas_repeats)
        pipe = median_runs(
            [
                PY,
                str(BENCH / "pipeline_ingest.py"),
                str(landing),
                str(work / "ingest_ind.duckdb"),
                "--mode",
                "indicators",
                "--out",
                str(pl_out),
            ],
            args.pandas_repeats,
        )
        cmp = compare_indicators(pd_out, pl_out)
        results["pandas"] = {
            "pandas_s": pand["all_s"],
            "pipeline_s": pipe["all_s"],
            "ratio": pand["wall_s"] / pipe["wall_s"],
            "maxrss_mb": {"pandas": pand["maxrss_mb"], "pipeline": pipe["maxrss_mb"]},
            "pandas_detail": pand["output"].strip().splitlines()[-1],
            "pipeline_detail": last_json(pipe["output"]),
            "same_results": cmp,
        }
        say(
            f"pandas script {pand['wall_s']:7.2f} s  (peak {pand['maxrss_mb']:,.0f} MB)  {results['pandas']['pandas_detail']}"
        )
        say(f"pipeline      {pipe['wall_s']:7.2f} s  (peak {pipe['maxrss_mb']:,.0f} MB)")
        say(f"same results: {cmp}")
        say(f"ratio pandas / pipeline = {results['pandas']['ratio']:.2f}x   (goal: at least 2x)")

    snapshot = None
    if "pipeline" not in skip:
        say("\n== 1. ingest + build at national volume: one full `ipcity run` (in-process Dagster) ==")
        run = pipeline_run(landing, work / "run")
        results["pipeline"] = run
        snapshot = work / "run" / "published" / "warehouse.snapshot.duckdb"
        say(
            f"success={run['success']} run {run['run_s']:.1f} s (process {run['process_wall_s']:.1f} s incl. imports "
            f"{run['import_s']:.1f} s), peak RSS of process tree {run['peak_rss_mb']:,.0f} MB"
            + (f"\nerror: {run['error']}" if run.get("error") else "")
        )
        table = stage_table(run, grant_rows, total_rows)
        results["stages"] = table
        say(f"{'stage':40s} {'seconds':>10s} {'rows/s':>12s} {'peak RSS':>10s}")
        for r in table:
            peak = f"{r['peak_rss_mb']:,.0f} MB" if r.get("peak_rss_mb") else ""
            say(f"{r['stage']:40s} {fmt_s(r['seconds']):>10s} {fmt_rate(r.get('rows_per_s')):>12s} {peak:>10s}")
        say(
            "slowest steps: "
            + ", ".join(
                f"{k} {v['seconds']:.1f} s"
                for k, v in sorted(run["steps"].items(), key=lambda kv: -kv[1]["seconds"])[:8]
            )
        )

    if "sample" not in skip:
        say(
            "\n== 6. the default sample (`ipcity generate` defaults: scale 0.02, 2016-2025, grants from 2010): where `ipcity run` spends its time =="
        )
        sdir = work / "sample_default"
        slanding = ensure_data_default(sdir)
        run = pipeline_run(slanding, sdir / "run")
        steps = run["steps"]
        in_steps = sum(v["seconds"] for v in steps.values())
        results["sample"] = {
            "run_s": run["run_s"],
            "process_s": run["process_wall_s"],
            "steps_s": in_steps,
            "peak_rss_mb": run["peak_rss_mb"],
            "stages": stage_table(run, 0, 1),
            "success": run["success"],
        }
        say(
            f"success={run['success']} run {run['run_s']:.1f} s (process {run['process_wall_s']:.1f} s); inside steps "
            f"{in_steps:.1f} s; Dagster orchestration between steps {run['run_s'] - in_steps:.1f} s"
        )
        for r in results["sample"]["stages"]:
            say(f"  {r['stage']:40s} {fmt_s(r['seconds']):>10s}")
        say(
            "  slowest steps: "
            + ", ".join(
                f"{k} {v['seconds']:.1f} s" for k, v in sorted(steps.items(), key=lambda kv: -kv[1]["seconds"])[:10]
            )
        )

    if "startup" not in skip:
        say("\n== 5. start-up ==")
        if snapshot is None or not snapshot.exists():
            snapshot = next(iter(sorted(work.glob("**/published/*.snapshot.duckdb"))), None)
        st = startup(snapshot, work) if snapshot else {}
        results["startup"] = st
        say(
            f"dagster definitions validate: {fmt_s(st.get('definitions_validate_s'))} (runs {st.get('definitions_validate_all_s')})"
        )
        say(
            f"dashboard: first HTTP 200 of / after {fmt_s(st.get('dashboard_first_200_s'))} from process start; "
            f"second request {st.get('dashboard_second_request_s', 0) * 1000:.0f} ms"
        )

    if "existing" not in skip:
        say("\n== GX validate cost (bench/bench_quality_validate.py) ==")
        for rows in (100_000, 1_000_000):
            q = run_proc([PY, str(BENCH / "bench_quality_validate.py"), str(rows)], log=work / "quality_validate.log")
            line = q["output"].strip().splitlines()[-1]
            results.setdefault("quality_validate", []).append({"rows": rows, "line": line, "maxrss_mb": q["maxrss_mb"]})
            say(f"{line}  (peak {q['maxrss_mb']:,.0f} MB)")
        say("\n== dashboard callbacks (bench/bench_dashboard.py --runs 5) ==")
        d = run_proc([PY, str(BENCH / "bench_dashboard.py"), "--runs", "5"], log=work / "dashboard.log")
        results["dashboard"] = d["output"]
        say(d["output"].rstrip())

    if args.growth:
        say("\n== 4. growth: ten years at national volume, then one more year (bench/growth.py) ==")
        g = subprocess.run([PY, str(BENCH / "growth.py"), "--years", str(args.growth_years)], cwd=REPO)
        growth_json = work / "growth" / "growth.json"
        if g.returncode == 0 and growth_json.exists():
            results["growth"] = json.loads(growth_json.read_text())

    results["machine_after"] = machine()
    (work / "results.json").write_text(json.dumps(results, indent=1, default=str))
    say(f"\nall figures: {work / 'results.json'}; load average now {results['machine_after']['load_avg']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
