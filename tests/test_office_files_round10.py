"""Office files as they are really sent (round 10): a second table on the same sheet with the file's own columns
(表2 上年同期, 2024年同期, 累计, 其中… above a repeated header, or a header repeated right after the table's 合计) is no
part of the file's records; a header repeated at a page break, or under 续表, is."""

from __future__ import annotations

import openpyxl
import pytest
from test_ingest_loaders import PLEDGE, TODAY, _write
from test_ingest_loaders import scan_filler as _filler

from pipelines.ingest import load
from pipelines.ingest.load import ingest_file
from pipelines.ingest.reason_labels import reason_text, refusal_text, unknown_reasons
from pipelines.sources import SOURCES

CODES = "城市代码,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"
FIRST = "440300,2025-03,3,30,2,0,2,0"
SECOND = "440100,2025-03,1,10,1,0,1,0"
HEADER = "header row repeated inside the table, not a record"
TITLE = "title of a second table on the sheet, not a record: '{}'"
UNDER = "read under the second table titled '{}' at row {}, not this file's records: send one table per file"
PATHS = ["reader", "scan", "polars"]


def _loaded(con) -> list[tuple]:
    return con.execute(
        "SELECT city_code, strftime(month, '%Y-%m'), registrations FROM raw.pledge_loans "
        "WHERE city_code NOT IN ('110100', '120100') ORDER BY _row_number"
    ).fetchall()


def _reasons(con) -> list[tuple]:
    return con.execute(
        "SELECT row_number, reason FROM raw.rejected_rows WHERE reason NOT LIKE 'duplicate record%' ORDER BY 1"
    ).fetchall()


