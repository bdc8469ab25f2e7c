"""Office files as they are really sent (round 7): a name in a city column that is a province's too (吉林, 海南) or a
district's (中山 in a Dalian table, 南山区), an old 地区 name (海东地区), a count written 1.2万, a footnote marker after a
figure (12.5①, 12.5*), a month written as its first and last day, a unit in a group title over 笔数 | 金额, training
records without an 活动编号, and Polars' is_in on a Series of the same type (deprecated: ambiguous)."""

from __future__ import annotations

import warnings

import openpyxl
import polars as pl
import pytest
from test_ingest_loaders import PLEDGE, TODAY, _write
from test_ingest_loaders import scan_filler as _filler

from pipelines.ingest import contract_sql
from pipelines.ingest.load import ingest_file
from pipelines.ingest.reason_labels import reason_text, unknown_reasons
from pipelines.sources import SOURCES

CODES = "城市代码,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"
NAMES = "地区,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"
TRAINING = SOURCES["training_events"]


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


# ------------------------------------------------------------------------------------------ footnotes, 万 counts


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_footnote_marker_after_a_figure_is_not_a_digit_of_it(warehouse, tmp_path, big):
    # Before: NFKC made ① the digit 1 and ¹ too: 12.5① loaded as 12.51, silently; 12.5* and 12.5※ were refused.
    rows = [
        "440300,2025-03,3,12.5①,2,0,2,0",
        "440100,2025-03,3*,12.5※,2,0,2,0",
        "440200,2025-03,3,12.5¹,2,0,2,0",
        "440400,2025-03,3,1200⑵,2,0,2,0",
        "440500,2025-03,3,12.5[1],2,0,2,0",
        "440600,2025-03,3,12.5注2,2,0,2,0",
    ]
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join([CODES, *rows, *_filler(big)]) + "\n")
    r = _ingest(warehouse, path)
    got = _loaded(warehouse)
    assert got == [
        (c, "2025-03", 3, v)
        for c, v in [
            ("440300", 12.5),
            ("440100", 12.5),
            ("440200", 12.5),
            ("440400", 1200.0),
            ("440500", 12.5),
            ("440600", 12.5),
        ]
    ]
    assert "read 6 cells of amount_10k_yuan with a footnote marker (12.5*, 12.5①) as the number before it" in r.notes


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_count_written_in_wan_is_read_exactly_and_a_fraction_of_one_is_refused(warehouse, tmp_path, big):
    # Before: '1.2万' in 登记笔数 was "not a number": a good row refused.
    rows = [
        "440300,2025-03,1.2万,30000,2,0,2,0",
        "440100,2025-03,1.23456万,30000,2,0,2,0",  # 12345.6 registrations: no whole number, never rounded
        "440200,2025-03,3万笔,300000,300,0,2,0",
    ]
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join([CODES, *rows, *_filler(big)]) + "\n")
    _ingest(warehouse, path)
    assert _loaded(warehouse) == [("440300", "2025-03", 12000, 30000.0), ("440200", "2025-03", 30000, 300000.0)]
    assert _reasons(warehouse) == [(3, "not a whole number in registrations: 12345.6")]


# ---------------------------------------------------------------------------- names of provinces and districts


def test_a_province_s_short_name_in_a_table_of_several_provinces_is_refused_not_read_as_its_city(warehouse, tmp_path):
    # Before: 吉林 loaded as the city 吉林市 (220200) whatever the table: a province's row became a city's, silently.
    lines = [NAMES, "深圳,2025-03,2,20,1,0,1,0", "长春,2025-03,1,10,1,0,1,0", "吉林,2025-03,3,30,2,0,2,0"]
    _ingest(warehouse, _write(tmp_path / "a.csv", "\n".join(lines) + "\n"))
    assert [c for c, *_ in _loaded(warehouse)] == ["440300", "220100"]
    reason = (
        "city name in city_code names a province and a unit: '吉林' is province 220000 or unit 220200, and the file's "
        "other rows do not tell which (write the unit's full name or its code; a province's total is no city's record)"
    )
    assert _reasons(warehouse) == [(4, reason)]
    _in_chinese(reason)


