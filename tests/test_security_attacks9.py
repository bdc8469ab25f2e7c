"""Attacks of the ninth review (branch h_access9), tried against the real parts: the accounts store, the files the
pipeline writes, the command line. Each section says what was wrong; each of its tests failed before its fix."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import sqlite3
import stat
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from dashboards import auth

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Vq7#lantern-Orbit"
OTHER_PASSWORD = "Zr4!meadow-Quartz"
CJK = re.compile(r"[\u3400-\u9fff]")


# ---- 1. one account per name, whatever its case or width ---------------------------------------------------------------
# 'Admin' could be created beside 'admin' (and 'ADMIN', 'aDmin'...): two accounts the audit log, `ipcity users list`
# and an operator granting a role tell apart only by case. Names are now keyed by NFKC + casefold: unique by the key,
# looked up by it at sign-in (the account keeps the form it was made with), look-alike letters of other scripts and
# full-width forms refused at creation, in both languages, naming the character.
def _store(tmp_path) -> auth.UserStore:
    return auth.UserStore(tmp_path / "access" / "users.sqlite")


@pytest.mark.parametrize("twin", ["Admin", "ADMIN", "admin ", " aDmin", "ａｄｍｉｎ", "ＡＤＭＩＮ"])
def test_a_name_differing_only_in_case_width_or_spaces_is_the_same_account(tmp_path, twin):
    store = _store(tmp_path)
    store.add("admin", PASSWORD, "national")
    with pytest.raises(auth.UserError) as refused:
        store.add(twin, OTHER_PASSWORD, "viewer")
    message = str(refused.value)
    assert "admin" in message and CJK.search(message) and re.search("[a-z]{4} ", message), message
    assert [u.username for u in store.list()] == ["admin"]


@pytest.mark.parametrize("lookalike", ["аdmin", "admіn", "ɑdmin", "adm\u0131n", "ad\u200bmin"])
def test_look_alike_letters_of_other_scripts_are_refused_naming_the_letter(tmp_path, lookalike):
    store = _store(tmp_path)
    store.add("admin", PASSWORD, "national")
    with pytest.raises(auth.UserError) as refused:
        store.add(lookalike, OTHER_PASSWORD, "viewer")
    message = str(refused.value)
    assert CJK.search(message) and "user name" in message, message
    assert "U+" in message or re.search(r"[A-Z]{5,} ", message), "the letter is named, not only refused"
    assert store.authenticate(lookalike, PASSWORD) is None  # and no sign-in by it
    assert [u.username for u in store.list()] == ["admin"]


def test_sign_in_finds_the_account_in_any_case_or_width_and_keeps_its_own_name(tmp_path):
    store = _store(tmp_path)
    store.add("Zhang.Wei", PASSWORD, "province", "44")
    for typed in ("Zhang.Wei", "zhang.wei", "ZHANG.WEI", "ｚｈａｎｇ．ｗｅｉ", " zhang.wei "):
        user = store.authenticate(typed, PASSWORD, "10.0.0.1")
        assert user is not None and user.username == "Zhang.Wei", typed
    assert store.authenticate("zhang.wei", OTHER_PASSWORD, "10.0.0.1") is None
    # the operator's commands name it in any case too
    assert store.set_role("ZHANG.WEI", "viewer").username == "Zhang.Wei"
    assert store.audit_rows(1)[0]["target"] == "Zhang.Wei"  # the audit log names the account, not the spelling
    assert store.get("zhang.wei").role == "viewer"


def test_guesses_in_other_cases_count_toward_the_same_lockout(tmp_path):
    """Once any spelling signs in, each spelling must not be a fresh allowance of MAX_FAILURES guesses."""
    store = _store(tmp_path)
    store.add("chief", PASSWORD, "national")
    spellings = ["chief", "Chief", "CHIEF", "cHief", "ｃｈｉｅｆ", "chieF", "CHief", "chIEF", "ChIeF", "CHIEf", "cHIEF"]
    for k in range(auth.MAX_FAILURES):
        assert store.authenticate(spellings[k % len(spellings)], f"wrong-guess-{k}", "203.0.113.9") is None
    assert store.locked("chief", "203.0.113.9") and store.locked("CHIEF", "203.0.113.9")
    assert store.authenticate("Chief", PASSWORD, "203.0.113.9") is None  # locked from that address
    assert store.authenticate("chief", PASSWORD, "198.51.100.7").username == "chief"  # not from the office's


def _legacy_store(path: Path) -> None:
    """A store as the versions before the names' keys made it, holding two accounts differing only in case."""
    path.parent.mkdir(parents=True, mode=0o700)
    con = sqlite3.connect(path)
    con.executescript(
        """
        create table users (
            username text primary key, password_hash text not null,
            role text not null check (role in ('national', 'province', 'viewer', 'evaluator')),
            province_code text, active integer not null default 1, auth_stamp text not null,
            created_at text not null, updated_at text not null,
            check (role <> 'province' or province_code is not null));
        """
    )
    for name, password, role in (("Admin", PASSWORD, "national"), ("admin", OTHER_PASSWORD, "viewer")):
        con.execute(
            "insert into users values (?, ?, ?, null, 1, 'stamp', '2025-01-01T00:00:00', '2025-01-01T00:00:00')",
            (name, auth._hasher.hash(password), role),
        )
    con.commit()
    con.close()


