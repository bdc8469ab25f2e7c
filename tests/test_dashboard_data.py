"""Unit tests for the dashboard's pure data, figure and download functions, and its snapshot reader."""

from __future__ import annotations

import io
import os

import duckdb
import openpyxl
import polars as pl
import pytest

from dashboard_fixtures import build_snapshot, publish_snapshot
from dashboards import downloads, figures, queries
from dashboards.app import shell_content
from dashboards.pages import compare, rankings, watchlist
from dashboards.snapshot import Snapshot, SnapshotUnavailable
from dashboards.theme import GROUP_COLORS, NON_PROGRAMME_COLOR


@pytest.fixture(scope="module")
def snap_path(tmp_path_factory):
    return build_snapshot(tmp_path_factory.mktemp("snap") / "w.snapshot.duckdb")


@pytest.fixture(scope="module")
def snap(snap_path):
    s = Snapshot(snap_path)
    yield s
    s.close()


@pytest.fixture(scope="module")
def bare_snap(tmp_path_factory):
    """A snapshot from before the evaluation and quality work landed: those tables are absent."""
    path = build_snapshot(tmp_path_factory.mktemp("bare") / "w.snapshot.duckdb", include_evaluation=False,
                          include_quality=False, include_alerts=False)
    s = Snapshot(path)
    yield s
    s.close()


def direct(path, sql, params=()):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


# -- snapshot reader ---------------------------------------------------------------------------------------------

def test_snapshot_follows_atomic_replace(tmp_path):
    path = publish_snapshot(tmp_path / "x.snapshot.duckdb", last_year=2024)
    s = Snapshot(path)
    try:
        assert queries.years(s)[-1] == 2024
        v1 = s.version()
        publish_snapshot(path, last_year=2025)
        assert s.version() != v1
        assert queries.years(s)[-1] == 2025  # not the cached answer of the old file
    finally:
        s.close()


def test_snapshot_missing_file_raises_unavailable(tmp_path):
    s = Snapshot(tmp_path / "nothing.duckdb")
    assert not s.available
    with pytest.raises(SnapshotUnavailable):
        s.query("select 1")


def test_snapshot_is_opened_read_only(snap):
    with pytest.raises(duckdb.Error):
        snap.query("create table marts.should_fail as select 1 as x")


def test_query_cache_is_keyed_by_version(snap):
    a = snap.query("select count(*) as n from marts.dim_city")
    b = snap.query("select count(*) as n from marts.dim_city")
    assert a is b


def test_has_reports_missing_tables(snap, bare_snap):
    assert snap.has(queries.EVAL, queries.ALERTS)
    assert not bare_snap.has(queries.EVAL)
    assert not bare_snap.has(queries.ALERTS)


# -- queries -----------------------------------------------------------------------------------------------------

def test_resolve_year_falls_back_to_latest(snap):
    assert queries.resolve_year(snap, "2019") == 2019
    assert queries.resolve_year(snap, None) == 2025
    assert queries.resolve_year(snap, "1990") == 2025
    assert queries.resolve_year(snap, "abc") == 2025


def test_overview_headlines_match_sql(snap, snap_path):
    h = queries.overview_headlines(snap, 2023)
    [(n_prog, leaders)] = direct(snap_path, """
        select count(*), count(*) filter (where performance_group = 'leader')
        from marts.fct_city_score_year s join marts.dim_city d using (unit_code)
        where s.year = 2023 and d.is_programme and d.level <> 'province'""")
    [(exits,)] = direct(snap_path, "select count(*) from marts.fct_evaluation_year "
                                   "where year = 2023 and stage = 'exit_candidate'")
    assert (h["programme_units"], h["leaders"], h["exit_candidates"]) == (n_prog, leaders, exits)
    assert 50 < h["median_index"] < 150


def test_map_points_have_coordinates_and_grey_non_programme(snap):
    pts = queries.map_points(snap, 2025)
    assert pts["lng"].null_count() == 0 and pts["lat"].null_count() == 0
    assert pts.filter(~pl.col("is_programme"))["group"].null_count() == pts.filter(~pl.col("is_programme")).height
    assert set(pts.filter(pl.col("is_programme"))["group"].unique()) <= set(GROUP_COLORS)
    assert pts["lng"].min() > 73 and pts["lng"].max() < 136  # real coordinates inside China's extent


