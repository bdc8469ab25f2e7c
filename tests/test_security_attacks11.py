"""Attacks of the eleventh review (branch h_access11), tried against the real parts: the running dashboard over
HTTP, the command line, the accounts store. Each section says what was wrong; each of its tests failed before its
fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from security_fixtures import SAME_ORIGIN

from dashboards import auth

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Vq7#lantern-Orbit"


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    from security_fixtures import attack_web

    return attack_web(tmp_path_factory, "attacks11", "gd11")


def _shared_cache_may_store(response) -> bool:
    """RFC 9111 §3 and §5.2.2: a shared cache (an office's or an ISP's caching proxy) may store a 2xx answer to a
    request without an Authorization header unless it says no-store or private (a bare max-age, "public", or no
    Cache-Control at all with a validator — heuristic freshness — all let it). The cookie does not stop it: the
    proxy keys by URL, and "Vary: Cookie" is ignored or not cached by many."""
    directives = {d.strip().split("=")[0].lower() for d in response.headers.get("Cache-Control", "").split(",")}
    return 200 <= response.status_code < 300 and not directives & {"no-store", "private"}


# ---- 1. what needs an account is never kept by a shared cache --------------------------------------------------------
# Dash's bundles need a signed-in account (round 10: their URLs name Dash's versions), but Dash sent them with a bare
# "Cache-Control: max-age=31536000", and the map outlines (also behind sign-in) with "public, max-age=86400": a
# caching proxy between an office and the server stored the answer to a signed-in official's request and gave it,
# for a year, to anyone asking the same URL without an account. Now everything behind sign-in is "private" (the
# browser still keeps the bundles) or "no-store"; the refusals (401) are not kept either.
def test_nothing_behind_sign_in_is_storable_by_a_shared_cache(web):
    gd, anonymous = web["gd"], web["app"].server.test_client()
    page = gd.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    urls = set(re.findall(r'(?:src|href)="(/[^"]+)"', page))
    assert any(u.startswith("/_dash-component-suites/") for u in urls)
    urls |= {"/geo/provinces.json", "/geo/prefectures.json", "/geo/topojson/china.json", "/_dash-layout", "/"}
    checked = 0
    for url in sorted(urls):
        if anonymous.get(url).status_code == 200:
            continue  # open to anyone (the style sheet, the sign-in page): a shared cache may keep it
        signed_in = gd.get(url)
        assert signed_in.status_code == 200, url
        assert not _shared_cache_may_store(signed_in), (url, signed_in.headers.get("Cache-Control"))
        checked += 1
    assert checked >= 6
    # the browser's own cache still keeps the bundles (each URL carries its version: a year is right)
    bundle = next(u for u in sorted(urls) if u.startswith("/_dash-component-suites/"))
    cache_control = gd.get(bundle).headers["Cache-Control"]
    assert "private" in cache_control and "max-age=31536000" in cache_control and "public" not in cache_control
    # the anonymous refusal of a bundle is not kept by anyone
    refused = anonymous.get(bundle)
    assert refused.status_code == 401 and "no-store" in refused.headers.get("Cache-Control", "")


# ---- 2. the command line refuses what it can before asking for a password ------------------------------------------
# `ipcity users add` asked for the password (twice) and only then said the name, role or province was wrong, or the
# name taken; `users reset-password` asked for a new password for an account that does not exist. The operator typed
# a password for nothing, and a script piping one in (--password -) found out after it had been read.
# And a well-formed code of no province ('99', '72') made a provincial account that saw nothing, unexplained.
@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["add", "bad name!", "--role", "national"], "user name"),
        (["add", "gd.new", "--role", "province"], "--province"),
        (["add", "gd.new", "--role", "province", "--province", "99"], "990000"),
        (["set-role", "chief", "province", "--province", "72"], "no province has code 720000"),
        (["add", "gd.new", "--role", "national", "--province", "44"], "--province"),
        (["add", "CHIEF", "--role", "viewer"], "already exists"),
        (["reset-password", "nobody.here"], "no user nobody.here"),
    ],
)
def test_users_add_and_reset_refuse_before_the_password_is_asked(tmp_path, monkeypatch, args, reason):
    from click.testing import CliRunner

    from pipelines.cli import main

    monkeypatch.setenv("IPCITY_ACCESS_DIR", str(tmp_path / "access"))
    auth.UserStore(tmp_path / "access" / "users.sqlite").add("chief", PASSWORD, "national")
    r = CliRunner().invoke(main, ["users", *args], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert r.exit_code == 2, r.output
    assert "password" not in r.output.lower().split(reason.lower())[0], r.output  # no prompt before the refusal
    assert reason in r.output, r.output


# ---- 3. rotating the session secret keeps the fingerprints of failed sign-ins -----------------------------------------
# A name that is no account is logged as a keyed fingerprint (round 10), keyed by the session secret: deleting
# data/access/secret_key (to end every session, after a leak) gave every typed name a new fingerprint, so the tries
# logged before no longer matched `ipcity users audit --name`, and the lockout (counted by fingerprint) started over
# for every guessed name. The key now has its own file, made once from the secret as it was (older fingerprints
# keep matching), and stays when the secret is rotated.
def test_rotating_the_session_secret_keeps_the_fingerprints_and_the_lockout(tmp_path, monkeypatch):
    import hashlib
    import hmac

    from click.testing import CliRunner

    from pipelines.cli import main

    monkeypatch.setenv("IPCITY_ACCESS_DIR", str(tmp_path / "access"))
    store = auth.UserStore(tmp_path / "access" / "users.sqlite")
    store.add("chief", PASSWORD, "national")
    secret = auth.secret_key(tmp_path / "access" / "secret_key")
    # what an older version logged: HMAC keyed by the session secret's derivation
    older_key = hmac.new(secret, b"ipcity: fingerprint of a typed user name", hashlib.sha256).digest()
    older = "?" + hmac.new(older_key, b"ghost.admin", hashlib.sha256).hexdigest()[:16]
    assert store.name_fingerprint("ghost.admin") == older
    for _ in range(auth.MAX_FAILURES):
        assert store.authenticate("ghost.admin", "wrong-guess", "203.0.113.9") is None
        store.audit(store.audit_name("ghost.admin"), None, "login", "/login", "failed", "203.0.113.9")
    assert store.locked("ghost.admin", "203.0.113.9")

    (tmp_path / "access" / "secret_key").unlink()  # the operator rotates the session secret
    assert auth.secret_key(tmp_path / "access" / "secret_key") != secret
    rotated = auth.UserStore(tmp_path / "access" / "users.sqlite")  # the next process
    assert rotated.name_fingerprint("ghost.admin") == older
    assert rotated.locked("ghost.admin", "203.0.113.9")  # the guesses still count
    r = CliRunner().invoke(main, ["users", "audit", "--name", "ghost.admin"])
    assert r.exit_code == 0 and older in r.output, r.output
    key_file = tmp_path / "access" / auth.FINGERPRINT_KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert secret not in key_file.read_bytes() and older_key.hex() == key_file.read_text()


# ---- 4. the password policy refuses the words a targeted guess tries first -------------------------------------------
# The lockout lets about MAX_ACCOUNT_FAILURES guesses per LOCK_WINDOW through from many addresses (some 9,600 a
# day at one account, for good: nothing locks). A guesser at an IP office's account starts with the service's, the
# office's and the province's names and a year: 'Guangdong@2024', 'Cnipa@2024', 'Ipcity2025!', 'Admin@12345' all
# passed the policy (the common-password lists have none of them). Now every province's and prefecture city's name
# (the project's own files) and the service's words, with digits or symbols around or inside them or letters
# swapped for digits, are refused: by `ipcity users add`/`reset-password` and by the web's change-password page.
CONTEXT_PASSWORDS = ["Guangdong@2024", "Cnipa@2024", "Ipcity2025!", "Admin@12345", "Guang-Dong2024", "Sh3nzh3n@2024"]


@pytest.mark.parametrize("password", CONTEXT_PASSWORDS)
def test_the_policy_refuses_the_service_and_place_names_with_digits(tmp_path, password):
    store = auth.UserStore(tmp_path / "access" / "users.sqlite")
    with pytest.raises(auth.WeakPassword) as refused:
        store.add("gd.office", password, "province", "44")
    assert refused.value.reason == "context"
    store.add("gd.office", "Gd#harbour-Lantern7", "province", "44")  # a passphrase of other words still passes
    with pytest.raises(auth.WeakPassword):
        store.reset_password("gd.office", password)


def test_the_change_password_page_says_why_in_both_languages(web):
    from dashboard_http import TEST_PASSWORD, form_token

    from dashboards import web as web_module

    for lang, words in (("zh", "地名"), ("en", "a place")):
        token = form_token(web["gd"], web_module.PASSWORD_PATH)
        data = {"csrf": token, "current": TEST_PASSWORD, "new": "Guangdong@2024", "confirm": "Guangdong@2024"}
        r = web["gd"].post(f"{web_module.PASSWORD_PATH}?lang={lang}", data=data, headers=SAME_ORIGIN)
        assert r.status_code == 400 and words in r.get_data(as_text=True), r.get_data(as_text=True)[-800:]


# ---- 5. the audit log says whose figures each taken file holds ---------------------------------------------------------
# A file taken was logged as its path ('/download/extract?year=…', '/report.pdf?…', '/dossiers/440100_2024.html'):
# which province's figures it held was in a query parameter, a city code or nothing at all (a national office's
# all-province file), so "who took Guangdong's figures this month", what data officials ask of the log, had no
# answer short of decoding every path. Now the row's detail names what the permission check granted ('province
# 440000', 'unit 440100 (province 440000)', 'all provinces') and `ipcity users audit --province 44` lists them.
def test_the_audit_log_names_the_province_of_every_file_taken(web, monkeypatch):
    from click.testing import CliRunner
    from dashboard_http import callback_body, signed_in_client

    from pipelines.cli import main

    national = signed_in_client(web["app"], web["store"], "chief11", "national")
    assert web["gd"].get("/download/extract?year=2024&province=44&fmt=csv").status_code == 200
    assert national.get("/download/extract?year=2024&fmt=csv").status_code == 200
    assert national.get("/download/extract?year=2024&province=32&fmt=csv").status_code == 200
    # and the downloads page's button (a callback sending the file)
    body = callback_body(
        [("dl-download", "data"), ("dl-status", "children")],
        [("dl-button", "n_clicks", 1)],
        [("dl-year", "value", 2024), ("dl-province", "value", "440000"), ("dl-format", "value", "csv")]
        + [("dl-lang", "data", "zh")],
    )
    assert web["gd"].post("/_dash-update-component", json=body, headers=SAME_ORIGIN).status_code == 200
    rows = [r for r in auth.UserStore(web["store"]).audit_rows(20) if r["action"] in ("file", "download")]
    details = {(r["username"], r["detail"]) for r in rows}
    assert {("gd11", "province 440000"), ("chief11", "all provinces"), ("chief11", "province 320000")} <= details
    assert any(u == "gd11" and d.startswith("province 440000; rows=") for u, d in details), details
    monkeypatch.setenv("IPCITY_ACCESS_DIR", str(Path(web["store"]).parent))
    r = CliRunner().invoke(main, ["users", "audit", "--province", "44"], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    assert "gd11" in r.output and "province 440000" in r.output and "province 320000" not in r.output, r.output
    assert "all provinces" in r.output  # a file of every province holds Guangdong's figures too
    bad = CliRunner().invoke(main, ["users", "audit", "--province", "广东"])
    assert bad.exit_code == 2 and "province" in bad.output


def test_the_granted_scope_of_a_city_names_its_province():
    from dashboards.access import granted_scope

    assert granted_scope("440100", None, False) == "unit 440100 (province 440000)"
    assert granted_scope(None, None, True) == "all provinces"
