"""Round 13, in headless Chromium (简体中文 and English): what only a browser shows. On a 390 px phone the overview map
is fitted to China (white bands above and below it before), its data note above it and its legend under it; the
targets chart's note lies over no bar and no legend entry; the roster's sources are links named by their site, whole
in their cells. Screenshots go to tests/artifacts (dash13_*). The pure half is tests/test_dashboard_round13.py."""

from __future__ import annotations

import re
import time

import pytest

from dashboards.figures import DATA_NOTE_NAME

from .test_dashboard_browser import PAGES, page_ready, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The map's plot area (Plotly's margins), China's drawn box, the legend and the note, relative to the figure's top.
MAP_FIT_JS = """
const gd = document.querySelector('#ov-map .js-plotly-plot');
if (!gd || !gd._fullLayout || !gd.querySelector('path.choroplethlocation')) return null;
const top = gd.getBoundingClientRect().top, s = gd._fullLayout._size;
const box = e => { if (!e) return null; const r = e.getBoundingClientRect();
  return {top: r.top - top, bottom: r.bottom - top, left: r.left, right: r.right}; };
const i = (gd._fullLayout.annotations || []).findIndex(a => a.name === arguments[0]);
return {
  height: gd._fullLayout.height, plot_top: s.t, plot_bottom: gd._fullLayout.height - s.b,
  geo: box(gd.querySelector('.geo .bg')), legend: box(gd.querySelector('.legend .bg')),
  note: i < 0 ? null : box(gd.querySelector('.annotation[data-index="' + i + '"] .bg')),
};
"""


