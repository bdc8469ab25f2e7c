"""A failed dbt test's failing rows, read by one sample query that both engines run.

Before, the DuckDB path read a failed test's first rows with DuckDB's own relation API (``con.sql``) around the
compiled query pasted inline, and the Spark path recorded its failures with no row at all (``samples=False``).
Now the sample query is plain SQL that DuckDB and Spark SQL both parse (checked with sqlglot's parsers of both
dialects), run through any DB-API connection, and the Spark step reads it after DuckDB's views over Spark's tables
exist. Spark itself needs Java, absent here: the query runs on DuckDB (and on SQLite, a second DB-API engine).
"""

from __future__ import annotations

import ast
import inspect
import sqlite3

import duckdb
import pytest
import sqlglot

# compiled test queries as dbt hands them over: a singular test's file ending in a comment line, a macro's `;`
COMPILED = {
    "plain": "select unit_code from marts.t where unit_name is null",
    "trailing comment": "select unit_code from marts.t where unit_name is null\n-- the unit's name is required",
    "semicolon": "select unit_code from marts.t where unit_name is null;\n",
    "comment and semicolon": "select unit_code from marts.t where unit_name is null -- required\n;",
}


def _warehouse(con) -> None:
    con.execute("create schema if not exists marts")
    con.execute("create table marts.t (unit_code varchar, unit_name varchar)")
    con.execute("insert into marts.t values ('110100', '北京市'), ('120100', null), ('130100', null)")


@pytest.mark.parametrize("case", sorted(COMPILED))
def test_the_sample_query_reads_on_duckdb_and_parses_as_spark_sql(case):
    from pipelines.quality.dbt_results import failing_rows_sample, sample_sql

    con = duckdb.connect()
    try:
        _warehouse(con)
        rows = failing_rows_sample(con, COMPILED[case], limit=10)
    finally:
        con.close()
    assert sorted(r["unit_code"] for r in rows) == ["120100", "130100"]
    for dialect in ("spark", "duckdb"):
        parsed = sqlglot.parse(sample_sql(COMPILED[case]), read=dialect)
        assert len([p for p in parsed if p is not None]) == 1, (dialect, case)  # one statement, the limit kept
        assert parsed[0].args.get("limit") is not None


def test_the_sample_reads_through_any_db_api_connection():
    """The same function on another engine's DB-API connection (SQLite here): nothing DuckDB-only in the way."""
    from pipelines.quality.dbt_results import failing_rows_sample

    con = sqlite3.connect(":memory:")
    try:
        con.execute("attach ':memory:' as marts")
        con.execute("create table marts.t (unit_code text, unit_name text)")
        con.execute("insert into marts.t values ('110100', 'x'), ('120100', null), ('130100', null), ('140100', null)")
        rows = failing_rows_sample(con, COMPILED["trailing comment"], limit=2)
    finally:
        con.close()
    assert len(rows) == 2 and all(set(r) == {"unit_code"} for r in rows)


def test_the_spark_step_records_failing_rows_after_its_tables_are_readable():
    """build_on_spark: every recording of the tests' results asks for their samples, after DuckDB's views over
    Spark's tables are made (they are what the sample query reads)."""
    from pipelines import spark_engine

    tree = ast.parse(inspect.getsource(spark_engine.build_on_spark))
    calls = [
        n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "record_test_results"
    ]
    assert len(calls) == 2
    for call in calls:
        assert not any(k.arg == "samples" for k in call.keywords), ast.unparse(call)
    attaches = [
        n.lineno
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "attach_spark_marts"
    ]
    assert all(any(a < c.lineno for a in attaches) for c in calls)


def test_a_spark_built_tables_failing_rows_are_sampled_through_its_views(tmp_path):
    """What the Spark step does after dbt: Spark's table (Parquet in its warehouse folder) is attached to DuckDB
    as a view, and the failed test's query, as compiled for Spark, gives its rows through the sample query."""
    from pipelines.quality.dbt_results import failing_rows_sample
    from pipelines.spark_engine import attach_spark_marts

    folder = tmp_path / "spark" / "warehouse" / "marts.db" / "t"
    folder.mkdir(parents=True)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        _warehouse(con)
        con.execute(f"copy marts.t to '{folder / 'part-0.parquet'}' (format parquet)")
        con.execute("drop table marts.t")
        assert attach_spark_marts(con, tmp_path / "spark") == ["marts.t"]
        rows = failing_rows_sample(con, COMPILED["comment and semicolon"])
    finally:
        con.close()
    assert sorted(r["unit_code"] for r in rows) == ["120100", "130100"]
