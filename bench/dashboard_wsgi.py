"""WSGI entry for the concurrency benchmark: ``gunicorn 'bench.dashboard_wsgi:server(snapshot="...")'``.

Each worker builds its own app (and its own read-only snapshot connection) from the app factory; nothing is
shared across the fork.
"""

from __future__ import annotations

from pathlib import Path

from dashboards.app import create_app


def server(snapshot: str | None = None):
    return create_app(Path(snapshot) if snapshot else None).server
