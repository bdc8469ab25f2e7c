"""Great Expectations suites (expectations/*.json) as Dagster asset checks.

Every raw asset gets two checks from its suite: `gx_errors` (blocking: a failed error-severity expectation
stops every asset below it, so nothing built from the bad batch is published) and `gx_warnings` (recorded
and shown, never blocking). The marts get the same pair, which guards the published snapshot. Frames are
read out of DuckDB and validated with GX's pandas data source; every result lands in quality.check_results.
"""

import json

import dagster as dg

from pipelines.resources import Warehouse
from pipelines.sources import SOURCES, Source

# The mart suites, each validated in ONE GX call over the whole table. The year-keyed marts used to be validated
# year by year (one GX call per year: 11 s for fct_city_indicator_year's 16 years against 1.3 s for one call on
# the same 70k rows, GX's per-call cost dominating); every row rule, the (unit, year, ...) key and the region
# checks mean the same over all years at once, and the one per-year expectation (year__is_partition) only
# restated the WHERE year = ... that cut the frame. A failing row's sample names its year.
MART_SUITES = ("dim_city", "dim_indicator", "fct_city_indicator_year", "fct_city_score_year", "fct_target_status")


def run_years(context) -> list[int]:
    """The years a run covers: its partition, its partition range, or none (unpartitioned run)."""
    tags = context.run.tags
    if "dagster/partition" in tags:
        return [int(tags["dagster/partition"])]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if start and end:
        return list(range(int(start), int(end) + 1))
    return []


def _results(context, spec_key: dg.AssetKey, suite_results: list) -> list[dg.AssetCheckResult]:
    errors = [(p, f) for p, r in suite_results for f in r.failures(severity="error")]
    warnings = [(p, f) for p, r in suite_results for f in r.failures(severity="warn")]

    def _describe(items):
        return dg.MetadataValue.md(
            "\n".join(
                f"- **{f.check_name}** ({f.expectation_type}{', ' + f.column if f.column else ''})"
                f"{' · ' + str(p) if p is not None else ''}: observed {json.dumps(f.observed_value, ensure_ascii=False, default=str)[:200]}"
                f"; failing sample {json.dumps(f.failing_sample[:3], ensure_ascii=False, default=str)[:400]}"
                for p, f in items[:20]
            )
            or "all passed"
        )

    checked = sum(len(r.results) for _, r in suite_results)
    rows = sum(r.row_count for _, r in suite_results)
    return [
        dg.AssetCheckResult(
            asset_key=spec_key,
            check_name="gx_errors",
            passed=not errors,
            severity=dg.AssetCheckSeverity.ERROR,
            # what the engineer woken by the alert reads first (the Dagster UI's check, the alert's title)
            description=failure_guide(errors, run_years(context)),
            metadata={
                "expectations_evaluated": checked,
                "rows_validated": rows,
                "failed": len(errors),
                "failures": _describe(errors),
            },
        ),
        dg.AssetCheckResult(
            asset_key=spec_key,
            check_name="gx_warnings",
            passed=not warnings,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"failed": len(warnings), "warnings": _describe(warnings)},
        ),
    ]


