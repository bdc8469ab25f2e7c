"""Round 4 of what made the dashboard look untrustworthy to an official (screenshots of every page, 简体中文 and
English, 1366×768 and 1920×1080): figures flush left in the grids whose columns a callback sets (comparison, target
progress, file preview); times shown without their zone or on the machine's clock; small trend charts side by side
over different years; a range written "2016-2020" beside "2016–2020"."""

from __future__ import annotations

import ast
import re
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
    assert text == f"2026-12-05 14:20 {'北京时间' if lang == 'zh' else 'UTC+8'} · 3f2a9c1d"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_shown_store_time_is_beijing_time_and_marked(lang):
    from datetime import datetime

    from dashboards.formatting import shown_time
    from dashboards.pages.quality import refused_rows

    zone = "北京时间" if lang == "zh" else "UTC+8"
    assert shown_time("2026-12-05T06:20:00+00:00", lang) == f"2026-12-05 14:20 {zone}"  # a scenario, an extract
    assert shown_time(datetime(2026, 12, 5, 6, 20), lang) == f"2026-12-05 14:20 {zone}"  # a store's TIMESTAMP
    assert shown_time("2026-12-04T19:54:25", lang) == "2026-12-04 19:54"  # an older file's unknown clock: as written
    refused = pl.DataFrame(
        {"source": ["pledge_loans"], "file_name": ["x.csv"], "message": ["file is empty"]}
    ).with_columns(ingested_at=pl.lit(datetime(2026, 12, 5, 6, 20)))
    assert refused_rows(refused, lang)[0]["refused_at"] == f"2026-12-05 14:20 {zone}"


def test_the_extracts_cover_shows_its_times_in_beijing_time_for_both_readers():
    from pipelines.china_time import china_time_both

    assert china_time_both("2026-12-05T06:20:00+00:00") == "2026-12-05 14:20 北京时间 / UTC+8"
    assert china_time_both(None) == ""


# -- grids that fit a 1366 px window ----------------------------------------------------------------------------------

# What a full-width grid has at 1366×768: the window less the page's margins and the grid's scroll bar (measured:
# the watchlist, provinces and ambition grids' viewports in headless Chromium).
GRID_WIDTH_1366 = 1267


def _leaves(cols):
    for c in cols:
        yield from (_leaves(c["children"]) if "children" in c else [c])


def _min_width_sum(cols) -> int:
    from dashboards.components import GRID_MIN_WIDTH, grid_columns

    return sum(c.get("minWidth") or GRID_MIN_WIDTH for c in _leaves(grid_columns(cols, [])) if not c.get("hide"))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_wide_grids_fit_a_1366_px_window(lang):
    """nat_zh_1366: the watchlist's rules fired, the provinces' stage mix and the ambition grid's last columns were
    off the right edge (the grid scrolled sideways): their columns' minimum widths, each raised to fit its header
    with room for a filter button these sorted-only columns do not have, added up to 1,330–1,660 px."""
    from dashboards.pages import programmes, provinces, watchlist

    for name, cols in (
        ("watchlist", watchlist.columns(lang)),
        ("provinces", provinces.columns(lang)),
        ("ambition", programmes.ambition_columns(lang)),
    ):
        assert _min_width_sum(cols) <= GRID_WIDTH_1366, (name, _min_width_sum(cols))


def test_a_header_without_a_filter_button_needs_no_room_for_one():
    from dashboards.components import header_min_width

    assert header_min_width("重点目标达成率 %", filtered=False) < header_min_width("重点目标达成率 %")
    # a browser breaks after a hyphen: "Bottom-group share" needs "Bottom-" on a line, not the whole word pair
    assert header_min_width("Bottom-group share %") < header_min_width("Bottomxgroup share %")


# -- one span of years beside each other; one range dash ------------------------------------------------------------


def test_the_profiles_small_trend_charts_share_one_year_range():
    from dashboards.figures import indicator_small_multiples

    catalog = pl.DataFrame(
        {"indicator_code": ["A", "B"], "name_zh": ["甲", "乙"], "name_en": ["A", "B"], "unit": ["件", "件"]}
    )
    values = pl.DataFrame(
        {
            "indicator_code": ["A"] * 10 + ["B"] * 4,
            "year": [*range(2016, 2026), *range(2022, 2026)],
            "raw_value": [1.0] * 14,
        }
    )
    values = values.with_columns(value=pl.col("raw_value"))
    fig = indicator_small_multiples(values, None, catalog, "zh")
    ranges = {tuple(ax.range) for ax in (fig.layout.xaxis, fig.layout.xaxis2)}
    assert ranges == {(2015.5, 2025.5)}, ranges


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_calendar_notes_write_year_ranges_with_the_range_dash(lang):
    from dashboards.formatting import RANGE_DASH
    from dashboards.pages.programmes import calendar_note

    note = calendar_note(
        {
            "calendar_note_zh": "按2022-2024年度数据评价；2025-06-30前验收",
            "calendar_note_en": "evaluated on the calendar years 2022-2024; acceptance by 2025-06-30",
            "cycle_anchor_year": 2017,
        },
        lang,
    )
    assert f"2022{RANGE_DASH}2024" in note and "2022-2024" not in note
    assert "2025-06-30" in note  # a date keeps its hyphens


