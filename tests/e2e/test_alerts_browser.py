"""The Alerts page in headless Chromium over the real sample run: firing alerts listed from the alert store
beside the snapshot, and an acknowledgement made in the browser lands in the store."""

from __future__ import annotations

import sqlite3

import pytest

from .test_dashboard_browser import ERRORS_JS, GRID_DATA_JS, GRID_ROWS_JS, full_page_screenshot, severe_logs, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_alerts_page_lists_firing_alerts_and_acknowledges(browser, dash_server, artifacts, e2e_snapshot, lang):
    store = e2e_snapshot.parent.parent / "alerts" / "alerts.sqlite"
    if not store.exists():
        pytest.skip(f"no alert store beside the snapshot ({store})")
    with sqlite3.connect(store) as con:
        firing = con.execute("select count(*) from alerts where state = 'firing'").fetchone()[0]
    browser.get_log("browser")
    browser.get(f"{dash_server.url}/alerts?lang={lang}")
    assert wait_for(lambda: browser.execute_script(GRID_ROWS_JS, "al-grid") > 0), "no alert rows"
    full_page_screenshot(browser, artifacts / f"alerts_{lang}.png")
    rows = wait_for(lambda: browser.execute_script(GRID_DATA_JS, "al-grid"))
    assert len(rows) == firing
    body = browser.find_element("tag name", "body").text
    assert ("确认所选预警" if lang == "zh" else "Acknowledge selected") in body
    assert browser.find_element("id", "al-card-firing").text.startswith(str(firing))

    # tick the first row's checkbox and acknowledge it
    browser.find_element("css selector", "#al-grid .ag-center-cols-container .ag-row .ag-checkbox-input").click()
    browser.find_element("id", "al-ack").click()
    done = "已确认1条预警" if lang == "zh" else "Acknowledged 1 alert"
    assert wait_for(lambda: done in browser.find_element("id", "al-feedback").text)
    with sqlite3.connect(store) as con:
        acked = con.execute("select count(*) from alerts where acked_at is not null").fetchone()[0]
    assert acked >= 1
    assert not browser.execute_script(ERRORS_JS)
    assert not severe_logs(browser)
