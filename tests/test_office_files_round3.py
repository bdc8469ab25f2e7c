"""Office files as they are really sent (round 3): each case a file a city or provincial office sends that was
loaded wrong silently, refused whole though good, or refused row by row for a reason that was not the real one."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import openpyxl
import pytest
from test_ingest_loaders import HEADER_ZH, PLEDGE, TODAY, _accounting, _write
from test_ingest_loaders import scan_filler as _filler

from pipelines.ingest import contract_sql
from pipelines.ingest.load import ingest_file, partition_of
from pipelines.ingest.readers import IngestError
from pipelines.ingest.reason_labels import reason_text, unknown_reasons
from pipelines.sources import SOURCES

# The pledge header without its month column (a one-month report names the month in its title or file name).
NO_MONTH = [h for h in HEADER_ZH.split(",") if h != "月份"]


def _workbook(path: Path, rows: list[list], title: str = "Sheet1") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def _loaded(con, columns: str = "city_code, month, amount_10k_yuan") -> list[tuple]:
    return con.execute(f"SELECT {columns} FROM raw.pledge_loans ORDER BY _row_number").fetchall()


def _rejected(con) -> dict[int, str]:
    return dict(con.execute("SELECT row_number, reason FROM raw.rejected_rows ORDER BY row_number").fetchall())


def _ingest(con, path: Path, source=PLEDGE):
    return ingest_file(con, source, path, partition=partition_of(path, source), today=TODAY)


# ------------------------------------------------------------------ the month stated only in the title or file name


def test_a_one_month_report_whose_title_states_the_month_loads_that_month(warehouse, tmp_path):
    # 2025年3月知识产权质押融资统计表 above a table of cities without a month column (the month is the report's):
    # refused whole as "missing required column(s): month". The 填报日期 in the title rows is when it was filled.
    path = _workbook(
        tmp_path / "质押融资统计表.xlsx",
        [
            ["2025年3月知识产权质押融资统计表"],
            ["填报单位：广东省知识产权局", None, None, "填报日期：2025年4月5日"],
            NO_MONTH,
            ["440300", 12, 100, 10, 2, 8, 3],
            ["440100", 8, 200, 5, 1, 6, 2],
        ],
    )
    assert partition_of(path, PLEDGE) == 2025
    r = _ingest(warehouse, path)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 2, 0)
    assert "no month column: every row is 2025-03, the month the title above the table states" in r.notes
    assert _loaded(warehouse) == [("440300", date(2025, 3, 1), 100.0), ("440100", date(2025, 3, 1), 200.0)]


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_csv_report_whose_file_name_states_the_month_loads_that_month(warehouse, tmp_path, big):
    # 2026年1月报送 is when it was sent; 2025年12月 is the month it holds.
    filler = [line.split(",", 2)[0] + "," + line.split(",", 2)[2] for line in _filler(big)]
    path = _write(
        tmp_path / "2026年1月报送_深圳市质押融资统计_2025年12月.csv",
        "\n".join([",".join(NO_MONTH), "440300,12,100,10,2,8,3", *filler]) + "\n",
    )
    r = _ingest(warehouse, path)
    assert r.rows_read == r.rows_loaded + r.rows_rejected == 1 + len(filler)
    assert "no month column: every row is 2025-12, the month the file name states" in r.notes
    assert warehouse.execute("SELECT month FROM raw.pledge_loans WHERE _row_number = 2").fetchall() == [
        (date(2025, 12, 1),)
    ]


@pytest.mark.parametrize(
    ("title", "refused"),
    [
        ("2025年1-3月知识产权质押融资统计表", r"no month column, and the title above the table states several months"),
        ("截至2025年3月知识产权质押融资情况", r"no month column, and the title above the table states several months"),
        ("2025年3月、4月质押融资统计", r"missing required column: month"),
    ],
)
def test_a_title_stating_several_months_or_a_running_total_gives_no_month(warehouse, tmp_path, title, refused):
    # A quarter or a year to date is no month's own figure: the file stays refused. Since round 14 a title stating
    # one period of several months says so (tests/test_office_files_round14.py); two months listed stay "missing".
    path = _workbook(tmp_path / "质押融资统计表.xlsx", [[title], NO_MONTH, ["440300", 12, 100, 10, 2, 8, 3]])
    with pytest.raises(IngestError, match=refused):
        ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)


@pytest.mark.parametrize(
    ("text", "month"),
    [
        ("2025年3月知识产权质押融资统计表", (2025, 3)),
        ("深圳市2025年03月份质押融资", (2025, 3)),
        ("质押_2025-03", (2025, 3)),
        ("2026年1月报送_深圳市质押融资统计_2025年12月", (2025, 12)),
        ("2025年3月 报送时间：2025年4月", (2025, 3)),
        ("填报日期：2025年4月5日", None),
        ("质押_2025-03-31", None),
        ("质押_2025", None),
        ("2025年1-3月", "unclear"),
        ("2025.01-2025.03", "unclear"),
        ("1-3月累计 2025年3月", "unclear"),
    ],
)
def test_the_month_a_title_or_name_states(text, month):
    from pipelines.ingest.readers import stated_month

    assert stated_month(text) == month


# ------------------------------------------------------------------ a city's own row beside its districts' rows


CITY_AND_PARTS = [
    "城市," + HEADER_ZH,
    "苏州市,320500,2025-03,30,300,20,6,16,6",  # row 2: the sum of rows 3 and 4 in every figure (the city's total)
    "昆山市,320583,2025-03,10,100,10,2,8,3",
    "张家港市,320582,2025-03,20,200,10,4,8,3",
    "苏州市,320500,2025-04,30,300,20,6,16,6",  # row 5: not their sum: the rest of the city beside 昆山 (additive)
    "昆山市,320583,2025-04,10,100,10,2,8,3",
    "无锡市,320200,2025-04,10,100,10,2,8,3",
]
CITY_TOTAL_REFUSED = (
    "total row: 320500 is the sum of the rows of units inside it (320582, 320583) for the same month 2025-03-01 in "
    "this file, not a record of its own"
)


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_city_row_that_sums_its_districts_rows_of_the_same_month_is_a_total_not_counted_twice(
    warehouse, tmp_path, big
):
    # The marts add a county-level code into its prefecture (int_pledge__unit_year): a city's report listing its
    # own total above its districts loaded 苏州's March as 300 (its row) + 100 + 200 (昆山, 张家港) = 600 万元,
    # silently. Its row is the sum of theirs in every figure: a total row, like a 合计 or a province code.
    # (without the 城市 names: a column of names beside the codes takes the Polars path, which checks each name
    # against its code; round 16)
    lines = [line.split(",", 1)[1] for line in CITY_AND_PARTS] + _filler(big)
    path = _write(tmp_path / "苏州_质押_2025.csv", "\n".join(lines) + "\n")
    logged = len(contract_sql.READ_LOG)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    how = [h for name, h in contract_sql.READ_LOG[logged:] if name == path.name]
    assert how == (["scan"] if big else ["frame"])
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    assert {k: v for k, v in _rejected(warehouse).items() if k < 8} == {2: CITY_TOTAL_REFUSED}
    by_unit = warehouse.execute(
        "SELECT substr(city_code, 1, 4) || '00', month, sum(amount_10k_yuan) FROM raw.pledge_loans "
        "WHERE _row_number < 8 GROUP BY ALL ORDER BY 1, 2"
    ).fetchall()
    assert by_unit == [
        ("320200", date(2025, 4, 1), 100.0),
        ("320500", date(2025, 3, 1), 300.0),
        ("320500", date(2025, 4, 1), 400.0),
    ]
    assert not unknown_reasons(CITY_TOTAL_REFUSED)
    assert reason_text(CITY_TOTAL_REFUSED, "pledge_loans", "zh") == (
        "合计行：320500 等于本文件中同一月份（2025-03-01）其下属单位（320582, 320583）各行之和，不是一条独立记录"
    )


def test_a_city_total_on_its_own_sheet_above_the_districts_sheet_is_refused_naming_them(warehouse, tmp_path):
    # The same in a workbook: the city's total on the 汇总 sheet, its districts on the next.
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "汇总"
    ws.append(HEADER_ZH.split(","))
    ws.append(["320500", "2025-03", 30, 300, 20, 6, 16, 6])
    ws = wb.create_sheet("分县区")
    ws.append(HEADER_ZH.split(","))
    ws.append(["320583", "2025-03", 10, 100, 10, 2, 8, 3])
    ws.append(["320582", "2025-03", 20, 200, 10, 4, 8, 3])
    path = tmp_path / "苏州_质押_2025.xlsx"
    wb.save(path)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 2, 1)
    assert warehouse.execute("SELECT sheet, row_number, reason FROM raw.rejected_rows").fetchall() == [
        ("汇总", 2, CITY_TOTAL_REFUSED)
    ]


def test_a_month_of_zeros_for_a_city_and_its_district_loads_as_it_is(warehouse, tmp_path):
    # Nothing pledged in the city nor in its district: a row of zeros totals nothing and is no double count.
    path = _write(
        tmp_path / "苏州_质押_2025.csv",
        "\n".join([HEADER_ZH, "320500,2025-03,0,0,0,0,0,0", "320583,2025-03,0,0,0,0,0,0"]) + "\n",
    )
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 2, 0)


def test_districts_alone_and_a_city_in_another_month_load_as_they_are(warehouse, tmp_path):
    # Only a city's own row beside its units' rows of the same month counts twice.
    path = _write(
        tmp_path / "苏州_质押_2025.csv",
        "\n".join(
            [
                HEADER_ZH,
                "320583,2025-03,10,100,10,2,8,3",
                "320582,2025-03,20,200,10,4,8,3",
                "320500,2025-04,30,300,20,6,16,6",
            ]
        )
        + "\n",
    )
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 3, 0)


# ------------------------------------------------------------------ "no figure" written in a number cell

STATS = SOURCES["patent_stats"]
STATS_HEADER = "地区代码,地区,年份,发明专利授权量,实用新型专利授权量,外观设计专利授权量,专利授权总量"


@pytest.mark.parametrize("dash", ["—", "-", "--", "——", "－", "/", "无", "暂无", "不适用"])
def test_a_dash_or_wu_in_an_optional_figure_is_no_figure_not_a_refused_row(warehouse, tmp_path, dash):
    # Statistical tables write —, -, / or 无 where a figure is not available. The whole row (its other figures)
    # was refused as "not a number in grants_invention: '—'"; the cell is empty, never 0.
    path = _write(
        tmp_path / "专利统计_2024.csv",
        "\n".join([STATS_HEADER, f"440300,深圳市,2024,{dash},100,10,200", "440100,广州市,2024,50,100,10,160"]) + "\n",
    )
    r = ingest_file(warehouse, STATS, path, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 2, 0)
    assert "read 1 cell written as no figure (—, -, /, 无) in grants_invention as empty" in r.notes
    assert warehouse.execute(
        "SELECT region_code, grants_invention, grants_total FROM raw.patent_stats ORDER BY _row_number"
    ).fetchall() == [("440300", None, 200), ("440100", 50, 160)]


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_dash_in_a_required_figure_is_refused_saying_it_stands_for_no_figure(warehouse, tmp_path, big):
    lines = [
        HEADER_ZH,
        "440300,2025-01,—,100,10,2,8,3",
        "440100,2025-01,12,无,10,2,8,3",
        "330100,2025-01,n/a,1,1,1,1,1",
    ]
    path = _write(tmp_path / "pledge_2025.csv", "\n".join(lines + _filler(big)) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    reasons = {k: v for k, v in _rejected(warehouse).items() if k < 5}
    assert reasons == {
        2: "no figure in registrations: '—' stands for none (write the figure, or 0 if there was none)",
        3: "no figure in amount_10k_yuan: '无' stands for none (write the figure, or 0 if there was none)",
        4: "not a number in registrations: 'n/a'",  # as before: not one of the office's "none" spellings
    }
    assert warehouse.execute("SELECT count(*) FROM raw.pledge_loans WHERE _row_number < 5").fetchall() == [(0,)]
    assert reason_text(reasons[2], "pledge_loans", "zh") == (
        "登记笔数没有数值：'—' 表示无数据（请填写数值；确实为零请填 0）"
    )


# ------------------------------------------------------------------ the form around the table


def test_the_signature_lines_under_a_form_are_notes_not_records(warehouse, tmp_path):
    # 填表人 | 审核人 | 联系电话 across one line, 填报日期 and 填报单位（盖章） below: each was refused as a record with
    # eight reasons ("unknown region code in city_code: '填表人:张三'; missing value in month; …").
    path = _workbook(
        tmp_path / "质押_2025.xlsx",
        [
            HEADER_ZH.split(","),
            ["440300", "2025-03", 12, 100, 10, 2, 8, 3],
            ["填表人：张三", None, None, "审核人：李四", None, "联系电话：0755-12345678"],
            ["填报日期：2025年4月5日"],
            ["填报单位（盖章）：深圳市市场监督管理局", None, None, None, "分管领导：王五"],
        ],
    )
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (4, 1, 3)
    assert _rejected(warehouse) == {
        3: "note below the table, not a record: '填表人：张三'",
        4: "note below the table, not a record: '填报日期：2025年4月5日'",
        5: "note below the table, not a record: '填报单位（盖章）：深圳市市场监督管理局'",
    }


def test_a_data_row_beside_a_note_label_stays_a_record(warehouse, tmp_path):
    # Only a line whose every filled cell is a note label is a note: a record's code or figures make it a record.
    path = _workbook(
        tmp_path / "质押_2025.xlsx",
        [
            HEADER_ZH.split(","),
            ["注：440300", "2025-03", 12, 100, 10, 2, 8, 3],
            ["440100", "2025-03", 8, 200, 5, 1, 6, 2],
        ],
    )
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_loaded, r.rows_rejected) == (1, 1)
    assert _rejected(warehouse) == {2: "unknown region code in city_code: '注:440300'"}  # (NFKC)


@pytest.mark.parametrize("sheet", ["填报要求", "填表须知", "统计口径", "注意事项", "填报指引", "备注"])
def test_a_sheet_of_filling_rules_before_the_data_is_skipped_by_its_name(warehouse, tmp_path, sheet):
    # The template's first sheet, named other than 说明: the whole file was refused ("sheet(s) '填报要求' cannot be
    # mapped: no header row …").
    wb = openpyxl.Workbook()
    wb.active.title = sheet
    wb.active.append(["1. 本表由各地市知识产权局于每月10日前报送。"])
    wb.active.append(["2. 金额单位为万元，保留两位小数。"])
    data = wb.create_sheet("数据")
    data.append(HEADER_ZH.split(","))
    data.append(["440300", "2025-03", 12, 100, 10, 2, 8, 3])
    path = tmp_path / "质押_2025.xlsx"
    wb.save(path)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.status, r.rows_loaded) == ("loaded", 1)
    assert r.sheets[0] == {"sheet": sheet, "status": "skipped: instructions", "rows": 0}


# ------------------------------------------------------------------ codes and numbers as systems export them


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_statistical_12_digit_codes_and_excel_s_text_apostrophe_are_the_code(warehouse, tmp_path, big):
    # 统计用区划代码 (12 digits: the 6-digit code and six zeros) and a '440100 kept as text were refused as unknown
    # region codes; an apostrophe before a figure or a month refused it as no number or no date.
    lines = [
        HEADER_ZH,
        "440300000000,2025-03,12,100,10,2,8,3",
        "'440100,2025-03,'8,'200,5,1,6,2",
        "330100,'2025-03,8,200,5,1,6,2",
        "440305000000,2025-04,8,200,5,1,6,2",  # a district's code, as 12 digits
        "440300001000,2025-05,8,200,5,1,6,2",  # a township's code: no division the contract knows
    ]
    path = _write(tmp_path / "pledge_2025.csv", "\n".join(lines + _filler(big)) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    assert warehouse.execute(
        "SELECT city_code, month, registrations, amount_10k_yuan FROM raw.pledge_loans WHERE _row_number < 7 "
        "ORDER BY _row_number"
    ).fetchall() == [
        ("440300", date(2025, 3, 1), 12, 100.0),
        ("440100", date(2025, 3, 1), 8, 200.0),
        ("330100", date(2025, 3, 1), 8, 200.0),
        ("440305", date(2025, 4, 1), 8, 200.0),
    ]
    assert {k: v for k, v in _rejected(warehouse).items() if k < 7} == {
        6: "unknown region code in city_code: '440300001000'"
    }


def test_an_identifier_kept_as_text_with_an_apostrophe_is_the_same_key(warehouse, tmp_path):
    events = SOURCES["training_events"]
    path = _write(
        tmp_path / "training_2025.csv",
        "活动编号,城市代码,日期,对象,参训人数,学时\n'PX2025001,440300,2025-03-05,企业,50,3\nPX2025001,440300,2025-03-05,企业,50,3\n",
    )
    r = ingest_file(warehouse, events, path, partition=2025, today=TODAY)
    assert (r.rows_loaded, r.rows_rejected) == (1, 1)
    assert warehouse.execute("SELECT event_id FROM raw.training_events").fetchall() == [("PX2025001",)]
    assert _rejected(warehouse) == {3: "duplicate record: PX2025001 same as row 2"}


def test_a_csv_with_old_mac_line_ends_is_read_line_by_line(warehouse, tmp_path):
    # Excel for Mac's "CSV (Macintosh)" ends lines with CR alone: refused as "file has a header but no data rows".
    path = tmp_path / "pledge_2025.csv"
    path.write_bytes(
        ("\r".join([HEADER_ZH, "440300,2025-01,12,100,10,2,8,3", "440100,2025-01,8,200,5,1,6,2"]) + "\r").encode("gbk")
    )
    r = ingest_file(warehouse, PLEDGE, path, partition=partition_of(path, PLEDGE), today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 2, 0)
    assert "lines ended by CR alone (old Mac line ends): read as line breaks" in r.notes


# ------------------------------------------------------------------ units written without their noun


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_unit_line_saying_yi_without_yuan_converts_the_amounts(warehouse, tmp_path, big):
    # 单位：亿 above a bare 质押金额 was no unit line: 30 (亿元) loaded as 30 万元, 10,000 times too small, silently
    # (3 万元 per registration and 1.5 per pledged patent pass the plausibility rules).
    header = HEADER_ZH.replace("(万元)", "")
    filler = [line.replace(",500,", ",0.05,") for line in _filler(big)]
    path = _write(
        tmp_path / "pledge_2025.csv", "\n".join(["单位：亿", header, "440300,2025-03,10,30,20,2,8,3", *filler]) + "\n"
    )
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    assert "converted amount_10k_yuan from 亿元 (单位：亿元 above the table) (x10000)" in r.notes
    assert warehouse.execute("SELECT amount_10k_yuan FROM raw.pledge_loans WHERE _row_number = 3").fetchall() == [
        (300000.0,)
    ]


@pytest.mark.parametrize(
    ("header", "value", "amount"),
    [
        ("质押金额（亿）", 1.5, 15000.0),
        ("质押金额(万)", 1.5, 1.5),
        ("质押金额/亿", 1.5, 15000.0),
        ("质押金额（千）", 15000, 1500.0),
    ],
)
def test_a_header_unit_without_yuan_is_the_money_unit_it_abbreviates(warehouse, tmp_path, header, value, amount):
    # Refused whole: "unit '亿' cannot be converted into amount_10k_yuan (expected one of 元, 亿元, …)".
    path = _workbook(
        tmp_path / "质押_2025.xlsx",
        [HEADER_ZH.replace("质押金额(万元)", header).split(","), ["440300", "2025-03", 1, value, 10, 2, 1, 1]],
    )
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_loaded, r.rows_rejected) == (1, 0)
    assert _loaded(warehouse, "amount_10k_yuan") == [(amount,)]


def test_wan_under_a_count_stays_refused(warehouse, tmp_path):
    # 万 abbreviates a unit of money or people only: over a count it is no unit the contract can read.
    path = _workbook(
        tmp_path / "质押_2025.xlsx",
        [HEADER_ZH.replace("登记笔数", "登记笔数（万）").split(","), ["440300", "2025-03", 1, 1.5, 10, 2, 1, 1]],
    )
    with pytest.raises(IngestError, match=r"unit '万' cannot be converted into registrations \(expected a count\)"):
        ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)


def test_population_in_wan_without_ren_is_in_10k_residents(warehouse, tmp_path):
    population = SOURCES["population"]
    path = _write(
        tmp_path / "人口.csv", "地区代码,年份,常住人口（万）,地区生产总值（亿）\n440300,2024,1779.01,36801.87\n"
    )
    r = ingest_file(warehouse, population, path, today=TODAY)
    assert (r.rows_loaded, r.rows_rejected) == (1, 0)
    assert warehouse.execute("SELECT population_10k, gdp_100m_yuan FROM raw.population").fetchall() == [
        (1779.01, 36801.87)
    ]


# ------------------------------------------------------------------ 汇总 rows


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_huizong_row_is_a_total_row(warehouse, tmp_path, big):
    # 全省汇总 under the cities (code left empty) was refused as "missing value in city_code".
    lines = [
        "地市," + HEADER_ZH,
        "深圳市,440300,2025-03,12,100,10,2,8,3",
        "全省汇总,,2025-03,12,100,10,2,8,3",
        "深圳市汇总,,2025-03,12,100,10,2,8,3",
        "汇总,,2025-03,12,100,10,2,8,3",
    ]
    filler = ["北京," + line for line in _filler(big)]
    path = _write(tmp_path / "pledge_2025.csv", "\n".join(lines + filler) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    assert {k: v for k, v in _rejected(warehouse).items() if k < 6} == {
        3: "total row ('全省汇总'): a sum of other rows, not a record",
        4: "total row ('深圳市汇总'): a sum of other rows, not a record",
        5: "total row ('汇总'): a sum of other rows, not a record",
    }


def test_a_training_titled_with_huizong_is_a_record(warehouse, tmp_path):
    events = SOURCES["training_events"]
    path = _write(
        tmp_path / "training_2025.csv",
        "活动编号,城市代码,日期,对象,参训人数,学时,主题\nPX1,440300,2025-03-05,企业,50,3,专利汇总\n",
    )
    r = ingest_file(warehouse, events, path, partition=2025, today=TODAY)
    assert (r.rows_loaded, r.rows_rejected) == (1, 0)


# ------------------------------------------------------------------ city names instead of codes


def test_a_provincial_report_naming_its_cities_reads_them_as_their_codes(warehouse, tmp_path):
    # A province's monthly report lists its cities by name (地市: 深圳市, 广州, 珠 海 市) and gives no code: refused
    # whole as "missing required column(s): city_code". A name no unit bears, or several do, refuses its row.
    path = _workbook(
        tmp_path / "广东省知识产权质押融资统计.xlsx",
        [
            ["2025年3月全省知识产权质押融资情况统计表"],
            ["地市", *NO_MONTH[1:]],
            ["深圳市", 12, 100, 10, 2, 8, 3],
            ["广州", 8, 200, 5, 1, 6, 2],
            ["珠 海 市", 8, 200, 5, 1, 6, 2],
            ["东沙", 1, 1, 1, 1, 1, 1],
            ["省直辖县级行政区划", 1, 1, 1, 1, 1, 1],
            ["全省合计", 28, 500, 20, 4, 19, 7],
        ],
    )
    r = _ingest(warehouse, path)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (6, 3, 3)
    assert "city_code read from the unit names in '地市' (no code column)" in r.notes
    assert _loaded(warehouse, "city_code, month") == [
        ("440300", date(2025, 3, 1)),
        ("440100", date(2025, 3, 1)),
        ("440400", date(2025, 3, 1)),
    ]
    reasons = _rejected(warehouse)
    assert reasons == {
        6: "unknown city name in city_code: '东沙' (no unit of the administrative divisions has this name)",
        7: "city name in city_code names several units: '省直辖县级行政区划' (write the code)",
        8: "total row ('全省合计'): a sum of other rows, not a record",
    }
    assert reason_text(reasons[6], "pledge_loans", "zh") == (
        "城市代码中的城市名称未知：'东沙'（行政区划中没有这一名称的单位）"
    )
    assert not unknown_reasons(reasons[7])


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_csv_of_cases_naming_the_city_reads_it_as_its_code(warehouse, tmp_path, big):
    cases = SOURCES["enforcement_cases"]
    filler = [
        f"粤深知执〔2025〕{i}号,深圳市,专利侵权纠纷,2025-03-05,,," for i in range(1000, 1000 + (20000 if big else 0))
    ]
    path = _write(
        tmp_path / "执法案件_2025.csv",
        "\n".join(
            [
                "案件编号,城市,案件类型,立案日期,结案日期,处理结果,备注",
                "深知执〔2025〕1号,深圳,假冒专利,2025-03-05,,,",
                *filler,
            ]
        )
        + "\n",
    )
    if big:
        assert path.stat().st_size >= contract_sql.SCAN_MIN_BYTES
    r = ingest_file(warehouse, cases, path, partition=2025, today=TODAY)
    assert (r.rows_loaded, r.rows_rejected) == (1 + len(filler), 0)
    assert warehouse.execute("SELECT DISTINCT city_code FROM raw.enforcement_cases").fetchall() == [("440300",)]


def test_a_name_column_beside_the_code_column_stays_an_extra_column(warehouse, tmp_path):
    # (a name naming another city than the code is refused: test_office_files_round16)
    path = _write(tmp_path / "pledge_2025.csv", "城市," + HEADER_ZH + "\n深圳,440300,2025-03,12,100,10,2,8,3\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_loaded, r.rows_rejected) == (1, 0)
    assert _loaded(warehouse, "city_code") == [("440300",)]


# ------------------------------------------------------------------ quotes typed into a CSV

TRAINING_HEADER = "活动编号,城市代码,日期,对象,参训人数,学时,主题"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            'PX1,440300,2025-03-05,企业,50,3,"快速预审"讲座\nPX2,440300,2025-03-06,企业,60,2,商标保护\n',
            'malformed CSV at line 2: a field starts with a quote (") but goes on after its closing quote (quote the '
            'whole field and write each quote in it twice: """快速预审""讲座", or remove the quotes)',
        ),
        (
            'PX1,440300,2025-03-05,企业,50,3,"快速预审讲座\nPX2,440300,2025-03-06,企业,60,2,商标保护\n'
            "PX3,440300,2025-03-07,企业,70,2,商标\n",
            'malformed CSV at line 2: a quote (") opens a field that is never closed, so every line after it was read '
            'into that field (close it, or write a quote inside a quoted field twice: "")',
        ),
        (  # the last record cut off inside its quotes: as before
            'PX1,440300,2025-03-05,企业,50,3,讲座\nPX2,440300,2025-03-06,企业,60,2,"商标保护',
            'the file ends inside a quoted field ("...) - it was probably cut off',
        ),
    ],
    ids=["quote-then-text", "never-closed", "cut-off"],
)
def test_a_quote_breaking_a_csv_is_refused_naming_its_line(warehouse, tmp_path, body, reason):
    # Refused as "malformed CSV (ComputeError: could not parse `"快速预审"讲座` as dtype `str` at column '主题' …
    # You might want to try: increasing `infer_schema_length` …)": no line, and advice meant for programmers.
    events = SOURCES["training_events"]
    path = _write(tmp_path / "training_2025.csv", TRAINING_HEADER + "\n" + body)
    with pytest.raises(IngestError) as e:
        ingest_file(warehouse, events, path, partition=2025, today=TODAY)
    assert e.value.reason == reason
    (message,) = warehouse.execute("SELECT message FROM raw.ingested_files WHERE file_name = ?", [path.name]).fetchone()
    assert message == reason


