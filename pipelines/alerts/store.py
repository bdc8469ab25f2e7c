"""The alert store: alert state, silences, messages and the delivery ledger.

A SQLite file beside the warehouse (``<data>/alerts/alerts.sqlite``), attached as schema ``alerts`` so the
tables read ``alerts.alerts``, ``alerts.deliveries``... It is separate from the DuckDB warehouse on purpose:
DuckDB allows one writer, and the dashboard (which never opens the warehouse) must be able to acknowledge and
silence alerts while a pipeline run holds the warehouse. SQLite serialises the few small writes (WAL mode,
busy timeout).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipelines import settings
from pipelines.sqlite_wal import wal_connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts.alerts (
  fingerprint TEXT PRIMARY KEY,      -- sha256 of (rule_id, unit_code, subject_key)
  rule_id TEXT NOT NULL, rules_version TEXT, audience TEXT NOT NULL, kind TEXT NOT NULL,
  severity TEXT NOT NULL, unit_code TEXT, unit_name TEXT, province_code TEXT, province_name TEXT,
  subject_key TEXT NOT NULL, year INTEGER, title_zh TEXT, title_en TEXT, detail_json TEXT,
  state TEXT NOT NULL,               -- firing | resolved
  episode INTEGER NOT NULL DEFAULT 1,-- +1 each time a resolved alert fires again
  first_fired_at TEXT, last_fired_at TEXT, last_seen_at TEXT, resolved_at TEXT,
  notified_state TEXT,               -- the last transition sent to any recipient: NULL | firing | resolved
  notified_episode INTEGER,          -- (what each recipient heard is in alerts.heard)
  suppressed INTEGER NOT NULL DEFAULT 0,  -- a notification was held back by a silence
  notifications INTEGER NOT NULL DEFAULT 0,  -- notifications planned so far (part of the idempotency key)
  acked_at TEXT, acked_by TEXT, ack_comment TEXT,
  last_run_id TEXT,
  change_key TEXT,                   -- what the condition says within its subject (Condition.change_key)
  changed_from TEXT,                 -- the change_key the episode changed from (NULL: it fired afresh)
  refires INTEGER NOT NULL DEFAULT 0,-- times it fired again after it had cleared (a repeat, told as one)
  last_resolved_at TEXT              -- when it last cleared before it fired again (NULL: never cleared)
);
CREATE TABLE IF NOT EXISTS alerts.silences (
  silence_id INTEGER PRIMARY KEY AUTOINCREMENT,
  fingerprint TEXT, rule_id TEXT, unit_code TEXT, province_code TEXT,  -- NULL = any
  starts_at TEXT NOT NULL, ends_at TEXT NOT NULL, created_by TEXT, comment TEXT, created_at TEXT
);
CREATE TABLE IF NOT EXISTS alerts.messages (
  idempotency_key TEXT PRIMARY KEY,  -- also the Message-ID / X-Idempotency-Key the receiver sees
  run_id TEXT, route TEXT NOT NULL, channel TEXT NOT NULL, recipient TEXT NOT NULL,
  subject TEXT, body TEXT, payload_json TEXT, n_firing INTEGER, n_resolved INTEGER,
  status TEXT NOT NULL,              -- pending | delivered | failed | superseded (replaced before it was sent)
  attempts INTEGER NOT NULL DEFAULT 0, next_retry_at TEXT, delivered_at TEXT, last_response TEXT,
  created_at TEXT NOT NULL,
  html TEXT,                         -- the mail's HTML alternative of body (NULL: plain text only)
  urgent INTEGER NOT NULL DEFAULT 0, -- carries an urgent firing alert (rules file `urgent`): sent in quiet hours too
  quiet_until TEXT                   -- held by the delivery quiet hours until then (UTC; NULL: never held)
);
CREATE TABLE IF NOT EXISTS alerts.message_items (
  idempotency_key TEXT NOT NULL, fingerprint TEXT NOT NULL, transition TEXT NOT NULL, episode INTEGER,
  PRIMARY KEY (idempotency_key, fingerprint, transition)
);
CREATE TABLE IF NOT EXISTS alerts.deliveries (
  idempotency_key TEXT NOT NULL, attempt INTEGER NOT NULL, attempted_at TEXT NOT NULL,
  status TEXT NOT NULL,              -- delivered | retry | failed
  response TEXT, next_retry_at TEXT,
  PRIMARY KEY (idempotency_key, attempt)
);
-- A channel whose receiver refused its credentials (HTTP 401/403: a token expired or rotated): every digest on it
-- would get the same answer, so the channel, not each digest, is marked; its digests wait in order and the oldest
-- is tried again at next_try_at (a slow schedule, or at once with `ipcity alerts retry --channel`).
CREATE TABLE IF NOT EXISTS alerts.channel_refusals (
  channel TEXT PRIMARY KEY, since TEXT NOT NULL, response TEXT, next_try_at TEXT, tries INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS alerts.dispatches (
  run_id TEXT, dispatched_at TEXT, route TEXT, channel TEXT, recipient TEXT, messages INTEGER,
  n_firing INTEGER, n_resolved INTEGER
);
"""


