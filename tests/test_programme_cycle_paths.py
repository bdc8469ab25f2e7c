"""The programme cycle as the national office runs it (国知发管字〔2016〕86号: yearly evaluation, a third-party
evaluation every three-year cycle, rectification up to withdrawal; not reporting within six months = exit), on
the real sample run and in the dbt unit tests that pin each path:

- the 2012-2016 demonstration-city cohorts say how many units their notices designated (the programmes page's
  "Designated"/公布数量 was empty): the calendar seed holds the counts, equal to the reference roster;
- the demonstration-city calendar reads its cycle length, like its anchor, from the rules seed (one definition);
- a report is owed only in the years a membership covers: not after a fixed period ended, not between a title's
  removal and a re-application, not at all for a year no membership holds (a missing report there is no exit);
- a cycle another calendar took part of (at its end or at its start) is never a complete cycle, in the cycle
  verdict and in the third-party evaluation status alike.
"""

from __future__ import annotations

import csv
from collections import Counter

import duckdb
import polars as pl
import pytest

from pipelines.evaluation.rules import load_rules
from pipelines.settings import DBT_PROJECT_DIR, REFERENCE_DIR

CALENDAR_SEED = DBT_PROJECT_DIR / "seeds" / "programme_calendar.csv"

# The dbt unit tests of the programme-cycle paths must exist and pass: tests/test_patents_in_force.py
# (REQUIRED_UNIT_TESTS), which runs every dbt unit test of the project once.


@pytest.fixture(scope="module")
def snap(sample_snapshot):
    con = duckdb.connect(str(sample_snapshot.snapshot), read_only=True)
    yield con
    con.close()


def q(con, sql: str, params=()) -> pl.DataFrame:
    return con.sql(sql, params=list(params)).pl()


def _calendar_seed() -> list[dict[str, str]]:
    with CALENDAR_SEED.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# -- "Designated" of the 2012-2016 cohorts ------------------------------------------------------------------------


def test_the_calendar_seed_says_how_many_units_each_notice_designated_as_the_reference_files_do():
    """The reference roster of 2012-2016 is the complete real list, one row per designated unit with its notice
    (2013: "厦门 and 17 others" = 18; 2015a: "常州 and 7 others" = 8); the 2022 batch file gives 38 + 72. The seed's
    units_announced must equal them -- empty left the programmes page's "Designated" column blank."""
    with (REFERENCE_DIR / "national_ip_demonstration_cities_2012_2016.csv").open(encoding="utf-8") as f:
        per_cohort = Counter(r["cohort"] for r in csv.DictReader(f))
    with (REFERENCE_DIR / "ip_strong_city_pilot_demo_2022_metadata.csv").open(encoding="utf-8") as f:
        batch = next(csv.DictReader(f))
    seed = {(r["programme_code"], r["cohort"]): r["units_announced"] for r in _calendar_seed()}
    demo = {cohort: seed[("demo_city", cohort)] for cohort in per_cohort}
    assert demo == {cohort: str(n) for cohort, n in per_cohort.items()}
    assert seed[("strong_city_demo", "2022-08")] == batch["demo_cities_count"]
    assert seed[("strong_city_pilot", "2022-08")] == batch["pilot_cities_count"]


def test_the_2012_2016_cohorts_show_designated_and_a_complete_roster(snap):
    df = q(snap, "select * from marts.dim_programme where programme_code = 'demo_city' order by cohort")
    assert df["cohort"].to_list() == ["2012", "2013", "2015a", "2015b", "2016"]
    assert df["units_announced"].to_list() == [23, 18, 8, 4, 11]
    assert df["units_named"].to_list() == df["units_announced"].to_list()
    assert df["roster_complete"].to_list() == [True] * 5


# -- one definition of the demonstration-city cycle ---------------------------------------------------------------


def test_the_demonstration_city_calendar_takes_anchor_and_length_from_the_rules_seed(snap):
    """The seed leaves both empty for demo_city (a copy of GEN.cycle_length there would not follow a rules change);
    the marts carry the rules seed's values, the ones the Python side reads with load_rules."""
    demo_rows = [r for r in _calendar_seed() if r["programme_code"] == "demo_city"]
    assert demo_rows and all(r["cycle_anchor_year"] == "" and r["cycle_length"] == "" for r in demo_rows)
    rules = load_rules()
    cal = q(
        snap,
        "select distinct cycle_anchor_year, cycle_length from marts.dim_programme where programme_code = 'demo_city'",
    )
    assert cal.rows() == [(rules["GEN.cycle_anchor_year"], rules["GEN.cycle_length"])]
    years = q(
        snap,
        "select distinct cycle_length, cycle_end - cycle_start + 1 as span from marts.fct_programme_unit_year "
        "where programme_code = 'demo_city' and cycle_start is not null",
    )
    assert years.rows() == [(rules["GEN.cycle_length"], rules["GEN.cycle_length"])]


# -- reporting is owed only while a membership covers the year --------------------------------------------------


def test_no_report_is_owed_in_a_year_no_membership_covers(snap):
    """石家庄 130100 and the strong-city districts were in the 2022-2024 period only: their 2025 was judged
    "not reported" (= exit) although no programme held them then. Every reporting row is a (unit, year) one of
    the unit's memberships covers."""
    stray = q(
        snap,
        """
        select r.unit_code, r.year, r.source, r.status
        from marts.fct_reporting_status r
        where not exists (
            select 1 from marts.fct_programme_membership m
            where m.unit_code = r.unit_code and m.first_evaluated_year <= r.year
              and (m.last_evaluated_year is null or r.year <= m.last_evaluated_year))
        """,
    )
    assert stray.is_empty(), stray
    sjz = q(snap, "select distinct year from marts.fct_reporting_status where unit_code = '130100' order by year")
    assert sjz["year"].to_list() == [2022, 2023, 2024]


# -- a cycle cut short is never complete ----------------------------------------------------------------------


def test_a_cycle_another_calendar_took_part_of_is_never_complete(snap):
    """南京 320100 / 宜昌 420500: the demonstration-city 2023-2025 holds only 2025 (the strong-city 2022-2024 governed
    2023-2024). It was reported as a complete cycle (its last year has data) in the cycle verdict and in the
    third-party status; one year of three is not a three-year cycle."""
    for unit in ("320100", "420500"):
        cy = q(
            snap,
            "select years_evaluated, is_complete from marts.fct_evaluation_cycle where unit_code = ? and cycle = '2023–2025'",
            (unit,),
        )
        assert cy.rows() == [(1, False)], unit
        tp = q(
            snap,
            "select cycle_complete from marts.fct_third_party_evaluation where unit_code = ? and cycle = '2023–2025'",
            (unit,),
        )
        assert tp["cycle_complete"].to_list() == [False], unit
    for relation, first, last, flag in (
        ("marts.fct_evaluation_cycle", "cycle_start", "cycle_end", "is_complete"),
        ("marts.fct_third_party_evaluation", "cycle_first_year", "cycle_last_year", "cycle_complete"),
    ):
        wrong = q(
            snap,
            f"""
            select c.unit_code, c.{first}, c.{last}
            from {relation} c
            inner join marts.fct_programme_unit_year y
              on y.unit_code = c.unit_code and y.year between c.{first} and c.{last}
             and (y.cycle_start is distinct from c.{first} or y.cycle_end is distinct from c.{last})
            where c.{flag}
            """,
        )
        assert wrong.is_empty(), (relation, wrong)
