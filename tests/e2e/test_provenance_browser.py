"""One click on a figure of a city profile shows where it comes from: the catalog's formula, the inputs of that
unit-year with their values, and the landing files and row numbers — checked in headless Chromium against the
published marts and the ledger."""

from __future__ import annotations

import time

import duckdb
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DISPLAYED_ROW_JS = """
const api = window.dash_ag_grid && window.dash_ag_grid.getApi(arguments[0]);
if (!api || api.getDisplayedRowCount() === 0) return null;
const node = api.getDisplayedRowAtIndex(0);
return node ? node.data : null;
"""


def wait_for(predicate, timeout: float = 40, interval: float = 0.25):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = predicate()
        except Exception:  # the element is being re-rendered
            last = None
        if last:
            return last
        time.sleep(interval)
    return last


def _q(path, sql, params=()):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_clicking_a_profile_figure_shows_formula_inputs_and_source_rows(browser, dash_server, e2e_snapshot):
    # a programme city whose latest pledge-loan figure came from landing rows
    (unit,) = _q(
        e2e_snapshot,
        "select r.unit_code from marts.fct_unit_year_source_rows r join marts.dim_city d using (unit_code) "
        "where r.source_name = 'pledge_loans' and d.is_programme order by r.year desc, r.unit_code limit 1",
    )[0]
    browser.get(f"{dash_server.url}/profile?unit={unit}")
    row = wait_for(lambda: browser.execute_script(DISPLAYED_ROW_JS, "pf-value-grid"))
    assert row, "the profile shows no indicator values"
    cell = wait_for(
        lambda: browser.find_element("css selector", "#pf-value-grid .ag-row[row-index='0'] [col-id='value']")
    )
    cell.click()

    formula = wait_for(lambda: browser.find_element("id", "pf-prov-formula").text)
    year, code = row["year"], row["indicator_code"]
    (catalog_formula,) = _q(
        e2e_snapshot,
        "select i.formula from marts.dim_indicator i join marts.fct_city_indicator_year v "
        "on v.catalog_version = i.catalog_version and v.indicator_code = i.indicator_code "
        "where v.unit_code = ? and v.year = ? and v.indicator_code = ?",
        [unit, year, code],
    )[0]
    assert catalog_formula in formula and code in formula

    inputs = browser.find_element("id", "pf-prov-inputs").text
    imputed, raw_year = _q(
        e2e_snapshot,
        "select is_imputed, (select max(year) from marts.fct_city_indicator_year w where w.unit_code = v.unit_code "
        "and w.indicator_code = v.indicator_code and w.year <= v.year and w.raw_value is not null) "
        "from marts.fct_city_indicator_year v where unit_code = ? and year = ? and indicator_code = ?",
        [unit, year, code],
    )[0]
    computed_in = raw_year if imputed and raw_year is not None else year
    measures = _q(
        e2e_snapshot,
        "select numerator_measure, denominator_measure from marts.fct_indicator_provenance "
        "where unit_code = ? and year = ? and indicator_code = ?",
        [unit, computed_in, code],
    )
    assert measures, "no provenance row for the clicked figure"
    for measure in measures[0]:
        if measure is not None:
            assert measure in inputs

    sources = browser.find_element("id", "pf-prov-sources").text
    expected = _q(
        e2e_snapshot,
        "select r.source_file, r.row_ranges from marts.fct_unit_year_source_rows r "
        "join marts.dim_indicator i on i.indicator_code = ? "
        "where r.unit_code = ? and r.year = ? and contains(i.source_table, r.source_name)",
        [code, unit, computed_in],
    )
    assert expected, "the figure's sources have no rows in the snapshot"
    for source_file, ranges in expected:
        assert source_file in sources
        assert ranges.split(", ")[0] in sources
    # the files are in the ledger the quality page shows
    for source_file, _ in expected:
        assert _q(e2e_snapshot, "select count(*) from raw.ingested_files where file_name = ?", [source_file])[0][0]