def test_biggest_movers_are_extremes(snap):
    movers = queries.biggest_movers(snap, 2025, n=5)
    prog = queries.rankings(snap, 2025)
    assert movers["rank_change"].max() == prog["rank_change"].max()
    assert movers["rank_change"].min() == prog["rank_change"].min()
    assert movers.height <= 10


def test_rankings_programme_filter_and_page_filters(snap):
    everything = queries.rankings(snap, 2025, programme_only=False)
    prog = queries.rankings(snap, 2025, programme_only=True)
    assert prog.height < everything.height
    assert prog.height == queries.programme_units(snap).height
    js = rankings.filter_rankings(prog, province="320000", group=None, stage=None)
    assert js.height > 0 and set(js["province_code"]) == {"320000"}
    leaders = rankings.filter_rankings(prog, group="leader")
    assert set(leaders["performance_group"]) == {"leader"}


def test_ranking_rows_translate_labels(snap):
    df = queries.rankings(snap, 2025).head(20)
    zh = rankings.ranking_rows(df, "zh")
    en = rankings.ranking_rows(df, "en")
    assert {r["group_label"] for r in zh} <= {"领先", "较强", "中等", "追赶"}
    assert {r["group_label"] for r in en} <= {"Leader", "Strong", "Moderate", "Emerging"}
    assert all("–" in r["rank_interval"] for r in zh)


def test_pillar_scores_include_programme_average(snap):
    df = queries.pillar_scores(snap, 2024, ["320500", "440300"])
    assert df.height == 3
    avg = df.filter(pl.col("unit_code").is_null())
    expected = queries.scores_year(snap, 2024).filter(pl.col("is_programme"))["score_qlt"].mean()
    assert avg["score_qlt"][0] == pytest.approx(expected)


def test_strengths_are_above_and_weaknesses_below_average(snap):
    sw = queries.strengths_weaknesses(snap, 2025, ["320500", "652300"], k=3)
    assert (sw.filter(pl.col("kind") == "strength")["diff"] > 0).all()
    assert (sw.filter(pl.col("kind") == "weakness")["diff"] < 0).all()
    assert sw.group_by("unit_code", "kind").len()["len"].max() <= 3


def test_side_by_side_keeps_pick_order(snap):
    picked = ["652300", "110100", "320500"]
    assert queries.side_by_side(snap, 2025, picked)["unit_code"].to_list() == picked
    cols, rows = compare.side_by_side_table(queries.side_by_side(snap, 2025, picked), "en")
    assert [c["field"] for c in cols[1:]] == picked
    assert rows[0]["measure"] == "Composite index"


def test_parse_units_limits_to_six():
    assert compare.parse_units("1,2,2,3") == ["1", "2", "3"]
    assert len(compare.parse_units([str(i) for i in range(10)])) == 6
    assert compare.parse_units(None) == []


def test_watchlist_stages_and_dossiers(snap, tmp_path):
    wl = queries.watchlist(snap, 2025, tmp_path)
    assert wl.height > 0
    assert set(wl["stage"]) <= set(queries.WATCH_STAGES)
    code = wl["unit_code"][0]
    (tmp_path / f"{code}_2025.html").write_text("<h1>dossier</h1>", encoding="utf-8")
    wl2 = queries.watchlist(snap, 2025, tmp_path)
    assert wl2.filter(pl.col("unit_code") == code)["dossier_html"][0] == f"{code}_2025.html"
    assert wl2.filter(pl.col("unit_code") != code)["dossier_html"].null_count() == wl2.height - 1
    rows = watchlist.watch_rows(wl2, "zh")
    linked = [r for r in rows if r["unit_code"] == code][0]
    assert f"/dossiers/{code}_2025.html" in linked["dossier_link"]
    assert "/profile?lang=zh&unit=" + code in linked["city_link"]


def test_missing_tables_return_none(bare_snap):
    year = queries.resolve_year(bare_snap, None)
    assert queries.watchlist(bare_snap, year) is None
    assert queries.profile_stages(bare_snap, "110100") is None
    assert queries.profile_alerts(bare_snap, "110100") is None
    assert queries.quality_runs(bare_snap) is None
    assert queries.quality_checks(bare_snap) is None
    h = queries.overview_headlines(bare_snap, year)
    assert h["on_watch"] is None and h["exit_candidates"] is None
    assert queries.rankings(bare_snap, year)["stage"].null_count() == queries.rankings(bare_snap, year).height


def test_quality_latest_run(snap):
    assert queries.latest_run_id(snap) == "run-0003"
    checks = queries.quality_checks(snap)
    assert checks.height == 8
    rej = queries.quality_rejections(snap)
    assert rej["rows"].sum() > 0


