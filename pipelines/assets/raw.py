"""Raw assets: one per source, loading new landing files into `raw.<source>`.

Yearly sources are partitioned by calendar year; a partition loads the landing files of that year that the
ledger has not seen. A run may cover a range of years in one step (single-run backfill), which is how
`ipcity run` loads history without one Dagster run per year. With `reload: true` a partition is rebuilt
from scratch (delete-then-insert), which is what a backfill from the UI does when a year's files were
corrected in place.
"""

import warnings
from datetime import date

import dagster as dg

from pipelines import settings
from pipelines.counts import count_en, count_zh
from pipelines.ingest.load import (
    WITHDRAWN_MESSAGE,
    arriving_files,
    ensure_schema,
    ingest_file,
    landing_files,
    partition_of,
    pending_files,
    record_failure_of,
    record_unreadable_year,
    removed_files,
    withdraw_file,
)
from pipelines.ingest.readers import IngestError
from pipelines.partitions import YEARLY
from pipelines.resources import Warehouse
from pipelines.sources import CITIES, SOURCES, Source


class IngestConfig(dg.Config):
    reload: bool = False  # re-ingest every file of the partition, not only new ones


def files_by_partition(source: Source, landing=None, only=None) -> dict[int | None, list]:
    """Landing files by data year (None: the year cannot be told), oldest received first within a year, so a
    corrected file sent later is loaded later and wins. ``only``: just these files (the pending ones): telling a
    file's year reads the file, and the files loaded in earlier runs are not loaded again, so reading every
    year's files on every run would make the run cost grow with the history."""
    out: dict[int | None, list] = {}
    files = sorted(landing_files(landing or settings.landing_dir(), source), key=lambda p: (p.stat().st_mtime, p.name))
    if only is not None:
        files = [f for f in files if f in only]
    for f in files:
        out.setdefault(partition_of(f, source) if source.partitioned else None, []).append(f)
    return out


def _reset_partition(con, source: Source, year: int | None) -> None:
    """Empty a year of a yearly source (``year`` None: the whole of a reference source) so that its landing files
    load again. The ledger keeps the withdrawals (the record of files removed from landing)."""
    where, args = ("year = ?", [year]) if year is not None else ("true", [])
    part, part_args = ('"partition" = ?', [str(year)]) if year is not None else ("true", [])
    con.execute("BEGIN TRANSACTION")
    con.execute(f"DELETE FROM {source.table} WHERE {where}", args)
    con.execute(f"DELETE FROM raw.rejected_rows WHERE source = ? AND {part}", [source.name, *part_args])
    con.execute(
        f"DELETE FROM raw.ingested_files WHERE source = ? AND {part} AND status <> 'withdrawn'",
        [source.name, *part_args],
    )
    con.execute("COMMIT")


def bilingual(zh: str, en: str) -> str:
    """A line the project writes into Dagster's run log for the operator (what happened to a landing file, why it
    was refused), in 简体中文 with the English below, as the CLI says it (cli._say): the run log in the Dagster UI
    is where an operator of a sensor-started run reads it. Dagster's own lines stay Dagster's English."""
    return f"{zh}\n{en}"


def _refused(source: Source, e: IngestError) -> str:
    from pipelines.ingest.reason_labels import refusal_text

    zh, en = refusal_text(e.reason, "zh", source.name), refusal_text(e.reason, "en", source.name)
    return bilingual(f"{source.name}/{e.file_name}：拒收，{zh}", f"{source.name}/{e.file_name}: refused, {en}")


def _loaded(source: Source, r) -> str:
    from pipelines.ingest.reason_labels import reason_text

    name = f"{source.name}/{r.file_name}"
    zh_notes = reason_text(r.message, source.name, "zh") if r.message else ""
    return bilingual(
        f"{name}：读取{count_zh(r.rows_read, '行')}，入库{count_zh(r.rows_loaded, '行')}，"
        f"隔离{count_zh(r.rows_rejected, '行')}" + (f"（{zh_notes}）" if zh_notes else ""),
        f"{name}: read {r.rows_read}, loaded {r.rows_loaded}, quarantined {r.rows_rejected}"
        + (f" ({r.message})" if r.message else ""),
    )


def _withdraw_removed(context, con, source: Source, years: list[int | None]) -> set[int | None]:
    """Withdraw the files of these years (any year for a reference source; files refused before their year was
    known, whichever year) that were removed from landing (load.withdraw_file). Returns the years whose other
    files must load again."""
    reload: set[int | None] = set()
    for name, part, _loaded in removed_files(con, settings.landing_dir(), source):
        year = int(part) if part is not None and source.partitioned else None
        if source.partitioned and part is not None and year not in years:
            continue  # another year's run withdraws it
        w = withdraw_file(con, source, name, part, context.run.run_id)
        context.log.warning(
            bilingual(
                f"{source.name}/{name}：已从着陆区移除，其数据已从仓库撤回（{count_zh(w.rows_withdrawn, '行')}，"
                f"隔离行{count_zh(w.rows_unquarantined, '行')}）",
                f"{source.name}/{name}: {WITHDRAWN_MESSAGE} ({count_en(w.rows_withdrawn, 'row')}, "
                f"{count_en(w.rows_unquarantined, 'quarantined row')})",
            )
        )
        if w.reload:
            reload.add(year)
    return reload


