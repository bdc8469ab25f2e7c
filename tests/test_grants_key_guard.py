"""raw.patent_grants' key (publication_number) is unique over the whole table, every year, by what the loader
does: dbt no longer re-checks it with a whole-table group-by over millions of rows (issue 19; see
dbt_project/models/staging/_raw__sources.yml). These tests pin the guarantee that decision rests on: a key sent
again in a file of ANOTHER year (another partition) never makes a second row, on either reader path, and a
repeat within a year's file is refused."""

from __future__ import annotations

from datetime import date

import pytest

from pipelines.ingest import contract_sql
from pipelines.ingest.load import ingest_file
from pipelines.sources import SOURCES

GRANTS = SOURCES["patent_grants"]
HEADER = (
    "publication_number,application_number,patent_type,kind_code,application_date,grant_date,applicant_name,"
    "applicant_type,region_code,ipc_main,lapse_date,hv_strategic_industry,hv_overseas_family,hv_maintained_10y,"
    "hv_pledged,hv_award,is_high_value"
)


def _row(number: str, grant_date: str) -> str:
    return (
        f"{number},CN201719834234.7,invention,B,2017-08-03,{grant_date},北京恒瑞科技有限公司,enterprise,110100,"
        "H04L 50/18,,false,true,false,false,false,true"
    )


def _file(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _duplicate_keys(con) -> list:
    return con.execute(
        "SELECT publication_number, count(*) FROM raw.patent_grants GROUP BY 1 HAVING count(*) > 1"
    ).fetchall()


@pytest.mark.parametrize("scan", [False, True], ids=["reader", "scan"])
def test_a_key_sent_again_in_another_years_file_never_makes_a_second_row(warehouse, tmp_path, monkeypatch, scan):
    monkeypatch.setattr(contract_sql, "SCAN_MIN_BYTES", 0 if scan else 1 << 40)
    today = date(2026, 1, 15)
    first = _file(tmp_path / "g" / "patent_grants_2020.csv", [_row("CN1B", "2020-01-07"), _row("CN2B", "2020-01-08")])
    ingest_file(warehouse, GRANTS, first, partition=2020, today=today)
    # the same publication number granted "again" in 2021: another partition, other values
    later = _file(tmp_path / "g" / "patent_grants_2021.csv", [_row("CN1B", "2021-03-01"), _row("CN3B", "2021-03-02")])
    ingest_file(warehouse, GRANTS, later, partition=2021, today=today)
    assert _duplicate_keys(warehouse) == []
    assert warehouse.execute("SELECT count(*) FROM raw.patent_grants").fetchall()[0][0] == 3
    # and repeated within one year's file: refused, never two rows
    again = _file(tmp_path / "g" / "patent_grants_2022.csv", [_row("CN4B", "2022-01-03"), _row("CN4B", "2022-01-04")])
    ingest_file(warehouse, GRANTS, again, partition=2022, today=today)
    assert _duplicate_keys(warehouse) == []


def test_a_second_row_written_behind_the_loaders_back_blocks_the_grants_check(warehouse, tmp_path):
    """The run-time half of the guarantee: int_patents__grant_cohorts and int_patents__unit_year_source_rows read
    the rebuilt years' rows without a latest-per-key window (docs/incremental.md, "one row per key"), so a
    second row of a key within a partition -- written by anything but the loader -- must stop the run before
    dbt counts it twice. The grants asset's blocking check (the contract's partition profile) sees it."""
    from pipelines.assets.checks import _yearly_checks
    from pipelines.quality import valid_region_codes

    today = date(2026, 1, 15)
    first = _file(tmp_path / "g" / "patent_grants_2020.csv", [_row("CN1B", "2020-01-07"), _row("CN2B", "2020-01-08")])
    ingest_file(warehouse, GRANTS, first, partition=2020, today=today)
    codes = valid_region_codes(warehouse)
    clean = _yearly_checks(warehouse, "run-clean", GRANTS, [2020], codes)
    assert all(r.passed_blocking for _, r in clean), [f.check_name for _, r in clean for f in r.failures()]

    warehouse.execute(
        "INSERT INTO raw.patent_grants SELECT * REPLACE (_row_number + 100 AS _row_number) FROM raw.patent_grants "
        "WHERE publication_number = 'CN2B'"
    )
    assert _duplicate_keys(warehouse) == [("CN2B", 2)]
    checked = _yearly_checks(warehouse, "run-dup", GRANTS, [2020], codes)
    blocking = [f for _, r in checked for f in r.failures() if f.severity == "error"]
    profile = [f for f in blocking if f.check_name == "profile__blocking_measures_within_bounds"]
    assert profile, [f.check_name for f in blocking]
    assert {(row["year"], row["check"]) for row in profile[0].failing_sample} == {(2020, "duplicate_keys")}
