"""The programme roster (issue 17) and the third-party evaluation input, without the whole pipeline.

- The 2022 strong-city roster is the REAL partial one: every named unit maps to exactly one GB/T 2260 code derived
  from the divisions files (districts included), the unnamed pilots stay absent, a promotion is a dated event.
- The third-party template the platform generates round-trips through the real loader (XLSX and CSV), and a
  malformed upload is quarantined row by row (rows in = loaded + quarantined) while its good rows load.
"""

from __future__ import annotations

import shutil
from datetime import date

import openpyxl
import polars as pl
import pytest

from pipelines import reference
from pipelines.ingest.load import ingest_file
from pipelines.settings import REFERENCE_DIR
from pipelines.sources import SOURCES
from pipelines.third_party import NOTES_SHEET, TEMPLATE_SHEET, header, pending_cycles, write_template

TP = SOURCES["third_party_evaluations"]


def test_every_named_strong_city_unit_maps_to_one_real_code():
    roster = reference.strong_city_roster()
    raw = pl.read_csv(REFERENCE_DIR / reference.STRONG_CITY_ROSTER_FILE, infer_schema=False)
    assert roster.height == raw.height  # nothing dropped, nothing added
    known = set(reference.prefectures()["city_code"]) | set(reference.areas()["code"])
    assert set(roster["unit_code"]) <= known
    codes = dict(zip(roster["unit_name"], roster["unit_code"], strict=False))
    # districts and a prefecture, checked against the divisions files (never typed into the roster)
    assert codes["海淀区"] == "110108"
    assert codes["浦东新区"] == "310115"
    assert codes["滨海新区"] == "120116"
    assert codes["丰台区"] == "110106"
    assert codes["石家庄市"] == "130100"
    # 朝阳区 exists in Beijing and Changchun: the province decides
    assert codes["朝阳区"] == "110105"


def test_the_2022_batch_is_complete_for_demonstrations_and_partial_for_pilots():
    roster = reference.strong_city_roster()
    batch = reference.strong_city_batches().row(0, named=True)
    first = roster.filter(pl.col("cohort") == "2022-08")
    demos = first.filter(pl.col("programme_code") == reference.PROGRAMME_STRONG_DEMO)
    pilots = first.filter(pl.col("programme_code") == reference.PROGRAMME_STRONG_PILOT)
    assert demos.height == batch["demo_cities_count"] == 38
    assert pilots.height == 20 < batch["pilot_cities_count"] == 72  # the other 52 stay unknown
    assert set(first["joined_on"].to_list()) == {date(2022, 8, 11)}
    # a unit whose batch the sources leave open joins with the later batch
    weihai = roster.filter(pl.col("unit_name") == "威海市").row(0, named=True)
    assert weihai["cohort"] == "2024-01" and weihai["batch_note"]


def test_a_pilot_named_later_as_a_demonstration_unit_is_a_dated_promotion():
    promos = reference.strong_city_promotions()
    assert promos.to_dicts() == [
        {"unit_code": "320600", "pilot_cohort": "2022-08", "promoted_on": date(2024, 1, 1), "demo_cohort": "2024-01"}
    ]


