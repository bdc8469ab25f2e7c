"""`ipcity docs`: the dbt documentation site of the project — every model and column described, the lineage from
each dashboard page (exposures) through the marts and intermediate models to the raw sources — built with
`dbt docs generate --static` and served on the loopback interface.

The column types come from the warehouse (dbt's catalog); without a warehouse, or while a run holds it, the site
is built from the project alone (descriptions and lineage, no types).
"""

from __future__ import annotations

import functools
import http.server
import os
from pathlib import Path

from pipelines import settings

DOCS_TARGET = "target/docs"


def generate_docs(target_dir: Path | None = None) -> Path:
    """Build the static docs site; returns the folder holding ``static_index.html``."""
    from dbt.cli.main import dbtRunner

    out = target_dir or settings.DBT_PROJECT_DIR / DOCS_TARGET
    args = [
        "docs",
        "generate",
        "--static",
        "--quiet",
        "--project-dir",
        str(settings.DBT_PROJECT_DIR),
        "--profiles-dir",
        str(settings.DBT_PROJECT_DIR),
        "--target-path",
        str(out),
    ]
    warehouse = settings.warehouse_path()
    env_before = os.environ.get("IPCITY_WAREHOUSE")
    os.environ["IPCITY_WAREHOUSE"] = str(warehouse)  # dbt's profile reads the path from the environment
    try:
        result = dbtRunner().invoke(args if warehouse.is_file() else [*args, "--empty-catalog"])
        if not result.success:  # e.g. the warehouse is locked by a running pipeline: descriptions and lineage only
            result = dbtRunner().invoke([*args, "--empty-catalog"])
    finally:
        if env_before is None:
            os.environ.pop("IPCITY_WAREHOUSE", None)
        else:
            os.environ["IPCITY_WAREHOUSE"] = env_before
    if not result.success:
        raise RuntimeError(f"dbt docs generate failed: {result.exception}")
    return out


def docs_server(folder: Path, host: str = "127.0.0.1", port: int = 8081) -> http.server.ThreadingHTTPServer:
    """An HTTP server for the built site (``/`` is the static page); the caller runs ``serve_forever``."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            if self.path in ("/", "/index.html"):
                self.path = "/static_index.html"
            return super().do_GET()

        def log_message(self, format, *args):  # noqa: A002
            pass

    return http.server.ThreadingHTTPServer((host, port), functools.partial(Handler, directory=str(folder)))
