"""Headless Chromium on the policy simulator against the real sample-run snapshot: raise a threshold, run the
scenario (the project's own dbt evaluation models run on a scratch copy), see the changed verdict list, save the
scenario, reload the page, reopen it and see the same list. Also: the programme and province pages render."""

from __future__ import annotations

import os
import sqlite3
import subprocess

import pytest

from .conftest import start_server
from .test_dashboard_browser import GRID_DATA_JS, GRID_ROWS_JS, severe_logs, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

THRESHOLD = "EX1.improve_min_points"  # exemplary needs an index gain above this many points
RAISED = 60
NAME = "示范门槛提高60点"


@pytest.fixture(scope="module")
def sim_server(e2e_snapshot, dossier_dir, tmp_path_factory, access_dir):
    """The dashboard with its own scenario store (so saved scenarios never leak between runs)."""
    store = tmp_path_factory.mktemp("scenarios")
    saved = os.environ.get("IPCITY_SCENARIOS")
    os.environ["IPCITY_SCENARIOS"] = str(store)
    try:
        server = start_server(e2e_snapshot, dossier_dir, tmp_path_factory.mktemp("simlogs") / "server.log", access_dir)
    finally:
        if saved is None:
            os.environ.pop("IPCITY_SCENARIOS", None)
        else:
            os.environ["IPCITY_SCENARIOS"] = saved
    server.store = store
    yield server
    server.proc.terminate()
    try:
        server.proc.wait(10)
    except subprocess.TimeoutExpired:
        server.proc.kill()


def rule_input(browser, key: str):
    return browser.find_element("css selector", f"input[id*='\"{key}\"']")


def grid_rows(browser, grid_id: str) -> list[dict]:
    return browser.execute_script(GRID_DATA_JS, grid_id) or []


def test_run_a_scenario_see_changed_verdicts_save_and_reopen(browser, sim_server, artifacts):
    browser.get(sim_server.url + "/simulator?lang=zh")
    assert wait_for(lambda: browser.find_elements("css selector", f"input[id*='\"{THRESHOLD}\"']"), timeout=60)
    assert "模拟情景，不是正式评价结论" in browser.find_element("tag name", "body").text
    box = rule_input(browser, THRESHOLD)
    assert float(box.get_attribute("value")) < RAISED
    box.clear()
    box.send_keys(str(RAISED))
    box.send_keys("\t")  # debounce: the value commits on blur
    browser.find_element("id", "sim-name").send_keys(NAME)
    browser.find_element("id", "sim-run").click()

    # The scenario runs dbt and the uncertainty step: minutes on a loaded machine.
    assert wait_for(
        lambda: browser.execute_script(GRID_ROWS_JS, "sim-changes-grid") > 0
        or "情景无法计算" in browser.find_element("id", "sim-status").text,
        timeout=900,
        interval=2,
    ), "the scenario produced no change list"
    assert "情景无法计算" not in browser.find_element("id", "sim-status").text, browser.find_element(
        "id", "sim-status"
    ).text
    rows = wait_for(lambda: grid_rows(browser, "sim-changes-grid"))
    verdicts = [r for r in rows if r["kind"] == "verdict"]
    assert verdicts, "raising the exemplary threshold changed no cycle verdict"
    # exemplary verdicts can only be lost when the bar for exemplary rises
    assert all(r["base_value"] == "exemplary" and r["scenario_value"] != "exemplary" for r in verdicts), verdicts
    assert browser.find_element("id", "sim-card-verdict").text.startswith(str(len(verdicts)))
    assert "周期结论" in browser.find_element("id", "sim-changes-grid").text
    browser.save_screenshot(str(artifacts / "simulator_run.png"))

    browser.find_element("id", "sim-save").click()
    assert wait_for(lambda: "已保存" in browser.find_element("id", "sim-status").text, timeout=60)
    con = sqlite3.connect(sim_server.store / "scenarios.sqlite")
    try:
        (sid, name, n) = con.execute("select scenario_id, name, n_changes from scenarios").fetchone()
    finally:
        con.close()
    assert name == NAME and n == len(rows)

    # reopen from a fresh page
    browser.get(sim_server.url + "/simulator?lang=zh")
    assert wait_for(lambda: browser.find_elements("id", "sim-saved"), timeout=60)
    browser.find_element("css selector", "#sim-saved").click()
    option = wait_for(
        lambda: [o for o in browser.find_elements("css selector", "[role='option']") if NAME in o.text], timeout=20
    )
    assert option, "the saved scenario is not in the list"
    option[0].click()
    browser.find_element("id", "sim-open").click()
    assert wait_for(lambda: browser.execute_script(GRID_ROWS_JS, "sim-changes-grid") > 0, timeout=60)
    reopened = wait_for(lambda: grid_rows(browser, "sim-changes-grid"))
    key = lambda r: (r["kind"], r["unit_code"], r["period"], r["scenario_value"])  # noqa: E731
    assert sorted(map(key, reopened)) == sorted(map(key, rows))
    assert NAME in browser.find_element("id", "sim-status").text
    assert float(rule_input(browser, THRESHOLD).get_attribute("value")) == RAISED
    assert sid
    assert not severe_logs(browser)


@pytest.mark.parametrize("path,grid", [("/programmes", "pg-memberships"), ("/provinces", "pv-grid")])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_programme_and_province_pages(browser, sim_server, artifacts, path, grid, lang):
    browser.get(f"{sim_server.url}{path}?lang={lang}")
    assert wait_for(lambda: browser.execute_script(GRID_ROWS_JS, grid) > 0, timeout=60), f"{path}: no rows"
    body = browser.find_element("tag name", "body").text
    if path == "/programmes":
        assert ("名单不完整" if lang == "zh" else "The roster is partial") in body
        assert "海淀区" in body or "浦东新区" in body or grid_rows(browser, grid)
    else:
        assert ("平均综合指数" if lang == "zh" else "Mean index") in body
    browser.save_screenshot(str(artifacts / f"{path.strip('/')}_{lang}.png"))
    assert not severe_logs(browser)
