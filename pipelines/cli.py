"""`ipcity` — the command line of the IP Strong-City Monitor (知识产权强市监测评价平台)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from pipelines import settings

# Wide enough for the report tables when output goes to a file or CI log.
console = Console(width=None if sys.stdout.isatty() else 140)


def _years(text: str) -> tuple[int, int]:
    a, _, b = text.partition("-")
    return int(a), int(b or a)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """IP Strong-City Monitor: ingest, evaluate and publish the 知识产权强市 indicators.

    The warehouse is data/warehouse.duckdb unless IPCITY_WAREHOUSE names another file; landing files,
    the published snapshot, Dagster's home, dossiers and alerts live beside it.
    """


@main.command()
@click.option("--seed", default=42, show_default=True, help="Random seed; the same seed gives byte-identical files.")
@click.option(
    "--scale",
    default=0.02,
    show_default=True,
    type=float,
    help="Share of the national record volume (1 = about 3.6 million patent grants a year).",
)
@click.option(
    "--years",
    default=f"{settings.DEFAULT_FIRST_YEAR}-{settings.DEFAULT_LAST_YEAR}",
    show_default=True,
    help="Evaluation window; patent grants also get history back to 2010 so stocks are right.",
)
@click.option("--grants-format", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@click.option("--landing", type=click.Path(path_type=Path), default=None, help="Landing folder (default data/landing).")
@click.option("--if-empty", is_flag=True, help="Do nothing when the landing folder already holds files.")
@click.option(
    "--resubmission/--clean",
    default=True,
    show_default=True,
    help="Add a late pledge-loan file (补报) with typical mistakes, so the quarantine has something to show.",
)
def generate(
    seed: int, scale: float, years: str, grants_format: str, landing: Path | None, if_empty: bool, resubmission: bool
) -> None:
    """Write sample data (real reference data + seeded synthetic records) into the landing folder."""
    from pipelines.generate import generate as gen

    landing = landing or settings.landing_dir()
    if if_empty and landing.exists() and any(p.is_file() for p in landing.rglob("*")):
        console.print(f"[dim]landing folder {landing} already holds files; not generating[/dim]")
        return
    first, last = _years(years)
    t0 = time.perf_counter()
    summary = gen(
        landing,
        seed=seed,
        scale=scale,
        first_year=first,
        last_year=last,
        grants_format=grants_format,
        progress=lambda m: console.print(f"  {m}"),
        resubmission=resubmission,
    )
    console.print(f"[green]sample data written to {landing}[/green] in {time.perf_counter() - t0:.1f} s")
    rows = summary.get("rows", {}) if isinstance(summary, dict) else {}
    if rows:
        t = Table("source", "rows", title="generated")
        for k, v in rows.items():
            t.add_row(k, f"{v:,}")
        console.print(t)


@main.command()
@click.option("--rebuild", is_flag=True, help="Rebuild marts and republish even when no new files landed.")
def run(rebuild: bool) -> None:
    """Materialise every asset in-process through Dagster: ingest new files, build marts, check, publish."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from pipelines.launcher import run_pipeline

    console.print(f"warehouse: [bold]{settings.warehouse_path()}[/bold]   landing: {settings.landing_dir()}")
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("planning", total=None)
        current = {"run": ""}

        def on_event(kind: str, info: dict) -> None:
            if kind == "RUN_PLANNED":
                current["run"] = info["message"]
                bar.update(task, description=f"[bold]{info['message']}[/bold]")
            elif kind == "STEP_START":
                bar.update(task, description=f"[bold]{current['run']}[/bold] · {info['step']}")
            elif kind == "STEP_FAILURE":
                bar.console.print(f"[red]✗ {info['step']}[/red] {info['message'][:300]}")
            elif kind == "STEP_SUCCESS":
                bar.console.print(f"[green]✓[/green] {info['step']}")

        summary = run_pipeline(rebuild=rebuild, progress=on_event)
    if summary.nothing_new:
        console.print(
            "[yellow]Nothing new to load:[/yellow] every landing file is already in the warehouse "
            "(use --rebuild to rebuild the marts anyway)."
        )
        _print_where()
        return
    if summary.ledger is not None and summary.ledger.height:
        t = Table("source", "files", "rows read", "loaded", "quarantined", "failed files", title="ingested in this run")
        for r in summary.ledger.iter_rows(named=True):
            t.add_row(
                r["source"],
                str(r["files"]),
                f"{r['rows_read']:,}",
                f"{r['rows_loaded']:,}",
                f"{r['rows_quarantined']:,}",
                str(r["files_failed"]),
            )
        console.print(t)
    for r in summary.runs:
        if not r["success"]:
            console.print(f"[red]run {r['job']} {r['partition']} failed:[/red] {r.get('error')}")
    if summary.blocked:
        console.print(f"[red]{summary.blocked}[/red]")
    _print_where()
    if not summary.success:
        sys.exit(1)


