"""Models incremental by year give exactly what a full rebuild gives (issue 19, docs/incremental.md).

Path: sample data (seed 42, the smallest sample) -> the real loader -> a DuckDB warehouse holding every year but
the last; `dbt build` as the pipeline plans it (no record yet: a full refresh), the plan recorded. Then, in one
increment: the last year's files arrive, its grant file also re-sends a 2019 patent with a corrected grant date
(the loader moves that key out of 2019), and the 2019 grant file is re-sent corrected (rows dropped, lapse dates
changed). The plan must rebuild exactly 2019 and the last year; `dbt build` runs with it. A copy of that
warehouse is then rebuilt with --full-refresh, and every table dbt built (schemas intermediate and marts) must
hold the same rows: every value that is not a float (counts, ranks, groups, stages, verdicts, text, dates)
exactly, floats to 1e-9 relative (pipelines.engine_parity's tolerance: a float sum depends on the order the
engine adds the rows in, which differs between any two builds, full or not). The planner's other decisions (nothing changed, a reference table changed, the
dbt project changed, a reloaded or emptied partition, another engine) are checked on the same warehouse without dbt.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from dbt_helpers import dbt

from pipelines import incremental
from pipelines.engine_parity import FLOAT_TOLERANCE
from pipelines.ingest.load import ingest_file, landing_files, partition_of
from pipelines.sources import SOURCES

SEED, SCALE = 42, 0.002
LAST, CORRECTED = 2025, 2019
NO_TESTS = ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]


def _load(con: duckdb.DuckDBPyConnection, landing: Path, keep) -> None:
    for source in SOURCES.values():
        for path in landing_files(landing, source):
            year = partition_of(path, source) if source.partitioned else None
            if keep(source, year):
                ingest_file(con, source, path, partition=year, today=date(2026, 6, 30))


def _build(warehouse: Path, work: Path, args: list[str], env: dict[str, str] | None = None) -> None:
    statuses = dbt(["build", *NO_TESTS, *args], warehouse, work, env)
    failed = {k: v for k, v in statuses.items() if k != "__output__" and v not in ("success", "pass", "no-op")}
    assert not failed, f"dbt build {args} failed: {failed}\n{statuses['__output__']}"


def _tables(con: duckdb.DuckDBPyConnection, catalog: str) -> set[str]:
    return {
        f"{s}.{t}"
        for s, t in con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = ? "
            "AND table_schema IN ('intermediate', 'marts') AND table_type = 'BASE TABLE'",
            [catalog],
        ).fetchall()
    }


_FLOAT = ("FLOAT", "DOUBLE", "REAL", "DECIMAL")


def _table_differences(con: duckdb.DuckDBPyConnection, t: str) -> tuple[int, int]:
    """(rows of a without a match in b, rows of b without a match in a): rows pair on every column that is not a
    float (text, integers, dates, booleans: ranks, groups, stages, verdicts must be equal exactly; duplicates
    pair in the order of their floats); paired floats must agree to FLOAT_TOLERANCE (relative)."""
    kinds = {r[0]: r[1].upper() for r in con.execute(f"DESCRIBE SELECT * FROM a.{t}").fetchall()}
    exact = [c for c, k in kinds.items() if not k.startswith(_FLOAT)]
    floats = [c for c, k in kinds.items() if k.startswith(_FLOAT)]
    part = ", ".join(f'"{c}"' for c in exact) or "1"
    order = ", ".join(f'"{c}" asc nulls last' for c in floats) or "1"
    numbered = f"SELECT *, row_number() OVER (PARTITION BY {part} ORDER BY {order}) AS __n FROM {{}}.{t}"
    on = " AND ".join([f'x."{c}" IS NOT DISTINCT FROM y."{c}"' for c in exact] + ["x.__n = y.__n"])
    differs = (
        " OR ".join(
            f'((x."{c}" IS NULL) <> (y."{c}" IS NULL) OR abs(cast(x."{c}" AS DOUBLE) - cast(y."{c}" AS DOUBLE)) > '
            f'{FLOAT_TOLERANCE} * greatest(1.0, abs(cast(x."{c}" AS DOUBLE)), abs(cast(y."{c}" AS DOUBLE))))'
            for c in floats
        )
        or "false"
    )
    n_a, n_b = con.execute(
        f"SELECT count(*) FILTER (WHERE y.__n IS NULL OR ({differs})), count(*) FILTER (WHERE x.__n IS NULL) "
        f"FROM ({numbered.format('a')}) x FULL JOIN ({numbered.format('b')}) y ON {on}"
    ).fetchone()
    return n_a, n_b


def differences(a: Path, b: Path) -> dict[str, tuple[int, int]]:
    """{table: (rows of a unmatched in b, rows of b unmatched in a)} over every table of schemas intermediate and
    marts; a table on one side only counts as (-1, -1)."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{a}' AS a (READ_ONLY)")
        con.execute(f"ATTACH '{b}' AS b (READ_ONLY)")
        ta, tb = _tables(con, "a"), _tables(con, "b")
        out = {t: (-1, -1) for t in ta ^ tb}
        for t in sorted(ta & tb):
            n = _table_differences(con, t)
            if n != (0, 0):
                out[t] = n
        return out
    finally:
        con.close()