def test_a_province_s_short_name_among_its_own_cities_is_the_city_and_said_so(warehouse, tmp_path):
    lines = [NAMES, "长春,2025-03,2,20,1,0,1,0", "四平,2025-03,1,10,1,0,1,0", "吉林,2025-03,4,30,2,0,2,0"]
    r = _ingest(warehouse, _write(tmp_path / "a.csv", "\n".join(lines) + "\n"))
    assert [c for c, *_ in _loaded(warehouse)] == ["220100", "220300", "220200"]
    note = "read '吉林' in city_code as the unit 220200: the file's other rows are units of its province"
    assert note in r.notes


def test_a_province_s_short_name_whose_figures_sum_its_cities_is_the_province_s_total(warehouse, tmp_path):
    lines = [NAMES, "长春,2025-03,2,20,1,0,1,0", "四平,2025-03,1,10,1,0,1,0", "吉林,2025-03,3,30,2,0,2,0"]
    _ingest(warehouse, _write(tmp_path / "a.csv", "\n".join(lines) + "\n"))
    assert [c for c, *_ in _loaded(warehouse)] == ["220100", "220300"]
    reason = (
        "total row: '吉林' in city_code names a province and a unit, and its figures are the sum of the file's other "
        "rows of province 220000 for the same month: the province's total, not the unit's record"
    )
    assert _reasons(warehouse) == [(4, reason)]
    _in_chinese(reason)


@pytest.mark.parametrize(
    "name,others,expected",
    [
        ("海南", ["海口", "三亚"], "total row: province code 460000 in city_code where a city is expected"),
        ("吉林省", ["长春", "四平"], "total row: province code 220000 in city_code where a city is expected"),
        ("广东", ["深圳", "广州"], "total row: province code 440000 in city_code where a city is expected"),
        ("内蒙古自治区", ["呼和浩特", "包头"], "total row: province code 150000 in city_code where a city is expected"),
    ],
)
def test_a_province_s_name_in_a_city_column_is_its_total_row(warehouse, tmp_path, name, others, expected):
    # Before: 海南 among Hainan's cities loaded as 海南藏族自治州 (632500, Qinghai); 吉林省, 广东 were "unknown city".
    lines = [NAMES, *[f"{o},2025-03,{i + 1},10,1,0,1,0" for i, o in enumerate(others)], f"{name},2025-03,9,90,2,0,2,0"]
    _ingest(warehouse, _write(tmp_path / "a.csv", "\n".join(lines) + "\n"))
    assert len(_loaded(warehouse)) == 2 and _reasons(warehouse) == [(4, expected)]


def test_a_province_s_short_name_that_is_a_prefecture_there_is_the_prefecture(warehouse, tmp_path):
    lines = [NAMES, "西宁,2025-03,2,20,1,0,1,0", "海东,2025-03,1,10,1,0,1,0", "海南,2025-03,5,70,2,0,2,0"]
    _ingest(warehouse, _write(tmp_path / "a.csv", "\n".join(lines) + "\n"))
    assert [c for c, *_ in _loaded(warehouse)] == ["630100", "630200", "632500"]


