"""Headless Chromium through every page in both languages against a real sample-run snapshot: no console or
callback errors, figures drawn with data, grid rows present, the right language on screen, the numbers on screen
equal to the marts'; a screenshot of each page under tests/artifacts/."""

from __future__ import annotations

import io
import time

import duckdb
import openpyxl
import pytest

from dashboards import queries
from dashboards.snapshot import Snapshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# page path -> graphs that must hold data, grids that must hold rows, label per language
PAGES = {
    "/": {
        "graphs": ["ov-map", "ov-dist", "ov-movers"],
        "grids": [],
        "zh": ["年度总览", "城市绩效分组", "点击城市查看画像", "示范/试点城市数", "各省汇总"],
        "en": ["Overview", "Performance groups", "Click a city for its profile", "Programme units", "Province summary"],
    },
    "/rankings": {
        "graphs": [],
        "grids": ["rk-grid"],
        "zh": ["排名", "综合指数", "绩效分组"],
        "en": ["Rankings", "Composite index", "Performance group"],
    },
    "/compare": {
        "graphs": ["cmp-radar", "cmp-trend", "cmp-heatmap"],
        "grids": ["cmp-table"],
        "zh": ["城市对比", "分项得分雷达图", "优势"],
        "en": ["City comparison", "Pillar scores", "Strengths"],
    },
    "/profile": {
        "graphs": ["pf-indicators", "pf-stage-fig"],
        "grids": ["pf-target-grid", "pf-stage-grid"],
        "zh": ["城市画像", "目标完成情况", "评价阶段历史"],
        "en": ["City profile", "Target status", "Evaluation stage history"],
    },
    "/watchlist": {
        "graphs": [],
        "grids": ["wl-grid"],
        "zh": ["整改/退出风险名单", "退出候选", "触发规则"],
        "en": ["Watchlist", "Exit candidate", "Rules fired"],
    },
    "/targets": {
        "graphs": ["tg-plan-fig"],
        "grids": ["tg-province", "tg-city", "tg-lagging"],
        "zh": ["目标进展", "进展最滞后的目标", "按省份"],
        "en": ["Target progress", "Most-lagging targets", "By province"],
    },
    "/quality": {
        "graphs": ["dq-rej-fig"],
        "grids": ["dq-sources", "dq-runs", "dq-check-grid"],
        "zh": ["数据质量", "合成示例数据", "校验结果", "隔离行数"],
        "en": ["Data quality", "Synthetic sample", "Check results", "Rows quarantined"],
    },
    "/downloads": {
        "graphs": [],
        "grids": ["dl-preview"],
        "zh": ["数据下载", "全部城市", "指标名称"],
        "en": ["Downloads", "All cities", "指标名称"],
    },  # extract headers stay Chinese by design
}

GRAPH_POINTS_JS = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!gd || !gd.data) return 0;
return gd.data.reduce((n, t) => n + ((t.x || t.r || t.z || []).length), 0);
"""
GRID_ROWS_JS = "return document.querySelectorAll('#' + arguments[0] + ' .ag-center-cols-container .ag-row').length;"
# Every row the grid holds (AG Grid only puts the visible rows in the DOM).
GRID_DATA_JS = """
const api = window.dash_ag_grid && window.dash_ag_grid.getApi(arguments[0]);
if (!api) return null;
const out = [];
api.forEachNode(n => out.push(n.data));
return out;
"""
ERRORS_JS = """
return Array.from(document.querySelectorAll('.dash-fe-error__title, .dash-fe-error-item, .dash-callback-error'))
  .map(e => e.innerText);
"""


def wait_for(predicate, timeout: float = 40, interval: float = 0.25):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    return last


# The page is in (the router has put its content) and no Dash callback is pending, and nothing matches the selector.
SETTLED_WITHOUT_JS = """
const content = document.getElementById('_pages_content');
return document.readyState === 'complete' && content !== null && content.children.length > 0
  && document.querySelector('[data-dash-is-loading="true"]') === null
  && document.querySelector(arguments[0]) === null;
