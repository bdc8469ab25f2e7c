"""Attacks of the tenth review (branch h_access10), tried against the real parts: the accounts store and the sign-in
form, the command line, the warehouse's files, the running dashboard. Each section says what was wrong; each of
its tests failed before its fix."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dashboards import auth

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Vq7#lantern-Orbit"
# what an official types into the user-name field when the focus was not where they thought
TYPED_PASSWORD = "Mz8!harbour-Lantern"


def _store(tmp_path) -> auth.UserStore:
    return auth.UserStore(tmp_path / "access" / "users.sqlite")


def _stored_text(path: Path) -> bytes:
    """Every byte the store keeps on disk: the database, its write-ahead log."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


# ---- 1. a password typed as the user name is not kept ----------------------------------------------------------------
# A failed sign-in's name went into the audit log and the failure counts as typed: officials type their password
# into the name field (focus in the wrong field, a password manager's slip), so passwords were kept in clear beside
# the hashes, and read by whoever runs `ipcity users audit`. A name that is no account is now kept as a keyed
# fingerprint (the key from the instance's secret), the same for the same guess, so repeated tries stay visible.
def test_a_failed_sign_in_keeps_no_typed_name_that_is_not_an_account(tmp_path):
    store = _store(tmp_path)
    store.add("chief", PASSWORD, "national")
    for _ in range(2):
        assert store.authenticate(TYPED_PASSWORD, PASSWORD, "203.0.113.9") is None
    store.audit(store.audit_name(TYPED_PASSWORD), None, "login", "/login", "failed", "203.0.113.9")
    assert store.authenticate("chief", "wrong-guess-1", "203.0.113.9") is None
    store.audit(store.audit_name("chief"), None, "login", "/login", "failed", "203.0.113.9")
    with sqlite3.connect(store.path) as con:
        con.execute("pragma wal_checkpoint(truncate)")
    stored = _stored_text(store.path)
    for form in (TYPED_PASSWORD, auth.username_key(TYPED_PASSWORD)):
        assert form.encode() not in stored, "the typed text is in the store's files"
    names = [r["username"] for r in store.audit_rows()]
    fingerprint = store.name_fingerprint(TYPED_PASSWORD)
    assert names[:2] == ["chief", fingerprint], names  # an account is named; a guess is its fingerprint
    assert fingerprint.startswith("?") and store.audit_name(TYPED_PASSWORD.upper()) == fingerprint
    assert not auth.USERNAME.fullmatch(fingerprint)  # never read as an account's name
    # the failures still count toward the lockout, by the fingerprint
    for k in range(auth.MAX_FAILURES):
        store.authenticate("ghost.user", f"guess-{k}-xyz", "198.51.100.4")
    assert store.locked("ghost.user", "198.51.100.4") and store.locked("GHOST.USER", "198.51.100.4")


def test_the_fingerprint_key_is_the_instance_secret_not_a_constant(tmp_path):
    one, other = _store(tmp_path / "one"), _store(tmp_path / "other")
    assert one.name_fingerprint(TYPED_PASSWORD) != other.name_fingerprint(TYPED_PASSWORD)
    assert one.name_fingerprint(TYPED_PASSWORD) == _store(tmp_path / "one").name_fingerprint(TYPED_PASSWORD)


def test_an_older_store_forgets_the_names_it_kept_as_typed(tmp_path):
    store = _store(tmp_path)
    store.add("chief", PASSWORD, "national")
    with sqlite3.connect(store.path) as con:  # what an earlier version left: the typed text, in clear
        con.execute("pragma user_version = 0")
        con.execute(
            "insert into audit_log (at, username, action, target, outcome) values "
            "('2026-01-01T00:00:00', ?, 'login', '/login', 'failed'), "
            "('2026-01-01T00:00:01', 'chief', 'login', '/login', 'failed')",
            (TYPED_PASSWORD,),
        )
        con.execute("insert into login_failures values (?, '2026-01-01T00:00:00', '1.2.3.4')", (TYPED_PASSWORD,))
    store = _store(tmp_path)
    names = [r["username"] for r in store.audit_rows()]
    assert TYPED_PASSWORD not in names and store.name_fingerprint(TYPED_PASSWORD) in names and "chief" in names
    with sqlite3.connect(store.path) as con:
        con.execute("pragma wal_checkpoint(truncate)")
    assert TYPED_PASSWORD.encode() not in _stored_text(store.path)