# ------------------------------------------------------------------ a unit stated in a note below the table


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_unit_stated_in_a_note_below_the_table_converts_the_amounts(warehouse, tmp_path, big):
    # 注：本表金额单位为亿元 under a bare 质押金额: 5 (亿元) loaded as 5 万元 — 2.5 万元 per registration and 0.5 per
    # pledged patent pass the plausibility rules — 10,000 times too small, silently.
    header = HEADER_ZH.replace("(万元)", "")
    filler = [line.replace(",500,", ",0.05,") for line in _filler(big)]
    note = "注：1.本表金额单位为亿元；2.数据截至月底。" + ",,,,,,," * big  # a spreadsheet's CSV pads the line
    path = _write(
        tmp_path / "pledge_2025.csv", "\n".join([header, "440300,2025-03,2,5,10,2,1,1", *filler, note]) + "\n"
    )
    logged = len(contract_sql.READ_LOG)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    how = [h for name, h in contract_sql.READ_LOG[logged:] if name == path.name]
    assert how == (["reader: a unit stated in a note below the table"] if big else []) + ["frame"]
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    assert "converted amount_10k_yuan from 亿元 (单位：亿元 in a note below the table) (x10000)" in r.notes
    assert warehouse.execute("SELECT amount_10k_yuan FROM raw.pledge_loans WHERE _row_number = 2").fetchall() == [
        (50000.0,)
    ]
    assert warehouse.execute(
        "SELECT reason FROM raw.rejected_rows WHERE row_number = ?", [3 + len(filler)]
    ).fetchall() == [("note below the table, not a record: '注：1.本表金额单位为亿元；2.数据截至月底。'",)]


