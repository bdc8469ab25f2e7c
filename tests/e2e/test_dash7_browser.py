"""What an official sees, round 7, in headless Chromium at 1366×768 (and 1920×1080 for the radar), 简体中文 and English,
national account and a provincial office (广东, 44): each overview card says whose figure it is and of which year;
the compare page's radar keeps its pillar names inside the chart and clear of its title; the index map's colour
bar says its scale is the same every year, and it is; no Chinese of the catalog stands in the English provenance
panel. Screenshots go to tests/artifacts (dash7_*)."""

from __future__ import annotations

import re
import time

import pytest

from dashboards.i18n import t

from .test_dashboard_browser import PAGES, page_ready, sql, wait_drawn, wait_for
from .test_provenance_browser import wait_for as wait_for_element  # tolerates an element being re-rendered

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]+")

CARDS_JS = """
return Array.from(document.querySelectorAll('#ov-cards .ipc-card')).map(c => ({
  id: c.id,
  title: (c.querySelector('.ipc-card-title') || {}).innerText,
  note: (c.querySelector('.ipc-card-note') || {}).innerText,
}));
"""

# The radar's pillar names (Plotly's angular tick labels) and its title, as boxes on the page, and the graph's box.
RADAR_BOXES_JS = """
const root = document.querySelector('#cmp-radar');
const svg = root && root.querySelector('.main-svg');
if (!svg) return null;
const labels = Array.from(root.querySelectorAll('.angularaxistick text')).map(e => {
  const r = e.getBoundingClientRect(); return {text: e.textContent, l: r.left, r: r.right, t: r.top, b: r.bottom};
});
const ti = root.querySelector('.gtitle');
const tr = ti ? ti.getBoundingClientRect() : null;
const g = svg.getBoundingClientRect();
return {labels: labels, title: tr && {l: tr.left, r: tr.right, t: tr.top, b: tr.bottom},
        graph: {l: g.left, r: g.right, t: g.top, b: g.bottom}};
"""

MAP_SCALE_JS = """
const gd = document.querySelector('#ov-map .js-plotly-plot');
if (!gd || !gd.data) return null;
const tr = gd.data.find(d => d.type === 'choropleth' && d.showscale);
return tr ? [tr.zmin, tr.zmax, tr.colorbar.title.text] : null;
"""


# the displayed row of an indicator in a grid (latest year first), scrolled into view: its row index
ROW_INDEX_JS = """
const api = window.dash_ag_grid && window.dash_ag_grid.getApi(arguments[0]);
if (!api) return null;
for (let i = 0; i < api.getDisplayedRowCount(); i++) {
  const n = api.getDisplayedRowAtIndex(i);
  if (n && n.data && n.data.indicator_code === arguments[1]) { api.ensureIndexVisible(i); return i; }
}
return null;
"""


def _year(snapshot) -> int:
    return sql(snapshot, "select max(year) from marts.fct_city_score_year where is_ranked")[0][0]