def failure_guide(errors: list, years: list[int]) -> str | None:
    """A blocking check's failures for the one who must act on them, in 简体中文 and English: which expectations
    failed and on how many rows, in which landing files and row numbers (the raw suites' samples carry them), and
    what to do next. Before, the failed check carried only metadata: its alert said "blocking check failed:
    raw/targets · gx_errors" and nothing of which file, which rows, or what next."""
    if not errors:
        return None
    from pipelines.counts import count_en, count_zh

    files: dict[str, list] = {}
    for _, f in errors:
        for row in f.failing_sample if isinstance(f.failing_sample, list) else []:
            if isinstance(row, dict) and row.get("_source_file"):
                files.setdefault(str(row["_source_file"]), []).append(row.get("_row_number"))
    shown = errors[:5]
    checks_zh = "；".join(
        f"{f.check_name}{f'（{p}年）' if p is not None else ''}"
        + (f"未通过{count_zh(f.unexpected_count, '行')}" if f.unexpected_count else "")
        for p, f in shown
    )
    checks_en = "; ".join(
        f"{f.check_name}{f' ({p})' if p is not None else ''}"
        + (f" fails on {count_en(f.unexpected_count, 'row')}" if f.unexpected_count else "")
        for p, f in shown
    )
    more = len(errors) - len(shown)
    if more:
        checks_zh += f"；另有{count_zh(more, '项')}"
        checks_en += f"; {count_en(more, 'more check')}"

    def rows_of(numbers: list) -> str:
        known = sorted({n for n in numbers if isinstance(n, int)})
        return ", ".join(map(str, known[:10])) + (" …" if len(known) > 10 else "")

    where_zh = "；".join(f"{name} 第{rows_of(n)}行" if rows_of(n) else name for name, n in files.items())
    where_en = "; ".join(f"{name} row {rows_of(n)}" if rows_of(n) else name for name, n in files.items())
    span = f"{min(years)}–{max(years)}" if len(years) > 1 else (str(years[0]) if years else "")
    zh = (
        f"阻断性检查未通过：{checks_zh}。"
        + (f"所在文件与行号：{where_zh}。" if files else "")
        + "下一步：在源文件中修正这些行，以同名放回着陆区（新版本替换旧版本），再运行 `ipcity run`"
        + (f"（或在 Dagster 界面重新运行分区 {span}）" if span else "")
        + "；失败的行见 `ipcity quality`。"
    )
    en = (
        f"blocking check failed: {checks_en}."
        + (f" In: {where_en}." if files else "")
        + " Next: mend these rows in the source file, put it back in the landing folder under the same name (the new "
        "version replaces the old), then `ipcity run`"
        + (f" (or re-run partition {span} from the Dagster UI)" if span else "")
        + "; the failing rows are in `ipcity quality`."
    )
    return f"{zh}\n{en}"


def _specs(key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            "gx_errors",
            asset=key,
            blocking=True,
            description="Great Expectations suite, error-severity expectations (blocking)",
        ),
        dg.AssetCheckSpec("gx_warnings", asset=key, description="Great Expectations suite, warn-severity expectations"),
    ]


def partition_frame(con, source: Source, year: int, limit: int | None = None, seed: int | None = None):
    """A yearly partition for the suite: all of it, or a repeatable sample above `row_sample.max_rows`.
    Returns (frame, rows in the partition)."""
    from pipelines.quality.suites import row_sample

    max_rows, sample_seed = row_sample()
    limit = max_rows if limit is None else limit
    seed = sample_seed if seed is None else seed
    n = con.execute(f"SELECT count(*) FROM {source.table} WHERE year = ?", [year]).fetchall()[0][0]
    if n <= limit:
        return con.sql(f"SELECT * FROM {source.table} WHERE year = $y", params={"y": year}).pl(), n
    frame = con.sql(
        f"SELECT * FROM (SELECT * FROM {source.table} WHERE year = $y) USING SAMPLE reservoir({limit} ROWS) REPEATABLE ({seed})",
        params={"y": year},
    ).pl()
    return frame, n


def with_full_key_check(con, source: Source, year: int, result, full_rows: int):
    """On a sampled partition, the key's uniqueness is still checked over every row, in SQL."""
    from pipelines.quality.runner import ExpectationResult

    key = ", ".join(source.key)
    dups = con.sql(
        f"SELECT {key}, count(*) AS n FROM {source.table} WHERE year = $y GROUP BY ALL HAVING count(*) > 1 "
        f"ORDER BY n DESC NULLS LAST LIMIT 10",
        params={"y": year},
    ).pl()
    result.results.append(
        ExpectationResult(
            check_name="key__unique_full_partition",
            expectation_type="sql_unique_key",
            column=key,
            severity="error",
            passed=dups.height == 0,
            observed_value={
                "rows": full_rows,
                "rows_validated_by_suite": result.row_count,
                "duplicate_keys": dups.height,
            },
            failing_sample=dups.to_dicts(),
            unexpected_count=dups.height,
            element_count=full_rows,
            exception=None,
            expectation={"kind": "unique key over the whole partition (SQL)", "key": list(source.key)},
        )
    )
    return result