def test_a_district_s_name_that_is_a_city_elsewhere_is_refused_in_its_province_s_table(warehouse, tmp_path):
    # Before: 中山 in a Dalian table (中山区) loaded as 中山市 of Guangdong (442000), silently.
    lines = [NAMES, "大连,2025-03,2,20,1,0,1,0", "中山,2025-03,1,10,1,0,1,0"]
    _ingest(warehouse, _write(tmp_path / "a.csv", "\n".join(lines) + "\n"))
    assert [c for c, *_ in _loaded(warehouse)] == ["210200"]
    reason = (
        "city name in city_code names a unit of another province: '中山' is 442000, while the file's other rows lie "
        "in province 210000 and a district there bears this name (write the full name or the code)"
    )
    assert _reasons(warehouse) == [(3, reason)]
    _in_chinese(reason)
    # in Guangdong's own table it is the city
    lines = [NAMES, "广州,2025-04,2,20,1,0,1,0", "中山,2025-04,1,10,1,0,1,0"]
    _ingest(warehouse, _write(tmp_path / "b.csv", "\n".join(lines) + "\n"))
    assert [c for c, *_ in _loaded(warehouse, "month = DATE '2025-04-01'")] == ["440100", "442000"]


def test_a_district_that_is_no_unit_is_refused_saying_it_is_a_district(warehouse, tmp_path):
    lines = [NAMES, "深圳,2025-03,2,20,1,0,1,0", "南山区,2025-03,1,10,1,0,1,0"]
    _ingest(warehouse, _write(tmp_path / "a.csv", "\n".join(lines) + "\n"))
    reason = (
        "district name in city_code: '南山区' is a county-level area (230404, 440305), not a unit of the programme "
        "(report its figures on its city's row, or write the district's code)"
    )
    assert _reasons(warehouse) == [(3, reason)]
    _in_chinese(reason)


COUNTY_UNITS = [
    "province_code,province_name,city_code,city_name,city_name_short,level,parent_code,pinyin,lng,lat,coord_note",
    "310000,上海市,310115,浦东新区,浦东新,municipal_district,310100,,121.5,31.2,parent",
    "110000,北京市,110105,朝阳区,朝阳,municipal_district,110100,,116.4,39.9,parent",
    "110000,北京市,110108,海淀区,海淀,municipal_district,110100,,116.3,39.9,parent",
]


def test_a_district_that_is_a_programme_unit_loads_as_that_unit(warehouse, tmp_path):
    # (raw.cities holds the county-level programme units as the pipeline loads them: 浦东新区, short name 浦东新)
    ingest_file(warehouse, SOURCES["cities"], _write(tmp_path / "ref" / "units.csv", "\n".join(COUNTY_UNITS) + "\n"))
    lines = [NAMES, "浦东新区,2025-03,2,20,1,0,1,0", "浦东,2025-04,1,10,1,0,1,0", "海淀区,2025-03,3,30,2,0,2,0"]
    lines += ["海淀,2025-04,3,30,2,0,2,0", "朝阳区,2025-03,3,30,2,0,2,0"]
    _ingest(warehouse, _write(tmp_path / "a.csv", "\n".join(lines) + "\n"))
    assert [c for c, *_ in _loaded(warehouse)] == ["310115", "310115", "110108", "110108", "110105"]
    # a Changchun district of the same name as Beijing's unit is not Beijing's
    lines = [NAMES, "长春,2025-05,2,20,1,0,1,0", "朝阳区,2025-05,1,10,1,0,1,0"]
    _ingest(warehouse, _write(tmp_path / "b.csv", "\n".join(lines) + "\n"))
    assert [c for c, *_ in _loaded(warehouse, "month = DATE '2025-05-01'")] == ["220100"]
    assert _reasons(warehouse)[-1][1].startswith("city name in city_code names a unit of another province: '朝阳区'")


@pytest.mark.parametrize("old,code", [("海东地区", "630200"), ("吐鲁番地区", "650400"), ("毕节地区", "520500")])
def test_a_prefecture_s_old_diqu_name_is_read_as_the_prefecture(warehouse, tmp_path, old, code):
    # Before: 海东地区 (海东市 since 2013) was an unknown city name: a good row refused.
    lines = [NAMES, f"{old},2025-03,2,20,1,0,1,0", "阿克苏地区,2025-03,1,10,1,0,1,0"]
    _ingest(warehouse, _write(tmp_path / "a.csv", "\n".join(lines) + "\n"))
    assert [c for c, *_ in _loaded(warehouse)] == [code, "652900"]