"""


def wait_drawn(driver, drawn, absent_selector: str, timeout: float = 40, quiet: float = 2.0, interval: float = 0.25):
    """Until ``drawn()`` holds; or, on a page that has none of what is waited for, until the page has sat settled
    (content in, no callback pending) for ``quiet`` seconds with no element matching ``absent_selector`` (its charts'
    or grids' containers). The page walks waited the whole timeout on each page without a chart or a grid: 80 of a
    walk's 100 s. A container on the page that never draws still waits the timeout, as before."""
    deadline = time.time() + timeout
    settled_since = None
    last = None
    while time.time() < deadline:
        last = drawn()
        if last:
            return last
        if driver.execute_script(SETTLED_WITHOUT_JS, absent_selector):
            settled_since = settled_since or time.time()
            if time.time() - settled_since >= quiet:
                return last
        else:
            settled_since = None
        time.sleep(interval)
    return last


def title_text(driver) -> str:
    """The page title, tolerating the moment the router swaps the page (element gone or stale)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    try:
        return driver.find_element("css selector", ".ipc-page-title").text
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


def page_ready(driver, spec) -> bool:
    if driver.execute_script("return document.querySelector('[data-dash-is-loading=\"true\"]') !== null"):
        return False
    graphs_ok = all(driver.execute_script(GRAPH_POINTS_JS, g) > 0 for g in spec["graphs"])
    grids_ok = all(driver.execute_script(GRID_ROWS_JS, g) > 0 for g in spec["grids"])
    return graphs_ok and grids_ok


def severe_logs(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]


def full_page_screenshot(driver, path) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1600, min(max(height, 900), 8000))
    time.sleep(0.8)
    driver.save_screenshot(str(path))
    driver.set_window_size(1600, 1100)


def sql(path, query, params=()):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(query, list(params)).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def watch_dossier(sample_snapshot):
    """The dossier the evaluation step's writer produced for a flagged unit of the latest year."""
    html = [d for d in sample_snapshot.dossiers if d.endswith(".html")]
    return html[0] if html else None


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("path", list(PAGES))
def test_page(browser, dash_server, artifacts, watch_dossier, path, lang, national_http):
    spec = PAGES[path]
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get(f"{dash_server.url}{path}?lang={lang}")
    ready = wait_for(lambda: page_ready(browser, spec))
    name = (path.strip("/") or "overview") + f"_{lang}"
    full_page_screenshot(browser, artifacts / f"{name}.png")
    assert ready, f"{path} ({lang}) did not render its figures and grids; screenshot {name}.png"

    body = browser.find_element("tag name", "body").text
    for word in spec[lang]:
        assert word in body or word in browser.page_source, f"{word!r} missing on {path} ({lang})"
    other = "en" if lang == "zh" else "zh"
    assert spec[other][0] not in browser.find_element("css selector", ".ipc-page-title").text
    banner = browser.find_element("id", "ipc-banner").text
    assert ("合成示例数据" if lang == "zh" else "synthetic sample data") in banner
    assert not browser.find_elements("css selector", ".ipc-unavailable"), "a 'not yet available' notice showed"
    errors = browser.execute_script(ERRORS_JS)
    assert not errors, errors
    logs = severe_logs(browser)
    assert not logs, logs
    assert "Traceback" not in dash_server.log(), dash_server.log()[-3000:]

    if path == "/watchlist" and watch_dossier:
        links = [
            a.get_attribute("href")
            for a in browser.find_elements("css selector", "#wl-grid a")
            if "/dossiers/" in (a.get_attribute("href") or "")
        ]
        assert any(link.endswith(watch_dossier) for link in links)
        r = national_http.get(dash_server.url + "/dossiers/" + watch_dossier, timeout=10)
        assert r.status_code == 200 and "证据档案" in r.text and watch_dossier.split("_")[0] in r.text
    if path == "/downloads":
        href = browser.find_element("id", "dl-link").get_attribute("href")
        r = national_http.get(href, timeout=30)
        assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf" if "fmt=csv" in href else b"PK")


def test_navigation_and_language_toggle(browser, dash_server, artifacts):
    browser.get(dash_server.url + "/?lang=zh")
    assert wait_for(lambda: page_ready(browser, PAGES["/"]))
    browser.find_element("id", "lang-en").click()
    assert wait_for(lambda: "Overview" in title_text(browser))
    assert wait_for(lambda: page_ready(browser, PAGES["/"]))
    browser.find_element("id", "nav-rankings").click()
    assert wait_for(lambda: page_ready(browser, PAGES["/rankings"]))
    assert "lang=en" in browser.current_url and "/rankings" in browser.current_url
    assert wait_for(lambda: "Rankings" in title_text(browser))
    browser.find_element("id", "lang-zh").click()
    assert wait_for(lambda: "排名" in title_text(browser))
    assert not severe_logs(browser)


def test_year_selector_changes_overview(browser, dash_server, e2e_snapshot):
    s = Snapshot(e2e_snapshot)
    try:
        years = queries.years(s)
    finally:
        s.close()
    assert len(years) >= 2, "the e2e snapshot must hold several years for this test to mean anything"
    browser.get(dash_server.url + "/?lang=en")
    assert wait_for(lambda: page_ready(browser, PAGES["/"]))
    before = browser.find_element("id", "ov-card-up").text
    browser.find_element("css selector", "#ov-year").click()
    target = wait_for(
        lambda: [o for o in browser.find_elements("css selector", "[role='option']") if o.text.strip() == str(years[0])]
    )
    assert target, "year options did not open"
    target[0].click()
    # The first year has no previous year: "moved up" is not applicable (not 0), the movers chart says why.
    assert wait_for(lambda: browser.find_element("id", "ov-card-up").text.startswith("n/a"), timeout=20), (
        f"changing the year did not update the headline figures (was {before!r})"
    )
    assert "first evaluation year" in browser.find_element("id", "ov-movers").text
    assert f"year={years[0]}" in browser.current_url  # the choice is in the URL
    assert not severe_logs(browser)


def grid_data(driver, grid_id: str) -> list[dict]:
    return wait_for(lambda: driver.execute_script(GRID_DATA_JS, grid_id)) or []


def test_watchlist_matches_the_evaluation_mart(browser, dash_server, e2e_snapshot, sample_snapshot):
    """Every flagged unit of the latest year is listed with its stage and robustness mark; the generator's
    known-lagging cities that are still evaluated are among them."""
    browser.get(dash_server.url + "/watchlist?lang=zh")
    assert wait_for(lambda: page_ready(browser, PAGES["/watchlist"]))
    shown = {r["unit_code"]: r for r in grid_data(browser, "wl-grid")}
    [(year,)] = sql(e2e_snapshot, "select max(year) from marts.fct_evaluation_year")
    expected = dict(
        (code, (stage, robust))
        for code, stage, robust in sql(
            e2e_snapshot,
            "select unit_code, stage, is_robust from marts.fct_evaluation_year where year = ? "
            "and stage in ('watch', 'review', 'rectification', 'exit_candidate', 'not_reported')",
            [year],
        )
    )
    assert set(shown) == set(expected)
    from pipelines.labels import label_text

    # the labels seed's words (verdicts round 13: labels.robustness_text, never a bare null)
    marks = {
        True: "✔ " + label_text("robust"),
        False: "⚠ " + label_text("not_robust"),
        None: "– " + label_text("robustness_not_assessed"),
    }
    for code, (stage, robust) in expected.items():
        assert shown[code]["stage"] == stage
        assert shown[code]["robust_label"] == marks[robust], code
        assert shown[code]["rules_text"], code  # the Chinese rendering of the fired rules
    evaluated = {
        c for (c,) in sql(e2e_snapshot, "select unit_code from marts.fct_evaluation_year where year = ?", [year])
    }
    lagging = set(sample_snapshot.truth.get("lagging", [])) & evaluated
    assert lagging and lagging <= set(shown), (lagging, set(shown))
    # the rows the eye sees: the lagging cities' names are on the page
    body = browser.find_element("id", "wl-grid").text
    names = dict(sql(e2e_snapshot, "select unit_code, unit_name from marts.dim_city"))
    visible = [names[c] for c in lagging if names[c] in body]
    assert visible, f"none of the lagging cities {[names[c] for c in lagging]} visible in the grid"


def test_quality_page_shows_the_run(browser, dash_server, e2e_snapshot):
    browser.get(dash_server.url + "/quality?lang=zh")
    assert wait_for(lambda: page_ready(browser, PAGES["/quality"]))
    [(run_id,)] = sql(e2e_snapshot, "select run_id from quality.check_results order by checked_at desc limit 1")
    [(n_checks, n_error)] = sql(
        e2e_snapshot,
        "select count(*), count(*) filter (where not passed and "
        "severity = 'error') from quality.check_results where run_id = ?",
        [run_id],
    )
    [(rejected,)] = sql(
        e2e_snapshot, "select coalesce(sum(rows_rejected), 0) from raw.ingested_files where run_id = ?", [run_id]
    )
    assert wait_for(lambda: browser.find_element("id", "dq-card-checks").text.startswith(f"{n_checks:,}"))
    assert browser.find_element("id", "dq-card-error").text.startswith(f"{n_error:,}")
    assert browser.find_element("id", "dq-card-rejected").text.startswith(f"{rejected:,}")
    # Trimmed on the server: failed checks one by one, passed checks one row per asset/check/severity.
    [(n_failed, n_passed_groups)] = sql(
        e2e_snapshot,
        "select count(*) filter (where not passed), count(distinct case when passed then "
        "asset || '|' || check_name || '|' || severity end) from quality.check_results where run_id = ?",
        [run_id],
    )
    shown = grid_data(browser, "dq-check-grid")
    assert len(shown) == n_failed + n_passed_groups
    assert sum(r["checks"] for r in shown) == n_checks


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("province", ["320000", None])
def test_downloads_open_with_chinese_headers(dash_server, e2e_snapshot, fmt, province, national_http):
    [(year,)] = sql(e2e_snapshot, "select max(year) from marts.fct_city_score_year")
    url = f"{dash_server.url}/download/extract?year={year}&fmt={fmt}" + (f"&province={province}" if province else "")
    r = national_http.get(url, timeout=60)
    assert r.status_code == 200
    [(expected,)] = sql(
        e2e_snapshot,
        "select count(*) from marts.fct_city_indicator_year i join marts.dim_city d "
        "using (unit_code) where i.year = ? and d.level <> 'province'"
        + (" and d.province_code = ?" if province else ""),
        [year, province] if province else [year],
    )
    if fmt == "csv":
        assert r.content.startswith(b"\xef\xbb\xbf")
        lines = r.content.decode("utf-8-sig").splitlines()
        header, rows = lines[0].split(","), lines[1:]
    else:
        ws = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True).active
        all_rows = list(ws.iter_rows(values_only=True))
        header, rows = list(all_rows[0]), all_rows[1:]
    assert header[:4] == ["年份", "省份", "行政区划代码", "城市"] and "指标名称" in header
    assert len(rows) == expected > 0
    if province and fmt == "csv":
        assert all(",江苏省," in line for line in rows)
