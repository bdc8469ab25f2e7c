"""Office files as they are really sent (round 8): a large CSV still being copied into landing while a run (or the
landing sensor) looks at it, a sub-column's unit contradicting its group title's (金额(万元) under 质押融资（亿元）), a
title listing several units (亿元、笔), a sheet summing the month sheets under a name such as Sheet4, 省本级 rows, a name
several units bear (朝阳) told by the file's other rows (districts too), and a two-digit year (25年3月) the file name
states."""

from __future__ import annotations

import json
import os
import time

import dagster as dg
import openpyxl
import pytest
from test_ingest_loaders import PLEDGE, TODAY, _write
from test_ingest_loaders import scan_filler as _filler

from pipelines.ingest import contract_sql, load
from pipelines.ingest.load import IngestError, ingest_file, pending_files
from pipelines.ingest.reason_labels import refusal_text

CODES = "城市代码,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"


def _loaded(con) -> list[tuple]:
    return con.execute(
        "SELECT city_code, strftime(month, '%Y-%m'), registrations, amount_10k_yuan FROM raw.pledge_loans "
        "WHERE city_code NOT IN ('110100', '120100') ORDER BY _row_number"
    ).fetchall()


def _settled(path) -> None:
    """As if the copy had finished a minute ago."""
    old = time.time() - 60
    os.utime(path, (old, old))


# --------------------------------------------------------------------------------- a file still being copied in


def test_a_file_copied_in_just_before_the_run_is_waited_for_and_read(warehouse, tmp_path, monkeypatch):
    # A file written a moment ago (copied in, or by `ipcity generate`, just before `ipcity run`) is read by that run
    # once it has stopped changing for the settle time: leaving it out made the run publish a year without it.
    monkeypatch.setenv("IPCITY_LANDING_SETTLE_S", "1")
    landing = tmp_path / "landing"
    path = _write(landing / "pledge_loans" / "质押_2025年3月.csv", CODES + "\n440300,2025-03,3,30,2,0,2,0\n")
    t0 = time.monotonic()
    assert pending_files(warehouse, landing, PLEDGE) == [path]
    assert time.monotonic() - t0 >= 0.5  # it waited for the file to settle
    ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert _loaded(warehouse) == [("440300", "2025-03", 3, 30.0)]


def test_a_file_still_being_copied_in_is_not_read(warehouse, tmp_path, monkeypatch):
    # Before: a CSV still being copied in was read as it stood: its first rows loaded (and were published) as the
    # whole file, silently. A file that keeps changing through the whole wait is left for the next run, not refused.
    import threading

    monkeypatch.setenv("IPCITY_LANDING_SETTLE_S", "0.5")  # the wait: 6 x 0.5 s
    landing = tmp_path / "landing"
    path = _write(landing / "pledge_loans" / "质押_2025年3月.csv", CODES + "\n440300,2025-03,3,30,2,0,2,0\n")
    stop = threading.Event()

    def copy_going_on():
        while not stop.is_set():
            os.utime(path)  # the copy still writing
            time.sleep(0.1)

    writer = threading.Thread(target=copy_going_on, daemon=True)
    writer.start()
    try:
        assert pending_files(warehouse, landing, PLEDGE) == []
        with pytest.raises(IngestError) as e:
            ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    finally:
        stop.set()
        writer.join()
    assert e.value.reason == (
        "still arriving: the file changed less than 0.5 s ago, it is read once its copy is complete "
        "(IPCITY_LANDING_SETTLE_S)"
    )
    assert refusal_text(e.value.reason, "zh") != e.value.reason
    # not refused: nothing is wrong with the file, the next run reads it
    assert warehouse.execute("SELECT count(*) FROM raw.ingested_files WHERE source = 'pledge_loans'").fetchone() == (0,)
    _settled(path)
    assert pending_files(warehouse, landing, PLEDGE) == [path]
    ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert _loaded(warehouse) == [("440300", "2025-03", 3, 30.0)]


