"""The event log with kept connections (pipelines/dagster_storage.py) stores what Dagster's own storage reads, and
the Dagster UI's live log (a file watch on the run's database) still sees every event."""

from __future__ import annotations

import logging
import threading
import time

import dagster as dg
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from pipelines.dagster_storage import CHECKPOINT_DELAY, PooledSqliteEventLogStorage


def _entry(run_id: str, message: str) -> EventLogEntry:
    return EventLogEntry(
        error_info=None,
        level=logging.INFO,
        user_message=message,
        run_id=run_id,
        timestamp=time.time(),
    )


def test_dagsters_own_storage_reads_what_the_kept_connections_wrote(tmp_path):
    pooled = PooledSqliteEventLogStorage(str(tmp_path))
    for i in range(50):
        pooled.store_event(_entry("run_a", f"event {i}"))
    # read while the writer's connection is still open, and again after it is closed
    stock = SqliteEventLogStorage(str(tmp_path))
    assert [e.user_message for e in stock.get_logs_for_run("run_a")] == [f"event {i}" for i in range(50)]
    pooled.dispose()
    assert len(SqliteEventLogStorage(str(tmp_path)).get_logs_for_run("run_a")) == 50


def test_a_watcher_sees_each_event_soon_after_it_is_written(tmp_path):
    """The webserver follows a running run through a file watch on the run's database file (Dagster's
    SqliteEventLogStorageWatchdog). Kept connections leave commits in the WAL; the storage's checkpoint must
    still bring them into the file, or the UI's live log would stop."""
    pooled = PooledSqliteEventLogStorage(str(tmp_path))
    pooled.store_event(_entry("run_b", "first"))
    time.sleep(CHECKPOINT_DELAY * 3)
    watcher = SqliteEventLogStorage(str(tmp_path))
    seen: list[str] = []
    second = threading.Event()

    def on_event(entry, _cursor):
        seen.append(entry.user_message)
        if entry.user_message == "second":
            second.set()

    watcher.watch("run_b", None, on_event)
    try:
        time.sleep(0.5)  # the observer thread is watching before the write
        pooled.store_event(_entry("run_b", "second"))
        assert second.wait(15), f"the watch never saw the second event (saw {seen})"
    finally:
        watcher.end_watch("run_b", on_event)
        watcher.dispose()
        pooled.dispose()
    assert seen[-1] == "second"


def test_the_projects_dagster_home_uses_it_and_a_moved_home_is_rewritten(tmp_path, monkeypatch):
    from pipelines.launcher import dagster_instance, prepare_dagster_home

    home = tmp_path / "one"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    prepare_dagster_home()
    instance = dagster_instance()
    assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)

    @dg.asset
    def numbers() -> int:
        return 1

    assert dg.materialize([numbers], instance=instance).success
    assert (home / "history" / "runs" / "index.db").exists()
    assert (home / "history" / "runs.db").exists()
    # a copied home keeps pointing at itself, not at the place it was copied from
    moved = tmp_path / "two"
    moved.mkdir()
    (moved / "dagster.yaml").write_text((home / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(moved))
    prepare_dagster_home()
    text = (moved / "dagster.yaml").read_text()
    assert str(home) not in text and str(moved / "history" / "runs") in text
    assert text.count("event_log_storage:") == 1


def test_a_home_that_configures_its_own_storage_is_left_alone(tmp_path, monkeypatch):
    from pipelines.launcher import prepare_dagster_home

    home = tmp_path / "home"
    home.mkdir()
    own = f"storage:\n  sqlite:\n    base_dir: {tmp_path / 'elsewhere'}\n"
    (home / "dagster.yaml").write_text(own)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    prepare_dagster_home()
    text = (home / "dagster.yaml").read_text()
    assert text.startswith(own) and "pipelines.dagster_storage" not in text
