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

from pipelines.snapshot_writer import QUALITY_SNAPSHOT_KIND, SNAPSHOT_SCHEMA_VERSION, quality_snapshot_path

log = logging.getLogger(__name__)

# (device, inode, mtime, size) of the snapshot, then the same of the quality snapshot beside it (zeros: none)
Version = tuple[int, ...]
_NO_FILE = (0, 0, 0, 0)
# The quality snapshot of a failed run (pipelines/snapshot_writer.publish_quality_snapshot), attached under this
# name while it is newer than the snapshot; a query marked ``quality=True`` reads its quality tables from it.
QUALITY_CATALOG = "qsnap"
# In such a query, where the quality tables' catalog goes ("qsnap." or nothing).
QUALITY_PREFIX = "__quality__."


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


def _published_at(meta: dict[str, str]):
    """A snapshot's publication time (aware, UTC); the earliest time when it says none."""
    from datetime import UTC, datetime

    try:
        return datetime.fromisoformat(meta["published_at"])
    except (KeyError, ValueError):
        return datetime.min.replace(tzinfo=UTC)


class Snapshot:
    def __init__(self, path: Path | str, cache_size: int = 512, output_cache_size: int = 256):
        self.path = Path(path)
        self.quality_path = quality_snapshot_path(self.path)
        self._quality: dict[str, str] | None = None  # the attached quality snapshot's meta, when one is attached
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
    @staticmethod
    def _file_stat(path: Path) -> tuple[int, int, int, int] | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)

    def _stat(self) -> Version | None:
        """The snapshot's version and its quality snapshot's: a failed run publishing its checks is a new version
        (every cache and stored payload keyed by it follows), though the snapshot's file did not change."""
        main = self._file_stat(self.path)
        return None if main is None else main + (self._file_stat(self.quality_path) or _NO_FILE)

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
        version, cursor, _ = self._acquire_with_quality()
        return version, cursor

    def _acquire_with_quality(self) -> tuple[Version, duckdb.DuckDBPyConnection, bool]:
        """A cursor on the open version, and whether that version has a quality snapshot attached (read under the
        same lock, so a query never names a catalog the connection it runs on lacks)."""
        with self._cond:
            self._refresh_locked()
            assert self._con is not None and self._version is not None
            self._readers += 1
            try:
                return self._version, self._con.cursor(), self._quality is not None
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

    def query(self, sql: str, params: tuple | list = (), quality: bool = False) -> pl.DataFrame:
        """Run ``sql`` against the snapshot; results are cached per snapshot version.

        ``quality``: the query reads the runs' quality tables (check results, quarantine, ledger) written as
        ``QUALITY_PREFIX`` + ``schema.table``: from a failed run's quality snapshot while one newer than the
        snapshot is published, else from the snapshot."""
        params = tuple(params)

        def run() -> pl.DataFrame:
            _, cur, attached = self._acquire_with_quality()
            text = sql.replace(QUALITY_PREFIX, f"{QUALITY_CATALOG}." if attached and quality else "")
            try:
                return cur.sql(text, params=list(params) or None).pl()
            finally:
                self._release(cur)

        return self.cached(("sql", sql, params, quality), run)

    def quality_release(self) -> dict[str, str] | None:
        """The meta (run_id, published_at) of the failed run whose quality results the quality page shows, while
        they are newer than the snapshot; None when the snapshot's own are the latest."""
        with self._cond:
            self._refresh_locked()
            return None if self._quality is None else dict(self._quality)

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
        self._quality = None
        _OPEN_COUNTER[0] += 1
        private = self.path.with_name(f".{self.path.name}.reader-{os.getpid()}-{_OPEN_COUNTER[0]}")
        try:
            os.link(self.path, private)
        except OSError:  # e.g. a read-only folder: fall back to the shared name
            return duckdb.connect(str(self.path), read_only=True)
        try:
            st = os.stat(private)  # the version of what we actually opened, even if a swap just happened
            con = duckdb.connect(str(private), read_only=True)
        finally:
            os.unlink(private)
        quality_version = self._attach_quality(con)
        self._opened = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size) + quality_version
        return con

    def _attach_quality(self, con: duckdb.DuckDBPyConnection) -> tuple[int, int, int, int]:
        """Attach the quality snapshot beside the snapshot when it is a failed run's published after the snapshot;
        the version of the quality file seen (attached or not), so a later change to it is noticed."""
        private = self.quality_path.with_name(f".{self.quality_path.name}.reader-{os.getpid()}-{_OPEN_COUNTER[0]}")
        try:
            os.link(self.quality_path, private)
        except OSError:  # none published (or a folder without hard links: the snapshot's own results are shown)
            return self._file_stat(self.quality_path) or _NO_FILE
        try:
            st = os.stat(private)
            con.execute(f"ATTACH '{str(private).replace(chr(39), chr(39) * 2)}' AS {QUALITY_CATALOG} (READ_ONLY)")
        except duckdb.Error as exc:
            log.warning("quality snapshot %s not read: %s", self.quality_path, exc)
            return self._file_stat(self.quality_path) or _NO_FILE
        finally:
            os.unlink(private)
        version = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
        try:
            meta = dict(con.execute(f"select key, value from {QUALITY_CATALOG}.meta.snapshot_info").fetchall())
            main = dict(con.execute("select key, value from meta.snapshot_info").fetchall())
        except duckdb.Error as exc:  # a file without its publication record is not shown
            log.warning("quality snapshot %s not read: %s", self.quality_path, exc)
            meta, main = {}, {}
        if (
            meta.get("kind") == QUALITY_SNAPSHOT_KIND
            and meta.get("schema_version") == str(SNAPSHOT_SCHEMA_VERSION)
            and _published_at(meta) > _published_at(main)
        ):
            self._quality = meta
        else:  # the snapshot is newer (a successful run after it): its own quality tables are the latest
            con.execute(f"DETACH {QUALITY_CATALOG}")
        return version

    def close(self) -> None:
        with self._cond:
            while self._readers:
                self._cond.wait()
            if self._con is not None:
                self._con.close()
            self._con = None
            self._version = None
            self._quality = None
            self._cache.clear()
            self._outputs.clear()
