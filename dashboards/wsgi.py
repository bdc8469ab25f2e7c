"""The WSGI entry point for production serving: ``gunicorn dashboards.wsgi:application`` (``ipcity serve``).

Paths come from the environment like every other component (``IPCITY_WAREHOUSE``: the published snapshot,
dossiers, extracts, the users store and the session key all sit beside it). ``IPCITY_TRUSTED_PROXIES=N`` (default 0)
trusts the last N entries of X-Forwarded-For/-Proto/-Host, those the deployment's own proxies wrote (the app applies
it: dashboards.web.install), so rate limits, the audit log and the session see the real client and cookies are Secure
behind TLS.

The heavy callbacks' responses are stored per snapshot version in a folder shared by the workers
(``IPCITY_PAYLOAD_STORE``, default ``<data>/payload_store``) and precomputed at start by one worker
(dashboards/payloads.py).
"""

from __future__ import annotations

import os

from dashboards import payloads
from dashboards.app import create_app
from pipelines import settings

os.environ.setdefault(payloads.STORE_ENV, str(settings.data_dir() / "payload_store"))
app = create_app(debug=False)
application = app.server
payloads.start_precompute(app)
