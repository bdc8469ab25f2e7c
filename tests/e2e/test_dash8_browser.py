"""Round 8, in headless Chromium: the PNG a person saves with a chart's camera button (Plotly's mode bar) says its
data are synthetic, in the image itself; the compare heatmap's colour bar says its range, the same for any cities
picked; a provincial office's flagged cards name the province once. The PNGs and screenshots go to tests/artifacts
(dash8_*) for a person to look at."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest
from dashboard_fixtures import year_and_units

from dashboards.figures import DATA_NOTE_NAME, HEAT_SCALE_NAME
from dashboards.i18n import t
from pipelines.data_nature import DataNature

from .test_dashboard_browser import PAGES, page_ready, sql, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTE = DataNature().row_value()

# the note as the chart drew it (an SVG text of the annotation layer), and the camera button of the chart's mode bar
DRAWN_NOTES_JS = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!gd || !gd._fullLayout) return null;
return (gd._fullLayout.annotations || []).filter(a => a.name === arguments[1]).map(a => a.text);
"""
CAMERA_JS = """
const root = document.getElementById(arguments[0]);
const gd = root && root.querySelector('.js-plotly-plot');
if (!gd) return false;
gd.dispatchEvent(new MouseEvent('mousemove', {bubbles: true}));
const btn = Array.from(root.querySelectorAll('.modebar-btn')).find(b => /png/i.test(b.getAttribute('data-title') || ''));
if (!btn) return false;
btn.dispatchEvent(new MouseEvent('click', {bubbles: true}));
return true;
"""
# the heatmap's range, its note of the range, and the drawn colour bar's length in px
HEATMAP_JS = """
const gd = document.querySelector('#cmp-heatmap .js-plotly-plot');
if (!gd || !gd.data || !gd.data.length || !gd._fullLayout) return null;
const note = (gd._fullLayout.annotations || []).find(a => a.name === arguments[0]);
const fills = gd.querySelector('.colorbar .cbfills');
return [gd.data[0].zmin, gd.data[0].zmax, note ? note.text.replace(/<br>/g, ' ') : null,
        fills ? fills.getBoundingClientRect().height : 0];
"""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_png_a_chart_saves_says_synthetic(browser, dash_server, e2e_snapshot, artifacts, lang):
    """nat_zh_1366_compare: the camera's PNG of the radar had no word of synthetic data; every other export has."""
    year, codes = year_and_units(e2e_snapshot)
    downloads = Path(tempfile.mkdtemp(prefix="ipcity-png-"))
    browser.set_window_size(1366, 768)
    try:
        browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        browser.get(f"{dash_server.url}/compare?lang={lang}&year={year}&units={codes[0]},{codes[-1]}")
        assert wait_for(lambda: page_ready(browser, PAGES["/compare"]))
        for graph in ("cmp-radar", "cmp-heatmap"):
            assert wait_for(lambda g=graph: browser.execute_script(DRAWN_NOTES_JS, g, DATA_NOTE_NAME)) == [NOTE]
        assert wait_for(lambda: browser.execute_script(CAMERA_JS, "cmp-radar")), "no camera button"
        png = wait_for(lambda: [p for p in downloads.glob("*.png") if p.stat().st_size > 0], timeout=60)
        assert png, "no PNG was saved"
        time.sleep(0.5)  # the file is complete when Chromium renames it; a last write may follow
        saved = artifacts / f"dash8_{lang}_radar_download.png"
        shutil.copy(png[0], saved)
        assert saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        shutil.rmtree(downloads, ignore_errors=True)
        browser.set_window_size(1600, 1100)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_heatmap_keeps_one_scale_and_says_it(browser, dash_server, e2e_snapshot, artifacts, lang):
    year, codes = year_and_units(e2e_snapshot)
    seen = set()
    browser.set_window_size(1366, 768)
    try:
        for pick in (codes[:2], codes[-2:]):
            browser.get(f"{dash_server.url}/compare?lang={lang}&year={year}&units={','.join(pick)}")
            assert wait_for(lambda: page_ready(browser, PAGES["/compare"]))
            *scale, bar_px = wait_for(lambda: browser.execute_script(HEATMAP_JS, HEAT_SCALE_NAME))
            # en_1366_compare: with the range in the bar's title, two or three rows of English left a sliver of bar
            assert bar_px >= 80, (pick, bar_px)
            seen.add(tuple(scale))
        assert len(seen) == 1, seen
        zmin, zmax, note = seen.pop()
        assert zmin == -zmax and f"±{zmax:.0f}" in note and str(year) in note
        browser.execute_script("document.getElementById('cmp-heatmap').scrollIntoView()")
        time.sleep(0.5)
        browser.save_screenshot(str(artifacts / f"dash8_{lang}_compare_heatmap.png"))
    finally:
        browser.set_window_size(1600, 1100)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_provincial_card_names_the_province_once(province_browser, dash_server, e2e_snapshot, artifacts, lang):
    year, _ = year_and_units(e2e_snapshot)
    province_browser.set_window_size(1366, 768)
    try:
        province_browser.get(f"{dash_server.url}/?lang={lang}&year={year}")
        assert wait_for(lambda: page_ready(province_browser, PAGES["/"]))
        text = wait_for(lambda: province_browser.find_element("id", "ov-card-watch").text)
        province = "广东省" if lang == "zh" else "Guangdong"
        assert text.count(province) == 1 and t("ov_on_watch", lang) in text, text
        assert t("ov_on_watch_own", lang) not in text, text
        province_browser.save_screenshot(str(artifacts / f"dash8_province_{lang}_overview.png"))
    finally:
        province_browser.set_window_size(1600, 1100)