def _ingest(con, path, how: str, monkeypatch):
    # reader: a small file (the Polars reader); scan: a big one through DuckDB's scan; polars: a big one with the
    # scan turned off (IPCITY_INGEST_SCAN=polars)
    monkeypatch.setattr(load, "SQL_SCAN", how != "polars")
    r = ingest_file(con, PLEDGE, path, partition=2025, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    return r


def _in_chinese(reason: str) -> None:
    assert unknown_reasons(reason) == [], reason
    assert reason_text(reason, "pledge_loans", "zh") != reason


@pytest.mark.parametrize("how", PATHS)
@pytest.mark.parametrize("title", ["表2 上年同期", "2024年同期", "表2 本年累计", "其中：专利质押", "表2 商标质押"])
def test_a_second_table_under_its_own_title_is_not_loaded_as_the_file_s_records(
    warehouse, tmp_path, how, title, monkeypatch
):
    # Before: the rows under '表2 上年同期' and the repeated header loaded as this file's March figures, silently
    # (last year's, a year to date, a part of a figure, another kind of pledge).
    filler = _filler(how != "reader")
    lines = [CODES, FIRST, *filler, ",,,,,,,", f"{title},,,,,,,", CODES, SECOND, "440400,2025-03,2,20,1,0,1,0"]
    _ingest(warehouse, _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n"), how, monkeypatch)
    assert _loaded(warehouse) == [("440300", "2025-03", 3)]
    t = len(filler) + 4
    under = UNDER.format(title, t)
    assert _reasons(warehouse) == [(t, TITLE.format(title)), (t + 1, HEADER), (t + 2, under), (t + 3, under)]
    _in_chinese(under)


@pytest.mark.parametrize("how", PATHS)
def test_a_header_repeated_right_after_the_table_s_total_starts_a_second_table(warehouse, tmp_path, how, monkeypatch):
    filler = _filler(how != "reader")
    lines = [CODES, FIRST, *filler, "合计,2025-03,3,30,2,0,2,0", CODES, SECOND]
    _ingest(warehouse, _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n"), how, monkeypatch)
    assert _loaded(warehouse) == [("440300", "2025-03", 3)]
    n = len(filler) + 3
    under = (
        f"read under the header repeated at row {n + 1} after the total row {n} ('合计'), a second table, not this "
        "file's records: send one table per file"
    )
    assert [r for _, r in _reasons(warehouse)][-2:] == [HEADER, under]
    _in_chinese(under)


@pytest.mark.parametrize("how", PATHS)
@pytest.mark.parametrize(
    "above",
    [
        [],
        ["续表,,,,,,,"],
        ["表1（续）,,,,,,,"],
        ["广东省小计,2025-03,3,30,2,0,2,0"],
        ["2025年3月质押融资统计表,,,,,,,"],
    ],
)
def test_a_header_repeated_at_a_page_break_or_under_a_continued_title_still_loads(
    warehouse, tmp_path, how, above, monkeypatch
):
    # An export's page break repeats the header (with 续表 above it, or after a group's 小计): the same table goes on.
    filler = _filler(how != "reader")
    # the last case: the table's own title, repeated above the header at each page break of the export
    lines = ["2025年3月质押融资统计表,,,,,,,", CODES, FIRST, *filler, *above, CODES, SECOND]
    _ingest(warehouse, _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n"), how, monkeypatch)
    assert _loaded(warehouse) == [("440300", "2025-03", 3), ("440100", "2025-03", 1)]


def test_a_workbook_s_second_table_under_its_title_is_not_loaded(warehouse, tmp_path, monkeypatch):
    wb = openpyxl.Workbook()
    ws = wb.active
    for line in [CODES, FIRST, "", "表2 2024年3月（上年同期）", CODES, SECOND]:
        ws.append([int(c) if c.isdigit() else c for c in line.split(",")] if line else [])
    ws.merge_cells("A4:H4")
    path = tmp_path / "质押_2025年3月.xlsx"
    wb.save(path)
    _ingest(warehouse, path, "reader", monkeypatch)
    assert _loaded(warehouse) == [("440300", "2025-03", 3)]
    title = "表2 2024年3月（上年同期）"
    assert _reasons(warehouse) == [(4, TITLE.format(title)), (5, HEADER), (6, UNDER.format(title, 4))]


# ------------------------------------------------------------------------------ two tables side by side

BESIDE = (
    "two tables side by side: columns A–H and J–Q, with the empty column band I–I between them, each with a '城市代码' "
    "column; which one is this file's table cannot be told (send each table in its own file or sheet)"
)


@pytest.mark.parametrize("how", PATHS)
def test_two_tables_side_by_side_are_refused_naming_both_and_the_band_between(warehouse, tmp_path, how, monkeypatch):
    # Before: "column 'city_code' appears twice (header '城市代码' repeated)", which did not say two tables were sent.
    filler = [f"{r},,{r}" for r in _filler(how != "reader")]
    lines = [f"{CODES},,{CODES}", f"{FIRST},,{FIRST.replace('2025-03', '2024-03')}", *filler]
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n")
    with pytest.raises(load.IngestError) as e:
        _ingest(warehouse, path, how, monkeypatch)
    assert str(e.value).endswith(BESIDE)
    assert refusal_text(BESIDE, "zh") != BESIDE
    assert "A–H" in refusal_text(BESIDE, "zh") and "I–I" in refusal_text(BESIDE, "zh")


def test_a_workbook_s_two_tables_side_by_side_are_refused_so_too(warehouse, tmp_path, monkeypatch):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["2025年3月质押融资统计表"])
    ws.append(CODES.split(",") + [None, None] + CODES.split(","))
    ws.append(FIRST.split(",") + [None, None] + FIRST.split(","))
    path = tmp_path / "质押_2025年3月.xlsx"
    wb.save(path)
    with pytest.raises(load.IngestError) as e:
        _ingest(warehouse, path, "reader", monkeypatch)
    assert "columns A–H and K–R, with the empty column band I–J between them" in str(e.value)


# ------------------------------------------------------------------------------ a city merged over its districts

WITH_DISTRICT = "城市,区县,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"
FILLED = (
    "filled city_code of {} from the row above: a city cell merged over its districts, left blank below its "
    "first row (each row's district is in that city)"
)


def _county_units(con, tmp_path):
    from test_office_files_round7 import COUNTY_UNITS

    ingest_file(con, SOURCES["cities"], _write(tmp_path / "ref" / "units.csv", "\n".join(COUNTY_UNITS) + "\n"))


@pytest.mark.parametrize("how", PATHS)
def test_a_city_merged_over_its_districts_and_saved_as_csv_takes_the_city_above(warehouse, tmp_path, how, monkeypatch):
    # Before: the rows below the merged 北京 cell were refused as "missing value in city_code" (朝阳 is a unit).
    _county_units(warehouse, tmp_path)
    filler = [r.replace("110100,", "北京,,", 1).replace("120100,", "天津,,", 1) for r in _filler(how != "reader")]
    lines = [
        WITH_DISTRICT,
        *filler,
        "北京,海淀,2025-03,3,30,2,0,2,0",
        ",朝阳,2025-03,2,20,1,0,1,0",
        ",浦东新区,2025-03,1,10,1,0,1,0",  # Shanghai's district under Beijing: no city of its own to take
        ",,2025-03,5,50,3,0,3,0",  # no district: not filled (a subtotal, a stray row)
    ]
    r = _ingest(warehouse, _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n"), how, monkeypatch)
    assert _loaded(warehouse) == [("110108", "2025-03", 3), ("110105", "2025-03", 2)]
    assert FILLED.format("1 row") in r.notes
    reasons = dict(_reasons(warehouse))
    n = len(filler)
    assert reasons[n + 4] == "missing value in city_code" and n + 5 in reasons
    assert reason_text(FILLED.format("1 row"), "pledge_loans", "zh") != FILLED.format("1 row")


def test_a_workbook_s_city_merged_over_its_districts_is_read_into_each_row(warehouse, tmp_path, monkeypatch):
    _county_units(warehouse, tmp_path)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(WITH_DISTRICT.split(","))
    ws.append(["北京", "海淀", "2025-03", 3, 30, 2, 0, 2, 0])
    ws.append([None, "朝阳", "2025-03", 2, 20, 1, 0, 1, 0])
    ws.merge_cells("A2:A3")
    path = tmp_path / "质押_2025年3月.xlsx"
    wb.save(path)
    _ingest(warehouse, path, "reader", monkeypatch)
    got = warehouse.execute("SELECT city_code, registrations FROM raw.pledge_loans ORDER BY _row_number").fetchall()
    assert got == [("110108", 3), ("110105", 2)]