def test_an_older_store_with_case_twins_upgrades_without_locking_either_out(tmp_path, monkeypatch):
    """Decided: each legacy twin signs in by its exact name only (neither official is locked out by an upgrade);
    any other spelling is ambiguous and matches neither; a third spelling cannot be added; commands naming them
    need the exact name; `ipcity users list` names the pair for the operator to disable one."""
    from pipelines.cli import main

    path = tmp_path / "access" / "users.sqlite"
    _legacy_store(path)
    store = auth.UserStore(path)
    assert store.authenticate("Admin", PASSWORD).role == "national"
    assert store.authenticate("admin", OTHER_PASSWORD).role == "viewer"
    assert store.authenticate("ADMIN", PASSWORD) is None and store.authenticate("ADMIN", OTHER_PASSWORD) is None
    assert store.authenticate("admin", PASSWORD) is None  # the other twin's password is not this one's
    with pytest.raises(auth.UserError, match="exact"):
        store.set_role("ADMIN", "viewer")
    with pytest.raises(auth.UserError, match="already exists"):
        store.add("aDMIN", PASSWORD + "x", "viewer")
    assert store.same_name_accounts() == {"admin": ["Admin", "admin"]}

    monkeypatch.setenv("IPCITY_ACCESS_DIR", str(path.parent))
    out = CliRunner().invoke(main, ["users", "list"])
    assert out.exit_code == 0, out.output
    assert "differ only in case" in out.output and "仅大小写" in out.output and "Admin, admin" in out.output


# ---- 2. the files of one province, one city or all of them are born owner-only -----------------------------------------
# The provincial extracts (per province and year), the dossiers (a flagged city's case), the printed reports and
# the published snapshot (every province) kept the umask's mode: folders 0755, files 0644, readable by every local
# user of the server. Their one reader, the dashboard, runs as the pipeline's user (it reads the owner-only accounts
# store and builds extract files on request), so they are now owner-only: folders 0700 at birth, files 0600; the
# on-request builds still work and give owner-only files. An extracts root an operator named (--out) keeps its mode.
def _loose(root: Path, *, skip_root: bool = False) -> dict[str, str]:
    paths = [p for p in [root, *root.rglob("*")] if not (skip_root and p == root)]
    return {
        str(p.relative_to(root.parent)): oct(stat.S_IMODE(p.stat().st_mode)) for p in paths if p.stat().st_mode & 0o077
    }


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.slow
def test_extract_versions_and_on_request_builds_are_owner_only(sample_snapshot, tmp_path, umask_022):
    from pipelines import extracts as X

    snap = tmp_path / "snap.duckdb"
    shutil.copy(sample_snapshot.snapshot, snap)
    root = tmp_path / "extracts"
    with duckdb.connect(str(snap), read_only=True) as con:
        year = X.released_years(con)[-1]
    assert X.write_all(snap, root, provinces=["440000"], years=[year])
    with duckdb.connect(str(snap)) as con:
        con.execute(
            "update marts.fct_city_score_year set composite_index = composite_index + 0.5, "
            "composite_index_published = composite_index_published + 0.5 where year = ?",
            [year],
        )
    (v2,) = X.write_all(snap, root, provinces=["440000"], years=[year])
    deferred = [f for f in v2["files"] if f.get("built_on_request")]
    assert deferred, "the re-version leaves files to their first download"
    assert not _loose(root), _loose(root)
    for f in deferred:
        built = X.ensure_file(root, f["path"])
        assert built is not None and built.is_file()
    assert not _loose(root), _loose(root)

    # a version written by an earlier version (folders 0755, files 0644) is tightened when a file of it is built
    v2_dir = (root / deferred[0]["path"]).parent
    for p in [root / "44", root / "44" / str(year), v2_dir]:
        os.chmod(p, 0o755)
    for f in deferred:
        (root / f["path"]).unlink()
    X.ensure_file(root, deferred[0]["path"])
    assert not _loose(root), _loose(root)

    # an operator's own root keeps its mode; what is written below it does not
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    os.chmod(mine, 0o755)
    with duckdb.connect(str(snap), read_only=True) as con:
        X.write_extract(con, mine, "440000", year)
    assert stat.S_IMODE(mine.stat().st_mode) == 0o755
    assert not _loose(mine, skip_root=True), _loose(mine, skip_root=True)