def test_names_are_read_the_same_in_a_file_big_enough_for_the_scan(warehouse, tmp_path):
    filler = [f"长春,2025-{m:02d},5,500,5,1,4,2" for m in range(1, 13)] * 3500
    # 朝阳: 朝阳市 in Liaoning, and a district of Changchun (朝阳区)
    lines = [NAMES, "吉林,2025-03,4,30,2,0,2,0", "四平,2025-03,1,10,1,0,1,0", "朝阳,2025-03,1,10,1,0,1,0", *filler]
    logged = len(contract_sql.READ_LOG)
    _ingest(warehouse, _write(tmp_path / "big.csv", "\n".join(lines) + "\n"))
    assert any(how.startswith("reader") for _, how in contract_sql.READ_LOG[logged:])  # names: the Polars rules
    assert [c for c, *_ in _loaded(warehouse, "city_code <> '220100'")] == ["220200", "220300"]
    assert _reasons(warehouse)[0][1].startswith("city name in city_code names a unit of another province: '朝阳'")


# -------------------------------------------------------------------------------------------- a month as a range


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_month_written_as_its_first_and_last_day_is_that_month(warehouse, tmp_path, big):
    # Before: '2025-03-01至2025-03-31' was "not a date": a monthly report's good rows refused.
    rows = [
        "440300,2025-03-01至2025-03-31,3,30,2,0,2,0",
        "440100,2025年2月1日至2月28日,3,30,2,0,2,0",
        "440200,2025/5/1~2025/5/31,3,30,2,0,2,0",
        "440400,2025-01-01至2025-03-31,3,30,2,0,2,0",
        "440500,2025.4.1-2025.4.15,3,30,2,0,2,0",
    ]
    path = _write(tmp_path / "质押_2025.csv", "\n".join([CODES, *rows, *_filler(big)]) + "\n")
    _ingest(warehouse, path)
    assert [(c, m) for c, m, *_ in _loaded(warehouse)] == [
        ("440300", "2025-03"),
        ("440100", "2025-02"),
        ("440200", "2025-05"),
    ]
    several = (
        "several months in month: '2025-01-01至2025-03-31' is a quarter, half year or year to date, not one month "
        "(send each month's own figures)"
    )
    part = (
        "part of a month in month: '2025.4.1-2025.4.15' covers some of the month's days, not the whole month (send "
        "the month's own figures)"
    )
    assert _reasons(warehouse) == [(5, several), (6, part)]
    _in_chinese(part)


# ----------------------------------------------------------------------------------- a unit in a group title


def _grouped_workbook(path, title: str, lower=("笔数", "金额"), amount=2.5):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["城市代码", "月份", title, None, "质押专利数", "质押商标数", "服务企业数", "首贷企业数"])
    ws.append([None, None, *lower, None, None, None, None])
    ws.append(["440300", "2025-03", 3, amount, 2, 0, 2, 0])
    ws.merge_cells("C1:D1")
    wb.save(path)
    return path


