"""Round 4 of what made the dashboard look untrustworthy to an official (screenshots of every page, 简体中文 and
English, 1366×768 and 1920×1080): figures flush left in the grids whose columns a callback sets (comparison, target
progress, file preview); times shown without their zone or on the machine's clock; small trend charts side by side
over different years; a range written "2016-2020" beside "2016–2020"."""

from __future__ import annotations

import ast
from pathlib import Path

import flask
import polars as pl
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def snap_app(sample_snapshot):
    from dashboards.components import SNAPSHOT_KEY
    from dashboards.snapshot import Snapshot

    app = flask.Flask(__name__)
    snap = Snapshot(sample_snapshot.snapshot)
    app.config[SNAPSHOT_KEY] = snap
    with app.app_context():
        yield snap
    snap.close()


# -- figures right-aligned in grids whose columns a callback sets -----------------------------------------------------


def test_figures_written_as_text_right_align_their_column():
    from dashboards.components import grid_columns

    cols = [{"field": f} for f in ("value", "rank", "code", "years", "name", "share")]
    rows = [
        {
            "value": "12.3 件/万人",
            "rank": "3（并列）",
            "code": "440300",
            "years": "2016–2020",
            "name": "深圳市",
            "share": "45.0%",
        },
        {"value": "–", "rank": "4", "code": "110100", "years": "2021–2025", "name": "Beijing", "share": "−3.6%"},
    ]
    by = {c["field"]: c for c in grid_columns(cols, rows)}
    assert by["value"].get("type") == by["rank"].get("type") == by["share"].get("type") == "numericColumn"
    assert "type" not in by["code"] and "type" not in by["years"] and "type" not in by["name"]


def test_every_callback_that_sets_a_grids_columns_sends_them_through_grid_columns():
    """The compare and target grids set their columns in callbacks with fit_headers alone: the automatic
    right-alignment of figures (grid_columns, which grid() applies) never reached them."""
    for path in sorted((REPO / "dashboards" / "pages").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        if '"columnDefs")' not in source:
            continue
        calls = {
            n.func.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
        assert "grid_columns" in calls and "fit_headers" not in calls, path.name


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_comparison_columns_of_figures_are_right_aligned(lang):
    from dashboards.components import grid_columns
    from dashboards.i18n import PILLAR_COLUMNS
    from dashboards.pages.compare import side_by_side_table

    row = {
        "unit_code": "440300",
        "unit_name": "深圳市",
        "unit_name_en": "Shenzhen",
        "composite_index": 140.2,
        "composite": 80.1,
        "rank": 1,
        "rank_is_shared": False,
        "rank_change": 2,
        "performance_group": "leader",
        "stage": "normal",
        **{col: 70.0 for col in PILLAR_COLUMNS.values()},
    }
    cols, rows = side_by_side_table(pl.DataFrame([row, {**row, "unit_code": "110100", "rank": 2}]), lang)
    by = {c["field"]: c for c in grid_columns(cols, rows)}
    assert by["440300"]["type"] == by["110100"]["type"] == "numericColumn"
    assert "type" not in by["measure"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_target_grids_figures_are_right_aligned(snap_app, lang):
    from dashboards.pages.targets import render

    out = render(None, lang)
    province_cols, city_cols, lag_cols = out[2], out[4], out[6]
    for cols in (province_cols, city_cols):
        by = {c["field"]: c for c in cols}
        assert all(by[f]["type"] == "numericColumn" for f in by if f.startswith("pct_") or f == "targets")
    by = {c["field"]: c for c in lag_cols}
    assert out[7], "no lagging targets in the sample"
    assert by["baseline"]["type"] == by["target"]["type"] == by["current"]["type"] == "numericColumn"