def test_a_note_below_the_table_stating_another_unit_than_the_header_refuses_the_file(warehouse, tmp_path):
    path = _workbook(
        tmp_path / "质押_2025.xlsx",
        [HEADER_ZH.split(","), ["440300", "2025-03", 2, 5, 10, 2, 1, 1], ["注：金额单位：亿元"]],
    )
    with pytest.raises(IngestError) as e:
        ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert e.value.reason == (
        "unit conflict: header '质押金额(万元)' says 万元 but the note below the table says 单位：亿元"
    )


# ------------------------------------------------------------------ a template numbered in advance


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_the_empty_numbered_rows_of_a_template_are_layout_not_records(warehouse, tmp_path, big):
    # 序号 1–8 printed down the form, two cities filled in: rows 4–9 were each refused with eight "missing value"
    # reasons, burying the file's real faults. A row with a city's name but no figures is still judged.
    lines = ["序号,地市," + HEADER_ZH, "1,深圳,440300,2025-03,12,100,10,2,8,3", "2,广州,440100,2025-03,8,200,5,1,6,2"]
    lines += [f"{i},,,,,,,,," for i in range(3, 8)] + ["8,珠海,,,,,,,,"]
    filler = ["0,北京," + line for line in _filler(big)]
    path = _write(tmp_path / "pledge_2025.csv", "\n".join(lines + filler) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert "skipped 5 empty rows holding only a row number (序号)" in r.notes
    assert r.rows_read == r.rows_loaded + r.rows_rejected == 3 + len(filler)
    assert _accounting(warehouse, path.name) == (r.rows_read, r.rows_loaded, r.rows_rejected)
    assert sorted(k for k in _rejected(warehouse) if k < 10) == [9]
    assert _loaded(warehouse, "city_code")[:2] == [("440300",), ("440100",)]


def test_the_empty_numbered_rows_of_a_workbook_template_are_layout(warehouse, tmp_path):
    rows = [["序号", *HEADER_ZH.split(",")], [1, "440300", "2025-03", 12, 100, 10, 2, 8, 3]]
    rows += [[i] for i in range(2, 51)]
    path = _workbook(tmp_path / "质押_2025.xlsx", rows)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (1, 1, 0)
    assert "skipped 49 empty rows holding only a row number (序号)" in r.notes


# ------------------------------------------------------------------ units written in the cells


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_figure_written_with_its_unit_in_the_cell_is_read_in_that_unit(warehouse, tmp_path, big):
    # 12笔, 100万元, 1.2亿 typed into the cells refused every such row as "not a number". A count's word is dropped;
    # a money unit converts the cell by itself (1.2亿 is 12,000 万元 under any header); a unit of another kind
    # (美元) or a word that is no count (8天) stays refused.
    lines = [
        HEADER_ZH,
        "440300,2025-01,12笔,100万元,10件,2件,8家,3家",
        "440100,2025-01,8,1.2亿,5,1,6,2",
        '330100,2025-01,8,"1,200,000元",5,1,6,2',
        "320500,2025-01,8,100美元,5,1,6,2",
        "310100,2025-01,8天,100,5,1,6,2",
    ]
    path = _write(tmp_path / "pledge_2025.csv", "\n".join(lines + _filler(big)) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    assert "read 3 cells of amount_10k_yuan written with their unit (100万元, 1.2亿) in that unit" in r.notes
    assert warehouse.execute(
        "SELECT city_code, registrations, amount_10k_yuan, enterprises_served FROM raw.pledge_loans "
        "WHERE _row_number < 7 ORDER BY _row_number"
    ).fetchall() == [("440300", 12, 100.0, 8), ("440100", 8, 12000.0, 6), ("330100", 8, 120.0, 6)]
    assert {k: v for k, v in _rejected(warehouse).items() if k < 7} == {
        5: "not a number in amount_10k_yuan: '100美元'",
        6: "not a number in registrations: '8天'",
    }


def test_a_number_format_showing_the_unit_reads_the_cell_in_that_unit(warehouse, tmp_path):
    # Cells formatted 0.00"亿元" under a bare 质押金额 show 5.00亿元; the stored 5 loaded as 5 万元 (2.5 万元 per
    # registration passes the plausibility rules), silently.
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER_ZH.replace("(万元)", "").split(","))
    ws.append(["440300", "2025-03", 2, 5, 10, 2, 1, 1])
    ws["D2"].number_format = '0.00"亿元"'
    ws.append(["440100", "2025-03", 2, 500, 10, 2, 1, 1])
    ws["C3"].number_format = '0"笔"'
    ws["D3"].number_format = '#,##0.00"万元"'
    path = tmp_path / "质押_2025.xlsx"
    wb.save(path)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_loaded, r.rows_rejected) == (2, 0)
    assert _loaded(warehouse, "city_code, registrations, amount_10k_yuan") == [
        ("440300", 2, 50000.0),
        ("440100", 2, 500.0),
    ]


@pytest.mark.parametrize(("second", "refused"), [("单位：万", False), ("单位：亿", True)])
def test_sheets_stating_wan_and_wanyuan_state_one_unit(warehouse, tmp_path, second, refused):
    # 单位：万元 on one sheet and 单位：万 on the next are the same unit; 单位：亿 is another.
    wb = openpyxl.Workbook()
    for k, (title, line) in enumerate([("1月", "单位：万元"), ("2月", second)]):
        ws = wb.active if k == 0 else wb.create_sheet()
        ws.title = title
        ws.append([line])
        ws.append(HEADER_ZH.replace("(万元)", "").split(","))
        ws.append(["440300", f"2025-0{k + 1}", 12, 100, 10, 2, 8, 3])
    path = tmp_path / "质押_2025.xlsx"
    wb.save(path)
    if refused:
        with pytest.raises(IngestError, match="sheets state different units"):
            ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
        return
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert (r.rows_loaded, r.rows_rejected) == (2, 0)
    assert _loaded(warehouse, "amount_10k_yuan") == [(100.0,), (100.0,)]
