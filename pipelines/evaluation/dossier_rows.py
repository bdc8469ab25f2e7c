"""The marts' rows a dossier prints, read once per table for a whole batch of dossiers.

A dossier reads some fifteen tables for one unit and year. Queried unit by unit, that was fifteen DuckDB
statements and Polars conversions per dossier (half of the pipeline's dossier step, 113 dossiers on the sample);
each of these tables is small (one row per city, year, plan or cycle), so reading it whole costs about what one
filtered statement costs. ``MartRows`` reads a table the first time a dossier asks for it, splits it by unit
(and year) once, and answers every later dossier from memory. A single dossier uses the same path, so the
figures come from one set of statements whichever way a dossier is written.

Row order within a unit is each statement's ``order by`` (the unit's columns first, then the order the dossier
prints), or the table's own order where the dossier's statement had none.
"""

from __future__ import annotations

import duckdb
import polars as pl


class MartRows:
    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        # (schema, table) of every table the connection sees: one catalog query for the batch
        self.tables = frozenset(
            con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        )
        self._whole: dict[str, pl.DataFrame] = {}
        self._sql: dict[str, str] = {}
        self._index: dict[tuple[str, tuple[str, ...]], dict[tuple, list[int]]] = {}

    def has(self, schema: str, table: str) -> bool:
        return (schema, table) in self.tables

    def whole(self, name: str, sql: str) -> pl.DataFrame:
        """The statement's result (read once)."""
        if name not in self._whole:
            self._whole[name] = self.con.sql(sql).pl()
            self._sql[name] = sql
        elif self._sql[name] != sql:  # a name read by two statements would hand one reader the other's rows
            raise ValueError(f"MartRows: {name!r} is already read by another statement")
        return self._whole[name]

    def _rows_of(self, name: str, sql: str, by: tuple[str, ...], key: tuple) -> tuple[pl.DataFrame, list[int]]:
        df = self.whole(name, sql)
        index = self._index.get((name, by))
        if index is None:
            # positions of each key's rows, in the statement's order: one pass over the key columns (a Polars
            # partition per unit-year cost more than the statements it replaced)
            index = {}
            for i, k in enumerate(zip(*(df[c].to_list() for c in by))):
                index.setdefault(k, []).append(i)
            self._index[(name, by)] = index
        return df, index.get(tuple(key), [])

    def frame(self, name: str, sql: str, by: tuple[str, ...], key: tuple, *, keep_key: bool = True) -> pl.DataFrame:
        """The rows of ``sql`` whose ``by`` columns equal ``key``, in the statement's order (empty, with the
        statement's columns, when there are none); ``keep_key=False`` drops the ``by`` columns."""
        df, positions = self._rows_of(name, sql, by, key)
        out = df[positions] if positions else df.clear()
        return out if keep_key else out.drop(list(by))

    def row(self, name: str, sql: str, by: tuple[str, ...], key: tuple) -> dict | None:
        """The first of those rows as a dict (None when there is none)."""
        df, positions = self._rows_of(name, sql, by, key)
        return df.row(positions[0], named=True) if positions else None