def test_the_settle_time_is_a_setting_and_a_wrong_one_is_named(monkeypatch):
    from pipelines import settings

    monkeypatch.delenv("IPCITY_LANDING_SETTLE_S")
    assert settings.landing_settle_seconds() == settings.DEFAULT_LANDING_SETTLE_S == 5.0
    monkeypatch.setenv("IPCITY_LANDING_SETTLE_S", "five")
    with pytest.raises(ValueError, match="IPCITY_LANDING_SETTLE_S must be a number of seconds, not 'five'"):
        settings.landing_settle_seconds()


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_file_that_grows_while_it_is_read_loads_nothing(warehouse, tmp_path, monkeypatch, big):
    # The copy goes on while the run reads (the settle time passed during a pause of the copier): what was read is
    # part of the file, never loaded.
    path = _write(
        tmp_path / "质押_2025年3月.csv", "\n".join([CODES, "440300,2025-03,3,30,2,0,2,0", *_filler(big)]) + "\n"
    )
    real_read, real_stage = load.read_file, contract_sql.stage

    def copier_goes_on(read, *args, **kwargs):
        out = read(*args, **kwargs)
        with path.open("a", encoding="utf-8") as f:  # the copier writes the file's next rows meanwhile
            f.write("440100,2025-03,1,10,1,0,1,0\n")
        return out

    monkeypatch.setattr(load, "read_file", lambda *a, **k: copier_goes_on(real_read, *a, **k))
    monkeypatch.setattr(contract_sql, "stage", lambda *a, **k: copier_goes_on(real_stage, *a, **k))
    with pytest.raises(IngestError, match="still arriving: the file changed while it was read"):
        ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert warehouse.execute("SELECT count(*) FROM raw.pledge_loans").fetchone() == (0,)


def test_the_landing_sensor_waits_for_a_file_still_being_copied(tmp_path, monkeypatch):
    from pipelines.automation import landing_sensor
    from pipelines.ingest.load import ensure_schema

    monkeypatch.setenv("IPCITY_LANDING", str(tmp_path / "landing"))
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("IPCITY_LANDING_SETTLE_S", "5")
    import duckdb

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ensure_schema(con)
    con.close()
    path = _write(
        tmp_path / "landing" / "pledge_loans" / "质押_2025年3月.csv", CODES + "\n440300,2025-03,3,30,2,0,2,0\n"
    )
    tick = landing_sensor.evaluate_tick(dg.build_sensor_context(cursor=None))
    assert tick.run_requests == []
    assert tick.skip_message == (
        "no new files in landing; still arriving, read once their copy is complete: pledge_loans/质押_2025年3月.csv"
    )
    assert "pledge_loans/质押_2025年3月.csv" not in json.loads(tick.cursor or "{}")
    _settled(path)
    requests = [r for r in landing_sensor(dg.build_sensor_context(cursor=tick.cursor)) if isinstance(r, dg.RunRequest)]
    assert [r.partition_key for r in requests] == ["2025"]


# -------------------------------------------------------------------- units of a group title and its sub-columns


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
    "title,lower,stated",
    [
        ("质押融资（亿元）", ("笔数", "金额(万元)"), ("亿元", "金额(万元)", "万元")),
        ("质押融资(单位:亿元)", ("笔数", "质押金额（元）"), ("亿元", "质押金额(元)", "元")),
        ("质押融资（亿元、笔）", ("笔数", "金额（万）"), ("亿元", "金额(万)", "万元")),
        ("质押融资（亿元）", ("笔数", "万元"), ("亿元", "万元", "万元")),
    ],
)
def test_a_sub_column_whose_unit_contradicts_its_group_title_s_is_refused(warehouse, tmp_path, title, lower, stated):
    # Before: the sub-column's unit won, silently: 2500 under 质押融资（亿元） | 金额(万元) loaded as 2500 万元
    # (if the title was right, 2500 亿元). Which of the two is wrong the file cannot tell: refused, naming both.
    path = _grouped_workbook(tmp_path / "质押_2025年3月.xlsx", title, lower, 2500)
    with pytest.raises(IngestError) as e:
        ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    title_unit, _, sub_unit = stated
    assert e.value.reason == (
        f"units disagree: group title '{title}' states {title_unit} over sub-column "
        f"'{lower[1]}' stating {sub_unit}; which the figures are in cannot be told (state one unit, in the title or "
        "the sub-columns)"
    )
    assert refusal_text(e.value.reason, "zh") != e.value.reason
    assert warehouse.execute("SELECT count(*) FROM raw.pledge_loans").fetchone() == (0,)


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_csv_sub_column_whose_unit_contradicts_its_group_title_s_is_refused_on_both_paths(warehouse, tmp_path, big):
    lines = [
        "城市代码,月份,质押融资（亿元）,,质押专利数,质押商标数,服务企业数,首贷企业数",
        ",,笔数,金额(万元),,,,",
        "440300,2025-03,3,2500,2,0,2,0",
        *_filler(big),
    ]
    path = _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n")
    with pytest.raises(IngestError, match="units disagree: group title '质押融资（亿元）' states 亿元"):
        ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)


@pytest.mark.parametrize(
    "title,lower",
    [
        ("质押融资（亿元、笔）", ("笔数", "金额")),
        ("质押融资（笔、亿元）", ("登记笔数", "质押金额")),
        ("质押融资(单位:亿元,笔)", ("笔数", "金额")),
        ("质押融资（亿元）", ("笔数", "金额(亿元)")),  # the same unit twice: no contradiction
        ("质押融资（亿元）", ("笔数", "金额(亿)")),
    ],
)
def test_a_group_title_listing_several_units_gives_each_column_its_own(warehouse, tmp_path, title, lower):
    # Before: 质押融资（亿元、笔） stated no unit: 2.5 亿元 loaded as 2.5 万元 (or 笔数 named no column).
    r = ingest_file(
        warehouse,
        PLEDGE,
        _grouped_workbook(tmp_path / "质押_2025年3月.xlsx", title, lower),
        partition=2025,
        today=TODAY,
    )
    assert _loaded(warehouse) == [("440300", "2025-03", 3, 25000.0)], r.notes


