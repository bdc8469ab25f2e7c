"""Office files as they are really sent (round 12). (1) A former unit's name typed from an old template (襄樊 for 襄阳,
思茅, 莱芜, 巢湖) and a row under a code replaced since (莱芜市 371200): refused as "unknown city name" / "unknown
region code" or as a district's name that did not say the unit had changed. Now a renamed unit's old name is its
code, a merged unit's is its old code before the merge (staging maps it) and refused after it, an abolished unit's
is refused naming the approval (seeds unit_name_changes / unit_code_changes: State Council approvals via
yescallop/areacodes). (2) A city written as a block's caption in a table without a city column: read as a second
table's title and the file refused. (3) A title's bracketed count in 万 without 单位 (（万件）): loaded 10,000 times too
small. (4) A workbook as WPS 表格 saves it (probed: loads right). (5) A GB18030 file recorded as gbk; guards for
UTF-16 text, percentages and parentheses in money cells, a mid-table 合计, formulas without saved values and a
hidden sheet of old data. Both ingest paths where a CSV can carry the case (the Polars reader, the DuckDB scan)."""

from __future__ import annotations

import pytest
from office_fixtures import ingest_counted as _ingest
from office_fixtures import loaded_of as _loaded
from office_fixtures import reasons_of as _reasons
from office_fixtures import status_of as _status
from office_fixtures import wps_workbook as _wps_workbook
from test_ingest_loaders import TODAY, _write
from test_ingest_loaders import scan_filler as _filler

from pipelines.ingest.load import ingest_file
from pipelines.ingest.reason_labels import reason_text

NAMES = "地区,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"
CODES = "城市代码,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
@pytest.mark.parametrize(
    "old,code",
    [("襄樊", "420600"), ("襄樊市", "420600"), ("思茅市", "530800"), ("湖北省襄樊市", None)],
)
def test_a_renamed_unit_s_old_name_is_read_as_its_code(warehouse, tmp_path, big, old, code):
    # Before: 襄樊 was "unknown city name", 思茅市 "a county-level area": a good row refused.
    lines = [NAMES, f"{old},2025-03,2,20,1,0,1,0", "深圳,2025-03,1,10,1,0,1,0", *_filler(big)]
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n")
    r = _ingest(warehouse, path)
    if code is None:  # the province-prefixed spelling is not derived for former names: refused, not guessed
        assert _loaded(warehouse, path.name) == [("440300", "2025-03")]
        return
    assert _loaded(warehouse, path.name) == [(code, "2025-03"), ("440300", "2025-03")]
    note = next(n for n in r.notes if "renamed" in n)
    assert "国函〔20" in note and reason_text(note, "pledge_loans", "zh") != note


