"""Office files as they are really sent (round 11): a unit line stating counts in tens of thousands (单位：万笔、亿元,
单位：万件, 单位：万人 over 参训人数), a running total whose words end at this month (1-本月累计, 截至本月, 本月累计), a period
of several months written without its year (1-3月, 一季度, 截至3月底) over a month's rows or beside its block, and years
written across the columns (2023年 | 2024年). Each was loaded wrong silently (10,000 times off, or a quarter as its
last month) or refused for a reason that did not say what to change. Both ingest paths where a CSV can carry the case
(the Polars reader, the DuckDB scan of a big file, and a big file with the scan turned off)."""

from __future__ import annotations

import openpyxl
import pytest
from test_ingest_loaders import PLEDGE, TODAY, _write
from test_ingest_loaders import scan_filler as _filler

from pipelines.ingest import load
from pipelines.ingest.load import ingest_file
from pipelines.ingest.reason_labels import refusal_text
from pipelines.sources import SOURCES

CODES = "城市代码,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"
BARE = "城市代码,月份,登记笔数,质押金额,质押专利数,质押商标数,服务企业数,首贷企业数"
PATHS = ["reader", "scan", "polars"]


def _mine(con) -> list[tuple]:
    return con.execute(
        "SELECT city_code, strftime(month, '%Y-%m'), registrations, amount_10k_yuan FROM raw.pledge_loans "
        "WHERE city_code LIKE '44%' ORDER BY _row_number"
    ).fetchall()


def _ingest(con, source, path, how: str, monkeypatch, partition=2025):
    monkeypatch.setattr(load, "SQL_SCAN", how != "polars")
    r = ingest_file(con, source, path, partition=partition, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    return r


def _refused(con, source, path, how, monkeypatch, partition=2025) -> str:
    with pytest.raises(load.IngestError) as e:
        _ingest(con, source, path, how, monkeypatch, partition)
    message = con.execute("SELECT message FROM raw.ingested_files WHERE file_name = ?", [path.name]).fetchone()[0]
    assert message in str(e.value)
    zh = refusal_text(message, "zh")
    assert zh != message, message  # a Chinese text of its own
    return message


def _control_still_loads(con, tmp_path, monkeypatch) -> None:
    # one bad file never blocks another: a good file of the same source right after loads whole
    path = _write(tmp_path / "质押_2025年4月.csv", f"{CODES}\n440300,2025-04,2,20,1,0,1,0\n")
    r = _ingest(con, PLEDGE, path, "reader", monkeypatch)
    assert (r.rows_loaded, r.rows_rejected) == (1, 0)


# ------------------------------------------------------------------------ counts stated in tens of thousands

COUNTS_IN_WAN = (
    "the unit the table states gives counts in {} (单位：{}): the counts ({}) are loaded as whole numbers, not in "
    "tens of thousands (send each count itself, e.g. 12500 not 1.25)"
)
PLEDGE_COUNTS = "'登记笔数', '质押专利数', '质押商标数', '服务企业数', '首贷企业数'"


@pytest.mark.parametrize("how", PATHS)
@pytest.mark.parametrize(
    "line,stated",
    [
        ("单位：万笔、亿元", "万笔、亿元"),  # before: 9 loaded as 9 笔 and 9 亿元 as 9 万元
        ("单位：亿元、万笔", "亿元、万笔"),
        ("2025年3月质押融资统计表（万笔、亿元）", "万笔、亿元"),
        ("单位：万笔", "万笔"),
        ("单位：千笔/万元", "千笔、万元"),
    ],
)
def test_a_unit_line_stating_counts_in_wan_is_refused_not_loaded_ten_thousand_times_off(
    warehouse, tmp_path, how, line, stated, monkeypatch
):
    lines = [f"{line},,,,,,,", BARE, "440300,2025-03,9,9,6,0,6,0", *_filler(how != "reader")]
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n")
    message = _refused(warehouse, PLEDGE, path, how, monkeypatch)
    unit = stated.split("、")[0] if "笔" in stated.split("、")[0] else stated.split("、")[1]
    assert message == COUNTS_IN_WAN.format(unit, stated, PLEDGE_COUNTS)
    assert _mine(warehouse) == []
    _control_still_loads(warehouse, tmp_path, monkeypatch)


def test_a_count_in_wan_in_a_workbook_s_unit_line_is_refused_too(warehouse, tmp_path, monkeypatch):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["知识产权质押融资统计表"])
    ws.append(["单位：万笔、亿元"])
    ws.append(BARE.split(","))
    ws.append(["440300", "2025-03", 9, 9, 6, 0, 6, 0])
    ws.merge_cells("A1:H1")
    path = tmp_path / "质押_2025年3月.xlsx"
    wb.save(path)
    message = _refused(warehouse, PLEDGE, path, "reader", monkeypatch)
    assert message == COUNTS_IN_WAN.format("万笔", "万笔、亿元", PLEDGE_COUNTS)


