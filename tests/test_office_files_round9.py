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


# --------------------------------------------------------------------- districts named without their kind

DISTRICT = (
    "district name in city_code: '{}' is a county-level area ({}), not a unit of the programme (report its figures "
    "on its city's row, or write the district's code)"
)


def _names(con, tmp_path, rows: list[str], name: str = "a.csv"):
    return _ingest(con, _write(tmp_path / name, "\n".join([NAMES, *rows]) + "\n"))


def test_a_district_named_without_its_kind_is_read_as_its_full_name(warehouse, tmp_path):
    # Before: 海淀 and 东城 (海淀区, 东城区 in the county list) were "unknown city name": the office was told the
    # name does not exist. Now they are read as their full names are: districts, no units, with their codes.
    _names(warehouse, tmp_path, ["北京,2025-03,3,30,2,0,2,0", "海淀,2025-03,2,20,1,0,1,0", "东城,2025-03,1,10,1,0,1,0"])
    assert [c for c, *_ in _loaded(warehouse, "true")] == ["110100"]
    got = _reasons(warehouse)
    assert got == [(3, DISTRICT.format("海淀", "110108")), (4, DISTRICT.format("东城", "110101"))]
    _in_chinese(got[0][1])


def test_a_district_stem_several_districts_bear_is_told_by_the_file_s_city_or_names_its_candidates(warehouse, tmp_path):
    # 鼓楼: 鼓楼区 of Nanjing (320106) and of Xuzhou (320302) in Jiangsu, of Fuzhou and Kaifeng elsewhere.
    _names(warehouse, tmp_path, ["玄武,2025-03,3,30,2,0,2,0", "鼓楼,2025-03,1,10,1,0,1,0", "秦淮,2025-03,1,10,1,0,1,0"])
    assert _reasons(warehouse)[1] == (3, DISTRICT.format("鼓楼", "320106"))  # the file's other rows are Nanjing's
    _names(warehouse, tmp_path, ["无锡,2025-04,3,30,2,0,2,0", "鼓楼,2025-04,1,10,1,0,1,0"], "b.csv")
    assert (3, DISTRICT.format("鼓楼", "320106, 320302")) in _reasons(warehouse)  # Jiangsu: two candidates


def test_a_district_that_is_a_programme_unit_loads_by_its_stem(warehouse, tmp_path):
    # raw.cities names the unit by its full name only (鼓楼区, no short name): '鼓楼' in a Nanjing table is that unit.
    units = [
        "province_code,province_name,city_code,city_name,city_name_short,level,parent_code,pinyin,lng,lat,coord_note",
        "320000,江苏省,320106,鼓楼区,鼓楼区,municipal_district,320100,,118.8,32.1,parent",
    ]
    ingest_file(warehouse, SOURCES["cities"], _write(tmp_path / "ref" / "units.csv", "\n".join(units) + "\n"))
    r = _names(warehouse, tmp_path, ["南京,2025-03,3,30,2,0,2,0", "鼓楼,2025-04,1,10,1,0,1,0"])
    assert [c for c, *_ in _loaded(warehouse, "true")] == ["320100", "320106"]
    note = "read '鼓楼' in city_code as the unit 320106: the county-level area of this name"
    assert note in r.notes
    from pipelines.ingest.reason_labels import notes_both

    assert "按单位 320106 读取" in notes_both(note, "pledge_loans")


# ---------------------------------------------------------------- a district column beside the city's

WITH_DISTRICT = "{},{},月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"
DISTRICT_ROW = (
    "district row: '{}' in the district column is a county-level area of {} ({}), not a unit of the programme: its "
    "figures are part of the city's, not its record (report the city's figures on one row, or write the district's "
    "code)"
)


@pytest.mark.parametrize(
    "city,district,beijing,shenzhen",
    [
        ("城市", "区县", "北京", "深圳"),
        ("城市代码", "县(市、区)", "110100", "440300"),
        ("地市", "所属区县", "北京市", "深圳市"),
    ],
)
def test_a_district_s_figures_are_never_loaded_as_its_city_s(warehouse, tmp_path, city, district, beijing, shenzhen):
    # Before: the district column was an ignored extra column, so 东城's figures loaded as Beijing's record (and
    # 海淀's as a duplicate of it), silently. Now a district row is refused as the part of its city it is; the row
    # whose district cell is empty is the city's own and loads.
    rows = [
        f"{beijing},东城,2025-03,3,30,2,0,2,0",
        f"{beijing},海淀区,2025-03,2,20,1,0,1,0",
        f"{shenzhen},,2025-03,6,60,4,0,4,0",
        f"{shenzhen},深圳市,2025-04,1,10,1,0,1,0",  # the city's own name in the district cell: the city's row
        f"{shenzhen},火星,2025-03,1,10,1,0,1,0",
    ]
    header = WITH_DISTRICT.format(city, district)
    big = _filler(True) if city == "城市代码" else []  # a file big enough for the scan reads the same
    r = _ingest(warehouse, _write(tmp_path / "质押_2025年3月.csv", "\n".join([header, *rows, *big]) + "\n"))
    assert _loaded(warehouse) == [("440300", "2025-03", 6, 60.0), ("440300", "2025-04", 1, 10.0)]
    got = _reasons(warehouse)
    assert got[:2] == [
        (2, DISTRICT_ROW.format("东城", "110100", "110101")),
        (3, DISTRICT_ROW.format("海淀区", "110100", "110108")),
    ]
    assert got[2][0] == 6 and got[2][1].startswith("district row: '火星' in the district column names no county-level")
    for _, reason in got:
        _in_chinese(reason)
    assert f"'{district}' read as the rows' districts (each row a district's figures, not its city's)" in r.notes


