"""Open a SQLite file that several threads and processes share, in WAL mode.

Switching a file to WAL needs an exclusive lock, and SQLite answers "database is locked" at once when another
connection opens the same file in that moment: its busy timeout does not cover the switch. The dashboard's
first requests after a start open its stores (accounts, stored payloads) in several threads and workers at the
same instant, so the check-and-switch is serialised by a lock file beside the database, which holds across
threads and processes alike. WAL mode is kept in the file, so every later open only reads it.

The stores hold accounts, the audit log, alert recipients and other provinces' figures: the database and its lock
file are born owner-only (``pipelines.private_files``), and SQLite gives the -wal and -shm files the database's
mode. The folder is the caller's to make private (the accounts' and the payloads' are; the alerts' folder also
holds the outbox a mail relay, perhaps another user, picks up).
"""

from __future__ import annotations

import fcntl
import sqlite3
from pathlib import Path

from pipelines.private_files import open_private, private_file


def wal_connect(path: Path | str, **connect_kwargs) -> sqlite3.Connection:
    """``sqlite3.connect(path, **connect_kwargs)`` with the file in WAL mode."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_private(path.with_name(path.name + ".wal-lock")) as gate:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            private_file(path)  # before SQLite creates it with the umask's mode
            con = sqlite3.connect(path, **connect_kwargs)
            try:
                if con.execute("pragma journal_mode").fetchone()[0] != "wal":
                    con.execute("pragma journal_mode=wal")
            except BaseException:
                con.close()
                raise
        finally:
            fcntl.flock(gate, fcntl.LOCK_UN)
    return con
