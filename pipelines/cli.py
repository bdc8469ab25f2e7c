"""`ipcity` — the command line of the IP Strong-City Monitor (知识产权强市监测评价平台)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape as _markup_escape
from rich.table import Table

from pipelines import settings
from pipelines.china_time import ZONE_NAME, china_time_text
from pipelines.counts import count_en, count_zh

# The zone in a time column's header, both readers' names (pipelines.china_time): the cells hold Beijing time
# unmarked, so the header says so once, in the words every other surface uses
_ZONE = f"({ZONE_NAME['en']} {ZONE_NAME['zh']})"

# Wide enough for the report tables when output goes to a file or CI log.
console = Console(width=None if sys.stdout.isatty() else 140)

# Characters a terminal acts on rather than shows: C0 controls but tab and line feed (ESC starts the sequences that
# clear the screen, move the cursor, retitle the window; CR overwrites a line), DEL, C1 controls, and the bidi
# overrides and isolates that display text in another order than it is stored (a forged line that reads innocently).
_TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def term_text(text) -> str:
    """Data for a plain terminal line (click's error messages and prompts, which rich does not read): terminal
    controls shown as ``\\xNN``/``\\uNNNN``, never sent. Applying it twice changes nothing."""
    return _TERMINAL_CONTROLS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


def escape(text) -> str:
    """Data for the terminal through rich: rich markup escaped and terminal controls shown (``term_text``), never
    sent. Anyone can put them in the audit log (a user name typed at sign-in, a requested path), and rich passes
    ESC through: `ipcity users audit` cleared an operator's screen or rewrote its lines."""
    return _markup_escape(term_text(text))


class _TerminalSafeGroup(click.Group):
    """The `ipcity` group: every click error leaves through ``term_text``. Error messages carry the values an
    operator typed (a --city, a --host, a user name, a path) and the text of the exceptions they caused; click
    prints them as they are, so a value holding ESC sequences (pasted from a hostile file or message) cleared or
    rewrote the terminal. Each message in this file is built with term_text (tests check the source); this also
    covers the messages click builds itself (a path that does not exist)."""

    @staticmethod
    def _shown_safely(e: click.ClickException) -> None:
        built = e.format_message
        e.format_message = lambda: term_text(built())

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except click.ClickException as e:
            self._shown_safely(e)
            raise

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.ClickException as e:
            self._shown_safely(e)
            raise


# True when the command owns its process (`entry`: the `ipcity` script, `python -m pipelines.cli`), never when
# other code shares it (a test invoking the commands in-process).
_OWNS_PROCESS = False


def entry() -> None:
    """The `ipcity` script."""
    global _OWNS_PROCESS
    _OWNS_PROCESS = True
    _private_umask()
    main()


def _private_umask() -> None:
    """Files the command and its children (Dagster, dbt, gunicorn) create are owner-only. DuckDB recreates the
    warehouse's write-ahead log beside it at every checkpoint with the umask's mode (0644 under the usual 022):
    every city's latest figures readable by each local user while a run writes. No owner-only folder can hold it
    (the warehouse lives in the data folder, landing and all), so the process's umask does; set once here, before
    any thread starts (private_files leaves the umask alone in code that shares its process with threads)."""
    os.umask(os.umask(0o077) | 0o077)


def _collect_after_start_up() -> None:
    """No cyclic garbage collection while `ipcity run` starts: importing Dagster, dbt and GX builds millions of
    long-lived objects, and every full collection walks all of them again (12 walks, ≈ 2 s on the start-up's
    critical path in a default run; bench/RESULTS.md). Start-up makes little cyclic garbage."""
    if _OWNS_PROCESS:
        from pipelines.heap import pause_collection

        pause_collection()


def _freeze_heap(collect_first: bool = False) -> None:
    """Move every object alive now out of the collector's view (gc.freeze) and collect again from here on: the
    definitions are imported, so that is the long-lived heap, which neither the run's full collections nor the
    last one at interpreter exit (≈ 2 s) then walk. ``collect_first``: one full collection before, so the
    start-up's cyclic garbage is freed rather than frozen (one walk instead of a dozen; frozen garbage is never
    collected). Only in a process the command owns: a process that goes on to run other code (tests) keeps the
    usual collector."""
    if _OWNS_PROCESS:
        from pipelines.heap import freeze_heap

        freeze_heap(collect_first=collect_first)


def _years(text: str) -> tuple[int, int]:
    a, _, b = text.partition("-")
    return int(a), int(b or a)


@click.group(cls=_TerminalSafeGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """知识产权强市监测评价平台：入库、评估并发布各项指标。 IP Strong-City Monitor: ingest, evaluate and publish
    the 知识产权强市 indicators.

    The warehouse is data/warehouse.duckdb unless IPCITY_WAREHOUSE names another file; landing files,
    the published snapshot, Dagster's home, dossiers and alerts live beside it.
    """


@main.command()
@click.option(
    "--seed",
    default=42,
    show_default=True,
    help="随机种子，同一种子生成逐字节相同的文件。 Random seed; the same seed gives byte-identical files.",
)
@click.option(
    "--scale",
    default=0.02,
    show_default=True,
    type=float,
    help="占全国记录量的比例。 Share of the national record volume (1 = about 3.6 million patent grants a year).",
)
@click.option(
    "--case-scale",
    default=1.0,
    show_default=True,
    type=float,
    help="占全国执法案件记录的比例。 "
    "Share of the national enforcement case records (1 = all, ~110k cases a year: PRO04 at its real order).",
)
@click.option(
    "--years",
    default=f"{settings.DEFAULT_FIRST_YEAR}-{settings.DEFAULT_LAST_YEAR}",
    show_default=True,
    help="评估年度范围。 Evaluation window; patent grants also get history back to 2010 so stocks are right.",
)
@click.option(
    "--grants-format",
    type=click.Choice(["parquet", "csv"]),
    default="parquet",
    show_default=True,
    help="专利授权文件的格式。 The patent grant files' format.",
)
@click.option(
    "--landing",
    type=click.Path(path_type=Path),
    default=None,
    help="着陆区目录。 Landing folder (default data/landing).",
)
@click.option(
    "--if-empty",
    is_flag=True,
    help="着陆区已有文件时不做任何事。 Do nothing when the landing folder already holds files.",
)
@click.option(
    "--resubmission/--clean",
    default=True,
    show_default=True,
    help="加入一份含典型错误的质押补报文件。 "
    "Add a late pledge-loan file (补报) with typical mistakes, so the quarantine has something to show.",
)
def generate(
    seed: int,
    scale: float,
    case_scale: float,
    years: str,
    grants_format: str,
    landing: Path | None,
    if_empty: bool,
    resubmission: bool,
) -> None:
    """生成样例数据（真实参考数据加可复现的合成记录）写入着陆区。
    Write sample data (real reference data + seeded synthetic records) into the landing folder."""
    from pipelines.generate import generate as gen

    landing = landing or settings.landing_dir()
    if if_empty and landing.exists() and any(p.is_file() for p in landing.rglob("*")):
        console.print(f"[dim]landing folder {escape(landing)} already holds files; not generating[/dim]")
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
        progress=lambda m: console.print(f"  {escape(m)}"),
        resubmission=resubmission,
        case_scale=case_scale,
    )
    console.print(f"[green]sample data written to {escape(landing)}[/green] in {time.perf_counter() - t0:.1f} s")
    rows = summary.get("rows", {}) if isinstance(summary, dict) else {}
    if rows:
        t = Table("source / 数据源", "rows / 行数", title="generated · 已生成的样例数据")
        for k, v in rows.items():
            t.add_row(escape(k), f"{v:,}")
        console.print(t)


@main.command()
@click.option(
    "--rebuild",
    is_flag=True,
    help="即使没有新文件也重建数据集市并重新发布。 Rebuild marts and republish even when no new files landed.",
)
@click.option(
    "--engine",
    type=click.Choice(settings.ENGINES),
    default=lambda: os.environ.get("IPCITY_ENGINE", "duckdb"),
    show_default="duckdb, or IPCITY_ENGINE",
    help="dbt 步骤在何处运行：仓库文件中的 DuckDB，或 Apache Spark。 "
    "Where the dbt steps run: DuckDB in the warehouse file, or Apache Spark (dbt-spark, local[2] unless "
    "IPCITY_SPARK_MASTER says otherwise) over the Parquet lake; see docs/scale_out.md.",
)
def run(rebuild: bool, engine: str) -> None:
    """运行流水线：载入新文件，撤回已移除文件的数据，构建数据集市，检查并发布。
    Materialise every asset in-process through Dagster: ingest new files, build marts, check, publish."""
    _collect_after_start_up()
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from pipelines.launcher import WarehouseBusy, run_pipeline

    os.environ["IPCITY_ENGINE"] = engine
    if engine == "spark":
        from pipelines.spark_engine import java_available

        if not java_available():
            console.print("[red]--engine spark needs Java (17 or 21): apt-get install openjdk-17-jre-headless[/red]")
            sys.exit(2)
    console.print(
        f"warehouse: [bold]{escape(settings.warehouse_path())}[/bold]   landing: {escape(settings.landing_dir())}   engine: {escape(engine)}"
    )
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("planning", total=None)
        current = {"run": ""}

        def on_event(kind: str, info: dict) -> None:
            if kind == "RUN_PLANNED":  # the definitions are imported: the long-lived heap is built
                _freeze_heap(collect_first=True)
                current["run"] = info["message"]
                bar.update(task, description=f"[bold]{info['message']}[/bold]")
            elif kind == "STEP_START":
                bar.update(task, description=f"[bold]{current['run']}[/bold] · {info['step']}")
            elif kind == "STEP_FAILURE":
                bar.console.print(f"[red]✗ {escape(info['step'])}[/red] {escape(info['message'][:300])}")
            elif kind == "STEP_SUCCESS":
                bar.console.print(f"[green]✓[/green] {escape(info['step'])}")

        try:
            summary = run_pipeline(rebuild=rebuild, progress=on_event)
        except WarehouseBusy as e:
            bar.stop()
            _busy(str(e), "ipcity run")
    _freeze_heap()  # what is left is printed and dropped at exit: no last walk over the run's heap
    if summary.nothing_new:
        _say(
            "[yellow]没有新数据：[/yellow]着陆区的文件均已入库（如需重建数据集市，请使用 --rebuild）。",
            "[yellow]Nothing new to load:[/yellow] every landing file is already in the warehouse "
            "(use --rebuild to rebuild the marts anyway).",
        )
        if summary.dead_runs:
            _say(
                f"[yellow]已将进程已消失的运行标记为失败：[/yellow]{escape(', '.join(summary.dead_runs))}",
                f"[yellow]marked dead runs failed (process gone):[/yellow] {escape(', '.join(summary.dead_runs))}",
            )
        if summary.last_failure:
            _print_last_failure(summary.last_failure)
        _print_withdrawals(summary)
        _print_still_refused(summary.still_refused)
        _print_still_arriving(summary.still_arriving)
        _print_where()
        if summary.landing_absent:
            sys.exit(1)  # cron sees it: an unmounted share is not "nothing new"
        return
    if summary.ledger is not None and summary.ledger.height:
        t = Table(
            "source / 数据源",
            "files / 文件",
            "rows read / 读取行",
            "loaded / 入库行",
            "quarantined / 隔离行",
            "failed files / 失败文件",
            title="ingested in this run · 本次入库",
        )
        for r in summary.ledger.iter_rows(named=True):
            t.add_row(
                escape(r["source"]),
                escape(str(r["files"])),
                f"{r['rows_read']:,}",
                f"{r['rows_loaded']:,}",
                f"{r['rows_quarantined']:,}",
                escape(str(r["files_failed"])),
            )
        console.print(t)
    if summary.dead_runs:
        console.print(
            f"[yellow]marked dead runs failed (process gone):[/yellow] {escape(', '.join(summary.dead_runs))}"
        )
    if summary.alert_digests:
        t = Table(
            "route / 路由",
            "channel / 通道",
            "recipient / 收件人",
            "messages / 消息",
            "firing / 新预警",
            "resolved / 解除",
            "delivery / 投递",
            title="alerts sent · 已发出的预警",
        )
        for r in summary.alert_digests:
            t.add_row(
                escape(r["route"]),
                escape(r["channel"]),
                escape(r["recipient"]),
                escape(str(r["messages"])),
                escape(str(r["firing"])),
                escape(str(r["resolved"])),
                escape("; ".join(_delivery_status(st) for st in (r["status"] or "").split(",") if st)),
            )
        console.print(t)
    elif summary.runs:
        _say(
            "预警：没有需要发送的新消息（持续中的预警不重复发送）。",
            "alerts: nothing new to send (ongoing alerts are not re-sent)",
        )
    for r in summary.runs:
        if not r["success"]:
            # dbt's and Dagster's text is data: its brackets are not markup
            _say(
                f"[red]运行 {escape(r['job'])} {escape(r['partition'])} 失败：[/red]{escape(r.get('error') or '')}",
                f"[red]run {escape(r['job'])} {escape(r['partition'])} failed:[/red] {escape(r.get('error') or '')}",
            )
    if summary.blocked:
        console.print(f"[red]{escape(summary.blocked)}[/red]")
    if summary.corrections is not None and summary.corrections.height:
        t = Table(
            "source / 数据源",
            "key / 主键",
            "corrected by / 更正文件",
            "replaces / 被替换文件",
            "changed / 改动列",
            title="rows corrected by re-sent files · 重报文件更正的行",
        )
        for r in summary.corrections.iter_rows(named=True):
            t.add_row(
                escape(r["source"]),
                escape(r["key_values"]),
                escape(r["new_file"]),
                escape(r["old_file"]),
                escape(r["changed_columns"]),
            )
        console.print(t)
    _print_withdrawals(summary)
    for line in summary.refused:
        name, _, reason = line.partition(": ")
        _say(
            f"[red]拒收：[/red]{escape(name)}：{escape(_refusal(reason, name, 'zh'))}",
            f"[red]refused:[/red] {escape(line)}",
        )
    if summary.ledger is not None and summary.ledger.height and summary.ledger["files_failed"].sum():
        _say(
            "[red]部分文件被拒收[/red]——`ipcity status` 列出每个文件及原因。",
            "[red]some files were refused[/red] — `ipcity status` lists each file and the reason.",
        )
    _print_still_refused(summary.still_refused)
    _print_still_arriving(summary.still_arriving)
    _print_where()
    if not summary.success or summary.landing_absent:
        sys.exit(1)


def _say(zh: str, en: str) -> None:
    """What the CLI tells the operator, in 简体中文 first and English below (the project's two languages)."""
    console.print(zh)
    console.print(en)


BUSY_EXIT = 3  # another run holds the warehouse: nothing was done, try again later (README "Commands")


def _busy(detail: str, what: str) -> None:
    _say(
        f"[red]仓库正被另一个运行写入，{escape(what)} 未执行任何操作：[/red]{escape(detail)}。请待其结束后重试。",
        f"[red]the warehouse is being written by another run; {escape(what)} did nothing:[/red] {escape(detail)}. "
        "Try again when it has finished.",
    )
    sys.exit(BUSY_EXIT)


def _open_read_only(wh: Path, what: str):
    """The warehouse for reading, or the busy message: DuckDB lets no reader in while a run writes it."""
    import duckdb

    try:
        return duckdb.connect(str(wh), read_only=True)
    except duckdb.IOException as e:
        if "lock" not in str(e).lower():
            raise
        _busy(str(e).splitlines()[0], what)


def _print_last_failure(f: dict) -> None:
    """The last build failed or was killed: its files are loaded, its marts were not built or published."""
    from datetime import datetime

    ended = datetime.fromtimestamp(f["ended"]).strftime("%Y-%m-%d %H:%M:%S") if f.get("ended") else "?"
    snap = settings.snapshot_path()
    published = time.ctime(snap.stat().st_mtime) if snap.exists() else "—"
    _say(
        f"[red]上一次构建未完成[/red]（{escape(f['job'])} {escape(f['run_id'][:8])}，{escape(f['status'])}，{escape(ended)}）：{escape(f['error'])}",
        f"[red]the last build did not finish[/red] ({escape(f['job'])} {escape(f['run_id'][:8])}, {escape(f['status'])}, {escape(ended)}): "
        f"{escape(f['error'])}",
    )
    _say(
        f"其文件已入库，但数据集市未据此构建，已发布的快照仍是 {escape(published)} 的版本。排除原因后运行 `ipcity run --rebuild`"
        "（若是数据检查失败，请以同名重新发送修正后的文件）。",
        f"Its files are loaded but the marts were not built from them; the published snapshot is still the one of "
        f"{escape(published)}. Once the cause is fixed, run `ipcity run --rebuild` (for a failed data check, re-send the "
        "corrected file under the same name).",
    )


def _refusal(reason: str | None, name: str, lang: str | None = None) -> str:
    """Why a file was refused whole: in 简体中文 with the English below (``lang`` None), or in one language. The
    ledger keeps the English; ``name`` is "source/file", whose source names the columns by its own headers."""
    from pipelines.ingest.reason_labels import refusal_both, refusal_text

    source = name.split("/", 1)[0]
    return refusal_both(reason, source) if lang is None else refusal_text(reason, lang, source)


def _withdrawn_table(rows: list[tuple], title: str) -> None:
    """Files withdrawn and the rows that left the warehouse with them: one table for a run's summary and for the
    ledger (``status``, ``quality``), so the two read alike. A row is (source, file, year, rows withdrawn) with, from
    the ledger, when it was withdrawn (shown in Beijing time, as the other ledger tables)."""
    when = any(len(r) > 4 for r in rows)
    t = Table(
        "source / 数据源",
        "file / 文件",
        "year / 年度",
        "rows withdrawn / 撤回行",
        *([f"when / 时间 {_ZONE}"] if when else []),
        title=title,
    )
    for source, name, part, n, *at in rows:
        t.add_row(
            escape(source),
            escape(name),
            escape(str(part or "")),
            f"{n or 0:,}",
            *([escape(china_time_text(at[0]))] if when else []),
        )
    console.print(t)


def _print_withdrawals(summary) -> None:
    """Files removed from landing that this run withdrew (their rows left the warehouse), and the landing folder
    that was missing or empty, so nothing was withdrawn."""
    if summary.withdrawn is not None and summary.withdrawn.height:
        _withdrawn_table(
            [
                (r["source"], r["file_name"], r["partition"], r["rows_withdrawn"])
                for r in summary.withdrawn.iter_rows(named=True)
            ],
            "removed from landing, rows withdrawn · 已从着陆区移除、数据已撤回的文件",
        )
    if summary.withdrawn_refused:
        _say(
            f"[yellow]已从着陆区移除的拒收文件，台账记为撤回：[/yellow]{escape(', '.join(summary.withdrawn_refused))}",
            f"[yellow]refused files removed from landing, recorded as withdrawn:[/yellow] "
            f"{escape(', '.join(summary.withdrawn_refused))}",
        )
    if summary.landing_absent:
        _say(
            f"[red]着陆区 {escape(summary.landing_absent)} 不存在或没有任何文件[/red]，而仓库中有已入库的文件："
            "未撤回任何数据（可能是共享目录未挂载或 IPCITY_LANDING 有误）。",
            f"[red]the landing folder {escape(summary.landing_absent)} is missing or holds no file[/red] while the "
            "warehouse holds loaded files: nothing was withdrawn (an unmounted share, or IPCITY_LANDING is wrong?).",
        )
    if summary.sources_emptied:
        folders = escape(", ".join(summary.sources_emptied))
        _say(
            f"[red]着陆区中这些数据源的目录没有任何文件[/red]：{escape(folders)}；仓库中有它们已入库的文件，未撤回任何数据"
            "（目录未挂载或被改名？要更正请放入更正后的文件）。",
            f"[red]these sources' landing folders hold no file[/red]: {escape(folders)}; the warehouse holds loaded files of "
            "theirs and nothing was withdrawn (a folder unmounted or renamed? to correct, put the corrected file in).",
        )


def _print_withdrawn(con, limit: int = 20) -> None:
    """The ledger's latest withdrawals: files removed from landing and the rows that left the warehouse with them."""
    has = con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'raw' "
        "AND table_name = 'ingested_files' AND column_name = 'rows_withdrawn'"
    ).fetchall()[0][0]
    if not has:  # a warehouse from before withdrawals (status opens it read-only: no column added)
        return
    rows = con.execute(
        'SELECT source, file_name, "partition", rows_withdrawn, ingested_at FROM raw.ingested_files '
        "WHERE rows_withdrawn IS NOT NULL ORDER BY ingested_at DESC, source, file_name LIMIT ?",
        [limit],
    ).fetchall()
    if not rows:
        return
    _withdrawn_table(rows, "files withdrawn (removed from landing) · 已撤回的文件（已从着陆区移除）")
    _say(
        "文件从着陆区移除后，下一次运行会撤回其数据；若是误删，将文件放回即可重新入库。",
        "A file removed from the landing folder has its rows withdrawn by the next run; put it back to load it "
        "again if it was removed by mistake.",
    )