def _print_where() -> None:
    console.print(f"DuckDB warehouse: {settings.warehouse_path()}")
    snap = settings.snapshot_path()
    if snap.exists():
        console.print(f"published snapshot: {snap}")
    console.print(
        "dashboard: `ipcity serve` → http://127.0.0.1:8050   ·   Dagster UI: `ipcity dev` → http://127.0.0.1:3000"
    )


@main.command()
def status() -> None:
    """What the warehouse holds: tables and rows, files ingested, quarantine, last publish."""
    import duckdb

    from pipelines.launcher import warehouse_status

    wh = settings.warehouse_path()
    if not wh.exists():
        console.print(f"[yellow]no warehouse at {wh}[/yellow] — run `ipcity generate` and `ipcity run`")
        sys.exit(1)
    with duckdb.connect(str(wh), read_only=True) as con:
        t = Table("table", "rows", title=str(wh))
        for r in warehouse_status(con).iter_rows(named=True):
            t.add_row(r["table"], f"{r['rows']:,}")
        console.print(t)
        led = con.sql(
            "SELECT source, count(*) FILTER (WHERE status = 'loaded') AS files, sum(rows_loaded) AS loaded, "
            "sum(rows_rejected) AS quarantined, count(*) FILTER (WHERE status = 'failed') AS failed, max(ingested_at) AS last "
            "FROM raw.ingested_files GROUP BY source ORDER BY source"
        ).fetchall()
        t = Table(
            "source", "files", "rows loaded", "quarantined", "failed files", "last ingest", title="ingestion ledger"
        )
        for s, f, loaded, q, fl, last in led:
            t.add_row(s, str(f), f"{loaded or 0:,}", f"{q or 0:,}", str(fl), str(last)[:19])
        console.print(t)
    snap = settings.snapshot_path()
    console.print(
        f"published snapshot: {snap if snap.exists() else 'none yet'}"
        + (f" ({time.ctime(snap.stat().st_mtime)})" if snap.exists() else "")
    )


@main.command()
@click.option("--all", "show_all", is_flag=True, help="Show passed checks too, not only failures and warnings.")
def quality(show_all: bool) -> None:
    """The latest data-quality report: Great Expectations results and quarantined rows by reason."""
    import duckdb

    from pipelines.quality import latest_report

    wh = settings.warehouse_path()
    if not wh.exists():
        console.print(f"[yellow]no warehouse at {wh}[/yellow]")
        sys.exit(1)
    with duckdb.connect(str(wh), read_only=True) as con:
        report = latest_report(con)
        rej = (
            con.sql(
                "SELECT source, reason_code, sum(rows) AS rows FROM quality.rejections_summary "
                "WHERE run_id = (SELECT run_id FROM quality.rejections_summary ORDER BY rowid DESC LIMIT 1) "
                "GROUP BY ALL ORDER BY rows DESC"
            ).pl()
            if _has_table(con, "quality", "rejections_summary")
            else None
        )
    if report.height == 0:
        console.print("no check results yet — run `ipcity run`")
        return
    failed = report.filter(~report["passed"])
    t = Table(
        "asset",
        "partition",
        "check",
        "severity",
        "passed",
        "observed",
        title="latest check results" + ("" if show_all else " (failures and warnings)"),
    )
    for r in (report if show_all else failed).iter_rows(named=True):
        t.add_row(
            r["asset"],
            str(r["partition"] or ""),
            r["check_name"],
            r["severity"],
            "[green]yes[/green]" if r["passed"] else "[red]no[/red]",
            _observed(r["observed_value"]),
        )
    console.print(t)
    n_err = failed.filter(failed["severity"] == "error").height
    console.print(
        f"{report.height} checks: {report.height - failed.height} passed, "
        f"{n_err} blocking failures, {failed.height - n_err} warnings"
    )
    if rej is not None and rej.height:
        t = Table("source", "reason", "rows", title="quarantined rows by reason (latest run)")
        for r in rej.iter_rows(named=True):
            t.add_row(r["source"], r["reason_code"], f"{r['rows']:,}")
        console.print(t)


