"""Provenance on a real sample run: for every indicator value the recorded inputs give the value back through the
formula, the source rows point at files of the ledger, and an extract carries the same trace."""

from __future__ import annotations

import math

import duckdb
import pytest

from dashboards import indicator_download, provenance
from dashboards.snapshot import Snapshot

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def snap(sample_snapshot):
    s = Snapshot(sample_snapshot.snapshot)
    yield s
    s.close()


def test_inputs_give_every_value_back(sample_snapshot):
    con = duckdb.connect(str(sample_snapshot.snapshot), read_only=True)
    try:
        rows = con.execute(
            """select v.raw_value, p.numerator_value, p.numerator_scale, p.denominator_value, p.is_growth_rate,
                      p.denominator_measure
               from marts.fct_city_indicator_year v
               join marts.fct_indicator_provenance p using (unit_code, year, indicator_code)
               where v.raw_value is not null"""
        ).fetchall()
        n_values = con.execute(
            "select count(*) from marts.fct_city_indicator_year where raw_value is not null"
        ).fetchall()[0][0]
    finally:
        con.close()
    assert len(rows) == n_values  # every computed value has its inputs
    for raw, num, scale, den, growth, den_measure in rows:
        expected = num if den_measure is None else num * scale / den - (1 if growth else 0)
        assert math.isclose(raw, expected, rel_tol=1e-9, abs_tol=1e-12)


def test_source_rows_point_at_ledger_files(sample_snapshot):
    con = duckdb.connect(str(sample_snapshot.snapshot), read_only=True)
    try:
        orphans = con.execute(
            """select distinct r.source_name, r.source_file from marts.fct_unit_year_source_rows r
               left join raw.ingested_files f on f.source = r.source_name and f.file_name = r.source_file
               where f.file_name is null"""
        ).fetchall()
        bad = con.execute(
            "select count(*) from marts.fct_unit_year_source_rows where n_rows < 1 or first_row_number < 1 "
            "or last_row_number < first_row_number"
        ).fetchall()[0][0]
    finally:
        con.close()
    assert not orphans and bad == 0


def test_profile_trace_and_extract_agree(snap):
    year = snap.query("select max(year) as y from marts.fct_unit_year_source_rows where source_name = 'pledge_loans'")[
        "y"
    ][0]
    unit = snap.query(
        "select unit_code from marts.fct_unit_year_source_rows where year = ? and source_name = 'pledge_loans' "
        "order by unit_code limit 1",
        (year,),
    )["unit_code"][0]
    p = provenance.provenance(snap, unit, year, "UTL01")
    assert p is not None and p["inputs"]["numerator_measure"]
    files = set(p["source_rows"]["source_file"].to_list())
    assert any("pledge_loans" in f for f in files)
    extract = indicator_download.indicator_extract(snap, year)
    row = extract.filter((extract["行政区划代码"] == unit) & (extract["指标代码"] == "UTL01")).to_dicts()[0]
    assert row["计算公式"] == provenance.formula_text(p["indicator"], "zh")
    assert p["inputs"]["numerator_measure"] in row["输入数据"]
    assert all(f in row["来源文件与行号"] for f in files)