def _print_still_refused(lines: list[str]) -> None:
    if not lines:
        return
    t = Table("file / 文件", "reason / 原因", title="refused earlier, unchanged since · 此前被拒收且未改动的文件")
    for line in lines:
        name, _, reason = line.partition(": ")
        t.add_row(escape(name), escape(_refusal(reason, name)))
    console.print(t)
    _say(
        "修正文件后以同名放回着陆区（新版本替换旧版本），或将其移出；未改动的文件不会单独触发运行。",
        "Mend the file and put it back under the same name (the new version replaces the old), or remove it; "
        "an unchanged refused file does not start a run by itself.",
    )


def _print_still_arriving(files: list[str]) -> None:
    """Landing files still being copied in, left for the next run: without this line a run said "nothing new" (or
    published a year) while a file the operator had just put in was not read, and only the raw asset's log said
    why."""
    if not files:
        return
    _say(
        f"[yellow]仍在复制中的文件，本次未读取（复制完成后由下一次运行读取）：[/yellow]{escape(', '.join(files))}",
        f"[yellow]still arriving, not read by this run (the next run reads them once their copy is complete):"
        f"[/yellow] {escape(', '.join(files))}",
    )


def _print_where() -> None:
    console.print(f"DuckDB warehouse · DuckDB 仓库: {escape(settings.warehouse_path())}")
    snap = settings.snapshot_path()
    if snap.exists():
        console.print(f"published snapshot · 已发布快照（看板读取）: {escape(snap)}")
    console.print(
        "dashboard · 看板: `ipcity serve` → http://127.0.0.1:8050   ·   "
        "Dagster UI · 调度界面: `ipcity dev` → http://127.0.0.1:3000"
    )
    from dashboards.auth import UserStore, first_run_hint

    hint = first_run_hint(UserStore())
    if hint:
        console.print(f"[yellow]{escape(hint)}[/yellow]")
    extracts = settings.data_dir() / "extracts"
    if extracts.is_dir():
        console.print(
            f"provincial extracts · 省级数据包: {escape(extracts)}  (`ipcity extract --province 44 --year 2025`)"
        )