# ---- 2. the command line's error messages show an operator's values, never run them ---------------------------------
# The values an operator types (--city, --host, a user name, an alert id) and the exceptions they cause reached
# click's error messages and prompt as they were: click prints them to the terminal unread, so a value holding ESC
# sequences (pasted from a hostile file, message or page) cleared the screen or rewrote lines. An unknown --city was
# a traceback. Every message the command line builds now goes through term_text (this guard reads the source), and
# the `ipcity` group passes click's own messages through it too.
CLICK_MESSAGES = {"ClickException", "BadParameter", "UsageError", "FileError", "NoSuchOption", "prompt", "confirm"}
CLICK_MESSAGES |= {"echo", "secho", "fail", "style"}
SAFE_NUMBERS = {"limit", "year", "n"}  # numbers the command line parsed as numbers


def _messages_without_term_text(tree) -> list[tuple[int, str]]:
    import ast

    def ok(v) -> bool:
        if isinstance(v, ast.Constant) or ast.unparse(v) in SAFE_NUMBERS:
            return True
        if isinstance(v, ast.Call) and getattr(v.func, "id", None) == "term_text":
            return True
        if isinstance(v, ast.JoinedStr):
            return all(ok(p) for p in v.values)
        if isinstance(v, ast.FormattedValue):  # repr shows every control as an escape; '{n:,}' is a number
            return v.conversion == ord("r") or v.format_spec is not None or ok(v.value)
        if isinstance(v, ast.BinOp) and isinstance(v.op, ast.Add):
            return ok(v.left) and ok(v.right)
        if isinstance(v, ast.IfExp):
            return ok(v.body) and ok(v.orelse)
        return False

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if (f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)) in CLICK_MESSAGES:
                args = list(node.args[:1]) + [k.value for k in node.keywords if k.arg in ("message", "text")]
                found += [(a.lineno, ast.unparse(a)) for a in args if not ok(a)]
    return found


def test_every_message_the_command_line_raises_or_asks_goes_through_term_text():
    import ast

    tree = ast.parse((ROOT / "pipelines" / "cli.py").read_text(encoding="utf-8"))
    assert not _messages_without_term_text(tree), _messages_without_term_text(tree)
    probe = ast.parse(
        'raise click.ClickException(f"no city {city}: {term_text(x)} {n:,}")\n'
        "raise click.BadParameter(str(e))\nclick.prompt(f'password for {name!r}')"
    )
    assert _messages_without_term_text(probe) == [(1, "f'no city {city}: {term_text(x)} {n:,}'"), (2, "str(e)")]


HOSTILE = "深圳\x1b[2J\x1b]0;owned\x07\u202e"


def _no_controls(text: str) -> bool:
    import re

    return not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text)


def test_a_hostile_city_or_host_is_shown_as_text_in_the_error(tmp_path, monkeypatch):
    from click.testing import CliRunner
    from dashboard_fixtures import build_snapshot

    from pipelines.cli import main

    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    build_snapshot(tmp_path / "published" / "warehouse.snapshot.duckdb", last_year=2024)
    r = CliRunner().invoke(main, ["report", "--year", "2024", "--city", HOSTILE])
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit), (r.output, r.exception)  # no traceback
    assert "\\x1b[2J" in r.output and _no_controls(r.output), repr(r.output)
    r = CliRunner().invoke(main, ["serve", "--debug", "--host", "10.0.0.1\x1b[2J"])
    assert r.exit_code == 2 and "\\x1b[2J" in r.output and _no_controls(r.output), repr(r.output)
    # a message click builds itself (a file that does not exist) too
    r = CliRunner().invoke(main, ["serve", "--certfile", str(tmp_path / "cert\x1b[2J.pem")])
    assert r.exit_code == 2 and "\\x1b[2J" in r.output and _no_controls(r.output), repr(r.output)


