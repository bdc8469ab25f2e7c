"""Accounts, roles, the audit log and the session secret: a small SQLite store beside the warehouse.

The dashboard reads a read-only snapshot; accounts change at any time (``ipcity users ...``), so they live in
their own writable file, ``<data>/access/users.sqlite`` (stdlib sqlite3, WAL, safe across gunicorn workers).
Passwords are hashed with argon2id (argon2-cffi); nothing ships with a default password. The Flask session key
is generated once into ``<data>/access/secret_key`` (mode 0600), never kept in the repository.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import getpass
import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import sqlite3
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from limits.storage import Storage

from pipelines import settings
from pipelines.private_files import private_dir
from pipelines.sqlite_wal import wal_connect

from . import password_policy

ROLES = ("national", "province", "viewer", "evaluator")
ROLE_LABELS = {
    "national": ("国家知识产权局", "National office"),
    "province": ("省级知识产权局", "Provincial office"),
    "viewer": ("浏览者", "Viewer"),
    "evaluator": ("第三方评估机构", "Third-party evaluator"),
}
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
MIN_PASSWORD = password_policy.MIN_PASSWORD
# Failed logins before an account is refused for LOCK_WINDOW (on top of flask-limiter's per-address limit; both
# hold across gunicorn workers because they live in the shared store). Counted per account and address, so
# someone who knows an official's user name cannot lock the official out from elsewhere; and per account over all
# addresses with a higher bound, so guessing spread over many addresses is still stopped.
MAX_FAILURES = 10
MAX_ACCOUNT_FAILURES = 100
LOCK_WINDOW = dt.timedelta(minutes=15)
# ... except at an address the account signed in from within KNOWN_ADDRESS_DAYS: there only the per-address bound
# holds. Otherwise anyone knowing the national office's user name kept it locked out for good, 100 wrong guesses
# from rented addresses every 15 minutes, while the office's own sign-ins were refused with the guesses'.
KNOWN_ADDRESS_DAYS = 30


def address_key(remote_addr: str | None) -> str | None:
    """The address a sign-in limit counts (the lockouts here, the per-address limits of dashboards.web): an IPv4
    address as it is, an IPv6 address by its /64 network. One host holds a whole /64 (every ISP's and cloud's
    smallest IPv6 assignment) and picks any address in it per request, so counted per address each guess came from
    a fresh one and the per-address limits and lockouts never held; and an official's own address changes within
    its /64 by itself (privacy addresses, RFC 8981), so the addresses they signed in from were not "known" a day
    later. An IPv4 address written as IPv6 (::ffff:a.b.c.d) counts as the IPv4 address."""
    if not remote_addr:
        return remote_addr
    try:
        ip = ipaddress.ip_address(remote_addr.strip().split("%", 1)[0])  # no zone index (fe80::1%eth0)
    except ValueError:
        return remote_addr  # not an address (a test client's, a unix socket's): counted as given
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def username_key(name: str) -> str:
    """What makes two user names the same account: Unicode compatibility form (NFKC: full-width ａｄｍｉｎ is admin),
    no surrounding spaces, case folded (Admin is admin). Names are unique by this key and sign-in looks it up, so
    'Admin' cannot be created beside 'admin' and read as another person in the audit log or the role list; the
    account keeps the form it was created with for display. Look-alikes from other scripts (Cyrillic а for Latin a)
    are not folded by NFKC: USERNAME refuses them at creation, and at sign-in they match no account."""
    return unicodedata.normalize("NFKC", name or "").strip().casefold()


_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

_SCHEMA = """
create table if not exists users (
    username text primary key,
    username_key text,
    password_hash text not null,
    role text not null check (role in ('national', 'province', 'viewer', 'evaluator')),
    province_code text,
    active integer not null default 1,
    auth_stamp text not null,
    created_at text not null,
    updated_at text not null,
    check (role <> 'province' or province_code is not null)
);
create table if not exists login_failures (
    username text not null,
    at text not null,
    remote_addr text
);
create table if not exists known_addresses (
    username text not null,
    remote_addr text not null,
    last_ok text not null,
    primary key (username, remote_addr)
);
create table if not exists audit_log (
    id integer primary key autoincrement,
    at text not null,
    username text,
    role text,
    action text not null,
    target text,
    outcome text not null,
    remote_addr text,
    detail text
);
create table if not exists password_history (
    username text not null,
    password_hash text not null,
    set_at text not null
);
create index if not exists password_history_by_user on password_history (username, set_at);
create table if not exists ended_sessions (
    session_id text primary key,
    ends_at text not null
);
create table if not exists rate_limits (
    key text primary key,
    hits integer not null,
    expires_at real not null
);
"""


def access_dir() -> Path:
    """Beside the warehouse (not in the published snapshot, which is read-only and replaced on every run)."""
    return Path(os.environ.get("IPCITY_ACCESS_DIR", settings.data_dir() / "access")).resolve()


def default_store_path() -> Path:
    return access_dir() / "users.sqlite"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


class UserError(ValueError):
    """A refused account change (unknown user, bad role, weak password...), with a message for the operator."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    province_code: str | None
    active: bool
    auth_stamp: str
    created_at: str
    updated_at: str


