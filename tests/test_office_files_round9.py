"""Office files as they are really sent (round 9): a trailing total row without a name (its name cell blank, its
figures the column sums), districts named without their kind (海淀, 浦东) told by the file's province, a file left for
still arriving named by `ipcity run`, and the county list read once per process."""

from __future__ import annotations

import os
import threading
import time

import openpyxl
import pytest
from click.testing import CliRunner
from test_ingest_loaders import PLEDGE, TODAY, _write
from test_ingest_loaders import scan_filler as _filler

from pipelines.ingest import load
from pipelines.ingest.load import ingest_file
from pipelines.ingest.reason_labels import reason_text, unknown_reasons
from pipelines.sources import SOURCES

CODES = "城市代码,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"
NAMES = "地区,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"


def _loaded(con, where: str = "city_code NOT IN ('110100', '120100')") -> list[tuple]:
    return con.execute(
        f"SELECT city_code, strftime(month, '%Y-%m'), registrations, amount_10k_yuan FROM raw.pledge_loans "
        f"WHERE {where} ORDER BY _row_number"
    ).fetchall()


def _reasons(con) -> list[tuple]:
    return con.execute(
        "SELECT row_number, reason FROM raw.rejected_rows WHERE reason NOT LIKE 'duplicate record%' ORDER BY 1"
    ).fetchall()


def _ingest(con, path, source=PLEDGE):
    r = ingest_file(con, source, path, partition=2025, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    return r


def _in_chinese(reason: str) -> None:
    assert unknown_reasons(reason) == [], reason
    assert reason_text(reason, "pledge_loans", "zh") != reason


# ------------------------------------------------------------------------------ files left for still arriving


def test_ipcity_run_names_the_files_it_left_for_still_arriving(tmp_path, monkeypatch):
    # Before: `ipcity run` said "nothing new to load" and nothing of the file the operator had just put in (only
    # the raw asset's log named it). Now the run names it, in both languages, escaped like every CLI value.
    from pipelines.cli import main

    landing = tmp_path / "landing"
    path = _write(landing / "pledge_loans" / "质押_[bold]2025年3月.csv", CODES + "\n440300,2025-03,3,30,2,0,2,0\n")
    env = {
        "IPCITY_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "IPCITY_LANDING": str(landing),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "IPCITY_LANDING_SETTLE_S": "0.3",  # the run waits 6 x 0.3 s
    }
    stop = threading.Event()

    def copy_going_on():
        while not stop.is_set():
            os.utime(path)
            time.sleep(0.05)

    writer = threading.Thread(target=copy_going_on, daemon=True)
    writer.start()
    try:
        res = CliRunner().invoke(main, ["run"], env=env)
    finally:
        stop.set()
        writer.join()
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "仍在复制中的文件，本次未读取（复制完成后由下一次运行读取）：pledge_loans/质押_[bold]2025年3月.csv" in out
    assert (
        "still arriving, not read by this run (the next run reads them once their copy is complete): "
        "pledge_loans/质押_[bold]2025年3月.csv"
    ) in out


# ---------------------------------------------------------------------------- the county list, once a process


def test_the_unit_names_are_built_once_per_process_and_again_for_new_units(warehouse, tmp_path):
    # Before: every file read the county list (≈ 3,000 areas) and built every unit's spellings again.
    first = load.unit_names(warehouse)
    assert load.unit_names(warehouse) is first
    from test_office_files_round7 import COUNTY_UNITS

    ingest_file(warehouse, SOURCES["cities"], _write(tmp_path / "ref" / "units.csv", "\n".join(COUNTY_UNITS) + "\n"))
    again = load.unit_names(warehouse)
    assert again is not first and again["海淀区"] == "110108"


# ------------------------------------------------------------------------------- a total row without a name

UNNAMED = "total row without a name: city_code blank and its figures the sums of the file's other {} rows, not a record"


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
@pytest.mark.parametrize("month", ["", "2025-03"], ids=["no-month", "month"])
def test_a_trailing_total_row_without_a_name_is_quarantined_as_a_total(warehouse, tmp_path, big, month):
    # Before: the table's last row, its name cell left blank and its figures the column sums, was refused as
    # "missing value in city_code; missing value in month": as if a record had lost its name.
    rows = ["440300,2025-03,3,30,2,0,2,0", "440100,2025-03,1,10,1,0,1,0", *_filler(big)]
    summed = [r.split(",") for r in rows if not month or r.split(",")[1] == month]
    n = len(summed)
    regs, amount, pats, tms, served, first = (sum(int(r[k]) for r in summed) for k in range(2, 8))
    total = f",{month},{regs},{amount},{pats},{tms},{served},{first}"
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join([CODES, *rows, total]) + "\n")
    _ingest(warehouse, path)
    assert _loaded(warehouse) == [("440300", "2025-03", 3, 30.0), ("440100", "2025-03", 1, 10.0)]
    reason = UNNAMED.format(n)
    assert _reasons(warehouse) == [(len(rows) + 2, reason)]
    _in_chinese(reason)


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_row_without_a_name_that_sums_nothing_keeps_its_missing_value_reason(warehouse, tmp_path, big):
    rows = [CODES, "440300,2025-03,3,30,2,0,2,0", "440100,2025-03,1,10,1,0,1,0", *_filler(big), ",2025-03,2,20,1,0,1,0"]
    _ingest(warehouse, _write(tmp_path / "质押_2025年3月.csv", "\n".join(rows) + "\n"))
    assert [r for _, r in _reasons(warehouse)] == ["missing value in city_code"]


def test_each_sheet_s_unnamed_total_row_sums_that_sheet(warehouse, tmp_path):
    # A workbook of month sheets, each closed by a total row whose label cells are merged and left empty.
    wb = openpyxl.Workbook()
    for i, (m, rows) in enumerate([("1月", [("440300", 3, 30), ("440100", 1, 10)]), ("2月", [("440300", 2, 20)] * 1)]):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = m
        ws.append(CODES.split(","))
        month = f"2025-0{i + 1}"
        for code, r, a in rows + ([("440100", 5, 50)] if i else []):
            ws.append([code, month, r, a, 1, 0, 1, 0])
        ws.append([None, None, *[sum(x[k] for x in ws.iter_rows(min_row=2, values_only=True)) for k in range(2, 8)]])
        ws.merge_cells(start_row=ws.max_row, start_column=1, end_row=ws.max_row, end_column=2)
    path = tmp_path / "质押_2025年1-2月.xlsx"
    wb.save(path)
    _ingest(warehouse, path)
    assert len(_loaded(warehouse)) == 4
    assert [r for _, r in _reasons(warehouse)] == [UNNAMED.format(2)] * 2