def test_a_unit_name_that_matches_no_division_is_an_error_naming_the_row(tmp_path):
    ref = tmp_path / "ref"
    shutil.copytree(REFERENCE_DIR, ref)
    path = ref / reference.STRONG_CITY_ROSTER_FILE
    text = path.read_text(encoding="utf-8").replace(",北京,海淀区,", ",北京,海定区,", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(reference.RosterMappingError, match=r"row 2 \(北京 海定区\).*matches 0 divisions"):
        reference.strong_city_roster(ref)


def test_the_landing_roster_holds_exactly_the_named_units_with_their_sources():
    from pipelines.generate import landing

    rows = landing.strong_city_landing()
    assert rows.height == reference.strong_city_roster().height
    assert rows["source"].str.contains("confidence: (high|medium)").all()
    nantong_pilot = rows.filter(pl.col("city_code") == "320600", pl.col("programme") == "国家知识产权强市建设试点城市")
    assert nantong_pilot.select("status", "status_since").row(0) == ("promoted", date(2024, 1, 1))
    # the contract accepts every row (codes, statuses, dates, lengths)
    contract = {c.name for c in SOURCES["programme_cities"].columns}
    assert set(rows.columns) == contract


# -- third-party evaluation template -----------------------------------------------------------------------------

PREFILL = pl.DataFrame(
    {
        "city_code": ["320500", "130100"],
        "unit_name": ["苏州市", "石家庄市"],
        "cycle_first_year": [2022, 2022],
        "cycle_last_year": [2024, 2024],
    }
)
FILLED = {
    "evaluator": "中国知识产权研究会评估中心",
    "report_version": 1,
    "evaluated_on": "2025-03-20",
    "score_mgt": 82.5,
    "score_pro": 78,
    "score_utl": 74,
    "score_qlt": 80,
    "score_env": 71,
    "site_visit_score": 76,
    "site_visit_date": "2025-03-02",
    "document_review_score": 88,
    "findings": "质押融资风险补偿机制尚未建立;专利导航项目进展良好",
}


def _fill_xlsx(path, values_per_row: list[dict]):
    wb = openpyxl.load_workbook(path)
    ws = wb[TEMPLATE_SHEET]
    col = {ws.cell(1, j).value: j for j in range(1, ws.max_column + 1)}
    for i, values in enumerate(values_per_row, start=2):
        for name, value in values.items():
            cell = ws.cell(i, col[header(TP.column(name))])
            cell.value = value
            if isinstance(value, str) and TP.column(name).dtype == "str":
                # the template formats text columns as text (@): Excel keeps a typed "=..." as text there
                cell.data_type = "s"
    wb.save(path)


def test_template_has_every_contract_column_with_chinese_headers_and_a_notes_sheet(tmp_path):
    path = write_template(tmp_path / "t.xlsx", PREFILL)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [TEMPLATE_SHEET, NOTES_SHEET]
    ws = wb[TEMPLATE_SHEET]
    headers = [ws.cell(1, j).value for j in range(1, ws.max_column + 1)]
    assert headers == [header(c) for c in TP.columns]
    assert all(not h.isascii() for h in headers)
    assert [ws.cell(2, 1).value, ws.cell(3, 1).value] == ["320500", "130100"]  # codes stay text
    assert wb[NOTES_SHEET].max_row == len(TP.columns) + 1


def test_filled_xlsx_template_round_trips_through_the_loader(warehouse, tmp_path):
    path = write_template(tmp_path / "third_party_2022_2024.xlsx", PREFILL)
    _fill_xlsx(path, [FILLED, {**FILLED, "report_version": 2, "findings": "材料完整"}])
    r = ingest_file(warehouse, TP, path, today=date(2026, 1, 15))
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 2, 0)
    got = warehouse.sql(
        "select city_code, cycle_first_year, cycle_last_year, evaluator, report_version, evaluated_on, score_mgt, "
        "site_visit_date, document_review_score, findings from raw.third_party_evaluations order by city_code"
    ).pl()
    assert got["city_code"].to_list() == ["130100", "320500"]
    row = got.filter(pl.col("city_code") == "320500").row(0, named=True)
    assert row["evaluator"] == FILLED["evaluator"] and row["report_version"] == 1
    assert row["evaluated_on"] == date(2025, 3, 20) and row["site_visit_date"] == date(2025, 3, 2)
    assert row["score_mgt"] == 82.5 and row["document_review_score"] == 88
    assert row["findings"] == FILLED["findings"]  # text stays text


def test_xlsx_template_neutralises_formula_text_like_the_csv(tmp_path):
    """The workbook's pre-filled text follows the CSV's rule (dashboards.security): a name from data that would
    start a formula is written with an apostrophe, so editing the cell in Excel never runs it."""
    names = ['=HYPERLINK("http://x","y")', "＋1", "-2+3", "苏州市"]
    path = write_template(
        tmp_path / "t.xlsx",
        PREFILL.head(1).select(pl.all().repeat_by(4).explode()).with_columns(unit_name=pl.Series(names)),
    )
    ws = openpyxl.load_workbook(path)[TEMPLATE_SHEET]
    col = [header(c) for c in TP.columns].index(header(TP.column("unit_name"))) + 1
    cells = [ws.cell(i, col) for i in range(2, 6)]
    assert [c.value for c in cells] == ["'" + n for n in names[:3]] + ["苏州市"]
    assert all(c.data_type == "s" for c in cells)