@pytest.mark.parametrize(
    "source,name,lines,counts",
    [
        (
            "patent_stats",
            "专利统计_2024.csv",
            ["单位：万件,,,", "地区代码,年份,发明专利授权量,专利授权总量", "440300,2024,1,3"],
            ("万件", "万件", "'发明专利授权量', '专利授权总量'"),
        ),
        (
            "training_events",
            "培训_2025.csv",
            [
                "单位：万人,,,,,",
                "活动编号,城市代码,培训日期,培训对象,参训人数,学时",
                "E1,440300,2025-03-02,enterprises,2,3",
            ],
            ("万人", "万人", "'参训人数'"),
        ),
    ],
)
def test_counts_of_other_sources_stated_in_wan_are_refused(
    warehouse, tmp_path, source, name, lines, counts, monkeypatch
):
    # Before: 1 万件 loaded as 1 grant, 2 万人 as 2 participants, silently.
    path = _write(tmp_path / name, "\n".join(lines) + "\n")
    partition = None if source == "patent_stats" else 2025
    message = _refused(warehouse, SOURCES[source], path, "reader", monkeypatch, partition)
    assert message == COUNTS_IN_WAN.format(*counts)


def test_wan_ren_over_a_population_column_still_converts(warehouse, tmp_path):
    # 万人 is the population column's own unit: a scale there, not a count in 万
    path = _write(tmp_path / "人口_2024.csv", "单位：万人、亿元\n地区代码,年份,常住人口,GDP\n440300,2024,1779,36900\n")
    r = ingest_file(warehouse, SOURCES["population"], path, today=TODAY)
    assert r.rows_loaded == 1
    assert warehouse.execute("SELECT population_10k, gdp_100m_yuan FROM raw.population").fetchall() == [
        (1779.0, 36900.0)
    ]


# ------------------------------------------------------------------ running totals that end at this month

UP_TO_THIS_MONTH = ["1-本月累计", "1-本月", "截至本月", "截至当月累计", "本月累计", "年初至本月", "1月至本月"]


# every spelling through the reader; the big-file paths (the scan, and Polars with the scan off) with one
BIG = [("scan", "1-本月累计"), ("polars", "截至本月")]


@pytest.mark.parametrize("how,group", [*[("reader", g) for g in UP_TO_THIS_MONTH], *BIG])
def test_a_running_total_ending_at_this_month_alone_is_refused_not_loaded_as_the_month(
    warehouse, tmp_path, how, group, monkeypatch
):
    # Before: the 本月 in 1-本月累计 read as "this month's own", and the year to date loaded as March, silently.
    lines = [f",,{group},,,,,", CODES, "440300,2025-03,9,90,6,0,6,0", *_filler(how != "reader")]
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n")
    message = _refused(warehouse, PLEDGE, path, how, monkeypatch)
    assert f"under '{group}': a year-to-date (cumulative) total" in message
    assert _mine(warehouse) == []
    _control_still_loads(warehouse, tmp_path, monkeypatch)


PERIOD_GROUPS = [*UP_TO_THIS_MONTH, "1-3月", "1月-3月", "1~3月", "1至3月", "一季度", "2025年1-3月"]


