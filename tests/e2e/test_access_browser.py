"""Headless Chromium signed in as a provincial office (广东, 44): it sees only its own province's cities — profile,
comparison, watchlist, downloads and extracts — the national ranking as published, and no page or crafted URL
shows another province's detail. Signed out, every page leads to the sign-in form."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from .conftest import browser_login, make_driver
from .test_dashboard_browser import PAGES, grid_data, page_ready, severe_logs, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def sql(path, query, params=()):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(query, list(params)).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def gd_browser(dash_server):
    driver, profile = make_driver()
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def test_signed_out_goes_to_sign_in(gd_browser, dash_server):
    gd_browser.get(dash_server.url + "/watchlist?lang=zh")
    assert wait_for(lambda: gd_browser.find_elements("id", "login-form"))
    assert "next=" in gd_browser.current_url
    gd_browser.find_element("id", "login-username").send_keys("gd_test")
    gd_browser.find_element("id", "login-password").send_keys("wrong password!!")
    gd_browser.find_element("id", "login-submit").click()
    assert wait_for(lambda: gd_browser.find_elements("id", "login-error"))


def test_province_user_sees_only_its_province(gd_browser, dash_server, e2e_snapshot, artifacts):
    browser_login(gd_browser, dash_server.url, "gd_test")
    province_of = dict(sql(e2e_snapshot, "select unit_code, province_code from marts.dim_city"))
    names = dict(sql(e2e_snapshot, "select unit_code, unit_name from marts.dim_city"))

    # navigation: no data-quality page; the header says who is signed in
    gd_browser.get(dash_server.url + "/?lang=zh")
    assert wait_for(lambda: page_ready(gd_browser, PAGES["/"]))
    assert not gd_browser.find_elements("id", "nav-quality")
    assert "gd_test" in gd_browser.find_element("id", "ipc-user").text

    # watchlist: only Guangdong's flagged cities
    gd_browser.get(dash_server.url + "/watchlist?lang=zh")
    assert wait_for(
        lambda: gd_browser.find_elements("id", "wl-cards") and gd_browser.find_element("id", "wl-cards").text
    )
    rows = grid_data(gd_browser, "wl-grid") if gd_browser.find_elements("id", "wl-grid") else []
    assert all(province_of[r["unit_code"]] == "440000" for r in rows), rows

    # downloads: the preview and the extract list hold Guangdong only
    gd_browser.get(dash_server.url + "/downloads?lang=zh")
    assert wait_for(lambda: page_ready(gd_browser, PAGES["/downloads"]))
    preview = grid_data(gd_browser, "dl-preview")
    assert preview and {r["省份"] for r in preview} == {"广东省"}
    if gd_browser.find_elements("id", "ex-grid"):
        listed = grid_data(gd_browser, "ex-grid")
        assert listed and {r["province_code"] for r in listed} == {"440000"}
    gd_browser.save_screenshot(str(artifacts / "province_downloads_zh.png"))

    # rankings: the national ranking as published; stage only for Guangdong's rows
    gd_browser.get(dash_server.url + "/rankings?lang=zh")
    assert wait_for(lambda: page_ready(gd_browser, PAGES["/rankings"]))
    ranked = grid_data(gd_browser, "rk-grid")
    assert any(r["province_code"] != "440000" for r in ranked)
    assert all(r["stage"] is None for r in ranked if r["province_code"] != "440000")

    # profile: the default city and the choices are Guangdong's
    gd_browser.get(dash_server.url + "/profile?lang=zh")
    assert wait_for(lambda: page_ready(gd_browser, PAGES["/profile"]))
    summary = gd_browser.find_element("id", "pf-summary").text
    assert "广东省" in summary
    gd_browser.find_element("css selector", "#pf-unit").click()
    options = wait_for(lambda: [o.text for o in gd_browser.find_elements("css selector", "[role='option']")])
    assert options and all("广东" in o for o in options), options[:5]
    gd_browser.save_screenshot(str(artifacts / "province_profile_zh.png"))

    # crafted URL: another province's city in the query shows nothing of it
    nanjing = next(c for c, p in province_of.items() if p == "320000" and c != "320000")
    gd_browser.get(dash_server.url + f"/profile?unit={nanjing}&lang=zh")
    wait_for(lambda: False, timeout=3)
    assert names[nanjing] not in gd_browser.find_element("tag name", "body").text
    # a page not open to the role: refused
    gd_browser.get(dash_server.url + "/quality")
    refusal = gd_browser.find_element("id", "error-page").text  # explained, with a way back, not a bare 403 line
    assert "无权访问" in refusal and "返回年度总览" in refusal
    # the console holds the refusals (401 for the wrong password, 403 for the crafted URL), never a server error
    assert not [m for m in severe_logs(gd_browser) if " 500 " in m or "INTERNAL SERVER ERROR" in m]
    assert "Traceback" not in dash_server.log()