def _resend(landing: Path, root: Path) -> tuple[Path, str]:
    """The increment's landing folder: the last year's files as they are, its grant file plus a 2019 patent
    re-sent with a grant date in the last year, and the 2019 grant file corrected."""
    out = root / "increment_landing"
    grants = landing / "patent_grants"
    old = pl.read_parquet(grants / f"patent_grants_{CORRECTED}.parquet")
    moved = (
        old.filter(pl.col("patent_type") == "invention")
        .head(1)
        .with_columns(pl.lit(date(LAST, 3, 2)).alias("grant_date"), pl.lit(None, pl.Date).alias("lapse_date"))
    )
    new = pl.read_parquet(grants / f"patent_grants_{LAST}.parquet")
    (out / "patent_grants").mkdir(parents=True)
    pl.concat([new, moved]).write_parquet(out / "patent_grants" / f"patent_grants_{LAST}.parquet")
    lapsed = pl.col("lapse_date").is_not_null() & (pl.int_range(pl.len()) < 400)
    corrected = old.slice(20).with_columns(
        pl.when(lapsed).then(None).otherwise(pl.col("lapse_date")).alias("lapse_date")
    )
    assert corrected.filter(pl.col("lapse_date").is_null()).height > old.filter(pl.col("lapse_date").is_null()).height
    corrected.write_parquet(out / "patent_grants" / f"patent_grants_{CORRECTED}.parquet")
    for source in SOURCES.values():
        for path in landing_files(landing, source):
            if source.partitioned and source.name != "patent_grants" and partition_of(path, source) == LAST:
                (out / path.parent.name).mkdir(parents=True, exist_ok=True)
                shutil.copy(path, out / path.parent.name / path.name)
    return out, moved["publication_number"][0]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    from pipelines.generate import generate

    root = tmp_path_factory.mktemp("incremental_years")
    landing = root / "landing"
    generate(landing, seed=SEED, scale=SCALE)
    wh = root / "inc" / "warehouse.duckdb"
    wh.parent.mkdir()
    with duckdb.connect(str(wh)) as con:
        _load(con, landing, lambda s, y: y is None or y < LAST)
        first = incremental.plan_build(con)
    _build(wh, root / "inc", first.dbt_args(), first.dbt_env())
    with duckdb.connect(str(wh)) as con:
        incremental.record_build(con, "duckdb", first)
        unchanged = incremental.plan_build(con)
    history = root / "history.duckdb"
    shutil.copy(wh, history)

    increment_landing, moved_key = _resend(landing, root)
    with duckdb.connect(str(wh)) as con:
        _load(con, increment_landing, lambda s, y: True)
        moved_to = con.execute(
            "SELECT list(year) FROM raw.patent_grants WHERE publication_number = ?", [moved_key]
        ).fetchone()[0]
        second = incremental.plan_build(con)
    _build(wh, root / "inc", second.dbt_args(), second.dbt_env())
    compiled_dir = root / "inc" / "target" / "compiled" / "ipcity" / "models" / "intermediate"
    compiled_sql = (compiled_dir / "int_patents__grant_cohorts.sql").read_text(encoding="utf-8")
    compiled_rows = (compiled_dir / "int_patents__unit_year_source_rows.sql").read_text(encoding="utf-8")
    log = (root / "inc" / "logs" / "dbt.log").read_text(encoding="utf-8", errors="replace")
    with duckdb.connect(str(wh)) as con:
        incremental.record_build(con, "duckdb", second)

    full = root / "full" / "warehouse.duckdb"
    full.parent.mkdir()
    shutil.copy(wh, full)
    _build(full, root / "full", ["--full-refresh"])
    return {
        "root": root,
        "warehouse": wh,
        "first": first,
        "unchanged": unchanged,
        "second": second,
        "moved_to": moved_to,
        "compiled": compiled_sql,
        "compiled_rows": compiled_rows,
        "log": log,
        "differences": differences(wh, full),
        "history_differences": differences(history, full),
        "tables": len(_tables_of(full)),
    }