@main.command()
def status() -> None:
    """仓库现状：各表行数、入库台账、拒收与撤回的文件、隔离行、最近发布。
    What the warehouse holds: tables and rows, files ingested, quarantine, last publish."""
    from pipelines.launcher import warehouse_status

    wh = settings.warehouse_path()
    if not wh.exists():
        _say(
            f"[yellow]{escape(wh)} 处没有仓库[/yellow]——请先运行 `ipcity generate` 和 `ipcity run`",
            f"[yellow]no warehouse at {escape(wh)}[/yellow] — run `ipcity generate` and `ipcity run`",
        )
        sys.exit(1)
    with _open_read_only(wh, "ipcity status") as con:
        t = Table("table / 表", "rows / 行数", title=str(wh))
        for r in warehouse_status(con).iter_rows(named=True):
            t.add_row(escape(r["table"]), f"{r['rows']:,}")
        console.print(t)
        # The current version of each file only: a re-sent file's replaced version (status 'replaced') no longer
        # counts, or its rows and quarantine would show twice. "in table": what the raw table holds now, less
        # than "loaded" by the rows later files corrected (raw.corrections).
        counts = dict(warehouse_status(con).iter_rows())
        led = con.sql(
            "SELECT source, count(*) FILTER (WHERE status = 'loaded') AS files, "
            "sum(rows_loaded) FILTER (WHERE status = 'loaded') AS loaded, "
            "sum(rows_rejected) FILTER (WHERE status = 'loaded') AS quarantined, "
            "count(*) FILTER (WHERE status = 'failed') AS failed, max(ingested_at) AS last "
            "FROM raw.ingested_files GROUP BY source ORDER BY source"
        ).fetchall()
        t = Table(
            "source / 数据源",
            "files / 文件",
            "rows loaded / 入库行",
            "in table / 表中现有",
            "quarantined / 隔离行",
            "failed files / 失败文件",
            f"last ingest / 最近入库 {_ZONE}",
            title="ingestion ledger · 入库台账",
        )
        for s, f, loaded, q, fl, last in led:
            in_table = counts.get(f"raw.{s}")
            t.add_row(
                escape(s),
                escape(str(f)),
                f"{loaded or 0:,}",
                "" if in_table is None else f"{in_table:,}",
                f"{q or 0:,}",
                escape(str(fl)),
                escape(china_time_text(last)),  # the ledger's UTC, read by offices in Beijing time
            )
        console.print(t)
        _print_refused_files(con)
        _print_withdrawn(con)
        _print_file_notes(con)
        _print_quarantine_by_file(con)
    snap = settings.snapshot_path()
    console.print(
        f"published snapshot · 已发布快照: {escape(snap if snap.exists() else 'none yet · 尚无')}"
        + (f" ({escape(time.ctime(snap.stat().st_mtime))})" if snap.exists() else "")
    )


@main.command()
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="同时显示已通过的检查。 Show passed checks too, not only failures and warnings.",
)
@click.option(
    "--history",
    is_flag=True,
    help="同一检查在最近各次运行中的结果（是否本次新出现的失败）。 The same check across the last runs (did it start "
    "failing in the latest run?).",
)
def quality(show_all: bool, history: bool) -> None:
    """最近一次数据质量报告：Great Expectations 与 dbt 的检查结果、未通过的行、按原因统计的隔离行。
    The latest data-quality report: Great Expectations and dbt check results, failing rows, quarantined rows by
    reason."""
    from pipelines.labels import label_text
    from pipelines.quality import current_rejections, latest_report
    from pipelines.quality.results import HISTORY_RUNS, check_history

    wh = settings.warehouse_path()
    if not wh.exists():
        _say(f"[yellow]{escape(wh)} 处没有仓库[/yellow]", f"[yellow]no warehouse at {escape(wh)}[/yellow]")
        sys.exit(1)
    with _open_read_only(wh, "ipcity quality") as con:
        report = latest_report(con)
        trend = check_history(con) if history else None
        # what the raw layer holds now, not the last run's summary: a corrected re-sent file clears its rows
        rej = current_rejections(con) if _has_table(con, "raw", "rejected_rows") else None
        _print_quarantine_by_file(con)
        if _has_table(con, "raw", "ingested_files"):
            _print_withdrawn(con)
    if report.height == 0:
        console.print("no check results yet — run `ipcity run`")
        return
    failed = report.filter(~report["passed"])
    t = Table(
        "asset / 资产",
        "partition / 分区",
        "check / 检查",
        "severity / 级别",
        "passed / 通过",
        "observed / 观测值",
        "failing rows (sample) / 未通过的行（样本）",
        title="latest check results · 最近一次检查结果"
        + ("" if show_all else " (failures and warnings · 仅失败与警告)"),
    )
    _fold(t, "asset / 资产", "check / 检查")
    for r in (report if show_all else failed).iter_rows(named=True):
        t.add_row(
            escape(r["asset"]),
            escape(str(r["partition"] or "")),
            # a dbt data test says so (its label in the seed); a GX expectation's cell stays as it was, so the
            # columns beside it (the failing rows' sample above all) keep their width
            # the check in words (中文 / English), its technical name below, then a dbt test's engine label
            _check_words(r) + ("" if r["engine"] == "gx" else f"\n[dim]{escape(_both(label_text, r['engine']))}[/dim]"),
            escape(r["severity"]),
            "[green]yes[/green]" if r["passed"] else "[red]no[/red]",
            escape(_observed(r["observed_value"])),
            "" if r["passed"] else escape(_sample(r["failing_sample"])),
        )
    console.print(t)
    if trend is not None and trend.height:
        t = Table(
            "trend / 趋势",
            "engine / 引擎",
            "asset / 资产",
            "check / 检查",
            "failing rows / 未通过行数",
            f"failing since / 失败起始 {_ZONE}",
            f"last {count_en(HISTORY_RUNS, 'run')}, oldest first / 最近{count_zh(HISTORY_RUNS, '次')}运行（由早到晚）",
            title="check history · 检查历史" + ("" if show_all else " (failing or changed · 仅失败或有变化)"),
        )
        _fold(t, "asset / 资产", "check / 检查")
        for r in trend.iter_rows(named=True):
            if not show_all and r["trend"] == "check_passing":
                continue
            t.add_row(
                escape(_both(label_text, r["trend"])),
                escape(_both(label_text, r["engine"])),
                escape(r["asset"]),
                _check_words(r),
                "" if r["passed"] else escape(f"{r['failing_rows']:,}"),
                "" if r["failing_since"] is None else escape(china_time_text(r["failing_since"])),
                escape(r["runs_oldest_first"]),
            )
        console.print(t)
    n_err = failed.filter(failed["severity"] == "error").height
    _say(
        f"共{count_zh(report.height, '项')}检查：{count_zh(report.height - failed.height, '项')}通过，"
        f"{count_zh(n_err, '项')}阻断性失败，{count_zh(failed.height - n_err, '项')}警告",
        f"{count_en(report.height, 'check')}: {report.height - failed.height:,} passed, "
        f"{count_en(n_err, 'blocking failure')}, {count_en(failed.height - n_err, 'warning')}",
    )
    if n_err:
        _say(
            "[red]阻断性检查失败：[/red]其下游未构建，已发布的快照保持原样。请按上表所列的行修正源文件，"
            "以同名重新放入着陆区（新版本替换旧版本），再运行 `ipcity run`。",
            "[red]blocking checks failed:[/red] nothing below them was built and the published snapshot stays as "
            "it was. Correct the rows shown above in the source file, put it back under the same name (the new "
            "version replaces the old), then `ipcity run`.",
        )
    if rej is not None and rej.height:
        t = Table(
            "source / 数据源", "reason / 原因", "rows / 行数", title="quarantined rows by reason · 按原因统计的隔离行"
        )
        for r in rej.iter_rows(named=True):
            t.add_row(escape(r["source"]), escape(_reason_code_both(r, 120)), f"{r['rows']:,}")
        console.print(t)


