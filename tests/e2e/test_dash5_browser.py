"""Round 5 of the official's read at 1366×768 and 1920×1080, 简体中文 and English: no grid on any page scrolls
sideways on a 1366 px laptop (the memberships, quality checks, file notes, alerts, English target and overview
province grids did), and no small chart's title runs past its figure (the profile's "…per million pe")."""

from __future__ import annotations

import pytest

from e2e.test_dashboard_browser import full_page_screenshot, wait_drawn, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Every grid of the page, once the page has settled: [id, scroll width, client width] of its centre viewport.
GRIDS_JS = """
if (document.querySelector('[data-dash-is-loading="true"]')) return null;
const out = [];
for (const root of document.querySelectorAll('.ag-root-wrapper')) {
  const v = root.querySelector('.ag-center-cols-viewport');
  const host = root.closest('.ipc-grid') || root.closest('[id]');
  if (v && host && host.offsetParent !== null) out.push([host.id, v.scrollWidth, v.clientWidth]);
}
return out;
"""
# Grids of many figures per row whose identity columns are pinned on the left: the rankings (composite, pillars,
# intervals) and a landing file's preview (every column of the file) scroll sideways by design.
WIDE_BY_DESIGN = {"rk-grid", "dl-preview"}
PAGES = [
    "/",
    "/compare",
    "/profile?unit=440300",
    "/flag",
    "/watchlist",
    "/alerts",
    "/targets",
    "/quality",
    "/downloads",
    "/programmes",
    "/provinces",
    "/simulator",
]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_grid_scrolls_sideways_at_1366(browser, dash_server, artifacts, lang):
    browser.set_window_size(1366, 768)
    try:
        wide = []
        for path in PAGES:
            sep = "&" if "?" in path else "?"
            browser.get(f"{dash_server.url}{path}{sep}lang={lang}")
            # grids fill in after the page: wait until every grid on it has its columns laid out
            seen = wait_drawn(
                browser,
                lambda: (g := browser.execute_script(GRIDS_JS)) and all(c > 0 for _, _, c in g) and g,
                ".ag-root-wrapper",
            )
            wait_for(
                lambda: all(
                    s <= c + 1 for i, s, c in browser.execute_script(GRIDS_JS) or [] if i not in WIDE_BY_DESIGN
                ),
                timeout=4,
            )
            for grid_id, scroll, client in browser.execute_script(GRIDS_JS) or seen or []:
                if grid_id not in WIDE_BY_DESIGN and scroll > client + 1:
                    wide.append((path, grid_id, scroll, client))
                    full_page_screenshot(
                        browser, artifacts / f"dash5_{path.strip('/').split('?')[0] or 'overview'}_{lang}_1366.png"
                    )
                    browser.set_window_size(1366, 768)
        assert not wide, wide
    finally:
        browser.set_window_size(1600, 1100)


# Each annotation (a small panel's title) of a figure against the figure's own box: [text, left overflow, right].
TITLES_JS = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!gd || !gd.data || !gd.data.length) return null;
const box = gd.querySelector('svg.main-svg').getBoundingClientRect();
return Array.from(gd.querySelectorAll('.annotation-text')).map(a => {
  const r = a.getBoundingClientRect();
  return [a.textContent, Math.round(box.left - r.left), Math.round(r.right - box.right)];
});
"""


@pytest.mark.parametrize("width,height", [(1366, 768), (1920, 1080)])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_small_chart_titles_stay_inside_their_figure(browser, dash_server, lang, width, height):
    browser.set_window_size(width, height)
    try:
        browser.get(f"{dash_server.url}/profile?unit=440300&lang={lang}")
        titles = wait_for(lambda: browser.execute_script(TITLES_JS, "pf-indicators"))
        assert titles, "the profile's small charts did not draw"
        cut = [t for t in titles if t[1] > 1 or t[2] > 1]
        assert not cut, cut
    finally:
        browser.set_window_size(1600, 1100)
