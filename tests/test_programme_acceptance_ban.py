"""A title removed at acceptance bars the unit from joining again (management measures: 验收评分低于60分撤销称号,
两年内不得再申报; rules seed ACC.remove_below, ACC.reapply_ban_years), through the whole path on the sample run.

The roster's ban flag (fct_programme_membership.reapplied_within_ban) knew only withdrawals the roster records: a
pilot removed at acceptance -- a state the marts derive from the score, never written in the roster -- joined the
next round and nothing said so, nor until when it was barred. Here the sample run's warehouse gets what the office
would load: the evaluator's report for 柳州 450200's 2022-2024 pilot cycle (a low score: title removed) and a
roster row joining the 2025-2027 demonstration round on 2026-03-01, inside the ban; the real dbt project rebuilds
everything downstream of the two sources. The acceptance mart dates the removal and the ban from the seeds and
flags the joining; the alert, the dossier, the profile and the provincial extract say the same state, date and
flag, in both languages. The hand-worked cases (after the ban, a new pilot round, no joining) are the dbt unit test
fct_acceptance_score::a_title_removed_at_acceptance_bars_re_joining_for_the_ban_years.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest
from dbt_helpers import dbt

from pipelines.evaluation.rules import load_rules
from pipelines.labels import label_text

UNIT = "450200"  # 柳州: a 2022-08 strong-city pilot whose 2022-2024 indicator score is low in the sample
REJOINED = dt.date(2026, 3, 1)


@pytest.fixture(scope="module")
def removed(sample_snapshot, tmp_path_factory) -> Path:
    warehouse = Path(sample_snapshot.snapshot).parent.parent / "warehouse.duckdb"
    if not warehouse.is_file():
        pytest.skip(f"the sample run's warehouse is not beside its snapshot: {warehouse}")
    work = tmp_path_factory.mktemp("acceptance_ban")
    copy = work / "warehouse.duckdb"
    shutil.copy(warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        # the evaluator's corrected report for the cycle (every part 30: the combined score stays below
        # ACC.remove_below); version 2, as the sample now carries the synthetic acceptance report (version 1) of
        # every 2022-batch unit, 柳州 included
        con.execute(
            """insert into raw.third_party_evaluations by name
               select ? as city_code, '柳州市' as unit_name, 2022 as cycle_first_year, 2024 as cycle_last_year,
                      '评估机构甲' as evaluator, 2 as report_version, date '2025-05-20' as evaluated_on,
                      30.0 as score_mgt, 30.0 as score_pro, 30.0 as score_utl, 30.0 as score_qlt, 30.0 as score_env,
                      30.0 as site_visit_score, date '2025-04-01' as site_visit_date, 30.0 as document_review_score,
                      '未达要求' as findings, '' as site_visit_findings, '' as document_review_findings,
                      'third_party_2022_2024_v2.xlsx' as _source_file, 'crafted' as _file_hash, 2 as _row_number,
                      timestamp '2025-04-21 02:00:00' as _ingested_at""",
            [UNIT],
        )
        # the roster names it in the 2025-2027 demonstration round, joined 2026-03-01
        con.execute(
            """insert into raw.programme_cities by name
               select ? as city_code, '柳州市' as unit_name, '国家知识产权强市建设示范城市' as programme,
                      '2026-03' as cohort, 2026 as cohort_year, 'active' as status, ? as joined_on,
                      'crafted roster row' as source, 'programme_cities_2026.csv' as _source_file,
                      'crafted' as _file_hash, 2 as _row_number, timestamp '2026-03-02 02:00:00' as _ingested_at""",
            [UNIT, REJOINED],
        )
    statuses = dbt(
        [
            "build",
            "--select",
            "stg_raw__programme_cities+",
            "stg_raw__third_party_evaluations+",
            "--exclude-resource-type",
            "unit_test",
        ],
        copy,
        work,
    )
    errors = {k: s for k, s in statuses.items() if s in ("error", "fail")}
    assert not errors, f"{errors}\n{statuses['__output__']}"
    return copy


def _row(copy: Path) -> dict:
    with duckdb.connect(str(copy), read_only=True) as con:
        rows = con.sql(
            "select * from marts.fct_acceptance_score where unit_code = ? and cycle_first_year = 2022", params=[UNIT]
        ).pl()
    assert rows.height == 1, rows
    return rows.row(0, named=True)


def test_the_acceptance_mart_dates_the_removal_and_flags_the_joining_inside_the_ban(removed):
    r = _row(removed)
    rules = load_rules(year=r["judged_year"])
    assert r["acceptance_status"] == "combined" and r["acceptance_score"] < rules["ACC.remove_below"], r
    assert r["acceptance_band"] == "title_removed"
    # the 2022 batch's construction period ends 2025-06-30 (calendar seed): the title ends with it
    assert r["title_removed_on"] == dt.date(2025, 6, 30)
    ban = int(rules["ACC.reapply_ban_years"])
    assert r["reapply_ban_until"] == dt.date(2025 + ban, 6, 30)
    assert r["rejoined_on"] == REJOINED
    assert r["rejoined_within_ban"] is True


def test_alert_dossier_profile_and_extract_say_the_ban_and_the_joining_in_both_languages(removed):
    from dashboards.pages.profile import _band_cell
    from pipelines.alerts import conditions as cond
    from pipelines.alerts.config import load_rules as load_alert_rules
    from pipelines.evaluation.dossier import _acceptance_lines
    from pipelines.extracts import HEADERS, _csv_frame, year_extract_tables

    r = _row(removed)
    until, rejoined = str(r["reapply_ban_until"]), str(r["rejoined_on"])
    expected = {
        lang: (f"{label_text('reapply_ban_until', lang)} {until}", f"{label_text('rejoined_within_ban', lang)}")
        for lang in ("zh", "en")
    }
    con = duckdb.connect(str(removed), read_only=True)
    try:
        alerts = [c for c in cond.acceptance_band(con, load_alert_rules()) or [] if c.unit_code == UNIT]
        tables = year_extract_tables(con, 2024)
    finally:
        con.close()
    assert len(alerts) == 1, alerts
    alert = alerts[0]
    assert alert.detail["status"] == "title_removed"
    assert alert.detail["reapply_ban_until"] == until and alert.detail["rejoined_within_ban"] is True
    # a joining found inside the ban is news: a change of the alert, not the same notice again
    assert alert.change_key.endswith(":rejoined_within_ban")
    for note in expected["zh"]:
        assert note in alert.title_zh, alert.title_zh
    for note in expected["en"]:
        assert note.lower() in alert.title_en, alert.title_en
    assert rejoined in alert.title_zh and rejoined in alert.title_en

    dossier = "\n".join(_acceptance_lines(r))
    for lang in ("zh", "en"):
        for note in expected[lang]:
            assert note in dossier, dossier
        cell = _band_cell(r, lang)
        assert label_text("title_removed", lang) in cell
        for note in expected[lang]:
            assert note in cell, cell
        assert rejoined in cell

    acceptance = tables["acceptance"].filter(tables["acceptance"]["unit_code"] == UNIT)
    csv = _csv_frame(acceptance).row(0, named=True)
    assert csv[HEADERS["reapply_ban_until"]] == until
    assert csv[HEADERS["rejoined_on"]] == rejoined
    assert csv[HEADERS["rejoined_within_ban"]] == "是"