def _yearly_checks(con, run_id: str, source: Source, years: list[int], codes) -> list:
    """The checks of a yearly source for the partitions of a run, in three GX calls whatever their number:
    the partition profile (every row, aggregated in DuckDB: what the loader cannot see), the row-level suite
    on one repeatable sample of all the run's partitions (an independent guard of the loader's row rules), and
    for grants the per-city counts against the previous year."""
    from pipelines.quality import patent_grant_city_counts_from_db, record_results, validate
    from pipelines.quality.partition_profile import PROFILE_SUITE, partition_profile, run_sample_frame
    from pipelines.quality.suites import row_sample

    out = []
    profile = partition_profile(con, source, years, valid_codes=codes)
    r = validate(PROFILE_SUITE, profile)
    r.row_count = int(
        con.execute(f"SELECT count(*) FROM {source.table} WHERE year IN (SELECT unnest(?))", [years]).fetchall()[0][0]
    )
    record_results(con, run_id, source.table, r)
    out.append((None, r))
    frame, _ = run_sample_frame(con, source, years, *row_sample())
    # partition=None: the per-partition expectations (partition window, row count against last year,
    # freshness) are the profile's, over every row rather than a sample.
    r = validate(source.table, frame, context={"valid_region_codes": codes})
    record_results(con, run_id, source.table, r)
    out.append((None, r))
    if source.name == "patent_grants":
        import polars as pl

        counts = pl.concat([patent_grant_city_counts_from_db(con, y) for y in years], how="vertical_relaxed")
        r2 = validate("raw.patent_grants.city_counts", counts)
        record_results(con, run_id, "raw.patent_grants", r2)
        out.append((None, r2))
    return out


def build_raw_check(source: Source) -> dg.AssetChecksDefinition:
    key = dg.AssetKey(["raw", source.name])

    @dg.multi_asset_check(specs=_specs(key), name=f"gx_raw_{source.name}")
    def _check(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
        from pipelines.quality import record_results, valid_region_codes, validate

        results = []
        with warehouse.get_connection(step="checks") as con:
            codes = valid_region_codes(con)
            if source.partitioned:
                years = run_years(context) or [
                    r[0] for r in con.execute(f"SELECT DISTINCT year FROM {source.table}").fetchall()
                ]
                years = [
                    y
                    for (y,) in con.execute(
                        f"SELECT DISTINCT year FROM {source.table} WHERE year IN (SELECT unnest(?)) ORDER BY year",
                        [sorted(int(y) for y in years)],
                    ).fetchall()
                ]
                if years:
                    results += _yearly_checks(con, context.run.run_id, source, years, codes)
            else:
                frame = con.sql(f"SELECT * FROM {source.table}").pl()
                ctx = {"valid_region_codes": codes}
                if source.name in ("population", "patent_stats") and frame.height:
                    ctx["evaluation_year"] = int(frame["year"].max())
                r = validate(f"raw.{source.name}", frame, context=ctx)
                record_results(con, context.run.run_id, f"raw.{source.name}", r)
                results.append((None, r))
        yield from _results(context, key, results)

    return _check


def build_mart_check(table: str) -> dg.AssetChecksDefinition:
    key = dg.AssetKey(["marts", table])

    @dg.multi_asset_check(specs=_specs(key), name=f"gx_marts_{table}")
    def _check(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
        from pipelines.quality import record_results, valid_region_codes, validate

        with warehouse.get_connection(step="checks") as con:
            codes = valid_region_codes(con)
            frame = con.sql(f"SELECT * FROM marts.{table}").pl()
            r = validate(f"marts.{table}", frame, context={"valid_region_codes": codes})
            record_results(con, context.run.run_id, f"marts.{table}", r)
        yield from _results(context, key, [(None, r)])

    return _check


RAW_CHECKS = [build_raw_check(s) for s in SOURCES.values()]
MART_CHECKS = [build_mart_check(t) for t in MART_SUITES]
