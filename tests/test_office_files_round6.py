"""Office files as they are really sent (round 6): a title that gives the unit in brackets without the word 单位
(…统计表（亿元）), autonomous prefectures and leagues named as offices write them (延边州, 锡林郭勒), a months-as-columns
table (1月 … 12月 across, one row per city), and WPS's own .et workbooks."""

from __future__ import annotations

import pytest
from test_ingest_loaders import PLEDGE, TODAY, _write
from test_ingest_loaders import scan_filler as _filler

from pipelines.ingest.load import ingest_file

BARE = "城市代码,月份,登记笔数,质押金额,质押专利数,质押商标数,服务企业数,首贷企业数"


def _mine(con) -> list[tuple]:
    return con.execute(
        "SELECT city_code, amount_10k_yuan FROM raw.pledge_loans WHERE city_code LIKE '44%' ORDER BY 1"
    ).fetchall()


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
@pytest.mark.parametrize(
    "title",
    [
        "2025年3月知识产权质押融资统计表（亿元）",
        "2025年3月知识产权质押融资统计表(亿元)",
        "2025年3月知识产权质押融资统计表（金额：亿元）",
        "（亿元、笔、件）",
        "2025年3月知识产权质押融资统计表（单位 亿元）",
    ],
)
def test_a_bracketed_unit_in_the_title_converts_the_amounts(warehouse, tmp_path, big, title):
    # Before: 2.5 亿元 loaded as 2.5 万元 (1 registration, 3 patents: every plausibility rule passed), silently.
    lines = [title, BARE, "440300,2025-03,1,2.5,3,0,1,1", *_filler(big)]
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    assert _mine(warehouse) == [("440300", 25000.0)]
    assert any(n.startswith("converted amount_10k_yuan from 亿元") for n in r.notes), r.notes


@pytest.mark.parametrize(
    "title",
    ["2025年3月质押融资平均金额（万元/笔）", "各市（州）知识产权质押融资统计表", "培训人次（万人次）"],
)
def test_a_bracket_that_is_no_unit_statement_changes_nothing(warehouse, tmp_path, title):
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join([title, BARE, "440300,2025-03,1,2.5,3,0,1,1"]) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert _mine(warehouse) == [("440300", 2.5)] and not any(n.startswith("converted") for n in r.notes)


def test_a_bracketed_title_unit_against_the_header_s_unit_refuses_the_file(warehouse, tmp_path):
    header = BARE.replace("质押金额", "质押金额(万元)")
    path = _write(
        tmp_path / "质押_2025年3月.csv", "\n".join(["统计表（亿元）", header, "440300,2025-03,1,2.5,3,0,1,1"])
    )
    with pytest.raises(Exception, match="unit conflict"):
        ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)


NAMED = [
    ("延边州", "222400"),  # 延边朝鲜族自治州: how Jilin's own documents name it
    ("恩施自治州", "422800"),
    ("吉林延边州", "222400"),
    ("广东省深圳市", "440300"),  # a national table names a city after its province
    ("广西南宁", "450100"),
    ("内蒙古锡林郭勒盟", "152500"),
    ("吉林省吉林市", "220200"),
    ("深圳", "440300"),  # the plain spellings stay as they were
    ("吉林市", "220200"),  # (吉林 alone names the province too: in a table of several provinces it is refused, round 7)
]


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_autonomous_prefectures_and_province_prefixed_names_are_read_as_their_codes(warehouse, tmp_path, big):
    # Before: 延边州, 广东省深圳市 … were refused as unknown city names: a good file lost its rows.
    header = "地区,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"
    lines = [header] + [f"{name},2025-{i + 1:02d},1,10,1,0,1,0" for i, (name, _) in enumerate(NAMED)]
    lines += [f"北京市,{line.split(',', 1)[1]}" for line in _filler(big)]
    path = _write(tmp_path / "质押_2025.csv", "\n".join(lines) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    got = warehouse.execute(
        "SELECT city_code FROM raw.pledge_loans WHERE city_code <> '110100' ORDER BY month"
    ).fetchall()
    assert [c for (c,) in got] == [code for _, code in NAMED]


def test_a_derived_spelling_never_takes_a_unit_s_own_name():
    from pipelines.ingest.validate import unit_names_of

    # a unit whose own name is another unit's derived spelling keeps it; two units deriving one spelling name none
    rows = [
        ("100001", "甲乙自治州", "甲乙", "某省"),
        ("100002", "甲乙州", "甲乙州", "某省"),
        ("100003", "丙自治州", "丙", "某省"),
    ]
    rows += [("100004", "丙族自治州", "丙", "某省")]
    names = unit_names_of(rows)
    assert names["甲乙州"] == "100002" and names["某省甲乙州"] == "100002"
    assert names["丙州"] is None and names.get("某省丙州") is None  # several units: written as a code


def _months_across_workbook(path, grouped: bool):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["2025年知识产权质押融资统计"])
    if grouped:  # each month a group title over its figures' sub-columns
        figures = ["登记笔数", "质押金额(万元)", "质押专利数", "质押商标数", "服务企业数", "首贷企业数"]
        ws.append(["城市代码"] + [x for m in (1, 2, 3) for x in [f"{m}月"] + [None] * 5])
        ws.append([None] + figures * 3)
        ws.append(["440300"] + [12, 3500, 30, 4, 10, 3] * 3)
        for i in range(3):
            ws.merge_cells(start_row=2, end_row=2, start_column=2 + 6 * i, end_column=7 + 6 * i)
    else:
        ws.append(["地市"] + [f"{m}月" for m in range(1, 13)] + ["合计"])
        ws.append(["深圳市"] + [100 * m for m in range(1, 13)] + [7800])
    wb.save(path)
    return path