# ------------------------------------------------------------------ a sheet summing the others, by its rows


def _monthly_book(path, total_sheet: str | None, total_rows: list[list], months=(1, 2, 3), both=True):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    header = CODES.split(",")
    for m in months:
        ws = wb.create_sheet(f"{m}月")
        ws.append(header)
        ws.append(["440300", f"2025-{m:02d}", m, m * 100, m, 0, m, 0])
        if both:
            ws.append(["440100", f"2025-{m:02d}", 2 * m, 50 + m, 1, 1, 1, 0])
    if total_sheet:
        ws = wb.create_sheet(total_sheet)
        ws.append(header)
        for row in total_rows:
            ws.append(row)
    wb.save(path)
    return path


@pytest.mark.parametrize("name", ["Sheet4", "汇总表", "报表"])
def test_a_sheet_whose_rows_sum_the_month_sheets_is_refused_whatever_its_name(warehouse, tmp_path, name):
    # Before: a quarter's sheet named Sheet4 loaded as records: a city absent from the 3月 sheet (440200) loaded the
    # quarter's figures as March's, silently.
    rows = [
        ["440300", "2025-03", 6, 600, 6, 0, 6, 0],
        ["440100", "2025-03", 12, 156, 3, 3, 3, 0],
        ["440200", "2025-03", 9, 900, 9, 0, 9, 0],
    ]
    r = ingest_file(
        warehouse, PLEDGE, _monthly_book(tmp_path / "质押_2025.xlsx", name, rows), partition=2025, today=TODAY
    )
    assert [(c, m) for c, m, *_ in _loaded(warehouse)] == [
        (c, f"2025-{m:02d}") for m in (1, 2, 3) for c in ("440300", "440100")
    ]
    reason = f"total sheet: sheet '{name}' sums the workbook's other sheets, its rows are no records"
    got = warehouse.execute("SELECT DISTINCT reason FROM raw.rejected_rows WHERE source = 'pledge_loans'").fetchall()
    assert r.rows_rejected == 3 and got == [(reason,)]


def test_month_sheets_whose_figures_happen_to_add_up_stay_months(warehouse, tmp_path):
    # 3月 = 1月 + 2月 in every figure here, but its month is its own: no sheet restates another's period.
    path = _monthly_book(tmp_path / "质押_2025.xlsx", None, [], both=False)
    ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert len(_loaded(warehouse)) == 3


# ---------------------------------------------------------------------------------------- 省本级 rows

NAMES = "地区,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
@pytest.mark.parametrize("label", ["省本级", "广东省本级", "本级", "省直", "市本级"])
def test_an_own_level_row_is_quarantined_as_such_never_a_city(warehouse, tmp_path, label, big):
    # Before: '省本级' was "unknown city name": not loaded, but for a reason that sent the office looking for a typo.
    filler = [x for x in _filler(big)]
    lines = [NAMES, "深圳,2025-03,2,20,1,0,1,0", f"{label},2025-03,3,30,2,0,2,0", "广州,2025-03,1,10,1,0,1,0"]
    lines += [f.replace("110100,", "北京,").replace("120100,", "天津,") for f in filler]
    r = ingest_file(
        warehouse, PLEDGE, _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n"), partition=2025, today=TODAY
    )
    assert [c for c, *_ in _loaded(warehouse)] == ["440300", "440100"], r.notes
    reason = warehouse.execute(
        "SELECT reason FROM raw.rejected_rows WHERE row_number = 3 AND reason NOT LIKE 'duplicate%'"
    ).fetchall()
    expected = (
        f"own-level row ('{label}'): the figures of a province's or city's own departments (本级), not a city's record"
    )
    assert reason == [(expected,)]
    from pipelines.ingest.reason_labels import reason_text

    assert reason_text(expected, "pledge_loans", "zh") != expected


# ------------------------------------------------------------------- a name several places bear, told by the file


def _codes(con, month: str) -> list[str]:
    return [
        c for (c,) in con.execute(f"SELECT city_code FROM raw.pledge_loans WHERE month = DATE '{month}-01'").fetchall()
    ]