def _tables_of(warehouse: Path) -> set[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return _tables(con, con.execute("SELECT current_database()").fetchone()[0])


def test_the_plan_rebuilds_exactly_the_changed_years(built):
    assert built["first"].full_refresh and "no record" in built["first"].reason
    assert not built["unchanged"].full_refresh and built["unchanged"].rebuild_years == ()
    # the key re-sent with a later grant date left 2019 for the last year (a correction across partitions)
    assert built["moved_to"] == [LAST]
    assert not built["second"].full_refresh
    assert built["second"].rebuild_years == (CORRECTED, LAST), built["second"].describe()
    # the incremental model read only those years' partitions
    assert f"year in ({CORRECTED}, {LAST})" in built["compiled"], built["compiled"][:2000]
    # and the pre-hook emptied those years first (a year whose rows are all gone is emptied too)
    assert f"where partition_year in ({CORRECTED}, {LAST})" in built["log"]
    # the years went to dbt in the environment, not as a var: the second build re-used the first one's parse
    # (a new var value makes dbt re-parse the whole project, ≈ 3 s in every dbt step of every incremental run)
    second_build = built["log"].rsplit("Running with dbt=", 1)[1]
    assert "Unable to do partial parsing" not in second_build, second_build[:1500]


def test_the_grant_models_read_the_records_without_ranking_them(built):
    # raw.patent_grants holds one row per publication number (the loader, and the blocking duplicate-key check of
    # every loaded partition: tests/test_grants_key_guard.py), so the two models that read every record do not
    # rank them per key: that window carried every column of a national year's 3.5 M unique keys through a sort,
    # twice per build (≈ 3 s of CPU), and kept every row. The increment above (a key moved across years, a
    # partition re-sent corrected) still equals a full rebuild (next test).
    for name in ("compiled", "compiled_rows"):
        sql = built[name].lower()
        assert "_key_rank" not in sql and "partition by publication_number" not in sql, sql[:2000]
        assert f"year in ({CORRECTED}, {LAST})" in sql, sql[:2000]


def test_incremental_build_equals_a_full_rebuild_value_by_value(built):
    assert built["tables"] > 40
    assert built["differences"] == {}
    # the comparison sees a difference where there is one: the build before the increment differs
    before = built["history_differences"]
    assert {"intermediate.int_patents__grant_cohorts", "marts.fct_city_score_year"} <= set(before), before


def test_non_yearly_changes_and_project_changes_force_a_full_refresh(built, tmp_path, monkeypatch):
    wh = tmp_path / "warehouse.duckdb"
    shutil.copy(built["warehouse"], wh)
    with duckdb.connect(str(wh)) as con:
        assert incremental.plan_build(con).rebuild_years == ()
        # another engine has no record of its own
        assert incremental.plan_build(con, "spark").full_refresh
        con.execute(
            "UPDATE raw.cities SET city_name = city_name || '市' WHERE city_code = (SELECT min(city_code) FROM raw.cities)"
        )
        plan = incremental.plan_build(con)
        assert plan.full_refresh and "cities" in plan.reason
        monkeypatch.setattr(incremental, "project_fingerprint", lambda root=None: "edited")
        assert incremental.plan_build(con).full_refresh
        monkeypatch.undo()
        monkeypatch.setenv("IPCITY_DBT_FULL_REFRESH", "1")
        assert incremental.plan_build(con).full_refresh


def test_a_reloaded_or_emptied_partition_is_rebuilt(built, tmp_path):
    from pipelines.assets.raw import _reset_partition

    wh = tmp_path / "warehouse.duckdb"
    shutil.copy(built["warehouse"], wh)
    training = SOURCES["training_events"]
    with duckdb.connect(str(wh)) as con:
        # a partition reloaded from the Dagster UI: the same files loaded again, the same values
        _reset_partition(con, training, 2017)
        for path in landing_files(built["root"] / "landing", training):
            if partition_of(path, training) == 2017:
                ingest_file(con, training, path, partition=2017, today=date(2026, 6, 30))
        con.execute("DELETE FROM raw.patent_grants WHERE year = 2012")
        plan = incremental.plan_build(con)
        assert not plan.full_refresh and plan.rebuild_years == (2012, 2017)
        # on Spark an emptied partition would keep its rows under insert_overwrite: a full refresh instead
        incremental.record_build(con, "spark", incremental.BuildPlan(True, (), "", built["second"].fingerprints))
        assert incremental.plan_build(con, "spark").full_refresh


def test_the_lake_rewrites_only_the_years_that_changed(built, tmp_path):
    """The Parquet lake (pipelines/lake.py) follows the same partitions: after a reload of one year and the loss
    of another, only those year folders change, and the lake equals one written from scratch."""
    from pipelines.assets.raw import _reset_partition
    from pipelines.lake import export_raw

    wh = tmp_path / "warehouse.duckdb"
    shutil.copy(built["warehouse"], wh)
    lake, fresh = tmp_path / "lake", tmp_path / "fresh"
    training = SOURCES["training_events"]
    with duckdb.connect(str(wh)) as con:
        assert export_raw(con, lake)["patent_grants"] == "written"
        kept = (lake / "raw" / "patent_grants" / "year=2013").stat().st_ino
        reloaded = (lake / "raw" / "training_events" / "year=2017").stat().st_ino
        _reset_partition(con, training, 2017)
        for path in landing_files(built["root"] / "landing", training):
            if partition_of(path, training) == 2017:
                ingest_file(con, training, path, partition=2017, today=date(2026, 6, 30))
        con.execute("DELETE FROM raw.patent_grants WHERE year = 2012")
        export_raw(con, lake)
        export_raw(con, fresh, force=True)
    grants = lake / "raw" / "patent_grants"
    assert not (grants / "year=2012").exists() and (grants / "year=2013").stat().st_ino == kept
    assert (lake / "raw" / "training_events" / "year=2017").stat().st_ino != reloaded
    with duckdb.connect() as con:
        for table in ("patent_grants", "training_events"):
            a = f"read_parquet('{lake}/raw/{table}/*/*.parquet', hive_partitioning = true)"
            b = f"read_parquet('{fresh}/raw/{table}/*/*.parquet', hive_partitioning = true)"
            diff = con.execute(f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})").fetchone()[0]
            rows = (
                con.execute(f"SELECT count(*) FROM {a}").fetchone()[0],
                con.execute(f"SELECT count(*) FROM {b}").fetchone()[0],
            )
            assert diff == 0 and rows[0] == rows[1] > 0, (table, diff, rows)