class WeakPassword(UserError):
    """A password the policy refuses; ``reason`` is a key of password_policy.REASONS (the web page's words)."""

    def __init__(self, reason: str):
        # both languages: the command line shows this as it is (the web page picks its reader's)
        zh, en = password_policy.reason_text(reason, "zh"), password_policy.reason_text(reason, "en")
        super().__init__(f"密码：{zh}\npassword: {en}")
        self.reason = reason


def check_password_strength(password: str, username: str = "") -> None:
    reason = password_policy.refusal(password, username)
    if reason is not None:
        raise WeakPassword(reason)


@functools.cache
def province_codes() -> frozenset[str]:
    """The 31 provinces' six-digit codes (the reference file), the only codes a provincial account may have."""
    from pipelines.reference import provinces

    return frozenset(provinces()["province_code"].to_list())


def is_province(code: str | None) -> bool:
    return code in province_codes()


def without_province(user: User) -> bool:
    """A provincial account whose code is no province: made before `users add` checked the code (or written into
    the store by hand). It may see nothing — the web refuses its sign-in and any session it has, since its scope
    would be a province of no cities — and `ipcity users list` names it for the operator to correct."""
    return user.role == "province" and not is_province(user.province_code)


def _province(role: str, province: str | None) -> str | None:
    from .security import BadParameter, normalise_province

    if role != "province":
        if province:
            raise UserError("--province is only for the province role")
        return None
    try:
        code = normalise_province(province)
    except BadParameter as e:
        raise UserError(str(e)) from None
    if code is None:
        raise UserError("the province role needs --province (e.g. 44 or 440000)")
    # A well-formed code that is no province ('99', a typo's '45' is one) made an account that signed in and saw
    # nothing of its own, with nobody told why: the codes are the reference file's 31 provinces.
    if not is_province(code):
        raise UserError(
            f"省份代码 {code} 不存在（见 data/reference/modood_provinces.csv）· no province has code {code}"
        )
    return code


def _find(con: sqlite3.Connection, username: str) -> sqlite3.Row | None:
    """The account a typed name means: the one stored under exactly that name, else the one account with its key
    (Admin, ADMIN, ａｄｍｉｎ all mean admin). Two legacy accounts sharing a key (made before names were keyed) are
    ambiguous for any other spelling: none is chosen (a sign-in fails as for a wrong password), each still signs in
    by its exact name, so neither official is locked out by the upgrade."""
    con.row_factory = sqlite3.Row
    r = con.execute("select * from users where username = ?", (username,)).fetchone()
    if r is not None:
        return r
    rows = con.execute("select * from users where username_key = ? limit 2", (username_key(username),)).fetchall()
    return rows[0] if len(rows) == 1 else None