@pytest.mark.parametrize(
    "title,lower",
    [
        ("质押融资（亿元）", ("笔数", "金额")),
        ("质押融资(亿元)", ("笔数", "金额")),
        ("知识产权质押融资（单位：亿元）", ("笔数", "金额")),
        ("质押融资（亿元）", ("笔数", "质押金额")),
    ],
)
def test_a_unit_in_a_group_title_over_count_and_amount_converts_the_amount(warehouse, tmp_path, title, lower):
    # Before: 笔数 under 质押融资（亿元） named no column (the file was refused) or, with 质押金额 under it, 2.5 亿元
    # loaded as 2.5 万元.
    r = _ingest(warehouse, _grouped_workbook(tmp_path / "质押_2025年3月.xlsx", title, lower))
    assert _loaded(warehouse) == [("440300", "2025-03", 3, 25000.0)], r.notes


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_unit_in_a_group_title_of_a_csv_converts_the_amount_on_both_paths(warehouse, tmp_path, big):
    lines = [
        "城市代码,月份,质押融资（亿元）,,质押专利数,质押商标数,服务企业数,首贷企业数",
        ",,笔数,质押金额,,,,",
        "440300,2025-03,3,2.5,2,0,2,0",
        *[x.replace(",500,", ",0.05,") for x in _filler(big)],
    ]
    _ingest(warehouse, _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n"))
    assert _loaded(warehouse) == [("440300", "2025-03", 3, 25000.0)]


def test_a_group_title_without_a_unit_leaves_the_amounts_as_the_header_says(warehouse, tmp_path):
    path = _grouped_workbook(tmp_path / "质押_2025年3月.xlsx", "质押融资", ("笔数", "质押金额(万元)"), 2500)
    _ingest(warehouse, path)
    assert _loaded(warehouse) == [("440300", "2025-03", 3, 2500.0)]


# ------------------------------------------------------------------------------------ training without 活动编号

TRAINING_HEADER = "城市代码,培训日期,培训对象,参训人数,学时,主题"


def test_training_records_without_an_event_id_get_a_stable_id_from_what_the_event_is(warehouse, tmp_path):
    # Before: "missing required column(s): event_id (or 活动编号)": a whole file of good records refused.
    rows = ["440300,2025-03-05,企业,50,3,专利导航", "440100,2025-03-06,企业,40,2,"]
    r = _ingest(warehouse, _write(tmp_path / "培训_2025.csv", "\n".join([TRAINING_HEADER, *rows]) + "\n"), TRAINING)
    assert r.rows_loaded == 2
    assert "event_id derived from city_code, event_date, audience, title (the file has no 活动编号 column)" in r.notes
    first = warehouse.execute("SELECT event_id, participants FROM raw.training_events ORDER BY event_id").fetchall()
    assert all(e.startswith("D-") and len(e) == 18 for e, _ in first)
    # The same events sent again in other spellings, one figure corrected: the same ids, corrected, not doubled.
    again = ["440300,2025/3/5,企业,55,3,专利导航", "440100,2025年3月6日,enterprises,40,2,"]
    r = _ingest(
        warehouse, _write(tmp_path / "培训_2025_更正.csv", "\n".join([TRAINING_HEADER, *again]) + "\n"), TRAINING
    )
    got = warehouse.execute("SELECT event_id, participants FROM raw.training_events ORDER BY event_id").fetchall()
    assert [e for e, _ in got] == [e for e, _ in first] and sorted(p for _, p in got) == [40, 55]


def test_the_same_event_twice_in_a_file_without_ids_is_a_duplicate_not_two_events(warehouse, tmp_path):
    rows = ["440300,2025-03-05,企业,50,3,专利导航", "440300,2025-03-05,企业,50,3,专利导航"]
    r = _ingest(warehouse, _write(tmp_path / "培训_2025.csv", "\n".join([TRAINING_HEADER, *rows]) + "\n"), TRAINING)
    assert (r.rows_loaded, r.rows_rejected) == (1, 1)


# ------------------------------------------------------------------------------------------- Polars' is_in


def test_repeated_header_rows_are_found_without_polars_ambiguous_is_in():
    # Before: `is_in` of a column against a Series of its own type (DeprecationWarning: ambiguous; the next Polars
    # reads it as a list per row). Now the Series is imploded, as Polars recommends.
    from pipelines.ingest.readers import ROW_NUMBER, flag_repeated_headers

    df = pl.DataFrame(
        {ROW_NUMBER: [2, 3, 4], "城市代码": ["440300", "城市代码", "440100"], "月份": ["2025-03", "月份", "2025-04"]}
    )
    with warnings.catch_warnings(record=True) as caught:  # (raised from Polars' engine: recorded, not raised)
        warnings.simplefilter("always")
        out = flag_repeated_headers(df, PLEDGE)
    assert not [w for w in caught if "is_in" in str(w.message)], [str(w.message) for w in caught]
    assert out["__repeated_header"].is_not_null().to_list() == [False, True, False]


# ----------------------------------------------------------------------------- a sheet that sums the others


def _monthly_book(path, total_sheet: str | None, total_rows: list[list]):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    header = CODES.split(",")
    for m in (1, 2, 3):
        ws = wb.create_sheet(f"{m}月")
        ws.append(header)
        ws.append(["440300", f"2025-{m:02d}", m, m * 100, m, 0, m, 0])
    if total_sheet:
        ws = wb.create_sheet(total_sheet)
        ws.append(header)
        for row in total_rows:
            ws.append(row)
    wb.save(path)
    return path


@pytest.mark.parametrize("name", ["一季度合计", "合计", "1-3月累计", "Q1"])
def test_a_sheet_summing_the_month_sheets_is_refused_row_by_row_not_loaded(warehouse, tmp_path, name):
    # Before: its rows were records: a city absent from the 3月 sheet loaded the quarter's figures as March's,
    # silently (a city present in both was a "conflicting records" pair).
    rows = [["440300", "2025-03", 6, 600, 6, 0, 6, 0], ["440100", "2025-03", 9, 900, 9, 0, 9, 0]]
    r = _ingest(warehouse, _monthly_book(tmp_path / "质押_2025.xlsx", name, rows))
    assert _loaded(warehouse) == [("440300", f"2025-{m:02d}", m, m * 100.0) for m in (1, 2, 3)]
    reason = f"total sheet: sheet '{name}' sums the workbook's other sheets, its rows are no records"
    assert r.rows_rejected == 2 and _reasons(warehouse) == [(2, reason), (3, reason)]
    _in_chinese(reason)


def test_a_workbook_s_one_table_on_a_sheet_called_huizong_loads(warehouse, tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "汇总表"
    wb.active.append(CODES.split(","))
    wb.active.append(["440300", "2025-03", 3, 300, 3, 0, 3, 0])
    wb.save(path := tmp_path / "质押_2025年3月.xlsx")
    _ingest(warehouse, path)
    assert _loaded(warehouse) == [("440300", "2025-03", 3, 300.0)]


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_year_written_with_niandu_is_the_year(warehouse, tmp_path, big):
    # Before: '2024年度' in 年份 was "not a number": a good row refused ('24年' stays refused: which century?).
    filler = ["110100,2020,100,300"] * (60000 if big else 0)
    lines = ["地区代码,年份,发明专利授权量,专利授权总量", "440300,2024年度,100,300", "440100,24年,100,300", *filler]
    path = _write(tmp_path / "专利统计.csv", "\n".join(lines) + "\n")
    r = ingest_file(warehouse, SOURCES["patent_stats"], path, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    got = warehouse.execute("SELECT region_code, year FROM raw.patent_stats WHERE region_code <> '110100'").fetchall()
    assert got == [("440300", 2024)]
    assert warehouse.execute("SELECT reason FROM raw.rejected_rows WHERE row_number = 3").fetchall() == [
        ("value below minimum in year: 24 (min 1985)",)
    ]


@pytest.mark.parametrize("label", ["全省", "全市", "全省："])
def test_a_whole_area_row_without_heji_is_a_total_row(warehouse, tmp_path, label):
    # Before: 全省 was "unknown city name": not loaded, but refused for the wrong reason.
    lines = [NAMES, "深圳,2025-03,2,20,1,0,1,0", "广州,2025-03,1,10,1,0,1,0", f"{label},2025-03,3,30,2,0,2,0"]
    _ingest(warehouse, _write(tmp_path / "a.csv", "\n".join(lines) + "\n"))
    assert _reasons(warehouse) == [(4, f"total row ('{label}'): a sum of other rows, not a record")]
    assert [c for c, *_ in _loaded(warehouse)] == ["440300", "440100"]
