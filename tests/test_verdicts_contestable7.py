"""Verdicts a city cannot contest, round 7.

1. Units whose code changed. Data sent under an old prefecture code (莱芜市 371200, merged into 济南市 370100 by
   国函〔2018〕163号; the 地区 of Guizhou, Qinghai, Tibet and Xinjiang made 地级市 under new codes) matched no unit
   of the 2023 divisions: the records counted for nobody and the city's series had a hole, its cycle verdict judged
   on less than its territory. The seed unit_code_changes (real approvals, provenance per row) maps them at
   staging; the code as sent and a note stay beside the current code (dbt unit tests
   data_sent_under_an_old_code_belong_to_the_unit_of_the_new_code and
   records_sent_under_an_old_code_are_attributed_to_the_new_unit; here on the sample run).

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
    """The sample run's 济南 pledge registrations of 2024, sent under 莱芜's old code 371200 (a district office
    still using its old letterhead): 济南's pledge indicators of 2024 are the same as when sent under 370100, and
    the staging row names the code as sent with a note."""
    warehouse = sample_snapshot.snapshot.parent.parent / "warehouse.duckdb"
    if not warehouse.is_file():
        pytest.skip("the sample run's warehouse is not beside its snapshot (an earlier snapshot was reused)")
    wh = tmp_path / "wh.duckdb"
    shutil.copy(warehouse, wh)
    query = """select indicator_code, value from marts.fct_city_indicator_year
               where unit_code = '370100' and year = 2024 and indicator_code like 'UTL%' order by 1"""
    with duckdb.connect(str(wh)) as con:
        before = con.sql(query).fetchall()
        moved = con.execute(
            "update raw.pledge_loans set city_code = '371200' where city_code = '370100' and year = 2024"
        ).fetchone()[0]
    assert before and moved > 0
    _dbt(wh, "seed", "--select", "unit_code_changes", "--target-path", str(tmp_path / "t"))
    _dbt(wh, "run", "--select", "stg_raw__pledge_loans+,+fct_city_indicator_year", "--target-path", str(tmp_path / "t"))
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.sql(query).fetchall() == before
        sent = con.sql(
            """select distinct region_code, region_code_note from staging.stg_raw__pledge_loans
               where region_code_as_sent = '371200'"""
        ).fetchall()
    assert len(sent) == 1 and sent[0][0] == "370100"
    assert "莱芜市" in sent[0][1] and "国函〔2018〕163号" in sent[0][1] and "counts for 370100" in sent[0][1]