def _refuse_taken(con: sqlite3.Connection, key: str) -> None:
    taken = con.execute("select username from users where username_key = ?", (key,)).fetchone()
    if taken is not None:
        raise UserError(
            f"用户 {taken[0]} 已存在（用户名不区分大小写和全角半角）· user {taken[0]} already exists "
            "(user names are the same whatever their case or width)"
        )


def _user(r: sqlite3.Row | None) -> User | None:
    if r is None:
        return None
    return User(
        r["username"],
        r["role"],
        r["province_code"],
        bool(r["active"]),
        r["auth_stamp"],
        r["created_at"],
        r["updated_at"],
    )


def _remember_password(con: sqlite3.Connection, username: str, hashed: str, at: str) -> None:
    """Keep ``hashed`` (an argon2 hash, never the text) as the account's latest password, and only as many of its
    latest as the history depth asks (older hashes are deleted, overwritten on disk: secure_delete)."""
    con.execute("pragma secure_delete = on")
    con.execute(
        "insert into password_history (username, password_hash, set_at) values (?, ?, ?)", (username, hashed, at)
    )
    con.execute(
        "delete from password_history where username = ? and rowid not in (select rowid from password_history "
        "where username = ? order by set_at desc, rowid desc limit ?)",
        (username, username, password_policy.history_depth()),
    )