# Columns added after a table was first created: added in place to an older store (SQLite ALTER TABLE).
ADDED_COLUMNS = {
    "alerts": {
        "notifications": "INTEGER NOT NULL DEFAULT 0",
        "change_key": "TEXT",
        "changed_from": "TEXT",
        "refires": "INTEGER NOT NULL DEFAULT 0",
        "last_resolved_at": "TEXT",
    },
    "messages": {"html": "TEXT", "urgent": "INTEGER NOT NULL DEFAULT 0", "quiet_until": "TEXT"},
}


def _migrate(con: sqlite3.Connection) -> None:
    for table, cols in ADDED_COLUMNS.items():
        have = {r[1] for r in con.execute(f"PRAGMA alerts.table_info({table})").fetchall()}
        for name, decl in cols.items():
            if name not in have:
                con.execute(f"ALTER TABLE alerts.{table} ADD COLUMN {name} {decl}")


# Created (and, in an older store, filled from the ledger) inside the write transaction, so two processes opening
# an older store at once cannot both fill it.
HEARD = """
CREATE TABLE alerts.heard (
  -- what each (route, channel, recipient) was last sent about an alert: what decides what it is sent next
  fingerprint TEXT NOT NULL, route TEXT NOT NULL, channel TEXT NOT NULL, recipient TEXT NOT NULL,
  episode INTEGER NOT NULL, state TEXT NOT NULL,  -- firing | resolved
  idempotency_key TEXT,              -- the digest that carried it (its status says whether it arrived)
  resend INTEGER NOT NULL DEFAULT 0, -- it heard the firing, then a silence held the alert back: told again after
  updated_at TEXT,
  PRIMARY KEY (fingerprint, route, channel, recipient)
)"""

# A store written before alerts.heard existed: what its ledger shows each recipient was sent counts as heard (the
# latest digest item per alert and recipient), so the upgrade re-sends nothing a recipient already had. What the
# per-alert state had settled stays settled (a resolution it recorded, an acknowledged event closed without notice),
# and an alert held back by a silence is told again to those who heard it. Only a recipient the ledger shows nothing
# for (a route refused or added while the alert fired) is sent a still-firing alert: what the upgrade mends.
_BACKFILL_HEARD = [
    """INSERT INTO alerts.heard
         (fingerprint, route, channel, recipient, episode, state, idempotency_key, resend, updated_at)
       SELECT fingerprint, route, channel, recipient, episode, transition, idempotency_key, 0, created_at FROM (
         SELECT i.fingerprint, m.route, m.channel, m.recipient, i.episode, i.transition, i.idempotency_key,
                m.created_at, row_number() OVER (PARTITION BY i.fingerprint, m.route, m.channel, m.recipient
                                                 ORDER BY i.episode DESC, m.rowid DESC) AS n
         FROM alerts.message_items AS i INNER JOIN alerts.messages AS m ON i.idempotency_key = m.idempotency_key
       ) WHERE n = 1""",
    """UPDATE alerts.heard SET state = 'resolved' WHERE state = 'firing' AND EXISTS (
         SELECT 1 FROM alerts.alerts AS a WHERE a.fingerprint = heard.fingerprint AND a.state = 'resolved'
         AND a.notified_state = 'resolved' AND a.notified_episode >= heard.episode)""",
    """UPDATE alerts.heard SET resend = 1 WHERE state = 'firing' AND EXISTS (
         SELECT 1 FROM alerts.alerts AS a WHERE a.fingerprint = heard.fingerprint AND a.state = 'firing'
         AND a.suppressed = 1 AND a.episode = heard.episode)""",
]


def fingerprint(rule_id: str, unit_code: str | None, subject_key: str) -> str:
    """An alert's identity across runs: (rule, city, subject)."""
    return hashlib.sha256(f"{rule_id}|{unit_code or ''}|{subject_key}".encode()).hexdigest()[:24]