@pytest.mark.parametrize(
    "how,group,month,first",
    [
        *[("reader", g, m, f) for g in PERIOD_GROUPS for m in ("本月", "3月") for f in (True, False)],
        ("scan", "1-本月累计", "本月", True),
        ("scan", "1-3月", "3月", False),
        ("polars", "一季度", "本月", False),
    ],
)
def test_the_month_s_block_beside_a_running_total_or_a_period_block_loads_the_month(
    warehouse, tmp_path, how, group, month, first, monkeypatch
):
    # Before: "column 'registrations' appears twice": a good month's block was refused.
    figures = "登记笔数,质押金额(万元)"
    groups = [month, "", group, ""] if first else [group, "", month, ""]
    values = ["3", "30", "9", "90"] if first else ["9", "90", "3", "30"]
    # the two blocks last, each group title spanning its block (a CSV's group title spans the empty cells after it)
    lines = [
        ",,,,,," + ",".join(groups),
        f"城市代码,月份,质押专利数,质押商标数,服务企业数,首贷企业数,{figures},{figures}",
        "440300,2025-03,2,0,2,0," + ",".join(values),
        *[f"{c},2025-{m:02d},5,1,4,2,5,500,5,500" for c in ("110100", "120100") for m in range(1, 13)]
        * (1700 if how != "reader" else 0),
    ]
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n")
    r = _ingest(warehouse, PLEDGE, path, how, monkeypatch)
    assert _mine(warehouse) == [("440300", "2025-03", 3, 30.0)]
    assert any(
        n.startswith(("ignored extra column: ", "ignored extra columns: ")) and f"{group}·登记笔数" in n
        for n in r.notes
    ), r.notes


def test_a_workbook_s_merged_this_month_and_up_to_this_month_groups_load_the_month(warehouse, tmp_path, monkeypatch):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(
        ["城市代码", "月份", "1-本月累计", None, "本月", None, "质押专利数", "质押商标数", "服务企业数", "首贷企业数"]
    )
    ws.append([None, None, "登记笔数", "质押金额(万元)", "登记笔数", "质押金额(万元)"])
    ws.append(["440300", "2025-03", 9, 90, 3, 30, 2, 0, 2, 0])
    for m in ["A1:A2", "B1:B2", "C1:D1", "E1:F1", "G1:G2", "H1:H2", "I1:I2", "J1:J2"]:
        ws.merge_cells(m)
    path = tmp_path / "质押_2025年3月.xlsx"
    wb.save(path)
    _ingest(warehouse, PLEDGE, path, "reader", monkeypatch)
    assert _mine(warehouse) == [("440300", "2025-03", 3, 30.0)]


# ---------------------------------------------------------------- a period of several months without its year

SEVERAL = (
    "the title above the table states several months ('{}', 2025-{:02d} to 2025-{:02d}) and every row is 2025-{:02d}: "
    "the figures are the period's total, not the month's own (send each month's own figures, one row per month)"
)


YEARLESS = [
    ("1-3月质押融资统计表", "1-3月", 1, 3),
    ("1月至3月知识产权质押融资情况", "1月至3月", 1, 3),
    ("一季度质押融资情况", "一季度", 1, 3),
    ("第二季度质押融资统计", "第二季度", 4, 6),
    ("上半年质押融资统计表", "上半年", 1, 6),
    ("截至3月底质押融资情况", "截至3月底", 1, 3),
    ("截止3月末质押融资情况", "截止3月末", 1, 3),
]  # (a title saying 累计 is refused as a cumulative group, above)


@pytest.mark.parametrize(
    "how,title,words,first,last",
    [*[("reader", *case) for case in YEARLESS], ("scan", *YEARLESS[0]), ("polars", *YEARLESS[2])],
)
def test_a_title_stating_several_months_without_a_year_over_its_last_month_is_refused(
    warehouse, tmp_path, how, title, words, first, last, monkeypatch
):
    # Before: the quarter (or year to date) loaded as its last month, silently, where 2025年1-3月 was refused.
    month = f"2025-{last:02d}"
    lines = [f"{title},,,,,,,", BARE, f"440300,{month},9,9,6,0,6,0", f"440100,{month},1,1,1,0,1,0"]
    # a big file: every row of the same month (repeated keys, quarantined as such were the file read)
    lines += [f"{c},{month},5,500,5,1,4,2" for c in ("110100", "120100")] * (21000 if how != "reader" else 0)
    path = _write(tmp_path / "质押.csv", "\n".join(lines) + "\n")
    message = _refused(warehouse, PLEDGE, path, how, monkeypatch)
    assert message == SEVERAL.format(words, first, last, last)