class UserStore:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else default_store_path()

    @contextlib.contextmanager
    def _connect(self):
        # the folder, the file and its -wal, -shm and lock files are born owner-only (here, wal_connect): created by
        # SQLite and chmod-ed after, the store was readable by every local user for a moment, password hashes,
        # audit log and limits included
        private_dir(self.path.parent)
        con = wal_connect(self.path, timeout=10, isolation_level=None)
        try:
            con.execute("pragma busy_timeout=10000")
            con.executescript(_SCHEMA)
            if "remote_addr" not in {r[1] for r in con.execute("pragma table_info(login_failures)")}:
                con.execute("alter table login_failures add column remote_addr text")  # a store from before
            if "username_key" not in {r[1] for r in con.execute("pragma table_info(users)")}:
                # a store from before the names' keys: each account's key computed once. Two accounts already
                # differing only in case keep working, each by its exact name (see _find); `ipcity users list` marks
                # them for the operator to disable one
                con.execute("alter table users add column username_key text")
                for (name,) in con.execute("select username from users").fetchall():
                    con.execute("update users set username_key = ? where username = ?", (username_key(name), name))
            con.execute("create index if not exists users_by_key on users (username_key)")
            if con.execute("pragma user_version").fetchone()[0] < 1:
                self._forget_typed_names(con)
            con.row_factory = sqlite3.Row
            yield con
        finally:
            con.close()

    # -- names typed at sign-in -----------------------------------------------------------------------------------
    # What is typed into the user-name field is not always a name: people type their password there (the field
    # before it had focus, a password manager filling the wrong field), and a failed sign-in's name was kept as
    # typed, in the audit log and the failure counts, a password at rest beside the hashes. A name that is no
    # account is therefore kept only as a keyed fingerprint, '?' and 16 hex digits of HMAC-SHA256 over the name's
    # key: the same guess gives the same fingerprint (repeated tries at one name stay visible and countable), and
    # `ipcity users audit --name X` finds the tries at a name the operator suspects, while the text itself cannot
    # be read back. The key is the instance's own (beside this store, never in the repository: fingerprint_key), so
    # nobody holding a copy of the log without it can test guesses against it.
    def _fingerprint_key(self) -> bytes:
        key = getattr(self, "_fp_key", None)
        if key is None:
            folder = self.path.parent
            key = self._fp_key = fingerprint_key(folder / FINGERPRINT_KEY_FILE, folder / "secret_key")
        return key

    def name_fingerprint(self, typed: str) -> str:
        """'?' and 16 hex digits: a typed name kept without its text (never a valid user name: '?' is refused)."""
        digest = hmac.new(self._fingerprint_key(), username_key(typed).encode(), hashlib.sha256).hexdigest()
        return "?" + digest[:16]

    def audit_name(self, typed: str | None) -> str | None:
        """How the audit log names whoever typed ``typed`` at sign-in: the account's own name when it is one, else
        its fingerprint."""
        if not typed:
            return None
        with self._connect() as con:
            r = _find(con, typed)
        return r["username"] if r is not None else self.name_fingerprint(typed)

    def _forget_typed_names(self, con: sqlite3.Connection) -> None:
        """Once per store (user_version 1): the failed sign-ins an earlier version logged under the name as typed
        get the fingerprint, and its failure counts, kept by the typed key, are dropped (they only ever counted
        for LOCK_WINDOW)."""
        con.create_function("ipcity_fingerprint", 1, self.name_fingerprint, deterministic=True)
        # the rewritten text overwritten with zeros, not left in free pages of the file
        con.execute("pragma secure_delete = on")
        con.execute("begin immediate")
        try:
            con.execute("delete from login_failures where username not like '?%'")
            con.execute(
                "update audit_log set username = ipcity_fingerprint(username) where action = 'login' "
                "and outcome <> 'ok' and username is not null and username not like '?%' and username not in "
                "(select username from users)"
            )
            con.execute("pragma user_version = 1")
        except BaseException:
            con.execute("rollback")
            raise
        con.execute("commit")

    # -- accounts -------------------------------------------------------------------------------------------------
    def check_new_account(self, username: str, role: str, province: str | None = None) -> tuple[str, str | None]:
        """Everything ``add`` refuses that does not depend on the password: the name's form, the role, the province
        and a name already taken. Returns the name as it will be stored and the province's code. The command line
        asks this before it asks for the password (twice): a refusal known beforehand came only after the operator
        had typed it, and a script piping the password in learnt of a typo after the fact."""
        # stored in its compatibility form (full-width ａｄｍｉｎ is admin; the same key), keeping its case for display
        username = unicodedata.normalize("NFKC", username or "").strip()
        if not USERNAME.fullmatch(username):
            odd = sorted({ch for ch in username if not re.fullmatch(r"[A-Za-z0-9_.@-]", ch)})
            named = ", ".join(f"{ch!r} ({unicodedata.name(ch, f'U+{ord(ch):04X}')})" for ch in odd[:5])
            raise UserError(
                "用户名须为 2 到 64 个英文字母（A-Z、a-z）、数字或 . _ @ -（全角字符、其他文字中形似的字母不可用）"
                f" · user name: 2-64 letters A-Z a-z, digits or . _ @ - (no full-width or look-alike letters of "
                f"other scripts){': not ' + named if named else ''}"
            )
        if role not in ROLES:
            raise UserError(f"role: one of {', '.join(ROLES)}")
        code = _province(role, province)
        with self._connect() as con:
            _refuse_taken(con, username_key(username))
        return username, code

    def add(self, username: str, password: str, role: str, province: str | None = None) -> User:
        username, code = self.check_new_account(username, role, province)
        check_password_strength(password, username)
        now = _iso(_now())
        key, hashed = username_key(username), _hasher.hash(password)
        with self._connect() as con:
            con.execute("begin immediate")  # the check and the insert at once: two `users add` cannot both pass
            try:
                _refuse_taken(con, key)
                con.execute(
                    "insert into users (username, username_key, password_hash, role, province_code, active, "
                    "auth_stamp, created_at, updated_at) values (?, ?, ?, ?, ?, 1, ?, ?, ?)",
                    (username, key, hashed, role, code, secrets.token_hex(8), now, now),
                )
                _remember_password(con, username, hashed, now)
            except BaseException:
                con.execute("rollback")
                raise
            con.execute("commit")
        self._audit_change("user_add", username, f"role={role} province={code or '-'}")
        return self.get(username)

    def get(self, username: str) -> User | None:
        with self._connect() as con:
            return _user(_find(con, username))

    def same_name_accounts(self) -> dict[str, list[str]]:
        """Accounts whose names differ only in case or width (made before names were keyed): key -> names."""
        with self._connect() as con:
            rows = con.execute(
                "select username_key, group_concat(username, char(31)) from users group by username_key "
                "having count(*) > 1"
            ).fetchall()
        return {k: sorted(names.split("\x1f")) for k, names in rows}

    def session_user(self, username: str, session_id: str) -> User | None:
        """The account of a signed-in session; None once that session was signed out (``end_session``). One
        connection for both reads: every request asks."""
        with self._connect() as con:
            if con.execute("select 1 from ended_sessions where session_id = ?", (session_id,)).fetchone():
                return None
            r = con.execute("select * from users where username = ?", (username,)).fetchone()
        return _user(r)

    def list(self) -> list[User]:
        with self._connect() as con:
            names = [r[0] for r in con.execute("select username from users order by username")]
        return [self.get(n) for n in names]

    def _audit_change(self, action: str, username: str, detail: str = "") -> None:
        """An account change in the audit log, beside the sign-ins and refusals: who made it (the operating-system
        account running `ipcity users`), which account, what."""
        try:
            actor = "os:" + getpass.getuser()
        except (KeyError, OSError):  # no name for the process's uid (a container)
            actor = f"os:uid {os.getuid()}"
        self.audit(actor, None, action, username, "ok", None, detail)

    def _update(self, username: str, sql: str, params: tuple, new_stamp: bool = True) -> User:
        stamp = secrets.token_hex(8)
        with self._connect() as con:
            cur = con.execute(
                f"update users set {sql}, updated_at = ?{', auth_stamp = ?' if new_stamp else ''} where username = ?",
                (*params, _iso(_now()), *((stamp,) if new_stamp else ()), self._exact(con, username)),
            )
            if cur.rowcount == 0:
                raise UserError(f"没有用户 {username} · no user {username}")
        return self.get(username)

    @staticmethod
    def _exact(con, username: str) -> str:
        """The stored name of the account an operator names (in any case or width), or a refusal when two legacy
        accounts share the name's key and neither is named exactly."""
        if con.execute("select 1 from users where username = ?", (username,)).fetchone():
            return username
        names = [
            r[0] for r in con.execute("select username from users where username_key = ?", (username_key(username),))
        ]
        if len(names) > 1:
            raise UserError(
                f"有多个仅大小写不同的账号（{', '.join(names)}），请写出确切的用户名 · several accounts differ only in "
                f"case ({', '.join(names)}): give the exact name"
            )
        if not names:
            raise UserError(f"没有用户 {username} · no user {username}")
        return names[0]

    def disable(self, username: str) -> User:
        # A new stamp also ends every session the account has open.
        user = self._update(username, "active = 0", ())
        self._audit_change("user_disable", user.username)
        return user

    def enable(self, username: str) -> User:
        user = self._update(username, "active = 1", ())
        self._audit_change("user_enable", user.username)
        return user

    def account_name(self, username: str) -> str:
        """The stored name of the account an operator names (any case or width), or UserError: no such account, or
        several legacy ones share the name. Asked by the command line before it asks for a new password."""
        with self._connect() as con:
            return self._exact(con, username)

    def _refuse_recent(self, username: str, password: str) -> None:
        """WeakPassword("reused") when ``password`` is one of the account's last ``history_depth()`` passwords:
        its current hash and the hashes kept in password_history (argon2 only; the text is never kept)."""
        depth = password_policy.history_depth()
        with self._connect() as con:
            name = self._exact(con, username)
            current = con.execute("select password_hash from users where username = ?", (name,)).fetchone()
            # the current password, then the previous ones (a store from before the history has the current only)
            hashes = [current[0]] + [
                r[0]
                for r in con.execute(
                    "select password_hash from password_history where username = ? order by set_at desc, rowid desc "
                    "limit ?",
                    (name, depth),
                )
            ]
        for hashed in list(dict.fromkeys(hashes))[:depth]:  # the history's newest is the current: once
            try:
                if _hasher.verify(hashed, password):
                    raise WeakPassword("reused")
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                continue

    def _set_password(self, username: str, password: str) -> User:
        """The new password's hash on the account (new stamp: its sessions end) and in its history, which keeps
        the latest ``history_depth()`` hashes."""
        hashed, now = _hasher.hash(password), _iso(_now())
        user = self._update(username, "password_hash = ?", (hashed,))
        with self._connect() as con:
            _remember_password(con, user.username, hashed, now)
        return user

    def reset_password(self, username: str, password: str) -> User:
        check_password_strength(password, username)
        self._refuse_recent(username, password)
        user = self._set_password(username, password)
        with self._connect() as con:
            con.execute("delete from login_failures where username = ?", (self.name_fingerprint(username),))
        self._audit_change("user_reset_password", user.username)
        return user

    def change_password(self, username: str, current: str, new: str, remote_addr: str | None = None) -> User:
        """The account's own change (the web's change-password page): the current password first, checked as a
        sign-in is (a wrong one counts toward the lockout, a locked account is refused), then the policy. The new
        stamp ends every session the account has open. Raises UserError for a wrong current password, WeakPassword
        for a refused new one. Audited by the caller, who knows the signed-in account and the address."""
        if self.authenticate(username, current, remote_addr) is None:
            raise UserError("current password wrong, account disabled or locked")
        check_password_strength(new, username)
        if hmac.compare_digest(new.encode(), current.encode()):
            raise WeakPassword("same")
        self._refuse_recent(username, new)
        return self._set_password(username, new)

    def set_role(self, username: str, role: str, province: str | None = None) -> User:
        if role not in ROLES:
            raise UserError(f"role: one of {', '.join(ROLES)}")
        code = _province(role, province)
        user = self._update(username, "role = ?, province_code = ?", (role, code))
        self._audit_change("user_set_role", user.username, f"role={role} province={code or '-'}")
        return user

    def has_active_national(self) -> bool:
        if not self.path.exists():
            return False
        with self._connect() as con:
            return bool(con.execute("select count(*) from users where role = 'national' and active = 1").fetchone()[0])

    # -- login ----------------------------------------------------------------------------------------------------
    def locked(self, username: str, remote_addr: str | None = None) -> bool:
        """Whether sign-ins to the account from this address are refused for now (MAX_FAILURES from it, or
        MAX_ACCOUNT_FAILURES from anywhere, within LOCK_WINDOW). Counted by the name's key: ADMIN, Admin and
        ａｄｍｉｎ are guesses at the same account, not each a fresh allowance."""
        since, counted, username = _iso(_now() - LOCK_WINDOW), self.name_fingerprint(username), username_key(username)
        remote_addr = address_key(remote_addr)
        with self._connect() as con:
            # the failures by the name's fingerprint (what was typed may be a password: see audit_name)
            from_here, everywhere = con.execute(
                "select count(*) filter (where remote_addr is ?), count(*) from login_failures "
                "where username = ? and at >= ?",
                (remote_addr, counted, since),
            ).fetchone()
            if from_here >= MAX_FAILURES:
                return True
            if everywhere < MAX_ACCOUNT_FAILURES:
                return False
            known = con.execute(
                "select 1 from known_addresses where username = ? and remote_addr = ? and last_ok >= ?",
                (username, remote_addr, _iso(_now() - dt.timedelta(days=KNOWN_ADDRESS_DAYS))),
            ).fetchone()
        return known is None

    def authenticate(self, username: str, password: str, remote_addr: str | None = None) -> User | None:
        """The active user whose password matches, else None (failures are counted per account and address)."""
        key = username_key(username)
        if not USERNAME.fullmatch(key) or not password or len(password) > 1024:
            return None
        remote_addr = address_key(remote_addr)  # an IPv6 address's /64: what one host holds
        if self.locked(key, remote_addr):
            return None
        with self._connect() as con:
            r = _find(con, username)
        ok = False
        if r is not None:
            try:
                ok = _hasher.verify(r["password_hash"], password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                ok = False
        else:
            # Same cost whether or not the account exists: no user enumeration by timing.
            with contextlib.suppress(VerificationError):
                _hasher.verify(dummy_hash(), password)
        if not ok or not r["active"]:
            with self._connect() as con:
                con.execute(
                    "insert into login_failures (username, at, remote_addr) values (?, ?, ?)",
                    (self.name_fingerprint(key), _iso(_now()), remote_addr),
                )
            return None
        with self._connect() as con:
            # this address's failures only: the official's own sign-in must not wipe the count of guesses made
            # from elsewhere, or an attacker spreading guesses would get MAX_ACCOUNT_FAILURES more after each one
            con.execute(
                "delete from login_failures where username = ? and remote_addr is ?",
                (self.name_fingerprint(key), remote_addr),
            )
            if remote_addr is not None:
                con.execute(
                    "insert or replace into known_addresses (username, remote_addr, last_ok) values (?, ?, ?)",
                    (key, remote_addr, _iso(_now())),
                )
            if _hasher.check_needs_rehash(r["password_hash"]):
                rehashed = _hasher.hash(password)
                con.execute("update users set password_hash = ? where username = ?", (rehashed, r["username"]))
                # the same password: its history entry follows, or it would count twice against the depth
                con.execute(
                    "update password_history set password_hash = ? where username = ? and password_hash = ?",
                    (rehashed, r["username"], r["password_hash"]),
                )
        return self.get(r["username"])

    # -- sessions -------------------------------------------------------------------------------------------------
    # The session is a signed cookie kept by the browser: clearing it at sign-out does not stop a copy of it (a
    # shared computer's cookie jar, a proxy log) from working until it expires. So a signed-out session's id is
    # kept here until the latest moment the cookie could still be valid, and every request checks it.
    def end_session(self, session_id: str, valid_until: dt.datetime) -> None:
        with self._connect() as con:
            con.execute("delete from ended_sessions where ends_at < ?", (_iso(_now()),))
            con.execute(
                "insert or replace into ended_sessions (session_id, ends_at) values (?, ?)",
                (session_id, _iso(valid_until)),
            )

    # -- rate-limit counters (SharedLimitStorage) ------------------------------------------------------------------
    # Fixed windows, counted here so every gunicorn worker adds to the same count (each worker's memory would
    # multiply the limit by the number of workers). Times are epoch seconds, as the limits library keeps them.
    def limit_incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        with self._connect() as con:
            con.execute("delete from rate_limits where expires_at <= ?", (now,))  # ended windows; keeps it small
            return con.execute(
                "insert into rate_limits (key, hits, expires_at) values (?, ?, ?) "
                "on conflict (key) do update set hits = hits + excluded.hits returning hits",
                (key, amount, now + expiry),
            ).fetchone()[0]

    def limit_get(self, key: str) -> tuple[int, float]:
        """(hits, window end) of the key's current window; (0, now) when none is open."""
        now = time.time()
        with self._connect() as con:
            r = con.execute(
                "select hits, expires_at from rate_limits where key = ? and expires_at > ?", (key, now)
            ).fetchone()
        return (r[0], r[1]) if r else (0, now)

    def limit_clear(self, key: str | None = None) -> int:
        with self._connect() as con:
            if key is None:
                return con.execute("delete from rate_limits").rowcount
            return con.execute("delete from rate_limits where key = ?", (key,)).rowcount

    # -- audit ----------------------------------------------------------------------------------------------------
    def audit(
        self,
        username: str | None,
        role: str | None,
        action: str,
        target: str | None,
        outcome: str,
        remote_addr: str | None = None,
        detail: str | None = None,
    ) -> None:
        with self._connect() as con:
            con.execute(
                "insert into audit_log (at, username, role, action, target, outcome, remote_addr, detail) "
                "values (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _iso(_now()),
                    username,
                    role,
                    action,
                    (target or "")[:500],
                    outcome,
                    remote_addr,
                    (detail or "")[:1000],
                ),
            )

    def audit_rows(self, limit: int = 1000) -> list[dict]:
        with self._connect() as con:
            rows = con.execute("select * from audit_log order by id desc limit ?", (limit,)).fetchall()
        return [dict(r) for r in rows]


