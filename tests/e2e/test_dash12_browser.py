"""Round 12, in headless Chromium (简体中文 and English): what only a browser shows. On a 390 px phone the overview
map is as tall as China drawn that wide (at a fixed 640 px it had white bands above and below); at 1366 px the
watchlist's robustness cells are one line (the sentence wrapped to five). Screenshots go to tests/artifacts
(dash12_*)."""

from __future__ import annotations

import pytest

from dashboards.figures import DATA_NOTE_NAME

from .test_dash11_browser import MAP_BOXES_JS
from .test_dashboard_browser import PAGES, page_ready, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The empty band the map may leave above China (under the subtitle) and below it (above the legend), in px: the map's
# frame is fitted to its area, so a taller area than China needs is white above and below (it was ~120 px each).
MAP_BAND_PX = 40


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_phone_map_has_no_empty_bands_above_and_below_china(browser, dash_server, artifacts, lang):
    browser.set_window_size(390, 844)
    try:
        browser.get(f"{dash_server.url}/?lang={lang}")
        assert wait_for(lambda: page_ready(browser, PAGES["/"]))
        got = wait_for(lambda: browser.execute_script(MAP_BOXES_JS, DATA_NOTE_NAME))
        # China's drawn outline (the provinces' layer), not the geo frame: the frame fills the area, China may not
        china = browser.execute_script(
            "const ps = [...document.querySelectorAll('#ov-map path.choroplethlocation')];"
            "const rs = ps.map(p => p.getBoundingClientRect()).filter(r => r.height > 0);"
            "return rs.length ? {top: Math.min(...rs.map(r => r.top)), bottom: Math.max(...rs.map(r => r.bottom))}"
            " : null;"
        )
        browser.execute_script("document.getElementById('ov-map').scrollIntoView()")
        browser.save_screenshot(str(artifacts / f"dash12_phone_map_{lang}.png"))
    finally:
        browser.set_window_size(1600, 1100)
    assert got and china, (got, china)
    assert china["top"] - got["subtitle"]["bottom"] <= MAP_BAND_PX, (china, got)
    # below China: the data note (synthetic data), then the legend
    under = min(got["legend"]["top"], got["note"]["top"] if got["note"] else got["legend"]["top"])
    assert under - china["bottom"] <= MAP_BAND_PX, (china, got)
    # still whole: the map no wider than its card, the legend inside the drawing
    assert got["card_scroll"] <= got["card_client"] + 1, got
    assert got["legend"]["bottom"] <= got["svg"]["bottom"] + 1, got


def test_the_desktop_map_keeps_its_height(browser, dash_server):
    browser.set_window_size(1366, 768)
    try:
        browser.get(f"{dash_server.url}/?lang=zh")
        assert wait_for(lambda: page_ready(browser, PAGES["/"]))
        got = wait_for(lambda: browser.execute_script(MAP_BOXES_JS, DATA_NOTE_NAME))
    finally:
        browser.set_window_size(1600, 1100)
    assert got and abs((got["svg"]["bottom"] - got["svg"]["top"]) - 640) <= 2, got


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