def test_csv_template_round_trips_and_formula_text_is_neutralised(warehouse, tmp_path):
    bad = write_template(tmp_path / "prefill.csv", PREFILL.with_columns(unit_name=pl.lit("=1+1")))
    assert "'=1+1" in bad.read_bytes().decode("utf-8-sig")  # a pre-filled cell never becomes a formula
    rows = PREFILL.head(1).with_columns(*[pl.lit(v).alias(k) for k, v in FILLED.items()])
    path = write_template(tmp_path / "third_party.csv", rows)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens it as UTF-8
    r = ingest_file(warehouse, TP, path, today=date(2026, 1, 15))
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (1, 1, 0)
    assert warehouse.sql("select score_pro from raw.third_party_evaluations").fetchall() == [(78.0,)]


def test_malformed_upload_is_quarantined_row_by_row(warehouse, tmp_path):
    path = write_template(
        tmp_path / "bad.xlsx",
        pl.DataFrame(
            {
                "city_code": ["320500", "320500", "999999", "130100", "130100", "330100", "330200"],
                "unit_name": ["苏州市", "苏州市", "?", "石家庄市", "石家庄市", "杭州市", "宁波市"],
                "cycle_first_year": [2022, 2022, 2022, 2024, 2022, 2022, 2022],
                "cycle_last_year": [2024, 2024, 2024, 2022, 2024, 2024, 2024],
            }
        ),
    )
    _fill_xlsx(
        path,
        [
            FILLED,  # good
            {**FILLED, "report_version": 2, "score_pro": 130},  # absurd score
            FILLED,  # unknown city code
            FILLED,  # cycle ends before it starts
            {**FILLED, "evaluated_on": "2027-01-01"},  # report dated in the future
            {**FILLED, "evaluator": None},  # no evaluator
            {**FILLED, "findings": '=HYPERLINK("http://x","详情")'},  # spreadsheet injection
        ],
    )
    r = ingest_file(warehouse, TP, path, today=date(2026, 1, 15))
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (7, 1, 6)
    reasons = dict(
        warehouse.execute(
            "select row_number, reason from raw.rejected_rows where source = 'third_party_evaluations' order by 1"
        ).fetchall()
    )
    assert len(reasons) == 6
    text = " | ".join(reasons.values())
    for expected in (
        "absurd value in score_pro",
        "unknown region code in city_code",
        "cycle_last_year before cycle_first_year",
        "future date in evaluated_on",
        "missing value in evaluator",
        "formula-like text in findings",
    ):
        assert expected in text, (expected, reasons)
    assert warehouse.sql("select city_code from raw.third_party_evaluations").fetchall() == [("320500",)]
    ledger = warehouse.execute(
        "select rows_read, rows_loaded, rows_rejected from raw.ingested_files where source = 'third_party_evaluations'"
    ).fetchall()
    assert ledger == [(7, 1, 6)]


def test_pending_cycles_come_from_the_mart(tmp_path):
    import duckdb

    db = tmp_path / "snap.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema marts")
    con.execute(
        "create table marts.fct_third_party_evaluation as select * from (values "
        "('320500', '苏州市', 2022, 2024, 'pending'), ('130100', '石家庄市', 2022, 2024, 'received')) "
        "t(unit_code, unit_name, cycle_first_year, cycle_last_year, status)"
    )
    con.close()
    assert pending_cycles(db).to_dicts() == [
        {"city_code": "320500", "unit_name": "苏州市", "cycle_first_year": 2022, "cycle_last_year": 2024}
    ]


def test_cli_writes_the_template_prefilled_from_a_snapshot(tmp_path):
    import duckdb
    from click.testing import CliRunner

    from pipelines.cli import main

    db = tmp_path / "snap.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema marts")
    con.execute(
        "create table marts.fct_third_party_evaluation as select * from (values "
        "('320500', '苏州市', 2022, 2024, 'pending')) t(unit_code, unit_name, cycle_first_year, cycle_last_year, status)"
    )
    con.close()
    out = tmp_path / "t.xlsx"
    res = CliRunner().invoke(main, ["template", "third-party", "--out", str(out), "--from", str(db)])
    assert res.exit_code == 0, res.output
    assert "1 pending" in res.output
    ws = openpyxl.load_workbook(out)[TEMPLATE_SHEET]
    assert [ws.cell(2, j).value for j in range(1, 5)] == ["320500", "苏州市", 2022, 2024]
    bad = CliRunner().invoke(main, ["template", "third-party", "--out", str(tmp_path / "t.txt"), "--empty"])
    assert bad.exit_code != 0 and ".xlsx or .csv" in bad.output
