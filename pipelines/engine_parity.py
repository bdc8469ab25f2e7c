"""Engine parity: the marts one dbt project builds on DuckDB and on Spark, compared value by value.

Every table dbt builds in schema ``marts`` (models and seeds) is compared row by row on its business key (the
columns of the model's ``unique`` / ``unique_combination`` test in the manifest; a table without one, such as
a seed, on the whole row): a row on one engine only, a column on one engine only, or a value that differs is
a :class:`Difference` naming the table, the key and the column. Floating-point and decimal values agree when
they differ by at most ``FLOAT_TOLERANCE`` relative to their magnitude (1e-9; an absolute 1e-9 below 1);
integers, text, dates, booleans (ranks, groups, stages, verdicts) must be equal exactly. Nulls match only
nulls. Timestamps are compared in UTC (both engines run with the session time zone UTC).

Both sides are read by DuckDB: the DuckDB warehouse directly, Spark's marts from the Parquet files it wrote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

FLOAT_TOLERANCE = 1e-9
_FLOAT_TYPES = ("FLOAT", "DOUBLE", "REAL", "DECIMAL")
_INT_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")


@dataclass(frozen=True)
class Difference:
    table: str
    key: str  # the business key's value, '' for a difference of the whole table
    column: str  # '(row)' for a row on one engine only, '(table)' for a table on one engine only
    duckdb: str
    spark: str

    def __str__(self) -> str:
        return f"{self.table} [{self.key}] {self.column}: duckdb={self.duckdb} spark={self.spark}"


def mart_keys(manifest: Path) -> dict[str, list[str]]:
    """{model or seed name: key expressions} from the unique tests of a dbt manifest."""
    data = json.loads(Path(manifest).read_text(encoding="utf-8"))
    keys: dict[str, list[str]] = {}
    for node in data["nodes"].values():
        meta = node.get("test_metadata") or {}
        if node["resource_type"] != "test" or meta.get("name") not in ("unique", "unique_combination"):
            continue
        parents = [d for d in node["depends_on"]["nodes"] if d.startswith(("model.", "seed."))]
        if len(parents) != 1:
            continue
        kwargs = meta.get("kwargs") or {}
        cols = kwargs.get("columns") or [kwargs.get("column_name")]
        name = parents[0].split(".")[-1]
        # the narrowest declared key identifies a row best
        if name not in keys or len(cols) < len(keys[name]):
            keys[name] = [c for c in cols if c]
    return keys


def mart_tables(manifest: Path, schema: str = "marts") -> set[str]:
    """Names of the tables dbt builds in ``schema`` on the manifest's engine (models not inlined, and seeds).
    A model ephemeral on DuckDB but a table on Spark (macros/portable.sql ephemeral_except_on_spark) is compared
    through the marts that read it."""
    data = json.loads(Path(manifest).read_text(encoding="utf-8"))
    return {
        n.get("alias") or n["name"]
        for n in data["nodes"].values()
        if n["resource_type"] in ("model", "seed")
        and n["schema"] == schema
        and n["config"].get("materialized") != "ephemeral"
    }


def _kind(duck_type: str) -> str:
    t = duck_type.upper()
    if t.startswith(_FLOAT_TYPES):
        return "float"
    if t in _INT_TYPES:
        return "int"
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    return "text"


def _common_kind(duck: str, spark: str) -> str:
    """How a column is compared: as numbers when both sides are numbers (with the float tolerance when either
    is a float: an exact count and its double are the same number), else as text."""
    if {duck, spark} <= {"int", "float"}:
        return "float" if "float" in (duck, spark) else "int"
    return duck if duck == spark else "text"


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}


def _text(kind: str, ref: str) -> str:
    if kind == "timestamp":
        return f"cast(cast({ref} AS TIMESTAMP) AS VARCHAR)"
    return f"cast({ref} AS VARCHAR)"


def compare_marts(
    duckdb_warehouse: Path,
    spark_tables: dict[str, Path],
    manifest: Path,
    *,
    schema: str = "marts",
    limit_per_column: int = 5,
) -> list[Difference]:
    """Differences between DuckDB's and Spark's (``{schema.table: parquet folder}``) tables of every model and
    seed the DuckDB build's ``manifest`` materialises in ``schema``."""
    keys = mart_keys(manifest)
    wanted = mart_tables(manifest, schema)
    out: list[Difference] = []
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"ATTACH '{duckdb_warehouse}' AS d (READ_ONLY)")
        duck_tables = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'd' AND table_schema = ?",
                [schema],
            ).fetchall()
        }
        spark = {name.split(".", 1)[1]: path for name, path in spark_tables.items() if name.startswith(schema + ".")}
        for table in sorted(wanted):
            if table not in spark or table not in duck_tables:
                out.append(
                    Difference(
                        f"{schema}.{table}",
                        "",
                        "(table)",
                        "present" if table in duck_tables else "absent",
                        "present" if table in spark else "absent",
                    )
                )
                continue
            glob = str(spark[table] / "*.parquet").replace("'", "''")
            out += _compare_table(
                con,
                f"{schema}.{table}",
                f'd.{schema}."{table}"',
                f"read_parquet('{glob}')",
                keys.get(table),
                limit_per_column,
            )
    finally:
        con.close()
    return out