# ---- the running dashboard (a small hand-made snapshot; province accounts of Guangdong) ---------------------------------


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    from security_fixtures import attack_web

    return attack_web(tmp_path_factory, "attacks10", "gd10")


def test_the_sign_in_form_logs_a_typed_password_only_as_its_fingerprint(web, caplog):
    from dashboard_http import login

    client = web["app"].server.test_client()
    with caplog.at_level("WARNING"):
        assert login(client, TYPED_PASSWORD, "whatever-it-was-1").status_code == 401
        assert login(client, "gd10", "whatever-it-was-2").status_code == 401
    store = auth.UserStore(web["store"])
    rows = [r for r in store.audit_rows(10) if r["action"] == "login" and r["outcome"] == "failed"]
    assert [r["username"] for r in rows[:2]] == ["gd10", store.name_fingerprint(TYPED_PASSWORD)]
    assert TYPED_PASSWORD not in caplog.text  # nor in the server's log


def test_the_operator_finds_the_tries_at_a_name_by_typing_it(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from pipelines.cli import main

    monkeypatch.setenv("IPCITY_ACCESS_DIR", str(tmp_path / "access"))
    store = _store(tmp_path)
    store.add("chief", PASSWORD, "national")
    for typed in ("ghost.admin", "chief", "other[red]x"):
        assert store.authenticate(typed, "wrong-guess", "203.0.113.9") is None
        store.audit(store.audit_name(typed), None, "login", "/login", "failed", "203.0.113.9")
    r = CliRunner().invoke(main, ["users", "audit", "--name", "GHOST.ADMIN"])
    assert r.exit_code == 0, r.output
    assert store.name_fingerprint("ghost.admin") in r.output and "chief" not in r.output.split("audit log")[1]
    r = CliRunner().invoke(main, ["users", "audit"])
    assert "chief" in r.output and "ghost.admin" not in r.output and "\\[" not in r.output, r.output


# ---- 3. the warehouse is owner-only, its write-ahead log and spill files too --------------------------------------------
# Every other file with the figures is born owner-only (pipelines/private_files.py); the warehouse DuckDB file, the
# largest of them, was created by DuckDB with the umask's mode (0644: readable by each local user), and so were its
# .wal (recreated at every checkpoint) and the spill folder. Now the file is born owner-only (made in an owner-only
# folder, renamed into place) or tightened, the spill folder is owner-only, and the `ipcity` command's umask keeps
# the .wal owner-only (DuckDB recreates it beside the warehouse, in the open data folder).
def _mode(p: Path) -> int:
    import stat

    return stat.S_IMODE(p.stat().st_mode)


def test_the_warehouse_and_its_spill_folder_are_born_owner_only(tmp_path, monkeypatch):
    import os

    from pipelines.resources import Warehouse

    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "data" / "warehouse.duckdb"))
    old = os.umask(0o022)
    try:
        with Warehouse().get_connection("ingest") as con:
            con.execute("create table t as select 1 as a")
        wh = tmp_path / "data" / "warehouse.duckdb"
        assert _mode(wh) == 0o600 and sorted(p.name for p in wh.parent.iterdir()) == ["duckdb_tmp", "warehouse.duckdb"]
        assert _mode(tmp_path / "data" / "duckdb_tmp" / "ingest") == 0o700
        wh.chmod(0o644)  # left readable by an earlier version: tightened when next opened
        with Warehouse().get_connection() as con:
            assert con.execute("select a from t").fetchone() == (1,)
        assert _mode(wh) == 0o600
    finally:
        os.umask(old)