def _fold(table: Table, *headers: str) -> None:
    """Names an operator looks up (an asset, a check) wrap whole instead of ending in "…" in a narrow table."""
    for column in table.columns:
        if column.header in headers:
            column.overflow = "fold"


def _both(label_text, code) -> str:
    """A code's label from the labels seed in both languages ("dbt 数据测试 / dbt data test")."""
    zh, en = label_text(code, "zh"), label_text(code, "en")
    return zh if zh == en else f"{zh} / {en}"


def _check_words(r: dict) -> str:
    """A check as the quality page says it, in 简体中文 and English (a dbt test: what it checks, on which table and
    column), with its technical name below, dimmed: `not_null_dim_city_unit_name` alone told an official nothing.
    Escaped: the names come from suite files and ymls."""
    from dashboards.check_text import check_label, dbt_check_description

    if r["engine"] == "dbt":
        zh, en = (
            dbt_check_description(r["asset"], r.get("rule"), r.get("column_names"), r.get("expectation"), lang)
            for lang in ("zh", "en")
        )
    else:
        zh, en = (check_label(r["check_name"], r["asset"], r.get("expectation"), lang) for lang in ("zh", "en"))
    words = zh if zh == en else f"{zh} / {en}"
    return f"{escape(words)}\n[dim]{escape(r['check_name'])}[/dim]"


def _sample(value, limit: int = 160) -> str:
    """A failed check's failing rows as the operator can find them in the file: the first few, their values."""
    import json

    try:
        rows = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return str(value)[:limit]
    if not rows:
        return ""
    if isinstance(rows, dict):
        rows = [rows]
    if all(isinstance(r, dict) and {"rule", "failing_rows"} <= r.keys() for r in rows):
        # a dbt column_rules test: each failing column and rule with its rows
        return "; ".join(
            f"{r.get('column_name') or '—'}: {r['rule']} ({count_en(r['failing_rows'], 'row')})" for r in rows
        )[: limit * 2]
    text = "; ".join(
        ", ".join(f"{k}={v}" for k, v in r.items()) if isinstance(r, dict) else str(r) for r in list(rows)[:3]
    )
    return text[:limit]


def _print_refused_files(con) -> None:
    """Files refused whole (status failed, never replaced by a loaded version): which, why, what to do."""
    rows = con.sql(
        "SELECT source, file_name, message, ingested_at FROM raw.ingested_files WHERE status = 'failed' "
        "ORDER BY source, file_name"
    ).fetchall()
    if not rows:
        return
    t = Table(
        "source / 数据源",
        "file / 文件",
        "reason / 原因",
        f"when / 时间 {_ZONE}",
        title="refused files · 拒收的文件",
    )
    for source, name, message, at in rows:
        t.add_row(
            escape(source), escape(name), escape(_refusal(message, f"{source}/{name}")), escape(china_time_text(at))
        )
    console.print(t)
    _say(
        "整个文件未入库。修正后以同名放回着陆区（新版本替换旧版本）再运行 `ipcity run`，或将其移出着陆区。",
        "Nothing of these files was loaded. Mend the file and put it back under the same name (the new version "
        "replaces the old), then `ipcity run`; or remove it from the landing folder.",
    )


def _print_file_notes(con) -> None:
    """What the loader noted on each loaded file (hidden rows read, breakdown rows set aside, units converted,
    sheets skipped...), in 简体中文 with the English below, as refusals read: the ledger keeps the English."""
    from pipelines.ingest.reason_labels import notes_both

    rows = con.sql(
        "SELECT source, file_name, message FROM raw.ingested_files WHERE status = 'loaded' "
        "AND coalesce(message, '') <> '' ORDER BY source, file_name"
    ).fetchall()
    if not rows:
        return
    t = Table("source / 数据源", "file / 文件", "notes / 说明", title="notes on loaded files · 已入库文件的说明")
    for source, name, message in rows:
        t.add_row(escape(source), escape(name), escape(notes_both(message, source)))
    console.print(t)


def _print_quarantine_by_file(con) -> None:
    """Quarantined rows by file: how many, which row numbers, the reasons (raw.rejected_rows holds each row's
    raw values), and what to do."""
    if not _has_table(con, "raw", "rejected_rows"):
        return
    rows = con.sql(
        """
        SELECT source, file_name, count(*) AS n,
               string_agg(coalesce(sheet || '!', '') || row_number::VARCHAR, ', ' ORDER BY sheet, row_number)
                 FILTER (WHERE rn <= 10) AS first_rows,
               string_agg(DISTINCT reason, '; ') AS reasons
        FROM (SELECT *, row_number() OVER (PARTITION BY source, file_name ORDER BY sheet, row_number) AS rn
              FROM raw.rejected_rows)
        GROUP BY source, file_name ORDER BY source, file_name
        """
    ).fetchall()
    if not rows:
        return
    t = Table(
        "source / 数据源",
        "file / 文件",
        "rows / 行数",
        "row numbers / 行号",
        "reasons / 原因",
        title="quarantined rows · 隔离的行",
    )
    _fold(t, "reasons / 原因")  # the Chinese line wraps whole instead of ending in "…"
    for source, name, n, first, reasons in rows:
        t.add_row(
            escape(source),
            escape(name),
            f"{n:,}",
            (escape(first or "")) + (" …" if n > 10 else ""),
            # in 简体中文 and English: the ledger keeps the loader's English reasons
            escape(_reasons_both(reasons or "", source, 300)),
        )
    console.print(t)
    _say(
        "这些行未入库（raw.rejected_rows 保存原始值与原因）。修正后以同名重新发送该文件，新版本替换旧版本。",
        "These rows were not loaded (raw.rejected_rows keeps their raw values and reasons). Correct them and re-send "
        "the file under the same name: the new version replaces the old.",
    )


def _reasons_both(reasons: str, source: str | None, limit: int) -> str:
    """The loader's reasons (English, "; "-joined) in 简体中文, then as recorded."""
    from pipelines.ingest.reason_labels import reason_text

    zh = reason_text(reasons, source, "zh")
    return reasons[:limit] if zh == reasons else f"{zh[:limit]}\n{reasons[:limit]}"


def _reason_code_both(r: dict, limit: int) -> str:
    """A quarantine reason code in 简体中文 (from its recorded example, up to the value) and as recorded."""
    from pipelines.ingest.reason_labels import reason_text

    zh = reason_text(r.get("reason") or r["reason_code"], r["source"], "zh").split("：")[0]
    return r["reason_code"][:limit] if zh == r["reason_code"] else f"{zh[:limit]} / {r['reason_code'][:limit]}"


