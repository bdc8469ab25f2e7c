"""Verdicts a city cannot contest, round 7.

1. Units whose code changed. Data sent under an old prefecture code (莱芜市 371200, merged into 济南市 370100 by
   国函〔2018〕163号; the 地区 of Guizhou, Qinghai, Tibet and Xinjiang made 地级市 under new codes) matched no unit
   of the 2023 divisions: the records counted for nobody and the city's series had a hole, its cycle verdict judged
   on less than its territory. The seed unit_code_changes (real approvals, provenance per row) maps them at
   staging; the code as sent and a note stay beside the current code (dbt unit tests
   data_sent_under_an_old_code_belong_to_the_unit_of_the_new_code and
   records_sent_under_an_old_code_are_attributed_to_the_new_unit; here on the sample run).
2. The acceptance level part compares the latest national statistics year, which lags (the sample: 2023 for a
   cycle judged in 2025). A benchmark year before the cycle's first year judges the city before its construction
   period: no band (acceptance_status benchmark_before_cycle, dbt unit test
   a_level_part_judged_on_a_year_before_the_cycle_does_not_band_it). A lag inside the cycle is banded and said
   (benchmark_lag_years; dossier and profile, labels seed benchmark_lagged), both languages.

Labels and thresholds are read from the seeds, never copied here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT = ROOT / "dbt_project"
SEED = DBT_PROJECT / "seeds" / "unit_code_changes.csv"
REFERENCE = ROOT / "data" / "reference"


def _seed() -> pl.DataFrame:
    return pl.read_csv(SEED, infer_schema=False)


def test_every_code_change_leads_to_a_current_unit_and_no_old_code_is_current():
    """The mapping is checked against the divisions the project uses (2023 edition): every successor is a
    prefecture-level unit under that name, no old code is one, and no current county sits under an old code."""
    cities = pl.read_csv(REFERENCE / "cities_prefecture_level_2023.csv", infer_schema=False)
    current = dict(zip(cities["city_code"], cities["city_name"], strict=True))
    counties = pl.read_csv(REFERENCE / "modood_areas.csv", infer_schema=False)["code"].to_list()
    seed = _seed()
    assert seed.height >= 1 and seed["old_code"].n_unique() == seed.height
    for row in seed.iter_rows(named=True):
        assert current.get(row["new_code"]) == row["new_name"], row
        assert row["old_code"] not in current, row
        assert not [c for c in counties if c[:4] == row["old_code"][:4]], row
        # provenance: the approval and where it was read
        assert row["document"].startswith("国函〔") and row["source"].startswith("yescallop/areacodes@"), row
    laiwu = seed.filter(pl.col("old_code") == "371200").row(0, named=True)
    assert (laiwu["new_code"], laiwu["change_kind"], laiwu["document"]) == ("370100", "merged", "国函〔2018〕163号")


def _dbt(warehouse: Path, *args: str) -> None:
    env = {**os.environ, "IPCITY_WAREHOUSE": str(warehouse)}
    dbt = Path(sys.executable).parent / "dbt"
    out = subprocess.run(
        [str(dbt), *args, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)],
        cwd=DBT_PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


def test_a_file_sent_under_the_old_code_counts_for_the_merged_city(sample_snapshot, tmp_path):
    """The sample run's 济南 pledge registrations of January to November 2018, before 莱芜市 (371200) was merged
    into it on 2018-12-26, re-sent under 莱芜's old code (a district office still using its old letterhead) through
    the loader, which takes such rows (the unit existed then): 济南's pledge indicators of 2018 are the same as when
    sent under 370100, and the staging row names the code as sent with a note. (Rows under 371200 after the merge
    are refused by the loader: tests/test_office_files_round13.py; writing them straight into raw, as this test
    did, proved a mapping for rows that can no longer arrive.)"""
    from office_fixtures import PLEDGE_CODES
    from test_ingest_loaders import PLEDGE, TODAY

    from pipelines.ingest.load import ingest_file

    warehouse = sample_snapshot.snapshot.parent.parent / "warehouse.duckdb"
    if not warehouse.is_file():
        pytest.skip("the sample run's warehouse is not beside its snapshot (an earlier snapshot was reused)")
    wh = tmp_path / "wh.duckdb"
    shutil.copy(warehouse, wh)
    query = """select indicator_code, value from marts.fct_city_indicator_year
               where unit_code = '370100' and year = 2018 and indicator_code like 'UTL%' order by 1"""
    moved = """select '371200', strftime(month, '%Y-%m'), registrations, amount_10k_yuan, patents_pledged,
               trademarks_pledged, enterprises_served, first_time_borrowers from raw.pledge_loans
               where city_code = '370100' and month < date '2018-12-01' and year = 2018 order by month"""
    with duckdb.connect(str(wh)) as con:
        before = con.sql(query).fetchall()
        rows = con.sql(moved).fetchall()
        assert before and rows
        sent = tmp_path / "landing" / "莱芜_质押_2018.csv"
        sent.parent.mkdir()
        sent.write_text("\n".join([PLEDGE_CODES, *(",".join(map(str, r)) for r in rows)]) + "\n", encoding="utf-8")
        con.execute(
            "delete from raw.pledge_loans where city_code = '370100' and month < date '2018-12-01' and year = 2018"
        )
        result = ingest_file(con, PLEDGE, sent, partition=2018, today=TODAY)
        # the loader takes every row: 莱芜市 was a unit in those months
        assert (result.rows_loaded, result.rows_rejected) == (len(rows), 0), result.notes
    _dbt(wh, "seed", "--select", "unit_code_changes", "--target-path", str(tmp_path / "t"))
    _dbt(wh, "run", "--select", "stg_raw__pledge_loans+,+fct_city_indicator_year", "--target-path", str(tmp_path / "t"))
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.sql(query).fetchall() == before
        sent_under = con.sql(
            """select distinct region_code, region_code_note from staging.stg_raw__pledge_loans
               where region_code_as_sent = '371200'"""
        ).fetchall()
    assert len(sent_under) == 1 and sent_under[0][0] == "370100"
    assert (
        "莱芜市" in sent_under[0][1]
        and "国函〔2018〕163号" in sent_under[0][1]
        and "counts for 370100" in sent_under[0][1]
    )


# --- 2. the national benchmark's lag ----------------------------------------------------------------------------


def _acceptance(**over) -> dict:
    a = {
        "cycle": "2023-2025", "acceptance_status": "combined", "acceptance_score": 72.0, "acceptance_scored": True,
        "acceptance_band": "demonstration_cultivation", "indicator_score": 70.0, "third_party_weight": 0.3,
        "third_party_status": "received", "third_party_score": 76.0, "third_party_evaluator": "e",
        "third_party_report_version": 1, "target_points": 70.0, "targets_evaluable": 3, "targets_unambitious": 0,
        "unambitious_weight": 0.5, "target_weight": 0.6, "level_points": 70.0, "level_weight": 0.4,
        "benchmark_year": 2023, "scored_year": 2025, "judged_year": 2025, "benchmark_lag_years": 2,
        "benchmark_before_cycle": False, "qlt01_value": 7.0, "qlt01_national": 10.0, "level_detail": None,
        "level_indicators_missing": None,
    }  # fmt: skip
    return a | over


def test_the_dossier_says_the_level_part_compares_an_earlier_year():
    from pipelines.evaluation.dossier import _acceptance_lines

    text = "\n".join(_acceptance_lines(_acceptance()))
    assert "全国统计滞后" in text and "早于评分年 2025 2 年" in text
    assert "benchmark of 2023, 2 year(s) before the year scored (2025)" in text
    same_year = "\n".join(_acceptance_lines(_acceptance(benchmark_year=2025, benchmark_lag_years=0)))
    assert "全国统计滞后" not in same_year


def test_a_benchmark_before_the_cycle_is_named_and_not_banded_in_both_languages():
    from pipelines.evaluation.dossier import _acceptance_lines
    from pipelines.labels import label_text

    a = _acceptance(
        cycle="2025-2027", acceptance_status="benchmark_before_cycle", acceptance_score=None, acceptance_band=None,
        scored_year=2027, judged_year=2027, benchmark_lag_years=4, benchmark_before_cycle=True,
    )  # fmt: skip
    text = "\n".join(_acceptance_lines(a))
    for lang in ("zh", "en"):
        name = label_text("benchmark_before_cycle", lang)
        assert name != "benchmark_before_cycle" and name in text
    assert "demonstration_cultivation" not in text


def test_the_profile_band_names_the_lagged_benchmark():
    from dashboards.pages.profile import _band_cell
    from pipelines.labels import label_text

    for lang in ("zh", "en"):
        cell = _band_cell(_acceptance(), lang)
        assert label_text("benchmark_lagged", lang) in cell and "(2023)" in cell, cell
    assert label_text("benchmark_lagged", "zh") not in _band_cell(_acceptance(benchmark_lag_years=0), "zh")


def test_the_sample_run_flags_its_lagged_benchmarks(sample_snapshot):
    """The sample's national statistics end in 2023: the 2023-2025 cycles are compared in 2023 (lag 2, inside the
    cycle), and no cycle compared before its first year carries a band."""
    with duckdb.connect(str(sample_snapshot.snapshot), read_only=True) as con:
        rows = con.sql(
            """select cycle_first_year, scored_year, benchmark_year, benchmark_lag_years, benchmark_before_cycle,
                      acceptance_status, acceptance_band from marts.fct_acceptance_score"""
        ).pl()
    assert (rows["benchmark_lag_years"] == rows["scored_year"] - rows["benchmark_year"]).all()
    assert rows.filter(pl.col("cycle_first_year") == 2023)["benchmark_lag_years"].max() == 2
    early = rows.filter(pl.col("benchmark_before_cycle"))
    assert early["acceptance_band"].null_count() == early.height
    assert set(early["acceptance_status"]) <= {"benchmark_before_cycle", "cycle_running", "ended_before_acceptance"}


# --- 3. the policy simulator on a snapshot without withdrawn_year -----------------------------------------------


def _old_snapshot(sample_snapshot, tmp_path, drop_membership: bool = False) -> Path:
    snap = tmp_path / "old.duckdb"
    shutil.copy(sample_snapshot.snapshot, snap)
    with duckdb.connect(str(snap)) as con:
        con.execute("alter table marts.fct_programme_unit_year drop column withdrawn_year")
        if drop_membership:
            con.execute("alter table marts.fct_programme_membership drop column exit_reason")
    return snap


def test_the_simulator_derives_withdrawn_year_on_an_older_snapshot(sample_snapshot, tmp_path):
    """A snapshot published before fct_programme_unit_year carried withdrawn_year: the simulator derives it from
    the membership, the same rows as the mart (the sample's withdrawn units keep their verdict)."""
    from pipelines.scenarios import Scenario, _prepare

    with duckdb.connect(str(sample_snapshot.snapshot), read_only=True) as con:
        expected = con.sql(
            "select unit_code, year, withdrawn_year from marts.fct_programme_unit_year order by 1, 2"
        ).fetchall()
    assert any(r[2] is not None for r in expected)  # the sample has withdrawals
    snap = _old_snapshot(sample_snapshot, tmp_path)
    _prepare(snap, Scenario(), "t", tmp_path / "rules.csv")
    with duckdb.connect(str(snap), read_only=True) as con:
        got = con.sql(
            "select unit_code, year, withdrawn_year from intermediate.int_programme_unit_years order by 1, 2"
        ).fetchall()
    assert got == expected


def test_the_simulator_refuses_a_snapshot_it_cannot_derive_withdrawals_from(sample_snapshot, tmp_path):
    from pipelines.scenarios import Scenario, ScenarioError, _prepare

    snap = _old_snapshot(sample_snapshot, tmp_path, drop_membership=True)
    with pytest.raises(ScenarioError, match="withdrawn_year") as err:
        _prepare(snap, Scenario(), "t", tmp_path / "rules.csv")
    assert "退出" in str(err.value) and "Publish the snapshot again" in str(err.value)