@pytest.mark.parametrize("title", ["1-3月质押融资统计表", "一季度质押融资情况"])
def test_the_months_of_a_yearless_period_each_on_its_row_load(warehouse, tmp_path, title, monkeypatch):
    lines = [f"{title},,,,,,,", BARE, *[f"440300,2025-{m:02d},{m},{m},1,0,1,0" for m in (1, 2, 3)]]
    r = _ingest(warehouse, PLEDGE, _write(tmp_path / "质押.csv", "\n".join(lines) + "\n"), "reader", monkeypatch)
    assert r.rows_loaded == 3


@pytest.mark.parametrize(
    "title", ["2025年3月质押融资统计表", "表1-3 质押融资", "2025年3月质押融资统计表（报送日期：4月1日）"]
)
def test_a_title_of_one_month_is_no_period(warehouse, tmp_path, title, monkeypatch):
    lines = [f"{title},,,,,,,", BARE, "440300,2025-03,9,9,6,0,6,0"]
    r = _ingest(warehouse, PLEDGE, _write(tmp_path / "质押.csv", "\n".join(lines) + "\n"), "reader", monkeypatch)
    assert r.rows_loaded == 1


# --------------------------------------------------------------------------------------- years across

YEARS = (
    "years as columns (row {}: {}): the table needs one row per unit and period, the period in a column of its own "
    "(年份 or 月份) and each figure beside it; send the years down the rows, not across"
)


@pytest.mark.parametrize(
    "lines,row,shown",
    [
        (["地区代码,指标,2023年,2024年", "440300,发明专利授权量,100,120"], 1, "'2023年', '2024年'"),
        (["地区代码,地区,2023年度,2024年度", "440300,深圳,100,120"], 1, "'2023年度', '2024年度'"),
        (
            ["地区代码,地区,2023年发明专利授权量,2024年发明专利授权量", "440300,深圳,100,120"],
            1,
            "'2023年发明专利授权量', '2024年发明专利授权量'",
        ),
        (
            [
                ",,2023年,,2024年,",
                "地区代码,年份,发明专利授权量,专利授权总量,发明专利授权量,专利授权总量",
                "440300,2024,1,3,1,3",
            ],
            1,
            "'2023年', '2024年'",
        ),
    ],
)
def test_years_across_a_statistics_table_are_refused_saying_so(warehouse, tmp_path, lines, row, shown, monkeypatch):
    # Before: "file has a header but no data rows", "missing required column(s): year" or "appears twice".
    path = _write(tmp_path / "专利统计_2024.csv", "\n".join(lines) + "\n")
    message = _refused(warehouse, SOURCES["patent_stats"], path, "reader", monkeypatch, None)
    assert message == YEARS.format(row, shown)
    assert "年份横向排列" in refusal_text(message, "zh")


@pytest.mark.parametrize("how", PATHS)
def test_this_year_beside_last_year_in_a_monthly_csv_is_refused_saying_so(warehouse, tmp_path, how, monkeypatch):
    lines = [
        ",,2024年,,2025年,,,,,",
        "城市代码,月份,登记笔数,质押金额(万元),登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数",
        "440300,2025-03,9,90,3,30,2,0,2,0",
        *[f"{c},2025-{m:02d},5,500,5,500,5,1,4,2" for c in ("110100", "120100") for m in range(1, 13)]
        * (1700 if how != "reader" else 0),
    ]
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n")
    assert _refused(warehouse, PLEDGE, path, how, monkeypatch) == YEARS.format(1, "'2024年', '2025年'")
    _control_still_loads(warehouse, tmp_path, monkeypatch)