def _observed(value) -> str:
    import json

    try:
        v = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return str(value)[:60]
    if isinstance(v, dict) and "unexpected_count" in v:
        total = v.get("element_count")
        # "1 of 1 row", "3 of 10 rows": the noun agrees with the total it counts in
        rows = count_en(total, "row") if isinstance(total, int) else "? rows"  # a result without its total
        return f"{v['unexpected_count']:,} of {rows} unexpected"
    if isinstance(v, dict) and "status" in v:  # a dbt test: its status and failing rows
        return f"{v['status']}, {count_en(v.get('failures') or 0, 'row')} failing" if v["status"] != "pass" else "pass"
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
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--threads", default=4, show_default=True, help="Threads per worker.")
@click.option(
    "--debug", is_flag=True, help="Flask's development server with Dash's developer tools (never in production)."
)
@click.option("--background", is_flag=True, help="Start detached; the PID is written to data/dashboard.pid.")
@click.option("--stop", is_flag=True, help="Stop a background dashboard started with --background.")
@click.option("--trust-proxy", is_flag=True, help="Behind one reverse proxy: the same as --trusted-proxies 1.")
@click.option(
    "--trusted-proxies",
    type=click.IntRange(0, settings.MAX_TRUSTED_PROXIES),
    default=None,
    help="How many reverse proxies of this deployment append to X-Forwarded-For before gunicorn (default 0, or "
    "IPCITY_TRUSTED_PROXIES): only their entries are believed, never what a client writes there.",
)
@click.option("--certfile", type=click.Path(exists=True, dir_okay=False), default=None, help="Serve TLS directly.")
@click.option("--keyfile", type=click.Path(exists=True, dir_okay=False), default=None)
def serve(
    host: str,
    port: int,
    workers: int,
    threads: int,
    debug: bool,
    background: bool,
    stop: bool,
    trust_proxy: bool,
    trusted_proxies: int | None,
    certfile: str | None,
    keyfile: str | None,
) -> None:
    """启动看板（简体中文 / English），只读已发布的快照。
    The dashboard (简体中文 / English) under gunicorn, reading the published snapshot, never the warehouse.

    Everyone signs in; accounts are managed with `ipcity users`. Stoppable by PID (`--stop` or kill -- -PID)."""
    from dashboards.auth import UserStore, first_run_hint, secret_key

    loopback = ("127.0.0.1", "localhost", "::1")
    if debug and host not in loopback:
        # The development server's Werkzeug debugger answers before the sign-in gate and runs Python for anyone
        # who has its PIN: never on an address other machines reach.
        raise click.UsageError(
            f"--debug serves on a loopback address only ({term_text(', '.join(loopback))}), not {term_text(host)}"
        )
    pid_file = settings.data_dir() / "dashboard.pid"
    if stop:
        if not pid_file.exists():
            console.print("no background dashboard recorded")
            return
        pid = int(pid_file.read_text())
        _stop_group(pid)
        pid_file.unlink(missing_ok=True)
        console.print(f"stopped the dashboard (process group {pid})")
        return
    secret_key()  # generated once, before any worker starts (0600, beside the warehouse)
    hint = first_run_hint(UserStore())
    if hint:
        console.print(f"[yellow]{escape(hint)}[/yellow]")
    scheme = "https" if certfile else "http"
    console.print(
        f"dashboard: {escape(scheme)}://{escape(host)}:{port}  (snapshot {escape(settings.snapshot_path().name)})"
    )
    if debug:
        console.print("[red]debug mode: development server and developer tools — not for production[/red]")
        from dashboards.app import serve as run_dev_server

        run_dev_server(host=host, port=port, debug=True)
        return
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--timeout",
        "120",
        "--graceful-timeout",
        "20",
        # Outer request limits (the app has its own): request line, header count and header size.
        "--limit-request-line",
        "4094",
        "--limit-request-fields",
        "60",
        "--limit-request-field_size",
        "8190",
        "--access-logfile",
        "-",
        # Which proxies may say the request came over TLS is the app's decision (ProxyFix with --trusted-proxies,
        # dashboards/web.py). gunicorn by default believes X-Forwarded-Proto/-Ssl from 127.0.0.1: behind a local
        # proxy that passes the client's headers on, a client could mark its own plain-HTTP request as TLS.
        "--forwarded-allow-ips",
        "",
    ]
    if certfile:
        cmd += ["--certfile", certfile, "--keyfile", keyfile or certfile]
    cmd.append("dashboards.wsgi:application")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(settings.PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
    }
    if trusted_proxies is not None or trust_proxy:
        env[settings.TRUSTED_PROXIES_ENV] = str(trusted_proxies if trusted_proxies is not None else 1)
    log = open(settings.data_dir() / "dashboard.log", "ab") if background else None
    proc = subprocess.Popen(
        cmd,
        cwd=settings.PROJECT_ROOT,
        start_new_session=True,
        env=env,
        stdin=subprocess.DEVNULL if background else None,
        stdout=log,
        stderr=log,
    )
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(str(proc.pid))
    console.print(f"gunicorn pid {proc.pid} ({workers} workers × {threads} threads); stop: `ipcity serve --stop`")
    if background:
        console.print(f"log: {escape(settings.data_dir() / 'dashboard.log')}")
        return
    try:
        proc.wait()
    except KeyboardInterrupt:
        _stop_group(proc.pid)
    finally:
        pid_file.unlink(missing_ok=True)


@main.group()
def users() -> None:
    """看板账号管理（角色：national、province、viewer、evaluator）。
    Dashboard accounts (roles: national, province, viewer, evaluator) in data/access/users.sqlite."""


def _store():
    from dashboards.auth import UserStore

    return UserStore()


def _password_source(_ctx, _param, value: str | None) -> str | None:
    """``--password`` takes '-' (read the password from stdin) and nothing else. A password written on the command
    line was silently ignored and asked for again, but it had already been seen by every local user (``ps``, /proc)
    and kept in the shell's history: refused, before anything else happens, with the way to do it instead."""
    if value not in (None, "-"):
        raise click.BadParameter(
            "'-' only (the password is then read from stdin); a password on the command line is visible to other "
            "users of this computer and stays in the shell history. Leave --password out to be asked for it, and "
            "change this password: it has been exposed. / 只接受 '-'（从标准输入读取密码）：写在命令行上的密码会被本机"
            "其他用户看到，并留在 shell 历史记录中。请去掉 --password 以交互方式输入，并更换这个已暴露的密码。"
        )
    return value


def _password(value: str | None, username: str) -> str:
    if value == "-":
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(f"password for {term_text(username)}", hide_input=True, confirmation_prompt=True)


def _user_errors(fn):
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from dashboards.auth import UserError

        try:
            return fn(*args, **kwargs)
        except UserError as e:
            console.print(f"[red]{escape(e)}[/red]")
            sys.exit(2)

    return wrapper


_ROLE = click.Choice(["national", "province", "viewer", "evaluator"])


@users.command("add")
@click.argument("username")
@click.option("--role", type=_ROLE, required=True)
@click.option("--province", default=None, help="Province code for the province role (44 or 440000).")
@click.option(
    "--password",
    "password_src",
    default=None,
    callback=_password_source,
    help="'-' reads the password from stdin (scripts); never the password itself.",
)
@_user_errors
def users_add(username: str, role: str, province: str | None, password_src: str | None) -> None:
    """新建账号。 Create an account (the password is asked twice, or read from stdin with --password -)."""
    store = _store()
    store.check_new_account(username, role, province)  # name, role, province: refused before the password is asked
    u = store.add(username, _password(password_src, username), role, province)
    console.print(
        f"added {escape(u.username)} ({escape(u.role)}{escape(' ' + u.province_code if u.province_code else '')})"
    )


@users.command("list")
def users_list() -> None:
    """列出账号。 List the accounts."""
    from pipelines.labels import YES_NO_ZH  # 是/否: one constant, as the extracts write it

    t = Table(
        "user / 用户",
        "role / 角色",
        "province / 省份",
        "active / 启用",
        "created / 创建",
        "updated / 更新",
        title="dashboard accounts · 看板账号",
    )
    from dashboards.auth import without_province

    store = _store()
    accounts = store.list()
    for u in accounts:
        t.add_row(
            escape(u.username),
            escape(u.role),
            # a code that is no province is marked where the operator reads it (and named with the fix below)
            f"[red]{escape(u.province_code or '')} ⚠ 无此省份 · no such province[/red]"
            if without_province(u)
            else escape(u.province_code or ""),
            f"{YES_NO_ZH[0]} yes" if u.active else f"{YES_NO_ZH[1]} no",
            escape(u.created_at),
            escape(u.updated_at),
        )
    console.print(t)
    for u in filter(without_province, accounts):
        # made before `users add` checked the province (or written into the store by hand): the web refuses it
        _say(
            f"[yellow]账号 {escape(u.username)} 的省份代码 {escape(u.province_code or '')} 不是任何省份[/yellow]，"
            f"该账号无法登录、什么也看不到——请更正（`ipcity users set-role {escape(u.username)} province "
            "--province 44`）或停用（`ipcity users disable`）",
            f"[yellow]account {escape(u.username)} has province code {escape(u.province_code or '')}, which is no "
            "province[/yellow]: it cannot sign in and sees nothing — correct it (`ipcity users set-role "
            f"{escape(u.username)} province --province 44`) or disable it (`ipcity users disable`)",
        )
    for names in store.same_name_accounts().values():
        # made before user names were keyed by case and width: each signs in by its exact name only
        _say(
            f"[yellow]这些账号仅大小写或全角半角不同：{escape(', '.join(names))}[/yellow]——请停用其中多余的账号（`ipcity users disable`）",
            f"[yellow]these accounts differ only in case or width: {escape(', '.join(names))}[/yellow] — disable the extra one "
            "(`ipcity users disable`)",
        )


@users.command("disable")
@click.argument("username")
@_user_errors
def users_disable(username: str) -> None:
    """停用账号。 Disable an account; its open sessions end at their next request."""
    _store().disable(username)
    console.print(f"disabled {escape(username)}")


@users.command("enable")
@click.argument("username")
@_user_errors
def users_enable(username: str) -> None:
    """启用账号。 Enable an account."""
    _store().enable(username)
    console.print(f"enabled {escape(username)}")