def test_a_bare_old_name_a_district_bears_today_is_refused_naming_both(warehouse, tmp_path):
    # 思茅 is 普洱市's old name and 普洱市思茅区 today: a district's figures read as the city's would be wrong silently
    path = _write(tmp_path / "a.csv", "\n".join([NAMES, "思茅,2025-03,2,20,1,0,1,0"]) + "\n")
    _ingest(warehouse, path)
    reason = _reasons(warehouse, path.name)[2]
    assert reason.startswith("former name in city_code: '思茅' was the name of 530800 思茅市 until 2007-01-21")
    assert "530802" in reason and "普洱市" in reason
    assert "思茅" in reason_text(reason, "pledge_loans", "zh") and "旧名称" in reason_text(reason, "pledge_loans", "zh")


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_merged_unit_is_its_old_code_before_the_merge_and_refused_after(warehouse, tmp_path, big):
    # 莱芜市 was merged into 济南市 on 2018-12-26 (国函〔2018〕163号): before, "a county-level area (370116)"
    filler = [r.replace("2025-", "2018-") for r in _filler(big)]
    lines = [NAMES, "莱芜市,2018-03,2,20,1,0,1,0", "莱芜,2018-11,2,20,1,0,1,0", "莱芜,2018-12,2,20,1,0,1,0"]
    path = _write(tmp_path / "质押_2018.csv", "\n".join([*lines, "济南,2018-03,2,20,1,0,1,0", *filler]) + "\n")
    _ingest(warehouse, path, partition=2018)
    assert _loaded(warehouse, path.name) == [("371200", "2018-03"), ("371200", "2018-11"), ("370100", "2018-03")]
    unclear = _reasons(warehouse, path.name)[4]
    assert "does not tell whether before or after it (write the code meant: 371200 before, 370100 after)" in unclear
    lines = [NAMES, "莱芜市,2025-03,2,20,1,0,1,0", "莱芜,2025-04,2,20,1,0,1,0", "济南,2025-03,2,20,1,0,1,0"]
    path = _write(tmp_path / "质押_2025.csv", "\n".join([*lines, *_filler(big)]) + "\n")
    _ingest(warehouse, path)
    assert _loaded(warehouse, path.name) == [("370100", "2025-03")]
    reasons = _reasons(warehouse, path.name)
    for row, value in ((2, "莱芜市"), (3, "莱芜")):
        assert reasons[row].startswith(f"former unit in city_code: '{value}' (371200 莱芜市) was merged into 370100")
        assert "国函〔2018〕163号" in reasons[row] and "济南市's row" in reasons[row]
        assert "已撤并" in reason_text(reasons[row], "pledge_loans", "zh")


@pytest.mark.parametrize("name", ["巢湖", "巢湖市"])
def test_an_abolished_unit_is_refused_naming_the_approval(warehouse, tmp_path, name):
    # Before: "a county-level area (340181)": today's county-level 巢湖市 under 合肥 is not the abolished prefecture
    path = _write(tmp_path / "a.csv", "\n".join([NAMES, f"{name},2025-03,2,20,1,0,1,0"]) + "\n")
    _ingest(warehouse, path)
    reason = _reasons(warehouse, path.name)[2]
    assert reason.startswith(f"abolished unit in city_code: '{name}' (341400 巢湖市) was abolished on 2011-07-14")
    assert "国函〔2011〕84号" in reason and "已撤销" in reason_text(reason, "pledge_loans", "zh")


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_row_under_a_code_replaced_since_loads_for_staging_to_map(warehouse, tmp_path, big):
    # Before: "unknown region code in city_code: '371200'": the staging mapping (unit_code_changes) never saw it
    filler = [r.replace("2025-", "2018-") for r in _filler(big)]
    lines = [CODES, "371200,2018-03,2,20,1,0,1,0", "522200,2011-03,2,20,1,0,1,0"]
    path = _write(tmp_path / "a.csv", "\n".join([*lines, *filler]) + "\n")
    _ingest(warehouse, path, partition=None)
    assert _loaded(warehouse, path.name) == [("371200", "2018-03"), ("522200", "2011-03")]


def test_the_former_names_come_from_the_seeds_with_their_approvals():
    from pipelines import reference

    former = {r[0]: r for r in reference.former_units()}
    assert {"思茅市", "襄樊市", "巢湖市", "莱芜市"} <= set(former)
    for _name, _old, _new, _new_name, kind, approved, document in former.values():
        assert kind in ("renamed", "abolished", "merged") and document.startswith("国函") and len(approved) == 10


# ------------------------------------------------------------------ a city written as a block's caption

NO_CITY = "月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"