def test_a_workbook_s_merged_year_groups_are_refused_saying_so(warehouse, tmp_path, monkeypatch):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(
        ["城市代码", "月份", "2024年", None, "2025年", None, "质押专利数", "质押商标数", "服务企业数", "首贷企业数"]
    )
    ws.append([None, None, "登记笔数", "质押金额(万元)", "登记笔数", "质押金额(万元)"])
    ws.append(["440300", "2025-03", 9, 90, 3, 30, 2, 0, 2, 0])
    for m in ["A1:A2", "B1:B2", "C1:D1", "E1:F1"]:
        ws.merge_cells(m)
    path = tmp_path / "质押_2025年3月.xlsx"
    wb.save(path)
    assert _refused(warehouse, PLEDGE, path, "reader", monkeypatch) == YEARS.format(1, "'2024年', '2025年'")


@pytest.mark.parametrize(
    "lines",
    [
        ["城市代码,方案,指标代码,基期年份,基期值,目标年份,目标值", "440300,P1,IND1,2020年,12,2025年,30"],
    ],
)
def test_a_data_row_holding_two_years_is_no_years_across(warehouse, tmp_path, lines, monkeypatch):
    path = _write(tmp_path / "目标.csv", "\n".join(lines) + "\n")
    r = ingest_file(warehouse, SOURCES["targets"], path, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected == 1


# ------------------------------------------------ counts in 万 in a unit row, a group title or a note below

EXPECTED_A_COUNT = "header '{}': unit '万笔' cannot be converted into registrations (expected a count)"


@pytest.mark.parametrize("how", PATHS)
def test_a_row_of_units_under_the_header_naming_a_count_in_wan_is_refused(warehouse, tmp_path, how, monkeypatch):
    # Before: 万笔 made the row no row of units: it was quarantined as a record, and the 亿元 beside it lost: 9 亿元
    # loaded as 9 万元, silently.
    lines = [BARE, ",,万笔,亿元,件,件,家,家", "440300,2025-03,9,9,6,0,6,0", *_filler(how != "reader")]
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n")
    assert _refused(warehouse, PLEDGE, path, how, monkeypatch) == EXPECTED_A_COUNT.format("登记笔数(万笔)")


def test_a_group_title_stating_a_count_in_wan_refuses_its_count_column(warehouse, tmp_path, monkeypatch):
    # Before: 质押融资（万笔、亿元） over 笔数 | 金额 read 笔数 without the title's unit: 9 万笔 loaded as 9 笔.
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(
        ["城市代码", "月份", "质押融资（万笔、亿元）", None, "质押专利数", "质押商标数", "服务企业数", "首贷企业数"]
    )
    ws.append([None, None, "笔数", "金额"])
    ws.append(["440300", "2025-03", 9, 9, 6, 0, 6, 0])
    for m in ["A1:A2", "B1:B2", "C1:D1", "E1:E2", "F1:F2", "G1:G2", "H1:H2"]:
        ws.merge_cells(m)
    path = tmp_path / "质押_2025年3月.xlsx"
    wb.save(path)
    assert _refused(warehouse, PLEDGE, path, "reader", monkeypatch) == EXPECTED_A_COUNT.format("质押融资笔数(万笔)")


@pytest.mark.parametrize(
    "note,stated",
    [
        ("注：本表笔数单位为万笔，金额单位为亿元", "亿元、万笔"),
        ("注：金额单位为亿元，笔数单位为万笔", "亿元、万笔"),
        ("注：本表笔数单位为万笔", "万笔"),
    ],
)
def test_a_note_below_stating_counts_in_wan_is_refused(warehouse, tmp_path, note, stated, monkeypatch):
    # Before: the note's first 单位 (万笔) ended the search: 9 亿元 loaded as 9 万元 and 9 万笔 as 9 笔, silently.
    lines = [BARE, "440300,2025-03,9,9,6,0,6,0", f"{note},,,,,,,"]
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n")
    message = _refused(warehouse, PLEDGE, path, "reader", monkeypatch)
    assert message == COUNTS_IN_WAN.format("万笔", stated, PLEDGE_COUNTS)


def test_a_note_whose_money_unit_follows_another_unit_word_converts_the_amounts(warehouse, tmp_path, monkeypatch):
    lines = [BARE, "440300,2025-03,9,9,6,0,6,0", "注：本表笔数单位为笔，金额单位为亿元,,,,,,,"]
    _ingest(warehouse, PLEDGE, _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n"), "reader", monkeypatch)
    assert _mine(warehouse) == [("440300", "2025-03", 9, 90000.0)]


# ---------------------------------------------------------------------------------- a sheet per city

NO_CODE = ["月份", "登记笔数", "质押金额(万元)", "质押专利数", "质押商标数", "服务企业数", "首贷企业数"]


def _sheets_per_city(path, sheets: dict[str, list]) -> None:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, row in sheets.items():
        ws = wb.create_sheet(name)
        ws.append(NO_CODE)
        ws.append(row)
    wb.save(path)


def test_a_workbook_of_one_sheet_per_city_without_a_city_column_reads_each_sheet_s_city(
    warehouse, tmp_path, monkeypatch
):
    # Before: "missing required column(s): city_code": the sheets named the cities.
    path = tmp_path / "质押_2025年3月.xlsx"
    _sheets_per_city(path, {"深圳市": ["2025-03", 3, 30, 2, 0, 2, 0], "广州市": ["2025-03", 1, 10, 1, 0, 1, 0]})
    r = _ingest(warehouse, PLEDGE, path, "reader", monkeypatch)
    assert sorted(_mine(warehouse)) == [("440100", "2025-03", 1, 10.0), ("440300", "2025-03", 3, 30.0)]
    assert "no city column: every row of sheet '深圳市' is the unit the sheet's name names" in r.notes


def test_a_sheet_named_for_no_unit_refuses_its_rows_naming_it(warehouse, tmp_path, monkeypatch):
    path = tmp_path / "质押_2025年3月.xlsx"
    _sheets_per_city(path, {"深圳市": ["2025-03", 3, 30, 2, 0, 2, 0], "新城市": ["2025-03", 1, 10, 1, 0, 1, 0]})
    _ingest(warehouse, PLEDGE, path, "reader", monkeypatch)
    assert _mine(warehouse) == [("440300", "2025-03", 3, 30.0)]
    reasons = [r for (r,) in warehouse.execute("SELECT reason FROM raw.rejected_rows").fetchall()]
    assert reasons == [
        "unknown city name in city_code: '新城市' (no unit of the administrative divisions has this name)"
    ]


def test_sheets_not_named_for_a_unit_still_miss_the_city_column(warehouse, tmp_path, monkeypatch):
    path = tmp_path / "质押_2025年3月.xlsx"
    _sheets_per_city(path, {"数据": ["2025-03", 3, 30, 2, 0, 2, 0]})
    with pytest.raises(load.IngestError, match=r"missing required column: city_code"):
        _ingest(warehouse, PLEDGE, path, "reader", monkeypatch)


QUARTERS = (
    "quarters or half years as columns (row {}: {}): the table needs one row per unit and period, the period in a "
    "column of its own (年份 or 月份) and each figure beside it; send each month's (or year's) own figures down the rows"
)


@pytest.mark.parametrize(
    "lines,shown",
    [
        (["城市代码,指标,一季度,二季度,三季度,四季度", "440300,登记笔数,1,2,3,4"], "'一季度', '二季度', '三季度' …"),
        (["城市代码,指标,上半年,下半年", "440300,登记笔数,1,2"], "'上半年', '下半年'"),
        (
            [
                ",,第一季度,,第二季度,",
                "城市代码,月份,登记笔数,质押金额(万元),登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数",
                "440300,2025-06,1,10,2,20,1,0,1,0",
            ],
            "'第一季度', '第二季度'",
        ),
    ],
)
def test_quarters_across_are_refused_saying_so(warehouse, tmp_path, lines, shown, monkeypatch):
    # Before: "file has a header but no data rows", or a quarter's block refused as a year to date.
    path = _write(tmp_path / "质押_2025.csv", "\n".join(lines) + "\n")
    assert _refused(warehouse, PLEDGE, path, "reader", monkeypatch) == QUARTERS.format(1, shown)
