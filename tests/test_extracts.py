"""Provincial extracts from a real sample run: every province × released year written by the pipeline, opening with
polars and openpyxl and equal to the marts value by value; a corrected value gives a new version whose changes
list names exactly that row; text never becomes a formula; the CLI and the dashboard's file route."""

from __future__ import annotations

import datetime as dt
import io
import math
import shutil

import duckdb
import openpyxl
import polars as pl
import pytest
from click.testing import CliRunner
from dashboard_http import signed_in_client

from dashboards.security import FORMULA_TRIGGERS
from pipelines import extracts as X
from pipelines.labels import label_text

pytestmark = pytest.mark.slow


def sql_df(path, query, params=()) -> pl.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.sql(query, params=list(params)).pl()
    finally:
        con.close()


@pytest.fixture(scope="module")
def run_extracts(sample_snapshot, tmp_path_factory):
    """The extracts folder the pipeline wrote beside the sample run's warehouse. (With IPCITY_TEST_SNAPSHOT pointing
    at a run made before extracts existed, they are written from that snapshot with the pipeline's own function.)"""
    root = sample_snapshot.snapshot.parent.parent / "extracts"
    if not any(root.glob("*/*/versions.json")):
        root = tmp_path_factory.mktemp("extracts")
        X.write_all(sample_snapshot.snapshot, root)
    return root


def test_every_province_and_year_has_an_extract(run_extracts, sample_snapshot):
    snap = sample_snapshot.snapshot
    provinces = sql_df(snap, "select distinct province_code from marts.dim_city order by 1")["province_code"].to_list()
    years = sql_df(snap, "select distinct year from marts.fct_evaluation_year order by 1")["year"].to_list()
    assert len(provinces) == 31 and years
    for p in provinces:
        for y in years:
            versions = X.read_versions(run_extracts, p, y)
            assert versions, (p, y)
            formats = {f["format"] for f in versions[-1]["files"]}
            assert formats == {"csv", "xlsx", "parquet"}
            assert versions[-1]["release_id"] and versions[-1]["release"]["catalog_version"]


def _marts_indicators(snap, province, year) -> pl.DataFrame:
    return sql_df(
        snap,
        "select i.unit_code, i.indicator_code, i.raw_value, i.value, i.is_imputed, i.normalised_score "
        "from marts.fct_city_indicator_year i join marts.dim_city d using (unit_code) "
        "where d.province_code = ? and i.year = ? and d.level <> 'province' order by 1, 2",
        [province, year],
    )


def _marts_scores(snap, province, year) -> pl.DataFrame:
    return sql_df(
        snap,
        "select s.unit_code, s.composite, s.composite_index_published as composite_index, s.rank, s.rank_all, "
        "s.performance_group, e.stage "
        "from marts.fct_city_score_year s join marts.dim_city d using (unit_code) "
        "left join marts.fct_evaluation_year e on e.unit_code = s.unit_code and e.year = s.year "
        "where d.province_code = ? and s.year = ? and d.level <> 'province' order by 1",
        [province, year],
    )