# each chart's title against its own drawing: the part past the SVG's right edge is cut
TITLES_JS = """
return Array.from(document.querySelectorAll('.ipc-graph .js-plotly-plot')).map(gd => {
  const svg = gd.querySelector('.main-svg'), title = gd.querySelector('.gtitle');
  if (!svg || !title || !title.textContent) return null;
  return {id: gd.parentElement.id, title: title.textContent,
          over: title.getBoundingClientRect().right - svg.getBoundingClientRect().right};
}).filter(x => x);
"""


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("path", ["/", "/compare"])
def test_a_phone_shows_each_charts_whole_title(browser, dash_server, e2e_snapshot, artifacts, path, lang):
    """nat_zh_390_overview: on a 390 px phone the map's title read "城市分布（按绩效分组着色，点击城", its year cut,
    and 退出登录 / Sign out lay past the screen's right edge (the page scrolled sideways to 471 px)."""
    year, _ = year_and_units(e2e_snapshot)
    browser.set_window_size(390, 844)
    try:
        browser.get(f"{dash_server.url}{path}?lang={lang}&year={year}")
        assert wait_for(lambda: page_ready(browser, PAGES[path]))
        titles = wait_for(
            lambda: (x := browser.execute_script(TITLES_JS)) and len(x) >= len(PAGES[path]["graphs"]) and x
        )
        assert titles, "no chart titles"
        cut = [x for x in titles if x["over"] > 1]
        browser.save_screenshot(str(artifacts / f"dash8_phone_{lang}_{path.strip('/') or 'overview'}.png"))
        assert not cut, cut
        # the chart scrolls sideways, the page does not; the sign-out button is on the screen (it was at 471 px)
        page = browser.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth,"
            " document.getElementById('ipc-logout').getBoundingClientRect().right]"
        )
        assert page[0] <= page[1] and page[2] <= page[1], page
    finally:
        browser.set_window_size(1600, 1100)


TICKS_JS = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!gd) return null;
const t = Array.from(gd.querySelectorAll('.' + arguments[1] + 'tick text')).map(e => e.textContent);
return t.length ? t : null;
"""


def test_axes_read_full_numbers_and_plain_years(browser, dash_server, e2e_snapshot):
    """nat_zh_1366_quality: the rows-loaded axis read "200k 400k"; forcing separators for it made the profile's
    year axis read "2,016 2,017". Counts read 200,000 and years 2016."""
    code = sql(e2e_snapshot, "select unit_code from marts.fct_city_score_year where is_ranked order by rank limit 1")
    browser.set_window_size(1366, 768)
    try:
        browser.get(f"{dash_server.url}/quality?lang=zh")
        assert wait_for(lambda: page_ready(browser, PAGES["/quality"]))
        counts = wait_for(lambda: browser.execute_script(TICKS_JS, "dq-rej-fig", "x"))
        assert counts and not any(x[-1:] in "kMGB" and x != "0" for x in counts), counts
        browser.get(f"{dash_server.url}/profile?lang=zh&unit={code[0][0]}")
        assert wait_for(lambda: page_ready(browser, PAGES["/profile"]))
        years = wait_for(lambda: browser.execute_script(TICKS_JS, "pf-stage-fig", "x"))
        assert years and all(y.isdigit() and len(y) == 4 for y in years), years
    finally:
        browser.set_window_size(1600, 1100)