def _rekey_stage_alerts(con: sqlite3.Connection) -> None:
    """A city's stage alert was one alert per stage (subject "sanction:watch", "review:rectification"), so a change of
    stage was the old stage "resolved" beside the new one firing: it is now one alert per city (subject "stage") whose
    state (change_key) is what the subject was. An older store's stage alerts are re-keyed in place — the alert, what
    each recipient heard, the ledger's items and a silence of that one alert — so the first run after the upgrade
    sends nothing for a stage that did not change (one "from → to" notice for one that did), not every city's stage
    again. Per city the firing one (at most one: a city has one stage a year), else the latest, takes the new key; its
    older, resolved stages stay as they are, history."""
    rows = con.execute(
        """SELECT fingerprint, unit_code, subject_key FROM alerts.alerts WHERE rule_id = 'stage' AND subject_key <> 'stage'
           ORDER BY unit_code, state = 'firing' DESC, last_fired_at DESC, fingerprint"""
    ).fetchall()
    done: set = set()
    for old, unit, subject in rows:
        if unit in done:
            continue
        done.add(unit)
        new = fingerprint("stage", unit, "stage")
        if con.execute("SELECT 1 FROM alerts.alerts WHERE fingerprint = ?", (new,)).fetchone():
            continue
        con.execute(
            "UPDATE alerts.alerts SET fingerprint = ?, subject_key = 'stage', change_key = coalesce(change_key, ?) "
            "WHERE fingerprint = ?",
            (new, subject, old),
        )
        for table in ("heard", "message_items", "silences"):
            con.execute(f"UPDATE alerts.{table} SET fingerprint = ? WHERE fingerprint = ?", (new, old))


# Changes to what a store holds (not only its columns), in order: PRAGMA user_version counts those applied, each in
# the write transaction that applies it, so two processes opening an older store cannot both apply one.
DATA_MIGRATIONS = (_rekey_stage_alerts,)


def _has_table(con: sqlite3.Connection, name: str) -> bool:
    return bool(con.execute("SELECT 1 FROM alerts.sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone())


def store_path() -> Path:
    return Path(os.environ.get("IPCITY_ALERT_STORE") or settings.alerts_dir() / "alerts.sqlite").resolve()


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: str | None) -> datetime | None:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) if text else None


