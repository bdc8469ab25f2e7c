"""Heavy work running at once per account: bounded across threads and gunicorn's workers.

The request limits (``web.BUILT_FILE_LIMITS``, flask-limiter) count requests per minute, not requests at once: one
account's script could start thirty PDF reports, workbook builds or uncached callbacks in the same second and keep
every thread of a 2-core server (2 workers x 4 threads) busy for everyone else. So each account may run at most
``slots`` pieces of one kind of heavy work at once, and have as many more waiting (up to ``wait`` seconds) for a
slot; anything beyond that is refused at once with 429, in both languages (``web.refusal``: the page's language
first). A browser sends at most six requests
to a host at a time over HTTP/1.1 (gunicorn's), across all its tabs, so a person's pages wait a moment at worst
and are never refused.

The slots are lock files (``fcntl.flock``) in an owner-only folder beside the accounts store: held by the process
that runs the work, shared by every worker, and let go by the kernel if that process dies. A stored (precomputed)
callback answer is served before the view runs, so it takes no slot.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from pipelines.private_files import open_private, private_dir

CONFIG_KEY = "IPCITY_BUSY"
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Kind:
    slots: int  # running at once per account
    queue: int  # waiting for a slot per account (each waiting request holds a server thread, so few)
    wait: float  # seconds a request waits for a slot before it is refused


# endpoint -> kind of heavy work. "file": a PDF report (WeasyPrint, ~1 s), the indicator extract, a provincial
# extract's workbook built on its first download; "callback": a Dash callback computed (not served from the store).
# A page's first load fires its callbacks together: six at most over HTTP/1.1, but all of them at once behind an
# HTTP/2 proxy, so callbacks may queue more deeply than files (a person's page is never refused; one script still
# runs only three at once).
KINDS = {"file": Kind(slots=2, queue=2, wait=30.0), "callback": Kind(slots=3, queue=12, wait=30.0)}
HEAVY_ENDPOINTS = {
    "report_route": "file",
    "download_extract": "file",
    "extract_file": "file",
    "/_dash-update-component": "callback",
}


class Busy(Exception):
    """The account has as much of this kind of work running and waiting as it may: refused (429)."""


class Slots:
    def __init__(self, folder: Path, kinds: dict[str, Kind] | None = None):
        self.folder = Path(folder)
        self.kinds = dict(KINDS if kinds is None else kinds)

    def _files(self, account: str, kind: str, role: str, n: int) -> list[Path]:
        # the account's name hashed: a file name never carries what a user typed
        tag = hashlib.sha256(account.encode()).hexdigest()[:20]
        return [self.folder / f"{tag}.{kind}.{role}{k}.lock" for k in range(n)]

    def _take_one(self, files: list[Path]):
        private_dir(self.folder)
        for path in files:
            f = open_private(path)
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.close()
                continue
            return f
        return None

    @contextlib.contextmanager
    def hold(self, account: str, kind: str):
        """Run the body in one of ``account``'s slots of ``kind``; raises ``Busy`` when none frees up in time."""
        spec = self.kinds[kind]
        slot = self._take_one(self._files(account, kind, "run", spec.slots))
        if slot is None:
            ticket = self._take_one(self._files(account, kind, "wait", spec.queue))
            if ticket is None:
                raise Busy(kind)
            try:
                deadline = time.monotonic() + spec.wait
                while slot is None and time.monotonic() < deadline:
                    time.sleep(POLL_SECONDS)
                    slot = self._take_one(self._files(account, kind, "run", spec.slots))
            finally:
                ticket.close()  # closing the file lets its lock go
            if slot is None:
                raise Busy(kind)
        try:
            yield
        finally:
            slot.close()


def install(server, folder: Path, refuse) -> Slots:
    """Wrap the heavy endpoints' views (after every before_request hook: the gate's checks and the payload store's
    stored answers come first) so each runs in one of its account's slots. ``refuse()`` is the 429 answer: the
    app's own refusal (``web.refusal``), so it follows the page's language like every other one (a fixed
    "Chinese / English" line came Chinese first on an English page, and as plain text to a browser)."""
    from flask_login import current_user

    slots = Slots(folder)
    server.config[CONFIG_KEY] = slots

    def wrap(view, kind):
        # functools.wraps keeps the view's name (flask-limiter finds its limits by it) and its attributes
        # (flask-talisman's per-view options)
        @functools.wraps(view)
        def bounded(*args, **kwargs):
            if not current_user.is_authenticated:  # the gate refused it already; nothing heavy runs unsigned
                return view(*args, **kwargs)
            try:
                with server.config[CONFIG_KEY].hold(current_user.username, kind):
                    return view(*args, **kwargs)
            except Busy:
                resp = refuse()
                resp.headers["Retry-After"] = "5"
                return resp

        return bounded

    for endpoint, kind in HEAVY_ENDPOINTS.items():
        if endpoint in server.view_functions:
            server.view_functions[endpoint] = wrap(server.view_functions[endpoint], kind)
    return slots
