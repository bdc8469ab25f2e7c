"""WSGI entry for the concurrency benchmark: ``gunicorn 'bench.dashboard_wsgi:server(snapshot="...")'``.

Each worker builds its own app (and its own read-only snapshot connection) from the app factory. With
``payload_dir`` the workers share the heavy callbacks' stored responses there and one of them precomputes them
(as ``dashboards.wsgi`` does for ``ipcity serve``); without it (and ``IPCITY_PAYLOADS=off``) every call is
computed, the design before issue 15's precomputation.
"""

from __future__ import annotations

import os
from pathlib import Path

from dashboards import payloads
from dashboards.app import create_app


def server(snapshot: str | None = None, access_dir: str | None = None, payload_dir: str | None = None):
    """``access_dir``: the users store and session key the benchmark's account lives in (shared by every worker,
    so a session signed in on one worker is valid on all)."""
    if payload_dir:
        os.environ[payloads.STORE_ENV] = payload_dir
    kwargs = {}
    if access_dir is not None:
        access = Path(access_dir)
        kwargs = {"user_store": access / "users.sqlite", "secret_key_file": access / "secret_key"}
    app = create_app(Path(snapshot) if snapshot else None, **kwargs)
    if payload_dir:
        payloads.start_precompute(app)
    return app.server
