"""The composite index and the rank an official reads agree across pages, at 1366×768, 简体中文 and English, for the
national account and a provincial office (广东, 44): rankings, profile, compare and the overview map's hover show
the published figure (pipelines.labels.index_text) and a shared rank as 并列 / tied (rank_text); the downloads
preview shows each value's unit as the value is shown. Screenshots of each page go to tests/artifacts."""

from __future__ import annotations

import pytest

from dashboards.formatting import unit_label
from dashboards.i18n import t
from dashboards.indicator_download import EXTRACT_HEADERS as H
from pipelines.labels import index_text, rank_text

from .test_dashboard_browser import PAGES, grid_data, page_ready, sql, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MAP_JS = """
const gd = document.querySelector('#ov-map .js-plotly-plot');
if (!gd || !gd.data) return null;
for (const tr of gd.data) {
  const i = (tr.locations || []).indexOf(arguments[0]);
  if (i >= 0 && tr.customdata) return tr.customdata[i];
}
return null;
"""


def _city(snapshot, province: str | None):
    """The latest year's ranked city with a shared rank (a tie), of ``province`` when given, else any ranked one;
    and a second city of the same choice (its tie partner when it has one) for the comparison, which needs two."""
    year = sql(snapshot, "select max(year) from marts.fct_city_score_year where is_ranked")[0][0]
    rows = sql(
        snapshot,
        "select s.unit_code, s.composite_index, s.rank, s.n_ranked, coalesce(s.rank_is_shared, false) "
        "from marts.fct_city_score_year s join marts.dim_city c using (unit_code) "
        "where s.year = ? and s.is_ranked and (? is null or c.province_code = ?) "
        "order by s.rank_is_shared desc, s.rank",
        (year, province, province),
    )
    assert len(rows) > 1
    return year, rows[0], rows[1][0]


@pytest.mark.parametrize("account", ["national", "province"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_index_and_rank_agree_across_pages(
    browser, province_browser, dash_server, e2e_snapshot, artifacts, account, lang
):
    driver = browser if account == "national" else province_browser
    year, (code, index, rank, n_ranked, shared), other = _city(
        e2e_snapshot, None if account == "national" else "440000"
    )
    shown, rank_shown = index_text(index), rank_text(rank, None, shared, lang)
    tag = f"dash6_{account}_{lang}"
    driver.set_window_size(1366, 768)
    try:
        url = dash_server.url
        driver.get(f"{url}/rankings?lang={lang}&year={year}")
        assert wait_for(lambda: page_ready(driver, PAGES["/rankings"]))
        row = next(r for r in grid_data(driver, "rk-grid") if r["unit_code"] == code)
        assert (row["composite_index_text"], row["rank_text"]) == (shown, rank_shown)
        driver.save_screenshot(str(artifacts / f"{tag}_rankings.png"))

        driver.get(f"{url}/profile?lang={lang}&unit={code}")
        assert wait_for(lambda: page_ready(driver, PAGES["/profile"]))
        summary = wait_for(lambda: driver.find_element("id", "pf-summary").text)
        assert f"{t('composite_index', lang)} {shown}" in summary, summary
        assert rank_text(rank, n_ranked, shared, lang) in summary, summary
        driver.save_screenshot(str(artifacts / f"{tag}_profile.png"))

        driver.get(f"{url}/compare?lang={lang}&year={year}&units={code},{other}")
        assert wait_for(lambda: page_ready(driver, PAGES["/compare"]))
        table = {r["measure"]: r for r in grid_data(driver, "cmp-table")}
        assert table[t("composite_index", lang)][code] == shown
        assert table[t("rank", lang)][code] == rank_shown
        driver.save_screenshot(str(artifacts / f"{tag}_compare.png"))

        driver.get(f"{url}/?lang={lang}&year={year}")
        assert wait_for(lambda: page_ready(driver, PAGES["/"]))
        hover = wait_for(lambda: driver.execute_script(MAP_JS, code))
        assert hover and hover[1] == shown and hover[2] == rank_shown, hover
        driver.save_screenshot(str(artifacts / f"{tag}_overview.png"))

        driver.get(f"{url}/downloads?lang={lang}")
        assert wait_for(lambda: page_ready(driver, PAGES["/downloads"]))
        units = dict(sql(e2e_snapshot, "select distinct indicator_code, unit from marts.dim_indicator"))
        preview = grid_data(driver, "dl-preview")
        assert preview
        for r in preview:
            assert r[H["unit"]] == unit_label(units[r[H["indicator_code"]]], lang), r
        driver.save_screenshot(str(artifacts / f"{tag}_downloads.png"))
    finally:
        driver.set_window_size(1600, 1100)
