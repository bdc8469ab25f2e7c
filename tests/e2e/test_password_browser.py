"""Headless Chromium: an official opens "change password" from the header, changes it through the form (its form
token sent by the browser), stays signed in, and the header's sign-out button (a POST with the session's token)
signs out; the new password signs in."""

from __future__ import annotations

import shutil

import pytest
from dashboard_http import add_account

from .conftest import browser_login, make_driver
from .test_dashboard_browser import PAGES, page_ready, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NEW_PASSWORD = "plum orchard lantern 7"


def test_change_password_and_sign_out_in_the_browser(dash_server, access_dir):
    add_account(access_dir / "users.sqlite", "pw_test", "viewer")  # its own account: the others keep theirs
    driver, profile = make_driver()
    try:
        browser_login(driver, dash_server.url, "pw_test")
        driver.get(dash_server.url + "/?lang=zh")
        assert wait_for(lambda: page_ready(driver, PAGES["/"]))
        driver.find_element("id", "ipc-password").click()
        assert wait_for(lambda: driver.find_elements("id", "password-form"))
        assert "修改密码" in driver.find_element("tag name", "h1").text

        from dashboard_http import TEST_PASSWORD

        driver.find_element("id", "password-current").send_keys(TEST_PASSWORD)
        driver.find_element("id", "password-new").send_keys("Password123!")
        driver.find_element("id", "password-confirm").send_keys("Password123!")
        driver.find_element("id", "password-submit").click()
        assert "容易被猜中" in wait_for(lambda: driver.find_elements("id", "password-error"))[0].text

        driver.find_element("id", "password-current").send_keys(TEST_PASSWORD)
        driver.find_element("id", "password-new").send_keys(NEW_PASSWORD)
        driver.find_element("id", "password-confirm").send_keys(NEW_PASSWORD)
        driver.find_element("id", "password-submit").click()
        assert wait_for(lambda: driver.find_elements("id", "password-done"))

        driver.get(dash_server.url + "/?lang=zh")  # still signed in, then out by the header's button
        assert wait_for(lambda: page_ready(driver, PAGES["/"]))
        wait_for(lambda: driver.find_elements("id", "ipc-logout")).pop().click()
        assert wait_for(lambda: driver.find_elements("id", "login-form"))
        driver.get(dash_server.url + "/rankings")
        assert wait_for(lambda: driver.find_elements("id", "login-form"))

        driver.find_element("id", "login-username").send_keys("pw_test")
        driver.find_element("id", "login-password").send_keys(NEW_PASSWORD)
        driver.find_element("id", "login-submit").click()
        assert wait_for(lambda: "/login" not in driver.current_url)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    assert "Traceback" not in dash_server.log()