@pytest.mark.slow
def test_dossiers_reports_and_the_snapshot_are_owner_only(sample_snapshot, tmp_path, umask_022):
    from dashboards.report import write_report
    from pipelines.evaluation.dossier import flagged_unit_years, write_dossiers
    from pipelines.snapshot_writer import publish_snapshot

    snap = sample_snapshot.snapshot
    with duckdb.connect(str(snap), read_only=True) as con:
        flagged = flagged_unit_years(con)[:2]
    assert flagged
    dossiers = tmp_path / "data" / "dossiers"
    assert write_dossiers(snap, flagged, dossiers)
    assert not _loose(dossiers), _loose(dossiers)

    report = write_report(snap, int(flagged[0][1]), None, tmp_path / "out" / "report.pdf", "en")
    assert report.read_bytes()[:4] == b"%PDF"
    assert stat.S_IMODE(report.stat().st_mode) == 0o600

    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    shutil.copy(snap, warehouse)
    published = tmp_path / "wh" / "published" / "warehouse.snapshot.duckdb"
    publish_snapshot(warehouse, published)
    assert duckdb.connect(str(published), read_only=True).execute("select 1").fetchone() == (1,)
    assert not _loose(published.parent), _loose(published.parent)


# ---- 3. the command line shows data, never runs it -----------------------------------------------------------------------
# Some lines printed snapshot, manifest or store text as it was (the province's name in `ipcity extract`, the
# warehouse's paths, a run's job and partition, the correction rows' values, the release's changed units, the
# diff's old and new values): rich read '[...]' in them as markup (a name could restyle or hide the rest of a line,
# or raise MarkupError) and the terminal ran their control characters. Every value a console.print, a table row
# or _say shows now goes through escape(); this guard reads the command line's source for one that does not.
NOT_DATA = {  # the command's own built tables and lines, counts, process ids and ports
    "t", "zh", "en", "pid", "proc.pid", "port", "workers", "threads", "n", "len(out)", "year", "min(years)",
    "max(years)", "status_cell", "YES_NO_ZH[0]", "YES_NO_ZH[1]", "sum((d['status'] == 'delivered' for d in out))",
    "_check_words(r)",  # escapes the suite's and yml's names itself, then adds its own [dim] markup
}  # fmt: skip


def _shown_without_escape(tree: ast.AST) -> list[tuple[int, str]]:
    def ok(v) -> bool:
        if isinstance(v, ast.Constant) or ast.unparse(v) in NOT_DATA:
            return True
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "escape":
            return True
        if (  # a count in words (pipelines/counts.py): a number and the command's own noun, never data
            isinstance(v, ast.Call)
            and isinstance(v.func, ast.Name)
            and v.func.id in {"count_zh", "count_en"}
            and all(isinstance(a, ast.Constant) for a in v.args[1:])
        ):
            return True
        if isinstance(v, ast.IfExp):
            return ok(v.body) and ok(v.orelse)
        if isinstance(v, ast.BinOp) and isinstance(v.op, ast.Add):
            return ok(v.left) and ok(v.right)
        if isinstance(v, ast.JoinedStr):
            return all(ok(p) for p in v.values)
        if isinstance(v, ast.FormattedValue):
            return v.format_spec is not None or ok(v.value)  # a number with its format ('{n:,}')
        return False

    found = []

    def visit(a) -> None:
        if ok(a):
            return
        if isinstance(a, ast.JoinedStr):
            found.extend((p.lineno, ast.unparse(p.value)) for p in a.values if not ok(p))
        elif isinstance(a, ast.IfExp):
            visit(a.body)
            visit(a.orelse)
        elif isinstance(a, ast.BinOp) and isinstance(a.op, ast.Add):
            visit(a.left)
            visit(a.right)
        elif isinstance(a, ast.Starred):  # *([escape(x)] if when else []): every cell it may unpack is judged
            visit(a.value)
        elif isinstance(a, ast.List | ast.Tuple):
            for e in a.elts:
                visit(e)
        else:
            found.append((a.lineno, ast.unparse(a)))

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if (f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)) in {"print", "add_row", "_say"}:
                for a in node.args:
                    visit(a)
    return found