def _observed(value) -> str:
    import json

    try:
        v = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return str(value)[:60]
    if isinstance(v, dict) and "unexpected_count" in v:
        return f"{v['unexpected_count']} of {v.get('element_count', '?')} rows unexpected"
    return json.dumps(v, ensure_ascii=False, default=str)[:60]


def _has_table(con, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, table]
        ).fetchall()[0][0]
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8050, show_default=True)
def serve(host: str, port: int) -> None:
    """The dashboard (简体中文 / English), reading the published snapshot, never the warehouse."""
    from dashboards.app import serve as run_server

    console.print(f"dashboard: http://{host}:{port}  (snapshot {settings.snapshot_path()})")
    run_server(host=host, port=port)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True)
@click.option("--build-only", is_flag=True, help="Build the site (dbt_project/target/docs) without serving it.")
def docs(host: str, port: int, build_only: bool) -> None:
    """The dbt docs: every model and column, and the lineage dashboard page → mart → source."""
    from pipelines.docs import docs_server, generate_docs

    folder = generate_docs()
    console.print(f"docs built in {folder / 'static_index.html'}")
    if build_only:
        return
    server = docs_server(folder, host, port)
    console.print(f"serving the docs on http://{host}:{port} (Ctrl+C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@main.command()
@click.argument("city")
@click.option("--year", type=int, required=True, help="Evaluation year.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Folder (default data/dossiers).")
def dossier(city: str, year: int, out: Path | None) -> None:
    """Evidence dossier for CITY (code such as 410700, or a name such as 新乡) in Markdown and HTML."""
    import duckdb

    from pipelines.evaluation.dossier import resolve_unit, write_dossier

    snap = settings.snapshot_path()
    source = snap if snap.exists() else settings.warehouse_path()
    with duckdb.connect(str(source), read_only=True) as con:
        unit = resolve_unit(con, city)
    paths = write_dossier(source, unit, year, out or settings.dossier_dir())
    for p in paths:
        console.print(f"written: {p}")


@main.command()
@click.option("--port", default=3000, show_default=True)
@click.option("--background", is_flag=True, help="Start detached; the PID is written to data/dagster_dev.pid.")
@click.option("--stop", is_flag=True, help="Stop a background Dagster UI started with --background.")
def dev(port: int, background: bool, stop: bool) -> None:
    """Dagster UI on 127.0.0.1 (sensors and schedules run too). Stoppable by PID."""
    pid_file = settings.data_dir() / "dagster_dev.pid"
    if stop:
        if not pid_file.exists():
            console.print("no background Dagster UI recorded")
            return
        pid = int(pid_file.read_text())
        _stop_group(pid)
        pid_file.unlink(missing_ok=True)
        console.print(f"stopped Dagster UI (process group {pid})")
        return
    from pipelines.launcher import prepare_dagster_home

    dagster_home = prepare_dagster_home()  # writes DAGSTER_HOME/dagster.yaml (one run at a time)
    cmd = [sys.executable, "-m", "dagster", "dev", "-m", "pipelines.definitions", "-h", "127.0.0.1", "-p", str(port)]
    # Its own session: `dagster dev` ignores SIGINT/SIGTERM when started from a script, so it is stopped by
    # signalling the whole process group.
    log = None
    if background:
        # Detached: its output goes to a log file, so whoever started us is not tied to its pipes.
        log = open(settings.data_dir() / "dagster_dev.log", "ab")
    proc = subprocess.Popen(
        cmd,
        cwd=settings.PROJECT_ROOT,
        start_new_session=True,
        env={**os.environ, "DAGSTER_HOME": dagster_home},
        stdin=subprocess.DEVNULL if background else None,
        stdout=log,
        stderr=log,
    )
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(str(proc.pid))
    console.print(
        f"Dagster UI: http://127.0.0.1:{port}  (pid {proc.pid}; stop with `ipcity dev --stop` or kill -- -{proc.pid})"
    )
    if background:
        console.print(f"log: {settings.data_dir() / 'dagster_dev.log'}")
        return
    try:
        proc.wait()
    except KeyboardInterrupt:
        _stop_group(proc.pid)
    finally:
        pid_file.unlink(missing_ok=True)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True}, add_help_option=False)
@click.pass_context
def bench(ctx: click.Context) -> None:
    """Benchmarks at national scale (bench/run.py; `ipcity bench --help` for its options). Prints figures."""
    script = settings.PROJECT_ROOT / "bench" / "run.py"
    sys.exit(subprocess.call([sys.executable, str(script), *ctx.args], cwd=settings.PROJECT_ROOT))


def _stop_group(pid: int, timeout: float = 15) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


if __name__ == "__main__":  # pragma: no cover
    main()