def _equal(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
    return a == b


def _file(root, entry, fmt, table):
    return root / next(f["path"] for f in entry["files"] if f["format"] == fmt and f["table"] == table)


def test_extracts_equal_the_marts_value_by_value(run_extracts, sample_snapshot):
    snap = sample_snapshot.snapshot
    year = sql_df(snap, "select max(year) as y from marts.fct_evaluation_year")["y"][0]
    provinces = sql_df(snap, "select distinct province_code from marts.dim_city order by 1")["province_code"].to_list()
    for p in provinces:
        entry = X.read_versions(run_extracts, p, year)[-1]
        want_ind, want_sc = _marts_indicators(snap, p, year), _marts_scores(snap, p, year)
        # Parquet: codes as columns, exact values
        ind = pl.read_parquet(_file(run_extracts, entry, "parquet", "indicators")).sort("unit_code", "indicator_code")
        assert ind.select(want_ind.columns).equals(want_ind), p
        sc = pl.read_parquet(_file(run_extracts, entry, "parquet", "scores")).sort("unit_code")
        assert sc.select(want_sc.columns).equals(want_sc), p
        # CSV: UTF-8 with BOM, Chinese headers
        raw = _file(run_extracts, entry, "csv", "indicators").read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        csv = pl.read_csv(io.BytesIO(raw[3:]), schema_overrides={"行政区划代码": pl.String}, infer_schema_length=0)
        csv = csv.sort("行政区划代码", "指标代码")
        assert csv.height == want_ind.height
        for got, want in zip(csv.iter_rows(named=True), want_ind.iter_rows(named=True)):
            assert got["行政区划代码"] == want["unit_code"] and got["指标代码"] == want["indicator_code"]
            for col, head in (("value", "采用值"), ("normalised_score", "标准化得分"), ("raw_value", "原始值")):
                g = None if got[head] in (None, "") else float(got[head])
                assert _equal(g, want[col]), (p, want["unit_code"], col, g, want[col])
        # XLSX: cover, Chinese sheets and headers, the same numbers
        wb = openpyxl.load_workbook(_file(run_extracts, entry, "xlsx", "all"), read_only=True)
        assert wb.sheetnames[:3] == ["封面", "指标数据", "得分排名与评价阶段"]
        cover = dict(r for r in wb["封面"].iter_rows(values_only=True))
        assert cover["发布编号 / Release id"] == entry["release_id"]
        for key in ("数据版本 / Data version", "指标体系版本 / Catalog version", "评估规则版本 / Rules version"):
            assert cover[key], key
        assert cover["生成时间 / Generated at"] and "合成示例数据" in cover["数据说明 / About the data"]
        rows = list(wb["得分排名与评价阶段"].iter_rows(values_only=True))
        head = list(rows[0])
        got = sorted((dict(zip(head, r)) for r in rows[1:]), key=lambda r: r["行政区划代码"])
        assert len(got) == want_sc.height
        for g, w in zip(got, want_sc.iter_rows(named=True)):
            assert g["行政区划代码"] == w["unit_code"]
            assert _equal(g["综合指数"], w["composite_index"]) and _equal(g["排名"], w["rank"])
            # codes in words (the Parquet keeps the codes)
            assert g["评价阶段"] == (label_text(w["stage"]) if w["stage"] else None)
            assert g["绩效分组"] == (label_text(w["performance_group"]) if w["performance_group"] else None)
        wb.close()


@pytest.fixture
def corrected(sample_snapshot, tmp_path):
    """A writable copy of the sample snapshot and a fresh extracts folder with version 1 of Guangdong's extract."""
    snap = tmp_path / "snap.duckdb"
    shutil.copy(sample_snapshot.snapshot, snap)
    root = tmp_path / "extracts"
    year = sql_df(snap, "select max(year) as y from marts.fct_evaluation_year")["y"][0]
    with duckdb.connect(str(snap), read_only=True) as con:
        v1 = X.write_extract(con, root, "440000", year)
    return snap, root, year, v1


def test_a_corrected_value_gives_a_version_naming_exactly_that_row(corrected):
    snap, root, year, v1 = corrected
    assert v1["version"] == 1 and v1["changes"] is None
    row = sql_df(
        snap,
        "select i.unit_code, i.indicator_code, i.value from marts.fct_city_indicator_year i join marts.dim_city d "
        "using (unit_code) where d.province_code = '440000' and i.year = ? and i.value is not null "
        "order by 1, 2 limit 1",
        [year],
    ).row(0, named=True)
    with duckdb.connect(str(snap)) as con:
        con.execute(
            "update marts.fct_city_indicator_year set value = value + 1 where unit_code = ? and indicator_code = ? "
            "and year = ?",
            [row["unit_code"], row["indicator_code"], year],
        )
    with duckdb.connect(str(snap), read_only=True) as con:
        v2 = X.write_extract(con, root, "440000", year)
        assert X.write_extract(con, root, "440000", year) is None  # nothing changed since v2: no v3
    assert v2["version"] == 2 and v2["previous_version"] == 1 and v2["changes"] == 1
    changes = pl.read_parquet(_file(root, v2, "parquet", "changes"))
    assert changes.height == 1
    c = changes.row(0, named=True)
    assert (c["table"], c["change"], c["unit_code"]) == ("indicators", "changed", row["unit_code"])
    assert c["row_key"] == f"indicator_code={row['indicator_code']}" and c["columns"] == "value"
    assert c["old_values"] == f"value={row['value']!r}"
    wb = openpyxl.load_workbook(_file(root, v2, "xlsx", "all"), read_only=True)
    sheet = list(wb[X.CHANGES_SHEET].iter_rows(values_only=True))
    assert len(sheet) == 2 and sheet[1][1] == "修改" and sheet[1][2] == row["unit_code"]
    csv = _file(root, v2, "csv", "changes").read_bytes().decode("utf-8-sig").splitlines()
    assert len(csv) == 2 and row["unit_code"] in csv[1]
    assert len(X.read_versions(root, "440000", year)) == 2


def test_extract_text_never_starts_a_formula(corrected):
    snap, root, year, _ = corrected
    with duckdb.connect(str(snap)) as con:
        code = con.execute(
            "select unit_code from marts.dim_city where province_code = '440000' and level <> 'province' limit 1"
        ).fetchall()[0][0]
        con.execute("update marts.dim_city set unit_name = ? where unit_code = ?", ['=HYPERLINK("http://x")', code])
    with duckdb.connect(str(snap), read_only=True) as con:
        v2 = X.write_extract(con, root, "440000", year)
    seen = 0
    for f in v2["files"]:
        path = root / f["path"]
        if f["format"] == "csv":
            cells = [c for line in path.read_text(encoding="utf-8-sig").splitlines() for c in line.split(",")]
            seen += sum("'=HYPERLINK" in c for c in cells)  # kept, readable, inert
            assert not [c for c in cells if c.startswith("=")]
        if f["format"] == "xlsx":
            wb = openpyxl.load_workbook(path)
            for ws in wb.worksheets:
                for r in ws.iter_rows():
                    for cell in r:
                        assert cell.data_type != "f"
                        assert not (isinstance(cell.value, str) and cell.value.startswith(FORMULA_TRIGGERS)), cell.value
                        seen += isinstance(cell.value, str) and cell.value.startswith("'=HYPERLINK")
    assert seen >= 4  # indicators and scores, in CSV and XLSX


def test_extract_workbook_round_trips_typed_and_never_a_formula(tmp_path):
    """write_xlsx (pyexcelerate, which writes any str starting with "=" as a formula) on a hand-made table: the
    cover and every sheet read back by openpyxl with text as neutralised text, numbers as numbers, NaN empty,
    ±inf a #DIV/0! error cell, Chinese headers, a bold frozen header row and the column widths."""
    df = pl.DataFrame(
        {
            "unit_code": ["440100", "440300", "440400", "440500"],
            "unit_name": ['=HYPERLINK("http://x")', "+1+2", "@SUM(A1)", "深圳市"],
            "value": [1.25, math.nan, math.inf, -3.5],
            "rank": [1, 2, None, 4],
            "is_imputed": [True, False, None, True],
            "released": [dt.date(2025, 1, 2)] * 3 + [None],
        }
    )
    path = tmp_path / "x.xlsx"
    X.write_xlsx(
        path, [("发布编号 / Release id", "=1+1"), ("生成时间 / Generated at", "")], [("指标数据", df, X.HEADERS)]
    )
    wb = openpyxl.load_workbook(path)
    assert not [c.coordinate for sheet in wb.worksheets for r in sheet.iter_rows() for c in r if c.data_type == "f"]
    assert wb.sheetnames == ["封面", "指标数据"]
    cover = wb["封面"]
    assert [[c.value for c in r] for r in cover.iter_rows()] == [
        ["发布编号 / Release id", "'=1+1"],
        ["生成时间 / Generated at", None],
    ]
    assert cover["A1"].font.b and cover.column_dimensions["A"].width == 28 and cover.column_dimensions["B"].width == 90
    ws = wb["指标数据"]
    assert [c.value for c in ws[1]] == ["行政区划代码", "城市", "采用值", "排名", "是否补值", "released"]
    assert all(c.font.b for c in ws[1]) and ws["A1"].fill.fgColor.rgb.endswith("F2F2F2") and ws.freeze_panes == "A2"
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    assert rows == [
        ["440100", "'" + '=HYPERLINK("http://x")', 1.25, 1, "是", "2025-01-02"],
        ["440300", "'+1+2", None, 2, "否", "2025-01-02"],
        ["440400", "'@SUM(A1)", "#DIV/0!", None, None, "2025-01-02"],
        ["440500", "深圳市", -3.5, 4, "是", None],
    ]
    assert ws["C4"].data_type == "e" and ws["C2"].data_type == "n" and ws["D2"].data_type == "n"
    # widths as with xlsxwriter: 1.3 × the longest of header and first 200 values, between 8 and 40
    assert ws.column_dimensions["A"].width == 8 and ws.column_dimensions["B"].width == pytest.approx(23 * 1.3)
    assert pl.read_excel(path, sheet_name="指标数据")["行政区划代码"].to_list() == df["unit_code"].to_list()
    # read-only openpyxl (and pandas) sizes rows by the sheet's <dimension>: a row ending empty is still full width
    fast = openpyxl.load_workbook(path, read_only=True)
    assert [list(r) for r in fast["指标数据"].iter_rows(min_row=2, values_only=True)] == rows


def test_cli_extract(sample_snapshot, tmp_path, monkeypatch):
    from pipelines.cli import main

    monkeypatch.setenv("IPCITY_WAREHOUSE", str(sample_snapshot.snapshot.parent.parent / "warehouse.duckdb"))
    year = sql_df(sample_snapshot.snapshot, "select max(year) as y from marts.fct_evaluation_year")["y"][0]
    out = tmp_path / "x"
    r = CliRunner().invoke(
        main, ["extract", "--province", "44", "--year", str(year), "--format", "xlsx", "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    path = [line for line in r.output.splitlines() if line.endswith(".xlsx")][0]
    assert openpyxl.load_workbook(path.strip(), read_only=True).sheetnames[0] == "封面"
    r = CliRunner().invoke(main, ["extract", "--province", "44", "--year", str(year), "--out", str(out)])
    assert "unchanged" in r.output
    for bad in (["--province", "广东"], ["--province", "99"], ["--year", "1990"]):
        args = ["extract", "--province", "44", "--year", str(year), "--out", str(out)]
        args[args.index(bad[0]) + 1] = bad[1]
        assert CliRunner().invoke(main, args).exit_code != 0, bad


def test_dashboard_serves_only_listed_extracts_in_scope(sample_snapshot, run_extracts, tmp_path):
    from dashboards.app import create_app

    year = sql_df(sample_snapshot.snapshot, "select max(year) as y from marts.fct_evaluation_year")["y"][0]
    app = create_app(
        sample_snapshot.snapshot,
        user_store=tmp_path / "users.sqlite",
        secret_key_file=tmp_path / "key",
        extracts_dir=run_extracts,
    )
    gd = signed_in_client(app, tmp_path / "users.sqlite", "gd_x", "province", "44")
    own = X.read_versions(run_extracts, "440000", year)[-1]
    other = X.read_versions(run_extracts, "320000", year)[-1]
    for f in own["files"]:
        r = gd.get("/extracts/" + f["path"])
        assert r.status_code == 200 and "filename*=UTF-8''" in r.headers["Content-Disposition"]
    for f in other["files"]:
        assert gd.get("/extracts/" + f["path"]).status_code == 403
    for crafted in ("44/../32/versions.json", "44/%2e%2e/32/x.csv", "44/2025/versions.json", "..%2f..%2fetc%2fpasswd"):
        assert gd.get("/extracts/" + crafted).status_code == 403


def test_downloads_page_lists_versions_and_changes_in_scope(sample_snapshot, run_extracts, tmp_path):
    import json

    from dashboard_http import page_body

    from dashboards.app import create_app

    root = tmp_path / "extracts"
    shutil.copytree(run_extracts, root)
    year = sql_df(sample_snapshot.snapshot, "select max(year) as y from marts.fct_evaluation_year")["y"][0]
    snap = tmp_path / "snap.duckdb"
    shutil.copy(sample_snapshot.snapshot, snap)
    with duckdb.connect(str(snap)) as con:
        con.execute(
            "update marts.fct_city_score_year set composite_index = composite_index + 0.5, "
            "composite_index_published = composite_index_published + 0.5 where year = ? and "
            "unit_code = (select min(unit_code) from marts.dim_city where province_code = '440000' and level <> 'province')",
            [year],
        )
    with duckdb.connect(str(snap), read_only=True) as con:
        v = X.write_extract(con, root, "440000", year)
    assert v["changes"] == 1
    app = create_app(snap, user_store=tmp_path / "u.sqlite", secret_key_file=tmp_path / "k", extracts_dir=root)
    for user, role, province, expect in (
        ("nat_x", "national", None, {"440000", "320000"}),
        ("gd_y", "province", "44", {"440000"}),
    ):
        c = signed_in_client(app, tmp_path / "u.sqlite", user, role, province)
        r = c.post(
            "/_dash-update-component",
            data=json.dumps(page_body("/downloads", "?lang=zh")),
            content_type="application/json",
        )
        layout = r.get_json()["response"]["_pages_content"]["children"]
        grid = _find(layout, "ex-grid")
        codes = {row["province_code"] for row in grid["rowData"]}
        assert expect <= codes and (role == "national" or codes == expect)
        mine = [row for row in grid["rowData"] if row["province_code"] == "440000" and row["year"] == year]
        assert [row["version"] for row in mine][:2] == [2, 1] and "v1 → v2" in mine[0]["changes"]
        assert "/extracts/44/" in mine[0]["files"]
        diff = _find(layout, "ex-changes")["rowData"]
        assert [d["unit_code"] for d in diff if d["province"] == "广东省"] and all(
            d["province"] == "广东省" for d in diff
        )


def _find(tree, component_id):
    if isinstance(tree, dict):
        if tree.get("props", {}).get("id") == component_id:
            return tree["props"]
        for v in tree.values():
            hit = _find(v, component_id)
            if hit is not None:
                return hit
    elif isinstance(tree, list):
        for v in tree:
            hit = _find(v, component_id)
            if hit is not None:
                return hit
    return None
