"""The evidence dossier of a flagged city: both files written, self-contained, and every figure equal to the
marts it was read from."""

from __future__ import annotations

import re

import duckdb
import evaluation_fixtures as F
import pytest

from dashboards.evaluation_text import rules_text
from pipelines.evaluation import uncertainty as U
from pipelines.evaluation.dossier import resolve_unit, write_dossier


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    work = tmp_path_factory.mktemp("dossier")
    wh = work / "wh.duckdb"
    with duckdb.connect(str(wh)) as con:
        truth = F.synthetic_programme(con)
        U.write_rank_uncertainty(con, U.run_uncertainty(con, n_runs=300, seed=9))
    F.run_evaluation_dbt(wh, work, data_tests=True)  # the synthetic programme's cases under the data tests
    return wh, truth


def test_resolve_unit_by_code_and_name(warehouse):
    wh, truth = warehouse
    with duckdb.connect(str(wh), read_only=True) as con:
        code = truth["lagging"][0]
        name = con.execute("select unit_name from marts.dim_city where unit_code = ?", [code]).fetchall()[0][0]
        assert resolve_unit(con, code) == code
        assert resolve_unit(con, name) == code
        with pytest.raises(ValueError, match="several"):
            resolve_unit(con, "测试1")  # 测试1市, 测试10市, ...
        with pytest.raises(ValueError):
            resolve_unit(con, "999999")


def test_dossier_of_flagged_city_matches_marts(warehouse, tmp_path):
    wh, truth = warehouse
    code, year = truth["lagging"][0], 2022
    with duckdb.connect(str(wh), read_only=True) as con:
        ev = (
            con.sql("select * from marts.fct_evaluation_year where unit_code = ? and year = ?", params=[code, year])
            .pl()
            .row(0, named=True)
        )
        sc = (
            con.sql("select * from marts.fct_city_score_year where unit_code = ? and year = ?", params=[code, year])
            .pl()
            .row(0, named=True)
        )
        un = (
            con.sql("select * from marts.fct_rank_uncertainty where unit_code = ? and year = ?", params=[code, year])
            .pl()
            .row(0, named=True)
        )
        cyc = con.sql("select * from marts.fct_evaluation_cycle where unit_code = ?", params=[code]).pl()
        name = con.execute("select unit_name from marts.dim_city where unit_code = ?", [code]).fetchall()[0][0]
    assert ev["stage"] in ("rectification", "exit_candidate")

    paths = write_dossier(wh, name, year, tmp_path)  # by Chinese name
    assert [p.suffix for p in paths] == [".md", ".html"]
    md, page = (p.read_text(encoding="utf-8") for p in paths)

    for text in (md, page):
        assert ev["stage"] in text and rules_text(ev, "en").split(";")[0] in text
        # the rules in Chinese too, as the flag page states them (the line read English only under 触发规则)
        assert rules_text(ev, "zh").split("；")[0] in text
        assert f"{sc['composite_index']:.1f}" in text
        assert f"{sc['rank']}/{sc['n_ranked']}" in text
        assert f"{un['p05_rank']:.1f}–{un['p95_rank']:.1f}" in text
        assert f"{un['share_bottom']:.1%}" in text
        assert sc["catalog_version"] in text and ev["rules_version"] in text
        assert "abc123" in text  # the ingested file's hash
        for r in cyc.iter_rows(named=True):
            assert r["cycle"] in text and r["verdict"] in text
    # Chinese heading first, then English
    assert re.search(r"^## 评估结论 / Evaluation stage$", md, re.M)
    # self-contained HTML: inline SVG charts, nothing fetched from elsewhere
    assert page.count("<svg") == 2 and "<polyline" in page
    assert not re.search(r"(src|href)=\"https?://", page)
    # the trend table holds every year's index up to the dossier year
    with duckdb.connect(str(wh), read_only=True) as con:
        hist = con.sql(
            "select year, composite_index from marts.fct_city_score_year where unit_code = ? "
            "and year <= ? order by year",
            params=[code, year],
        ).pl()
    for y, idx in hist.iter_rows():
        assert re.search(rf"\| {y} \| {idx:.1f} \|", md)


def test_dossier_is_deterministic(warehouse, tmp_path):
    wh, truth = warehouse
    a = write_dossier(wh, truth["leading"][0], 2025, tmp_path / "a")
    b = write_dossier(wh, truth["leading"][0], 2025, tmp_path / "b")
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert "exemplary" in a[0].read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("score", "band", "shown"),
    [
        (59.99, "title_removed", "59.99"),
        (59.999, "title_removed", "59.99"),
        (60.0, "new_pilot_round", "60.00"),
        (60.0000001, "new_pilot_round", "60.00"),
        (69.99, "new_pilot_round", "69.99"),
        (69.9999, "new_pilot_round", "69.99"),
        (70.0, "demonstration_cultivation", "70.00"),
        (86.456, "demonstration_cultivation", "86.45"),
    ],
)
def test_dossier_never_shows_a_score_across_its_band_threshold(score, band, shown):
    """The dossier is what a city reads: a 59.99 it must not read as "60.0 — title removed". The score is cut
    (not rounded) to two decimals, so the figure shown is always on the same side of 60 and 70 as its band."""
    from pipelines.evaluation.dossier import _acceptance_lines

    row = {"cycle": "2022-2024", "acceptance_status": "combined", "acceptance_score": score, "acceptance_band": band}
    row |= dict.fromkeys(("target_points", "targets_evaluable", "target_weight", "benchmark_year", "level_points"))
    row |= dict.fromkeys(("level_weight", "qlt01_value", "qlt01_national"))
    head = _acceptance_lines(row, bands_text=lambda *a, **k: "")[0]
    assert f"**{shown}** / 100" in head and band in head