@pytest.mark.parametrize("account", ["national", "province"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_overview_card_says_whose_figure_it_is(
    browser, province_browser, dash_server, e2e_snapshot, artifacts, account, lang
):
    """gd_1366_zh_overview: beside "0 本省退出候选城市" a provincial office read "65 示范/试点城市数" and took it for
    its own province. Every card now carries 全国 / Nationwide or the province's name, and the year."""
    driver = browser if account == "national" else province_browser
    year = _year(e2e_snapshot)
    driver.set_window_size(1366, 768)
    try:
        driver.get(f"{dash_server.url}/?lang={lang}&year={year}")
        assert wait_for(lambda: page_ready(driver, PAGES["/"]))
        cards = wait_for(lambda: driver.execute_script(CARDS_JS))
        assert len(cards) == 6, cards
        national = t("card_scope_national", lang).format(year=year)
        province = "广东省" if lang == "zh" else "Guangdong"
        for c in cards:
            flagged = c["id"] in ("ov-card-watch", "ov-card-exit")
            want = (
                t("card_scope_province", lang).format(province=province, year=year)
                if flagged and account == "province"
                else national
            )
            assert c["note"] == want, c
        driver.save_screenshot(str(artifacts / f"dash7_{account}_{lang}_overview_cards.png"))
    finally:
        driver.set_window_size(1600, 1100)


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_compare_radar_names_every_pillar_inside_the_chart(browser, dash_server, e2e_snapshot, artifacts, lang, size):
    """At 1366 px the English radar read "nvironment" at its left edge and "Management" touched the title."""
    browser.set_window_size(*size)
    try:
        browser.get(f"{dash_server.url}/compare?lang={lang}&year={_year(e2e_snapshot)}")
        assert wait_for(lambda: page_ready(browser, PAGES["/compare"]))
        boxes = wait_for(lambda: (b := browser.execute_script(RADAR_BOXES_JS)) and len(b["labels"]) >= 5 and b)
        assert boxes, "the radar has no pillar names"
        g, title = boxes["graph"], boxes["title"]
        for lab in boxes["labels"]:
            assert g["l"] <= lab["l"] and lab["r"] <= g["r"], (lab, g)  # not cut at either side
            assert g["t"] <= lab["t"] and lab["b"] <= g["b"], (lab, g)
            assert title is None or lab["t"] >= title["b"] or lab["l"] >= title["r"], (lab, title)  # clear of title
        browser.save_screenshot(str(artifacts / f"dash7_compare_{lang}_{size[0]}.png"))
    finally:
        browser.set_window_size(1600, 1100)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_index_map_colour_scale_is_one_for_every_year_and_says_so(browser, dash_server, e2e_snapshot, lang):
    years = [y for (y,) in sql(e2e_snapshot, "select distinct year from marts.fct_city_score_year where is_ranked")]
    assert len(years) > 1
    seen = set()
    for year in (min(years), max(years)):
        browser.get(f"{dash_server.url}/?lang={lang}&year={year}&map=index")
        # (the first year has no movers chart: the page's readiness is the map's own)
        scale = wait_for(lambda: browser.execute_script(MAP_SCALE_JS))
        assert scale and scale[0] is not None and scale[1] is not None, scale
        lo, hi, title = scale
        assert t("map_scale_all_years", lang).format(range=f"{lo:.0f}–{hi:.0f}") in title, title
        seen.add((lo, hi))
    assert len(seen) == 1, seen


def test_english_provenance_panel_has_no_chinese(browser, dash_server, e2e_snapshot, artifacts):
    """The panel showed "(比率)" after a share's formula in the English UI. A ratio indicator's panel, opened by a
    click as a person would, now reads in English throughout."""
    (unit, code) = sql(
        e2e_snapshot,
        "select v.unit_code, v.indicator_code from marts.fct_city_indicator_year v join marts.dim_indicator i "
        "on v.catalog_version = i.catalog_version and v.indicator_code = i.indicator_code "
        "join marts.dim_city d on d.unit_code = v.unit_code "
        "where i.unit = '比率' and d.is_programme and v.value is not null "
        "order by v.year desc, v.unit_code, v.indicator_code limit 1",
    )[0]
    browser.set_window_size(1366, 768)
    try:
        browser.get(f"{dash_server.url}/profile?lang=en&unit={unit}")
        assert wait_for(lambda: page_ready(browser, PAGES["/profile"]))
        index = wait_for(lambda: browser.execute_script(ROW_INDEX_JS, "pf-value-grid", code))
        assert index is not None, f"no row for {code} in the profile's value grid"
        cell = wait_for_element(
            lambda: browser.find_element(
                "css selector",
                f"#pf-value-grid .ag-center-cols-container .ag-row[row-index='{index}'] [col-id='value']",
            )
        )
        cell.click()
        formula = wait_for_element(lambda: browser.find_element("id", "pf-prov-formula").text)
        assert code in formula, formula
        panel = browser.find_element("css selector", ".ipc-provenance").text
        assert not CJK.findall(panel), CJK.findall(panel)
        browser.save_screenshot(str(artifacts / "dash7_provenance_en.png"))
    finally:
        browser.set_window_size(1600, 1100)


# Every text of every chart on the page (titles, axis titles, tick labels, legend, annotations) that falls outside
# its chart's drawing: a label cut at the chart's edge.
CLIPPED_TEXT_JS = """
const out = [];
for (const gd of document.querySelectorAll('.js-plotly-plot')) {
  const svg = gd.querySelector('.main-svg');
  if (!svg) continue;
  const g = svg.getBoundingClientRect();
  if (g.width === 0) continue;
  for (const el of gd.querySelectorAll('svg text')) {
    const r = el.getBoundingClientRect();
    if (!el.textContent.trim() || r.width === 0) continue;
    if (r.left < g.left - 1 || r.right > g.right + 1 || r.top < g.top - 1 || r.bottom > g.bottom + 1) {
      out.push({graph: (gd.closest('[id]') || {}).id, text: el.textContent.slice(0, 60),
                l: Math.round(r.left - g.left), r: Math.round(g.right - r.right),
                t: Math.round(r.top - g.top), b: Math.round(g.bottom - r.bottom)});
    }
  }
}
return out;
"""

GRAPHS_DRAWN_JS = (
    "return document.querySelector('[data-dash-is-loading=\"true\"]') === null && "
    "document.querySelectorAll('.js-plotly-plot .main-svg').length > 0"
)
CHART_PAGES = ["/", "/compare", "/profile", "/provinces", "/targets", "/quality", "/programmes", "/simulator"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_chart_text_is_cut_at_the_charts_edge_at_1366(browser, dash_server, artifacts, lang):
    """The compare radar's "Environment" read "nvironment" at 1366 px: no text of any chart on the chart pages
    (titles, axis titles, ticks, legends, annotations) lies outside its chart."""
    browser.set_window_size(1366, 768)
    found = {}
    try:
        for path in CHART_PAGES:
            browser.get(f"{dash_server.url}{path}?lang={lang}")
            wait_drawn(browser, lambda: browser.execute_script(GRAPHS_DRAWN_JS), ".js-plotly-plot")
            time.sleep(1.5)  # Plotly's automargin redraws once after the first paint
            clipped = browser.execute_script(CLIPPED_TEXT_JS)
            if clipped:
                found[path] = clipped
    finally:
        browser.set_window_size(1600, 1100)
    assert not found, found


# The focused element's ring as a keyboard user sees it: its outline (style, width, colour) and, of the ring's
# colour against the background behind the element, the contrast ratio (WCAG's relative luminance).
FOCUS_JS = r"""
function rgb(c) {  // "rgb(11, 60, 93)", "rgba(…)" or "color(srgb 0.98 0.98 0.98 / 0.5)" (0–1 channels)
  const m = (c.match(/[\d.]+/g) || []).map(Number); if (m.length < 3) return null;
  return c.startsWith('color(') ? [m[0] * 255, m[1] * 255, m[2] * 255, m.length > 3 ? m[3] : 1] : m; }
function lum(m) { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(m[0]) + 0.7152 * f(m[1]) + 0.0722 * f(m[2]); }
function bg(el) { for (el = el.parentElement; el; el = el.parentElement) {
  const c = getComputedStyle(el).backgroundColor; const m = rgb(c);
  if (m && (m.length < 4 || m[3] > 0.5)) return m; } return [255, 255, 255]; }
const e = document.activeElement;
if (!e || e === document.body) return null;
const s = getComputedStyle(e); const o = rgb(s.outlineColor) || [0, 0, 0]; const b = bg(e);
const l1 = lum(o), l2 = lum(b);
return {tag: e.tagName, cls: String(e.className).slice(0, 60), text: (e.innerText || e.value || '').slice(0, 30),
        colours: [s.outlineColor, String(b)],
        style: s.outlineStyle, width: parseFloat(s.outlineWidth),
        contrast: (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05)};
"""


@pytest.mark.parametrize("path", ["/", "/rankings"])
def test_keyboard_focus_is_visible_on_every_control(browser, dash_server, path):
    """Tabbing through the header, the controls and a grid: each focused element shows a ring at least 2 px wide
    whose colour stands out from what is behind it by 3:1 (WCAG 1.4.11); AG Grid's light-blue shadow was 1.7:1."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    browser.set_window_size(1366, 768)
    try:
        browser.get(f"{dash_server.url}{path}?lang=en")
        assert wait_for(lambda: page_ready(browser, PAGES[path]))
        seen, weak = 0, []
        for _ in range(40):
            ActionChains(browser).send_keys(Keys.TAB).perform()
            f = browser.execute_script(FOCUS_JS)
            if f is None or "dash-debug-menu" in f["cls"]:  # Dash's dev tools: the test server runs in debug mode
                continue
            seen += 1
            if f["style"] == "none" or f["width"] < 2 or f["contrast"] < 3:
                weak.append(f)
        assert seen >= 20 and not weak, [
            (w["cls"][:30], w["colours"], w["width"], round(w["contrast"], 1)) for w in weak[:6]
        ]
    finally:
        browser.set_window_size(1600, 1100)


HOLD_OVERVIEW_JS = """
const realFetch = window.fetch;
window.fetch = function (url, opts) {
  if (opts && typeof opts.body === 'string' && opts.body.includes('ov-cards')) { return new Promise(() => {}); }
  return realFetch.apply(this, arguments);
};
"""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_before_the_data_arrive_nothing_reads_as_empty_or_broken(browser, dash_server, lang):
    """overview at 1920 on a busy server: before the callbacks answered, the province grid said "无数据" and each
    chart drew empty axes from −1 to 6, as if the year had no data or the chart were broken. With the callbacks
    held back, the grids show the loading overlay and the charts no axes."""
    # the overview's data callback never answers (the page's own layout still comes): a script run before the
    # page's own holds back every request for the cards, map and grid
    hold = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HOLD_OVERVIEW_JS})
    try:
        browser.get(f"{dash_server.url}/?lang={lang}")
        assert wait_for(lambda: browser.execute_script("return document.querySelectorAll('.ag-overlay').length"))
        overlay = wait_for(
            lambda: browser.execute_script(
                "const o = document.querySelector('#ov-provinces .ag-overlay'); return o && o.innerText.trim();"
            )
        )
        assert overlay == ("加载中…" if lang == "zh" else "Loading..."), overlay
        axes = browser.execute_script(
            "return document.querySelectorAll('.js-plotly-plot .xtick, .js-plotly-plot .ytick').length"
        )
        assert axes == 0, axes
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": hold["identifier"]})