def _compare_table(
    con: duckdb.DuckDBPyConnection,
    name: str,
    duck_rel: str,
    spark_rel: str,
    key: list[str] | None,
    limit: int,
) -> list[Difference]:
    out: list[Difference] = []
    dcols, scols = _columns(con, duck_rel), _columns(con, spark_rel)
    for c in dcols.keys() - scols.keys():
        out.append(Difference(name, "", c, "column present", "column absent"))
    for c in scols.keys() - dcols.keys():
        out.append(Difference(name, "", c, "column absent", "column present"))
    common = [c for c in dcols if c in scols]
    kinds = {c: _common_kind(_kind(dcols[c]), _kind(scols[c])) for c in common}
    if key:
        key_sql = " || '|' || ".join(f"coalesce(cast(({k}) AS VARCHAR), '∅')" for k in key)
    else:  # no declared key: the whole row is the key
        key_sql = " || '|' || ".join(f"coalesce({_text(kinds[c], chr(34) + c + chr(34))}, '∅')" for c in common)
    con.execute(f"CREATE OR REPLACE TEMP VIEW __a AS SELECT {key_sql} AS __key, * FROM {duck_rel}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW __b AS SELECT {key_sql} AS __key, * FROM {spark_rel}")
    for side, rel, other in (("duckdb", "__a", "__b"), ("spark", "__b", "__a")):
        for (k,) in con.execute(
            f"SELECT __key FROM {rel} EXCEPT ALL SELECT __key FROM {other} ORDER BY 1 LIMIT {limit}"
        ).fetchall():
            out.append(
                Difference(
                    name, k, "(row)", "row" if side == "duckdb" else "no row", "row" if side == "spark" else "no row"
                )
            )
    for c in common:
        a, b = f'a."{c}"', f'b."{c}"'
        if kinds[c] == "float":
            differs = (
                f"(({a} IS NULL) <> ({b} IS NULL) OR abs(cast({a} AS DOUBLE) - cast({b} AS DOUBLE)) > "
                f"{FLOAT_TOLERANCE} * greatest(1.0, abs(cast({a} AS DOUBLE)), abs(cast({b} AS DOUBLE))))"
            )
            show_a, show_b = f"cast(cast({a} AS DOUBLE) AS VARCHAR)", f"cast(cast({b} AS DOUBLE) AS VARCHAR)"
        elif kinds[c] == "int":
            differs = f"cast({a} AS HUGEINT) IS DISTINCT FROM cast({b} AS HUGEINT)"
            show_a, show_b = f"cast({a} AS VARCHAR)", f"cast({b} AS VARCHAR)"
        else:
            show_a, show_b = _text(kinds[c], a), _text(kinds[c], b)
            differs = f"{show_a} IS DISTINCT FROM {show_b}"
        rows = con.execute(
            f"SELECT a.__key, {show_a}, {show_b} FROM __a a JOIN __b b ON a.__key = b.__key "
            f"WHERE {differs} ORDER BY a.__key LIMIT {limit}"
        ).fetchall()
        out += [Difference(name, k, c, str(va), str(vb)) for k, va, vb in rows]
    return out