@users.command("reset-password")
@click.argument("username")
@click.option(
    "--password",
    "password_src",
    default=None,
    callback=_password_source,
    help="'-' reads the password from stdin; never the password itself.",
)
@_user_errors
def users_reset_password(username: str, password_src: str | None) -> None:
    """重设密码。 Set a new password; open sessions of the account end."""
    store = _store()
    store.account_name(username)  # no such account: said before the new password is asked (twice)
    store.reset_password(username, _password(password_src, username))
    console.print(f"password reset for {escape(username)}")


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=_ROLE)
@click.option("--province", default=None, help="Province code for the province role.")
@_user_errors
def users_set_role(username: str, role: str, province: str | None) -> None:
    """更改账号角色。 Change an account's role (and province)."""
    u = _store().set_role(username, role, province)
    console.print(f"{escape(u.username)}: {escape(u.role)}{escape(' ' + u.province_code if u.province_code else '')}")


@users.command("audit")
@click.option("--limit", default=50, show_default=True)
@click.option(
    "--name",
    default=None,
    help="Only the rows of this name: an account, or a name tried at sign-in (the log keeps such a name only as its "
    "fingerprint, '?' and 16 hex digits, which this matches).",
)
@click.option(
    "--province",
    default=None,
    help="Only the files taken of this province's figures (44 or 440000): its extracts, its cities' dossiers and "
    "reports, and the files of all provinces.",
)
def users_audit(limit: int, name: str | None, province: str | None) -> None:
    """最近的登录与被拒请求。 The latest sign-ins and refused requests (who, what, when)."""
    from dashboards.security import BadParameter, normalise_province

    try:
        province = normalise_province(province)
    except BadParameter as e:
        raise click.BadParameter(term_text(e), param_hint="'--province'") from None
    t = Table(
        "at (UTC) / 时间（UTC）",
        "user / 用户",
        "role / 角色",
        "action / 操作",
        "target / 对象",
        "outcome / 结果",
        "address / 地址",
        "detail / 详情",
        title="audit log · 审计日志",
    )

    store = _store()
    rows = store.audit_rows(limit if name is None and province is None else 100_000)
    if name is not None:
        wanted = {store.audit_name(name), store.name_fingerprint(name)}
        rows = [r for r in rows if r["username"] in wanted or r["target"] in wanted]
    if province is not None:
        # files taken (a route's, or a page button's download), whose detail says whose figures they hold
        # (access.granted_scope): 'province P', 'unit U (province P)' or 'all provinces'
        rows = [
            r
            for r in rows
            if r["action"] in ("file", "download")
            and r["outcome"] == "ok"
            and (f"province {province}" in (r["detail"] or "") or (r["detail"] or "").startswith("all provinces"))
        ]
    rows = rows[:limit]
    for r in rows:  # every value is data (a path someone asked for): escape() below
        t.add_row(
            escape(r["at"]),
            escape(r["username"] or ""),
            escape(r["role"] or ""),
            escape(r["action"]),
            escape(r["target"] or ""),
            escape(r["outcome"]),
            escape(r["remote_addr"] or ""),
            escape(r["detail"] or ""),
        )
    console.print(t)


@main.command()
@click.option("--province", required=True, help="Province code: 44 or 440000.")
@click.option("--year", type=int, required=True, help="Evaluation year.")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv", "parquet"]), default="xlsx", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Extracts folder (default data/extracts).")
def extract(province: str, year: int, fmt: str, out: Path | None) -> None:
    """生成某省某年的数据包。
    The province's extract for YEAR from the published snapshot: a new version when anything changed since the
    last one (its changes listed), else the current version. Prints the file paths."""
    import duckdb

    from dashboards.security import BadParameter, normalise_province
    from pipelines.extracts import ensure_file, extracts_dir, province_codes, read_versions, write_extract

    try:
        code = normalise_province(province)
    except BadParameter as e:
        raise click.BadParameter(term_text(e), param_hint="--province") from None
    snap = settings.snapshot_path()
    if not snap.exists():
        console.print("[red]no published snapshot yet[/red] — run `ipcity run` first")
        sys.exit(1)
    root = out or extracts_dir()
    with duckdb.connect(str(snap), read_only=True) as con:
        if code not in province_codes(con):
            console.print(f"[red]unknown province {escape(code)}[/red]")
            sys.exit(2)
        years = [r[0] for r in con.execute("select distinct year from marts.fct_city_score_year").fetchall()]
        if year not in years:
            console.print(f"[red]no data for {year}[/red] (years: {min(years)}–{max(years)})")
            sys.exit(2)
        entry = write_extract(con, root, code, year)
    created = entry is not None
    entry = entry or read_versions(root, code, year)[-1]
    console.print(
        f"{escape(entry['province_name'])} {year} v{escape(entry['version'])} · release {escape(entry['release_id'])}"
        + (
            f" · {escape(count_en(entry['changes'], 'changed row'))} since v{escape(entry['previous_version'])}"
            if entry["previous_version"]
            else ""
        )
        + ("" if created else " (unchanged since this version)")
    )
    for f in entry["files"]:
        if f["format"] == fmt:
            # an unchanged version's workbook may be one the run left to its first request: build it now
            console.print(escape(str(ensure_file(root, f["path"]) or Path(root) / f["path"])))


@main.command()
@click.option("--year", type=int, required=True, help="Evaluation year.")
@click.option("--city", default=None, help="A city's one-pager (code such as 440300, or a name such as 深圳).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="PDF file (default data/reports/...).")
def report(year: int, city: str | None, lang: str, out: Path | None) -> None:
    """可打印的年度报告（PDF）。 Printable annual report (PDF): the national report of YEAR, or --city's one-pager."""
    import duckdb

    from dashboards.report import write_report

    snap = settings.snapshot_path()
    if not snap.exists():
        raise click.ClickException(f"no published snapshot at {term_text(snap)}: run `ipcity run` first")
    unit = None
    if city:
        from pipelines.evaluation.dossier import resolve_unit

        with duckdb.connect(str(snap), read_only=True) as con:
            try:
                unit = resolve_unit(con, city)
            except ValueError as exc:  # an unknown or ambiguous --city: said, not a traceback
                raise click.BadParameter(term_text(exc), param_hint="--city") from None
    name = f"report_{year}" + (f"_{unit}" if unit else "") + f"_{lang}.pdf"
    target = out or settings.warehouse_path().parent / "reports" / name
    if out is None:  # the project's own reports folder: owner-only (a folder named with --out keeps its mode)
        from pipelines.private_files import private_dir

        private_dir(target.parent)
    try:
        path = write_report(snap, year, unit, target, lang)
    except KeyError as exc:
        raise click.ClickException(f"no such city in the snapshot: {term_text(exc)}") from exc
    console.print(f"written: {escape(path)}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True)
@click.option("--build-only", is_flag=True, help="Build the site (dbt_project/target/docs) without serving it.")
def docs(host: str, port: int, build_only: bool) -> None:
    """dbt 文档：每个模型与字段、血缘。 The dbt docs: every model and column, and the lineage dashboard page → mart → source."""
    from pipelines.docs import docs_server, generate_docs

    folder = generate_docs()
    console.print(f"docs built in {escape(folder / 'static_index.html')}")
    if build_only:
        return
    server = docs_server(folder, host, port)
    console.print(f"serving the docs on http://{escape(host)}:{port} (Ctrl+C stops)")
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
    """城市证据档案（Markdown 与 HTML）。
    Evidence dossier for CITY (code such as 410700, or a name such as 新乡) in Markdown and HTML."""
    import duckdb

    from pipelines.evaluation.dossier import resolve_unit, write_dossier

    snap = settings.snapshot_path()
    source = snap if snap.exists() else settings.warehouse_path()
    with duckdb.connect(str(source), read_only=True) as con:
        unit = resolve_unit(con, city)
    paths = write_dossier(source, unit, year, out or settings.dossier_dir())
    for p in paths:
        console.print(f"written: {escape(p)}")


@main.command()
@click.option("--year", type=int, default=None, help="Evaluation year (default: the last year of the window).")
@click.option("--reason", default="", help="Why (recorded with the release, e.g. the correction behind a restatement).")
def release(year: int | None, reason: str) -> None:
    """将某年的评估发布为不可更改的版本。
    Publish the evaluation of YEAR as an immutable release (a restatement when its figures changed)."""
    from pipelines.evaluation.releases import release as do_release
    from pipelines.snapshot_writer import publish_snapshot

    wh = settings.warehouse_path()
    try:
        result = do_release(wh, year, reason=reason)
    except ValueError as e:  # a year outside the window, no uncertainty runs, a released rules version edited
        raise click.ClickException(term_text(e)) from e
    if not result.created:
        console.print(
            f"{escape(result.release_id)}: the evaluation of {escape(result.evaluation_year)} is released with these figures"
        )
        return
    console.print(
        f"[green]released {escape(result.release_id)}[/green] (evaluation year {escape(result.evaluation_year)})"
    )
    if result.supersedes_release_id:
        console.print(
            f"restatement of {escape(result.supersedes_release_id)}; changed: {escape(', '.join(result.changed_units))}"
        )
        if result.diff is not None and result.diff.height:
            t = Table(
                "unit / 单位",
                "name / 名称",
                "field / 字段",
                "old / 原值",
                "new / 新值",
                "why / 原因",
                title="restatement diff · 更正对比",
            )
            for r in result.diff.head(50).iter_rows(named=True):
                t.add_row(
                    escape(r["unit_code"]),
                    escape(r["unit_name"] or ""),
                    escape(r["field"]),
                    escape(r["old_value"] or ""),
                    escape(r["new_value"] or ""),
                    escape(r["reason"]),
                )
            console.print(t)
    publish_snapshot(wh)


@main.command()
@click.option("--port", default=3000, show_default=True, help="调度界面的端口。 Port of the Dagster UI.")
@click.option(
    "--background",
    is_flag=True,
    help="后台启动，进程号写入 data/dagster_dev.pid。 Start detached; the PID is written to data/dagster_dev.pid.",
)
@click.option(
    "--stop",
    is_flag=True,
    help="停止以 --background 启动的调度界面。 Stop a background Dagster UI started with --background.",
)
def dev(port: int, background: bool, stop: bool) -> None:
    """Dagster 调度界面（传感器与定时任务随之运行）。 Dagster UI on 127.0.0.1 (sensors and schedules run too). Stoppable by PID."""
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
        console.print(f"log: {escape(settings.data_dir() / 'dagster_dev.log')}")
        return
    try:
        proc.wait()
    except KeyboardInterrupt:
        _stop_group(proc.pid)
    finally:
        pid_file.unlink(missing_ok=True)


@main.group()
def template() -> None:
    """生成平台接受的上报模板。 Generate the upload templates the platform accepts (Chinese headers, a notes sheet)."""


@template.command("third-party")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output file, .xlsx or .csv (default: third_party_evaluation_template.xlsx in the current folder).",
)
@click.option(
    "--from",
    "source_db",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Warehouse or snapshot whose pending cycles are pre-filled (default: the published snapshot, if any).",
)
@click.option("--empty", is_flag=True, help="Headers only, no pre-filled rows.")
def template_third_party(out: Path | None, source_db: Path | None, empty: bool) -> None:
    """第三方评估模板。 The third-party evaluation template (第三方评估模板): one row per programme unit and pending cycle."""
    from pipelines.third_party import pending_cycles, write_template

    out = out or Path("third_party_evaluation_template.xlsx")
    if out.suffix.lower() not in (".xlsx", ".csv"):
        raise click.BadParameter("the template is written as .xlsx or .csv", param_hint="--out")
    rows, nature = None, None
    if not empty:
        db = source_db or settings.snapshot_path()
        if db.is_file():
            rows = pending_cycles(db)
            # the pre-filled rows say what the snapshot they come from loaded (synthetic sample or real)
            import duckdb

            from pipelines.data_nature import nature_of

            with duckdb.connect(str(db), read_only=True) as con:
                nature = nature_of(con)
        else:
            console.print(f"[yellow]no snapshot at {escape(db)}: writing headers only[/yellow]")
    path = write_template(out, rows, nature=nature)
    n = 0 if rows is None else rows.height
    console.print(f"third-party evaluation template: {escape(path)} ({n} pending unit-cycles pre-filled)")
    console.print(
        f"fill it in and put it in {escape(settings.landing_dir() / 'third_party_evaluations')}/, then `ipcity run`"
    )


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True}, add_help_option=False)
@click.pass_context
def bench(ctx: click.Context) -> None:
    """全国规模的性能基准。 Benchmarks at national scale (bench/run.py; `ipcity bench --help` for its options). Prints figures."""
    script = settings.PROJECT_ROOT / "bench" / "run.py"
    sys.exit(subprocess.call([sys.executable, str(script), *ctx.args], cwd=settings.PROJECT_ROOT))


