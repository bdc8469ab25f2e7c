"""Patents in force at the end of a year, from lapse dates on 31 December and 1 January, through the real
loader and the real dbt models (issue 18: `lapse_year > Y` -> `>= Y` changed QLT01 on a third of the city-years
and no test noticed).

A patent is in force on 31 Dec of year Y when it was granted by then and has not lapsed by then
(int_patents__unit_year): a lapse on 31 Dec Y ends it within Y, a lapse on 1 Jan Y+1 does not.

The warehouse holds the 341 real prefecture-level units and three small grant files; `dbt build` without the
data tests (a handful of rows would not meet the magnitude expectations) runs every model and every dbt unit
test on it, so the hand-worked unit cases are checked here too, in seconds.
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl
import pytest
from dbt_helpers import dbt, unit_test_results

from pipelines.sources import SOURCES

GRANTS = SOURCES["patent_grants"]
HEADER = [c.name for c in GRANTS.columns]
TODAY = date(2026, 1, 15)
UNIT = "440300"  # Shenzhen: its own records are attributed to itself
OTHER = "440100"

# (publication number, type, grant date, lapse date or "", high value, region)
RECORDS = {
    2019: [
        ("CN100000001B", "invention", "2019-03-01", "2020-12-31", True, UNIT),  # lapses on the last day of 2020
        ("CN100000002B", "invention", "2019-03-01", "2021-01-01", True, UNIT),  # lapses on the first day of 2021
        ("CN100000003B", "invention", "2019-03-01", "", False, UNIT),  # never lapses
        ("CN100000004B", "invention", "2019-06-30", "2019-12-31", False, UNIT),  # lapses in its grant year
        ("CN200000005U", "utility_model", "2019-03-01", "", False, UNIT),  # not an invention
        ("CN100000006B", "invention", "2019-01-01", "2019-12-31", True, OTHER),  # other unit: not in force end 2019
    ],
    2020: [("CN100000007B", "invention", "2020-01-01", "2020-12-31", False, UNIT)],  # granted and lapsed in 2020
    2021: [("CN100000008B", "invention", "2021-12-31", "", False, UNIT)],  # granted on the last day
}
# End of year: 2019 -> 1, 2, 3 (not 4: lapsed 31 Dec 2019); 2020 -> 2, 3 (1 and 7 lapsed on 31 Dec 2020);
# 2021 -> 3, 8 (2 lapsed on 1 Jan 2021).
EXPECTED_IN_FORCE = {2019: 3, 2020: 2, 2021: 2}
EXPECTED_HIGH_VALUE = {2019: 2, 2020: 1, 2021: 0}


def _grant_file(path, rows) -> None:
    lines = [",".join(HEADER)]
    for number, kind, granted, lapsed, high_value, region in rows:
        values = {
            "publication_number": number,
            "application_number": "20181" + number[2:10] + ".X",
            "patent_type": kind,
            "kind_code": "B" if kind == "invention" else "U",
            "application_date": "2018-01-15",
            "grant_date": granted,
            "applicant_name": "测试科技有限公司",
            "applicant_type": "enterprise",
            "region_code": region,
            "ipc_main": "G06F 16/00",
            "lapse_date": lapsed,
            "hv_strategic_industry": "true" if high_value else "false",
            "hv_overseas_family": "false",
            "hv_maintained_10y": "false",
            "hv_pledged": "false",
            "hv_award": "false",
            "is_high_value": "true" if high_value else "false",
        }
        lines.append(",".join(values[c] for c in HEADER))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from conftest import write_cities_csv

    from pipelines.ingest.load import ingest_file

    work = tmp_path_factory.mktemp("in_force")
    warehouse = work / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    try:
        ingest_file(con, SOURCES["cities"], write_cities_csv(work / "ref" / "cities.csv"))
        for year, rows in RECORDS.items():
            path = work / "landing" / f"patent_grants_{year}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            _grant_file(path, rows)
            r = ingest_file(con, GRANTS, path, partition=year, today=TODAY)
            assert (r.rows_loaded, r.rows_rejected) == (len(rows), 0), r
    finally:
        con.close()
    statuses = dbt(["build", "--exclude", "test_type:data"], warehouse, work)
    return warehouse, statuses


def test_lapse_in_the_year_is_not_in_force_at_its_end(built):
    warehouse, statuses = built
    assert all(s == "success" for k, s in statuses.items() if k.startswith("model.")), statuses["__output__"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        got = con.sql(
            "select year, in_force_invention, in_force_invention_high_value, grants_invention "
            "from intermediate.int_patents__unit_year where unit_code = ? order by year",
            params=[UNIT],
        ).pl()
        other = con.sql(
            "select year, in_force_invention from intermediate.int_patents__unit_year where unit_code = ? "
            "order by year",
            params=[OTHER],
        ).fetchall()
    assert dict(zip(got["year"], got["in_force_invention"])) == EXPECTED_IN_FORCE
    assert dict(zip(got["year"], got["in_force_invention_high_value"])) == EXPECTED_HIGH_VALUE
    assert dict(zip(got["year"], got["grants_invention"])) == {2019: 4, 2020: 1, 2021: 1}
    # granted on 1 Jan and lapsed on 31 Dec of the same year: counted as a grant, never in force at a year end
    assert other == [(2019, 0), (2020, 0), (2021, 0)]


def test_qlt01_counts_the_same_patents_in_force(built):
    """QLT01 (inventions in force per 10k people) has no population here, so it is missing, never zero or the
    count itself; the measure table carries the in-force count the indicator divides."""
    warehouse, _ = built
    with duckdb.connect(str(warehouse), read_only=True) as con:
        measures = dict(
            con.execute(
                "select year, in_force_invention from intermediate.int_unit_year_measures where unit_code = ? "
                "and year between 2019 and 2021 order by year",
                [UNIT],
            ).fetchall()
        )
        qlt01 = con.execute(
            "select count(*) filter (where raw_value is not null) from marts.fct_city_indicator_year "
            "where unit_code = ? and indicator_code = 'QLT01'",
            [UNIT],
        ).fetchall()[0][0]
    assert measures == EXPECTED_IN_FORCE
    assert qlt01 == 0


# The hand-worked dbt unit tests that pin boundaries (issue 18). Each must exist and pass.
REQUIRED_UNIT_TESTS = {
    # the programme-cycle paths (tests/test_programme_cycle_paths.py)
    "int_programme_calendar::programme_calendar_reads_the_demonstration_city_cycle_from_the_rules_seed",
    "int_programme_unit_cycles::programme_unit_cycles_cut_short_at_the_start_or_the_end_are_flagged",
    "fct_reporting_status::reports_are_owed_only_in_the_years_a_membership_covers",
    "fct_evaluation_cycle::cycle_verdict_follows_the_last_year_and_not_reported_counts_as_exit",
    "int_programme_unit_years::programme_unit_years_follow_joining_dates_and_the_governing_calendar",
    "fct_acceptance_score::a_title_removed_at_acceptance_bars_re_joining_for_the_ban_years",
    "stg_raw__patent_grants::lapse_year_of_31_december_and_1_january",
    "int_patents__unit_year::patents_in_force_exclude_those_lapsed_in_the_year",
    "fct_city_score_year::index_rank_groups_thirds_and_changes",
    "fct_city_score_year::ties_share_a_rank_and_boundaries_at_70_100_125",
    "fct_city_score_year::ties_are_equal_published_indices_not_equal_doubles",
    "fct_city_score_year::ranks_and_groups_are_decided_on_the_published_index",
    "fct_city_score_year::index_change_is_the_change_of_the_published_figures",
    "int_units::unit_english_names_for_groupings_and_shared_romanisations",
    "stg_raw__third_party_evaluations::a_report_held_twice_in_one_load_with_different_scores_is_named_as_a_conflict",
}


def test_every_dbt_unit_test_passes(built):
    _, statuses = built
    units = unit_test_results(statuses)
    assert REQUIRED_UNIT_TESTS <= set(units), sorted(units)
    failed = {k: s for k, s in units.items() if s != "pass"}
    assert not failed, f"{failed}\n{statuses['__output__']}"
    assert len(units) >= 9


def test_counts_per_year_from_the_staged_dates(built):
    warehouse, _ = built
    with duckdb.connect(str(warehouse), read_only=True) as con:
        staged = con.sql(
            "select publication_number, lapse_date, lapse_year from staging.stg_raw__patent_grants "
            "where lapse_date is not null order by publication_number"
        ).pl()
    by = {r["publication_number"]: r["lapse_year"] for r in staged.iter_rows(named=True)}
    assert by["CN100000001B"] == 2020 and by["CN100000002B"] == 2021 and by["CN100000004B"] == 2019
    assert staged["lapse_date"].dtype == pl.Date


def test_lapse_between_application_and_grant_is_quarantined(warehouse, tmp_path):
    """A lapse date after the application but before the grant is impossible: the row is quarantined with the
    reason, the other rows load (rows in = rows loaded + rows quarantined)."""
    from pipelines.ingest.load import ingest_file

    path = tmp_path / "patent_grants_2019.csv"
    _grant_file(
        path,
        [
            ("CN100000011B", "invention", "2019-03-01", "2019-02-01", False, UNIT),  # lapse before grant
            ("CN100000012B", "invention", "2019-03-01", "2019-03-01", False, UNIT),  # lapse on the grant day: ok
            ("CN100000013B", "invention", "2019-03-01", "", False, UNIT),
        ],
    )
    r = ingest_file(warehouse, GRANTS, path, partition=2019, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 2, 1)
    reasons = warehouse.execute(
        "select row_number, reason from raw.rejected_rows where file_name = ? order by row_number", [path.name]
    ).fetchall()
    assert len(reasons) == 1 and reasons[0][1] == "lapse_date before grant_date"
    loaded = {r[0] for r in warehouse.execute("select publication_number from raw.patent_grants").fetchall()}
    assert loaded == {"CN100000012B", "CN100000013B"}