@pytest.mark.parametrize(
    "lines",
    [
        # a caption above each repeated header: before, each read as a second table's title (its rows refused) and
        # the file refused whole as missing city_code
        [NO_CITY, "深圳市,,,,,,", NO_CITY, "2025-03,2,20,1,0,1,0", "广州市,,,,,,", NO_CITY, "2025-03,3,30,1,0,1,0"],
        # the first block's caption above the file's header
        ["深圳市,,,,,,", NO_CITY, "2025-03,2,20,1,0,1,0", "广州市,,,,,,", NO_CITY, "2025-03,3,30,1,0,1,0"],
        # captions between the blocks, the header once
        [NO_CITY, "深圳市,,,,,,", "2025-03,2,20,1,0,1,0", "广州市,,,,,,", "2025-03,3,30,1,0,1,0"],
    ],
    ids=["above-repeated-header", "first-in-title", "header-once"],
)
def test_a_city_caption_over_each_block_is_the_block_s_city(warehouse, tmp_path, lines):
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n")
    r = _ingest(warehouse, path)
    assert _loaded(warehouse, path.name) == [("440300", "2025-03"), ("440100", "2025-03")]
    assert not [v for v in _reasons(warehouse, path.name).values() if "header row repeated" not in v]
    note = next(n for n in r.notes if n.startswith("no city column: read"))
    assert reason_text(note, "pledge_loans", "zh").startswith("没有城市列")


def test_rows_before_any_caption_and_a_caption_that_is_no_unit_are_refused_not_guessed(warehouse, tmp_path):
    lines = [
        NO_CITY,
        "2025-05,2,20,1,0,1,0",
        "东莞市,,,,,,",
        "2025-05,3,30,1,0,1,0",
        "某某市,,,,,,",
        "2025-05,3,30,1,0,1,0",
    ]
    path = _write(tmp_path / "a.csv", "\n".join(lines) + "\n")
    _ingest(warehouse, path)
    assert _loaded(warehouse, path.name) == [("441900", "2025-05")]
    reasons = _reasons(warehouse, path.name)
    assert reasons[2] == "missing value in city_code" and reasons[6].startswith(
        "unknown city name in city_code: '某某市'"
    )