# -- figures -----------------------------------------------------------------------------------------------------

def test_city_map_traces_use_group_palette(snap):
    pts = queries.map_points(snap, 2025)
    fig = figures.city_map(pts, "zh")
    by_name = {tr.name: tr for tr in fig.data}
    assert by_name["非示范城市"].marker.color == NON_PROGRAMME_COLOR
    assert by_name["领先"].marker.color == GROUP_COLORS["leader"]
    assert sum(len(tr.x) for tr in fig.data) == pts.height
    assert fig.data[0].type == "scatter"  # plain axes: no geo/mapbox layer needing tiles or topojson


def test_histogram_and_movers_in_english(snap):
    fig = figures.composite_histogram(queries.composite_distribution(snap, 2025), "en")
    assert {tr.name for tr in fig.data} <= {"Leader", "Strong", "Moderate", "Emerging"}
    assert sum(len(tr.x) for tr in fig.data) == queries.programme_units(snap).height
    movers = figures.movers_bar(queries.biggest_movers(snap, 2025), "en")
    assert "Biggest movers" in movers.layout.title.text


def test_radar_has_one_trace_per_city_plus_average(snap):
    fig = figures.pillar_radar(queries.pillar_scores(snap, 2025, ["320500", "440300", "110100"]), "zh")
    assert len(fig.data) == 4
    assert fig.data[-1].name == "示范城市平均"
    assert len(fig.data[0].r) == 6  # five pillars, closed polygon


def test_small_multiples_cover_every_indicator_with_targets(snap):
    unit = "320500"
    cat = queries.indicator_catalog(snap)
    targets = queries.profile_targets(snap, unit)
    fig = figures.indicator_small_multiples(queries.profile_indicators(snap, unit), targets, cat, "zh")
    titles = [a.text for a in fig.layout.annotations]
    assert len(titles) == cat.height
    assert any("每万人口发明专利拥有量" in x for x in titles)
    assert sum(1 for tr in fig.data if tr.legendgroup == "target") == targets.height


# -- downloads ---------------------------------------------------------------------------------------------------

def test_csv_has_bom_and_chinese_headers(snap):
    f = downloads.prepare_download(snap, None, 2025, "320000", "csv")
    assert f.content.startswith(b"\xef\xbb\xbf")
    text = f.content.decode("utf-8-sig")
    header = text.splitlines()[0].split(",")
    assert header[:4] == ["年份", "省份", "行政区划代码", "城市"]
    df = pl.read_csv(io.BytesIO(f.content[3:]), schema_overrides={"行政区划代码": pl.String})
    assert set(df["省份"]) == {"江苏省"}
    assert df.height == f.rows == queries.units(snap).filter(pl.col("province_code") == "320000").height * 19


def test_xlsx_opens_with_chinese_headers(snap):
    f = downloads.prepare_download(snap, None, 2024, None, "xlsx")
    ws = openpyxl.load_workbook(io.BytesIO(f.content), read_only=True).active
    rows = ws.iter_rows(values_only=True)
    assert list(next(rows))[:4] == ["年份", "省份", "行政区划代码", "城市"]
    assert sum(1 for _ in rows) == f.rows


def test_every_download_passes_the_permission_check(snap, monkeypatch):
    seen = []

    def deny(user, province_code):
        seen.append((user, province_code))
        return False

    monkeypatch.setattr(downloads, "authorize_download", deny)
    with pytest.raises(downloads.DownloadDenied):
        downloads.prepare_download(snap, "alice", 2025, "440000", "csv")
    assert seen == [("alice", "440000")]


# -- shell -------------------------------------------------------------------------------------------------------

def test_language_toggle_keeps_other_parameters():
    title, nav, toggles, banner = shell_content("/profile", "?lang=en&unit=320500")
    assert title == "IP Strong-City Monitor"
    assert "synthetic" in banner
    zh_link = [c for c in toggles if c.id == "lang-zh"][0]
    assert zh_link.href.startswith("/profile?") and "unit=320500" in zh_link.href and "lang=zh" in zh_link.href
    assert [n.children for n in nav][:2] == ["Overview", "Rankings"]
    title_zh, nav_zh, _, banner_zh = shell_content("/", "")
    assert title_zh == "知识产权强市建设监测评价平台" and "合成示例数据" in banner_zh
    assert "active" in nav_zh[0].className
