"""Verdicts a city cannot contest, round 3: the flag page dates a cycle verdict by the year the cycle is actually
judged in (a pilot promoted mid-cycle is judged before the cycle's nominal end), a released rank reads 并列 / tied
in the extract and the dossier as the current one does, and "not reporting within six months counts as exit" is
stated on the flag page on the day fct_reporting_status judges it (not on a date no mart uses). The acceptance
bands at their bounds (60, 70, 59.995, 69.995) read the same in every view.

Labels and thresholds are read from the seeds, never copied here."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from pipelines.evaluation.rules import acceptance_score_text, load_rules
from pipelines.labels import label_text

# 南通 320600: pilot cycle 2022-2024, promoted in 2024 (its demonstration calendar 2024-2026 takes over), so the
# pilot cycle is judged in 2023; 南京 320100: 2022-2024 complete; 苏州 320500: 2024-2026 still running in 2025.
CALENDAR = [
    ("320600", 2022, 2022, 2024),
    ("320600", 2023, 2022, 2024),
    ("320600", 2024, 2024, 2026),
    ("320600", 2025, 2024, 2026),
    ("320100", 2022, 2022, 2024),
    ("320100", 2023, 2022, 2024),
    ("320100", 2024, 2022, 2024),
    ("320500", 2024, 2024, 2026),
    ("320500", 2025, 2024, 2026),
]


# --- 1. the cycle verdict's date: the year the cycle is judged in ------------------------------------------------


@pytest.fixture()
def flag_snapshot(tmp_path):
    from dashboards.snapshot import Snapshot
    from pipelines.snapshot_writer import SNAPSHOT_SCHEMA_VERSION

    path = tmp_path / "snap.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("create schema meta")
    con.execute("create table meta.snapshot_info (key varchar, value varchar)")
    con.execute("insert into meta.snapshot_info values ('schema_version', ?)", [str(SNAPSHOT_SCHEMA_VERSION)])
    cal = pl.DataFrame(CALENDAR, schema=["unit_code", "year", "cycle_start", "cycle_end"], orient="row")
    con.register("k", cal)
    con.execute(
        """create table marts.fct_evaluation_year as select unit_code, year, cycle_start, cycle_end,
             'watch' as stage, 100.0 as composite_index, 3 as rank, 40 as n_ranked, cast(null as double) as p05_rank,
             cast(null as double) as p95_rank, true as is_robust from k"""
    )
    # the cycles' judged_year as the mart gives it (the page reads it, never its own calendar rule): 南通's pilot
    # cycle cut short is judged in 2023, 南京's complete one in 2024, the running ones have none yet
    con.execute(
        """create table marts.fct_evaluation_cycle as select * from (values
             ('320600', 2022, 2024, 2023), ('320600', 2024, 2026, null), ('320100', 2022, 2024, 2024),
             ('320500', 2024, 2026, null)) t(unit_code, cycle_start, cycle_end, judged_year)"""
    )
    con.execute(
        """create table marts.fct_reporting_status as select '320600' as unit_code, 'patents' as source,
             2024 as year, date '2025-06-30' as grace_end_date"""
    )
    con.close()
    return Snapshot(path)


def test_the_flag_page_dates_the_verdict_of_a_cycle_cut_short_when_it_was_judged(flag_snapshot):
    """南通's 2023 row (pilot cycle 2022-2024, judged 2023): the page said the cycle verdict comes on
    2025-03-01, a year after it came (2024-03-01)."""
    from dashboards.pages.flag import cycle_judged_year, evaluation_row, next_steps

    row = evaluation_row(flag_snapshot, "320600", 2023)
    judged = cycle_judged_year(flag_snapshot, "320600", row)
    assert judged == 2023
    for lang in ("zh", "en"):
        for stage in ("watch", "rectification"):
            steps = next_steps(stage, 2023, row["cycle_end"], {}, lang, judged)
            cycle_step = next(s for s in steps if "R2" in s or "X1" in s)  # the cycle verdict's sentence
            next_annual = cycle_step.count("评价：2025-03-01") + cycle_step.count("evaluation: 2025-03-01")
            assert "2024-03-01" in cycle_step, (lang, stage, cycle_step)
            assert cycle_step.count("2025-03-01") == next_annual, (lang, stage, cycle_step)  # only the annual one
    # a complete cycle keeps its own end: 南京 2022-2024 is judged on 2025-03-01
    row = evaluation_row(flag_snapshot, "320100", 2023)
    judged = cycle_judged_year(flag_snapshot, "320100", row)
    assert judged == 2024 and "2025-03-01" in " ".join(next_steps("watch", 2023, 2024, {}, "en", judged))


# --- 2. a released rank shared in the release reads tied -----------------------------------------------------------


def _release_warehouse() -> duckdb.DuckDBPyConnection:
    """A release written before rank_is_shared existed: its evaluation_year has no such column, and 南京 and 南通
    share rank 2 in it."""
    con = duckdb.connect()
    con.execute("create schema releases")
    con.execute(
        """create table releases.releases as select 'R2024-1' as release_id, 2024 as evaluation_year,
             timestamp '2025-03-01 09:00:00' as released_at, 'd' as data_version, 'c' as code_version,
             2020 as window_first_year, 2024 as window_last_year, cast(null as varchar) as supersedes_release_id"""
    )
    con.execute(
        """create table releases.city_score_year as select * from (values
             ('R2024-1', '320500', 130.0, 1), ('R2024-1', '320100', 110.0, 2), ('R2024-1', '320600', 110.0, 2),
             ('R2024-1', '320400', 65.0, 4)) t(release_id, unit_code, composite_index, rank)"""
    )
    con.execute("alter table releases.city_score_year alter composite_index set data type double")
    con.execute(
        """create table releases.evaluation_year as select release_id, unit_code, 'normal' as stage,
             composite_index, rank, 4 as n_ranked from releases.city_score_year"""
    )
    return con


def test_the_extract_marks_a_released_rank_shared_in_the_release():
    """The scores sheet's 发布时排名 was a bare number: a city ranked second beside another second in the
    release could not tell from the extract why there was no third."""
    import pipelines.extracts as ex

    con = _release_warehouse()
    scores = pl.DataFrame(
        {
            "unit_code": ["320100", "320600", "320400"],
            "stage": ["normal"] * 3,
            "composite_index": [110.0, 110.0, 65.0],
            "rank": [2, 2, 4],
        }
    )
    out = ex.with_release(con, scores, 2024, release={"release_id": "R2024-1"})
    assert out["released_rank_is_shared"].to_list() == [True, True, False]
    assert "released_rank_is_shared" in ex.HEADERS  # a Chinese header like every column


def test_the_dossier_marks_a_released_rank_shared_in_the_release():
    from pipelines.evaluation.dossier import dossier_data
    from pipelines.evaluation.dossier_rows import MartRows
    from pipelines.labels import rank_text

    con = _release_warehouse()
    con.execute("create schema marts")
    con.execute(
        """create table marts.dim_city as select * from (values
             ('320100', '南京市', 'Nanjing', '320000', '江苏省', 'prefecture', true))
           t(unit_code, unit_name, unit_name_en, province_code, province_name, level, is_programme)"""
    )
    con.execute(
        """create table marts.fct_city_score_year as select '320100' as unit_code, 2024 as year,
             110.0 as composite_index, 2 as rank, 4 as n_ranked, true as rank_is_shared, 'strong' as performance_group"""
    )
    con.execute(
        """create table marts.fct_evaluation_year as select unit_code, year, 2022 as cycle_start, 'normal' as stage,
             composite_index, rank, n_ranked, true as rank_is_shared, cast(null as double) as p05_rank,
             cast(null as double) as p95_rank, cast(null as double) as median_rank from marts.fct_city_score_year"""
    )
    con.execute(
        """create table marts.fct_evaluation_cycle as select unit_code, '2022-2024' as cycle, 2022 as cycle_start,
             2024 as cycle_end, 'normal' as verdict from marts.fct_city_score_year"""
    )
    d = dossier_data(con, "320100", 2024, MartRows(con))
    rr = d["released"]
    assert rr["rank_is_shared"] is True, rr
    shown = rank_text(rr["rank"], rr["n_ranked"], rr["rank_is_shared"], "both")
    assert label_text("rank_shared", "zh") in shown and label_text("rank_shared", "en") in shown


# --- 3. the dates and the bands of the exit verdicts ----------------------------------------------------------------


def test_the_flag_page_states_the_day_not_reporting_counts_as_exit(flag_snapshot):
    """The page said the report is due within six months of the published result (1 September of the next year,
    from a literal 6), while fct_reporting_status turns a report not received by the year end + RPT.grace_months
    (30 June, China Standard Time, the whole day counting) into not_reported, counted as exit."""
    from dashboards.pages.flag import next_steps, report_deadline

    assert report_deadline(flag_snapshot, "320600", 2024) == "2025-06-30"  # the mart's grace_end_date
    months = int(load_rules(year=2024)["RPT.grace_months"])
    first_after = dt.date(2025 + months // 12, 1 + months % 12, 1)
    # without a mart row: the same rule from the rules seed
    assert report_deadline(flag_snapshot, "320100", 2024) == (first_after - dt.timedelta(days=1)).isoformat()
    for lang in ("zh", "en"):
        for stage in ("rectification", "exit_candidate"):
            text = " ".join(next_steps(stage, 2023, 2024, {}, lang, 2024, "2025-06-30"))
            assert "2025-06-30" in text and "2024-09-01" not in text, (lang, stage, text)
            assert ("北京时间" if lang == "zh" else "China Standard Time") in text


@pytest.mark.parametrize("offset", [0.0, -0.005, -1e-15])
def test_a_score_at_a_band_bound_reads_in_its_band(offset):
    """At 60 and 70 (ACC.remove_below, ACC.cultivation_from) the score shown is in the band shown: 59.995 reads
    59.99 under "title removed" (never 60.00), 60 reads 60.00; a double a hair under the bound (float noise) is the
    bound, as the mart rounds at 9 decimals before banding."""
    rules = load_rules()
    for bound in (rules["ACC.remove_below"], rules["ACC.cultivation_from"]):
        score = bound + offset
        stored = round(score, 9)  # fct_acceptance_score: round_half_away(score, 9) before the band
        in_upper = stored >= bound
        shown = float(acceptance_score_text(stored))
        assert (shown >= bound) == in_upper, (score, shown)


def test_the_reporting_alert_names_the_day_not_reporting_counts_as_exit():
    """A not_reported (or still missing) report's alert named its due date (31 March) only, while the exit is
    judged on the grace period's last day (30 June, UTC+8): a city reading the alert could not tell when it lost
    the title."""
    from test_verdicts_contestable2 import _alert_warehouse

    from pipelines.alerts.conditions import source_reporting
    from pipelines.alerts.config import load_rules as alert_rules

    con = _alert_warehouse()
    con.execute(
        """create table marts.fct_reporting_status as select * from (values
             ('410100', 'training_events', 2025, 'not_reported', date '2026-03-31', date '2026-06-30',
              cast(null as date), false),
             ('410300', 'training_events', 2025, 'missing', date '2026-03-31', date '2026-06-30',
              cast(null as date), false),
             ('410500', 'training_events', 2025, 'late', date '2026-03-31', date '2026-06-30',
              date '2026-05-02', false))
           t(unit_code, source, year, status, due_date, grace_end_date, received_date, received_after_grace_end)"""
    )
    out = {c.unit_code: c for c in source_reporting(con, alert_rules())}
    for unit in ("410100", "410300"):
        assert "2026-06-30" in out[unit].title_zh and "北京时间" in out[unit].title_zh, out[unit].title_zh
        assert "2026-06-30" in out[unit].title_en and "China Standard Time" in out[unit].title_en
    assert "2026-06-30" not in out["410500"].title_en  # received late but within the grace period: no exit