def _meets(a: dict, b: dict) -> bool:
    return (
        a["top"] < b["bottom"] - 1
        and b["top"] < a["bottom"] - 1
        and a["left"] < b["right"] - 1
        and (b["left"] < a["right"] - 1)
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_phone_map_is_fitted_to_china_with_its_note_above_and_legend_below(browser, dash_server, artifacts, lang):
    """At 390 px the map kept its 676 px: China was drawn 303 px tall with ~45 px of white above and below it, and
    the note in its bottom-left corner lay over the legend's second row (领先 / 较强 hidden). Now the map is as tall
    as China at its width, the note has a line above the map and the legend sits under it."""
    browser.set_window_size(390, 844)
    try:
        browser.get(f"{dash_server.url}/?lang={lang}")
        assert wait_for(lambda: page_ready(browser, PAGES["/"]))
        got = wait_for(lambda: browser.execute_script(MAP_FIT_JS, DATA_NOTE_NAME))
        got = browser.execute_script(MAP_FIT_JS, DATA_NOTE_NAME) or got  # after the resize the first draw starts
        browser.execute_script("document.getElementById('ov-map').scrollIntoView()")
        browser.save_screenshot(str(artifacts / f"dash13_phone_map_{lang}.png"))
    finally:
        browser.set_window_size(1600, 1100)
    assert got and got["geo"] and got["legend"] and got["note"], got
    # no white band above or below China (a few px of Plotly's rounding)
    assert got["geo"]["top"] - got["plot_top"] <= 8, got
    assert got["plot_bottom"] - got["geo"]["bottom"] <= 8, got
    # the note above the map, the legend under it, neither over the other or the map
    assert got["note"]["bottom"] <= got["geo"]["top"] + 1, got
    assert got["legend"]["top"] >= got["geo"]["bottom"] - 1, got
    assert got["legend"]["bottom"] <= got["height"] + 1, got
    assert not _meets(got["note"], got["legend"]), got


TARGET_NOTE_JS = """
const gd = document.querySelector('#tg-plan-fig .js-plotly-plot');
if (!gd || !gd._fullLayout || !gd.querySelector('.barlayer path')) return null;
const i = (gd._fullLayout.annotations || []).findIndex(a => a.name === arguments[0]);
if (i < 0) return null;
const box = e => { const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
return {
  note: box(gd.querySelector('.annotation[data-index="' + i + '"] .bg')),
  bars: [...gd.querySelectorAll('.barlayer path')].map(box).filter(b => b.right > b.left),
  entries: [...gd.querySelectorAll('.legend .traces')].map(box),
};
"""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_targets_charts_note_lies_over_no_bar_and_no_legend_entry(browser, dash_server, artifacts, lang):
    browser.set_window_size(1366, 768)
    try:
        browser.get(f"{dash_server.url}/targets?lang={lang}")
        assert wait_for(lambda: page_ready(browser, PAGES["/targets"]))
        got = wait_for(lambda: browser.execute_script(TARGET_NOTE_JS, DATA_NOTE_NAME))
        browser.save_screenshot(str(artifacts / f"dash13_targets_{lang}.png"))
    finally:
        browser.set_window_size(1600, 1100)
    assert got and got["bars"] and got["entries"], got
    assert not [b for b in got["bars"] if _meets(got["note"], b)], got["note"]
    assert not [e for e in got["entries"] if _meets(got["note"], e)], got


SOURCE_CELLS_JS = """
const cells = [...document.querySelectorAll('#pg-memberships .ag-center-cols-container [col-id="source_link"]')];
if (!cells.length) return null;
return cells.map(c => {
  const a = c.querySelector('a');
  const value = c.querySelector('.ag-cell-value') || c;
  return {text: c.innerText, link: a ? a.innerText : null, href: a ? a.getAttribute('href') : null,
          cut: value.scrollWidth > value.clientWidth + 1 || value.scrollHeight > value.clientHeight + 1};
});
"""
COHORT_CELLS_JS = """
return [...document.querySelectorAll('#pg-programmes .ag-center-cols-container [col-id="cohort"]')].map(c => c.innerText);
"""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_rosters_sources_are_links_named_by_their_site_and_cohorts_words(browser, dash_server, artifacts, lang):
    """The source column read "https://zscqj.beijing…", cut; the cohort column read "2015a" and "2015b"."""
    browser.set_window_size(1366, 768)
    try:
        browser.get(f"{dash_server.url}/programmes?lang={lang}")
        assert wait_for(lambda: page_ready(browser, {"graphs": [], "grids": ["pg-programmes", "pg-memberships"]}))
        cells = wait_for(lambda: browser.execute_script(SOURCE_CELLS_JS))
        cohorts = browser.execute_script(COHORT_CELLS_JS)
        browser.save_screenshot(str(artifacts / f"dash13_programmes_{lang}.png"))
    finally:
        browser.set_window_size(1600, 1100)
    assert cells, "no roster"
    linked = [c for c in cells if c["href"]]
    assert linked, cells[:3]
    for c in linked:
        assert c["href"].startswith(("http://", "https://")) and c["link"] in c["href"], c
        assert not c["link"].startswith("http"), c
    assert not [c for c in cells if c["cut"]], [c for c in cells if c["cut"]][:3]
    assert cohorts and not {"2015a", "2015b"} & set(cohorts), cohorts


GRID_ROWS_JS = """
const g = document.getElementById(arguments[0]);
const api = g && window.dash_ag_grid ? dash_ag_grid.getApi(arguments[0]) : null;
if (!api) return null;
return {drawn: g.querySelectorAll('.ag-center-cols-container .ag-row').length, rows: api.getDisplayedRowCount(),
        pager: !!g.querySelector('.ag-paging-panel') && getComputedStyle(g.querySelector('.ag-paging-panel')).display,
        nav: getComputedStyle(document.querySelector('.ipc-nav')).display};
"""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_printed_page_holds_every_row_of_its_grids(browser, dash_server, artifacts, lang):
    """Printed, the ranking held 13 of its 65 cities (AG Grid draws only the rows in its scroll window), under the
    navigation and the sign-out button. In print every row is laid out, the navigation is not printed, and after
    printing the grid is as it was."""
    browser.set_window_size(1366, 768)
    try:
        browser.get(f"{dash_server.url}/rankings?lang={lang}")
        assert wait_for(lambda: page_ready(browser, PAGES["/rankings"]))
        screen = wait_for(lambda: browser.execute_script(GRID_ROWS_JS, "rk-grid"))
        time.sleep(1.5)  # the grid takes its columns and rows from callbacks after it is drawn: a person prints later
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        printed = wait_for(
            lambda: (r := browser.execute_script(GRID_ROWS_JS, "rk-grid")) and r["drawn"] >= r["rows"] and r, timeout=10
        )
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        after = wait_for(
            lambda: (r := browser.execute_script(GRID_ROWS_JS, "rk-grid")) and r["drawn"] < r["rows"] and r, timeout=10
        )
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        browser.set_window_size(1600, 1100)
    assert screen and screen["drawn"] < screen["rows"], screen  # the grid scrolls on screen (the case printed badly)
    assert printed and printed["drawn"] == printed["rows"], printed
    assert printed["nav"] == "none", printed
    assert after and after["nav"] != "none", after


FOCUS_JS = """
const e = document.activeElement; const g = e && e.closest('.ipc-grid');
return {grid: g ? g.id : null, cell: !!(e && e.closest('.ag-cell'))};
"""


def test_a_grid_is_one_tab_stop_not_one_per_cell(browser, dash_server):
    """Tab moved from cell to cell: a keyboard user passed every cell of the targets page's province table (21 rows
    of 8) to reach the city table. Now Tab enters a grid at its header and leaves it (the pager's controls between),
    and the arrow keys move inside it."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    browser.set_window_size(1366, 768)
    try:
        browser.get(f"{dash_server.url}/targets?lang=zh")
        assert wait_for(lambda: page_ready(browser, PAGES["/targets"]))
        # the control before the province table: the plan chart's last tool-bar button
        browser.execute_script("const b = [...document.querySelectorAll('#tg-plan-fig .modebar-btn')].pop(); b.focus()")
        path = []
        for _ in range(20):
            ActionChains(browser).send_keys(Keys.TAB).perform()
            path.append(browser.execute_script(FOCUS_JS))
            if path[-1]["grid"] == "tg-city":
                break
        # inside a grid the arrow keys still move from the header into the rows
        browser.execute_script("document.querySelector('#tg-province .ag-header-cell').focus()")
        ActionChains(browser).send_keys(Keys.ARROW_DOWN).perform()
        into_rows = browser.execute_script(FOCUS_JS)
    finally:
        browser.set_window_size(1600, 1100)
    assert path[-1]["grid"] == "tg-city", path
    assert not [p for p in path if p["cell"]], path
    assert into_rows == {"grid": "tg-province", "cell": True}, into_rows


MODEBAR_JS = """
const gd = document.querySelector(arguments[0] + ' .js-plotly-plot');
if (!gd || !gd.querySelector('.modebar-btn')) return null;
return [...gd.querySelectorAll('.modebar-btn')].map(b => b.getAttribute('data-title') || '');
"""


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("path", "chart"), [("/", "#ov-map"), ("/targets", "#tg-plan-fig")])
def test_no_chart_can_be_sent_to_plotly_cloud_and_its_tools_speak_the_page_language(
    browser, dash_server, path, chart, lang
):
    """Every chart's tool bar had "Share chart..." (plotly.js 3's showSendToCloud, on by default): one click opened
    cloud.plotly.com and posted it the figure with its data. And on the Chinese pages the tools' tips read "Download
    plot as a PNG", "Zoom", "Pan"."""
    browser.set_window_size(1366, 768)
    try:
        browser.get(f"{dash_server.url}{path}?lang={lang}")
        assert wait_for(lambda: page_ready(browser, PAGES[path]))
        titles = wait_for(lambda: browser.execute_script(MODEBAR_JS, chart))
    finally:
        browser.set_window_size(1600, 1100)
    assert titles, "no tool bar"
    assert not [t for t in titles if "share" in t.lower() or "cloud" in t.lower()], titles
    latin = [t for t in titles if re.search(r"[A-Za-z]{3,}", t.replace("PNG", ""))]
    assert (not latin) if lang == "zh" else len(latin) == len(titles), titles
