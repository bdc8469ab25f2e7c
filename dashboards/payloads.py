"""Heavy callback responses computed once per published snapshot and served as stored bytes.

The heaviest callbacks (overview, profile, quality, compare) build Plotly figures and grids from a snapshot that
changes only when the pipeline publishes. Building them costs 40–130 ms of CPU and even serialising a memoised
figure 6–30 ms (plotly's deep copy and JSON cleaning), so fifty officials at once on two cores queue for seconds.
Here the finished JSON response of such a call is kept, keyed by

    (snapshot version, dashboard code fingerprint, the account's role and province scope, the callback's
     outputs, inputs and states)

in process memory and — when a store folder is configured (``ipcity serve``; ``IPCITY_PAYLOAD_STORE``) — in a
SQLite file shared by every gunicorn worker, so a payload is built once for all workers. At server start one
worker precomputes every enumerable payload (each year × map mode × language of the overview, each unit ×
language of the profile, the quality run view, the comparison each year opens with and its trend for every
indicator) in a background thread; other sets of cities are built on first request, once, then stored.

Security is unchanged: the lookup runs after the sign-in gate's ``access.check_callback`` (every call is checked
against the account's role and scope before a stored payload is returned), the key includes the role and
province scope, and only the callbacks listed in ``CACHED_OUTPUTS`` — pure functions of snapshot, inputs and
scope — are ever stored.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path

import flask

from pipelines.private_files import open_private, private_dir, write_private_text
from pipelines.sqlite_wal import wal_connect

from . import access

log = logging.getLogger(__name__)

STORE_ENV = "IPCITY_PAYLOAD_STORE"
SWITCH_ENV = "IPCITY_PAYLOADS"  # "off": no stored responses (the benchmark's baseline: every call computed)
CONFIG_KEY = "IPCITY_PAYLOADS"
DISPATCH_PATH = "/_dash-update-component"
LANGS = ("zh", "en")

# Dash's ``output`` key of each stored callback (the multi-output form '..a.b...c.d..').
PROFILE_OUTPUTS = [
    ("pf-summary", "children"),
    ("pf-indicators", "figure"),
    ("pf-targets", "children"),
    ("pf-stage-fig", "figure"),
    ("pf-cycles", "children"),
    ("pf-stages", "children"),
    ("pf-alerts", "children"),
]
OVERVIEW_OUTPUTS = [
    ("ov-cards", "children"),
    ("ov-map", "figure"),
    ("ov-provinces", "rowData"),
    ("ov-dist", "figure"),
    ("ov-movers", "figure"),
]
QUALITY_OUTPUTS = [
    ("dq-cards", "children"),
    ("dq-checks", "children"),
    ("dq-rej-fig", "figure"),
    ("dq-rejections", "children"),
]
COMPARE_OUTPUTS = [
    ("cmp-radar", "figure"),
    ("cmp-table", "columnDefs"),
    ("cmp-table", "rowData"),
    ("cmp-heatmap", "figure"),
    ("cmp-sw", "children"),
    ("cmp-message", "children"),
]
TREND_OUTPUTS = [("cmp-trend", "figure")]


def output_key(outputs: list[tuple[str, str]]) -> str:
    if len(outputs) == 1:
        return f"{outputs[0][0]}.{outputs[0][1]}"
    return ".." + "...".join(f"{i}.{p}" for i, p in outputs) + ".."


CACHED_OUTPUTS = frozenset(
    output_key(o) for o in (PROFILE_OUTPUTS, OVERVIEW_OUTPUTS, QUALITY_OUTPUTS, COMPARE_OUTPUTS, TREND_OUTPUTS)
)
MEMORY_ITEMS = 4096  # per process; a profile payload is ~55 KB, so at most ~250 MB at the very worst


def callback_body(outputs, inputs, state=()) -> dict:
    """The body the browser posts for a callback (Dash's renderer format)."""
    many = len(outputs) > 1
    return {
        "output": output_key(outputs),
        "outputs": [{"id": i, "property": p} for i, p in outputs]
        if many
        else {"id": outputs[0][0], "property": outputs[0][1]},
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"] if inputs else [],
    }


def profile_body(unit: str, lang: str) -> dict:
    return callback_body(PROFILE_OUTPUTS, [("pf-unit", "value", unit)], [("pf-lang", "data", lang)])


def overview_body(year: int, mode: str, lang: str) -> dict:
    return callback_body(
        OVERVIEW_OUTPUTS, [("ov-year", "value", year), ("ov-map-mode", "value", mode)], [("ov-lang", "data", lang)]
    )


def quality_body(run_id: str | None, lang: str) -> dict:
    return callback_body(QUALITY_OUTPUTS, [("dq-run", "value", run_id)], [("dq-lang", "data", lang)])


def compare_body(year: int, units: list[str], lang: str) -> dict:
    return callback_body(
        COMPARE_OUTPUTS, [("cmp-year", "value", year), ("cmp-units", "value", units)], [("cmp-lang", "data", lang)]
    )


def trend_body(units: list[str], indicator: str, lang: str) -> dict:
    return callback_body(
        TREND_OUTPUTS,
        [("cmp-units", "value", units), ("cmp-indicator", "value", indicator)],
        [("cmp-lang", "data", lang)],
    )


def request_key(body: object) -> str | None:
    """The canonical key of a stored callback's request, or None when the call is not one we store."""
    if not isinstance(body, dict) or body.get("output") not in CACHED_OUTPUTS:
        return None

    def values(items) -> list:
        if not isinstance(items, list):
            return []
        return [[it.get("id"), it.get("property"), it.get("value")] for it in items if isinstance(it, dict)]

    canonical = [body["output"], values(body.get("inputs")), values(body.get("state"))]
    return json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _published(snap) -> dict[str, frozenset]:
    """What a stored request may name: the snapshot's years, units, indicators and listed runs (once per version)."""
    from . import queries

    def compute() -> dict[str, frozenset]:
        runs = queries.quality_runs(snap)
        return {
            "years": frozenset(queries.years(snap)),
            "units": frozenset(queries.units(snap)["unit_code"].to_list()),
            "indicators": frozenset(queries.indicator_catalog(snap)["indicator_code"].to_list()),
            "runs": frozenset([*(runs["run_id"].to_list() if runs is not None else []), queries.latest_run_id(snap)]),
        }

    return snap.cached(("payloads_published",), compute)


def _year(value) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else None


def _canonical_units(codes: list) -> bool:
    """Whether a comparison's cities are as the page sends them: distinct, at most the page's MAX_UNITS. The
    callback reads the first MAX_UNITS distinct codes (pages.compare.parse_units), so one city repeated, or real
    cities past the sixth, gave the same answer under as many keys as a script cared to count (each stored)."""
    from .pages.compare import MAX_UNITS

    return len(codes) <= MAX_UNITS and len(set(codes)) == len(codes)


def storable(body: dict, snap) -> bool:
    """Whether a stored callback's request names only published things: a year of the snapshot, its units, its
    indicators, a run it lists (or the latest). Any other request is answered but not stored: every made-up year,
    code or run id stored one more payload in the workers' shared file, a disk-filling lever for any account
    (the values' shapes are checked at the gate already, security.CALLBACK_VALUES)."""
    known = _published(snap)
    for item in [*(body.get("inputs") or []), *(body.get("state") or [])]:
        if not isinstance(item, dict):
            return False
        key, value = f"{item.get('id')}.{item.get('property')}", item.get("value")
        if key in ("ov-year.value", "cmp-year.value") and _year(value) not in known["years"]:
            return False
        if key in ("pf-unit.value", "cmp-units.value"):
            codes = value if isinstance(value, list) else [value]
            if not all(c in known["units"] for c in codes if c not in (None, "")):
                return False
        if key == "cmp-units.value" and isinstance(value, list) and not _canonical_units(value):
            return False
        if key == "cmp-indicator.value" and value not in (None, "") and value not in known["indicators"]:
            return False
        if key == "dq-run.value" and value is not None and value not in known["runs"]:
            return False
    return True


def scope_tag(principal: access.Principal) -> str:
    scope = principal.province_scope()
    return f"{principal.role}:" + ("*" if scope is None else ",".join(sorted(scope)))


def code_fingerprint() -> str:
    """Hash of the dashboard's code and assets: a stored payload is only valid for the code that built it."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted([*here.rglob("*.py"), *here.glob("assets/*")]):
        if f.is_file():
            h.update(f.relative_to(here).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


class PayloadStore:
    """Responses per snapshot version: an LRU dict in memory, optionally a SQLite file shared by processes."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder else None
        self.code = code_fingerprint()
        self._lock = threading.Lock()
        self._memory: OrderedDict[tuple, bytes] = OrderedDict()
        self._local = threading.local()
        self._inflight: dict[tuple[str, str], threading.Event] = {}
        self.hits = self.misses = 0
        self.warm_state = "off"
        self.auto_precompute = False  # set by start_precompute: re-run it when a new snapshot is published
        self.seen_tag: str | None = None
        self.app = None

    # -- shared SQLite file ---------------------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection | None:
        if self.folder is None:
            return None
        con = getattr(self._local, "con", None)
        if con is None:
            private_dir(self.folder)  # every scope's stored answers: other provinces' figures
            con = wal_connect(self.folder / "payloads.sqlite", timeout=30, isolation_level=None)
            con.execute("pragma synchronous=normal")
            con.execute(
                "create table if not exists payloads (version text not null, key text not null, body blob not null,"
                " primary key (version, key))"
            )
            con.execute(
                "create table if not exists claims (version text not null, key text not null,"
                " claimed_at double not null, primary key (version, key))"
            )
            self._local.con = con
        return con

    def done_tag(self) -> str | None:
        """The snapshot tag whose payloads are all stored (written by the worker that precomputed them)."""
        if self.folder is None:
            return self.seen_tag if self.warm_state == "ready" else None
        try:
            return (self.folder / "precompute.done").read_text()
        except OSError:
            return None

    def tag(self, version) -> str:
        return hashlib.sha256(repr((version, self.code)).encode()).hexdigest()[:24]

    def get(self, version_tag: str, key: str) -> bytes | None:
        with self._lock:
            found = self._memory.get((version_tag, key))
            if found is not None:
                self._memory.move_to_end((version_tag, key))
                self.hits += 1
                return found
        db = self._db()
        if db is not None:
            row = db.execute("select body from payloads where version = ? and key = ?", (version_tag, key)).fetchone()
            if row is not None:
                self._remember(version_tag, key, row[0])
                self.hits += 1
                return row[0]
        self.misses += 1
        return None

    # -- one build per payload ----------------------------------------------------------------------------
    def fetch_or_claim(self, version_tag: str, key: str, timeout: float = 20.0) -> tuple[bytes | None, bool]:
        """(stored bytes, False) when another thread or worker built the payload meanwhile; (None, True) when
        this request builds it (then ``put`` and ``release``); (None, False) when the builder took too long."""
        with self._lock:
            building = self._inflight.get((version_tag, key))
            if building is None:
                self._inflight[(version_tag, key)] = threading.Event()
        if building is not None:
            building.wait(timeout)
            return self.get(version_tag, key), False
        db = self._db()
        if db is not None and not self._claim_shared(db, version_tag, key):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:  # another worker builds it
                time.sleep(0.02)
                row = db.execute(
                    "select body from payloads where version = ? and key = ?", (version_tag, key)
                ).fetchone()
                if row is not None:
                    self._remember(version_tag, key, row[0])
                    self.release(version_tag, key, shared=False)
                    return row[0], False
        return None, True

    def _claim_shared(self, db: sqlite3.Connection, version_tag: str, key: str) -> bool:
        now = time.time()
        try:
            db.execute("insert into claims values (?, ?, ?)", (version_tag, key, now))
            return True
        except sqlite3.IntegrityError:  # claimed: take it over only if its builder vanished
            cur = db.execute(
                "update claims set claimed_at = ? where version = ? and key = ? and claimed_at < ?",
                (now, version_tag, key, now - 30),
            )
            return cur.rowcount == 1
        except sqlite3.OperationalError:
            return True

    def release(self, version_tag: str, key: str, shared: bool = True) -> None:
        with self._lock:
            building = self._inflight.pop((version_tag, key), None)
        if building is not None:
            building.set()
        db = self._db() if shared else None
        if db is not None:
            with contextlib.suppress(sqlite3.OperationalError):
                db.execute("delete from claims where version = ? and key = ?", (version_tag, key))

    def put(self, version_tag: str, key: str, body: bytes) -> None:
        self._remember(version_tag, key, body)
        db = self._db()
        if db is not None:
            try:
                db.execute("insert or replace into payloads values (?, ?, ?)", (version_tag, key, body))
            except sqlite3.OperationalError as e:  # a busy store never fails the request
                log.warning("payload store write skipped: %s", e)

    def _remember(self, version_tag: str, key: str, body: bytes) -> None:
        with self._lock:
            if self._memory and next(iter(self._memory))[0] != version_tag:
                stale = [k for k in self._memory if k[0] != version_tag]
                for k in stale:
                    del self._memory[k]
            self._memory[(version_tag, key)] = body
            while len(self._memory) > MEMORY_ITEMS:
                self._memory.popitem(last=False)

    def forget_other_versions(self, version_tag: str) -> None:
        db = self._db()
        if db is not None:
            with contextlib.suppress(sqlite3.OperationalError):
                db.execute("delete from payloads where version != ?", (version_tag,))
                db.execute("delete from claims where version != ?", (version_tag,))


def _full_key(principal: access.Principal, key: str) -> str:
    return scope_tag(principal) + "|" + key


def install(app, folder: Path | None = None) -> PayloadStore | None:
    """Serve stored responses of the heavy callbacks (registered AFTER the sign-in gate, so its role check has run)."""
    server = app.server
    if os.environ.get(SWITCH_ENV) == "off":
        return None
    if folder is None and os.environ.get(STORE_ENV):
        folder = Path(os.environ[STORE_ENV])
    existing: PayloadStore | None = server.config.get(CONFIG_KEY)
    if existing is not None:  # installed by create_app already: only (re)point it at a shared folder
        if folder is not None:
            existing.folder = Path(folder)
        return existing
    store = PayloadStore(folder)
    store.app = app
    server.config[CONFIG_KEY] = store

    @server.before_request
    def _stored_response():
        req = flask.request
        if req.path != DISPATCH_PATH or req.method != "POST":
            return None
        key = request_key(req.get_json(silent=True))
        if key is None:
            return None
        try:
            version = server.config["IPCITY_SNAPSHOT"].version()
            if not storable(flask.request.get_json(silent=True), server.config["IPCITY_SNAPSHOT"]):
                return None  # answered by the callback, never stored
        except Exception:  # no snapshot: let the callback answer in the page's language
            return None
        tag = store.tag(version)
        if store.auto_precompute and tag != store.seen_tag:
            # A new publish (or this worker's first call): precompute unless another worker is doing it (lock) or
            # has done it (marker). Without the marker check every worker re-ran the whole precompute -- hundreds
            # of dispatches, all store hits -- on its first request, in the middle of the traffic.
            store.seen_tag = tag
            if store.done_tag() != tag:
                start_precompute(app)
        full = _full_key(access.current_principal(), key)
        body = store.get(tag, full)
        if body is None:
            # built once: concurrent requests for the same payload wait for the one building it
            body, owner = store.fetch_or_claim(tag, full)
            if body is None:
                flask.g.ipcity_payload = (tag, full, owner)
                return None
        return flask.Response(body, mimetype="application/json")

    @server.after_request
    def _store_response(resp):
        pending = flask.g.pop("ipcity_payload", None)
        if pending is not None:
            tag, full, owner = pending
            if resp.status_code == 200 and resp.mimetype == "application/json" and not resp.direct_passthrough:
                store.put(tag, full, resp.get_data())
            if owner:
                store.release(tag, full)
        return resp

    @server.teardown_request
    def _release_on_error(_exc):
        pending = flask.g.pop("ipcity_payload", None)  # still here only when the response was never finished
        if pending is not None and pending[2]:
            store.release(pending[0], pending[1])

    return store


# ---- precomputation ---------------------------------------------------------------------------------------------
def enumerable_bodies(snap) -> list[dict]:
    """Every request body of the stored callbacks that a fixed list of choices can produce (national scope)."""
    from . import queries

    years = queries.years(snap)
    bodies = [overview_body(y, m, lang) for y in reversed(years) for m in ("group", "index") for lang in LANGS]
    latest = queries.latest_run_id(snap)
    bodies += [quality_body(run, lang) for run in dict.fromkeys([latest, None]) for lang in LANGS]
    # compare takes any cities; the comparison each year opens with (and its trend for every indicator) is fixed
    from .pages.compare import default_units

    for year in reversed(years):
        bodies += [compare_body(year, default_units(snap, year), lang) for lang in LANGS]
    if years:
        opening = default_units(snap, years[-1])
        indicators = queries.indicator_catalog(snap)["indicator_code"].to_list()
        bodies += [trend_body(opening, code, lang) for code in indicators for lang in LANGS]
    units = queries.units(snap)
    order = units.sort("is_programme", descending=True) if "is_programme" in units.columns else units
    bodies += [profile_body(code, lang) for code in order["unit_code"].to_list() for lang in LANGS]
    return bodies


WARM_PRINCIPAL = ("payload-precompute", "national")


def precompute(app, bodies: list[dict] | None = None) -> int:
    """Run each body through the app's own request path (gate, role check, callback, store) as the national
    office's service principal; returns how many payloads were built. Already stored ones cost a lookup."""
    from flask_login import login_user

    from .web import WebUser

    server = app.server
    snap = server.config["IPCITY_SNAPSHOT"]
    store: PayloadStore = server.config[CONFIG_KEY]
    bodies = enumerable_bodies(snap) if bodies is None else bodies

    class _Service:
        username, role = WARM_PRINCIPAL
        province_code = None
        auth_stamp = "precompute"

    built = 0
    store.forget_other_versions(store.tag(snap.version()))
    for body in bodies:
        with server.test_request_context(DISPATCH_PATH, method="POST", json=body):
            login_user(WebUser(_Service()))
            resp = server.full_dispatch_request()
            if resp.status_code != 200:
                log.warning("precompute %s: HTTP %s", body["output"][:40], resp.status_code)
            built += 1
    return built


def warm_compare_data(app) -> None:
    """Build, in this worker's snapshot cache, the per-year data every comparison filters (pages.compare.warm):
    a comparison of never-seen cities then costs a filter and its figures, not a year's worth of queries."""
    from .pages.compare import warm

    try:
        warm(app.server.config["IPCITY_SNAPSHOT"])
    except Exception:  # a missing or replaced snapshot: requests will say so; warming is only an optimisation
        log.warning("warming the comparison data failed", exc_info=True)


def start_precompute(app, lock_dir: Path | None = None) -> threading.Thread | None:
    """Precompute in a daemon thread; with a shared store only the worker holding the store's lock does it."""
    store: PayloadStore | None = app.server.config.get(CONFIG_KEY)
    if store is None:
        return None
    store.auto_precompute = True
    lock_file = None
    folder = lock_dir or store.folder
    if folder is not None:
        private_dir(folder)  # payloads per scope: other provinces' figures
        lock_file = open_private(folder / "precompute.lock")  # held for the thread's lifetime
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            # Another worker precomputes the payloads; this one still builds what its own new comparisons read.
            threading.Thread(target=warm_compare_data, args=(app,), name="compare-warm", daemon=True).start()
            return None

    def run():
        store.warm_state = "warming"
        t0 = time.perf_counter()
        try:
            store.seen_tag = store.tag(app.server.config["IPCITY_SNAPSHOT"].version())
            n = precompute(app)
            store.warm_state = "ready"
            if store.folder is not None:
                write_private_text(
                    store.folder / "precompute.done", store.tag(app.server.config["IPCITY_SNAPSHOT"].version())
                )
            log.info("precomputed %d dashboard payloads in %.1f s", n, time.perf_counter() - t0)
        except Exception:
            store.warm_state = "failed"
            log.exception("payload precompute failed")
        finally:
            if lock_file is not None:
                lock_file.close()

    thread = threading.Thread(target=run, name="payload-precompute", daemon=True)
    thread.start()
    return thread


def precompute_status(server: flask.Flask) -> str:
    """'ready' once the payloads of the snapshot being served are all stored (by any worker)."""
    store: PayloadStore | None = server.config.get(CONFIG_KEY)
    if store is None:
        return "off"
    if store.warm_state == "ready":
        return "ready"
    if store.folder is not None:
        try:
            if store.done_tag() == store.tag(server.config["IPCITY_SNAPSHOT"].version()):
                return "ready"
        except Exception:  # no snapshot
            pass
        return "warming"
    return store.warm_state