def test_the_lake_keeps_the_tables_order_and_one_warehouse_gives_the_same_files(built, tmp_path):
    """Each year file holds that year's rows in the order the raw table keeps them, written without a sort
    (pipelines/lake.py::_copy_year), and writing the lake twice from one warehouse gives the same bytes."""
    from pipelines.lake import export_raw

    wh = tmp_path / "warehouse.duckdb"
    shutil.copy(built["warehouse"], wh)
    first, second = tmp_path / "first", tmp_path / "second"
    with duckdb.connect(str(wh)) as con:
        export_raw(con, first, force=True)
        export_raw(con, second, force=True)
        files = sorted((first / "raw").rglob("*.parquet"))
        assert files
        for f in files:
            assert f.read_bytes() == (second / f.relative_to(first)).read_bytes(), f
        checked = 0
        for source in (s for s in SOURCES.values() if s.partitioned):
            years = [y for (y,) in con.execute(f"SELECT DISTINCT year FROM {source.table} ORDER BY year").fetchall()]
            assert sorted(p.parent.name for p in (first / "raw" / source.name).glob("year=*/data_0.parquet")) == sorted(
                f"year={y}" for y in years
            ), source.name
            for year in years:
                table = con.execute(f"SELECT * EXCLUDE (year) FROM {source.table} WHERE year = {year}").fetchall()
                file = first / "raw" / source.name / f"year={year}" / "data_0.parquet"
                lake = con.execute(f"SELECT * FROM read_parquet('{file}', hive_partitioning = false)").fetchall()
                assert lake == table, (source.name, year)
                checked += len(lake)
        assert checked > 10_000
