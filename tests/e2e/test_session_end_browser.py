"""Headless Chromium on a page whose session ends while it is open (round 11, branch h_access11).

Every Dash callback re-checks the account on each request, so when the session ends (the idle timeout, a sign-out
in another tab, a password changed elsewhere, the account disabled or moved to another province) the open page's
callbacks were answered 401 and Dash's renderer only logged it: the page kept its old figures, its controls did
nothing and the official was told nothing. Now the page goes to the sign-in form, which comes back to it after."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .conftest import browser_login, make_driver, start_server
from .test_dashboard_browser import page_ready, wait_for

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def small_server(tmp_path_factory):
    from dashboard_fixtures import build_snapshot
    from dashboard_http import add_account

    base = tmp_path_factory.mktemp("session_end")
    snap = build_snapshot(base / "published" / "a.snapshot.duckdb", last_year=2024)
    access_dir = base / "access"
    add_account(access_dir / "users.sqlite", "gd_end", "province", "44")
    server = start_server(snap, None, base / "server.log", access_dir)
    yield server, access_dir
    server.proc.terminate()
    try:
        server.proc.wait(10)
    except subprocess.TimeoutExpired:  # a loaded machine: the server's threads may not end in time (as conftest)
        server.proc.kill()
        server.proc.wait(10)


def test_a_page_whose_account_is_disabled_goes_to_the_sign_in_form(small_server):
    from dashboards.auth import UserStore

    server, access_dir = small_server
    driver, profile = make_driver()
    try:
        browser_login(driver, server.url, "gd_end")
        driver.get(server.url + "/rankings?lang=en")
        # signed in, the page works
        assert wait_for(lambda: any("gd_end" in e.text for e in driver.find_elements("id", "ipc-user")))
        assert wait_for(lambda: page_ready(driver, {"graphs": [], "grids": []}))  # its callbacks answered
        UserStore(access_dir / "users.sqlite").disable("gd_end")  # the operator, mid-session
        # the next callback (the pages router's, for the link) is refused
        # the bar is drawn by a callback that may still be re-drawing on a loaded machine: click once it is there
        # (CI once found no such element yet and the click raised)
        assert wait_for(
            lambda: driver.execute_script(
                "const a = document.getElementById('nav-watchlist'); if (!a) return false; a.click(); return true;"
            )
        )
        assert wait_for(lambda: "/login" in driver.current_url, timeout=20), driver.current_url
        assert "next=%2Fwatchlist" in driver.current_url and "lang=en" in driver.current_url, driver.current_url
        assert driver.find_elements("id", "login-form")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
