"""Dagster's SQLite event log, without a new database connection per event.

Dagster's own ``SqliteEventLogStorage`` opens a fresh SQLAlchemy engine and SQLite connection for every read and
write, and the run and index databases are in WAL mode with SQLite's default ``synchronous=FULL``. So each
event costs a connect, a commit that waits for the disk, and a close that checkpoints the WAL into the database
file, again waiting for the disk: 2.5-3 ms of connection work, several times per event. A run of the default
sample stores ~1,100 events (every dbt model and test is an asset event or check result), and a py-spy profile
of ``ipcity run`` put ~59 s of a ~200 s run in ``store_event`` (bench/RESULTS.md, issue 19).

This subclass changes only how connections are made, not what is stored or where:

* one engine and one open connection per database file (an LRU of ``MAX_OPEN`` files), used under the same
  lock Dagster already holds around every use, so one thread at a time, as before;
* ``synchronous=NORMAL`` on those connections. In WAL mode that is SQLite's recommended setting: a commit no
  longer waits for the disk, and the database cannot be corrupted by a crash; a power cut may lose the last
  commits of the run history (never warehouse data, which is DuckDB's);
* the WAL is still checkpointed into the database file, at most ``CHECKPOINT_DELAY`` seconds after a write.
  The webserver follows a running run by watching that file change (``SqliteEventLogStorageWatchdog``), so the
  Dagster UI's live log keeps updating; a closed connection used to do this on every event.

A process that forks gets fresh connections (a SQLite connection must not cross a fork).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

MAX_OPEN = 16  # database files kept open: the index, the running run, and recent runs the UI reads
CHECKPOINT_DELAY = 0.2  # seconds between a write and the checkpoint the webserver's file watch sees


def _on_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` with one kept connection per database file (see the module docstring).
    Configured in DAGSTER_HOME/dagster.yaml by ``pipelines.launcher.prepare_dagster_home``."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        self._unflushed: set[str] = set()
        self._checkpoint_timer: threading.Timer | None = None
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value):  # ty: ignore[invalid-method-override]
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        """The shard's engine (created on first use); called with ``_db_lock`` held."""
        if self._engines_pid != os.getpid():  # forked: the parent's connections are not ours to use or close
            self._engines, self._engines_pid, self._unflushed = OrderedDict(), os.getpid(), set()
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = create_engine(
            self.conn_string_for_shard(shard),
            poolclass=StaticPool,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        event.listen(engine, "connect", _on_connect)
        self._engines[shard] = engine
        while len(self._engines) > MAX_OPEN:
            old_shard, old = self._engines.popitem(last=False)
            self._unflushed.discard(old_shard)
            old.dispose()  # closing the last connection checkpoints the WAL
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn
            self._unflushed.add(shard)
            if self._checkpoint_timer is None:
                self._checkpoint_timer = threading.Timer(CHECKPOINT_DELAY, self._checkpoint)
                self._checkpoint_timer.daemon = True
                self._checkpoint_timer.start()

    def _checkpoint(self) -> None:
        """Copy what the WAL holds into the database files written since the last checkpoint (PASSIVE: never
        waits for readers; what it cannot copy now stays in the WAL, where every reader sees it anyway)."""
        with self._db_lock:
            self._checkpoint_timer = None
            if self._engines_pid != os.getpid():
                return
            shards, self._unflushed = self._unflushed, set()
            for shard in shards:
                engine = self._engines.get(shard)
                if engine is None:
                    continue
                try:
                    with engine.connect() as conn:
                        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
                except Exception:  # noqa: BLE001 - a busy database is checkpointed by a later write
                    self._unflushed.add(shard)

    def dispose(self) -> None:
        with self._db_lock:
            if self._checkpoint_timer is not None:
                self._checkpoint_timer.cancel()
                self._checkpoint_timer = None
            if self._engines_pid == os.getpid():
                for engine in self._engines.values():
                    engine.dispose()
            self._engines.clear()
            self._unflushed.clear()
        super().dispose()
