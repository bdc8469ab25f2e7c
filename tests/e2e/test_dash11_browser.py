"""Round 11, in headless Chromium (简体中文 and English): what only a browser shows. On a 390 px phone the overview
map fits the screen (it was drawn 640 px wide and scrolled sideways, the east coast and the title's year off
screen), its title and subtitle whole, and its legend under the map, clear of the data note; the profile's stage
history names every mark it draws. Screenshots go to tests/artifacts (dash11_*)."""

from __future__ import annotations

import pytest

from dashboards.figures import DATA_NOTE_NAME

from .test_dashboard_browser import PAGES, page_ready, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The map's drawing against its card and the screen; its title, subtitle, legend and data note boxes (page px).
MAP_BOXES_JS = """
const gd = document.querySelector('#ov-map .js-plotly-plot');
if (!gd || !gd._fullLayout || !gd.querySelector('path.choroplethlocation')) return null;
const box = e => { if (!e) return null; const r = e.getBoundingClientRect();
  return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
const i = (gd._fullLayout.annotations || []).findIndex(a => a.name === arguments[0]);
const card = gd.closest('.ipc-graph');
return {
  screen: window.innerWidth,
  page_scroll: document.documentElement.scrollWidth,
  card: box(card), card_scroll: card.scrollWidth, card_client: card.clientWidth,
  svg: box(gd.querySelector('svg.main-svg')),
  geo: box(gd.querySelector('.geo .bg') || gd.querySelector('.geolayer')),
  title: box(gd.querySelector('.gtitle')), subtitle: box(gd.querySelector('.gtitle-subtitle')),
  legend: box(gd.querySelector('.legend .bg')),
  note: i < 0 ? null : box(gd.querySelector('.annotation[data-index="' + i + '"] .bg')),
};
"""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_map_fits_a_phone_with_its_title_legend_and_note_whole(browser, dash_server, artifacts, lang):
    browser.set_window_size(390, 844)
    try:
        browser.get(f"{dash_server.url}/?lang={lang}")
        assert wait_for(lambda: page_ready(browser, PAGES["/"]))
        got = wait_for(lambda: browser.execute_script(MAP_BOXES_JS, DATA_NOTE_NAME))
        browser.execute_script("document.getElementById('ov-map').scrollIntoView()")
        browser.save_screenshot(str(artifacts / f"dash11_phone_map_{lang}.png"))
    finally:
        browser.set_window_size(1600, 1100)
    assert got, "the map was not drawn"
    # the map is no wider than its card and the card does not scroll sideways (it was 640 px in a 340 px card)
    assert got["card_scroll"] <= got["card_client"] + 1, got
    assert got["svg"]["right"] <= got["card"]["right"] + 1 and got["svg"]["right"] <= got["screen"], got
    for part in ("title", "subtitle"):
        assert got[part], (part, got)
        assert got[part]["right"] <= got["svg"]["right"] + 1, (part, got)
    # the legend under the map's note, neither over the other
    assert got["legend"] and got["note"], got
    assert got["legend"]["top"] >= got["note"]["bottom"] - 1, got
    assert got["legend"]["bottom"] <= got["svg"]["bottom"] + 1, got
