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


# -- every stored time in UTC, every shown time in Beijing time and marked --------------------------------------------


@pytest.fixture
def shanghai_clock(monkeypatch):
    """The machine's clock in China (an office's server): a naive local time is then 8 hours off UTC."""
    import time

    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _close_to_utc_now(value) -> bool:
    from datetime import UTC, datetime

    now = datetime.now(UTC).replace(tzinfo=None)
    return abs((now - value).total_seconds()) < 120


def test_the_ingestion_ledger_records_utc_whatever_the_machines_zone(warehouse, tmp_path, shanghai_clock):
    """raw.ingested_files.ingested_at was the machine's clock without a zone (8 hours ahead on a server in China),
    the check results' checked_at UTC without one: the quality page could convert neither right."""
    from pipelines.ingest.load import ingest_file
    from pipelines.ingest.readers import IngestError
    from pipelines.sources import SOURCES

    good = tmp_path / "pledge_2025.csv"
    good.write_text(
        "city_code,month,registrations,amount_10k_yuan,patents_pledged,trademarks_pledged,enterprises_served,"
        "first_time_borrowers\n440300,2025-01,12,3500.5,30,4,10,3\n",
        encoding="utf-8",
    )
    ingest_file(warehouse, SOURCES["pledge_loans"], good, partition=2025)
    bad = tmp_path / "empty_2025.csv"
    bad.write_text("", encoding="utf-8")
    with pytest.raises(IngestError):
        ingest_file(warehouse, SOURCES["pledge_loans"], bad, partition=2025)
    times = warehouse.execute("select file_name, status, ingested_at from raw.ingested_files").fetchall()
    assert times and all(_close_to_utc_now(at) for _, _, at in times), times
    lineage = warehouse.execute("select distinct _ingested_at from raw.pledge_loans").fetchall()
    assert all(_close_to_utc_now(at) for (at,) in lineage), lineage


def test_no_naive_clock_reading_in_the_code():
    """A time is read as UTC (pipelines.china_time.utc_now / utc_stamp) or in China's zone: ``datetime.now()``
    without a zone is the machine's clock, which the stores and the pages cannot tell from UTC."""
    import re

    naive = re.compile(r"datetime\.now\(\s*\)|\.now\(\)\.(?:replace|strftime|isoformat)")
    found = [
        f"{p.relative_to(REPO)}:{i}"
        for folder in ("pipelines", "dashboards")
        for p in (REPO / folder).rglob("*.py")
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if naive.search(line)
    ]
    assert not found, found


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_quality_run_selector_shows_beijing_time_and_says_so(lang):
    from datetime import datetime

    from dashboards.pages.quality import run_label

    text = run_label("3f2a9c1d-aaaa", datetime(2026, 12, 5, 6, 20), lang)  # the store's UTC
    assert text == f"2026-12-05 14:20 {'北京时间' if lang == 'zh' else 'CST'} · 3f2a9c1d"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_shown_store_time_is_beijing_time_and_marked(lang):
    from datetime import datetime

    from dashboards.formatting import shown_time
    from dashboards.pages.quality import refused_rows

    zone = "北京时间" if lang == "zh" else "CST"
    assert shown_time("2026-12-05T06:20:00+00:00", lang) == f"2026-12-05 14:20 {zone}"  # a scenario, an extract
    assert shown_time(datetime(2026, 12, 5, 6, 20), lang) == f"2026-12-05 14:20 {zone}"  # a store's TIMESTAMP
    assert shown_time("2026-12-04T19:54:25", lang) == "2026-12-04 19:54"  # an older file's unknown clock: as written
    refused = pl.DataFrame(
        {"source": ["pledge_loans"], "file_name": ["x.csv"], "message": ["file is empty"]}
    ).with_columns(ingested_at=pl.lit(datetime(2026, 12, 5, 6, 20)))
    assert refused_rows(refused, lang)[0]["refused_at"] == f"2026-12-05 14:20 {zone}"


def test_the_extracts_cover_shows_its_times_in_beijing_time_for_both_readers():
    from pipelines.china_time import china_time_both

    assert china_time_both("2026-12-05T06:20:00+00:00") == "2026-12-05 14:20 北京时间 / CST"
    assert china_time_both(None) == ""
