"""Every evaluation threshold at exactly its value, through the real dbt models (issue 18: boundary fixtures).

The hand-built rule cases (tests/evaluation_fixtures.RULE_UNITS) have known exact values: 130300's index falls
by exactly 8 points over 2020-2022 and ends at exactly 88; 120100's index rises by exactly 9 points over each
cycle; 130400 has exactly 2 of 2 key targets lagging in 2021. Each build sets a threshold of the rules seed to
one of those values, so the test pins which side of the boundary the rule puts it, whatever the reviewed seed
values are:

- W2 ``lagging_share``: strictly more than the share -> a share equal to it does not fire;
- W2 ``min_targets``: at least that many evaluable targets -> exactly that many fires;
- R2 ``regress_points``: a fall of at least that many points -> exactly that fall fires;
- R2 ``below_index``: strictly below -> ending exactly at it does not fire;
- EX1 ``improve_min_points``: strictly more -> a gain equal to it is not exemplary.
"""

from __future__ import annotations

import duckdb
import evaluation_fixtures as F
import polars as pl
import pytest


def _build(tmp_path_factory, name: str, changes: dict[tuple[str, str], str]) -> pl.DataFrame:
    work = tmp_path_factory.mktemp(name)
    wh = work / "wh.duckdb"
    with duckdb.connect(str(wh)) as con:
        F.rule_cases(con)
    F.run_evaluation_dbt(wh, work, F.rules_with(changes))
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.sql("select * from marts.fct_evaluation_year").pl()


def row(ev: pl.DataFrame, unit: str, year: int) -> dict:
    return ev.filter((pl.col("unit_code") == unit) & (pl.col("year") == year)).row(0, named=True)


@pytest.fixture(scope="module")
def at_values(tmp_path_factory):
    return _build(
        tmp_path_factory,
        "at_values",
        {
            ("W2", "lagging_share"): "1.0",
            ("R2", "regress_points"): "8",
            ("R2", "below_index"): "100",
            ("EX1", "improve_min_points"): "9",
        },
    )


@pytest.fixture(scope="module")
def at_values_2(tmp_path_factory):
    return _build(
        tmp_path_factory,
        "at_values_2",
        {("W2", "lagging_share"): "0.5", ("W2", "min_targets"): "2", ("R2", "below_index"): "88"},
    )


def test_fixture_values_are_exactly_the_thresholds(at_values):
    r = row(at_values, "130300", 2022)
    assert r["index_change_cycle"] == -8.0 and r["composite_index"] == 88.0
    r = row(at_values, "120100", 2022)
    assert r["index_change_cycle"] == 9.0 and r["performance_group"] == "leader"
    r = row(at_values, "130400", 2021)
    assert (r["targets_lagging"], r["targets_evaluable"]) == (2, 2) and r["targets_lagging_share"] == 1.0


def test_w2_share_equal_to_lagging_share_does_not_fire(at_values):
    r = row(at_values, "130400", 2021)
    assert not r["fired_w2"] and r["stage"] == "normal"


def test_w2_exactly_min_targets_fires(at_values_2):
    r = row(at_values_2, "130400", 2021)
    assert r["fired_w2"] and r["stage"] == "watch"


def test_r2_fall_of_exactly_regress_points_fires(at_values):
    r = row(at_values, "130300", 2022)
    assert r["fired_r2"] and r["stage"] == "rectification"


def test_r2_ending_exactly_at_below_index_does_not_fire(at_values_2):
    r = row(at_values_2, "130300", 2022)
    assert not r["fired_r2"] and r["stage"] == "normal"


def test_ex1_gain_equal_to_improve_min_points_is_not_exemplary(at_values):
    r = row(at_values, "120100", 2022)
    assert not r["fired_ex1"] and r["stage"] == "normal"
    assert "exemplary" not in at_values.filter(pl.col("unit_code") == "120100")["stage"].to_list()