MONTHS_ACROSS = (
    "months as columns (row 2: '1月', '2月', '3月'{}): the table needs one row per city and month, the month in a "
    "column of its own (月份) and each figure beside it; send the months down the rows, not across"
)


@pytest.mark.parametrize("grouped", [False, True], ids=["one-figure-per-month", "month-groups"])
def test_a_table_with_its_months_across_is_refused_saying_so(warehouse, tmp_path, grouped):
    # Before: 'no header row found …' or "column 'registrations' appears twice": neither says what to change.
    from pipelines.ingest.reason_labels import refusal_text

    path = _months_across_workbook(tmp_path / "质押_2025.xlsx", grouped)
    with pytest.raises(Exception) as refused:
        ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    message = warehouse.execute("SELECT message FROM raw.ingested_files WHERE status = 'failed'").fetchone()[0]
    assert message == MONTHS_ACROSS.format(" …" if not grouped else "") and message in str(refused.value)
    assert refusal_text(message, "zh").startswith("月份横向排列（第 2 行：'1月', '2月', '3月'")


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_months_across_a_csv_are_refused_on_both_paths_and_other_files_still_load(warehouse, tmp_path, big):
    across = _write(tmp_path / "a_质押_2025.csv", "城市代码,1月,2月,3月\n440300,100,200,300\n")
    with pytest.raises(Exception, match="months as columns"):
        ingest_file(warehouse, PLEDGE, across, partition=2025, today=TODAY)
    lines = [
        "城市代码,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数",
        "440300,2025年3月,1,2025.5,3,0,1,1",  # a month and a figure like a month are no months across
        *_filler(big),
    ]
    r = ingest_file(warehouse, PLEDGE, _write(tmp_path / "b.csv", "\n".join(lines) + "\n"), partition=2025, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected and _mine(warehouse) == [("440300", 2025.5)]


def _pledge_workbook(path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["2025年3月知识产权质押融资统计表"])
    ws.append(
        ["城市代码", "月份", "登记笔数", "质押金额(万元)", "质押专利数", "质押商标数", "服务企业数", "首贷企业数"]
    )
    ws.append(["440300", "2025-03", 12, 3500.5, 30, 4, 10, 3])
    wb.save(path)
    return path


@pytest.mark.parametrize("inside", [".xls", ".xlsx"])
def test_a_wps_et_workbook_is_read_as_the_workbook_it_holds(warehouse, tmp_path, inside):
    # Before: "unsupported file type '.et'": WPS's own save name refused a workbook the loader reads.
    from xls_helpers import xls_from_xlsx

    xlsx = _pledge_workbook(tmp_path / "a.xlsx")
    et = tmp_path / "质押_2025年3月.et"
    if inside == ".xls":
        xls_from_xlsx(xlsx, et)
    else:
        et.write_bytes(xlsx.read_bytes())
    r = ingest_file(warehouse, PLEDGE, et, partition=2025, today=TODAY)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (1, 1, 0)
    assert _mine(warehouse) == [("440300", 3500.5)]
    kind = "an Excel 97-2003 workbook" if inside == ".xls" else "an Excel workbook"
    assert r.notes[0] == f"the file is {kind} (named .et): read as one"


@pytest.mark.parametrize(
    "content",
    [b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "城市代码,月份\n440300,2025-03\n".encode()],
    ids=["unreadable-compound-file", "text"],
)
def test_an_et_file_that_holds_no_readable_workbook_is_refused_saying_how_to_save_it(warehouse, tmp_path, content):
    from pipelines.ingest.reason_labels import refusal_text

    bad = tmp_path / "质押_2025年2月.et"
    bad.write_bytes(content)
    with pytest.raises(Exception, match=r"a WPS spreadsheet \(\.et\)"):
        ingest_file(warehouse, PLEDGE, bad, partition=2025, today=TODAY)
    message = warehouse.execute("SELECT message FROM raw.ingested_files WHERE status = 'failed'").fetchone()[0]
    assert refusal_text(message, "zh").startswith("该文件是无法按 Excel 工作簿读取的 WPS 表格（.et）")
    r = ingest_file(warehouse, PLEDGE, _pledge_workbook(tmp_path / "b.xlsx"), partition=2025, today=TODAY)
    assert r.rows_loaded == 1  # the next file loads


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_signature_line_typed_across_cells_is_a_note_not_a_record(warehouse, tmp_path, big):
    # Before: 填报人 | 张三 | 联系电话 | 0755-… was judged as a record: 'unknown region code in city_code: 填报人;
    # not a date in month: 张三; …', a reason that says nothing of what the row is.
    lines = [
        "城市代码,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数",
        "440300,2025-03,12,3500,30,4,10,3",
        *_filler(big),
        "填报人,张三,联系电话,0755-12345678,,,,",
        "审核人：,李四,填报日期：,2025-04-05,,,,",
    ]
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    got = warehouse.execute("SELECT reason FROM raw.rejected_rows ORDER BY row_number DESC LIMIT 2").fetchall()
    reasons = [x for (x,) in got]
    assert reasons == ["note below the table, not a record: '审核人：'", "note below the table, not a record: '填报人'"]


def test_a_record_whose_remark_is_a_name_stays_a_record(warehouse, tmp_path):
    # a label-like word inside a record (a contact column) does not make the row a note
    lines = ["地市,联系人,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"]
    lines += ["深圳市,联系人,2025-03,12,3500,30,4,10,3"]
    r = ingest_file(warehouse, PLEDGE, _write(tmp_path / "a.csv", "\n".join(lines) + "\n"), partition=2025, today=TODAY)
    assert (r.rows_loaded, r.rows_rejected) == (1, 0)


PERIOD_TOTAL = (
    "the {} states several months ('{}', 2025-01 to 2025-03) and every row is 2025-03: the figures are the period's "
    "total, not the month's own (send each month's own figures, one row per month)"
)
HEADER = "城市代码,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
@pytest.mark.parametrize(
    "title,words",
    [
        ("2025年第一季度知识产权质押融资统计表", "2025年第一季度"),
        ("2025年1-3月知识产权质押融资统计表", "2025年1-3月"),
        ("2025年1月至3月各市质押融资情况", "2025年1月至3月"),
        ("2025Q1 质押融资", "2025Q1"),
    ],
)
def test_a_quarter_filed_under_its_last_month_is_refused(warehouse, tmp_path, big, title, words):
    # Before: a 一季度 report whose 月份 column says 2025-03 loaded the quarter's figures as March's own, silently.
    rows = ["440300,2025-03,12,3500,30,4,10,3", "440100,2025-03,8,1200,11,2,7,2"]
    filler = [x.replace("110100", "110100").split(",", 2) for x in _filler(big)]
    rows += [f"{c},2025-03,{rest}" for c, _, rest in filler]  # a big file of the same month
    path = _write(tmp_path / "质押.csv", "\n".join([title, HEADER, *rows]) + "\n")
    with pytest.raises(Exception, match="states several months"):
        ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert warehouse.execute("SELECT count(*) FROM raw.pledge_loans").fetchone() == (0,)
    message = warehouse.execute("SELECT message FROM raw.ingested_files WHERE status = 'failed'").fetchone()[0]
    assert message == PERIOD_TOTAL.format("title above the table", words)


def test_a_quarter_in_the_file_name_and_a_workbook_title_is_refused_too(warehouse, tmp_path):
    import openpyxl

    named = _write(tmp_path / "2025年1-3月质押融资.csv", "\n".join([HEADER, "440300,2025-03,12,3500,30,4,10,3"]) + "\n")
    with pytest.raises(Exception, match="states several months"):
        ingest_file(warehouse, PLEDGE, named, partition=2025, today=TODAY)
    wb = openpyxl.Workbook()
    wb.active.append(["截至2025年3月底知识产权质押融资情况"])
    wb.active.append([])
    wb.active.append(HEADER.split(","))
    wb.active.append(["440300", "2025-03", 12, 3500, 30, 4, 10, 3])
    wb.save(book := tmp_path / "质押.xlsx")
    with pytest.raises(Exception, match="states several months"):
        ingest_file(warehouse, PLEDGE, book, partition=2025, today=TODAY)
    messages = [m for (m,) in warehouse.execute("SELECT message FROM raw.ingested_files ORDER BY file_name").fetchall()]
    assert PERIOD_TOTAL.format("file name", "2025年1-3月") in messages


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_the_months_of_a_quarter_each_on_its_row_load(warehouse, tmp_path, big):
    rows = ["440300,2025-01,12,3500,30,4,10,3", "440300,2025-02,8,1200,11,2,7,2", "440300,2025-03,8,1300,11,2,7,2"]
    path = _write(
        tmp_path / "质押.csv", "\n".join(["2025年第一季度知识产权质押融资统计表", HEADER, *rows, *_filler(big)])
    )
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected and len(_mine(warehouse)) == 3


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
@pytest.mark.parametrize(
    "line",
    [
        "单位：笔、亿元",
        "单位：件，笔，亿元",
        "（单位：件、笔、亿元）",
        "金额单位:户、亿",
        "单位：户/亿元",
        "单位：笔／亿元",
    ],
)
def test_a_unit_line_listing_counts_before_the_money_unit_converts_the_amounts(warehouse, tmp_path, big, line):
    # Before: only the list's first word was read (笔, a count): the 亿元 figures loaded as 万元, silently.
    lines = ["2025年3月知识产权质押融资统计表", line, BARE, "440300,2025-03,1,2.5,3,0,1,1", *_filler(big)]
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    assert _mine(warehouse) == [("440300", 25000.0)]


def test_a_unit_line_listing_two_families_gives_each_column_its_own(warehouse, tmp_path):
    from pipelines.sources import SOURCES

    path = _write(
        tmp_path / "人口_2024.csv", "单位：人、万元\n地区代码,年份,常住人口,GDP\n440300,2024,17790000,369000000\n"
    )
    r = ingest_file(warehouse, SOURCES["population"], path, today=TODAY)
    assert r.rows_loaded == 1
    assert warehouse.execute("SELECT population_10k, gdp_100m_yuan FROM raw.population").fetchall() == [
        (1779.0, 36900.0)
    ]


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_unit_line_in_a_cell_of_the_header_row_converts_the_amounts(warehouse, tmp_path, big):
    # Before: '单位：亿元' beside the last header was an ignored extra column and 2.5 亿元 loaded as 2.5 万元, silently.
    lines = [BARE + ",单位：亿元", "440300,2025-03,1,2.5,3,0,1,1,", *[x + "," for x in _filler(big)]]
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n")
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    assert _mine(warehouse) == [("440300", 25000.0)]


def test_a_header_cell_that_names_a_unit_among_other_words_is_no_unit_line(warehouse, tmp_path):
    lines = [BARE + ",备注（单位：亿元的为估算）", "440300,2025-03,1,2.5,3,0,1,1,"]
    ingest_file(warehouse, PLEDGE, _write(tmp_path / "a.csv", "\n".join(lines) + "\n"), partition=2025, today=TODAY)
    assert _mine(warehouse) == [("440300", 2.5)]


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
@pytest.mark.parametrize(
    "header,cell,value",
    [("质押金额亿元", "2.5", 25000.0), ("质押金额万元", "2.5", 2.5), ("融资金额元", "25000000", 2500.0)],
)
def test_a_money_unit_written_straight_after_the_amount_s_name_is_its_unit(
    warehouse, tmp_path, big, header, cell, value
):
    # Before: 质押金额亿元 was no header: the file was refused for a missing amount column.
    lines = [BARE.replace("质押金额", header), f"440300,2025-03,1,{cell},3,0,1,1", *_filler(big)]
    r = ingest_file(warehouse, PLEDGE, _write(tmp_path / "a.csv", "\n".join(lines) + "\n"), partition=2025, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    assert _mine(warehouse) == [("440300", value)]