def build_raw_asset(source: Source) -> dg.AssetsDefinition:
    with warnings.catch_warnings():
        # single_run backfills are "beta" in Dagster 1.13; we rely on them for ranged loads.
        warnings.simplefilter("ignore", dg.BetaWarning)
        return _define(source)


def _define(source: Source) -> dg.AssetsDefinition:
    @dg.asset(
        name=source.name,
        key_prefix="raw",
        group_name="raw",
        partitions_def=YEARLY if source.partitioned else None,
        backfill_policy=dg.BackfillPolicy.single_run() if source.partitioned else None,
        deps=[] if source is CITIES else [dg.AssetKey(["raw", "cities"])],
        description=f"{source.title_zh} — {source.description} Loaded from landing/{source.name}/.",
        kinds={"duckdb", "polars"},
    )
    def _raw(context: dg.AssetExecutionContext, warehouse: Warehouse, config: IngestConfig) -> dg.MaterializeResult:
        years: list[int | None] = [int(k) for k in context.partition_keys] if source.partitioned else [None]
        results, failures = [], []
        with warehouse.get_connection(step="ingest") as con:
            ensure_schema(con)
            # Files removed from landing leave the warehouse first; a year where other files' rows were set aside
            # because of one (duplicates of its rows, rows it corrected) loads again from landing.
            reload = _withdraw_removed(context, con, source, years)
            if None in reload and not source.partitioned:
                _reset_partition(con, source, None)
            pending = set(pending_files(con, settings.landing_dir(), source))
            if arriving := arriving_files(settings.landing_dir(), source):
                context.log.warning(
                    f"{source.name}: still arriving, read by a later run once their copy is complete: "
                    + ", ".join(p.name for p in arriving)
                )
            # reload: the partition's loaded files become pending again once it is reset, so every file's year
            by_year = files_by_partition(source, only=None if config.reload or reload else pending)
            for year in years:
                if (config.reload or year in reload) and year is not None:
                    _reset_partition(con, source, year)
                    pending = set(pending_files(con, settings.landing_dir(), source))
                for path in by_year.get(year, []):
                    if path not in pending:
                        continue
                    try:
                        r = ingest_file(
                            con, source, path, partition=year, today=date.today(), run_id=context.run.run_id
                        )
                    except IngestError as e:
                        failures.append(str(e))
                        context.log.error(_refused(source, e))
                        continue
                    except Exception as e:  # noqa: BLE001 - a failed write too is a named failure of that file
                        err = record_failure_of(
                            con, source, path, f"could not load the file ({type(e).__name__}: {e})"[:500]
                        )
                        failures.append(str(err))
                        context.log.error(_refused(source, err))
                        continue
                    results.append(r)
                    context.log.info(_loaded(source, r))
            # A file whose data year cannot be told fails alone, by name; the other files and sources go on.
            if source.partitioned:
                for path in by_year.get(None, []):
                    if path in pending:
                        e = record_unreadable_year(con, source, path, context.run.run_id)
                        failures.append(str(e))
                        context.log.error(_refused(source, e))
            if source.partitioned:
                total = con.execute(
                    f"SELECT count(*) FROM {source.table} WHERE year BETWEEN ? AND ?", [min(years), max(years)]
                ).fetchall()[0][0]
            else:
                total = con.execute(f"SELECT count(*) FROM {source.table}").fetchall()[0][0]
        # Failed files are recorded in raw.ingested_files (status failed, the reason) and listed here; they do not
        # fail the asset, so one bad file never blocks the other files, sources or the marts.
        return dg.MaterializeResult(
            metadata={
                "files_loaded": len(results),
                "rows_read": sum(r.rows_read for r in results),
                "rows_loaded": sum(r.rows_loaded for r in results),
                "rows_quarantined": sum(r.rows_rejected for r in results),
                "rows_corrected": sum(len(r.corrections) for r in results),
                "files_failed": len(failures),
                "failed_files": dg.MetadataValue.md("\n".join(f"- {f}" for f in failures) or "none"),
                "corrected_rows": dg.MetadataValue.md(
                    "\n".join(
                        f"- {r.file_name}: {c['key']} ({c['changed']}) replaces {c['old_file']}"
                        for r in results
                        for c in r.corrections
                    )
                    or "none"
                ),
                "rows_in_partitions" if source.partitioned else "rows_in_table": total,
                "files": dg.MetadataValue.md(
                    "\n".join(
                        f"- {r.file_name}: {r.rows_loaded} loaded, {r.rows_rejected} quarantined" for r in results
                    )
                    or "no new files"
                ),
            }
        )

    return _raw


RAW_ASSETS = [build_raw_asset(s) for s in SOURCES.values()]