# ------------------------------------------------------------------------------------------------ alerts
def _duration(text: str):
    from datetime import timedelta

    units = {"m": 60, "h": 3600, "d": 86400, "w": 604800, "s": 1}
    text = text.strip().lower()
    if not text or text[-1] not in units or not text[:-1].replace(".", "", 1).isdigit():
        raise click.BadParameter(f"{text!r}: use a number and a unit, e.g. 30m, 12h, 7d, 2w")
    return timedelta(seconds=float(text[:-1]) * units[text[-1]])


@main.group()
def alerts() -> None:
    """预警：列出、确认、静默、测试路由、投递。 Alerts: list, acknowledge, silence, test the routes, deliver what is due."""


@alerts.command("list")
@click.option("--state", type=click.Choice(["firing", "resolved", "all"]), default="firing", show_default=True)
@click.option("--city", default=None, help="City code, e.g. 410700.")
@click.option(
    "--deliveries",
    is_flag=True,
    help="Show the delivery ledger instead: each digest, to whom, what it carried, delivered or not and the "
    "receiver's answer · 改为显示投递记录.",
)
@click.option(
    "--status",
    "delivery_status",
    type=click.Choice(["pending", "delivered", "failed", "superseded"]),
    default=None,
    help="With --deliveries: only digests in this state (failed: refused for good or out of attempts).",
)
def alerts_list(state: str, city: str | None, deliveries: bool, delivery_status: str | None) -> None:
    """列出预警或投递台账。
    Alerts in the store (fingerprint, rule, city, state, acknowledged/silenced), or the delivery ledger."""

    from pipelines.alerts import alert_history
    from pipelines.alerts.store import active_silence, connect, now_utc, store_path
    from pipelines.china_time import china_time_text

    if deliveries:
        _print_ledger(store_path(), delivery_status, city)
        return
    hist = alert_history(unit_code=city, state=None if state == "all" else state)
    if not hist.height:
        console.print(f"no {escape(state if state != 'all' else '')} alerts in {escape(store_path())}")
        return
    now = now_utc()
    with connect() as con:
        silenced = {r["fingerprint"]: active_silence(con, r, now) for r in hist.iter_rows(named=True)}
    t = Table(
        "id",
        "rule / 规则",
        "kind / 类型",
        "severity / 级别",
        "city / 城市",
        "subject / 对象",
        "state / 状态",
        f"since / 开始 {_ZONE}",
        "ack / 确认",
        f"silenced until / 静默至 {_ZONE}",
        "title / 标题",
        title=f"alerts · 预警 ({state})",
    )
    for r in hist.iter_rows(named=True):
        s_ = silenced.get(r["fingerprint"])
        t.add_row(
            escape(r["fingerprint"][:8]),
            escape(r["rule_id"]),
            escape(r["kind"]),
            escape(r["severity"]),
            escape(r["unit_code"] or ""),
            escape(r["subject_key"]),
            escape(r["state"]),
            escape(china_time_text(r["last_fired_at"])),  # the store's UTC, read by offices in Beijing time
            (escape(r["acked_by"] or "")) if r["acked_at"] else "",
            escape(china_time_text(s_["ends_at"])) if s_ else "",
            escape(r["title_zh"][:60]),  # a city's name is data: no rich markup from it
        )
    console.print(t)


@alerts.command("ack")
@click.argument("alert_id")
@click.option("--by", "by", default=lambda: os.environ.get("USER", "cli"), help="Who acknowledges.")
@click.option("--comment", default="")
def alerts_ack(alert_id: str, by: str, comment: str) -> None:
    """确认预警。 Acknowledge an alert (its id: the first 8+ characters of the fingerprint)."""
    from pipelines.alerts.store import acknowledge

    try:
        n = acknowledge(alert_id, by, comment)
    except ValueError as e:
        raise click.BadParameter(term_text(e)) from e
    if not n:
        console.print(f"[red]no alert {escape(alert_id)}[/red]")
        sys.exit(1)
    console.print(f"acknowledged {count_en(n, 'alert')} as {escape(by)}")


@alerts.command("silence")
@click.argument("alert_id", required=False)
@click.option("--for", "period", required=True, help="How long, e.g. 30m, 12h, 7d.")
@click.option("--rule", default=None, help="Silence every alert of this rule (with --city/--province: theirs).")
@click.option("--city", default=None)
@click.option("--province", default=None)
@click.option("--by", "by", default=lambda: os.environ.get("USER", "cli"))
@click.option("--comment", default="")
def alerts_silence(alert_id, period, rule, city, province, by, comment) -> None:
    """静默预警一段时间。 Silence an alert (or all alerts of a rule / city / province) for a period: nothing is sent meanwhile;
    an alert still firing when the silence ends is sent again."""
    from pipelines.alerts.store import connect, silence
    from pipelines.china_time import china_time_text

    try:
        sid = silence(
            by=by,
            duration=_duration(period),
            fingerprint=alert_id,
            rule_id=rule,
            unit_code=city,
            province_code=province,
            comment=comment,
        )
    except ValueError as e:
        raise click.BadParameter(term_text(e)) from e
    with connect() as con:
        ends = con.execute("SELECT ends_at FROM alerts.silences WHERE silence_id = ?", (sid,)).fetchone()[0]
    # when it ends, in Beijing time and saying so: "for 7d" alone leaves the reader to count from an unknown start
    console.print(
        f"silence {escape(sid)} for {escape(period)}, until {escape(china_time_text(ends, 'en'))} · 静默至 {escape(china_time_text(ends, 'zh'))}"
    )


@alerts.command("unsilence")
@click.argument("silence_id", type=int)
def alerts_unsilence(silence_id: int) -> None:
    """立即结束静默。 End a silence now."""
    from pipelines.alerts.store import expire_silence

    expire_silence(silence_id)
    console.print(f"silence {escape(silence_id)} ended")


@alerts.command("test")
@click.option("--route", default=None, help="Only this route (default: every route).")
@click.option(
    "--province",
    "provinces",
    multiple=True,
    help="For a per-province route: this province office's recipients, e.g. 410000 (repeatable; default 110000).",
)
def alerts_test(route: str | None, provinces: tuple[str, ...]) -> None:
    """向每条路由发送测试消息。 Send a test message over every configured route and channel, through the same ledger."""
    from pipelines.alerts import AlertConfigError, send_test
    from pipelines.alerts.config import load_routing

    try:
        warnings = load_routing().warnings
        out = send_test(route=route, provinces=provinces)
    except AlertConfigError as e:
        raise click.ClickException(term_text(e)) from e
    for w in warnings:  # used as written, but likely not reaching people as meant (an smtp channel with no sender)
        console.print(f"[yellow]路由配置提醒 · routing file warning: {escape(str(w))}[/yellow]")
    _print_deliveries(out, title="test messages · 测试消息")
    if any(r["status"] != "delivered" for r in out):
        sys.exit(1)