class SharedLimitStorage(Storage):
    """flask-limiter's storage in the accounts store (``ipcity-store://``; the store is the ``store`` option), so
    the per-address sign-in limit holds across gunicorn workers like the per-account lockout. The limits library
    ships no file-backed storage and the project runs no Redis or Memcached; this backs its fixed-window strategy
    (the only one it is configured with) and leaves the counting rules to the library."""

    STORAGE_SCHEME = ["ipcity-store"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, *, store: UserStore, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.store = store

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self.store.limit_incr(key, expiry, amount)

    def get(self, key: str) -> int:
        return self.store.limit_get(key)[0]

    def get_expiry(self, key: str) -> float:
        return self.store.limit_get(key)[1]

    def check(self) -> bool:
        try:
            self.store.limit_get("")
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        return self.store.limit_clear()

    def clear(self, key: str) -> None:
        self.store.limit_clear(key)


@functools.cache
def dummy_hash() -> str:
    """The hash an unknown account's password is checked against (same cost as a known one's), made on first
    use: an argon2 hash costs ≈ 0.2 s of CPU, and every command that imports this module only to ask whether a
    national account exists (`ipcity run`'s closing hint, `ipcity status`) paid it at import for nothing. The
    dashboard makes it when it starts (`dashboards.app.create_app`), so its first sign-in is timed like the rest."""
    return _hasher.hash("not-a-real-password-" + secrets.token_hex(4))


def secret_key(path: Path | None = None) -> bytes:
    """The session signing key: generated once (32 random bytes, file mode 0600) beside the warehouse."""
    path = Path(path) if path else access_dir() / "secret_key"
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes().strip()
        if len(key) >= 32:
            return key
        raise RuntimeError(f"session key file {path.name} is damaged; delete it to generate a new one") from None
    with os.fdopen(fd, "wb") as f:
        key = secrets.token_hex(32).encode()
        f.write(key)
    return key


FINGERPRINT_KEY_FILE = "fingerprint_key"


def fingerprint_key(path: Path, session_key_path: Path) -> bytes:
    """The key of the typed names' fingerprints (UserStore.name_fingerprint), kept in its own file (mode 0600).

    It was derived from the session secret each time, so rotating the secret (deleting ``secret_key`` to end every
    session, the usual response to a leaked key) gave every name a new fingerprint: the failed sign-ins logged
    before no longer matched ``ipcity users audit --name``, and the lockout's counts (kept by fingerprint) started
    again from zero for every guessed name. Now the key is made once, from the session secret as it is at that
    moment (the derivation older versions used, so the fingerprints already in the log keep matching), and then
    stays whatever happens to the session secret. Deleting this file is what starts the fingerprints afresh."""
    private_dir(path.parent)
    if not path.exists():
        session = secret_key(session_key_path)
        key = hmac.new(session, b"ipcity: fingerprint of a typed user name", hashlib.sha256).digest()
        # written whole under another name, then linked into place: a second process never reads it half-written,
        # and of two made at once the first wins (both hold the same key anyway)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="ascii") as f:
            f.write(key.hex())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    text = path.read_text(encoding="ascii", errors="replace").strip()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise RuntimeError(
            f"fingerprint key file {path.name} is damaged; delete it to generate a new one (the failed sign-ins "
            "logged so far then no longer match `ipcity users audit --name`)"
        )
    return bytes.fromhex(text)


def first_run_hint(store: UserStore) -> str | None:
    """What to do when no national account exists yet (printed by `ipcity serve`)."""
    if store.has_active_national():
        return None
    return (
        "还没有国家局账号。用下面的命令创建第一个：\n"
        "No national account yet. Create the first one with:\n"
        "  ipcity users add <name> --role national\n"
        "（会提示输入密码；系统不带任何默认密码 · you will be asked for the password; "
        "nothing ships with a default password)"
    )