def test_the_seeds_calendar_notes_reach_the_page_with_the_range_dash():
    import csv

    from dashboards.pages.programmes import calendar_note

    with open(REPO / "dbt_project" / "seeds" / "programme_calendar.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for lang in ("zh", "en"):
            text = calendar_note({**r, "cycle_anchor_year": 2017}, lang) or ""
            assert not re.search(r"(?<!\d)20\d\d-20\d\d(?!\d)", text), text


def test_english_rules_in_the_extract_read_as_on_the_dashboard(sample_snapshot):
    """The extract's English rules_fired kept the mart's hyphen-minus ("-25.2") beside its Chinese column's and
    the dashboard's true minus ("−25.2")."""
    import duckdb

    from dashboards.evaluation_text import rules_text
    from pipelines.extracts import _with_rules_in_chinese

    con = duckdb.connect(str(sample_snapshot.snapshot), read_only=True)
    try:
        year = con.execute("select max(year) from marts.fct_evaluation_year").fetchall()[0][0]
        rows = con.sql(
            "select * from marts.fct_evaluation_year where year = ? and rules_fired like '%-%'", params=[year]
        ).pl()
        assert rows.height, "no rule text with a negative figure in the sample"
        scores = rows.select("unit_code", "rules_fired")
        out = _with_rules_in_chinese(con, scores, year)
    finally:
        con.close()
    want = {r["unit_code"]: rules_text(r, "en") for r in rows.iter_rows(named=True)}
    got = dict(zip(out["unit_code"].to_list(), out["rules_fired"].to_list()))
    assert got == want
    assert not any(re.search(r"(?<![0-9A-Za-z.])-\d", v) for v in got.values()), got


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_provinces_chart_says_what_its_axis_counts(lang):
    """nat_zh_1366_provinces: the bars' axis ran 0–150 with no title."""
    from test_dashboard_trust3 import _rollup

    from dashboards.i18n import t
    from dashboards.pages.provinces import chart

    fig = chart(_rollup(), lang)
    assert fig.layout.yaxis.title.text == t("mean_index", lang)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_grid_rows_show_store_times_in_beijing_time(lang):
    """The quality page's 'Latest runs' showed the run's start in UTC, unmarked."""
    from datetime import datetime

    from dashboards.components import records

    (row,) = records(pl.DataFrame({"started": [datetime(2026, 12, 5, 6, 20)]}), lang=lang)
    assert row["started"] == f"2026-12-05 14:20 {'北京时间' if lang == 'zh' else 'UTC+8'}"


def test_the_third_party_grid_writes_its_cycles_with_the_range_dash(sample_snapshot):
    """programmes_zh_1366: 评估周期 "2024-2026" (the mart's hyphen) beside "2016–2020年规划" in the grid below."""
    import duckdb

    from dashboards.formatting import RANGE_DASH
    from dashboards.pages.programmes import third_party_rows

    con = duckdb.connect(str(sample_snapshot.snapshot), read_only=True)
    try:
        df = con.sql("select * from marts.fct_third_party_evaluation").pl()
    finally:
        con.close()
    rows = third_party_rows(df, "zh")
    assert rows and all(RANGE_DASH in r["cycle"] and "-" not in r["cycle"] for r in rows if r["cycle"]), rows[:3]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_city_without_ambition_rows_is_told_so_in_words(snap_app, lang):
    """The profile's ambition section showed a bare "–" for a city without plan targets."""
    from dashboards import programme_queries as pq
    from dashboards.ambition_view import ambition_view
    from dashboards.i18n import t

    with_targets = set(pq.ambition(snap_app)["unit_code"].to_list())
    code = next(c for (c,) in snap_app.query("select unit_code from marts.dim_city").rows() if c not in with_targets)
    view = ambition_view(snap_app, code, lang)
    assert view.children == t("ambition_none", lang)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_target_share_tables_add_up_to_100_per_cent(snap_app, lang):
    """targets_zh_1366: 河南省 22.0 + 2.0 + 6.0 + 64.0 = 94 %: the shares of targets without enough data and of
    invalid targets were computed but not shown, while the summary line above counts them."""
    from dashboards.pages.targets import render

    out = render(None, lang)
    for cols, rows in ((out[2], out[3]), (out[4], out[5])):
        pct = [c["field"] for c in cols if c["field"].startswith("pct_")]
        assert rows and all(abs(sum(r[f] for f in pct) - 100) < 0.5 for r in rows), rows[:2]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_profiles_ambition_grid_builds_with_the_grouped_peer_columns(snap_app, lang):
    from dashboards import programme_queries as pq
    from dashboards.ambition_view import GRID_ID, ambition_view

    code = pq.ambition(snap_app)["unit_code"][0]
    view = ambition_view(snap_app, code, lang)
    assert view.id == GRID_ID and view.rowData
    assert "unit_name" not in [c.get("field") for c in _leaves(view.columnDefs)]
