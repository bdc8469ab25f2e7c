"""WSGI entry for the concurrency benchmark: ``gunicorn 'bench.dashboard_wsgi:server(snapshot="...")'``.

Each worker builds its own app (and its own read-only snapshot connection) from the app factory; nothing is
shared across the fork.
"""

from __future__ import annotations

from pathlib import Path

from dashboards.app import create_app


def server(snapshot: str | None = None, access_dir: str | None = None):
    """``access_dir``: the users store and session key the benchmark's account lives in (shared by every worker,
    so a session signed in on one worker is valid on all)."""
    if access_dir is None:
        return create_app(Path(snapshot) if snapshot else None).server
    access = Path(access_dir)
    return create_app(
        Path(snapshot) if snapshot else None,
        user_store=access / "users.sqlite",
        secret_key_file=access / "secret_key",
    ).server