@contextmanager
def connect(path: Path | str | None = None, *, read_only: bool = False):
    """A connection with the store attached as schema `alerts`; one transaction, committed on success."""
    p = Path(path) if path else store_path()
    if read_only and not p.exists():
        raise FileNotFoundError(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    if not read_only:
        wal_connect(p, timeout=30).close()
    # An in-memory main database with the store file attached as `alerts`: queries read alerts.<table>.
    con = sqlite3.connect("file::memory:", uri=True, timeout=30, isolation_level=None)
    con.row_factory = sqlite3.Row
    con.execute("PRAGMA busy_timeout = 30000")
    con.execute("ATTACH DATABASE ? AS alerts", (f"file:{p}?mode=ro" if read_only else f"file:{p}",))
    try:
        if not read_only:
            con.executescript(SCHEMA)
            _migrate(con)
        con.execute("BEGIN IMMEDIATE" if not read_only else "BEGIN")
        if not read_only and not _has_table(con, "heard"):
            con.execute(HEARD)
            for sql in _BACKFILL_HEARD:
                con.execute(sql)
        if not read_only:
            applied = con.execute("PRAGMA alerts.user_version").fetchone()[0]
            for migration in DATA_MIGRATIONS[applied:]:
                migration(con)
            if applied < len(DATA_MIGRATIONS):
                con.execute(f"PRAGMA alerts.user_version = {len(DATA_MIGRATIONS)}")
        yield con
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()


def active_silence(con: sqlite3.Connection, alert: dict, at: datetime) -> dict | None:
    t = iso(at)
    row = con.execute(
        """SELECT * FROM alerts.silences WHERE starts_at <= ? AND ends_at > ?
           AND (fingerprint IS NULL OR fingerprint = ?) AND (rule_id IS NULL OR rule_id = ?)
           AND (unit_code IS NULL OR unit_code = ?) AND (province_code IS NULL OR province_code = ?)
           ORDER BY ends_at DESC LIMIT 1""",
        (t, t, alert["fingerprint"], alert["rule_id"], alert.get("unit_code"), alert.get("province_code")),
    ).fetchone()
    return dict(row) if row else None


def resolve_target(con: sqlite3.Connection, target: str, exact: bool = False) -> list[str]:
    """Fingerprints for a user-typed target: a fingerprint (or its first 8+ characters; ``exact``: the whole one,
    as the dashboard sends it from a row of its table). The target is text, never a pattern: '%' and '_' match
    themselves (a forged '%%%%%%%%' from the dashboard acknowledged every alert in the store)."""
    if not isinstance(target, str):
        raise ValueError("a fingerprint is text")
    if exact:
        rows = con.execute("SELECT fingerprint FROM alerts.alerts WHERE fingerprint = ?", (target,)).fetchall()
        return [r[0] for r in rows]
    if len(target) < 8:
        raise ValueError("give at least the first 8 characters of the fingerprint")
    pattern = target.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = con.execute(
        "SELECT fingerprint FROM alerts.alerts WHERE fingerprint LIKE ? ESCAPE '\\'", (pattern,)
    ).fetchall()
    return [r[0] for r in rows]


def acknowledge(fingerprint: str, by: str, comment: str = "", *, path: Path | None = None, exact: bool = False) -> int:
    with connect(path) as con:
        fps = resolve_target(con, fingerprint, exact)
        t = iso(now_utc())
        for fp in fps:
            con.execute(
                "UPDATE alerts.alerts SET acked_at = ?, acked_by = ?, ack_comment = ? WHERE fingerprint = ?",
                (t, by, comment, fp),
            )
            # A one-off event (failed run, dead run) has no condition that could clear it: acknowledging it closes
            # it, without a resolution notice (whoever acknowledged it is the one who dealt with it).
            closed = con.execute(
                """UPDATE alerts.alerts SET state = 'resolved', resolved_at = ?, notified_state = 'resolved',
                   notified_episode = episode WHERE fingerprint = ? AND kind = 'event' AND state = 'firing'""",
                (t, fp),
            ).rowcount
            if closed:  # those who heard it fire are not sent a resolution either
                con.execute(
                    "UPDATE alerts.heard SET state = 'resolved', resend = 0, updated_at = ? "
                    "WHERE fingerprint = ? AND state = 'firing'",
                    (t, fp),
                )
        return len(fps)


def silence(
    *,
    by: str,
    duration: timedelta,
    fingerprint: str | None = None,
    rule_id: str | None = None,
    unit_code: str | None = None,
    province_code: str | None = None,
    comment: str = "",
    path: Path | None = None,
    start: datetime | None = None,
    exact: bool = False,
) -> int:
    """Silence matching alerts for a period; returns the silence id. At least one matcher is required."""
    if not any((fingerprint, rule_id, unit_code, province_code)):
        raise ValueError("a silence needs a fingerprint, rule, city or province")
    if duration.total_seconds() <= 0:
        raise ValueError("a silence needs a positive duration")
    # A city or province the alerts cannot carry was stored as given and matched nothing: `--province 44` (the
    # form every other command takes) or a mistyped city silenced no alert while the operator was told it had.
    if unit_code is not None and not (len(unit_code) == 6 and unit_code.isascii() and unit_code.isdigit()):
        raise ValueError(
            f"城市须为六位行政区划代码，而不是 {unit_code!r} · a city is its six-digit code (e.g. 440300), not {unit_code!r}"
        )
    if province_code is not None:
        code = province_code.strip()
        if not (code.isascii() and code.isdigit() and (len(code) == 2 or (len(code) == 6 and code.endswith("0000")))):
            raise ValueError(
                f"省份须为两位或六位代码（如 44 或 440000），而不是 {province_code!r} · a province is its two- or "
                f"six-digit code (e.g. 44 or 440000), not {province_code!r}"
            )
        province_code = code[:2] + "0000"
    t0 = start or now_utc()
    with connect(path) as con:
        if fingerprint:
            fps = resolve_target(con, fingerprint, exact)
            if len(fps) != 1:
                raise ValueError(f"{fingerprint}: {len(fps)} alerts match")
            fingerprint = fps[0]
        cur = con.execute(
            """INSERT INTO alerts.silences (fingerprint, rule_id, unit_code, province_code, starts_at, ends_at,
               created_by, comment, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                fingerprint,
                rule_id,
                unit_code,
                province_code,
                iso(t0),
                iso(t0 + duration),
                by,
                comment,
                iso(now_utc()),
            ),
        )
        return int(cur.lastrowid)


def expire_silence(silence_id: int, *, path: Path | None = None) -> None:
    with connect(path) as con:
        con.execute("UPDATE alerts.silences SET ends_at = ? WHERE silence_id = ?", (iso(now_utc()), silence_id))
