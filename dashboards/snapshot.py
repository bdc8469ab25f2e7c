"""Read-only access to the published snapshot, following the pipeline's atomic swaps.

The pipeline publishes by writing a new file and ``os.replace``-ing it over the snapshot path, so the path's
inode/mtime changes and any open connection still sees the old file. Each query stats the path; on a change the
store waits for in-flight queries, closes the old connection and opens the new file.

DuckDB caches database instances by path within a process, so ``duckdb.connect(path)`` while any other
connection to that path is alive — ours, or e.g. the pipeline's dossier step when both run in one process —
silently returns the OLD file's database. So each version is opened under a private hard link of the file
(a name nobody else ever used), which is removed once DuckDB has the file open.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipelines.snapshot_writer import SNAPSHOT_SCHEMA_VERSION

log = logging.getLogger(__name__)

Version = tuple[int, int, int, int]


class SnapshotUnavailable(RuntimeError):
    """No published snapshot at the configured path yet."""


class SnapshotWrongVersion(SnapshotUnavailable):
    """The file at the path is a snapshot of another contract version than this dashboard reads."""

    def __init__(self, path: Path, found: str | None):
        self.found = found
        super().__init__(
            f"snapshot {path} has schema version {found or 'none'}, but this dashboard reads version "
            f"{SNAPSHOT_SCHEMA_VERSION} only: publish it again with the matching pipeline (`ipcity run --rebuild`) "
            "or deploy the dashboard that matches the pipeline"
        )


def snapshot_schema_version(con: duckdb.DuckDBPyConnection) -> str | None:
    """``meta.snapshot_info.schema_version`` of an open snapshot; None when it carries none."""
    try:
        rows = con.execute("select value from meta.snapshot_info where key = 'schema_version'").fetchall()
    except duckdb.CatalogException:
        return None
    return rows[0][0] if rows else None


_OPEN_COUNTER = [0]


class Snapshot:
    def __init__(self, path: Path | str, cache_size: int = 512, output_cache_size: int = 256):
        self.path = Path(path)
        self._cond = threading.Condition()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._version: Version | None = None
        self._readers = 0
        # Two LRUs: query results and frames derived from them (shared by every page), and finished callback
        # outputs (one per request body: the payload precompute alone makes hundreds). Separate, so that
        # outputs never evict the data a new request needs.
        self._cache: OrderedDict[tuple, Any] = OrderedDict()
        self._outputs: OrderedDict[tuple, Any] = OrderedDict()
        self._sizes = {id(self._cache): cache_size, id(self._outputs): output_cache_size}

    # -- version handling -------------------------------------------------------------------------------------
    def _stat(self) -> Version | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)

    def version(self) -> Version:
        """Version of the file currently on disk (opening it if it changed)."""
        with self._cond:
            self._refresh_locked()
            assert self._version is not None
            return self._version

    @property
    def available(self) -> bool:
        return self._stat() is not None

    def _refresh_locked(self) -> None:
        on_disk = self._stat()
        if on_disk is None:
            if self._con is None:
                raise SnapshotUnavailable(str(self.path))
            return  # keep serving the open file if the path briefly disappears
        if on_disk == self._version:
            return
        while self._readers:
            self._cond.wait()
        on_disk = self._stat() or on_disk
        if on_disk == self._version:
            return
        if self._con is not None:
            self._con.close()
            self._con = None
        con = self._open()
        found = snapshot_schema_version(con)
        if found != str(SNAPSHOT_SCHEMA_VERSION):
            con.close()
            self._version = None
            self._cache.clear()
            self._outputs.clear()
            raise SnapshotWrongVersion(self.path, found)
        self._con = con
        self._version = self._opened or on_disk
        self._cache.clear()
        self._outputs.clear()
        log.info("opened snapshot %s version %s", self.path, on_disk)

    def _acquire(self) -> tuple[Version, duckdb.DuckDBPyConnection]:
        with self._cond:
            self._refresh_locked()
            assert self._con is not None and self._version is not None
            self._readers += 1
            try:
                return self._version, self._con.cursor()
            except BaseException:
                self._readers -= 1
                self._cond.notify_all()
                raise

    def _release(self, cursor: duckdb.DuckDBPyConnection) -> None:
        try:
            cursor.close()
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    # -- queries ----------------------------------------------------------------------------------------------
    def cached(self, key: tuple, compute, output: bool = False) -> Any:
        """Memoise ``compute()`` for the current snapshot version: derived results and figures' inputs, or with
        ``output`` a callback's finished outputs (kept in their own LRU)."""
        cache = self._outputs if output else self._cache
        version = self.version()
        full_key = (version, *key)
        with self._cond:
            if full_key in cache:
                cache.move_to_end(full_key)
                return cache[full_key]
        value = compute()
        with self._cond:
            if self._version == version:
                cache[full_key] = value
                while len(cache) > self._sizes[id(cache)]:
                    cache.popitem(last=False)
        return value

    def query(self, sql: str, params: tuple | list = ()) -> pl.DataFrame:
        """Run ``sql`` against the snapshot; results are cached per snapshot version."""
        params = tuple(params)

        def run() -> pl.DataFrame:
            _, cur = self._acquire()
            try:
                return cur.sql(sql, params=list(params) or None).pl()
            finally:
                self._release(cur)

        return self.cached(("sql", sql, params), run)

    def tables(self) -> frozenset[str]:
        """``schema.table`` names present in the snapshot."""
        df = self.query("select table_schema || '.' || table_name as t from information_schema.tables")
        return frozenset(df["t"].to_list())

    def has(self, *names: str) -> bool:
        present = self.tables()
        return all(n in present for n in names)

    def _open(self) -> duckdb.DuckDBPyConnection:
        """Open the file now at ``path`` under a private hard-linked name (see the module doc), then drop the name:
        DuckDB keeps the file open, and the name was never shared with any other connection."""
        self._opened = None
        _OPEN_COUNTER[0] += 1
        private = self.path.with_name(f".{self.path.name}.reader-{os.getpid()}-{_OPEN_COUNTER[0]}")
        try:
            os.link(self.path, private)
        except OSError:  # e.g. a read-only folder: fall back to the shared name
            return duckdb.connect(str(self.path), read_only=True)
        try:
            st = os.stat(private)  # the version of what we actually opened, even if a swap just happened
            self._opened = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
            return duckdb.connect(str(private), read_only=True)
        finally:
            os.unlink(private)

    def close(self) -> None:
        with self._cond:
            while self._readers:
                self._cond.wait()
            if self._con is not None:
                self._con.close()
            self._con = None
            self._version = None
            self._cache.clear()
            self._outputs.clear()