def test_a_district_table_tells_its_province_and_a_shared_name_is_not_another_province_s_city(warehouse, tmp_path):
    # Before: 海淀 and 东城 (districts, no units) told nothing, so 朝阳 among them loaded as 朝阳市 of Liaoning
    # (211300), silently. Now their province is the file's, and 朝阳 is refused as Beijing's district's name.
    lines = [NAMES, "海淀,2025-03,2,20,1,0,1,0", "朝阳,2025-03,1,10,1,0,1,0", "东城,2025-03,1,10,1,0,1,0"]
    ingest_file(warehouse, PLEDGE, _write(tmp_path / "a.csv", "\n".join(lines) + "\n"), partition=2025, today=TODAY)
    assert _codes(warehouse, "2025-03") == []
    reason = warehouse.execute("SELECT reason FROM raw.rejected_rows WHERE row_number = 3").fetchone()[0]
    assert reason.startswith("city name in city_code names a unit of another province: '朝阳' is 211300, while the ")
    assert "province 110000" in reason


def test_a_name_two_units_bear_is_the_one_in_the_file_s_province(warehouse, tmp_path):
    # Before: with Beijing's 朝阳区 a programme unit, '朝阳' was "names several units" in a Beijing table: a good row
    # refused. The file's other rows tell: the unit in their province, said in the notes; in Liaoning's table 朝阳市.
    from test_office_files_round7 import COUNTY_UNITS

    from pipelines.sources import SOURCES

    ingest_file(warehouse, SOURCES["cities"], _write(tmp_path / "ref" / "units.csv", "\n".join(COUNTY_UNITS) + "\n"))
    lines = [NAMES, "海淀,2025-03,2,20,1,0,1,0", "朝阳,2025-03,1,10,1,0,1,0"]
    r = ingest_file(warehouse, PLEDGE, _write(tmp_path / "a.csv", "\n".join(lines) + "\n"), partition=2025, today=TODAY)
    assert _codes(warehouse, "2025-03") == ["110108", "110105"]
    assert (
        "read '朝阳' in city_code as the unit 110105: the file's other rows lie in its province, where no other unit "
        "bears this name"
    ) in r.notes
    lines = [NAMES, "锦州,2025-04,2,20,1,0,1,0", "朝阳,2025-04,1,10,1,0,1,0"]
    ingest_file(warehouse, PLEDGE, _write(tmp_path / "b.csv", "\n".join(lines) + "\n"), partition=2025, today=TODAY)
    assert _codes(warehouse, "2025-04") == ["210700", "211300"]
    # in a table of several provinces it names several units still, and is refused
    lines = [NAMES, "锦州,2025-05,2,20,1,0,1,0", "海淀,2025-05,2,20,1,0,1,0", "朝阳,2025-05,1,10,1,0,1,0"]
    ingest_file(warehouse, PLEDGE, _write(tmp_path / "c.csv", "\n".join(lines) + "\n"), partition=2025, today=TODAY)
    assert _codes(warehouse, "2025-05") == ["210700", "110108"]


def test_the_new_notes_read_in_chinese():
    from pipelines.ingest.reason_labels import notes_both

    note = (
        "read '朝阳' in city_code as the unit 110105: the file's other rows lie in its province, where no other unit "
        "bears this name"
    )
    assert "按单位 110105 读取" in notes_both(note, "pledge_loans")


# ----------------------------------------------------------------------------------------- 25年3月


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_two_digit_year_is_the_year_the_file_states_and_only_that(warehouse, tmp_path, big):
    # Before: '25年3月' in a file named 质押_2025年3月 was "not a date": a good row refused. The file name gives the
    # century; a two-digit year it does not state (24年) stays refused, and so does any without a stated year.
    lines = [CODES, "440300,25年3月,3,30,2,0,2,0", "440100,24年12月,1,10,1,0,1,0", *_filler(big)]
    r = ingest_file(
        warehouse, PLEDGE, _write(tmp_path / "质押_2025年3月.csv", "\n".join(lines) + "\n"), partition=2025, today=TODAY
    )
    assert _loaded(warehouse) == [("440300", "2025-03", 3, 30.0)]
    assert "two-digit years in month ('25年') read as 2025 (stated by the file)" in r.notes
    from pipelines.ingest.reason_labels import notes_both

    assert "按 2025 年读取" in notes_both("two-digit years in month ('25年') read as 2025 (stated by the file)")
    got = warehouse.execute("SELECT reason FROM raw.rejected_rows WHERE row_number = 3").fetchall()
    assert got == [("not a date in month: '24年12月'",)]


def test_a_two_digit_year_without_a_stated_year_stays_refused(warehouse, tmp_path):
    lines = [CODES, "440300,25年3月,3,30,2,0,2,0"]
    ingest_file(warehouse, PLEDGE, _write(tmp_path / "质押.csv", "\n".join(lines) + "\n"), partition=2025, today=TODAY)
    assert warehouse.execute("SELECT reason FROM raw.rejected_rows").fetchall() == [("not a date in month: '25年3月'",)]