@alerts.command("deliver")
@click.option(
    "--retry-failed", is_flag=True, help="Requeue messages parked as failed first (each gets one more attempt)."
)
def alerts_deliver(retry_failed: bool) -> None:
    """投递到期的消息。
    Deliver messages whose retry time has come (the delivery sensor does this every minute under `ipcity dev`)."""
    from pipelines.alerts.config import AlertConfigError, load_routing, load_rules
    from pipelines.alerts.lifecycle import deliver_due, take_bounces
    from pipelines.alerts.store import connect

    try:
        routing = load_routing()  # a bad routing file is reported before anything is requeued
    except AlertConfigError as e:
        raise click.ClickException(term_text(e)) from e
    bounced = take_bounces(routing, load_rules())
    if bounced:  # delivered to the relay, refused further on: named before the retries (--retry-failed requeues them)
        _print_deliveries(bounced, title="bounced · 退信")
    if retry_failed:
        with connect() as con:
            con.execute("UPDATE alerts.messages SET status = 'pending', next_retry_at = NULL WHERE status = 'failed'")
    out = deliver_due(routing)
    console.print(f"{count_en(len(out), 'due message')}: {sum(d['status'] == 'delivered' for d in out)} delivered")
    if out:  # what happened to each, with the receiver's answer: "0 delivered" alone does not say what to mend
        _print_deliveries(out)


@alerts.command("status")
def alerts_status() -> None:
    """各投递通道的状态及静默时段内等待的摘要。
    Each delivery channel's state: answering, or refusing its credentials (HTTP 401/403) since when, with the
    receiver's answer, how many digests wait for it and when it is tried next; and, with delivery quiet hours set,
    the digests they hold and until when."""
    from pipelines.alerts.answers import answer_both
    from pipelines.alerts.config import AlertConfigError, load_routing
    from pipelines.alerts.lifecycle import channel_states, quiet_waits
    from pipelines.alerts.store import connect, now_utc
    from pipelines.china_time import china_time_text

    try:
        routing = load_routing()
    except AlertConfigError as e:
        raise click.ClickException(term_text(e)) from e
    with connect() as con:
        states = channel_states(con, routing.channels)
    for w in routing.warnings:  # used as written, but likely not reaching people as meant (no sender, no TLS)
        console.print(f"[yellow]路由配置提醒 · routing file warning: {escape(str(w))}[/yellow]")
    t = Table("channel / 通道", "state / 状态", "since / 自", "waiting / 等待", "next try / 下次尝试", "answer / 回应")
    for s in states:
        refusing = s["state"] == "channel_refusing"
        t.add_row(
            escape(s["channel"]),
            escape(f"{s['state_zh']} / {s['state_en']}"),
            escape(china_time_text(s["since"], "zh")) if refusing else "",
            escape(str(s["waiting"])),
            escape(china_time_text(s["next_try_at"], "zh")) if refusing else "",
            escape(answer_both(s["response"][:300])) if refusing else "",
        )
    console.print(t)
    if routing.quiet_hours:
        start, end = routing.quiet_hours  # times of day, printed with their format (never data text)
        with connect() as con:
            held = quiet_waits(con, now_utc())
        console.print(
            f"静默时段（北京时间）{start:%H:%M}–{end:%H:%M}：非紧急摘要等待至时段结束，等待中{count_zh(len(held), '条')} · quiet hours "
            f"{start:%H:%M}–{end:%H:%M} Beijing time: digests without an urgent alert wait for their end, {count_en(len(held), 'digest')} waiting"
        )
        if held:
            t = Table("route / 路由", "channel / 通道", "recipient / 收件人", "subject / 主题", "waits until / 等待至")
            for m in held:
                t.add_row(
                    escape(m["route"]),
                    escape(m["channel"]),
                    escape(m["recipient"]),
                    escape(m["subject"] or ""),
                    escape(china_time_text(m["quiet_until"], "zh")),
                )
            console.print(t)
    refusing = [s for s in states if s["state"] == "channel_refusing"]
    if refusing:  # a non-zero exit for a monitor's check: a channel nobody hears from
        sys.exit(1)


@alerts.command("retry")
@click.option("--channel", required=True, help="A channel refusing its credentials, tried now (its token mended).")
def alerts_retry(channel: str) -> None:
    """立即重试拒收中的通道。
    Try a refusing channel now: its oldest waiting digest first, the rest in order once it passes."""
    from pipelines.alerts.config import AlertConfigError, load_routing
    from pipelines.alerts.lifecycle import retry_channel

    try:
        routing = load_routing()
    except AlertConfigError as e:
        raise click.ClickException(term_text(e)) from e
    if channel not in routing.channels:
        raise click.ClickException(term_text(f"路由文件中没有通道 {channel} · no channel {channel} in {routing.path}"))
    out = retry_channel(routing, channel)
    console.print(f"{count_en(len(out), 'due message')}: {sum(d['status'] == 'delivered' for d in out)} delivered")
    if out:
        _print_deliveries(out)


def _delivery_status(status: str, attempts: int = 0, response: str | None = None) -> str:
    """A digest's delivery status in both languages (the labels seed's delivery_status list); a pending digest
    that was tried already is waiting for its retry, or for its channel when the receiver refused its credentials."""
    from pipelines.alerts.channels import refuses_channel
    from pipelines.labels import label_set

    labels = label_set("delivery_status")
    code = "retry" if status in ("pending", "retry") and attempts else status
    if code == "retry" and refuses_channel(response):
        code = "waiting_channel"
    zh, en = labels.get(code, (code, code))
    return f"{zh} / {en}"


def _print_deliveries(rows: list[dict], title: str | None = None) -> None:
    """One row per message: route, channel, recipient, status and the receiver's answer (text from a server is
    data, so rich markup in it is escaped)."""

    from pipelines.alerts.answers import answer_both

    t = Table("route / 路由", "channel / 通道", "recipient / 收件人", "status / 状态", "answer / 回应", title=title)
    for r in rows:
        t.add_row(
            escape(r["route"]),
            escape(r["channel"]),
            escape(r["recipient"]),
            escape(_delivery_status(r["status"], r.get("attempts") or 0, r.get("response"))),
            escape(answer_both((r.get("response") or "")[:300])),  # the record is English; Chinese first
        )
    console.print(t)


def _print_ledger(path, status: str | None, city: str | None) -> None:
    """`ipcity alerts list --deliveries`: the newest 200 digests — when, to whom over which route and channel, what
    each carried (firing / resolved, and the cities), delivered or not after how many attempts, the next retry
    and the receiver's last answer. Everything from the store or a server is data: rich markup in it is escaped
    (a relay's answer "550 [/] ..." would otherwise stop the listing)."""

    from pipelines.alerts.answers import answer_both
    from pipelines.alerts.store import connect
    from pipelines.china_time import china_time_text

    where, params = [], []
    if status:
        where.append("m.status = ?")
        params.append(status)
    if city:
        where.append(
            "EXISTS (SELECT 1 FROM alerts.message_items AS i INNER JOIN alerts.alerts AS a USING (fingerprint) "
            "WHERE i.idempotency_key = m.idempotency_key AND a.unit_code = ?)"
        )
        params.append(city)
    sql = f"""SELECT m.idempotency_key, m.created_at, m.route, m.channel, m.recipient, m.n_firing, m.n_resolved,
                m.status, m.attempts, m.next_retry_at, m.last_response,
                (SELECT group_concat(DISTINCT coalesce(a.unit_name, a.rule_id)) FROM alerts.message_items AS i
                 INNER JOIN alerts.alerts AS a USING (fingerprint) WHERE i.idempotency_key = m.idempotency_key)
              FROM alerts.messages AS m {"WHERE " + " AND ".join(where) if where else ""}
              ORDER BY m.created_at DESC, m.idempotency_key LIMIT 200"""
    try:
        with connect(path, read_only=True) as con:
            rows = con.execute(sql, params).fetchall()
    except FileNotFoundError:
        rows = []
    t = Table(title=f"digests · 预警消息投递记录 ({path})")
    # folded, never cut short with "…": an address or a relay's answer is read whole
    for name in (
        "key / 编号",
        f"created / 生成 {_ZONE}",
        "to / 收件人",
        "carried / 内容",
        "status / 状态",
        "answer / 回应",
    ):
        t.add_column(name, overflow="fold")
    for r in rows:
        units = (r[11] or "").split(",")
        carried = f"{r[5]} firing 新预警, {r[6]} resolved 解除" + (
            f": {'、'.join(units[:5])}{'…' if len(units) > 5 else ''}" if r[11] else ""
        )
        status_cell = f"{_delivery_status(r[7], r[8])}\n{count_en(r[8], 'attempt')} · 尝试{count_zh(r[8], '次')}"
        if r[7] == "pending" and r[9]:
            status_cell += f"\nnext 下次 {china_time_text(r[9])}"
        t.add_row(
            escape(r[0][:8]),
            escape(china_time_text(r[1])),
            escape(f"{r[4]}\n{r[2]} · {r[3]}"),
            escape(carried),
            status_cell,
            escape(answer_both((r[10] or "")[:160])),
        )
    console.print(t)
    if not rows:
        console.print("no digests · 没有预警消息" + (f" ({escape(status)})" if status else ""))


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
    entry()