def test_the_ipcity_command_makes_its_files_owner_only(tmp_path):
    import subprocess
    import sys

    probe = (
        "import atexit, os, sys\n"
        "from pipelines import cli\n"
        "atexit.register(lambda: print('umask', oct(os.umask(0))))\n"
        "sys.argv = ['ipcity', '--help']\n"
        "cli.entry()\n"
    )
    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path).stdout
    assert "umask 0o77" in out, out


# ---- 4. Dash's versions are not shown to an anonymous caller ------------------------------------------------------------
# The bundle URLs carry Dash's and its components' versions (".v4_4_1m…", "dash_ag_grid.v35_3_0m…", "react@18.3.1")
# and were served to anyone: a scanner learnt which published flaws apply without an account. Dash has no setting to
# leave the versions out (and the bundles' bytes identify them anyway), so the bundles now need a signed-in account,
# like the pages that load them; the sign-in page, the health probe, the style sheet and the icon stay open.
def test_the_bundles_naming_dashs_version_need_a_signed_in_account(web):
    import re

    import dash

    page = web["gd"].get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    bundles = re.findall(r'src="(/_dash-component-suites/[^"]+)"', page)
    assert bundles and any(dash.__version__.replace(".", "_") in b for b in bundles)
    anonymous = web["app"].server.test_client()
    for url in bundles:
        r = anonymous.get(url)
        assert r.status_code == 401 and b"React" not in r.get_data(), url
        signed_in = web["gd"].get(url)
        assert signed_in.status_code == 200 and "no-store" not in signed_in.headers.get("Cache-Control", ""), url
    v = dash.__version__.encode()
    version = re.compile(re.escape(v) + b"|" + re.escape(v.replace(b".", b"_")))
    for path in ("/login", "/healthz", "/assets/style.css", "/logout", "/favicon.ico"):
        r = anonymous.get(path, headers={"Accept": "text/html"}, follow_redirects=True)
        assert r.status_code == 200 and not version.search(r.get_data()), path


# ---- 5. a silence names a city or province the alerts carry, or is refused ----------------------------------------------
# `ipcity alerts silence --province 44` (the form `ipcity extract` and `users add` take) stored '44', and a mistyped
# or hostile --city was stored as given: each silence matched no alert while the command said it was in place.
def test_a_silence_by_province_or_city_takes_their_codes_or_says_why_not(tmp_path, monkeypatch):
    from datetime import timedelta

    from click.testing import CliRunner

    from pipelines.alerts import store as alert_store
    from pipelines.cli import main

    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    sid = alert_store.silence(by="t", duration=timedelta(hours=1), province_code="44")
    with alert_store.connect() as con:
        stored = con.execute("select province_code from alerts.silences where silence_id = ?", (sid,)).fetchone()
    assert stored[0] == "440000"
    for args in (["--city", HOSTILE], ["--city", "4403"], ["--province", "广东"], ["--province", "4400"]):
        r = CliRunner().invoke(main, ["alerts", "silence", "--for", "1d", *args])
        assert r.exit_code == 2 and "six-digit" in r.output and _no_controls(r.output), (args, r.output)


# ---- 6. the report route says what was wrong -------------------------------------------------------------------------
# /report.pdf answered a malformed year or city, a year without data and a missing snapshot with Werkzeug's bare
# English status pages: the reason was lost (the other download routes say it). Now each is a short text.
@pytest.mark.parametrize(
    ("query", "status", "said"),
    [
        ("year=abc", 400, "year: expected four digits"),
        ("year=2024&city=%E5%B9%BF%E5%B7%9E", 400, "city: expected a six-digit code"),
        ("year=2024&city=../../x", 400, "city: expected a six-digit code"),
        ("year=1999&city=440100", 404, "year 1999: no data"),
    ],
)
def test_the_report_route_says_why_it_refuses(web, query, status, said):
    r = web["gd"].get(f"/report.pdf?{query}")
    assert r.status_code == status and r.mimetype == "text/plain", (r.status_code, r.get_data()[:200])
    assert said in r.get_data(as_text=True)
