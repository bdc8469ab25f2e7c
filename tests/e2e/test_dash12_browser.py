"""Round 12, in headless Chromium (简体中文 and English): what only a browser shows. The overview map keeps China
at least 500 px tall on the desktop (drawn at its card's height); at 1366 px the watchlist's robustness cells are one
line (the sentence wrapped to five). Screenshots go to tests/artifacts (dash12_*)."""

from __future__ import annotations

import pytest

from dashboards.figures import DATA_NOTE_NAME

from .test_dash11_browser import MAP_BOXES_JS
from .test_dashboard_browser import PAGES, page_ready, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_desktop_map_keeps_its_height(browser, dash_server):
    browser.set_window_size(1366, 768)
    try:
        browser.get(f"{dash_server.url}/?lang=zh")
        assert wait_for(lambda: page_ready(browser, PAGES["/"]))
        got = wait_for(lambda: browser.execute_script(MAP_BOXES_JS, DATA_NOTE_NAME))
    finally:
        browser.set_window_size(1600, 1100)
    # China at least 500 px tall as before, now under a line of its own for the data note (tests/e2e/test_dash13_browser.py)
    assert got and abs((got["svg"]["bottom"] - got["svg"]["top"]) - 676) <= 2, got
    assert got["geo"] and got["geo"]["bottom"] - got["geo"]["top"] >= 498, got


ROBUST_CELLS_JS = """
return [...document.querySelectorAll('#wl-grid .ag-center-cols-container [col-id="robust_term"]')]
  .map(c => c.innerText);
"""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_watchlist_robustness_cells_are_one_line_at_1366(browser, dash_server, artifacts, lang):
    browser.set_window_size(1366, 768)
    try:
        browser.get(f"{dash_server.url}/watchlist?lang={lang}")
        assert wait_for(lambda: page_ready(browser, PAGES["/watchlist"]))
        cells = wait_for(lambda: browser.execute_script(ROBUST_CELLS_JS))
        line = browser.execute_script(
            "const c = document.querySelector('#wl-grid [col-id=\"robust_term\"] .ag-cell-value')"
            " || document.querySelector('#wl-grid .ag-center-cols-container [col-id=\"robust_term\"]');"
            "const s = getComputedStyle(c); return parseFloat(s.lineHeight) || 1.4 * parseFloat(s.fontSize);"
        )
        heights = browser.execute_script(
            "return [...document.querySelectorAll("
            "'#wl-grid .ag-center-cols-container [col-id=\"robust_term\"] .ag-cell-value')]"
            ".map(e => e.getBoundingClientRect().height);"
        )
        browser.save_screenshot(str(artifacts / f"dash12_watchlist_{lang}.png"))
    finally:
        browser.set_window_size(1600, 1100)
    assert cells, "no robustness cell drawn"
    assert all(c.strip() for c in cells), cells
    # one line of text each (a wrapped cell's value is two line-heights or more)
    assert heights and max(heights) < 1.8 * line, (heights, line, cells)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_provinces_page_says_why_the_acceptance_column_is_blank(browser, dash_server, lang):
    """The year roll-up's mean acceptance score column is all "–": a note under the grid says why (the sample's
    year roll-up has no acceptance score, by definition)."""
    from dashboards.i18n import t

    browser.set_window_size(1366, 768)
    try:
        browser.get(f"{dash_server.url}/provinces?lang={lang}")
        note = wait_for(
            lambda: browser.execute_script(
                "const e = document.getElementById('pv-acceptance-note'); return e ? e.innerText : null;"
            )
        )
    finally:
        browser.set_window_size(1600, 1100)
    assert note == t("pv_acceptance_blank_year", lang), note