def test_a_district_column_s_programme_unit_loads_as_that_unit(warehouse, tmp_path):
    from test_office_files_round7 import COUNTY_UNITS

    ingest_file(warehouse, SOURCES["cities"], _write(tmp_path / "ref" / "units.csv", "\n".join(COUNTY_UNITS) + "\n"))
    rows = [
        WITH_DISTRICT.format("城市", "区县"),
        "北京,海淀,2025-03,3,30,2,0,2,0",
        "上海,浦东新区,2025-03,2,20,1,0,1,0",
    ]
    r = _ingest(warehouse, _write(tmp_path / "a.csv", "\n".join(rows) + "\n"))
    assert [c for c, *_ in _loaded(warehouse, "true")] == ["110108", "310115"]
    assert "read the row of 110100 and district '海淀' as the unit 110108 (the district)" in r.notes


def test_a_table_of_districts_alone_is_read_by_their_names(warehouse, tmp_path):
    # Before: a table whose only name column is 区县 was refused whole: "missing required column(s): city_code".
    rows = [WITH_DISTRICT.format("区县", "月份").replace("月份,月份", "月份"), "海淀,2025-03,3,30,2,0,2,0"]
    _ingest(warehouse, _write(tmp_path / "a.csv", "\n".join(rows) + "\n"))
    assert _reasons(warehouse) == [(2, DISTRICT.format("海淀", "110108"))]


def test_a_named_row_whose_name_is_unread_is_no_unnamed_total(warehouse, tmp_path):
    # 吉林 (province or city, untold) sums the other rows by chance: its own reason stands, it is no blank name.
    lines = [NAMES, "深圳,2025-03,2,20,1,0,1,0", "长春,2025-03,1,10,1,0,1,0", "吉林,2025-03,3,30,2,0,2,0"]
    _names(warehouse, tmp_path, lines[1:])
    assert _reasons(warehouse)[0][1].startswith("city name in city_code names a province and a unit: '吉林'")


# ------------------------------------------------------------------------- two tables on one sheet


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_second_table_s_title_line_is_named_as_one(warehouse, tmp_path, big):
    # Before: '表2 商标质押' above the second table's header was refused as "unknown region code in city_code: '表2
    # 商标质押'; missing value in month; missing value in registrations; …" (eight reasons, none the fault).
    lines = [CODES, "440300,2025-03,3,30,2,0,2,0", *_filler(big), ",,,,,,,", "表2 商标质押,,,,,,,", CODES]
    lines += ["440100,2025-03,1,10,1,0,1,0"]
    _ingest(warehouse, _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n"))
    # (round 10: its rows are trademark pledges, another table's, not this file's records: no longer loaded)
    assert _loaded(warehouse) == [("440300", "2025-03", 3, 30.0)]
    title = "title of a second table on the sheet, not a record: '表2 商标质押'"
    under = f"read under the second table titled '表2 商标质押' at row {len(lines) - 2}, not this file's records: "
    under += "send one table per file"
    assert [r for _, r in _reasons(warehouse)] == [title, "header row repeated inside the table, not a record", under]
    _in_chinese(title)


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_unnamed_subtotal_rows_close_the_blocks_above_them(warehouse, tmp_path, big):
    # A national table grouped by province: each province's cities, then a blank-named row of their sums, and a
    # blank-named grand total of every city at the end.
    filler = _filler(big)
    rows = ["440300,2025-03,3,30,2,0,2,0", "440100,2025-03,1,10,1,0,1,0", ",2025-03,4,40,3,0,3,0"]
    rows += ["320100,2025-03,2,20,1,0,1,0", "320200,2025-03,2,20,1,0,1,0", ",2025-03,4,40,2,0,2,0"]
    march = [r.split(",") for r in filler if r.split(",")[1] == "2025-03"]
    total = [8 + sum(int(r[2]) for r in march), 80 + sum(int(r[3]) for r in march)]
    total += [5 + 5 * len(march), len(march), 5 + 4 * len(march), 2 * len(march)]
    lines = [CODES, *rows, *filler, ",2025-03," + ",".join(str(v) for v in total)]
    _ingest(warehouse, _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n"))
    assert [c for c, *_ in _loaded(warehouse)] == ["440300", "440100", "320100", "320200"]
    sub = "subtotal row without a name: city_code blank and its figures the sums of the {} rows above it, not a record"
    got = [r for _, r in _reasons(warehouse)]
    assert got == [sub.format(2), sub.format(2), UNNAMED.format(4 + len(march))]
    _in_chinese(sub.format(2))


def test_a_case_s_district_column_leaves_the_case_its_city_s(warehouse, tmp_path):
    # A case or a training event in 海淀 is a record of Beijing all the same: no district rows there.
    lines = ["案件编号,城市,区县,案件类型,立案日期", "A1,北京,海淀,trademark,2025-03-02"]
    path = _write(tmp_path / "cases_2025.csv", "\n".join(lines) + "\n")
    r = _ingest(warehouse, path, SOURCES["enforcement_cases"])
    assert warehouse.execute("SELECT case_id, city_code FROM raw.enforcement_cases").fetchall() == [("A1", "110100")]
    assert "ignored extra column: 区县" in r.notes