def test_every_value_the_command_line_shows_goes_through_escape():
    tree = ast.parse((ROOT / "pipelines" / "cli.py").read_text(encoding="utf-8"))
    assert not _shown_without_escape(tree), _shown_without_escape(tree)
    # the guard sees what it must
    probe = ast.parse(
        'console.print(f"[red]{name}[/red] {escape(x)} {n:,}")\nt.add_row(r["a"], escape(r["b"]))\n'
        "t.add_row(*([escape(a)] if w else []), *([b] if w else []))"
    )
    assert _shown_without_escape(probe) == [(1, "name"), (2, "r['a']"), (3, "b")]
    # a count in words passes with the command's own noun, not with a noun taken from data
    counted = ast.parse("console.print(f\"{count_en(n, 'row')} {count_zh(n, unit)}\")")
    assert _shown_without_escape(counted) == [(1, "count_zh(n, unit)")]


@pytest.mark.slow
def test_the_extract_command_shows_a_hostile_province_name_as_text(sample_snapshot, tmp_path, monkeypatch):
    """The unchanged version's entry is read from its manifest on disk, a file anyone able to write the extracts
    folder could edit; its province name reached rich as markup and the terminal as controls."""
    from pipelines.cli import main

    published = tmp_path / "wh" / "published"
    published.mkdir(parents=True)
    shutil.copy(sample_snapshot.snapshot, published / "warehouse.snapshot.duckdb")
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "wh" / "warehouse.duckdb"))
    with duckdb.connect(str(published / "warehouse.snapshot.duckdb"), read_only=True) as con:
        year = int(con.execute("select max(year) from marts.fct_city_score_year").fetchone()[0])
    root = tmp_path / "extracts"
    args = ["extract", "--province", "44", "--year", str(year), "--format", "csv", "--out", str(root)]
    assert CliRunner().invoke(main, args).exit_code == 0
    manifest = root / "44" / str(year) / "versions.json"
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    doc["versions"][-1]["province_name"] = "广东省[/]\x1b[2J[bold red]OK[/bold red]\x1b]0;owned\x07"
    manifest.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "广东省[/]" in r.output and "[bold red]OK[/bold red]" in r.output, r.output
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", r.output), repr(r.output)


# ---- 4. guessing spread over many addresses cannot keep an office out for good -----------------------------------------
# MAX_ACCOUNT_FAILURES wrong guesses from anywhere within LOCK_WINDOW locked the account at every address, the
# office's own too: anyone knowing the national office's user name (it is on its staff's e-mails) kept it out for
# good with 100 guesses from rented addresses every 15 minutes. Now the account-wide lock spares the addresses the
# account signed in from lately (there the per-address bound still holds); every other address stays locked.
def test_guesses_spread_over_many_addresses_do_not_lock_the_office_out_at_its_own_address(tmp_path, monkeypatch):
    monkeypatch.setattr(auth, "MAX_FAILURES", 3)
    monkeypatch.setattr(auth, "MAX_ACCOUNT_FAILURES", 6)
    store = _store(tmp_path)
    store.add("nat_office", PASSWORD, "national")
    assert store.authenticate("nat_office", PASSWORD, "10.1.0.7") is not None  # the office, last week
    for i in range(8):  # the attacker: two guesses from each of four addresses, under the per-address bound
        assert store.authenticate("NAT_OFFICE", f"guess-{i}-xyz", f"198.51.100.{i % 4}") is None
    assert store.locked("nat_office", "192.0.2.50"), "a new address is locked: the spread guessing is stopped"
    assert store.authenticate("nat_office", PASSWORD, "192.0.2.50") is None
    assert not store.locked("nat_office", "10.1.0.7")
    assert store.authenticate("nat_office", PASSWORD, "10.1.0.7").username == "nat_office"
    # guessing from the office's own address (its NAT) is still bounded there
    for i in range(3):
        assert store.authenticate("nat_office", f"inside-{i}-xyz", "10.1.0.7") is None
    assert store.authenticate("nat_office", PASSWORD, "10.1.0.7") is None
