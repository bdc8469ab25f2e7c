"""The SQLite files that threads and workers share (accounts, stored dashboard payloads, the alert store) open
without "database is locked" when many open a new file at the same instant. Switching a file to WAL is not
covered by SQLite's busy timeout; the CI run of stop 25 failed on exactly this, as a 500 from the dashboard."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from dashboards import auth, payloads
from pipelines.alerts import store as alert_store


def _payload_store(folder: Path):
    store = payloads.PayloadStore(folder)
    return lambda: store.get("tag", "key")


def _user_store(folder: Path):
    store = auth.UserStore(folder / "users.sqlite")
    return lambda: store.get("nobody")


def _alert_store(folder: Path):
    def open_it():
        with alert_store.connect(folder / "alerts.sqlite") as con:
            con.execute("select 1").fetchone()

    return open_it


STORES = {"payloads": _payload_store, "accounts": _user_store, "alerts": _alert_store}


@pytest.mark.parametrize("kind", sorted(STORES))
def test_threads_opening_a_new_store_at_once_all_get_it(tmp_path, kind):
    # Without the serialised switch to WAL, ~6% of such 4-thread trials failed on a 2-core machine.
    for trial in range(200):
        first_open, errors = STORES[kind](tmp_path / str(trial)), []
        gate = threading.Barrier(4)

        def request(first_open=first_open, gate=gate, errors=errors):
            gate.wait()
            try:
                first_open()
            except Exception as exc:  # noqa: BLE001 - collect what a request would have raised
                errors.append(exc)

        threads = [threading.Thread(target=request) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
        assert errors == [], f"trial {trial}: {errors[0]!r}"


def _open_at(kind: str, folder: Path, start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))
    STORES[kind](folder)()


@pytest.mark.parametrize("kind", sorted(STORES))
def test_worker_processes_opening_a_new_store_at_once_all_get_it(tmp_path, kind):
    ctx = multiprocessing.get_context("fork")
    for trial in range(5):
        start_at = time.time() + 0.3
        workers = [ctx.Process(target=_open_at, args=(kind, tmp_path / str(trial), start_at)) for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(30)
        assert [w.exitcode for w in workers] == [0] * 4, f"trial {trial}"