def test_a_workbook_s_city_captions_are_read_the_same(warehouse, tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for row in (["深圳市"], NO_CITY.split(","), ["2025-03", 2, 20, 1, 0, 1, 0], ["广州市"], NO_CITY.split(",")):
        ws.append(row)
    ws.append(["2025-03", 3, 30, 1, 0, 1, 0])
    ws.merge_cells("A4:G4")  # a caption merged across the table, as offices centre it
    wb.save(tmp_path / "质押_2025年3月.xlsx")
    _ingest(warehouse, tmp_path / "质押_2025年3月.xlsx")
    assert _loaded(warehouse, "质押_2025年3月.xlsx") == [("440300", "2025-03"), ("440100", "2025-03")]


def test_a_second_table_s_title_that_is_no_city_still_refuses_its_rows(warehouse, tmp_path):
    # the round-8 rule stands where the table has a city column: 表2 上年同期's rows are not this file's records
    lines = [NAMES, "深圳,2025-06,2,20,1,0,1,0", "表2 上年同期,,,,,,,", NAMES, "深圳,2024-06,2,20,1,0,1,0"]
    path = _write(tmp_path / "a.csv", "\n".join(lines) + "\n")
    _ingest(warehouse, path)
    assert _loaded(warehouse, path.name) == [("440300", "2025-06")]
    assert _reasons(warehouse, path.name)[5].startswith("read under the second table titled '表2 上年同期'")


# ------------------------------------------------------------------ a workbook as WPS 表格 writes it


def test_a_workbook_saved_by_wps_loads_its_dates_formulas_and_inline_strings(warehouse, tmp_path):
    # Probed, not a fault found: a 1904-based date read in the 1900 system would be four years off, silently.
    path = _wps_workbook(tmp_path / "质押_2025.xlsx")
    _ingest(warehouse, path)
    rows = warehouse.execute(
        "SELECT city_code, strftime(month, '%Y-%m'), registrations, amount_10k_yuan, patents_pledged "
        "FROM raw.pledge_loans ORDER BY _row_number"
    ).fetchall()
    assert rows == [("440300", "2025-03", 2, 20.5, 4), ("440100", "2025-04", 3, 30.0, 6)]


# ------------------------------------------------------------------ a bracketed count unit in a title without 单位

STATS = "地区代码,地区,年份,发明专利授权量,实用新型专利授权量,外观设计专利授权量,专利授权总量"


def _stats_filler(big: bool) -> list[str]:
    return [f"{c},x,{y},5,5,5,15" for c in ("110100", "120100") for y in range(2010, 2024)] * (1300 if big else 0)


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
@pytest.mark.parametrize(
    "title,header",
    [
        ("2023年各市专利授权统计（万件）", STATS),  # the bracket closes the table's title: the table's unit
        ("2023年专利授权情况表(万件)", STATS),
        ("2023年各市专利授权量（万件）", STATS),  # after what the columns hold (…专利授权量)
        ("2023年各市专利授权量（万件）", STATS.replace("发明专利授权量", "发明专利授权量(件)")),  # conflicts: refused
    ],
)
def test_a_title_s_bracketed_count_in_wan_is_the_table_s_unit_and_refused(warehouse, tmp_path, big, title, header):
    # Before: the bracket was read as no unit: 4 万件 loaded as 4 件 (10,000 times too small), silently.
    from pipelines.ingest import load
    from pipelines.sources import SOURCES

    lines = [title + ",,,,,,", header, "440300,深圳,2023,4,10,5,19", *_stats_filler(big)]
    path = _write(tmp_path / "专利统计_2023.csv", "\n".join(lines) + "\n")
    with pytest.raises(load.IngestError, match=r"gives counts in 万件 .*loaded as whole numbers"):
        ingest_file(warehouse, SOURCES["patent_stats"], path, today=TODAY)
    assert not warehouse.execute("SELECT count(*) FROM raw.patent_stats WHERE region_code = '440300'").fetchone()[0]


@pytest.mark.parametrize("title", ["2023年各市专利授权统计（件）", "2023年培训人次（万人次）"])
def test_a_bracket_stating_plain_counts_or_another_measure_changes_nothing(warehouse, tmp_path, title):
    from pipelines.sources import SOURCES

    path = _write(tmp_path / "专利统计_2023.csv", "\n".join([title + ",,,,,,", STATS, "440300,深圳,2023,4,10,5,19"]))
    r = ingest_file(warehouse, SOURCES["patent_stats"], path, today=TODAY)
    assert (r.rows_loaded, r.rows_rejected) == (1, 0)


# ------------------------------------------------------------------ new shapes probed (guards: no fault found)


def test_a_gb18030_csv_with_a_character_outside_gbk_keeps_it(warehouse, tmp_path):
    from pipelines.sources import SOURCES

    # 𠮷 (U+20BB7) has a GB18030 four-byte code and none in GBK: read as GBK it would be replaced or refused
    header = "案件编号,城市代码,案件类型,立案日期,结案日期,处理结果"
    text = f"{header}\n粤知执𠮷2025-1,440300,trademark,2025-03-02,,\n粤知执2025-2,440100,trademark,2025-03-03,,\n"
    path = _write(tmp_path / "执法_2025.csv", text, encoding="gb18030")
    r = ingest_file(warehouse, SOURCES["enforcement_cases"], path, partition=2025, today=TODAY)
    ids = warehouse.execute("SELECT case_id FROM raw.enforcement_cases ORDER BY filed_date").fetchall()
    assert ids == [("粤知执𠮷2025-1",), ("粤知执2025-2",)]
    # before: the ledger said "gbk", an encoding the file's first row is not in
    assert "decoded from gb18030" in r.notes

    def encoding(name: str) -> str:
        return warehouse.execute("SELECT encoding FROM raw.ingested_files WHERE file_name = ?", [name]).fetchone()[0]

    assert encoding(path.name) == "gb18030"
    plain = _write(tmp_path / "执法_2025b.csv", text.replace("𠮷", "").replace("2025-", "2024-"), encoding="gbk")
    ingest_file(warehouse, SOURCES["enforcement_cases"], plain, partition=None, today=TODAY)
    assert encoding(plain.name) == "gbk"


def test_excel_unicode_text_utf16_tab_separated_loads(warehouse, tmp_path):
    text = CODES.replace(",", "\t") + "\n440300\t2025-03\t2\t20\t1\t0\t1\t0\n440100\t2025-03\t3\t30\t1\t0\t1\t0\n"
    path = _write(tmp_path / "质押_2025年3月.txt.csv", text, encoding="utf-16")  # BOM + UTF-16 LE, as Excel saves
    _ingest(warehouse, path)
    assert _loaded(warehouse, path.name) == [("440300", "2025-03"), ("440100", "2025-03")]


@pytest.mark.parametrize(
    "cell,reason",
    [
        # a share where money belongs: never 12.5 万元 (its own reason since round 13; it was "not a number")
        ("12.5%", "a percentage in amount_10k_yuan: '12.5%' where an amount or count is expected"),
        ('"(1,234)"', "negative amount in parentheses in amount_10k_yuan: '(1,234)'"),  # accounting style
    ],
)
def test_a_money_cell_as_a_percentage_or_in_parentheses_is_refused_by_its_row(warehouse, tmp_path, cell, reason):
    lines = [CODES, f"440300,2025-03,2,{cell},1,0,1,0", "440100,2025-03,3,30,1,0,1,0"]
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n")
    _ingest(warehouse, path)
    assert _loaded(warehouse, path.name) == [("440100", "2025-03")]
    assert _reasons(warehouse, path.name)[2].startswith(reason)


def test_a_total_row_in_the_middle_is_set_aside_and_the_rows_after_it_load(warehouse, tmp_path):
    lines = [NAMES, "深圳,2025-03,2,20,1,0,1,0", "合计,2025-03,5,50,2,0,2,0", "广州,2025-03,3,30,1,0,1,0"]
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n")
    _ingest(warehouse, path)
    assert _loaded(warehouse, path.name) == [("440300", "2025-03"), ("440100", "2025-03")]
    assert _reasons(warehouse, path.name)[3].startswith("total row ('合计')")


def test_formulas_without_saved_values_are_refused_by_name_not_read_as_blank(warehouse, tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()  # openpyxl saves a formula without its value, as report exports do
    ws = wb.active
    ws.append(CODES.split(","))
    ws.append(["440300", "2025-03", 2, 20, 1, 0, 1, 0])
    ws.append(["440100", "2025-03", "=C2*2", "=D2+5", 1, 0, 1, 0])
    wb.save(tmp_path / "质押_2025年3月.xlsx")
    _ingest(warehouse, tmp_path / "质押_2025年3月.xlsx")
    assert _loaded(warehouse, "质押_2025年3月.xlsx") == [("440300", "2025-03")]
    assert "'=C2*2'" in _reasons(warehouse, "质押_2025年3月.xlsx")[3]
    assert "formula cells without a saved value: C3, D3" in _status(warehouse, "质押_2025年3月.xlsx")[2]


def test_a_hidden_sheet_holding_an_old_version_of_a_record_loads_neither(warehouse, tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    old = wb.active
    old.title = "3月(旧)"
    old.append(CODES.split(","))
    old.append(["440300", "2025-03", 4, 40, 1, 0, 1, 0])
    old.sheet_state = "hidden"
    new = wb.create_sheet("3月")
    new.append(CODES.split(","))
    new.append(["440300", "2025-03", 5, 50, 1, 0, 1, 0])
    new.append(["440100", "2025-03", 6, 60, 1, 0, 1, 0])
    wb.save(tmp_path / "质押_2025年3月.xlsx")
    _ingest(warehouse, tmp_path / "质押_2025年3月.xlsx")
    assert _loaded(warehouse, "质押_2025年3月.xlsx") == [("440100", "2025-03")]
    loaded, rejected, message = _status(warehouse, "质押_2025年3月.xlsx")
    assert (loaded, rejected) == (1, 2) and "sheet '3月(旧)' is hidden in the workbook" in message
